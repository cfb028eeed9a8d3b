//! The fleet overview: one row per release of the config, what needs
//! attention first. Rows are read by the `Releases` source (AWS and the
//! journal); this module orders and filters them and holds the screen's
//! state. Pure: no I/O.

use super::data::{SourceError, Time};

/// One release as the overview shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReleaseRow {
    /// The `[[service]]` name.
    pub name: String,
    pub environment: String,
    pub protected: bool,
    pub cluster: String,
    pub account: String,
    pub region: String,
    /// The canary's share of the weighted forward (None: not read yet).
    pub canary_pct: Option<u16>,
    /// The plan's step the canary's share is at (1-based, of how many),
    /// and how much of its bake is left since the change that reached it.
    pub step: Option<(usize, usize)>,
    pub bake_left: Option<std::time::Duration>,
    /// Running / desired tasks of the stable and the canary service.
    pub stable_tasks: Option<(u32, u32)>,
    pub canary_tasks: Option<(u32, u32)>,
    /// An ECS deployment that failed (`rolloutState` FAILED), by service.
    pub failed_deployment: Option<String>,
    /// The newest verdict journaled for it: when, and pass / fail /
    /// inconclusive.
    pub verdict: Option<(Time, String)>,
    /// The newest change that ended: when, action, result.
    pub last_change: Option<(Time, String, String)>,
    /// Automation left paused.
    pub paused: bool,
    /// Who holds its change lease (or drives it), if anyone.
    pub holder: Option<String>,
    /// A deployment waiting for approval (the environment), when known.
    pub approval: Option<String>,
    /// When AWS was last read for it.
    pub read_at: Option<Time>,
    /// Why it could not be read (discovery, AWS).
    pub error: Option<SourceError>,
}

/// Where the canary's share stands in the plan: the step whose weight it
/// is, and the bake left when the change that moved it there ended at
/// `moved` (an advance, weight or promote that went `ok`).
pub fn plan_position(
    plan: &super::plan::Plan,
    canary_pct: u16,
    moved: Option<Time>,
    now: Time,
) -> (Option<(usize, usize)>, Option<std::time::Duration>) {
    let Some(i) = plan
        .steps
        .iter()
        .position(|s| u16::from(s.weight) == canary_pct)
    else {
        return (None, None);
    };
    let left = plan.steps[i].bake.zip(moved).map(|(bake, at)| {
        let end = at + chrono::Duration::from_std(bake).unwrap_or_default();
        (end - now).to_std().unwrap_or_default()
    });
    (Some((i + 1, plan.steps.len())), left)
}

/// How urgently a row needs a look: lower first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Attention {
    /// A failing verdict, or a failed ECS deployment.
    Failing,
    /// Rolled back within the last hour.
    RolledBack,
    /// Unreadable, or not read for a while.
    Stale,
    /// An approval waits.
    Approval,
    /// A canary takes traffic, or a change holds the lease.
    Moving,
    Quiet,
}

impl Attention {
    /// The word in the row (and in monochrome the only signal).
    pub fn label(self) -> &'static str {
        match self {
            Attention::Failing => "FAILING",
            Attention::RolledBack => "ROLLED BACK",
            Attention::Stale => "STALE",
            Attention::Approval => "APPROVAL",
            Attention::Moving => "canary",
            Attention::Quiet => "steady",
        }
    }
}

/// Data older than this is stale.
pub const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(90);

impl ReleaseRow {
    pub fn attention(&self, now: Time) -> Attention {
        let fresh_verdict_fails = self.verdict.as_ref().is_some_and(|(at, outcome)| {
            outcome == "fail"
                && self
                    .last_change
                    .as_ref()
                    .is_none_or(|(changed, action, _)| changed < at || action != "rollback")
        });
        if self.failed_deployment.is_some() || fresh_verdict_fails {
            return Attention::Failing;
        }
        if self
            .last_change
            .as_ref()
            .is_some_and(|(at, action, result)| {
                action == "rollback" && result == "ok" && now - *at < chrono::Duration::hours(1)
            })
        {
            return Attention::RolledBack;
        }
        if self.error.is_some() || self.read_at.is_none_or(|at| now - at > STALE_AFTER) {
            return Attention::Stale;
        }
        if self.approval.is_some() {
            return Attention::Approval;
        }
        if self.canary_pct.is_some_and(|p| p > 0) || self.holder.is_some() {
            return Attention::Moving;
        }
        Attention::Quiet
    }

    /// Does the filter (words, any order, case-insensitive) match?
    pub fn matches(&self, filter: &str) -> bool {
        let hay = format!(
            "{} {} {} {} {}",
            self.name, self.environment, self.cluster, self.account, self.region
        )
        .to_lowercase();
        filter
            .split_whitespace()
            .all(|word| hay.contains(&word.to_lowercase()))
    }
}

/// The overview's state in the console.
#[derive(Debug, Clone, Default)]
pub struct ReleasesView {
    /// Rows as last read, in the config's order.
    pub rows: Vec<ReleaseRow>,
    /// The overview is the screen (else the release console is).
    pub shown: bool,
    /// The selected row's name: it stays on its release when rows reorder.
    pub selected: Option<String>,
    pub filter: String,
    /// `/` is being typed.
    pub typing: bool,
    /// When rows were last read, and why the last read failed.
    pub read_at: Option<Time>,
    pub error: Option<SourceError>,
}

impl ReleasesView {
    /// The rows shown: filtered, what needs attention first, then by name.
    pub fn visible(&self, now: Time) -> Vec<&ReleaseRow> {
        let mut rows: Vec<&ReleaseRow> = self
            .rows
            .iter()
            .filter(|r| r.matches(&self.filter))
            .collect();
        rows.sort_by(|a, b| (a.attention(now), &a.name).cmp(&(b.attention(now), &b.name)));
        rows
    }

    /// The selected row's index among the visible ones (the first when the
    /// selection is filtered out or unset).
    pub fn selected_index(&self, now: Time) -> usize {
        let rows = self.visible(now);
        self.selected
            .as_ref()
            .and_then(|name| rows.iter().position(|r| &r.name == name))
            .unwrap_or(0)
    }

    /// The selected release's name.
    pub fn selected_name(&self, now: Time) -> Option<String> {
        let rows = self.visible(now);
        rows.get(self.selected_index(now)).map(|r| r.name.clone())
    }

    /// Move the selection by `delta` rows.
    pub fn step(&mut self, delta: i64, now: Time) {
        let rows = self.visible(now);
        if rows.is_empty() {
            return;
        }
        let max = rows.len() as i64 - 1;
        let at = (self.selected_index(now) as i64 + delta).clamp(0, max) as usize;
        self.selected = rows.get(at).map(|r| r.name.clone());
    }

    /// New rows: those read replace the old, keyed by name.
    pub fn update(&mut self, rows: Vec<ReleaseRow>, now: Time) {
        self.rows = rows;
        self.read_at = Some(now);
        self.error = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn row(name: &str) -> ReleaseRow {
        ReleaseRow {
            name: name.into(),
            environment: "production".into(),
            read_at: Some(at(0)),
            canary_pct: Some(0),
            ..ReleaseRow::default()
        }
    }

    #[test]
    fn what_needs_attention_comes_first_then_by_name() {
        let now = at(10);
        let mut failing = row("zeta");
        failing.verdict = Some((at(5), "fail".into()));
        let mut rolled = row("yak");
        rolled.last_change = Some((at(8), "rollback".into(), "ok".into()));
        rolled.verdict = Some((at(5), "fail".into()));
        let mut stale = row("xray");
        stale.read_at = Some(at(-200));
        let mut canary = row("bravo");
        canary.canary_pct = Some(10);
        let view = ReleasesView {
            rows: vec![row("alpha"), canary, stale, rolled, failing],
            ..ReleasesView::default()
        };
        let names: Vec<&str> = view.visible(now).iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["zeta", "yak", "xray", "bravo", "alpha"]);
        // A fail verdict after the rollback fails again.
        let mut again = row("again");
        again.last_change = Some((at(1), "rollback".into(), "ok".into()));
        again.verdict = Some((at(5), "fail".into()));
        assert_eq!(again.attention(now), Attention::Failing);
    }

    #[test]
    fn the_step_is_the_one_at_the_canary_s_weight_and_its_bake_runs_from_the_change() {
        let plan = super::super::plan::Plan::default();
        let (step, left) = plan_position(&plan, 10, Some(at(0)), at(60));
        assert_eq!(step, Some((1, 3)));
        assert_eq!(left, Some(std::time::Duration::from_secs(240)));
        assert_eq!(plan_position(&plan, 50, None, at(0)), (Some((2, 3)), None));
        assert_eq!(plan_position(&plan, 37, Some(at(0)), at(0)), (None, None));
        // Past its bake: nothing left.
        let (_, left) = plan_position(&plan, 10, Some(at(0)), at(900));
        assert_eq!(left, Some(std::time::Duration::ZERO));
    }

    #[test]
    fn the_filter_matches_words_in_any_order_and_the_selection_follows_its_release() {
        let now = at(10);
        let mut view = ReleasesView {
            rows: vec![row("auth"), row("billing"), row("search")],
            ..ReleasesView::default()
        };
        view.step(1, now);
        assert_eq!(view.selected_name(now).as_deref(), Some("billing"));
        // billing starts failing: it moves to the top, the selection with it.
        if let Some(r) = view.rows.iter_mut().find(|r| r.name == "billing") {
            r.failed_deployment = Some("billing-canary".into());
        }
        assert_eq!(view.selected_index(now), 0);
        view.filter = "PROD sea".into();
        let names: Vec<&str> = view.visible(now).iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["search"]);
        assert_eq!(view.selected_name(now).as_deref(), Some("search"));
        view.step(5, now);
        assert_eq!(view.selected_name(now).as_deref(), Some("search"));
    }
}
