//! The 1 Hz tick: status expiry, the canary analysis, waits, and automatic
//! progression through the rollout plan — which holds, and says why, on
//! the same policy an operator obeys.

use super::{Ctx, Effect};
use crate::core::analysis::{self, OnFailure, Outcome};
use crate::core::change::ChangeKind;
use crate::core::model::{ErrorKind, JournalKind, Level, Loadable, MetricPoint, Model, Proposal};
use crate::core::plan::Phase;

/// A source that has had no fresh data for longer than this is journaled
/// (once per episode), so the team hears of it.
pub const STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

fn note_stale(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let sources = [
        ("pipeline", stale_since(&model.pipeline)),
        ("fleet", stale_since(&model.fleet)),
        ("traffic", stale_since(&model.traffic)),
    ];
    for (name, state) in sources {
        match state {
            Some((at, error)) if ctx.now - at > STALE_AFTER => {
                if !model.stale_noted.iter().any(|n| n == name) {
                    model.stale_noted.push(name.to_string());
                    let mut record = super::change::simple_record(
                        model,
                        ctx,
                        "stale",
                        name,
                        &format!("no fresh data for {}s", (ctx.now - at).num_seconds()),
                    );
                    record.reason = Some(error);
                    record.automatic = true;
                    record.operator = format!("flightdeck for {}", ctx.operator);
                    fx.push(Effect::Journal(record));
                }
            }
            Some(_) => {}
            None => model.stale_noted.retain(|n| n != name),
        }
    }
}

/// Since when a source has had no fresh data, and why; None when fresh
/// (or never loaded yet).
fn stale_since<T>(l: &Loadable<T>) -> Option<(crate::core::model::Time, String)> {
    match l {
        Loadable::Stale { at, error, .. } => Some((*at, error.to_string())),
        // A source that is not configured is not stale: nothing to tell.
        Loadable::Failed { error, .. } if error.kind == ErrorKind::NotConfigured => None,
        Loadable::Failed { since, error } => Some((*since, error.to_string())),
        _ => None,
    }
}

pub(super) fn on_tick(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if !super::team::watching(model) {
        note_stale(model, ctx, fx);
    }
    if let Some(status) = &mut model.status
        && status.level == Level::Info
    {
        status.ticks_left = status.ticks_left.saturating_sub(1);
        if status.ticks_left == 0 {
            model.status = None;
        }
    }
    run_analysis(model, ctx, fx);
    super::change::check_wait(model, ctx, fx);
    if super::team::watching(model) {
        return;
    }
    stop_held_automation(model, ctx, fx);
    progress(model, ctx, fx);
}

/// Whether verdicts are being taken: a canary with traffic, mid-plan (or
/// mid ECS-native deployment, freshly read, not rolling back, with the
/// groups in the roles they had at start).
pub fn analysing(model: &Model) -> bool {
    let moving = if model.native.is_some() {
        native_moving(model).is_some() && !model.native_swapped
    } else {
        matches!(model.plan_state.phase, Phase::Progressing | Phase::AtFull)
    };
    moving && model.canary_weight().unwrap_or(0) > 0
}

/// An ECS-native deployment under way and not rolling back, as read at the
/// last poll (a stale read is not acted on).
fn native_moving(model: &Model) -> Option<&crate::core::native::NativeDeployment> {
    match model.native.as_ref()? {
        Loadable::Ready { value: Some(d), .. } if d.under_way() && !d.rolling_back() => Some(d),
        _ => None,
    }
}

fn run_analysis(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if !analysing(model) {
        return;
    }
    let settings = model.analysis_settings.clone();
    let Some(last) = model.analysis.last_run else {
        model.analysis.last_run = Some(ctx.now);
        return;
    };
    let interval = chrono::Duration::from_std(settings.interval).unwrap_or_default();
    if ctx.now - last < interval {
        return;
    }
    model.analysis.last_run = Some(ctx.now);
    // Providers report late: the window reaches back as far again.
    let lookback =
        chrono::Duration::from_std(settings.lookback + settings.reporting_lag).unwrap_or_default();
    let since = model
        .plan_state
        .entered_at
        .map_or(ctx.now - lookback, |entered| {
            entered.max(ctx.now - lookback)
        });
    let canary: Vec<MetricPoint> = model.metrics.canary.iter().copied().collect();
    let stable: Vec<MetricPoint> = model.metrics.stable.iter().copied().collect();
    let verdict = analysis::evaluate(&canary, &stable, &settings, since, ctx.now);
    let number = model.analysis.verdicts.len() + 1;
    // The Journal gets the changes of verdict (and every fail, each one
    // counts towards on_failure); a steady run of passes is one line.
    let previous = model.analysis.verdicts.last().map(|v| v.outcome);
    if previous != Some(verdict.outcome) || verdict.outcome == Outcome::Fail {
        model.push_journal(
            ctx.now,
            JournalKind::Verdict,
            format!("#{number} {}: {}", verdict.outcome.label(), verdict.reason),
        );
    }
    // The file journal (and so the team's notifications) gets the changes
    // of verdict: pass → fail, the first inconclusive after passes, back to
    // pass.
    if let Some(before) = previous
        && before != verdict.outcome
        && !super::team::watching(model)
    {
        let mut record = super::change::simple_record(
            model,
            ctx,
            "verdict",
            before.label(),
            verdict.outcome.label(),
        );
        record.reason = Some(verdict.reason.clone());
        record.automatic = true;
        record.operator = format!("flightdeck (analysis) for {}", ctx.operator);
        fx.push(Effect::Journal(record));
    }
    match verdict.outcome {
        Outcome::Pass => model.analysis.consecutive_failures = 0,
        Outcome::Fail => model.analysis.consecutive_failures += 1,
        // No data is not a pass, and not a failure of the canary either.
        Outcome::Inconclusive => {}
    }
    let reason = verdict.reason.clone();
    model.analysis.verdicts.push(verdict);
    if model.analysis.verdicts.len() > 500 {
        model.analysis.verdicts.remove(0);
    }
    if model.analysis.consecutive_failures >= settings.failures_before_action.max(1)
        && !super::team::watching(model)
    {
        act_on_failure(model, settings.on_failure, &reason, ctx, fx);
    }
}

fn act_on_failure(
    model: &mut Model,
    on_failure: OnFailure,
    reason: &str,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let failures = model.analysis.consecutive_failures;
    if model.read_only {
        model.set_status(
            Level::Error,
            format!("analysis failed {failures} times: would {on_failure:?} but read-only")
                .to_lowercase(),
        );
        model.push_journal(
            ctx.now,
            JournalKind::Automatic,
            format!("would {on_failure:?} (read-only): {reason}").to_lowercase(),
        );
        model.analysis.consecutive_failures = 0;
        return;
    }
    match on_failure {
        OnFailure::Rollback => {
            if model
                .running
                .as_ref()
                .is_some_and(|r| r.change.kind == ChangeKind::Rollback)
                || model.pending_rollback.is_some()
            {
                return;
            }
            // The one automatic change allowed outside the window: safety
            // first. Journaled as automatic, with the verdicts behind it.
            let verdicts: Vec<String> = model
                .analysis
                .verdicts
                .iter()
                .rev()
                .take(failures as usize)
                .map(|v| format!("{} {}", v.outcome.label(), v.reason))
                .collect();
            let why = format!(
                "analysis failed {failures} intervals: {reason} [{}]",
                verdicts.join("; ")
            );
            match super::change::start_automatic(model, Proposal::Rollback, why, ctx, fx) {
                Ok(()) => model.set_status(Level::Error, format!("automatic rollback: {reason}")),
                Err(why) => model.set_status(
                    Level::Error,
                    format!("automatic rollback impossible: {why}"),
                ),
            }
        }
        OnFailure::Pause => {
            // Like `p`: a pause record (the team is told), read back at
            // the next start.
            super::change::pause_automation(model, &format!("analysis failed: {reason}"), ctx, fx);
            model.set_status(Level::Error, format!("paused by analysis: {reason}"));
        }
        OnFailure::Alert => {
            model.push_journal(ctx.now, JournalKind::Automatic, format!("alert: {reason}"));
            model.set_status(Level::Error, format!("analysis failing: {reason}"));
        }
    }
    model.analysis.consecutive_failures = 0;
}

/// Why automatic progression is not moving, for the Canary pane; None when
/// it may move (or has nothing to do). The automation obeys the same
/// policy as an operator: window, approvals, pause, read-only, data.
pub fn hold_reason(model: &Model) -> Option<String> {
    let settings = &model.analysis_settings;
    if !settings.auto_advance {
        return Some("manual: auto_advance is off".into());
    }
    if model.read_only {
        return Some("read-only".into());
    }
    if model.native.is_none()
        && !matches!(model.plan_state.phase, Phase::Progressing | Phase::AtFull)
    {
        return None;
    }
    if let Some(r) = &model.running {
        return Some(format!("{} under way", r.change.kind.action_name()));
    }
    if let Some((until, who)) = &model.lease_busy
        && model.now < *until
    {
        return Some(format!("another actor's change: {who}"));
    }
    if let Some(hold) = outside_policy(model) {
        return Some(hold);
    }
    if model.native.is_some() {
        if model.native_swapped {
            return Some(
                "the target groups have swapped roles since the last deployment: analysis by group would judge the wrong revision; continue by hand (])".into(),
            );
        }
        if model.canary_weight().unwrap_or(0) == 0 {
            return Some(
                "no production traffic on the new revision at this hook: nothing to judge; continue by hand (])".into(),
            );
        }
    }
    // ECS-native: the verdicts since the hook was first seen awaiting.
    let entered = match &model.native {
        Some(_) => model.native_hook_since.as_ref().map(|(_, at)| *at)?,
        None => model.plan_state.entered_at?,
    };
    // The trailing bake is judged, not every verdict since the weight was
    // seen: the last bake ÷ interval − 1 verdicts at this weight (at least
    // one) must all have passed. A verdict that did not pass costs a fresh
    // bake of passes, not the release.
    let window: Vec<Outcome> = model
        .analysis
        .verdicts
        .iter()
        .filter(|v| v.at >= entered)
        .map(|v| v.outcome)
        .collect();
    let need = passes_needed(model);
    let run = window
        .iter()
        .rev()
        .take_while(|o| **o == Outcome::Pass)
        .count();
    match window.last() {
        None => Some("waiting for a verdict at this weight".into()),
        Some(Outcome::Inconclusive) => Some("last verdict inconclusive".into()),
        Some(Outcome::Fail) => Some("last verdict failed".into()),
        Some(Outcome::Pass) if run >= need => None,
        Some(Outcome::Pass) => Some(format!(
            "{run} of {need} passing verdicts in a row over the bake"
        )),
    }
}

/// How many passing verdicts in a row the current step's bake asks for:
/// bake ÷ interval less one (the first verdict at a weight comes one
/// interval in, so that many cover the whole bake), at least one.
fn passes_needed(model: &Model) -> usize {
    let interval = model.analysis_settings.interval.as_secs().max(1);
    // ECS-native, at a PAUSE hook: a lookback's worth of passes, and never
    // so many that the hook's timeout action comes first.
    if let Some(d) = model.native_deployment() {
        let lookback = model.analysis_settings.lookback.as_secs();
        let mut need = (lookback / interval).saturating_sub(1);
        if let (Some(expires), Some((_, since))) = (
            d.awaiting().and_then(|h| h.expires_at),
            model.native_hook_since.as_ref(),
        ) {
            let window = u64::try_from((expires - *since).num_seconds()).unwrap_or(0);
            need = need.min((window / interval).saturating_sub(2));
        }
        return usize::try_from(need).unwrap_or(usize::MAX).clamp(1, 400);
    }
    let bake = model
        .plan_state
        .step
        .and_then(|i| model.plan.steps.get(i))
        .and_then(|s| s.bake)
        .map_or(0, |b| b.as_secs());
    // The model keeps the last 500 verdicts: never ask for more.
    usize::try_from((bake / interval).saturating_sub(1))
        .unwrap_or(usize::MAX)
        .clamp(1, 400)
}

/// What stops automation before it starts and stops an automatic change
/// under way at its next step boundary: the change window, an approval
/// pending (or its state unknown), a pause.
fn outside_policy(model: &Model) -> Option<String> {
    if model.plan_state.paused {
        return Some("paused".into());
    }
    if let Some(w) = &model.service.change_window
        && !w.is_open(model.now)
    {
        return Some(format!(
            "change window closed (opens {})",
            w.next_open(model.now)
        ));
    }
    match &model.pipeline {
        // Browsing an older run (`:run N`): the newest run's approvals are
        // not what the pane shows, so they are unknown.
        Loadable::Ready { value, .. } if value.recent.first().is_some_and(|r| r.id != value.id) => {
            Some(format!(
                "approval state unknown: showing older run #{} (:run for the newest)",
                value.number
            ))
        }
        Loadable::Ready { value, .. } => value
            .pending
            .as_ref()
            .map(|p| format!("waiting for approval on {}", p.environment)),
        Loadable::Loading => Some("approval state unknown: the pipeline is not loaded yet".into()),
        // No pipeline watched (no [github]): there is no approval gate to
        // wait for.
        Loadable::Stale { error, .. } | Loadable::Failed { error, .. }
            if error.kind == ErrorKind::NotConfigured =>
        {
            None
        }
        Loadable::Stale { error, .. } | Loadable::Failed { error, .. } => {
            Some(format!("approval state unknown: {}", error.message))
        }
    }
}

/// An automatic change that the policy no longer allows stops at its next
/// step boundary (a wait ends at once); a rollback never does.
fn stop_held_automation(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(r) = &model.running else { return };
    if !r.change.automatic || r.change.kind == ChangeKind::Rollback || r.stop.is_some() {
        return;
    }
    if let Some(hold) = outside_policy(model) {
        super::change::stop(model, &format!("held: {hold}"), ctx, fx);
    }
}

/// What the plan would do now, were nothing holding it.
fn due(model: &Model) -> Option<Proposal> {
    // ECS-native: a PAUSE hook awaiting action is continued (ECS bakes and
    // moves the traffic itself) — once: a read from before the continue
    // still shows it awaiting.
    if model.native.is_some() {
        let d = native_moving(model)?;
        let hook = d.awaiting()?;
        let call = crate::core::change::Step::Native(crate::core::native::NativeCall::Continue {
            deployment: d.arn.clone(),
            hook: hook.id.clone(),
        });
        let continued = model
            .last_change
            .as_ref()
            .is_some_and(|f| f.result == "ok" && f.change.steps.contains(&call));
        return (!continued).then_some(Proposal::Advance);
    }
    let weight = model.canary_weight()?;
    match model.plan_state.phase {
        Phase::Progressing => {
            let baked = model.plan_state.bake_left(&model.plan, model.now)
                == Some(std::time::Duration::ZERO);
            (baked && model.plan.next_step(weight).is_some()).then_some(Proposal::Advance)
        }
        // The final step's bake is honoured before the promotion too.
        Phase::AtFull => {
            let left = model.plan_state.bake_left(&model.plan, model.now);
            left.is_none_or(|l| l.is_zero())
                .then_some(Proposal::Promote)
        }
        _ => None,
    }
}

fn progress(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(proposal) = due(model) else {
        return;
    };
    if let Some(hold) = hold_reason(model) {
        // Say so once per hold, in the pane and the journal.
        // A hold is the same hold while only its numbers move ("12 of 19
        // passing verdicts", a countdown): one record, not one a verdict.
        let kind: String = hold.chars().filter(|c| !c.is_ascii_digit()).collect();
        let manual = !model.analysis_settings.auto_advance;
        if !manual && model.running.is_none() && model.hold_noted.as_deref() != Some(&kind) {
            let weight = model.canary_weight().unwrap_or(0);
            model.push_journal(
                ctx.now,
                JournalKind::Automatic,
                format!("holding at {weight}%: {hold}"),
            );
            let mut record =
                super::change::simple_record(model, ctx, "hold", &format!("{weight}%"), &hold);
            record.automatic = true;
            record.operator = format!("flightdeck (automation) for {}", ctx.operator);
            fx.push(Effect::Journal(record));
            model.hold_noted = Some(kind);
        }
        return;
    }
    let reason = match proposal {
        Proposal::Advance if model.native.is_some() => "analysis passing at the hook",
        Proposal::Promote => "plan complete, analysis passing",
        _ => "bake complete, analysis passing",
    };
    if let Err(why) = super::change::start_automatic(model, proposal, reason.to_string(), ctx, fx) {
        model.set_status(Level::Error, format!("automatic {reason} but: {why}"));
    }
}
