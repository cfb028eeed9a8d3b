//! `flightdeck init`: a config from what runs. Lists the clusters' services
//! (ListClusters, ListServices, DescribeServices 10 at a time), pairs each
//! stable service with its canary by name (`NAME` and `NAME-canary`),
//! checks that discovery finds each pair's rule, groups and log group, and
//! writes a commented config that names services only (the ARNs are found
//! at start). A pair discovery cannot resolve is written commented out,
//! with the reason. Never overwrites a config without `--force`.

use std::path::{Path, PathBuf};

use crate::config::DEFAULT_CANARY_SUFFIX;
use crate::core::model::SourceError;
use crate::sources::aws::discover::{Resolved, Wanted, resolve};
use crate::sources::aws::{AwsSettings, error, sdk_config};

/// `flightdeck init`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// The AWS profile to read with (written to [aws])
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS region to read (written to [aws])
    #[arg(long, value_name = "NAME")]
    pub region: Option<String>,
    /// A canary service is its stable service's name with this after it
    #[arg(long, value_name = "SUFFIX", default_value = DEFAULT_CANARY_SUFFIX)]
    pub canary_suffix: String,
    /// Print the config instead of writing it
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite an existing config
    #[arg(long)]
    pub force: bool,
}

/// One stable/canary pair (or an ECS-native service: no canary), and what
/// discovery made of it.
struct Pair {
    cluster: String,
    stable: String,
    canary: Option<String>,
    found: Result<Resolved, SourceError>,
}

/// Runs `init`; returns the exit code (0 written or printed, 1 AWS, 2 the
/// file exists or cannot be written).
pub async fn run(
    args: &InitArgs,
    clusters: &[String],
    path: Option<PathBuf>,
    timeout: std::time::Duration,
) -> u8 {
    let target = path.or_else(crate::config::default_path);
    if !args.dry_run {
        match &target {
            None => {
                eprintln!(
                    "flightdeck: no home directory for the default config: pass --config PATH"
                );
                return 2;
            }
            Some(p) if p.exists() && !args.force => {
                eprintln!(
                    "flightdeck: {} exists: pass --force to overwrite it, or --dry-run to print the new config",
                    p.display()
                );
                return 2;
            }
            Some(_) => {}
        }
    }
    let (text, working, all) = match generate(args, clusters, timeout).await {
        Ok(made) => made,
        Err(e) => {
            eprintln!("flightdeck: init: {e}");
            return 1;
        }
    };
    match (&target, args.dry_run) {
        (_, true) | (None, _) => {
            print!("{text}");
            0
        }
        (Some(path), false) => match write(path, &text) {
            Ok(()) => {
                eprintln!(
                    "flightdeck: wrote {} with {working} release(s){}; open one with `flightdeck --config {} --service NAME`",
                    path.display(),
                    match all - working {
                        0 => String::new(),
                        n => format!(" ({n} more commented out: see why in the file)"),
                    },
                    path.display()
                );
                0
            }
            Err(e) => {
                eprintln!("flightdeck: cannot write {}: {e}", path.display());
                2
            }
        },
    }
}

/// The config text for `clusters` (every cluster of the region when
/// empty), checked to load; with how many pairs work and how many there
/// are. `flightdeck --cluster NAME` without a config opens this.
pub async fn generate(
    args: &InitArgs,
    clusters: &[String],
    timeout: std::time::Duration,
) -> Result<(String, usize, usize), String> {
    let settings = AwsSettings {
        region: args.region.clone(),
        profile: args.profile.clone(),
        endpoint_url: None,
    };
    let sdk = sdk_config(&settings, timeout).await;
    let (pairs, alone) = survey(&sdk, args, clusters)
        .await
        .map_err(|e| e.to_string())?;
    let region = sdk.region().map(|r| r.to_string());
    let text = render(args, region.as_deref(), &pairs, &alone);
    // What is written must load.
    if let Err(e) = crate::config::parse(Path::new("(generated)"), &text) {
        return Err(format!("the config made does not load (a bug): {e}"));
    }
    let working = pairs.iter().filter(|p| p.found.is_ok()).count();
    Ok((text, working, pairs.len()))
}

/// The clusters' stable/canary pairs, and the services left without one.
async fn survey(
    sdk: &aws_config::SdkConfig,
    args: &InitArgs,
    only: &[String],
) -> Result<(Vec<Pair>, Vec<String>), SourceError> {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    let clusters = if only.is_empty() {
        clusters(&ecs).await?
    } else {
        // By name: an ARN names the same cluster.
        only.iter().map(|c| last_part(c)).collect()
    };
    let mut pairs = Vec::new();
    let mut alone = Vec::new();
    for cluster in clusters {
        let names = service_names(&ecs, &cluster).await?;
        let canary_of = |s: &String| format!("{s}{}", args.canary_suffix);
        for stable in &names {
            if stable.ends_with(&args.canary_suffix)
                && names.iter().any(|n| &canary_of(n) == stable)
            {
                continue;
            }
            let canary = canary_of(stable);
            if !names.contains(&canary) {
                // Alone: an ECS-native service (its deployments move its
                // traffic), or not a release flightdeck can steer.
                let wanted = Wanted {
                    cluster: cluster.clone(),
                    stable_service: stable.clone(),
                    canary_service: None,
                    canary_suffix: args.canary_suffix.clone(),
                    listener: None,
                    stable_target_group_arn: None,
                    canary_target_group_arn: None,
                    log_group: None,
                    native: false,
                };
                match resolve(sdk, &wanted).await {
                    Ok(found) if found.native => pairs.push(Pair {
                        cluster: cluster.clone(),
                        stable: stable.clone(),
                        canary: None,
                        found: Ok(found),
                    }),
                    // Native, but its groups or rule could not be read:
                    // written commented out, with why.
                    Err(e) if e.message.contains("advancedConfiguration") => pairs.push(Pair {
                        cluster: cluster.clone(),
                        stable: stable.clone(),
                        canary: None,
                        found: Err(e),
                    }),
                    _ => alone.push(format!("{cluster}/{stable}")),
                }
                continue;
            }
            let wanted = Wanted {
                cluster: cluster.clone(),
                stable_service: stable.clone(),
                canary_service: Some(canary.clone()),
                canary_suffix: args.canary_suffix.clone(),
                listener: None,
                stable_target_group_arn: None,
                canary_target_group_arn: None,
                log_group: None,
                native: false,
            };
            let found = resolve(sdk, &wanted).await;
            pairs.push(Pair {
                cluster: cluster.clone(),
                stable: stable.clone(),
                canary: Some(canary),
                found,
            });
        }
    }
    Ok((pairs, alone))
}

/// Every cluster's name (ListClusters, page by page).
async fn clusters(ecs: &aws_sdk_ecs::Client) -> Result<Vec<String>, SourceError> {
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = ecs
            .list_clusters()
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| error("ecs:ListClusters", "the region", e))?;
        names.extend(page.cluster_arns().iter().map(|a| last_part(a)));
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => return Ok(names),
        }
    }
}

/// The cluster's active services, sorted (ListServices page by page).
async fn service_names(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Result<Vec<String>, SourceError> {
    let mut names = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = ecs
            .list_services()
            .cluster(cluster)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| {
                let e = error("ecs:ListServices", cluster, e);
                if e.kind == crate::core::model::ErrorKind::NotFound {
                    e.with_hint("check --cluster: `flightdeck init` without it lists every cluster of the region")
                } else {
                    e
                }
            })?;
        names.extend(page.service_arns().iter().map(|a| last_part(a)));
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// `arn:…:service/cluster/name` → `name`.
fn last_part(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

/// A TOML string, quoted and escaped.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The environment a service's name suggests.
fn environment(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    if lower.contains("prod") {
        "production"
    } else if lower.contains("stag") {
        "staging"
    } else if lower.contains("dev") {
        "development"
    } else {
        "unknown"
    }
}

/// The config's text.
fn render(args: &InitArgs, region: Option<&str>, pairs: &[Pair], alone: &[String]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Written by `flightdeck init`: one [[service]] per stable/canary pair\n\
         # (a canary is its stable service's name + {}). Only names are\n\
         # needed: target groups, the weighted listener rule and the log group\n\
         # are found at start. Every key: config.example.toml.\n",
        quoted(&args.canary_suffix)
    );
    if region.is_some() || args.profile.is_some() {
        out.push_str("[aws]\n");
        if let Some(region) = region {
            let _ = writeln!(out, "region = {}", quoted(region));
        }
        if let Some(profile) = &args.profile {
            let _ = writeln!(out, "profile = {}", quoted(profile));
        }
        out.push('\n');
    }
    for pair in pairs {
        let environment = environment(&pair.stable);
        // The same service name in two clusters: named by cluster too.
        let twice = pairs.iter().filter(|p| p.stable == pair.stable).count() > 1;
        let name = if twice {
            format!("{}/{}", pair.cluster, pair.stable)
        } else {
            pair.stable.clone()
        };
        let mut block = String::new();
        let _ = writeln!(block, "[[service]]");
        let _ = writeln!(block, "name = {}", quoted(&name));
        let _ = writeln!(
            block,
            "environment = {}    # from the name: check it",
            quoted(environment)
        );
        if environment == "production" {
            let _ = writeln!(
                block,
                "protected = true                # type the name for every change"
            );
        }
        let _ = writeln!(block, "cluster = {}", quoted(&pair.cluster));
        let _ = writeln!(block, "stable_service = {}", quoted(&pair.stable));
        match &pair.canary {
            Some(canary) => {
                let _ = writeln!(block, "canary_service = {}", quoted(canary));
            }
            None => {
                let _ = writeln!(
                    block,
                    "model = \"ecs-native\"            # its ECS deployments move the traffic"
                );
            }
        }
        if args.canary_suffix != DEFAULT_CANARY_SUFFIX {
            let _ = writeln!(block, "canary_suffix = {}", quoted(&args.canary_suffix));
        }
        match &pair.found {
            Ok(found) => {
                let _ = writeln!(block, "# found by init (and again at each start):");
                let _ = writeln!(block, "#   {}", listener_line(&found.listener));
                let _ = writeln!(
                    block,
                    "#   stable_target_group_arn = {}",
                    quoted(&found.stable_target_group_arn)
                );
                if let Some(tg) = &found.canary_target_group_arn {
                    let _ = writeln!(block, "#   canary_target_group_arn = {}", quoted(tg));
                }
                match &found.log_group {
                    Some(group) => {
                        let _ = writeln!(block, "#   log_group = {}", quoted(group));
                    }
                    None => {
                        let _ = writeln!(
                            block,
                            "#   no awslogs group: set log_group for the Logs pane"
                        );
                    }
                }
                out.push_str(&block);
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "# Not enabled: {}\n# Set the ARNs it names, then uncomment:",
                    crate::text::one_line(&e.to_string(), 300)
                );
                for line in block.lines() {
                    let _ = writeln!(out, "# {line}");
                }
            }
        }
        out.push('\n');
    }
    if pairs.is_empty() {
        out.push_str(
            "# No stable/canary pairs found: add a [[service]] (see config.example.toml).\n",
        );
    }
    if !alone.is_empty() {
        let _ = writeln!(
            out,
            "# Services without a canary named NAME{}: {}",
            args.canary_suffix,
            crate::text::one_line(&alone.join(", "), 2000)
        );
    }
    out
}

fn listener_line(listener: &crate::config::Listener) -> String {
    match listener {
        crate::config::Listener::Rule(arn) => format!("listener_rule_arn = {}", quoted(arn)),
        crate::config::Listener::Default(arn) => format!("listener_arn = {}", quoted(arn)),
    }
}

/// Written beside the target, then renamed over it: never half a config.
fn write(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".init-tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_comes_from_the_name() {
        assert_eq!(environment("auth-service-production"), "production");
        assert_eq!(environment("billing-staging"), "staging");
        assert_eq!(environment("worker"), "unknown");
        assert_eq!(last_part("arn:aws:ecs:eu-west-1:1:service/c/auth"), "auth");
    }
}
