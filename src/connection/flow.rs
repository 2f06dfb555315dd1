//! The install flow: `start` hands out HubSpot's authorize URL with a single-use `state`
//! (see `pending`); `complete` is the callback: the state is redeemed first, then the code
//! exchanged, the token introspected and checked, and the connection stored in one write.
//! Whatever is refused stores nothing.

use super::pending::{begin, redeem, Pending};
use super::record::{self, random_id, Record, Sealed, Slot};
use super::{Connections, HubSpotUser, Portal, Refusal, Scopes};
use crate::hubspot::{self, TokenInfo};
use crate::ownership::normalize;
use crate::secret::Secret;
use crate::time::now_ms;

/// Whose connection a flow makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// The gateway's own: the primary connected admin.
    Service,
    /// An internal user's, by normalised email, for exports written as them.
    User(String),
}

impl Who {
    /// A user by email; `None` when it is not an email address.
    pub fn user(email: &str) -> Option<Who> {
        normalize::email(email).map(Who::User)
    }
}

/// The callback's query parameters.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl Callback {
    pub fn from_query(query: Option<&str>) -> Callback {
        let mut callback = Callback::default();
        for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match name.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                _ => continue,
            };
            slot.get_or_insert_with(|| value.into_owned());
        }
        callback
    }
}

/// A callback's checked token, before a site stores it.
pub struct Granted {
    who: Who,
    info: TokenInfo,
    refresh_token: Secret<String>,
    pending: Pending,
}

impl Granted {
    /// The portal the token is for.
    pub fn portal(&self) -> Portal {
        Portal::of(&self.info)
    }

    /// Whether it is the gateway's own connection (not a user's).
    pub fn is_service(&self) -> bool {
        self.who == Who::Service
    }
}

/// What a successful callback connected.
#[derive(Debug, Clone)]
pub struct Connected {
    pub who: Who,
    pub portal_id: i64,
    pub hub_domain: Option<String>,
    pub user: HubSpotUser,
    /// The HubSpot user whose connection this one replaced ("Change user").
    pub replaced: Option<String>,
    /// Optional scopes the connection lacks (what they are for stays unavailable).
    pub missing_optional: Vec<String>,
    /// Who started the flow (an API token's name, `cli`, [`super::CONSOLE`]).
    pub started_by: String,
}

impl Connections {
    /// Starts a Connect for `who`, started by `started_by` (an API token's name, `cli`):
    /// HubSpot's authorize URL with the scopes to ask for and a fresh single-use `state`.
    pub fn start(&self, who: &Who, started_by: &str) -> Result<String, Refusal> {
        let inner = &self.inner;
        let app = self.can_start(who)?;
        let state = {
            let _write = inner.write.lock();
            begin(&inner.store, who, started_by)?
        };
        let scopes = self.scopes_for(who);
        let settings = &inner.settings;
        Ok(hubspot::authorize_url(
            &settings.app_base,
            app.client_id(),
            &settings.redirect_uri(),
            &scopes.required_names(),
            &scopes.optional_names(),
            &state,
        ))
    }

    /// Whether a Connect for `who` can start here (the app, the key, the service connection a
    /// user's must join); the app to start it with.
    pub fn can_start(&self, who: &Who) -> Result<&hubspot::App, Refusal> {
        let inner = &self.inner;
        if *who == Who::Service && inner.settings.access_token.is_some() {
            return Err(Refusal::PrivateApp);
        }
        let app = inner.app.as_ref().ok_or(Refusal::NoApp)?;
        if inner.key.is_none() {
            return Err(Refusal::NoSecretsKey);
        }
        if matches!(who, Who::User(_)) && self.service_portal().is_none() {
            return Err(Refusal::NoService);
        }
        Ok(app)
    }

    /// The callback: redeems the state, exchanges the code, checks the token and stores the
    /// connection here. A refusal after the exchange revokes the token HubSpot just issued.
    pub async fn complete(&self, callback: Callback) -> Result<Connected, Refusal> {
        let granted = self.grant(callback).await?;
        self.accept(granted).await
    }

    /// The callback's first half: redeems the state, exchanges the code and checks the token
    /// (scopes; a user's must be theirs). Nothing is stored yet: [`Connections::accept`] of
    /// the site of the token's portal does that.
    pub async fn grant(&self, callback: Callback) -> Result<Granted, Refusal> {
        let inner = &self.inner;
        let state = callback.state.filter(|state| !state.is_empty());
        let state = state.ok_or(Refusal::MissingState)?;
        let pending = {
            let _write = inner.write.lock();
            redeem(&inner.store, &state)?
        };
        let who = match &pending.user {
            Some(email) => Who::User(email.clone()),
            None => Who::Service,
        };
        if let Some(error) = callback.error {
            let description = callback.error_description.unwrap_or_default();
            return Err(Refusal::Denied(
                format!("{error}: {description}")
                    .trim_end_matches(": ")
                    .to_owned(),
            ));
        }
        let code = callback.code.filter(|code| !code.is_empty());
        let code = code.ok_or(Refusal::MissingCode)?;
        let app = inner.app.clone().ok_or(Refusal::NoApp)?;
        if inner.key.is_none() {
            return Err(Refusal::NoSecretsKey);
        }
        let grant = app
            .exchange_code(&code, &inner.settings.redirect_uri())
            .await
            .map_err(|error| match error {
                hubspot::Error::CodeRefused { message } => Refusal::CodeRefused(message),
                error => Refusal::HubSpot(error),
            })?;
        let checked = match app.token_info(&grant.access_token).await {
            Ok(info) => self.check(&who, &info).map(|()| info),
            Err(error) => Err(Refusal::HubSpot(error)),
        };
        match checked {
            Ok(info) => Ok(Granted {
                who,
                info,
                refresh_token: grant.refresh_token,
                pending,
            }),
            Err(refusal) => {
                revoke(&app, &grant.refresh_token, "a connection that was refused").await;
                Err(refusal)
            }
        }
    }

    /// The callback's second half: stores a granted connection in this site (after the portal
    /// rule), revoking the token it replaced, or the new one if refused.
    pub async fn accept(&self, granted: Granted) -> Result<Connected, Refusal> {
        let app = self.inner.app.clone().ok_or(Refusal::NoApp)?;
        let Granted {
            who,
            info,
            refresh_token,
            pending,
        } = granted;
        if self.is_held() {
            revoke(
                &app,
                &refresh_token,
                "a connection refused during a removal",
            )
            .await;
            return Err(Refusal::Removing);
        }
        let stored = self.store_connection(&who, &info, &refresh_token, &pending);
        let (connected, replaced_token) = match stored {
            Ok(stored) => stored,
            Err(refusal) => {
                revoke(&app, &refresh_token, "a connection that was refused").await;
                return Err(refusal);
            }
        };
        if let Some(old) = replaced_token {
            revoke(&app, &old, "the connection this one replaced").await;
        }
        match &who {
            Who::Service => self.changed(),
            Who::User(email) => {
                self.inner.users.lock().remove(email);
            }
        }
        tracing::info!(
            connection = %self.name_of(&who),
            portal = connected.portal_id,
            user = connected.user.email.as_deref().unwrap_or("?"),
            replaced = connected.replaced.as_deref().unwrap_or(""),
            started_by = %pending.started_by,
            "connected to HubSpot"
        );
        Ok(connected)
    }

    /// The store name of `who`'s connection in this site.
    fn name_of(&self, who: &Who) -> String {
        match who {
            Who::Service => self.inner.names.service.clone(),
            Who::User(email) => self.inner.names.user(email),
        }
    }

    pub(super) fn scopes_for(&self, who: &Who) -> &Scopes {
        match who {
            Who::Service => &self.inner.settings.service_scopes,
            Who::User(_) => &self.inner.settings.user_scopes,
        }
    }

    /// What a token must be: every required scope; for a user, that user.
    fn check(&self, who: &Who, info: &TokenInfo) -> Result<(), Refusal> {
        let missing = self.scopes_for(who).missing_required(&info.scopes);
        if !missing.is_empty() {
            return Err(Refusal::MissingScopes(missing));
        }
        if let Who::User(expected) = who {
            let got = info.user_email.as_deref().and_then(normalize::email);
            if got.as_deref() != Some(expected.as_str()) {
                return Err(Refusal::OtherUser {
                    expected: expected.clone(),
                    got: info.user_email.clone().unwrap_or_else(|| "unknown".into()),
                });
            }
        }
        Ok(())
    }

    /// Stores the connection in one write, after the portal rule: the service connection
    /// stays in its portal until an explicit Disconnect (then any portal, with user mappings
    /// reset once the new portal's owners are read); a user's must be in the gateway's.
    /// Returns what was connected and the refresh token it replaced.
    fn store_connection(
        &self,
        who: &Who,
        info: &TokenInfo,
        refresh_token: &Secret<String>,
        pending: &Pending,
    ) -> Result<(Connected, Option<Secret<String>>), Refusal> {
        let inner = &self.inner;
        let key = inner.key.as_ref().ok_or(Refusal::NoSecretsKey)?;
        let name = self.name_of(who);
        let _write = inner.write.lock();
        let previous = record::load_slot(&inner.store, &name)?;
        let mirrored = self.portal().map(|portal| portal.hub_id);
        let other = |mirrored: i64| Refusal::OtherPortal {
            mirrored,
            got: info.hub_id,
        };
        let reset = match (who, &previous) {
            (Who::User(_), _) => {
                let service = self.service_portal().ok_or(Refusal::NoService)?;
                if service != info.hub_id {
                    return Err(other(service));
                }
                false
            }
            (Who::Service, _) if inner.settings.access_token.is_some() => {
                return Err(Refusal::PrivateApp)
            }
            (Who::Service, Some(Slot::Connected { connection })) => {
                if connection.portal_id != info.hub_id {
                    return Err(other(connection.portal_id));
                }
                connection.reset_user_mappings
            }
            (Who::Service, Some(Slot::Disconnected { .. })) => {
                mirrored.is_some_and(|mirrored| mirrored != info.hub_id)
            }
            (Who::Service, None) => match mirrored {
                Some(mirrored) if mirrored != info.hub_id => return Err(other(mirrored)),
                _ => false,
            },
        };
        let id = random_id();
        let record = Record {
            refresh_token: Sealed::new(key, refresh_token, &name, &id),
            id,
            portal_id: info.hub_id,
            hub_domain: info.hub_domain.clone(),
            hublet: info.hublet.clone(),
            user_email: info.user_email.clone(),
            user_id: info.user_id,
            scopes: info.scopes.clone(),
            connected_at_ms: now_ms(),
            started_by: pending.started_by.clone(),
            needs_reconnect: None,
            reset_user_mappings: reset,
        };
        let slot = Slot::Connected {
            connection: Box::new(record),
        };
        record::save_slot(&inner.store, &name, &slot)?;
        if *who == Who::Service {
            *inner.observed.write() = Default::default();
        }
        let replaced = match previous {
            Some(Slot::Connected { connection }) => Some(connection),
            _ => None,
        };
        let replaced_token = replaced.as_ref().and_then(|old| {
            let token = old.refresh_token.open(key, &name, &old.id).ok()?;
            (token.expose() != refresh_token.expose()).then_some(token)
        });
        let connected = Connected {
            who: who.clone(),
            portal_id: info.hub_id,
            hub_domain: info.hub_domain.clone(),
            user: HubSpotUser {
                email: info.user_email.clone(),
                user_id: info.user_id,
            },
            replaced: replaced
                .and_then(|old| old.user_email)
                .filter(|old| Some(old) != info.user_email.as_ref()),
            missing_optional: self.scopes_for(who).missing_any(&info.scopes),
            started_by: pending.started_by.clone(),
        };
        Ok((connected, replaced_token))
    }
}

/// Revokes a refresh token the gateway will not use; a failure is only logged.
pub(super) async fn revoke(app: &hubspot::App, token: &Secret<String>, what: &str) {
    if let Err(error) = app.revoke(token).await {
        tracing::warn!(%error, "could not revoke the refresh token of {what}");
    }
}
