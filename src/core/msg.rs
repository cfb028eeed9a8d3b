//! Messages: everything that can happen to the model. Terminal input, the
//! 1 Hz tick, pollers and the effect runner all send these into one channel.

use super::action::Key;
use super::effect::OperatorAction;
use super::model::{
    FleetSnapshot, Forward, LogLine, MetricPoint, PipelineRun, RequestId, SourceError,
};

#[derive(Debug, Clone)]
pub enum Msg {
    Key(Key),
    Paste(String),
    Resize(u16, u16),
    /// Once a second: ages labels, runs the plan's timers, waits and the
    /// analysis.
    Tick,
    Pipeline(Result<Box<PipelineRun>, SourceError>),
    /// A read of ECS that started at `started`: it can neither complete a
    /// wait nor undo a write confirmed after it began.
    Fleet {
        started: super::model::Time,
        result: Result<FleetSnapshot, SourceError>,
    },
    /// A read of the weights that started at `started`: one that began
    /// before the console's own last write may return the old weights, and
    /// is dropped.
    Traffic {
        started: super::model::Time,
        result: Result<Forward, SourceError>,
    },
    Metrics(Result<Vec<MetricPoint>, SourceError>),
    /// The ECS-native deployment under way (None: none is).
    Native(Result<Option<super::native::NativeDeployment>, SourceError>),
    /// The fleet overview's rows.
    Releases(Result<Vec<super::releases::ReleaseRow>, SourceError>),
    Logs(Result<Vec<LogLine>, SourceError>),
    /// The runner finished one call step of a change.
    StepDone {
        change: u64,
        index: usize,
        result: Result<Option<RequestId>, SourceError>,
    },
    /// The runner took (or could not take) the change's lease and wrote
    /// its start record: the answer to `Effect::Begin`.
    Begun {
        change: u64,
        result: Result<Box<super::model::LeaseGrant>, SourceError>,
    },
    /// During a wait the lease was found taken over (`Effect::CheckLease`).
    LeaseLost {
        change: u64,
        error: SourceError,
    },
    /// The record of an operator action was written: apply it.
    OperatorDone(OperatorAction),
    /// The answer to `Effect::FetchBaseline`.
    BaselineHint(Result<Option<(String, String)>, SourceError>),
    /// The provider's API calls so far (a counter the adapters share).
    ApiCalls(u64),
    /// Writing the journal failed: the operator must know.
    JournalFailed(String),
    /// Ctrl-Z: the runtime suspends the process (job control); the core
    /// does nothing.
    Suspend,
    /// SIGTERM, SIGHUP, SIGINT or a lost terminal: stop any change at its
    /// next step boundary, journal it, and quit.
    Shutdown(String),
    /// A `:` command line, as typed (the scriptable commands send these).
    Command(String),
    /// A notification to the team could not be sent: say so in the Journal.
    NotifyFailed(String),
    /// The terminal took this long to take one frame (it stopped reading):
    /// the screen was not drawn meanwhile, the release went on. `over`:
    /// it reads again; else it still does not (said once, while it lasts).
    ScreenStalled {
        took: std::time::Duration,
        over: bool,
    },
    /// Records of the team journal written since the last read (the first
    /// read: the newest of all), this process's own among them.
    TeamRecords(Vec<crate::core::model::TeamEntry>),
    /// The team table answers again (None) or does not (why).
    TeamState(Option<String>),
    /// Who sits in the driver's seat now (None: nobody, or gone silent).
    TeamDriver(Option<crate::core::model::LeaseHolder>),
    /// This process's seat: taken (`Some(who)`: from that driver), refused
    /// (`Held`) or taken over by another (`Preempted`).
    Seat(Result<Option<String>, crate::core::model::SourceError>),
}
