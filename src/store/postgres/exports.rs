//! Export jobs on PostgreSQL: the operations of sled's [`Exports`](crate::store::Exports) on
//! `export_jobs` and `export_rows`. Creating a job is any replica's (the API answers it);
//! what the leader's export worker and sync write (intents, outcomes, seals, removals) passes
//! the [`Fence`] in the same transaction, so a deposed leader's intent never lands. A new job
//! is announced to the leader ([`super::listen`]).

use super::{Database, Fence, Result};

#[derive(Clone)]
pub struct Exports {
    database: Database,
}

/// Rows as the columns of an `unnest`.
fn columns(rows: &[(u32, Vec<u8>)]) -> (Vec<i32>, Vec<&[u8]>) {
    rows.iter()
        .map(|(index, value)| (*index as i32, value.as_slice()))
        .unzip()
}

fn job(id: u64) -> i64 {
    id as i64
}

impl Exports {
    pub fn new(database: Database) -> Exports {
        Exports { database }
    }

    /// A new job id, never handed out before by any replica (ids grow).
    pub async fn next_id(&self) -> Result<u64> {
        let rows = self
            .database
            .read("SELECT nextval('export_job_ids')", &[])
            .await?;
        let id: i64 = rows.first().map_or(0, |row| row.get(0));
        Ok(id as u64)
    }

    /// Writes a job header and any record rows in one transaction (a new job's rows; rows
    /// that may be sealed go through [`Exports::update_rows`]).
    pub async fn write(
        &self,
        portal: i64,
        id: u64,
        header: Option<&[u8]>,
        rows: &[(u32, Vec<u8>)],
    ) -> Result<()> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        if let Some(header) = header {
            // A new job (no row before: `xmax` 0) is announced to the leader, on commit.
            let statement = transaction
                .prepare_cached(&format!(
                    "WITH written AS (
                         INSERT INTO export_jobs (portal_id, id, header) VALUES ($1, $2, $3)
                         ON CONFLICT (portal_id, id) DO UPDATE SET header = $3
                         RETURNING xmax = 0 AS new
                     )
                     SELECT pg_notify('{}', $1::text) FROM written WHERE new",
                    super::listen::NEW_JOBS
                ))
                .await?;
            transaction
                .query(&statement, &[&portal, &job(id), &header])
                .await?;
        }
        if !rows.is_empty() {
            let (indexes, values) = columns(rows);
            let statement = transaction
                .prepare_cached(
                    "INSERT INTO export_rows (portal_id, job_id, index, value)
                     SELECT $1, $2, index, value FROM unnest($3::integer[], $4::bytea[])
                         AS r (index, value)
                     ON CONFLICT (portal_id, job_id, index) DO UPDATE SET value = EXCLUDED.value",
                )
                .await?;
            transaction
                .execute(&statement, &[&portal, &job(id), &indexes, &values])
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    pub async fn header(&self, portal: i64, id: u64) -> Result<Option<Vec<u8>>> {
        let row = self
            .database
            .read_opt(
                "SELECT header FROM export_jobs WHERE portal_id = $1 AND id = $2",
                &[&portal, &job(id)],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Job headers, newest first.
    pub async fn headers(&self, portal: i64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .database
            .read(
                "SELECT id, header FROM export_jobs WHERE portal_id = $1
                 ORDER BY id DESC LIMIT $2",
                &[&portal, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get::<_, i64>(0) as u64, row.get(1)))
            .collect())
    }

    /// Every record row of a job, in index order.
    pub async fn rows(&self, portal: i64, id: u64) -> Result<Vec<(u32, Vec<u8>)>> {
        let rows = self
            .database
            .read(
                "SELECT index, value FROM export_rows WHERE portal_id = $1 AND job_id = $2
                 ORDER BY index",
                &[&portal, &job(id)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get::<_, i32>(0) as u32, row.get(1)))
            .collect())
    }

    /// Writes rows of job `id`, except sealed ones, in one transaction behind `fence`;
    /// returns how many were written.
    pub async fn update_rows(
        &self,
        fence: Fence,
        portal: i64,
        id: u64,
        rows: &[(u32, Vec<u8>)],
    ) -> Result<usize> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let (indexes, values) = columns(rows);
        let statement = transaction
            .prepare_cached(
                "INSERT INTO export_rows (portal_id, job_id, index, value)
                 SELECT $1, $2, index, value FROM unnest($3::integer[], $4::bytea[])
                     AS r (index, value)
                 ON CONFLICT (portal_id, job_id, index) DO UPDATE SET value = EXCLUDED.value
                 WHERE NOT export_rows.sealed",
            )
            .await?;
        let written = transaction
            .execute(&statement, &[&portal, &job(id), &indexes, &values])
            .await?;
        transaction.commit().await?;
        Ok(written as usize)
    }

    /// Writes rows of job `id` and seals them (later [`Exports::update_rows`] leave them be),
    /// behind `fence`.
    pub async fn seal_rows(
        &self,
        fence: Fence,
        portal: i64,
        id: u64,
        rows: &[(u32, Vec<u8>)],
    ) -> Result<()> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let (indexes, values) = columns(rows);
        let statement = transaction
            .prepare_cached(
                "INSERT INTO export_rows (portal_id, job_id, index, value, sealed)
                 SELECT $1, $2, index, value, true FROM unnest($3::integer[], $4::bytea[])
                     AS r (index, value)
                 ON CONFLICT (portal_id, job_id, index)
                 DO UPDATE SET value = EXCLUDED.value, sealed = true",
            )
            .await?;
        transaction
            .execute(&statement, &[&portal, &job(id), &indexes, &values])
            .await?;
        let count = rows.len() as i64;
        transaction
            .execute("UPDATE export_seals SET count = count + $1", &[&count])
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// How many rows were ever sealed: a worker holding rows in memory re-reads the sealed
    /// ones when this changes.
    pub async fn seals(&self) -> Result<u64> {
        let rows = self
            .database
            .read("SELECT count FROM export_seals", &[])
            .await?;
        Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0) as u64))
    }

    /// The sealed rows of job `id`, in index order.
    pub async fn sealed(&self, portal: i64, id: u64) -> Result<Vec<u32>> {
        let rows = self
            .database
            .read(
                "SELECT index FROM export_rows WHERE portal_id = $1 AND job_id = $2 AND sealed
                 ORDER BY index",
                &[&portal, &job(id)],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get::<_, i32>(0) as u32).collect())
    }

    /// Removes job `id`: its header and rows, in one transaction behind `fence`.
    pub async fn remove(&self, fence: Fence, portal: i64, id: u64) -> Result<()> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        transaction
            .execute(
                "DELETE FROM export_rows WHERE portal_id = $1 AND job_id = $2",
                &[&portal, &job(id)],
            )
            .await?;
        transaction
            .execute(
                "DELETE FROM export_jobs WHERE portal_id = $1 AND id = $2",
                &[&portal, &job(id)],
            )
            .await?;
        transaction.commit().await?;
        Ok(())
    }
}
