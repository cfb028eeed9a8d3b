//! Scenarios of the demo, as data: how healthy canary and stable are, when
//! (if ever) the canary goes bad, and when the simulated reviewer approves.

use std::time::Duration;

/// How a track behaves: error rate and p95 latency around which the
/// simulator draws its noisy points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Health {
    pub error_pct: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: &'static str,
    pub description: &'static str,
    pub stable: Health,
    pub canary: Health,
    /// From this canary weight on, the canary behaves like this instead.
    pub degrade_at: Option<(u8, Health)>,
    /// The canary's metrics stop arriving after this much simulated time.
    pub metrics_stop_after: Option<Duration>,
    /// The second reviewer approves the production deployment after this
    /// much simulated time, unless the operator approves first.
    pub reviewer_after: Duration,
}

pub const GOOD: Scenario = Scenario {
    name: "good",
    description: "a release that goes well when left alone",
    stable: Health {
        error_pct: 0.11,
        p95_ms: 142.0,
    },
    canary: Health {
        error_pct: 0.09,
        p95_ms: 138.0,
    },
    degrade_at: None,
    metrics_stop_after: None,
    reviewer_after: Duration::from_secs(12 * 60),
};

pub const BAD_CANARY: Scenario = Scenario {
    name: "bad-canary",
    description: "the canary's error rate rises at the 50% step and the analysis rolls it back",
    degrade_at: Some((
        50,
        Health {
            error_pct: 2.8,
            p95_ms: 231.0,
        },
    )),
    ..GOOD
};

pub const NO_DATA: Scenario = Scenario {
    name: "no-data",
    description: "the canary's metrics stop after 2 minutes: verdicts turn inconclusive and nothing advances",
    metrics_stop_after: Some(Duration::from_secs(120)),
    ..GOOD
};

pub const ALL: [&Scenario; 3] = [&GOOD, &BAD_CANARY, &NO_DATA];

/// Find a scenario by name; `None` for unknown names.
pub fn by_name(name: &str) -> Option<&'static Scenario> {
    ALL.into_iter().find(|s| s.name == name)
}

pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|s| s.name).collect()
}
