//! The table `bench-mirror portals` prints from its result (JSON).

use serde_json::Value;

use crate::report::{self, mib};

pub fn print(r: &Value) {
    let (c, i, s, d) = (&r["connect"], &r["idle"], &r["restart"], &r["removal"]);
    let kib = |value: &Value| format!("{} MiB", value.as_u64().unwrap_or(0) / 1024);
    let bytes = |value: &Value| mib(value.as_u64().unwrap_or(0));
    let store = |size: &Value| match size.get("apparent_bytes") {
        Some(apparent) => format!(
            "{} allocated ({} apparent)",
            bytes(&size["bytes"]),
            bytes(apparent)
        ),
        None => format!(
            "{} ({})",
            bytes(&size["bytes"]),
            size["measure"].as_str().unwrap_or("")
        ),
    };
    let rows = vec![
        vec!["figure (one run)".into(), "value".into()],
        vec![
            "portals".into(),
            format!("{} x {}", r["portals"], r["per_portal"]),
        ],
        vec![
            "store backend".into(),
            r["backend"].as_str().unwrap_or("").into(),
        ],
        vec![
            "Connect, each".into(),
            format!(
                "p50 {} ms, p99 {} ms, max {} ms",
                c["each"]["p50_ms"], c["each"]["p99_ms"], c["each"]["max_ms"]
            ),
        ],
        vec![
            "all connected / contacts / every type backfilled".into(),
            format!(
                "{} s / {} s / {} s after the first Connect",
                c["all_connected_secs"], c["all_backfilled_secs"], c["all_types_backfilled_secs"]
            ),
        ],
        vec![
            "idle RSS (peak)".into(),
            format!(
                "{} ({}); {} KiB per portal",
                kib(&i["rss_kib"]),
                kib(&i["rss_peak_kib"]),
                i["rss_kib_per_portal"]
            ),
        ],
        vec![
            "idle CPU".into(),
            format!(
                "{} s over {} s = {} % of one core{}",
                i["cpu_secs"],
                i["secs"],
                i["cpu_percent_of_one_core"],
                match &i["postgres_server_cpu_secs"] {
                    Value::Null => String::new(),
                    server => format!("; the PostgreSQL server {server} s"),
                }
            ),
        ],
        vec![
            "idle API calls".into(),
            format!(
                "{} per minute ({} in all, 429s {}; polling every {} s)",
                i["api_calls_per_minute"],
                i["api_calls"],
                i["rate_limited_429"],
                r["poll_interval_secs"]
            ),
        ],
        vec![
            "idle calls by endpoint".into(),
            i["api_calls_by_endpoint"].to_string(),
        ],
        vec![
            "idle calls per 10 s".into(),
            i["timeline"].as_array().map_or(String::new(), |samples| {
                let calls: Vec<String> = samples
                    .iter()
                    .map(|sample| sample["api_calls"].to_string())
                    .collect();
                calls.join(" ")
            }),
        ],
        vec!["threads".into(), i["threads"].to_string()],
        vec![
            "store size".into(),
            format!(
                "{}; stopped {}; after removing all {}",
                store(&i["store"]),
                bytes(&s["store_stopped"]["bytes"]),
                bytes(&d["store_after"]["bytes"])
            ),
        ],
        vec![
            "restart".into(),
            format!(
                "stop {} s; ready {} s; every portal answers {} s",
                s["stop_secs"], s["ready_secs"], s["all_portals_answer_secs"]
            ),
        ],
        vec![
            "after restart".into(),
            format!(
                "RSS {}, {} threads; API calls in the first {} s: {}",
                kib(&s["rss_kib_10s_after"]),
                s["threads"],
                s["api_calls_first_secs"],
                s["api_calls"]
            ),
        ],
        vec![
            "lookup spot check".into(),
            format!(
                "{} lookups as expected (own record; none for another portal's address)",
                r["lookups"].as_array().map_or(0, Vec::len)
            ),
        ],
        vec![
            "remove one portal".into(),
            format!(
                "{}: 202 in {} ms, `removing` empty after {} ms; then its status answers {}; \
                 {} other portals' lookups as expected",
                d["one"]["portal"],
                d["one"]["accepted_ms"],
                d["one"]["finished_ms"],
                d["one"]["status_after"],
                d["remaining_lookups"]
            ),
        ],
        vec![
            "remove all the others, one after another".into(),
            format!(
                "{} portals in {} s (each: p50 {} ms, p99 {} ms, max {} ms); /v1/status then \
                 portals {}, removing {}",
                d["all"]["portals"],
                d["all"]["secs"],
                d["all"]["each"]["p50_ms"],
                d["all"]["each"]["p99_ms"],
                d["all"]["each"]["max_ms"],
                d["all"]["status_portals"],
                d["all"]["status_removing"]
            ),
        ],
        vec![
            "API calls while removing".into(),
            d["api_calls"].to_string(),
        ],
        vec![
            "load average (1 min): start / after backfill / idle".into(),
            format!(
                "{} / {} / {}",
                r["machine"]["load_average_1m"], c["load_average_1m_after"], i["load_average_1m"]
            ),
        ],
        vec![
            "gateway log WARN/ERROR".into(),
            format!(
                "{} / restart {}",
                r["gateway_log"]["portals.log"]["counts"],
                r["gateway_log"]["restart.log"]["counts"]
            ),
        ],
    ];
    report::table("portals", &rows);
}
