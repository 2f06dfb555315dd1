//! Leadership among the gateways sharing a database: the leader is the one whose dedicated
//! session holds a PostgreSQL advisory lock. PostgreSQL releases the lock when that session
//! ends: at once when the leader's process dies (its socket closes), and when no check has
//! reached the server for [`IDLE_SESSION_TIMEOUT`] (the session's `idle_session_timeout`,
//! PostgreSQL 14 and newer), which is how a leader cut off from the database loses it.
//!
//! Two leaders never act at once:
//! - A leader checks its session every [`HEARTBEAT`]; when a check fails or takes longer than
//!   [`HEARTBEAT_TIMEOUT`] it stops leading, well before the server gives its lock to another.
//! - Taking the lock, a leader writes a new epoch in the `leadership` row. Every write that
//!   must happen once runs in a transaction that first checks that epoch ([`Fence::check`])
//!   and holds the row, so it commits before a new leader's epoch or not at all, even if
//!   the timing above were to fail.
//!
//! A build whose schema is older than the database's never leads (a newer gateway migrated
//! it; the older one would write what it no longer understands).

use std::pin::pin;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{schema, Database, Error, Result, SCHEMA_VERSION};

/// The advisory lock key of leadership ("hsgw" and 2).
const LEADER_LOCK: i64 = 0x6873_6777_0000_0002;
/// How often a follower tries to take the lock.
pub const POLL: Duration = Duration::from_secs(1);
/// How often the leader checks its session.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A check that takes longer ends the leadership.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
/// The server ends the lock's session when no query has come for this long (a healthy
/// leader checks every [`HEARTBEAT`]). A leader cut off has stopped by `HEARTBEAT +
/// HEARTBEAT_TIMEOUT` (3 s) after its last good check, the server frees the lock 6 s after
/// it, and a follower takes over within a [`POLL`] more: 7 s in all, within 15.
pub const IDLE_SESSION_TIMEOUT: Duration = Duration::from_secs(6);

/// Whether this gateway leads, as its lease task sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Following,
    Leading { epoch: i64 },
}

impl Role {
    /// The fence of a leader's writes; `None` while following.
    pub fn fence(self) -> Option<Fence> {
        match self {
            Role::Leading { epoch } => Some(Fence { epoch }),
            Role::Following => None,
        }
    }
}

/// A leader's epoch, checked before each write that must happen once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fence {
    epoch: i64,
}

impl Fence {
    /// Writes a new epoch as a leader taking the lease would, but outside a [`Candidate`]
    /// and without holding the lease (tests, benchmarks: a single writer); its fence.
    pub async fn take_unheld(database: &Database) -> Result<Fence> {
        let epoch: i64 = database
            .client()
            .await?
            .query_one(
                "UPDATE leadership SET epoch = epoch + 1 RETURNING epoch",
                &[],
            )
            .await?
            .get(0);
        Ok(Fence { epoch })
    }

    pub fn epoch(self) -> i64 {
        self.epoch
    }

    /// Fails with [`Error::Fenced`] unless the lease is still at this epoch; holds the
    /// `leadership` row until `transaction` ends, so no new epoch is written meanwhile.
    pub async fn check(self, transaction: &deadpool_postgres::Transaction<'_>) -> Result<()> {
        // Prepared once per pooled connection: every fenced write starts with this.
        let statement = transaction
            .prepare_cached("SELECT epoch FROM leadership FOR SHARE")
            .await?;
        let current: i64 = transaction.query_one(&statement, &[]).await?.get(0);
        if current == self.epoch {
            Ok(())
        } else {
            Err(Error::Fenced {
                held: self.epoch,
                current,
            })
        }
    }
}

/// A gateway that leads when it can.
pub struct Candidate {
    database: Database,
    /// Shown in the `leadership` row and in `GET /v1/status`.
    replica: String,
}

impl Candidate {
    pub fn new(database: Database, replica: impl Into<String>) -> Candidate {
        Candidate {
            database,
            replica: replica.into(),
        }
    }

    /// Takes the lease whenever it is free, holds it while the session stays healthy, and
    /// publishes the role in `role`; ends (releasing the lease) at `shutdown`.
    pub async fn run(self, role: watch::Sender<Role>, shutdown: CancellationToken) {
        let mut last_refusal = None;
        while !shutdown.is_cancelled() {
            let ended = self.session(&role, &shutdown).await;
            if role.send_replace(Role::Following) != Role::Following {
                tracing::warn!("stopped leading: {}", describe(&ended));
            }
            if let Err(error) = ended {
                let refusal = error.to_string();
                if last_refusal.as_ref() != Some(&refusal) {
                    tracing::warn!(error = %refusal, "cannot lead for now");
                    last_refusal = Some(refusal);
                }
            } else {
                last_refusal = None;
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.cancelled() => {}
            }
        }
    }

    /// One session: waits for the lock, leads while the session is healthy. `Ok` at shutdown.
    async fn session(
        &self,
        role: &watch::Sender<Role>,
        shutdown: &CancellationToken,
    ) -> Result<()> {
        let (client, connection) = self.database.dedicated().await?;
        let mut connection = pin!(connection);
        let leading = self.lead(&client, role, shutdown);
        tokio::select! {
            ended = leading => ended,
            ended = &mut connection => Err(match ended {
                Ok(()) => Error::Unavailable("the lease's session was closed".into()),
                Err(error) => Error::from(error),
            }),
        }
    }

    async fn lead(
        &self,
        client: &tokio_postgres::Client,
        role: &watch::Sender<Role>,
        shutdown: &CancellationToken,
    ) -> Result<()> {
        client
            .batch_execute(&format!(
                "SET idle_session_timeout = '{}s'; SET application_name = 'hubspot-gateway lease'",
                IDLE_SESSION_TIMEOUT.as_secs()
            ))
            .await?;
        loop {
            let taken: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])
                .await?
                .get(0);
            if taken {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                () = shutdown.cancelled() => return Ok(()),
            }
        }
        if let Err(error) = schema::expect_current(client).await {
            client
                .execute("SELECT pg_advisory_unlock($1)", &[&LEADER_LOCK])
                .await?;
            return Err(error);
        }
        let epoch: i64 = client
            .query_one(
                "UPDATE leadership SET epoch = epoch + 1, replica = $1, since = now() \
                 RETURNING epoch",
                &[&self.replica],
            )
            .await?
            .get(0);
        role.send_replace(Role::Leading { epoch });
        tracing::info!(epoch, replica = %self.replica, "leading");
        loop {
            tokio::select! {
                () = tokio::time::sleep(HEARTBEAT) => {}
                () = shutdown.cancelled() => {
                    role.send_replace(Role::Following);
                    client.execute("SELECT pg_advisory_unlock($1)", &[&LEADER_LOCK]).await?;
                    return Ok(());
                }
            }
            // A newer build may have migrated the schema meanwhile: this one stops leading.
            let still_ours = "SELECT (SELECT epoch FROM leadership) = $1,
                                     (SELECT version FROM gateway_schema) = $2";
            let version = SCHEMA_VERSION as i32;
            let parameters: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&epoch, &version];
            let check = client.query_one(still_ours, &parameters);
            match tokio::time::timeout(HEARTBEAT_TIMEOUT, check).await {
                Ok(Ok(row)) if row.get::<_, bool>(0) && row.get::<_, bool>(1) => {}
                Ok(Ok(row)) if row.get::<_, bool>(0) => {
                    client
                        .execute("SELECT pg_advisory_unlock($1)", &[&LEADER_LOCK])
                        .await?;
                    return Err(schema::expect_current(client)
                        .await
                        .err()
                        .unwrap_or_else(|| {
                            Error::Refused("the schema changed under this leader".into())
                        }));
                }
                Ok(Ok(_)) => {
                    return Err(Error::Refused("another replica wrote a newer epoch".into()))
                }
                Ok(Err(error)) => return Err(error.into()),
                Err(_) => {
                    return Err(Error::Unavailable(format!(
                        "the lease's check took over {} s",
                        HEARTBEAT_TIMEOUT.as_secs()
                    )))
                }
            }
        }
    }
}

fn describe(ended: &Result<()>) -> String {
    match ended {
        Ok(()) => "shutting down".to_owned(),
        Err(error) => error.to_string(),
    }
}
