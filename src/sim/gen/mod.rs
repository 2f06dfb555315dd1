//! The generated portal: every base record is a pure function of (seed, type, index), so a
//! million-contact portal costs no memory until a record is mutated (see `portal`).

mod links;
pub mod owners;
pub mod values;
pub mod words;

pub use links::Links;

use crate::sim::kind::ObjectType;
use crate::sim::schema::{self, PropertyDef};

/// Base records' timestamps lie in the two years before this instant (2026-11-01T00:00:00Z),
/// fixed so the same seed always yields the same portal.
pub const ANCHOR_MS: i64 = 1_793_491_200_000;
const TWO_YEARS_MS: i64 = 2 * 365 * 24 * 3600 * 1000;
/// Records that share one modified timestamp, as after a bulk import: search must page past
/// them by id.
/// HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/search-the-crm>
pub const BULK_BLOCK: u64 = 12_000;
/// The portal must have at least this many records of a type for the bulk block to exist.
pub const BULK_MIN_RECORDS: u64 = 40_000;
/// How long before `ANCHOR_MS` the bulk import ran.
const BULK_AGE_MS: i64 = 30 * 24 * 3600 * 1000;

/// Maps a record index to its numeric id and back. The first half of each type sits below
/// 2^31, the second half above it, so clients meet both (HubSpot's ids exceed 32 bits).
#[derive(Debug, Clone, Copy)]
pub struct IdSpace {
    base: u64,
    high: u64,
    step: u64,
    count: u64,
}

impl IdSpace {
    pub fn new(kind: ObjectType, count: u64) -> IdSpace {
        let (base, high, step) = match kind {
            ObjectType::Contacts => (51, 4_100_000_000, 50),
            ObjectType::Companies => (5_000_001, 6_200_000_000, 7),
            ObjectType::Deals => (9_000_001, 7_300_000_000, 13),
            ObjectType::Tasks => (20_000_001, 8_400_000_000, 5),
        };
        IdSpace {
            base,
            high,
            step,
            count,
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn id(&self, index: u64) -> u64 {
        let origin = if index < self.count / 2 {
            self.base
        } else {
            self.high
        };
        origin + self.step * index
    }

    pub fn index(&self, id: u64) -> Option<u64> {
        let origin = if id >= self.high {
            self.high
        } else {
            self.base
        };
        let offset = id.checked_sub(origin)?;
        let index = offset / self.step;
        (offset % self.step == 0 && index < self.count && self.id(index) == id).then_some(index)
    }

    /// Index of the first base record whose id is >= `id` (for `after` paging).
    pub fn first_index_at_or_after(&self, id: u64) -> u64 {
        let (mut low, mut high) = (0, self.count);
        while low < high {
            let middle = (low + high) / 2;
            if self.id(middle) < id {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }

    /// Ids for records created at runtime: above every base id of the type.
    pub fn first_created_id(&self) -> u64 {
        self.high + self.step * (self.count + 1)
    }
}

/// The seeded generator of a portal's base state.
#[derive(Debug, Clone)]
pub struct Gen {
    pub seed: u64,
    pub counts: [u64; 4],
    pub owners: u64,
    pub links: Links,
}

impl Gen {
    pub fn new(seed: u64, counts: [u64; 4], owners: u64) -> Gen {
        Gen {
            seed,
            counts,
            owners,
            links: Links::new(seed, counts),
        }
    }

    pub fn ids(&self, kind: ObjectType) -> IdSpace {
        IdSpace::new(kind, self.counts[kind.index()])
    }

    /// A 64-bit hash of (seed, type, index, salt): the only randomness base records use.
    pub fn hash(&self, kind: ObjectType, index: u64, salt: u64) -> u64 {
        mix(self.seed ^ mix(((kind.index() as u64) << 56) ^ index ^ mix(salt)))
    }

    pub fn created_ms(&self, kind: ObjectType, index: u64) -> i64 {
        // Records of the bulk block were created before the import that stamped them.
        let window = if self.in_bulk_block(kind, index) {
            TWO_YEARS_MS - BULK_AGE_MS
        } else {
            TWO_YEARS_MS
        };
        let spread = self.hash(kind, index, 1) % window as u64;
        ANCHOR_MS - TWO_YEARS_MS + spread as i64
    }

    fn in_bulk_block(&self, kind: ObjectType, index: u64) -> bool {
        let count = self.counts[kind.index()];
        count >= BULK_MIN_RECORDS && (count / 4..count / 4 + BULK_BLOCK).contains(&index)
    }

    /// Last modification: after creation, or the shared bulk-import instant for one block.
    pub fn modified_ms(&self, kind: ObjectType, index: u64) -> i64 {
        if self.in_bulk_block(kind, index) {
            return ANCHOR_MS - BULK_AGE_MS;
        }
        let created = self.created_ms(kind, index);
        let age = (ANCHOR_MS - created) as u64;
        created + (self.hash(kind, index, 2) % age.max(1)) as i64
    }

    /// One property of one base record, or `None` when the record has no value for it.
    pub fn value(&self, kind: ObjectType, index: u64, def: &PropertyDef) -> Option<String> {
        values::value(self, kind, index, def)
    }

    /// Every property with a value: the full base record.
    pub fn properties(&self, kind: ObjectType, index: u64) -> Vec<(&'static str, String)> {
        schema::properties(kind)
            .iter()
            .filter_map(|def| Some((def.name, self.value(kind, index, def)?)))
            .collect()
    }

    /// Deal stage history as (stage id, epoch ms), oldest first, ending in the current stage.
    pub fn stage_history(&self, index: u64) -> Vec<(String, i64)> {
        values::stage_history(self, index)
    }
}

/// splitmix64's finaliser: a fast, well-mixed bijection on u64.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a name: the salt that makes each property's value independent.
pub fn salt(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ byte as u64).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_space_round_trips_and_crosses_two_to_the_31() {
        for kind in ObjectType::ALL {
            let space = IdSpace::new(kind, 1001);
            for index in [0, 1, 499, 500, 501, 1000] {
                assert_eq!(space.index(space.id(index)), Some(index));
                assert_eq!(space.first_index_at_or_after(space.id(index)), index);
            }
            assert!(space.id(1000) > 1 << 31 && space.id(0) < 1 << 31);
            assert_eq!(space.index(space.id(3) + 1), None);
            assert!(space.first_created_id() > space.id(1000));
        }
    }

    #[test]
    fn big_portals_share_one_modified_timestamp_across_a_bulk_block() {
        let gen = Gen::new(7, [100_000, 10, 10, 10], 5);
        let stamp = gen.modified_ms(ObjectType::Contacts, 25_000);
        let same = (0..100_000)
            .filter(|&index| gen.modified_ms(ObjectType::Contacts, index) == stamp)
            .count();
        assert!(same > 10_000, "{same}");
        for index in 25_000..37_000 {
            assert!(
                gen.created_ms(ObjectType::Contacts, index) < stamp,
                "created before the import"
            );
        }
    }
}
