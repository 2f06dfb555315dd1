//! Writes: create, 409 on duplicate email, whole-batch validation, upsert, update, archive.

use hubspot_gateway::sim::{ObjectType, SimConfig};
use serde_json::json;

use super::Sim;

#[tokio::test]
async fn contacts_are_unique_by_email_with_hubspots_409() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let body = json!({"properties": {"email": "Ann@Acme.example", "firstname": "Ann"}});
    let (status, created) = sim.post("/crm/v3/objects/contacts", body.clone()).await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["properties"]["firstname"], "Ann");
    let (status, conflict) = sim
        .post(
            "/crm/v3/objects/contacts",
            json!({"properties": {"email": "ann@acme.example"}}),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(
        conflict["message"],
        format!("Contact already exists. Existing ID: {id}")
    );
    assert_eq!(
        (conflict["status"].as_str(), conflict["category"].as_str()),
        (Some("error"), Some("CONFLICT"))
    );
    let existing = sim
        .handle
        .control()
        .record(ObjectType::Contacts, "51")
        .unwrap()
        .properties["email"]
        .clone();
    let batch = json!({"inputs": [{"properties": {"email": "fresh@x.example"}}, {"properties": {"email": existing}}]});
    let (status, conflict) = sim
        .post("/crm/v3/objects/contacts/batch/create", batch)
        .await;
    assert_eq!(
        (status, conflict["message"].as_str()),
        (409, Some("Contact already exists. Existing ID: 51"))
    );
    let (_, search) = sim.post("/crm/v3/objects/contacts/search", json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "fresh@x.example"}]}]})).await;
    assert_eq!(search["total"], 0, "a failed batch writes nothing");
}

#[tokio::test]
async fn validation_fails_the_whole_batch() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let batch = json!({"inputs": [
        {"properties": {"name": "Good Co", "domain": "good.example"}},
        {"properties": {"name": "Bad Co", "industry": "Software", "hs_object_id": "1", "nonsense": "x"}}]});
    let (status, body) = sim
        .post("/crm/v3/objects/companies/batch/create", batch)
        .await;
    assert_eq!(
        (status, body["category"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Property values were not valid: [{\"isValid\":false,"),
        "{message}"
    );
    for code in ["INVALID_OPTION", "READ_ONLY_VALUE", "PROPERTY_DOESNT_EXIST"] {
        assert!(message.contains(code), "{code} in {message}");
    }
    let (_, all) = sim
        .get("/crm/v3/objects/companies?limit=100&after=6200000000")
        .await;
    assert!(all["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|company| company["properties"]["name"] != "Good Co"));
}

#[tokio::test]
async fn upsert_update_and_archive() {
    let sim = Sim::unlimited(SimConfig::default()).await;
    let existing = sim
        .handle
        .control()
        .record(ObjectType::Contacts, "101")
        .unwrap()
        .properties["email"]
        .clone();
    let inputs = json!({"inputs": [
        {"idProperty": "email", "id": existing, "properties": {"jobtitle": "CFO"}},
        {"idProperty": "email", "id": "new@upsert.example", "properties": {"firstname": "Neu"}}]});
    let (status, body) = sim
        .post("/crm/v3/objects/contacts/batch/upsert", inputs)
        .await;
    assert_eq!(status, 200);
    let results = body["results"].as_array().unwrap();
    let old = results
        .iter()
        .find(|result| result["id"] == "101")
        .expect("existing contact updated");
    assert_eq!(
        (old["new"].as_bool(), old["properties"]["jobtitle"].as_str()),
        (Some(false), Some("CFO"))
    );
    assert!(results.iter().any(|result| result["new"] == true));
    let update =
        json!({"inputs": [{"id": "101", "properties": {"lastname": "Neumann"}}, {"id": "77"}]});
    let (status, body) = sim
        .post("/crm/v3/objects/contacts/batch/update", update)
        .await;
    assert_eq!(
        (status, body["errors"][0]["context"]["ids"][0].as_str()),
        (207, Some("77"))
    );
    let response = sim
        .http
        .delete(sim.url("/crm/v3/objects/contacts/101"))
        .bearer_auth(sim.token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(sim.get("/crm/v3/objects/contacts/101").await.0, 404);
    assert_eq!(
        sim.get("/crm/v3/objects/contacts/101?archived=true")
            .await
            .0,
        200
    );
}
