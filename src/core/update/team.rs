//! The team journal's records as they arrive: another console's or
//! driver's changes in the Journal pane (in time order, marked by who), a
//! pause or resume from anyone obeyed here, the newest baseline used by
//! this console's rollback, and who drives the release.

use super::{Ctx, Effect};
use crate::core::change::Baseline;
use crate::core::model::{
    ErrorKind, JournalKind, LeaseHolder, Level, Model, SourceError, TeamEntry,
};

pub(super) fn on_records(model: &mut Model, entries: Vec<TeamEntry>, ctx: &Ctx) {
    let identity = model.service.identity();
    // The sync keeps its own read cursor; here only who we are matters.
    let Some(me) = model.team.as_ref().map(|t| t.process.clone()) else {
        return;
    };
    for entry in entries {
        let r = &entry.record;
        // Another service's records never reach here (the table is keyed
        // by identity); a record without one is an older version's.
        if r.identity.as_deref().is_some_and(|i| i != identity) {
            continue;
        }
        let at = chrono::DateTime::parse_from_rfc3339(&r.time)
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or(ctx.now);
        let pause_or_resume = matches!(r.action.as_str(), "pause" | "resume")
            && r.result == "ok"
            && r.step.is_none()
            && r.change.is_none();
        if entry.process == me {
            // Ours: already applied; it only dates the newest pause.
            if pause_or_resume && let Some(team) = model.team.as_mut() {
                team.pause_at = team.pause_at.max(Some(at));
            }
            continue;
        }
        let kind = match r.action.as_str() {
            _ if r.automatic => JournalKind::Automatic,
            "set_weight" | "rollback" | "promote" => JournalKind::Traffic,
            "verdict" => JournalKind::Verdict,
            _ => JournalKind::Operator,
        };
        let step = r
            .step
            .as_deref()
            .map_or(String::new(), |s| format!(" [{s}]"));
        model.push_journal(
            at,
            kind,
            format!(
                "{}: {} {} → {}{step}: {}",
                entry.origin, r.action, r.from, r.to, r.result
            ),
        );
        // A person's pause or resume, newer than the last one known here.
        // Another process's automation pausing itself (its own change
        // failed) is its own business: shown, not obeyed.
        let newer = model
            .team
            .as_ref()
            .is_none_or(|t| t.pause_at.is_none_or(|p| at >= p));
        match r.action.as_str() {
            "pause" | "resume" if pause_or_resume && newer && !r.automatic => {
                if let Some(team) = model.team.as_mut() {
                    team.pause_at = Some(at);
                }
                let paused = r.action == "pause";
                model.self_paused = None;
                if model.plan_state.paused != paused {
                    model.plan_state.paused = paused;
                    model.set_status(
                        Level::Info,
                        format!(
                            "automation {} by {}",
                            if paused { "paused" } else { "resumed" },
                            entry.origin
                        ),
                    );
                }
            }
            "baseline" => {
                if let Some(b) = Baseline::from_record(r)
                    && model
                        .baseline
                        .as_ref()
                        .is_none_or(|mine| mine.seen_at < b.seen_at)
                {
                    model.baseline = Some(b);
                }
            }
            _ => {}
        }
    }
}

pub(super) fn on_state(model: &mut Model, why: Option<String>, ctx: &Ctx) {
    let Some(team) = model.team.as_mut() else {
        return;
    };
    if team.unreachable == why {
        return;
    }
    let text = match &why {
        Some(why) => format!(
            "team state unreachable ({why}): records are queued and sent when it is back; only a rollback changes the release meanwhile"
        ),
        None => "team state reachable again: queued records sent".to_string(),
    };
    team.unreachable = why;
    model.push_journal(ctx.now, JournalKind::Error, text);
}

/// Who sits in the driver's seat, read from the table. Another driver
/// where this process sat: it was taken over (said once, and journaled).
pub(super) fn on_driver(
    model: &mut Model,
    holder: Option<LeaseHolder>,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let Some(team) = model.team.as_mut() else {
        return;
    };
    let mine = format!("seat-{}", team.process);
    match holder {
        Some(h) if h.change == mine => {
            team.driver = Some(("here".into(), since(&h, ctx)));
        }
        Some(h) => {
            team.driver = Some((h.who(), since(&h, ctx)));
            if team.driving {
                lost_seat(
                    model,
                    &format!("driving was taken over by {}", h.who()),
                    ctx,
                    fx,
                );
            }
        }
        // Nobody, or a driver gone silent: while this process beats its
        // seat, a read that misses it changes nothing.
        None if team.driving => {}
        None => team.driver = None,
    }
}

fn since(h: &LeaseHolder, ctx: &Ctx) -> crate::core::model::Time {
    chrono::DateTime::parse_from_rfc3339(&h.since)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or(ctx.now)
}

/// The answer to sitting in the seat (`drive`, or `:drive` in a console).
pub(super) fn on_seat(
    model: &mut Model,
    result: Result<Option<String>, SourceError>,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let Some(team) = model.team.as_mut() else {
        return;
    };
    match result {
        Ok(from) => {
            team.driving = true;
            team.driver = Some(("here".into(), ctx.now));
            let from_text = from.clone().unwrap_or_else(|| "nobody".into());
            let mut record =
                super::change::simple_record(model, ctx, "drive", &from_text, &ctx.operator);
            record.via = Some(model.via.to_string());
            fx.push(Effect::Journal(record));
            let text = match from {
                Some(who) => format!("driving here: took the driver's seat over from {who}"),
                None => "driving here: the driver's seat was free".to_string(),
            };
            model.set_status(Level::Info, text.clone());
            model.push_journal(ctx.now, JournalKind::Operator, text);
        }
        Err(e) if e.kind == ErrorKind::Preempted => {
            if team.driving {
                lost_seat(model, &e.message, ctx, fx);
            }
        }
        Err(e) => {
            team.driving = false;
            model.set_status(Level::Error, format!("the driver's seat: {e}"));
        }
    }
}

/// Driving was taken over: this process's automation stops acting (a
/// change under way stops at its step boundary through the change lease).
fn lost_seat(model: &mut Model, why: &str, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if let Some(team) = model.team.as_mut() {
        team.driving = false;
        // Not "here" any more: who took it comes with the next read of the
        // seat (a heartbeat can learn of the loss before that read).
        if team.driver.as_ref().is_some_and(|(who, _)| who == "here") {
            team.driver = None;
        }
    }
    let text = format!("{why}; the automation here only watches now");
    let mut record = super::change::simple_record(model, ctx, "drive", &ctx.operator, why);
    record.result = "taken over".into();
    record.via = Some(model.via.to_string());
    fx.push(Effect::Journal(record));
    model.set_status(Level::Warn, text.clone());
    model.push_journal(ctx.now, JournalKind::Operator, text);
}

/// Whether this process's automation only watches: a scriptable command,
/// or another live driver in the team's driver's seat.
pub fn watching(model: &Model) -> bool {
    model.observer
        || model
            .team
            .as_ref()
            .is_some_and(|t| t.driver.is_some() && !t.driving)
}
