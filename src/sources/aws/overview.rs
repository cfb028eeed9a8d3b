//! `Releases` on AWS: every `[[service]]` of the config read together for
//! the fleet overview. Services that share credentials, region and cluster
//! are read with DescribeServices ten at a time; the weights with one
//! DescribeRules per listener (every rule of it at once) or one
//! DescribeListeners for listeners' default actions. Each service's ARNs
//! come from the config or from discovery (once; a failed discovery is
//! retried at the next read and shown on its row). The journal and the
//! lease files add the newest verdict, the last change, a pause and who
//! holds the lease.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum};
use tokio::sync::Mutex;

use super::discover::{Resolved, Wanted, resolve};
use super::error;
use crate::config::{Listener, ServiceConfig};
use crate::core::model::{SourceError, Time, identity_of};
use crate::core::releases::ReleaseRow;
use crate::sources::Releases;

/// One release of the overview: its config and the SDK config its calls
/// use (its own region, profile, role).
pub struct Entry {
    pub service: ServiceConfig,
    pub sdk: aws_config::SdkConfig,
}

pub struct AwsReleases {
    entries: Vec<Entry>,
    /// Per entry: its ARNs once found.
    found: Mutex<Vec<Option<Resolved>>>,
    /// The account of each credentials group (STS, once).
    accounts: Mutex<HashMap<String, String>>,
    journal: Option<PathBuf>,
    leases: Option<PathBuf>,
    /// The team table (`[team]`): leases and driver seats are there.
    team: Option<(aws_config::SdkConfig, String)>,
    /// Team holders as last read, and when (read at most every
    /// `TEAM_EVERY`: two items per release).
    team_read: Mutex<(Option<std::time::Instant>, Holders)>,
    /// Deployments waiting for approval, per entry (pipelines of their own).
    approvals: Option<crate::sources::approvals::Approvals>,
    calls: Arc<AtomicU64>,
}

/// Who holds each identity's lease or seat (None: nobody).
type Holders = HashMap<String, Option<String>>;

/// How often the team table's leases and seats are read for the overview.
const TEAM_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// What a service's calls share: region, and who is calling.
fn group(entry: &Entry) -> String {
    let s = &entry.service;
    format!(
        "{}|{}|{}",
        entry
            .sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default(),
        s.profile.as_deref().unwrap_or_default(),
        s.role_arn.as_deref().unwrap_or_default()
    )
}

/// `…:listener-rule/app/LB/ID/LISTENER/RULE` → `…:listener/app/LB/ID/LISTENER`.
pub fn listener_of_rule(rule: &str) -> Option<String> {
    let (head, path) = rule.split_once(":listener-rule/")?;
    let (listener, _rule) = path.rsplit_once('/')?;
    Some(format!("{head}:listener/{listener}"))
}

/// The canary's share of the forward to the two groups, in percent.
fn canary_pct(actions: &[Action], stable: &str, canary: &str) -> Option<u16> {
    let forward = actions
        .iter()
        .filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward))
        .find_map(|a| a.forward_config())?;
    let weight = |arn: &str| {
        forward
            .target_groups()
            .iter()
            .find(|t| t.target_group_arn() == Some(arn))
            .map(|t| i64::from(t.weight().unwrap_or(1)).max(0))
    };
    let (s, c) = (weight(stable)?, weight(canary)?);
    let total = s + c;
    (total > 0).then(|| u16::try_from((c * 100 + total / 2) / total).unwrap_or(100))
}

impl AwsReleases {
    pub fn new(entries: Vec<Entry>, calls: Arc<AtomicU64>) -> AwsReleases {
        let n = entries.len();
        AwsReleases {
            entries,
            found: Mutex::new(vec![None; n]),
            accounts: Mutex::new(HashMap::new()),
            journal: None,
            leases: None,
            team: None,
            team_read: Mutex::new((None, HashMap::new())),
            approvals: None,
            calls,
        }
    }

    /// Show deployments waiting for approval, from these pipelines.
    pub fn with_approvals(mut self, approvals: crate::sources::approvals::Approvals) -> Self {
        self.approvals = Some(approvals);
        self
    }

    /// Read lease holders and drivers from the team table instead of the
    /// lease files.
    pub fn with_team(mut self, sdk: aws_config::SdkConfig, table: String) -> Self {
        self.team = Some((sdk, table));
        self
    }

    /// Who holds each identity's lease or sits in its driver's seat, from
    /// the team table (at most every `TEAM_EVERY`; the last answer between).
    async fn team_holders(&self, identities: &[String]) -> Holders {
        let Some((sdk, table)) = &self.team else {
            return HashMap::new();
        };
        let mut read = self.team_read.lock().await;
        if read.0.is_some_and(|at| at.elapsed() < TEAM_EVERY) {
            return read.1.clone();
        }
        let clock: Arc<dyn crate::sources::Clock> = Arc::new(crate::sources::SystemClock);
        let mut found = HashMap::new();
        for id in identities {
            let team = crate::sources::team::Team::new(sdk, table, id, clock.clone());
            self.count();
            self.count();
            let lease = team.holder().await.ok().flatten();
            let driver = team.driver_seat().holder().await.ok().flatten();
            let who = match (lease, driver) {
                (Some(l), _) => Some(l.who()),
                (None, Some(d)) => Some(format!("{} drives", d.who())),
                (None, None) => None,
            };
            found.insert(id.clone(), who);
        }
        *read = (Some(std::time::Instant::now()), found.clone());
        found
    }

    /// Read verdicts, changes and pauses from this journal, and lease
    /// holders from this folder of lease files.
    pub fn with_journal(mut self, journal: PathBuf, leases: PathBuf) -> Self {
        self.journal = Some(journal);
        self.leases = Some(leases);
        self
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    /// The account of each entry (STS per credentials group, once; the
    /// configured ARNs when STS cannot say).
    async fn accounts(&self) -> Vec<String> {
        let mut known = self.accounts.lock().await;
        let mut out = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let key = group(entry);
            if !known.contains_key(&key) {
                self.count();
                match super::identity(&entry.sdk).await {
                    Ok((account, _)) => {
                        known.insert(key.clone(), account);
                    }
                    // Not kept: asked again at the next read.
                    Err(_) => {
                        out.push(
                            entry
                                .service
                                .role_arn
                                .iter()
                                .chain(entry.service.stable_target_group_arn.iter())
                                .find_map(|arn| super::account_from_arn(arn))
                                .unwrap_or_else(|| "unknown".into()),
                        );
                        continue;
                    }
                }
            }
            out.push(known.get(&key).cloned().unwrap_or_default());
        }
        out
    }

    /// Each entry's ARNs: found before, or found now.
    async fn resolved(&self) -> Vec<Result<Resolved, SourceError>> {
        let mut found = self.found.lock().await;
        let mut out = Vec::with_capacity(self.entries.len());
        for (i, entry) in self.entries.iter().enumerate() {
            if let Some(Some(known)) = found.get(i) {
                out.push(Ok(known.clone()));
                continue;
            }
            let wanted = Wanted::from(&entry.service);
            if wanted.listener.is_none() || wanted.stable_target_group_arn.is_none() {
                // Discovery's calls are not counted one by one: a handful,
                // once per service.
                self.count();
            }
            let result = resolve(&entry.sdk, &wanted).await;
            if let (Ok(r), Some(slot)) = (&result, found.get_mut(i)) {
                *slot = Some(r.clone());
            }
            out.push(result);
        }
        out
    }
}

/// (running, desired) and a failed rollout, by service name.
type ServiceState = ((u32, u32), bool);

#[async_trait]
impl Releases for AwsReleases {
    async fn read(&self) -> Result<Vec<ReleaseRow>, SourceError> {
        let accounts = self.accounts().await;
        let resolved = self.resolved().await;
        let now: Time = chrono::Utc::now();
        // ECS: by credentials group and cluster, ten services a call.
        let mut by_cluster: BTreeMap<(String, String), (usize, Vec<String>)> = BTreeMap::new();
        for (i, (entry, found)) in self.entries.iter().zip(&resolved).enumerate() {
            let names = by_cluster
                .entry((group(entry), entry.service.cluster.clone()))
                .or_insert((i, Vec::new()));
            names.1.push(entry.service.stable_service.clone());
            if let Some(canary) = found.as_ref().ok().and_then(|f| f.canary_service.clone()) {
                names.1.push(canary);
            }
        }
        // By credentials group, cluster and name: two accounts may both
        // have `auth-service` in a cluster of the same name.
        let mut services: HashMap<(String, String, String), ServiceState> = HashMap::new();
        let mut cluster_errors: HashMap<(String, String), SourceError> = HashMap::new();
        for ((key, cluster), (first, mut names)) in by_cluster {
            names.sort();
            names.dedup();
            let ecs = aws_sdk_ecs::Client::new(&self.entries[first].sdk);
            for chunk in names.chunks(10) {
                self.count();
                let result = ecs
                    .describe_services()
                    .cluster(&cluster)
                    .set_services(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| error("ecs:DescribeServices", &cluster, e));
                match result {
                    Ok(out) => {
                        for s in out.services() {
                            let name = s.service_name().unwrap_or_default().to_string();
                            let count = |n: i32| u32::try_from(n).unwrap_or(0);
                            let failed = s.deployments().iter().any(|d| {
                                d.rollout_state().map(|r| r.as_str()) == Some("FAILED")
                                    && d.status() == Some("PRIMARY")
                            });
                            services.insert(
                                (key.clone(), cluster.clone(), name),
                                ((count(s.running_count()), count(s.desired_count())), failed),
                            );
                        }
                    }
                    Err(e) => {
                        cluster_errors.insert((key.clone(), cluster.clone()), e);
                    }
                }
            }
        }
        // The ALB: one DescribeRules per listener, one DescribeListeners
        // per credentials group for default actions.
        let mut rules: HashMap<String, Vec<Action>> = HashMap::new();
        let mut listener_errors: HashMap<String, SourceError> = HashMap::new();
        let mut by_listener: BTreeMap<String, usize> = BTreeMap::new();
        let mut defaults: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, found) in resolved.iter().enumerate() {
            match found.as_ref().map(|f| &f.listener) {
                Ok(Listener::Rule(rule)) => {
                    if let Some(listener) = listener_of_rule(rule) {
                        by_listener.entry(listener).or_insert(i);
                    }
                }
                Ok(Listener::Default(listener)) => {
                    let list = defaults.entry(group(&self.entries[i])).or_default();
                    if !list.contains(listener) {
                        list.push(listener.clone());
                    }
                }
                Err(_) => {}
            }
        }
        for (listener, i) in by_listener {
            let elb = aws_sdk_elasticloadbalancingv2::Client::new(&self.entries[i].sdk);
            let mut marker: Option<String> = None;
            loop {
                self.count();
                let result = elb
                    .describe_rules()
                    .listener_arn(&listener)
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| error("elasticloadbalancing:DescribeRules", &listener, e));
                match result {
                    Ok(page) => {
                        for rule in page.rules() {
                            if let Some(arn) = rule.rule_arn() {
                                rules.insert(arn.to_string(), rule.actions().to_vec());
                            }
                        }
                        match page.next_marker() {
                            Some(next) if !next.is_empty() => marker = Some(next.to_string()),
                            _ => break,
                        }
                    }
                    Err(e) => {
                        listener_errors.insert(listener.clone(), e);
                        break;
                    }
                }
            }
        }
        for (key, listeners) in defaults {
            let Some(entry) = self.entries.iter().find(|e| group(e) == key) else {
                continue;
            };
            let elb = aws_sdk_elasticloadbalancingv2::Client::new(&entry.sdk);
            for chunk in listeners.chunks(20) {
                self.count();
                let result = elb
                    .describe_listeners()
                    .set_listener_arns(Some(chunk.to_vec()))
                    .send()
                    .await
                    .map_err(|e| error("elasticloadbalancing:DescribeListeners", &chunk[0], e));
                match result {
                    Ok(out) => {
                        for l in out.listeners() {
                            if let Some(arn) = l.listener_arn() {
                                rules.insert(arn.to_string(), l.default_actions().to_vec());
                            }
                        }
                    }
                    Err(e) => {
                        for l in chunk {
                            listener_errors.insert(l.clone(), e.clone());
                        }
                    }
                }
            }
        }
        // The journal and the leases: local files, read once.
        let identities: Vec<String> = self
            .entries
            .iter()
            .zip(&resolved)
            .zip(&accounts)
            .map(|((entry, found), account)| {
                identity_of(
                    account,
                    &entry
                        .sdk
                        .region()
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                    &entry.service.cluster,
                    &entry.service.stable_service,
                    found
                        .as_ref()
                        .ok()
                        .and_then(|f| f.canary_service.as_deref())
                        .or(entry.service.canary_service.as_deref()),
                )
            })
            .collect();
        let latest = match &self.journal {
            Some(path) => {
                let (path, ids) = (path.clone(), identities.clone());
                tokio::task::spawn_blocking(move || crate::journal::latest(&path, &ids))
                    .await
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        let team = self.team_holders(&identities).await;
        let approvals = match &self.approvals {
            Some(a) => a.read(std::time::Duration::from_secs(10)).await,
            None => Vec::new(),
        };
        let parse = |t: &str| {
            chrono::DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc))
        };
        let mut rows = Vec::with_capacity(self.entries.len());
        for (i, entry) in self.entries.iter().enumerate() {
            let s = &entry.service;
            let region = entry
                .sdk
                .region()
                .map(|r| r.to_string())
                .unwrap_or_default();
            let mut row = ReleaseRow {
                name: s.name.clone(),
                environment: s.environment.clone(),
                protected: s.protected,
                cluster: s.cluster.clone(),
                account: accounts.get(i).cloned().unwrap_or_default(),
                region,
                ..ReleaseRow::default()
            };
            row.approval = approvals.get(i).cloned().flatten();
            if let Some(l) = latest.get(i) {
                row.verdict = l
                    .verdict
                    .as_ref()
                    .and_then(|(t, o)| Some((parse(t)?, o.clone())));
                row.last_change = l
                    .change
                    .as_ref()
                    .and_then(|(t, a, r)| Some((parse(t)?, a.clone(), r.clone())));
                row.paused = l.paused;
            }
            match (&self.team, &self.leases, identities.get(i)) {
                (Some(_), _, Some(id)) => row.holder = team.get(id).cloned().flatten(),
                (None, Some(dir), Some(id)) => {
                    row.holder = crate::sources::lease::LocalLease::new(dir, id)
                        .peek()
                        .map(|h| h.who());
                }
                _ => {}
            }
            let found = match &resolved[i] {
                Ok(found) => found,
                Err(e) => {
                    row.error = Some(e.clone());
                    rows.push(row);
                    continue;
                }
            };
            let state =
                |name: &str| services.get(&(group(entry), s.cluster.clone(), name.to_string()));
            row.stable_tasks = state(&s.stable_service).map(|(t, _)| *t);
            row.canary_tasks = found
                .canary_service
                .as_deref()
                .and_then(state)
                .map(|(t, _)| *t);
            row.failed_deployment = [
                Some(s.stable_service.as_str()),
                found.canary_service.as_deref(),
            ]
            .into_iter()
            .flatten()
            .find(|name| state(name).is_some_and(|(_, failed)| *failed))
            .map(str::to_string);
            let listener = match &found.listener {
                Listener::Rule(arn) => arn.clone(),
                Listener::Default(arn) => arn.clone(),
            };
            row.canary_pct = rules.get(&listener).and_then(|actions| {
                canary_pct(
                    actions,
                    &found.stable_target_group_arn,
                    found.canary_target_group_arn.as_deref()?,
                )
            });
            if let Some(pct) = row.canary_pct {
                let moved = row.last_change.as_ref().and_then(|(at, action, result)| {
                    (matches!(action.as_str(), "advance" | "weight" | "promote") && result == "ok")
                        .then_some(*at)
                });
                (row.step, row.bake_left) =
                    crate::core::releases::plan_position(&s.plan, pct, moved, now);
            }
            let listener_error = match &found.listener {
                Listener::Rule(arn) => listener_of_rule(arn).and_then(|l| listener_errors.get(&l)),
                Listener::Default(arn) => listener_errors.get(arn),
            };
            row.error = cluster_errors
                .get(&(group(entry), s.cluster.clone()))
                .or(listener_error)
                .cloned()
                .or_else(|| unreadable(row.stable_tasks.is_none(), &s.stable_service, &s.cluster))
                .or_else(|| match (rules.get(&listener), row.canary_pct) {
                    (None, _) => Some(SourceError::of_kind(
                        crate::core::model::ErrorKind::NotFound,
                        format!("{listener} is not among its listener's rules"),
                    )),
                    (Some(_), None) => Some(SourceError::of_kind(
                        crate::core::model::ErrorKind::NotFound,
                        "the forward action does not hold both target groups",
                    )),
                    _ => None,
                });
            if row.error.is_none() {
                row.read_at = Some(now);
            }
            rows.push(row);
        }
        Ok(rows)
    }

    fn calls(&self) -> Arc<AtomicU64> {
        self.calls.clone()
    }
}

/// A service DescribeServices did not return: gone, or in another cluster.
fn unreadable(missing: bool, service: &str, cluster: &str) -> Option<SourceError> {
    missing.then(|| {
        SourceError::of_kind(
            crate::core::model::ErrorKind::NotFound,
            format!("ecs:DescribeServices: no service {service} in {cluster}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rules_listener_is_its_arn_without_the_rule() {
        assert_eq!(
            listener_of_rule(
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/prod/50dc/f2f7/9683"
            )
            .as_deref(),
            Some("arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/prod/50dc/f2f7")
        );
        assert_eq!(
            listener_of_rule("arn:aws:elasticloadbalancing:x:listener/app/a/b/c"),
            None
        );
    }
}
