//! The authorize pages, as a person or a test walks them. All posts are
//! `application/x-www-form-urlencoded`; every page's forms carry the hidden field `request`
//! (the id of the validated authorize request); each step answers the next page directly.
//!
//! 1. `GET /oauth/authorize?client_id&redirect_uri&scope&optional_scope&state` (scopes
//!    space-separated; `/oauth/{portal_id}/authorize` fixes the account). An unknown client id,
//!    a redirect URI that is not https (http only on loopback) or not among the app's registered
//!    ones, no `scope`, or a required scope outside the app's settings: 400 error page, no
//!    redirect. Optional scopes outside the app's settings are dropped. Then the sign-in page, or
//!    if the `hubspot-sim-session` cookie names a user, straight to step 3 or 4.
//! 2. Sign-in page → `POST /oauth/authorize/sign-in` `request=R&email=E` (no password). Sets the
//!    cookie `hubspot-sim-session` (Path=/oauth, HttpOnly) and answers step 3 or 4; an email of no
//!    active user: 401 sign-in page with the problem.
//! 3. Account chooser, when the user belongs to several accounts and none is fixed →
//!    `POST /oauth/authorize/account` `request=R&portal_id=P`.
//! 4. Consent page (required scopes, granted optional ones) → `POST /oauth/authorize/consent`
//!    `request=R&portal_id=P&decision=connect` → 302 `redirect_uri?code=C&state=S`;
//!    `decision=cancel` → 302 `redirect_uri?error=access_denied&error_description=…&state=S`.
//!    Either ends the request (posting it again: 400 error page).
//!
//! A required scope the account or the user cannot grant (`Control::limit_scopes`) makes
//! steps 3–4 a 403 error page naming it; optional ones are silently left out. Any page can
//! `POST /oauth/authorize/sign-out` `request=R`: signs out, answers the sign-in page. Without
//! the cookie, steps 3–4 answer the sign-in page (401).
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/authentication/manage-oauth-tokens>

use crate::sim::accounts::User;
use crate::sim::auth::{AuthorizeRequest, Grant, Scopes};
use crate::sim::control::Shared;
use crate::sim::http::reply::Reply;
use crate::sim::http::Request;
use crate::time;

use super::pages::{self, Consent};
use super::session::{cookie, session, set_cookie, signed_in};

/// `GET /oauth/authorize` (and `/oauth/{portal_id}/authorize`).
pub fn open(shared: &Shared, request: &Request, portal_id: Option<i64>) -> Reply {
    let authorize = match validate(shared, request, portal_id) {
        Ok(authorize) => authorize,
        Err(message) => return pages::error(400, &message),
    };
    let now = time::now_ms();
    let id = shared.oauth.lock().sessions.open(authorize.clone(), now);
    let email = session(shared, request, now);
    advance(shared, &id, &authorize, email.as_deref())
}

/// `POST /oauth/authorize/{step}`.
pub fn post(shared: &Shared, request: &Request, step: &str) -> Reply {
    let now = time::now_ms();
    let id = request.form("request").unwrap_or_default();
    let Some(authorize) = shared.oauth.lock().sessions.request(&id, now).cloned() else {
        return pages::error(
            400,
            "This authorization request has expired or was already answered.",
        );
    };
    let portal_id = request.form("portal_id").and_then(|id| id.parse().ok());
    match step {
        "sign-in" => sign_in(shared, &id, &authorize, request),
        "sign-out" => {
            if let Some(session) = cookie(request) {
                shared.oauth.lock().sessions.sign_out(&session);
            }
            let mut reply = pages::sign_in(200, &id, None, &shared.users());
            set_cookie(&mut reply, "; Max-Age=0");
            reply
        }
        "account" | "consent" => {
            let Some(user) = signed_in(shared, request, now) else {
                let problem = "Sign in to continue.";
                return pages::sign_in(401, &id, Some(problem), &shared.users());
            };
            let Some(portal_id) = portal_id else {
                return pages::error(400, "No account was chosen.");
            };
            match step {
                "account" => consent(shared, &id, &authorize, &user, portal_id),
                _ => decide(shared, &id, &authorize, &user, portal_id, request),
            }
        }
        _ => pages::error(404, &format!("No authorize step {step:?}.")),
    }
}

/// The query parameters, checked as HubSpot checks them before showing anything.
fn validate(
    shared: &Shared,
    request: &Request,
    portal_id: Option<i64>,
) -> Result<AuthorizeRequest, String> {
    let client_id = request.param("client_id").unwrap_or_default();
    if client_id != shared.config.client_id {
        return Err(format!(
            "Authorization failed: no app has the client ID '{client_id}'."
        ));
    }
    let redirect_uri = request.param("redirect_uri").unwrap_or_default();
    let oauth = shared.oauth.lock();
    oauth.policy.check_redirect(redirect_uri)?;
    let required = scope_list(request.param("scope"));
    if required.is_empty() {
        return Err("Authorization failed: the authorize URL has no scope.".to_string());
    }
    let mismatched: Vec<&str> = required
        .iter()
        .filter(|scope| !oauth.policy.app_has(scope))
        .map(String::as_str)
        .collect();
    if !mismatched.is_empty() {
        return Err(format!(
            "Authorization failed because there is a mismatch between the scopes in the install URL and the app's configured scopes: {}.",
            mismatched.join(", ")
        ));
    }
    let optional = scope_list(request.param("optional_scope"))
        .into_iter()
        .filter(|scope| oauth.policy.app_has(scope) && !required.contains(scope))
        .collect();
    Ok(AuthorizeRequest {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        state: request.param("state").map(str::to_string),
        required,
        optional,
        portal_id,
    })
}

fn scope_list(text: Option<&str>) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in text.unwrap_or_default().split_whitespace() {
        if !scopes.iter().any(|known| known == scope) {
            scopes.push(scope.to_string());
        }
    }
    scopes
}

fn sign_in(shared: &Shared, id: &str, authorize: &AuthorizeRequest, request: &Request) -> Reply {
    let email = request.form("email").unwrap_or_default();
    let Some(user) = shared
        .user_by_email(&email)
        .filter(|user| !user.portal_ids.is_empty())
    else {
        let problem = format!("No active HubSpot user signs in with '{}'.", email.trim());
        return pages::sign_in(401, id, Some(&problem), &shared.users());
    };
    let session = shared
        .oauth
        .lock()
        .sessions
        .sign_in(&user.email, time::now_ms());
    let mut reply = advance(shared, id, authorize, Some(&user.email));
    set_cookie(&mut reply, &session);
    reply
}

/// The page after sign-in: the account chooser, or consent when the account is clear.
fn advance(shared: &Shared, id: &str, authorize: &AuthorizeRequest, email: Option<&str>) -> Reply {
    let user = email
        .and_then(|email| shared.user_by_email(email))
        .filter(|user| !user.portal_ids.is_empty());
    let Some(user) = user else {
        return pages::sign_in(200, id, None, &shared.users());
    };
    match (authorize.portal_id, user.portal_ids.as_slice()) {
        (Some(portal_id), _) | (None, &[portal_id]) => {
            consent(shared, id, authorize, &user, portal_id)
        }
        (None, _) => pages::choose_account(id, &app_name(shared), &user),
    }
}

/// The scopes `user` would grant in `portal_id`: required and granted optional ones, or the
/// text of the error page.
fn grantable(
    shared: &Shared,
    authorize: &AuthorizeRequest,
    user: &User,
    portal_id: i64,
) -> Result<Vec<String>, String> {
    if !user.portal_ids.contains(&portal_id) {
        return Err(format!(
            "{} is not a user of the HubSpot account {portal_id}.",
            user.email
        ));
    }
    let oauth = shared.oauth.lock();
    let can = |scope: &String| oauth.policy.grantable(portal_id, &user.email, scope);
    let lacking: Vec<&str> = authorize
        .required
        .iter()
        .filter(|scope| !can(scope))
        .map(String::as_str)
        .collect();
    if !lacking.is_empty() {
        return Err(format!(
            "You can't connect this app to account {portal_id}: it requires access that {} can't grant there: {}.",
            user.email,
            lacking.join(", ")
        ));
    }
    let optional = authorize
        .optional
        .iter()
        .filter(|scope| can(scope))
        .cloned();
    Ok(authorize.required.iter().cloned().chain(optional).collect())
}

fn consent(
    shared: &Shared,
    id: &str,
    authorize: &AuthorizeRequest,
    user: &User,
    portal_id: i64,
) -> Reply {
    let scopes = match grantable(shared, authorize, user, portal_id) {
        Ok(scopes) => scopes,
        Err(message) => return pages::error(403, &message),
    };
    let (required, optional) = scopes.split_at(authorize.required.len());
    pages::consent(&Consent {
        request: id,
        app: &app_name(shared),
        user,
        portal_id,
        required,
        optional,
    })
}

/// Connect or Cancel: redirects to the app and ends the request.
fn decide(
    shared: &Shared,
    id: &str,
    authorize: &AuthorizeRequest,
    user: &User,
    portal_id: i64,
    request: &Request,
) -> Reply {
    let connect = request.form("decision").as_deref() == Some("connect");
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if connect {
        let scopes = match grantable(shared, authorize, user, portal_id) {
            Ok(scopes) => scopes,
            Err(message) => return pages::error(403, &message),
        };
        let grant = Grant {
            portal_id,
            user_id: Some(user.user_id),
            scopes: Scopes::Granted(scopes),
        };
        let mut oauth = shared.oauth.lock();
        let code = oauth.codes.issue(
            &authorize.client_id,
            &authorize.redirect_uri,
            grant,
            time::now_ms(),
        );
        oauth.sessions.finish(id);
        pairs.push(("code", code));
    } else {
        shared.oauth.lock().sessions.finish(id);
        pairs.push(("error", "access_denied".to_string()));
        pairs.push((
            "error_description",
            "The user declined to connect the app.".to_string(),
        ));
    }
    if let Some(state) = &authorize.state {
        pairs.push(("state", state.clone()));
    }
    redirect(&authorize.redirect_uri, &pairs)
}

fn redirect(redirect_uri: &str, pairs: &[(&str, String)]) -> Reply {
    // Invariant: the redirect URI was parsed when the request was validated.
    let mut url = url::Url::parse(redirect_uri).expect("validated redirect URI");
    url.query_pairs_mut()
        .extend_pairs(pairs.iter().map(|(key, value)| (*key, value.as_str())));
    // Invariant: a URL serialises to a valid header value.
    hyper::Response::builder()
        .status(302)
        .header("location", url.as_str())
        .header("cache-control", "no-store")
        .body(Default::default())
        .expect("a URL is a valid header value")
}

fn app_name(shared: &Shared) -> String {
    format!("The app {}", shared.config.client_id)
}
