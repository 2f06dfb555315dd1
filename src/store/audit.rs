//! The privacy audit: does any tree still name a record? (`Store::trees_containing` finds
//! values such as an email; this finds the record's id, in binary keys and in JSON text.)

use super::keys::{self, i64_key};
use super::{Result, Store};

/// Trees that keep a forgotten record's bare id by design: the tombstone that keeps stale
/// copies out, the sync's paging positions (the id of the last record a page held), and the
/// outbox, whose `record.deleted` notification of the deletion carries the bare id until it
/// is delivered (notifications carry ids and owner ids, never what identified a person).
pub const KEEP_BARE_ID: [&str; 3] = [keys::PURGED_TREE, keys::CURSORS_TREE, keys::OUTBOX_TREE];

impl Store {
    /// Names of the trees (but [`KEEP_BARE_ID`]) holding record `id` in a key or value: its
    /// 8-byte key form, or its digits as a whole number. On PostgreSQL, the tables (but
    /// `postgres::audit::KEEP_BARE_ID`) naming it in any column.
    pub fn trees_naming(&self, id: i64) -> Result<Vec<String>> {
        let binary = i64_key(id);
        let text = id.to_string();
        let mut found = Vec::new();
        let embedded = match &self.inner.engine {
            super::Engine::Sled(embedded) => embedded,
            super::Engine::Postgres { pg, .. } => {
                return pg.wait(super::postgres::audit::tables_naming(&pg.database, id))
            }
        };
        for name in embedded.db.tree_names() {
            let tree_name = String::from_utf8_lossy(&name).into_owned();
            if KEEP_BARE_ID.contains(&tree_name.as_str()) {
                continue;
            }
            let tree = embedded.db.open_tree(&name)?;
            for row in tree.iter() {
                let (key, value) = row?;
                let names = |bytes: &[u8]| {
                    bytes.windows(binary.len()).any(|w| w == binary)
                        || whole_number(bytes, text.as_bytes())
                };
                if names(&key) || names(&value) {
                    found.push(tree_name);
                    break;
                }
            }
        }
        Ok(found)
    }
}

/// Whether `digits` occur in `haystack` not preceded or followed by another digit.
fn whole_number(haystack: &[u8], digits: &[u8]) -> bool {
    haystack
        .windows(digits.len())
        .enumerate()
        .any(|(at, window)| {
            window == digits
                && (at == 0 || !haystack[at - 1].is_ascii_digit())
                && haystack
                    .get(at + digits.len())
                    .is_none_or(|next| !next.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::whole_number;

    #[test]
    fn numbers_match_whole() {
        assert!(whole_number(br#"{"id":"851"}"#, b"851"));
        assert!(whole_number(b"851", b"851"));
        assert!(!whole_number(b"1851", b"851"));
        assert!(!whole_number(b"8510", b"851"));
    }
}
