//! Operator actions that change nothing outside — pause and resume,
//! acknowledging an unfinished change — and the automation pausing
//! itself. Each is journaled before it takes effect.

use super::*;

/// `:ack`: the operator has seen the unfinished changes of an earlier run.
pub(in crate::core::update) fn acknowledge(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if model.unfinished.is_empty() {
        return model.set_status(Level::Info, "nothing to acknowledge");
    }
    for u in &model.unfinished {
        fx.push(Effect::Operator {
            record: simple_record(model, ctx, "acknowledge", &u.change, "seen"),
            then: OperatorAction::Acknowledge(u.change.clone()),
        });
    }
}

/// A record of an operator action that changes nothing outside.
pub(in crate::core::update) fn simple_record(
    model: &Model,
    ctx: &Ctx,
    action: &str,
    from: &str,
    to: &str,
) -> JournalRecord {
    JournalRecord {
        time: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        operator: ctx.operator.clone(),
        service: model.service.name.clone(),
        identity: Some(model.service.identity()),
        action: action.into(),
        from: from.into(),
        to: to.into(),
        reason: None,
        result: "ok".into(),
        request_ids: Vec::new(),
        automatic: false,
        change: None,
        step: None,
        steps: Vec::new(),
        weights: None,
        via: None,
    }
}

/// `p`: ask to pause or resume automatic progression. Like a change, the
/// record is written first; the state changes when the runner says it was
/// (`Msg::OperatorDone`), and not at all if the journal cannot be written.
pub(in crate::core::update) fn toggle_pause(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if model.read_only {
        return model.set_status(
            Level::Error,
            "read-only: changes are disabled (started with --read-only)",
        );
    }
    let pause = !model.plan_state.paused;
    let (action, from, to) = if pause {
        ("pause", "running", "paused")
    } else {
        ("resume", "paused", "running")
    };
    model.set_status(Level::Info, format!("{action}…"));
    fx.push(Effect::Operator {
        record: simple_record(model, ctx, action, from, to),
        then: OperatorAction::SetPaused(pause),
    });
}

/// The automation pauses itself (a failed rollback, an abandoned automatic
/// change): the safe direction, applied at once and journaled.
pub(in crate::core::update) fn pause_automation(
    model: &mut Model,
    why: &str,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    if model.plan_state.paused {
        return;
    }
    model.plan_state.paused = true;
    model.self_paused = Some(why.to_string());
    if let Some(team) = model.team.as_mut() {
        team.pause_at = Some(ctx.now);
    }
    model.push_journal(
        ctx.now,
        JournalKind::Automatic,
        format!("automatic progression paused: {why}"),
    );
    let mut record = simple_record(model, ctx, "pause", "running", "paused");
    record.automatic = true;
    record.reason = Some(why.to_string());
    record.operator = format!("flightdeck (automation) for {}", ctx.operator);
    fx.push(Effect::Journal(record));
}

/// The runner wrote an operator action's record: apply it.
pub(in crate::core::update) fn on_operator_done(
    model: &mut Model,
    action: OperatorAction,
    ctx: &Ctx,
) {
    match action {
        OperatorAction::SetPaused(paused) => {
            model.plan_state.paused = paused;
            model.self_paused = None;
            if let Some(team) = model.team.as_mut() {
                team.pause_at = Some(ctx.now);
            }
            let to = if paused { "paused" } else { "running" };
            model.push_journal(
                ctx.now,
                JournalKind::Operator,
                format!("{}: automatic progression {to}", ctx.operator),
            );
            model.set_status(Level::Info, format!("automatic progression {to}"));
        }
        OperatorAction::Acknowledge(change) => {
            model.unfinished.retain(|u| u.change != change);
            if model.unfinished.is_empty() {
                model.set_status(Level::Info, "acknowledged");
            }
        }
    }
}
