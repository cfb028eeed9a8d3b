//! Config tests: the example config parses into what it says; every file in
//! `tests/invalid_configs/` fails with the message its first line expects
//! (`# expect: ...`), naming the file, the line and the key.

use std::path::{Path, PathBuf};

use flightdeck::config;
use flightdeck::core::action::{Action, Key};
use flightdeck::core::analysis::OnFailure;

#[test]
fn the_example_config_parses_and_documents_the_seed() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let config = config::load(&path)?;
    let svc = config.service(None)?;
    assert_eq!(svc.name, "auth-service");
    assert!(svc.protected);
    assert_eq!(
        svc.change_window.map(|w| w.to_string()).as_deref(),
        Some("Tue-Thu 10:00-16:00 UTC")
    );
    let weights: Vec<u8> = svc.plan.steps.iter().map(|s| s.weight).collect();
    assert_eq!(weights, [10, 50, 100]);
    assert_eq!(
        svc.plan.steps[1].bake,
        Some(std::time::Duration::from_secs(600))
    );
    assert_eq!(svc.analysis.max_p95_ms, 200.0);
    assert_eq!(svc.analysis.on_failure, OnFailure::Rollback);
    assert!(!svc.analysis.auto_advance);
    assert_eq!(
        config.keymap.action_for(Key::char('R')),
        Some(Action::Rollback)
    );
    assert_eq!(config.theme(), Some("default"));
    assert!(
        config
            .service(Some("nope"))
            .is_err_and(|e| e.to_string().contains("no [[service]] named `nope`"))
    );
    Ok(())
}

#[test]
fn every_config_key_of_the_design_is_in_the_example() -> Result<(), Box<dyn std::error::Error>> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))?;
    for key in [
        "region",
        "profile",
        "endpoint_url",
        "repo",
        "workflow",
        "branch",
        "api_url",
        "provider",
        "name",
        "environment",
        "protected",
        "change_window",
        "cluster",
        "stable_service",
        "canary_service",
        "canary_suffix",
        "account",
        "model",
        "listener_rule_arn",
        "listener_arn",
        "stable_target_group_arn",
        "canary_target_group_arn",
        "log_group",
        "steps",
        "interval",
        "call_timeout",
        "lookback",
        "max_error_rate_pct",
        "max_p95_ms",
        "min_requests",
        "confidence",
        "failures_before_action",
        "on_failure",
        "auto_advance",
        "error_rate_query",
        "p95_query",
        "requests_query",
        "reporting_lag",
        "max_lines",
        "slack",
        "slack_webhook_env",
        "datadog_events",
        "min_level",
        "stage_targets",
        "provider",
        "api_url",
        "theme",
        "path",
        "table",
    ] {
        assert!(
            text.contains(&format!("{key} =")),
            "config.example.toml does not document `{key}`"
        );
    }
    // Every action of the keymap, under [keys].
    let keys = text.split("[keys]").nth(1).unwrap_or_default();
    for action in flightdeck::core::action::Action::ALL {
        assert!(
            keys.lines()
                .any(|l| l.starts_with(&format!("{} =", action.name()))),
            "config.example.toml's [keys] does not list `{}`",
            action.name()
        );
    }
    Ok(())
}

#[test]
fn keys_can_be_rebound() -> Result<(), Box<dyn std::error::Error>> {
    let config = config::parse(
        Path::new("k.toml"),
        "[keys]\nrollback = [\"ctrl-r\", \"X\"]\n",
    )?;
    assert_eq!(
        config.keymap.action_for(Key::ctrl('r')),
        Some(Action::Rollback)
    );
    assert_eq!(
        config.keymap.action_for(Key::char('X')),
        Some(Action::Rollback)
    );
    assert_eq!(config.keymap.action_for(Key::char('R')), None);
    Ok(())
}

#[test]
fn each_invalid_config_fails_with_file_line_key_and_what_is_expected()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "the corpus shrank: {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        // Bytes: one file of the corpus is not UTF-8 on purpose.
        let text = String::from_utf8_lossy(&std::fs::read(file)?).into_owned();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .ok_or_else(|| format!("{}: first line must be `# expect: ...`", file.display()))?;
        match config::load(file) {
            Ok(_) => failures.push(format!("{}: parsed, expected an error", file.display())),
            Err(e) => {
                let message = e.to_string();
                let file_name = file.display().to_string();
                if !message.starts_with(&format!("{file_name}:"))
                    || !message.contains(expected)
                    || e.line.is_none()
                {
                    failures.push(format!(
                        "{}:\n  expected: {expected}\n  got:      {message}",
                        file.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn the_binary_exits_2_on_a_bad_config_and_prints_where() -> Result<(), Box<dyn std::error::Error>> {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_configs/bad_duration.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .arg("--config")
        .arg(&file)
        .arg("--demo")
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad_duration.toml:9:33: key `service[0].steps[0].bake`"),
        "{stderr}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .arg("--demo=nope")
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown demo scenario `nope`"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .arg("--bogus")
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    Ok(())
}

#[test]
fn a_config_with_no_service_is_refused_for_a_live_console_with_a_line()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("keys-only.toml");
    std::fs::write(&file, "[ui]\ntheme = \"light\"\n")?;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .arg("--config")
        .arg(&file)
        .output()?;
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("keys-only.toml:1: key `service`: no [[service]] table"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn what_is_not_a_small_regular_file_is_refused_without_reading_it()
-> Result<(), Box<dyn std::error::Error>> {
    for path in ["/dev/zero", "/dev/urandom"] {
        let err = config::load(Path::new(path))
            .err()
            .ok_or("loaded a device")?;
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
    let dir = tempfile::tempdir()?;
    let fifo = dir.path().join("fifo.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
    assert!(made.success());
    let err = config::load(&fifo).err().ok_or("loaded a fifo")?;
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let big = dir.path().join("big.toml");
    std::fs::write(
        &big,
        format!("[ui]\ntheme = \"{}\"\n", "x".repeat(2 * 1024 * 1024)),
    )?;
    let err = config::load(&big).err().ok_or("loaded 2 MiB")?;
    assert!(err.to_string().contains("at most 1048576 bytes"), "{err}");
    Ok(())
}

#[test]
fn mutated_copies_of_the_example_never_panic_and_never_echo_control_bytes()
-> Result<(), Box<dyn std::error::Error>> {
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))?;
    let bytes = example.as_bytes();
    let hostile: [&[u8]; 8] = [
        b"\x1b]0;pwned\x07",
        b"\x1b[2J",
        b"\xe2\x80\xae",
        b"\"",
        b"[[",
        b"= nan",
        b"\x00",
        b"}",
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.toml");
    for round in 0..400 {
        let mut m = bytes.to_vec();
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(..m.len());
            match rng.u8(..3) {
                0 => {
                    let end = (at + rng.usize(1..20)).min(m.len());
                    m.drain(at..end);
                }
                1 => {
                    let piece = hostile[rng.usize(..hostile.len())];
                    m.splice(at..at, piece.iter().copied());
                }
                _ => m[at] = rng.u8(..),
            }
        }
        std::fs::write(&path, &m)?;
        let result = std::panic::catch_unwind(|| config::load(&path));
        let Ok(result) = result else {
            return Err(format!("round {round}: panicked").into());
        };
        if let Err(e) = result {
            let text = e.to_string();
            assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
                "round {round}: control bytes in {text:?}"
            );
            assert!(e.line.is_some(), "round {round}: no line in {text}");
        }
    }
    Ok(())
}

#[test]
fn a_service_names_only_and_has_its_own_region_account_and_pipeline()
-> Result<(), Box<dyn std::error::Error>> {
    let config = config::parse(
        Path::new("c.toml"),
        "[github]\nrepo = \"suma/all\"\nworkflow = \"deploy.yml\"\n\n[[service]]\nname = \"auth\"\nenvironment = \"production\"\ncluster = \"suma\"\nstable_service = \"auth\"\nregion = \"us-east-1\"\nprofile = \"prod\"\naccount = \"arn:aws:iam::210987654321:role/flightdeck-operator\"\n\n[service.github]\nrepo = \"suma/auth\"\n",
    )?;
    let s = config.service(None)?;
    assert!(s.listener.is_none() && s.stable_target_group_arn.is_none());
    assert_eq!(s.canary_suffix, "-canary");
    assert_eq!(s.region.as_deref(), Some("us-east-1"));
    assert_eq!(s.profile.as_deref(), Some("prod"));
    assert_eq!(
        s.role_arn.as_deref(),
        Some("arn:aws:iam::210987654321:role/flightdeck-operator")
    );
    assert_eq!(
        s.github.as_ref().and_then(|g| g.repo.as_deref()),
        Some("suma/auth")
    );
    Ok(())
}
