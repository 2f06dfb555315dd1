//! Tokens at rest: sealed with XChaCha20-Poly1305 under `store.secrets_key`, bound to where
//! they are stored (the associated data), tagged with an id of the key so that a changed key
//! is told apart from damaged bytes. Neither the key nor sealed bytes have a revealing `Debug`.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;

use crate::secret::Secret;

const FORMAT: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// The key that seals stored tokens.
pub struct Key {
    cipher: XChaCha20Poly1305,
    /// Names the key without revealing it: the first bytes of an HMAC of a fixed text.
    id: [u8; KEY_ID_LEN],
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([redacted])")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsealed {
    #[error("they were sealed under another store.secrets_key (was the key changed?)")]
    OtherKey,
    #[error("the sealed bytes are damaged")]
    Damaged,
}

impl Key {
    pub fn new(bytes: &Secret<[u8; 32]>) -> Key {
        // Invariant: HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(bytes.expose()).expect("any key");
        mac.update(b"hubspot-gateway secrets_key id v1");
        let digest = mac.finalize().into_bytes();
        let mut id = [0; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Key {
            cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(bytes.expose())),
            id,
        }
    }

    /// Seals `secret` for the place named by `context`: format, key id, nonce, ciphertext.
    pub fn seal(&self, secret: &Secret<String>, context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret.expose().as_bytes(),
            aad: context,
        };
        // Invariant: encryption fails only for messages beyond 256 GiB.
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("a token is far below the AEAD's limit");
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(FORMAT);
        sealed.extend_from_slice(&self.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// The secret sealed for `context`, or why it cannot be read.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Secret<String>, Unsealed> {
        if sealed.len() < HEADER_LEN || sealed[0] != FORMAT {
            return Err(Unsealed::Damaged);
        }
        if sealed[1..1 + KEY_ID_LEN] != self.id {
            return Err(Unsealed::OtherKey);
        }
        let nonce = XNonce::from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
        let payload = Payload {
            msg: &sealed[HEADER_LEN..],
            aad: context,
        };
        let plain = self
            .cipher
            .decrypt(nonce, payload)
            .map_err(|_| Unsealed::Damaged)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| Unsealed::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> Key {
        Key::new(&Secret::new([byte; 32]))
    }

    #[test]
    fn opens_what_it_sealed_only_with_the_same_key_and_context() {
        let token = Secret::from("na1-refresh-token");
        let sealed = key(1).seal(&token, b"service");
        assert!(!sealed
            .windows(token.expose().len())
            .any(|w| w == token.expose().as_bytes()));
        assert_eq!(key(1).open(&sealed, b"service").unwrap(), token);
        assert_eq!(key(2).open(&sealed, b"service"), Err(Unsealed::OtherKey));
        assert_eq!(key(1).open(&sealed, b"user/a"), Err(Unsealed::Damaged));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(key(1).open(&flipped, b"service"), Err(Unsealed::Damaged));
        assert_eq!(
            key(1).open(&sealed[..10], b"service"),
            Err(Unsealed::Damaged)
        );
        assert_ne!(
            sealed,
            key(1).seal(&token, b"service"),
            "a fresh nonce each time"
        );
        assert_eq!(format!("{:?}", key(1)), "Key([redacted])");
    }
}
