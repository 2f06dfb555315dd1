//! A portal removal's crash points (see `crate::crash`): `HUBSPOT_GATEWAY_REMOVAL_CRASH=STEP[:N]`
//! stops the real binary between the steps of a removal, as `kill -9` would.

use crate::crash::Hook;

/// The environment variable naming the crash point.
pub const VARIABLE: &str = "HUBSPOT_GATEWAY_REMOVAL_CRASH";

/// The steps of a removal, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The removal is recorded; the portal's site still runs.
    Marked,
    /// The portal's settings are deleted; its data and connections remain.
    SettingsReset,
    /// The store's data of the portal is deleted; its connections remain.
    Erased,
    /// Its connections are deleted (tokens revoked); the removal's record remains.
    Forgotten,
}

impl Step {
    pub const ALL: [Step; 4] = [
        Step::Marked,
        Step::SettingsReset,
        Step::Erased,
        Step::Forgotten,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Step::Marked => "marked",
            Step::SettingsReset => "settings_reset",
            Step::Erased => "erased",
            Step::Forgotten => "forgotten",
        }
    }
}

static HOOK: Hook = Hook::new(VARIABLE);

/// Kills the process (see [`Hook`]) when `step` is the armed one and this is its Nth passage.
pub fn point(step: Step) {
    HOOK.point_after(step.name(), || {});
}
