//! Starting the notification tasks: one deliverer per target and the digest's mailer.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::notify::{delivery, Notifications};
use crate::store::Store;

/// Spawns the deliverers and the mailer; they stop with `shutdown`.
pub fn spawn(
    notifications: &Notifications,
    store: &Store,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    if let Err(error) = notifications.configure_leading() {
        tracing::warn!(%error, "cannot configure the notification queues as the leader");
    }
    let mut tasks = Vec::new();
    for target in &notifications.targets {
        let Some(live) = notifications.notifier.live(&target.name) else {
            continue;
        };
        tasks.push(tokio::spawn(delivery::run(
            target.clone(),
            store.clone(),
            live,
            shutdown.clone(),
        )));
    }
    if let Some(mailer) = &notifications.mailer {
        tasks.push(tokio::spawn(Arc::clone(mailer).run(shutdown.clone())));
    }
    tasks
}
