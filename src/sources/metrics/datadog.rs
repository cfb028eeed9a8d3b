//! Datadog: `GET /api/v1/query` (one query per track and metric) with the
//! API and application keys in headers (registered as secrets, so an
//! answer echoing them is scrubbed). The answer's `series[].pointlist`
//! holds `[milliseconds, value | null]` pairs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{Merge, Queries, clean, client, fetch, shape_error};
use crate::core::model::{MetricPoint, SourceError, Time};
use crate::sources::Metrics;

const PROVIDER: &str = "Datadog";

/// The two keys, read from DD_API_KEY and DD_APP_KEY. Debug never shows
/// them.
#[derive(Clone)]
pub struct Keys {
    pub api: String,
    pub app: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { api: <withheld>, app: <withheld> }")
    }
}

impl Keys {
    /// The two keys, registered as secrets: a refusal that echoes them is
    /// scrubbed wherever it is shown.
    pub fn new(api: impl Into<String>, app: impl Into<String>) -> Keys {
        let keys = Keys {
            api: api.into(),
            app: app.into(),
        };
        keys.register();
        keys
    }

    fn register(&self) {
        crate::secrets::register(&self.api);
        crate::secrets::register(&self.app);
    }

    /// From the environment, or what is missing and how to set it.
    pub fn from_env() -> Result<Keys, String> {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match (get("DD_API_KEY"), get("DD_APP_KEY")) {
            (Some(api), Some(app)) => Ok(Keys::new(api, app)),
            (api, _) => Err(format!(
                "[metrics] provider = \"datadog\" needs {} in the environment: export DD_API_KEY=… and DD_APP_KEY=… (an application key with the timeseries_query scope)",
                if api.is_none() {
                    "DD_API_KEY"
                } else {
                    "DD_APP_KEY"
                }
            )),
        }
    }
}

/// The API's base URL: `[metrics] api_url`, else `https://api.<DD_SITE>`
/// (datadoghq.com by default).
pub fn base_url(api_url: Option<&str>) -> String {
    match api_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let site = std::env::var("DD_SITE")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "datadoghq.com".into());
            // DD_SITE is the site's host (datadoghq.eu); tolerate a scheme
            // or an `app.` / `api.` prefix pasted with it.
            let host = site
                .trim()
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .trim_start_matches("app.")
                .trim_start_matches("api.")
                .trim_end_matches('/');
            format!("https://api.{host}")
        }
    }
}

pub struct Datadog {
    http: reqwest::Client,
    base: String,
    keys: Keys,
    queries: Queries,
    pub calls: Arc<AtomicU64>,
}

impl Datadog {
    pub fn new(
        base: String,
        keys: Keys,
        queries: Queries,
        timeout: Duration,
    ) -> Result<Datadog, SourceError> {
        // Keys built field by field were not registered yet.
        keys.register();
        Ok(Datadog {
            http: client(timeout)?,
            base,
            keys,
            queries,
            calls: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn with_counter(mut self, calls: Arc<AtomicU64>) -> Self {
        self.calls = calls;
        self
    }

    async fn query(&self, query: &str, from: Time, to: Time) -> Result<Vec<Point>, SourceError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let request = self
            .http
            .get(format!("{}/api/v1/query", self.base))
            .query(&[
                ("from", from.timestamp().to_string()),
                ("to", to.timestamp().to_string()),
                ("query", query.to_string()),
            ])
            .header("DD-API-KEY", secret(&self.keys.api)?)
            .header("DD-APPLICATION-KEY", secret(&self.keys.app)?);
        let body = fetch(
            PROVIDER,
            request,
            "check DD_API_KEY and DD_APP_KEY (the application key needs the timeseries_query scope) and DD_SITE",
        )
        .await?;
        let answer: Answer = serde_json::from_str(&body)
            .map_err(|e| shape_error(PROVIDER, &format!("not a query answer ({e})")))?;
        if answer.status.as_deref() == Some("error") {
            return Err(SourceError::new(format!(
                "{PROVIDER}: query `{}` failed: {}",
                clean(query),
                clean(&answer.error.unwrap_or_default())
            ))
            .with_hint("check the query in [service.analysis]"));
        }
        match answer.series.len() {
            0 => Ok(Vec::new()),
            1 => Ok(answer
                .series
                .into_iter()
                .flat_map(|s| s.pointlist)
                .collect()),
            n => Err(SourceError::new(format!(
                "{PROVIDER}: query `{query}` returned {n} series, expected one"
            ))
            .with_hint(
                "aggregate it to one series: e.g. sum:metric{version:{version}} without `by {…}`",
            )),
        }
    }
}

/// A key as a header value that HTTP debugging never prints.
fn secret(key: &str) -> Result<reqwest::header::HeaderValue, SourceError> {
    let mut value = reqwest::header::HeaderValue::from_str(key).map_err(|_| {
        SourceError::of_kind(
            crate::core::model::ErrorKind::Auth,
            "DD_API_KEY or DD_APP_KEY has characters a header cannot carry",
        )
        .with_hint("export the key again, without quotes or newlines")
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[derive(Deserialize)]
struct Answer {
    status: Option<String>,
    error: Option<String>,
    #[serde(default)]
    series: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    pointlist: Vec<Point>,
}

/// `[ms, value]`; the value is null where the period has no data.
#[derive(Deserialize)]
struct Point(f64, Option<f64>);

#[async_trait]
impl Metrics for Datadog {
    async fn points(&self, from: Time, to: Time) -> Result<Vec<MetricPoint>, SourceError> {
        let mut merge = Merge::default();
        for (track, field, query) in self.queries.all() {
            for Point(ms, value) in self.query(&query, from, to).await? {
                let Some(value) = value else { continue };
                // A timestamp that is not a number is no time at all.
                let Some(at) = ms
                    .is_finite()
                    .then(|| Time::from_timestamp_millis(ms as i64))
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
