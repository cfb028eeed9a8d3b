//! Overlays drawn over the panes: the help screen (generated from the
//! keymap), the confirmation dialog of a change, and the weight prompt.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
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
    let mut lines: Vec<Line> = model
        .keymap
        .help_rows()
        .into_iter()
        .map(|(keys, desc)| {
            Line::from(vec![
                Span::styled(format!("{keys:>10}  "), theme.style(Role::Focus)),
                Span::styled(desc, theme.style(Role::Text)),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        Span::styled("  commands  ", theme.style(Role::Focus)),
        Span::styled(format!(":{}", COMMANDS.join(" :")), theme.style(Role::Text)),
    ]));
    lines.push(Line::from(Span::styled(
        format!("    themes  {}", model.themes.join(", ")),
        theme.style(Role::Muted),
    )));
    lines.push(Line::from(Span::styled(
        if model.ascii {
            "   drawing  ASCII only (--ascii, or a locale that is not UTF-8)"
        } else {
            "   drawing  UTF-8 (--ascii, or LANG=C, draws with ASCII only)"
        },
        theme.style(Role::Muted),
    )));
    if let Some((total, minute)) = model.api_rate() {
        lines.push(Line::from(Span::styled(
            format!(" API calls  {total} in all, {minute} in the last minute"),
            theme.style(Role::Muted),
        )));
    }
    lines.push(Line::from(Span::styled(
        "any key closes this screen",
        theme.style(Role::Muted),
    )));
    // Short terminals get the keys in two columns.
    let two_columns = lines.len() as u16 + 2 > area.height && area.width >= 80;
    if two_columns {
        let half = lines.len().div_ceil(2);
        let right = lines.split_off(half);
        let rect = centered(area, area.width.min(120), half as u16 + 2);
        frame.render_widget(Clear, rect);
        let block = help_block(theme);
        let inner = block.inner(rect);
        frame.render_widget(block, rect);
        let [l, r] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        frame.render_widget(Paragraph::new(lines), l);
        frame.render_widget(Paragraph::new(right), r);
        return;
    }
    let rect = centered(area, 78, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(help_block(theme)), rect);
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

pub fn confirm(frame: &mut Frame, area: Rect, confirm: &Confirm, model: &Model, theme: &Theme) {
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
        return;
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
    if let Some((row, col)) = cursor {
        let x = inner.x + col.saturating_sub(1);
        let y = inner.y + row as u16;
        if y < inner.bottom() {
            frame.set_cursor_position((x.min(inner.right().saturating_sub(1)), y));
        }
    }
}

pub fn weight(
    frame: &mut Frame,
    area: Rect,
    input: &Input,
    error: Option<&str>,
    model: &Model,
    theme: &Theme,
) {
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
    frame.set_cursor_position((x.min(inner.right().saturating_sub(1)), inner.y + 1));
}
