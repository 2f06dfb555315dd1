//! What happens to a journal call before its handler runs: the journal's own rate limit and
//! the 429 / 5xx storms switched on through `Control`.

use crate::sim::limits::Window;
use crate::sim::RateLimit;

use super::file::FileCorruption;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Pass,
    /// 429 with this `Retry-After` (seconds).
    Limited {
        retry_after_secs: u64,
    },
    /// A 5xx with this status.
    Fault(u16),
}

pub struct JournalFaults {
    pub window: Option<Window>,
    /// The next this many journal calls answer 429 ...
    pub forced_429: u32,
    /// ... with this `Retry-After`.
    pub retry_after_secs: u64,
    /// The next this many journal calls answer 502, 503, 504 in turn.
    pub forced_5xx: u32,
    /// The next this many downloads (of any file) come back broken; the files stay sound.
    pub corrupt_downloads: (u32, FileCorruption),
    served_5xx: u64,
}

impl JournalFaults {
    pub fn new(limit: Option<RateLimit>) -> JournalFaults {
        JournalFaults {
            window: limit.map(Window::new),
            forced_429: 0,
            retry_after_secs: 1,
            forced_5xx: 0,
            corrupt_downloads: (0, FileCorruption::Truncated),
            served_5xx: 0,
        }
    }

    /// Decides one journal call: 5xx storm, then 429 storm, then the rate limit.
    pub fn admit(&mut self, now_ms: i64) -> Admission {
        if self.forced_5xx > 0 {
            self.forced_5xx -= 1;
            self.served_5xx += 1;
            return Admission::Fault([502, 503, 504][((self.served_5xx - 1) % 3) as usize]);
        }
        if self.forced_429 > 0 {
            self.forced_429 -= 1;
            return Admission::Limited {
                retry_after_secs: self.retry_after_secs,
            };
        }
        let Some(window) = self.window.as_mut() else {
            return Admission::Pass;
        };
        if window.admit(now_ms).is_some() {
            return Admission::Pass;
        }
        Admission::Limited {
            retry_after_secs: window.wait_ms(now_ms).div_ceil(1000).max(1),
        }
    }

    /// The corruption of the next download, if a download fault is pending.
    pub fn take_download_corruption(&mut self) -> Option<FileCorruption> {
        let (count, kind) = &mut self.corrupt_downloads;
        (*count > 0).then(|| {
            *count -= 1;
            *kind
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storms_come_first_then_the_window() {
        let mut faults = JournalFaults::new(Some(RateLimit {
            max: 2,
            interval_ms: 1_000,
        }));
        faults.forced_5xx = 2;
        faults.forced_429 = 1;
        faults.retry_after_secs = 7;
        assert_eq!(faults.admit(0), Admission::Fault(502));
        assert_eq!(faults.admit(0), Admission::Fault(503));
        assert_eq!(
            faults.admit(0),
            Admission::Limited {
                retry_after_secs: 7
            }
        );
        assert_eq!(faults.admit(0), Admission::Pass);
        assert_eq!(faults.admit(100), Admission::Pass);
        assert_eq!(
            faults.admit(200),
            Admission::Limited {
                retry_after_secs: 1
            }
        );
        assert_eq!(faults.admit(1_000), Admission::Pass);
    }
}
