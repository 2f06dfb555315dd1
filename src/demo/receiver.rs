//! The demo's notification target: a local HTTP server that checks each notification's
//! Standard Webhooks signature and prints the verified ones.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use crate::notify::signature;

/// Listens on 127.0.0.1; returns its URL. Notifications signed with `key` are printed.
pub async fn start(key: Vec<u8>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/notifications", listener.local_addr()?);
    let key: &'static [u8] = Vec::leak(key);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(move |request| receive(key, request));
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(url)
}

async fn receive(
    key: &'static [u8],
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Empty<Bytes>>, Infallible> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (id, timestamp, signatures) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(answer(400)),
    };
    let now = crate::time::now_ms() / 1000;
    let checked = signature::verify(
        key,
        id.as_deref(),
        timestamp.as_deref(),
        signatures.as_deref(),
        &body,
        now,
        300,
    );
    match checked {
        Ok(()) => {
            println!(
                "notification received, signature verified ({}): {}",
                id.unwrap_or_default(),
                String::from_utf8_lossy(&body)
            );
            Ok(answer(204))
        }
        Err(refusal) => {
            println!("notification refused: {refusal}");
            Ok(answer(401))
        }
    }
}

fn answer(status: u16) -> hyper::Response<Empty<Bytes>> {
    let mut response = hyper::Response::new(Empty::new());
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}
