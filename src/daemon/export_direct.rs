//! `hubspot-gateway export` without a running daemon: the job is stored and run on the
//! store directly (with the same writer the daemon uses), and progress shown on a terminal.

use std::io::{IsTerminal, Write as _};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::sync::{client, connect, record_types};
use crate::config::Loaded;
use crate::export::context::Context;
use crate::export::file::Input;
use crate::export::job::{self, Header, Row};
use crate::export::writer::Writer;
use crate::export::{Exporter, OnDuplicate};
use crate::hubspot::Requirements;
use crate::object::ObjectType;
use crate::ownership::Fallback;
use crate::store::Store;
use crate::sync::{Settings, Syncer};
use crate::webhook::inbox::now_ms;

/// A one-line progress display on stderr, only when it is a terminal.
pub struct Progress {
    total: usize,
    terminal: bool,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        Progress {
            total,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    pub fn show(&self, done: usize) {
        if self.terminal && self.total > 0 {
            let width = 30;
            let filled = done * width / self.total;
            eprint!(
                "\r[{}{}] {done}/{}",
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.total
            );
            let _ = std::io::stderr().flush();
        }
    }

    pub fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

pub async fn run(
    loaded: &Loaded,
    kind: ObjectType,
    user_email: &str,
    dry_run: bool,
    inputs: &[Input],
) -> anyhow::Result<Vec<Value>> {
    let store = Store::open_with_cache(&loaded.config.store.path, loaded.config.store.cache_mb)?;
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
    let syncer = Arc::new(Syncer::new(
        client,
        store.clone(),
        info.hub_id,
        kinds,
        true,
        settings,
    ));
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
    let rows = rows(inputs)?;
    if dry_run {
        let context = Context::load(&store, info.hub_id, kind, &loaded.config.export)?;
        let results = context
            .dry_run(&store, user_email, &fallback, &rows)?
            .iter()
            .zip(&rows)
            .map(|(outcome, row)| outcome.to_json(&row.reference))
            .collect();
        return Ok(results);
    }
    let header = Header {
        kind,
        user_email: user_email.to_owned(),
        state: "queued".into(),
        total: rows.len() as u32,
        created_at_ms: now_ms(),
        error: None,
        stalled: None,
    };
    let id = job::enqueue(&store, info.hub_id, &header, &rows)?;
    let exporter = Arc::new(Exporter::new(loaded.config.export.clone()));
    let writer = Writer::new(syncer, fallback, exporter);
    let progress = Progress::new(rows.len());
    let shutdown = CancellationToken::new();
    let work = writer.run_pending(&shutdown);
    tokio::pin!(work);
    loop {
        tokio::select! {
            outcome = &mut work => {
                progress.finish();
                outcome?;
                break;
            }
            () = tokio::time::sleep(Duration::from_millis(300)) => {
                let done = job::rows(&store, info.hub_id, id)?.iter().filter(|r| r.outcome.is_some()).count();
                progress.show(done);
            }
        }
    }
    store.commit()?;
    let rows = job::rows(&store, info.hub_id, id)?;
    Ok(rows
        .iter()
        .filter_map(|row| Some(row.outcome.as_ref()?.to_json(&row.reference)))
        .collect())
}

fn rows(inputs: &[Input]) -> anyhow::Result<Vec<Row>> {
    inputs
        .iter()
        .map(|input| {
            let on_duplicate = match input.on_duplicate.as_deref() {
                None => None,
                Some(text) => Some(OnDuplicate::parse(text).with_context(|| {
                    format!(
                        "{}: on_duplicate {text:?} must be update, create or skip",
                        input.reference
                    )
                })?),
            };
            Ok(Row {
                reference: input.reference.clone(),
                fields: input.fields.clone(),
                on_duplicate,
                intent_at_ms: None,
                outcome: None,
            })
        })
        .collect()
}
