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

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::core::analysis::Outcome;
use crate::core::effect::Effect;
use crate::core::model::{ConfirmField, Level, Loadable, Model, Overlay};
use crate::core::msg::Msg;
use crate::core::plan::Phase;
use crate::core::update::{Ctx, hold_reason, update};
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
        #[arg(long, value_enum)]
        until: Option<Until>,
        /// e.g. 30s, 10m
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
        #[arg(long)]
        json: bool,
    },
    /// Advance the canary to the next step of the plan
    Advance(ChangeArgs),
    /// Set the canary weight to N percent
    Weight {
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
    Promoted,
    RolledBack,
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
    model.observer = true;
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
    let (effects, runner) = runner::spawn_with_timeout(
        sources.clone(),
        journal.with_via("cli"),
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
        eprintln!("flightdeck: {}", crate::ui::text::inert(&e.text));
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
            Command::Status { json } => status(&d.model, json),
            Command::Watch {
                until,
                timeout,
                json,
            } => watch(&mut d, until, timeout, json).await,
            Command::Pause(args) => operator_action(&mut d, "pause", true, &args).await,
            Command::Resume(args) => operator_action(&mut d, "resume", false, &args).await,
            Command::Advance(args) => change(&mut d, "advance", &args, service_given).await,
            Command::Weight {
                percent,
                change: args,
            } => change(&mut d, &format!("weight {percent}"), &args, service_given).await,
            Command::Promote(args) => change(&mut d, "promote", &args, service_given).await,
            Command::Approve(args) => change(&mut d, "approve", &args, service_given).await,
            Command::Reject(args) => change(&mut d, "reject", &args, service_given).await,
            Command::Rollback(args) => change(&mut d, "rollback", &args, service_given).await,
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
    // Notifications that could not be sent: said, not lost.
    while let Ok(msg) = d.rx.try_recv() {
        if let Msg::NotifyFailed(text) = msg {
            eprintln!("flightdeck: {}", crate::ui::text::inert(&text));
        }
    }
    code
}

/// The longest `--reason` taken (the journal and the team read it).
const MAX_REASON: usize = 1_000;

/// A change's arguments checked before anything is read: without a
/// terminal `--yes` and `--service` are needed; a reason must be short.
fn gate(command: &Command, service_given: bool, services: &[String]) -> Option<u8> {
    let args = match command {
        Command::Status { .. } | Command::Watch { .. } => return None,
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

// ----- status ----------------------------------------------------------------

fn age_s<T>(l: &Loadable<T>, now: crate::core::model::Time) -> Value {
    match l {
        Loadable::Ready { at, .. } | Loadable::Stale { at, .. } => {
            json!(((now - *at).num_milliseconds() as f64 / 1000.0).max(0.0))
        }
        _ => Value::Null,
    }
}

fn source_state<T>(l: &Loadable<T>, now: crate::core::model::Time) -> Value {
    let (state, error) = match l {
        Loadable::Loading => ("loading", None),
        Loadable::Ready { .. } => ("ready", None),
        Loadable::Stale { error, .. } => ("stale", Some(error)),
        Loadable::Failed { error, .. } => ("failed", Some(error)),
    };
    json!({
        "state": state,
        "age_s": age_s(l, now),
        "error": error.map(|e| e.to_string()),
    })
}

/// The `status --json` object (schema 1).
pub fn status_json(model: &Model) -> Value {
    let now = model.now;
    let traffic = model.traffic.value().map(|f| {
        json!({
            "stable": f.split.stable,
            "canary": f.split.canary,
            "canary_pct": model.canary_weight(),
        })
    });
    let plan = json!({
        "phase": model.plan_state.phase.label(),
        "step": model.plan_state.step.map(|s| s + 1),
        "steps": model.plan.steps.len(),
        "weight": model.plan_state.weight,
        "bake_left_s": model.plan_state.bake_left(&model.plan, now).map(|d| d.as_secs()),
        "paused": model.plan_state.paused,
        "hold": hold_reason(model),
    });
    let verdicts: Vec<Value> = model
        .analysis
        .verdicts
        .iter()
        .rev()
        .take(10)
        .rev()
        .map(|v| {
            json!({
                "at": v.at.to_rfc3339(),
                "outcome": v.outcome.label(),
                "error_pct": v.canary_error_pct,
                "p95_ms": v.canary_p95_ms,
                "stable_p95_ms": v.stable_p95_ms,
                "requests": v.requests,
                "p_value": v.p_value,
                "reason": v.reason,
            })
        })
        .collect();
    let fleet = model.fleet.value();
    let services: Vec<Value> = fleet
        .map(|f| {
            f.services
                .iter()
                .map(|s| {
                    json!({
                        "track": s.track.label(),
                        "name": s.name,
                        "task_definition": s.task_definition,
                        "desired": s.desired,
                        "running": s.running,
                        "pending": s.pending,
                        "deployments": s.deployments.iter().map(|d| json!({
                            "status": d.status,
                            "task_definition": d.task_definition,
                            "rollout_state": d.rollout_state,
                            "desired": d.desired,
                            "running": d.running,
                            "pending": d.pending,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let targets: Vec<Value> = fleet
        .map(|f| {
            f.targets
                .iter()
                .map(|t| {
                    json!({
                        "track": t.track.label(),
                        "target_group": t.target_group,
                        "healthy": t.healthy,
                        "unhealthy": t.unhealthy,
                        "draining": t.draining,
                        "initial": t.initial,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let pipeline = model.pipeline.value().map(|r| {
        json!({
            "id": r.id,
            "number": r.number,
            "attempt": r.attempt,
            "event": r.event,
            "branch": r.branch,
            "sha": r.sha,
            "url": r.url,
            "stages": r.stages.iter().map(|s| json!({"name": s.name, "status": s.status.label()})).collect::<Vec<_>>(),
            "pending": r.pending.as_ref().map(|p| json!({
                "environment": p.environment,
                "environment_ids": p.environment_ids,
                "can_approve": p.can_approve,
                "reviewers": p.reviewers,
                "waiting_since": p.waiting_since.to_rfc3339(),
            })),
        })
    });
    let baseline = model.baseline.as_ref().map(|b| {
        json!({
            "stable_task_definition": b.stable_task_definition,
            "release_task_definition": b.release_task_definition,
        })
    });
    let change = model.running.as_ref().map(|r| {
        json!({
            "action": r.change.kind.action_name(),
            "step": r.index + 1,
            "steps": r.change.steps.len(),
            "doing": r.change.steps.get(r.index).map(|s| s.describe()),
        })
    });
    json!({
        "schema": SCHEMA,
        "at": now.to_rfc3339(),
        "service": {
            "name": model.service.name,
            "environment": model.service.environment,
            "protected": model.service.protected,
            "cluster": model.service.cluster,
            "account": model.service.account,
            "region": model.service.region,
            "read_only": model.read_only,
        },
        "traffic": traffic,
        "plan": plan,
        "analysis": {
            "consecutive_failures": model.analysis.consecutive_failures,
            "verdicts": verdicts,
        },
        "services": services,
        "targets": targets,
        "pipeline": pipeline,
        "baseline": baseline,
        "change": change,
        "sources": {
            "pipeline": source_state(&model.pipeline, now),
            "fleet": source_state(&model.fleet, now),
            "traffic": source_state(&model.traffic, now),
            "metrics": json!({"state": if model.metrics.error.is_some() { "failed" } else { "ready" },
                              "error": model.metrics.error.as_ref().map(ToString::to_string)}),
            "logs": json!({"state": if model.logs.error.is_some() { "failed" } else { "ready" },
                           "error": model.logs.error.as_ref().map(ToString::to_string)}),
        },
    })
}

/// The snapshot as text: one fact a line.
pub fn status_text(model: &Model) -> String {
    let mut out = Vec::new();
    let s = &model.service;
    out.push(format!(
        "{} · {}{} · {} · {}",
        s.name,
        s.environment,
        if s.protected { " [protected]" } else { "" },
        s.account,
        s.region
    ));
    match model.traffic.value() {
        Some(f) => out.push(format!(
            "traffic   stable {} · canary {} ({}% canary)",
            f.split.stable,
            f.split.canary,
            model.canary_weight().unwrap_or(0)
        )),
        None => out.push("traffic   unknown".into()),
    }
    let ps = &model.plan_state;
    let mut plan = format!("plan      {}", ps.phase.label());
    if let Some(step) = ps.step {
        plan.push_str(&format!(" · step {}/{}", step + 1, model.plan.steps.len()));
    }
    if let Some(left) = ps.bake_left(&model.plan, model.now) {
        plan.push_str(&format!(
            " · bake {} left",
            crate::core::update::humanize(left)
        ));
    }
    if ps.paused {
        plan.push_str(" · PAUSED");
    }
    if let Some(hold) = hold_reason(model) {
        plan.push_str(&format!(" · hold: {hold}"));
    }
    out.push(plan);
    match model.analysis.verdicts.last() {
        Some(v) => out.push(format!(
            "verdict   #{} {}: {}",
            model.analysis.verdicts.len(),
            v.outcome.label(),
            v.reason
        )),
        None => out.push("verdict   none yet".into()),
    }
    if let Some(f) = model.fleet.value() {
        for svc in &f.services {
            out.push(format!(
                "{:<9} {} {}/{} running, {} pending, {}",
                svc.track.label(),
                svc.name,
                svc.running,
                svc.desired,
                svc.pending,
                svc.task_definition
            ));
        }
        for t in &f.targets {
            out.push(format!(
                "targets   {} {}: {} healthy, {} unhealthy, {} draining",
                t.track.label(),
                t.target_group,
                t.healthy,
                t.unhealthy,
                t.draining
            ));
        }
    }
    if let Some(r) = model.pipeline.value() {
        let mut line = format!(
            "pipeline  run #{} {} {}",
            r.number,
            r.event,
            crate::core::update::short_sha(&r.sha)
        );
        if let Some(p) = &r.pending {
            line.push_str(&format!(" · waiting for approval on {}", p.environment));
        }
        out.push(line);
    }
    if let Some(b) = &model.baseline {
        out.push(format!(
            "baseline  stable {} · release {}",
            b.stable_task_definition, b.release_task_definition
        ));
    }
    if let Some(r) = &model.running {
        out.push(format!("change    {}", r.at()));
    }
    for (name, state) in [
        ("pipeline", source_state(&model.pipeline, model.now)),
        ("fleet", source_state(&model.fleet, model.now)),
        ("traffic", source_state(&model.traffic, model.now)),
    ] {
        if let Some(e) = state["error"].as_str() {
            out.push(format!(
                "source    {name} {}: {e}",
                state["state"].as_str().unwrap_or("")
            ));
        }
    }
    // Names from outside are drawn inert here too.
    out.into_iter()
        .map(|l| crate::ui::text::inert(&l))
        .collect::<Vec<_>>()
        .join("\n")
}

fn status(model: &Model, json: bool) -> u8 {
    if json {
        let _ = say!("{}", status_json(model));
    } else {
        let _ = say!("{}", status_text(model));
    }
    if model.fleet.value().is_some() && model.traffic.value().is_some() {
        OK
    } else {
        for (what, e) in [
            ("ECS", model.fleet.error()),
            ("the load balancer", model.traffic.error()),
        ] {
            if let Some(e) = e {
                eprintln!("flightdeck: {what}: {e}");
            }
        }
        ERROR
    }
}

// ----- watch -----------------------------------------------------------------

/// The state `watch` reports when it changes.
fn watch_state(model: &Model) -> Value {
    json!({
        "phase": model.plan_state.phase.label(),
        "canary_pct": model.canary_weight(),
        "step": model.plan_state.step.map(|s| s + 1),
        "paused": model.plan_state.paused,
        "verdict": model.analysis.verdicts.last().map(|v| v.outcome.label()),
        "change": model.running.as_ref().map(|r| format!("{} step {}/{}", r.change.kind.action_name(), r.index + 1, r.change.steps.len())),
        "pending_approval": model.pipeline.value().and_then(|r| r.pending.as_ref()).map(|p| p.environment.clone()),
        "healthy": healthy(model),
    })
}

/// Every service at its desired count, no target unhealthy, and the last
/// verdict not a fail.
fn healthy(model: &Model) -> bool {
    let Some(f) = model.fleet.value() else {
        return false;
    };
    f.services
        .iter()
        .all(|s| s.running == s.desired && s.pending == 0)
        && f.targets.iter().all(|t| t.unhealthy == 0)
        && model
            .analysis
            .verdicts
            .last()
            .is_none_or(|v| v.outcome != Outcome::Fail)
}

fn rolled_back(model: &Model) -> bool {
    model.canary_weight() == Some(0)
        && model.running.is_none()
        && (model.plan_state.phase == Phase::RolledBack
            || settled(model) == Some(Phase::RolledBack))
}

fn promoted(model: &Model) -> bool {
    model.running.is_none()
        && (model.plan_state.phase == Phase::Promoted || settled(model) == Some(Phase::Promoted))
}

/// Where the release has come to rest, from AWS as it is now (also when
/// `watch` starts after the fact): no canary traffic, no canary tasks, and
/// the stable service on the baseline (rolled back) or on the release
/// (promoted), as a fresh fleet read confirms. None while it moves, or
/// without a baseline to tell.
fn settled(model: &Model) -> Option<Phase> {
    if model.canary_weight() != Some(0) || model.running.is_some() {
        return None;
    }
    let baseline = crate::core::change::applicable_baseline(model)?;
    let fleet = model.fleet.value()?;
    if fleet
        .service(crate::core::model::Track::Canary)
        .is_some_and(|c| c.desired > 0 || c.running > 0)
    {
        return None;
    }
    let stable = fleet.service(crate::core::model::Track::Stable)?;
    if stable.task_definition == baseline.stable_task_definition {
        Some(Phase::RolledBack)
    } else if stable.task_definition == baseline.release_task_definition {
        Some(Phase::Promoted)
    } else {
        None
    }
}

async fn watch(d: &mut Driver, until: Option<Until>, timeout: Option<Duration>, json: bool) -> u8 {
    let end = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut last = Value::Null;
    loop {
        let state = watch_state(&d.model);
        if state != last {
            let written = if json {
                let mut line = state.clone();
                line["schema"] = json!(SCHEMA);
                line["at"] = json!(d.model.now.to_rfc3339());
                say!("{line}")
            } else {
                say!("{}", watch_line(&d.model, &state))
            };
            if !written {
                // The reader is gone (`| head`): nobody to tell.
                return OK;
            }
            last = state;
        }
        match until {
            Some(Until::Promoted) if promoted(&d.model) => return OK,
            Some(Until::Promoted) if rolled_back(&d.model) => {
                eprintln!("flightdeck: the release was rolled back");
                return CONDITION_FAILED;
            }
            Some(Until::RolledBack) if rolled_back(&d.model) => return OK,
            Some(Until::Healthy) if healthy(&d.model) => return OK,
            _ => {}
        }
        if d.model.quit || d.model.stopping.is_some() {
            return ERROR;
        }
        let next = match end {
            Some(end) => match tokio::time::timeout_at(end, d.rx.recv()).await {
                Ok(msg) => msg,
                Err(_) => {
                    eprintln!("flightdeck: watch timed out");
                    return TIMEOUT;
                }
            },
            None => d.rx.recv().await,
        };
        match next {
            Some(msg) => d.send(msg),
            None => return ERROR,
        }
    }
}

fn watch_line(model: &Model, state: &Value) -> String {
    let mut line = format!(
        "{} {} canary {}%",
        model.now.format("%H:%M:%S"),
        state["phase"].as_str().unwrap_or(""),
        state["canary_pct"]
            .as_u64()
            .map_or("?".into(), |w| w.to_string())
    );
    if let Some(step) = state["step"].as_u64() {
        line.push_str(&format!(" step {step}/{}", model.plan.steps.len()));
    }
    if state["paused"].as_bool() == Some(true) {
        line.push_str(" PAUSED");
    }
    if let Some(v) = state["verdict"].as_str() {
        line.push_str(&format!(" · verdict {v}"));
    }
    if let Some(c) = state["change"].as_str() {
        line.push_str(&format!(" · {c}"));
    }
    if let Some(p) = state["pending_approval"].as_str() {
        line.push_str(&format!(" · waiting for approval on {p}"));
    }
    if state["healthy"].as_bool() == Some(true) {
        line.push_str(" · healthy");
    }
    crate::ui::text::inert(&line)
}

// ----- changes ---------------------------------------------------------------

fn status_text_of(model: &Model) -> Option<(Level, String)> {
    model.status.as_ref().map(|s| (s.level, s.text.clone()))
}

/// Pause or resume: the same journal-first operator action as `p`.
async fn operator_action(d: &mut Driver, word: &str, paused: bool, args: &ChangeArgs) -> u8 {
    let _ = args;
    if d.model.read_only {
        eprintln!("flightdeck: refused: read-only");
        return REFUSED;
    }
    d.send(Msg::Command(word.into()));
    if d.model.plan_state.paused == paused {
        let _ = say!("{word}: ok");
        return OK;
    }
    let done = d
        .until(Duration::from_secs(10), |m| {
            m.plan_state.paused == paused
                || m.status.as_ref().is_some_and(|s| s.level == Level::Error)
        })
        .await;
    if done && d.model.plan_state.paused == paused {
        let _ = say!("{word}: ok");
        OK
    } else {
        let why = status_text_of(&d.model)
            .map(|(_, t)| t)
            .unwrap_or("no answer".into());
        eprintln!(
            "flightdeck: {word} not done: {}",
            crate::ui::text::inert(&why)
        );
        ERROR
    }
}

/// Ask at the terminal: the preview, then the typed confirmation and a
/// reason where the dialog needs them. None: not confirmed.
fn ask(
    preview: &str,
    needs_name: Option<&str>,
    needs_reason: bool,
) -> Option<(Option<String>, Option<String>)> {
    eprintln!("{preview}");
    let stdin = std::io::stdin();
    let read = |prompt: &str| -> Option<String> {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        stdin.lock().read_line(&mut line).ok()?;
        Some(line.trim().to_string())
    };
    let name = match needs_name {
        Some(service) => {
            let typed = read(&format!("Type {service} to confirm: "))?;
            (typed == service).then_some(typed)?;
            Some(service.to_string())
        }
        None => {
            let typed = read("Proceed? [y/N] ")?;
            matches!(typed.as_str(), "y" | "Y" | "yes").then_some(())?;
            None
        }
    };
    let reason = if needs_reason {
        let r = read("Reason: ")?;
        (!r.is_empty()).then_some(r)
    } else {
        None
    };
    Some((name, reason))
}

/// A change through the same dialog as the console: opened by the command,
/// filled from the arguments (or typed), confirmed, then followed step by
/// step until it ends.
async fn change(d: &mut Driver, command: &str, args: &ChangeArgs, service_given: bool) -> u8 {
    let _ = service_given;
    d.model.status = None;
    d.send(Msg::Command(command.into()));
    let Overlay::Confirm(dialog) = &d.model.overlay else {
        let why = status_text_of(&d.model)
            .map(|(_, t)| t)
            .unwrap_or_else(|| "the command opened no confirmation".into());
        eprintln!(
            "flightdeck: refused: {}; nothing was changed",
            crate::ui::text::inert(&why)
        );
        return REFUSED;
    };
    let service = d.model.service.name.clone();
    let named = service_line(&d.model);
    let preview = {
        let mut p = vec![format!("{}: {named}", dialog.title)];
        p.extend(dialog.lines.iter().cloned());
        p.extend(dialog.change.step_lines());
        p.iter()
            .map(|l| crate::ui::text::inert(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (needs_name, needs_reason) = (dialog.needs_name, dialog.needs_reason);
    let mut reason = args.reason.clone().filter(|r| !r.trim().is_empty());
    if !args.yes {
        // Asked on a thread of its own: the pollers keep the model fresh,
        // and a signal ends the command (the thread dies with the process).
        let (answer_tx, mut answer_rx) = tokio::sync::oneshot::channel();
        let (p, name, ask_reason) = (
            preview.clone(),
            needs_name.then(|| service.clone()),
            needs_reason && reason.is_none(),
        );
        std::thread::spawn(move || {
            let _ = answer_tx.send(ask(&p, name.as_deref(), ask_reason));
        });
        let answer = loop {
            tokio::select! {
                a = &mut answer_rx => break a.ok().flatten(),
                msg = d.rx.recv() => match msg {
                    Some(Msg::Shutdown(why)) => {
                        eprintln!("flightdeck: {why}: nothing was changed");
                        return ERROR;
                    }
                    Some(m) => d.send(m),
                    None => return ERROR,
                },
            }
        };
        match answer {
            Some((_, typed)) => reason = reason.or(typed),
            None => {
                d.send(Msg::Key(crate::core::action::Key::plain(
                    crate::core::action::KeyCode::Esc,
                )));
                eprintln!("flightdeck: not confirmed; nothing was changed");
                return REFUSED;
            }
        }
        // Time passed while asking: read ECS and the ALB again before the
        // recheck at Enter.
        let asked_at = d.sources.clock.now();
        d.refresh.notify_waiters();
        if !d
            .until(FIRST_READ, |m| {
                fresh_since(&m.fleet, asked_at) && fresh_since(&m.traffic, asked_at)
            })
            .await
        {
            eprintln!(
                "flightdeck: no fresh answer from ECS or the load balancer; nothing was changed"
            );
            return ERROR;
        }
    } else {
        let _ = say!("{preview}");
    }
    if needs_reason && reason.is_none() {
        eprintln!(
            "flightdeck: refused: {} needs a reason here (--reason TEXT); nothing was changed",
            command.split_whitespace().next().unwrap_or(command)
        );
        return REFUSED;
    }
    // Fill the dialog as an operator would, then Enter: the core rechecks
    // the plan against the world as it is now.
    use crate::core::action::{Key, KeyCode};
    if needs_name {
        d.send(Msg::Paste(service.clone()));
    }
    if let Some(reason) = &reason {
        if needs_reason {
            if needs_name
                && let Overlay::Confirm(c) = &d.model.overlay
                && c.field == ConfirmField::Name
            {
                d.send(Msg::Key(Key::plain(KeyCode::Tab)));
            }
            d.send(Msg::Paste(reason.clone()));
        } else if let Overlay::Confirm(c) = &mut d.model.overlay {
            // Not asked for, still worth keeping: the journal records it.
            c.reason = tui_input::Input::new(reason.clone());
        }
    }
    d.send(Msg::Key(Key::plain(KeyCode::Enter)));
    if let Overlay::Confirm(c) = &d.model.overlay {
        let why = c
            .error
            .clone()
            .unwrap_or_else(|| "the dialog did not accept".into());
        eprintln!(
            "flightdeck: refused: {}; nothing was changed",
            crate::ui::text::inert(&why)
        );
        return REFUSED;
    }
    let Some(id) = d.model.running.as_ref().map(|r| r.change.id) else {
        let why = status_text_of(&d.model).map(|(_, t)| t).unwrap_or_default();
        eprintln!(
            "flightdeck: refused: {}; nothing was changed",
            crate::ui::text::inert(&why)
        );
        return REFUSED;
    };
    // Follow it: each step as it starts, then one result line.
    let mut shown = None;
    loop {
        if let Some(r) = &d.model.running
            && shown != Some(r.index)
        {
            shown = Some(r.index);
            if let Some(step) = r.change.steps.get(r.index) {
                let _ = say!(
                    "step {}/{}: {}",
                    r.index + 1,
                    r.change.steps.len(),
                    crate::ui::text::inert(&step.describe())
                );
            }
        }
        if d.model.running.as_ref().is_none_or(|r| r.change.id != id) {
            break;
        }
        match d.rx.recv().await {
            Some(msg) => d.send(msg),
            None => return ERROR,
        }
    }
    let Some(last) = d.model.last_change.as_ref().filter(|l| l.change.id == id) else {
        eprintln!("flightdeck: the change ended without a result; check the journal");
        return ERROR;
    };
    let result = crate::ui::text::inert(&last.result);
    let line = format!(
        "{named}: {} {}: {}",
        last.change.kind.action_name(),
        last.change.to,
        result
    );
    if last.failure.is_none() {
        let _ = say!("{line}");
        OK
    } else {
        eprintln!("flightdeck: {line}");
        exit_code_of(last.failure)
    }
}

/// The exit code of a change that did not end well, from the kind of its
/// failure (never from the words of its result).
fn exit_code_of(failure: Option<crate::core::model::ErrorKind>) -> u8 {
    use crate::core::model::ErrorKind;
    match failure {
        None => OK,
        Some(ErrorKind::Timeout) => TIMEOUT,
        Some(ErrorKind::Conflict | ErrorKind::Held | ErrorKind::Preempted) => REFUSED,
        Some(_) => ERROR,
    }
}

/// The service as the operator must read it in every preview and result:
/// its name, environment, and where it lives.
fn service_line(model: &Model) -> String {
    let s = &model.service;
    crate::ui::text::inert(&format!(
        "{} ({}) · {}/{} in {} {}",
        s.name, s.environment, s.cluster, s.stable_service, s.account, s.region
    ))
}
