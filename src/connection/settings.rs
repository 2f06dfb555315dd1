//! What connections need from the config: the app's credentials, where HubSpot's pages and
//! API are, the callback URL, the key that seals tokens, and which scopes to ask for.

use std::time::Duration;

use url::Url;

use crate::config::Loaded;
use crate::hubspot::{self, ClientConfig, Credentials, Requirements};
use crate::object::ObjectType;
use crate::secret::Secret;

/// Scopes the gateway asks for: a connection without a required one is refused.
#[derive(Debug, Clone, Default)]
pub struct Scopes {
    pub required: Requirements,
    pub optional: Requirements,
}

impl Scopes {
    pub fn required_names(&self) -> Vec<String> {
        self.required
            .scopes()
            .keys()
            .map(|s| s.to_string())
            .collect()
    }

    /// Optional scopes that are not also required.
    pub fn optional_names(&self) -> Vec<String> {
        let required = self.required.scopes();
        self.optional
            .scopes()
            .keys()
            .filter(|scope| !required.contains_key(*scope))
            .map(|s| s.to_string())
            .collect()
    }

    /// Required scopes `granted` lacks.
    pub fn missing_required(&self, granted: &[String]) -> Vec<String> {
        let missing = self.required.missing(granted);
        missing.into_iter().map(|m| m.scope).collect()
    }

    /// Every scope asked for (required or optional) that `granted` lacks.
    pub fn missing_any(&self, granted: &[String]) -> Vec<String> {
        let mut missing = self.missing_required(granted);
        missing.extend(
            self.optional_names()
                .into_iter()
                .filter(|scope| !granted.contains(scope)),
        );
        missing.sort();
        missing
    }
}

/// The service connection's scopes for this config: reading what `sync.objects` names is
/// required (§5.3 of HubSpot's scope table); writing what exports write is optional, so an
/// admin without write permission can still connect the mirror.
pub fn service_scopes(loaded: &Loaded) -> Scopes {
    let config = &loaded.config;
    let read: Vec<ObjectType> = config
        .sync
        .objects
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect();
    let owners = config.sync.objects.iter().any(|name| name == "owners");
    let write = if config.export.enabled {
        vec![ObjectType::Contacts, ObjectType::Companies]
    } else {
        Vec::new()
    };
    Scopes {
        required: Requirements {
            read,
            owners,
            write: Vec::new(),
        },
        optional: Requirements {
            write,
            ..Requirements::default()
        },
    }
}

/// A user's connection writes their exports and reads back what it may have created.
fn user_scopes() -> Scopes {
    let types = vec![ObjectType::Contacts, ObjectType::Companies];
    Scopes {
        required: Requirements {
            read: types.clone(),
            owners: false,
            write: types,
        },
        optional: Requirements::default(),
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub api_base: Url,
    /// HubSpot's authorize page is `app_base` + `/oauth/authorize`.
    pub app_base: String,
    /// The callback is `public_url` + `/oauth/callback`.
    pub public_url: String,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret<String>>,
    /// A private-app token: the service connection, no Connect.
    pub access_token: Option<Secret<String>>,
    /// An OAuth refresh token pasted into the config (used until a Connect stores one).
    pub refresh_token: Option<Secret<String>>,
    pub secrets_key: Option<Secret<[u8; 32]>>,
    pub service_scopes: Scopes,
    pub user_scopes: Scopes,
    pub max_retry_secs: u64,
    pub max_concurrency: usize,
    pub request_timeout: Duration,
    /// `hubspot.multiple_portals`.
    pub multiple_portals: bool,
}

impl Settings {
    /// No OAuth app, no token, no secrets key: connections that can only be read (for unit
    /// tests of what is built on them).
    #[cfg(test)]
    pub fn bare() -> Settings {
        Settings {
            api_base: Url::parse("https://api.hubapi.com").unwrap(),
            app_base: "https://app.hubspot.com".into(),
            public_url: "https://gateway.example".into(),
            client_id: None,
            client_secret: None,
            access_token: None,
            refresh_token: None,
            secrets_key: None,
            service_scopes: Scopes::default(),
            user_scopes: Scopes::default(),
            max_retry_secs: 0,
            max_concurrency: 1,
            request_timeout: Duration::from_secs(1),
            multiple_portals: true,
        }
    }

    pub fn from_config(loaded: &Loaded) -> anyhow::Result<Settings> {
        let hubspot = &loaded.config.hubspot;
        let secrets = &loaded.secrets;
        Ok(Settings {
            api_base: Url::parse(&hubspot.api_base)
                .map_err(|error| anyhow::anyhow!("hubspot.api_base: {error}"))?,
            app_base: hubspot.app_base.clone(),
            public_url: loaded.config.server.public_url.clone(),
            client_id: hubspot.client_id.clone(),
            client_secret: secrets.client_secret.clone(),
            access_token: secrets.access_token.clone(),
            refresh_token: secrets.refresh_token.clone(),
            secrets_key: secrets.secrets_key.clone(),
            service_scopes: service_scopes(loaded),
            user_scopes: user_scopes(),
            max_retry_secs: hubspot.max_retry_secs,
            max_concurrency: hubspot.max_concurrency,
            request_timeout: Duration::from_secs(hubspot.request_timeout_secs),
            multiple_portals: hubspot.multiple_portals,
        })
    }

    pub fn redirect_uri(&self) -> String {
        format!("{}/oauth/callback", self.public_url.trim_end_matches('/'))
    }

    /// The OAuth app, when the config names one.
    pub(super) fn app(&self) -> Option<hubspot::App> {
        let (id, secret) = (self.client_id.clone()?, self.client_secret.clone()?);
        match hubspot::App::new(self.api_base.clone(), id, secret, self.request_timeout) {
            Ok(app) => Some(app),
            Err(error) => {
                tracing::error!(%error, "cannot set up the OAuth app");
                None
            }
        }
    }

    /// A client for `credentials`, tuned as the config says.
    pub(super) fn client(
        &self,
        credentials: Credentials,
        events: Option<std::sync::Arc<dyn hubspot::CredentialEvents>>,
    ) -> Result<hubspot::Client, hubspot::Error> {
        let mut config = ClientConfig::new(self.api_base.clone(), credentials)
            .with_max_retry_secs(self.max_retry_secs);
        config.max_concurrency = self.max_concurrency;
        config.request_timeout = self.request_timeout;
        config.events = events;
        hubspot::Client::new(config)
    }

    /// OAuth credentials with this app and `refresh_token`.
    pub(super) fn oauth(&self, refresh_token: Secret<String>) -> Option<Credentials> {
        Some(Credentials::OAuth {
            client_id: self.client_id.clone()?,
            client_secret: self.client_secret.clone()?,
            refresh_token,
        })
    }
}
