//! Users' own HubSpot connections on the User mapping page, shown when exports are written
//! with user accounts: each user's state, Connect (the same flow as
//! `POST /v1/users/{email}/connection/start`) and Disconnect — all `Connections`'.

use maud::{html, Markup};

use super::super::layout::{badge, csrf_field};
use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::Ctx;
use super::connection_forms::to_hubspot;
use super::problem::{Failure, Outcome};
use super::users::encode;
use super::{confirmation, confirmed};
use crate::connection::{ExportConnection, State, UserStatus, Who, CONSOLE};

/// Whether the page shows users' connections: only when exports use them.
pub fn shown(ctx: &Ctx) -> bool {
    ctx.site().connections.preferences().export_connection == ExportConnection::User
}

/// `email`'s connection cell: its state, who it is in HubSpot, Connect or Disconnect.
pub fn cell(ctx: &Ctx, email: &str) -> Markup {
    let status = ctx.site().connections.user_status(email);
    let path = format!("/admin/users/{}", encode(email));
    let csrf = ctx.csrf();
    html! {
        @match status {
            Err(refusal) => { span.muted { (refusal.to_string()) } }
            Ok(status) => {
                (state_badge(&status))
                @if let Some(user) = status.hubspot_user.as_ref().and_then(|user| user.email.as_ref()) {
                    @if user != email { br; span.muted { "as " (user) } }
                }
                div.row {
                    @if status.state != State::Connected {
                        form method="post" action={ (path) "/connect" } {
                            (csrf_field(csrf))
                            button.small type="submit" aria-label={ "Connect the HubSpot account of " (email) } { "Connect" }
                        }
                    }
                    @if status.hubspot_user.is_some() {
                        form method="post" action={ (path) "/disconnect" } data-confirm={ "Disconnect " (email) "'s HubSpot account? Their exports wait until they connect again." } {
                            (csrf_field(csrf))
                            button.small.link type="submit" aria-label={ "Disconnect the HubSpot account of " (email) } { "Disconnect" }
                        }
                    }
                }
            }
        }
    }
}

fn state_badge(status: &UserStatus) -> Markup {
    match status.state {
        State::Connected => badge("ok", "Connected"),
        State::NotConnected => badge("muted", "Not connected"),
        State::NeedsReconnect => badge("warn", "Needs reconnecting"),
    }
}

/// `POST /admin/users/{email}/connect`: the user's own Connect, in this browser.
pub fn connect(ctx: &Ctx) -> Outcome {
    let email = &ctx.params[0];
    let who = Who::user(email)
        .ok_or_else(|| Failure::BadRequest(format!("{email:?} is not an email address")))?;
    match ctx.site().connections.start(&who, CONSOLE) {
        Ok(url) => Ok(to_hubspot(
            &url,
            &format!("Sign in to HubSpot as {email} (the HubSpot user must have this email) and consent; exports of {email} are then created as them."),
        )),
        Err(refusal) => Ok(Reply::redirect("/admin/users")
            .with_flash(Flash::problem(format!("Not started: {refusal}.")))),
    }
}

/// `POST /admin/users/{email}/disconnect` (confirmed first): revokes the user's token.
pub fn disconnect(ctx: &Ctx) -> Outcome {
    let email = ctx.params[0].clone();
    if !confirmed(ctx) {
        return Ok(confirmation(
            ctx,
            Section::Users,
            &format!("Disconnect {email}'s HubSpot account?"),
            "The gateway revokes their token at HubSpot; their exports wait (user_not_connected) until they connect again.",
            "Disconnect",
            "/admin/users",
        ));
    }
    let flash = match ctx.wait(ctx.site().connections.disconnect_user(&email)) {
        Ok(_) => Flash::ok(format!("{email}'s HubSpot account is disconnected.")),
        Err(refusal) => Flash::problem(format!("Not disconnected: {refusal}.")),
    };
    Ok(Reply::redirect("/admin/users").with_flash(flash))
}
