//! What the integration tests and the benchmarks share to run a real gateway beside the
//! simulator: a free port, and a reconciliation window that stays out of the way.

use crate::time::now_ms;

/// A port of 127.0.0.1 that was free a moment ago (another process may take it meanwhile).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the loopback interface has a free port")
}

/// The `[sync]` line of a one-minute reconciliation window twelve hours from now, so that no
/// run reconciles by accident.
pub fn far_reconcile_window() -> String {
    let minute_now = (now_ms() / 60_000) % 1440;
    let start = (minute_now + 720) % 1440;
    let end = (start + 1) % 1440;
    format!(
        "reconcile_window_utc = \"{:02}:{:02}-{:02}:{:02}\"",
        start / 60,
        start % 60,
        end / 60,
        end % 60
    )
}
