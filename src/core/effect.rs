//! Effects: what must happen outside the pure core. `update` returns them as
//! data; the runtime's runner carries them out and reports back with a `Msg`.

use serde::Serialize;

/// A change to production, exactly as confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOp {
    /// Set the listener rule's weights so the canary gets this share.
    SetCanaryWeight { weight: u8 },
    /// Canary to 100 %, stable service to the canary's task definition,
    /// traffic back to the (new) stable, canary scaled to 0.
    Promote { canary_task_definition: String },
    /// Approve the pending deployment of a run on a GitHub environment.
    Approve { run_id: u64, environment: String },
    /// All traffic to stable in one call, then the canary to 0 tasks; with
    /// no canary service, the stable service back to its previous
    /// PRIMARY task definition.
    Rollback {
        canary_service: Option<String>,
        previous_task_definition: Option<String>,
    },
}

impl ChangeOp {
    /// The journal's `action` field.
    pub fn action_name(&self) -> &'static str {
        match self {
            ChangeOp::SetCanaryWeight { .. } => "set_weight",
            ChangeOp::Promote { .. } => "promote",
            ChangeOp::Approve { .. } => "approve",
            ChangeOp::Rollback { .. } => "rollback",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    pub id: u64,
    pub op: ChangeOp,
    pub service: String,
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
    /// Started by the analysis policy or the plan, not by a key.
    pub automatic: bool,
}

/// What the runner reports when a change is done.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeOutcome {
    pub request_ids: Vec<String>,
}

/// One line of the journal file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalRecord {
    /// RFC 3339, UTC.
    pub time: String,
    pub operator: String,
    pub service: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
    /// `started`, `ok`, or `failed: <why>`.
    pub result: String,
    pub request_ids: Vec<String>,
    pub automatic: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Journal, carry out, journal again, then send `Msg::ChangeDone`.
    Change(ChangeRequest),
    /// An operator action that changes nothing outside (pause, resume):
    /// journal it only.
    Journal(JournalRecord),
    /// Ask the pollers for fresh data now (after a change).
    Refresh,
    Quit,
}
