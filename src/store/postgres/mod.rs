//! The PostgreSQL backend (`store.backend = "postgres"`): a pool of connections to one
//! database that any number of gateways share ([`Database`]), the schema and its versions
//! ([`schema`]), the lease that makes one of those gateways the leader ([`lease`]), and the
//! stores, each with the operations of its sled counterpart: the webhook inbox with the
//! journal's cursors, the mirror, export jobs, reference data with the user mappings,
//! connections, first matches, the outbox of notifications. `store::front` puts them behind
//! the interface the rest of the gateway uses (ARCHITECTURE.md, "PostgreSQL").
//!
//! The database's URL may carry a password: it is handed in resolved and never written to a
//! log line or an error (tokio-postgres's errors do not repeat it).

pub mod audit;
pub mod connections;
pub mod erase;
pub mod exports;
pub mod inbox;
pub mod lease;
pub mod listen;
pub mod matches;
pub mod mirror;
pub mod outbox;
pub mod reference;
pub mod schema;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::config::SslMode;
use tokio_postgres::NoTls;

pub use connections::Connections;
pub use exports::Exports;
pub use inbox::{Counting, Inbox, Unapplied, Window};
pub use lease::{Candidate, Fence, Role};
pub use listen::Heard;
pub use matches::Matches;
pub use mirror::Mirror;
pub use outbox::Outbox;
pub use reference::Reference;
pub use schema::{Migrated, SCHEMA_VERSION};

/// How long a connection attempt may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The server ends a pooled session idle this long inside a transaction (see `Database::new`);
/// within the lease's takeover (`lease::IDLE_SESSION_TIMEOUT`).
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the database URL is not valid: {0}")]
    Url(String),
    #[error("the database is unreachable: {0}")]
    Unavailable(String),
    #[error("the database refused: {0}")]
    Refused(String),
    #[error(
        "the database's schema is version {found}, newer than this build's {SCHEMA_VERSION}: a \
         newer gateway migrated it; upgrade this one"
    )]
    TooNew { found: u32 },
    #[error(
        "the database's schema is version {found}, older than this build's {SCHEMA_VERSION}: run \
         `hubspot-gateway migrate`"
    )]
    TooOld { found: u32 },
    #[error("this replica no longer leads (the lease moved to epoch {current}, it held {held})")]
    Fenced { held: i64, current: i64 },
}

impl From<tokio_postgres::Error> for Error {
    fn from(error: tokio_postgres::Error) -> Self {
        // A server error (a constraint, a permission) is the database answering, unless its
        // class says the server is going away or cannot serve (08 connection, 53 resources,
        // 57 operator intervention such as a shutdown, 58 system). Without a server error, a
        // closed connection or an I/O error (refused, reset, timed out) is the database being
        // away; anything else is a statement this build got wrong.
        match error.as_db_error() {
            Some(db) => {
                let code = db.code().code();
                let message = format!("{} ({code})", db.message());
                if ["08", "53", "57", "58"]
                    .iter()
                    .any(|class| code.starts_with(class))
                {
                    Error::Unavailable(message)
                } else {
                    Error::Refused(message)
                }
            }
            None if error.is_closed() || io_error_in(&error) => {
                Error::Unavailable(with_causes(&error))
            }
            None => Error::Refused(with_causes(&error)),
        }
    }
}

/// Whether an I/O error (a refused or reset connection, a timeout) is among the causes.
fn io_error_in(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<std::io::Error>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// An error's message with its causes' ("error connecting to server: Connection refused").
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message = format!("{message}: {inner}");
        cause = inner.source();
    }
    message
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => Error::from(error),
            other => Error::Unavailable(other.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// How connections reach the server: in plain text, or with TLS when the URL asks for it
/// (`sslmode=require`), the server's certificate verified against trusted roots and for the
/// URL's host (stricter than libpq's `require`, which encrypts without verifying).
#[derive(Clone)]
enum Transport {
    Plain,
    Tls(tokio_postgres_rustls::MakeRustlsConnect),
}

impl Transport {
    /// The transport `config` asks for; TLS trusts the certificates in the PEM file
    /// `ca_file` (`store.ca_file`), else Mozilla's roots.
    fn of(config: &tokio_postgres::Config, ca_file: Option<&Path>) -> Result<Transport> {
        use rustls_pki_types::pem::PemObject as _;
        use tokio_rustls::rustls;
        if config.get_ssl_mode() != SslMode::Require {
            return Ok(Transport::Plain);
        }
        let mut roots = rustls::RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let unreadable = |error: &dyn std::fmt::Display| {
                    Error::Url(format!("store.ca_file {}: {error}", path.display()))
                };
                let certificates = rustls_pki_types::CertificateDer::pem_file_iter(path)
                    .and_then(|certificates| {
                        certificates.collect::<std::result::Result<Vec<_>, _>>()
                    })
                    .map_err(|error| unreadable(&error))?;
                for certificate in certificates {
                    roots.add(certificate).map_err(|error| unreadable(&error))?;
                }
                if roots.is_empty() {
                    return Err(unreadable(&"it holds no certificate"));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| Error::Url(format!("TLS to the database: {error}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Transport::Tls(
            tokio_postgres_rustls::MakeRustlsConnect::new(tls),
        ))
    }
}

/// A connection's task, which the caller spawns (or polls) to drive it.
type Driving = Pin<Box<dyn Future<Output = std::result::Result<(), tokio_postgres::Error>> + Send>>;

/// One PostgreSQL database shared by the gateways of a deployment; cheap to clone.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    /// Shared: a handle is a few words (the stores hold one each).
    config: std::sync::Arc<tokio_postgres::Config>,
    transport: Transport,
}

impl Database {
    /// A pool of at most `connections` connections to the database at `url`
    /// (`postgresql://user:password@host:port/db`, `?sslmode=require` for TLS, trusting
    /// `ca_file`'s certificates, else Mozilla's roots); connects lazily.
    pub fn new(url: &str, connections: usize, ca_file: Option<&Path>) -> Result<Database> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|error: tokio_postgres::Error| Error::Url(error.to_string()))?;
        let transport = Transport::of(&config, ca_file)?;
        config.connect_timeout(CONNECT_TIMEOUT);
        // A transaction left open by a gateway cut off from the database would hold its row
        // locks (the fence's `FOR SHARE` on the lease row among them) until TCP gave up,
        // hours later: the server ends such sessions. The gateway's transactions never wait
        // on anything but the database.
        let options = format!(
            "{} -c idle_in_transaction_session_timeout={}s",
            config.get_options().unwrap_or(""),
            IDLE_IN_TRANSACTION.as_secs()
        );
        config.options(options.trim());
        if config.get_application_name().is_none() {
            config.application_name("hubspot-gateway");
        }
        let recycling = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &transport {
            Transport::Plain => Manager::from_config(config.clone(), NoTls, recycling()),
            Transport::Tls(tls) => Manager::from_config(config.clone(), tls.clone(), recycling()),
        };
        let pool = Pool::builder(manager)
            .max_size(connections.max(1))
            .build()
            .map_err(|error| Error::Url(error.to_string()))?;
        Ok(Database {
            pool,
            config: std::sync::Arc::new(config),
            transport,
        })
    }

    /// A pooled connection.
    pub async fn client(&self) -> Result<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    /// The rows `sql` reads, on a pooled connection, the statement prepared once per
    /// connection.
    pub(super) async fn read(
        &self,
        sql: &str,
        parameters: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query(&statement, parameters).await?)
    }

    /// The row `sql` reads, if any (see [`Database::read`]).
    pub(super) async fn read_opt(
        &self,
        sql: &str,
        parameters: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await?;
        Ok(client.query_opt(&statement, parameters).await?)
    }

    /// A connection of its own, outside the pool (the lease's session), with the task that
    /// drives it; the caller spawns that.
    async fn dedicated(&self) -> Result<(tokio_postgres::Client, Driving)> {
        Ok(match &self.transport {
            Transport::Plain => {
                let (client, connection) = self.config.connect(NoTls).await?;
                (client, Box::pin(connection))
            }
            Transport::Tls(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                (client, Box::pin(connection))
            }
        })
    }

    /// Creates the schema or upgrades it to this build's version (`hubspot-gateway migrate`,
    /// and every start: a newer build upgrades the schema it finds).
    pub async fn migrate(&self) -> Result<Migrated> {
        let mut client = self.client().await?;
        schema::migrate(&mut client).await
    }

    /// The schema's version, 0 when there is none yet.
    pub async fn schema_version(&self) -> Result<u32> {
        let client = self.client().await?;
        let client: &tokio_postgres::Client = &client;
        schema::version(client).await
    }
}

#[cfg(test)]
mod exports_tests;
#[cfg(test)]
mod inbox_tests;
#[cfg(test)]
mod matches_tests;
#[cfg(test)]
mod mirror_tests;
#[cfg(test)]
mod outbox_tests;
#[cfg(test)]
mod reference_tests;
#[cfg(test)]
mod tests;
