//! hubspot-sim: serve a simulated HubSpot portal, or fire signed webhooks at a receiver.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use hubspot_gateway::sim::fire::{self, FireConfig};
use hubspot_gateway::sim::{
    self, JournalConfig, OtherAccount, RateLimit, SimConfig, WebhookTarget,
};
use hubspot_gateway::webhook::signature::Version;

#[derive(Parser)]
#[command(
    name = "hubspot-sim",
    version,
    about = "HubSpot API simulator and signed-webhook load generator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HubSpot API subset from a generated portal until Ctrl-C.
    Serve(Box<ServeArgs>),
    /// Post signed webhook batches and report throughput, latency and statuses.
    Fire(FireArgs),
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[arg(long, default_value_t = 20)]
    owners: usize,
    #[arg(long, default_value_t = 500)]
    contacts: usize,
    #[arg(long, default_value_t = 200)]
    companies: usize,
    #[arg(long, default_value_t = 100)]
    deals: usize,
    #[arg(long, default_value_t = 100)]
    tasks: usize,
    /// Ten-secondly limit as N/SECS (e.g. 190/10), or "none".
    #[arg(long, default_value = "190/10", value_parser = parse_limit)]
    rate_limit: LimitArg,
    /// Search limit as N/SECS (e.g. 5/1), or "none".
    #[arg(long, default_value = "5/1", value_parser = parse_limit)]
    search_rate_limit: LimitArg,
    #[arg(long)]
    daily_limit: Option<u64>,
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    #[arg(long, default_value_t = 1800)]
    token_ttl_secs: u64,
    #[arg(long, default_value_t = 0)]
    search_lag_ms: u64,
    #[arg(long, default_value_t = 62_515_001)]
    portal_id: i64,
    #[arg(long)]
    access_token: Option<String>,
    /// Where to send webhooks for changes (signed v1 + v3 with --client-secret).
    #[arg(long)]
    webhook_target: Option<String>,
    #[arg(long)]
    client_secret: Option<String>,
    /// First webhook retry delay; later ones double with jitter (HubSpot: about a minute).
    #[arg(long, default_value_t = 60_000)]
    webhook_retry_base_ms: u64,
    /// Webhooks Journal: a file closes this long after its first event (or at 10 000
    /// events / 5 MB).
    #[arg(long, default_value_t = 200)]
    journal_file_interval_ms: u64,
    /// The journal's own limit as N/SECS, or "none" (HubSpot's old beta: 100 per second).
    #[arg(long, default_value = "100/1", value_parser = parse_limit)]
    journal_rate_limit: LimitArg,
    /// Lifetime of the journal's pre-signed file URLs.
    #[arg(long, default_value_t = 600)]
    journal_url_ttl_secs: u64,
    /// How long the journal keeps files (HubSpot: 3 days).
    #[arg(long, default_value_t = 72)]
    journal_retention_hours: u64,
    /// Subscribe the portal's journal to every change it can carry, as a consumer would.
    #[arg(long)]
    journal_subscribe_all: bool,
    /// Lifetime of OAuth authorization codes.
    #[arg(long, default_value_t = 60)]
    code_ttl_secs: u64,
    /// A registered redirect URL of the OAuth app (repeatable). None: any https URL, or
    /// http on localhost/127.0.0.1, is accepted.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Rotate refresh tokens: each refresh answers a new one, the old one works this many
    /// seconds longer. Default: HubSpot's behaviour (the refresh token never changes).
    #[arg(long)]
    refresh_rotation_grace_secs: Option<u64>,
    /// Accounts beside the simulated portal, comma-separated, or "none". Each is an empty
    /// CRM whose users are the portal's first owner and admin@othercorp.example.
    #[arg(long, default_value = "62515002", value_parser = parse_portal_ids)]
    other_portal_ids: PortalIds,
}

/// `--other-portal-ids`: a list of portal ids, or `none`.
#[derive(Clone)]
struct PortalIds(Vec<i64>);

fn parse_portal_ids(text: &str) -> Result<PortalIds, String> {
    if text == "none" {
        return Ok(PortalIds(Vec::new()));
    }
    text.split(',')
        .map(|id| {
            id.trim()
                .parse()
                .map_err(|_| format!("bad portal id {id:?}"))
        })
        .collect::<Result<_, _>>()
        .map(PortalIds)
}

#[derive(Args)]
struct FireArgs {
    #[arg(long)]
    target: String,
    #[arg(long)]
    client_secret: String,
    #[arg(long, default_value = "v3", value_parser = parse_version)]
    signature_version: Version,
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 0.0)]
    duplicate_rate: f64,
    #[arg(long, default_value_t = 62_515_001)]
    portal_id: i64,
    #[arg(long, default_value_t = 4_242_424)]
    app_id: i64,
    /// Send at most N requests per second on a fixed schedule (open loop; latency counts
    /// from each request's due time). Default: as fast as the receiver answers.
    #[arg(long)]
    rate: Option<f64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// A rate limit flag: `N/SECS` or `none` (clap treats a bare `Option` as "flag absent").
#[derive(Clone, Copy)]
struct LimitArg(Option<RateLimit>);

fn parse_limit(text: &str) -> Result<LimitArg, String> {
    if text == "none" {
        return Ok(LimitArg(None));
    }
    let (max, secs) = text.split_once('/').ok_or("expected N/SECS, e.g. 190/10")?;
    let max = max
        .parse()
        .map_err(|_| format!("bad request count {max:?}"))?;
    let secs: f64 = secs.parse().map_err(|_| format!("bad seconds {secs:?}"))?;
    if max == 0 || secs <= 0.0 {
        return Err("both N and SECS must be positive".to_string());
    }
    Ok(LimitArg(Some(RateLimit {
        max,
        interval_ms: (secs * 1000.0) as u64,
    })))
}

fn parse_version(text: &str) -> Result<Version, String> {
    Version::parse(text).ok_or_else(|| "expected v1, v2 or v3".to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("hubspot-sim: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(*args)),
        Command::Fire(args) => runtime.block_on(fire_command(args)),
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        eprintln!("hubspot-sim: --fault-rate must be within 0..=1");
        return ExitCode::from(2);
    }
    let webhook = match (args.webhook_target, args.client_secret.clone()) {
        (Some(url), Some(secret)) => Some(WebhookTarget {
            retry_base_ms: args.webhook_retry_base_ms,
            ..WebhookTarget::new(url, secret)
        }),
        (Some(_), None) => {
            eprintln!("hubspot-sim: --webhook-target needs --client-secret");
            return ExitCode::from(2);
        }
        (None, _) => None,
    };
    let defaults = SimConfig::default();
    let config = SimConfig {
        seed: args.seed,
        owners: args.owners,
        contacts: args.contacts,
        companies: args.companies,
        deals: args.deals,
        tasks: args.tasks,
        portal_id: args.portal_id,
        rate_limit: args.rate_limit.0,
        search_rate_limit: args.search_rate_limit.0,
        daily_limit: args.daily_limit,
        fault_rate: args.fault_rate,
        latency_ms: args.latency_ms,
        token_ttl_secs: args.token_ttl_secs,
        access_token: args.access_token.unwrap_or(defaults.access_token.clone()),
        client_secret: args.client_secret.unwrap_or(defaults.client_secret.clone()),
        search_lag_ms: args.search_lag_ms,
        webhook,
        code_ttl_secs: args.code_ttl_secs,
        redirect_uris: args.redirect_uris,
        refresh_rotation_grace_secs: args.refresh_rotation_grace_secs,
        other_accounts: (args.other_portal_ids.0.iter())
            .map(|&portal_id| OtherAccount {
                portal_id,
                ..OtherAccount::second()
            })
            .collect(),
        journal: JournalConfig {
            file_interval_ms: args.journal_file_interval_ms.max(1),
            rate_limit: args.journal_rate_limit.0,
            url_ttl_ms: args.journal_url_ttl_secs * 1000,
            retention_ms: args.journal_retention_hours * 3_600_000,
            ..JournalConfig::default()
        },
        ..defaults
    };
    let handle = match sim::start(config, args.listen).await {
        Ok(handle) => handle,
        Err(error) => {
            eprintln!("hubspot-sim: {error:#}");
            return ExitCode::from(1);
        }
    };
    if args.journal_subscribe_all {
        handle.control().journal_subscribe_all();
    }
    let config = handle.config();
    println!("hubspot-sim listening on {}", handle.base_url());
    println!("access token (private app): {}", config.access_token);
    println!(
        "oauth: client_id={} client_secret={} refresh_token={}",
        config.client_id, config.client_secret, config.refresh_token
    );
    println!(
        "webhooks journal: client_credentials grant with scope developer.webhooks_journal.read; {} subscription(s)",
        handle.control().journal_subscriptions().len()
    );
    println!(
        "portal id: {}  control: {}/_sim/stats",
        config.portal_id,
        handle.base_url()
    );
    println!(
        "authorize: {}  (set the gateway's hubspot.app_base to {})",
        handle.authorize_url(),
        handle.base_url()
    );
    for user in handle.control().users().iter().take(3) {
        println!(
            "hubspot user: {} (accounts {:?})",
            user.email, user.portal_ids
        );
    }
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    ExitCode::SUCCESS
}

async fn fire_command(args: FireArgs) -> ExitCode {
    let config = FireConfig {
        target: args.target,
        client_secret: args.client_secret,
        version: args.signature_version,
        events: args.events,
        batch_size: args.batch_size,
        concurrency: args.concurrency,
        duplicate_rate: args.duplicate_rate,
        portal_id: args.portal_id,
        app_id: args.app_id,
        owner_changes: None,
    };
    if let Err(error) = fire::check(&config) {
        eprintln!("hubspot-sim fire: {error:#}");
        return ExitCode::from(2);
    }
    if args
        .rate
        .is_some_and(|rate| !(rate > 0.0 && rate.is_finite()))
    {
        eprintln!("hubspot-sim fire: --rate must be a positive number of requests per second");
        return ExitCode::from(2);
    }
    match fire::run_paced(config, args.rate).await {
        Ok(report) => {
            if args.json {
                println!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                println!("{}", report.human());
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("hubspot-sim fire: {error:#}");
            ExitCode::from(1)
        }
    }
}
