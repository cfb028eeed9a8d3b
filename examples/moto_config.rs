//! Build the seed's layout in moto and print a config for it, to try the
//! live console by hand without AWS:
//!
//!     scripts/with-moto sh -c 'cargo run --example moto_config > /tmp/moto.toml \
//!         && cargo run -- --config /tmp/moto.toml'

#[path = "../tests/common/moto.rs"]
#[allow(dead_code)]
mod moto;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let l = rt.block_on(moto::layout(&format!("try{}", std::process::id())))?;
    let url = std::env::var("FLIGHTDECK_MOTO_URL")?;
    println!(
        r#"[aws]
region = "eu-west-1"
endpoint_url = "{url}"

[[service]]
name = "auth-service"
environment = "production"
protected = true
cluster = "{}"
stable_service = "{}"
canary_service = "{}"
listener_rule_arn = "{}"
stable_target_group_arn = "{}"
canary_target_group_arn = "{}""#,
        l.cluster, l.stable, l.canary, l.rule, l.stable_tg, l.canary_tg
    );
    Ok(())
}
