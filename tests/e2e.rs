//! End to end: the real binary in a pseudo-terminal. Start `--demo`, roll
//! back as an operator would, quit, and check the terminal was restored and
//! the journal holds the change.

use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

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

#[test]
fn demo_rollback_in_a_real_terminal() -> TestResult {
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("journal.jsonl");
    let pty = native_pty_system();
    let pair = pty.openpty(PtySize {
        rows: ROWS,
        cols: COLS,
        pixel_width: 0,
        pixel_height: 0,
    })?;
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_flightdeck"));
    cmd.arg("--demo");
    cmd.arg("--journal");
    cmd.arg(&journal);
    cmd.env("TERM", "xterm-256color");
    cmd.env("USER", "e2e-operator");
    cmd.env_remove("NO_COLOR");
    let mut child = pair.slave.spawn_command(cmd)?;
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader()?;
    let mut writer = pair.master.take_writer()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let rows = NonZeroU16::new(ROWS).ok_or("rows")?;
    let cols = NonZeroU16::new(COLS).ok_or("cols")?;
    let mut screen = Screen {
        parser: vt100::Parser::new(rows, cols, 0),
        bytes: rx,
        raw: Vec::new(),
    };
    let mut send = |keys: &str| -> std::io::Result<()> {
        writer.write_all(keys.as_bytes())?;
        writer.flush()
    };

    screen.wait_for("the five pane titles and data", |s| {
        ["Pipeline", "Canary", "Tasks", "Logs", "Journal"]
            .iter()
            .all(|t| s.contains(t))
            && s.contains("10% canary")
    })?;
    assert!(
        screen.parser.screen().alternate_screen(),
        "runs in the alternate screen"
    );

    send("R")?;
    screen.wait_for("the rollback dialog", |s| {
        s.contains("ROLL BACK") && s.contains("Type auth-service to confirm")
    })?;
    send("auth-service")?;
    send("\t")?;
    send("e2e: canary errors")?;
    screen.wait_for("the typed reason", |s| s.contains("[e2e: canary errors]"))?;
    send("\r")?;
    let after = screen.wait_for("canary at 0% and the rollback journaled", |s| {
        s.contains("  0% canary")
            && s.contains("rolled back")
            && s.contains("rollback 10% → 0% done")
    })?;
    assert!(
        after.contains("e2e-operator: rollback 10% → 0% started — e2e: canary errors"),
        "{after}"
    );

    send("q")?;
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            child.kill()?;
            return Err("flightdeck did not exit after q".into());
        }
        screen.pump(Duration::from_millis(50));
    };
    while screen.pump(Duration::from_millis(200)) {}
    assert!(status.success(), "exit status {status:?}");
    assert!(
        !screen.parser.screen().alternate_screen(),
        "left the alternate screen"
    );
    let raw = String::from_utf8_lossy(&screen.raw);
    assert!(
        raw.contains("\x1b[?1049l"),
        "sent the leave-alternate-screen sequence"
    );

    let text = std::fs::read_to_string(&journal)?;
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let results: Vec<&str> = records
        .iter()
        .filter_map(|r| r["result"].as_str())
        .collect();
    assert_eq!(results, ["started", "ok"], "{text}");
    assert_eq!(records[0]["action"], "rollback");
    assert_eq!(records[0]["operator"], "e2e-operator");
    assert_eq!(records[1]["reason"], "e2e: canary errors");
    assert_eq!(records[1]["request_ids"].as_array().map(Vec::len), Some(2));
    Ok(())
}

#[test]
fn read_only_refuses_in_a_real_terminal_and_sigterm_restores_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pty = native_pty_system();
    let pair = pty.openpty(PtySize {
        rows: 24,
        cols: 80,
        pixel_width: 0,
        pixel_height: 0,
    })?;
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_flightdeck"));
    cmd.args(["--demo", "--read-only", "--journal"]);
    cmd.arg(dir.path().join("j.jsonl"));
    cmd.env("TERM", "xterm-256color");
    let mut child = pair.slave.spawn_command(cmd)?;
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader()?;
    let mut writer = pair.master.take_writer()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut screen = Screen {
        parser: vt100::Parser::new(
            NonZeroU16::new(24).ok_or("rows")?,
            NonZeroU16::new(80).ok_or("cols")?,
            0,
        ),
        bytes: rx,
        raw: Vec::new(),
    };
    screen.wait_for("READ-ONLY in the header", |s| {
        s.contains("READ-ONLY") && s.contains("Journal")
    })?;
    writer.write_all(b"R")?;
    writer.flush()?;
    screen.wait_for("the refusal", |s| {
        s.contains("read-only: changes are disabled")
    })?;
    let pid = child.process_id().ok_or("no pid")?;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(killed.success());
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            child.kill()?;
            return Err("flightdeck did not exit on SIGTERM".into());
        }
        screen.pump(Duration::from_millis(50));
    }
    while screen.pump(Duration::from_millis(200)) {}
    assert!(
        !screen.parser.screen().alternate_screen(),
        "SIGTERM left the alternate screen"
    );
    let raw = String::from_utf8_lossy(&screen.raw);
    assert!(raw.contains("\x1b[?1049l"));
    Ok(())
}
