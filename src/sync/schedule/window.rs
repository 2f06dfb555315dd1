//! The daily UTC window reconciliation runs in, such as 02:00-05:00 (it may wrap midnight).

pub(super) const DAY_MS: i64 = 86_400_000;

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
    pub(super) fn length_ms(&self) -> i64 {
        let minutes = (self.end_minute - self.start_minute).rem_euclid(1440);
        if minutes == 0 {
            DAY_MS
        } else {
            minutes * 60_000
        }
    }

    /// When the occurrence of the window that begins on the UTC day `day` (days since the
    /// epoch) starts.
    pub(super) fn start_on(&self, day: i64) -> i64 {
        day * DAY_MS + self.start_minute * 60_000
    }

    /// The start of the occurrence holding `epoch_ms`, if it is inside the window.
    pub(super) fn occurrence(&self, epoch_ms: i64) -> Option<i64> {
        let day = epoch_ms.div_euclid(DAY_MS);
        [day, day - 1]
            .into_iter()
            .map(|day| self.start_on(day))
            .find(|start| (*start..start + self.length_ms()).contains(&epoch_ms))
    }

    /// The earliest time at or after `from_ms` inside the window.
    pub(super) fn next_inside(&self, from_ms: i64) -> i64 {
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
