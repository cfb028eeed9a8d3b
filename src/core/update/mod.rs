//! `update`: the one function that changes the model. Pure: it takes a
//! message and returns effects as data, so every rule here is tested without
//! a terminal, a runtime or a network. Split by concern:
//!
//! - `input`: keys, paste, dialogs and prompts;
//! - `command`: the `:` line;
//! - `change`: proposing, confirming and carrying out changes step by step
//!   (what happens when Enter confirms a rollback is all there);
//! - `data`: what the pollers bring, including the release baseline;
//! - `auto`: the tick, the analysis and automatic progression.

mod auto;
mod change;
mod command;
mod data;
mod input;
mod releases;
pub mod team;

use super::effect::Effect;
use super::model::{JournalKind, Level, Model, Overlay};
use super::msg::Msg;

pub use auto::{analysing, hold_reason};
pub use change::{DialogRole, dialog_fits, dialog_lines, dialog_size};
pub use command::{COMMANDS, parse_weight};

/// What `update` needs from outside: the time and who is at the keyboard.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: super::model::Time,
    pub operator: String,
}

pub fn update(model: &mut Model, msg: Msg, ctx: &Ctx) -> Vec<Effect> {
    model.now = ctx.now;
    // Polls that bring what the screen already shows do not redraw it (the
    // ages in the titles move with the 1 Hz tick).
    let quiet = repeats(model, &msg);
    let seen = (model.dirty, marks(model));
    model.dirty = true;
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) => input::on_key(model, key, ctx, &mut fx),
        Msg::Paste(text) => input::on_paste(model, &text),
        Msg::Command(line) => command::run_command(model, &line, ctx, &mut fx),
        Msg::NotifyFailed(text) => model.push_journal(ctx.now, JournalKind::Error, text),
        Msg::Resize(w, h) => {
            model.screen = Some((w, h));
            // "Enlarge the terminal" no longer holds once the dialog fits.
            let fits = match &model.overlay {
                Overlay::Confirm(c) => change::dialog_fits(model, c),
                _ => false,
            };
            if let Overlay::Confirm(c) = &mut model.overlay
                && fits
                && c.error.as_deref() == Some(change::ENLARGE)
            {
                c.error = None;
            }
        }
        Msg::Tick => auto::on_tick(model, ctx, &mut fx),
        Msg::Pipeline(result) => match result {
            Ok(run) => data::on_pipeline(model, *run, ctx),
            Err(e) => model.pipeline.fail(e, ctx.now),
        },
        // A read begun before this console's last ECS write may show the
        // state before it: it neither completes a wait nor undoes the write.
        Msg::Fleet {
            started,
            result: Ok(_),
        } if model.fleet_written_at.is_some_and(|w| started < w) => {
            model.dirty = seen.0;
        }
        Msg::Fleet { started, result } => match result {
            Ok(fleet) => {
                data::on_fleet(model, fleet, started, ctx, &mut fx);
                change::check_wait(model, ctx, &mut fx);
            }
            Err(e) => model.fleet.fail(e, ctx.now),
        },
        Msg::Traffic {
            started,
            result: Ok(_),
        } if model.weights_written_at.is_some_and(|w| started < w) => {
            model.dirty = seen.0;
        }
        Msg::Traffic { result, .. } => match result {
            Ok(forward) => {
                let forward = data::native_oriented(model, forward);
                data::on_traffic(model, forward, ctx);
                data::complete_baseline(model, ctx, &mut fx);
                if model.native.is_some() {
                    change::check_wait(model, ctx, &mut fx);
                }
            }
            Err(e) => model.traffic.fail(e, ctx.now),
        },
        Msg::Releases(result) => releases::on_rows(model, result, ctx),
        Msg::Native(result) => {
            if let Some(native) = &mut model.native {
                match result {
                    Ok(deployment) => native.set(deployment, ctx.now),
                    Err(e) => native.fail(e, ctx.now),
                }
                data::on_native(model, ctx, &mut fx);
                change::check_wait(model, ctx, &mut fx);
            }
        }
        Msg::Metrics(result) => match result {
            Ok(points) => data::on_metrics(model, points),
            Err(e) => model.metrics.error = Some(e),
        },
        Msg::Logs(result) => match result {
            Ok(lines) => data::on_logs(model, lines),
            Err(e) => model.logs.error = Some(e),
        },
        Msg::StepDone {
            change: id,
            index,
            result,
        } => change::on_step_done(model, id, index, result, ctx, &mut fx),
        Msg::JournalFailed(why) => {
            model.set_status(Level::Error, format!("journal: {why}"));
            model.push_journal(
                ctx.now,
                JournalKind::Error,
                format!("journal write failed: {why}"),
            );
        }
        Msg::Shutdown(why) => change::shut_down(model, &why, ctx, &mut fx),
        Msg::Suspend => {}
        Msg::TeamRecords(entries) => team::on_records(model, entries, ctx),
        Msg::TeamState(why) => team::on_state(model, why, ctx),
        Msg::TeamDriver(holder) => team::on_driver(model, holder, ctx, &mut fx),
        Msg::Seat(result) => team::on_seat(model, result, ctx, &mut fx),
        Msg::ScreenStalled { took, over } => {
            let seconds = took.as_secs();
            let text = if over {
                model.screen_stalled = Some((ctx.now, seconds));
                format!(
                    "the screen was not drawn for {seconds}s (the terminal did not read); polls, analysis and changes went on"
                )
            } else {
                format!(
                    "the screen has not been drawn for {seconds}s (the terminal does not read); polls, analysis and changes go on"
                )
            };
            model.push_journal(ctx.now, JournalKind::Error, text.clone());
            let mut record = change::simple_record(
                model,
                ctx,
                "screen",
                if over { "not drawn" } else { "not drawn yet" },
                &format!("{seconds}s"),
            );
            record.reason = Some(text);
            fx.push(Effect::Journal(record));
        }
        Msg::Begun { change: id, result } => change::on_begun(model, id, result, ctx, &mut fx),
        Msg::LeaseLost { change: id, error } => {
            change::on_lease_lost(model, id, error, ctx, &mut fx);
        }
        Msg::OperatorDone(action) => change::on_operator_done(model, action, ctx),
        Msg::BaselineHint(hint) => data::on_baseline_hint(model, hint, ctx, &mut fx),
        Msg::ApiCalls(total) => {
            model.api_calls.push_back((ctx.now, total));
            while model
                .api_calls
                .front()
                .is_some_and(|(t, _)| ctx.now - *t > chrono::Duration::seconds(60))
            {
                model.api_calls.pop_front();
            }
        }
    }
    releases::open_rollback_when_read(model, ctx);
    if quiet {
        model.dirty = seen.0 || seen.1 != marks(model);
    }
    fx
}

/// What a quiet message may still change on screen: the journal, the
/// status line, a change's step and progress.
type Marks = (
    usize,
    Option<super::model::Status>,
    Option<(usize, Option<String>)>,
);

fn marks(model: &Model) -> Marks {
    (
        model.journal.len(),
        model.status.clone(),
        model
            .running
            .as_ref()
            .map(|r| (r.index, r.progress.clone())),
    )
}

/// Whether `msg` only repeats what the model already shows.
fn repeats(model: &Model, msg: &Msg) -> bool {
    fn same<T: PartialEq>(shown: &super::model::Loadable<T>, new: &T) -> bool {
        matches!(shown, super::model::Loadable::Ready { value, .. } if value == new)
    }
    match msg {
        Msg::Pipeline(Ok(run)) => same(&model.pipeline, run.as_ref()),
        Msg::Fleet {
            result: Ok(fleet), ..
        } => same(&model.fleet, fleet),
        Msg::Traffic {
            result: Ok(forward),
            ..
        } => same(&model.traffic, forward),
        // The window again: quiet when every point is already there as is.
        Msg::Metrics(Ok(points)) => {
            model.metrics.error.is_none()
                && points.iter().all(|p| {
                    let series = match p.track {
                        super::model::Track::Canary => &model.metrics.canary,
                        super::model::Track::Stable => &model.metrics.stable,
                    };
                    let at = series.partition_point(|q| q.at < p.at);
                    series.get(at) == Some(p)
                })
        }
        Msg::Logs(Ok(lines)) => lines.is_empty() && model.logs.error.is_none(),
        Msg::ApiCalls(_) => !matches!(model.overlay, super::model::Overlay::Help),
        _ => false,
    }
}

pub fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

pub fn humanize(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 if s.is_multiple_of(60) => format!("{}m", s / 60),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::command::command_hint;
    use super::*;

    #[test]
    fn weight_input_is_validated() {
        assert_eq!(parse_weight("25"), Ok(25));
        assert_eq!(parse_weight(" 50% "), Ok(50));
        assert_eq!(parse_weight("0"), Ok(0));
        assert_eq!(parse_weight("100"), Ok(100));
        assert!(parse_weight("101").is_err_and(|e| e.contains("over 100")));
        assert!(parse_weight("-1").is_err());
        assert!(parse_weight("ten").is_err_and(|e| e.contains("not a whole number")));
        assert!(parse_weight("").is_err());
        assert!(parse_weight("12.5").is_err());
    }

    #[test]
    fn humanize_durations() {
        assert_eq!(humanize(std::time::Duration::from_secs(45)), "45s");
        assert_eq!(humanize(std::time::Duration::from_secs(300)), "5m");
        assert_eq!(humanize(std::time::Duration::from_secs(125)), "2m05s");
        assert_eq!(humanize(std::time::Duration::from_secs(3700)), "1h01m");
        assert_eq!(
            humanize(std::time::Duration::from_secs(6 * 86_400 + 7200)),
            "6d02h"
        );
    }

    #[test]
    fn command_hints_name_what_exists() {
        assert_eq!(command_hint("ro").as_deref(), Some("rollback"));
        assert!(command_hint("xyz").is_some_and(|h| h.contains("no command `xyz`")));
        assert!(command_hint("weight ").is_some_and(|h| h.contains("0-100")));
    }
}
