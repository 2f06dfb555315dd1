//! Tree names and key encodings. Names carry a version so a changed layout gets new trees.
//! Integers are big-endian (signed ones with the sign bit flipped) so that range scans come
//! back in numeric order.

use super::{Error, Result};

pub const META_TREE: &str = "meta";
pub const INBOX_TREE: &str = "inbox.v1";
pub const INBOX_IDS_TREE: &str = "inbox_ids.v1";

pub const FORMAT_VERSION: &[u8] = b"format_version";
pub const INBOX_CURSOR: &[u8] = b"inbox_cursor";
pub const INBOX_COUNTERS: &[u8] = b"inbox_counters";

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

/// Key of a webhook event in the dedup index: event id, portal, content digest. Prefix scans
/// by event id find every delivery that shared it.
pub fn event_key(event_id: i64, portal_id: i64, digest: &[u8; 16]) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&i64_key(event_id));
    key[8..16].copy_from_slice(&i64_key(portal_id));
    key[16..].copy_from_slice(digest);
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
