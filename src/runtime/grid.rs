//! One wake-up a second for everything that is not in a hurry.
//!
//! The pollers, the 1 Hz tick and the idle frame each wait about a second
//! or more; left alone their timers fall out of step and the process wakes
//! ten times a second to do ten small things. Waits of a second or more end
//! on this process's grid instead (a whole number of seconds from a random
//! phase chosen at start), so they fire together and the loop draws one
//! frame for all of them. The phase is random so that consoles (and
//! pollers of the same API in other processes) still do not fall into
//! step. Nothing waits more than one grid step longer than it asked.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

/// The grid's step: the idle frame's period.
pub const STEP: Duration = Duration::from_secs(1);

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(|| Instant::now() + STEP.mul_f64(fastrand::f64()))
}

/// The first grid point at or after `at`; `at` itself for short waits
/// (`wait` under a step), which are the urgent ones.
pub fn align(at: Instant, wait: Duration) -> Instant {
    if wait < STEP {
        return at;
    }
    on_grid(origin(), at)
}

fn on_grid(origin: Instant, at: Instant) -> Instant {
    let step = STEP.as_nanos();
    // A point before the origin: whole steps back from it.
    let (ahead, behind) = if at >= origin {
        ((at - origin).as_nanos(), false)
    } else {
        ((origin - at).as_nanos(), true)
    };
    let steps = if behind {
        // Ceil of a negative number of steps: truncate towards the origin.
        -(i128::try_from(ahead / step).unwrap_or(0))
    } else {
        i128::try_from(ahead.div_ceil(step)).unwrap_or(0)
    };
    let offset = Duration::from_nanos(u64::try_from(steps.unsigned_abs() * step).unwrap_or(0));
    if steps >= 0 {
        origin + offset
    } else {
        origin - offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_waits_end_together_on_the_next_grid_point_and_short_ones_as_asked() {
        let origin = Instant::now() + Duration::from_secs(10);
        let near = |ms: u64| origin + Duration::from_millis(ms);
        // Three timers set at different moments within one step end at once.
        for ms in [1, 400, 999, 1000] {
            assert_eq!(on_grid(origin, near(ms)), near(1000), "{ms} ms");
        }
        assert_eq!(on_grid(origin, near(1001)), near(2000));
        assert_eq!(on_grid(origin, origin), origin);
        // Before the origin (a timer set before the first call).
        let before = origin - Duration::from_millis(2500);
        assert_eq!(on_grid(origin, before), origin - Duration::from_secs(2));
        // Never more than a step late, never early.
        let at = Instant::now() + Duration::from_millis(1234);
        let aligned = align(at, STEP);
        assert!(aligned >= at && aligned - at <= STEP);
        assert_eq!(align(at, Duration::from_millis(33)), at);
    }
}
