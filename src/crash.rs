//! Crash points for tests: an environment variable `NAME=STEP[:N]` makes the process kill
//! itself with SIGKILL the Nth time (default 1) it reaches STEP, so a test can stop the real
//! binary between the steps of a multi-step write as `kill -9` would. Each user (the export
//! writer, the journal reader) names its own variable and steps. Unset (always, outside
//! tests), a crash point costs one load.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The crash points read from one environment variable.
pub struct Hook {
    variable: &'static str,
    armed: OnceLock<Option<Armed>>,
}

struct Armed {
    step: String,
    nth: u32,
    seen: AtomicU32,
}

impl Hook {
    pub const fn new(variable: &'static str) -> Hook {
        Hook {
            variable,
            armed: OnceLock::new(),
        }
    }

    fn armed(&self) -> Option<&Armed> {
        self.armed
            .get_or_init(|| {
                let text = std::env::var(self.variable).ok()?;
                let (step, nth) = text.split_once(':').unwrap_or((&text, "1"));
                Some(Armed {
                    step: step.to_owned(),
                    nth: nth.parse().ok()?,
                    seen: AtomicU32::new(0),
                })
            })
            .as_ref()
    }

    /// Kills the process (SIGKILL: no destructor, flush or log line runs) when `step` is the
    /// armed one and this is its Nth passage, running `before` first.
    pub fn point_after(&self, step: &str, before: impl FnOnce()) {
        let Some(armed) = self.armed().filter(|armed| armed.step == step) else {
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
}
