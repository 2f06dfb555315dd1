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
use crate::export::context::Context;
use crate::export::file::Input;
use crate::export::job::{self, Header, Row};
use crate::export::writer::Writer;
use crate::export::Exporter;
use crate::hubspot::Requirements;
use crate::object::ObjectType;
use crate::ownership::Fallback;
use crate::store::Store;
use crate::sync::{Settings, Syncer};
use crate::webhook::inbox::now_ms;

/// The store opened and HubSpot connected, ready to run the jobs of one file.
pub struct Direct {
    store: Store,
    portal: i64,
    kind: ObjectType,
    user_email: String,
    dry_run: bool,
    fallback: Fallback,
    writer: Writer,
    config: crate::config::Export,
}

impl Direct {
    pub async fn connect(
        loaded: &Loaded,
        kind: ObjectType,
        user_email: &str,
        dry_run: bool,
    ) -> anyhow::Result<Direct> {
        let store =
            Store::open_with_cache(&loaded.config.store.path, loaded.config.store.cache_mb)?;
        let client = client(loaded, &store)?;
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
        let fallback = Fallback {
            owner_id: loaded
                .config
                .ownership
                .fallback_owner_id
                .as_deref()
                .and_then(|id| id.parse().ok()),
            connected_user_email: info.user_email.clone(),
            connected_user_id: info.user_id,
        };
        let exporter = Arc::new(Exporter::new(loaded.config.export.clone()));
        Ok(Direct {
            store,
            portal: info.hub_id,
            kind,
            user_email: user_email.to_owned(),
            dry_run,
            fallback: fallback.clone(),
            writer: Writer::new(syncer, fallback, exporter),
            config: loaded.config.export.clone(),
        })
    }

    /// The settings in effect: the store's override, else the config.
    fn context(&self) -> anyhow::Result<Context> {
        Ok(Context::load(
            &self.store,
            self.portal,
            self.kind,
            &self.config,
        )?)
    }

    /// At most this many records in one job.
    pub fn max_records(&self) -> anyhow::Result<u64> {
        Ok(self.context()?.settings.max_records)
    }

    /// Runs one job (a dry run plans it) and answers its results.
    pub async fn run(&self, inputs: &[Input], progress: &Progress) -> anyhow::Result<Finished> {
        let rows = rows(inputs);
        if self.dry_run {
            let context = self.context()?;
            let outcomes = context.dry_run(&self.store, &self.user_email, &self.fallback, &rows)?;
            progress.advance(rows.len() as u64);
            let results = outcomes
                .iter()
                .zip(&rows)
                .map(|(outcome, row)| outcome.to_json(&row.reference))
                .collect();
            return Ok(Finished::done(results));
        }
        let header = Header {
            kind: self.kind,
            user_email: self.user_email.clone(),
            state: "queued".into(),
            total: rows.len() as u32,
            created_at_ms: now_ms(),
            finished_at_ms: None,
            error: None,
            stalled: None,
        };
        let id = job::enqueue(&self.store, self.portal, &header, &rows)?;
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

fn rows(inputs: &[Input]) -> Vec<Row> {
    inputs
        .iter()
        .map(|input| Row {
            reference: input.reference.clone(),
            fields: input.fields.clone(),
            on_duplicate: input.on_duplicate,
            intent_at_ms: None,
            known_at_intent: Vec::new(),
            outcome: None,
        })
        .collect()
}
