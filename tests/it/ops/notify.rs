//! The systemd notification protocol, seen from systemd's side: READY=1 once serving,
//! WATCHDOG=1 at half `WatchdogSec`, RELOADING=1 then READY=1 around a reload, STOPPING=1.

use tokio::net::UnixDatagram;

use super::*;
use crate::support::process::Systemd;

/// Waits for the next datagram that has `state` in it; `seen` collects every message.
async fn expect(socket: &UnixDatagram, state: &str, seen: &mut Vec<String>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut buffer = [0u8; 4096];
    loop {
        let received = tokio::time::timeout_at(deadline, socket.recv(&mut buffer)).await;
        let Ok(Ok(length)) = received else {
            panic!("no {state} in {seen:?}");
        };
        let message = String::from_utf8_lossy(&buffer[..length]).into_owned();
        let found = message.lines().any(|line| line == state);
        seen.push(message);
        if found {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifies_ready_watchdog_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, "");
    let notify_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify_path).unwrap();
    let systemd = Systemd {
        notify_socket: Some(&notify_path),
        // WatchdogSec=1s: a ping every 500 ms.
        watchdog_usec: Some(1_000_000),
        ..Systemd::default()
    };
    let mut daemon = Process::under_systemd(&config, &systemd);
    let mut seen = Vec::new();
    expect(&socket, "READY=1", &mut seen).await;
    assert_eq!(
        get(&format!("http://127.0.0.1:{port}/readyz"), None).await,
        200
    );
    expect(&socket, "WATCHDOG=1", &mut seen).await;
    expect(&socket, "WATCHDOG=1", &mut seen).await;
    daemon.signal(libc::SIGHUP);
    expect(&socket, "RELOADING=1", &mut seen).await;
    expect(&socket, "READY=1", &mut seen).await;
    daemon.signal(libc::SIGTERM);
    expect(&socket, "STOPPING=1", &mut seen).await;
    assert_eq!(
        daemon.wait_exit().await.code(),
        Some(0),
        "{}",
        daemon.log_text()
    );
    assert!(daemon.log_text().contains("systemd watchdog enabled"));
}
