//! The debug log (`--log FILE`): where the long texts go that a pane, the
//! journal and stderr never show — an SDK error's whole chain of causes,
//! for instance. Messages stay one line with the action to take; this file
//! keeps the rest. Appended, mode 0600, secrets scrubbed; nothing is
//! written when no `--log` was given.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

static LOG: OnceLock<Mutex<File>> = OnceLock::new();

/// Open (or create) the log for appending; the error names the path.
pub fn open(path: &Path) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let file = options
        .open(path)
        .map_err(|e| format!("cannot open the log {}: {e}", path.display()))?;
    let _ = LOG.set(Mutex::new(file));
    Ok(())
}

/// Whether a log is being written.
pub fn active() -> bool {
    LOG.get().is_some()
}

/// Append `what: text` with the time (secrets scrubbed).
pub fn write(what: &str, text: &str) {
    let Some(log) = LOG.get() else { return };
    let Ok(mut file) = log.lock() else { return };
    let line = format!(
        "{} {what}: {}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        crate::secrets::scrub(text)
    );
    let _ = file.write_all(line.as_bytes());
}

/// Where the rest of a cut text is, for a hint.
pub fn where_the_rest_is() -> &'static str {
    if active() {
        "the whole error is in the --log file"
    } else {
        "run with --log FILE for the whole error"
    }
}
