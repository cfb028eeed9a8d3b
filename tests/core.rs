//! Pure transition tests of `core::update`: every change in normal,
//! read-only, paused and outside-window states, and the analysis policy
//! over whole simulated releases. No terminal, no tokio, no network.

mod common;

use common::{Harness, sunday, tuesday};
use flightdeck::core::action::{Key, KeyCode};
use flightdeck::core::analysis::Outcome;
use flightdeck::core::change::Step;
use flightdeck::core::effect::{Effect, JournalRecord};
use flightdeck::core::model::{Level, Overlay, Pane, Prompt};
use flightdeck::core::model::{Proposal, TrafficSplit};
use flightdeck::core::plan::Phase;

/// The start record of the change that `fx` started, if any.
fn started(fx: &[Effect]) -> Option<JournalRecord> {
    fx.iter().find_map(|e| match e {
        Effect::Begin(call) => Some(call.start.clone()),
        Effect::Journal(r) if r.result == "started" && r.step.is_none() => Some(r.clone()),
        _ => None,
    })
}

/// How many calls `fx` asks for (the lease and the start record come
/// first, answered by the harness).
fn calls_in(fx: &[Effect]) -> usize {
    fx.iter().filter(|e| matches!(e, Effect::Step(_))).count()
}

/// The first call `fx` asks for.
fn first_call(fx: &[Effect]) -> Option<Step> {
    fx.iter().find_map(|e| match e {
        Effect::Step(call) => Some(call.step.clone()),
        _ => None,
    })
}

/// The second reviewer approves in the world (as GitHub would).
fn approve_in_world(h: &mut Harness) {
    let id = h.world.pipeline().id;
    assert!(h.world.approve(id, "production", "mlopes").is_ok());
}

fn esc() -> Key {
    Key::plain(KeyCode::Esc)
}

fn confirm_of(h: &Harness) -> Option<&flightdeck::core::model::Confirm> {
    match &h.model.overlay {
        Overlay::Confirm(c) => Some(c),
        _ => None,
    }
}

fn dialog_error(h: &Harness) -> String {
    confirm_of(h)
        .and_then(|c| c.error.clone())
        .unwrap_or_default()
}

fn status(h: &Harness) -> String {
    h.model
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

#[test]
fn starts_at_ten_percent_with_the_seed_layout() {
    let h = Harness::new("good", tuesday(), false);
    assert_eq!(h.model.canary_weight(), Some(10));
    assert_eq!(h.model.plan_state.phase, Phase::Progressing);
    assert_eq!(h.model.plan_state.step, Some(0));
    let fleet = h.model.fleet.value().map(|f| f.tasks.len());
    assert_eq!(fleet, Some(10));
}

#[test]
fn no_change_happens_without_confirmation_and_esc_emits_nothing() {
    for key in [']', 'P', 'a', 'R'] {
        let mut h = Harness::new("good", tuesday(), false);
        let fx = h.key(Key::char(key));
        assert!(fx.is_empty(), "{key}: {fx:?}");
        assert!(confirm_of(&h).is_some(), "{key} opens a confirmation");
        let fx = h.key(esc());
        assert!(fx.is_empty(), "{key} then Esc: {fx:?}");
        assert!(matches!(h.model.overlay, Overlay::None));
        assert!(status(&h).contains("cancelled"));
        assert!(h.changes().is_empty());
    }
}

#[test]
fn protected_rollback_needs_the_service_name_and_a_reason() {
    let mut h = Harness::new("good", tuesday(), false);
    h.key(Key::char('R'));
    let c = confirm_of(&h).map(|c| (c.needs_name, c.needs_reason, c.lines.join("\n")));
    let Some((name, reason, lines)) = c else {
        panic!("no dialog")
    };
    assert!(name && reason);
    assert!(lines.contains("Canary traffic 10% → 0%"), "{lines}");
    let steps = confirm_of(&h)
        .map(|c| c.change.step_lines().join("\n"))
        .unwrap_or_default();
    assert!(
        steps.contains("scale auth-service-production-canary 1 → 0"),
        "{steps}"
    );

    assert!(h.enter().is_empty());
    assert!(
        dialog_error(&h).contains("type auth-service"),
        "{}",
        dialog_error(&h)
    );
    h.type_text("auth-servic");
    h.key(Key::plain(KeyCode::Tab));
    h.type_text("x");
    assert!(h.enter().is_empty(), "wrong name must not confirm");
    // Fix the name, then the reason is still required.
    h.key(Key::plain(KeyCode::End));
    h.type_text("e");
    h.key(Key::plain(KeyCode::Tab));
    h.key(Key::plain(KeyCode::Backspace));
    assert!(h.enter().is_empty());
    assert!(dialog_error(&h).contains("reason"), "{}", dialog_error(&h));
    h.type_text("p95 climbing");
    let fx = h.enter();
    let req = started(&fx).unwrap_or_else(|| panic!("{fx:?}"));
    assert_eq!(req.action, "rollback");
    assert_eq!((req.from.as_str(), req.to.as_str()), ("10%", "0%"));
    assert_eq!(req.reason.as_deref(), Some("p95 climbing"));
    assert!(!req.automatic);
    // Safety first: all traffic to stable, without a prior read.
    assert_eq!(
        first_call(&fx),
        Some(Step::SetWeights {
            expect: None,
            to: TrafficSplit::ALL_STABLE
        })
    );
}

#[test]
fn rollback_done_shows_zero_percent_and_is_journaled() {
    let mut h = Harness::new("good", tuesday(), false);
    h.change_and_wait('R', "bad deploy", 60);
    assert_eq!(h.model.canary_weight(), Some(0));
    assert_eq!(h.model.plan_state.phase, Phase::RolledBack);
    assert!(
        h.model
            .journal
            .iter()
            .any(|e| e.text.contains("rollback 10% → 0% done")),
        "{:?}",
        h.model.journal
    );
    h.run_for(30);
    let canary = h.model.fleet.value().and_then(|f| {
        f.service(flightdeck::core::model::Track::Canary)
            .map(|s| s.running)
    });
    assert_eq!(canary, Some(0));
    // Nothing left to roll back.
    h.key(Key::char('R'));
    assert!(confirm_of(&h).is_none());
    assert!(status(&h).contains("nothing to roll back"));
}

#[test]
fn read_only_refuses_every_change_with_a_message() {
    for key in [']', 'w', 'P', 'p', 'a', 'R'] {
        let mut h = Harness::new("good", tuesday(), true);
        let fx = h.key(Key::char(key));
        assert!(fx.is_empty(), "{key}");
        assert!(matches!(h.model.overlay, Overlay::None), "{key}");
        assert!(status(&h).contains("read-only"), "{key}: {}", status(&h));
        assert_eq!(h.model.status.as_ref().map(|s| s.level), Some(Level::Error));
    }
    let mut h = Harness::new("good", tuesday(), true);
    assert!(h.command("weight 50").is_empty());
    assert!(status(&h).contains("read-only"));
}

#[test]
fn read_only_never_changes_anything_even_when_analysis_fails() {
    let mut h = Harness::new("bad-canary", tuesday(), true);
    // Move the world to 50% by hand (as if someone else did).
    h.world.set_weights(flightdeck::core::model::TrafficSplit {
        stable: 50,
        canary: 50,
    });
    h.run_for(200);
    assert!(h.changes().is_empty(), "{:?}", h.changes());
    assert!(
        h.model
            .journal
            .iter()
            .any(|e| e.text.contains("would rollback (read-only)"))
    );
}

#[test]
fn advance_goes_to_the_next_step_of_the_plan() {
    let mut h = Harness::new("good", tuesday(), false);
    h.key(Key::char(']'));
    let lines = confirm_of(&h)
        .map(|c| c.lines.join("\n"))
        .unwrap_or_default();
    assert!(lines.contains("Canary traffic 10% → 50%"), "{lines}");
    assert!(lines.contains("step 2 of 3, bake 10m"), "{lines}");
    // Scale before shift: 5 canary tasks for 50 % beside 9 stable.
    let steps = confirm_of(&h)
        .map(|c| c.change.step_lines().join("\n"))
        .unwrap_or_default();
    assert!(
        steps.contains("1. scale auth-service-production-canary 1 → 5 tasks")
            && steps.contains("2. wait for 5 healthy canary targets")
            && steps.contains("3. traffic: canary 50%, stable 50%"),
        "{steps}"
    );
    // Inside the window a protected service needs the name, not a reason.
    assert_eq!(
        confirm_of(&h).map(|c| (c.needs_name, c.needs_reason)),
        Some((true, false))
    );
    let fx = h.confirm("");
    assert!(
        matches!(first_call(&fx), Some(Step::ScaleCanary { to: 5, .. })),
        "{fx:?}"
    );
    h.carry_out(fx);
    assert_eq!(
        h.model.canary_weight(),
        Some(10),
        "not before 5 are healthy"
    );
    h.settle(120);
    assert_eq!(
        h.model.canary_weight(),
        Some(50),
        "{:?} {:?}",
        h.model.last_change,
        h.model.journal
    );
    assert_eq!(h.model.plan_state.step, Some(1));
    let healthy = h
        .world
        .fleet()
        .targets
        .iter()
        .filter(|t| t.track == flightdeck::core::model::Track::Canary)
        .map(|t| t.healthy)
        .sum::<u32>();
    assert!(healthy >= 5, "{healthy}");
}

#[test]
fn outside_the_change_window_every_change_needs_a_reason() {
    let mut h = Harness::new("good", sunday(), false);
    h.key(Key::char(']'));
    let c = confirm_of(&h).map(|c| (c.needs_reason, c.outside_window.clone()));
    let Some((true, Some(words))) = c else {
        panic!("{c:?}")
    };
    assert!(
        words.contains("Outside the change window") && words.contains("Tue 10:00"),
        "{words}"
    );
    h.type_text("auth-service");
    assert!(
        h.enter().is_empty(),
        "Enter on the name moves to the reason"
    );
    assert!(h.enter().is_empty(), "no reason, no change");
    h.type_text("hotfix INC-4411");
    let fx = h.enter();
    assert_eq!(
        started(&fx).and_then(|r| r.reason),
        Some("hotfix INC-4411".to_string())
    );
}

#[test]
fn weight_input_is_validated_before_any_dialog() {
    let mut h = Harness::new("good", tuesday(), false);
    h.key(Key::char('w'));
    h.type_text("150");
    assert!(h.enter().is_empty());
    let err = match &h.model.overlay {
        Overlay::Weight { error, .. } => error.clone().unwrap_or_default(),
        other => panic!("{other:?}"),
    };
    assert!(err.contains("0 to 100"), "{err}");
    for _ in 0..3 {
        h.key(Key::plain(KeyCode::Backspace));
    }
    h.type_text("25%");
    assert!(h.enter().is_empty());
    let lines = confirm_of(&h)
        .map(|c| c.lines.join("\n"))
        .unwrap_or_default();
    assert!(lines.contains("10% → 25%"), "{lines}");
    let fx = h.confirm("");
    let start = started(&fx).unwrap_or_else(|| panic!("{fx:?}"));
    assert_eq!(
        (start.action.as_str(), start.to.as_str()),
        ("set_weight", "25%")
    );
}

#[test]
fn a_second_change_waits_for_the_first_but_rollback_does_not() {
    let mut h = Harness::new("good", tuesday(), false);
    h.key(Key::char(']'));
    let fx = h.confirm("");
    assert_eq!(calls_in(&fx), 1, "{fx:?}");
    // Not carried out yet: in flight.
    h.key(Key::char('w'));
    assert!(status(&h).contains("in progress"), "{}", status(&h));
    h.key(Key::char('R'));
    assert!(confirm_of(&h).is_some(), "rollback may overtake");
}

#[test]
fn pause_stops_automatic_progression_and_is_journaled() {
    let mut h = Harness::new("good", tuesday(), false);
    approve_in_world(&mut h);
    let fx = h.key(Key::char('p'));
    assert!(
        matches!(fx.as_slice(), [Effect::Operator { record: r, .. }] if r.action == "pause" && r.to == "paused")
    );
    assert!(
        !h.model.plan_state.paused,
        "not before the record is written"
    );
    h.carry_out(fx);
    assert!(h.model.plan_state.paused);
    h.run_for(6 * 60);
    assert!(h.changes().is_empty(), "paused: nothing moves");
    assert_eq!(h.model.canary_weight(), Some(10));
    // A change by hand is still possible while paused.
    h.key(Key::char(']'));
    assert!(confirm_of(&h).is_some());
    h.key(Key::plain(KeyCode::Esc));
    let fx = h.key(Key::char('p'));
    assert!(matches!(fx.as_slice(), [Effect::Operator { record: r, .. }] if r.action == "resume"));
    h.carry_out(fx);
    h.run_for(90);
    assert_eq!(
        h.model.canary_weight(),
        Some(50),
        "resumed: advances after the bake"
    );
}

#[test]
fn a_good_release_plays_to_promotion_when_left_alone() {
    let mut h = Harness::new("good", tuesday(), false);
    h.run_for(5 * 60 + 10);
    // Baked and passing, but production waits for its second reviewer.
    assert_eq!(h.model.canary_weight(), Some(10));
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(
        hold.contains("waiting for approval on production"),
        "{hold}"
    );
    // The reviewer approves at 12 min; then 50 % (after scaling to 5).
    h.run_for(7 * 60 + 30);
    assert_eq!(h.model.canary_weight(), Some(50));
    h.run_for(12 * 60);
    assert_eq!(
        h.model.plan_state.phase,
        Phase::Promoted,
        "{:?}",
        h.model.plan_state
    );
    let changes = h.changes();
    let seen: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {}>{}", c.action, c.from, c.to))
        .collect();
    assert!(changes.iter().all(|c| c.automatic), "{seen:?}");
    assert_eq!(
        seen,
        [
            "set_weight 10%>50%",
            "set_weight 50%>100%",
            "promote canary 100%, stable auth-service:41>stable auth-service:42"
        ]
    );
    assert!(
        h.model
            .analysis
            .verdicts
            .iter()
            .all(|v| v.outcome == Outcome::Pass)
    );
    // The stable service runs the release everywhere; the canary is gone.
    assert_eq!(h.world_state(), (0, "auth-service:42".to_string(), 0));
}

#[test]
fn automation_holds_while_the_window_is_closed_and_says_so_once() {
    let mut h = Harness::new("good", sunday(), false);
    approve_in_world(&mut h);
    h.run_for(8 * 60);
    assert!(h.changes().is_empty(), "{:?}", h.changes());
    assert_eq!(h.model.canary_weight(), Some(10));
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(
        hold.contains("change window closed (opens Tue 10:00"),
        "{hold}"
    );
    let holds = h.records_of("hold");
    assert_eq!(holds.len(), 1, "{holds:?}");
    assert!(holds[0].to.contains("change window closed"));
}

#[test]
fn an_automatic_promote_waits_for_a_pending_approval() {
    let mut h = Harness::new("good", tuesday(), false);
    h.command("weight 100");
    let fx = h.confirm("");
    h.carry_out(fx);
    h.run_for(5 * 60);
    assert_eq!(h.model.canary_weight(), Some(100));
    assert!(h.world.pipeline().pending.is_some());
    assert!(
        h.changes().iter().all(|c| c.action != "promote"),
        "no promotion while production awaits review: {:?}",
        h.changes()
    );
    assert_eq!(h.world_state().1, "auth-service:41");
}

#[test]
fn the_last_step_waits_for_approval_and_approve_releases_it() {
    let mut h = Harness::new("good", tuesday(), false);
    h.change(']', "");
    h.run_for(10 * 60 + 40);
    // Baked, passing, but production is not approved before 12 min.
    assert_eq!(h.model.canary_weight(), Some(50));
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(
        hold.contains("waiting for approval on production"),
        "{hold}"
    );
    h.key(Key::char('a'));
    let lines = confirm_of(&h)
        .map(|c| c.lines.join("\n"))
        .unwrap_or_default();
    assert!(
        lines.contains("Approve run #1284") && lines.contains("Reviews 1/2 → 2/2"),
        "{lines}"
    );
    // GitHub requires a comment: Enter without one does nothing.
    let fx = h.enter();
    assert!(fx.is_empty(), "{fx:?}");
    assert!(confirm_of(&h).is_some());
    let fx = h.confirm("canary green for 10m");
    match first_call(&fx) {
        Some(Step::Review {
            approve: true,
            comment,
            environment_ids,
            ..
        }) => {
            assert_eq!(comment, "canary green for 10m");
            assert_eq!(environment_ids, vec![161_171_787]);
        }
        other => panic!("expected an approving review, got {other:?}"),
    }
    h.carry_out(fx);
    let records = h.records_of("approve");
    assert!(
        records
            .iter()
            .any(|r| r.reason.as_deref() == Some("canary green for 10m")),
        "{records:?}"
    );
    h.run_for(60);
    assert_eq!(h.model.canary_weight(), Some(100));
}

#[test]
fn reject_fails_the_deployment_and_a_user_github_refuses_is_told_before_any_dialog() {
    let mut h = Harness::new("good", tuesday(), false);
    h.key(Key::char('x'));
    let lines = confirm_of(&h)
        .map(|c| c.lines.join("\n"))
        .unwrap_or_default();
    assert!(lines.contains("Reject run #1284"), "{lines}");
    let fx = h.confirm("p95 regression, see INC-9");
    assert!(
        matches!(first_call(&fx), Some(Step::Review { approve: false, .. })),
        "{fx:?}"
    );
    h.carry_out(fx);
    h.poll();
    assert!(
        h.model
            .pipeline
            .value()
            .is_some_and(|r| r.pending.is_none())
    );
    let end = h.records_of("reject").into_iter().last();
    assert!(
        end.as_ref().is_some_and(|r| r.result == "ok"
            && r.step.is_none()
            && r.reason.as_deref() == Some("p95 regression, see INC-9")
            && r.steps.iter().any(|s| s.contains("environment production"))),
        "{end:?}"
    );

    // GitHub says this user cannot approve: said at the key, no dialog.
    let mut h = Harness::new("good", tuesday(), false);
    if let Some(pending) = h.world.pipeline_mut().pending.as_mut() {
        pending.can_approve = Some(false);
        pending.reviewers = vec!["@suma-finance/release-managers".into()];
    }
    h.poll();
    h.key(Key::char('a'));
    assert!(confirm_of(&h).is_none());
    let said = status(&h);
    assert!(
        said.contains("cannot review") && said.contains("release-managers"),
        "{said}"
    );
}

#[test]
fn bad_canary_is_rolled_back_after_n_failing_intervals() {
    // Sunday: outside the window, the operator advances by hand (with a
    // reason); the analysis may still roll back on its own.
    let mut h = Harness::new("bad-canary", sunday(), false);
    h.change_and_wait(']', "hotfix INC-7", 120);
    assert_eq!(h.model.canary_weight(), Some(50));
    h.run_for(120);
    let rollbacks: Vec<_> = h
        .changes()
        .into_iter()
        .filter(|c| c.action == "rollback")
        .collect();
    assert_eq!(rollbacks.len(), 1, "{rollbacks:?}");
    assert!(rollbacks[0].automatic);
    assert!(
        rollbacks[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("analysis failed 2 intervals"))
    );
    let fails = h
        .model
        .analysis
        .verdicts
        .iter()
        .filter(|v| v.outcome == Outcome::Fail)
        .count();
    assert_eq!(fails, 2);
    assert_eq!(h.model.canary_weight(), Some(0));
    assert_eq!(h.model.plan_state.phase, Phase::RolledBack);
    assert!(
        h.model
            .journal
            .iter()
            .any(|e| e.kind == flightdeck::core::model::JournalKind::Automatic)
    );
}

#[test]
fn on_failure_pause_pauses_and_alert_only_says_so() {
    use flightdeck::core::analysis::OnFailure;
    for (on_failure, paused) in [(OnFailure::Pause, true), (OnFailure::Alert, false)] {
        let mut h = Harness::new("bad-canary", sunday(), false);
        h.model.analysis_settings.on_failure = on_failure;
        h.change_and_wait(']', "hotfix INC-7", 120);
        h.run_for(150);
        // Neither rolls back nor moves traffic: the canary stays at 50 %.
        assert!(
            h.changes().iter().all(|c| c.action != "rollback"),
            "{on_failure:?}: {:?}",
            h.changes()
        );
        assert_eq!(h.model.canary_weight(), Some(50));
        assert_eq!(
            h.model.plan_state.paused,
            paused,
            "{on_failure:?}: {:?}",
            h.model
                .analysis
                .verdicts
                .iter()
                .map(|v| v.reason.clone())
                .collect::<Vec<_>>()
        );
        let said = status(&h);
        let expected = if paused {
            "paused by analysis"
        } else {
            "analysis failing"
        };
        assert!(said.contains(expected), "{on_failure:?}: {said}");
        assert!(
            h.model
                .journal
                .iter()
                .any(|e| e.kind == flightdeck::core::model::JournalKind::Automatic),
            "{on_failure:?}"
        );
    }
}

#[test]
fn run_command_selects_a_recent_run_or_says_which_exist() {
    use flightdeck::core::effect::Effect;
    use flightdeck::core::model::{RunRef, StageStatus};
    let mut h = Harness::new("good", tuesday(), false);
    h.world.pipeline_mut().recent = vec![
        RunRef {
            id: 9_158_403_117,
            number: 1284,
            attempt: 1,
            status: StageStatus::Waiting,
            event: "push".into(),
        },
        RunRef {
            id: 9_158_300_000,
            number: 1283,
            attempt: 2,
            status: StageStatus::Success,
            event: "push".into(),
        },
    ];
    h.poll();
    let fx = h.command("run 1283");
    assert!(
        fx.contains(&Effect::SelectRun(Some(9_158_300_000))),
        "{fx:?}"
    );
    let fx = h.command("run 7");
    assert!(!fx.iter().any(|e| matches!(e, Effect::SelectRun(_))));
    assert!(status(&h).contains("#1284 #1283"), "{}", status(&h));
    let fx = h.command("run");
    assert!(fx.contains(&Effect::SelectRun(None)), "{fx:?}");
    // Showing an older run (the newest is another): automation holds, the
    // newest run's approvals are not what the pane shows.
    h.world.pipeline_mut().recent[0].id = 1;
    h.model.analysis_settings.auto_advance = true;
    h.poll();
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(
        hold.contains("approval state unknown: showing older run"),
        "{hold}"
    );
}

#[test]
fn traffic_back_to_stable_by_another_tool_reads_as_rolled_back_or_promoted_once_settled() {
    use flightdeck::core::model::TrafficSplit;
    use flightdeck::sources::demo::world::{CANARY_SERVICE, STABLE_SERVICE};
    let all_stable = TrafficSplit {
        stable: 100,
        canary: 0,
    };
    // Another tool rolls back: weights to stable, stable still on :41.
    let mut h = Harness::new("good", tuesday(), false);
    h.world.set_weights(all_stable);
    h.poll();
    assert_eq!(h.model.plan_state.phase, Phase::RolledBack);

    // A rollback in the middle of a promotion passes through "stable on the
    // release, weight 0" with the canary still up: not promoted.
    let mut h = Harness::new("good", tuesday(), false);
    let _ = h
        .world
        .set_task_definition(STABLE_SERVICE, "auth-service:42");
    h.run_for(120);
    h.world.set_weights(all_stable);
    h.poll();
    assert_ne!(h.model.plan_state.phase, Phase::Promoted);
    // It finishes as a rollback: stable back on :41.
    let _ = h
        .world
        .set_task_definition(STABLE_SERVICE, "auth-service:41");
    h.run_for(120);
    assert_eq!(h.model.plan_state.phase, Phase::RolledBack);

    // A promotion made elsewhere: settled once the canary is at 0.
    let mut h = Harness::new("good", tuesday(), false);
    let _ = h
        .world
        .set_task_definition(STABLE_SERVICE, "auth-service:42");
    h.run_for(120);
    h.world.set_weights(all_stable);
    let _ = h.world.scale(CANARY_SERVICE, 0);
    h.run_for(60);
    assert_eq!(h.model.plan_state.phase, Phase::Promoted);
}

#[test]
fn enlarging_the_terminal_clears_the_enlarge_message() {
    use flightdeck::core::msg::Msg;
    let mut h = Harness::new("good", tuesday(), false);
    h.send(Msg::Resize(20, 6));
    h.key(Key::char('R'));
    let fx = h.enter();
    assert!(fx.is_empty());
    assert_eq!(dialog_error(&h), "enlarge the terminal to confirm");
    h.send(Msg::Resize(160, 48));
    assert_eq!(dialog_error(&h), "");
}

#[test]
fn inconclusive_never_advances() {
    let mut h = Harness::new("no-data", tuesday(), false);
    approve_in_world(&mut h);
    h.run_for(8 * 60);
    assert!(h.changes().is_empty(), "{:?}", h.changes());
    assert_eq!(h.model.canary_weight(), Some(10));
    assert_eq!(
        h.model.analysis.verdicts.last().map(|v| v.outcome),
        Some(Outcome::Inconclusive)
    );
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(hold.contains("inconclusive"), "{hold}");
}

#[test]
fn command_line_runs_commands_and_names_what_exists() {
    let mut h = Harness::new("good", tuesday(), false);
    h.command("weight 25");
    assert!(confirm_of(&h).is_some_and(|c| c.proposal == Proposal::Weight(25)));
    h.key(esc());

    h.command("weight 101");
    assert!(status(&h).contains("over 100"));

    h.command("theme light");
    assert_eq!(h.model.theme, "light");

    h.command("theme neon");
    assert!(status(&h).contains("unknown theme `neon`") && status(&h).contains("high-contrast"));

    h.key(Key::char(':'));
    h.type_text("rollb");
    h.key(Key::plain(KeyCode::Tab));
    assert!(
        matches!(&h.model.prompt, Prompt::Command { input, .. } if input.value() == "rollback ")
    );
    h.enter();
    assert!(confirm_of(&h).is_some_and(|c| c.proposal == Proposal::Rollback));
    h.key(esc());

    h.command("frobnicate");
    assert!(status(&h).contains("unknown command `frobnicate`"));

    h.key(Key::char(':'));
    let fx = h.type_text("q");
    assert!(fx.is_empty());
    assert!(matches!(h.enter().as_slice(), [Effect::Quit]));
}

#[test]
fn filter_applies_to_the_focused_pane_as_you_type() {
    let mut h = Harness::new("good", tuesday(), false);
    h.run_for(20);
    h.model.focus = Pane::Logs;
    h.key(Key::char('/'));
    h.type_text("token issued");
    assert_eq!(h.model.logs.filter(), "token issued");
    h.enter();
    let visible = h.model.logs.visible(50);
    assert!(!visible.is_empty() && visible.iter().all(|l| l.text.contains("token issued")));
    // Esc clears it.
    h.key(esc());
    assert!(h.model.logs.filter().is_empty());

    h.model.focus = Pane::Tasks;
    h.key(Key::char('/'));
    h.type_text("canary");
    h.enter();
    assert_eq!(h.model.visible_tasks().len(), 1);

    h.model.focus = Pane::Journal;
    h.key(Key::char('/'));
    assert!(matches!(h.model.prompt, Prompt::None));
    assert!(status(&h).contains("Logs and Tasks"));
}

#[test]
fn focus_cycles_and_help_closes_on_any_key() {
    let mut h = Harness::new("good", tuesday(), false);
    let start = h.model.focus;
    for _ in 0..5 {
        h.key(Key::plain(KeyCode::Tab));
    }
    assert_eq!(h.model.focus, start);
    h.key(Key::plain(KeyCode::BackTab));
    assert_eq!(h.model.focus, start.prev());
    h.key(Key::char('?'));
    assert!(matches!(h.model.overlay, Overlay::Help));
    assert!(h.key(Key::char('R')).is_empty());
    assert!(
        matches!(h.model.overlay, Overlay::None),
        "help swallowed the key"
    );
}

#[test]
fn quitting_during_a_change_asks_twice() {
    let mut h = Harness::new("good", tuesday(), false);
    h.key(Key::char(']'));
    let fx = h.confirm("");
    assert_eq!(calls_in(&fx), 1, "{fx:?}");
    assert!(h.key(Key::char('q')).is_empty(), "first q only warns");
    assert!(status(&h).contains("press q again") && status(&h).contains("set_weight"));
    // The second stops the change after the call in flight, then quits.
    assert!(h.key(Key::char('q')).is_empty());
    assert!(
        status(&h).contains("stopping after the call"),
        "{}",
        status(&h)
    );
    h.carry_out(fx);
    assert!(h.model.quit);
    assert!(h.effects.iter().any(|e| matches!(e, Effect::Quit)));
    assert_eq!(h.model.exit_code, 1, "a change cut short exits non-zero");
    let end = h.records().into_iter().rev().find(|r| r.step.is_none());
    let end = end.map(|r| r.result).unwrap_or_default();
    assert!(
        end.starts_with("stopped: quit during the change after 1 of "),
        "{end}"
    );
}

#[test]
fn quitting_during_a_rollback_carries_it_out_first() {
    // An SSH drop (or q q) at 3 a.m. must not cancel a confirmed rollback:
    // its calls are made, its last wait is not watched, then it quits.
    let mut h = Harness::new("good", tuesday(), false);
    h.key(Key::char('R'));
    let fx = h.confirm("drill");
    assert_eq!(calls_in(&fx), 1, "{fx:?}");
    h.key(Key::char('q'));
    assert!(h.key(Key::char('q')).is_empty());
    assert!(
        status(&h).contains("quitting once the rollback under way has made its calls"),
        "{}",
        status(&h)
    );
    h.carry_out(fx);
    assert!(h.model.quit);
    let (weight, stable, canary) = h.world_state();
    assert_eq!((weight, stable.as_str(), canary), (0, "auth-service:41", 0));
    let end = h.records().into_iter().rev().find(|r| r.step.is_none());
    let end = end.ok_or("no end record");
    let end = end.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(end.result, "ok", "{end:?}");
    assert!(
        end.steps.iter().any(|s| s.contains("not watched")),
        "{:?}",
        end.steps
    );
    assert_eq!(h.model.exit_code, 0);
}

#[test]
fn quitting_with_nothing_under_way() {
    // With nothing under way, one q quits.
    let mut h = Harness::new("good", tuesday(), false);
    assert!(matches!(h.key(Key::char('q')).as_slice(), [Effect::Quit]));
}

#[test]
fn service_switches_only_to_a_configured_service_and_not_mid_change() {
    let mut h = Harness::new("good", tuesday(), false);
    h.model.services = vec!["auth-service".into(), "billing".into()];
    h.command("service nope");
    assert!(
        status(&h).contains("the config has auth-service, billing"),
        "{}",
        status(&h)
    );
    h.key(Key::char(']'));
    let fx = h.confirm("");
    h.carry_out(fx);
    h.command("service billing");
    assert!(status(&h).contains("under way"), "{}", status(&h));
    assert!(h.model.switch_to.is_none());
    h.key(esc()); // abandon the wait
    let fx = h.command("service billing");
    assert!(matches!(fx.as_slice(), [Effect::Quit]), "{fx:?}");
    assert_eq!(h.model.switch_to.as_deref(), Some("billing"));
}

#[test]
fn api_calls_are_counted_over_the_last_minute() {
    let mut h = Harness::new("good", tuesday(), false);
    assert_eq!(h.model.api_rate(), None, "the demo does not count");
    h.send(flightdeck::core::msg::Msg::ApiCalls(100));
    h.now += chrono::Duration::seconds(30);
    h.send(flightdeck::core::msg::Msg::ApiCalls(130));
    h.now += chrono::Duration::seconds(40);
    h.send(flightdeck::core::msg::Msg::ApiCalls(150));
    assert_eq!(h.model.api_rate(), Some((150, 20)));
}

#[test]
fn a_poll_that_brings_nothing_new_does_not_redraw() {
    let mut h = Harness::new("good", tuesday(), false);
    let fleet = h.world.fleet();
    h.send(flightdeck::core::msg::Msg::Fleet {
        started: h.now,
        result: Ok(fleet.clone()),
    });
    h.model.dirty = false;
    h.send(flightdeck::core::msg::Msg::Fleet {
        started: h.now,
        result: Ok(fleet),
    });
    assert!(!h.model.dirty, "same fleet: no frame");
    h.send(flightdeck::core::msg::Msg::Logs(Ok(Vec::new())));
    assert!(!h.model.dirty, "no new lines: no frame");
    h.send(flightdeck::core::msg::Msg::Tick);
    assert!(h.model.dirty, "the clock moves every second");
}

#[test]
fn auto_advance_needs_a_bake_of_passes_in_a_row() {
    use flightdeck::core::analysis::Verdict;
    let mut h = Harness::new("good", tuesday(), false);
    approve_in_world(&mut h);
    h.run_for(60);
    // One inconclusive verdict in the window, then passes again.
    let at = h.now;
    h.model.analysis.verdicts.push(Verdict {
        at,
        outcome: Outcome::Inconclusive,
        canary_error_pct: None,
        canary_p95_ms: None,
        stable_p95_ms: None,
        requests: None,
        p_value: None,
        reason: "gap".into(),
    });
    // The bake itself is over: the inconclusive verdict costs a fresh run
    // of passes over the bake (5m ÷ 30s − 1 = 9), not the release.
    h.run_for(4 * 60);
    assert_eq!(
        h.model.canary_weight(),
        Some(10),
        "{:?}",
        h.model.journal.back()
    );
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(
        hold.contains("of 9 passing verdicts in a row over the bake"),
        "{hold}"
    );
    h.run_for(3 * 60);
    assert!(
        h.model.canary_weight().is_some_and(|w| w > 10),
        "nine passes after the inconclusive one advance: {:?}",
        h.model.journal
    );
    // The count moved with every verdict; the hold was journaled once.
    let counting = h
        .records_of("hold")
        .into_iter()
        .filter(|r| r.from == "10%" && r.to.contains("passing verdicts"))
        .count();
    assert_eq!(counting, 1, "{:?}", h.records_of("hold"));
}

#[test]
fn metric_points_are_upserted_by_track_and_time() {
    use flightdeck::core::model::{MetricPoint, Track};
    let mut h = Harness::new("good", tuesday(), false);
    let before = h.model.metrics.canary.len();
    let last = *h
        .model
        .metrics
        .canary
        .back()
        .unwrap_or(&MetricPoint::empty(h.now, Track::Canary));
    // A revised point replaces; a late one lands in time order.
    let revised = MetricPoint {
        error_pct: Some(last.error_pct.unwrap_or(0.0) + 7.0),
        ..last
    };
    let late = MetricPoint {
        at: last.at - chrono::Duration::seconds(5),
        ..last
    };
    h.send(flightdeck::core::msg::Msg::Metrics(Ok(vec![revised, late])));
    let series = &h.model.metrics.canary;
    assert_eq!(series.len(), before + 1);
    assert_eq!(
        series.back().and_then(|p| p.error_pct),
        Some(last.error_pct.unwrap_or(0.0) + 7.0)
    );
    assert!(
        series
            .iter()
            .zip(series.iter().skip(1))
            .all(|(a, b)| a.at < b.at)
    );
    // The same window again changes nothing and draws nothing.
    h.model.dirty = false;
    h.send(flightdeck::core::msg::Msg::Metrics(Ok(vec![revised, late])));
    assert!(!h.model.dirty);
}

#[test]
fn a_negative_canary_error_series_never_moves_traffic() {
    // Seen: a canary error series of -1.0 passed, and auto_advance moved
    // the canary 10 % → 50 %.
    use flightdeck::core::model::MetricPoint;
    let mut h = Harness::new("good", tuesday(), false);
    approve_in_world(&mut h);
    for _ in 0..(20 * 60) {
        h.now += chrono::Duration::seconds(1);
        h.poll();
        // The provider's answer, as it came: every canary point -1 %.
        let points: Vec<MetricPoint> = h
            .model
            .metrics
            .canary
            .iter()
            .map(|p| MetricPoint {
                error_pct: Some(-1.0),
                ..*p
            })
            .collect();
        h.send(flightdeck::core::msg::Msg::Metrics(Ok(points)));
        let fx = h.send(flightdeck::core::msg::Msg::Tick);
        h.carry_out(fx);
    }
    assert_eq!(h.model.canary_weight(), Some(10), "{:?}", h.model.journal);
    let last = h
        .model
        .analysis
        .verdicts
        .last()
        .map(|v| (v.outcome, v.reason.clone()));
    let (outcome, reason) = last.unwrap_or((Outcome::Pass, String::new()));
    assert_eq!(outcome, Outcome::Inconclusive);
    assert!(reason.contains("-1.00% is not a rate"), "{reason}");
}

/// What the README's table says each scenario does when left alone, on the
/// simulated clock where `--demo` starts it — whatever the wall clock.
#[test]
fn every_demo_scenario_does_what_the_readme_says_when_left_alone() {
    use chrono::TimeZone;
    let at = |d, h| {
        chrono::Utc
            .with_ymd_and_hms(2026, 12, d, h, 0, 0)
            .single()
            .unwrap_or_default()
    };
    // Saturday night, Wednesday after the window, Tuesday inside it.
    for wall in [at(5, 3), at(2, 17), at(1, 11)] {
        let start = flightdeck::app::demo_start(wall, false);
        let run = |name: &str| {
            let mut h = Harness::new(name, start, false);
            h.run_for(30 * 60);
            h
        };
        let good = run("good");
        assert_eq!(
            good.model.plan_state.phase,
            Phase::Promoted,
            "good from {wall}"
        );
        assert!(good.changes().iter().all(|c| c.automatic));

        let bad = run("bad-canary");
        let rollbacks: Vec<_> = bad
            .changes()
            .into_iter()
            .filter(|c| c.action == "rollback")
            .collect();
        assert_eq!(
            rollbacks.len(),
            1,
            "bad-canary from {wall}: {:?}",
            bad.changes()
        );
        assert!(rollbacks[0].automatic);
        assert_eq!(bad.model.canary_weight(), Some(0));

        let no_data = run("no-data");
        assert!(no_data.changes().is_empty(), "no-data from {wall}");
        assert_eq!(
            no_data.model.analysis.verdicts.last().map(|v| v.outcome),
            Some(Outcome::Inconclusive)
        );
    }
    // --demo-outside-window: automation holds on the window.
    let mut h = Harness::new("good", flightdeck::app::demo_start(at(2, 11), true), false);
    h.run_for(30 * 60);
    assert!(h.changes().is_empty(), "{:?}", h.changes());
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(hold.contains("change window closed"), "{hold}");
}

#[test]
fn without_a_pipeline_configured_there_is_no_approval_to_wait_for() {
    use flightdeck::core::model::{ErrorKind, SourceError};
    use flightdeck::core::msg::Msg;
    let mut h = Harness::new("good", tuesday(), false);
    h.run_for(10);
    let fx = h.send(Msg::Pipeline(Err(SourceError::of_kind(
        ErrorKind::NotConfigured,
        "GitHub pipeline (no [github] in the config): not configured",
    ))));
    h.carry_out(fx);
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(!hold.contains("approval"), "{hold}");
    // A pipeline that fails to answer is another matter: unknown, held.
    let fx = h.send(Msg::Pipeline(Err(SourceError::of_kind(
        ErrorKind::Unavailable,
        "GitHub: 502",
    ))));
    h.carry_out(fx);
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(hold.contains("approval state unknown"), "{hold}");
}

#[test]
fn team_records_from_others_are_shown_by_who_and_a_pause_from_anyone_is_obeyed() {
    use flightdeck::core::effect::JournalRecord;
    use flightdeck::core::model::{TeamEntry, TeamView};
    use flightdeck::core::msg::Msg;
    let mut h = Harness::new("good", tuesday(), false);
    h.run_for(5);
    h.model.team = Some(TeamView {
        table: "flightdeck".into(),
        process: "me:1:a".into(),
        ..TeamView::default()
    });
    let identity = h.model.service.identity();
    let record = |action: &str, from: &str, to: &str, via: &str| JournalRecord {
        time: "2026-12-01T10:30:03Z".into(),
        operator: "ana".into(),
        service: "auth-service".into(),
        identity: Some(identity.clone()),
        action: action.into(),
        from: from.into(),
        to: to.into(),
        reason: Some("look first".into()),
        result: "ok".into(),
        request_ids: Vec::new(),
        automatic: false,
        change: None,
        step: None,
        steps: Vec::new(),
        weights: Some([90, 10]),
        via: Some(via.into()),
    };
    let entry = |key: &str, process: &str, origin: &str, r: JournalRecord| TeamEntry {
        key: key.into(),
        origin: origin.into(),
        process: process.into(),
        record: r,
    };
    // Our own pause (already applied here) is skipped; ana's is obeyed.
    let fx = h.send(Msg::TeamRecords(vec![
        entry(
            "j#1",
            "me:1:a",
            "me@here",
            record("resume", "", "", "console"),
        ),
        entry(
            "j#2",
            "bastion:7:b",
            "ana@bastion-1 (cli)",
            record("pause", "", "", "cli"),
        ),
        entry(
            "j#3",
            "runner:9:c",
            "ci@runner-7 (drive)",
            JournalRecord {
                // Newer than the one this console saw.
                time: "2026-12-01T10:40:00Z".into(),
                ..record("baseline", "auth-service:40", "auth-service:42", "drive")
            },
        ),
    ]));
    h.carry_out(fx);
    assert!(h.model.plan_state.paused, "ana's pause is obeyed");
    let texts: Vec<&str> = h.model.journal.iter().map(|e| e.text.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("ana@bastion-1 (cli): pause")),
        "{texts:?}"
    );
    assert!(!texts.iter().any(|t| t.starts_with("me@here")), "{texts:?}");
    assert_eq!(
        h.model
            .baseline
            .as_ref()
            .map(|b| b.stable_task_definition.as_str()),
        Some("auth-service:40"),
        "the team's newer baseline"
    );
    // An older resume that reaches the table late changes nothing; another
    // process's automation pausing itself is shown, not obeyed.
    let fx = h.send(Msg::TeamRecords(vec![
        entry(
            "j#0",
            "laptop:3:d",
            "bob@laptop",
            JournalRecord {
                time: "2026-12-01T10:29:00Z".into(),
                ..record("resume", "", "", "console")
            },
        ),
        entry(
            "j#4",
            "laptop:3:d",
            "bob@laptop",
            JournalRecord {
                time: "2026-12-01T10:41:00Z".into(),
                automatic: true,
                ..record("resume", "", "", "console")
            },
        ),
    ]));
    h.carry_out(fx);
    assert!(h.model.plan_state.paused, "still paused");
    // Who drives comes from the driver's seat.
    h.send(Msg::TeamDriver(Some(
        flightdeck::core::model::LeaseHolder {
            operator: "ci".into(),
            via: "drive".into(),
            change: "seat-runner:9:c".into(),
            action: "drive".into(),
            host: "runner-7".into(),
            pid: 9,
            started: None,
            since: "2026-12-01T10:30:00Z".into(),
            call_until: None,
        },
    )));
    let team = h.model.team.clone().unwrap_or_default();
    assert_eq!(
        team.driver.map(|(who, _)| who).as_deref(),
        Some("ci@runner-7 (drive)")
    );
    // Automation holds, and says why.
    h.model.analysis_settings.auto_advance = true;
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(hold.contains("paused"), "{hold}");
    // The table unreachable: said once in the Journal pane.
    h.send(Msg::TeamState(Some(
        "dynamodb:Query: cannot reach AWS".into(),
    )));
    h.send(Msg::TeamState(Some(
        "dynamodb:Query: cannot reach AWS".into(),
    )));
    let said = h
        .model
        .journal
        .iter()
        .filter(|e| e.text.starts_with("team state unreachable"))
        .count();
    assert_eq!(said, 1);
}

#[test]
fn with_another_driver_in_the_seat_this_console_only_watches_until_it_takes_over() {
    use flightdeck::core::model::{LeaseHolder, TeamView};
    use flightdeck::core::msg::Msg;
    let mut h = Harness::new("bad-canary", sunday(), false);
    h.change_and_wait(']', "hotfix INC-7", 120);
    assert_eq!(h.model.canary_weight(), Some(50));
    h.model.team = Some(TeamView {
        table: "flightdeck".into(),
        process: "me:1:a".into(),
        ..TeamView::default()
    });
    let driver = LeaseHolder {
        operator: "ci".into(),
        via: "drive".into(),
        change: "seat-runner:9:c".into(),
        action: "drive".into(),
        host: "runner-7".into(),
        pid: 9,
        started: None,
        since: "2026-12-01T10:30:00Z".into(),
        call_until: None,
    };
    h.send(Msg::TeamDriver(Some(driver.clone())));
    // The canary fails: the driver elsewhere acts, not this console.
    h.run_for(150);
    let rollbacks = |h: &Harness| {
        h.changes()
            .into_iter()
            .filter(|c| c.action == "rollback")
            .count()
    };
    assert_eq!(rollbacks(&h), 0, "a console that watches does not act");
    assert_eq!(h.model.canary_weight(), Some(50));
    // `:drive` without the name asks for it; nothing is taken yet.
    let fx = h.send(Msg::Command("drive".into()));
    assert!(!fx.iter().any(|e| matches!(e, Effect::TakeOverDriving)));
    let status = status(&h);
    assert!(status.contains("type `:drive auth-service`"), "{status}");
    assert!(
        status.contains("ci@runner-7 (drive) drives now"),
        "{status}"
    );
    // With the name typed, the console takes the seat over and, driving,
    // rolls the failing canary back itself.
    let fx = h.send(Msg::Command("drive auth-service".into()));
    assert!(fx.iter().any(|e| matches!(e, Effect::TakeOverDriving)));
    let fx = h.send(Msg::Seat(Ok(Some(driver.describe()))));
    h.carry_out(fx);
    h.run_for(150);
    assert_eq!(rollbacks(&h), 1, "the console drives now");
    assert_eq!(h.model.canary_weight(), Some(0));
    // Taken over in turn: said, journaled, and the console watches again.
    let fx = h.send(Msg::TeamDriver(Some(driver)));
    assert!(fx.iter().any(
        |e| matches!(e, Effect::Journal(r) if r.action == "drive" && r.result == "taken over")
    ));
    assert!(!h.model.team.as_ref().is_some_and(|t| t.driving));
}

#[test]
fn the_fleet_overview_opens_filters_rolls_back_and_esc_comes_back() {
    use flightdeck::core::releases::{ReleaseRow, ReleasesView};
    let mut h = Harness::new("good", tuesday(), false);
    h.run_for(10);
    let row = |name: &str| ReleaseRow {
        name: name.into(),
        environment: "production".into(),
        canary_pct: Some(0),
        read_at: Some(h.model.now),
        ..ReleaseRow::default()
    };
    let rows = vec![row("auth-service"), row("billing"), row("search")];
    h.model.releases = Some(ReleasesView {
        shown: true,
        ..ReleasesView::default()
    });
    h.send(flightdeck::core::msg::Msg::Releases(Ok(rows)));
    // Keys of the console do nothing here: `]` is not an advance.
    let fx = h.key(Key::char(']'));
    assert!(fx.is_empty() && matches!(h.model.overlay, Overlay::None));
    // Enter on this console's own release: the console, no restart.
    h.key(Key::plain(KeyCode::Enter));
    assert!(h.model.releases.as_ref().is_some_and(|v| !v.shown));
    assert!(h.model.switch_to.is_none() && !h.model.quit);
    // Esc with nothing else to close: the overview again; Esc there stays.
    h.key(Key::plain(KeyCode::Esc));
    assert!(h.model.releases.as_ref().is_some_and(|v| v.shown));
    h.key(Key::plain(KeyCode::Esc));
    assert!(h.model.releases.as_ref().is_some_and(|v| v.shown));
    // `/sea` filters (typed, then pasted); Enter keeps the filter; R rolls
    // that release back:
    // the console restarts on it and opens the rollback dialog there.
    for k in [
        Key::char('/'),
        Key::char('s'),
        Key::char('e'),
        Key::char('a'),
    ] {
        h.key(k);
    }
    // A paste goes into the filter, one line, control characters dropped.
    h.send(flightdeck::core::msg::Msg::Paste("r\x07ch\n".into()));
    h.key(Key::plain(KeyCode::Enter));
    assert_eq!(
        h.model
            .releases
            .as_ref()
            .map(|v| v.filter.clone())
            .as_deref(),
        Some("search ")
    );
    let visible: Vec<String> = h
        .model
        .releases
        .as_ref()
        .map(|v| {
            v.visible(h.model.now)
                .iter()
                .map(|r| r.name.clone())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(visible, ["search"]);
    let fx = h.key(Key::char('R'));
    assert_eq!(h.model.switch_to.as_deref(), Some("search"));
    assert!(h.model.switch_rollback && h.model.quit);
    assert!(fx.contains(&Effect::Quit));
}

#[test]
fn after_r_on_the_overview_the_rollback_dialog_opens_once_aws_is_read() {
    let mut h = Harness::new("good", tuesday(), false);
    h.model.rollback_when_read = true;
    assert!(matches!(h.model.overlay, Overlay::None));
    // Keys typed ahead (a name with a `p` in it) are dropped, never run.
    for c in "pause-me".chars() {
        h.key(Key::char(c));
    }
    assert!(!h.model.plan_state.paused);
    h.run_for(5);
    assert!(
        matches!(&h.model.overlay, Overlay::Confirm(c) if c.proposal == Proposal::Rollback),
        "{:?}",
        h.model.status
    );
    assert!(!h.model.rollback_when_read);
}

#[test]
fn a_cluster_named_by_its_arn_is_the_same_identity_as_by_its_name() {
    use flightdeck::core::model::identity_of;
    let by_name = identity_of(
        "123456789012",
        "eu-west-1",
        "suma",
        "auth",
        Some("auth-canary"),
    );
    let by_arn = identity_of(
        "123456789012",
        "eu-west-1",
        "arn:aws:ecs:eu-west-1:123456789012:cluster/suma",
        "auth",
        Some("auth-canary"),
    );
    assert_eq!(by_name, by_arn);
}

/// An ECS-native canary deployment paused at its hook after the canary
/// step, as the adapter reads it.
/// A read of a native service's rule: blue (primary) and green
/// (alternate) with these weights.
fn blue_green_read(
    started: flightdeck::core::model::Time,
    stable: u16,
    canary: u16,
) -> flightdeck::core::msg::Msg {
    flightdeck::core::msg::Msg::Traffic {
        started,
        result: Ok(flightdeck::core::data::Forward {
            stable_target_group: "tg-blue".into(),
            canary_target_group: "tg-green".into(),
            split: flightdeck::core::data::TrafficSplit { stable, canary },
            stickiness: None,
            other: Vec::new(),
        }),
    }
}

fn native_paused(now: flightdeck::core::model::Time) -> flightdeck::core::native::NativeDeployment {
    use flightdeck::core::native::{Hook, NativeDeployment, Strategy};
    NativeDeployment {
        arn: "arn:aws:ecs:eu-west-1:123456789012:service-deployment/suma/auth/NCWGC2ZR".into(),
        status: "IN_PROGRESS".into(),
        status_reason: None,
        stage: Some("POST_PRODUCTION_TRAFFIC_SHIFT".into()),
        strategy: Strategy::Canary {
            percent: 10.0,
            bake_minutes: 5,
        },
        source_revisions: vec![
            "arn:aws:ecs:eu-west-1:123456789012:service-revision/suma/auth/41".into(),
        ],
        target_revision: Some(
            "arn:aws:ecs:eu-west-1:123456789012:service-revision/suma/auth/42".into(),
        ),
        source_task_definition: Some("auth:41".into()),
        target_task_definition: Some("auth:42".into()),
        hooks: vec![Hook {
            id: "pause-after-canary".into(),
            status: "AWAITING_ACTION".into(),
            expires_at: Some(now + chrono::Duration::minutes(12)),
            timeout_action: Some("ROLLBACK".into()),
        }],
        rollback: None,
        finished_at: None,
    }
}

#[test]
fn on_an_ecs_native_service_keys_are_native_calls_through_the_same_dialogs_and_journal()
-> Result<(), Box<dyn std::error::Error>> {
    use flightdeck::core::native::NativeCall;
    let mut h = Harness::new("good", tuesday(), false);
    h.run_for(5);
    h.model.native = Some(flightdeck::core::model::Loadable::Loading);
    let now = h.model.now;
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(native_paused(
        now,
    )))));
    // `status --json` (schema 1) says where the deployment stands.
    let json = flightdeck::cli::status_json(&h.model);
    assert_eq!(json["native"]["status"], "IN_PROGRESS", "{json}");
    assert_eq!(json["native"]["strategy"], "canary");
    assert_eq!(json["native"]["awaiting"]["hook"], "pause-after-canary");
    assert_eq!(json["native"]["awaiting"]["timeout_action"], "ROLLBACK");
    assert_eq!(json["native"]["source_task_definition"], "auth:41");
    // ECS's strategy is the plan: ours is not described beside it.
    assert_eq!(json["plan"]["phase"], "ecs-native", "{json}");
    assert!(json["plan"]["steps"].is_null());
    // `w` and `P`: the strategy owns the weights.
    for key in ['w', 'P'] {
        h.key(Key::char(key));
        assert!(matches!(h.model.overlay, Overlay::None));
        let status = status(&h);
        assert!(
            status.contains("canary strategy sets the weights"),
            "{status}"
        );
    }
    // The world moves under an open dialog: the hook is no longer awaiting
    // at Enter (ECS moved on, or it timed out): nothing is called.
    h.key(Key::char(']'));
    assert!(matches!(h.model.overlay, Overlay::Confirm(_)));
    let mut moved_on = native_paused(now);
    moved_on.hooks[0].status = "SUCCEEDED".into();
    moved_on.stage = Some("BAKE_TIME".into());
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(moved_on))));
    let fx = h.confirm("too late");
    h.carry_out(fx);
    assert!(h.calls.is_empty(), "{:?}", h.calls);
    let said = status(&h);
    assert!(said.contains("no lifecycle hook awaits action"), "{said}");
    h.key(Key::plain(KeyCode::Esc));
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(native_paused(
        now,
    )))));
    // `]`: continue past the awaiting hook, confirmed like any change.
    h.key(Key::char(']'));
    let Overlay::Confirm(c) = &h.model.overlay else {
        panic!("no dialog: {:?}", h.model.status);
    };
    assert_eq!(c.title, "Continue ECS deployment");
    let steps = c.change.step_lines();
    assert!(
        steps
            .iter()
            .any(|l| l.contains("ContinueServiceDeployment CONTINUE")),
        "{steps:?}"
    );
    assert!(
        !c.lines.iter().any(|l| l.contains("Plan:")),
        "{:?}",
        c.lines
    );
    let fx = h.confirm("canary looks fine");
    h.carry_out(fx);
    h.settle(30);
    assert!(h.calls.iter().any(|s| matches!(
        s,
        Step::Native(NativeCall::Continue { hook, .. }) if hook == "pause-after-canary"
    )));
    let continued = h.changes();
    assert!(
        continued.iter().any(|r| r.action == "continue"),
        "{continued:?}"
    );
    let last = h.model.last_change.as_ref().ok_or("no change ended")?;
    assert_eq!(last.change.kind.action_name(), "continue");
    assert_eq!(
        last.change.from,
        "auth:42 at post production traffic shift (in progress)"
    );
    assert_eq!(last.result, "ok");
    // `R` at the hook: ContinueServiceDeployment ROLLBACK, then the wait
    // for ECS to end it: not done while ECS rolls back, nor when the
    // deployment says ROLLBACK_SUCCESSFUL but the rule is still split.
    h.change_and_wait('R', "p95 regressed", 30);
    assert!(
        h.calls
            .iter()
            .any(|s| matches!(s, Step::Native(NativeCall::RollbackHook { .. })))
    );
    let waiting = |h: &Harness| {
        h.model
            .running
            .as_ref()
            .and_then(|r| r.change.steps.get(r.index))
            .is_some_and(|s| s.name() == "wait_rolled_back")
    };
    assert!(waiting(&h), "the rollback waits for ECS");
    let mut rolling = native_paused(h.model.now);
    rolling.hooks[0].status = "SUCCEEDED".into();
    rolling.status = "ROLLBACK_IN_PROGRESS".into();
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(
        rolling.clone(),
    ))));
    // ECS has moved the rule back but not finished: still waiting.
    let now = h.model.now;
    h.send(blue_green_read(now, 100, 0));
    assert!(waiting(&h), "ROLLBACK_IN_PROGRESS is not the end");
    rolling.status = "ROLLBACK_SUCCESSFUL".into();
    h.run_for(1);
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(
        rolling.clone(),
    ))));
    let now = h.model.now;
    let split = |stable, canary| blue_green_read(now, stable, canary);
    h.send(split(90, 10));
    assert!(waiting(&h), "a split rule is not rolled back");
    h.send(split(0, 100));
    assert!(
        waiting(&h),
        "all traffic on the target group is not rolled back"
    );
    // Another deployment's ROLLBACK_SUCCESSFUL is not this rollback's end.
    let mut other = rolling.clone();
    other.arn.push_str("-older");
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(other))));
    h.send(split(100, 0));
    assert!(waiting(&h), "another deployment's end ended the wait");
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(
        rolling.clone(),
    ))));
    assert!(h.model.running.is_none(), "rolled back: the change ends");
    let last = h.model.last_change.as_ref().ok_or("no change ended")?;
    assert_eq!(
        (last.change.kind.action_name(), last.result.as_str()),
        ("rollback", "ok")
    );
    // Past the hook (ECS shifts traffic by itself): R stops the deployment;
    // a deployment that ends ROLLBACK_FAILED fails the change at once.
    let mut moving = native_paused(h.model.now);
    moving.hooks.clear();
    moving.stage = Some("PRODUCTION_TRAFFIC_SHIFT".into());
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(moving.clone()))));
    h.change_and_wait('R', "error spike", 3);
    assert!(
        h.calls
            .iter()
            .any(|s| matches!(s, Step::Native(NativeCall::Stop { .. })))
    );
    moving.status = "ROLLBACK_FAILED".into();
    moving.status_reason = Some("tasks failed to start".into());
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(moving))));
    let last = h.model.last_change.as_ref().ok_or("no change ended")?;
    assert!(
        last.result.contains("ROLLBACK_FAILED") && last.result.contains("tasks failed to start"),
        "{}",
        last.result
    );
    // Nothing under way: nothing to continue.
    h.send(flightdeck::core::msg::Msg::Native(Ok(None)));
    h.key(Key::char(']'));
    let status = status(&h);
    assert!(
        status.contains("no ECS deployment is under way"),
        "{status}"
    );
    Ok(())
}

#[test]
fn on_an_ecs_native_service_the_analysis_continues_a_passing_hook_and_rolls_back_a_failing_one()
-> Result<(), Box<dyn std::error::Error>> {
    use flightdeck::core::native::NativeCall;
    let continues = |h: &Harness| {
        h.calls
            .iter()
            .filter(|s| matches!(s, Step::Native(NativeCall::Continue { .. })))
            .count()
    };
    // A good canary at the hook: held until a lookback of passes (5m ÷ 30s
    // − 1 = 9), then continued once, automatically.
    let mut h = Harness::new("good", tuesday(), false);
    approve_in_world(&mut h);
    h.run_for(5);
    h.model.native = Some(flightdeck::core::model::Loadable::Loading);
    let now = h.model.now;
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(native_paused(
        now,
    )))));
    h.run_for(2 * 60);
    assert_eq!(continues(&h), 0, "too early: {:?}", h.model.journal);
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(hold.contains("passing verdicts in a row"), "{hold}");
    h.run_for(5 * 60);
    assert_eq!(continues(&h), 1, "{:?}", h.model.journal);
    let continued = h
        .changes()
        .into_iter()
        .find(|c| c.action == "continue")
        .ok_or("no continue journaled")?;
    assert!(continued.automatic);
    assert_eq!(
        continued.reason.as_deref(),
        Some("analysis passing at the hook")
    );
    // ECS has not shown it continued yet: not continued twice.
    h.run_for(60);
    assert_eq!(continues(&h), 1);

    // A failing canary at the hook: rolled back at the hook (the timeout
    // action stays ECS's safety net).
    let mut h = Harness::new("good", tuesday(), false);
    approve_in_world(&mut h);
    h.run_for(5);
    // Its p95 (~135 ms) over a threshold of 50 ms: every verdict fails.
    h.model.analysis_settings.max_p95_ms = 50.0;
    h.model.native = Some(flightdeck::core::model::Loadable::Loading);
    let now = h.model.now;
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(native_paused(
        now,
    )))));
    h.run_for(3 * 60);
    assert!(
        h.calls
            .iter()
            .any(|s| matches!(s, Step::Native(NativeCall::RollbackHook { .. }))),
        "{:?}",
        h.model.journal
    );
    assert_eq!(continues(&h), 0);
    let rollback = h
        .changes()
        .into_iter()
        .find(|c| c.action == "rollback")
        .ok_or("no rollback journaled")?;
    let reason = rollback.reason.clone().unwrap_or_default();
    assert!(rollback.automatic && reason.contains("p95"), "{reason}");
    Ok(())
}

#[test]
fn an_ecs_native_deployment_is_shown_from_its_source_group_after_ecs_swapped_the_groups() {
    use flightdeck::core::msg::Msg;
    let mut h = Harness::new("good", tuesday(), false);
    approve_in_world(&mut h);
    h.run_for(2);
    h.model.native = Some(flightdeck::core::model::Loadable::Loading);
    let read = |stable, canary| blue_green_read(tuesday(), stable, canary);
    // The last deployment ended with all traffic on the alternate group.
    h.send(Msg::Native(Ok(None)));
    h.send(read(0, 100));
    assert_eq!(
        h.model.canary_weight(),
        Some(100),
        "configured roles so far"
    );
    // The next one moves from green (its source) back to blue: shown and
    // judged from green, and automation holds (analysis by group would
    // judge the wrong revision).
    let now = h.model.now;
    h.send(Msg::Native(Ok(Some(native_paused(now)))));
    h.send(read(10, 90));
    assert_eq!(h.model.canary_weight(), Some(10));
    assert!(h.model.native_swapped);
    assert!(!flightdeck::core::update::analysing(&h.model));
    let hold = flightdeck::core::update::hold_reason(&h.model).unwrap_or_default();
    assert!(hold.contains("swapped roles"), "{hold}");
    // Its end shows it whole on blue: all on the new revision.
    h.send(read(100, 0));
    assert_eq!(h.model.canary_weight(), Some(100));
}

/// A native canary at its PAUSE hook, automation off.
fn at_native_hook() -> Harness {
    let mut h = Harness::new("good", tuesday(), false);
    h.model.analysis_settings.auto_advance = false;
    h.run_for(2);
    h.model.native = Some(flightdeck::core::model::Loadable::Loading);
    let now = h.model.now;
    h.send(flightdeck::core::msg::Msg::Native(Ok(Some(native_paused(
        now,
    )))));
    h
}

#[test]
fn a_native_rollback_that_takes_over_a_continue_in_flight_never_writes_the_rule_ecs_owns() {
    let mut h = at_native_hook();
    // Another console's continue may still land for 35 s.
    let until = h.now + chrono::Duration::seconds(35);
    h.lease_holder = Some(flightdeck::core::model::LeaseHolder {
        operator: "ana".into(),
        via: "console".into(),
        change: "other".into(),
        action: "continue".into(),
        host: "bastion-1".into(),
        pid: 42,
        since: "2026-12-01T10:29:07Z".into(),
        call_until: Some(until.to_rfc3339()),
        started: None,
    });
    h.key(Key::char('R'));
    let fx = h.confirm("error spike");
    h.carry_out(fx);
    let steps: Vec<&'static str> = h
        .model
        .running
        .as_ref()
        .map(|r| r.change.steps.iter().map(|s| s.name()).collect())
        .unwrap_or_default();
    assert_eq!(steps, ["rollback_deployment", "wait_rolled_back"]);
    assert!(
        !h.calls.iter().any(|s| matches!(s, Step::SetWeights { .. })),
        "{:?}",
        h.calls
    );
}

#[test]
fn a_stale_ecs_deployment_read_is_marked_and_never_continued() {
    use flightdeck::core::msg::Msg;
    let mut h = at_native_hook();
    h.run_for(3);
    h.send(Msg::Native(Err(flightdeck::core::model::SourceError::new(
        "ecs:DescribeServiceDeployments: cannot reach AWS",
    ))));
    h.key(Key::char(']'));
    assert!(matches!(h.model.overlay, Overlay::None));
    let said = status(&h);
    assert!(said.contains("continue once it is read again"), "{said}");
    // A rollback is still offered (ECS refuses what no longer applies).
    h.key(Key::char('R'));
    assert!(
        matches!(h.model.overlay, Overlay::Confirm(_)),
        "{}",
        status(&h)
    );
}

#[test]
fn a_native_rollback_cut_short_by_a_quit_is_journaled_partial_not_ok() {
    use flightdeck::core::msg::Msg;
    let mut h = at_native_hook();
    h.key(Key::char('R'));
    let fx = h.confirm("error spike");
    h.carry_out(fx);
    let fx = h.send(Msg::Shutdown("SIGHUP".into()));
    h.carry_out(fx);
    let last = h.model.last_change.as_ref().map(|l| l.result.clone());
    let result = last.unwrap_or_default();
    assert!(
        result.starts_with("partial: ECS was asked to roll back but not seen to finish"),
        "{result}"
    );
}
