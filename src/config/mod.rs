//! The config file: its TOML shape (DESIGN.md), loading it with errors that
//! name the file, line and key, and turning it into the core's settings.
//! Themes live in `theme.rs`.

pub mod theme;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use toml::Spanned;

use crate::core::action::{Action, Key, Keymap};
use crate::core::analysis::{AnalysisSettings, OnFailure};
use crate::core::plan::{Plan, Step};
use crate::core::policy::ChangeWindow;

/// A config error: where, which key, what is wrong and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "key `{}`: ", shown(key))?;
        }
        f.write_str(&shown(&self.message))
    }
}

impl std::error::Error for ConfigError {}

/// The longest message (or key) shown: values come from the file.
const MAX_SHOWN: usize = 400;

/// Text from the file as it may be shown: inert (no control bytes or bidi
/// overrides reach the terminal) and cut with a marker when long.
fn shown(text: &str) -> String {
    let safe = crate::text::inert(text);
    if safe.chars().count() <= MAX_SHOWN {
        return safe;
    }
    let cut: String = safe.chars().take(MAX_SHOWN).collect();
    format!("{cut}… (cut)")
}

/// The largest config file read.
const MAX_FILE: u64 = 1024 * 1024;

// ----- value types that check themselves while parsing ------------------------

/// A duration such as `30s`, `5m`, `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(Dur).map_err(|_| {
            de::Error::custom(format!(
                "`{text}` is not a duration: expected e.g. \"30s\", \"5m\", \"1h\""
            ))
        })
    }
}

/// A traffic weight in percent, 0 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percent(pub u8);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        u8::try_from(n)
            .ok()
            .filter(|w| *w <= 100)
            .map(Percent)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "weight {n} is out of range: expected a whole number from 0 to 100"
                ))
            })
    }
}

/// A probability strictly between 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence(pub f64);

impl<'de> Deserialize<'de> for Confidence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let c = f64::deserialize(d)?;
        if c > 0.0 && c < 1.0 {
            Ok(Confidence(c))
        } else {
            Err(de::Error::custom(format!(
                "{c} is out of range: expected a number between 0 and 1, e.g. 0.98"
            )))
        }
    }
}

/// A change window such as `Tue-Thu 10:00-16:00 UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(pub ChangeWindow);

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ChangeWindow::parse(&text)
            .map(Window)
            .map_err(de::Error::custom)
    }
}

/// The keys of one action in `[keys]`: one key or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyList(pub Vec<Key>);

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let raw = Raw::deserialize(d).map_err(|_| {
            de::Error::custom("expected a key (\"R\") or a list of keys ([\"R\", \"ctrl-r\"])")
        })?;
        let texts = match raw {
            Raw::One(t) => vec![t],
            Raw::Many(v) => v,
        };
        texts
            .iter()
            .map(|t| {
                Key::parse(t).ok_or_else(|| {
                    de::Error::custom(format!(
                        "`{t}` is not a key: expected one character, or ctrl-X, alt-X, enter, esc, tab, shift-tab, up, down, left, right, home, end, pgup, pgdn, space"
                    ))
                })
            })
            .collect::<Result<_, _>>()
            .map(KeyList)
    }
}

/// An action name in `[keys]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ActionName(pub Action);

impl<'de> Deserialize<'de> for ActionName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Action::from_name(&text).map(ActionName).ok_or_else(|| {
            let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
            de::Error::custom(format!(
                "unknown action `{text}`: expected one of {}",
                names.join(", ")
            ))
        })
    }
}

// ----- the file's shape --------------------------------------------------------

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AwsSection {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

/// `[team]`: shared state on a DynamoDB table (see README, Team state).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSection {
    /// The table (`flightdeck team create-table` makes it).
    pub table: String,
    /// Its region, when not the one of `[aws]`.
    pub region: Option<String>,
    /// Another endpoint for DynamoDB only (DynamoDB Local, a VPC endpoint),
    /// when not the one of `[aws]`.
    pub endpoint_url: Option<String>,
    /// How long a driver (`flightdeck drive`, a console that took over
    /// driving) that stops heart-beating keeps the driver's seat: 45s.
    pub driver_expiry: Option<PollDur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSection {
    pub repo: String,
    pub workflow: String,
    #[serde(default = "default_branch")]
    pub branch: String,
    pub api_url: Option<String>,
    /// Target duration per stage (job name), over the seed's defaults.
    #[serde(default)]
    pub stage_targets: BTreeMap<String, Dur>,
}

fn default_branch() -> String {
    "main".into()
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MetricsProvider {
    Datadog,
    Cloudwatch,
    Prometheus,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    pub provider: MetricsProvider,
    pub api_url: Option<String>,
    /// How late the provider reports a period; the default is the
    /// provider's usual lag (see `MetricsProvider::reporting_lag`).
    pub reporting_lag: Option<PollDur>,
}

impl MetricsProvider {
    /// How late a period usually shows up: ALB metrics in CloudWatch come
    /// a minute or two after the minute ends, Datadog's within a minute,
    /// Prometheus at its next scrape.
    pub fn reporting_lag(self) -> Duration {
        Duration::from_secs(match self {
            MetricsProvider::Cloudwatch => 180,
            MetricsProvider::Datadog => 60,
            MetricsProvider::Prometheus => 30,
        })
    }
}

impl MetricsProvider {
    pub fn name(self) -> &'static str {
        match self {
            MetricsProvider::Datadog => "datadog",
            MetricsProvider::Cloudwatch => "cloudwatch",
            MetricsProvider::Prometheus => "prometheus",
        }
    }
}

impl MetricsSection {
    pub fn reporting_lag(&self) -> Duration {
        self.reporting_lag
            .map_or(self.provider.reporting_lag(), |d| d.0)
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UiSection {
    pub theme: Option<String>,
}

/// How often each source is read, and how long one call may take.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PollSection {
    pub pipeline: Option<PollDur>,
    pub fleet: Option<PollDur>,
    pub traffic: Option<PollDur>,
    pub metrics: Option<PollDur>,
    pub logs: Option<PollDur>,
    pub call_timeout: Option<PollDur>,
}

/// A poll interval or call timeout: from 100 ms to 1 h.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollDur(pub Duration);

impl<'de> Deserialize<'de> for PollDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Dur(value) = Dur::deserialize(d)?;
        if value < Duration::from_millis(100) || value > Duration::from_secs(3600) {
            return Err(de::Error::custom(format!(
                "{} is out of range: expected from 100ms to 1h",
                humantime::format_duration(value)
            )));
        }
        Ok(PollDur(value))
    }
}

/// `[notify]`: Slack and Datadog events for the changes that matter.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NotifySection {
    #[serde(default)]
    pub slack: bool,
    /// The environment variable holding the webhook URL (never the URL).
    pub slack_webhook_env: Option<String>,
    #[serde(default)]
    pub datadog_events: bool,
    pub min_level: Option<NotifyLevel>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NotifyLevel {
    Info,
    Warning,
    Error,
}

/// `[logs]`: the Logs pane's buffer.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogsSection {
    /// Lines kept (the oldest go first); default 100,000, at least 1,000.
    pub max_lines: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct JournalSection {
    pub path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSection {
    pub weight: Percent,
    pub bake: Option<Spanned<Dur>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnFailureName {
    Rollback,
    Pause,
    Alert,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AnalysisSection {
    pub interval: Option<Spanned<Dur>>,
    pub lookback: Option<Spanned<Dur>>,
    pub max_error_rate_pct: Option<Spanned<f64>>,
    pub max_p95_ms: Option<Spanned<f64>>,
    pub min_requests: Option<Spanned<u64>>,
    pub confidence: Option<Confidence>,
    pub failures_before_action: Option<Spanned<u32>>,
    pub on_failure: Option<OnFailureName>,
    pub auto_advance: Option<bool>,
    pub error_rate_query: Option<Spanned<String>>,
    pub p95_query: Option<Spanned<String>>,
    pub requests_query: Option<Spanned<String>>,
}

/// How a release moves traffic.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseModel {
    TwoServices,
    EcsNative,
}

/// `[service.github]`: a service's own repository or workflow, over
/// `[github]` (which gives the rest: branch, api_url, stage_targets).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServiceGithubSection {
    pub repo: Option<String>,
    pub workflow: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSection {
    pub name: Spanned<String>,
    pub environment: String,
    #[serde(default)]
    pub protected: bool,
    pub change_window: Option<Window>,
    pub cluster: String,
    pub stable_service: String,
    pub canary_service: Option<String>,
    /// `two-services` (default: a stable and a canary service behind a
    /// weighted rule) or `ecs-native` (one service whose ECS deployment
    /// strategy moves the traffic).
    pub model: Option<ReleaseModel>,
    /// The canary service's name when `canary_service` is not set:
    /// `stable_service` + this (default `-canary`); discovery only.
    pub canary_suffix: Option<String>,
    pub listener_rule_arn: Option<String>,
    pub listener_arn: Option<String>,
    pub stable_target_group_arn: Option<String>,
    pub canary_target_group_arn: Option<String>,
    pub log_group: Option<String>,
    /// This service's AWS, over `[aws]`.
    pub region: Option<String>,
    pub profile: Option<String>,
    /// An IAM role ARN in the service's account, assumed for its calls.
    pub account: Option<Spanned<String>>,
    /// This service's pipeline, over `[github]`.
    pub github: Option<ServiceGithubSection>,
    pub steps: Option<Spanned<Vec<StepSection>>>,
    #[serde(default)]
    pub analysis: AnalysisSection,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub aws: Option<AwsSection>,
    pub github: Option<GithubSection>,
    pub metrics: Option<MetricsSection>,
    #[serde(default)]
    pub ui: UiSection,
    #[serde(default)]
    pub keys: BTreeMap<ActionName, KeyList>,
    #[serde(default)]
    pub journal: JournalSection,
    #[serde(default)]
    pub logs: LogsSection,
    pub notify: Option<NotifySection>,
    pub team: Option<TeamSection>,
    #[serde(default)]
    pub poll: PollSection,
    #[serde(default)]
    pub service: Vec<ServiceSection>,
}

// ----- the checked config ----------------------------------------------------

/// Where the weighted forward action lives: a listener rule (ModifyRule) or
/// a listener's default action (ModifyListener).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listener {
    Rule(String),
    Default(String),
}

impl Listener {
    pub fn arn(&self) -> &str {
        match self {
            Listener::Rule(arn) | Listener::Default(arn) => arn,
        }
    }
}

/// One `[[service]]`, checked and turned into the core's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    pub name: String,
    pub environment: String,
    pub protected: bool,
    pub change_window: Option<ChangeWindow>,
    pub cluster: String,
    pub stable_service: String,
    pub canary_service: Option<String>,
    /// `stable_service` + this names the canary service when
    /// `canary_service` is not set (discovery).
    pub canary_suffix: String,
    /// ECS moves the traffic (`model = "ecs-native"`).
    pub native: bool,
    /// The weighted forward action; found from the services' target groups
    /// when not set (see `sources::aws::discover`).
    pub listener: Option<Listener>,
    pub stable_target_group_arn: Option<String>,
    pub canary_target_group_arn: Option<String>,
    pub log_group: Option<String>,
    /// This service's AWS region, profile and role, over `[aws]`.
    pub region: Option<String>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub github: Option<ServiceGithubSection>,
    pub plan: Plan,
    pub analysis: AnalysisSettings,
    /// The metrics queries for Datadog and Prometheus, checked present
    /// (with `{version}`) when the provider needs them.
    pub queries: Option<crate::sources::metrics::Queries>,
}

#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    pub file: ConfigFile,
    pub keymap: Keymap,
    pub services: Vec<ServiceConfig>,
}

impl Config {
    pub fn theme(&self) -> Option<&str> {
        self.file.ui.theme.as_deref()
    }

    /// The service named on the command line, else the first one.
    pub fn service(&self, name: Option<&str>) -> Result<&ServiceConfig, ConfigError> {
        let found = match name {
            Some(name) => self.services.iter().find(|s| s.name == name),
            None => self.services.first(),
        };
        found.ok_or_else(|| {
            let known: Vec<&str> = self.services.iter().map(|s| s.name.as_str()).collect();
            ConfigError {
                path: self.path.clone(),
                // The file as a whole: where a [[service]] would go.
                line: Some(1),
                column: None,
                key: Some("service".into()),
                message: match name {
                    Some(name) if !known.is_empty() => {
                        format!(
                            "no [[service]] named `{name}`: the config has {}",
                            known.join(", ")
                        )
                    }
                    _ => "no [[service]] table: add one (see config.example.toml)".into(),
                },
            }
        })
    }
}

/// The canary service is the stable one's name with this after it, unless
/// `canary_service` or `canary_suffix` says otherwise.
pub const DEFAULT_CANARY_SUFFIX: &str = "-canary";

/// `arn:PARTITION:iam::ACCOUNT:role/NAME`.
fn is_role_arn(arn: &str) -> bool {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    matches!(fields.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|n| !n.is_empty()))
}

/// The default config path: `~/.config/flightdeck/config.toml` on Linux.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "flightdeck").map(|d| d.config_dir().join("config.toml"))
}

/// Read and check a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let error = |line: Option<usize>, message: String| ConfigError {
        path: path.to_path_buf(),
        line,
        column: None,
        key: None,
        message,
    };
    // A FIFO or a device would block or never end: only regular files,
    // checked on the file opened (without blocking), then read with a cap.
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|e| error(None, format!("cannot read the config: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| error(None, format!("cannot read the config: {e}")))?;
    if !meta.is_file() {
        return Err(error(
            None,
            "not a regular file (a FIFO, a device or a directory?): expected a TOML file".into(),
        ));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE + 1), &mut bytes)
        .map_err(|e| error(None, format!("cannot read the config: {e}")))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(error(
            None,
            format!("a config file is at most {MAX_FILE} bytes"),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..good].iter().filter(|b| **b == b'\n').count() + 1;
        error(
            Some(line),
            format!("invalid UTF-8 at byte {good}: save the file as UTF-8"),
        )
    })?;
    parse(path, &text)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parse config text; `path` is only for messages.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let error_at = |span: Option<std::ops::Range<usize>>, key: Option<String>, message: String| {
        let (line, column) = span.map(|s| line_col(text, s.start)).unzip();
        ConfigError {
            path: path.to_path_buf(),
            line,
            column,
            key,
            message,
        }
    };
    let deserializer = toml::de::Deserializer::parse(text)
        .map_err(|e| error_at(e.span(), None, e.message().trim().to_string()))?;
    let file: ConfigFile = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        // Spanned<T> shows up in the path as a private field: drop it.
        let key = e
            .path()
            .to_string()
            .replace(".$__serde_spanned_private_value", "");
        let inner = e.into_inner();
        let key = (key != ".").then_some(key);
        error_at(inner.span(), key, inner.message().trim().to_string())
    })?;
    let mut keymap = Keymap::default();
    for (action, keys) in &file.keys {
        keymap.bind(action.0, keys.0.clone());
    }
    let mut services = Vec::new();
    for (i, s) in file.service.iter().enumerate() {
        let key = |name: &str| Some(format!("service[{i}].{name}"));
        if services
            .iter()
            .any(|o: &ServiceConfig| o.name == *s.name.get_ref())
        {
            return Err(error_at(
                Some(s.name.span()),
                key("name"),
                format!("service `{}` is defined twice", s.name.get_ref()),
            ));
        }
        let listener = match (&s.listener_rule_arn, &s.listener_arn) {
            (Some(rule), None) => Some(Listener::Rule(rule.clone())),
            (None, Some(listener)) => Some(Listener::Default(listener.clone())),
            (Some(_), Some(_)) => {
                return Err(error_at(
                    Some(s.name.span()),
                    key("listener_arn"),
                    "set one of listener_rule_arn (a weighted rule) or listener_arn (a listener's default action), not both".into(),
                ));
            }
            // Found at start from the services' target groups.
            (None, None) => None,
        };
        let native = s.model == Some(ReleaseModel::EcsNative);
        if native && s.canary_service.is_some() {
            return Err(error_at(
                Some(s.name.span()),
                key("model"),
                "ecs-native: one service, whose ECS deployments move the traffic: remove canary_service (its target groups and production rule are read from the service's advancedConfiguration, or set listener_rule_arn, stable_target_group_arn and canary_target_group_arn)".into(),
            ));
        }
        if let Some(role) = &s.account
            && !is_role_arn(role.get_ref())
        {
            return Err(error_at(
                Some(role.span()),
                key("account"),
                format!(
                    "`{}` is not an IAM role ARN: expected arn:aws:iam::ACCOUNT:role/NAME, the role flightdeck assumes in that account",
                    crate::text::one_line(role.get_ref(), 80)
                ),
            ));
        }
        if let (Some(stable), Some(canary)) =
            (&s.stable_target_group_arn, &s.canary_target_group_arn)
            && stable == canary
        {
            return Err(error_at(
                Some(s.name.span()),
                key("canary_target_group_arn"),
                "is the stable target group too: the canary needs a target group of its own for traffic to be split".into(),
            ));
        }
        if let Some(suffix) = &s.canary_suffix
            && suffix.is_empty()
        {
            return Err(error_at(
                Some(s.name.span()),
                key("canary_suffix"),
                "is empty: the canary service would be the stable one; set canary_service or a suffix such as \"-canary\"".into(),
            ));
        }
        let plan = match &s.steps {
            None => Plan::default(),
            Some(steps) => {
                let list: Vec<Step> = steps
                    .get_ref()
                    .iter()
                    .map(|st| Step {
                        weight: st.weight.0,
                        bake: st.bake.as_ref().map(|d| d.get_ref().0),
                    })
                    .collect();
                let increasing = list.windows(2).all(|w| w[0].weight < w[1].weight);
                if list.is_empty() || !increasing || list.first().is_some_and(|s| s.weight == 0) {
                    return Err(error_at(
                        Some(steps.span()),
                        key("steps"),
                        "expected a non-empty list of steps with increasing weights above 0, e.g. [ { weight = 10, bake = \"5m\" }, { weight = 100 } ]".into(),
                    ));
                }
                Plan { steps: list }
            }
        };
        let a = &s.analysis;
        // Values that parse but make no sense, refused where they are.
        let name = s.name.get_ref();
        if name.trim().is_empty() || name.chars().any(char::is_control) {
            return Err(error_at(
                Some(s.name.span()),
                key("name"),
                "expected a service name: not empty, no control characters".into(),
            ));
        }
        let zero = Duration::ZERO;
        for (field, value) in [
            ("analysis.interval", &a.interval),
            ("analysis.lookback", &a.lookback),
        ] {
            if let Some(d) = value
                && d.get_ref().0 == zero
            {
                return Err(error_at(
                    Some(d.span()),
                    key(field),
                    "must be longer than 0: expected e.g. \"30s\"".into(),
                ));
            }
        }
        if let Some(steps) = &s.steps {
            for (j, st) in steps.get_ref().iter().enumerate() {
                if let Some(b) = &st.bake
                    && b.get_ref().0 == zero
                {
                    return Err(error_at(
                        Some(b.span()),
                        key(&format!("steps[{j}].bake")),
                        "must be longer than 0: leave `bake` out for a step without one".into(),
                    ));
                }
            }
        }
        for (field, value) in [
            ("analysis.max_error_rate_pct", &a.max_error_rate_pct),
            ("analysis.max_p95_ms", &a.max_p95_ms),
        ] {
            if let Some(v) = value
                && !(v.get_ref().is_finite() && *v.get_ref() > 0.0)
            {
                return Err(error_at(
                    Some(v.span()),
                    key(field),
                    format!(
                        "{} is not a threshold: expected a number above 0",
                        v.get_ref()
                    ),
                ));
            }
        }
        for (field, value) in [
            (
                "analysis.min_requests",
                a.min_requests.as_ref().map(|v| (*v.get_ref(), v.span())),
            ),
            (
                "analysis.failures_before_action",
                a.failures_before_action
                    .as_ref()
                    .map(|v| (u64::from(*v.get_ref()), v.span())),
            ),
        ] {
            if let Some((0, span)) = value {
                return Err(error_at(
                    Some(span),
                    key(field),
                    "must be at least 1".into(),
                ));
            }
        }
        let defaults = AnalysisSettings::default();
        let analysis = AnalysisSettings {
            interval: a
                .interval
                .as_ref()
                .map_or(defaults.interval, |d| d.get_ref().0),
            lookback: a
                .lookback
                .as_ref()
                .map_or(defaults.lookback, |d| d.get_ref().0),
            max_error_rate_pct: a
                .max_error_rate_pct
                .as_ref()
                .map_or(defaults.max_error_rate_pct, |v| *v.get_ref()),
            max_p95_ms: a
                .max_p95_ms
                .as_ref()
                .map_or(defaults.max_p95_ms, |v| *v.get_ref()),
            min_requests: a
                .min_requests
                .as_ref()
                .map_or(defaults.min_requests, |v| *v.get_ref()),
            confidence: a.confidence.map_or(defaults.confidence, |c| c.0),
            failures_before_action: a
                .failures_before_action
                .as_ref()
                .map_or(defaults.failures_before_action, |v| *v.get_ref()),
            on_failure: match a.on_failure {
                None | Some(OnFailureName::Rollback) => OnFailure::Rollback,
                Some(OnFailureName::Pause) => OnFailure::Pause,
                Some(OnFailureName::Alert) => OnFailure::Alert,
            },
            auto_advance: a.auto_advance.unwrap_or(defaults.auto_advance),
            reporting_lag: file
                .metrics
                .as_ref()
                .map_or(Duration::ZERO, MetricsSection::reporting_lag),
        };
        let queries = match file.metrics.as_ref().map(|m| m.provider) {
            Some(MetricsProvider::Datadog | MetricsProvider::Prometheus) => {
                let provider = file.metrics.as_ref().map_or("", |m| m.provider.name());
                let mut found = Vec::new();
                for (field, value) in [
                    ("analysis.error_rate_query", &a.error_rate_query),
                    ("analysis.p95_query", &a.p95_query),
                    ("analysis.requests_query", &a.requests_query),
                ] {
                    match value {
                        None => {
                            return Err(error_at(
                                Some(s.name.span()),
                                key(field),
                                format!(
                                    "[metrics] provider = \"{provider}\" needs {} for this service: a query with {{version}} where `canary` or `stable` goes (error_rate_query, p95_query and requests_query; see config.example.toml)",
                                    field.trim_start_matches("analysis.")
                                ),
                            ));
                        }
                        Some(q) if !q.get_ref().contains("{version}") => {
                            return Err(error_at(
                                Some(q.span()),
                                key(field),
                                "has no {version}: without it canary and stable read the same series; write e.g. {version:{version}} (Datadog) or version=\"{version}\" (Prometheus)".into(),
                            ));
                        }
                        _ => found.push(value.as_ref().map(|q| q.get_ref().clone())),
                    }
                }
                Some(crate::sources::metrics::Queries {
                    error_rate: found[0].clone().unwrap_or_default(),
                    p95: found[1].clone().unwrap_or_default(),
                    requests: found[2].clone(),
                })
            }
            // With every ARN given nothing is looked up: the canary's group
            // must be among them.
            Some(MetricsProvider::Cloudwatch)
                if s.canary_target_group_arn.is_none()
                    && listener.is_some()
                    && s.stable_target_group_arn.is_some() =>
            {
                return Err(error_at(
                    Some(s.name.span()),
                    key("canary_target_group_arn"),
                    "[metrics] provider = \"cloudwatch\" reads the canary's target group metrics: set canary_target_group_arn".into(),
                ));
            }
            _ => None,
        };
        services.push(ServiceConfig {
            name: s.name.get_ref().clone(),
            environment: s.environment.clone(),
            protected: s.protected,
            change_window: s.change_window.map(|w| w.0),
            cluster: s.cluster.clone(),
            stable_service: s.stable_service.clone(),
            canary_service: s.canary_service.clone(),
            canary_suffix: s
                .canary_suffix
                .clone()
                .unwrap_or_else(|| DEFAULT_CANARY_SUFFIX.into()),
            native,
            listener,
            stable_target_group_arn: s.stable_target_group_arn.clone(),
            canary_target_group_arn: s.canary_target_group_arn.clone(),
            log_group: s.log_group.clone(),
            region: s.region.clone(),
            profile: s.profile.clone(),
            role_arn: s.account.as_ref().map(|a| a.get_ref().clone()),
            github: s.github.clone(),
            plan,
            analysis,
            queries,
        });
    }
    if let Some(env) = file
        .notify
        .as_ref()
        .and_then(|n| n.slack_webhook_env.as_deref())
        && (env.is_empty()
            || env.starts_with(|c: char| c.is_ascii_digit())
            || !env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        // Not echoed: a webhook URL pasted here is a secret.
        let at = text.find("slack_webhook_env").map(|o| o..o + 1);
        return Err(error_at(
            at,
            Some("notify.slack_webhook_env".into()),
            "is not the name of an environment variable (letters, digits, _): the webhook URL goes in the environment, e.g. FLIGHTDECK_SLACK_WEBHOOK, never in this file".into(),
        ));
    }
    if let Some(m) = &file.metrics {
        let section = text.find("\n[metrics]").map_or(0, |o| o + 1);
        let at = Some(section..section + 1);
        match &m.api_url {
            None if m.provider == MetricsProvider::Prometheus => {
                return Err(error_at(
                    at,
                    Some("metrics.api_url".into()),
                    "provider = \"prometheus\" needs api_url: the server's base URL, e.g. \"http://prometheus:9090\"".into(),
                ));
            }
            Some(url) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                let at = text[section..]
                    .find(&format!("\"{url}\""))
                    .map(|o| section + o..section + o + 1)
                    .or(at);
                return Err(error_at(
                    at,
                    Some("metrics.api_url".into()),
                    format!(
                        "`{}` is not an http:// or https:// URL",
                        crate::sources::metrics::without_userinfo(url)
                    ),
                ));
            }
            _ => {}
        }
    }
    if let Some(theme) = &file.ui.theme
        && !theme::BUILT_IN.iter().any(|(name, _)| name == theme)
    {
        // Where the value is written; escapes in it (\u001b) differ from
        // the parsed text, so fall back to the `theme` key.
        let offset = text
            .find(&format!("\"{theme}\""))
            .or_else(|| text.find("theme"))
            .map(|o| o..o + 1);
        let names: Vec<&str> = theme::BUILT_IN.iter().map(|(n, _)| *n).collect();
        return Err(error_at(
            offset,
            Some("ui.theme".into()),
            format!(
                "unknown theme `{theme}`: expected one of {}",
                names.join(", ")
            ),
        ));
    }
    Ok(Config {
        path: path.to_path_buf(),
        file,
        keymap,
        services,
    })
}
