//! One export job: its state and live progress, its records (action, HubSpot record,
//! duplicates as links into HubSpot, owner, error) filtered by action and paged, each
//! record's details, and the results as a CSV download.

use std::collections::HashMap;

use maud::{html, Markup};
use serde_json::json;

use super::super::layout::{self, badge, notice, time};
use super::super::reply::{Reply, Section};
use super::super::Ctx;
use super::problem::{Failure, Outcome};
use super::{portal, type_title};
use crate::api::{Portal, State};
use crate::export::job::{self, Counts, Effect, Header, Row};
use crate::object::ObjectType;

/// Records per page of a job.
const PAGE_ROWS: usize = 100;

/// Owner names by id, for tables.
pub struct Names(HashMap<i64, String>);

impl Names {
    pub fn load(state: &State, portal: &Portal) -> Result<Names, Failure> {
        let owners = state.store.reference().owners(portal.hub_id)?;
        Ok(Names(
            owners
                .into_iter()
                .map(|owner| {
                    let name = format!("{} {}", owner.first_name, owner.last_name);
                    let name = if name.trim().is_empty() {
                        owner.email
                    } else {
                        name.trim().to_owned()
                    };
                    (owner.id, name)
                })
                .collect(),
        ))
    }

    fn of(&self, id: i64) -> String {
        self.0
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("owner {id}"))
    }
}

pub fn state_badge(state: job::State) -> Markup {
    match state {
        job::State::Done => badge("ok", "Done"),
        job::State::Failed => badge("bad", "Failed"),
        job::State::Running => badge("info", "Running"),
        job::State::Queued => badge("muted", "Queued"),
    }
}

/// The cells of a record's outcome: action, record, duplicates, owner, reason or error (with
/// a link to the record's page when `details` is given).
pub fn outcome_cells(
    outcome: &job::Outcome,
    kind: ObjectType,
    portal: &Portal,
    names: &Names,
    details: Option<&str>,
) -> Markup {
    let tone = match outcome.action {
        Effect::Created => "ok",
        Effect::Updated => "info",
        Effect::Skipped => "muted",
        Effect::Failed => "bad",
    };
    let action = badge(tone, outcome.action.as_str());
    html! {
        td data-label="Action" { (action) }
        td data-label="HubSpot record" { @if let Some(id) = outcome.id { a href=(portal.record_url(kind, id)) rel="noreferrer" { (id) } } @else { span.muted { "—" } } }
        td data-label="Duplicates" {
            @for (n, id) in outcome.duplicates.iter().enumerate() {
                @if n > 0 { ", " }
                a href=(portal.record_url(kind, *id)) rel="noreferrer" aria-label={ "Duplicate " (id) " in HubSpot" } { (id) }
            }
            @if outcome.duplicates.is_empty() { span.muted { "none" } }
        }
        td data-label="Owner" { @if let Some(owner) = outcome.owner_id { (names.of(owner)) } @else { span.muted { "—" } } }
        td data-label="Reason or error" {
            @if let Some(error) = &outcome.error {
                code { (error.code) } " " (error.message)
                @if let Some(property) = &error.property { " " span.muted { "(" (property) ")" } }
            } @else if let Some(reason) = &outcome.reason {
                (reason)
            }
            @if let Some(href) = details { " " a href=(href) { "Details" } }
        }
    }
}

/// The job the path names: its id, the portal, its header and rows.
pub(super) fn load(ctx: &Ctx) -> Result<(u64, std::sync::Arc<Portal>, Header, Vec<Row>), Failure> {
    let missing = || Failure::NotFound(format!("There is no export {}.", ctx.params[0]));
    let id: u64 = ctx.params[0].parse().map_err(|_| missing())?;
    let portal = portal(ctx).ok_or_else(missing)?;
    let store = &ctx.state().store;
    let header = job::header(store, portal.hub_id, id)?.ok_or_else(missing)?;
    let rows = job::rows(store, portal.hub_id, id)?;
    Ok((id, portal, header, rows))
}

/// `GET /admin/exports/{id}[?action=A&page=N]`.
pub fn page(ctx: &Ctx) -> Outcome {
    let (id, portal, header, rows) = load(ctx)?;
    let names = Names::load(ctx.state(), &portal)?;
    let counts = Counts::of(&rows);
    let filter = ctx.query("action").and_then(Effect::parse);
    let listed: Vec<(usize, &Row)> = rows
        .iter()
        .enumerate()
        .filter(|(_, row)| {
            filter.is_none_or(|action| row.outcome.as_ref().is_some_and(|o| o.action == action))
        })
        .collect();
    let pages = listed.len().div_ceil(PAGE_ROWS).max(1);
    let page: usize = ctx
        .query("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let live = !header.state.is_finished();
    let waiting = live
        .then(|| ctx.state().export_waiting(&ctx.site()))
        .flatten()
        .filter(|waiting| waiting.holds(id));
    let link = |action: Option<Effect>, page: usize| match action {
        Some(action) => format!("/admin/exports/{id}?action={}&page={page}", action.as_str()),
        None => format!("/admin/exports/{id}?page={page}"),
    };
    let content = html! {
        h1 { "Exports" }
        p { a href="/admin/exports" { "← All exports" } }
        section.card aria-labelledby="job-heading" data-progress=[live.then(|| format!("/admin/exports/{id}/progress"))] {
            h2 #job-heading { "Export " (id) " " (state_badge(header.state)) }
            dl.facts {
                dt { "Records" } dd { (header.total) " " (header.kind.name()) }
                dt { "For user" } dd { (header.user_email) }
                dt { "Started" } dd { (time(header.created_at_ms)) }
                dt { "Progress" } dd { (layout::progress(counts.done() as u64, u64::from(header.total), "Records with a result", &format!("{} of {}", counts.done(), header.total))) }
            }
            @if let Some(waiting) = &waiting { (notice("warn", html! { p { strong { "Waiting: " } (waiting.message) } })) }
            @if let Some(error) = &header.error { (notice("problem", html! { p { strong { "The export failed: " } (error.message) " " code { (error.code) } } })) }
            div.actions {
                a.button.secondary href={ "/admin/exports/" (id) "/results.csv" } download { "Download results (CSV)" }
            }
        }
        nav.row aria-label="Filter by action" {
            (filter_link(filter.is_none(), &link(None, 1), &format!("All ({})", rows.len())))
            @for (action, n) in Effect::ALL.into_iter().zip([counts.created, counts.updated, counts.skipped, counts.failed]) {
                (filter_link(filter == Some(action), &link(Some(action), 1), &format!("{} ({n})", type_title_word(action.as_str()))))
            }
        }
        div.table-wrap {
            table.stack {
                caption { (type_title(header.kind)) @if let Some(action) = filter { ": " (action.as_str()) } " — page " (page) " of " (pages) }
                thead { tr { th scope="col" { "#" } th scope="col" { "Ref" } th scope="col" { "Action" } th scope="col" { "HubSpot record" } th scope="col" { "Duplicates" } th scope="col" { "Owner" } th scope="col" { "Reason or error" } } }
                tbody {
                    @if listed.is_empty() { tr { td colspan="7" { span.muted { "No records here." } } } }
                    @for (index, row) in listed.iter().skip((page - 1) * PAGE_ROWS).take(PAGE_ROWS) {
                        @let details = format!("/admin/exports/{id}/records/{}", index + 1);
                        tr class=(if row.outcome.as_ref().is_some_and(|o| o.action == Effect::Failed) { "failed" } else { "" }) {
                            td.number data-label="#" { (index + 1) }
                            td data-label="Ref" { (row.reference) }
                            @match &row.outcome {
                                Some(outcome) => (outcome_cells(outcome, header.kind, &portal, &names, Some(&details))),
                                None => { td { (badge("muted", "pending")) } td {} td {} td {} td { a href=(details) { "Details" } } }
                            }
                        }
                    }
                }
            }
        }
        @if pages > 1 {
            nav.row aria-label="Pages" {
                @if page > 1 { a.button.secondary href=(link(filter, page - 1)) { "← Previous" } }
                span.muted { "Page " (page) " of " (pages) }
                @if page < pages { a.button.secondary href=(link(filter, page + 1)) { "Next →" } }
            }
        }
    };
    let reply = Reply::page(Section::Exports, content);
    Ok(if live { reply.refreshing() } else { reply })
}

fn filter_link(current: bool, href: &str, text: &str) -> Markup {
    html! {
        @if current { a.button href=(href) aria-current="true" { (text) } }
        @else { a.button.secondary href=(href) { (text) } }
    }
}

fn type_title_word(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// `GET /admin/exports/{id}/progress`: what the page's script polls.
pub fn progress_json(id: u64, header: &Header, rows: &[Row]) -> serde_json::Value {
    let counts = Counts::of(rows);
    json!({
        "export_id": id.to_string(),
        "state": header.state.as_str(),
        "total": header.total,
        "done": counts.done(),
        "words": format!("{} of {}", counts.done(), header.total),
        "created": counts.created,
        "updated": counts.updated,
        "skipped": counts.skipped,
        "failed": counts.failed,
        "finished": header.state.is_finished(),
    })
}

pub fn progress(ctx: &Ctx) -> Outcome {
    let (id, _, header, rows) = load(ctx)?;
    Ok(Reply::json(progress_json(id, &header, &rows)))
}
