//! Pre-signed file URLs: a random signature per URL, remembered with its offset and expiry
//! (a table rather than an HMAC so that `Control::age_journal` can age issued URLs too).

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Above this many remembered URLs, expired ones are forgotten (they then answer as forged).
const PRUNE_ABOVE: usize = 100_000;

pub struct Urls {
    /// Signature → (offset, expires_ms).
    signed: HashMap<String, (String, i64)>,
    rng: StdRng,
}

impl Urls {
    pub fn new(seed: u64) -> Urls {
        Urls {
            signed: HashMap::new(),
            rng: StdRng::seed_from_u64(seed ^ 0x5167),
        }
    }

    pub fn sign(&mut self, offset: &str, expires_ms: i64, now_ms: i64) -> String {
        if self.signed.len() >= PRUNE_ABOVE {
            self.signed.retain(|_, (_, expires)| *expires > now_ms);
        }
        let signature = format!("{:032x}", self.rng.gen::<u128>());
        self.signed
            .insert(signature.clone(), (offset.to_string(), expires_ms));
        signature
    }

    /// When a URL for `offset` with this signature expires; `None` if it was never signed.
    pub fn expiry(&self, offset: &str, signature: &str) -> Option<i64> {
        self.signed
            .get(signature)
            .filter(|(signed, _)| signed == offset)
            .map(|(_, expires_ms)| *expires_ms)
    }

    pub fn age(&mut self, by_ms: i64) {
        for (_, expires_ms) in self.signed.values_mut() {
            *expires_ms -= by_ms;
        }
    }
}
