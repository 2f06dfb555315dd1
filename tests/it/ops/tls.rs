//! HTTPS: a certificate from a generated test CA, checked by a rustls client; a reload swaps
//! in a new certificate, and a broken one on reload keeps the current one.

use hubspot_gateway::{config, daemon};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use super::*;
use crate::support;

fn test_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// Writes a leaf certificate for 127.0.0.1 and localhost, issued by `ca`, and its key.
fn write_leaf(ca: &CertifiedIssuer<'static, KeyPair>, cert: &Path, key: &Path) {
    let key_pair = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let leaf = params.signed_by(&key_pair, ca).unwrap();
    // A full chain, as a CA would deliver it: the leaf, then its issuer.
    std::fs::write(cert, leaf.pem() + &ca.pem()).unwrap();
    std::fs::write(key, key_pair.serialize_pem()).unwrap();
}

/// A fresh client (no pooled connection) that trusts only `ca`.
async fn healthz(url: &str, ca: &CertifiedIssuer<'static, KeyPair>) -> Result<u16, String> {
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    match client.get(url).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) => Err(format!("{error:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_generated_certificate_reloads_it_and_keeps_it_when_broken() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let first = test_ca("it first CA");
    write_leaf(&first, &cert, &key);
    let tls = format!(
        "tls_cert = \"{}\"\ntls_key = \"{}\"",
        cert.display(),
        key.display()
    );
    let listen = format!("127.0.0.1:{}", free_port());
    let text = config_text(&listen, PUBLIC_URL, &dir.path().join("store"), &tls);
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &text).unwrap();
    let loaded = config::load(&path, &support::env).unwrap();
    let running = daemon::start(&loaded).await.unwrap();
    let port = running.local_addr.port();
    let url = format!("https://127.0.0.1:{port}/healthz");
    assert_eq!(healthz(&url, &first).await, Ok(200));
    let by_name = format!("https://localhost:{port}/healthz");
    assert_eq!(healthz(&by_name, &first).await, Ok(200));
    let second = test_ca("it second CA");
    assert!(
        healthz(&url, &second).await.is_err(),
        "an unknown CA is refused"
    );
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(plain.is_err(), "no plain HTTP on a TLS listener: {plain:?}");

    // Under TLS the admin console's cookies are `Secure`.
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(first.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let sign_in = client
        .get(format!("https://127.0.0.1:{port}/admin/sign-in"))
        .send()
        .await
        .unwrap();
    let cookie = sign_in.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with("hg_sign_in=")
            && cookie.ends_with("; HttpOnly; SameSite=Strict; Secure"),
        "{cookie}"
    );

    // `status` finds the daemon over HTTPS, trusting the chain in tls_cert.
    let output = crate::support::process::command(&path)
        .arg("status")
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        table.contains(&format!("daemon: running at https://{listen}")),
        "{table}"
    );

    // Rotation: new files, then a reload; new connections get the new certificate.
    write_leaf(&second, &cert, &key);
    let reloader = running.reloader(path.clone(), loaded.clone());
    assert!(reloader.apply(config::load(&path, &support::env)).applied);
    assert_eq!(healthz(&url, &second).await, Ok(200));
    assert!(
        healthz(&url, &first).await.is_err(),
        "the old certificate is gone"
    );

    // A broken certificate file: the reload is refused and the current one stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    assert!(!reloader.apply(config::load(&path, &support::env)).applied);
    assert_eq!(healthz(&url, &second).await, Ok(200));

    running.shutdown_token().cancel();
    running.wait().await.unwrap();
}
