//! How quietly the console draws: the real binary in a pseudo-terminal at
//! 160×48 on `--demo --demo-speed 1`, measured for 30 s after a 5 s
//! warm-up: CPU of the process, bytes written to the terminal per second,
//! frames per second (synchronized updates). `top -d 1` in the same kind of
//! terminal is measured the same way for comparison. Then a scripted minute
//! of use (focus, scroll, filter, help, a dialog opened and cancelled, one
//! key a second) reports frames and bytes per second.
//!
//!     cargo bench --bench quiet

use std::io::Read;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const WARM_UP: Duration = Duration::from_secs(5);
const MEASURE: Duration = Duration::from_secs(30);

struct Figures {
    cpu_pct: f64,
    bytes_per_s: f64,
    frames_per_s: f64,
}

/// Keys sent one a second during the scripted minute.
const SCRIPT: [&str; 12] = [
    "\t", "j", "j", "k", "\t", "/", "e", "\x1b", "?", "x", "]", "\x1b",
];

fn measure(program: &str, args: &[&str]) -> Result<Figures, Box<dyn std::error::Error>> {
    measure_with(program, args, MEASURE, false)
}

fn measure_with(
    program: &str,
    args: &[&str],
    length: Duration,
    scripted: bool,
) -> Result<Figures, Box<dyn std::error::Error>> {
    let pair = native_pty_system().openpty(PtySize {
        rows: 48,
        cols: 160,
        pixel_width: 0,
        pixel_height: 0,
    })?;
    let mut cmd = CommandBuilder::new(program);
    cmd.args(args);
    cmd.env("TERM", "xterm-256color");
    let dir = tempfile::tempdir()?;
    cmd.env("HOME", dir.path());
    cmd.env("XDG_STATE_HOME", dir.path());
    let mut child = pair.slave.spawn_command(cmd)?;
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader()?;
    let mut writer = pair.master.take_writer()?;
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let pid = child.process_id().ok_or("no pid")?;
    // Time on a CPU of every thread, in nanoseconds (schedstat): tick-based
    // utime is too coarse at a tenth of a percent.
    let cpu_ns = || -> u64 {
        let Ok(threads) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return 0;
        };
        threads
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    };
    let drain_until = |end: Instant, bytes: &mut Vec<u8>| {
        while Instant::now() < end {
            if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(50)) {
                bytes.extend(chunk);
            }
        }
    };
    let mut ignored = Vec::new();
    drain_until(Instant::now() + WARM_UP, &mut ignored);
    let ns0 = cpu_ns();
    let mut bytes = Vec::new();
    let start = Instant::now();
    if scripted {
        let mut second = 0;
        while start.elapsed() < length {
            let key = SCRIPT[second % SCRIPT.len()];
            std::io::Write::write_all(&mut writer, key.as_bytes())?;
            std::io::Write::flush(&mut writer)?;
            second += 1;
            drain_until(start + Duration::from_secs(second as u64), &mut bytes);
        }
    } else {
        drain_until(start + length, &mut bytes);
    }
    let secs = start.elapsed().as_secs_f64();
    let ns = cpu_ns().saturating_sub(ns0);
    let _ = child.kill();
    let frames = bytes.windows(8).filter(|w| w == b"\x1b[?2026h").count();
    Ok(Figures {
        cpu_pct: ns as f64 / 1e9 / secs * 100.0,
        bytes_per_s: bytes.len() as f64 / secs,
        frames_per_s: frames as f64 / secs,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let console = measure(
        env!("CARGO_BIN_EXE_flightdeck"),
        &["--demo", "--demo-speed", "1", "--journal", "/dev/null"],
    )?;
    println!(
        "flightdeck --demo --demo-speed 1, 160x48, 30 s: CPU {:.3} % of a core, {:.0} bytes/s, {:.2} frames/s",
        console.cpu_pct, console.bytes_per_s, console.frames_per_s
    );
    match measure("top", &["-d", "1"]) {
        Ok(top) => println!(
            "top -d 1, 160x48, 30 s: CPU {:.3} % of a core, {:.0} bytes/s",
            top.cpu_pct, top.bytes_per_s
        ),
        Err(e) => println!("top -d 1: not measured ({e})"),
    }
    let scripted = measure_with(
        env!("CARGO_BIN_EXE_flightdeck"),
        &["--demo", "--demo-speed", "1", "--journal", "/dev/null"],
        Duration::from_secs(60),
        true,
    )?;
    println!(
        "scripted minute (a key a second), 160x48: CPU {:.3} % of a core, {:.0} bytes/s, {:.2} frames/s",
        scripted.cpu_pct, scripted.bytes_per_s, scripted.frames_per_s
    );
    Ok(())
}
