//! A synchronous harness for tests: a demo model driven by a simulated
//! world at a clock the test controls. It does what the pollers and the
//! runner do, without tokio, so a whole release plays in microseconds.

#![allow(dead_code)]

pub mod fake_ecs;
pub mod moto;
pub mod proxy;

use chrono::TimeZone;
use flightdeck::app::demo_model;
use flightdeck::core::action::{Key, KeyCode, Keymap};
use flightdeck::core::change::Step;
use flightdeck::core::effect::{Effect, JournalRecord};
use flightdeck::core::model::{
    ErrorKind, LeaseGrant, LeaseHolder, Model, SourceError, Time, Track,
};
use flightdeck::core::msg::Msg;
use flightdeck::core::update::{Ctx, update};
use flightdeck::sources::demo::{World, scenario};

/// Sunday 2026-11-29 12:00 UTC: outside the seed's change window.
pub fn sunday() -> Time {
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Tuesday 2026-12-01 10:30 UTC: inside it.
pub fn tuesday() -> Time {
    chrono::Utc
        .with_ymd_and_hms(2026, 12, 1, 10, 30, 0)
        .single()
        .unwrap_or_default()
}

pub struct Harness {
    pub model: Model,
    pub world: World,
    pub now: Time,
    logs_after: Option<Time>,
    /// Every effect `update` returned, in order.
    pub effects: Vec<Effect>,
    /// Every call carried out, in order.
    pub calls: Vec<Step>,
    /// A failure to inject into the next call of the named step.
    pub fail: Option<(&'static str, SourceError)>,
    /// The service's lease as another actor would hold it: the next change
    /// to begin is refused with this (a rollback takes over instead and
    /// `took_over` names the holder).
    pub lease_holder: Option<LeaseHolder>,
    /// The lease was taken over (a rollback elsewhere): lease checks answer
    /// with this, and calls are refused with it as the runner would, until
    /// a rollback of this console takes the lease back.
    pub lease_lost: Option<SourceError>,
    /// The next change's begin fails with this (its start record or the
    /// lease cannot be written), for a change that is not a rollback.
    pub begin_fails: Option<SourceError>,
    /// Lease generations handed out.
    generation: u64,
}

impl Harness {
    pub fn new(scenario_name: &str, start: Time, read_only: bool) -> Harness {
        let scenario = scenario::by_name(scenario_name).unwrap_or(&scenario::GOOD);
        let mut h = Harness {
            model: demo_model(
                scenario.name,
                10,
                read_only,
                Keymap::default(),
                "default",
                start,
            ),
            world: World::new(scenario, start, 42),
            now: start,
            logs_after: None,
            effects: Vec::new(),
            calls: Vec::new(),
            fail: None,
            lease_holder: None,
            lease_lost: None,
            begin_fails: None,
            generation: 0,
        };
        h.send(Msg::Resize(160, 48));
        h.poll();
        h
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            now: self.now,
            operator: "tester".into(),
        }
    }

    /// Send one message; returns the effects it produced. The lease is
    /// answered at once, as the runner would (`lease_holder` set: another
    /// actor holds it), so a change's first call is among the effects.
    pub fn send(&mut self, msg: Msg) -> Vec<Effect> {
        let ctx = self.ctx();
        let fx = update(&mut self.model, msg, &ctx);
        self.effects.extend(fx.iter().cloned());
        let mut out = Vec::new();
        for effect in fx {
            match &effect {
                Effect::Begin(call) => {
                    let failure = self.begin_fails.take().filter(|_| !call.take_over);
                    let result = match (failure, &self.lease_holder) {
                        (Some(e), _) => Err(e),
                        (None, Some(h)) if !call.take_over => Err(SourceError::of_kind(
                            ErrorKind::Held,
                            format!("another change holds this service: {}", h.describe()),
                        )),
                        (None, held) => {
                            self.generation += 1;
                            Ok(Box::new(LeaseGrant {
                                generation: self.generation,
                                took_over: held.clone(),
                                abandoned: None,
                                expired: None,
                                unavailable: None,
                            }))
                        }
                    };
                    if result.is_ok() {
                        self.lease_holder = None;
                    }
                    if call.take_over {
                        // A rollback takes the lease back from whoever had it.
                        self.lease_lost = None;
                    }
                    out.push(effect.clone());
                    out.extend(self.send(Msg::Begun {
                        change: call.change,
                        result,
                    }));
                }
                Effect::CheckLease { change } if self.lease_lost.is_some() => {
                    let change = *change;
                    out.push(effect.clone());
                    if let Some(error) = self.lease_lost.clone() {
                        out.extend(self.send(Msg::LeaseLost { change, error }));
                    }
                }
                _ => out.push(effect),
            }
        }
        out
    }

    /// What the pollers do: read every source once, and carry out any
    /// call a message leads to (a wait met by fresh data starts the next).
    pub fn poll(&mut self) {
        self.world.advance(self.now);
        let points = self
            .world
            .points_between(self.now - chrono::Duration::minutes(15), self.now);
        let lines = self.world.logs_since(self.logs_after);
        self.logs_after = lines.iter().map(|l| l.at).max().or(self.logs_after);
        // Each source is read when its turn comes, after the calls the
        // previous message led to.
        let fx = self.send(Msg::Pipeline(Ok(Box::new(self.world.pipeline()))));
        self.carry_out(fx);
        let fx = self.send(Msg::Fleet {
            started: self.now,
            result: Ok(self.world.fleet()),
        });
        self.carry_out(fx);
        let fx = self.send(Msg::Traffic {
            started: self.now,
            result: Ok(self.world.forward()),
        });
        self.carry_out(fx);
        let fx = self.send(Msg::Metrics(Ok(points)));
        self.carry_out(fx);
        let fx = self.send(Msg::Logs(Ok(lines)));
        self.carry_out(fx);
    }

    /// `poll` without carrying anything out (a test stepping calls itself).
    pub fn poll_only(&mut self) {
        self.world.advance(self.now);
        self.send(Msg::Pipeline(Ok(Box::new(self.world.pipeline()))));
        self.send(Msg::Fleet {
            started: self.now,
            result: Ok(self.world.fleet()),
        });
        self.send(Msg::Traffic {
            started: self.now,
            result: Ok(self.world.forward()),
        });
    }

    /// Carry out only the calls in `effects`, not what their answers lead to.
    pub fn carry_out_one(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            let Effect::Step(call) = effect else { continue };
            if let Some(e) = self.lease_lost.clone() {
                self.send(Msg::StepDone {
                    change: call.change,
                    index: call.index,
                    result: Err(e),
                });
                continue;
            }
            self.calls.push(call.step.clone());
            let result = self.call(&call.step);
            self.send(Msg::StepDone {
                change: call.change,
                index: call.index,
                result,
            });
        }
    }

    pub fn key(&mut self, key: Key) -> Vec<Effect> {
        self.send(Msg::Key(key))
    }

    /// Type text (each character a key press).
    pub fn type_text(&mut self, text: &str) -> Vec<Effect> {
        let mut fx = Vec::new();
        for c in text.chars() {
            fx.extend(self.key(Key::char(c)));
        }
        fx
    }

    /// Type a `:` command and press Enter.
    pub fn command(&mut self, line: &str) -> Vec<Effect> {
        self.key(Key::char(':'));
        self.type_text(line);
        self.enter()
    }

    pub fn enter(&mut self) -> Vec<Effect> {
        self.key(Key::plain(KeyCode::Enter))
    }

    /// Let `seconds` of simulated time pass, one second at a time: poll,
    /// tick, and carry out any call `update` asks for.
    pub fn run_for(&mut self, seconds: i64) {
        for _ in 0..seconds {
            self.now += chrono::Duration::seconds(1);
            self.poll();
            let fx = self.send(Msg::Tick);
            self.carry_out(fx);
        }
    }

    /// Do what the runner does, one call at a time, against the simulated
    /// world; each answer may lead to the next call. `fail` injects a
    /// failure into the next call of a step with that name.
    pub fn carry_out(&mut self, effects: Vec<Effect>) {
        let mut queue: std::collections::VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            // An operator action's record is written: apply it.
            if let Effect::Operator { then, .. } = effect {
                let fx = self.send(Msg::OperatorDone(then));
                queue.extend(fx);
                continue;
            }
            let Effect::Step(call) = effect else {
                continue;
            };
            if let Some(e) = self.lease_lost.clone() {
                let fx = self.send(Msg::StepDone {
                    change: call.change,
                    index: call.index,
                    result: Err(e),
                });
                queue.extend(fx);
                continue;
            }
            self.calls.push(call.step.clone());
            let result = match self.fail.take() {
                Some((name, e)) if name == call.step.name() => Err(e),
                other => {
                    self.fail = other;
                    self.call(&call.step)
                }
            };
            let fx = self.send(Msg::StepDone {
                change: call.change,
                index: call.index,
                result,
            });
            queue.extend(fx);
        }
    }

    /// One call against the world, as the demo adapters make it.
    fn call(&mut self, step: &Step) -> Result<Option<String>, SourceError> {
        let w = &mut self.world;
        let id = match step {
            Step::ScaleCanary {
                service,
                to,
                expect,
                ..
            } => {
                if let Some(expect) = expect {
                    w.expect_desired(service, *expect)?;
                }
                w.scale(service, *to)?
            }
            Step::SetWeights { expect, to } => {
                if let Some(expect) = expect
                    && w.split() != *expect
                {
                    return Err(SourceError::of_kind(ErrorKind::Conflict, "weights moved"));
                }
                w.set_weights(*to)
            }
            Step::UpdateStable { service, to, .. } => w.set_task_definition(service, to)?,
            Step::Review {
                run_id,
                environment,
                approve: true,
                ..
            } => w.approve(*run_id, environment, "tester")?,
            Step::Review {
                run_id,
                environment,
                approve: false,
                ..
            } => w.reject(*run_id, environment)?,
            // ECS-native calls: recorded in `calls`, answered with an id.
            Step::Native(_) => "native-request".into(),
            Step::WaitCanaryHealthy { .. }
            | Step::WaitStable { .. }
            | Step::WaitUntil { .. }
            | Step::WaitNativeRolledBack { .. } => {
                return Ok(None);
            }
        };
        Ok(Some(id))
    }

    /// Confirm an open dialog as a careful operator would.
    pub fn confirm(&mut self, reason: &str) -> Vec<Effect> {
        let (needs_name, needs_reason) = match &self.model.overlay {
            flightdeck::core::model::Overlay::Confirm(c) => (c.needs_name, c.needs_reason),
            _ => (false, false),
        };
        if needs_name {
            let name = self.model.service.name.clone();
            self.type_text(&name);
        }
        if needs_reason {
            if needs_name {
                self.key(Key::plain(KeyCode::Tab));
            }
            self.type_text(reason);
        }
        self.enter()
    }

    /// Press `key`, confirm the dialog it opens, and carry out its calls
    /// (waits go on as time passes: `run_for`).
    pub fn change(&mut self, key: char, reason: &str) {
        self.key(Key::char(key));
        let fx = self.confirm(reason);
        self.carry_out(fx);
    }

    /// Press `key`, confirm, and let time pass until no change runs (at
    /// most `limit` seconds).
    pub fn change_and_wait(&mut self, key: char, reason: &str, limit: i64) {
        self.change(key, reason);
        self.settle(limit);
    }

    /// Let time pass until no change runs (at most `limit` seconds).
    pub fn settle(&mut self, limit: i64) {
        for _ in 0..limit {
            if self.model.running.is_none() {
                return;
            }
            self.run_for(1);
        }
    }

    /// The changes started, from the journal records `update` asked for
    /// (`started` records that open a change), as (action, from, to,
    /// automatic, reason).
    pub fn changes(&self) -> Vec<JournalRecord> {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        let mut push = |r: &JournalRecord| {
            if r.result == "started"
                && r.step.is_none()
                && let Some(id) = &r.change
                && !seen.contains(id)
            {
                seen.push(id.clone());
                out.push(r.clone());
            }
        };
        for e in &self.effects {
            match e {
                Effect::Begin(call) => push(&call.start),
                Effect::Step(call) => call.before.iter().for_each(&mut push),
                Effect::Journal(r) => push(r),
                _ => {}
            }
        }
        out
    }

    /// Every journal record `update` asked for, in order (the runner adds
    /// the `after` record of each call; see `records`).
    pub fn records(&self) -> Vec<JournalRecord> {
        let mut out = Vec::new();
        for e in &self.effects {
            match e {
                Effect::Begin(call) => out.push(call.start.clone()),
                Effect::Step(call) => {
                    out.extend(call.before.iter().cloned());
                    out.push(call.after.clone());
                }
                Effect::Journal(r) => out.push(r.clone()),
                _ => {}
            }
        }
        out
    }

    /// The journal records `update` asked for with this action.
    pub fn records_of(&self, action: &str) -> Vec<JournalRecord> {
        self.records()
            .into_iter()
            .filter(|r| r.action == action)
            .collect()
    }

    /// The world's state that the rollback invariant is about: canary
    /// share, stable task definition, canary desired count.
    pub fn world_state(&self) -> (u8, String, u32) {
        let fleet = self.world.fleet();
        let stable = fleet
            .service(Track::Stable)
            .map(|s| s.task_definition.clone())
            .unwrap_or_default();
        let canary = fleet.service(Track::Canary).map_or(0, |s| s.desired);
        (self.world.split().canary_pct(), stable, canary)
    }
}
