//! Data from the pollers: pipeline runs, the fleet (and with it the release
//! baseline), traffic weights, metric points and log lines.

use super::{Ctx, Effect, short_sha};
use crate::core::change::Baseline;
use crate::core::effect::JournalRecord;
use crate::core::model::{
    FleetSnapshot, Forward, JournalKind, LogLine, LogTask, MAX_METRIC_POINTS, MetricPoint, Model,
    PipelineRun, Track,
};
use crate::core::plan::Phase;

/// ECS event ids remembered to journal each event once.
const MAX_SEEN_EVENTS: usize = 500;

pub(super) fn on_pipeline(model: &mut Model, run: PipelineRun, ctx: &Ctx) {
    let mut notes = Vec::new();
    match model.pipeline.value() {
        Some(old) if old.id == run.id => {
            for stage in &run.stages {
                let before = old
                    .stages
                    .iter()
                    .find(|s| s.name == stage.name)
                    .map(|s| s.status);
                if before != Some(stage.status) {
                    notes.push(format!("{}: {}", stage.name, stage.status.label()));
                }
            }
            match (&old.pending, &run.pending) {
                (None, Some(p)) => notes.push(format!(
                    "deployment to {} waiting for approval",
                    p.environment
                )),
                // Approved, rejected, timed out or reviewed elsewhere: the
                // stages say which; here only that it no longer waits.
                (Some(p), None) => notes.push(format!(
                    "deployment to {} no longer waiting for review",
                    p.environment
                )),
                _ => {}
            }
        }
        _ => {
            let waiting = run
                .pending
                .as_ref()
                .map(|p| format!(", waiting for approval on {}", p.environment))
                .unwrap_or_default();
            notes.push(format!(
                "run #{} {} by {}{waiting}",
                run.number,
                short_sha(&run.sha),
                run.author
            ));
        }
    }
    for note in notes {
        model.push_journal(ctx.now, JournalKind::Pipeline, note);
    }
    model.pipeline.set(run, ctx.now);
}

/// A fleet read that began at `started` (its data is as of then: a wait
/// counts it only if it began after the wait did).
pub(super) fn on_fleet(
    model: &mut Model,
    fleet: FleetSnapshot,
    started: crate::core::model::Time,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let mut events: Vec<_> = fleet
        .events
        .iter()
        .filter(|e| !model.seen_events.contains(&e.id))
        .collect();
    events.sort_by_key(|e| e.at);
    for event in events {
        model.push_journal(event.at, JournalKind::Ecs, event.message.clone());
        model.seen_events.push(event.id.clone());
    }
    if model.seen_events.len() > MAX_SEEN_EVENTS {
        let extra = model.seen_events.len() - MAX_SEEN_EVENTS;
        model.seen_events.drain(..extra);
    }
    let len = fleet.tasks.len();
    model.fleet.set(fleet, started.min(ctx.now));
    model.tasks_view.selected = model.tasks_view.selected.min(len.saturating_sub(1));
    follow_logs(model, fx);
    note_baseline(model, ctx, fx);
    settle_phase(model);
}

/// Tell the logs source which tasks to follow when that changes: the tasks
/// of the followed track the Tasks pane shows (a task that starts is picked
/// up, one that is gone is dropped; a recently stopped one still tells why).
pub(super) fn follow_logs(model: &mut Model, fx: &mut Vec<Effect>) {
    let Some(fleet) = model.fleet.value() else {
        return;
    };
    let tasks: Vec<LogTask> = fleet
        .tasks
        .iter()
        .filter(|t| t.track == model.logs.track)
        .map(|t| LogTask {
            id: t.id.clone(),
            task_definition: t.task_definition.clone(),
        })
        .collect();
    let ids: Vec<String> = tasks.iter().map(|t| t.id.clone()).collect();
    if ids != model.logs.following {
        model.logs.following = ids;
        fx.push(Effect::FollowLogs(tasks));
    }
}

/// Record the release baseline the first time a release is seen: the
/// stable service's task definition before it, and the weights. It is
/// journaled, so a restart reads it back.
fn note_baseline(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    // An ECS-native release's baseline is its deployment's source revision
    // (`on_native`), not the fleet's services.
    if model.native.is_some() {
        return;
    }
    let Some((stable, release)) = crate::core::change::detect_release(model) else {
        // No release in sight and no baseline known: a release may have
        // been promoted while no console watched. Ask the deployment
        // history once (where the provider keeps one).
        if model.baseline.is_none() && !model.baseline_asked {
            model.baseline_asked = true;
            fx.push(Effect::FetchBaseline {
                service: model.service.stable_service.clone(),
            });
        }
        return;
    };
    if let Some(b) = &model.baseline {
        // The same release, with stable still on its baseline or already on
        // the release (a promotion): keep it.
        let same = b.release_task_definition == release
            && (b.stable_task_definition == stable || release == stable);
        // A deployment back to the baseline (a rollback without a canary
        // service) is not a new release.
        let going_back = release == b.stable_task_definition;
        if same
            || going_back
            || model
                .running
                .as_ref()
                .is_some_and(|r| r.change.kind == crate::core::change::ChangeKind::Rollback)
        {
            return;
        }
    }
    // As of the fleet read that showed it (which so confirms it).
    let seen_at = model.fleet.read_at().unwrap_or(ctx.now);
    record_baseline(model, stable, release, seen_at, ctx, fx);
}

/// An ECS-native service's traffic read, turned so that "stable" is the
/// deployment's source group (ECS swaps the groups' roles at every
/// deployment): the group that held all traffic while none was under way,
/// as seen when the deployment began; else the configured (primary) group.
/// Other services' reads are left as they are.
pub(super) fn native_oriented(model: &mut Model, forward: Forward) -> Forward {
    if model.native.is_none() {
        return forward;
    }
    let deployment = model
        .native_deployment()
        .map(|d| (d.arn.clone(), d.under_way()));
    match &deployment {
        Some((arn, true)) => {
            if model
                .native_source_group
                .as_ref()
                .is_none_or(|(seen, _)| seen != arn)
                && let Some(group) = model.native_idle_group.clone()
            {
                model.native_source_group = Some((arn.clone(), group));
            }
        }
        // Between deployments: which group is production now.
        _ if model.native.as_ref().is_some_and(|l| l.value().is_some()) => {
            match (forward.split.stable, forward.split.canary) {
                (s, 0) if s > 0 => {
                    model.native_idle_group = Some(forward.stable_target_group.clone())
                }
                (0, c) if c > 0 => {
                    model.native_idle_group = Some(forward.canary_target_group.clone())
                }
                _ => {}
            }
        }
        _ => {}
    }
    let swapped = match (&deployment, &model.native_source_group) {
        (Some((arn, _)), Some((seen, group))) if arn == seen => {
            *group == forward.canary_target_group
        }
        _ => false,
    };
    model.native_swapped = swapped;
    if !swapped {
        return forward;
    }
    Forward {
        stable_target_group: forward.canary_target_group,
        canary_target_group: forward.stable_target_group,
        split: crate::core::data::TrafficSplit {
            stable: forward.split.canary,
            canary: forward.split.stable,
        },
        ..forward
    }
}

/// An ECS-native deployment read: the first time a deployment under way
/// is seen, its source revision's task definition is the baseline (ECS
/// rolls back to that revision).
pub(super) fn on_native(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(d) = model.native_deployment().cloned() else {
        return;
    };
    // The hook awaiting action, from when it was first seen awaiting.
    let awaiting = d.awaiting().map(|h| format!("{} {}", d.arn, h.id));
    if awaiting.as_deref() != model.native_hook_since.as_ref().map(|(k, _)| k.as_str()) {
        model.native_hook_since = awaiting.map(|k| (k, ctx.now));
    }
    if !d.under_way() || d.rolling_back() {
        return;
    }
    // Only by task definitions: a revision id now and its task definition
    // at the next read would journal one baseline twice.
    let (Some(stable), Some(release)) = (
        d.source_task_definition.clone(),
        d.target_task_definition.clone(),
    ) else {
        return;
    };
    if model
        .baseline
        .as_ref()
        .is_some_and(|b| b.stable_task_definition == stable && b.release_task_definition == release)
    {
        return;
    }
    let seen_at = model
        .native
        .as_ref()
        .and_then(|l| l.read_at())
        .unwrap_or(ctx.now);
    record_baseline(model, stable, release, seen_at, ctx, fx);
}

/// Make `stable` before `release` the baseline, journaled.
fn record_baseline(
    model: &mut Model,
    stable: String,
    release: String,
    seen_at: crate::core::data::Time,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let split = model.traffic.value().map(|f| f.split);
    let baseline = Baseline {
        stable_task_definition: stable,
        release_task_definition: release,
        split,
        seen_at,
    };
    let weights = split.map_or("unknown".to_string(), |s| {
        format!("{}/{}", s.stable, s.canary)
    });
    model.push_journal(
        ctx.now,
        JournalKind::Operator,
        format!(
            "baseline: stable {} before release {} (weights {weights})",
            baseline.stable_task_definition, baseline.release_task_definition
        ),
    );
    fx.push(Effect::Journal(baseline_record(model, &baseline, ctx)));
    model.baseline = Some(baseline);
}

/// The deployment history's answer: the stable service ran `before` until
/// its latest successful deployment, which put it on `after`. It is the
/// baseline only if `after` is what the stable service runs now, completed
/// (mid-deployment the latest successful one is an older release).
pub(super) fn on_baseline_hint(
    model: &mut Model,
    hint: Result<Option<(String, String)>, crate::core::model::SourceError>,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let (before, after) = match hint {
        Ok(Some(pair)) => pair,
        Ok(None) => return,
        Err(e) => {
            model.push_journal(
                ctx.now,
                JournalKind::Error,
                format!("baseline: the ECS deployment history cannot be read: {e}"),
            );
            return;
        }
    };
    let Some(stable) = model.fleet.value().and_then(|f| f.service(Track::Stable)) else {
        return;
    };
    let now = stable.task_definition.clone();
    let deploying = stable
        .deployments
        .iter()
        .any(|d| d.rollout_state == "IN_PROGRESS");
    if model.baseline.is_some() || before == now || after != now || deploying {
        if after != now || deploying {
            model.push_journal(
                ctx.now,
                JournalKind::Error,
                format!(
                    "baseline: the deployment history ({before} → {after}) does not describe what {} runs now ({now}); not used",
                    stable.name
                ),
            );
        }
        return;
    }
    let baseline = Baseline {
        stable_task_definition: before,
        release_task_definition: now,
        split: model.traffic.value().map(|f| f.split),
        // As of the fleet read that showed it (which so confirms it).
        seen_at: model.fleet.read_at().unwrap_or(ctx.now),
    };
    model.push_journal(
        ctx.now,
        JournalKind::Operator,
        format!(
            "baseline from the ECS deployment history: stable {} before release {}",
            baseline.stable_task_definition, baseline.release_task_definition
        ),
    );
    let mut record = baseline_record(model, &baseline, ctx);
    record.result = "from the deployment history".into();
    fx.push(Effect::Journal(record));
    model.baseline = Some(baseline);
}

fn baseline_record(model: &Model, baseline: &Baseline, ctx: &Ctx) -> JournalRecord {
    JournalRecord {
        time: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        operator: ctx.operator.clone(),
        service: model.service.name.clone(),
        identity: Some(model.service.identity()),
        action: "baseline".into(),
        from: baseline.stable_task_definition.clone(),
        to: baseline.release_task_definition.clone(),
        reason: None,
        result: "seen".into(),
        request_ids: Vec::new(),
        automatic: true,
        change: None,
        step: None,
        steps: Vec::new(),
        weights: baseline.split.map(|s| [s.stable, s.canary]),
        via: None,
    }
}

/// A baseline seen before the weights could be read gets them when they
/// first arrive (journaled again, now whole).
pub(super) fn complete_baseline(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let Some(split) = model.traffic.value().map(|f| f.split) else {
        return;
    };
    let Some(b) = model.baseline.as_mut().filter(|b| b.split.is_none()) else {
        return;
    };
    b.split = Some(split);
    let b = b.clone();
    fx.push(Effect::Journal(baseline_record(model, &b, ctx)));
}

pub(super) fn on_traffic(model: &mut Model, forward: Forward, ctx: &Ctx) {
    let new = forward.split.canary_pct();
    match model.canary_weight() {
        Some(old) if old != new => model.push_journal(
            ctx.now,
            JournalKind::Traffic,
            format!("canary {old}% → {new}% (stable {}%)", 100 - u32::from(new)),
        ),
        None => model.push_journal(ctx.now, JournalKind::Traffic, format!("canary at {new}%")),
        _ => {}
    }
    let before = model.plan_state.entered_at;
    model.plan_state.observe(&model.plan, new, ctx.now);
    if model.plan_state.entered_at != before {
        // A new weight is judged on its own data: the bake and the
        // analysis window start again.
        model.analysis.consecutive_failures = 0;
        model.analysis.last_run = Some(ctx.now);
    }
    model.traffic.set(forward, ctx.now);
    settle_phase(model);
}

/// All traffic back to stable while the plan ran, by another tool (a
/// change of this console names its own end): rolled back when the stable
/// service runs the baseline; promoted only once settled — stable on the
/// release and the canary scaled to 0 — because a rollback in the middle
/// of a promotion also passes through "stable on the release, weight 0".
/// Without a baseline nothing can be told: the phase stays.
pub(super) fn settle_phase(model: &mut Model) {
    if model.running.is_some()
        || model.canary_weight() != Some(0)
        || !matches!(model.plan_state.phase, Phase::Progressing | Phase::AtFull)
    {
        return;
    }
    let (Some(baseline), Some(fleet)) = (&model.baseline, model.fleet.value()) else {
        return;
    };
    let Some(stable) = fleet.service(Track::Stable) else {
        return;
    };
    if stable.task_definition != baseline.release_task_definition {
        model.plan_state.phase = Phase::RolledBack;
    } else if fleet.service(Track::Canary).is_none_or(|c| c.desired == 0) {
        model.plan_state.phase = Phase::Promoted;
    }
}

/// Upsert points by (track, time): a late point goes where its time says,
/// a revised one replaces what was there; the oldest go past the limit.
pub(super) fn on_metrics(model: &mut Model, points: Vec<MetricPoint>) {
    for point in points {
        let series = match point.track {
            Track::Canary => &mut model.metrics.canary,
            Track::Stable => &mut model.metrics.stable,
        };
        let at = series.partition_point(|p| p.at < point.at);
        match series.get_mut(at) {
            Some(existing) if existing.at == point.at => *existing = point,
            _ => series.insert(at, point),
        }
        while series.len() > MAX_METRIC_POINTS {
            series.pop_front();
        }
        model.metrics.last_at = Some(model.metrics.last_at.map_or(point.at, |l| l.max(point.at)));
    }
    model.metrics.error = None;
}

pub(super) fn on_logs(model: &mut Model, lines: Vec<LogLine>) {
    let mut shown = 0;
    for line in lines {
        if model.logs.push(line) {
            shown += 1;
        }
    }
    if !model.logs.follow {
        // Keep the lines the operator is reading where they are.
        model.logs.scroll =
            (model.logs.scroll + shown).min(model.logs.shown_len().saturating_sub(1));
        model.logs.new_while_paused += shown;
    }
    model.logs.error = None;
}
