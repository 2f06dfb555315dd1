//! Time, the one implementation: the epoch-millisecond clock, HubSpot's timestamp texts read
//! and written (with `jiff`), daily UTC windows and recurring times of day. A leaf: it imports nothing of the product.

mod recurrence;
mod window;

use jiff::civil::{Date, DateTime};
use jiff::tz::Offset;
use jiff::Timestamp;

pub use recurrence::Recurrence;
pub use window::{Window, DAY_MS};

/// Milliseconds since the Unix epoch, by the system clock (0 if it reads before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// A factor in [0.5, 1.5) fixed by `seed` (a portal id), spread evenly over seeds
/// (consecutive ones included): an interval multiplied by it puts the periodic work of many
/// portals started together at different moments. (splitmix64's finaliser.)
pub fn phase(seed: i64) -> f64 {
    let mut x = (seed as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    0.5 + (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Reads what HubSpot sends and accepts as a time: epoch milliseconds (`"1704450030123"`),
/// RFC 3339 / ISO 8601 with `Z` or an offset (`2024-01-05T10:20:30.123+02:00`, a space for
/// the `T`, seconds and fraction optional), the same without an offset (taken as UTC), or a
/// date (`2024-01-05`, midnight UTC). Anything else, however odd (text from HubSpot is
/// input), is `None`, never a panic. Fractions finer than a millisecond are cut off.
pub fn parse_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Some(instant.as_millisecond());
    }
    if let Ok(civil) = text.parse::<DateTime>() {
        return Some(Offset::UTC.to_timestamp(civil).ok()?.as_millisecond());
    }
    parse_date_ms(text)
}

/// A calendar date written `YYYY-MM-DD`, as midnight UTC in epoch milliseconds; `None` for
/// any other form or a day the calendar does not have (`2023-02-29`).
pub fn parse_date_ms(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(at, byte)| at == 4 || at == 7 || byte.is_ascii_digit());
    if !shaped {
        return None;
    }
    let midnight = text
        .parse::<Date>()
        .ok()?
        .to_datetime(jiff::civil::Time::midnight());
    Some(Offset::UTC.to_timestamp(midnight).ok()?.as_millisecond())
}

/// HubSpot's form of an instant: `2026-11-01T00:00:00.000Z` (UTC, milliseconds). An instant
/// beyond what `jiff` can write (about the years -9999 to 9999) is written as the nearest one
/// it can.
pub fn iso(ms: i64) -> String {
    format!("{:.3}", timestamp(ms))
}

/// The UTC date of an instant, `YYYY-MM-DD` (HubSpot's date-only properties).
pub fn date(ms: i64) -> String {
    Offset::UTC.to_datetime(timestamp(ms)).date().to_string()
}

fn timestamp(ms: i64) -> Timestamp {
    let bounded = ms.clamp(
        Timestamp::MIN.as_millisecond(),
        Timestamp::MAX.as_millisecond(),
    );
    // Invariant: clamped into the range `from_millisecond` takes.
    Timestamp::from_millisecond(bounded).expect("a millisecond within Timestamp's range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_of_many_portals_spread_over_the_interval() {
        let mut tenths = [0u32; 10];
        for portal in 62_515_001..62_516_001 {
            let factor = phase(portal);
            assert!((0.5..1.5).contains(&factor), "{factor}");
            tenths[((factor - 0.5) * 10.0) as usize] += 1;
        }
        // 1,000 consecutive ids: about 100 in each tenth of the interval.
        assert!(tenths.iter().all(|n| (70..=130).contains(n)), "{tenths:?}");
        assert_eq!(
            phase(62_515_001),
            phase(62_515_001),
            "the same at every start"
        );
    }

    #[test]
    fn parses_the_forms_hubspot_sends() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2024-01-05T10:20:30.123Z", Some(1_704_450_030_123)),
            ("2024-01-05T10:20:30.1Z", Some(1_704_450_030_100)),
            ("2024-01-05T10:20:30.123456Z", Some(1_704_450_030_123)),
            ("2024-01-05T12:20:30.123+02:00", Some(1_704_450_030_123)),
            ("2024-01-05T05:20:30.123-05:00", Some(1_704_450_030_123)),
            ("2024-01-05 10:20:30.123Z", Some(1_704_450_030_123)),
            ("2024-01-05T10:20:30.123", Some(1_704_450_030_123)),
            ("2024-01-05T10:20Z", Some(1_704_450_000_000)),
            ("2024-01-05", Some(1_704_412_800_000)),
            (" 2024-01-05 ", Some(1_704_412_800_000)),
            ("1704450030123", Some(1_704_450_030_123)),
            ("2000-02-29T00:00:00Z", Some(951_782_400_000)),
            ("", None),
            ("yesterday", None),
            ("2024-13-01T00:00:00Z", None),
            ("2023-02-29", None),
            ("2024/01/05", None),
            ("2024-01-05T25:00:00Z", None),
            // A multi-byte character where the fraction's digits belong.
            ("2024-01-05T10:20:30.1\u{e9}Z", None),
            ("2024-01-05T10:20:30.\u{1F600}Z", None),
            ("2024-01-05T10:20:30.12\u{e9}4Z", None),
            // Fields too long to be what they claim.
            ("99999999999999999-01-01", None),
            ("2024-01-05T99999999999999:00:00Z", None),
            ("2024-01-05T10:20:30+99999999999999:00", None),
            ("2024-01-05T10:20:30:40Z", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_ms(text), want, "{text}");
        }
    }

    #[test]
    fn dates_are_exactly_year_month_day() {
        assert_eq!(parse_date_ms("2026-11-01"), Some(1_793_491_200_000));
        for bad in [
            "2026-11-1",
            "2026-02-30",
            "+02026-11-01",
            "2026-11-01T00:00:00Z",
            "",
        ] {
            assert_eq!(parse_date_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn writes_hubspots_forms() {
        for (ms, text) in [
            (1_793_491_200_000, "2026-11-01T00:00:00.000Z"),
            (951_782_400_123, "2000-02-29T00:00:00.123Z"),
            (0, "1970-01-01T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(iso(ms), text);
            assert_eq!(parse_ms(text), Some(ms));
        }
        assert_eq!(date(1_793_491_200_000 + 86_399_999), "2026-11-01");
        // Out of range: the nearest instant jiff can write, never a panic.
        assert_eq!(iso(i64::MAX), "9999-12-30T22:00:00.999Z");
        assert!(iso(i64::MIN).starts_with("-009999-01-0"));
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

        /// Every instant from 1970 to 9999 reads back from the text HubSpot's form gives it.
        #[test]
        fn reads_back_what_it_writes(ms in 0i64..253_402_300_800_000) {
            let text = iso(ms);
            proptest::prop_assert_eq!(parse_ms(&text), Some(ms), "{}", text);
        }

        /// Offsets move the instant, never the reading: the same instant at any offset.
        #[test]
        fn offsets_name_the_same_instant(
            ms in 86_400_000i64..253_402_214_400_000, minutes in -(23 * 60 + 59)..=(23 * 60 + 59i64)
        ) {
            let local = iso(ms + minutes * 60_000);
            let sign = if minutes < 0 { '-' } else { '+' };
            let text = format!(
                "{}{sign}{:02}:{:02}",
                &local[..local.len() - 1],
                minutes.abs() / 60,
                minutes.abs() % 60
            );
            proptest::prop_assert_eq!(parse_ms(&text), Some(ms), "{}", text);
        }
    }
}
