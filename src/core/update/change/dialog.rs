//! The confirmation dialog: what a proposal opens (the plan in plain
//! words), the recheck at Enter (the plan is computed again and a
//! difference is shown and asked again), and the dialog's size (it can be
//! confirmed only when it is wholly on screen).

use super::*;

/// The widest a confirmation dialog gets.
pub const DIALOG_WIDTH: u16 = 76;

/// The words above the steps: from → to, and what the operator should know.
pub(in crate::core::update) fn summary(
    model: &Model,
    proposal: Proposal,
    change: &Change,
) -> (String, Vec<String>) {
    let mut lines = Vec::new();
    // ECS-native: one call to ECS, which moves the traffic.
    if model.native.is_some()
        && change
            .steps
            .iter()
            .all(|s| matches!(s, Step::Native(_) | Step::WaitNativeRolledBack { .. }))
    {
        lines.push(format!("ECS deployment: {} → {}", change.from, change.to));
        lines.push(format!(
            "Service: {} in {} (ECS moves the traffic)",
            model.service.stable_service, model.service.cluster
        ));
        if let Some(r) = &model.running {
            lines.push(format!("Stops {} (after the call under way)", r.at()));
        }
        let title = if change.kind == crate::core::change::ChangeKind::Continue {
            "Continue ECS deployment"
        } else {
            "ROLL BACK"
        };
        return (title.into(), lines);
    }
    let title = match proposal {
        Proposal::Advance | Proposal::Weight(_) => {
            lines.push(format!("Canary traffic {} → {}", change.from, change.to));
            lines.push(format!("Listener rule: {}", model.service.listener_rule));
            if proposal == Proposal::Advance {
                let from = model.canary_weight().unwrap_or(0);
                if let Some((index, step)) = model.plan.next_step(from) {
                    let bake = step.bake.map_or("no bake".to_string(), |b| {
                        format!("bake {}", crate::core::update::humanize(b))
                    });
                    lines.push(format!(
                        "Plan: step {} of {}, {bake}",
                        index + 1,
                        model.plan.steps.len()
                    ));
                }
                "Advance canary"
            } else {
                "Set canary weight"
            }
        }
        Proposal::Promote => {
            lines.push(format!("Promote: {} → {}", change.from, change.to));
            "Promote canary"
        }
        Proposal::Approve | Proposal::Reject => {
            let approve = proposal == Proposal::Approve;
            if let Some(run) = model.pipeline.value()
                && let Some(p) = &run.pending
            {
                lines.push(format!(
                    "{} run #{} ({}) for environment {}",
                    if approve { "Approve" } else { "Reject" },
                    run.number,
                    crate::core::update::short_sha(&run.sha),
                    p.environment
                ));
                if approve {
                    lines.push(format!(
                        "Reviews {}/{} → {}/{}",
                        p.approvals,
                        p.required_reviewers,
                        p.approvals + 1,
                        p.required_reviewers
                    ));
                } else {
                    lines.push("The run's deployment job fails; the canary stays as it is".into());
                }
                lines.push("The reason is GitHub's review comment".into());
            }
            if approve {
                "Approve deployment"
            } else {
                "Reject deployment"
            }
        }
        Proposal::Rollback => {
            lines.push(format!(
                "Canary traffic {} → 0%, all to stable first",
                change.from
            ));
            match plans::applicable_baseline(model) {
                Some(b) => lines.push(format!(
                    "Release baseline: stable {} (release {})",
                    b.stable_task_definition, b.release_task_definition
                )),
                None => lines.push("Release baseline: not confirmed".into()),
            }
            for note in &change.notes {
                lines.push(format!("Left as it is: {note}"));
            }
            if let Some(r) = &model.running {
                lines.push(format!("Stops {} (after the call under way)", r.at()));
            }
            "ROLL BACK"
        }
    };
    if matches!(
        proposal,
        Proposal::Advance | Proposal::Weight(_) | Proposal::Promote
    ) && let Some(p) = model.pipeline.value().and_then(|r| r.pending.as_ref())
    {
        lines.push(format!(
            "Note: the deployment to {} is still waiting for approval",
            p.environment
        ));
    }
    (title.to_string(), lines)
}

/// A key or command asked for a change: check the policy, compute the
/// plan, and open its dialog.
pub(in crate::core::update) fn propose(model: &mut Model, proposal: Proposal, ctx: &Ctx) {
    let req = match requirements(model, proposal, ctx) {
        Ok(req) => req,
        Err(why) => return model.set_status(Level::Error, why),
    };
    let change = match build(model, proposal) {
        Ok(c) => c,
        Err(why) => {
            let level = if why.starts_with("nothing") || why.contains("already") {
                Level::Info
            } else {
                Level::Error
            };
            return model.set_status(level, why);
        }
    };
    let (title, lines) = summary(model, proposal, &change);
    let field = if req.type_name {
        ConfirmField::Name
    } else {
        ConfirmField::Reason
    };
    let running = model.running.as_ref().map(|r| r.change.id);
    model.overlay = Overlay::Confirm(Box::new(Confirm {
        title,
        proposal,
        running,
        change,
        lines,
        needs_name: req.type_name,
        needs_reason: req.reason,
        outside_window: req.outside_window,
        name: Input::default(),
        reason: Input::default(),
        field,
        error: None,
    }));
}

/// What differs between the plan shown and the plan now, in words.
pub(in crate::core::update) fn difference(shown: &Change, now: &Change) -> String {
    if shown.from != now.from || shown.to != now.to {
        return format!(
            "it was {} → {}, it is now {} → {}",
            shown.from, shown.to, now.from, now.to
        );
    }
    let first = shown
        .steps
        .iter()
        .zip(&now.steps)
        .position(|(a, b)| a != b)
        .unwrap_or(shown.steps.len().min(now.steps.len()));
    match (shown.steps.get(first), now.steps.get(first)) {
        (Some(a), Some(b)) => format!(
            "step {} was \"{}\", it is now \"{}\"",
            first + 1,
            a.describe(),
            b.describe()
        ),
        (Some(a), None) => format!(
            "step {} (\"{}\") is no longer needed",
            first + 1,
            a.describe()
        ),
        (None, Some(b)) => format!("a step was added: \"{}\"", b.describe()),
        (None, None) => "what the policy asks for changed".into(),
    }
}

/// Enter on a complete dialog: compute the plan again from the model as it
/// is now; if it is not what the dialog showed, show the new plan and ask
/// again; else start it.
pub(in crate::core::update) fn confirm(
    model: &mut Model,
    mut dialog: Confirm,
    reason: String,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let is_rollback = dialog.proposal == Proposal::Rollback;
    let now = requirements(model, dialog.proposal, ctx)
        .and_then(|req| Ok((req, build(model, dialog.proposal)?)));
    let (req, change) = match now {
        Ok(v) => v,
        Err(why) => {
            model.set_status(Level::Error, format!("not done, no longer possible: {why}"));
            return;
        }
    };
    let same_req = req.type_name == dialog.needs_name
        && req.reason == dialog.needs_reason
        && req.outside_window == dialog.outside_window;
    let running = model.running.as_ref().map(|r| r.change.id);
    if !change.same_plan(&dialog.change) || !same_req || running != dialog.running {
        let what = if !change.same_plan(&dialog.change) {
            difference(&dialog.change, &change)
        } else if running != dialog.running {
            match &model.running {
                Some(r) => format!("{} started; this stops it", r.at()),
                None => "the change under way ended".to_string(),
            }
        } else {
            "the change window or policy changed".to_string()
        };
        dialog.running = running;
        let (title, lines) = summary(model, dialog.proposal, &change);
        dialog.title = title;
        dialog.lines = lines;
        dialog.change = change;
        dialog.needs_name = req.type_name;
        dialog.needs_reason = req.reason;
        dialog.outside_window = req.outside_window;
        if dialog.needs_reason && reason.is_empty() && !dialog.needs_name {
            dialog.field = ConfirmField::Reason;
        }
        dialog.error = Some(format!(
            "Changed since shown: {what}. Check the steps, then Enter again."
        ));
        model.overlay = Overlay::Confirm(Box::new(dialog));
        return;
    }
    let reason = (!reason.is_empty()).then_some(reason);
    if is_rollback {
        start_rollback(model, reason, false, ctx, fx);
    } else {
        let mut change = change;
        // A review posts the reason as its comment.
        for step in &mut change.steps {
            if let Step::Review { comment, .. } = step {
                *comment = reason.clone().unwrap_or_default();
            }
        }
        change.reason = reason;
        start(model, change, ctx, fx);
    }
}

/// What a dialog line is, for its style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogRole {
    Title,
    Text,
    Step,
    Warn,
    Field(ConfirmField),
    Error,
    Hint,
}

/// The dialog's lines, wrapped to `inner` columns: the view draws exactly
/// these, and `dialog_fits` counts exactly these. Fields are one row each
/// (the view scrolls a long value).
pub fn dialog_lines(
    confirm: &Confirm,
    service: &str,
    environment: &str,
    inner: u16,
) -> Vec<(DialogRole, String)> {
    let inner = usize::from(inner.max(8));
    let mut out = Vec::new();
    let mut push = |role: DialogRole, text: &str| {
        for row in wrap(text, inner) {
            out.push((role, row));
        }
    };
    push(DialogRole::Title, &format!("{service} · {environment}"));
    for line in &confirm.lines {
        push(DialogRole::Text, line);
    }
    push(DialogRole::Text, "Steps:");
    for line in confirm.change.step_lines() {
        push(DialogRole::Step, &format!("  {line}"));
    }
    if let Some(window) = &confirm.outside_window {
        push(DialogRole::Warn, window);
    }
    push(DialogRole::Text, "");
    if confirm.needs_name {
        out.push((
            DialogRole::Field(ConfirmField::Name),
            format!("Type {service} to confirm:"),
        ));
    }
    if confirm.needs_reason {
        out.push((DialogRole::Field(ConfirmField::Reason), "Reason:".into()));
    }
    let mut push = |role: DialogRole, text: &str| {
        for row in wrap(text, inner) {
            out.push((role, row));
        }
    };
    if let Some(error) = &confirm.error {
        push(DialogRole::Error, error);
    }
    push(
        DialogRole::Hint,
        "Enter confirm · Esc cancel · Tab next field",
    );
    out
}

/// The dialog's width and height (with borders) on a screen this wide.
pub fn dialog_size(confirm: &Confirm, model: &Model, screen_width: u16) -> (u16, u16) {
    let width = DIALOG_WIDTH.min(screen_width);
    let rows = dialog_lines(
        confirm,
        &model.service.name,
        &model.service.environment,
        width.saturating_sub(2),
    )
    .len();
    (width, u16::try_from(rows + 2).unwrap_or(u16::MAX))
}

/// What Enter says on a dialog that is not wholly on screen.
pub const ENLARGE: &str = "enlarge the terminal to confirm";

/// Whether all of the dialog is on screen (an unknown size is not).
pub fn dialog_fits(model: &Model, confirm: &Confirm) -> bool {
    let Some((w, h)) = model.screen else {
        return false;
    };
    // Narrower than this, the fields cannot show what is typed.
    if w < 40 {
        return false;
    }
    let (_, rows) = dialog_size(confirm, model, w);
    rows <= h
}

/// Greedy word wrap by display width; a word longer than a row is cut.
pub(in crate::core::update) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut rows = Vec::new();
    let mut row = String::new();
    for word in text.split(' ') {
        let sep = usize::from(!row.is_empty());
        if row.width() + sep + word.width() <= width {
            if sep == 1 {
                row.push(' ');
            }
            row.push_str(word);
            continue;
        }
        if !row.is_empty() {
            rows.push(std::mem::take(&mut row));
        }
        let mut rest = word;
        while rest.width() > width {
            let mut cut = 0;
            let mut w = 0;
            for (i, c) in rest.char_indices() {
                let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
                if w + cw > width {
                    break;
                }
                w += cw;
                cut = i + c.len_utf8();
            }
            if cut == 0 {
                break;
            }
            rows.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        row.push_str(rest);
    }
    rows.push(row);
    rows
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 4), [""]);
        assert_eq!(wrap("→ x", 3), ["→ x"]);
    }
}
