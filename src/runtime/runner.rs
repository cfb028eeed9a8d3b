//! The effect runner: carries out changes one at a time, in order. Each
//! change is journaled (and flushed) before it is made and again after; if
//! the first record cannot be written, the change is not made.

use std::time::Duration;

use tokio::sync::mpsc::{self, UnboundedSender};

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

pub fn spawn(
    sources: Sources,
    mut journal: Journal,
    operator: String,
    targets: Targets,
    tx: UnboundedSender<Msg>,
) -> (UnboundedSender<Effect>, tokio::task::JoinHandle<()>) {
    let (effects, mut rx) = mpsc::unbounded_channel::<Effect>();
    let handle = tokio::spawn(async move {
        while let Some(effect) = rx.recv().await {
            match effect {
                Effect::Change(request) => {
                    let result =
                        run_change(&sources, &mut journal, &operator, &targets, &request, &tx)
                            .await;
                    let _ = tx.send(Msg::ChangeDone {
                        id: request.id,
                        result,
                    });
                }
                Effect::Journal(record) => {
                    if let Err(e) = journal.append(&record) {
                        let _ = tx.send(Msg::JournalFailed(e.to_string()));
                    }
                }
                Effect::Refresh | Effect::Quit => {}
            }
        }
    });
    (effects, handle)
}

fn record(
    sources: &Sources,
    operator: &str,
    request: &ChangeRequest,
    result: &str,
    ids: &[String],
) -> JournalRecord {
    JournalRecord {
        time: sources
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

async fn run_change(
    sources: &Sources,
    journal: &mut Journal,
    operator: &str,
    targets: &Targets,
    request: &ChangeRequest,
    tx: &UnboundedSender<Msg>,
) -> Result<ChangeOutcome, String> {
    journal
        .append(&record(sources, operator, request, "started", &[]))
        .map_err(|e| format!("not done: {e}"))?;
    let mut ids = Vec::new();
    let result = execute(sources, operator, targets, &request.op, &mut ids).await;
    let outcome = match &result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    if let Err(e) = journal.append(&record(sources, operator, request, &outcome, &ids)) {
        let _ = tx.send(Msg::JournalFailed(e.to_string()));
    }
    result.map(|()| ChangeOutcome { request_ids: ids })
}

/// The API calls of one change, in the order DESIGN.md gives.
async fn execute(
    sources: &Sources,
    operator: &str,
    targets: &Targets,
    op: &ChangeOp,
    ids: &mut Vec<String>,
) -> Result<(), String> {
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
