//! The `:` command line: completion, hints, and the commands themselves.

use tui_input::Input;

use super::change::{propose, toggle_pause};
use super::input::{edit, quit, set_filter};
use super::{Ctx, Effect};
use crate::core::action::{Key, KeyCode};
use crate::core::model::{Level, Model, Overlay, Pane, Prompt, Proposal};

/// Commands of the `:` line, for completion and hints.
pub const COMMANDS: [&str; 18] = [
    "advance", "weight", "promote", "pause", "resume", "approve", "reject", "rollback", "abandon",
    "ack", "run", "theme", "service", "filter", "drive", "help", "quit", "q",
];

pub(super) fn on_command_key(
    model: &mut Model,
    mut input: Input,
    _hint: Option<String>,
    key: Key,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    match key.code {
        KeyCode::Esc => {}
        KeyCode::Enter => run_command(model, input.value().trim(), ctx, fx),
        KeyCode::Tab => {
            let text = input.value().to_string();
            let matches: Vec<&str> = COMMANDS
                .iter()
                .copied()
                .filter(|c| c.starts_with(text.trim()))
                .collect();
            if let [only] = matches.as_slice() {
                input = Input::new(format!("{only} "));
            }
            let hint = command_hint(input.value());
            model.prompt = Prompt::Command { input, hint };
        }
        _ => {
            edit(&mut input, key);
            let hint = command_hint(input.value());
            model.prompt = Prompt::Command { input, hint };
        }
    }
}

/// The commands that start with what is typed, or the usage of the one typed.
pub(super) fn command_hint(text: &str) -> Option<String> {
    let word = text.split_whitespace().next().unwrap_or("");
    let usage = match word {
        "weight" => Some("weight N   set canary weight to N% (0-100)"),
        "theme" => Some("theme NAME   switch colour theme"),
        "run" => Some("run N   show pipeline run #N (no N: the newest)"),
        "service" => Some("service NAME   switch service"),
        "filter" => Some("filter TEXT   filter the focused pane"),
        "drive" => Some("drive SERVICE   take over driving (the service's name, typed)"),
        _ => None,
    };
    if text.contains(' ')
        && let Some(usage) = usage
    {
        return Some(usage.to_string());
    }
    let matches: Vec<&str> = COMMANDS
        .iter()
        .copied()
        .filter(|c| c.starts_with(word))
        .collect();
    if matches.is_empty() {
        Some(format!(
            "no command `{word}`; commands: {}",
            COMMANDS.join(" ")
        ))
    } else {
        Some(matches.join(" "))
    }
}

/// `:drive SERVICE`: this console takes the team's driver's seat (its
/// automation acts; the driver there stops at its next step boundary).
/// The service's name typed is the confirmation.
fn take_over_driving(model: &mut Model, arg: &str, fx: &mut Vec<Effect>) {
    let Some(team) = &model.team else {
        return model.set_status(
            Level::Error,
            "no driver's seat without [team]: each console's automation acts on its own (the lease keeps one change at a time)",
        );
    };
    if model.read_only {
        return model.set_status(Level::Error, "read-only: this console does not drive");
    }
    if team.driving {
        return model.set_status(Level::Info, "already driving here");
    }
    let name = model.service.name.clone();
    if arg != name {
        let from = team
            .driver
            .as_ref()
            .map_or("nobody drives now".to_string(), |(who, _)| {
                format!("{who} drives now and stops at its next step boundary")
            });
        return model.set_status(
            Level::Warn,
            format!(
                "take over driving: type `:drive {name}` ({from}; the automation here then acts)"
            ),
        );
    }
    model.set_status(Level::Info, "taking the driver's seat…");
    fx.push(Effect::TakeOverDriving);
}

/// `:run N` shows run #N of the recent runs in the Pipeline pane; `:run`
/// goes back to following the newest.
fn select_run(model: &mut Model, arg: &str, fx: &mut Vec<Effect>) {
    let arg = arg.trim().trim_start_matches('#');
    if arg.is_empty() || arg == "latest" {
        fx.push(Effect::SelectRun(None));
        return model.set_status(
            Level::Info,
            "pipeline: following the newest run".to_string(),
        );
    }
    let recent = model
        .pipeline
        .value()
        .map(|r| r.recent.clone())
        .unwrap_or_default();
    let Ok(number) = arg.parse::<u64>() else {
        return model.set_status(Level::Error, format!(":run {arg}: expected a run number"));
    };
    match recent.iter().find(|r| r.number == number) {
        Some(r) => {
            fx.push(Effect::SelectRun(Some(r.id)));
            model.set_status(
                Level::Info,
                format!("pipeline: run #{number} (`:run` for the newest)"),
            );
        }
        None => {
            let known: Vec<String> = recent.iter().map(|r| format!("#{}", r.number)).collect();
            model.set_status(
                Level::Error,
                if known.is_empty() {
                    format!(":run {number}: no recent runs to choose from here")
                } else {
                    format!(
                        ":run {number}: not among the recent runs ({})",
                        known.join(" ")
                    )
                },
            );
        }
    }
}

pub(super) fn run_command(model: &mut Model, line: &str, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return;
    };
    let arg = words.collect::<Vec<_>>().join(" ");
    match cmd {
        "q" | "quit" => quit(model, ctx, fx),
        "help" => model.overlay = Overlay::Help,
        "advance" => propose(model, Proposal::Advance, ctx),
        "promote" => propose(model, Proposal::Promote, ctx),
        "approve" => propose(model, Proposal::Approve, ctx),
        "reject" => propose(model, Proposal::Reject, ctx),
        "rollback" => propose(model, Proposal::Rollback, ctx),
        "abandon" => super::change::abandon(model, ctx, fx),
        "ack" => super::change::acknowledge(model, ctx, fx),
        "pause" | "resume" => {
            let want_paused = cmd == "pause";
            if model.plan_state.paused != want_paused {
                toggle_pause(model, ctx, fx);
            } else {
                model.set_status(Level::Info, format!("already {}d", cmd));
            }
        }
        "weight" => match parse_weight(&arg) {
            Ok(weight) => propose(model, Proposal::Weight(weight), ctx),
            Err(why) => model.set_status(Level::Error, format!(":weight {arg}: {why}")),
        },
        "run" => select_run(model, &arg, fx),
        "drive" => take_over_driving(model, &arg, fx),
        "theme" => {
            if model.themes.contains(&arg) {
                model.theme = arg.clone();
                model.set_status(Level::Info, format!("theme: {arg}"));
            } else {
                model.set_status(
                    Level::Error,
                    format!("unknown theme `{arg}`; themes: {}", model.themes.join(", ")),
                );
            }
        }
        "service" => {
            if arg == model.service.name {
                model.set_status(Level::Info, format!("already watching {arg}"));
            } else if !model.services.contains(&arg) {
                model.set_status(
                    Level::Error,
                    format!(
                        "unknown service `{arg}`: the config has {} (add a [[service]] to watch another)",
                        model.services.join(", ")
                    ),
                );
            } else if let Some(r) = &model.running {
                model.set_status(
                    Level::Error,
                    format!("{} is under way: switch when it is done", r.at()),
                );
            } else {
                // The runtime rebuilds the sources for that service.
                model.switch_to = Some(arg);
                model.quit = true;
                fx.push(Effect::Quit);
            }
        }
        "filter" => match model.focus {
            Pane::Logs | Pane::Tasks => set_filter(model, model.focus, &arg),
            _ => model.set_status(Level::Warn, "filter works in the Logs and Tasks panes"),
        },
        other => model.set_status(
            Level::Error,
            format!(
                "unknown command `{other}`; commands: {}",
                COMMANDS.join(" ")
            ),
        ),
    }
}

/// A weight as typed: a whole number from 0 to 100, `%` allowed.
pub fn parse_weight(text: &str) -> Result<u8, String> {
    let digits = text.trim().trim_end_matches('%').trim();
    match digits.parse::<u32>() {
        Ok(w) if w <= 100 => Ok(w as u8),
        Ok(w) => Err(format!(
            "{w} is over 100: enter a whole number from 0 to 100"
        )),
        Err(_) if digits.is_empty() => Err("enter a whole number from 0 to 100".into()),
        Err(_) => Err(format!("`{digits}` is not a whole number from 0 to 100")),
    }
}
