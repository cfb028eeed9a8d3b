//! The AWS adapters: ECS services, tasks and target health behind `Fleet`,
//! the ALB's weighted forward action behind `Traffic`, and the caller's
//! identity from STS. One SDK config (region, profile, endpoint, rustls)
//! serves all clients; every SDK error becomes a `SourceError` with a kind,
//! the request id, and what to do about it.

pub mod cloudwatch;
pub mod discover;
pub mod ecs;
pub mod elb;
pub mod logs;
pub mod native;
pub mod overview;

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

use crate::core::model::{ErrorKind, SourceError};

/// What the config says about AWS.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

/// The shared SDK config: the standard credential chain (env, profile,
/// SSO, web identity, instance profile), with the config's region,
/// profile and endpoint over it (`AWS_ENDPOINT_URL` works too). Keys given
/// in the environment are registered as secrets.
pub async fn sdk_config(settings: &AwsSettings, timeout: Duration) -> SdkConfig {
    loader(settings, timeout).load().await
}

fn loader(settings: &AwsSettings, timeout: Duration) -> aws_config::ConfigLoader {
    crate::secrets::register_aws_env();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(timeouts);
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &settings.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader
}

/// `sdk` with the credentials of `role` (STS AssumeRole from `sdk`'s own
/// credentials, refreshed before they expire), for a service in another
/// account. The session is named `flightdeck-USER`, so CloudTrail says who.
pub async fn assume_role(
    settings: &AwsSettings,
    timeout: Duration,
    role: &str,
    user: &str,
) -> SdkConfig {
    let sdk = sdk_config(settings, timeout).await;
    // A session name allows [\w+=,.@-], 2 to 64 characters.
    let user: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(53)
        .collect();
    let provider = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name(format!("flightdeck-{user}"))
        .configure(&sdk)
        .build()
        .await;
    loader(settings, timeout)
        .credentials_provider(provider)
        .load()
        .await
}

/// The longest [`identity`] takes, retries included: it runs before the
/// first screen.
pub const IDENTITY_BUDGET: Duration = Duration::from_secs(5);

/// The account and caller ARN (STS GetCallerIdentity), within
/// [`IDENTITY_BUDGET`]; see [`identity_within`].
pub async fn identity(config: &SdkConfig) -> Result<(String, String), SourceError> {
    identity_within(config, IDENTITY_BUDGET).await
}

/// GetCallerIdentity, retried while the answer is throttled, unavailable or
/// late (250 ms, then doubling), and never longer than `budget` in all: past
/// it the error is a Timeout. Any other error (no credentials, expired
/// token) is returned at once. The SDK's own retries are off for this call,
/// so each attempt is one request and the budget holds.
pub async fn identity_within(
    config: &SdkConfig,
    budget: Duration,
) -> Result<(String, String), SourceError> {
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(config)
            .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
            .build(),
    );
    let deadline = tokio::time::Instant::now() + budget;
    let mut pause = Duration::from_millis(250);
    loop {
        let attempt = tokio::time::timeout_at(deadline, sts.get_caller_identity().send()).await;
        let e = match attempt {
            Ok(Ok(out)) => {
                return Ok((
                    out.account().unwrap_or("unknown").to_string(),
                    out.arn().unwrap_or("unknown").to_string(),
                ));
            }
            Ok(Err(e)) => error("sts:GetCallerIdentity", "the caller", e),
            Err(_) => return Err(identity_late(budget, None)),
        };
        let retryable = matches!(
            e.kind,
            ErrorKind::Throttled { .. } | ErrorKind::Unavailable | ErrorKind::Timeout
        );
        if !retryable {
            return Err(e);
        }
        if tokio::time::Instant::now() + pause >= deadline {
            return Err(identity_late(budget, Some(e)));
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

/// GetCallerIdentity gave no answer within the budget; the last refusal,
/// if there was one, says why.
fn identity_late(budget: Duration, last: Option<SourceError>) -> SourceError {
    let why = last.map_or(String::new(), |e| format!(" (last answer: {e})"));
    let mut err = SourceError::of_kind(
        ErrorKind::Timeout,
        format!(
            "sts:GetCallerIdentity gave no identity within {}s{why}",
            budget.as_secs_f64()
        ),
    );
    err.hint =
        Some("STS is slow or throttled; the account can be read from a configured ARN".into());
    err
}

/// The resource part of an ARN (`listener-rule/app/alb/1/2/3`), None when
/// the text is not one.
fn arn_resource(arn: &str) -> Option<&str> {
    let mut fields = arn.splitn(6, ':');
    (fields.next() == Some("arn")).then_some(())?;
    fields.nth(4).filter(|r| !r.is_empty())
}

/// The account of an ARN (`arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`),
/// such as a listener rule's or a target group's: the fallback when STS
/// does not answer. None unless that field is a 12-digit account id.
pub fn account_from_arn(arn: &str) -> Option<String> {
    let mut fields = arn.splitn(6, ':');
    if fields.next() != Some("arn") {
        return None;
    }
    let account = fields.nth(3)?;
    // The resource must follow.
    fields.next()?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        .then(|| account.to_string())
}

/// An SDK error as data for a pane: the kind, the request id, the IAM
/// action and resource it was about, and what to do.
pub fn error<E>(
    action: &str,
    resource: &str,
    e: aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    // An ARN by its resource part: the account and region are on the
    // header, and the line stays short.
    let resource = arn_resource(resource).unwrap_or(resource);
    let request_id = e.request_id().map(str::to_string);
    let code = e.code().unwrap_or_default().to_string();
    let whole = redact(&format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&e)
    ));
    // The SDK's whole chain of causes goes to the --log file; messages stay
    // one line.
    crate::debug_log::write(&format!("{action} on {resource}"), &whole);
    let detail = crate::text::one_line(&whole, 120);
    // Without a code (a proxy's HTML page, the wrong endpoint), the whole
    // error is the message.
    let message = match e.message() {
        Some(m) if !code.is_empty() => redact(m),
        _ => detail.clone(),
    };
    let (kind, text, hint) = match &e {
        SdkError::TimeoutError(_) => (
            ErrorKind::Timeout,
            format!("{action} on {resource}: no answer in time"),
            Some("the call may or may not have happened; check before acting again".to_string()),
        ),
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
            if detail.contains("credentials") || detail.contains("token") =>
        {
            (
                ErrorKind::Auth,
                format!("{action}: no usable AWS credentials: {detail}"),
                Some(format!(
                    "run `aws sso login` (with --profile NAME for a named profile), or set AWS_PROFILE / [aws] profile; {}",
                    crate::debug_log::where_the_rest_is()
                )),
            )
        }
        SdkError::DispatchFailure(_) => (
            ErrorKind::Unavailable,
            format!("{action}: cannot reach AWS: {detail}"),
            Some(format!(
                "check the network, the region and [aws] endpoint_url; {}",
                crate::debug_log::where_the_rest_is()
            )),
        ),
        _ => classify(action, resource, &code, &message),
    };
    let mut err = SourceError::of_kind(kind, text);
    err.hint = hint;
    err.request_id = request_id;
    err
}

/// A service error by its code.
fn classify(
    action: &str,
    resource: &str,
    code: &str,
    message: &str,
) -> (ErrorKind, String, Option<String>) {
    let text = format!("{action} on {resource}: {code}: {message}");
    match code {
        // AWS's own message repeats the principal, the action and the
        // resource at length: the line names them once, the rest is in the
        // --log file.
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
            let lower = message.to_ascii_lowercase();
            let (why, fix) = if lower.contains("explicit deny") {
                (" by an explicit deny", "lift the deny")
            } else {
                ("", "grant it to the IAM principal")
            };
            (
                ErrorKind::Auth,
                format!("{action} on {resource}: {code}{why}"),
                Some(format!("{fix}; {}", crate::debug_log::where_the_rest_is())),
            )
        }
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch" => (
            ErrorKind::Auth,
            text,
            Some(
                "the credentials expired or are wrong: run `aws sso login --profile <profile>`"
                    .into(),
            ),
        ),
        "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded" => (
            ErrorKind::Throttled { retry_after: None },
            text,
            Some(
                "AWS asked to slow down: reads back off and retry; a change stops at this step, try it again in a moment"
                    .into(),
            ),
        ),
        "ServiceNotFoundException"
        | "ClusterNotFoundException"
        | "RuleNotFound"
        | "ListenerNotFound"
        | "TargetGroupNotFound"
        | "ServiceNotActiveException" => (
            ErrorKind::NotFound,
            text,
            Some("check the names and ARNs of this service in the config".into()),
        ),
        "ServerException" | "ServiceUnavailable" | "InternalFailure" | "InternalError" => (
            ErrorKind::Unavailable,
            text,
            Some("AWS failed: retrying".into()),
        ),
        _ => (ErrorKind::Other, text, None),
    }
}

/// An AWS message as it may be shown and journaled: signature errors can
/// echo the canonical request, session token included. Cut it there, and
/// scrub any secret the process holds from the rest.
fn redact(text: &str) -> String {
    crate::secrets::scrubbed(cut_request_details(text))
}

fn cut_request_details(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let cut = [
        "canonical string",
        "string-to-sign",
        "x-amz-security-token",
        "authorization:",
    ]
    .iter()
    .filter_map(|marker| lower.find(marker))
    .min();
    match cut {
        Some(at) => format!("{} [rest withheld: request details]", text[..at].trim_end()),
        None => text.to_string(),
    }
}

/// `family:revision` from a task definition ARN (or the text as it is).
pub fn short_task_definition(arn: &str) -> String {
    arn.rsplit_once('/')
        .map_or(arn, |(_, rest)| rest)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_is_shown_by_its_resource_part() {
        assert_eq!(
            arn_resource("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/s/1"),
            Some("targetgroup/s/1")
        );
        assert_eq!(arn_resource("auth-production"), None);
        assert_eq!(arn_resource("arn:aws:x:r:1:"), None);
    }

    #[test]
    fn the_account_is_the_fifth_field_of_an_arn() {
        assert_eq!(
            account_from_arn(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/prod-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
            )
            .as_deref(),
            Some("123456789012")
        );
        assert_eq!(
            account_from_arn("arn:aws-cn:ecs:cn-north-1:210987654321:service/prod/auth").as_deref(),
            Some("210987654321")
        );
        // No account (S3), a named one (AWS-managed policy), too short, not
        // an ARN, no resource.
        for arn in [
            "arn:aws:s3:::my-bucket",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:ecs:eu-west-1:1:service/prod/auth",
            "auth-stable",
            "",
            "arn:aws:ecs:eu-west-1:123456789012",
            "nra:aws:ecs:eu-west-1:123456789012:service/x",
        ] {
            assert_eq!(account_from_arn(arn), None, "{arn}");
        }
    }

    /// STS on a local fake (awsQuery XML, as STS answers).
    mod sts {
        use super::*;
        use wiremock::matchers::{body_string_contains, method};
        use wiremock::{Mock, MockServer, ResponseTemplate};

        const THROTTLED: &str = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>"#;
        const DENIED: &str = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c8</RequestId></ErrorResponse>"#;
        const IDENTITY: &str = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/ops/ana</Arn><UserId>AROAEXAMPLE:ana</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>01234567-89ab-cdef-0123-456789abcdef</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#;

        async fn config(url: &str) -> SdkConfig {
            let http = aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https();
            aws_config::defaults(BehaviorVersion::latest())
                .http_client(http)
                .region(Region::new("eu-west-1"))
                .endpoint_url(url)
                .credentials_provider(aws_sdk_sts::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .load()
                .await
        }

        fn xml(status: u16, body: &str) -> ResponseTemplate {
            ResponseTemplate::new(status).set_body_raw(body.to_string(), "text/xml")
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_throttled_identity_is_retried() -> Result<(), String> {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(body_string_contains("Action=GetCallerIdentity"))
                .respond_with(xml(400, THROTTLED))
                .up_to_n_times(2)
                .expect(2)
                .mount(&server)
                .await;
            Mock::given(method("POST"))
                .respond_with(xml(200, IDENTITY))
                .expect(1)
                .mount(&server)
                .await;
            let got = identity(&config(&server.uri()).await).await;
            assert_eq!(
                got,
                Ok((
                    "123456789012".to_string(),
                    "arn:aws:sts::123456789012:assumed-role/ops/ana".to_string()
                ))
            );
            server.verify().await;
            Ok(())
        }

        #[tokio::test(flavor = "current_thread")]
        async fn an_expired_token_is_not_retried() {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(xml(403, DENIED))
                .expect(1)
                .mount(&server)
                .await;
            let got = identity(&config(&server.uri()).await).await;
            assert!(
                got.as_ref().is_err_and(|e| e.kind == ErrorKind::Auth),
                "{got:?}"
            );
            server.verify().await;
        }

        #[tokio::test(flavor = "current_thread")]
        async fn throttled_or_silent_sts_gives_up_within_the_budget() {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(xml(400, THROTTLED))
                .mount(&server)
                .await;
            let started = std::time::Instant::now();
            let got = identity_within(&config(&server.uri()).await, Duration::from_secs(1)).await;
            let took = started.elapsed();
            assert!(
                got.as_ref().is_err_and(
                    |e| e.kind == ErrorKind::Timeout && e.to_string().contains("Throttling")
                ),
                "{got:?}"
            );
            assert!(took < Duration::from_secs(2), "{took:?}");
            // Attempts at 0, 0.25 and 0.75 s (fewer if a request is slow);
            // the next would be at 1.75.
            let asked = server.received_requests().await.map_or(0, |r| r.len());
            assert!((2..=3).contains(&asked), "{asked} requests");

            let silent = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(xml(200, IDENTITY).set_delay(Duration::from_secs(10)))
                .mount(&silent)
                .await;
            let started = std::time::Instant::now();
            let got = identity_within(&config(&silent.uri()).await, Duration::from_secs(1)).await;
            let took = started.elapsed();
            assert!(
                got.as_ref().is_err_and(|e| e.kind == ErrorKind::Timeout),
                "{got:?}"
            );
            assert!(took < Duration::from_secs(3), "{took:?}");
        }
    }

    #[test]
    fn task_definition_arns_read_as_family_and_revision() {
        assert_eq!(
            short_task_definition("arn:aws:ecs:eu-west-1:1:task-definition/auth-service:41"),
            "auth-service:41"
        );
        assert_eq!(short_task_definition("auth-service:42"), "auth-service:42");
    }

    #[test]
    fn signature_errors_never_echo_the_request() {
        let m = "The request signature we calculated does not match. The Canonical String for this request should have been 'POST / x-amz-security-token:FQoGZXIvYXdzE...'";
        let shown = redact(m);
        assert!(
            !shown.contains("FQoGZXIv") && !shown.contains("x-amz-security-token"),
            "{shown}"
        );
        assert!(shown.starts_with("The request signature we calculated does not match."));
        assert_eq!(redact("plain"), "plain");
    }

    #[test]
    fn messages_never_show_a_secret_the_process_holds() {
        let token = "FwoGZXIvYXdzEBaaRedactTestSessionToken";
        crate::secrets::register(token);
        let shown = redact(&format!(
            "The security token included in the request is invalid: {token}"
        ));
        assert_eq!(
            shown,
            "The security token included in the request is invalid: [redacted]"
        );
    }

    #[test]
    fn access_denied_names_the_action_and_resource() {
        let (kind, text, hint) = classify(
            "elasticloadbalancing:ModifyRule",
            "arn:rule",
            "AccessDenied",
            "not authorized",
        );
        assert_eq!(kind, ErrorKind::Auth);
        assert_eq!(
            text,
            "elasticloadbalancing:ModifyRule on arn:rule: AccessDenied"
        );
        assert!(
            hint.as_deref()
                .is_some_and(|h| h.starts_with("grant it to the IAM principal;")),
            "{hint:?}"
        );
        let (_, text, hint) = classify(
            "ecs:UpdateService",
            "s",
            "AccessDeniedException",
            "User: x is not authorized to perform: ecs:UpdateService with an explicit deny in a service control policy",
        );
        assert_eq!(
            text,
            "ecs:UpdateService on s: AccessDeniedException by an explicit deny"
        );
        assert!(hint.is_some_and(|h| h.starts_with("lift the deny")));
        let (kind, ..) = classify("ecs:UpdateService", "s", "ThrottlingException", "slow");
        assert_eq!(kind, ErrorKind::Throttled { retry_after: None });
    }
}
