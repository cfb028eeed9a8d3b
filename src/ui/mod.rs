//! Views: ratatui widgets over `&Model`. They read the model and compute
//! nothing expensive; one file per pane, shared pieces in `widgets/`.

mod canary;
mod journal;
mod logs;
mod pipeline;
mod releases;
mod tasks;
pub mod text;
mod widgets;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};

use crate::config::theme::{Role, Theme};
use crate::core::action::Action;
use crate::core::model::{ErrorKind, Level, Loadable, Model, Overlay, Pane, Prompt};
use crate::core::update::humanize;

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, model: &Model, theme: &Theme) {
    if let Some(at) = render(frame, model, theme) {
        frame.set_cursor_position(at);
    }
}

/// Draw the model into the frame's buffer; returns where the cursor goes
/// (a prompt or a dialog's input), None when it is hidden. The console's
/// loop renders with this into memory (the screen writer places the
/// cursor); `draw` is the same for a ratatui `Terminal`.
pub fn render(frame: &mut Frame, model: &Model, theme: &Theme) -> Option<Position> {
    let area = frame.area();
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, model, theme);
    if let Some(view) = model.releases.as_ref().filter(|v| v.shown) {
        frame.render_widget(releases::ReleasesScreen { view, model, theme }, body);
    } else if model.zoom {
        draw_pane(frame, body, model.focus, model, theme);
    } else {
        let [top, middle, bottom] = Layout::vertical([
            Constraint::Percentage(44),
            Constraint::Percentage(34),
            Constraint::Min(4),
        ])
        .areas(body);
        let [pipe, can] =
            Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(top);
        let [tsk, lg] =
            Layout::horizontal([Constraint::Percentage(52), Constraint::Percentage(48)])
                .areas(middle);
        draw_pane(frame, pipe, Pane::Pipeline, model, theme);
        draw_pane(frame, can, Pane::Canary, model, theme);
        draw_pane(frame, tsk, Pane::Tasks, model, theme);
        draw_pane(frame, lg, Pane::Logs, model, theme);
        draw_pane(frame, bottom, Pane::Journal, model, theme);
    }
    let prompt = draw_footer(frame, footer, model, theme);
    let cursor = match &model.overlay {
        Overlay::None => prompt,
        Overlay::Help => {
            widgets::help(frame, area, model, theme);
            None
        }
        Overlay::Confirm(confirm) => widgets::confirm(frame, area, confirm, model, theme),
        Overlay::Weight { input, error } => {
            widgets::weight(frame, area, input, error.as_deref(), model, theme)
        }
    };
    if model.ascii {
        text::asciify(frame.buffer_mut());
    }
    cursor
}

/// The block around a pane: its title, how old its data is, and focus.
fn pane_block<'a>(pane: Pane, model: &Model, theme: &Theme, extra: Vec<Span<'a>>) -> Block<'a> {
    let focused = model.focus == pane;
    let border = if focused {
        theme.style(Role::Focus)
    } else {
        theme.style(Role::Border)
    };
    let mut title = vec![Span::styled(
        format!(" {} ", pane.title()),
        if focused {
            theme.style(Role::Focus)
        } else {
            theme.style(Role::Title)
        },
    )];
    title.extend(extra);
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Line::from(title))
}

/// " 3s ago " or " stale 1m: why " for a pane's title.
fn age_span<'a, T>(data: &Loadable<T>, model: &Model, theme: &Theme) -> Span<'a> {
    match data {
        Loadable::Loading => Span::styled(" loading… ", theme.style(Role::Muted)),
        Loadable::Ready { .. } => {
            let age = data.age(model.now).unwrap_or_default();
            Span::styled(format!("{} ago ", humanize(age)), theme.style(Role::Muted))
        }
        Loadable::Stale { error, .. } => {
            let age = data.age(model.now).unwrap_or_default();
            Span::styled(
                format!(" STALE {}: {} ", humanize(age), error),
                theme.style(Role::Stale),
            )
        }
        // Not configured is a choice, not a failure.
        Loadable::Failed { error, .. } if error.kind == ErrorKind::NotConfigured => Span::styled(
            format!(" not configured: {} ", error.message),
            theme.style(Role::Muted),
        ),
        Loadable::Failed { error, .. } => {
            Span::styled(format!(" FAILED: {error} "), theme.style(Role::Failing))
        }
    }
}

fn draw_pane(frame: &mut Frame, area: Rect, pane: Pane, model: &Model, theme: &Theme) {
    match pane {
        Pane::Pipeline => frame.render_widget(pipeline::PipelinePane { model, theme }, area),
        Pane::Canary => frame.render_widget(canary::CanaryPane { model, theme }, area),
        Pane::Tasks => frame.render_widget(tasks::TasksPane { model, theme }, area),
        Pane::Logs => frame.render_widget(logs::LogsPane { model, theme }, area),
        Pane::Journal => frame.render_widget(journal::JournalPane { model, theme }, area),
    }
}

fn draw_header(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let base = theme.style(Role::Header);
    let svc = &model.service;
    let wide = area.width >= 140;
    let clock = if wide {
        model.now.format("%Y-%m-%d %H:%M:%S UTC ").to_string()
    } else {
        model.now.format("%H:%M:%S UTC ").to_string()
    };
    let window = match &svc.change_window {
        None => "window: always open".to_string(),
        Some(w) if w.is_open(model.now) => "window: OPEN".to_string(),
        Some(w) if wide => format!("window: closed, opens {}", w.next_open(model.now)),
        Some(_) => "window: closed".to_string(),
    };
    // Segments with a full and a short form. What does not fit is first
    // abbreviated, least important first; then the brand goes; then whole
    // segments, least important first — never cut in the middle. The mode
    // (DEMO, READ-ONLY), the window's state and the account stay at 80
    // columns.
    let protected = if svc.protected { " [protected]" } else { "" };
    let env_short: String = svc.environment.chars().take(4).collect();
    let short_window = match &svc.change_window {
        None => "always open",
        Some(w) if w.is_open(model.now) => "OPEN",
        Some(_) => "CLOSED",
    };
    let bold = base.add_modifier(ratatui::style::Modifier::BOLD);
    // (drop order: 0 never, higher first; full; short)
    let mut segments: Vec<(u8, Span, Span)> = vec![
        (
            4,
            Span::styled(" flightdeck ", bold),
            Span::styled(" flightdeck ", bold),
        ),
        (
            0,
            Span::styled(
                format!("│ {} · {}{protected} ", svc.name, svc.environment),
                base,
            ),
            Span::styled(
                format!(
                    "│ {} · {env_short}{} ",
                    svc.name,
                    if svc.protected { " [P]" } else { "" }
                ),
                base,
            ),
        ),
    ];
    if model.read_only {
        // Never abbreviated: the mode must read as what it is.
        let ro = Span::styled(" READ-ONLY ", theme.style(Role::Danger));
        segments.push((0, ro.clone(), ro));
    }
    segments.push((
        1,
        Span::styled(format!("│ {window} "), base),
        Span::styled(format!("│ {short_window} "), base),
    ));
    if let Some(demo) = &model.demo {
        segments.push((
            2,
            Span::styled(format!("│ DEMO {} ×{} ", demo.scenario, demo.speed), base),
            Span::styled("│ DEMO ", base),
        ));
    }
    // Shared or not: nobody should take this console's view for the team's.
    match &model.team {
        _ if model.demo.is_some() => {}
        None => segments.push((
            3,
            Span::styled("│ team state: off ", base),
            Span::styled("│ team: off ", base),
        )),
        Some(team) if team.unreachable.is_some() => {
            let style = theme.style(Role::Danger);
            segments.push((
                1,
                Span::styled(" TEAM STATE UNREACHABLE ", style),
                Span::styled(" TEAM DOWN ", style),
            ));
        }
        Some(team) => {
            let driver = match &team.driver {
                _ if team.driving => ", driving here".to_string(),
                Some((who, _)) => format!(", driven by {who}"),
                None => String::new(),
            };
            segments.push((
                3,
                Span::styled(format!("│ team: {}{driver} ", team.table), base),
                Span::styled(
                    if team.driving {
                        "│ team, driving ".to_string()
                    } else if driver.is_empty() {
                        "│ team ".to_string()
                    } else {
                        "│ team, driven ".to_string()
                    },
                    base,
                ),
            ));
        }
    }
    // A terminal that stopped reading: said for two minutes once it is
    // back (the journal keeps it).
    if let Some((when, seconds)) = model.screen_stalled
        && model.now - when < chrono::Duration::minutes(2)
    {
        let style = theme.style(Role::Degraded);
        segments.push((
            2,
            Span::styled(
                format!(
                    "│ screen stalled {seconds}s until {} ",
                    when.format("%H:%M:%S")
                ),
                style,
            ),
            Span::styled(format!("│ stalled {seconds}s "), style),
        ));
    }
    segments.push((
        3,
        Span::styled(format!("│ {} · {} ", svc.account, svc.region), base),
        Span::styled(format!("│ {} ", svc.account), base),
    ));
    let room = usize::from(area.width).saturating_sub(clock.chars().count());
    let width = |segs: &[(u8, Span, Span)], short: &dyn Fn(u8) -> bool| -> usize {
        segs.iter()
            .map(|(p, full, abbr)| {
                if short(*p) {
                    abbr.width()
                } else {
                    full.width()
                }
            })
            .sum()
    };
    // How far to abbreviate: none, then from the least important up.
    let mut cutoff = u8::MAX;
    for level in [u8::MAX, 3, 2, 1, 0] {
        cutoff = level;
        if width(&segments, &|p| p >= level) <= room {
            break;
        }
    }
    let short = |p: u8| p >= cutoff;
    for drop in [4, 3, 2, 1] {
        if width(&segments, &short) <= room {
            break;
        }
        segments.retain(|(p, ..)| *p != drop);
    }
    let segments: Vec<(u8, Span)> = segments
        .into_iter()
        .map(|(p, full, abbr)| (p, if short(p) { abbr } else { full }))
        .collect();
    let spans: Vec<Span> = segments.into_iter().map(|(_, s)| s).collect();
    let [left, right] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(clock.chars().count() as u16),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(base), left);
    frame.render_widget(Paragraph::new(clock).style(base), right);
}

fn draw_footer(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) -> Option<Position> {
    match &model.prompt {
        Prompt::Command { input, hint } => {
            let line = Line::from(vec![
                Span::styled(":", theme.style(Role::Focus)),
                Span::raw(input.value().to_string()),
                Span::styled(
                    format!("   {}", hint.as_deref().unwrap_or_default()),
                    theme.style(Role::Muted),
                ),
            ]);
            frame.render_widget(Paragraph::new(line), area);
            let x = area.x + 1 + input.visual_cursor() as u16;
            Some(Position::new(x.min(area.right().saturating_sub(1)), area.y))
        }
        Prompt::Filter { pane, input } => {
            let line = Line::from(vec![
                Span::styled(
                    format!("filter {}: /", pane.title()),
                    theme.style(Role::Focus),
                ),
                Span::raw(input.value().to_string()),
                Span::styled("   Enter keep · Esc clear", theme.style(Role::Muted)),
            ]);
            let offset = format!("filter {}: /", pane.title()).chars().count() as u16;
            frame.render_widget(Paragraph::new(line), area);
            let x = area.x + offset + input.visual_cursor() as u16;
            Some(Position::new(x.min(area.right().saturating_sub(1)), area.y))
        }
        Prompt::None => {
            let line = match &model.status {
                Some(status) => {
                    let role = match status.level {
                        Level::Info => Role::Text,
                        Level::Warn => Role::Degraded,
                        Level::Error => Role::Failing,
                    };
                    // Status text can carry names from outside (GitHub's
                    // reviewers, an API's refusal): drawn inert.
                    Line::from(Span::styled(
                        format!(" {}", text::inert(&status.text)),
                        theme.style(role),
                    ))
                }
                None => key_hints(model, theme),
            };
            frame.render_widget(Paragraph::new(line), area);
            None
        }
    }
}

fn key_hints<'a>(model: &Model, theme: &Theme) -> Line<'a> {
    if model.releases.as_ref().is_some_and(|v| v.shown) {
        return hint_line(
            model,
            theme,
            &[
                (Action::Help, "help"),
                (Action::Rollback, "roll back"),
                (Action::Filter, "filter"),
                (Action::Quit, "quit"),
            ],
            " Enter open ",
        );
    }
    // ECS-native: ECS owns the weights (no `w`, `P`); `]` continues the
    // awaiting hook.
    let native = model.native.is_some();
    let hints: Vec<(Action, &str)> = [
        (Action::Help, "help"),
        (Action::Advance, if native { "continue" } else { "advance" }),
        (Action::SetWeight, "weight"),
        (Action::Promote, "promote"),
        (
            Action::Pause,
            if model.plan_state.paused {
                "resume"
            } else {
                "pause"
            },
        ),
        (Action::Approve, "approve"),
        (Action::Rollback, "rollback"),
        (Action::Command, "cmd"),
        (Action::Filter, "filter"),
        (Action::Quit, "quit"),
    ]
    .into_iter()
    .filter(|(a, _)| !native || !matches!(a, Action::SetWeight | Action::Promote))
    .collect();
    hint_line(model, theme, &hints, "")
}

fn hint_line<'a>(model: &Model, theme: &Theme, hints: &[(Action, &str)], first: &str) -> Line<'a> {
    let mut spans = Vec::new();
    if !first.is_empty() {
        spans.push(Span::styled(first.to_string(), theme.style(Role::Muted)));
    }
    for &(action, label) in hints {
        let key = model.keymap.hint(action);
        let style = if action.is_change() && model.read_only {
            theme.style(Role::Stale)
        } else {
            theme.style(Role::Focus)
        };
        spans.push(Span::styled(format!(" {key}"), style));
        spans.push(Span::styled(format!(" {label} "), theme.style(Role::Muted)));
    }
    Line::from(spans)
}

/// Style of a health word (HEALTHY, UNHEALTHY, ...).
fn health_style(theme: &Theme, word: &str) -> Style {
    match word {
        "HEALTHY" | "RUNNING" | "COMPLETED" | "PRIMARY" => theme.style(Role::Healthy),
        "UNHEALTHY" | "FAILED" | "STOPPED" => theme.style(Role::Failing),
        "UNKNOWN" | "PENDING" | "IN_PROGRESS" | "ACTIVE" | "PROVISIONING" | "DRAINING" => {
            theme.style(Role::Degraded)
        }
        _ => theme.style(Role::Text),
    }
}
