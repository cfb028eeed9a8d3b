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
//! When none is under way, the newest that ended in the last day is read,
//! so the console shows how it ended (and a rollback's end check sees
//! ROLLBACK_SUCCESSFUL).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, ServiceDeploymentStatus, StopServiceDeploymentStopType,
};
use aws_types::request_id::RequestId as _;

use super::error;
use crate::core::model::{ErrorKind, RequestId, SourceError, Time};
pub use crate::core::native::{Ask, Hook, NativeCall, NativeDeployment, Strategy, next_call};

pub struct AwsNative {
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    service: String,
    pub calls: Arc<AtomicU64>,
    /// The task definitions of the last deployment's source and target
    /// revisions (revisions do not change: read once per deployment).
    revisions: std::sync::Mutex<Option<(String, Revisions)>>,
    /// The newest ended deployment, once read: it no longer changes, so an
    /// idle poll lists and does not describe it again.
    ended: std::sync::Mutex<Option<NativeDeployment>>,
}

/// Source and target task definitions, as read.
type Revisions = (Option<String>, Option<String>);

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
            revisions: std::sync::Mutex::new(None),
            ended: std::sync::Mutex::new(None),
        }
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// The newest deployment under way; else the newest of the last day
    /// that ended (how it ended: SUCCESSFUL, ROLLBACK_SUCCESSFUL, …); else
    /// None.
    pub async fn read_current(&self) -> Result<Option<NativeDeployment>, SourceError> {
        use ServiceDeploymentStatus as S;
        let under_way = [
            S::Pending,
            S::InProgress,
            S::RollbackRequested,
            S::RollbackInProgress,
        ];
        let mut arn = self.newest(Some(&under_way)).await?;
        if arn.is_none() {
            arn = self.newest(None).await?;
            if let (Some(arn), Ok(ended)) = (&arn, self.ended.lock())
                && let Some(d) = ended.as_ref().filter(|d| d.arn == *arn)
            {
                return Ok(Some(d.clone()));
            }
        }
        let Some(arn) = arn else {
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
        let source_revisions: Vec<String> = d
            .source_service_revisions()
            .iter()
            .filter_map(|r| r.arn().map(str::to_string))
            .collect();
        let target_revision = d
            .target_service_revision()
            .and_then(|r| r.arn())
            .map(str::to_string);
        let (source_task_definition, target_task_definition) = self
            .task_definitions(&arn, source_revisions.first(), target_revision.as_ref())
            .await;
        let read = NativeDeployment {
            arn,
            source_task_definition,
            target_task_definition,
            status: d
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            status_reason: d.status_reason().map(str::to_string),
            stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
            strategy,
            source_revisions,
            target_revision,
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
            finished_at: time(d.finished_at().or(d.stopped_at())),
            rollback: d.rollback().map(|r| {
                (
                    r.reason().unwrap_or_default().to_string(),
                    r.service_revision_arn().unwrap_or_default().to_string(),
                )
            }),
        };
        if !read.under_way()
            && let Ok(mut ended) = self.ended.lock()
        {
            *ended = Some(read.clone());
        }
        Ok(Some(read))
    }

    /// The task definitions of a deployment's source and target revisions
    /// (DescribeServiceRevisions, once per deployment). Best effort: the
    /// deployment is shown without them when they cannot be read.
    async fn task_definitions(
        &self,
        deployment: &str,
        source: Option<&String>,
        target: Option<&String>,
    ) -> Revisions {
        if let Ok(cache) = self.revisions.lock()
            && let Some((arn, known)) = cache.as_ref()
            && arn == deployment
        {
            return known.clone();
        }
        let arns: Vec<String> = source
            .iter()
            .chain(target.iter())
            .map(|a| a.to_string())
            .collect();
        if arns.is_empty() {
            return (None, None);
        }
        self.count();
        let out = match self
            .ecs
            .describe_service_revisions()
            .set_service_revision_arns(Some(arns))
            .send()
            .await
            .map_err(|e| error("ecs:DescribeServiceRevisions", deployment, e))
        {
            Ok(out) => out,
            Err(e) => {
                // Shown by revision instead; asked again at the next read.
                crate::debug_log::write("native", &e.to_string());
                return (None, None);
            }
        };
        let td = |arn: Option<&String>| {
            out.service_revisions()
                .iter()
                .find(|r| r.service_revision_arn() == arn.map(String::as_str))
                .and_then(|r| r.task_definition())
                .map(super::short_task_definition)
        };
        let known = (td(source), td(target));
        if let Ok(mut cache) = self.revisions.lock() {
            *cache = Some((deployment.to_string(), known.clone()));
        }
        known
    }

    /// The newest deployment's ARN with one of `statuses`; with None, of
    /// any status created in the last day (one page: enough for the newest
    /// of a day).
    async fn newest(
        &self,
        statuses: Option<&[ServiceDeploymentStatus]>,
    ) -> Result<Option<String>, SourceError> {
        self.count();
        let mut list = self
            .ecs
            .list_service_deployments()
            .cluster(&self.cluster)
            .service(&self.service)
            .max_results(100);
        match statuses {
            Some(statuses) => {
                for status in statuses {
                    list = list.status(status.clone());
                }
            }
            None => {
                let day_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
                list = list.created_at(
                    aws_sdk_ecs::types::CreatedAt::builder()
                        .after(aws_smithy_types::DateTime::from(day_ago))
                        .build(),
                );
            }
        }
        let listed = list
            .send()
            .await
            .map_err(|e| error("ecs:ListServiceDeployments", &self.service, e))?;
        Ok(listed
            .service_deployments()
            .iter()
            .max_by_key(|d| d.created_at().map(|t| (t.secs(), t.subsec_nanos())))
            .and_then(|d| d.service_deployment_arn())
            .map(str::to_string))
    }

    /// Make `call`; the request id for the journal. A rollback at a hook
    /// that ECS refuses (the hook stopped awaiting: timed out, continued by
    /// someone else) becomes StopServiceDeployment ROLLBACK: a rollback is
    /// never lost to a race with the hook.
    pub async fn call(&self, call: &NativeCall) -> Result<RequestId, SourceError> {
        let result = self.make(call).await;
        match (call, result) {
            (NativeCall::RollbackHook { deployment, .. }, Err(e))
                if !matches!(
                    e.kind,
                    ErrorKind::Timeout
                        | ErrorKind::Unavailable
                        | ErrorKind::Throttled { .. }
                        | ErrorKind::Auth
                ) =>
            {
                crate::debug_log::write(
                    "native",
                    &format!(
                        "rollback at the hook refused ({e}): stopping the deployment with a rollback"
                    ),
                );
                // The journal's request id says which call did it.
                self.make(&NativeCall::Stop {
                    deployment: deployment.clone(),
                })
                .await
                .map(|id| {
                    format!(
                        "{id} (StopServiceDeployment ROLLBACK: the hook no longer awaited: {})",
                        crate::text::one_line(&e.message, 240)
                    )
                })
            }
            (_, result) => result,
        }
    }

    async fn make(&self, call: &NativeCall) -> Result<RequestId, SourceError> {
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

#[async_trait::async_trait]
impl crate::sources::Native for AwsNative {
    async fn current(&self) -> Result<Option<NativeDeployment>, SourceError> {
        self.read_current().await
    }

    async fn make(&self, call: &NativeCall) -> Result<RequestId, SourceError> {
        self.call(call).await
    }
}
