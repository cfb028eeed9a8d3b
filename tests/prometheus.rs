//! The Prometheus adapter against a real Prometheus server: the test serves
//! a small exporter with known canary and stable counters and latency
//! histograms, starts Prometheus on loopback scraping it every second, and
//! checks the adapter's error rate and p95 against the values the counters
//! were built to give. `scripts/test` installs Debian's `prometheus` when it
//! is missing and says where it is (FLIGHTDECK_PROMETHEUS); without it this
//! test fails, it never skips.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flightdeck::core::model::{MetricPoint, Time, Track};
use flightdeck::sources::Metrics;
use flightdeck::sources::metrics::Queries;
use flightdeck::sources::metrics::prometheus::Prometheus;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Per second and track: requests, 5xx, and requests per latency bucket
/// (cumulative, as Prometheus histograms are).
struct Rates {
    requests: f64,
    errors: f64,
    /// (le, cumulative count)
    buckets: [(&'static str, f64); 4],
}

const CANARY: Rates = Rates {
    requests: 100.0,
    errors: 5.0,
    buckets: [
        ("0.1", 90.0),
        ("0.25", 100.0),
        ("0.5", 100.0),
        ("+Inf", 100.0),
    ],
};
const STABLE: Rates = Rates {
    requests: 100.0,
    errors: 0.2,
    buckets: [
        ("0.1", 98.0),
        ("0.25", 100.0),
        ("0.5", 100.0),
        ("+Inf", 100.0),
    ],
};

/// What histogram_quantile(0.95, …) gives for these buckets: linear within
/// the bucket holding rank 95. Canary: 0.1 + (95 − 90) / 10 × 0.15 s;
/// stable: 95 / 98 × 0.1 s.
const CANARY_P95_MS: f64 = 175.0;
const STABLE_P95_MS: f64 = 95.0 / 98.0 * 100.0;

/// Counters that grow at the rates above since the exporter started, so
/// rate() over any window gives them back exactly.
struct Exporter {
    started: Instant,
}

impl wiremock::Respond for Exporter {
    fn respond(&self, _: &wiremock::Request) -> wiremock::ResponseTemplate {
        let t = self.started.elapsed().as_secs_f64() + 1.0;
        let mut text = String::from(
            "# TYPE http_requests_total counter\n# TYPE http_request_duration_seconds histogram\n",
        );
        for (version, r) in [("canary", &CANARY), ("stable", &STABLE)] {
            text.push_str(&format!(
                "http_requests_total{{version=\"{version}\",code=\"200\"}} {}\n",
                (r.requests - r.errors) * t
            ));
            text.push_str(&format!(
                "http_requests_total{{version=\"{version}\",code=\"500\"}} {}\n",
                r.errors * t
            ));
            for (le, n) in r.buckets {
                text.push_str(&format!(
                    "http_request_duration_seconds_bucket{{version=\"{version}\",le=\"{le}\"}} {}\n",
                    n * t
                ));
            }
            text.push_str(&format!(
                "http_request_duration_seconds_count{{version=\"{version}\"}} {}\n",
                r.requests * t
            ));
        }
        wiremock::ResponseTemplate::new(200)
            .insert_header("content-type", "text/plain; version=0.0.4")
            .set_body_string(text)
    }
}

/// Prometheus, killed when the test ends however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16, std::io::Error> {
    std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()
        .map(|a| a.port())
}

fn queries() -> Queries {
    Queries {
        error_rate: r#"100 * sum(rate(http_requests_total{version="{version}",code=~"5.."}[5s])) / sum(rate(http_requests_total{version="{version}"}[5s]))"#.into(),
        p95: r#"1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{version="{version}"}[5s])))"#.into(),
        // Requests per step (1 s here): the rate times the step.
        requests: Some(r#"sum(rate(http_requests_total{version="{version}"}[5s])) * 1"#.into()),
    }
}

fn newest(points: &[MetricPoint], track: Track) -> Option<MetricPoint> {
    points
        .iter()
        .filter(|p| p.track == track && p.error_pct.is_some() && p.p95_ms.is_some())
        .max_by_key(|p| p.at)
        .copied()
}

#[tokio::test(flavor = "current_thread")]
async fn error_rate_and_p95_from_a_real_prometheus() -> TestResult {
    let binary = std::env::var("FLIGHTDECK_PROMETHEUS").map_err(|_| {
        "FLIGHTDECK_PROMETHEUS is not set: run the tests with scripts/test (it installs prometheus)"
    })?;
    let exporter = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/metrics"))
        .respond_with(Exporter {
            started: Instant::now(),
        })
        .mount(&exporter)
        .await;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("prometheus.yml");
    let target = exporter.address().to_string();
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: auth\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )?;
    let port = free_port()?;
    let log = std::fs::File::create(dir.path().join("prometheus.log"))?;
    let _server = Server(
        Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?,
    );
    let adapter = Prometheus::new(
        &format!("http://127.0.0.1:{port}"),
        queries(),
        Duration::from_secs(5),
    )?
    .with_step(Duration::from_secs(1));
    // Scrapes every second; rate() needs two samples in its 5 s window.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (canary, stable) = loop {
        let now = Time::from(std::time::SystemTime::now());
        let got = adapter
            .points(now - chrono::Duration::seconds(20), now)
            .await;
        if let Ok(points) = &got
            && let (Some(c), Some(s)) = (newest(points, Track::Canary), newest(points, Track::Stable))
            // The first seconds of a series have fewer samples than the
            // window: wait until the window is full.
            && c.requests.is_some_and(|n| n >= 90)
        {
            break (c, s);
        }
        if Instant::now() > deadline {
            let log =
                std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
            let tail: String = log.lines().rev().take(15).collect::<Vec<_>>().join("\n");
            return Err(format!(
                "no data from Prometheus in 60 s: {got:?}\nlog (newest first):\n{tail}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let close =
        |a: Option<f64>, b: f64, tolerance: f64| a.is_some_and(|a| (a - b).abs() <= tolerance);
    assert!(close(canary.error_pct, 5.0, 0.01), "{canary:?}");
    assert!(close(stable.error_pct, 0.2, 0.01), "{stable:?}");
    assert!(close(canary.p95_ms, CANARY_P95_MS, 0.5), "{canary:?}");
    assert!(close(stable.p95_ms, STABLE_P95_MS, 0.5), "{stable:?}");
    // 100 requests a second, one step a second.
    assert_eq!(canary.requests, Some(100), "{canary:?}");
    Ok(())
}
