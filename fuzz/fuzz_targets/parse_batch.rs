//! Fuzzes `webhook::event::parse_batch`: never panics, and every accepted event's raw text
//! lies inside the body and parses on its own into the same event.
#![no_main]

use hubspot_gateway::webhook::event::parse_batch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut batch) = parse_batch(data) else {
        return;
    };
    let body = data.as_ptr_range();
    for received in &mut batch {
        let raw = received.raw.as_bytes().as_ptr_range();
        assert!(
            body.start <= raw.start && raw.end <= body.end,
            "raw text outside the body"
        );
        let alone = format!("[{}]", received.raw);
        let mut again = parse_batch(alone.as_bytes()).expect("an accepted event parses alone");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].event.dedup_digest(), received.event.dedup_digest());
        let _ = (received.event.object_kind(), received.event.action());
    }
});
