//! A throw-away PostgreSQL server for the tests and benchmarks: a cluster in a temporary
//! directory, run from the server binaries Debian's `postgresql` package installs, listening
//! on 127.0.0.1 at a free port. Each caller takes a fresh database on it.
//!
//! PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` user the
//! package creates. The server is started by a thread that lives as long as the process and
//! asks the kernel to stop it (SIGQUIT, PostgreSQL's immediate shutdown) when that thread
//! ends: a test process that is killed leaves no server behind.

use std::ffi::CString;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

use anyhow::{bail, Context as _};

/// The superuser the cluster is created with (trust authentication on 127.0.0.1).
pub const SUPERUSER: &str = "gateway";

/// A running throw-away cluster.
pub struct Cluster {
    port: u16,
    keeper: mpsc::Sender<Keep>,
    databases: AtomicU32,
    /// Statics are never dropped: the directory of a shared cluster stays until the next
    /// [`Cluster::start`] finds its process gone (`sweep`).
    _dir: tempfile::TempDir,
}

enum Keep {
    Start(mpsc::Sender<anyhow::Result<()>>),
    Stop(mpsc::Sender<anyhow::Result<()>>),
}

impl Cluster {
    /// The cluster shared by every caller in this process, started on first use.
    ///
    /// # Panics
    /// When no PostgreSQL server can be started here (the message says why).
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<Cluster> = OnceLock::new();
        SHARED.get_or_init(|| {
            Cluster::start().unwrap_or_else(|error| {
                panic!("cannot start a throw-away PostgreSQL server: {error:#}")
            })
        })
    }

    /// Creates and starts a cluster in a new temporary directory.
    pub fn start() -> anyhow::Result<Cluster> {
        Cluster::start_serving(None)
    }

    /// Like [`Cluster::start`], serving TLS too with the certificate chain and key (PEM)
    /// given; plain connections are still accepted.
    pub fn start_with_tls(certificate: &str, key: &str) -> anyhow::Result<Cluster> {
        Cluster::start_serving(Some((certificate, key)))
    }

    fn start_serving(tls: Option<(&str, &str)>) -> anyhow::Result<Cluster> {
        let bin = server_binaries()?;
        sweep();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{PREFIX}{}-", std::process::id()))
            .tempdir()
            .context("creating the cluster's directory")?;
        let owner = owner()?;
        if let Some((uid, gid)) = owner {
            chown(dir.path(), uid, gid)?;
        }
        let data = dir.path().join("data");
        let initdb = as_owner(Command::new(bin.join("initdb")), owner)
            .args([
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .arg(format!("--username={SUPERUSER}"))
            .arg("-D")
            .arg(&data)
            .output()
            .context("running initdb")?;
        if !initdb.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr));
        }
        let mut settings = Vec::new();
        if let Some((certificate, key)) = tls {
            for (name, text) in [("server.crt", certificate), ("server.key", key)] {
                let path = data.join(name);
                std::fs::write(&path, text).with_context(|| format!("writing {name}"))?;
                // The server refuses a key others can read.
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )?;
                if let Some((uid, gid)) = owner {
                    chown(&path, uid, gid)?;
                }
            }
            settings.push("ssl=on".to_owned());
        }
        let port = super::free_port();
        let server = Server {
            bin,
            data,
            socket_dir: dir.path().to_owned(),
            port,
            owner,
            settings,
        };
        let keeper = server.keep();
        let cluster = Cluster {
            port,
            keeper,
            databases: AtomicU32::new(0),
            _dir: dir,
        };
        cluster.resume()?;
        Ok(cluster)
    }

    /// The URL of `database` on this cluster, as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// Creates an empty database of its own for the caller and returns its URL.
    pub async fn fresh_database(&self) -> anyhow::Result<String> {
        let number = self.databases.fetch_add(1, Ordering::Relaxed);
        let name = format!("gateway_{}_{number}", std::process::id());
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .context("connecting to the throw-away cluster")?;
        let connection = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating database {name}"))?;
        drop(client);
        let _ = connection.await;
        Ok(self.url(&name))
    }

    /// Stops the server (PostgreSQL's fast shutdown: clients are disconnected) until
    /// [`Cluster::resume`].
    pub fn pause(&self) -> anyhow::Result<()> {
        self.ask(Keep::Stop)
    }

    /// Starts the server again after [`Cluster::pause`] (and at creation).
    pub fn resume(&self) -> anyhow::Result<()> {
        self.ask(Keep::Start)
    }

    fn ask(&self, message: fn(mpsc::Sender<anyhow::Result<()>>) -> Keep) -> anyhow::Result<()> {
        let (answer, answered) = mpsc::channel();
        self.keeper
            .send(message(answer))
            .map_err(|_| anyhow::anyhow!("the cluster's keeper thread ended"))?;
        answered
            .recv()
            .map_err(|_| anyhow::anyhow!("the cluster's keeper thread ended"))?
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Before the directory goes.
        let _ = self.pause();
    }
}

/// How to run the server; owned by the keeper thread.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    port: u16,
    owner: Option<(u32, u32)>,
    /// Server settings beyond the defaults below (`-c name=value`).
    settings: Vec<String>,
}

impl Server {
    /// Starts the thread that starts and stops the server. It never ends, so that the
    /// parent-death signal (sent when the starting thread ends) comes only with the process.
    fn keep(self) -> mpsc::Sender<Keep> {
        let (keeper, orders) = mpsc::channel::<Keep>();
        std::thread::Builder::new()
            .name("postgres-keeper".into())
            .spawn(move || {
                let mut running: Option<Child> = None;
                while let Ok(order) = orders.recv() {
                    match order {
                        Keep::Start(answer) => {
                            let started = match running {
                                Some(_) => Ok(()),
                                None => self.spawn().map(|child| running = Some(child)),
                            };
                            let _ = answer.send(started);
                        }
                        Keep::Stop(answer) => {
                            let stopped = running.take().map_or(Ok(()), stop);
                            let _ = answer.send(stopped);
                        }
                    }
                }
                // The cluster was dropped (`Drop` stopped the server) or the process is
                // ending: park, so that the parent-death signal comes only with the process.
                if let Some(child) = running.take() {
                    let _ = stop(child);
                }
                loop {
                    std::thread::park();
                }
            })
            .expect("spawning the postgres keeper thread");
        keeper
    }

    fn spawn(&self) -> anyhow::Result<Child> {
        let mut command = as_owner(Command::new(self.bin.join("postgres")), self.owner);
        command
            .arg("-D")
            .arg(&self.data)
            .arg("-k")
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "max_connections=300"])
            .args(["-c", "log_min_messages=fatal"])
            .args(self.settings.iter().flat_map(|setting| ["-c", setting]))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().context("starting postgres")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() && self.accepts() {
                return Ok(child);
            }
            if let Some(status) = child.try_wait()? {
                bail!("postgres exited at start ({status})");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("postgres did not accept connections within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the server accepts connections (not still starting up).
    fn accepts(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
            .status()
            .is_ok_and(|status| status.success())
    }
}

/// The temporary directories' names: this, the pid of the process that made it, a dash.
const PREFIX: &str = "gateway-pg-";

/// Removes the directories of clusters whose process has ended.
fn sweep() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Fast shutdown: SIGINT, then wait.
fn stop(mut child: Child) -> anyhow::Result<()> {
    let pid = i32::try_from(child.id()).context("a pid")?;
    // SAFETY: signalling our own child, which has not been waited for.
    if unsafe { libc::kill(pid, libc::SIGINT) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    child.wait()?;
    Ok(())
}

/// The directory of `initdb` and `postgres`: `$GATEWAY_PG_BIN`, else the newest
/// `/usr/lib/postgresql/N/bin` (Debian's layout).
fn server_binaries() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("GATEWAY_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .max();
    match newest {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "no PostgreSQL server in /usr/lib/postgresql/*/bin (install Debian's `postgresql` \
             package; scripts/test does) and GATEWAY_PG_BIN is not set"
        ),
    }
}

/// As root, the uid and gid of the `postgres` user; else `None` (run as ourselves).
fn owner() -> anyhow::Result<Option<(u32, u32)>> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let name = CString::new("postgres").expect("no NUL");
    // SAFETY: getpwnam returns a pointer to static storage or null; read at once.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        bail!("running as root, and there is no `postgres` user to run the server as");
    }
    // SAFETY: checked non-null above.
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    Ok(Some((uid, gid)))
}

fn as_owner(mut command: Command, owner: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command
}

fn chown(path: &Path, uid: u32, gid: u32) -> anyhow::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("handing {} to the postgres user", path.display()))
}
