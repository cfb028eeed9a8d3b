//! The rollout plan: steps of canary weight, each baked for a while, and the
//! state of a release moving through them.

use std::time::Duration;

use super::model::Time;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub weight: u8,
    pub bake: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Default for Plan {
    /// The seed's plan: 10 % for 5 min, 50 % for 10 min, then 100 %.
    fn default() -> Self {
        Plan {
            steps: vec![
                Step {
                    weight: 10,
                    bake: Some(Duration::from_secs(300)),
                },
                Step {
                    weight: 50,
                    bake: Some(Duration::from_secs(600)),
                },
                Step {
                    weight: 100,
                    bake: None,
                },
            ],
        }
    }
}

impl Plan {
    /// The step whose weight the canary has reached: the last step with a
    /// weight at or below it. None before the first step.
    pub fn step_for(&self, weight: u8) -> Option<usize> {
        self.steps
            .iter()
            .rposition(|s| s.weight <= weight && weight > 0)
    }

    /// The first step above the current weight.
    pub fn next_step(&self, weight: u8) -> Option<(usize, Step)> {
        self.steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.weight > weight)
            .map(|(i, s)| (i, *s))
    }

    pub fn is_last(&self, index: usize) -> bool {
        index + 1 >= self.steps.len()
    }
}

/// Where the release is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Waiting for the first traffic data.
    #[default]
    Unknown,
    /// No canary traffic and nothing in progress.
    Idle,
    Progressing,
    /// The canary has all traffic and the plan is done: promote next.
    AtFull,
    Promoted,
    RolledBack,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Unknown => "waiting for data",
            Phase::Idle => "idle",
            Phase::Progressing => "progressing",
            Phase::AtFull => "at 100%: promote",
            Phase::Promoted => "promoted",
            Phase::RolledBack => "rolled back",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanState {
    pub phase: Phase,
    pub step: Option<usize>,
    /// When the canary reached the current step's weight.
    pub entered_at: Option<Time>,
    /// Automatic progression paused by the operator.
    pub paused: bool,
    /// The canary weight last observed.
    pub weight: Option<u8>,
}

impl PlanState {
    /// Time left in the current step's bake.
    pub fn bake_left(&self, plan: &Plan, now: Time) -> Option<Duration> {
        let step = plan.steps.get(self.step?)?;
        let bake = step.bake?;
        let baked = (now - self.entered_at?).to_std().unwrap_or(Duration::ZERO);
        Some(bake.saturating_sub(baked))
    }

    /// Follow the observed canary weight: a new weight starts a new step.
    pub fn observe(&mut self, plan: &Plan, weight: u8, now: Time) {
        let step = plan.step_for(weight);
        if self.phase == Phase::Unknown {
            self.phase = if weight == 0 {
                Phase::Idle
            } else {
                Phase::Progressing
            };
        }
        // Any change of weight, within a step too, restarts the bake: a
        // step is judged on data taken at the weight it runs at.
        if step != self.step || self.weight != Some(weight) {
            self.step = step;
            self.weight = Some(weight);
            self.entered_at = Some(now);
            if weight > 0
                && matches!(
                    self.phase,
                    Phase::Idle | Phase::RolledBack | Phase::Promoted
                )
            {
                self.phase = Phase::Progressing;
            }
        }
        if weight >= 100 && self.phase == Phase::Progressing {
            self.phase = Phase::AtFull;
        } else if weight < 100 && self.phase == Phase::AtFull {
            self.phase = Phase::Progressing;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::core::model::test_time as t;

    #[test]
    fn steps_and_next_weight() {
        let plan = Plan::default();
        assert_eq!(plan.step_for(0), None);
        assert_eq!(plan.step_for(10), Some(0));
        assert_eq!(plan.step_for(25), Some(0));
        assert_eq!(plan.step_for(50), Some(1));
        assert_eq!(plan.step_for(100), Some(2));
        assert_eq!(
            plan.next_step(10).map(|(i, s)| (i, s.weight)),
            Some((1, 50))
        );
        assert_eq!(
            plan.next_step(25).map(|(i, s)| (i, s.weight)),
            Some((1, 50))
        );
        assert_eq!(plan.next_step(100), None);
    }

    #[test]
    fn bake_counts_from_entering_the_step() {
        let plan = Plan::default();
        let mut state = PlanState::default();
        state.observe(&plan, 10, t(0));
        assert_eq!(state.phase, Phase::Progressing);
        assert_eq!(
            state.bake_left(&plan, t(60)),
            Some(Duration::from_secs(240))
        );
        state.observe(&plan, 10, t(100));
        assert_eq!(state.bake_left(&plan, t(400)), Some(Duration::ZERO));
        // 10 → 25 % stays in the first step but restarts its bake.
        state.observe(&plan, 25, t(400));
        assert_eq!(state.step, Some(0));
        assert_eq!(
            state.bake_left(&plan, t(400)),
            Some(Duration::from_secs(300))
        );
        state.observe(&plan, 50, t(400));
        assert_eq!(
            state.bake_left(&plan, t(400)),
            Some(Duration::from_secs(600))
        );
        state.observe(&plan, 100, t(1000));
        assert_eq!(state.phase, Phase::AtFull);
        assert_eq!(state.bake_left(&plan, t(1000)), None);
    }
}
