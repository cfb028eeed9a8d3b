//! Whole-screen snapshots at 80×24 and 160×48 with a fixed clock: start,
//! a confirmation dialog, help, and after a rollback. Snapshots hold text
//! only, so the colour of health badges is asserted separately.

mod common;

use common::{Harness, tuesday};
use flightdeck::config::theme::{Role, Theme, Themes};
use flightdeck::core::action::{Key, KeyCode};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

/// The model to draw, at one screen size.
struct HarnessView {
    model: flightdeck::core::model::Model,
}

fn render(h: &Harness, width: u16, height: u16) -> Result<Buffer, Box<dyn std::error::Error>> {
    // The model knows the screen's size (the runtime sends it), so the
    // dialog can tell whether it fits.
    let mut h_model = h.model.clone();
    h_model.screen = Some((width, height));
    let h = &HarnessView { model: h_model };
    let mut terminal = Terminal::new(TestBackend::new(width, height))?;
    let themes = Themes::load(false);
    terminal.draw(|frame| flightdeck::ui::draw(frame, &h.model, themes.get(&h.model.theme)))?;
    Ok(terminal.backend().buffer().clone())
}

fn text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        for x in 0..area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// The demo one minute in: two verdicts, logs, the pipeline waiting.
fn started() -> Harness {
    let mut h = Harness::new("good", tuesday(), false);
    h.run_for(60);
    h
}

#[test]
fn start() -> Result<(), Box<dyn std::error::Error>> {
    let h = started();
    for (w, ht) in [(80, 24), (160, 48)] {
        let screen = text(&render(&h, w, ht)?);
        for title in ["Pipeline", "Canary", "Tasks", "Logs", "Journal"] {
            assert!(screen.contains(title), "{w}x{ht} lacks {title}");
        }
        insta::assert_snapshot!(format!("start_{w}x{ht}"), screen);
    }
    Ok(())
}

#[test]
fn confirmation_dialog() -> Result<(), Box<dyn std::error::Error>> {
    let mut h = started();
    h.key(Key::char(']'));
    for (w, ht) in [(80, 24), (160, 48)] {
        let screen = text(&render(&h, w, ht)?);
        assert!(screen.contains("Type auth-service to confirm"), "{screen}");
        insta::assert_snapshot!(format!("confirm_advance_{w}x{ht}"), screen);
    }
    h.key(Key::plain(KeyCode::Esc));
    h.key(Key::char('R'));
    for (w, ht) in [(80, 24), (160, 48)] {
        insta::assert_snapshot!(
            format!("confirm_rollback_{w}x{ht}"),
            text(&render(&h, w, ht)?)
        );
    }
    Ok(())
}

#[test]
fn help() -> Result<(), Box<dyn std::error::Error>> {
    let mut h = started();
    h.key(Key::char('?'));
    for (w, ht) in [(80, 24), (160, 48)] {
        let screen = text(&render(&h, w, ht)?);
        insta::assert_snapshot!(format!("help_{w}x{ht}"), screen);
    }
    Ok(())
}

#[test]
fn after_rollback() -> Result<(), Box<dyn std::error::Error>> {
    let mut h = started();
    h.change('R', "error spike");
    h.run_for(30);
    for (w, ht) in [(80, 24), (160, 48)] {
        let screen = text(&render(&h, w, ht)?);
        assert!(screen.contains("rolled back"), "{screen}");
        insta::assert_snapshot!(format!("after_rollback_{w}x{ht}"), screen);
    }
    Ok(())
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() -> Result<(), Box<dyn std::error::Error>> {
    let mut h = started();
    for (w, ht) in [(1, 1), (20, 5), (40, 10), (80, 24), (300, 100)] {
        render(&h, w, ht)?;
    }
    h.key(Key::char('R'));
    for (w, ht) in [(1, 1), (20, 5), (40, 10)] {
        render(&h, w, ht)?;
    }
    // The help overlay (its layout depends on the size) and a read-only
    // header, at sizes where little or nothing fits.
    h.key(Key::plain(KeyCode::Esc));
    h.model.read_only = true;
    h.key(Key::char('?'));
    for (w, ht) in [(1, 1), (20, 6), (79, 23), (80, 24), (119, 30), (120, 40)] {
        render(&h, w, ht)?;
    }
    Ok(())
}

#[test]
fn health_badges_carry_their_colour() -> Result<(), Box<dyn std::error::Error>> {
    let h = started();
    let buffer = render(&h, 160, 48)?;
    let theme = Theme::built_in("default").ok_or("no default theme")?;
    let healthy = theme.style(Role::Healthy).fg;
    // Find a HEALTHY cell in the task table and check its colour.
    let screen = text(&buffer);
    let (row, line) = screen
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(" stable ") && l.contains("HEALTHY"))
        .ok_or("no healthy task row")?;
    let col = line
        .chars()
        .collect::<Vec<_>>()
        .windows(7)
        .position(|w| w.iter().collect::<String>() == "HEALTHY");
    let col = col.ok_or("no HEALTHY")? as u16;
    assert_eq!(buffer[(col, row as u16)].fg, healthy.unwrap_or_default());
    Ok(())
}

#[test]
fn hostile_log_lines_are_drawn_inert() -> Result<(), Box<dyn std::error::Error>> {
    let mut h = started();
    h.run_for(120);
    h.model.focus = flightdeck::core::model::Pane::Logs;
    h.model.zoom = true;
    h.model.logs.set_filter("pwned");
    let buffer = render(&h, 160, 48)?;
    let screen = text(&buffer);
    assert!(screen.contains("^[]0;pwned^G"), "{screen}");
    assert!(
        !buffer
            .content()
            .iter()
            .any(|c| c.symbol().chars().any(|ch| ch.is_control()))
    );
    Ok(())
}

#[test]
fn a_failing_metrics_source_is_shown_in_the_canary_pane() -> Result<(), Box<dyn std::error::Error>>
{
    let mut h = started();
    h.send(flightdeck::core::msg::Msg::Metrics(Err(
        flightdeck::core::model::SourceError::new("Datadog 429: rate limited"),
    )));
    let screen = text(&render(&h, 160, 48)?);
    assert!(
        screen.contains("metrics: Datadog 429: rate limited"),
        "{screen}"
    );
    Ok(())
}

/// A forward action that also sends traffic to a third target group: the
/// Canary pane says its share, and its name when there is room.
#[test]
fn another_target_group_s_share_is_shown_in_the_canary_pane()
-> Result<(), Box<dyn std::error::Error>> {
    let mut h = started();
    let mut forward = h.world.forward();
    forward.split = flightdeck::core::model::TrafficSplit {
        stable: 90,
        canary: 5,
    };
    forward.other = vec![(
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/auth-legacy/0a1b2c3d4e5f6071"
            .into(),
        5,
    )];
    let now = h.now;
    h.send(flightdeck::core::msg::Msg::Traffic {
        started: now,
        result: Ok(forward),
    });
    let wide = text(&render(&h, 160, 48)?);
    assert!(wide.contains("· other 5% (auth-legacy 5)"), "{wide}");
    let narrow = text(&render(&h, 80, 24)?);
    assert!(narrow.contains("· other 5%"), "{narrow}");
    Ok(())
}

/// The Logs pane with hostile lines: a title-setting OSC, a screen clear, a
/// bidi override, C1 controls and a 20 kB line — all drawn inert (the
/// escapes visible), the long line cut, ERROR lines marked, and a regex
/// filter's matches highlighted.
#[test]
fn logs_with_hostile_lines() -> Result<(), Box<dyn std::error::Error>> {
    use flightdeck::core::model::{LogLine, Pane};
    use flightdeck::core::msg::Msg;
    let mut h = started();
    let at = h.now;
    let line = |task: &str, text: String| LogLine {
        at,
        task: task.into(),
        text,
    };
    h.send(Msg::Logs(Ok(vec![
        line("3f10de1f", "\u{1b}]0;pwned\u{7}title set?".into()),
        line(
            "3f10de1f",
            "\u{1b}[2J\u{1b}[31mscreen cleared? ERROR upstream".into(),
        ),
        line("3f10de1f", "file: \u{202e}gnp.exe (bidi)".into()),
        line(
            "\u{1b}[5mtask",
            "C1 \u{9b}31m csi and \u{90}dcs\u{9c}".into(),
        ),
        line("3f10de1f", format!("long {}", "x".repeat(20_000))),
    ])));
    h.model.focus = Pane::Logs;
    let screen = text(&render(&h, 160, 48)?);
    assert!(
        !screen.chars().any(|c| c.is_control() && c != '\n'),
        "{screen:?}"
    );
    assert!(screen.contains("^[]0;pwned^Gtitle set?"), "{screen}");
    assert!(screen.contains("\\u{202e}gnp.exe"), "{screen}");
    let kept = h
        .model
        .logs
        .visible(10)
        .into_iter()
        .map(|l| l.text.len())
        .max()
        .unwrap_or(0);
    assert!(kept < 9_000, "the 20 kB line was kept whole: {kept}");
    insta::assert_snapshot!("logs_hostile_160x48", screen);
    // A regex filter: the matching lines, their matches highlighted.
    h.model.logs.set_filter("error|bidi");
    assert_eq!(h.model.logs.shown_len(), 2);
    let buffer = render(&h, 160, 48)?;
    let highlighted: String = (0..buffer.area.height)
        .flat_map(|y| (0..buffer.area.width).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            buffer[(x, y)]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED)
        })
        .map(|(x, y)| buffer[(x, y)].symbol().to_string())
        .collect();
    assert!(
        highlighted.contains("ERROR") && highlighted.contains("bidi"),
        "{highlighted}"
    );
    Ok(())
}

/// The Pipeline pane on a GitHub-shaped run: a re-run waiting for review on
/// production that this user cannot review, with the API budget, and job
/// names from outside drawn inert.
#[test]
fn pipeline_with_a_pending_approval() -> Result<(), Box<dyn std::error::Error>> {
    use flightdeck::core::model::RateBudget;
    let mut h = started();
    {
        let run = h.world.pipeline_mut();
        run.attempt = 2;
        run.stages[0].name = "Build & Lint\u{1b}[2J".into();
        run.rate = Some(RateBudget {
            remaining: 312,
            limit: 5000,
            reset: tuesday(),
        });
        if let Some(p) = run.pending.as_mut() {
            p.can_approve = Some(false);
            p.reviewers = vec!["octocat".into(), "release-managers".into()];
        }
    }
    h.poll();
    let screen = text(&render(&h, 160, 48)?);
    assert!(screen.contains("you cannot review"), "{screen}");
    assert!(screen.contains("API 312/5000"), "{screen}");
    assert!(!screen.contains('\u{1b}'));
    insta::assert_snapshot!("pipeline_pending_160x48", screen);
    Ok(())
}

#[test]
fn at_80x24_the_hold_reason_and_the_header_s_mode_window_and_account_show_whole()
-> Result<(), Box<dyn std::error::Error>> {
    // Sunday: automation holds on the closed window.
    let mut h = Harness::new("good", common::sunday(), false);
    h.run_for(6 * 60);
    let screen = text(&render(&h, 80, 24)?);
    assert!(
        screen.contains("hold: change window closed (opens Tue 10:00)"),
        "{screen}"
    );
    let header = screen.lines().next().unwrap_or_default();
    for part in ["DEMO", "CLOSED", "123456789012", "[P]"] {
        assert!(header.contains(part), "{part} in {header}");
    }
    Ok(())
}

#[test]
fn keys_that_change_production_look_dangerous_in_every_theme()
-> Result<(), Box<dyn std::error::Error>> {
    let themes = Themes::load(false);
    for name in ["default", "light", "high-contrast", "monochrome"] {
        let mut h = started();
        h.model.theme = name.into();
        h.key(Key::char('?'));
        let buffer = render(&h, 80, 24)?;
        let danger = themes.get(name).style(Role::Danger);
        // The key column of the help: R (roll back) and ] (advance) are
        // dangerous, ? (help) is not.
        let cell_of = |label: &str| -> Option<(u16, u16)> {
            let screen = text(&buffer);
            screen.lines().enumerate().find_map(|(y, line)| {
                let x = line.find(label)?;
                let col = line[..x].chars().count();
                Some((u16::try_from(col).ok()?, u16::try_from(y).ok()?))
            })
        };
        for (label, dangerous) in [
            ("R  ROLL BACK", true),
            ("]  advance to", true),
            ("?  help (this", false),
        ] {
            let (x, y) = cell_of(label).ok_or(format!("{name}: no `{label}` in the help"))?;
            let style = buffer[(x, y)].style();
            // What the danger style sets (monochrome sets no colour).
            let same = danger.fg.is_none_or(|c| style.fg == Some(c))
                && danger.bg.is_none_or(|c| style.bg == Some(c))
                && style.add_modifier.contains(danger.add_modifier);
            assert_eq!(
                same, dangerous,
                "{name}: `{label}` drawn {style:?}, danger is {danger:?}"
            );
        }
    }
    Ok(())
}

/// Rows of a buffer with their styles: each run of cells drawn alike as
/// `«fg bg +modifiers»text`, so a snapshot shows what a theme does.
fn styled(buffer: &Buffer, rows: impl IntoIterator<Item = u16>) -> String {
    let mut out = String::new();
    for y in rows {
        let mut last = None;
        for x in 0..buffer.area.width {
            let cell = &buffer[(x, y)];
            let style = (cell.fg, cell.bg, cell.modifier);
            if last != Some(style) {
                let name = |c: ratatui::style::Color| match c {
                    ratatui::style::Color::Reset => "-".to_string(),
                    c => format!("{c}"),
                };
                out.push_str(&format!(
                    "«{} {}{}»",
                    name(cell.fg),
                    name(cell.bg),
                    if cell.modifier.is_empty() {
                        String::new()
                    } else {
                        format!(" +{:?}", cell.modifier)
                    }
                ));
                last = Some(style);
            }
            out.push_str(cell.symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn header_hold_and_help_at_80x24_in_every_theme() -> Result<(), Box<dyn std::error::Error>> {
    for name in ["default", "light", "high-contrast", "monochrome"] {
        // Sunday: the header says CLOSED and the Canary pane holds.
        let mut h = Harness::new("good", common::sunday(), false);
        h.run_for(6 * 60);
        h.model.theme = name.into();
        let screen = render(&h, 80, 24)?;
        let plain = text(&screen);
        let hold = plain
            .lines()
            .position(|l| l.contains("hold: change window closed"))
            .ok_or(format!("{name}: no hold line in\n{plain}"))?;
        h.key(Key::char('?'));
        let help = render(&h, 80, 24)?;
        let shot = format!(
            "header and hold:\n{}\nhelp:\n{}",
            styled(&screen, [0, u16::try_from(hold)?]),
            styled(&help, 0..24)
        );
        insta::assert_snapshot!(format!("theme_{name}_80x24"), shot);
    }
    Ok(())
}

/// The demo with a fleet overview of five releases over it: one failing,
/// one rolled back, one unreadable, one at 10 %, one steady.
pub fn fleet() -> Harness {
    use flightdeck::core::releases::{ReleaseRow, ReleasesView};
    let mut h = started();
    let now = h.model.now;
    let ago = |s: i64| now - chrono::Duration::seconds(s);
    let row = |name: &str, env: &str| ReleaseRow {
        name: name.into(),
        environment: env.into(),
        protected: env == "production",
        cluster: "suma-finance-production".into(),
        account: "123456789012".into(),
        region: "eu-west-1".into(),
        canary_pct: Some(0),
        stable_tasks: Some((9, 9)),
        canary_tasks: Some((0, 0)),
        read_at: Some(ago(3)),
        ..ReleaseRow::default()
    };
    let mut failing = row("billing-service", "production");
    failing.canary_pct = Some(25);
    failing.canary_tasks = Some((2, 3));
    failing.verdict = Some((ago(40), "fail".into()));
    let mut rolled = row("search-service", "production");
    rolled.last_change = Some((ago(300), "rollback".into(), "ok".into()));
    rolled.holder = Some("ana@bastion-1".into());
    let mut unreadable = row("ledger-service", "staging");
    unreadable.read_at = None;
    unreadable.canary_pct = None;
    unreadable.stable_tasks = None;
    unreadable.canary_tasks = None;
    unreadable.error = Some(flightdeck::core::model::SourceError::new(
        "discovery: 2 listener rules forward to both target groups",
    ));
    let mut canary = row("auth-service", "production");
    canary.canary_pct = Some(10);
    canary.canary_tasks = Some((1, 1));
    canary.verdict = Some((ago(20), "pass".into()));
    canary.step = Some((1, 3));
    canary.bake_left = Some(std::time::Duration::from_secs(180));
    let steady = row("mail-service", "production");
    h.model.releases = Some(ReleasesView {
        rows: vec![canary, steady, unreadable, rolled, failing],
        shown: true,
        selected: Some("auth-service".into()),
        read_at: Some(ago(3)),
        ..ReleasesView::default()
    });
    h
}

#[test]
fn fleet_overview_puts_the_failing_release_first_at_80x24_and_200x50()
-> Result<(), Box<dyn std::error::Error>> {
    let h = fleet();
    for (w, ht) in [(80, 24), (200, 50)] {
        let screen = text(&render(&h, w, ht)?);
        let first = screen
            .lines()
            .find(|l| l.starts_with('│') && (l.contains("production") || l.contains("staging")))
            .ok_or("no rows")?;
        assert!(
            first.contains("FAILING") && first.contains("billing-service"),
            "{w}x{ht}: {screen}"
        );
        for state in ["ROLLED BACK", "STALE", "NEED ATTENTION"] {
            assert!(screen.contains(state), "{w}x{ht} lacks {state}: {screen}");
        }
        insta::assert_snapshot!(format!("fleet_{w}x{ht}"), screen);
    }
    // In monochrome the words carry the danger: the same text.
    let mut mono = fleet();
    mono.model.theme = "monochrome".into();
    assert_eq!(text(&render(&mono, 80, 24)?), text(&render(&h, 80, 24)?));
    for (w, ht) in [(20, 6), (1, 1), (300, 100)] {
        render(&h, w, ht)?;
    }
    Ok(())
}

#[test]
fn ecs_native_canary_linear_and_blue_green_in_the_canary_pane()
-> Result<(), Box<dyn std::error::Error>> {
    use flightdeck::core::native::{Hook, NativeDeployment, Strategy};
    for (name, strategy, awaiting) in [
        (
            "canary",
            Strategy::Canary {
                percent: 10.0,
                bake_minutes: 5,
            },
            true,
        ),
        (
            "linear",
            Strategy::Linear {
                percent: 20.0,
                bake_minutes: 3,
            },
            false,
        ),
        ("blue_green", Strategy::BlueGreen, true),
    ] {
        let mut h = started();
        let now = h.model.now;
        h.model.native = Some(flightdeck::core::model::Loadable::Ready {
            value: Some(NativeDeployment {
                arn: "arn:aws:ecs:eu-west-1:123456789012:service-deployment/suma/auth/NCWGC2ZR"
                    .into(),
                status: "IN_PROGRESS".into(),
                status_reason: None,
                stage: Some(
                    if awaiting {
                        "POST_PRODUCTION_TRAFFIC_SHIFT"
                    } else {
                        "BAKE_TIME"
                    }
                    .into(),
                ),
                strategy,
                source_revisions: vec![
                    "arn:aws:ecs:eu-west-1:123456789012:service-revision/suma/auth/41".into(),
                ],
                target_revision: Some(
                    "arn:aws:ecs:eu-west-1:123456789012:service-revision/suma/auth/42".into(),
                ),
                source_task_definition: Some("auth:41".into()),
                target_task_definition: Some("auth:42".into()),
                hooks: vec![Hook {
                    id: "pause-after-shift".into(),
                    status: if awaiting {
                        "AWAITING_ACTION"
                    } else {
                        "SUCCEEDED"
                    }
                    .into(),
                    expires_at: Some(now + chrono::Duration::minutes(12)),
                    timeout_action: Some("ROLLBACK".into()),
                }],
                rollback: None,
                finished_at: None,
            }),
            at: now,
        });
        for (w, ht) in [(80, 24), (160, 48)] {
            let screen = text(&render(&h, w, ht)?);
            assert!(screen.contains("IN PROGRESS"), "{screen}");
            assert_eq!(
                screen.contains("AWAITING ACTION"),
                awaiting,
                "{name} {w}x{ht}: {screen}"
            );
            insta::assert_snapshot!(format!("native_{name}_{w}x{ht}"), screen);
        }
    }
    Ok(())
}
