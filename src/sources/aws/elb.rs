//! `Traffic` on the ALB: the weighted forward action of a listener rule
//! (DescribeRules / ModifyRule) or of a listener's default action
//! (DescribeListeners / ModifyListener). A write changes only the two
//! weights and keeps every other part of the actions as they were
//! (stickiness, other target groups and their weights, authentication
//! actions, order); a read reports those other groups' weights. With
//! an expected split it re-reads first and refuses if the weights moved. A
//! rollback does not compare: it reads the actions only to keep their shape,
//! falls back to the last actions read when that read fails, and refuses
//! rather than guess a shape it has never seen.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple,
};
use aws_types::request_id::RequestId as _;

use super::error;
use crate::config::Listener;
use crate::core::model::{ErrorKind, Forward, RequestId, SourceError, TrafficSplit};
use crate::sources::Traffic;

pub struct AwsTraffic {
    elb: aws_sdk_elasticloadbalancingv2::Client,
    listener: Listener,
    stable_target_group: String,
    /// None when the service has no canary target group.
    canary_target_group: Option<String>,
    /// The actions as last read: a write without a read keeps their shape.
    last: Mutex<Option<Vec<Action>>>,
    /// API calls made (shared between adapters for the rate shown in help).
    pub calls: Arc<AtomicU64>,
}

impl AwsTraffic {
    pub fn new(
        config: &aws_config::SdkConfig,
        listener: Listener,
        stable_target_group: String,
        canary_target_group: Option<String>,
    ) -> AwsTraffic {
        AwsTraffic {
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            listener,
            stable_target_group,
            canary_target_group,
            last: Mutex::new(None),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Count calls in a counter shared with other adapters.
    pub fn with_counter(mut self, calls: Arc<AtomicU64>) -> Self {
        self.calls = calls;
        self
    }

    async fn read(&self) -> Result<Vec<Action>, SourceError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let actions = match &self.listener {
            Listener::Rule(arn) => {
                let out = self
                    .elb
                    .describe_rules()
                    .rule_arns(arn)
                    .send()
                    .await
                    .map_err(|e| error("elasticloadbalancing:DescribeRules", arn, e))?;
                out.rules()
                    .first()
                    .map(|r| r.actions().to_vec())
                    .ok_or_else(|| not_found(arn))?
            }
            Listener::Default(arn) => {
                let out = self
                    .elb
                    .describe_listeners()
                    .listener_arns(arn)
                    .send()
                    .await
                    .map_err(|e| error("elasticloadbalancing:DescribeListeners", arn, e))?;
                out.listeners()
                    .first()
                    .map(|l| l.default_actions().to_vec())
                    .ok_or_else(|| not_found(arn))?
            }
        };
        if let Ok(mut last) = self.last.lock() {
            *last = Some(actions.clone());
        }
        Ok(actions)
    }

    fn forward_of(&self, actions: &[Action]) -> Result<Forward, SourceError> {
        let config = forward_config(actions).ok_or_else(|| {
            SourceError::new(format!(
                "{} has no weighted forward action",
                self.listener.arn()
            ))
            .with_hint("point listener_rule_arn / listener_arn at the rule that forwards to both target groups")
        })?;
        let weight = |arn: &str| {
            config
                .target_groups()
                .iter()
                .find(|t| t.target_group_arn() == Some(arn))
                .map(|t| t.weight().unwrap_or(1).clamp(0, 999) as u16)
        };
        // A configured target group missing from the action is a config
        // error, not a weight of 0.
        let missing = |arn: &str| {
            SourceError::of_kind(
                ErrorKind::NotFound,
                format!(
                    "target group {arn} is not in the forward action of {}",
                    self.listener.arn()
                ),
            )
            .with_hint("check stable_target_group_arn / canary_target_group_arn in the config")
        };
        let stable =
            weight(&self.stable_target_group).ok_or_else(|| missing(&self.stable_target_group))?;
        let canary = match &self.canary_target_group {
            Some(arn) => weight(arn).ok_or_else(|| missing(arn))?,
            None => 0,
        };
        let ours = |arn: &str| {
            arn == self.stable_target_group || self.canary_target_group.as_deref() == Some(arn)
        };
        let other = config
            .target_groups()
            .iter()
            .filter_map(|t| {
                let arn = t.target_group_arn()?;
                (!ours(arn)).then(|| {
                    (
                        arn.to_string(),
                        t.weight().unwrap_or(1).clamp(0, 999) as u16,
                    )
                })
            })
            .collect();
        let stickiness = config
            .target_group_stickiness_config()
            .filter(|s| s.enabled() == Some(true))
            .map(|s| Duration::from_secs(s.duration_seconds().unwrap_or(0).max(0) as u64));
        Ok(Forward {
            stable_target_group: self.stable_target_group.clone(),
            canary_target_group: self.canary_target_group.clone().unwrap_or_default(),
            split: TrafficSplit { stable, canary },
            stickiness,
            other,
        })
    }

    /// `actions` with the forward action's two weights set to `to`.
    fn with_weights(&self, actions: &[Action], to: TrafficSplit) -> Vec<Action> {
        actions
            .iter()
            .map(|a| {
                if a.r#type() != Some(&ActionTypeEnum::Forward) {
                    return a.clone();
                }
                let Some(config) = a.forward_config() else {
                    return a.clone();
                };
                let mut groups: Vec<TargetGroupTuple> = config
                    .target_groups()
                    .iter()
                    .map(|t| {
                        let arn = t.target_group_arn().unwrap_or_default();
                        let weight = if arn == self.stable_target_group {
                            Some(i32::from(to.stable))
                        } else if self.canary_target_group.as_deref() == Some(arn) {
                            Some(i32::from(to.canary))
                        } else {
                            t.weight()
                        };
                        TargetGroupTuple::builder()
                            .target_group_arn(arn)
                            .set_weight(weight)
                            .build()
                    })
                    .collect();
                let ours = [
                    Some((&self.stable_target_group, to.stable)),
                    self.canary_target_group
                        .as_ref()
                        .map(|arn| (arn, to.canary)),
                ];
                for (arn, w) in ours.into_iter().flatten() {
                    if !groups
                        .iter()
                        .any(|t| t.target_group_arn() == Some(arn.as_str()))
                    {
                        groups.push(
                            TargetGroupTuple::builder()
                                .target_group_arn(arn)
                                .weight(i32::from(w))
                                .build(),
                        );
                    }
                }
                let forward = ForwardActionConfig::builder()
                    .set_target_groups(Some(groups))
                    .set_target_group_stickiness_config(
                        config.target_group_stickiness_config().cloned(),
                    )
                    .build();
                // The forward config carries the target groups; a top-level
                // target group ARN beside it would conflict.
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .set_order(a.order())
                    .forward_config(forward)
                    .build()
            })
            .collect()
    }

    async fn write(&self, actions: Vec<Action>) -> Result<RequestId, SourceError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let id = match &self.listener {
            Listener::Rule(arn) => self
                .elb
                .modify_rule()
                .rule_arn(arn)
                .set_actions(Some(actions))
                .send()
                .await
                .map_err(|e| error("elasticloadbalancing:ModifyRule", arn, e))?
                .request_id()
                .map(str::to_string),
            Listener::Default(arn) => self
                .elb
                .modify_listener()
                .listener_arn(arn)
                .set_default_actions(Some(actions))
                .send()
                .await
                .map_err(|e| error("elasticloadbalancing:ModifyListener", arn, e))?
                .request_id()
                .map(str::to_string),
        };
        Ok(id.unwrap_or_else(|| "none".into()))
    }
}

fn forward_config(actions: &[Action]) -> Option<&ForwardActionConfig> {
    actions
        .iter()
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .find_map(|a| a.forward_config())
}

fn not_found(arn: &str) -> SourceError {
    SourceError::of_kind(ErrorKind::NotFound, format!("{arn} not found"))
        .with_hint("check listener_rule_arn / listener_arn in the config")
}

#[async_trait]
impl Traffic for AwsTraffic {
    async fn weights(&self) -> Result<Forward, SourceError> {
        let actions = self.read().await?;
        self.forward_of(&actions)
    }

    async fn set_weights(
        &self,
        expect: Option<TrafficSplit>,
        to: TrafficSplit,
    ) -> Result<RequestId, SourceError> {
        let actions = match expect {
            Some(expect) => {
                let actions = self.read().await?;
                let now = self.forward_of(&actions)?.split;
                if now != expect {
                    return Err(SourceError::of_kind(
                        ErrorKind::Conflict,
                        format!(
                            "the weights moved: expected {expect}, found {now} (another operator or tool changed {})",
                            self.listener.arn()
                        ),
                    )
                    .with_hint("look at the Canary pane and decide again"));
                }
                actions
            }
            // A rollback: no comparison. Read only to keep the actions'
            // shape, within a short budget of its own; when the read fails
            // or is slow, the last actions read will do; never a shape
            // guessed from the config. The write keeps its full budget.
            None => match tokio::time::timeout(crate::sources::ROLLBACK_READ_BUDGET, self.read())
                .await
                .unwrap_or_else(|_| {
                    Err(SourceError::of_kind(
                        ErrorKind::Timeout,
                        format!(
                            "elasticloadbalancing:DescribeRules on {} took over {}s",
                            self.listener.arn(),
                            crate::sources::ROLLBACK_READ_BUDGET.as_secs()
                        ),
                    ))
                }) {
                Ok(actions) => actions,
                Err(e) => match self.last.lock().ok().and_then(|l| l.clone()) {
                    Some(actions) if forward_config(&actions).is_some() => actions,
                    _ => {
                        // Nothing was sent: not an unknown outcome, even
                        // when the read timed out.
                        let kind = match e.kind {
                            ErrorKind::Timeout => ErrorKind::Unavailable,
                            other => other,
                        };
                        return Err(SourceError {
                            message: format!(
                                "{}; weights not written: the rule's actions were never read, and writing a guessed action could drop its other parts",
                                e.message
                            ),
                            kind,
                            ..e
                        });
                    }
                },
            },
        };
        self.write(self.with_weights(&actions, to)).await
    }
}
