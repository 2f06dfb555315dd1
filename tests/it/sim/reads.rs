//! Read endpoints: paging, limits on page size, archived lists, merges, batch read, search.

use hubspot_gateway::sim::{ObjectType, SimConfig};
use serde_json::{json, Value};

use super::Sim;

fn ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|record| record["id"].as_str().expect("string id").to_string())
        .collect()
}

#[tokio::test]
async fn list_pages_through_every_contact_in_id_order() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (mut seen, mut after) = (Vec::new(), String::new());
    for _ in 0..20 {
        let (status, body) = sim
            .get(&format!(
                "/crm/v3/objects/0-1?limit=100&after={after}&properties=email,hs_email_optout"
            ))
            .await;
        assert_eq!(status, 200);
        seen.extend(ids(&body));
        match body["paging"]["next"]["after"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    let numbers: Vec<u64> = seen.iter().map(|id| id.parse().expect("numeric")).collect();
    assert_eq!(numbers.len(), 500);
    assert!(numbers.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(
        numbers.iter().any(|id| *id > 1 << 31),
        "some ids exceed 2^31"
    );
    assert_eq!(sim.get("/crm/v3/objects/contacts?limit=101").await.0, 400);
    assert_eq!(
        sim.get("/crm/v3/objects/deals?limit=51&propertiesWithHistory=dealstage")
            .await
            .0,
        400
    );
    let (status, body) = sim
        .get("/crm/v3/objects/deals?limit=50&propertiesWithHistory=dealstage")
        .await;
    assert_eq!(status, 200);
    let history = &body["results"][0]["propertiesWithHistory"]["dealstage"];
    assert_eq!(
        history[0]["value"], body["results"][0]["properties"]["dealstage"],
        "newest first"
    );
}

#[tokio::test]
async fn archived_lists_only_archived_and_merged_ids_resolve_to_the_survivor() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let control = sim.handle.control();
    let ids = control.ids(ObjectType::Companies, "0", 3);
    control.archive(ObjectType::Companies, &ids[0]).unwrap();
    control
        .merge(ObjectType::Companies, &ids[1], &ids[2])
        .unwrap();
    let (_, archived) = sim.get("/crm/v3/objects/companies?archived=true").await;
    assert_eq!(super::reads::ids(&archived), vec![ids[0].clone()]);
    assert_eq!(archived["results"][0]["archived"], true);
    assert!(archived["results"][0]["archivedAt"].is_string());
    assert_eq!(
        sim.get(&format!("/crm/v3/objects/companies/{}", ids[0]))
            .await
            .0,
        404
    );
    let (status, merged) = sim
        .get(&format!(
            "/crm/v3/objects/companies/{}?properties=hs_merged_object_ids",
            ids[2]
        ))
        .await;
    assert_eq!(
        (status, merged["id"].as_str()),
        (200, Some(ids[1].as_str()))
    );
    assert_eq!(
        merged["properties"]["hs_merged_object_ids"],
        ids[2].as_str()
    );
}

#[tokio::test]
async fn batch_read_answers_207_for_missing_ids_and_caps_inputs() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let known = sim.handle.control().ids(ObjectType::Contacts, "0", 2);
    let body = json!({"inputs": [{"id": known[0]}, {"id": "999"}, {"id": known[1]}], "properties": ["email"], "propertiesWithHistory": []});
    let (status, answer) = sim.post("/crm/v3/objects/contacts/batch/read", body).await;
    assert_eq!(status, 207);
    assert_eq!(answer["results"].as_array().unwrap().len(), 2);
    assert_eq!(answer["errors"][0]["context"]["ids"], json!(["999"]));
    let too_many: Vec<Value> = (0..101).map(|n| json!({"id": n.to_string()})).collect();
    assert_eq!(
        sim.post(
            "/crm/v3/objects/contacts/batch/read",
            json!({"inputs": too_many})
        )
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn search_caps_at_ten_thousand_results_and_limits_filters() {
    let sim = Sim::unlimited(SimConfig {
        contacts: 12_000,
        ..SimConfig::default()
    })
    .await;
    let query = |after: usize| {
        json!({"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "0"}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "properties": ["email"], "limit": 200, "after": after.to_string()})
    };
    let (status, page) = sim
        .post("/crm/v3/objects/contacts/search", query(9_800))
        .await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 12_000);
    assert_eq!(page["paging"]["next"]["after"], "10000");
    let (status, body) = sim
        .post("/crm/v3/objects/contacts/search", query(10_000))
        .await;
    assert_eq!(
        (status, body["category"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    let filters: Vec<Value> = (0..7)
        .map(|_| json!({"propertyName": "email", "operator": "HAS_PROPERTY"}))
        .collect();
    let (status, _) = sim
        .post(
            "/crm/v3/objects/contacts/search",
            json!({"filterGroups": [{"filters": filters}]}),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn owners_properties_pipelines_and_associations_have_hubspot_shapes() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let (_, archived) = sim.get("/crm/v3/owners?archived=true").await;
    let owner = &archived["results"][0];
    assert_eq!(
        (owner["archived"].as_bool(), owner["userId"].is_null()),
        (Some(true), true)
    );
    assert!(owner["userIdIncludingInactive"].is_u64());
    let (_, properties) = sim.get("/crm/v3/properties/companies").await;
    let industry = properties["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|def| def["name"] == "industry")
        .expect("industry");
    assert_eq!(industry["type"], "enumeration");
    assert!(industry["options"]
        .as_array()
        .unwrap()
        .iter()
        .any(|option| option["value"] == "COMPUTER_SOFTWARE"
            && option["label"] == "Computer Software"));
    let (_, pipelines) = sim.get("/crm/v3/pipelines/deals").await;
    assert_eq!(
        pipelines["results"][0]["stages"][5]["metadata"]["probability"],
        "1.0"
    );
    let contact = sim
        .handle
        .control()
        .ids(ObjectType::Contacts, "0", 1)
        .remove(0);
    let (status, links) = sim
        .post(
            "/crm/v4/associations/contacts/companies/batch/read",
            json!({"inputs": [{"id": contact}]}),
        )
        .await;
    assert_eq!(status, 200);
    let target = &links["results"][0]["to"][0];
    assert!(target["toObjectId"].is_u64());
    assert_eq!(target["associationTypes"][0]["typeId"], 279);
}

#[tokio::test]
async fn snapshot_matches_what_the_api_lists() {
    let sim = Sim::unlimited(SimConfig {
        contacts: 60,
        companies: 20,
        deals: 10,
        tasks: 10,
        ..SimConfig::default()
    })
    .await;
    let control = sim.handle.control();
    let created = control
        .create(
            ObjectType::Companies,
            [("name", "Snap Co"), ("domain", "snap.example")],
        )
        .unwrap();
    let archived = control.ids(ObjectType::Companies, "0", 1).remove(0);
    control.archive(ObjectType::Companies, &archived).unwrap();
    let snapshot = control.snapshot();
    let companies = &snapshot.objects[&ObjectType::Companies];
    assert_eq!(companies.len(), 20);
    assert!(companies
        .iter()
        .any(|company| company.id == created && company.properties["domain"] == "snap.example"));
    assert_eq!(
        snapshot.archived[&ObjectType::Companies],
        vec![archived.clone()]
    );
    assert_eq!(snapshot.owners.len(), 20);
    let (_, listed) = sim
        .get("/crm/v3/objects/companies?limit=100&properties=domain")
        .await;
    let mut api_ids = ids(&listed);
    let mut snapshot_ids: Vec<String> =
        companies.iter().map(|company| company.id.clone()).collect();
    api_ids.sort();
    snapshot_ids.sort();
    assert_eq!(api_ids, snapshot_ids);
    for (from, from_id, to, to_id) in &snapshot.associations {
        assert!(
            snapshot
                .associations
                .contains(&(*to, to_id.clone(), *from, from_id.clone())),
            "both directions"
        );
        assert_ne!(from_id, &archived);
    }
}

#[tokio::test]
async fn search_lag_hides_fresh_writes_from_search_only() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let faults = sim
        .http
        .post(sim.url("/_sim/faults"))
        .json(&json!({"search_lag_ms": 60_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(faults.status(), 204);
    let id = sim
        .handle
        .control()
        .create(ObjectType::Contacts, [("email", "fresh@lag.example")])
        .unwrap();
    let query = json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "fresh@lag.example"}]}]});
    assert_eq!(
        sim.post("/crm/v3/objects/contacts/search", query).await.1["total"],
        0
    );
    assert_eq!(
        sim.get(&format!("/crm/v3/objects/contacts/{id}")).await.0,
        200,
        "reads see it at once"
    );
}
