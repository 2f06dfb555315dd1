//! Counts per minute over the last hour, kept in memory (the console's chart of webhook events):
//! sixty slots, each stamped with the minute it counts, so a stale slot reads as zero.

use parking_lot::Mutex;

const MINUTES: usize = 60;

/// Two counts per minute (e.g. events stored and duplicates dropped) for the last hour.
#[derive(Debug)]
pub struct PerMinute {
    slots: Mutex<[Slot; MINUTES]>,
    /// When counting began (epoch ms): earlier minutes are unknown, not zero.
    since_ms: i64,
}

impl Default for PerMinute {
    fn default() -> Self {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as i64);
        PerMinute {
            slots: Mutex::new([Slot::default(); MINUTES]),
            since_ms: since,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Slot {
    minute: i64,
    counts: [u64; 2],
}

/// One minute of the series: its start and its two counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minute {
    pub start_ms: i64,
    pub counts: [u64; 2],
}

impl PerMinute {
    /// When counting began.
    pub fn since_ms(&self) -> i64 {
        self.since_ms
    }

    /// Adds `counts` to the minute holding `at_ms`.
    pub fn add(&self, at_ms: i64, counts: [u64; 2]) {
        let minute = at_ms.div_euclid(60_000);
        let mut slots = self.slots.lock();
        let slot = &mut slots[minute.rem_euclid(MINUTES as i64) as usize];
        if slot.minute != minute {
            *slot = Slot {
                minute,
                counts: [0, 0],
            };
        }
        slot.counts[0] += counts[0];
        slot.counts[1] += counts[1];
    }

    /// The sixty minutes up to and including the one holding `now_ms`, oldest first.
    pub fn last_hour(&self, now_ms: i64) -> Vec<Minute> {
        let now = now_ms.div_euclid(60_000);
        let slots = *self.slots.lock();
        (now - MINUTES as i64 + 1..=now)
            .map(|minute| {
                let slot = slots[minute.rem_euclid(MINUTES as i64) as usize];
                Minute {
                    start_ms: minute * 60_000,
                    counts: if slot.minute == minute {
                        slot.counts
                    } else {
                        [0, 0]
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_land_in_their_minute_and_age_out() {
        let series = PerMinute::default();
        let t = 1_800_000_000_000;
        series.add(t, [3, 1]);
        series.add(t + 10_000, [2, 0]);
        series.add(t - 60_000, [7, 0]);
        let hour = series.last_hour(t);
        assert_eq!(hour.len(), 60);
        assert_eq!(hour[59].counts, [5, 1]);
        assert_eq!(hour[58].counts, [7, 0]);
        assert_eq!(hour[59].start_ms, t.div_euclid(60_000) * 60_000);
        // An hour later the same slots hold nothing from before.
        let later = series.last_hour(t + 3_600_000);
        assert!(later.iter().all(|minute| minute.counts == [0, 0]));
        series.add(t + 3_600_000, [1, 0]);
        assert_eq!(series.last_hour(t + 3_600_000)[59].counts, [1, 0]);
    }
}
