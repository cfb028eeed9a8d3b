//! Zero-ARN setup: a `[[service]]` that names only its cluster and services
//! gets the rest from AWS at start. The target groups are the services'
//! load balancer groups (DescribeServices), the weighted forward action is
//! the one listener rule (or listener default action) of the groups' load
//! balancers whose forward holds both groups (DescribeTargetGroups,
//! DescribeListeners, DescribeRules), and the log group is the awslogs
//! group of the canary's container (DescribeTaskDefinition). What the
//! config gives explicitly wins and is not looked up; with every ARN given
//! nothing is called. Anything ambiguous is an error naming the candidates.
//!
//! An ECS-native service (no canary service beside it; the ECS deployment
//! controller with strategy CANARY, LINEAR or BLUE_GREEN) is detected here:
//! its two groups and production rule come from its load balancer's
//! `advancedConfiguration` (primary group = stable, alternate = canary).

use aws_sdk_ecs::types::Service;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum};

use super::error;
use crate::config::{Listener, ServiceConfig};
use crate::core::model::{ErrorKind, SourceError};

/// A service's AWS resources, as configured or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub canary_service: Option<String>,
    pub listener: Listener,
    pub stable_target_group_arn: String,
    pub canary_target_group_arn: Option<String>,
    pub log_group: Option<String>,
    /// An ECS-native service (ECS moves the traffic), as detected.
    pub native: bool,
    /// What was looked up, e.g. "listener rule … (forwards to both groups)";
    /// empty when the config gave everything.
    pub found: Vec<String>,
}

/// What a `[[service]]` says about its resources (`None`: find it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub cluster: String,
    pub stable_service: String,
    pub canary_service: Option<String>,
    pub canary_suffix: String,
    pub listener: Option<Listener>,
    pub stable_target_group_arn: Option<String>,
    pub canary_target_group_arn: Option<String>,
    pub log_group: Option<String>,
    /// `model = "ecs-native"`: one service, whatever its strategy reads.
    pub native: bool,
}

impl From<&ServiceConfig> for Wanted {
    fn from(s: &ServiceConfig) -> Wanted {
        Wanted {
            cluster: s.cluster.clone(),
            stable_service: s.stable_service.clone(),
            canary_service: s.canary_service.clone(),
            canary_suffix: s.canary_suffix.clone(),
            listener: s.listener.clone(),
            stable_target_group_arn: s.stable_target_group_arn.clone(),
            canary_target_group_arn: s.canary_target_group_arn.clone(),
            log_group: s.log_group.clone(),
            native: s.native,
        }
    }
}

/// The config's ARNs when it gives the listener and the stable group;
/// otherwise the missing ones from AWS.
pub async fn resolve(
    sdk: &aws_config::SdkConfig,
    service: &Wanted,
) -> Result<Resolved, SourceError> {
    // Explicit ARNs: nothing is looked up — but one DescribeServices when
    // no canary service is named, in case the service is ECS-native (its
    // rule is ECS's to move: writing weights there would fight it).
    if let (Some(listener), Some(stable)) = (&service.listener, &service.stable_target_group_arn) {
        if service.canary_service.is_none() && !service.native {
            // Best effort: the console's own reads say what is wrong later.
            let ecs = aws_sdk_ecs::Client::new(sdk);
            match ecs
                .describe_services()
                .cluster(&service.cluster)
                .services(&service.stable_service)
                .send()
                .await
                .map_err(|e| error("ecs:DescribeServices", &service.cluster, e))
            {
                Ok(out) => {
                    if let Some(found) =
                        out.services().iter().find(|s| native_strategy(s).is_some())
                    {
                        return native(&ecs, service, found).await;
                    }
                }
                Err(e) => crate::debug_log::write("discovery", &e.to_string()),
            }
        }
        // A native service's alternate group is looked up when not given.
        if service.native && service.canary_target_group_arn.is_none() {
            return discovered(sdk, service).await;
        }
        return Ok(Resolved {
            canary_service: service.canary_service.clone(),
            listener: listener.clone(),
            stable_target_group_arn: stable.clone(),
            canary_target_group_arn: service.canary_target_group_arn.clone(),
            log_group: service.log_group.clone(),
            native: service.native,
            found: Vec::new(),
        });
    }
    discovered(sdk, service).await
}

/// What the config leaves out, from AWS.
async fn discovered(
    sdk: &aws_config::SdkConfig,
    service: &Wanted,
) -> Result<Resolved, SourceError> {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let mut found = Vec::new();
    let canary_name = service
        .canary_service
        .clone()
        .unwrap_or_else(|| format!("{}{}", service.stable_service, service.canary_suffix));
    let (stable, canary) = services(&ecs, service, &canary_name).await?;
    let Some(canary) = canary else {
        return native(&ecs, service, &stable).await;
    };
    if service.canary_service.is_none() {
        found.push(format!("canary service {canary_name}"));
    }
    let stable_tg = match &service.stable_target_group_arn {
        Some(arn) => arn.clone(),
        None => {
            let arn = one_group(&stable, "stable_target_group_arn")?;
            found.push(format!("stable target group {arn}"));
            arn
        }
    };
    let canary_tg = match &service.canary_target_group_arn {
        Some(arn) => arn.clone(),
        None => {
            let arn = one_group(&canary, "canary_target_group_arn")?;
            found.push(format!("canary target group {arn}"));
            arn
        }
    };
    if stable_tg == canary_tg {
        return Err(SourceError::of_kind(
            ErrorKind::Conflict,
            format!(
                "discovery: the stable and canary services share one target group ({stable_tg}): traffic cannot be split between them"
            ),
        )
        .with_hint("give the canary service a target group of its own, both in the listener rule's forward"));
    }
    let listener = match &service.listener {
        Some(listener) => listener.clone(),
        None => {
            let listener = forwarding_to_both(&elb, &stable_tg, &canary_tg).await?;
            found.push(match &listener {
                Listener::Rule(arn) => format!("listener rule {arn}"),
                Listener::Default(arn) => format!("listener default action of {arn}"),
            });
            listener
        }
    };
    let log_group = match &service.log_group {
        Some(group) => Some(group.clone()),
        // Best effort: without it only the Logs pane has nothing to show.
        None => match log_group(&ecs, &canary).await {
            Ok(Some(group)) => {
                found.push(format!("log group {group}"));
                Some(group)
            }
            Ok(None) => None,
            Err(e) => {
                found.push(format!("no log group: {e}"));
                None
            }
        },
    };
    Ok(Resolved {
        canary_service: Some(canary_name),
        listener,
        stable_target_group_arn: stable_tg,
        canary_target_group_arn: Some(canary_tg),
        log_group,
        native: false,
        found,
    })
}

/// The strategy of an ECS-native service (ECS deployment controller, not
/// ROLLING), else None.
fn native_strategy(service: &Service) -> Option<&str> {
    let controller = service
        .deployment_controller()
        .map_or("ECS", |c| c.r#type().as_str());
    let strategy = service
        .deployment_configuration()
        .and_then(|c| c.strategy())
        .map(|s| s.as_str())?;
    (controller == "ECS" && strategy != "ROLLING").then_some(strategy)
}

/// An ECS-native service's groups and production rule, from the load
/// balancer that has an `advancedConfiguration`; the log group of its
/// container.
async fn native(
    ecs: &aws_sdk_ecs::Client,
    service: &Wanted,
    stable: &Service,
) -> Result<Resolved, SourceError> {
    let name = service.stable_service.as_str();
    let strategy = native_strategy(stable).unwrap_or("ROLLING");
    let mut found = vec![format!(
        "ECS-native service {name} (strategy {strategy}, no canary service)"
    )];
    let advanced: Vec<_> = stable
        .load_balancers()
        .iter()
        .filter_map(|lb| Some((lb, lb.advanced_configuration()?)))
        .collect();
    let [(lb, advanced)] = advanced.as_slice() else {
        return Err(SourceError::of_kind(
            ErrorKind::Conflict,
            format!(
                "discovery: service `{name}` has {} load balancers with an advancedConfiguration (alternate target group, production listener rule); one is needed",
                advanced.len()
            ),
        )
        .with_hint(config_hint(
            "listener_rule_arn, stable_target_group_arn and canary_target_group_arn",
        )));
    };
    let stable_tg = match &service.stable_target_group_arn {
        Some(arn) => arn.clone(),
        None => {
            let arn = lb.target_group_arn().unwrap_or_default().to_string();
            found.push(format!("stable (primary) target group {arn}"));
            arn
        }
    };
    let canary_tg = match &service.canary_target_group_arn {
        Some(arn) => arn.clone(),
        None => {
            let arn = advanced
                .alternate_target_group_arn()
                .unwrap_or_default()
                .to_string();
            found.push(format!("canary (alternate) target group {arn}"));
            arn
        }
    };
    let listener = match &service.listener {
        Some(listener) => listener.clone(),
        None => {
            // An ALB's production listener rule, or an NLB's listener.
            let arn = advanced.production_listener_rule().unwrap_or_default();
            let listener = if arn.contains(":listener-rule/") {
                Listener::Rule(arn.to_string())
            } else {
                Listener::Default(arn.to_string())
            };
            found.push(if matches!(listener, Listener::Rule(_)) {
                format!("production listener rule {arn}")
            } else {
                format!("production listener {arn} (its default action)")
            });
            listener
        }
    };
    if stable_tg.is_empty() || canary_tg.is_empty() || listener.arn().is_empty() {
        return Err(SourceError::of_kind(
            ErrorKind::NotFound,
            format!(
                "discovery: service `{name}`'s advancedConfiguration lacks its primary target group, alternate target group or production listener rule"
            ),
        )
        .with_hint(config_hint(
            "listener_rule_arn, stable_target_group_arn and canary_target_group_arn",
        )));
    }
    let log_group = match &service.log_group {
        Some(group) => Some(group.clone()),
        None => log_group(ecs, stable).await.ok().flatten(),
    };
    if let Some(group) = &log_group {
        found.push(format!("log group {group}"));
    }
    Ok(Resolved {
        canary_service: None,
        listener,
        stable_target_group_arn: stable_tg,
        canary_target_group_arn: Some(canary_tg),
        log_group,
        native: true,
        found,
    })
}

fn config_hint(keys: &str) -> String {
    format!("or set {keys} in the [[service]] (explicit ARNs are not looked up)")
}

/// The stable and canary services, in one DescribeServices; no canary for
/// an ECS-native service.
async fn services(
    ecs: &aws_sdk_ecs::Client,
    service: &Wanted,
    canary: &str,
) -> Result<(Service, Option<Service>), SourceError> {
    let out = ecs
        .describe_services()
        .cluster(&service.cluster)
        .services(&service.stable_service)
        .services(canary)
        .send()
        .await
        .map_err(|e| error("ecs:DescribeServices", &service.cluster, e))?;
    let find = |name: &str| {
        out.services()
            .iter()
            .find(|s| s.service_name() == Some(name) && s.status() != Some("INACTIVE"))
            .cloned()
    };
    let missing = |name: &str, key: &str| {
        let mut err = SourceError::of_kind(
            ErrorKind::NotFound,
            format!(
                "discovery: no service `{name}` in cluster `{}`",
                service.cluster
            ),
        );
        err.hint = Some(format!(
            "check {key} and cluster in the config (`aws ecs list-services --cluster {}` lists them)",
            service.cluster
        ));
        err
    };
    let stable = find(&service.stable_service)
        .ok_or_else(|| missing(&service.stable_service, "stable_service"))?;
    let canary_key = if service.canary_service.is_some() {
        "canary_service".to_string()
    } else {
        format!(
            "canary_service (none set: the stable name + canary_suffix \"{}\")",
            service.canary_suffix
        )
    };
    match find(canary) {
        // An ECS-native service moves its own traffic: no canary service.
        None if service.native
            || service.canary_service.is_none() && native_strategy(&stable).is_some() =>
        {
            Ok((stable, None))
        }
        None => Err(missing(canary, &canary_key)),
        Some(_) if service.native => Err(SourceError::of_kind(
            ErrorKind::Conflict,
            format!(
                "discovery: model = \"ecs-native\" but a canary service `{canary}` runs beside `{}`",
                service.stable_service
            ),
        )
        .with_hint("remove model (a two-service release), or the canary service")),
        Some(found) => Ok((stable, Some(found))),
    }
}

/// The one target group a service registers its tasks in.
fn one_group(service: &Service, key: &str) -> Result<String, SourceError> {
    let name = service.service_name().unwrap_or("?");
    let mut groups: Vec<String> = service
        .load_balancers()
        .iter()
        .filter_map(|lb| lb.target_group_arn().map(str::to_string))
        .collect();
    groups.sort();
    groups.dedup();
    match groups.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(SourceError::of_kind(
            ErrorKind::NotFound,
            format!("discovery: service `{name}` is behind no target group"),
        )
        .with_hint(config_hint(key))),
        many => Err(SourceError::of_kind(
            ErrorKind::Conflict,
            format!(
                "discovery: service `{name}` is behind {} target groups: {}",
                many.len(),
                many.join(", ")
            ),
        )
        .with_hint(format!(
            "set {key} to the one that takes production traffic"
        ))),
    }
}

/// The canary's weight when this forward action sends to both groups.
fn forwards_to_both(actions: &[Action], stable: &str, canary: &str) -> Option<i32> {
    actions
        .iter()
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .filter_map(|a| a.forward_config())
        .find_map(|f| {
            let weight = |arn: &str| {
                f.target_groups()
                    .iter()
                    .find(|t| t.target_group_arn() == Some(arn))
                    .map(|t| t.weight().unwrap_or(1))
            };
            weight(stable).and(weight(canary))
        })
}

/// The listener rule whose forward holds both groups, among every listener
/// of the stable group's load balancers; a listener's default action only
/// when no rule does.
async fn forwarding_to_both(
    elb: &aws_sdk_elasticloadbalancingv2::Client,
    stable: &str,
    canary: &str,
) -> Result<Listener, SourceError> {
    let groups = elb
        .describe_target_groups()
        .target_group_arns(stable)
        .send()
        .await
        .map_err(|e| error("elasticloadbalancing:DescribeTargetGroups", stable, e))?;
    // A group lists its load balancer once per rule that uses it.
    let balancers: std::collections::BTreeSet<String> = groups
        .target_groups()
        .iter()
        .flat_map(|g| g.load_balancer_arns().iter().cloned())
        .collect();
    let mut rules = Vec::new();
    let mut defaults = Vec::new();
    for balancer in &balancers {
        let listeners = elb
            .describe_listeners()
            .load_balancer_arn(balancer)
            .send()
            .await
            .map_err(|e| error("elasticloadbalancing:DescribeListeners", balancer, e))?;
        for listener in listeners.listeners() {
            let Some(listener_arn) = listener.listener_arn() else {
                continue;
            };
            // Every rule of the listener, page by page (the default rule
            // among them).
            let mut marker: Option<String> = None;
            loop {
                let page = elb
                    .describe_rules()
                    .listener_arn(listener_arn)
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| error("elasticloadbalancing:DescribeRules", listener_arn, e))?;
                for rule in page.rules() {
                    let Some(canary_weight) = forwards_to_both(rule.actions(), stable, canary)
                    else {
                        continue;
                    };
                    if rule.is_default() == Some(true) {
                        defaults.push((listener_arn.to_string(), canary_weight));
                    } else if let Some(arn) = rule.rule_arn() {
                        rules.push(arn.to_string());
                    }
                }
                match page.next_marker() {
                    Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                    _ => break,
                }
            }
        }
    }
    rules.sort();
    rules.dedup();
    defaults.sort();
    defaults.dedup();
    choose(rules, defaults, stable, canary)
}

/// One rule, else one default action; none or several is an error naming
/// them. A rule wins over a default action that also forwards to both only
/// while that one gives the canary nothing: else a rollback of the rule
/// would leave canary traffic on the default action.
fn choose(
    rules: Vec<String>,
    defaults: Vec<(String, i32)>,
    stable: &str,
    canary: &str,
) -> Result<Listener, SourceError> {
    let weighted: Vec<&String> = defaults
        .iter()
        .filter(|(_, w)| *w > 0)
        .map(|(l, _)| l)
        .collect();
    let defaults: Vec<String> = defaults.iter().map(|(l, _)| l.clone()).collect();
    match (rules.as_slice(), defaults.as_slice()) {
        ([rule], _) if !weighted.is_empty() => Err(SourceError::of_kind(
            ErrorKind::Conflict,
            format!(
                "discovery: listener rule {rule} and the default action of {} both send canary traffic",
                weighted
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_hint("set listener_rule_arn or listener_arn to the one flightdeck steers; a rollback moves only that one")),
        ([rule], _) => Ok(Listener::Rule(rule.clone())),
        ([], [listener]) => Ok(Listener::Default(listener.clone())),
        ([], []) => Err(SourceError::of_kind(
            ErrorKind::NotFound,
            format!(
                "discovery: no listener rule forwards to both target groups ({stable} and {canary})"
            ),
        )
        .with_hint(format!(
            "give the rule a weighted forward to both groups, {}",
            config_hint("listener_rule_arn (or listener_arn)")
        ))),
        ([], many) => Err(SourceError::of_kind(
            ErrorKind::Conflict,
            format!(
                "discovery: {} listeners' default actions forward to both target groups: {}",
                many.len(),
                many.join(", ")
            ),
        )
        .with_hint("set listener_arn to the one flightdeck steers")),
        (many, _) => Err(SourceError::of_kind(
            ErrorKind::Conflict,
            format!(
                "discovery: {} listener rules forward to both target groups: {}",
                many.len(),
                many.join(", ")
            ),
        )
        .with_hint("set listener_rule_arn to the one flightdeck steers")),
    }
}

/// The awslogs group of the canary's task definition: of the container
/// behind its load balancer, else of the only container that has one.
async fn log_group(
    ecs: &aws_sdk_ecs::Client,
    canary: &Service,
) -> Result<Option<String>, SourceError> {
    let Some(definition) = canary.task_definition() else {
        return Ok(None);
    };
    let out = ecs
        .describe_task_definition()
        .task_definition(definition)
        .send()
        .await
        .map_err(|e| error("ecs:DescribeTaskDefinition", definition, e))?;
    let Some(definition) = out.task_definition() else {
        return Ok(None);
    };
    let behind_lb: Vec<&str> = canary
        .load_balancers()
        .iter()
        .filter_map(|lb| lb.container_name())
        .collect();
    let groups: Vec<(Option<&str>, String)> = definition
        .container_definitions()
        .iter()
        .filter_map(|c| {
            let logs = c.log_configuration()?;
            (logs.log_driver().as_str() == "awslogs").then_some(())?;
            let group = logs.options()?.get("awslogs-group")?;
            Some((c.name(), group.clone()))
        })
        .collect();
    let of_lb = groups
        .iter()
        .find(|(name, _)| name.is_some_and(|n| behind_lb.contains(&n)));
    Ok(match (of_lb, groups.as_slice()) {
        (Some((_, group)), _) => Some(group.clone()),
        (None, [(_, group)]) => Some(group.clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_wins_over_a_default_action_and_two_of_either_are_ambiguous() {
        let r = |s: &str| s.to_string();
        assert_eq!(
            choose(vec![r("rule/1")], vec![(r("listener/1"), 0)], "s", "c").ok(),
            Some(Listener::Rule(r("rule/1")))
        );
        // A default action that sends the canary traffic too: which one?
        let both = choose(vec![r("rule/1")], vec![(r("listener/1"), 5)], "s", "c");
        assert!(
            both.is_err_and(|e| e.message.contains("rule/1") && e.message.contains("listener/1"))
        );
        assert_eq!(
            choose(vec![], vec![(r("listener/1"), 5)], "s", "c").ok(),
            Some(Listener::Default(r("listener/1")))
        );
        let two = choose(vec![r("rule/1"), r("rule/2")], vec![], "s", "c");
        assert!(two.is_err_and(|e| e.message.contains("rule/1, rule/2")));
        let none = choose(vec![], vec![], "tg/s", "tg/c");
        assert!(none.is_err_and(|e| e.message.contains("tg/s and tg/c")
            && e.hint.is_some_and(|h| h.contains("listener_rule_arn"))));
    }
}
