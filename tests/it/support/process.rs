//! The real `hubspot-gateway` binary as a child process: spawn (optionally with a listening
//! socket passed as systemd does), wait for readiness, signal, wait for its exit, read its log.

use std::os::fd::AsRawFd as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::{ADMIN_TOKEN, CLIENT_SECRET, READ_TOKEN};

pub const BINARY: &str = env!("CARGO_BIN_EXE_hubspot-gateway");

/// The binary with `--config` and the environment the test configs refer to.
pub fn command(config: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command.arg("--config").arg(config);
    environment(&mut command);
    command
}

fn environment(command: &mut Command) {
    command
        .env("IT_CLIENT_SECRET", CLIENT_SECRET)
        .env("IT_ACCESS_TOKEN", "pat-na1-it")
        .env("IT_READ_TOKEN", READ_TOKEN)
        .env("IT_READ_TOKEN_2", "it-read-token-2")
        .env("IT_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("IT_EXPORT_TOKEN", super::EXPORT_TOKEN)
        .env("IT_SECRETS_KEY", super::SECRETS_KEY)
        .env_remove("RUST_LOG")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS")
        .env_remove("WATCHDOG_USEC")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
}

/// What systemd would hand the daemon.
#[derive(Default)]
pub struct Systemd<'a> {
    /// The socket for fd 3, and a `LISTEN_PID` other than the daemon's (`None`: its own).
    pub listener: Option<(&'a std::net::TcpListener, Option<u32>)>,
    /// `NOTIFY_SOCKET`: a datagram socket receiving READY=1 and friends.
    pub notify_socket: Option<&'a Path>,
    /// `WatchdogSec=` in microseconds.
    pub watchdog_usec: Option<u64>,
}

fn pass_as_fd_3(command: &mut Command, fd: std::os::fd::RawFd) {
    // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl) run.
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                // dup2 onto itself keeps close-on-exec: clear it.
                if libc::fcntl(3, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A running `hubspot-gateway serve`; its stderr (JSON log lines) goes to `log`.
pub struct Process {
    pub child: Child,
    pub log: PathBuf,
}

impl Process {
    /// `serve` with `config`; the log goes next to it.
    pub fn serve(config: &Path) -> Process {
        let mut command = command(config);
        command.arg("serve");
        Self::spawn(command, config)
    }

    /// `serve` as systemd socket activation starts it: `listener` as fd 3, `LISTEN_FDS=1`,
    /// and `LISTEN_PID` set to the daemon's own pid by a shell that then execs it.
    /// `listen_pid` overrides the pid (to check that a foreign one is ignored).
    pub fn activated(
        config: &Path,
        listener: &std::net::TcpListener,
        listen_pid: Option<u32>,
    ) -> Process {
        let systemd = Systemd {
            listener: Some((listener, listen_pid)),
            ..Systemd::default()
        };
        Self::under_systemd(config, &systemd)
    }

    /// `serve` started the way systemd starts it: a shell sets the variables that must name
    /// the daemon's own pid (`$$`, which `exec` keeps), then execs the binary.
    pub fn under_systemd(config: &Path, systemd: &Systemd<'_>) -> Process {
        let mut variables = String::new();
        if let Some((_, pid)) = systemd.listener {
            let pid = pid.map_or("$$".to_owned(), |pid| pid.to_string());
            variables.push_str(&format!("LISTEN_PID={pid} LISTEN_FDS=1 "));
        }
        if let Some(usec) = systemd.watchdog_usec {
            variables.push_str(&format!("WATCHDOG_PID=$$ WATCHDOG_USEC={usec} "));
        }
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(format!("{variables}exec \"$0\" \"$@\""))
            .arg(BINARY)
            .arg("--config")
            .arg(config)
            .arg("serve");
        environment(&mut command);
        if let Some(socket) = systemd.notify_socket {
            command.env("NOTIFY_SOCKET", socket);
        }
        if let Some((listener, _)) = systemd.listener {
            pass_as_fd_3(&mut command, listener.as_raw_fd());
        }
        Self::spawn(command, config)
    }

    /// Spawns `command` (the binary with its arguments); the log goes next to `config`.
    pub fn spawn(mut command: Command, config: &Path) -> Process {
        let log = config.with_extension("log");
        let stderr = std::fs::File::create(&log).unwrap();
        let child = command.stderr(stderr).spawn().unwrap();
        Process { child, log }
    }

    /// Waits until `base` answers `/readyz` with 200.
    pub async fn wait_ready(&mut self, base: &str) {
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = http.get(format!("{base}/readyz")).send().await {
                if response.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("daemon exited with {status}: {}", self.log_text());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "daemon did not become ready: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let result = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(result, 0, "kill failed");
    }

    /// Waits (at most 30 s) for the process to exit.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "daemon did not exit: {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has `needle` at least `count` times.
    pub async fn wait_log(&self, needle: &str, count: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.log_text().matches(needle).count() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "log never said {needle:?} {count} time(s): {}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failed test must not leave a daemon behind.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub use hubspot_gateway::kit::free_port;

/// Writes a config (in `dir`) for the real binary mirroring `objects` from the simulator at
/// `api_base`, listening on a free port; returns the config path and the port.
pub fn sim_config_file(dir: &Path, api_base: &str, objects: &[&str]) -> (std::path::PathBuf, u16) {
    sim_config_file_on(dir, api_base, objects, None)
}

/// Like [`sim_config_file`], the store on PostgreSQL at `database_url` when given (the
/// daemon reads it from `IT_DATABASE_URL`).
pub fn sim_config_file_on(
    dir: &Path,
    api_base: &str,
    objects: &[&str],
    database_url: Option<&str>,
) -> (std::path::PathBuf, u16) {
    let port = free_port();
    let objects: Vec<String> = objects.iter().map(|name| format!("{name:?}")).collect();
    let options = super::Options {
        hubspot: format!("api_base = \"{api_base}\""),
        sync: Some(format!(
            "objects = [{}]\n{}",
            objects.join(", "),
            super::far_reconcile_window()
        )),
        database_url: database_url.map(str::to_owned),
        ..super::Options::default()
    };
    let config = dir.join("config.toml");
    let text = super::config_with(
        &format!("127.0.0.1:{port}"),
        "https://h.example",
        &dir.join("store"),
        &options,
    );
    std::fs::write(&config, text).unwrap();
    (config, port)
}

/// The lines a child prints, as they come: a thread reads `stdout` to its end (so the child
/// never blocks on a full pipe, and its last lines arrive after it exits).
pub fn lines_of(stdout: std::process::ChildStdout) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    use std::io::{BufRead as _, BufReader};
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    receiver
}
