//! The effect runner: it makes one call of a change at a time, exactly as
//! the core planned it, and reports back with `Msg::StepDone`. The core
//! decides what comes next, so the sequence of a change (and what a
//! rollback must undo) is never hidden here.
//!
//! For each call: the `before` records are journaled and flushed (if that
//! fails, the call is not made), the call runs under a timeout, and the
//! `after` record gets its result and request id. A call in flight is never
//! killed: a rollback, a quit or a signal waits for it at the step boundary.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::task::JoinHandle;

use crate::core::change::Step;
use crate::core::effect::{Effect, JournalRecord, StepCall};
use crate::core::model::{ErrorKind, RequestId, SourceError};
use crate::core::msg::Msg;
use crate::journal::Journal;
use crate::sources::Sources;

/// The longest one API call may take before it counts as failed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What every call needs.
#[derive(Clone)]
struct Runner {
    sources: Sources,
    journal: Arc<Mutex<Journal>>,
    tx: UnboundedSender<Msg>,
    timeout: Duration,
}

impl Runner {
    /// Append to the journal; the error says why it could not.
    fn journal(&self, record: &JournalRecord) -> Result<(), String> {
        let mut journal = self
            .journal
            .lock()
            .map_err(|_| "the journal lock is poisoned".to_string())?;
        journal.append(record).map_err(|e| e.to_string())
    }

    fn journal_or_report(&self, record: &JournalRecord) {
        if let Err(e) = self.journal(record) {
            let _ = self.tx.send(Msg::JournalFailed(e));
        }
    }
}

/// Start the runner; it ends when the effect sender is dropped, after the
/// call under way (if any) has answered and been journaled.
pub fn spawn(
    sources: Sources,
    journal: Journal,
    tx: UnboundedSender<Msg>,
) -> (UnboundedSender<Effect>, JoinHandle<()>) {
    spawn_with_timeout(sources, journal, tx, CALL_TIMEOUT)
}

/// `spawn` with another call timeout (tests use a short one).
pub fn spawn_with_timeout(
    sources: Sources,
    journal: Journal,
    tx: UnboundedSender<Msg>,
    timeout: Duration,
) -> (UnboundedSender<Effect>, JoinHandle<()>) {
    let runner = Runner {
        sources,
        journal: Arc::new(Mutex::new(journal)),
        tx,
        timeout,
    };
    let (effects, mut rx) = mpsc::unbounded_channel::<Effect>();
    let handle = tokio::spawn(async move {
        while let Some(effect) = rx.recv().await {
            match effect {
                Effect::Step(call) => {
                    let result = run_step(&runner, &call).await;
                    let _ = runner.tx.send(Msg::StepDone {
                        change: call.change,
                        index: call.index,
                        result,
                    });
                }
                Effect::Journal(record) => runner.journal_or_report(&record),
                Effect::Operator { record, then } => {
                    let msg = match runner.journal(&record) {
                        Ok(()) => Msg::OperatorDone(then),
                        Err(e) => Msg::JournalFailed(format!("{} not done: {e}", record.action)),
                    };
                    let _ = runner.tx.send(msg);
                }
                Effect::FetchBaseline { service } => {
                    let read = runner.sources.fleet.task_definition_before(&service);
                    let hint = match tokio::time::timeout(runner.timeout, read).await {
                        Ok(hint) => hint,
                        Err(_) => Err(SourceError::of_kind(
                            ErrorKind::Timeout,
                            "the ECS deployment history did not answer",
                        )),
                    };
                    let _ = runner.tx.send(Msg::BaselineHint(hint));
                }
                // The runtime selects (and refreshes) itself; here for
                // drivers that send every effect to the runner.
                Effect::SelectRun(id) => runner.sources.pipeline.select_run(id),
                Effect::FollowLogs(tasks) => runner.sources.logs.follow(&tasks),
                Effect::Refresh | Effect::Quit => {}
            }
        }
    });
    (effects, handle)
}

async fn run_step(runner: &Runner, call: &StepCall) -> Result<Option<RequestId>, SourceError> {
    for record in &call.before {
        runner.journal(record).map_err(|e| {
            SourceError::new(format!("not done: {e}"))
                .with_hint("free space or fix the journal path; nothing was changed")
        })?;
    }
    let result = match tokio::time::timeout(runner.timeout, execute(runner, &call.step)).await {
        Ok(result) => result,
        Err(_) => Err(SourceError::of_kind(
            ErrorKind::Timeout,
            format!(
                "{} did not answer in {}s: it may or may not have happened",
                call.step.name(),
                runner.timeout.as_secs()
            ),
        )
        .with_hint("check the Canary and Tasks panes before acting again")),
    };
    let mut after = call.after.clone();
    match &result {
        Ok(id) => after.request_ids.extend(id.clone()),
        Err(e) => {
            after.result = format!("failed: {} ({})", e, e.kind.label());
            after.request_ids.extend(e.request_id.clone());
        }
    }
    runner.journal_or_report(&after);
    result
}

/// The one API call of a step.
async fn execute(runner: &Runner, step: &Step) -> Result<Option<RequestId>, SourceError> {
    let sources = &runner.sources;
    let id = match step {
        Step::ScaleCanary { service, to, .. } => sources.fleet.scale(service, *to).await?,
        Step::SetWeights { expect, to } => sources.traffic.set_weights(*expect, *to).await?,
        Step::UpdateStable { service, to, .. } => {
            sources.fleet.set_task_definition(service, to).await?
        }
        Step::Review {
            run_id,
            environment,
            environment_ids,
            approve,
            comment,
        } => {
            sources
                .pipeline
                .review(*run_id, environment, environment_ids, *approve, comment)
                .await?
        }
        // Waits are watched by the core, never sent here.
        Step::WaitCanaryHealthy { .. } | Step::WaitStable { .. } => return Ok(None),
    };
    Ok(Some(id))
}
