//! The fleet overview's keys and rows: move, filter, open a release (Enter),
//! roll one back (`R`, the same dialog as in its console), and Esc in a
//! release's console to come back.

use super::change::propose;
use super::{Ctx, Effect};
use crate::core::action::{Action, Key, KeyCode};
use crate::core::data::SourceError;
use crate::core::model::{Level, Model, Overlay, Proposal};
use crate::core::releases::ReleaseRow;

pub(super) fn on_rows(model: &mut Model, result: Result<Vec<ReleaseRow>, SourceError>, ctx: &Ctx) {
    let Some(view) = &mut model.releases else {
        return;
    };
    match result {
        Ok(rows) => view.update(rows, ctx.now),
        Err(e) => view.error = Some(e),
    }
}

pub(super) fn on_key(model: &mut Model, key: Key, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let now = ctx.now;
    let action = model.keymap.action_for(key);
    let Some(view) = &mut model.releases else {
        return;
    };
    if view.typing {
        match key.code {
            KeyCode::Enter => view.typing = false,
            KeyCode::Esc => {
                view.typing = false;
                view.filter.clear();
            }
            KeyCode::Backspace => {
                view.filter.pop();
            }
            KeyCode::Char(c)
                if !key.ctrl && !key.alt && !c.is_control() && view.filter.chars().count() < 64 =>
            {
                view.filter.push(c);
            }
            _ => {}
        }
        view.selected = view.selected_name(now);
        return;
    }
    match (key.code, action) {
        (KeyCode::Enter, _) => {
            if let Some(name) = view.selected_name(now) {
                open(model, &name, false, ctx, fx);
            }
        }
        (KeyCode::Esc, _) if !view.filter.is_empty() => view.filter.clear(),
        // Nothing to go back to from here: Enter opens the selected row
        // (never, by surprise, another release's console).
        (KeyCode::Esc, _) => model.set_status(
            Level::Info,
            "fleet overview: Enter opens the selected release, q quits",
        ),
        (KeyCode::Up, _) | (_, Some(Action::Up)) => view.step(-1, now),
        (KeyCode::Down, _) | (_, Some(Action::Down)) => view.step(1, now),
        (KeyCode::PageUp, _) => view.step(-10, now),
        (KeyCode::PageDown, _) => view.step(10, now),
        (_, Some(Action::Top)) | (KeyCode::Home, _) => view.step(i64::MIN / 2, now),
        (_, Some(Action::Bottom)) | (KeyCode::End, _) => view.step(i64::MAX / 2, now),
        (_, Some(Action::Filter)) => view.typing = true,
        (_, Some(Action::Rollback)) => {
            if let Some(name) = view.selected_name(now) {
                open(model, &name, true, ctx, fx);
            }
        }
        (_, Some(Action::Quit)) => super::input::quit(model, ctx, fx),
        (_, Some(Action::Help)) => model.overlay = Overlay::Help,
        _ => model.set_status(
            Level::Info,
            "fleet overview: Enter opens a release, R rolls it back, / filters, q quits",
        ),
    }
}

/// Open `name`'s console (this one when it is the release open here, else
/// the console restarts on it), with its rollback dialog if asked.
fn open(model: &mut Model, name: &str, rollback: bool, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if name == model.service.name {
        if let Some(view) = &mut model.releases {
            view.shown = false;
        }
        if rollback {
            propose(model, Proposal::Rollback, ctx);
        }
        return;
    }
    if let Some(r) = &model.running {
        model.set_status(
            Level::Error,
            format!(
                "{} on {} is under way: open another release when it is done",
                r.at(),
                model.service.name
            ),
        );
        return;
    }
    model.switch_to = Some(name.to_string());
    model.switch_rollback = rollback;
    model.quit = true;
    fx.push(Effect::Quit);
}

/// Esc in a release's console with nothing else to close: the overview.
pub(super) fn show(model: &mut Model) -> bool {
    match &mut model.releases {
        Some(view) => {
            view.shown = true;
            view.selected = Some(model.service.name.clone());
            true
        }
        None => false,
    }
}

/// After a switch made by `R` on the overview: the rollback dialog opens
/// once the weights and ECS have been read (the dialog shows what it will
/// do from them).
pub(super) fn open_rollback_when_read(model: &mut Model, ctx: &Ctx) {
    if model.rollback_when_read
        && model.releases.as_ref().is_none_or(|v| !v.shown)
        && model.traffic.value().is_some()
        && model.fleet.value().is_some()
        && matches!(model.overlay, Overlay::None)
    {
        model.rollback_when_read = false;
        model.status = None;
        propose(model, Proposal::Rollback, ctx);
    }
}
