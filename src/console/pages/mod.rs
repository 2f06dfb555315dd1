//! One module per console page (and the sign-in and problem pages). Each reads what it shows
//! through the domain modules and renders it; what a form changes goes through the same
//! function as the JSON API.

pub mod connection;
pub mod connection_forms;
pub mod exports;
pub mod job;
pub mod job_record;
pub mod mapping;
mod mapping_form;
pub mod mapping_test;
pub mod owner_picker;
pub mod portal;
pub mod problem;
pub mod settings;
pub mod sign_in;
pub mod sync;
pub mod user_connection;
pub mod users;
pub mod webhooks;

use std::sync::Arc;

use super::Ctx;
use crate::api::Portal;
use crate::object::ObjectType;

/// The portal the page shows, if the gateway has connected to it.
pub fn portal(ctx: &Ctx) -> Option<Arc<Portal>> {
    ctx.site().portal()
}

/// The id of the portal the page shows, once connected.
pub fn hub_id(ctx: &Ctx) -> Option<i64> {
    portal(ctx).map(|portal| portal.hub_id)
}

/// The export types, as a path segment names them.
pub fn export_type(name: &str) -> Option<ObjectType> {
    match name {
        "companies" => Some(ObjectType::Companies),
        "contacts" => Some(ObjectType::Contacts),
        _ => None,
    }
}

/// "Contacts" for contacts.
pub fn type_title(kind: ObjectType) -> String {
    let name = kind.name();
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

/// "contact" for contacts.
pub fn singular(kind: ObjectType) -> &'static str {
    match kind {
        ObjectType::Contacts => "contact",
        ObjectType::Companies => "company",
        ObjectType::Deals => "deal",
        ObjectType::Tasks => "task",
    }
}

/// Whether a confirmation came with the post (the script's dialog, or the confirmation page).
pub fn confirmed(ctx: &Ctx) -> bool {
    ctx.form.get("confirmed") == Some("yes")
}

/// The page that asks before a destructive post when the script did not (scripts off): the
/// same form again, confirmed.
pub fn confirmation(
    ctx: &Ctx,
    section: super::reply::Section,
    question: &str,
    detail: &str,
    button: &str,
    back: &str,
) -> super::reply::Reply {
    use maud::html;
    let action = ctx.path.clone();
    let content = html! {
        h1 { (section.title()) }
        div.card {
            h2 { (question) }
            p { (detail) }
            form method="post" action=(action) {
                (super::layout::csrf_field(ctx.csrf()))
                input type="hidden" name="confirmed" value="yes";
                @for (name, value) in ctx.form.fields.iter().filter(|(name, _)| name != "csrf" && name != "confirmed") {
                    input type="hidden" name=(name) value=(value);
                }
                div.actions {
                    button.danger type="submit" { (button) }
                    a.button.secondary href=(back) { "Cancel" }
                }
            }
        }
    };
    super::reply::Reply::page(section, content)
}
