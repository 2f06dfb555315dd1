//! Socket activation: the daemon serves on the socket passed as fd 3 when `LISTEN_PID` is its
//! own pid, and binds `server.listen` itself when the variables name another process.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_on_the_socket_systemd_passes() {
    let dir = tempfile::tempdir().unwrap();
    // server.listen names a port nobody binds: answers can only come from the passed socket.
    let unused = free_port();
    let config = write_config(dir.path(), unused, "");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut daemon = Process::activated(&config, &listener, None);
    // The kernel queues connections before the daemon runs: none is refused.
    let early_url = format!("{base}/healthz");
    let early = tokio::spawn(async move { get(&early_url, None).await });
    daemon.wait_ready(&base).await;
    assert_eq!(early.await.unwrap(), 200);
    assert!(daemon
        .log_text()
        .contains("using the socket systemd passed"));
    let unbound = reqwest::get(format!("http://127.0.0.1:{unused}/healthz")).await;
    assert!(unbound.is_err(), "server.listen must not be bound");
    daemon.signal(libc::SIGTERM);
    assert_eq!(
        daemon.wait_exit().await.code(),
        Some(0),
        "{}",
        daemon.log_text()
    );
    // Our copy of the socket still listens: a restarted daemon would find it.
    assert!(std::net::TcpStream::connect(listener.local_addr().unwrap()).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignores_sockets_meant_for_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), port, "");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut daemon = Process::activated(&config, &listener, Some(1));
    daemon.wait_ready(&format!("http://127.0.0.1:{port}")).await;
    assert!(!daemon
        .log_text()
        .contains("using the socket systemd passed"));
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().await.code(), Some(0));
}
