//! Crash points for tests: `HUBSPOT_GATEWAY_JOURNAL_CRASH=STEP[:N]` makes the process kill
//! itself with SIGKILL the Nth time (default 1) the consumer reaches STEP, so a test can stop
//! the real binary between the steps of a journal read as `kill -9` would. Unset (always,
//! outside tests), a crash point costs one load.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

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
    pub const ALL: [Step; 3] = [Step::Downloaded, Step::Committed, Step::GapNoted];

    pub fn name(self) -> &'static str {
        match self {
            Step::Downloaded => "downloaded",
            Step::Committed => "committed",
            Step::GapNoted => "gap_noted",
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
    let Some(armed) = armed().filter(|armed| armed.step == step) else {
        return;
    };
    if armed.seen.fetch_add(1, Ordering::SeqCst) + 1 == armed.nth {
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
