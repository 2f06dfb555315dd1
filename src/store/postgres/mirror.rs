//! The mirror on PostgreSQL: the same [`Write`]s as sled's [`Mirror`](crate::store::Mirror),
//! each list of them (with its sync cursor) in one transaction that first passes the leader's
//! [`Fence`], and the same reads. Records are JSONB beside their brief; the terms of live
//! records are rows of `record_terms`, so a lookup is one index range.

use std::collections::{HashMap, HashSet};
use tokio_postgres::types::Json;

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{Database, Error, Fence, Outbox, Result};
use crate::object::ObjectType;
use crate::store::{Brief, Notice, Record, Term, Write};

/// The mirror's tables, shared by every replica; only the leader writes.
#[derive(Clone)]
pub struct Mirror {
    database: Database,
}

impl Mirror {
    pub fn new(database: Database) -> Mirror {
        Mirror { database }
    }

    /// Applies `writes` to records of `kind` and, if given, sets the sync cursor `name`, in
    /// one transaction that commits only while `fence` is the current leader's.
    pub async fn write(
        &self,
        fence: Fence,
        portal: i64,
        kind: ObjectType,
        writes: &[Write],
        cursor: Option<(&str, &[u8])>,
    ) -> Result<()> {
        self.write_notifying(fence, portal, kind, writes, cursor, None)
            .await
    }

    /// Like [`Mirror::write`], also queueing `notices` (what `notify` derived from these
    /// writes) in `outbox`, in the same transaction; `now_ms` stamps them.
    pub async fn write_notifying(
        &self,
        fence: Fence,
        portal: i64,
        kind: ObjectType,
        writes: &[Write],
        cursor: Option<(&str, &[u8])>,
        notifying: Option<(&Outbox, &[Notice], i64)>,
    ) -> Result<()> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let tx = Tx {
            transaction: &transaction,
            portal,
            kind: i16::from(kind.code()),
        };
        let mut at = 0;
        while at < writes.len() {
            // A run of upserts of distinct records is a few statements, whatever its length.
            let run = upserts_of_distinct_records(&writes[at..]);
            let replacements = replacements_of_distinct_links(kind, &writes[at..]);
            if run > 0 {
                tx.upsert_all(&writes[at..at + run]).await?;
                at += run;
            } else if replacements > 0 {
                // Likewise a run of association replacements: three statements.
                tx.replace_all(&writes[at..at + replacements]).await?;
                at += replacements;
            } else {
                tx.apply(&writes[at]).await?;
                at += 1;
            }
        }
        if let Some((name, value)) = cursor {
            tx.exec(
                "INSERT INTO sync_cursors (portal_id, name, value) VALUES ($1, $2, $3)
                 ON CONFLICT (portal_id, name) DO UPDATE SET value = $3",
                &[&portal, &name, &value],
            )
            .await?;
        }
        if let Some((outbox, notices, now_ms)) = notifying {
            super::outbox::queue_in(outbox, &transaction, notices, now_ms).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The record stored under exactly `id`, archived ones included.
    pub async fn get(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<Record>> {
        let row = self
            .database
            .read_opt(
                "SELECT record FROM records WHERE portal_id = $1 AND kind = $2 AND id = $3",
                &[&portal, &code(kind), &id],
            )
            .await?;
        Ok(row.map(|row| row.get::<_, Json<Record>>(0).0))
    }

    /// The records stored under `ids`, archived ones included, by id: one statement for
    /// all of them.
    pub async fn get_many(
        &self,
        portal: i64,
        kind: ObjectType,
        ids: &[i64],
    ) -> Result<HashMap<i64, Record>> {
        let rows = self
            .database
            .read(
                "SELECT id, record FROM records WHERE portal_id = $1 AND kind = $2 AND id = ANY($3)",
                &[&portal, &code(kind), &ids],
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get(0), row.get::<_, Json<Record>>(1).0))
            .collect())
    }

    /// The brief of the record stored under exactly `id`, archived ones included.
    pub async fn brief(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<Brief>> {
        let row = self
            .database
            .read_opt(
                "SELECT brief FROM records WHERE portal_id = $1 AND kind = $2 AND id = $3",
                &[&portal, &code(kind), &id],
            )
            .await?;
        Ok(row.map(|row| row.get::<_, Json<Brief>>(0).0))
    }

    /// The record `id` refers to, following merge aliases to the survivor.
    pub async fn find(&self, portal: i64, kind: ObjectType, id: i64) -> Result<Option<Record>> {
        let id = self.resolve(portal, kind, id).await?;
        self.get(portal, kind, id).await
    }

    /// The id a merged record lives on as (itself when not merged).
    pub async fn resolve(&self, portal: i64, kind: ObjectType, id: i64) -> Result<i64> {
        // Merges chain (a survivor can lose a later merge); bound the walk against cycles.
        let rows = self
            .database
            .read(
                "WITH RECURSIVE chain (id, depth) AS (
                     SELECT $3::bigint, 0
                     UNION ALL
                     SELECT a.survivor, chain.depth + 1 FROM aliases a JOIN chain
                         ON a.portal_id = $1 AND a.kind = $2 AND a.id = chain.id
                     WHERE chain.depth < 32
                 )
                 SELECT id, depth FROM chain ORDER BY depth DESC LIMIT 1",
                &[&portal, &code(kind), &id],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| Error::Refused("no alias chain".into()))?;
        let (survivor, depth): (i64, i32) = (row.get(0), row.get(1));
        if depth >= 32 {
            return Err(Error::Refused(format!(
                "alias chain of {kind} {id} does not end"
            )));
        }
        Ok(survivor)
    }

    /// The briefs of the records indexed under `term`, by ascending id: one round trip
    /// where a lookup and a brief per record take several.
    pub async fn term_briefs(
        &self,
        portal: i64,
        kind: ObjectType,
        term: &Term,
    ) -> Result<Vec<Brief>> {
        let rows = self
            .database
            .read(
                "SELECT r.brief FROM record_terms t JOIN records r
                     ON r.portal_id = t.portal_id AND r.kind = t.kind AND r.id = t.id
                 WHERE t.portal_id = $1 AND t.kind = $2 AND t.term_kind = $3 AND t.term = $4
                 ORDER BY t.id",
                &[&portal, &code(kind), &term_code(term), &term.value],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.get::<_, Json<Brief>>(0).0)
            .collect())
    }

    /// Ids of live records indexed under `term`, ascending.
    pub async fn lookup(&self, portal: i64, kind: ObjectType, term: &Term) -> Result<Vec<i64>> {
        let rows = self
            .database
            .read(
                "SELECT id FROM record_terms
                 WHERE portal_id = $1 AND kind = $2 AND term_kind = $3 AND term = $4
                 ORDER BY id",
                &[&portal, &code(kind), &term_code(term), &term.value],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Ids of `to_type` records associated with the record stored under exactly `id`,
    /// ascending.
    pub async fn associated_exact(
        &self,
        portal: i64,
        kind: ObjectType,
        id: i64,
        to_type: ObjectType,
    ) -> Result<Vec<i64>> {
        let rows = self
            .database
            .read(
                "SELECT to_id FROM associations
                 WHERE portal_id = $1 AND from_kind = $2 AND from_id = $3 AND to_kind = $4
                 ORDER BY to_id",
                &[&portal, &code(kind), &id, &code(to_type)],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// The briefs of the `to_type` records associated with each of `ids`, in the order of
    /// `ids` and then of the associated ids: one statement joining the associations to the
    /// records.
    pub async fn associated_briefs(
        &self,
        portal: i64,
        kind: ObjectType,
        ids: &[i64],
        to_type: ObjectType,
    ) -> Result<Vec<Brief>> {
        let rows = self
            .database
            .read(
                "SELECT r.brief FROM unnest($3::bigint[]) WITH ORDINALITY AS f (id, at)
                 JOIN associations a ON a.portal_id = $1 AND a.from_kind = $2
                     AND a.from_id = f.id AND a.to_kind = $4
                 JOIN records r ON r.portal_id = a.portal_id AND r.kind = a.to_kind
                     AND r.id = a.to_id
                 ORDER BY f.at, a.to_id",
                &[&portal, &code(kind), &ids, &code(to_type)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.get::<_, Json<Brief>>(0).0)
            .collect())
    }

    /// Ids of `to_type` records associated with `id`, ascending.
    pub async fn associated(
        &self,
        portal: i64,
        kind: ObjectType,
        id: i64,
        to_type: ObjectType,
    ) -> Result<Vec<i64>> {
        let id = self.resolve(portal, kind, id).await?;
        self.associated_exact(portal, kind, id, to_type).await
    }

    /// Live records of a type.
    pub async fn count(&self, portal: i64, kind: ObjectType) -> Result<u64> {
        let row = self
            .database
            .read_opt(
                "SELECT live FROM record_counts WHERE portal_id = $1 AND kind = $2",
                &[&portal, &code(kind)],
            )
            .await?;
        let live: i64 = row.map_or(0, |row| row.get(0));
        Ok(u64::try_from(live).unwrap_or(0))
    }

    /// Ids of every stored record of a type (archived included), ascending.
    pub async fn ids(&self, portal: i64, kind: ObjectType) -> Result<Vec<i64>> {
        let rows = self
            .database
            .read(
                "SELECT id FROM records WHERE portal_id = $1 AND kind = $2 ORDER BY id",
                &[&portal, &code(kind)],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// Whether a privacy deletion removed this record for good.
    pub async fn is_purged(&self, portal: i64, kind: ObjectType, id: i64) -> Result<bool> {
        let row = self
            .database
            .read_opt(
                "SELECT 1 FROM purged WHERE portal_id = $1 AND kind = $2 AND id = $3",
                &[&portal, &code(kind), &id],
            )
            .await?;
        Ok(row.is_some())
    }

    /// Which of `ids` a privacy deletion removed for good: one statement for all of them.
    pub async fn purged_among(
        &self,
        portal: i64,
        kind: ObjectType,
        ids: &[i64],
    ) -> Result<HashSet<i64>> {
        let rows = self
            .database
            .read(
                "SELECT id FROM purged WHERE portal_id = $1 AND kind = $2 AND id = ANY($3)",
                &[&portal, &code(kind), &ids],
            )
            .await?;
        Ok(rows.into_iter().map(|row| row.get(0)).collect())
    }

    pub async fn cursor(&self, portal: i64, name: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .database
            .read_opt(
                "SELECT value FROM sync_cursors WHERE portal_id = $1 AND name = $2",
                &[&portal, &name],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }
}

/// How many writes from the first are upserts of records not upserted before in them.
fn upserts_of_distinct_records(writes: &[Write]) -> usize {
    let mut seen = HashSet::new();
    writes
        .iter()
        .take_while(|write| match write {
            Write::Upsert { record, .. } => seen.insert(record.id),
            _ => false,
        })
        .count()
}

/// How many writes from the first replace the associations of one record to one other type,
/// each pair named once, none to the writes' own type: their rows are then disjoint (a
/// record's links to that type, and the reverse rows to the record), so deleting all of them
/// and then inserting all of the new ones ends where replacing one after another does.
fn replacements_of_distinct_links(kind: ObjectType, writes: &[Write]) -> usize {
    let mut seen = HashSet::new();
    writes
        .iter()
        .take_while(|write| match write {
            Write::ReplaceAssociations { from, to_type, .. } => {
                *to_type != kind && seen.insert((*from, *to_type))
            }
            _ => false,
        })
        .count()
}

fn code(kind: ObjectType) -> i16 {
    i16::from(kind.code())
}

fn term_code(term: &Term) -> i16 {
    i16::from(term.kind.code())
}

/// One write transaction, for records of one type of one portal.
struct Tx<'a> {
    transaction: &'a Transaction<'a>,
    portal: i64,
    kind: i16,
}

/// Terms of several records as the columns of an `unnest`.
#[derive(Default)]
struct Terms<'a> {
    ids: Vec<i64>,
    kinds: Vec<i16>,
    values: Vec<&'a str>,
}

impl<'a> Terms<'a> {
    fn extend(&mut self, id: i64, terms: &'a [Term]) {
        for term in terms {
            self.ids.push(id);
            self.kinds.push(term_code(term));
            self.values.push(&term.value);
        }
    }
}

/// A stored record as a write reads it back: the parts that decide what else changes.
struct Loaded {
    record: Record,
    terms: Vec<Term>,
    brief: Brief,
}

impl Tx<'_> {
    async fn exec(&self, sql: &str, parameters: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let statement = self.transaction.prepare_cached(sql).await?;
        Ok(self.transaction.execute(&statement, parameters).await?)
    }

    async fn rows(&self, sql: &str, parameters: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let statement = self.transaction.prepare_cached(sql).await?;
        Ok(self.transaction.query(&statement, parameters).await?)
    }

    async fn apply(&self, write: &Write) -> Result<()> {
        match write {
            Write::Upsert { .. } => self.upsert_all(std::slice::from_ref(write)).await,
            Write::Archive { id, at_ms } => self.set_archived(*id, Some(*at_ms)).await,
            Write::Restore { id, at_ms } => {
                self.set_archived(*id, None).await?;
                self.touch_state(*id, *at_ms).await
            }
            Write::Remove { id } => self.remove(*id).await,
            Write::Purge { id } => {
                self.remove(*id).await?;
                self.exec(
                    "INSERT INTO purged (portal_id, kind, id) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                    &[&self.portal, &self.kind, id],
                )
                .await?;
                Ok(())
            }
            Write::Alias { from, to } => {
                self.exec(
                    "INSERT INTO aliases (portal_id, kind, id, survivor) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (portal_id, kind, id) DO UPDATE SET survivor = $4",
                    &[&self.portal, &self.kind, from, to],
                )
                .await?;
                Ok(())
            }
            Write::Associate {
                from,
                to_type,
                to,
                removed,
            } => {
                self.link((self.kind, *from), (code(*to_type), *to), !removed)
                    .await
            }
            Write::ReplaceAssociations { .. } => {
                self.replace_all(std::slice::from_ref(write)).await
            }
        }
    }

    async fn load(&self, id: i64) -> Result<Option<Loaded>> {
        let rows = self
            .rows(
                "SELECT record, terms, brief FROM records
                 WHERE portal_id = $1 AND kind = $2 AND id = $3 FOR UPDATE",
                &[&self.portal, &self.kind, &id],
            )
            .await?;
        Ok(rows.into_iter().next().map(|row| Loaded {
            record: row.get::<_, Json<Record>>(0).0,
            terms: row.get::<_, Json<Vec<Term>>>(1).0,
            brief: row.get::<_, Json<Brief>>(2).0,
        }))
    }

    async fn save(&self, record: &Record, terms: &[Term], brief: &Brief) -> Result<()> {
        self.exec(
            "INSERT INTO records (portal_id, kind, id, record, brief, terms, archived)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (portal_id, kind, id)
                 DO UPDATE SET record = $4, brief = $5, terms = $6, archived = $7",
            &[
                &self.portal,
                &self.kind,
                &record.id,
                &Json(record),
                &Json(brief),
                &Json(terms),
                &record.archived,
            ],
        )
        .await?;
        Ok(())
    }

    async fn index_terms(&self, id: i64, terms: &[Term], present: bool) -> Result<()> {
        if terms.is_empty() {
            return Ok(());
        }
        let kinds: Vec<i16> = terms.iter().map(term_code).collect();
        let values: Vec<&str> = terms.iter().map(|term| term.value.as_str()).collect();
        let sql = if present {
            "INSERT INTO record_terms (portal_id, kind, term_kind, term, id)
             SELECT $1, $2, term_kind, term, $3 FROM unnest($4::smallint[], $5::text[])
                 AS t (term_kind, term)
             ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM record_terms r USING unnest($4::smallint[], $5::text[]) AS t (term_kind, term)
             WHERE r.portal_id = $1 AND r.kind = $2 AND r.id = $3
               AND r.term_kind = t.term_kind AND r.term = t.term"
        };
        self.exec(sql, &[&self.portal, &self.kind, &id, &kinds, &values])
            .await?;
        Ok(())
    }

    async fn add_to_count(&self, delta: i64) -> Result<()> {
        self.exec(
            "INSERT INTO record_counts (portal_id, kind, live)
                 VALUES ($1, $2, GREATEST($3::bigint, 0))
                 ON CONFLICT (portal_id, kind)
                 DO UPDATE SET live = GREATEST(record_counts.live + $3::bigint, 0)",
            &[&self.portal, &self.kind, &delta],
        )
        .await?;
        Ok(())
    }

    /// Upserts of distinct records (other writes are skipped; the caller passes none): the
    /// old terms of the live ones out, the new terms of the live ones in, the count moved
    /// by how many became live or stopped being, and the rows written, each as one statement.
    async fn upsert_all(&self, writes: &[Write]) -> Result<()> {
        let upserts: Vec<(&Record, &[Term], &Brief)> = writes
            .iter()
            .filter_map(|write| match write {
                Write::Upsert {
                    record,
                    terms,
                    brief,
                } => Some((record, terms.as_slice(), &**brief)),
                _ => None,
            })
            .collect();
        let ids: Vec<i64> = upserts.iter().map(|(record, ..)| record.id).collect();
        let old: HashMap<i64, (Vec<Term>, bool)> = self
            .rows(
                "SELECT id, terms, archived FROM records
                 WHERE portal_id = $1 AND kind = $2 AND id = ANY($3) FOR UPDATE",
                &[&self.portal, &self.kind, &ids],
            )
            .await?
            .into_iter()
            .map(|row| (row.get(0), (row.get::<_, Json<Vec<Term>>>(1).0, row.get(2))))
            .collect();
        let (mut gone, mut added) = (Terms::default(), Terms::default());
        let mut delta = 0i64;
        for (record, terms, _) in &upserts {
            let was_live = match old.get(&record.id) {
                Some((old_terms, false)) => {
                    gone.extend(record.id, old_terms);
                    true
                }
                _ => false,
            };
            let is_live = !record.archived;
            if is_live {
                added.extend(record.id, terms);
            }
            delta += i64::from(is_live) - i64::from(was_live);
        }
        if !gone.ids.is_empty() {
            self.exec(
                "DELETE FROM record_terms r
                 USING unnest($3::bigint[], $4::smallint[], $5::text[]) AS t (id, term_kind, term)
                 WHERE r.portal_id = $1 AND r.kind = $2 AND r.id = t.id
                   AND r.term_kind = t.term_kind AND r.term = t.term",
                &[
                    &self.portal,
                    &self.kind,
                    &gone.ids,
                    &gone.kinds,
                    &gone.values,
                ],
            )
            .await?;
        }
        if !added.ids.is_empty() {
            self.exec(
                "INSERT INTO record_terms (portal_id, kind, term_kind, term, id)
                 SELECT $1, $2, term_kind, term, id
                 FROM unnest($3::bigint[], $4::smallint[], $5::text[]) AS t (id, term_kind, term)
                 ON CONFLICT DO NOTHING",
                &[
                    &self.portal,
                    &self.kind,
                    &added.ids,
                    &added.kinds,
                    &added.values,
                ],
            )
            .await?;
        }
        if delta != 0 {
            self.add_to_count(delta).await?;
        }
        let records: Vec<Json<&Record>> =
            upserts.iter().map(|(record, ..)| Json(*record)).collect();
        let briefs: Vec<Json<&Brief>> = upserts.iter().map(|(.., brief)| Json(*brief)).collect();
        let terms: Vec<Json<&[Term]>> = upserts.iter().map(|(_, terms, _)| Json(*terms)).collect();
        let archived: Vec<bool> = upserts.iter().map(|(record, ..)| record.archived).collect();
        self.exec(
            "INSERT INTO records (portal_id, kind, id, record, brief, terms, archived)
             SELECT $1, $2, id, record, brief, terms, archived
             FROM unnest($3::bigint[], $4::jsonb[], $5::jsonb[], $6::jsonb[], $7::boolean[])
                 AS r (id, record, brief, terms, archived)
             ON CONFLICT (portal_id, kind, id) DO UPDATE SET record = EXCLUDED.record,
                 brief = EXCLUDED.brief, terms = EXCLUDED.terms, archived = EXCLUDED.archived",
            &[
                &self.portal,
                &self.kind,
                &ids,
                &records,
                &briefs,
                &terms,
                &archived,
            ],
        )
        .await?;
        Ok(())
    }

    async fn set_archived(&self, id: i64, archived_at_ms: Option<i64>) -> Result<()> {
        let Some(mut stored) = self.load(id).await? else {
            return Ok(());
        };
        let archive = archived_at_ms.is_some();
        if stored.record.archived == archive {
            return Ok(());
        }
        self.index_terms(id, &stored.terms, !archive).await?;
        self.add_to_count(if archive { -1 } else { 1 }).await?;
        stored.record.set_archived(archived_at_ms);
        stored.brief.archived = archive;
        self.save(&stored.record, &stored.terms, &stored.brief)
            .await
    }

    async fn touch_state(&self, id: i64, at_ms: i64) -> Result<()> {
        let Some(mut stored) = self.load(id).await? else {
            return Ok(());
        };
        stored.record.note_state_change(at_ms);
        self.save(&stored.record, &stored.terms, &stored.brief)
            .await
    }

    async fn remove(&self, id: i64) -> Result<()> {
        if let Some(stored) = self.load(id).await? {
            if !stored.record.archived {
                self.index_terms(id, &stored.terms, false).await?;
                self.add_to_count(-1).await?;
            }
            self.exec(
                "DELETE FROM records WHERE portal_id = $1 AND kind = $2 AND id = $3",
                &[&self.portal, &self.kind, &id],
            )
            .await?;
        }
        self.unlink_all(id).await
    }

    /// Removes every association of record `id`, in both directions: the rows from it, then
    /// their reverse rows (both by primary key).
    async fn unlink_all(&self, id: i64) -> Result<()> {
        let removed = self
            .rows(
                "DELETE FROM associations WHERE portal_id = $1 AND from_kind = $2
                 AND from_id = $3
                 RETURNING from_id, to_kind, to_id",
                &[&self.portal, &self.kind, &id],
            )
            .await?;
        self.unlink_reverse(&removed).await
    }

    /// Deletes the reverse rows of `removed` (rows of this type's records just deleted, as
    /// `from_id, to_kind, to_id`).
    async fn unlink_reverse(&self, removed: &[Row]) -> Result<()> {
        if removed.is_empty() {
            return Ok(());
        }
        let froms: Vec<i64> = removed.iter().map(|row| row.get(0)).collect();
        let kinds: Vec<i16> = removed.iter().map(|row| row.get(1)).collect();
        let ids: Vec<i64> = removed.iter().map(|row| row.get(2)).collect();
        self.exec(
            "DELETE FROM associations a USING unnest($3::bigint[], $4::smallint[], $5::bigint[])
                 AS o (to_id, kind, id)
             WHERE a.portal_id = $1 AND a.from_kind = o.kind AND a.from_id = o.id
               AND a.to_kind = $2 AND a.to_id = o.to_id",
            &[&self.portal, &self.kind, &froms, &kinds, &ids],
        )
        .await?;
        Ok(())
    }

    /// Replaces the associations of `writes` (one, or a run that
    /// [`replacements_of_distinct_links`] allows), both directions, in three statements.
    async fn replace_all(&self, writes: &[Write]) -> Result<()> {
        let (mut from_ids, mut to_kinds) = (Vec::new(), Vec::new());
        let mut links: (Vec<i64>, Vec<i16>, Vec<i64>) = Default::default();
        for write in writes {
            let Write::ReplaceAssociations { from, to_type, to } = write else {
                unreachable!("a run of association replacements");
            };
            from_ids.push(*from);
            to_kinds.push(code(*to_type));
            for other in to {
                links.0.push(*from);
                links.1.push(code(*to_type));
                links.2.push(*other);
            }
        }
        let removed = self
            .rows(
                "DELETE FROM associations a USING unnest($3::bigint[], $4::smallint[])
                     AS r (from_id, to_kind)
                 WHERE a.portal_id = $1 AND a.from_kind = $2 AND a.from_id = r.from_id
                   AND a.to_kind = r.to_kind
                 RETURNING a.from_id, a.to_kind, a.to_id",
                &[&self.portal, &self.kind, &from_ids, &to_kinds],
            )
            .await?;
        self.unlink_reverse(&removed).await?;
        if !links.0.is_empty() {
            self.exec(
                "INSERT INTO associations (portal_id, from_kind, from_id, to_kind, to_id)
                 SELECT $1::bigint, $2::smallint, l.from_id, l.to_kind, l.to_id
                     FROM unnest($3::bigint[], $4::smallint[], $5::bigint[])
                     AS l (from_id, to_kind, to_id)
                 UNION ALL
                 SELECT $1::bigint, l.to_kind, l.to_id, $2::smallint, l.from_id
                     FROM unnest($3::bigint[], $4::smallint[], $5::bigint[])
                     AS l (from_id, to_kind, to_id)
                 ON CONFLICT DO NOTHING",
                &[&self.portal, &self.kind, &links.0, &links.1, &links.2],
            )
            .await?;
        }
        Ok(())
    }

    /// Adds or removes one association, in both directions.
    async fn link(&self, from: (i16, i64), to: (i16, i64), present: bool) -> Result<()> {
        let sql = if present {
            "INSERT INTO associations (portal_id, from_kind, from_id, to_kind, to_id)
             VALUES ($1, $2, $3, $4, $5), ($1, $4, $5, $2, $3) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM associations WHERE portal_id = $1
             AND ((from_kind, from_id, to_kind, to_id) = ($2, $3, $4, $5)
               OR (from_kind, from_id, to_kind, to_id) = ($4, $5, $2, $3))"
        };
        self.exec(sql, &[&self.portal, &from.0, &from.1, &to.0, &to.1])
            .await?;
        Ok(())
    }
}
