//! One full refresh of the fleet against moto server: 10 services (five
//! releases of a stable and a canary service) and 1,000 tasks. Prints the
//! API calls made and the wall time. Needs moto:
//!
//!     scripts/with-moto cargo bench --bench refresh
//!
//! Not a test: the figures go in the README.

#[path = "../tests/common/moto.rs"]
#[allow(dead_code)]
mod moto;

use std::sync::atomic::Ordering;
use std::time::Instant;

use aws_sdk_ecs::types as ecs;
use flightdeck::sources::Fleet;
use flightdeck::sources::aws::ecs::AwsFleet;

const RELEASES: usize = 5;
const TASKS_PER_SERVICE: i32 = 100;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(bench())
}

async fn bench() -> Result<(), Box<dyn std::error::Error>> {
    let (subnets, sg) = moto::awsvpc()?;
    let mut fleets = Vec::new();
    let stamp = std::process::id();
    for r in 0..RELEASES {
        let layout = moto::layout(&format!("b{stamp}x{r}")).await?;
        let client = aws_sdk_ecs::Client::new(&layout.sdk);
        // Up to 100 tasks per service (RunTask starts at most 10 a call).
        for (service, revision, have) in [(&layout.stable, 1, 9), (&layout.canary, 2, 1)] {
            let mut left = TASKS_PER_SERVICE - have;
            while left > 0 {
                let n = left.min(10);
                client
                    .run_task()
                    .cluster(&layout.cluster)
                    .task_definition(format!("{}:{revision}", layout.family))
                    .count(n)
                    .group(format!("service:{service}"))
                    .launch_type(ecs::LaunchType::Fargate)
                    .network_configuration(
                        ecs::NetworkConfiguration::builder()
                            .awsvpc_configuration(
                                ecs::AwsVpcConfiguration::builder()
                                    .set_subnets(Some(subnets.clone()))
                                    .security_groups(&sg)
                                    .build()?,
                            )
                            .build(),
                    )
                    .send()
                    .await?;
                left -= n;
            }
        }
        fleets.push(AwsFleet::new(
            &layout.sdk,
            layout.cluster.clone(),
            layout.stable.clone(),
            Some(layout.canary.clone()),
            layout.stable_tg.clone(),
            Some(layout.canary_tg.clone()),
        ));
    }
    for round in 1..=3 {
        let start = Instant::now();
        let mut tasks = 0;
        for fleet in &fleets {
            fleet.calls.store(0, Ordering::Relaxed);
            tasks += fleet.snapshot().await?.tasks.len();
        }
        let elapsed = start.elapsed();
        let calls: u64 = fleets.iter().map(|f| f.calls.load(Ordering::Relaxed)).sum();
        println!(
            "refresh {round}: {} services, {tasks} tasks, {calls} API calls, {:.0} ms",
            RELEASES * 2,
            elapsed.as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
