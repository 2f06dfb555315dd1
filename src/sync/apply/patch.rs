//! A patch: properties that HubSpot changed at a known time, from a source that delivers
//! changes in order and with their values (the Webhooks Journal), applied to the stored record
//! without reading it again.
//!
//! The record's version is HubSpot's modified time, and a change's event time is the time
//! HubSpot stamps the record with (its property versions carry the same instant): so a patch
//! older than the stored version is stale (a read after it already holds its effect), and a
//! patched record gets the event time as its version and as its modified property. A deal
//! whose stage changes gets the stage entered at that time, as its history would show it.

use std::collections::BTreeMap;

use super::Applied;
use crate::object::ObjectType;
use crate::store::{Record, StageEntry};

pub(super) fn apply(
    kind: ObjectType,
    current: Option<&Record>,
    purged: bool,
    at_ms: i64,
    properties: &BTreeMap<String, String>,
    now_ms: i64,
) -> Applied {
    if purged {
        return Applied::Nothing;
    }
    let Some(current) = current else {
        return Applied::Unknown;
    };
    if at_ms < current.updated_at_ms {
        return Applied::Stale;
    }
    let mut record = current.clone();
    for (name, value) in properties {
        if value.is_empty() {
            record.properties.remove(name);
        } else {
            record.properties.insert(name.clone(), value.clone());
        }
    }
    record.properties.insert(
        kind.modified_property().to_owned(),
        crate::time::iso(at_ms.max(0)),
    );
    record.updated_at_ms = at_ms;
    let stage = properties
        .get("dealstage")
        .filter(|stage| !stage.is_empty());
    if let (ObjectType::Deals, Some(stage)) = (kind, stage) {
        record.stage_history.push(StageEntry {
            stage: stage.clone(),
            pipeline: record.properties.get("pipeline").cloned(),
            entered_at_ms: at_ms,
        });
    }
    super::stored(kind, record, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Write;

    fn changed(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    fn stored() -> Record {
        Record {
            id: 5,
            updated_at_ms: 1_000,
            properties: changed(&[
                ("dealname", "Big"),
                ("pipeline", "default"),
                ("amount", "9"),
            ]),
            ..Record::default()
        }
    }

    fn written(applied: Applied) -> Record {
        match applied {
            Applied::Writes(writes) => match writes.into_iter().next() {
                Some(Write::Upsert { record, .. }) => record,
                other => panic!("not an upsert: {other:?}"),
            },
            other => panic!("no writes: {other:?}"),
        }
    }

    #[test]
    fn a_patch_sets_clears_and_stamps_the_version() {
        let patch = changed(&[("dealstage", "won"), ("amount", "")]);
        let record = written(apply(
            ObjectType::Deals,
            Some(&stored()),
            false,
            1_500,
            &patch,
            9,
        ));
        assert_eq!(record.properties.get("dealstage").unwrap(), "won");
        assert!(!record.properties.contains_key("amount"), "cleared");
        assert_eq!(record.properties.get("dealname").unwrap(), "Big", "kept");
        assert_eq!(
            record.properties.get("hs_lastmodifieddate").unwrap(),
            "1970-01-01T00:00:01.500Z"
        );
        assert_eq!((record.updated_at_ms, record.synced_at_ms), (1_500, 9));
        assert_eq!(
            record.stage_history,
            vec![StageEntry {
                stage: "won".into(),
                pipeline: Some("default".into()),
                entered_at_ms: 1_500
            }]
        );
    }

    #[test]
    fn stale_unknown_and_purged_patches() {
        let patch = changed(&[("amount", "1")]);
        let kind = ObjectType::Deals;
        assert_eq!(
            apply(kind, Some(&stored()), false, 999, &patch, 9),
            Applied::Stale
        );
        assert!(
            matches!(
                apply(kind, Some(&stored()), false, 1_000, &patch, 9),
                Applied::Writes(_)
            ),
            "as new as the stored version: applied again, harmlessly"
        );
        assert_eq!(apply(kind, None, false, 1_500, &patch, 9), Applied::Unknown);
        assert_eq!(apply(kind, None, true, 1_500, &patch, 9), Applied::Nothing);
    }
}
