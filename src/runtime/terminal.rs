//! The terminal: raw mode and the alternate screen on the way in, restored on
//! every way out (normal exit, error, panic, SIGTERM, SIGHUP). Frames are
//! written by the screen writer (`screen.rs`).

use std::io::{Stdout, stdout};

use color_eyre::eyre::Result;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::signal::unix::{Signal, SignalKind, signal};

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
        let _ = execute!(stdout(), DisableBracketedPaste, crossterm::cursor::Show);
        hook(info);
        std::process::exit(101);
    }));
    Ok(term)
}

/// Undo `enter`. Safe to call twice.
pub fn leave() -> Result<()> {
    let _ = execute!(stdout(), DisableBracketedPaste, crossterm::cursor::Show);
    ratatui::try_restore()?;
    Ok(())
}

/// Leave the terminal as the shell wants it, stop the process (job
/// control: Ctrl-Z or SIGTSTP), and when it continues (`fg`, SIGCONT) take
/// the terminal back and draw everything again, as vim and htop do.
pub fn suspend(term: &mut Term) -> Result<()> {
    leave()?;
    // SIGSTOP cannot be caught: the process stops here until SIGCONT.
    // SAFETY: raise only sends a signal to this process.
    unsafe {
        libc::raise(libc::SIGSTOP);
    }
    crossterm::terminal::enable_raw_mode()?;
    execute!(
        stdout(),
        crossterm::terminal::EnterAlternateScreen,
        EnableBracketedPaste,
        crossterm::cursor::Hide,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
    )?;
    // Forget the last frame so the next draw paints everything. (Not
    // `Terminal::clear`: it asks the terminal for the cursor position, and
    // the input task is reading the answer.)
    term.swap_buffers();
    term.swap_buffers();
    Ok(())
}

/// What a signal asks for.
pub enum SignalEvent {
    /// SIGTERM, SIGHUP, SIGINT, SIGQUIT: stop at a step boundary and leave.
    End(&'static str),
    /// SIGTSTP: job control.
    Suspend,
}

/// The signals that end or suspend a session.
pub struct Signals {
    term: Signal,
    hup: Signal,
    int: Signal,
    quit: Signal,
    tstp: Signal,
}

impl Signals {
    pub fn new() -> Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            tstp: signal(SignalKind::from_raw(libc::SIGTSTP))?,
        })
    }

    /// Wait for one; says which.
    pub async fn recv(&mut self) -> SignalEvent {
        tokio::select! {
            _ = self.term.recv() => SignalEvent::End("SIGTERM"),
            _ = self.hup.recv() => SignalEvent::End("SIGHUP"),
            _ = self.int.recv() => SignalEvent::End("SIGINT"),
            _ = self.quit.recv() => SignalEvent::End("SIGQUIT"),
            _ = self.tstp.recv() => SignalEvent::Suspend,
        }
    }
}
