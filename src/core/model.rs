//! The model: everything the screen shows, owned by one task and changed only
//! by `core::update`. Data from sources is kept as `Loadable<T>` so a pane can
//! say how old its data is, or why it has none.

use std::collections::VecDeque;
use std::time::Duration;

use tui_input::Input;

use super::action::Keymap;
use super::analysis::{AnalysisSettings, Verdict};
use super::change::{Baseline, Change};
use super::plan::{Plan, PlanState};
use super::policy::ChangeWindow;

pub use super::data::*;

/// Most log lines kept in memory; older lines are dropped first.
pub const MAX_LOG_LINES: usize = 100_000;
/// A log line longer than this many bytes is cut, with a marker.
pub const MAX_LINE_BYTES: usize = 8 * 1024;
/// Most metric points kept per version (canary, stable).
pub const MAX_METRIC_POINTS: usize = 360;
/// Most journal entries kept for the Journal pane (the file keeps all).
pub const MAX_JOURNAL_ENTRIES: usize = 2_000;
/// Seconds an info message stays in the footer.
pub const STATUS_TICKS: u8 = 6;

/// Data that comes from a source: not yet there, there (with the time it
/// arrived), still shown but stale after an error, or never loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum Loadable<T> {
    Loading,
    Ready {
        value: T,
        at: Time,
    },
    Stale {
        value: T,
        at: Time,
        error: SourceError,
    },
    Failed {
        error: SourceError,
        since: Time,
    },
}

impl<T> Loadable<T> {
    /// When the data shown was read (ready or stale); None while loading
    /// or failed.
    pub fn read_at(&self) -> Option<Time> {
        match self {
            Loadable::Ready { at, .. } | Loadable::Stale { at, .. } => Some(*at),
            _ => None,
        }
    }

    pub fn value(&self) -> Option<&T> {
        match self {
            Loadable::Ready { value, .. } | Loadable::Stale { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Store fresh data.
    pub fn set(&mut self, value: T, at: Time) {
        *self = Loadable::Ready { value, at };
    }

    /// Record an error: keep the last good value (now stale) if there is one.
    pub fn fail(&mut self, error: SourceError, now: Time) {
        let old = std::mem::replace(self, Loadable::Loading);
        *self = match old {
            Loadable::Ready { value, at } | Loadable::Stale { value, at, .. } => {
                Loadable::Stale { value, at, error }
            }
            Loadable::Failed { since, .. } => Loadable::Failed { error, since },
            Loadable::Loading => Loadable::Failed { error, since: now },
        };
    }

    /// How old the shown data is.
    pub fn age(&self, now: Time) -> Option<Duration> {
        match self {
            Loadable::Ready { at, .. } | Loadable::Stale { at, .. } => {
                (now - *at).to_std().ok().or(Some(Duration::ZERO))
            }
            _ => None,
        }
    }

    pub fn error(&self) -> Option<&SourceError> {
        match self {
            Loadable::Stale { error, .. } | Loadable::Failed { error, .. } => Some(error),
            _ => None,
        }
    }
}

// ----- view state -----------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Pipeline,
    Canary,
    Tasks,
    Logs,
    Journal,
}

impl Pane {
    pub const ALL: [Pane; 5] = [
        Pane::Pipeline,
        Pane::Canary,
        Pane::Tasks,
        Pane::Logs,
        Pane::Journal,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Pipeline => "Pipeline",
            Pane::Canary => "Canary",
            Pane::Tasks => "Tasks",
            Pane::Logs => "Logs",
            Pane::Journal => "Journal",
        }
    }

    pub fn next(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        let i = Pane::ALL.iter().position(|p| *p == self).unwrap_or(0);
        Pane::ALL[(i + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// The service the console watches and acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceMeta {
    pub name: String,
    pub environment: String,
    pub protected: bool,
    pub cluster: String,
    pub stable_service: String,
    pub canary_service: Option<String>,
    pub listener_rule: String,
    pub account: String,
    pub region: String,
    pub change_window: Option<ChangeWindow>,
}

/// A service's AWS identity: what its journal records, lease and team items
/// are keyed by (never the config's name for it).
pub fn identity_of(
    account: &str,
    region: &str,
    cluster: &str,
    stable: &str,
    canary: Option<&str>,
) -> String {
    // A cluster given as its ARN is the same cluster as its name.
    let cluster = match cluster.strip_prefix("arn:") {
        Some(_) => cluster.rsplit('/').next().unwrap_or(cluster),
        None => cluster,
    };
    format!(
        "{account}/{region}/{cluster}/{stable}/{}",
        canary.unwrap_or("-")
    )
}

impl ServiceMeta {
    /// The service as AWS knows it: account, region, cluster, stable and
    /// canary services. Journal records, baselines, leases, change ids and
    /// notification keys are keyed by this, never by the config's name (a
    /// staging and a production config may both call it `auth-service`).
    pub fn identity(&self) -> String {
        identity_of(
            &self.account,
            &self.region,
            &self.cluster,
            &self.stable_service,
            self.canary_service.as_deref(),
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// The one-line message in the footer.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub text: String,
    pub level: Level,
    /// Ticks (seconds of real time) an info message stays.
    pub ticks_left: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalKind {
    Pipeline,
    Traffic,
    Verdict,
    Ecs,
    Operator,
    Automatic,
    Error,
}

impl JournalKind {
    pub fn label(self) -> &'static str {
        match self {
            JournalKind::Pipeline => "pipeline",
            JournalKind::Traffic => "traffic",
            JournalKind::Verdict => "verdict",
            JournalKind::Ecs => "ecs",
            JournalKind::Operator => "operator",
            JournalKind::Automatic => "auto",
            JournalKind::Error => "error",
        }
    }
}

/// One line of the Journal pane.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub at: Time,
    pub kind: JournalKind,
    pub text: String,
}

/// Which field of the confirmation dialog has the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmField {
    Name,
    Reason,
}

/// What a dialog asked to do, so it can be computed again at Enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proposal {
    Advance,
    Weight(u8),
    Promote,
    Approve,
    Reject,
    Rollback,
}

/// The confirmation dialog of a change: the plan it will carry out, and
/// the inputs the policy asks for.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub title: String,
    pub proposal: Proposal,
    /// The change that was under way when the dialog opened.
    pub running: Option<u64>,
    /// The plan as shown; at Enter it is computed again and compared.
    pub change: Change,
    /// Lines above the steps: from → to, notes.
    pub lines: Vec<String>,
    pub needs_name: bool,
    pub needs_reason: bool,
    pub outside_window: Option<String>,
    pub name: Input,
    pub reason: Input,
    pub field: ConfirmField,
    pub error: Option<String>,
}

/// A change under way: its plan, the step it is at, and what happened.
#[derive(Debug, Clone)]
pub struct Running {
    pub change: Change,
    /// Journal id of the change, unique across sessions.
    pub journal_id: String,
    /// The step under way.
    pub index: usize,
    pub step_started: Time,
    /// A call was sent to the runner and has not answered yet.
    pub call_in_flight: bool,
    /// One line per finished step: `N. what: ok` or `failed: why`.
    pub ran: Vec<String>,
    pub request_ids: Vec<String>,
    pub failures: Vec<String>,
    /// Why it stops at the next step boundary (rollback, quit, Esc).
    pub stop: Option<String>,
    /// Progress of a wait, e.g. "2/5 healthy".
    pub progress: Option<String>,
    /// The generation of the service's change lease this change holds;
    /// None until the runner has taken it (the change has not begun).
    pub lease: Option<u64>,
    /// When the lease was last checked during a wait.
    pub lease_checked: Time,
    /// The kind of the first failure, or `Preempted`: what the scriptable
    /// commands' exit codes come from (never the result's words).
    pub failure_kind: Option<ErrorKind>,
}

impl Running {
    /// `promote 10% → 100%, step 3 of 7`: what it is and where it is.
    pub fn at(&self) -> String {
        format!(
            "{} {} → {}, step {} of {}",
            self.change.kind.action_name(),
            self.change.from,
            self.change.to,
            self.index + 1,
            self.change.steps.len()
        )
    }
}

/// A change that ended, for the Canary pane.
#[derive(Debug, Clone)]
pub struct Finished {
    pub change: Change,
    pub result: String,
    pub ran: Vec<String>,
    /// Why it did not end well, as a kind (None: ok). `Held`: refused
    /// before anything was done (another actor held the lease).
    pub failure: Option<ErrorKind>,
}

/// A change the journal shows as started and never ended (the console
/// stopped under it): shown until acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub change: String,
    pub action: String,
    pub operator: String,
    pub time: String,
    pub ran: Vec<String>,
}

/// What sits on top of the panes and takes the keys.
#[derive(Debug, Clone, Default)]
pub enum Overlay {
    #[default]
    None,
    Help,
    Confirm(Box<Confirm>),
    /// The `w` prompt: a weight typed as a percentage.
    Weight {
        input: Input,
        error: Option<String>,
    },
}

/// The one-line prompt in the footer.
#[derive(Debug, Clone, Default)]
pub enum Prompt {
    #[default]
    None,
    Command {
        input: Input,
        hint: Option<String>,
    },
    Filter {
        pane: Pane,
        input: Input,
    },
}

/// The log tail. Lines matching the filter are indexed as they arrive (and
/// all at once when the filter changes), so drawing never scans 100k lines.
#[derive(Debug, Clone, Default)]
pub struct LogsView {
    lines: VecDeque<LogLine>,
    /// Sequence number of `lines[0]`; a line's number never changes.
    first_seq: u64,
    filter: String,
    /// Lower-cased filter (matching ignores case).
    needle: String,
    /// The filter as a case-insensitive regex, when it is one.
    pattern: Option<regex::Regex>,
    /// Lines kept (0: `MAX_LOG_LINES`); `[logs] max_lines` sets it.
    capacity: usize,
    /// Sequence numbers of the lines that match the filter, oldest first.
    matches: VecDeque<u64>,
    pub follow: bool,
    /// Lines from the bottom, when not following.
    pub scroll: usize,
    /// Lines that arrived while paused (shown in the title).
    pub new_while_paused: usize,
    /// Whose logs: the canary's tasks (default) or the stable ones.
    pub track: Track,
    /// The task ids followed now (what the source was last told).
    pub following: Vec<String>,
    pub error: Option<SourceError>,
    pub last_at: Option<Time>,
}

impl LogsView {
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    fn is_match(&self, line: &LogLine) -> bool {
        match &self.pattern {
            Some(re) => re.is_match(&line.text) || re.is_match(&line.task),
            None => {
                line.text.to_lowercase().contains(&self.needle) || line.task.contains(&self.needle)
            }
        }
    }

    /// Where the filter matches in `text` (byte ranges), for highlighting.
    pub fn match_ranges(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        if self.filter.is_empty() {
            return Vec::new();
        }
        match &self.pattern {
            Some(re) => re
                .find_iter(text)
                .filter(|m| !m.is_empty())
                .map(|m| m.range())
                .collect(),
            None => {
                // Case-insensitive substring: on the lower-cased text, when
                // lower-casing keeps the byte offsets; else none.
                let lower = text.to_lowercase();
                if lower.len() != text.len() || self.needle.is_empty() {
                    return Vec::new();
                }
                lower
                    .match_indices(&self.needle)
                    .map(|(i, m)| i..i + m.len())
                    .collect()
            }
        }
    }

    /// Forget every line (the pane switched to other tasks).
    pub fn clear(&mut self) {
        self.first_seq += self.lines.len() as u64;
        self.lines.clear();
        self.matches.clear();
        self.scroll = 0;
        self.new_while_paused = 0;
        self.last_at = None;
    }

    /// Keep at most `lines` lines (1,000 to 10,000,000).
    pub fn set_capacity(&mut self, lines: usize) {
        self.capacity = lines.clamp(1_000, 10_000_000);
        while self.lines.len() > self.capacity {
            self.lines.pop_front();
            self.first_seq += 1;
        }
        while self.matches.front().is_some_and(|m| *m < self.first_seq) {
            self.matches.pop_front();
        }
    }

    pub fn capacity(&self) -> usize {
        if self.capacity == 0 {
            MAX_LOG_LINES
        } else {
            self.capacity
        }
    }

    /// Append a line, dropping the oldest past the capacity; a line over
    /// `MAX_LINE_BYTES` is cut with a marker.
    pub fn push(&mut self, mut line: LogLine) -> bool {
        if line.text.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            while !line.text.is_char_boundary(cut) {
                cut -= 1;
            }
            let dropped = line.text.len() - cut;
            line.text.truncate(cut);
            line.text.push_str(&format!(" …[cut {dropped} bytes]"));
        }
        if self.lines.len() >= self.capacity() {
            self.lines.pop_front();
            self.first_seq += 1;
            while self.matches.front().is_some_and(|m| *m < self.first_seq) {
                self.matches.pop_front();
            }
        }
        let matched = !self.filter.is_empty() && self.is_match(&line);
        if matched {
            self.matches
                .push_back(self.first_seq + self.lines.len() as u64);
        }
        self.last_at = Some(line.at);
        self.lines.push_back(line);
        matched || self.filter.is_empty()
    }

    /// Set the filter and index the lines that match it.
    pub fn set_filter(&mut self, filter: &str) {
        if filter == self.filter {
            return;
        }
        self.filter = filter.to_string();
        self.needle = filter.to_lowercase();
        // A filter that is a valid regex matches as one (ignoring case);
        // else as plain text ("[2J" stays a substring).
        self.pattern = regex::RegexBuilder::new(filter)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .ok();
        self.scroll = 0;
        self.matches.clear();
        if filter.is_empty() {
            return;
        }
        let matches: VecDeque<u64> = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| self.is_match(l))
            .map(|(i, _)| self.first_seq + i as u64)
            .collect();
        self.matches = matches;
    }

    /// How many lines pass the filter.
    pub fn shown_len(&self) -> usize {
        if self.filter.is_empty() {
            self.lines.len()
        } else {
            self.matches.len()
        }
    }

    /// Up to `limit` lines that pass the filter, newest last, `scroll` lines
    /// up from the newest when not following.
    pub fn visible(&self, limit: usize) -> Vec<&LogLine> {
        let skip = if self.follow { 0 } else { self.scroll };
        let mut out: Vec<&LogLine> = if self.filter.is_empty() {
            self.lines.iter().rev().skip(skip).take(limit).collect()
        } else {
            self.matches
                .iter()
                .rev()
                .skip(skip)
                .take(limit)
                .filter_map(|seq| self.lines.get((seq - self.first_seq) as usize))
                .collect()
        };
        out.reverse();
        out
    }
}

#[derive(Debug, Clone, Default)]
pub struct TasksView {
    pub selected: usize,
    pub filter: String,
}

/// A selection (Pipeline) or, for the Journal, lines scrolled up from the
/// newest (0 follows the end).
#[derive(Debug, Clone, Default)]
pub struct ScrollView {
    pub selected: usize,
}

#[derive(Debug, Clone, Default)]
pub struct MetricsView {
    pub canary: VecDeque<MetricPoint>,
    pub stable: VecDeque<MetricPoint>,
    pub last_at: Option<Time>,
    pub error: Option<SourceError>,
}

#[derive(Debug, Clone, Default)]
pub struct AnalysisState {
    pub verdicts: Vec<Verdict>,
    pub consecutive_failures: u32,
    pub last_run: Option<Time>,
}

/// Shown in the header when the console runs on the simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoInfo {
    pub scenario: String,
    pub speed: u32,
}

/// Everything the screen shows.
#[derive(Debug, Clone)]
pub struct Model {
    pub service: ServiceMeta,
    pub read_only: bool,
    pub demo: Option<DemoInfo>,
    pub keymap: Keymap,
    pub plan: Plan,
    pub plan_state: PlanState,
    pub analysis_settings: AnalysisSettings,
    pub analysis: AnalysisState,

    pub pipeline: Loadable<PipelineRun>,
    pub fleet: Loadable<FleetSnapshot>,
    pub traffic: Loadable<Forward>,
    pub metrics: MetricsView,
    pub logs: LogsView,

    pub journal: VecDeque<JournalEntry>,
    pub journal_view: ScrollView,
    pub pipeline_view: ScrollView,
    pub tasks_view: TasksView,

    pub focus: Pane,
    pub zoom: bool,
    pub overlay: Overlay,
    pub prompt: Prompt,
    pub status: Option<Status>,
    pub theme: String,
    pub themes: Vec<String>,
    /// Draw with ASCII only (`--ascii`, or a locale that is not UTF-8).
    pub ascii: bool,
    /// The services of the config, for `:service NAME`.
    pub services: Vec<String>,
    /// Set by `:service NAME`: the console restarts on that service.
    pub switch_to: Option<String>,
    /// With the switch: open the rollback dialog there (`R` on a row of the
    /// fleet overview).
    pub switch_rollback: bool,
    /// Open the rollback dialog as soon as the weights and ECS are read.
    pub rollback_when_read: bool,
    /// The fleet overview (a config with more than one service).
    pub releases: Option<super::releases::ReleasesView>,
    /// An ECS-native service's deployment under way (None inside: none is);
    /// None: the service is a stable/canary pair.
    pub native: Option<Loadable<Option<super::native::NativeDeployment>>>,

    /// The change under way: one at a time.
    pub running: Option<Running>,
    /// A rollback confirmed while a call of another change was in flight:
    /// it starts at that call's step boundary. (reason, automatic)
    pub pending_rollback: Option<(Option<String>, bool)>,
    pub last_change: Option<Finished>,
    pub next_change_id: u64,
    /// Prefix of journal change ids: unique per session.
    pub session: String,
    /// The release baseline, once seen (or read back from the journal).
    pub baseline: Option<Baseline>,
    /// The fleet's deployment history was asked for a baseline.
    pub baseline_asked: bool,
    /// When this console's last weight write was confirmed: older reads
    /// are stale.
    pub weights_written_at: Option<Time>,
    /// When this console's last ECS write (scale, task definition) was
    /// confirmed: fleet reads begun before it are stale.
    pub fleet_written_at: Option<Time>,
    /// Changes the journal shows unfinished, until acknowledged.
    pub unfinished: Vec<Unfinished>,
    /// Until when the automation holds because another actor's lease
    /// refused its change, and who holds it.
    pub lease_busy: Option<(Time, String)>,
    /// The hold last journaled, so each hold is recorded once.
    pub hold_noted: Option<String>,
    /// An ECS-native deployment's hook awaiting action, and since when this
    /// console has seen it await: the analysis judges the verdicts since.
    pub native_hook_since: Option<(String, Time)>,
    /// An ECS-native service's production group between deployments: the
    /// one with all traffic while none was under way.
    pub native_idle_group: Option<String>,
    /// The source group of the deployment seen under way (its ARN, the
    /// group): the idle group when it began. Traffic reads are turned so
    /// that "stable" is this group, for the deployment's whole life.
    pub native_source_group: Option<(String, String)>,
    /// The groups have swapped roles since start (the configured canary
    /// group is the production one): analysis keyed by target group would
    /// judge the wrong revision, so automation holds.
    pub native_swapped: bool,
    /// Sources journaled as stale, until they answer again.
    pub stale_noted: Vec<String>,
    /// Watching only (the scriptable commands): no automation acts and
    /// nothing is journaled on its own — the console that runs the plan
    /// does that. A change asked for by the command still runs.
    pub observer: bool,
    /// Who acts, for the lease and the team: `console`, `cli` or `drive`.
    pub via: &'static str,
    /// The team state (`[team]`); None: off, this process alone.
    pub team: Option<TeamView>,
    /// Why the automation paused itself (a failed or preempted automatic
    /// change); None once an operator pauses or resumes.
    pub self_paused: Option<String>,
    /// The terminal's size; a dialog is confirmable only when it fits.
    pub screen: Option<(u16, u16)>,
    /// Quitting: why (q, SIGTERM, ...). A change stops at its next step
    /// boundary first.
    pub stopping: Option<String>,
    /// The last time the terminal stopped taking frames: when it came
    /// back, and for how many seconds (the header says so for a while).
    pub screen_stalled: Option<(Time, u64)>,
    /// The process's exit code: non-zero when a change was cut short.
    pub exit_code: u8,
    /// API call counts over the last minute (time, total so far).
    pub api_calls: VecDeque<(Time, u64)>,
    pub seen_events: Vec<String>,
    pub now: Time,
    pub quit: bool,
    /// Set by `update` when the screen must be drawn again.
    pub dirty: bool,
}

/// What a model is built from.
#[derive(Debug, Clone)]
pub struct ModelInit {
    pub service: ServiceMeta,
    pub read_only: bool,
    pub demo: Option<DemoInfo>,
    pub keymap: Keymap,
    pub plan: Plan,
    pub analysis: AnalysisSettings,
    pub theme: String,
    pub themes: Vec<String>,
    /// The config's service names.
    pub services: Vec<String>,
    pub now: Time,
    /// Prefix of journal change ids (e.g. the start time in seconds).
    pub session: String,
    pub baseline: Option<Baseline>,
    pub unfinished: Vec<Unfinished>,
}

impl Model {
    /// An ECS-native service's deployment as last read (the one under way,
    /// else the newest of the last day), if any.
    pub fn native_deployment(&self) -> Option<&super::native::NativeDeployment> {
        match self.native.as_ref().map(|l| l.value()) {
            Some(Some(Some(d))) => Some(d),
            _ => None,
        }
    }

    pub fn new(init: ModelInit) -> Self {
        Model {
            service: init.service,
            read_only: init.read_only,
            demo: init.demo,
            keymap: init.keymap,
            plan: init.plan,
            plan_state: PlanState::default(),
            analysis_settings: init.analysis,
            analysis: AnalysisState::default(),
            pipeline: Loadable::Loading,
            fleet: Loadable::Loading,
            traffic: Loadable::Loading,
            metrics: MetricsView::default(),
            logs: LogsView {
                follow: true,
                ..LogsView::default()
            },
            journal: VecDeque::new(),
            journal_view: ScrollView::default(),
            pipeline_view: ScrollView::default(),
            tasks_view: TasksView::default(),
            focus: Pane::Canary,
            zoom: false,
            overlay: Overlay::None,
            prompt: Prompt::None,
            status: None,
            theme: init.theme,
            themes: init.themes,
            services: init.services,
            ascii: false,
            switch_to: None,
            switch_rollback: false,
            rollback_when_read: false,
            releases: None,
            native: None,
            running: None,
            pending_rollback: None,
            last_change: None,
            next_change_id: 1,
            session: init.session,
            baseline: init.baseline,
            baseline_asked: false,
            weights_written_at: None,
            fleet_written_at: None,
            unfinished: init.unfinished,
            lease_busy: None,
            hold_noted: None,
            native_hook_since: None,
            native_idle_group: None,
            native_source_group: None,
            native_swapped: false,
            stale_noted: Vec::new(),
            observer: false,
            via: "console",
            team: None,
            self_paused: None,
            screen: None,
            stopping: None,
            screen_stalled: None,
            exit_code: 0,
            api_calls: VecDeque::new(),
            seen_events: Vec::new(),
            now: init.now,
            quit: false,
            dirty: true,
        }
    }

    /// API calls in all and in the last minute, when counted.
    pub fn api_rate(&self) -> Option<(u64, u64)> {
        let (_, last) = self.api_calls.back()?;
        let (_, first) = self.api_calls.front()?;
        Some((*last, last - first))
    }

    /// The canary's share of traffic, if the weights are known.
    pub fn canary_weight(&self) -> Option<u8> {
        self.traffic.value().map(|t| t.split.canary_pct())
    }

    pub fn push_journal(&mut self, at: Time, kind: JournalKind, text: impl Into<String>) {
        if self.journal.len() == MAX_JOURNAL_ENTRIES {
            self.journal.pop_front();
        }
        // Keep the list in time order: ECS events can arrive late.
        let pos = self.journal.partition_point(|e| e.at <= at);
        self.journal.insert(
            pos,
            JournalEntry {
                at,
                kind,
                text: text.into(),
            },
        );
    }

    pub fn set_status(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            level,
            ticks_left: STATUS_TICKS,
        });
    }

    /// Tasks that pass the filter, in display order.
    pub fn visible_tasks(&self) -> Vec<&TaskInfo> {
        let Some(fleet) = self.fleet.value() else {
            return Vec::new();
        };
        let filter = self.tasks_view.filter.to_lowercase();
        fleet
            .tasks
            .iter()
            .filter(|t| {
                filter.is_empty()
                    || t.id.to_lowercase().contains(&filter)
                    || t.last_status.to_lowercase().contains(&filter)
                    || t.health.to_lowercase().contains(&filter)
                    || t.az.contains(&filter)
                    || t.track.label().contains(&filter)
            })
            .collect()
    }
}

/// A fixed instant plus `s` seconds, for tests.
#[cfg(test)]
pub(crate) fn test_time(s: i64) -> Time {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_opt(1_800_000_000 + s, 0)
        .single()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: usize) -> LogLine {
        LogLine {
            at: Time::default(),
            task: "t".into(),
            text: if i.is_multiple_of(10) {
                format!("ERROR {i}")
            } else {
                format!("ok {i}")
            },
        }
    }

    #[test]
    fn log_filter_index_survives_eviction_and_ignores_case() {
        let mut logs = LogsView {
            follow: true,
            ..LogsView::default()
        };
        logs.set_filter("error");
        for i in 0..MAX_LOG_LINES + 25 {
            logs.push(line(i));
        }
        assert_eq!(logs.len(), MAX_LOG_LINES);
        // 25 lines evicted: "ERROR 0", "ERROR 10", "ERROR 20" went with them.
        assert_eq!(logs.shown_len(), MAX_LOG_LINES / 10 + 3 - 3);
        let last: Vec<&str> = logs.visible(2).iter().map(|l| l.text.as_str()).collect();
        assert_eq!(last, ["ERROR 100010", "ERROR 100020"]);
        logs.follow = false;
        logs.scroll = 1;
        let back: Vec<&str> = logs.visible(1).iter().map(|l| l.text.as_str()).collect();
        assert_eq!(back, ["ERROR 100010"]);
        logs.set_filter("");
        assert_eq!(logs.shown_len(), MAX_LOG_LINES);
        logs.set_filter("ok 99999");
        assert_eq!(logs.shown_len(), 1);
    }

    #[test]
    fn previous_task_definition_is_the_last_primary_before_the_current() {
        let deployment = |status: &str, td: &str, secs: i64| Deployment {
            status: status.into(),
            task_definition: td.into(),
            rollout_state: "COMPLETED".into(),
            running: 1,
            pending: 0,
            desired: 1,
            created_at: Time::default() + chrono::Duration::seconds(secs),
        };
        let mut svc = ServiceInfo {
            name: "s".into(),
            track: Track::Stable,
            task_definition: "app:42".into(),
            running: 1,
            pending: 0,
            desired: 1,
            deployments: vec![
                deployment("PRIMARY", "app:42", 30),
                deployment("ACTIVE", "app:41", 20),
                deployment("INACTIVE", "app:39", 10),
            ],
        };
        assert_eq!(svc.previous_task_definition(), Some("app:41"));
        svc.deployments.truncate(1);
        assert_eq!(svc.previous_task_definition(), None, "never a guess");
    }
}
