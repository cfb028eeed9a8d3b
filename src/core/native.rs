//! ECS-native deployments as the core sees them: the service deployment
//! under way (strategy, stage, revisions, lifecycle hooks, rollback) and
//! which call a key makes of it (`next_call`): the ECS strategy owns the
//! weights, so continuing a hook and rolling back are all there is.

use super::data::Time;

/// How the deployment moves traffic.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// `percent` of traffic for `bake`, then all.
    Canary {
        percent: f64,
        bake_minutes: i32,
    },
    /// `percent` more each step, each baked for `bake`.
    Linear {
        percent: f64,
        bake_minutes: i32,
    },
    BlueGreen,
    Rolling,
    Other(String),
}

/// One lifecycle hook of the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub id: String,
    /// IN_PROGRESS, AWAITING_ACTION, SUCCEEDED, FAILED, TIMED_OUT.
    pub status: String,
    /// Until when it awaits action (PAUSE hooks), and what happens then.
    pub expires_at: Option<Time>,
    pub timeout_action: Option<String>,
}

/// The service deployment under way (or the newest one).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeDeployment {
    pub arn: String,
    /// PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, ROLLBACK_REQUESTED,
    /// ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED, …
    pub status: String,
    pub status_reason: Option<String>,
    /// e.g. PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME.
    pub stage: Option<String>,
    pub strategy: Strategy,
    /// The revisions it moves from (the baseline) and to.
    pub source_revisions: Vec<String>,
    pub target_revision: Option<String>,
    /// Their task definitions (`family:revision`), when read: the source's
    /// is the release baseline.
    pub source_task_definition: Option<String>,
    pub target_task_definition: Option<String>,
    pub hooks: Vec<Hook>,
    /// Why and to which revision it rolls back, once it does.
    pub rollback: Option<(String, String)>,
    /// When it ended (SUCCESSFUL, STOPPED, ROLLBACK_*), as ECS says.
    pub finished_at: Option<Time>,
}

impl NativeDeployment {
    /// Whether it still moves (a call can steer it).
    pub fn under_way(&self) -> bool {
        matches!(
            self.status.as_str(),
            "PENDING" | "IN_PROGRESS" | "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS"
        )
    }

    /// The hook that waits for an operator (a PAUSE hook).
    pub fn awaiting(&self) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.status == "AWAITING_ACTION")
    }

    /// ROLLBACK_REQUESTED, _IN_PROGRESS, _SUCCESSFUL or _FAILED.
    pub fn rolling_back(&self) -> bool {
        self.status.starts_with("ROLLBACK")
    }

    /// What it moves from, as an operator knows it: the source revision's
    /// task definition, else the revision's id.
    pub fn source_name(&self) -> String {
        self.source_task_definition.clone().unwrap_or_else(|| {
            self.source_revisions
                .first()
                .map_or("?".into(), |r| format!("revision {}", last_part(r)))
        })
    }

    /// What it moves to (see `source_name`).
    pub fn target_name(&self) -> String {
        self.target_task_definition.clone().unwrap_or_else(|| {
            self.target_revision
                .as_deref()
                .map_or("?".into(), |r| format!("revision {}", last_part(r)))
        })
    }
}

fn last_part(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// What a key asks of a native deployment, as the call that does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeCall {
    /// ContinueServiceDeployment on the awaiting hook.
    Continue { deployment: String, hook: String },
    /// ContinueServiceDeployment ROLLBACK on the awaiting hook.
    RollbackHook { deployment: String, hook: String },
    /// StopServiceDeployment with stopType ROLLBACK.
    Stop { deployment: String },
}

impl NativeCall {
    /// The call in plain words, for the dialog and the journal.
    pub fn describe(&self) -> String {
        let short = last_part;
        match self {
            NativeCall::Continue { deployment, hook } => format!(
                "ECS: continue deployment {} past hook {hook} (ContinueServiceDeployment CONTINUE)",
                short(deployment)
            ),
            NativeCall::RollbackHook { deployment, hook } => format!(
                "ECS: roll back deployment {} at hook {hook} (ContinueServiceDeployment ROLLBACK)",
                short(deployment)
            ),
            NativeCall::Stop { deployment } => format!(
                "ECS: stop deployment {} and roll back (StopServiceDeployment ROLLBACK)",
                short(deployment)
            ),
        }
    }
}

/// What the operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Continue,
    Rollback,
    /// `w` / `P`: weights, which the strategy owns.
    Weight,
}

/// The call for `ask` on `d`, or why there is none.
pub fn next_call(d: &NativeDeployment, ask: Ask) -> Result<NativeCall, String> {
    if !d.under_way() {
        return Err(format!(
            "the deployment is {}: nothing to steer",
            d.status.to_lowercase()
        ));
    }
    let rolling_back = d.rolling_back();
    match ask {
        Ask::Weight => Err(format!(
            "the ECS {} strategy sets the weights: continue, or roll back",
            strategy_name(&d.strategy)
        )),
        Ask::Continue => match d.awaiting() {
            _ if rolling_back => Err("the deployment is rolling back".into()),
            Some(hook) => Ok(NativeCall::Continue {
                deployment: d.arn.clone(),
                hook: hook.id.clone(),
            }),
            None => Err(match &d.stage {
                Some(stage) => format!(
                    "no lifecycle hook awaits action (stage {stage}): the deployment moves on by itself"
                ),
                None => "no lifecycle hook awaits action".into(),
            }),
        },
        Ask::Rollback if rolling_back => Err("the deployment is already rolling back".into()),
        Ask::Rollback => Ok(match d.awaiting() {
            Some(hook) => NativeCall::RollbackHook {
                deployment: d.arn.clone(),
                hook: hook.id.clone(),
            },
            None => NativeCall::Stop {
                deployment: d.arn.clone(),
            },
        }),
    }
}

pub fn strategy_name(s: &Strategy) -> String {
    match s {
        Strategy::Canary { .. } => "canary".into(),
        Strategy::Linear { .. } => "linear".into(),
        Strategy::BlueGreen => "blue/green".into(),
        Strategy::Rolling => "rolling".into(),
        Strategy::Other(name) => name.to_lowercase(),
    }
}
