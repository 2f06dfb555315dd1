//! The crash points of a notification's life (see `crate::crash`):
//! `HUBSPOT_GATEWAY_NOTIFY_CRASH=STEP[:N]` stops the real binary between two of its steps, as
//! `kill -9` would, so a test can check that after the restart none is lost, each arrives in
//! order per record, a repeat carries the same `webhook-id`, and retry and dead states hold.

use crate::crash::Hook;

/// The environment variable naming the crash point.
pub const VARIABLE: &str = "HUBSPOT_GATEWAY_NOTIFY_CRASH";

/// The steps of a notification's life, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A mirror change and its notifications are committed in one transaction, not yet
    /// flushed; the deliverers are not woken.
    Queued,
    /// A deliverer read waiting notifications and made them durable; none is sent.
    Loaded,
    /// A notification is about to be posted; nothing has left.
    Sending,
    /// The target answered a notification (2xx or not); nothing of the answer is recorded.
    Answered,
    /// Deliveries are recorded (the rows removed), not yet flushed.
    Delivered,
    /// A failed attempt and the next one's time are recorded, not yet flushed.
    RetryScheduled,
    /// Notifications are recorded dead, not yet flushed.
    Dead,
    /// Dead notifications are moved back to waiting, not yet durable; the request is not
    /// answered.
    Redelivering,
    /// The move is durable; the request is not answered, the deliverer not told.
    Redelivered,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::Queued,
        Step::Loaded,
        Step::Sending,
        Step::Answered,
        Step::Delivered,
        Step::RetryScheduled,
        Step::Dead,
        Step::Redelivering,
        Step::Redelivered,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Queued => "queued",
            Step::Loaded => "loaded",
            Step::Sending => "sending",
            Step::Answered => "answered",
            Step::Delivered => "delivered",
            Step::RetryScheduled => "retry_scheduled",
            Step::Dead => "dead",
            Step::Redelivering => "redelivering",
            Step::Redelivered => "redelivered",
        }
    }
}

static HOOK: Hook = Hook::new(VARIABLE);

/// Kills the process (see [`Hook`]) when `step` is the armed one and this is its Nth passage.
pub fn point(step: Step) {
    HOOK.point_after(step.name(), || {});
}
