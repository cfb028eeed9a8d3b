//! The CloudWatch metrics adapter through the SDK's own mocks: moto does
//! not speak the Smithy RPCv2 CBOR protocol of aws-sdk-cloudwatch ≥ 1.100
//! and answers percentile statistics with HTTP 500 (see PLATFORM.md), so
//! the p95 path, paging and AccessDenied are covered here.

use aws_sdk_cloudwatch::operation::get_metric_data::{GetMetricDataError, GetMetricDataOutput};
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use flightdeck::config::Listener;
use flightdeck::core::model::{ErrorKind, Time, Track};
use flightdeck::sources::Metrics;
use flightdeck::sources::aws::cloudwatch::CloudWatchMetrics;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const RULE: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
const STABLE_TG: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/auth-stable/73e2d6bc24d8a067";
const CANARY_TG: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/auth-canary/0a1b2c3d4e5f6071";

const T0: i64 = 1_764_000_000;

fn at(s: i64) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(T0 + s)
}

fn t(s: i64) -> Time {
    Time::from_timestamp(T0 + s, 0).unwrap_or_default()
}

fn result(id: &str, points: &[(i64, f64)]) -> MetricDataResult {
    MetricDataResult::builder()
        .id(id)
        .set_timestamps(Some(points.iter().map(|(s, _)| at(*s)).collect()))
        .set_values(Some(points.iter().map(|(_, v)| *v).collect()))
        .status_code(aws_sdk_cloudwatch::types::StatusCode::Complete)
        .build()
}

#[tokio::test(flavor = "current_thread")]
async fn alb_metrics_become_error_rates_and_p95_in_ms_across_pages() -> TestResult {
    // The request: both target groups with the load balancer, three
    // statistics each, per minute.
    let first = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| {
            let queries = r.metric_data_queries();
            let stat = |id: &str| {
                queries
                    .iter()
                    .find(|q| q.id() == Some(id))
                    .and_then(|q| q.metric_stat())
            };
            let p95 = stat("p95_canary");
            let dims: Vec<(String, String)> = p95
                .and_then(|s| s.metric())
                .map(|m| {
                    m.dimensions()
                        .iter()
                        .map(|d| {
                            (
                                d.name().unwrap_or_default().to_string(),
                                d.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            r.next_token().is_none()
                && queries.len() == 8
                && p95.and_then(|s| s.stat()) == Some("p95")
                && p95.and_then(|s| s.period()) == Some(60)
                && dims.contains(&(
                    "TargetGroup".into(),
                    "targetgroup/auth-canary/0a1b2c3d4e5f6071".into(),
                ))
                && dims.contains(&(
                    "LoadBalancer".into(),
                    "app/prod-alb/50dc6c495c0c9188".into(),
                ))
                && stat("err_stable")
                    .and_then(|s| s.metric())
                    .and_then(|m| m.metric_name())
                    == Some("HTTPCode_Target_5XX_Count")
                && stat("conn_canary")
                    .and_then(|s| s.metric())
                    .and_then(|m| m.metric_name())
                    == Some("TargetConnectionErrorCount")
                && stat("conn_canary").and_then(|s| s.stat()) == Some("Sum")
                && r.start_time() == Some(&at(-900))
                && r.end_time() == Some(&at(0))
        })
        .then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(result("req_canary", &[(-120, 200.0)]))
                .metric_data_results(result("err_canary", &[(-120, 9.0)]))
                .metric_data_results(result("p95_canary", &[(-120, 0.412)]))
                .metric_data_results(result("req_stable", &[(-120, 1800.0)]))
                .metric_data_results(result("p95_stable", &[(-120, 0.118)]))
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(result("req_canary", &[(-60, 0.0)]))
                .metric_data_results(result("req_stable", &[(-60, 1700.0)]))
                .metric_data_results(result("err_stable", &[(-60, 17.0)]))
                .build()
        });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&first, &second]);
    let metrics = CloudWatchMetrics::from_client(
        client,
        &Listener::Rule(RULE.into()),
        STABLE_TG,
        Some(CANARY_TG),
    )?;
    let points = metrics.points(t(-900), t(0)).await?;
    let find = |track: Track, s: i64| points.iter().find(|p| p.track == track && p.at == t(s));
    let canary = find(Track::Canary, -120).ok_or("no canary point")?;
    assert_eq!(canary.requests, Some(200));
    assert_eq!(canary.error_pct, Some(4.5));
    assert_eq!(canary.p95_ms.map(|v| v.round()), Some(412.0));
    // No 5XX datapoint in a minute with requests: no 5XX (the ALB does not
    // publish zeros).
    let stable = find(Track::Stable, -120).ok_or("no stable point")?;
    assert_eq!(stable.error_pct, Some(0.0));
    assert_eq!(
        find(Track::Stable, -60).and_then(|p| p.error_pct),
        Some(1.0)
    );
    // A minute without requests has no error rate (not 0 %).
    let idle = find(Track::Canary, -60).ok_or("no idle canary point")?;
    assert_eq!((idle.requests, idle.error_pct), (Some(0), None));
    assert_eq!(first.num_calls() + second.num_calls(), 2);
    Ok(())
}

/// A crash-looping canary: its connections fail, the ALB answers 502 itself
/// and the target publishes no 5XX. It must not read 0 % errors.
#[tokio::test(flavor = "current_thread")]
async fn connection_errors_alone_make_an_error_rate() -> TestResult {
    let answer = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(|| {
        GetMetricDataOutput::builder()
            // Some requests still answered in the first minute, none after.
            .metric_data_results(result("req_canary", &[(-120, 100.0)]))
            .metric_data_results(result("conn_canary", &[(-120, 25.0), (-60, 40.0)]))
            .metric_data_results(result("req_stable", &[(-120, 900.0), (-60, 950.0)]))
            .build()
    });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&answer]);
    let metrics = CloudWatchMetrics::from_client(
        client,
        &Listener::Rule(RULE.into()),
        STABLE_TG,
        Some(CANARY_TG),
    )?;
    let points = metrics.points(t(-900), t(0)).await?;
    let find = |track: Track, s: i64| points.iter().find(|p| p.track == track && p.at == t(s));
    let first = find(Track::Canary, -120).ok_or("no canary point at -120")?;
    assert_eq!((first.requests, first.error_pct), (Some(100), Some(25.0)));
    // No RequestCount datapoint at all: 40 attempts, all failed.
    let second = find(Track::Canary, -60).ok_or("no canary point at -60")?;
    assert_eq!((second.requests, second.error_pct), (Some(40), Some(100.0)));
    assert_eq!(
        find(Track::Stable, -60).and_then(|p| p.error_pct),
        Some(0.0)
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn access_denied_names_get_metric_data_and_the_target_groups() -> TestResult {
    let denied = mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_error(|| {
        GetMetricDataError::generic(
            aws_smithy_types::error::ErrorMetadata::builder()
                .code("AccessDenied")
                .message("User: arn:aws:sts::1:assumed-role/ops/ana is not authorized to perform: cloudwatch:GetMetricData")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, [&denied]);
    let metrics = CloudWatchMetrics::from_client(
        client,
        &Listener::Rule(RULE.into()),
        STABLE_TG,
        Some(CANARY_TG),
    )?;
    let err = match metrics.points(t(-900), t(0)).await {
        Err(e) => e,
        Ok(p) => return Err(format!("denied gave points: {p:?}").into()),
    };
    assert_eq!(err.kind, ErrorKind::Auth);
    let text = err.to_string();
    assert!(text.contains("cloudwatch:GetMetricData"), "{text}");
    assert!(text.contains("targetgroup/auth-canary"), "{text}");
    Ok(())
}

#[test]
fn arns_that_are_not_an_alb_are_refused_at_start() {
    let client = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .build(),
    );
    let err =
        CloudWatchMetrics::from_client(client, &Listener::Rule(RULE.into()), "auth-stable", None)
            .err();
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("expected a target group ARN")),
        "{err:?}"
    );
}
