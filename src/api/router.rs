//! Routing: one table of routes (method, path template, scope, where served, handler) that
//! the OpenAPI document is checked against; body limits; the error answer for everything else.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::json;

use super::blocking::{self, Blocking};
use super::body::{self, Held};
use super::error::{close_connection, empty_response, json_response, ApiError, Response};
use super::surface::{Exposure, Surface};
use super::{
    connection, export, journal, lookups, notifications, objects, openapi, portals, status, sync,
    user_mappings, webhooks, State,
};
use crate::config::Scope;
use crate::webhook::Rejection;

/// What a handler gets: the path's `{placeholders}` in order, the query, the body, and the
/// name of the API token that called (`None` on routes without one).
pub struct Call<'a> {
    pub params: Vec<&'a str>,
    pub query: Option<&'a str>,
    pub body: Bytes,
    pub caller: Option<&'a str>,
    /// The portal the request names (`?portal=` or the header), checked when a handler
    /// selects its site.
    pub portal: Result<Option<i64>, super::sites::Unselected>,
}

impl Call<'_> {
    /// The site the request is about: the portal it names, else the only one.
    pub fn site(&self, state: &State) -> Result<Arc<super::Site>, ApiError> {
        let named = self.portal.clone().map_err(ApiError::unselected)?;
        state.site(named).map_err(ApiError::unselected)
    }
}

/// The portal a request names: `?portal=ID`, else the `X-HubSpot-Portal-Id` header.
fn named_portal(parts: &http::request::Parts) -> Result<Option<i64>, super::sites::Unselected> {
    let query = parts.uri.query().unwrap_or_default();
    let from_query = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "portal")
        .map(|(_, value)| value.into_owned());
    let from_header = parts
        .headers
        .get(super::sites::PORTAL_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    super::sites::named(from_query.or(from_header).as_deref())
}

/// A handler run on the connection's task: microseconds of work (single lookups stay here:
/// on the blocking pool their CPU per request doubles, docs/bench/lookups.md).
pub type Inline = fn(&State, &Call<'_>) -> Result<Response, ApiError>;

/// A handler run on the blocking pool: milliseconds of store work (100-item indicator
/// requests, export jobs and dry runs of up to 100,000 records) or a wait for HubSpot (with
/// [`Blocking::wait`]), so that it neither occupies an async worker meanwhile (webhook
/// acknowledgements wait behind it) nor stalls one on a read that waits for the disk or the
/// network. Only a route made with [`heavy`] takes one, so only there can a handler wait.
pub type OnPool = fn(&State, &Call<'_>, &Blocking) -> Result<Response, ApiError>;

/// A route's handler, which says where it runs.
#[derive(Clone, Copy)]
pub enum Handler {
    Inline(Inline),
    OnPool(OnPool),
}

/// The latency histogram of `/metrics` a route's answers are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    /// `lookup_seconds`: company, contact and indicator lookups, whatever they answer.
    Lookup,
}

pub enum Action {
    /// HubSpot's webhook delivery: signature-authenticated, answered after a durable commit.
    Webhook,
    Handle(Handler),
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    /// `None`: no bearer token (webhooks carry a signature; health and docs are public).
    pub scope: Option<Scope>,
    pub exposure: Exposure,
    pub action: Action,
    pub latency: Option<Latency>,
    /// Added to the answer to a body above `server.max_body_bytes`: how to get through.
    pub too_large_hint: Option<&'static str>,
}

const fn handled(
    method: Method,
    path: &'static str,
    scope: Option<Scope>,
    handler: Handler,
) -> Route {
    Route {
        method,
        path,
        scope,
        exposure: Exposure::Api,
        action: Action::Handle(handler),
        latency: None,
        too_large_hint: None,
    }
}

/// A route whose handler runs on the connection's task (see [`Inline`]).
const fn route(method: Method, path: &'static str, scope: Option<Scope>, handler: Inline) -> Route {
    handled(method, path, scope, Handler::Inline(handler))
}

/// A route every listener serves without a token.
const fn health(path: &'static str, handler: Inline) -> Route {
    route(Method::GET, path, None, handler).exposed(Exposure::Health)
}

/// A route whose handler runs on the blocking pool (see [`OnPool`]).
const fn heavy(method: Method, path: &'static str, scope: Option<Scope>, handler: OnPool) -> Route {
    handled(method, path, scope, Handler::OnPool(handler))
}

impl Route {
    /// The route's answers are counted in `lookup_seconds`.
    const fn lookup(mut self) -> Route {
        self.latency = Some(Latency::Lookup);
        self
    }

    /// Served where `exposure` says instead of with the API.
    const fn exposed(mut self, exposure: Exposure) -> Route {
        self.exposure = exposure;
        self
    }

    /// Says how to get a body above `server.max_body_bytes` through.
    const fn too_large_hint(mut self, hint: &'static str) -> Route {
        self.too_large_hint = Some(hint);
        self
    }
}

const READ: Option<Scope> = Some(Scope::Read);
const EXPORT: Option<Scope> = Some(Scope::Export);
const ADMIN: Option<Scope> = Some(Scope::Admin);

/// Every route the gateway serves.
pub const ROUTES: &[Route] = &[
    Route {
        method: Method::POST,
        path: "/webhooks/hubspot",
        scope: None,
        exposure: Exposure::Webhook,
        action: Action::Webhook,
        latency: None,
        too_large_hint: None,
    },
    health("/healthz", |_, _| {
        Ok(json_response(StatusCode::OK, &json!({"status": "ok"})))
    }),
    health("/readyz", readyz),
    route(Method::GET, "/metrics", READ, metrics).exposed(Exposure::Operations),
    route(Method::GET, "/openapi.json", None, openapi::document),
    route(Method::GET, "/v1/status", READ, status::status),
    route(
        Method::GET,
        "/v1/objects/{type}/{id}",
        READ,
        objects::record,
    ),
    route(Method::GET, "/v1/owners", READ, objects::owners),
    route(Method::GET, "/v1/owners/{id}", READ, objects::owner),
    route(
        Method::GET,
        "/v1/companies/lookup",
        READ,
        lookups::companies,
    )
    .lookup(),
    route(Method::GET, "/v1/contacts/lookup", READ, lookups::contacts).lookup(),
    heavy(Method::POST, "/v1/indicators", READ, |state, call, _| {
        lookups::indicators(state, call)
    })
    .lookup(),
    route(
        Method::POST,
        "/v1/ownership/resolve",
        READ,
        user_mappings::resolve,
    ),
    route(Method::GET, "/v1/webhooks/events", ADMIN, |state, call| {
        webhooks::recent(state, call.query)
    }),
    route(
        Method::GET,
        "/v1/webhooks/events/{event_id}",
        ADMIN,
        |state, call| webhooks::one(state, call.params[0]),
    ),
    heavy(
        Method::POST,
        "/v1/journal/subscriptions",
        ADMIN,
        journal::subscribe,
    ),
    route(Method::GET, "/v1/sync/schedule", ADMIN, sync::schedule),
    route(Method::PUT, "/v1/sync/schedule", ADMIN, sync::put_schedule),
    route(
        Method::DELETE,
        "/v1/sync/schedule",
        ADMIN,
        sync::reset_schedule,
    ),
    route(Method::POST, "/v1/sync/{type}", ADMIN, sync::run_now),
    route(
        Method::DELETE,
        "/v1/matches/{type}",
        ADMIN,
        lookups::clear_matches,
    ),
    route(Method::GET, "/v1/user-mappings", ADMIN, user_mappings::list),
    route(
        Method::PUT,
        "/v1/user-mappings/{email}",
        ADMIN,
        user_mappings::put,
    ),
    route(
        Method::DELETE,
        "/v1/user-mappings/{email}",
        ADMIN,
        user_mappings::delete,
    ),
    route(
        Method::POST,
        "/v1/user-mappings/auto",
        ADMIN,
        user_mappings::auto,
    ),
    route(
        Method::POST,
        "/v1/user-mappings/reset",
        ADMIN,
        user_mappings::reset,
    ),
    route(Method::GET, "/v1/export/settings", ADMIN, export::settings),
    route(
        Method::PUT,
        "/v1/export/settings",
        ADMIN,
        export::put_settings,
    ),
    route(
        Method::DELETE,
        "/v1/export/settings",
        ADMIN,
        export::reset_settings,
    ),
    route(
        Method::GET,
        "/v1/export/mappings/{type}",
        ADMIN,
        export::mapping,
    ),
    route(
        Method::PUT,
        "/v1/export/mappings/{type}",
        ADMIN,
        export::put_mapping,
    ),
    heavy(
        Method::POST,
        "/v1/export/mappings/{type}/test",
        ADMIN,
        export::test_mapping,
    ),
    route(Method::GET, "/v1/connection", ADMIN, connection::get),
    route(
        Method::POST,
        "/v1/connection/start",
        ADMIN,
        connection::start,
    ),
    heavy(Method::GET, "/oauth/callback", None, connection::callback).exposed(Exposure::Callback),
    heavy(
        Method::DELETE,
        "/v1/connection",
        ADMIN,
        connection::disconnect,
    ),
    heavy(Method::DELETE, "/v1/portals/{id}", ADMIN, portals::remove),
    route(
        Method::PUT,
        "/v1/connection/preferences",
        ADMIN,
        connection::put_preferences,
    ),
    route(
        Method::POST,
        "/v1/users/{email}/connection/start",
        EXPORT,
        connection::user_start,
    ),
    route(
        Method::GET,
        "/v1/users/{email}/connection",
        EXPORT,
        connection::user_get,
    ),
    heavy(
        Method::DELETE,
        "/v1/users/{email}/connection",
        EXPORT,
        connection::user_disconnect,
    ),
    heavy(Method::POST, "/v1/exports", EXPORT, |state, call, _| {
        export::start(state, call)
    })
    .too_large_hint(
        " (server.max_body_bytes): split the export into smaller jobs, or raise \
         server.max_body_bytes (about 180 bytes per contact record)",
    ),
    route(Method::GET, "/v1/exports", EXPORT, export::list),
    heavy(Method::GET, "/v1/exports/{id}", EXPORT, |state, call, _| {
        export::one(state, call)
    }),
    route(Method::GET, "/v1/notifications", ADMIN, notifications::list),
    heavy(
        Method::POST,
        "/v1/notifications/{name}/redeliver",
        ADMIN,
        |state, call, _| notifications::redeliver(state, call),
    ),
    heavy(
        Method::POST,
        "/v1/notifications/digest",
        ADMIN,
        notifications::digest,
    ),
];

/// Answers one request that came in on `surface`. Never fails: every problem becomes an
/// error answer. A route another listener serves is not found here.
pub async fn handle<B>(
    state: Arc<State>,
    surface: Surface,
    request: http::Request<B>,
) -> Result<Response, Infallible>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let mut path_known = false;
    for route in ROUTES {
        let Some(params) = matches(route.path, &segments) else {
            continue;
        };
        if !surface.serves(route.exposure) {
            continue;
        }
        path_known = true;
        if route.method != parts.method {
            continue;
        }
        let started = tokio::time::Instant::now();
        let mut response = match route.action {
            Action::Webhook => webhook(&state, parts, body).await,
            Action::Handle(handler) => {
                let scope = surface.scope(route);
                run(state.clone(), route, scope, handler, &parts, params, body)
                    .await
                    .unwrap_or_else(ApiError::into_response)
            }
        };
        match route.latency {
            Some(Latency::Lookup) => state.metrics.observe_lookup(started.elapsed()),
            None => {}
        }
        // The rest of a late body is never read: the connection ends with this answer.
        if response.status() == StatusCode::REQUEST_TIMEOUT {
            close_connection(&mut response);
        }
        return Ok(response);
    }
    let error = if path_known {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{} is not allowed on {path}", parts.method),
        )
    } else {
        ApiError::not_found(format!("no route for {} {path}", parts.method))
    };
    Ok(error.into_response())
}

/// The `{placeholder}` values when `template` matches the path's segments.
fn matches<'a>(template: &str, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = template.split('/').skip(1).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            if segment.is_empty() {
                return None;
            }
            params.push(*segment);
        } else if part != segment {
            return None;
        }
    }
    Some(params)
}

/// Runs `handler` where it says, once [`prepare`] has checked and read the request.
async fn run<B>(
    state: Arc<State>,
    route: &Route,
    scope: Option<Scope>,
    handler: Handler,
    parts: &http::request::Parts,
    params: Vec<&str>,
    body: B,
) -> Result<Response, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (caller, params, held) = prepare(&state, route, scope, parts, params, body).await?;
    let query = parts.uri.query().map(str::to_owned);
    let portal = named_portal(parts);
    let answer = move |handle: &dyn Fn(&State, &Call<'_>) -> Result<Response, ApiError>| {
        let call = Call {
            params: params.iter().map(String::as_str).collect(),
            query: query.as_deref(),
            body: held.bytes.clone(),
            caller: caller.as_deref(),
            portal: portal.clone(),
        };
        let response = handle(&state, &call);
        // The body's memory stays taken until the handler is done with it.
        drop(held);
        response
    };
    match handler {
        Handler::Inline(inline) => answer(&inline),
        Handler::OnPool(on_pool) => {
            let answered = blocking::run(move |blocking| {
                answer(&|state, call| on_pool(state, call, blocking))
            });
            answered.await.map_err(|error| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    error.to_string(),
                )
            })?
        }
    }
}

/// What every handler needs first: the token checked (its name returned), the path
/// parameters decoded and the body read within its limits (GET requests have none). The
/// body's memory stays taken until the returned [`Held`] is dropped, after the handler ran.
async fn prepare<B>(
    state: &State,
    route: &Route,
    scope: Option<Scope>,
    parts: &http::request::Parts,
    params: Vec<&str>,
    body: B,
) -> Result<(Option<String>, Vec<String>, Held), ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let caller = match scope {
        Some(scope) => Some(
            state
                .tokens
                .read()
                .authorize(&parts.headers, scope)?
                .to_owned(),
        ),
        None => None,
    };
    let held = if parts.method == Method::GET {
        Held::empty()
    } else {
        let limits = &state.bodies;
        body::read(body, limits.api_max_bytes, limits)
            .await
            .map_err(|error| body_error(&error, route))?
    };
    let params = params.iter().map(|param| percent_decode(param)).collect();
    Ok((caller, params, held))
}

/// The API's answer to a body that could not be read.
fn body_error(error: &body::Error, route: &Route) -> ApiError {
    let mut answer = ApiError::body(error);
    if let (body::Error::TooLarge { .. }, Some(hint)) = (error, route.too_large_hint) {
        answer.message.push_str(hint);
    }
    answer
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// `GET /metrics`: OpenMetrics text (the token it needs depends on the listener, [`Surface`]).
fn metrics(state: &State, _: &Call<'_>) -> Result<Response, ApiError> {
    let text = state.metrics.render(state);
    let mut response = http::Response::new(http_body_util::Full::new(Bytes::from(text)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    Ok(response)
}

fn readyz(state: &State, _: &Call<'_>) -> Result<Response, ApiError> {
    if let Some(reason) = state.store.failure() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            format!("the store is unwritable ({reason}); the daemon exits for a restart"),
        ));
    }
    if state.is_ready() {
        Ok(json_response(StatusCode::OK, &json!({"status": "ready"})))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "starting up or draining",
        ))
    }
}

async fn webhook<B>(state: &State, parts: http::request::Parts, body: B) -> Response
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = tokio::time::Instant::now();
    match receive(state, parts, body).await {
        Ok(stored) => {
            state
                .metrics
                .webhook_acknowledged(&stored, started.elapsed());
            tracing::debug!(
                stored = stored.stored,
                duplicates = stored.duplicates,
                "webhook batch acknowledged"
            );
            empty_response(StatusCode::NO_CONTENT)
        }
        Err((rejection, body_unread)) => {
            let (status, code) = rejection.status_and_code();
            state.metrics.webhook_rejected(code, started.elapsed());
            if status != StatusCode::SERVICE_UNAVAILABLE {
                state.ingress.note_rejected();
            }
            tracing::info!(%status, code, reason = %rejection, "webhook request rejected");
            let mut response = ApiError::new(status, code, rejection.to_string()).into_response();
            // What is left of the body is not read: the connection cannot carry another
            // request, and closing it frees its slot at once.
            if body_unread {
                close_connection(&mut response);
            }
            response
        }
    }
}

/// The webhook path: the header checks and an in-flight slot first, then the body within its
/// limits, then the signature over it and the durable store. A rejection says whether the
/// body was left (partly) unread.
async fn receive<B>(
    state: &State,
    parts: http::request::Parts,
    body: B,
) -> Result<crate::store::AppendOutcome, (Rejection, bool)>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let admitted = state
        .ingress
        .admit(&parts.headers)
        .map_err(|rejection| (rejection, true))?;
    let limits = &state.bodies;
    let held = body::read(body, limits.webhook_max_bytes, limits)
        .await
        .map_err(|error| (Rejection::from(error), true))?;
    state
        .ingress
        .handle(admitted, &parts, held.bytes.clone())
        .await
        .map_err(|rejection| (rejection, false))
}
