//! HubSpot timestamps (ISO-8601 strings or epoch-millisecond strings) as epoch milliseconds.

/// Parses `2024-01-05T10:20:30.123Z`, `...+02:00`, `2024-01-05` or `"1704450030123"`.
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
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
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
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
        let minutes = hours.parse::<i64>().ok()? * 60 + minutes.parse::<i64>().ok()?;
        (clock, sign * minutes * 60_000)
    } else {
        (time, 0)
    };
    let (hms, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut fields = hms.split(':');
    let hours: i64 = fields.next()?.parse().ok()?;
    let minutes: i64 = fields.next()?.parse().ok()?;
    let seconds: i64 = fields.next().unwrap_or("0").parse().ok()?;
    let millis: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{:0<3}", &fraction[..fraction.len().min(3)])
            .parse()
            .ok()?
    };
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + millis - offset_ms)
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
        ];
        for (text, want) in cases {
            assert_eq!(parse_ms(text), want, "{text}");
        }
    }
}
