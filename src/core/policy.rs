//! Policy: what a change needs before it may happen — read-only refuses it,
//! a protected service wants its name typed, a rollback or a change outside
//! the change window wants a reason.

use chrono::{Datelike, NaiveTime, Timelike, Weekday};

use super::model::Time;

/// A weekly change window such as `Tue-Thu 10:00-16:00 UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeWindow {
    pub first_day: Weekday,
    pub last_day: Weekday,
    pub start: NaiveTime,
    pub end: NaiveTime,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

fn parse_day(text: &str) -> Option<Weekday> {
    let lower = text.to_ascii_lowercase();
    DAYS.iter()
        .find(|(name, _)| lower == *name)
        .map(|(_, d)| *d)
}

fn day_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Mon",
        Weekday::Tue => "Tue",
        Weekday::Wed => "Wed",
        Weekday::Thu => "Thu",
        Weekday::Fri => "Fri",
        Weekday::Sat => "Sat",
        Weekday::Sun => "Sun",
    }
}

impl ChangeWindow {
    /// Parse `DAY[-DAY] HH:MM-HH:MM UTC`. The error says what is expected.
    pub fn parse(text: &str) -> Result<ChangeWindow, String> {
        let expected = "expected a window like \"Tue-Thu 10:00-16:00 UTC\"";
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [days, hours, zone] = parts.as_slice() else {
            return Err(format!("`{text}`: {expected}"));
        };
        if !zone.eq_ignore_ascii_case("UTC") {
            return Err(format!(
                "`{text}`: only UTC windows are supported; {expected}"
            ));
        }
        let (first, last) = days.split_once('-').unwrap_or((days, days));
        let (Some(first_day), Some(last_day)) = (parse_day(first), parse_day(last)) else {
            return Err(format!(
                "`{days}` is not a day or day range (Mon..Sun); {expected}"
            ));
        };
        let bad_time = || format!("`{hours}` is not a time range HH:MM-HH:MM; {expected}");
        let (start, end) = hours.split_once('-').ok_or_else(bad_time)?;
        let start = NaiveTime::parse_from_str(start, "%H:%M").map_err(|_| bad_time())?;
        let end = NaiveTime::parse_from_str(end, "%H:%M").map_err(|_| bad_time())?;
        if end <= start {
            return Err(format!(
                "`{hours}`: the window must end after it starts; {expected}"
            ));
        }
        Ok(ChangeWindow {
            first_day,
            last_day,
            start,
            end,
        })
    }

    fn day_in(&self, day: Weekday) -> bool {
        let (first, last, d) = (
            self.first_day.num_days_from_monday(),
            self.last_day.num_days_from_monday(),
            day.num_days_from_monday(),
        );
        if first <= last {
            (first..=last).contains(&d)
        } else {
            d >= first || d <= last
        }
    }

    pub fn is_open(&self, now: Time) -> bool {
        let time = now.time();
        self.day_in(now.weekday()) && time >= self.start && time < self.end
    }

    /// When the window opens next, as "Tue 10:00".
    pub fn next_open(&self, now: Time) -> String {
        for offset in 0..8 {
            let day = now + chrono::Duration::days(offset);
            if !self.day_in(day.weekday()) {
                continue;
            }
            if offset == 0 && now.time() >= self.start {
                continue;
            }
            return format!(
                "{} {:02}:{:02}",
                day_name(day.weekday()),
                self.start.hour(),
                self.start.minute()
            );
        }
        self.to_string()
    }
}

impl std::fmt::Display for ChangeWindow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{} {}-{} UTC",
            day_name(self.first_day),
            day_name(self.last_day),
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// What the confirmation dialog must collect before a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirements {
    pub type_name: bool,
    pub reason: bool,
    /// Set when outside the change window: the words to show.
    pub outside_window: Option<String>,
}

/// Whether an operator change may be asked for at all, and what it needs.
pub fn requirements(
    read_only: bool,
    protected: bool,
    window: Option<&ChangeWindow>,
    is_rollback: bool,
    now: Time,
) -> Result<Requirements, String> {
    if read_only {
        return Err("read-only: changes are disabled (started with --read-only)".into());
    }
    let outside_window = window.filter(|w| !w.is_open(now)).map(|w| {
        format!(
            "Outside the change window ({w}); next opens {}. A reason is required.",
            w.next_open(now)
        )
    });
    Ok(Requirements {
        type_name: protected,
        reason: is_rollback || outside_window.is_some(),
        outside_window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> Time {
        chrono::Utc
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn parses_and_checks_the_seed_window() {
        let w = ChangeWindow::parse("Tue-Thu 10:00-16:00 UTC").map_err(|e| e.to_string());
        let Ok(w) = w else { panic!("{w:?}") };
        // 2026-12-01 is a Tuesday.
        assert!(w.is_open(at(2026, 12, 1, 10, 0)));
        assert!(w.is_open(at(2026, 12, 3, 15, 59)));
        assert!(!w.is_open(at(2026, 12, 3, 16, 0)));
        assert!(!w.is_open(at(2026, 11, 29, 12, 0)));
        assert_eq!(w.next_open(at(2026, 11, 29, 12, 0)), "Tue 10:00");
        assert_eq!(w.to_string(), "Tue-Thu 10:00-16:00 UTC");
    }

    #[test]
    fn rejects_bad_windows_with_what_is_expected() {
        for bad in [
            "Tue-Thu",
            "Tue-Xyz 10:00-16:00 UTC",
            "Tue 10-16 UTC",
            "Tue 16:00-10:00 UTC",
            "Tue 10:00-16:00 CET",
        ] {
            let err = ChangeWindow::parse(bad).err().unwrap_or_default();
            assert!(err.contains("Tue-Thu 10:00-16:00 UTC"), "{bad}: {err}");
        }
    }

    #[test]
    fn requirements_follow_policy() {
        let w = ChangeWindow::parse("Tue-Thu 10:00-16:00 UTC").ok();
        let inside = at(2026, 12, 1, 11, 0);
        let outside = at(2026, 11, 29, 11, 0);
        assert!(requirements(true, false, None, false, inside).is_err());
        let r = requirements(false, true, w.as_ref(), false, inside).ok();
        assert_eq!(r.map(|r| (r.type_name, r.reason)), Some((true, false)));
        let r = requirements(false, false, w.as_ref(), false, outside).ok();
        assert!(r.is_some_and(|r| r.reason && r.outside_window.is_some()));
        let r = requirements(false, false, None, true, inside).ok();
        assert!(r.is_some_and(|r| r.reason && !r.type_name));
    }
}
