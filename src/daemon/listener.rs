//! The HTTP listener: accepts connections within its admission limits, serves them with hyper
//! (over TLS when configured), and on shutdown stops accepting and drains in-flight requests
//! until a deadline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use anyhow::Context as _;

use super::activation;
use super::admission::{Admission, Pass};
use super::tls::Tls;
use crate::api::{self, State, Surface};
use crate::config;
use crate::console::{self, Console};

/// A client must finish its TLS handshake within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A request's headers must arrive within this, counted from the first byte of a request or
/// from the end of the previous one (so it also closes idle keep-alive connections).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// One listening socket and what it serves.
pub struct Endpoint {
    pub listener: TcpListener,
    pub surface: Surface,
    pub admission: Arc<Admission>,
}

/// The listeners: `listen` (the socket systemd passed, else bound here) first, then
/// `internal_listen` when set (always bound here). With both, `listen` serves webhooks and
/// health checks, `internal_listen` the rest; alone, `listen` serves everything.
pub async fn bind(server: &config::Server) -> anyhow::Result<Vec<Endpoint>> {
    let listen: SocketAddr = server.listen.parse().context("server.listen")?;
    let listening = activation::listen(listen).await?;
    if listening.activated {
        let local_addr = listening.listener.local_addr()?;
        tracing::info!(%local_addr, "using the socket systemd passed; server.listen is not bound");
    }
    let endpoint = |listener, surface| Endpoint {
        listener,
        surface,
        admission: Admission::new(server.max_connections, server.max_connections_per_ip),
    };
    let Some(internal) = &server.internal_listen else {
        return Ok(vec![endpoint(listening.listener, Surface::Shared)]);
    };
    let internal: SocketAddr = internal.parse().context("server.internal_listen")?;
    let inside = TcpListener::bind(internal)
        .await
        .with_context(|| format!("binding {internal} (server.internal_listen)"))?;
    Ok(vec![
        endpoint(listening.listener, Surface::Public),
        endpoint(inside, Surface::Internal),
    ])
}

/// Serves `endpoint` until `shutdown` is cancelled, then drains (at most `grace`).
pub async fn serve(
    endpoint: Endpoint,
    tls: Option<Tls>,
    state: Arc<State>,
    console: Arc<Console>,
    shutdown: CancellationToken,
    grace: Duration,
) {
    let Endpoint {
        listener,
        surface,
        admission,
    } = endpoint;
    let graceful = GracefulShutdown::new();
    loop {
        let slot = tokio::select! {
            slot = admission.slots.acquire() => slot,
            () = shutdown.cancelled() => break,
        };
        let result = tokio::select! {
            result = listener.accept() => result,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = match result {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        admission.note_accepted();
        let Some(pass) = admit(&admission, &state, peer, slot) else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (state, console, watcher) = (state.clone(), console.clone(), graceful.watcher());
        let acceptor = tls.as_ref().map(Tls::acceptor);
        tokio::spawn(async move {
            let app = App {
                state,
                console,
                surface,
                secure: acceptor.is_some(),
            };
            match acceptor {
                None => serve_connection(stream, app, watcher).await,
                Some(acceptor) => {
                    if let Some(stream) = handshake(acceptor, stream).await {
                        serve_connection(stream, app, watcher).await;
                    }
                }
            }
            drop(pass);
        });
    }
    tracing::info!("draining in-flight requests");
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    // While draining, new connections still get an answer (`/readyz` 503, everything else
    // 503 `draining`) so health checks and load balancers see the state.
    loop {
        tokio::select! {
            () = &mut drained => {
                tracing::info!("all connections drained");
                break;
            }
            () = &mut deadline => {
                tracing::warn!(grace_secs = grace.as_secs(), "drain deadline passed; closing remaining connections");
                break;
            }
            Ok((stream, peer)) = listener.accept() => {
                admission.note_accepted();
                // Still bounded: without a free slot the connection is closed unanswered.
                let Some(slot) = admission.slots.try_acquire() else {
                    continue;
                };
                let Some(pass) = admit(&admission, &state, peer, slot) else {
                    continue;
                };
                let acceptor = tls.as_ref().map(Tls::acceptor);
                let state = state.clone();
                tokio::spawn(async move {
                    serve_draining(stream, acceptor, surface, state).await;
                    drop(pass);
                });
            }
        }
    }
}

/// The connection's pass, or `None` (the connection is then dropped, so closed unanswered)
/// when its client address has all the connections it may have.
fn admit(
    admission: &Arc<Admission>,
    state: &State,
    peer: SocketAddr,
    slot: tokio::sync::OwnedSemaphorePermit,
) -> Option<Pass> {
    let pass = admission.admit(peer.ip(), slot);
    if pass.is_none() {
        state.metrics.connection_refused();
        tracing::debug!(%peer, "closed: this client address has max_connections_per_ip open");
    }
    pass
}

/// One connection accepted while draining: one answer, then close.
async fn serve_draining(
    stream: TcpStream,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    surface: Surface,
    state: Arc<State>,
) {
    match acceptor {
        None => answer_draining(stream, surface, state).await,
        Some(acceptor) => {
            if let Some(stream) = handshake(acceptor, stream).await {
                answer_draining(stream, surface, state).await;
            }
        }
    }
}

async fn answer_draining<S>(stream: S, surface: Surface, state: Arc<State>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let state = state.clone();
        async move {
            match request.uri().path() {
                "/healthz" | "/readyz" | "/metrics" => api::handle(state, surface, request).await,
                _ => Ok(api::ApiError::new(
                    http::StatusCode::SERVICE_UNAVAILABLE,
                    "draining",
                    "shutting down; retry shortly",
                )
                .into_response()),
            }
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(5))
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(error) = connection.await {
        tracing::debug!(%error, "connection ended with an error");
    }
}

async fn handshake(
    acceptor: tokio_rustls::TlsAcceptor,
    stream: TcpStream,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// What a connection's requests are answered by: the admin console's pages where the API is
/// served, else the API.
#[derive(Clone)]
struct App {
    state: Arc<State>,
    console: Arc<Console>,
    surface: Surface,
    /// The connection came over TLS (the console's cookies are then `Secure`).
    secure: bool,
}

impl App {
    async fn answer(
        self,
        request: http::Request<hyper::body::Incoming>,
    ) -> Result<api::Response, std::convert::Infallible> {
        if console::serves(request.uri().path()) && self.surface.serves(api::Exposure::Api) {
            return Ok(self.console.handle(self.secure, request).await);
        }
        api::handle(self.state, self.surface, request).await
    }
}

async fn serve_connection<S>(stream: S, app: App, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| app.clone().answer(request));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, "connection ended with an error");
    }
}
