//! Keystroke to ALB write: Enter on a confirmed rollback → the ModifyRule
//! request arriving at the endpoint, 20 times against moto server. The
//! request is timestamped by a forwarding proxy in front of moto (the
//! server side of the wire), the keystroke when it is handed to the core.
//! The same parts as the console: the core's `update`, the runner, the
//! lease beside the journal (flock), the journal's fsync, the AWS SDK.
//! Needs moto:
//!
//!     scripts/with-moto cargo bench --bench keystroke
//!
//! Prints p50/p99 of the whole and of its parts: the plan (`update`),
//! lease + start record durable (until `Begun`), and the calls up to the
//! write (the rollback's read of the rule, SDK signing, the wire). Not a
//! test: the figures go in the README.

#[path = "../tests/common/moto.rs"]
#[allow(dead_code)]
mod moto;
#[path = "../tests/common/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use flightdeck::core::action::{Key, KeyCode};
use flightdeck::core::effect::Effect;
use flightdeck::core::model::Model;
use flightdeck::core::msg::Msg;
use flightdeck::core::update::{Ctx, update};
use flightdeck::journal::Journal;
use flightdeck::runtime::runner;
use flightdeck::sources::Sources;
use tokio::sync::mpsc;

const ROLLBACKS: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(bench())
}

struct Rig {
    model: Model,
    sources: Sources,
    effects: mpsc::UnboundedSender<Effect>,
    rx: mpsc::UnboundedReceiver<Msg>,
}

impl Rig {
    fn send(&mut self, msg: Msg) -> Vec<Effect> {
        let ctx = Ctx {
            now: self.sources.clock.now(),
            operator: "bench".into(),
        };
        update(&mut self.model, msg, &ctx)
    }

    fn apply(&mut self, fx: Vec<Effect>) {
        for e in fx {
            let _ = self.effects.send(e);
        }
    }

    async fn poll(&mut self) {
        let started = self.sources.clock.now();
        let result = self.sources.fleet.snapshot().await;
        let fx = self.send(Msg::Fleet { started, result });
        self.apply(fx);
        let started = self.sources.clock.now();
        let result = self.sources.traffic.weights().await;
        let fx = self.send(Msg::Traffic { started, result });
        self.apply(fx);
    }

    fn key(&mut self, code: KeyCode) -> Vec<Effect> {
        self.send(Msg::Key(Key::plain(code)))
    }

    fn typed(&mut self, text: &str) {
        for c in text.chars() {
            let fx = self.key(KeyCode::Char(c));
            self.apply(fx);
        }
    }

    /// Pass the runner's answers to the core until `done` (at most 30 s,
    /// polling AWS every 500 ms as the pollers would).
    async fn pump(&mut self, done: impl Fn(&Rig) -> bool) {
        let end = Instant::now() + Duration::from_secs(30);
        let mut next_poll = Instant::now();
        while !done(self) && Instant::now() < end {
            if Instant::now() >= next_poll {
                self.poll().await;
                next_poll = Instant::now() + Duration::from_millis(500);
            }
            match tokio::time::timeout(Duration::from_millis(20), self.rx.recv()).await {
                Ok(Some(msg)) => {
                    let fx = self.send(msg);
                    self.apply(fx);
                }
                Ok(None) => break,
                Err(_) => {
                    let fx = self.send(Msg::Tick);
                    self.apply(fx);
                }
            }
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted
        .get(rank.min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<38} p50 {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

async fn bench() -> Result<(), Box<dyn std::error::Error>> {
    let layout = moto::layout(&format!("k{}", std::process::id())).await?;
    let moto_url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    let upstream = moto_url.trim_start_matches("http://").to_string();
    let proxy = proxy::Proxy::start(&upstream, b"Action=ModifyRule")?;
    let proxy_url = proxy.url.clone();
    let dir = tempfile::tempdir()?;
    let config_path = dir.path().join("config.toml");
    let text = moto::config_toml(&layout, "bench", "", "")?.replace(&moto_url, &proxy_url);
    std::fs::write(&config_path, text)?;
    let cli = flightdeck::app::Cli::parse_from([
        "flightdeck",
        "--config",
        config_path.to_str().unwrap_or_default(),
    ]);
    let config = flightdeck::config::load(&config_path)?;
    let (model, mut sources, _) = flightdeck::app::live_session(&cli, &config)
        .await
        .map_err(|e| e.message)?;
    let journal_path = dir.path().join("journal.jsonl");
    sources.lease = Arc::new(flightdeck::sources::lease::LocalLease::new(
        &dir.path().join("leases"),
        &model.service.identity(),
    ));
    let (tx, rx) = mpsc::unbounded_channel();
    let (effects, _runner) = runner::spawn(sources.clone(), Journal::open(&journal_path)?, tx);
    let mut rig = Rig {
        model,
        sources,
        effects,
        rx,
    };
    rig.model.analysis_settings.auto_advance = false;
    let fx = rig.send(Msg::Resize(160, 48));
    rig.apply(fx);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&layout.sdk);
    let ecs = aws_sdk_ecs::Client::new(&layout.sdk);
    let (mut total, mut plan, mut begun, mut calls) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROLLBACKS {
        // The canary back at 10 % with one task.
        elb.modify_rule()
            .rule_arn(&layout.rule)
            .actions(moto::forward(
                &layout.stable_tg,
                90,
                &layout.canary_tg,
                10,
                Some(300),
            ))
            .send()
            .await?;
        ecs.update_service()
            .cluster(&layout.cluster)
            .service(&layout.canary)
            .desired_count(1)
            .send()
            .await?;
        rig.pump(|r| r.model.canary_weight() == Some(10)).await;
        rig.poll().await;
        // R, the service's name, Enter, a reason; the timed Enter.
        let fx = rig.send(Msg::Key(Key::char('R')));
        rig.apply(fx);
        rig.typed("bench");
        let fx = rig.key(KeyCode::Enter);
        rig.apply(fx);
        rig.typed("bench");
        proxy.clear_seen();
        let pressed = Instant::now();
        let fx = rig.key(KeyCode::Enter);
        let planned = Instant::now();
        rig.apply(fx);
        // Until the change has begun (lease taken, start record durable).
        let mut begun_at = None;
        let end = Instant::now() + Duration::from_secs(10);
        while begun_at.is_none() && Instant::now() < end {
            let Some(msg) = rig.rx.recv().await else {
                break;
            };
            if matches!(msg, Msg::Begun { .. }) {
                begun_at = Some(Instant::now());
            }
            let fx = rig.send(msg);
            rig.apply(fx);
        }
        rig.pump(|_| proxy.seen().is_some()).await;
        let written = proxy.seen();
        let (Some(begun_at), Some(written)) = (begun_at, written) else {
            return Err("the rollback did not reach ModifyRule".into());
        };
        total.push(written - pressed);
        plan.push(planned - pressed);
        begun.push(begun_at - planned);
        calls.push(written.saturating_duration_since(begun_at));
        // Let the rollback end before the next.
        rig.pump(|r| r.model.running.is_none()).await;
    }
    println!("keystroke to ModifyRule at the endpoint, {ROLLBACKS} rollbacks on moto:");
    report("Enter -> ModifyRule (whole)", total);
    report("  plan (update)", plan);
    report("  lease + start record fsync", begun);
    report("  read the rule, sign, send", calls);
    // The journal's fsync alone, on the same disk.
    let mut journal = Journal::open(&dir.path().join("fsync.jsonl"))?;
    let record: flightdeck::core::effect::JournalRecord = serde_json::from_str(
        r#"{"time":"2026-12-01T10:30:00Z","operator":"bench","service":"bench","action":"rollback","from":"10%","to":"0%","reason":"bench","result":"started"}"#,
    )?;
    let mut fsync = Vec::new();
    for _ in 0..ROLLBACKS {
        let t = Instant::now();
        journal.append(&record)?;
        fsync.push(t.elapsed());
    }
    report("  of which: one journal append+fsync", fsync);
    Ok(())
}
