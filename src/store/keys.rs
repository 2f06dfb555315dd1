//! Tree names and key encodings. Names carry a version so a changed layout gets new trees.
//! Integers are big-endian (signed ones with the sign bit flipped) so that range scans come
//! back in numeric order.

use super::{Error, Result};

pub const META_TREE: &str = "meta";
pub const INBOX_TREE: &str = "inbox.v1";
/// One row of compact dedup digests per inbox chunk (see `inbox::seen`).
pub const INBOX_DIGESTS_TREE: &str = "inbox_digests.v1";
/// Format 3 and older: a dedup row per inbox event; dropped when the store is migrated.
pub const INBOX_IDS_TREE: &str = "inbox_ids.v1";

pub const FORMAT_VERSION: &[u8] = b"format_version";
pub const INBOX_CURSOR: &[u8] = b"inbox_cursor";
pub const INBOX_COUNTERS: &[u8] = b"inbox_counters";
/// Format 3 and older: every inbox chunk below this seq had its dedup rows written; removed
/// when the store is migrated.
pub const INBOX_INDEXED: &[u8] = b"inbox_indexed";

/// Big-endian bytes of an i64 that sort like the number.
pub fn i64_key(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn u64_from(bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes
        .get(..8)
        .and_then(|head| head.try_into().ok())
        .ok_or_else(|| Error::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}

pub fn u32_from(bytes: &[u8]) -> Result<u32> {
    let array: [u8; 4] = bytes
        .get(..4)
        .and_then(|head| head.try_into().ok())
        .ok_or_else(|| Error::Corrupt(format!("expected 4 bytes, found {}", bytes.len())))?;
    Ok(u32::from_be_bytes(array))
}

/// Key of a webhook event in the dedup check: event id, portal, content digest.
pub fn event_key(event_id: i64, portal_id: i64, digest: &[u8; 16]) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&i64_key(event_id));
    key[8..16].copy_from_slice(&i64_key(portal_id));
    key[16..].copy_from_slice(digest);
    key
}

pub const RECORDS_TREE: &str = "records.v1";
pub const BRIEFS_TREE: &str = "briefs.v1";
pub const INDEX_TREE: &str = "index.v1";
pub const TERMS_TREE: &str = "terms.v1";
pub const ALIASES_TREE: &str = "aliases.v1";
pub const ASSOCIATIONS_TREE: &str = "associations.v1";
pub const PURGED_TREE: &str = "purged.v1";
pub const CURSORS_TREE: &str = "cursors.v1";
pub const OWNERS_TREE: &str = "owners.v1";
pub const PIPELINES_TREE: &str = "pipelines.v1";
pub const PROPERTIES_TREE: &str = "properties.v1";
pub const COUNTS_TREE: &str = "counts.v1";
pub const MATCHES_TREE: &str = "matches.v1";
pub const USER_MAP_TREE: &str = "user_map.v1";
pub const EXPORTS_TREE: &str = "exports.v1";
pub const CONNECTIONS_TREE: &str = "connections.v1";
pub const JOURNAL_TREE: &str = "journal.v1";
pub const OUTBOX_TREE: &str = "outbox.v1";

/// Portal, object type, id: the key of a record (and of its alias, tombstone and count).
pub fn record_key(portal: i64, kind: u8, id: i64) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[..8].copy_from_slice(&i64_key(portal));
    key[8] = kind;
    key[9..].copy_from_slice(&i64_key(id));
    key
}

/// Portal, object type: the prefix of every record key of that type.
pub fn type_prefix(portal: i64, kind: u8) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[..8].copy_from_slice(&i64_key(portal));
    key[8] = kind;
    key
}

/// Portal, type, term kind, term value, NUL: the prefix of every id indexed under a term.
pub fn term_prefix(portal: i64, kind: u8, term_kind: u8, value: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(11 + value.len());
    key.extend_from_slice(&type_prefix(portal, kind));
    key.push(term_kind);
    key.extend_from_slice(value.as_bytes());
    key.push(0);
    key
}

pub fn term_key(portal: i64, kind: u8, term_kind: u8, value: &str, id: i64) -> Vec<u8> {
    let mut key = term_prefix(portal, kind, term_kind, value);
    key.extend_from_slice(&i64_key(id));
    key
}

/// Portal, from type, from id, to type, to id: one direction of an association.
pub fn association_key(portal: i64, from: (u8, i64), to: (u8, i64)) -> [u8; 26] {
    let mut key = [0u8; 26];
    key[..17].copy_from_slice(&record_key(portal, from.0, from.1));
    key[17] = to.0;
    key[18..].copy_from_slice(&i64_key(to.1));
    key
}

/// The trailing big-endian id of a key (as written by `i64_key`).
pub fn trailing_id(key: &[u8], end: usize) -> Result<i64> {
    let start = end
        .checked_sub(8)
        .ok_or_else(|| Error::Corrupt("short key".into()))?;
    let bytes = key
        .get(start..end)
        .ok_or_else(|| Error::Corrupt("short key".into()))?;
    Ok((u64_from(bytes)? ^ (1 << 63)) as i64)
}

/// A text key under a portal (cursors, pipelines) or under portal and type (properties).
pub fn named_key(portal: i64, kind: Option<u8>, name: &str) -> Vec<u8> {
    let mut key = i64_key(portal).to_vec();
    key.extend(kind);
    key.extend_from_slice(name.as_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_keys_sort_numerically() {
        let values = [i64::MIN, -5, -1, 0, 1, 2_147_483_648, i64::MAX];
        let keys: Vec<[u8; 8]> = values.iter().map(|v| i64_key(*v)).collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(u64_from(&[1, 2, 3]).is_err());
    }
}
