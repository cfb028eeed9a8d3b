//! `status`: one snapshot of the release, as text (one fact a line) or as
//! one JSON object (schema 1).

use std::io::Write;

use serde_json::{Value, json};

use super::*;
use crate::core::model::ErrorKind;
use crate::core::update::hold_reason;

pub(super) fn age_s<T>(l: &Loadable<T>, now: crate::core::model::Time) -> Value {
    match l {
        Loadable::Ready { at, .. } | Loadable::Stale { at, .. } => {
            json!(((now - *at).num_milliseconds() as f64 / 1000.0).max(0.0))
        }
        _ => Value::Null,
    }
}

pub(super) fn source_state<T>(l: &Loadable<T>, now: crate::core::model::Time) -> Value {
    let (state, error) = match l {
        Loadable::Loading => ("loading", None),
        Loadable::Ready { .. } => ("ready", None),
        Loadable::Stale { error, .. } => ("stale", Some(error)),
        Loadable::Failed { error, .. } if error.kind == ErrorKind::NotConfigured => {
            ("not_configured", Some(error))
        }
        Loadable::Failed { error, .. } => ("failed", Some(error)),
    };
    json!({
        "state": state,
        "age_s": age_s(l, now),
        "error": error.map(|e| e.to_string()),
    })
}

/// The `status --json` object (schema 1).
pub fn status_json(model: &Model) -> Value {
    let now = model.now;
    let traffic = model.traffic.value().map(|f| {
        json!({
            "stable": f.split.stable,
            "canary": f.split.canary,
            "canary_pct": model.canary_weight(),
        })
    });
    // An ECS-native service: ECS's strategy is the plan (see `native`).
    let plan = if model.native.is_some() {
        json!({
            "phase": "ecs-native",
            "step": null,
            "steps": null,
            "weight": model.canary_weight(),
            "bake_left_s": null,
            "paused": model.plan_state.paused,
            "hold": hold_reason(model),
        })
    } else {
        json!({
        "phase": model.plan_state.phase.label(),
        "step": model.plan_state.step.map(|s| s + 1),
        "steps": model.plan.steps.len(),
        "weight": model.plan_state.weight,
        "bake_left_s": model.plan_state.bake_left(&model.plan, now).map(|d| d.as_secs()),
        "paused": model.plan_state.paused,
        "hold": hold_reason(model),
        })
    };
    let verdicts: Vec<Value> = model
        .analysis
        .verdicts
        .iter()
        .rev()
        .take(10)
        .rev()
        .map(|v| {
            json!({
                "at": v.at.to_rfc3339(),
                "outcome": v.outcome.label(),
                "error_pct": v.canary_error_pct,
                "p95_ms": v.canary_p95_ms,
                "stable_p95_ms": v.stable_p95_ms,
                "requests": v.requests,
                "p_value": v.p_value,
                "reason": v.reason,
            })
        })
        .collect();
    let fleet = model.fleet.value();
    let services: Vec<Value> = fleet
        .map(|f| {
            f.services
                .iter()
                .map(|s| {
                    json!({
                        "track": s.track.label(),
                        "name": s.name,
                        "task_definition": s.task_definition,
                        "desired": s.desired,
                        "running": s.running,
                        "pending": s.pending,
                        "deployments": s.deployments.iter().map(|d| json!({
                            "status": d.status,
                            "task_definition": d.task_definition,
                            "rollout_state": d.rollout_state,
                            "desired": d.desired,
                            "running": d.running,
                            "pending": d.pending,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let targets: Vec<Value> = fleet
        .map(|f| {
            f.targets
                .iter()
                .map(|t| {
                    json!({
                        "track": t.track.label(),
                        "target_group": t.target_group,
                        "healthy": t.healthy,
                        "unhealthy": t.unhealthy,
                        "draining": t.draining,
                        "initial": t.initial,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let pipeline = model.pipeline.value().map(|r| {
        json!({
            "id": r.id,
            "number": r.number,
            "attempt": r.attempt,
            "event": r.event,
            "branch": r.branch,
            "sha": r.sha,
            "url": r.url,
            "stages": r.stages.iter().map(|s| json!({"name": s.name, "status": s.status.label()})).collect::<Vec<_>>(),
            "pending": r.pending.as_ref().map(|p| json!({
                "environment": p.environment,
                "environment_ids": p.environment_ids,
                "can_approve": p.can_approve,
                "reviewers": p.reviewers,
                "waiting_since": p.waiting_since.to_rfc3339(),
            })),
        })
    });
    let baseline = model.baseline.as_ref().map(|b| {
        json!({
            "stable_task_definition": b.stable_task_definition,
            "release_task_definition": b.release_task_definition,
        })
    });
    let change = model.running.as_ref().map(|r| {
        json!({
            "action": r.change.kind.action_name(),
            "step": r.index + 1,
            "steps": r.change.steps.len(),
            "doing": r.change.steps.get(r.index).map(|s| s.describe()),
        })
    });
    // An ECS-native service: the deployment under way, else the newest of
    // the last day (absent for a stable/canary pair; null while none is
    // known or unread).
    let native = model.native.as_ref().map(|l| {
        l.value().cloned().flatten().map(|d| {
            let awaiting = d.awaiting().map(|h| {
                json!({
                    "hook": h.id,
                    "expires_at": h.expires_at.map(|t| t.to_rfc3339()),
                    "timeout_action": h.timeout_action,
                })
            });
            json!({
                "deployment": d.arn,
                "status": d.status,
                "stage": d.stage,
                "strategy": crate::core::native::strategy_name(&d.strategy),
                "source_revisions": d.source_revisions,
                "target_revision": d.target_revision,
                "source_task_definition": d.source_task_definition,
                "target_task_definition": d.target_task_definition,
                "awaiting": awaiting,
                "rollback": d.rollback.as_ref().map(|(reason, to)| json!({"reason": reason, "to": to})),
            })
        })
    });
    let mut out = json!({
        "schema": SCHEMA,
        "at": now.to_rfc3339(),
        "service": {
            "name": model.service.name,
            "environment": model.service.environment,
            "protected": model.service.protected,
            "cluster": model.service.cluster,
            "listener_rule": model.service.listener_rule,
            "account": model.service.account,
            "region": model.service.region,
            "read_only": model.read_only,
        },
        "traffic": traffic,
        "plan": plan,
        "analysis": {
            "consecutive_failures": model.analysis.consecutive_failures,
            "verdicts": verdicts,
        },
        "services": services,
        "targets": targets,
        "pipeline": pipeline,
        "baseline": baseline,
        "change": change,
        "sources": {
            "pipeline": source_state(&model.pipeline, now),
            "fleet": source_state(&model.fleet, now),
            "traffic": source_state(&model.traffic, now),
            "metrics": json!({"state": if model.metrics.error.is_some() { "failed" } else { "ready" },
                              "error": model.metrics.error.as_ref().map(ToString::to_string)}),
            "logs": json!({"state": if model.logs.error.is_some() { "failed" } else { "ready" },
                           "error": model.logs.error.as_ref().map(ToString::to_string)}),
        },
    });
    if let Some(native) = native {
        out["native"] = native.unwrap_or(Value::Null);
    }
    out
}

/// The snapshot as text: one fact a line.
pub fn status_text(model: &Model) -> String {
    let mut out = Vec::new();
    let s = &model.service;
    out.push(format!(
        "{} · {}{} · {} · {}",
        s.name,
        s.environment,
        if s.protected { " [protected]" } else { "" },
        s.account,
        s.region
    ));
    match model.traffic.value() {
        Some(f) => out.push(format!(
            "traffic   stable {} · canary {} ({}% canary)",
            f.split.stable,
            f.split.canary,
            model.canary_weight().unwrap_or(0)
        )),
        None => out.push("traffic   unknown".into()),
    }
    let ps = &model.plan_state;
    let mut plan = format!("plan      {}", ps.phase.label());
    if let Some(step) = ps.step {
        plan.push_str(&format!(" · step {}/{}", step + 1, model.plan.steps.len()));
    }
    if let Some(left) = ps.bake_left(&model.plan, model.now) {
        plan.push_str(&format!(
            " · bake {} left",
            crate::core::update::humanize(left)
        ));
    }
    if ps.paused {
        plan.push_str(" · PAUSED");
    }
    if let Some(hold) = hold_reason(model) {
        plan.push_str(&format!(" · hold: {hold}"));
    }
    out.push(plan);
    match model.analysis.verdicts.last() {
        Some(v) => out.push(format!(
            "verdict   #{} {}: {}",
            model.analysis.verdicts.len(),
            v.outcome.label(),
            v.reason
        )),
        None => out.push("verdict   none yet".into()),
    }
    if let Some(f) = model.fleet.value() {
        for svc in &f.services {
            out.push(format!(
                "{:<9} {} {}/{} running, {} pending, {}",
                svc.track.label(),
                svc.name,
                svc.running,
                svc.desired,
                svc.pending,
                svc.task_definition
            ));
        }
        for t in &f.targets {
            out.push(format!(
                "targets   {} {}: {} healthy, {} unhealthy, {} draining",
                t.track.label(),
                t.target_group,
                t.healthy,
                t.unhealthy,
                t.draining
            ));
        }
    }
    if let Some(r) = model.pipeline.value() {
        let mut line = format!(
            "pipeline  run #{} {} {}",
            r.number,
            r.event,
            crate::core::update::short_sha(&r.sha)
        );
        if let Some(p) = &r.pending {
            line.push_str(&format!(" · waiting for approval on {}", p.environment));
        }
        out.push(line);
    }
    if let Some(b) = &model.baseline {
        out.push(format!(
            "baseline  stable {} · release {}",
            b.stable_task_definition, b.release_task_definition
        ));
    }
    if let Some(r) = &model.running {
        out.push(format!("change    {}", r.at()));
    }
    for (name, state) in [
        ("pipeline", source_state(&model.pipeline, model.now)),
        ("fleet", source_state(&model.fleet, model.now)),
        ("traffic", source_state(&model.traffic, model.now)),
    ] {
        if let Some(e) = state["error"].as_str() {
            out.push(format!(
                "source    {name} {}: {e}",
                state["state"].as_str().unwrap_or("")
            ));
        }
    }
    // Names from outside are drawn inert here too.
    out.into_iter()
        .map(|l| crate::text::inert(&l))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn status(model: &Model, json: bool) -> u8 {
    if json {
        let _ = say!("{}", status_json(model));
    } else {
        let _ = say!("{}", status_text(model));
    }
    if model.fleet.value().is_some() && model.traffic.value().is_some() {
        OK
    } else {
        for (what, e) in [
            ("ECS", model.fleet.error()),
            ("the load balancer", model.traffic.error()),
        ] {
            if let Some(e) = e {
                eprintln!("flightdeck: {what}: {e}");
            }
        }
        ERROR
    }
}
