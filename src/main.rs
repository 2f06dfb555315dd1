//! `hubspot-gateway`: the daemon and its command line. CLI -> config -> run -> exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hubspot_gateway::config::{self, Loaded};
use hubspot_gateway::daemon::{self, logging};
use hubspot_gateway::object::ObjectType;

/// sled rewrites tree nodes copy-on-write: most of a backfill's allocations are node-sized
/// buffers freed soon after, which glibc's malloc spends about half the daemon's CPU on
/// (consolidating and splitting chunks); mimalloc's size-class pages do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps a live local mirror of a HubSpot CRM portal and answers ownership questions.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Config file.
    #[arg(long, global = true, env = config::PATH_ENV, default_value = config::DEFAULT_PATH)]
    config: PathBuf,
    /// Log format; level from RUST_LOG (default info).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    log_format: logging::Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon (systemd Type=notify aware) until SIGTERM or SIGINT.
    Serve,
    /// Validate the config and print every problem with its key path (exit 0 or 2).
    CheckConfig,
    /// Start a simulated HubSpot portal and a gateway mirroring it; print what to try.
    Demo {
        /// Where the gateway listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// No webhooks: the gateway reads HubSpot's Webhooks Journal instead.
        #[arg(long)]
        no_webhooks: bool,
    },
    /// Connect to HubSpot as an app: print HubSpot's authorize URL and wait for the callback
    /// (through the running daemon if there is one, else serving it on server.listen).
    Connect,
    /// One sync pass, then exit: through the running daemon if there is one, else directly.
    Sync {
        /// Only this object type (contacts, companies, deals, tasks).
        #[arg(long)]
        object: Option<ObjectType>,
        /// A full pass: list every record again (a reconciliation when the daemon runs).
        #[arg(long)]
        full: bool,
        /// The HubSpot portal (account id) to sync, when the gateway mirrors several.
        #[arg(long)]
        portal: Option<i64>,
    },
    /// Sync state, counts, cursors, inbox depth, last webhook: from the running daemon if
    /// one answers, else read from the store.
    Status {
        /// Print JSON (the shape of GET /v1/status) instead of a table.
        #[arg(long)]
        json: bool,
        /// The HubSpot portal (account id) to describe, when the gateway mirrors several
        /// (default: the first).
        #[arg(long)]
        portal: Option<i64>,
    },
    /// Export a CSV (header = source field names) or JSON Lines file into HubSpot: through the
    /// running daemon if there is one, else directly. Exit 0 when no record failed.
    Export {
        /// companies or contacts.
        #[arg(long = "type")]
        kind: ObjectType,
        /// The internal user exporting (decides the owner of new records).
        #[arg(long)]
        user: String,
        /// Show what would happen, record by record; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The HubSpot portal (account id) to export into, when the gateway mirrors several.
        #[arg(long)]
        portal: Option<i64>,
        file: PathBuf,
    },
    /// HubSpot's Webhooks Journal.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Create or upgrade the PostgreSQL schema (`store.backend = "postgres"`).
    Migrate,
    /// Work on the store offline.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Check a stopped store against the gateway's record of what it acknowledged, without
    /// changing it (exit 0 consistent, 1 with what is missing).
    Verify,
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Create (or update) the journal subscriptions the mirror needs for the connected
    /// portal: through the running daemon if there is one, else directly.
    Subscribe {
        /// The HubSpot portal (account id), when the gateway mirrors several.
        #[arg(long)]
        portal: Option<i64>,
    },
}

const EXIT_RUNTIME: u8 = 1;
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    // The store holds CRM data: nothing the gateway creates may be readable by other users,
    // also outside systemd (whose unit sets UMask=0077 itself).
    // SAFETY: umask(2) only sets this process's file mode creation mask.
    unsafe { libc::umask(0o077) };
    hubspot_gateway::store::use_regular_pages();
    let cli = Cli::parse();
    // The demo talks to the user on stdout; only warnings go to the log unless asked.
    let level = if matches!(cli.command, Command::Demo { .. }) {
        "warn"
    } else {
        "info"
    };
    logging::init(cli.log_format, level);
    match cli.command {
        // The demo needs no config file: everything is embedded.
        Command::Demo {
            listen,
            no_webhooks,
        } => run(hubspot_gateway::demo::run(listen, !no_webhooks)),
        Command::CheckConfig => check_config(&cli.config),
        Command::Migrate => match config::load(&cli.config, &|name| std::env::var(name).ok()) {
            Ok(loaded) if loaded.config.store.backend == config::Backend::Sled => {
                eprintln!(
                    "{}: store.backend is \"sled\": `migrate` is for PostgreSQL (a sled store \
                     upgrades itself when the daemon opens it)",
                    cli.config.display()
                );
                ExitCode::from(EXIT_CONFIG)
            }
            Ok(loaded) => run(async move { daemon::commands::migrate(&loaded).await }),
            Err(problems) => config_problems(&cli.config, problems),
        },
        Command::Serve => match load(&cli.config) {
            Ok(loaded) => run(daemon::run(loaded, cli.config.clone())),
            Err(code) => code,
        },
        Command::Connect => match load(&cli.config) {
            Ok(loaded) => run(async move { daemon::connect::run(&loaded).await }),
            Err(code) => code,
        },
        Command::Sync {
            object,
            full,
            portal,
        } => match load(&cli.config) {
            Ok(loaded) => {
                run(async move { daemon::commands::sync_once(&loaded, object, full, portal).await })
            }
            Err(code) => code,
        },
        Command::Status { json, portal } => match load(&cli.config) {
            Ok(loaded) => run(async move { status(&loaded, json, portal).await }),
            Err(code) => code,
        },
        Command::Export {
            kind,
            user,
            dry_run,
            portal,
            file,
        } => match load(&cli.config) {
            Ok(loaded) => run(async move {
                daemon::export_file::run(&loaded, kind, &user, dry_run, &file, portal).await
            }),
            Err(code) => code,
        },
        Command::Journal {
            command: JournalCommand::Subscribe { portal },
        } => match load(&cli.config) {
            Ok(loaded) => {
                run(async move { daemon::commands::journal_subscribe(&loaded, portal).await })
            }
            Err(code) => code,
        },
        Command::Store {
            command: StoreCommand::Verify,
        } => match load_sled(&cli.config) {
            Ok(loaded) => run(async move { daemon::commands::verify_store(&loaded) }),
            Err(code) => code,
        },
    }
}

async fn status(loaded: &Loaded, json: bool, portal: Option<i64>) -> anyhow::Result<()> {
    let (body, source) = daemon::status::collect(loaded, portal).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        print!("{}", daemon::status::render(&body, &source));
    }
    Ok(())
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match config::load(path, &|name| std::env::var(name).ok()) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            println!("{}: OK", path.display());
            ExitCode::SUCCESS
        }
        Err(problems) => config_problems(path, problems),
    }
}

/// Loads the config for a command that runs on sled alone (`store verify`, which checks
/// sled's files against their ledger), printing every problem; the error is the exit code.
fn load_sled(path: &std::path::Path) -> Result<Loaded, ExitCode> {
    let loaded = load(path)?;
    if loaded.config.store.backend == config::Backend::Postgres {
        eprintln!(
            "{}: store.backend is \"postgres\": `store verify` checks a sled store; PostgreSQL \
             checks its own data (and `pg_amcheck` checks it on demand)",
            path.display()
        );
        return Err(ExitCode::from(EXIT_CONFIG));
    }
    Ok(loaded)
}

/// Loads the config, printing every problem; the error is the exit code to use.
fn load(path: &std::path::Path) -> Result<Loaded, ExitCode> {
    config::load(path, &|name| std::env::var(name).ok())
        .map_err(|problems| config_problems(path, problems))
}

fn config_problems(path: &std::path::Path, problems: Vec<config::Problem>) -> ExitCode {
    eprintln!("{}: {} problem(s):", path.display(), problems.len());
    for problem in problems {
        eprintln!("  {problem}");
    }
    ExitCode::from(EXIT_CONFIG)
}

fn run(job: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match runtime.block_on(job) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
