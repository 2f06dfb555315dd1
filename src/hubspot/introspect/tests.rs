//! Token introspection, hublets, record URLs and the scope check.

use super::*;
use crate::hubspot::test_fixture as fixture;

#[test]
fn introspection_names_portal_user_scopes_and_hublet() {
    let wire: WireTokenInfo = serde_json::from_slice(&fixture("introspect-eu.json")).unwrap();
    let info = wire.into_info("CJSP5qf1", None);
    assert_eq!(info.hub_id, 62_515);
    assert_eq!(info.user_email.as_deref(), Some("admin@seller.example"));
    assert_eq!(info.user_id, Some(123));
    assert_eq!(info.hublet, "eu1");
    assert_eq!(info.ui_base(), "https://app-eu1.hubspot.com");
    assert_eq!(
        info.record_url(ObjectType::Companies, 5_790_939_450),
        "https://app-eu1.hubspot.com/contacts/62515/record/0-2/5790939450"
    );
    assert_eq!(
        info.record_url(ObjectType::Tasks, 1),
        "https://app-eu1.hubspot.com/tasks/62515"
    );
}

#[test]
fn hublet_from_token_prefixes() {
    let cases = [
        ("pat-eu1-2c3f0a9e-1111", Some("eu1")),
        ("pat-na1-2c3f0a9e-1111", Some("na1")),
        ("eu1-7d2f-4a0b-9b1c", Some("eu1")),
        ("CJSP5qf1KhICAQEY", None),
        ("abc-def", None),
        ("", None),
    ];
    for (token, want) in cases {
        assert_eq!(hublet_from_token(token).as_deref(), want, "{token}");
    }
    let wire: WireTokenInfo = serde_json::from_str(r#"{"hub_id": "7", "scopes": []}"#).unwrap();
    let info = wire.into_info("pat-eu1-abc", None);
    assert_eq!((info.hub_id, info.hublet.as_str()), (7, "eu1"));
    let wire: WireTokenInfo = serde_json::from_str(r#"{"hub_id": 7}"#).unwrap();
    assert_eq!(
        wire.into_info("opaque", None).ui_base(),
        "https://app.hubspot.com"
    );
}

#[test]
fn every_missing_scope_is_named_with_its_purpose() {
    let needs = Requirements {
        read: ObjectType::ALL.to_vec(),
        owners: true,
        write: vec![ObjectType::Contacts, ObjectType::Companies],
    };
    let granted = vec![
        "crm.objects.contacts.read".to_owned(),
        "crm.objects.companies.write".to_owned(),
    ];
    let missing = needs.missing(&granted);
    let named: Vec<(&str, &str)> = missing
        .iter()
        .map(|m| (m.scope.as_str(), m.needed_for.as_str()))
        .collect();
    assert_eq!(
        named,
        [
            ("crm.objects.companies.read", "reading companies"),
            ("crm.objects.contacts.write", "exporting contacts"),
            ("crm.objects.deals.read", "reading deals"),
            ("crm.objects.owners.read", "reading owners"),
        ]
    );
    let error = Error::MissingScopes { missing };
    let text = error.to_string();
    assert!(
        text.contains("`crm.objects.deals.read` (needed for reading deals)"),
        "{text}"
    );
    assert_eq!(
        needs.scopes()["crm.objects.contacts.read"],
        ["reading contacts", "reading tasks"]
    );
    assert!(Requirements::default().missing(&[]).is_empty());
}
