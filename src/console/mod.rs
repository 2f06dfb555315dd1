//! The admin console: server-rendered HTML pages under `/admin` for the people who run the
//! integration. Pages render; they never decide: every rule they show or apply is the domain
//! function the JSON API calls too (`export::submit`, `UserMap`, `Mapping::save`,
//! `Schedule::save` …). Signed in with an admin token (a session cookie, a CSRF token on every
//! form); every response carries a strict Content-Security-Policy.

mod assets;
mod chart;
mod layout;
mod pages;
mod reply;
mod request;
mod routes;
mod session;
mod upload;

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};

use crate::api::blocking::{self, Blocking};
use crate::api::{self, Response, State};
use reply::{Body, Reply};
use request::Form;
use routes::Access;
pub use session::Session;
use session::{Credential, Sessions, SESSION_COOKIE, SIGN_IN_COOKIE};

/// The console: the daemon's state and the browser sessions.
pub struct Console {
    pub state: Arc<State>,
    sessions: Sessions,
}

/// Whether `path` is the console's.
pub fn serves(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// What a handler gets, on the blocking pool.
pub struct Ctx<'a> {
    pub console: Arc<Console>,
    pub session: Option<Session>,
    /// The request's path.
    pub path: String,
    /// The path's `{placeholders}`, decoded.
    pub params: Vec<String>,
    pub query: Vec<(String, String)>,
    pub form: Form,
    /// The request's headers (the sign-in form's token is in its cookie).
    pub headers: http::HeaderMap,
    /// Served over TLS: cookies get `Secure`.
    pub secure: bool,
    blocking: &'a Blocking,
}

impl Ctx<'_> {
    /// Waits for `future` (a HubSpot call) on this blocking-pool thread.
    pub fn wait<F: std::future::Future>(&self, future: F) -> F::Output {
        self.blocking.wait(future)
    }

    pub fn state(&self) -> &State {
        &self.console.state
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The site of the portal the page shows: the one chosen in the header's switcher (see
    /// [`shown_site`]).
    pub fn site(&self) -> Arc<crate::api::Site> {
        shown_site(self.state(), self.session.as_ref())
    }

    /// The session's CSRF token (pages behind sign-in always have a session).
    pub fn csrf(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.csrf.as_str())
    }
}

/// The site a session's pages show: the portal chosen in the header, else the one a request
/// naming none is about (`Sites::select`), else the first that has a portal (the first
/// site's may have been removed), else the first. A chosen portal since removed is passed
/// over the same way.
pub fn shown_site(state: &State, session: Option<&Session>) -> Arc<crate::api::Site> {
    let chosen = session.and_then(|session| session.portal);
    let sites = &state.sites;
    sites
        .select(chosen)
        .or_else(|_| sites.select(None))
        .ok()
        .or_else(|| sites.all().into_iter().find(|site| site.hub_id().is_some()))
        .unwrap_or_else(|| sites.first())
}

impl Console {
    pub fn new(state: Arc<State>) -> Console {
        Console {
            state,
            sessions: Sessions::default(),
        }
    }

    /// A one-time sign-in link (single use, valid 15 minutes) under `base_url`.
    pub fn sign_in_link(&self, base_url: &str) -> String {
        format!(
            "{}/admin/sign-in/{}",
            base_url.trim_end_matches('/'),
            self.sessions.issue_code()
        )
    }

    /// Answers one console request; `secure` when it came over TLS.
    pub async fn handle<B>(self: Arc<Self>, secure: bool, request: http::Request<B>) -> Response
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path().to_owned();
        if let Some(response) = static_file(&parts.method, &path) {
            return response;
        }
        let Some((route, params)) = routes::find(&parts.method, &path) else {
            let status = if routes::path_known(&path) {
                StatusCode::METHOD_NOT_ALLOWED
            } else {
                StatusCode::NOT_FOUND
            };
            return self.render(pages::problem::not_found(status), None);
        };
        let session = request::cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|id| self.sessions.find(&id))
            .filter(|session| self.still_valid(session));
        if route.access == Access::Session && session.is_none() {
            return self.render(pages::sign_in::required(&parts, secure), None);
        }
        let form = if parts.method == Method::POST {
            match self.read_form(&parts, body).await {
                Ok(form) => form,
                Err(reply) => return self.render(reply, session.as_ref()),
            }
        } else {
            Form::default()
        };
        if parts.method == Method::POST {
            if let Some(reply) = refuse_post(&parts, &form, route.access, session.as_ref()) {
                return self.render(reply, session.as_ref());
            }
        }
        let query = parts
            .uri
            .query()
            .map(|q| request::pairs(q.as_bytes()))
            .unwrap_or_default();
        let (console, handler, headers) = (self.clone(), route.handler, parts.headers);
        let page_session = session.clone();
        let answered = blocking::run(move |blocking| {
            handler(&Ctx {
                console,
                session: page_session,
                path,
                params,
                query,
                form,
                headers,
                secure,
                blocking,
            })
        });
        let reply = match answered.await {
            Ok(outcome) => outcome.unwrap_or_else(pages::problem::failure),
            Err(error) => {
                tracing::error!(%error, "console page handler failed");
                pages::problem::internal()
            }
        };
        self.render(reply, session.as_ref())
    }

    /// The header's portal switcher, in a deployment of several portals.
    fn switcher(&self, session: Option<&Session>) -> Option<layout::Switcher> {
        let portals = self.state.sites.portal_ids();
        if portals.len() < 2 {
            return None;
        }
        let shown = shown_site(&self.state, session).hub_id();
        Some(layout::Switcher { portals, shown })
    }

    /// A token session lasts only while its token still has the admin scope.
    fn still_valid(&self, session: &Session) -> bool {
        match session.credential {
            Credential::Token { digest } => self
                .state
                .tokens
                .read()
                .still_grants(&digest, crate::config::Scope::Admin),
            Credential::Link => true,
        }
    }

    async fn read_form<B>(&self, parts: &http::request::Parts, body: B) -> Result<Form, Reply>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limits = &self.state.bodies;
        let held = api::body::read(body, limits.api_max_bytes, limits)
            .await
            .map_err(|rejection| pages::problem::body(&rejection, limits.api_max_bytes))?;
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let boundary = multer::parse_boundary(content_type).ok();
        match boundary {
            Some(boundary) => Form::multipart(held.bytes.clone(), &boundary)
                .await
                .map_err(|error| pages::problem::bad_request(&format!("unreadable form: {error}"))),
            None => Ok(Form::urlencoded(&held.bytes)),
        }
    }

    /// The response for `reply`: pages in their shell, the flash kept for the next page.
    fn render(&self, reply: Reply, session: Option<&Session>) -> Response {
        if let (Some(flash), Some(session)) = (reply.flash.clone(), session) {
            self.sessions.set_flash(session, flash);
        }
        let mut response = match reply.body {
            Body::Page(page) => {
                let flash = session.and_then(|session| self.sessions.take_flash(session));
                let csrf = session.map(|session| session.csrf.as_str());
                let csrf = csrf.filter(|_| page.section.is_some());
                let switcher = csrf.and_then(|_| self.switcher(session));
                let html = layout::document(&page, csrf, flash.as_ref(), switcher.as_ref());
                reply::response(
                    reply.status,
                    "text/html; charset=utf-8",
                    Bytes::from(html.into_string()),
                    "no-store",
                )
            }
            Body::Redirect(location) => {
                let mut response = reply::response(
                    reply.status,
                    "text/plain; charset=utf-8",
                    Bytes::new(),
                    "no-store",
                );
                if let Ok(value) = http::HeaderValue::from_str(&location) {
                    response.headers_mut().insert(http::header::LOCATION, value);
                }
                response
            }
            Body::Download {
                content_type,
                file_name,
                bytes,
            } => {
                let mut response =
                    reply::response(reply.status, content_type, Bytes::from(bytes), "no-store");
                let disposition = format!("attachment; filename=\"{file_name}\"");
                if let Ok(value) = http::HeaderValue::from_str(&disposition) {
                    response
                        .headers_mut()
                        .insert(http::header::CONTENT_DISPOSITION, value);
                }
                response
            }
            Body::Json(value) => reply::response(
                reply.status,
                "application/json",
                Bytes::from(value.to_string()),
                "no-store",
            ),
        };
        for cookie in reply.cookies {
            if let Ok(value) = http::HeaderValue::from_str(&cookie) {
                response
                    .headers_mut()
                    .append(http::header::SET_COOKIE, value);
            }
        }
        response
    }
}

/// `GET /admin/assets/{version}/{name}`, served without a session.
fn static_file(method: &Method, path: &str) -> Option<Response> {
    let rest = path.strip_prefix("/admin/assets/")?;
    let (version, name) = rest.split_once('/')?;
    if method != Method::GET {
        return None;
    }
    assets::serve(version, name)
}

/// Every POST must come from this origin and carry the form's CSRF token: the session's, or
/// on the sign-in form the one in its cookie. The page refusing it otherwise.
fn refuse_post(
    parts: &http::request::Parts,
    form: &Form,
    access: Access,
    session: Option<&Session>,
) -> Option<Reply> {
    if !request::same_origin(&parts.headers) {
        return Some(pages::problem::forbidden_origin());
    }
    let presented = form.get("csrf").unwrap_or("");
    let expected = match access {
        Access::SignInForm => request::cookie(&parts.headers, SIGN_IN_COOKIE),
        Access::Public | Access::Session => session.map(|session| session.csrf.clone()),
    };
    match expected {
        Some(expected) if !presented.is_empty() && session::same(presented, &expected) => None,
        _ => Some(pages::problem::csrf()),
    }
}
