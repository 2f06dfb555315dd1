//! `bench-backends cluster [--databases N]`: a throw-away cluster for scripts (see the
//! binary's doc). Prints the URL of each of N fresh databases (default 1), one line each,
//! then waits until stdin is closed or SIGTERM/SIGINT comes; the cluster stops with it.

use std::io::Write as _;

use hubspot_gateway::kit::postgres::Cluster;
use tokio::signal::unix::{signal, SignalKind};

use super::argument;

pub async fn run() -> anyhow::Result<()> {
    let databases = argument("--databases", 1)?;
    let cluster = Cluster::start()?;
    let mut urls = Vec::new();
    for _ in 0..databases {
        urls.push(cluster.fresh_database().await?);
    }
    let mut stdout = std::io::stdout().lock();
    for url in urls {
        writeln!(stdout, "{url}")?;
    }
    stdout.flush()?;
    drop(stdout);
    // A thread of its own, not `spawn_blocking`: the runtime's end would wait for a read that
    // never returns.
    let (closed, stdin_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let (mut terminate, mut interrupt) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    );
    tokio::select! {
        _ = stdin_closed => {}
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    // Dropping the cluster stops the server and removes its directory.
    drop(cluster);
    Ok(())
}
