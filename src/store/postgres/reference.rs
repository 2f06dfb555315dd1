//! Reference data on PostgreSQL: owners, deal pipelines and property definitions, each
//! replaced as a whole per portal (and type) by the leader's sync, behind the [`Fence`]; and
//! the user mappings, which any replica's API writes. Names are ordered by their bytes
//! (`COLLATE "C"`), as sled orders its keys, whatever the database's collation.

use tokio_postgres::types::Json;

use super::{Database, Fence, Outbox, Result};
use crate::object::ObjectType;
use crate::store::{Notice, Owner, Pipeline, PropertyDef, UserMapping};

#[derive(Clone)]
pub struct Reference {
    database: Database,
}

impl Reference {
    pub fn new(database: Database) -> Reference {
        Reference { database }
    }

    /// Replaces the portal's owners (active and archived) with `owners`.
    pub async fn replace_owners(&self, fence: Fence, portal: i64, owners: &[Owner]) -> Result<()> {
        self.replace_owners_notifying(fence, portal, owners, None)
            .await
    }

    /// Like [`Reference::replace_owners`], also queueing `notices` (owners who left) in
    /// `outbox` in the same transaction; `now_ms` stamps them.
    pub async fn replace_owners_notifying(
        &self,
        fence: Fence,
        portal: i64,
        owners: &[Owner],
        notifying: Option<(&Outbox, &[Notice], i64)>,
    ) -> Result<()> {
        let ids: Vec<i64> = owners.iter().map(|owner| owner.id).collect();
        let values: Vec<Json<&Owner>> = owners.iter().map(Json).collect();
        self.replace(
            fence,
            "DELETE FROM owners WHERE portal_id = $1",
            &[&portal],
            "INSERT INTO owners (portal_id, id, owner)
             SELECT $1, id, owner FROM unnest($2::bigint[], $3::jsonb[]) AS o (id, owner)",
            &[&portal, &ids, &values],
            notifying,
        )
        .await
    }

    pub async fn owner(&self, portal: i64, id: i64) -> Result<Option<Owner>> {
        let row = self
            .database
            .read_opt(
                "SELECT owner FROM owners WHERE portal_id = $1 AND id = $2",
                &[&portal, &id],
            )
            .await?;
        Ok(row.map(|row| row.get::<_, Json<Owner>>(0).0))
    }

    /// Every owner of the portal, by id.
    pub async fn owners(&self, portal: i64) -> Result<Vec<Owner>> {
        let rows = self
            .database
            .read(
                "SELECT owner FROM owners WHERE portal_id = $1 ORDER BY id",
                &[&portal],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.get::<_, Json<Owner>>(0).0)
            .collect())
    }

    pub async fn replace_pipelines(
        &self,
        fence: Fence,
        portal: i64,
        pipelines: &[Pipeline],
    ) -> Result<()> {
        let ids: Vec<&str> = pipelines
            .iter()
            .map(|pipeline| pipeline.id.as_str())
            .collect();
        let values: Vec<Json<&Pipeline>> = pipelines.iter().map(Json).collect();
        self.replace(
            fence,
            "DELETE FROM pipelines WHERE portal_id = $1",
            &[&portal],
            "INSERT INTO pipelines (portal_id, id, pipeline)
             SELECT $1, id, pipeline FROM unnest($2::text[], $3::jsonb[]) AS p (id, pipeline)",
            &[&portal, &ids, &values],
            None,
        )
        .await
    }

    /// The portal's deal pipelines, by id.
    pub async fn pipelines(&self, portal: i64) -> Result<Vec<Pipeline>> {
        let rows = self
            .database
            .read(
                "SELECT pipeline FROM pipelines WHERE portal_id = $1 ORDER BY id",
                &[&portal],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.get::<_, Json<Pipeline>>(0).0)
            .collect())
    }

    pub async fn replace_properties(
        &self,
        fence: Fence,
        portal: i64,
        kind: ObjectType,
        properties: &[PropertyDef],
    ) -> Result<()> {
        let kind = i16::from(kind.code());
        let names: Vec<&str> = properties.iter().map(|p| p.name.as_str()).collect();
        let values: Vec<Json<&PropertyDef>> = properties.iter().map(Json).collect();
        self.replace(
            fence,
            "DELETE FROM properties WHERE portal_id = $1 AND kind = $2",
            &[&portal, &kind],
            "INSERT INTO properties (portal_id, kind, name, property)
             SELECT $1, $2, name, property FROM unnest($3::text[], $4::jsonb[])
                 AS p (name, property)",
            &[&portal, &kind, &names, &values],
            None,
        )
        .await
    }

    /// Every property definition of a type, by name.
    pub async fn properties(&self, portal: i64, kind: ObjectType) -> Result<Vec<PropertyDef>> {
        let rows = self
            .database
            .read(
                "SELECT property FROM properties WHERE portal_id = $1 AND kind = $2 ORDER BY name",
                &[&portal, &i16::from(kind.code())],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.get::<_, Json<PropertyDef>>(0).0)
            .collect())
    }

    /// Every user mapping of `portal`, by email.
    pub async fn mappings(&self, portal: i64) -> Result<Vec<UserMapping>> {
        let rows = self
            .database
            .read(
                "SELECT mapping FROM user_mappings WHERE portal_id = $1 ORDER BY email",
                &[&portal],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| row.get::<_, Json<UserMapping>>(0).0)
            .collect())
    }

    pub async fn mapping(&self, portal: i64, email: &str) -> Result<Option<UserMapping>> {
        let row = self
            .database
            .read_opt(
                "SELECT mapping FROM user_mappings WHERE portal_id = $1 AND email = $2",
                &[&portal, &email],
            )
            .await?;
        Ok(row.map(|row| row.get::<_, Json<UserMapping>>(0).0))
    }

    pub async fn set_mapping(&self, portal: i64, mapping: &UserMapping) -> Result<()> {
        self.database
            .read(
                "INSERT INTO user_mappings (portal_id, email, mapping) VALUES ($1, $2, $3)
                 ON CONFLICT (portal_id, email) DO UPDATE SET mapping = $3",
                &[&portal, &mapping.email, &Json(mapping)],
            )
            .await?;
        Ok(())
    }

    /// Removes a mapping; whether there was one.
    pub async fn remove_mapping(&self, portal: i64, email: &str) -> Result<bool> {
        let rows = self
            .database
            .read(
                "DELETE FROM user_mappings WHERE portal_id = $1 AND email = $2 RETURNING email",
                &[&portal, &email],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// Files the mappings of `from` (`None`: those from before mappings had a portal) under
    /// `to`, in one statement; a mapping `to` has already stays. How many were moved.
    pub async fn move_mappings(&self, from: Option<i64>, to: i64) -> Result<u64> {
        let from = from.unwrap_or(0);
        if from == to {
            return Ok(0);
        }
        let rows = self
            .database
            .read(
                "WITH moved AS (
                     DELETE FROM user_mappings WHERE portal_id = $1 RETURNING email, mapping
                 ), kept AS (
                     INSERT INTO user_mappings (portal_id, email, mapping)
                     SELECT $2, email, mapping FROM moved
                     ON CONFLICT (portal_id, email) DO NOTHING
                 )
                 SELECT email FROM moved",
                &[&from, &to],
            )
            .await?;
        Ok(rows.len() as u64)
    }

    /// Deletes what `delete` names and inserts what `insert` lists, with the notices if any,
    /// in one transaction behind `fence`.
    async fn replace(
        &self,
        fence: Fence,
        delete: &str,
        delete_parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        insert: &str,
        insert_parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        notifying: Option<(&Outbox, &[Notice], i64)>,
    ) -> Result<()> {
        let mut client = self.database.client().await?;
        let transaction = client.transaction().await?;
        fence.check(&transaction).await?;
        let statement = transaction.prepare_cached(delete).await?;
        transaction.execute(&statement, delete_parameters).await?;
        let statement = transaction.prepare_cached(insert).await?;
        transaction.execute(&statement, insert_parameters).await?;
        if let Some((outbox, notices, now_ms)) = notifying {
            super::outbox::queue_in(outbox, &transaction, notices, now_ms).await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}
