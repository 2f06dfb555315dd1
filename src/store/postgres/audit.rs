//! The privacy audit on PostgreSQL, as sled's (`Store::trees_containing`, `trees_naming`): which
//! tables still hold a value, or a record's id, anywhere in a row. Every column of every table
//! of the schema is searched: text and JSON as text, `bytea` (the caller's bytes: connections,
//! export rows, settings) as bytes and as escaped text. A full scan: for tests and audits,
//! not for the request path.

use super::{Database, Result};

/// Tables that keep a forgotten record's bare id by design, as sled's trees do
/// (`store::audit::KEEP_BARE_ID`): the tombstone, the sync's paging positions, the outbox.
pub const KEEP_BARE_ID: [&str; 3] = ["purged", "sync_cursors", "outbox"];

/// Tables holding `needle` (bytes, or its text) in any column.
pub async fn tables_containing(database: &Database, needle: &[u8]) -> Result<Vec<String>> {
    let text = String::from_utf8_lossy(needle).into_owned();
    search(
        database,
        &[],
        |column, bytes| {
            if bytes {
                format!("position($1::bytea in {column}) > 0")
            } else {
                format!("strpos({column}::text, $2) > 0")
            }
        },
        &[&needle, &text],
    )
    .await
}

/// Tables (but [`KEEP_BARE_ID`]) holding record `id`: as a whole number in any column's
/// text, or its 8-byte big-endian form in a `bytea`.
pub async fn tables_naming(database: &Database, id: i64) -> Result<Vec<String>> {
    let binary = id.to_be_bytes().to_vec();
    let whole = format!("(^|[^0-9]){id}([^0-9]|$)");
    search(
        database,
        &KEEP_BARE_ID,
        |column, bytes| {
            if bytes {
                format!("(position($1::bytea in {column}) > 0 OR encode({column}, 'escape') ~ $2)")
            } else {
                format!("{column}::text ~ $2")
            }
        },
        &[&binary, &whole],
    )
    .await
}

/// The tables (but `skip`) with a row where some column meets `condition(column, is_bytea)`,
/// each condition using `parameters`.
async fn search(
    database: &Database,
    skip: &[&str],
    condition: impl Fn(&str, bool) -> String,
    parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<String>> {
    let client = database.client().await?;
    let columns = client
        .query(
            "SELECT table_name::text, column_name::text, data_type = 'bytea'
             FROM information_schema.columns WHERE table_schema = current_schema()
             ORDER BY table_name, ordinal_position",
            &[],
        )
        .await?;
    let mut tables: Vec<(String, Vec<String>)> = Vec::new();
    for row in &columns {
        let (table, column, bytes): (String, String, bool) = (row.get(0), row.get(1), row.get(2));
        if skip.contains(&table.as_str()) {
            continue;
        }
        let test = condition(&format!("\"{column}\""), bytes);
        match tables.last_mut() {
            Some((last, tests)) if *last == table => tests.push(test),
            _ => tables.push((table, vec![test])),
        }
    }
    let mut found = Vec::new();
    for (table, tests) in tables {
        let sql = format!(
            // Both parameters typed in every statement, whichever columns use them.
            "SELECT EXISTS (SELECT 1 FROM \"{table}\"
             WHERE $1::bytea IS NOT NULL AND $2::text IS NOT NULL AND ({}))",
            tests.join(" OR ")
        );
        if client.query_one(&sql, parameters).await?.get::<_, bool>(0) {
            found.push(table);
        }
    }
    Ok(found)
}
