//! moto server for the AWS tests: the seed's layout built through the SDK,
//! and AWS read back. `scripts/test` starts moto and sets
//! FLIGHTDECK_MOTO_URL and FLIGHTDECK_MOTO_NET; without them these fail.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::types as elb;
use flightdeck::config::Listener;
use flightdeck::core::model::TrafficSplit;
use flightdeck::sources::aws::{self, AwsSettings, ecs::AwsFleet, elb::AwsTraffic};
use flightdeck::sources::{Sources, SystemClock};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;
pub type Error = Box<dyn std::error::Error>;

/// The seed's layout in moto, named with a suffix so tests do not meet.
pub struct Layout {
    pub sdk: aws_config::SdkConfig,
    pub cluster: String,
    pub stable: String,
    pub canary: String,
    pub family: String,
    pub stable_tg: String,
    pub canary_tg: String,
    pub rule: String,
    pub listener: String,
}

/// A flightdeck config for this layout on moto: `[aws]` at moto, `top`
/// (more sections) after it, one `[[service]]` named `name`, and
/// `service_extra` (more keys or `[service.analysis]`) after it.
pub fn config_toml(
    l: &Layout,
    name: &str,
    top: &str,
    service_extra: &str,
) -> Result<String, Error> {
    let url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    Ok(format!(
        r#"[aws]
region = "eu-west-1"
endpoint_url = "{url}"

{top}

[[service]]
name = "{name}"
environment = "production"
cluster = "{}"
stable_service = "{}"
canary_service = "{}"
listener_rule_arn = "{}"
stable_target_group_arn = "{}"
canary_target_group_arn = "{}"
{service_extra}
"#,
        l.cluster, l.stable, l.canary, l.rule, l.stable_tg, l.canary_tg
    ))
}

pub async fn sdk() -> Result<aws_config::SdkConfig, Error> {
    sdk_in("eu-west-1").await
}

/// The SDK config for moto in `region`.
pub async fn sdk_in(region: &str) -> Result<aws_config::SdkConfig, Error> {
    let url = std::env::var("FLIGHTDECK_MOTO_URL").map_err(|_| {
        "FLIGHTDECK_MOTO_URL is not set: run the tests with scripts/test, which starts moto server"
    })?;
    let settings = AwsSettings {
        region: Some(region.into()),
        profile: None,
        endpoint_url: Some(url),
    };
    Ok(aws::sdk_config(&settings, Duration::from_secs(20)).await)
}

pub fn net() -> Result<serde_json::Value, Error> {
    let text = std::env::var("FLIGHTDECK_MOTO_NET")
        .map_err(|_| "FLIGHTDECK_MOTO_NET is not set: run the tests with scripts/test")?;
    Ok(serde_json::from_str(&text)?)
}

/// The default VPC's subnets and security group in eu-west-1, for tasks
/// run with awsvpc networking.
pub fn awsvpc() -> Result<(Vec<String>, String), Error> {
    let net = net()?;
    let sg = net["security_group"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok((strings(&net["subnets"]), sg))
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

pub async fn layout(name: &str) -> Result<Layout, Error> {
    layout_in(name, &format!("suma-{name}")).await
}

/// The seed's layout in `cluster` (made if missing): several layouts can
/// share one.
pub async fn layout_in(name: &str, cluster: &str) -> Result<Layout, Error> {
    layout_in_region(name, cluster, "eu-west-1").await
}

/// The seed's layout in `cluster` of `region` (eu-west-1 or us-east-1).
pub async fn layout_in_region(name: &str, cluster: &str, region: &str) -> Result<Layout, Error> {
    let sdk = sdk_in(region).await?;
    let all = net()?;
    let net = if region == "eu-west-1" {
        all.clone()
    } else {
        all[region].clone()
    };
    let subnets = strings(&net["subnets"]);
    let sg = net["security_group"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let vpc = net["vpc"].as_str().unwrap_or_default().to_string();
    let ecs_c = aws_sdk_ecs::Client::new(&sdk);
    let elb_c = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let cluster = cluster.to_string();
    let family = format!("auth-{name}");
    let known = ecs_c.describe_clusters().clusters(&cluster).send().await?;
    if !known
        .clusters()
        .iter()
        .any(|c| c.status() == Some("ACTIVE"))
    {
        ecs_c.create_cluster().cluster_name(&cluster).send().await?;
    }
    for image in ["auth:41", "auth:42"] {
        let logs = ecs::LogConfiguration::builder()
            .log_driver(ecs::LogDriver::Awslogs)
            .options("awslogs-group", format!("/aws/ecs/{family}"))
            .options("awslogs-region", region)
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

pub fn forward(stable: &str, sw: i32, canary: &str, cw: i32, sticky: Option<i32>) -> elb::Action {
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
pub async fn register(sdk: &aws_config::SdkConfig, tg: &str, from: u32, to: u32) -> TestResult {
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
    pub fn sources(&self, listener: Listener) -> Sources {
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
            Some(self.canary_tg.clone()),
        ));
        let none = Arc::new(flightdeck::app::Unreadable::not_connected("test"));
        Sources {
            pipeline: none.clone(),
            fleet,
            traffic,
            logs: none.clone(),
            metrics: none,
            clock: Arc::new(SystemClock),
            lease: Arc::new(flightdeck::sources::lease::MemoryLease::default()),
            team: None,
            calls: None,
            native: None,
        }
    }

    /// AWS read back with the SDK: canary share, stickiness, stable task
    /// definition, canary desired count.
    pub async fn read_back(&self) -> Result<(TrafficSplit, Option<i32>, String, i32), Error> {
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
