//! Export into HubSpot against the simulator over sockets: dry runs and the duplicate truth
//! table, mappings (validation, hierarchy, picklists), ownership of created records, jobs
//! writing each record exactly once (concurrent jobs, a 409 race), the mirror seeing writes.

use std::collections::BTreeMap;
use std::time::Duration;

use hubspot_gateway::sim::{ObjectType, SimHandle};
use reqwest::Method;
use serde_json::{json, Value};

use crate::mirror::{small_portal, wait_until, Harness};
use crate::support::{ADMIN_TOKEN, EXPORT_TOKEN, READ_TOKEN};

/// Live records of `kind` in the simulator, by a property's lower-cased value.
fn count_by(sim: &SimHandle, kind: ObjectType, property: &str) -> BTreeMap<String, Vec<String>> {
    let snapshot = sim.control().snapshot();
    let mut by = BTreeMap::<String, Vec<String>>::new();
    for record in snapshot.objects.get(&kind).into_iter().flatten() {
        if let Some(value) = record.properties.get(property) {
            by.entry(value.to_lowercase())
                .or_default()
                .push(record.id.clone());
        }
    }
    by
}

async fn post(h: &Harness, path: &str, token: &str, body: &Value) -> (u16, Value) {
    h.gateway.send(Method::POST, path, token, body).await
}

async fn put(h: &Harness, path: &str, body: &Value) -> (u16, Value) {
    h.gateway.send(Method::PUT, path, ADMIN_TOKEN, body).await
}

/// Starts a job and waits until it is done; returns the job.
async fn run_job(h: &Harness, request: &Value) -> Value {
    let (status, started) = post(h, "/v1/exports", EXPORT_TOKEN, request).await;
    assert_eq!(status, 202, "{started}");
    let id = started["export_id"].as_str().unwrap().to_owned();
    wait_for_job(h, &id, Duration::from_secs(60)).await
}

async fn wait_for_job(h: &Harness, id: &str, within: Duration) -> Value {
    let path = format!("/v1/exports/{id}");
    wait_until("export job done", within, || async {
        let (_, job) = h.gateway.get(&path, Some(EXPORT_TOKEN)).await;
        job["state"] == "done"
    })
    .await;
    h.gateway.get(&path, Some(EXPORT_TOKEN)).await.1
}

fn contact(reference: &str, email: &str, extra: &[(&str, &str)]) -> Value {
    let mut fields = json!({"email": email, "first_name": "Ex", "last_name": reference});
    for (name, value) in extra {
        fields[*name] = json!(value);
    }
    json!({"ref": reference, "fields": fields})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_truth_table_over_every_setting_combination() {
    let h = Harness::start(small_portal()).await;
    let domains = count_by(&h.sim, ObjectType::Companies, "domain");
    let existing = domains.keys().next().unwrap().clone();
    let records = |per_record: Option<&str>| {
        let mut records = Vec::new();
        for (reference, domain) in [
            ("dup", existing.as_str()),
            ("new", "brand-new-export.example"),
        ] {
            let mut record = json!({"ref": reference, "fields": {"name": "X", "domain": domain}});
            if let Some(choice) = per_record {
                record["on_duplicate"] = json!(choice);
            }
            records.push(record);
        }
        records
    };
    let mut checked = 0;
    for bits in 0..8u8 {
        for default in ["update", "create", "skip"] {
            let settings = json!({"companies": {
                "create_new": bits & 1 != 0, "update_existing": bits & 2 != 0,
                "allow_duplicates": bits & 4 != 0, "on_duplicate": default}});
            let (status, body) = put(&h, "/v1/export/settings", &settings).await;
            assert_eq!(status, 200, "{body}");
            for per_record in [None, Some("update"), Some("create"), Some("skip")] {
                let request = json!({"type": "companies", "user_email": "seller@internal.example",
                                     "dry_run": true, "records": records(per_record)});
                let (status, plan) = post(&h, "/v1/exports", EXPORT_TOKEN, &request).await;
                assert_eq!(status, 200, "{plan}");
                for result in plan["results"].as_array().unwrap() {
                    // Expected from the simulator's data and the contract's rules.
                    let domain = if result["ref"] == "dup" {
                        existing.as_str()
                    } else {
                        "brand-new-export.example"
                    };
                    let duplicate = domains.contains_key(domain);
                    let choice = per_record.unwrap_or(default);
                    let want = match (duplicate, choice) {
                        (false, _) if bits & 1 != 0 => "created",
                        (false, _) => "failed",
                        (true, "skip") => "skipped",
                        (true, "update") if bits & 2 != 0 => "updated",
                        (true, "create") if bits & 4 != 0 => "created",
                        _ => "failed",
                    };
                    let got = result["action"].as_str().unwrap();
                    // An update that would change nothing is reported as skipped ("unchanged").
                    let got = if got == "skipped" && result["reason"] == "unchanged" {
                        "updated"
                    } else {
                        got
                    };
                    assert_eq!(
                        got, want,
                        "bits={bits} default={default} per_record={per_record:?}: {result}"
                    );
                    if want == "failed" {
                        assert_eq!(result["error"]["code"], "not_allowed");
                    }
                    let found: Vec<String> = result["duplicates"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_owned())
                        .collect();
                    assert_eq!(
                        found,
                        domains
                            .get(domain)
                            .cloned()
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|_| duplicate)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .take(found.len())
                            .collect::<Vec<_>>()
                    );
                    assert_eq!(found.is_empty(), !duplicate);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 8 * 3 * 4 * 2);
    // A dry run wrote nothing.
    assert_eq!(count_by(&h.sim, ObjectType::Companies, "domain"), domains);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_validation_reports_every_problem_with_its_row() {
    let h = Harness::start(small_portal()).await;
    let (status, default) = h
        .gateway
        .get("/v1/export/mappings/contacts", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(status, 200);
    assert_eq!(default["fields"].as_array().unwrap().len(), 8);
    let mapping = json!({"fields": [
        {"source": "domain", "property": "domain"},
        {"source": "", "property": "name"},
        {"source": "x", "property": "no_such_property"},
        {"source": "x", "property": "hubspot_owner_id"},
        {"source": "x", "property": "industry", "values": {"Software": "computer_software"}},
        {"source": "x", "property": "createdate"},
    ]});
    let (status, body) = put(&h, "/v1/export/mappings/companies", &mapping).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_mapping");
    let rows: Vec<u64> = body["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, vec![1, 2, 3, 4, 5], "{body}");
    let (_, unchanged) = h
        .gateway
        .get("/v1/export/mappings/companies", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(
        unchanged["fields"][0]["source"], "name",
        "a rejected mapping is not saved"
    );
    let (status, _) = h
        .gateway
        .get("/v1/export/mappings/companies", Some(EXPORT_TOKEN))
        .await;
    assert_eq!(status, 403, "mappings need admin");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn picklists_translate_and_one_invalid_value_fails_one_record_of_a_hundred() {
    let h = Harness::start(small_portal()).await;
    let mapping = json!({"fields": [
        {"source": "name", "property": "name"},
        {"source": "domain", "property": "domain"},
        {"source": "industry", "property": "industry", "values": {"Software": "COMPUTER_SOFTWARE"}},
    ]});
    let (status, body) = put(&h, "/v1/export/mappings/companies", &mapping).await;
    assert_eq!(status, 200, "{body}");
    let records: Vec<Value> = (0..100)
        .map(|i| {
            let industry = if i == 37 { "Basket weaving" } else { "Software" };
            json!({"ref": format!("c{i}"), "fields": {"name": format!("Pick {i}"), "domain": format!("pick{i}.example"), "industry": industry}})
        })
        .collect();
    let job = run_job(
        &h,
        &json!({"type": "companies", "user_email": "seller@internal.example", "records": records}),
    )
    .await;
    assert_eq!(
        (job["created"].as_u64(), job["failed"].as_u64()),
        (Some(99), Some(1)),
        "{job}"
    );
    let failed = &job["results"][37];
    assert_eq!(failed["error"]["code"], "invalid_value");
    assert_eq!(failed["error"]["property"], "industry");
    let by_domain = count_by(&h.sim, ObjectType::Companies, "domain");
    let snapshot = h.sim.control().snapshot();
    for i in 0..100 {
        let ids = by_domain
            .get(&format!("pick{i}.example"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(ids.len(), usize::from(i != 37), "pick{i}");
        if let Some(id) = ids.first() {
            let record = snapshot.objects[&ObjectType::Companies]
                .iter()
                .find(|r| &r.id == id)
                .unwrap();
            assert_eq!(record.properties["industry"], "COMPUTER_SOFTWARE");
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_records_get_the_resolved_owner_and_updates_keep_theirs() {
    let h = Harness::start(small_portal()).await;
    let owners = h.sim.control().owners();
    let active: Vec<_> = owners.iter().filter(|o| !o.archived).collect();
    let (status, _) = put(
        &h,
        "/v1/user-mappings/mapped.seller@internal.example",
        &json!({"owner_id": active[1].id.to_string()}),
    )
    .await;
    assert_eq!(status, 200);
    // A dry run by a user whose email matches an owner shows that owner but stores no
    // mapping: a dry run writes nothing.
    let auto_mapping = || async {
        let (_, list) = h.gateway.get("/v1/user-mappings", Some(ADMIN_TOKEN)).await;
        let email = active[2].email.to_lowercase();
        list["mappings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email.as_str())
            .cloned()
    };
    let (status, dry) = post(
        &h,
        "/v1/exports",
        EXPORT_TOKEN,
        &json!({"type": "contacts", "user_email": active[2].email, "dry_run": true,
                "records": [contact("dry", "dry-owner@newco.example", &[])]}),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        dry["results"][0]["owner_id"],
        active[2].id.to_string(),
        "{dry}"
    );
    assert_eq!(auto_mapping().await, None, "the dry run stored a mapping");
    let cases = [
        ("mapped.seller@internal.example", active[1].id, "own-mapped"),
        (active[2].email.as_str(), active[2].id, "own-email"),
        ("stranger@internal.example", owners[0].id, "own-fallback"),
    ];
    for (user, owner, tag) in cases {
        let email = format!("{tag}@newco.example");
        let job = run_job(&h, &json!({"type": "contacts", "user_email": user,
                                      "records": [contact(tag, &email, &[("direct_phone", ""), ("company_phone", "+1 555 0101")])]})).await;
        let result = &job["results"][0];
        assert_eq!(
            (result["action"].as_str(), result["owner_id"].as_str()),
            (Some("created"), Some(owner.to_string().as_str())),
            "{user}: {job}"
        );
        let id = result["id"].as_str().unwrap();
        let record = h.sim.control().record(ObjectType::Contacts, id).unwrap();
        assert_eq!(record.properties["hubspot_owner_id"], owner.to_string());
        // The hierarchy: direct_phone is empty, so company_phone supplies phone.
        assert_eq!(record.properties["phone"], "+1 555 0101");
        // The mirror has it at once: a lookup right after the job finds it.
        let (_, found) = h
            .gateway
            .get(
                &format!("/v1/contacts/lookup?email={email}"),
                Some(READ_TOKEN),
            )
            .await;
        assert_eq!(found["in_crm"], true, "{found}");
    }
    // The real export did map the newly detected user.
    let mapping = auto_mapping()
        .await
        .expect("the export mapped the user by email");
    assert_eq!(
        (mapping["owner_id"].as_str(), mapping["source"].as_str()),
        (Some(active[2].id.to_string().as_str()), Some("auto"))
    );
    // An update never changes the owner.
    let snapshot = h.sim.control().snapshot();
    let target = snapshot.objects[&ObjectType::Contacts]
        .iter()
        .find(|r| {
            r.properties.contains_key("email")
                && r.properties
                    .get("hubspot_owner_id")
                    .is_some_and(|o| *o != active[1].id.to_string())
                && !r.properties.contains_key("jobtitle")
        })
        .expect("a contact with an owner and no job title");
    let before = target.properties["hubspot_owner_id"].clone();
    let job = run_job(&h, &json!({"type": "contacts", "user_email": "mapped.seller@internal.example",
                                  "records": [{"ref": "u", "fields": {"email": target.properties["email"], "job_title": "Chief Exporter"}}]})).await;
    assert_eq!(job["results"][0]["action"], "updated", "{job}");
    let after = h
        .sim
        .control()
        .record(ObjectType::Contacts, &target.id)
        .unwrap();
    assert_eq!(after.properties["jobtitle"], "Chief Exporter");
    assert_eq!(after.properties["hubspot_owner_id"], before);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_overlapping_jobs_create_each_record_once() {
    let h = Harness::start(small_portal()).await;
    let batch = |from: usize, to: usize| -> Vec<Value> {
        (from..to)
            .map(|i| {
                contact(
                    &format!("r{i}"),
                    &format!("overlap{i}@twojobs.example"),
                    &[],
                )
            })
            .collect()
    };
    // Also duplicates inside one job: the second copy must see the first.
    let mut first = batch(0, 150);
    first.push(contact("again", "overlap3@twojobs.example", &[]));
    let a = json!({"type": "contacts", "user_email": "seller@internal.example", "records": first});
    let b = json!({"type": "contacts", "user_email": "seller@internal.example", "records": batch(100, 250)});
    let ((sa, ja), (sb, jb)) = tokio::join!(
        post(&h, "/v1/exports", EXPORT_TOKEN, &a),
        post(&h, "/v1/exports", EXPORT_TOKEN, &b)
    );
    assert_eq!((sa, sb), (202, 202), "{ja} {jb}");
    let job_a = wait_for_job(
        &h,
        ja["export_id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    let job_b = wait_for_job(
        &h,
        jb["export_id"].as_str().unwrap(),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        job_a["failed"].as_u64().unwrap() + job_b["failed"].as_u64().unwrap(),
        0,
        "{job_a}\n{job_b}"
    );
    let created = job_a["created"].as_u64().unwrap() + job_b["created"].as_u64().unwrap();
    assert_eq!(created, 250);
    let by_email = count_by(&h.sim, ObjectType::Contacts, "email");
    for i in 0..250 {
        assert_eq!(
            by_email
                .get(&format!("overlap{i}@twojobs.example"))
                .map(Vec::len),
            Some(1),
            "overlap{i}"
        );
    }
    let (_, list) = h
        .gateway
        .get("/v1/exports?limit=2", Some(EXPORT_TOKEN))
        .await;
    let listed: Vec<&str> = list["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["export_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(
        listed[0].parse::<u64>().unwrap() > listed[1].parse::<u64>().unwrap(),
        "newest first"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_409_race_becomes_the_duplicate_action() {
    let h = Harness::start(small_portal()).await;
    // The mirror must not learn of the racing contact: no webhooks, and search far behind.
    h.sim.control().set_webhook_target(None);
    h.sim.control().set_search_lag_ms(600_000);
    let raced = h
        .sim
        .control()
        .create(
            ObjectType::Contacts,
            [("email", "raced@race.example"), ("firstname", "Ra")],
        )
        .unwrap();
    let records = vec![
        contact("a", "calm1@race.example", &[]),
        contact("raced", "raced@race.example", &[("job_title", "Racer")]),
        contact("b", "calm2@race.example", &[]),
    ];
    let job = run_job(
        &h,
        &json!({"type": "contacts", "user_email": "seller@internal.example", "records": records}),
    )
    .await;
    let results = job["results"].as_array().unwrap();
    assert_eq!(results[1]["action"], "updated", "{job}");
    assert_eq!(results[1]["id"], raced.as_str());
    assert_eq!(
        (results[0]["action"].as_str(), results[2]["action"].as_str()),
        (Some("created"), Some("created"))
    );
    let by_email = count_by(&h.sim, ObjectType::Contacts, "email");
    for email in [
        "raced@race.example",
        "calm1@race.example",
        "calm2@race.example",
    ] {
        assert_eq!(by_email[email].len(), 1, "{email}");
    }
    assert_eq!(
        h.sim
            .control()
            .record(ObjectType::Contacts, &raced)
            .unwrap()
            .properties["jobtitle"],
        "Racer"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_mapping_creates_reads_back_and_archives_or_reports_the_refusal() {
    let h = Harness::start(small_portal()).await;
    let path = "/v1/export/mappings/companies/test";
    let sample = json!({"fields": {"name": "Sample Co", "domain": "sample-test.example", "industry": "COMPUTER_SOFTWARE"}});
    let (status, report) = post(&h, path, ADMIN_TOKEN, &sample).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (report["ok"].as_bool(), report["archived"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(
        report["properties_written"]["industry"],
        "COMPUTER_SOFTWARE"
    );
    let id = report["created_id"].as_str().unwrap();
    assert!(
        h.sim.control().record(ObjectType::Companies, id).is_none(),
        "the sample is archived"
    );
    // A label instead of an internal value: HubSpot's refusal is reported as is.
    let bad = json!({"fields": {"name": "Sample Co", "industry": "Computer Software"}});
    let (status, refused) = post(&h, path, ADMIN_TOKEN, &bad).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "mapping_test_failed");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("industry"),
        "{refused}"
    );
    let (status, _) = post(&h, path, EXPORT_TOKEN, &sample).await;
    assert_eq!(status, 403);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_records_cost_one_create_call_per_hundred_and_no_other_write() {
    let h = Harness::start(small_portal()).await;
    let before = h.sim.stats().calls;
    let records: Vec<Value> = (0..1_000)
        .map(|i| contact(&format!("n{i}"), &format!("new{i}@calls.example"), &[]))
        .collect();
    let job = run_job(
        &h,
        &json!({"type": "contacts", "user_email": "seller@internal.example", "records": records}),
    )
    .await;
    assert_eq!(job["created"], 1_000, "{}", job["failed"]);
    let after = h.sim.stats().calls;
    let spent =
        |name: &str| after.get(name).copied().unwrap_or(0) - before.get(name).copied().unwrap_or(0);
    assert_eq!(spent("POST /crm/v3/objects/{type}/batch/create"), 10);
    // Duplicates are checked against the mirror: no write besides the batches (searches and
    // reads in the meantime are the sync's polling and its webhook follow-ups).
    for name in [
        "POST /crm/v3/objects/{type}",
        "POST /crm/v3/objects/{type}/batch/update",
        "POST /crm/v3/objects/{type}/batch/upsert",
    ] {
        assert_eq!(spent(name), 0, "{name}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_during_creates_are_reconciled_not_duplicated() {
    let h = Harness::start(small_portal()).await;
    // A 5xx after a create leaves its outcome unknown: the job pauses, then reconciles.
    h.sim.control().set_fault_rate(0.3);
    let records: Vec<Value> = (0..400)
        .map(|i| contact(&format!("f{i}"), &format!("fault{i}@faults.example"), &[]))
        .collect();
    let (status, started) = post(
        &h,
        "/v1/exports",
        EXPORT_TOKEN,
        &json!({"type": "contacts", "user_email": "seller@internal.example", "records": records}),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    let job = wait_for_job(
        &h,
        started["export_id"].as_str().unwrap(),
        Duration::from_secs(120),
    )
    .await;
    h.sim.control().set_fault_rate(0.0);
    assert_eq!(
        (job["created"].as_u64(), job["failed"].as_u64()),
        (Some(400), Some(0)),
        "{job}"
    );
    let by_email = count_by(&h.sim, ObjectType::Contacts, "email");
    for i in 0..400 {
        assert_eq!(
            by_email
                .get(&format!("fault{i}@faults.example"))
                .map(Vec::len),
            Some(1),
            "fault{i}"
        );
    }
    h.stop().await;
}

async fn wait_for_state(h: &Harness, id: &str, state: &str, within: Duration) -> Value {
    let path = format!("/v1/exports/{id}");
    wait_until(&format!("export {id} {state}"), within, || async {
        let (_, job) = h.gateway.get(&path, Some(EXPORT_TOKEN)).await;
        job["state"] == state
    })
    .await;
    h.gateway.get(&path, Some(EXPORT_TOKEN)).await.1
}

async fn start_job(h: &Harness, request: &Value) -> String {
    let (status, started) = post(h, "/v1/exports", EXPORT_TOKEN, request).await;
    assert_eq!(status, 202, "{started}");
    started["export_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_hubspot_refuses_for_good_fails_with_the_reason_and_the_next_job_runs() {
    let h = Harness::start(small_portal()).await;
    // The token loses the contacts write scope: creating contacts answers 403 naming it.
    let scopes: Vec<String> = hubspot_gateway::sim::SimConfig::default()
        .scopes
        .into_iter()
        .filter(|scope| scope != "crm.objects.contacts.write")
        .collect();
    h.sim.control().set_scopes(scopes);
    let records: Vec<Value> = (0..3)
        .map(|i| contact(&format!("s{i}"), &format!("scope{i}@scopes.example"), &[]))
        .collect();
    let refused = start_job(
        &h,
        &json!({"type": "contacts", "user_email": "seller@internal.example", "records": records}),
    )
    .await;
    let companies = start_job(
        &h,
        &json!({"type": "companies", "user_email": "seller@internal.example", "records": [
            {"ref": "c1", "fields": {"name": "After", "domain": "after-refusal.example"}}]}),
    )
    .await;
    let job = wait_for_state(&h, &refused, "failed", Duration::from_secs(30)).await;
    assert_eq!(job["error"]["code"], "missing_scopes", "{job}");
    let message = job["error"]["message"].as_str().unwrap();
    assert!(message.contains("crm.objects.contacts.write"), "{job}");
    assert_eq!(
        (job["failed"].as_u64(), job["created"].as_u64()),
        (Some(3), Some(0))
    );
    for result in job["results"].as_array().unwrap() {
        // HubSpot refused before acting: nothing is left with an unknown outcome.
        assert_eq!(result["error"]["code"], "job_failed", "{job}");
    }
    assert!(job.get("waiting").is_none(), "{job}");
    // It is not retried, and the job queued behind it runs.
    let next = wait_for_job(&h, &companies, Duration::from_secs(30)).await;
    assert_eq!(next["created"], 1, "{next}");
    let (_, again) = h
        .gateway
        .get(&format!("/v1/exports/{refused}"), Some(EXPORT_TOKEN))
        .await;
    assert_eq!(again["state"], "failed");
    let emails = count_by(&h.sim, ObjectType::Contacts, "email");
    assert!(!emails
        .keys()
        .any(|email| email.ends_with("@scopes.example")));
    h.stop().await;
}

/// A batch create HubSpot applied but whose answer arrived after the client's timeout: the
/// job reconciles the rows before sending anything again, so each record exists once and is
/// reported `created` (a blind re-send would have found them as duplicates, or, for
/// companies, created them twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_create_that_happened_is_reconciled_not_sent_again() {
    let h = Harness::start_tuned(
        small_portal(),
        tempfile::tempdir().unwrap(),
        "request_timeout_secs = 1",
    )
    .await;
    h.sim.control().stall_writes(1, Duration::from_secs(3));
    let records: Vec<Value> = (0..150)
        .map(|i| contact(&format!("t{i}"), &format!("late{i}@timeouts.example"), &[]))
        .collect();
    let id = start_job(
        &h,
        &json!({"type": "contacts", "user_email": "seller@internal.example", "records": records}),
    )
    .await;
    let job = wait_for_job(&h, &id, Duration::from_secs(60)).await;
    assert_eq!(
        (
            job["created"].as_u64(),
            job["updated"].as_u64(),
            job["failed"].as_u64()
        ),
        (Some(150), Some(0), Some(0)),
        "{job}"
    );
    let by_email = count_by(&h.sim, ObjectType::Contacts, "email");
    for (i, result) in job["results"].as_array().unwrap().iter().enumerate() {
        let ids = by_email.get(&format!("late{i}@timeouts.example")).unwrap();
        assert_eq!(ids.len(), 1, "late{i}");
        assert_eq!(result["id"].as_str(), Some(ids[0].as_str()), "{result}");
    }

    // Companies are not unique in HubSpot: only the reconciliation (by search) prevents twins.
    h.sim.control().stall_writes(1, Duration::from_secs(3));
    let records: Vec<Value> = (0..120)
        .map(|i| json!({"ref": format!("k{i}"), "fields": {"name": format!("Late {i}"), "domain": format!("late{i}.timeouts.example")}}))
        .collect();
    let id = start_job(
        &h,
        &json!({"type": "companies", "user_email": "seller@internal.example", "records": records}),
    )
    .await;
    let job = wait_for_job(&h, &id, Duration::from_secs(90)).await;
    assert_eq!(
        (job["created"].as_u64(), job["failed"].as_u64()),
        (Some(120), Some(0)),
        "{job}"
    );
    let by_domain = count_by(&h.sim, ObjectType::Companies, "domain");
    for i in 0..120 {
        let domain = format!("late{i}.timeouts.example");
        assert_eq!(by_domain.get(&domain).map(Vec::len), Some(1), "{domain}");
    }
    h.stop().await;
}

/// Transient failures that never end: the job says it is retrying, then fails once it has
/// made no progress for the bound, counted across a restart of the writer, and the next job
/// runs (the writer in-process, so the bound can be short; the simulator over sockets).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failing_transiently_past_the_bound_fails_and_the_next_runs() {
    use std::sync::Arc;

    use hubspot_gateway::export::job::{self, Effect, Header, Row, State};
    use hubspot_gateway::export::writer::{self, Writer};
    use hubspot_gateway::export::Exporter;
    use hubspot_gateway::hubspot::{Client, ClientConfig, Credentials};
    use hubspot_gateway::object::ObjectType as Kind;
    use hubspot_gateway::secret::Secret;
    use hubspot_gateway::sync::{Settings, Syncer};

    let Harness { sim, gateway } = Harness::start(small_portal()).await;
    sim.control().set_webhook_target(None);
    let dir = gateway.stop().await;
    let store = crate::support::open_store(&dir.path().join("store")).await;
    let portal: Value = serde_json::from_slice(&store.meta("portal").unwrap().unwrap()).unwrap();
    let hub = portal["hub_id"].as_i64().unwrap();
    let header = Header {
        kind: Kind::Contacts,
        user_email: "seller@internal.example".into(),
        state: State::Queued,
        total: 1,
        created_at_ms: hubspot_gateway::time::now_ms(),
        finished_at_ms: None,
        error: None,
        stalled: None,
    };
    let row = |email: &str| Row {
        reference: email.into(),
        fields: [("email".to_owned(), email.to_owned())]
            .into_iter()
            .collect(),
        on_duplicate: None,
        intent_at_ms: None,
        known_at_intent: Vec::new(),
        outcome: None,
    };
    let first = job::enqueue(&store, hub, &header, &[row("stuck@bound.example")]).unwrap();
    let second = job::enqueue(&store, hub, &header, &[row("next@bound.example")]).unwrap();

    let credentials = Credentials::PrivateApp {
        access_token: Secret::new("pat-na1-it".to_owned()),
    };
    let base = url::Url::parse(&sim.base_url()).unwrap();
    let client = Client::new(ClientConfig::new(base, credentials).with_max_retry_secs(1)).unwrap();
    let syncer = Syncer::new(
        client,
        store.clone(),
        hub,
        vec![Kind::Contacts],
        true,
        Settings::default(),
    );
    let owner: i64 = sim.control().owners()[0].id as i64;
    let fallback = hubspot_gateway::ownership::Fallback {
        owner_id: Some(owner),
        connected_user_email: None,
        connected_user_id: None,
    };
    let exporter = Arc::new(Exporter::new(Default::default()));
    let syncer = Arc::new(syncer);
    let give_up_after = Duration::from_secs(3);
    let start_writer = || {
        let mut writer = Writer::new(syncer.clone(), fallback.clone(), exporter.clone());
        writer.give_up_after = give_up_after;
        let shutdown = tokio_util::sync::CancellationToken::new();
        (
            tokio::spawn(writer::run(writer, shutdown.clone())),
            shutdown,
        )
    };
    sim.control().outage(Duration::from_secs(600));
    let (task, shutdown) = start_writer();

    // The first failure records since when the job stalls; the writer then pauses 5 s.
    let mut seen_retrying = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let since_ms = loop {
        let header = job::header(&store, hub, first).unwrap().unwrap();
        seen_retrying |= exporter
            .waiting_for(first)
            .is_some_and(|waiting| waiting.code == "retrying");
        if let (true, Some(stalled)) = (seen_retrying, header.stalled) {
            break stalled.since_ms;
        }
        assert!(tokio::time::Instant::now() < deadline, "{header:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Past the bound while the writer pauses, "restart" it: the new writer keeps the clock
    // from the header, so its first failure fails the job instead of starting a new hour.
    let past_bound = since_ms + give_up_after.as_millis() as i64 + 200;
    let wait_ms = past_bound - hubspot_gateway::time::now_ms();
    tokio::time::sleep(Duration::from_millis(wait_ms.max(0) as u64)).await;
    shutdown.cancel();
    task.await.unwrap();
    let header = job::header(&store, hub, first).unwrap().unwrap();
    assert_eq!(header.state, State::Running, "{header:?}");
    let restarted = tokio::time::Instant::now();
    let (task, shutdown) = start_writer();
    let deadline = restarted + Duration::from_secs(60);
    let failed = loop {
        let header = job::header(&store, hub, first).unwrap().unwrap();
        if header.state == State::Failed {
            break header;
        }
        assert!(tokio::time::Instant::now() < deadline, "{header:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        restarted.elapsed() < give_up_after,
        "the restarted writer started the clock again: failed after {:?}",
        restarted.elapsed()
    );
    assert!(seen_retrying, "the stalled job showed why it waited");
    assert!(exporter
        .waiting_for(second)
        .is_none_or(|w| w.job != Some(first)));
    let error = failed.error.unwrap();
    assert_eq!(error.code, "retries_exhausted");
    assert!(error.message.contains("unavailable"), "{}", error.message);
    let rows = job::rows(&store, hub, first).unwrap();
    assert_eq!(rows[0].outcome.as_ref().unwrap().action, Effect::Failed);
    // HubSpot is back: the next job runs.
    sim.control().outage(Duration::ZERO);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let header = job::header(&store, hub, second).unwrap().unwrap();
        if header.state == State::Done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{header:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rows = job::rows(&store, hub, second).unwrap();
    assert_eq!(rows[0].outcome.as_ref().unwrap().action, Effect::Created);
    shutdown.cancel();
    task.await.unwrap();
    drop(store);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_say_what_they_wait_for_while_sync_is_disabled() {
    let Harness { sim, gateway } = Harness::start(small_portal()).await;
    sim.control().set_webhook_target(None);
    let dir = gateway.stop().await;
    // The same store (it remembers the portal) with sync off: jobs are accepted, never run.
    // A new port: the old one may have been taken by another test meanwhile.
    let gateway = crate::support::Gateway::start_in(
        dir,
        "127.0.0.1:0",
        "http://unused.example",
        &crate::support::Options::default(),
    )
    .await;
    let (status, started) = gateway
        .send(
            Method::POST,
            "/v1/exports",
            EXPORT_TOKEN,
            &json!({"type": "contacts", "user_email": "seller@internal.example",
                    "records": [contact("w", "waiting@sync.example", &[])]}),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let path = format!("/v1/exports/{}", started["export_id"].as_str().unwrap());
    // The export worker says why the job waits once it runs (on PostgreSQL, once this
    // gateway leads).
    crate::mirror::wait_until(
        "the job to say why it waits",
        Duration::from_secs(10),
        || async { !gateway.get(&path, Some(EXPORT_TOKEN)).await.1["waiting"].is_null() },
    )
    .await;
    let (_, job) = gateway.get(&path, Some(EXPORT_TOKEN)).await;
    assert_eq!(job["state"], "queued", "{job}");
    assert_eq!(job["waiting"]["code"], "sync_disabled", "{job}");
    assert!(job["waiting"]["message"]
        .as_str()
        .unwrap()
        .contains("[sync] enabled"));
    let (_, list) = gateway.get("/v1/exports?limit=5", Some(EXPORT_TOKEN)).await;
    assert_eq!(list["exports"][0]["waiting"]["code"], "sync_disabled");
    gateway.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_larger_than_max_body_bytes_gets_a_413_saying_what_to_do() {
    let gateway = crate::support::Gateway::start_with("max_body_bytes = 4096", "").await;
    let records: Vec<Value> = (0..100)
        .map(|i| contact(&format!("b{i}"), &format!("big{i}@body.example"), &[]))
        .collect();
    let (status, body) = gateway
        .send(
            Method::POST,
            "/v1/exports",
            EXPORT_TOKEN,
            &json!({"type": "contacts", "user_email": "seller@internal.example", "records": records}),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "body_too_large");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("server.max_body_bytes") && message.contains("smaller jobs"),
        "{message}"
    );
    gateway.stop().await;
}
