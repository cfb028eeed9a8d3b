//! The AWS adapters against moto server (the real AWS wire protocol through
//! the official SDK): the seed's layout — a cluster, task definitions with
//! awslogs, stable (9) and canary (1) services, an ALB with two target
//! groups and a listener rule at 90/10 with stickiness, running tasks — then
//! the real core, the real runner and the real adapters carry out the
//! plans, and AWS is read back after each. `scripts/test` starts moto; these
//! tests fail (never skip) without it.

mod common;

use common::moto::{Error, Layout, TestResult, forward, layout, register};

use std::time::Duration;

use flightdeck::config::Listener;
use flightdeck::core::action::{Key, KeyCode, Keymap};
use flightdeck::core::analysis::AnalysisSettings;
use flightdeck::core::effect::Effect;
use flightdeck::core::model::{
    ErrorKind, Model, ModelInit, ServiceMeta, SourceError, Track, TrafficSplit,
};
use flightdeck::core::msg::Msg;
use flightdeck::core::plan::Plan;
use flightdeck::core::update::{Ctx, update};
use flightdeck::journal::Journal;
use flightdeck::runtime::runner;
use flightdeck::sources::aws::ecs::AwsFleet;
use flightdeck::sources::{Fleet, Sources};
use tokio::sync::mpsc;

/// The real core and the real runner over the AWS adapters; the test plays
/// ECS's part of registering canary targets as the service scales.
struct Drive {
    layout: Layout,
    model: Model,
    sources: Sources,
    effects: mpsc::UnboundedSender<Effect>,
    rx: mpsc::UnboundedReceiver<Msg>,
    registered: u32,
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Drive {
    async fn new(name: &str) -> Result<Drive, Error> {
        let layout = layout(name).await?;
        let sources = layout.sources(Listener::Rule(layout.rule.clone()));
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("journal.jsonl");
        let (tx, rx) = mpsc::unbounded_channel();
        let (effects, _runner) = runner::spawn(sources.clone(), Journal::open(&path)?, tx);
        let now = sources.clock.now();
        let model = Model::new(ModelInit {
            service: ServiceMeta {
                name: "auth-service".into(),
                environment: "production".into(),
                protected: false,
                cluster: layout.cluster.clone(),
                stable_service: layout.stable.clone(),
                canary_service: Some(layout.canary.clone()),
                listener_rule: layout.rule.clone(),
                account: "123456789012".into(),
                region: "eu-west-1".into(),
                change_window: None,
            },
            read_only: false,
            demo: None,
            keymap: Keymap::default(),
            plan: Plan::default(),
            analysis: AnalysisSettings::default(),
            theme: "default".into(),
            themes: vec!["default".into()],
            services: vec!["auth-service".into()],
            now,
            session: "t".into(),
            baseline: None,
            unfinished: Vec::new(),
        });
        let mut drive = Drive {
            layout,
            model,
            sources,
            effects,
            rx,
            registered: 1,
            _dir: dir,
            path,
        };
        drive.send(Msg::Resize(160, 48));
        drive.poll().await;
        Ok(drive)
    }

    fn send(&mut self, msg: Msg) {
        let ctx = Ctx {
            now: self.sources.clock.now(),
            operator: "ci".into(),
        };
        for effect in update(&mut self.model, msg, &ctx) {
            let _ = self.effects.send(effect);
        }
    }

    async fn poll(&mut self) {
        let fleet_started = self.sources.clock.now();
        let fleet = self.sources.fleet.snapshot().await;
        // Play ECS: register targets for the canary tasks it would start.
        if let Ok(f) = &fleet
            && let Some(c) = f.service(Track::Canary)
            && c.desired > self.registered
        {
            let _ = register(
                &self.layout.sdk,
                &self.layout.canary_tg,
                self.registered,
                c.desired,
            )
            .await;
            self.registered = c.desired;
        }
        self.send(Msg::Fleet {
            started: fleet_started,
            result: fleet,
        });
        let started = self.sources.clock.now();
        let result = self.sources.traffic.weights().await;
        self.send(Msg::Traffic { started, result });
    }

    async fn settle(&mut self) {
        let end = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < end {
            self.poll().await;
            self.send(Msg::Tick);
            while let Ok(msg) = self.rx.try_recv() {
                self.send(msg);
            }
            if self.model.running.is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Type a command and confirm its dialog (not protected, no window).
    fn command(&mut self, line: &str, reason: &str) {
        self.send(Msg::Key(Key::char(':')));
        for c in line.chars() {
            self.send(Msg::Key(Key::char(c)));
        }
        self.send(Msg::Key(Key::plain(KeyCode::Enter)));
        for c in reason.chars() {
            self.send(Msg::Key(Key::char(c)));
        }
        self.send(Msg::Key(Key::plain(KeyCode::Enter)));
    }

    fn last_result(&self) -> String {
        self.model
            .last_change
            .as_ref()
            .map(|l| l.result.clone())
            .unwrap_or_default()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn reads_the_seed_layout() -> TestResult {
    let layout = layout("read").await?;
    let sources = layout.sources(Listener::Rule(layout.rule.clone()));
    let fleet = sources.fleet.snapshot().await?;
    let stable = fleet.service(Track::Stable).ok_or("no stable")?;
    let canary = fleet.service(Track::Canary).ok_or("no canary")?;
    assert_eq!((stable.desired, canary.desired), (9, 1));
    assert_eq!(stable.task_definition, format!("{}:1", layout.family));
    assert_eq!(canary.task_definition, format!("{}:2", layout.family));
    assert_eq!(
        fleet
            .tasks
            .iter()
            .filter(|t| t.track == Track::Stable)
            .count(),
        9
    );
    assert_eq!(
        fleet
            .tasks
            .iter()
            .filter(|t| t.track == Track::Canary)
            .count(),
        1
    );
    assert!(
        fleet.tasks.iter().all(|t| t.last_status == "RUNNING"),
        "{:?}",
        fleet.tasks
    );
    let healthy: Vec<u32> = fleet.targets.iter().map(|t| t.healthy).collect();
    assert_eq!(healthy, [9, 1]);
    let forward = sources.traffic.weights().await?;
    assert_eq!(
        forward.split,
        TrafficSplit {
            stable: 90,
            canary: 10
        }
    );
    assert_eq!(forward.split.canary_pct(), 10);
    assert_eq!(forward.stickiness, Some(Duration::from_secs(300)));
    // The listener's default action is read the same way.
    let default = layout.sources(Listener::Default(layout.listener.clone()));
    assert_eq!(
        default.traffic.weights().await?.split,
        TrafficSplit {
            stable: 1,
            canary: 0
        }
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn advance_scales_first_then_shifts_keeping_stickiness_then_weight_and_rollback() -> TestResult
{
    let mut d = Drive::new("adv").await?;
    d.command("advance", "");
    d.settle().await;
    assert_eq!(d.last_result(), "ok", "{:?}", d.model.last_change);
    let (split, sticky, stable_td, canary) = d.layout.read_back().await?;
    assert_eq!(
        split,
        TrafficSplit {
            stable: 50,
            canary: 50
        }
    );
    assert_eq!(sticky, Some(300), "stickiness kept");
    assert_eq!(canary, 5, "scaled before the shift");
    assert_eq!(stable_td, format!("{}:1", d.layout.family));

    d.command("weight 25", "");
    d.settle().await;
    assert_eq!(d.last_result(), "ok");
    assert_eq!(
        d.layout.read_back().await?.0,
        TrafficSplit {
            stable: 75,
            canary: 25
        }
    );

    d.command("rollback", "test rollback");
    d.settle().await;
    assert_eq!(d.last_result(), "ok", "{:?}", d.model.last_change);
    let (split, sticky, stable_td, canary) = d.layout.read_back().await?;
    assert_eq!(
        (split, sticky, canary),
        (TrafficSplit::ALL_STABLE, Some(300), 0)
    );
    assert_eq!(stable_td, format!("{}:1", d.layout.family));
    // Every call's request id is in the journal.
    let text = std::fs::read_to_string(&d.path)?;
    let ids = text
        .lines()
        .filter(|l| l.contains("\"request_ids\":[\""))
        .count();
    assert!(ids >= 4, "{text}");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn promote_then_rollback_at_every_step_boundary_restores_the_baseline() -> TestResult {
    for stop_after in 1..=5usize {
        let mut d = Drive::new(&format!("pr{stop_after}")).await?;
        d.command("promote", "");
        let mut calls = 0;
        let end = tokio::time::Instant::now() + Duration::from_secs(60);
        while d.model.running.is_some() && calls < stop_after && tokio::time::Instant::now() < end {
            d.poll().await;
            d.send(Msg::Tick);
            while let Ok(msg) = d.rx.try_recv() {
                if matches!(msg, Msg::StepDone { .. }) {
                    calls += 1;
                }
                d.send(msg);
            }
        }
        if stop_after == 5 {
            assert_eq!(d.last_result(), "ok", "promotion done");
            let (split, _, stable_td, canary) = d.layout.read_back().await?;
            assert_eq!((split, canary), (TrafficSplit::ALL_STABLE, 0));
            assert_eq!(stable_td, format!("{}:2", d.layout.family), "promoted");
        }
        d.command("rollback", "drill");
        d.settle().await;
        let (split, _, stable_td, canary) = d.layout.read_back().await?;
        assert_eq!(
            (split, stable_td.as_str(), canary),
            (
                TrafficSplit::ALL_STABLE,
                format!("{}:1", d.layout.family).as_str(),
                0
            ),
            "rollback after {stop_after} calls: {:?}",
            d.model.last_change
        );
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn weights_moved_behind_the_consoles_back_are_refused() -> TestResult {
    let layout = layout("conflict").await?;
    let sources = layout.sources(Listener::Rule(layout.rule.clone()));
    let seen = sources.traffic.weights().await?.split;
    // Another tool moves the weights.
    aws_sdk_elasticloadbalancingv2::Client::new(&layout.sdk)
        .modify_rule()
        .rule_arn(&layout.rule)
        .actions(forward(
            &layout.stable_tg,
            80,
            &layout.canary_tg,
            20,
            Some(300),
        ))
        .send()
        .await?;
    let err = sources
        .traffic
        .set_weights(Some(seen), TrafficSplit::percent(50))
        .await
        .err()
        .ok_or("the write went through")?;
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(
        err.message.contains("stable 90 / canary 10")
            && err.message.contains("stable 80 / canary 20"),
        "{err}"
    );
    assert_eq!(
        layout.read_back().await?.0,
        TrafficSplit {
            stable: 80,
            canary: 20
        }
    );
    // A rollback writes without a read.
    sources
        .traffic
        .set_weights(None, TrafficSplit::ALL_STABLE)
        .await?;
    assert_eq!(layout.read_back().await?.0, TrafficSplit::ALL_STABLE);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_service_is_a_clear_error() -> TestResult {
    let layout = layout("missing").await?;
    let fleet = AwsFleet::new(
        &layout.sdk,
        layout.cluster.clone(),
        "no-such-service".into(),
        None,
        layout.stable_tg.clone(),
        None,
    );
    let err: SourceError = fleet.snapshot().await.err().ok_or("no error")?;
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(
        err.message.contains("no-such-service") || err.message.contains("MISSING"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_target_group_missing_from_the_rule_is_an_error_not_a_weight_of_zero() -> TestResult {
    use flightdeck::sources::Traffic;
    use flightdeck::sources::aws::elb::AwsTraffic;
    let layout = layout("tgtypo").await?;
    let traffic = AwsTraffic::new(
        &layout.sdk,
        Listener::Rule(layout.rule.clone()),
        layout.stable_tg.clone(),
        Some(format!("{}-typo", layout.canary_tg)),
    );
    let err = traffic.weights().await.err().ok_or("read a weight of 0")?;
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(
        err.message.contains("-typo is not in the forward action"),
        "{err}"
    );
    // Without a canary target group the stable one alone is read.
    let stable_only = AwsTraffic::new(
        &layout.sdk,
        Listener::Rule(layout.rule.clone()),
        layout.stable_tg.clone(),
        None,
    );
    assert_eq!(stable_only.weights().await?.split.stable, 90);
    Ok(())
}

/// A rule that forwards to a third target group beside ours (90 / 5 / 5):
/// the read reports that group's weight, and a rollback (no expected split,
/// to 100 / 0) sets our two and leaves the third group's weight as it was.
#[tokio::test(flavor = "current_thread")]
async fn a_third_target_group_is_reported_and_kept_by_a_rollback() -> TestResult {
    use aws_sdk_elasticloadbalancingv2::types as elb;
    let layout = layout("third").await?;
    let elb_c = aws_sdk_elasticloadbalancingv2::Client::new(&layout.sdk);
    let vpc = common::moto::net()?["vpc"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let third = elb_c
        .create_target_group()
        .name("legacy-third")
        .protocol(elb::ProtocolEnum::Http)
        .port(8080)
        .vpc_id(&vpc)
        .target_type(elb::TargetTypeEnum::Ip)
        .send()
        .await?
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .ok_or("no target group created")?
        .to_string();
    let tuple = |arn: &str, w: i32| {
        elb::TargetGroupTuple::builder()
            .target_group_arn(arn)
            .weight(w)
            .build()
    };
    let action = elb::Action::builder()
        .r#type(elb::ActionTypeEnum::Forward)
        .order(1)
        .forward_config(
            elb::ForwardActionConfig::builder()
                .target_groups(tuple(&layout.stable_tg, 90))
                .target_groups(tuple(&layout.canary_tg, 5))
                .target_groups(tuple(&third, 5))
                .build(),
        )
        .build();
    elb_c
        .modify_rule()
        .rule_arn(&layout.rule)
        .actions(action)
        .send()
        .await?;
    let sources = layout.sources(Listener::Rule(layout.rule.clone()));
    let read = sources.traffic.weights().await?;
    assert_eq!(
        read.split,
        TrafficSplit {
            stable: 90,
            canary: 5
        }
    );
    assert_eq!(read.other, vec![(third.clone(), 5)]);
    assert_eq!(read.other_pct(), 5);
    sources
        .traffic
        .set_weights(None, TrafficSplit::ALL_STABLE)
        .await?;
    // After the rollback the rule reads stable 100, canary 0 and the third
    // group still at 5: it keeps 5 / 105 ≈ 5 % of the traffic. A rollback
    // takes traffic back from the canary only; what another tool sends
    // elsewhere is left to that tool.
    let rules = elb_c
        .describe_rules()
        .rule_arns(&layout.rule)
        .send()
        .await?;
    let groups: Vec<(String, i32)> = rules
        .rules()
        .first()
        .and_then(|r| r.actions().first())
        .and_then(|a| a.forward_config())
        .map(|c| {
            c.target_groups()
                .iter()
                .map(|t| {
                    (
                        t.target_group_arn().unwrap_or_default().to_string(),
                        t.weight().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        groups,
        vec![
            (layout.stable_tg.clone(), 100),
            (layout.canary_tg.clone(), 0),
            (third.clone(), 5),
        ]
    );
    let after = sources.traffic.weights().await?;
    assert_eq!(
        (after.split, after.other),
        (TrafficSplit::ALL_STABLE, vec![(third, 5)])
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_scale_planned_on_another_count_is_refused() -> TestResult {
    // Seen: a slow console's delayed UpdateService shrank a canary another
    // console had just sized to 5 for 50 % traffic, to 3. A scale step
    // states the count it was planned on; ECS is read first.
    let layout = layout("scale-expect").await?;
    let sources = layout.sources(Listener::Rule(layout.rule.clone()));
    sources.fleet.scale(&layout.canary, 5, Some(1)).await?;
    let late = sources.fleet.scale(&layout.canary, 3, Some(1)).await;
    let err = late.err().ok_or("a scale planned on 1 task wrote over 5")?;
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    assert!(
        err.message.contains("has 5 desired tasks, not the 1"),
        "{err}"
    );
    assert_eq!(layout.read_back().await?.3, 5, "the canary keeps 5 tasks");
    // Scaling to 0 (a rollback) never asks.
    sources.fleet.scale(&layout.canary, 0, None).await?;
    assert_eq!(layout.read_back().await?.3, 0);
    Ok(())
}

/// A config for the layout that names only the cluster and the stable
/// service (the canary by the default suffix), with `extra` keys.
fn names_only(l: &Layout, extra: &str) -> Result<flightdeck::config::Config, Error> {
    let url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    let text = format!(
        "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"{url}\"\n\n[[service]]\nname = \"auth\"\nenvironment = \"production\"\ncluster = \"{}\"\nstable_service = \"{}\"\n{extra}\n",
        l.cluster, l.stable
    );
    Ok(flightdeck::config::parse(
        std::path::Path::new("names.toml"),
        &text,
    )?)
}

#[tokio::test(flavor = "current_thread")]
async fn discovery_finds_the_seed_layout_from_names_only() -> TestResult {
    use flightdeck::sources::aws::discover::resolve;
    let l = layout("discover").await?;
    let config = names_only(&l, "")?;
    let service = config.service(None)?;
    let found = resolve(&l.sdk, &service.into()).await?;
    assert_eq!(found.canary_service.as_deref(), Some(l.canary.as_str()));
    assert_eq!(found.stable_target_group_arn, l.stable_tg);
    assert_eq!(
        found.canary_target_group_arn.as_deref(),
        Some(l.canary_tg.as_str())
    );
    // The listener's default action forwards to both groups too (1/0): the
    // rule wins.
    assert_eq!(found.listener, Listener::Rule(l.rule.clone()));
    assert_eq!(found.log_group, Some(format!("/aws/ecs/{}", l.family)));
    assert_eq!(found.found.len(), 5, "{:?}", found.found);

    // What the config gives wins and is not looked up.
    let config = names_only(
        &l,
        "listener_arn = \"arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/x/1/2\"\nlog_group = \"/mine\"",
    )?;
    let found = resolve(&l.sdk, &config.service(None)?.into()).await?;
    assert_eq!(
        found.listener,
        Listener::Default(
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/x/1/2".into()
        )
    );
    assert_eq!(found.log_group.as_deref(), Some("/mine"));
    assert_eq!(found.stable_target_group_arn, l.stable_tg);

    // A canary by another suffix: a clear error naming the service and the
    // key to set.
    let config = names_only(&l, "canary_suffix = \"-next\"")?;
    let err = resolve(&l.sdk, &config.service(None)?.into())
        .await
        .err()
        .ok_or("a missing canary service was found")?;
    assert!(
        err.message
            .contains(&format!("no service `{}-next`", l.stable)),
        "{err}"
    );
    assert!(
        err.hint
            .as_deref()
            .is_some_and(|h| h.contains("canary_service")),
        "{err}"
    );
    Ok(())
}

/// `sdk` with ECS at `url` (ELB, STS still on moto).
fn ecs_at(sdk: &aws_config::SdkConfig, url: &str) -> aws_config::SdkConfig {
    let mut b = sdk.to_builder();
    b.set_endpoint_url(Some(url.to_string()));
    b.build()
}

#[tokio::test(flavor = "current_thread")]
async fn discovery_detects_an_ecs_native_service_and_reads_its_groups_and_rule_from_ecs()
-> TestResult {
    use flightdeck::sources::aws::discover::resolve;
    use flightdeck::sources::aws::native::{Ask, AwsNative, next_call};
    let l = layout("native-discover").await?;
    let fake = common::fake_ecs::FakeEcs::start(
        &l.sdk,
        &l.cluster,
        &l.stable,
        &l.stable_tg,
        &l.canary_tg,
        &l.rule,
    )
    .await;
    let sdk = ecs_at(&l.sdk, &fake.uri());
    // Names only, no model: no `-canary` service and a CANARY strategy on
    // the ECS controller make it native; the groups and the production rule
    // come from its load balancer's advancedConfiguration.
    let config = names_only(&l, "")?;
    let found = resolve(&sdk, &config.service(None)?.into()).await?;
    assert!(found.native, "{:?}", found.found);
    assert_eq!(found.canary_service, None);
    assert_eq!(found.stable_target_group_arn, l.stable_tg);
    assert_eq!(
        found.canary_target_group_arn.as_deref(),
        Some(l.canary_tg.as_str())
    );
    assert_eq!(found.listener, Listener::Rule(l.rule.clone()));
    assert!(
        found.found.iter().any(|f| f.contains("strategy CANARY")),
        "{:?}",
        found.found
    );
    // With the ARNs given and no model, one DescribeServices still finds it
    // native (weights written to ECS's rule would fight ECS).
    let config = names_only(
        &l,
        &format!(
            "listener_rule_arn = \"{}\"\nstable_target_group_arn = \"{}\"",
            l.rule, l.stable_tg
        ),
    )?;
    let found = resolve(&sdk, &config.service(None)?.into()).await?;
    assert!(found.native, "{:?}", found.found);
    assert_eq!(
        found.canary_target_group_arn.as_deref(),
        Some(l.canary_tg.as_str())
    );
    // `init` writes it as an ECS-native service (no canary service).
    let init = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .args([
            "init",
            "--dry-run",
            "--cluster",
            &l.cluster,
            "--region",
            "eu-west-1",
        ])
        .env("AWS_ENDPOINT_URL", std::env::var("FLIGHTDECK_MOTO_URL")?)
        .env("AWS_ENDPOINT_URL_ECS", fake.uri())
        .output()?;
    let printed = String::from_utf8(init.stdout)?;
    assert!(
        init.status.success() && printed.contains("model = \"ecs-native\""),
        "{printed}{}",
        String::from_utf8_lossy(&init.stderr)
    );
    assert!(!printed.contains("canary_service ="), "{printed}");
    flightdeck::config::parse(std::path::Path::new("init.toml"), &printed)?;
    // model = "ecs-native" beside a running canary service: refused, named.
    if let Ok(mut state) = fake.state.lock() {
        state.also.push(format!("{}-canary", l.stable));
    }
    let config = names_only(&l, "model = \"ecs-native\"")?;
    let err = resolve(&sdk, &config.service(None)?.into())
        .await
        .err()
        .ok_or("a native model beside a canary service was accepted")?;
    assert!(err.to_string().contains("canary service"), "{err}");

    // The deployment, read and continued over the ECS JSON protocol.
    let native = AwsNative::new(&sdk, l.cluster.clone(), l.stable.clone());
    let d = native.read_current().await?.ok_or("no deployment read")?;
    assert_eq!(
        (d.status.as_str(), d.stage.as_deref()),
        ("IN_PROGRESS", Some("PRODUCTION_TRAFFIC_SHIFT"))
    );
    let call = next_call(&d, Ask::Continue)?;
    let id = native.call(&call).await?;
    assert_eq!(id, "fake-ecs-ContinueServiceDeployment");
    assert_eq!(
        fake.requests("ContinueServiceDeployment"),
        vec![serde_json::json!({
            "serviceDeploymentArn": d.arn,
            "hookId": common::fake_ecs::HOOK,
            "action": "CONTINUE"
        })]
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn discovery_names_the_candidates_when_the_rule_is_ambiguous_or_missing() -> TestResult {
    use flightdeck::sources::aws::discover::resolve;
    let l = layout("ambiguous").await?;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&l.sdk);
    let second = elb
        .create_rule()
        .listener_arn(&l.listener)
        .priority(20)
        .conditions(
            aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
                .field("path-pattern")
                .values("/api/auth2/*")
                .build(),
        )
        .actions(forward(&l.stable_tg, 50, &l.canary_tg, 50, None))
        .send()
        .await?
        .rules()
        .first()
        .and_then(|r| r.rule_arn())
        .unwrap_or_default()
        .to_string();
    let config = names_only(&l, "")?;
    let service = config.service(None)?;
    let err = resolve(&l.sdk, &service.into())
        .await
        .err()
        .ok_or("two rules were not ambiguous")?;
    assert!(
        err.message.contains("2 listener rules forward to both"),
        "{err}"
    );
    assert!(
        err.message.contains(&l.rule) && err.message.contains(&second),
        "{err}"
    );
    assert!(
        err.hint
            .as_deref()
            .is_some_and(|h| h.contains("listener_rule_arn")),
        "{err}"
    );

    // No rule: the listener's default action, which forwards to both.
    for rule in [&l.rule, &second] {
        elb.delete_rule().rule_arn(rule).send().await?;
    }
    let found = resolve(&l.sdk, &service.into()).await?;
    assert_eq!(found.listener, Listener::Default(l.listener.clone()));

    // Nothing forwards to both: the error names the groups.
    let only_stable = aws_sdk_elasticloadbalancingv2::types::Action::builder()
        .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
        .target_group_arn(&l.stable_tg)
        .build();
    elb.modify_listener()
        .listener_arn(&l.listener)
        .default_actions(only_stable)
        .send()
        .await?;
    let err = resolve(&l.sdk, &service.into())
        .await
        .err()
        .ok_or("no rule was found")?;
    assert!(
        err.message.contains("no listener rule forwards to both"),
        "{err}"
    );
    assert!(
        err.message.contains(&l.stable_tg) && err.message.contains(&l.canary_tg),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_service_in_another_account_and_region_is_read_with_its_role() -> TestResult {
    let l = layout("account").await?;
    let config = names_only(
        &l,
        "region = \"us-east-1\"\naccount = \"arn:aws:iam::210987654321:role/flightdeck-operator\"",
    )?;
    let service = config.service(None)?;
    let sdk = flightdeck::app::service_sdk(&config, service, Duration::from_secs(10)).await;
    assert_eq!(
        sdk.region().map(|r| r.to_string()).as_deref(),
        Some("us-east-1")
    );
    let (account, caller) = flightdeck::sources::aws::identity(&sdk).await?;
    assert_eq!(account, "210987654321", "{caller}");
    assert!(
        caller.contains("assumed-role/flightdeck-operator/flightdeck-"),
        "{caller}"
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn init_writes_a_config_of_a_clusters_three_releases_that_loads_and_shows_them() -> TestResult
{
    let cluster = "suma-init";
    let mut layouts = Vec::new();
    for name in ["init-a", "init-b", "init-c"] {
        layouts.push(common::moto::layout_in(name, cluster).await?);
    }
    // A service without a canary is listed, not paired.
    let ecs = aws_sdk_ecs::Client::new(&layouts[0].sdk);
    ecs.create_service()
        .cluster(cluster)
        .service_name("cron-production")
        .task_definition(format!("{}:1", layouts[0].family))
        .desired_count(0)
        .send()
        .await?;
    let url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("flightdeck").join("config.toml");
    let init = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .arg("--config")
            .arg(&path)
            .args(["init", "--cluster", cluster, "--region", "eu-west-1"])
            .args(extra)
            .env("AWS_ENDPOINT_URL", &url)
            .output()
    };
    let dry = init(&["--dry-run"])?;
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(!path.exists(), "--dry-run wrote the file");
    let printed = String::from_utf8(dry.stdout)?;
    assert!(printed.contains("cron-production"), "{printed}");
    let out = init(&[])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 release(s)"));
    let written = std::fs::read_to_string(&path)?;
    assert_eq!(written, printed);
    // Never over an existing config without --force.
    let again = init(&[])?;
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));

    let config = flightdeck::config::load(&path)?;
    assert_eq!(config.services.len(), 3, "{written}");
    for l in &layouts {
        let service = config
            .services
            .iter()
            .find(|s| s.stable_service == l.stable)
            .ok_or_else(|| format!("{} is not in {written}", l.stable))?;
        assert_eq!(service.canary_service.as_deref(), Some(l.canary.as_str()));
        assert!(service.listener.is_none() && service.stable_target_group_arn.is_none());
        assert!(
            written.contains(&l.rule),
            "the rule found is not noted: {written}"
        );
        // Opened from names only, it reads the release: 90/10.
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
            .arg("--config")
            .arg(&path)
            .args(["--service", &service.name, "--journal"])
            .arg(dir.path().join("journal.jsonl"))
            .args(["status", "--json"])
            .env("AWS_ENDPOINT_URL", &url)
            .output()?;
        let text = String::from_utf8_lossy(&status.stdout);
        assert!(
            status.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let json: serde_json::Value = serde_json::from_str(&text)?;
        assert_eq!(json["traffic"]["canary"], 10, "{json}");
        assert_eq!(json["service"]["listener_rule"], l.rule.as_str(), "{json}");
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn the_fleet_overview_reads_three_releases_in_one_describe_services_and_one_describe_rules_per_listener()
-> TestResult {
    use flightdeck::sources::Releases;
    use flightdeck::sources::aws::overview::{AwsReleases, Entry};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let cluster = "suma-overview";
    let mut layouts = Vec::new();
    for name in ["ov-a", "ov-b", "ov-c"] {
        layouts.push(common::moto::layout_in(name, cluster).await?);
    }
    // One is rolling back: all to stable.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&layouts[2].sdk);
    elb.modify_rule()
        .rule_arn(&layouts[2].rule)
        .actions(forward(
            &layouts[2].stable_tg,
            100,
            &layouts[2].canary_tg,
            0,
            None,
        ))
        .send()
        .await?;
    let url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    let mut text = format!("[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"{url}\"\n");
    for l in &layouts {
        text.push_str(&format!(
            "\n[[service]]\nname = \"{}\"\nenvironment = \"production\"\ncluster = \"{cluster}\"\nstable_service = \"{}\"\n",
            l.stable, l.stable
        ));
    }
    let config = flightdeck::config::parse(std::path::Path::new("fleet.toml"), &text)?;
    let entries = config
        .services
        .iter()
        .map(|s| Entry {
            service: s.clone(),
            sdk: layouts[0].sdk.clone(),
        })
        .collect();
    let calls = Arc::new(AtomicU64::new(0));
    let overview = AwsReleases::new(entries, calls.clone());
    let rows = overview.read().await?;
    assert_eq!(rows.len(), 3);
    for (row, l) in rows.iter().zip(&layouts) {
        assert_eq!(row.name, l.stable);
        assert!(row.error.is_none(), "{row:?}");
        assert_eq!(row.stable_tasks, Some((9, 9)), "{row:?}");
        assert_eq!(row.canary_tasks, Some((1, 1)), "{row:?}");
        assert_eq!(row.account, "123456789012");
        assert!(row.read_at.is_some());
    }
    assert_eq!(rows[0].canary_pct, Some(10));
    assert_eq!(rows[2].canary_pct, Some(0));
    // After the first read (identity and discovery, once): six services in
    // one DescribeServices, and one DescribeRules per listener (three
    // load balancers here).
    let before = calls.load(Ordering::Relaxed);
    overview.read().await?;
    assert_eq!(calls.load(Ordering::Relaxed) - before, 1 + 3);

    // With [team], who holds a lease comes from the table.
    use flightdeck::sources::Lease;
    use flightdeck::sources::team::Team;
    let table = "flightdeck-overview";
    let identity = flightdeck::core::model::identity_of(
        "123456789012",
        "eu-west-1",
        cluster,
        &layouts[1].stable,
        Some(&layouts[1].canary),
    );
    let team = Team::new(
        &layouts[0].sdk,
        table,
        &identity,
        Arc::new(flightdeck::sources::SystemClock),
    );
    team.create_table().await?;
    let ana = flightdeck::core::model::LeaseHolder {
        operator: "ana".into(),
        via: "console".into(),
        change: "c-1".into(),
        action: "advance".into(),
        host: String::new(),
        pid: 0,
        since: String::new(),
        call_until: None,
        started: None,
    };
    team.acquire(&ana, false).await?;
    let entries = config
        .services
        .iter()
        .map(|s| Entry {
            service: s.clone(),
            sdk: layouts[0].sdk.clone(),
        })
        .collect();
    let overview = AwsReleases::new(entries, calls.clone())
        .with_team(layouts[0].sdk.clone(), table.to_string());
    let rows = overview.read().await?;
    assert_eq!(rows[0].holder, None);
    assert!(
        rows[1]
            .holder
            .as_deref()
            .is_some_and(|h| h.starts_with("ana@")),
        "{:?}",
        rows[1].holder
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_service_in_another_region_is_read_there_by_the_overview_and_its_console() -> TestResult {
    use flightdeck::sources::Releases;
    use flightdeck::sources::aws::overview::{AwsReleases, Entry};
    // One cluster name in two regions, a release in each.
    let eu = common::moto::layout_in("rg-eu", "suma-regions").await?;
    let us = common::moto::layout_in_region("rg-us", "suma-regions", "us-east-1").await?;
    let url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    let text = format!(
        "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"{url}\"\n\n[[service]]\nname = \"eu\"\nenvironment = \"production\"\ncluster = \"suma-regions\"\nstable_service = \"{}\"\n\n[[service]]\nname = \"us\"\nenvironment = \"production\"\nregion = \"us-east-1\"\ncluster = \"suma-regions\"\nstable_service = \"{}\"\n",
        eu.stable, us.stable
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("regions.toml");
    std::fs::write(&path, &text)?;
    let config = flightdeck::config::load(&path)?;
    let mut entries = Vec::new();
    for service in &config.services {
        entries.push(Entry {
            sdk: flightdeck::app::service_sdk(&config, service, Duration::from_secs(10)).await,
            service: service.clone(),
        });
    }
    let overview = AwsReleases::new(entries, std::sync::Arc::default());
    let rows = overview.read().await?;
    assert_eq!(rows[0].region, "eu-west-1");
    assert_eq!(rows[1].region, "us-east-1");
    for row in &rows {
        assert!(row.error.is_none(), "{row:?}");
        assert_eq!(row.canary_pct, Some(10), "{row:?}");
        assert_eq!(row.stable_tasks, Some((9, 9)), "{row:?}");
    }
    // Its console (here `status`) reads it in its region.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flightdeck"))
        .arg("--config")
        .arg(&path)
        .args(["--service", "us", "--journal"])
        .arg(dir.path().join("journal.jsonl"))
        .args(["status", "--json"])
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&text)?;
    assert_eq!(json["service"]["region"], "us-east-1", "{json}");
    assert_eq!(json["service"]["listener_rule"], us.rule.as_str(), "{json}");
    assert_eq!(json["traffic"]["canary"], 10, "{json}");
    Ok(())
}
