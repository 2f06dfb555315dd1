//! Lookups, indicators with filters, matches and user mappings against the simulator's
//! portal. Expected answers are computed here from the simulator's own data, never from
//! the gateway's indexes.

use std::collections::{BTreeMap, BTreeSet};

use hubspot_gateway::sim::{ObjectType, SimConfig, Snapshot, SnapshotRecord};
use hubspot_gateway::time::parse_ms;
use serde_json::{json, Value};

use crate::mirror::{small_portal, Harness};
use crate::support::{ADMIN_TOKEN, READ_TOKEN};

fn norm_domain(text: &str) -> String {
    let lower = text.trim().to_lowercase();
    let bare = lower.strip_prefix("www.").unwrap_or(&lower);
    idna::domain_to_ascii(bare).unwrap()
}

fn prop<'a>(record: &'a SnapshotRecord, name: &str) -> &'a str {
    record
        .properties
        .get(name)
        .map(String::as_str)
        .unwrap_or("")
}

fn records(snapshot: &Snapshot, kind: ObjectType) -> &[SnapshotRecord] {
    &snapshot.objects[&kind]
}

fn ids(answer: &Value) -> BTreeSet<String> {
    answer["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn post(harness: &Harness, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let response = harness
        .gateway
        .http
        .post(harness.gateway.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    crate::support::answer(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_find_exactly_the_portals_records() {
    let harness = Harness::start(small_portal()).await;
    let snapshot = harness.sim.control().snapshot();
    let companies = records(&snapshot, ObjectType::Companies);
    for company in companies.iter().take(60) {
        let domain = prop(company, "domain");
        let expected: BTreeSet<String> = companies
            .iter()
            .filter(|other| norm_domain(prop(other, "domain")) == norm_domain(domain))
            .map(|other| other.id.clone())
            .collect();
        for query in [
            domain.to_owned(),
            format!("https://WWW.{}/about?x=1", norm_domain(domain)),
            format!("{}.", domain),
        ] {
            let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
            let (status, answer) = harness
                .gateway
                .get(
                    &format!("/v1/companies/lookup?domain={encoded}"),
                    Some(READ_TOKEN),
                )
                .await;
            assert_eq!(status, 200, "{query}: {answer}");
            assert_eq!(ids(&answer), expected, "domain {query:?}");
            assert_eq!(answer["in_crm"], true);
        }
    }
    let (_, unknown) = harness
        .gateway
        .get(
            "/v1/companies/lookup?domain=nobody-here.example",
            Some(READ_TOKEN),
        )
        .await;
    assert_eq!(
        (
            unknown["in_crm"].clone(),
            unknown["matches"].as_array().unwrap().len()
        ),
        (json!(false), 0)
    );
    // Duplicates at different locations: every one, in a stable order.
    let (_, first) = harness
        .gateway
        .get(
            &format!(
                "/v1/companies/lookup?domain={}",
                prop(&companies[0], "domain")
            ),
            Some(READ_TOKEN),
        )
        .await;
    let (_, again) = harness
        .gateway
        .get(
            &format!(
                "/v1/companies/lookup?domain={}",
                prop(&companies[0], "domain")
            ),
            Some(READ_TOKEN),
        )
        .await;
    assert_eq!(first["matches"], again["matches"]);

    let contacts = records(&snapshot, ObjectType::Contacts);
    for contact in contacts.iter().take(60) {
        let email = prop(contact, "email");
        let expected: BTreeSet<String> = contacts
            .iter()
            .filter(|other| prop(other, "email").eq_ignore_ascii_case(email))
            .map(|other| other.id.clone())
            .collect();
        let encoded: String =
            url::form_urlencoded::byte_serialize(email.to_uppercase().as_bytes()).collect();
        let (status, answer) = harness
            .gateway
            .get(
                &format!("/v1/contacts/lookup?email={encoded}"),
                Some(READ_TOKEN),
            )
            .await;
        assert_eq!((status, ids(&answer)), (200, expected), "email {email}");
        let indicator = &answer["matches"][0];
        assert_eq!(indicator["type"], "contacts");
        assert!(indicator["url"]
            .as_str()
            .unwrap()
            .contains(&format!("/record/0-1/{}", contact.id)));
        assert!(indicator["matched_at"].as_str().is_some());
    }
    for contact in contacts
        .iter()
        .filter(|c| !prop(c, "company").is_empty())
        .take(20)
    {
        let key = |c: &SnapshotRecord| {
            [
                prop(c, "firstname"),
                prop(c, "lastname"),
                prop(c, "company"),
            ]
            .map(|part| part.trim().to_lowercase())
        };
        let expected: BTreeSet<String> = contacts
            .iter()
            .filter(|other| key(other) == key(contact))
            .map(|o| o.id.clone())
            .collect();
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("first_name", &prop(contact, "firstname").to_uppercase())
            .append_pair("last_name", prop(contact, "lastname"))
            .append_pair("company", prop(contact, "company"))
            .finish();
        let (status, answer) = harness
            .gateway
            .get(&format!("/v1/contacts/lookup?{query}"), Some(READ_TOKEN))
            .await;
        assert_eq!((status, ids(&answer)), (200, expected), "name {query}");
    }
    for (path, code) in [
        ("/v1/contacts/lookup", "bad_request"),
        ("/v1/contacts/lookup?email=not-an-email", "bad_request"),
        ("/v1/contacts/lookup?first_name=Bo", "bad_request"),
        ("/v1/companies/lookup?domain=localhost", "bad_request"),
    ] {
        let (status, answer) = harness.gateway.get(path, Some(READ_TOKEN)).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{path}"
        );
    }
    harness.stop().await;
}

/// What the filter should say about an item whose matches are `matches`, from the portal.
struct Truth<'a> {
    snapshot: &'a Snapshot,
    by_id: BTreeMap<(ObjectType, &'a str), &'a SnapshotRecord>,
}

impl<'a> Truth<'a> {
    fn new(snapshot: &'a Snapshot) -> Self {
        let mut by_id = BTreeMap::new();
        for (kind, list) in &snapshot.objects {
            for record in list {
                by_id.insert((*kind, record.id.as_str()), record);
            }
        }
        Truth { snapshot, by_id }
    }

    fn linked(&self, kind: ObjectType, id: &str, to: ObjectType) -> Vec<&'a SnapshotRecord> {
        self.snapshot
            .associations
            .iter()
            .filter(|(from, from_id, to_kind, _)| *from == kind && from_id == id && *to_kind == to)
            .filter_map(|(_, _, _, to_id)| self.by_id.get(&(to, to_id.as_str())).copied())
            .collect()
    }

    fn passes(
        &self,
        kind: ObjectType,
        matches: &[&SnapshotRecord],
        filter: &Value,
        now_ms: i64,
    ) -> bool {
        let owner = |r: &SnapshotRecord| prop(r, "hubspot_owner_id").to_owned();
        let list = |key: &str| -> Vec<String> {
            filter["owners"][key]
                .as_array()
                .map(|v| v.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default()
        };
        let (include, exclude) = (list("include"), list("exclude"));
        if filter["owners"].get("include").is_some()
            && !matches.iter().any(|r| include.contains(&owner(r)))
        {
            return false;
        }
        if matches.iter().any(|r| exclude.contains(&owner(r))) {
            return false;
        }
        if filter["exclude_email_opt_out"] == true
            && kind == ObjectType::Contacts
            && matches.iter().any(|r| prop(r, "hs_email_optout") == "true")
        {
            return false;
        }
        if let Some(types) = filter["company_types"].as_array() {
            let typed = |c: &SnapshotRecord| types.iter().any(|t| t == prop(c, "type"));
            let ok = match kind {
                ObjectType::Companies => matches.iter().any(|r| typed(r)),
                _ => matches.iter().any(|r| {
                    self.linked(kind, &r.id, ObjectType::Companies)
                        .iter()
                        .any(|c| typed(c))
                }),
            };
            if !ok {
                return false;
            }
        }
        if let Some(days) = filter["deals_created_within_days"].as_i64() {
            let since = now_ms - days * 86_400_000;
            let recent = matches.iter().any(|r| {
                self.linked(kind, &r.id, ObjectType::Deals)
                    .iter()
                    .any(|d| parse_ms(prop(d, "createdate")).is_some_and(|t| t >= since))
            });
            if !recent {
                return false;
            }
        }
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicator_filters_match_a_truth_table_computed_from_the_portal() {
    let harness = Harness::start(SimConfig {
        deals: 200,
        ..small_portal()
    })
    .await;
    let snapshot = harness.sim.control().snapshot();
    let truth = Truth::new(&snapshot);
    let companies = records(&snapshot, ObjectType::Companies);
    let contacts = records(&snapshot, ObjectType::Contacts);
    let mut company_items: Vec<Value> = companies
        .iter()
        .take(80)
        .enumerate()
        .map(|(i, c)| json!({"ref": format!("c-{i}"), "domain": prop(c, "domain")}))
        .collect();
    company_items.push(json!({"ref": "c-unknown", "domain": "unknown-company.example"}));
    let mut contact_items: Vec<Value> = contacts
        .iter()
        .take(80)
        .enumerate()
        .map(|(i, c)| json!({"ref": format!("p-{i}"), "email": prop(c, "email")}))
        .collect();
    contact_items.push(json!({"ref": "p-unknown", "email": "nobody@unknown.example"}));
    let owners: Vec<String> = snapshot.owners.iter().map(|o| o.id.to_string()).collect();
    let types: BTreeSet<&str> = companies
        .iter()
        .map(|c| prop(c, "type"))
        .filter(|t| !t.is_empty())
        .collect();
    let first_type = types.iter().next().copied().unwrap_or("PROSPECT");
    let filters = [
        json!({}),
        json!({"owners": {"include": [owners[0], owners[1], owners[2]]}}),
        json!({"owners": {"exclude": [owners[0], owners[3]]}}),
        json!({"company_types": [first_type]}),
        json!({"deals_created_within_days": 365}),
        json!({"exclude_email_opt_out": true}),
        json!({"owners": {"exclude": [owners[1]]}, "company_types": [first_type], "exclude_email_opt_out": true}),
    ];
    for filter in filters {
        let request =
            json!({"companies": company_items, "contacts": contact_items, "filter": filter});
        let now_ms = crate::support::signing::now_ms();
        let (status, answer) = post(&harness, "/v1/indicators", READ_TOKEN, &request).await;
        assert_eq!(status, 200, "{answer}");
        for (kind, items, key, field) in [
            (ObjectType::Companies, &company_items, "companies", "domain"),
            (ObjectType::Contacts, &contact_items, "contacts", "email"),
        ] {
            let results = answer[key].as_array().unwrap();
            assert_eq!(results.len(), items.len());
            for (item, result) in items.iter().zip(results) {
                assert_eq!(result["ref"], item["ref"], "request order");
                let wanted = item[field].as_str().unwrap();
                let matches: Vec<&SnapshotRecord> = records(&snapshot, kind)
                    .iter()
                    .filter(|r| match kind {
                        ObjectType::Companies => {
                            norm_domain(prop(r, "domain")) == norm_domain(wanted)
                        }
                        _ => prop(r, "email").eq_ignore_ascii_case(wanted),
                    })
                    .collect();
                let expected_ids: BTreeSet<String> = matches.iter().map(|r| r.id.clone()).collect();
                assert_eq!(ids(result), expected_ids, "{key} {}", item["ref"]);
                assert_eq!(result["in_crm"], !matches.is_empty());
                let expected = truth.passes(kind, &matches, &filter, now_ms);
                assert_eq!(
                    result["passes_filter"], expected,
                    "{key} {} with {filter}",
                    item["ref"]
                );
            }
        }
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_auth_and_recorded_matches() {
    let harness = Harness::start(small_portal()).await;
    let snapshot = harness.sim.control().snapshot();
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"ref": i, "domain": format!("d{i}.example")}))
        .collect();
    let (status, answer) = post(
        &harness,
        "/v1/indicators",
        READ_TOKEN,
        &json!({"companies": many}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("too_many_items"))
    );
    let eleven: Vec<String> = (0..11).map(|i| (100 + i).to_string()).collect();
    let request = json!({"companies": [], "filter": {"owners": {"include": eleven}}});
    let (status, answer) = post(&harness, "/v1/indicators", READ_TOKEN, &request).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_filter"))
    );
    let both = json!({"filter": {"owners": {"include": ["1"], "exclude": ["2"]}}});
    assert_eq!(
        post(&harness, "/v1/indicators", READ_TOKEN, &both).await.0,
        400
    );
    let response = harness
        .gateway
        .http
        .post(harness.gateway.url("/v1/indicators"))
        .bearer_auth(READ_TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::support::answer(response).await.1["error"]["code"],
        "invalid_json"
    );
    assert_eq!(
        post(&harness, "/v1/indicators", "wrong-token", &json!({}))
            .await
            .0,
        401
    );
    let delete = harness
        .gateway
        .http
        .delete(harness.gateway.url("/v1/matches/companies"))
        .bearer_auth(READ_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);

    // Matches are recorded once, counted in status, and can be forgotten.
    let domain = prop(&records(&snapshot, ObjectType::Companies)[0], "domain").to_owned();
    let path = format!("/v1/companies/lookup?domain={domain}");
    let (_, first) = harness.gateway.get(&path, Some(READ_TOKEN)).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (_, second) = harness.gateway.get(&path, Some(READ_TOKEN)).await;
    assert_eq!(
        first["matches"][0]["matched_at"],
        second["matches"][0]["matched_at"]
    );
    let (_, status) = harness.gateway.get("/v1/status", Some(READ_TOKEN)).await;
    let matched = status["companies"]["matched"].as_u64().unwrap();
    assert_eq!(matched, first["matches"].as_array().unwrap().len() as u64);
    let rate = status["companies"]["match_rate"].as_f64().unwrap();
    assert!((rate - matched as f64 / status["companies"]["count"].as_f64().unwrap()).abs() < 1e-9);
    let delete = harness
        .gateway
        .http
        .delete(harness.gateway.url("/v1/matches/companies"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 200);
    let (_, status) = harness.gateway.get("/v1/status", Some(READ_TOKEN)).await;
    assert_eq!(status["companies"]["matched"], 0);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_mapping_life_cycle_including_a_portal_switch() {
    let harness = Harness::start(small_portal()).await;
    let owners = harness.sim.control().owners();
    let active: Vec<_> = owners.iter().filter(|o| !o.archived).collect();
    let archived = owners
        .iter()
        .find(|o| o.archived)
        .expect("the portal has an archived owner");
    let put = |email: &str, owner: String| {
        let request = harness
            .gateway
            .http
            .put(harness.gateway.url(&format!("/v1/user-mappings/{email}")))
            .bearer_auth(ADMIN_TOKEN);
        async move {
            crate::support::answer(
                request
                    .json(&json!({"owner_id": owner}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, manual) = put("Seller.One@Internal.example", active[1].id.to_string()).await;
    assert_eq!(
        (status, manual["source"].as_str(), manual["status"].as_str()),
        (200, Some("manual"), Some("mapped"))
    );
    assert_eq!(manual["email"], "seller.one@internal.example");
    assert_eq!(
        put("seller.two@internal.example", archived.id.to_string())
            .await
            .0,
        400,
        "archived owners are never assigned"
    );
    assert_eq!(put("seller.two@internal.example", "42".into()).await.0, 400);

    // Auto: by equal email (any case), manual mappings kept, unknown users unmapped.
    let emails = json!({"emails": [active[2].email.to_uppercase(), "seller.one@internal.example", "stranger@internal.example"]});
    let (status, auto) = post(&harness, "/v1/user-mappings/auto", ADMIN_TOKEN, &emails).await;
    assert_eq!(status, 200, "{auto}");
    let mapped = auto["mappings"].as_array().unwrap();
    assert_eq!(
        (mapped[0]["owner_id"].as_str(), mapped[0]["source"].as_str()),
        (Some(active[2].id.to_string().as_str()), Some("auto"))
    );
    assert_eq!(mapped[1]["source"], "manual");
    assert_eq!(
        (mapped[2]["status"].as_str(), mapped[2]["owner_id"].clone()),
        (Some("unmapped"), Value::Null)
    );

    // Resolve: mapped, then a new user whose email is an owner's, then the fallback.
    let resolve = |email: &str| {
        let body = json!({"user_email": email});
        let harness = &harness;
        async move { post(harness, "/v1/ownership/resolve", READ_TOKEN, &body).await }
    };
    let (_, answer) = resolve("seller.one@internal.example").await;
    assert_eq!(
        (answer["owner_id"].as_str(), answer["reason"].as_str()),
        (Some(active[1].id.to_string().as_str()), Some("mapped"))
    );
    let (_, answer) = resolve(&active[3].email).await;
    assert_eq!(
        (answer["owner_id"].as_str(), answer["reason"].as_str()),
        (Some(active[3].id.to_string().as_str()), Some("email_match"))
    );
    let (_, list) = harness
        .gateway
        .get("/v1/user-mappings", Some(ADMIN_TOKEN))
        .await;
    assert!(list["mappings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["email"] == active[3].email.to_lowercase() && m["source"] == "auto"));
    let (_, answer) = resolve("stranger@internal.example").await;
    // The token's user is the simulator's first owner: the connecting admin.
    assert_eq!(
        (answer["owner_id"].as_str(), answer["reason"].as_str()),
        (Some(owners[0].id.to_string().as_str()), Some("fallback"))
    );
    let delete = harness
        .gateway
        .http
        .delete(
            harness
                .gateway
                .url("/v1/user-mappings/stranger@internal.example"),
        )
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 204);
    let delete = harness
        .gateway
        .http
        .delete(
            harness
                .gateway
                .url("/v1/user-mappings/stranger@internal.example"),
        )
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 404);

    // Switch to another portal on the same store: reset drops mappings to owners that do not
    // exist there and maps again by email.
    let dir = harness.stop().await;
    let other = SimConfig {
        seed: 7,
        portal_id: 77_000_001,
        ..small_portal()
    };
    let harness = Harness::start_in(other, dir).await;
    let new_owners = harness.sim.control().owners();
    let (status, reset) = post(&harness, "/v1/user-mappings/reset", ADMIN_TOKEN, &json!({})).await;
    assert_eq!(status, 200, "{reset}");
    let new_ids: BTreeSet<String> = new_owners.iter().map(|o| o.id.to_string()).collect();
    for mapping in reset["mappings"].as_array().unwrap() {
        if let Some(owner) = mapping["owner_id"].as_str() {
            assert!(
                new_ids.contains(owner),
                "{mapping} points at an owner of the old portal"
            );
        }
    }
    harness.stop().await;
}
