//! The plan's truth table, hierarchy, translation, update modes and value checks.

use super::*;
use crate::export::mapping::Row;

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn record(id: i64, pairs: &[(&str, &str)]) -> Record {
    Record {
        id,
        properties: fields(pairs),
        ..Record::default()
    }
}

fn def(name: &str, value_type: &str, field_type: &str, options: &[&str]) -> PropertyDef {
    PropertyDef {
        name: name.into(),
        value_type: value_type.into(),
        field_type: field_type.into(),
        options: options
            .iter()
            .map(|o| ((*o).to_owned(), o.to_lowercase()))
            .collect(),
        ..PropertyDef::default()
    }
}

fn definitions() -> Definitions {
    Definitions::new(vec![
        def("email", "string", "text", &[]),
        def("firstname", "string", "text", &[]),
        def("lastname", "string", "text", &[]),
        def("company", "string", "text", &[]),
        def("domain", "string", "text", &[]),
        def("jobtitle", "string", "text", &[]),
        def("phone", "string", "phonenumber", &[]),
        def("mobilephone", "string", "phonenumber", &[]),
        def(
            "industry",
            "enumeration",
            "select",
            &["COMPUTER_SOFTWARE", "BANKING"],
        ),
        def("tags", "enumeration", "checkbox", &["A", "B"]),
        def("numberofemployees", "number", "number", &[]),
        def("founded", "date", "date", &[]),
        def("active", "bool", "booleancheckbox", &[]),
    ])
}

fn settings(bits: u8, on_duplicate: OnDuplicate) -> TypeSettings {
    TypeSettings {
        max_records: 100,
        create_new: bits & 1 != 0,
        update_existing: bits & 2 != 0,
        allow_duplicates: bits & 4 != 0,
        on_duplicate,
        associate_company: false,
    }
}

const CHOICES: [OnDuplicate; 3] = [OnDuplicate::Update, OnDuplicate::Create, OnDuplicate::Skip];

/// The contract's rule, written out independently of `decide`.
fn expected(s: &TypeSettings, per_record: Option<OnDuplicate>, duplicate: bool) -> &'static str {
    if !duplicate {
        return if s.create_new {
            "create"
        } else {
            "not_allowed"
        };
    }
    match per_record.unwrap_or(s.on_duplicate) {
        OnDuplicate::Skip => "skip",
        OnDuplicate::Update if s.update_existing => "update",
        OnDuplicate::Create if s.allow_duplicates => "create",
        _ => "not_allowed",
    }
}

fn outcome(action: &Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update { .. } => "update",
        Action::Skip { .. } => "skip",
        Action::Fail(failure) => failure.code,
    }
}

#[test]
fn truth_table_over_every_setting_combination() {
    let mapping = Mapping::default_for(ObjectType::Contacts);
    let input = fields(&[("email", "bo@acme.com"), ("first_name", "Bo")]);
    let mapped = map_fields(&mapping, &input);
    let existing = [record(7, &[("email", "bo@acme.com")])];
    let mut rows = 0;
    for bits in 0..8 {
        for default in CHOICES {
            let s = settings(bits, default);
            for per_record in [
                None,
                Some(OnDuplicate::Update),
                Some(OnDuplicate::Create),
                Some(OnDuplicate::Skip),
            ] {
                for duplicate in [false, true] {
                    let matches: &[Record] = if duplicate { &existing } else { &[] };
                    let plan = decide(&s, &definitions(), &mapped, per_record, matches);
                    let want = expected(&s, per_record, duplicate);
                    assert_eq!(
                        outcome(&plan.action),
                        want,
                        "{s:?} {per_record:?} dup={duplicate}"
                    );
                    assert_eq!(plan.duplicates, if duplicate { vec![7] } else { vec![] });
                    rows += 1;
                }
            }
        }
    }
    assert_eq!(rows, 8 * 3 * 4 * 2);
}

#[test]
fn hierarchy_takes_the_first_non_empty_source() {
    let mapping = Mapping::default_for(ObjectType::Contacts);
    let check = |pairs: &[(&str, &str)], want: Option<&str>| {
        let mapped = map_fields(&mapping, &fields(pairs));
        assert_eq!(
            mapped.get("phone").map(|m| m.value.as_str()),
            want,
            "{pairs:?}"
        );
    };
    check(&[("direct_phone", "1"), ("company_phone", "2")], Some("1"));
    check(&[("direct_phone", "  "), ("company_phone", "2")], Some("2"));
    check(&[("company_phone", "2")], Some("2"));
    check(&[("mobile_phone", "3")], None);
}

#[test]
fn picklist_values_are_translated_and_checked() {
    let mut mapping = Mapping::default_for(ObjectType::Companies);
    mapping.fields[3].values = Some(
        [("Software".to_owned(), "COMPUTER_SOFTWARE".to_owned())]
            .into_iter()
            .collect(),
    );
    let s = settings(7, OnDuplicate::Update);
    let check = |industry: &str, want: Result<&str, &str>| {
        let mapped = map_fields(
            &mapping,
            &fields(&[("domain", "acme.com"), ("industry", industry)]),
        );
        let plan = decide(&s, &definitions(), &mapped, None, &[]);
        match (want, &plan.action) {
            (Ok(value), Action::Create) => assert_eq!(plan.properties["industry"], value),
            (Err(property), Action::Fail(failure)) => {
                assert_eq!(failure.code, "invalid_value");
                assert_eq!(failure.property.as_deref(), Some(property));
            }
            (want, got) => panic!("{industry:?}: want {want:?}, got {got:?}"),
        }
    };
    check("Software", Ok("COMPUTER_SOFTWARE"));
    check("BANKING", Ok("BANKING"));
    check("banking", Err("industry"));
    check("Retail", Err("industry"));
}

#[test]
fn fill_empty_and_overwrite_on_update() {
    let mut mapping = Mapping::default_for(ObjectType::Contacts);
    mapping.fields[4].update = "overwrite".into(); // job_title → jobtitle
    let mapped = map_fields(
        &mapping,
        &fields(&[
            ("email", "bo@acme.com"),
            ("first_name", "Bo"),
            ("last_name", "Li"),
            ("job_title", "CTO"),
        ]),
    );
    let existing = [record(
        7,
        &[
            ("email", "bo@acme.com"),
            ("firstname", "Robert"),
            ("jobtitle", "Dev"),
        ],
    )];
    let plan = decide(
        &settings(7, OnDuplicate::Update),
        &definitions(),
        &mapped,
        None,
        &existing,
    );
    assert_eq!(plan.action, Action::Update { id: 7 });
    assert_eq!(
        plan.properties,
        fields(&[("jobtitle", "CTO"), ("lastname", "Li")])
    );

    let same = [record(
        7,
        &[
            ("email", "bo@acme.com"),
            ("firstname", "X"),
            ("lastname", "Y"),
            ("jobtitle", "CTO"),
        ],
    )];
    let plan = decide(
        &settings(7, OnDuplicate::Update),
        &definitions(),
        &mapped,
        None,
        &same,
    );
    assert_eq!(
        plan.action,
        Action::Skip {
            id: Some(7),
            reason: "unchanged"
        }
    );
}

#[test]
fn values_are_checked_against_their_definitions() {
    let defs = definitions();
    let cases = [
        ("numberofemployees", "12", true),
        ("numberofemployees", "12.5", true),
        ("numberofemployees", "twelve", false),
        ("founded", "2024-02-29", true),
        ("founded", "1700000000000", true),
        ("founded", "2023-02-30", false),
        ("founded", "29.02.2024", false),
        ("active", "true", true),
        ("active", "yes", false),
        ("tags", "A;B", true),
        ("tags", ";A", true),
        ("tags", "A;C", false),
        ("email", "bo@acme.com", true),
        ("email", "bo at acme", false),
        ("phone", "anything", true),
    ];
    for (name, value, ok) in cases {
        assert_eq!(
            check_value(&defs.0[name], value).is_ok(),
            ok,
            "{name}={value:?}"
        );
    }
}

#[test]
fn unknown_property_fails_the_record_not_the_plan() {
    let mapping = Mapping {
        fields: vec![Row {
            source: "x".into(),
            property: "nope".into(),
            update: "fill_empty".into(),
            values: None,
        }],
    };
    let mapped = map_fields(&mapping, &fields(&[("x", "1")]));
    let plan = decide(
        &settings(7, OnDuplicate::Update),
        &definitions(),
        &mapped,
        None,
        &[],
    );
    assert!(matches!(plan.action, Action::Fail(ref f) if f.property.as_deref() == Some("nope")));
    // Before definitions were read nothing is checked.
    let plan = decide(
        &settings(7, OnDuplicate::Update),
        &Definitions::default(),
        &mapped,
        None,
        &[],
    );
    assert_eq!(plan.action, Action::Create);
}

#[test]
fn duplicate_keys_come_from_mapped_properties() {
    let mapping = Mapping::default_for(ObjectType::Contacts);
    let mapped = map_fields(
        &mapping,
        &fields(&[
            ("first_name", "Bo"),
            ("last_name", "Li"),
            ("company", "Acme"),
        ]),
    );
    let q = query(ObjectType::Contacts, &mapped);
    assert_eq!(
        (q.email, q.first_name.as_deref(), q.company.as_deref()),
        (None, Some("Bo"), Some("Acme"))
    );
    let mapped = map_fields(
        &Mapping::default_for(ObjectType::Companies),
        &fields(&[("domain", "www.acme.com")]),
    );
    assert_eq!(
        query(ObjectType::Companies, &mapped).domain.as_deref(),
        Some("www.acme.com")
    );
}
