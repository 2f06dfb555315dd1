//! Connect flows waiting for their callback: each `state` is kept as a hash in the store for
//! 10 minutes (so a restart does not break a flow in progress, and the store holds nothing
//! that could answer a callback), and redeemed once.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::record::random_id;
use super::{Refusal, Who};
use crate::store::Store;
use crate::time::now_ms;

/// How long an authorize link (its `state`) stays valid.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;
/// Flows waiting for their callback at once; more are refused until some finish or expire.
const MAX_PENDING: usize = 1_000;
const PENDING_PREFIX: &str = "pending/";

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Pending {
    /// `None`: the service connection.
    pub user: Option<String>,
    pub started_by: String,
    pub expires_at_ms: i64,
}

/// The store name of a state: its hash, so the store cannot answer a callback.
fn pending_name(state: &str) -> String {
    format!(
        "{PENDING_PREFIX}{}",
        hex::encode(Sha256::digest(state.as_bytes()))
    )
}

/// A new pending flow; returns its state. Expired flows are dropped first.
pub(super) fn begin(store: &Store, who: &Who, started_by: &str) -> Result<String, Refusal> {
    let now = now_ms();
    let mut waiting = 0;
    for (name, bytes) in store.connections().list(PENDING_PREFIX)? {
        let expired = serde_json::from_slice::<Pending>(&bytes)
            .map_or(true, |pending| pending.expires_at_ms <= now);
        if expired {
            store.connections().take(&name)?;
        } else {
            waiting += 1;
        }
    }
    if waiting >= MAX_PENDING {
        return Err(Refusal::TooManyFlows);
    }
    let state = random_id();
    let pending = Pending {
        user: match who {
            Who::Service => None,
            Who::User(email) => Some(email.clone()),
        },
        started_by: started_by.to_owned(),
        expires_at_ms: now + STATE_TTL_MS,
    };
    // Invariant: plain fields serialise.
    let bytes = serde_json::to_vec(&pending).expect("Pending serialises");
    store.connections().put(&pending_name(&state), &bytes)?;
    store.commit()?;
    Ok(state)
}

/// Takes the flow `state` names: once, and only before it expires.
pub(super) fn redeem(store: &Store, state: &str) -> Result<Pending, Refusal> {
    let taken = store.connections().take(&pending_name(state))?;
    store.commit()?;
    let pending: Pending = taken
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(Refusal::UnknownState)?;
    if pending.expires_at_ms <= now_ms() {
        return Err(Refusal::ExpiredState);
    }
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_redeemed_once_before_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let user = Who::User("ann@example.org".into());
        let state = begin(&store, &user, "ops").unwrap();
        let listed = store.connections().list(PENDING_PREFIX).unwrap();
        assert!(
            !listed[0].0.contains(&state),
            "only a hash of the state is stored"
        );
        let pending = redeem(&store, &state).unwrap();
        assert_eq!(
            (pending.user.as_deref(), pending.started_by.as_str()),
            (Some("ann@example.org"), "ops")
        );
        assert!(matches!(redeem(&store, &state), Err(Refusal::UnknownState)));
        assert!(matches!(
            redeem(&store, "forged"),
            Err(Refusal::UnknownState)
        ));

        let state = begin(&store, &Who::Service, "ops").unwrap();
        let name = pending_name(&state);
        let expired = Pending {
            user: None,
            started_by: "ops".into(),
            expires_at_ms: now_ms() - 1,
        };
        let bytes = serde_json::to_vec(&expired).unwrap();
        store.connections().put(&name, &bytes).unwrap();
        assert!(matches!(redeem(&store, &state), Err(Refusal::ExpiredState)));
        // Expired flows are dropped when the next one starts.
        store.connections().put(&name, &bytes).unwrap();
        begin(&store, &Who::Service, "ops").unwrap();
        assert!(store.connections().get(&name).unwrap().is_none());
    }
}
