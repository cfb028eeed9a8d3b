//! The effect runner against the demo adapters: a change is journaled before
//! and after, its API calls happen in order, and a rollback interrupts a
//! change under way instead of waiting behind it.

use std::sync::Arc;
use std::time::Duration;

use flightdeck::core::effect::{ChangeOp, ChangeRequest, Effect};
use flightdeck::core::msg::Msg;
use flightdeck::journal::Journal;
use flightdeck::runtime::runner::{self, Targets};
use flightdeck::sources::Clock;
use flightdeck::sources::demo::world::{CANARY_SERVICE, STABLE_SERVICE};
use flightdeck::sources::demo::{self, SimClock, scenario};
use tokio::sync::mpsc;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn request(id: u64, op: ChangeOp) -> ChangeRequest {
    ChangeRequest {
        id,
        op,
        service: "auth-service".into(),
        from: "10%".into(),
        to: "x".into(),
        reason: Some("test".into()),
        automatic: false,
    }
}

fn targets() -> Targets {
    Targets {
        stable_service: STABLE_SERVICE.into(),
        canary_service: Some(CANARY_SERVICE.into()),
    }
}

type Started = (
    flightdeck::sources::Sources,
    mpsc::UnboundedSender<Effect>,
    mpsc::UnboundedReceiver<Msg>,
    tokio::task::JoinHandle<()>,
);

/// A runner over a fresh demo world on a real-time clock.
fn start(journal: Journal) -> Started {
    let clock: Arc<dyn Clock> = Arc::new(SimClock::new(chrono::Utc::now(), 1));
    let sources = demo::sources(&scenario::GOOD, clock, 1);
    let (tx, rx) = mpsc::unbounded_channel();
    let (effects, handle) = runner::spawn(sources.clone(), journal, "ana".into(), targets(), tx);
    (sources, effects, rx, handle)
}

async fn done(
    rx: &mut mpsc::UnboundedReceiver<Msg>,
) -> Result<(u64, Result<Vec<String>, String>), String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv()).await {
            Ok(Some(Msg::ChangeDone { id, result })) => {
                return Ok((id, result.map(|o| o.request_ids)));
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err("runner gone".into()),
            Err(_) => return Err("no ChangeDone in 20 s".into()),
        }
    }
}

fn journal_lines(
    path: &std::path::Path,
) -> Result<Vec<serde_json::Value>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?)
}

#[tokio::test]
async fn a_weight_change_is_journaled_before_and_after_and_made() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("j.jsonl");
    let (sources, effects, mut rx, handle) = start(Journal::open(&path)?);
    effects.send(Effect::Change(request(
        7,
        ChangeOp::SetCanaryWeight { weight: 25 },
    )))?;
    let (id, result) = done(&mut rx).await?;
    assert_eq!(id, 7);
    assert_eq!(result.map(|ids| ids.len()), Ok(1));
    assert_eq!(
        sources
            .traffic
            .weights()
            .await
            .map(|w| (w.stable, w.canary)),
        Ok((75, 25))
    );
    drop(effects);
    handle.await?;
    let lines = journal_lines(&path)?;
    let results: Vec<&str> = lines.iter().filter_map(|l| l["result"].as_str()).collect();
    assert_eq!(results, ["started", "ok"]);
    assert_eq!(lines[1]["action"], "set_weight");
    assert_eq!(lines[1]["operator"], "ana");
    Ok(())
}

#[tokio::test]
async fn a_rollback_interrupts_a_promotion_under_way() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("j.jsonl");
    // Real-time clock: the promotion waits ~40 s for the stable deployment.
    let (sources, effects, mut rx, handle) = start(Journal::open(&path)?);
    let promote = ChangeOp::Promote {
        canary_task_definition: "auth-service:42".into(),
    };
    effects.send(Effect::Change(request(1, promote)))?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sources.traffic.weights().await.map(|w| w.canary),
        Ok(100),
        "promotion began"
    );
    let rollback = ChangeOp::Rollback {
        canary_service: Some(CANARY_SERVICE.into()),
        previous_task_definition: None,
    };
    effects.send(Effect::Change(request(2, rollback)))?;
    let (first, r1) = done(&mut rx).await?;
    assert_eq!(
        (first, r1),
        (1, Err("interrupted by a rollback".to_string()))
    );
    let (second, r2) = done(&mut rx).await?;
    assert_eq!(second, 2);
    assert_eq!(r2.map(|ids| ids.len()), Ok(2), "weights, then scale");
    assert_eq!(sources.traffic.weights().await.map(|w| w.canary), Ok(0));
    let canary = sources.fleet.snapshot().await.ok().and_then(|f| {
        f.service(flightdeck::core::model::Track::Canary)
            .map(|s| s.desired)
    });
    assert_eq!(canary, Some(0));
    drop(effects);
    handle.await?;
    let lines = journal_lines(&path)?;
    let seen: Vec<String> = lines
        .iter()
        .map(|l| {
            format!(
                "{} {}",
                l["action"].as_str().unwrap_or("?"),
                l["result"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            "promote started",
            "promote failed: interrupted by a rollback",
            "rollback started",
            "rollback ok"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn no_change_is_made_when_the_journal_cannot_be_written() -> TestResult {
    // Every write to /dev/full fails with "no space left on device".
    let (sources, effects, mut rx, handle) =
        start(Journal::open(std::path::Path::new("/dev/full"))?);
    effects.send(Effect::Change(request(
        3,
        ChangeOp::SetCanaryWeight { weight: 50 },
    )))?;
    let (id, result) = done(&mut rx).await?;
    assert_eq!(id, 3);
    let err = result.err().unwrap_or_default();
    assert!(
        err.starts_with("not done: cannot write the journal /dev/full"),
        "{err}"
    );
    assert_eq!(
        sources.traffic.weights().await.map(|w| w.canary),
        Ok(10),
        "traffic untouched"
    );
    drop(effects);
    handle.await?;
    Ok(())
}
