//! The demo: a simulated release behind the same source traits as AWS and
//! GitHub, so `flightdeck --demo` runs the whole console with no network and
//! no credentials.

pub mod scenario;
pub mod world;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;

use super::{Clock, Fleet, LogCursor, Logs, Metrics, Pipeline, RequestId, Sources, Traffic};
use crate::core::model::{
    ErrorKind, FleetSnapshot, Forward, LogLine, MetricPoint, PipelineRun, SourceError, Time,
    TrafficSplit,
};
pub use scenario::Scenario;
pub use world::World;

/// How much faster than real time the demo runs: the seed's 15 minutes of
/// bake play in 90 seconds.
pub const DEFAULT_SPEED: u32 = 10;

/// A clock that starts at a given time and runs `speed` times faster.
pub struct SimClock {
    real_start: Instant,
    sim_start: Time,
    speed: u32,
}

impl SimClock {
    pub fn new(sim_start: Time, speed: u32) -> SimClock {
        SimClock {
            real_start: Instant::now(),
            sim_start,
            speed: speed.max(1),
        }
    }
}

impl Clock for SimClock {
    fn now(&self) -> Time {
        let real = self.real_start.elapsed() * self.speed;
        self.sim_start + chrono::Duration::from_std(real).unwrap_or_default()
    }
}

/// One adapter for every trait, over the shared simulated world. Each call
/// first moves the world to the clock's time.
pub struct DemoSource {
    world: Arc<Mutex<World>>,
    clock: Arc<dyn Clock>,
    /// Short ids of the tasks whose logs are followed.
    followed: Mutex<Vec<String>>,
}

impl DemoSource {
    fn world(&self) -> Result<MutexGuard<'_, World>, SourceError> {
        let mut world = self
            .world
            .lock()
            .map_err(|_| SourceError::new("demo simulator failed (poisoned lock)"))?;
        world.advance(self.clock.now());
        Ok(world)
    }
}

/// Sources for a demo run of `scenario`, starting at the clock's time.
pub fn sources(scenario: &'static Scenario, clock: Arc<dyn Clock>, seed: u64) -> Sources {
    let world = Arc::new(Mutex::new(World::new(scenario, clock.now(), seed)));
    let source = Arc::new(DemoSource {
        world,
        clock: clock.clone(),
        followed: Mutex::new(Vec::new()),
    });
    Sources {
        pipeline: source.clone(),
        fleet: source.clone(),
        traffic: source.clone(),
        logs: source.clone(),
        metrics: source,
        clock,
        lease: Arc::new(crate::sources::lease::MemoryLease::default()),
        team: None,
        calls: None,
        native: None,
    }
}

#[async_trait]
impl Pipeline for DemoSource {
    async fn latest_run(&self) -> Result<PipelineRun, SourceError> {
        Ok(self.world()?.pipeline())
    }

    async fn review(
        &self,
        run_id: u64,
        environment: &str,
        _environment_ids: &[u64],
        approve: bool,
        _comment: &str,
    ) -> Result<RequestId, SourceError> {
        let mut world = self.world()?;
        if approve {
            world.approve(run_id, environment, "")
        } else {
            world.reject(run_id, environment)
        }
    }
}

#[async_trait]
impl Fleet for DemoSource {
    async fn snapshot(&self) -> Result<FleetSnapshot, SourceError> {
        Ok(self.world()?.fleet())
    }

    async fn scale(
        &self,
        service: &str,
        desired: u32,
        expect: Option<u32>,
    ) -> Result<RequestId, SourceError> {
        let mut world = self.world()?;
        if let Some(expect) = expect {
            world.expect_desired(service, expect)?;
        }
        world.scale(service, desired)
    }

    async fn set_task_definition(
        &self,
        service: &str,
        task_definition: &str,
    ) -> Result<RequestId, SourceError> {
        self.world()?.set_task_definition(service, task_definition)
    }
}

#[async_trait]
impl Traffic for DemoSource {
    async fn weights(&self) -> Result<Forward, SourceError> {
        Ok(self.world()?.forward())
    }

    async fn set_weights(
        &self,
        expect: Option<TrafficSplit>,
        to: TrafficSplit,
    ) -> Result<RequestId, SourceError> {
        let mut world = self.world()?;
        if let Some(expect) = expect {
            let now = world.split();
            if now != expect {
                return Err(SourceError::of_kind(
                    ErrorKind::Conflict,
                    format!(
                        "the weights moved: expected {expect}, found {now} (another tool changed the listener rule)"
                    ),
                )
                .with_hint("look at the Canary pane and decide again"));
            }
        }
        Ok(world.set_weights(to))
    }
}

#[async_trait]
impl Logs for DemoSource {
    async fn read(&self, mut cursor: LogCursor) -> Result<(Vec<LogLine>, LogCursor), SourceError> {
        let tasks = self.followed.lock().map(|f| f.clone()).unwrap_or_default();
        let lines = self.world()?.logs_from(&cursor, &tasks);
        let new = cursor.take_new(lines);
        Ok((new, cursor))
    }

    fn follow(&self, tasks: &[crate::sources::LogTask]) {
        if let Ok(mut f) = self.followed.lock() {
            *f = tasks
                .iter()
                .map(|t| t.id.get(..8).unwrap_or(&t.id).to_string())
                .collect();
        }
    }
}

#[async_trait]
impl Metrics for DemoSource {
    async fn points(&self, from: Time, to: Time) -> Result<Vec<MetricPoint>, SourceError> {
        Ok(self.world()?.points_between(from, to))
    }
}
