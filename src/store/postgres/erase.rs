//! Erasing a portal on PostgreSQL (`Store::erase_portal`): the rows of every table of the
//! portal's data and the outbox's notifications about it, in one transaction behind the
//! leader's [`Fence`].

use super::{Database, Fence, Result};
use crate::store::Erased;

/// The tables a portal's data lives in, each with its `portal_id` column, and which count of
/// [`Erased`] their rows add to (besides `rows`).
const TABLES: [(&str, Counted); 16] = [
    ("records", Counted::Records),
    ("record_terms", Counted::Rows),
    ("record_counts", Counted::Rows),
    ("aliases", Counted::Rows),
    ("associations", Counted::Rows),
    ("purged", Counted::Rows),
    ("sync_cursors", Counted::Rows),
    ("owners", Counted::Reference),
    ("pipelines", Counted::Reference),
    ("properties", Counted::Reference),
    ("first_matches", Counted::Matches),
    ("match_counts", Counted::Rows),
    ("user_mappings", Counted::Mappings),
    ("export_jobs", Counted::ExportJobs),
    ("export_rows", Counted::Rows),
    ("journal_cursors", Counted::Rows),
];

/// Tables with a `portal_id` column that an erase leaves: the inbox's redelivery check,
/// which expires with the inbox's retention as sled's does.
pub const KEPT: [&str; 1] = ["inbox_seen"];

#[derive(Clone, Copy)]
enum Counted {
    Records,
    Reference,
    Matches,
    Mappings,
    ExportJobs,
    Rows,
}

/// Deletes every row of `portal` in [`TABLES`] and its notifications, in one transaction
/// that commits only while `fence` is the current leader's.
pub async fn portal(database: &Database, fence: Fence, portal: i64) -> Result<Erased> {
    let mut client = database.client().await?;
    let transaction = client.transaction().await?;
    fence.check(&transaction).await?;
    let mut erased = Erased::default();
    for (table, counted) in TABLES {
        let sql = format!("DELETE FROM {table} WHERE portal_id = $1");
        let deleted = transaction.execute(&sql, &[&portal]).await?;
        erased.rows += deleted;
        match counted {
            Counted::Records => erased.records += deleted,
            Counted::Reference => erased.reference += deleted,
            Counted::Matches => erased.matches += deleted,
            Counted::Mappings => erased.mappings += deleted,
            Counted::ExportJobs => erased.export_jobs += deleted,
            Counted::Rows => {}
        }
    }
    // Last: the outbox's deliverers wait for it (see `outbox::erase_in`) only from here to
    // the commit, not for the whole portal's deletes.
    erased.notifications = super::outbox::erase_in(&transaction, portal).await?;
    erased.rows += erased.notifications;
    transaction.commit().await?;
    Ok(erased)
}
