//! `Logs` on CloudWatch Logs: the awslogs streams of the tasks followed. The
//! first read (and one after any change of streams) is FilterLogEvents
//! (paged, interleaved by time) from a little before the newest line seen;
//! then a StartLiveTail session pushes new lines into a buffer that each
//! read drains. Where the endpoint does not offer live tail (or it fails),
//! every read polls. Lines are told apart by (time, stream, message), the
//! same for both paths, so the cursor drops any line given before. A stream
//! is `prefix/container/task-id`; the container is the one whose awslogs
//! group is the configured `log_group` — the one serving traffic (with port
//! mappings) when sidecars log there too — read once per task definition
//! with DescribeTaskDefinition.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::error;
use crate::core::model::{LogLine, SourceError, Time};
use crate::sources::{LogCursor, LogTask, Logs};

/// How far back the first read looks.
const FIRST_READ: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// Pages per read: the rest comes at the next read (the cursor resumes).
const MAX_PAGES: usize = 5;
/// FilterLogEvents takes at most this many stream names.
const STREAMS_PER_CALL: usize = 100;

/// A live tail session: the streams it tails, what it has pushed, and
/// whether it has ended.
struct Live {
    streams: Vec<String>,
    buffer: Arc<Mutex<Vec<(String, LogLine)>>>,
    ended: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How lines are told apart on both paths (a live event has no event id).
fn line_key(stream: &str, message: &str) -> String {
    format!("{stream}\u{0}{message}")
}

/// With a custom endpoint (LocalStack, moto) StartLiveTail's `stream-` host
/// prefix names a host that does not exist: take it off.
#[derive(Debug)]
struct NoHostPrefix;

impl aws_sdk_cloudwatchlogs::config::Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_sdk_cloudwatchlogs::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _components: &aws_sdk_cloudwatchlogs::config::RuntimeComponents,
        _cfg: &mut aws_sdk_cloudwatchlogs::config::ConfigBag,
    ) -> Result<(), aws_sdk_cloudwatchlogs::error::BoxError> {
        let request = context.request_mut();
        if request.uri().contains("://stream-") {
            let uri = request.uri().replacen("://stream-", "://", 1);
            request.set_uri(uri)?;
        }
        Ok(())
    }
}

/// Where a read cut at the page limit goes on: (its streams, its start in
/// ms, the next token).
type Resume = (Vec<String>, i64, String);

pub struct AwsLogs {
    logs: aws_sdk_cloudwatchlogs::Client,
    ecs: aws_sdk_ecs::Client,
    log_group: String,
    tasks: Mutex<Vec<LogTask>>,
    /// task definition → (stream prefix, container), or None when none of
    /// its containers logs to `log_group`.
    streams: Mutex<HashMap<String, Option<(String, String)>>>,
    /// The live tail session, when one runs.
    live: Mutex<Option<Live>>,
    /// Why live tail is not used (None: it is tried).
    no_live: Mutex<Option<String>>,
    /// The log group's ARN (live tail needs it).
    group_arn: Mutex<Option<String>>,
    /// Reads cut at the page limit, by chunk of streams: (the streams, the
    /// start in ms, the next token).
    resume: Mutex<HashMap<usize, Resume>>,
    /// Events per page (None: the service's default, 10,000).
    page_size: Option<i32>,
    pub calls: Arc<AtomicU64>,
}

impl AwsLogs {
    pub fn new(config: &aws_config::SdkConfig, log_group: String) -> AwsLogs {
        let mut logs_config = aws_sdk_cloudwatchlogs::config::Builder::from(config);
        if config.endpoint_url().is_some() {
            logs_config = logs_config.interceptor(NoHostPrefix);
        }
        AwsLogs {
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs_config.build()),
            ecs: aws_sdk_ecs::Client::new(config),
            log_group,
            tasks: Mutex::new(Vec::new()),
            streams: Mutex::new(HashMap::new()),
            live: Mutex::new(None),
            no_live: Mutex::new(None),
            group_arn: Mutex::new(None),
            resume: Mutex::new(HashMap::new()),
            page_size: None,
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Smaller pages (tests of the page limit).
    pub fn with_page_size(mut self, events: i32) -> Self {
        self.page_size = Some(events.max(1));
        self
    }

    /// Polling only (no live tail): tests of the polling path.
    pub fn polling_only(self) -> Self {
        if let Ok(mut n) = self.no_live.lock() {
            *n = Some("polling only".into());
        }
        self
    }

    /// How lines come: "live tail", or "polling" with why.
    pub fn mode(&self) -> String {
        match self.no_live.lock().ok().and_then(|n| n.clone()) {
            Some(why) => format!("polling ({why})"),
            None if self.live.lock().is_ok_and(|l| l.is_some()) => "live tail".into(),
            None => "polling".into(),
        }
    }

    async fn group_arn(&self) -> Result<String, SourceError> {
        if let Some(arn) = self.group_arn.lock().ok().and_then(|a| a.clone()) {
            return Ok(arn);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = self
            .logs
            .describe_log_groups()
            .log_group_name_prefix(&self.log_group)
            .send()
            .await
            .map_err(|e| error("logs:DescribeLogGroups", &self.log_group, e))?;
        let arn = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(self.log_group.as_str()))
            .and_then(|g| {
                g.log_group_arn()
                    .map(str::to_string)
                    .or_else(|| g.arn().map(|a| a.trim_end_matches(":*").to_string()))
            })
            .ok_or_else(|| {
                SourceError::of_kind(
                    crate::core::model::ErrorKind::NotFound,
                    format!("log group {} not found", self.log_group),
                )
                .with_hint("check log_group of this service in the config")
            })?;
        if let Ok(mut a) = self.group_arn.lock() {
            *a = Some(arn.clone());
        }
        Ok(arn)
    }

    /// Start a live tail session on these streams; on failure, polling
    /// serves from now on (and says why).
    async fn start_live(&self, streams: &[(String, String)]) {
        let names: Vec<String> = streams
            .iter()
            .take(STREAMS_PER_CALL)
            .map(|(s, _)| s.clone())
            .collect();
        let short_of: HashMap<String, String> = streams.iter().cloned().collect();
        let arn = match self.group_arn().await {
            Ok(arn) => arn,
            Err(e) => return self.give_up_live(e.to_string()),
        };
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = self
            .logs
            .start_live_tail()
            .log_group_identifiers(arn)
            .set_log_stream_names(Some(names.clone()))
            .send()
            .await;
        let mut out = match out {
            Ok(out) => out,
            Err(e) => {
                let e = error("logs:StartLiveTail", &self.log_group, e);
                return self.give_up_live(e.to_string());
            }
        };
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(AtomicBool::new(false));
        let (b, done) = (buffer.clone(), ended.clone());
        let task = tokio::spawn(async move {
            use aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream as Event;
            while let Ok(Some(event)) = out.response_stream.recv().await {
                let Event::SessionUpdate(update) = event else {
                    continue;
                };
                let Ok(mut buf) = b.lock() else { break };
                for e in update.session_results() {
                    let (Some(ms), Some(stream)) = (e.timestamp(), e.log_stream_name()) else {
                        continue;
                    };
                    let Some(at) = Time::from_timestamp_millis(ms) else {
                        continue;
                    };
                    let message = e.message().unwrap_or_default();
                    let task = short_of
                        .get(stream)
                        .cloned()
                        .unwrap_or_else(|| stream.to_string());
                    buf.push((
                        line_key(stream, message),
                        LogLine {
                            at,
                            task,
                            text: message.to_string(),
                        },
                    ));
                }
            }
            done.store(true, Ordering::Relaxed);
        });
        if let Ok(mut live) = self.live.lock() {
            *live = Some(Live {
                streams: names,
                buffer,
                ended,
                task,
            });
        }
    }

    fn give_up_live(&self, why: String) {
        if let Ok(mut n) = self.no_live.lock() {
            *n = Some(why);
        }
    }

    /// What the live session pushed since the last read, if it still runs
    /// on these streams; None when a poll is needed (no session, other
    /// streams, or it ended).
    fn drain_live(&self, streams: &[(String, String)]) -> Option<Vec<(String, LogLine)>> {
        let names: Vec<String> = streams
            .iter()
            .take(STREAMS_PER_CALL)
            .map(|(s, _)| s.clone())
            .collect();
        let mut live = self.live.lock().ok()?;
        let session = live.as_ref()?;
        if session.streams != names || session.ended.load(Ordering::Relaxed) {
            *live = None;
            return None;
        }
        let lines = session
            .buffer
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .ok()?;
        Some(lines)
    }

    pub fn with_counter(mut self, calls: Arc<AtomicU64>) -> Self {
        self.calls = calls;
        self
    }

    /// The stream prefix and container of a task definition's container
    /// that logs to `log_group` (cached).
    async fn stream_of(
        &self,
        task_definition: &str,
    ) -> Result<Option<(String, String)>, SourceError> {
        if let Some(known) = self
            .streams
            .lock()
            .ok()
            .and_then(|s| s.get(task_definition).cloned())
        {
            return Ok(known);
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .send()
            .await
            .map_err(|e| error("ecs:DescribeTaskDefinition", task_definition, e))?;
        let containers = out
            .task_definition()
            .map(|td| td.container_definitions())
            .unwrap_or_default();
        let mut candidates: Vec<(bool, String, String)> = Vec::new();
        for c in containers {
            let Some(conf) = c.log_configuration() else {
                continue;
            };
            if conf.log_driver().as_str() != "awslogs" {
                continue;
            }
            let options = conf.options();
            if options
                .and_then(|o| o.get("awslogs-group"))
                .map(String::as_str)
                != Some(self.log_group.as_str())
            {
                continue;
            }
            let Some(prefix) = options.and_then(|o| o.get("awslogs-stream-prefix")) else {
                continue;
            };
            let serves = !c.port_mappings().is_empty();
            candidates.push((
                serves,
                prefix.clone(),
                c.name().unwrap_or_default().to_string(),
            ));
        }
        // The container that serves traffic first; else the first one.
        candidates.sort_by_key(|(serves, _, _)| !serves);
        let found = candidates.into_iter().next().map(|(_, p, c)| (p, c));
        if let Ok(mut s) = self.streams.lock() {
            s.insert(task_definition.to_string(), found.clone());
        }
        Ok(found)
    }
}

#[async_trait]
impl Logs for AwsLogs {
    async fn read(&self, mut cursor: LogCursor) -> Result<(Vec<LogLine>, LogCursor), SourceError> {
        let tasks = self.tasks.lock().map(|t| t.clone()).unwrap_or_default();
        // Stream name → short task id for the pane.
        let mut streams: Vec<(String, String)> = Vec::new();
        for task in &tasks {
            if let Some((prefix, container)) = self.stream_of(&task.task_definition).await? {
                let short = task.id.get(..8).unwrap_or(&task.id).to_string();
                streams.push((format!("{prefix}/{container}/{}", task.id), short));
            }
        }
        if streams.is_empty() {
            return Ok((Vec::new(), cursor));
        }
        let live_wanted = self.no_live.lock().is_ok_and(|n| n.is_none());
        if live_wanted
            && cursor.start().is_some()
            && let Some(lines) = self.drain_live(&streams)
        {
            let new = cursor.take_new(lines);
            return Ok((new, cursor));
        }
        let short_of: HashMap<&str, &str> = streams
            .iter()
            .map(|(s, t)| (s.as_str(), t.as_str()))
            .collect();
        let start = cursor
            .start()
            .unwrap_or_else(|| chrono::Utc::now() - FIRST_READ);
        let mut lines = Vec::new();
        let mut caught_up = true;
        for (n, chunk) in streams.chunks(STREAMS_PER_CALL).enumerate() {
            let names: Vec<String> = chunk.iter().map(|(s, _)| s.clone()).collect();
            // A read that stopped at the page limit goes on where it
            // stopped (same streams, same start), so a busy minute cannot
            // hold the cursor in place.
            let resumed = self
                .resume
                .lock()
                .ok()
                .and_then(|mut r| r.remove(&n))
                .filter(|(same, _, _)| *same == names);
            let (start, mut token) = match resumed {
                Some((_, start_ms, token)) => (
                    Time::from_timestamp_millis(start_ms).unwrap_or(start),
                    Some(token),
                ),
                None => (start, None),
            };
            for _ in 0..MAX_PAGES {
                self.calls.fetch_add(1, Ordering::Relaxed);
                let out = self
                    .logs
                    .filter_log_events()
                    .log_group_name(&self.log_group)
                    .set_log_stream_names(Some(names.clone()))
                    .start_time(start.timestamp_millis())
                    .set_limit(self.page_size)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| error("logs:FilterLogEvents", &self.log_group, e))?;
                for event in out.events() {
                    let Some(ms) = event.timestamp() else {
                        continue;
                    };
                    let Some(at) = Time::from_timestamp_millis(ms) else {
                        continue;
                    };
                    let stream = event.log_stream_name().unwrap_or_default();
                    let task = short_of.get(stream).copied().unwrap_or(stream).to_string();
                    lines.push((
                        line_key(stream, event.message().unwrap_or_default()),
                        LogLine {
                            at,
                            task,
                            text: event.message().unwrap_or_default().to_string(),
                        },
                    ));
                }
                match out.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => {
                        token = None;
                        break;
                    }
                }
            }
            if let Some(t) = token
                && let Ok(mut r) = self.resume.lock()
            {
                r.insert(n, (names, start.timestamp_millis(), t));
                caught_up = false;
            }
        }
        let new = cursor.take_new(lines);
        // Caught up by polling: from here a live session pushes new lines.
        if live_wanted && caught_up {
            self.start_live(&streams).await;
        }
        Ok((new, cursor))
    }

    fn follow(&self, tasks: &[LogTask]) {
        if let Ok(mut t) = self.tasks.lock() {
            *t = tasks.to_vec();
        }
    }
}
