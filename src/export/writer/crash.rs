//! The export writer's crash points (see `crate::crash`): `HUBSPOT_GATEWAY_EXPORT_CRASH=STEP[:N]`
//! stops the real binary at an exact step of a batch, as `kill -9` would, so a test can check
//! what the resumed job reports.

use crate::crash::Hook;

/// The environment variable naming the crash point.
pub const VARIABLE: &str = "HUBSPOT_GATEWAY_EXPORT_CRASH";

/// The steps of one batch create, in order, and of the reconciliation of a resumed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The intents are durable; the batch create is not sent yet.
    BeforeSend,
    /// HubSpot created the records and answered; nothing of its answer is stored yet.
    AfterSend,
    /// The created records are in the mirror; the rows' outcomes are not.
    AfterMirror,
    /// Just before the outcomes of a batch are saved.
    BeforeSave,
    /// A resumed job found its creates in HubSpot; their outcomes are not saved yet.
    Reconciled,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::BeforeSend,
        Step::AfterSend,
        Step::AfterMirror,
        Step::BeforeSave,
        Step::Reconciled,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::BeforeSend => "before_send",
            Step::AfterSend => "after_send",
            Step::AfterMirror => "after_mirror",
            Step::BeforeSave => "before_save",
            Step::Reconciled => "reconciled",
        }
    }
}

static HOOK: Hook = Hook::new(VARIABLE);

/// Kills the process (see [`Hook`]) when `step` is the armed one and this is its Nth passage.
pub fn point(step: Step) {
    point_after(step, || {});
}

/// Like [`point`], running `before` first: e.g. a store commit, which another thread (the
/// webhook committer, the match writer) may make at any moment, to stage the worst case.
pub fn point_after(step: Step, before: impl FnOnce()) {
    HOOK.point_after(step.name(), before);
}
