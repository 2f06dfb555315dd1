//! Durable export jobs: the request as stored (one row per record), per-record intent and
//! result, the job's state, and the JSON a job answers with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::plan::{Action, Plan};
use super::settings::OnDuplicate;
use crate::object::ObjectType;
use crate::store::{self, Store};

/// A job's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub kind: ObjectType,
    pub user_email: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub total: u32,
    pub created_at_ms: i64,
    /// When it ended `done` or `failed`; it is pruned `export.retention_days` later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<i64>,
    /// Why a `failed` job stopped (its records without a result then fail with `job_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// Since when the job keeps failing transiently, and how many of its records had a
    /// result then: kept in the header so that a restart does not start the give-up clock
    /// again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<Stalled>,
}

/// See [`Header::stalled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stalled {
    pub since_ms: i64,
    pub done: usize,
}

/// One exported record: its input, the intent to create it, its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub reference: String,
    pub fields: BTreeMap<String, String>,
    pub on_duplicate: Option<OnDuplicate>,
    /// When its create was first sent, set (and committed) before sending: a row with an
    /// intent and no result may exist in HubSpot, and its own record is looked for (see
    /// `writer::own`) before it is planned or sent again. Kept until the row has a result,
    /// unless HubSpot surely did not act on the first send.
    #[serde(default)]
    pub intent_at_ms: Option<i64>,
    /// The duplicates known when the create was sent: records that existed before it, so
    /// never its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_at_intent: Vec<i64>,
    #[serde(default)]
    pub outcome: Option<Outcome>,
}

/// A record's result (`Result` in the contract).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub action: String,
    pub id: Option<i64>,
    pub duplicates: Vec<i64>,
    pub owner_id: Option<i64>,
    pub reason: Option<String>,
    pub error: Option<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub code: String,
    pub message: String,
    pub property: Option<String>,
}

impl Outcome {
    /// The outcome a plan leads to if carried out (a dry run shows it as is).
    pub fn planned(plan: &Plan, owner_id: Option<i64>) -> Outcome {
        let base = Outcome {
            duplicates: plan.duplicates.clone(),
            ..Outcome::default()
        };
        match &plan.action {
            Action::Create => Outcome {
                action: "created".into(),
                owner_id,
                ..base
            },
            Action::Update { id } => Outcome {
                action: "updated".into(),
                id: Some(*id),
                ..base
            },
            Action::Skip { id, reason } => Outcome {
                action: "skipped".into(),
                id: *id,
                reason: Some((*reason).into()),
                ..base
            },
            Action::Fail(failure) => Outcome::failed(
                failure.code,
                &failure.message,
                failure.property.clone(),
                base.duplicates,
            ),
        }
    }

    pub fn failed(
        code: &str,
        message: &str,
        property: Option<String>,
        duplicates: Vec<i64>,
    ) -> Outcome {
        Outcome {
            action: "failed".into(),
            duplicates,
            error: Some(Problem {
                code: code.into(),
                message: message.into(),
                property,
            }),
            ..Outcome::default()
        }
    }

    /// The contract's `Result`, serialisable without building a `Value` (dry runs answer
    /// thousands); the one definition of that JSON.
    pub fn wire<'a>(&'a self, reference: &'a str) -> Wire<'a> {
        Wire {
            reference,
            action: &self.action,
            duplicates: &self.duplicates,
            id: self.id,
            owner_id: self.owner_id,
            reason: self.reason.as_deref(),
            error: self.error.as_ref().map(|error| WireError {
                code: &error.code,
                message: &error.message,
                property: error.property.as_deref(),
            }),
        }
    }

    /// The contract's `Result` JSON, as a `Value` (see [`Outcome::wire`]).
    pub fn to_json(&self, reference: &str) -> Value {
        // Invariant: a plain struct with string keys.
        serde_json::to_value(self.wire(reference)).expect("an outcome serialises")
    }
}

/// See [`Outcome::wire`].
#[derive(Debug, Serialize)]
pub struct Wire<'a> {
    #[serde(rename = "ref")]
    reference: &'a str,
    action: &'a str,
    #[serde(serialize_with = "ids_as_text")]
    duplicates: &'a [i64],
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "id_as_text")]
    id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "id_as_text")]
    owner_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<WireError<'a>>,
}

#[derive(Debug, Serialize)]
struct WireError<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    property: Option<&'a str>,
}

/// HubSpot ids are strings in the contract's JSON.
fn ids_as_text<S: serde::Serializer>(ids: &&[i64], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(ids.iter().map(i64::to_string))
}

fn id_as_text<S: serde::Serializer>(id: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => serializer.serialize_str(&id.to_string()),
        None => serializer.serialize_none(),
    }
}

pub(super) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Invariant: plain structs with string keys serialise.
    serde_json::to_vec(value).expect("export job value serialises")
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> store::Result<T> {
    serde_json::from_slice(bytes).map_err(|error| store::Error::Corrupt(error.to_string()))
}

/// Stores a new queued job with its rows and makes it durable; returns its id.
pub fn enqueue(store: &Store, portal: i64, header: &Header, rows: &[Row]) -> store::Result<u64> {
    let exports = store.exports();
    let id = exports.next_id()?;
    let encoded: Vec<(u32, Vec<u8>)> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| (index as u32, encode(row)))
        .collect();
    // Rows first, the header last: a job is visible (and run) only once complete.
    for chunk in encoded.chunks(1000) {
        exports.write(portal, id, None, chunk)?;
    }
    exports.write(portal, id, Some(&encode(header)), &[])?;
    store.commit()?;
    Ok(id)
}

pub fn header(store: &Store, portal: i64, id: u64) -> store::Result<Option<Header>> {
    store
        .exports()
        .header(portal, id)?
        .map(|bytes| decode(&bytes))
        .transpose()
}

pub fn save_header(store: &Store, portal: i64, id: u64, header: &Header) -> store::Result<()> {
    store
        .exports()
        .write(portal, id, Some(&encode(header)), &[])?;
    store.commit()
}

pub fn rows(store: &Store, portal: i64, id: u64) -> store::Result<Vec<Row>> {
    store
        .exports()
        .rows(portal, id)?
        .iter()
        .map(|(_, bytes)| decode(bytes))
        .collect()
}

/// Writes changed rows (never one a privacy deletion sealed) and makes them durable before
/// anything else is sent.
pub fn save_rows(store: &Store, portal: i64, id: u64, rows: &[(u32, &Row)]) -> store::Result<()> {
    let encoded: Vec<(u32, Vec<u8>)> = rows.iter().map(|(i, row)| (*i, encode(*row))).collect();
    store.exports().update_rows(portal, id, &encoded)?;
    store.commit()
}

/// The rows of job `id` a privacy deletion sealed, as stored.
pub fn rows_sealed(store: &Store, portal: i64, id: u64) -> store::Result<Vec<(u32, Row)>> {
    let sealed = store.exports().sealed(portal, id)?;
    if sealed.is_empty() {
        return Ok(Vec::new());
    }
    let rows = rows(store, portal, id)?;
    Ok(sealed
        .into_iter()
        .filter_map(|index| Some((index, rows.get(index as usize)?.clone())))
        .collect())
}

/// The oldest job not finished yet.
pub fn next_unfinished(store: &Store, portal: i64) -> store::Result<Option<u64>> {
    let mut unfinished = None;
    for (id, bytes) in store.exports().headers(portal, usize::MAX)? {
        let header: Header = decode(&bytes)?;
        if matches!(header.state.as_str(), "queued" | "running") {
            unfinished = Some(id);
        }
    }
    Ok(unfinished)
}

/// Ends a job as `failed` with `error`: every record without a result fails with
/// `job_failed` (or `unknown_outcome` when its create was sent and never confirmed), so the
/// counts add up to `total`; the worker then moves on to the next job.
pub fn fail(store: &Store, portal: i64, id: u64, error: Problem) -> store::Result<()> {
    let Some(mut header) = header(store, portal, id)? else {
        return Ok(());
    };
    let mut rows = rows(store, portal, id)?;
    let mut changed = Vec::new();
    for (index, row) in rows.iter_mut().enumerate() {
        if row.outcome.is_some() {
            continue;
        }
        let (code, message) = if row.intent_at_ms.is_some() {
            (
                "unknown_outcome",
                format!(
                    "the export failed ({}) after this record's create was sent; \
                     HubSpot may hold it: check before exporting it again",
                    error.message
                ),
            )
        } else {
            (
                "job_failed",
                format!(
                    "the export failed before this record was written: {}",
                    error.message
                ),
            )
        };
        row.outcome = Some(Outcome::failed(code, &message, None, Vec::new()));
        changed.push(index as u32);
    }
    let changed: Vec<(u32, &Row)> = changed.iter().map(|i| (*i, &rows[*i as usize])).collect();
    for chunk in changed.chunks(1000) {
        let encoded: Vec<(u32, Vec<u8>)> =
            chunk.iter().map(|(i, row)| (*i, encode(*row))).collect();
        store.exports().update_rows(portal, id, &encoded)?;
    }
    header.state = "failed".into();
    header.error = Some(error);
    header.finished_at_ms = Some(crate::webhook::inbox::now_ms());
    save_header(store, portal, id, &header)
}

/// How many of a job's records ended with each action, and how many have a result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub skipped: usize,
    pub failed: usize,
}

impl Counts {
    pub fn of(rows: &[Row]) -> Counts {
        let mut counts = Counts::default();
        for outcome in rows.iter().filter_map(|row| row.outcome.as_ref()) {
            match outcome.action.as_str() {
                "created" => counts.created += 1,
                "updated" => counts.updated += 1,
                "skipped" => counts.skipped += 1,
                _ => counts.failed += 1,
            }
        }
        counts
    }

    /// Records with a result.
    pub fn done(&self) -> usize {
        self.created + self.updated + self.skipped + self.failed
    }
}

/// The jobs of `portal`, newest first, at most `limit`.
pub fn recent(store: &Store, portal: i64, limit: usize) -> store::Result<Vec<(u64, Header)>> {
    store
        .exports()
        .headers(portal, limit)?
        .iter()
        .map(|(id, bytes)| Ok((*id, decode(bytes)?)))
        .collect()
}

/// The users who exported, from the newest `limit` jobs (each once, newest first).
pub fn users(store: &Store, portal: i64, limit: usize) -> store::Result<Vec<String>> {
    let mut users: Vec<String> = Vec::new();
    for (_, header) in recent(store, portal, limit)? {
        if !users.contains(&header.user_email) {
            users.push(header.user_email);
        }
    }
    Ok(users)
}

/// The contract's job JSON; a failed job adds `"error": {"code", "message"}`.
pub fn to_json(id: u64, header: &Header, rows: &[Row]) -> Value {
    let counts = Counts::of(rows);
    let results: Vec<Value> = rows
        .iter()
        .filter_map(|row| Some(row.outcome.as_ref()?.to_json(&row.reference)))
        .collect();
    let mut out = json!({
        "export_id": id.to_string(),
        "type": header.kind.name(),
        "user_email": header.user_email,
        "state": header.state,
        "total": header.total,
        "created": counts.created,
        "updated": counts.updated,
        "skipped": counts.skipped,
        "failed": counts.failed,
        "results": results,
    });
    if let Some(error) = &header.error {
        out["error"] = json!({"code": error.code, "message": error.message});
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_have_the_contracts_result_json() {
        let outcomes = [
            Outcome {
                action: "created".into(),
                id: Some(51),
                owner_id: Some(101),
                ..Outcome::default()
            },
            Outcome {
                action: "skipped".into(),
                id: Some(7),
                duplicates: vec![7, 9],
                reason: Some("unchanged".into()),
                ..Outcome::default()
            },
            Outcome::failed("invalid_value", "no", Some("industry".into()), vec![3]),
            Outcome::failed("not_allowed", "no", None, Vec::new()),
        ];
        let expected = [
            json!({"ref": "r-1", "action": "created", "duplicates": [], "id": "51",
                   "owner_id": "101"}),
            json!({"ref": "r-1", "action": "skipped", "duplicates": ["7", "9"], "id": "7",
                   "reason": "unchanged"}),
            json!({"ref": "r-1", "action": "failed", "duplicates": ["3"],
                   "error": {"code": "invalid_value", "message": "no", "property": "industry"}}),
            json!({"ref": "r-1", "action": "failed", "duplicates": [],
                   "error": {"code": "not_allowed", "message": "no"}}),
        ];
        for (outcome, expected) in outcomes.iter().zip(&expected) {
            assert_eq!(outcome.to_json("r-1"), *expected);
        }
    }
}
