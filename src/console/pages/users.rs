//! User mapping: internal users and the HubSpot owner their exported records get. Users that
//! need an admin (unmapped, owner archived or gone) come first and are highlighted; auto-map,
//! reset, and one row at a time with an owner picker that never offers archived owners.

use http::StatusCode;
use maud::{html, Markup};

use super::super::layout::{badge, csrf_field, field_error, notice, plural};
use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::Ctx;
use super::problem::{not_connected, Failure, Outcome};
use super::{confirmation, confirmed, portal, user_connection};
use crate::export::job;
use crate::ownership::{normalize, Reviewed, Standing, UserMap};
use crate::store::{MappingSource, Owner};

/// Export jobs whose users are listed too (those without a mapping show as unmapped).
const JOBS_SCANNED: usize = 500;

/// `GET /admin/users`.
pub fn page(ctx: &Ctx) -> Outcome {
    render(ctx, "", None, StatusCode::OK)
}

/// `POST /admin/users/auto`: maps each listed email (or every known user) to the active
/// owner with that email; manual mappings stay.
pub fn auto(ctx: &Ctx) -> Outcome {
    let Some(users) = user_map(ctx) else {
        return page(ctx);
    };
    let text = ctx.form.text("emails");
    let emails: Vec<String> = if ctx.form.get("known").is_some() {
        known(&users)?.into_iter().map(|user| user.email).collect()
    } else {
        text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
            .filter(|email| !email.is_empty())
            .map(str::to_owned)
            .collect()
    };
    if emails.is_empty() {
        return render(
            ctx,
            &text,
            Some("Enter at least one email address."),
            StatusCode::BAD_REQUEST,
        );
    }
    let bad: Vec<&String> = emails
        .iter()
        .filter(|e| normalize::email(e).is_none())
        .collect();
    if !bad.is_empty() {
        let list: Vec<&str> = bad.iter().map(|email| email.as_str()).collect();
        let message = format!(
            "Not email addresses: {}. Nothing was mapped.",
            list.join(", ")
        );
        return render(ctx, &text, Some(&message), StatusCode::BAD_REQUEST);
    }
    let mapped = users.auto(&emails)?;
    let unmapped = mapped.iter().filter(|m| m.owner_id.is_none()).count();
    let text = match unmapped {
        0 => format!(
            "Auto-mapped {}: every one has an owner.",
            plural(mapped.len(), "user", "users")
        ),
        n => format!(
            "Auto-mapped {}; {} found no owner with their email: highlighted below.",
            plural(mapped.len(), "user", "users"),
            plural(n, "user", "users")
        ),
    };
    Ok(Reply::redirect("/admin/users").with_flash(Flash::ok(text)))
}

/// `POST /admin/users/reset`: after switching portals, drops mappings whose owner is gone
/// and auto-maps everyone again.
pub fn reset(ctx: &Ctx) -> Outcome {
    if !confirmed(ctx) {
        return Ok(confirmation(
            ctx,
            Section::Users,
            "Reset the user mappings?",
            "Mappings whose owner this portal does not have are dropped, then every known user is auto-mapped again by email. Manual mappings to existing owners stay.",
            "Reset mappings",
            "/admin/users",
        ));
    }
    let Some(users) = user_map(ctx) else {
        return page(ctx);
    };
    let mapped = users.reset()?;
    Ok(
        Reply::redirect("/admin/users").with_flash(Flash::ok(format!(
            "Reset: {} mapped again by email.",
            plural(mapped.len(), "user", "users")
        ))),
    )
}

/// `POST /admin/users/{email}/remove`.
pub fn remove(ctx: &Ctx) -> Outcome {
    let email = &ctx.params[0];
    if !confirmed(ctx) {
        return Ok(confirmation(
            ctx,
            Section::Users,
            &format!("Remove the mapping of {email}?"),
            "Records this user exports then get an owner with the same email, else the fallback owner.",
            "Remove mapping",
            "/admin/users",
        ));
    }
    let Some(users) = user_map(ctx) else {
        return page(ctx);
    };
    let removed = users.remove(email)?;
    let flash = if removed {
        Flash::ok(format!("The mapping of {email} was removed."))
    } else {
        Flash::problem(format!("{email} had no mapping."))
    };
    Ok(Reply::redirect("/admin/users").with_flash(flash))
}

pub(super) fn user_map<'c>(ctx: &'c Ctx<'_>) -> Option<UserMap<'c>> {
    Some(UserMap {
        store: &ctx.state().store,
        portal: portal(ctx)?.hub_id,
    })
}

/// Everyone the gateway knows: mappings and users seen in export jobs.
fn known(users: &UserMap<'_>) -> Result<Vec<Reviewed>, Failure> {
    let seen = job::users(users.store, users.portal, JOBS_SCANNED)?;
    Ok(users.review(&seen)?)
}

fn render(ctx: &Ctx, emails: &str, error: Option<&str>, status: StatusCode) -> Outcome {
    let Some(users) = user_map(ctx) else {
        let content = html! { h1 { "User mapping" } (not_connected()) };
        return Ok(Reply::page(Section::Users, content));
    };
    let reviewed = known(&users)?;
    let state = ctx.state();
    let fallback = portal(ctx).map(|portal| state.fallback(&portal));
    let fallback_owner = fallback
        .and_then(|fallback| users.fallback_owner(&fallback).ok())
        .and_then(|id| {
            state
                .store
                .reference()
                .owner(users.portal, id)
                .ok()
                .flatten()
        });
    let attention = reviewed
        .iter()
        .filter(|u| u.standing.needs_attention())
        .count();
    let csrf = ctx.csrf();
    let connections = user_connection::shown(ctx);
    let content = html! {
        h1 { "User mapping" }
        p.lead { "Which HubSpot owner gets the records each internal user exports. Users who need you come first." }
        @if connections {
            (notice("info", html! { p { "Exports are created with each user's own HubSpot account (" a href="/admin/connection" { "Connection" } "): a user who has not connected gets " code { "user_not_connected" } ". Connect here opens HubSpot in this browser, where that user signs in; their product can start it too (" code { "POST /v1/users/{email}/connection/start" } ")." } }))
        }
        @if attention > 0 {
            (notice("warn", html! { p { strong { (plural(attention, "user needs", "users need")) " a mapping." } " Their exports get the fallback owner (or an owner with their email) until you map them." } }))
        }
        p {
            "Fallback owner: "
            @match &fallback_owner {
                Some(owner) => { strong { (owner_name(owner)) } " " span.muted { "(" (owner.email) ")" } }
                None => { (badge("bad", "none")) " — records of unmapped users cannot be exported" }
            }
        }
        div.table-wrap {
            table.stack {
                caption { "Internal users (" (reviewed.len()) ")" }
                thead { tr {
                    th scope="col" { "User" } th scope="col" { "HubSpot owner" } th scope="col" { "Source" } th scope="col" { "Status" }
                    @if connections { th scope="col" { "Own connection" } }
                    th scope="col" { "Actions" }
                } }
                tbody {
                    @if reviewed.is_empty() {
                        tr { td colspan=(if connections { 6 } else { 5 }) { span.muted { "No users yet: auto-map some below, or they appear when they first export." } } }
                    }
                    @for user in &reviewed {
                        (row(user, connections.then(|| user_connection::cell(ctx, &user.email)), csrf))
                    }
                }
            }
        }
        div.grid {
            section.card aria-labelledby="auto-heading" {
                h2 #auto-heading { "Auto-map by email" }
                form method="post" action="/admin/users/auto" {
                    (csrf_field(csrf))
                    div.field {
                        label for="emails" { "Internal users' emails" }
                        @if error.is_some() {
                            textarea #emails name="emails" rows="4" aria-invalid="true" aria-describedby="emails-error emails-hint" { (emails) }
                        } @else {
                            textarea #emails name="emails" rows="4" aria-describedby="emails-hint" { (emails) }
                        }
                        p.hint #emails-hint { "One per line (or separated by commas). Each is mapped to the active owner with the same email; manual mappings stay." }
                        (field_error("emails", error))
                    }
                    div.actions {
                        button type="submit" { "Auto-map these users" }
                        button.secondary type="submit" name="known" value="yes" { "Auto-map every user listed above" }
                    }
                }
            }
            section.card aria-labelledby="reset-heading" {
                h2 #reset-heading { "After switching portals" }
                p { "Drops mappings whose owner this portal does not have, then auto-maps every user again." }
                form method="post" action="/admin/users/reset" data-confirm="Reset the user mappings? Mappings to owners this portal lacks are dropped." {
                    (csrf_field(csrf))
                    div.actions { button.danger type="submit" { "Reset mappings" } }
                }
            }
        }
    };
    Ok(Reply::page(Section::Users, content).with_status(status))
}

/// One user; `connection`: their own HubSpot connection, when exports use users' accounts.
fn row(user: &Reviewed, connection: Option<Markup>, csrf: &str) -> Markup {
    let edit = format!("/admin/users/{}", encode(&user.email));
    html! {
        tr class=(if user.standing.needs_attention() { "attention" } else { "" }) {
            td data-label="User" { (user.email) }
            td data-label="HubSpot owner" {
                @match &user.owner {
                    Some(owner) => { (owner_name(owner)) br; span.muted { (owner.email) " · " (owner.id) } }
                    None => { span.muted { "—" } }
                }
            }
            td data-label="Source" { (match user.source {
                Some(MappingSource::Manual) => "manual",
                Some(MappingSource::Auto) => "auto",
                None => "seen in exports",
            }) }
            td data-label="Status" { (standing(user.standing)) }
            @if let Some(connection) = connection { td data-label="Own connection" { (connection) } }
            td data-label="Actions" {
                div.row {
                    a.button.small.secondary href=(edit) aria-label={ "Choose an owner for " (user.email) } { "Choose owner" }
                    @if user.standing == Standing::Detected {
                        @if let Some(owner) = &user.owner {
                            form method="post" action=(edit) {
                                (csrf_field(csrf))
                                input type="hidden" name="owner_id" value=(owner.id);
                                button.small type="submit" aria-label={ "Confirm the owner of " (user.email) } { "Confirm" }
                            }
                        }
                    }
                    @if user.source.is_some() {
                        form method="post" action={ (edit) "/remove" } data-confirm={ "Remove the mapping of " (user.email) "?" } {
                            (csrf_field(csrf))
                            button.small.link type="submit" aria-label={ "Remove the mapping of " (user.email) } { "Remove" }
                        }
                    }
                }
            }
        }
    }
}

fn standing(standing: Standing) -> Markup {
    match standing {
        Standing::Unmapped => badge("bad", "Unmapped"),
        Standing::OwnerArchived => badge("bad", "Owner archived"),
        Standing::OwnerMissing => badge("bad", "Owner not in this portal"),
        Standing::Detected => badge("info", "Detected by email"),
        Standing::Confirmed => badge("ok", "Confirmed"),
    }
}

pub(super) fn owner_name(owner: &Owner) -> String {
    let name = format!("{} {}", owner.first_name, owner.last_name);
    if name.trim().is_empty() {
        owner.email.clone()
    } else {
        name.trim().to_owned()
    }
}

pub(super) fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
