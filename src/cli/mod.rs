//! The scriptable commands: `status`, `watch` and the changes (`advance`,
//! `weight N`, `promote`, `pause`, `resume`, `approve`, `reject`,
//! `rollback`) without the full-screen console. They run the same core —
//! pollers, the model, the change plans, the policy, the runner and the
//! journal (stamped `"via":"cli"`) — with no terminal UI: a change goes
//! through the same dialog, filled from `--yes`, `--service` and `--reason`
//! (or typed at a terminal), and the same recheck at Enter.
//!
//! Exit codes: 0 ok; 1 error (API, network); 2 bad usage or config;
//! 3 refused (read-only, policy, no `--yes`, a change under way, weights
//! moved); 4 timeout; 5 condition failed (`watch --until promoted` and the
//! release was rolled back).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use tokio::sync::{Notify, mpsc};

use crate::core::analysis::Outcome;
use crate::core::effect::Effect;
use crate::core::model::{ConfirmField, Level, Loadable, Model, Overlay};
use crate::core::msg::Msg;
use crate::core::plan::Phase;
use crate::core::update::{Ctx, update};
use crate::journal::Journal;
use crate::runtime::{pollers, runner};
use crate::sources::Sources;

pub const OK: u8 = 0;
pub const ERROR: u8 = 1;
pub const USAGE: u8 = 2;
pub const REFUSED: u8 = 3;
pub const TIMEOUT: u8 = 4;
pub const CONDITION_FAILED: u8 = 5;

/// A line on stdout. A closed pipe (`| head`) is not an error worth a
/// crash: the line is dropped.
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        writeln!(out, $($arg)*).and_then(|()| out.flush()).is_ok()
    }};
}

/// The version of `status --json` and `watch --json` objects.
pub const SCHEMA: u32 = 1;

/// How long the first reads may take before a command gives up.
const FIRST_READ: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// One snapshot: weights, plan, verdicts, services, targets, pipeline,
    /// baseline, and how fresh each source is
    Status {
        /// One JSON object on stdout (schema 1)
        #[arg(long)]
        json: bool,
    },
    /// One line (or JSON object) per change of state, until a condition
    /// holds, a failure, or the timeout
    Watch {
        /// End (exit 0) when this holds, decided from AWS as it is now;
        /// `promoted` ends with 5 if the release was rolled back instead
        #[arg(long, value_enum)]
        until: Option<Until>,
        /// Give up after this long (exit 4), e.g. 30s, 10m
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
        /// One JSON object per line (schema 1) instead of text
        #[arg(long)]
        json: bool,
    },
    /// Advance the canary to the next step of the plan
    Advance(ChangeArgs),
    /// Set the canary weight to N percent
    Weight {
        /// The canary's share of traffic, 0 to 100
        #[arg(value_parser = clap::value_parser!(u8).range(0..=100))]
        percent: u8,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Promote: canary to 100%, then the new stable
    Promote(ChangeArgs),
    /// Pause automatic progression
    Pause(ChangeArgs),
    /// Resume automatic progression
    Resume(ChangeArgs),
    /// Approve the pending deployment (GitHub environment)
    Approve(ChangeArgs),
    /// Reject the pending deployment (GitHub environment)
    Reject(ChangeArgs),
    /// Roll back: all traffic to stable, the stable service to the baseline
    Rollback(ChangeArgs),
    /// Drive the release without a screen (a pipeline job, an ECS task):
    /// the console's plan, policy, analysis and automation, one line per
    /// change of state. Exits 0 promoted, 5 rolled back, 4 at --timeout,
    /// 3 refused (another actor's change holds the service), 1 error or
    /// automation paused itself
    Drive {
        /// Give up after this long (exit 4), e.g. 45m; the release is left
        /// as it is, nothing under way is cut short
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
        /// One JSON object per line (schema 1) instead of text
        #[arg(long)]
        json: bool,
    },
    /// Write a config from what runs: list the clusters' services, pair
    /// each stable service with its canary (NAME and NAME-canary), check
    /// that discovery finds each pair's rule, target groups and log group,
    /// and write the config to --config PATH (default
    /// ~/.config/flightdeck/config.toml; never over one without --force)
    Init(init::InitArgs),
    /// The team state's DynamoDB table (`[team]`)
    Team {
        #[command(subcommand)]
        action: TeamAction,
    },
    /// Print a shell completion script, e.g.
    /// `flightdeck completions bash > ~/.local/share/bash-completion/completions/flightdeck`
    Completions {
        /// The shell to complete in
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g.
    /// `flightdeck man > ~/.local/share/man/man1/flightdeck.1`
    Man,
}

impl Command {
    /// Printed from the command line alone: no config, no AWS, no journal.
    pub fn is_offline(&self) -> bool {
        matches!(self, Command::Completions { .. } | Command::Man)
    }
}

/// Writes what an offline command prints (`completions`, `man`) to `out`.
/// `command` is the whole command line's definition.
pub fn print_offline(
    what: &Command,
    mut command: clap::Command,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match what {
        Command::Completions { shell } => {
            let name = command.get_name().to_string();
            // Into memory first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut command, name, &mut script);
            out.write_all(&script)
        }
        Command::Man => clap_mangen::Man::new(command).render(out),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum TeamAction {
    /// Create the table (on-demand billing; already there is fine) and
    /// print the equivalent `aws dynamodb create-table` command
    CreateTable {
        /// The table [default: `[team] table` of the config]
        #[arg(long, value_name = "NAME")]
        table: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ChangeArgs {
    /// Why (the journal keeps it; required wherever the dialog asks)
    #[arg(long)]
    pub reason: Option<String>,
    /// Confirm without asking (required without a terminal)
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Until {
    /// No canary traffic or tasks, the stable service on the release
    Promoted,
    /// No canary traffic or tasks, the stable service on the baseline
    RolledBack,
    /// Every service at its count, no unhealthy target, no failing verdict
    Healthy,
}

/// What a command runs on: the same parts as the console.
pub struct Headless {
    pub model: Model,
    pub sources: Sources,
    pub journal: Journal,
    pub operator: String,
    pub intervals: pollers::Intervals,
    /// `--service` was given (a change without a terminal needs it).
    pub service_given: bool,
    /// Where to tell the team (None: nobody).
    pub notify: Option<crate::notify::Settings>,
}

/// The core with its pollers and runner, driven without a terminal.
struct Driver {
    model: Model,
    sources: Sources,
    operator: String,
    rx: mpsc::UnboundedReceiver<Msg>,
    tx: mpsc::UnboundedSender<Msg>,
    effects: mpsc::UnboundedSender<Effect>,
    refresh: Arc<Notify>,
}

impl Driver {
    fn send(&mut self, msg: Msg) {
        let ctx = Ctx {
            now: self.sources.clock.now(),
            operator: self.operator.clone(),
        };
        for effect in update(&mut self.model, msg, &ctx) {
            match effect {
                Effect::Refresh => self.refresh.notify_waiters(),
                Effect::SelectRun(id) => self.sources.pipeline.select_run(id),
                Effect::FollowLogs(tasks) => self.sources.logs.follow(&tasks),
                Effect::Quit => {}
                other => {
                    let _ = self.effects.send(other);
                }
            }
        }
    }

    /// Apply messages until `done` holds or `limit` passes; false on
    /// timeout (or when every sender is gone).
    async fn until(&mut self, limit: Duration, mut done: impl FnMut(&Model) -> bool) -> bool {
        let end = tokio::time::Instant::now() + limit;
        while !done(&self.model) {
            match tokio::time::timeout_at(end, self.rx.recv()).await {
                Ok(Some(msg)) => self.send(msg),
                _ => return false,
            }
        }
        true
    }
}

fn fresh_since<T>(l: &Loadable<T>, since: crate::core::model::Time) -> bool {
    matches!(l, Loadable::Ready { at, .. } if *at >= since)
}

fn loaded<T>(l: &Loadable<T>) -> bool {
    !matches!(l, Loadable::Loading)
}

/// Run one command; returns the exit code.
pub async fn run(command: Command, parts: Headless) -> u8 {
    let Headless {
        model,
        sources,
        journal,
        operator,
        intervals,
        service_given,
        notify,
    } = parts;
    // Refused before any read or call when the arguments cannot do.
    if let Some(code) = gate(&command, service_given, &model.services) {
        return code;
    }
    let mut model = model;
    let driving = matches!(command, Command::Drive { .. });
    // The scriptable commands watch; `drive` runs the plan as the console
    // does, automation on.
    model.observer = !driving;
    model.via = if driving { "drive" } else { "cli" };
    if driving {
        model.analysis_settings.auto_advance = true;
    }
    let (tx, rx) = mpsc::unbounded_channel::<Msg>();
    let refresh = Arc::new(Notify::new());
    let mut tasks = pollers::spawn_all(&sources, tx.clone(), refresh.clone(), intervals);
    tasks.push(crate::runtime::spawn_tick(
        tx.clone(),
        sources.calls.clone(),
    ));
    let (journal, notifier) = match notify {
        Some(settings) => {
            let (sender, handle) = crate::notify::spawn(settings, tx.clone());
            (journal.with_notify(sender), Some(handle))
        }
        None => (journal, None),
    };
    let (journal, team_sync) = crate::sources::team::attach(
        &sources,
        journal,
        if driving { "drive" } else { "cli" },
        tx.clone(),
    );
    let (effects, runner) = runner::spawn_with_timeout(
        sources.clone(),
        journal.with_via(if driving { "drive" } else { "cli" }),
        tx.clone(),
        intervals.call_timeout,
    );
    let mut d = Driver {
        model,
        sources,
        operator,
        rx,
        tx,
        effects,
        refresh,
    };
    let signals = spawn_signals(d.tx.clone());
    // What the console would show in its Journal pane at start (a
    // notification target without its variable): said on stderr here.
    for e in d
        .model
        .journal
        .iter()
        .filter(|e| e.kind == crate::core::model::JournalKind::Error)
    {
        eprintln!("flightdeck: {}", crate::text::inert(&e.text));
    }
    // No screen: every dialog "fits" (the core refuses a dialog it cannot
    // show whole).
    d.send(Msg::Resize(u16::MAX, u16::MAX));
    let code = if !d
        .until(FIRST_READ, |m| {
            loaded(&m.fleet) && loaded(&m.traffic) && loaded(&m.pipeline)
        })
        .await
    {
        eprintln!(
            "flightdeck: no answer from ECS or the load balancer in {}s",
            FIRST_READ.as_secs()
        );
        ERROR
    } else {
        match command {
            Command::Status { json } => status::status(&d.model, json),
            Command::Watch {
                until,
                timeout,
                json,
            } => watch::watch(&mut d, until, timeout, json).await,
            Command::Drive { timeout, json } => drive(&mut d, timeout, json).await,
            Command::Pause(args) => changes::operator_action(&mut d, "pause", true, &args).await,
            Command::Resume(args) => changes::operator_action(&mut d, "resume", false, &args).await,
            Command::Advance(args) => {
                changes::change(&mut d, "advance", &args, service_given).await
            }
            Command::Weight {
                percent,
                change: args,
            } => changes::change(&mut d, &format!("weight {percent}"), &args, service_given).await,
            Command::Promote(args) => {
                changes::change(&mut d, "promote", &args, service_given).await
            }
            Command::Approve(args) => {
                changes::change(&mut d, "approve", &args, service_given).await
            }
            Command::Reject(args) => changes::change(&mut d, "reject", &args, service_given).await,
            Command::Rollback(args) => {
                changes::change(&mut d, "rollback", &args, service_given).await
            }
            // Done before a session starts (main.rs).
            Command::Completions { .. }
            | Command::Man
            | Command::Team { .. }
            | Command::Init(_) => OK,
        }
    };
    signals.abort();
    for task in &tasks {
        task.abort();
    }
    // The runner writes what is queued (a change's end record), then ends.
    drop(d.effects);
    let drain = intervals.call_timeout + Duration::from_secs(15);
    if tokio::time::timeout(drain, runner).await.is_err() {
        eprintln!(
            "flightdeck: a call was still running after {}s; check the journal",
            drain.as_secs()
        );
        return ERROR;
    }
    crate::notify::drain(notifier).await;
    crate::sources::team::drain(team_sync).await;
    // Notifications that could not be sent: said, not lost.
    while let Ok(msg) = d.rx.try_recv() {
        if let Msg::NotifyFailed(text) = msg {
            eprintln!("flightdeck: {}", crate::text::inert(&text));
        }
    }
    code
}

/// `drive`: refused while another actor's change holds the service;
/// otherwise the plan runs to its end as it would in the console, and the
/// end decides the exit code.
async fn drive(d: &mut Driver, timeout: Option<Duration>, json: bool) -> u8 {
    let probe = crate::core::model::LeaseHolder {
        operator: d.operator.clone(),
        via: "drive".into(),
        change: format!("drive-{}", std::process::id()),
        action: "drive".into(),
        host: String::new(),
        pid: 0,
        since: String::new(),
        call_until: None,
        started: None,
    };
    match d.sources.lease.acquire(&probe, false).await {
        Ok(grant) => d.sources.lease.release(&probe, grant.generation).await,
        Err(e) if e.kind == crate::core::model::ErrorKind::Held => {
            eprintln!("flightdeck: refused: {e}");
            return REFUSED;
        }
        // No lease to be had at all: each change says so when it begins.
        Err(_) => {}
    }
    // With [team]: the driver's seat, or refused while another driver
    // (another `drive`, a console that took over) sits there.
    let seat = match d.sources.team.clone() {
        Some(team) => match take_seat(d, &team).await {
            Ok(seat) => Some(seat),
            Err(code) => return code,
        },
        None => None,
    };
    let code = watch::watch(d, Some(Until::Promoted), timeout, json).await;
    // Timed out, stopped by a signal, or ended otherwise: a change under way
    // is carried to its step boundary (a rollback to its end), never
    // dropped mid-plan.
    if d.model.running.is_some() {
        if d.model.stopping.is_none() {
            d.send(Msg::Shutdown("drive ended".into()));
        }
        let drain = runner::CALL_TIMEOUT + Duration::from_secs(15);
        if !d.until(drain, |m| m.running.is_none()).await {
            eprintln!("flightdeck: a change was still under way at exit; check the journal");
            return ERROR;
        }
    }
    if let Some(seat) = seat {
        seat.leave().await;
    }
    code
}

/// Sit in the team's driver's seat for `drive`: refused (3) while another
/// live driver sits there, an error (1) when the table cannot say.
async fn take_seat(
    d: &mut Driver,
    team: &crate::sources::team::Team,
) -> Result<crate::sources::team::Seat, u8> {
    let me = team.seat_holder(&d.operator, "drive");
    let seat = crate::sources::team::Seat::sit(team, me, false, d.tx.clone());
    let limit = tokio::time::Instant::now() + runner::CALL_TIMEOUT + Duration::from_secs(5);
    let answer = loop {
        match tokio::time::timeout_at(limit, d.rx.recv()).await {
            Ok(Some(Msg::Seat(answer))) => {
                d.send(Msg::Seat(answer.clone()));
                break answer;
            }
            Ok(Some(msg)) => d.send(msg),
            _ => {
                break Err(crate::core::model::SourceError::new(
                    "the team table did not answer",
                ));
            }
        }
    };
    match answer {
        Ok(_) => Ok(seat),
        Err(e) => {
            seat.leave().await;
            eprintln!("flightdeck: refused: {e}");
            Err(if e.kind == crate::core::model::ErrorKind::Held {
                REFUSED
            } else {
                ERROR
            })
        }
    }
}

/// `flightdeck team create-table`: exit 0 made (or there already), 1 when
/// AWS refused, 2 without a table name.
pub async fn team_command(action: &TeamAction, config: Option<&crate::config::Config>) -> u8 {
    use std::io::Write;
    let TeamAction::CreateTable { table } = action;
    let Some(table) = table
        .clone()
        .or_else(|| config.and_then(|c| c.file.team.as_ref().map(|t| t.table.clone())))
    else {
        eprintln!("flightdeck: no table: pass --table NAME or set [team] table in the config");
        return USAGE;
    };
    let aws = config.and_then(|c| c.file.aws.as_ref());
    let settings = crate::sources::aws::AwsSettings {
        region: config
            .and_then(|c| c.file.team.as_ref().and_then(|t| t.region.clone()))
            .or_else(|| aws.and_then(|a| a.region.clone())),
        profile: aws.and_then(|a| a.profile.clone()),
        endpoint_url: aws.and_then(|a| a.endpoint_url.clone()),
    };
    let mut sdk = crate::sources::aws::sdk_config(&settings, runner::CALL_TIMEOUT).await;
    if let Some(team) = config.and_then(|c| c.file.team.as_ref()) {
        sdk = crate::sources::team::sdk_for(&sdk, team);
    }
    let team =
        crate::sources::team::Team::new(&sdk, &table, "", Arc::new(crate::sources::SystemClock));
    let _ = say!(
        "the same with the AWS CLI:\n{}",
        crate::sources::team::Team::create_table_command(&table)
    );
    match team.create_table().await {
        Ok(true) => {
            let _ = say!("created the team table {table} (on-demand billing)");
            OK
        }
        Ok(false) => {
            let _ = say!("the team table {table} is there already");
            OK
        }
        Err(e) => {
            eprintln!("flightdeck: {}", crate::text::inert(&e.to_string()));
            ERROR
        }
    }
}

/// The longest `--reason` taken (the journal and the team read it).
const MAX_REASON: usize = 1_000;

/// A change's arguments checked before anything is read: without a
/// terminal `--yes` and `--service` are needed; a reason must be short.
fn gate(command: &Command, service_given: bool, services: &[String]) -> Option<u8> {
    let args = match command {
        // `drive` changes the release with nobody asked: never on a service
        // picked for it.
        Command::Drive { .. } if !service_given && services.len() > 1 => {
            eprintln!(
                "flightdeck: refused: the config has {} services; `drive` needs --service NAME",
                services.len()
            );
            return Some(USAGE);
        }
        Command::Status { .. }
        | Command::Watch { .. }
        | Command::Drive { .. }
        | Command::Team { .. }
        | Command::Init(_)
        | Command::Completions { .. }
        | Command::Man => return None,
        Command::Weight { change, .. } => change,
        Command::Advance(a)
        | Command::Promote(a)
        | Command::Pause(a)
        | Command::Resume(a)
        | Command::Approve(a)
        | Command::Reject(a)
        | Command::Rollback(a) => a,
    };
    if args
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON)
    {
        eprintln!(
            "flightdeck: --reason is longer than {MAX_REASON} characters; nothing was changed"
        );
        return Some(USAGE);
    }
    // `--yes` acts without a question: it must not pick the first of
    // several services for the operator (seen: `payments` rolled back
    // when `auth-service` was meant).
    if args.yes && !service_given && services.len() > 1 {
        eprintln!(
            "flightdeck: --yes needs --service NAME when the config has more than one service ({}); nothing was changed",
            services.join(", ")
        );
        return Some(USAGE);
    }
    let tty = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !tty && (!args.yes || !service_given) {
        eprintln!(
            "flightdeck: refused: without a terminal a change needs --yes and --service NAME (and --reason where the policy asks for one); nothing was changed"
        );
        return Some(if args.yes { USAGE } else { REFUSED });
    }
    None
}

/// SIGINT, SIGTERM and SIGHUP stop a change at its next step boundary, as
/// in the console.
fn spawn_signals(tx: mpsc::UnboundedSender<Msg>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return;
        };
        loop {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            };
            if tx.send(Msg::Shutdown(name.into())).is_err() {
                break;
            }
        }
    })
}

mod changes;
pub mod init;
mod status;
mod watch;

pub use status::{status_json, status_text};
