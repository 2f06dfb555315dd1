//! `bench-backends inbox`: the inbox's group commit on each backend (see the binary's doc).

use std::time::Duration;

use hubspot_gateway::kit::median;
use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::store::postgres::{Database, Fence, Inbox};
use hubspot_gateway::store::{NewEvent, Store};
use tokio::time::Instant;

use super::argument;

const EVENTS_PER_REQUEST: usize = 100;

/// A v3 contact property change as HubSpot sends it (about 300 bytes).
fn raw_event(event_id: i64) -> String {
    format!(
        r#"{{"eventId":{event_id},"subscriptionId":2446131,"portalId":62515,"appId":1160452,"occurredAt":1733385600000,"subscriptionType":"contact.propertyChange","attemptNumber":0,"objectId":{},"propertyName":"lifecyclestage","propertyValue":"customer","changeSource":"CRM_UI","sourceId":"userId:1234567"}}"#,
        event_id % 100_000 + 1
    )
}

/// Groups of requests with ids from `first` on: `(event_id, raw)` per event.
struct Load {
    group: usize,
    next: i64,
}

impl Load {
    fn next_group(&mut self) -> Vec<Vec<(i64, String)>> {
        (0..self.group)
            .map(|_| {
                (0..EVENTS_PER_REQUEST)
                    .map(|_| {
                        self.next += 1;
                        (self.next, raw_event(self.next))
                    })
                    .collect()
            })
            .collect()
    }
}

fn new_events(request: &[(i64, String)]) -> Vec<NewEvent<'_>> {
    request
        .iter()
        .map(|(event_id, raw)| {
            let mut digest = [0; 16];
            digest[..8].copy_from_slice(&event_id.to_le_bytes());
            NewEvent {
                event_id: *event_id,
                portal_id: 62515,
                digest,
                raw,
            }
        })
        .collect()
}

/// Events the leader's consumer reads per window (as `sync::webhooks` does).
const WINDOW: usize = 2_000;

/// Appends for `seconds`, then reads and marks applied what was stored, window by window, as
/// the leader's consumer does (without applying to a mirror): both rates in events/s.
fn sled_run(seconds: u64, group: usize) -> anyhow::Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let mut load = Load { group, next: 0 };
    let (start, mut events) = (Instant::now(), 0usize);
    while start.elapsed() < Duration::from_secs(seconds) {
        let requests = load.next_group();
        let new: Vec<Vec<NewEvent<'_>>> = requests.iter().map(|r| new_events(r)).collect();
        let slices: Vec<&[NewEvent<'_>]> = new.iter().map(Vec::as_slice).collect();
        let (outcomes, durable) = store.store_events(0, &slices)?;
        store.acknowledge(durable)?;
        events += outcomes.iter().map(|o| o.stored as usize).sum::<usize>();
    }
    let appended = events as f64 / start.elapsed().as_secs_f64();
    let (start, mut drained) = (Instant::now(), 0usize);
    loop {
        let window = store.inbox().window(WINDOW)?;
        if window.is_empty() {
            break;
        }
        store.inbox().mark_applied(&window)?;
        drained += window.read();
    }
    Ok((appended, drained as f64 / start.elapsed().as_secs_f64()))
}

/// Reads and marks applied everything stored at `url`, as the leader's consumer does (the
/// window drops redeliveries and records the rest for detecting them); events/s.
async fn postgres_drain(url: &str) -> anyhow::Result<f64> {
    let database = Database::new(url, 2, None)?;
    let fence = Fence::take_unheld(&database).await?;
    let inbox = Inbox::new(database);
    let (start, mut drained) = (Instant::now(), 0usize);
    loop {
        let window = inbox.window(WINDOW).await?;
        if window.is_empty() {
            break;
        }
        inbox.mark_applied(fence, "bench", &window).await?;
        drained += window.events_read();
    }
    Ok(drained as f64 / start.elapsed().as_secs_f64())
}

async fn postgres_run(
    url: &str,
    replicas: usize,
    seconds: u64,
    group: usize,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let committers: Vec<_> = (0..replicas)
        .map(|replica| {
            let inbox = Inbox::new(Database::new(url, 2, None)?);
            Ok(tokio::spawn(async move {
                // Each replica's ids apart from the others'.
                let first = i64::try_from(replica).expect("few") << 40;
                let mut load = Load { group, next: first };
                let mut events = 0usize;
                while start.elapsed() < Duration::from_secs(seconds) {
                    let requests = load.next_group();
                    let new: Vec<Vec<NewEvent<'_>>> =
                        requests.iter().map(|r| new_events(r)).collect();
                    let slices: Vec<&[NewEvent<'_>]> = new.iter().map(Vec::as_slice).collect();
                    let outcomes = inbox.append(0, &slices).await?;
                    events += outcomes.iter().map(|o| o.stored as usize).sum::<usize>();
                }
                anyhow::Ok(events)
            }))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut events = 0;
    for committer in committers {
        events += committer.await??;
    }
    Ok(events as f64 / start.elapsed().as_secs_f64())
}

pub async fn run() -> anyhow::Result<()> {
    let seconds = argument("--seconds", 10)?;
    let runs = argument("--runs", 3)?;
    let group = usize::try_from(argument("--group", 8)?)?;
    let cluster = Cluster::start()?;
    let (mut sled, mut one, mut two) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sled_drains, mut postgres_drains) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        // A fresh database and store each run, alternating the backends.
        let (rate, drain) = tokio::task::spawn_blocking(move || sled_run(seconds, group)).await??;
        println!("run {run}: sled {rate:.0} events/s, the leader's reading {drain:.0} events/s");
        sled.push(rate);
        sled_drains.push(drain);
        for (replicas, rates) in [(1, &mut one), (2, &mut two)] {
            let url = cluster.fresh_database().await?;
            Database::new(&url, 1, None)?.migrate().await?;
            let rate = postgres_run(&url, replicas, seconds, group).await?;
            println!("run {run}: postgres, {replicas} replica(s) {rate:.0} events/s");
            rates.push(rate);
            if replicas == 1 {
                let drain = postgres_drain(&url).await?;
                println!("run {run}: postgres, the leader's reading {drain:.0} events/s");
                postgres_drains.push(drain);
            }
        }
    }
    let (sled, one, two) = (median(&sled), median(&one), median(&two));
    let (sled_drain, postgres_drain) = (median(&sled_drains), median(&postgres_drains));
    println!(
        "{}",
        serde_json::json!({
            "group_requests": group,
            "events_per_request": EVENTS_PER_REQUEST,
            "seconds": seconds,
            "runs": runs,
            "sled_events_per_s": sled.round(),
            "postgres_one_replica_events_per_s": one.round(),
            "postgres_two_replicas_events_per_s": two.round(),
            "one_replica_vs_sled": (one / sled * 100.0).round() / 100.0,
            "two_replicas_vs_one": (two / one * 100.0).round() / 100.0,
            "sled_leader_reading_events_per_s": sled_drain.round(),
            "postgres_leader_reading_events_per_s": postgres_drain.round(),
        })
    );
    Ok(())
}
