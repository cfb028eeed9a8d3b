//! Metrics providers over HTTP (Datadog, Prometheus) and what they share:
//! the per-service queries with `{version}`, the merge of one series per
//! metric into points by (track, time), and HTTP errors as data for the
//! Canary pane — 429 and rate-limit headers become `Throttled` with the wait
//! the provider asked for, keys never appear in a message (`clean` and
//! `SourceError` scrub what a provider echoes).

pub mod datadog;
pub mod prometheus;

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::Duration;

use crate::core::model::{ErrorKind, MetricPoint, SourceError, Time, Track};

/// `[service.analysis]` queries; `{version}` becomes `canary` or `stable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queries {
    /// Error rate in percent (0–100).
    pub error_rate: String,
    /// p95 latency in milliseconds.
    pub p95: String,
    /// Requests per period, for `min_requests`; without it the verdict says
    /// the count is unchecked.
    pub requests: Option<String>,
}

/// Which field of a point a series fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ErrorRate,
    P95,
    Requests,
}

impl Queries {
    /// Every query to run: (track, field, query text).
    pub fn all(&self) -> Vec<(Track, Field, String)> {
        let mut out = Vec::new();
        for track in [Track::Canary, Track::Stable] {
            let fill = |q: &str| q.replace("{version}", track.label());
            out.push((track, Field::ErrorRate, fill(&self.error_rate)));
            out.push((track, Field::P95, fill(&self.p95)));
            if let Some(r) = &self.requests {
                out.push((track, Field::Requests, fill(r)));
            }
        }
        out
    }
}

/// Points built from one series per (track, field), keyed by time.
#[derive(Default)]
pub struct Merge {
    points: BTreeMap<(Time, Track), MetricPoint>,
}

impl Merge {
    pub fn add(&mut self, track: Track, field: Field, at: Time, value: f64) {
        let point = self
            .points
            .entry((at, track))
            .or_insert_with(|| MetricPoint::empty(at, track));
        match field {
            Field::ErrorRate => point.error_pct = Some(value),
            Field::P95 => point.p95_ms = Some(value),
            // A count that is not a whole, non-negative number is not a
            // count: leave it out rather than invent one.
            Field::Requests => {
                point.requests = (value.is_finite() && value >= 0.0).then(|| value.round() as u64)
            }
        }
    }

    /// Oldest first.
    pub fn finish(self) -> Vec<MetricPoint> {
        self.points.into_values().collect()
    }
}

/// One HTTP client for a provider: rustls with ring, the call timeout,
/// no redirects to other hosts carrying keys.
pub fn client(timeout: Duration) -> Result<reqwest::Client, SourceError> {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Fails only when a provider is already installed: that one serves.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("flightdeck/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SourceError::new(format!("cannot build the HTTP client: {}", e.without_url())))
}

/// Send a GET and read its body: the body of a success, or the error as
/// data (`status_error`, with `auth_hint` for 401/403).
pub async fn fetch(
    provider: &str,
    request: reqwest::RequestBuilder,
    auth_hint: &str,
) -> Result<String, SourceError> {
    let response = request
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| send_error(provider, e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.map_err(|e| send_error(provider, e))?;
    if !status.is_success() {
        return Err(status_error(provider, status, &headers, &body, auth_hint));
    }
    Ok(body)
}

/// A request that did not get an answer: timeout or unreachable. The URL is
/// left out (it may carry credentials in its userinfo).
pub fn send_error(provider: &str, e: reqwest::Error) -> SourceError {
    send_error_with(provider, e, "check the network and [metrics] api_url")
}

/// `send_error` with the setting to check named.
pub fn send_error_with(provider: &str, e: reqwest::Error, check: &str) -> SourceError {
    let e = e.without_url();
    if e.is_timeout() {
        SourceError::of_kind(ErrorKind::Timeout, format!("{provider}: no answer in time"))
            .with_hint("reads retry with backoff; raise [poll] call_timeout if it is slow")
    } else {
        SourceError::of_kind(
            ErrorKind::Unavailable,
            format!("{provider}: cannot reach the API: {}", error_chain(&e)),
        )
        .with_hint(check.to_string())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// An answer that is not a success, as data: the kind from the status, the
/// provider's own message from the body (cut short), and what to do.
pub fn status_error(
    provider: &str,
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    auth_hint: &str,
) -> SourceError {
    let said = provider_message(body);
    let text = if said.is_empty() {
        format!("{provider}: HTTP {status}")
    } else {
        format!("{provider}: HTTP {status}: {said}")
    };
    let request_id = ["x-request-id", "dd-request-id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::to_string);
    let mut err = match status.as_u16() {
        401 | 403 => SourceError::of_kind(ErrorKind::Auth, text).with_hint(auth_hint),
        404 => SourceError::of_kind(ErrorKind::NotFound, text)
            .with_hint("check [metrics] api_url (the API's base URL, without /api/...)"),
        429 => {
            let wait = retry_after(headers);
            let when = wait.map_or("with backoff".to_string(), |w| {
                format!("in {}", humantime::format_duration(w))
            });
            SourceError::of_kind(ErrorKind::Throttled { retry_after: wait }, text)
                .with_hint(format!("rate limited: backing off, next read {when}"))
        }
        400 | 422 => SourceError::of_kind(ErrorKind::Other, text)
            .with_hint("check error_rate_query / p95_query in [service.analysis]"),
        500..=599 => SourceError::of_kind(ErrorKind::Unavailable, text)
            .with_hint("the provider failed: retrying with backoff"),
        _ => SourceError::of_kind(ErrorKind::Other, text),
    };
    err.request_id = request_id;
    err
}

/// How long the provider asked us to wait: `Retry-After` (seconds, or an
/// HTTP date), or Datadog's `X-RateLimit-Reset` (seconds until the window
/// resets). At least a second and at most `MAX_ASKED_WAIT`: a provider
/// asking for a day is read again in an hour (the pane says so).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    retry_after_at(headers, chrono::Utc::now())
}

/// The longest wait a provider's answer can impose.
pub const MAX_ASKED_WAIT: Duration = Duration::from_secs(3600);

/// `retry_after` at `now` (an HTTP date is a moment, not a length).
pub fn retry_after_at(headers: &reqwest::header::HeaderMap, now: Time) -> Option<Duration> {
    ["retry-after", "x-ratelimit-reset"].iter().find_map(|h| {
        let text = headers.get(*h)?.to_str().ok()?.trim();
        let secs = match text.parse::<u64>() {
            Ok(secs) => secs,
            Err(_) if *h == "retry-after" => {
                let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
                u64::try_from((at.with_timezone(&chrono::Utc) - now).num_seconds()).unwrap_or(0)
            }
            Err(_) => return None,
        };
        Some(Duration::from_secs(secs).clamp(Duration::from_secs(1), MAX_ASKED_WAIT))
    })
}

/// The error text a provider put in its body: Datadog's `errors[]`,
/// Prometheus' `error`; else the start of the body. One line, at most 200
/// characters, control characters dropped.
fn provider_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let text = match &parsed {
        Some(v) => {
            if let Some(list) = v.get("errors").and_then(|e| e.as_array()) {
                list.iter()
                    .filter_map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            } else if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                e.to_string()
            } else {
                String::new()
            }
        }
        None => body.to_string(),
    };
    clean(&text)
}

/// A URL as it may be shown: `user:password@` withheld.
pub fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => {
            let sep = if scheme.is_empty() { "" } else { "://" };
            format!("{scheme}{sep}[withheld]@{}", &rest[at + 1..])
        }
        None => url.to_string(),
    }
}

/// A provider's own error text, made one short inert line, with the
/// secrets this process holds removed (before it is cut, so a cut never
/// leaves the start of a secret).
pub fn clean(text: &str) -> String {
    crate::text::one_line(text, 200)
}

/// A JSON answer that does not have the documented shape.
pub fn shape_error(provider: &str, what: &str) -> SourceError {
    SourceError::new(format!("{provider}: unexpected answer: {what}"))
        .with_hint("is [metrics] api_url the provider's API?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_an_http_date_and_is_capped() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:30:00Z")
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("retry-after", HeaderValue::from_static(v));
            retry_after_at(&h, now)
        };
        assert_eq!(with("42"), Some(Duration::from_secs(42)));
        assert_eq!(
            with("Tue, 01 Dec 2026 10:31:30 GMT"),
            Some(Duration::from_secs(90))
        );
        // A date in the past: read again in a second; a day: in an hour.
        assert_eq!(
            with("Tue, 01 Dec 2026 10:00:00 GMT"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(with("86400"), Some(MAX_ASKED_WAIT));
        assert_eq!(with("soon"), None);
    }
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn queries_fill_the_version_for_both_tracks() {
        let q = Queries {
            error_rate: "sum:auth.service.error_rate{version:{version}}".into(),
            p95: "p95:auth.service.latency{version:{version}}".into(),
            requests: None,
        };
        let all = q.all();
        assert_eq!(all.len(), 4);
        assert_eq!(
            all[0].2,
            "sum:auth.service.error_rate{version:canary}".to_string()
        );
        assert_eq!(all[3].2, "p95:auth.service.latency{version:stable}");
    }

    #[test]
    fn throttling_says_how_long_and_keeps_the_wait() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", HeaderValue::from_static("17"));
        let e = status_error(
            "Datadog",
            reqwest::StatusCode::TOO_MANY_REQUESTS,
            &h,
            r#"{"errors":["Rate limit\nexceeded"]}"#,
            "",
        );
        assert_eq!(
            e.kind,
            ErrorKind::Throttled {
                retry_after: Some(Duration::from_secs(17))
            }
        );
        assert!(e.to_string().contains("Rate limit exceeded"), "{e}");
        assert!(e.to_string().contains("next read in 17s"), "{e}");
    }

    #[test]
    fn userinfo_is_withheld() {
        assert_eq!(
            without_userinfo("prom:pw@host:9090"),
            "[withheld]@host:9090"
        );
        assert_eq!(
            without_userinfo("https://u:secret@prom.example/x@y"),
            "https://[withheld]@prom.example/x@y"
        );
        assert_eq!(without_userinfo("http://prom:9090"), "http://prom:9090");
    }

    #[test]
    fn a_secret_where_the_text_is_cut_leaves_no_start_of_it() {
        let key = "clean-cut-key-0123456789abcdef";
        crate::secrets::register(key);
        // The key starts at character 181: a cut at 200 before scrubbing
        // would show its first 19 characters.
        let body = format!("{} {key} tail", "x".repeat(180));
        let said = clean(&body);
        assert!(!said.contains("clean-cut-"), "{said}");
        assert!(said.ends_with("[redacted] tail"), "{said}");
    }

    #[test]
    fn bodies_are_cut_and_made_one_line() {
        let long = format!("<html>{}\u{1b}[2J</html>", "x".repeat(500));
        let said = provider_message(&long);
        assert!(said.chars().count() <= 201);
        assert!(!said.contains('\u{1b}'));
    }
}
