//! Messages: everything that can happen to the model. Terminal input, the
//! 1 Hz tick, pollers and the effect runner all send these into one channel.

use super::action::Key;
use super::effect::ChangeOutcome;
use super::model::{FleetSnapshot, LogLine, MetricPoint, PipelineRun, SourceError, TrafficSplit};

#[derive(Debug, Clone)]
pub enum Msg {
    Key(Key),
    Paste(String),
    Resize(u16, u16),
    /// Once a second: ages labels, runs the plan's timers and the analysis.
    Tick,
    Pipeline(Result<PipelineRun, SourceError>),
    Fleet(Result<FleetSnapshot, SourceError>),
    Traffic(Result<TrafficSplit, SourceError>),
    Metrics(Result<Vec<MetricPoint>, SourceError>),
    Logs(Result<Vec<LogLine>, SourceError>),
    /// The runner finished a change.
    ChangeDone {
        id: u64,
        result: Result<ChangeOutcome, String>,
    },
    /// Writing the journal failed: the operator must know.
    JournalFailed(String),
}
