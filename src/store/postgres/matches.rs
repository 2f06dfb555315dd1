//! First matches on PostgreSQL: when each record was first found by a lookup. Every replica
//! answers lookups, so the first write of a record's row wins and every replica then
//! answers that time: [`Matches::store`] returns, per record, the time that was stored
//! (its own or an earlier one). The count per type moves in the same transaction as the rows.

use std::collections::BTreeMap;

use super::{Database, Outbox, Result};
use crate::object::ObjectType;
use crate::store::FirstMatchNotice;

#[derive(Clone)]
pub struct Matches {
    database: Database,
}

fn code(kind: ObjectType) -> i16 {
    i16::from(kind.code())
}

impl Matches {
    pub fn new(database: Database) -> Matches {
        Matches { database }
    }

    /// Stores first matches `(type, id, matched at)` not stored yet and returns the time
    /// stored for each, in order: its own, or the earlier one another write stored.
    pub async fn store(&self, portal: i64, found: &[(ObjectType, i64, i64)]) -> Result<Vec<i64>> {
        self.store_notifying(portal, found, None).await
    }

    /// Like [`Matches::store`], also queueing in `outbox`, in the same transaction, the
    /// notice `notice` makes of each match this call stored (a first match).
    pub async fn store_notifying(
        &self,
        portal: i64,
        found: &[(ObjectType, i64, i64)],
        notifying: Option<(&Outbox, &FirstMatchNotice)>,
    ) -> Result<Vec<i64>> {
        let kinds: Vec<i16> = found.iter().map(|(kind, ..)| code(*kind)).collect();
        let ids: Vec<i64> = found.iter().map(|(_, id, _)| *id).collect();
        let times: Vec<i64> = found.iter().map(|(.., at)| *at).collect();
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        let inserted = transaction
            .query(
                // In key order: two replicas inserting overlapping keys in different orders
                // would wait for each other's uncommitted rows.
                "INSERT INTO first_matches (portal_id, kind, id, matched_at_ms)
                 SELECT $1, kind, id, at FROM unnest($2::smallint[], $3::bigint[], $4::bigint[])
                     AS m (kind, id, at)
                 ORDER BY kind, id
                 ON CONFLICT DO NOTHING RETURNING kind, id, matched_at_ms",
                &[&portal, &kinds, &ids, &times],
            )
            .await?;
        let mut added: BTreeMap<i16, i64> = BTreeMap::new();
        for row in &inserted {
            *added.entry(row.get(0)).or_default() += 1;
        }
        if let Some((outbox, notice)) = notifying {
            let notices: Vec<_> = inserted
                .iter()
                .filter_map(|row| {
                    let kind = ObjectType::ALL
                        .into_iter()
                        .find(|kind| code(*kind) == row.get::<_, i16>(0))?;
                    notice(portal, kind, row.get(1), row.get(2))
                })
                .collect();
            super::outbox::queue_in(outbox, &transaction, &notices, crate::time::now_ms()).await?;
        }
        for (kind, count) in added {
            transaction
                .execute(
                    "INSERT INTO match_counts (portal_id, kind, matched) VALUES ($1, $2, $3)
                     ON CONFLICT (portal_id, kind)
                     DO UPDATE SET matched = match_counts.matched + $3",
                    &[&portal, &kind, &count],
                )
                .await?;
        }
        let stored = transaction
            .query(
                "SELECT f.matched_at_ms FROM unnest($2::smallint[], $3::bigint[])
                     WITH ORDINALITY AS m (kind, id, n)
                 JOIN first_matches f ON f.portal_id = $1 AND f.kind = m.kind AND f.id = m.id
                 ORDER BY m.n",
                &[&portal, &kinds, &ids],
            )
            .await?;
        transaction.commit().await?;
        Ok(stored.iter().map(|row| row.get(0)).collect())
    }

    /// When this record was first matched, if it was.
    pub async fn matched_at(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<i64>> {
        let row = self
            .database
            .read_opt(
                "SELECT matched_at_ms FROM first_matches
                 WHERE portal_id = $1 AND kind = $2 AND id = $3",
                &[&portal, &code(kind), &id],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Records of `kind` matched at least once.
    pub async fn matched_count(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        let row = self
            .database
            .read_opt(
                "SELECT matched FROM match_counts WHERE portal_id = $1 AND kind = $2",
                &[&portal, &code(kind)],
            )
            .await?;
        Ok(row.map_or(0, |row| row.get::<_, i64>(0) as u64))
    }

    /// Records of `kind` first matched in `[from_ms, to_ms)`, as (id, matched at), oldest
    /// first.
    pub async fn matched_between(
        &self,
        portal: i64,
        kind: ObjectType,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let rows = self
            .database
            .read(
                "SELECT id, matched_at_ms FROM first_matches
                 WHERE portal_id = $1 AND kind = $2 AND matched_at_ms >= $3 AND matched_at_ms < $4
                 ORDER BY matched_at_ms, id",
                &[&portal, &code(kind), &from_ms, &to_ms],
            )
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// Forgets every recorded match of `kind`; returns how many there were.
    pub async fn clear(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        let cleared = transaction
            .execute(
                "DELETE FROM first_matches WHERE portal_id = $1 AND kind = $2",
                &[&portal, &code(kind)],
            )
            .await?;
        transaction
            .execute(
                "DELETE FROM match_counts WHERE portal_id = $1 AND kind = $2",
                &[&portal, &code(kind)],
            )
            .await?;
        transaction.commit().await?;
        Ok(cleared)
    }

    /// Forgets the first match of one record (a privacy deletion), row and count together;
    /// whether there was one.
    pub async fn forget(&self, portal: i64, kind: ObjectType, id: i64) -> Result<bool> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        let forgotten = transaction
            .execute(
                "DELETE FROM first_matches WHERE portal_id = $1 AND kind = $2 AND id = $3",
                &[&portal, &code(kind), &id],
            )
            .await?;
        if forgotten > 0 {
            transaction
                .execute(
                    "UPDATE match_counts SET matched = GREATEST(matched - 1, 0)
                     WHERE portal_id = $1 AND kind = $2",
                    &[&portal, &code(kind)],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(forgotten > 0)
    }
}
