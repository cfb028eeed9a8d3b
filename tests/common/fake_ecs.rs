//! A small ECS endpoint that speaks the ECS JSON protocol (awsJson1_1,
//! `X-Amz-Target: AmazonEC2ContainerServiceV20141113.Op`) for one
//! ECS-native service, because moto implements none of the service
//! deployment calls. It plays one canary deployment as ECS does:
//!
//! canary 10 % → PAUSE hook AWAITING_ACTION → (CONTINUE) bake → 100 %
//!                                          → (ROLLBACK / Stop) back to 0 %
//!
//! and, like ECS, moves the production listener rule's weights itself (on
//! moto's ELB, from a thread of its own). Every request is kept for the
//! test to assert on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

pub const ACCOUNT: &str = "123456789012";
pub const HOOK: &str = "pause-after-canary";
/// How long the fake bakes after CONTINUE, and rolls back after ROLLBACK.
pub const BAKE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// 10 % on the canary group, the PAUSE hook awaiting action.
    Paused,
    /// Continued: baking, then all traffic on the canary group.
    Baking(Instant),
    Done,
    /// Rolling back: traffic back at once, ROLLBACK_SUCCESSFUL later.
    RollingBack(Instant),
    RolledBack,
}

pub struct State {
    pub cluster: String,
    pub service: String,
    pub stable_tg: String,
    pub canary_tg: String,
    pub rule: String,
    pub phase: Phase,
    /// More services in the cluster (same shape, ROLLING): a canary
    /// service beside the native one, say.
    pub also: Vec<String>,
    created: f64,
    /// When it ended (epoch seconds), once it has.
    finished: Option<f64>,
    /// (operation, request body) of every request, in order.
    pub calls: Vec<(String, Value)>,
}

impl State {
    fn region_arn(&self, what: &str) -> String {
        format!("arn:aws:ecs:eu-west-1:{ACCOUNT}:{what}")
    }

    pub fn deployment_arn(&self) -> String {
        self.region_arn(&format!(
            "service-deployment/{}/{}/NCWGC2ZR2vEwhWKlWFWQI",
            self.cluster, self.service
        ))
    }

    fn revision(&self, n: u32) -> String {
        self.region_arn(&format!(
            "service-revision/{}/{}/41710815066227{n}",
            self.cluster, self.service
        ))
    }

    /// Time moves the phase on.
    fn advance(&mut self) {
        let before = self.phase;
        self.phase = match self.phase {
            Phase::Baking(until) if Instant::now() >= until => Phase::Done,
            Phase::RollingBack(until) if Instant::now() >= until => Phase::RolledBack,
            other => other,
        };
        if before != self.phase {
            self.finished = Some(epoch());
        }
    }

    /// The production rule's weights (stable, canary) ECS sets now.
    pub fn weights(&mut self) -> (i32, i32) {
        self.advance();
        match self.phase {
            Phase::Paused | Phase::Baking(_) => (90, 10),
            Phase::Done => (0, 100),
            Phase::RollingBack(_) | Phase::RolledBack => (100, 0),
        }
    }

    fn status(&self) -> (&'static str, Option<&'static str>) {
        match self.phase {
            Phase::Paused => ("IN_PROGRESS", Some("PRODUCTION_TRAFFIC_SHIFT")),
            Phase::Baking(_) => ("IN_PROGRESS", Some("BAKE_TIME")),
            Phase::Done => ("SUCCESSFUL", Some("CLEAN_UP")),
            Phase::RollingBack(_) => ("ROLLBACK_IN_PROGRESS", Some("PRODUCTION_TRAFFIC_SHIFT")),
            Phase::RolledBack => ("ROLLBACK_SUCCESSFUL", None),
        }
    }

    fn service_json(&self) -> Value {
        let name = &self.service;
        json!({
            "serviceArn": self.region_arn(&format!("service/{}/{name}", self.cluster)),
            "serviceName": name,
            "clusterArn": self.region_arn(&format!("cluster/{}", self.cluster)),
            "status": "ACTIVE",
            "desiredCount": 3, "runningCount": 3, "pendingCount": 0,
            "launchType": "FARGATE",
            "taskDefinition": self.region_arn("task-definition/auth:42"),
            "deploymentController": {"type": "ECS"},
            "deploymentConfiguration": {
                "maximumPercent": 200, "minimumHealthyPercent": 100,
                "strategy": "CANARY", "bakeTimeInMinutes": 5,
                "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5},
                "lifecycleHooks": [{
                    "hookTargetArn": "arn:aws:lambda:eu-west-1:123456789012:function:pause",
                    "roleArn": "arn:aws:iam::123456789012:role/ecs-hooks",
                    "lifecycleStages": ["POST_PRODUCTION_TRAFFIC_SHIFT"]
                }]
            },
            "loadBalancers": [{
                "targetGroupArn": self.stable_tg,
                "containerName": "app", "containerPort": 8080,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": self.canary_tg,
                    "productionListenerRule": self.rule,
                    "roleArn": "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForLoadBalancers"
                }
            }],
            "deployments": [{
                "id": "ecs-svc/9223370283742366013",
                "status": "PRIMARY",
                "taskDefinition": self.region_arn("task-definition/auth:42"),
                "desiredCount": 3, "pendingCount": 0, "runningCount": 3, "failedTasks": 0,
                "createdAt": self.created, "updatedAt": self.created,
                "rolloutState": "IN_PROGRESS"
            }],
            "events": []
        })
    }

    fn brief(&self) -> Value {
        let (status, _) = self.status();
        json!({
            "serviceDeploymentArn": self.deployment_arn(),
            "serviceArn": self.region_arn(&format!("service/{}/{}", self.cluster, self.service)),
            "clusterArn": self.region_arn(&format!("cluster/{}", self.cluster)),
            "createdAt": self.created, "startedAt": self.created,
            "targetServiceRevisionArn": self.revision(2),
            "status": status
        })
    }

    fn deployment(&self) -> Value {
        let (status, stage) = self.status();
        let hook_status = match self.phase {
            Phase::Paused => "AWAITING_ACTION",
            _ => "SUCCEEDED",
        };
        let mut d = json!({
            "serviceDeploymentArn": self.deployment_arn(),
            "serviceArn": self.region_arn(&format!("service/{}/{}", self.cluster, self.service)),
            "clusterArn": self.region_arn(&format!("cluster/{}", self.cluster)),
            "createdAt": self.created, "startedAt": self.created, "updatedAt": self.created,
            "sourceServiceRevisions": [{"arn": self.revision(1), "requestedTaskCount": 3, "runningTaskCount": 3, "pendingTaskCount": 0}],
            "targetServiceRevision": {"arn": self.revision(2), "requestedTaskCount": 3, "runningTaskCount": 3, "pendingTaskCount": 0},
            "status": status,
            "statusReason": format!("ECS deployment {status}"),
            "deploymentConfiguration": {
                "strategy": "CANARY", "bakeTimeInMinutes": 5,
                "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}
            },
            "lifecycleHookDetails": [{
                "hookId": HOOK,
                "targetType": "PAUSE",
                "status": hook_status,
                "expiresAt": self.created + 900.0,
                "timeoutAction": "ROLLBACK"
            }]
        });
        if let Some(stage) = stage {
            d["lifecycleStage"] = json!(stage);
        }
        if let Some(at) = self.finished {
            d["finishedAt"] = json!(at);
        }
        if matches!(self.phase, Phase::RollingBack(_) | Phase::RolledBack) {
            d["rollback"] = json!({
                "reason": "ROLLBACK requested by ContinueServiceDeployment",
                "startedAt": self.created + 60.0,
                "serviceRevisionArn": self.revision(1)
            });
        }
        d
    }

    /// The answer to one request: status and JSON body.
    fn answer(&mut self, op: &str, body: &Value) -> (u16, Value) {
        self.advance();
        let deployment = body["serviceDeploymentArn"].as_str() == Some(&self.deployment_arn());
        match op {
            "DescribeServices" => {
                let mut services = Vec::new();
                let mut failures = Vec::new();
                for name in body["services"].as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap_or_default();
                    if name == self.service {
                        services.push(self.service_json());
                    } else if self.also.iter().any(|a| a == name) {
                        let mut other = self.service_json();
                        other["serviceName"] = json!(name);
                        other["deploymentConfiguration"]["strategy"] = json!("ROLLING");
                        services.push(other);
                    } else {
                        failures.push(json!({
                            "arn": self.region_arn(&format!("service/{}/{name}", self.cluster)),
                            "reason": "MISSING"
                        }));
                    }
                }
                (200, json!({"services": services, "failures": failures}))
            }
            "ListTasks" => (200, json!({"taskArns": []})),
            "ListServices" => {
                let arns: Vec<String> = std::iter::once(&self.service)
                    .chain(&self.also)
                    .map(|n| self.region_arn(&format!("service/{}/{n}", self.cluster)))
                    .collect();
                (200, json!({"serviceArns": arns}))
            }
            "DescribeTaskDefinition" => (
                200,
                json!({"taskDefinition": {
                    "taskDefinitionArn": self.region_arn("task-definition/auth:42"),
                    "family": "auth", "revision": 42, "status": "ACTIVE",
                    "containerDefinitions": [{"name": "app", "image": "auth:42"}]
                }}),
            ),
            "ListServiceDeployments" => {
                let (status, _) = self.status();
                let wanted = body["status"].as_array().cloned().unwrap_or_default();
                let listed = wanted.is_empty() || wanted.iter().any(|s| s == status);
                let found = if listed { vec![self.brief()] } else { vec![] };
                (200, json!({"serviceDeployments": found}))
            }
            "DescribeServiceDeployments" => (
                200,
                json!({"serviceDeployments": [self.deployment()], "failures": []}),
            ),
            "DescribeServiceRevisions" => {
                let revisions: Vec<Value> = [(1, "auth:41"), (2, "auth:42")]
                    .iter()
                    .map(|(n, td)| {
                        json!({
                            "serviceRevisionArn": self.revision(*n),
                            "serviceArn": self.region_arn(&format!("service/{}/{}", self.cluster, self.service)),
                            "clusterArn": self.region_arn(&format!("cluster/{}", self.cluster)),
                            "taskDefinition": self.region_arn(&format!("task-definition/{td}")),
                            "createdAt": self.created
                        })
                    })
                    .collect();
                (200, json!({"serviceRevisions": revisions, "failures": []}))
            }
            "ContinueServiceDeployment" if deployment && body["hookId"] == HOOK => {
                if self.phase != Phase::Paused {
                    return invalid("the lifecycle hook is not awaiting action");
                }
                self.phase = match body["action"].as_str() {
                    Some("ROLLBACK") => Phase::RollingBack(Instant::now() + BAKE),
                    _ => Phase::Baking(Instant::now() + BAKE),
                };
                (200, json!({"serviceDeploymentArn": self.deployment_arn()}))
            }
            "StopServiceDeployment" if deployment => {
                if !matches!(self.phase, Phase::Paused | Phase::Baking(_)) {
                    return invalid("the service deployment is not in progress");
                }
                self.phase = Phase::RollingBack(Instant::now() + BAKE);
                (200, json!({"serviceDeploymentArn": self.deployment_arn()}))
            }
            "ContinueServiceDeployment" | "StopServiceDeployment" => {
                invalid("no such service deployment or hook")
            }
            other => (
                400,
                json!({"__type": "UnknownOperationException", "message": format!("{other} is not served here")}),
            ),
        }
    }
}

/// Now, in epoch seconds (whole).
fn epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64().floor())
}

fn invalid(message: &str) -> (u16, Value) {
    (
        400,
        json!({"__type": "InvalidParameterException", "message": message}),
    )
}

struct Handler(Arc<Mutex<State>>);

impl wiremock::Respond for Handler {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let op = request
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_string();
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let (status, out) = match self.0.lock() {
            Ok(mut state) => {
                state.calls.push((op.clone(), body.clone()));
                state.answer(&op, &body)
            }
            Err(_) => (
                500,
                json!({"__type": "ServerException", "message": "poisoned"}),
            ),
        };
        wiremock::ResponseTemplate::new(status)
            .insert_header("x-amzn-RequestId", format!("fake-ecs-{op}"))
            .set_body_raw(
                serde_json::to_vec(&out).unwrap_or_default(),
                "application/x-amz-json-1.1",
            )
    }
}

pub struct FakeEcs {
    pub server: wiremock::MockServer,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FakeEcs {
    /// The endpoint for `service` in `cluster`, whose production `rule` on
    /// moto forwards to `stable_tg` (primary) and `canary_tg` (alternate);
    /// with a thread that keeps the rule's weights where ECS would.
    pub async fn start(
        sdk: &aws_config::SdkConfig,
        cluster: &str,
        service: &str,
        stable_tg: &str,
        canary_tg: &str,
        rule: &str,
    ) -> FakeEcs {
        let created = epoch();
        let state = Arc::new(Mutex::new(State {
            cluster: cluster.into(),
            service: service.into(),
            stable_tg: stable_tg.into(),
            canary_tg: canary_tg.into(),
            rule: rule.into(),
            phase: Phase::Paused,
            also: Vec::new(),
            created,
            finished: None,
            calls: Vec::new(),
        }));
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(Handler(state.clone()))
            .mount(&server)
            .await;
        let stop = Arc::new(AtomicBool::new(false));
        let (elb, shared, stopped) = (
            aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            state.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let mut applied = None;
            while !stopped.load(Ordering::Relaxed) {
                let now = shared.lock().ok().map(|mut s| {
                    (
                        s.weights(),
                        s.rule.clone(),
                        s.stable_tg.clone(),
                        s.canary_tg.clone(),
                    )
                });
                if let Some(((sw, cw), rule, stable, canary)) = now
                    && applied != Some((sw, cw))
                {
                    let set = rt.block_on(
                        elb.modify_rule()
                            .rule_arn(rule)
                            .actions(super::moto::forward(&stable, sw, &canary, cw, None))
                            .send(),
                    );
                    if set.is_ok() {
                        applied = Some((sw, cw));
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        FakeEcs {
            server,
            state,
            stop,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn phase(&self) -> Option<Phase> {
        self.state.lock().ok().map(|mut s| {
            s.advance();
            s.phase
        })
    }

    /// The bodies of the requests made of `op`.
    pub fn requests(&self, op: &str) -> Vec<Value> {
        self.state
            .lock()
            .map(|s| {
                s.calls
                    .iter()
                    .filter(|(o, _)| o == op)
                    .map(|(_, b)| b.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for FakeEcs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
