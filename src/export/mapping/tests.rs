//! Mapping validation: every rejection reason, all reported at once with their rows.

use super::*;

fn def(
    name: &str,
    value_type: &str,
    options: &[&str],
    calculated: bool,
    read_only: bool,
) -> PropertyDef {
    PropertyDef {
        name: name.into(),
        value_type: value_type.into(),
        options: options
            .iter()
            .map(|o| ((*o).to_owned(), o.to_lowercase()))
            .collect(),
        calculated,
        read_only_value: read_only,
        ..PropertyDef::default()
    }
}

fn row(source: &str, property: &str, values: &[(&str, &str)]) -> Row {
    Row {
        source: source.into(),
        property: property.into(),
        update: "fill_empty".into(),
        values: (!values.is_empty()).then(|| {
            values
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        }),
    }
}

fn definitions() -> Vec<PropertyDef> {
    vec![
        def("name", "string", &[], false, false),
        def("domain", "string", &[], false, false),
        def(
            "industry",
            "enumeration",
            &["COMPUTER_SOFTWARE", "BANKING"],
            false,
            false,
        ),
        def("hs_num_contacts", "number", &[], true, false),
        def("createdate", "datetime", &[], false, true),
    ]
}

#[test]
fn every_rejection_reason_with_its_row() {
    let mut bad_update = row("name", "name", &[]);
    bad_update.update = "replace".into();
    let mapping = Mapping {
        fields: vec![
            row("domain", "domain", &[]),
            row(" ", "name", &[]),
            row("x", "", &[]),
            row("x", "no_such_property", &[]),
            row("x", "hs_num_contacts", &[]),
            row("x", "createdate", &[]),
            row(
                "x",
                "industry",
                &[("Software", "COMPUTER_SOFTWARE"), ("Banks", "banking")],
            ),
            row("x", "hubspot_owner_id", &[]),
            bad_update,
        ],
    };
    let problems = mapping.problems(&definitions());
    let rows: Vec<usize> = problems.iter().map(|p| p.row).collect();
    assert_eq!(rows, vec![1, 2, 3, 4, 5, 6, 7, 8], "{problems:#?}");
    let text = |row: usize| {
        problems
            .iter()
            .find(|p| p.row == row)
            .unwrap()
            .message
            .clone()
    };
    assert!(text(1).contains("source is blank"));
    assert!(text(2).contains("property is blank"));
    assert!(text(3).contains("does not exist"));
    assert!(text(4).contains("calculated"));
    assert!(text(5).contains("read-only"));
    assert!(
        text(6).contains("\"banking\""),
        "case-sensitive: {}",
        text(6)
    );
    assert!(text(7).contains("hubspot_owner_id"));
    assert!(text(8).contains("fill_empty or overwrite"));
}

#[test]
fn defaults_validate_against_the_standard_properties() {
    let standard = |names: &[&str]| -> Vec<PropertyDef> {
        names
            .iter()
            .map(|n| def(n, "string", &[], false, false))
            .collect()
    };
    let companies = standard(&["name", "domain", "phone", "industry", "city", "country"]);
    assert_eq!(
        Mapping::default_for(ObjectType::Companies).problems(&companies),
        vec![]
    );
    let contacts = standard(&[
        "email",
        "firstname",
        "lastname",
        "company",
        "jobtitle",
        "phone",
        "mobilephone",
    ]);
    assert_eq!(
        Mapping::default_for(ObjectType::Contacts).problems(&contacts),
        vec![]
    );
}

#[test]
fn saved_mapping_replaces_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let kind = ObjectType::Companies;
    let (one, other) = (Some(1), Some(2));
    assert_eq!(
        Mapping::current(&store, one, kind).unwrap(),
        Mapping::default_for(kind)
    );
    let mapping = Mapping {
        fields: vec![row("site", "domain", &[])],
    };
    mapping.save(&store, one, kind, &definitions()).unwrap();
    assert_eq!(Mapping::current(&store, one, kind).unwrap(), mapping);
    assert_eq!(
        Mapping::current(&store, other, kind).unwrap(),
        Mapping::default_for(kind),
        "each portal has its own"
    );
    let invalid = Mapping {
        fields: vec![row("", "", &[])],
    };
    assert!(
        matches!(invalid.save(&store, one, kind, &definitions()), Err(SaveError::Invalid(p)) if p.len() == 2)
    );
    assert_eq!(Mapping::current(&store, one, kind).unwrap(), mapping);
}

#[test]
fn the_deployments_mapping_serves_a_portal_until_it_saves_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let kind = ObjectType::Companies;
    let deployment = Mapping {
        fields: vec![row("site", "domain", &[])],
    };
    deployment.save(&store, None, kind, &definitions()).unwrap();
    assert_eq!(Mapping::current(&store, Some(7), kind).unwrap(), deployment);
    let own = Mapping {
        fields: vec![row("name", "name", &[])],
    };
    own.save(&store, Some(7), kind, &definitions()).unwrap();
    assert_eq!(Mapping::current(&store, Some(7), kind).unwrap(), own);
    assert_eq!(Mapping::current(&store, None, kind).unwrap(), deployment);
}
