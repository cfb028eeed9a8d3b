//! The effect runner: it makes one call of a change at a time, exactly as
//! the core planned it, and reports back with `Msg::StepDone`. The core
//! decides what comes next, so the sequence of a change (and what a
//! rollback must undo) is never hidden here.
//!
//! A change begins by taking the service's lease (`Effect::Begin`: a
//! rollback takes it over from anyone), then its start record is written.
//! For each call: the lease is checked (lost: the call is not made, the
//! change stops there), the `before` records are journaled and flushed (if
//! that fails, the call is not made), the call runs under a timeout, and
//! the `after` record gets its result and request id. A call in flight is
//! never killed: a rollback, a quit or a signal waits for it at the step
//! boundary. The lease is given back when the change ends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::task::JoinHandle;

use crate::core::change::Step;
use crate::core::effect::{BeginCall, Effect, JournalRecord, StepCall};
use crate::core::model::{ErrorKind, LeaseGrant, LeaseHolder, RequestId, SourceError};
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
    /// Append to the journal and wait until it is durable; the error says
    /// why it could not. The write and its fsync run on the blocking pool:
    /// a slow disk delays this change, never the loop, a poll or the
    /// screen. Appends stay in order (the runner awaits each one).
    async fn journal(&self, record: &JournalRecord) -> Result<(), String> {
        let journal = self.journal.clone();
        let record = record.clone();
        tokio::task::spawn_blocking(move || {
            let mut journal = journal
                .lock()
                .map_err(|_| "the journal lock is poisoned".to_string())?;
            journal.append(&record).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("the journal writer failed: {e}"))?
    }

    async fn journal_or_report(&self, record: &JournalRecord) {
        if let Err(e) = self.journal(record).await {
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
        let mut held: Option<Held> = None;
        while let Some(effect) = rx.recv().await {
            match effect {
                Effect::Begin(call) => {
                    let result = begin(&runner, &call).await;
                    if let Ok(grant) = &result {
                        held = Some(Held {
                            change: call.change,
                            holder: call.holder.clone(),
                            generation: grant.generation,
                            rollback: call.take_over,
                        });
                    }
                    let _ = runner.tx.send(Msg::Begun {
                        change: call.change,
                        result: result.map(Box::new),
                    });
                }
                Effect::CheckLease { change } => {
                    if let Some(h) = held.as_ref().filter(|h| h.change == change)
                        && let Err(error) = check_lease(&runner, h, None).await
                    {
                        held = None;
                        let _ = runner.tx.send(Msg::LeaseLost { change, error });
                    }
                }
                Effect::Release { change } => {
                    if let Some(h) = held.take_if(|h| h.change == change)
                        && h.generation > 0
                    {
                        let release = runner.sources.lease.release(&h.holder, h.generation);
                        let _ = tokio::time::timeout(runner.timeout, release).await;
                    }
                }
                Effect::Step(call) => {
                    let result = run_step(&runner, &call, &mut held).await;
                    let _ = runner.tx.send(Msg::StepDone {
                        change: call.change,
                        index: call.index,
                        result,
                    });
                }
                Effect::Journal(record) => runner.journal_or_report(&record).await,
                Effect::Operator { record, then } => {
                    let msg = match runner.journal(&record).await {
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
                Effect::Refresh | Effect::Quit | Effect::TakeOverDriving => {}
            }
        }
    });
    (effects, handle)
}

/// The change that holds the service's lease.
struct Held {
    change: u64,
    holder: LeaseHolder,
    /// 0: a rollback that goes on without the lease (it could not be had).
    generation: u64,
    rollback: bool,
}

/// Take the lease, then journal the start; if the start cannot be written
/// the lease is given back and nothing is done. A rollback is never
/// stopped by a lease that cannot be had at all (a broken file, a table out
/// of reach): it goes on, and says so.
async fn begin(runner: &Runner, call: &BeginCall) -> Result<LeaseGrant, SourceError> {
    let acquire = runner.sources.lease.acquire(&call.holder, call.take_over);
    let acquired = match tokio::time::timeout(runner.timeout, acquire).await {
        Ok(result) => result,
        Err(_) => Err(SourceError::of_kind(
            ErrorKind::Timeout,
            "the change lease did not answer",
        )),
    };
    let grant = match acquired {
        Ok(grant) => grant,
        Err(e) if call.take_over => LeaseGrant {
            generation: 0,
            took_over: None,
            abandoned: None,
            expired: None,
            unavailable: Some(e.to_string()),
        },
        Err(e) => return Err(e),
    };
    if let Err(e) = runner.journal(&call.start).await {
        if grant.generation > 0 {
            let release = runner.sources.lease.release(&call.holder, grant.generation);
            let _ = tokio::time::timeout(runner.timeout, release).await;
        }
        return Err(SourceError::new(format!("not done: {e}"))
            .with_hint("free space or fix the journal path; nothing was changed"));
    }
    Ok(grant)
}

/// Whether the change still holds the lease. For a change, a check that
/// cannot answer counts as lost (the safe side: stop at the boundary); a
/// rollback stops only when another actor really took the lease.
async fn check_lease(
    runner: &Runner,
    held: &Held,
    call_until: Option<crate::core::model::Time>,
) -> Result<(), SourceError> {
    if held.generation == 0 {
        return Ok(());
    }
    let check = runner
        .sources
        .lease
        .check(&held.holder, held.generation, call_until);
    let result = match tokio::time::timeout(runner.timeout, check).await {
        Ok(result) => result,
        Err(_) => Err(SourceError::new("the change lease did not answer")),
    };
    match result {
        Err(e) if e.kind == ErrorKind::Preempted => Err(e),
        Err(_) if held.rollback => Ok(()),
        Err(e) => Err(SourceError::of_kind(
            ErrorKind::Preempted,
            format!("{}: stopping here to be safe", e.message),
        )),
        Ok(()) => Ok(()),
    }
}

/// One step: its `before` records durable, then the lease checked (as
/// late as can be: `call_until` is stamped from the moment of the call, a
/// slow journal write does not eat into it), then the call, then its
/// result record.
async fn run_step(
    runner: &Runner,
    call: &StepCall,
    held: &mut Option<Held>,
) -> Result<Option<RequestId>, SourceError> {
    for record in &call.before {
        runner.journal(record).await.map_err(|e| {
            SourceError::new(format!("not done: {e}"))
                .with_hint("free space or fix the journal path; nothing was changed")
        })?;
    }
    let check = match held.as_ref().filter(|h| h.change == call.change) {
        Some(h) => {
            // Until when this call may still land: its whole budget (a
            // rollback's read has its own).
            let until = runner.sources.clock.now()
                + chrono::Duration::from_std(runner.timeout + crate::sources::ROLLBACK_READ_BUDGET)
                    .unwrap_or_default();
            check_lease(runner, h, Some(until)).await
        }
        None => Err(SourceError::of_kind(
            ErrorKind::Preempted,
            "this change does not hold the service's change lease",
        )),
    };
    if let Err(e) = check {
        *held = None;
        let mut after = call.after.clone();
        after.result = format!("not done: {e}");
        runner.journal_or_report(&after).await;
        return Err(e);
    }
    // A rollback's weights: a short read of its own, then a whole budget
    // for the write.
    let budget = match &call.step {
        Step::SetWeights { expect: None, .. } => {
            runner.timeout + crate::sources::ROLLBACK_READ_BUDGET
        }
        _ => runner.timeout,
    };
    let mut result = match tokio::time::timeout(budget, execute(runner, &call.step)).await {
        Ok(result) => result,
        Err(_) => Err(SourceError::of_kind(
            ErrorKind::Timeout,
            format!(
                "{} got no answer in {}s",
                call.step.name(),
                budget.as_secs()
            ),
        )),
    };
    // A write with no answer may have been applied: say so, and read what
    // the provider shows now, instead of recording a failure that may be
    // false.
    let mut confirmed = None;
    if let Err(e) = &mut result
        && e.kind == ErrorKind::Timeout
    {
        let (now, applied) = observe(runner, &call.step).await;
        if applied {
            // The provider shows exactly what the step asked for: done.
            confirmed = Some(format!("ok: {}, but {now}", e.message));
        } else {
            e.message = format!(
                "outcome unknown: {} (it may have been applied); {now}",
                e.message
            );
            e.hint = Some("read again before acting: that is what the provider shows now".into());
        }
    }
    if confirmed.is_some() {
        result = Ok(None);
    }
    let mut after = call.after.clone();
    match &result {
        Ok(id) => {
            after.request_ids.extend(id.clone());
            if let Some(text) = confirmed {
                after.result = text;
            }
        }
        Err(e) if e.kind == ErrorKind::Timeout => {
            after.result = format!("unknown: {e}");
            after.request_ids.extend(e.request_id.clone());
        }
        Err(e) => {
            after.result = format!("failed: {} ({})", e, e.kind.label());
            after.request_ids.extend(e.request_id.clone());
        }
    }
    runner.journal_or_report(&after).await;
    result
}

/// After a write that got no answer: what the provider shows now of what
/// the step changes, in words, and whether that is exactly what the step
/// asked for (bounded by the call timeout). A review is never taken as
/// applied: someone else may have reviewed.
async fn observe(runner: &Runner, step: &Step) -> (String, bool) {
    let sources = &runner.sources;
    let read = async {
        match step {
            Step::SetWeights { to, .. } => match sources.traffic.weights().await {
                Ok(f) => (
                    format!(
                        "the rule now forwards stable {} / canary {}",
                        f.split.stable, f.split.canary
                    ),
                    f.split == *to,
                ),
                Err(e) => (format!("the rule cannot be read now: {e}"), false),
            },
            Step::ScaleCanary { service, to, .. } => match service_now(runner, service).await {
                Ok((desired, td)) => (
                    format!("{service} now: {desired} desired, task definition {td}"),
                    desired == *to,
                ),
                Err(e) => (e, false),
            },
            Step::UpdateStable { service, to, .. } => match service_now(runner, service).await {
                Ok((desired, td)) => (
                    format!("{service} now: {desired} desired, task definition {td}"),
                    td == *to,
                ),
                Err(e) => (e, false),
            },
            Step::Review { environment, .. } => match sources.pipeline.latest_run().await {
                Ok(run)
                    if run
                        .pending
                        .as_ref()
                        .is_some_and(|p| p.environment == *environment) =>
                {
                    (
                        format!("the deployment to {environment} is still waiting for review"),
                        false,
                    )
                }
                Ok(_) => (
                    format!(
                        "no deployment to {environment} is waiting for review any more: the review was most likely applied"
                    ),
                    false,
                ),
                Err(e) => (format!("the pipeline cannot be read now: {e}"), false),
            },
            _ => (String::new(), false),
        }
    };
    tokio::time::timeout(runner.timeout, read)
        .await
        .unwrap_or_else(|_| ("the state could not be read again in time".into(), false))
}

/// A service's desired count and task definition, as ECS shows them now.
async fn service_now(runner: &Runner, service: &str) -> Result<(u32, String), String> {
    match runner.sources.fleet.snapshot().await {
        Ok(fleet) => fleet
            .services
            .iter()
            .find(|s| s.name == service)
            .map(|s| (s.desired, s.task_definition.clone()))
            .ok_or_else(|| format!("{service} is not in the fleet read now")),
        Err(e) => Err(format!("ECS cannot be read now: {e}")),
    }
}

/// The one API call of a step.
async fn execute(runner: &Runner, step: &Step) -> Result<Option<RequestId>, SourceError> {
    let sources = &runner.sources;
    let id = match step {
        Step::ScaleCanary {
            service,
            to,
            expect,
            ..
        } => sources.fleet.scale(service, *to, *expect).await?,
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
        Step::Native(call) => match &sources.native {
            Some(native) => native.make(call).await?,
            None => {
                return Err(SourceError::new(
                    "this service is not an ECS-native deployment (model = \"ecs-native\")",
                ));
            }
        },
        // Waits are watched by the core, never sent here.
        Step::WaitCanaryHealthy { .. }
        | Step::WaitStable { .. }
        | Step::WaitUntil { .. }
        | Step::WaitNativeRolledBack { .. } => {
            return Ok(None);
        }
    };
    Ok(Some(id))
}
