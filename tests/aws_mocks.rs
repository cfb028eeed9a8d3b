//! What moto cannot answer, through the SDK's own mocks (aws-smithy-mocks):
//! ECS service events and a rolling deployment (PRIMARY + ACTIVE), which
//! the core reads as a release with its baseline; and AccessDenied with the
//! request id, the IAM action and the resource. And a slow ELB (wiremock
//! speaking the query protocol) that a rollback must not wait on.

use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use aws_sdk_ecs::operation::list_tasks::ListTasksOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceError;
use aws_sdk_ecs::types as ecs;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use flightdeck::core::model::{ErrorKind, Track};
use flightdeck::sources::Fleet;
use flightdeck::sources::aws::ecs::AwsFleet;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn time(secs: i64) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(secs)
}

fn deployment(
    status: &str,
    td: &str,
    state: ecs::DeploymentRolloutState,
    running: i32,
    at: i64,
) -> ecs::Deployment {
    ecs::Deployment::builder()
        .status(status)
        .task_definition(format!("arn:aws:ecs:eu-west-1:1:task-definition/{td}"))
        .rollout_state(state)
        .running_count(running)
        .desired_count(9)
        .pending_count(0)
        .created_at(time(at))
        .build()
}

fn service(
    name: &str,
    td: &str,
    deployments: Vec<ecs::Deployment>,
    events: Vec<ecs::ServiceEvent>,
) -> ecs::Service {
    ecs::Service::builder()
        .service_name(name)
        .task_definition(format!("arn:aws:ecs:eu-west-1:1:task-definition/{td}"))
        .running_count(9)
        .desired_count(9)
        .pending_count(0)
        .set_deployments(Some(deployments))
        .set_events(Some(events))
        .build()
}

fn event(id: &str, at: i64, message: &str) -> ecs::ServiceEvent {
    ecs::ServiceEvent::builder()
        .id(id)
        .created_at(time(at))
        .message(message)
        .build()
}

#[tokio::test(flavor = "current_thread")]
async fn events_and_a_rolling_stable_deployment_are_read() -> TestResult {
    let services = mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(service(
                "auth-production",
                "auth:42",
                vec![
                    deployment(
                        "PRIMARY",
                        "auth:42",
                        ecs::DeploymentRolloutState::InProgress,
                        4,
                        200,
                    ),
                    deployment(
                        "ACTIVE",
                        "auth:41",
                        ecs::DeploymentRolloutState::Completed,
                        5,
                        100,
                    ),
                ],
                vec![
                    event("e2", 210, "(service auth-production) has started 4 tasks"),
                    event(
                        "e1",
                        150,
                        "(service auth-production) has reached a steady state.",
                    ),
                ],
            ))
            .build()
    });
    let list =
        mock!(aws_sdk_ecs::Client::list_tasks).then_output(|| ListTasksOutput::builder().build());
    let describe = mock!(aws_sdk_ecs::Client::describe_tasks)
        .then_output(|| DescribeTasksOutput::builder().build());
    let health = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_output(|| DescribeTargetHealthOutput::builder().build());
    let ecs_client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&services, &list, &describe]
    );
    let elb_client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&health]
    );
    let fleet = AwsFleet::from_clients(
        ecs_client,
        elb_client,
        "suma".into(),
        "auth-production".into(),
        None,
        "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/auth-stable/abc".into(),
        None,
    );
    let snapshot = fleet.snapshot().await?;
    let stable = snapshot.service(Track::Stable).ok_or("no stable")?;
    assert_eq!(stable.task_definition, "auth:42");
    assert_eq!(stable.deployments.len(), 2);
    assert_eq!(stable.deployments[0].rollout_state, "IN_PROGRESS");
    // What a rollback without a canary service goes back to.
    assert_eq!(stable.previous_task_definition(), Some("auth:41"));
    let events: Vec<&str> = snapshot.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(events, ["e2", "e1"], "newest first");
    assert_eq!(snapshot.targets[0].target_group, "auth-stable");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn access_denied_names_the_action_the_resource_and_the_request_id() -> TestResult {
    let denied = mock!(aws_sdk_ecs::Client::update_service).then_error(|| {
        UpdateServiceError::AccessDeniedException(
            ecs::error::AccessDeniedException::builder()
                .message("User: arn:aws:sts::1:assumed-role/ops/ana is not authorized to perform: ecs:UpdateService")
                .meta(
                    aws_smithy_types::error::ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .message("not authorized")
                        .build(),
                )
                .build(),
        )
    });
    let ecs_client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&denied]);
    let elb_client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&denied_elb()]
    );
    let fleet = AwsFleet::from_clients(
        ecs_client,
        elb_client,
        "suma".into(),
        "auth-production".into(),
        Some("auth-production-canary".into()),
        "tg".into(),
        None,
    );
    let err = fleet
        .scale("auth-production-canary", 5, None)
        .await
        .err()
        .ok_or("no error")?;
    assert_eq!(err.kind, ErrorKind::Auth, "{err}");
    assert!(err.message.contains("AccessDeniedException"), "{err}");
    assert!(
        err.message
            .contains("ecs:UpdateService on auth-production-canary"),
        "the permission and the resource: {err}"
    );
    assert!(
        err.hint
            .as_deref()
            .is_some_and(|h| h.starts_with("grant it to the IAM principal")),
        "{err}"
    );
    Ok(())
}

fn denied_elb() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .then_output(|| DescribeTargetHealthOutput::builder().build())
}

#[tokio::test(flavor = "current_thread")]
async fn the_deployment_history_names_the_task_definition_before_the_latest_deployment()
-> TestResult {
    use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
    use aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
    use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
    let list = mock!(aws_sdk_ecs::Client::list_service_deployments).then_output(|| {
        ListServiceDeploymentsOutput::builder()
            .service_deployments(
                ecs::ServiceDeploymentBrief::builder()
                    .service_deployment_arn("arn:dep/old")
                    .created_at(time(100))
                    .build(),
            )
            .service_deployments(
                ecs::ServiceDeploymentBrief::builder()
                    .service_deployment_arn("arn:dep/new")
                    .created_at(time(200))
                    .build(),
            )
            .build()
    });
    let describe = mock!(aws_sdk_ecs::Client::describe_service_deployments)
        .match_requests(|r| r.service_deployment_arns() == ["arn:dep/new".to_string()])
        .then_output(|| {
            DescribeServiceDeploymentsOutput::builder()
                .service_deployments(
                    ecs::ServiceDeployment::builder()
                        .service_deployment_arn("arn:dep/new")
                        .source_service_revisions(
                            ecs::ServiceRevisionSummary::builder()
                                .arn("arn:rev/41")
                                .build(),
                        )
                        .target_service_revision(
                            ecs::ServiceRevisionSummary::builder()
                                .arn("arn:rev/42")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let revisions = mock!(aws_sdk_ecs::Client::describe_service_revisions)
        .match_requests(|r| {
            r.service_revision_arns() == ["arn:rev/41".to_string(), "arn:rev/42".to_string()]
        })
        .then_output(|| {
            DescribeServiceRevisionsOutput::builder()
                .service_revisions(
                    ecs::ServiceRevision::builder()
                        .service_revision_arn("arn:rev/42")
                        .task_definition("arn:aws:ecs:eu-west-1:1:task-definition/auth:42")
                        .build(),
                )
                .service_revisions(
                    ecs::ServiceRevision::builder()
                        .service_revision_arn("arn:rev/41")
                        .task_definition("arn:aws:ecs:eu-west-1:1:task-definition/auth:41")
                        .build(),
                )
                .build()
        });
    let ecs_client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&list, &describe, &revisions]
    );
    let elb_client = mock_client!(
        aws_sdk_elasticloadbalancingv2,
        RuleMode::MatchAny,
        [&denied_elb()]
    );
    let fleet = AwsFleet::from_clients(
        ecs_client,
        elb_client,
        "suma".into(),
        "auth-production".into(),
        None,
        "tg".into(),
        None,
    );
    assert_eq!(
        fleet.task_definition_before("auth-production").await?,
        Some(("auth:41".to_string(), "auth:42".to_string()))
    );
    Ok(())
}

/// An ELB endpoint on wiremock speaking the query protocol: DescribeRules
/// answers a weighted forward with stickiness, ModifyRule answers with a
/// request id.
fn rules_xml(op: &str, stable: u16, canary: u16) -> String {
    format!(
        r#"<{op}Response xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <{op}Result>
    <Rules>
      <member>
        <RuleArn>{RULE}</RuleArn>
        <Priority>10</Priority>
        <IsDefault>false</IsDefault>
        <Conditions/>
        <Actions>
          <member>
            <Type>forward</Type>
            <Order>1</Order>
            <ForwardConfig>
              <TargetGroups>
                <member><TargetGroupArn>{STABLE_TG}</TargetGroupArn><Weight>{stable}</Weight></member>
                <member><TargetGroupArn>{CANARY_TG}</TargetGroupArn><Weight>{canary}</Weight></member>
              </TargetGroups>
              <TargetGroupStickinessConfig><Enabled>true</Enabled><DurationSeconds>300</DurationSeconds></TargetGroupStickinessConfig>
            </ForwardConfig>
          </member>
        </Actions>
      </member>
    </Rules>
  </{op}Result>
  <ResponseMetadata><RequestId>req-{op}</RequestId></ResponseMetadata>
</{op}Response>"#
    )
}

const RULE: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/auth/1/2/3";
const STABLE_TG: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/auth-stable/1";
const CANARY_TG: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/auth-canary/2";

#[tokio::test(flavor = "current_thread")]
async fn a_rollback_does_not_wait_on_a_slow_read_of_the_rule() -> TestResult {
    use flightdeck::core::model::TrafficSplit;
    use flightdeck::sources::Traffic;
    use wiremock::matchers::{body_string_contains, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let xml = |body: String| ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "text/xml");
    // The console read the rule once (its actions are kept)…
    Mock::given(method("POST"))
        .and(body_string_contains("Action=DescribeRules"))
        .respond_with(xml(rules_xml("DescribeRules", 90, 10)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let settings = flightdeck::sources::aws::AwsSettings {
        region: Some("eu-west-1".into()),
        profile: None,
        endpoint_url: Some(server.uri()),
    };
    let sdk =
        flightdeck::sources::aws::sdk_config(&settings, std::time::Duration::from_secs(300)).await;
    let traffic = flightdeck::sources::aws::elb::AwsTraffic::new(
        &sdk,
        flightdeck::config::Listener::Rule(RULE.into()),
        STABLE_TG.into(),
        Some(CANARY_TG.into()),
    );
    assert_eq!(traffic.weights().await?.split.canary, 10);
    // …then the API slows down: DescribeRules takes two minutes.
    Mock::given(method("POST"))
        .and(body_string_contains("Action=DescribeRules"))
        .respond_with(
            xml(rules_xml("DescribeRules", 90, 10)).set_delay(std::time::Duration::from_secs(120)),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("Action=ModifyRule"))
        .respond_with(xml(rules_xml("ModifyRule", 100, 0)))
        .expect(1)
        .mount(&server)
        .await;
    // The rollback's write does not wait for the slow read: it falls back
    // to the actions read before (a bound, not a speed measurement).
    let write = traffic.set_weights(None, TrafficSplit::ALL_STABLE);
    tokio::time::timeout(std::time::Duration::from_secs(60), write).await??;
    let requests = server.received_requests().await.unwrap_or_default();
    let modify = requests
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .find(|b| b.contains("Action=ModifyRule"))
        .ok_or("no ModifyRule")?;
    assert!(
        modify.contains("DurationSeconds=300"),
        "stickiness kept: {modify}"
    );
    Ok(())
}
