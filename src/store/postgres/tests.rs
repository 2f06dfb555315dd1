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

pub(super) async fn database() -> (Database, String) {
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
    let fence = lead(&database).await;
    (database, fence)
}

/// The fence of a new epoch on a migrated database, written as a leader taking the lease
/// would.
pub(super) async fn lead(database: &Database) -> super::Fence {
    super::Fence::take_unheld(database).await.unwrap()
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
