//! Telling the team: the journal records that matter go to Slack (an
//! incoming webhook: `blocks` with a plain `text` fallback) and to Datadog
//! events (`POST /api/v1/events`). The journal hands each record it wrote
//! to a bounded queue (never blocking a change); one task drains it,
//! retrying with backoff (429 / Retry-After honoured), and reports a
//! notification dropped after its retries in the Journal pane. Keys of what
//! was sent are kept beside the journal, so a restart sends nothing twice.
//! The webhook URL and the API key never reach a message, the screen or a
//! file.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::core::effect::JournalRecord;
use crate::core::msg::Msg;
use crate::sources::metrics::clean;

/// Records waiting to be sent at most; more are dropped (and counted).
pub const QUEUE: usize = 256;
/// Attempts per notification and target.
const ATTEMPTS: u32 = 4;
/// Keys of sent notifications kept (the newest).
const KEPT_KEYS: usize = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "info" => Some(Level::Info),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            _ => None,
        }
    }
}

/// Where and what to send, checked at start.
#[derive(Clone)]
pub struct Settings {
    /// The Slack incoming webhook (from the environment; never shown).
    pub slack_webhook: Option<String>,
    /// Datadog's API base and key (shared with the metrics provider).
    pub datadog: Option<(String, String)>,
    pub min_level: Level,
    pub service: String,
    pub environment: String,
    /// The release (`family:revision`) for tags and aggregation.
    pub version: String,
    /// Keys of what was sent, beside the journal.
    pub state_file: PathBuf,
    /// The first wait between tries (doubling, at most a minute).
    pub retry_wait: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("slack", &self.slack_webhook.is_some())
            .field("datadog", &self.datadog.is_some())
            .field("min_level", &self.min_level)
            .finish_non_exhaustive()
    }
}

/// One notification: what the team reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Same key, same notification: sent once, across restarts.
    pub key: String,
    pub level: Level,
    /// success / info / warning / error (Datadog's alert_type).
    pub alert: &'static str,
    pub title: String,
    pub fields: Vec<(String, String)>,
}

fn is_change(action: &str) -> bool {
    matches!(
        action,
        "set_weight" | "promote" | "rollback" | "approve" | "reject" | "continue"
    )
}

/// The notification a journal record deserves, if any: a change started,
/// done or failed; a hold; a verdict change; a stale source; pause and
/// resume. Step records, baselines and acknowledgements are not.
pub fn notice_for(record: &JournalRecord, environment: &str) -> Option<Notice> {
    if record.step.is_some() {
        return None;
    }
    let who = if record.automatic {
        "automatic".to_string()
    } else {
        record.operator.clone()
    };
    let mut fields = vec![
        (
            "Service".to_string(),
            format!("{} ({environment})", record.service),
        ),
        (
            "From → to".to_string(),
            format!("{} → {}", record.from, record.to),
        ),
        ("By".to_string(), who),
    ];
    if let Some(reason) = &record.reason {
        fields.push(("Reason".into(), reason.clone()));
    }
    if let Some(via) = &record.via {
        fields.push(("Via".into(), via.clone()));
    }
    let action = record.action.as_str();
    // Keys name the service by its AWS identity (older records: its name).
    let service = record.identity.as_deref().unwrap_or(&record.service);
    let change = record.change.clone().unwrap_or_else(|| record.time.clone());
    let (key, level, alert, title) = if is_change(action) {
        if !record.request_ids.is_empty() {
            fields.push(("Request ids".into(), record.request_ids.join(", ")));
        }
        if !record.steps.is_empty() && record.result != "started" {
            fields.push(("Steps".into(), record.steps.join("\n")));
        }
        let name = action.replace('_', " ");
        match record.result.as_str() {
            "started" => {
                let auto_rollback = action == "rollback" && record.automatic;
                (
                    format!("{change}:started"),
                    if auto_rollback {
                        Level::Error
                    } else {
                        Level::Info
                    },
                    if auto_rollback { "error" } else { "info" },
                    if auto_rollback {
                        format!("Automatic rollback started: {}", record.service)
                    } else {
                        format!("{name} started: {}", record.service)
                    },
                )
            }
            "ok" => (
                format!("{change}:end"),
                // The end of an automatic rollback reaches whoever heard
                // its start.
                if action == "rollback" && record.automatic {
                    Level::Error
                } else {
                    Level::Info
                },
                "success",
                format!("{name} done: {}", record.service),
            ),
            other if other.starts_with("partial") => {
                fields.push(("Result".into(), other.to_string()));
                (
                    format!("{change}:end"),
                    Level::Warning,
                    "warning",
                    format!("{name} partly done: {}", record.service),
                )
            }
            other if other.starts_with("stopped") => {
                fields.push(("Result".into(), other.to_string()));
                (
                    format!("{change}:end"),
                    Level::Warning,
                    "warning",
                    format!("{name} stopped: {}", record.service),
                )
            }
            other => {
                fields.push(("Result".into(), other.to_string()));
                (
                    format!("{change}:end"),
                    Level::Error,
                    "error",
                    format!("{name} FAILED: {}", record.service),
                )
            }
        }
    } else {
        match action {
            "hold" => (
                format!("hold:{service}:{}:{}", record.from, record.to),
                Level::Warning,
                "warning",
                format!("Plan held at {}: {}", record.from, record.service),
            ),
            "verdict" => {
                let (level, alert) = match record.to.as_str() {
                    "fail" => (Level::Error, "error"),
                    "inconclusive" => (Level::Warning, "warning"),
                    _ => (Level::Info, "success"),
                };
                (
                    format!("verdict:{service}:{}", record.time),
                    level,
                    alert,
                    format!(
                        "Canary analysis {} → {}: {}",
                        record.from, record.to, record.service
                    ),
                )
            }
            "stale" => (
                format!("stale:{service}:{}:{}", record.from, record.time),
                Level::Warning,
                "warning",
                format!("{} data stale: {}", record.from, record.service),
            ),
            "pause" | "resume" => (
                format!("{action}:{service}:{}", record.time),
                Level::Info,
                "info",
                format!("Automation {action}d: {}", record.service),
            ),
            _ => return None,
        }
    };
    Some(Notice {
        key,
        level,
        alert,
        title,
        fields,
    })
}

/// Slack's `&`, `<` and `>` are markup: escaped in what comes from outside.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Slack message: a header, the fields, and the plain text fallback.
pub fn slack_body(n: &Notice) -> Value {
    let fallback = std::iter::once(n.title.clone())
        .chain(n.fields.iter().map(|(k, v)| format!("{k}: {v}")))
        .collect::<Vec<_>>()
        .join(" · ");
    let fields: Vec<Value> = n
        .fields
        .iter()
        .take(10)
        .map(|(k, v)| {
            json!({"type": "mrkdwn", "text": format!("*{}*\n{}", k, crate::text::cut_chars(&slack_escape(v), 1_900))})
        })
        .collect();
    json!({
        "text": crate::text::cut_chars(&slack_escape(&fallback), 3_000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": crate::text::cut_chars(&n.title, 150)}},
            {"type": "section", "fields": fields},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "sent by flightdeck"}]}
        ]
    })
}

/// The Datadog event.
pub fn datadog_body(n: &Notice, s: &Settings) -> Value {
    let text = n
        .fields
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("\n");
    json!({
        "title": crate::text::cut_chars(&n.title, 100),
        "text": crate::text::cut_chars(&text, 3_900),
        "tags": [
            format!("service:{}", s.service),
            format!("env:{}", s.environment),
            format!("version:{}", s.version),
            "source:flightdeck",
        ],
        "alert_type": n.alert,
        "aggregation_key": format!("flightdeck:{}:{}", s.service, s.version),
        "source_type_name": "flightdeck",
    })
}

/// The handle the journal hands records to.
#[derive(Clone)]
pub struct Sender {
    tx: mpsc::Sender<Notice>,
    dropped: Arc<AtomicU64>,
    environment: String,
    version: String,
    min_level: Level,
}

impl Sender {
    /// Queue the record's notification, if it deserves one; never waits (a
    /// full queue drops it, counted and reported).
    pub fn offer(&self, record: &JournalRecord) {
        let Some(mut notice) = notice_for(record, &self.environment) else {
            return;
        };
        if notice.level < self.min_level {
            return;
        }
        if record.action == "hold" {
            // Once per hold: the same hold of the same release on the same
            // day is one notification, across restarts.
            notice.key = format!(
                "{}:{}:{}",
                notice.key,
                self.version,
                record.time.get(..10).unwrap_or_default()
            );
        }
        if self.tx.try_send(notice).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// How long the end of a session waits for queued notifications.
pub const DRAIN: Duration = Duration::from_secs(10);

/// Start the sending task; failures are reported to the core as
/// `Msg::NotifyFailed`. The task ends when every `Sender` is gone and the
/// queue is drained: await its handle (bounded by `DRAIN`) before exiting.
pub fn spawn(
    settings: Settings,
    report: mpsc::UnboundedSender<Msg>,
) -> (Sender, tokio::task::JoinHandle<()>) {
    // Registered where they are read too; here for settings built
    // otherwise (tests, embedders).
    if let Some(url) = &settings.slack_webhook {
        crate::secrets::register_url(url);
    }
    if let Some((_, key)) = &settings.datadog {
        crate::secrets::register(key);
    }
    let (tx, mut rx) = mpsc::channel::<Notice>(QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    let counter = dropped.clone();
    let sender = Sender {
        tx,
        dropped,
        environment: settings.environment.clone(),
        version: settings.version.clone(),
        min_level: settings.min_level,
    };
    let handle = tokio::spawn(async move {
        let http = match crate::sources::metrics::client(Duration::from_secs(10)) {
            Ok(h) => h,
            Err(e) => {
                let _ = report.send(Msg::NotifyFailed(format!("notifications off: {e}")));
                return;
            }
        };
        let path = settings.state_file.clone();
        let mut sent = tokio::task::spawn_blocking(move || load_keys(&path))
            .await
            .unwrap_or_default();
        let report_lost = |report: &mpsc::UnboundedSender<Msg>| {
            let lost = counter.swap(0, Ordering::Relaxed);
            if lost > 0 {
                let _ = report.send(Msg::NotifyFailed(format!(
                    "{lost} notifications dropped: the queue was full"
                )));
            }
        };
        while let Some(notice) = rx.recv().await {
            report_lost(&report);
            if sent.contains(&notice.key) {
                continue;
            }
            // Both targets at once: a slow one does not hold up the other.
            let slack = async {
                match &settings.slack_webhook {
                    Some(url) => {
                        deliver(&http, url, None, &slack_body(&notice), settings.retry_wait)
                            .await
                            .map_err(|e| format!("Slack: {e}"))
                    }
                    None => Ok(()),
                }
            };
            let datadog = async {
                match &settings.datadog {
                    Some((base, key)) => deliver(
                        &http,
                        &format!("{base}/api/v1/events"),
                        Some(key),
                        &datadog_body(&notice, &settings),
                        settings.retry_wait,
                    )
                    .await
                    .map_err(|e| format!("Datadog: {e}")),
                    None => Ok(()),
                }
            };
            let (a, b) = tokio::join!(slack, datadog);
            let failures: Vec<String> = [a, b].into_iter().filter_map(Result::err).collect();
            for f in &failures {
                let _ = report.send(Msg::NotifyFailed(format!(
                    "notification \"{}\" dropped after {ATTEMPTS} tries: {f}",
                    notice.title
                )));
            }
            let write = remember(&mut sent, &notice.key);
            write_keys(&settings.state_file, write).await;
        }
        report_lost(&report);
    });
    (sender, handle)
}

/// Wait (at most `DRAIN`) for the notifier to send what is queued.
pub async fn drain(handle: Option<tokio::task::JoinHandle<()>>) {
    if let Some(h) = handle
        && tokio::time::timeout(DRAIN, h).await.is_err()
    {
        eprintln!(
            "flightdeck: notifications still queued after {}s were not sent",
            DRAIN.as_secs()
        );
    }
}

/// POST with retries: 429 and 5xx back off (Retry-After honoured, at most a
/// minute), other refusals end at once. Errors never carry the URL or key.
async fn deliver(
    http: &reqwest::Client,
    url: &str,
    dd_key: Option<&str>,
    body: &Value,
    first_wait: Duration,
) -> Result<(), String> {
    let mut wait = first_wait;
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        let mut request = http
            .post(url)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(key) = dd_key {
            let mut value = reqwest::header::HeaderValue::from_str(key)
                .map_err(|_| "DD_API_KEY has characters a header cannot carry".to_string())?;
            value.set_sensitive(true);
            request = request.header("DD-API-KEY", value);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                let retry_after = crate::sources::metrics::retry_after(response.headers());
                let said = clean(&response.text().await.unwrap_or_default());
                last = format!("HTTP {status} {said}").trim().to_string();
                let retry = status.as_u16() == 429 || status.is_server_error();
                if !retry {
                    return Err(last);
                }
                if let Some(asked) = retry_after {
                    wait = asked.min(Duration::from_secs(60));
                }
            }
            Err(e) => last = clean(&e.without_url().to_string()),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(60));
        }
    }
    Err(last)
}

fn load_keys(path: &PathBuf) -> VecDeque<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Keep the key in memory (the newest `KEPT_KEYS`); returns what to write
/// to the file of sent keys: the whole list when it was cut (true), else
/// the new key to append (false).
fn remember(sent: &mut VecDeque<String>, key: &str) -> (bool, String) {
    sent.push_back(key.to_string());
    if sent.len() > KEPT_KEYS {
        while sent.len() > KEPT_KEYS / 2 {
            sent.pop_front();
        }
        (true, sent.iter().map(|k| format!("{k}\n")).collect())
    } else {
        (false, format!("{key}\n"))
    }
}

/// Write what `remember` returned, on the blocking pool (a slow disk
/// never holds up the loop).
async fn write_keys(path: &std::path::Path, (truncate, text): (bool, String)) {
    use std::os::unix::fs::OpenOptionsExt;
    let path = path.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || {
        // Only ours to write: never through a link, readable by the owner.
        std::fs::OpenOptions::new()
            .create(true)
            .append(!truncate)
            .write(true)
            .truncate(truncate)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str, result: &str, automatic: bool) -> JournalRecord {
        JournalRecord {
            time: "2026-12-01T10:30:00Z".into(),
            operator: "ana".into(),
            service: "auth-service".into(),
            identity: None,
            action: action.into(),
            from: "10%".into(),
            to: "0%".into(),
            reason: Some("p95 <script>".into()),
            result: result.into(),
            request_ids: vec!["req-1".into()],
            automatic,
            change: Some("c-1".into()),
            step: None,
            steps: Vec::new(),
            weights: None,
            via: None,
        }
    }

    #[test]
    fn changes_start_and_end_once_each_and_steps_say_nothing() {
        // An ECS-native hook continued is a change like any.
        let continued =
            notice_for(&record("continue", "ok", true), "production").map(|n| (n.title, n.level));
        assert_eq!(
            continued,
            Some((format!("continue done: {}", "auth-service"), Level::Info))
        );
        let start = notice_for(&record("rollback", "started", false), "production");
        let end = notice_for(&record("rollback", "ok", false), "production");
        assert_eq!(start.as_ref().map(|n| n.key.as_str()), Some("c-1:started"));
        assert_eq!(
            end.as_ref().map(|n| (n.key.as_str(), n.alert)),
            Some(("c-1:end", "success"))
        );
        let mut step = record("rollback", "ok", false);
        step.step = Some("1/2 set_weights".into());
        assert_eq!(notice_for(&step, "production"), None);
        assert_eq!(
            notice_for(&record("baseline", "seen", true), "production"),
            None
        );
        let auto = notice_for(&record("rollback", "started", true), "production");
        assert_eq!(
            auto.map(|n| (n.level, n.alert)),
            Some((Level::Error, "error"))
        );
    }

    #[test]
    fn slack_text_is_escaped() {
        let n = notice_for(&record("rollback", "started", false), "production");
        let body = n.map(|n| slack_body(&n)).unwrap_or_default();
        assert!(
            body["text"]
                .as_str()
                .is_some_and(|t| t.contains("&lt;script&gt;")),
            "{body}"
        );
    }
}
