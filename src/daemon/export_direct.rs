//! `hubspot-gateway export` without a running daemon: each job is stored and run on the store
//! directly, with the same writer the daemon uses.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use super::export_file::Finished;
use super::progress::Progress;
use super::sync::{client, connect, record_types};
use crate::config::Loaded;
use crate::connection::{portal, Connections, Portal};
use crate::export::context::Context;
use crate::export::file::Input;
use crate::export::job;
use crate::export::submit::{self, Submitted};
use crate::export::writer::Writer;
use crate::export::Exporter;
use crate::hubspot::Requirements;
use crate::object::ObjectType;
use crate::ownership::Fallback;
use crate::store::Store;
use crate::sync::{Settings, Syncer};

/// The store opened and HubSpot connected, ready to run the jobs of one file.
pub struct Direct {
    store: Store,
    /// Holds the store (on PostgreSQL: the lease) while the export runs.
    _opened: super::Opened,
    portal: i64,
    kind: ObjectType,
    user_email: String,
    dry_run: bool,
    fallback: Fallback,
    connections: Connections,
    exporter: Arc<Exporter>,
    writer: Writer,
}

impl Direct {
    pub async fn connect(
        loaded: &Loaded,
        kind: ObjectType,
        user_email: &str,
        dry_run: bool,
        portal: Option<i64>,
    ) -> anyhow::Result<Direct> {
        // A dry run writes nothing that must happen once; an export takes the lease.
        let opened = super::open_for_command(loaded, !dry_run).await?;
        let store = opened.store.clone();
        let site = super::commands::site(loaded, &store, portal)?;
        let client = client(&site.connections)?;
        let kinds = record_types(loaded);
        let needs = Requirements {
            read: kinds.clone(),
            owners: true,
            write: if dry_run { Vec::new() } else { vec![kind] },
        };
        let info = connect(&client, &needs, &CancellationToken::new())
            .await
            .context("could not connect to HubSpot")?;
        let settings = Settings {
            lookback_ms: loaded.config.sync.lookback_secs as i64 * 1000,
        };
        // What the export writes into the mirror notifies as in the daemon.
        let notifier = crate::notify::attach(loaded, &store)?;
        let syncer = Arc::new(
            Syncer::new(client, store.clone(), info.hub_id, kinds, true, settings)
                .notifying(notifier),
        );
        // Owners and property definitions decide owners and value checks.
        syncer.refresh_reference().await?;
        let fallback = portal::fallback(
            loaded.config.ownership.fallback_owner(),
            Some(&Portal::of(&info)),
        );
        let exporter = Arc::new(Exporter::new(loaded.config.export.clone()));
        Ok(Direct {
            connections: site.connections.clone(),
            store,
            _opened: opened,
            portal: info.hub_id,
            kind,
            user_email: user_email.to_owned(),
            dry_run,
            fallback: fallback.clone(),
            writer: Writer::new(syncer, fallback, exporter.clone()),
            exporter,
        })
    }

    /// The settings in effect: the store's override, else the config.
    fn context(&self) -> anyhow::Result<Context> {
        Ok(Context::load(
            &self.store,
            self.portal,
            self.kind,
            &self.exporter.config,
        )?)
    }

    /// At most this many records in one job.
    pub fn max_records(&self) -> anyhow::Result<u64> {
        Ok(self.context()?.settings.max_records)
    }

    /// Runs one job (a dry run plans it) and answers its results: submitted as the API
    /// submits (`export::submit`), then run here by the daemon's writer.
    pub async fn run(&self, inputs: &[Input], progress: &Progress) -> anyhow::Result<Finished> {
        let request = submit::Request {
            kind: self.kind,
            user_email: self.user_email.clone(),
            rows: submit::rows_of(inputs),
            dry_run: self.dry_run,
        };
        let submitted = submit::submit(
            &self.store,
            &self.exporter,
            self.portal,
            &self.fallback,
            self.connections.preferences().exports_enabled,
            request,
        )?;
        let id = match submitted {
            Submitted::Planned { rows, outcomes } => {
                progress.advance(rows.len() as u64);
                let results = outcomes
                    .iter()
                    .zip(&rows)
                    .map(|(outcome, row)| outcome.to_json(&row.reference))
                    .collect();
                return Ok(Finished::done(results));
            }
            Submitted::Queued(id) => id,
        };
        let shutdown = CancellationToken::new();
        let work = self.writer.run_pending(&shutdown);
        tokio::pin!(work);
        loop {
            tokio::select! {
                outcome = &mut work => {
                    outcome?;
                    break;
                }
                () = tokio::time::sleep(Duration::from_millis(300)) => {
                    let rows = job::rows(&self.store, self.portal, id)?;
                    progress.show(rows.iter().filter(|r| r.outcome.is_some()).count() as u64);
                }
            }
        }
        self.store.commit()?;
        let rows = job::rows(&self.store, self.portal, id)?;
        progress.advance(rows.len() as u64);
        let results = rows
            .iter()
            .filter_map(|row| Some(row.outcome.as_ref()?.to_json(&row.reference)))
            .collect();
        let header = job::header(&self.store, self.portal, id)?;
        let error = header.and_then(|header| header.error);
        Ok(Finished {
            results,
            failed: error.map(|error| format!("{}: {}", error.code, error.message)),
        })
    }
}
