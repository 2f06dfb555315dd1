//! Browser sessions, in memory: a random id in an `HttpOnly` cookie, a CSRF token per session,
//! 8 hours at most; one-time sign-in codes; a flash message and export drafts per session.
//! Only digests of ids and codes are kept, so a memory dump does not hand out sessions.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tokio::time::Instant;

use super::upload::Draft;

/// How long a session lasts, whatever it does (the cookie's `Max-Age` too).
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// How long a one-time sign-in code can be used.
pub const CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Sessions kept at most; the oldest go first.
const MAX_SESSIONS: usize = 256;
const MAX_CODES: usize = 64;
/// Export drafts (uploaded, dry-run, not confirmed) kept per session.
const MAX_DRAFTS: usize = 2;

pub const SESSION_COOKIE: &str = "hg_session";
/// The sign-in form's CSRF token (double submit: cookie and hidden field must agree).
pub const SIGN_IN_COOKIE: &str = "hg_sign_in";

type Digest = [u8; 32];

/// How a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// With an `admin` token: the session ends when the token no longer has that scope.
    Token { digest: Digest },
    /// With a one-time sign-in link.
    Link,
}

/// A message shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Flash {
        Flash {
            ok: true,
            text: text.into(),
        }
    }

    pub fn problem(text: impl Into<String>) -> Flash {
        Flash {
            ok: false,
            text: text.into(),
        }
    }
}

struct Entry {
    csrf: String,
    credential: Credential,
    /// The portal the console shows (a deployment of several), chosen in its header.
    portal: Option<i64>,
    expires: Instant,
    flash: Option<Flash>,
    drafts: Vec<(u64, Draft)>,
}

/// What a request sees of its session.
#[derive(Debug, Clone)]
pub struct Session {
    pub key: Digest,
    pub csrf: String,
    pub credential: Credential,
    /// The portal chosen in the header; `None`: the first.
    pub portal: Option<i64>,
}

#[derive(Default)]
pub struct Sessions {
    entries: Mutex<HashMap<Digest, Entry>>,
    codes: Mutex<HashMap<Digest, Instant>>,
    next_draft: std::sync::atomic::AtomicU64,
}

/// A random 32-byte value as 64 hex digits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn digest(text: &str) -> Digest {
    Sha256::digest(text.as_bytes()).into()
}

/// Constant-time equality of two tokens.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Sessions {
    /// Opens a session; returns the id for the cookie.
    pub fn open(&self, credential: Credential) -> String {
        let id = random_token();
        let mut entries = self.entries.lock();
        let now = Instant::now();
        entries.retain(|_, entry| entry.expires > now);
        if entries.len() >= MAX_SESSIONS {
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, entry)| entry.expires)
                .map(|(key, _)| *key)
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            digest(&id),
            Entry {
                csrf: random_token(),
                credential,
                portal: None,
                expires: now + LIFETIME,
                flash: None,
                drafts: Vec::new(),
            },
        );
        id
    }

    /// The live session with this cookie id.
    pub fn find(&self, id: &str) -> Option<Session> {
        let key = digest(id);
        let mut entries = self.entries.lock();
        let entry = entries.get(&key)?;
        if entry.expires <= Instant::now() {
            entries.remove(&key);
            return None;
        }
        Some(Session {
            key,
            csrf: entry.csrf.clone(),
            credential: entry.credential,
            portal: entry.portal,
        })
    }

    pub fn close(&self, session: &Session) {
        self.entries.lock().remove(&session.key);
    }

    /// Shows `portal` in this session's pages from now on.
    pub fn choose_portal(&self, session: &Session, portal: i64) {
        if let Some(entry) = self.entries.lock().get_mut(&session.key) {
            entry.portal = Some(portal);
        }
    }

    /// Forgets `portal` as the chosen one of every session (it was removed from the
    /// deployment): their pages show the portal `shown_site` falls back to.
    pub fn forget_portal(&self, portal: i64) {
        for entry in self.entries.lock().values_mut() {
            if entry.portal == Some(portal) {
                entry.portal = None;
            }
        }
    }

    pub fn set_flash(&self, session: &Session, flash: Flash) {
        if let Some(entry) = self.entries.lock().get_mut(&session.key) {
            entry.flash = Some(flash);
        }
    }

    pub fn take_flash(&self, session: &Session) -> Option<Flash> {
        self.entries.lock().get_mut(&session.key)?.flash.take()
    }

    /// Keeps a draft for the session (dropping its oldest beyond the limit); its id.
    pub fn keep_draft(&self, session: &Session, draft: Draft) -> u64 {
        let id = 1 + self
            .next_draft
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(entry) = self.entries.lock().get_mut(&session.key) {
            if entry.drafts.len() >= MAX_DRAFTS {
                entry.drafts.remove(0);
            }
            entry.drafts.push((id, draft));
        }
        id
    }

    pub fn draft(&self, session: &Session, id: u64) -> Option<Draft> {
        let entries = self.entries.lock();
        let entry = entries.get(&session.key)?;
        entry
            .drafts
            .iter()
            .find(|(draft_id, _)| *draft_id == id)
            .map(|(_, draft)| draft.clone())
    }

    pub fn drop_draft(&self, session: &Session, id: u64) {
        if let Some(entry) = self.entries.lock().get_mut(&session.key) {
            entry.drafts.retain(|(draft_id, _)| *draft_id != id);
        }
    }

    /// A single-use sign-in code, valid for [`CODE_LIFETIME`].
    pub fn issue_code(&self) -> String {
        let code = random_token();
        let mut codes = self.codes.lock();
        let now = Instant::now();
        codes.retain(|_, expires| *expires > now);
        if codes.len() >= MAX_CODES {
            if let Some(oldest) = codes.iter().min_by_key(|(_, e)| **e).map(|(k, _)| *k) {
                codes.remove(&oldest);
            }
        }
        codes.insert(digest(&code), now + CODE_LIFETIME);
        code
    }

    /// Uses up a sign-in code: whether it was valid.
    pub fn redeem_code(&self, code: &str) -> bool {
        let expires = self.codes.lock().remove(&digest(code));
        expires.is_some_and(|expires| expires > Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_and_codes_work_once() {
        let sessions = Sessions::default();
        let id = sessions.open(Credential::Link);
        let session = sessions.find(&id).expect("open");
        assert_eq!(session.csrf.len(), 64);
        assert!(sessions.find("not-a-session").is_none());
        tokio::time::advance(LIFETIME - Duration::from_secs(1)).await;
        assert!(sessions.find(&id).is_some());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(sessions.find(&id).is_none(), "8 hours at most");

        let code = sessions.issue_code();
        assert!(sessions.redeem_code(&code));
        assert!(!sessions.redeem_code(&code), "single use");
        let late = sessions.issue_code();
        tokio::time::advance(CODE_LIFETIME).await;
        assert!(!sessions.redeem_code(&late), "short-lived");
    }

    #[test]
    fn flash_is_shown_once() {
        let sessions = Sessions::default();
        let session = sessions.find(&sessions.open(Credential::Link)).unwrap();
        sessions.set_flash(&session, Flash::ok("Saved"));
        assert_eq!(sessions.take_flash(&session), Some(Flash::ok("Saved")));
        assert_eq!(sessions.take_flash(&session), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }

    #[test]
    fn a_removed_portal_is_no_session_s_choice() {
        let sessions = Sessions::default();
        let (one, two) = (
            sessions.open(Credential::Link),
            sessions.open(Credential::Link),
        );
        sessions.choose_portal(&sessions.find(&one).unwrap(), 7);
        sessions.choose_portal(&sessions.find(&two).unwrap(), 8);
        sessions.forget_portal(7);
        assert_eq!(sessions.find(&one).unwrap().portal, None);
        assert_eq!(sessions.find(&two).unwrap().portal, Some(8));
    }
}
