//! The change lease's adapters: a lock file per service in the state
//! directory (one actor across every console and CLI process of the user),
//! and an in-process one for the simulator and tests. A shared adapter (a DynamoDB item) plugs in behind
//! the same `Lease` port.
//!
//! The file holds the service's identity, a generation and the holder; it
//! is read and rewritten under `flock`, held only for that moment, so a
//! holder that dies leaves a lease that the next actor can see is
//! abandoned (its pid is gone) instead of a lock that blocks.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Lease, LeaseGrant, LeaseHolder};
use crate::core::model::{ErrorKind, SourceError};

/// What the lease file (or the in-process lease, or the team table's
/// item) holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct State {
    pub(super) identity: String,
    pub(super) generation: u64,
    pub(super) holder: Option<LeaseHolder>,
    /// The holder before the current one (or the last, once given back):
    /// whom a preempted change names when it looks after the taker ended.
    #[serde(default)]
    pub(super) last: Option<LeaseHolder>,
}

/// Whether a holder's process still runs. On another host it cannot be
/// told, so it counts as alive.
fn alive(holder: &LeaseHolder, host: &str) -> bool {
    if holder.host != host || holder.pid == 0 {
        return true;
    }
    let Ok(pid) = libc::pid_t::try_from(holder.pid) else {
        return true;
    };
    // Signal 0 checks only that the process exists (EPERM: it does, as
    // another user).
    // SAFETY: kill with signal 0 sends nothing and touches no memory.
    let rc = unsafe { libc::kill(pid, 0) };
    let exists = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    // The pid may have been given to another process since.
    exists
        && match (holder.started, process_started(holder.pid)) {
            (Some(then), Some(now)) => then == now,
            _ => true,
        }
}

/// When process `pid` started, in clock ticks after boot (field 22 of
/// /proc/PID/stat); None where that cannot be read.
fn process_started(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count
    // from the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This machine's name, for the holder.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The decisions, on a state read under the lock: shared by the adapters
/// (the team table's decides liveness by heartbeat: `acquire_with`).
fn acquire_in(
    state: &mut State,
    me: &LeaseHolder,
    take_over: bool,
    host: &str,
) -> Result<LeaseGrant, SourceError> {
    acquire_with(state, me, take_over, &|h| alive(h, host))
}

pub(super) fn acquire_with(
    state: &mut State,
    me: &LeaseHolder,
    take_over: bool,
    alive: &dyn Fn(&LeaseHolder) -> bool,
) -> Result<LeaseGrant, SourceError> {
    let mut grant = LeaseGrant {
        generation: 0,
        took_over: None,
        abandoned: None,
        expired: None,
        unavailable: None,
    };
    if let Some(holder) = state.holder.clone()
        && holder.change != me.change
    {
        if !alive(&holder) {
            grant.abandoned = Some(holder);
        } else if take_over {
            grant.took_over = Some(holder);
        } else {
            return Err(SourceError::of_kind(
                ErrorKind::Held,
                format!("another change holds this service: {}", holder.describe()),
            )
            .with_hint("wait for it to finish, or roll back: a rollback takes over"));
        }
    }
    state.generation += 1;
    state.last = state.holder.take();
    state.holder = Some(me.clone());
    grant.generation = state.generation;
    Ok(grant)
}

pub(super) fn check_in(
    state: &mut State,
    me: &LeaseHolder,
    generation: u64,
    call_until: Option<crate::core::model::Time>,
) -> Result<(), SourceError> {
    match &mut state.holder {
        Some(h) if state.generation == generation && h.change == me.change => {
            if let Some(until) = call_until {
                h.call_until = Some(until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            }
            Ok(())
        }
        Some(h) => Err(SourceError::of_kind(
            ErrorKind::Preempted,
            format!("the change lease was taken over by {}", h.describe()),
        )),
        None => Err(SourceError::of_kind(
            ErrorKind::Preempted,
            match &state.last {
                Some(h) if h.change != me.change => format!(
                    "the change lease was taken over by {}, which has ended",
                    h.describe()
                ),
                _ => "the change lease was given back by another process".to_string(),
            },
        )),
    }
}

pub(super) fn release_in(state: &mut State, me: &LeaseHolder, generation: u64) -> bool {
    let mine = state.generation == generation
        && state.holder.as_ref().is_some_and(|h| h.change == me.change);
    if mine {
        state.last = state.holder.take();
    }
    mine
}

/// The lease in a lock file of the state directory.
pub struct LocalLease {
    path: PathBuf,
    identity: String,
    host: String,
}

/// FNV-1a: a stable file name for an identity (which holds `/`).
pub(super) fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl LocalLease {
    /// The lease of the service `identity`, in `dir` (created 0700 when
    /// missing). The file is 0600: one user's consoles and commands share
    /// it (the default state directory is the user's own).
    pub fn new(dir: &Path, identity: &str) -> LocalLease {
        LocalLease {
            path: dir.join(format!("{:016x}.lease", fnv(identity))),
            identity: identity.to_string(),
            host: hostname(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who holds it now, read without the lock (for a display: a file
    /// being rewritten reads as nobody); a holder whose process on this
    /// host is gone is nobody.
    pub fn peek(&self) -> Option<LeaseHolder> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        let state: State = serde_json::from_str(&text).ok()?;
        state.holder.filter(|h| alive(h, &self.host))
    }

    /// Read the state under an exclusive `flock`, let `f` change it, write
    /// it back when it did. On a thread of the blocking pool, never on the
    /// loop: a lock held by a stuck process must not freeze the console (or
    /// a rollback); the lock is tried without blocking until
    /// `LOCK_PATIENCE` has passed.
    async fn with_locked<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> (T, bool) + Send + 'static,
    ) -> Result<T, SourceError> {
        let (path, identity) = (self.path.clone(), self.identity.clone());
        tokio::task::spawn_blocking(move || locked(&path, &identity, f))
            .await
            .map_err(|e| SourceError::new(format!("the change lease: {e}")))?
    }
    fn stamped(&self, me: &LeaseHolder) -> LeaseHolder {
        LeaseHolder {
            host: self.host.clone(),
            pid: std::process::id(),
            started: process_started(std::process::id()),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ..me.clone()
        }
    }
}

#[async_trait]
impl Lease for LocalLease {
    async fn acquire(&self, me: &LeaseHolder, take_over: bool) -> Result<LeaseGrant, SourceError> {
        let me = self.stamped(me);
        let host = self.host.clone();
        self.with_locked(move |state| {
            let result = acquire_in(state, &me, take_over, &host);
            let changed = result.is_ok();
            (result, changed)
        })
        .await?
    }

    async fn check(
        &self,
        me: &LeaseHolder,
        generation: u64,
        call_until: Option<crate::core::model::Time>,
    ) -> Result<(), SourceError> {
        let me = me.clone();
        self.with_locked(move |state| {
            let result = check_in(state, &me, generation, call_until);
            let changed = result.is_ok() && call_until.is_some();
            (result, changed)
        })
        .await?
    }

    async fn release(&self, me: &LeaseHolder, generation: u64) {
        let me = me.clone();
        let _ = self
            .with_locked(move |state| ((), release_in(state, &me, generation)))
            .await;
    }
}

/// How long a lease operation tries to get the file's lock (others hold it
/// only to read and rewrite a few hundred bytes).
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> SourceError {
    SourceError::new(format!(
        "cannot {what} the change lease {}: {e}",
        path.display()
    ))
    .with_hint("check the state directory is writable; nothing was changed")
}

/// The blocking part of `LocalLease::with_locked`.
fn locked<T>(
    path: &Path,
    identity: &str,
    f: impl FnOnce(&mut State) -> (T, bool),
) -> Result<T, SourceError> {
    use std::os::fd::AsRawFd;
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(|e| io_error(path, "create the folder of", &e))?;
    }
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file: File = options.open(path).map_err(|e| io_error(path, "open", &e))?;
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(io_error(path, "lock", &e));
        }
        if std::time::Instant::now() > deadline {
            return Err(SourceError::of_kind(
                ErrorKind::Timeout,
                format!(
                    "the change lease {} stayed locked by another process for {}s",
                    path.display(),
                    LOCK_PATIENCE.as_secs()
                ),
            )
            .with_hint("a process holding it may be stuck (see `fuser` on the file)"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| io_error(path, "read", &e))?;
    let mut state = if text.trim().is_empty() {
        State::default()
    } else {
        // A file that does not parse is never taken as free: a live
        // holder's lease would be lost without a word.
        serde_json::from_str::<State>(&text).map_err(|e| {
            SourceError::new(format!(
                "the change lease {} cannot be read ({e})",
                path.display()
            ))
            .with_hint("if no change is under way, remove the file; a rollback goes on without it")
        })?
    };
    if state.identity.is_empty() {
        state.identity = identity.to_string();
    }
    let (out, changed) = f(&mut state);
    if changed {
        let body = serde_json::to_vec_pretty(&state)
            .map_err(|e| io_error(path, "write", &std::io::Error::other(e)))?;
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| file.write_all(&body))
            .and_then(|()| file.sync_data())
            .map_err(|e| io_error(path, "write", &e))?;
    }
    Ok(out)
}

/// The lease within one process (the simulator, tests): the same rules.
#[derive(Default)]
pub struct MemoryLease {
    state: Mutex<State>,
}

impl MemoryLease {
    fn locked<T>(&self, f: impl FnOnce(&mut State) -> T) -> Result<T, SourceError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| SourceError::new("the change lease is poisoned"))?;
        Ok(f(&mut state))
    }
}

#[async_trait]
impl Lease for MemoryLease {
    async fn acquire(&self, me: &LeaseHolder, take_over: bool) -> Result<LeaseGrant, SourceError> {
        let me = LeaseHolder {
            pid: std::process::id(),
            since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ..me.clone()
        };
        self.locked(|state| acquire_in(state, &me, take_over, ""))?
    }

    async fn check(
        &self,
        me: &LeaseHolder,
        generation: u64,
        call_until: Option<crate::core::model::Time>,
    ) -> Result<(), SourceError> {
        self.locked(|state| check_in(state, me, generation, call_until))?
    }

    async fn release(&self, me: &LeaseHolder, generation: u64) {
        let _ = self.locked(|state| release_in(state, me, generation));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(change: &str, action: &str) -> LeaseHolder {
        LeaseHolder {
            operator: "ana".into(),
            via: "console".into(),
            change: change.into(),
            action: action.into(),
            host: String::new(),
            pid: 0,
            since: String::new(),
            call_until: None,
            started: None,
        }
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(f))
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn one_holder_a_rollback_takes_over_and_the_loser_sees_it()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let a = LocalLease::new(dir.path(), "acct/eu-west-1/c/s/s-canary");
        // A second process's view of the same file.
        let b = LocalLease::new(dir.path(), "acct/eu-west-1/c/s/s-canary");
        let promote = holder("p-1", "promote");
        let grant = block(a.acquire(&promote, false))?;
        let err = block(b.acquire(&holder("p-2", "set_weight"), false))
            .err()
            .ok_or("a second change got the lease")?;
        assert_eq!(err.kind, ErrorKind::Held);
        assert!(err.message.contains("ana@"), "{err}");
        assert!(err.message.contains("'s promote since"), "{err}");
        let rollback = holder("r-1", "rollback");
        let taken = block(b.acquire(&rollback, true))?;
        assert_eq!(taken.took_over.map(|h| h.change).as_deref(), Some("p-1"));
        let lost = block(a.check(&promote, grant.generation, None))
            .err()
            .ok_or("the promotion kept a lease taken over")?;
        assert_eq!(lost.kind, ErrorKind::Preempted);
        assert!(lost.message.contains("rollback"), "{lost}");
        // The loser's release does not free the rollback's lease.
        block(a.release(&promote, grant.generation));
        block(b.check(&rollback, taken.generation, None))?;
        block(b.release(&rollback, taken.generation));
        // Looking only after the rollback ended, it still learns who.
        let late = block(a.check(&promote, grant.generation, None))
            .err()
            .ok_or("lost lease unseen")?;
        assert!(
            late.message.contains("'s rollback since") && late.message.contains("which has ended"),
            "{late}"
        );
        block(a.acquire(&holder("p-3", "promote"), false))?;
        Ok(())
    }

    #[test]
    fn a_lease_left_by_an_ended_process_is_free() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let lease = LocalLease::new(dir.path(), "id");
        let state = State {
            identity: "id".into(),
            generation: 4,
            holder: Some(LeaseHolder {
                host: hostname(),
                // Beyond the largest pid Linux gives out.
                pid: 99_999_999,
                ..holder("old", "promote")
            }),
            last: None,
        };
        std::fs::write(lease.path(), serde_json::to_vec(&state)?)?;
        let grant = block(lease.acquire(&holder("new", "set_weight"), false))?;
        assert_eq!(grant.generation, 5);
        assert_eq!(grant.abandoned.map(|h| h.change).as_deref(), Some("old"));
        Ok(())
    }

    #[test]
    fn a_file_locked_by_a_stuck_process_is_not_waited_on_forever()
    -> Result<(), Box<dyn std::error::Error>> {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir()?;
        let lease = LocalLease::new(dir.path(), "id");
        block(lease.acquire(&holder("a", "promote"), false))?;
        // Another process takes the file's lock and never lets go.
        let stuck = File::open(lease.path())?;
        // SAFETY: flock on a descriptor this test owns.
        assert_eq!(unsafe { libc::flock(stuck.as_raw_fd(), libc::LOCK_EX) }, 0);
        let err = block(lease.acquire(&holder("b", "rollback"), true))
            .err()
            .ok_or("acquired through a held lock")?;
        assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
        assert!(err.message.contains("stayed locked"), "{err}");
        Ok(())
    }

    #[test]
    fn a_lease_file_that_does_not_parse_is_not_taken_as_free()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let lease = LocalLease::new(dir.path(), "id");
        block(lease.acquire(&holder("a", "promote"), false))?;
        std::fs::write(lease.path(), "{\"identity\": \"id\", \"genera")?;
        let err = block(lease.acquire(&holder("b", "set_weight"), false))
            .err()
            .ok_or("a torn lease file was taken as free")?;
        assert!(err.message.contains("cannot be read"), "{err}");
        Ok(())
    }

    #[test]
    fn a_holder_whose_pid_was_reused_is_gone() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let lease = LocalLease::new(dir.path(), "id");
        // This test's own pid, alive, but started at another time: the
        // holder that had this pid has ended.
        let me = std::process::id();
        let started = process_started(me).ok_or("no /proc")?;
        let state = State {
            identity: "id".into(),
            generation: 1,
            holder: Some(LeaseHolder {
                host: hostname(),
                pid: me,
                started: Some(started + 1),
                ..holder("old", "promote")
            }),
            last: None,
        };
        std::fs::write(lease.path(), serde_json::to_vec(&state)?)?;
        let grant = block(lease.acquire(&holder("new", "set_weight"), false))?;
        assert_eq!(grant.abandoned.map(|h| h.change).as_deref(), Some("old"));
        // The same pid with the same start is alive: refused.
        let state = State {
            holder: Some(LeaseHolder {
                host: hostname(),
                pid: me,
                started: Some(started),
                ..holder("live", "promote")
            }),
            ..state
        };
        std::fs::write(lease.path(), serde_json::to_vec(&state)?)?;
        let refused = block(lease.acquire(&holder("other", "set_weight"), false));
        assert!(refused.is_err(), "a live holder lost its lease");
        Ok(())
    }

    #[test]
    fn services_have_leases_of_their_own() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let staging = LocalLease::new(dir.path(), "a/r/staging/auth/auth-canary");
        let production = LocalLease::new(dir.path(), "b/r/production/auth/auth-canary");
        block(staging.acquire(&holder("s-1", "promote"), false))?;
        block(production.acquire(&holder("p-1", "promote"), false))?;
        Ok(())
    }
}
