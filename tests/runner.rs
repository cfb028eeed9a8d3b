//! The real runner, driven by the real core, against the demo adapters (on
//! a fast simulated clock) with failures injected in front of them: a call
//! that fails, a wait that times out, a conflict, a source that does not
//! answer, and a rollback arriving at every step of a promotion. Every
//! journal record is read back from the file.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use flightdeck::app::demo_model;
use flightdeck::core::action::{Key, KeyCode, Keymap};
use flightdeck::core::effect::Effect;
use flightdeck::core::model::{
    ErrorKind, FleetSnapshot, Forward, Model, RequestId, SourceError, Track, TrafficSplit,
};
use flightdeck::core::msg::Msg;
use flightdeck::core::update::{Ctx, update};
use flightdeck::journal::Journal;
use flightdeck::runtime::runner;
use flightdeck::sources::demo::{self, SimClock, scenario};
use flightdeck::sources::{Clock, Fleet, Sources, Traffic};
use tokio::sync::mpsc;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What to do to the calls of one kind: fail the Nth, or hang it.
#[derive(Default)]
struct Faults {
    /// (step name, nth call of that name from 1, error)
    fail: Mutex<Vec<(&'static str, usize, SourceError)>>,
    hang: Mutex<Vec<(&'static str, usize)>>,
    counts: Mutex<Vec<(&'static str, usize)>>,
    calls: AtomicUsize,
    /// Reads of the weights fail (the load balancer is unreachable).
    weights_unreachable: std::sync::atomic::AtomicBool,
    /// Calls that are applied and whose answer never comes back.
    answer_lost: Mutex<Vec<&'static str>>,
}

impl Faults {
    /// After a call was applied: lose its answer, if asked to.
    async fn after(&self, name: &'static str) {
        let lost = self
            .answer_lost
            .lock()
            .map(|l| l.contains(&name))
            .unwrap_or(false);
        if lost {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    }

    /// Count a call; the injected outcome, if any.
    async fn check(&self, name: &'static str) -> Result<(), SourceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let n = {
            let mut counts = self.counts.lock().map_err(|_| SourceError::new("lock"))?;
            match counts.iter_mut().find(|(k, _)| *k == name) {
                Some((_, c)) => {
                    *c += 1;
                    *c
                }
                None => {
                    counts.push((name, 1));
                    1
                }
            }
        };
        let hang = self
            .hang
            .lock()
            .map_err(|_| SourceError::new("lock"))?
            .iter()
            .any(|(k, i)| *k == name && *i == n);
        if hang {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let fail = self
            .fail
            .lock()
            .map_err(|_| SourceError::new("lock"))?
            .iter()
            .find(|(k, i, _)| *k == name && *i == n)
            .map(|(_, _, e)| e.clone());
        fail.map_or(Ok(()), Err)
    }
}

/// Demo adapters with faults in front of the calls that change things.
struct Faulty {
    inner: Sources,
    faults: Arc<Faults>,
}

#[async_trait]
impl Fleet for Faulty {
    async fn snapshot(&self) -> Result<FleetSnapshot, SourceError> {
        self.inner.fleet.snapshot().await
    }
    async fn scale(
        &self,
        service: &str,
        desired: u32,
        expect: Option<u32>,
    ) -> Result<RequestId, SourceError> {
        self.faults.check("scale_canary").await?;
        self.inner.fleet.scale(service, desired, expect).await
    }
    async fn set_task_definition(&self, service: &str, td: &str) -> Result<RequestId, SourceError> {
        self.faults.check("update_stable").await?;
        self.inner.fleet.set_task_definition(service, td).await
    }
}

#[async_trait]
impl Traffic for Faulty {
    async fn weights(&self) -> Result<Forward, SourceError> {
        if self.faults.weights_unreachable.load(Ordering::SeqCst) {
            return Err(SourceError::of_kind(
                ErrorKind::Unavailable,
                "elasticloadbalancing.eu-west-1.amazonaws.com: connection timed out",
            ));
        }
        self.inner.traffic.weights().await
    }
    async fn set_weights(
        &self,
        expect: Option<TrafficSplit>,
        to: TrafficSplit,
    ) -> Result<RequestId, SourceError> {
        self.faults.check("set_weights").await?;
        let id = self.inner.traffic.set_weights(expect, to).await?;
        self.faults.after("set_weights").await;
        Ok(id)
    }
}

/// The core, the real runner and the demo world, in one test.
struct Rig {
    model: Model,
    sources: Sources,
    faults: Arc<Faults>,
    effects: mpsc::UnboundedSender<Effect>,
    rx: mpsc::UnboundedReceiver<Msg>,
    runner: tokio::task::JoinHandle<()>,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// A good release on Tuesday inside the window; the clock runs 120×
    /// faster, so a 40 s task start takes a third of a second.
    fn new(timeout: Duration) -> Result<Rig, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("journal.jsonl");
        let clock: Arc<dyn Clock> = Arc::new(SimClock::new(common::tuesday(), 120));
        let inner = demo::sources(&scenario::GOOD, clock.clone(), 7);
        let faults = Arc::new(Faults::default());
        let faulty = Arc::new(Faulty {
            inner: inner.clone(),
            faults: faults.clone(),
        });
        let sources = Sources {
            fleet: faulty.clone(),
            traffic: faulty,
            ..inner
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let (effects, runner) =
            runner::spawn_with_timeout(sources.clone(), Journal::open(&path)?, tx, timeout);
        let mut model = demo_model(
            "good",
            120,
            false,
            Keymap::default(),
            "default",
            clock.now(),
        );
        model.analysis_settings.auto_advance = false;
        let mut rig = Rig {
            model,
            sources,
            faults,
            effects,
            rx,
            runner,
            path,
            _dir: dir,
        };
        rig.send(Msg::Resize(160, 48));
        Ok(rig)
    }

    fn send(&mut self, msg: Msg) {
        let ctx = Ctx {
            now: self.sources.clock.now(),
            operator: "ana".into(),
        };
        for effect in update(&mut self.model, msg, &ctx) {
            let _ = self.effects.send(effect);
        }
    }

    /// What the pollers do, once.
    async fn poll(&mut self) {
        let fleet_started = self.sources.clock.now();
        let fleet = self.sources.fleet.snapshot().await;
        self.send(Msg::Fleet {
            started: fleet_started,
            result: fleet,
        });
        let started = self.sources.clock.now();
        let result = self.sources.traffic.weights().await;
        self.send(Msg::Traffic { started, result });
        let run = self.sources.pipeline.latest_run().await;
        self.send(Msg::Pipeline(run.map(Box::new)));
        let to = self.sources.clock.now();
        let points = self
            .sources
            .metrics
            .points(to - chrono::Duration::minutes(10), to)
            .await;
        self.send(Msg::Metrics(points));
    }

    /// Poll, tick and pass the runner's answers to the core for `ms`.
    async fn run_for(&mut self, ms: u64) {
        let end = tokio::time::Instant::now() + Duration::from_millis(ms);
        while tokio::time::Instant::now() < end {
            self.poll().await;
            self.send(Msg::Tick);
            while let Ok(msg) = self.rx.try_recv() {
                self.send(msg);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Run until no change runs (at most `ms`).
    async fn settle(&mut self, ms: u64) {
        let end = tokio::time::Instant::now() + Duration::from_millis(ms);
        while self.model.running.is_some() && tokio::time::Instant::now() < end {
            self.run_for(50).await;
        }
    }

    fn key(&mut self, c: char) {
        self.send(Msg::Key(Key::char(c)));
    }

    /// Press `key` and confirm its dialog (name, then reason).
    fn confirm(&mut self, key: char, reason: &str) {
        self.key(key);
        for c in "auth-service".chars() {
            self.key(c);
        }
        self.send(Msg::Key(Key::plain(KeyCode::Enter)));
        for c in reason.chars() {
            self.key(c);
        }
        self.send(Msg::Key(Key::plain(KeyCode::Enter)));
    }

    async fn world(&self) -> (u8, String, u32) {
        let fleet = self.sources.fleet.snapshot().await.unwrap_or_default();
        let stable = fleet
            .service(Track::Stable)
            .map(|s| s.task_definition.clone())
            .unwrap_or_default();
        let canary = fleet.service(Track::Canary).map_or(99, |s| s.desired);
        let split = self
            .sources
            .traffic
            .weights()
            .await
            .map(|f| f.split.canary_pct());
        (split.unwrap_or(99), stable, canary)
    }

    async fn records(self) -> Result<Vec<serde_json::Value>, Box<dyn std::error::Error>> {
        drop(self.effects);
        self.runner.await?;
        let text = std::fs::read_to_string(&self.path)?;
        Ok(text
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?)
    }
}

fn results(records: &[serde_json::Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            format!(
                "{} {}{}",
                r["action"].as_str().unwrap_or("?"),
                r["step"]
                    .as_str()
                    .map(|s| format!("[{}] ", s.split(':').next().unwrap_or(s)))
                    .unwrap_or_default(),
                r["result"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn an_advance_scales_first_and_journals_every_step() -> TestResult {
    let mut rig = Rig::new(Duration::from_secs(5))?;
    rig.run_for(100).await;
    rig.confirm(']', "");
    rig.settle(10_000).await;
    assert_eq!(rig.world().await, (50, "auth-service:41".to_string(), 5));
    let records = rig.records().await?;
    let seen = results(&records);
    let steps: Vec<&String> = seen
        .iter()
        .filter(|s| s.starts_with("set_weight"))
        .collect();
    assert_eq!(
        steps,
        [
            "set_weight started",
            "set_weight [1/3 scale_canary] started",
            "set_weight [1/3 scale_canary] ok",
            "set_weight [2/3 wait_canary_healthy] started",
            "set_weight [2/3 wait_canary_healthy] ok",
            "set_weight [3/3 set_weights] started",
            "set_weight [3/3 set_weights] ok",
            "set_weight ok",
        ],
        "{seen:#?}"
    );
    let end = records.last().ok_or("no records")?;
    assert_eq!(end["request_ids"].as_array().map(Vec::len), Some(2));
    assert_eq!(end["steps"].as_array().map(Vec::len), Some(3));
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_rollback_at_every_step_of_a_promotion_restores_the_baseline() -> TestResult {
    // Stop the promotion after each of its steps in turn (and during its
    // waits), roll back, and check the invariant on the world.
    for stop_after_calls in 1..=5 {
        let mut rig = Rig::new(Duration::from_secs(5))?;
        rig.run_for(100).await;
        assert!(rig.model.baseline.is_some(), "baseline seen");
        rig.confirm('P', "");
        let end = tokio::time::Instant::now() + Duration::from_secs(10);
        while rig.faults.calls.load(Ordering::SeqCst) < stop_after_calls
            && rig.model.running.is_some()
            && tokio::time::Instant::now() < end
        {
            rig.run_for(20).await;
        }
        rig.confirm('R', "drill");
        rig.settle(15_000).await;
        assert_eq!(
            rig.world().await,
            (0, "auth-service:41".to_string(), 0),
            "rollback after {stop_after_calls} calls of the promotion"
        );
        let records = rig.records().await?;
        let seen = results(&records);
        assert!(
            seen.iter().any(
                |s| s.starts_with("promote stopped: preempted by a rollback") || s == "promote ok"
            ),
            "{seen:#?}"
        );
        assert_eq!(
            seen.last().map(String::as_str),
            Some("rollback ok"),
            "{seen:#?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_call_ends_the_change_and_keeps_its_request_ids() -> TestResult {
    let mut rig = Rig::new(Duration::from_secs(5))?;
    rig.faults.fail.lock().map_err(|_| "lock")?.push((
        "set_weights",
        1,
        SourceError::of_kind(
            ErrorKind::Auth,
            "AccessDenied: elasticloadbalancing:ModifyRule",
        )
        .with_request_id("req-denied"),
    ));
    rig.run_for(100).await;
    rig.confirm(']', "");
    rig.settle(10_000).await;
    assert_eq!(rig.world().await.0, 10, "traffic untouched");
    let records = rig.records().await?;
    let end = records.last().ok_or("no records")?;
    let result = end["result"].as_str().unwrap_or_default();
    assert!(
        result.starts_with("failed: 3. traffic") && result.contains("AccessDenied"),
        "{result}"
    );
    let ids: Vec<&str> = end["request_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        ids.len(),
        2,
        "the scale call's id and the denied call's: {ids:?}"
    );
    assert!(ids.contains(&"req-denied"));
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn weights_moved_by_another_tool_are_a_conflict_not_an_overwrite() -> TestResult {
    let mut rig = Rig::new(Duration::from_secs(5))?;
    rig.run_for(100).await;
    rig.key('w');
    for c in "25".chars() {
        rig.key(c);
    }
    rig.send(Msg::Key(Key::plain(KeyCode::Enter)));
    // Someone moves the weights while the canary scales up.
    for c in "auth-service".chars() {
        rig.key(c);
    }
    rig.send(Msg::Key(Key::plain(KeyCode::Enter)));
    rig.sources
        .traffic
        .set_weights(
            None,
            TrafficSplit {
                stable: 80,
                canary: 20,
            },
        )
        .await?;
    rig.settle(10_000).await;
    assert_eq!(rig.world().await.0, 20, "the other tool's weights stand");
    let records = rig.records().await?;
    let end = records.last().ok_or("no records")?;
    let result = end["result"].as_str().unwrap_or_default();
    assert!(
        result.contains("the weights moved") && result.contains("canary 20"),
        "{result}"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_call_that_never_answers_times_out_and_a_wait_can_time_out() -> TestResult {
    let mut rig = Rig::new(Duration::from_millis(300))?;
    rig.faults
        .hang
        .lock()
        .map_err(|_| "lock")?
        .push(("scale_canary", 1));
    rig.run_for(100).await;
    rig.confirm(']', "");
    rig.settle(5_000).await;
    assert!(rig.model.running.is_none());
    let last = rig.model.last_change.clone().ok_or("no last change")?;
    assert!(
        last.result
            .contains("outcome unknown: scale_canary got no answer")
            && last
                .result
                .contains("auth-service-production-canary now: 1 desired"),
        "{}",
        last.result
    );

    // A wait that times out: the canary is scaled but the timeout is
    // shorter than a task takes to start (40 simulated seconds).
    rig.model.running = None;
    rig.faults.hang.lock().map_err(|_| "lock")?.clear();
    rig.confirm(']', "");
    if let Some(r) = &mut rig.model.running {
        for step in &mut r.change.steps {
            if let flightdeck::core::change::Step::WaitCanaryHealthy { timeout, .. } = step {
                *timeout = Duration::from_secs(5);
            }
        }
    }
    rig.settle(5_000).await;
    let last = rig.model.last_change.clone().ok_or("no last change")?;
    assert!(
        last.result.contains("timed out after 5s"),
        "{}",
        last.result
    );
    assert_eq!(rig.world().await.0, 10, "no traffic to unhealthy tasks");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn no_call_is_made_when_the_journal_cannot_be_written() -> TestResult {
    let clock: Arc<dyn Clock> = Arc::new(SimClock::new(common::tuesday(), 120));
    let sources = demo::sources(&scenario::GOOD, clock, 1);
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Every write to /dev/full fails with "no space left on device".
    let (effects, handle) = runner::spawn(
        sources.clone(),
        Journal::open(std::path::Path::new("/dev/full"))?,
        tx,
    );
    let mut h = common::Harness::new("good", common::tuesday(), false);
    h.key(Key::char('R'));
    let fx = h.confirm("drill");
    // The change begins by taking the lease and writing its start: that
    // write fails, so it never begins (and no call follows).
    for e in fx.into_iter().filter(|e| matches!(e, Effect::Begin(_))) {
        effects.send(e)?;
    }
    let msg = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await?;
    let Some(Msg::Begun { result: Err(e), .. }) = msg else {
        return Err(format!("{msg:?}").into());
    };
    assert!(
        e.message
            .starts_with("not done: cannot write the journal /dev/full"),
        "{e}"
    );
    assert_eq!(
        sources.traffic.weights().await?.split.canary,
        10,
        "untouched"
    );
    // An operator action (pause) is not taken either.
    let fx = h.key(Key::char('p'));
    for e in fx {
        effects.send(e)?;
    }
    let msg = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await?;
    assert!(
        matches!(&msg, Some(Msg::JournalFailed(why)) if why.starts_with("pause not done")),
        "{msg:?}"
    );
    drop(effects);
    handle.await?;
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_rollback_works_while_the_weights_cannot_be_read() -> TestResult {
    let mut rig = Rig::new(Duration::from_secs(5))?;
    rig.faults.weights_unreachable.store(true, Ordering::SeqCst);
    rig.run_for(100).await;
    assert!(rig.model.traffic.value().is_none(), "no weights ever read");
    rig.confirm('R', "elb flaky");
    rig.settle(10_000).await;
    let last = rig.model.last_change.clone().ok_or("no change")?;
    assert_eq!(last.result, "ok");
    rig.faults
        .weights_unreachable
        .store(false, Ordering::SeqCst);
    assert_eq!(rig.world().await, (0, "auth-service:41".to_string(), 0));
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_automatic_change_is_made_once_and_pauses_automation() -> TestResult {
    // Seen by review: with UpdateService denied, 901 automatic attempts in
    // 15 minutes, each with 4 journal fsyncs and 2 notifications. Here the
    // real runner, the demo fleet behind an AccessDenied on every scale.
    let mut rig = Rig::new(Duration::from_secs(5))?;
    {
        let mut fail = rig.faults.fail.lock().map_err(|_| "lock")?;
        for n in 1..=1000 {
            fail.push((
                "scale_canary",
                n,
                SourceError::of_kind(
                    ErrorKind::Auth,
                    "ecs:UpdateService on auth-service-production-canary: AccessDeniedException",
                )
                .with_request_id(format!("denied-{n}")),
            ));
        }
    }
    // The second reviewer approves; automation is on.
    let run = rig.sources.pipeline.latest_run().await?;
    if let Some(p) = &run.pending {
        rig.sources
            .pipeline
            .review(run.id, &p.environment, &p.environment_ids, true, "ok")
            .await?;
    }
    rig.model.analysis_settings.auto_advance = true;
    // 12 s at 120x: 24 simulated minutes, far past the 5 min bake.
    rig.run_for(12_000).await;
    assert!(rig.model.plan_state.paused, "{:?}", rig.model.journal);
    let scales = rig
        .faults
        .counts
        .lock()
        .map_err(|_| "lock")?
        .iter()
        .find(|(k, _)| *k == "scale_canary")
        .map_or(0, |(_, n)| *n);
    assert_eq!(scales, 1, "one attempt");
    let records = rig.records().await?;
    let started = records
        .iter()
        .filter(|r| {
            r["action"] == "set_weight" && r["result"] == "started" && r.get("step").is_none()
        })
        .count();
    assert_eq!(started, 1);
    let pauses: Vec<&serde_json::Value> =
        records.iter().filter(|r| r["action"] == "pause").collect();
    assert_eq!(pauses.len(), 1, "{pauses:?}");
    assert!(
        pauses[0]["reason"].as_str().is_some_and(
            |r| r.contains("an automatic set_weight failed") && r.contains("AccessDenied")
        ),
        "{pauses:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_write_applied_whose_answer_is_lost_is_confirmed_by_reading_it_back() -> TestResult {
    // Seen: a write answered after the call timeout was journaled as
    // failed while the provider had applied it. Now it is read back: the
    // rule shows what the step asked for, so the step is done (and says
    // how it knows).
    let mut rig = Rig::new(Duration::from_millis(500))?;
    rig.faults
        .answer_lost
        .lock()
        .map_err(|_| "lock")?
        .push("set_weights");
    rig.run_for(100).await;
    rig.confirm('R', "drill");
    rig.settle(10_000).await;
    let last = rig.model.last_change.clone().ok_or("no last change")?;
    assert_eq!(last.result, "ok", "{:?}", last.ran);
    assert_eq!(rig.world().await, (0, "auth-service:41".into(), 0));
    let records = rig.records().await?;
    let step = records
        .iter()
        .find(|r| {
            r["step"].as_str().is_some_and(|s| s.starts_with("1/")) && r["result"] != "started"
        })
        .ok_or("no result record of step 1")?;
    let result = step["result"].as_str().unwrap_or_default();
    assert!(
        result.starts_with("ok: set_weights got no answer in ")
            && result.ends_with("but the rule now forwards stable 100 / canary 0"),
        "{result}"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_slow_journal_delays_the_change_never_the_loop() -> TestResult {
    // The product's runtime: one thread. The journal's append takes 1.5 s
    // (a slow disk); a ticker on the same runtime stands for the pollers,
    // the analysis and the screen.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("journal.jsonl");
    let clock: Arc<dyn Clock> = Arc::new(SimClock::new(common::tuesday(), 120));
    let sources = demo::sources(&scenario::GOOD, clock, 1);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let journal = Journal::open(&path)?.slowed(Duration::from_millis(1500));
    let (effects, handle) = runner::spawn(sources.clone(), journal, tx);
    let mut h = common::Harness::new("good", common::tuesday(), false);
    h.key(Key::char('R'));
    for e in h
        .confirm("drill")
        .into_iter()
        .filter(|e| matches!(e, Effect::Begin(_)))
    {
        effects.send(e)?;
    }
    let mut ticks = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let begun = loop {
        tokio::select! {
            msg = rx.recv() => break msg,
            _ = tick.tick() => ticks += 1,
        }
    };
    let Some(Msg::Begun { result: Ok(_), .. }) = begun else {
        return Err(format!("{begun:?}").into());
    };
    // The loop went on while the record was written (blocking the thread
    // would have stopped the ticker: 1 tick at most).
    assert!(ticks >= 5, "{ticks} ticks while the journal was written");
    // And the change waited for it: its start is durable before it begins.
    let text = std::fs::read_to_string(&path)?;
    assert!(
        text.lines()
            .any(|l| l.contains("\"action\":\"rollback\"") && l.contains("\"result\":\"started\"")),
        "{text}"
    );
    assert_eq!(
        sources.traffic.weights().await?.split.canary,
        10,
        "no call yet"
    );
    drop(effects);
    handle.await?;
    Ok(())
}
