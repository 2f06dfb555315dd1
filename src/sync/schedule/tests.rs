//! Daily and weekly schedules, next run times, and the persisted override.

use super::*;

const HOUR: i64 = 3_600_000;
/// 2026-01-04, a Sunday, 00:00 UTC.
const SUNDAY: i64 = 20_457 * DAY_MS;

#[test]
fn weekdays_follow_the_calendar() {
    assert_eq!(Weekday::of(0), Weekday::Thursday);
    assert_eq!(Weekday::of(SUNDAY), Weekday::Sunday);
    assert_eq!(Weekday::of(SUNDAY + DAY_MS - 1), Weekday::Sunday);
    assert_eq!(Weekday::of(SUNDAY + DAY_MS), Weekday::Monday);
    assert_eq!(Weekday::of(-1), Weekday::Wednesday);
}

fn schedule(frequency: Frequency, window: &str) -> Schedule {
    Schedule {
        frequency,
        window: Window::parse(window).unwrap(),
        source: Source::Override,
    }
}

#[test]
fn daily_runs_once_per_window_occurrence() {
    let daily = schedule(Frequency::Daily, "02:00-05:00");
    let inside = SUNDAY + 3 * HOUR;
    assert!(daily.due(None, inside));
    assert!(daily.due(Some(inside - 20 * HOUR), inside));
    assert!(
        !daily.due(Some(SUNDAY + 2 * HOUR + 1), inside),
        "ran in this window"
    );
    assert!(!daily.due(None, SUNDAY + 6 * HOUR), "outside the window");
    // A window across midnight belongs to the day it starts on.
    let late = schedule(Frequency::Daily, "22:00-04:00");
    assert!(late.due(Some(SUNDAY - 3 * HOUR), SUNDAY + HOUR));
    assert!(!late.due(Some(SUNDAY - HOUR), SUNDAY + 2 * HOUR));
}

#[test]
fn weekly_runs_only_in_the_window_starting_on_its_day() {
    let weekly = schedule(Frequency::Weekly(Weekday::Sunday), "22:00-04:00");
    assert!(weekly.due(None, SUNDAY + 23 * HOUR));
    assert!(
        weekly.due(None, SUNDAY + DAY_MS + HOUR),
        "Monday 01:00 is Sunday's window"
    );
    assert!(
        !weekly.due(None, SUNDAY + HOUR),
        "Sunday 01:00 is Saturday's window"
    );
    assert!(!weekly.due(Some(SUNDAY + 22 * HOUR), SUNDAY + 23 * HOUR));
}

#[test]
fn next_run_is_the_next_eligible_window() {
    let weekly = schedule(Frequency::Weekly(Weekday::Wednesday), "02:00-05:00");
    // From Sunday noon: Wednesday 02:00.
    assert_eq!(
        weekly.next_run(None, SUNDAY + 12 * HOUR),
        SUNDAY + 3 * DAY_MS + 2 * HOUR
    );
    // Inside Wednesday's window, not yet run: now.
    let inside = SUNDAY + 3 * DAY_MS + 3 * HOUR;
    assert_eq!(weekly.next_run(Some(inside - DAY_MS), inside), inside);
    // Ran in it already: next Wednesday.
    assert_eq!(
        weekly.next_run(Some(inside - 1), inside),
        SUNDAY + 10 * DAY_MS + 2 * HOUR
    );
    let daily = schedule(Frequency::Daily, "02:00-05:00");
    assert_eq!(
        daily.next_run(Some(SUNDAY + 2 * HOUR), SUNDAY + 4 * HOUR),
        SUNDAY + DAY_MS + 2 * HOUR
    );
    let every = Schedule::configured(24, Window::parse("02:00-05:00").unwrap());
    assert_eq!(
        every.next_run(Some(SUNDAY + 4 * HOUR), SUNDAY + 6 * HOUR),
        SUNDAY + DAY_MS + 4 * HOUR
    );
    assert_eq!(
        every.next_run(None, SUNDAY + 6 * HOUR),
        SUNDAY + DAY_MS + 2 * HOUR
    );
}

#[test]
fn changes_report_every_problem_by_field() {
    let window = Window::parse("02:00-05:00").unwrap();
    let check = |frequency: &str, day: Option<&str>, window_utc: Option<&str>| {
        let change = Change {
            frequency: frequency.into(),
            day: day.map(Into::into),
            window_utc: window_utc.map(Into::into),
        };
        match change.validate(window) {
            Ok(schedule) => Ok(schedule.frequency),
            Err(SaveError::Invalid(problems)) => {
                Err(problems.iter().map(|p| p.field).collect::<Vec<_>>())
            }
            Err(other) => panic!("{other}"),
        }
    };
    assert_eq!(check("daily", None, None), Ok(Frequency::Daily));
    assert_eq!(
        check("weekly", Some("Friday"), Some("01:00-02:00")),
        Ok(Frequency::Weekly(Weekday::Friday))
    );
    assert_eq!(
        check("weekly", None, Some("bad")),
        Err(vec!["day", "window_utc"])
    );
    assert_eq!(check("hourly", None, None), Err(vec!["frequency"]));
    assert_eq!(check("weekly", Some("someday"), None), Err(vec!["day"]));
}

#[test]
fn each_portal_keeps_its_override_until_reset() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    crate::connection::portal::remember_sites(&store, 1, &[2]);
    let configured = Schedule::configured(24, Window::parse("02:00-05:00").unwrap());
    let current = |portal| Schedule::current(&store, Some(portal), configured).unwrap();
    assert_eq!(current(1), configured);
    let change = Change {
        frequency: "weekly".into(),
        day: Some("tuesday".into()),
        window_utc: None,
    };
    let saved = Schedule::save(&store, Some(2), &change, configured).unwrap();
    assert_eq!(saved.frequency, Frequency::Weekly(Weekday::Tuesday));
    assert_eq!(saved.window, configured.window);
    assert_eq!(saved.source, Source::Override);
    assert_eq!(current(2), saved);
    assert_eq!(current(1), configured, "another portal's override");
    Schedule::reset(&store, Some(2)).unwrap();
    assert_eq!(current(2), configured);
}
