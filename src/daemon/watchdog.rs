//! The systemd watchdog: `WATCHDOG=1` every half `WatchdogSec`, but only while each listener
//! still accepts connections (probed with one of our own, or seen to wait for a free slot for
//! less than [`SATURATION_LIMIT`]) and the sync task has not panicked.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::admission::Admission;
use super::systemd;

/// How long the listener may find no free connection slot before the watchdog stops pinging.
/// Slow requests are cut after a header plus a body timeout and idle connections after the
/// header timeout, so a whole minute without any connection closing means clients hold
/// every slot on purpose or connections are stuck; systemd then restarts the daemon (its
/// socket keeps waiting clients queued).
pub const SATURATION_LIMIT: Duration = Duration::from_secs(60);

/// What the watchdog looks at.
#[derive(Clone)]
pub struct Probe {
    pub listeners: Vec<Watched>,
    /// Cleared when the sync task panicked.
    pub sync_healthy: Arc<AtomicBool>,
}

/// One listener: its address (an unspecified IP is probed on loopback) and its admission.
#[derive(Clone)]
pub struct Watched {
    pub addr: SocketAddr,
    pub admission: Arc<Admission>,
}

/// Why the daemon is not healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unhealthy {
    SyncPanicked,
    CannotConnect(SocketAddr),
    NotAccepting(SocketAddr),
    /// No slot came free for this long; `capacity` slots are all held.
    Saturated {
        addr: SocketAddr,
        capacity: usize,
        secs: u64,
    },
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unhealthy::SyncPanicked => f.write_str("the sync task panicked"),
            Unhealthy::CannotConnect(addr) => {
                write!(f, "cannot connect to our own listener {addr}")
            }
            Unhealthy::NotAccepting(addr) => {
                write!(f, "the listener {addr} did not accept a connection in time")
            }
            Unhealthy::Saturated {
                addr,
                capacity,
                secs,
            } => write!(
                f,
                "all {capacity} connection slots of {addr} held for {secs} s \
                 (server.max_connections, max_connections_per_ip)"
            ),
        }
    }
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
    let mut was_healthy = true;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => return,
        }
        match check(&probe, every / 2).await {
            Ok(()) => {
                systemd::notify_watchdog();
                if !was_healthy {
                    systemd::notify_status("healthy again");
                }
                was_healthy = true;
            }
            Err(problem) => {
                tracing::error!(%problem, "unhealthy; not pinging the systemd watchdog");
                systemd::notify_status(&format!("unhealthy: {problem}"));
                was_healthy = false;
            }
        }
    }
}

/// Whether the daemon is alive; the error says what is not.
pub async fn check(probe: &Probe, timeout: Duration) -> Result<(), Unhealthy> {
    if !probe.sync_healthy.load(Ordering::Acquire) {
        return Err(Unhealthy::SyncPanicked);
    }
    for watched in &probe.listeners {
        check_listener(watched, timeout).await?;
    }
    Ok(())
}

async fn check_listener(watched: &Watched, timeout: Duration) -> Result<(), Unhealthy> {
    let slots = &watched.admission.slots;
    if let Some(waited) = slots.saturated_for() {
        if waited >= SATURATION_LIMIT {
            return Err(Unhealthy::Saturated {
                addr: watched.addr,
                capacity: slots.capacity(),
                secs: waited.as_secs(),
            });
        }
    }
    if slots.free() == 0 {
        // The loop waits for a slot on purpose, and not for long yet.
        return Ok(());
    }
    let admission = &watched.admission;
    let before = admission.accepted();
    let target = loopback(watched.addr);
    let answered = tokio::time::timeout(timeout, async {
        let _stream = tokio::net::TcpStream::connect(target).await.ok()?;
        // Any accept counts: someone else's connection proves the loop runs as well.
        while admission.accepted() == before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Some(())
    })
    .await;
    match answered {
        Ok(Some(())) => Ok(()),
        Ok(None) => Err(Unhealthy::CannotConnect(watched.addr)),
        Err(_) => Err(Unhealthy::NotAccepting(watched.addr)),
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

    fn probe(addr: SocketAddr, admission: Arc<Admission>) -> Probe {
        Probe {
            listeners: vec![Watched { addr, admission }],
            sync_healthy: Arc::new(AtomicBool::new(true)),
        }
    }

    #[tokio::test]
    async fn alive_only_while_the_loop_accepts_and_sync_runs() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admission = Admission::new(4, 4);
        let probe = probe(addr, admission.clone());
        let timeout = Duration::from_millis(300);
        // Bound but nobody accepting: a hung loop.
        assert_eq!(
            check(&probe, timeout).await,
            Err(Unhealthy::NotAccepting(addr))
        );

        let accepting = tokio::spawn(async move {
            loop {
                let _connection = listener.accept().await;
                admission.note_accepted();
            }
        });
        assert_eq!(check(&probe, Duration::from_secs(5)).await, Ok(()));
        let mut unspecified = probe.clone();
        unspecified.listeners[0].addr = (Ipv4Addr::UNSPECIFIED, addr.port()).into();
        assert_eq!(check(&unspecified, Duration::from_secs(5)).await, Ok(()));

        probe.sync_healthy.store(false, Ordering::Release);
        assert_eq!(check(&probe, timeout).await, Err(Unhealthy::SyncPanicked));
        accepting.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn all_slots_taken_is_healthy_for_a_while_only() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admission = Admission::new(2, 2);
        let probe = probe(addr, admission.clone());
        let held = [
            admission.slots.acquire().await,
            admission.slots.acquire().await,
        ];
        // The accept loop now waits for a slot, as `listener::serve` does.
        let waiting = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.slots.acquire().await })
        };
        tokio::task::yield_now().await;
        let timeout = Duration::from_millis(100);
        assert_eq!(check(&probe, timeout).await, Ok(()));
        tokio::time::advance(SATURATION_LIMIT - Duration::from_secs(1)).await;
        assert_eq!(check(&probe, timeout).await, Ok(()));
        tokio::time::advance(Duration::from_secs(1)).await;
        let verdict = check(&probe, timeout).await;
        assert!(
            matches!(
                verdict,
                Err(Unhealthy::Saturated {
                    capacity: 2,
                    secs: 60,
                    ..
                })
            ),
            "{verdict:?}"
        );
        // One slot comes free: the loop takes it and is healthy again.
        drop(held);
        let _slot = waiting.await.unwrap();
        assert_eq!(admission.slots.saturated_for(), None);
        drop(listener);
    }
}
