//! `Client`: one portal's HubSpot connection; every call goes through pacing, auth and retries.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::{AccessToken, Auth, CredentialEvents, Credentials};
use super::calls::CallCounts;
use super::classify;
use super::error::{Error, MissingScope, RateLimitPolicy};
use super::introspect::TokenInfo;
use super::rate_limit::{Budget, Lane, RateLimiter, RateLimits};
use super::retry::{ClientStats, RetryPolicy, StatsSnapshot};

/// Everything the client needs; the daemon maps its own config onto this.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://api.hubapi.com` in production, the simulator's URL in tests.
    pub api_base: Url,
    pub credentials: Credentials,
    pub connect_timeout: Duration,
    /// Per HTTP request, including reading the body.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub rate_limits: RateLimits,
    /// Requests in flight at once; pacing decides the rate, this bounds memory and sockets.
    pub max_concurrency: usize,
    /// Characters of `properties=` a list URL may carry (~6,000-character URLs get 414s);
    /// the other properties are fetched by batch read.
    pub url_properties_budget: usize,
    /// HubSpot refuses search bodies over 3,000 characters; wider searches fetch ids first
    /// and the properties by batch read.
    pub search_body_budget: usize,
    /// Told when HubSpot rotates or refuses the OAuth refresh token (the owner persists it).
    pub events: Option<Arc<dyn CredentialEvents>>,
}

impl ClientConfig {
    pub fn new(api_base: Url, credentials: Credentials) -> Self {
        ClientConfig {
            api_base,
            credentials,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            max_concurrency: 8,
            url_properties_budget: 5_500,
            search_body_budget: 3_000,
            events: None,
        }
    }

    /// Bounds the total time spent retrying one call.
    pub fn with_max_retry_secs(mut self, secs: u64) -> Self {
        self.retry.max_total = Duration::from_secs(secs);
        self
    }
}

/// A cheap-to-clone handle; clones share pacing, the token and the counters.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) auth: Auth,
    pub(crate) limiter: RateLimiter,
    pub(crate) retry: RetryPolicy,
    pub(crate) stats: ClientStats,
    pub(crate) calls: CallCounts,
    pub(crate) slots: tokio::sync::Semaphore,
    pub(crate) token_info: OnceLock<TokenInfo>,
    pub(crate) url_properties_budget: usize,
    pub(crate) search_body_budget: usize,
}

/// One HubSpot API call, described so it can be sent again on retry.
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
    pub lane: Lane,
    /// What the call is for, in logs and scope errors ("list contacts").
    pub label: String,
    /// Safe to send twice (reads, updates); creates are not.
    pub idempotent: bool,
}

impl Call {
    pub fn get(path: impl Into<String>, label: impl Into<String>) -> Self {
        Call {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            lane: Lane::General,
            label: label.into(),
            idempotent: true,
        }
    }

    pub fn post(
        path: impl Into<String>,
        body: serde_json::Value,
        label: impl Into<String>,
    ) -> Self {
        Call {
            method: Method::POST,
            body: Some(body),
            ..Call::get(path, label)
        }
    }

    pub fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        if !matches!(config.api_base.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "api_base must be an http(s) URL, got {}",
                config.api_base
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("hubspot-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::from_transport)?;
        let auth = Auth::new(
            config.credentials,
            http.clone(),
            config.api_base.clone(),
            config.events,
        );
        let inner = Inner {
            http,
            base: config.api_base,
            auth,
            limiter: RateLimiter::new(config.rate_limits),
            retry: config.retry,
            stats: ClientStats::default(),
            calls: CallCounts::default(),
            slots: tokio::sync::Semaphore::new(config.max_concurrency.max(1)),
            token_info: OnceLock::new(),
            url_properties_budget: config.url_properties_budget,
            search_body_budget: config.search_body_budget,
        };
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The rate-limit budget left right now.
    pub fn budget(&self) -> Budget {
        self.inner.limiter.budget()
    }

    /// Sends `call` with retries and parses a JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        let body = self.send(call).await?;
        serde_json::from_slice(&body).map_err(|e| Error::BadResponse {
            what: call.label.clone(),
            reason: e.to_string(),
        })
    }

    /// Sends `call` with retries; returns the body of a 2xx answer (207 included).
    pub(crate) async fn send(&self, call: &Call) -> Result<Bytes, Error> {
        let inner = &self.inner;
        inner
            .retry
            .run(&inner.stats, &call.label, call.idempotent, || {
                self.attempt(call)
            })
            .await
    }

    /// One attempt, plus one forced token refresh when an OAuth token is refused with 401.
    async fn attempt(&self, call: &Call) -> Result<Bytes, Error> {
        let inner = &self.inner;
        let mut refreshed = false;
        loop {
            inner.limiter.acquire(call.lane).await?;
            let token = inner.auth.token(&inner.retry, &inner.stats).await?;
            let (status, headers, body) = self.exchange(call, &token).await?;
            inner.calls.record(&call.label, status);
            if (200..300).contains(&status) {
                return Ok(body);
            }
            let error = classify::error_from_response(status, &headers, &body);
            tracing::debug!(label = %call.label, status, %error, "HubSpot call failed");
            match error {
                Error::RateLimited {
                    policy,
                    retry_after,
                    ..
                } => {
                    ClientStats::bump(&inner.stats.rate_limited);
                    inner
                        .limiter
                        .on_rate_limited(call.lane, policy, retry_after);
                    if policy == RateLimitPolicy::Daily {
                        // The limiter now refuses every call until the reset; say so.
                        inner.limiter.acquire(call.lane).await?;
                    }
                    return Err(error);
                }
                Error::Unauthorized { .. } if inner.auth.is_oauth() && !refreshed => {
                    refreshed = true;
                    let (retry, stats) = (&inner.retry, &inner.stats);
                    inner
                        .auth
                        .force_refresh(token.generation, retry, stats)
                        .await?;
                }
                Error::Forbidden { .. } => return Err(scope_error(error, &body, &call.label)),
                error => return Err(error),
            }
        }
    }

    /// Sends `call` once with `token`; learns the rate-limit headers of the answer.
    async fn exchange(
        &self,
        call: &Call,
        token: &AccessToken,
    ) -> Result<(u16, HeaderMap, Bytes), Error> {
        let inner = &self.inner;
        let mut request = inner
            .http
            .request(call.method.clone(), endpoint(&inner.base, &call.path))
            .bearer_auth(token.secret.expose());
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        // Bounds requests in flight; released once the body is read.
        let _permit = inner.slots.acquire().await;
        ClientStats::bump(&inner.stats.requests);
        let response = request.send().await.map_err(Error::from_transport)?;
        // Search sends no headers of its own; anything there describes another budget.
        if call.lane == Lane::General {
            inner.limiter.observe(response.headers());
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(Error::from_transport)?;
        Ok((status, headers, body))
    }
}

/// `api_base` may carry a path prefix (a proxy); `Url::join` would drop it.
pub(crate) fn endpoint(base: &Url, path: &str) -> String {
    format!("{}{}", base.as_str().trim_end_matches('/'), path)
}

/// A 403 that names missing scopes becomes `MissingScopes`, saying what the call was for.
fn scope_error(error: Error, body: &[u8], label: &str) -> Error {
    let scopes = classify::missing_scopes(body);
    if scopes.is_empty() {
        return error;
    }
    let missing = scopes
        .into_iter()
        .map(|scope| MissingScope {
            scope,
            needed_for: label.to_owned(),
        })
        .collect();
    Error::MissingScopes { missing }
}
