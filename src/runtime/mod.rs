//! The tokio side: one task owns the model and runs the loop — take a
//! message, drain the rest, `update`, hand effects to the runner, and draw
//! only when the model changed (at most ~30 frames/s, each frame inside a
//! synchronized update). Terminal input, the 1 Hz tick, the pollers and the
//! runner all send into one channel; there is no shared app state.

mod input;
mod pollers;
pub mod runner;
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
pub use runner::Targets;

/// The shortest time between two frames (~30 frames/s).
const FRAME: Duration = Duration::from_millis(33);
/// How long quitting waits for a change under way.
const DRAIN: Duration = Duration::from_secs(30);

pub struct Session {
    pub model: Model,
    pub sources: Sources,
    pub themes: Themes,
    pub journal: Journal,
    pub operator: String,
    pub targets: Targets,
}

/// Run the console until the operator quits or a signal arrives. The
/// terminal is restored on every way out, panics included.
pub async fn run(session: Session) -> Result<()> {
    let Session {
        mut model,
        sources,
        themes,
        journal,
        operator,
        targets,
    } = session;
    let mut term = terminal::enter().wrap_err("cannot set up the terminal")?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let refresh = std::sync::Arc::new(Notify::new());

    input::spawn(tx.clone());
    spawn_tick(tx.clone());
    pollers::spawn_all(&sources, tx.clone(), refresh.clone());
    let (effects, runner) = runner::spawn(
        sources.clone(),
        journal,
        operator.clone(),
        targets,
        tx.clone(),
    );

    let mut signals = terminal::Signals::new()?;
    let mut last_draw = Instant::now() - FRAME;
    let result: Result<()> = loop {
        let wait_draw = model.dirty;
        let next_draw = last_draw + FRAME;
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break Ok(()) };
                let ctx = Ctx { now: sources.clock.now(), operator: operator.clone() };
                let mut batch = vec![msg];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                for msg in batch {
                    for effect in update(&mut model, msg, &ctx) {
                        match effect {
                            Effect::Refresh => refresh.notify_waiters(),
                            Effect::Quit => {}
                            other => {
                                let _ = effects.send(other);
                            }
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(next_draw), if wait_draw => {}
            // SIGTERM, SIGHUP or SIGINT: leave cleanly. The journal already
            // holds every change, so there is nothing else to save.
            _ = signals.recv() => break Ok(()),
        }
        if model.quit {
            break Ok(());
        }
        if model.dirty && Instant::now() >= last_draw + FRAME {
            let theme = themes.get(&model.theme);
            if let Err(e) = terminal::draw(&mut term, &model, theme) {
                break Err(e).wrap_err("drawing the screen failed");
            }
            model.dirty = false;
            last_draw = Instant::now();
        }
    };
    terminal::leave()?;
    // Let a change that is under way finish and be journaled.
    drop(effects);
    if tokio::time::timeout(DRAIN, runner).await.is_err() {
        eprintln!(
            "flightdeck: a change was still running after {}s; check the journal",
            DRAIN.as_secs()
        );
    }
    result
}

fn spawn_tick(tx: mpsc::UnboundedSender<Msg>) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            interval.tick().await;
            if tx.send(Msg::Tick).is_err() {
                break;
            }
        }
    });
}
