//! What the integration tests, the benchmarks and the demo share to run a real gateway beside
//! the simulator: a free port, its config text, a reconciliation window that stays out of
//! the way, a throw-away PostgreSQL server, and the median and CPU time the benchmarks
//! report.

mod config;
pub mod postgres;

pub use config::GatewayConfig;

use crate::time::now_ms;

/// A port of 127.0.0.1 that was free a moment ago, for a server bound later (perhaps more
/// than once, as a restarted gateway keeps its address). Taken below Linux's ephemeral range
/// (32768 and up), where the kernel never hands a port to an outgoing connection or to a
/// `bind` on port 0: otherwise any connection made meanwhile could take it.
pub fn free_port() -> u16 {
    use rand::Rng as _;
    let mut random = rand::thread_rng();
    for _ in 0..1000 {
        let port = random.gen_range(20_000..32_768);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port of 127.0.0.1 between 20000 and 32767")
}

/// The median of `values` (the lower middle for an even count; 0 for none): how the
/// benchmarks summarise their runs.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get((sorted.len().max(1) - 1) / 2)
        .copied()
        .unwrap_or(0.0)
}

/// utime + stime of a `/proc/PID/stat` file (`/proc/self/stat`: this process), in seconds:
/// the CPU a process has used so far, all its threads.
pub fn cpu_secs_of(path: &str) -> f64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = text.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / hz
}

/// A one-minute `sync.reconcile_window_utc` twelve hours from now, so that no run reconciles
/// by accident.
pub fn far_reconcile_window_utc() -> String {
    let minute_now = (now_ms() / 60_000) % 1440;
    let start = (minute_now + 720) % 1440;
    let end = (start + 1) % 1440;
    format!(
        "{:02}:{:02}-{:02}:{:02}",
        start / 60,
        start % 60,
        end / 60,
        end % 60
    )
}

/// [`far_reconcile_window_utc`] as a `[sync]` line, for config lines written by hand.
pub fn far_reconcile_window() -> String {
    format!("reconcile_window_utc = \"{}\"", far_reconcile_window_utc())
}
