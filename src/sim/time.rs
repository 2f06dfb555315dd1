//! Epoch-millisecond clock and HubSpot's timestamp formats (ISO-8601 with millis and `Z`).

use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// `1793491200000` -> `2026-11-01T00:00:00.000Z`.
pub fn iso(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

/// `YYYY-MM-DD` of an instant (date-only properties).
pub fn date(ms: i64) -> String {
    iso(ms)[..10].to_string()
}

/// Accepts what HubSpot accepts for date(time) values: epoch ms, `YYYY-MM-DD`, or ISO-8601
/// UTC with optional fraction.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return text.parse().ok();
    }
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return None;
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    if text.len() > 10 {
        let time_ok = bytes.get(10) == Some(&b'T') && text.ends_with('Z');
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        if !time_ok || hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        ms += (hour * 3600 + minute * 60 + second) * 1000;
        let fraction = &text[19..text.len() - 1];
        if let Some(digits) = fraction.strip_prefix('.') {
            let millis: String = digits.chars().chain("000".chars()).take(3).collect();
            ms += millis.parse::<i64>().ok()?;
        } else if !fraction.is_empty() {
            return None;
        }
    }
    Some(ms)
}

// Howard Hinnant's civil-date algorithms.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        for (ms, text) in [
            (1_793_491_200_000, "2026-11-01T00:00:00.000Z"),
            (951_782_400_123, "2000-02-29T00:00:00.123Z"),
            (0, "1970-01-01T00:00:00.000Z"),
        ] {
            assert_eq!(iso(ms), text);
            assert_eq!(parse(text), Some(ms));
        }
        assert_eq!(parse("2026-11-01"), Some(1_793_491_200_000));
        assert_eq!(parse("1793491200000"), Some(1_793_491_200_000));
        assert_eq!(
            parse("2026-11-01T10:00:00Z"),
            Some(1_793_491_200_000 + 36_000_000)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01",
            "2026-11-01T25:00:00Z",
            "2026/11/01",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
