//! Test support: start the gateway on 127.0.0.1:0 with a temp store, sign and post webhooks,
//! call the query API.

pub mod gate;
pub mod metrics_text;
pub mod process;
pub mod pty;
pub mod signing;

use std::net::SocketAddr;
use std::time::Duration;

use hubspot_gateway::config::{self, Scope, SecretRef};
use hubspot_gateway::daemon;
use hubspot_gateway::kit::GatewayConfig;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const CLIENT_SECRET: &str = "it-client-secret-\u{e9}";

/// Where the simulator posts its webhooks for the gateway at `public_url`, signed with
/// [`CLIENT_SECRET`], retrying fast (tests cannot wait HubSpot's minutes).
pub fn webhooks_to(public_url: &str) -> hubspot_gateway::sim::WebhookTarget {
    let url = format!("{public_url}/webhooks/hubspot");
    let mut target = hubspot_gateway::sim::WebhookTarget::new(url, CLIENT_SECRET);
    target.retry_base_ms = 50;
    target
}
pub const READ_TOKEN: &str = "it-read-token";
pub const ADMIN_TOKEN: &str = "it-admin-token";
pub const EXPORT_TOKEN: &str = "it-export-token";
pub const PORTAL_ID: i64 = 62515;
/// 32 bytes in base64 each.
pub const SECRETS_KEY: &str = "aXQtc2VjcmV0cy1rZXktMDEyMzQ1Njc4OWFiY2RlZiE=";
pub const SECRETS_KEY_2: &str = "aXQtc2VjcmV0cy1rZXktMi0yMzQ1Njc4OWFiY2RlZiE=";

/// Environment for the configs the tests write (no process environment is touched).
pub fn env(name: &str) -> Option<String> {
    match name {
        "IT_CLIENT_SECRET" => Some(CLIENT_SECRET.into()),
        "IT_READ_TOKEN" => Some(READ_TOKEN.into()),
        "IT_ADMIN_TOKEN" => Some(ADMIN_TOKEN.into()),
        "IT_EXPORT_TOKEN" => Some(EXPORT_TOKEN.into()),
        "IT_ACCESS_TOKEN" => Some("pat-na1-it".into()),
        // The simulator's refresh token (OAuth configs, `Options::oauth_client_id`).
        "IT_REFRESH_TOKEN" => Some(hubspot_gateway::sim::SimConfig::default().refresh_token),
        // `store.secrets_key`s (connect tests): two different keys.
        "IT_SECRETS_KEY" => Some(SECRETS_KEY.into()),
        "IT_SECRETS_KEY_2" => Some(SECRETS_KEY_2.into()),
        _ => None,
    }
}

/// Lines added to the sections of a test config.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub server: String,
    pub hubspot: String,
    pub store: String,
    /// `None`: sync disabled (no HubSpot is reachable); else the `[sync]` keys to use.
    pub sync: Option<String>,
    /// OAuth with this client id and the simulator's refresh token (`env:IT_REFRESH_TOKEN`)
    /// instead of the private-app token.
    pub oauth_client_id: Option<String>,
    /// An OAuth app connected through Connect: only this client id (no token in the config).
    pub connect_client_id: Option<String>,
    /// Whole sections appended to the config (e.g. `[notify]`).
    pub sections: String,
    /// The store on PostgreSQL at this URL (read from `IT_DATABASE_URL`) instead of sled.
    pub database_url: Option<String>,
}

/// A config for a gateway listening on `listen` with its store in `store`; `extra` is
/// appended to the `[server]` section (e.g. `max_body_bytes = 2048`).
pub fn config_text(listen: &str, public_url: &str, store: &std::path::Path, extra: &str) -> String {
    let options = Options {
        server: extra.to_owned(),
        ..Options::default()
    };
    config_with(listen, public_url, store, &options)
}

/// The tests' config: three API tokens (read, export, admin), the app's secret and its
/// credentials, sync only when `options.sync` says, and the `options` lines added.
pub fn config_with(
    listen: &str,
    public_url: &str,
    store: &std::path::Path,
    options: &Options,
) -> String {
    let mut gateway = GatewayConfig::new(listen, public_url, store)
        .token("reader", "env:IT_READ_TOKEN", Scope::Read)
        .token("exporter", "env:IT_EXPORT_TOKEN", Scope::Export)
        .token("operator", "env:IT_ADMIN_TOKEN", Scope::Admin);
    let hubspot = &mut gateway.config.hubspot;
    hubspot.client_secret = Some(SecretRef::new("env:IT_CLIENT_SECRET"));
    match (&options.oauth_client_id, &options.connect_client_id) {
        (Some(client_id), _) => {
            hubspot.client_id = Some(client_id.clone());
            hubspot.refresh_token = Some(SecretRef::new("env:IT_REFRESH_TOKEN"));
        }
        (None, Some(client_id)) => hubspot.client_id = Some(client_id.clone()),
        (None, None) => hubspot.access_token = Some(SecretRef::new("env:IT_ACCESS_TOKEN")),
    }
    gateway.config.sync.enabled = options.sync.is_some();
    let backend = match (&options.database_url, backend_database(store)) {
        (Some(_), _) => "backend = \"postgres\"\nurl = \"env:IT_DATABASE_URL\"".to_owned(),
        (None, Some(file)) => format!("backend = \"postgres\"\nurl = \"file:{}\"", file.display()),
        (None, None) => String::new(),
    };
    gateway
        .lines("server", &options.server)
        .lines("hubspot", &options.hubspot)
        .lines("sync", options.sync.as_deref().unwrap_or_default())
        .lines("store", &format!("{backend}\n{}", options.store))
        .toml(&options.sections)
        .text()
}

/// The variable that runs the suite's gateways on PostgreSQL: with `IT_BACKEND=postgres`,
/// each store path a config names gets a database of its own on the shared throw-away
/// cluster (`kit::postgres`), whose URL is kept in a file beside it (`STORE.database_url`,
/// read by the config as `file:`): a gateway started again on that path, in this process or
/// as the binary, finds the same database.
pub const BACKEND_VARIABLE: &str = "IT_BACKEND";

/// Whether the suite's gateways run on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(BACKEND_VARIABLE).as_deref() == Ok("postgres")
}

/// The file holding the URL of the database standing for `store` when the suite runs on
/// PostgreSQL (created with its database on first use); `None` on sled.
pub fn backend_database(store: &std::path::Path) -> Option<std::path::PathBuf> {
    match std::env::var(BACKEND_VARIABLE).as_deref() {
        Ok("postgres") => {}
        Ok("sled") | Err(_) => return None,
        Ok(other) => panic!("{BACKEND_VARIABLE}={other}: expected sled or postgres"),
    }
    let mut file = store.as_os_str().to_owned();
    file.push(".database_url");
    let file = std::path::PathBuf::from(file);
    if !file.exists() {
        // A thread of its own: callers may be inside a runtime, which cannot block.
        let created = std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let cluster = hubspot_gateway::kit::postgres::Cluster::shared();
            runtime.block_on(cluster.fresh_database())
        });
        let url = created.join().unwrap().expect("a database for the test");
        std::fs::write(&file, url).unwrap();
    }
    Some(file)
}

/// The store a stopped gateway left at `store` (the config's `store.path`): sled's
/// directory, or (the suite on PostgreSQL) its database, as the leader, so that the test may
/// write what a leader writes.
pub async fn open_store(store: &std::path::Path) -> OpenStore {
    use hubspot_gateway::store::postgres::{Candidate, Database, Role};
    let Some(url) = backend_database(store).map(|file| std::fs::read_to_string(file).unwrap())
    else {
        return OpenStore {
            store: open_sled(store).await,
            lease: None,
        };
    };
    let database = Database::new(&url, 4, None).unwrap();
    let (role, mut roles) = tokio::sync::watch::channel(Role::Following);
    let stop = CancellationToken::new();
    tokio::spawn(Candidate::new(database.clone(), "test").run(role, stop.clone()));
    let leading = roles.wait_for(|role| matches!(role, Role::Leading { .. }));
    tokio::time::timeout(Duration::from_secs(15), leading)
        .await
        .expect("the test takes the lease")
        .unwrap();
    let store = hubspot_gateway::store::Store::open_postgres(database, "test", roles).unwrap();
    OpenStore {
        store,
        lease: Some(stop),
    }
}

/// The sled store at `store`, once nothing holds it (see [`wait_until_released`]).
pub async fn open_sled(store: &std::path::Path) -> hubspot_gateway::store::Store {
    wait_until_released(store).await;
    hubspot_gateway::store::Store::open(store).unwrap()
}

/// Waits until no handle holds sled's file lock on the store at `store` (none if there is no
/// sled store there). Its last handle dropped, sled may hold the lock a moment longer: a log
/// write it handed to its own thread pool keeps the file open until it ends. A test that
/// reopens a store a gateway or a test just let go of would otherwise race it.
pub async fn wait_until_released(store: &std::path::Path) {
    use fs2::FileExt;
    let Ok(file) = std::fs::File::open(store.join("db")) else {
        return;
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while file.try_lock_exclusive().is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "sled still holds {} after 10 s",
            store.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    FileExt::unlock(&file).unwrap();
}

/// A store opened by [`open_store`]; on PostgreSQL its lease ends when this is dropped.
pub struct OpenStore {
    store: hubspot_gateway::store::Store,
    lease: Option<CancellationToken>,
}

impl std::ops::Deref for OpenStore {
    type Target = hubspot_gateway::store::Store;

    fn deref(&self) -> &Self::Target {
        &self.store
    }
}

impl Drop for OpenStore {
    fn drop(&mut self) {
        if let Some(lease) = &self.lease {
            lease.cancel();
        }
    }
}

/// A gateway running in this process.
pub struct Gateway {
    pub addr: SocketAddr,
    /// `server.internal_listen`, when the config sets it.
    pub internal_addr: Option<SocketAddr>,
    pub public_url: String,
    pub http: reqwest::Client,
    /// The admin console (one-time sign-in links).
    pub console: std::sync::Arc<hubspot_gateway::console::Console>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Gateway {
    pub async fn start() -> Gateway {
        Self::start_with("", "").await
    }

    /// `server_extra` goes into `[server]`, `store_extra` into `[store]`.
    pub async fn start_with(server_extra: &str, store_extra: &str) -> Gateway {
        let options = Options {
            server: server_extra.to_owned(),
            store: store_extra.to_owned(),
            ..Options::default()
        };
        // The public URL is what HubSpot would call; it need not be where we listen.
        Self::start_options("127.0.0.1:0", "https://hooks.example.com/gw", &options).await
    }

    pub async fn start_options(listen: &str, public_url: &str, options: &Options) -> Gateway {
        Self::start_in(tempfile::tempdir().unwrap(), listen, public_url, options).await
    }

    /// Starts on the store in `dir` (e.g. one a stopped gateway left behind).
    pub async fn start_in(
        dir: tempfile::TempDir,
        listen: &str,
        public_url: &str,
        options: &Options,
    ) -> Gateway {
        let text = config_with(listen, public_url, &dir.path().join("store"), options);
        let database_url = options.database_url.clone();
        let env = |name: &str| match name {
            "IT_DATABASE_URL" => database_url.clone(),
            other => env(other),
        };
        let loaded = config::load_str(&text, &env).expect("test config is valid");
        let running = daemon::start(&loaded).await.expect("gateway starts");
        let addr = running.local_addr;
        let internal_addr = running.internal_addr;
        let shutdown = running.shutdown_token();
        let console = running.console.clone();
        let task = tokio::spawn(running.wait());
        Gateway {
            addr,
            internal_addr,
            public_url: public_url.into(),
            http: reqwest::Client::new(),
            console,
            shutdown,
            task,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Posts a webhook body to `path` (which may carry a query) with the given signing.
    pub async fn post(&self, path: &str, body: &str, signing: signing::Signing) -> (u16, Value) {
        let signed_uri = format!("{}{path}", self.public_url);
        let mut request = self.http.post(self.url(path)).body(body.to_owned());
        for (name, value) in signing.headers(&signed_uri, body.as_bytes()) {
            request = request.header(name, value);
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request.send().await.unwrap()).await
    }

    /// A JSON request with a bearer token.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> (u16, Value) {
        let request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body);
        answer(request.send().await.unwrap()).await
    }

    pub async fn webhook_status(&self) -> Value {
        let (status, body) = self.get("/v1/status", Some(READ_TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        body["webhooks"].clone()
    }

    /// Stops the gateway cleanly; the returned directory still holds its store.
    pub async fn stop(self) -> tempfile::TempDir {
        let Gateway {
            shutdown,
            task,
            console,
            _dir: dir,
            ..
        } = self;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("gateway stops in time")
            .unwrap()
            .expect("gateway stops cleanly");
        // The console's handle shares the daemon's state, and with it the store.
        drop(console);
        wait_until_released(&dir.path().join("store")).await;
        dir
    }
}

pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// A JSON batch of `count` contact events with ids from `first_id`.
pub fn batch(first_id: i64, count: i64, attempt: i64) -> String {
    batch_at(first_id, count, attempt, 1_767_225_598_000)
}

/// Like [`batch`], the events occurring at `occurred_at_ms` (+ their id, in ms).
pub fn batch_at(first_id: i64, count: i64, attempt: i64, occurred_at_ms: i64) -> String {
    let events: Vec<Value> = (first_id..first_id + count)
        .map(|id| {
            serde_json::json!({
                "eventId": id, "subscriptionId": 2202, "portalId": PORTAL_ID, "appId": 54321,
                "occurredAt": occurred_at_ms + id, "subscriptionType": "contact.propertyChange",
                "attemptNumber": attempt, "objectId": 512 + id, "propertyName": "email",
                "propertyValue": format!("p{id}@example.com"), "changeSource": "CRM_UI"
            })
        })
        .collect();
    serde_json::to_string(&events).unwrap()
}

pub use hubspot_gateway::kit::far_reconcile_window;
