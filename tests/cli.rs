//! The scriptable commands, run as the real binary without a terminal:
//! on the demo (the JSON shapes as snapshots, refusals) and against moto
//! (status matches AWS, rollback moves the ALB and journals `via: cli`,
//! refusals leave AWS unchanged, watch ends on a rollback made elsewhere
//! or times out). `scripts/test` starts moto; these fail without it.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::moto::{Layout, TestResult, layout};
use serde_json::Value;

fn flightdeck(args: &[&str]) -> Result<Output, std::io::Error> {
    Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(args)
        .env("USER", "cli-test")
        .stdin(Stdio::null())
        .output()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// The JSON's shape: every value replaced by its type, arrays by the shape
/// of their first element — stable across runs, and it changes when the
/// schema does.
fn shape(v: &Value) -> Value {
    match v {
        Value::Null => Value::String("null".into()),
        Value::Bool(_) => Value::String("bool".into()),
        Value::Number(_) => Value::String("number".into()),
        Value::String(_) => Value::String("string".into()),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
    }
}

#[test]
fn demo_status_json_has_schema_1_and_its_shape() -> TestResult {
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("j.jsonl");
    let out = flightdeck(&["--demo", "--journal", path(&journal), "status", "--json"])?;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(v["schema"], 1);
    assert_eq!(v["traffic"]["canary"], 10);
    assert_eq!(v["service"]["name"], "auth-service");
    insta::assert_snapshot!(
        "status_json_shape",
        serde_json::to_string_pretty(&shape(&v))?
    );
    // Text by default, one fact a line.
    let out = flightdeck(&["--demo", "--journal", path(&journal), "status"])?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("traffic   stable 90 · canary 10"), "{text}");
    Ok(())
}

#[test]
fn demo_watch_json_prints_states_and_times_out_with_4() -> TestResult {
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("j.jsonl");
    let out = flightdeck(&[
        "--demo",
        "--journal",
        path(&journal),
        "watch",
        "--json",
        "--until",
        "promoted",
        "--timeout",
        "2s",
    ])?;
    assert_eq!(code(&out), 4, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let first: Value = serde_json::from_str(text.lines().next().unwrap_or("{}"))?;
    assert_eq!(first["schema"], 1);
    assert_eq!(first["canary_pct"], 10);
    insta::assert_snapshot!(
        "watch_json_shape",
        serde_json::to_string_pretty(&shape(&first))?
    );
    Ok(())
}

#[test]
fn demo_changes_without_a_terminal_need_yes_and_service_and_read_only_refuses() -> TestResult {
    let dir = tempfile::tempdir()?;
    let journal = dir.path().join("j.jsonl");
    let j = path(&journal);
    let no_yes = flightdeck(&[
        "--demo",
        "--journal",
        j,
        "--service",
        "auth-service",
        "rollback",
    ])?;
    assert_eq!(code(&no_yes), 3);
    assert!(String::from_utf8_lossy(&no_yes.stderr).contains("needs --yes"));
    let no_service = flightdeck(&["--demo", "--journal", j, "rollback", "--yes"])?;
    assert_eq!(code(&no_service), 2);
    let read_only = flightdeck(&[
        "--demo",
        "--journal",
        j,
        "--read-only",
        "--service",
        "auth-service",
        "rollback",
        "--yes",
        "--reason",
        "x",
    ])?;
    assert_eq!(code(&read_only), 3);
    let text = std::fs::read_to_string(&journal).unwrap_or_default();
    assert!(!text.contains("\"action\":\"rollback\""), "{text}");
    // Bad usage is 2, from clap.
    assert_eq!(code(&flightdeck(&["--demo", "weight", "250"])?), 2);
    Ok(())
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

fn moto_config(dir: &Path, l: &Layout) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        common::moto::config_toml(
            l,
            "auth-cli",
            "[poll]\nfleet = \"500ms\"\ntraffic = \"500ms\"",
            "protected = true",
        )?,
    )?;
    Ok(config)
}

/// A layout in moto named `name`, a config and a journal for it in a
/// temporary folder, and the runtime that made it.
struct OnMoto {
    rt: tokio::runtime::Runtime,
    l: Layout,
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    journal: std::path::PathBuf,
}

impl OnMoto {
    fn new(name: &str) -> Result<OnMoto, Box<dyn std::error::Error>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let l = rt.block_on(layout(name))?;
        let dir = tempfile::tempdir()?;
        let config = moto_config(dir.path(), &l)?;
        let journal = dir.path().join("journal.jsonl");
        Ok(OnMoto {
            rt,
            l,
            _dir: dir,
            config,
            journal,
        })
    }

    /// The binary with this config and journal, then `extra`.
    fn run(&self, extra: &[&str]) -> Result<Output, std::io::Error> {
        let mut args = vec![
            "--config",
            path(&self.config),
            "--journal",
            path(&self.journal),
        ];
        args.extend_from_slice(extra);
        flightdeck(&args)
    }
}

#[test]
fn against_moto_status_rollback_refusals_and_watch() -> TestResult {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let l = rt.block_on(layout("cli"))?;
    let dir = tempfile::tempdir()?;
    let config = moto_config(dir.path(), &l)?;
    let journal = dir.path().join("journal.jsonl");
    let base = ["--config", path(&config), "--journal", path(&journal)];
    let run = |extra: &[&str]| -> Result<Output, std::io::Error> {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        flightdeck(&args)
    };

    // status --json: what AWS says.
    let out = run(&["status", "--json"])?;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        (
            v["traffic"]["stable"].as_u64(),
            v["traffic"]["canary"].as_u64()
        ),
        (Some(90), Some(10))
    );
    // No [github] in this config: not configured, which is not a failure.
    assert_eq!(v["sources"]["pipeline"]["state"], "not_configured", "{v}");
    let canary = v["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["track"] == "canary"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(canary["name"], l.canary.as_str());
    assert_eq!(canary["desired"], 1);
    assert_eq!(v["service"]["account"], "123456789012");

    // Refusals change nothing.
    let refused = run(&["--service", "auth-cli", "rollback"])?;
    assert_eq!(code(&refused), 3);
    let refused = run(&[
        "--read-only",
        "--service",
        "auth-cli",
        "rollback",
        "--yes",
        "--reason",
        "x",
    ])?;
    assert_eq!(code(&refused), 3);
    assert_eq!(
        rt.block_on(l.read_back())?.0.canary,
        10,
        "a refusal moved traffic"
    );

    // Nothing happens: watch times out with 4.
    let quiet = run(&["watch", "--until", "rolled-back", "--timeout", "2s"])?;
    assert_eq!(
        code(&quiet),
        4,
        "{}",
        String::from_utf8_lossy(&quiet.stdout)
    );

    // A rollback made elsewhere (the CLI in another process) ends the
    // watch with 0.
    let mut args: Vec<String> = base.iter().map(|s| s.to_string()).collect();
    args.extend(["watch", "--until", "rolled-back", "--timeout", "30s"].map(String::from));
    let watcher = Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    let rolled = run(&[
        "--service",
        "auth-cli",
        "rollback",
        "--yes",
        "--reason",
        "INC-7 errors",
    ])?;
    let said = String::from_utf8_lossy(&rolled.stdout);
    assert_eq!(
        code(&rolled),
        0,
        "{said}{}",
        String::from_utf8_lossy(&rolled.stderr)
    );
    assert!(
        said.contains("step 1/") && said.contains("rollback 0%: ok"),
        "{said}"
    );
    let watched = watcher.wait_with_output()?;
    assert_eq!(
        code(&watched),
        0,
        "{}",
        String::from_utf8_lossy(&watched.stdout)
    );
    assert!(String::from_utf8_lossy(&watched.stdout).contains("rolled back"));

    let (split, sticky, _, canary_count) = rt.block_on(l.read_back())?;
    assert_eq!((split.stable, split.canary), (100, 0));
    assert_eq!(sticky, Some(300));
    assert_eq!(canary_count, 0);
    let records: Vec<Value> = std::fs::read_to_string(&journal)?
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|r: &Value| r["action"] == "rollback")
        .collect();
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r["via"] == "cli"), "{records:?}");
    assert_eq!(
        records.last().map(|r| r["result"].clone()),
        Some(Value::from("ok"))
    );
    Ok(())
}

#[test]
fn two_clis_advancing_at_once_one_is_refused_naming_the_holder() -> TestResult {
    let m = OnMoto::new("two-clis")?;
    let args = [
        "--config",
        path(&m.config),
        "--journal",
        path(&m.journal),
        "--service",
        "auth-cli",
        "advance",
        "--yes",
        "--reason",
        "two at once",
    ];
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(args)
            .env("USER", "cli-test")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    };
    let mut a = spawn()?;
    let mut b = spawn()?;
    // One takes the lease and waits (moto starts no canary targets); the
    // other is refused at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (refused, mut holder) = loop {
        if a.try_wait()?.is_some() {
            break (a, b);
        }
        if b.try_wait()?.is_some() {
            break (b, a);
        }
        if std::time::Instant::now() > deadline {
            let _ = a.kill();
            let _ = b.kill();
            return Err("neither command ended: both got the lease?".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let out = refused.wait_with_output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 3, "{err}");
    assert!(
        err.contains("refused: another change holds this service: cli-test@")
            && err.contains("(cli, pid ")
            && err.contains("'s set_weight since"),
        "{err}"
    );
    assert!(
        err.contains("auth-cli (production)"),
        "names the service: {err}"
    );
    // The holder goes on; SIGTERM stops it at its step boundary.
    std::process::Command::new("kill")
        .args(["-TERM", &holder.id().to_string()])
        .status()?;
    let status = holder.wait()?;
    assert_eq!(status.code(), Some(1));
    // The lease was given back: the next change may go.
    let out = m.run(&[
        "--service",
        "auth-cli",
        "rollback",
        "--yes",
        "--reason",
        "clean up",
    ])?;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(m.rt.block_on(m.l.read_back())?.0.canary, 0);
    Ok(())
}

#[test]
fn yes_without_service_is_refused_when_the_config_has_several() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.toml");
    let service = |name: &str| {
        format!(
            "[[service]]\nname = \"{name}\"\nenvironment = \"production\"\ncluster = \"c\"\nstable_service = \"{name}\"\nlistener_rule_arn = \"arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/x/1/2/3\"\nstable_target_group_arn = \"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/{name}/1\"\n"
        )
    };
    std::fs::write(
        &config,
        format!("{}\n{}", service("payments"), service("auth-service")),
    )?;
    let out = flightdeck(&[
        "--config",
        path(&config),
        "rollback",
        "--yes",
        "--reason",
        "x",
    ])?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 2, "{err}");
    assert!(
        err.contains("--yes needs --service NAME when the config has more than one service (payments, auth-service)"),
        "{err}"
    );
    Ok(())
}

#[test]
fn watch_decides_from_aws_also_after_the_fact() -> TestResult {
    // Seen: both `watch --until rolled-back` and `--until promoted` timed
    // out when started after the rollback had ended.
    let m = OnMoto::new("watch-after")?;
    let run = |extra: &[&str]| m.run(extra);
    let out = run(&[
        "--service",
        "auth-cli",
        "rollback",
        "--yes",
        "--reason",
        "bad release",
    ])?;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["watch", "--until", "rolled-back", "--timeout", "30s"])?;
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["watch", "--until", "promoted", "--timeout", "30s"])?;
    assert_eq!(
        code(&out),
        5,
        "promoted can no longer happen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// `flightdeck status` on `config`, its journal and `--log debug.log` in
/// `dir`, HOME there, no terminal.
fn status_command(dir: &Path, config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flightdeck"));
    cmd.arg("--config")
        .arg(config)
        .arg("--journal")
        .arg(dir.join("j.jsonl"))
        .arg("--log")
        .arg(dir.join("debug.log"))
        .arg("status")
        .env("HOME", dir)
        .stdin(Stdio::null());
    cmd
}

/// A config whose AWS endpoint nothing answers on.
fn unreachable_config(dir: &Path) -> Result<std::path::PathBuf, std::io::Error> {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"http://127.0.0.1:9\"\n\n[[service]]\nname = \"a\"\nenvironment = \"production\"\ncluster = \"c\"\nstable_service = \"s\"\nlistener_rule_arn = \"arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/x/1/2/3\"\nstable_target_group_arn = \"arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/s/1\"\n",
    )?;
    Ok(config)
}

#[test]
fn missing_credentials_is_one_short_line_and_the_rest_goes_to_the_log() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = unreachable_config(dir.path())?;
    let log = dir.path().join("debug.log");
    let out = status_command(dir.path(), &config)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.path().join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("none"))
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 1, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].contains("no usable AWS credentials"), "{err}");
    assert!(
        lines[0].contains("aws sso login"),
        "the action to take: {err}"
    );
    // The message (before the hint) is short; the SDK's chain is in the log.
    let message = lines[0]
        .split(" (run `aws sso login`")
        .next()
        .unwrap_or_default();
    assert!(
        message.chars().count() <= 200,
        "{} chars: {message}",
        message.chars().count()
    );
    let logged = std::fs::read_to_string(&log)?;
    assert!(
        logged.contains("sts:GetCallerIdentity") && logged.len() > message.len(),
        "{logged}"
    );
    Ok(())
}

#[test]
fn an_unreachable_endpoint_is_one_short_line_with_what_to_check() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = unreachable_config(dir.path())?;
    let out = status_command(dir.path(), &config)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    // STS does not answer: the account comes from the ARNs and the command
    // goes on to say that ECS and the load balancer cannot be reached.
    for line in err.lines() {
        assert!(line.chars().count() <= 400, "one short line each: {line}");
    }
    assert!(
        err.contains("cannot reach AWS") || err.contains("no answer"),
        "{err}"
    );
    assert!(err.contains("endpoint_url"), "what to check: {err}");
    Ok(())
}

/// A stand-in AWS endpoint that denies every call the way AWS does: ECS
/// (JSON protocol) with `AccessDeniedException`, STS and the load
/// balancer (query protocol) with an XML `AccessDenied`, each naming the
/// action it refused.
fn denying_endpoint() -> Result<String, std::io::Error> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(match stream.try_clone() {
                Ok(s) => s,
                Err(_) => continue,
            });
            let (mut target, mut length) = (None, 0usize);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("x-amz-target:") {
                    target = v.trim().rsplit('.').next().map(str::to_string);
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let who = "User: arn:aws:sts::123456789012:assumed-role/ReadOnly/ana is not authorized to perform";
            let (kind, text) = match target {
                Some(op) => (
                    "application/x-amz-json-1.1",
                    format!(
                        "{{\"__type\":\"AccessDeniedException\",\"message\":\"{who}: ecs:{op} on resource: arn:aws:ecs:eu-west-1:123456789012:service/c/s because no identity-based policy allows the ecs:{op} action\"}}"
                    ),
                ),
                None => {
                    let body = String::from_utf8_lossy(&body);
                    let action = body
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("Action="))
                        .unwrap_or("Unknown")
                        .to_string();
                    // GetCallerIdentity needs no permission in AWS.
                    if action == "GetCallerIdentity" {
                        let text = "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:sts::123456789012:assumed-role/ReadOnly/ana</Arn><UserId>AROAEXAMPLE:ana</UserId><Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>4d1e2c3a</RequestId></ResponseMetadata></GetCallerIdentityResponse>";
                        let mut stream = reader.into_inner();
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                            text.len()
                        );
                        continue;
                    }
                    let service = "elasticloadbalancing";
                    (
                        "text/xml",
                        format!(
                            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{who}: {service}:{action} because no identity-based policy allows the {service}:{action} action</Message></Error><RequestId>4d1e2c3b</RequestId></ErrorResponse>"
                        ),
                    )
                }
            };
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 403 Forbidden\r\ncontent-type: {kind}\r\nx-amzn-requestid: 4d1e2c3b\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    Ok(url)
}

#[test]
fn denied_access_is_one_short_line_naming_the_permission_and_the_resource() -> TestResult {
    let dir = tempfile::tempdir()?;
    let url = denying_endpoint()?;
    let config = unreachable_config(dir.path())?;
    let text = std::fs::read_to_string(&config)?.replace("http://127.0.0.1:9", &url);
    std::fs::write(&config, text)?;
    let log = dir.path().join("debug.log");
    let out = status_command(dir.path(), &config)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 1, "{err}\n{stdout}");
    for line in err.lines() {
        assert!(
            line.chars().count() <= 200,
            "{} chars: {line}",
            line.chars().count()
        );
    }
    assert!(
        err.contains("ecs:DescribeServices on c: AccessDeniedException"),
        "the permission and the resource: {err}"
    );
    assert!(
        err.contains("elasticloadbalancing:DescribeRules on listener-rule/app/x/1/2/3"),
        "the rule by its ARN's resource part: {err}"
    );
    assert!(
        err.contains("grant it to the IAM principal"),
        "the action to take: {err}"
    );
    let logged = std::fs::read_to_string(&log)?;
    assert!(
        logged.contains("ReadOnly/ana is not authorized"),
        "AWS's whole message is in the log: {logged}"
    );
    Ok(())
}

#[test]
fn completions_and_the_man_page_come_from_the_command_line_definition() -> TestResult {
    // No config, no home, no AWS: they need none.
    let dir = tempfile::tempdir()?;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .args(args)
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .output()
    };
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell])?;
        let script = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            code(&out),
            0,
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for word in [
            "rollback",
            "read-only",
            "demo-outside-window",
            "completions",
        ] {
            assert!(script.contains(word), "{shell} completes {word}");
        }
    }
    let out = run(&["man"])?;
    let page = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0);
    assert!(
        page.starts_with(".ie") || page.contains(".TH flightdeck 1"),
        "{page}"
    );
    for word in ["rollback", "\\-\\-read\\-only", "\\-\\-journal", "watch"] {
        assert!(page.contains(word), "the man page has {word}");
    }
    let out = run(&["completions", "tcsh"])?;
    assert_eq!(code(&out), 2, "an unknown shell is a usage error");
    Ok(())
}
