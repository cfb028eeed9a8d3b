//! Changes, from the key to the last step: the policy check, the dialog,
//! the recheck at Enter, then one step at a time — calls through the
//! runner (`Effect::Step`, answered by `Msg::StepDone`), waits watched here
//! as fresh fleet data arrives. A rollback never waits behind another
//! change: it stops it at the next step boundary and starts from whatever
//! state that change left. Quit and signals stop a change the same way.

use unicode_width::UnicodeWidthStr;

use super::{Ctx, Effect};
use crate::core::change::{self as plans, Change, ChangeKind, Step};
use crate::core::effect::{BeginCall, JournalRecord, OperatorAction, StepCall};
use crate::core::model::{
    Confirm, ConfirmField, ErrorKind, Finished, Forward, JournalKind, LeaseGrant, LeaseHolder,
    Level, Loadable, Model, Overlay, Proposal, RequestId, Running, SourceError, Track,
};
use crate::core::plan::Phase;
use crate::core::policy::{self, Requirements};
use tui_input::Input;

/// How often a change that waits checks it still holds its lease.
const LEASE_CHECK_DURING_WAITS: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// The widest a confirmation dialog gets.
pub const DIALOG_WIDTH: u16 = 76;

/// Read-only, quitting, or another change under way (a rollback may
/// overtake any change but another rollback).
pub(super) fn allowed(model: &Model, is_rollback: bool, ctx: &Ctx) -> Result<Requirements, String> {
    let req = policy::requirements(
        model.read_only,
        model.service.protected,
        model.service.change_window.as_ref(),
        is_rollback,
        ctx.now,
    )?;
    if model.stopping.is_some() {
        return Err("quitting: no new change".into());
    }
    if let Some(running) = &model.running {
        let at = running.at();
        if running.change.kind == ChangeKind::Rollback {
            return Err(format!("a rollback is already under way ({at})"));
        }
        if !is_rollback {
            return Err(format!(
                "a change is in progress ({at}): wait for it to finish, or roll back"
            ));
        }
        if model.pending_rollback.is_some() {
            return Err(
                "a rollback is already confirmed: it starts after the call under way".into(),
            );
        }
    }
    Ok(req)
}

/// What the dialog of a proposal asks for: the policy's, and for a review
/// always a reason (GitHub requires the review's comment).
fn requirements(model: &Model, proposal: Proposal, ctx: &Ctx) -> Result<Requirements, String> {
    let mut req = allowed(model, proposal == Proposal::Rollback, ctx)?;
    if matches!(proposal, Proposal::Approve | Proposal::Reject) {
        req.reason = true;
    }
    Ok(req)
}

/// The plan of a proposal, computed from the model as it is now, with what
/// it leaves as it is.
fn compute(model: &Model, proposal: Proposal) -> Result<plans::Planned, String> {
    let plain = |(kind, from, to, steps)| (kind, from, to, steps, Vec::new());
    match proposal {
        Proposal::Advance => plans::advance(model).map(plain),
        Proposal::Weight(w) => plans::set_weight(model, w).map(plain),
        Proposal::Promote => plans::promote(model).map(plain),
        Proposal::Approve => plans::review(model, true).map(plain),
        Proposal::Reject => plans::review(model, false).map(plain),
        Proposal::Rollback => plans::rollback(model),
    }
}

fn build(model: &Model, proposal: Proposal) -> Result<Change, String> {
    let (kind, from, to, steps, notes) = compute(model, proposal)?;
    Ok(Change {
        id: 0,
        kind,
        service: model.service.name.clone(),
        from,
        to,
        reason: None,
        automatic: false,
        steps,
        notes,
    })
}

/// The words above the steps: from → to, and what the operator should know.
fn summary(model: &Model, proposal: Proposal, change: &Change) -> (String, Vec<String>) {
    let mut lines = Vec::new();
    let title = match proposal {
        Proposal::Advance | Proposal::Weight(_) => {
            lines.push(format!("Canary traffic {} → {}", change.from, change.to));
            lines.push(format!("Listener rule: {}", model.service.listener_rule));
            if proposal == Proposal::Advance {
                let from = model.canary_weight().unwrap_or(0);
                if let Some((index, step)) = model.plan.next_step(from) {
                    let bake = step.bake.map_or("no bake".to_string(), |b| {
                        format!("bake {}", super::humanize(b))
                    });
                    lines.push(format!(
                        "Plan: step {} of {}, {bake}",
                        index + 1,
                        model.plan.steps.len()
                    ));
                }
                "Advance canary"
            } else {
                "Set canary weight"
            }
        }
        Proposal::Promote => {
            lines.push(format!("Promote: {} → {}", change.from, change.to));
            "Promote canary"
        }
        Proposal::Approve | Proposal::Reject => {
            let approve = proposal == Proposal::Approve;
            if let Some(run) = model.pipeline.value()
                && let Some(p) = &run.pending
            {
                lines.push(format!(
                    "{} run #{} ({}) for environment {}",
                    if approve { "Approve" } else { "Reject" },
                    run.number,
                    super::short_sha(&run.sha),
                    p.environment
                ));
                if approve {
                    lines.push(format!(
                        "Reviews {}/{} → {}/{}",
                        p.approvals,
                        p.required_reviewers,
                        p.approvals + 1,
                        p.required_reviewers
                    ));
                } else {
                    lines.push("The run's deployment job fails; the canary stays as it is".into());
                }
                lines.push("The reason is GitHub's review comment".into());
            }
            if approve {
                "Approve deployment"
            } else {
                "Reject deployment"
            }
        }
        Proposal::Rollback => {
            lines.push(format!(
                "Canary traffic {} → 0%, all to stable first",
                change.from
            ));
            match plans::applicable_baseline(model) {
                Some(b) => lines.push(format!(
                    "Release baseline: stable {} (release {})",
                    b.stable_task_definition, b.release_task_definition
                )),
                None => lines.push("Release baseline: not confirmed".into()),
            }
            for note in &change.notes {
                lines.push(format!("Left as it is: {note}"));
            }
            if let Some(r) = &model.running {
                lines.push(format!("Stops {} (after the call under way)", r.at()));
            }
            "ROLL BACK"
        }
    };
    if matches!(
        proposal,
        Proposal::Advance | Proposal::Weight(_) | Proposal::Promote
    ) && let Some(p) = model.pipeline.value().and_then(|r| r.pending.as_ref())
    {
        lines.push(format!(
            "Note: the deployment to {} is still waiting for approval",
            p.environment
        ));
    }
    (title.to_string(), lines)
}

/// A key or command asked for a change: check the policy, compute the
/// plan, and open its dialog.
pub(super) fn propose(model: &mut Model, proposal: Proposal, ctx: &Ctx) {
    let req = match requirements(model, proposal, ctx) {
        Ok(req) => req,
        Err(why) => return model.set_status(Level::Error, why),
    };
    let change = match build(model, proposal) {
        Ok(c) => c,
        Err(why) => {
            let level = if why.starts_with("nothing") || why.contains("already") {
                Level::Info
            } else {
                Level::Error
            };
            return model.set_status(level, why);
        }
    };
    let (title, lines) = summary(model, proposal, &change);
    let field = if req.type_name {
        ConfirmField::Name
    } else {
        ConfirmField::Reason
    };
    let running = model.running.as_ref().map(|r| r.change.id);
    model.overlay = Overlay::Confirm(Box::new(Confirm {
        title,
        proposal,
        running,
        change,
        lines,
        needs_name: req.type_name,
        needs_reason: req.reason,
        outside_window: req.outside_window,
        name: Input::default(),
        reason: Input::default(),
        field,
        error: None,
    }));
}

/// What differs between the plan shown and the plan now, in words.
fn difference(shown: &Change, now: &Change) -> String {
    if shown.from != now.from || shown.to != now.to {
        return format!(
            "it was {} → {}, it is now {} → {}",
            shown.from, shown.to, now.from, now.to
        );
    }
    let first = shown
        .steps
        .iter()
        .zip(&now.steps)
        .position(|(a, b)| a != b)
        .unwrap_or(shown.steps.len().min(now.steps.len()));
    match (shown.steps.get(first), now.steps.get(first)) {
        (Some(a), Some(b)) => format!(
            "step {} was \"{}\", it is now \"{}\"",
            first + 1,
            a.describe(),
            b.describe()
        ),
        (Some(a), None) => format!(
            "step {} (\"{}\") is no longer needed",
            first + 1,
            a.describe()
        ),
        (None, Some(b)) => format!("a step was added: \"{}\"", b.describe()),
        (None, None) => "what the policy asks for changed".into(),
    }
}

/// Enter on a complete dialog: compute the plan again from the model as it
/// is now; if it is not what the dialog showed, show the new plan and ask
/// again; else start it.
pub(super) fn confirm(
    model: &mut Model,
    mut dialog: Confirm,
    reason: String,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let is_rollback = dialog.proposal == Proposal::Rollback;
    let now = requirements(model, dialog.proposal, ctx)
        .and_then(|req| Ok((req, build(model, dialog.proposal)?)));
    let (req, change) = match now {
        Ok(v) => v,
        Err(why) => {
            model.set_status(Level::Error, format!("not done, no longer possible: {why}"));
            return;
        }
    };
    let same_req = req.type_name == dialog.needs_name
        && req.reason == dialog.needs_reason
        && req.outside_window == dialog.outside_window;
    let running = model.running.as_ref().map(|r| r.change.id);
    if !change.same_plan(&dialog.change) || !same_req || running != dialog.running {
        let what = if !change.same_plan(&dialog.change) {
            difference(&dialog.change, &change)
        } else if running != dialog.running {
            match &model.running {
                Some(r) => format!("{} started; this stops it", r.at()),
                None => "the change under way ended".to_string(),
            }
        } else {
            "the change window or policy changed".to_string()
        };
        dialog.running = running;
        let (title, lines) = summary(model, dialog.proposal, &change);
        dialog.title = title;
        dialog.lines = lines;
        dialog.change = change;
        dialog.needs_name = req.type_name;
        dialog.needs_reason = req.reason;
        dialog.outside_window = req.outside_window;
        if dialog.needs_reason && reason.is_empty() && !dialog.needs_name {
            dialog.field = ConfirmField::Reason;
        }
        dialog.error = Some(format!(
            "Changed since shown: {what}. Check the steps, then Enter again."
        ));
        model.overlay = Overlay::Confirm(Box::new(dialog));
        return;
    }
    let reason = (!reason.is_empty()).then_some(reason);
    if is_rollback {
        start_rollback(model, reason, false, ctx, fx);
    } else {
        let mut change = change;
        // A review posts the reason as its comment.
        for step in &mut change.steps {
            if let Step::Review { comment, .. } = step {
                *comment = reason.clone().unwrap_or_default();
            }
        }
        change.reason = reason;
        start(model, change, ctx, fx);
    }
}

/// The automation's change: the same plans and policy as an operator's,
/// without a dialog (`auto` checked the holds).
pub(super) fn start_automatic(
    model: &mut Model,
    proposal: Proposal,
    reason: String,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) -> Result<(), String> {
    if proposal == Proposal::Rollback {
        allowed(model, true, ctx)?;
        start_rollback(model, Some(reason), true, ctx, fx);
        return Ok(());
    }
    allowed(model, false, ctx)?;
    let mut change = build(model, proposal)?;
    change.automatic = true;
    change.reason = Some(reason);
    start(model, change, ctx, fx);
    Ok(())
}

/// Start a rollback now, or, when a call of another change is in flight,
/// right after it: that change stops at the step boundary.
fn start_rollback(
    model: &mut Model,
    reason: Option<String>,
    automatic: bool,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    if let Some(running) = &mut model.running {
        running.stop = Some("preempted by a rollback".into());
        if running.call_in_flight {
            let step = running.index + 1;
            model.pending_rollback = Some((reason, automatic));
            model.set_status(
                Level::Warn,
                format!("rollback: starts when the call under way (step {step}) answers"),
            );
            return;
        }
        close(model, ctx, fx);
    }
    let mut change = match build(model, Proposal::Rollback) {
        Ok(c) => c,
        Err(why) => {
            let mut rec = simple_record(model, ctx, "rollback", "?", "0%");
            rec.result = format!("failed: impossible: {why}");
            rec.reason = reason;
            rec.automatic = automatic;
            fx.push(Effect::Journal(rec));
            model.push_journal(
                ctx.now,
                JournalKind::Error,
                format!("rollback impossible: {why}"),
            );
            return model.set_status(Level::Error, format!("rollback impossible: {why}"));
        }
    };
    change.reason = reason;
    change.automatic = automatic;
    start(model, change, ctx, fx);
}

fn who(change: &Change, ctx: &Ctx) -> String {
    if change.automatic {
        format!("flightdeck (analysis) for {}", ctx.operator)
    } else {
        ctx.operator.clone()
    }
}

/// A journal record of a change; `step` names one of its steps.
fn record(
    model: &Model,
    running: &Running,
    result: &str,
    step: Option<usize>,
    ctx: &Ctx,
) -> JournalRecord {
    let change = &running.change;
    let total = change.steps.len();
    JournalRecord {
        time: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        operator: who(change, ctx),
        service: model.service.name.clone(),
        identity: Some(model.service.identity()),
        action: change.kind.action_name().into(),
        from: change.from.clone(),
        to: change.to.clone(),
        reason: change.reason.clone(),
        result: result.into(),
        request_ids: Vec::new(),
        automatic: change.automatic,
        change: Some(running.journal_id.clone()),
        step: step.and_then(|i| {
            let s = change.steps.get(i)?;
            Some(format!("{}/{total} {}: {}", i + 1, s.name(), s.describe()))
        }),
        steps: Vec::new(),
        weights: None,
        via: None,
    }
}

/// Journal the start and carry out the first step.
fn start(model: &mut Model, mut change: Change, ctx: &Ctx, fx: &mut Vec<Effect>) {
    change.id = model.next_change_id;
    model.next_change_id += 1;
    let running = Running {
        journal_id: format!("{}-{}", model.session, change.id),
        change,
        index: 0,
        step_started: ctx.now,
        // The lease and the start record are "in flight" until `Begun`:
        // a rollback or a quit waits for that answer like for a call.
        call_in_flight: true,
        ran: Vec::new(),
        request_ids: Vec::new(),
        failures: Vec::new(),
        stop: None,
        progress: None,
        lease: None,
        lease_checked: ctx.now,
        failure_kind: None,
    };
    let c = &running.change;
    let kind = if c.automatic {
        JournalKind::Automatic
    } else {
        JournalKind::Operator
    };
    let reason = c
        .reason
        .as_deref()
        .map(|r| format!(" — {r}"))
        .unwrap_or_default();
    let text = format!(
        "{}: {} {} → {} started, {} steps{reason}",
        if c.automatic {
            "auto"
        } else {
            ctx.operator.as_str()
        },
        c.kind.action_name(),
        c.from,
        c.to,
        c.steps.len()
    );
    model.push_journal(ctx.now, kind, text);
    model.set_status(
        Level::Info,
        format!("{} {} → {}…", c.kind.action_name(), c.from, c.to),
    );
    model.hold_noted = None;
    fx.push(Effect::Begin(BeginCall {
        change: running.change.id,
        holder: lease_holder(model, &running, ctx),
        take_over: running.change.kind == ChangeKind::Rollback,
        start: start_record(model, &running, ctx),
    }));
    model.running = Some(running);
}

/// Who asks for the lease: the operator (or the automation for them), from
/// the console or the CLI, for this change.
fn lease_holder(model: &Model, running: &Running, ctx: &Ctx) -> LeaseHolder {
    LeaseHolder {
        operator: who(&running.change, ctx),
        via: if model.observer { "cli" } else { "console" }.into(),
        change: running.journal_id.clone(),
        action: running.change.kind.action_name().into(),
        host: String::new(),
        pid: 0,
        since: String::new(),
    }
}

/// The runner answered `Effect::Begin`: the change holds the service's
/// lease and its start is journaled — or another actor holds the lease and
/// nothing was done.
pub(super) fn on_begun(
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
        // stops at its next step boundary.
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

/// Another actor holds the service's lease: the change never began. Said
/// and journaled; an automatic change pauses the automation rather than
/// try again.
fn refused(model: &mut Model, e: &SourceError, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(running) = model.running.take() else {
        return;
    };
    let c = &running.change;
    let result = format!("refused: {e}");
    let mut rec = simple_record(model, ctx, c.kind.action_name(), &c.from, &c.to);
    rec.result = result.clone();
    rec.reason = c.reason.clone();
    rec.automatic = c.automatic;
    rec.operator = who(c, ctx);
    fx.push(Effect::Journal(rec));
    let text = format!("{} {} → {} {result}", c.kind.action_name(), c.from, c.to);
    model.push_journal(ctx.now, JournalKind::Error, text.clone());
    model.set_status(Level::Error, text);
    model.last_change = Some(Finished {
        change: running.change.clone(),
        result,
        ran: Vec::new(),
        failure: Some(e.kind),
    });
    if running.change.automatic {
        let why = format!(
            "an automatic {} could not begin: {}",
            running.change.kind.action_name(),
            e.message
        );
        pause_automation(model, &why, ctx, fx);
    }
    after_stop(model, ctx, fx);
}

/// During a wait the runner found the lease taken over: stop here.
pub(super) fn on_lease_lost(
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
fn preempted(model: &mut Model, error: &SourceError, ctx: &Ctx, fx: &mut Vec<Effect>) {
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

fn start_record(model: &Model, running: &Running, ctx: &Ctx) -> JournalRecord {
    let mut r = record(model, running, "started", None, ctx);
    r.steps = running.change.step_lines();
    r
}

/// Begin the step at `running.index`: send a call to the runner, or start
/// watching for a wait's condition.
fn begin_step(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(running) = &model.running else {
        return;
    };
    let index = running.index;
    let Some(step) = running.change.steps.get(index).cloned() else {
        return finish(model, ctx, fx);
    };
    let Some(running) = &model.running else {
        return;
    };
    if step.is_wait() && model.stopping.is_some() && running.change.kind == ChangeKind::Rollback {
        return skip_wait(model, ctx, fx);
    }
    if step.is_wait() {
        fx.push(Effect::Journal(record(
            model,
            running,
            "started",
            Some(index),
            ctx,
        )));
        if let Some(r) = &mut model.running {
            r.step_started = ctx.now;
            r.progress = None;
        }
        // Ask for fresh data now rather than at the next poll.
        fx.push(Effect::Refresh);
        return;
    }
    let before = vec![record(model, running, "started", Some(index), ctx)];
    let after = record(model, running, "ok", Some(index), ctx);
    let call = StepCall {
        change: running.change.id,
        index,
        step,
        before,
        after,
    };
    if let Some(r) = &mut model.running {
        r.step_started = ctx.now;
        r.call_in_flight = true;
        r.progress = None;
    }
    fx.push(Effect::Step(call));
}

/// The runner answered a call.
pub(super) fn on_step_done(
    model: &mut Model,
    id: u64,
    index: usize,
    result: Result<Option<RequestId>, SourceError>,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let Some(running) = &mut model.running else {
        return;
    };
    if running.change.id != id || running.index != index || !running.call_in_flight {
        return;
    }
    running.call_in_flight = false;
    let Some(step) = running.change.steps.get(index).cloned() else {
        return;
    };
    fx.push(Effect::Refresh);
    match result {
        Ok(request_id) => {
            running.request_ids.extend(request_id);
            running
                .ran
                .push(format!("{}. {}: ok", index + 1, step.describe()));
            // The call succeeded: the rule has these weights now.
            if let Step::SetWeights { to, .. } = step {
                let forward = match model.traffic.value() {
                    Some(f) => Forward {
                        split: to,
                        ..f.clone()
                    },
                    None => Forward {
                        stable_target_group: String::new(),
                        canary_target_group: String::new(),
                        split: to,
                        stickiness: None,
                        other: Vec::new(),
                    },
                };
                super::data::on_traffic(model, forward, ctx);
                model.weights_written_at = Some(ctx.now);
            }
            if matches!(step, Step::ScaleCanary { .. } | Step::UpdateStable { .. }) {
                model.fleet_written_at = Some(ctx.now);
            }
            next_step(model, ctx, fx);
        }
        Err(e) if e.kind == ErrorKind::Preempted => preempted(model, &e, ctx, fx),
        Err(e) => {
            running.request_ids.extend(e.request_id.clone());
            running.failure_kind.get_or_insert(e.kind);
            step_failed(model, &step, &format!("{e}"), ctx, fx);
        }
    }
}

/// A step failed: the change ends there, except a rollback, which goes on
/// past anything but its move of traffic to stable (scaling the canary to
/// 0 is still right when the stable update failed).
fn step_failed(model: &mut Model, step: &Step, why: &str, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(running) = &mut model.running else {
        return;
    };
    let index = running.index;
    let line = format!("{}. {}: failed: {why}", index + 1, step.describe());
    running.ran.push(line.clone());
    running.failures.push(line);
    let kind = running.change.kind;
    model.push_journal(
        ctx.now,
        JournalKind::Error,
        format!("step {} {} failed: {why}", index + 1, step.name()),
    );
    let goes_on = kind == ChangeKind::Rollback && !matches!(step, Step::SetWeights { .. });
    if goes_on {
        next_step(model, ctx, fx);
    } else {
        close(model, ctx, fx);
        after_stop(model, ctx, fx);
    }
}

/// A step ended well: stop here if asked to, else go on.
fn next_step(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(running) = &mut model.running else {
        return;
    };
    running.index += 1;
    if running.stop.is_some() && running.index < running.change.steps.len() {
        close(model, ctx, fx);
        return after_stop(model, ctx, fx);
    }
    begin_step(model, ctx, fx);
}

/// Quitting during a rollback: the wait step at hand is not watched (the
/// journal says so), and the rollback goes on with its next call.
fn skip_wait(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(running) = &model.running else {
        return;
    };
    let index = running.index;
    let Some(step) = running.change.steps.get(index).cloned() else {
        return;
    };
    let why = model.stopping.clone().unwrap_or_default();
    let rec = record(model, running, &format!("skipped: {why}"), Some(index), ctx);
    fx.push(Effect::Journal(rec));
    if let Some(r) = &mut model.running {
        r.ran.push(format!(
            "{}. {}: not watched ({why})",
            index + 1,
            step.describe()
        ));
    }
    next_step(model, ctx, fx);
}

fn finish(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    close(model, ctx, fx);
    after_stop(model, ctx, fx);
}

/// After a change ended: a rollback that was waiting starts, a quit that
/// was waiting quits.
fn after_stop(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if let Some((reason, automatic)) = model.pending_rollback.take()
        && model.stopping.is_none()
    {
        start_rollback(model, reason, automatic, ctx, fx);
        return;
    }
    if model.stopping.is_some() && model.running.is_none() {
        model.quit = true;
        fx.push(Effect::Quit);
    }
}

/// End the change under way (all steps done, failed, or stopped) and
/// journal which steps ran.
fn close(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(mut running) = model.running.take() else {
        return;
    };
    let total = running.change.steps.len();
    let done = running.index.min(total);
    let result = if let Some(stop) = &running.stop
        && done < total
    {
        // A wait under way is cut short: say so beside the steps that ran.
        if let Some(step) = running.change.steps.get(done)
            && step.is_wait()
        {
            running
                .ran
                .push(format!("{}. {}: interrupted", done + 1, step.describe()));
        }
        let traffic = model
            .canary_weight()
            .map_or("unknown".to_string(), |w| format!("canary {w}%"));
        // What ECS said last, not what was asked for: a call that timed
        // out may or may not have happened.
        let tasks = match model.fleet.value().and_then(|f| f.service(Track::Canary)) {
            Some(s) => format!(
                ", canary service at {} running of {} desired (ECS, read {}s ago)",
                s.running,
                s.desired,
                model.fleet.age(ctx.now).map_or(0, |a| a.as_secs())
            ),
            None => String::new(),
        };
        format!("stopped: {stop} after {done} of {total} steps; traffic left at {traffic}{tasks}")
    } else if let Some(first) = running.failures.first() {
        format!("failed: {first}")
    } else {
        "ok".to_string()
    };
    let mut rec = record(model, &running, &result, None, ctx);
    rec.request_ids = running.request_ids.clone();
    rec.steps = running.ran.clone();
    rec.steps.extend(
        running
            .change
            .notes
            .iter()
            .map(|n| format!("not changed: {n}")),
    );
    fx.push(Effect::Journal(rec));
    for note in &running.change.notes {
        model.push_journal(ctx.now, JournalKind::Error, format!("not changed: {note}"));
    }
    if running.lease.is_some() {
        fx.push(Effect::Release {
            change: running.change.id,
        });
    }
    let failure = (result != "ok").then(|| running.failure_kind.unwrap_or(ErrorKind::Other));
    let c = &running.change;
    let ids = if running.request_ids.is_empty() {
        String::new()
    } else {
        format!(" [{}]", running.request_ids.join(", "))
    };
    let kind = if result == "ok" {
        if c.automatic {
            JournalKind::Automatic
        } else {
            JournalKind::Operator
        }
    } else {
        JournalKind::Error
    };
    let short = if result == "ok" {
        "done"
    } else {
        result.as_str()
    };
    model.push_journal(
        ctx.now,
        kind,
        format!(
            "{} {} → {} {short}{ids}",
            c.kind.action_name(),
            c.from,
            c.to
        ),
    );
    let level = if result == "ok" {
        Level::Info
    } else {
        Level::Error
    };
    model.set_status(
        level,
        format!("{} {} → {}: {short}", c.kind.action_name(), c.from, c.to),
    );
    if result == "ok" {
        match c.kind {
            ChangeKind::Rollback => {
                model.plan_state.phase = Phase::RolledBack;
                model.analysis.consecutive_failures = 0;
            }
            ChangeKind::Promote => model.plan_state.phase = Phase::Promoted,
            _ => {}
        }
    }
    if result.starts_with("stopped") && model.stopping.is_some() {
        model.exit_code = 1;
    }
    let failed = !running.failures.is_empty() && model.stopping.is_none();
    if failed && c.kind == ChangeKind::Rollback {
        // Automation must not go on with a release whose rollback did not
        // complete: the operator decides.
        pause_automation(model, "the rollback did not complete", ctx, fx);
    } else if failed && c.automatic {
        // Never tried again on its own: one failure, then the operator.
        let why = format!(
            "an automatic {} failed: {}",
            c.kind.action_name(),
            running.failures.first().map_or("", String::as_str)
        );
        pause_automation(model, &why, ctx, fx);
    }
    model.last_change = Some(Finished {
        change: running.change.clone(),
        result,
        ran: running.ran,
        failure,
    });
}

/// Fresh fleet data or a tick: has the wait under way been met, or has it
/// timed out?
pub(super) fn check_wait(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(running) = &model.running else {
        return;
    };
    if running.call_in_flight {
        return;
    }
    let Some(step) = running.change.steps.get(running.index).cloned() else {
        return;
    };
    let started = running.step_started;
    let index = running.index;
    let (timeout, met, progress) = match &step {
        Step::WaitCanaryHealthy { count, timeout } => {
            let (met, progress) = match &model.fleet {
                Loadable::Ready { value, at } if *at >= started => {
                    let healthy: u32 = value
                        .targets
                        .iter()
                        .filter(|t| t.track == Track::Canary)
                        .map(|t| t.healthy)
                        .sum();
                    (
                        healthy >= *count,
                        Some(format!("{healthy}/{count} canary targets healthy")),
                    )
                }
                _ => (false, None),
            };
            (*timeout, met, progress)
        }
        Step::WaitStable {
            task_definition,
            timeout,
        } => {
            let (met, progress) = match &model.fleet {
                Loadable::Ready { value, at } if *at >= started => {
                    let stable = value.service(Track::Stable);
                    let primary = stable.and_then(|s| {
                        s.deployments.iter().find(|d| {
                            d.status == "PRIMARY" && d.task_definition == *task_definition
                        })
                    });
                    // The criterion of `aws ecs wait services-stable`: the
                    // service on the task definition with one deployment
                    // and running = desired, or its rollout COMPLETED.
                    let met = stable.is_some_and(|s| {
                        s.task_definition == *task_definition
                            && (s.deployments.len() == 1 && s.running == s.desired
                                || primary.is_some_and(|d| d.rollout_state == "COMPLETED"))
                    });
                    let progress = primary.map_or_else(
                        || format!("stable not yet on {task_definition}"),
                        |d| {
                            format!(
                                "{}/{} stable tasks on {task_definition}",
                                d.running, d.desired
                            )
                        },
                    );
                    (met, Some(progress))
                }
                _ => (false, None),
            };
            (*timeout, met, progress)
        }
        _ => return,
    };
    if let (Some(r), Some(p)) = (&mut model.running, progress.clone()) {
        r.progress = Some(p);
    }
    if met {
        let Some(r) = &model.running else { return };
        let rec = record(model, r, "ok", Some(index), ctx);
        fx.push(Effect::Journal(rec));
        if let Some(r) = &mut model.running {
            r.ran
                .push(format!("{}. {}: ok", index + 1, step.describe()));
        }
        return next_step(model, ctx, fx);
    }
    // A wait is long: a rollback elsewhere may take the lease meanwhile.
    if let Some(r) = &mut model.running
        && r.lease.is_some()
        && ctx.now - r.lease_checked >= LEASE_CHECK_DURING_WAITS
    {
        r.lease_checked = ctx.now;
        fx.push(Effect::CheckLease {
            change: r.change.id,
        });
    }
    let waited = (ctx.now - started).to_std().unwrap_or_default();
    if waited >= timeout {
        let why = format!(
            "timed out after {}{}",
            super::humanize(timeout),
            progress.map(|p| format!(": {p}")).unwrap_or_default()
        );
        if let Some(r) = &model.running {
            let rec = record(model, r, &format!("failed: {why}"), Some(index), ctx);
            fx.push(Effect::Journal(rec));
        }
        if let Some(r) = &mut model.running {
            r.failure_kind.get_or_insert(ErrorKind::Timeout);
        }
        step_failed(model, &step, &why, ctx, fx);
    }
}

/// Stop the change under way at its next step boundary: now, when no call
/// is in flight.
pub(super) fn stop(model: &mut Model, why: &str, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(running) = &mut model.running else {
        return;
    };
    running.stop = Some(why.to_string());
    if !running.call_in_flight {
        close(model, ctx, fx);
        after_stop(model, ctx, fx);
    }
}

/// Esc (or `:abandon`) during a wait: the change ends at that step, and
/// nothing more is touched.
pub(super) fn abandon(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(running) = &mut model.running else {
        return model.set_status(Level::Info, "nothing to abandon: no change is under way");
    };
    if running.call_in_flight {
        return model.set_status(
            Level::Warn,
            "a call is in flight: it finishes first (roll back with R to undo)",
        );
    }
    running.stop = Some(format!("abandoned by {} during a wait", ctx.operator));
    let automatic = running.change.automatic;
    close(model, ctx, fx);
    if automatic {
        // Else the plan would start the same change again at the next tick.
        pause_automation(model, "an automatic change was abandoned", ctx, fx);
    }
    after_stop(model, ctx, fx);
}

/// Quit or a signal: a change stops at its next step boundary (the call in
/// flight finishes and is journaled), then the console exits.
pub(super) fn shut_down(model: &mut Model, why: &str, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if model.stopping.is_none() {
        model.stopping = Some(why.to_string());
    }
    if let Some((reason, automatic)) = model.pending_rollback.take() {
        model.push_journal(
            ctx.now,
            JournalKind::Error,
            format!("{why}: the confirmed rollback was not started"),
        );
        let mut rec = simple_record(model, ctx, "rollback", "confirmed", "not started");
        rec.result = format!("failed: not started: {why} before the call under way answered");
        rec.reason = reason;
        rec.automatic = automatic;
        fx.push(Effect::Journal(rec));
    }
    match &mut model.running {
        // A confirmed rollback is carried out to its end (an SSH drop at
        // 3 a.m. must not cancel it): its calls are made, its last wait is
        // not watched, then the console quits.
        Some(running) if running.change.kind == ChangeKind::Rollback => {
            let at = running.at();
            let waiting = !running.call_in_flight
                && running
                    .change
                    .steps
                    .get(running.index)
                    .is_some_and(Step::is_wait);
            model.set_status(
                Level::Warn,
                format!("{why}: quitting once the rollback under way has made its calls ({at})…"),
            );
            if waiting {
                // Watching a wait: stop watching, go on to its next call.
                skip_wait(model, ctx, fx);
            }
        }
        Some(running) => {
            running.stop = Some(format!("{why} during the change"));
            if running.call_in_flight {
                model.set_status(
                    Level::Warn,
                    format!("{why}: stopping after the call under way…"),
                );
            } else {
                close(model, ctx, fx);
                after_stop(model, ctx, fx);
            }
        }
        None => {
            model.quit = true;
            fx.push(Effect::Quit);
        }
    }
}

/// `:ack`: the operator has seen the unfinished changes of an earlier run.
pub(super) fn acknowledge(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
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
pub(super) fn simple_record(
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
pub(super) fn toggle_pause(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
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
pub(super) fn pause_automation(model: &mut Model, why: &str, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if model.plan_state.paused {
        return;
    }
    model.plan_state.paused = true;
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
pub(super) fn on_operator_done(model: &mut Model, action: OperatorAction, ctx: &Ctx) {
    match action {
        OperatorAction::SetPaused(paused) => {
            model.plan_state.paused = paused;
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

// ----- the dialog's size -------------------------------------------------------

/// What a dialog line is, for its style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogRole {
    Title,
    Text,
    Step,
    Warn,
    Field(ConfirmField),
    Error,
    Hint,
}

/// The dialog's lines, wrapped to `inner` columns: the view draws exactly
/// these, and `dialog_fits` counts exactly these. Fields are one row each
/// (the view scrolls a long value).
pub fn dialog_lines(
    confirm: &Confirm,
    service: &str,
    environment: &str,
    inner: u16,
) -> Vec<(DialogRole, String)> {
    let inner = usize::from(inner.max(8));
    let mut out = Vec::new();
    let mut push = |role: DialogRole, text: &str| {
        for row in wrap(text, inner) {
            out.push((role, row));
        }
    };
    push(DialogRole::Title, &format!("{service} · {environment}"));
    for line in &confirm.lines {
        push(DialogRole::Text, line);
    }
    push(DialogRole::Text, "Steps:");
    for line in confirm.change.step_lines() {
        push(DialogRole::Step, &format!("  {line}"));
    }
    if let Some(window) = &confirm.outside_window {
        push(DialogRole::Warn, window);
    }
    push(DialogRole::Text, "");
    if confirm.needs_name {
        out.push((
            DialogRole::Field(ConfirmField::Name),
            format!("Type {service} to confirm:"),
        ));
    }
    if confirm.needs_reason {
        out.push((DialogRole::Field(ConfirmField::Reason), "Reason:".into()));
    }
    let mut push = |role: DialogRole, text: &str| {
        for row in wrap(text, inner) {
            out.push((role, row));
        }
    };
    if let Some(error) = &confirm.error {
        push(DialogRole::Error, error);
    }
    push(
        DialogRole::Hint,
        "Enter confirm · Esc cancel · Tab next field",
    );
    out
}

/// The dialog's width and height (with borders) on a screen this wide.
pub fn dialog_size(confirm: &Confirm, model: &Model, screen_width: u16) -> (u16, u16) {
    let width = DIALOG_WIDTH.min(screen_width);
    let rows = dialog_lines(
        confirm,
        &model.service.name,
        &model.service.environment,
        width.saturating_sub(2),
    )
    .len();
    (width, u16::try_from(rows + 2).unwrap_or(u16::MAX))
}

/// Whether all of the dialog is on screen (an unknown size is not).
/// What Enter says on a dialog that is not wholly on screen.
pub const ENLARGE: &str = "enlarge the terminal to confirm";

pub fn dialog_fits(model: &Model, confirm: &Confirm) -> bool {
    let Some((w, h)) = model.screen else {
        return false;
    };
    // Narrower than this, the fields cannot show what is typed.
    if w < 40 {
        return false;
    }
    let (_, rows) = dialog_size(confirm, model, w);
    rows <= h
}

/// Greedy word wrap by display width; a word longer than a row is cut.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let mut row = String::new();
    for word in text.split(' ') {
        let sep = usize::from(!row.is_empty());
        if row.width() + sep + word.width() <= width {
            if sep == 1 {
                row.push(' ');
            }
            row.push_str(word);
            continue;
        }
        if !row.is_empty() {
            rows.push(std::mem::take(&mut row));
        }
        let mut rest = word;
        while rest.width() > width {
            let mut cut = 0;
            let mut w = 0;
            for (i, c) in rest.char_indices() {
                let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                if w + cw > width {
                    break;
                }
                w += cw;
                cut = i + c.len_utf8();
            }
            if cut == 0 {
                break;
            }
            rows.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        row.push_str(rest);
    }
    rows.push(row);
    rows
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
        assert_eq!(wrap("→ x", 3), ["→ x"]);
    }
}
