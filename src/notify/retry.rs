//! When a failed notification is tried again, and when it is dead: pauses that double from
//! `retry_initial_ms` up to `retry_max_ms`, for `dead_after_secs` after it was queued (24 h).
//! The same pauses space the probes of a target that fails (see `delivery`).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub initial_ms: i64,
    pub max_ms: i64,
    pub dead_after_ms: i64,
}

impl Retry {
    pub fn from_config(notify: &crate::config::Notify) -> Retry {
        let ms = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        Retry {
            initial_ms: ms(notify.retry_initial_ms),
            max_ms: ms(notify.retry_max_ms),
            dead_after_ms: ms(notify.dead_after_secs.saturating_mul(1000)),
        }
    }

    /// The pause after the `failures`-th failure in a row (1 for the first).
    pub fn pause_ms(&self, failures: u32) -> i64 {
        let doublings = failures.saturating_sub(1).min(40);
        self.initial_ms
            .saturating_mul(1i64 << doublings)
            .min(self.max_ms)
    }

    pub fn pause(&self, failures: u32) -> Duration {
        Duration::from_millis(self.pause_ms(failures).max(0) as u64)
    }

    /// Whether a notification queued at `queued_at_ms` that failed at `now_ms` is dead.
    pub fn is_dead(&self, queued_at_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(queued_at_ms) >= self.dead_after_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: Retry = Retry {
        initial_ms: 1_000,
        max_ms: 600_000,
        dead_after_ms: 86_400_000,
    };

    #[test]
    fn pauses_grow_to_the_cap() {
        let pauses: Vec<i64> = (1..=12).map(|n| DEFAULT.pause_ms(n) / 1000).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(DEFAULT.pause_ms(0), 1_000);
        assert_eq!(DEFAULT.pause_ms(u32::MAX), 600_000);
    }

    /// With the defaults a notification failing throughout is tried about 150 times over
    /// 24 hours, then dead.
    #[test]
    fn a_notification_dies_after_24_hours_of_failures() {
        let (queued, mut now, mut attempts) = (0, 0, 0);
        loop {
            attempts += 1;
            if DEFAULT.is_dead(queued, now) {
                break;
            }
            now += DEFAULT.pause_ms(attempts);
        }
        assert!((86_400_000..86_400_000 + 600_000).contains(&now), "{now}");
        assert!((140..160).contains(&attempts), "{attempts}");
    }
}
