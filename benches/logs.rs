//! Log ingest throughput: lines per second through the whole path the
//! console takes — `Msg::Logs` batches into the model (bounded buffer, a
//! regex filter indexing matches) and a frame of the Logs pane drawn after
//! each batch (sanitizing and highlighting the visible lines) — with hostile
//! lines mixed in. Prints numbers; not a test (machines are noisy). Aim:
//! 50,000 lines/s or more while the screen keeps drawing.
//!
//!     cargo bench --bench logs

use std::time::Instant;

use chrono::TimeZone;
use flightdeck::app::demo_model;
use flightdeck::config::theme::Themes;
use flightdeck::core::action::Keymap;
use flightdeck::core::model::{LogLine, Pane};
use flightdeck::core::msg::Msg;
use flightdeck::core::update::{Ctx, update};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t0 = chrono::Utc
        .with_ymd_and_hms(2026, 12, 1, 10, 30, 0)
        .single()
        .unwrap_or_default();
    let ctx = Ctx {
        now: t0,
        operator: "bench".into(),
    };
    let themes = Themes::load(false);
    for (label, filter) in [("no filter", ""), ("regex filter", "status=5\\d\\d|ERROR")] {
        let mut model = demo_model("good", 10, false, Keymap::default(), "default", t0);
        model.focus = Pane::Logs;
        model.logs.set_filter(filter);
        let mut terminal = Terminal::new(TestBackend::new(160, 48))?;
        let batches = 400;
        let per_batch = 1_000;
        let started = Instant::now();
        let mut frames = 0;
        for b in 0..batches {
            let lines: Vec<LogLine> = (0..per_batch)
                .map(|i| {
                    let n = b * per_batch + i;
                    let text = match n % 50 {
                        0 => format!("\u{1b}]0;pwned\u{7}\u{1b}[2J ERROR {n} \u{202e}gnp.exe"),
                        1 => format!(
                            "{{\"level\":\"error\",\"status=503\",\"msg\":\"upstream {n}\"}}"
                        ),
                        _ => format!(
                            "10.0.{}.{} - - \"GET /api/auth/session HTTP/1.1\" status=200 {} 42ms",
                            n % 64,
                            n % 251,
                            n
                        ),
                    };
                    LogLine {
                        at: t0 + chrono::Duration::milliseconds(n as i64),
                        task: format!("{:08x}", n % 9),
                        text,
                    }
                })
                .collect();
            update(&mut model, Msg::Logs(Ok(lines)), &ctx);
            terminal.draw(|frame| {
                flightdeck::ui::draw(frame, &model, themes.get(&model.theme));
            })?;
            frames += 1;
        }
        let secs = started.elapsed().as_secs_f64();
        let total = (batches * per_batch) as f64;
        println!(
            "logs ingest ({label}): {:.0} lines/s ({} lines, {frames} frames in {:.2} s; kept {}, shown {})",
            total / secs,
            total,
            secs,
            model.logs.len(),
            model.logs.shown_len()
        );
    }
    Ok(())
}
