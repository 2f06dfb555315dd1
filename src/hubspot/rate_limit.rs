//! Proactive pacing per portal: token buckets fed by HubSpot's rate-limit headers, 429 pauses.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::error::{Error, RateLimitPolicy};

/// Limits to assume before HubSpot's headers say otherwise.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Requests per `interval` until `X-HubSpot-RateLimit-Max` is seen (the lowest tier).
    pub initial_max: u32,
    pub initial_interval: Duration,
    /// CRM search has its own per-account budget and sends no headers.
    pub search_max: u32,
    pub search_interval: Duration,
    /// Share of each window left unused so that latency jitter rarely causes a 429.
    pub margin_fraction: f64,
    /// How long a ten-secondly 429 without `Retry-After` pauses the portal. `None` waits out
    /// the whole window, as HubSpot advises; tests that force 429s shorten it.
    pub rolling_429_pause: Option<Duration>,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            initial_max: 100,
            initial_interval: Duration::from_secs(10),
            search_max: 5,
            search_interval: Duration::from_secs(1),
            margin_fraction: 0.04,
            rolling_429_pause: None,
        }
    }
}

/// Which budget a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lane {
    General,
    Search,
}

/// What is left of the budget, for status and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub max: u32,
    pub interval_ms: u64,
    /// `X-HubSpot-RateLimit-Remaining` of the latest response that carried it.
    pub remaining: Option<u32>,
    pub daily_remaining: Option<u32>,
    /// Requests we may send right now without waiting.
    pub tokens_now: f64,
    /// Set while the portal's daily limit is exhausted.
    pub daily_limit_until: Option<SystemTime>,
}

/// A token bucket that never lets more than `max - margin` requests into any rolling window:
/// `burst + per_sec * interval` equals that usable share.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    burst: f64,
    per_sec: f64,
    tokens: f64,
    /// Refill time; in the future while the bucket is paused after a 429.
    updated: Instant,
    /// Bumped by every pause so reservations taken before it are redone.
    epoch: u64,
}

impl Bucket {
    pub(crate) fn for_window(
        max: u32,
        interval: Duration,
        margin_fraction: f64,
        now: Instant,
    ) -> Self {
        let mut bucket = Bucket {
            burst: 1.0,
            per_sec: 1.0,
            tokens: 0.0,
            updated: now,
            epoch: 0,
        };
        bucket.reshape(max, interval, margin_fraction);
        bucket.tokens = bucket.burst;
        bucket
    }

    fn reshape(&mut self, max: u32, interval: Duration, margin_fraction: f64) {
        let max = f64::from(max.max(1));
        let usable = (max - (max * margin_fraction).round()).max(1.0);
        // A small burst leaves most of the window to the steady rate, which is what a long
        // sync uses; concurrent callers are spread by the pacing instead.
        self.burst = (usable / 50.0).floor().clamp(1.0, 10.0);
        let seconds = interval.as_secs_f64().max(0.001);
        self.per_sec = ((usable - self.burst) / seconds).max(usable / seconds / 10.0);
        self.tokens = self.tokens.min(self.burst);
    }

    fn refill(&mut self, now: Instant) {
        if now > self.updated {
            let elapsed = (now - self.updated).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
            self.updated = now;
        }
    }

    /// Takes one request's token, going into debt if needed; returns how long to wait first.
    pub(crate) fn reserve(&mut self, now: Instant) -> (Duration, u64) {
        self.refill(now);
        self.tokens -= 1.0;
        let paused = self.updated.saturating_duration_since(now);
        let debt = Duration::from_secs_f64((-self.tokens).max(0.0) / self.per_sec);
        (paused + debt, self.epoch)
    }

    /// No request leaves before `until`; reservations already handed out must be redone.
    pub(crate) fn pause_until(&mut self, until: Instant, now: Instant) {
        self.refill(now);
        self.tokens = 0.0;
        self.updated = self.updated.max(until);
        self.epoch += 1;
    }

    /// HubSpot says only `remaining` are left in its window: never believe we have more.
    fn clamp(&mut self, remaining: f64, now: Instant) {
        self.refill(now);
        self.tokens = self.tokens.min(remaining);
    }
}

struct State {
    general: Bucket,
    search: Bucket,
    max: u32,
    interval: Duration,
    remaining: Option<u32>,
    daily_remaining: Option<u32>,
    daily_block: Option<(Instant, SystemTime)>,
}

/// One portal's pacing. Shared by every request the client sends to that portal.
pub struct RateLimiter {
    limits: RateLimits,
    state: Mutex<State>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        let now = Instant::now();
        let margin = limits.margin_fraction;
        let state = State {
            general: Bucket::for_window(limits.initial_max, limits.initial_interval, margin, now),
            // Search has no headers to correct us, so it keeps no margin but a burst of one.
            search: Bucket::for_window(limits.search_max, limits.search_interval, 0.0, now),
            max: limits.initial_max,
            interval: limits.initial_interval,
            remaining: None,
            daily_remaining: None,
            daily_block: None,
        };
        RateLimiter {
            limits,
            state: Mutex::new(state),
        }
    }

    /// Waits until a request may be sent on `lane`; fails at once while the daily limit holds.
    pub(crate) async fn acquire(&self, lane: Lane) -> Result<(), Error> {
        loop {
            let (wait, epoch) = {
                let mut state = self.state.lock();
                state.check_daily(Instant::now())?;
                state.bucket(lane).reserve(Instant::now())
            };
            if wait.is_zero() {
                return Ok(());
            }
            tokio::time::sleep(wait).await;
            let mut state = self.state.lock();
            state.check_daily(Instant::now())?;
            if state.bucket(lane).epoch == epoch {
                return Ok(());
            }
            // A 429 paused the lane while we slept: queue again behind the pause.
        }
    }

    /// Learns the window from `X-HubSpot-RateLimit-*` response headers.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let number =
            |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let max = number("x-hubspot-ratelimit-max");
        let interval = number("x-hubspot-ratelimit-interval-milliseconds");
        let remaining = number("x-hubspot-ratelimit-remaining");
        let daily_remaining = number("x-hubspot-ratelimit-daily-remaining");
        let now = Instant::now();
        let mut guard = self.state.lock();
        let state = &mut *guard;
        if let Some(daily) = daily_remaining {
            state.daily_remaining = Some(clamp_u32(daily));
        }
        if let Some(max) = max.filter(|m| *m > 0) {
            let interval = interval
                .map(Duration::from_millis)
                .unwrap_or(state.interval);
            if clamp_u32(max) != state.max || interval != state.interval {
                state.max = clamp_u32(max);
                state.interval = interval;
                let margin = self.limits.margin_fraction;
                state.general.refill(now);
                state.general.reshape(state.max, interval, margin);
                tracing::debug!(
                    max,
                    interval_ms = interval.as_millis() as u64,
                    "HubSpot rate limit learned"
                );
            }
        }
        if let Some(remaining) = remaining {
            state.remaining = Some(clamp_u32(remaining));
            let margin = (f64::from(state.max) * self.limits.margin_fraction).round();
            state.general.clamp(remaining as f64 - margin, now);
        }
    }

    /// Reacts to a 429 on `lane`: waits out the window, or stops the portal for a daily limit.
    pub(crate) fn on_rate_limited(
        &self,
        lane: Lane,
        policy: RateLimitPolicy,
        retry_after: Option<Duration>,
    ) {
        let now = Instant::now();
        let mut state = self.state.lock();
        match policy {
            RateLimitPolicy::Daily => {
                let wall_now = SystemTime::now();
                let wait = retry_after.unwrap_or_else(|| until_next_utc_midnight(wall_now));
                tracing::error!(
                    wait_secs = wait.as_secs(),
                    "HubSpot DAILY API limit reached: all calls to this portal stop until the limit resets"
                );
                state.daily_block = Some((now + wait, wall_now + wait));
            }
            RateLimitPolicy::Secondly => {
                let wait = retry_after.unwrap_or_default().max(Duration::from_secs(1));
                state.bucket(lane).pause_until(now + wait, now);
            }
            RateLimitPolicy::TenSecondlyRolling | RateLimitPolicy::Unknown => {
                let window = match lane {
                    Lane::General => state.interval,
                    Lane::Search => self.limits.search_interval,
                };
                let wait = retry_after.unwrap_or(self.limits.rolling_429_pause.unwrap_or(window));
                state.bucket(lane).pause_until(now + wait, now);
            }
        }
    }

    pub fn budget(&self) -> Budget {
        let now = Instant::now();
        let mut state = self.state.lock();
        state.general.refill(now);
        Budget {
            max: state.max,
            interval_ms: state.interval.as_millis() as u64,
            remaining: state.remaining,
            daily_remaining: state.daily_remaining,
            tokens_now: state.general.tokens.max(0.0),
            daily_limit_until: state
                .daily_block
                .filter(|(at, _)| *at > now)
                .map(|(_, wall)| wall),
        }
    }
}

impl State {
    fn bucket(&mut self, lane: Lane) -> &mut Bucket {
        match lane {
            Lane::General => &mut self.general,
            Lane::Search => &mut self.search,
        }
    }

    fn check_daily(&mut self, now: Instant) -> Result<(), Error> {
        match self.daily_block {
            Some((until, resume_at)) if until > now => Err(Error::DailyLimit { resume_at }),
            Some(_) => {
                self.daily_block = None;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

fn clamp_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The portal's midnight is unknown (its time zone is not in the API): the next UTC midnight is
/// the latest a daily limit can reset.
pub(crate) fn until_next_utc_midnight(now: SystemTime) -> Duration {
    let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let next = (secs / 86_400 + 1) * 86_400;
    Duration::from_secs(next - secs)
}

#[cfg(test)]
mod tests;
