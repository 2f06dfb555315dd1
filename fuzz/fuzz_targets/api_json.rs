//! Fuzzes the query API's JSON request bodies through the real handlers: `api::handle` with
//! a daemon's `State` (temp store, sync off, a connected portal with owners and property
//! definitions), so the parsing and validation are exactly what the HTTP API runs.
//!
//! Input: the first byte picks the route, the rest is the body:
//! 0 `POST /v1/indicators` · 1 `PUT /v1/user-mappings/{email}` · 2 `POST /v1/user-mappings/auto`
//! · 3 `POST /v1/ownership/resolve` · 4 `PUT /v1/export/settings` · 5/6 `PUT
//! /v1/export/mappings/{companies,contacts}` · 7 `POST /v1/exports` · 8 `POST
//! /v1/export/mappings/contacts/test`.
//!
//! Oracles: no panic; every answer is 2xx or a 4xx/503 with the one error body (no 500); an
//! accepted body re-validates to the same answer (settings and mappings PUT back as they were
//! answered; user mappings and resolve agree), and batch answers have one result per item.
//! What a call stored is undone, so inputs stay reproducible. `FUZZ_API_TRACE=1` prints every
//! call's path, status and answer (to check what a corpus reaches).
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hubspot_gateway::api::{self, Portal, State};
use hubspot_gateway::object::ObjectType;
use hubspot_gateway::store::{Owner, PropertyDef};
use hubspot_gateway::{config, daemon};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const ADMIN: &str = "fuzz-admin-token";
const HUB: i64 = 62515;

struct World {
    runtime: tokio::runtime::Runtime,
    state: Arc<State>,
    _running: daemon::Running,
}

fn env(name: &str) -> Option<String> {
    match name {
        "FUZZ_SECRET" => Some("fuzz-client-secret".into()),
        "FUZZ_ADMIN" => Some(ADMIN.into()),
        _ => None,
    }
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let store = store_dir();
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
public_url = "https://hooks.example.com"
[hubspot]
client_secret = "env:FUZZ_SECRET"
access_token = "env:FUZZ_SECRET"
[sync]
enabled = false
[store]
path = "{}"
[[api.tokens]]
name = "admin"
token = "env:FUZZ_ADMIN"
scope = "admin"
"#,
            store.display()
        );
        let loaded = config::load_str(&text, &env).expect("fuzz config is valid");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let running = runtime
            .block_on(daemon::start(&loaded))
            .expect("daemon starts");
        let state = running.state.clone();
        state
            .sites
            .first()
            .set_portal(Portal {
                hub_id: HUB,
                ui_base: "https://app.hubspot.com".into(),
                user_email: Some("admin@seller.example".into()),
                user_id: Some(9001),
            })
            .unwrap();
        seed(&state);
        World {
            runtime,
            state,
            _running: running,
        }
    })
}

/// A fresh store directory for this process, on tmpfs when there is one (settings and
/// mapping saves fdatasync); directories of fuzz processes that are gone are removed.
fn store_dir() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    };
    const PREFIX: &str = "hubspot-gateway-fuzz-api-";
    for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(PREFIX) {
            if !std::path::Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let store = base.join(format!("{PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    store
}

/// Owners (mapping, resolve) and the definitions the default mappings name.
fn seed(state: &State) {
    let owner = |id: i64, email: &str| Owner {
        id,
        user_id: Some(9000 + id),
        email: email.into(),
        first_name: "F".into(),
        last_name: "L".into(),
        teams: Vec::new(),
        archived: false,
        updated_at_ms: 0,
    };
    let reference = state.store.reference();
    reference
        .replace_owners(
            HUB,
            &[
                owner(101, "ann@seller.example"),
                owner(102, "admin@seller.example"),
            ],
        )
        .unwrap();
    let def = |name: &str, value_type: &str, options: &[&str]| PropertyDef {
        name: name.into(),
        label: name.into(),
        value_type: value_type.into(),
        field_type: if options.is_empty() { "text" } else { "select" }.into(),
        options: options
            .iter()
            .map(|o| (o.to_string(), o.to_string()))
            .collect(),
        ..PropertyDef::default()
    };
    let companies = [
        def("name", "string", &[]),
        def("domain", "string", &[]),
        def("phone", "string", &[]),
        def("industry", "enumeration", &["COMPUTER_SOFTWARE", "BANKING"]),
        def("city", "string", &[]),
        def("country", "string", &[]),
        def("numberofemployees", "number", &[]),
        def("hubspot_owner_id", "enumeration", &["101", "102"]),
        PropertyDef {
            read_only_value: true,
            ..def("hs_object_id", "number", &[])
        },
    ];
    let contacts = [
        def("email", "string", &[]),
        def("firstname", "string", &[]),
        def("lastname", "string", &[]),
        def("company", "string", &[]),
        def("jobtitle", "string", &[]),
        def("phone", "string", &[]),
        def("mobilephone", "string", &[]),
        def("lifecyclestage", "enumeration", &["lead", "customer"]),
        def("hubspot_owner_id", "enumeration", &["101", "102"]),
    ];
    reference
        .replace_properties(HUB, ObjectType::Companies, &companies)
        .unwrap();
    reference
        .replace_properties(HUB, ObjectType::Contacts, &contacts)
        .unwrap();
}

impl World {
    fn call(&self, method: Method, path: &str, body: &[u8]) -> (u16, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {ADMIN}"))
            .body(Full::new(Bytes::copy_from_slice(body)))
            .unwrap();
        self.runtime.block_on(async {
            let response = api::handle(self.state.clone(), api::Surface::Shared, request)
                .await
                .unwrap();
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            if std::env::var_os("FUZZ_API_TRACE").is_some() {
                eprintln!("{path} {status} {}", String::from_utf8_lossy(&bytes));
            }
            let value = if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("every answer is JSON")
            };
            (status, value)
        })
    }
}

/// 2xx, or a 4xx / 503 with `{"error": {"code", "message"}}`.
fn check_answer(what: &str, status: u16, body: &Value) {
    if (200..300).contains(&status) {
        return;
    }
    assert!(
        (400..500).contains(&status) || status == 503,
        "{what}: status {status} {body}"
    );
    assert!(
        body["error"]["code"]
            .as_str()
            .is_some_and(|code| !code.is_empty())
            && body["error"]["message"].is_string(),
        "{what}: error body {body}"
    );
}

fn items(request: &Value, key: &str) -> usize {
    request[key].as_array().map_or(0, Vec::len)
}

const MAPPED_EMAIL: &str = "sam%40seller.example";

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let world = world();
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match selector % 9 {
        0 => {
            let (status, answer) = world.call(Method::POST, "/v1/indicators", body);
            check_answer("indicators", status, &answer);
            if status == 200 {
                for key in ["companies", "contacts"] {
                    assert_eq!(
                        answer[key].as_array().map(Vec::len),
                        Some(items(&request, key)),
                        "one result per {key} item: {answer}"
                    );
                }
            }
        }
        1 => {
            let path = format!("/v1/user-mappings/{MAPPED_EMAIL}");
            let (status, answer) = world.call(Method::PUT, &path, body);
            check_answer("user mapping", status, &answer);
            if status == 200 {
                let owner_id = answer["owner_id"].as_str().expect("a mapped owner id");
                // Resolve agrees with what was just saved.
                let resolve = br#"{"user_email": "Sam@Seller.example"}"#;
                let (status, resolved) = world.call(Method::POST, "/v1/ownership/resolve", resolve);
                assert_eq!(status, 200, "{resolved}");
                assert_eq!(resolved["owner_id"], owner_id, "{resolved}");
                assert_eq!(resolved["reason"], "mapped", "{resolved}");
                let (status, _) = world.call(Method::DELETE, &path, b"");
                assert_eq!(status, 204);
            }
        }
        2 => {
            let (status, answer) = world.call(Method::POST, "/v1/user-mappings/auto", body);
            check_answer("auto mapping", status, &answer);
            if status == 200 {
                let mappings = answer["mappings"].as_array().expect("mappings");
                assert!(mappings.len() <= items(&request, "emails"), "{answer}");
                for mapping in mappings {
                    let email = mapping["email"].as_str().expect("email");
                    let path = format!("/v1/user-mappings/{}", url_escape(email));
                    let _ = world.call(Method::DELETE, &path, b"");
                }
            }
        }
        3 => {
            let (status, answer) = world.call(Method::POST, "/v1/ownership/resolve", body);
            check_answer("resolve", status, &answer);
            if status == 200 {
                let reason = answer["reason"].as_str().unwrap_or_default();
                assert!(
                    matches!(reason, "mapped" | "email_match" | "fallback"),
                    "{answer}"
                );
                // An email match is remembered as an auto mapping: asking again gives the
                // same owner.
                let (status, again) = world.call(Method::POST, "/v1/ownership/resolve", body);
                assert_eq!(status, 200, "{again}");
                assert_eq!(
                    again["owner_id"], answer["owner_id"],
                    "{answer} then {again}"
                );
                if let Some(email) = request["user_email"].as_str() {
                    let email = email.trim().to_lowercase();
                    let path = format!("/v1/user-mappings/{}", url_escape(&email));
                    let _ = world.call(Method::DELETE, &path, b"");
                }
            }
        }
        4 => {
            let (status, answer) = world.call(Method::PUT, "/v1/export/settings", body);
            check_answer("settings", status, &answer);
            if status == 200 {
                let again = serde_json::to_vec(&answer).unwrap();
                let (status, second) = world.call(Method::PUT, "/v1/export/settings", &again);
                assert_eq!((status, &second), (200, &answer), "settings re-validate");
                let (status, _) = world.call(Method::DELETE, "/v1/export/settings", b"");
                assert_eq!(status, 200);
            }
        }
        selector @ (5 | 6) => {
            let path = if selector == 5 {
                "/v1/export/mappings/companies"
            } else {
                "/v1/export/mappings/contacts"
            };
            let (status, before) = world.call(Method::GET, path, b"");
            assert_eq!(status, 200, "{before}");
            let (status, answer) = world.call(Method::PUT, path, body);
            check_answer("mapping", status, &answer);
            if status == 200 {
                let (status, stored) = world.call(Method::GET, path, b"");
                assert_eq!(
                    (status, &stored),
                    (200, &answer),
                    "the mapping stored is the one answered"
                );
                let again = serde_json::to_vec(&answer).unwrap();
                let (status, second) = world.call(Method::PUT, path, &again);
                assert_eq!(
                    (status, &second),
                    (200, &answer),
                    "a saved mapping re-validates"
                );
                let previous = serde_json::to_vec(&before).unwrap();
                let (status, restored) = world.call(Method::PUT, path, &previous);
                assert_eq!(status, 200, "{restored}");
            } else if status == 400 && answer["error"]["code"] == "invalid_mapping" {
                let problems = answer["error"]["problems"].as_array().expect("problems");
                assert!(!problems.is_empty(), "{answer}");
            }
        }
        7 => {
            // Dry runs only: a job would stay queued in the store (no worker without sync).
            let mut request = request;
            if let Some(object) = request.as_object_mut() {
                object.insert("dry_run".into(), Value::Bool(true));
            }
            let body = serde_json::to_vec(&request).unwrap();
            let (status, answer) = world.call(Method::POST, "/v1/exports", &body);
            check_answer("export", status, &answer);
            if status == 200 {
                assert_eq!(
                    answer["results"].as_array().map(Vec::len),
                    Some(items(&request, "records")),
                    "one result per record: {answer}"
                );
            }
        }
        _ => {
            // Parsed and checked before HubSpot is needed: without a connection, 400 or 503.
            let path = "/v1/export/mappings/contacts/test";
            let (status, answer) = world.call(Method::POST, path, body);
            check_answer("mapping test", status, &answer);
            assert_ne!(status / 100, 2, "no HubSpot to test against: {answer}");
        }
    }
});

/// A path segment for an email (the router percent-decodes parameters).
fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
