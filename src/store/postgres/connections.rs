//! Small named values (the caller's bytes) in a table of their own: the connections to
//! HubSpot (sled's [`Connections`](crate::store::Connections)) and the gateway's settings
//! (sled's `meta` tree). Any replica writes them: a Connect callback, a disconnection or a
//! setting changed in the console arrives at whichever replica the browser reached.

use super::{Database, Result};

#[derive(Clone)]
pub struct Connections {
    database: Database,
    /// `connections` or `settings`.
    table: &'static str,
}

impl Connections {
    pub fn new(database: Database) -> Connections {
        Connections {
            database,
            table: "connections",
        }
    }

    /// The gateway's settings, with the operations of connections.
    pub fn settings(database: Database) -> Connections {
        Connections {
            database,
            table: "settings",
        }
    }

    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let row = self
            .database
            .read_opt(
                &format!("SELECT value FROM {} WHERE name = $1", self.table),
                &[&name],
            )
            .await?;
        Ok(row.map(|row| row.get(0)))
    }

    /// Replaces the value (durable when this returns).
    pub async fn put(&self, name: &str, value: &[u8]) -> Result<()> {
        self.database
            .read(
                &format!(
                    "INSERT INTO {} (name, value) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET value = $2",
                    self.table
                ),
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
                &format!("DELETE FROM {} WHERE name = $1 RETURNING value", self.table),
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
                &format!(
                    "SELECT name, value FROM {} WHERE starts_with(name, $1) ORDER BY name",
                    self.table
                ),
                &[&prefix],
            )
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }
}
