//! ECS-native deployments through the SDK's mocks (moto implements none of
//! these calls): ListServiceDeployments / DescribeServiceDeployments shaped
//! like the API reference's examples in every state, what each key asks
//! for in each, and the exact ContinueServiceDeployment and
//! StopServiceDeployment requests.

use aws_sdk_ecs::operation::continue_service_deployment::ContinueServiceDeploymentOutput;
use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
use aws_sdk_ecs::operation::list_service_deployments::ListServiceDeploymentsOutput;
use aws_sdk_ecs::operation::stop_service_deployment::StopServiceDeploymentOutput;
use aws_sdk_ecs::types as ecs;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use flightdeck::sources::aws::native::{Ask, AwsNative, NativeCall, Strategy, next_call};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ARN: &str =
    "arn:aws:ecs:eu-west-1:123456789012:service-deployment/suma/auth/NCWGC2ZR-taawPAYrIaU5";
const HOOK: &str = "hook-pause-after-canary";

fn time(secs: i64) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs(secs)
}

fn revision(n: u32) -> ecs::ServiceRevisionSummary {
    ecs::ServiceRevisionSummary::builder()
        .arn(format!(
            "arn:aws:ecs:eu-west-1:123456789012:service-revision/suma/auth/{n}"
        ))
        .requested_task_count(3)
        .running_task_count(3)
        .pending_task_count(0)
        .build()
}

/// A deployment as DescribeServiceDeployments returns it.
fn deployment(
    status: ecs::ServiceDeploymentStatus,
    stage: Option<ecs::ServiceDeploymentLifecycleStage>,
    strategy: ecs::DeploymentStrategy,
    hook: Option<ecs::DeploymentLifecycleHookStatus>,
) -> ecs::ServiceDeployment {
    let mut config = ecs::DeploymentConfiguration::builder()
        .strategy(strategy.clone())
        .bake_time_in_minutes(10);
    config = match strategy {
        ecs::DeploymentStrategy::Canary => config.canary_configuration(
            ecs::CanaryConfiguration::builder()
                .canary_percent(10.0)
                .canary_bake_time_in_minutes(5)
                .build(),
        ),
        ecs::DeploymentStrategy::Linear => config.linear_configuration(
            ecs::LinearConfiguration::builder()
                .step_percent(20.0)
                .step_bake_time_in_minutes(3)
                .build(),
        ),
        _ => config,
    };
    let mut d = ecs::ServiceDeployment::builder()
        .service_deployment_arn(ARN)
        .service_arn("arn:aws:ecs:eu-west-1:123456789012:service/suma/auth")
        .cluster_arn("arn:aws:ecs:eu-west-1:123456789012:cluster/suma")
        .created_at(time(1_800_000_000))
        .started_at(time(1_800_000_005))
        .source_service_revisions(revision(41))
        .target_service_revision(revision(42))
        .status(status)
        .deployment_configuration(config.build());
    if let Some(stage) = stage {
        d = d.lifecycle_stage(stage);
    }
    if let Some(hook) = hook {
        d = d.lifecycle_hook_details(
            ecs::DeploymentLifecycleHookDetail::builder()
                .hook_id(HOOK)
                .status(hook)
                .expires_at(time(1_800_000_900))
                .timeout_action(ecs::DeploymentLifecycleHookAction::Rollback)
                .build(),
        );
    }
    d.build()
}

async fn read(
    d: Option<ecs::ServiceDeployment>,
) -> Result<Option<flightdeck::sources::aws::native::NativeDeployment>, Box<dyn std::error::Error>>
{
    use ecs::ServiceDeploymentStatus as S;
    // ECS lists it among those under way, or (ended) among the last day's.
    let ended = d.as_ref().and_then(|d| d.status()).is_some_and(|s| {
        !matches!(
            s,
            S::Pending | S::InProgress | S::RollbackRequested | S::RollbackInProgress
        )
    });
    let under_way = d.is_some() && !ended;
    let listing = |listed: bool| {
        let out = ListServiceDeploymentsOutput::builder();
        if listed {
            out.service_deployments(
                ecs::ServiceDeploymentBrief::builder()
                    .service_deployment_arn(ARN)
                    .created_at(time(1_800_000_000))
                    .build(),
            )
            .build()
        } else {
            out.build()
        }
    };
    let list = mock!(aws_sdk_ecs::Client::list_service_deployments)
        .match_requests(|r| {
            r.cluster() == Some("suma")
                && r.service() == Some("auth")
                && r.status()
                    == [
                        S::Pending,
                        S::InProgress,
                        S::RollbackRequested,
                        S::RollbackInProgress,
                    ]
        })
        .then_output(move || listing(under_way));
    // Only when none is under way: any status, created in the last day.
    let recent = mock!(aws_sdk_ecs::Client::list_service_deployments)
        .match_requests(|r| {
            r.status().is_empty()
                && r.created_at().and_then(|c| c.after()).is_some_and(|t| {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs() as i64);
                    (now - 86_400 - t.secs()).abs() < 60
                })
        })
        .then_output(move || listing(ended));
    let describe = mock!(aws_sdk_ecs::Client::describe_service_deployments)
        .match_requests(|r| r.service_deployment_arns() == [ARN.to_string()])
        .then_output(move || {
            DescribeServiceDeploymentsOutput::builder()
                .set_service_deployments(d.clone().map(|d| vec![d]))
                .build()
        });
    // The revisions' task definitions (read once per deployment).
    let revisions = mock!(aws_sdk_ecs::Client::describe_service_revisions).then_output(|| {
        aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput::builder(
        )
        .set_service_revisions(Some(
            [(41, "auth:41"), (42, "auth:42")]
                .iter()
                .map(|(n, td)| {
                    ecs::ServiceRevision::builder()
                        .service_revision_arn(format!(
                            "arn:aws:ecs:eu-west-1:123456789012:service-revision/suma/auth/{n}"
                        ))
                        .task_definition(format!(
                            "arn:aws:ecs:eu-west-1:123456789012:task-definition/{td}"
                        ))
                        .build()
                })
                .collect(),
        ))
        .build()
    });
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&list, &recent, &describe, &revisions]
    );
    Ok(AwsNative::from_client(client, "suma".into(), "auth".into())
        .read_current()
        .await?)
}

#[tokio::test(flavor = "current_thread")]
async fn every_state_is_read_and_each_key_maps_to_its_call_or_a_reason() -> TestResult {
    use ecs::DeploymentLifecycleHookStatus as H;
    use ecs::ServiceDeploymentLifecycleStage as L;
    use ecs::ServiceDeploymentStatus as S;
    // Nothing under way.
    assert_eq!(read(None).await?, None);

    // PENDING: no hook yet; continue says why, rollback stops it.
    let pending = read(Some(deployment(
        S::Pending,
        None,
        ecs::DeploymentStrategy::Canary,
        None,
    )))
    .await?
    .ok_or("pending")?;
    assert_eq!(pending.status, "PENDING");
    assert_eq!(
        (pending.source_name(), pending.target_name()),
        ("auth:41".to_string(), "auth:42".to_string())
    );
    assert_eq!(
        pending.strategy,
        Strategy::Canary {
            percent: 10.0,
            bake_minutes: 5
        }
    );
    assert!(next_call(&pending, Ask::Continue).is_err());
    assert_eq!(
        next_call(&pending, Ask::Rollback),
        Ok(NativeCall::Stop {
            deployment: ARN.into()
        })
    );

    // IN_PROGRESS at each stage without a hook waiting.
    for stage in [
        L::ScaleUp,
        L::ProductionTrafficShift,
        L::BakeTime,
        L::CleanUp,
    ] {
        let d = read(Some(deployment(
            S::InProgress,
            Some(stage.clone()),
            ecs::DeploymentStrategy::Linear,
            Some(H::InProgress),
        )))
        .await?
        .ok_or("in progress")?;
        assert_eq!(d.stage.as_deref(), Some(stage.as_str()));
        assert_eq!(
            d.strategy,
            Strategy::Linear {
                percent: 20.0,
                bake_minutes: 3
            }
        );
        let why = next_call(&d, Ask::Continue)
            .err()
            .ok_or("continue without a hook")?;
        assert!(why.contains(stage.as_str()), "{why}");
        assert!(matches!(
            next_call(&d, Ask::Rollback),
            Ok(NativeCall::Stop { .. })
        ));
    }

    // A PAUSE hook awaiting action: continue and roll back answer it, with
    // its expiry and timeout action read.
    let paused = read(Some(deployment(
        S::InProgress,
        Some(L::PostProductionTrafficShift),
        ecs::DeploymentStrategy::Canary,
        Some(H::AwaitingAction),
    )))
    .await?
    .ok_or("paused")?;
    let hook = paused.awaiting().ok_or("awaiting")?;
    assert_eq!(hook.timeout_action.as_deref(), Some("ROLLBACK"));
    assert_eq!(hook.expires_at.map(|t| t.timestamp()), Some(1_800_000_900));
    assert_eq!(
        next_call(&paused, Ask::Continue),
        Ok(NativeCall::Continue {
            deployment: ARN.into(),
            hook: HOOK.into()
        })
    );
    assert_eq!(
        next_call(&paused, Ask::Rollback),
        Ok(NativeCall::RollbackHook {
            deployment: ARN.into(),
            hook: HOOK.into()
        })
    );
    // The strategy owns the weights.
    let why = next_call(&paused, Ask::Weight).err().ok_or("a weight")?;
    assert!(why.contains("canary strategy sets the weights"), "{why}");

    // Rolling back: neither continue nor a second rollback.
    for status in [S::RollbackRequested, S::RollbackInProgress] {
        let d = read(Some(deployment(
            status,
            None,
            ecs::DeploymentStrategy::BlueGreen,
            None,
        )))
        .await?
        .ok_or("rolling back")?;
        assert_eq!(d.strategy, Strategy::BlueGreen);
        assert!(next_call(&d, Ask::Rollback).is_err_and(|w| w.contains("already")));
        assert!(next_call(&d, Ask::Continue).is_err());
    }
    // Ended: nothing to steer.
    for status in [S::Successful, S::Stopped, S::RollbackSuccessful] {
        let d = read(Some(deployment(
            status.clone(),
            None,
            ecs::DeploymentStrategy::Canary,
            None,
        )))
        .await?
        .ok_or("ended")?;
        assert!(!d.under_way());
        let why = next_call(&d, Ask::Rollback).err().ok_or("ended rollback")?;
        assert!(why.contains(&status.as_str().to_lowercase()), "{why}");
    }
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn continue_rollback_and_stop_send_exactly_the_documented_requests() -> TestResult {
    // ContinueServiceDeployment with exactly this hook and `action`.
    let continued = |action: ecs::DeploymentLifecycleHookAction| {
        mock!(aws_sdk_ecs::Client::continue_service_deployment)
            .match_requests(move |r| {
                r.service_deployment_arn() == Some(ARN)
                    && r.hook_id() == Some(HOOK)
                    && r.action() == Some(&action)
            })
            .then_output(|| {
                ContinueServiceDeploymentOutput::builder()
                    .service_deployment_arn(ARN)
                    .build()
            })
    };
    let cont = continued(ecs::DeploymentLifecycleHookAction::Continue);
    let back = continued(ecs::DeploymentLifecycleHookAction::Rollback);
    let stop = mock!(aws_sdk_ecs::Client::stop_service_deployment)
        .match_requests(|r| {
            r.service_deployment_arn() == Some(ARN)
                && r.stop_type() == Some(&ecs::StopServiceDeploymentStopType::Rollback)
        })
        .then_output(|| {
            StopServiceDeploymentOutput::builder()
                .service_deployment_arn(ARN)
                .build()
        });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&cont, &back, &stop]);
    let native = AwsNative::from_client(client, "suma".into(), "auth".into());
    native
        .call(&NativeCall::Continue {
            deployment: ARN.into(),
            hook: HOOK.into(),
        })
        .await?;
    native
        .call(&NativeCall::RollbackHook {
            deployment: ARN.into(),
            hook: HOOK.into(),
        })
        .await?;
    native
        .call(&NativeCall::Stop {
            deployment: ARN.into(),
        })
        .await?;
    assert_eq!(cont.num_calls(), 1);
    assert_eq!(back.num_calls(), 1);
    assert_eq!(stop.num_calls(), 1);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_rollback_at_a_hook_that_no_longer_awaits_stops_the_deployment_instead() -> TestResult {
    use aws_sdk_ecs::operation::continue_service_deployment::ContinueServiceDeploymentError;
    let refused = mock!(aws_sdk_ecs::Client::continue_service_deployment)
        .match_requests(|r| r.action() == Some(&ecs::DeploymentLifecycleHookAction::Rollback))
        .then_error(|| {
            ContinueServiceDeploymentError::InvalidParameterException(
                ecs::error::InvalidParameterException::builder()
                    .message("The lifecycle hook is not awaiting action")
                    .build(),
            )
        });
    let stop = mock!(aws_sdk_ecs::Client::stop_service_deployment)
        .match_requests(|r| {
            r.service_deployment_arn() == Some(ARN)
                && r.stop_type() == Some(&ecs::StopServiceDeploymentStopType::Rollback)
        })
        .then_output(|| {
            StopServiceDeploymentOutput::builder()
                .service_deployment_arn(ARN)
                .build()
        });
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&refused, &stop]);
    let native = AwsNative::from_client(client, "suma".into(), "auth".into());
    let id = native
        .call(&NativeCall::RollbackHook {
            deployment: ARN.into(),
            hook: HOOK.into(),
        })
        .await?;
    assert_eq!((refused.num_calls(), stop.num_calls()), (1, 1));
    // The journal's request id says the stop did it, and why.
    assert!(
        id.contains("StopServiceDeployment ROLLBACK") && id.contains("InvalidParameter"),
        "{id}"
    );
    // A continue that ECS refuses is not turned into anything else.
    let refused = mock!(aws_sdk_ecs::Client::continue_service_deployment).then_error(|| {
        ContinueServiceDeploymentError::InvalidParameterException(
            ecs::error::InvalidParameterException::builder()
                .message("The lifecycle hook is not awaiting action")
                .build(),
        )
    });
    let stop = mock!(aws_sdk_ecs::Client::stop_service_deployment)
        .then_output(|| StopServiceDeploymentOutput::builder().build());
    let client = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&refused, &stop]);
    let native = AwsNative::from_client(client, "suma".into(), "auth".into());
    let err = native
        .call(&NativeCall::Continue {
            deployment: ARN.into(),
            hook: HOOK.into(),
        })
        .await
        .err()
        .ok_or("a refused continue succeeded")?;
    assert!(err.to_string().contains("not awaiting"), "{err}");
    assert_eq!(stop.num_calls(), 0);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn an_ended_deployment_is_described_once_then_only_listed() -> TestResult {
    use ecs::ServiceDeploymentStatus as S;
    let brief = || {
        ListServiceDeploymentsOutput::builder()
            .service_deployments(
                ecs::ServiceDeploymentBrief::builder()
                    .service_deployment_arn(ARN)
                    .created_at(time(1_800_000_000))
                    .build(),
            )
            .build()
    };
    let under_way = mock!(aws_sdk_ecs::Client::list_service_deployments)
        .match_requests(|r| !r.status().is_empty())
        .then_output(|| ListServiceDeploymentsOutput::builder().build());
    let recent = mock!(aws_sdk_ecs::Client::list_service_deployments)
        .match_requests(|r| r.status().is_empty())
        .then_output(brief);
    let describe = mock!(aws_sdk_ecs::Client::describe_service_deployments).then_output(|| {
        DescribeServiceDeploymentsOutput::builder()
            .service_deployments(deployment(
                S::Successful,
                None,
                ecs::DeploymentStrategy::Canary,
                None,
            ))
            .build()
    });
    let revisions = mock!(aws_sdk_ecs::Client::describe_service_revisions).then_output(|| {
        aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput::builder(
        )
        .build()
    });
    let client = mock_client!(
        aws_sdk_ecs,
        RuleMode::MatchAny,
        [&under_way, &recent, &describe, &revisions]
    );
    let native = AwsNative::from_client(client, "suma".into(), "auth".into());
    for _ in 0..3 {
        let d = native.read_current().await?.ok_or("no deployment")?;
        assert_eq!(d.status, "SUCCESSFUL");
    }
    assert_eq!(
        describe.num_calls(),
        1,
        "an ended deployment does not change"
    );
    assert_eq!((under_way.num_calls(), recent.num_calls()), (3, 3));
    Ok(())
}
