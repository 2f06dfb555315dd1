//! Payload parsing tests: every event kind of HubSpot's webhooks guide, leniency, and rejections.

use super::*;

const EVERY_KIND: &str = include_str!("../../../fixtures/webhooks/every-kind.json");

#[test]
fn parses_every_event_kind() {
    let batch = parse_batch(EVERY_KIND.as_bytes()).unwrap();
    assert_eq!(batch.len(), 10);
    let events: Vec<&Event> = batch.iter().map(|received| &received.event).collect();
    assert_eq!(events[0].subscription_type, "contact.creation");
    assert_eq!(
        (events[0].object_kind(), events[0].action()),
        ("contact", "creation")
    );
    assert_eq!(events[1].property_value.as_deref(), Some("6166860"));
    assert_eq!(events[1].attempt_number, Some(2));
    assert_eq!(events[2].object_id, Some(3_000_000_001), "ids above 2^31");
    assert_eq!(events[3].merged_object_ids, Some(vec![701, 702]));
    assert_eq!(events[3].new_object_id, Some(703));
    assert_eq!(
        events[4].association_type.as_deref(),
        Some("CONTACT_TO_COMPANY")
    );
    assert_eq!(events[4].is_primary_association, Some(true));
    assert_eq!(events[5].action(), "privacyDeletion");
    assert_eq!(
        (events[6].object_kind(), events[6].action()),
        ("0-27", "creation")
    );
    assert_eq!(
        events[7].subscription_type, "company.restore",
        "eventType alias"
    );
    assert_eq!(events[7].object_id, Some(3_000_000_001), "id as a string");
    assert_eq!(events[8].is_sensitive, Some(true));
    assert_eq!(events[9].association_type_id, Some(204));
    // The raw text is kept exactly, unknown fields included.
    assert!(batch[7].raw.contains("someFutureField"));
    assert!(batch[7].raw.starts_with('{') && batch[7].raw.ends_with('}'));
}

#[test]
fn rejects_what_is_not_an_event_batch() {
    let cases = [
        ("", "not a JSON array"),
        ("{}", "not a JSON array"),
        ("[1]", "event [0]"),
        ("[{\"eventId\":1}]", "missing field"),
        (
            "[{\"eventId\":\"x\",\"portalId\":1,\"occurredAt\":1,\"subscriptionType\":\"a.b\"}]",
            "not an integer",
        ),
        (
            "[{\"eventId\":1.5,\"portalId\":1,\"occurredAt\":1,\"subscriptionType\":\"a.b\"}]",
            "event [0]",
        ),
        ("[{\"eventId\":1,\"portalId\":1,\"occurredAt\":1,\"subscriptionType\":\"a.b\"}", "not a JSON array"),
        (
            "[{\"eventId\":99999999999999999999,\"portalId\":1,\"occurredAt\":1,\"subscriptionType\":\"a.b\"}]",
            "event [0]",
        ),
    ];
    for (body, expected) in cases {
        let error = parse_batch(body.as_bytes()).unwrap_err();
        assert!(error.0.contains(expected), "{body:?} gave {error}");
    }
    assert_eq!(parse_batch(b"[]").unwrap().len(), 0);
}

#[test]
fn digest_ignores_only_the_attempt_number() {
    let first = r#"{"eventId":1,"portalId":2,"occurredAt":3,"subscriptionType":"contact.creation","objectId":4,"attemptNumber":0}"#;
    let retry = r#"{"attemptNumber":3,"objectId":4,"subscriptionType":"contact.creation","occurredAt":3,"portalId":2,"eventId":1}"#;
    let other_object = r#"{"eventId":1,"portalId":2,"occurredAt":3,"subscriptionType":"contact.creation","objectId":5,"attemptNumber":0}"#;
    let digest = |text: &str| {
        let mut event = serde_json::from_str::<Event>(text).unwrap();
        let digest = event.dedup_digest();
        assert_eq!(
            serde_json::from_str::<Event>(text).unwrap(),
            event,
            "left as it was"
        );
        digest
    };
    assert_eq!(digest(first), digest(retry));
    assert_ne!(digest(first), digest(other_object));
    // The SHA-256 of `{"eventId":1,"portalId":2,"occurredAt":3,"subscriptionType":
    // "contact.creation","objectId":4}`: stored events keep their digests across versions.
    let hex: String = digest(first).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, "b75e0b7143e8ac29d9170cde4c16361d");
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn parser_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_batch(&body);
        }

        #[test]
        fn parser_never_panics_on_near_json(
            fields in proptest::collection::vec(("[a-zA-Z]{1,12}", "(-?[0-9]{1,22}|\"[^\"]{0,8}\"|null|true|\\[1,2\\])"), 0..8)
        ) {
            let body = format!(
                "[{{{}}}]",
                fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",")
            );
            let _ = parse_batch(body.as_bytes());
        }
    }
}
