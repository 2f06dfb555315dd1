//! The authorize pages' sign-in: a session cookie names the signed-in HubSpot user.

use crate::sim::accounts::User;
use crate::sim::control::Shared;
use crate::sim::http::reply::Reply;
use crate::sim::http::Request;

const COOKIE: &str = "hubspot-sim-session";

/// The session id the browser sent.
pub fn cookie(request: &Request) -> Option<String> {
    let header = request.headers.get("cookie")?.to_str().ok()?;
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE).then(|| value.to_string())
    })
}

/// The email of the user the browser is signed in as.
pub fn session(shared: &Shared, request: &Request, now_ms: i64) -> Option<String> {
    let session = cookie(request)?;
    shared
        .oauth
        .lock()
        .sessions
        .user(&session, now_ms)
        .map(str::to_string)
}

/// The signed-in user, while they are an active user of some account.
pub fn signed_in(shared: &Shared, request: &Request, now_ms: i64) -> Option<User> {
    let email = session(shared, request, now_ms)?;
    shared
        .user_by_email(&email)
        .filter(|user| !user.portal_ids.is_empty())
}

/// `value` is the session id, or `; Max-Age=0` to clear it.
pub fn set_cookie(reply: &mut Reply, value: &str) {
    let cookie = format!("{COOKIE}={value}; Path=/oauth; HttpOnly; SameSite=Lax");
    if let Ok(cookie) = hyper::header::HeaderValue::from_str(&cookie) {
        reply
            .headers_mut()
            .insert(hyper::header::SET_COOKIE, cookie);
    }
}
