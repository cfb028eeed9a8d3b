//! Time to draw one full frame at 200×60 with 1,000 tasks and 100,000 log
//! lines in the model — with and without a log filter (the filter scans from
//! the newest line until the pane is full). First p50/p99 of 2,000 single
//! frames as the console's loop renders them (into memory, and the copy
//! handed to the screen writer), then criterion's figures.

use chrono::TimeZone;
use criterion::{Criterion, criterion_group, criterion_main};
use flightdeck::app::demo_model;
use flightdeck::config::theme::Themes;
use flightdeck::core::action::Keymap;
use flightdeck::core::model::{FleetSnapshot, LogLine, Model, Pane, TaskInfo, Track};
use flightdeck::core::msg::Msg;
use flightdeck::core::update::{Ctx, update};
use flightdeck::sources::demo::{World, scenario};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn big_model() -> Model {
    let t0 = chrono::Utc
        .with_ymd_and_hms(2026, 12, 1, 10, 30, 0)
        .single()
        .unwrap_or_default();
    let ctx = Ctx {
        now: t0,
        operator: "bench".into(),
    };
    let mut model = demo_model("good", 10, false, Keymap::default(), "default", t0);
    let world = World::new(&scenario::GOOD, t0, 42);
    let mut fleet: FleetSnapshot = world.fleet();
    fleet.tasks = (0..1_000)
        .map(|i| TaskInfo {
            id: format!("{i:08x}0000000000000000deadbeef"),
            track: if i % 10 == 0 {
                Track::Canary
            } else {
                Track::Stable
            },
            task_definition: "auth-service:41".into(),
            last_status: "RUNNING".into(),
            health: "HEALTHY".into(),
            az: "eu-west-1a".into(),
            started_at: Some(t0),
            stopped_reason: None,
        })
        .collect();
    let logs: Vec<LogLine> = (0..100_000)
        .map(|i| LogLine {
            at: t0,
            task: "3f10de1f".into(),
            text: format!(
                "10.0.3.{} - - \"POST /api/auth/login HTTP/1.1\" {} {}ms ua=\"okhttp/4.12\" trace={i:016x}",
                i % 250,
                if i % 97 == 0 { 500 } else { 200 },
                i % 300
            ),
        })
        .collect();
    for msg in [
        Msg::Pipeline(Ok(Box::new(world.pipeline()))),
        Msg::Fleet {
            started: t0,
            result: Ok(fleet),
        },
        Msg::Traffic {
            started: t0,
            result: Ok(world.forward()),
        },
        Msg::Metrics(Ok(world.points_since(None))),
        Msg::Logs(Ok(logs)),
    ] {
        update(&mut model, msg, &ctx);
    }
    model
}

/// p50 and p99 of single frames rendered as the loop does
/// (`runtime::screen::render`: into memory, the buffer handed over).
fn percentiles(model: &Model, themes: &Themes, label: &str) {
    use flightdeck::runtime::screen::Offscreen;
    let Ok(mut term) = Terminal::new(Offscreen::new(ratatui::layout::Size::new(200, 60)));
    let mut model = model.clone();
    model.screen = Some((200, 60));
    let mut samples = Vec::with_capacity(2_000);
    let mut spare = None;
    for _ in 0..2_000 {
        let t = std::time::Instant::now();
        let frame = flightdeck::runtime::screen::render(
            &mut term,
            &model,
            themes.get(&model.theme),
            spare.take(),
        );
        samples.push(t.elapsed());
        // What the writer gives back: the buffer, blank again (its reset is
        // the writer's, not timed here).
        let mut buffer = std::hint::black_box(frame).buffer;
        buffer.reset();
        spare = Some(buffer);
    }
    samples.sort();
    let at = |p: f64| samples[((samples.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!(
        "{label:<44} p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

fn render(c: &mut Criterion) {
    let themes = Themes::load(false);
    let mut model = big_model();
    {
        let mut filtered = model.clone();
        percentiles(&filtered, &themes, "frame 200x60, 1k tasks, 100k log lines");
        filtered.focus = Pane::Logs;
        filtered.logs.set_filter("\" 500 ");
        percentiles(&filtered, &themes, "frame 200x60, log filter matching 1%");
        filtered.logs.set_filter("no such text");
        percentiles(
            &filtered,
            &themes,
            "frame 200x60, log filter matching nothing",
        );
    }
    assert_eq!(model.logs.len(), 100_000);
    // TestBackend cannot fail.
    let Ok(mut terminal) = Terminal::new(TestBackend::new(200, 60));
    let mut draw = |model: &Model| {
        let _ = terminal.draw(|frame| flightdeck::ui::draw(frame, model, themes.get(&model.theme)));
    };
    c.bench_function("frame 200x60, 1k tasks, 100k log lines", |b| {
        b.iter(|| draw(&model))
    });
    model.focus = Pane::Logs;
    model.logs.set_filter("\" 500 ");
    c.bench_function("frame 200x60, log filter matching 1%", |b| {
        b.iter(|| draw(&model))
    });
    model.logs.set_filter("no such text");
    c.bench_function("frame 200x60, log filter matching nothing", |b| {
        b.iter(|| draw(&model))
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
