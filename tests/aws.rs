//! The AWS adapters against moto server (the real AWS wire protocol through
//! the official SDK): the seed's layout — a cluster, task definitions with
//! awslogs, stable (9) and canary (1) services, an ALB with two target
//! groups and a listener rule at 90/10 with stickiness, running tasks — then
//! the real core, the real runner and the real adapters carry out the
//! plans, and AWS is read back after each. `scripts/test` starts moto; these
//! tests fail (never skip) without it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::types as elb;
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
use flightdeck::sources::aws::{self, AwsSettings, ecs::AwsFleet, elb::AwsTraffic};
use flightdeck::sources::{Fleet, Sources, SystemClock};
use tokio::sync::mpsc;

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Error = Box<dyn std::error::Error>;

/// The seed's layout in moto, named with a suffix so tests do not meet.
struct Layout {
    sdk: aws_config::SdkConfig,
    cluster: String,
    stable: String,
    canary: String,
    family: String,
    stable_tg: String,
    canary_tg: String,
    rule: String,
    listener: String,
}

async fn sdk() -> Result<aws_config::SdkConfig, Error> {
    let url = std::env::var("FLIGHTDECK_MOTO_URL").map_err(|_| {
        "FLIGHTDECK_MOTO_URL is not set: run the tests with scripts/test, which starts moto server"
    })?;
    let settings = AwsSettings {
        region: Some("eu-west-1".into()),
        profile: None,
        endpoint_url: Some(url),
    };
    Ok(aws::sdk_config(&settings, Duration::from_secs(20)).await)
}

fn net() -> Result<serde_json::Value, Error> {
    let text = std::env::var("FLIGHTDECK_MOTO_NET")
        .map_err(|_| "FLIGHTDECK_MOTO_NET is not set: run the tests with scripts/test")?;
    Ok(serde_json::from_str(&text)?)
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn layout(name: &str) -> Result<Layout, Error> {
    let sdk = sdk().await?;
    let net = net()?;
    let subnets = strings(&net["subnets"]);
    let sg = net["security_group"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let vpc = net["vpc"].as_str().unwrap_or_default().to_string();
    let ecs_c = aws_sdk_ecs::Client::new(&sdk);
    let elb_c = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let cluster = format!("suma-{name}");
    let family = format!("auth-{name}");
    ecs_c.create_cluster().cluster_name(&cluster).send().await?;
    for image in ["auth:41", "auth:42"] {
        let logs = ecs::LogConfiguration::builder()
            .log_driver(ecs::LogDriver::Awslogs)
            .options("awslogs-group", format!("/aws/ecs/{family}"))
            .options("awslogs-region", "eu-west-1")
            .options("awslogs-stream-prefix", "ecs")
            .build()?;
        ecs_c
            .register_task_definition()
            .family(&family)
            .network_mode(ecs::NetworkMode::Awsvpc)
            .requires_compatibilities(ecs::Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(
                ecs::ContainerDefinition::builder()
                    .name("app")
                    .image(image)
                    .memory(512)
                    .port_mappings(ecs::PortMapping::builder().container_port(8080).build())
                    .log_configuration(logs)
                    .build(),
            )
            .send()
            .await?;
    }
    let tg = |n: &str| {
        elb_c
            .create_target_group()
            .name(format!("{n}-{name}"))
            .protocol(elb::ProtocolEnum::Http)
            .port(8080)
            .vpc_id(&vpc)
            .target_type(elb::TargetTypeEnum::Ip)
            .send()
    };
    let arn = |out: aws_sdk_elasticloadbalancingv2::operation::create_target_group::CreateTargetGroupOutput| {
        out.target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .map(str::to_string)
            .unwrap_or_default()
    };
    let stable_tg = arn(tg("stable").await?);
    let canary_tg = arn(tg("canary").await?);
    let lb = elb_c
        .create_load_balancer()
        .name(format!("lb-{name}"))
        .set_subnets(Some(subnets.clone()))
        .security_groups(&sg)
        .send()
        .await?;
    let lb_arn = lb
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_arn())
        .unwrap_or_default()
        .to_string();
    let listener = elb_c
        .create_listener()
        .load_balancer_arn(&lb_arn)
        .protocol(elb::ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(&stable_tg, 1, &canary_tg, 0, None))
        .send()
        .await?
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .unwrap_or_default()
        .to_string();
    let rule = elb_c
        .create_rule()
        .listener_arn(&listener)
        .priority(10)
        .conditions(
            elb::RuleCondition::builder()
                .field("path-pattern")
                .values("/api/auth/*")
                .build(),
        )
        .actions(forward(&stable_tg, 90, &canary_tg, 10, Some(300)))
        .send()
        .await?
        .rules()
        .first()
        .and_then(|r| r.rule_arn())
        .unwrap_or_default()
        .to_string();
    let stable = format!("auth-{name}-production");
    let canary = format!("auth-{name}-production-canary");
    for (service, revision, count, tg) in [(&stable, 1, 9, &stable_tg), (&canary, 2, 1, &canary_tg)]
    {
        let network = ecs::NetworkConfiguration::builder()
            .awsvpc_configuration(
                ecs::AwsVpcConfiguration::builder()
                    .set_subnets(Some(subnets.clone()))
                    .security_groups(&sg)
                    .build()?,
            )
            .build();
        ecs_c
            .create_service()
            .cluster(&cluster)
            .service_name(service)
            .task_definition(format!("{family}:{revision}"))
            .desired_count(count)
            .launch_type(ecs::LaunchType::Fargate)
            .network_configuration(network.clone())
            .load_balancers(
                ecs::LoadBalancer::builder()
                    .target_group_arn(tg)
                    .container_name("app")
                    .container_port(8080)
                    .build(),
            )
            .send()
            .await?;
        // moto counts a service's tasks as running only once its desired
        // count is set again, and starts no tasks: run them in its group.
        ecs_c
            .update_service()
            .cluster(&cluster)
            .service(service)
            .desired_count(count)
            .send()
            .await?;
        ecs_c
            .run_task()
            .cluster(&cluster)
            .task_definition(format!("{family}:{revision}"))
            .count(count)
            .group(format!("service:{service}"))
            .launch_type(ecs::LaunchType::Fargate)
            .network_configuration(network)
            .send()
            .await?;
        register(&sdk, tg, 0, count as u32).await?;
    }
    Ok(Layout {
        sdk,
        cluster,
        stable,
        canary,
        family,
        stable_tg,
        canary_tg,
        rule,
        listener,
    })
}

fn forward(stable: &str, sw: i32, canary: &str, cw: i32, sticky: Option<i32>) -> elb::Action {
    let mut config = elb::ForwardActionConfig::builder()
        .target_groups(
            elb::TargetGroupTuple::builder()
                .target_group_arn(stable)
                .weight(sw)
                .build(),
        )
        .target_groups(
            elb::TargetGroupTuple::builder()
                .target_group_arn(canary)
                .weight(cw)
                .build(),
        );
    if let Some(secs) = sticky {
        config = config.target_group_stickiness_config(
            elb::TargetGroupStickinessConfig::builder()
                .enabled(true)
                .duration_seconds(secs)
                .build(),
        );
    }
    elb::Action::builder()
        .r#type(elb::ActionTypeEnum::Forward)
        .order(1)
        .forward_config(config.build())
        .build()
}

/// Register targets `from..to` (10.1.x.y) in a target group: what ECS does
/// for the tasks of a service behind it, which moto does not.
async fn register(sdk: &aws_config::SdkConfig, tg: &str, from: u32, to: u32) -> TestResult {
    if to <= from {
        return Ok(());
    }
    let targets: Vec<elb::TargetDescription> = (from..to)
        .map(|i| {
            elb::TargetDescription::builder()
                .id(format!("10.1.{}.{}", i / 200, i % 200 + 10))
                .port(8080)
                .build()
        })
        .collect();
    aws_sdk_elasticloadbalancingv2::Client::new(sdk)
        .register_targets()
        .target_group_arn(tg)
        .set_targets(Some(targets))
        .send()
        .await?;
    Ok(())
}

impl Layout {
    fn sources(&self, listener: Listener) -> Sources {
        let fleet = Arc::new(AwsFleet::new(
            &self.sdk,
            self.cluster.clone(),
            self.stable.clone(),
            Some(self.canary.clone()),
            self.stable_tg.clone(),
            Some(self.canary_tg.clone()),
        ));
        let traffic = Arc::new(AwsTraffic::new(
            &self.sdk,
            listener,
            self.stable_tg.clone(),
            self.canary_tg.clone(),
        ));
        let none = Arc::new(flightdeck::app::NotConnected("test"));
        Sources {
            pipeline: none.clone(),
            fleet,
            traffic,
            logs: none.clone(),
            metrics: none,
            clock: Arc::new(SystemClock),
        }
    }

    /// AWS read back with the SDK: canary share, stickiness, stable task
    /// definition, canary desired count.
    async fn read_back(&self) -> Result<(TrafficSplit, Option<i32>, String, i32), Error> {
        let elb_c = aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk);
        let rules = elb_c.describe_rules().rule_arns(&self.rule).send().await?;
        let config = rules
            .rules()
            .first()
            .and_then(|r| r.actions().first())
            .and_then(|a| a.forward_config())
            .ok_or("no forward action")?;
        let weight = |arn: &str| {
            config
                .target_groups()
                .iter()
                .find(|t| t.target_group_arn() == Some(arn))
                .and_then(|t| t.weight())
                .unwrap_or(-1) as u16
        };
        let split = TrafficSplit {
            stable: weight(&self.stable_tg),
            canary: weight(&self.canary_tg),
        };
        let sticky = config
            .target_group_stickiness_config()
            .filter(|s| s.enabled() == Some(true))
            .and_then(|s| s.duration_seconds());
        let ecs_c = aws_sdk_ecs::Client::new(&self.sdk);
        let out = ecs_c
            .describe_services()
            .cluster(&self.cluster)
            .services(&self.stable)
            .services(&self.canary)
            .send()
            .await?;
        let find = |n: &str| out.services().iter().find(|s| s.service_name() == Some(n));
        let stable_td = find(&self.stable)
            .and_then(|s| s.task_definition())
            .map(aws::short_task_definition)
            .unwrap_or_default();
        let canary_desired = find(&self.canary).map_or(-1, |s| s.desired_count());
        Ok((split, sticky, stable_td, canary_desired))
    }
}

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
        let (effects, _runner) =
            runner::spawn(sources.clone(), Journal::open(&path)?, "ci".into(), tx);
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
        self.send(Msg::Fleet(fleet));
        let traffic = self.sources.traffic.weights().await;
        self.send(Msg::Traffic(traffic));
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
