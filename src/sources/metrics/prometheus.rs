//! Prometheus: `GET /api/v1/query_range` (one query per track and metric)
//! at `[metrics] api_url`. The answer's `data.result[].values` holds
//! `[seconds, "value"]` pairs; "NaN" stays NaN, so the analysis calls it
//! inconclusive instead of a pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{Merge, Queries, clean, client, fetch, shape_error};
use crate::core::model::{MetricPoint, SourceError, Time};
use crate::sources::Metrics;

const PROVIDER: &str = "Prometheus";

/// Resolution of a range query: points this far apart.
pub const STEP: Duration = Duration::from_secs(15);

pub struct Prometheus {
    http: reqwest::Client,
    base: String,
    queries: Queries,
    step: Duration,
    pub calls: Arc<AtomicU64>,
}

impl Prometheus {
    /// `base` may carry `user:password@` (sent as Basic auth): that
    /// password is registered as a secret.
    pub fn new(base: &str, queries: Queries, timeout: Duration) -> Result<Prometheus, SourceError> {
        crate::secrets::register_url_userinfo(base);
        Ok(Prometheus {
            http: client(timeout)?,
            base: base.trim_end_matches('/').to_string(),
            queries,
            step: STEP,
            calls: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn with_counter(mut self, calls: Arc<AtomicU64>) -> Self {
        self.calls = calls;
        self
    }

    /// Another resolution (tests with a fast scrape use 1 s).
    pub fn with_step(mut self, step: Duration) -> Self {
        self.step = step.max(Duration::from_secs(1));
        self
    }

    async fn query(
        &self,
        query: &str,
        from: Time,
        to: Time,
    ) -> Result<Vec<(f64, String)>, SourceError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        // Aligned to the step, so that every poll asks for the same
        // timestamps and a point read twice is upserted, not added.
        let step = self.step.as_secs().max(1) as i64;
        let start = from.timestamp().div_euclid(step) * step;
        let end = to.timestamp().div_euclid(step) * step;
        let request = self
            .http
            .get(format!("{}/api/v1/query_range", self.base))
            .query(&[
                ("query", query.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", format!("{}s", self.step.as_secs())),
            ]);
        let body = fetch(
            PROVIDER,
            request,
            "Prometheus refused the credentials: check the proxy in front of it",
        )
        .await?;
        let answer: Answer = serde_json::from_str(&body)
            .map_err(|e| shape_error(PROVIDER, &format!("not a query_range answer ({e})")))?;
        if answer.status != "success" {
            return Err(SourceError::new(format!(
                "{PROVIDER}: query `{}` failed: {}",
                clean(query),
                clean(&answer.error.unwrap_or_default())
            ))
            .with_hint("check the query in [service.analysis]"));
        }
        let Some(data) = answer.data else {
            return Err(shape_error(PROVIDER, "no `data`"));
        };
        if data.result_type != "matrix" {
            return Err(shape_error(
                PROVIDER,
                &format!("resultType {} (expected matrix)", data.result_type),
            ));
        }
        match data.result.len() {
            0 => Ok(Vec::new()),
            1 => Ok(data.result.into_iter().flat_map(|r| r.values).collect()),
            n => Err(SourceError::new(format!(
                "{PROVIDER}: query `{query}` returned {n} series, expected one"
            ))
            .with_hint("aggregate it to one series, e.g. sum(...) or histogram_quantile(0.95, sum by (le) (...))")),
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    error: Option<String>,
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    values: Vec<(f64, String)>,
}

#[async_trait]
impl Metrics for Prometheus {
    async fn points(&self, from: Time, to: Time) -> Result<Vec<MetricPoint>, SourceError> {
        let mut merge = Merge::default();
        for (track, field, query) in self.queries.all() {
            for (seconds, text) in self.query(&query, from, to).await? {
                // Prometheus writes NaN, +Inf and -Inf as such; f64 parses
                // them, and the analysis treats them as not a measurement.
                let Ok(value) = text.parse::<f64>() else {
                    return Err(shape_error(
                        PROVIDER,
                        &format!("value {text:?} is not a number"),
                    ));
                };
                let Some(at) = seconds
                    .is_finite()
                    .then(|| Time::from_timestamp_millis((seconds * 1000.0).round() as i64))
                    .flatten()
                else {
                    continue;
                };
                merge.add(track, field, at, value);
            }
        }
        Ok(merge.finish())
    }
}
