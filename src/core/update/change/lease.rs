//! One actor changes a service at a time. A change begins by taking the
//! service's lease (`Effect::Begin`, answered by `Msg::Begun`); another
//! actor's lease refuses it, naming who holds it and since when. A
//! rollback takes the lease over from anyone and journals whom from; the
//! change it took over sees the lost lease at its next step boundary (or
//! during a wait, `Msg::LeaseLost`), stops there and says so. An automatic
//! change that is preempted, or cannot begin for any reason but another
//! actor's lease, pauses the automation; one refused by another actor's
//! lease holds for `BUSY_HOLD`.

use super::*;

/// Who asks for the lease: the operator (or the automation for them), from
/// the console or the CLI, for this change.
pub(in crate::core::update) fn lease_holder(
    model: &Model,
    running: &Running,
    ctx: &Ctx,
) -> LeaseHolder {
    LeaseHolder {
        operator: who(&running.change, ctx),
        via: model.via.into(),
        change: running.journal_id.clone(),
        action: running.change.kind.action_name().into(),
        host: String::new(),
        pid: 0,
        since: String::new(),
        call_until: None,
        started: None,
    }
}

/// The runner answered `Effect::Begin`: the change holds the service's
/// lease and its start is journaled — or another actor holds the lease and
/// nothing was done.
pub(in crate::core::update) fn on_begun(
    model: &mut Model,
    id: u64,
    result: Result<Box<LeaseGrant>, SourceError>,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let Some(running) = &mut model.running else {
        return;
    };
    if running.change.id != id || running.lease.is_some() {
        return;
    }
    running.call_in_flight = false;
    let grant = match result {
        Ok(grant) => grant,
        Err(e) => return refused(model, &e, ctx, fx),
    };
    running.lease = Some(grant.generation);
    running.lease_checked = ctx.now;
    let action = running.change.kind.action_name();
    let automatic = running.change.automatic;
    if let Some(previous) = grant.took_over {
        // A rollback took the service from another change, whose actor
        // stops at its next step boundary. A call it made may still land:
        // traffic and the canary are set again once it cannot.
        guard_in_flight(model, &previous, ctx);
        let text = format!("took over from {}", previous.describe());
        model.push_journal(ctx.now, JournalKind::Operator, format!("{action}: {text}"));
        let mut rec = simple_record(model, ctx, "lease", &previous.describe(), action);
        rec.result = text;
        rec.automatic = automatic;
        rec.reason = Some(format!("{} took the change lease over", ctx.operator));
        fx.push(Effect::Journal(rec));
    }
    if let Some(why) = grant.unavailable {
        let text =
            format!("the change lease cannot be had ({why}): the rollback goes on without it");
        model.push_journal(ctx.now, JournalKind::Error, text.clone());
        let mut rec = simple_record(model, ctx, "lease", "unavailable", action);
        rec.result = text;
        rec.automatic = automatic;
        fx.push(Effect::Journal(rec));
    }
    if let Some(gone) = grant.expired {
        let text = format!(
            "lease of {}@{} expired (no heartbeat): taken",
            gone.operator, gone.host
        );
        model.push_journal(ctx.now, JournalKind::Operator, text.clone());
        let mut rec = simple_record(model, ctx, "lease", &gone.describe(), action);
        rec.result = text;
        rec.automatic = automatic;
        fx.push(Effect::Journal(rec));
    }
    if let Some(gone) = grant.abandoned {
        model.push_journal(
            ctx.now,
            JournalKind::Operator,
            format!(
                "the change lease of {} was left by a process that ended: taken",
                gone.describe()
            ),
        );
    }
    if model.running.as_ref().is_some_and(|r| r.stop.is_some()) {
        close(model, ctx, fx);
        return after_stop(model, ctx, fx);
    }
    begin_step(model, ctx, fx);
}

/// The taken-over actor's last call may land until `call_until`: the
/// rollback waits for that moment after its own steps, then moves all
/// traffic to stable and the canary to 0 again (both idempotent).
fn guard_in_flight(model: &mut Model, previous: &LeaseHolder, ctx: &Ctx) {
    // ECS owns an ECS-native service's rule and revisions: a late call of
    // the other actor (a continue) meets ECS's rollback, which refuses it.
    // Nothing of ours is set again.
    if model.native.is_some() {
        return;
    }
    let Some(until) = previous
        .call_until
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .filter(|t| *t > ctx.now)
    else {
        return;
    };
    let canary = model.service.canary_service.clone();
    let Some(running) = &mut model.running else {
        return;
    };
    // The stable service too, when the rollback puts it back (a late
    // UpdateStable of a promotion would leave it on the release).
    let stable = running.change.steps.iter().find_map(|s| match s {
        Step::UpdateStable { service, to, .. } => Some((service.clone(), to.clone())),
        _ => None,
    });
    let steps = &mut running.change.steps;
    steps.push(Step::WaitUntil {
        until,
        why: format!("{}'s call in flight", previous.describe()),
    });
    steps.push(Step::SetWeights {
        expect: None,
        to: crate::core::model::TrafficSplit::ALL_STABLE,
    });
    if let Some((service, to)) = &stable {
        steps.push(Step::UpdateStable {
            service: service.clone(),
            from: to.clone(),
            to: to.clone(),
        });
    }
    if let Some(service) = canary {
        steps.push(Step::ScaleCanary {
            service,
            from: 0,
            to: 0,
            expect: None,
        });
    }
    if let Some((_, to)) = stable {
        steps.push(Step::WaitStable {
            task_definition: to,
            timeout: crate::core::change::STABLE_TIMEOUT,
        });
    }
    model.push_journal(
        ctx.now,
        JournalKind::Operator,
        format!(
            "rollback: the change taken over may still have a call landing until {}: traffic and the canary are set again after it",
            until.format("%H:%M:%S UTC")
        ),
    );
}

/// The change could not begin (another actor's lease, or the lease or the
/// journal failing): nothing was done. An operator's change is said and
/// journaled. The automation's, refused by another actor's lease, is not
/// tried again for `BUSY_HOLD`: it holds, and says so once (the hold
/// record), rather than journal a refusal every second or pause itself for
/// a team mate's change; any other failure to begin pauses it.
pub(in crate::core::update) fn refused(
    model: &mut Model,
    e: &SourceError,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let Some(running) = model.running.take() else {
        return;
    };
    let c = &running.change;
    let result = format!("refused: {e}");
    let text = format!("{} {} → {} {result}", c.kind.action_name(), c.from, c.to);
    if c.automatic && e.kind == ErrorKind::Held {
        let who = e
            .message
            .trim_start_matches("another change holds this service: ");
        model.lease_busy = Some((ctx.now + BUSY_HOLD, who.to_string()));
    } else {
        let mut rec = simple_record(model, ctx, c.kind.action_name(), &c.from, &c.to);
        rec.result = result.clone();
        rec.reason = c.reason.clone();
        rec.operator = who(c, ctx);
        fx.push(Effect::Journal(rec));
        model.push_journal(ctx.now, JournalKind::Error, text.clone());
    }
    model.set_status(Level::Error, text);
    model.last_change = Some(Finished {
        change: running.change.clone(),
        result,
        ran: Vec::new(),
        failure: Some(e.kind),
    });
    if running.change.automatic && e.kind != ErrorKind::Held {
        let why = format!(
            "an automatic {} could not begin: {}",
            running.change.kind.action_name(),
            e.message
        );
        pause_automation(model, &why, ctx, fx);
    }
    after_stop(model, ctx, fx);
}

/// How long the automation holds after another actor's lease refused it.
pub(in crate::core::update) const BUSY_HOLD: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// During a wait the runner found the lease taken over: stop here.
pub(in crate::core::update) fn on_lease_lost(
    model: &mut Model,
    id: u64,
    error: SourceError,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let Some(running) = &mut model.running else {
        return;
    };
    if running.change.id != id || running.call_in_flight {
        return;
    }
    preempted(model, &error, ctx, fx);
}

/// The lease was taken over (by a rollback elsewhere): the change stops at
/// this boundary, says so, and an automatic one pauses the automation.
pub(in crate::core::update) fn preempted(
    model: &mut Model,
    error: &SourceError,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let Some(running) = &mut model.running else {
        return;
    };
    running.stop = Some(format!("preempted: {}", error.message));
    running.failure_kind = Some(ErrorKind::Preempted);
    // Its lease is another's now: nothing to give back.
    running.lease = None;
    let automatic = running.change.automatic;
    let action = running.change.kind.action_name();
    model.push_journal(
        ctx.now,
        JournalKind::Error,
        format!("{action} preempted: {}", error.message),
    );
    close(model, ctx, fx);
    if automatic {
        pause_automation(
            model,
            &format!("an automatic {action} was preempted by another actor"),
            ctx,
            fx,
        );
    }
    after_stop(model, ctx, fx);
}
