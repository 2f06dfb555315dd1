//! Redaction of export rows naming a privacy-deleted person.

use std::collections::BTreeMap;

use super::{redact, REDACTED};
use crate::export::job::{self, Effect, Header, Outcome, Row, State};
use crate::object::ObjectType;
use crate::store::Store;
use crate::sync::Person;

const PORTAL: i64 = 62515;
const ID: i64 = 7_000_001;

fn row(reference: &str, fields: &[(&str, &str)], outcome: Option<Outcome>) -> Row {
    Row {
        reference: reference.into(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        on_duplicate: None,
        intent_at_ms: None,
        known_at_intent: Vec::new(),
        outcome,
    }
}

fn outcome(action: Effect, id: i64, duplicates: Vec<i64>) -> Outcome {
    Outcome {
        id: Some(id),
        owner_id: Some(101),
        ..Outcome::new(action, duplicates)
    }
}

fn person() -> Person {
    Person {
        kind: ObjectType::Contacts,
        id: ID,
        emails: vec!["erase.me@privacy.example".into()],
        values: vec!["Erasmus".into(), "+1 555 0123".into()],
    }
}

#[test]
fn rows_naming_the_person_are_redacted_sealed_and_still_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let header = Header {
        kind: ObjectType::Contacts,
        user_email: "seller@internal.example".into(),
        state: State::Running,
        total: 5,
        created_at_ms: 0,
        finished_at_ms: None,
        error: None,
        stalled: None,
    };
    let mut failed = Outcome::failed(
        "invalid_value",
        "Erase.Me@privacy.example is bad",
        None,
        vec![],
    );
    failed.error.as_mut().unwrap().property = Some("email".into());
    let rows = [
        // Named by email (any case), not written yet: must never be exported now.
        row(
            "erase.me@privacy.example",
            &[
                ("email", "Erase.Me@Privacy.example"),
                ("direct_phone", "+1 555 0123"),
            ],
            None,
        ),
        // Named by its result's id.
        row(
            "r-2",
            &[("email", "old@privacy.example"), ("first_name", "Erasmus")],
            Some(outcome(Effect::Updated, ID, vec![ID, 9])),
        ),
        // Someone else's row listing the person as a duplicate.
        row(
            "r-3",
            &[("email", "al@acme.example")],
            Some(outcome(Effect::Skipped, 9, vec![9, ID])),
        ),
        // Unrelated.
        row(
            "r-4",
            &[("email", "bo@acme.example")],
            Some(outcome(Effect::Created, 11, vec![])),
        ),
        // Failed with a message quoting the person.
        row(
            "r-5",
            &[("email", "erase.me@privacy.example")],
            Some(failed),
        ),
    ];
    let job = job::enqueue(&store, PORTAL, &header, &rows).unwrap();
    let company = Person {
        kind: ObjectType::Companies,
        ..person()
    };
    assert_eq!(
        redact(&store, PORTAL, &[company]).unwrap(),
        0,
        "names no person"
    );
    assert_eq!(redact(&store, PORTAL, &[person()]).unwrap(), 4);

    let after = job::rows(&store, PORTAL, job).unwrap();
    assert_eq!(after[0].reference, "redacted-0");
    assert!(after[0].fields.is_empty());
    let first = after[0].outcome.as_ref().unwrap();
    assert_eq!(first.error.as_ref().unwrap().code, REDACTED);
    assert_eq!(
        (after[1].reference.as_str(), after[1].fields.len()),
        ("r-2", 0)
    );
    let second = after[1].outcome.as_ref().unwrap();
    assert_eq!(
        (second.action, second.id, &second.duplicates),
        (Effect::Updated, None, &vec![9])
    );
    assert_eq!(second.reason.as_deref(), Some(REDACTED));
    assert_eq!(after[2].fields.len(), 1, "another person's input stays");
    assert_eq!(after[2].outcome.as_ref().unwrap().duplicates, vec![9]);
    assert_eq!(after[3], rows[3]);
    let fifth = after[4].outcome.as_ref().unwrap().error.clone().unwrap();
    assert_eq!(
        (fifth.code.as_str(), fifth.property.as_deref()),
        ("invalid_value", Some("email"))
    );

    // The counts still add up; nothing of the person is left in any tree.
    let json = job::to_json(job, &header, &after);
    assert_eq!(json["updated"], 1);
    assert_eq!(json["failed"], 2);
    assert_eq!(json["results"].as_array().unwrap().len(), 5);
    for needle in [
        "erase.me@privacy.example",
        "Erase.Me",
        "+1 555 0123",
        "Erasmus",
    ] {
        assert_eq!(
            store.trees_containing(needle.as_bytes()).unwrap(),
            Vec::<String>::new(),
            "{needle}"
        );
    }
    assert!(!json.to_string().contains(&ID.to_string()));

    // A worker holding the old row cannot write it back.
    job::save_rows(&store, PORTAL, job, &[(0, &rows[0]), (3, &rows[3])]).unwrap();
    assert_eq!(job::rows(&store, PORTAL, job).unwrap()[0], after[0]);
    assert_eq!(
        store.exports().sealed(PORTAL, job).unwrap(),
        vec![0, 1, 2, 4]
    );
}
