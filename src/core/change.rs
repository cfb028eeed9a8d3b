//! A change as a plan of typed steps, computed here from the model and the
//! release baseline, and carried out one step at a time: calls by the
//! runner, waits by `update` as fresh data arrives. The rollback is computed
//! from whatever state the release is in, including the steps a change
//! under way has already started, so it always ends with traffic 100 %
//! stable, the stable service on the baseline task definition and the
//! canary at 0 tasks.

use std::time::Duration;

use super::data::{FleetSnapshot, ServiceInfo, Time, Track, TrafficSplit};
use super::model::Loadable;
use super::model::Model;
use super::update::humanize;

/// How long raising the canary's share waits for its targets to be healthy.
pub const CANARY_HEALTHY_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How long a stable deployment (promotion or rollback) may take.
pub const STABLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What the operator (or the automation) asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Advance,
    SetWeight,
    Promote,
    Approve,
    Reject,
    Rollback,
    /// An ECS-native deployment continued past its awaiting hook.
    Continue,
}

impl ChangeKind {
    /// The journal's `action` field.
    pub fn action_name(self) -> &'static str {
        match self {
            ChangeKind::Advance | ChangeKind::SetWeight => "set_weight",
            ChangeKind::Promote => "promote",
            ChangeKind::Approve => "approve",
            ChangeKind::Reject => "reject",
            ChangeKind::Rollback => "rollback",
            ChangeKind::Continue => "continue",
        }
    }
}

/// One step of a change. Calls (`ScaleCanary`, `SetWeights`, `UpdateStable`,
/// `Approve`) are made by the runner; waits are watched by `update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Set the canary service's desired count. With `expect`, the port
    /// reads the count first and refuses if it is not that (another actor
    /// sized the canary since the plan was made); scaling to 0 (a rollback,
    /// the end of a promotion) writes without a read.
    ScaleCanary {
        service: String,
        from: u32,
        to: u32,
        expect: Option<u32>,
    },
    /// Until the canary target group has `count` healthy targets.
    WaitCanaryHealthy { count: u32, timeout: Duration },
    /// Write both weights in one call. With `expect`, the port re-reads them
    /// first and refuses if they are not these (another tool moved them);
    /// a rollback writes without a read.
    SetWeights {
        expect: Option<TrafficSplit>,
        to: TrafficSplit,
    },
    UpdateStable {
        service: String,
        from: String,
        to: String,
    },
    /// Until the stable service runs `task_definition` everywhere.
    WaitStable {
        task_definition: String,
        timeout: Duration,
    },
    /// Until a moment passes: the call in flight of a change a rollback took
    /// over can land no later (then the rollback sets things again).
    WaitUntil { until: Time, why: String },
    /// Approve or reject the run's pending deployment, with the comment
    /// GitHub requires (the dialog's reason, set when it is confirmed).
    Review {
        run_id: u64,
        environment: String,
        environment_ids: Vec<u64>,
        approve: bool,
        comment: String,
    },
    /// A call to an ECS-native deployment: continue or roll back the hook
    /// that awaits action, or stop the deployment with a rollback.
    Native(crate::core::native::NativeCall),
    /// Until ECS has finished rolling `deployment` back: ROLLBACK_SUCCESSFUL,
    /// with the production rule sending all traffic to the deployment's
    /// source group. ROLLBACK_FAILED or another end fails it.
    WaitNativeRolledBack {
        deployment: String,
        timeout: Duration,
    },
}

impl Step {
    pub fn is_wait(&self) -> bool {
        matches!(
            self,
            Step::WaitCanaryHealthy { .. }
                | Step::WaitStable { .. }
                | Step::WaitUntil { .. }
                | Step::WaitNativeRolledBack { .. }
        )
    }

    /// A short name for the journal's `step` field.
    pub fn name(&self) -> &'static str {
        match self {
            Step::ScaleCanary { .. } => "scale_canary",
            Step::WaitCanaryHealthy { .. } => "wait_canary_healthy",
            Step::SetWeights { .. } => "set_weights",
            Step::UpdateStable { .. } => "update_stable",
            Step::WaitStable { .. } => "wait_stable",
            Step::WaitUntil { .. } => "wait_in_flight",
            Step::Review { approve: true, .. } => "approve",
            Step::Review { approve: false, .. } => "reject",
            Step::Native(crate::core::native::NativeCall::Continue { .. }) => "continue_deployment",
            Step::Native(crate::core::native::NativeCall::RollbackHook { .. }) => {
                "rollback_deployment"
            }
            Step::Native(crate::core::native::NativeCall::Stop { .. }) => "stop_deployment",
            Step::WaitNativeRolledBack { .. } => "wait_rolled_back",
        }
    }

    /// The step in plain words, for the dialog, the Canary pane and the
    /// journal.
    pub fn describe(&self) -> String {
        match self {
            Step::ScaleCanary {
                service,
                from: 0,
                to: 0,
                ..
            } => format!("scale {service} to 0 tasks"),
            Step::ScaleCanary {
                service, from, to, ..
            } => format!("scale {service} {from} → {to} tasks"),
            Step::WaitCanaryHealthy { count, timeout } => format!(
                "wait for {count} healthy canary target{} (up to {})",
                if *count == 1 { "" } else { "s" },
                humanize(*timeout)
            ),
            Step::SetWeights { expect, to } => {
                let share = to.canary_pct();
                let read = if expect.is_some() {
                    ""
                } else {
                    ", no prior read"
                };
                format!(
                    "traffic: canary {share}%, stable {}% (weights {}/{}{read})",
                    100 - u32::from(share),
                    to.stable,
                    to.canary
                )
            }
            Step::UpdateStable { service, from, to } if from == to => {
                format!(
                    "{service}: task definition {to} (set again: it was there at the last read)"
                )
            }
            Step::UpdateStable { service, from, to } => {
                format!("{service}: task definition {from} → {to}")
            }
            Step::WaitStable {
                task_definition,
                timeout,
            } => format!(
                "wait for the stable service to run {task_definition} (up to {})",
                humanize(*timeout)
            ),
            Step::WaitUntil { until, why } => format!(
                "wait until {} for {why} to land or time out, then set traffic and the canary again",
                until.format("%H:%M:%S UTC")
            ),
            Step::Review {
                run_id,
                environment,
                approve,
                ..
            } => format!(
                "{} run {run_id} on environment {environment}",
                if *approve { "approve" } else { "reject" }
            ),
            Step::Native(call) => call.describe(),
            Step::WaitNativeRolledBack { timeout, .. } => format!(
                "wait for ECS to finish the rollback: deployment ROLLBACK_SUCCESSFUL, all production traffic on the source group (up to {})",
                humanize(*timeout)
            ),
        }
    }
}

/// A change, exactly as confirmed: what, from → to, and its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: u64,
    pub kind: ChangeKind,
    pub service: String,
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
    /// Started by the analysis or the plan, not by a key.
    pub automatic: bool,
    pub steps: Vec<Step>,
    /// What the plan leaves as it is, and why (a rollback without a known
    /// baseline leaves the stable service): shown in the dialog, journaled
    /// with the end.
    pub notes: Vec<String>,
}

impl Change {
    /// The numbered steps in plain words.
    pub fn step_lines(&self) -> Vec<String> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{}. {}", i + 1, s.describe()))
            .collect()
    }

    /// Same plan, whatever its id, reason and trigger. Scaling to 0 is the
    /// same step whatever count it starts from (tasks come and go while a
    /// dialog is open; the outcome does not change).
    pub fn same_plan(&self, other: &Change) -> bool {
        let same_step = |a: &Step, b: &Step| match (a, b) {
            (
                Step::ScaleCanary {
                    service: s1, to: 0, ..
                },
                Step::ScaleCanary {
                    service: s2, to: 0, ..
                },
            ) => s1 == s2,
            _ => a == b,
        };
        self.kind == other.kind
            && self.notes == other.notes
            && self.from == other.from
            && self.to == other.to
            && self.steps.len() == other.steps.len()
            && self
                .steps
                .iter()
                .zip(&other.steps)
                .all(|(a, b)| same_step(a, b))
    }
}

/// The release baseline: what the stable service ran, and the weights,
/// when the console first saw the release. A rollback returns to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    pub stable_task_definition: String,
    /// The release's task definition (the canary's).
    pub release_task_definition: String,
    /// The weights when it was seen, if they could be read.
    pub split: Option<TrafficSplit>,
    pub seen_at: Time,
}

impl Baseline {
    /// The baseline a `baseline` journal record holds.
    pub fn from_record(record: &crate::core::effect::JournalRecord) -> Option<Baseline> {
        (record.action == "baseline").then(|| Baseline {
            stable_task_definition: record.from.clone(),
            release_task_definition: record.to.clone(),
            split: record
                .weights
                .map(|[stable, canary]| TrafficSplit { stable, canary }),
            seen_at: chrono::DateTime::parse_from_rfc3339(&record.time)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or_default(),
        })
    }
}

/// The baseline, if a fleet read newer than the baseline's record shows
/// the stable service on its stable or its release task definition. A
/// baseline of an older release, a stable service changed outside the
/// console since, or a fleet that cannot be read now (throttled, denied:
/// not "loaded") gives none: never a guess.
pub fn applicable_baseline(model: &Model) -> Option<&Baseline> {
    let b = model.baseline.as_ref()?;
    // Fresh: the last read succeeded (stale data is what a throttled or
    // denied read left).
    let Loadable::Ready { at: read_at, .. } = &model.fleet else {
        return None;
    };
    let read_at = *read_at;
    if read_at < b.seen_at {
        return None;
    }
    let stable = model.fleet.value()?.service(Track::Stable)?;
    let t = &stable.task_definition;
    (*t == b.stable_task_definition || *t == b.release_task_definition).then_some(b)
}

/// The stable service's task definition before the release the model shows
/// now, and the release's, if a release is under way: the canary service
/// runs another task definition than stable, or the stable service is
/// deploying.
pub fn detect_release(model: &Model) -> Option<(String, String)> {
    let fleet = model.fleet.value()?;
    let stable = fleet.service(Track::Stable)?;
    let deploying = stable
        .deployments
        .iter()
        .any(|d| d.status == "PRIMARY" && d.rollout_state == "IN_PROGRESS");
    if let Some(canary) = fleet.service(Track::Canary)
        && canary.task_definition != stable.task_definition
    {
        // Mid-promotion the stable service is already on the release.
        return Some((
            stable.task_definition.clone(),
            canary.task_definition.clone(),
        ));
    }
    if deploying {
        let before = stable.previous_task_definition()?;
        return Some((before.to_string(), stable.task_definition.clone()));
    }
    None
}

/// A plan: what, from, to, its steps, and what it leaves as it is.
pub type Planned = (ChangeKind, String, String, Vec<Step>, Vec<String>);

/// Canary tasks needed for a share of traffic: as many as the stable
/// service has for the same share, at least one.
pub fn canary_tasks_for(stable_desired: u32, weight: u8) -> u32 {
    (stable_desired * u32::from(weight)).div_ceil(100).max(1)
}

/// The steps that move the canary's share from `from` to `to` weights:
/// raising it first scales the canary and waits for healthy targets.
fn shift_steps(model: &Model, from: TrafficSplit, to_pct: u8) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let to = TrafficSplit::percent(to_pct);
    if to_pct > from.canary_pct() {
        let canary_service = model
            .service
            .canary_service
            .clone()
            .ok_or("no canary_service is configured: there is nothing to send traffic to")?;
        let (fleet, stable, canary) = loaded(model)?;
        let need = canary_tasks_for(stable.desired, to_pct);
        let healthy = fleet
            .targets
            .iter()
            .filter(|t| t.track == Track::Canary)
            .map(|t| t.healthy)
            .sum::<u32>();
        if canary.desired < need {
            steps.push(Step::ScaleCanary {
                service: canary_service,
                from: canary.desired,
                to: need,
                expect: Some(canary.desired),
            });
        }
        if canary.desired < need || healthy < need {
            steps.push(Step::WaitCanaryHealthy {
                count: need,
                timeout: CANARY_HEALTHY_TIMEOUT,
            });
        }
    }
    if to != from {
        steps.push(Step::SetWeights {
            expect: Some(from),
            to,
        });
    }
    Ok(steps)
}

/// The fleet with both services, or why a plan cannot be made yet.
fn loaded(model: &Model) -> Result<(&FleetSnapshot, &ServiceInfo, &ServiceInfo), String> {
    let fleet = model
        .fleet
        .value()
        .ok_or("ECS services are not loaded yet: wait for the Tasks pane")?;
    let stable = fleet
        .service(Track::Stable)
        .ok_or("the stable service is not loaded yet")?;
    let canary = fleet
        .service(Track::Canary)
        .ok_or("the canary service is not loaded yet")?;
    Ok((fleet, stable, canary))
}

/// What the model says the weights are.
fn weights_now(model: &Model) -> Result<TrafficSplit, String> {
    model
        .traffic
        .value()
        .map(|f| f.split)
        .ok_or_else(|| "traffic weights are not loaded yet: wait for the Canary pane".to_string())
}

/// Set the canary's share to `weight` percent.
pub fn set_weight(
    model: &Model,
    weight: u8,
) -> Result<(ChangeKind, String, String, Vec<Step>), String> {
    let from = weights_now(model)?;
    let pct = from.canary_pct();
    if pct == weight && from == TrafficSplit::percent(weight) {
        return Err(format!("canary is already at {weight}%: nothing to change"));
    }
    let steps = shift_steps(model, from, weight)?;
    Ok((
        ChangeKind::SetWeight,
        format!("{pct}%"),
        format!("{weight}%"),
        steps,
    ))
}

/// Move to the next step of the rollout plan.
pub fn advance(model: &Model) -> Result<(ChangeKind, String, String, Vec<Step>), String> {
    let from = weights_now(model)?;
    let pct = from.canary_pct();
    let (_, step) = model.plan.next_step(pct).ok_or_else(|| {
        format!("canary is at {pct}%: the plan has no further step; promote next")
    })?;
    let steps = shift_steps(model, from, step.weight)?;
    Ok((
        ChangeKind::Advance,
        format!("{pct}%"),
        format!("{}%", step.weight),
        steps,
    ))
}

/// Canary to 100 %, the stable service onto the canary's task definition,
/// traffic back to the (new) stable, canary to 0.
pub fn promote(model: &Model) -> Result<(ChangeKind, String, String, Vec<Step>), String> {
    let canary_service = model
        .service
        .canary_service
        .clone()
        .ok_or("no canary_service is configured: nothing to promote")?;
    let from = weights_now(model)?;
    let (_, stable, canary) = loaded(model)?;
    if canary.task_definition == stable.task_definition {
        return Err(format!(
            "the stable service already runs {}: nothing to promote",
            canary.task_definition
        ));
    }
    let mut steps = shift_steps(model, from, 100)?;
    steps.push(Step::UpdateStable {
        service: stable.name.clone(),
        from: stable.task_definition.clone(),
        to: canary.task_definition.clone(),
    });
    steps.push(Step::WaitStable {
        task_definition: canary.task_definition.clone(),
        timeout: STABLE_TIMEOUT,
    });
    steps.push(Step::SetWeights {
        expect: Some(TrafficSplit::percent(100)),
        to: TrafficSplit::ALL_STABLE,
    });
    steps.push(Step::ScaleCanary {
        service: canary_service,
        from: canary_tasks_for(stable.desired, 100).max(canary.desired),
        to: 0,
        expect: None,
    });
    Ok((
        ChangeKind::Promote,
        format!(
            "canary {}%, stable {}",
            from.canary_pct(),
            stable.task_definition
        ),
        format!("stable {}", canary.task_definition),
        steps,
    ))
}

/// Approve (or reject) the run's pending deployment. Refused before any
/// dialog when GitHub says this user cannot review it.
pub fn review(
    model: &Model,
    approve: bool,
) -> Result<(ChangeKind, String, String, Vec<Step>), String> {
    let verb = if approve { "approve" } else { "reject" };
    let run = model
        .pipeline
        .value()
        .ok_or("the pipeline is not loaded yet")?;
    let pending = run.pending.as_ref().ok_or(format!(
        "nothing to {verb}: no deployment is waiting for review"
    ))?;
    if pending.can_approve == Some(false) {
        let who = if pending.reviewers.is_empty() {
            String::new()
        } else {
            format!(" (reviewers: {})", pending.reviewers.join(", "))
        };
        return Err(format!(
            "GitHub says you cannot review the deployment to {}: you are not one of its required reviewers{who}",
            pending.environment
        ));
    }
    Ok((
        if approve {
            ChangeKind::Approve
        } else {
            ChangeKind::Reject
        },
        format!(
            "{} waiting {}/{}",
            pending.environment, pending.approvals, pending.required_reviewers
        ),
        if approve { "approved" } else { "rejected" }.into(),
        vec![Step::Review {
            run_id: run.id,
            environment: pending.environment.clone(),
            environment_ids: pending.environment_ids.clone(),
            approve,
            comment: String::new(),
        }],
    ))
}

/// How long ECS may take to roll a native deployment back (traffic back,
/// the target revision's tasks stopped) before the wait fails.
pub const NATIVE_ROLLBACK_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The plan of a key on an ECS-native deployment: the one call it makes
/// (ECS moves the traffic), or why there is none.
pub fn native(model: &Model, ask: crate::core::native::Ask) -> Result<Planned, String> {
    use crate::core::native::{NativeCall, next_call};
    // A continue acts on what ECS says now: not on a stale read (a
    // rollback may: ECS refuses it if it no longer applies, and a refused
    // rollback at a hook becomes a stop).
    if let (crate::core::native::Ask::Continue, Some(Loadable::Stale { at, error, .. })) =
        (ask, model.native.as_ref())
    {
        return Err(format!(
            "the ECS deployment was last read at {} ({error}): continue once it is read again",
            at.format("%H:%M:%S UTC")
        ));
    }
    let deployment = match model.native.as_ref().map(|l| l.value()) {
        Some(Some(Some(d))) => d,
        Some(Some(None)) => {
            return Err("no ECS deployment is under way: nothing to continue or roll back".into());
        }
        _ => {
            return Err(
                "the ECS deployment has not been read (yet): roll back with `aws ecs stop-service-deployment --stop-type ROLLBACK` if it cannot be".into(),
            );
        }
    };
    let call = next_call(deployment, ask)?;
    let (target, source) = (deployment.target_name(), deployment.source_name());
    // e.g. "auth:42 at production traffic shift (in progress)".
    let words = |s: &str| s.to_lowercase().replace('_', " ");
    let at = format!(
        "{target}{} ({})",
        deployment
            .stage
            .as_ref()
            .map(|s| format!(" at {}", words(s)))
            .unwrap_or_default(),
        words(&deployment.status)
    );
    let (kind, to) = match &call {
        NativeCall::Continue { hook, .. } => (ChangeKind::Continue, format!("past hook {hook}")),
        NativeCall::RollbackHook { .. } | NativeCall::Stop { .. } => {
            (ChangeKind::Rollback, format!("{source} (ECS rolls back)"))
        }
    };
    let mut steps = vec![Step::Native(call.clone())];
    if kind == ChangeKind::Rollback {
        // The call only asks: the rollback is done when ECS says so and
        // the production rule shows it.
        steps.push(Step::WaitNativeRolledBack {
            deployment: deployment.arn.clone(),
            timeout: NATIVE_ROLLBACK_TIMEOUT,
        });
    }
    Ok((kind, at, to, steps, Vec::new()))
}

/// The rollback from the state the model shows and the baseline. Moving
/// all traffic to stable and the canary to 0 never wait on the baseline
/// question: they are always in the plan (the traffic move first, without
/// a prior read). Only putting the stable service back on the baseline
/// needs one that a fresh fleet read confirms; when none does, the plan
/// leaves the stable service as it is and says so (`notes`). When a
/// baseline applies, the stable update is always in the plan (it is
/// idempotent): a few-seconds-old read of the stable service is no reason
/// to skip it, another process may have moved it since.
pub fn rollback(model: &Model) -> Result<Planned, String> {
    let fleet_fresh = matches!(model.fleet, Loadable::Ready { .. });
    let split = model.traffic.value().map(|f| f.split);
    let from = split.map_or("?%".to_string(), |s| format!("{}%", s.canary_pct()));
    let fleet = model.fleet.value();
    let stable = fleet.and_then(|f| f.service(Track::Stable));
    let canary = fleet.and_then(|f| f.service(Track::Canary));
    let stable_name = model.service.stable_service.clone();
    let mut notes = Vec::new();
    let mut steps = vec![Step::SetWeights {
        expect: None,
        to: TrafficSplit::ALL_STABLE,
    }];
    let target = match (applicable_baseline(model), &model.service.canary_service) {
        (Some(b), _) => Some(b.stable_task_definition.clone()),
        // No canary service: the task definition that was PRIMARY before,
        // from a read that is loaded now.
        (None, None) => stable
            .filter(|_| fleet_fresh)
            .and_then(|s| s.previous_task_definition())
            .map(str::to_string),
        (None, Some(_)) => None,
    };
    let stable_now = stable.map(|s| s.task_definition.clone());
    match &target {
        Some(target) => steps.push(Step::UpdateStable {
            service: stable_name.clone(),
            from: stable_now.clone().unwrap_or_else(|| "?".into()),
            to: target.clone(),
        }),
        None => {
            let why = match (&model.baseline, fleet_fresh) {
                (_, false) => "ECS cannot be read now, so no baseline can be confirmed".to_string(),
                (None, true) => "the release baseline is unknown".to_string(),
                (Some(b), true) => format!(
                    "the baseline (stable {}, release {}) does not describe what it runs now",
                    b.stable_task_definition, b.release_task_definition
                ),
            };
            notes.push(format!(
                "{stable_name} is left on {}: {why}; flightdeck will not guess (set it with aws ecs update-service --task-definition …)",
                stable_now.as_deref().unwrap_or("its task definition")
            ));
        }
    }
    // Always (idempotent): a read that says 0 tasks may be old, and
    // another actor may be scaling it up right now.
    if let Some(service) = &model.service.canary_service {
        steps.push(Step::ScaleCanary {
            service: service.clone(),
            from: canary.map_or(0, |c| c.desired),
            to: 0,
            expect: None,
        });
    }
    if let Some(Step::UpdateStable { to, .. }) = steps.get(1) {
        steps.push(Step::WaitStable {
            task_definition: to.clone(),
            timeout: STABLE_TIMEOUT,
        });
    }
    // At rest: no traffic, no canary tasks, the stable service on the
    // baseline (all as fresh reads say: stale data never refuses a
    // rollback), and no change under way.
    let at_rest = matches!(model.traffic, Loadable::Ready { .. })
        && fleet_fresh
        && split.is_some_and(|s| s.canary == 0)
        && canary.is_none_or(|c| c.desired == 0 && c.running == 0)
        && match &target {
            Some(t) => stable_now.as_deref() == Some(t.as_str()),
            None => model.baseline.is_none(),
        };
    if at_rest && model.running.is_none() {
        return Err(match target {
            Some(_) => "nothing to roll back: the canary has no traffic and no tasks, and the stable service is on its baseline".into(),
            None => format!(
                "nothing to roll back: the canary has no traffic and no tasks; the release baseline is unknown, so {stable_name} stays on {} (flightdeck will not guess; set it with aws ecs update-service --task-definition …)",
                stable_now.as_deref().unwrap_or("its task definition")
            ),
        });
    }
    Ok((ChangeKind::Rollback, from, "0%".into(), steps, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_tasks_match_the_seed() {
        assert_eq!(canary_tasks_for(9, 10), 1);
        assert_eq!(canary_tasks_for(9, 50), 5);
        assert_eq!(canary_tasks_for(9, 100), 9);
        assert_eq!(canary_tasks_for(0, 10), 1);
        assert_eq!(canary_tasks_for(20, 1), 1);
    }

    #[test]
    fn steps_read_in_plain_words() {
        let s = Step::SetWeights {
            expect: None,
            to: TrafficSplit::ALL_STABLE,
        };
        assert_eq!(
            s.describe(),
            "traffic: canary 0%, stable 100% (weights 100/0, no prior read)"
        );
        let w = Step::WaitCanaryHealthy {
            count: 5,
            timeout: CANARY_HEALTHY_TIMEOUT,
        };
        assert_eq!(w.describe(), "wait for 5 healthy canary targets (up to 5m)");
        assert!(w.is_wait() && !s.is_wait());
    }
}
