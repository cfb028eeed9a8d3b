//! Ports: one trait per kind of source, so the same console runs on AWS and
//! GitHub, on the demo simulator, and under test. Adapters live beside this
//! file (`demo/` today; `aws/`, `github.rs` and the metrics providers plug in
//! behind the same traits).

pub mod approvals;
pub mod aws;
pub mod demo;
pub mod github;
pub mod lease;
pub mod metrics;
pub mod team;

use std::sync::Arc;

use async_trait::async_trait;

pub use crate::core::model::RequestId;
use crate::core::model::{
    FleetSnapshot, Forward, LogLine, MetricPoint, PipelineRun, SourceError, Time, TrafficSplit,
};

/// The CI pipeline (GitHub Actions).
#[async_trait]
pub trait Pipeline: Send + Sync {
    /// The newest run of the release workflow.
    async fn latest_run(&self) -> Result<PipelineRun, SourceError>;
    /// Show this run (None: the newest) from the next read on. Sources
    /// with one run ignore it.
    fn select_run(&self, _id: Option<u64>) {}
    /// Approve (or reject) the run's deployment waiting on the environments
    /// (`environment` names them; `environment_ids` are GitHub's ids), with
    /// the review's comment.
    async fn review(
        &self,
        run_id: u64,
        environment: &str,
        environment_ids: &[u64],
        approve: bool,
        comment: &str,
    ) -> Result<RequestId, SourceError>;
}

/// The ECS services, their tasks and their target groups.
#[async_trait]
pub trait Fleet: Send + Sync {
    async fn snapshot(&self) -> Result<FleetSnapshot, SourceError>;
    /// Set `service`'s desired count. With `expect`, read the count right
    /// before writing and refuse with `ErrorKind::Conflict`, naming both,
    /// if it is not `expect` (another actor sized it since the plan was
    /// made).
    async fn scale(
        &self,
        service: &str,
        desired: u32,
        expect: Option<u32>,
    ) -> Result<RequestId, SourceError>;
    async fn set_task_definition(
        &self,
        service: &str,
        task_definition: &str,
    ) -> Result<RequestId, SourceError>;
    /// The task definitions `service` ran before and after its latest
    /// successful deployment, from the provider's deployment history; None
    /// where it keeps none. Asked only when the journal has no baseline.
    async fn task_definition_before(
        &self,
        _service: &str,
    ) -> Result<Option<(String, String)>, SourceError> {
        Ok(None)
    }
}

/// How long a rollback's read of the listener rule (only to keep the
/// rule's other actions) may take before the last actions read are used;
/// the write after it keeps a whole call's budget.
pub const ROLLBACK_READ_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// The weighted forward action of the ALB listener rule (or listener).
#[async_trait]
pub trait Traffic: Send + Sync {
    /// The forward action: target groups, their weights (0–999), stickiness.
    async fn weights(&self) -> Result<Forward, SourceError>;
    /// Set both weights in one call. With `expect`, re-read them right
    /// before writing and refuse with `ErrorKind::Conflict`, naming both,
    /// if they are not `expect` (another tool moved them). A rollback
    /// passes None: it writes without a read.
    async fn set_weights(
        &self,
        expect: Option<TrafficSplit>,
        to: TrafficSplit,
    ) -> Result<RequestId, SourceError>;
}

/// The logs of the tasks followed.
#[async_trait]
pub trait Logs: Send + Sync {
    /// The lines not read before `cursor` (recent lines on the first read),
    /// oldest first, and the cursor for the next read.
    async fn read(&self, cursor: LogCursor) -> Result<(Vec<LogLine>, LogCursor), SourceError>;
    /// Follow these tasks' logs from the next read on (the Tasks pane's
    /// canary tasks, or the stable ones on a key). Sources with one stream
    /// ignore it.
    fn follow(&self, _tasks: &[LogTask]) {}
}

pub use crate::core::model::LogTask;

/// Where a log read left off. Opaque to the core (the poller hands it back
/// as it came): the next read starts a little before the newest line seen,
/// since late events land there, and lines already given are dropped by id
/// — none shown twice, none skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogCursor {
    newest: Option<Time>,
    seen: std::collections::BTreeSet<(Time, String)>,
}

impl LogCursor {
    /// How far before the newest line a read starts again.
    pub const OVERLAP: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

    /// Where the next read starts; None on the first read.
    pub fn start(&self) -> Option<Time> {
        self.newest.map(|t| t - Self::OVERLAP)
    }

    /// Whether a line (its time and provider id) was not given before: a
    /// source that can tell cheaply skips copying lines the cursor drops.
    pub fn is_new(&self, at: Time, id: &str) -> bool {
        self.seen
            .range((at, String::new())..)
            .take_while(|(t, _)| *t == at)
            .all(|(_, seen)| seen != id)
    }

    /// The lines (with their provider ids) not given before, oldest first
    /// (stable among equal times); they are remembered for the overlap.
    pub fn take_new(&mut self, mut lines: Vec<(String, LogLine)>) -> Vec<LogLine> {
        lines.sort_by_key(|(_, l)| l.at);
        let mut out = Vec::new();
        for (id, line) in lines {
            if self.seen.insert((line.at, id)) {
                self.newest = Some(self.newest.map_or(line.at, |n| n.max(line.at)));
                out.push(line);
            }
        }
        if let Some(start) = self.start() {
            // Ids older than the overlap can no longer come back.
            self.seen = self.seen.split_off(&(start, String::new()));
        }
        out
    }
}

/// Error rate and latency of canary and stable.
#[async_trait]
pub trait Metrics: Send + Sync {
    /// Points from `from` to `to`, oldest first. Each poll asks for the
    /// whole recent window: providers report late and revise points, and
    /// the model upserts them by (track, time).
    async fn points(&self, from: Time, to: Time) -> Result<Vec<MetricPoint>, SourceError>;
}

/// One actor changes a service at a time, across every console and CLI
/// process (a local lock file today; a shared table for teams later). A
/// change takes the lease before its first call and checks it before every
/// call; a rollback takes it over from anyone; the one taken over sees it
/// at its next step boundary and stops there.
#[async_trait]
pub trait Lease: Send + Sync {
    /// Take the service's lease for `me`. Refused with `ErrorKind::Held`,
    /// naming the holder and since when, while another live actor holds
    /// it — unless `take_over` (a rollback).
    async fn acquire(&self, me: &LeaseHolder, take_over: bool) -> Result<LeaseGrant, SourceError>;
    /// Whether `me` still holds it at `generation`: else
    /// `ErrorKind::Preempted`, naming who took it. Before a call,
    /// `call_until` says until when that call may still land (it is kept
    /// with the holder, for a rollback that takes over meanwhile).
    async fn check(
        &self,
        me: &LeaseHolder,
        generation: u64,
        call_until: Option<Time>,
    ) -> Result<(), SourceError>;
    /// Give it back, if still held at `generation` (a lease taken over is
    /// not the loser's to give back).
    async fn release(&self, me: &LeaseHolder, generation: u64);
}

pub use crate::core::model::{LeaseGrant, LeaseHolder};

/// The time the console runs on: the wall clock, or the demo's faster one.
pub trait Clock: Send + Sync {
    fn now(&self) -> Time;
}

/// The real UTC clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Time {
        chrono::Utc::now()
    }
}

/// The fleet overview's rows: every release of the config, read together
/// (batched: DescribeServices ten at a time, DescribeRules per listener).
#[async_trait]
pub trait Releases: Send + Sync {
    async fn read(&self) -> Result<Vec<crate::core::releases::ReleaseRow>, SourceError>;
    /// The calls made so far (for the help's rate).
    fn calls(&self) -> Arc<std::sync::atomic::AtomicU64>;
}

/// Everything the runtime talks to.
#[derive(Clone)]
pub struct Sources {
    pub pipeline: Arc<dyn Pipeline>,
    pub fleet: Arc<dyn Fleet>,
    pub traffic: Arc<dyn Traffic>,
    pub logs: Arc<dyn Logs>,
    pub metrics: Arc<dyn Metrics>,
    pub clock: Arc<dyn Clock>,
    /// The service's change lease.
    pub lease: Arc<dyn Lease>,
    /// The team table (`[team]`): the shared lease and journal. None: this
    /// process (and the user's others, through the lock file) alone.
    pub team: Option<Arc<team::Team>>,
    /// API calls made to the provider so far, when the adapters count them
    /// (shown in the help overlay as a total and a rate).
    pub calls: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// The ECS-native deployment of a `model = "ecs-native"` service.
    pub native: Option<Arc<dyn Native>>,
}

/// An ECS-native deployment (ECS moves the traffic): read it, and make the
/// one call a key asks for.
#[async_trait]
pub trait Native: Send + Sync {
    async fn current(&self) -> Result<Option<crate::core::native::NativeDeployment>, SourceError>;
    async fn make(&self, call: &crate::core::native::NativeCall) -> Result<RequestId, SourceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(secs: i64, text: &str) -> LogLine {
        LogLine {
            at: chrono::DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap_or_default(),
            task: "t".into(),
            text: text.into(),
        }
    }

    #[test]
    fn is_new_agrees_with_what_take_new_keeps() {
        let mut cursor = LogCursor::default();
        let first = vec![("1".to_string(), line(0, "a")), ("2".into(), line(0, "b"))];
        assert_eq!(cursor.take_new(first).len(), 2);
        // Same time, other id: new; same time and id: given already.
        assert!(cursor.is_new(line(0, "").at, "3"));
        assert!(!cursor.is_new(line(0, "").at, "2"));
        assert!(!cursor.is_new(line(0, "").at, "1"));
        // The id at another time is another line.
        assert!(cursor.is_new(line(1, "").at, "1"));
        let again = vec![("2".to_string(), line(0, "b")), ("3".into(), line(0, "c"))];
        let kept = cursor.take_new(again);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].text, "c");
    }
}
