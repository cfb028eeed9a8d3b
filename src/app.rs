//! Putting a session together: the command line, the config, the demo's
//! service, and the model they make. `main` only reports and exits.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Parser;

use crate::config::theme::Theme;
use crate::config::{self, Config};
use crate::core::action::Keymap;
use crate::core::analysis::AnalysisSettings;
use crate::core::model::{DemoInfo, Model, ModelInit, ServiceMeta, Time};
use crate::core::plan::Plan;
use crate::core::policy::ChangeWindow;
use crate::sources::demo::{self, SimClock, scenario, world};
use crate::sources::{Clock, Sources};

/// flightdeck — a terminal release console: CI run, canary traffic and
/// metrics, ECS tasks, logs and a journal on one screen; advance, approve,
/// pause or roll back with a keystroke.
#[derive(Debug, Parser)]
#[command(name = "flightdeck", version, about, long_about = None)]
pub struct Cli {
    /// Config file [default: ~/.config/flightdeck/config.toml]
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
    /// Without a config: open the fleet overview of this cluster's
    /// stable/canary pairs (repeat for more); with `init`: the clusters to
    /// list [default: every cluster of the region]
    #[arg(long = "cluster", value_name = "NAME", global = true)]
    pub clusters: Vec<String>,
    /// The [[service]] to watch [default: the first]
    #[arg(long, value_name = "NAME", global = true)]
    pub service: Option<String>,
    /// Watch only: every change is refused
    #[arg(long, global = true)]
    pub read_only: bool,
    /// Run on a built-in simulated release: no network, no credentials.
    /// Scenarios: good (default), bad-canary, no-data
    #[arg(long, value_name = "SCENARIO", num_args = 0..=1, require_equals = true, default_missing_value = "good", global = true)]
    pub demo: Option<String>,
    /// With --demo: start the simulated clock on a Sunday, outside the
    /// change window, to see automation hold (it starts inside otherwise)
    #[arg(long, global = true)]
    pub demo_outside_window: bool,
    /// How many times faster than real time the demo runs
    #[arg(long, value_name = "N", default_value_t = demo::DEFAULT_SPEED, value_parser = clap::value_parser!(u32).range(1..=600), global = true)]
    pub demo_speed: u32,
    /// Draw with ASCII only (also when the locale is not UTF-8, e.g. LANG=C)
    #[arg(long, global = true)]
    pub ascii: bool,
    /// Journal file [default: ~/.local/state/flightdeck/journal.jsonl, or
    /// demo-journal.jsonl beside it with --demo]
    #[arg(long, value_name = "PATH", global = true)]
    pub journal: Option<PathBuf>,
    /// Append long diagnostics (an SDK error's whole chain of causes) to
    /// this file; messages elsewhere stay one line
    #[arg(long, value_name = "FILE", global = true)]
    pub log: Option<PathBuf>,
    /// With --demo: send notifications to the [notify] targets too (the
    /// demo and --read-only send none otherwise)
    #[arg(long, global = true)]
    pub notify: bool,
    /// A scriptable command instead of the console (exit codes: 0 ok,
    /// 1 error, 2 usage/config, 3 refused, 4 timeout, 5 condition failed)
    #[command(subcommand)]
    pub command: Option<crate::cli::Command>,
}

/// Why a session cannot start; `code` is the exit code.
#[derive(Debug)]
pub struct StartError {
    pub code: i32,
    pub message: String,
}

impl StartError {
    fn usage(message: impl Into<String>) -> StartError {
        StartError {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<config::ConfigError> for StartError {
    fn from(e: config::ConfigError) -> Self {
        StartError::usage(e.to_string())
    }
}

/// The config named on the command line, else the default one if it exists.
pub fn load_config(cli: &Cli) -> Result<Option<Config>, StartError> {
    if let Some(path) = &cli.config {
        return Ok(Some(config::load(path)?));
    }
    match config::default_path() {
        Some(path) if path.exists() => Ok(Some(config::load(&path)?)),
        _ => Ok(None),
    }
}

/// The config `flightdeck init --cluster …` would write, in memory: the
/// clusters' stable/canary pairs by name (the ARNs found at start).
pub async fn cluster_config(clusters: &[String]) -> Result<Config, StartError> {
    let args = crate::cli::init::InitArgs {
        profile: None,
        region: None,
        canary_suffix: config::DEFAULT_CANARY_SUFFIX.into(),
        dry_run: true,
        force: false,
    };
    let (text, working, _) =
        crate::cli::init::generate(&args, clusters, crate::runtime::runner::CALL_TIMEOUT)
            .await
            .map_err(|e| StartError {
                code: 1,
                message: format!("--cluster {}: {e}", clusters.join(" ")),
            })?;
    if working == 0 {
        return Err(StartError {
            code: 1,
            message: format!(
                "--cluster {}: no stable/canary pair (NAME and NAME-canary behind one weighted rule) found; `flightdeck init --cluster {} --dry-run` says why",
                clusters.join(" "),
                clusters.join(" --cluster ")
            ),
        });
    }
    Ok(config::parse(Path::new("(--cluster)"), &text)?)
}

/// The service the demo plays, named as in the seed.
pub fn demo_service() -> ServiceMeta {
    ServiceMeta {
        name: "auth-service".into(),
        environment: "production".into(),
        protected: true,
        cluster: world::CLUSTER.into(),
        stable_service: world::STABLE_SERVICE.into(),
        canary_service: Some(world::CANARY_SERVICE.into()),
        listener_rule: world::LISTENER_RULE.into(),
        account: world::ACCOUNT.into(),
        region: world::REGION.into(),
        change_window: ChangeWindow::parse("Tue-Thu 10:00-16:00 UTC").ok(),
    }
}

/// The demo's analysis: the defaults, with automatic progression on.
pub fn demo_analysis() -> AnalysisSettings {
    AnalysisSettings {
        auto_advance: true,
        ..AnalysisSettings::default()
    }
}

/// A demo model at `now`, for the binary, the snapshots and the bench.
pub fn demo_model(
    scenario: &str,
    speed: u32,
    read_only: bool,
    keymap: Keymap,
    theme: &str,
    now: Time,
) -> Model {
    Model::new(ModelInit {
        service: demo_service(),
        read_only,
        demo: Some(DemoInfo {
            scenario: scenario.into(),
            speed,
        }),
        keymap,
        plan: Plan::default(),
        analysis: demo_analysis(),
        theme: theme.into(),
        themes: Theme::names(),
        services: vec!["auth-service".into()],
        now,
        session: session_id(now),
        baseline: None,
        unfinished: Vec::new(),
    })
}

/// The prefix of this process's change ids: unique across processes and
/// machines (two CLI rollbacks started in the same second once shared one,
/// and the second's notifications were dropped as repeats): the start
/// time, the process id and 48 random bits.
pub fn session_id(now: Time) -> String {
    format!(
        "{}-{}-{:012x}",
        now.timestamp(),
        std::process::id(),
        fastrand::u64(..1 << 48)
    )
}

/// Where the demo's simulated clock starts: now when the seed's change
/// window is open, else the latest Tuesday 10:30 UTC, so that every
/// scenario does what the README says when left alone; with `outside`, the
/// latest Sunday 12:00 UTC (automation holds on the window).
pub fn demo_start(now: Time, outside: bool) -> Time {
    use chrono::{Datelike, Timelike};
    let window = demo_service().change_window;
    let open = window.as_ref().is_none_or(|w| w.is_open(now));
    let (day, hour, minute) = match (outside, open) {
        (false, true) => return now,
        (false, false) => (chrono::Weekday::Tue, 10, 30),
        (true, _) => (chrono::Weekday::Sun, 12, 0),
    };
    let back = (7 + now.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
    let date = now - chrono::Duration::days(i64::from(back));
    date.with_hour(hour)
        .and_then(|t| t.with_minute(minute))
        .and_then(|t| t.with_second(0))
        .unwrap_or(now)
}

/// Everything a demo session needs.
pub fn demo_session(cli: &Cli, config: Option<&Config>) -> Result<(Model, Sources), StartError> {
    let name = cli.demo.as_deref().unwrap_or("good");
    let scenario = scenario::by_name(name).ok_or_else(|| {
        StartError::usage(format!(
            "unknown demo scenario `{name}`: expected one of {}",
            scenario::names().join(", ")
        ))
    })?;
    if let Some(service) = &cli.service
        && service != "auth-service"
    {
        return Err(StartError::usage(format!(
            "--service {service}: the demo plays auth-service only"
        )));
    }
    let start = demo_start(chrono::Utc::now(), cli.demo_outside_window);
    let clock: Arc<dyn Clock> = Arc::new(SimClock::new(start, cli.demo_speed));
    let sources = demo::sources(scenario, clock.clone(), 42);
    let keymap = config.map(|c| c.keymap.clone()).unwrap_or_default();
    let theme = config.and_then(Config::theme).unwrap_or("default");
    let model = demo_model(
        scenario.name,
        cli.demo_speed,
        cli.read_only,
        keymap,
        theme,
        clock.now(),
    );
    Ok((model, sources))
}

/// Who is at the keyboard, for the journal.
pub fn operator() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Poll intervals and the call timeout: the demo's, with `[poll]` over them.
/// `demo` picks the simulator's fast defaults, else the live ones that
/// config.example.toml documents.
pub fn intervals(config: Option<&Config>, demo: bool) -> crate::runtime::pollers::Intervals {
    let mut every = if demo {
        crate::runtime::pollers::Intervals::DEMO
    } else {
        crate::runtime::pollers::Intervals::LIVE
    };
    if let Some(poll) = config.map(|c| &c.file.poll) {
        let set = |slot: &mut std::time::Duration, value: &Option<config::PollDur>| {
            if let Some(d) = value {
                *slot = d.0;
            }
        };
        set(&mut every.pipeline, &poll.pipeline);
        set(&mut every.fleet, &poll.fleet);
        set(&mut every.traffic, &poll.traffic);
        set(&mut every.metrics, &poll.metrics);
        set(&mut every.logs, &poll.logs);
        set(&mut every.call_timeout, &poll.call_timeout);
    }
    every
}

/// A source that cannot be read (not configured, no token): every read
/// says why (the pane shows it), nothing can be changed through it, and
/// the rest of the console works — a rollback never waits on it.
pub struct Unreadable(pub crate::core::model::SourceError);

impl Unreadable {
    /// A source this config does not connect.
    pub fn not_connected(what: &str) -> Unreadable {
        Unreadable(
            crate::core::model::SourceError::of_kind(
                crate::core::model::ErrorKind::NotConfigured,
                format!("{what}: not configured"),
            )
            .with_hint("configure it (see config.example.toml); --demo shows the pane"),
        )
    }
}

#[async_trait::async_trait]
impl crate::sources::Pipeline for Unreadable {
    async fn latest_run(
        &self,
    ) -> Result<crate::core::model::PipelineRun, crate::core::model::SourceError> {
        Err(self.0.clone())
    }
    async fn review(
        &self,
        _run_id: u64,
        _environment: &str,
        _environment_ids: &[u64],
        _approve: bool,
        _comment: &str,
    ) -> Result<crate::core::model::RequestId, crate::core::model::SourceError> {
        Err(self.0.clone())
    }
}

/// The `[github]` pipeline, or why it cannot be read.
fn pipeline_source(
    config: &Config,
    service: &config::ServiceConfig,
    timeout: std::time::Duration,
    calls: &Arc<std::sync::atomic::AtomicU64>,
) -> Arc<dyn crate::sources::Pipeline> {
    use crate::core::model::{ErrorKind, SourceError};
    use crate::sources::github::{GitHub, Settings, Token};
    let Some(g) = &config.file.github else {
        return Arc::new(Unreadable::not_connected(
            "GitHub pipeline (no [github] in the config)",
        ));
    };
    let own = |field: fn(&config::ServiceGithubSection) -> Option<&String>| {
        service.github.as_ref().and_then(field).cloned()
    };
    let token = match Token::discover() {
        Ok(t) => t,
        Err(why) => return Arc::new(Unreadable(SourceError::of_kind(ErrorKind::Auth, why))),
    };
    let settings = Settings {
        api_url: g.api_url.clone(),
        // The service's own repo and workflow, over [github].
        repo: own(|o| o.repo.as_ref()).unwrap_or_else(|| g.repo.clone()),
        workflow: own(|o| o.workflow.as_ref()).unwrap_or_else(|| g.workflow.clone()),
        branch: g.branch.clone(),
        targets: g
            .stage_targets
            .iter()
            .map(|(name, d)| (name.clone(), d.0))
            .collect(),
    };
    match GitHub::new(settings, token, timeout) {
        Ok(github) => Arc::new(github.with_counter(calls.clone())),
        Err(e) => Arc::new(Unreadable(e)),
    }
}

#[async_trait::async_trait]
impl crate::sources::Logs for Unreadable {
    async fn read(
        &self,
        _cursor: crate::sources::LogCursor,
    ) -> Result<
        (Vec<crate::core::model::LogLine>, crate::sources::LogCursor),
        crate::core::model::SourceError,
    > {
        Err(self.0.clone())
    }
}

#[async_trait::async_trait]
impl crate::sources::Metrics for Unreadable {
    async fn points(
        &self,
        _from: Time,
        _to: Time,
    ) -> Result<Vec<crate::core::model::MetricPoint>, crate::core::model::SourceError> {
        Err(self.0.clone())
    }
}

/// The notification settings of `[notify]`, and what to tell the operator
/// about them (a target enabled with nothing to send to). None when
/// nothing is to be sent: no `[notify]`, read-only, or the demo without
/// `--notify`.
pub fn notify_settings(
    cli: &Cli,
    config: Option<&Config>,
    model: &Model,
    journal: &std::path::Path,
) -> (Option<crate::notify::Settings>, Vec<String>) {
    use crate::config::NotifyLevel;
    use crate::notify::{Level, Settings};
    let mut notes = Vec::new();
    let Some(section) = config.and_then(|c| c.file.notify.as_ref()) else {
        return (None, notes);
    };
    if model.read_only || (cli.demo.is_some() && !cli.notify) {
        return (None, notes);
    }
    let env = section
        .slack_webhook_env
        .clone()
        .unwrap_or_else(|| "FLIGHTDECK_SLACK_WEBHOOK".into());
    let slack_webhook = if section.slack {
        match std::env::var(&env).ok().filter(|v| !v.trim().is_empty()) {
            Some(url) => {
                crate::secrets::register_url(url.trim());
                Some(url.trim().to_string())
            }
            None => {
                notes.push(format!(
                    "notify: slack = true but {env} is not set: Slack notifications are off"
                ));
                None
            }
        }
    } else {
        None
    };
    let datadog = if section.datadog_events {
        match std::env::var("DD_API_KEY")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            Some(key) => {
                crate::secrets::register(&key);
                let api_url = config
                    .and_then(|c| c.file.metrics.as_ref())
                    .filter(|m| m.provider == crate::config::MetricsProvider::Datadog)
                    .and_then(|m| m.api_url.as_deref());
                Some((
                    crate::sources::metrics::datadog::base_url(api_url),
                    key.trim().to_string(),
                ))
            }
            None => {
                notes.push(
                    "notify: datadog_events = true but DD_API_KEY is not set: Datadog events are off"
                        .into(),
                );
                None
            }
        }
    } else {
        None
    };
    if slack_webhook.is_none() && datadog.is_none() {
        return (None, notes);
    }
    let mut state_file = journal.as_os_str().to_owned();
    state_file.push(".notified");
    let settings = Settings {
        slack_webhook,
        datadog,
        min_level: match section.min_level {
            None | Some(NotifyLevel::Info) => Level::Info,
            Some(NotifyLevel::Warning) => Level::Warning,
            Some(NotifyLevel::Error) => Level::Error,
        },
        service: model.service.name.clone(),
        environment: model.service.environment.clone(),
        version: model
            .baseline
            .as_ref()
            .map_or("unknown".into(), |b| b.release_task_definition.clone()),
        state_file: state_file.into(),
        retry_wait: std::time::Duration::from_millis(500),
    };
    (Some(settings), notes)
}

/// The `[metrics]` provider for a service, or why it cannot be used. No
/// `[metrics]` section: the pane says metrics are not configured.
fn metrics_source(
    config: &Config,
    service: &config::ServiceConfig,
    found: &crate::sources::aws::discover::Resolved,
    sdk: &aws_config::SdkConfig,
    timeout: std::time::Duration,
    calls: &Arc<std::sync::atomic::AtomicU64>,
) -> Result<Arc<dyn crate::sources::Metrics>, String> {
    use crate::config::MetricsProvider;
    use crate::sources::metrics::{datadog, prometheus};
    let Some(section) = &config.file.metrics else {
        return Ok(Arc::new(Unreadable::not_connected(
            "metrics (no [metrics] provider in the config)",
        )));
    };
    let where_ = |e: String| format!("{}: [metrics]: {e}", config.path.display());
    let queries = || {
        service.queries.clone().ok_or_else(|| {
            where_(format!(
                "service `{}` has no error_rate_query / p95_query",
                service.name
            ))
        })
    };
    Ok(match section.provider {
        MetricsProvider::Cloudwatch => Arc::new(
            crate::sources::aws::cloudwatch::CloudWatchMetrics::new(
                sdk,
                &found.listener,
                &found.stable_target_group_arn,
                found.canary_target_group_arn.as_deref(),
            )
            .map_err(where_)?
            .with_counter(calls.clone()),
        ),
        MetricsProvider::Datadog => {
            let keys = datadog::Keys::from_env().map_err(where_)?;
            let base = datadog::base_url(section.api_url.as_deref());
            Arc::new(
                datadog::Datadog::new(base, keys, queries()?, timeout)
                    .map_err(|e| where_(e.to_string()))?
                    .with_counter(calls.clone()),
            )
        }
        MetricsProvider::Prometheus => {
            let base = section.api_url.as_deref().ok_or_else(|| {
                where_(
                    "provider = \"prometheus\" needs api_url, e.g. \"http://prometheus:9090\""
                        .into(),
                )
            })?;
            Arc::new(
                prometheus::Prometheus::new(base, queries()?, timeout)
                    .map_err(|e| where_(e.to_string()))?
                    .with_counter(calls.clone()),
            )
        }
    })
}

/// What `[aws]` says.
pub fn aws_settings(config: &Config) -> crate::sources::aws::AwsSettings {
    let aws = config.file.aws.as_ref();
    crate::sources::aws::AwsSettings {
        region: aws.and_then(|a| a.region.clone()),
        profile: aws.and_then(|a| a.profile.clone()),
        endpoint_url: aws.and_then(|a| a.endpoint_url.clone()),
    }
}

/// The SDK config for one service: its `region` and `profile` over
/// `[aws]`, and with `account` the role it names, assumed (STS AssumeRole,
/// refreshed by the SDK before it expires) from the credentials found.
pub async fn service_sdk(
    config: &Config,
    service: &config::ServiceConfig,
    timeout: std::time::Duration,
) -> aws_config::SdkConfig {
    let mut settings = aws_settings(config);
    if let Some(region) = &service.region {
        settings.region = Some(region.clone());
    }
    if let Some(profile) = &service.profile {
        settings.profile = Some(profile.clone());
    }
    match &service.role_arn {
        None => crate::sources::aws::sdk_config(&settings, timeout).await,
        Some(role) => crate::sources::aws::assume_role(&settings, timeout, role, &operator()).await,
    }
}

/// The fleet overview's source, for a config with more than one service:
/// each service with its own SDK config; verdicts, changes and pauses from
/// `journal`, lease holders from the lease files in `leases`.
pub async fn releases_source(
    config: &Config,
    journal: &std::path::Path,
    leases: &std::path::Path,
    calls: Arc<std::sync::atomic::AtomicU64>,
) -> Option<Arc<dyn crate::sources::Releases>> {
    use crate::sources::aws::overview::{AwsReleases, Entry};
    if config.services.len() < 2 {
        return None;
    }
    let timeout = intervals(Some(config), false).call_timeout;
    let mut entries = Vec::with_capacity(config.services.len());
    for service in &config.services {
        entries.push(Entry {
            sdk: service_sdk(config, service, timeout).await,
            service: service.clone(),
        });
    }
    let mut releases = AwsReleases::new(entries, calls.clone())
        .with_journal(journal.to_path_buf(), leases.to_path_buf());
    // Approvals of the releases with a pipeline of their own: a
    // `[service.github]`, or the only service on [github]'s workflow.
    if config.file.github.is_some() {
        let key = |s: &config::ServiceConfig| {
            s.github
                .as_ref()
                .map(|g| (g.repo.clone(), g.workflow.clone()))
                .unwrap_or_default()
        };
        let mut made: std::collections::HashMap<_, Arc<dyn crate::sources::Pipeline>> =
            std::collections::HashMap::new();
        let pipelines = config
            .services
            .iter()
            .map(|s| {
                let k = key(s);
                let shared = config.services.iter().filter(|o| key(o) == k).count() > 1;
                if s.github.is_none() && shared {
                    return None;
                }
                Some(
                    made.entry(k)
                        .or_insert_with(|| pipeline_source(config, s, timeout, &calls))
                        .clone(),
                )
            })
            .collect();
        releases = releases.with_approvals(crate::sources::approvals::Approvals::new(
            pipelines,
            std::time::Duration::from_secs(60),
        ));
    }
    if let Some(team) = &config.file.team {
        let base = crate::sources::aws::sdk_config(&aws_settings(config), timeout).await;
        releases = releases.with_team(
            crate::sources::team::sdk_for(&base, team),
            team.table.clone(),
        );
    }
    Some(Arc::new(releases))
}

/// A live session on AWS for the config's service: ECS and the ALB through
/// the SDK, the caller's identity from STS. Returns the model, the sources
/// and the operator for the journal (caller ARN, with $USER beside it).
pub async fn live_session(
    cli: &Cli,
    config: &Config,
) -> Result<(Model, Sources, String), StartError> {
    let service = config.service(cli.service.as_deref())?.clone();
    let every = intervals(Some(config), false);
    let sdk = service_sdk(config, &service, every.call_timeout).await;
    // A throttled or unreachable STS is retried briefly, then the account
    // comes from the configured ARNs: it never blocks the console (nor so a
    // rollback). Missing or expired credentials stop here, with what to do.
    use crate::core::model::ErrorKind;
    let (account, caller) = match crate::sources::aws::identity(&sdk).await {
        Ok(found) => found,
        Err(e)
            if matches!(
                e.kind,
                ErrorKind::Timeout | ErrorKind::Throttled { .. } | ErrorKind::Unavailable
            ) =>
        {
            let account = service
                .role_arn
                .iter()
                .chain(
                    service
                        .listener
                        .as_ref()
                        .map(|l| l.arn().to_string())
                        .iter(),
                )
                .chain(service.stable_target_group_arn.iter())
                .find_map(|arn| crate::sources::aws::account_from_arn(arn))
                .unwrap_or_else(|| "unknown".into());
            (account, format!("unknown (STS: {})", e.message))
        }
        Err(e) => {
            return Err(StartError {
                code: 1,
                message: e.to_string(),
            });
        }
    };
    let region = sdk
        .region()
        .map_or("unknown".to_string(), |r| r.to_string());
    // The ARNs the config leaves out, from the services (see discover).
    let found = crate::sources::aws::discover::resolve(&sdk, &(&service).into())
        .await
        .map_err(|e| StartError {
            code: 1,
            message: format!("{}: service `{}`: {e}", config.path.display(), service.name),
        })?;
    for line in &found.found {
        crate::debug_log::write("discovered", line);
    }
    let calls = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let fleet = Arc::new(
        crate::sources::aws::ecs::AwsFleet::new(
            &sdk,
            service.cluster.clone(),
            service.stable_service.clone(),
            found.canary_service.clone(),
            found.stable_target_group_arn.clone(),
            found.canary_target_group_arn.clone(),
        )
        .with_counter(calls.clone()),
    );
    let traffic = Arc::new(
        crate::sources::aws::elb::AwsTraffic::new(
            &sdk,
            found.listener.clone(),
            found.stable_target_group_arn.clone(),
            found.canary_target_group_arn.clone(),
        )
        .with_counter(calls.clone()),
    );
    let metrics = metrics_source(config, &service, &found, &sdk, every.call_timeout, &calls)
        .map_err(StartError::usage)?;
    let clock: Arc<dyn Clock> = Arc::new(crate::sources::SystemClock);
    // ECS moves the traffic of a native service: its deployment is read
    // and steered through the ECS API.
    let native: Option<Arc<dyn crate::sources::Native>> = found.native.then(|| {
        let mut native = crate::sources::aws::native::AwsNative::new(
            &sdk,
            service.cluster.clone(),
            service.stable_service.clone(),
        );
        native.calls = calls.clone();
        Arc::new(native) as Arc<dyn crate::sources::Native>
    });
    let mut sources = Sources {
        pipeline: pipeline_source(config, &service, every.call_timeout, &calls),
        fleet,
        traffic,
        logs: match &found.log_group {
            Some(group) => Arc::new(
                crate::sources::aws::logs::AwsLogs::new(&sdk, group.clone())
                    .with_counter(calls.clone()),
            ),
            None => Arc::new(Unreadable::not_connected(
                "logs (no log_group for this service, and its task definition has no awslogs group)",
            )),
        },
        metrics,
        clock: clock.clone(),
        // The binary puts the state directory's lease here (it knows where
        // the journal is); one process's lease until then.
        lease: Arc::new(crate::sources::lease::MemoryLease::default()),
        team: None,
        calls: Some(calls),
        native,
    };
    let now = clock.now();
    let meta = ServiceMeta {
        name: service.name.clone(),
        environment: service.environment.clone(),
        protected: service.protected,
        cluster: service.cluster.clone(),
        stable_service: service.stable_service.clone(),
        canary_service: found.canary_service.clone(),
        listener_rule: found.listener.arn().to_string(),
        account,
        region,
        change_window: service.change_window,
    };
    // The team state: the shared lease and journal on the team's table.
    let own_aws =
        service.role_arn.is_some() || service.region.is_some() || service.profile.is_some();
    let base_sdk = if own_aws && config.file.team.is_some() {
        crate::sources::aws::sdk_config(&aws_settings(config), every.call_timeout).await
    } else {
        sdk.clone()
    };
    let team = config.file.team.as_ref().map(|t| {
        // The team's table is where [aws] (and [team]) say, whatever
        // account this service is in.
        let sdk = crate::sources::team::sdk_for(&base_sdk, t);
        // A holder in its slowest call is not taken for dead.
        let expiry = crate::sources::team::EXPIRY
            .max(every.call_timeout + std::time::Duration::from_secs(15));
        Arc::new(
            crate::sources::team::Team::new(&sdk, &t.table, &meta.identity(), clock.clone())
                .with_expiry(expiry)
                .with_driver_expiry(
                    t.driver_expiry
                        .map_or(crate::sources::team::EXPIRY, |d| d.0),
                ),
        )
    });
    let team_view = team.as_ref().map(|t| crate::core::model::TeamView {
        table: t.table().to_string(),
        process: t.process().to_string(),
        ..Default::default()
    });
    if let Some(team) = &team {
        sources.lease = team.clone();
    }
    sources.team = team;
    let mut model = Model::new(ModelInit {
        service: meta,
        read_only: cli.read_only,
        demo: None,
        keymap: config.keymap.clone(),
        plan: service.plan.clone(),
        analysis: service.analysis.clone(),
        theme: config.theme().unwrap_or("default").into(),
        themes: Theme::names(),
        services: config.services.iter().map(|s| s.name.clone()).collect(),
        now,
        session: session_id(now),
        baseline: None,
        unfinished: Vec::new(),
    });
    model.team = team_view;
    if found.native {
        model.native = Some(crate::core::model::Loadable::Loading);
    }
    Ok((model, sources, format!("{caller} ({})", operator())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_starts_inside_the_change_window_unless_asked_not_to() {
        use chrono::TimeZone;
        let window = super::demo_service().change_window;
        let Some(window) = window else {
            panic!("the demo has a window")
        };
        // Saturday night, Monday morning, Thursday evening: moved to a
        // Tuesday 10:30; inside: left as it is.
        for (d, h) in [(5, 23), (30, 8), (3, 17)] {
            let now = chrono::Utc
                .with_ymd_and_hms(2026, if d == 30 { 11 } else { 12 }, d, h, 0, 0)
                .single()
                .unwrap_or_default();
            let start = super::demo_start(now, false);
            assert!(window.is_open(start), "{now} → {start}");
            assert!(start <= now);
        }
        let inside = chrono::Utc
            .with_ymd_and_hms(2026, 12, 2, 11, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(super::demo_start(inside, false), inside);
        assert!(!window.is_open(super::demo_start(inside, true)));
    }

    #[test]
    fn change_ids_differ_between_processes_started_in_the_same_second() {
        // Seen: two CLI rollbacks started in the same second shared ids,
        // and the second's notifications were dropped as repeats.
        let now = chrono::Utc::now();
        let ids: std::collections::BTreeSet<String> =
            (0..1000).map(|_| super::session_id(now)).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter()
                .all(|id| id.starts_with(&now.timestamp().to_string()))
        );
    }
}
