//! The journal: one JSON object per line, appended and flushed to disk
//! before and after every change. The file is created with mode 0600 and
//! never holds a secret (records carry no tokens, only who/what/when).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::core::change::Baseline;
use crate::core::effect::JournalRecord;
use crate::core::model::Unfinished;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "cannot open the journal {path}: {source} (check the directory exists and is writable, or set [journal] path)"
    )]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot use the journal {path}: {why}")]
    Refused { path: PathBuf, why: String },
    #[error("cannot write the journal {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub struct Journal {
    path: PathBuf,
    file: File,
    /// Stamped on every record written (`cli` for the scriptable commands).
    via: Option<String>,
    /// Where written records go to tell the team (never waits).
    notify: Option<crate::notify::Sender>,
    /// Extra time each append takes: a slow disk, for drills and tests.
    slow: Option<std::time::Duration>,
    /// Where written records go to the team journal (never waits).
    team: Option<crate::sources::team::TeamSender>,
}

impl Journal {
    /// Open (or create) the journal for appending: never through a
    /// symbolic link, and with mode 0600 (an existing wider mode is
    /// narrowed). Errors name the path and what is wrong.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let refuse = |why: String| JournalError::Refused {
            path: path.to_path_buf(),
            why,
        };
        let open_err = |source| JournalError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            // Name the part of the path that is in the way, not "File exists".
            for ancestor in dir.ancestors() {
                if ancestor.as_os_str().is_empty() {
                    break;
                }
                if let Ok(meta) = std::fs::metadata(ancestor) {
                    if !meta.is_dir() {
                        return Err(refuse(format!(
                            "{} is a file, not a directory; pass --journal PATH or set [journal] path",
                            ancestor.display()
                        )));
                    }
                    break;
                }
            }
            std::fs::create_dir_all(dir).map_err(open_err)?;
        }
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(refuse(
                "it is a symbolic link; the journal must be a file of its own (refusing to follow it)".into(),
            ));
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // O_NOFOLLOW: a link made between the check and the open fails.
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        let file = options.open(path).map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                refuse("it is a symbolic link; the journal must be a file of its own (refusing to follow it)".into())
            } else {
                open_err(e)
            }
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = file.metadata().map_err(open_err)?;
            if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(|e| {
                        refuse(format!(
                            "its mode is {:o} (readable by others) and it cannot be narrowed to 0600: {e}",
                            meta.permissions().mode() & 0o777
                        ))
                    })?;
            }
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            via: None,
            notify: None,
            slow: None,
            team: None,
        })
    }

    /// Hand every record written to the notifier.
    pub fn with_notify(mut self, sender: crate::notify::Sender) -> Journal {
        self.notify = Some(sender);
        self
    }

    /// Stamp `"via": via` on every record this journal writes.
    pub fn with_via(mut self, via: &str) -> Journal {
        self.via = Some(via.to_string());
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Send every record written to the team journal too (after it is
    /// durable here: the local journal is the write-ahead copy).
    pub fn with_team(mut self, sender: crate::sources::team::TeamSender) -> Journal {
        self.team = Some(sender);
        self
    }

    /// Every append takes `extra` longer, as on a slow or remote disk (a
    /// drill: nothing but the change that writes may wait for it).
    pub fn slowed(mut self, extra: std::time::Duration) -> Journal {
        self.slow = Some(extra);
        self
    }

    /// Append one record and flush it to disk before returning. Blocks (a
    /// write and an fsync): call it where blocking is allowed.
    pub fn append(&mut self, record: &JournalRecord) -> Result<(), JournalError> {
        if let Some(extra) = self.slow {
            std::thread::sleep(extra);
        }
        let write_err = |source| JournalError::Write {
            path: self.path.clone(),
            source,
        };
        let stamped;
        let record = match &self.via {
            Some(via) if record.via.is_none() => {
                stamped = JournalRecord {
                    via: Some(via.clone()),
                    ..record.clone()
                };
                &stamped
            }
            _ => record,
        };
        let mut line =
            serde_json::to_vec(record).map_err(|e| write_err(std::io::Error::other(e)))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(write_err)?;
        self.file.flush().map_err(write_err)?;
        self.file.sync_data().map_err(write_err)?;
        // Written, so it happened: now the team may hear of it.
        if let Some(n) = &self.notify {
            n.offer(record);
        }
        if let Some(t) = &self.team {
            t.offer(record);
        }
        Ok(())
    }
}

/// How much of the journal's end is read at start. Baselines, pauses and
/// unfinished changes are recent; a journal of years is not read whole
/// (at ~300 bytes a record this is some 50,000 records).
pub const READ_BACK_BYTES: u64 = 16 * 1024 * 1024;

/// What an earlier session (or another process) left in the journal for
/// one service.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReadBack {
    /// The latest release baseline.
    pub baseline: Option<Baseline>,
    /// Changes that started and never ended (the console was killed under
    /// them).
    pub unfinished: Vec<Unfinished>,
    /// Whether automation was left paused (the newest pause or resume, from
    /// the console or `flightdeck pause`); None when neither was journaled.
    pub paused: Option<bool>,
    /// Older records were not read (the journal is longer than
    /// `READ_BACK_BYTES`).
    pub truncated: bool,
}

/// What the fleet overview shows of a release from the journal: the
/// newest verdict, the newest change that ended, and a pause.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latest {
    /// When, and pass / fail / inconclusive.
    pub verdict: Option<(String, String)>,
    /// When, the action, and its result (`ok`, `failed: …`).
    pub change: Option<(String, String, String)>,
    pub paused: bool,
}

/// [`Latest`] for each identity, from one read of the journal's end.
pub fn latest(path: &Path, identities: &[String]) -> Vec<Latest> {
    let (records, _) = tail_records(path);
    let mut out = vec![Latest::default(); identities.len()];
    for record in records {
        let Some(i) = identities
            .iter()
            .position(|id| record.identity.as_deref() == Some(id))
        else {
            continue;
        };
        let latest = &mut out[i];
        match (record.action.as_str(), &record.change, &record.step) {
            ("verdict", _, _) => latest.verdict = Some((record.time.clone(), record.to.clone())),
            ("pause" | "resume", None, None) if record.result == "ok" => {
                latest.paused = record.action == "pause";
            }
            (_, Some(_), None) if record.result != "started" => {
                latest.change = Some((
                    record.time.clone(),
                    record.action.clone(),
                    record.result.clone(),
                ));
            }
            _ => {}
        }
    }
    out
}

/// The records at the end of the journal (at most `READ_BACK_BYTES`),
/// oldest first, and whether older ones were left unread. Only a regular
/// file, never through a link (`open` refuses those with a message): a FIFO
/// would block, /dev/zero would never end. Lines that do not parse are
/// skipped: the journal is the operator's record, not ours to refuse.
fn tail_records(path: &Path) -> (Vec<JournalRecord>, bool) {
    use std::io::{Read, Seek, SeekFrom};
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return (Vec::new(), false);
    }
    let Ok(mut file) = File::open(path) else {
        return (Vec::new(), false);
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let skip = len.saturating_sub(READ_BACK_BYTES);
    if skip > 0 && file.seek(SeekFrom::Start(skip)).is_err() {
        return (Vec::new(), false);
    }
    let mut bytes = Vec::new();
    if file.take(READ_BACK_BYTES).read_to_end(&mut bytes).is_err() {
        return (Vec::new(), false);
    }
    // Started mid-line: the first (partial) line is not a record.
    let body = if skip > 0 {
        bytes
            .iter()
            .position(|b| *b == b'\n')
            .map_or(&bytes[..0], |i| &bytes[i + 1..])
    } else {
        &bytes[..]
    };
    let records = String::from_utf8_lossy(body)
        .lines()
        .filter_map(|line| serde_json::from_str::<JournalRecord>(line).ok())
        .collect();
    (records, skip > 0)
}

/// What the journal holds for the service with this AWS identity
/// (`ServiceMeta::identity`). Records of another identity — another
/// account, region or cluster with the same config name — and records of
/// older versions that carry no identity are not this service's.
pub fn read_back(path: &Path, identity: &str) -> ReadBack {
    let (records, truncated) = tail_records(path);
    let mut out = ReadBack {
        truncated,
        ..ReadBack::default()
    };
    let mut open: Vec<(JournalRecord, Vec<String>)> = Vec::new();
    for record in records {
        if record.identity.as_deref() != Some(identity) {
            continue;
        }
        match (record.action.as_str(), &record.change) {
            ("baseline", _) => out.baseline = Baseline::from_record(&record),
            ("pause" | "resume", None) if record.result == "ok" && record.step.is_none() => {
                out.paused = Some(record.action == "pause");
            }
            ("acknowledge", _) => open.retain(|(r, _)| r.change.as_deref() != Some(&record.from)),
            (_, Some(id)) => {
                let known = open.iter().position(|(r, _)| r.change.as_ref() == Some(id));
                match (known, record.step.as_ref()) {
                    (None, None) if record.result == "started" => {
                        open.push((record.clone(), Vec::new()));
                    }
                    (Some(i), Some(step)) if record.result != "started" => {
                        open[i].1.push(format!("{step}: {}", record.result));
                    }
                    (Some(i), None) if record.result != "started" => {
                        open.remove(i);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    out.unfinished = open
        .into_iter()
        .map(|(r, ran)| Unfinished {
            change: r.change.unwrap_or_default(),
            action: format!("{} {} → {}", r.action, r.from, r.to),
            operator: r.operator,
            time: r.time,
            ran,
        })
        .collect();
    out
}

/// The default journal path: the platform's state (else data) directory,
/// e.g. `~/.local/state/flightdeck/journal.jsonl`. The demo writes its own
/// file beside it, so simulated changes never mix with real ones.
pub fn default_path(demo: bool) -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "flightdeck")?;
    let dir = dirs.state_dir().unwrap_or_else(|| dirs.data_dir());
    Some(dir.join(if demo {
        "demo-journal.jsonl"
    } else {
        "journal.jsonl"
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::TrafficSplit;

    const ID: &str =
        "111122223333/eu-west-1/prod/auth-service-production/auth-service-production-canary";

    fn record(result: &str) -> JournalRecord {
        JournalRecord {
            time: "2026-12-01T10:30:00Z".into(),
            operator: "ana".into(),
            service: "auth-service".into(),
            identity: Some(ID.into()),
            action: "rollback".into(),
            from: "50%".into(),
            to: "0%".into(),
            reason: Some("errors \"spiking\"\nsee #inc-42".into()),
            result: result.into(),
            request_ids: vec!["req-1".into()],
            automatic: false,
            change: None,
            step: None,
            steps: Vec::new(),
            weights: None,
            via: None,
        }
    }

    #[test]
    fn appends_one_json_object_per_line_with_mode_0600() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("nested/journal.jsonl");
        let mut journal = Journal::open(&path)?;
        journal.append(&record("started"))?;
        journal.append(&record("ok"))?;
        drop(journal);
        // Reopening appends rather than truncates.
        Journal::open(&path)?.append(&record("ok"))?;
        let text = std::fs::read_to_string(&path)?;
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["result"], "started");
        assert_eq!(lines[1]["reason"], "errors \"spiking\"\nsee #inc-42");
        assert_eq!(lines[1]["request_ids"][0], "req-1");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path)?.permissions().mode() & 0o777,
                0o600
            );
        }
        Ok(())
    }

    #[test]
    fn reads_back_the_baseline_and_unfinished_changes() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("j.jsonl");
        let mut journal = Journal::open(&path)?;
        let mut base = record("seen");
        base.action = "baseline".into();
        base.from = "app:41".into();
        base.to = "app:42".into();
        base.weights = Some([90, 10]);
        journal.append(&base)?;
        let mut started = record("started");
        started.action = "promote".into();
        started.change = Some("s1-1".into());
        journal.append(&started)?;
        let mut step = started.clone();
        step.step = Some("1/7 scale_canary: scale x 1 → 9 tasks".into());
        step.result = "ok".into();
        journal.append(&step)?;
        let mut other = started.clone();
        other.change = Some("s1-2".into());
        journal.append(&other)?;
        let mut end = other.clone();
        end.result = "ok".into();
        journal.append(&end)?;
        std::fs::write(
            &path,
            std::fs::read_to_string(&path)?
                + "not json
",
        )?;
        let back = read_back(&path, ID);
        let (baseline, unfinished) = (back.baseline, back.unfinished);
        let baseline = baseline.ok_or("no baseline")?;
        assert_eq!(baseline.stable_task_definition, "app:41");
        assert_eq!(
            baseline.split,
            Some(TrafficSplit {
                stable: 90,
                canary: 10
            })
        );
        assert_eq!(unfinished.len(), 1, "{unfinished:?}");
        assert_eq!(unfinished[0].change, "s1-1");
        assert_eq!(unfinished[0].ran.len(), 1);
        assert_eq!(read_back(&path, "other").baseline, None);
        Ok(())
    }

    #[test]
    fn one_config_name_in_two_accounts_is_two_services() -> Result<(), Box<dyn std::error::Error>> {
        // Seen: staging's baseline read by production, whose rollback then
        // said "nothing to roll back".
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("j.jsonl");
        let staging =
            "444455556666/eu-west-1/staging/auth-service-staging/auth-service-staging-canary";
        let mut journal = Journal::open(&path)?;
        let mut base = record("seen");
        base.action = "baseline".into();
        base.identity = Some(staging.into());
        base.from = "app:7".into();
        base.to = "app:8".into();
        journal.append(&base)?;
        let mut pause = record("ok");
        pause.action = "pause".into();
        pause.reason = None;
        pause.identity = Some(staging.into());
        journal.append(&pause)?;
        // An older version's record, without an identity: nobody's.
        let mut legacy = base.clone();
        legacy.identity = None;
        journal.append(&legacy)?;
        let production = read_back(&path, ID);
        assert_eq!(production.baseline, None);
        assert_eq!(production.paused, None);
        let back = read_back(&path, staging);
        assert_eq!(
            back.baseline.map(|b| b.stable_task_definition).as_deref(),
            Some("app:7")
        );
        assert_eq!(back.paused, Some(true));
        Ok(())
    }

    #[test]
    fn only_the_end_of_a_long_journal_is_read() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("j.jsonl");
        let mut old = record("seen");
        old.action = "baseline".into();
        old.from = "app:1".into();
        let mut line = serde_json::to_string(&old)?;
        line.push('\n');
        let mut text = line.repeat(usize::try_from(READ_BACK_BYTES)? / line.len() + 10);
        let mut new = old.clone();
        new.from = "app:2".into();
        text.push_str(&serde_json::to_string(&new)?);
        text.push('\n');
        std::fs::write(&path, text)?;
        let back = read_back(&path, ID);
        assert!(back.truncated);
        assert_eq!(
            back.baseline.map(|b| b.stable_task_definition).as_deref(),
            Some("app:2")
        );
        Ok(())
    }

    #[test]
    fn a_wider_mode_is_narrowed_to_0600() -> Result<(), Box<dyn std::error::Error>> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        Journal::open(&path)?;
        assert_eq!(
            std::fs::metadata(&path)?.permissions().mode() & 0o777,
            0o600
        );
        Ok(())
    }

    #[test]
    fn a_symlink_is_refused_and_its_target_untouched() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let target = dir.path().join("elsewhere.txt");
        std::fs::write(&target, "precious\n")?;
        let path = dir.path().join("j.jsonl");
        std::os::unix::fs::symlink(&target, &path)?;
        let err = Journal::open(&path).err().ok_or("opened a symlink")?;
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target)?, "precious\n");
        Ok(())
    }

    #[test]
    fn a_parent_that_is_a_file_is_named() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("state");
        std::fs::write(&file, "")?;
        let err = Journal::open(&file.join("flightdeck/journal.jsonl"))
            .err()
            .ok_or("opened under a file")?;
        let text = err.to_string();
        assert!(
            text.contains(&format!("{} is a file, not a directory", file.display())),
            "{text}"
        );
        Ok(())
    }
}
