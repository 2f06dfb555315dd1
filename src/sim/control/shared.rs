//! State shared by the server, the webhook sender and `Control`.

use parking_lot::Mutex;

use crate::sim::accounts::{self, Hub};
use crate::sim::auth::{Codes, Grant, OAuth, Policy, RefreshTokens, Scopes, Sessions, Tokens};
use crate::sim::journal::Journal;
use crate::sim::limits::Limits;
use crate::sim::portal::{Change, Portal};
use crate::sim::stats::Counters;
use crate::sim::webhooks::Outbox;
use crate::sim::{SimConfig, WebhookTarget};
use crate::time;

/// State shared by the server, the webhook sender and `Control`.
pub(crate) struct Shared {
    pub config: SimConfig,
    /// The simulated portal (`config.portal_id`).
    pub portal: Mutex<Portal>,
    /// The other accounts (see `accounts`).
    pub accounts: Vec<Hub>,
    pub tokens: Mutex<Tokens>,
    pub oauth: Mutex<OAuth>,
    pub limits: Mutex<Limits>,
    pub stats: Counters,
    pub outbox: Outbox,
    pub journal: Mutex<Journal>,
    /// Where webhooks go now (starts as `config.webhook`, `Control` may change it).
    webhook: Mutex<Option<WebhookTarget>>,
}

impl Shared {
    pub fn new(config: SimConfig) -> Shared {
        let counts = [
            config.contacts,
            config.companies,
            config.deals,
            config.tasks,
        ]
        .map(|count| count as u64);
        let portal = Portal::new(
            config.seed,
            counts,
            config.owners as u64,
            config.search_lag_ms,
        );
        let tokens = Tokens::new(
            &config.access_token,
            config.portal_id,
            config.scopes.clone(),
        );
        let accounts = accounts::build(&config, &portal.owners);
        let installed = std::iter::once(config.portal_id)
            .chain(accounts.iter().map(|account| account.portal_id))
            .collect();
        Shared {
            accounts,
            oauth: Mutex::new(oauth(&config, &portal)),
            portal: Mutex::new(portal),
            tokens: Mutex::new(tokens),
            limits: Mutex::new(Limits::new(&config)),
            stats: Counters::default(),
            outbox: Outbox::new(config.seed),
            journal: Mutex::new(Journal::new(config.journal.clone(), installed, config.seed)),
            webhook: Mutex::new(config.webhook.clone()),
            config,
        }
    }

    pub fn webhook_target(&self) -> Option<WebhookTarget> {
        self.webhook.lock().clone()
    }

    pub fn set_webhook_target(&self, target: Option<WebhookTarget>) {
        *self.webhook.lock() = target;
    }

    /// The app id of webhooks, subscriptions and token introspection.
    pub fn app_id(&self) -> i64 {
        self.webhook_target()
            .map_or(WebhookTarget::DEFAULT_APP_ID, |target| target.app_id)
    }

    /// Journals and queues the webhooks of changes in another account than the simulated
    /// portal too.
    pub fn announce_in(&self, portal_id: i64, changes: Vec<Change>) {
        if portal_id == self.config.portal_id {
            return self.announce(changes);
        }
        self.journal
            .lock()
            .record(portal_id, &changes, time::now_ms());
        if let Some(app_id) = self.webhook.lock().as_ref().map(|target| target.app_id) {
            self.outbox.push(&changes, portal_id, app_id, &self.stats);
        }
    }

    /// Journals the subscribed changes and queues the webhooks (if a target is configured).
    pub fn announce(&self, changes: Vec<Change>) {
        let home = self.config.portal_id;
        self.journal.lock().record(home, &changes, time::now_ms());
        if let Some(app_id) = self.webhook.lock().as_ref().map(|target| target.app_id) {
            self.outbox
                .push(&changes, self.config.portal_id, app_id, &self.stats);
        }
    }
}

/// The authorization server at start: the configured refresh token belongs to the simulated
/// portal's first owner and carries the configured scopes.
fn oauth(config: &SimConfig, portal: &Portal) -> OAuth {
    let rotation_grace_ms = config.refresh_rotation_grace_secs.map(|secs| secs * 1000);
    let mut refresh = RefreshTokens::new(rotation_grace_ms);
    let grant = Grant {
        portal_id: config.portal_id,
        user_id: portal.owners.first().map(|owner| owner.user_id),
        scopes: Scopes::Configured,
    };
    refresh.insert(&config.refresh_token, &config.client_id, grant);
    OAuth {
        codes: Codes::new(config.code_ttl_secs * 1000),
        refresh,
        policy: Policy::new(config.redirect_uris.clone()),
        sessions: Sessions::default(),
        token_endpoint_down: false,
    }
}
