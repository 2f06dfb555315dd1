//! Which source delivered each change first. With webhooks and the Webhooks Journal both on,
//! most changes arrive twice (the same change key, see `Event::change_key`): the inbox's
//! consumer applies the first arrival and drops the second while it remembers the first (the
//! last [`REMEMBERED`] changes, about 6 MB); a second arrival it no longer remembers (after a
//! restart, or hours later) is applied again, harmlessly. Counts per source feed the metrics.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::webhook::event::{Event, Source};

/// Change keys remembered: hours of changes at typical rates.
pub const REMEMBERED: usize = 1 << 17;

#[derive(Default)]
pub struct Arrivals {
    remembered: Mutex<Remembered>,
    /// Changes each source delivered first, and those it delivered again, by `Source::ALL`.
    first: [AtomicU64; 2],
    repeated: [AtomicU64; 2],
}

#[derive(Default)]
struct Remembered {
    keys: HashSet<[u8; 16]>,
    order: VecDeque<[u8; 16]>,
}

/// What [`Arrivals::sift`] decided for a window; [`Arrivals::settle`] records it once the
/// window's changes are written (a failed window is sifted again).
#[derive(Debug, Default)]
pub struct Sifted {
    /// Per event: apply it (a first arrival, or an event without a change key).
    pub keep: Vec<bool>,
    new_keys: Vec<[u8; 16]>,
    first: [u64; 2],
    repeated: [u64; 2],
}

impl Arrivals {
    /// Decides which of `events` (in arrival order) are first arrivals.
    pub fn sift(&self, events: &[Event]) -> Sifted {
        let remembered = self.remembered.lock();
        let mut sifted = Sifted::default();
        let mut window = HashSet::new();
        for event in events {
            let Some(key) = event.change_key() else {
                sifted.keep.push(true);
                continue;
            };
            let source = index(event.source());
            let first = !remembered.keys.contains(&key) && window.insert(key);
            if first {
                sifted.new_keys.push(key);
                sifted.first[source] += 1;
            } else {
                sifted.repeated[source] += 1;
            }
            sifted.keep.push(first);
        }
        sifted
    }

    /// Remembers the window's new changes and counts its arrivals.
    pub fn settle(&self, sifted: Sifted) {
        let mut remembered = self.remembered.lock();
        for key in sifted.new_keys {
            if remembered.keys.insert(key) {
                remembered.order.push_back(key);
            }
        }
        while remembered.order.len() > REMEMBERED {
            if let Some(old) = remembered.order.pop_front() {
                remembered.keys.remove(&old);
            }
        }
        for source in 0..2 {
            self.first[source].fetch_add(sifted.first[source], Ordering::Relaxed);
            self.repeated[source].fetch_add(sifted.repeated[source], Ordering::Relaxed);
        }
    }

    /// Changes `source` delivered first (applied from it).
    pub fn first(&self, source: Source) -> u64 {
        self.first[index(source)].load(Ordering::Relaxed)
    }

    /// Changes `source` delivered after another arrival of the same change (dropped).
    pub fn repeated(&self, source: Source) -> u64 {
        self.repeated[index(source)].load(Ordering::Relaxed)
    }
}

fn index(source: Source) -> usize {
    match source {
        Source::Webhook => 0,
        Source::Journal => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(value: &str, journal: bool) -> Event {
        let mut event = json!({"eventId": 1, "portalId": 9, "occurredAt": 1000,
            "subscriptionType": "contact.propertyChange", "objectId": 5,
            "propertyName": "email", "propertyValue": value});
        if journal {
            event["journalOffset"] = json!("file");
        }
        serde_json::from_value(event).unwrap()
    }

    #[test]
    fn the_second_arrival_is_dropped_and_counted() {
        let arrivals = Arrivals::default();
        let window = [change("a", false), change("a", true), change("b", true)];
        let sifted = arrivals.sift(&window);
        assert_eq!(sifted.keep, [true, false, true]);
        // Not settled (the window failed): the same window is sifted the same way again.
        let sifted = arrivals.sift(&window);
        arrivals.settle(sifted);
        assert_eq!(
            (
                arrivals.first(Source::Webhook),
                arrivals.first(Source::Journal)
            ),
            (1, 1)
        );
        assert_eq!(arrivals.repeated(Source::Journal), 1);
        let later = arrivals.sift(&[change("b", false)]);
        assert_eq!(later.keep, [false], "remembered from an earlier window");
        arrivals.settle(later);
        assert_eq!(arrivals.repeated(Source::Webhook), 1);
    }
}
