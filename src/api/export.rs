//! Export into HubSpot: settings and field mappings (admin), export jobs and dry runs
//! (export scope).

use std::collections::BTreeMap;

use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::blocking::Blocking;
use super::error::{json_response, ApiError, Response};
use super::objects::{connected, portal};
use super::router::Call;
use super::{wire, State};
use crate::config::Export;
use crate::export::job::{self, Header, Row};
use crate::export::mapping::SaveError;
use crate::export::submit::{self, Refusal, Submitted};
use crate::export::{sample, settings, Mapping, OnDuplicate, Settings, Waiting};
use crate::object::ObjectType;

/// `GET /v1/export/settings`: the named portal's.
pub fn settings(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let portal = call.site(state)?.hub_id();
    let current = Settings::current(&state.store, portal, state.sites.export_config())
        .map_err(|e| ApiError::storage(&e))?;
    Ok(json_response(StatusCode::OK, &current.to_config()))
}

pub fn put_settings(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let export: Export = wire::json_body(&call.body)?;
    let portal = call.site(state)?.hub_id();
    let saved = Settings::save(&state.store, portal, &export).map_err(|error| match error {
        settings::SaveError::Invalid(problems) => {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_settings",
                problems.join("; "),
            )
        }
        settings::SaveError::Store(error) => ApiError::storage(&error),
    })?;
    Ok(json_response(StatusCode::OK, &saved.to_config()))
}

pub fn reset_settings(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let portal = call.site(state)?.hub_id();
    Settings::reset(&state.store, portal).map_err(|e| ApiError::storage(&e))?;
    settings(state, call)
}

/// The object types an export takes.
pub fn export_type(name: &str) -> Result<ObjectType, ApiError> {
    match name {
        "companies" => Ok(ObjectType::Companies),
        "contacts" => Ok(ObjectType::Contacts),
        _ => Err(ApiError::bad_request(format!(
            "{name:?} is not an export type: companies or contacts"
        ))),
    }
}

pub fn mapping(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let kind = export_type(call.params[0])?;
    // Before the first connection: the deployment's mapping.
    let hub = call.site(state)?.hub_id();
    let mapping = Mapping::current(&state.store, hub, kind);
    let mapping = mapping.map_err(|e| ApiError::storage(&e))?;
    Ok(json_response(StatusCode::OK, &mapping))
}

pub fn put_mapping(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let kind = export_type(call.params[0])?;
    let mapping: Mapping = wire::json_body(&call.body)?;
    let hub = portal(state, call)?.hub_id;
    let definitions = state
        .store
        .reference()
        .properties(hub, kind)
        .map_err(|e| ApiError::storage(&e))?;
    match mapping.save(&state.store, Some(hub), kind, &definitions) {
        Ok(()) => Ok(json_response(StatusCode::OK, &mapping)),
        Err(SaveError::Invalid(problems)) => Ok(json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": {
                "code": "invalid_mapping",
                "message": format!("the mapping has {} problem(s)", problems.len()),
                "problems": problems,
            }}),
        )),
        Err(SaveError::Store(error)) => Err(ApiError::storage(&error)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRequest {
    #[serde(rename = "type")]
    kind: String,
    user_email: String,
    #[serde(default)]
    dry_run: bool,
    records: Vec<InputRecord>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputRecord {
    #[serde(rename = "ref", default)]
    reference: Option<Value>,
    #[serde(default)]
    on_duplicate: Option<String>,
    fields: BTreeMap<String, FieldText>,
}

pub fn start(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let request: ExportRequest = wire::json_body(&call.body)?;
    let kind = export_type(&request.kind)?;
    let rows = rows(request.records)?;
    let site = call.site(state)?;
    let hub = connected(&site)?;
    let submitted = submit::submit(
        &state.store,
        &site.exporter,
        hub.hub_id,
        &state.fallback(&hub),
        site.connections.preferences().exports_enabled,
        submit::Request {
            kind,
            user_email: request.user_email,
            rows,
            dry_run: request.dry_run,
        },
    );
    match submitted.map_err(refusal)? {
        Submitted::Planned { rows, outcomes } => {
            // Serialised straight from the outcomes: 10,000 results as `Value`s cost more
            // than the plan's lookups on a warm mirror.
            #[derive(serde::Serialize)]
            struct Answer<'a> {
                results: Vec<job::Wire<'a>>,
            }
            let results = rows
                .iter()
                .zip(&outcomes)
                .map(|(row, outcome)| outcome.wire(&row.reference))
                .collect();
            Ok(json_response(StatusCode::OK, &Answer { results }))
        }
        Submitted::Queued(id) => Ok(json_response(
            StatusCode::ACCEPTED,
            &json!({"export_id": id.to_string()}),
        )),
    }
}

/// The API's answer to a refused export.
fn refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::BadUserEmail => ApiError::bad_request(refusal.to_string()),
        Refusal::TurnedOff => ApiError::new(
            StatusCode::FORBIDDEN,
            "export_disabled",
            "exports are turned off for every user (PUT /v1/connection/preferences \
             {\"exports_enabled\": true} turns them on)",
        ),
        Refusal::Disabled => ApiError::new(
            StatusCode::FORBIDDEN,
            "export_disabled",
            refusal.to_string(),
        ),
        Refusal::TooManyRecords { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "too_many_records",
            refusal.to_string(),
        ),
        Refusal::Store(error) => ApiError::storage(&error),
    }
}

fn rows(records: Vec<InputRecord>) -> Result<Vec<Row>, ApiError> {
    let mut rows = Vec::with_capacity(records.len());
    for (index, record) in records.into_iter().enumerate() {
        let on_duplicate = match record.on_duplicate.as_deref() {
            None => None,
            Some(text) => Some(OnDuplicate::parse(text).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "records[{index}].on_duplicate {text:?} must be update, create or skip"
                ))
            })?),
        };
        let fields = record
            .fields
            .into_iter()
            .map(|(name, value)| (name, value.0))
            .collect();
        let reference = record.reference.as_ref().map_or(String::new(), text);
        rows.push(Row::new(reference, fields, on_duplicate));
    }
    Ok(rows)
}

/// A field value as HubSpot takes it: text; numbers and booleans in their JSON spelling;
/// `null` empty; arrays and objects as their JSON text. Read without building a `Value`.
struct FieldText(String);

impl<'de> Deserialize<'de> for FieldText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = FieldText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field value")
            }
            fn visit_str<E>(self, v: &str) -> Result<FieldText, E> {
                Ok(FieldText(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<FieldText, E> {
                Ok(FieldText(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<FieldText, E> {
                Ok(FieldText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<FieldText, E> {
                Ok(FieldText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<FieldText, E> {
                Ok(FieldText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<FieldText, E> {
                Ok(FieldText(Value::from(v).to_string()))
            }
            fn visit_unit<E>(self) -> Result<FieldText, E> {
                Ok(FieldText(String::new()))
            }
            fn visit_none<E>(self) -> Result<FieldText, E> {
                Ok(FieldText(String::new()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<FieldText, A::Error> {
                let value = Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(FieldText(value.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<FieldText, A::Error> {
                let value = Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(FieldText(value.to_string()))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

/// Field values as HubSpot takes them: text; numbers and booleans in their JSON spelling.
fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

pub fn one(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let site = call.site(state)?;
    let hub = connected(&site)?.hub_id;
    let not_found = || ApiError::not_found(format!("no export {:?}", call.params[0]));
    let id: u64 = call.params[0].parse().map_err(|_| not_found())?;
    let header = job::header(&state.store, hub, id)
        .map_err(|e| ApiError::storage(&e))?
        .ok_or_else(not_found)?;
    let rows = job::rows(&state.store, hub, id).map_err(|e| ApiError::storage(&e))?;
    let waiting = state.export_waiting(&site);
    Ok(json_response(
        StatusCode::OK,
        &job_json(id, &header, &rows, waiting.as_ref()),
    ))
}

/// A job's JSON; a queued or running job that `waiting` holds up says why in `"waiting"`.
fn job_json(id: u64, header: &Header, rows: &[Row], waiting: Option<&Waiting>) -> Value {
    let mut out = job::to_json(id, header, rows);
    let held = waiting.filter(|waiting| waiting.holds(id));
    if let Some(waiting) = held.filter(|_| !header.state.is_finished()) {
        out["waiting"] = json!({"code": waiting.code, "message": waiting.message});
    }
    out
}

pub fn list(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let site = call.site(state)?;
    let hub = connected(&site)?.hub_id;
    let limit = url::form_urlencoded::parse(call.query.unwrap_or("").as_bytes())
        .find(|(name, _)| name == "limit")
        .map(|(_, value)| value.parse::<usize>())
        .transpose()
        .map_err(|_| ApiError::bad_request("limit must be a number"))?
        .unwrap_or(20)
        .clamp(1, 100);
    let waiting = state.export_waiting(&site);
    let mut exports = Vec::new();
    for (id, header) in job::recent(&state.store, hub, limit).map_err(|e| ApiError::storage(&e))? {
        let rows = job::rows(&state.store, hub, id).map_err(|e| ApiError::storage(&e))?;
        exports.push(job_json(id, &header, &rows, waiting.as_ref()));
    }
    Ok(json_response(StatusCode::OK, &json!({"exports": exports})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    fields: BTreeMap<String, Value>,
}

/// `POST /v1/export/mappings/{type}/test`: a sample through the mapping into HubSpot and out.
pub fn test_mapping(
    state: &State,
    call: &Call<'_>,
    blocking: &Blocking,
) -> Result<Response, ApiError> {
    let kind = export_type(call.params[0])?;
    let request: TestRequest = wire::json_body(&call.body)?;
    let fields = request
        .fields
        .into_iter()
        .map(|(name, value)| (name, text(&value)))
        .collect();
    let site = call.site(state)?;
    connected(&site)?;
    let syncer = site.syncer().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_connected",
            "the gateway has not connected to HubSpot yet",
        )
    })?;
    match blocking.wait(sample::test(&syncer, &site.exporter, kind, &fields)) {
        Ok(report) => Ok(json_response(
            StatusCode::OK,
            &json!({
                "ok": true,
                "created_id": report.created_id.to_string(),
                "archived": report.archived,
                "properties_written": report.properties_written,
            }),
        )),
        Err(sample::Failure::Refused(message)) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mapping_test_failed",
            message,
        )),
        Err(sample::Failure::Unavailable(error)) => {
            tracing::warn!(%error, "mapping test could not reach HubSpot");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "hubspot_unavailable",
                "HubSpot could not be reached; retry later",
            ))
        }
        Err(sample::Failure::Store(error)) => Err(ApiError::storage(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_read_directly_match_their_value_spelling() {
        let body = r#"{"s":"x y","i":-12,"u":18446744073709551615,"f":1.50,"t":true,
                       "n":null,"a":[1,"a"],"o":{"k":[true]}}"#;
        let direct: BTreeMap<String, FieldText> = serde_json::from_str(body).unwrap();
        let values: BTreeMap<String, Value> = serde_json::from_str(body).unwrap();
        assert_eq!(direct.len(), values.len());
        for (name, value) in &values {
            assert_eq!(direct[name].0, text(value), "{name}");
        }
    }
}
