//! `watch`: one line (or JSON object) per change of state, until a
//! condition holds — decided from AWS as it is, also when the command
//! starts after the fact — a failure, or the timeout.

use std::io::Write;

use serde_json::{Value, json};

use super::*;

/// The state `watch` reports when it changes.
pub(super) fn watch_state(model: &Model) -> Value {
    json!({
        "phase": model.plan_state.phase.label(),
        "canary_pct": model.canary_weight(),
        "step": model.plan_state.step.map(|s| s + 1),
        "paused": model.plan_state.paused,
        "hold": crate::core::update::hold_reason(model),
        "verdict": model.analysis.verdicts.last().map(|v| v.outcome.label()),
        "change": model.running.as_ref().map(|r| format!("{} step {}/{}", r.change.kind.action_name(), r.index + 1, r.change.steps.len())),
        "pending_approval": model.pipeline.value().and_then(|r| r.pending.as_ref()).map(|p| p.environment.clone()),
        "healthy": healthy(model),
    })
}

/// Every service at its desired count, no target unhealthy, and the last
/// verdict not a fail.
pub(super) fn healthy(model: &Model) -> bool {
    let Some(f) = model.fleet.value() else {
        return false;
    };
    f.services
        .iter()
        .all(|s| s.running == s.desired && s.pending == 0)
        && f.targets.iter().all(|t| t.unhealthy == 0)
        && model
            .analysis
            .verdicts
            .last()
            .is_none_or(|v| v.outcome != Outcome::Fail)
}

pub(super) fn rolled_back(model: &Model) -> bool {
    model.canary_weight() == Some(0)
        && model.running.is_none()
        && (model.plan_state.phase == Phase::RolledBack
            || settled(model) == Some(Phase::RolledBack))
}

pub(super) fn promoted(model: &Model) -> bool {
    model.running.is_none()
        && (model.plan_state.phase == Phase::Promoted || settled(model) == Some(Phase::Promoted))
}

/// Where the release has come to rest, from AWS as it is now (also when
/// `watch` starts after the fact): no canary traffic, no canary tasks, and
/// the stable service on the baseline (rolled back) or on the release
/// (promoted), as a fresh fleet read confirms. None while it moves, or
/// without a baseline to tell.
pub(super) fn settled(model: &Model) -> Option<Phase> {
    if model.canary_weight() != Some(0) || model.running.is_some() {
        return None;
    }
    let baseline = crate::core::change::applicable_baseline(model)?;
    let fleet = model.fleet.value()?;
    if fleet
        .service(crate::core::model::Track::Canary)
        .is_some_and(|c| c.desired > 0 || c.running > 0)
    {
        return None;
    }
    let stable = fleet.service(crate::core::model::Track::Stable)?;
    if stable.task_definition == baseline.stable_task_definition {
        Some(Phase::RolledBack)
    } else if stable.task_definition == baseline.release_task_definition {
        Some(Phase::Promoted)
    } else {
        None
    }
}

/// How long `drive`, preempted, waits for the taker's rollback to end.
const PREEMPTED_GRACE: Duration = Duration::from_secs(120);

pub(super) async fn watch(
    d: &mut Driver,
    until: Option<Until>,
    timeout: Option<Duration>,
    json: bool,
) -> u8 {
    let end = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut last = Value::Null;
    let mut preempted_at = None;
    loop {
        let state = watch_state(&d.model);
        if state != last {
            let written = if json {
                let mut line = state.clone();
                line["schema"] = json!(SCHEMA);
                line["at"] = json!(d.model.now.to_rfc3339());
                say!("{line}")
            } else {
                say!("{}", watch_line(&d.model, &state))
            };
            if !written {
                // The reader is gone (`| head`): nobody to tell.
                return OK;
            }
            last = state;
        }
        match until {
            Some(Until::Promoted) if promoted(&d.model) => return OK,
            Some(Until::Promoted) if rolled_back(&d.model) => {
                eprintln!("flightdeck: the release was rolled back");
                return CONDITION_FAILED;
            }
            Some(Until::RolledBack) if rolled_back(&d.model) => return OK,
            Some(Until::Healthy) if healthy(&d.model) => return OK,
            _ => {}
        }
        if d.model.quit || d.model.stopping.is_some() {
            return ERROR;
        }
        // `drive` whose driver's seat a console took over: it watches no
        // longer (a change under way stopped at its step boundary).
        if d.model.via == "drive"
            && d.model.running.is_none()
            && let Some(team) = &d.model.team
            && !team.driving
            && let Some((who, _)) = &team.driver
        {
            eprintln!("flightdeck: driving was taken over by {who}; this drive stops");
            return REFUSED;
        }
        // `drive`: automation that paused itself needs a person; waiting
        // would only hang the pipeline job. Preempted (another actor's
        // rollback took the lease over): that rollback is given time to
        // end, so the job ends as rolled back (5).
        if d.model.via == "drive"
            && d.model.running.is_none()
            && let Some(why) = &d.model.self_paused
        {
            let preempted = why.contains("preempted");
            let since = *preempted_at.get_or_insert_with(tokio::time::Instant::now);
            if !preempted || since.elapsed() > PREEMPTED_GRACE {
                eprintln!(
                    "flightdeck: automation paused itself ({why}): resume or roll back from a console or the CLI"
                );
                return ERROR;
            }
        }
        let next = match end {
            Some(end) => match tokio::time::timeout_at(end, d.rx.recv()).await {
                Ok(msg) => msg,
                Err(_) => {
                    if d.model.via == "drive" {
                        eprintln!("flightdeck: drive timed out; the release is left as it is");
                    } else {
                        eprintln!("flightdeck: watch timed out");
                    }
                    return TIMEOUT;
                }
            },
            None => d.rx.recv().await,
        };
        match next {
            Some(msg) => d.send(msg),
            None => return ERROR,
        }
    }
}

pub(super) fn watch_line(model: &Model, state: &Value) -> String {
    let mut line = format!(
        "{} {} canary {}%",
        model.now.format("%H:%M:%S"),
        state["phase"].as_str().unwrap_or(""),
        state["canary_pct"]
            .as_u64()
            .map_or("?".into(), |w| w.to_string())
    );
    if let Some(step) = state["step"].as_u64() {
        line.push_str(&format!(" step {step}/{}", model.plan.steps.len()));
    }
    if state["paused"].as_bool() == Some(true) {
        line.push_str(" PAUSED");
    }
    if let Some(h) = state["hold"].as_str() {
        line.push_str(&format!(" · hold: {h}"));
    }
    if let Some(v) = state["verdict"].as_str() {
        line.push_str(&format!(" · verdict {v}"));
    }
    if let Some(c) = state["change"].as_str() {
        line.push_str(&format!(" · {c}"));
    }
    if let Some(p) = state["pending_approval"].as_str() {
        line.push_str(&format!(" · waiting for approval on {p}"));
    }
    if state["healthy"].as_bool() == Some(true) {
        line.push_str(" · healthy");
    }
    crate::text::inert(&line)
}
