//! A synchronous harness for tests: a demo model driven by a simulated
//! world at a clock the test controls. It does what the pollers and the
//! runner do, without tokio, so a whole release plays in microseconds.

#![allow(dead_code)]

use chrono::TimeZone;
use flightdeck::app::demo_model;
use flightdeck::core::action::{Key, KeyCode, Keymap};
use flightdeck::core::effect::{ChangeOp, ChangeOutcome, Effect};
use flightdeck::core::model::{Model, Time, TrafficSplit};
use flightdeck::core::msg::Msg;
use flightdeck::core::update::{Ctx, update};
use flightdeck::sources::demo::world::{CANARY_SERVICE, STABLE_SERVICE};
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
    metrics_after: Option<Time>,
    logs_after: Option<Time>,
    /// Every effect `update` returned, in order.
    pub effects: Vec<Effect>,
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
            metrics_after: None,
            logs_after: None,
            effects: Vec::new(),
        };
        h.poll();
        h
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            now: self.now,
            operator: "tester".into(),
        }
    }

    /// Send one message; returns the effects it produced.
    pub fn send(&mut self, msg: Msg) -> Vec<Effect> {
        let ctx = self.ctx();
        let fx = update(&mut self.model, msg, &ctx);
        self.effects.extend(fx.iter().cloned());
        fx
    }

    /// What the pollers do: read every source once.
    pub fn poll(&mut self) {
        self.world.advance(self.now);
        let points = self.world.points_since(self.metrics_after);
        self.metrics_after = points.iter().map(|p| p.at).max().or(self.metrics_after);
        let lines = self.world.logs_since(self.logs_after);
        self.logs_after = lines.iter().map(|l| l.at).max().or(self.logs_after);
        self.send(Msg::Pipeline(Ok(self.world.pipeline())));
        self.send(Msg::Fleet(Ok(self.world.fleet())));
        self.send(Msg::Traffic(Ok(self.world.split())));
        self.send(Msg::Metrics(Ok(points)));
        self.send(Msg::Logs(Ok(lines)));
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
    /// tick, and carry out any change `update` asks for.
    pub fn run_for(&mut self, seconds: i64) {
        for _ in 0..seconds {
            self.now += chrono::Duration::seconds(1);
            self.poll();
            let fx = self.send(Msg::Tick);
            self.carry_out(fx);
        }
    }

    /// Do what the runner does, against the simulated world.
    pub fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            let Effect::Change(request) = effect else {
                continue;
            };
            let split = |canary: u8| TrafficSplit {
                stable: 100 - canary,
                canary,
            };
            let mut ids = Vec::new();
            let result = match &request.op {
                ChangeOp::SetCanaryWeight { weight } => {
                    ids.push(self.world.set_weights(split(*weight)));
                    Ok(())
                }
                ChangeOp::Rollback { .. } => {
                    ids.push(self.world.set_weights(split(0)));
                    self.world.scale(CANARY_SERVICE, 0).map(|id| ids.push(id))
                }
                ChangeOp::Promote {
                    canary_task_definition,
                    ..
                } => {
                    ids.push(self.world.set_weights(split(100)));
                    let r = self
                        .world
                        .set_task_definition(STABLE_SERVICE, canary_task_definition);
                    ids.push(self.world.set_weights(split(0)));
                    r.and_then(|_| self.world.scale(CANARY_SERVICE, 0))
                        .map(|id| ids.push(id))
                }
                ChangeOp::Approve {
                    run_id,
                    environment,
                } => self
                    .world
                    .approve(*run_id, environment, "tester")
                    .map(|id| ids.push(id)),
            };
            let result = result
                .map(|()| ChangeOutcome { request_ids: ids })
                .map_err(|e| e.to_string());
            self.send(Msg::ChangeDone {
                id: request.id,
                result,
            });
        }
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

    /// Press `key`, confirm the dialog it opens, and carry the change out.
    pub fn change(&mut self, key: char, reason: &str) {
        self.key(Key::char(key));
        let fx = self.confirm(reason);
        self.carry_out(fx);
    }

    pub fn changes(&self) -> Vec<flightdeck::core::effect::ChangeRequest> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Change(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }
}
