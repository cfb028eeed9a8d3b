//! Overlays drawn over the panes: the help screen (generated from the
//! keymap), the confirmation dialog of a change, and the weight prompt.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use tui_input::Input;

use crate::config::theme::{Role, Theme};
use crate::core::model::{Confirm, ConfirmField, Model, Proposal};
use crate::core::update::{COMMANDS, DialogRole, dialog_fits, dialog_lines, dialog_size};
use crate::ui::text::inert;

/// A centred rectangle of at most `width` × `height`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(row);
    cell
}

pub fn help(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    // Wide enough for the long descriptions in one column of 78, or two of
    // 60; else the short ones, two columns of 39. Keys that change
    // production are drawn as dangerous.
    let rows = model.keymap.help_rows();
    let tall = rows.len() as u16 + 9 <= area.height;
    let (columns, short) = match (area.width, tall) {
        (w, true) if w >= 78 => (1, false),
        (w, _) if w >= 120 => (2, false),
        (w, false) if w >= 80 => (2, true),
        _ => (1, true),
    };
    let entry = |(action, keys): &(crate::core::action::Action, String)| {
        let key_role = if action.is_change() {
            Role::Danger
        } else {
            Role::Focus
        };
        let desc = if short {
            action.short_description()
        } else {
            action.description()
        };
        Line::from(vec![
            Span::styled(format!("{keys:>10}  "), theme.style(key_role)),
            Span::styled(desc, theme.style(Role::Text)),
        ])
    };
    let keys: Vec<Line> = rows.iter().map(entry).collect();
    let mut notes: Vec<Line> = vec![
        Line::from(vec![
            Span::styled("commands  ", theme.style(Role::Focus)),
            Span::styled(format!(":{}", COMMANDS.join(" :")), theme.style(Role::Text)),
        ]),
        Line::from(Span::styled(
            format!("themes  {}", model.themes.join(", ")),
            theme.style(Role::Muted),
        )),
        Line::from(Span::styled(
            if model.ascii {
                "drawing  ASCII only (--ascii, or a locale that is not UTF-8)"
            } else {
                "drawing  UTF-8 (--ascii, or LANG=C, draws with ASCII only)"
            },
            theme.style(Role::Muted),
        )),
    ];
    if let Some((total, minute)) = model.api_rate() {
        notes.push(Line::from(Span::styled(
            format!("API calls  {total} in all, {minute} in the last minute"),
            theme.style(Role::Muted),
        )));
    }
    notes.push(Line::from(Span::styled(
        "any key closes this screen",
        theme.style(Role::Muted),
    )));
    let width = if columns == 2 {
        area.width.min(120)
    } else {
        area.width.min(78)
    };
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    // The notes wrap under the keys, across the whole width.
    let note_rows: usize = notes
        .iter()
        .map(|l| l.width().div_ceil(inner_width).max(1))
        .sum();
    let key_rows = keys.len().div_ceil(columns);
    let height = u16::try_from(key_rows + 1 + note_rows + 2).unwrap_or(u16::MAX);
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let block = help_block(theme);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [top, bottom] = Layout::vertical([
        Constraint::Length(u16::try_from(key_rows).unwrap_or(u16::MAX)),
        Constraint::Min(0),
    ])
    .areas(inner);
    if columns == 2 {
        let mut left = keys;
        let right = left.split_off(key_rows);
        let [l, r] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
        frame.render_widget(Paragraph::new(left), l);
        frame.render_widget(Paragraph::new(right), r);
    } else {
        frame.render_widget(Paragraph::new(keys), top);
    }
    let mut below = vec![Line::from("")];
    below.extend(notes);
    frame.render_widget(Paragraph::new(below).wrap(Wrap { trim: false }), bottom);
}

fn help_block(theme: &Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.style(Role::Focus))
        .title(Span::styled(" Help: keys ", theme.style(Role::Title)))
}

fn field_line<'a>(label: &str, input: &Input, active: bool, theme: &Theme) -> Line<'a> {
    let style = if active {
        theme.style(Role::Focus)
    } else {
        theme.style(Role::Muted)
    };
    Line::from(vec![
        Span::styled(format!("{label} "), style),
        Span::styled(format!("[{}]", input.value()), theme.style(Role::Text)),
    ])
}

/// A field on one row: the label, then as much of the end of the value as
/// fits (the cursor is at the end while typing).
fn dialog_field<'a>(
    label: &str,
    input: &Input,
    active: bool,
    width: usize,
    theme: &Theme,
) -> (Line<'a>, u16) {
    let style = if active {
        theme.style(Role::Focus)
    } else {
        theme.style(Role::Muted)
    };
    let room = width.saturating_sub(label.chars().count() + 3).max(1);
    let value: Vec<char> = input.value().chars().collect();
    let shown: String = value[value.len().saturating_sub(room - 1)..]
        .iter()
        .collect();
    let shown = inert(&shown);
    let col = label.chars().count() + 2 + shown.chars().count();
    let line = Line::from(vec![
        Span::styled(format!("{label} "), style),
        Span::styled(format!("[{shown}]"), theme.style(Role::Text)),
    ]);
    (line, u16::try_from(col).unwrap_or(u16::MAX))
}

pub fn confirm(
    frame: &mut Frame,
    area: Rect,
    confirm: &Confirm,
    model: &Model,
    theme: &Theme,
) -> Option<Position> {
    let danger = confirm.proposal == Proposal::Rollback;
    let border = theme.style(if danger { Role::Failing } else { Role::Focus });
    // A dialog that does not fit cannot be confirmed: say so instead of
    // drawing half of it.
    if !dialog_fits(model, confirm) {
        let (w, h) = dialog_size(confirm, model, area.width.max(40));
        let lines = vec![
            Line::from(Span::styled(
                format!("{}: enlarge the terminal to confirm", confirm.title),
                theme.style(Role::Failing),
            )),
            Line::from(Span::styled(
                format!("needs {w}x{h}, have {}x{}", area.width, area.height),
                theme.style(Role::Text),
            )),
            Line::from(Span::styled("Esc cancel", theme.style(Role::Muted))),
        ];
        let rect = centered(area, 44, 5);
        frame.render_widget(Clear, rect);
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(Block::default().borders(Borders::ALL).border_style(border)),
            rect,
        );
        return None;
    }
    let (width, height) = dialog_size(confirm, model, area.width);
    let inner_width = width.saturating_sub(2);
    let rows = dialog_lines(
        confirm,
        &model.service.name,
        &model.service.environment,
        inner_width,
    );
    let mut cursor = None;
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .map(|(i, (role, text))| match role {
            DialogRole::Field(field) => {
                let input = match field {
                    ConfirmField::Name => &confirm.name,
                    ConfirmField::Reason => &confirm.reason,
                };
                let active = confirm.field == *field;
                let (line, col) =
                    dialog_field(text, input, active, usize::from(inner_width), theme);
                if active {
                    cursor = Some((i, col));
                }
                line
            }
            other => {
                let role = match other {
                    DialogRole::Title => Role::Title,
                    DialogRole::Warn => Role::Degraded,
                    DialogRole::Error => Role::Failing,
                    DialogRole::Hint => Role::Muted,
                    _ => Role::Text,
                };
                Line::from(Span::styled(inert(text), theme.style(role)))
            }
        })
        .collect();
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let title_role = if danger { Role::Danger } else { Role::Title };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(border)
        .title(Span::styled(
            format!(" {} ", confirm.title),
            theme.style(title_role),
        ));
    let inner = block.inner(rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
    let (row, col) = cursor?;
    let x = inner.x + col.saturating_sub(1);
    let y = inner.y + row as u16;
    (y < inner.bottom()).then(|| Position::new(x.min(inner.right().saturating_sub(1)), y))
}

pub fn weight(
    frame: &mut Frame,
    area: Rect,
    input: &Input,
    error: Option<&str>,
    model: &Model,
    theme: &Theme,
) -> Option<Position> {
    let current = model
        .canary_weight()
        .map_or("?".to_string(), |w| format!("{w}%"));
    let mut lines = vec![
        Line::from(Span::styled(
            format!("Canary weight now {current}"),
            theme.style(Role::Text),
        )),
        field_line("New weight (0-100):", input, true, theme),
    ];
    if let Some(error) = error {
        lines.push(Line::from(Span::styled(
            error.to_string(),
            theme.style(Role::Failing),
        )));
    }
    lines.push(Line::from(Span::styled(
        "Enter next · Esc cancel",
        theme.style(Role::Muted),
    )));
    let rect = centered(area, 72, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.style(Role::Focus))
        .title(Span::styled(
            " Set canary weight ",
            theme.style(Role::Title),
        ));
    let inner = block.inner(rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
    let x = inner.x + ("New weight (0-100):".len() + 2 + input.visual_cursor()) as u16;
    Some(Position::new(
        x.min(inner.right().saturating_sub(1)),
        inner.y + 1,
    ))
}
