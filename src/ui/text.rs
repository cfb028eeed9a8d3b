//! Small text helpers for the views: sparklines, ASCII stand-ins, the
//! locale. Outside text is made inert by `crate::text` (re-exported here).

pub use crate::text::{inert, truncate};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_larger_of_max_and_data() {
        assert_eq!(sparkline(&[0.0, 0.5, 1.0], 10, 1.0), "▁▅█");
        assert_eq!(sparkline(&[0.0, 2.0], 10, 1.0), "▁█");
        assert_eq!(sparkline(&[1.0, 2.0, 3.0], 2, 3.0).chars().count(), 2);
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
