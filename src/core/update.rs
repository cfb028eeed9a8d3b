//! `update`: the one function that changes the model. Pure: it takes a
//! message and returns effects as data, so every rule here is tested without
//! a terminal, a runtime or a network.

use tui_input::{Input, InputRequest};

use super::action::{Action, Key, KeyCode};
use super::analysis::{self, OnFailure, Outcome};
use super::effect::{ChangeOp, ChangeOutcome, ChangeRequest, Effect, JournalRecord};
use super::model::{
    Confirm, ConfirmField, FleetSnapshot, JournalKind, Level, LogLine, MAX_METRIC_POINTS,
    MetricPoint, Model, Overlay, Pane, PipelineRun, Prompt, Track, TrafficSplit,
};
use super::msg::Msg;
use super::plan::Phase;
use super::policy;

/// What `update` needs from outside: the time and who is at the keyboard.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub now: super::model::Time,
    pub operator: String,
}

/// Commands of the `:` line, for completion and hints.
pub const COMMANDS: [&str; 13] = [
    "advance", "weight", "promote", "pause", "resume", "approve", "rollback", "theme", "service",
    "filter", "help", "quit", "q",
];

/// ECS event ids remembered to journal each event once.
const MAX_SEEN_EVENTS: usize = 500;

pub fn update(model: &mut Model, msg: Msg, ctx: &Ctx) -> Vec<Effect> {
    model.now = ctx.now;
    model.dirty = true;
    let mut fx = Vec::new();
    match msg {
        Msg::Key(key) => on_key(model, key, ctx, &mut fx),
        Msg::Paste(text) => {
            for c in text.chars().filter(|c| !c.is_control()) {
                on_key(model, Key::char(c), ctx, &mut fx);
            }
        }
        // The next frame is drawn at the new size.
        Msg::Resize(..) => {}
        Msg::Tick => on_tick(model, ctx, &mut fx),
        Msg::Pipeline(result) => match result {
            Ok(run) => on_pipeline(model, run, ctx),
            Err(e) => model.pipeline.fail(e, ctx.now),
        },
        Msg::Fleet(result) => match result {
            Ok(fleet) => on_fleet(model, fleet, ctx),
            Err(e) => model.fleet.fail(e, ctx.now),
        },
        Msg::Traffic(result) => match result {
            Ok(split) => on_traffic(model, split, ctx),
            Err(e) => model.traffic.fail(e, ctx.now),
        },
        Msg::Metrics(result) => match result {
            Ok(points) => on_metrics(model, points),
            Err(e) => model.metrics.error = Some(e),
        },
        Msg::Logs(result) => match result {
            Ok(lines) => on_logs(model, lines),
            Err(e) => model.logs.error = Some(e),
        },
        Msg::ChangeDone { id, result } => on_change_done(model, id, result, ctx, &mut fx),
        Msg::JournalFailed(why) => {
            model.set_status(Level::Error, format!("journal: {why}"));
            model.push_journal(
                ctx.now,
                JournalKind::Error,
                format!("journal write failed: {why}"),
            );
        }
    }
    fx
}

// ----- keys -------------------------------------------------------------------

fn on_key(model: &mut Model, key: Key, ctx: &Ctx, fx: &mut Vec<Effect>) {
    match std::mem::take(&mut model.overlay) {
        Overlay::None => {}
        Overlay::Help => {
            // Any key closes help; q still quits.
            if model.keymap.action_for(key) == Some(Action::Quit) {
                quit(model, fx);
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
    if key == Key::plain(KeyCode::Esc) {
        escape(model);
        return;
    }
    if let Some(action) = model.keymap.action_for(key) {
        on_action(model, action, ctx, fx);
    }
}

/// Quit; while a change is under way, only when asked twice.
fn quit(model: &mut Model, fx: &mut Vec<Effect>) {
    let armed = model
        .status
        .as_ref()
        .is_some_and(|s| s.text.starts_with(QUIT_AGAIN));
    if let Some(change) = model.in_flight.first()
        && !armed
    {
        let text = format!(
            "{QUIT_AGAIN}: {} {} → {} is under way (quitting waits for it to finish)",
            change.op.action_name(),
            change.from,
            change.to
        );
        model.set_status(Level::Warn, text);
        return;
    }
    model.quit = true;
    fx.push(Effect::Quit);
}

const QUIT_AGAIN: &str = "press q again to quit";

/// Esc outside any dialog: unzoom, else clear the focused pane's filter.
fn escape(model: &mut Model) {
    if model.zoom {
        model.zoom = false;
    } else if matches!(model.focus, Pane::Logs | Pane::Tasks) {
        set_filter(model, model.focus, "");
    }
}

fn on_action(model: &mut Model, action: Action, ctx: &Ctx, fx: &mut Vec<Effect>) {
    match action {
        Action::Help => model.overlay = Overlay::Help,
        Action::Quit => quit(model, fx),
        Action::FocusNext => model.focus = model.focus.next(),
        Action::FocusPrev => model.focus = model.focus.prev(),
        Action::Up => move_selection(model, -1),
        Action::Down => move_selection(model, 1),
        Action::Top => move_selection(model, i64::MIN / 2),
        Action::Bottom => move_selection(model, i64::MAX / 2),
        Action::Follow => {
            model.logs.follow = !model.logs.follow;
            model.logs.scroll = 0;
            let state = if model.logs.follow {
                "following"
            } else {
                "paused"
            };
            model.set_status(Level::Info, format!("logs: {state}"));
        }
        Action::Zoom => model.zoom = !model.zoom,
        Action::Filter => open_filter(model),
        Action::Command => {
            model.prompt = Prompt::Command {
                input: Input::default(),
                hint: Some(COMMANDS.join(" ")),
            }
        }
        Action::Pause => toggle_pause(model, ctx, fx),
        Action::Advance => propose_advance(model, ctx),
        Action::SetWeight => {
            if let Err(why) = change_allowed(model, false, ctx) {
                model.set_status(Level::Error, why);
                return;
            }
            model.overlay = Overlay::Weight {
                input: Input::default(),
                error: None,
            };
        }
        Action::Promote => propose_promote(model, ctx),
        Action::Approve => propose_approve(model, ctx),
        Action::Rollback => propose_rollback(model, ctx),
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
fn edit(input: &mut Input, key: Key) -> bool {
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
fn set_filter(model: &mut Model, pane: Pane, text: &str) {
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

fn on_command_key(
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
fn command_hint(text: &str) -> Option<String> {
    let word = text.split_whitespace().next().unwrap_or("");
    let usage = match word {
        "weight" => Some("weight N   set canary weight to N% (0-100)"),
        "theme" => Some("theme NAME   switch colour theme"),
        "service" => Some("service NAME   switch service"),
        "filter" => Some("filter TEXT   filter the focused pane"),
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

fn run_command(model: &mut Model, line: &str, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let mut words = line.split_whitespace();
    let Some(cmd) = words.next() else {
        return;
    };
    let arg = words.collect::<Vec<_>>().join(" ");
    match cmd {
        "q" | "quit" => quit(model, fx),
        "help" => model.overlay = Overlay::Help,
        "advance" => propose_advance(model, ctx),
        "promote" => propose_promote(model, ctx),
        "approve" => propose_approve(model, ctx),
        "rollback" => propose_rollback(model, ctx),
        "pause" | "resume" => {
            let want_paused = cmd == "pause";
            if model.plan_state.paused != want_paused {
                toggle_pause(model, ctx, fx);
            } else {
                model.set_status(Level::Info, format!("already {}d", cmd));
            }
        }
        "weight" => match parse_weight(&arg) {
            Ok(weight) => propose_weight(model, weight, ctx),
            Err(why) => model.set_status(Level::Error, format!(":weight {arg}: {why}")),
        },
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
            } else {
                model.set_status(
                    Level::Error,
                    format!(
                        "unknown service `{arg}`: this console watches {} (add [[service]] to the config and start with --service NAME)",
                        model.service.name
                    ),
                );
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

fn on_weight_key(model: &mut Model, mut input: Input, error: Option<String>, key: Key, ctx: &Ctx) {
    match key.code {
        KeyCode::Esc => model.set_status(Level::Info, "cancelled: nothing changed"),
        KeyCode::Enter => match parse_weight(input.value()) {
            Ok(weight) => propose_weight(model, weight, ctx),
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
            // Enter on the name field moves on to the reason when one is needed.
            if confirm.field == ConfirmField::Name
                && confirm.needs_reason
                && confirm.reason.value().trim().is_empty()
            {
                if confirm.name.value() == model.service.name {
                    confirm.field = ConfirmField::Reason;
                    confirm.error = None;
                } else {
                    confirm.error = Some(format!("type {} to confirm", model.service.name));
                }
                model.overlay = Overlay::Confirm(Box::new(confirm));
                return;
            }
            if confirm.needs_name && confirm.name.value() != model.service.name {
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
            let mut request = confirm.request;
            request.reason = (!reason.is_empty()).then_some(reason);
            start_change(model, request, ctx, fx);
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

// ----- changes ----------------------------------------------------------------

/// Read-only, a change already running, or data not loaded yet.
fn change_allowed(
    model: &Model,
    is_rollback: bool,
    ctx: &Ctx,
) -> Result<policy::Requirements, String> {
    let req = policy::requirements(
        model.read_only,
        model.service.protected,
        model.service.change_window.as_ref(),
        is_rollback,
        ctx.now,
    )?;
    // A rollback may overtake anything; other changes wait their turn.
    if !is_rollback && let Some(running) = model.in_flight.first() {
        return Err(format!(
            "a change is in progress ({}): wait for it to finish",
            running.op.action_name()
        ));
    }
    Ok(req)
}

fn traffic_or_refuse(model: &mut Model) -> Option<u8> {
    let weight = model.canary_weight();
    if weight.is_none() {
        model.set_status(
            Level::Error,
            "traffic weights are not loaded yet: wait for the Canary pane",
        );
    }
    weight
}

fn canary_running(model: &Model) -> u32 {
    model
        .fleet
        .value()
        .and_then(|f| f.service(Track::Canary))
        .map_or(0, |s| s.running)
}

fn new_request(model: &mut Model, op: ChangeOp, from: String, to: String) -> ChangeRequest {
    let id = model.next_change_id;
    model.next_change_id += 1;
    ChangeRequest {
        id,
        op,
        service: model.service.name.clone(),
        from,
        to,
        reason: None,
        automatic: false,
    }
}

/// Open the dialog of a change the policy allowed, asking for what `req` says.
fn open_confirm(
    model: &mut Model,
    title: &str,
    lines: Vec<String>,
    request: ChangeRequest,
    req: policy::Requirements,
) {
    let field = if req.type_name {
        ConfirmField::Name
    } else {
        ConfirmField::Reason
    };
    model.overlay = Overlay::Confirm(Box::new(Confirm {
        title: title.to_string(),
        lines,
        request,
        needs_name: req.type_name,
        needs_reason: req.reason,
        outside_window: req.outside_window,
        name: Input::default(),
        reason: Input::default(),
        field,
        error: None,
    }));
}

fn weight_lines(model: &Model, from: u8, to: u8) -> Vec<String> {
    vec![
        format!(
            "Canary traffic {from}% → {to}%  (stable {}% → {}%)",
            100 - u32::from(from),
            100 - u32::from(to)
        ),
        format!("Listener rule: {}", model.service.listener_rule),
    ]
}

fn propose_weight(model: &mut Model, weight: u8, ctx: &Ctx) {
    let req = match change_allowed(model, false, ctx) {
        Ok(req) => req,
        Err(why) => return model.set_status(Level::Error, why),
    };
    let Some(from) = traffic_or_refuse(model) else {
        return;
    };
    if from == weight {
        return model.set_status(
            Level::Info,
            format!("canary is already at {weight}%: nothing to change"),
        );
    }
    if weight > 0 && canary_running(model) == 0 {
        return model.set_status(
            Level::Error,
            "the canary service has no running task: traffic to it would fail. Deploy a canary first.",
        );
    }
    let op = ChangeOp::SetCanaryWeight { weight };
    let request = new_request(model, op, format!("{from}%"), format!("{weight}%"));
    let lines = weight_lines(model, from, weight);
    open_confirm(model, "Set canary weight", lines, request, req);
}

fn propose_advance(model: &mut Model, ctx: &Ctx) {
    let req = match change_allowed(model, false, ctx) {
        Ok(req) => req,
        Err(why) => return model.set_status(Level::Error, why),
    };
    let Some(from) = traffic_or_refuse(model) else {
        return;
    };
    let Some((index, step)) = model.plan.next_step(from) else {
        let promote = model.keymap.hint(Action::Promote);
        return model.set_status(
            Level::Info,
            format!("canary is at {from}%: the plan has no further step; promote with {promote}"),
        );
    };
    if canary_running(model) == 0 {
        return model.set_status(
            Level::Error,
            "the canary service has no running task: nothing to advance",
        );
    }
    let op = ChangeOp::SetCanaryWeight {
        weight: step.weight,
    };
    let request = new_request(model, op, format!("{from}%"), format!("{}%", step.weight));
    let mut lines = weight_lines(model, from, step.weight);
    let bake = step
        .bake
        .map_or("no bake".to_string(), |b| format!("bake {}", humanize(b)));
    lines.push(format!(
        "Plan: step {} of {}, {bake}",
        index + 1,
        model.plan.steps.len()
    ));
    if model.plan.is_last(index)
        && let Some(p) = model.pipeline.value().and_then(|r| r.pending.as_ref())
    {
        lines.push(format!(
            "Note: the deployment to {} is still waiting for approval",
            p.environment
        ));
    }
    open_confirm(model, "Advance canary", lines, request, req);
}

fn promote_request(model: &mut Model) -> Result<(ChangeRequest, Vec<String>), String> {
    let from = model
        .canary_weight()
        .ok_or("traffic weights are not loaded yet")?;
    let fleet = model
        .fleet
        .value()
        .ok_or("ECS services are not loaded yet")?;
    let canary = fleet
        .service(Track::Canary)
        .filter(|s| s.running > 0)
        .ok_or("the canary service has no running task: nothing to promote")?;
    let stable = fleet
        .service(Track::Stable)
        .ok_or("the stable service is not loaded yet")?;
    let lines = vec![
        format!("Canary traffic {from}% → 100%"),
        format!(
            "{}: {} → {} ({} tasks)",
            stable.name, stable.task_definition, canary.task_definition, stable.desired
        ),
        format!(
            "Then traffic back to {} (100%), {} scaled to 0",
            stable.name, canary.name
        ),
    ];
    let op = ChangeOp::Promote {
        canary_task_definition: canary.task_definition.clone(),
    };
    let to = format!("stable {}", canary.task_definition);
    let from_text = format!("canary {from}%, stable {}", stable.task_definition);
    Ok((new_request(model, op, from_text, to), lines))
}

fn propose_promote(model: &mut Model, ctx: &Ctx) {
    let req = match change_allowed(model, false, ctx) {
        Ok(req) => req,
        Err(why) => return model.set_status(Level::Error, why),
    };
    match promote_request(model) {
        Ok((request, lines)) => open_confirm(model, "Promote canary", lines, request, req),
        Err(why) => model.set_status(Level::Error, why),
    }
}

fn propose_approve(model: &mut Model, ctx: &Ctx) {
    let req = match change_allowed(model, false, ctx) {
        Ok(req) => req,
        Err(why) => return model.set_status(Level::Error, why),
    };
    let Some(run) = model.pipeline.value() else {
        return model.set_status(Level::Error, "the pipeline is not loaded yet");
    };
    let Some(pending) = run.pending.clone() else {
        return model.set_status(
            Level::Info,
            "nothing to approve: no deployment is waiting for review",
        );
    };
    let (run_id, number, sha) = (
        run.id,
        run.number,
        run.sha.chars().take(7).collect::<String>(),
    );
    let lines = vec![
        format!(
            "Approve run #{number} ({sha}) for environment {}",
            pending.environment
        ),
        format!(
            "Reviews {}/{} → {}/{}",
            pending.approvals,
            pending.required_reviewers,
            pending.approvals + 1,
            pending.required_reviewers
        ),
    ];
    let op = ChangeOp::Approve {
        run_id,
        environment: pending.environment.clone(),
    };
    let request = new_request(model, op, "waiting".into(), "approved".into());
    open_confirm(model, "Approve deployment", lines, request, req);
}

fn rollback_request(model: &mut Model) -> Result<(ChangeRequest, Vec<String>), String> {
    let from = model
        .canary_weight()
        .ok_or("traffic weights are not loaded yet")?;
    let fleet = model.fleet.value();
    let canary = fleet.and_then(|f| f.service(Track::Canary));
    let stable = fleet.and_then(|f| f.service(Track::Stable));
    let mut lines = vec![format!(
        "Traffic: canary {from}% → 0%, stable {}% → 100% (one call)",
        100 - u32::from(from)
    )];
    let (canary_service, previous) = match (&model.service.canary_service, canary) {
        (Some(name), info) => {
            let running = info.map_or(0, |s| s.desired);
            if from == 0 && running == 0 {
                return Err("nothing to roll back: the canary has no traffic and no tasks".into());
            }
            lines.push(format!("Then: scale {name} {running} → 0 tasks"));
            (Some(name.clone()), None)
        }
        (None, _) => {
            let stable = stable.ok_or("the stable service is not loaded yet")?;
            let previous = stable.previous_task_definition().ok_or_else(|| {
                format!(
                    "{} has no previous PRIMARY task definition to go back to",
                    stable.name
                )
            })?;
            lines.push(format!(
                "Then: {} task definition {} → {previous}",
                stable.name, stable.task_definition
            ));
            (None, Some(previous.to_string()))
        }
    };
    let op = ChangeOp::Rollback {
        canary_service,
        previous_task_definition: previous,
    };
    Ok((
        new_request(model, op, format!("{from}%"), "0%".into()),
        lines,
    ))
}

fn propose_rollback(model: &mut Model, ctx: &Ctx) {
    let req = match change_allowed(model, true, ctx) {
        Ok(req) => req,
        Err(why) => return model.set_status(Level::Error, why),
    };
    match rollback_request(model) {
        Ok((request, lines)) => open_confirm(model, "ROLL BACK", lines, request, req),
        Err(why) => model.set_status(Level::Error, why),
    }
}

fn start_change(model: &mut Model, request: ChangeRequest, ctx: &Ctx, fx: &mut Vec<Effect>) {
    let who = if request.automatic {
        "auto"
    } else {
        ctx.operator.as_str()
    };
    let kind = if request.automatic {
        JournalKind::Automatic
    } else {
        JournalKind::Operator
    };
    let reason = request
        .reason
        .as_deref()
        .map(|r| format!(" — {r}"))
        .unwrap_or_default();
    model.push_journal(
        ctx.now,
        kind,
        format!(
            "{who}: {} {} → {} started{reason}",
            request.op.action_name(),
            request.from,
            request.to
        ),
    );
    model.set_status(
        Level::Info,
        format!(
            "{} {} → {}…",
            request.op.action_name(),
            request.from,
            request.to
        ),
    );
    model.in_flight.push(request.clone());
    fx.push(Effect::Change(request));
}

fn on_change_done(
    model: &mut Model,
    id: u64,
    result: Result<ChangeOutcome, String>,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let Some(pos) = model.in_flight.iter().position(|r| r.id == id) else {
        return;
    };
    let request = model.in_flight.remove(pos);
    let action = request.op.action_name();
    match result {
        Ok(outcome) => {
            let ids = if outcome.request_ids.is_empty() {
                String::new()
            } else {
                format!(" [{}]", outcome.request_ids.join(", "))
            };
            let kind = if request.automatic {
                JournalKind::Automatic
            } else {
                JournalKind::Operator
            };
            model.push_journal(
                ctx.now,
                kind,
                format!("{action} {} → {} done{ids}", request.from, request.to),
            );
            model.set_status(
                Level::Info,
                format!("{action} {} → {}: done", request.from, request.to),
            );
            // The call succeeded, so the rule has these weights now.
            match &request.op {
                ChangeOp::SetCanaryWeight { weight } => set_traffic(model, *weight, ctx),
                ChangeOp::Rollback { .. } => {
                    set_traffic(model, 0, ctx);
                    model.plan_state.phase = Phase::RolledBack;
                    model.analysis.consecutive_failures = 0;
                }
                ChangeOp::Promote { .. } => {
                    set_traffic(model, 0, ctx);
                    model.plan_state.phase = Phase::Promoted;
                }
                ChangeOp::Approve { .. } => {}
            }
            fx.push(Effect::Refresh);
        }
        Err(why) => {
            model.push_journal(
                ctx.now,
                JournalKind::Error,
                format!("{action} {} → {} FAILED: {why}", request.from, request.to),
            );
            model.set_status(Level::Error, format!("{action} failed: {why}"));
            fx.push(Effect::Refresh);
        }
    }
}

fn set_traffic(model: &mut Model, canary: u8, ctx: &Ctx) {
    let split = TrafficSplit {
        stable: 100 - canary,
        canary,
    };
    on_traffic(model, split, ctx);
}

fn toggle_pause(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if model.read_only {
        return model.set_status(
            Level::Error,
            "read-only: changes are disabled (started with --read-only)",
        );
    }
    model.plan_state.paused = !model.plan_state.paused;
    let (action, from, to) = if model.plan_state.paused {
        ("pause", "running", "paused")
    } else {
        ("resume", "paused", "running")
    };
    model.push_journal(
        ctx.now,
        JournalKind::Operator,
        format!("{}: automatic progression {to}", ctx.operator),
    );
    model.set_status(Level::Info, format!("automatic progression {to}"));
    fx.push(Effect::Journal(JournalRecord {
        time: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        operator: ctx.operator.clone(),
        service: model.service.name.clone(),
        action: action.into(),
        from: from.into(),
        to: to.into(),
        reason: None,
        result: "ok".into(),
        request_ids: Vec::new(),
        automatic: false,
    }));
}

// ----- data -------------------------------------------------------------------

fn on_pipeline(model: &mut Model, run: PipelineRun, ctx: &Ctx) {
    let mut notes = Vec::new();
    match model.pipeline.value() {
        Some(old) if old.id == run.id => {
            for stage in &run.stages {
                let before = old
                    .stages
                    .iter()
                    .find(|s| s.name == stage.name)
                    .map(|s| s.status);
                if before != Some(stage.status) {
                    notes.push(format!("{}: {}", stage.name, stage.status.label()));
                }
            }
            match (&old.pending, &run.pending) {
                (None, Some(p)) => notes.push(format!(
                    "deployment to {} waiting for approval",
                    p.environment
                )),
                (Some(p), None) => notes.push(format!("deployment to {} approved", p.environment)),
                _ => {}
            }
        }
        _ => {
            let waiting = run
                .pending
                .as_ref()
                .map(|p| format!(", waiting for approval on {}", p.environment))
                .unwrap_or_default();
            notes.push(format!(
                "run #{} {} by {}{waiting}",
                run.number,
                short_sha(&run.sha),
                run.author
            ));
        }
    }
    for note in notes {
        model.push_journal(ctx.now, JournalKind::Pipeline, note);
    }
    model.pipeline.set(run, ctx.now);
}

pub fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn on_fleet(model: &mut Model, fleet: FleetSnapshot, ctx: &Ctx) {
    let mut events: Vec<_> = fleet
        .events
        .iter()
        .filter(|e| !model.seen_events.contains(&e.id))
        .collect();
    events.sort_by_key(|e| e.at);
    for event in events {
        model.push_journal(event.at, JournalKind::Ecs, event.message.clone());
        model.seen_events.push(event.id.clone());
    }
    if model.seen_events.len() > MAX_SEEN_EVENTS {
        let extra = model.seen_events.len() - MAX_SEEN_EVENTS;
        model.seen_events.drain(..extra);
    }
    let len = fleet.tasks.len();
    model.fleet.set(fleet, ctx.now);
    model.tasks_view.selected = model.tasks_view.selected.min(len.saturating_sub(1));
}

fn on_traffic(model: &mut Model, split: TrafficSplit, ctx: &Ctx) {
    let new = split.canary_pct();
    match model.canary_weight() {
        Some(old) if old != new => model.push_journal(
            ctx.now,
            JournalKind::Traffic,
            format!("canary {old}% → {new}% (stable {}%)", 100 - u32::from(new)),
        ),
        None => model.push_journal(ctx.now, JournalKind::Traffic, format!("canary at {new}%")),
        _ => {}
    }
    let before = model.plan_state.step;
    model.plan_state.observe(&model.plan, new, ctx.now);
    if model.plan_state.step != before {
        // A new step is judged on its own data.
        model.analysis.consecutive_failures = 0;
        model.analysis.last_run = Some(ctx.now);
    }
    model.traffic.set(split, ctx.now);
}

fn on_metrics(model: &mut Model, points: Vec<MetricPoint>) {
    let last = model.metrics.last_at;
    for point in points.into_iter().filter(|p| last.is_none_or(|l| p.at > l)) {
        let series = match point.track {
            Track::Canary => &mut model.metrics.canary,
            Track::Stable => &mut model.metrics.stable,
        };
        if series.len() == MAX_METRIC_POINTS {
            series.pop_front();
        }
        series.push_back(point);
        model.metrics.last_at = Some(model.metrics.last_at.map_or(point.at, |l| l.max(point.at)));
    }
    model.metrics.error = None;
}

fn on_logs(model: &mut Model, lines: Vec<LogLine>) {
    let mut shown = 0;
    for line in lines {
        if model.logs.push(line) {
            shown += 1;
        }
    }
    if !model.logs.follow {
        // Keep the lines the operator is reading where they are.
        model.logs.scroll =
            (model.logs.scroll + shown).min(model.logs.shown_len().saturating_sub(1));
    }
    model.logs.error = None;
}

// ----- the tick: analysis and the plan -----------------------------------------

fn on_tick(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if let Some(status) = &mut model.status
        && status.level == Level::Info
    {
        status.ticks_left = status.ticks_left.saturating_sub(1);
        if status.ticks_left == 0 {
            model.status = None;
        }
    }
    run_analysis(model, ctx, fx);
    progress(model, ctx, fx);
}

fn analysing(model: &Model) -> bool {
    matches!(model.plan_state.phase, Phase::Progressing | Phase::AtFull)
        && model.canary_weight().unwrap_or(0) > 0
}

fn run_analysis(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if !analysing(model) {
        return;
    }
    let settings = model.analysis_settings.clone();
    let Some(last) = model.analysis.last_run else {
        model.analysis.last_run = Some(ctx.now);
        return;
    };
    let interval = chrono::Duration::from_std(settings.interval).unwrap_or_default();
    if ctx.now - last < interval {
        return;
    }
    model.analysis.last_run = Some(ctx.now);
    let lookback = chrono::Duration::from_std(settings.lookback).unwrap_or_default();
    let since = model
        .plan_state
        .entered_at
        .map_or(ctx.now - lookback, |entered| {
            entered.max(ctx.now - lookback)
        });
    let canary: Vec<MetricPoint> = model.metrics.canary.iter().copied().collect();
    let stable: Vec<MetricPoint> = model.metrics.stable.iter().copied().collect();
    let verdict = analysis::evaluate(&canary, &stable, &settings, since, ctx.now);
    let number = model.analysis.verdicts.len() + 1;
    model.push_journal(
        ctx.now,
        JournalKind::Verdict,
        format!("#{number} {}: {}", verdict.outcome.label(), verdict.reason),
    );
    match verdict.outcome {
        Outcome::Pass => model.analysis.consecutive_failures = 0,
        Outcome::Fail => model.analysis.consecutive_failures += 1,
        // No data is not a pass, and not a failure of the canary either.
        Outcome::Inconclusive => {}
    }
    let reason = verdict.reason.clone();
    model.analysis.verdicts.push(verdict);
    if model.analysis.verdicts.len() > 500 {
        model.analysis.verdicts.remove(0);
    }
    if model.analysis.consecutive_failures >= settings.failures_before_action.max(1) {
        act_on_failure(model, settings.on_failure, &reason, ctx, fx);
    }
}

fn act_on_failure(
    model: &mut Model,
    on_failure: OnFailure,
    reason: &str,
    ctx: &Ctx,
    fx: &mut Vec<Effect>,
) {
    let failures = model.analysis.consecutive_failures;
    if model.read_only {
        model.set_status(
            Level::Error,
            format!("analysis failed {failures} times: would {on_failure:?} but read-only")
                .to_lowercase(),
        );
        model.push_journal(
            ctx.now,
            JournalKind::Automatic,
            format!("would {on_failure:?} (read-only): {reason}").to_lowercase(),
        );
        model.analysis.consecutive_failures = 0;
        return;
    }
    match on_failure {
        OnFailure::Rollback => {
            if model
                .in_flight
                .iter()
                .any(|r| matches!(r.op, ChangeOp::Rollback { .. }))
            {
                return;
            }
            match rollback_request(model) {
                Ok((mut request, _)) => {
                    request.automatic = true;
                    request.reason =
                        Some(format!("analysis failed {failures} intervals: {reason}"));
                    start_change(model, request, ctx, fx);
                    model.set_status(Level::Error, format!("automatic rollback: {reason}"));
                }
                Err(why) => model.set_status(
                    Level::Error,
                    format!("automatic rollback impossible: {why}"),
                ),
            }
        }
        OnFailure::Pause => {
            model.plan_state.paused = true;
            model.push_journal(
                ctx.now,
                JournalKind::Automatic,
                format!("paused by analysis: {reason}"),
            );
            model.set_status(Level::Error, format!("paused by analysis: {reason}"));
        }
        OnFailure::Alert => {
            model.push_journal(ctx.now, JournalKind::Automatic, format!("alert: {reason}"));
            model.set_status(Level::Error, format!("analysis failing: {reason}"));
        }
    }
    model.analysis.consecutive_failures = 0;
}

/// Why automatic progression is not moving, for the Canary pane; None when
/// it may move (or has nothing to do).
pub fn hold_reason(model: &Model) -> Option<String> {
    let settings = &model.analysis_settings;
    if !settings.auto_advance {
        return Some("manual: auto_advance is off".into());
    }
    if model.read_only {
        return Some("read-only".into());
    }
    if model.plan_state.paused {
        return Some("paused".into());
    }
    if !matches!(model.plan_state.phase, Phase::Progressing | Phase::AtFull) {
        return None;
    }
    let entered = model.plan_state.entered_at?;
    let latest = model
        .analysis
        .verdicts
        .iter()
        .rev()
        .find(|v| v.at >= entered);
    match latest.map(|v| v.outcome) {
        None => return Some("waiting for a verdict".into()),
        Some(Outcome::Inconclusive) => return Some("last verdict inconclusive".into()),
        Some(Outcome::Fail) => return Some("last verdict failed".into()),
        Some(Outcome::Pass) => {}
    }
    let weight = model.canary_weight()?;
    if let Some((index, _)) = model.plan.next_step(weight)
        && model.plan.is_last(index)
        && let Some(p) = model.pipeline.value().and_then(|r| r.pending.as_ref())
    {
        return Some(format!("waiting for approval on {}", p.environment));
    }
    None
}

fn progress(model: &mut Model, ctx: &Ctx, fx: &mut Vec<Effect>) {
    if !model.in_flight.is_empty() || hold_reason(model).is_some() {
        return;
    }
    let Some(weight) = model.canary_weight() else {
        return;
    };
    match model.plan_state.phase {
        Phase::Progressing => {
            if model.plan_state.bake_left(&model.plan, ctx.now) != Some(std::time::Duration::ZERO) {
                return;
            }
            let Some((_, step)) = model.plan.next_step(weight) else {
                return;
            };
            let op = ChangeOp::SetCanaryWeight {
                weight: step.weight,
            };
            let mut request =
                new_request(model, op, format!("{weight}%"), format!("{}%", step.weight));
            request.automatic = true;
            request.reason = Some("bake complete, analysis passing".into());
            start_change(model, request, ctx, fx);
        }
        Phase::AtFull => {
            if let Ok((mut request, _)) = promote_request(model) {
                request.automatic = true;
                request.reason = Some("plan complete, analysis passing".into());
                start_change(model, request, ctx, fx);
            }
        }
        _ => {}
    }
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
