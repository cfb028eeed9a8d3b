//! The changes of the scriptable commands: the same dialog as the console,
//! filled from the arguments (or typed at a terminal), confirmed, followed
//! step by step, and one result line naming the service; the exit code
//! comes from the kind of the failure.

use std::io::{BufRead, Write};

use super::*;

pub(super) fn status_text_of(model: &Model) -> Option<(Level, String)> {
    model.status.as_ref().map(|s| (s.level, s.text.clone()))
}

/// Pause or resume: the same journal-first operator action as `p`.
pub(super) async fn operator_action(
    d: &mut Driver,
    word: &str,
    paused: bool,
    args: &ChangeArgs,
) -> u8 {
    let _ = args;
    if d.model.read_only {
        eprintln!("flightdeck: refused: read-only");
        return REFUSED;
    }
    d.send(Msg::Command(word.into()));
    if d.model.plan_state.paused == paused {
        let _ = say!("{word}: ok");
        return OK;
    }
    let done = d
        .until(Duration::from_secs(10), |m| {
            m.plan_state.paused == paused
                || m.status.as_ref().is_some_and(|s| s.level == Level::Error)
        })
        .await;
    if done && d.model.plan_state.paused == paused {
        let _ = say!("{word}: ok");
        OK
    } else {
        let why = status_text_of(&d.model)
            .map(|(_, t)| t)
            .unwrap_or("no answer".into());
        eprintln!("flightdeck: {word} not done: {}", crate::text::inert(&why));
        ERROR
    }
}

/// Ask at the terminal: the preview, then the typed confirmation and a
/// reason where the dialog needs them. None: not confirmed.
pub(super) fn ask(
    preview: &str,
    needs_name: Option<&str>,
    needs_reason: bool,
) -> Option<(Option<String>, Option<String>)> {
    eprintln!("{preview}");
    let stdin = std::io::stdin();
    let read = |prompt: &str| -> Option<String> {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        stdin.lock().read_line(&mut line).ok()?;
        Some(line.trim().to_string())
    };
    let name = match needs_name {
        Some(service) => {
            let typed = read(&format!("Type {service} to confirm: "))?;
            (typed == service).then_some(typed)?;
            Some(service.to_string())
        }
        None => {
            let typed = read("Proceed? [y/N] ")?;
            matches!(typed.as_str(), "y" | "Y" | "yes").then_some(())?;
            None
        }
    };
    let reason = if needs_reason {
        let r = read("Reason: ")?;
        (!r.is_empty()).then_some(r)
    } else {
        None
    };
    Some((name, reason))
}

/// A change through the same dialog as the console: opened by the command,
/// filled from the arguments (or typed), confirmed, then followed step by
/// step until it ends.
pub(super) async fn change(
    d: &mut Driver,
    command: &str,
    args: &ChangeArgs,
    service_given: bool,
) -> u8 {
    let _ = service_given;
    d.model.status = None;
    d.send(Msg::Command(command.into()));
    let Overlay::Confirm(dialog) = &d.model.overlay else {
        let why = status_text_of(&d.model)
            .map(|(_, t)| t)
            .unwrap_or_else(|| "the command opened no confirmation".into());
        eprintln!(
            "flightdeck: refused: {}; nothing was changed",
            crate::text::inert(&why)
        );
        return REFUSED;
    };
    let service = d.model.service.name.clone();
    let named = service_line(&d.model);
    let preview = {
        let mut p = vec![format!("{}: {named}", dialog.title)];
        p.extend(dialog.lines.iter().cloned());
        p.extend(dialog.change.step_lines());
        p.iter()
            .map(|l| crate::text::inert(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (needs_name, needs_reason) = (dialog.needs_name, dialog.needs_reason);
    let mut reason = args.reason.clone().filter(|r| !r.trim().is_empty());
    if !args.yes {
        // Asked on a thread of its own: the pollers keep the model fresh,
        // and a signal ends the command (the thread dies with the process).
        let (answer_tx, mut answer_rx) = tokio::sync::oneshot::channel();
        let (p, name, ask_reason) = (
            preview.clone(),
            needs_name.then(|| service.clone()),
            needs_reason && reason.is_none(),
        );
        std::thread::spawn(move || {
            let _ = answer_tx.send(ask(&p, name.as_deref(), ask_reason));
        });
        let answer = loop {
            tokio::select! {
                a = &mut answer_rx => break a.ok().flatten(),
                msg = d.rx.recv() => match msg {
                    Some(Msg::Shutdown(why)) => {
                        eprintln!("flightdeck: {why}: nothing was changed");
                        return ERROR;
                    }
                    Some(m) => d.send(m),
                    None => return ERROR,
                },
            }
        };
        match answer {
            Some((_, typed)) => reason = reason.or(typed),
            None => {
                d.send(Msg::Key(crate::core::action::Key::plain(
                    crate::core::action::KeyCode::Esc,
                )));
                eprintln!("flightdeck: not confirmed; nothing was changed");
                return REFUSED;
            }
        }
        // Time passed while asking: read ECS and the ALB again before the
        // recheck at Enter.
        let asked_at = d.sources.clock.now();
        d.refresh.notify_waiters();
        if !d
            .until(FIRST_READ, |m| {
                fresh_since(&m.fleet, asked_at) && fresh_since(&m.traffic, asked_at)
            })
            .await
        {
            eprintln!(
                "flightdeck: no fresh answer from ECS or the load balancer; nothing was changed"
            );
            return ERROR;
        }
    } else {
        let _ = say!("{preview}");
    }
    if needs_reason && reason.is_none() {
        eprintln!(
            "flightdeck: refused: {} needs a reason here (--reason TEXT); nothing was changed",
            command.split_whitespace().next().unwrap_or(command)
        );
        return REFUSED;
    }
    // Fill the dialog as an operator would, then Enter: the core rechecks
    // the plan against the world as it is now.
    use crate::core::action::{Key, KeyCode};
    if needs_name {
        d.send(Msg::Paste(service.clone()));
    }
    if let Some(reason) = &reason {
        if needs_reason {
            if needs_name
                && let Overlay::Confirm(c) = &d.model.overlay
                && c.field == ConfirmField::Name
            {
                d.send(Msg::Key(Key::plain(KeyCode::Tab)));
            }
            d.send(Msg::Paste(reason.clone()));
        } else if let Overlay::Confirm(c) = &mut d.model.overlay {
            // Not asked for, still worth keeping: the journal records it.
            c.reason = tui_input::Input::new(reason.clone());
        }
    }
    d.send(Msg::Key(Key::plain(KeyCode::Enter)));
    if let Overlay::Confirm(c) = &d.model.overlay {
        let why = c
            .error
            .clone()
            .unwrap_or_else(|| "the dialog did not accept".into());
        eprintln!(
            "flightdeck: refused: {}; nothing was changed",
            crate::text::inert(&why)
        );
        return REFUSED;
    }
    let Some(id) = d.model.running.as_ref().map(|r| r.change.id) else {
        let why = status_text_of(&d.model).map(|(_, t)| t).unwrap_or_default();
        eprintln!(
            "flightdeck: refused: {}; nothing was changed",
            crate::text::inert(&why)
        );
        return REFUSED;
    };
    // Follow it: each step as it starts, then one result line.
    let mut shown = None;
    loop {
        if let Some(r) = &d.model.running
            && shown != Some(r.index)
        {
            shown = Some(r.index);
            if let Some(step) = r.change.steps.get(r.index) {
                let _ = say!(
                    "step {}/{}: {}",
                    r.index + 1,
                    r.change.steps.len(),
                    crate::text::inert(&step.describe())
                );
            }
        }
        if d.model.running.as_ref().is_none_or(|r| r.change.id != id) {
            break;
        }
        match d.rx.recv().await {
            Some(msg) => d.send(msg),
            None => return ERROR,
        }
    }
    let Some(last) = d.model.last_change.as_ref().filter(|l| l.change.id == id) else {
        eprintln!("flightdeck: the change ended without a result; check the journal");
        return ERROR;
    };
    let result = crate::text::inert(&last.result);
    let line = format!(
        "{named}: {} {}: {}",
        last.change.kind.action_name(),
        last.change.to,
        result
    );
    if last.failure.is_none() {
        let _ = say!("{line}");
        OK
    } else {
        eprintln!("flightdeck: {line}");
        exit_code_of(last.failure)
    }
}

/// The exit code of a change that did not end well, from the kind of its
/// failure (never from the words of its result).
pub(super) fn exit_code_of(failure: Option<crate::core::model::ErrorKind>) -> u8 {
    use crate::core::model::ErrorKind;
    match failure {
        None => OK,
        Some(ErrorKind::Timeout) => TIMEOUT,
        Some(ErrorKind::Conflict | ErrorKind::Held | ErrorKind::Preempted) => REFUSED,
        Some(_) => ERROR,
    }
}

/// The service as the operator must read it in every preview and result:
/// its name, environment, and where it lives.
pub(super) fn service_line(model: &Model) -> String {
    let s = &model.service;
    crate::text::inert(&format!(
        "{} ({}) · {}/{} in {} {}",
        s.name, s.environment, s.cluster, s.stable_service, s.account, s.region
    ))
}
