//! The simulated world of the demo: a GitHub Actions run of the seed's
//! pipeline, two ECS services behind one weighted ALB rule, the canary's logs
//! and metrics. It moves only when `advance` is called with a later time, so
//! tests drive it with a clock they control; randomness comes from a seeded
//! generator, so a run is the same every time.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::TimeDelta;

use super::scenario::{Health, Scenario};
use crate::core::model::{
    Deployment, FleetSnapshot, Forward, LogLine, MetricPoint, PendingApproval, PipelineRun,
    ServiceEvent, ServiceInfo, SourceError, Stage, StageStatus, TargetHealth, TaskInfo, Time,
    Track, TrafficSplit,
};
use crate::sources::LogCursor;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";
pub const CLUSTER: &str = "suma-finance-production";
pub const STABLE_SERVICE: &str = "auth-service-production";
pub const CANARY_SERVICE: &str = "auth-service-production-canary";
pub const LISTENER_RULE: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/suma-prod/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
const STABLE_TG: &str = "auth-stable";
const CANARY_TG: &str = "auth-canary";
const STABLE_TD: &str = "auth-service:41";
const CANARY_TD: &str = "auth-service:42";
const AZS: [&str; 3] = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
/// Requests per second on the listener rule, split by weight.
const RPS: u64 = 300;
const METRIC_PERIOD_S: i64 = 10;
const MAX_LOGS: usize = 5_000;
const MAX_POINTS: usize = 2_000;
const STABLE_TASKS: u32 = 9;

/// The seed's stages with their target durations, and how long each took in
/// this simulated run (some overrun, as in life).
const STAGES: [(&str, Option<u64>, u64); 12] = [
    ("Build & Lint", Some(90), 94),
    ("Unit Tests", Some(120), 111),
    ("Security Scan", Some(180), 167),
    ("Integration Tests", Some(300), 334),
    ("Container Build", Some(240), 221),
    ("Container Security Scan", None, 58),
    ("Deploy Staging", None, 131),
    ("E2E Tests", Some(480), 527),
    ("Compliance Validation", None, 64),
    ("Manual Approval", None, 840),
    ("Canary Deploy", None, 0),
    ("Production Rollout", None, 0),
];
const CANARY_STAGE: usize = 10;
const ROLLOUT_STAGE: usize = 11;

pub struct World {
    scenario: &'static Scenario,
    rng: fastrand::Rng,
    start: Time,
    now: Time,
    run: PipelineRun,
    split: TrafficSplit,
    stable_td: String,
    canary_td: String,
    stable_deployments: Vec<Deployment>,
    stable_desired: u32,
    canary_desired: u32,
    tasks: Vec<TaskInfo>,
    events: VecDeque<ServiceEvent>,
    /// With a sequence number (the demo's event id) and the task's track.
    logs: VecDeque<(u64, Track, LogLine)>,
    log_seq: u64,
    /// The stable tasks' lines come from their own generator, so the
    /// canary's stay the same for a seed.
    stable_rng: fastrand::Rng,
    points: VecDeque<MetricPoint>,
    next_point: Time,
    next_log: Time,
    request_seq: u64,
    event_seq: u64,
}

fn secs(s: i64) -> TimeDelta {
    TimeDelta::seconds(s)
}

impl World {
    /// A world where the canary has had 10 % for 30 s, the pipeline waits
    /// for a second reviewer on `production`, and five minutes of metrics and
    /// some logs already exist.
    pub fn new(scenario: &'static Scenario, start: Time, seed: u64) -> World {
        let mut world = World {
            scenario,
            rng: fastrand::Rng::with_seed(seed),
            start,
            now: start - secs(300),
            run: pipeline_run(start),
            split: TrafficSplit {
                stable: 90,
                canary: 10,
            },
            stable_td: STABLE_TD.into(),
            canary_td: CANARY_TD.into(),
            stable_deployments: Vec::new(),
            stable_desired: STABLE_TASKS,
            canary_desired: 1,
            tasks: Vec::new(),
            events: VecDeque::new(),
            logs: VecDeque::new(),
            log_seq: 0,
            stable_rng: fastrand::Rng::with_seed(seed ^ 0x5157_4b1e),
            points: VecDeque::new(),
            next_point: start - secs(300),
            next_log: start - secs(20),
            request_seq: 0,
            event_seq: 0,
        };
        world.stable_deployments.push(Deployment {
            status: "PRIMARY".into(),
            task_definition: STABLE_TD.into(),
            rollout_state: "COMPLETED".into(),
            running: STABLE_TASKS,
            pending: 0,
            desired: STABLE_TASKS,
            created_at: start - secs(6 * 86_400),
        });
        for i in 0..STABLE_TASKS {
            let started = start - secs(6 * 86_400 - i64::from(i) * 40);
            world.add_task(Track::Stable, STABLE_TD, started, "RUNNING", "HEALTHY");
        }
        let canary_start = start - secs(95);
        world.add_task(Track::Canary, CANARY_TD, canary_start, "RUNNING", "HEALTHY");
        world.event(
            start - secs(90),
            CANARY_SERVICE,
            "has started 1 tasks".into(),
        );
        world.event(
            start - secs(60),
            CANARY_SERVICE,
            format!("registered 1 targets in (target-group {CANARY_TG})"),
        );
        world.event(
            start - secs(30),
            CANARY_SERVICE,
            "has reached a steady state.".into(),
        );
        world.advance(start);
        world
    }

    pub fn scenario(&self) -> &'static Scenario {
        self.scenario
    }

    pub fn now(&self) -> Time {
        self.now
    }

    /// Move the world forward to `now`: metrics every 10 s, log lines,
    /// tasks starting and stopping, the reviewer, deployments completing.
    pub fn advance(&mut self, now: Time) {
        if now <= self.now {
            return;
        }
        while self.next_point <= now {
            let at = self.next_point;
            self.emit_points(at);
            self.next_point = at + secs(METRIC_PERIOD_S);
        }
        while self.next_log <= now {
            let at = self.next_log;
            self.emit_logs(at);
            self.next_log = at + TimeDelta::milliseconds(self.log_gap_ms());
        }
        self.now = now;
        self.settle_tasks();
        self.settle_deployments();
        if now - self.start >= TimeDelta::from_std(self.scenario.reviewer_after).unwrap_or_default()
            && let Some(p) = &self.run.pending
        {
            let env = p.environment.clone();
            let _ = self.approve_as(&env, "mlopes (simulated reviewer)");
        }
        if let Some(stage) = self.run.stages.get_mut(ROLLOUT_STAGE)
            && stage.status == StageStatus::InProgress
            && stage.started_at.is_some_and(|s| now - s >= secs(60))
        {
            stage.status = StageStatus::Success;
            stage.completed_at = Some(now);
        }
    }

    fn canary_health(&self) -> Health {
        match self.scenario.degrade_at {
            Some((weight, bad)) if self.split.canary_pct() >= weight => bad,
            _ => self.scenario.canary,
        }
    }

    fn degraded(&self) -> bool {
        self.scenario
            .degrade_at
            .is_some_and(|(w, _)| self.split.canary_pct() >= w)
    }

    fn emit_points(&mut self, at: Time) {
        let canary_pct = u64::from(self.split.canary_pct());
        let total = RPS * METRIC_PERIOD_S as u64;
        let metrics_stopped = self
            .scenario
            .metrics_stop_after
            .is_some_and(|after| at - self.start >= TimeDelta::from_std(after).unwrap_or_default());
        let stable_health = self.scenario.stable;
        let canary_health = self.canary_health();
        let stable_requests = total * (100 - canary_pct) / 100;
        let point = self.point(at, Track::Stable, stable_requests, stable_health);
        self.push_point(point);
        if canary_pct > 0 && !metrics_stopped {
            let point = self.point(at, Track::Canary, total - stable_requests, canary_health);
            self.push_point(point);
        }
    }

    fn point(&mut self, at: Time, track: Track, requests: u64, health: Health) -> MetricPoint {
        let expected = requests as f64 * health.error_pct / 100.0;
        let errors = (expected * (0.5 + self.rng.f64())).round() as u64;
        let p95_ms = health.p95_ms * (0.93 + 0.14 * self.rng.f64());
        MetricPoint {
            p95_ms: Some(p95_ms),
            ..MetricPoint::from_counts(at, track, requests, errors)
        }
    }

    fn push_point(&mut self, point: MetricPoint) {
        if self.points.len() == MAX_POINTS {
            self.points.pop_front();
        }
        self.points.push_back(point);
    }

    /// Log lines come faster the more canary tasks run.
    fn log_gap_ms(&mut self) -> i64 {
        let running = self.running(Track::Canary).max(1) as i64;
        let base = 900 / running.min(4);
        base / 2 + self.rng.i64(0..base.max(1))
    }

    fn emit_logs(&mut self, at: Time) {
        let canary: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| t.track == Track::Canary && t.last_status == "RUNNING")
            .map(|t| t.short_id().to_string())
            .collect();
        if !canary.is_empty() {
            let task = canary[self.rng.usize(..canary.len())].clone();
            let health = self.canary_health();
            let text = self.log_text(at, health);
            self.push_log(Track::Canary, LogLine { at, task, text });
        }
        let stable: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| t.track == Track::Stable && t.last_status == "RUNNING")
            .map(|t| t.short_id().to_string())
            .collect();
        if !stable.is_empty() {
            let r = &mut self.stable_rng;
            let task = stable[r.usize(..stable.len())].clone();
            let text = format!(
                "10.0.{}.{} - - \"GET /api/auth/session HTTP/1.1\" 200 {} {}ms",
                r.u8(0..64),
                r.u8(1..255),
                r.u16(120..900),
                r.u16(40..160)
            );
            self.push_log(Track::Stable, LogLine { at, task, text });
        }
    }

    fn push_log(&mut self, track: Track, line: LogLine) {
        if self.logs.len() == MAX_LOGS {
            self.logs.pop_front();
        }
        self.log_seq += 1;
        self.logs.push_back((self.log_seq, track, line));
    }

    fn log_text(&mut self, at: Time, health: Health) -> String {
        const PATHS: [(&str, &str); 6] = [
            ("POST", "/api/auth/login"),
            ("POST", "/api/auth/token/refresh"),
            ("POST", "/api/auth/logout"),
            ("GET", "/api/auth/session"),
            ("POST", "/api/auth/mfa/verify"),
            ("GET", "/api/auth/.well-known/jwks.json"),
        ];
        let r = &mut self.rng;
        let ip = format!("10.0.{}.{}", r.u8(1..40), r.u8(2..250));
        let trace = format!("{:016x}", r.u64(..));
        let latency = (health.p95_ms * (0.2 + 0.9 * r.f64())) as u32;
        // Errors are shown a little more often than they happen, so that the
        // demo's log pane has some to filter for.
        let error = r.f64() * 100.0 < health.error_pct * 4.0;
        let (method, path) = PATHS[r.usize(..PATHS.len())];
        let ts = at.format("%Y-%m-%dT%H:%M:%S%.3fZ");
        match r.u8(..20) {
            0 => format!(
                r#"{{"ts":"{ts}","level":"warn","msg":"slow query","table":"sessions","latency_ms":{},"trace_id":"{trace}"}}"#,
                latency * 3
            ),
            1 => {
                // A hostile client: escape sequences in the user agent. The
                // Logs pane must show them inert.
                format!(
                    "{ip} - - [{ts}] \"GET /api/auth/session HTTP/1.1\" 401 3ms ua=\"\x1b[2J\x1b]0;pwned\x07curl/8.4\" trace={trace}"
                )
            }
            2..=5 => format!(
                r#"{{"ts":"{ts}","level":"info","msg":"token issued","user_id":"u_{}","mfa":{},"latency_ms":{latency},"trace_id":"{trace}"}}"#,
                r.u32(1000..99999),
                r.bool()
            ),
            _ if error => {
                let (status, msg) = if r.bool() {
                    (503, "upstream timeout: redis session store")
                } else {
                    (500, "panic recovered: nil pointer in refresh handler")
                };
                format!(
                    r#"{{"ts":"{ts}","level":"error","msg":"{msg}","status":{status},"path":"{path}","latency_ms":{},"trace_id":"{trace}"}}"#,
                    latency + 800
                )
            }
            _ => {
                let status = if path.ends_with("login") && r.u8(..10) == 0 {
                    401
                } else {
                    200
                };
                format!(
                    "{ip} - - [{ts}] \"{method} {path} HTTP/1.1\" {status} {latency}ms ua=\"okhttp/4.12\" trace={trace}"
                )
            }
        }
    }

    fn add_task(&mut self, track: Track, td: &str, started: Time, status: &str, health: &str) {
        let id = format!("{:016x}{:016x}", self.rng.u64(..), self.rng.u64(..));
        let az = AZS[self.tasks.len() % AZS.len()].to_string();
        self.tasks.push(TaskInfo {
            id,
            track,
            task_definition: td.to_string(),
            last_status: status.into(),
            health: health.into(),
            az,
            started_at: Some(started),
            stopped_reason: None,
        });
    }

    fn running(&self, track: Track) -> u32 {
        self.tasks
            .iter()
            .filter(|t| t.track == track && t.last_status == "RUNNING")
            .count() as u32
    }

    /// Tasks of `td` that are not stopped.
    fn live(&self, track: Track, td: &str) -> u32 {
        self.tasks
            .iter()
            .filter(|t| t.track == track && t.last_status != "STOPPED" && t.task_definition == td)
            .count() as u32
    }

    /// Start or stop tasks towards the desired counts; PENDING tasks run
    /// after 20 s and turn healthy after 40 s.
    fn settle_tasks(&mut self) {
        let now = self.now;
        for (track, desired) in [
            (Track::Stable, self.stable_desired),
            (Track::Canary, self.canary_desired),
        ] {
            let td = match track {
                Track::Stable => self.stable_td.clone(),
                Track::Canary => self.canary_td.clone(),
            };
            let service = service_name(track);
            // A rolling deployment that keeps capacity (ECS with minimum
            // healthy 100 %): tasks of another task definition stop only as
            // tasks of the new one turn healthy.
            let healthy_new = self
                .tasks
                .iter()
                .filter(|t| {
                    t.track == track
                        && t.task_definition == td
                        && t.last_status == "RUNNING"
                        && t.health == "HEALTHY"
                })
                .count() as u32;
            let old: Vec<usize> = self
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    t.track == track && t.last_status != "STOPPED" && t.task_definition != td
                })
                .map(|(i, _)| i)
                .collect();
            let keep_old = desired.saturating_sub(healthy_new) as usize;
            if old.len() > keep_old {
                let stop = &old[keep_old..];
                for i in stop {
                    self.tasks[*i].last_status = "STOPPED".into();
                    self.tasks[*i].health = "UNKNOWN".into();
                    self.tasks[*i].stopped_reason = Some("Deployment replaced this task".into());
                }
                self.event(
                    now,
                    service,
                    format!(
                        "has stopped {} running tasks (deployment of {td}).",
                        stop.len()
                    ),
                );
            }
            let live = self.live(track, &td);
            if live < desired {
                for _ in live..desired {
                    self.add_task(track, &td, now, "PENDING", "UNKNOWN");
                }
                self.event(
                    now,
                    service,
                    format!("has started {} tasks", desired - live),
                );
            } else if live > desired {
                let mut to_stop = live - desired;
                let mut stopped = Vec::new();
                for task in self.tasks.iter_mut().rev() {
                    if to_stop == 0 {
                        break;
                    }
                    if task.track == track
                        && task.last_status != "STOPPED"
                        && task.task_definition == td
                    {
                        task.last_status = "STOPPED".into();
                        task.health = "UNKNOWN".into();
                        task.stopped_reason = Some(format!(
                            "Scaling activity initiated by (deployment ecs-svc/{service})"
                        ));
                        stopped.push(task.short_id().to_string());
                        to_stop -= 1;
                    }
                }
                self.event(
                    now,
                    service,
                    format!(
                        "has stopped {} running tasks: (task {}).",
                        stopped.len(),
                        stopped.join(", ")
                    ),
                );
            }
        }
        for task in &mut self.tasks {
            let age = task.started_at.map_or(0, |s| (now - s).num_seconds());
            if task.last_status == "PENDING" && age >= 20 {
                task.last_status = "RUNNING".into();
            }
            if task.last_status == "RUNNING" && task.health == "UNKNOWN" && age >= 40 {
                task.health = "HEALTHY".into();
            }
        }
        // Stopped tasks stay listed with their reason, up to a limit.
        while self.tasks.len() > 60 {
            match self.tasks.iter().position(|t| t.last_status == "STOPPED") {
                Some(i) => self.tasks.remove(i),
                None => break,
            };
        }
    }

    fn settle_deployments(&mut self) {
        let running = self.running(Track::Stable);
        let healthy_new = self
            .tasks
            .iter()
            .filter(|t| {
                t.track == Track::Stable
                    && t.task_definition == self.stable_td
                    && t.last_status == "RUNNING"
                    && t.health == "HEALTHY"
            })
            .count() as u32;
        let now = self.now;
        let mut completed = false;
        for d in &mut self.stable_deployments {
            if d.status == "PRIMARY" {
                d.running = healthy_new.min(running);
                d.desired = self.stable_desired;
                if d.rollout_state == "IN_PROGRESS" && d.running >= d.desired {
                    d.rollout_state = "COMPLETED".into();
                    completed = true;
                }
            } else if d.status == "ACTIVE" {
                d.running = running.saturating_sub(healthy_new);
            }
        }
        if completed {
            for d in &mut self.stable_deployments {
                if d.status == "ACTIVE" {
                    d.status = "INACTIVE".into();
                }
            }
            self.event(now, STABLE_SERVICE, "has reached a steady state.".into());
        }
    }

    fn event(&mut self, at: Time, service: &str, text: String) {
        self.event_seq += 1;
        if self.events.len() == 100 {
            self.events.pop_back();
        }
        self.events.push_front(ServiceEvent {
            id: format!("ev-{:06}", self.event_seq),
            at,
            message: format!("(service {service}) {text}"),
        });
    }

    fn request_id(&mut self) -> String {
        self.request_seq += 1;
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            self.rng.u32(..),
            self.request_seq & 0xffff,
            self.rng.u16(..0xfff),
            self.rng.u16(..0xfff),
            self.rng.u64(..0xffff_ffff_ffff)
        )
    }

    // ----- what the adapters read --------------------------------------------

    pub fn pipeline(&self) -> PipelineRun {
        self.run.clone()
    }

    /// The run, to change it as GitHub would (tests).
    pub fn pipeline_mut(&mut self) -> &mut PipelineRun {
        &mut self.run
    }

    pub fn split(&self) -> TrafficSplit {
        self.split
    }

    /// The listener rule's forward action.
    pub fn forward(&self) -> Forward {
        Forward {
            stable_target_group: STABLE_TG.into(),
            canary_target_group: CANARY_TG.into(),
            split: self.split,
            stickiness: None,
            other: Vec::new(),
        }
    }

    pub fn fleet(&self) -> FleetSnapshot {
        let stable_running = self.running(Track::Stable);
        let canary_running = self.running(Track::Canary);
        let pending = |track| {
            self.tasks
                .iter()
                .filter(|t| t.track == track && t.last_status == "PENDING")
                .count() as u32
        };
        let healthy = |track| {
            self.tasks
                .iter()
                .filter(|t| t.track == track && t.last_status == "RUNNING" && t.health == "HEALTHY")
                .count() as u32
        };
        let initial = |track| {
            self.tasks
                .iter()
                .filter(|t| t.track == track && t.last_status == "RUNNING" && t.health != "HEALTHY")
                .count() as u32
        };
        let canary_unhealthy = u32::from(self.degraded() && canary_running > 0);
        let canary_deployment = Deployment {
            status: "PRIMARY".into(),
            task_definition: self.canary_td.clone(),
            rollout_state: if canary_running >= self.canary_desired {
                "COMPLETED"
            } else {
                "IN_PROGRESS"
            }
            .into(),
            running: canary_running,
            pending: pending(Track::Canary),
            desired: self.canary_desired,
            created_at: self.start - secs(95),
        };
        FleetSnapshot {
            services: vec![
                ServiceInfo {
                    name: STABLE_SERVICE.into(),
                    track: Track::Stable,
                    task_definition: self.stable_td.clone(),
                    running: stable_running,
                    pending: pending(Track::Stable),
                    desired: self.stable_desired,
                    deployments: self
                        .stable_deployments
                        .iter()
                        .filter(|d| d.status != "INACTIVE")
                        .cloned()
                        .collect(),
                },
                ServiceInfo {
                    name: CANARY_SERVICE.into(),
                    track: Track::Canary,
                    task_definition: self.canary_td.clone(),
                    running: canary_running,
                    pending: pending(Track::Canary),
                    desired: self.canary_desired,
                    deployments: vec![canary_deployment],
                },
            ],
            tasks: self.tasks.clone(),
            targets: vec![
                TargetHealth {
                    track: Track::Stable,
                    target_group: STABLE_TG.into(),
                    healthy: healthy(Track::Stable),
                    unhealthy: 0,
                    draining: 0,
                    initial: initial(Track::Stable),
                },
                TargetHealth {
                    track: Track::Canary,
                    target_group: CANARY_TG.into(),
                    healthy: healthy(Track::Canary).saturating_sub(canary_unhealthy),
                    unhealthy: canary_unhealthy,
                    draining: 0,
                    initial: initial(Track::Canary),
                },
            ],
            events: self.events.iter().cloned().collect(),
        }
    }

    /// Lines since `start` (inclusive: the cursor drops what it has seen),
    /// with their ids: of the tasks with these short ids, or the canary's
    /// when none is given.
    pub fn logs_from(&self, cursor: &LogCursor, tasks: &[String]) -> Vec<(String, LogLine)> {
        let start = cursor.start();
        self.logs
            .iter()
            .filter(|(_, track, l)| {
                start.is_none_or(|a| l.at >= a)
                    && if tasks.is_empty() {
                        *track == Track::Canary
                    } else {
                        tasks.contains(&l.task)
                    }
            })
            .map(|(seq, _, l)| (seq.to_string(), l))
            // Only what the cursor would keep is copied.
            .filter(|(id, l)| cursor.is_new(l.at, id))
            .map(|(id, l)| (id, l.clone()))
            .collect()
    }

    /// The canary's lines after `after` (tests).
    pub fn logs_since(&self, after: Option<Time>) -> Vec<LogLine> {
        self.logs
            .iter()
            .filter(|(_, track, l)| *track == Track::Canary && after.is_none_or(|a| l.at > a))
            .map(|(_, _, l)| l.clone())
            .collect()
    }

    /// Points from `from` to `to` (inclusive).
    pub fn points_between(&self, from: Time, to: Time) -> Vec<MetricPoint> {
        self.points
            .iter()
            .filter(|p| p.at >= from && p.at <= to)
            .copied()
            .collect()
    }

    pub fn points_since(&self, after: Option<Time>) -> Vec<MetricPoint> {
        self.points
            .iter()
            .filter(|p| after.is_none_or(|a| p.at > a))
            .copied()
            .collect()
    }

    // ----- what the adapters change ------------------------------------------

    /// Set the listener rule's weights. The canary service is not scaled
    /// here (a real ALB does not): the console scales it first.
    pub fn set_weights(&mut self, split: TrafficSplit) -> String {
        let before = self.split.canary_pct();
        self.split = split;
        let after = split.canary_pct();
        if before != after {
            let stage = &mut self.run.stages[CANARY_STAGE];
            if after == 0 && stage.status == StageStatus::InProgress {
                stage.status = StageStatus::Failure;
                stage.completed_at = Some(self.now);
                let rollout = &mut self.run.stages[ROLLOUT_STAGE];
                rollout.status = StageStatus::Cancelled;
                rollout.completed_at = Some(self.now);
            }
        }
        self.request_id()
    }

    /// Refuse (a conflict) unless `service` has `expect` desired tasks.
    pub fn expect_desired(&self, service: &str, expect: u32) -> Result<(), SourceError> {
        let now = match service {
            STABLE_SERVICE => self.stable_desired,
            CANARY_SERVICE => self.canary_desired,
            other => return Err(not_found(other)),
        };
        if now == expect {
            return Ok(());
        }
        Err(SourceError::of_kind(
            crate::core::model::ErrorKind::Conflict,
            format!(
                "{service} has {now} desired tasks, not the {expect} this change was planned on: another actor sized it"
            ),
        ))
    }

    pub fn scale(&mut self, service: &str, desired: u32) -> Result<String, SourceError> {
        match service {
            STABLE_SERVICE => self.stable_desired = desired,
            CANARY_SERVICE => self.canary_desired = desired,
            other => return Err(not_found(other)),
        }
        self.settle_tasks();
        Ok(self.request_id())
    }

    pub fn set_task_definition(&mut self, service: &str, td: &str) -> Result<String, SourceError> {
        match service {
            STABLE_SERVICE => {
                if td == self.stable_td {
                    return Ok(self.request_id());
                }
                for d in &mut self.stable_deployments {
                    if d.status == "PRIMARY" {
                        d.status = "ACTIVE".into();
                    }
                }
                self.stable_deployments.push(Deployment {
                    status: "PRIMARY".into(),
                    task_definition: td.into(),
                    rollout_state: "IN_PROGRESS".into(),
                    running: 0,
                    pending: 0,
                    desired: self.stable_desired,
                    created_at: self.now,
                });
                self.stable_td = td.into();
                // A promotion finishes the pipeline's canary stage.
                if td == self.canary_td {
                    let now = self.now;
                    let canary = &mut self.run.stages[CANARY_STAGE];
                    canary.status = StageStatus::Success;
                    canary.completed_at = Some(now);
                    let rollout = &mut self.run.stages[ROLLOUT_STAGE];
                    rollout.status = StageStatus::InProgress;
                    rollout.started_at = Some(now);
                }
                self.event(
                    self.now,
                    STABLE_SERVICE,
                    format!("updated to task definition {td}"),
                );
            }
            CANARY_SERVICE => self.canary_td = td.into(),
            other => return Err(not_found(other)),
        }
        self.settle_tasks();
        Ok(self.request_id())
    }

    pub fn approve(
        &mut self,
        run_id: u64,
        environment: &str,
        operator: &str,
    ) -> Result<String, SourceError> {
        if run_id != self.run.id {
            return Err(SourceError::new(format!(
                "run {run_id} not found in suma-finance/auth-service"
            )));
        }
        self.approve_as(environment, operator)
    }

    /// The review rejected: the deployment job fails, nothing waits.
    pub fn reject(&mut self, run_id: u64, environment: &str) -> Result<String, SourceError> {
        if run_id != self.run.id
            || self
                .run
                .pending
                .as_ref()
                .is_none_or(|p| p.environment != environment)
        {
            return Err(SourceError::new(format!(
                "no deployment of run {run_id} is waiting for review on {environment}"
            )));
        }
        self.run.pending = None;
        let stage = &mut self.run.stages[ROLLOUT_STAGE];
        if stage.status == StageStatus::Waiting {
            stage.status = StageStatus::Failure;
            stage.completed_at = Some(self.now);
        }
        Ok(self.request_id())
    }

    fn approve_as(&mut self, environment: &str, _who: &str) -> Result<String, SourceError> {
        let Some(pending) = self
            .run
            .pending
            .as_mut()
            .filter(|p| p.environment == environment)
        else {
            return Err(SourceError::new(format!(
                "no deployment of run #{} is waiting for review on {environment}",
                self.run.number
            )));
        };
        pending.approvals += 1;
        if pending.approvals >= pending.required_reviewers {
            self.run.pending = None;
            let stage = &mut self.run.stages[ROLLOUT_STAGE];
            if stage.status == StageStatus::Waiting {
                stage.status = StageStatus::Queued;
            }
        }
        Ok(self.request_id())
    }
}

fn service_name(track: Track) -> &'static str {
    match track {
        Track::Stable => STABLE_SERVICE,
        Track::Canary => CANARY_SERVICE,
    }
}

fn not_found(service: &str) -> SourceError {
    SourceError::new(format!(
        "ServiceNotFoundException: service {service} not found in cluster {CLUSTER}"
    ))
    .with_hint("check stable_service / canary_service in the config")
}

/// The run the demo starts in: everything up to Manual Approval done, the
/// canary deploying, the production rollout waiting for a second reviewer.
fn pipeline_run(start: Time) -> PipelineRun {
    let canary_started = start - secs(95);
    let total: u64 = STAGES.iter().map(|s| s.2).sum();
    let mut at = canary_started - secs(total as i64);
    let run_started = at;
    let mut stages = Vec::new();
    for (i, (name, target, took)) in STAGES.iter().enumerate() {
        let (status, started_at, completed_at) = match i {
            CANARY_STAGE => (StageStatus::InProgress, Some(canary_started), None),
            ROLLOUT_STAGE => (StageStatus::Waiting, None, None),
            _ => {
                let begin = at;
                at += secs(*took as i64);
                (StageStatus::Success, Some(begin), Some(at))
            }
        };
        stages.push(Stage {
            name: (*name).into(),
            status,
            started_at,
            completed_at,
            target: target.map(Duration::from_secs),
        });
    }
    PipelineRun {
        id: 9_158_403_117,
        number: 1284,
        workflow: "auth-service-pipeline.yml".into(),
        branch: "main".into(),
        sha: "a3f9c2e71b04d5e8c6f1a2b3c4d5e6f708192a3b".into(),
        author: "Ana Souza".into(),
        message: "feat(auth): rotate refresh tokens on reuse detection".into(),
        started_at: run_started,
        stages,
        pending: Some(PendingApproval {
            environment: "production".into(),
            required_reviewers: 2,
            approvals: 1,
            waiting_since: canary_started,
            environment_ids: vec![161_171_787],
            can_approve: None,
            reviewers: Vec::new(),
        }),
        event: "push".into(),
        url: Some("https://github.com/suma-finance/auth-service/actions/runs/9158403117".into()),
        attempt: 1,
        rate: None,
        recent: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::scenario::{BAD_CANARY, GOOD};
    use super::*;
    use chrono::TimeZone;

    fn t0() -> Time {
        chrono::Utc
            .with_ymd_and_hms(2026, 12, 1, 10, 30, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn starts_like_the_seed_layout() {
        let world = World::new(&GOOD, t0(), 7);
        let fleet = world.fleet();
        assert_eq!(fleet.service(Track::Stable).map(|s| s.running), Some(9));
        assert_eq!(fleet.service(Track::Canary).map(|s| s.running), Some(1));
        assert_eq!(world.split().canary_pct(), 10);
        assert_eq!(world.pipeline().stages.len(), 12);
        assert!(world.pipeline().pending.is_some());
        // Five minutes of history: 30 stable and 30 canary points.
        assert_eq!(world.points_since(None).len(), 62);
    }

    #[test]
    fn bad_canary_degrades_at_fifty_percent() {
        let mut world = World::new(&BAD_CANARY, t0(), 7);
        world.set_weights(TrafficSplit {
            stable: 50,
            canary: 50,
        });
        world.advance(t0() + secs(120));
        let bad: Vec<_> = world
            .points_since(Some(t0() + secs(10)))
            .into_iter()
            .filter(|p| p.track == Track::Canary)
            .collect();
        let errors: f64 = bad
            .iter()
            .map(|p| p.error_pct.unwrap_or(0.0) * p.requests.unwrap_or(0) as f64 / 100.0)
            .sum();
        let requests: u64 = bad.iter().filter_map(|p| p.requests).sum();
        assert!(errors * 100.0 / requests as f64 > 1.0);
        // Weights alone never scale the canary (a real ALB does not).
        assert_eq!(
            world.fleet().service(Track::Canary).map(|s| s.desired),
            Some(1)
        );
    }

    #[test]
    fn a_deployment_back_to_an_old_revision_completes_only_when_it_runs() {
        let mut world = World::new(&GOOD, t0(), 7);
        assert!(world.set_task_definition(STABLE_SERVICE, CANARY_TD).is_ok());
        world.advance(t0() + secs(120));
        world.advance(t0() + secs(125));
        assert!(world.set_task_definition(STABLE_SERVICE, STABLE_TD).is_ok());
        world.advance(t0() + secs(121));
        let done = |w: &World| {
            w.fleet().service(Track::Stable).is_some_and(|s| {
                s.deployments
                    .iter()
                    .any(|d| d.status == "PRIMARY" && d.rollout_state == "COMPLETED")
            })
        };
        assert!(
            !done(&world),
            "stopped tasks of the old revision do not count"
        );
        world.advance(t0() + secs(180));
        assert!(done(&world));
    }

    #[test]
    fn a_stable_deployment_keeps_capacity_while_it_rolls() {
        let mut world = World::new(&GOOD, t0(), 7);
        assert!(world.set_task_definition(STABLE_SERVICE, CANARY_TD).is_ok());
        for s in (0..=60).step_by(5) {
            world.advance(t0() + secs(s));
            let healthy = world
                .fleet()
                .targets
                .iter()
                .filter(|t| t.track == Track::Stable)
                .map(|t| t.healthy)
                .sum::<u32>();
            assert!(healthy >= STABLE_TASKS, "at {s}s: {healthy} healthy");
        }
        let stable = world.fleet();
        let stable = stable.service(Track::Stable);
        assert_eq!(stable.map(|s| s.task_definition.as_str()), Some(CANARY_TD));
        assert!(stable.is_some_and(|s| {
            s.deployments
                .iter()
                .any(|d| d.status == "PRIMARY" && d.rollout_state == "COMPLETED")
        }));
    }

    #[test]
    fn rollback_calls_stop_the_canary() {
        let mut world = World::new(&GOOD, t0(), 7);
        world.set_weights(TrafficSplit {
            stable: 100,
            canary: 0,
        });
        assert!(world.scale(CANARY_SERVICE, 0).is_ok());
        world.advance(t0() + secs(5));
        assert_eq!(
            world.fleet().service(Track::Canary).map(|s| s.running),
            Some(0)
        );
        assert_eq!(
            world.pipeline().stages[CANARY_STAGE].status,
            StageStatus::Failure
        );
        assert!(world.scale("nope", 1).is_err());
    }

    #[test]
    fn reviewer_approves_when_left_alone() {
        let mut world = World::new(&GOOD, t0(), 7);
        world.advance(t0() + secs(11 * 60));
        assert!(world.pipeline().pending.is_some());
        world.advance(t0() + secs(12 * 60));
        assert!(world.pipeline().pending.is_none());
    }
}
