//! The leader's work (sync with the journal and the webhook consumer, export, notifications,
//! pruning): on sled the one process always leads; on PostgreSQL a replica runs it while its
//! lease says so, and stops it (as at a shutdown) the moment the lease is lost. Whatever a
//! deposed leader still had in flight meets the fence in the database.

use std::future::Future;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::store::Role;

/// Runs `work` (given a token cancelled when it must stop) for as long as this replica
/// leads, starting it again at each new lease, until `shutdown`. Without `roles` (sled) it
/// runs once, until `shutdown`.
pub async fn run<W, F>(roles: Option<watch::Receiver<Role>>, shutdown: CancellationToken, work: W)
where
    W: Fn(CancellationToken) -> F,
    F: Future<Output = ()>,
{
    let Some(mut roles) = roles else {
        return work(shutdown).await;
    };
    loop {
        let lease = tokio::select! {
            leading = until(&mut roles, |role| matches!(role, Role::Leading { .. })) => match leading {
                Some(role) => role,
                None => return,
            },
            () = shutdown.cancelled() => return,
        };
        let term = shutdown.child_token();
        let running = work(term.clone());
        tokio::pin!(running);
        let lost = tokio::select! {
            () = &mut running => false,
            lost = until(&mut roles, |role| *role != lease) => {
                term.cancel();
                running.await;
                lost.is_some()
            }
            () = shutdown.cancelled() => {
                running.await;
                return;
            }
        };
        if !lost {
            // The work ended by itself (nothing to do): it starts again with the next lease.
            tokio::select! {
                _ = until(&mut roles, |role| *role != lease) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}

/// The first role `wanted` accepts; `None` once the lease task is gone.
async fn until(
    roles: &mut watch::Receiver<Role>,
    wanted: impl FnMut(&Role) -> bool,
) -> Option<Role> {
    roles.wait_for(wanted).await.ok().map(|role| *role)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Counts starts and stops of the work.
    #[derive(Default)]
    struct Seen {
        started: AtomicUsize,
        stopped: AtomicUsize,
    }

    fn spawn(roles: watch::Receiver<Role>, shutdown: CancellationToken) -> Arc<Seen> {
        let seen = Arc::new(Seen::default());
        let counting = seen.clone();
        tokio::spawn(run(Some(roles), shutdown, move |stop| {
            let seen = counting.clone();
            async move {
                seen.started.fetch_add(1, Ordering::SeqCst);
                stop.cancelled().await;
                seen.stopped.fetch_add(1, Ordering::SeqCst);
            }
        }));
        seen
    }

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test]
    async fn runs_only_while_leading_and_again_at_each_lease() {
        let (role, roles) = watch::channel(Role::Following);
        let shutdown = CancellationToken::new();
        let seen = spawn(roles, shutdown.clone());
        settle().await;
        assert_eq!(seen.started.load(Ordering::SeqCst), 0, "a follower");
        role.send_replace(Role::Leading { epoch: 1 });
        settle().await;
        assert_eq!(seen.started.load(Ordering::SeqCst), 1);
        role.send_replace(Role::Following);
        settle().await;
        assert_eq!(
            seen.stopped.load(Ordering::SeqCst),
            1,
            "stopped on losing the lease"
        );
        // A new epoch without a following in between (the lease lost and taken back at once)
        // is a new term too.
        role.send_replace(Role::Leading { epoch: 2 });
        settle().await;
        role.send_replace(Role::Leading { epoch: 3 });
        settle().await;
        assert_eq!(seen.started.load(Ordering::SeqCst), 3);
        assert_eq!(seen.stopped.load(Ordering::SeqCst), 2);
        shutdown.cancel();
        settle().await;
        assert_eq!(
            seen.stopped.load(Ordering::SeqCst),
            3,
            "stopped at shutdown"
        );
    }
}
