//! Data the sources produce: pipeline runs, services, tasks, target health,
//! traffic weights, metric points, log lines, and the errors of a source.
//! Adapters build these; the core stores them in the model.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Wall-clock (or simulated) time, always UTC.
pub type Time = DateTime<Utc>;

/// An id the provider gave a call (AWS request id, GitHub delivery id): the
/// journal keeps them so a change can be traced in CloudTrail.
pub type RequestId = String;

/// What kind of failure a source reports: the runner and the panes act on
/// the kind, the message says the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorKind {
    /// Credentials missing, expired or lacking a permission.
    Auth,
    /// The provider asked us to slow down; retry after this long if it said.
    Throttled {
        retry_after: Option<Duration>,
    },
    NotFound,
    /// The state is not what the change expected (another tool moved it).
    Conflict,
    /// The call did not answer in time: it may or may not have happened.
    Timeout,
    /// The service could not be reached or answered 5xx.
    Unavailable,
    /// The source is not configured (no `[github]`, no `[metrics]`, no
    /// `log_group`): not a failure.
    NotConfigured,
    /// Another actor holds the service's change lease: nothing was done.
    Held,
    /// A rollback (of this or another process) took the change lease over:
    /// the change stops at this step boundary.
    Preempted,
    #[default]
    Other,
}

impl ErrorKind {
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Throttled { .. } => "throttled",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::NotConfigured => "not configured",
            ErrorKind::Held => "held",
            ErrorKind::Preempted => "preempted",
            ErrorKind::Other => "error",
        }
    }
}

/// An error from a source, as data for a pane: what failed and what to do.
/// The constructors and `Display` pass the text through
/// [`crate::secrets::scrub`]: a provider that echoes a key in its refusal
/// never gets it into a pane, the journal or JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    pub kind: ErrorKind,
    pub message: String,
    /// What the operator can do about it, e.g. "run `aws sso login`".
    pub hint: Option<String>,
    /// The provider's id of the failed call, for CloudTrail or support.
    pub request_id: Option<String>,
}

impl SourceError {
    pub fn new(message: impl Into<String>) -> Self {
        SourceError {
            kind: ErrorKind::Other,
            message: crate::secrets::scrubbed(message),
            hint: None,
            request_id: None,
        }
    }

    pub fn of_kind(kind: ErrorKind, message: impl Into<String>) -> Self {
        SourceError {
            kind,
            ..SourceError::new(message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(crate::secrets::scrubbed(hint));
        self
    }

    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(crate::secrets::scrubbed(id));
        self
    }
}

impl std::error::Error for SourceError {}

/// Scrubbed again: the fields are public, and text set on them after
/// construction (a message extended by a caller) reaches every consumer
/// that prints the error — status JSON, the journal, stderr — through here.
impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::secrets::scrub(&self.message))?;
        if let Some(hint) = &self.hint {
            write!(f, " ({})", crate::secrets::scrub(hint))?;
        }
        Ok(())
    }
}

/// Who holds (or asks for) a service's change lease: one actor changes a
/// service at a time, across processes. The core fills who and what; the
/// lease adapter adds where (host, pid) and since when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeaseHolder {
    /// The operator (or `flightdeck (analysis) for ana`).
    pub operator: String,
    /// `console` or `cli`.
    pub via: String,
    /// The change's journal id.
    pub change: String,
    /// The change's journal action: `promote`, `rollback`, ...
    pub action: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
    /// When that process started (clock ticks after boot, from
    /// /proc/PID/stat): a pid reused by another process is not the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<u64>,
    /// RFC 3339, when the lease was taken.
    #[serde(default)]
    pub since: String,
    /// RFC 3339: until when the holder's last call may still land (stamped
    /// at its lease check before each call). A rollback that takes over
    /// before then sets traffic and the canary again after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_until: Option<String>,
}

impl LeaseHolder {
    /// "ana@bastion-1 (cli, pid 4242)'s promote since 10:31:07 UTC".
    pub fn describe(&self) -> String {
        let since = self
            .since
            .get(11..19)
            .map_or(self.since.clone(), |t| format!("{t} UTC"));
        let host = if self.host.is_empty() {
            String::new()
        } else {
            format!("@{}", self.host)
        };
        format!(
            "{}{host} ({}, pid {})'s {} since {since}",
            short_operator(&self.operator),
            self.via,
            self.pid,
            self.action
        )
    }
}

impl LeaseHolder {
    /// "ana@runner-7 (drive)": who sits in the driver's seat.
    pub fn who(&self) -> String {
        let host = if self.host.is_empty() {
            String::new()
        } else {
            format!("@{}", self.host)
        };
        format!("{}{host} ({})", short_operator(&self.operator), self.via)
    }
}

/// Who, in a few characters: `arn:aws:sts::1:assumed-role/R/ana (ana)` is
/// `ana`; the automation keeps its prefix.
fn short_operator(operator: &str) -> String {
    if let Some(rest) = operator.strip_prefix("flightdeck (analysis) for ") {
        return format!("flightdeck (analysis) for {}", short_operator(rest));
    }
    if let Some(rest) = operator.strip_prefix("flightdeck (automation) for ") {
        return format!("flightdeck (automation) for {}", short_operator(rest));
    }
    if let Some(open) = operator.rfind(" (")
        && let Some(user) = operator[open + 2..].strip_suffix(')')
        && !user.is_empty()
    {
        return user.to_string();
    }
    operator.rsplit('/').next().unwrap_or(operator).to_string()
}

/// What a change got with its lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseGrant {
    /// Counts every taking of the lease: a holder whose generation is no
    /// longer the lease's has lost it.
    pub generation: u64,
    /// Whom a rollback took the lease from (still alive), if anyone.
    pub took_over: Option<LeaseHolder>,
    /// A holder that ended without giving the lease back (its process is
    /// gone), whose lease was taken as free.
    pub abandoned: Option<LeaseHolder>,
    /// A holder on the team table that stopped heart-beating: its lease
    /// expired and was taken.
    pub expired: Option<LeaseHolder>,
    /// A rollback goes on when the lease cannot be had at all (its file
    /// cannot be written, its table cannot be reached): why, said and
    /// journaled.
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    Queued,
    InProgress,
    Waiting,
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl StageStatus {
    pub fn label(self) -> &'static str {
        match self {
            StageStatus::Queued => "queued",
            StageStatus::InProgress => "in progress",
            StageStatus::Waiting => "waiting",
            StageStatus::Success => "success",
            StageStatus::Failure => "failure",
            StageStatus::Cancelled => "cancelled",
            StageStatus::Skipped => "skipped",
        }
    }

    pub fn is_done(self) -> bool {
        matches!(
            self,
            StageStatus::Success
                | StageStatus::Failure
                | StageStatus::Cancelled
                | StageStatus::Skipped
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub status: StageStatus,
    pub started_at: Option<Time>,
    pub completed_at: Option<Time>,
    /// The seed's target duration for this stage, if it has one.
    pub target: Option<Duration>,
}

impl Stage {
    /// Time spent so far (or in all, when done).
    pub fn elapsed(&self, now: Time) -> Option<Duration> {
        let start = self.started_at?;
        let end = self.completed_at.unwrap_or(now);
        (end - start).to_std().ok()
    }
}

/// A deployment waiting for review on a protected GitHub environment.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingApproval {
    /// The environment(s) waiting, names joined with ", ".
    pub environment: String,
    /// GitHub's ids of those environments (what a review posts).
    pub environment_ids: Vec<u64>,
    pub required_reviewers: u32,
    pub approvals: u32,
    pub waiting_since: Time,
    /// GitHub's `current_user_can_approve`; None when the source does not
    /// say (the demo).
    pub can_approve: Option<bool>,
    /// Who may review: user logins and team names.
    pub reviewers: Vec<String>,
}

/// GitHub's rate limit as the last answer gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    pub remaining: u32,
    pub limit: u32,
    pub reset: Time,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PipelineRun {
    pub id: u64,
    pub number: u64,
    pub workflow: String,
    pub branch: String,
    pub sha: String,
    pub author: String,
    pub message: String,
    pub started_at: Time,
    pub stages: Vec<Stage>,
    pub pending: Option<PendingApproval>,
    /// What started the run: push, workflow_dispatch, ...
    pub event: String,
    /// The run's page, to open in a browser.
    pub url: Option<String>,
    /// 1 for the first attempt; more for re-runs.
    pub attempt: u32,
    pub rate: Option<RateBudget>,
    /// The workflow's recent runs, newest first (for `:run N`).
    pub recent: Vec<RunRef>,
}

/// One of the recent runs, as the list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRef {
    pub id: u64,
    pub number: u64,
    pub attempt: u32,
    pub status: StageStatus,
    pub event: String,
}

impl PipelineRun {
    /// A stage still queued or running: the pipeline is polled faster.
    pub fn in_progress(&self) -> bool {
        self.stages
            .iter()
            .any(|s| matches!(s.status, StageStatus::InProgress | StageStatus::Queued))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Track {
    Stable,
    /// The default where one is needed (the logs follow the canary).
    #[default]
    Canary,
}

impl Track {
    pub fn label(self) -> &'static str {
        match self {
            Track::Stable => "stable",
            Track::Canary => "canary",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: String,
    pub task_definition: String,
    /// IN_PROGRESS, COMPLETED or FAILED.
    pub rollout_state: String,
    pub running: u32,
    pub pending: u32,
    pub desired: u32,
    pub created_at: Time,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInfo {
    pub name: String,
    pub track: Track,
    pub task_definition: String,
    pub running: u32,
    pub pending: u32,
    pub desired: u32,
    pub deployments: Vec<Deployment>,
}

impl ServiceInfo {
    /// The task definition that was PRIMARY before the current one: what a
    /// rollback without a canary service goes back to.
    pub fn previous_task_definition(&self) -> Option<&str> {
        self.deployments
            .iter()
            .filter(|d| d.status != "PRIMARY" && d.task_definition != self.task_definition)
            .max_by_key(|d| d.created_at)
            .map(|d| d.task_definition.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskInfo {
    pub id: String,
    pub track: Track,
    pub task_definition: String,
    pub last_status: String,
    pub health: String,
    pub az: String,
    pub started_at: Option<Time>,
    pub stopped_reason: Option<String>,
}

impl TaskInfo {
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }

    pub fn revision(&self) -> &str {
        self.task_definition
            .rsplit_once(':')
            .map_or(self.task_definition.as_str(), |(_, rev)| rev)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetHealth {
    pub track: Track,
    pub target_group: String,
    pub healthy: u32,
    pub unhealthy: u32,
    pub draining: u32,
    pub initial: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServiceEvent {
    pub id: String,
    pub at: Time,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetSnapshot {
    pub services: Vec<ServiceInfo>,
    pub tasks: Vec<TaskInfo>,
    pub targets: Vec<TargetHealth>,
    pub events: Vec<ServiceEvent>,
}

impl FleetSnapshot {
    pub fn service(&self, track: Track) -> Option<&ServiceInfo> {
        self.services.iter().find(|s| s.track == track)
    }
}

/// The two weights of the listener's forward action, as the ALB keeps them
/// (each 0–999). The console writes shares as weights that sum to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficSplit {
    pub stable: u16,
    pub canary: u16,
}

impl TrafficSplit {
    /// Weights that give the canary `pct` percent (clamped to 100).
    pub fn percent(pct: u8) -> TrafficSplit {
        let canary = u16::from(pct.min(100));
        TrafficSplit {
            stable: 100 - canary,
            canary,
        }
    }

    /// All traffic to the stable target group.
    pub const ALL_STABLE: TrafficSplit = TrafficSplit {
        stable: 100,
        canary: 0,
    };

    pub fn canary_pct(self) -> u8 {
        let total = u32::from(self.stable) + u32::from(self.canary);
        if total == 0 {
            return 0;
        }
        // Rounded share, so weights like 1/9 still read as 10 %.
        ((u32::from(self.canary) * 100 + total / 2) / total).min(100) as u8
    }
}

impl std::fmt::Display for TrafficSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stable {} / canary {}", self.stable, self.canary)
    }
}

/// The weighted forward action that splits traffic: from a listener rule
/// (ModifyRule) or a listener's default action (ModifyListener).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub stable_target_group: String,
    pub canary_target_group: String,
    pub split: TrafficSplit,
    /// Target group stickiness, when enabled.
    pub stickiness: Option<Duration>,
    /// Other target groups the action also forwards to, with their weights
    /// (ARN, weight): not ours to change, kept as they are on every write.
    pub other: Vec<(String, u16)>,
}

impl Forward {
    /// The share of all traffic, in percent (rounded), that goes to the
    /// other target groups; 0 when there are none.
    pub fn other_pct(&self) -> u8 {
        let other: u32 = self.other.iter().map(|(_, w)| u32::from(*w)).sum();
        let total = u32::from(self.split.stable) + u32::from(self.split.canary) + other;
        if total == 0 {
            return 0;
        }
        ((other * 100 + total / 2) / total).min(100) as u8
    }
}

/// One metrics point for one track over a short period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricPoint {
    pub at: Time,
    pub track: Track,
    /// Requests in the period; None when the provider reports no count
    /// (a rate query without `requests_query`).
    pub requests: Option<u64>,
    /// Error rate in percent over the period; None without requests or
    /// data (never invented).
    pub error_pct: Option<f64>,
    /// p95 latency; None when the provider has no latency for the period.
    pub p95_ms: Option<f64>,
}

impl MetricPoint {
    /// A point with nothing measured yet: adapters fill in what they have.
    pub fn empty(at: Time, track: Track) -> MetricPoint {
        MetricPoint {
            at,
            track,
            requests: None,
            error_pct: None,
            p95_ms: None,
        }
    }

    /// From counts: the error rate is None without requests.
    pub fn from_counts(at: Time, track: Track, requests: u64, errors: u64) -> MetricPoint {
        MetricPoint {
            requests: Some(requests),
            error_pct: (requests > 0).then(|| errors as f64 * 100.0 / requests as f64),
            ..MetricPoint::empty(at, track)
        }
    }
}

/// A task whose logs are followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTask {
    /// The full ECS task id (the stream name ends with it).
    pub id: String,
    /// `family:revision`: where the log configuration is.
    pub task_definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: Time,
    pub task: String,
    /// The text as received; the view makes it inert before drawing.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_never_shows_a_registered_secret_however_it_was_built() {
        let key = "source-error-secret-0123456789";
        crate::secrets::register(key);
        let built = SourceError::of_kind(ErrorKind::Auth, format!("HTTP 403: key {key}"))
            .with_hint(format!("check {key}"))
            .with_request_id(key);
        assert_eq!(built.message, "HTTP 403: key [redacted]");
        assert_eq!(built.hint.as_deref(), Some("check [redacted]"));
        assert_eq!(built.request_id.as_deref(), Some("[redacted]"));
        // Fields set after construction: Display still scrubs.
        let mut later = SourceError::new("refused");
        later.message.push_str(&format!(": {key}"));
        later.hint = Some(key.to_string());
        assert_eq!(later.to_string(), "refused: [redacted] ([redacted])");
    }
}

/// One record of the team journal (the `[team]` table), with who wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamEntry {
    /// Its sort key: entries after the last one seen are new.
    pub key: String,
    /// Who, as shown: `ana@laptop`, `ci@runner-7 (drive)`.
    pub origin: String,
    /// Which process wrote it (a console skips its own).
    pub process: String,
    pub record: crate::core::effect::JournalRecord,
}

/// The team state as this process sees it (`[team]` configured).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TeamView {
    pub table: String,
    /// This process, as the team journal names it.
    pub process: String,
    /// Why the table cannot be reached (None: it answers).
    pub unreachable: Option<String>,
    /// Who sits in the driver's seat (`flightdeck drive`, or a console
    /// that took over driving), and since when; None: nobody (every
    /// console's automation acts, the lease keeps one change at a time).
    pub driver: Option<(String, Time)>,
    /// This process sits in the driver's seat.
    pub driving: bool,
    /// When the newest pause or resume known here was made (here or by
    /// anyone): an older one that arrives late changes nothing.
    pub pause_at: Option<Time>,
}
