//! `Pipeline` on GitHub Actions (REST, through reqwest with rustls): the
//! newest run of the workflow on the branch, its jobs (paged) as the
//! pane's stages with their target durations, and the deployments waiting
//! for review. A review posts `environment_ids`, `state` and the comment.
//!
//! A good API citizen: every GET is conditional (ETag / If-None-Match; a
//! 304 costs no rate limit and the cached answer serves), the rate limit of
//! the last answer is shown, a 403/429 that says "rate limit" waits for
//! `Retry-After` or the reset time. The token (GITHUB_TOKEN, GH_TOKEN or
//! `gh auth token`) goes in a sensitive header and never into a message.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Deserialize;

use crate::core::model::{
    ErrorKind, PendingApproval, PipelineRun, RateBudget, RequestId, RunRef, SourceError, Stage,
    StageStatus, Time,
};
use crate::sources::Pipeline;
use crate::sources::metrics::{clean, client, send_error_with};

const PROVIDER: &str = "GitHub";
const API_VERSION: &str = "2022-11-28";

/// The seed's "Stage Durations (Target)".
pub const SEED_TARGETS: [(&str, u64); 6] = [
    ("Build & Lint", 90),
    ("Unit Tests", 120),
    ("Security Scan", 180),
    ("Integration Tests", 300),
    ("Container Build", 240),
    ("E2E Tests", 480),
];

/// Where the token came from is not kept: only the token, never shown.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<withheld>)")
    }
}

impl Token {
    /// The token, registered as a secret: GitHub's answers that echo it
    /// are scrubbed wherever they are shown.
    pub fn new(token: impl Into<String>) -> Token {
        let token = token.into();
        crate::secrets::register(&token);
        Token(token)
    }

    /// GITHUB_TOKEN, else GH_TOKEN, else what `gh auth token` prints; or
    /// what to do.
    pub fn discover() -> Result<Token, String> {
        for name in ["GITHUB_TOKEN", "GH_TOKEN"] {
            if let Ok(t) = std::env::var(name)
                && !t.trim().is_empty()
            {
                return Ok(Token::new(t.trim()));
            }
        }
        let from_gh = gh_auth_token(Duration::from_secs(3));
        from_gh.map(Token::new).ok_or_else(|| {
            "[github] needs a token: export GITHUB_TOKEN=… (or GH_TOKEN), or log in with `gh auth login`; it needs actions:read, and deployments review rights to approve".into()
        })
    }
}

/// What `gh auth token` prints, if gh is installed and answers within
/// `limit` (a locked keyring must not hang the start).
fn gh_auth_token(limit: Duration) -> Option<String> {
    use std::io::Read;
    let mut child = std::process::Command::new("gh")
        .args(["auth", "token"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    let token = out.trim().to_string();
    (status.success() && !token.is_empty()).then_some(token)
}

pub struct GitHub {
    http: reqwest::Client,
    base: String,
    repo: String,
    workflow: String,
    branch: String,
    token: Token,
    targets: Vec<(String, Duration)>,
    /// URL → (ETag, body, next page) of the last 200.
    cache: Mutex<HashMap<String, Cached>>,
    rate: Mutex<Option<RateBudget>>,
    /// The run to show (`:run N`); None follows the newest.
    selected: Mutex<Option<u64>>,
    pub calls: Arc<AtomicU64>,
}

/// A 200 kept for conditional requests: its ETag, body and next page.
#[derive(Clone)]
struct Cached {
    etag: String,
    body: String,
    next: Option<String>,
}

/// Kept answers at most (runs come and go; the cache starts again).
const CACHE_ENTRIES: usize = 64;

/// The settings of `[github]`, checked.
pub struct Settings {
    pub api_url: Option<String>,
    pub repo: String,
    pub workflow: String,
    pub branch: String,
    /// Over the seed's targets, by job name.
    pub targets: Vec<(String, Duration)>,
}

impl GitHub {
    pub fn new(settings: Settings, token: Token, timeout: Duration) -> Result<GitHub, SourceError> {
        let mut targets: Vec<(String, Duration)> = SEED_TARGETS
            .iter()
            .map(|(n, s)| (n.to_string(), Duration::from_secs(*s)))
            .collect();
        for (name, d) in settings.targets {
            targets.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            targets.push((name, d));
        }
        Ok(GitHub {
            http: client(timeout)?,
            base: settings
                .api_url
                .unwrap_or_else(|| "https://api.github.com".into())
                .trim_end_matches('/')
                .to_string(),
            repo: settings.repo,
            workflow: settings.workflow,
            branch: settings.branch,
            token,
            targets,
            cache: Mutex::new(HashMap::new()),
            rate: Mutex::new(None),
            selected: Mutex::new(None),
            calls: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn with_counter(mut self, calls: Arc<AtomicU64>) -> Self {
        self.calls = calls;
        self
    }

    fn auth(&self) -> Result<HeaderValue, SourceError> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.token.0)).map_err(|_| {
                SourceError::of_kind(
                    ErrorKind::Auth,
                    "the GitHub token has characters a header cannot carry",
                )
                .with_hint("export GITHUB_TOKEN again, without quotes or newlines")
            })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn note_rate(&self, headers: &HeaderMap) {
        let num = |h: &str| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        if let (Some(remaining), Some(limit), Some(reset)) = (
            num("x-ratelimit-remaining"),
            num("x-ratelimit-limit"),
            num("x-ratelimit-reset"),
        ) && let Ok(mut rate) = self.rate.lock()
        {
            *rate = Some(RateBudget {
                remaining: u32::try_from(remaining).unwrap_or(0),
                limit: u32::try_from(limit).unwrap_or(0),
                reset: Time::from_timestamp(reset, 0).unwrap_or_default(),
            });
        }
    }

    /// A conditional GET: the body of a 200, or the cached body on a 304.
    /// Returns the body and the next page's URL (from `Link`).
    async fn get(&self, url: &str) -> Result<(String, Option<String>), SourceError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let cached = self.cache.lock().ok().and_then(|c| c.get(url).cloned());
        let mut request = self
            .http
            .get(url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .header("Authorization", self.auth()?);
        if let Some(c) = &cached {
            request = request.header("If-None-Match", &c.etag);
        }
        let response = request.send().await.map_err(net)?;
        let status = response.status();
        let headers = response.headers().clone();
        self.note_rate(&headers);
        // The next page only on the same API (the token goes with it).
        let next = next_link(&headers).filter(|n| same_api(&self.base, n));
        if status == reqwest::StatusCode::NOT_MODIFIED
            && let Some(c) = cached
        {
            // A 304 need not repeat `Link`: the page's own next is kept.
            return Ok((c.body, c.next));
        }
        let body = response.text().await.map_err(net)?;
        if !status.is_success() {
            return Err(github_error(status, &headers, &body, url));
        }
        if let Some(etag) = headers.get("etag").and_then(|v| v.to_str().ok())
            && let Ok(mut cache) = self.cache.lock()
        {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(
                url.to_string(),
                Cached {
                    etag: etag.to_string(),
                    body: body.clone(),
                    next: next.clone(),
                },
            );
        }
        Ok((body, next))
    }

    fn target(&self, job: &str) -> Option<Duration> {
        // "Unit Tests (node 20)" is a matrix leg of "Unit Tests".
        let base = job.split(" (").next().unwrap_or(job).trim();
        self.targets
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(job) || name.eq_ignore_ascii_case(base))
            .map(|(_, d)| *d)
    }

    async fn jobs(&self, run_id: u64) -> Result<Vec<Job>, SourceError> {
        let mut url = Some(format!(
            "{}/repos/{}/actions/runs/{run_id}/jobs?per_page=100",
            self.base, self.repo
        ));
        let mut jobs = Vec::new();
        // Ten pages of 100 jobs is more than any pipeline shown here.
        for _ in 0..10 {
            let Some(u) = url.take() else { break };
            let (body, next) = self.get(&u).await?;
            let page: JobsPage = parse(&body, "jobs")?;
            jobs.extend(page.jobs);
            url = next;
        }
        Ok(jobs)
    }

    async fn pending(&self, run_id: u64) -> Result<Vec<PendingDeployment>, SourceError> {
        let url = format!(
            "{}/repos/{}/actions/runs/{run_id}/pending_deployments",
            self.base, self.repo
        );
        let (body, _) = self.get(&url).await?;
        parse(&body, "pending deployments")
    }
}

fn net(e: reqwest::Error) -> SourceError {
    send_error_with(PROVIDER, e, "check the network and [github] api_url")
}

fn parse<'a, T: Deserialize<'a>>(body: &'a str, what: &str) -> Result<T, SourceError> {
    serde_json::from_str(body).map_err(|e| {
        SourceError::new(format!("{PROVIDER}: unexpected {what} answer: {e}")).with_hint(
            "is [github] api_url the REST API (https://api.github.com or https://HOST/api/v3)?",
        )
    })
}

/// Whether `url` is on the API at `base`: same scheme, host and port, and
/// under its path.
fn same_api(base: &str, url: &str) -> bool {
    match (reqwest::Url::parse(base), reqwest::Url::parse(url)) {
        (Ok(b), Ok(u)) => {
            let base_path = b.path().trim_end_matches('/');
            b.scheme() == u.scheme()
                && b.host_str() == u.host_str()
                && b.port_or_known_default() == u.port_or_known_default()
                && u.username().is_empty()
                && u.password().is_none()
                && (base_path.is_empty()
                    || u.path() == base_path
                    || u.path().starts_with(&format!("{base_path}/")))
        }
        _ => false,
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// A GitHub refusal as data: GitHub's own message, the kind, and when to
/// try again for rate limits.
pub fn github_error(
    status: reqwest::StatusCode,
    headers: &HeaderMap,
    body: &str,
    url: &str,
) -> SourceError {
    #[derive(Deserialize, Default)]
    struct Said {
        #[serde(default)]
        message: String,
        #[serde(default)]
        errors: Vec<serde_json::Value>,
    }
    let said: Said = serde_json::from_str(body).unwrap_or_default();
    let mut message = clean(&said.message);
    for e in &said.errors {
        let text = e
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                e.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        if !text.is_empty() {
            message.push_str(&format!(": {}", clean(&text)));
        }
    }
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    let text = if message.is_empty() {
        format!("{PROVIDER}: HTTP {status} on {path}")
    } else {
        format!("{PROVIDER}: HTTP {status} on {path}: {message}")
    };
    let request_id = headers
        .get("x-github-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let num = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let rate_limited = matches!(status.as_u16(), 403 | 429)
        && (num("retry-after").is_some()
            || num("x-ratelimit-remaining") == Some(0)
            || message.to_lowercase().contains("rate limit"));
    let mut err = if rate_limited {
        let now = chrono::Utc::now().timestamp();
        // Primary limit spent: until the reset. A secondary limit without
        // Retry-After: a minute, as GitHub asks.
        let wait = num("retry-after")
            .or_else(|| {
                if num("x-ratelimit-remaining") == Some(0) {
                    num("x-ratelimit-reset").map(|reset| reset - now)
                } else {
                    Some(60)
                }
            })
            .map(|s| Duration::from_secs(s.clamp(1, 3600) as u64));
        let when = wait.map_or("with backoff".to_string(), |w| {
            format!("in {}", humantime::format_duration(w))
        });
        SourceError::of_kind(ErrorKind::Throttled { retry_after: wait }, text)
            .with_hint(format!("rate limited: backing off, next read {when}"))
    } else {
        match status.as_u16() {
            401 => SourceError::of_kind(ErrorKind::Auth, text).with_hint(
                "the token was refused: export a valid GITHUB_TOKEN / GH_TOKEN or run `gh auth login`",
            ),
            403 => SourceError::of_kind(ErrorKind::Auth, text).with_hint(
                "the token lacks a permission: actions:read to read runs; to review, be a required reviewer of the environment",
            ),
            404 => SourceError::of_kind(ErrorKind::NotFound, text).with_hint(
                "check [github] repo and workflow (the token must see the repository)",
            ),
            409 | 422 => SourceError::of_kind(ErrorKind::Conflict, text)
                .with_hint("GitHub refused the request as it stands; reload and check the run"),
            500..=599 => SourceError::of_kind(ErrorKind::Unavailable, text)
                .with_hint("GitHub failed: retrying with backoff"),
            _ => SourceError::of_kind(ErrorKind::Other, text),
        }
    };
    err.request_id = request_id;
    err
}

// ----- the documented shapes (only the fields used) ---------------------------

#[derive(Deserialize)]
struct RunsPage {
    #[serde(default)]
    workflow_runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    id: u64,
    run_number: u64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    head_branch: Option<String>,
    head_sha: String,
    #[serde(default)]
    event: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    run_attempt: Option<u32>,
    created_at: Time,
    #[serde(default)]
    run_started_at: Option<Time>,
    #[serde(default)]
    actor: Option<User>,
    #[serde(default)]
    head_commit: Option<Commit>,
}

#[derive(Deserialize)]
struct User {
    login: String,
}

#[derive(Deserialize)]
struct Commit {
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct JobsPage {
    #[serde(default)]
    jobs: Vec<Job>,
}

#[derive(Deserialize)]
struct Job {
    name: String,
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
    #[serde(default)]
    started_at: Option<Time>,
    #[serde(default)]
    completed_at: Option<Time>,
}

#[derive(Deserialize)]
struct PendingDeployment {
    environment: Environment,
    #[serde(default)]
    wait_timer_started_at: Option<Time>,
    #[serde(default)]
    current_user_can_approve: bool,
    #[serde(default)]
    reviewers: Vec<Reviewer>,
}

#[derive(Deserialize)]
struct Environment {
    id: u64,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Reviewer {
    #[serde(default)]
    reviewer: serde_json::Value,
}

fn stage_status(job: &Job) -> StageStatus {
    status_of(&job.status, job.conclusion.as_deref())
}

/// A job's or a run's status and conclusion, as the pane's symbols.
fn status_of(status: &str, conclusion: Option<&str>) -> StageStatus {
    match (status, conclusion) {
        ("in_progress", _) => StageStatus::InProgress,
        ("waiting", _) | (_, Some("action_required")) => StageStatus::Waiting,
        ("completed", Some("success")) => StageStatus::Success,
        ("completed", Some("cancelled")) => StageStatus::Cancelled,
        ("completed", Some("skipped" | "neutral")) => StageStatus::Skipped,
        ("completed", _) => StageStatus::Failure,
        _ => StageStatus::Queued,
    }
}

#[async_trait]
impl Pipeline for GitHub {
    async fn latest_run(&self) -> Result<PipelineRun, SourceError> {
        let url = format!(
            "{}/repos/{}/actions/workflows/{}/runs?branch={}&per_page=20",
            self.base,
            self.repo,
            urlencode(&self.workflow),
            urlencode(&self.branch)
        );
        let (body, _) = self.get(&url).await?;
        let page: RunsPage = parse(&body, "workflow runs")?;
        let recent: Vec<RunRef> = page
            .workflow_runs
            .iter()
            .map(|r| RunRef {
                id: r.id,
                number: r.run_number,
                attempt: r.run_attempt.unwrap_or(1),
                status: status_of(r.status.as_deref().unwrap_or(""), r.conclusion.as_deref()),
                event: r.event.clone(),
            })
            .collect();
        let selected = self.selected.lock().ok().and_then(|s| *s);
        let chosen = match selected {
            Some(id) if page.workflow_runs.first().is_none_or(|r| r.id != id) => {
                let url = format!("{}/repos/{}/actions/runs/{id}", self.base, self.repo);
                let (body, _) = self.get(&url).await?;
                Some(parse::<Run>(&body, "workflow run")?)
            }
            _ => page.workflow_runs.into_iter().next(),
        };
        let Some(run) = chosen else {
            return Err(SourceError::of_kind(
                ErrorKind::NotFound,
                format!(
                    "{PROVIDER}: no run of {} on {} yet",
                    self.workflow, self.branch
                ),
            )
            .with_hint("check [github] workflow and branch"));
        };
        let jobs = self.jobs(run.id).await?;
        let waiting = run.status.as_deref() == Some("waiting")
            || jobs.iter().any(|j| stage_status(j) == StageStatus::Waiting);
        let pending = if waiting {
            let list = self.pending(run.id).await?;
            (!list.is_empty()).then(|| {
                let reviewable: Vec<&PendingDeployment> =
                    list.iter().filter(|p| p.current_user_can_approve).collect();
                let shown = if reviewable.is_empty() {
                    list.iter().collect::<Vec<_>>()
                } else {
                    reviewable.clone()
                };
                let mut reviewers: Vec<String> = Vec::new();
                for p in &list {
                    for r in &p.reviewers {
                        let who = r.reviewer["login"]
                            .as_str()
                            .or_else(|| r.reviewer["slug"].as_str())
                            .or_else(|| r.reviewer["name"].as_str())
                            .unwrap_or_default()
                            .to_string();
                        if !who.is_empty() && !reviewers.contains(&who) {
                            reviewers.push(who);
                        }
                    }
                }
                PendingApproval {
                    environment: shown
                        .iter()
                        .map(|p| p.environment.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                    environment_ids: shown.iter().map(|p| p.environment.id).collect(),
                    // Any one required reviewer approves on GitHub.
                    required_reviewers: 1,
                    approvals: 0,
                    waiting_since: shown
                        .iter()
                        .filter_map(|p| p.wait_timer_started_at)
                        .min()
                        .unwrap_or(run.created_at),
                    can_approve: Some(!reviewable.is_empty()),
                    reviewers,
                }
            })
        } else {
            None
        };
        let stages = jobs
            .iter()
            .map(|j| Stage {
                name: j.name.clone(),
                status: stage_status(j),
                started_at: j.started_at,
                completed_at: j.completed_at,
                target: self.target(&j.name),
            })
            .collect();
        Ok(PipelineRun {
            id: run.id,
            number: run.run_number,
            workflow: run.name.unwrap_or_else(|| self.workflow.clone()),
            branch: run.head_branch.unwrap_or_default(),
            sha: run.head_sha,
            author: run.actor.map(|a| a.login).unwrap_or_default(),
            message: run
                .head_commit
                .map(|c| c.message.lines().next().unwrap_or_default().to_string())
                .unwrap_or_default(),
            started_at: run.run_started_at.unwrap_or(run.created_at),
            stages,
            pending,
            event: run.event,
            url: run.html_url,
            attempt: run.run_attempt.unwrap_or(1),
            rate: self.rate.lock().ok().and_then(|r| *r),
            recent,
        })
    }

    fn select_run(&self, id: Option<u64>) {
        if let Ok(mut selected) = self.selected.lock() {
            *selected = id;
        }
    }

    async fn review(
        &self,
        run_id: u64,
        environment: &str,
        environment_ids: &[u64],
        approve: bool,
        comment: &str,
    ) -> Result<RequestId, SourceError> {
        if environment_ids.is_empty() {
            return Err(SourceError::new(format!(
                "no environment id known for {environment}: reload the pipeline"
            )));
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let url = format!(
            "{}/repos/{}/actions/runs/{run_id}/pending_deployments",
            self.base, self.repo
        );
        let body = serde_json::json!({
            "environment_ids": environment_ids,
            "state": if approve { "approved" } else { "rejected" },
            "comment": comment,
        });
        let response = self
            .http
            .post(&url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .header("Authorization", self.auth()?)
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(net)?;
        let status = response.status();
        let headers = response.headers().clone();
        self.note_rate(&headers);
        let text = response.text().await.map_err(net)?;
        if !status.is_success() {
            return Err(github_error(status, &headers, &text, &url));
        }
        Ok(headers
            .get("x-github-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("github")
            .to_string())
    }
}

/// A path segment or query value, percent-encoded.
fn urlencode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_read_from_the_link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1/actions/runs/5/jobs?per_page=100&page=2>; rel=\"next\", <https://api.github.com/repositories/1/actions/runs/5/jobs?per_page=100&page=3>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/actions/runs/5/jobs?per_page=100&page=2")
        );
    }

    #[test]
    fn next_pages_stay_on_the_same_api() {
        let base = "https://api.github.com";
        assert!(same_api(
            base,
            "https://api.github.com/repositories/1/jobs?page=2"
        ));
        assert!(!same_api(base, "https://api.github.com.evil.tld/x"));
        assert!(!same_api(base, "https://api.github.com@evil.tld/x"));
        assert!(!same_api(base, "http://api.github.com/x"));
        let ghe = "https://ghe.example/api/v3";
        assert!(same_api(ghe, "https://ghe.example/api/v3/repos/a/b"));
        assert!(!same_api(ghe, "https://ghe.example/api/v30/repos"));
    }

    #[test]
    fn names_are_encoded_in_urls() {
        assert_eq!(urlencode("release/v2 x"), "release%2Fv2%20x");
        assert_eq!(urlencode("pipeline.yml"), "pipeline.yml");
    }
}
