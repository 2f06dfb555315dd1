//! State shared by the server, the webhook sender and `Control`.

use parking_lot::Mutex;

use crate::sim::auth::Tokens;
use crate::sim::journal::Journal;
use crate::sim::limits::Limits;
use crate::sim::portal::{Change, Portal};
use crate::sim::stats::Counters;
use crate::sim::webhooks::Outbox;
use crate::sim::{time, SimConfig, WebhookTarget};

/// State shared by the server, the webhook sender and `Control`.
pub(crate) struct Shared {
    pub config: SimConfig,
    pub portal: Mutex<Portal>,
    pub tokens: Mutex<Tokens>,
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
        Shared {
            portal: Mutex::new(portal),
            tokens: Mutex::new(Tokens::new(&config.access_token, config.scopes.clone())),
            limits: Mutex::new(Limits::new(&config)),
            stats: Counters::default(),
            outbox: Outbox::new(config.seed),
            journal: Mutex::new(Journal::new(
                config.journal.clone(),
                config.portal_id,
                config.seed,
            )),
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

    /// Journals the subscribed changes and queues the webhooks (if a target is configured).
    pub fn announce(&self, changes: Vec<Change>) {
        self.journal.lock().record(&changes, time::now_ms());
        if let Some(app_id) = self.webhook.lock().as_ref().map(|target| target.app_id) {
            self.outbox
                .push(&changes, self.config.portal_id, app_id, &self.stats);
        }
    }
}
