//! Browser state of the authorize pages: sign-in sessions (a cookie names the HubSpot user)
//! and pending authorize requests (validated query parameters, named by id in every form).

use std::collections::HashMap;

use super::random_uuid;

/// A sign-in lasts this long (HubSpot keeps browsers signed in for hours).
const SESSION_TTL_MS: i64 = 8 * 3_600_000;
/// An authorize page left open longer than this must be reloaded from the app.
const REQUEST_TTL_MS: i64 = 3_600_000;
/// Bounds on both maps: the oldest entries go first.
const MAX_ENTRIES: usize = 10_000;

/// A validated `GET /oauth/authorize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Echoed on the redirect, whatever it holds.
    pub state: Option<String>,
    pub required: Vec<String>,
    /// Optional scopes in the app's settings (others are dropped, as HubSpot does).
    pub optional: Vec<String>,
    /// Fixed by `/oauth/{portal_id}/authorize`: no account chooser.
    pub portal_id: Option<i64>,
}

struct Session {
    email: String,
    created_ms: i64,
}

struct Pending {
    request: AuthorizeRequest,
    created_ms: i64,
}

#[derive(Default)]
pub struct Sessions {
    sessions: HashMap<String, Session>,
    requests: HashMap<String, Pending>,
}

/// Makes room for one more entry: drops expired ones, then the oldest.
fn make_room<T>(map: &mut HashMap<String, T>, created: impl Fn(&T) -> i64, expired_before: i64) {
    if map.len() < MAX_ENTRIES {
        return;
    }
    map.retain(|_, entry| created(entry) >= expired_before);
    while map.len() >= MAX_ENTRIES {
        let oldest = map
            .iter()
            .min_by_key(|(_, entry)| created(entry))
            .map(|(id, _)| id.clone());
        match oldest {
            Some(id) => map.remove(&id),
            None => break,
        };
    }
}

impl Sessions {
    /// Signs `email` in; returns the session id for the cookie.
    pub fn sign_in(&mut self, email: &str, now_ms: i64) -> String {
        make_room(
            &mut self.sessions,
            |session| session.created_ms,
            now_ms - SESSION_TTL_MS,
        );
        let id = random_uuid();
        let session = Session {
            email: email.to_string(),
            created_ms: now_ms,
        };
        self.sessions.insert(id.clone(), session);
        id
    }

    pub fn sign_out(&mut self, session: &str) {
        self.sessions.remove(session);
    }

    /// The signed-in user's email.
    pub fn user(&self, session: &str, now_ms: i64) -> Option<&str> {
        self.sessions
            .get(session)
            .filter(|session| session.created_ms + SESSION_TTL_MS > now_ms)
            .map(|session| session.email.as_str())
    }

    /// Keeps a validated authorize request; returns its id for the pages' forms.
    pub fn open(&mut self, request: AuthorizeRequest, now_ms: i64) -> String {
        make_room(
            &mut self.requests,
            |pending| pending.created_ms,
            now_ms - REQUEST_TTL_MS,
        );
        let id = random_uuid();
        let pending = Pending {
            request,
            created_ms: now_ms,
        };
        self.requests.insert(id.clone(), pending);
        id
    }

    pub fn request(&self, id: &str, now_ms: i64) -> Option<&AuthorizeRequest> {
        self.requests
            .get(id)
            .filter(|pending| pending.created_ms + REQUEST_TTL_MS > now_ms)
            .map(|pending| &pending.request)
    }

    /// Ends a request (Connect or Cancel answered it): its forms cannot be posted again.
    pub fn finish(&mut self, id: &str) {
        self.requests.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: "client".into(),
            redirect_uri: "https://a/cb".into(),
            state: None,
            required: vec!["oauth".into()],
            optional: Vec::new(),
            portal_id: None,
        }
    }

    #[test]
    fn sessions_and_requests_expire_and_end() {
        let mut sessions = Sessions::default();
        let session = sessions.sign_in("a@x", 0);
        assert_eq!(sessions.user(&session, SESSION_TTL_MS - 1), Some("a@x"));
        assert_eq!(sessions.user(&session, SESSION_TTL_MS), None);
        sessions.sign_out(&session);
        assert_eq!(sessions.user(&session, 1), None);
        let id = sessions.open(request(), 0);
        assert_eq!(sessions.request(&id, REQUEST_TTL_MS - 1), Some(&request()));
        assert_eq!(sessions.request(&id, REQUEST_TTL_MS), None);
        sessions.finish(&id);
        assert_eq!(sessions.request(&id, 1), None);
    }

    #[test]
    fn the_maps_stay_bounded() {
        let mut sessions = Sessions::default();
        let first = sessions.open(request(), 0);
        for at in 1..=MAX_ENTRIES as i64 {
            sessions.open(request(), at);
        }
        assert_eq!(sessions.requests.len(), MAX_ENTRIES);
        assert_eq!(sessions.request(&first, 2), None, "the oldest went first");
    }
}
