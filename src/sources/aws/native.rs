//! ECS-native deployments (the ECS deployment controller with strategy
//! CANARY, LINEAR or BLUE_GREEN): the deployment under way, read with
//! ListServiceDeployments and DescribeServiceDeployments — status,
//! lifecycle stage, the strategy's plan, source and target revisions, each
//! lifecycle hook with its status, expiry and timeout action, rollback —
//! and the two calls that steer it: ContinueServiceDeployment (CONTINUE or
//! ROLLBACK on the hook that awaits action) and StopServiceDeployment
//! (ROLLBACK). Which call a key makes is decided from the deployment read
//! (`next_call`): the strategy owns the weights, so only these two exist.
//!
//! The first step of the native model: the adapter and its decisions, tested
//! with the SDK's mocks in every state; the panes, keys and analysis on top
//! of it come next.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, ServiceDeploymentStatus, StopServiceDeploymentStopType,
};
use aws_types::request_id::RequestId as _;

use super::error;
use crate::core::model::{ErrorKind, RequestId, SourceError, Time};

/// How the deployment moves traffic.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// `percent` of traffic for `bake`, then all.
    Canary {
        percent: f64,
        bake_minutes: i32,
    },
    /// `percent` more each step, each baked for `bake`.
    Linear {
        percent: f64,
        bake_minutes: i32,
    },
    BlueGreen,
    Rolling,
    Other(String),
}

/// One lifecycle hook of the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub id: String,
    /// IN_PROGRESS, AWAITING_ACTION, SUCCEEDED, FAILED, TIMED_OUT.
    pub status: String,
    /// Until when it awaits action (PAUSE hooks), and what happens then.
    pub expires_at: Option<Time>,
    pub timeout_action: Option<String>,
}

/// The service deployment under way (or the newest one).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeDeployment {
    pub arn: String,
    /// PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, ROLLBACK_REQUESTED,
    /// ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED, …
    pub status: String,
    pub status_reason: Option<String>,
    /// e.g. PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME.
    pub stage: Option<String>,
    pub strategy: Strategy,
    /// The revisions it moves from (the baseline) and to.
    pub source_revisions: Vec<String>,
    pub target_revision: Option<String>,
    pub hooks: Vec<Hook>,
    /// Why and to which revision it rolls back, once it does.
    pub rollback: Option<(String, String)>,
}

impl NativeDeployment {
    /// Whether it still moves (a call can steer it).
    pub fn under_way(&self) -> bool {
        matches!(
            self.status.as_str(),
            "PENDING" | "IN_PROGRESS" | "ROLLBACK_REQUESTED" | "ROLLBACK_IN_PROGRESS"
        )
    }

    /// The hook that waits for an operator (a PAUSE hook).
    pub fn awaiting(&self) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.status == "AWAITING_ACTION")
    }
}

/// What a key asks of a native deployment, as the call that does it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeCall {
    /// ContinueServiceDeployment on the awaiting hook.
    Continue { deployment: String, hook: String },
    /// ContinueServiceDeployment ROLLBACK on the awaiting hook.
    RollbackHook { deployment: String, hook: String },
    /// StopServiceDeployment with stopType ROLLBACK.
    Stop { deployment: String },
}

/// What the operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Continue,
    Rollback,
    /// `w` / `P`: weights, which the strategy owns.
    Weight,
}

/// The call for `ask` on `d`, or why there is none.
pub fn next_call(d: &NativeDeployment, ask: Ask) -> Result<NativeCall, String> {
    if !d.under_way() {
        return Err(format!(
            "the deployment is {}: nothing to steer",
            d.status.to_lowercase()
        ));
    }
    let rolling_back = d.status.starts_with("ROLLBACK");
    match ask {
        Ask::Weight => Err(format!(
            "the ECS {} strategy sets the weights: continue, or roll back",
            strategy_name(&d.strategy)
        )),
        Ask::Continue => match d.awaiting() {
            _ if rolling_back => Err("the deployment is rolling back".into()),
            Some(hook) => Ok(NativeCall::Continue {
                deployment: d.arn.clone(),
                hook: hook.id.clone(),
            }),
            None => Err(match &d.stage {
                Some(stage) => format!(
                    "no lifecycle hook awaits action (stage {stage}): the deployment moves on by itself"
                ),
                None => "no lifecycle hook awaits action".into(),
            }),
        },
        Ask::Rollback if rolling_back => Err("the deployment is already rolling back".into()),
        Ask::Rollback => Ok(match d.awaiting() {
            Some(hook) => NativeCall::RollbackHook {
                deployment: d.arn.clone(),
                hook: hook.id.clone(),
            },
            None => NativeCall::Stop {
                deployment: d.arn.clone(),
            },
        }),
    }
}

pub fn strategy_name(s: &Strategy) -> String {
    match s {
        Strategy::Canary { .. } => "canary".into(),
        Strategy::Linear { .. } => "linear".into(),
        Strategy::BlueGreen => "blue/green".into(),
        Strategy::Rolling => "rolling".into(),
        Strategy::Other(name) => name.to_lowercase(),
    }
}

pub struct AwsNative {
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    service: String,
    pub calls: Arc<AtomicU64>,
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<Time> {
    t.and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

impl AwsNative {
    pub fn new(config: &aws_config::SdkConfig, cluster: String, service: String) -> AwsNative {
        AwsNative::from_client(aws_sdk_ecs::Client::new(config), cluster, service)
    }

    pub fn from_client(ecs: aws_sdk_ecs::Client, cluster: String, service: String) -> AwsNative {
        AwsNative {
            ecs,
            cluster,
            service,
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// The deployment under way, else None.
    pub async fn current(&self) -> Result<Option<NativeDeployment>, SourceError> {
        self.count();
        let listed = self
            .ecs
            .list_service_deployments()
            .cluster(&self.cluster)
            .service(&self.service)
            .status(ServiceDeploymentStatus::Pending)
            .status(ServiceDeploymentStatus::InProgress)
            .status(ServiceDeploymentStatus::RollbackRequested)
            .status(ServiceDeploymentStatus::RollbackInProgress)
            .send()
            .await
            .map_err(|e| error("ecs:ListServiceDeployments", &self.service, e))?;
        // Newest first.
        let mut brief = listed.service_deployments().to_vec();
        brief.sort_by_key(|d| std::cmp::Reverse(d.created_at().map(|t| t.secs())));
        let Some(arn) = brief
            .first()
            .and_then(|d| d.service_deployment_arn())
            .map(str::to_string)
        else {
            return Ok(None);
        };
        self.count();
        let out = self
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(&arn)
            .send()
            .await
            .map_err(|e| error("ecs:DescribeServiceDeployments", &arn, e))?;
        let Some(d) = out.service_deployments().first() else {
            return Err(SourceError::of_kind(
                ErrorKind::NotFound,
                format!("ecs:DescribeServiceDeployments: {arn} not found"),
            ));
        };
        let config = d.deployment_configuration();
        let strategy = match config.and_then(|c| c.strategy()).map(|s| s.as_str()) {
            Some("CANARY") => {
                let c = config.and_then(|c| c.canary_configuration());
                Strategy::Canary {
                    percent: c.and_then(|c| c.canary_percent()).unwrap_or_default(),
                    bake_minutes: c
                        .and_then(|c| c.canary_bake_time_in_minutes())
                        .unwrap_or_default(),
                }
            }
            Some("LINEAR") => {
                let c = config.and_then(|c| c.linear_configuration());
                Strategy::Linear {
                    percent: c.and_then(|c| c.step_percent()).unwrap_or_default(),
                    bake_minutes: c
                        .and_then(|c| c.step_bake_time_in_minutes())
                        .unwrap_or_default(),
                }
            }
            Some("BLUE_GREEN") => Strategy::BlueGreen,
            Some("ROLLING") | None => Strategy::Rolling,
            Some(other) => Strategy::Other(other.to_string()),
        };
        Ok(Some(NativeDeployment {
            arn,
            status: d
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_reason: d.status_reason().map(str::to_string),
            stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
            strategy,
            source_revisions: d
                .source_service_revisions()
                .iter()
                .filter_map(|r| r.arn().map(str::to_string))
                .collect(),
            target_revision: d
                .target_service_revision()
                .and_then(|r| r.arn())
                .map(str::to_string),
            hooks: d
                .lifecycle_hook_details()
                .iter()
                .map(|h| Hook {
                    id: h.hook_id().unwrap_or_default().to_string(),
                    status: h
                        .status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    expires_at: time(h.expires_at()),
                    timeout_action: h.timeout_action().map(|a| a.as_str().to_string()),
                })
                .collect(),
            rollback: d.rollback().map(|r| {
                (
                    r.reason().unwrap_or_default().to_string(),
                    r.service_revision_arn().unwrap_or_default().to_string(),
                )
            }),
        }))
    }

    /// Make `call`; the request id for the journal.
    pub async fn make(&self, call: &NativeCall) -> Result<RequestId, SourceError> {
        self.count();
        let (deployment, hook, action) = match call {
            NativeCall::Stop { deployment } => {
                let out = self
                    .ecs
                    .stop_service_deployment()
                    .service_deployment_arn(deployment)
                    .stop_type(StopServiceDeploymentStopType::Rollback)
                    .send()
                    .await
                    .map_err(|e| error("ecs:StopServiceDeployment", deployment, e))?;
                return Ok(out.request_id().unwrap_or_default().to_string());
            }
            NativeCall::Continue { deployment, hook } => {
                (deployment, hook, DeploymentLifecycleHookAction::Continue)
            }
            NativeCall::RollbackHook { deployment, hook } => {
                (deployment, hook, DeploymentLifecycleHookAction::Rollback)
            }
        };
        let out = self
            .ecs
            .continue_service_deployment()
            .service_deployment_arn(deployment)
            .hook_id(hook)
            .action(action)
            .send()
            .await
            .map_err(|e| error("ecs:ContinueServiceDeployment", deployment, e))?;
        Ok(out.request_id().unwrap_or_default().to_string())
    }
}
