//! The systemd watchdog: `WATCHDOG=1` every half `WatchdogSec`, but only while the listener
//! still accepts connections (probed with one of our own) and the sync task has not panicked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::systemd;

/// What the watchdog looks at.
#[derive(Clone)]
pub struct Probe {
    /// The listener's address (an unspecified IP is probed on loopback).
    pub addr: SocketAddr,
    /// Connections the accept loop took so far.
    pub accepted: Arc<AtomicU64>,
    /// The connection slots: all taken means the loop waits on purpose, not that it hangs.
    pub slots: Arc<Semaphore>,
    /// Cleared when the sync task panicked.
    pub sync_healthy: Arc<AtomicBool>,
}

/// Pings systemd until shutdown when `WATCHDOG_USEC` is set for this process; else returns.
pub async fn run(probe: Probe, shutdown: CancellationToken) {
    let Some(period) = systemd::watchdog_period() else {
        return;
    };
    let every = period / 2;
    tracing::info!(
        every_ms = every.as_millis() as u64,
        "systemd watchdog enabled"
    );
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        match check(&probe, every / 2).await {
            Ok(()) => systemd::notify_watchdog(),
            Err(problem) => tracing::error!(problem, "unhealthy; not pinging the systemd watchdog"),
        }
    }
}

/// Whether the daemon is alive; the error says what is not.
pub async fn check(probe: &Probe, timeout: Duration) -> Result<(), &'static str> {
    if !probe.sync_healthy.load(Ordering::Acquire) {
        return Err("the sync task panicked");
    }
    if probe.slots.available_permits() == 0 {
        return Ok(());
    }
    let before = probe.accepted.load(Ordering::Relaxed);
    let target = loopback(probe.addr);
    let answered = tokio::time::timeout(timeout, async {
        let _stream = tokio::net::TcpStream::connect(target).await.ok()?;
        // Any accept counts: someone else's connection proves the loop runs as well.
        while probe.accepted.load(Ordering::Relaxed) == before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Some(())
    })
    .await;
    match answered {
        Ok(Some(())) => Ok(()),
        Ok(None) => Err("cannot connect to our own listener"),
        Err(_) => Err("the listener did not accept a connection in time"),
    }
}

fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(addr: SocketAddr) -> Probe {
        Probe {
            addr,
            accepted: Arc::new(AtomicU64::new(0)),
            slots: Arc::new(Semaphore::new(4)),
            sync_healthy: Arc::new(AtomicBool::new(true)),
        }
    }

    #[tokio::test]
    async fn alive_only_while_the_loop_accepts_and_sync_runs() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let probe = probe(addr);
        let timeout = Duration::from_millis(300);
        // Bound but nobody accepting: a hung loop.
        assert!(check(&probe, timeout).await.is_err());

        let accepted = probe.accepted.clone();
        let accepting = tokio::spawn(async move {
            loop {
                let _connection = listener.accept().await;
                accepted.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert_eq!(check(&probe, Duration::from_secs(5)).await, Ok(()));
        let unspecified = Probe {
            addr: (Ipv4Addr::UNSPECIFIED, addr.port()).into(),
            ..probe.clone()
        };
        assert_eq!(check(&unspecified, Duration::from_secs(5)).await, Ok(()));

        probe.sync_healthy.store(false, Ordering::Release);
        assert_eq!(check(&probe, timeout).await, Err("the sync task panicked"));
        accepting.abort();
    }

    #[tokio::test]
    async fn all_slots_taken_is_not_a_hang() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let probe = probe(listener.local_addr().unwrap());
        let _taken = probe.slots.clone().acquire_many_owned(4).await.unwrap();
        assert_eq!(check(&probe, Duration::from_millis(100)).await, Ok(()));
    }
}
