//! Pollers: one task per source, each with its own interval and backoff.
//! They send data as messages; `Effect::Refresh` wakes them all at once
//! (after a change, so the screen shows its result without waiting) —
//! except one serving a wait its provider asked for (Retry-After, a spent
//! rate limit): that one reads as soon as the wait is over.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc::UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::core::model::{ErrorKind, SourceError};
use crate::core::msg::Msg;
use crate::sources::Sources;

/// How far back each metrics poll asks: beyond any analysis lookback in
/// use (default 5 min), so a revised point is seen again.
const METRICS_WINDOW: Duration = Duration::from_secs(15 * 60);

/// The longest wait after repeated errors.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How often each source is read (`[poll]` in the config), and the longest
/// one read may take.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    pub pipeline: Duration,
    pub fleet: Duration,
    pub traffic: Duration,
    pub metrics: Duration,
    pub logs: Duration,
    pub call_timeout: Duration,
}

impl Intervals {
    /// On AWS and GitHub (config.example.toml's `[poll]`): gentle with
    /// shared API rate limits.
    pub const LIVE: Intervals = Intervals {
        pipeline: Duration::from_secs(30),
        fleet: Duration::from_secs(5),
        traffic: Duration::from_secs(5),
        metrics: Duration::from_secs(30),
        logs: Duration::from_secs(2),
        call_timeout: Duration::from_secs(30),
    };

    /// The demo's: fast, the simulator costs nothing to read.
    pub const DEMO: Intervals = Intervals {
        pipeline: Duration::from_secs(2),
        fleet: Duration::from_secs(2),
        traffic: Duration::from_secs(1),
        metrics: Duration::from_secs(1),
        // One read a frame: idle frames are a second apart.
        logs: Duration::from_secs(1),
        call_timeout: Duration::from_secs(30),
    };
}

/// The error of a poller's message, if the read failed (it then backs off).
fn failure(msg: &Msg) -> Option<&SourceError> {
    match msg {
        Msg::Pipeline(Err(e))
        | Msg::Fleet { result: Err(e), .. }
        | Msg::Traffic { result: Err(e), .. }
        | Msg::Metrics(Err(e))
        | Msg::Releases(Err(e))
        | Msg::Native(Err(e))
        | Msg::Logs(Err(e)) => Some(e),
        _ => None,
    }
}

/// While a run is in progress the pipeline is read at least every 10 s;
/// idle, at its interval (30 s live: with conditional requests a working
/// day stays far inside GitHub's 5,000 requests an hour). With the rate
/// limit spent, not before it resets.
const BUSY_PIPELINE: Duration = Duration::from_secs(10);

/// Logs are read at their interval while lines flow and up to four times
/// slower while quiet (FilterLogEvents' quota is shared by the account).
fn pace(interval: Duration, last: Duration, msg: &Msg) -> Duration {
    if let Msg::Logs(Ok(lines)) = msg {
        return if lines.is_empty() {
            last.saturating_mul(2).clamp(interval, interval * 4)
        } else {
            interval
        };
    }
    let Msg::Pipeline(Ok(run)) = msg else {
        return interval;
    };
    if let Some(until) = asked_wait(msg) {
        return interval.max(until);
    }
    if run.in_progress() {
        interval.min(BUSY_PIPELINE)
    } else {
        interval
    }
}

/// The wait a provider asked for before the next read, which a refresh
/// must not cut short: a throttled read's Retry-After, or the time until a
/// spent rate limit resets. Reading earlier only earns another refusal (and
/// can lengthen the penalty).
fn asked_wait(msg: &Msg) -> Option<Duration> {
    if let Some(SourceError {
        kind: ErrorKind::Throttled {
            retry_after: Some(asked),
        },
        ..
    }) = failure(msg)
    {
        return Some(*asked);
    }
    match msg {
        Msg::Pipeline(Ok(run)) => run.rate.filter(|rate| rate.remaining == 0).map(|rate| {
            (rate.reset - chrono::Utc::now())
                .to_std()
                .unwrap_or_default()
        }),
        _ => None,
    }
}

/// Whether a refresh that arrives at `now` ends the wait: not before the
/// end of the wait a provider asked for (`held_until`).
fn refresh_ends_wait(now: Instant, held_until: Option<Instant>) -> bool {
    held_until.is_none_or(|until| now >= until)
}

/// Sleep `wait`, woken early by a refresh unless a provider asked for
/// `held` of it; a refresh during `held` then ends the wait when `held`
/// does.
async fn sleep_or_refresh(wait: Duration, held: Option<Duration>, refresh: &Notify) {
    let start = Instant::now();
    // On this process's one-second grid, with the other pollers and the
    // frame (a provider's asked-for wait stays exact).
    let end = super::grid::align(start + wait, wait);
    let held_until = held.map(|h| start + h.min(wait));
    let mut refreshed = false;
    loop {
        let wake = match held_until {
            Some(until) if refreshed => until,
            _ => end,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => return,
            _ = refresh.notified() => {
                if refresh_ends_wait(Instant::now(), held_until) {
                    return;
                }
                refreshed = true;
            }
        }
    }
}

/// The wait before the next read: the interval after a success; after a
/// failure double the last wait (up to a minute, never below the
/// interval), and never less than what a provider that throttled us asked.
fn next_wait(last: Duration, interval: Duration, failed: Option<&SourceError>) -> Duration {
    match failed {
        None => interval,
        Some(e) => {
            let doubled = last.saturating_mul(2).min(MAX_BACKOFF.max(interval));
            match e.kind {
                // What the pane said: "next read in 42s".
                ErrorKind::Throttled {
                    retry_after: Some(asked),
                } => asked.max(interval),
                _ => doubled,
            }
        }
    }
}

/// A read that does not answer in time is an error of kind Timeout.
async fn timed<T>(
    limit: Duration,
    what: &str,
    read: impl Future<Output = Result<T, SourceError>>,
) -> Result<T, SourceError> {
    tokio::time::timeout(limit, read).await.unwrap_or_else(|_| {
        Err(SourceError::of_kind(
            ErrorKind::Timeout,
            format!("{what} did not answer in {}s", limit.as_secs()),
        ))
    })
}

pub fn spawn_all(
    sources: &Sources,
    tx: UnboundedSender<Msg>,
    refresh: Arc<Notify>,
    every_: Intervals,
) -> Vec<JoinHandle<()>> {
    let limit = every_.call_timeout;
    let every = |interval: Duration| (interval, sources.clone(), tx.clone(), refresh.clone());
    let mut tasks = Vec::new();
    tasks.push(poll_with(every(every_.pipeline), move |s| async move {
        Msg::Pipeline(
            timed(limit, "the pipeline", s.pipeline.latest_run())
                .await
                .map(Box::new),
        )
    }));
    tasks.push(poll_with(every(every_.fleet), move |s| async move {
        let started = s.clock.now();
        let result = timed(limit, "ECS", s.fleet.snapshot()).await;
        Msg::Fleet { started, result }
    }));
    tasks.push(poll_with(every(every_.traffic), move |s| async move {
        let started = s.clock.now();
        let result = timed(limit, "the load balancer", s.traffic.weights()).await;
        Msg::Traffic { started, result }
    }));
    // Metrics and logs keep a cursor: each poll asks only for what is new.
    // Metrics: the whole recent window each time (late and revised points
    // count); logs keep a cursor.
    tasks.push(poll_with(every(every_.metrics), move |s| async move {
        let to = s.clock.now();
        let from = to - chrono::Duration::from_std(METRICS_WINDOW).unwrap_or_default();
        Msg::Metrics(timed(limit, "metrics", s.metrics.points(from, to)).await)
    }));
    // An ECS-native service: its deployment, as often as the weights.
    if let Some(native) = sources.native.clone() {
        tasks.push(poll(every_.traffic, tx.clone(), refresh.clone(), move || {
            let native = native.clone();
            async move { Msg::Native(timed(limit, "the ECS deployment", native.current()).await) }
        }));
    }
    // Logs keep the source's cursor: each read gives only lines not given.
    let logs = sources.logs.clone();
    let cursor = Arc::new(std::sync::Mutex::new(crate::sources::LogCursor::default()));
    tasks.push(poll(every_.logs, tx, refresh, move || {
        let (logs, cursor) = (logs.clone(), cursor.clone());
        async move {
            let from = cursor.lock().map(|c| c.clone()).unwrap_or_default();
            match timed(limit, "logs", logs.read(from)).await {
                Ok((lines, next)) => {
                    if let Ok(mut c) = cursor.lock() {
                        *c = next;
                    }
                    Msg::Logs(Ok(lines))
                }
                Err(e) => Msg::Logs(Err(e)),
            }
        }
    }));
    tasks
}

/// The fleet overview's reads, every `interval`; one read may take
/// `limit` (it makes several calls).
pub fn spawn_releases(
    source: Arc<dyn crate::sources::Releases>,
    tx: UnboundedSender<Msg>,
    refresh: Arc<Notify>,
    interval: Duration,
    limit: Duration,
) -> JoinHandle<()> {
    poll(interval, tx, refresh, move || {
        let source = source.clone();
        async move { Msg::Releases(timed(limit, "the fleet overview", source.read()).await) }
    })
}

/// Poll with a clone of the sources for each call.
fn poll_with<F, Fut>(
    (interval, sources, tx, refresh): (Duration, Sources, UnboundedSender<Msg>, Arc<Notify>),
    fetch: F,
) -> JoinHandle<()>
where
    F: Fn(Sources) -> Fut + Send + 'static,
    Fut: Future<Output = Msg> + Send,
{
    poll(interval, tx, refresh, move || fetch(sources.clone()))
}

/// Call `fetch` every `interval` (doubling up to a minute while it fails)
/// and send what it returns; stop when the loop is gone.
fn poll<F, Fut>(
    interval: Duration,
    tx: UnboundedSender<Msg>,
    refresh: Arc<Notify>,
    fetch: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Msg> + Send,
{
    tokio::spawn(async move {
        let mut wait = interval;
        loop {
            let msg = fetch().await;
            wait = next_wait(wait, pace(interval, wait, &msg), failure(&msg));
            let held = asked_wait(&msg);
            if tx.send(msg).is_err() {
                break;
            }
            // Up to 10 % jitter, so that sources (and consoles) polling
            // the same API do not fall into step.
            let jitter = wait.mul_f64(fastrand::f64() * 0.1);
            sleep_or_refresh(wait + jitter, held, &refresh).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::Time;

    #[test]
    fn every_source_s_failure_backs_off() {
        let e = || SourceError::new("down");
        let failures = [
            Msg::Pipeline(Err(e())),
            Msg::Fleet {
                started: Time::default(),
                result: Err(e()),
            },
            Msg::Traffic {
                started: Time::default(),
                result: Err(e()),
            },
            Msg::Metrics(Err(e())),
            Msg::Logs(Err(e())),
            Msg::Releases(Err(e())),
        ];
        assert!(failures.iter().all(|m| failure(m).is_some()));
        assert!(failure(&Msg::Logs(Ok(Vec::new()))).is_none());
    }

    #[test]
    fn quiet_logs_are_read_slower_and_flowing_ones_at_the_interval() {
        let s = Duration::from_secs;
        let quiet = Msg::Logs(Ok(Vec::new()));
        assert_eq!(pace(s(2), s(2), &quiet), s(4));
        assert_eq!(pace(s(2), s(8), &quiet), s(8));
        assert_eq!(pace(s(2), s(60), &quiet), s(8));
        let line = crate::core::model::LogLine {
            at: Time::default(),
            task: "t".into(),
            text: "x".into(),
        };
        assert_eq!(pace(s(2), s(8), &Msg::Logs(Ok(vec![line]))), s(2));
    }

    #[test]
    fn backoff_doubles_and_honours_what_a_throttling_provider_asked() {
        let s = Duration::from_secs;
        let down = SourceError::new("down");
        assert_eq!(next_wait(s(30), s(30), Some(&down)), s(60));
        assert_eq!(next_wait(s(60), s(30), Some(&down)), s(60));
        assert_eq!(next_wait(s(60), s(30), None), s(30));
        let throttled = SourceError::of_kind(
            ErrorKind::Throttled {
                retry_after: Some(s(300)),
            },
            "429",
        );
        assert_eq!(next_wait(s(30), s(30), Some(&throttled)), s(300));
    }

    #[test]
    fn a_refresh_ends_a_wait_unless_a_provider_asked_for_it() {
        let s = Duration::from_secs;
        let throttled = |after| Msg::Fleet {
            started: Time::default(),
            result: Err(SourceError::of_kind(
                ErrorKind::Throttled { retry_after: after },
                "Rate exceeded",
            )),
        };
        assert_eq!(asked_wait(&throttled(Some(s(42)))), Some(s(42)));
        assert_eq!(asked_wait(&throttled(None)), None);
        assert_eq!(
            asked_wait(&Msg::Fleet {
                started: Time::default(),
                result: Err(SourceError::new("down")),
            }),
            None
        );
        assert_eq!(asked_wait(&Msg::Logs(Ok(Vec::new()))), None);
        let now = Instant::now();
        assert!(refresh_ends_wait(now, None));
        assert!(!refresh_ends_wait(now, Some(now + s(1))));
        assert!(refresh_ends_wait(now + s(1), Some(now + s(1))));
    }

    /// The real loop: a throttled read asked for 400 ms; refreshes during
    /// them do not bring the next read forward, and the refresh that came
    /// is served when they end (not a whole interval later).
    #[tokio::test(flavor = "current_thread")]
    async fn refreshes_wait_for_a_retry_after_then_read_at_once() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let refresh = Arc::new(Notify::new());
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = calls.clone();
        let task = poll(Duration::from_secs(30), tx, refresh.clone(), move || {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                if n == 0 {
                    Msg::Fleet {
                        started: Time::default(),
                        result: Err(SourceError::of_kind(
                            ErrorKind::Throttled {
                                retry_after: Some(Duration::from_millis(400)),
                            },
                            "Rate exceeded",
                        )),
                    }
                } else {
                    Msg::Logs(Ok(Vec::new()))
                }
            }
        });
        let first = rx.recv().await;
        let throttled_at = std::time::Instant::now();
        assert!(
            matches!(first, Some(Msg::Fleet { result: Err(_), .. })),
            "{first:?}"
        );
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            refresh.notify_waiters();
        }
        let second = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
        let waited = throttled_at.elapsed();
        task.abort();
        assert!(matches!(second, Ok(Some(Msg::Logs(Ok(_))))), "{second:?}");
        // 400 ms from the poller's sleep, which began just before `recv`
        // returned; the first refresh would have woken it after 50.
        assert!(
            waited >= Duration::from_millis(350),
            "read again after {waited:?}"
        );
        // Without the refresh it would have slept the 30 s interval.
        assert!(
            waited < Duration::from_secs(5),
            "read again after {waited:?}"
        );
    }
}
