//! Keys and paste: the overlays (help, confirmation, weight prompt), the
//! footer prompts (command, filter), and the keymap's actions.

use tui_input::{Input, InputRequest};

use super::change::{propose, toggle_pause};
use super::command::{COMMANDS, on_command_key, parse_weight};
use super::{Ctx, Effect};
use crate::core::action::{Action, Key, KeyCode};
use crate::core::model::Track;
use crate::core::model::{Confirm, ConfirmField, Level, Model, Overlay, Pane, Prompt, Proposal};

/// A paste: text for the text field that has the cursor, never keystrokes.
/// One line (line breaks become spaces), control characters dropped;
/// outside a text field it is ignored.
pub(super) fn on_paste(model: &mut Model, text: &str) {
    let clean: String = text
        .chars()
        .map(|c| {
            if c == '\n' || c == '\r' || c == '\t' {
                ' '
            } else {
                c
            }
        })
        .filter(|c| !c.is_control())
        .collect();
    // The fleet overview's filter, while it is typed.
    if let Some(view) = model.releases.as_mut().filter(|v| v.shown && v.typing)
        && matches!(model.overlay, Overlay::None)
    {
        let room = 64usize.saturating_sub(view.filter.chars().count());
        view.filter.extend(clean.chars().take(room));
        return;
    }
    let insert = |input: &mut Input| {
        for c in clean.chars() {
            input.handle(InputRequest::InsertChar(c));
        }
    };
    match (&mut model.overlay, &mut model.prompt) {
        (Overlay::Confirm(confirm), _) => {
            let field = match confirm.field {
                ConfirmField::Name => &mut confirm.name,
                ConfirmField::Reason => &mut confirm.reason,
            };
            insert(field);
            confirm.error = None;
        }
        (Overlay::Weight { input, .. }, _) => insert(input),
        (Overlay::Help, _) => {}
        (Overlay::None, Prompt::Command { input, hint }) => {
            insert(input);
            *hint = super::command::command_hint(input.value());
        }
        (Overlay::None, Prompt::Filter { pane, input }) => {
            insert(input);
            let (pane, value) = (*pane, input.value().to_string());
            set_filter(model, pane, &value);
        }
        (Overlay::None, Prompt::None) => model.set_status(
            Level::Info,
            "paste ignored: it only goes into a text field (dialog, : or /)",
        ),
    }
}

pub(super) fn on_key(model: &mut Model, key: Key, ctx: &Ctx, fx: &mut Vec<Effect>) {
    // A rollback dialog asked for from the overview is on its way: keys
    // typed before it opens are dropped (never run as shortcuts: a name
    // typed ahead would pause, weigh…); Esc cancels it.
    if model.rollback_when_read {
        if key == Key::plain(KeyCode::Esc) {
            model.rollback_when_read = false;
            model.set_status(
                Level::Info,
                "rollback cancelled before its dialog opened: nothing changed",
            );
        } else if model.keymap.action_for(key) == Some(Action::Quit) && key.ctrl {
            model.rollback_when_read = false;
            quit(model, ctx, fx);
        } else {
            model.set_status(
                Level::Warn,
                "reading AWS: the rollback dialog opens once the weights and ECS are read; keys are dropped until then (Esc cancels)",
            );
        }
        return;
    }
    match std::mem::take(&mut model.overlay) {
        Overlay::None => {}
        Overlay::Help => {
            // Any key closes help; q still quits.
            if model.keymap.action_for(key) == Some(Action::Quit) {
                quit(model, ctx, fx);
            }
            return;
        }
        Overlay::Confirm(confirm) => return on_confirm_key(model, *confirm, key, ctx, fx),
        Overlay::Weight { input, error } => return on_weight_key(model, input, error, key, ctx),
    }
    match std::mem::take(&mut model.prompt) {
        Prompt::None => {}
        Prompt::Command { input, hint } => return on_command_key(model, input, hint, key, ctx, fx),
        Prompt::Filter { pane, input } => return on_filter_key(model, pane, input, key),
    }
    if model.releases.as_ref().is_some_and(|v| v.shown) {
        return super::releases::on_key(model, key, ctx, fx);
    }
    if key == Key::plain(KeyCode::Esc) {
        escape(model, ctx, fx);
        return;
    }
    if let Some(action) = model.keymap.action_for(key) {
        on_action(model, action, ctx, fx);
    }
}

/// Quit; while a change is under way, only when asked twice: the change
/// then stops at its next step boundary, is journaled, and the console exits.
pub(super) fn quit(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let armed = model
        .status
        .as_ref()
        .is_some_and(|s| s.text.starts_with(QUIT_AGAIN));
    if let Some(running) = &model.running
        && !armed
    {
        let text = format!(
            "{QUIT_AGAIN}: {} is under way; quitting stops it at the next step boundary (a call in flight finishes, a wait ends at once)",
            running.at()
        );
        model.set_status(Level::Warn, text);
        return;
    }
    super::change::shut_down(model, "quit", ctx, fx);
}

const QUIT_AGAIN: &str = "press q again to quit";

/// Esc outside any dialog: unzoom, else clear the focused pane's filter,
/// else abandon a change that is waiting (nothing is in flight then), else
/// the fleet overview (with more than one service).
fn escape(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if model.zoom {
        model.zoom = false;
    } else if model.focus == Pane::Logs && !model.logs.filter().is_empty()
        || model.focus == Pane::Tasks && !model.tasks_view.filter.is_empty()
    {
        set_filter(model, model.focus, "");
    } else if model.running.as_ref().is_some_and(|r| !r.call_in_flight) {
        super::change::abandon(model, ctx, fx);
    } else {
        // Launched on a fleet: back to the overview.
        super::releases::show(model);
    }
}

fn on_action(model: &mut Model, action: Action, ctx: &Ctx, fx: &mut Vec<Effect>) {
    match action {
        Action::Help => model.overlay = Overlay::Help,
        Action::Quit => quit(model, ctx, fx),
        Action::FocusNext => model.focus = model.focus.next(),
        Action::FocusPrev => model.focus = model.focus.prev(),
        Action::Up => move_selection(model, -1),
        Action::Down => move_selection(model, 1),
        Action::Top => move_selection(model, i64::MIN / 2),
        Action::Bottom => move_selection(model, i64::MAX / 2),
        Action::Follow => {
            model.logs.follow = !model.logs.follow;
            model.logs.scroll = 0;
            model.logs.new_while_paused = 0;
            let state = if model.logs.follow {
                "following"
            } else {
                "paused"
            };
            model.set_status(Level::Info, format!("logs: {state}"));
        }
        Action::Zoom => model.zoom = !model.zoom,
        Action::LogsTrack => {
            model.logs.track = match model.logs.track {
                Track::Canary => Track::Stable,
                Track::Stable => Track::Canary,
            };
            // One track's lines at a time: the other's come from the last
            // minute on.
            model.logs.clear();
            super::data::follow_logs(model, fx);
            model.set_status(
                Level::Info,
                format!("logs: the {} tasks", model.logs.track.label()),
            );
        }
        Action::Filter => open_filter(model),
        Action::Command => {
            model.prompt = Prompt::Command {
                input: Input::default(),
                hint: Some(COMMANDS.join(" ")),
            }
        }
        Action::Pause => toggle_pause(model, ctx, fx),
        Action::Advance => propose(model, Proposal::Advance, ctx),
        Action::SetWeight => {
            if let Err(why) = super::change::allowed(model, false, ctx) {
                model.set_status(Level::Error, why);
                return;
            }
            // ECS-native: the strategy owns the weights; say so at once.
            if model.native.is_some() {
                return propose(model, Proposal::Weight(0), ctx);
            }
            model.overlay = Overlay::Weight {
                input: Input::default(),
                error: None,
            };
        }
        Action::Promote => propose(model, Proposal::Promote, ctx),
        Action::Approve => propose(model, Proposal::Approve, ctx),
        Action::Reject => propose(model, Proposal::Reject, ctx),
        Action::Rollback => propose(model, Proposal::Rollback, ctx),
    }
}

fn move_selection(model: &mut Model, delta: i64) {
    let step = |sel: usize, len: usize| -> usize {
        let max = len.saturating_sub(1) as i64;
        (sel as i64 + delta).clamp(0, max.max(0)) as usize
    };
    match model.focus {
        Pane::Pipeline => {
            let len = model.pipeline.value().map_or(0, |r| r.stages.len());
            model.pipeline_view.selected = step(model.pipeline_view.selected, len);
        }
        Pane::Canary => {}
        Pane::Tasks => {
            let len = model.visible_tasks().len();
            model.tasks_view.selected = step(model.tasks_view.selected, len);
        }
        Pane::Journal => {
            // Like logs: lines scrolled up from the newest.
            let len = model.journal.len();
            model.journal_view.selected = (model.journal_view.selected as i64 - delta)
                .clamp(0, len.saturating_sub(1) as i64)
                as usize;
        }
        Pane::Logs => {
            // Up goes back in time: stop following and scroll.
            let len = model.logs.shown_len();
            let scroll =
                (model.logs.scroll as i64 - delta).clamp(0, len.saturating_sub(1) as i64) as usize;
            model.logs.scroll = scroll;
            model.logs.follow = scroll == 0;
        }
    }
}

fn open_filter(model: &mut Model) {
    let current = match model.focus {
        Pane::Logs => model.logs.filter(),
        Pane::Tasks => &model.tasks_view.filter,
        _ => {
            model.set_status(
                Level::Warn,
                "/ filters the Logs and Tasks panes: Tab to one of them first",
            );
            return;
        }
    };
    model.prompt = Prompt::Filter {
        pane: model.focus,
        input: Input::new(current.to_string()),
    };
}

/// Edit a text field with a key. Returns false for keys it does not take.
pub(super) fn edit(input: &mut Input, key: Key) -> bool {
    let request = match (key.code, key.ctrl) {
        (KeyCode::Char('u'), true) => InputRequest::DeleteLine,
        (KeyCode::Char('w'), true) => InputRequest::DeletePrevWord,
        (KeyCode::Char('a'), true) => InputRequest::GoToStart,
        (KeyCode::Char('e'), true) => InputRequest::GoToEnd,
        (KeyCode::Char(c), false) if !c.is_control() => InputRequest::InsertChar(c),
        (KeyCode::Backspace, _) => InputRequest::DeletePrevChar,
        (KeyCode::Delete, _) => InputRequest::DeleteNextChar,
        (KeyCode::Left, _) => InputRequest::GoToPrevChar,
        (KeyCode::Right, _) => InputRequest::GoToNextChar,
        (KeyCode::Home, _) => InputRequest::GoToStart,
        (KeyCode::End, _) => InputRequest::GoToEnd,
        _ => return false,
    };
    input.handle(request);
    true
}

/// Filter the Logs or Tasks pane.
pub(super) fn set_filter(model: &mut Model, pane: Pane, text: &str) {
    if pane == Pane::Logs {
        model.logs.set_filter(text);
    } else {
        model.tasks_view.filter = text.to_string();
        model.tasks_view.selected = 0;
    }
}

fn on_filter_key(model: &mut Model, pane: Pane, mut input: Input, key: Key) {
    match key.code {
        KeyCode::Enter => {}
        KeyCode::Esc => set_filter(model, pane, ""),
        _ => {
            edit(&mut input, key);
            // Filter as you type, like k9s.
            set_filter(model, pane, input.value());
            model.prompt = Prompt::Filter { pane, input };
        }
    }
}

fn on_weight_key(model: &mut Model, mut input: Input, error: Option<String>, key: Key, ctx: &Ctx) {
    match key.code {
        KeyCode::Esc => model.set_status(Level::Info, "cancelled: nothing changed"),
        KeyCode::Enter => match parse_weight(input.value()) {
            Ok(weight) => propose(model, Proposal::Weight(weight), ctx),
            Err(why) => {
                model.overlay = Overlay::Weight {
                    input,
                    error: Some(why),
                }
            }
        },
        _ => {
            edit(&mut input, key);
            model.overlay = Overlay::Weight { input, error };
        }
    }
}

fn on_confirm_key(
    model: &mut Model,
    mut confirm: Confirm,
    key: Key,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    match key.code {
        KeyCode::Esc => {
            model.set_status(Level::Info, "cancelled: nothing changed");
        }
        KeyCode::Tab | KeyCode::BackTab => {
            if confirm.needs_name && confirm.needs_reason {
                confirm.field = match confirm.field {
                    ConfirmField::Name => ConfirmField::Reason,
                    ConfirmField::Reason => ConfirmField::Name,
                };
            }
            model.overlay = Overlay::Confirm(Box::new(confirm));
        }
        KeyCode::Enter => {
            // A dialog that is not wholly on screen cannot be confirmed:
            // the operator must see what they confirm.
            if !super::change::dialog_fits(model, &confirm) {
                confirm.error = Some(super::change::ENLARGE.into());
                model.overlay = Overlay::Confirm(Box::new(confirm));
                return;
            }
            // Enter on the name field moves on to the reason when one is needed.
            if confirm.field == ConfirmField::Name
                && confirm.needs_reason
                && confirm.reason.value().trim().is_empty()
            {
                if confirm.name.value().trim() == model.service.name {
                    confirm.field = ConfirmField::Reason;
                    confirm.error = None;
                } else {
                    confirm.error = Some(format!("type {} to confirm", model.service.name));
                }
                model.overlay = Overlay::Confirm(Box::new(confirm));
                return;
            }
            // A pasted name may carry spaces or a newline around it.
            if confirm.needs_name && confirm.name.value().trim() != model.service.name {
                confirm.error = Some(format!("type {} to confirm", model.service.name));
                confirm.field = ConfirmField::Name;
                model.overlay = Overlay::Confirm(Box::new(confirm));
                return;
            }
            let reason = confirm.reason.value().trim().to_string();
            if confirm.needs_reason && reason.is_empty() {
                confirm.error = Some("a reason is required".into());
                confirm.field = ConfirmField::Reason;
                model.overlay = Overlay::Confirm(Box::new(confirm));
                return;
            }
            super::change::confirm(model, confirm, reason, ctx, fx);
        }
        _ => {
            let field = match confirm.field {
                ConfirmField::Name => &mut confirm.name,
                ConfirmField::Reason => &mut confirm.reason,
            };
            edit(field, key);
            confirm.error = None;
            model.overlay = Overlay::Confirm(Box::new(confirm));
        }
    }
}
