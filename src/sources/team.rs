//! Team state on DynamoDB (`[team] table`): the shared adapter of the
//! change lease, and the team journal. One table, partition key `pk` (the
//! service's AWS identity), sort key `sk`:
//!
//! - `lease`: the lease's state (holder, generation, last holder) as JSON,
//!   a `version` every write is conditional on, and `expires` (epoch
//!   seconds): a holder that stops heart-beating (every lease check is a
//!   heartbeat) loses the lease `EXPIRY` after its last one.
//! - `driver`: the driver's seat, the same kind of item as the lease: who
//!   runs the release's automation (`flightdeck drive`, or a console that
//!   took over driving). While a live driver sits there, other consoles
//!   watch and do not act on their own; a driver that stops heart-beating
//!   loses the seat after `[team] driver_expiry` (45 s).
//! - `j#<time>#<process>#<seq>`: one journal record each, with who wrote it
//!   (`origin`, e.g. `ana@laptop`) and from which process.
//!
//! No server of ours: conditional writes do the arbitration. A console
//! never creates the table (`flightdeck team create-table` does).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::lease::{State, acquire_with, check_in, release_in};
use super::{Clock, Lease, LeaseGrant, LeaseHolder};
use crate::core::effect::JournalRecord;
use crate::core::model::{ErrorKind, SourceError, TeamEntry};

/// A holder that has not heart-beaten for this long has lost the lease:
/// longer than one call may take (30 s), so a live holder in a slow call
/// keeps it.
pub const EXPIRY: Duration = Duration::from_secs(45);
/// How often a conditional write that lost a race is tried again.
const RACES: usize = 5;

/// The SDK settings for the team table: `[aws]`'s, with `[team]`'s region
/// and endpoint over them.
pub fn sdk_for(
    aws: &aws_config::SdkConfig,
    team: &crate::config::TeamSection,
) -> aws_config::SdkConfig {
    let mut builder = aws.to_builder();
    if let Some(region) = &team.region {
        builder = builder.region(aws_types::region::Region::new(region.clone()));
    }
    if let Some(url) = &team.endpoint_url {
        builder = builder.endpoint_url(url.clone());
    }
    builder.build()
}

/// The team table, seen by one process for one service.
pub struct Team {
    client: Client,
    table: String,
    identity: String,
    clock: Arc<dyn Clock>,
    expiry: Duration,
    host: String,
    /// This process: `host:pid:random`, unique among the table's writers.
    process: String,
    seq: AtomicU64,
    /// The item this one arbitrates: `lease` or `driver`.
    slot: &'static str,
    /// How long a silent driver keeps the driver's seat.
    driver_expiry: Duration,
}

impl Team {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        table: &str,
        identity: &str,
        clock: Arc<dyn Clock>,
    ) -> Team {
        let host = super::lease::hostname();
        Team {
            client: Client::new(sdk),
            table: table.to_string(),
            identity: identity.to_string(),
            clock,
            expiry: EXPIRY,
            process: format!("{host}:{}:{:x}", std::process::id(), fastrand::u32(..)),
            host,
            seq: AtomicU64::new(0),
            slot: "lease",
            driver_expiry: EXPIRY,
        }
    }

    /// How long a driver that stops heart-beating keeps the seat
    /// (`[team] driver_expiry`).
    pub fn with_driver_expiry(mut self, expiry: Duration) -> Team {
        self.driver_expiry = expiry;
        self
    }

    /// The driver's seat of the same service: a lease of its own (same
    /// arbitration, item `driver`).
    pub fn driver_seat(&self) -> Team {
        let expiry = self.driver_expiry;
        Team {
            client: self.client.clone(),
            table: self.table.clone(),
            identity: self.identity.clone(),
            clock: self.clock.clone(),
            expiry,
            host: self.host.clone(),
            process: self.process.clone(),
            seq: AtomicU64::new(0),
            slot: "driver",
            driver_expiry: expiry,
        }
    }

    /// Who sits in this seat now, if alive (not past its expiry).
    pub async fn holder(&self) -> Result<Option<LeaseHolder>, SourceError> {
        let (state, _, expires) = self.read_lease().await?;
        Ok(state.holder.filter(|_| expires > self.now_secs()))
    }

    /// The holder this process sits in the seat as: one per process.
    pub fn seat_holder(&self, operator: &str, via: &str) -> LeaseHolder {
        LeaseHolder {
            operator: operator.to_string(),
            via: via.to_string(),
            change: seat_change(&self.process),
            action: "drive".into(),
            host: String::new(),
            pid: 0,
            started: None,
            since: String::new(),
            call_until: None,
        }
    }

    /// Another expiry: longer where calls may take longer (`EXPIRY` at
    /// least for a call timeout of 30 s), shorter in tests.
    pub fn with_expiry(mut self, expiry: Duration) -> Team {
        self.expiry = expiry;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Which process of the team this is (records it wrote carry it).
    pub fn process(&self) -> &str {
        &self.process
    }

    /// Create the table (on-demand billing). Already there is fine.
    pub async fn create_table(&self) -> Result<bool, SourceError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let built = (|| {
            Ok::<_, aws_sdk_dynamodb::error::BuildError>((
                vec![key("pk", KeyType::Hash)?, key("sk", KeyType::Range)?],
                vec![attr("pk")?, attr("sk")?],
            ))
        })()
        .map_err(|e| SourceError::new(format!("cannot build CreateTable: {e}")))?;
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .set_key_schema(Some(built.0))
            .set_attribute_definitions(Some(built.1))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match result {
            Ok(_) => {
                self.wait_active().await?;
                Ok(true)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(super::aws::error("dynamodb:CreateTable", &self.table, e)),
        }
    }

    /// Until the new table is ACTIVE (at most two minutes): a console
    /// started right after `create-table` finds it usable.
    async fn wait_active(&self) -> Result<(), SourceError> {
        use aws_sdk_dynamodb::types::TableStatus;
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| self.error("dynamodb:DescribeTable", e))?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Err(SourceError::of_kind(
            ErrorKind::Timeout,
            format!(
                "the team table {} is not ACTIVE after 2 minutes",
                self.table
            ),
        )
        .with_hint("look at it in the DynamoDB console; run the command again to wait more"))
    }

    /// What `create_table` does, as the AWS CLI would do it.
    pub fn create_table_command(table: &str) -> String {
        format!(
            "aws dynamodb create-table --table-name {table} \\\n  --attribute-definitions AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \\\n  --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \\\n  --billing-mode PAY_PER_REQUEST"
        )
    }

    /// An SDK error, with the table named and, when it is missing, how to
    /// create it.
    fn error<E>(
        &self,
        action: &str,
        e: aws_smithy_runtime_api::client::result::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> SourceError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        let missing = e
            .as_service_error()
            .and_then(|s| s.code())
            .is_some_and(|c| c == "ResourceNotFoundException");
        let err = super::aws::error(action, &self.table, e);
        if missing {
            SourceError::of_kind(
                ErrorKind::NotFound,
                format!("the team table {} does not exist", self.table),
            )
            .with_hint("create it with `flightdeck team create-table` (see README, Team state)")
        } else {
            err
        }
    }

    fn now_secs(&self) -> i64 {
        self.clock.now().timestamp()
    }

    /// The lease item: its state and the version the next write is
    /// conditional on (0: no item).
    async fn read_lease(&self) -> Result<(State, u64, i64), SourceError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(self.identity.clone()))
            .key("sk", AttributeValue::S(self.slot.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("dynamodb:GetItem", e))?;
        let Some(item) = out.item() else {
            return Ok((
                State {
                    identity: self.identity.clone(),
                    ..State::default()
                },
                0,
                0,
            ));
        };
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let state = item
            .get("state")
            .and_then(|v| v.as_s().ok())
            .map(|s| serde_json::from_str::<State>(s))
            .transpose()
            .map_err(|e| {
                SourceError::new(format!(
                    "the team {} of {} cannot be read ({e})",
                    self.slot, self.identity
                ))
                .with_hint("a rollback goes on without it; fix or delete the item")
            })?
            .unwrap_or_default();
        Ok((
            state,
            u64::try_from(number("version")).unwrap_or(0),
            number("expires"),
        ))
    }

    /// Write the lease item if nobody wrote it since `version` was read;
    /// false when somebody did (read again and decide again).
    async fn write_lease(&self, state: &State, version: u64) -> Result<bool, SourceError> {
        let body = serde_json::to_string(state)
            .map_err(|e| SourceError::new(format!("the team lease: {e}")))?;
        let expires = self.now_secs() + i64::try_from(self.expiry.as_secs()).unwrap_or(30);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(self.identity.clone()))
            .item("sk", AttributeValue::S(self.slot.into()))
            .item("state", AttributeValue::S(body))
            .item("version", AttributeValue::N((version + 1).to_string()))
            .item("expires", AttributeValue::N(expires.to_string()));
        let put = if version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(self.error("dynamodb:PutItem", e)),
        }
    }

    /// Read, decide with `f`, write conditionally; again when another
    /// writer came between.
    async fn decide<T>(
        &self,
        mut f: impl FnMut(&mut State, i64) -> (Result<T, SourceError>, bool),
    ) -> Result<T, SourceError> {
        for _ in 0..RACES {
            let (mut state, version, expires) = self.read_lease().await?;
            let (result, changed) = f(&mut state, expires);
            if !changed || result.is_err() {
                return result;
            }
            if self.write_lease(&state, version).await? {
                return result;
            }
        }
        Err(SourceError::of_kind(
            ErrorKind::Held,
            format!(
                "the team lease of {} kept changing under {RACES} tries",
                self.identity
            ),
        )
        .with_hint("another actor is taking it; look at the Journal pane and try again"))
    }

    /// The lease's refusals, said of the driver's seat when that is what
    /// this item is.
    fn in_seat_words(&self, mut e: SourceError) -> SourceError {
        if self.slot != "driver" {
            return e;
        }
        for (lease, seat) in [
            (
                "another change holds this service: ",
                "the release is driven by ",
            ),
            (
                "the change lease was taken over by ",
                "driving was taken over by ",
            ),
        ] {
            if let Some(rest) = e.message.strip_prefix(lease) {
                e.message = format!("{seat}{rest}");
            }
        }
        if e.kind == ErrorKind::Held {
            e.hint = Some(
                "wait for that driver to end, or take over driving from a console (`:drive SERVICE`)"
                    .into(),
            );
        }
        e
    }

    fn stamped(&self, me: &LeaseHolder) -> LeaseHolder {
        LeaseHolder {
            host: self.host.clone(),
            pid: std::process::id(),
            since: self
                .clock
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ..me.clone()
        }
    }

    /// The team journal key of a record this process writes: given once,
    /// so a record sent again after a lost answer is the same item.
    pub fn key_for(&self, record: &JournalRecord) -> String {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("j#{}#{}#{seq:08}", record.time, self.process)
    }

    /// Append one journal record to the team journal, as `origin`, under
    /// `key` (`key_for`). Written twice, it is one item.
    pub async fn put_record(
        &self,
        origin: &str,
        key: &str,
        record: &JournalRecord,
    ) -> Result<(), SourceError> {
        let body = serde_json::to_string(record)
            .map_err(|e| SourceError::new(format!("the team journal: {e}")))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(self.identity.clone()))
            .item("sk", AttributeValue::S(key.to_string()))
            .item("origin", AttributeValue::S(origin.to_string()))
            .item("process", AttributeValue::S(self.process.clone()))
            .item("record", AttributeValue::S(body))
            // Sent twice after a lost answer: the same item, not two.
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await
            .map(|_| ())
            .or_else(|e| {
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    Ok(())
                } else {
                    Err(self.error("dynamodb:PutItem", e))
                }
            })
    }

    /// The team journal's records after the key `after` (all with ""),
    /// oldest first, at most `limit` (the newest of them).
    pub async fn records_after(
        &self,
        after: &str,
        limit: usize,
    ) -> Result<Vec<TeamEntry>, SourceError> {
        let after = if after.is_empty() { "j#" } else { after };
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :p AND sk BETWEEN :a AND :z")
                .expression_attribute_values(":p", AttributeValue::S(self.identity.clone()))
                .expression_attribute_values(":a", AttributeValue::S(format!("{after}\u{1}")))
                .expression_attribute_values(":z", AttributeValue::S("j#\u{10ffff}".into()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| self.error("dynamodb:Query", e))?;
            for item in page.items() {
                let text = |name: &str| {
                    item.get(name)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                let Ok(record) = serde_json::from_str::<JournalRecord>(&text("record")) else {
                    continue;
                };
                out.push(TeamEntry {
                    key: text("sk"),
                    origin: text("origin"),
                    process: text("process"),
                    record,
                });
            }
            if out.len() > limit * 2 {
                out.drain(..out.len() - limit);
            }
            match page.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        if out.len() > limit {
            out.drain(..out.len() - limit);
        }
        Ok(out)
    }
}

#[async_trait]
impl Lease for Team {
    async fn acquire(&self, me: &LeaseHolder, take_over: bool) -> Result<LeaseGrant, SourceError> {
        let me = self.stamped(me);
        let now = self.clock.now();
        self.decide(|state, expires| {
            // A holder that stopped heart-beating has lost it — unless a
            // call it made may still land (a slow call is not a dead
            // holder: a rollback takes over and guards against it).
            let alive = |h: &LeaseHolder| {
                expires > now.timestamp()
                    || h.call_until
                        .as_deref()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .is_some_and(|t| t > now)
            };
            let result = acquire_with(state, &me, take_over, &alive);
            let result = result.map(|mut grant| {
                grant.expired = grant.abandoned.take();
                grant
            });
            let changed = result.is_ok();
            (result, changed)
        })
        .await
        .map_err(|e| self.in_seat_words(e))
    }

    async fn check(
        &self,
        me: &LeaseHolder,
        generation: u64,
        call_until: Option<crate::core::model::Time>,
    ) -> Result<(), SourceError> {
        // Every check is a heartbeat: the item is written (its expiry
        // moved) whenever the lease is still ours.
        self.decide(|state, _| {
            let result = check_in(state, me, generation, call_until);
            let changed = result.is_ok();
            (result, changed)
        })
        .await
        .map_err(|e| self.in_seat_words(e))
    }

    async fn release(&self, me: &LeaseHolder, generation: u64) {
        let _ = self
            .decide(|state, _| ((Ok(())), release_in(state, me, generation)))
            .await;
    }
}

/// The seat's holder id of a process (`LeaseHolder::change`).
pub fn seat_change(process: &str) -> String {
    format!("seat-{process}")
}

/// Sitting in the driver's seat: taken (over, with `take_over`), then
/// heart-beaten every third of its expiry until `leave`, or until someone
/// takes it over. What happens is told as `Msg::Seat`: `Ok(Some(who))`
/// when it was taken from a live or silent driver, `Err` when refused
/// (`Held`) or lost (`Preempted`).
pub struct Seat {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Seat {
    pub fn sit(
        team: &Team,
        me: LeaseHolder,
        take_over: bool,
        tx: tokio::sync::mpsc::UnboundedSender<crate::core::msg::Msg>,
    ) -> Seat {
        use crate::core::msg::Msg;
        let seat = team.driver_seat();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let grant = match seat.acquire(&me, take_over).await {
                Ok(grant) => grant,
                Err(e) => {
                    let _ = tx.send(Msg::Seat(Err(e)));
                    return;
                }
            };
            let from = grant.took_over.as_ref().or(grant.expired.as_ref());
            let _ = tx.send(Msg::Seat(Ok(from.map(LeaseHolder::describe))));
            let beat = seat.expiry / 3;
            loop {
                tokio::select! {
                    _ = &mut stopped => {
                        seat.release(&me, grant.generation).await;
                        return;
                    }
                    _ = tokio::time::sleep(beat) => {
                        match seat.check(&me, grant.generation, None).await {
                            Err(e) if e.kind == ErrorKind::Preempted => {
                                let _ = tx.send(Msg::Seat(Err(e)));
                                return;
                            }
                            // The table not answering: beat again; the
                            // others see the seat expire if it lasts.
                            _ => {}
                        }
                    }
                }
            }
        });
        Seat {
            stop: Some(stop),
            task,
        }
    }

    /// Get up: the seat is given back (if still ours), waiting at most a
    /// few seconds for the table.
    pub async fn leave(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
    }
}

/// Where the journal sends what it wrote, for the team journal; never
/// waits (the sync task queues).
#[derive(Clone)]
pub struct TeamSender(tokio::sync::mpsc::UnboundedSender<JournalRecord>);

impl TeamSender {
    pub fn offer(&self, record: &JournalRecord) {
        let _ = self.0.send(record.clone());
    }
}

/// How many team journal records a read brings at most (the pane keeps
/// fewer).
const READ_LIMIT: usize = 200;
/// How far back each read looks before the newest record seen.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(2);

/// The keys of the team journal already passed on (the newest few
/// thousand).
#[derive(Default)]
struct Seen {
    keys: std::collections::HashSet<String>,
    order: std::collections::VecDeque<String>,
}

impl Seen {
    /// True the first time a key is offered.
    fn first_time(&mut self, key: &str) -> bool {
        if !self.keys.insert(key.to_string()) {
            return false;
        }
        self.order.push_back(key.to_string());
        if self.order.len() > 10_000
            && let Some(old) = self.order.pop_front()
        {
            self.keys.remove(&old);
        }
        true
    }
}

/// The team sync: sends what this process journaled to the table (queued
/// while it cannot be reached, in order, nothing lost or doubled), reads
/// what the others wrote every `every`, and says when the table stops or
/// starts answering (`Msg::TeamState`). Ends when the sender is dropped and
/// the queue is sent (or `drain` gives up on it).
pub fn spawn_sync(
    team: Arc<Team>,
    origin: String,
    tx: tokio::sync::mpsc::UnboundedSender<crate::core::msg::Msg>,
    every: Duration,
    outbox: Option<std::path::PathBuf>,
) -> (TeamSender, tokio::task::JoinHandle<()>) {
    use crate::core::msg::Msg;
    let (sender, mut rx) = tokio::sync::mpsc::unbounded_channel::<JournalRecord>();
    let handle = tokio::spawn(async move {
        // What an earlier process could not send (the table was down when
        // it ended) goes first, under its own keys: sent twice, one item.
        let mut queue: std::collections::VecDeque<Outgoing> = match &outbox {
            Some(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || read_outbox(&path))
                    .await
                    .unwrap_or_default()
            }
            None => std::collections::VecDeque::new(),
        };
        let mut kept = !queue.is_empty();
        // Reads overlap: each starts `OVERLAP` before the newest record
        // seen, so a record that reaches the table late (a writer's queue
        // after an outage, a clock a little behind) is still read; keys
        // already seen are skipped. The first read goes back a day.
        let mut newest = team.clock.now() - chrono::Duration::days(1);
        let mut seen = Seen::default();
        let mut down: Option<String> = None;
        let seat = team.driver_seat();
        let mut driver: Option<Option<crate::core::model::LeaseHolder>> = None;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut open = true;
        while open || !queue.is_empty() {
            let read = tokio::select! {
                record = rx.recv(), if open => {
                    match record {
                        Some(r) => queue.push_back(Outgoing {
                            key: team.key_for(&r),
                            origin: origin.clone(),
                            record: r,
                        }),
                        None => open = false,
                    }
                    false
                }
                _ = tick.tick() => true,
            };
            let mut failed = None;
            while let Some(out) = queue.front() {
                match team.put_record(&out.origin, &out.key, &out.record).await {
                    Ok(()) => {
                        queue.pop_front();
                    }
                    Err(e) => {
                        failed = Some(e.to_string());
                        break;
                    }
                }
            }
            // Unsent records outlive this process in the outbox beside the
            // journal (the local journal has them anyway; the team's does
            // once a later process sends them).
            if let Some(path) = &outbox
                && (failed.is_some() || kept)
            {
                let (path, lines) = (path.clone(), outbox_lines(&queue));
                kept = !queue.is_empty();
                let _ = tokio::task::spawn_blocking(move || write_outbox(&path, &lines)).await;
            }
            if read && failed.is_none() {
                let from = (newest - OVERLAP).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                match team.records_after(&format!("j#{from}"), READ_LIMIT).await {
                    Ok(entries) => {
                        let fresh: Vec<TeamEntry> = entries
                            .into_iter()
                            .filter(|e| seen.first_time(&e.key))
                            .collect();
                        for e in &fresh {
                            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&e.record.time) {
                                newest = newest.max(t.with_timezone(&chrono::Utc));
                            }
                        }
                        if !fresh.is_empty() {
                            let _ = tx.send(Msg::TeamRecords(fresh));
                        }
                    }
                    Err(e) => failed = Some(e.to_string()),
                }
                // Who drives: told when it changes.
                if failed.is_none() {
                    match seat.holder().await {
                        Ok(now) if driver.as_ref() != Some(&now) => {
                            let _ = tx.send(Msg::TeamDriver(now.clone()));
                            driver = Some(now);
                        }
                        Ok(_) => {}
                        Err(e) => failed = Some(e.to_string()),
                    }
                }
            }
            if failed != down && (read || failed.is_some()) {
                let _ = tx.send(Msg::TeamState(failed.clone()));
                down = failed;
            }
            if !open && down.is_some() {
                // Leaving with the table down: wait for the next tick
                // (bounded by the caller's drain).
                tick.tick().await;
            }
        }
    });
    (TeamSender(sender), handle)
}

/// A record on its way to the team table.
#[derive(serde::Serialize, serde::Deserialize)]
struct Outgoing {
    key: String,
    origin: String,
    record: JournalRecord,
}

/// The outbox's lines for what is queued (empty: nothing left).
fn outbox_lines(queue: &std::collections::VecDeque<Outgoing>) -> String {
    queue
        .iter()
        .filter_map(|o| serde_json::to_string(o).ok())
        .map(|l| l + "\n")
        .collect()
}

/// Replace the outbox with `lines` (0600, never through a link); remove it
/// when there is nothing left.
fn write_outbox(path: &std::path::Path, lines: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if lines.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(lines.as_bytes())?;
    file.sync_data()
}

/// What an earlier process left in the outbox (lines that do not parse are
/// skipped).
fn read_outbox(path: &std::path::Path) -> std::collections::VecDeque<Outgoing> {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return std::collections::VecDeque::new();
    }
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// How often the team journal is read.
pub const READ_EVERY: Duration = Duration::from_secs(2);
/// How long leaving waits for queued records to reach the table.
const DRAIN: Duration = Duration::from_secs(10);

/// With `[team]`: the journal also feeds the team journal, through a sync
/// task that also reads the others' records. `via`: console, cli, drive.
pub fn attach(
    sources: &super::Sources,
    journal: crate::journal::Journal,
    via: &str,
    tx: tokio::sync::mpsc::UnboundedSender<crate::core::msg::Msg>,
) -> (crate::journal::Journal, Option<tokio::task::JoinHandle<()>>) {
    let Some(team) = &sources.team else {
        return (journal, None);
    };
    let origin = match via {
        "console" => format!("{}@{}", crate::app::operator(), team.host),
        via => format!("{}@{} ({via})", crate::app::operator(), team.host),
    };
    // Beside the journal, one per service identity.
    let outbox = journal.path().parent().map(|dir| {
        let id = super::lease::fnv(&team.identity);
        dir.join(format!("team-outbox-{id:016x}.jsonl"))
    });
    let (sender, handle) = spawn_sync(team.clone(), origin, tx, READ_EVERY, outbox);
    (journal.with_team(sender), Some(handle))
}

/// Wait (at most `DRAIN`) for the sync to send what is queued; say so on
/// stderr when it could not (the local journal has every record).
pub async fn drain(handle: Option<tokio::task::JoinHandle<()>>) {
    if let Some(handle) = handle
        && tokio::time::timeout(DRAIN, handle).await.is_err()
    {
        eprintln!(
            "flightdeck: the team table did not take the last records within {}s; the local journal has them",
            DRAIN.as_secs()
        );
    }
}
