//! The GitHub Actions adapter against wiremock, serving payloads shaped
//! like the documented examples of the endpoints it uses: workflow runs,
//! jobs with steps (two pages), pending deployments; 304 for conditional
//! requests, a rate-limited 403 with reset headers, 404 and 422; and the
//! exact requests of approve and reject.

use std::time::Duration;

use flightdeck::core::model::{ErrorKind, StageStatus};
use flightdeck::sources::Pipeline;
use flightdeck::sources::github::{GitHub, Settings, Token};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
const REPO: &str = "suma-finance/auth-service";

fn github(server: &MockServer) -> GitHub {
    let settings = Settings {
        api_url: Some(server.uri()),
        repo: REPO.into(),
        workflow: "auth-service-pipeline.yml".into(),
        branch: "main".into(),
        targets: vec![("Deploy Staging".into(), Duration::from_secs(150))],
    };
    match GitHub::new(settings, Token::new(TOKEN), Duration::from_secs(5)) {
        Ok(g) => g,
        Err(e) => panic!("client: {e}"),
    }
}

fn rate_headers(t: ResponseTemplate, remaining: u32) -> ResponseTemplate {
    t.insert_header("x-ratelimit-limit", "5000")
        .insert_header("x-ratelimit-remaining", remaining.to_string().as_str())
        .insert_header("x-ratelimit-reset", "1764430000")
        .insert_header("x-ratelimit-used", (5000 - remaining).to_string().as_str())
        .insert_header("x-ratelimit-resource", "core")
}

/// GET /repos/{owner}/{repo}/actions/workflows/{id}/runs, as documented.
fn runs() -> serde_json::Value {
    json!({
        "total_count": 2,
        "workflow_runs": [{
            "id": 9158403117u64,
            "name": "auth-service pipeline",
            "node_id": "WFR_kwLOAvH3Ts8AAAACIXgb7Q",
            "head_branch": "main",
            "head_sha": "a3f9c2e71b04d5e8c6f1a2b3c4d5e6f708192a3b",
            "path": ".github/workflows/auth-service-pipeline.yml",
            "run_number": 1284,
            "event": "push",
            "display_title": "feat(auth): rotate refresh tokens on reuse detection",
            "status": "waiting",
            "conclusion": null,
            "workflow_id": 159038,
            "url": "https://api.github.com/repos/suma-finance/auth-service/actions/runs/9158403117",
            "html_url": "https://github.com/suma-finance/auth-service/actions/runs/9158403117",
            "created_at": "2026-12-01T10:00:00Z",
            "updated_at": "2026-12-01T10:29:00Z",
            "run_attempt": 2,
            "run_started_at": "2026-12-01T10:00:05Z",
            "actor": {"login": "ana-souza", "id": 1, "type": "User"},
            "triggering_actor": {"login": "ana-souza", "id": 1, "type": "User"},
            "head_commit": {
                "id": "a3f9c2e71b04d5e8c6f1a2b3c4d5e6f708192a3b",
                "tree_id": "e1f2",
                "message": "feat(auth): rotate refresh tokens on reuse detection\n\nCloses #88",
                "timestamp": "2026-12-01T09:58:00Z",
                "author": {"name": "Ana Souza", "email": "ana@example.com"},
                "committer": {"name": "GitHub", "email": "noreply@github.com"}
            }
        }, {
            "id": 9158300000u64, "run_number": 1283, "event": "push", "status": "completed",
            "conclusion": "success", "head_branch": "main", "head_sha": "0000000",
            "created_at": "2026-11-30T10:00:00Z"
        }]
    })
}

fn job(
    name: &str,
    status: &str,
    conclusion: Option<&str>,
    start: &str,
    end: Option<&str>,
) -> serde_json::Value {
    json!({
        "id": 399444496,
        "run_id": 9158403117u64,
        "run_attempt": 2,
        "node_id": "MDEyOldvcmtmbG93IEpvYjM5OTQ0NDQ5Ng==",
        "head_sha": "a3f9c2e71b04d5e8c6f1a2b3c4d5e6f708192a3b",
        "status": status,
        "conclusion": conclusion,
        "created_at": start,
        "started_at": start,
        "completed_at": end,
        "name": name,
        "steps": [{
            "name": "Set up job", "status": "completed", "conclusion": "success",
            "number": 1, "started_at": start, "completed_at": start
        }],
        "labels": ["ubuntu-latest"],
        "runner_name": "GitHub Actions 2",
        "workflow_name": "auth-service pipeline",
        "head_branch": "main"
    })
}

/// GET /repos/{owner}/{repo}/actions/runs/{run_id}/pending_deployments.
fn pending(can_approve: bool) -> serde_json::Value {
    json!([{
        "environment": {
            "id": 161171787,
            "node_id": "MDExOkVudmlyb25tZW50MTYxMTcxNzg3",
            "name": "production",
            "url": "https://api.github.com/repos/suma-finance/auth-service/environments/production",
            "html_url": "https://github.com/suma-finance/auth-service/deployments/activity_log?environments_filter=production"
        },
        "wait_timer": 30,
        "wait_timer_started_at": "2026-12-01T10:27:00Z",
        "current_user_can_approve": can_approve,
        "reviewers": [
            {"type": "User", "reviewer": {"login": "octocat", "id": 1, "type": "User"}},
            {"type": "Team", "reviewer": {"id": 1, "name": "Release Managers", "slug": "release-managers"}}
        ]
    }])
}

async fn serve_run(server: &MockServer, can_approve: bool) {
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path(format!(
            "/repos/{REPO}/actions/workflows/auth-service-pipeline.yml/runs"
        )))
        .and(query_param("branch", "main"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("accept", "application/vnd.github+json"))
        .respond_with(rate_headers(
            ResponseTemplate::new(200)
                .set_body_json(runs())
                .insert_header("etag", "W/\"runs-1\""),
            4873,
        ))
        .mount(server)
        .await;
    let jobs_path = format!("/repos/{REPO}/actions/runs/9158403117/jobs");
    Mock::given(method("GET"))
        .and(path(jobs_path.as_str()))
        .and(query_param("page", "2"))
        .respond_with(rate_headers(
            ResponseTemplate::new(200).set_body_json(json!({
                "total_count": 3,
                "jobs": [job("Production Rollout", "waiting", None, "2026-12-01T10:27:00Z", None)]
            })),
            4872,
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(jobs_path.as_str()))
        .respond_with(rate_headers(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "total_count": 3,
                    "jobs": [
                        job("Build & Lint", "completed", Some("success"), "2026-12-01T10:00:05Z", Some("2026-12-01T10:01:45Z")),
                        job("Unit Tests (node 20)", "completed", Some("failure"), "2026-12-01T10:01:45Z", Some("2026-12-01T10:03:00Z"))
                    ]
                }))
                .insert_header(
                    "link",
                    format!("<{base}{jobs_path}?per_page=100&page=2>; rel=\"next\", <{base}{jobs_path}?per_page=100&page=2>; rel=\"last\"").as_str(),
                ),
            4872,
        ))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/repos/{REPO}/actions/runs/9158403117/pending_deployments"
        )))
        .respond_with(rate_headers(
            ResponseTemplate::new(200).set_body_json(pending(can_approve)),
            4871,
        ))
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_newest_run_with_paged_jobs_targets_and_its_pending_deployment() {
    let server = MockServer::start().await;
    serve_run(&server, true).await;
    let run = match github(&server).latest_run().await {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!((run.id, run.number, run.attempt), (9158403117, 1284, 2));
    assert_eq!(run.event, "push");
    assert_eq!(run.author, "ana-souza");
    assert_eq!(
        run.message,
        "feat(auth): rotate refresh tokens on reuse detection"
    );
    assert_eq!(
        run.url.as_deref(),
        Some("https://github.com/suma-finance/auth-service/actions/runs/9158403117")
    );
    let names: Vec<&str> = run.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["Build & Lint", "Unit Tests (node 20)", "Production Rollout"]
    );
    let statuses: Vec<StageStatus> = run.stages.iter().map(|s| s.status).collect();
    assert_eq!(
        statuses,
        [
            StageStatus::Success,
            StageStatus::Failure,
            StageStatus::Waiting
        ]
    );
    // The seed's targets, by name and for a matrix leg.
    assert_eq!(run.stages[0].target, Some(Duration::from_secs(90)));
    assert_eq!(run.stages[1].target, Some(Duration::from_secs(120)));
    let p = run.pending.as_ref().expect("a pending deployment");
    assert_eq!(p.environment, "production");
    assert_eq!(p.environment_ids, vec![161171787]);
    assert_eq!(p.can_approve, Some(true));
    assert_eq!(p.reviewers, ["octocat", "release-managers"]);
    let rate = run.rate.expect("the rate limit");
    assert_eq!((rate.remaining, rate.limit), (4871, 5000));
}

#[tokio::test]
async fn a_304_serves_the_cached_answer() {
    let server = MockServer::start().await;
    // The second read sends the ETag and gets 304 (no rate limit spent).
    Mock::given(method("GET"))
        .and(path(format!(
            "/repos/{REPO}/actions/workflows/auth-service-pipeline.yml/runs"
        )))
        .and(header("if-none-match", "W/\"runs-1\""))
        .respond_with(rate_headers(ResponseTemplate::new(304), 4873))
        .expect(1)
        .mount(&server)
        .await;
    serve_run(&server, true).await;
    let gh = github(&server);
    let first = gh.latest_run().await;
    let second = gh.latest_run().await;
    assert!(first.is_ok(), "{first:?}");
    assert_eq!(first.map(|r| r.number), second.map(|r| r.number));
    server.verify().await;
}

#[tokio::test]
async fn a_304_on_a_jobs_page_keeps_the_next_page() {
    let server = MockServer::start().await;
    // Every second read of the first jobs page is a 304 without `Link`.
    let jobs_path = format!("/repos/{REPO}/actions/runs/9158403117/jobs");
    Mock::given(method("GET"))
        .and(path(jobs_path.as_str()))
        .and(query_param("per_page", "100"))
        .and(header("if-none-match", "\"jobs-1\""))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    serve_run(&server, true).await;
    // The first page again, with an ETag this time.
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path(jobs_path.as_str()))
        .and(wiremock::matchers::query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 3, "jobs": [
                    job("Build & Lint", "completed", Some("success"), "2026-12-01T10:00:05Z", Some("2026-12-01T10:01:45Z"))
                ]}))
                .insert_header("etag", "\"jobs-1\"")
                .insert_header("link", format!("<{base}{jobs_path}?per_page=100&page=2>; rel=\"next\"").as_str()),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let gh = github(&server);
    for read in 0..2 {
        let run = match gh.latest_run().await {
            Ok(r) => r,
            Err(e) => panic!("read {read}: {e}"),
        };
        let names: Vec<&str> = run.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Build & Lint", "Production Rollout"], "read {read}");
    }
    server.verify().await;
}

#[tokio::test]
async fn a_rate_limited_403_waits_for_the_reset() {
    let server = MockServer::start().await;
    let reset = chrono::Utc::now().timestamp() + 120;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({
                    "message": "API rate limit exceeded for user ID 1.",
                    "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"
                }))
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .insert_header("x-github-request-id", "CAFE:1234:5678"),
        )
        .mount(&server)
        .await;
    let err = match github(&server).latest_run().await {
        Err(e) => e,
        Ok(r) => panic!("a 403 gave a run: {r:?}"),
    };
    match err.kind {
        ErrorKind::Throttled {
            retry_after: Some(wait),
        } => {
            assert!((100..=120).contains(&wait.as_secs()), "{wait:?}")
        }
        other => panic!("expected throttled, got {other:?}: {err}"),
    }
    assert!(err.to_string().contains("API rate limit exceeded"), "{err}");
    assert_eq!(err.request_id.as_deref(), Some("CAFE:1234:5678"));
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_404_says_check_the_repo_and_workflow() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "Not Found",
            "documentation_url": "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow"
        })))
        .mount(&server)
        .await;
    let err = github(&server).latest_run().await.err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(err.map(|e| e.kind), Some(ErrorKind::NotFound));
    assert!(
        text.contains("Not Found") && text.contains("[github] repo and workflow"),
        "{text}"
    );
}

#[tokio::test]
async fn approve_and_reject_post_exactly_what_github_documents() {
    let server = MockServer::start().await;
    let path_ = format!("/repos/{REPO}/actions/runs/9158403117/pending_deployments");
    for (state, comment) in [
        ("approved", "canary green 10m"),
        ("rejected", "p95 up, INC-9"),
    ] {
        Mock::given(method("POST"))
            .and(path(path_.as_str()))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .and(header("accept", "application/vnd.github+json"))
            .and(header("x-github-api-version", "2022-11-28"))
            .and(header("content-type", "application/json"))
            .and(body_json(json!({
                "environment_ids": [161171787],
                "state": state,
                "comment": comment
            })))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!([{"id": 42, "environment": "production"}]))
                    .insert_header("x-github-request-id", format!("REQ-{state}").as_str()),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let gh = github(&server);
    let approved = gh
        .review(
            9158403117,
            "production",
            &[161171787],
            true,
            "canary green 10m",
        )
        .await;
    assert_eq!(approved, Ok("REQ-approved".to_string()));
    let rejected = gh
        .review(
            9158403117,
            "production",
            &[161171787],
            false,
            "p95 up, INC-9",
        )
        .await;
    assert_eq!(rejected, Ok("REQ-rejected".to_string()));
    server.verify().await;
}

#[tokio::test]
async fn a_refused_review_shows_githubs_words() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Validation Failed",
            "errors": [{"resource": "DeploymentReview", "code": "custom",
                        "message": "Reviewer cannot approve their own deployment (prevent self-review is on)"}],
            "documentation_url": "https://docs.github.com/rest/actions/workflow-runs#review-pending-deployments-for-a-workflow-run"
        })))
        .mount(&server)
        .await;
    let err = github(&server)
        .review(9158403117, "production", &[161171787], true, "lgtm")
        .await
        .err();
    let text = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(
        text.contains("Reviewer cannot approve their own deployment"),
        "{text}"
    );
    assert!(!text.contains(TOKEN));
}

#[tokio::test]
async fn an_older_run_is_shown_after_select_run() {
    let server = MockServer::start().await;
    serve_run(&server, true).await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/actions/runs/9158300000")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 9158300000u64, "run_number": 1283, "event": "workflow_dispatch",
            "status": "completed", "conclusion": "success", "head_branch": "main",
            "head_sha": "0000000", "created_at": "2026-11-30T10:00:00Z", "run_attempt": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/actions/runs/9158300000/jobs")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_count": 1,
            "jobs": [job("Build & Lint", "completed", Some("success"), "2026-11-30T10:00:05Z", Some("2026-11-30T10:01:00Z"))]
        })))
        .mount(&server)
        .await;
    let gh = github(&server);
    gh.select_run(Some(9158300000));
    let run = match gh.latest_run().await {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        (run.number, run.event.as_str()),
        (1283, "workflow_dispatch")
    );
    assert!(run.pending.is_none());
    let recent: Vec<(u64, StageStatus)> = run.recent.iter().map(|r| (r.number, r.status)).collect();
    assert_eq!(
        recent,
        [(1284, StageStatus::Waiting), (1283, StageStatus::Success)]
    );
    server.verify().await;
}

/// An approval whose answer comes after the call timeout: the runner
/// journals its outcome as unknown and says what GitHub shows now — never
/// "failed" for a review GitHub may have applied.
#[tokio::test(flavor = "current_thread")]
async fn an_approval_answered_late_has_an_unknown_outcome_and_is_read_back() {
    use flightdeck::core::change::Step;
    use flightdeck::core::effect::{BeginCall, Effect, JournalRecord, StepCall};
    use flightdeck::core::model::LeaseHolder;
    use flightdeck::core::msg::Msg;
    use std::sync::Arc;
    let server = MockServer::start().await;
    serve_run(&server, true).await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/repos/{REPO}/actions/runs/9158403117/pending_deployments"
        )))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 42}]))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let clock: Arc<dyn flightdeck::sources::Clock> = Arc::new(flightdeck::sources::SystemClock);
    let demo =
        flightdeck::sources::demo::sources(&flightdeck::sources::demo::scenario::GOOD, clock, 1);
    let sources = flightdeck::sources::Sources {
        pipeline: Arc::new(github(&server)),
        ..demo
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let journal = match flightdeck::journal::Journal::open(&dir.path().join("j.jsonl")) {
        Ok(j) => j,
        Err(e) => panic!("{e}"),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (effects, _runner) = flightdeck::runtime::runner::spawn_with_timeout(
        sources,
        journal,
        tx,
        Duration::from_secs(1),
    );
    let record = |result: &str| JournalRecord {
        time: "2026-12-01T10:30:00Z".into(),
        operator: "ana".into(),
        service: "auth-service".into(),
        identity: None,
        action: "approve".into(),
        from: "production waiting 1/2".into(),
        to: "approved".into(),
        reason: Some("green".into()),
        result: result.into(),
        request_ids: Vec::new(),
        automatic: false,
        change: Some("c-1".into()),
        step: None,
        steps: Vec::new(),
        weights: None,
        via: None,
    };
    let holder = LeaseHolder {
        operator: "ana".into(),
        via: "console".into(),
        change: "c-1".into(),
        action: "approve".into(),
        host: String::new(),
        pid: 0,
        since: String::new(),
        call_until: None,
        started: None,
    };
    let sent = effects.send(Effect::Begin(BeginCall {
        change: 1,
        holder,
        take_over: false,
        start: record("started"),
    }));
    assert!(sent.is_ok());
    let sent = effects.send(Effect::Step(StepCall {
        change: 1,
        index: 0,
        step: Step::Review {
            run_id: 9158403117,
            environment: "production".into(),
            environment_ids: vec![161171787],
            approve: true,
            comment: "green".into(),
        },
        before: vec![record("started")],
        after: record("ok"),
    }));
    assert!(sent.is_ok());
    let done = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(msg) = rx.recv().await {
            if let Msg::StepDone { result, .. } = msg {
                return Some(result);
            }
        }
        None
    })
    .await;
    let Ok(Some(Err(e))) = done else {
        panic!("{done:?}");
    };
    assert_eq!(e.kind, ErrorKind::Timeout, "{e}");
    assert!(
        e.message.starts_with("outcome unknown: ")
            && e.message.contains("(it may have been applied)")
            && e.message
                .contains("the deployment to production is still waiting for review"),
        "{e}"
    );
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| !h.contains("reads retry")),
        "a hint for a write: {e}"
    );
    let text = std::fs::read_to_string(dir.path().join("j.jsonl")).unwrap_or_default();
    assert!(
        text.lines()
            .any(|l| l.contains("\"result\":\"unknown: outcome unknown")),
        "{text}"
    );
}

/// GitHub (or a proxy before it) quoting the Authorization header the
/// request carried, in its `message` and `errors`.
struct EchoToken(u16);

impl wiremock::Respond for EchoToken {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        ResponseTemplate::new(self.0).set_body_json(json!({
            "message": format!("Bad credentials: {auth}"),
            "errors": [{"message": format!("token {} refused", auth.trim_start_matches("Bearer "))}],
            "documentation_url": "https://docs.github.com/rest"
        }))
    }
}

#[tokio::test]
async fn refusals_that_echo_the_token_never_show_it() {
    // Only this test uses this token: the adapter must register it itself.
    const ECHO_TOKEN: &str = "ghp_echoEcho0123456789abcdefABCDEF012345";
    for status in [401, 403, 500, 422] {
        let server = MockServer::start().await;
        Mock::given(header(
            "Authorization",
            format!("Bearer {ECHO_TOKEN}").as_str(),
        ))
        .respond_with(EchoToken(status))
        .mount(&server)
        .await;
        let settings = Settings {
            api_url: Some(server.uri()),
            repo: REPO.into(),
            workflow: "auth-service-pipeline.yml".into(),
            branch: "main".into(),
            targets: Vec::new(),
        };
        let gh = match GitHub::new(settings, Token::new(ECHO_TOKEN), Duration::from_secs(5)) {
            Ok(g) => g,
            Err(e) => panic!("client: {e}"),
        };
        let err = if status == 422 {
            gh.review(9158403117, "production", &[161171787], true, "lgtm")
                .await
                .err()
        } else {
            gh.latest_run().await.err()
        };
        let Some(err) = err else {
            panic!("a {status} gave no error")
        };
        assert!(
            err.message.contains("Bad credentials: Bearer [redacted]")
                && err.message.contains("token [redacted] refused"),
            "{err:?}"
        );
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains(ECHO_TOKEN) && !text.contains(&ECHO_TOKEN[..16]),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_fleet_overview_reads_each_pipeline_once_a_round_for_its_approvals() {
    use flightdeck::sources::Pipeline;
    use flightdeck::sources::approvals::Approvals;
    use std::sync::Arc;
    let server = MockServer::start().await;
    serve_run(&server, true).await;
    let pipeline: Arc<dyn Pipeline> = Arc::new(github(&server));
    let approvals = Approvals::new(
        vec![Some(pipeline.clone()), None, Some(pipeline)],
        Duration::from_secs(60),
    );
    let waiting = approvals.read(Duration::from_secs(5)).await;
    assert_eq!(
        waiting,
        [
            Some("production".to_string()),
            None,
            Some("production".to_string())
        ]
    );
    let runs = |requests: &[wiremock::Request]| {
        requests
            .iter()
            .filter(|r| r.url.path().ends_with("/runs"))
            .count()
    };
    let seen = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        runs(&seen),
        1,
        "one read for the two releases that share it"
    );
    // Within the round: the answer stands, nothing is asked.
    assert_eq!(approvals.read(Duration::from_secs(5)).await, waiting);
    let again = server.received_requests().await.unwrap_or_default();
    assert_eq!(runs(&again), 1);
}
