//! The fleet overview: one row per release, what needs attention first.
//! The state word (FAILING, ROLLED BACK, STALE, APPROVAL) leads each row,
//! so danger reads in monochrome and at 80 columns; wider screens add the
//! cluster, account and region, the last change and who holds the lease.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, Widget};

use super::text::inert;
use crate::config::theme::{Role, Theme};
use crate::core::model::Model;
use crate::core::releases::{Attention, ReleaseRow, ReleasesView};
use crate::core::update::humanize;

pub struct ReleasesScreen<'a> {
    pub view: &'a ReleasesView,
    pub model: &'a Model,
    pub theme: &'a Theme,
}

fn role(attention: Attention) -> Role {
    match attention {
        Attention::Failing | Attention::RolledBack => Role::Failing,
        Attention::Stale => Role::Stale,
        Attention::Approval => Role::Degraded,
        Attention::Moving => Role::Canary,
        Attention::Quiet => Role::Healthy,
    }
}

fn tasks(t: Option<(u32, u32)>) -> String {
    t.map_or("-".into(), |(running, desired)| {
        format!("{running}/{desired}")
    })
}

fn ago(at: Option<crate::core::model::Time>, now: crate::core::model::Time) -> String {
    at.map_or("never".into(), |at| {
        humanize((now - at).to_std().unwrap_or_default())
    })
}

/// The canary's share, or why it is unknown.
fn canary(row: &ReleaseRow) -> String {
    match row.canary_pct {
        Some(p) => match row.step {
            Some((i, n)) => format!("{p}% {i}/{n}"),
            None => format!("{p}%"),
        },
        None if row.error.is_some() => "?".into(),
        None => "…".into(),
    }
}

/// What the row says about its state: the newest verdict, the last change,
/// a failed deployment, a pause, or why it could not be read.
fn detail(row: &ReleaseRow) -> String {
    if let Some(e) = &row.error {
        return e.to_string();
    }
    let mut parts = Vec::new();
    if let Some(service) = &row.failed_deployment {
        parts.push(format!("ECS deployment FAILED on {service}"));
    }
    if let Some(left) = row.bake_left.filter(|l| !l.is_zero()) {
        parts.push(format!("bake {} left", humanize(left)));
    }
    if let Some((_, outcome)) = &row.verdict {
        parts.push(format!("verdict {outcome}"));
    }
    if let Some((_, action, result)) = &row.last_change {
        parts.push(format!("last {action} {result}"));
    }
    if row.paused {
        parts.push("paused".into());
    }
    if let Some(env) = &row.approval {
        parts.push(format!("approval waits ({env})"));
    }
    parts.join(" · ")
}

impl Widget for ReleasesScreen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (view, model, theme) = (self.view, self.model, self.theme);
        let now = model.now;
        let rows = view.visible(now);
        let needs = rows
            .iter()
            .filter(|r| r.attention(now) < Attention::Approval)
            .count();
        let mut title = vec![Span::styled(" Fleet ", theme.style(Role::Title))];
        title.push(Span::styled(
            format!("{} releases", view.rows.len()),
            theme.style(Role::Muted),
        ));
        if needs > 0 {
            title.push(Span::styled(
                format!(" · {needs} NEED ATTENTION"),
                theme.style(Role::Failing),
            ));
        }
        title.push(Span::styled(
            match &view.error {
                Some(e) => format!(" · read failed: {} ", inert(&e.to_string())),
                None => format!(" · read {} ago ", ago(view.read_at, now)),
            },
            theme.style(if view.error.is_some() {
                Role::Stale
            } else {
                Role::Muted
            }),
        ));
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.style(Role::Border))
            .title(Line::from(title));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.height == 0 || inner.width == 0 {
            return;
        }
        // At the bottom: the selected release's whole detail (the column
        // is cut on narrow screens), and the filter while there is one.
        let filtering = view.typing || !view.filter.is_empty();
        let [table_area, detail_area, keys_area] = ratatui::layout::Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(u16::from(inner.height > 4)),
            Constraint::Length(u16::from(filtering)),
        ])
        .areas(inner);
        let chosen = rows.get(view.selected_index(now));
        if let Some(row) = chosen {
            let detail = detail(row);
            let line = Line::from(vec![
                Span::styled(format!("{}: ", inert(&row.name)), theme.style(Role::Title)),
                Span::styled(
                    if detail.is_empty() {
                        "nothing to report".to_string()
                    } else {
                        inert(&detail)
                    },
                    theme.style(role(row.attention(now))),
                ),
            ]);
            Paragraph::new(line).render(detail_area, buf);
        }
        if filtering {
            let line = Line::from(vec![
                Span::styled("filter: /", theme.style(Role::Focus)),
                Span::raw(inert(&view.filter)),
                Span::styled(
                    if view.typing {
                        "   Enter keep · Esc clear"
                    } else {
                        "   Esc clears"
                    },
                    theme.style(Role::Muted),
                ),
            ]);
            Paragraph::new(line).render(keys_area, buf);
        }
        let wide = table_area.width >= 150;
        // Narrow: the state, the name whole, the canary; the detail line
        // under the rows says the rest.
        let narrow = table_area.width < 70;
        let mut header = if narrow {
            vec!["STATE", "RELEASE", "CANARY"]
        } else {
            vec!["STATE", "RELEASE", "ENV", "CANARY", "TASKS S/C"]
        };
        if wide {
            header.extend(["WHERE", "LEASE / DRIVER", "READ"]);
        }
        if !narrow {
            header.push("DETAIL");
        }
        let selected = view.selected_index(now);
        let body: Vec<Row> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let attention = r.attention(now);
                let marker = if i == selected { "▶ " } else { "  " };
                let mut cells = vec![
                    Cell::from(format!("{marker}{}", attention.label()))
                        .style(theme.style(role(attention))),
                    Cell::from(inert(&r.name)),
                ];
                if narrow {
                    cells.push(Cell::from(canary(r)));
                    return Row::new(cells).style(if i == selected {
                        theme.style(Role::Focus)
                    } else {
                        Style::default()
                    });
                }
                cells.extend([
                    Cell::from(format!(
                        "{}{}",
                        inert(&r.environment),
                        if r.protected { "*" } else { "" }
                    )),
                    Cell::from(canary(r)),
                    Cell::from(format!(
                        "{} {}",
                        tasks(r.stable_tasks),
                        tasks(r.canary_tasks)
                    )),
                ]);
                if wide {
                    cells.push(Cell::from(inert(&format!(
                        "{} {} {}",
                        r.cluster, r.account, r.region
                    ))));
                    cells.push(Cell::from(inert(r.holder.as_deref().unwrap_or("-"))));
                    cells.push(Cell::from(ago(r.read_at, now)));
                }
                cells.push(Cell::from(inert(&detail(r))));
                let style = if i == selected {
                    theme.style(Role::Focus)
                } else {
                    Style::default()
                };
                Row::new(cells).style(style)
            })
            .collect();
        // The names as wide as the longest (within reason).
        let name_width = rows
            .iter()
            .map(|r| unicode_width::UnicodeWidthStr::width(r.name.as_str()))
            .max()
            .unwrap_or(7)
            .clamp(7, if wide { 48 } else { 24 }) as u16;
        let mut widths = if narrow {
            vec![
                Constraint::Length(13),
                Constraint::Fill(1),
                Constraint::Length(9),
            ]
        } else {
            vec![
                Constraint::Length(13),
                Constraint::Length(name_width),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Length(9),
            ]
        };
        if wide {
            let where_width = rows
                .iter()
                .map(|r| r.cluster.len() + r.account.len() + r.region.len() + 2)
                .max()
                .unwrap_or(5)
                .clamp(5, 60) as u16;
            widths.extend([
                Constraint::Length(where_width),
                Constraint::Length(18),
                Constraint::Length(6),
            ]);
        }
        if !narrow {
            widths.push(Constraint::Fill(2));
        }
        if rows.is_empty() {
            let text = if view.rows.is_empty() {
                "reading the releases…"
            } else {
                "no release matches the filter (Esc clears it)"
            };
            Paragraph::new(Span::styled(text, theme.style(Role::Muted))).render(table_area, buf);
            return;
        }
        // Keep the selection in sight.
        let visible = table_area.height.saturating_sub(1) as usize;
        let skip = selected.saturating_sub(visible.saturating_sub(1));
        let body: Vec<Row> = body.into_iter().skip(skip).collect();
        Table::new(body, widths)
            .header(Row::new(header).style(theme.style(Role::Title)))
            .column_spacing(1)
            .render(table_area, buf);
    }
}
