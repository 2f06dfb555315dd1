//! Result plumbing: latency percentiles, medians of runs, Markdown tables, JSON files.

use std::path::Path;

use comfy_table::{presets, Table};
use hubspot_gateway::sim::fire::Latencies;
use serde_json::{json, Value};

/// Latencies → {count, p50_ms, p90_ms, p99_ms, max_ms}.
pub fn percentiles(latencies: &Latencies) -> Value {
    let at = |quantile| round3(latencies.quantile_ms(quantile));
    json!({
        "count": latencies.count(),
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": at(1.0),
    })
}

pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

pub use hubspot_gateway::kit::median;

/// The run whose `key` is the median among `runs` (so its other figures belong together).
pub fn median_run(runs: &[Value], key: &str) -> Value {
    let values: Vec<f64> = runs
        .iter()
        .map(|run| run[key].as_f64().unwrap_or(0.0))
        .collect();
    let middle = median(&values);
    runs.iter()
        .find(|run| run[key].as_f64() == Some(middle))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Runs `once` `count` times (at least once), saying which run starts.
pub async fn repeat<F, Fut>(label: &str, count: usize, mut once: F) -> anyhow::Result<Vec<Value>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Value>>,
{
    let count = count.max(1);
    let mut runs = Vec::with_capacity(count);
    for index in 0..count {
        println!("\n{label} run {}/{count}", index + 1);
        runs.push(once().await?);
    }
    Ok(runs)
}

/// Several runs of one benchmark as one result: the run whose `key` (a JSON pointer) is the
/// median, so its figures belong together, plus `median_of` and each run's `summary` figures
/// under `runs`. Prints the per-run figures.
pub fn median_of(runs: Vec<Value>, key: &str, summary: &[&str]) -> Value {
    let values: Vec<f64> = runs
        .iter()
        .map(|run| run.pointer(key).and_then(Value::as_f64).unwrap_or(0.0))
        .collect();
    let middle = median(&values);
    let chosen = values
        .iter()
        .position(|value| *value == middle)
        .unwrap_or(0);
    let summaries: Vec<Value> = runs
        .iter()
        .map(|run| {
            let figures: serde_json::Map<String, Value> = summary
                .iter()
                .map(|pointer| {
                    let value = run.pointer(pointer).cloned().unwrap_or(Value::Null);
                    (pointer.trim_start_matches('/').replace('/', "."), value)
                })
                .collect();
            Value::Object(figures)
        })
        .collect();
    if runs.len() > 1 {
        println!("\nmedian of {} runs by {key}: run {chosen}", runs.len());
        for (index, figures) in summaries.iter().enumerate() {
            println!("  run {index}: {figures}");
        }
    }
    let mut result = runs.into_iter().nth(chosen).unwrap_or(Value::Null);
    result["median_of"] = json!(summaries.len());
    result["median_by"] = json!(key);
    result["runs"] = Value::Array(summaries);
    result
}

/// Prints rows as a Markdown table (the first row is the header).
pub fn table(title: &str, rows: &[Vec<String>]) {
    println!("\n{title}");
    let mut table = Table::new();
    table.load_style(presets::ASCII_MARKDOWN);
    let mut rows = rows.iter();
    if let Some(header) = rows.next() {
        table.set_header(header.clone());
    }
    for row in rows {
        table.add_row(row.clone());
    }
    println!("{table}");
}

/// Writes `value` pretty-printed to `dir/name.json`.
pub fn write(dir: &Path, name: &str, value: &Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(value)? + "\n")?;
    println!("\nwrote {}", path.display());
    Ok(())
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1024.0 / 1024.0)
}
