//! The effect runner. Each change is journaled (and flushed) before it is
//! made and again after; if the first record cannot be written, the change
//! is not made. Changes run one at a time (the core sends a new one only
//! when the last is done), except a rollback: it never waits behind another
//! change, it interrupts it, and the interrupted change is journaled as such.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::task::JoinHandle;

use crate::core::effect::{ChangeOp, ChangeOutcome, ChangeRequest, Effect, JournalRecord};
use crate::core::model::{SourceError, Track, TrafficSplit};
use crate::core::msg::Msg;
use crate::journal::Journal;
use crate::sources::Sources;

/// The ECS services a change acts on.
#[derive(Debug, Clone)]
pub struct Targets {
    pub stable_service: String,
    pub canary_service: Option<String>,
}

/// How long a promotion waits for the stable service to finish deploying.
const PROMOTE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What every change task needs.
#[derive(Clone)]
struct Runner {
    sources: Sources,
    journal: Arc<Mutex<Journal>>,
    operator: String,
    targets: Targets,
    tx: UnboundedSender<Msg>,
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

pub fn spawn(
    sources: Sources,
    journal: Journal,
    operator: String,
    targets: Targets,
    tx: UnboundedSender<Msg>,
) -> (UnboundedSender<Effect>, JoinHandle<()>) {
    let runner = Runner {
        sources,
        journal: Arc::new(Mutex::new(journal)),
        operator,
        targets,
        tx,
    };
    let (effects, mut rx) = mpsc::unbounded_channel::<Effect>();
    let handle = tokio::spawn(async move {
        let mut current: Option<(ChangeRequest, JoinHandle<()>)> = None;
        while let Some(effect) = rx.recv().await {
            match effect {
                Effect::Change(request) => {
                    if let Some((running, task)) = current.take() {
                        if matches!(request.op, ChangeOp::Rollback { .. }) && !task.is_finished() {
                            task.abort();
                            let why = "interrupted by a rollback";
                            runner.journal_or_report(&record(
                                &runner,
                                &running,
                                &format!("failed: {why}"),
                                &[],
                            ));
                            let _ = runner.tx.send(Msg::ChangeDone {
                                id: running.id,
                                result: Err(why.into()),
                            });
                        } else {
                            let _ = task.await;
                        }
                    }
                    let r = runner.clone();
                    let req = request.clone();
                    let task = tokio::spawn(async move {
                        let result = run_change(&r, &req).await;
                        let _ = r.tx.send(Msg::ChangeDone { id: req.id, result });
                    });
                    current = Some((request, task));
                }
                Effect::Journal(record) => runner.journal_or_report(&record),
                Effect::Refresh | Effect::Quit => {}
            }
        }
        // Quitting: let the change under way finish and be journaled.
        if let Some((_, task)) = current {
            let _ = task.await;
        }
    });
    (effects, handle)
}

fn record(runner: &Runner, request: &ChangeRequest, result: &str, ids: &[String]) -> JournalRecord {
    let operator = &runner.operator;
    JournalRecord {
        time: runner
            .sources
            .clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        operator: if request.automatic {
            format!("flightdeck (analysis) for {operator}")
        } else {
            operator.to_string()
        },
        service: request.service.clone(),
        action: request.op.action_name().into(),
        from: request.from.clone(),
        to: request.to.clone(),
        reason: request.reason.clone(),
        result: result.into(),
        request_ids: ids.to_vec(),
        automatic: request.automatic,
    }
}

async fn run_change(runner: &Runner, request: &ChangeRequest) -> Result<ChangeOutcome, String> {
    runner
        .journal(&record(runner, request, "started", &[]))
        .map_err(|e| format!("not done: {e}"))?;
    let mut ids = Vec::new();
    let result = execute(runner, &request.op, &mut ids).await;
    let outcome = match &result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    runner.journal_or_report(&record(runner, request, &outcome, &ids));
    result.map(|()| ChangeOutcome { request_ids: ids })
}

/// The API calls of one change, in the order DESIGN.md gives.
async fn execute(runner: &Runner, op: &ChangeOp, ids: &mut Vec<String>) -> Result<(), String> {
    let (sources, operator, targets) = (&runner.sources, runner.operator.as_str(), &runner.targets);
    let split = |canary: u8| TrafficSplit {
        stable: 100 - canary,
        canary,
    };
    let say = |what: &str, e: SourceError| format!("{what}: {e}");
    match op {
        ChangeOp::SetCanaryWeight { weight } => {
            ids.push(
                sources
                    .traffic
                    .set_weights(split(*weight))
                    .await
                    .map_err(|e| say("set weights", e))?,
            );
        }
        ChangeOp::Rollback {
            canary_service,
            previous_task_definition,
        } => {
            // Safety first: all traffic to stable in one call.
            ids.push(
                sources
                    .traffic
                    .set_weights(split(0))
                    .await
                    .map_err(|e| say("move traffic to stable", e))?,
            );
            if let Some(canary) = canary_service {
                ids.push(sources.fleet.scale(canary, 0).await.map_err(|e| {
                    say(
                        &format!("traffic is on stable, but scaling {canary} to 0 failed"),
                        e,
                    )
                })?);
            } else if let Some(previous) = previous_task_definition {
                ids.push(
                    sources
                        .fleet
                        .set_task_definition(&targets.stable_service, previous)
                        .await
                        .map_err(|e| {
                            say(&format!("{} back to {previous}", targets.stable_service), e)
                        })?,
                );
            }
        }
        ChangeOp::Promote {
            canary_task_definition,
            ..
        } => {
            ids.push(
                sources
                    .traffic
                    .set_weights(split(100))
                    .await
                    .map_err(|e| say("canary to 100%", e))?,
            );
            ids.push(
                sources
                    .fleet
                    .set_task_definition(&targets.stable_service, canary_task_definition)
                    .await
                    .map_err(|e| {
                        say(
                            &format!(
                                "deploy {canary_task_definition} to {}",
                                targets.stable_service
                            ),
                            e,
                        )
                    })?,
            );
            wait_for_stable(sources, canary_task_definition).await?;
            ids.push(
                sources
                    .traffic
                    .set_weights(split(0))
                    .await
                    .map_err(|e| say("traffic back to stable", e))?,
            );
            if let Some(canary) = &targets.canary_service {
                ids.push(
                    sources
                        .fleet
                        .scale(canary, 0)
                        .await
                        .map_err(|e| say(&format!("scale {canary} to 0"), e))?,
                );
            }
        }
        ChangeOp::Approve {
            run_id,
            environment,
        } => {
            ids.push(
                sources
                    .pipeline
                    .approve(*run_id, environment, operator)
                    .await
                    .map_err(|e| say(&format!("approve {environment}"), e))?,
            );
        }
    }
    Ok(())
}

/// Wait until the stable service runs the new task definition everywhere.
async fn wait_for_stable(sources: &Sources, task_definition: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + PROMOTE_TIMEOUT;
    loop {
        let fleet = sources
            .fleet
            .snapshot()
            .await
            .map_err(|e| format!("watch the stable deployment: {e}"))?;
        let done = fleet.service(Track::Stable).is_some_and(|s| {
            s.task_definition == task_definition
                && s.deployments
                    .iter()
                    .any(|d| d.status == "PRIMARY" && d.rollout_state == "COMPLETED")
        });
        if done {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "the stable service did not finish deploying {task_definition} in {} min: traffic stays on the canary; check ECS events",
                PROMOTE_TIMEOUT.as_secs() / 60
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
