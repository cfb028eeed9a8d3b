//! The tokio side: one task owns the model and runs the loop — take a
//! message, drain the rest, `update`, hand effects to the runner, and
//! render only when the model changed (at most ~30 frames/s). Terminal
//! input, the 1 Hz tick, the pollers, the runner and the screen writer all
//! send into one channel; there is no shared app state.
//!
//! Nothing here waits on the terminal: a frame is rendered into memory and
//! handed to the screen writer's thread (`screen`), which writes the latest
//! one; journal appends run on the blocking pool (`runner`). A terminal
//! that stops reading delays the picture, never a poll, a verdict or a
//! rollback.

mod grid;
mod input;
pub mod pollers;
pub mod runner;
pub mod screen;
pub mod terminal;

use std::time::Duration;

use color_eyre::eyre::{Result, WrapErr};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::config::theme::Themes;
use crate::core::effect::Effect;
use crate::core::model::Model;
use crate::core::msg::Msg;
use crate::core::update::{Ctx, update};
use crate::journal::Journal;
use crate::sources::Sources;

/// The shortest time between two frames (~30 frames/s).
const FRAME: Duration = Duration::from_millis(33);
/// The shortest time between two frames when nothing the operator did or
/// a change under way asks for one: polls, log lines and the clock share
/// one frame a second (the idle cost halves, nothing waits longer than the
/// clock's own second).
const IDLE_FRAME: Duration = Duration::from_secs(1);
/// How much longer than one call's timeout quitting waits for the call
/// under way to answer and the end of the change to be journaled.
const DRAIN_MARGIN: Duration = Duration::from_secs(15);

pub struct Session {
    pub model: Model,
    pub sources: Sources,
    pub themes: Themes,
    pub journal: Journal,
    pub operator: String,
    pub intervals: pollers::Intervals,
    /// Where to tell the team (None: nobody).
    pub notify: Option<crate::notify::Settings>,
    /// The fleet overview's rows (a config with more than one service).
    pub releases: Option<std::sync::Arc<dyn crate::sources::Releases>>,
}

/// How a console session ended when it asks for another: the service to
/// open, and whether to open its rollback dialog (`R` on the overview).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub service: String,
    pub rollback: bool,
}

/// How often the fleet overview is read.
pub const RELEASES_EVERY: Duration = Duration::from_secs(10);

/// Run the console until the operator quits or a signal arrives; returns
/// the exit code (non-zero when a change was cut short). The terminal is
/// restored on every way out, panics included.
pub async fn run(session: Session) -> Result<(u8, Option<Switch>)> {
    let Session {
        mut model,
        sources,
        themes,
        journal,
        operator,
        intervals,
        notify,
        releases,
    } = session;
    // Before the terminal is taken: nothing after it may return early
    // without restoring it.
    let term = terminal::enter().wrap_err("cannot set up the terminal")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut screen = match screen::Screen::start(term, tx.clone()) {
        Ok(screen) => screen,
        Err(e) => {
            let _ = terminal::leave();
            return Err(e).wrap_err("cannot start the screen writer");
        }
    };
    let refresh = std::sync::Arc::new(Notify::new());

    // The session's tasks: stopped when it ends (`:service` starts another
    // session in the same process, which must own the input alone).
    let mut tasks = pollers::spawn_all(&sources, tx.clone(), refresh.clone(), intervals);
    let releases_calls = releases.as_ref().map(|r| r.calls());
    if let Some(releases) = releases {
        tasks.push(pollers::spawn_releases(
            releases,
            tx.clone(),
            refresh.clone(),
            RELEASES_EVERY,
            intervals.call_timeout * 4,
        ));
    }
    tasks.push(input::spawn(tx.clone()));
    // The help's API-call rate counts the fleet overview's reads too.
    let calls = match (&sources.calls, &releases_calls) {
        (Some(ours), Some(fleet)) => Some(vec![ours.clone(), fleet.clone()]),
        (Some(one), None) | (None, Some(one)) => Some(vec![one.clone()]),
        (None, None) => None,
    };
    tasks.push(spawn_tick_summing(tx.clone(), calls));
    let (journal, notifier) = match notify {
        Some(settings) => {
            let (sender, handle) = crate::notify::spawn(settings, tx.clone());
            (journal.with_notify(sender), Some(handle))
        }
        None => (journal, None),
    };
    let (journal, team_sync) =
        crate::sources::team::attach(&sources, journal, "console", tx.clone());
    let (effects, runner) =
        runner::spawn_with_timeout(sources.clone(), journal, tx.clone(), intervals.call_timeout);
    if let Ok((w, h)) = crossterm::terminal::size() {
        let _ = tx.send(Msg::Resize(w, h));
    }

    let mut signals = terminal::Signals::new()?;
    let mut last_draw = Instant::now() - IDLE_FRAME;
    let mut urgent = true;
    // Once the terminal is gone (or a signal came), the loop only runs the
    // change under way to its step boundary, bounded by `drain`.
    let drain = intervals.call_timeout + DRAIN_MARGIN;
    let mut screen_ok = true;
    // Ctrl-Z (a key in raw mode) or SIGTSTP: suspend after this turn.
    let mut suspend = false;
    let mut deadline: Option<Instant> = None;
    let mut stall_noted = false;
    // The team's driver's seat, once this console took it over.
    let mut seat: Option<crate::sources::team::Seat> = None;
    let result: Result<()> = loop {
        let wait_draw = model.dirty && screen_ok;
        let next_draw = draw_due(last_draw, urgent);
        let stop_at = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break Ok(()) };
                let ctx = Ctx { now: sources.clock.now(), operator: operator.clone() };
                let mut batch = vec![msg];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                for msg in batch {
                    // What the operator did, or a change moving: drawn now.
                    urgent |= matches!(
                        msg,
                        Msg::Key(_)
                            | Msg::Paste(_)
                            | Msg::Resize(..)
                            | Msg::Command(_)
                            | Msg::StepDone { .. }
                            | Msg::Begun { .. }
                            | Msg::LeaseLost { .. }
                            | Msg::OperatorDone(_)
                            | Msg::JournalFailed(_)
                            | Msg::Shutdown(_)
                    );
                    if matches!(msg, Msg::Suspend) {
                        suspend = true;
                        continue;
                    }
                    if let Msg::Shutdown(why) = &msg
                        && why.contains("terminal")
                    {
                        screen_ok = false;
                    }
                    for effect in update(&mut model, msg, &ctx) {
                        match effect {
                            Effect::Refresh => refresh.notify_waiters(),
                            Effect::SelectRun(id) => {
                                sources.pipeline.select_run(id);
                                refresh.notify_waiters();
                            }
                            Effect::FollowLogs(tasks) => sources.logs.follow(&tasks),
                            Effect::Quit => {}
                            Effect::TakeOverDriving => {
                                if let (Some(team), None) = (&sources.team, &seat) {
                                    let me = team.seat_holder(&operator, "console");
                                    seat = Some(crate::sources::team::Seat::sit(
                                        team,
                                        me,
                                        true,
                                        tx.clone(),
                                    ));
                                }
                            }
                            other => {
                                let _ = effects.send(other);
                            }
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(next_draw), if wait_draw => {}
            _ = tokio::time::sleep_until(stop_at), if deadline.is_some() => {
                break Ok(());
            }
            // SIGTERM, SIGHUP or SIGINT: the core stops any change at its
            // next step boundary, journals it, and quits.
            event = signals.recv() => match event {
                terminal::SignalEvent::End(name) => {
                    if name == "SIGHUP" {
                        // The terminal is most likely gone with the session.
                        screen_ok = false;
                    }
                    deadline.get_or_insert(Instant::now() + drain);
                    let _ = tx.send(Msg::Shutdown(name.to_string()));
                }
                terminal::SignalEvent::Suspend => suspend = true,
            }
        }
        if suspend && screen_ok {
            suspend = false;
            // The writer leaves the terminal, stops the process, and draws
            // the last frame again when it continues.
            screen.suspend();
            model.dirty = true;
        }
        if model.quit {
            break Ok(());
        }
        if model.stopping.is_some() {
            deadline.get_or_insert(Instant::now() + drain);
        }
        // A confirmed rollback is carried out to its end whatever arrives
        // (SIGHUP, a closed terminal): each of its calls has its timeout,
        // so the wait stays bounded while it moves.
        if deadline.is_some()
            && (model.pending_rollback.is_some()
                || model
                    .running
                    .as_ref()
                    .is_some_and(|r| r.change.kind == crate::core::change::ChangeKind::Rollback))
        {
            deadline = Some(Instant::now() + drain);
        }
        // A terminal that stops reading: journaled while it lasts (it may
        // never come back), once.
        match screen.blocked_for() {
            Some(took) if took >= screen::STALL && !stall_noted => {
                stall_noted = true;
                let _ = tx.send(Msg::ScreenStalled { took, over: false });
            }
            None => stall_noted = false,
            _ => {}
        }
        if screen_ok && model.dirty && Instant::now() >= draw_due(last_draw, urgent) {
            // Into memory and handed over: a closed terminal comes back as
            // `Msg::Shutdown` from the writer, a stalled one as nothing.
            screen.draw(&model, themes.get(&model.theme));
            model.dirty = false;
            urgent = false;
            last_draw = Instant::now();
        }
    };
    for task in &tasks {
        task.abort();
    }
    // Restores the terminal, waiting a little for one that stalled.
    screen.leave(!screen_ok);
    // Let the runner write what is queued (the end of a change).
    drop(effects);
    if tokio::time::timeout(drain, runner).await.is_err() {
        eprintln!(
            "flightdeck: a call was still running after {}s; check the journal",
            drain.as_secs()
        );
        return result.map(|()| (1, None));
    }
    crate::notify::drain(notifier).await;
    if let Some(seat) = seat {
        seat.leave().await;
    }
    crate::sources::team::drain(team_sync).await;
    if let Some(running) = &model.running {
        eprintln!(
            "flightdeck: {} was cut short; check the journal",
            running.at()
        );
        return result.map(|()| (1, None));
    }
    if let Some(last) = &model.last_change
        && model.exit_code != 0
    {
        eprintln!(
            "flightdeck: {} {}",
            last.change.kind.action_name(),
            last.result
        );
    }
    let switch = model.switch_to.take().map(|service| Switch {
        service,
        rollback: model.switch_rollback,
    });
    result.map(|()| (model.exit_code, switch))
}

/// When the next frame may be drawn: soon after an urgent change; else on
/// the wake-up grid, with the polls and the tick that made the model dirty
/// (0.9–1.9 s after the last frame).
fn draw_due(last_draw: Instant, urgent: bool) -> Instant {
    if urgent {
        last_draw + FRAME
    } else {
        grid::align(last_draw + IDLE_FRAME - FRAME * 3, IDLE_FRAME)
    }
}

pub(crate) fn spawn_tick(
    tx: mpsc::UnboundedSender<Msg>,
    calls: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
) -> tokio::task::JoinHandle<()> {
    spawn_tick_summing(tx, calls.map(|c| vec![c]))
}

/// The 1 Hz tick, and the sum of these call counters with it.
fn spawn_tick_summing(
    tx: mpsc::UnboundedSender<Msg>,
    calls: Option<Vec<std::sync::Arc<std::sync::atomic::AtomicU64>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval =
            tokio::time::interval_at(grid::align(Instant::now(), grid::STEP), grid::STEP);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if tx.send(Msg::Tick).is_err() {
                break;
            }
            if let Some(calls) = &calls {
                let total = calls
                    .iter()
                    .map(|c| c.load(std::sync::atomic::Ordering::Relaxed))
                    .sum();
                let _ = tx.send(Msg::ApiCalls(total));
            }
        }
    })
}
