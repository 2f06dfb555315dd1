//! Routes a request: `/_sim` control, OAuth, the Webhooks Journal and its files, or an API
//! call that passes auth, scopes, rate limits and faults (in that order, as HubSpot answers
//! 401 before 403 before 429) and then acts in the account, as the user, its token is bound to.

use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderName, HeaderValue};

use super::acting::Acting;
use super::reply::{self, Reply};
use super::{control_routes, journal, meta, oauth, objects, writes, Request};
use crate::sim::auth::{Caller, Denied, Grant};
use crate::sim::control::Shared;
use crate::sim::kind::ObjectType;
use crate::sim::limits::Verdict;
use crate::time;

/// One API operation, with the object type(s) and id it names.
pub enum Call {
    Owners,
    Owner(String),
    List(ObjectType),
    Get(ObjectType, String),
    BatchRead(ObjectType),
    Search(ObjectType),
    Create(ObjectType),
    Update(ObjectType, String),
    Archive(ObjectType, String),
    BatchCreate(ObjectType),
    BatchUpdate(ObjectType),
    BatchUpsert(ObjectType),
    BatchArchive(ObjectType),
    GdprDelete,
    Pipelines,
    Pipeline(String),
    Properties(ObjectType),
    Property(ObjectType, String),
    Associations(ObjectType, ObjectType),
}

/// An identified API call: its stats label, required scopes (all groups; any scope within a
/// group) and whether it is a search (separate bucket, no headers).
struct Api {
    label: &'static str,
    scopes: Vec<Vec<&'static str>>,
    call: Call,
}

pub async fn route(shared: &Arc<Shared>, request: Request) -> Reply {
    let segments = request.segments();
    if segments.first() == Some(&"_sim") {
        return control_routes::handle(shared, &request).await;
    }
    if segments.first() == Some(&"oauth") {
        let (label, reply) = oauth::handle(shared, &request);
        return finish(shared, label, reply).await;
    }
    if segments.first() == Some(&"webhooks-journal") {
        let (label, reply) = journal::handle(shared, &request);
        return finish(shared, &label, reply).await;
    }
    if segments.first() == Some(&"journal-files") {
        let reply = journal::download(shared, &request);
        return finish(shared, journal::DOWNLOAD_LABEL, reply).await;
    }
    let Some(api) = identify(&request) else {
        return finish(
            shared,
            "unknown",
            reply::error(
                404,
                "NOT_FOUND",
                &format!("No route for {} {}", request.method, request.path),
            ),
        )
        .await;
    };
    let now = time::now_ms();
    let access = match request
        .bearer()
        .map(|token| shared.tokens.lock().check(token, now))
    {
        Some(Ok(access)) => access,
        Some(Err(Denied::Expired { ago_ms })) => {
            return finish(shared, api.label, reply::unauthorized(Some(ago_ms))).await
        }
        Some(Err(Denied::Unknown)) | None => {
            return finish(shared, api.label, reply::unauthorized(None)).await
        }
    };
    let Some(acting) = Acting::new(shared, access.grant.portal_id, access.grant.user_id) else {
        return finish(shared, api.label, reply::unauthorized(None)).await;
    };
    let missing = missing_scopes(shared, &access.grant, &api.scopes);
    if !missing.is_empty() {
        return finish(shared, api.label, reply::missing_scopes(&missing)).await;
    }
    let search = matches!(api.call, Call::Search(_));
    let write = matches!(
        api.call,
        Call::Create(_)
            | Call::Update(..)
            | Call::BatchCreate(_)
            | Call::BatchUpdate(_)
            | Call::BatchUpsert(_)
    );
    let verdict = shared
        .limits
        .lock()
        .admit(search, access.caller == Caller::PrivateApp, now);
    let (mut reply, headers) = match verdict {
        Verdict::Pass(headers) => {
            let reply = dispatch(&acting, &request, api.call);
            let stall = write.then(|| shared.limits.lock().stall_write()).flatten();
            if let Some(stall_ms) = stall {
                tokio::time::sleep(Duration::from_millis(stall_ms)).await;
            }
            (reply, headers)
        }
        Verdict::Limited { policy, headers } => (reply::rate_limited(policy), headers),
        Verdict::Fault(status) => (reply::fault(status), Vec::new()),
    };
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            reply
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    finish(shared, api.label, reply).await
}

/// The first scope of each group the grant has none of.
fn missing_scopes(shared: &Shared, grant: &Grant, groups: &[Vec<&'static str>]) -> Vec<String> {
    let tokens = shared.tokens.lock();
    let lacks = |group: &&Vec<&str>| group.iter().all(|scope| !tokens.allows(grant, scope));
    groups
        .iter()
        .filter(lacks)
        .map(|group| group[0].to_string())
        .collect()
}

/// Adds the configured latency and counts the answer.
async fn finish(shared: &Shared, label: &str, reply: Reply) -> Reply {
    let latency_ms = shared.limits.lock().latency_ms;
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    shared.stats.record(label, reply.status().as_u16());
    reply
}

fn dispatch(acting: &Acting, request: &Request, call: Call) -> Reply {
    match call {
        Call::Owners => meta::owners(acting, request),
        Call::Owner(id) => meta::owner(acting, request, &id),
        Call::Pipelines => meta::pipelines(),
        Call::Pipeline(id) => meta::pipeline(&id),
        Call::Properties(kind) => meta::properties(kind),
        Call::Property(kind, name) => meta::property(kind, &name),
        Call::Associations(from, to) => meta::associations(acting, request, from, to),
        Call::List(kind) => objects::list(acting, request, kind),
        Call::Get(kind, id) => objects::get(acting, request, kind, &id),
        Call::BatchRead(kind) => objects::batch_read(acting, request, kind),
        Call::Search(kind) => objects::search(acting, request, kind),
        Call::Create(kind) => writes::create(acting, request, kind),
        Call::Update(kind, id) => writes::update(acting, request, kind, &id),
        Call::Archive(kind, id) => writes::archive(acting, kind, &id),
        Call::BatchCreate(kind) => writes::batch_create(acting, request, kind),
        Call::BatchUpdate(kind) => writes::batch_update(acting, request, kind),
        Call::BatchUpsert(kind) => writes::batch_upsert(acting, request, kind),
        Call::BatchArchive(kind) => writes::batch_archive(acting, request, kind),
        Call::GdprDelete => writes::gdpr_delete(acting, request),
    }
}

fn identify(request: &Request) -> Option<Api> {
    let segments = request.segments();
    let method = request.method.as_str();
    let api = |label, scopes: Vec<Vec<&'static str>>, call| {
        Some(Api {
            label,
            scopes,
            call,
        })
    };
    let owners = || vec![vec!["crm.objects.owners.read"]];
    match (method, segments.as_slice()) {
        ("GET", ["crm", "v3", "owners"]) => api("GET /crm/v3/owners", owners(), Call::Owners),
        ("GET", ["crm", "v3", "owners", id]) => api(
            "GET /crm/v3/owners/{id}",
            owners(),
            Call::Owner(id.to_string()),
        ),
        ("GET", ["crm", "v3", "pipelines", "deals"]) => api(
            "GET /crm/v3/pipelines/deals",
            vec![vec!["crm.objects.deals.read"]],
            Call::Pipelines,
        ),
        ("GET", ["crm", "v3", "pipelines", "deals", id]) => api(
            "GET /crm/v3/pipelines/deals/{id}",
            vec![vec!["crm.objects.deals.read"]],
            Call::Pipeline(id.to_string()),
        ),
        ("GET", ["crm", "v3", "properties", kind, rest @ ..]) if rest.len() <= 1 => {
            let kind = crate::sim::kind::parse(kind)?;
            let scopes = vec![vec![kind.read_scope(), schema_scope(kind)]];
            match rest {
                [] => api(
                    "GET /crm/v3/properties/{type}",
                    scopes,
                    Call::Properties(kind),
                ),
                [name] => api(
                    "GET /crm/v3/properties/{type}/{name}",
                    scopes,
                    Call::Property(kind, name.to_string()),
                ),
                _ => None,
            }
        }
        ("POST", ["crm", "v4", "associations", from, to, "batch", "read"]) => {
            let (from, to) = (crate::sim::kind::parse(from)?, crate::sim::kind::parse(to)?);
            let scopes = vec![vec![from.read_scope()], vec![to.read_scope()]];
            api(
                "POST /crm/v4/associations/{from}/{to}/batch/read",
                scopes,
                Call::Associations(from, to),
            )
        }
        (_, ["crm", "v3", "objects", kind, rest @ ..]) => {
            objects_call(method, crate::sim::kind::parse(kind)?, rest)
        }
        _ => None,
    }
}

fn objects_call(method: &str, kind: ObjectType, rest: &[&str]) -> Option<Api> {
    let read = vec![vec![kind.read_scope()]];
    let write = vec![vec![kind.write_scope()]];
    let (label, scopes, call) = match (method, rest) {
        ("GET", []) => ("GET /crm/v3/objects/{type}", read, Call::List(kind)),
        ("GET", [id]) => (
            "GET /crm/v3/objects/{type}/{id}",
            read,
            Call::Get(kind, id.to_string()),
        ),
        ("POST", ["batch", "read"]) => (
            "POST /crm/v3/objects/{type}/batch/read",
            read,
            Call::BatchRead(kind),
        ),
        ("POST", ["search"]) => (
            "POST /crm/v3/objects/{type}/search",
            read,
            Call::Search(kind),
        ),
        ("POST", []) => ("POST /crm/v3/objects/{type}", write, Call::Create(kind)),
        ("PATCH", [id]) => (
            "PATCH /crm/v3/objects/{type}/{id}",
            write,
            Call::Update(kind, id.to_string()),
        ),
        ("DELETE", [id]) => (
            "DELETE /crm/v3/objects/{type}/{id}",
            write,
            Call::Archive(kind, id.to_string()),
        ),
        ("POST", ["batch", "create"]) => (
            "POST /crm/v3/objects/{type}/batch/create",
            write,
            Call::BatchCreate(kind),
        ),
        ("POST", ["batch", "update"]) => (
            "POST /crm/v3/objects/{type}/batch/update",
            write,
            Call::BatchUpdate(kind),
        ),
        ("POST", ["batch", "upsert"]) => (
            "POST /crm/v3/objects/{type}/batch/upsert",
            write,
            Call::BatchUpsert(kind),
        ),
        ("POST", ["batch", "archive"]) => (
            "POST /crm/v3/objects/{type}/batch/archive",
            write,
            Call::BatchArchive(kind),
        ),
        ("POST", ["gdpr-delete"]) if kind == ObjectType::Contacts => (
            "POST /crm/v3/objects/contacts/gdpr-delete",
            write,
            Call::GdprDelete,
        ),
        _ => return None,
    };
    Some(Api {
        label,
        scopes,
        call,
    })
}

fn schema_scope(kind: ObjectType) -> &'static str {
    match kind {
        ObjectType::Companies => "crm.schemas.companies.read",
        ObjectType::Deals => "crm.schemas.deals.read",
        _ => "crm.schemas.contacts.read",
    }
}
