//! The Pipeline pane: the GitHub Actions run — commit, each stage's status
//! and time against the seed's target, and a pending approval.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::text::{inert, truncate};
use super::{age_span, pane_block};
use crate::config::theme::{Role, Theme};
use crate::core::model::{Model, Pane, StageStatus};
use crate::core::update::{humanize, short_sha};

pub struct PipelinePane<'a> {
    pub model: &'a Model,
    pub theme: &'a Theme,
}

fn symbol(status: StageStatus) -> (&'static str, Role) {
    match status {
        StageStatus::Success => ("✔", Role::Healthy),
        StageStatus::Failure => ("✘", Role::Failing),
        StageStatus::InProgress => ("●", Role::Degraded),
        StageStatus::Waiting => ("⏸", Role::Degraded),
        StageStatus::Queued => ("○", Role::Muted),
        StageStatus::Cancelled => ("⊘", Role::Stale),
        StageStatus::Skipped => ("-", Role::Stale),
    }
}

impl Widget for PipelinePane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (model, theme) = (self.model, self.theme);
        let mut extra = vec![age_span(&model.pipeline, model, theme)];
        if let Some(rate) = model.pipeline.value().and_then(|r| r.rate) {
            // GitHub's budget: low is worth a glance (other tools share it).
            let low = u64::from(rate.remaining) * 10 < u64::from(rate.limit);
            extra.push(Span::styled(
                format!(" API {}/{} ", rate.remaining, rate.limit),
                theme.style(if low { Role::Degraded } else { Role::Muted }),
            ));
        }
        let block = pane_block(Pane::Pipeline, model, theme, extra);
        let inner = block.inner(area);
        block.render(area, buf);
        let Some(run) = model.pipeline.value() else {
            let text = match model.pipeline.error() {
                Some(e) => inert(&e.to_string()),
                None => "loading the pipeline run…".into(),
            };
            Paragraph::new(text)
                .style(theme.style(Role::Muted))
                .render(inner, buf);
            return;
        };
        let width = inner.width as usize;
        let mut lines = vec![
            Line::from(vec![
                Span::styled(format!("#{} ", run.number), theme.style(Role::Title)),
                Span::styled(
                    if run.attempt > 1 {
                        format!("attempt {} ", run.attempt)
                    } else {
                        String::new()
                    },
                    theme.style(Role::Degraded),
                ),
                Span::styled(
                    format!("{} {} ", inert(&run.event), inert(&run.branch)),
                    theme.style(Role::Muted),
                ),
                Span::styled(
                    format!("{} ", inert(short_sha(&run.sha))),
                    theme.style(Role::Focus),
                ),
                Span::raw(inert(&run.author)),
                Span::styled(
                    // Browsing with `:run N`: say this is not the newest.
                    if run.recent.first().is_some_and(|r| r.id != run.id) {
                        " · older run (:run for the newest)"
                    } else {
                        ""
                    },
                    theme.style(Role::Degraded),
                ),
            ]),
            Line::from(Span::styled(
                truncate(&inert(&run.message), width),
                theme.style(Role::Text),
            )),
        ];
        // A deployment waiting for review: what, since when, and what this
        // user can do about it — above the stages, so it is never cut.
        if let Some(p) = &run.pending {
            use crate::core::action::Action;
            let what = if p.can_approve == Some(false) {
                "you cannot review".to_string()
            } else {
                format!(
                    "{} approve {} reject",
                    model.keymap.hint(Action::Approve),
                    model.keymap.hint(Action::Reject)
                )
            };
            lines.push(Line::from(Span::styled(
                truncate(
                    &format!(
                        "⏸ {} {}/{} reviews, waiting {} · {what}",
                        inert(&p.environment),
                        p.approvals,
                        p.required_reviewers,
                        humanize((model.now - p.waiting_since).to_std().unwrap_or_default()),
                    ),
                    width,
                ),
                theme.style(Role::Degraded),
            )));
        }
        // The run's page, when there is room for it and every stage.
        if let Some(url) = &run.url
            && inner.height as usize >= run.stages.len() + 3
        {
            lines.push(Line::from(Span::styled(
                truncate(&inert(url), width),
                theme.style(Role::Muted),
            )));
        }
        // The recent runs, to pick one with `:run N`, when there is room.
        if run.recent.len() > 1 && inner.height as usize > run.stages.len() + lines.len() {
            let mut spans = vec![Span::styled("runs", theme.style(Role::Muted))];
            for r in &run.recent {
                let (sym, role) = symbol(r.status);
                let style = if r.id == run.id {
                    theme.style(Role::Focus)
                } else {
                    theme.style(Role::Text)
                };
                spans.push(Span::styled(format!(" #{}", r.number), style));
                spans.push(Span::styled(sym, theme.style(role)));
            }
            lines.push(Line::from(spans));
        }
        // Names shrink (with an ellipsis) before the times do.
        let longest = run
            .stages
            .iter()
            .map(|s| s.name.chars().count())
            .max()
            .unwrap_or(10);
        let name_width = longest.min(width.saturating_sub(14)).max(6);

        let mut stage_lines = Vec::new();
        for stage in &run.stages {
            let (sym, role) = symbol(stage.status);
            let elapsed = stage.elapsed(model.now);
            let over = matches!((elapsed, stage.target), (Some(e), Some(t)) if e > t);
            let time = match (elapsed, stage.target) {
                (Some(e), Some(t)) => format!("{}/{}", humanize(e), humanize(t)),
                (Some(e), None) => humanize(e),
                (None, _) => String::new(),
            };
            let mut spans = vec![
                Span::styled(format!("{sym} "), theme.style(role)),
                Span::styled(
                    format!(
                        "{:<name_width$} ",
                        truncate(&inert(&stage.name), name_width)
                    ),
                    theme.style(Role::Text),
                ),
                Span::styled(
                    time,
                    theme.style(if over { Role::Degraded } else { Role::Muted }),
                ),
            ];
            if over {
                let mark = if width >= 45 { " over" } else { "!" };
                spans.push(Span::styled(mark, theme.style(Role::Degraded)));
            }
            if stage.status == StageStatus::Waiting && run.pending.is_some() {
                spans.push(Span::styled(" review", theme.style(Role::Degraded)));
            }
            stage_lines.push(Line::from(spans));
        }
        // Keep the selected (else the active) stage in view when short.
        let room = (inner.height as usize).saturating_sub(lines.len());
        let active = run
            .stages
            .iter()
            .position(|s| !s.status.is_done())
            .unwrap_or(run.stages.len().saturating_sub(1));
        let focus_row = if model.focus == Pane::Pipeline {
            model.pipeline_view.selected
        } else {
            active
        };
        let skip = (focus_row + 2)
            .saturating_sub(room)
            .min(stage_lines.len().saturating_sub(room));
        for (i, line) in stage_lines.into_iter().enumerate().skip(skip).take(room) {
            if model.focus == Pane::Pipeline && i == model.pipeline_view.selected {
                lines.push(line.style(theme.style(Role::Focus)));
            } else {
                lines.push(line);
            }
        }
        Paragraph::new(lines).render(inner, buf);
    }
}
