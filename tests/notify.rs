//! Telling the team, against wiremock receivers for Slack (incoming
//! webhook) and Datadog (POST /api/v1/events): a rollback from the
//! scriptable command sends exactly one started and one done message each;
//! an automatic rollback names the failing verdicts; a 429 then 200 sends
//! once; a receiver that is down never holds up the change (the journal's
//! records are all written before the failure is reported); and the
//! webhook URL and the API key appear in no file afterwards.

mod common;

use std::path::Path;
use std::time::Duration;

use flightdeck::core::msg::Msg;
use flightdeck::journal::Journal;
use flightdeck::notify::{self, Level, Settings};
use serde_json::Value;
use tokio::sync::mpsc;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const HOOK_PATH: &str = "/services/T0000/B0000/s3cr3tW3bh00kT0ken";
const DD_KEY: &str = "dd-api-key-5ecret-0123456789";

fn settings(slack: Option<String>, datadog: Option<String>, dir: &Path) -> Settings {
    Settings {
        slack_webhook: slack,
        datadog: datadog.map(|base| (base, DD_KEY.to_string())),
        min_level: Level::Info,
        service: "auth-service".into(),
        environment: "production".into(),
        version: "auth-service:42".into(),
        state_file: dir.join("journal.jsonl.notified"),
        retry_wait: Duration::from_millis(5),
    }
}

fn bodies(requests: &[Request], p: &str) -> Vec<Value> {
    requests
        .iter()
        .filter(|r| r.url.path() == p)
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect()
}

/// Every file under `dir`, as text.
fn all_files(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            text.push_str(&String::from_utf8_lossy(
                &std::fs::read(e.path()).unwrap_or_default(),
            ));
        }
    }
    text
}

/// A config for the CLI: Datadog metrics and both notification targets at
/// `uri`.
fn cli_config(dir: &Path, uri: &str) -> Result<std::path::PathBuf, std::io::Error> {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"[metrics]
provider = "datadog"
api_url = "{}"

[notify]
slack = true
datadog_events = true

[[service]]
name = "auth-service"
environment = "production"
cluster = "c"
stable_service = "s"
listener_rule_arn = "arn:aws:elasticloadbalancing:eu-west-1:1:listener-rule/app/a/b/c/d"
stable_target_group_arn = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/s/1"
[service.analysis]
error_rate_query = "e{{version:{{version}}}}"
p95_query = "p{{version:{{version}}}}"
requests_query = "r{{version:{{version}}}}"
"#,
            uri
        ),
    )?;
    Ok(config)
}

#[test]
fn a_rollback_from_the_cli_sends_one_started_and_one_done_and_no_secret_is_written() -> TestResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .and(path(HOOK_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
            .mount(&server),
    );
    rt.block_on(
        Mock::given(method("POST"))
            .and(path("/api/v1/events"))
            .and(header("DD-API-KEY", DD_KEY))
            .respond_with(ResponseTemplate::new(202).set_body_string("{\"status\":\"ok\"}"))
            .mount(&server),
    );
    let dir = tempfile::tempdir()?;
    let config = cli_config(dir.path(), &server.uri())?;
    let journal = dir.path().join("journal.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(["--config", config.to_str().unwrap_or_default()])
        .args(["--journal", journal.to_str().unwrap_or_default()])
        .args([
            "--demo",
            "--notify",
            "--service",
            "auth-service",
            "rollback",
            "--yes",
            "--reason",
            "INC-42 p95",
        ])
        .env(
            "FLIGHTDECK_SLACK_WEBHOOK",
            format!("{}{HOOK_PATH}", server.uri()),
        )
        .env("DD_API_KEY", DD_KEY)
        .stdin(std::process::Stdio::null())
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = rt.block_on(server.received_requests()).unwrap_or_default();
    let slack = bodies(&requests, HOOK_PATH);
    let titles: Vec<String> = slack
        .iter()
        .map(|b| {
            b["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        titles,
        [
            "rollback started: auth-service",
            "rollback done: auth-service"
        ],
        "{slack:?}"
    );
    for b in &slack {
        let text = b["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("INC-42 p95") && text.contains("10% → 0%"),
            "{text}"
        );
        assert!(text.contains("auth-service (production)"), "{text}");
    }
    let events = bodies(&requests, "/api/v1/events");
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["alert_type"], "success");
    let tags = events[0]["tags"].to_string();
    assert!(
        tags.contains("service:auth-service")
            && tags.contains("env:production")
            && tags.contains("source:flightdeck"),
        "{tags}"
    );
    assert_eq!(events[0]["aggregation_key"], events[1]["aggregation_key"]);
    // Sent once: the same records after a restart send nothing again.
    let kept = std::fs::read_to_string(dir.path().join("journal.jsonl.notified"))?;
    assert_eq!(kept.lines().count(), 2, "{kept}");
    // No secret in any file the run left.
    let files = all_files(dir.path());
    assert!(!files.contains("s3cr3tW3bh00kT0ken") && !files.contains(DD_KEY));
    Ok(())
}

async fn spawn_with(
    settings: Settings,
) -> (
    notify::Sender,
    tokio::task::JoinHandle<()>,
    mpsc::UnboundedReceiver<Msg>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (sender, handle) = notify::spawn(settings, tx);
    (sender, handle, rx)
}

#[tokio::test(flavor = "current_thread")]
async fn a_429_then_200_sends_once() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir()?;
    let (sender, handle, mut reports) = spawn_with(settings(
        Some(format!("{}{HOOK_PATH}", server.uri())),
        None,
        dir.path(),
    ))
    .await;
    let mut h = common::Harness::new("good", common::tuesday(), false);
    h.change('R', "INC-1");
    let journal = Journal::open(&dir.path().join("journal.jsonl"))?.with_notify(sender);
    let mut journal = journal;
    for r in h
        .records()
        .iter()
        .filter(|r| r.action == "rollback" && r.step.is_none())
        .take(1)
    {
        journal.append(r)?;
    }
    drop(journal);
    tokio::time::timeout(Duration::from_secs(20), handle).await??;
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(2));
    assert!(
        reports.try_recv().is_err(),
        "a delivered notification was reported as failed"
    );
    server.verify().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_receiver_that_is_down_never_holds_up_the_journal() -> TestResult {
    // Nobody listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = tempfile::tempdir()?;
    let (sender, handle, mut reports) = spawn_with(settings(
        Some(format!("http://127.0.0.1:{port}{HOOK_PATH}")),
        None,
        dir.path(),
    ))
    .await;
    let mut h = common::Harness::new("good", common::tuesday(), false);
    h.change('R', "INC-1");
    let start = h
        .records()
        .into_iter()
        .find(|r| r.action == "rollback" && r.step.is_none())
        .ok_or("no rollback record")?;
    // 300 changes journaled while the notifier cannot send (and, with this
    // thread blocked, cannot even run): every append returns at once; what
    // does not fit the queue is counted, never waited for.
    let path = dir.path().join("journal.jsonl");
    let mut journal = Journal::open(&path)?.with_notify(sender);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        for n in 0..300 {
            let mut r = start.clone();
            r.change = Some(format!("c-{n}"));
            if journal.append(&r).is_err() {
                break;
            }
        }
        drop(journal);
        let _ = done_tx.send(());
    });
    assert!(
        done_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "appending waited on the notifier"
    );
    let _ = writer.join();
    assert_eq!(std::fs::read_to_string(&path)?.lines().count(), 300);
    tokio::time::timeout(Duration::from_secs(120), handle).await??;
    let mut failed = 0;
    let mut full = Vec::new();
    while let Ok(Msg::NotifyFailed(text)) = reports.try_recv() {
        assert!(!text.contains("s3cr3t"), "{text}");
        if text.contains("queue was full") {
            full.push(text);
        } else if text.contains("dropped after") {
            failed += 1;
        }
    }
    assert_eq!(full, ["44 notifications dropped: the queue was full"]);
    assert_eq!(failed, notify::QUEUE);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn an_automatic_rollback_names_the_failing_verdicts() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir()?;
    let (sender, handle, _reports) = spawn_with(settings(
        Some(format!("{}{HOOK_PATH}", server.uri())),
        None,
        dir.path(),
    ))
    .await;
    let mut h = common::Harness::new("bad-canary", common::sunday(), false);
    h.change_and_wait(']', "hotfix INC-7", 120);
    h.run_for(120);
    let mut journal = Journal::open(&dir.path().join("journal.jsonl"))?.with_notify(sender);
    for r in h.records() {
        journal.append(&r)?;
    }
    drop(journal);
    tokio::time::timeout(Duration::from_secs(20), handle).await??;
    let requests = server.received_requests().await.unwrap_or_default();
    let slack = bodies(&requests, HOOK_PATH);
    let auto = slack
        .iter()
        .find(|b| {
            b["blocks"][0]["text"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Automatic rollback started"))
        })
        .ok_or_else(|| format!("no automatic rollback message in {slack:?}"))?;
    let text = auto["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("analysis failed 2 intervals") && text.contains("error rate"),
        "{text}"
    );
    // The verdict change went out too (pass → fail), once.
    let verdicts = slack
        .iter()
        .filter(|b| {
            b["text"]
                .as_str()
                .is_some_and(|t| t.contains("Canary analysis pass → fail"))
        })
        .count();
    assert_eq!(verdicts, 1, "{slack:?}");
    Ok(())
}

/// A receiver that refuses and quotes what the request carried: the URL it
/// was posted to, its path, and Datadog's key header.
struct EchoSecrets(u16);

impl wiremock::Respond for EchoSecrets {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let key = req
            .headers
            .get("DD-API-KEY")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        ResponseTemplate::new(self.0).set_body_string(format!(
            "invalid_token: POST {} (path {}) key {key}",
            req.url,
            req.url.path()
        ))
    }
}

/// Only these tests use these: the notifier must register them itself.
const ECHO_HOOK_PATH: &str = "/services/T0000/B0000/echoW3bh00kS3cret";
const ECHO_DD_KEY: &str = "dd-api-key-echo-9876543210";

#[tokio::test(flavor = "current_thread")]
async fn refusals_that_echo_the_webhook_and_key_never_reach_a_report() -> TestResult {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ECHO_HOOK_PATH))
        .respond_with(EchoSecrets(403))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/events"))
        .and(header("DD-API-KEY", ECHO_DD_KEY))
        .respond_with(EchoSecrets(500))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir()?;
    let mut s = settings(
        Some(format!("{}{ECHO_HOOK_PATH}", server.uri())),
        Some(server.uri()),
        dir.path(),
    );
    s.datadog = Some((server.uri(), ECHO_DD_KEY.to_string()));
    let (sender, handle, mut reports) = spawn_with(s).await;
    let mut h = common::Harness::new("good", common::tuesday(), false);
    h.change('R', "INC-1");
    let start = h
        .records()
        .into_iter()
        .find(|r| r.action == "rollback" && r.step.is_none())
        .ok_or("no rollback record")?;
    let mut journal = Journal::open(&dir.path().join("journal.jsonl"))?.with_notify(sender);
    journal.append(&start)?;
    drop(journal);
    tokio::time::timeout(Duration::from_secs(20), handle).await??;
    let mut texts = Vec::new();
    while let Ok(Msg::NotifyFailed(text)) = reports.try_recv() {
        texts.push(text);
    }
    assert_eq!(texts.len(), 2, "{texts:?}");
    for text in &texts {
        assert!(
            !text.contains("echoW3bh00kS3cret")
                && !text.contains("B0000")
                && !text.contains(ECHO_DD_KEY),
            "{text}"
        );
    }
    // The receivers did echo: what they said is there, scrubbed.
    assert!(
        texts.iter().any(|t| t.contains("Slack: HTTP 403")
            // wiremock writes the URL with its own host name.
            && t.contains("invalid_token: POST http://localhost[redacted] (path [redacted])")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Datadog: HTTP 500") && t.contains("key [redacted]")),
        "{texts:?}"
    );
    Ok(())
}

/// The whole way, through the binary: the webhook and key read from the
/// environment, both receivers refusing and quoting them; stderr, stdout
/// and every file the run left are free of them.
#[test]
fn a_cli_rollback_whose_receivers_echo_the_secrets_never_prints_them() -> TestResult {
    const HOOK: &str = "/services/T0000/B0000/cliEchoW3bh00kS3cret";
    const KEY: &str = "dd-api-key-cli-echo-13579bdf";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .respond_with(EchoSecrets(403))
            .mount(&server),
    );
    let dir = tempfile::tempdir()?;
    let config = cli_config(dir.path(), &server.uri())?;
    let journal = dir.path().join("journal.jsonl");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(["--config", config.to_str().unwrap_or_default()])
        .args(["--journal", journal.to_str().unwrap_or_default()])
        .args([
            "--demo",
            "--notify",
            "--service",
            "auth-service",
            "rollback",
            "--yes",
            "--reason",
            "INC-43",
        ])
        .env(
            "FLIGHTDECK_SLACK_WEBHOOK",
            format!("{}{HOOK}", server.uri()),
        )
        .env("DD_API_KEY", KEY)
        .stdin(std::process::Stdio::null())
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Both receivers refused and echoed: the failures are said, scrubbed.
    assert!(
        stderr.contains("Slack: HTTP 403") && stderr.contains("(path [redacted])"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Datadog: HTTP 403") && stderr.contains("key [redacted]"),
        "{stderr}"
    );
    let everything = format!(
        "{stderr}{}{}",
        String::from_utf8_lossy(&out.stdout),
        all_files(dir.path())
    );
    assert!(
        !everything.contains("cliEchoW3bh00kS3cret") && !everything.contains(KEY),
        "{everything}"
    );
    Ok(())
}
