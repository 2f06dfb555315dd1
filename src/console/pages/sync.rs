//! Sync and filtering: per mirrored type its records, sync times, cursor, backfill progress
//! and match rate as bars, the last reconciliation; Run Now, Clear matches (confirmed); and
//! the schedule of full reconciliations (daily, or weekly on a chosen day).

use http::StatusCode;
use maud::{html, Markup};

use super::super::layout::{
    badge, count, csrf_field, field_error, maybe_time, notice, percent, plural, progress, time,
};
use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::Ctx;
use super::problem::{not_connected, Failure, Outcome};
use super::{confirmation, confirmed, hub_id, portal, type_title};
use crate::object::ObjectType;
use crate::sync::schedule::{Change, Frequency, SaveError, Schedule, Source, Weekday};
use crate::sync::TypeStatus;
use crate::time::now_ms;

/// `GET /admin/sync`.
pub fn page(ctx: &Ctx) -> Outcome {
    render(ctx, None, &[], StatusCode::OK)
}

/// `POST /admin/sync/{type}/run`: Run Now (`full` asks for a reconciliation).
pub fn run_now(ctx: &Ctx) -> Outcome {
    let kind = kind(ctx)?;
    let full = ctx.form.get("full") == Some("yes");
    let flash = if ctx.site().request_sync(kind, full) {
        let what = if full {
            "A full reconciliation"
        } else {
            "A sync pass"
        };
        Flash::ok(format!(
            "{what} of {} was requested; the times below change when it has run.",
            kind.name()
        ))
    } else {
        Flash::problem("Sync is not running (disabled, or not connected to HubSpot yet).")
    };
    Ok(Reply::redirect("/admin/sync").with_flash(flash))
}

/// `POST /admin/sync/{type}/clear-matches`: forgets recorded matches (never touches HubSpot).
pub fn clear_matches(ctx: &Ctx) -> Outcome {
    let kind = kind(ctx)?;
    let Some(portal) = portal(ctx) else {
        return page(ctx);
    };
    if !confirmed(ctx) {
        return Ok(confirmation(
            ctx,
            Section::Sync,
            &format!("Clear the recorded matches of {}?", kind.name()),
            "The match counts and first-matched times start again from zero. Nothing changes in HubSpot.",
            "Clear matches",
            "/admin/sync",
        ));
    }
    let cleared = ctx
        .state()
        .store
        .ownership()
        .clear_matches(portal.hub_id, kind)?;
    Ok(Reply::redirect("/admin/sync").with_flash(Flash::ok(format!(
        "Cleared {} of {}.",
        plural(cleared as usize, "recorded match", "recorded matches"),
        kind.name()
    ))))
}

/// `POST /admin/sync/schedule`.
pub fn save_schedule(ctx: &Ctx) -> Outcome {
    let change = Change {
        frequency: ctx.form.text("frequency"),
        day: Some(ctx.form.text("day")),
        window_utc: Some(ctx.form.text("window_utc")),
    };
    let configured = ctx.state().cycle.borrow().schedule();
    match Schedule::save(&ctx.state().store, hub_id(ctx), &change, configured) {
        Ok(_) => {
            Ok(Reply::redirect("/admin/sync")
                .with_flash(Flash::ok("Reconciliation schedule saved.")))
        }
        Err(SaveError::Invalid(problems)) => {
            let problems: Vec<(&str, String)> =
                problems.into_iter().map(|p| (p.field, p.message)).collect();
            render(ctx, Some(&change), &problems, StatusCode::BAD_REQUEST)
        }
        Err(SaveError::Store(error)) => Err(error.into()),
    }
}

/// `POST /admin/sync/schedule/reset`.
pub fn reset_schedule(ctx: &Ctx) -> Outcome {
    Schedule::reset(&ctx.state().store, hub_id(ctx))?;
    Ok(Reply::redirect("/admin/sync").with_flash(Flash::ok(
        "The config's reconciliation schedule applies again.",
    )))
}

fn kind(ctx: &Ctx) -> Result<ObjectType, Failure> {
    let kind: ObjectType = ctx.params[0].parse().map_err(Failure::NotFound)?;
    if !ctx.state().objects.contains(&kind) {
        return Err(Failure::NotFound(format!(
            "{kind} are not mirrored (sync.objects)"
        )));
    }
    Ok(kind)
}

fn render(
    ctx: &Ctx,
    change: Option<&Change>,
    problems: &[(&str, String)],
    status: StatusCode,
) -> Outcome {
    let state = ctx.state();
    let hub_id = hub_id(ctx);
    let schedule = state.schedule(hub_id)?;
    let csrf = ctx.csrf();
    let running = ctx.site().syncer().is_some();
    let types = match portal(ctx) {
        Some(portal) => state
            .objects
            .iter()
            .map(|kind| TypeStatus::load(&state.store, portal.hub_id, *kind))
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let content = html! {
        h1 { "Sync and filtering" }
        p.lead { "How current the mirror is per record type, how many of its records lookups have matched, and when HubSpot is compared record by record." }
        @if portal(ctx).is_none() { (not_connected()) }
        @else if !running { (notice("warn", html! { p { "Sync is not running: " code { "[sync] enabled" } " is off, or the gateway has not connected yet. Run Now is unavailable." } })) }
        div.grid.wide {
            @for status in &types { (type_card(status, csrf, running)) }
        }
        div.grid.wide {
            (schedule_card(&schedule, state.last_reconcile_ms(hub_id), change, problems, csrf))
            (filtering_card(&state.objects))
        }
    };
    Ok(Reply::page(Section::Sync, content).with_status(status))
}

fn type_card(status: &TypeStatus, csrf: &str, running: bool) -> Markup {
    let name = status.kind.name();
    let heading = format!("sync-{name}");
    html! {
        section.card aria-labelledby=(heading) {
            h2 id=(heading) { (type_title(status.kind)) " " (state_badge(status, running)) }
            dl.facts {
                dt { "Records" } dd { (count(status.count)) }
                dt { "Last full sync" } dd { (maybe_time(status.last_full_sync_ms, "not yet")) }
                dt { "Last incremental sync" } dd data-sync-time=(name) { (maybe_time(status.last_incremental_sync_ms, "not yet")) }
                dt { "Cursor" } dd { (maybe_time(status.cursor_ms, "none")) }
                @if let Some(backfill) = status.backfill {
                    dt { "Backfill" }
                    dd {
                        @match backfill.expected {
                            Some(expected) => (progress(backfill.stored, expected, &format!("Backfill of {name}"), &format!("{} of {}", count(backfill.stored), count(expected)))),
                            None => { (count(backfill.stored)) " stored so far" }
                        }
                    }
                }
                dt { "Matched" }
                dd { (progress(status.matched, status.count, &format!("Match rate of {name}"), &format!("{} · {}", count(status.matched), percent(status.match_rate)))) }
                dt { "Last reconciliation" }
                dd {
                    (maybe_time(status.last_reconcile_ms, "never"))
                    @if status.last_reconcile_ms.is_some() { br; span.muted { (plural(status.last_reconcile_repaired as usize, "record", "records")) " repaired" } }
                }
            }
            div.actions {
                form method="post" action={ "/admin/sync/" (name) "/run" } {
                    (csrf_field(csrf))
                    button type="submit" disabled[!running] aria-label={ "Run now: sync " (name) } { "Run Now" }
                }
                form method="post" action={ "/admin/sync/" (name) "/run" } {
                    (csrf_field(csrf))
                    input type="hidden" name="full" value="yes";
                    button.secondary type="submit" disabled[!running] aria-label={ "Reconcile " (name) " now" } { "Reconcile now" }
                }
                form method="post" action={ "/admin/sync/" (name) "/clear-matches" } data-confirm={ "Clear " (plural(status.matched as usize, "recorded match", "recorded matches")) " of " (name) "? Nothing changes in HubSpot." } {
                    (csrf_field(csrf))
                    button.danger type="submit" aria-label={ "Clear matches of " (name) } { "Clear matches" }
                }
            }
        }
    }
}

fn state_badge(status: &TypeStatus, running: bool) -> Markup {
    match (status.backfill, status.last_full_sync_ms, running) {
        (Some(_), _, _) => badge("info", "Backfilling"),
        (None, None, _) => badge("muted", "Not synced yet"),
        (None, Some(_), true) => badge("ok", "Syncing"),
        (None, Some(_), false) => badge("warn", "Paused"),
    }
}

fn schedule_card(
    schedule: &Schedule,
    last: Option<i64>,
    change: Option<&Change>,
    problems: &[(&str, String)],
    csrf: &str,
) -> Markup {
    let error = |field: &str| {
        problems
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    };
    let (frequency, day) = match (change, schedule.frequency) {
        (Some(change), _) => (
            change.frequency.clone(),
            change.day.clone().unwrap_or_default(),
        ),
        (None, Frequency::Weekly(day)) => ("weekly".into(), day.as_str().into()),
        (None, _) => ("daily".into(), "sunday".into()),
    };
    let window = change
        .and_then(|change| change.window_utc.clone())
        .unwrap_or_else(|| schedule.window.to_string());
    html! {
        section.card aria-labelledby="schedule-heading" {
            h2 #schedule-heading { "Full reconciliation" }
            p { "Compares every record with HubSpot and repairs what webhooks and polling missed. Now: " strong { (describe(schedule)) }
                " " @if schedule.source == Source::Override { (badge("info", "saved for this account")) } @else { (badge("muted", "from the config")) } }
            p { "Next run: " (time(schedule.next_run(last, now_ms()))) }
            form method="post" action="/admin/sync/schedule" {
                (csrf_field(csrf))
                div.grid {
                    div.field {
                        label for="frequency" { "Runs" }
                        select #frequency name="frequency" aria-invalid=[error("frequency").map(|_| "true")] aria-describedby="frequency-error" {
                            option value="daily" selected[frequency == "daily"] { "Daily" }
                            option value="weekly" selected[frequency == "weekly"] { "Weekly" }
                        }
                        (field_error("frequency", error("frequency")))
                    }
                    div.field {
                        label for="day" { "Day (weekly)" }
                        select #day name="day" aria-invalid=[error("day").map(|_| "true")] aria-describedby="day-error" {
                            @for weekday in Weekday::ALL {
                                option value=(weekday.as_str()) selected[day == weekday.as_str()] { (title(weekday.as_str())) }
                            }
                        }
                        (field_error("day", error("day")))
                    }
                    div.field {
                        label for="window_utc" { "Window (UTC)" }
                        input #window_utc type="text" name="window_utc" value=(window) pattern="[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}" aria-invalid=[error("window_utc").map(|_| "true")] aria-describedby="window_utc-hint window_utc-error";
                        p.hint #window_utc-hint { "HH:MM-HH:MM, e.g. 02:00-05:00; it may wrap midnight." }
                        (field_error("window_utc", error("window_utc")))
                    }
                }
                div.actions { button type="submit" { "Save schedule" } }
            }
            @if schedule.source.as_str() == "override" {
                form method="post" action="/admin/sync/schedule/reset" {
                    (csrf_field(csrf))
                    button.secondary type="submit" { "Use the config's schedule" }
                }
            }
        }
    }
}

fn filtering_card(objects: &[ObjectType]) -> Markup {
    let names: Vec<&str> = objects.iter().map(|kind| kind.name()).collect();
    html! {
        section.card aria-labelledby="filtering-heading" {
            h2 #filtering-heading { "Filtering" }
            p { "The mirror holds every record of " strong { (names.join(", ")) } " (" code { "[sync] objects" } " in the config), so any filter can be answered without asking HubSpot." }
            p { "Filters are chosen per request by the services that ask for in-CRM indicators (" code { "POST /v1/indicators" } "):" }
            ul {
                li { "owners: include or exclude up to 10 owners" }
                li { "company types (e.g. PROSPECT)" }
                li { "deals created within a number of days" }
                li { "contacts who opted out of email left out" }
            }
            p.hint { "Matched records above are those such lookups found; clearing them restarts the counts and first-matched times." }
        }
    }
}

fn describe(schedule: &Schedule) -> String {
    let window = schedule.window;
    match schedule.frequency {
        Frequency::Interval { hours } => format!("at most every {hours} h, between {window} UTC"),
        Frequency::Daily => format!("daily, between {window} UTC"),
        Frequency::Weekly(day) => {
            format!("weekly on {}, between {window} UTC", title(day.as_str()))
        }
    }
}

fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}
