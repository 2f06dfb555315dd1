//! The Connection page's forms: Connect / Reconnect / Change user (on to HubSpot's authorize
//! page), Disconnect (confirmed first), the export preference and the "exports enabled"
//! switch, removing the account (confirmed first) — each the call the JSON API makes.

use maud::html;

use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::Ctx;
use super::connection::removal_consequences;
use super::problem::{Failure, Outcome};
use super::{confirmation, confirmed, hub_id};
use crate::api::removal::{self, Refused};
use crate::connection::{ExportConnection, Who, CONSOLE};

/// `POST /admin/connection/connect`: Connect, Reconnect and Change user alike start the
/// flow; the next page sends the browser on to HubSpot's authorize URL.
pub fn connect(ctx: &Ctx) -> Outcome {
    match ctx.site().connections.start(&Who::Service, CONSOLE) {
        Ok(url) => Ok(to_hubspot(
            &url,
            "HubSpot asks you to sign in, choose the account and consent; then you come back here.",
        )),
        Err(refusal) => Ok(Reply::redirect("/admin/connection")
            .with_flash(Flash::problem(format!("Not started: {refusal}.")))),
    }
}

/// The page between a Connect post and HubSpot: the console's policy lets forms post only to
/// itself, so the browser goes on by a link (followed at once by the script).
pub fn to_hubspot(authorize_url: &str, what_next: &str) -> Reply {
    let content = html! {
        h1 { "Connect to HubSpot" }
        div.card {
            p { (what_next) }
            div.actions { a.button #continue href=(authorize_url) data-go { "Continue to HubSpot" } }
            p.hint { "The link works once, for 10 minutes." }
        }
    };
    Reply::page(Section::Connection, content)
}

/// `POST /admin/connection/disconnect` (confirmed first): revokes the refresh token at
/// HubSpot and forgets it.
pub fn disconnect(ctx: &Ctx) -> Outcome {
    if !confirmed(ctx) {
        return Ok(confirmation(
            ctx,
            Section::Connection,
            "Disconnect from HubSpot?",
            "The gateway revokes its token at HubSpot; sync and exports stop until someone connects again. The mirror and the mappings stay.",
            "Disconnect",
            "/admin/connection",
        ));
    }
    let flash = match ctx.wait(ctx.site().connections.disconnect()) {
        Ok(_) => Flash::ok("Disconnected: sync and exports wait until someone connects again."),
        Err(refusal) => Flash::problem(format!("Not disconnected: {refusal}.")),
    };
    Ok(Reply::redirect("/admin/connection").with_flash(flash))
}

/// `POST /admin/connection/remove` (confirmed first): removes the account the page shows
/// from the deployment, as `DELETE /v1/portals/{id}` does (`api::removal::request`). The form
/// names the account it showed; a page that shows another by now (switched in another tab)
/// removes nothing. No session shows the account afterwards: their pages fall back to another,
/// or to "not connected".
pub fn remove(ctx: &Ctx) -> Outcome {
    let back = || Reply::redirect("/admin/connection");
    let named = ctx
        .form
        .get("portal")
        .and_then(|text| text.trim().parse().ok());
    let Some(hub_id) = hub_id(ctx).filter(|shown| named == Some(*shown)) else {
        return Ok(back().with_flash(Flash::problem(
            "Nothing was removed: the page no longer shows that HubSpot account. Check the \
             account shown, then try again.",
        )));
    };
    if !confirmed(ctx) {
        return Ok(confirmation(
            ctx,
            Section::Connection,
            &format!("Remove HubSpot account {hub_id} from this gateway?"),
            &removal_consequences(hub_id),
            "Remove this account",
            "/admin/connection",
        ));
    }
    let flash = match removal::request(ctx.state(), hub_id) {
        Ok(()) => {
            ctx.console.sessions.forget_portal(hub_id);
            Flash::ok(format!(
                "HubSpot account {hub_id} is no longer served by this gateway."
            ))
        }
        Err(Refused::Unselected(unselected)) => {
            Flash::problem(format!("Not removed: {unselected}."))
        }
        Err(Refused::PrivateApp(_)) => Flash::problem(
            "Not removed: the account is connected with a private-app token from the config \
             (hubspot.access_token); take it out of the config instead.",
        ),
        Err(Refused::Store(error)) => return Err(Failure::Store(error)),
    };
    Ok(back().with_flash(flash))
}

/// `POST /admin/connection/preferences`: whose connection writes exports.
pub fn preferences(ctx: &Ctx) -> Outcome {
    let choice = match ctx.form.get("export_connection") {
        Some("service") => ExportConnection::Service,
        Some("user") => ExportConnection::User,
        _ => {
            return Ok(Reply::redirect("/admin/connection")
                .with_flash(Flash::problem("Choose service account or user accounts.")))
        }
    };
    let flash = match crate::api::change_preferences(&ctx.site(), Some(choice), None) {
        Ok(_) if choice == ExportConnection::User => Flash::ok(
            "Exports are now written with each user's own HubSpot connection: see who has connected on User mapping.",
        ),
        Ok(_) => Flash::ok("Exports are now written with the primary connected admin's connection."),
        Err(refusal) => Flash::problem(format!("Not saved: {refusal}.")),
    };
    Ok(Reply::redirect("/admin/connection").with_flash(flash))
}

/// `POST /admin/connection/exports`: the "exports enabled" switch.
pub fn exports_switch(ctx: &Ctx) -> Outcome {
    let enabled = ctx.form.get("enabled") == Some("on");
    let flash = match crate::api::change_preferences(&ctx.site(), None, Some(enabled)) {
        Ok(_) if enabled => Flash::ok("Exports are enabled."),
        Ok(_) => Flash::ok("Exports are disabled: every export is refused until you enable them."),
        Err(refusal) => Flash::problem(format!("Not saved: {refusal}.")),
    };
    Ok(Reply::redirect("/admin/connection").with_flash(flash))
}
