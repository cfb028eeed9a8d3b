//! `Metrics` on CloudWatch: the ALB's per-target-group metrics, with no
//! query to write. One GetMetricData call (paged) per poll asks, for the
//! canary and the stable target group, RequestCount,
//! HTTPCode_Target_5XX_Count and TargetConnectionErrorCount (Sum) and
//! TargetResponseTime (p95, seconds) per minute. The error rate is (5XX +
//! connection errors) / requests, see [`failed_pct`]; a minute with requests
//! and no 5XX datapoint had no 5XX (the ALB publishes those counts only when
//! they are not zero).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::DateTime;

use super::error;
use crate::config::Listener;
use crate::core::model::{MetricPoint, SourceError, Time, Track};
use crate::sources::Metrics;

/// Each datapoint covers this many seconds.
pub const PERIOD: i32 = 60;

/// What one query asks: (id prefix, metric, statistic).
const ASKED: [(&str, &str, &str); 4] = [
    ("req", "RequestCount", "Sum"),
    ("err", "HTTPCode_Target_5XX_Count", "Sum"),
    // A canary that crash-loops refuses connections: the ALB answers 502
    // itself, which is no target 5XX, so without this it reads 0 % errors.
    ("conn", "TargetConnectionErrorCount", "Sum"),
    ("p95", "TargetResponseTime", "p95"),
];

pub struct CloudWatchMetrics {
    cw: aws_sdk_cloudwatch::Client,
    load_balancer: String,
    /// (track, TargetGroup dimension value).
    target_groups: Vec<(Track, String)>,
    pub calls: Arc<AtomicU64>,
}

/// The `LoadBalancer` dimension (`app/NAME/ID`) from a listener or
/// listener-rule ARN.
pub fn load_balancer_dimension(listener: &Listener) -> Option<String> {
    let resource = listener.arn().split(':').nth(5)?;
    let mut parts = resource.split('/');
    let kind = parts.next()?;
    if kind != "listener" && kind != "listener-rule" {
        return None;
    }
    let (lb_type, name, id) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!("{lb_type}/{name}/{id}"))
}

/// The `TargetGroup` dimension (`targetgroup/NAME/ID`) from its ARN.
pub fn target_group_dimension(arn: &str) -> Option<String> {
    let resource = arn.split(':').nth(5)?;
    resource
        .starts_with("targetgroup/")
        .then(|| resource.to_string())
}

impl CloudWatchMetrics {
    /// The reason as an error when an ARN does not have the ALB's shape.
    pub fn new(
        config: &aws_config::SdkConfig,
        listener: &Listener,
        stable_target_group_arn: &str,
        canary_target_group_arn: Option<&str>,
    ) -> Result<CloudWatchMetrics, String> {
        CloudWatchMetrics::from_client(
            aws_sdk_cloudwatch::Client::new(config),
            listener,
            stable_target_group_arn,
            canary_target_group_arn,
        )
    }

    /// With a client made elsewhere (the SDK's mocks in tests).
    pub fn from_client(
        cw: aws_sdk_cloudwatch::Client,
        listener: &Listener,
        stable_target_group_arn: &str,
        canary_target_group_arn: Option<&str>,
    ) -> Result<CloudWatchMetrics, String> {
        let load_balancer = load_balancer_dimension(listener).ok_or_else(|| {
            format!(
                "cannot read the load balancer from `{}`: expected an ALB listener or listener-rule ARN",
                listener.arn()
            )
        })?;
        let mut target_groups = Vec::new();
        for (track, arn) in [
            (Track::Stable, Some(stable_target_group_arn)),
            (Track::Canary, canary_target_group_arn),
        ] {
            let Some(arn) = arn else { continue };
            let dim = target_group_dimension(arn).ok_or_else(|| {
                format!("cannot read the target group from `{arn}`: expected a target group ARN")
            })?;
            target_groups.push((track, dim));
        }
        Ok(CloudWatchMetrics {
            cw,
            load_balancer,
            target_groups,
            calls: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn with_counter(mut self, calls: Arc<AtomicU64>) -> Self {
        self.calls = calls;
        self
    }

    fn queries(&self) -> Vec<MetricDataQuery> {
        let mut out = Vec::new();
        for (track, tg) in &self.target_groups {
            for (prefix, metric, stat) in ASKED {
                let metric = Metric::builder()
                    .namespace("AWS/ApplicationELB")
                    .metric_name(metric)
                    .dimensions(Dimension::builder().name("TargetGroup").value(tg).build())
                    .dimensions(
                        Dimension::builder()
                            .name("LoadBalancer")
                            .value(&self.load_balancer)
                            .build(),
                    )
                    .build();
                let stat = MetricStat::builder()
                    .metric(metric)
                    .period(PERIOD)
                    .stat(stat)
                    .build();
                out.push(
                    MetricDataQuery::builder()
                        .id(format!("{prefix}_{}", track.label()))
                        .metric_stat(stat)
                        .return_data(true)
                        .build(),
                );
            }
        }
        out
    }
}

/// Values of one query by time.
type Column = std::collections::BTreeMap<Time, f64>;

/// (requests, error %) of one minute from RequestCount, target 5XX and
/// target connection errors.
///
/// AWS documents RequestCount as counting the requests for which the load
/// balancer chose a target, and TargetConnectionErrorCount as connections to
/// a target that could not be established, so a request whose connection
/// failed is in both; but one counts requests and the other connections,
/// and a minute can hold connection errors and no RequestCount datapoint at
/// all. So the denominator is the larger of the requests and the failures:
/// exact when the requests include them, never above 100 %, and a minute
/// where every connection failed reads 100 %, not "no traffic". A count that
/// is not a finite number ≥ 0 makes the rate NaN, which the analysis refuses.
fn failed_pct(requests: f64, target_5xx: f64, connection_errors: f64) -> (u64, Option<f64>) {
    let valid = |v: f64| v.is_finite() && v >= 0.0;
    if !valid(target_5xx) || !valid(connection_errors) {
        return (requests.round() as u64, Some(f64::NAN));
    }
    let failed = target_5xx + connection_errors;
    let total = requests.max(failed);
    (
        total.round() as u64,
        (total > 0.0).then(|| failed * 100.0 / total),
    )
}

#[async_trait]
impl Metrics for CloudWatchMetrics {
    async fn points(&self, from: Time, to: Time) -> Result<Vec<MetricPoint>, SourceError> {
        let resource = format!(
            "AWS/ApplicationELB {} ({})",
            self.load_balancer,
            self.target_groups
                .iter()
                .map(|(_, tg)| tg.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut columns: std::collections::HashMap<String, Column> = Default::default();
        let mut next: Option<String> = None;
        loop {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let out = self
                .cw
                .get_metric_data()
                .set_metric_data_queries(Some(self.queries()))
                .start_time(DateTime::from_secs(from.timestamp()))
                .end_time(DateTime::from_secs(to.timestamp()))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| error("cloudwatch:GetMetricData", &resource, e))?;
            for result in out.metric_data_results() {
                let Some(id) = result.id() else { continue };
                let column = columns.entry(id.to_string()).or_default();
                for (at, value) in result.timestamps().iter().zip(result.values()) {
                    if let Some(at) = Time::from_timestamp(at.secs(), 0) {
                        column.insert(at, *value);
                    }
                }
            }
            match out.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_string()),
                _ => break,
            }
        }
        let mut points = Vec::new();
        for (track, _) in &self.target_groups {
            let col = |prefix: &str| columns.get(&format!("{prefix}_{}", track.label()));
            let empty = Column::new();
            let (requests, errors, connection_errors, p95) = (
                col("req").unwrap_or(&empty),
                col("err").unwrap_or(&empty),
                col("conn").unwrap_or(&empty),
                col("p95").unwrap_or(&empty),
            );
            let times: std::collections::BTreeSet<Time> = requests
                .keys()
                .chain(connection_errors.keys())
                .chain(p95.keys())
                .copied()
                .collect();
            for at in times {
                // Connection errors without a RequestCount datapoint: no
                // request got through that minute.
                let n = requests
                    .get(&at)
                    .copied()
                    .or_else(|| connection_errors.get(&at).map(|_| 0.0));
                let mut point = match n {
                    Some(n) if n.is_finite() && n >= 0.0 => {
                        let (total, error_pct) = failed_pct(
                            n,
                            errors.get(&at).copied().unwrap_or(0.0),
                            connection_errors.get(&at).copied().unwrap_or(0.0),
                        );
                        MetricPoint {
                            error_pct,
                            ..MetricPoint::from_counts(at, *track, total, 0)
                        }
                    }
                    _ => MetricPoint::empty(at, *track),
                };
                point.p95_ms = p95.get(&at).map(|s| s * 1000.0);
                points.push(point);
            }
        }
        points.sort_by_key(|p| p.at);
        Ok(points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_count_as_failed_requests() {
        assert_eq!(failed_pct(200.0, 9.0, 0.0), (200, Some(4.5)));
        // Inside RequestCount: 9 + 11 of 200.
        assert_eq!(failed_pct(200.0, 9.0, 11.0), (200, Some(10.0)));
        // Nothing got through: every attempt failed.
        assert_eq!(failed_pct(0.0, 0.0, 40.0), (40, Some(100.0)));
        assert_eq!(failed_pct(10.0, 0.0, 40.0), (40, Some(100.0)));
        assert_eq!(failed_pct(0.0, 0.0, 0.0), (0, None));
        assert!(failed_pct(10.0, f64::NAN, 0.0).1.is_some_and(f64::is_nan));
        assert!(failed_pct(10.0, 0.0, -3.0).1.is_some_and(f64::is_nan));
    }

    #[test]
    fn dimensions_come_from_the_arns() {
        let rule = Listener::Rule(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee".into(),
        );
        assert_eq!(
            load_balancer_dimension(&rule).as_deref(),
            Some("app/prod-alb/50dc6c495c0c9188")
        );
        let listener = Listener::Default(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2".into(),
        );
        assert_eq!(
            load_balancer_dimension(&listener).as_deref(),
            Some("app/prod-alb/50dc6c495c0c9188")
        );
        assert_eq!(
            target_group_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/auth-canary/73e2d6bc24d8a067"
            )
            .as_deref(),
            Some("targetgroup/auth-canary/73e2d6bc24d8a067")
        );
        assert_eq!(target_group_dimension("auth-canary"), None);
        assert_eq!(
            load_balancer_dimension(&Listener::Rule("nope".into())),
            None
        );
    }
}
