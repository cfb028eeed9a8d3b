//! The Journal pane: one time-aligned list of pipeline stage changes,
//! traffic changes, verdicts, ECS events and operator actions.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::pane_block;
use super::text::inert;
use crate::config::theme::{Role, Theme};
use crate::core::model::{JournalKind, Model, Pane};

pub struct JournalPane<'a> {
    pub model: &'a Model,
    pub theme: &'a Theme,
}

impl Widget for JournalPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (model, theme) = (self.model, self.theme);
        let count = Span::styled(
            format!("{} entries ", model.journal.len()),
            theme.style(Role::Muted),
        );
        let block = pane_block(Pane::Journal, model, theme, vec![count]);
        let inner = block.inner(area);
        block.render(area, buf);
        let rows = inner.height as usize;
        let end = model
            .journal
            .len()
            .saturating_sub(model.journal_view.selected);
        let start = end.saturating_sub(rows);
        let lines: Vec<Line> = model
            .journal
            .range(start..end)
            .map(|entry| {
                let role = match entry.kind {
                    JournalKind::Pipeline => Role::Muted,
                    JournalKind::Traffic => Role::Canary,
                    JournalKind::Verdict if entry.text.contains(" fail") => Role::Failing,
                    JournalKind::Verdict if entry.text.contains(" inconclusive") => Role::Degraded,
                    JournalKind::Verdict => Role::Healthy,
                    JournalKind::Ecs => Role::Stable,
                    JournalKind::Operator => Role::Focus,
                    JournalKind::Automatic => Role::Degraded,
                    JournalKind::Error => Role::Failing,
                };
                Line::from(vec![
                    Span::styled(
                        entry.at.format("%H:%M:%S ").to_string(),
                        theme.style(Role::Muted),
                    ),
                    Span::styled(format!("{:<8} ", entry.kind.label()), theme.style(role)),
                    Span::styled(inert(&entry.text), theme.style(Role::Text)),
                ])
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}
