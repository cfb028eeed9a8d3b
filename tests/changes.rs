//! Change plans in the pure core: the rollback invariant over every prefix
//! of every plan against the simulated fleet, dialogs that must confirm
//! what is true now, paste, small terminals, the bake restart.

mod common;

use common::{Harness, sunday, tuesday};
use flightdeck::core::action::{Key, KeyCode};
use flightdeck::core::change::Step;
use flightdeck::core::effect::Effect;
use flightdeck::core::model::{Overlay, Proposal, TrafficSplit};
use flightdeck::core::msg::Msg;

const BASELINE: &str = "auth-service:41";

/// Another actor's lease: ana on bastion-1, for `action`, with a call that
/// may land until `call_until`.
fn other_holder(action: &str, call_until: Option<String>) -> flightdeck::core::model::LeaseHolder {
    flightdeck::core::model::LeaseHolder {
        operator: "ana".into(),
        via: "cli".into(),
        change: "other".into(),
        action: action.into(),
        host: "bastion-1".into(),
        pid: 42,
        since: "2026-12-01T10:29:07Z".into(),
        call_until,
        started: None,
    }
}

/// A good release promoted by hand (automation off) and settled.
fn promoted() -> Harness {
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    h.command("promote");
    let fx = h.confirm("");
    h.carry_out(fx);
    h.settle(20 * 60);
    h
}

fn confirm_error(h: &Harness) -> String {
    match &h.model.overlay {
        Overlay::Confirm(c) => c.error.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

fn status(h: &Harness) -> String {
    h.model
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

/// Open and confirm a change, then carry out its calls until `calls` of
/// them have run (waits get simulated time), and return how many ran.
fn run_prefix(h: &mut Harness, open: &str, calls: usize) -> (usize, Vec<Effect>) {
    h.model.analysis_settings.auto_advance = false;
    let start = h.calls.len();
    h.command(open);
    let fx = h.confirm("test");
    // Carry out one call at a time, stopping after `calls`.
    let mut queue = fx;
    for _ in 0..200 {
        if h.calls.len() - start >= calls || h.model.running.is_none() {
            break;
        }
        if queue.iter().any(|e| matches!(e, Effect::Step(_))) {
            let next: Vec<Effect> = std::mem::take(&mut queue);
            let before = h.effects.len();
            h.carry_out_one(next);
            queue = h.effects[before..].to_vec();
        } else {
            h.now += chrono::Duration::seconds(1);
            let before = h.effects.len();
            h.poll_only();
            let fx = h.send(Msg::Tick);
            queue = h.effects[before..].to_vec();
            queue.extend(fx);
            queue.retain(|e| matches!(e, Effect::Step(_)));
        }
    }
    (h.calls.len() - start, queue)
}

/// Confirm a rollback now, then let the calls `in_flight` answer and
/// everything settle: traffic 100 % stable, the stable service on the
/// baseline, the canary at 0 tasks.
fn rolls_back_to_the_baseline(h: &mut Harness, in_flight: Vec<Effect>, what: &str) {
    h.model.analysis_settings.auto_advance = false;
    h.key(Key::char('R'));
    let fx = h.confirm("invariant");
    h.carry_out(in_flight);
    h.carry_out(fx);
    h.settle(20 * 60);
    // Calls the change had in flight finish; let everything settle.
    h.run_for(120);
    assert!(h.model.running.is_none(), "{what}: still running");
    assert_eq!(
        h.world_state(),
        (0, BASELINE.to_string(), 0),
        "{what}: {:?}",
        h.model.last_change
    );
}

#[test]
fn a_rollback_after_any_prefix_of_any_plan_restores_the_baseline() {
    let plans = ["advance", "weight 25", "weight 100", "promote"];
    for plan in plans {
        for prefix in 0..=6 {
            let mut h = Harness::new("good", tuesday(), false);
            let (ran, in_flight) = run_prefix(&mut h, plan, prefix);
            // The rollback, confirmed now, whatever is in flight; then the
            // call in flight answers.
            rolls_back_to_the_baseline(&mut h, in_flight, &format!("{plan} after {ran} calls"));
            if prefix > ran {
                break;
            }
        }
    }
}

/// What a second actor (another console, the CLI) does to the service
/// while this console's change runs.
#[derive(Debug, Clone, Copy)]
enum Other {
    /// Sizes the canary for its own plan.
    ScalesCanary,
    /// Moves the weights.
    MovesTraffic,
    /// Rolls back: takes the lease over and moves all traffic to stable.
    RollsBack,
}

fn interleave(h: &mut Harness, other: Other) {
    use flightdeck::core::model::{ErrorKind, SourceError};
    use flightdeck::sources::demo::world::CANARY_SERVICE;
    match other {
        Other::ScalesCanary => {
            let _ = h.world.scale(CANARY_SERVICE, 7);
        }
        Other::MovesTraffic => {
            h.world.set_weights(TrafficSplit::percent(30));
        }
        Other::RollsBack => {
            h.lease_lost = Some(SourceError::of_kind(
                ErrorKind::Preempted,
                "the change lease was taken over by ana@bastion (cli, pid 7)'s rollback",
            ));
            h.world.set_weights(TrafficSplit::ALL_STABLE);
        }
    }
}

#[test]
fn a_rollback_restores_the_baseline_also_when_a_second_actor_acts_in_between() {
    let plans = ["advance", "weight 25", "weight 100", "promote"];
    let others = [Other::ScalesCanary, Other::MovesTraffic, Other::RollsBack];
    for plan in plans {
        for other in others {
            for prefix in 0..=6 {
                let mut h = Harness::new("good", tuesday(), false);
                let (ran, in_flight) = run_prefix(&mut h, plan, prefix);
                interleave(&mut h, other);
                // This console's change meets the other actor's work at its
                // next boundary (a conflict, a lost lease), then a rollback.
                h.carry_out(in_flight);
                h.run_for(3);
                if let Some(r) = &h.model.running {
                    assert!(
                        r.change.kind != flightdeck::core::change::ChangeKind::Rollback,
                        "{plan}/{other:?}/{prefix}: no rollback yet"
                    );
                }
                rolls_back_to_the_baseline(
                    &mut h,
                    Vec::new(),
                    &format!("{plan}/{other:?} after {ran} calls"),
                );
                if prefix > ran {
                    break;
                }
            }
        }
    }
}

#[test]
fn a_rollback_after_a_completed_promotion_restores_the_baseline() {
    let mut h = promoted();
    assert_eq!(h.world_state(), (0, "auth-service:42".to_string(), 0));
    h.key(Key::char('R'));
    let steps = match &h.model.overlay {
        Overlay::Confirm(c) => c.change.step_lines().join("\n"),
        _ => String::new(),
    };
    assert!(
        steps
            .contains("auth-service-production: task definition auth-service:42 → auth-service:41"),
        "{steps}"
    );
    let fx = h.confirm("bad release after all");
    h.carry_out(fx);
    h.settle(20 * 60);
    assert_eq!(h.world_state(), (0, BASELINE.to_string(), 0));
    let end = h.model.last_change.map(|l| l.result);
    assert_eq!(end.as_deref(), Some("ok"));
}

#[test]
fn the_baseline_is_recorded_once_and_journaled() {
    let mut h = Harness::new("good", tuesday(), false);
    h.run_for(10);
    let b = h.model.baseline.clone();
    assert_eq!(
        b.map(|b| (b.stable_task_definition, b.release_task_definition, b.split)),
        Some((
            BASELINE.to_string(),
            "auth-service:42".to_string(),
            Some(TrafficSplit {
                stable: 90,
                canary: 10
            })
        ))
    );
    let records = h.records_of("baseline");
    // Seen with the fleet, completed with the weights when they arrived.
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0].weights, None);
    assert_eq!(records[1].weights, Some([90, 10]));
}

#[test]
fn enter_rechecks_and_shows_what_changed() {
    // The dialog says 10% → 50%; meanwhile the weights go to 0 (someone
    // rolled back with another tool).
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    h.key(Key::char(']'));
    h.world.set_weights(TrafficSplit::ALL_STABLE);
    h.run_for(2);
    h.type_text("auth-service");
    let fx = h.enter();
    assert!(fx.is_empty(), "not carried out: {fx:?}");
    let err = confirm_error(&h);
    assert!(
        err.contains("Changed since shown") && err.contains("it was 10% → 50%, it is now 0% → 10%"),
        "{err}"
    );
    // Enter again confirms the plan as it is now.
    let fx = h.enter();
    let first = fx.iter().find_map(|e| match e {
        Effect::Begin(c) => Some(c.start.clone()),
        _ => None,
    });
    assert_eq!(
        first.map(|r| (r.from, r.to)),
        Some(("0%".into(), "10%".into()))
    );
}

#[test]
fn one_change_at_a_time_and_a_second_rollback_says_so() {
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    h.key(Key::char(']'));
    let fx = h.confirm("");
    h.carry_out(fx); // scaling done, now waiting for healthy targets
    h.key(Key::char('P'));
    assert!(
        status(&h).contains("a change is in progress"),
        "{}",
        status(&h)
    );
    h.key(Key::char('R'));
    let fx = h.confirm("stop");
    // The wait is abandoned at once: the rollback's first call goes now.
    assert!(
        matches!(
            fx.iter().find_map(|e| match e {
                Effect::Step(c) => Some(&c.step),
                _ => None,
            }),
            Some(Step::SetWeights { expect: None, .. })
        ),
        "{fx:?}"
    );
    h.key(Key::char('R'));
    assert!(
        status(&h).contains("a rollback is already under way"),
        "{}",
        status(&h)
    );
}

#[test]
fn paste_outside_a_text_field_is_ignored_and_inside_is_text() {
    let mut h = Harness::new("good", tuesday(), false);
    let fx = h.send(Msg::Paste("see docs at example.com/quickstart\nq".into()));
    assert!(fx.is_empty());
    assert!(!h.model.plan_state.paused && !h.model.quit);
    assert!(matches!(h.model.overlay, Overlay::None));
    // In the rollback dialog, a paste is text in the field, never Enter.
    h.key(Key::char('R'));
    let fx = h.send(Msg::Paste("x\u{1b}[201~Rauth-service\r\nreason\r".into()));
    assert!(fx.is_empty());
    let name = match &h.model.overlay {
        Overlay::Confirm(c) => c.name.value().to_string(),
        _ => String::new(),
    };
    assert_eq!(name, "x[201~Rauth-service  reason ");
    assert!(h.changes().is_empty());
}

#[test]
fn a_dialog_that_does_not_fit_cannot_be_confirmed() {
    for (w, h_) in [(40, 12), (5, 3), (80, 10)] {
        let mut h = Harness::new("good", tuesday(), false);
        h.send(Msg::Resize(w, h_));
        h.key(Key::char('R'));
        h.type_text("auth-service");
        h.key(Key::plain(KeyCode::Tab));
        h.type_text("blind");
        let fx = h.enter();
        assert!(fx.is_empty(), "{w}x{h_}: {fx:?}");
        assert!(
            confirm_error(&h).contains("enlarge the terminal"),
            "{w}x{h_}"
        );
        // Made big enough, the same dialog confirms.
        h.send(Msg::Resize(80, 24));
        let fx = h.enter();
        assert!(!fx.is_empty(), "80x24 confirms");
    }
}

#[test]
fn a_weight_change_within_a_step_restarts_the_bake() {
    let mut h = Harness::new("good", tuesday(), false);
    h.run_for(4 * 60);
    let before = h.model.plan_state.bake_left(&h.model.plan, h.now);
    h.command("weight 25");
    let fx = h.confirm("");
    h.carry_out(fx);
    h.settle(120);
    assert_eq!(h.model.canary_weight(), Some(25));
    let after = h.model.plan_state.bake_left(&h.model.plan, h.now);
    assert!(
        after > before && after >= Some(std::time::Duration::from_secs(240)),
        "{before:?} → {after:?}"
    );
    assert_eq!(h.model.analysis.consecutive_failures, 0);
}

#[test]
fn rollback_needs_no_read_of_the_weights() {
    let mut h = Harness::new("good", tuesday(), false);
    h.send(Msg::Traffic {
        started: h.now,
        result: Err(flightdeck::core::model::SourceError::new("ELB unreachable")),
    });
    // Still showing the last good value (stale): make it unknown.
    h.model.traffic = flightdeck::core::model::Loadable::Loading;
    h.key(Key::char('R'));
    assert!(
        matches!(h.model.overlay, Overlay::Confirm(_)),
        "{}",
        status(&h)
    );
    let fx = h.confirm("elb flaky");
    assert!(!fx.is_empty());
}

#[test]
fn automatic_rollback_runs_outside_the_window_and_names_its_verdicts() {
    let mut h = Harness::new("bad-canary", sunday(), false);
    h.change_and_wait(']', "hotfix INC-7", 120);
    h.run_for(150);
    let rollback = h.changes().into_iter().find(|c| c.action == "rollback");
    let Some(r) = rollback else {
        panic!("{:?}", h.changes())
    };
    assert!(r.automatic);
    let reason = r.reason.unwrap_or_default();
    assert!(
        reason.contains("fail") && reason.contains("error rate"),
        "{reason}"
    );
    h.settle(60);
    assert_eq!(h.world_state(), (0, BASELINE.to_string(), 0));
    let _ = Proposal::Rollback;
}

#[test]
fn esc_during_a_wait_abandons_the_change_without_touching_traffic() {
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    h.key(Key::char(']'));
    let fx = h.confirm("");
    h.carry_out(fx); // the canary scales to 5; now waiting for health
    assert!(h.model.running.as_ref().is_some_and(|r| r.index == 1));
    let fx = h.key(Key::plain(KeyCode::Esc));
    assert!(h.model.running.is_none());
    assert!(!fx.iter().any(|e| matches!(e, Effect::Step(_))), "{fx:?}");
    let end = fx.iter().find_map(|e| match e {
        Effect::Journal(r) => Some(r.result.clone()),
        _ => None,
    });
    let end = end.unwrap_or_default();
    assert!(
        end.starts_with("stopped: abandoned by tester during a wait after 1 of 3 steps; traffic left at canary 10%"),
        "{end}"
    );
    h.run_for(60);
    assert_eq!(h.world_state().0, 10, "traffic untouched");
}

#[test]
fn a_rollback_without_a_fleet_read_protects_traffic_and_leaves_stable_alone() {
    // After a completed promotion and a restart: the journal's baseline is
    // known, ECS cannot be read (throttled, denied). Seen by review: the
    // rollback would have redeployed the stable service to whatever old
    // baseline the journal held. Traffic and the canary never wait on it.
    let mut h = promoted();
    assert_eq!(h.world_state().1, "auth-service:42");
    h.model.fleet = flightdeck::core::model::Loadable::Failed {
        error: flightdeck::core::model::SourceError::of_kind(
            flightdeck::core::model::ErrorKind::Throttled { retry_after: None },
            "ecs:DescribeServices: Rate exceeded",
        ),
        since: h.now,
    };
    h.key(Key::char('R'));
    let (steps, lines) = match &h.model.overlay {
        Overlay::Confirm(c) => (c.change.step_lines().join("\n"), c.lines.join("\n")),
        _ => (status(&h), String::new()),
    };
    assert!(
        steps.contains("1. traffic: canary 0%, stable 100%"),
        "{steps}"
    );
    assert!(
        steps.contains("scale auth-service-production-canary"),
        "{steps}"
    );
    assert!(!steps.contains("task definition"), "{steps}");
    assert!(
        lines.contains("Left as it is: auth-service-production is left on its task definition: ECS cannot be read now"),
        "{lines}"
    );
}

#[test]
fn a_baseline_of_another_release_is_not_used() {
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    h.run_for(2);
    // The journal's baseline says stable was :39 before release :40; the
    // stable service runs :41, which is neither.
    if let Some(b) = &mut h.model.baseline {
        b.stable_task_definition = "auth-service:39".into();
        b.release_task_definition = "auth-service:40".into();
    }
    h.key(Key::char('R'));
    let steps = match &h.model.overlay {
        Overlay::Confirm(c) => c.change.step_lines().join("\n"),
        _ => status(&h),
    };
    assert!(!steps.contains("auth-service:39"), "{steps}");
}

#[test]
fn an_automatic_change_stops_when_the_operator_pauses_mid_plan() {
    let mut h = Harness::new("good", tuesday(), false);
    let id = h.world.pipeline().id;
    assert!(h.world.approve(id, "production", "mlopes").is_ok());
    // Bake done: the plan starts an automatic advance (scale, wait, shift).
    h.run_for(5 * 60 + 5);
    let running = h
        .model
        .running
        .as_ref()
        .map(|r| (r.change.automatic, r.index));
    assert_eq!(running, Some((true, 1)), "waiting for canary health");
    let fx = h.key(Key::char('p'));
    h.carry_out(fx);
    h.run_for(2);
    assert!(h.model.running.is_none());
    let last = h
        .model
        .last_change
        .as_ref()
        .map(|l| l.result.clone())
        .unwrap_or_default();
    assert!(last.starts_with("stopped: held: paused"), "{last}");
    h.run_for(120);
    assert_eq!(h.world_state().0, 10, "no traffic moved after the pause");
}

#[test]
fn a_rollback_that_fails_pauses_automation() {
    let mut h = Harness::new("good", tuesday(), false);
    h.fail = Some((
        "set_weights",
        flightdeck::core::model::SourceError::of_kind(
            flightdeck::core::model::ErrorKind::Unavailable,
            "ELB unreachable",
        ),
    ));
    h.key(Key::char('R'));
    let fx = h.confirm("try");
    h.carry_out(fx);
    assert!(h.model.running.is_none());
    assert!(
        h.model.plan_state.paused,
        "automation paused after a failed rollback"
    );
}

#[test]
fn a_dialog_opened_before_a_change_started_asks_again() {
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    h.key(Key::char('R'));
    // Meanwhile a change starts (as automation would).
    let dialog = std::mem::take(&mut h.model.overlay);
    h.key(Key::char(']'));
    let fx = h.confirm("");
    h.carry_out(fx);
    assert!(h.model.running.is_some());
    h.model.overlay = dialog;
    h.type_text("auth-service");
    h.key(Key::plain(KeyCode::Tab));
    h.type_text("because");
    let fx = h.enter();
    assert!(fx.is_empty(), "{fx:?}");
    assert!(
        confirm_error(&h).contains("started; this stops it"),
        "{}",
        confirm_error(&h)
    );
}

#[test]
fn without_a_journal_the_baseline_comes_from_the_deployment_history() {
    let mut h = promoted();
    // A console started now: no journal, the release already promoted.
    h.model.baseline = None;
    h.model.baseline_asked = false;
    let before = h.effects.len();
    h.run_for(2);
    let asked = h.effects[before..]
        .iter()
        .filter(|e| matches!(e, Effect::FetchBaseline { .. }))
        .count();
    assert_eq!(asked, 1, "asked once");
    h.key(Key::char('R'));
    assert!(status(&h).contains("baseline is unknown"), "{}", status(&h));
    // History that does not end on what runs now is not used…
    h.send(Msg::BaselineHint(Ok(Some((
        "auth-service:40".into(),
        BASELINE.into(),
    )))));
    assert!(h.model.baseline.is_none());
    // …the latest successful deployment, to what runs now, is.
    h.send(Msg::BaselineHint(Ok(Some((
        BASELINE.into(),
        "auth-service:42".into(),
    )))));
    h.key(Key::char('R'));
    let fx = h.confirm("back");
    h.carry_out(fx);
    h.settle(20 * 60);
    assert_eq!(h.world_state(), (0, BASELINE.to_string(), 0));
}

#[test]
fn a_weights_read_that_started_before_our_write_is_stale() {
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    let before = h.world.forward();
    let started = h.now;
    h.now += chrono::Duration::seconds(1);
    h.command("weight 5");
    let fx = h.confirm("");
    h.carry_out(fx);
    assert_eq!(h.model.canary_weight(), Some(5));
    // The poll that began before the write lands after it: dropped.
    h.send(Msg::Traffic {
        started,
        result: Ok(before),
    });
    assert_eq!(h.model.canary_weight(), Some(5), "not flipped back to 10%");
    // A read that began after it counts.
    h.send(Msg::Traffic {
        started: h.now,
        result: Ok(h.world.forward()),
    });
    assert_eq!(h.model.canary_weight(), Some(5));
}

/// One change per service, whoever acts, in the pure core.
mod one_actor {
    use super::*;
    use flightdeck::core::change::ChangeKind;
    use flightdeck::core::model::{ErrorKind, SourceError};
    use flightdeck::sources::demo::world::CANARY_SERVICE;

    fn approve(h: &mut Harness) {
        let id = h.world.pipeline().id;
        assert!(h.world.approve(id, "production", "mlopes").is_ok());
    }

    #[test]
    fn a_change_is_refused_while_another_actor_holds_the_lease() {
        let mut h = Harness::new("good", tuesday(), false);
        h.model.analysis_settings.auto_advance = false;
        h.lease_holder = Some(other_holder("promote", None));
        let calls = h.calls.len();
        h.key(Key::char(']'));
        let fx = h.confirm("");
        h.carry_out(fx);
        assert_eq!(h.calls.len(), calls, "nothing was called");
        let last = h.model.last_change.clone().ok_or("no result");
        let last = last.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(last.failure, Some(ErrorKind::Held));
        assert!(
            last.result.contains(
                "refused: another change holds this service: ana@bastion-1 (cli, pid 42)'s promote since 10:29:07"
            ),
            "{}",
            last.result
        );
        assert!(h.model.running.is_none());
        // A rollback takes it over, and says from whom.
        h.lease_holder = Some(other_holder("promote", None));
        h.key(Key::char('R'));
        let fx = h.confirm("take over");
        h.carry_out(fx);
        h.settle(20 * 60);
        let lease = h.records_of("lease");
        assert!(
            lease.first().is_some_and(|r| r
                .result
                .starts_with("took over from ana@bastion-1 (cli, pid 42)'s promote")),
            "{lease:?}"
        );
        assert_eq!(h.world_state(), (0, BASELINE.to_string(), 0));
    }

    #[test]
    fn a_change_that_loses_its_lease_during_a_wait_stops_and_says_so() {
        let mut h = Harness::new("good", tuesday(), false);
        h.model.analysis_settings.auto_advance = false;
        h.command("promote");
        let fx = h.confirm("");
        h.carry_out_one(fx);
        assert!(
            h.model
                .running
                .as_ref()
                .is_some_and(|r| r.change.steps[r.index].is_wait()),
            "waiting"
        );
        h.lease_lost = Some(SourceError::of_kind(
            ErrorKind::Preempted,
            "the change lease was taken over by ana@bastion-1 (cli, pid 42)'s rollback since 10:31:00",
        ));
        h.run_for(3);
        assert!(h.model.running.is_none(), "stopped at the boundary");
        let last = h.model.last_change.clone().map(|l| (l.result, l.failure));
        let (result, failure) = last.unwrap_or_default();
        assert!(
            result.starts_with(
                "stopped: preempted: the change lease was taken over by ana@bastion-1"
            ),
            "{result}"
        );
        assert_eq!(failure, Some(ErrorKind::Preempted));
        assert!(
            h.model
                .journal
                .iter()
                .any(|e| e.text.starts_with("promote preempted")),
            "said in the Journal pane"
        );
    }

    #[test]
    fn a_failed_automatic_change_pauses_automation_and_is_not_retried() {
        // Seen by review: with UpdateService denied, 901 automatic attempts
        // in 15 minutes.
        let mut h = Harness::new("good", tuesday(), false);
        approve(&mut h);
        h.fail = Some((
            "scale_canary",
            SourceError::of_kind(
                ErrorKind::Auth,
                "ecs:UpdateService on auth-service-production-canary: AccessDeniedException",
            ),
        ));
        h.run_for(6 * 60);
        let attempts = |h: &Harness| {
            h.records_of("set_weight")
                .iter()
                .filter(|r| r.result == "started" && r.step.is_none())
                .count()
        };
        assert_eq!(attempts(&h), 1, "{:?}", h.changes());
        assert!(h.model.plan_state.paused, "automation paused");
        let pauses = h.records_of("pause");
        assert_eq!(pauses.len(), 1, "journaled once: {pauses:?}");
        assert!(
            pauses[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("an automatic set_weight failed")),
            "{pauses:?}"
        );
        h.run_for(15 * 60);
        assert_eq!(attempts(&h), 1, "never retried on its own");
    }

    #[test]
    fn an_automatic_change_that_cannot_begin_pauses_automation() {
        // Not another actor's lease: the journal cannot be written.
        let mut h = Harness::new("good", tuesday(), false);
        approve(&mut h);
        h.begin_fails = Some(SourceError::new(
            "not done: cannot write the journal /dev/full: No space left on device",
        ));
        h.run_for(6 * 60);
        assert!(h.model.plan_state.paused, "{:?}", h.model.journal);
        let pauses = h.records_of("pause");
        assert_eq!(pauses.len(), 1, "{pauses:?}");
        assert!(
            pauses[0]
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("could not begin")),
            "{pauses:?}"
        );
    }

    #[test]
    fn the_final_step_s_bake_is_honoured_before_an_automatic_promote() {
        let mut h = Harness::new("good", tuesday(), false);
        approve(&mut h);
        if let Some(last) = h.model.plan.steps.last_mut() {
            last.bake = Some(std::time::Duration::from_secs(180));
        }
        h.model.analysis_settings.auto_advance = false;
        h.change_and_wait('w', "", 1);
        h.type_text("100");
        let fx = h.enter();
        h.carry_out(fx);
        let fx = h.confirm("");
        h.carry_out(fx);
        h.settle(10 * 60);
        assert_eq!(h.model.canary_weight(), Some(100));
        h.model.analysis_settings.auto_advance = true;
        h.run_for(120);
        let promoted = |h: &Harness| h.changes().iter().any(|c| c.action == "promote");
        assert!(!promoted(&h), "still baking at 100%");
        h.run_for(4 * 60);
        assert!(promoted(&h), "{:?}", h.model.journal.back());
    }

    #[test]
    fn a_promotion_earlier_in_the_run_does_not_block_a_later_rollback() {
        // Seen: `expected_stable` from an earlier promotion, never cleared,
        // made both R and the analysis rollback refuse with traffic on the
        // canary of the next release.
        let mut h = promoted();
        assert_eq!(h.world_state(), (0, "auth-service:42".to_string(), 0));
        // The next release: a canary on :43 at 10 %.
        assert!(
            h.world
                .set_task_definition(CANARY_SERVICE, "auth-service:43")
                .is_ok()
        );
        assert!(h.world.scale(CANARY_SERVICE, 1).is_ok());
        h.world.set_weights(TrafficSplit::percent(10));
        h.run_for(5);
        h.key(Key::char('R'));
        assert!(
            matches!(h.model.overlay, Overlay::Confirm(_)),
            "{}",
            status(&h)
        );
        let fx = h.confirm("next release is bad");
        h.carry_out(fx);
        h.settle(20 * 60);
        assert_eq!(h.world_state(), (0, "auth-service:42".to_string(), 0));
        assert_eq!(
            h.model.last_change.map(|l| (l.change.kind, l.result)),
            Some((ChangeKind::Rollback, "ok".to_string()))
        );
    }
}

mod review_findings {
    use super::*;
    use flightdeck::core::model::{ErrorKind, Loadable, SourceError};

    #[test]
    fn a_rollback_confirmed_behind_a_call_survives_sighup() {
        let mut h = Harness::new("good", tuesday(), false);
        h.model.analysis_settings.auto_advance = false;
        h.key(Key::char(']'));
        let fx = h.confirm("");
        // The scale call is in flight; the rollback waits for it…
        h.key(Key::char('R'));
        let rollback = h.confirm("bad canary");
        // …and the SSH link drops.
        h.send(Msg::Shutdown("SIGHUP".into()));
        h.carry_out(fx);
        h.carry_out(rollback);
        h.run_for(5);
        assert_eq!(h.world_state(), (0, BASELINE.to_string(), 0));
        assert!(h.model.quit);
        assert_eq!(
            h.model.last_change.map(|l| (l.change.kind, l.result)),
            Some((
                flightdeck::core::change::ChangeKind::Rollback,
                "ok".to_string()
            ))
        );
    }

    #[test]
    fn a_rollback_on_stale_reads_still_moves_traffic_and_the_canary() {
        // Another actor moved traffic after the last good reads; both
        // sources are throttled now. Stale data never says "nothing to do".
        let mut h = Harness::new("good", tuesday(), false);
        h.model.analysis_settings.auto_advance = false;
        h.command("weight 0");
        let fx = h.confirm("");
        h.carry_out(fx);
        h.settle(60);
        let _ = h
            .world
            .scale(flightdeck::sources::demo::world::CANARY_SERVICE, 0);
        h.run_for(2);
        let throttled =
            SourceError::of_kind(ErrorKind::Throttled { retry_after: None }, "Rate exceeded");
        h.model.fleet.fail(throttled.clone(), h.now);
        h.model.traffic.fail(throttled, h.now);
        assert!(matches!(h.model.fleet, Loadable::Stale { .. }));
        h.key(Key::char('R'));
        let steps = match &h.model.overlay {
            Overlay::Confirm(c) => c.change.step_lines().join("\n"),
            _ => status(&h),
        };
        assert!(steps.contains("1. traffic: canary 0%"), "{steps}");
        assert!(steps.contains("to 0 tasks"), "{steps}");
    }

    #[test]
    fn a_rollback_that_leaves_the_stable_service_is_partial_not_ok() {
        let mut h = promoted();
        h.model.baseline = None;
        h.model.baseline_asked = true;
        // The canary gets traffic again by another tool.
        h.world.set_weights(TrafficSplit::percent(10));
        h.run_for(2);
        h.key(Key::char('R'));
        let fx = h.confirm("no baseline");
        h.carry_out(fx);
        h.settle(60);
        let last = h.model.last_change.clone().map(|l| (l.result, l.failure));
        let (result, failure) = last.unwrap_or_default();
        assert!(
            result.starts_with("partial: auth-service-production is left on auth-service:42"),
            "{result}"
        );
        assert!(failure.is_some(), "a partial rollback is not a success");
        assert_eq!(h.world_state().0, 0, "traffic moved");
    }

    #[test]
    fn the_automation_holds_while_a_team_mate_holds_the_lease() {
        let mut h = Harness::new("good", tuesday(), false);
        let id = h.world.pipeline().id;
        assert!(h.world.approve(id, "production", "mlopes").is_ok());
        let holder = other_holder("set_weight", None);
        for _ in 0..(8 * 60) {
            // Ana keeps holding it.
            h.lease_holder = Some(holder.clone());
            h.run_for(1);
        }
        assert!(!h.model.plan_state.paused, "a refusal is not a failure");
        let refusals = h
            .records()
            .into_iter()
            .filter(|r| r.result.starts_with("refused"))
            .count();
        assert_eq!(
            refusals, 0,
            "the automation does not journal a refusal a second"
        );
        let attempts = h
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::Begin(_)))
            .count();
        assert!(
            attempts <= 8 * 60 / 30 + 1,
            "{attempts} attempts in 8 minutes"
        );
        let holds = h.records_of("hold");
        assert!(
            holds
                .iter()
                .any(|r| r.to.contains("another actor's change: ana@bastion-1")),
            "{holds:?}"
        );
    }
}

#[test]
fn a_call_of_the_preempted_actor_that_lands_late_is_undone() {
    use flightdeck::sources::demo::world::CANARY_SERVICE;
    // Another console had just passed its lease check and sent a weight
    // write (up to its call timeout in flight) when on-call rolled back.
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    let until = h.now + chrono::Duration::seconds(35);
    h.lease_holder = Some(other_holder("set_weight", Some(until.to_rfc3339())));
    h.key(Key::char('R'));
    let fx = h.confirm("now");
    h.carry_out(fx);
    h.run_for(10);
    // Its write lands after the rollback's.
    h.world.set_weights(TrafficSplit::percent(50));
    let _ = h.world.scale(CANARY_SERVICE, 5);
    h.settle(20 * 60);
    h.run_for(60);
    assert_eq!(h.world_state(), (0, BASELINE.to_string(), 0));
    let end = h.model.last_change.map(|l| (l.result, l.ran));
    let (result, ran) = end.unwrap_or_default();
    assert_eq!(result, "ok");
    assert!(
        ran.iter()
            .any(|s| s.contains("call in flight to land or time out")),
        "{ran:?}"
    );
}

/// A takeover from a promotion whose call (even UpdateStable) may still
/// land; `quit` says whether a SIGTERM arrives meanwhile.
fn late_call_after_takeover(quit: bool) -> Harness {
    use flightdeck::sources::demo::world::{CANARY_SERVICE, STABLE_SERVICE};
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    h.lease_holder = Some(other_holder(
        "promote",
        Some((h.now + chrono::Duration::seconds(35)).to_rfc3339()),
    ));
    h.key(Key::char('R'));
    let fx = h.confirm("now");
    h.carry_out(fx);
    h.run_for(2);
    if quit {
        let fx = h.send(Msg::Shutdown("SIGTERM".into()));
        h.carry_out(fx);
    }
    h.run_for(8);
    // The promotion's late calls land after the rollback's.
    let _ = h
        .world
        .set_task_definition(STABLE_SERVICE, "auth-service:42");
    h.world.set_weights(TrafficSplit::percent(50));
    let _ = h.world.scale(CANARY_SERVICE, 5);
    h.settle(20 * 60);
    h.run_for(60);
    h
}

#[test]
fn a_late_stable_update_of_the_preempted_promotion_is_undone() {
    let h = late_call_after_takeover(false);
    assert_eq!(h.world_state(), (0, BASELINE.to_string(), 0));
}

#[test]
fn quitting_does_not_skip_the_wait_for_a_preempted_call() {
    let h = late_call_after_takeover(true);
    assert_eq!(h.world_state(), (0, BASELINE.to_string(), 0));
    assert!(h.model.quit);
}
