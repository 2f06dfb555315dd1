//! Connection: which HubSpot account the gateway is connected to, how, as whom, with which
//! scopes; Connect / Change user / Disconnect; the export preference and the "exports
//! enabled" switch; removing the account from the deployment. Everything shown and done is
//! `connection::Connections`', as for `/v1/connection`, and `api::removal`'s, as for
//! `DELETE /v1/portals/{id}`: this page renders its [`Status`] and the removals pending;
//! `connection_forms` forwards the admin's choices.

use maud::{html, Markup};

use super::super::layout::{badge, csrf_field, notice, time};
use super::super::reply::{Reply, Section};
use super::super::Ctx;
use super::problem::Outcome;
use super::{hub_id, portal};
use crate::api::removal;
use crate::connection::{ExportConnection, Method, State, Status, Who};

/// What the Connection page shows: the service connection's status, where HubSpot's pages
/// are, and whether Connect can start here (else why not).
struct View {
    status: Status,
    ui_base: Option<String>,
    can_connect: Result<(), String>,
    /// `hubspot.multiple_portals`: a Connect may add another account.
    adds_accounts: bool,
    /// The account the page shows (its site's portal), connected or not; `None` before any
    /// has connected.
    hub_id: Option<i64>,
    /// Whether it is the deployment's only account (removed, nothing is connected).
    only_account: bool,
    /// The accounts being removed (`api::removal::pending`).
    removing: Vec<i64>,
}

/// `GET /admin/connection`.
pub fn page(ctx: &Ctx) -> Outcome {
    let connections = &ctx.site().connections;
    let status = connections.status();
    // Only a notice: a store that cannot list them does not take the page away.
    let removing = removal::pending(&ctx.state().sites).unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot read which portals are being removed");
        Vec::new()
    });
    let view = View {
        status,
        ui_base: portal(ctx).map(|portal| portal.ui_base.clone()),
        can_connect: connections
            .can_start(&Who::Service)
            .map(|_| ())
            .map_err(|refusal| refusal.to_string()),
        adds_accounts: connections.multiple_portals(),
        hub_id: hub_id(ctx),
        only_account: ctx.state().sites.portal_ids().len() <= 1,
        removing,
    };
    Ok(Reply::page(Section::Connection, render(&view, ctx.csrf())))
}

fn render(view: &View, csrf: &str) -> Markup {
    let status = &view.status;
    html! {
        h1 { "Connection" }
        p.lead { "The HubSpot account this gateway mirrors and exports into, and who connected it." }
        @for id in &view.removing {
            (notice("info", html! { p { strong { "Removing HubSpot account " (id) "…" } " Its data is being deleted from this gateway (reload to see when it is done)." } }))
        }
        div.grid.wide {
            section.card aria-labelledby="portal-heading" {
                h2 #portal-heading { "HubSpot account" }
                dl.facts {
                    dt { "State" }
                    dd { (state_badge(status.state)) }
                    dt { "Connection type" }
                    dd { (match status.method {
                        Method::PrivateApp => "a private-app token from the config",
                        Method::OAuth => "the gateway's HubSpot app (OAuth)",
                    }) }
                    dt { "Account (hub id)" }
                    dd {
                        @match (status.portal_id, &view.ui_base) {
                            (Some(id), Some(base)) => { a href={ (base) "/contacts/" (id) } { (id) } }
                            (Some(id), None) => { (id) }
                            _ => { span.muted { "not known yet" } }
                        }
                    }
                    dt { "Hub domain" }
                    dd { (status.hub_domain.as_deref().unwrap_or("—")) }
                    dt { "Primary connected admin" }
                    dd #primary-admin {
                        @match &status.primary_admin {
                            Some(admin) => {
                                (admin.email.as_deref().unwrap_or("(no email)"))
                                @if let Some(id) = admin.user_id { span.muted { " · user " (id) } }
                            }
                            None => { span.muted { "—" } }
                        }
                    }
                    @if let Some(at) = status.connected_at_ms {
                        dt { "Connected" }
                        dd { (time(at)) }
                    }
                }
                (actions(view, csrf))
            }
            (exports(status, csrf))
            (scopes(status))
        }
        @if let Some(id) = removable(view) {
            (remove(id, view.only_account, csrf))
        }
    }
}

/// The account the page offers to remove: the one it shows, unless its connection is a
/// private app's token from the config (`api::removal` refuses those) or it is being removed.
fn removable(view: &View) -> Option<i64> {
    view.hub_id
        .filter(|_| view.status.method != Method::PrivateApp)
        .filter(|id| !view.removing.contains(id))
}

/// What removing account `hub_id` deletes, said plainly (the card and its confirmation).
pub fn removal_consequences(hub_id: i64) -> String {
    format!(
        "Its mirrored records, user mappings, settings and export history in this gateway are \
         deleted, and the gateway's HubSpot tokens for it are revoked. Nothing is deleted in \
         HubSpot. This cannot be undone: connected again, account {hub_id} starts from nothing."
    )
}

/// The danger zone: removing the account the page shows from the deployment.
fn remove(hub_id: i64, only_account: bool, csrf: &str) -> Markup {
    let question = format!(
        "Remove HubSpot account {hub_id} from this gateway? {}",
        removal_consequences(hub_id)
    );
    html! {
        section.card.danger-zone aria-labelledby="remove-heading" {
            h2 #remove-heading { "Remove this account" }
            p { "Removes HubSpot account " strong { (hub_id) } " from this gateway. " (removal_consequences(hub_id)) }
            @if only_account {
                p { "It is the only account here: afterwards the gateway is not connected, and a Connect may connect any HubSpot account." }
            }
            form.actions method="post" action="/admin/connection/remove" data-confirm=(question) {
                (csrf_field(csrf))
                input type="hidden" name="portal" value=(hub_id);
                button.danger type="submit" { "Remove this account" }
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

/// Connect, Reconnect, Change user, Disconnect: what this state allows.
fn actions(view: &View, csrf: &str) -> Markup {
    let status = &view.status;
    let connect = |label: &str, class: &str| {
        html! {
            form method="post" action="/admin/connection/connect" {
                (csrf_field(csrf))
                button class=(class) type="submit" { (label) }
            }
        }
    };
    html! {
        @if status.method == Method::PrivateApp {
            p.hint { "The token comes from the config (" code { "hubspot.access_token" } "): it cannot be changed here. To connect as an app instead, remove it and set " code { "hubspot.client_id" } " and " code { "client_secret" } "." }
        } @else {
            @if status.state == State::NeedsReconnect {
                (notice("warn", html! {
                    p { strong { "HubSpot no longer accepts this connection." } " Sync and exports wait until an admin connects again." }
                    @if let Some(reason) = &status.reason { p.muted { (reason) } }
                }))
            }
            @if let Err(why) = &view.can_connect {
                (notice("warn", html! { p { "Connect is not available: " (why) "." } }))
            }
            div.row.actions {
                @if view.can_connect.is_ok() {
                    @match status.state {
                        State::NotConnected => { (connect("Connect to HubSpot", "")) }
                        State::NeedsReconnect => { (connect("Reconnect", "")) }
                        State::Connected => { (connect("Change user", "secondary")) }
                    }
                    @if view.adds_accounts && status.state != State::NotConnected {
                        (connect("Connect another HubSpot account", "secondary"))
                    }
                }
                @if status.state != State::NotConnected {
                    form method="post" action="/admin/connection/disconnect" data-confirm="Disconnect from HubSpot? Sync and exports stop until someone connects again." {
                        (csrf_field(csrf))
                        button.danger type="submit" { "Disconnect" }
                    }
                }
            }
            p.hint { @match status.state {
                State::NotConnected => "Connect opens HubSpot: sign in, choose the account, consent. You become the primary connected admin.",
                _ => "Change user connects again as another HubSpot admin of the same account, who then becomes the primary connected admin.",
            } }
            @if view.adds_accounts && status.state != State::NotConnected {
                p.hint { "Connect another HubSpot account: choose the other account at HubSpot; it is added beside this one, with its own connection and mirror (the header's switcher shows one at a time)." }
            }
        }
    }
}

fn scopes(status: &Status) -> Markup {
    html! {
        section.card aria-labelledby="scopes-heading" {
            h2 #scopes-heading { "Scopes" }
            @if status.missing_scopes.is_empty() && !status.scopes.is_empty() {
                p { (badge("ok", "Nothing missing")) " The connection has every scope sync and exports ask for." }
            }
            @if !status.missing_scopes.is_empty() {
                (notice("warn", html! {
                    p { strong { "Not granted" } " — what needs them stays unavailable (exports need the write scopes):" }
                    ul { @for scope in &status.missing_scopes { li { code { (scope) } } } }
                    p { "Grant them to the app in HubSpot, then connect again." }
                }))
            }
            @if status.scopes.is_empty() {
                p.muted { "Known once the gateway has connected." }
            } @else {
                details {
                    summary { "Granted scopes (" (status.scopes.len()) ")" }
                    ul { @for scope in &status.scopes { li { code { (scope) } } } }
                }
            }
        }
    }
}

fn exports(status: &Status, csrf: &str) -> Markup {
    let preferences = status.preferences;
    let user = preferences.export_connection == ExportConnection::User;
    html! {
        section.card aria-labelledby="exports-heading" {
            h2 #exports-heading { "Exports" }
            dl.facts {
                dt { "State" }
                dd #exports-state { @if preferences.exports_enabled { (badge("ok", "Enabled")) } @else { (badge("bad", "Disabled")) } }
            }
            form.actions method="post" action="/admin/connection/exports" {
                (csrf_field(csrf))
                @if preferences.exports_enabled {
                    input type="hidden" name="enabled" value="off";
                    button.secondary type="submit" data-confirm="Disable exports? Every export is refused until they are enabled again." { "Disable exports" }
                } @else {
                    input type="hidden" name="enabled" value="on";
                    button type="submit" { "Enable exports" }
                }
            }
            p.hint { "Off turns exports off for every user. Export settings has a second switch (" code { "[export] enabled" } "): exports run when both are on." }
            form method="post" action="/admin/connection/preferences" {
                (csrf_field(csrf))
                fieldset {
                    legend { "Records are created in HubSpot by" }
                    div.field {
                        label.inline for="export-service" {
                            input #export-service type="radio" name="export_connection" value="service" checked[!user];
                            "Service account: the primary connected admin"
                        }
                        label.inline for="export-user" {
                            input #export-user type="radio" name="export_connection" value="user" checked[user];
                            "User accounts: each user connects their own HubSpot account (see User mapping)"
                        }
                    }
                }
                div.actions { button.secondary type="submit" { "Save export preference" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{HubSpotUser, Preferences};

    fn view(state: State, method: Method) -> View {
        View {
            status: Status {
                state,
                method,
                portal_id: Some(62515),
                hub_domain: Some("acme.hubspot.com".into()),
                primary_admin: Some(HubSpotUser {
                    email: Some("ann@acme.test".into()),
                    user_id: Some(7),
                }),
                scopes: vec!["crm.objects.contacts.read".into()],
                missing_scopes: vec!["crm.objects.contacts.write".into()],
                connected_at_ms: None,
                preferences: Preferences {
                    export_connection: ExportConnection::User,
                    exports_enabled: false,
                },
                reason: Some("HubSpot refused the refresh token".into()),
            },
            ui_base: None,
            can_connect: Ok(()),
            adds_accounts: false,
            hub_id: Some(62515),
            only_account: false,
            removing: Vec::new(),
        }
    }

    #[test]
    fn every_state_reads_as_words_with_its_actions() {
        let html = render(&view(State::NeedsReconnect, Method::OAuth), "t").into_string();
        for expected in [
            "Needs reconnecting",
            "HubSpot refused the refresh token",
            "Reconnect",
            "Disconnect",
            "acme.hubspot.com",
            "ann@acme.test",
            "crm.objects.contacts.write",
            "value=\"user\" checked",
            "Enable exports",
        ] {
            assert!(html.contains(expected), "{expected}");
        }
        let connected = render(&view(State::Connected, Method::OAuth), "t").into_string();
        assert!(connected.contains("Change user") && connected.contains("Disconnect"));
        assert!(!connected.contains("Connect another HubSpot account"));
        let several = View {
            adds_accounts: true,
            ..view(State::Connected, Method::OAuth)
        };
        let several = render(&several, "t").into_string();
        assert!(several.contains("Connect another HubSpot account"));
        let none = render(&view(State::NotConnected, Method::OAuth), "t").into_string();
        assert!(none.contains("Connect to HubSpot") && !none.contains(">Disconnect<"));
    }

    #[test]
    fn a_private_app_token_offers_no_connect() {
        let html = render(&view(State::Connected, Method::PrivateApp), "t").into_string();
        assert!(html.contains("a private-app token from the config"));
        for absent in ["/admin/connection/connect", "/admin/connection/disconnect"] {
            assert!(!html.contains(absent), "{absent}");
        }
    }

    #[test]
    fn an_account_shown_can_be_removed_after_a_plain_question() {
        for state in [State::Connected, State::NeedsReconnect, State::NotConnected] {
            let html = render(&view(state, Method::OAuth), "t").into_string();
            for expected in [
                "action=\"/admin/connection/remove\"",
                "name=\"portal\" value=\"62515\"",
                "name=\"csrf\" value=\"t\"",
                "class=\"danger\" type=\"submit\">Remove this account<",
                "data-confirm=\"Remove HubSpot account 62515 from this gateway? Its mirrored \
                 records, user mappings, settings and export history in this gateway are deleted",
                "Nothing is deleted in HubSpot. This cannot be undone",
            ] {
                assert!(html.contains(expected), "{state:?}: {expected}");
            }
            assert!(!html.contains("It is the only account here"));
        }
        let only = View {
            only_account: true,
            ..view(State::Connected, Method::OAuth)
        };
        let only = render(&only, "t").into_string();
        assert!(only.contains("afterwards the gateway is not connected"));
    }

    #[test]
    fn nothing_to_remove_without_an_account_or_with_a_private_app() {
        let none = View {
            hub_id: None,
            ..view(State::NotConnected, Method::OAuth)
        };
        let private = view(State::Connected, Method::PrivateApp);
        let going = View {
            removing: vec![62515],
            ..view(State::NotConnected, Method::OAuth)
        };
        for view in [none, private, going] {
            let html = render(&view, "t").into_string();
            assert!(!html.contains("/admin/connection/remove"), "{html}");
            assert!(!html.contains("Remove this account"));
        }
    }

    #[test]
    fn a_removal_pending_is_said() {
        let pending = View {
            removing: vec![62516],
            ..view(State::Connected, Method::OAuth)
        };
        let html = render(&pending, "t").into_string();
        assert!(html.contains("Removing HubSpot account 62516…"), "{html}");
    }
}
