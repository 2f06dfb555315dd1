//! Lookups and in-CRM indicators: `GET /v1/companies/lookup`, `GET /v1/contacts/lookup`,
//! `POST /v1/indicators`, and `DELETE /v1/matches/{type}`.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::{json_response, ApiError, Response};
use super::objects::{object_type, portal};
use super::router::Call;
use super::{rfc3339, wire, Portal, State};
use crate::object::ObjectType;
use crate::ownership::{self, Filter, Indication, Query, MAX_OWNERS};
use crate::time::now_ms;

/// At most this many items (companies and contacts together) per indicator request.
pub const MAX_ITEMS: usize = 1000;

pub fn companies(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let query = Query {
        domain: param(call.query, "domain"),
        ..Query::default()
    };
    if query.domain.is_none() {
        return Err(ApiError::bad_request("give ?domain="));
    }
    lookup(state, call, ObjectType::Companies, query)
}

pub fn contacts(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let query = Query {
        email: param(call.query, "email"),
        first_name: param(call.query, "first_name"),
        last_name: param(call.query, "last_name"),
        company: param(call.query, "company"),
        ..Query::default()
    };
    lookup(state, call, ObjectType::Contacts, query)
}

fn lookup(
    state: &State,
    call: &Call<'_>,
    kind: ObjectType,
    query: Query,
) -> Result<Response, ApiError> {
    object_type(state, kind.name())?;
    let portal = portal(state, call)?;
    let started = tokio::time::Instant::now();
    let mut answers = ownership::indicate(
        &state.store,
        portal.hub_id,
        kind,
        &[query],
        &Filter::default(),
        now_ms(),
    )
    .map_err(|error| ApiError::storage(&error))?;
    let answer = answers.pop().unwrap_or(Indication {
        matches: Vec::new(),
        passes_filter: true,
        error: None,
    });
    if let Some(error) = answer.error {
        return Err(ApiError::bad_request(error));
    }
    let matches: Vec<Indicator<'_>> = answer
        .matches
        .iter()
        .map(|found| Indicator::new(kind, found, &portal))
        .collect();
    tracing::trace!(
        elapsed_us = started.elapsed().as_micros() as u64,
        "lookup answered"
    );
    Ok(json_response(
        StatusCode::OK,
        &LookupAnswer {
            in_crm: !matches.is_empty(),
            matches,
        },
    ))
}

#[derive(Serialize)]
struct LookupAnswer<'a> {
    in_crm: bool,
    matches: Vec<Indicator<'a>>,
}

#[derive(Serialize)]
struct ItemAnswer<'a> {
    #[serde(rename = "ref")]
    reference: &'a Value,
    in_crm: bool,
    passes_filter: bool,
    matches: Vec<Indicator<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct IndicatorsAnswer<'a> {
    companies: Vec<ItemAnswer<'a>>,
    contacts: Vec<ItemAnswer<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndicatorRequest {
    #[serde(default)]
    companies: Vec<Item>,
    #[serde(default)]
    contacts: Vec<Item>,
    #[serde(default)]
    filter: Option<FilterRequest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    #[serde(rename = "ref")]
    reference: Value,
    domain: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FilterRequest {
    owners: Option<OwnersFilter>,
    #[serde(default)]
    company_types: Vec<String>,
    deals_created_within_days: Option<u32>,
    #[serde(default)]
    exclude_email_opt_out: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OwnersFilter {
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

pub fn indicators(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let request: IndicatorRequest = wire::json_body(&call.body)?;
    let items = request.companies.len() + request.contacts.len();
    if items > MAX_ITEMS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "too_many_items",
            format!("{items} items; at most {MAX_ITEMS} per request"),
        ));
    }
    let filter = filter(request.filter.unwrap_or_default())?;
    let portal = portal(state, call)?;
    let batches = [
        (ObjectType::Companies, &request.companies),
        (ObjectType::Contacts, &request.contacts),
    ]
    .map(|(kind, items)| {
        let wanted = !items.is_empty() && state.objects.contains(&kind);
        // A type not mirrored is not looked up: its answers stay empty.
        let queries = match wanted {
            true => items.iter().map(Item::query).collect(),
            false => Vec::new(),
        };
        (kind, queries)
    });
    let answers = ownership::indicate_batch(
        &state.store,
        portal.hub_id,
        batches.into(),
        filter,
        now_ms(),
    )
    .map_err(|error| ApiError::storage(&error))?;
    let body = IndicatorsAnswer {
        companies: item_answers(
            ObjectType::Companies,
            &request.companies,
            &answers[0],
            &portal,
        ),
        contacts: item_answers(
            ObjectType::Contacts,
            &request.contacts,
            &answers[1],
            &portal,
        ),
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn item_answers<'a>(
    kind: ObjectType,
    items: &'a [Item],
    answers: &'a [Indication],
    portal: &Portal,
) -> Vec<ItemAnswer<'a>> {
    items
        .iter()
        .zip(answers)
        .map(|(item, answer)| ItemAnswer {
            reference: &item.reference,
            in_crm: !answer.matches.is_empty(),
            passes_filter: answer.passes_filter,
            matches: answer
                .matches
                .iter()
                .map(|found| Indicator::new(kind, found, portal))
                .collect(),
            error: answer.error.clone(),
        })
        .collect()
}

pub fn clear_matches(state: &State, call: &Call<'_>) -> Result<Response, ApiError> {
    let kind = object_type(state, call.params[0])?;
    let portal = portal(state, call)?;
    let cleared = state
        .store
        .ownership()
        .clear_matches(portal.hub_id, kind)
        .map_err(|error| ApiError::storage(&error))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"type": kind.name(), "cleared": cleared}),
    ))
}

impl Item {
    fn query(&self) -> Query {
        Query {
            domain: self.domain.clone(),
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            company: self.company.clone(),
        }
    }
}

fn filter(request: FilterRequest) -> Result<Filter, ApiError> {
    let invalid =
        |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_filter", message);
    let owners = request.owners.unwrap_or_default();
    if owners.include.is_some() && owners.exclude.is_some() {
        return Err(invalid("owners takes include or exclude, not both".into()));
    }
    let ids = |list: Option<Vec<String>>, which: &str| -> Result<Vec<i64>, ApiError> {
        let list = list.unwrap_or_default();
        if list.len() > MAX_OWNERS {
            return Err(invalid(format!(
                "owners.{which} has {} owner ids; at most {MAX_OWNERS}",
                list.len()
            )));
        }
        list.iter()
            .map(|id| {
                id.trim()
                    .parse()
                    .map_err(|_| invalid(format!("owners.{which}: {id:?} is not an owner id")))
            })
            .collect()
    };
    Ok(Filter {
        include_owners: ids(owners.include, "include")?,
        exclude_owners: ids(owners.exclude, "exclude")?,
        company_types: request.company_types,
        deals_created_within_days: request.deals_created_within_days,
        exclude_email_opt_out: request.exclude_email_opt_out,
    })
}

/// `Indicator = {"id","type","name","owner","url","matched_at","updated_at"}`.
#[derive(Serialize)]
struct Indicator<'a> {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    owner: Option<wire::OwnerJson<'a>>,
    url: String,
    matched_at: String,
    updated_at: String,
}

impl<'a> Indicator<'a> {
    fn new(kind: ObjectType, found: &'a ownership::Match, portal: &Portal) -> Self {
        Indicator {
            id: found.record.id.to_string(),
            kind: kind.name(),
            name: &found.record.name,
            owner: found.owner.as_deref().map(wire::OwnerJson::from),
            url: portal.record_url(kind, found.record.id),
            matched_at: rfc3339(found.matched_at_ms),
            updated_at: rfc3339(found.record.updated_at_ms),
        }
    }
}

/// A decoded query parameter; empty counts as absent.
pub fn param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.trim().is_empty())
}
