//! Daily UTC windows (such as the reconciliation window): whether an instant falls inside,
//! when an occurrence starts, and whether a run at most once per interval is due.

pub const DAY_MS: i64 = 86_400_000;

/// A daily UTC window such as 02:00-05:00 (it may wrap midnight, e.g. 22:00-04:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    start_minute: i64,
    end_minute: i64,
}

impl Window {
    /// Parses "HH:MM-HH:MM"; equal ends mean "all day".
    pub fn parse(text: &str) -> Option<Window> {
        let (start, end) = text.split_once('-')?;
        Some(Window {
            start_minute: minute_of_day(start)?,
            end_minute: minute_of_day(end)?,
        })
    }

    pub fn contains(&self, epoch_ms: i64) -> bool {
        let minute = epoch_ms.rem_euclid(DAY_MS) / 60_000;
        if self.start_minute == self.end_minute {
            true
        } else if self.start_minute < self.end_minute {
            (self.start_minute..self.end_minute).contains(&minute)
        } else {
            minute >= self.start_minute || minute < self.end_minute
        }
    }

    /// Whether a run is due at `now_ms`, given the last one and the minimum interval.
    pub fn due(&self, last_run_ms: Option<i64>, now_ms: i64, interval_ms: i64) -> bool {
        let rested = last_run_ms.is_none_or(|last| now_ms - last >= interval_ms);
        rested && self.contains(now_ms)
    }

    /// The window's length (a whole day when its ends are equal).
    pub fn length_ms(&self) -> i64 {
        let minutes = (self.end_minute - self.start_minute).rem_euclid(1440);
        if minutes == 0 {
            DAY_MS
        } else {
            minutes * 60_000
        }
    }

    /// When the occurrence of the window that begins on the UTC day `day` (days since the
    /// epoch) starts.
    pub fn start_on(&self, day: i64) -> i64 {
        day * DAY_MS + self.start_minute * 60_000
    }

    /// The start of the occurrence holding `epoch_ms`, if it is inside the window.
    pub fn occurrence(&self, epoch_ms: i64) -> Option<i64> {
        let day = epoch_ms.div_euclid(DAY_MS);
        [day, day - 1]
            .into_iter()
            .map(|day| self.start_on(day))
            .find(|start| (*start..start + self.length_ms()).contains(&epoch_ms))
    }

    /// The earliest time at or after `from_ms` inside the window.
    pub fn next_inside(&self, from_ms: i64) -> i64 {
        if self.contains(from_ms) {
            return from_ms;
        }
        let day = from_ms.div_euclid(DAY_MS);
        (day..day + 2)
            .map(|day| self.start_on(day))
            .find(|start| *start >= from_ms)
            .unwrap_or(from_ms)
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (start, end) = (self.start_minute, self.end_minute);
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            start / 60,
            start % 60,
            end / 60,
            end % 60
        )
    }
}

fn minute_of_day(text: &str) -> Option<i64> {
    let (hours, minutes) = text.trim().split_once(':')?;
    let (hours, minutes): (i64, i64) = (hours.parse().ok()?, minutes.parse().ok()?);
    ((0..24).contains(&hours) && (0..60).contains(&minutes)).then_some(hours * 60 + minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn windows_and_due_times() {
        let night = Window::parse("02:00-05:00").unwrap();
        assert!(
            night.contains(2 * HOUR) && night.contains(5 * HOUR - 1) && !night.contains(5 * HOUR)
        );
        assert!(night.contains(DAY_MS * 100 + 3 * HOUR));
        let wrap = Window::parse("22:30-04:00").unwrap();
        assert!(wrap.contains(23 * HOUR) && wrap.contains(HOUR) && !wrap.contains(12 * HOUR));
        assert!(Window::parse("00:00-00:00").unwrap().contains(13 * HOUR));
        for bad in ["", "2-5", "25:00-01:00", "02:00", "02:60-03:00"] {
            assert_eq!(Window::parse(bad), None, "{bad:?}");
        }
        let now = DAY_MS * 10 + 3 * HOUR;
        assert!(night.due(None, now, 24 * HOUR));
        assert!(!night.due(Some(now - HOUR), now, 24 * HOUR));
        assert!(night.due(Some(now - 24 * HOUR), now, 24 * HOUR));
        assert!(!night.due(None, now + 6 * HOUR, 24 * HOUR));
        assert_eq!(wrap.to_string(), "22:30-04:00");
    }
}
