//! The terminal: raw mode and the alternate screen on the way in, restored on
//! every way out (normal exit, error, panic, SIGTERM, SIGHUP); each frame
//! drawn inside a synchronized update so slow links never show half a frame.

use std::io::{Stdout, Write, stdout};

use color_eyre::eyre::Result;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use crossterm::{execute, queue};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::config::theme::Theme;
use crate::core::model::Model;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Raw mode, alternate screen, bracketed paste, and a panic hook that
/// restores the terminal before the report is printed.
pub fn enter() -> Result<Term> {
    // ratatui's init installs the restoring panic hook in front of
    // color-eyre's (installed first, in main).
    let term = ratatui::try_init()?;
    execute!(stdout(), EnableBracketedPaste)?;
    // A panic in any task ends the console: the terminal is restored (by
    // the hooks above) and the process exits, instead of running on in a
    // terminal that is no longer in raw mode.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = execute!(stdout(), DisableBracketedPaste);
        hook(info);
        std::process::exit(101);
    }));
    Ok(term)
}

/// Undo `enter`. Safe to call twice.
pub fn leave() -> Result<()> {
    let _ = execute!(stdout(), DisableBracketedPaste);
    ratatui::try_restore()?;
    Ok(())
}

/// Draw one frame inside a synchronized update.
pub fn draw(term: &mut Term, model: &Model, theme: &Theme) -> Result<()> {
    queue!(term.backend_mut(), BeginSynchronizedUpdate)?;
    term.draw(|frame| crate::ui::draw(frame, model, theme))?;
    queue!(term.backend_mut(), EndSynchronizedUpdate)?;
    term.backend_mut().flush()?;
    Ok(())
}

/// The signals that end a session.
pub struct Signals {
    term: Signal,
    hup: Signal,
    int: Signal,
}

impl Signals {
    pub fn new() -> Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Wait for one; says which.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
