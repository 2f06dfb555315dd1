//! Connection: which HubSpot portal the gateway is connected to, how, as whom, with which
//! scopes; the export preference and the "exports enabled" switch. The page renders a
//! [`View`]; today it is built from the configured token (introspection), and the OAuth
//! connection module can fill the same view (state, Connect / Change user / Disconnect).

use maud::{html, Markup};

use super::super::layout::{badge, csrf_field, notice};
use super::super::reply::{Reply, Section};
use super::super::session::Flash;
use super::super::Ctx;
use super::problem::{Failure, Outcome};
use crate::export::Settings;
use crate::hubspot::Requirements;
use crate::object::ObjectType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// `NeedsReconnect` comes with OAuth connections stored by the gateway (a refresh token that
// HubSpot refused); a configured token is connected or not.
#[allow(dead_code)]
pub enum State {
    Connected,
    NotConnected,
    NeedsReconnect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    PrivateApp,
    OAuth,
}

/// Whose connection writes exports (`User` needs per-user OAuth connections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)]
pub enum ExportConnection {
    /// Every export with the primary connected admin's connection.
    Service,
    /// Each user's own connection.
    User,
}

/// What the Connection page shows.
#[derive(Debug, Clone)]
pub struct View {
    pub state: State,
    pub method: Option<Method>,
    pub portal_id: Option<i64>,
    pub hub_domain: Option<String>,
    pub ui_base: Option<String>,
    /// The primary connected admin: email and HubSpot user id.
    pub primary_admin: Option<(Option<String>, Option<i64>)>,
    pub scopes: Vec<String>,
    /// Needed scopes the token lacks, each with what it is needed for.
    pub missing_scopes: Vec<(String, String)>,
    pub export_connection: ExportConnection,
    pub exports_enabled: bool,
    /// Whether the admin can connect, change user and disconnect from here (an OAuth app).
    pub can_connect: bool,
}

impl View {
    /// The view of the configured token, as the running gateway knows it.
    pub fn of_token(ctx: &Ctx) -> Result<View, Failure> {
        let state = ctx.state();
        let settings = Settings::current(&state.store, &state.exporter.config)?;
        let portal = state.portal();
        let syncer = state.syncer();
        let info = syncer
            .as_ref()
            .and_then(|syncer| syncer.client.token_info());
        let scopes = info.map(|info| info.scopes.clone()).unwrap_or_default();
        let needs = Requirements {
            read: state.objects.clone(),
            owners: syncer.as_ref().is_some_and(|syncer| syncer.owners),
            write: vec![ObjectType::Contacts, ObjectType::Companies],
        };
        let missing_scopes = match info {
            Some(_) => needs
                .missing(&scopes)
                .into_iter()
                .map(|missing| (missing.scope, missing.needed_for))
                .collect(),
            None => Vec::new(),
        };
        Ok(View {
            state: if syncer.is_some() {
                State::Connected
            } else {
                State::NotConnected
            },
            method: syncer
                .as_ref()
                .map(|syncer| match syncer.client.refresh_token() {
                    Some(_) => Method::OAuth,
                    None => Method::PrivateApp,
                }),
            portal_id: portal.as_ref().map(|portal| portal.hub_id),
            hub_domain: info.and_then(|info| info.hub_domain.clone()),
            ui_base: portal.as_ref().map(|portal| portal.ui_base.clone()),
            primary_admin: portal
                .as_ref()
                .map(|portal| (portal.user_email.clone(), portal.user_id)),
            scopes,
            missing_scopes,
            export_connection: ExportConnection::Service,
            exports_enabled: settings.enabled,
            can_connect: false,
        })
    }
}

/// `GET /admin/connection`.
pub fn page(ctx: &Ctx) -> Outcome {
    let view = View::of_token(ctx)?;
    Ok(Reply::page(Section::Connection, render(&view, ctx.csrf())))
}

/// `POST /admin/connection/exports`: the "exports enabled" switch (the export settings'
/// `enabled`, saved like every settings change).
pub fn exports_switch(ctx: &Ctx) -> Outcome {
    let state = ctx.state();
    let mut export = Settings::current(&state.store, &state.exporter.config)?.to_config();
    export.enabled = ctx.form.get("enabled") == Some("on");
    let flash = match Settings::save(&state.store, &export) {
        Ok(_) if export.enabled => Flash::ok("Exports are enabled."),
        Ok(_) => Flash::ok("Exports are disabled: every export is refused until you enable them."),
        Err(crate::export::settings::SaveError::Store(error)) => return Err(error.into()),
        Err(crate::export::settings::SaveError::Invalid(problems)) => {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            Flash::problem(format!(
                "Not saved; fix the export settings first: {}",
                problems.join("; ")
            ))
        }
    };
    Ok(Reply::redirect("/admin/connection").with_flash(flash))
}

fn render(view: &View, csrf: &str) -> Markup {
    html! {
        h1 { "Connection" }
        p.lead { "The HubSpot portal this gateway mirrors and exports into, and the token it uses." }
        div.grid.wide {
            section.card aria-labelledby="portal-heading" {
                h2 #portal-heading { "HubSpot portal" }
                dl.facts {
                    dt { "State" }
                    dd { (state_badge(view.state)) }
                    dt { "Connected with" }
                    dd { (match view.method {
                        Some(Method::PrivateApp) => "a private-app token (hubspot.access_token)",
                        Some(Method::OAuth) => "an OAuth app (hubspot.client_id and its refresh token)",
                        None => "—",
                    }) }
                    dt { "Portal (hub id)" }
                    dd {
                        @match (view.portal_id, &view.ui_base) {
                            (Some(id), Some(base)) => { a href={ (base) "/contacts/" (id) } { (id) } }
                            _ => { span.muted { "not known yet" } }
                        }
                    }
                    dt { "Hub domain" }
                    dd { (view.hub_domain.as_deref().unwrap_or("—")) }
                    dt { "Primary connected admin" }
                    dd {
                        @match &view.primary_admin {
                            Some((email, user_id)) => {
                                (email.as_deref().unwrap_or("(no email)"))
                                @if let Some(id) = user_id { span.muted { " · user " (id) } }
                            }
                            None => { span.muted { "—" } }
                        }
                    }
                }
                (connect_actions(view))
            }
            section.card aria-labelledby="scopes-heading" {
                h2 #scopes-heading { "Scopes" }
                @if view.missing_scopes.is_empty() && !view.scopes.is_empty() {
                    p { (badge("ok", "Nothing missing")) " The token has every scope sync and exports need." }
                }
                @if !view.missing_scopes.is_empty() {
                    (notice("warn", html! {
                        p { strong { "Missing scopes" } " — grant them to the app in HubSpot:" }
                        ul { @for (scope, purpose) in &view.missing_scopes {
                            li { code { (scope) } " — for " (purpose) }
                        } }
                    }))
                }
                @if view.scopes.is_empty() {
                    p.muted { "Known once the gateway has connected." }
                } @else {
                    details {
                        summary { "Granted scopes (" (view.scopes.len()) ")" }
                        ul { @for scope in &view.scopes { li { code { (scope) } } } }
                    }
                }
            }
            section.card aria-labelledby="exports-heading" {
                h2 #exports-heading { "Exports" }
                dl.facts {
                    dt { "Written as" }
                    dd { (match view.export_connection {
                        ExportConnection::Service => "Service account: every export uses the connected token; HubSpot shows the primary connected admin as creator.",
                        ExportConnection::User => "User accounts: each user's own connection.",
                    }) }
                    dt { "Exports" }
                    dd { @if view.exports_enabled { (badge("ok", "Enabled")) } @else { (badge("bad", "Disabled")) } }
                }
                form method="post" action="/admin/connection/exports" {
                    (csrf_field(csrf))
                    @if view.exports_enabled {
                        input type="hidden" name="enabled" value="off";
                        div.actions { button.secondary type="submit" data-confirm="Disable exports? Every export will be refused until they are enabled again." { "Disable exports" } }
                    } @else {
                        input type="hidden" name="enabled" value="on";
                        div.actions { button type="submit" { "Enable exports" } }
                    }
                }
                p.hint { "The same switch as " code { "enabled" } " on the Export settings page." }
            }
        }
    }
}

fn state_badge(state: State) -> Markup {
    match state {
        State::Connected => badge("ok", "Connected"),
        State::NotConnected => badge("bad", "Not connected"),
        State::NeedsReconnect => badge("warn", "Needs reconnecting"),
    }
}

fn connect_actions(view: &View) -> Markup {
    html! {
        @if view.can_connect {
            p.muted { "Connect, change user and disconnect are done through the OAuth flow." }
        } @else if view.state == State::NotConnected {
            (notice("warn", html! {
                p { "The gateway has not connected yet: it retries while HubSpot is unreachable, and stops when the token is refused (the log says why). Fix " code { "[hubspot]" } " in the config and reload." }
            }))
        } @else {
            p.hint { "This token comes from the config file: to connect another portal or user, change " code { "[hubspot]" } " there and restart the gateway." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_as_words() {
        let view = View {
            state: State::NeedsReconnect,
            method: Some(Method::OAuth),
            portal_id: Some(62515),
            hub_domain: Some("acme.hubspot.com".into()),
            ui_base: Some("https://app.hubspot.com".into()),
            primary_admin: Some((Some("ann@acme.test".into()), Some(7))),
            scopes: vec!["crm.objects.contacts.read".into()],
            missing_scopes: vec![(
                "crm.objects.contacts.write".into(),
                "exporting contacts".into(),
            )],
            export_connection: ExportConnection::User,
            exports_enabled: false,
            can_connect: true,
        };
        let html = render(&view, "t").into_string();
        for expected in [
            "Needs reconnecting",
            "an OAuth app",
            "acme.hubspot.com",
            "ann@acme.test",
            "crm.objects.contacts.write",
            "User accounts",
            "Enable exports",
        ] {
            assert!(html.contains(expected), "{expected}");
        }
    }
}
