//! Retries: exponential backoff with jitter (backon), HubSpot's per-error floors, a total-time bound.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;

use super::error::Error;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// No retry starts once this much time has passed since the first attempt.
    pub max_total: Duration,
    /// The first backoff step (HubSpot's SDK uses 200 ms for server errors).
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_total: Duration::from_secs(120),
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Counters for metrics; plain atomics until the daemon picks a metrics crate.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub token_refreshes: AtomicU64,
    pub failures: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub token_refreshes: u64,
    pub failures: u64,
}

impl ClientStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: load(&self.requests),
            retries: load(&self.retries),
            rate_limited: load(&self.rate_limited),
            token_refreshes: load(&self.token_refreshes),
            failures: load(&self.failures),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl RetryPolicy {
    fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_jitter()
            .without_max_times()
            .build()
    }

    /// Runs `attempt` until it succeeds, fails for good, or the next wait would end past the
    /// total-time bound; then the last error is returned.
    /// A call that is not `idempotent` is retried only when HubSpot surely did not process it.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        stats: &ClientStats,
        label: &str,
        idempotent: bool,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let deadline = Instant::now() + self.max_total;
        let mut backoff = self.backoff();
        let mut attempts = 1u32;
        loop {
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            // A 429 already paused the rate limiter for the window HubSpot named; waiting out
            // that pause is the backoff, so the exponential steps are kept for failures.
            let step = match error {
                Error::RateLimited { .. } => Duration::ZERO,
                _ => backoff.next().unwrap_or(self.max_delay),
            };
            let wait = retry_delay(&error, step);
            let retryable = error.is_retryable() && (idempotent || error.surely_unprocessed());
            if !retryable || Instant::now() + wait > deadline {
                ClientStats::bump(&stats.failures);
                if retryable {
                    tracing::warn!(label, attempts, %error, "giving up on HubSpot call: retry budget spent");
                }
                return Err(error);
            }
            ClientStats::bump(&stats.retries);
            tracing::debug!(label, attempts, wait_ms = wait.as_millis() as u64, %error, "retrying HubSpot call");
            tokio::time::sleep(wait).await;
            attempts += 1;
        }
    }
}

/// The wait before the next attempt: the backoff step, but never less than what HubSpot asked
/// for (`Retry-After`, 423's two seconds, search's one second) plus a little jitter so callers
/// that failed together do not return together.
pub(crate) fn retry_delay(error: &Error, backoff_step: Duration) -> Duration {
    match error.min_retry_delay() {
        Some(floor) if floor > backoff_step => floor + jitter(floor / 10),
        _ => backoff_step,
    }
}

fn jitter(max: Duration) -> Duration {
    use rand::Rng;
    if max.is_zero() {
        return max;
    }
    rand::thread_rng().gen_range(Duration::ZERO..max)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::hubspot::error::{ApiDetails, RateLimitPolicy};

    fn unavailable(status: u16, retry_after: Option<Duration>) -> Error {
        let details = ApiDetails {
            status,
            ..ApiDetails::default()
        };
        Error::Unavailable {
            retry_after,
            details,
        }
    }

    #[test]
    fn floors_win_over_short_backoff_steps() {
        let step = Duration::from_millis(200);
        let locked = retry_delay(&unavailable(423, None), step);
        assert!(locked >= Duration::from_secs(2) && locked < Duration::from_millis(2200));
        let migrating = retry_delay(&unavailable(477, Some(Duration::from_secs(5))), step);
        assert!(migrating >= Duration::from_secs(5));
        assert_eq!(retry_delay(&unavailable(503, None), step), step);
        let long_step = Duration::from_secs(9);
        assert_eq!(retry_delay(&unavailable(423, None), long_step), long_step);
        let secondly = Error::RateLimited {
            policy: RateLimitPolicy::Secondly,
            retry_after: None,
            details: ApiDetails::default(),
        };
        assert!(retry_delay(&secondly, step) >= Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_until_success() {
        let stats = ClientStats::default();
        let calls = AtomicU32::new(0);
        let result = RetryPolicy::default()
            .run(&stats, "test", true, || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(unavailable(502, None)),
                    1 => Err(Error::Timeout),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(stats.snapshot().retries, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limits_do_not_grow_the_backoff() {
        // The limiter's pause is the wait for a 429; a storm must not push the next attempt
        // minutes out.
        let stats = ClientStats::default();
        let calls = AtomicU32::new(0);
        let start = Instant::now();
        let result = RetryPolicy::default()
            .run(&stats, "test", true, || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 12 {
                    Err(Error::RateLimited {
                        policy: RateLimitPolicy::TenSecondlyRolling,
                        retry_after: None,
                        details: ApiDetails::default(),
                    })
                } else {
                    Ok(())
                }
            })
            .await;
        assert!(result.is_ok());
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(stats.snapshot().retries, 12);
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_a_client_error() {
        let stats = ClientStats::default();
        let calls = AtomicU32::new(0);
        let result: Result<(), Error> = RetryPolicy::default()
            .run(&stats, "test", true, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::NotFound {
                    details: ApiDetails::default(),
                })
            })
            .await;
        assert!(matches!(result, Err(Error::NotFound { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_within_the_total_time_bound() {
        let stats = ClientStats::default();
        let policy = RetryPolicy {
            max_total: Duration::from_secs(20),
            ..RetryPolicy::default()
        };
        let start = Instant::now();
        let result: Result<(), Error> = policy
            .run(&stats, "test", true, || async {
                Err(unavailable(503, None))
            })
            .await;
        assert!(result.unwrap_err().is_retryable());
        assert!(
            start.elapsed() <= Duration::from_secs(20),
            "{:?}",
            start.elapsed()
        );
        assert!(stats.snapshot().retries >= 4, "{:?}", stats.snapshot());
        // A Retry-After longer than the budget is not waited for at all.
        let start = Instant::now();
        let _ = policy
            .run(&stats, "test", true, || async {
                Err::<(), _>(unavailable(477, Some(Duration::from_secs(3600))))
            })
            .await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
