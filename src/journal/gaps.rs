//! Gaps: stretches of the journal the inbox never got. The journal keeps files for three
//! days; a cursor older than that, or one whose `next` HubSpot answers 404, has lost what came
//! after it, and so has a file that stays damaged. A gap is counted and logged once, recorded
//! with the reconciliation it needs (the subscribed types, reading again every record
//! HubSpot modified since the last event known) before the cursor moves on, and reconciled
//! here, retried until it succeeds, also across restarts.
//!
//! A 404 is not a gap when this process itself found the journal caught up at that cursor
//! less than the retention ago: the cursor's file then expired while the portal was quiet,
//! every newer file is still kept, and reading from the earliest loses nothing. After a
//! restart nobody can vouch for the time the gateway was down, so a 404 is a gap.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Journal, Position, Reconcile};
use crate::object::ObjectType;
use crate::sync::{Syncer, TypeState};
use crate::time::now_ms;

const DAY_MS: i64 = 86_400_000;
/// How long HubSpot keeps journal files.
pub const RETENTION_MS: i64 = 3 * DAY_MS;
/// Past this age the cursor is reported (log and status): a day more and it is a gap.
pub const WARN_AGE_MS: i64 = 2 * DAY_MS;
/// A cursor this close to the retention counts as lost already (clocks differ, reads take
/// time).
const RETENTION_MARGIN_MS: i64 = 10 * 60_000;
/// A gap's reconciliation reads what HubSpot modified from this long before the last event
/// known (clocks differ; HubSpot's modified time and the event's may too).
pub const LOOKBACK_MS: i64 = 5 * 60_000;

/// Why a stretch of the journal was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// HubSpot answered 404 for `next` after the cursor: its file expired.
    Expired,
    /// The cursor is older than the journal keeps.
    TooOld,
    /// A file stayed damaged after every retry and was skipped.
    DamagedFile,
    /// The subscriptions were created again after a time without (a disconnect).
    Resubscribed,
    /// The journal was turned on for a mirror that was already filled.
    SubscribedLate,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Expired => "cursor_expired",
            Reason::TooOld => "cursor_too_old",
            Reason::DamagedFile => "damaged_file",
            Reason::Resubscribed => "resubscribed",
            Reason::SubscribedLate => "subscribed_after_backfill",
        }
    }
}

/// How old the cursor is: now less the time until which the inbox holds every event.
pub fn age_ms(position: &Position, now_ms: i64) -> Option<i64> {
    position.covered_until_ms().map(|at| (now_ms - at).max(0))
}

/// Whether the cursor is older than the journal keeps: a gap, without asking HubSpot.
pub fn too_old(position: &Position, now_ms: i64) -> bool {
    position.offset.is_some()
        && age_ms(position, now_ms).is_some_and(|age| age > RETENTION_MS - RETENTION_MARGIN_MS)
}

/// After a 404 for `next`: `true` when nothing can have been lost, because this process found
/// the journal caught up at this cursor at `confirmed_ms`, less than the retention ago.
pub fn expired_while_quiet(confirmed_ms: Option<i64>, now_ms: i64) -> bool {
    confirmed_ms.is_some_and(|at| now_ms - at < RETENTION_MS - RETENTION_MARGIN_MS)
}

/// The types a gap in the journal of a mirror of `kinds` must reconcile, and from when.
pub fn reconcile_for(kinds: &[ObjectType], last_known_ms: Option<i64>, now_ms: i64) -> Reconcile {
    Reconcile {
        types: kinds.to_vec(),
        since_ms: last_known_ms.unwrap_or(now_ms) - LOOKBACK_MS,
    }
}

impl Journal {
    /// Counts, records and logs a gap in `portal`'s journal, with the reconciliation it needs,
    /// durably (before the cursor moves past it), and wakes the reconciliation.
    pub fn note_gap(
        &self,
        portal: i64,
        reason: Reason,
        needs: Reconcile,
    ) -> crate::store::Result<()> {
        let now = now_ms();
        let record = self.update_record(portal, |record| {
            record.gaps += 1;
            record.last_gap_at_ms = Some(now);
            record.last_gap = Some(reason.as_str().to_owned());
            record.reconcile = Some(match record.reconcile.take() {
                Some(mut pending) => {
                    for kind in needs.types.iter() {
                        if !pending.types.contains(kind) {
                            pending.types.push(*kind);
                        }
                    }
                    pending.since_ms = pending.since_ms.min(needs.since_ms);
                    pending
                }
                None => needs.clone(),
            });
        })?;
        self.store.commit()?;
        self.monitor(portal).gap();
        let types: Vec<&str> = needs.types.iter().map(|kind| kind.name()).collect();
        tracing::warn!(
            portal,
            reason = reason.as_str(),
            gaps = record.gaps,
            reconcile = ?types,
            since = %crate::time::iso(needs.since_ms),
            "a gap in the Webhooks Journal: events were lost; the types are reconciled and \
             the journal is read on from its newest entry"
        );
        self.reconcile_wake(portal).notify_one();
        Ok(())
    }
}

/// Reconciles what the gaps of `syncer`'s portal need, until `stop`: each type once its
/// backfill is done (a backfill still running reads everything anyway), retried on errors.
pub async fn reconcile(journal: &Journal, syncer: &Syncer, stop: &CancellationToken) {
    let portal = syncer.portal;
    let mut failures = 0u32;
    loop {
        let pending = match journal.record(portal) {
            Ok(record) => record.reconcile,
            Err(error) => {
                tracing::warn!(%error, "cannot read the journal's pending reconciliation");
                None
            }
        };
        let mut wait = None;
        if let Some(pending) = pending {
            wait = match reconcile_pending(journal, syncer, &pending).await {
                Ok(true) => {
                    failures = 0;
                    None
                }
                // A backfill still runs: look again in a while.
                Ok(false) => Some(Duration::from_secs(10)),
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "reconciling a journal gap failed; retrying");
                    Some(Duration::from_millis(
                        (500u64 << failures.min(6)).min(60_000),
                    ))
                }
            };
        }
        let wake = journal.reconcile_wake(portal);
        let woken = wake.notified();
        tokio::select! {
            () = woken, if wait.is_none() => {}
            () = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Reconciles the pending types one by one, dropping each from the record once done;
/// `false` when some wait for their backfill.
async fn reconcile_pending(
    journal: &Journal,
    syncer: &Syncer,
    pending: &Reconcile,
) -> Result<bool, crate::sync::Error> {
    let mut all = true;
    for kind in pending
        .types
        .iter()
        .filter(|kind| syncer.objects.contains(kind))
    {
        let state = TypeState::load(syncer.store(), syncer.portal, *kind)?;
        if state.backfill_done_at_ms.is_none() || state.backfill_started_at_ms.is_some() {
            all = false;
            continue;
        }
        let repaired = syncer
            .reconcile_since(*kind, Some(pending.since_ms))
            .await?;
        tracing::info!(%kind, repaired, "journal gap reconciled");
        journal.update_record(syncer.portal, |record| {
            if let Some(left) = record.reconcile.as_mut() {
                left.types.retain(|left| left != kind);
            }
        })?;
    }
    if all {
        journal.update_record(syncer.portal, |record| {
            // A gap noted meanwhile added types (or moved `since`): keep those.
            if record
                .reconcile
                .as_ref()
                .is_some_and(|left| left.types.is_empty())
            {
                record.reconcile = None;
            }
        })?;
        journal.store.commit()?;
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(published: i64, caught_up: Option<i64>) -> Position {
        Position {
            offset: Some("o".into()),
            published_at_ms: Some(published),
            caught_up_at_ms: caught_up,
            ..Position::default()
        }
    }

    #[test]
    fn a_cursor_older_than_the_journal_keeps_is_a_gap() {
        let now = 10 * DAY_MS;
        assert!(!too_old(&at(now - DAY_MS, None), now));
        assert!(too_old(&at(now - 3 * DAY_MS, None), now));
        assert!(
            too_old(&at(now - 3 * DAY_MS + 5 * 60_000, None), now),
            "within the margin"
        );
        assert!(
            !too_old(&at(now - 5 * DAY_MS, Some(now - 60_000)), now),
            "caught up a minute ago: a quiet portal, not an old cursor"
        );
        assert!(!too_old(&Position::default(), now), "nothing read yet");
        assert_eq!(age_ms(&at(now - 2 * DAY_MS, None), now), Some(2 * DAY_MS));
    }

    #[test]
    fn a_404_is_a_gap_unless_this_process_saw_the_journal_caught_up() {
        let now = 10 * DAY_MS;
        assert!(expired_while_quiet(Some(now - DAY_MS), now));
        assert!(!expired_while_quiet(Some(now - 3 * DAY_MS), now));
        assert!(!expired_while_quiet(None, now), "after a restart");
        let needs = reconcile_for(&[ObjectType::Contacts], Some(now), now);
        assert_eq!(needs.since_ms, now - LOOKBACK_MS);
    }
}
