//! The Datadog and Prometheus adapters against wiremock, serving answers
//! shaped like the providers' documented ones: Datadog's
//! `series[].pointlist` (GET /api/v1/query) and Prometheus'
//! `data.result[].values` (GET /api/v1/query_range), with empty results,
//! errors and 429.

use std::time::Duration;

use flightdeck::core::model::{ErrorKind, MetricPoint, Time, Track};
use flightdeck::sources::Metrics;
use flightdeck::sources::metrics::Queries;
use flightdeck::sources::metrics::datadog::{Datadog, Keys};
use flightdeck::sources::metrics::prometheus::Prometheus;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const API_KEY: &str = "dd-api-0123456789abcdef";
const APP_KEY: &str = "dd-app-fedcba9876543210";

fn t(s: i64) -> Time {
    Time::from_timestamp(1_764_000_000 + s, 0).unwrap_or_default()
}

fn datadog_queries() -> Queries {
    Queries {
        error_rate: "sum:auth.service.error_rate{version:{version}}".into(),
        p95: "p95:auth.service.latency{version:{version}}".into(),
        requests: Some("sum:auth.service.requests{version:{version}}.as_count()".into()),
    }
}

/// One Datadog series, as the v1 query endpoint documents it.
fn datadog_answer(query: &str, points: &[(i64, Option<f64>)]) -> serde_json::Value {
    let pointlist: Vec<_> = points
        .iter()
        .map(|(s, v)| json!([(t(*s).timestamp_millis()) as f64, v]))
        .collect();
    json!({
        "status": "ok",
        "res_type": "time_series",
        "resp_version": 1,
        "query": query,
        "message": "",
        "group_by": [],
        "from_date": t(-900).timestamp_millis(),
        "to_date": t(0).timestamp_millis(),
        "series": [{
            "metric": query.split(':').nth(1).unwrap_or(query),
            "display_name": query,
            "expression": query,
            "scope": "version:canary",
            "aggr": "sum",
            "interval": 20,
            "length": pointlist.len(),
            "start": t(-900).timestamp_millis(),
            "end": t(0).timestamp_millis(),
            "tag_set": [],
            "query_index": 0,
            "unit": null,
            "pointlist": pointlist,
        }]
    })
}

async fn datadog(server: &MockServer) -> Datadog {
    let keys = Keys {
        api: API_KEY.into(),
        app: APP_KEY.into(),
    };
    match Datadog::new(
        server.uri(),
        keys,
        datadog_queries(),
        Duration::from_secs(5),
    ) {
        Ok(d) => d,
        Err(e) => panic!("client: {e}"),
    }
}

async fn answer_datadog(server: &MockServer, query: &str, body: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/api/v1/query"))
        .and(query_param("query", query))
        .and(query_param("from", t(-900).timestamp().to_string()))
        .and(query_param("to", t(0).timestamp().to_string()))
        .and(header("DD-API-KEY", API_KEY))
        .and(header("DD-APPLICATION-KEY", APP_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

fn find(points: &[MetricPoint], track: Track, at: i64) -> MetricPoint {
    match points.iter().find(|p| p.track == track && p.at == t(at)) {
        Some(p) => *p,
        None => panic!("no {track:?} point at {at}: {points:?}"),
    }
}

#[tokio::test]
async fn datadog_series_merge_into_points_per_track_and_time() {
    let server = MockServer::start().await;
    for q in datadog_queries().all() {
        let (track, field, query) = q;
        use flightdeck::sources::metrics::Field;
        let canary = track == Track::Canary;
        let points: Vec<(i64, Option<f64>)> = match field {
            Field::ErrorRate => vec![(-60, Some(if canary { 2.5 } else { 0.1 })), (-40, None)],
            Field::P95 => vec![(-60, Some(if canary { 310.0 } else { 120.0 }))],
            Field::Requests => vec![(-60, Some(400.0))],
        };
        answer_datadog(&server, &query, datadog_answer(&query, &points)).await;
    }
    let got = match datadog(&server).await.points(t(-900), t(0)).await {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    // null values are periods without data: no point is invented for them.
    assert_eq!(got.len(), 2, "{got:?}");
    let canary = find(&got, Track::Canary, -60);
    assert_eq!(canary.error_pct, Some(2.5));
    assert_eq!(canary.p95_ms, Some(310.0));
    assert_eq!(canary.requests, Some(400));
    let stable = find(&got, Track::Stable, -60);
    assert_eq!((stable.error_pct, stable.p95_ms), (Some(0.1), Some(120.0)));
}

#[tokio::test]
async fn datadog_empty_series_is_no_points() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "ok", "res_type": "time_series", "series": [],
            "from_date": 0, "to_date": 0, "query": "x", "group_by": [], "message": ""
        })))
        .mount(&server)
        .await;
    let got = datadog(&server).await.points(t(-900), t(0)).await;
    assert_eq!(got, Ok(Vec::new()));
}

#[tokio::test]
async fn datadog_forbidden_names_the_keys_and_never_shows_them() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"errors": ["Forbidden"]}))
                .insert_header("x-request-id", "req-403"),
        )
        .mount(&server)
        .await;
    let err = match datadog(&server).await.points(t(-900), t(0)).await {
        Err(e) => e,
        Ok(p) => panic!("a 403 gave points: {p:?}"),
    };
    assert_eq!(err.kind, ErrorKind::Auth);
    let text = format!("{err} {err:?}");
    assert!(text.contains("HTTP 403"), "{text}");
    assert!(
        text.contains("DD_APP_KEY") && text.contains("timeseries_query"),
        "{text}"
    );
    assert!(!text.contains(API_KEY) && !text.contains(APP_KEY), "{text}");
    assert_eq!(err.request_id.as_deref(), Some("req-403"));
}

#[tokio::test]
async fn datadog_429_backs_off_for_the_reset_it_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(
                    json!({"errors": ["Rate limit of 1600 requests in 3600 seconds reached."]}),
                )
                .insert_header("X-RateLimit-Limit", "1600")
                .insert_header("X-RateLimit-Period", "3600")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", "42"),
        )
        .mount(&server)
        .await;
    let err = match datadog(&server).await.points(t(-900), t(0)).await {
        Err(e) => e,
        Ok(p) => panic!("a 429 gave points: {p:?}"),
    };
    assert_eq!(
        err.kind,
        ErrorKind::Throttled {
            retry_after: Some(Duration::from_secs(42))
        }
    );
    assert!(
        err.to_string().contains("backing off, next read in 42s"),
        "{err}"
    );
}

#[tokio::test]
async fn datadog_grouped_query_is_refused_not_guessed() {
    let server = MockServer::start().await;
    let mut body = datadog_answer("sum:x{*} by {host}", &[(-60, Some(1.0))]);
    let series = body["series"][0].clone();
    body["series"] = json!([series.clone(), series]);
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let err = match datadog(&server).await.points(t(-900), t(0)).await {
        Err(e) => e,
        Ok(p) => panic!("two series gave points: {p:?}"),
    };
    assert!(err.to_string().contains("returned 2 series"), "{err}");
}

fn prometheus_queries() -> Queries {
    Queries {
        error_rate: r#"100 * sum(rate(http_requests_total{version="{version}",code=~"5.."}[1m])) / sum(rate(http_requests_total{version="{version}"}[1m]))"#.into(),
        p95: r#"1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{version="{version}"}[1m])))"#.into(),
        requests: None,
    }
}

fn prometheus(server: &MockServer) -> Prometheus {
    match Prometheus::new(&server.uri(), prometheus_queries(), Duration::from_secs(5)) {
        Ok(p) => p,
        Err(e) => panic!("client: {e}"),
    }
}

/// A matrix answer, as /api/v1/query_range documents it.
fn matrix(values: &[(i64, &str)]) -> serde_json::Value {
    let values: Vec<_> = values
        .iter()
        .map(|(s, v)| json!([t(*s).timestamp() as f64 + 0.0, v]))
        .collect();
    json!({
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": if values.is_empty() { json!([]) } else { json!([{ "metric": {}, "values": values }]) }
        }
    })
}

#[tokio::test]
async fn prometheus_values_become_points_and_nan_stays_nan() {
    let server = MockServer::start().await;
    for (track, field, query) in prometheus_queries().all() {
        use flightdeck::sources::metrics::Field;
        let values: Vec<(i64, &str)> = match (track, field) {
            (Track::Canary, Field::ErrorRate) => vec![(-30, "4.5"), (-15, "NaN")],
            (Track::Canary, _) => vec![(-30, "250"), (-15, "260")],
            (Track::Stable, Field::ErrorRate) => vec![(-30, "0.2"), (-15, "0.3")],
            (Track::Stable, _) => vec![(-30, "100"), (-15, "110")],
        };
        Mock::given(method("GET"))
            .and(path("/api/v1/query_range"))
            .and(query_param("query", query.as_str()))
            .and(query_param("start", t(-900).timestamp().to_string()))
            .and(query_param("end", t(0).timestamp().to_string()))
            .and(query_param("step", "15s"))
            .respond_with(ResponseTemplate::new(200).set_body_json(matrix(&values)))
            .mount(&server)
            .await;
    }
    let adapter = prometheus(&server);
    let got = match adapter.points(t(-900), t(0)).await {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(got.len(), 4, "{got:?}");
    // A later poll inside the same step asks for the same, step-aligned
    // range: the same timestamps come back and are upserted, not added.
    let again = match adapter.points(t(-893), t(7)).await {
        Ok(p) => p,
        Err(e) => panic!("the shifted poll asked another range: {e}"),
    };
    let keys = |points: &[MetricPoint]| -> Vec<(Time, Track)> {
        points.iter().map(|p| (p.at, p.track)).collect()
    };
    assert_eq!(keys(&again), keys(&got));
    let first = find(&got, Track::Canary, -30);
    assert_eq!(
        (first.error_pct, first.p95_ms, first.requests),
        (Some(4.5), Some(250.0), None)
    );
    assert!(
        find(&got, Track::Canary, -15)
            .error_pct
            .is_some_and(f64::is_nan)
    );
    assert_eq!(find(&got, Track::Stable, -15).p95_ms, Some(110.0));
}

#[tokio::test]
async fn prometheus_empty_result_is_no_points() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(matrix(&[])))
        .mount(&server)
        .await;
    assert_eq!(
        prometheus(&server).points(t(-900), t(0)).await,
        Ok(Vec::new())
    );
}

#[tokio::test]
async fn prometheus_bad_query_says_what_prometheus_said() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error",
            "errorType": "bad_data",
            "error": "invalid parameter \"query\": 1:6: parse error: unexpected \"}\""
        })))
        .mount(&server)
        .await;
    let err = match prometheus(&server).points(t(-900), t(0)).await {
        Err(e) => e,
        Ok(p) => panic!("a 400 gave points: {p:?}"),
    };
    assert!(err.to_string().contains("parse error"), "{err}");
    assert!(err.to_string().contains("p95_query"), "{err}");
}

#[tokio::test]
async fn prometheus_429_and_503_are_throttled_and_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "9"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>upstream down</html>"))
        .mount(&server)
        .await;
    let p = prometheus(&server);
    let first = p.points(t(-900), t(0)).await.err();
    assert_eq!(
        first.map(|e| e.kind),
        Some(ErrorKind::Throttled {
            retry_after: Some(Duration::from_secs(9))
        })
    );
    let second = p.points(t(-900), t(0)).await.err();
    assert_eq!(
        second.as_ref().map(|e| e.kind),
        Some(ErrorKind::Unavailable)
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable() {
    // A port nobody listens on (wiremock keeps its servers in a pool).
    let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => panic!("{e}"),
    };
    let uri = format!("http://127.0.0.1:{port}");
    let p = match Prometheus::new(&uri, prometheus_queries(), Duration::from_secs(2)) {
        Ok(p) => p,
        Err(e) => panic!("client: {e}"),
    };
    let err = p.points(t(-900), t(0)).await.err();
    assert!(
        matches!(
            err.as_ref().map(|e| e.kind),
            Some(ErrorKind::Unavailable | ErrorKind::Timeout)
        ),
        "{err:?}"
    );
}

/// The analysis of what an adapter returned, at t(0) over the last 15 min.
fn verdict_of(points: &[MetricPoint]) -> flightdeck::core::analysis::Verdict {
    use flightdeck::core::analysis::{AnalysisSettings, evaluate};
    let (canary, stable): (Vec<MetricPoint>, Vec<MetricPoint>) =
        points.iter().partition(|p| p.track == Track::Canary);
    let settings = AnalysisSettings {
        interval: Duration::from_secs(30),
        reporting_lag: Duration::from_secs(120),
        ..AnalysisSettings::default()
    };
    evaluate(&canary, &stable, &settings, t(-900), t(0))
}

/// Hostile Datadog answers (a negative error rate, a negative p95, a spike
/// count beside real errors): the verdict is never a pass.
#[tokio::test]
async fn datadog_implausible_values_are_never_a_pass() {
    use flightdeck::core::analysis::Outcome;
    use flightdeck::sources::metrics::Field;
    type Series = fn(Field, bool, i64) -> Option<f64>;
    let cases: [(&str, Series, &str); 3] = [
        (
            "negative error rate",
            |f, canary, _| match f {
                Field::ErrorRate => Some(if canary { -1.0 } else { 0.1 }),
                Field::P95 => Some(140.0),
                Field::Requests => Some(400.0),
            },
            "is not a rate",
        ),
        (
            "negative p95",
            |f, canary, _| match f {
                Field::ErrorRate => Some(0.1),
                Field::P95 => Some(if canary { -500.0 } else { 140.0 }),
                Field::Requests => Some(400.0),
            },
            "is not a latency",
        ),
        (
            "one spike of requests at 0 % beside 30 % errors",
            |f, canary, at| match f {
                Field::ErrorRate if canary => Some(if at == -20 { 0.0 } else { 30.0 }),
                Field::ErrorRate => Some(0.1),
                Field::P95 => Some(140.0),
                Field::Requests if canary && at == -20 => Some(1e9),
                Field::Requests => Some(400.0),
            },
            "the window's quietest",
        ),
    ];
    for (what, series, reason) in cases {
        let server = MockServer::start().await;
        for (track, field, query) in datadog_queries().all() {
            let canary = track == Track::Canary;
            let points: Vec<(i64, Option<f64>)> = [-80, -60, -40, -20]
                .iter()
                .map(|at| (*at, series(field, canary, *at)))
                .collect();
            answer_datadog(&server, &query, datadog_answer(&query, &points)).await;
        }
        let got = match datadog(&server).await.points(t(-900), t(0)).await {
            Ok(p) => p,
            Err(e) => panic!("{what}: {e}"),
        };
        let v = verdict_of(&got);
        assert_eq!(v.outcome, Outcome::Inconclusive, "{what}: {}", v.reason);
        assert!(v.reason.contains(reason), "{what}: {}", v.reason);
    }
}

/// Prometheus answers +Inf and out-of-range rates: not a pass either.
#[tokio::test]
async fn prometheus_implausible_values_are_never_a_pass() {
    use flightdeck::core::analysis::Outcome;
    use flightdeck::sources::metrics::Field;
    let queries = Queries {
        requests: Some(r#"sum(increase(http_requests_total{version="{version}"}[15s]))"#.into()),
        ..prometheus_queries()
    };
    for (what, bad_field, bad, reason) in [
        (
            "error rate over 100 %",
            Field::ErrorRate,
            "250",
            "is not a rate",
        ),
        ("infinite p95", Field::P95, "+Inf", "is not a latency"),
    ] {
        let server = MockServer::start().await;
        for (track, field, query) in queries.all() {
            let value = match (track, field) {
                (Track::Canary, f) if f == bad_field => bad,
                (_, Field::ErrorRate) => "0.2",
                (_, Field::P95) => "140",
                (_, Field::Requests) => "400",
            };
            let values: Vec<(i64, &str)> =
                [-75, -60, -45, -30].iter().map(|s| (*s, value)).collect();
            Mock::given(method("GET"))
                .and(path("/api/v1/query_range"))
                .and(query_param("query", query.as_str()))
                .respond_with(ResponseTemplate::new(200).set_body_json(matrix(&values)))
                .mount(&server)
                .await;
        }
        let adapter = match Prometheus::new(&server.uri(), queries.clone(), Duration::from_secs(5))
        {
            Ok(p) => p,
            Err(e) => panic!("client: {e}"),
        };
        let got = match adapter.points(t(-900), t(0)).await {
            Ok(p) => p,
            Err(e) => panic!("{what}: {e}"),
        };
        let v = verdict_of(&got);
        assert_eq!(v.outcome, Outcome::Inconclusive, "{what}: {}", v.reason);
        assert!(v.reason.contains(reason), "{what}: {}", v.reason);
    }
}

// ----- secrets a provider echoes ----------------------------------------------

/// Keys used only by the echo tests: other tests of this binary register
/// API_KEY and APP_KEY, so these prove the adapter registers its own.
const ECHO_API_KEY: &str = "dd-api-echo-00112233445566778899";
const ECHO_APP_KEY: &str = "dd-app-echo-aabbccddeeff00112233";

/// A provider that quotes what the request carried: Datadog's key headers
/// and the Authorization header, first (a pane title shows the start), in a
/// JSON `errors` list (`json`) or as bare text.
struct EchoCredentials {
    status: u16,
    json: bool,
}

impl wiremock::Respond for EchoCredentials {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let said = format!(
            "DD-API-KEY={} DD-APPLICATION-KEY={} Authorization: {}",
            header("DD-API-KEY"),
            header("DD-APPLICATION-KEY"),
            header("Authorization"),
        );
        let template = ResponseTemplate::new(self.status);
        if self.json {
            template.set_body_json(json!({ "errors": [said] }))
        } else {
            template.set_body_string(said)
        }
    }
}

/// The text of a whole drawn screen.
fn screen(model: &flightdeck::core::model::Model) -> String {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let themes = flightdeck::config::theme::Themes::load(false);
    let mut terminal = match Terminal::new(TestBackend::new(160, 48)) {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    if let Err(e) =
        terminal.draw(|frame| flightdeck::ui::draw(frame, model, themes.get(&model.theme)))
    {
        panic!("{e}");
    }
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[tokio::test]
async fn datadog_refusals_that_echo_the_keys_never_show_them() {
    for (status, json) in [(403, true), (500, false)] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(header("DD-API-KEY", ECHO_API_KEY))
            .and(header("DD-APPLICATION-KEY", ECHO_APP_KEY))
            .respond_with(EchoCredentials { status, json })
            .mount(&server)
            .await;
        let keys = Keys {
            api: ECHO_API_KEY.into(),
            app: ECHO_APP_KEY.into(),
        };
        let dd = match Datadog::new(
            server.uri(),
            keys,
            datadog_queries(),
            Duration::from_secs(5),
        ) {
            Ok(d) => d,
            Err(e) => panic!("client: {e}"),
        };
        let err = match dd.points(t(-900), t(0)).await {
            Err(e) => e,
            Ok(p) => panic!("a {status} gave points: {p:?}"),
        };
        // The provider did echo them: the scrubber, not a short body, hid them.
        assert!(err.message.contains("DD-API-KEY=[redacted]"), "{err:?}");
        assert!(
            err.message.contains("DD-APPLICATION-KEY=[redacted]"),
            "{err:?}"
        );
        let secret_free = |text: &str| {
            !text.contains(ECHO_API_KEY)
                && !text.contains(ECHO_APP_KEY)
                // Not even the start of one, as a cut title would show it.
                && !text.contains(&ECHO_API_KEY[..14])
                && !text.contains(&ECHO_APP_KEY[..14])
        };
        let text = format!("{err} {err:?}");
        assert!(secret_free(&text), "{text}");

        // Where the report saw them: `status --json` and the Canary pane.
        let mut model = flightdeck::app::demo_model(
            "good",
            1,
            true,
            flightdeck::core::action::Keymap::default(),
            "default",
            t(0),
        );
        model.metrics.error = Some(err);
        let status_json = flightdeck::cli::status_json(&model).to_string();
        assert!(status_json.contains("[redacted]"), "{status_json}");
        assert!(secret_free(&status_json), "{status_json}");
        let drawn = screen(&model);
        assert!(drawn.contains("DD-API-KEY=[redacted]"), "{drawn}");
        assert!(secret_free(&drawn), "{drawn}");
    }
}

#[tokio::test]
async fn prometheus_refusals_that_echo_the_basic_auth_never_show_it() {
    // The password Prometheus' proxy checks rides in the URL's userinfo,
    // which the client sends as Basic auth.
    const PASSWORD: &str = "prom-echo-pw-9f8e7d6c5b4a";
    const BASIC: &str = "cHJvbWV0aGV1czpwcm9tLWVjaG8tcHctOWY4ZTdkNmM1YjRh";
    for (status, json) in [(403, true), (500, false)] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(header("Authorization", format!("Basic {BASIC}").as_str()))
            .respond_with(EchoCredentials { status, json })
            .mount(&server)
            .await;
        let uri = server
            .uri()
            .replacen("http://", &format!("http://prometheus:{PASSWORD}@"), 1);
        let p = match Prometheus::new(&uri, prometheus_queries(), Duration::from_secs(5)) {
            Ok(p) => p,
            Err(e) => panic!("client: {e}"),
        };
        let err = match p.points(t(-900), t(0)).await {
            Err(e) => e,
            Ok(points) => panic!("a {status} gave points: {points:?}"),
        };
        // It answered the mock that checks the credentials, and echoed them.
        assert!(err.message.contains(&format!("HTTP {status}")), "{err:?}");
        assert!(
            err.message.contains("Authorization: Basic [redacted]"),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains(BASIC) && !text.contains(PASSWORD) && !text.contains(&BASIC[..12]),
            "{text}"
        );
    }
}
