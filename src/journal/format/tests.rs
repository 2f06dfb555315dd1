//! The journal's file format as the simulator serves it (fixtures/journal/file.json), odd
//! forms HubSpot may send, and damaged files.

use super::*;
use crate::webhook::event::Source;

const FILE: &str = include_str!("../../../fixtures/journal/file.json");
const PORTAL: i64 = 62_515_001;
const OFFSET: &str = "3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b";

fn events(converted: &Converted) -> Vec<Event> {
    converted
        .events
        .iter()
        .map(|(raw, _)| serde_json::from_str(raw).unwrap())
        .collect()
}

#[test]
fn every_action_becomes_the_webhook_shape() {
    let file = read_file(FILE.as_bytes()).unwrap();
    assert_eq!(file.offset.as_deref(), Some(OFFSET));
    assert_eq!(file.published_at_ms, parse_ms("2026-03-02T10:00:00.250Z"));
    let converted = convert(&file, OFFSET, PORTAL);
    assert_eq!((converted.foreign, converted.skipped), (1, 4));
    let events = events(&converted);
    let kinds: Vec<(&str, Option<i64>)> = events
        .iter()
        .map(|event| (event.subscription_type.as_str(), event.object_id))
        .collect();
    assert_eq!(
        kinds,
        [
            ("object.creation", Some(501)),
            ("object.propertyChange", Some(501)),
            ("object.propertyChange", Some(501)),
            ("object.propertyChange", Some(501)),
            ("object.propertyChange", Some(3_000_000_001)),
            ("object.propertyChange", Some(3_000_000_001)),
            ("object.propertyChange", Some(3_000_000_001)),
            ("object.associationChange", None),
            ("object.merge", Some(77)),
            ("object.deletion", Some(9)),
            ("object.restore", Some(9)),
            ("object.privacyDeletion", Some(502)),
            ("object.deletion", Some(503)),
        ]
    );
    assert!(events.iter().all(|event| event.source() == Source::Journal
        && event.journal_offset.as_deref() == Some(OFFSET)
        && event.portal_id == PORTAL
        && event.event_id == 0));
    let values: Vec<(&str, &str)> = events[1..7]
        .iter()
        .map(|event| {
            (
                event.property_name.as_deref().unwrap(),
                event.property_value.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        values,
        [
            ("email", "ann@acme.example"),
            ("firstname", "Ann"),
            ("phone", ""),
            ("description", ""),
            ("is_public", "true"),
            ("numberofemployees", "250")
        ]
    );
    assert_eq!(events[4].occurred_at, 1_772_445_600_100, "ISO occurredAt");
    assert_eq!(events[4].object_type(), Some(ObjectType::Companies));
    let link = &events[7];
    assert_eq!(
        (
            link.from_object_id,
            link.to_object_id,
            link.association_target()
        ),
        (Some(501), Some(3_000_000_001), Some(ObjectType::Companies))
    );
    assert_eq!(
        (link.association_removed, link.is_primary_association),
        (Some(false), Some(true))
    );
    assert_eq!(events[8].merged_object_ids, Some(vec![78, 79]));
    assert_eq!(
        events[12].object_type(),
        Some(ObjectType::Contacts),
        "a type name"
    );
}

#[test]
fn a_journal_change_has_the_key_of_its_webhook() {
    let file = read_file(FILE.as_bytes()).unwrap();
    let converted = convert(&file, OFFSET, PORTAL);
    let webhook: Event = serde_json::from_value(serde_json::json!({
        "eventId": 4711, "subscriptionId": 1, "portalId": PORTAL, "appId": 9,
        "occurredAt": 1_772_445_600_000_i64, "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0, "objectId": 501, "propertyName": "firstname",
        "propertyValue": "Ann", "changeSource": "CRM_UI"}))
    .unwrap();
    let digest = webhook.change_key().unwrap();
    assert_eq!(converted.events[2].1, digest);
    // Read again (a replay after a crash): the same text and digests.
    let again = convert(&read_file(FILE.as_bytes()).unwrap(), OFFSET, PORTAL);
    assert_eq!(again.events, converted.events);
}

#[test]
fn a_value_too_big_for_the_inbox_asks_for_a_read() {
    let big = "x".repeat(MAX_EVENT_BYTES);
    let text = serde_json::json!({"journalEvents": [{"portalId": PORTAL, "objectTypeId": "0-1",
        "objectId": 5, "action": "UPDATE", "occurredAt": 1, "propertyChanges": {"notes": big}}]})
    .to_string();
    let converted = convert(&read_file(text.as_bytes()).unwrap(), "o", PORTAL);
    let events = events(&converted);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].property_name.as_deref(), Some("notes"));
    assert_eq!(events[0].property_value, None);
    assert!(converted.events[0].0.len() < 1_000);
}

#[test]
fn damaged_files_are_refused() {
    let truncated = &FILE.as_bytes()[..FILE.len() / 2];
    for bytes in [
        truncated,
        b"<html><body><h1>502 Bad Gateway</h1></body></html>".as_slice(),
        br#"{"offset": "x"}"#,
        br#"{"journalEvents": {}}"#,
        b"",
    ] {
        assert!(
            read_file(bytes).is_err(),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
    let empty = read_file(br#"{"journalEvents": []}"#).unwrap();
    assert!(convert(&empty, "o", PORTAL).events.is_empty());
}
