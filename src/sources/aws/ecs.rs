//! `Fleet` on ECS and the ALB's target health: DescribeServices (both
//! services in one call), ListTasks (paginated, running and recently
//! stopped) with DescribeTasks in batches of 100, DescribeTargetHealth of
//! both target groups; UpdateService to scale or change a task definition.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_ecs::types::DesiredStatus;
use aws_types::request_id::RequestId as _;

use super::{error, short_task_definition};
use crate::core::model::{
    Deployment, FleetSnapshot, RequestId, ServiceEvent, ServiceInfo, SourceError, TargetHealth,
    TaskInfo, Time, Track,
};
use crate::sources::Fleet;

/// Most tasks DescribeTasks takes in one call.
const DESCRIBE_TASKS_BATCH: usize = 100;

/// The services, tasks and target groups of one release.
pub struct AwsFleet {
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    cluster: String,
    stable_service: String,
    canary_service: Option<String>,
    stable_target_group: String,
    canary_target_group: Option<String>,
    /// API calls made, for the rate shown to the operator.
    /// API calls made (shared between adapters for the rate shown in help).
    pub calls: Arc<AtomicU64>,
}

impl AwsFleet {
    pub fn new(
        config: &aws_config::SdkConfig,
        cluster: String,
        stable_service: String,
        canary_service: Option<String>,
        stable_target_group: String,
        canary_target_group: Option<String>,
    ) -> AwsFleet {
        AwsFleet::from_clients(
            aws_sdk_ecs::Client::new(config),
            aws_sdk_elasticloadbalancingv2::Client::new(config),
            cluster,
            stable_service,
            canary_service,
            stable_target_group,
            canary_target_group,
        )
    }

    /// Over clients built elsewhere (tests use the SDK's mocks).
    pub fn from_clients(
        ecs: aws_sdk_ecs::Client,
        elb: aws_sdk_elasticloadbalancingv2::Client,
        cluster: String,
        stable_service: String,
        canary_service: Option<String>,
        stable_target_group: String,
        canary_target_group: Option<String>,
    ) -> AwsFleet {
        AwsFleet {
            ecs,
            elb,
            cluster,
            stable_service,
            canary_service,
            stable_target_group,
            canary_target_group,
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Count calls in a counter shared with other adapters.
    pub fn with_counter(mut self, calls: Arc<AtomicU64>) -> Self {
        self.calls = calls;
        self
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn track(&self, service: &str) -> Track {
        if self.canary_service.as_deref() == Some(service) {
            Track::Canary
        } else {
            Track::Stable
        }
    }

    fn names(&self) -> Vec<String> {
        let mut names = vec![self.stable_service.clone()];
        names.extend(self.canary_service.clone());
        names
    }

    async fn services(&self) -> Result<(Vec<ServiceInfo>, Vec<ServiceEvent>), SourceError> {
        let mut services = Vec::new();
        let mut events = Vec::new();
        // At most 10 names a call; this release has two.
        for chunk in self.names().chunks(10) {
            self.count();
            let out = self
                .ecs
                .describe_services()
                .cluster(&self.cluster)
                .set_services(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| error("ecs:DescribeServices", &self.cluster, e))?;
            if let Some(f) = out.failures().first() {
                return Err(SourceError::of_kind(
                    crate::core::model::ErrorKind::NotFound,
                    format!(
                        "ecs:DescribeServices: {} {}",
                        f.arn().unwrap_or("?"),
                        f.reason().unwrap_or("failed")
                    ),
                )
                .with_hint("check stable_service / canary_service and cluster in the config"));
            }
            for s in out.services() {
                let name = s.service_name().unwrap_or_default().to_string();
                let track = self.track(&name);
                let deployments = s
                    .deployments()
                    .iter()
                    .map(|d| Deployment {
                        status: d.status().unwrap_or_default().to_string(),
                        task_definition: short_task_definition(
                            d.task_definition().unwrap_or_default(),
                        ),
                        rollout_state: d.rollout_state().map_or("", |r| r.as_str()).to_string(),
                        running: count(Some(d.running_count())),
                        pending: count(Some(d.pending_count())),
                        desired: count(Some(d.desired_count())),
                        created_at: d.created_at().map_or(Time::default(), time),
                    })
                    .collect();
                for e in s.events() {
                    events.push(ServiceEvent {
                        id: e.id().unwrap_or_default().to_string(),
                        at: e.created_at().map_or(Time::default(), time),
                        message: e.message().unwrap_or_default().to_string(),
                    });
                }
                services.push(ServiceInfo {
                    name,
                    track,
                    task_definition: short_task_definition(s.task_definition().unwrap_or_default()),
                    running: count(Some(s.running_count())),
                    pending: count(Some(s.pending_count())),
                    desired: count(Some(s.desired_count())),
                    deployments,
                });
            }
        }
        Ok((services, events))
    }

    /// Task ARNs of a service: running, then recently stopped.
    async fn task_arns(&self, service: &str) -> Result<Vec<String>, SourceError> {
        let mut arns = Vec::new();
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let mut token = None;
            loop {
                self.count();
                let out = self
                    .ecs
                    .list_tasks()
                    .cluster(&self.cluster)
                    .service_name(service)
                    .desired_status(status.clone())
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| error("ecs:ListTasks", service, e))?;
                arns.extend(out.task_arns().iter().cloned());
                token = out.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(arns)
    }

    async fn tasks(&self, services: &[ServiceInfo]) -> Result<Vec<TaskInfo>, SourceError> {
        let mut tasks = Vec::new();
        for service in services {
            let arns = self.task_arns(&service.name).await?;
            for batch in arns.chunks(DESCRIBE_TASKS_BATCH) {
                self.count();
                let out = self
                    .ecs
                    .describe_tasks()
                    .cluster(&self.cluster)
                    .set_tasks(Some(batch.to_vec()))
                    .send()
                    .await
                    .map_err(|e| error("ecs:DescribeTasks", &service.name, e))?;
                let group = format!("service:{}", service.name);
                for t in out.tasks() {
                    // ListTasks by service name can match a longer name
                    // (moto); the task's group says whose it is.
                    if t.group().is_some_and(|g| g != group) {
                        continue;
                    }
                    let arn = t.task_arn().unwrap_or_default();
                    // Task health, else the first container's.
                    let health = t
                        .health_status()
                        .map(|h| h.as_str().to_string())
                        .or_else(|| {
                            t.containers()
                                .first()
                                .and_then(|c| c.health_status())
                                .map(|h| h.as_str().to_string())
                        })
                        .unwrap_or_else(|| "UNKNOWN".into());
                    let exit = t
                        .containers()
                        .iter()
                        .find_map(|c| c.exit_code())
                        .map(|code| format!(" (exit {code})"))
                        .unwrap_or_default();
                    tasks.push(TaskInfo {
                        id: arn.rsplit('/').next().unwrap_or(arn).to_string(),
                        track: service.track,
                        task_definition: short_task_definition(
                            t.task_definition_arn().unwrap_or_default(),
                        ),
                        last_status: t.last_status().unwrap_or("UNKNOWN").to_string(),
                        health,
                        az: t.availability_zone().unwrap_or_default().to_string(),
                        started_at: t.started_at().map(time),
                        stopped_reason: t.stopped_reason().map(|r| format!("{r}{exit}")),
                    });
                }
            }
        }
        Ok(tasks)
    }

    async fn target_health(&self, arn: &str, track: Track) -> Result<TargetHealth, SourceError> {
        use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum as S;
        self.count();
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(arn)
            .send()
            .await
            .map_err(|e| error("elasticloadbalancing:DescribeTargetHealth", arn, e))?;
        let mut th = TargetHealth {
            track,
            target_group: arn.rsplit('/').nth(1).unwrap_or(arn).to_string(),
            healthy: 0,
            unhealthy: 0,
            draining: 0,
            initial: 0,
        };
        for d in out.target_health_descriptions() {
            match d.target_health().and_then(|h| h.state()) {
                Some(S::Healthy) => th.healthy += 1,
                Some(S::Draining) => th.draining += 1,
                Some(S::Initial) => th.initial += 1,
                Some(S::Unhealthy) | Some(S::Unavailable) => th.unhealthy += 1,
                _ => {}
            }
        }
        Ok(th)
    }

    async fn update(
        &self,
        service: &str,
        desired: Option<u32>,
        task_definition: Option<&str>,
    ) -> Result<RequestId, SourceError> {
        self.count();
        let out = self
            .ecs
            .update_service()
            .cluster(&self.cluster)
            .service(service)
            .set_desired_count(desired.map(|d| i32::try_from(d).unwrap_or(i32::MAX)))
            .set_task_definition(task_definition.map(str::to_string))
            .send()
            .await
            .map_err(|e| error("ecs:UpdateService", service, e))?;
        Ok(out.request_id().unwrap_or("none").to_string())
    }
}

fn count(n: Option<i32>) -> u32 {
    n.and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

fn time(t: &aws_smithy_types::DateTime) -> Time {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}

#[async_trait]
impl Fleet for AwsFleet {
    async fn snapshot(&self) -> Result<FleetSnapshot, SourceError> {
        let (services, mut events) = self.services().await?;
        let tasks = self.tasks(&services).await?;
        let mut targets = vec![
            self.target_health(&self.stable_target_group, Track::Stable)
                .await?,
        ];
        if let Some(canary) = &self.canary_target_group {
            targets.push(self.target_health(canary, Track::Canary).await?);
        }
        // Newest first, as ECS gives them; the core journals each once.
        events.sort_by_key(|e| std::cmp::Reverse(e.at));
        Ok(FleetSnapshot {
            services,
            tasks,
            targets,
            events,
        })
    }

    async fn task_definition_before(
        &self,
        service: &str,
    ) -> Result<Option<(String, String)>, SourceError> {
        use aws_sdk_ecs::types::ServiceDeploymentStatus;
        // The newest successful deployment, over every page.
        let mut newest: Option<(i64, String)> = None;
        let mut token = None;
        loop {
            self.count();
            let page = self
                .ecs
                .list_service_deployments()
                .cluster(&self.cluster)
                .service(service)
                .status(ServiceDeploymentStatus::Successful)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| error("ecs:ListServiceDeployments", service, e))?;
            for d in page.service_deployments() {
                let at = d.created_at().map_or(0, |t| t.secs());
                if let Some(arn) = d.service_deployment_arn()
                    && newest.as_ref().is_none_or(|(n, _)| at > *n)
                {
                    newest = Some((at, arn.to_string()));
                }
            }
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let Some((_, newest)) = newest else {
            return Ok(None);
        };
        self.count();
        let deployments = self
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(newest)
            .send()
            .await
            .map_err(|e| error("ecs:DescribeServiceDeployments", service, e))?;
        let Some(deployment) = deployments.service_deployments().first() else {
            return Ok(None);
        };
        let (Some(source), Some(target)) = (
            deployment
                .source_service_revisions()
                .first()
                .and_then(|r| r.arn()),
            deployment.target_service_revision().and_then(|r| r.arn()),
        ) else {
            return Ok(None);
        };
        self.count();
        let revisions = self
            .ecs
            .describe_service_revisions()
            .service_revision_arns(source)
            .service_revision_arns(target)
            .send()
            .await
            .map_err(|e| error("ecs:DescribeServiceRevisions", service, e))?;
        let td = |arn: &str| {
            revisions
                .service_revisions()
                .iter()
                .find(|r| r.service_revision_arn() == Some(arn))
                .and_then(|r| r.task_definition())
                .map(short_task_definition)
        };
        Ok(td(source).zip(td(target)))
    }

    async fn scale(
        &self,
        service: &str,
        desired: u32,
        expect: Option<u32>,
    ) -> Result<RequestId, SourceError> {
        if let Some(expect) = expect {
            self.count();
            let out = self
                .ecs
                .describe_services()
                .cluster(&self.cluster)
                .services(service)
                .send()
                .await
                .map_err(|e| error("ecs:DescribeServices", service, e))?;
            let now = out
                .services()
                .iter()
                .find(|s| s.service_name() == Some(service))
                .map(|s| count(Some(s.desired_count())));
            if now != Some(expect) {
                return Err(SourceError::of_kind(
                    crate::core::model::ErrorKind::Conflict,
                    format!(
                        "{service} has {} desired tasks, not the {expect} this change was planned on: another actor sized it",
                        now.map_or("no".to_string(), |n| n.to_string())
                    ),
                )
                .with_hint("nothing was changed; check the Tasks pane and plan again"));
            }
        }
        self.update(service, Some(desired), None).await
    }

    async fn set_task_definition(
        &self,
        service: &str,
        task_definition: &str,
    ) -> Result<RequestId, SourceError> {
        self.update(service, None, Some(task_definition)).await
    }
}
