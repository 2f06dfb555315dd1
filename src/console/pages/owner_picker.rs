//! The owner picker of one internal user: active owners matching a search (archived owners
//! are never offered), as radio buttons; saving makes a manual mapping (`UserMap::set`).

use http::StatusCode;
use maud::html;

use super::super::layout::{csrf_field, field_error};
use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::Ctx;
use super::problem::{not_connected, Outcome};
use super::users::{encode, owner_name, page, user_map};
use crate::ownership::MappingError;
use crate::store::Owner;

/// Owners listed at most; a search narrows them.
const PICKER_MAX: usize = 200;

/// `GET /admin/users/{email}`: the owner picker for one user.
pub fn edit(ctx: &Ctx) -> Outcome {
    editor(ctx, None, StatusCode::OK)
}

/// `POST /admin/users/{email}`: maps the user to the chosen owner (a manual mapping).
pub fn save(ctx: &Ctx) -> Outcome {
    let Some(users) = user_map(ctx) else {
        return page(ctx);
    };
    let Some(owner_id) = ctx.form.text("owner_id").parse::<i64>().ok() else {
        return editor(ctx, Some("Choose an owner."), StatusCode::BAD_REQUEST);
    };
    match users.set(&ctx.params[0], owner_id) {
        Ok(mapping) => Ok(
            Reply::redirect("/admin/users").with_flash(Flash::ok(format!(
                "{} is mapped to owner {owner_id}.",
                mapping.email
            ))),
        ),
        Err(error @ (MappingError::NoSuchOwner(_) | MappingError::BadEmail(_))) => {
            editor(ctx, Some(&error.to_string()), StatusCode::BAD_REQUEST)
        }
        Err(error) => Err(error.into()),
    }
}

/// The owner picker: active owners matching the search, as radio buttons.
fn editor(ctx: &Ctx, error: Option<&str>, status: StatusCode) -> Outcome {
    let email = &ctx.params[0];
    let Some(users) = user_map(ctx) else {
        let content = html! { h1 { "User mapping" } (not_connected()) };
        return Ok(Reply::page(Section::Users, content));
    };
    let current = ctx
        .state()
        .store
        .ownership()
        .mapping(users.portal, &email.to_lowercase())?;
    let search = ctx.query("q").unwrap_or("").trim().to_lowercase();
    let mut owners: Vec<Owner> = ctx
        .state()
        .store
        .reference()
        .owners(users.portal)?
        .into_iter()
        .filter(|owner| !owner.archived)
        .collect();
    owners.sort_by_key(|owner| owner_name(owner).to_lowercase());
    let total = owners.len();
    let shown: Vec<&Owner> = owners
        .iter()
        .filter(|owner| search.is_empty() || haystack(owner).contains(&search))
        .take(PICKER_MAX)
        .collect();
    let chosen = current.and_then(|mapping| mapping.owner_id);
    let content = html! {
        h1 { "User mapping" }
        div.card {
            h2 { "Choose the owner of " (email) }
            form method="get" action={ "/admin/users/" (encode(email)) } role="search" {
                div.field {
                    label for="q" { "Search owners" }
                    div.row {
                        input #q type="search" name="q" value=(search) data-filter="owner-list" autocomplete="off" aria-describedby="q-hint";
                        button.secondary type="submit" { "Search" }
                    }
                    p.hint #q-hint { "By name, email or id. Active owners only (" (total) "); archived owners are never offered." }
                }
            }
            form method="post" action={ "/admin/users/" (encode(email)) } {
                (csrf_field(ctx.csrf()))
                fieldset {
                    legend { "Owner" }
                    (field_error("owner", error))
                    @if shown.is_empty() {
                        p.muted { "No active owner matches \u{201c}" (search) "\u{201d}." }
                    }
                    ul.choices #owner-list {
                        @for owner in &shown {
                            li data-text=(haystack(owner)) {
                                label {
                                    @if chosen == Some(owner.id) {
                                        input type="radio" name="owner_id" value=(owner.id) checked;
                                    } @else {
                                        input type="radio" name="owner_id" value=(owner.id);
                                    }
                                    span { strong { (owner_name(owner)) } " " span.muted { (owner.email) " · " (owner.id) } }
                                }
                            }
                        }
                    }
                }
                div.actions {
                    button type="submit" { "Save mapping" }
                    a.button.secondary href="/admin/users" { "Cancel" }
                }
            }
        }
    };
    Ok(Reply::page(Section::Users, content).with_status(status))
}

/// What the owner search looks in.
fn haystack(owner: &Owner) -> String {
    format!("{} {} {}", owner_name(owner), owner.email, owner.id).to_lowercase()
}
