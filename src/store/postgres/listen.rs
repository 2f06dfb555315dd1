//! What other replicas announce through PostgreSQL's `LISTEN`/`NOTIFY`: a new export job,
//! stored at any replica, reaches the leader's worker at once instead of at its next look.
//! A notification is delivered on the commit of the transaction that sent it, so a job is
//! announced only once it can be read.

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::{Database, Result, Transport};

/// The channel a new export job is announced on, its portal id as the payload.
pub const NEW_JOBS: &str = "gateway_export_jobs";

/// How long a listener waits before connecting again after its session failed.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// What a listener hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// A new export job of this portal was stored.
    NewJob(i64),
    /// A session (re)started listening: jobs announced meanwhile were not heard, so look.
    MaybeMissed,
}

impl Database {
    /// Listens for new export jobs for as long as the receiver is kept, on a connection of
    /// its own, connecting again whenever the session fails.
    pub fn new_jobs(&self) -> mpsc::Receiver<Heard> {
        let (sender, receiver) = mpsc::channel(64);
        let database = self.clone();
        tokio::spawn(async move {
            while !sender.is_closed() {
                if let Err(error) = database.listen(&sender).await {
                    tracing::warn!(%error, "listening for new export jobs failed; connecting again");
                }
                tokio::select! {
                    () = tokio::time::sleep(RECONNECT_PAUSE) => {}
                    () = sender.closed() => {}
                }
            }
        });
        receiver
    }

    /// One session: `LISTEN`, then relays what it hears until the session ends (an error)
    /// or nobody listens any more (`Ok`).
    async fn listen(&self, sender: &mpsc::Sender<Heard>) -> Result<()> {
        match &self.transport {
            Transport::Plain => {
                let (client, connection) = self.config.connect(NoTls).await?;
                relay(client, connection, sender).await
            }
            Transport::Tls(tls) => {
                let (client, connection) = self.config.connect(tls.clone()).await?;
                relay(client, connection, sender).await
            }
        }
    }
}

/// Drives `connection` (notifications arrive as its messages), issues the `LISTEN` on
/// `client`, and passes on what is heard.
async fn relay<S, T>(
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<S, T>,
    sender: &mpsc::Sender<Heard>,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {NEW_JOBS}");
    let listen = client.batch_execute(&statement);
    tokio::pin!(listen);
    let mut listening = false;
    loop {
        tokio::select! {
            listened = &mut listen, if !listening => {
                listened?;
                listening = true;
                if sender.send(Heard::MaybeMissed).await.is_err() {
                    return Ok(());
                }
            }
            message = messages.next() => match message {
                Some(Ok(AsyncMessage::Notification(notification))) => {
                    let Ok(portal) = notification.payload().parse::<i64>() else {
                        continue;
                    };
                    if sender.send(Heard::NewJob(portal)).await.is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
                None => {
                    return Err(super::Error::Unavailable(
                        "the listening session was closed".into(),
                    ))
                }
            },
            () = sender.closed() => return Ok(()),
        }
    }
}
