//! The Tasks pane: stable and canary ECS services (deployments, counts),
//! target health per target group, and a table of tasks.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget};

use super::text::inert;
use super::{age_span, health_style, pane_block};
use crate::config::theme::{Role, Theme};
use crate::core::model::{Model, Pane, Track};
use crate::core::update::humanize;

pub struct TasksPane<'a> {
    pub model: &'a Model,
    pub theme: &'a Theme,
}

impl Widget for TasksPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (model, theme) = (self.model, self.theme);
        let mut extra = vec![
            Span::styled(
                format!("{} ", model.service.cluster),
                theme.style(Role::Muted),
            ),
            age_span(&model.fleet, model, theme),
        ];
        if !model.tasks_view.filter.is_empty() {
            extra.push(Span::styled(
                format!("/{} ", inert(&model.tasks_view.filter)),
                theme.style(Role::Focus),
            ));
        }
        let block = pane_block(Pane::Tasks, model, theme, extra);
        let inner = block.inner(area);
        block.render(area, buf);
        let Some(fleet) = model.fleet.value() else {
            let text = model
                .fleet
                .error()
                .map_or("loading ECS services…".to_string(), |e| e.to_string());
            Paragraph::new(text)
                .style(theme.style(Role::Muted))
                .render(inner, buf);
            return;
        };
        let wide = inner.width >= 100;
        let mut lines = Vec::new();
        for svc in &fleet.services {
            let track_role = if svc.track == Track::Canary {
                Role::Canary
            } else {
                Role::Stable
            };
            let mut spans = vec![Span::styled(
                format!("{:<6} ", svc.track.label()),
                theme.style(track_role),
            )];
            if wide {
                spans.push(Span::styled(
                    format!("{} ", inert(&svc.name)),
                    theme.style(Role::Text),
                ));
            }
            spans.push(Span::styled(
                format!("{}/{} run {} pend ", svc.running, svc.desired, svc.pending),
                theme.style(if svc.running >= svc.desired {
                    Role::Healthy
                } else {
                    Role::Degraded
                }),
            ));
            spans.push(Span::styled(
                format!("{} ", inert(&svc.task_definition)),
                theme.style(Role::Muted),
            ));
            for d in &svc.deployments {
                spans.push(Span::styled(
                    format!("{} ", d.status),
                    health_style(theme, &d.status),
                ));
                spans.push(Span::styled(
                    format!("{} ", d.rollout_state),
                    health_style(theme, &d.rollout_state),
                ));
                if svc.deployments.len() > 1 {
                    spans.push(Span::styled(
                        format!("{} {}/{} ", inert(&d.task_definition), d.running, d.desired),
                        theme.style(Role::Muted),
                    ));
                }
            }
            lines.push(Line::from(spans));
        }
        let mut targets = vec![Span::styled("targets ", theme.style(Role::Muted))];
        for tg in &fleet.targets {
            targets.push(Span::styled(
                format!("{}: ", inert(&tg.target_group)),
                theme.style(Role::Text),
            ));
            let counts = [
                (tg.healthy, "healthy", Role::Healthy),
                (tg.unhealthy, "UNHEALTHY", Role::Failing),
                (tg.initial, "initial", Role::Degraded),
                (tg.draining, "draining", Role::Degraded),
            ];
            for (i, (count, label, role)) in counts.into_iter().enumerate() {
                // Healthy is always shown; the others only when there are some.
                if i == 0 || count > 0 {
                    targets.push(Span::styled(format!("{count} {label} "), theme.style(role)));
                }
            }
        }
        lines.push(Line::from(targets));
        let head = lines.len() as u16;
        Paragraph::new(lines).render(
            Rect {
                height: head.min(inner.height),
                ..inner
            },
            buf,
        );
        if inner.height <= head + 1 {
            return;
        }
        let table_area = Rect {
            y: inner.y + head,
            height: inner.height - head,
            ..inner
        };
        let tasks = model.visible_tasks();
        // Narrow panes keep the columns that matter most.
        let columns: &[(&str, u16)] = if inner.width >= 70 {
            &[
                ("TASK", 8),
                ("TRACK", 6),
                ("REV", 3),
                ("STATUS", 8),
                ("HEALTH", 9),
                ("AZ", 10),
                ("AGE", 6),
                ("STOPPED REASON", 0),
            ]
        } else {
            &[
                ("TASK", 8),
                ("TRACK", 6),
                ("STATUS", 8),
                ("HEALTH", 9),
                ("AGE", 6),
            ]
        };
        // Build only the rows that fit, keeping the selection in view.
        let fits = usize::from(table_area.height.saturating_sub(1)).max(1);
        let selected = model.tasks_view.selected.min(tasks.len().saturating_sub(1));
        let offset = (selected + 1).saturating_sub(fits);
        let rows: Vec<Row> = tasks
            .iter()
            .skip(offset)
            .take(fits)
            .map(|t| {
                let age = t
                    .started_at
                    .and_then(|s| (model.now - s).to_std().ok())
                    .map(humanize)
                    .unwrap_or_default();
                let track_role = if t.track == Track::Canary {
                    Role::Canary
                } else {
                    Role::Stable
                };
                let cells = columns.iter().map(|(name, _)| match *name {
                    // Everything here comes from AWS: drawn inert.
                    "TASK" => Cell::from(inert(t.short_id())),
                    "TRACK" => Cell::from(Span::styled(t.track.label(), theme.style(track_role))),
                    "REV" => Cell::from(inert(t.revision())),
                    "STATUS" => Cell::from(Span::styled(
                        inert(&t.last_status),
                        health_style(theme, &t.last_status),
                    )),
                    "HEALTH" => Cell::from(Span::styled(
                        inert(&t.health),
                        health_style(theme, &t.health),
                    )),
                    "AZ" => Cell::from(inert(&t.az)),
                    "AGE" => Cell::from(age.clone()),
                    _ => Cell::from(inert(t.stopped_reason.as_deref().unwrap_or(""))),
                });
                Row::new(cells.collect::<Vec<_>>())
            })
            .collect();
        let header =
            Row::new(columns.iter().map(|(name, _)| *name)).style(theme.style(Role::Title));
        let widths = columns.iter().map(|(_, w)| {
            if *w == 0 {
                Constraint::Min(10)
            } else {
                Constraint::Length(*w)
            }
        });
        let table = Table::new(rows, widths)
            .header(header)
            .row_highlight_style(theme.style(Role::Focus))
            .column_spacing(1);
        let mut state = TableState::default();
        if model.focus == Pane::Tasks && !tasks.is_empty() {
            state.select(Some(selected - offset));
        }
        StatefulWidget::render(table, table_area, buf, &mut state);
    }
}
