//! Team state on DynamoDB, against moto server (the real SDK, the real wire
//! protocol): the table made by `flightdeck team create-table`, the shared
//! lease (a race has one winner that the loser names, a rollback takes
//! over, a holder that stops heart-beating expires, a stale holder's
//! writes fail), and the team journal (what one process writes another
//! reads, once). `scripts/test` starts moto; these fail without it.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::moto::{TestResult, sdk};
use flightdeck::core::effect::JournalRecord;
use flightdeck::core::model::{ErrorKind, LeaseHolder};
use flightdeck::sources::team::Team;
use flightdeck::sources::{Lease, SystemClock};

fn holder(operator: &str, change: &str, action: &str) -> LeaseHolder {
    LeaseHolder {
        operator: operator.into(),
        via: "console".into(),
        change: change.into(),
        action: action.into(),
        host: String::new(),
        pid: 0,
        since: String::new(),
        call_until: None,
        started: None,
    }
}

/// A fresh table on moto, and two processes' views of one service on it.
async fn two_views(name: &str) -> Result<(Team, Team), Box<dyn std::error::Error>> {
    let sdk = sdk().await?;
    let table = format!("{name}-{}", std::process::id());
    let identity = format!("123456789012/eu-west-1/c/{name}/{name}-canary");
    let a = Team::new(&sdk, &table, &identity, Arc::new(SystemClock));
    assert!(a.create_table().await?, "created");
    assert!(!a.create_table().await?, "there already: fine");
    let b = Team::new(&sdk, &table, &identity, Arc::new(SystemClock));
    Ok((a, b))
}

#[tokio::test(flavor = "current_thread")]
async fn a_race_for_the_lease_has_one_winner_and_the_loser_names_it() -> TestResult {
    let (a, b) = two_views("race").await?;
    let (ana, bob) = (
        holder("ana", "c-a", "promote"),
        holder("bob", "c-b", "set_weight"),
    );
    let (ra, rb) = tokio::join!(a.acquire(&ana, false), b.acquire(&bob, false));
    let (won, lost, loser) = match (ra, rb) {
        (Ok(g), Err(e)) => (g, e, "bob"),
        (Err(e), Ok(g)) => (g, e, "ana"),
        other => return Err(format!("not one winner: {other:?}").into()),
    };
    assert_eq!(won.generation, 1);
    assert_eq!(lost.kind, ErrorKind::Held, "{lost}");
    let winner = if loser == "bob" { "ana@" } else { "bob@" };
    assert!(lost.message.contains(winner), "names the holder: {lost}");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_rollback_takes_over_and_the_stale_holder_s_writes_fail() -> TestResult {
    let (a, b) = two_views("takeover").await?;
    let driver = holder("ci", "d-1", "set_weight");
    let grant = a.acquire(&driver, false).await?;
    a.check(&driver, grant.generation, None).await?;
    let rollback = holder("oncall", "r-1", "rollback");
    let taken = b.acquire(&rollback, true).await?;
    assert_eq!(
        taken.took_over.as_ref().map(|h| h.operator.as_str()),
        Some("ci")
    );
    // The driver's next check fails, naming who took it; its release does
    // not give away the rollback's lease.
    let err = a
        .check(&driver, grant.generation, None)
        .await
        .err()
        .ok_or("the stale holder still holds")?;
    assert_eq!(err.kind, ErrorKind::Preempted, "{err}");
    assert!(err.message.contains("oncall@"), "{err}");
    a.release(&driver, grant.generation).await;
    b.check(&rollback, taken.generation, None).await?;
    b.release(&rollback, taken.generation).await;
    // Given back: the next change takes it freely.
    let next = a.acquire(&holder("ana", "c-2", "advance"), false).await?;
    assert!(next.took_over.is_none() && next.expired.is_none());
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_holder_that_stops_heart_beating_loses_the_lease_after_expiry() -> TestResult {
    let (a, b) = two_views("expiry").await?;
    let (a, b) = (
        a.with_expiry(Duration::from_secs(1)),
        b.with_expiry(Duration::from_secs(1)),
    );
    let dead = holder("ana", "c-dead", "promote");
    a.acquire(&dead, false).await?;
    // Still fresh: refused.
    let err = b
        .acquire(&holder("bob", "c-b", "advance"), false)
        .await
        .err()
        .ok_or("taken while fresh")?;
    assert_eq!(err.kind, ErrorKind::Held);
    // No heartbeat for longer than the expiry (whole seconds on the item).
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let grant = b.acquire(&holder("bob", "c-b", "advance"), false).await?;
    assert_eq!(
        grant.expired.as_ref().map(|h| h.operator.as_str()),
        Some("ana"),
        "{grant:?}"
    );
    Ok(())
}

fn record(action: &str, time: &str) -> JournalRecord {
    JournalRecord {
        time: time.into(),
        operator: "ana".into(),
        service: "svc".into(),
        identity: Some("123456789012/eu-west-1/c/journal/journal-canary".into()),
        action: action.into(),
        from: "10%".into(),
        to: "50%".into(),
        reason: None,
        result: "ok".into(),
        request_ids: Vec::new(),
        automatic: false,
        change: None,
        step: None,
        steps: Vec::new(),
        weights: None,
        via: Some("console".into()),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn what_one_process_journals_another_reads_once() -> TestResult {
    let (a, b) = two_views("journal").await?;
    let first = record("pause", "2026-12-01T10:30:00Z");
    let key = a.key_for(&first);
    a.put_record("ana@laptop", &key, &first).await?;
    // Sent again after a lost answer: the same item.
    a.put_record("ana@laptop", &key, &first).await?;
    let second = record("set_weight", "2026-12-01T10:31:00Z");
    a.put_record("ana@laptop", &a.key_for(&second), &second)
        .await?;
    let seen = b.records_after("", 200).await?;
    let actions: Vec<&str> = seen.iter().map(|e| e.record.action.as_str()).collect();
    assert_eq!(actions, ["pause", "set_weight"], "in time order, once each");
    assert!(
        seen.iter()
            .all(|e| e.origin == "ana@laptop" && e.process == a.process())
    );
    // Only what is newer than the last seen.
    let after = b.records_after(&seen[0].key, 200).await?;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].record.action, "set_weight");
    assert!(b.records_after(&after[0].key, 200).await?.is_empty());
    Ok(())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

#[test]
fn create_table_from_the_command_line_and_a_missing_table_is_a_clear_refusal() -> TestResult {
    let url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    let dir = tempfile::tempdir()?;
    let table = format!("cli-{}", std::process::id());
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"{url}\"\n\n[team]\ntable = \"{table}\"\n"
        ),
    )?;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(["--config", path(&config)])
            .args(args)
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .output()
    };
    let out = run(&["team", "create-table"])?;
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("created the team table {table}")),
        "{said}"
    );
    assert!(
        said.contains("aws dynamodb create-table --table-name"),
        "{said}"
    );
    let out = run(&["team", "create-table"])?;
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("there already"));
    let out = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(["team", "create-table"])
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .output()?;
    assert_eq!(out.status.code(), Some(2), "no table named: usage");

    // A service whose [team] table is missing: a change is refused, naming
    // the command that makes it; AWS is left as it was.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let layout = rt.block_on(common::moto::layout("team-missing"))?;
    std::fs::write(
        &config,
        common::moto::config_toml(&layout, "svc", "[team]\ntable = \"no-such-table\"", "")?,
    )?;
    let out = run(&[
        "--journal",
        path(&dir.path().join("j.jsonl")),
        "--service",
        "svc",
        "weight",
        "20",
        "--yes",
        "--reason",
        "drill",
    ])?;
    let err = String::from_utf8_lossy(&out.stderr);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{said}{err}");
    assert!(
        format!("{said}{err}").contains("flightdeck team create-table"),
        "{said}{err}"
    );
    let (split, ..) = rt.block_on(layout.read_back())?;
    assert_eq!(split.canary, 10, "untouched");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn records_the_table_never_took_are_sent_by_the_next_process() -> TestResult {
    use flightdeck::sources::team::spawn_sync;
    let (live, _) = two_views("outbox").await?;
    let dir = tempfile::tempdir()?;
    let outbox = dir.path().join("team-outbox.jsonl");
    // The first process: nothing answers where the table should be.
    let down = sdk()
        .await?
        .to_builder()
        .endpoint_url("http://127.0.0.1:9")
        .build();
    // A process's team sync on `sdk`, with the outbox beside its journal.
    let sync = |sdk: &aws_config::SdkConfig| {
        let team = Arc::new(Team::new(
            sdk,
            live.table(),
            "123456789012/eu-west-1/c/outbox/outbox-canary",
            Arc::new(SystemClock),
        ));
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        spawn_sync(
            team,
            "ana@laptop".into(),
            tx,
            Duration::from_millis(100),
            Some(outbox.clone()),
        )
    };
    let (sender, handle) = sync(&down);
    sender.offer(&record("pause", "2026-12-01T10:30:00Z"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&outbox).map_or(0, |t| t.lines().count()) != 1 {
        if tokio::time::Instant::now() > deadline {
            return Err("the unsent record was not kept in the outbox".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It ends with the table still down (killed, or the drain gave up).
    handle.abort();
    drop(sender);
    // The next process, the table back: the outbox goes first, then is gone.
    let (sender, handle) = sync(&sdk().await?);
    drop(sender);
    tokio::time::timeout(Duration::from_secs(20), handle).await??;
    assert!(!outbox.exists(), "sent: the outbox is removed");
    let seen = live.records_after("", 200).await?;
    let pauses = seen.iter().filter(|e| e.record.action == "pause").count();
    assert_eq!(pauses, 1, "sent once: {seen:?}");
    assert_eq!(seen[0].origin, "ana@laptop");
    Ok(())
}
