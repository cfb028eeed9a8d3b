//! The Logs pane: a live tail of the canary's tasks, follow or scrolled
//! back, filtered with `/`. Every line is made inert before it is drawn.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
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

/// ERROR and WARN lines stand out: JSON `level`, logfmt `level=`, a plain
/// ERROR/FATAL/WARN word, or an access log's 5xx/4xx status.
fn level_role(text: &str) -> Role {
    // A word marker counts where it stands alone ("NO_ERROR" is not an
    // error); a quoted or spaced one (`"level":"error"`, `" 5`) anywhere.
    let has = |words: &[&str]| words.iter().any(|w| marked(text, w));
    if has(&[
        "\"level\":\"error\"",
        "\"level\":\"fatal\"",
        "level=error",
        "ERROR",
        "FATAL",
        "\" 5",
    ]) {
        Role::Failing
    } else if has(&[
        "\"level\":\"warn\"",
        "level=warn",
        "WARN",
        "WARNING",
        "\" 4",
    ]) {
        Role::Degraded
    } else {
        Role::Text
    }
}

fn marked(text: &str, marker: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    if !marker.starts_with(|c: char| c.is_alphanumeric()) {
        return text.contains(marker);
    }
    text.match_indices(marker).any(|(i, _)| {
        !word(text[..i].chars().next_back()) && !word(text[i + marker.len()..].chars().next())
    })
}

/// The line's text with the filter's matches highlighted.
fn highlighted<'a>(
    text: String,
    ranges: &[std::ops::Range<usize>],
    base: Style,
    hit: Style,
) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    let mut at = 0;
    for r in ranges {
        if r.start < at || r.end > text.len() {
            continue;
        }
        if r.start > at {
            spans.push(Span::styled(text[at..r.start].to_string(), base));
        }
        spans.push(Span::styled(text[r.start..r.end].to_string(), hit));
        at = r.end;
    }
    if at < text.len() {
        spans.push(Span::styled(text[at..].to_string(), base));
    }
    spans
}

impl Widget for LogsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (model, theme) = (self.model, self.theme);
        let logs = &model.logs;
        let mut extra = vec![Span::styled(
            match (logs.follow, logs.new_while_paused) {
                (true, _) => format!("{} following ", logs.track.label()),
                (false, 0) => format!("{} PAUSED ", logs.track.label()),
                (false, n) => format!("{} PAUSED +{n} new ", logs.track.label()),
            },
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
                let text = truncate(&inert(&line.text), room);
                let ranges = logs.match_ranges(&text);
                let base = theme.style(level_role(&line.text));
                let hit = theme.style(Role::Focus).add_modifier(Modifier::REVERSED);
                let mut spans = vec![Span::styled(prefix, theme.style(Role::Muted))];
                spans.extend(highlighted(text, &ranges, base, hit));
                Line::from(spans)
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_whole_words() {
        assert_eq!(level_role("2026 ERROR upstream"), Role::Failing);
        assert_eq!(level_role("status=NO_ERROR ok"), Role::Text);
        assert_eq!(
            level_role("{\"level\":\"warn\",\"msg\":\"slow\"}"),
            Role::Degraded
        );
        assert_eq!(level_role("WARNING: disk"), Role::Degraded);
        assert_eq!(level_role("\"GET / HTTP/1.1\" 503 12"), Role::Failing);
    }
}
