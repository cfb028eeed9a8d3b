//! Canary analysis: each interval, the canary's error rate and p95 latency
//! against thresholds, and its latency against the stable baseline with a
//! one-sided Mann-Whitney U test. No data is never a pass.

use std::time::Duration;

use super::model::{MetricPoint, Time};

/// `[service.analysis]` of the config.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSettings {
    pub interval: Duration,
    pub lookback: Duration,
    pub max_error_rate_pct: f64,
    pub max_p95_ms: f64,
    pub min_requests: u64,
    pub confidence: f64,
    pub failures_before_action: u32,
    pub on_failure: OnFailure,
    pub auto_advance: bool,
    /// How late the provider reports a period (CloudWatch a few minutes,
    /// Datadog about one): data this old is not yet stale.
    pub reporting_lag: Duration,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        AnalysisSettings {
            interval: Duration::from_secs(30),
            lookback: Duration::from_secs(300),
            max_error_rate_pct: 0.5,
            max_p95_ms: 200.0,
            min_requests: 50,
            confidence: 0.98,
            failures_before_action: 2,
            on_failure: OnFailure::Rollback,
            auto_advance: false,
            reporting_lag: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    Rollback,
    Pause,
    Alert,
}

impl OnFailure {
    pub fn label(self) -> &'static str {
        match self {
            OnFailure::Rollback => "rollback",
            OnFailure::Pause => "pause",
            OnFailure::Alert => "alert",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Inconclusive,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Inconclusive => "inconclusive",
        }
    }
}

/// The result of one analysis interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub at: Time,
    pub outcome: Outcome,
    pub canary_error_pct: Option<f64>,
    pub canary_p95_ms: Option<f64>,
    pub stable_p95_ms: Option<f64>,
    /// Canary requests in the window; None when the provider reports no
    /// count.
    pub requests: Option<u64>,
    /// p-value of "canary latency is higher than stable".
    pub p_value: Option<f64>,
    /// Why, in a few words.
    pub reason: String,
}

/// A request count this many times the window's quietest busy point is no
/// measurement: one point must not outweigh the window.
pub const MAX_COUNT_RATIO: f64 = 100.0;

/// The largest p95 taken as a measurement (an hour, in ms).
pub const MAX_P95_MS: f64 = 3_600_000.0;

/// The largest request count of one point taken as a measurement.
pub const MAX_POINT_REQUESTS: u64 = 1_000_000_000_000;

/// How far in the future a point's time may be (clocks differ a little).
pub const FUTURE_SLACK: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Why a point is not a measurement, if it is not: an error rate outside
/// 0–100 %, a latency below 0, a value that is not a finite number, or a
/// time in the future. A number from a provider is a claim until checked.
pub fn implausible(p: &MetricPoint, now: Time) -> Option<String> {
    if let Some(e) = p.error_pct
        && !(e.is_finite() && (0.0..=100.0).contains(&e))
    {
        return Some(format!("error rate {e:.2}% is not a rate"));
    }
    if let Some(l) = p.p95_ms
        && !(l.is_finite() && (0.0..=MAX_P95_MS).contains(&l))
    {
        return Some(format!("p95 {l:.0}ms is not a latency"));
    }
    if let Some(r) = p.requests
        && r > MAX_POINT_REQUESTS
    {
        return Some(format!(
            "a count of {r} requests in one period is not a count"
        ));
    }
    if p.at > now + FUTURE_SLACK {
        return Some(format!(
            "a point is dated {}, in the future",
            p.at.format("%H:%M:%S UTC")
        ));
    }
    None
}

/// A point whose request count is over `MAX_COUNT_RATIO` times the
/// smallest count of the window's busy points (at least 10): spikes (1e15
/// requests at 0 % errors), even several of them, must not outweigh the
/// other points.
fn count_outlier(points: &[MetricPoint]) -> Option<String> {
    let counts: Vec<f64> = points
        .iter()
        .filter_map(|p| p.requests)
        .filter(|r| *r > 0)
        .map(|r| r as f64)
        .collect();
    if counts.len() < 2 {
        return None;
    }
    let least = counts
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .max(10.0);
    let top = counts.iter().copied().fold(0.0, f64::max);
    (top > least * MAX_COUNT_RATIO).then(|| {
        format!(
            "one point counts {top:.0} requests, over {MAX_COUNT_RATIO:.0}× the window's quietest {least:.0}"
        )
    })
}

/// A canary error rate the window cannot weigh: a point with a rate but
/// no request count (the provider's count was missing or not a count).
fn rate_without_count(points: &[MetricPoint]) -> Option<String> {
    points
        .iter()
        .any(|p| p.error_pct.is_some() && p.requests.is_none())
        .then(|| "an error rate came without its request count".to_string())
}

/// Judge the canary on the points after `since` (the later of the step's
/// start and now − lookback). Points older than `stale_after` mean the data
/// stopped coming: inconclusive. A canary point that is not plausible makes
/// the verdict inconclusive, with the reason; a stable point that is not is
/// left out of the baseline.
pub fn evaluate(
    canary: &[MetricPoint],
    stable: &[MetricPoint],
    settings: &AnalysisSettings,
    since: Time,
    now: Time,
) -> Verdict {
    let window = |points: &[MetricPoint]| -> Vec<MetricPoint> {
        points
            .iter()
            .filter(|p| p.at > since && p.at <= now)
            .copied()
            .collect()
    };
    // Future points are outside the window; they still say the data is
    // wrong.
    let suspect = canary
        .iter()
        .filter(|p| p.at > since)
        .find_map(|p| implausible(p, now));
    let canary = window(canary);
    let stale_after = chrono::Duration::from_std(settings.interval * 2 + settings.reporting_lag)
        .unwrap_or_default();
    // Stable data that stopped coming is no baseline: thresholds only.
    let stable_newest = stable
        .iter()
        .filter(|p| implausible(p, now).is_none())
        .map(|p| p.at)
        .max();
    let stable_stale = stable_newest.is_some_and(|at| now - at > stale_after);
    let stable: Vec<MetricPoint> = if stable_stale {
        Vec::new()
    } else {
        window(stable)
            .into_iter()
            .filter(|p| implausible(p, now).is_none())
            .collect()
    };
    let requests = request_count(&canary);
    let mut verdict = Verdict {
        at: now,
        outcome: Outcome::Inconclusive,
        canary_error_pct: None,
        canary_p95_ms: None,
        stable_p95_ms: median(stable.iter().filter_map(|p| p.p95_ms).collect()),
        requests,
        p_value: None,
        reason: String::new(),
    };
    if let Some(why) = suspect
        .or_else(|| count_outlier(&canary))
        .or_else(|| rate_without_count(&canary))
    {
        verdict.reason = format!("canary data is not plausible: {why}");
        return verdict;
    }
    if canary.is_empty() {
        verdict.reason = "no canary data".into();
        return verdict;
    }
    // Each measure on its own: fresh latency must not hide an error rate
    // (or a request count) that stopped coming.
    type Has = fn(&MetricPoint) -> bool;
    let fields: [(&str, Has); 3] = [
        ("error rate", |p| p.error_pct.is_some()),
        ("p95", |p| p.p95_ms.is_some()),
        ("request count", |p| p.requests.is_some()),
    ];
    for (what, has) in fields {
        match canary.iter().filter(|p| has(p)).map(|p| p.at).max() {
            None => {
                verdict.reason = format!("no canary {what} in the window");
                return verdict;
            }
            Some(at) if now - at > stale_after => {
                verdict.reason = format!(
                    "canary {what} is stale (newest {}s old)",
                    (now - at).num_seconds()
                );
                return verdict;
            }
            Some(_) => {}
        }
    }
    // Too little traffic to judge (and no count at all is not enough).
    let n = requests.unwrap_or(0);
    if n == 0 || n < settings.min_requests {
        verdict.reason = format!("{n} requests < {} needed", settings.min_requests.max(1));
        return verdict;
    }
    let Some(error_pct) = window_error_pct(&canary) else {
        verdict.reason = "no canary error rate in the window".into();
        return verdict;
    };
    let canary_lat: Vec<f64> = canary.iter().filter_map(|p| p.p95_ms).collect();
    let stable_lat: Vec<f64> = stable.iter().filter_map(|p| p.p95_ms).collect();
    // NaN anywhere, or latency missing, is not a measurement: inconclusive.
    if !error_pct.is_finite() || canary_lat.iter().chain(&stable_lat).any(|v| !v.is_finite()) {
        verdict.reason = "the data has values that are not numbers (NaN)".into();
        return verdict;
    }
    if canary_lat.is_empty() {
        verdict.reason = "no canary latency (p95) in the window".into();
        return verdict;
    }
    let canary_p95 = median(canary_lat.clone());
    verdict.canary_error_pct = Some(error_pct);
    verdict.canary_p95_ms = canary_p95;

    let mut failures = Vec::new();
    if error_pct > settings.max_error_rate_pct {
        failures.push(format!(
            "error rate {error_pct:.2}% > {}%",
            settings.max_error_rate_pct
        ));
    }
    if let Some(p95) = canary_p95
        && p95 > settings.max_p95_ms
    {
        failures.push(format!("p95 {p95:.0}ms > {}ms", settings.max_p95_ms));
    }
    verdict.p_value = mann_whitney_greater(&canary_lat, &stable_lat);
    if let (Some(p), Some(c), Some(s)) = (verdict.p_value, canary_p95, verdict.stable_p95_ms) {
        // Significant and large enough to matter (Kayenta-style effect size).
        if p < 1.0 - settings.confidence && c > s * 1.2 {
            failures.push(format!("p95 {c:.0}ms vs stable {s:.0}ms (p={p:.3})"));
        }
    }
    if failures.is_empty() {
        verdict.outcome = Outcome::Pass;
        verdict.reason = format!(
            "error {error_pct:.2}%, p95 {:.0}ms, {n} req",
            canary_p95.unwrap_or_default(),
        );
        if verdict.p_value.is_none() {
            // Say it: only the thresholds were checked.
            verdict.reason.push_str(if stable_stale {
                " (thresholds only: stable data is stale)"
            } else {
                " (thresholds only: no stable baseline to compare)"
            });
        }
    } else {
        verdict.outcome = Outcome::Fail;
        verdict.reason = failures.join("; ");
    }
    verdict
}

/// Requests in the window: the sum when the provider counts them, None when
/// no point has a count.
fn request_count(points: &[MetricPoint]) -> Option<u64> {
    let counts: Vec<u64> = points.iter().filter_map(|p| p.requests).collect();
    (!counts.is_empty()).then(|| counts.iter().fold(0u64, |a, c| a.saturating_add(*c)))
}

/// The window's error rate, weighted by requests over the points that have
/// both (exact for counters): a busy failing period outweighs quiet clean
/// ones. None when no point with requests has a rate. NaN anywhere stays
/// NaN, so the caller sees it.
fn window_error_pct(points: &[MetricPoint]) -> Option<f64> {
    let rated: Vec<(f64, u64)> = points
        .iter()
        .filter_map(|p| Some((p.error_pct?, p.requests?)))
        .collect();
    if rated.iter().any(|(e, _)| !e.is_finite()) {
        return Some(f64::NAN);
    }
    let total: u64 = rated.iter().map(|(_, r)| r).sum();
    if total == 0 {
        return None;
    }
    let weighted: f64 = rated.iter().map(|(e, r)| e * *r as f64).sum();
    Some(weighted / total as f64)
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// A one-sided Mann-Whitney U test of "values in `a` tend to be larger
/// than values in `b`".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of `a`: pairs where `a` is larger, ties counting a half.
    pub u: f64,
    /// The normal approximation's z (with continuity and tie corrections);
    /// None when the exact distribution was used.
    pub z: Option<f64>,
    pub p: f64,
}

/// The p-value of [`mann_whitney`]; None when either side has fewer than 3
/// values.
pub fn mann_whitney_greater(a: &[f64], b: &[f64]) -> Option<f64> {
    mann_whitney(a, b).map(|t| t.p)
}

/// The largest n1·n2 for which the exact distribution is used. Beyond it the
/// table (and the time to fill it) grows with the larger sample: hundreds of
/// canary points beside 8 stable ones would take millions of cells.
const EXACT_MAX_PAIRS: usize = 400;

/// The test as scipy's `mannwhitneyu(a, b, alternative="greater")` does it:
/// the exact distribution of U when there are no ties and either sample has
/// at most 8 values, else the normal approximation with continuity and tie
/// corrections. Unlike scipy, the exact path is also bounded to n1·n2 ≤
/// [`EXACT_MAX_PAIRS`]; larger samples take the approximation, which is
/// close there.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let (n1, n2) = (a.len(), b.len());
    if n1 < 3 || n2 < 3 {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|v| (*v, true))
        .chain(b.iter().map(|v| (*v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Average ranks over ties.
    let mut ranks = vec![0.0; all.len()];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for r in &mut ranks[i..=j] {
            *r = rank;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let rank_sum_a: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|((_, in_a), _)| *in_a)
        .map(|(_, r)| r)
        .sum();
    let u = rank_sum_a - (n1 * (n1 + 1)) as f64 / 2.0;
    if tie_term == 0.0 && (n1 <= 8 || n2 <= 8) && n1 * n2 <= EXACT_MAX_PAIRS {
        // U's null distribution is the same for (n1, n2) and (n2, n1): the
        // smaller sample keeps the table small.
        return Some(MannWhitney {
            u,
            z: None,
            p: exact_greater(n1.min(n2), n1.max(n2), u),
        });
    }
    let (f1, f2) = (n1 as f64, n2 as f64);
    let mean = f1 * f2 / 2.0;
    let n = f1 + f2;
    let variance = f1 * f2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if variance <= 0.0 {
        return Some(MannWhitney { u, z: None, p: 0.5 });
    }
    // Continuity correction towards the mean.
    let z = (u - mean - 0.5) / variance.sqrt();
    Some(MannWhitney {
        u,
        z: Some(z),
        p: 0.5 * erfc(z / std::f64::consts::SQRT_2),
    })
}

/// P(U ≥ u) under the null hypothesis, from the exact distribution: the
/// number of ways `n1` of the ranks 1..=n1+n2 add up to each rank sum,
/// over the number of ways to choose them (exact in f64 for these sizes).
fn exact_greater(n1: usize, n2: usize, u: f64) -> f64 {
    let n = n1 + n2;
    let max_sum = (n1 * (2 * n - n1 + 1)) / 2;
    // ways[k][s]: subsets of size k of the ranks seen so far summing to s.
    let mut ways = vec![vec![0.0_f64; max_sum + 1]; n1 + 1];
    ways[0][0] = 1.0;
    for rank in 1..=n {
        for k in (1..=n1.min(rank)).rev() {
            for s in (rank..=max_sum).rev() {
                ways[k][s] += ways[k - 1][s - rank];
            }
        }
    }
    let min_sum = n1 * (n1 + 1) / 2;
    let threshold = (u + min_sum as f64).round() as usize;
    let total: f64 = ways[n1].iter().sum();
    let tail: f64 = ways[n1][threshold.min(max_sum + 1)..].iter().sum();
    tail / total
}

/// Complementary error function (Numerical Recipes' erfc, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Track;

    use crate::core::model::test_time as t;

    fn points(
        track: Track,
        from: i64,
        n: i64,
        requests: u64,
        errors: u64,
        p95: f64,
    ) -> Vec<MetricPoint> {
        (0..n)
            .map(|i| MetricPoint {
                p95_ms: Some(p95 + (i % 3) as f64),
                ..MetricPoint::from_counts(t(from + i * 10), track, requests, errors)
            })
            .collect()
    }

    #[test]
    fn healthy_canary_passes() {
        let c = points(Track::Canary, 0, 6, 100, 0, 140.0);
        let s = points(Track::Stable, 0, 6, 900, 1, 141.0);
        let v = evaluate(&c, &s, &AnalysisSettings::default(), t(-1), t(60));
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
    }

    #[test]
    fn error_rate_over_threshold_fails() {
        let c = points(Track::Canary, 0, 6, 100, 3, 140.0);
        let s = points(Track::Stable, 0, 6, 900, 1, 141.0);
        let v = evaluate(&c, &s, &AnalysisSettings::default(), t(-1), t(60));
        assert_eq!(v.outcome, Outcome::Fail);
        assert!(v.reason.contains("error rate 3.00% > 0.5%"), "{}", v.reason);
    }

    #[test]
    fn slow_canary_against_baseline_fails() {
        let c = points(Track::Canary, 0, 9, 100, 0, 190.0);
        let s = points(Track::Stable, 0, 9, 900, 0, 120.0);
        let v = evaluate(&c, &s, &AnalysisSettings::default(), t(-1), t(90));
        assert_eq!(v.outcome, Outcome::Fail, "{}", v.reason);
        assert!(v.p_value.is_some_and(|p| p < 0.01));
    }

    #[test]
    fn no_data_too_few_requests_or_stale_is_inconclusive() {
        let settings = AnalysisSettings::default();
        let none = evaluate(&[], &[], &settings, t(-1), t(60));
        assert_eq!(none.outcome, Outcome::Inconclusive);
        let few = points(Track::Canary, 0, 2, 10, 0, 140.0);
        assert_eq!(
            evaluate(&few, &[], &settings, t(-1), t(20)).outcome,
            Outcome::Inconclusive
        );
        let old = points(Track::Canary, 0, 6, 100, 0, 140.0);
        let stale = evaluate(&old, &[], &settings, t(-1), t(200));
        assert_eq!(stale.outcome, Outcome::Inconclusive);
        assert!(stale.reason.contains("stale"));
    }

    /// Seen from hostile providers: each of these passed before.
    #[test]
    fn implausible_canary_data_is_never_a_pass() {
        let settings = AnalysisSettings::default();
        let s = points(Track::Stable, 0, 6, 900, 1, 141.0);
        let with = |f: &dyn Fn(usize, &mut MetricPoint)| {
            let mut c = points(Track::Canary, 0, 6, 100, 0, 140.0);
            for (i, p) in c.iter_mut().enumerate() {
                f(i, p);
            }
            evaluate(&c, &s, &settings, t(-1), t(60))
        };
        type Change<'a> = &'a dyn Fn(usize, &mut MetricPoint);
        let cases: [(&str, Change, &str); 6] = [
            (
                "a negative error rate",
                &|_, p| p.error_pct = Some(-1.0),
                "-1.00% is not a rate",
            ),
            (
                "over 100 %",
                &|_, p| p.error_pct = Some(250.0),
                "250.00% is not a rate",
            ),
            (
                "a negative p95",
                &|_, p| p.p95_ms = Some(-500.0),
                "-500ms is not a latency",
            ),
            (
                "20 % and -25 % alternating",
                &|i, p| p.error_pct = Some(if i % 2 == 0 { 20.0 } else { -25.0 }),
                "is not a rate",
            ),
            (
                "infinite latency",
                &|_, p| p.p95_ms = Some(f64::INFINITY),
                "is not a latency",
            ),
            (
                "one spike of 1e9 requests at 0 % beside 30 % errors",
                &|i, p| {
                    if i == 5 {
                        p.requests = Some(1_000_000_000);
                        p.error_pct = Some(0.0);
                    } else {
                        p.error_pct = Some(30.0);
                    }
                },
                "over 100× the window's quietest",
            ),
        ];
        for (what, change, reason) in cases {
            let v = with(change);
            assert_eq!(v.outcome, Outcome::Inconclusive, "{what}: {}", v.reason);
            assert!(v.reason.contains(reason), "{what}: {}", v.reason);
        }
        // Two points only, or half of them spikes: still caught.
        let spiky = |n: usize, spikes: usize| {
            let mut c = points(Track::Canary, 0, n as i64, 100, 30, 140.0);
            for p in c.iter_mut().take(spikes) {
                p.requests = Some(1_000_000_000);
                p.error_pct = Some(0.0);
            }
            evaluate(&c, &s, &settings, t(-1), t(60))
        };
        for (n, spikes) in [(2, 1), (6, 3)] {
            let v = spiky(n, spikes);
            assert_eq!(
                v.outcome,
                Outcome::Inconclusive,
                "{n}/{spikes}: {}",
                v.reason
            );
        }
        // A count beyond any service, and no overflow on the way.
        let v = with(&|_, p| p.requests = Some(u64::MAX / 2));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.reason);
        assert!(v.reason.contains("is not a count"), "{}", v.reason);
        // A point from the future says the data is wrong too.
        let mut c = points(Track::Canary, 0, 6, 100, 0, 140.0);
        c.push(MetricPoint {
            p95_ms: Some(140.0),
            ..MetricPoint::from_counts(t(3600), Track::Canary, 100, 0)
        });
        let v = evaluate(&c, &s, &settings, t(-1), t(60));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.reason);
        assert!(v.reason.contains("in the future"), "{}", v.reason);
    }

    #[test]
    fn huge_stable_latencies_do_not_switch_off_the_comparison() {
        let settings = AnalysisSettings::default();
        let c = points(Track::Canary, 0, 9, 100, 0, 190.0);
        let mut s = points(Track::Stable, 0, 9, 900, 0, 120.0);
        for p in s.iter_mut().take(5) {
            p.p95_ms = Some(1e308);
        }
        let v = evaluate(&c, &s, &settings, t(-1), t(90));
        assert_ne!(v.outcome, Outcome::Pass, "{}", v.reason);
    }

    #[test]
    fn an_implausible_stable_point_is_left_out_of_the_baseline() {
        let c = points(Track::Canary, 0, 6, 100, 0, 140.0);
        let mut s = points(Track::Stable, 0, 6, 900, 1, 141.0);
        s[2].p95_ms = Some(-9_999.0);
        let v = evaluate(&c, &s, &AnalysisSettings::default(), t(-1), t(60));
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
        assert!(v.stable_p95_ms.is_some_and(|p| p > 0.0));
    }

    #[test]
    fn mann_whitney_sees_a_shift_and_not_noise() {
        let low = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0];
        let high = [20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0];
        let p = mann_whitney_greater(&high, &low).unwrap_or(1.0);
        assert!(p < 0.001, "p = {p}");
        let p_same = mann_whitney_greater(&low, &low).unwrap_or(0.0);
        assert!(p_same > 0.4, "p = {p_same}");
        assert_eq!(mann_whitney_greater(&low[..2], &high), None);
    }

    /// Hundreds of canary points beside 8 stable ones: the approximation,
    /// not an exact table of 500 × 129 000 cells.
    #[test]
    fn mann_whitney_of_a_large_sample_uses_the_approximation() {
        let stable: Vec<f64> = (0..8).map(|i| 31.0 + 62.5 * f64::from(i)).collect();
        let canary: Vec<f64> = (0..500).map(|i| f64::from(i) + 0.5).collect();
        let t = mann_whitney(&canary, &stable);
        assert!(
            t.is_some_and(|t| t.z.is_some() && (0.3..0.7).contains(&t.p)),
            "{t:?}"
        );
        // All 500 above the 8: U = 4000, z = 1999.5 / sqrt(4000 / 12 * 509)
        // = 4.854, p = 6.04e-7.
        let high: Vec<f64> = (0..500).map(|i| 1000.0 + f64::from(i)).collect();
        let t = mann_whitney(&high, &stable);
        assert!(
            t.is_some_and(|t| t.u == 4000.0 && t.p > 5e-7 && t.p < 7e-7),
            "{t:?}"
        );
        // And the other way round.
        let t = mann_whitney(&stable, &high);
        assert!(t.is_some_and(|t| t.u == 0.0 && t.p > 0.999), "{t:?}");
    }

    /// The exact path takes the smaller sample for its table: 5 vs 7 and
    /// 7 vs 5 give mirror p-values.
    #[test]
    fn mann_whitney_exact_is_the_same_with_the_samples_swapped() {
        let a = [3.1, 4.2, 5.5, 6.0, 7.7];
        let b = [1.0, 2.5, 3.3, 4.0, 4.9, 5.1, 2.2];
        let ab = mann_whitney(&a, &b);
        let ba = mann_whitney(&b, &a);
        // Counted over all 792 ways to pick 5 ranks of 12 (Python, itertools).
        assert!(
            ab.zip(ba).is_some_and(|(ab, ba)| ab.z.is_none()
                && ba.z.is_none()
                && ba.u == 6.0
                && (ab.p - 0.036_616_161_62).abs() < 1e-9
                && (ba.p - 0.976_010_101_01).abs() < 1e-9),
            "{ab:?} {ba:?}"
        );
    }

    #[test]
    fn erfc_matches_known_values() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-6);
        assert!((erfc(1.0) - 0.157_299_2).abs() < 1e-6);
        assert!((erfc(-1.0) - 1.842_700_8).abs() < 1e-6);
    }

    /// Reference values from scipy 1.17.1, produced with
    /// `python -c 'from scipy.stats import mannwhitneyu; print(mannwhitneyu(a, b, alternative="greater"))'`
    /// (and `method="asymptotic"` for the approximation of the first case).
    #[test]
    fn mann_whitney_matches_scipy() {
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * y.abs().max(1e-9) + 1e-9;
        let cases: [(&[f64], &[f64], f64, f64); 5] = [
            // Separated samples of 8, no ties: exact.
            (
                &[20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0],
                &[10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0],
                64.0,
                7.770_007_77e-05,
            ),
            // Overlapping, unequal sizes, no ties: exact.
            (
                &[3.1, 4.2, 5.5, 6.0, 7.7],
                &[1.0, 2.5, 3.3, 4.0, 4.9, 5.1, 2.2],
                29.0,
                0.036_616_161_62,
            ),
            // Ties: normal approximation with tie correction.
            (
                &[5.0, 5.0, 6.0, 7.0, 7.0, 8.0],
                &[4.0, 5.0, 5.0, 6.0, 6.0, 7.0],
                25.0,
                0.141_138_488_1,
            ),
            // Identical samples.
            (
                &[1.0, 2.0, 3.0, 4.0],
                &[1.0, 2.0, 3.0, 4.0],
                8.0,
                0.558_789_943,
            ),
            // Unequal sizes 12 and 20 with ties: approximation.
            (
                &[
                    110.0, 111.0, 112.0, 113.0, 114.0, 115.0, 116.0, 117.0, 118.0, 119.0, 120.0,
                    121.0,
                ],
                &[
                    100.0, 107.0, 114.0, 102.0, 109.0, 116.0, 104.0, 111.0, 118.0, 106.0, 113.0,
                    101.0, 108.0, 115.0, 103.0, 110.0, 117.0, 105.0, 112.0, 100.0,
                ],
                199.5,
                0.001_042_349_562,
            ),
        ];
        for (a, b, u, p) in cases {
            let t = mann_whitney(a, b);
            assert!(
                t.is_some_and(|t| t.u == u && close(t.p, p)),
                "{a:?} {b:?}: {t:?}, want U={u} p={p}"
            );
        }
        // The approximation scipy gives for the separated 8/8 case: what the
        // exact test replaces.
        let z = (64.0 - 32.0 - 0.5) / (8.0 * 8.0 / 12.0 * 17.0_f64).sqrt();
        assert!(close(
            0.5 * erfc(z / std::f64::consts::SQRT_2),
            4.695_528_496e-04
        ));
    }

    #[test]
    fn nan_no_latency_and_no_traffic_are_inconclusive_and_thresholds_only_is_said() {
        let settings = AnalysisSettings {
            min_requests: 0,
            ..AnalysisSettings::default()
        };
        let zero = points(Track::Canary, 0, 6, 0, 0, 140.0);
        assert_eq!(
            evaluate(&zero, &[], &settings, t(-1), t(60)).outcome,
            Outcome::Inconclusive
        );
        let mut nan = points(Track::Canary, 0, 6, 100, 0, 140.0);
        nan[2].p95_ms = Some(f64::NAN);
        let v = evaluate(&nan, &[], &settings, t(-1), t(60));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.reason);
        let mut no_latency = points(Track::Canary, 0, 6, 100, 0, 140.0);
        for p in &mut no_latency {
            p.p95_ms = None;
        }
        let v = evaluate(&no_latency, &[], &settings, t(-1), t(60));
        assert_eq!(v.outcome, Outcome::Inconclusive);
        assert!(v.reason.contains("no canary p95"), "{}", v.reason);
        let alone = points(Track::Canary, 0, 6, 100, 0, 140.0);
        let v = evaluate(&alone, &[], &settings, t(-1), t(60));
        assert_eq!(v.outcome, Outcome::Pass);
        assert!(
            v.reason.contains("thresholds only: no stable baseline"),
            "{}",
            v.reason
        );
    }

    #[test]
    fn error_rate_is_weighted_by_requests_and_data_without_a_count_is_inconclusive() {
        let settings = AnalysisSettings::default();
        // 1 error in 1000, then 9 in 100: 10 / 1100 = 0.91 %, not the 4.55 %
        // mean of the two rates.
        let mut canary = points(Track::Canary, 0, 2, 1000, 1, 140.0);
        canary[1] = MetricPoint {
            p95_ms: Some(140.0),
            ..MetricPoint::from_counts(t(10), Track::Canary, 100, 9)
        };
        let v = evaluate(&canary, &[], &settings, t(-1), t(20));
        let pct = v.canary_error_pct.unwrap_or_default();
        assert!((pct - 1000.0 / 1100.0).abs() < 1e-9, "{pct}");
        // Rates without a count: too thin to judge, however good.
        let rates: Vec<MetricPoint> = (0..4)
            .map(|i| MetricPoint {
                error_pct: Some(0.1 * i as f64),
                p95_ms: Some(140.0),
                ..MetricPoint::empty(t(i * 10), Track::Canary)
            })
            .collect();
        let v = evaluate(&rates, &[], &settings, t(-1), t(40));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.reason);
        assert_eq!(v.requests, None);
        assert!(v.reason.contains("request count"), "{}", v.reason);
        // A busy failing period is not averaged away by quiet clean ones.
        let mut mixed = points(Track::Canary, 0, 5, 10, 0, 140.0);
        mixed.push(MetricPoint {
            p95_ms: Some(140.0),
            ..MetricPoint::from_counts(t(50), Track::Canary, 1000, 50)
        });
        let v = evaluate(&mixed, &[], &settings, t(-1), t(60));
        assert_eq!(v.outcome, Outcome::Fail, "{}", v.reason);
        // Latency without any error rate is not a pass.
        let no_rate: Vec<MetricPoint> = rates
            .iter()
            .map(|p| MetricPoint {
                error_pct: None,
                ..*p
            })
            .collect();
        let v = evaluate(&no_rate, &[], &settings, t(-1), t(40));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.reason);
        assert!(v.reason.contains("no canary error rate"), "{}", v.reason);
    }

    #[test]
    fn each_measure_goes_stale_on_its_own_and_stale_stable_is_no_baseline() {
        let settings = AnalysisSettings::default();
        // Error rates stop at 50 s; latency keeps coming until 170 s.
        let mut canary = points(Track::Canary, 0, 6, 100, 0, 140.0);
        canary.extend((6..18).map(|i| MetricPoint {
            p95_ms: Some(140.0),
            ..MetricPoint::empty(t(i * 10), Track::Canary)
        }));
        let v = evaluate(&canary, &[], &settings, t(-1), t(180));
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.reason);
        assert!(v.reason.contains("error rate is stale"), "{}", v.reason);
        // Stable stopped long ago: the canary passes on thresholds, and
        // says so.
        let canary = points(Track::Canary, 100, 6, 100, 0, 140.0);
        let stable = points(Track::Stable, 0, 6, 900, 0, 140.0);
        let v = evaluate(&canary, &stable, &settings, t(99), t(160));
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
        assert!(v.reason.contains("stable data is stale"), "{}", v.reason);
    }

    #[test]
    fn staleness_allows_for_the_providers_reporting_lag() {
        let canary = points(Track::Canary, 0, 6, 100, 0, 140.0);
        // Newest point at 50 s; at 200 s it is 150 s old.
        let prompt = AnalysisSettings::default();
        let v = evaluate(&canary, &[], &prompt, t(-1), t(200));
        assert!(v.reason.contains("stale"), "{}", v.reason);
        let cloudwatch = AnalysisSettings {
            reporting_lag: Duration::from_secs(180),
            ..AnalysisSettings::default()
        };
        let v = evaluate(&canary, &[], &cloudwatch, t(-1), t(200));
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.reason);
    }
}
