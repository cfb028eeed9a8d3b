//! Small text helpers for the views: making hostile text inert, sparklines,
//! and truncation.

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

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of the last `width` values, scaled to `max` (at least).
pub fn sparkline(values: &[f64], width: usize, max: f64) -> String {
    let start = values.len().saturating_sub(width);
    let top = values[start..].iter().copied().fold(max, f64::max);
    values[start..]
        .iter()
        .map(|v| {
            if top <= 0.0 {
                BARS[0]
            } else {
                let i = ((v / top) * (BARS.len() - 1) as f64).round() as usize;
                BARS[i.min(BARS.len() - 1)]
            }
        })
        .collect()
}

/// Cut to `width` characters, with an ellipsis when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
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
    fn sparkline_scales_to_the_larger_of_max_and_data() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0], 10, 1.0), "▁▅█");
        assert_eq!(sparkline(&[0.0, 2.0], 10, 1.0), "▁█");
        assert_eq!(sparkline(&[1.0, 2.0, 3.0], 2, 3.0).chars().count(), 2);
    }

    #[test]
    fn truncates_with_ellipsis() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}

/// The ASCII stand-in for a symbol the terminal may not show (a non-UTF-8
/// locale, `--ascii`): borders, bars, sparklines, status glyphs, arrows.
fn ascii_for(c: char) -> char {
    match c {
        '─' | '━' | '═' | '╌' | '┄' => '-',
        '│' | '┃' | '║' | '╎' | '┆' => '|',
        '┌' | '┐' | '└' | '┘' | '┏' | '┓' | '┗' | '┛' | '╔' | '╗' | '╚' | '╝' | '╭' | '╮' | '╯'
        | '╰' | '├' | '┤' | '┬' | '┴' | '┼' | '╠' | '╣' | '╦' | '╩' | '╬' => {
            '+'
        }
        '█' | '▇' | '▆' => '#',
        '▅' | '▄' => '=',
        '▃' | '▂' => '-',
        '▁' => '_',
        '✔' | '✓' => 'v',
        '✘' | '✗' => 'x',
        '●' | '•' | '⠿' => '*',
        '⏸' => '=',
        '⊘' => '/',
        '→' | '▶' | '›' => '>',
        '←' => '<',
        '…' => '~',
        '·' => '.',
        '⚠' => '!',
        '×' => 'x',
        '≤' => '<',
        '≥' => '>',
        '—' | '–' => '-',
        c if c.is_ascii() => c,
        _ => '?',
    }
}

/// Turn every cell of a drawn frame into ASCII.
pub fn asciify(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        let symbol = cell.symbol();
        if symbol.is_ascii() {
            continue;
        }
        let mut chars = symbol.chars();
        let replaced = match (chars.next(), chars.next()) {
            (Some(c), None) => ascii_for(c),
            (None, _) => continue,
            _ => '?',
        };
        cell.set_char(replaced);
    }
}

/// Whether the locale asks for a character set other than UTF-8: the first
/// of LC_ALL, LC_CTYPE, LANG that is set decides (`C`, `POSIX`,
/// `en_US.ISO-8859-1` do; unset does not, as most terminals are UTF-8).
pub fn locale_is_not_utf8(var: impl Fn(&str) -> Option<String>) -> bool {
    let value = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|k| var(k))
        .find(|v| !v.is_empty());
    match value {
        None => false,
        Some(v) => {
            let v = v.to_ascii_lowercase();
            !(v.contains("utf-8") || v.contains("utf8"))
        }
    }
}

#[cfg(test)]
mod ascii_tests {
    use super::*;

    #[test]
    fn the_locale_decides_and_unset_means_utf8() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(locale_is_not_utf8(env(&[("LANG", "C")])));
        assert!(locale_is_not_utf8(env(&[
            ("LANG", "en_US.UTF-8"),
            ("LC_ALL", "POSIX")
        ])));
        assert!(!locale_is_not_utf8(env(&[("LANG", "en_US.UTF-8")])));
        assert!(!locale_is_not_utf8(env(&[
            ("LC_CTYPE", "C.utf8"),
            ("LANG", "C")
        ])));
        assert!(!locale_is_not_utf8(env(&[])));
    }

    #[test]
    fn every_cell_becomes_ascii() {
        let mut buf = ratatui::buffer::Buffer::with_lines(["┌─ → ✔ █▁ …·⚠ 漢x┐"]);
        asciify(&mut buf);
        let text: String = buf.content.iter().map(|c| c.symbol().to_string()).collect();
        assert!(text.is_ascii(), "{text}");
        assert!(text.starts_with("+- > v #_ ~.!"), "{text}");
    }
}
