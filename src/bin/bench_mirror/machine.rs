//! The machine a benchmark ran on (cores, CPU model, memory, load, kernel, commit) and the
//! gateway binary it ran, for the JSON results and the printed header.

use std::path::Path;

use hubspot_gateway::time;
use serde_json::{json, Value};
use sha2::Digest as _;

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

/// The start of the SHA-256 of the file at `path`: which build a binary is. Streamed: a
/// release build with its line tables is over 100 MB.
fn digest_of(path: &Path) -> String {
    let mut hasher = sha2::Sha256::new();
    match std::fs::File::open(path).and_then(|mut file| std::io::copy(&mut file, &mut hasher)) {
        Ok(_) => hex::encode(&hasher.finalize()[..6]),
        Err(error) => format!("unreadable: {error}"),
    }
}

/// Everything above, as JSON, with the gateway binary under test (`gateway`, when the
/// benchmark runs one): `commit` is this checkout's, and `--gateway` may run another build.
pub fn info(gateway: Option<&Path>) -> Value {
    let mut info = json!({
        "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu_model": cpu_model(),
        "mem_total_gib": (mem_total_gib() * 10.0).round() / 10.0,
        "load_average_1m": load_average(),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "commit": commit(),
        "started_at": time::iso(time::now_ms()),
    });
    if let Some(path) = gateway {
        info["gateway_binary"] = json!({
            "path": path.display().to_string(),
            "sha256_prefix": digest_of(path),
        });
    }
    info
}

/// One line for the printed header.
pub fn describe(info: &Value) -> String {
    let mut line = format!(
        "machine: {} x {} | {} GiB | load {} | kernel {} | commit {}",
        info["nproc"],
        info["cpu_model"].as_str().unwrap_or("?"),
        info["mem_total_gib"],
        info["load_average_1m"],
        info["kernel"].as_str().unwrap_or("?"),
        info["commit"].as_str().unwrap_or("?"),
    );
    if let Some(binary) = info.get("gateway_binary") {
        line.push_str(&format!(
            " | gateway {} ({})",
            binary["path"].as_str().unwrap_or("?"),
            binary["sha256_prefix"].as_str().unwrap_or("?")
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_binary_is_named_by_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway");
        std::fs::write(&path, b"abc").unwrap();
        let info = info(Some(&path));
        // SHA-256("abc") starts ba7816bf8f01.
        assert_eq!(info["gateway_binary"]["sha256_prefix"], "ba7816bf8f01");
        assert!(describe(&info).ends_with(&format!("gateway {} (ba7816bf8f01)", path.display())));
        let absent = super::info(None);
        assert!(absent.get("gateway_binary").is_none());
        assert!(describe(&absent).contains("| commit "));
        assert!(digest_of(&dir.path().join("missing")).starts_with("unreadable"));
    }
}
