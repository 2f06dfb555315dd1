//! The e-mail digest for people (`[notify.email]`): on its schedule, for each portal the
//! deployment mirrors, per object type the records newly matched since the last digest, the
//! match rate and its change, and the owners whose records changed hands; plain text and a
//! simple HTML part, sent over SMTP (`lettre`).
//!
//! Owner changes reach it through the outbox like any target's notifications (the queue
//! [`DIGEST_QUEUE`](super::DIGEST_QUEUE), queued in the change's transaction); they leave it
//! only once a digest counting them was accepted by the SMTP server. First matches and match
//! rates are read from the store when the digest is composed.

mod compose;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub use compose::{compose, Digest, Email, OwnerMoves, PortalDigest, TypeDigest};

use super::wire::owner_change;
use super::DIGEST_QUEUE;
use crate::config::Loaded;
use crate::object::ObjectType;
use crate::secret::Secret;
use crate::store::{Settled, Store};
use crate::time::{now_ms, Recurrence};

/// Where the digest's progress is kept (`Store::meta`).
const STATE: &str = "notify.digest";
/// Newly matched records named per type.
const EXAMPLES: usize = 10;
/// Owners listed at most.
const OWNERS: usize = 50;

/// What the last digest left for the next one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Progress {
    /// The next digest covers from here.
    period_start_ms: i64,
    /// Match rate per type at the last digest.
    rates: BTreeMap<String, f64>,
    last_sent_at_ms: Option<i64>,
}

/// How the digest is doing, for `GET /v1/notifications`.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub schedule: String,
    pub to: Vec<String>,
    pub last_sent_at_ms: Option<i64>,
    pub next_at_ms: i64,
    pub last_error: Option<String>,
}

/// What one digest said.
#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub from_ms: i64,
    pub to_ms: i64,
    pub newly_matched: u64,
    pub changed_hands: u64,
}

pub struct Mailer {
    settings: crate::config::Email,
    schedule: Recurrence,
    credentials: Option<(Secret<String>, Secret<String>)>,
    store: Store,
    objects: Vec<ObjectType>,
    /// One digest at a time (the schedule, or `POST /v1/notifications/digest`).
    sending: tokio::sync::Mutex<()>,
    last_error: parking_lot::Mutex<Option<String>>,
}

impl Mailer {
    /// The mailer `[notify.email]` configures, if any.
    pub fn from_config(loaded: &Loaded, store: Store, objects: Vec<ObjectType>) -> Option<Mailer> {
        let settings = loaded.config.notify.email.clone()?;
        // Invariant: validation refused a schedule that does not parse.
        let schedule = Recurrence::parse(&settings.schedule)?;
        Some(Mailer {
            settings,
            schedule,
            credentials: loaded.secrets.smtp_credentials.clone(),
            store,
            objects,
            sending: tokio::sync::Mutex::new(()),
            last_error: parking_lot::Mutex::new(None),
        })
    }

    fn progress(&self) -> Progress {
        let stored = self.store.meta(STATE).ok().flatten();
        match stored.and_then(|bytes| serde_json::from_slice(&bytes).ok()) {
            Some(progress) => progress,
            None => {
                // The first digest covers from the first start with e-mail configured.
                let progress = Progress {
                    period_start_ms: now_ms(),
                    ..Progress::default()
                };
                self.save(&progress);
                progress
            }
        }
    }

    fn save(&self, progress: &Progress) {
        // Invariant: a struct of plain fields serialises.
        let bytes = serde_json::to_vec(progress).expect("progress serialises");
        if let Err(error) = self.store.set_meta(STATE, &bytes) {
            tracing::warn!(%error, "cannot record the digest's progress");
        }
    }

    pub fn status(&self) -> Status {
        let progress = self.progress();
        Status {
            schedule: self.settings.schedule.clone(),
            to: self.settings.to.clone(),
            last_sent_at_ms: progress.last_sent_at_ms,
            next_at_ms: self.schedule.next_after(progress.period_start_ms),
            last_error: self.last_error.lock().clone(),
        }
    }

    /// Composes and sends the digest of the period since the last one, now.
    pub async fn send_now(&self) -> Result<Sent, String> {
        let _sending = self.sending.lock().await;
        let outcome = self.send_locked().await;
        *self.last_error.lock() = outcome.as_ref().err().cloned();
        outcome
    }

    async fn send_locked(&self) -> Result<Sent, String> {
        let progress = self.progress();
        let portals =
            crate::connection::portal::mirrored(&self.store).map_err(|error| error.to_string())?;
        if portals.is_empty() {
            return Err("not connected to a HubSpot portal yet".into());
        }
        let to_ms = now_ms();
        let (store, objects) = (self.store.clone(), self.objects.clone());
        let rates = progress.rates.clone();
        let from_ms = progress.period_start_ms;
        let (digest, consumed) = tokio::task::spawn_blocking(move || {
            gather(&store, &portals, &objects, &rates, from_ms, to_ms)
        })
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;
        let email = compose(&digest);
        self.deliver(&email).await?;
        let settled: Vec<Settled> = consumed
            .into_iter()
            .map(|seq| Settled::Delivered { seq, at_ms: to_ms })
            .collect();
        let store = self.store.clone();
        let marked =
            tokio::task::spawn_blocking(move || store.outbox().settle(DIGEST_QUEUE, &settled))
                .await
                .map_err(|error| error.to_string())
                .and_then(|settled| settled.map_err(|error| error.to_string()));
        if let Err(error) = marked {
            tracing::warn!(%error, "the digest was e-mailed but its changes could not be marked sent; the next digest may list them again");
        }
        let rates = digest.portals.iter().flat_map(|portal| {
            let rate = |t: &TypeDigest| (rate_key(portal.portal_id, &t.name), t.rate());
            portal.types.iter().map(rate)
        });
        self.save(&Progress {
            period_start_ms: to_ms,
            rates: rates.collect(),
            last_sent_at_ms: Some(to_ms),
        });
        tracing::info!(to = ?self.settings.to, "digest e-mailed");
        Ok(Sent {
            from_ms,
            to_ms,
            newly_matched: digest.newly_matched(),
            changed_hands: digest.changed_hands(),
        })
    }

    async fn deliver(&self, email: &Email) -> Result<(), String> {
        use lettre::message::{Mailbox, MultiPart};
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
        let mut transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.settings.smtp_url)
            .map_err(|error| format!("notify.email.smtp_url: {error}"))?
            .timeout(Some(Duration::from_secs(30)));
        if let Some((username, password)) = &self.credentials {
            transport = transport.credentials(Credentials::new(
                username.expose().clone(),
                password.expose().clone(),
            ));
        }
        let mailbox = |text: &str| {
            text.parse::<Mailbox>()
                .map_err(|error| format!("{text:?}: {error}"))
        };
        let mut message = Message::builder()
            .from(mailbox(&self.settings.from)?)
            .subject(&email.subject);
        for to in &self.settings.to {
            message = message.to(mailbox(to)?);
        }
        let message = message
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|error| error.to_string())?;
        transport
            .build()
            .send(message)
            .await
            .map_err(|error| format!("the SMTP server refused the digest: {error}"))?;
        Ok(())
    }

    /// Sends the digest on its schedule until `shutdown`; a failed one is tried again after
    /// growing pauses (1 minute to 1 hour).
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut failures = 0u32;
        let mut retry_at = 0;
        loop {
            let due = self.schedule.next_after(self.progress().period_start_ms);
            let now = now_ms();
            if now >= due.max(retry_at) {
                match self.send_now().await {
                    Ok(_) => failures = 0,
                    Err(error) => {
                        failures += 1;
                        let pause_ms = (60_000i64 << failures.min(6)).min(3_600_000);
                        retry_at = now_ms() + pause_ms;
                        tracing::warn!(%error, retry_in_secs = pause_ms / 1000, "the digest could not be sent");
                    }
                }
                continue;
            }
            // Woken at least every minute: a digest sent through the API moves the schedule.
            let wait = (due.max(retry_at) - now).clamp(0, 60_000) as u64;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(wait)) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}

/// Where a portal's match rate of a type is kept in [`Progress::rates`].
fn rate_key(portal: i64, kind: &str) -> String {
    format!("{portal}/{kind}")
}

/// Reads what the digest of `[from_ms, to_ms)` reports for each of `portals` (the first
/// first), and the owner-change rows it counts.
fn gather(
    store: &Store,
    portals: &[i64],
    objects: &[ObjectType],
    rates: &BTreeMap<String, f64>,
    from_ms: i64,
    to_ms: i64,
) -> crate::store::Result<(Digest, Vec<u64>)> {
    // Each owner change of the period, by portal (a body without one: the first portal's).
    let mut moves: HashMap<i64, HashMap<Moved, u64>> = HashMap::new();
    let mut consumed = Vec::new();
    let mut after = 0;
    loop {
        let page = store.outbox().waiting(DIGEST_QUEUE, after, 10_000)?;
        let Some((last, _)) = page.last() else {
            break;
        };
        after = *last;
        for (seq, row) in page.iter().filter(|(_, row)| row.queued_at_ms < to_ms) {
            if let Some(change) = owner_change(&row.body) {
                let portal = change.portal_id.unwrap_or(portals[0]);
                let of_portal = moves.entry(portal).or_default();
                *of_portal.entry((change.before, change.after)).or_default() += 1;
            }
            consumed.push(*seq);
        }
    }
    let mut sections = Vec::new();
    for (index, portal) in portals.iter().enumerate() {
        // Rates kept before they were kept per portal are the first portal's.
        let previous = |kind: &str| {
            let legacy = (index == 0).then(|| rates.get(kind)).flatten();
            rates.get(&rate_key(*portal, kind)).or(legacy).copied()
        };
        let moved = moves.remove(portal).unwrap_or_default();
        sections.push(PortalDigest {
            portal_id: *portal,
            types: types(store, *portal, objects, &previous, from_ms, to_ms)?,
            owners: owners(store, *portal, &moved),
        });
    }
    let digest = Digest {
        from_ms,
        to_ms,
        portals: sections,
    };
    Ok((digest, consumed))
}

/// An owner change: the owner before and after.
type Moved = (Option<String>, Option<String>);

/// Per type of `portal`: the records newly matched in the period (a few by name), the match
/// rate and the one at the last digest.
fn types(
    store: &Store,
    portal: i64,
    objects: &[ObjectType],
    previous: &dyn Fn(&str) -> Option<f64>,
    from_ms: i64,
    to_ms: i64,
) -> crate::store::Result<Vec<TypeDigest>> {
    let mut types = Vec::new();
    for kind in objects {
        let ownership = store.ownership();
        let newly = ownership.matched_between(portal, *kind, from_ms, to_ms)?;
        let mut examples = Vec::new();
        for (id, _) in &newly {
            if examples.len() == EXAMPLES {
                break;
            }
            if let Some(brief) = store.mirror().brief(portal, *kind, *id)? {
                if !brief.name.is_empty() {
                    examples.push(brief.name);
                }
            }
        }
        types.push(TypeDigest {
            name: kind.name().to_owned(),
            newly_matched: newly.len() as u64,
            examples,
            matched: ownership.matched_count(portal, *kind)?,
            count: store.mirror().count(portal, *kind)?,
            previous_rate: previous(kind.name()),
        });
    }
    Ok(types)
}

/// `portal`'s owners whose records changed hands, most moved first, named in that portal.
fn owners(store: &Store, portal: i64, moves: &HashMap<Moved, u64>) -> Vec<OwnerMoves> {
    let name = |owner: &Option<String>| owner_name(store, portal, owner.as_deref());
    let mut owners: HashMap<Option<String>, OwnerMoves> = HashMap::new();
    for ((before, after), count) in moves {
        let lost = owners.entry(before.clone()).or_insert_with(|| OwnerMoves {
            owner: name(before),
            ..OwnerMoves::default()
        });
        lost.lost += count;
        lost.to.push((name(after), *count));
        let gained = owners.entry(after.clone()).or_insert_with(|| OwnerMoves {
            owner: name(after),
            ..OwnerMoves::default()
        });
        gained.gained += count;
    }
    let mut owners: Vec<OwnerMoves> = owners.into_values().collect();
    for owner in &mut owners {
        owner
            .to
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    }
    owners.sort_by(|a, b| {
        (b.lost + b.gained)
            .cmp(&(a.lost + a.gained))
            .then_with(|| a.owner.cmp(&b.owner))
    });
    owners.truncate(OWNERS);
    owners
}

/// "First Last (id)", else the owner's email, else the bare id; "unowned" for none.
fn owner_name(store: &Store, portal: i64, owner: Option<&str>) -> String {
    let Some(id) = owner else {
        return "unowned".into();
    };
    let known = id
        .parse()
        .ok()
        // A name for a mail: unreadable, the owner is shown by id.
        .and_then(|id| store.reference().shared_owner(portal, id).ok().flatten());
    match known {
        Some(owner) => {
            let full = format!("{} {}", owner.first_name, owner.last_name);
            let full = full.trim();
            let name = if full.is_empty() { &owner.email } else { full };
            format!("{name} ({id})")
        }
        None => format!("owner {id}"),
    }
}
