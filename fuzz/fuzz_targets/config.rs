//! Fuzzes `config::load_str`: any text either loads or yields problems, never a panic.
#![no_main]

use hubspot_gateway::config::load_str;
use libfuzzer_sys::fuzz_target;

/// Some references resolve, others do not, so both paths are exercised.
fn env(name: &str) -> Option<String> {
    name.len()
        .is_multiple_of(2)
        .then(|| format!("value-of-{name}"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(problems) = load_str(text, &env) {
        assert!(
            !problems.is_empty(),
            "an error carries at least one problem"
        );
    }
});
