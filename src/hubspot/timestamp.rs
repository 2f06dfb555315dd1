//! HubSpot timestamps (ISO-8601 strings or epoch-millisecond strings) as epoch milliseconds.

/// Parses `2024-01-05T10:20:30.123Z`, `...+02:00`, `2024-01-05` or `"1704450030123"`.
/// Anything else, however odd (text from HubSpot is input), is `None`, never a panic.
pub fn parse_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let year = number(parts.next()?, 4)?;
    let month = number(parts.next()?, 2)?;
    let day = number(parts.next()?, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month as u32, day as u32);
    let millis_of_day = match time {
        Some(time) => parse_time(time)?,
        None => 0,
    };
    Some(days * 86_400_000 + millis_of_day)
}

/// `HH:MM:SS[.fff][Z|±HH:MM]` as milliseconds since midnight UTC (may leave the day).
fn parse_time(time: &str) -> Option<i64> {
    let (clock, offset_ms) = if let Some(clock) = time.strip_suffix('Z') {
        (clock, 0)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (clock, offset) = time.split_at(at);
        // `offset` starts with the one-byte sign found above.
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
        let minutes = number(hours, 2)? * 60 + number(minutes, 2)?;
        (clock, sign * minutes * 60_000)
    } else {
        (time, 0)
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut fields = hms.split(':');
    let hours = number(fields.next()?, 2)?;
    let minutes = number(fields.next()?, 2)?;
    let seconds = number(fields.next().unwrap_or("0"), 2)?;
    if fields.next().is_some() || hours > 24 || minutes > 59 || seconds > 60 {
        return None;
    }
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis(fraction)? - offset_ms)
}

/// A fraction of a second (`1`, `123`, `123456`) in whole milliseconds; digits only.
fn millis(fraction: &str) -> Option<i64> {
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // ASCII digits only from here, so byte positions are character positions.
    let digits = &fraction[..fraction.len().min(3)];
    Some(format!("{digits:0<3}").parse().unwrap_or(0))
}

/// An unsigned decimal field of 1 to `max_digits` digits.
fn number(text: &str, max_digits: usize) -> Option<i64> {
    let digits = !text.is_empty() && text.len() <= max_digits;
    if !digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_ms;

    #[test]
    fn parses_the_forms_hubspot_sends() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2024-01-05T10:20:30.123Z", Some(1_704_450_030_123)),
            ("2024-01-05T10:20:30.1Z", Some(1_704_450_030_100)),
            ("2024-01-05T10:20:30.123456Z", Some(1_704_450_030_123)),
            ("2024-01-05T12:20:30.123+02:00", Some(1_704_450_030_123)),
            ("2024-01-05T05:20:30.123-05:00", Some(1_704_450_030_123)),
            ("2024-01-05", Some(1_704_412_800_000)),
            ("1704450030123", Some(1_704_450_030_123)),
            ("2000-02-29T00:00:00Z", Some(951_782_400_000)),
            ("", None),
            ("yesterday", None),
            ("2024-13-01T00:00:00Z", None),
            // A multi-byte character where the fraction's digits belong.
            ("2024-01-05T10:20:30.1\u{e9}Z", None),
            ("2024-01-05T10:20:30.\u{1F600}Z", None),
            ("2024-01-05T10:20:30.12\u{e9}4Z", None),
            // Fields too long to be what they claim (they overflowed before).
            ("99999999999999999-01-01", None),
            ("2024-01-05T99999999999999:00:00Z", None),
            ("2024-01-05T10:20:30+99999999999999:00", None),
            ("2024-01-05T10:20:30:40Z", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_ms(text), want, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = parse_ms(&text);
        }

        #[test]
        fn never_panics_near_the_real_shape(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.\\PC{0,5}(Z|[+-][0-9]{2}:[0-9]{2})?"
        ) {
            let _ = parse_ms(&text);
        }

        /// Every instant from 1970 to 9999 reads back from its RFC 3339 text.
        #[test]
        fn reads_back_what_humantime_writes(ms in 0i64..253_402_300_800_000) {
            let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64);
            let text = humantime::format_rfc3339_millis(time).to_string();
            proptest::prop_assert_eq!(parse_ms(&text), Some(ms), "{}", text);
        }
    }
}
