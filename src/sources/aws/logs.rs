//! `Logs` on CloudWatch Logs: the awslogs streams of the tasks followed,
//! read with FilterLogEvents (paged, interleaved by time) from a little
//! before the newest line seen; the cursor drops lines already given, by
//! event id. A stream is `prefix/container/task-id`; the container is the
//! one whose awslogs group is the configured `log_group` — the one serving
//! traffic (with port mappings) when sidecars log there too — read once per
//! task definition with DescribeTaskDefinition.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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

pub struct AwsLogs {
    logs: aws_sdk_cloudwatchlogs::Client,
    ecs: aws_sdk_ecs::Client,
    log_group: String,
    tasks: Mutex<Vec<LogTask>>,
    /// task definition → (stream prefix, container), or None when none of
    /// its containers logs to `log_group`.
    streams: Mutex<HashMap<String, Option<(String, String)>>>,
    pub calls: Arc<AtomicU64>,
}

impl AwsLogs {
    pub fn new(config: &aws_config::SdkConfig, log_group: String) -> AwsLogs {
        AwsLogs {
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            log_group,
            tasks: Mutex::new(Vec::new()),
            streams: Mutex::new(HashMap::new()),
            calls: Arc::new(AtomicU64::new(0)),
        }
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
        let short_of: HashMap<&str, &str> = streams
            .iter()
            .map(|(s, t)| (s.as_str(), t.as_str()))
            .collect();
        let start = cursor
            .start()
            .unwrap_or_else(|| chrono::Utc::now() - FIRST_READ);
        let mut lines = Vec::new();
        for chunk in streams.chunks(STREAMS_PER_CALL) {
            let names: Vec<String> = chunk.iter().map(|(s, _)| s.clone()).collect();
            let mut token: Option<String> = None;
            for _ in 0..MAX_PAGES {
                self.calls.fetch_add(1, Ordering::Relaxed);
                let out = self
                    .logs
                    .filter_log_events()
                    .log_group_name(&self.log_group)
                    .set_log_stream_names(Some(names.clone()))
                    .start_time(start.timestamp_millis())
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| error("logs:FilterLogEvents", &self.log_group, e))?;
                for event in out.events() {
                    let (Some(id), Some(ms)) = (event.event_id(), event.timestamp()) else {
                        continue;
                    };
                    let Some(at) = Time::from_timestamp_millis(ms) else {
                        continue;
                    };
                    let stream = event.log_stream_name().unwrap_or_default();
                    let task = short_of.get(stream).copied().unwrap_or(stream).to_string();
                    lines.push((
                        id.to_string(),
                        LogLine {
                            at,
                            task,
                            text: event.message().unwrap_or_default().to_string(),
                        },
                    ));
                }
                match out.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => break,
                }
            }
        }
        let new = cursor.take_new(lines);
        Ok((new, cursor))
    }

    fn follow(&self, tasks: &[LogTask]) {
        if let Ok(mut t) = self.tasks.lock() {
            *t = tasks.to_vec();
        }
    }
}
