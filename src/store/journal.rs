//! The Webhooks Journal's cursors, one per portal: where its consumer resumes, committed in
//! the same group commit as the inbox events it covers (see [`super::Store::store_group`]).
//!
//! A cursor move and its events become durable with one flush, but they are acknowledged only
//! once the ledger records the group's last chunk; [`super::Store::open`] drops the chunks
//! the ledger does not cover, and with them the moves that covered them ([`roll_back`]: the
//! cursor returns to where it was before). The consumer waits for each move to be
//! acknowledged before it makes the next, so one step back is always enough. The position
//! itself is the consumer's own bytes; this module keeps the counts of what it stored.

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::keys::{self, i64_key};
use super::record::{decode, encode};
use super::Result;

/// A cursor move to commit with a group of inbox events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorMove {
    pub portal_id: i64,
    /// The consumer's new position (its own encoding).
    pub position: Vec<u8>,
}

/// A journal cursor as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalCursor {
    /// The consumer's position (its own encoding; empty before the first move).
    pub position: Vec<u8>,
    /// Events the journal's moves stored in the inbox, and those dropped as already stored.
    pub stored: u64,
    pub duplicates: u64,
}

/// The stored row: the cursor, the one before its last move, and the last inbox chunk
/// appended when the move was committed (the move is acknowledged once the ledger is there).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Row {
    seq: u64,
    current: JournalCursor,
    previous: Option<JournalCursor>,
}

pub struct JournalCursors {
    tree: sled::Tree,
    /// Rows are read, changed and written one at a time.
    lock: Mutex<()>,
}

impl JournalCursors {
    pub(super) fn open(db: &sled::Db) -> Result<JournalCursors> {
        Ok(JournalCursors {
            tree: db.open_tree(keys::JOURNAL_TREE)?,
            lock: Mutex::new(()),
        })
    }

    /// The cursor of `portal`, if its journal was ever read.
    pub fn get(&self, portal: i64) -> Result<Option<JournalCursor>> {
        Ok(self.row(portal)?.map(|row| row.current))
    }

    /// Every portal's cursor (status sums them).
    pub fn all(&self) -> Result<Vec<(i64, JournalCursor)>> {
        let mut all = Vec::new();
        for entry in self.tree.iter() {
            let (key, value) = entry?;
            let portal = keys::trailing_id(&key, 8)?;
            all.push((portal, decode::<Row>(&value)?.current));
        }
        Ok(all)
    }

    /// Replaces the position of `portal`'s cursor without moving it: the consumer's own
    /// bookkeeping between moves (when it last found the journal caught up). Durable with the
    /// next commit; a roll back may undo it, which costs at most a needless check.
    pub fn annotate(&self, portal: i64, position: &[u8]) -> Result<()> {
        let _lock = self.lock.lock();
        let mut row = self.row(portal)?.unwrap_or_default();
        row.current.position = position.to_vec();
        self.tree.insert(i64_key(portal), encode(&row))?;
        Ok(())
    }

    /// Part of a group commit, after its events are appended: moves each cursor, counting
    /// what its request stored, and remembers `seq`, the group's last chunk.
    pub(super) fn commit(&self, moves: &[(&CursorMove, u64, u64)], seq: u64) -> Result<()> {
        let _lock = self.lock.lock();
        for (cursor, stored, duplicates) in moves {
            let previous = self.row(cursor.portal_id)?.unwrap_or_default().current;
            let row = Row {
                seq,
                current: JournalCursor {
                    position: cursor.position.clone(),
                    stored: previous.stored + stored,
                    duplicates: previous.duplicates + duplicates,
                },
                previous: Some(previous),
            };
            self.tree.insert(i64_key(cursor.portal_id), encode(&row))?;
        }
        Ok(())
    }

    /// Deletes the cursor of `portal` (`Store::erase_portal`); how many (0 or 1).
    pub(super) fn erase(&self, portal: i64) -> Result<u64> {
        let _lock = self.lock.lock();
        Ok(u64::from(self.tree.remove(i64_key(portal))?.is_some()))
    }

    fn row(&self, portal: i64) -> Result<Option<Row>> {
        self.tree
            .get(i64_key(portal))?
            .map(|bytes| decode::<Row>(&bytes))
            .transpose()
    }
}

/// Puts back the cursors whose last move covered chunks after `through_seq` (never
/// acknowledged: [`super::inbox::drop_unacknowledged`] drops them). Runs on open, before
/// [`JournalCursors::open`]; returns how many went back.
pub(super) fn roll_back(db: &sled::Db, through_seq: u64) -> Result<u64> {
    let tree = db.open_tree(keys::JOURNAL_TREE)?;
    let mut rolled = 0;
    for entry in tree.iter() {
        let (key, value) = entry?;
        let row: Row = decode(&value)?;
        if row.seq <= through_seq {
            continue;
        }
        let back = Row {
            seq: 0,
            current: row.previous.unwrap_or_default(),
            previous: None,
        };
        tree.insert(key, encode(&back))?;
        rolled += 1;
    }
    Ok(rolled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moved(portal_id: i64, position: &str) -> CursorMove {
        CursorMove {
            portal_id,
            position: position.as_bytes().to_vec(),
        }
    }

    #[test]
    fn an_unacknowledged_move_goes_back_one_step() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let cursors = JournalCursors::open(&db).unwrap();
        cursors.commit(&[(&moved(7, "a"), 3, 1)], 5).unwrap();
        cursors.commit(&[(&moved(7, "b"), 2, 0)], 6).unwrap();
        cursors.commit(&[(&moved(8, "x"), 1, 0)], 4).unwrap();
        let current = cursors.get(7).unwrap().unwrap();
        assert_eq!(
            (current.position.as_slice(), current.stored),
            (&b"b"[..], 5)
        );
        assert_eq!(
            roll_back(&db, 5).unwrap(),
            1,
            "only portal 7's move is past chunk 5"
        );
        let cursors = JournalCursors::open(&db).unwrap();
        let back = cursors.get(7).unwrap().unwrap();
        assert_eq!(
            (back.position.as_slice(), back.stored, back.duplicates),
            (&b"a"[..], 3, 1)
        );
        assert_eq!(cursors.get(8).unwrap().unwrap().position, b"x");
        assert_eq!(
            roll_back(&db, 5).unwrap(),
            0,
            "a rolled-back row is acknowledged"
        );
        cursors.annotate(7, b"a+").unwrap();
        assert_eq!(cursors.get(7).unwrap().unwrap().stored, 3);
        assert_eq!(cursors.all().unwrap().len(), 2);
    }
}
