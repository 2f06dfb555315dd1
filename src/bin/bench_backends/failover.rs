//! `bench-backends failover [--kills N] [--replicas N]`: N replicas (this binary as
//! `bench-backends candidate URL NAME`, one process each) campaign for the lease on a
//! throw-away cluster; the leader is killed with SIGKILL N times (and started again, so the
//! count stays), and each time the interval from the kill to another replica's first
//! `leading` line is measured. Prints p50, p99 and max over the kills as JSON.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::store::postgres::{Candidate, Database, Role};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::argument;

/// `bench-backends candidate URL NAME`: campaigns until killed or its stdin closes (the
/// benchmark ended); prints `leading EPOCH` and `following` as its role changes.
pub async fn candidate() -> anyhow::Result<()> {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let arguments: Vec<String> = std::env::args().collect();
    let (Some(url), Some(name)) = (arguments.get(2), arguments.get(3)) else {
        anyhow::bail!("usage: bench-backends candidate URL NAME");
    };
    let (role, mut watching) = watch::channel(Role::Following);
    let candidate = Candidate::new(Database::new(url, 1, None)?, name.clone());
    tokio::spawn(candidate.run(role, CancellationToken::new()));
    loop {
        watching.changed().await?;
        let now = *watching.borrow_and_update();
        match now {
            Role::Leading { epoch } => println!("leading {epoch}"),
            Role::Following => println!("following"),
        }
    }
}

/// A replica process and the lines it prints, as they come.
struct Replica {
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
}

fn start(url: &str, name: &str) -> anyhow::Result<Replica> {
    let mut child = Command::new(std::env::current_exe()?)
        .args(["candidate", url, name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    });
    Ok(Replica { child, lines })
}

/// Waits for a `leading` line from any of `replicas`; its index and when it came.
fn next_leader(replicas: &mut [Replica], within: Duration) -> anyhow::Result<(usize, Instant)> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        for (index, replica) in replicas.iter_mut().enumerate() {
            while let Ok((at, line)) = replica.lines.try_recv() {
                if line.starts_with("leading") {
                    return Ok((index, at));
                }
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    anyhow::bail!("no replica led within {within:?}")
}

pub async fn run() -> anyhow::Result<()> {
    let kills = argument("--kills", 20)?;
    let count = usize::try_from(argument("--replicas", 2)?)?;
    let cluster = Cluster::start()?;
    let url = cluster.fresh_database().await?;
    Database::new(&url, 1, None)?.migrate().await?;
    let measured = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<f64>> {
        let mut replicas: Vec<Replica> = (0..count)
            .map(|n| start(&url, &format!("replica-{n}")))
            .collect::<anyhow::Result<_>>()?;
        let (mut leader, _) = next_leader(&mut replicas, Duration::from_secs(15))?;
        let mut intervals = Vec::new();
        for kill in 1..=kills {
            // Kill at a random moment of the followers' polling interval, as a crash would.
            let settle = rand::Rng::gen_range(&mut rand::thread_rng(), 1_000..3_000);
            std::thread::sleep(Duration::from_millis(settle));
            let killed_at = Instant::now();
            replicas[leader].child.kill()?;
            replicas[leader].child.wait()?;
            let (next, led_at) = next_leader(&mut replicas, Duration::from_secs(30))?;
            let seconds = (led_at - killed_at).as_secs_f64();
            println!(
                "kill {kill}: replica-{leader} killed, replica-{next} led {seconds:.3} s later"
            );
            intervals.push(seconds);
            replicas[leader] = start(&url, &format!("replica-{leader}"))?;
            leader = next;
        }
        for replica in &mut replicas {
            let _ = replica.child.kill();
            let _ = replica.child.wait();
        }
        Ok(intervals)
    })
    .await??;
    let mut sorted = measured.clone();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{}",
        serde_json::json!({
            "kills": kills,
            "replicas": count,
            "failover_p50_s": (at(0.5) * 1000.0).round() / 1000.0,
            "failover_p99_s": (at(0.99) * 1000.0).round() / 1000.0,
            "failover_max_s": (at(1.0) * 1000.0).round() / 1000.0,
        })
    );
    Ok(())
}
