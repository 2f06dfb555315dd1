//! Admission of connections on one listener: a bounded number of slots (and how long the
//! accept loop has waited for a free one, which the watchdog reads), and a cap on the
//! connections one client address may hold, so that a few clients cannot take every slot.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// What one listener admits.
pub struct Admission {
    pub slots: Slots,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    max_per_address: usize,
    /// Connections the accept loop took so far: the watchdog's evidence that it runs.
    accepted: AtomicU64,
}

/// One open connection's place: its slot and its count against its client address.
pub struct Pass {
    admission: Arc<Admission>,
    address: IpAddr,
    _slot: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(max_connections: usize, max_per_address: usize) -> Arc<Self> {
        Arc::new(Admission {
            slots: Slots::new(max_connections),
            per_address: Mutex::new(HashMap::new()),
            max_per_address,
            accepted: AtomicU64::new(0),
        })
    }

    /// Counts one accepted connection (admitted or not).
    pub fn note_accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Admits a connection from `peer` on `slot`, unless its address has all it may have.
    pub fn admit(self: &Arc<Self>, peer: IpAddr, slot: OwnedSemaphorePermit) -> Option<Pass> {
        let address = client_address(peer);
        let mut open = self.per_address.lock();
        let count = open.entry(address).or_insert(0);
        if *count >= self.max_per_address {
            return None;
        }
        *count += 1;
        Some(Pass {
            admission: self.clone(),
            address,
            _slot: slot,
        })
    }

    #[cfg(test)]
    fn open_from(&self, peer: IpAddr) -> usize {
        let open = self.per_address.lock();
        open.get(&client_address(peer)).copied().unwrap_or(0)
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        let mut open = self.admission.per_address.lock();
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// The address a client is counted under: IPv4 as is (an IPv4-mapped IPv6 address too),
/// IPv6 by its /64, the block one host or site gets; counting single IPv6 addresses would
/// let one client open connections from as many addresses as it likes.
fn client_address(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The connection slots (`server.max_connections`) of one listener.
pub struct Slots {
    semaphore: Arc<Semaphore>,
    capacity: usize,
    epoch: Instant,
    /// Milliseconds after `epoch` when the accept loop began to wait for a free slot, plus
    /// one; 0 while it is not waiting.
    waiting_since: AtomicU64,
}

impl Slots {
    fn new(capacity: usize) -> Self {
        Slots {
            semaphore: Arc::new(Semaphore::new(capacity)),
            capacity,
            epoch: Instant::now(),
            waiting_since: AtomicU64::new(0),
        }
    }

    /// A free slot, waiting for one (and recording since when) while all are taken.
    pub async fn acquire(&self) -> OwnedSemaphorePermit {
        if let Ok(slot) = self.semaphore.clone().try_acquire_owned() {
            return slot;
        }
        let since = self.epoch.elapsed().as_millis() as u64 + 1;
        self.waiting_since.store(since, Ordering::Relaxed);
        // Cleared however the wait ends, cancellation (shutdown) included.
        let _waiting = Waiting(&self.waiting_since);
        // Invariant: the semaphore is never closed.
        self.semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("connection semaphore open")
    }

    /// A free slot if there is one now.
    pub fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        self.semaphore.clone().try_acquire_owned().ok()
    }

    pub fn free(&self) -> usize {
        self.semaphore.available_permits()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How long the accept loop has waited for a free slot; `None` when it is not waiting.
    pub fn saturated_for(&self) -> Option<Duration> {
        let since = self.waiting_since.load(Ordering::Relaxed).checked_sub(1)?;
        let now = self.epoch.elapsed().as_millis() as u64;
        Some(Duration::from_millis(now.saturating_sub(since)))
    }
}

struct Waiting<'a>(&'a AtomicU64);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_connections_per_client_address() {
        let admission = Admission::new(10, 2);
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let pass = |peer| admission.admit(peer, admission.slots.try_acquire().unwrap());
        let first = pass(one).unwrap();
        let _second = pass(one).unwrap();
        assert!(pass(one).is_none(), "a third from one address");
        assert_eq!(
            admission.slots.free(),
            8,
            "a refused connection frees its slot"
        );
        let _elsewhere = pass(other).unwrap();
        drop(first);
        assert_eq!(admission.open_from(one), 1);
        assert!(pass(one).is_some(), "a closed connection makes room");
    }

    #[test]
    fn ipv6_clients_count_by_their_64_prefix() {
        let address = |text: &str| client_address(text.parse().unwrap());
        assert_eq!(address("2001:db8:1:2::1"), address("2001:db8:1:2:ffff::9"));
        assert_ne!(address("2001:db8:1:2::1"), address("2001:db8:1:3::1"));
        assert_eq!(address("::ffff:192.0.2.7"), address("192.0.2.7"));
    }

    #[tokio::test(start_paused = true)]
    async fn says_how_long_the_loop_has_waited_for_a_slot() {
        let admission = Admission::new(1, 1);
        let taken = admission.slots.acquire().await;
        assert_eq!(
            admission.slots.saturated_for(),
            None,
            "all taken, nobody waiting"
        );
        let waiter = {
            let admission = admission.clone();
            tokio::spawn(async move { admission.slots.acquire().await })
        };
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_secs(61)).await;
        let waited = admission.slots.saturated_for().unwrap();
        assert!(waited >= Duration::from_secs(61), "{waited:?}");
        drop(taken);
        let _slot = waiter.await.unwrap();
        assert_eq!(admission.slots.saturated_for(), None);
    }
}
