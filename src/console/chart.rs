//! The webhook chart, drawn by the server as inline SVG: events per minute over the last hour,
//! stored events and dropped duplicates stacked, with a text summary for screen readers.

use std::fmt::Write as _;

use crate::per_minute::Minute;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 10.0;

/// The chart of `minutes` (oldest first) as an `<svg>` element.
pub fn events_per_minute(minutes: &[Minute]) -> String {
    let peak = minutes
        .iter()
        .map(|m| m.counts[0] + m.counts[1])
        .max()
        .unwrap_or(0);
    let tick = nice_ceiling(peak.div_ceil(4));
    let scale = tick * 4;
    let total: u64 = minutes.iter().map(|m| m.counts[0]).sum();
    let duplicates: u64 = minutes.iter().map(|m| m.counts[1]).sum();
    let plot_height = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / minutes.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg"><title id="chart-title">Webhook events per minute, last hour</title><desc id="chart-desc">{total} events stored and {duplicates} duplicates dropped in the last hour; at most {peak} in one minute.</desc>"#
    );
    for step in 0..=4 {
        let value = tick * step;
        let y = TOP + plot_height - plot_height * step as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{WIDTH}" y1="{y:.1}" y2="{y:.1}" stroke="#d9e2ec" stroke-width="1"/><text x="{x:.1}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#616e7c">{value}</text>"##,
            x = LEFT - 6.0,
            ty = y + 4.0,
        );
    }
    for (index, minute) in minutes.iter().enumerate() {
        let x = LEFT + index as f64 * slot + 1.0;
        let [stored, dropped] = minute.counts;
        let height = |count: u64| plot_height * count as f64 / scale as f64;
        let (stored_h, dropped_h) = (height(stored), height(dropped));
        let base = TOP + plot_height;
        let clock = clock(minute.start_ms);
        let _ = write!(
            svg,
            r##"<g><title>{clock} UTC: {stored} stored, {dropped} duplicates</title><rect x="{x:.1}" y="{y1:.1}" width="{w:.1}" height="{stored_h:.1}" fill="#1d5fae"/><rect x="{x:.1}" y="{y2:.1}" width="{w:.1}" height="{dropped_h:.1}" fill="#9fc2ea"/></g>"##,
            y1 = base - stored_h,
            y2 = base - stored_h - dropped_h,
            w = (slot - 2.0).max(1.0),
        );
        if index % 10 == 0 || index + 1 == minutes.len() {
            let last = index + 1 == minutes.len();
            let (label, anchor, cx) = if last {
                ("now".to_owned(), "end", WIDTH)
            } else {
                (clock, "middle", x + slot / 2.0)
            };
            let _ = write!(
                svg,
                r##"<text x="{cx:.1}" y="{ly:.1}" font-size="11" text-anchor="{anchor}" fill="#616e7c">{label}</text>"##,
                ly = HEIGHT - 6.0,
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// The round number (1, 2, 5 × 10ⁿ) at or above `value`, at least 1: the axis has four
/// such steps.
fn nice_ceiling(value: u64) -> u64 {
    let mut base = 1;
    loop {
        for step in [1, 2, 5] {
            if step * base >= value.max(1) {
                return step * base;
            }
        }
        base *= 10;
    }
}

/// "HH:MM" of an epoch-milliseconds time (UTC).
fn clock(epoch_ms: i64) -> String {
    let minute = epoch_ms.div_euclid(60_000).rem_euclid(1440);
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_a_bar_per_minute_and_says_what_it_shows() {
        let minutes: Vec<Minute> = (0..60)
            .map(|i| Minute {
                start_ms: i * 60_000,
                counts: [i as u64, u64::from(i == 59)],
            })
            .collect();
        let svg = events_per_minute(&minutes);
        assert_eq!(svg.matches("<rect").count(), 120);
        assert!(
            svg.contains("1770 events stored and 1 duplicates dropped"),
            "{svg}"
        );
        assert!(svg.contains(">now</text>") && svg.contains(">00:10</text>"));
        assert!(!svg.contains("style="), "no inline style under the CSP");
        assert_eq!(
            (
                nice_ceiling(0),
                nice_ceiling(3),
                nice_ceiling(60),
                nice_ceiling(101)
            ),
            (1, 5, 100, 200)
        );
        assert!(
            svg.contains(">60</text>"),
            "four steps of 20 up to 80 for a peak of 60"
        );
    }
}
