//! HubSpot's documented response shapes parse into the model, ids as i64, values as strings.

use super::*;
use crate::hubspot::model::{Owner, Pipeline, Property};
use crate::hubspot::test_fixture as fixture;

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn list_page_records_and_paging() {
    let page: WirePage<WireRecord> = parse("list-contacts-page.json");
    assert_eq!(page.next_after().as_deref(), Some("5125904302"));
    let records: Vec<Record> = page.results.into_iter().map(Record::from).collect();
    assert_eq!(records[0].id, 512);
    assert_eq!(records[1].id, 5_125_904_301);
    assert_eq!(records[0].property("email"), Some("ann@acme.com"));
    assert_eq!(records[0].properties["lastname"], None);
    assert_eq!(records[0].property("lastname"), None);
    assert_eq!(records[0].created_at_ms, Some(1_704_450_030_123));
    use crate::hubspot::model::ObjectType;
    assert_eq!(
        records[0].modified_ms(ObjectType::Contacts),
        Some(1_706_774_400_000)
    );
    // Epoch-ms strings are accepted too.
    assert_eq!(
        records[1].modified_ms(ObjectType::Contacts),
        Some(1_706_774_400_000)
    );
}

#[test]
fn batch_read_207_keeps_results_and_names_missing_ids() {
    let batch: WireBatch<WireRecord> = parse("batch-read-deals-207.json");
    let missing: Vec<i64> = batch.errors.iter().flat_map(|e| e.ids()).collect();
    assert_eq!(missing, [9002]);
    let deal = Record::from(batch.results.into_iter().next().unwrap());
    let stages: Vec<_> = deal.history["dealstage"]
        .iter()
        .map(|h| {
            (
                h.value.as_deref().unwrap(),
                h.source_type.as_deref().unwrap(),
            )
        })
        .collect();
    // Oldest first, whatever order HubSpot used.
    assert_eq!(
        stages,
        [("appointmentscheduled", "API"), ("closedwon", "CRM_UI")]
    );
    assert_eq!(
        deal.history["dealstage"][1].updated_by_user_id,
        Some(1_296_619)
    );
}

#[test]
fn owners_keep_archived_ones_without_user_ids() {
    let page: WirePage<WireOwner> = parse("owners-page.json");
    let owners: Vec<Owner> = page.results.into_iter().map(Owner::from).collect();
    assert_eq!(owners[0].user_id, Some(2_147_483_650));
    assert_eq!(owners[0].teams[0].name, "EMEA");
    assert!(owners[0].teams[0].primary);
    let archived = &owners[1];
    assert!(archived.archived);
    assert_eq!(archived.user_id, None);
    assert_eq!(archived.user_id_including_inactive, Some(77));
    assert_eq!(archived.email, None, "empty strings mean no value");
}

#[test]
fn property_definitions_carry_internal_option_values() {
    let page: WirePage<WireProperty> = parse("properties-companies.json");
    let properties: Vec<Property> = page.results.into_iter().map(Property::from).collect();
    let industry = &properties[0];
    assert_eq!(industry.kind, "enumeration");
    let values: Vec<_> = industry.options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, ["COMPUTER_SOFTWARE", "ACCOUNTING"]);
    assert!(industry.options[1].hidden);
    assert!(!industry.read_only_value);
    assert!(properties[1].calculated && properties[1].read_only_value);
}

#[test]
fn pipelines_and_closed_stages() {
    let page: WirePage<WirePipeline> = parse("pipelines-deals.json");
    let pipeline = Pipeline::from(page.results.into_iter().next().unwrap());
    assert_eq!(pipeline.id, "default");
    let closed: Vec<_> = pipeline
        .stages
        .iter()
        .map(|s| (s.id.as_str(), s.is_closed()))
        .collect();
    assert_eq!(
        closed,
        [("appointmentscheduled", false), ("closedwon", true)]
    );
    assert_eq!(pipeline.stages[1].metadata["probability"], "1.0");
}

#[test]
fn ids_are_strings_or_numbers_and_never_truncated() {
    #[derive(serde::Deserialize)]
    struct Id {
        #[serde(deserialize_with = "id")]
        id: i64,
    }
    for (json, want) in [
        (r#"{"id":"9007199254740993"}"#, 9_007_199_254_740_993),
        (r#"{"id":4294967296}"#, 4_294_967_296),
    ] {
        assert_eq!(serde_json::from_str::<Id>(json).unwrap().id, want);
    }
    assert!(serde_json::from_str::<Id>(r#"{"id":"abc"}"#).is_err());
    assert!(serde_json::from_str::<Id>(r#"{"id":null}"#).is_err());
}

#[test]
fn non_string_property_values_become_strings() {
    let record: WireRecord = serde_json::from_str(
        r#"{"id":"1","properties":{"n":5,"b":true,"s":"x\"y","z":null,"f":-1.5,"l":[1,"a"],"o":{"k":null}}}"#,
    )
    .unwrap();
    let record = Record::from(record);
    let values: Vec<_> = record.properties.values().map(|v| v.as_deref()).collect();
    assert_eq!(
        values,
        [
            Some("true"),
            Some("-1.5"),
            Some(r#"[1,"a"]"#),
            Some("5"),
            Some(r#"{"k":null}"#),
            Some("x\"y"),
            None
        ]
    );
    let none: WireRecord = serde_json::from_str(r#"{"id":"2","properties":null}"#).unwrap();
    assert!(none.properties.is_empty());
}
