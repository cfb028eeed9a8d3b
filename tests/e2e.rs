//! End to end: the real binary in a pseudo-terminal. Start `--demo`, roll
//! back as an operator would, quit, and check the terminal was restored and
//! the journal holds the change.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

mod common;
use common::moto;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ROWS: u16 = 40;
const COLS: u16 = 140;
/// Generous: CI machines are shared and slow; a pass is usually < 1 s.
const PATIENCE: Duration = Duration::from_secs(30);

struct Screen {
    parser: vt100::Parser,
    bytes: mpsc::Receiver<Vec<u8>>,
    /// Everything the program wrote, to check the exit sequence.
    raw: Vec<u8>,
}

impl Screen {
    fn pump(&mut self, wait: Duration) -> bool {
        match self.bytes.recv_timeout(wait) {
            Ok(chunk) => {
                self.parser.process(&chunk);
                self.raw.extend_from_slice(&chunk);
                true
            }
            Err(_) => false,
        }
    }

    fn wait_for(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> Result<String, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let contents = self.parser.screen().contents();
            if ok(&contents) {
                return Ok(contents);
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}; screen:\n{contents}"));
            }
            self.pump(Duration::from_millis(100));
        }
    }
}

/// The binary running in a pseudo-terminal of `rows` × `cols`.
struct Running {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Screen,
    master: Box<dyn portable_pty::MasterPty + Send>,
    /// While set, nothing reads the terminal: what the program writes
    /// fills the kernel's buffer and its writes block.
    stop_reading: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Running {
    fn start(
        args: &[&OsStr],
        env: &[(&str, &str)],
        rows: u16,
        cols: u16,
    ) -> Result<Running, Box<dyn std::error::Error>> {
        let pair = native_pty_system().openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })?;
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_flightdeck"));
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        cmd.env("LANG", "C.UTF-8");
        cmd.env_remove("LC_ALL");
        cmd.env_remove("LC_CTYPE");
        cmd.env_remove("NO_COLOR");
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = pair.slave.spawn_command(cmd)?;
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader()?;
        let writer = pair.master.take_writer()?;
        let (tx, rx) = mpsc::channel();
        let stop_reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop_reading.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                while stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let Ok(n) = reader.read(&mut buf) else { break };
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let screen = Screen {
            parser: vt100::Parser::new(
                NonZeroU16::new(rows).ok_or("rows")?,
                NonZeroU16::new(cols).ok_or("cols")?,
                0,
            ),
            bytes: rx,
            raw: Vec::new(),
        };
        Ok(Running {
            child,
            writer,
            screen,
            master: pair.master,
            stop_reading,
        })
    }

    fn send(&mut self, keys: &str) -> std::io::Result<()> {
        self.writer.write_all(keys.as_bytes())?;
        self.writer.flush()
    }

    /// Wait for the process to end, reading what it draws meanwhile.
    fn wait_exit(
        &mut self,
        why: &str,
    ) -> Result<portable_pty::ExitStatus, Box<dyn std::error::Error>> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                while self.screen.pump(Duration::from_millis(200)) {}
                return Ok(status);
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                return Err(format!("flightdeck did not exit {why}").into());
            }
            self.screen.pump(Duration::from_millis(50));
        }
    }
}

/// The newest record of `action` that is not a step's: the change's end.
fn last_end_record(
    journal: &std::path::Path,
    action: &str,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(journal)?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|r| r["action"] == action && r["step"].is_null())
        .ok_or_else(|| format!("no {action} record in {text}").into())
}

/// `--demo` with `extra` arguments and a journal in a fresh directory.
fn demo_args(
    extra: &[&str],
) -> Result<
    (
        tempfile::TempDir,
        std::path::PathBuf,
        Vec<std::ffi::OsString>,
    ),
    Box<dyn std::error::Error>,
> {
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("journal.jsonl");
    let mut args: Vec<std::ffi::OsString> = vec!["--demo".into()];
    args.extend(extra.iter().map(|a| std::ffi::OsString::from(*a)));
    args.push("--journal".into());
    args.push(journal.clone().into_os_string());
    Ok((dir, journal, args))
}

/// Type the service name and, when the dialog asks for one (outside the
/// change window), a reason; then Enter.
fn confirm_dialog(app: &mut Running, reason: &str) -> TestResult {
    confirm_as(app, "auth-service", reason)
}

/// `confirm_dialog` for the service `name`.
fn confirm_as(app: &mut Running, name: &str, reason: &str) -> TestResult {
    app.send(name)?;
    let screen = app
        .screen
        .wait_for("the typed name", |s| s.contains(&format!("[{name}]")))?;
    if screen.contains("Reason:") {
        app.send("\t")?;
        app.send(reason)?;
        app.screen
            .wait_for("the typed reason", |s| s.contains(&format!("[{reason}]")))?;
    }
    app.send("\r")?;
    Ok(())
}

#[test]
fn demo_promote_then_roll_back_mid_promotion_in_a_real_terminal() -> TestResult {
    let dir = tempfile::tempdir()?;
    let home = dir.path().display().to_string();
    let state = dir.path().join("state");
    let journal = state.join("flightdeck/demo-journal.jsonl");
    let state_dir = state.display().to_string();
    let config_dir = dir.path().join("config").display().to_string();
    let data_dir = dir.path().join("data").display().to_string();
    let env = [
        ("USER", "e2e-operator"),
        ("HOME", home.as_str()),
        ("XDG_STATE_HOME", state_dir.as_str()),
        ("XDG_CONFIG_HOME", config_dir.as_str()),
        ("XDG_DATA_HOME", data_dir.as_str()),
    ];
    // 5× time: tasks start in 4 s and pass health checks in 8 s, so the
    // promotion's stable deployment is on screen long enough to interrupt.
    let args = [
        OsStr::new("--demo"),
        OsStr::new("--demo-speed"),
        OsStr::new("5"),
    ];
    let mut app = Running::start(&args, &env, ROWS, COLS)?;

    app.screen.wait_for("the five pane titles and data", |s| {
        ["Pipeline", "Canary", "Tasks", "Logs", "Journal"]
            .iter()
            .all(|t| s.contains(t))
            && s.contains("10% canary")
            && s.contains("baseline stable auth-service:41")
    })?;
    assert!(
        app.screen.parser.screen().alternate_screen(),
        "runs in the alternate screen"
    );

    app.send("P")?;
    app.screen
        .wait_for("the promote dialog with its steps", |s| {
            s.contains("Promote canary")
                && s.contains("1. scale auth-service-production-canary 1 → 9 tasks")
                && s.contains("auth-service-production: task definition auth-service:41 →")
        })?;
    confirm_dialog(&mut app, "e2e promote")?;
    // Mid-promotion: the stable service is deploying the canary's build.
    app.screen
        .wait_for("the stable deployment under way", |s| {
            s.contains("▶ promote step 5/7: wait for the stable service")
        })?;

    app.send("R")?;
    app.screen.wait_for("the rollback dialog", |s| {
        s.contains("ROLL BACK") && s.contains("Stops promote")
    })?;
    app.send("auth-service")?;
    app.send("\t")?;
    app.send("e2e: roll back mid-promotion")?;
    app.screen.wait_for("the typed reason", |s| {
        s.contains("[e2e: roll back mid-promotion]")
    })?;
    app.send("\r")?;
    // If the promotion moved on while the dialog was open, the dialog shows
    // the new plan and asks again.
    let next = app.screen.wait_for("the rollback under way", |s| {
        s.contains("▶ rollback") || s.contains("rolled back") || s.contains("Changed since shown")
    })?;
    if next.contains("Changed since shown") {
        app.send("\r")?;
    }
    let after = app.screen.wait_for("rolled back to the baseline", |s| {
        s.contains("  0% canary")
            && s.contains("rolled back")
            && s.contains("stable 9/9")
            && s.contains("auth-service:41")
            && s.contains("canary 0/0")
    })?;
    assert!(
        !after.contains("stable 9/9 run 0 pend auth-service:42"),
        "{after}"
    );

    app.send("q")?;
    let status = app.wait_exit("after q")?;
    assert!(status.success(), "exit status {status:?}");
    assert!(
        !app.screen.parser.screen().alternate_screen(),
        "left the alternate screen"
    );
    let raw = String::from_utf8_lossy(&app.screen.raw);
    assert!(
        raw.contains("\x1b[?1049l"),
        "sent the leave-alternate-screen sequence"
    );

    let text = std::fs::read_to_string(&journal)?;
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let ends: Vec<String> = records
        .iter()
        .filter(|r| r["step"].is_null() && r["action"] != "baseline")
        .map(|r| {
            format!(
                "{} {}",
                r["action"].as_str().unwrap_or("?"),
                r["result"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(ends.len(), 4, "{ends:#?}");
    assert_eq!(ends[0], "promote started");
    assert!(
        ends[1].starts_with("promote stopped: preempted by a rollback after"),
        "{ends:#?}"
    );
    assert_eq!(ends[2..], ["rollback started", "rollback ok"]);
    let steps: Vec<&str> = records
        .iter()
        .filter(|r| r["action"] == "rollback")
        .filter_map(|r| r["step"].as_str())
        .collect();
    assert!(
        steps.iter().any(|s| s.contains("update_stable: auth-service-production: task definition auth-service:42 → auth-service:41")),
        "{steps:#?}"
    );
    let rollback = records.last().ok_or("empty journal")?;
    assert_eq!(rollback["reason"], "e2e: roll back mid-promotion");
    assert_eq!(rollback["operator"], "e2e-operator");
    assert_eq!(rollback["request_ids"].as_array().map(Vec::len), Some(3));
    // The baseline: seen once, completed with the weights when they came.
    let baselines: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["action"] == "baseline")
        .collect();
    assert!((1..=2).contains(&baselines.len()), "{baselines:?}");
    let last = baselines.last().ok_or("no baseline")?;
    assert_eq!(last["from"], "auth-service:41");
    assert_eq!(last["weights"], serde_json::json!([90, 10]));
    Ok(())
}

#[test]
fn read_only_refuses_in_a_real_terminal_and_sigterm_restores_it() -> TestResult {
    let (_dir, journal, args) = demo_args(&["--read-only"])?;
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let mut app = Running::start(&args, &[], 24, 80)?;
    app.screen.wait_for("READ-ONLY in the header", |s| {
        s.contains("READ-ONLY") && s.contains("Journal")
    })?;
    app.send("R")?;
    app.screen.wait_for("the refusal", |s| {
        s.contains("read-only: changes are disabled")
    })?;
    let pid = app.child.process_id().ok_or("no pid")?;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(killed.success());
    app.wait_exit("on SIGTERM")?;
    assert!(
        !app.screen.parser.screen().alternate_screen(),
        "SIGTERM left the alternate screen"
    );
    assert!(String::from_utf8_lossy(&app.screen.raw).contains("\x1b[?1049l"));
    // Read-only journals no change (only the release baseline it saw).
    let text = std::fs::read_to_string(&journal)?;
    assert!(
        text.lines().all(|l| l.contains("\"action\":\"baseline\"")),
        "{text}"
    );
    Ok(())
}

#[test]
fn sighup_mid_promotion_stops_at_a_step_boundary_and_kill_leaves_it_unfinished() -> TestResult {
    let (_dir, journal, args) = demo_args(&["--demo-speed", "5"])?;
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let promote_until_waiting = |app: &mut Running| -> TestResult {
        app.screen.wait_for("the panes", |s| {
            s.contains("10% canary") && s.contains("baseline")
        })?;
        app.send("P")?;
        app.screen
            .wait_for("the promote dialog", |s| s.contains("Promote canary"))?;
        confirm_dialog(app, "e2e")?;
        app.screen.wait_for("the canary wait", |s| {
            s.contains("▶ promote step 2/7: wait for 9 healthy canary targets")
        })?;
        Ok(())
    };

    // SIGHUP (the SSH session dropped): stop at the boundary, journal, exit 1.
    let mut app = Running::start(&args, &[("USER", "e2e")], ROWS, COLS)?;
    promote_until_waiting(&mut app)?;
    let pid = app.child.process_id().ok_or("no pid")?;
    std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()?;
    let status = app.wait_exit("on SIGHUP")?;
    assert_eq!(status.exit_code(), 1, "a change cut short exits 1");
    let raw = String::from_utf8_lossy(&app.screen.raw);
    assert!(
        !raw.contains("panicked") && !raw.contains("backtrace"),
        "{raw}"
    );
    let end = last_end_record(&journal, "promote")?;
    let result = end["result"].as_str().unwrap_or_default();
    assert!(
        result.starts_with(
            "stopped: SIGHUP during the change after 1 of 7 steps; traffic left at canary 10%, canary service at "
        ) && result.contains(" of 9 desired (ECS, read "),
        "{result}"
    );
    let steps: Vec<&str> = end["steps"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(
        steps[1].starts_with("2. wait for 9 healthy canary targets")
            && steps[1].ends_with(": interrupted"),
        "{steps:?}"
    );

    // kill -9 gives no chance to write the end: the next start says so.
    let mut app = Running::start(&args, &[("USER", "e2e")], ROWS, COLS)?;
    promote_until_waiting(&mut app)?;
    let pid = app.child.process_id().ok_or("no pid")?;
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()?;
    app.wait_exit("on SIGKILL")?;
    let mut app = Running::start(&args, &[("USER", "e2e")], ROWS, COLS)?;
    app.screen.wait_for("the unfinished banner", |s| {
        s.contains("⚠ unfinished (:ack) 1 step(s) ran of promote")
    })?;
    app.send(":ack\r")?;
    app.screen
        .wait_for("the banner gone", |s| !s.contains("⚠ unfinished"))?;
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    Ok(())
}

/// The binary on a live config for `layout` (service `name`, fleet and
/// traffic read every second), with a journal beside it; returns the
/// config's path too.
fn start_on_moto(
    dir: &std::path::Path,
    layout: &moto::Layout,
    name: &str,
    service_extra: &str,
) -> Result<(Running, std::path::PathBuf, std::path::PathBuf), Box<dyn std::error::Error>> {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        moto::config_toml(
            layout,
            name,
            "[poll]\nfleet = \"1s\"\ntraffic = \"1s\"",
            service_extra,
        )?,
    )?;
    let (app, journal) = start_live(dir, &config)?;
    Ok((app, journal, config))
}

/// The binary on a live config, with a journal beside it.
fn start_live(
    dir: &std::path::Path,
    config: &std::path::Path,
) -> Result<(Running, std::path::PathBuf), Box<dyn std::error::Error>> {
    let journal = dir.join("journal.jsonl");
    let args = [
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--journal"),
        journal.as_os_str(),
    ];
    Ok((
        Running::start(&args, &[("USER", "e2e")], ROWS, COLS)?,
        journal,
    ))
}

#[test]
fn live_rollback_against_moto_in_a_real_terminal() -> TestResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let layout = rt.block_on(moto::layout("e2e"))?;
    let dir = tempfile::tempdir()?;
    let (mut app, journal, _) = start_on_moto(dir.path(), &layout, "auth-e2e", "protected = true")?;
    app.screen.wait_for("live data from moto", |s| {
        s.contains("auth-e2e")
            && s.contains("10% canary")
            && s.contains("123456789012")
            && s.contains("stable 9/9")
    })?;
    app.send("R")?;
    app.screen
        .wait_for("the rollback dialog", |s| s.contains("ROLL BACK"))?;
    app.send("auth-e2e")?;
    app.send("\t")?;
    app.send("e2e live")?;
    app.screen
        .wait_for("the typed reason", |s| s.contains("[e2e live]"))?;
    app.send("\r")?;
    app.screen.wait_for("rolled back", |s| {
        s.contains("rolled back") && s.contains("  0% canary")
    })?;
    let (split, sticky, stable_td, canary) = rt.block_on(layout.read_back())?;
    assert_eq!(split.canary, 0);
    assert_eq!(sticky, Some(300), "stickiness kept");
    assert_eq!(stable_td, format!("{}:1", layout.family));
    assert_eq!(canary, 0);
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    let text = std::fs::read_to_string(&journal)?;
    let end = text.lines().last().unwrap_or_default();
    assert!(
        end.contains("\"result\":\"ok\"") && end.contains("arn:aws:sts::123456789012"),
        "{end}"
    );
    Ok(())
}

/// The queries `Canary` answers, for a `[service.analysis]` section.
const CANARY_QUERIES: &str = r#"error_rate_query = 'err{version="{version}"}'
p95_query = 'p95{version="{version}"}'
requests_query = 'req{version="{version}"}'"#;

/// Prometheus as the canary's analysis would see it: the canary's error
/// rate as given (`"5"`: a bad canary; `"-1"`: a hostile provider), 0.1 %
/// on stable, 500 requests a step each, fine latency; the values end at
/// the asked `end`, one every `step`.
struct Canary(&'static str);

impl wiremock::Respond for Canary {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        let param = |name: &str| {
            req.url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        let query = param("query");
        let canary = query.contains("\"canary\"");
        let value = if query.starts_with("err") {
            if canary { self.0 } else { "0.1" }
        } else if query.starts_with("p95") {
            "110"
        } else {
            "500"
        };
        let end: i64 = param("end").parse().unwrap_or(0);
        let step: i64 = param("step")
            .trim_end_matches('s')
            .parse()
            .unwrap_or(15)
            .max(1);
        let values: Vec<serde_json::Value> = (0..8)
            .rev()
            .map(|i| serde_json::json!([end - i * step, value]))
            .collect();
        wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "status": "success",
            "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}
        }))
    }
}

/// A release on moto whose canary's error rate Prometheus gives: `"5"`
/// fails its analysis (two failed 1 s intervals roll it back by
/// themselves), `"0.1"` passes it (`good`: a short plan to promotion).
struct BadCanary {
    rt: tokio::runtime::Runtime,
    layout: moto::Layout,
    _prometheus: wiremock::MockServer,
    dir: tempfile::TempDir,
}

impl BadCanary {
    fn new(name: &str) -> Result<BadCanary, Box<dyn std::error::Error>> {
        BadCanary::with(name, "5", "", "")
    }

    /// A canary that passes, on a plan of 2 s bakes.
    fn good(name: &str) -> Result<BadCanary, Box<dyn std::error::Error>> {
        BadCanary::with(
            name,
            "0.1",
            "steps = [{ weight = 10, bake = \"2s\" }, { weight = 50, bake = \"2s\" }, { weight = 100 }]",
            "",
        )
    }

    /// A good canary on a 10-minute first step, with `[team]` on `table`
    /// (made here).
    fn team(name: &str, table: &str) -> Result<BadCanary, Box<dyn std::error::Error>> {
        let release = BadCanary::with(
            name,
            "0.1",
            "steps = [{ weight = 10, bake = \"10m\" }, { weight = 100 }]",
            &format!("[team]\ntable = \"{table}\""),
        )?;
        release.rt.block_on(
            flightdeck::sources::team::Team::new(
                &release.layout.sdk,
                table,
                "",
                std::sync::Arc::new(flightdeck::sources::SystemClock),
            )
            .create_table(),
        )?;
        Ok(release)
    }

    /// The console of `who`, with a HOME (and a journal) of its own.
    fn console_as(&self, who: &str) -> Result<Running, Box<dyn std::error::Error>> {
        let home = self.dir.path().join(who);
        std::fs::create_dir_all(&home)?;
        let journal = home.join("journal.jsonl");
        let config = self.dir.path().join("config.toml");
        let args = [
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--journal"),
            journal.as_os_str(),
        ];
        let home = home.to_string_lossy().to_string();
        Running::start(&args, &[("USER", who), ("HOME", &home)], ROWS, COLS)
    }

    fn with(
        name: &str,
        error_rate: &'static str,
        service_extra: &str,
        top_extra: &str,
    ) -> Result<BadCanary, Box<dyn std::error::Error>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let layout = rt.block_on(moto::layout(name))?;
        let prometheus = rt.block_on(async {
            let server = wiremock::MockServer::start().await;
            wiremock::Mock::given(wiremock::matchers::path("/api/v1/query_range"))
                .respond_with(Canary(error_rate))
                .mount(&server)
                .await;
            server
        });
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("config.toml");
        let top = format!(
            "[metrics]\nprovider = \"prometheus\"\napi_url = \"{}\"\n\n[poll]\nfleet = \"1s\"\ntraffic = \"1s\"\nmetrics = \"500ms\"\n\n{top_extra}",
            prometheus.uri()
        );
        let analysis = format!(
            "{service_extra}\n[service.analysis]\ninterval = \"1s\"\nfailures_before_action = 2\non_failure = \"rollback\"\n{CANARY_QUERIES}"
        );
        std::fs::write(
            &config,
            moto::config_toml(&layout, "auth-e2e", &top, &analysis)?,
        )?;
        Ok(BadCanary {
            rt,
            layout,
            _prometheus: prometheus,
            dir,
        })
    }

    fn start(&self) -> Result<(Running, std::path::PathBuf), Box<dyn std::error::Error>> {
        start_live(self.dir.path(), &self.dir.path().join("config.toml"))
    }

    /// Do what ECS does and moto does not, until the returned flag is set:
    /// register a healthy target for each task the canary service wants.
    fn like_ecs(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let (sdk, cluster, canary, tg) = (
            self.layout.sdk.clone(),
            self.layout.cluster.clone(),
            self.layout.canary.clone(),
            self.layout.canary_tg.clone(),
        );
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let ecs = aws_sdk_ecs::Client::new(&sdk);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                rt.block_on(async {
                    let desired = ecs
                        .describe_services()
                        .cluster(&cluster)
                        .services(&canary)
                        .send()
                        .await
                        .ok()
                        .and_then(|o| o.services().first().map(|s| s.desired_count()))
                        .unwrap_or(0);
                    let _ = moto::register(&sdk, &tg, 0, u32::try_from(desired).unwrap_or(0)).await;
                });
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        stop
    }

    /// `flightdeck drive` on this release in the background (journal
    /// `driver.jsonl`), with what it prints, line by line.
    fn spawn_drive(
        &self,
        extra: &[&str],
    ) -> Result<(std::process::Child, mpsc::Receiver<String>), Box<dyn std::error::Error>> {
        use std::io::BufRead;
        let config = self.dir.path().join("config.toml");
        let journal = self.dir.path().join("driver.jsonl");
        let mut driver = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args([
                OsStr::new("--config"),
                config.as_os_str(),
                OsStr::new("--journal"),
                journal.as_os_str(),
                OsStr::new("drive"),
            ])
            .args(extra)
            .env("USER", "ci")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        let stdout = driver.stdout.take().ok_or("no stdout")?;
        let (lines_tx, lines) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok((driver, lines))
    }

    /// `flightdeck drive` on this release, to its end (at most 120 s).
    fn drive(&self, extra: &[&str]) -> Result<std::process::Output, Box<dyn std::error::Error>> {
        let config = self.dir.path().join("config.toml");
        let journal = self.dir.path().join("journal.jsonl");
        let mut args = vec![
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--journal"),
            journal.as_os_str(),
            OsStr::new("drive"),
            OsStr::new("--timeout"),
            OsStr::new("120s"),
        ];
        args.extend(extra.iter().map(OsStr::new));
        Ok(std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(args)
            .env("USER", "ci")
            .stdin(std::process::Stdio::null())
            .output()?)
    }
}

/// The first line the driver prints for which `ok` holds (within
/// `PATIENCE`).
fn next_line(
    lines: &mpsc::Receiver<String>,
    what: &str,
    ok: &dyn Fn(&str) -> bool,
) -> Result<String, String> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200))
            && ok(&line)
        {
            return Ok(line);
        }
    }
    Err(format!("the driver never printed {what}"))
}

/// The journal's records, parsed.
fn records(journal: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn a_bad_canary_on_prometheus_rolls_back_on_moto_by_itself() -> TestResult {
    let bad = BadCanary::new("e2e-analysis")?;
    let (rt, layout) = (&bad.rt, &bad.layout);
    let (mut app, journal) = bad.start()?;
    app.screen
        .wait_for("the canary at 10%", |s| s.contains("10% canary"))?;
    let seen = Instant::now();
    // Nobody presses a key: two failed verdicts, then the rollback.
    app.screen.wait_for("the automatic rollback", |s| {
        s.contains("  0% canary") && s.contains("rolled back")
    })?;
    let took = seen.elapsed();
    let (split, _, _, canary) = rt.block_on(layout.read_back())?;
    assert_eq!((split.stable, split.canary), (100, 0));
    assert_eq!(canary, 0, "canary scaled to 0");
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    let start = records(&journal)
        .into_iter()
        .find(|r| r["action"] == "rollback" && r["step"].is_null())
        .ok_or("no rollback record")?;
    assert_eq!(start["automatic"], true, "{start}");
    let reason = start["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("analysis failed 2 intervals")
            && reason.contains("error rate 5.00% > 0.5%"),
        "{start}"
    );
    // For the record (not asserted: shared machines are noisy): the time
    // from 10% on screen to 0% on screen.
    eprintln!("automatic rollback took {took:?}");
    Ok(())
}

#[test]
fn sigquit_restores_the_terminal_and_tstp_cont_suspends_and_resumes() -> TestResult {
    let (_dir, _journal, args) = demo_args(&[])?;
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let mut app = Running::start(&args, &[], 24, 80)?;
    app.screen.wait_for("the panes", |s| {
        s.contains("Canary") && s.contains("Journal")
    })?;
    let pid = app.child.process_id().ok_or("no pid")?.to_string();
    let state = |pid: &str| -> String {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(") ").next().map(|r| r.chars().take(1).collect()))
            .unwrap_or_default()
    };
    // Job control: the alternate screen is left before the process stops…
    std::process::Command::new("kill")
        .args(["-TSTP", &pid])
        .status()?;
    let deadline = Instant::now() + PATIENCE;
    while state(&pid) != "T" && Instant::now() < deadline {
        app.screen.pump(Duration::from_millis(50));
    }
    assert_eq!(state(&pid), "T", "stopped");
    while app.screen.pump(Duration::from_millis(200)) {}
    assert!(
        !app.screen.parser.screen().alternate_screen(),
        "left the alternate screen before stopping"
    );
    // …and taken back, drawn whole, after SIGCONT.
    std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status()?;
    app.screen.wait_for("the panes again", |s| {
        s.contains("Canary") && s.contains("Journal")
    })?;
    assert!(app.screen.parser.screen().alternate_screen());
    // SIGQUIT: like SIGTERM, the terminal is restored.
    std::process::Command::new("kill")
        .args(["-QUIT", &pid])
        .status()?;
    let status = app.wait_exit("on SIGQUIT")?;
    assert!(status.success(), "{status:?}");
    assert!(!app.screen.parser.screen().alternate_screen());
    let raw = String::from_utf8_lossy(&app.screen.raw);
    assert!(
        raw.ends_with("\x1b[?1049l") || raw.contains("\x1b[?1049l"),
        "left the alternate screen"
    );
    Ok(())
}

#[test]
fn without_a_terminal_or_with_term_dumb_it_says_why_in_one_plain_line() -> TestResult {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(["--demo", "--journal", "/dev/null"])
        .env("TERM", "xterm-256color")
        .stdin(std::process::Stdio::null())
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the console needs a terminal"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains('\x1b') && out.stdout.is_empty(), "{err}");

    let mut app = Running::start(
        &[
            OsStr::new("--demo"),
            OsStr::new("--journal"),
            OsStr::new("/dev/null"),
        ],
        &[("TERM", "dumb")],
        24,
        80,
    )?;
    let status = app.wait_exit("with TERM=dumb")?;
    assert_eq!(status.exit_code(), 1);
    let raw = String::from_utf8_lossy(&app.screen.raw);
    assert!(raw.contains("TERM is dumb"), "{raw}");
    assert!(!raw.contains('\x1b'), "no escape sequences: {raw:?}");
    Ok(())
}

#[test]
fn a_locale_that_is_not_utf8_draws_with_ascii_only() -> TestResult {
    let (_dir, _journal, args) = demo_args(&[])?;
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let mut app = Running::start(&args, &[("LANG", "C")], ROWS, COLS)?;
    let screen = app.screen.wait_for("the panes", |s| {
        s.contains("Canary") && s.contains("Journal") && s.contains("10% canary")
    })?;
    assert!(screen.is_ascii(), "{screen}");
    assert!(screen.contains("+-") && screen.contains('|'), "{screen}");
    app.send("?")?;
    let help = app
        .screen
        .wait_for("help", |s| s.contains("drawing  ASCII only"))?;
    assert!(help.is_ascii(), "{help}");
    app.send("q")?;
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    Ok(())
}

/// A pseudo-terminal made by hand, so the test can close its master side
/// the way a dropped SSH session or `tmux kill-pane` does.
fn raw_pty() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd), Box<dyn std::error::Error>> {
    use std::os::fd::FromRawFd;
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills two fds we then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // The child must not inherit the master, or closing ours closes nothing.
    // SAFETY: fcntl on an fd just opened.
    unsafe {
        libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    // SAFETY: both fds were just opened and are owned here only.
    Ok(unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(master),
            std::os::fd::OwnedFd::from_raw_fd(slave),
        )
    })
}

/// Read what the program draws into `parser` until `ok` holds.
fn read_until(
    parser: &mut vt100::Parser,
    file: &mut std::fs::File,
    what: &str,
    ok: &dyn Fn(&str) -> bool,
) -> TestResult {
    let deadline = Instant::now() + PATIENCE;
    let mut buf = [0u8; 65536];
    loop {
        if ok(&parser.screen().contents()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        match file.read(&mut buf) {
            Ok(n) if n > 0 => parser.process(&buf[..n]),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn a_closed_terminal_mid_change_ends_quietly_with_the_change_journaled() -> TestResult {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let (master, slave) = raw_pty()?;
    let (_dir, journal, args) = demo_args(&["--demo-speed", "5"])?;
    let stderr = tempfile::NamedTempFile::new()?;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"));
    cmd.args(&args)
        .env("TERM", "xterm-256color")
        .env("LANG", "C.UTF-8")
        .env("USER", "e2e")
        .stdin(OwnedFd::try_clone(&slave)?)
        .stdout(OwnedFd::try_clone(&slave)?)
        .stderr(stderr.reopen()?);
    let slave_fd = slave.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec: a new
    // session with the pty as its controlling terminal.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            libc::ioctl(slave_fd, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    drop(slave);
    // Read what it draws (non-blocking) until the promotion is under way.
    let mut file = std::fs::File::from(master);
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    let mut parser = vt100::Parser::new(
        NonZeroU16::new(ROWS).ok_or("rows")?,
        NonZeroU16::new(COLS).ok_or("cols")?,
        0,
    );
    read_until(&mut parser, &mut file, "the panes", &|s| {
        s.contains("10% canary")
    })?;
    file.write_all(b"P")?;
    read_until(&mut parser, &mut file, "the dialog", &|s| {
        s.contains("Promote canary")
    })?;
    file.write_all(b"auth-service")?;
    read_until(&mut parser, &mut file, "the name", &|s| {
        s.contains("[auth-service]")
    })?;
    let reason = parser.screen().contents().contains("Reason:");
    if reason {
        file.write_all(b"\tgone")?;
        read_until(&mut parser, &mut file, "the reason", &|s| {
            s.contains("[gone]")
        })?;
    }
    file.write_all(b"\r")?;
    read_until(&mut parser, &mut file, "the wait", &|s| {
        s.contains("▶ promote step 2/7")
    })?;
    // The terminal goes away.
    drop(file);
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("still running after its terminal closed".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1), "a change cut short exits 1");
    let err = std::fs::read_to_string(stderr.path())?;
    assert!(
        !err.contains("panicked") && !err.contains("Failed to"),
        "{err}"
    );
    let end = last_end_record(&journal, "promote")?;
    let result = end["result"].as_str().unwrap_or_default();
    // SIGHUP or the read error of the closed terminal, whichever is first.
    assert!(
        result.starts_with("stopped: SIGHUP during the change after 1 of 7 steps")
            || result.starts_with("stopped: terminal closed during the change after 1 of 7 steps"),
        "{result}"
    );
    Ok(())
}

#[test]
fn a_cli_rollback_takes_over_a_console_mid_promotion_on_moto() -> TestResult {
    // Two processes, one service: the console promotes (and waits for
    // canary targets moto never starts); on-call rolls back from the CLI in
    // another shell. The rollback takes the lease over; the console stops
    // at its step boundary and says so.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let layout = rt.block_on(moto::layout("takeover"))?;
    let dir = tempfile::tempdir()?;
    let (mut app, journal, config) = start_on_moto(dir.path(), &layout, "auth-takeover", "")?;
    app.screen.wait_for("live data from moto", |s| {
        s.contains("10% canary") && s.contains("stable 9/9") && s.contains("baseline stable")
    })?;
    app.send("P")?;
    app.screen
        .wait_for("the promote dialog", |s| s.contains("Promote canary"))?;
    app.send("\r")?;
    app.screen
        .wait_for("the promotion waiting", |s| s.contains("▶ promote step 2/"))?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args([
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--journal"),
            journal.as_os_str(),
            OsStr::new("--service"),
            OsStr::new("auth-takeover"),
            OsStr::new("rollback"),
            OsStr::new("--yes"),
            OsStr::new("--reason"),
            OsStr::new("errors at 3am"),
        ])
        .env("USER", "oncall")
        .stdin(std::process::Stdio::null())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("auth-takeover (production)") && stdout.contains("rollback 0%: ok"),
        "{stdout}"
    );
    app.screen
        .wait_for("the console to say it was preempted", |s| {
            s.contains("promote preempted")
        })?;
    let (split, _, stable_td, canary) = rt.block_on(layout.read_back())?;
    assert_eq!(split.canary, 0);
    assert_eq!(
        stable_td,
        format!("{}:1", layout.family),
        "stable on the baseline"
    );
    assert_eq!(canary, 0);
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&journal)?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let took_over = records
        .iter()
        .find(|r| r["action"] == "lease")
        .and_then(|r| r["result"].as_str())
        .unwrap_or_default();
    assert!(
        took_over.starts_with("took over from e2e@")
            && took_over.contains("(console, pid ")
            && took_over.contains("'s promote since"),
        "{took_over}"
    );
    let end = last_end_record(&journal, "promote")?;
    let result = end["result"].as_str().unwrap_or_default();
    assert!(
        result.starts_with("stopped: preempted: the change lease was taken over by oncall@")
            && result.contains("(cli, pid ")
            && result.contains("'s rollback since"),
        "{result}"
    );
    // Both were the same service: one identity on every record.
    let ids: std::collections::BTreeSet<&str> = records
        .iter()
        .filter_map(|r| r["identity"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    Ok(())
}

#[test]
fn a_negative_canary_error_series_never_moves_traffic_on_moto() -> TestResult {
    // Seen: a canary error series of -1.0 passed, and auto_advance scaled
    // the canary 1 → 5 for 50 %. Here everything else lets automation move:
    // a 2 s bake, the pipeline read with nothing waiting for review, the
    // window open; only the implausible data holds it. (With a plausible
    // series instead the canary is scaled to 5 within seconds.)
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let layout = rt.block_on(moto::layout("e2e-negative"))?;
    let server = rt.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::path("/api/v1/query_range"))
            .respond_with(Canary("-1"))
            .mount(&server)
            .await;
        let runs = serde_json::json!({"total_count": 1, "workflow_runs": [{
            "id": 42, "run_number": 7, "name": "pipeline", "head_branch": "main",
            "head_sha": "a3f9c2e0000000000000000000000000000000000", "event": "push",
            "status": "completed", "conclusion": "success", "run_attempt": 1,
            "created_at": "2026-12-01T10:00:00Z", "run_started_at": "2026-12-01T10:00:00Z",
            "actor": {"login": "ana"}, "head_commit": {"message": "feat: x"}
        }]});
        wiremock::Mock::given(wiremock::matchers::path(
            "/repos/suma-finance/auth-service/actions/workflows/pipeline.yml/runs",
        ))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(runs))
        .mount(&server)
        .await;
        wiremock::Mock::given(wiremock::matchers::path(
            "/repos/suma-finance/auth-service/actions/runs/42/jobs",
        ))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"total_count": 0, "jobs": []})),
        )
        .mount(&server)
        .await;
        wiremock::Mock::given(wiremock::matchers::path(
            "/repos/suma-finance/auth-service/actions/runs/42/pending_deployments",
        ))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
        .mount(&server)
        .await;
        server
    });
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.toml");
    let top = format!(
        "[github]\nrepo = \"suma-finance/auth-service\"\nworkflow = \"pipeline.yml\"\nbranch = \"main\"\napi_url = \"{url}\"\n\n[metrics]\nprovider = \"prometheus\"\napi_url = \"{url}\"\n\n[poll]\nfleet = \"1s\"\ntraffic = \"1s\"\nmetrics = \"500ms\"\npipeline = \"1s\"",
        url = server.uri()
    );
    let service =
        r#"steps = [ { weight = 10, bake = "2s" }, { weight = 50, bake = "2s" }, { weight = 100 } ]

[service.analysis]
interval = "1s"
auto_advance = true
"#
        .to_string()
            + CANARY_QUERIES;
    std::fs::write(
        &config,
        moto::config_toml(&layout, "auth-e2e", &top, &service)?,
    )?;
    let journal = dir.path().join("journal.jsonl");
    let args = [
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--journal"),
        journal.as_os_str(),
    ];
    let mut app = Running::start(
        &args,
        &[
            ("USER", "e2e"),
            ("GITHUB_TOKEN", "ghp_e2eNegative0000000000000000000000"),
        ],
        ROWS,
        COLS,
    )?;
    app.screen
        .wait_for("the verdict that the data is no measurement", |s| {
            s.contains("inconclusive: canary data is not plausible")
        })?;
    // Well past the bake: nothing moved.
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        app.screen.pump(Duration::from_millis(200));
    }
    let screen = app.screen.parser.screen().contents();
    assert!(
        !screen.contains("approval state unknown"),
        "the pipeline must be read, else the hold is for another reason: {screen}"
    );
    let (split, _, _, canary) = rt.block_on(layout.read_back())?;
    assert_eq!(split.canary, 10, "{screen}");
    assert_eq!(canary, 1, "the canary was not scaled for 50 %: {screen}");
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    Ok(())
}

#[test]
fn a_stalled_terminal_never_holds_up_the_automatic_rollback_on_moto() -> TestResult {
    let bad = BadCanary::new("e2e-stall")?;
    let (mut app, journal) = bad.start()?;
    app.screen
        .wait_for("the canary at 10%", |s| s.contains("10% canary"))?;
    // Nobody reads the terminal from here; full repaints (each resize)
    // fill the kernel's buffer, and the program's writes block.
    app.stop_reading
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let stalled_at = Instant::now();
    for i in 0..40u16 {
        app.master.resize(PtySize {
            rows: ROWS,
            cols: COLS - (i % 2),
            pixel_width: 0,
            pixel_height: 0,
        })?;
        std::thread::sleep(Duration::from_millis(50));
    }
    // The automatic rollback reaches AWS and the journal meanwhile.
    let deadline = Instant::now() + Duration::from_secs(60);
    let ended = loop {
        if let Some(end) = records(&journal)
            .into_iter()
            .find(|r| r["action"] == "rollback" && r["step"].is_null() && r["result"] == "ok")
        {
            break end;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no automatic rollback while stalled: {:?}",
                records(&journal)
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(ended["automatic"], true, "{ended}");
    let (split, _, _, canary) = bad.rt.block_on(bad.layout.read_back())?;
    assert_eq!((split.stable, split.canary), (100, 0));
    assert_eq!(canary, 0, "canary scaled to 0");
    // A stall long enough to be recorded, and the process still there.
    while stalled_at.elapsed() < Duration::from_secs(8) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(app.child.try_wait()?.is_none(), "the stall killed it");
    app.stop_reading
        .store(false, std::sync::atomic::Ordering::Relaxed);
    // Reading again: the current screen (rolled back), and the header says
    // the screen stalled.
    app.screen
        .wait_for("the current screen after the stall", |s| {
            s.contains("  0% canary") && s.contains("rolled back") && s.contains("stalled")
        })?;
    let all = records(&journal);
    // Said while it lasted (the terminal might never have come back)...
    assert!(
        all.iter()
            .any(|r| r["action"] == "screen" && r["from"] == "not drawn yet"),
        "{all:?}"
    );
    // ...and when it ended, with how long.
    let stall = all
        .into_iter()
        .find(|r| r["action"] == "screen" && r["from"] == "not drawn")
        .ok_or("no record of the stall")?;
    let seconds: i64 = stall["to"]
        .as_str()
        .and_then(|t| t.trim_end_matches('s').parse().ok())
        .ok_or(format!("{stall}"))?;
    assert!(seconds >= 5, "{stall}");
    // The write that blocked began before the rollback ended: the rollback
    // happened while nothing was drawn.
    let time = |r: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(r["time"].as_str().unwrap_or_default())
            .map(|t| t.timestamp())
    };
    assert!(
        time(&stall)? - seconds <= time(&ended)?,
        "{stall} / {ended}"
    );
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    Ok(())
}

#[test]
fn drive_promotes_a_good_canary_and_rolls_back_a_bad_one_on_moto() -> TestResult {
    let good = BadCanary::good("e2e-drive-good")?;
    let ecs = good.like_ecs();
    let out = good.drive(&[])?;
    ecs.store(true, std::sync::atomic::Ordering::Relaxed);
    let said = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "promoted: {said}\n{err}");
    assert!(
        said.lines().count() >= 3,
        "one line per change of state: {said}"
    );
    let (split, _, stable_td, canary) = good.rt.block_on(good.layout.read_back())?;
    assert_eq!((split.stable, split.canary), (100, 0));
    assert_eq!(
        stable_td,
        format!("{}:2", good.layout.family),
        "the release is stable"
    );
    assert_eq!(canary, 0);
    let journal = good.dir.path().join("journal.jsonl");
    let promote = records(&journal)
        .into_iter()
        .find(|r| r["action"] == "promote" && r["result"] == "ok" && r["step"].is_null())
        .ok_or("no promote record")?;
    assert_eq!(promote["automatic"], true, "{promote}");
    assert_eq!(promote["via"], "drive", "{promote}");

    let bad = BadCanary::new("e2e-drive-bad")?;
    let out = bad.drive(&["--json"])?;
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(5),
        "rolled back: {said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in said.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        assert_eq!(v["schema"], 1, "{line}");
    }
    let (split, _, _, canary) = bad.rt.block_on(bad.layout.read_back())?;
    assert_eq!((split.stable, split.canary), (100, 0));
    assert_eq!(canary, 0);
    let rollback = records(&bad.dir.path().join("journal.jsonl"))
        .into_iter()
        .find(|r| r["action"] == "rollback" && r["step"].is_null())
        .ok_or("no rollback record")?;
    assert_eq!(rollback["automatic"], true, "{rollback}");
    Ok(())
}

#[test]
fn a_pause_from_the_cli_stops_a_running_drive_within_one_poll_with_team_state() -> TestResult {
    // A good canary on a slow plan, driven headless; the team's table on
    // moto's DynamoDB.
    let table = format!("drive-pause-{}", std::process::id());
    let bad = BadCanary::with(
        "e2e-drive-pause",
        "0.1",
        "steps = [{ weight = 10, bake = \"10m\" }, { weight = 100 }]",
        &format!("[team]\ntable = \"{table}\""),
    )?;
    let sdk = bad.layout.sdk.clone();
    bad.rt.block_on(async {
        flightdeck::sources::team::Team::new(
            &sdk,
            &table,
            "",
            std::sync::Arc::new(flightdeck::sources::SystemClock),
        )
        .create_table()
        .await
    })?;
    let config = bad.dir.path().join("config.toml");
    let (mut driver, lines) = bad.spawn_drive(&[])?;
    let wait_line = |what: &str, ok: &dyn Fn(&str) -> bool| next_line(&lines, what, ok);
    wait_line("its first state", &|l| l.contains("progressing"))?;
    // Another person, another journal, the same team table.
    let cli = |action: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args([
                OsStr::new("--config"),
                config.as_os_str(),
                OsStr::new("--journal"),
                bad.dir.path().join("ana.jsonl").as_os_str(),
                OsStr::new("--service"),
                OsStr::new("auth-e2e"),
                OsStr::new(action),
                OsStr::new("--yes"),
                OsStr::new("--reason"),
                OsStr::new("look first"),
            ])
            .env("USER", "ana")
            .stdin(std::process::Stdio::null())
            .output()
    };
    let out = cli("pause")?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paused_at = Instant::now();
    let line = wait_line("PAUSED", &|l| l.contains("PAUSED"))?;
    // Within one poll of the team journal (2 s), with room for a slow machine.
    eprintln!(
        "the driver paused {:?} after the CLI: {line}",
        paused_at.elapsed()
    );
    let out = cli("resume")?;
    assert_eq!(out.status.code(), Some(0));
    wait_line("the resume", &|l| {
        !l.contains("PAUSED") && l.contains("progressing")
    })?;
    let _ = driver.kill();
    let _ = driver.wait();
    // The pause reached the driver through the table: its own journal does
    // not have it, the team table does.
    let own = std::fs::read_to_string(bad.dir.path().join("driver.jsonl"))?;
    assert!(!own.contains("\"action\":\"pause\""), "{own}");
    Ok(())
}

#[test]
fn with_the_team_table_cut_only_a_rollback_moves_and_its_records_reach_the_table_later()
-> TestResult {
    let moto_url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    let proxy = common::proxy::Proxy::start(moto_url.trim_start_matches("http://"), b"")?;
    let table = format!("team-cut-{}", std::process::id());
    let release = BadCanary::with(
        "e2e-team-cut",
        "0.1",
        "steps = [{ weight = 10, bake = \"10m\" }, { weight = 100 }]",
        &format!(
            "[team]\ntable = \"{table}\"\nendpoint_url = \"{}\"",
            proxy.url
        ),
    )?;
    let team = flightdeck::sources::team::Team::new(
        &release.layout.sdk,
        &table,
        "",
        std::sync::Arc::new(flightdeck::sources::SystemClock),
    );
    release.rt.block_on(team.create_table())?;
    let (mut app, journal) = release.start()?;
    app.screen.wait_for("the release and the team table", |s| {
        s.contains("10% canary") && s.contains(&format!("team: {table}"))
    })?;
    // The path to DynamoDB goes away (ECS, the load balancer and the
    // metrics still answer).
    proxy.set_down(true);
    app.screen.wait_for("the header saying so", |s| {
        s.contains("TEAM STATE UNREACHABLE")
    })?;
    // An advance cannot confirm the lease: refused, traffic untouched.
    app.send("]")?;
    app.screen
        .wait_for("the advance dialog", |s| s.contains("Advance"))?;
    app.send("\r")?;
    app.screen.wait_for("the refusal", |s| {
        s.contains("not done") || s.contains("refused") || s.contains("cannot")
    })?;
    let (split, ..) = release.rt.block_on(release.layout.read_back())?;
    assert_eq!(split.canary, 10, "no change but a rollback");
    // A rollback goes on, with the local journal, and says so.
    app.send("R")?;
    app.screen
        .wait_for("the rollback dialog", |s| s.contains("ROLL BACK"))?;
    app.send("auth-e2e")?;
    app.send("\t")?;
    app.send("table down")?;
    app.send("\r")?;
    app.screen.wait_for("rolled back", |s| {
        s.contains("rolled back") && s.contains("  0% canary")
    })?;
    let (split, ..) = release.rt.block_on(release.layout.read_back())?;
    assert_eq!((split.stable, split.canary), (100, 0));
    let local = records(&journal);
    assert!(
        local
            .iter()
            .any(|r| r["action"] == "lease" && r["from"] == "unavailable"),
        "the rollback says it went on without the lease: {local:?}"
    );
    let rollback_records = local.iter().filter(|r| r["action"] == "rollback").count();
    // The path comes back: the queued records reach the table, once each.
    proxy.set_down(false);
    let deadline = Instant::now() + PATIENCE;
    let in_table = loop {
        let entries = release.rt.block_on(
            flightdeck::sources::team::Team::new(
                &release.layout.sdk,
                &table,
                &local
                    .iter()
                    .find_map(|r| r["identity"].as_str().map(str::to_string))
                    .unwrap_or_default(),
                std::sync::Arc::new(flightdeck::sources::SystemClock),
            )
            .records_after("", 500),
        )?;
        let rollbacks = entries
            .iter()
            .filter(|e| e.record.action == "rollback")
            .count();
        if rollbacks >= rollback_records || Instant::now() > deadline {
            break entries;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let keys: std::collections::HashSet<&str> = in_table.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys.len(), in_table.len(), "nothing doubled");
    assert_eq!(
        in_table
            .iter()
            .filter(|e| e.record.action == "rollback")
            .count(),
        rollback_records,
        "every rollback record reached the table"
    );
    app.screen.wait_for("the header back to normal", |s| {
        !s.contains("TEAM STATE UNREACHABLE")
    })?;
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    Ok(())
}

#[test]
fn two_consoles_on_two_homes_see_each_other_through_the_team_table() -> TestResult {
    let table = format!("team-two-{}", std::process::id());
    let release = BadCanary::team("e2e-team-two", &table)?;
    let console = |who: &str| release.console_as(who);
    let mut ana = console("ana")?;
    let mut bob = console("bob")?;
    for (name, app) in [("ana", &mut ana), ("bob", &mut bob)] {
        app.screen.wait_for(name, |s| {
            s.contains("10% canary") && s.contains(&format!("team: {table}"))
        })?;
    }
    // Ana pauses: Bob's Journal pane says who, and his automation obeys.
    ana.send("p")?;
    bob.screen.wait_for("ana's pause in bob's journal", |s| {
        s.contains("ana@") && s.contains("pause") && s.contains("automation paused by ana@")
    })?;
    // Bob rolls back: Ana's Journal pane shows it, marked as his.
    bob.send("R")?;
    bob.screen
        .wait_for("the rollback dialog", |s| s.contains("ROLL BACK"))?;
    bob.send("auth-e2e")?;
    bob.send("\t")?;
    bob.send("errors")?;
    bob.send("\r")?;
    bob.screen
        .wait_for("rolled back", |s| s.contains("rolled back"))?;
    ana.screen
        .wait_for("bob's rollback in ana's journal", |s| {
            s.lines()
                .any(|l| l.contains("bob@") && l.contains("rollback"))
        })?;
    for app in [&mut ana, &mut bob] {
        app.send("q")?;
        assert!(app.wait_exit("after q")?.success());
    }
    Ok(())
}

#[test]
fn a_cli_rollback_takes_over_from_a_driver_mid_plan_and_the_driver_exits_5() -> TestResult {
    // A good canary, but moto never starts the canary's new tasks: the
    // driver's advance waits mid-plan for targets that never come.
    let release = BadCanary::good("e2e-drive-taken")?;
    let config = release.dir.path().join("config.toml");
    let (mut driver, lines) = release.spawn_drive(&["--timeout", "120s"])?;
    if let Err(e) = next_line(&lines, "a change mid-plan", &|l| {
        l.contains("set_weight step 2/")
    }) {
        let _ = driver.kill();
        return Err(e.into());
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args([
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--journal"),
            release.dir.path().join("oncall.jsonl").as_os_str(),
            OsStr::new("--service"),
            OsStr::new("auth-e2e"),
            OsStr::new("rollback"),
            OsStr::new("--yes"),
            OsStr::new("--reason"),
            OsStr::new("stop the drive"),
        ])
        .env("USER", "oncall")
        .stdin(std::process::Stdio::null())
        .output()?;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The driver stops at its boundary and ends as rolled back.
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = driver.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = driver.kill();
            return Err("the driver did not end after the takeover".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    if let Some(mut e) = driver.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(status.code(), Some(5), "{err}");
    let stopped = records(&release.dir.path().join("driver.jsonl"))
        .into_iter()
        .find(|r| {
            r["action"] == "set_weight"
                && r["step"].is_null()
                && r["result"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("stopped: preempted"))
        });
    assert!(stopped.is_some(), "the driver's change ends preempted");
    Ok(())
}

#[test]
fn one_driver_sits_in_the_seat_a_killed_one_loses_it_and_a_console_takes_over_driving() -> TestResult
{
    let table = format!("team-seat-{}", std::process::id());
    let release = BadCanary::with(
        "e2e-seat",
        "0.1",
        "steps = [{ weight = 10, bake = \"10m\" }, { weight = 100 }]",
        &format!("[team]\ntable = \"{table}\"\ndriver_expiry = \"3s\""),
    )?;
    release.rt.block_on(
        flightdeck::sources::team::Team::new(
            &release.layout.sdk,
            &table,
            "",
            std::sync::Arc::new(flightdeck::sources::SystemClock),
        )
        .create_table(),
    )?;
    let (mut first, lines) = release.spawn_drive(&[])?;
    next_line(&lines, "the first driver's state", &|l| {
        l.contains("progressing")
    })?;

    // A second driver is refused while the first sits there, and says who.
    let second = release.drive(&[])?;
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{err}");
    assert!(err.contains("driven by ci@"), "{err}");

    // Killed -9: it cannot give the seat back; after the expiry (3 s) the
    // next driver takes it, and its journal says from whom.
    first.kill()?;
    let _ = first.wait();
    std::thread::sleep(Duration::from_secs(4));
    let (mut driver, lines) = release.spawn_drive(&["--timeout", "120s"])?;
    next_line(&lines, "the next driver's state", &|l| {
        l.contains("progressing")
    })?;
    // The first driver's (from nobody) is in the same journal: wait for
    // the second's.
    let deadline = Instant::now() + Duration::from_secs(20);
    let took = loop {
        let took: Vec<serde_json::Value> = records(&release.dir.path().join("driver.jsonl"))
            .into_iter()
            .filter(|r| r["action"] == "drive" && r["result"] == "ok")
            .collect();
        if took.len() >= 2 || Instant::now() > deadline {
            break took.into_iter().nth(1);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let took = took.ok_or("the new driver journals taking the seat")?;
    assert!(
        took["from"].as_str().is_some_and(|f| f.starts_with("ci@")),
        "taken from the silent driver: {took}"
    );

    // A console sees who drives and takes over with the service's name
    // typed; the driver stops and exits 3.
    let home = release.dir.path().join("ana");
    std::fs::create_dir_all(&home)?;
    let config = release.dir.path().join("config.toml");
    let journal = home.join("journal.jsonl");
    let home_text = home.to_string_lossy().to_string();
    let mut console = Running::start(
        &[
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--journal"),
            journal.as_os_str(),
        ],
        &[("USER", "ana"), ("HOME", &home_text)],
        ROWS,
        COLS,
    )?;
    console.screen.wait_for("the driver in the header", |s| {
        s.contains("driven by ci@") || s.contains("team, driven")
    })?;
    console.send(":drive\r")?;
    console
        .screen
        .wait_for("the typed confirmation asked", |s| {
            s.contains("type `:drive auth-e2e`")
        })?;
    console.send(":drive auth-e2e\r")?;
    console
        .screen
        .wait_for("driving here", |s| s.contains("driving here"))?;
    eprintln!("the console drives");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = driver.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = driver.kill();
            return Err("the driver did not stop after the console took over".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut err = String::new();
    if let Some(mut e) = driver.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(err.contains("taken over by ana@"), "{err}");
    console.send("q")?;
    assert!(console.wait_exit("after q")?.success());
    // The console's journal has its taking of the seat, from the driver.
    let took = records(&journal)
        .into_iter()
        .find(|r| r["action"] == "drive" && r["result"] == "ok")
        .ok_or("the console journals taking the seat")?;
    assert!(
        took["from"].as_str().is_some_and(|f| f.starts_with("ci@")),
        "{took}"
    );
    Ok(())
}

#[test]
fn cluster_without_a_config_opens_the_fleet_overview_and_enter_and_esc_move_between_releases()
-> TestResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cluster = "suma-e2e-fleet";
    let a = rt.block_on(moto::layout_in("fl-a", cluster))?;
    let b = rt.block_on(moto::layout_in("fl-b", cluster))?;
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("journal.jsonl");
    let url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    let args = [
        OsStr::new("--cluster"),
        OsStr::new(cluster),
        OsStr::new("--journal"),
        journal.as_os_str(),
    ];
    let home = dir.path().to_string_lossy().to_string();
    let mut app = Running::start(
        &args,
        &[("USER", "e2e"), ("AWS_ENDPOINT_URL", &url), ("HOME", &home)],
        ROWS,
        COLS,
    )?;
    app.screen
        .wait_for("the fleet with both releases read", |s| {
            s.contains("Fleet 2 releases")
                && s.contains(&a.stable)
                && s.contains(&b.stable)
                && s.matches("10%").count() >= 2
        })?;
    // Filter to the second and open it: its console.
    app.send("/fl-b\r")?;
    app.screen
        .wait_for("the filter", |s| s.contains("filter: /fl-b"))?;
    app.send("\r")?;
    app.screen.wait_for("the second release's console", |s| {
        s.contains(&format!("{} ·", b.stable)) && s.contains("10% canary") && s.contains("Journal")
    })?;
    // Esc: back to the overview, the selection on the release left.
    app.send("\x1b")?;
    app.screen.wait_for("the overview again", |s| {
        s.contains("Fleet 2 releases") && s.contains(&format!("▶ canary      {}", b.stable))
    })?;
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    Ok(())
}

#[test]
fn a_release_that_cannot_be_opened_leaves_the_operator_on_the_fleet_overview_saying_why()
-> TestResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let good = rt.block_on(moto::layout("fl-good"))?;
    let dir = tempfile::tempdir()?;
    let url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    let config = dir.path().join("config.toml");
    // The first release's cluster does not exist: discovery cannot start
    // its console.
    std::fs::write(
        &config,
        format!(
            "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"{url}\"\n\n[[service]]\nname = \"broken\"\nenvironment = \"production\"\ncluster = \"nope\"\nstable_service = \"gone\"\n\n[[service]]\nname = \"good\"\nenvironment = \"production\"\ncluster = \"{}\"\nstable_service = \"{}\"\n",
            good.cluster, good.stable
        ),
    )?;
    let (mut app, _journal) = start_live(dir.path(), &config)?;
    app.screen
        .wait_for("the overview on the release that opens", |s| {
            s.contains("Fleet 2 releases") && s.contains("cannot open broken") && s.contains("good")
        })?;
    app.screen
        .wait_for("the broken row read as unreadable", |s| s.contains("STALE"))?;
    // Enter on it: it still cannot open; the console stays, on the overview.
    app.send("g")?;
    app.screen.wait_for("the broken row selected", |s| {
        s.lines().any(|l| l.contains('▶') && l.contains("broken"))
    })?;
    app.send("\r")?;
    // A new console: on the overview again, the selection on the release
    // it has open.
    app.screen.wait_for("the overview again, saying why", |s| {
        s.contains("Fleet 2 releases")
            && s.contains("cannot open broken")
            && s.lines().any(|l| l.contains('▶') && l.contains("good"))
    })?;
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    Ok(())
}

#[test]
fn the_baseline_one_console_recorded_is_used_by_another_home_s_rollback() -> TestResult {
    let table = format!("team-base-{}", std::process::id());
    let release = BadCanary::team("e2e-team-base", &table)?;
    let console = |who: &str| release.console_as(who);
    let family = release.layout.family.clone();
    // Ana sees the release under way: stable on :1, the canary on :2.
    let mut ana = console("ana")?;
    ana.screen.wait_for("ana's baseline", |s| {
        s.contains(&format!("baseline stable {family}:1"))
    })?;
    // Her baseline record reaches the team table (written at once, then
    // synced): give the sync a few polls.
    std::thread::sleep(Duration::from_secs(4));
    ana.send("q")?;
    assert!(ana.wait_exit("after q")?.success());
    // Someone moves the stable service to the release's revision: from AWS
    // alone, :1 can no longer be told.
    let ecs = aws_sdk_ecs::Client::new(&release.layout.sdk);
    release.rt.block_on(
        ecs.update_service()
            .cluster(&release.layout.cluster)
            .service(&release.layout.stable)
            .task_definition(format!("{family}:2"))
            .send(),
    )?;
    // Bob, on another HOME (an empty journal of his own), rolls back: to
    // Ana's baseline, from the team table.
    let mut bob = console("bob")?;
    bob.screen
        .wait_for("ana's baseline in bob's console", |s| {
            s.contains("10% canary") && s.contains(&format!("baseline stable {family}:1"))
        })?;
    // The dialog confirms the baseline on a fresh read of ECS; a loaded
    // moto may fail one read (the dialog then says "not confirmed"): ask
    // again, a few times.
    let mut shown = String::new();
    for _ in 0..5 {
        bob.send("R")?;
        shown = bob
            .screen
            .wait_for("the rollback dialog", |s| s.contains("Release baseline:"))?;
        if shown.contains(&format!("Release baseline: stable {family}:1")) {
            break;
        }
        bob.send("\x1b")?;
        bob.screen
            .wait_for("the dialog cancelled", |s| s.contains("nothing changed"))?;
        std::thread::sleep(Duration::from_secs(2));
    }
    assert!(
        shown.contains(&format!("Release baseline: stable {family}:1")),
        "{shown}"
    );
    bob.send("\x1b")?;
    bob.screen
        .wait_for("the dialog cancelled", |s| s.contains("nothing changed"))?;
    bob.send("q")?;
    assert!(bob.wait_exit("after q")?.success());
    Ok(())
}

/// An ECS-native release: moto's ALB and rule, ECS at a fake endpoint that
/// plays one canary deployment (moto has no service deployments) and moves
/// the rule's weights as ECS would. The config names only the cluster and
/// the service: the model, groups and rule are found from ECS.
struct NativeRelease {
    rt: tokio::runtime::Runtime,
    layout: moto::Layout,
    fake: common::fake_ecs::FakeEcs,
    dir: tempfile::TempDir,
}

impl NativeRelease {
    fn new(name: &str) -> Result<NativeRelease, Box<dyn std::error::Error>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let layout = rt.block_on(moto::layout(name))?;
        let fake = rt.block_on(common::fake_ecs::FakeEcs::start(
            &layout.sdk,
            &layout.cluster,
            &layout.stable,
            &layout.stable_tg,
            &layout.canary_tg,
            &layout.rule,
        ));
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("config.toml"),
            format!(
                "[aws]\nregion = \"eu-west-1\"\n\n[poll]\nfleet = \"1s\"\ntraffic = \"1s\"\n\n[[service]]\nname = \"auth-native\"\nenvironment = \"production\"\nprotected = true\ncluster = \"{}\"\nstable_service = \"{}\"\n",
                layout.cluster, layout.stable
            ),
        )?;
        Ok(NativeRelease {
            rt,
            layout,
            fake,
            dir,
        })
    }

    /// The console, with ECS (only) at the fake endpoint: the SDK's
    /// service-specific endpoint variable, over `AWS_ENDPOINT_URL` (moto).
    fn console(&self) -> Result<(Running, std::path::PathBuf), Box<dyn std::error::Error>> {
        let moto = std::env::var("FLIGHTDECK_MOTO_URL")?;
        let journal = self.dir.path().join("journal.jsonl");
        let config = self.dir.path().join("config.toml");
        let args = [
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--journal"),
            journal.as_os_str(),
        ];
        let ecs = self.fake.uri();
        let app = Running::start(
            &args,
            &[
                ("USER", "e2e"),
                ("AWS_ENDPOINT_URL", moto.as_str()),
                ("AWS_ENDPOINT_URL_ECS", ecs.as_str()),
            ],
            ROWS,
            COLS,
        )?;
        Ok((app, journal))
    }

    /// The console once it shows the canary at its PAUSE hook.
    fn at_the_hook(&self) -> Result<(Running, std::path::PathBuf), Box<dyn std::error::Error>> {
        let (mut app, journal) = self.console()?;
        app.screen.wait_for("the native canary at its hook", |s| {
            s.contains("ECS canary: 10% for 5m, then 100%")
                && s.contains("hook pause-after-canary AWAITING ACTION")
                && s.contains("10% canary")
                && s.contains("auth:41 → auth:42")
        })?;
        Ok((app, journal))
    }
}

#[test]
fn an_ecs_native_canary_is_continued_past_its_hook_and_ecs_bakes_it_to_all_traffic() -> TestResult {
    let release = NativeRelease::new("native-go")?;
    let (mut app, journal) = release.at_the_hook()?;
    // The weights belong to the strategy.
    app.send("w")?;
    app.screen.wait_for("w refused", |s| {
        s.contains("the ECS canary strategy sets the weights")
    })?;
    app.send("]")?;
    app.screen.wait_for("the continue dialog", |s| {
        s.contains("Continue ECS deployment") && s.contains("ContinueServiceDeployment CONTINUE")
    })?;
    confirm_as(&mut app, "auth-native", "canary is clean")?;
    // ECS bakes, then moves all traffic: the console follows.
    app.screen.wait_for("ECS at 100 %", |s| {
        s.contains("SUCCESSFUL")
            && s.contains("100% canary")
            && s.contains("s ago · clean up · auth:41 → auth:42")
    })?;
    let arn = release
        .fake
        .state
        .lock()
        .map(|s| s.deployment_arn())
        .map_err(|_| "fake state")?;
    assert_eq!(
        release.fake.requests("ContinueServiceDeployment"),
        vec![serde_json::json!({
            "serviceDeploymentArn": arn,
            "hookId": common::fake_ecs::HOOK,
            "action": "CONTINUE"
        })]
    );
    let (split, _, _, _) = release.rt.block_on(release.layout.read_back())?;
    assert_eq!((split.stable, split.canary), (0, 100));
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    let end = last_end_record(&journal, "continue")?;
    assert_eq!(end["result"], "ok", "{end}");
    assert_eq!(end["to"], "past hook pause-after-canary", "{end}");
    let text = std::fs::read_to_string(&journal)?;
    assert!(
        text.contains("fake-ecs-ContinueServiceDeployment"),
        "the request id is journaled: {text}"
    );
    let baseline = records(&journal)
        .into_iter()
        .find(|r| r["action"] == "baseline")
        .ok_or("no baseline record")?;
    assert_eq!(
        (baseline["from"].as_str(), baseline["to"].as_str()),
        (Some("auth:41"), Some("auth:42"))
    );
    Ok(())
}

#[test]
fn an_ecs_native_canary_rolled_back_at_its_hook_ends_when_ecs_says_rollback_successful()
-> TestResult {
    let release = NativeRelease::new("native-back")?;
    let (mut app, journal) = release.at_the_hook()?;
    app.send("R")?;
    app.screen.wait_for("the rollback dialog", |s| {
        s.contains("ROLL BACK") && s.contains("ContinueServiceDeployment ROLLBACK")
    })?;
    confirm_as(&mut app, "auth-native", "p95 up")?;
    // The rule is back at once; the change ends only when ECS says the
    // rollback succeeded.
    app.screen.wait_for("the rollback done", |s| {
        s.contains("ROLLBACK SUCCESSFUL") && s.contains("  0% canary") && s.contains("rolled back")
    })?;
    assert_eq!(
        release.fake.phase(),
        Some(common::fake_ecs::Phase::RolledBack)
    );
    let requests = release.fake.requests("ContinueServiceDeployment");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["action"], "ROLLBACK");
    assert!(release.fake.requests("StopServiceDeployment").is_empty());
    let (split, _, _, _) = release.rt.block_on(release.layout.read_back())?;
    assert_eq!((split.stable, split.canary), (100, 0));
    // Nothing left to steer.
    app.send("R")?;
    app.screen
        .wait_for("R refused", |s| s.contains("nothing to steer"))?;
    app.send("q")?;
    assert!(app.wait_exit("after q")?.success());
    let end = last_end_record(&journal, "rollback")?;
    assert_eq!(end["result"], "ok", "{end}");
    let waited = records(&journal)
        .into_iter()
        .filter(|r| {
            r["step"]
                .as_str()
                .is_some_and(|s| s.starts_with("2/2 wait_rolled_back"))
        })
        .map(|r| r["result"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    assert_eq!(waited, ["started", "ok"]);
    Ok(())
}
