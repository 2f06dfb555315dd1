//! bench-sink: the benchmark's transport ceiling. A bare hyper 1 HTTP/1.1 server (same runtime
//! and connection settings as the gateway's listener) that reads each request body to the end
//! and answers 204 without verifying, parsing or storing anything.
//!
//! Usage: `bench-sink [ADDR]` (default `127.0.0.1:0`); prints `listening on ADDR` once bound
//! and serves until killed.

use std::convert::Infallible;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

async fn answer(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Empty<Bytes>>, Infallible> {
    // Read the whole body like the gateway must before it can verify a signature.
    let status = match request.into_body().collect().await {
        Ok(_) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::BAD_REQUEST,
    };
    let mut response = Response::new(Empty::new());
    *response.status_mut() = status;
    Ok(response)
}

async fn serve(addr: String) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .serve_connection(TokioIo::new(stream), service_fn(answer));
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bench-sink: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench-sink: {error:#}");
            ExitCode::from(1)
        }
    }
}
