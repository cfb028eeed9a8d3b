//! Overlays drawn over the panes: the help screen (generated from the
//! keymap), the confirmation dialog of a change, and the weight prompt.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};
use tui_input::Input;

use crate::config::theme::{Role, Theme};
use crate::core::model::{Confirm, ConfirmField, Model};
use crate::core::update::COMMANDS;

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

pub fn confirm(frame: &mut Frame, area: Rect, confirm: &Confirm, model: &Model, theme: &Theme) {
    let danger = confirm.request.op.action_name() == "rollback";
    let mut lines: Vec<Line> = Vec::new();
    lines.push(Line::from(Span::styled(
        format!("{} · {}", model.service.name, model.service.environment),
        theme.style(Role::Title),
    )));
    for text in &confirm.lines {
        lines.push(Line::from(Span::styled(
            text.clone(),
            theme.style(Role::Text),
        )));
    }
    if let Some(window) = &confirm.outside_window {
        lines.push(Line::from(Span::styled(
            window.clone(),
            theme.style(Role::Degraded),
        )));
    }
    lines.push(Line::from(""));
    let mut cursor_row = None;
    let prefix_name = format!("Type {} to confirm:", model.service.name);
    if confirm.needs_name {
        cursor_row = cursor_row.or((confirm.field == ConfirmField::Name).then_some((
            lines.len(),
            prefix_name.chars().count() + 2,
            &confirm.name,
        )));
        lines.push(field_line(
            &prefix_name,
            &confirm.name,
            confirm.field == ConfirmField::Name,
            theme,
        ));
    }
    if confirm.needs_reason {
        if confirm.field == ConfirmField::Reason {
            cursor_row = Some((lines.len(), "Reason:".len() + 2, &confirm.reason));
        }
        lines.push(field_line(
            "Reason:",
            &confirm.reason,
            confirm.field == ConfirmField::Reason,
            theme,
        ));
    }
    if let Some(error) = &confirm.error {
        lines.push(Line::from(Span::styled(
            error.clone(),
            theme.style(Role::Failing),
        )));
    }
    lines.push(Line::from(Span::styled(
        "Enter confirm · Esc cancel · Tab next field",
        theme.style(Role::Muted),
    )));
    let width = 74.min(area.width);
    // Long lines wrap: count the rows they take.
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    let lines_rows: Vec<usize> = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner_width))
        .collect();
    let rows: usize = lines_rows.iter().sum();
    let rect = centered(area, width, rows as u16 + 2);
    frame.render_widget(Clear, rect);
    let title_role = if danger { Role::Danger } else { Role::Title };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.style(if danger { Role::Failing } else { Role::Focus }))
        .title(Span::styled(
            format!(" {} ", confirm.title),
            theme.style(title_role),
        ));
    let inner = block.inner(rect);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
    if let Some((row, col, input)) = cursor_row {
        let x = inner.x + (col + input.visual_cursor()) as u16;
        let above: usize = lines_rows[..row].iter().sum();
        let y = inner.y + above as u16;
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
