//! The AWS adapters: ECS services, tasks and target health behind `Fleet`,
//! the ALB's weighted forward action behind `Traffic`, and the caller's
//! identity from STS. One SDK config (region, profile, endpoint, rustls)
//! serves all clients; every SDK error becomes a `SourceError` with a kind,
//! the request id, and what to do about it.

pub mod cloudwatch;
pub mod ecs;
pub mod elb;
pub mod logs;

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
/// profile and endpoint over it (`AWS_ENDPOINT_URL` works too).
pub async fn sdk_config(settings: &AwsSettings, timeout: Duration) -> SdkConfig {
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
    loader.load().await
}

/// The account and caller ARN (STS GetCallerIdentity).
pub async fn identity(config: &SdkConfig) -> Result<(String, String), SourceError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| error("sts:GetCallerIdentity", "the caller", e))?;
    Ok((
        out.account().unwrap_or("unknown").to_string(),
        out.arn().unwrap_or("unknown").to_string(),
    ))
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
    let request_id = e.request_id().map(str::to_string);
    let code = e.code().unwrap_or_default().to_string();
    let detail = redact(&format!(
        "{}",
        aws_smithy_types::error::display::DisplayErrorContext(&e)
    ));
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
                Some(
                    "run `aws sso login` (with --profile NAME for a named profile), or set AWS_PROFILE / [aws] profile"
                        .to_string(),
                ),
            )
        }
        SdkError::DispatchFailure(_) => (
            ErrorKind::Unavailable,
            format!("{action}: cannot reach AWS: {detail}"),
            Some("check the network, the region and [aws] endpoint_url".to_string()),
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
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => (
            ErrorKind::Auth,
            text,
            Some(format!("the IAM principal needs {action} on {resource}")),
        ),
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
/// echo the canonical request, session token included. Cut it there.
fn redact(text: &str) -> String {
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
    fn access_denied_names_the_action_and_resource() {
        let (kind, text, hint) = classify(
            "elasticloadbalancing:ModifyRule",
            "arn:rule",
            "AccessDenied",
            "not authorized",
        );
        assert_eq!(kind, ErrorKind::Auth);
        assert!(text.contains("AccessDenied"));
        assert_eq!(
            hint.as_deref(),
            Some("the IAM principal needs elasticloadbalancing:ModifyRule on arn:rule")
        );
        let (kind, ..) = classify("ecs:UpdateService", "s", "ThrottlingException", "slow");
        assert_eq!(kind, ErrorKind::Throttled { retry_after: None });
    }
}
