//! The HTTP listener: accepts connections up to a bound, serves them with hyper (over TLS when
//! configured), and on shutdown stops accepting and drains in-flight requests until a deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::tls::Tls;
use crate::api::{self, State};

/// A client must finish its TLS handshake within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Limits {
    /// One permit per open connection (`server.max_connections`).
    pub slots: Arc<Semaphore>,
    pub grace: Duration,
}

/// Serves until `shutdown` is cancelled, then drains (at most `limits.grace`). `accepted`
/// counts accepted connections: the watchdog's evidence that this loop is alive.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Tls>,
    state: Arc<State>,
    shutdown: CancellationToken,
    limits: Limits,
    accepted: Arc<AtomicU64>,
) {
    let graceful = GracefulShutdown::new();
    let slots = limits.slots;
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit,
            () = shutdown.cancelled() => break,
        };
        // Invariant: the semaphore is never closed.
        let permit = permit.expect("connection semaphore open");
        let result = tokio::select! {
            result = listener.accept() => result,
            () = shutdown.cancelled() => break,
        };
        let stream = match result {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        accepted.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let (state, watcher) = (state.clone(), graceful.watcher());
        let acceptor = tls.as_ref().map(Tls::acceptor);
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(stream, state, watcher).await,
                Some(acceptor) => {
                    if let Some(stream) = handshake(acceptor, stream).await {
                        serve_connection(stream, state, watcher).await;
                    }
                }
            }
            drop(permit);
        });
    }
    tracing::info!("draining in-flight requests");
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    let deadline = tokio::time::sleep(limits.grace);
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
                tracing::warn!(grace_secs = limits.grace.as_secs(), "drain deadline passed; closing remaining connections");
                break;
            }
            Ok((stream, _)) = listener.accept() => {
                accepted.fetch_add(1, Ordering::Relaxed);
                // Still bounded: without a free slot the connection is closed unanswered.
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    continue;
                };
                let acceptor = tls.as_ref().map(Tls::acceptor);
                let state = state.clone();
                tokio::spawn(async move {
                    serve_draining(stream, acceptor, state).await;
                    drop(permit);
                });
            }
        }
    }
}

/// One connection accepted while draining: one answer, then close.
async fn serve_draining(
    stream: TcpStream,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
) {
    match acceptor {
        None => answer_draining(stream, state).await,
        Some(acceptor) => {
            if let Some(stream) = handshake(acceptor, stream).await {
                answer_draining(stream, state).await;
            }
        }
    }
}

async fn answer_draining<S>(stream: S, state: Arc<State>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let state = state.clone();
        async move {
            match request.uri().path() {
                "/healthz" | "/readyz" | "/metrics" => api::handle(state, request).await,
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

async fn serve_connection<S>(stream: S, state: Arc<State>, watcher: Watcher)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| api::handle(state.clone(), request));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(TokioIo::new(stream), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, "connection ended with an error");
    }
}
