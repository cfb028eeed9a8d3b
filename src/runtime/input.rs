//! Terminal input: crossterm events turned into the core's messages.

use crossterm::event::{Event, EventStream, KeyEventKind, KeyModifiers};
use std::io::IsTerminal;

use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use crate::core::action::{Key, KeyCode};
use crate::core::msg::Msg;

pub fn spawn(tx: UnboundedSender<Msg>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        let mut errors = 0u32;
        loop {
            match events.next().await {
                Some(Ok(event)) => {
                    errors = 0;
                    let Some(msg) = to_msg(event) else { continue };
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
                // A read interrupted by a signal (a stop and continue, for
                // one) is not a lost terminal: read again while the
                // terminal is still there.
                Some(Err(e)) if errors < 50 && std::io::stdin().is_terminal() => {
                    errors += 1;
                    if e.kind() != std::io::ErrorKind::Interrupted {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    events = EventStream::new();
                }
                Some(Err(_)) | None => break,
            }
        }
        // The input ended or failed: the terminal is gone (SSH drop, tmux
        // kill-pane). Stop at the next step boundary and leave.
        let _ = tx.send(Msg::Shutdown("terminal closed".into()));
    })
}

fn to_msg(event: Event) -> Option<Msg> {
    match event {
        // Ctrl-Z reaches us as a key in raw mode: suspend, as a shell would.
        Event::Key(key)
            if key.kind != KeyEventKind::Release
                && key.code == crossterm::event::KeyCode::Char('z')
                && key.modifiers.contains(KeyModifiers::CONTROL) =>
        {
            Some(Msg::Suspend)
        }
        Event::Key(key) if key.kind != KeyEventKind::Release => {
            use crossterm::event::KeyCode as C;
            let code = match key.code {
                C::Char(c) => KeyCode::Char(c),
                C::Enter => KeyCode::Enter,
                C::Esc => KeyCode::Esc,
                C::Tab => KeyCode::Tab,
                C::BackTab => KeyCode::BackTab,
                C::Backspace => KeyCode::Backspace,
                C::Delete => KeyCode::Delete,
                C::Left => KeyCode::Left,
                C::Right => KeyCode::Right,
                C::Up => KeyCode::Up,
                C::Down => KeyCode::Down,
                C::Home => KeyCode::Home,
                C::End => KeyCode::End,
                C::PageUp => KeyCode::PageUp,
                C::PageDown => KeyCode::PageDown,
                _ => return None,
            };
            Some(Msg::Key(Key {
                code,
                ctrl: key.modifiers.contains(KeyModifiers::CONTROL),
                alt: key.modifiers.contains(KeyModifiers::ALT),
            }))
        }
        Event::Resize(w, h) => Some(Msg::Resize(w, h)),
        Event::Paste(text) => Some(Msg::Paste(text)),
        _ => None,
    }
}
