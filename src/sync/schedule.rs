//! When reconciliation may run: inside a daily off-hours UTC window, either at most once per
//! configured interval (`[sync]`), or — overridden through the API or the console, per portal —
//! once a day or once a week on a chosen day. The override is persisted and read at every pass.

use serde::{Deserialize, Serialize};

use crate::store::{self, Store};
use crate::time::{Window, DAY_MS};

const META: &str = "sync.schedule";

/// Where `portal`'s override is kept.
fn meta_name(store: &Store, portal: Option<i64>) -> store::Result<String> {
    crate::connection::portal::setting_name(store, META, portal)
}

/// A day of the week (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
            Weekday::Sunday => "sunday",
        }
    }

    pub fn parse(text: &str) -> Option<Weekday> {
        Weekday::ALL.into_iter().find(|day| day.as_str() == text)
    }

    /// The weekday of an epoch-milliseconds time (1970-01-01 was a Thursday).
    pub fn of(epoch_ms: i64) -> Weekday {
        let index = (epoch_ms.div_euclid(DAY_MS) + 3).rem_euclid(7);
        Weekday::ALL[index as usize]
    }
}

/// How often a full reconciliation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    /// At most once per this many hours (`sync.reconcile_interval_hours`).
    Interval { hours: u64 },
    /// Once in every occurrence of the window.
    Daily,
    /// Once a week, in the window that starts on this day.
    Weekly(Weekday),
}

/// Where the schedule in effect comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Config,
    Override,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Override => "override",
        }
    }
}

/// The schedule of full reconciliations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub frequency: Frequency,
    pub window: Window,
    pub source: Source,
}

/// The persisted override (the API's PUT body, less what it may leave out).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    frequency: String,
    day: Option<Weekday>,
    window_utc: String,
}

/// What an override asks for: `frequency` "daily" or "weekly" (with `day`), and optionally
/// another window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub frequency: String,
    #[serde(default)]
    pub day: Option<String>,
    #[serde(default)]
    pub window_utc: Option<String>,
}

/// One problem of a [`Change`], with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("the schedule is invalid")]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl Schedule {
    /// The schedule the config describes.
    pub fn configured(interval_hours: u64, window: Window) -> Schedule {
        Schedule {
            frequency: Frequency::Interval {
                hours: interval_hours,
            },
            window,
            source: Source::Config,
        }
    }

    /// The schedule in effect for `portal`: its stored override, else `configured`.
    pub fn current(
        store: &Store,
        portal: Option<i64>,
        configured: Schedule,
    ) -> store::Result<Schedule> {
        let stored = store
            .meta(&meta_name(store, portal)?)?
            .and_then(|bytes| serde_json::from_slice::<Stored>(&bytes).ok());
        Ok(stored
            .and_then(|stored| stored.schedule())
            .unwrap_or(configured))
    }

    /// Validates `change` (every problem at once) and persists it as `portal`'s override. The
    /// window stays `configured`'s when the change names none.
    pub fn save(
        store: &Store,
        portal: Option<i64>,
        change: &Change,
        configured: Schedule,
    ) -> Result<Schedule, SaveError> {
        let schedule = change.validate(configured.window)?;
        let stored = Stored {
            frequency: change.frequency.clone(),
            day: match schedule.frequency {
                Frequency::Weekly(day) => Some(day),
                _ => None,
            },
            window_utc: schedule.window.to_string(),
        };
        // Invariant: a struct of strings serialises.
        let bytes = serde_json::to_vec(&stored).expect("schedule serialises");
        store.set_meta(&meta_name(store, portal)?, &bytes)?;
        store.commit()?;
        Ok(schedule)
    }

    /// Drops `portal`'s override: the config's schedule applies again.
    pub fn reset(store: &Store, portal: Option<i64>) -> store::Result<()> {
        store.remove_meta(&meta_name(store, portal)?)?;
        store.commit()
    }

    /// Whether a reconciliation is due at `now_ms`, the last one having run at `last_ms`.
    pub fn due(&self, last_ms: Option<i64>, now_ms: i64) -> bool {
        match self.frequency {
            Frequency::Interval { hours } => {
                self.window
                    .due(last_ms, now_ms, hours.saturating_mul(3_600_000) as i64)
            }
            Frequency::Daily | Frequency::Weekly(_) => {
                let Some(start) = self.window.occurrence(now_ms) else {
                    return false;
                };
                self.day_matches(start) && last_ms.is_none_or(|last| last < start)
            }
        }
    }

    /// When the next reconciliation will be due (at the latest a week and a day away).
    pub fn next_run(&self, last_ms: Option<i64>, now_ms: i64) -> i64 {
        if let Frequency::Interval { hours } = self.frequency {
            let rested = last_ms.map_or(now_ms, |last| last + (hours * 3_600_000) as i64);
            return self.window.next_inside(rested.max(now_ms));
        }
        let today = now_ms.div_euclid(DAY_MS);
        (today - 1..today + 9)
            .map(|day| self.window.start_on(day))
            .filter(|start| start + self.window.length_ms() > now_ms)
            .filter(|start| self.day_matches(*start))
            .find(|start| last_ms.is_none_or(|last| last < *start))
            .map_or(now_ms, |start| start.max(now_ms))
    }

    fn day_matches(&self, occurrence_start: i64) -> bool {
        match self.frequency {
            Frequency::Weekly(day) => Weekday::of(occurrence_start) == day,
            _ => true,
        }
    }
}

impl Stored {
    fn schedule(&self) -> Option<Schedule> {
        let frequency = match (self.frequency.as_str(), self.day) {
            ("daily", _) => Frequency::Daily,
            ("weekly", Some(day)) => Frequency::Weekly(day),
            _ => return None,
        };
        Some(Schedule {
            frequency,
            window: Window::parse(&self.window_utc)?,
            source: Source::Override,
        })
    }
}

impl Change {
    fn validate(&self, default_window: Window) -> Result<Schedule, SaveError> {
        let mut problems = Vec::new();
        let day = self.day.as_deref().map(str::trim).filter(|d| !d.is_empty());
        let frequency = match (self.frequency.as_str(), day) {
            ("daily", _) => Some(Frequency::Daily),
            ("weekly", Some(day)) => match Weekday::parse(&day.to_lowercase()) {
                Some(day) => Some(Frequency::Weekly(day)),
                None => {
                    problems.push(problem("day", format!("{day:?} is not a day of the week")));
                    None
                }
            },
            ("weekly", None) => {
                problems.push(problem("day", "a weekly schedule needs a day".into()));
                None
            }
            (other, _) => {
                problems.push(problem(
                    "frequency",
                    format!("{other:?} must be daily or weekly"),
                ));
                None
            }
        };
        let window = match self.window_utc.as_deref().map(str::trim) {
            None | Some("") => Some(default_window),
            Some(text) => Window::parse(text).or_else(|| {
                problems.push(problem(
                    "window_utc",
                    format!("{text:?} must be a UTC window like 02:00-05:00"),
                ));
                None
            }),
        };
        match (frequency, window) {
            (Some(frequency), Some(window)) if problems.is_empty() => Ok(Schedule {
                frequency,
                window,
                source: Source::Override,
            }),
            _ => Err(SaveError::Invalid(problems)),
        }
    }
}

fn problem(field: &'static str, message: String) -> Problem {
    Problem { field, message }
}

#[cfg(test)]
mod tests;
