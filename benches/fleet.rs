//! The fleet overview against moto: 50 stable/canary pairs (100 ECS
//! services) behind 50 load balancers in one cluster, with extra tasks up
//! to `--tasks` (default 5,000). Prints the time to the first full screen
//! (identity, discovery of every pair from names only, the first read) and
//! the requests one refresh makes, counted at the server side by a proxy in
//! front of moto. Needs moto:
//!
//!     scripts/with-moto cargo bench --bench fleet
//!
//! Not a test: the figures go in the README.

#[path = "../tests/common/moto.rs"]
#[allow(dead_code)]
mod moto;
#[path = "../tests/common/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use flightdeck::sources::Releases;
use flightdeck::sources::aws::overview::{AwsReleases, Entry};

const PAIRS: usize = 50;
const CLUSTER: &str = "suma-fleet-bench";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tasks: usize = std::env::args()
        .skip_while(|a| a != "--tasks")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let made = Instant::now();
    let mut layouts = Vec::new();
    for i in 0..PAIRS {
        layouts.push(rt.block_on(moto::layout_in(&format!("fb{i:02}"), CLUSTER))?);
    }
    // Each layout runs 10 tasks; the rest as more stable tasks.
    let more = tasks.saturating_sub(PAIRS * 10);
    let ecs = aws_sdk_ecs::Client::new(&layouts[0].sdk);
    let (subnets, sg) = moto::awsvpc()?;
    let mut left = more;
    let mut i = 0;
    while left > 0 {
        let l = &layouts[i % PAIRS];
        let n = left.min(10);
        rt.block_on(
            ecs.run_task()
                .cluster(CLUSTER)
                .task_definition(format!("{}:1", l.family))
                .count(n as i32)
                .group(format!("service:{}", l.stable))
                .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
                .network_configuration(
                    aws_sdk_ecs::types::NetworkConfiguration::builder()
                        .awsvpc_configuration(
                            aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                                .set_subnets(Some(subnets.clone()))
                                .security_groups(&sg)
                                .build()?,
                        )
                        .build(),
                )
                .send(),
        )?;
        left -= n;
        i += 1;
    }
    eprintln!(
        "fleet bench: {PAIRS} pairs ({} ECS services), {tasks} tasks made in moto in {:.1}s",
        PAIRS * 2,
        made.elapsed().as_secs_f64()
    );
    // Everything through the proxy, which counts the requests.
    let upstream = std::env::var("FLIGHTDECK_MOTO_URL")?
        .trim_start_matches("http://")
        .to_string();
    let proxy = proxy::Proxy::start(&upstream, b"")?;
    let mut text = format!(
        "[aws]\nregion = \"eu-west-1\"\nendpoint_url = \"{}\"\n",
        proxy.url
    );
    for l in &layouts {
        text.push_str(&format!(
            "\n[[service]]\nname = \"{}\"\nenvironment = \"production\"\ncluster = \"{CLUSTER}\"\nstable_service = \"{}\"\n",
            l.stable, l.stable
        ));
    }
    let config = flightdeck::config::parse(std::path::Path::new("fleet.toml"), &text)?;
    let started = Instant::now();
    let overview = rt.block_on(async {
        let mut entries = Vec::new();
        for service in &config.services {
            entries.push(Entry {
                sdk: flightdeck::app::service_sdk(&config, service, Duration::from_secs(30)).await,
                service: service.clone(),
            });
        }
        AwsReleases::new(entries, Arc::new(AtomicU64::new(0)))
    });
    let rows = rt.block_on(overview.read())?;
    let first = started.elapsed();
    let full = rows
        .iter()
        .filter(|r| r.error.is_none() && r.canary_pct.is_some() && r.stable_tasks.is_some())
        .count();
    let first_calls = proxy.take_calls();
    println!(
        "first full screen: {:.2}s ({full}/{} rows complete), {} requests: {first_calls:?}",
        first.as_secs_f64(),
        rows.len(),
        first_calls.values().sum::<u64>()
    );
    let mut times = Vec::new();
    let mut per_refresh = Default::default();
    for _ in 0..5 {
        let at = Instant::now();
        rt.block_on(overview.read())?;
        times.push(at.elapsed().as_secs_f64() * 1000.0);
        per_refresh = proxy.take_calls();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "a refresh: {} requests {per_refresh:?}; p50 {:.0} ms, max {:.0} ms over 5",
        per_refresh.values().sum::<u64>(),
        times[times.len() / 2],
        times[times.len() - 1]
    );
    Ok(())
}
