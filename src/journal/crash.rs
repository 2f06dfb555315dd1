//! The journal reader's crash points (see `crate::crash`): `HUBSPOT_GATEWAY_JOURNAL_CRASH=STEP[:N]`
//! stops the real binary between the steps of a journal read, as `kill -9` would.

use crate::crash::Hook;

/// The environment variable naming the crash point.
pub const VARIABLE: &str = "HUBSPOT_GATEWAY_JOURNAL_CRASH";

/// The steps of reading entries into the inbox, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Files are downloaded and converted; nothing of them is stored.
    Downloaded,
    /// Their events and the cursor's move are durable; the consumer has not moved on.
    Committed,
    /// A gap and the reconciliation it needs are durable; the cursor has not moved past it.
    GapNoted,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Downloaded => "downloaded",
            Step::Committed => "committed",
            Step::GapNoted => "gap_noted",
        }
    }
}

static HOOK: Hook = Hook::new(VARIABLE);

/// Kills the process (see [`Hook`]) when `step` is the armed one and this is its Nth passage.
pub fn point(step: Step) {
    HOOK.point_after(step.name(), || {});
}
