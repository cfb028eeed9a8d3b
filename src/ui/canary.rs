//! The Canary pane: the traffic split, the plan with the current step and
//! bake countdown, error rate and p95 of canary and stable against their
//! thresholds (sparklines, or charts when there is room), and the verdicts.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Widget};

use super::text::{inert, sparkline};
use super::{age_span, pane_block};
use crate::config::theme::{Role, Theme};
use crate::core::analysis::Outcome;
use crate::core::model::{MetricPoint, Model, Pane};
use crate::core::plan::Phase;
use crate::core::update::{analysing, hold_reason, humanize};

pub struct CanaryPane<'a> {
    pub model: &'a Model,
    pub theme: &'a Theme,
}

/// Which metric a row or chart shows.
#[derive(Clone, Copy)]
enum Metric {
    ErrorRate,
    P95,
}

impl Metric {
    fn value(self, p: &MetricPoint) -> Option<f64> {
        match self {
            Metric::ErrorRate => p.error_pct,
            Metric::P95 => p.p95_ms,
        }
        .filter(|v| v.is_finite())
    }

    fn limit(self, model: &Model) -> f64 {
        match self {
            Metric::ErrorRate => model.analysis_settings.max_error_rate_pct,
            Metric::P95 => model.analysis_settings.max_p95_ms,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error %",
            Metric::P95 => "p95 ms ",
        }
    }

    fn fmt(self, v: f64) -> String {
        match self {
            Metric::ErrorRate => format!("{v:.2}"),
            Metric::P95 => format!("{v:.0}"),
        }
    }
}

impl Widget for CanaryPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (model, theme) = (self.model, self.theme);
        let mut extra = vec![age_span(&model.traffic, model, theme)];
        if let Some(e) = &model.metrics.error {
            // A metrics source that fails is said where its data would be.
            extra.push(Span::styled(
                inert(&format!(" metrics: {e} ")),
                theme.style(Role::Failing),
            ));
        }
        let block = pane_block(Pane::Canary, model, theme, extra);
        let inner = block.inner(area);
        block.render(area, buf);
        let mut lines = match &model.native {
            // ECS moves the traffic: its strategy, stage and hooks instead
            // of our plan.
            Some(native) => {
                let mut lines = vec![traffic_bar(model, theme, inner.width as usize)];
                lines.extend(native_lines(native, model, theme));
                lines.push(change_line(model, theme));
                lines
            }
            None => vec![
                traffic_bar(model, theme, inner.width as usize),
                plan_line(model, theme),
                state_line(model, theme, inner.width as usize),
                change_line(model, theme),
            ],
        };
        let charts = inner.height >= 16 && inner.width >= 50 && !model.ascii;
        if !charts {
            lines.push(metric_line(
                model,
                theme,
                Metric::ErrorRate,
                inner.width as usize,
            ));
            lines.push(metric_line(model, theme, Metric::P95, inner.width as usize));
        }
        lines.push(verdict_line(model, theme));
        let text_height = lines.len() as u16;
        Paragraph::new(lines).render(
            Rect {
                height: text_height.min(inner.height),
                ..inner
            },
            buf,
        );
        if charts {
            let rest = Rect {
                y: inner.y + text_height,
                height: inner.height - text_height,
                ..inner
            };
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(rest);
            chart(model, theme, Metric::ErrorRate, left, buf);
            chart(model, theme, Metric::P95, right, buf);
        }
    }
}

fn traffic_bar<'a>(model: &Model, theme: &Theme, width: usize) -> Line<'a> {
    let Some(canary) = model.canary_weight() else {
        return Line::from(Span::styled("traffic: loading…", theme.style(Role::Muted)));
    };
    let stable = 100 - canary;
    let left = format!("stable {stable:>3}% ");
    let right = format!(" {canary:>3}% canary");
    // Target groups beside ours in the same forward action: their share of
    // all traffic, and their names when the bar keeps 20 cells.
    let other = model
        .traffic
        .value()
        .filter(|f| !f.other.is_empty())
        .map(|f| {
            let share = format!(" · other {}%", f.other_pct());
            let names: Vec<String> = f
                .other
                .iter()
                .map(|(arn, w)| format!("{} {w}", target_group_name(arn)))
                .collect();
            let named = inert(&format!("{share} ({})", names.join(", ")));
            let room = width.saturating_sub(left.len() + right.len() + 20);
            if named.chars().count() <= room {
                named
            } else {
                share
            }
        })
        .unwrap_or_default();
    let bar = width
        .saturating_sub(left.len() + right.len() + other.chars().count())
        .max(10);
    let canary_cells = (bar * usize::from(canary) + 50) / 100;
    Line::from(vec![
        Span::styled(left, theme.style(Role::Stable)),
        Span::styled("█".repeat(bar - canary_cells), theme.style(Role::Stable)),
        Span::styled("█".repeat(canary_cells), theme.style(Role::Canary)),
        Span::styled(right, theme.style(Role::Canary)),
        Span::styled(other, theme.style(Role::Degraded)),
    ])
}

/// `NAME` of a target group ARN (`…:targetgroup/NAME/ID`), else the text.
fn target_group_name(arn: &str) -> &str {
    arn.rsplit_once(":targetgroup/")
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap_or(arn)
}

fn plan_line<'a>(model: &Model, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::styled("plan ", theme.style(Role::Muted))];
    let current = model.plan_state.step;
    for (i, step) in model.plan.steps.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" → ", theme.style(Role::Muted)));
        }
        let text = match step.bake {
            Some(b) => format!("[{}% {}]", step.weight, humanize(b)),
            None => format!("[{}%]", step.weight),
        };
        let style = match current {
            Some(c) if c == i => theme.style(Role::Focus),
            Some(c) if c > i => theme.style(Role::Healthy),
            _ => theme.style(Role::Muted),
        };
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

/// Phase, step, bake and why automation holds. The hold reason is what an
/// operator looks for: when the line is too narrow, the step and the bake
/// give way to it.
fn state_line<'a>(model: &Model, theme: &Theme, width: usize) -> Line<'a> {
    let state = &model.plan_state;
    let phase_role = match state.phase {
        Phase::RolledBack => Role::Failing,
        Phase::Promoted => Role::Healthy,
        _ => Role::Text,
    };
    let mut spans = vec![Span::styled(
        state.phase.label().to_string(),
        theme.style(phase_role),
    )];
    if let Some(step) = state.step {
        spans.push(Span::styled(
            format!(" · step {}/{}", step + 1, model.plan.steps.len()),
            theme.style(Role::Text),
        ));
    }
    if matches!(state.phase, Phase::Progressing)
        && let Some(left) = state.bake_left(&model.plan, model.now)
    {
        spans.push(Span::styled(
            format!(" · bake {} left", humanize(left)),
            theme.style(Role::Text),
        ));
    }
    if state.paused {
        spans.push(Span::styled(" PAUSED ", theme.style(Role::Danger)));
    } else if let Some(hold) = hold_reason(model)
        && matches!(state.phase, Phase::Progressing | Phase::AtFull)
        // While baking, a hold only matters once the bake is done.
        && state.bake_left(&model.plan, model.now).is_none_or(|left| left.is_zero())
    {
        let full = Span::styled(format!(" · hold: {hold}"), theme.style(Role::Degraded));
        let used: usize = spans.iter().map(Span::width).sum();
        if used + full.width() <= width {
            spans.push(full);
        } else {
            // The whole row goes to the reason (the phase is "progressing"
            // whenever there is a hold to show).
            spans = vec![Span::styled(
                format!("hold: {hold}"),
                theme.style(Role::Degraded),
            )];
        }
    }
    Line::from(spans)
}

/// The change under way with its step and progress; else an unfinished
/// change of an earlier session; else the last change; else the baseline.
fn change_line<'a>(model: &Model, theme: &Theme) -> Line<'a> {
    if let Some(r) = &model.running {
        let step = r
            .change
            .steps
            .get(r.index)
            .map(|s| s.describe())
            .unwrap_or_default();
        let mut text = format!(
            "▶ {} step {}/{}: {step}",
            r.change.kind.action_name(),
            r.index + 1,
            r.change.steps.len()
        );
        if let Some(p) = &r.progress {
            text.push_str(&format!(" · {p}"));
        }
        if let Some(stop) = &r.stop {
            text.push_str(&format!(" · stopping: {stop}"));
        }
        return Line::from(Span::styled(inert(&text), theme.style(Role::Degraded)));
    }
    if let Some(u) = model.unfinished.first() {
        return Line::from(Span::styled(
            inert(&format!(
                "⚠ unfinished (:ack) {} step(s) ran of {} by {} at {}",
                u.ran.len(),
                u.action,
                u.operator,
                u.time
            )),
            theme.style(Role::Danger),
        ));
    }
    let baseline = model.baseline.as_ref().map_or_else(
        || "baseline: not seen yet".to_string(),
        |b| {
            format!(
                "baseline stable {} · release {}",
                b.stable_task_definition, b.release_task_definition
            )
        },
    );
    match &model.last_change {
        Some(last) if last.result != "ok" => Line::from(Span::styled(
            inert(&format!(
                "last: {} {} → {}: {}",
                last.change.kind.action_name(),
                last.change.from,
                last.change.to,
                last.result
            )),
            theme.style(Role::Failing),
        )),
        _ => Line::from(Span::styled(inert(&baseline), theme.style(Role::Muted))),
    }
}

fn latest(points: &std::collections::VecDeque<MetricPoint>, metric: Metric) -> Option<f64> {
    points.back().and_then(|p| metric.value(p))
}

fn metric_line<'a>(model: &Model, theme: &Theme, metric: Metric, width: usize) -> Line<'a> {
    let limit = metric.limit(model);
    let canary = latest(&model.metrics.canary, metric);
    let stable = latest(&model.metrics.stable, metric);
    let value_role = |v: Option<f64>| match v {
        None => Role::Stale,
        Some(v) if v > limit => Role::Failing,
        Some(_) => Role::Healthy,
    };
    // Fixed parts take 41 columns; the sparkline gets what is left.
    let spark_width = width.saturating_sub(41).min(40);
    let values: Vec<f64> = model
        .metrics
        .canary
        .iter()
        .filter_map(|p| metric.value(p))
        .collect();
    let show = |v: Option<f64>| v.map_or("—".to_string(), |v| metric.fmt(v));
    Line::from(vec![
        Span::styled(format!("{} ", metric.label()), theme.style(Role::Muted)),
        Span::styled("canary ", theme.style(Role::Canary)),
        Span::styled(
            format!("{:>5} ", show(canary)),
            theme.style(value_role(canary)),
        ),
        Span::styled(
            sparkline(&values, spark_width, limit),
            theme.style(Role::Canary),
        ),
        Span::styled(" stable ", theme.style(Role::Stable)),
        Span::styled(
            format!("{:>5}", show(stable)),
            theme.style(value_role(stable)),
        ),
        Span::styled(format!(" ≤{}", metric.fmt(limit)), theme.style(Role::Muted)),
    ])
}

fn verdict_line<'a>(model: &Model, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::styled("verdicts ", theme.style(Role::Muted))];
    let verdicts = &model.analysis.verdicts;
    for v in verdicts.iter().skip(verdicts.len().saturating_sub(12)) {
        let (sym, role) = match v.outcome {
            Outcome::Pass => ("✔", Role::Healthy),
            Outcome::Fail => ("✘", Role::Failing),
            Outcome::Inconclusive => ("?", Role::Degraded),
        };
        spans.push(Span::styled(sym, theme.style(role)));
    }
    let settings = &model.analysis_settings;
    // What comes next and when: the next verdict, and how near on_failure is.
    if let Some(last) = model.analysis.last_run
        && analysing(model)
    {
        let next =
            chrono::Duration::from_std(settings.interval).unwrap_or_default() - (model.now - last);
        spans.push(Span::styled(
            format!(" next {}", humanize(next.to_std().unwrap_or_default())),
            theme.style(Role::Muted),
        ));
    }
    let fails = model.analysis.consecutive_failures;
    if fails > 0 {
        spans.push(Span::styled(
            format!(
                " {fails}/{} fails → {}",
                settings.failures_before_action.max(1),
                settings.on_failure.label()
            ),
            theme.style(Role::Failing),
        ));
    }
    match verdicts.last() {
        Some(v) => spans.push(Span::styled(
            format!(" · #{} {}: {}", verdicts.len(), v.outcome.label(), v.reason),
            theme.style(Role::Text),
        )),
        None => spans.push(Span::styled(
            format!(
                " none yet (every {})",
                humanize(model.analysis_settings.interval)
            ),
            theme.style(Role::Muted),
        )),
    }
    Line::from(spans)
}

fn chart(model: &Model, theme: &Theme, metric: Metric, area: Rect, buf: &mut Buffer) {
    let now = model.now;
    let window = model.analysis_settings.lookback.as_secs_f64().max(60.0);
    let series = |points: &std::collections::VecDeque<MetricPoint>| -> Vec<(f64, f64)> {
        points
            .iter()
            .filter_map(|p| {
                Some((
                    (p.at - now).num_milliseconds() as f64 / 1000.0,
                    metric.value(p)?,
                ))
            })
            .filter(|(x, _)| *x >= -window)
            .collect()
    };
    let canary = series(&model.metrics.canary);
    let stable = series(&model.metrics.stable);
    let limit = metric.limit(model);
    let threshold = vec![(-window, limit), (0.0, limit)];
    let top = canary
        .iter()
        .chain(&stable)
        .map(|(_, y)| *y)
        .fold(limit * 1.5, f64::max);
    let datasets = vec![
        Dataset::default()
            .name("limit")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.style(Role::Danger).bg(ratatui::style::Color::Reset))
            .data(&threshold),
        Dataset::default()
            .name("stable")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.style(Role::Stable))
            .data(&stable),
        Dataset::default()
            .name("canary")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.style(Role::Canary))
            .data(&canary),
    ];
    let title = format!("{} (limit {})", metric.label().trim(), metric.fmt(limit));
    Chart::new(datasets)
        .block(
            ratatui::widgets::Block::default().title(Span::styled(title, theme.style(Role::Muted))),
        )
        .x_axis(
            Axis::default()
                .bounds([-window, 0.0])
                .labels([
                    format!("-{}", humanize(std::time::Duration::from_secs_f64(window))),
                    "now".into(),
                ])
                .style(theme.style(Role::Muted)),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(["0".to_string(), metric.fmt(top)])
                .style(theme.style(Role::Muted)),
        )
        .style(Style::default())
        .render(area, buf);
}

/// An ECS-native deployment: the strategy's plan, where it stands, and the
/// hook that awaits an operator with its countdown.
fn native_lines<'a>(
    native: &crate::core::model::Loadable<Option<crate::core::native::NativeDeployment>>,
    model: &Model,
    theme: &Theme,
) -> Vec<Line<'a>> {
    use crate::core::native::Strategy;
    let muted = theme.style(Role::Muted);
    let Some(deployment) = native.value() else {
        return vec![Line::from(Span::styled(
            match native {
                crate::core::model::Loadable::Failed { error, .. } => {
                    inert(&format!("ECS deployment: {error}"))
                }
                _ => "reading the ECS deployment…".to_string(),
            },
            theme.style(Role::Stale),
        ))];
    };
    // A read that failed since: what is shown is older than it looks.
    let stale = match native {
        crate::core::model::Loadable::Stale { at, error, .. } => Some(Line::from(Span::styled(
            inert(&format!(
                "STALE: ECS deployment as read {} ago ({error})",
                humanize((model.now - *at).to_std().unwrap_or_default())
            )),
            theme.style(Role::Stale),
        ))),
        _ => None,
    };
    let Some(d) = deployment else {
        let mut lines: Vec<Line<'a>> = stale.into_iter().collect();
        lines.push(Line::from(Span::styled(
            "ECS-native: no deployment in the last day",
            muted,
        )));
        return lines;
    };
    let plan = match &d.strategy {
        Strategy::Canary {
            percent,
            bake_minutes,
        } => format!("ECS canary: {percent}% for {bake_minutes}m, then 100%"),
        Strategy::Linear {
            percent,
            bake_minutes,
        } => format!("ECS linear: +{percent}% every {bake_minutes}m to 100%"),
        Strategy::BlueGreen => "ECS blue/green: all at once after the test traffic".into(),
        Strategy::Rolling => "ECS rolling".into(),
        Strategy::Other(s) => format!("ECS {}", s.to_lowercase()),
    };
    let role = if d.status.contains("ROLLBACK") || d.status.contains("FAILED") {
        Role::Failing
    } else if d.under_way() {
        Role::Canary
    } else {
        Role::Healthy
    };
    let mut lines: Vec<Line<'a>> = stale.into_iter().collect();
    lines.extend([
        Line::from(Span::styled(inert(&plan), theme.style(Role::Text))),
        Line::from(vec![
            Span::styled(d.status.replace('_', " "), theme.style(role)),
            Span::styled(
                inert(&format!(
                    "{}{} · {} → {}",
                    match d.finished_at {
                        Some(at) if !d.under_way() => format!(
                            " {} ago",
                            humanize((model.now - at).to_std().unwrap_or_default())
                        ),
                        _ => String::new(),
                    },
                    d.stage
                        .as_ref()
                        .map(|s| format!(" · {}", s.to_lowercase().replace('_', " ")))
                        .unwrap_or_default(),
                    d.source_name(),
                    d.target_name()
                )),
                muted,
            ),
        ]),
    ]);
    if let Some(h) = d.awaiting() {
        let left = h
            .expires_at
            .map(|at| humanize((at - model.now).to_std().unwrap_or_default()));
        lines.push(Line::from(vec![
            Span::styled(
                inert(&format!("hook {} AWAITING ACTION", h.id)),
                theme.style(Role::Degraded),
            ),
            Span::styled(
                inert(&format!(
                    ": ] continues, R rolls back{}",
                    match (left, &h.timeout_action) {
                        (Some(left), Some(action)) =>
                            format!(" · {} by itself in {left}", action.to_lowercase()),
                        (Some(left), None) => format!(" · expires in {left}"),
                        _ => String::new(),
                    }
                )),
                muted,
            ),
        ]));
    }
    // The other hooks, with where each stands.
    let others: Vec<String> = d
        .hooks
        .iter()
        .filter(|h| h.status != "AWAITING_ACTION")
        .map(|h| format!("{} {}", h.id, h.status.to_lowercase().replace('_', " ")))
        .collect();
    if !others.is_empty() {
        lines.push(Line::from(Span::styled(
            inert(&format!("hooks: {}", others.join(" · "))),
            muted,
        )));
    }
    if let Some((reason, _)) = &d.rollback {
        let state = match d.status.as_str() {
            "ROLLBACK_SUCCESSFUL" => "rolled back",
            "ROLLBACK_FAILED" => "rollback FAILED",
            _ => "rolling back",
        };
        lines.push(Line::from(Span::styled(
            inert(&format!("{state}: {reason}")),
            theme.style(Role::Failing),
        )));
    }
    lines
}
