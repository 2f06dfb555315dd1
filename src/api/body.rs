//! Reading request bodies within their limits: a size cap, one deadline for the whole body,
//! and a budget of memory shared by every body the process holds, so that neither a slow
//! client nor many of them decide how long a connection waits or how much memory is taken.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::webhook::Rejection;

/// Why a body was not read. The API answers it through `ApiError` (`From`), the webhook
/// endpoint as a `webhook::Rejection`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("request body exceeds {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the request body did not arrive within {secs} s (server.body_timeout_secs)")]
    Timeout { secs: u64 },
    #[error(
        "request bodies in memory are at their limit (server.max_body_memory_bytes); retry later"
    )]
    Memory,
    #[error("could not read the body: {0}")]
    Unreadable(String),
}

impl From<Error> for Rejection {
    fn from(error: Error) -> Self {
        match error {
            Error::TooLarge { limit } => Rejection::TooLarge { limit },
            Error::Timeout { secs } => Rejection::BodyTimeout { secs },
            Error::Memory => Rejection::BodyMemory,
            unreadable @ Error::Unreadable(_) => Rejection::Malformed(unreadable.to_string()),
        }
    }
}

/// The limits every body is read within (`[server]` keys).
pub struct Limits {
    /// `max_body_bytes`: API request bodies.
    pub api_max_bytes: usize,
    /// `webhook_max_body_bytes`.
    pub webhook_max_bytes: usize,
    /// `body_timeout_secs`: from the end of the headers to the end of the body.
    pub timeout: Duration,
    pub memory: Memory,
}

impl Limits {
    pub fn new(server: &crate::config::Server) -> Self {
        Limits {
            api_max_bytes: server.max_body_bytes,
            webhook_max_bytes: server.webhook_max_body_bytes,
            timeout: Duration::from_secs(server.body_timeout_secs),
            memory: Memory::new(server.max_body_memory_bytes),
        }
    }
}

/// Bytes of request bodies held in memory at once (`max_body_memory_bytes`): bodies being
/// read and those of requests being handled. A body takes from it as its buffer grows and
/// gives back when its request is answered; a body that finds it exhausted is refused (503)
/// rather than waiting, since waiting would let held bodies stall everyone else.
pub struct Memory {
    budget: Arc<Semaphore>,
    capacity: usize,
}

impl Memory {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.min(Semaphore::MAX_PERMITS);
        Memory {
            budget: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Bytes taken now.
    pub fn held_bytes(&self) -> usize {
        self.capacity
            .saturating_sub(self.budget.available_permits())
    }

    fn take(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let bytes = u32::try_from(bytes).ok()?;
        self.budget.clone().try_acquire_many_owned(bytes).ok()
    }
}

/// A body read in full, with the memory it holds: keep it until the request is answered.
pub struct Held {
    pub bytes: Bytes,
    _memory: Option<OwnedSemaphorePermit>,
}

impl Held {
    pub fn empty() -> Self {
        Held {
            bytes: Bytes::new(),
            _memory: None,
        }
    }
}

/// Reads a body of at most `max_bytes` that must arrive whole within `limits.timeout`.
pub async fn read<B>(body: B, max_bytes: usize, limits: &Limits) -> Result<Held, Error>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let too_large = || Error::TooLarge { limit: max_bytes };
    let hint = body.size_hint();
    if hint.lower() > max_bytes as u64 {
        return Err(too_large());
    }
    // A declared length bounds the buffer; without one, the limit does.
    let ceiling = hint
        .upper()
        .map_or(max_bytes, |upper| upper.min(max_bytes as u64) as usize);
    let deadline = tokio::time::Instant::now() + limits.timeout;
    let mut buffer = Buffer::new(&limits.memory, ceiling);
    tokio::pin!(body);
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                let secs = limits.timeout.as_secs();
                return Err(Error::Timeout { secs });
            }
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                let error: Box<dyn std::error::Error + Send + Sync> = error.into();
                return Err(Error::Unreadable(error.to_string()));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        // Trailers carry nothing the gateway reads.
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > max_bytes {
                return Err(too_large());
            }
            buffer.append(&data)?;
        }
    }
    Ok(buffer.finish())
}

/// A body's bytes so far; its capacity is always paid for from the memory budget.
struct Buffer<'a> {
    memory: &'a Memory,
    bytes: Vec<u8>,
    paid: Option<OwnedSemaphorePermit>,
    ceiling: usize,
}

impl<'a> Buffer<'a> {
    fn new(memory: &'a Memory, ceiling: usize) -> Self {
        Buffer {
            memory,
            bytes: Vec::new(),
            paid: None,
            ceiling,
        }
    }

    fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Appends, growing the buffer (doubling, up to the ceiling) with memory paid first.
    fn append(&mut self, data: &[u8]) -> Result<(), Error> {
        let needed = self.bytes.len() + data.len();
        let capacity = self
            .paid
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits);
        if needed > capacity {
            let target = needed.max((capacity * 2).min(self.ceiling));
            let more = self.memory.take(target - capacity).ok_or(Error::Memory)?;
            match &mut self.paid {
                Some(paid) => paid.merge(more),
                None => self.paid = Some(more),
            }
            self.bytes.reserve_exact(target - self.bytes.len());
        }
        self.bytes.extend_from_slice(data);
        Ok(())
    }

    fn finish(self) -> Held {
        Held {
            bytes: Bytes::from(self.bytes),
            _memory: self.paid,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::stream;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    use super::*;

    fn limits(memory: usize) -> Limits {
        Limits {
            api_max_bytes: 1 << 20,
            webhook_max_bytes: 1 << 20,
            timeout: Duration::from_secs(10),
            memory: Memory::new(memory),
        }
    }

    fn chunks(parts: &[&'static [u8]]) -> impl hyper::body::Body<Data = Bytes, Error = Infallible> {
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = parts
            .iter()
            .map(|part| Ok(Frame::data(Bytes::from_static(part))))
            .collect();
        StreamBody::new(stream::iter(frames))
    }

    #[tokio::test]
    async fn reads_whole_bodies_and_pays_for_what_it_holds() {
        let limits = limits(64);
        let held = read(chunks(&[b"abc", b"defgh", b"ij"]), 100, &limits)
            .await
            .unwrap();
        assert_eq!(&held.bytes[..], b"abcdefghij");
        // Capacity 3, then 8 (doubling to 6 is too little), then 16: capacity is paid for.
        assert_eq!(limits.memory.held_bytes(), 16);
        drop(held);
        assert_eq!(limits.memory.held_bytes(), 0);
        let empty = read(chunks(&[]), 100, &limits).await.unwrap();
        assert!(empty.bytes.is_empty());
    }

    #[tokio::test]
    async fn refuses_what_is_too_large_or_beyond_the_memory_budget() {
        let limits = limits(32);
        let too_large = read(chunks(&[b"abcdef", b"ghij"]), 8, &limits).await;
        assert_eq!(too_large.err(), Some(Error::TooLarge { limit: 8 }));
        assert_eq!(limits.memory.held_bytes(), 0, "a refused body gives back");
        let first = read(chunks(&[&[1; 20]]), 100, &limits).await.unwrap();
        let second = read(chunks(&[&[2; 20]]), 100, &limits).await;
        assert_eq!(second.err(), Some(Error::Memory));
        assert_eq!(limits.memory.held_bytes(), 20);
        drop(first);
        assert!(read(chunks(&[&[2; 20]]), 100, &limits).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_arrive_in_time_is_refused() {
        let limits = limits(1024);
        let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
        let frames = stream::unfold(receiver, |mut receiver| async move {
            let data = receiver.recv().await?;
            Some((Ok::<_, Infallible>(Frame::data(data)), receiver))
        });
        let body = StreamBody::new(frames);
        let reading = tokio::spawn(async move { read(body, 100, &limits).await.err() });
        // A byte every second keeps it going, but only until the deadline.
        for _ in 0..20 {
            if sender.send(Bytes::from_static(b"x")).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(reading.await.unwrap(), Some(Error::Timeout { secs: 10 }));
    }
}
