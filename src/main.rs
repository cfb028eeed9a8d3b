//! The flightdeck binary: parse the command line, load the config, start the
//! console. Exit codes: 0 ok, 2 bad usage or bad config, 1 anything else.

use std::process::ExitCode;

use clap::Parser;
use flightdeck::app::{self, Cli};
use flightdeck::config::theme::Themes;
use flightdeck::journal::{self, Journal};
use flightdeck::runtime::{self, Session};

fn main() -> ExitCode {
    // First, so that every later failure gets a readable report.
    if let Err(e) = color_eyre::install() {
        eprintln!("flightdeck: {e}");
    }
    let cli = Cli::parse();
    if let Some(command) = cli.command.as_ref().filter(|c| c.is_offline()) {
        use clap::CommandFactory;
        let mut out = std::io::stdout().lock();
        return match flightdeck::cli::print_offline(command, Cli::command(), &mut out) {
            Ok(()) => ExitCode::SUCCESS,
            // `| head` closed the pipe: not worth a report.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => fail(1, &format!("cannot write to stdout: {e}")),
        };
    }
    if let Some(path) = &cli.log
        && let Err(why) = flightdeck::debug_log::open(path)
    {
        return fail(2, &why);
    }
    // `init` writes the config: it does not read one.
    if let Some(flightdeck::cli::Command::Init(args)) = &cli.command {
        return match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => ExitCode::from(rt.block_on(flightdeck::cli::init::run(
                args,
                &cli.clusters,
                cli.config.clone(),
                flightdeck::runtime::runner::CALL_TIMEOUT,
            ))),
            Err(e) => fail(1, &format!("cannot start the async runtime: {e}")),
        };
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start the async runtime: {e}")),
    };
    let config = if !cli.clusters.is_empty() && cli.config.is_none() && cli.demo.is_none() {
        // `--cluster NAME` without a config: what `init` would write.
        match rt.block_on(app::cluster_config(&cli.clusters)) {
            Ok(config) => Some(config),
            Err(e) => return fail(e.code, &e.message),
        }
    } else {
        match app::load_config(&cli) {
            Ok(config) => config,
            Err(e) => return fail(e.code, &e.message),
        }
    };
    if let Some(flightdeck::cli::Command::Team { action }) = &cli.command {
        return ExitCode::from(rt.block_on(flightdeck::cli::team_command(action, config.as_ref())));
    }
    let mut cli = cli;
    // The fleet overview is the first screen of a config with more than one
    // service when none is named.
    let fleet_first = cli.service.is_none();
    let mut rollback = false;
    let mut fleet = None;
    // A console on the overview whose release cannot be opened (discovery
    // or AWS refused) goes back to the overview on another, saying why.
    let names: Vec<String> = config
        .as_ref()
        .filter(|c| {
            use std::io::IsTerminal;
            c.services.len() > 1
                && cli.command.is_none()
                && cli.demo.is_none()
                && std::io::stdout().is_terminal()
        })
        .map(|c| c.services.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let mut failed: Vec<String> = Vec::new();
    let mut notice: Option<String> = None;
    let mut opened: Option<String> = None;
    // `:service NAME` (or Enter on the overview) ends a session asking for
    // another: loop.
    loop {
        let opening = Opening {
            fleet_first: (fleet_first && cli.service.is_none()) || notice.is_some(),
            rollback,
            notice: notice.take(),
        };
        match session(&cli, config.as_ref(), &rt, opening, &mut fleet) {
            Ok(Next::Exit(code)) => return code,
            Ok(Next::Switch(switch)) => {
                opened = cli.service.clone().or_else(|| names.first().cloned());
                cli.service = Some(switch.service);
                rollback = switch.rollback;
                failed.clear();
            }
            Err(code) => {
                let name = cli
                    .service
                    .clone()
                    .or_else(|| names.first().cloned())
                    .unwrap_or_default();
                failed.push(name.clone());
                // The release open before, else any other not yet tried.
                let next = opened
                    .clone()
                    .filter(|o| !failed.contains(o))
                    .or_else(|| names.iter().find(|n| !failed.contains(n)).cloned());
                let Some(next) = next.filter(|_| !names.is_empty()) else {
                    return code;
                };
                notice = Some(format!(
                    "cannot open {name}: {}",
                    last_failure().unwrap_or_else(|| "see the message printed on exit".into())
                ));
                cli.service = Some(next);
                rollback = false;
            }
        }
    }
}

/// The last message `fail` printed.
static LAST_FAILURE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn last_failure() -> Option<String> {
    LAST_FAILURE.lock().ok().and_then(|m| m.clone())
}

/// How a session ended.
enum Next {
    Exit(ExitCode),
    Switch(runtime::Switch),
}

/// How a console session opens: on the fleet overview, or with the
/// rollback dialog (after `R` on the overview).
struct Opening {
    fleet_first: bool,
    rollback: bool,
    /// Why the release asked for could not be opened (shown in the status).
    notice: Option<String>,
}

/// What a session (the console or a command) runs on.
struct Prepared {
    notify: Option<flightdeck::notify::Settings>,
    model: flightdeck::core::model::Model,
    sources: flightdeck::sources::Sources,
    operator: String,
    journal: Journal,
    journal_path: Option<std::path::PathBuf>,
    intervals: flightdeck::runtime::pollers::Intervals,
}

/// One session of the console on one service, or one command.
fn session(
    cli: &Cli,
    config: Option<&flightdeck::config::Config>,
    rt: &tokio::runtime::Runtime,
    opening: Opening,
    fleet: &mut Option<std::sync::Arc<dyn flightdeck::sources::Releases>>,
) -> Result<Next, ExitCode> {
    let mut p = prepare(cli, config, rt)?;
    if let Some(command) = cli.command.clone() {
        let parts = flightdeck::cli::Headless {
            model: p.model,
            sources: p.sources,
            journal: p.journal,
            operator: p.operator,
            intervals: p.intervals,
            service_given: cli.service.is_some(),
            notify: p.notify,
        };
        let code = rt.block_on(flightdeck::cli::run(command, parts));
        return Ok(Next::Exit(ExitCode::from(code)));
    }
    // Usage and config errors first (exit 2); then whether this terminal
    // can show the console at all.
    can_draw().map_err(|why| fail(1, &why))?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    // The fleet overview: consoles of a config with several services (not
    // the demo, not a command).
    // Made once and kept across sessions: what discovery found stays found.
    if fleet.is_none()
        && let (Some(config), Some(journal), None) = (config, &p.journal_path, &cli.demo)
    {
        *fleet = rt.block_on(app::releases_source(
            config,
            journal,
            &journal.with_file_name("leases"),
            std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)),
        ));
    }
    let releases = fleet.clone();
    if releases.is_some() {
        p.model.releases = Some(flightdeck::core::releases::ReleasesView {
            shown: opening.fleet_first,
            selected: Some(p.model.service.name.clone()),
            ..Default::default()
        });
    }
    p.model.rollback_when_read = opening.rollback;
    if opening.rollback {
        p.model.set_status(
            flightdeck::core::model::Level::Warn,
            "reading AWS: the rollback dialog opens once the weights and ECS are read (any key cancels)",
        );
    }
    if let Some(notice) = opening.notice {
        p.model
            .set_status(flightdeck::core::model::Level::Error, notice);
    }
    let session = Session {
        releases,
        model: p.model,
        sources: p.sources,
        themes: Themes::load(no_color),
        journal: p.journal,
        operator: p.operator,
        intervals: p.intervals,
        notify: p.notify,
    };
    match rt.block_on(runtime::run(session)) {
        Ok((_, Some(next))) => Ok(Next::Switch(next)),
        Ok((code, None)) => Ok(Next::Exit(ExitCode::from(code))),
        Err(e) => {
            eprintln!("flightdeck: {e:?}");
            Ok(Next::Exit(ExitCode::FAILURE))
        }
    }
}

/// The model, sources and journal of a session.
fn prepare(
    cli: &Cli,
    config: Option<&flightdeck::config::Config>,
    rt: &tokio::runtime::Runtime,
) -> Result<Prepared, ExitCode> {
    let started = match (&cli.demo, config) {
        (Some(_), _) => app::demo_session(cli, config).map(|(m, s)| (m, s, app::operator())),
        (None, Some(config)) => rt.block_on(app::live_session(cli, config)),
        (None, None) => {
            return Err(fail(
                2,
                &format!(
                    "no config found (looked at {}): pass --config PATH (see config.example.toml), or run `flightdeck --demo`",
                    flightdeck::config::default_path()
                        .map_or("the default path".into(), |p| p.display().to_string())
                ),
            ));
        }
    };
    let (mut model, sources, operator) = started.map_err(|e| fail(e.code, &e.message))?;
    if let Some(lines) = config.and_then(|c| c.file.logs.max_lines) {
        model.logs.set_capacity(lines);
    }
    let journal_path = cli
        .journal
        .clone()
        // The demo never writes to the real journal of the config.
        .or_else(|| {
            config
                .filter(|_| cli.demo.is_none())
                .and_then(|c| c.file.journal.path.clone())
        })
        .or_else(|| journal::default_path(cli.demo.is_some()));
    let Some(journal_path) = journal_path else {
        return Err(fail(
            2,
            "no home directory for the journal: pass --journal PATH",
        ));
    };
    // What an earlier session left: the release baseline, and changes it
    // started and never ended.
    // Read by the service's AWS identity, never by its config name.
    let back = journal::read_back(&journal_path, &model.service.identity());
    model.baseline = back.baseline;
    model.unfinished = back.unfinished;
    // A pause (from the console or `flightdeck pause`) outlives the process.
    model.plan_state.paused = back.paused.unwrap_or(false);
    if back.truncated {
        let now = model.now;
        model.push_journal(
            now,
            flightdeck::core::model::JournalKind::Error,
            format!(
                "journal {} is long: only its last {} MiB were read at start (move it aside to start a new one)",
                journal_path.display(),
                journal::READ_BACK_BYTES / (1024 * 1024)
            ),
        );
    }
    model.ascii = cli.ascii || flightdeck::ui::text::locale_is_not_utf8(|k| std::env::var(k).ok());
    let journal = Journal::open(&journal_path).map_err(|e| fail(1, &e.to_string()))?;
    // One change per service across every process: the lease lives beside
    // the journal, keyed by the service's AWS identity.
    let mut sources = sources;
    // With [team], the team table's lease (set by live_session).
    if let Some(dir) = journal_path.parent().filter(|_| sources.team.is_none()) {
        sources.lease = std::sync::Arc::new(flightdeck::sources::lease::LocalLease::new(
            &dir.join("leases"),
            &model.service.identity(),
        ));
    }
    let (notify, notes) = app::notify_settings(cli, config, &model, &journal_path);
    for note in notes {
        let now = model.now;
        model.push_journal(now, flightdeck::core::model::JournalKind::Error, note);
    }
    Ok(Prepared {
        notify,
        model,
        sources,
        operator,
        journal,
        journal_path: Some(journal_path),
        intervals: app::intervals(config, cli.demo.is_some()),
    })
}

/// The console needs a terminal that can draw it: say plainly why not.
fn can_draw() -> Result<(), String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(
            "the console needs a terminal: stdin and stdout must be a tty (run it in a terminal, or over ssh -t)".into(),
        );
    }
    match std::env::var("TERM").as_deref() {
        Ok("dumb") | Ok("") | Err(_) => Err(
            "TERM is dumb or unset: this terminal cannot draw the console (set TERM, e.g. TERM=xterm-256color)".into(),
        ),
        Ok(_) => Ok(()),
    }
}

fn fail(code: i32, message: &str) -> ExitCode {
    eprintln!("flightdeck: {message}");
    if let Ok(mut last) = LAST_FAILURE.lock() {
        *last = Some(message.to_string());
    }
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
