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
    print!(
        "{}",
        moto::config_toml(&l, "auth-service", "", "protected = true")?
    );
    Ok(())
}
