//! Crash points for tests: `HUBSPOT_GATEWAY_EXPORT_CRASH=STEP[:N]` makes the process kill
//! itself with SIGKILL the Nth time (default 1) the writer reaches STEP, so a test can stop
//! the real binary at an exact step of a batch, as `kill -9` would, and check what the
//! resumed job reports. Unset (always, outside tests), a crash point costs one load.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

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

struct Armed {
    step: Step,
    nth: u32,
    seen: AtomicU32,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let text = std::env::var(VARIABLE).ok()?;
            let (name, nth) = text.split_once(':').unwrap_or((&text, "1"));
            let step = Step::ALL.into_iter().find(|step| step.name() == name)?;
            Some(Armed {
                step,
                nth: nth.parse().ok()?,
                seen: AtomicU32::new(0),
            })
        })
        .as_ref()
}

/// Kills the process (SIGKILL: no destructor, flush or log line runs) when `step` is the
/// armed one and this is its Nth passage.
pub fn point(step: Step) {
    point_after(step, || {});
}

/// Like [`point`], running `before` first: e.g. a store commit, which another thread (the
/// webhook committer, the match writer) may make at any moment, to stage the worst case.
pub fn point_after(step: Step, before: impl FnOnce()) {
    let Some(armed) = armed().filter(|armed| armed.step == step) else {
        return;
    };
    if armed.seen.fetch_add(1, Ordering::SeqCst) + 1 == armed.nth {
        before();
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
