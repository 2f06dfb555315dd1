//! The schema and the lease against a real PostgreSQL server (`kit::postgres`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::lease::{Candidate, Role, HEARTBEAT, HEARTBEAT_TIMEOUT, POLL};
use super::{Database, Error, Migrated, SCHEMA_VERSION};
use crate::kit::postgres::Cluster;

async fn database() -> (Database, String) {
    let url = Cluster::shared().fresh_database().await.unwrap();
    (Database::new(&url, 4, None).unwrap(), url)
}

/// Writes a newer epoch, as a new leader taking the lease would: the current one is fenced.
pub(super) async fn depose(database: &Database) {
    database
        .client()
        .await
        .unwrap()
        .batch_execute("UPDATE leadership SET epoch = epoch + 1")
        .await
        .unwrap();
}

/// A migrated database and the fence of a leader's epoch on it (the lease row written as
/// a leader would, without a lease task).
pub(super) async fn leading_database() -> (Database, super::Fence) {
    let (database, _) = database().await;
    database.migrate().await.unwrap();
    let epoch: i64 = database
        .client()
        .await
        .unwrap()
        .query_one(
            "UPDATE leadership SET epoch = epoch + 1 RETURNING epoch",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    (database, super::Fence::taken(epoch))
}

/// A running candidate: its role, and the token that stops it.
struct Running {
    role: watch::Receiver<Role>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn campaign(database: Database, name: &str) -> Running {
    let (role, watching) = watch::channel(Role::Following);
    let stop = CancellationToken::new();
    let candidate = Candidate::new(database, name);
    let task = tokio::spawn(candidate.run(role, stop.clone()));
    Running {
        role: watching,
        stop,
        task,
    }
}

/// Waits until `running` is in a role `wanted` accepts; `None` after `within`.
async fn until(running: &mut Running, within: Duration, wanted: fn(Role) -> bool) -> Option<Role> {
    let waited = tokio::time::timeout(within, running.role.wait_for(|role| wanted(*role))).await;
    waited.ok().map(|role| *role.unwrap())
}

fn leading(role: Role) -> bool {
    matches!(role, Role::Leading { .. })
}

fn following(role: Role) -> bool {
    role == Role::Following
}

async fn execute(database: &Database, sql: &str) {
    database
        .client()
        .await
        .unwrap()
        .batch_execute(sql)
        .await
        .unwrap();
}

#[tokio::test]
async fn migrate_creates_the_schema_once_and_refuses_a_newer_one() {
    let (database, _) = database().await;
    assert_eq!(database.schema_version().await.unwrap(), 0);
    let first = database.migrate().await.unwrap();
    assert_eq!(
        first,
        Migrated {
            from: 0,
            to: SCHEMA_VERSION
        }
    );
    let again = database.migrate().await.unwrap();
    assert_eq!(
        again,
        Migrated {
            from: SCHEMA_VERSION,
            to: SCHEMA_VERSION
        }
    );
    execute(&database, "SELECT epoch FROM leadership").await;

    let newer = SCHEMA_VERSION + 1;
    execute(
        &database,
        &format!("UPDATE gateway_schema SET version = {newer}"),
    )
    .await;
    match database.migrate().await {
        Err(Error::TooNew { found }) => assert_eq!(found, newer),
        other => panic!("a newer schema was not refused: {other:?}"),
    }
}

#[tokio::test]
async fn migrations_started_at_once_apply_once() {
    let (database, _) = database().await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let database = database.clone();
            tokio::spawn(async move { database.migrate().await.unwrap() })
        })
        .collect();
    let mut from_zero = 0;
    for run in runs {
        let migrated = run.await.unwrap();
        assert_eq!(migrated.to, SCHEMA_VERSION);
        from_zero += usize::from(migrated.from == 0);
    }
    assert_eq!(from_zero, 1, "exactly one start creates the schema");
}

#[tokio::test]
async fn one_candidate_leads_and_another_takes_over_when_it_stops() {
    let (database, _) = database().await;
    database.migrate().await.unwrap();
    let mut candidates: Vec<Running> = ["a", "b", "c"]
        .into_iter()
        .map(|name| campaign(database.clone(), name))
        .collect();
    tokio::time::sleep(POLL * 3).await;
    let leaders: Vec<usize> = (0..3)
        .filter(|&index| leading(*candidates[index].role.borrow()))
        .collect();
    assert_eq!(leaders.len(), 1, "exactly one of three leads");
    let Role::Leading { epoch: first } = *candidates[leaders[0]].role.borrow() else {
        unreachable!()
    };

    let leader = candidates.remove(leaders[0]);
    leader.stop.cancel();
    leader.task.await.unwrap();
    let stopped = Instant::now();
    let mut next = None;
    while stopped.elapsed() < POLL * 3 && next.is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        next = candidates.iter().find_map(|c| c.role.borrow().fence());
    }
    let next = next.expect("another candidate leads within three polls");
    assert!(next.epoch() > first, "a new leader writes a newer epoch");
    let leaders = candidates
        .iter()
        .filter(|c| leading(*c.role.borrow()))
        .count();
    assert_eq!(leaders, 1);
}

#[tokio::test]
async fn a_leader_whose_session_ends_stops_leading_and_its_old_epoch_is_fenced() {
    let (database, _) = database().await;
    database.migrate().await.unwrap();
    let mut first = campaign(database.clone(), "first");
    let old = until(&mut first, POLL * 3, leading)
        .await
        .expect("leads")
        .fence()
        .unwrap();
    let mut second = campaign(database.clone(), "second");

    // The server ends the leader's session (as an administrator, or a failover, would).
    execute(
        &database,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'hubspot-gateway lease' AND pid IN \
         (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)",
    )
    .await;
    until(&mut first, HEARTBEAT + HEARTBEAT_TIMEOUT, following)
        .await
        .expect("the old leader stops leading");
    let mut new = None;
    for candidate in [&mut first, &mut second] {
        if let Some(role) = until(candidate, POLL * 3, leading).await {
            new = role.fence();
            break;
        }
    }
    let new = new.expect("someone leads again");
    assert!(new.epoch() > old.epoch());

    let mut client = database.client().await.unwrap();
    let transaction = client.transaction().await.unwrap();
    match old.check(&transaction).await {
        Err(Error::Fenced { held, current }) => {
            assert_eq!((held, current), (old.epoch(), new.epoch()));
        }
        other => panic!("the old epoch passed the fence: {other:?}"),
    }
    drop(transaction);
    let transaction = client.transaction().await.unwrap();
    new.check(&transaction).await.unwrap();
}

#[tokio::test]
async fn a_fenced_write_waits_for_nothing_but_holds_off_a_new_epoch() {
    let (database, _) = database().await;
    database.migrate().await.unwrap();
    let mut leader = campaign(database.clone(), "leader");
    let fence = until(&mut leader, POLL * 3, leading)
        .await
        .unwrap()
        .fence()
        .unwrap();
    let mut client = database.client().await.unwrap();
    let transaction = client.transaction().await.unwrap();
    fence.check(&transaction).await.unwrap();
    // While the fenced transaction is open, a takeover's epoch write waits for it.
    let writer = database.clone();
    let takeover = tokio::spawn(async move { depose(&writer).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !takeover.is_finished(),
        "the epoch moved under a fenced write"
    );
    transaction.commit().await.unwrap();
    takeover.await.unwrap();
    let transaction = client.transaction().await.unwrap();
    assert!(matches!(
        fence.check(&transaction).await,
        Err(Error::Fenced { .. })
    ));
}

#[tokio::test]
async fn a_build_older_than_the_schema_does_not_lead() {
    let (database, _) = database().await;
    database.migrate().await.unwrap();
    let newer = SCHEMA_VERSION + 1;
    execute(
        &database,
        &format!("UPDATE gateway_schema SET version = {newer}"),
    )
    .await;
    let mut old_build = campaign(database.clone(), "old");
    assert_eq!(until(&mut old_build, POLL * 3, leading).await, None);
    execute(
        &database,
        &format!("UPDATE gateway_schema SET version = {SCHEMA_VERSION}"),
    )
    .await;
    until(&mut old_build, POLL * 3, leading)
        .await
        .expect("leads once the schema is its own");
}

#[tokio::test]
async fn a_leader_stops_leading_once_a_newer_build_migrated() {
    let (database, _) = database().await;
    database.migrate().await.unwrap();
    let mut old_build = campaign(database.clone(), "old");
    until(&mut old_build, POLL * 3, leading)
        .await
        .expect("leads");
    let newer = SCHEMA_VERSION + 1;
    execute(
        &database,
        &format!("UPDATE gateway_schema SET version = {newer}"),
    )
    .await;
    until(&mut old_build, HEARTBEAT * 3, following)
        .await
        .expect("stops leading within a few heartbeats");
    assert_eq!(until(&mut old_build, POLL * 3, leading).await, None);
}

/// A TCP proxy that can stop forwarding without closing anything: to either end, the
/// network between them has gone silent.
struct Partition {
    port: u16,
    cut: Arc<AtomicBool>,
}

impl Partition {
    async fn to(upstream: u16) -> Partition {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let cutting = cut.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(forward(client_read, server_write, cutting.clone()));
                tokio::spawn(forward(server_read, client_write, cutting.clone()));
            }
        });
        Partition { port, cut }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buffer = vec![0; 16 << 10];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if cut.load(Ordering::SeqCst) {
            // Hold both sockets open and forward nothing, ever.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_leader_cut_off_from_the_database_stops_before_another_starts() {
    let (database, url) = database().await;
    database.migrate().await.unwrap();
    let port: u16 = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap();
    let partition = Partition::to(port).await;
    let through = url.replace(&format!(":{port}/"), &format!(":{}/", partition.port));
    let cut_off_database = Database::new(&through, 2, None).unwrap();
    let mut cut_off = campaign(cut_off_database.clone(), "cut-off");
    let fence = until(&mut cut_off, POLL * 3, leading)
        .await
        .expect("leads")
        .fence()
        .unwrap();
    let mut other = campaign(database.clone(), "other");
    tokio::time::sleep(POLL * 2).await;
    assert!(following(*other.role.borrow()));

    // Cut in the middle of a fenced write: its transaction holds the lease row.
    let mut writer = cut_off_database.client().await.unwrap();
    let open = writer.transaction().await.unwrap();
    fence.check(&open).await.unwrap();
    partition.cut();
    let cut = Instant::now();
    until(&mut cut_off, Duration::from_secs(15), following)
        .await
        .expect("the cut-off leader stops leading");
    let stopped = cut.elapsed();
    until(&mut other, Duration::from_secs(15), leading)
        .await
        .expect("the other takes over within 15 s");
    let took_over = cut.elapsed();
    assert!(
        stopped < took_over,
        "stopped {stopped:?} after the cut, the other led {took_over:?} after it"
    );
    assert!(stopped <= HEARTBEAT + HEARTBEAT_TIMEOUT + Duration::from_millis(500));
    assert!(took_over < Duration::from_secs(15));
    drop(open);
}

fn event(portal_id: i64, event_id: i64, raw: &str) -> crate::store::NewEvent<'_> {
    let mut digest = [0; 16];
    digest[..8].copy_from_slice(&event_id.to_le_bytes());
    crate::store::NewEvent {
        event_id,
        portal_id,
        digest,
        raw,
    }
}

fn outcome(stored: u32, duplicates: u32) -> crate::store::AppendOutcome {
    crate::store::AppendOutcome { stored, duplicates }
}

#[tokio::test]
async fn the_inbox_stores_each_event_once_whichever_replica_gets_it() {
    let (database, url) = database().await;
    database.migrate().await.unwrap();
    let first = super::Inbox::new(database.clone());
    let second = super::Inbox::new(Database::new(&url, 2, None).unwrap());
    let raw = r#"{"eventId":1}"#;

    let a = [event(7, 1, raw), event(7, 2, raw), event(7, 1, raw)];
    let b = [event(7, 2, raw), event(8, 1, raw)];
    let outcomes = first.append(1_000, &[&a, &b]).await.unwrap();
    // Event 1 twice in the first request; event 2 again in the second; portal 8's event 1 is
    // another event.
    assert_eq!(outcomes, [outcome(2, 1), outcome(1, 1)]);

    // A redelivery to the other replica.
    let redelivered = [event(7, 1, raw), event(7, 3, raw)];
    let outcomes = second.append(2_000, &[&redelivered]).await.unwrap();
    assert_eq!(outcomes, [outcome(1, 1)]);

    let stored = first.unapplied(100).await.unwrap();
    let keys: Vec<(i64, i64, i64)> = stored
        .iter()
        .map(|event| (event.portal_id, event.event_id, event.received_at_ms))
        .collect();
    assert_eq!(
        keys,
        [(7, 1, 1_000), (7, 2, 1_000), (8, 1, 1_000), (7, 3, 2_000)]
    );
    assert!(stored.iter().all(|event| event.raw == raw));
}

#[tokio::test]
async fn the_inbox_refuses_while_the_database_is_away_and_loses_nothing_it_acknowledged() {
    // A cluster of its own: this test stops it.
    let cluster = Cluster::start().unwrap();
    let url = cluster.fresh_database().await.unwrap();
    let database = Database::new(&url, 4, None).unwrap();
    database.migrate().await.unwrap();
    let inbox = super::Inbox::new(database);
    let raw = "{}";

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    let mut next_id = 0;
    let append = async |inbox: &super::Inbox, next_id: &mut i64| {
        *next_id += 1;
        let events = [event(1, *next_id, raw)];
        inbox.append(0, &[&events]).await.map(|_| *next_id)
    };
    for _ in 0..20 {
        acknowledged.push(append(&inbox, &mut next_id).await.unwrap());
    }
    cluster.pause().unwrap();
    for _ in 0..5 {
        match append(&inbox, &mut next_id).await {
            Ok(id) => panic!("event {id} acknowledged with the database stopped"),
            Err(Error::Unavailable(_)) => refused += 1,
            Err(other) => panic!("not an unavailable database: {other:?}"),
        }
    }
    cluster.resume().unwrap();
    // The same inbox recovers: the pool drops the broken connections and makes new ones.
    let resumed = Instant::now();
    loop {
        match append(&inbox, &mut next_id).await {
            Ok(id) => {
                acknowledged.push(id);
                break;
            }
            Err(error) if resumed.elapsed() < Duration::from_secs(10) => {
                tracing::debug!(%error, "not yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("no recovery within 10 s: {error}"),
        }
    }
    assert_eq!(refused, 5);
    let stored: Vec<i64> = inbox
        .unapplied(1_000)
        .await
        .unwrap()
        .iter()
        .map(|event| event.event_id)
        .collect();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged event {id} lost");
    }
}

#[tokio::test]
async fn a_journal_cursor_moves_with_its_events_and_only_behind_the_fence() {
    let (database, fence) = leading_database().await;
    let inbox = super::Inbox::new(database.clone());
    let events = [event(7, 1, "{}"), event(7, 2, "{}"), event(7, 1, "{}")];
    let moved = crate::store::CursorMove {
        portal_id: 7,
        position: b"offset-1".to_vec(),
    };
    let request = crate::store::Appending {
        events: &events,
        cursor: Some(&moved),
    };
    assert!(matches!(
        inbox.append_group(0, &[request], None, None).await,
        Err(Error::Refused(_))
    ));
    let outcomes = inbox
        .append_group(0, &[request], Some(fence), None)
        .await
        .unwrap();
    assert_eq!(outcomes, [outcome(2, 1)]);
    let cursor = inbox.journal_cursor(7).await.unwrap().unwrap();
    assert_eq!(
        (cursor.position.as_slice(), cursor.stored, cursor.duplicates),
        (&b"offset-1"[..], 2, 1)
    );

    // A deposed leader's journal read stores nothing and moves nothing.
    depose(&database).await;
    let later = [event(7, 3, "{}")];
    let stale = crate::store::CursorMove {
        portal_id: 7,
        position: b"offset-2".to_vec(),
    };
    let refused = inbox
        .append_group(
            0,
            &[crate::store::Appending {
                events: &later,
                cursor: Some(&stale),
            }],
            Some(fence),
            None,
        )
        .await;
    assert!(matches!(refused, Err(Error::Fenced { .. })), "{refused:?}");
    assert_eq!(inbox.unapplied(10).await.unwrap().len(), 2);
    assert_eq!(
        inbox.journal_cursor(7).await.unwrap().unwrap().position,
        b"offset-1"
    );
}

#[tokio::test]
async fn applied_events_are_pruned_and_erased_ones_stay_deduplicated() {
    let (database, fence) = leading_database().await;
    let inbox = super::Inbox::new(database);
    let old = [
        event(1, 1, r#"{"email":"ann@x.io"}"#),
        event(1, 2, r#"{"email":"bob@x.io"}"#),
    ];
    inbox.append(1_000, &[&old]).await.unwrap();
    let new = [event(1, 3, r#"{"email":"ann@x.io"}"#)];
    inbox.append(5_000, &[&new]).await.unwrap();
    assert_eq!(inbox.pending().await.unwrap(), 3);

    let first_two: Vec<i64> = inbox
        .unapplied(2)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    inbox.mark_applied(fence, &first_two).await.unwrap();
    assert_eq!(inbox.pending().await.unwrap(), 1);

    let erased = inbox
        .erase(fence, |raw| raw.contains("ann@x.io"))
        .await
        .unwrap();
    assert_eq!(erased, 2);
    assert!(
        inbox.by_event_id(1).await.unwrap().is_empty(),
        "an erased event is not shown"
    );
    assert_eq!(inbox.by_event_id(2).await.unwrap().len(), 1);
    let recent = inbox.recent(10).await.unwrap();
    assert!(recent.iter().all(|event| !event.raw.contains("ann@x.io")));
    let again = [event(1, 3, r#"{"email":"ann@x.io"}"#)];
    assert_eq!(
        inbox.append(6_000, &[&again]).await.unwrap(),
        [outcome(0, 1)]
    );

    // Only applied events older than the cutoff go; a redelivery of one is new again.
    assert_eq!(inbox.prune(fence, 5_000).await.unwrap(), 2);
    assert_eq!(inbox.recent(10).await.unwrap().len(), 1);
    assert_eq!(
        inbox.append(7_000, &[&old[..1]]).await.unwrap(),
        [outcome(1, 0)]
    );
}
