//! The one sanitizer for outside text — log lines, task ids, provider
//! errors, names echoed from a config — before it reaches a pane, stderr,
//! the journal, a notification or JSON: secrets removed, control
//! characters, escapes and bidi overrides made visible, long text cut by
//! display width (a wide character is never split).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Make text safe to draw: control characters (ESC, BEL, CR, C1 codes, ...)
/// become visible caret notation (`^[`), so a log line can never move the
/// cursor, set the window title or clear the screen. The secrets this
/// process holds are removed first (`crate::secrets::scrub`).
pub fn inert(text: &str) -> String {
    let text = crate::secrets::scrub(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push_str("    "),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from_u32(c as u32 + 0x40).unwrap_or('?'));
            }
            '\u{7f}' => out.push_str("^?"),
            c if ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            // Bidi overrides could make a line read differently than it is.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Cut to `width` terminal columns, with an ellipsis when cut; a wide
/// character that would straddle the edge is left out.
pub fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let room = width.saturating_sub(1);
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// Provider text as one line of at most `width` columns: secrets removed,
/// control characters as spaces, whitespace folded, cut with `…`.
pub fn one_line(text: &str, width: usize) -> String {
    let spaced: String = crate::secrets::scrub(text)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let folded = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&folded, width)
}

/// Cut to `max` characters (for APIs whose limits count characters, such
/// as Slack's), with an ellipsis when cut.
pub fn cut_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!(
            "{}…",
            text.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_visible_text() {
        let hostile = "ua=\"\x1b[2J\x1b]0;pwned\x07curl\" \r\u{9b}31m \u{202e}txt";
        let safe = inert(hostile);
        assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
        assert!(safe.contains("^[[2J"));
        assert!(safe.contains("^G"));
        assert!(safe.contains("^M"));
        assert!(safe.contains("\\u{9b}"));
        assert!(safe.contains("\\u{202e}"));
    }

    /// Property: whatever the input, the output has no control character
    /// (C0, DEL, C1) and no bidi override — nothing a terminal acts on.
    /// 20,000 random strings mixing escapes, controls, bidi and any Unicode.
    #[test]
    fn inert_never_emits_a_control_character_whatever_the_input() {
        let mut rng = fastrand::Rng::with_seed(7);
        let pick = |rng: &mut fastrand::Rng| -> char {
            match rng.u8(0..6) {
                0 => char::from_u32(rng.u32(0..0x20)).unwrap_or('?'),
                1 => char::from_u32(rng.u32(0x7f..0xa0)).unwrap_or('?'),
                2 => [
                    '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}', '\u{1b}', '\u{9b}',
                ][rng.usize(0..6)],
                3 => char::from_u32(rng.u32(0x20..0x7f)).unwrap_or('?'),
                _ => loop {
                    if let Some(c) = char::from_u32(rng.u32(0..0x11_0000)) {
                        break c;
                    }
                },
            }
        };
        for _ in 0..20_000 {
            let len = rng.usize(0..64);
            let input: String = (0..len).map(|_| pick(&mut rng)).collect();
            let out = inert(&input);
            let bad = out.chars().find(|c| {
                c.is_control()
                    || ('\u{202a}'..='\u{202e}').contains(c)
                    || ('\u{2066}'..='\u{2069}').contains(c)
            });
            assert_eq!(bad, None, "input {input:?} gave {out:?}");
        }
    }

    #[test]
    fn a_registered_secret_is_never_drawn() {
        crate::secrets::register("inert-secret-0123456789");
        assert_eq!(
            inert("log: token=inert-secret-0123456789\x1b[2J"),
            "log: token=[redacted]^[[2J"
        );
    }

    #[test]
    fn truncates_with_ellipsis() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn wide_characters_are_cut_by_their_width() {
        // Each of these takes two columns.
        assert_eq!(truncate("日本語のログ", 7), "日本語…");
        assert!(truncate("日本語のログ", 7).width() <= 7);
        assert_eq!(one_line("a\n\tb\x1b[2J  c", 20), "a b [2J c");
        assert_eq!(cut_chars("abcdef", 4), "abc…");
    }
}
