//! The screen, apart from the release: the loop renders a frame into
//! memory and hands it over; a thread of its own owns the terminal and
//! writes the latest frame it was given. A terminal that stops reading (an
//! SSH link that stalls without closing) blocks that thread only: the
//! loop, the pollers, the runner and the journal go on, frames drawn in
//! the meantime replace each other in the handoff, and when the terminal
//! catches up it gets the current screen, not a backlog.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossterm::queue;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use ratatui::Terminal;
use ratatui::backend::{Backend, ClearType, WindowSize};
use ratatui::buffer::{Buffer, Cell};
use ratatui::layout::{Position, Rect, Size};
use tokio::sync::mpsc::UnboundedSender;

use super::terminal::{self, Term};
use crate::config::theme::Theme;
use crate::core::model::Model;
use crate::core::msg::Msg;

/// A write that took this long is a stall worth recording.
pub const STALL: Duration = Duration::from_secs(5);
/// How long leaving waits for the terminal to take its last writes.
const LEAVE_PATIENCE: Duration = Duration::from_secs(2);

/// One rendered screen: the cells and where the cursor is (None: hidden).
pub struct Frame {
    pub buffer: Buffer,
    pub cursor: Option<Position>,
}

/// What the writer thread is asked to do next.
#[derive(Default)]
struct Pending {
    /// The latest frame not yet written; a newer one replaces it.
    frame: Option<Frame>,
    suspend: bool,
    stop: bool,
    /// The loop knows the terminal is gone (SIGHUP, a failed write).
    gone: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
    /// A blank buffer the writer gave back (the terminal's, reset), for
    /// the loop's next frame: no allocation (a fresh 300 kB buffer a frame
    /// costs page faults) and no fill.
    spare: Mutex<Option<Buffer>>,
    /// Milliseconds since `epoch` at which the write under way began; 0
    /// when none is under way.
    busy_since: AtomicU64,
    epoch: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic on the writer thread ends the process (the panic hook):
        // a poisoned lock holds nothing worth refusing.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The loop's side: render into memory, hand over, never wait.
pub struct Screen {
    shared: Arc<Shared>,
    offscreen: Terminal<Offscreen>,
    writer: Option<JoinHandle<()>>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Screen {
    /// Take over the terminal (already set up by `terminal::enter`): the
    /// writer thread owns it from here. It tells the loop through `tx`
    /// when the terminal is gone and when a write stalled.
    pub fn start(term: Term, tx: UnboundedSender<Msg>) -> std::io::Result<Screen> {
        let size = term.size().unwrap_or(Size::new(80, 24));
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            spare: Mutex::new(None),
            busy_since: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let Ok(offscreen) = Terminal::new(Offscreen::new(size));
        let (done_tx, done) = std::sync::mpsc::channel();
        let for_thread = shared.clone();
        let writer = std::thread::Builder::new()
            .name("flightdeck-screen".into())
            .spawn(move || {
                write_frames(term, &for_thread, &tx);
                let _ = done_tx.send(());
            })?;
        Ok(Screen {
            shared,
            offscreen,
            writer: Some(writer),
            done,
        })
    }

    /// Render the model into memory and hand the frame to the writer,
    /// replacing one it has not written yet. Never blocks on the terminal.
    /// No diff here (the writer diffs against what the terminal shows):
    /// the rendered buffer itself is handed over and a blank one takes its
    /// place.
    pub fn draw(&mut self, model: &Model, theme: &Theme) {
        let spare = self.shared.spare.lock().ok().and_then(|mut s| s.take());
        let frame = render(&mut self.offscreen, model, theme, spare);
        self.shared.lock().frame = Some(frame);
        self.shared.wake.notify_one();
    }

    /// Suspend (job control) once the write under way is done; on `fg` the
    /// writer asks the loop for a frame (`Msg::Resize`) and paints it whole.
    pub fn suspend(&self) {
        self.shared.lock().suspend = true;
        self.shared.wake.notify_one();
    }

    /// How long the write under way has been blocked (None: not writing).
    pub fn blocked_for(&self) -> Option<Duration> {
        let since = self.shared.busy_since.load(Ordering::Relaxed);
        (since > 0).then(|| {
            let now = self.shared.epoch.elapsed().as_millis();
            Duration::from_millis(u64::try_from(now).unwrap_or(u64::MAX).saturating_sub(since))
        })
    }

    /// Restore the terminal and end the writer, waiting a little for a
    /// stalled terminal; a terminal that takes nothing is left as it is
    /// (the thread ends with the process).
    pub fn leave(mut self, gone: bool) {
        {
            let mut pending = self.shared.lock();
            pending.stop = true;
            pending.gone = gone;
        }
        self.shared.wake.notify_one();
        if self.done.recv_timeout(LEAVE_PATIENCE).is_ok()
            && let Some(writer) = self.writer.take()
        {
            let _ = writer.join();
        }
    }
}

/// Render the model into memory at the model's screen size (`offscreen`'s
/// until the first resize): the rendered buffer is taken out and a blank
/// one takes its place — `spare` when it has the size, else a new one — no
/// diff, no copy.
pub fn render(
    offscreen: &mut Terminal<Offscreen>,
    model: &Model,
    theme: &Theme,
    spare: Option<Buffer>,
) -> Frame {
    let size = model
        .screen
        .map_or(offscreen.backend().size, |(w, h)| Size::new(w, h));
    let area = Rect::new(0, 0, size.width, size.height);
    if size != offscreen.backend().size {
        offscreen.backend_mut().size = size;
        // Rendering into memory cannot fail.
        let Ok(()) = offscreen.resize(area);
    }
    let mut frame = offscreen.get_frame();
    let cursor = crate::ui::render(&mut frame, model, theme);
    let blank = spare
        .filter(|b| b.area == area)
        .unwrap_or_else(|| Buffer::empty(area));
    let buffer = std::mem::replace(offscreen.current_buffer_mut(), blank);
    Frame { buffer, cursor }
}

/// The writer thread: wait for work, write the latest frame, say when a
/// write stalled or the terminal is gone.
fn write_frames(mut term: Term, shared: &Shared, tx: &UnboundedSender<Msg>) {
    let mut alive = true;
    loop {
        let (frame, suspend, stop, gone) = {
            let mut pending = shared.lock();
            while pending.frame.is_none() && !pending.suspend && !pending.stop {
                pending = shared
                    .wake
                    .wait(pending)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            (
                pending.frame.take(),
                std::mem::take(&mut pending.suspend),
                pending.stop,
                pending.gone,
            )
        };
        if stop {
            let _ = terminal::leave();
            if gone || !alive {
                // Dropping a terminal that is gone would try to show the
                // cursor on it and print an error about that.
                std::mem::forget(term);
            }
            return;
        }
        if !alive {
            continue;
        }
        if suspend {
            if terminal::suspend(&mut term).is_err() {
                alive = false;
                let _ = tx.send(Msg::Shutdown("terminal closed".into()));
                continue;
            }
            // Back from `fg`: a fresh frame, painted whole (the terminal
            // forgot the last one).
            if let Ok((w, h)) = crossterm::terminal::size() {
                let _ = tx.send(Msg::Resize(w, h));
            }
        }
        let Some(frame) = frame else {
            continue;
        };
        let started = shared.epoch.elapsed();
        shared.busy_since.store(
            u64::try_from(started.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            Ordering::Relaxed,
        );
        let written = write(&mut term, frame);
        shared.busy_since.store(0, Ordering::Relaxed);
        let took = shared.epoch.elapsed().saturating_sub(started);
        match written {
            Ok(blank) => {
                if let Ok(mut spare) = shared.spare.lock() {
                    *spare = blank;
                }
            }
            Err(_) => {
                // A closed terminal: the loop stops any change at its step
                // boundary and leaves quietly.
                alive = false;
                let _ = tx.send(Msg::Shutdown("terminal closed".into()));
                continue;
            }
        }
        if took >= STALL {
            let _ = tx.send(Msg::ScreenStalled { took, over: true });
        }
    }
}

/// One frame inside a synchronized update. A frame rendered for another
/// size than the terminal has now is skipped: the resize is on its way to
/// the loop, which renders again.
/// Returns the blank buffer the frame replaced, for the loop to reuse.
fn write(term: &mut Term, frame: Frame) -> std::io::Result<Option<Buffer>> {
    queue!(term.backend_mut(), BeginSynchronizedUpdate)?;
    let mut blank = None;
    term.draw(|f| {
        if f.area() == frame.buffer.area {
            // Moved in, not copied: the terminal diffs it against the last.
            // What it replaces is blank (reset when the buffers swapped).
            blank = Some(std::mem::replace(f.buffer_mut(), frame.buffer));
            if let Some(at) = frame.cursor {
                f.set_cursor_position(at);
            }
        }
    })?;
    queue!(term.backend_mut(), EndSynchronizedUpdate)?;
    std::io::Write::flush(term.backend_mut())?;
    Ok(blank)
}

/// A backend that only remembers: the loop renders through it into
/// memory (ratatui's diffing is skipped, the writer diffs against what
/// the terminal shows).
pub struct Offscreen {
    size: Size,
    cursor: Option<Position>,
    at: Position,
}

impl Offscreen {
    pub fn new(size: Size) -> Offscreen {
        Offscreen {
            size,
            cursor: None,
            at: Position::ORIGIN,
        }
    }
}

impl Backend for Offscreen {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, _content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        Ok(())
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.cursor = None;
        Ok(())
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.cursor = Some(self.at);
        Ok(())
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        Ok(self.at)
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.at = position.into();
        if self.cursor.is_some() {
            self.cursor = Some(self.at);
        }
        Ok(())
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn clear_region(&mut self, _clear_type: ClearType) -> Result<(), Self::Error> {
        Ok(())
    }

    fn size(&self) -> Result<Size, Self::Error> {
        Ok(self.size)
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        Ok(WindowSize {
            columns_rows: self.size,
            pixels: Size::default(),
        })
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offscreen_backend_keeps_the_size_and_the_cursor() {
        let Ok(mut term) = Terminal::new(Offscreen::new(Size::new(30, 4)));
        let Ok(completed) = term.draw(|f| {
            f.render_widget(ratatui::widgets::Paragraph::new("hello"), f.area());
            f.set_cursor_position((3, 1));
        });
        assert_eq!(completed.buffer.area, Rect::new(0, 0, 30, 4));
        assert_eq!(completed.buffer[(0, 0)].symbol(), "h");
        assert_eq!(term.backend().cursor, Some(Position::new(3, 1)));
        let Ok(_) = term.draw(|f| f.render_widget(ratatui::widgets::Paragraph::new("x"), f.area()));
        assert_eq!(term.backend().cursor, None, "no cursor asked: hidden");
        term.backend_mut().size = Size::new(10, 2);
        let Ok(completed) = term.draw(|_| {});
        assert_eq!(completed.buffer.area, Rect::new(0, 0, 10, 2));
    }
}
