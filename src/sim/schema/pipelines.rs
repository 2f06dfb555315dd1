//! Deal pipelines and stages: HubSpot's default pipeline plus a custom one whose ids
//! are numeric strings, as custom pipelines have in real portals.
//! HubSpot: <https://developers.hubspot.com/docs/api-reference/legacy/crm/pipelines/guide>

use std::sync::OnceLock;

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct Stage {
    pub id: &'static str,
    pub label: &'static str,
    pub probability: &'static str,
    pub closed: bool,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: &'static str,
    pub label: &'static str,
    pub stages: Vec<Stage>,
}

fn stage(id: &'static str, label: &'static str, probability: &'static str) -> Stage {
    let closed = probability == "1.0" || probability == "0.0";
    Stage {
        id,
        label,
        probability,
        closed,
    }
}

pub fn pipelines() -> &'static [Pipeline] {
    static PIPELINES: OnceLock<Vec<Pipeline>> = OnceLock::new();
    PIPELINES.get_or_init(|| {
        vec![
            Pipeline {
                id: "default",
                label: "Sales Pipeline",
                stages: vec![
                    stage("appointmentscheduled", "Appointment Scheduled", "0.2"),
                    stage("qualifiedtobuy", "Qualified To Buy", "0.4"),
                    stage("presentationscheduled", "Presentation Scheduled", "0.6"),
                    stage("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
                    stage("contractsent", "Contract Sent", "0.9"),
                    stage("closedwon", "Closed Won", "1.0"),
                    stage("closedlost", "Closed Lost", "0.0"),
                ],
            },
            Pipeline {
                id: "75e28846",
                label: "Renewals",
                stages: vec![
                    stage("1092341", "Renewal Due", "0.3"),
                    stage("1092342", "Negotiation", "0.7"),
                    stage("1092343", "Renewed", "1.0"),
                    stage("1092344", "Churned", "0.0"),
                ],
            },
        ]
    })
}

/// `GET /crm/v3/pipelines/deals`: `{results: [Pipeline]}`, no paging.
pub fn pipelines_json() -> Value {
    let created = "2019-08-06T02:41:52.000Z";
    let results: Vec<Value> = pipelines()
        .iter()
        .enumerate()
        .map(|(order, pipeline)| {
            let stages: Vec<Value> = pipeline
                .stages
                .iter()
                .enumerate()
                .map(|(stage_order, stage)| {
                    json!({"id": stage.id, "label": stage.label, "displayOrder": stage_order,
                           "metadata": {"isClosed": stage.closed.to_string(),
                                        "probability": stage.probability},
                           "archived": false, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                           "createdAt": created, "updatedAt": created})
                })
                .collect();
            json!({"id": pipeline.id, "label": pipeline.label, "displayOrder": order,
                   "archived": false, "stages": stages, "createdAt": created, "updatedAt": created})
        })
        .collect();
    json!({ "results": results })
}
