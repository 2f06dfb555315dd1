//! A recurring time of day, `weekly DAY HH:MM` or `daily HH:MM`, in UTC (when the e-mail
//! digest goes out).

use super::DAY_MS;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recurrence {
    Daily {
        minute: i64,
    },
    /// `weekday` 0 is Monday.
    Weekly {
        weekday: i64,
        minute: i64,
    },
}

impl Recurrence {
    pub fn parse(text: &str) -> Option<Recurrence> {
        let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
        match words.as_slice() {
            [daily, time] if daily == "daily" => Some(Recurrence::Daily {
                minute: minute_of(time)?,
            }),
            [weekly, day, time] if weekly == "weekly" => Some(Recurrence::Weekly {
                weekday: DAYS.iter().position(|d| day.starts_with(d))? as i64,
                minute: minute_of(time)?,
            }),
            _ => None,
        }
    }

    /// The first time it is due strictly after `after_ms` (epoch ms).
    pub fn next_after(self, after_ms: i64) -> i64 {
        let day = after_ms.div_euclid(DAY_MS);
        (day..=day + 8)
            .filter(|day| match self {
                Recurrence::Daily { .. } => true,
                // 1970-01-01 was a Thursday (weekday 3).
                Recurrence::Weekly { weekday, .. } => (day + 3).rem_euclid(7) == weekday,
            })
            .map(|day| day * DAY_MS + self.minute() * 60_000)
            .find(|at| *at > after_ms)
            .unwrap_or(after_ms + 7 * DAY_MS)
    }

    fn minute(self) -> i64 {
        match self {
            Recurrence::Daily { minute } | Recurrence::Weekly { minute, .. } => minute,
        }
    }
}

fn minute_of(time: &str) -> Option<i64> {
    let (hours, minutes) = time.split_once(':')?;
    let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
    ((0..24).contains(&hours) && (0..60).contains(&minutes) && time.len() == 5)
        .then_some(hours * 60 + minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:00:00Z, a Thursday.
    const THURSDAY: i64 = 1_767_225_600_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn parses_daily_and_weekly() {
        assert_eq!(
            Recurrence::parse("weekly fri 09:00"),
            Some(Recurrence::Weekly {
                weekday: 4,
                minute: 540
            })
        );
        assert_eq!(
            Recurrence::parse("Daily 23:59"),
            Some(Recurrence::Daily { minute: 1439 })
        );
        for bad in [
            "weekly 09:00",
            "daily 24:00",
            "daily 9:00",
            "monthly 1 09:00",
            "weekly xyz 09:00",
            "",
        ] {
            assert_eq!(Recurrence::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn next_times() {
        let friday_nine = Recurrence::parse("weekly fri 09:00").unwrap();
        assert_eq!(
            friday_nine.next_after(THURSDAY),
            THURSDAY + DAY_MS + 9 * HOUR
        );
        // Exactly at the time: the next week.
        let at = THURSDAY + DAY_MS + 9 * HOUR;
        assert_eq!(friday_nine.next_after(at), at + 7 * DAY_MS);
        assert_eq!(friday_nine.next_after(at - 1), at);
        let thursday_eight = Recurrence::parse("weekly thu 08:00").unwrap();
        assert_eq!(thursday_eight.next_after(THURSDAY), THURSDAY + 8 * HOUR);
        assert_eq!(
            thursday_eight.next_after(THURSDAY + 9 * HOUR),
            THURSDAY + 7 * DAY_MS + 8 * HOUR
        );
        let daily = Recurrence::parse("daily 06:30").unwrap();
        assert_eq!(
            daily.next_after(THURSDAY + 7 * HOUR),
            THURSDAY + DAY_MS + 6 * HOUR + HOUR / 2
        );
    }
}
