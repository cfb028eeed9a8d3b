//! The secrets this process holds, and the one scrubber that removes them
//! from text that came from a provider. A provider can echo what a request
//! carried (a 403 body quoting the API key, a proxy page quoting the
//! Authorization header): whatever it says passes `scrub` before a pane,
//! the journal, a notification, stderr or JSON sees it.
//!
//! The registry is process-wide and only grows: each secret is registered
//! where it is read (Datadog keys, the GitHub token, the Slack webhook, a
//! Prometheus URL's password, AWS keys from the environment). Registering
//! more only redacts more, so parallel tests cannot hurt one another.

use std::borrow::Cow;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not registered: "prod" or "admin" as a
/// password must not mangle every text that happens to contain the word.
pub const MIN_LEN: usize = 8;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());
/// Whether anything was registered: the common case (demo, tests of other
/// things) skips the lock.
static ANY: AtomicBool = AtomicBool::new(false);

/// Remember a secret (and the forms a provider may echo it in: with `/`
/// escaped as JSON may write it). Blank and short values are ignored.
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_LEN {
        return;
    }
    let mut forms = vec![value.to_string()];
    if value.contains('/') {
        forms.push(value.replace('/', "\\/"));
    }
    let Ok(mut secrets) = SECRETS.write() else {
        return;
    };
    for form in forms {
        if !secrets.contains(&form) {
            secrets.push(form);
        }
    }
    ANY.store(true, Ordering::Release);
}

/// Register the password of a URL's userinfo (`https://user:pw@host`), its
/// `user:pw` pair and that pair as Basic auth sends it (base64), since
/// the HTTP client turns the userinfo into an Authorization header.
pub fn register_url_userinfo(url: &str) {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return;
    };
    let Some(password) = parsed.password() else {
        return;
    };
    let user = percent_decode(parsed.username());
    let password = percent_decode(password);
    register(&password);
    register(parsed.password().unwrap_or_default());
    let pair = format!("{user}:{password}");
    register(&pair);
    register(&base64(pair.as_bytes()));
}

/// Register a URL that is itself a secret (a Slack incoming webhook): the
/// whole URL, its path and query (what a receiver echoes most) and any
/// userinfo.
pub fn register_url(url: &str) {
    register(url);
    if let Ok(parsed) = reqwest::Url::parse(url.trim()) {
        register(parsed.as_str());
        register(parsed.path());
        if let Some(query) = parsed.query() {
            register(query);
        }
    }
    register_url_userinfo(url);
}

/// Register what the AWS credential chain reads from the environment.
pub fn register_aws_env() {
    for name in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
        if let Ok(value) = std::env::var(name) {
            register(&value);
        }
    }
}

/// `text` with every registered secret replaced by [`REDACTED`]. Where
/// secrets overlap or touch, the whole stretch they cover is replaced once,
/// so no part of either is left. Borrowed when nothing was found.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if !ANY.load(Ordering::Acquire) || text.len() < MIN_LEN {
        return Cow::Borrowed(text);
    }
    let Ok(secrets) = SECRETS.read() else {
        // A poisoned registry: say nothing rather than risk a secret.
        return Cow::Owned(REDACTED.to_string());
    };
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for secret in secrets.iter() {
        let mut from = 0;
        while let Some(at) = text[from..].find(secret.as_str()) {
            let start = from + at;
            spans.push((start, start + secret.len()));
            // Next search from the next character: a secret may overlap
            // itself ("aaaa…" in "aaaaa…").
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut shown = 0;
    let mut covered: Option<(usize, usize)> = None;
    for (start, end) in spans {
        match &mut covered {
            Some((_, cover_end)) if start <= *cover_end => *cover_end = (*cover_end).max(end),
            _ => {
                if let Some((s, e)) = covered.take() {
                    out.push_str(&text[shown..s]);
                    out.push_str(REDACTED);
                    shown = e;
                }
                covered = Some((start, end));
            }
        }
    }
    if let Some((s, e)) = covered {
        out.push_str(&text[shown..s]);
        out.push_str(REDACTED);
        shown = e;
    }
    out.push_str(&text[shown..]);
    Cow::Owned(out)
}

/// `scrub` into an owned String.
pub fn scrubbed(text: impl Into<String>) -> String {
    let text = text.into();
    match scrub(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(clean) => clean,
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Standard base64 with padding (as Basic auth writes `user:password`).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ABC[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The registry is shared with every other test in this binary: each
    // test registers its own values, and only more gets redacted.

    #[test]
    fn every_secret_is_replaced_wherever_it_stands() {
        register("scrub-test-api-0123456789");
        register("scrub-test-app-abcdefghij");
        let text = "403: keys scrub-test-api-0123456789 and scrub-test-app-abcdefghij; again scrub-test-api-0123456789.";
        assert_eq!(
            scrub(text),
            "403: keys [redacted] and [redacted]; again [redacted]."
        );
    }

    #[test]
    fn secrets_that_touch_or_overlap_leave_nothing_of_either() {
        register("touchAAAA1111");
        register("touchBBBB2222");
        // Split across nothing: one right after the other.
        assert_eq!(
            scrub("x=touchAAAA1111touchBBBB2222!"),
            "x=[redacted]!",
            "adjacent secrets"
        );
        // Overlapping: the end of one is the start of the other.
        register("overlap-XY-12345");
        register("12345-tail-ZZZZ");
        let shown = scrub("[overlap-XY-12345-tail-ZZZZ]");
        assert_eq!(shown, "[[redacted]]");
        // One inside the other (a webhook URL and its path).
        register("https://hooks.example/services/T000/B000/scrubXYZ");
        register("/services/T000/B000/scrubXYZ");
        assert_eq!(
            scrub(
                "posted to https://hooks.example/services/T000/B000/scrubXYZ and /services/T000/B000/scrubXYZ"
            ),
            "posted to [redacted] and [redacted]"
        );
        // Escaped as JSON writes it.
        assert_eq!(
            scrub(r#"{"url":"https:\/\/hooks.example\/services\/T000\/B000\/scrubXYZ"}"#),
            r#"{"url":"[redacted]"}"#
        );
    }

    #[test]
    fn short_values_are_not_secrets_and_clean_text_is_borrowed() {
        register("prod");
        register("  ");
        register("1234567");
        let text = "prod service 1234567 is fine";
        assert!(matches!(scrub(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn text_around_secrets_keeps_its_characters() {
        register("ünïcødé-sëcret-42");
        assert_eq!(
            scrub("é ünïcødé-sëcret-42 ü ünïcødé-sëcret-42"),
            "é [redacted] ü [redacted]"
        );
        register("zzzzzzzzzz");
        // A secret that overlaps itself.
        assert_eq!(scrub("<zzzzzzzzzzzz>"), "<[redacted]>");
    }

    #[test]
    fn basic_auth_from_a_url_is_registered_in_every_form() {
        register_url_userinfo("http://prom:p%40ss-scrub-word@prom.example:9090");
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        let header = format!("Basic {}", base64(b"prom:p@ss-scrub-word"));
        assert_eq!(scrub(&header), "Basic [redacted]");
        assert_eq!(scrub("pw p@ss-scrub-word"), "pw [redacted]");
        assert_eq!(scrub("raw p%40ss-scrub-word"), "raw [redacted]");
    }
}
