//! The Logs pane: a live tail of the canary's tasks, follow or scrolled
//! back, filtered with `/`. Every line is made inert before it is drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use super::text::{inert, truncate};
use crate::config::theme::{Role, Theme};
use crate::core::model::{Model, Pane};
use crate::core::update::humanize;

pub struct LogsPane<'a> {
    pub model: &'a Model,
    pub theme: &'a Theme,
}

fn level_role(text: &str) -> Role {
    if text.contains("\"level\":\"error\"") || text.contains("\" 5") {
        Role::Failing
    } else if text.contains("\"level\":\"warn\"") || text.contains("\" 4") {
        Role::Degraded
    } else {
        Role::Text
    }
}

impl Widget for LogsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (model, theme) = (self.model, self.theme);
        let logs = &model.logs;
        let mut extra = vec![Span::styled(
            if logs.follow { "following " } else { "PAUSED " },
            theme.style(if logs.follow {
                Role::Muted
            } else {
                Role::Degraded
            }),
        )];
        if !logs.filter().is_empty() {
            extra.push(Span::styled(
                format!(
                    "/{} ({} of {}) ",
                    inert(logs.filter()),
                    logs.shown_len(),
                    logs.len()
                ),
                theme.style(Role::Focus),
            ));
        }
        if let Some(at) = logs.last_at {
            let age = (model.now - at).to_std().unwrap_or_default();
            extra.push(Span::styled(
                format!("last line {} ago ", humanize(age)),
                theme.style(Role::Muted),
            ));
        }
        if let Some(e) = &logs.error {
            extra.push(Span::styled(
                format!("{} ", inert(&e.to_string())),
                theme.style(Role::Failing),
            ));
        }
        let block = pane_block(Pane::Logs, model, theme, extra);
        let inner = block.inner(area);
        block.render(area, buf);
        let width = inner.width as usize;
        let visible = logs.visible(inner.height as usize);
        if visible.is_empty() {
            let text = if logs.filter().is_empty() {
                "no log lines yet"
            } else {
                "no line matches the filter"
            };
            Paragraph::new(text)
                .style(theme.style(Role::Muted))
                .render(inner, buf);
            return;
        }
        let lines: Vec<Line> = visible
            .into_iter()
            .map(|line| {
                let prefix = format!("{} {} ", line.at.format("%H:%M:%S"), inert(&line.task));
                let room = width.saturating_sub(prefix.chars().count());
                Line::from(vec![
                    Span::styled(prefix, theme.style(Role::Muted)),
                    Span::styled(
                        truncate(&inert(&line.text), room),
                        theme.style(level_role(&line.text)),
                    ),
                ])
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}
