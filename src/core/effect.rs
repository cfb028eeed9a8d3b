//! Effects: what must happen outside the pure core. `update` returns them as
//! data; the runtime's runner carries them out and reports back with a `Msg`.

use serde::{Deserialize, Serialize};

use super::change::Step;

/// One line of the journal file. Fields added since the first version are
/// optional, so old journals still read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// RFC 3339, UTC.
    pub time: String,
    pub operator: String,
    pub service: String,
    /// The service's AWS identity (`ServiceMeta::identity`): what the
    /// journal is read back by. Absent on records of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    pub action: String,
    pub from: String,
    pub to: String,
    pub reason: Option<String>,
    /// `started`, `ok`, `failed: <why>`, or `stopped: <why>`.
    pub result: String,
    #[serde(default)]
    pub request_ids: Vec<String>,
    #[serde(default)]
    pub automatic: bool,
    /// The change this record belongs to, unique across sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// `N/M name: what`, on the records of one step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The plan's steps (on `started`), or the steps that ran (at the end).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// On a `baseline` record: the weights [stable, canary] when it was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<[u16; 2]>,
    /// How the change was asked for when not in the console: `cli`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// One call of a change, for the runner: journal `before` (if that fails
/// the call is not made), make the call, journal `after` with its result
/// and request id, then send `Msg::StepDone`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCall {
    pub change: u64,
    pub index: usize,
    pub step: Step,
    pub before: Vec<JournalRecord>,
    pub after: JournalRecord,
}

/// The start of a change, for the runner: take the service's lease for
/// `holder` (taking it over when `take_over`: a rollback), then journal
/// `start`; answered with `Msg::Begun`. If the lease is refused, nothing
/// is written and nothing is done.
#[derive(Debug, Clone, PartialEq)]
pub struct BeginCall {
    pub change: u64,
    pub holder: super::model::LeaseHolder,
    pub take_over: bool,
    pub start: JournalRecord,
}

/// What an operator action does once its record is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorAction {
    SetPaused(bool),
    /// The unfinished change with this id has been seen.
    Acknowledge(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Begin a change: its lease, then its start record.
    Begin(BeginCall),
    /// Take over the driver's seat (`:drive SERVICE`): this console's
    /// automation drives, the driver that sat there stops at its next
    /// step boundary. Answered with `Msg::Seat`.
    TakeOverDriving,
    /// Carry out one call step of a change (the lease is checked first).
    Step(StepCall),
    /// During a wait: is the change's lease still held? Answered only when
    /// it is not (`Msg::LeaseLost`).
    CheckLease {
        change: u64,
    },
    /// The change ended: give its lease back (if it still holds it).
    Release {
        change: u64,
    },
    /// Append a record (an operator action that changes nothing outside,
    /// a wait that ended, the end of a change, the baseline).
    Journal(JournalRecord),
    /// An operator action that changes nothing outside (pause, resume,
    /// acknowledge): write `record` first, then answer with
    /// `Msg::OperatorDone(then)`; if the record cannot be written, the
    /// action is not taken.
    Operator {
        record: JournalRecord,
        then: OperatorAction,
    },
    /// Ask the fleet which task definition the stable service ran before
    /// its latest deployment (no baseline in the journal): answered with
    /// `Msg::BaselineHint`.
    FetchBaseline {
        service: String,
    },
    /// Ask the pollers for fresh data now (after a change).
    Refresh,
    /// Show this run in the Pipeline pane (None: follow the newest), then
    /// refresh.
    SelectRun(Option<u64>),
    /// Follow these tasks' logs from the next read on.
    FollowLogs(Vec<crate::core::model::LogTask>),
    Quit,
}
