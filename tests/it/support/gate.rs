//! A TCP proxy in front of the simulator that can hold a request: the first one whose bytes
//! contain a needle is never forwarded, so a test can kill the daemon while it waits for the
//! answer (a crash at that exact step).

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Default)]
struct Shared {
    needle: Mutex<Option<Vec<u8>>>,
    held: Notify,
}

pub struct Gate {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Gate {
    pub async fn start(upstream: SocketAddr) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(upstream).await else {
                    continue;
                };
                tokio::spawn(proxy(client, server, accepting.clone()));
            }
        });
        Gate { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Holds the next request containing `needle`.
    pub fn hold(&self, needle: &str) {
        *self.shared.needle.lock() = Some(needle.as_bytes().to_vec());
    }

    /// Returns once a request was held (the needle is then cleared).
    pub async fn held(&self) {
        let notified = self.shared.held.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.shared.needle.lock().is_none() {
            return;
        }
        notified.await;
    }
}

async fn proxy(mut client: TcpStream, server: TcpStream, shared: Arc<Shared>) {
    let (mut from_server, mut to_server) = server.into_split();
    let (mut from_client, mut to_client) = client.split();
    let upstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match from_client.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            let chunk = &buffer[..read];
            let hit = {
                let mut needle = shared.needle.lock();
                let hit = needle
                    .as_ref()
                    .is_some_and(|n| chunk.windows(n.len()).any(|w| w == n.as_slice()));
                if hit {
                    *needle = None;
                }
                hit
            };
            if hit {
                shared.held.notify_waiters();
                // Never forwarded: the caller waits until it is killed.
                std::future::pending::<()>().await;
            }
            if to_server.write_all(chunk).await.is_err() {
                return;
            }
        }
    };
    let downstream = async {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match from_server.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => {
                    if to_client.write_all(&buffer[..read]).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}
