//! The connections to HubSpot on PostgreSQL: sled's [`Connections`](crate::store::Connections)
//! (small named values, the caller's bytes) in one table. Any replica writes them: a Connect
//! callback or a disconnection arrives at whichever replica the browser reached.

use super::{Database, Result};

#[derive(Clone)]
pub struct Connections {
    database: Database,
}

impl Connections {
    pub fn new(database: Database) -> Connections {
        Connections { database }
    }

    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .database
            .read_opt("SELECT value FROM connections WHERE name = $1", &[&name])
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Replaces the value (durable when this returns).
    pub async fn put(&self, name: &str, value: &[u8]) -> Result<()> {
        self.database
            .read(
                "INSERT INTO connections (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = $2",
                &[&name, &value],
            )
            .await?;
        Ok(())
    }

    /// Removes the value and returns it: of two callers taking one name (on any replicas),
    /// one gets it.
    pub async fn take(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .database
            .read_opt(
                "DELETE FROM connections WHERE name = $1 RETURNING value",
                &[&name],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Every value whose name starts with `prefix`, in name order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let rows = self
            .database
            .read(
                "SELECT name, value FROM connections WHERE starts_with(name, $1) ORDER BY name",
                &[&prefix],
            )
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }
}
