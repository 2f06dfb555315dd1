//! Bucket math and 429 reactions, on tokio's paused clock.

use std::sync::Arc;

use reqwest::header::{HeaderMap, HeaderValue};

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

/// Sends `count` requests through `lane` and returns the send times relative to the start.
async fn send_times(limiter: &RateLimiter, lane: Lane, count: usize) -> Vec<Duration> {
    let start = Instant::now();
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        limiter.acquire(lane).await.unwrap();
        times.push(start.elapsed());
    }
    times
}

/// The most sends inside any window of length `window` (the rolling count HubSpot keeps).
fn max_in_window(times: &[Duration], window: Duration) -> usize {
    let mut best = 0;
    for (i, start) in times.iter().enumerate() {
        let inside = times[i..]
            .iter()
            .take_while(|t| **t - *start < window)
            .count();
        best = best.max(inside);
    }
    best
}

#[tokio::test(start_paused = true)]
async fn never_exceeds_the_usable_share_of_a_rolling_window() {
    let limiter = RateLimiter::new(RateLimits::default());
    limiter.observe(&headers(&[
        ("x-hubspot-ratelimit-max", "190"),
        ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
    ]));
    let times = send_times(&limiter, Lane::General, 600).await;
    let peak = max_in_window(&times, Duration::from_secs(10));
    assert!(peak <= 182, "peak {peak} in 10 s");
    // And uses the budget: 600 requests need about 33.4 s at 17.9/s after a burst of 3.
    let total = *times.last().unwrap();
    assert!(total < Duration::from_secs(35), "took {total:?}");
    assert!(total > Duration::from_secs(33), "took {total:?}");
}

#[tokio::test(start_paused = true)]
async fn starts_conservative_until_headers_arrive() {
    let limiter = RateLimiter::new(RateLimits::default());
    let times = send_times(&limiter, Lane::General, 200).await;
    assert!(max_in_window(&times, Duration::from_secs(10)) <= 96);
    // 1 + 95 per 10 s: the 200th request leaves after about 20.0 s.
    assert!(
        *times.last().unwrap() > Duration::from_secs(19),
        "{times:?}"
    );
    assert_eq!(limiter.budget().max, 100);
}

#[tokio::test(start_paused = true)]
async fn search_lane_is_separate_and_holds_five_per_second() {
    let limiter = RateLimiter::new(RateLimits::default());
    let times = send_times(&limiter, Lane::Search, 40).await;
    assert!(max_in_window(&times, Duration::from_secs(1)) <= 5);
    assert!(
        *times.last().unwrap() > Duration::from_millis(9_500),
        "{times:?}"
    );
    // An empty general lane does not hold up search, and the other way round.
    let limiter = RateLimiter::new(RateLimits::default());
    limiter.acquire(Lane::General).await.unwrap();
    let start = Instant::now();
    limiter.acquire(Lane::Search).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    limiter.acquire(Lane::General).await.unwrap();
    assert!(
        start.elapsed() > Duration::from_millis(100),
        "the general lane was empty"
    );
}

#[tokio::test(start_paused = true)]
async fn low_remaining_header_slows_us_down() {
    let limiter = RateLimiter::new(RateLimits::default());
    limiter.observe(&headers(&[
        ("x-hubspot-ratelimit-max", "190"),
        ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
        ("x-hubspot-ratelimit-remaining", "3"),
    ]));
    // Remaining 3 minus the margin of 8 leaves a debt of 5 tokens, 6 with ours: 0.34 s at 17.9/s.
    let start = Instant::now();
    limiter.acquire(Lane::General).await.unwrap();
    let waited = start.elapsed();
    assert!(
        waited > Duration::from_millis(300) && waited < Duration::from_millis(400),
        "{waited:?}"
    );
    assert_eq!(limiter.budget().remaining, Some(3));
}

#[tokio::test(start_paused = true)]
async fn ten_secondly_429_waits_out_the_window_even_for_queued_callers() {
    let limiter = Arc::new(RateLimiter::new(RateLimits::default()));
    // Drain the burst so the next callers queue.
    send_times(&limiter, Lane::General, 2).await;
    let start = Instant::now();
    let queued = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            limiter.acquire(Lane::General).await.unwrap();
            start.elapsed()
        })
    };
    tokio::task::yield_now().await;
    limiter.on_rate_limited(Lane::General, RateLimitPolicy::TenSecondlyRolling, None);
    let waited = queued.await.unwrap();
    assert!(waited >= Duration::from_secs(10), "{waited:?}");
    assert!(waited < Duration::from_millis(10_200), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_sets_the_pause_and_secondly_waits_at_least_a_second() {
    let limiter = RateLimiter::new(RateLimits::default());
    limiter.on_rate_limited(
        Lane::General,
        RateLimitPolicy::TenSecondlyRolling,
        Some(Duration::from_secs(3)),
    );
    let start = Instant::now();
    limiter.acquire(Lane::General).await.unwrap();
    assert_eq!(start.elapsed().as_secs(), 3);

    limiter.on_rate_limited(
        Lane::Search,
        RateLimitPolicy::Secondly,
        Some(Duration::ZERO),
    );
    let start = Instant::now();
    limiter.acquire(Lane::Search).await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn daily_limit_stops_the_portal_until_it_resets() {
    let limiter = RateLimiter::new(RateLimits::default());
    limiter.on_rate_limited(
        Lane::General,
        RateLimitPolicy::Daily,
        Some(Duration::from_secs(60)),
    );
    for lane in [Lane::General, Lane::Search] {
        let error = limiter.acquire(lane).await.unwrap_err();
        assert!(matches!(error, Error::DailyLimit { .. }), "{error:?}");
        assert!(!error.is_retryable());
    }
    assert!(limiter.budget().daily_limit_until.is_some());
    tokio::time::advance(Duration::from_secs(61)).await;
    limiter.acquire(Lane::General).await.unwrap();
    assert_eq!(limiter.budget().daily_limit_until, None);
}

#[test]
fn next_utc_midnight() {
    let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
    assert_eq!(
        until_next_utc_midnight(at(86_400 * 3 + 3_600)),
        Duration::from_secs(82_800)
    );
    assert_eq!(
        until_next_utc_midnight(at(86_400 * 3)),
        Duration::from_secs(86_400)
    );
    assert_eq!(
        until_next_utc_midnight(at(86_400 * 4 - 1)),
        Duration::from_secs(1)
    );
}
