//! The CloudWatch Logs adapter against moto: a task definition with the
//! app and a sidecar logging to the same group, streams of several tasks,
//! events put between reads (a late one among them); the adapter follows
//! the app container's streams, interleaves by time, never gives a line
//! twice, skips none, and picks up a task that starts. `scripts/test`
//! starts moto; this test fails (never skips) without it.

mod common;

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_ecs::types as ecs;
use common::moto::{Error, TestResult, sdk};
use flightdeck::core::model::LogLine;
use flightdeck::sources::aws::logs::AwsLogs;
use flightdeck::sources::{LogCursor, LogTask, Logs};

const GROUP: &str = "/aws/ecs/auth-logs";

async fn register(ecs_c: &aws_sdk_ecs::Client) -> Result<String, Error> {
    let logging = |prefix: &str| {
        ecs::LogConfiguration::builder()
            .log_driver(ecs::LogDriver::Awslogs)
            .options("awslogs-group", GROUP)
            .options("awslogs-region", "eu-west-1")
            .options("awslogs-stream-prefix", prefix)
            .build()
    };
    let out = ecs_c
        .register_task_definition()
        .family("auth-logs")
        .container_definitions(
            ecs::ContainerDefinition::builder()
                .name("datadog-agent")
                .image("datadog/agent:7")
                .memory(256)
                .log_configuration(logging("sidecar")?)
                .build(),
        )
        .container_definitions(
            ecs::ContainerDefinition::builder()
                .name("app")
                .image("auth:42")
                .memory(512)
                .port_mappings(ecs::PortMapping::builder().container_port(8080).build())
                .log_configuration(logging("ecs")?)
                .build(),
        )
        .send()
        .await?;
    let td = out.task_definition().ok_or("no task definition")?;
    Ok(format!(
        "{}:{}",
        td.family().unwrap_or_default(),
        td.revision()
    ))
}

async fn put(
    logs: &aws_sdk_cloudwatchlogs::Client,
    stream: &str,
    events: &[(i64, &str)],
) -> TestResult {
    let _ = logs
        .create_log_stream()
        .log_group_name(GROUP)
        .log_stream_name(stream)
        .send()
        .await;
    logs.put_log_events()
        .log_group_name(GROUP)
        .log_stream_name(stream)
        .set_log_events(Some(
            events
                .iter()
                .map(|(ms, text)| {
                    InputLogEvent::builder()
                        .timestamp(*ms)
                        .message(*text)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?,
        ))
        .send()
        .await?;
    Ok(())
}

/// moto's SDK config, a Logs client, the log group and the task
/// definition (`family:revision`).
async fn setup() -> Result<
    (
        aws_config::SdkConfig,
        aws_sdk_cloudwatchlogs::Client,
        String,
    ),
    Error,
> {
    let sdk = sdk().await?;
    let logs_c = aws_sdk_cloudwatchlogs::Client::new(&sdk);
    let _ = logs_c.create_log_group().log_group_name(GROUP).send().await;
    let td = register(&aws_sdk_ecs::Client::new(&sdk)).await?;
    Ok((sdk, logs_c, td))
}

fn texts(lines: &[LogLine]) -> Vec<String> {
    lines
        .iter()
        .map(|l| format!("{} {}", l.task, l.text))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn follows_the_app_streams_in_order_without_duplicates_or_gaps() -> TestResult {
    let (sdk, logs_c, td) = setup().await?;
    let (a, b, c) = (
        "aaaaaaaa11112222333344445555",
        "bbbbbbbb11112222333344445555",
        "cccccccc11112222333344445555",
    );
    let now = chrono::Utc::now().timestamp_millis();
    put(
        &logs_c,
        &format!("ecs/app/{a}"),
        &[(now - 3000, "a1"), (now - 1000, "a2")],
    )
    .await?;
    put(&logs_c, &format!("ecs/app/{b}"), &[(now - 2000, "b1")]).await?;
    // The sidecar's lines are not the app's: never shown.
    put(
        &logs_c,
        &format!("sidecar/datadog-agent/{a}"),
        &[(now - 2500, "agent")],
    )
    .await?;

    let adapter = AwsLogs::new(&sdk, GROUP.into()).polling_only();
    let task = |id: &str| LogTask {
        id: id.into(),
        task_definition: td.clone(),
    };
    adapter.follow(&[task(a), task(b)]);
    let (first, cursor) = adapter.read(LogCursor::default()).await?;
    assert_eq!(texts(&first), ["aaaaaaaa a1", "bbbbbbbb b1", "aaaaaaaa a2"]);

    // New lines, one of them late (older than the newest seen), and a task
    // that starts.
    put(
        &logs_c,
        &format!("ecs/app/{b}"),
        &[(now - 1500, "b-late"), (now + 500, "b2")],
    )
    .await?;
    put(&logs_c, &format!("ecs/app/{c}"), &[(now + 200, "c1")]).await?;
    adapter.follow(&[task(a), task(b), task(c)]);
    let (second, cursor) = adapter.read(cursor).await?;
    assert_eq!(
        texts(&second),
        ["bbbbbbbb b-late", "cccccccc c1", "bbbbbbbb b2"],
        "late lines within the overlap come, nothing twice"
    );
    // Nothing new: nothing given.
    let (third, _) = adapter.read(cursor).await?;
    assert!(third.is_empty(), "{third:?}");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_log_group_is_a_clear_error() -> TestResult {
    let sdk = sdk().await?;
    let ecs_c = aws_sdk_ecs::Client::new(&sdk);
    let td = register(&ecs_c).await?;
    let adapter = AwsLogs::new(&sdk, "/aws/ecs/does-not-exist".into());
    adapter.follow(&[LogTask {
        id: "dddddddd".into(),
        task_definition: td,
    }]);
    // No container logs to that group: nothing to follow, no error.
    let (lines, _) = adapter.read(LogCursor::default()).await?;
    assert!(lines.is_empty());
    let adapter = AwsLogs::new(&sdk, GROUP.into());
    adapter.follow(&[LogTask {
        id: "dddddddd".into(),
        task_definition: "no-such-family:9".into(),
    }]);
    let err = adapter.read(LogCursor::default()).await.err();
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("ecs:DescribeTaskDefinition"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn live_tail_is_used_where_offered_and_never_repeats_a_line() -> TestResult {
    let (sdk, logs_c, td) = setup().await?;
    let id = "eeeeeeee11112222333344445555";
    let now = chrono::Utc::now().timestamp_millis();
    put(
        &logs_c,
        &format!("ecs/app/{id}"),
        &[(now - 2000, "e1"), (now - 1000, "e2")],
    )
    .await?;
    let adapter = AwsLogs::new(&sdk, GROUP.into());
    adapter.follow(&[LogTask {
        id: id.into(),
        task_definition: td,
    }]);
    let (first, mut cursor) = adapter.read(LogCursor::default()).await?;
    assert_eq!(texts(&first), ["eeeeeeee e1", "eeeeeeee e2"]);
    // The endpoint (moto, through the host-prefix fix) offers live tail.
    assert_eq!(adapter.mode(), "live tail");
    put(&logs_c, &format!("ecs/app/{id}"), &[(now + 100, "e3")]).await?;
    // moto's session replays what is stored, then ends: whichever path
    // brings them, each line comes once.
    let mut all = texts(&first);
    for _ in 0..4 {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let (more, next) = adapter.read(cursor).await?;
        all.extend(texts(&more));
        cursor = next;
    }
    assert_eq!(all, ["eeeeeeee e1", "eeeeeeee e2", "eeeeeeee e3"]);
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_minute_busier_than_the_page_limit_never_holds_the_cursor() -> TestResult {
    let (sdk, logs_c, td) = setup().await?;
    let id = "ffffffff11112222333344445555";
    let now = chrono::Utc::now().timestamp_millis();
    let texts_in: Vec<String> = (0..25).map(|i| format!("busy {i:02}")).collect();
    let events: Vec<(i64, &str)> = texts_in
        .iter()
        .enumerate()
        .map(|(i, t)| (now - 5_000 + i as i64 * 100, t.as_str()))
        .collect();
    put(&logs_c, &format!("ecs/app/{id}"), &events).await?;
    // 2 events a page, 5 pages a read: 10 lines a read at most.
    let adapter = AwsLogs::new(&sdk, GROUP.into())
        .polling_only()
        .with_page_size(2);
    adapter.follow(&[LogTask {
        id: id.into(),
        task_definition: td,
    }]);
    let mut cursor = LogCursor::default();
    let mut got = Vec::new();
    for _ in 0..5 {
        let (lines, next) = adapter.read(cursor).await?;
        got.extend(lines.into_iter().map(|l| l.text));
        cursor = next;
    }
    assert_eq!(got, texts_in);
    Ok(())
}
