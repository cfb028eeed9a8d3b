//! Actions (what a key means) and the keymap that binds keys to them. The
//! help overlay is generated from the keymap, so it never disagrees with it.

use std::collections::BTreeMap;
use std::fmt;

/// A key as the core sees it, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Left,
    Right,
    Up,
    Down,
    Home,
    End,
    PageUp,
    PageDown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
        }
    }

    pub const fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
            alt: false,
        }
    }

    /// Parse a key as written in the config: `R`, `?`, `ctrl-c`, `tab`,
    /// `shift-tab`, `enter`, `esc`, `up`, `down`, `pgup`, `space`.
    pub fn parse(text: &str) -> Option<Key> {
        let lower = text.to_ascii_lowercase();
        let (ctrl, alt, rest) = if let Some(rest) = lower.strip_prefix("ctrl-") {
            (true, false, &text[text.len() - rest.len()..])
        } else if let Some(rest) = lower.strip_prefix("alt-") {
            (false, true, &text[text.len() - rest.len()..])
        } else {
            (false, false, text)
        };
        let code = match rest.to_ascii_lowercase().as_str() {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "shift-tab" | "backtab" => KeyCode::BackTab,
            "backspace" => KeyCode::Backspace,
            "delete" | "del" => KeyCode::Delete,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "pgup" | "pageup" => KeyCode::PageUp,
            "pgdn" | "pagedown" => KeyCode::PageDown,
            "space" => KeyCode::Char(' '),
            _ => {
                let mut chars = rest.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                // Ctrl keys arrive lower-case from the terminal.
                KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c })
            }
        };
        Some(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("Ctrl-")?;
        }
        if self.alt {
            f.write_str("Alt-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("Shift-Tab"),
            KeyCode::Backspace => f.write_str("Backspace"),
            KeyCode::Delete => f.write_str("Delete"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
        }
    }
}

/// What a key means. The names are the config's `[keys]` table keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Help,
    Quit,
    FocusNext,
    FocusPrev,
    Up,
    Down,
    Top,
    Bottom,
    Advance,
    SetWeight,
    Promote,
    Pause,
    Approve,
    Reject,
    Rollback,
    Filter,
    Command,
    Follow,
    LogsTrack,
    Zoom,
}

impl Action {
    pub const ALL: [Action; 20] = [
        Action::Help,
        Action::Quit,
        Action::FocusNext,
        Action::FocusPrev,
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::Advance,
        Action::SetWeight,
        Action::Promote,
        Action::Pause,
        Action::Approve,
        Action::Reject,
        Action::Rollback,
        Action::Filter,
        Action::Command,
        Action::Follow,
        Action::LogsTrack,
        Action::Zoom,
    ];

    /// The name used in the config's `[keys]` table.
    pub fn name(self) -> &'static str {
        match self {
            Action::Help => "help",
            Action::Quit => "quit",
            Action::FocusNext => "focus_next",
            Action::FocusPrev => "focus_prev",
            Action::Up => "up",
            Action::Down => "down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Advance => "advance",
            Action::SetWeight => "weight",
            Action::Promote => "promote",
            Action::Pause => "pause",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Rollback => "rollback",
            Action::Filter => "filter",
            Action::Command => "command",
            Action::Follow => "follow",
            Action::LogsTrack => "logs_track",
            Action::Zoom => "zoom",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The line in the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            Action::Help => "help (this screen)",
            Action::Quit => "quit",
            Action::FocusNext => "focus next pane",
            Action::FocusPrev => "focus previous pane",
            Action::Up => "move up in the pane",
            Action::Down => "move down in the pane",
            Action::Top => "go to the top",
            Action::Bottom => "go to the bottom",
            Action::Advance => "advance the canary to the next step of the plan",
            Action::SetWeight => "set the canary weight to a typed percentage",
            Action::Promote => "promote: canary to 100%, then the new stable",
            Action::Pause => "pause / resume automatic progression",
            Action::Approve => "approve the pending deployment (GitHub environment)",
            Action::Reject => "reject the pending deployment (GitHub environment)",
            Action::Rollback => "roll back: all traffic to stable, canary to 0",
            Action::Filter => "filter the focused pane (logs, tasks)",
            Action::Command => "command line (:weight 25, :rollback, :theme NAME, ...)",
            Action::Follow => "logs: follow / stop following",
            Action::LogsTrack => "logs: the stable tasks instead of the canary's (and back)",
            Action::Zoom => "zoom the focused pane",
        }
    }

    /// The help line when the overlay is narrow (at most 26 columns).
    pub fn short_description(self) -> &'static str {
        match self {
            Action::Help => "help (this screen)",
            Action::Quit => "quit",
            Action::FocusNext => "next pane",
            Action::FocusPrev => "previous pane",
            Action::Up => "move up",
            Action::Down => "move down",
            Action::Top => "to the top",
            Action::Bottom => "to the bottom",
            Action::Advance => "advance to the next step",
            Action::SetWeight => "set the canary weight",
            Action::Promote => "promote the canary",
            Action::Pause => "pause / resume automation",
            Action::Approve => "approve the deployment",
            Action::Reject => "reject the deployment",
            Action::Rollback => "ROLL BACK to stable",
            Action::Filter => "filter logs / tasks",
            Action::Command => "command line (:)",
            Action::Follow => "logs: follow / stop",
            Action::LogsTrack => "logs: stable / canary",
            Action::Zoom => "zoom the pane",
        }
    }

    /// Whether the action changes production (and so needs confirmation).
    pub fn is_change(self) -> bool {
        matches!(
            self,
            Action::Advance
                | Action::SetWeight
                | Action::Promote
                | Action::Approve
                | Action::Reject
                | Action::Rollback
        )
    }
}

/// Keys bound to actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: BTreeMap<Action, Vec<Key>>,
}

impl Default for Keymap {
    fn default() -> Self {
        use KeyCode::*;
        let mut bindings = BTreeMap::new();
        let mut bind = |action, keys: &[Key]| {
            bindings.insert(action, keys.to_vec());
        };
        bind(Action::Help, &[Key::char('?')]);
        bind(Action::Quit, &[Key::char('q'), Key::ctrl('c')]);
        bind(Action::FocusNext, &[Key::plain(Tab)]);
        bind(Action::FocusPrev, &[Key::plain(BackTab)]);
        bind(Action::Up, &[Key::char('k'), Key::plain(Up)]);
        bind(Action::Down, &[Key::char('j'), Key::plain(Down)]);
        bind(Action::Top, &[Key::char('g'), Key::plain(Home)]);
        bind(Action::Bottom, &[Key::char('G'), Key::plain(End)]);
        bind(Action::Advance, &[Key::char(']')]);
        bind(Action::SetWeight, &[Key::char('w')]);
        bind(Action::Promote, &[Key::char('P')]);
        bind(Action::Pause, &[Key::char('p')]);
        bind(Action::Approve, &[Key::char('a')]);
        bind(Action::Reject, &[Key::char('x')]);
        bind(Action::Rollback, &[Key::char('R')]);
        bind(Action::Filter, &[Key::char('/')]);
        bind(Action::Command, &[Key::char(':')]);
        bind(Action::Follow, &[Key::char('f')]);
        bind(Action::LogsTrack, &[Key::char('S')]);
        bind(Action::Zoom, &[Key::char('z')]);
        Keymap { bindings }
    }
}

impl Keymap {
    /// Replace the keys of one action.
    pub fn bind(&mut self, action: Action, keys: Vec<Key>) {
        // A key means one thing: take it away from any other action.
        for other in self.bindings.values_mut() {
            other.retain(|k| !keys.contains(k));
        }
        self.bindings.insert(action, keys);
    }

    pub fn action_for(&self, key: Key) -> Option<Action> {
        self.bindings
            .iter()
            .find(|(_, keys)| keys.contains(&key))
            .map(|(action, _)| *action)
    }

    pub fn keys_for(&self, action: Action) -> &[Key] {
        self.bindings.get(&action).map_or(&[], Vec::as_slice)
    }

    /// The first key of an action, for hints ("press R").
    pub fn hint(&self, action: Action) -> String {
        self.keys_for(action)
            .first()
            .map_or_else(|| format!(":{}", action.name()), Key::to_string)
    }

    /// Rows of the help overlay: keys, description.
    /// Each action with its keys, for the help overlay.
    pub fn help_rows(&self) -> Vec<(Action, String)> {
        Action::ALL
            .into_iter()
            .map(|action| {
                let keys = self
                    .keys_for(action)
                    .iter()
                    .map(Key::to_string)
                    .collect::<Vec<_>>()
                    .join(" ");
                (action, keys)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_config_keys() {
        assert_eq!(Key::parse("R"), Some(Key::char('R')));
        assert_eq!(Key::parse("ctrl-c"), Some(Key::ctrl('c')));
        assert_eq!(Key::parse("Ctrl-C"), Some(Key::ctrl('c')));
        assert_eq!(Key::parse("shift-tab"), Some(Key::plain(KeyCode::BackTab)));
        assert_eq!(Key::parse("space"), Some(Key::char(' ')));
        assert_eq!(Key::parse("xy"), None);
        assert_eq!(Key::parse(""), None);
    }

    #[test]
    fn rebinding_takes_the_key_from_its_old_action() {
        let mut keymap = Keymap::default();
        keymap.bind(Action::Rollback, vec![Key::char('a')]);
        assert_eq!(keymap.action_for(Key::char('a')), Some(Action::Rollback));
        assert_eq!(keymap.action_for(Key::char('R')), None);
        assert!(keymap.keys_for(Action::Approve).is_empty());
    }

    #[test]
    fn help_lists_every_action() {
        let rows = Keymap::default().help_rows();
        assert_eq!(rows.len(), Action::ALL.len());
        assert!(
            rows.iter()
                .any(|(a, k)| k == "R" && a.description().starts_with("roll back"))
        );
        assert!(
            Action::ALL
                .iter()
                .all(|a| a.short_description().chars().count() <= 26)
        );
    }
}
