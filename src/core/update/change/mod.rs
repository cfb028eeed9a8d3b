//! Changes, from the key to the last step. A change is proposed and
//! confirmed in a dialog (`dialog`), begins by taking the service's lease
//! (`lease`: what happens when a rollback takes over from another actor,
//! and when a change learns it was taken over), then runs one step at a
//! time (`progress`: calls through the runner, waits watched here as fresh
//! fleet data arrives, stops, quit). A rollback never waits behind another
//! change: it stops it at the next step boundary and starts from whatever
//! state that change left. Operator actions that change nothing outside
//! (pause, acknowledge) are in `operator`.
//!
//! Here: what the policy allows and the plan of a proposal, and the journal
//! records every part writes.

use unicode_width::UnicodeWidthStr;

use super::{Ctx, Effect};
use crate::core::change::{self as plans, Change, ChangeKind, Step};
use crate::core::effect::{BeginCall, JournalRecord, OperatorAction, StepCall};
use crate::core::model::{
    Confirm, ConfirmField, ErrorKind, Finished, Forward, JournalKind, LeaseGrant, LeaseHolder,
    Level, Loadable, Model, Overlay, Proposal, RequestId, Running, SourceError, Track,
};
use crate::core::plan::Phase;
use crate::core::policy::{self, Requirements};
use tui_input::Input;

mod dialog;
mod lease;
mod operator;
mod progress;

// Each part calls the others' steps: one namespace for the four, seen
// from `update` as `change::…`.
pub(in crate::core::update) use dialog::*;
pub use dialog::{DialogRole, dialog_fits, dialog_lines, dialog_size};
pub(in crate::core::update) use lease::*;
pub(in crate::core::update) use operator::*;
pub(in crate::core::update) use progress::*;

/// Read-only, quitting, or another change under way (a rollback may
/// overtake any change but another rollback).
pub(in crate::core::update) fn allowed(
    model: &Model,
    is_rollback: bool,
    ctx: &Ctx,
) -> Result<Requirements, String> {
    let req = policy::requirements(
        model.read_only,
        model.service.protected,
        model.service.change_window.as_ref(),
        is_rollback,
        ctx.now,
    )?;
    if model.stopping.is_some() {
        return Err("quitting: no new change".into());
    }
    if let Some(running) = &model.running {
        let at = running.at();
        if running.change.kind == ChangeKind::Rollback {
            return Err(format!("a rollback is already under way ({at})"));
        }
        if !is_rollback {
            return Err(format!(
                "a change is in progress ({at}): wait for it to finish, or roll back"
            ));
        }
        if model.pending_rollback.is_some() {
            return Err(
                "a rollback is already confirmed: it starts after the call under way".into(),
            );
        }
    }
    Ok(req)
}

/// What the dialog of a proposal asks for: the policy's, and for a review
/// always a reason (GitHub requires the review's comment).
pub(in crate::core::update) fn requirements(
    model: &Model,
    proposal: Proposal,
    ctx: &Ctx,
) -> Result<Requirements, String> {
    let mut req = allowed(model, proposal == Proposal::Rollback, ctx)?;
    if matches!(proposal, Proposal::Approve | Proposal::Reject) {
        req.reason = true;
    }
    Ok(req)
}

/// The plan of a proposal, computed from the model as it is now, with what
/// it leaves as it is.
pub(in crate::core::update) fn compute(
    model: &Model,
    proposal: Proposal,
) -> Result<plans::Planned, String> {
    let plain = |(kind, from, to, steps)| (kind, from, to, steps, Vec::new());
    // ECS moves the traffic of a native deployment: a key is one call.
    if model.native.is_some() {
        use crate::core::native::Ask;
        match proposal {
            Proposal::Advance => return plans::native(model, Ask::Continue),
            Proposal::Weight(_) | Proposal::Promote => return plans::native(model, Ask::Weight),
            Proposal::Rollback => return plans::native(model, Ask::Rollback),
            Proposal::Approve | Proposal::Reject => {}
        }
    }
    match proposal {
        Proposal::Advance => plans::advance(model).map(plain),
        Proposal::Weight(w) => plans::set_weight(model, w).map(plain),
        Proposal::Promote => plans::promote(model).map(plain),
        Proposal::Approve => plans::review(model, true).map(plain),
        Proposal::Reject => plans::review(model, false).map(plain),
        Proposal::Rollback => plans::rollback(model),
    }
}

pub(in crate::core::update) fn build(model: &Model, proposal: Proposal) -> Result<Change, String> {
    let (kind, from, to, steps, notes) = compute(model, proposal)?;
    Ok(Change {
        id: 0,
        kind,
        service: model.service.name.clone(),
        from,
        to,
        reason: None,
        automatic: false,
        steps,
        notes,
    })
}

pub(in crate::core::update) fn who(change: &Change, ctx: &Ctx) -> String {
    if change.automatic {
        format!("flightdeck (analysis) for {}", ctx.operator)
    } else {
        ctx.operator.clone()
    }
}

/// A journal record of a change; `step` names one of its steps.
pub(in crate::core::update) fn record(
    model: &Model,
    running: &Running,
    result: &str,
    step: Option<usize>,
    ctx: &Ctx,
) -> JournalRecord {
    let change = &running.change;
    let total = change.steps.len();
    JournalRecord {
        time: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        operator: who(change, ctx),
        service: model.service.name.clone(),
        identity: Some(model.service.identity()),
        action: change.kind.action_name().into(),
        from: change.from.clone(),
        to: change.to.clone(),
        reason: change.reason.clone(),
        result: result.into(),
        request_ids: Vec::new(),
        automatic: change.automatic,
        change: Some(running.journal_id.clone()),
        step: step.and_then(|i| {
            let s = change.steps.get(i)?;
            Some(format!("{}/{total} {}: {}", i + 1, s.name(), s.describe()))
        }),
        steps: Vec::new(),
        weights: None,
        via: None,
    }
}

pub(in crate::core::update) fn start_record(
    model: &Model,
    running: &Running,
    ctx: &Ctx,
) -> JournalRecord {
    let mut r = record(model, running, "started", None, ctx);
    r.steps = running.change.step_lines();
    r
}
