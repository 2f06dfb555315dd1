//! The machine a benchmark ran on (cores, CPU model, memory, load, kernel, commit), for the JSON
//! results and the printed header.

use hubspot_gateway::time;
use serde_json::{json, Value};

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn cpu_model() -> String {
    read("/proc/cpuinfo")
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split(':').nth(1))
        .map_or("unknown".into(), |model| model.trim().to_string())
}

fn mem_total_gib() -> f64 {
    read("/proc/meminfo")
        .lines()
        .find(|line| line.starts_with("MemTotal:"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0)
}

/// The 1-minute load average now: the machine is shared, so say how busy it was.
pub fn load_average() -> f64 {
    read("/proc/loadavg")
        .split_whitespace()
        .next()
        .and_then(|load| load.parse().ok())
        .unwrap_or(0.0)
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or("unknown".into(), |out| {
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
}

/// Everything above, as JSON.
pub fn info() -> Value {
    json!({
        "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu_model": cpu_model(),
        "mem_total_gib": (mem_total_gib() * 10.0).round() / 10.0,
        "load_average_1m": load_average(),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "commit": commit(),
        "started_at": time::iso(time::now_ms()),
    })
}

/// One line for the printed header.
pub fn describe(info: &Value) -> String {
    format!(
        "machine: {} x {} | {} GiB | load {} | kernel {} | commit {}",
        info["nproc"],
        info["cpu_model"].as_str().unwrap_or("?"),
        info["mem_total_gib"],
        info["load_average_1m"],
        info["kernel"].as_str().unwrap_or("?"),
        info["commit"].as_str().unwrap_or("?"),
    )
}
