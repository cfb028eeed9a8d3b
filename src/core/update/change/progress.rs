//! A change under way, one step at a time: its start, each call through
//! the runner (`Effect::Step` answered by `Msg::StepDone`), each wait
//! watched on fresh fleet data, failures, stops at a step boundary
//! (rollback, Esc, quit, signals) and its end record. A confirmed rollback
//! is carried out to its end even when the console quits.

use super::*;

/// How often a change that waits checks it still holds its lease.
pub(in crate::core::update) const LEASE_CHECK_DURING_WAITS: chrono::TimeDelta =
    chrono::TimeDelta::seconds(2);

/// The automation's change: the same plans and policy as an operator's,
/// without a dialog (`auto` checked the holds).
pub(in crate::core::update) fn start_automatic(
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
pub(in crate::core::update) fn start_rollback(
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

/// Journal the start and carry out the first step.
pub(in crate::core::update) fn start(
    model: &mut Model,
    mut change: Change,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
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

/// Begin the step at `running.index`: send a call to the runner, or start
/// watching for a wait's condition.
pub(in crate::core::update) fn begin_step(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
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
    // Quitting: a rollback's waits are not watched — except the wait for a
    // taken-over actor's call in flight (bounded by that call's timeout),
    // which the re-set after it needs.
    if step.is_wait()
        && !matches!(step, Step::WaitUntil { .. })
        && model.stopping.is_some()
        && running.change.kind == ChangeKind::Rollback
    {
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
pub(in crate::core::update) fn on_step_done(
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
                crate::core::update::data::on_traffic(model, forward, ctx);
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
pub(in crate::core::update) fn step_failed(
    model: &mut Model,
    step: &Step,
    why: &str,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let Some(running) = &mut model.running else {
        return;
    };
    let index = running.index;
    // A call with no answer has an unknown outcome (the runner says what
    // the provider shows now), not a failure.
    let word = if why.starts_with("outcome unknown") {
        ""
    } else {
        "failed: "
    };
    let line = format!("{}. {}: {word}{why}", index + 1, step.describe());
    running.ran.push(line.clone());
    running.failures.push(line);
    let kind = running.change.kind;
    model.push_journal(
        ctx.now,
        JournalKind::Error,
        format!("step {} {}: {word}{why}", index + 1, step.name()),
    );
    // A native rollback whose call failed has nothing to wait for.
    let goes_on =
        kind == ChangeKind::Rollback && !matches!(step, Step::SetWeights { .. } | Step::Native(_));
    if goes_on {
        next_step(model, ctx, fx);
    } else {
        close(model, ctx, fx);
        after_stop(model, ctx, fx);
    }
}

/// A step ended well: stop here if asked to, else go on.
pub(in crate::core::update) fn next_step(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
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
pub(in crate::core::update) fn skip_wait(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
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
        // An ECS-native rollback is ECS's to finish: asked, not seen done.
        if let Step::WaitNativeRolledBack { deployment, .. } = &step {
            r.change.notes.push(format!(
                "ECS was asked to roll back but not seen to finish ({why}): `aws ecs describe-service-deployments --service-deployment-arns {deployment}` says how it ended"
            ));
        }
    }
    next_step(model, ctx, fx);
}

pub(in crate::core::update) fn finish(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    close(model, ctx, fx);
    after_stop(model, ctx, fx);
}

/// After a change ended: a rollback that was waiting starts, a quit that
/// was waiting quits.
pub(in crate::core::update) fn after_stop(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if let Some((reason, automatic)) = model.pending_rollback.take() {
        start_rollback(model, reason, automatic, ctx, fx);
        if model.running.is_some() {
            return;
        }
    }
    if model.stopping.is_some() && model.running.is_none() {
        model.quit = true;
        fx.push(Effect::Quit);
    }
}

/// End the change under way (all steps done, failed, or stopped) and
/// journal which steps ran.
pub(in crate::core::update) fn close(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
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
    } else if !running.change.notes.is_empty() {
        // Traffic and the canary are safe; the stable service was left as
        // it was: not a full rollback, and never reported as one.
        format!("partial: {}", running.change.notes.join("; "))
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
pub(in crate::core::update) fn check_wait(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
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
    // Set when the awaited state can no longer come (e.g. ROLLBACK_FAILED).
    let mut ended: Option<String> = None;
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
        Step::WaitNativeRolledBack {
            deployment,
            timeout,
        } => {
            let (met, progress) = native_rolled_back(model, deployment, started, &mut ended);
            (*timeout, met, progress)
        }
        Step::WaitUntil { until, .. } => {
            let left = (*until - ctx.now).num_seconds().max(0);
            (
                // Met when the moment passes; never a timeout before it.
                (*until - started).to_std().unwrap_or_default()
                    + std::time::Duration::from_secs(60),
                ctx.now >= *until,
                Some(format!("{left}s left")),
            )
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
    let (why, kind) = match ended {
        Some(why) => (why, ErrorKind::Conflict),
        None if waited >= timeout => (
            format!(
                "timed out after {}{}",
                crate::core::update::humanize(timeout),
                progress.map(|p| format!(": {p}")).unwrap_or_default()
            ),
            ErrorKind::Timeout,
        ),
        None => return,
    };
    if let Some(r) = &model.running {
        let rec = record(model, r, &format!("failed: {why}"), Some(index), ctx);
        fx.push(Effect::Journal(rec));
    }
    if let Some(r) = &mut model.running {
        r.failure_kind.get_or_insert(kind);
    }
    step_failed(model, &step, &why, ctx, fx);
}

/// Whether ECS has rolled `deployment` back, read since `started`: the
/// deployment ROLLBACK_SUCCESSFUL and the production rule whole on one
/// target group. Sets `ended` when it ended otherwise.
fn native_rolled_back(
    model: &Model,
    deployment: &str,
    started: crate::core::data::Time,
    ended: &mut Option<String>,
) -> (bool, Option<String>) {
    let read = match &model.native {
        Some(Loadable::Ready { value, at }) if *at >= started => value.as_ref(),
        _ => return (false, None),
    };
    let Some(d) = read.filter(|d| d.arn == deployment) else {
        return (
            false,
            Some("the deployment is not the newest any more: waiting for it".into()),
        );
    };
    let split = match &model.traffic {
        Loadable::Ready { value, at } if *at >= started => Some(value.split),
        _ => None,
    };
    // Read so that "stable" is the deployment's source group.
    let whole = split.is_some_and(|s| s.canary == 0 && s.stable > 0);
    let traffic = split.map_or("traffic not read yet".to_string(), |s| {
        format!(
            "source group {}%, target group {}%",
            100 - s.canary_pct(),
            s.canary_pct()
        )
    });
    match d.status.as_str() {
        "ROLLBACK_SUCCESSFUL" => (whole, Some(format!("deployment rolled back; {traffic}"))),
        "ROLLBACK_REQUESTED"
        | "ROLLBACK_IN_PROGRESS"
        | "IN_PROGRESS"
        | "PENDING"
        | "STOP_REQUESTED" => (
            false,
            Some(format!("deployment {}; {traffic}", d.status.to_lowercase())),
        ),
        other => {
            *ended = Some(format!(
                "the deployment ended {other}{}, not ROLLBACK_SUCCESSFUL: check the service (aws ecs describe-service-deployments)",
                d.status_reason
                    .as_ref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
            (false, Some(format!("deployment {}", other.to_lowercase())))
        }
    }
}

/// Stop the change under way at its next step boundary: now, when no call
/// is in flight.
pub(in crate::core::update) fn stop(model: &mut Model, why: &str, ctx: &Ctx, fx: &mut Vec<Effect>) {
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
pub(in crate::core::update) fn abandon(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
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
pub(in crate::core::update) fn shut_down(
    model: &mut Model,
    why: &str,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    if model.stopping.is_none() {
        model.stopping = Some(why.to_string());
    }
    if model.pending_rollback.is_some() {
        // A confirmed rollback waits for the call under way, then runs to
        // its end like any confirmed rollback: quitting does not drop it.
        model.set_status(
            Level::Warn,
            format!("{why}: the confirmed rollback starts when the call under way answers, then the console quits…"),
        );
        if let Some(running) = &mut model.running {
            running.stop = Some(format!("{why}; preempted by a rollback"));
        }
        return;
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
                    .is_some_and(|s| s.is_wait() && !matches!(s, Step::WaitUntil { .. }));
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
