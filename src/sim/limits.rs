//! Rate limits and injected faults, decided before a request reaches its handler. HubSpot:
//! <https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines>,
//! <https://developers.hubspot.com/docs/api-reference/error-handling>.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::RateLimit;

/// A rolling window: at most `limit.max` admissions in any `limit.interval_ms`.
#[derive(Debug, Clone)]
pub struct Window {
    pub limit: RateLimit,
    hits: VecDeque<i64>,
}

impl Window {
    pub fn new(limit: RateLimit) -> Window {
        Window {
            limit,
            hits: VecDeque::new(),
        }
    }

    /// Admits one request at `now_ms`; `Some(remaining)` or `None` when the window is full.
    pub fn admit(&mut self, now_ms: i64) -> Option<u32> {
        while self
            .hits
            .front()
            .is_some_and(|&at| at + self.limit.interval_ms as i64 <= now_ms)
        {
            self.hits.pop_front();
        }
        if self.hits.len() >= self.limit.max as usize {
            return None;
        }
        self.hits.push_back(now_ms);
        Some(self.limit.max - self.hits.len() as u32)
    }

    /// Milliseconds until the window admits again (0 while it has room).
    pub fn wait_ms(&self, now_ms: i64) -> u64 {
        match self.hits.front() {
            Some(&oldest) if self.hits.len() >= self.limit.max as usize => {
                (oldest + self.limit.interval_ms as i64 - now_ms).max(0) as u64
            }
            _ => 0,
        }
    }
}

/// What happens to a request before its handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it; these rate-limit headers go on the response.
    Pass(Vec<(&'static str, String)>),
    /// 429 with this `policyName`.
    Limited {
        policy: &'static str,
        headers: Vec<(&'static str, String)>,
    },
    /// A 5xx with this status.
    Fault(u16),
}

pub struct Limits {
    pub general: Option<Window>,
    pub search: Option<Window>,
    pub daily_limit: Option<u64>,
    daily_used: u64,
    pub fault_rate: f64,
    pub latency_ms: u64,
    pub forced_429: u32,
    pub outage_until_ms: i64,
    /// The next this many writes are applied, then answered only after `stall_ms` (a
    /// response lost to a client timeout: the write happened, the caller cannot know).
    pub stalled_writes: u32,
    pub stall_ms: u64,
    rng: StdRng,
}

impl Limits {
    pub fn new(config: &super::SimConfig) -> Limits {
        Limits {
            general: config.rate_limit.map(Window::new),
            search: config.search_rate_limit.map(Window::new),
            daily_limit: config.daily_limit,
            daily_used: 0,
            fault_rate: config.fault_rate,
            latency_ms: config.latency_ms,
            forced_429: 0,
            outage_until_ms: 0,
            stalled_writes: 0,
            stall_ms: 0,
            rng: StdRng::seed_from_u64(config.seed ^ 0x5eed),
        }
    }

    /// Decides one API call. Search has its own bucket and no rate-limit headers;
    /// daily headers appear only for private-app tokens.
    /// HubSpot: <https://developers.hubspot.com/docs/developer-tooling/platform/usage-guidelines>
    pub fn admit(&mut self, search: bool, private_app: bool, now_ms: i64) -> Verdict {
        let ten_secondly = if search {
            "SECONDLY"
        } else {
            "TEN_SECONDLY_ROLLING"
        };
        if now_ms < self.outage_until_ms {
            return Verdict::Fault(503);
        }
        if self.forced_429 > 0 {
            self.forced_429 -= 1;
            return Verdict::Limited {
                policy: ten_secondly,
                headers: self.headers(search, private_app, 0),
            };
        }
        if self.fault_rate > 0.0 && self.rng.gen_bool(self.fault_rate.min(1.0)) {
            return Verdict::Fault([502, 503, 504][self.rng.gen_range(0..3)]);
        }
        if self
            .daily_limit
            .is_some_and(|limit| self.daily_used >= limit)
        {
            return Verdict::Limited {
                policy: "DAILY",
                headers: self.headers(search, private_app, 0),
            };
        }
        let window = if search {
            self.search.as_mut()
        } else {
            self.general.as_mut()
        };
        let remaining = match window.map(|window| window.admit(now_ms)) {
            Some(None) => {
                return Verdict::Limited {
                    policy: ten_secondly,
                    headers: self.headers(search, private_app, 0),
                }
            }
            Some(Some(remaining)) => remaining,
            None => u32::MAX,
        };
        self.daily_used += 1;
        Verdict::Pass(self.headers(search, private_app, remaining))
    }

    /// Whether an applied write's answer is held back (and for how long): counts one of the
    /// stalled writes.
    pub fn stall_write(&mut self) -> Option<u64> {
        if self.stalled_writes == 0 {
            return None;
        }
        self.stalled_writes -= 1;
        Some(self.stall_ms)
    }

    fn headers(
        &self,
        search: bool,
        private_app: bool,
        remaining: u32,
    ) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if search {
            return headers;
        }
        if let Some(window) = &self.general {
            headers.push(("x-hubspot-ratelimit-max", window.limit.max.to_string()));
            headers.push((
                "x-hubspot-ratelimit-remaining",
                remaining.min(window.limit.max).to_string(),
            ));
            headers.push((
                "x-hubspot-ratelimit-interval-milliseconds",
                window.limit.interval_ms.to_string(),
            ));
        }
        if private_app {
            let daily = self.daily_limit.unwrap_or(1_000_000);
            headers.push(("x-hubspot-ratelimit-daily", daily.to_string()));
            headers.push((
                "x-hubspot-ratelimit-daily-remaining",
                daily.saturating_sub(self.daily_used).to_string(),
            ));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimConfig;

    #[test]
    fn rolling_window_admits_max_then_frees_slots_as_they_age() {
        let mut window = Window::new(RateLimit {
            max: 3,
            interval_ms: 1000,
        });
        assert_eq!(window.admit(0), Some(2));
        assert_eq!(window.admit(100), Some(1));
        assert_eq!(window.admit(200), Some(0));
        assert_eq!(window.admit(999), None);
        assert_eq!(window.admit(1000), Some(0));
        assert_eq!(window.admit(1050), None);
        assert_eq!(window.admit(1200), Some(1));
        assert_eq!(window.admit(1300), Some(0));
        assert_eq!(window.wait_ms(1300), 700, "the hit at 1000 frees first");
    }

    #[test]
    fn search_limit_is_separate_and_headerless() {
        let config = SimConfig {
            rate_limit: Some(RateLimit {
                max: 2,
                interval_ms: 10_000,
            }),
            search_rate_limit: Some(RateLimit {
                max: 1,
                interval_ms: 1000,
            }),
            ..SimConfig::default()
        };
        let mut limits = Limits::new(&config);
        assert_eq!(limits.admit(true, true, 0), Verdict::Pass(vec![]));
        assert!(matches!(
            limits.admit(true, true, 10),
            Verdict::Limited {
                policy: "SECONDLY",
                ..
            }
        ));
        let Verdict::Pass(headers) = limits.admit(false, true, 20) else {
            panic!("general bucket is separate")
        };
        assert!(headers.contains(&("x-hubspot-ratelimit-remaining", "1".to_string())));
        assert!(headers
            .iter()
            .any(|(name, _)| *name == "x-hubspot-ratelimit-daily"));
        let Verdict::Pass(headers) = limits.admit(false, false, 30) else {
            panic!("second of two")
        };
        assert!(
            !headers
                .iter()
                .any(|(name, _)| *name == "x-hubspot-ratelimit-daily"),
            "no daily headers for OAuth"
        );
        assert!(matches!(
            limits.admit(false, true, 40),
            Verdict::Limited {
                policy: "TEN_SECONDLY_ROLLING",
                ..
            }
        ));
    }

    #[test]
    fn forced_429s_outages_and_daily_limit() {
        let config = SimConfig {
            daily_limit: Some(2),
            rate_limit: None,
            ..SimConfig::default()
        };
        let mut limits = Limits::new(&config);
        limits.forced_429 = 1;
        assert!(matches!(
            limits.admit(false, true, 0),
            Verdict::Limited { .. }
        ));
        limits.outage_until_ms = 100;
        assert_eq!(limits.admit(false, true, 50), Verdict::Fault(503));
        assert!(matches!(limits.admit(false, true, 100), Verdict::Pass(_)));
        assert!(matches!(limits.admit(false, true, 100), Verdict::Pass(_)));
        assert!(matches!(
            limits.admit(false, true, 100),
            Verdict::Limited {
                policy: "DAILY",
                ..
            }
        ));
    }
}
