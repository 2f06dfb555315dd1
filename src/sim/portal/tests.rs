//! Portal behaviour: paging, search (filters, sort, cap, lag), writes, merges, validation.

use std::collections::BTreeMap;

use super::*;
use crate::sim::kind::ObjectType::*;

fn portal(contacts: u64) -> Portal {
    Portal::new(9, [contacts, 200, 100, 100], 20, 0)
}

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

fn filter(property: &str, operator: &str, value: &str) -> Filter {
    Filter {
        property: property.into(),
        operator: operator.into(),
        value: Some(value.into()),
        ..Filter::default()
    }
}

fn search(
    portal: &mut Portal,
    filters: Vec<Filter>,
    after: usize,
    limit: usize,
) -> Result<search::SearchResult, String> {
    let groups = if filters.is_empty() {
        vec![]
    } else {
        vec![FilterGroup { filters }]
    };
    portal.search(
        Contacts,
        &SearchQuery {
            groups,
            sort: Some(("lastmodifieddate".into(), false)),
            query: None,
            after,
            limit,
        },
    )
}

#[test]
fn list_pages_cover_every_live_record_once_in_id_order() {
    let mut portal = portal(500);
    let archived = portal.gen.ids(Contacts).id(7);
    portal
        .archive(Contacts, archived, "CRM_UI")
        .expect("base record exists");
    let (created, _) = portal.create(Contacts, &props(&[("email", "new@x.example")]), "API");
    let (mut seen, mut after) = (Vec::new(), 0);
    for _ in 0..100 {
        let (page, next) = portal.list(Contacts, after, 37, false);
        seen.extend(page);
        match next {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seen.len(), 500);
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(!seen.contains(&archived) && seen.contains(&created));
    assert_eq!(portal.list(Contacts, 0, 10, true).0, vec![archived]);
}

#[test]
fn search_pages_up_to_the_ten_thousand_cap_then_fails() {
    let mut portal = portal(12_000);
    let page = search(&mut portal, vec![], 9_900, 200).expect("within the cap");
    assert_eq!(
        (page.ids.len(), page.total, page.next_after),
        (100, 12_000, Some(10_000))
    );
    assert!(search(&mut portal, vec![], 10_000, 100).is_err());
    assert!(search(&mut portal, vec![], 0, 201).is_err());
}

#[test]
fn search_filters_and_sorts() {
    let mut portal = portal(2_000);
    let email = portal
        .record(Contacts, 1001)
        .expect("id 1001 is index 19")
        .properties["email"]
        .to_uppercase();
    assert_eq!(
        search(&mut portal, vec![filter("email", "EQ", &email)], 0, 10)
            .unwrap()
            .ids,
        vec![1001]
    );
    let cutoff = "1780000000000";
    let newer = search(
        &mut portal,
        vec![filter("lastmodifieddate", "GTE", cutoff)],
        0,
        200,
    )
    .unwrap();
    let older = search(
        &mut portal,
        vec![filter("lastmodifieddate", "LT", cutoff)],
        0,
        200,
    )
    .unwrap();
    assert_eq!(newer.total + older.total, 2_000);
    let stamps: Vec<i64> = newer
        .ids
        .iter()
        .map(|id| portal.record(Contacts, *id).unwrap().modified_ms)
        .collect();
    assert!(stamps.windows(2).all(|pair| pair[0] <= pair[1]) && stamps[0] >= 1_780_000_000_000);
    let within = Filter {
        high_value: Some("1000".into()),
        ..filter("hs_object_id", "BETWEEN", "100")
    };
    assert_eq!(
        search(&mut portal, vec![within], 0, 100).unwrap().ids.len(),
        18
    );
    let listed = Filter {
        values: vec!["51".into(), "101".into(), "7".into()],
        ..filter("hs_object_id", "IN", "")
    };
    assert_eq!(search(&mut portal, vec![listed], 0, 100).unwrap().total, 2);
    let too_many = (0..7)
        .map(|_| filter("hs_object_id", "HAS_PROPERTY", ""))
        .collect();
    assert!(search(&mut portal, too_many, 0, 10).is_err());
    assert!(search(
        &mut portal,
        vec![filter("no_such_property", "EQ", "x")],
        0,
        10
    )
    .is_err());
}

#[test]
fn search_lags_behind_writes() {
    let mut portal = Portal::new(9, [100, 10, 10, 10], 5, 60_000);
    let (id, _) = portal.create(Contacts, &props(&[("email", "lag@x.example")]), "API");
    let only_new = || vec![filter("email", "EQ", "lag@x.example")];
    assert_eq!(search(&mut portal, only_new(), 0, 10).unwrap().total, 0);
    portal.sync_index(time::now_ms() + 60_000);
    assert_eq!(
        search(&mut portal, only_new(), 0, 10).unwrap().ids,
        vec![id]
    );
}

#[test]
fn validation_names_every_bad_property() {
    let portal = portal(100);
    let archived_owner = portal
        .owners
        .iter()
        .find(|owner| owner.archived)
        .expect("some owners are archived")
        .id
        .to_string();
    let bad = props(&[
        ("industry", "Software"),
        ("nope", "x"),
        ("hs_object_id", "5"),
        ("numberofemployees", "many"),
        ("hubspot_owner_id", &archived_owner),
        ("type", "PROSPECT"),
    ]);
    let mut errors: Vec<&str> = portal
        .validate(Companies, &bad, true)
        .iter()
        .map(|problem| problem.error)
        .collect();
    errors.sort_unstable();
    assert_eq!(
        errors,
        [
            "INVALID_INTEGER",
            "INVALID_OPTION",
            "INVALID_OWNER_ID",
            "PROPERTY_DOESNT_EXIST",
            "READ_ONLY_VALUE"
        ]
    );
    let contact = props(&[
        ("email", "not-an-email"),
        ("date_of_birth", "2020-01-01T10:00:00Z"),
        ("hs_buying_role", "CHAMPION;END_USER"),
    ]);
    let errors: Vec<&str> = portal
        .validate(Contacts, &contact, true)
        .iter()
        .map(|problem| problem.error)
        .collect();
    assert_eq!(errors, ["INVALID_DATE", "INVALID_EMAIL"]);
    assert!(portal
        .validate(
            Contacts,
            &props(&[("email", ""), ("firstname", "Ann")]),
            false
        )
        .is_empty());
}

#[test]
fn contacts_are_found_by_email_before_and_after_changes() {
    let mut portal = portal(100);
    let id = portal.gen.ids(Contacts).id(3);
    let email = portal.record(Contacts, id).unwrap().properties["email"].clone();
    assert_eq!(portal.contact_by_email(&email.to_uppercase()), Some(id));
    portal.update(Contacts, id, &props(&[("email", "moved@x.example")]), "API");
    assert_eq!(portal.contact_by_email(&email), None);
    assert_eq!(portal.contact_by_email("Moved@X.example"), Some(id));
    portal.update(Contacts, id, &props(&[("firstname", "Zed")]), "API");
    assert_eq!(portal.contact_by_email("moved@x.example"), Some(id));
}

#[test]
fn merge_keeps_the_primary_and_resolves_the_loser_to_it() {
    let mut portal = portal(500);
    let (primary, loser) = (
        portal.gen.ids(Contacts).id(0),
        portal.gen.ids(Contacts).id(1),
    );
    let loser_companies = portal.associations(Contacts, loser, Companies);
    let changes = portal
        .merge(Contacts, primary, loser, "CRM_UI")
        .expect("both live");
    assert!(
        matches!(&changes[0].what, ChangeKind::Merged { merged, .. } if merged == &vec![loser])
    );
    assert_eq!(
        portal.live(Contacts, loser).map(|record| record.id),
        Some(primary)
    );
    assert_eq!(
        portal.record(Contacts, primary).unwrap().properties["hs_merged_object_ids"],
        loser.to_string()
    );
    for company in loser_companies {
        assert!(portal
            .associations(Contacts, primary, Companies)
            .contains(&company));
    }
    assert!(!portal.list(Contacts, 0, 1000, false).0.contains(&loser));
    assert!(portal.merge(Contacts, primary, loser, "CRM_UI").is_err());
}

#[test]
fn privacy_deletion_removes_the_record_everywhere() {
    let mut portal = portal(100);
    let id = portal.gen.ids(Contacts).id(5);
    portal.archive(Contacts, id, "CRM_UI");
    let changes = portal
        .privacy_delete(id, "GDPR")
        .expect("exists while archived");
    assert_eq!(changes.len(), 2);
    assert!(
        portal.record(Contacts, id).is_none() && portal.list(Contacts, 0, 10, true).0.is_empty()
    );
}
