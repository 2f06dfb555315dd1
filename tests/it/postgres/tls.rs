//! TLS to the database: with `sslmode=require` the gateway encrypts and verifies the server's
//! certificate (against `store.ca_file`, else Mozilla's roots) and its host; a certificate it
//! cannot verify is refused, saying why. Against a throw-away server serving a certificate of
//! a generated CA.

use std::path::Path;

use hubspot_gateway::kit::postgres::Cluster;
use hubspot_gateway::store::postgres::Database;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::support::{Gateway, Options, READ_TOKEN};

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A cluster serving a certificate for 127.0.0.1 issued by `ca`.
fn tls_cluster(ca: &CertifiedIssuer<'static, KeyPair>) -> Cluster {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".into()]).unwrap();
    let leaf = params.signed_by(&key, ca).unwrap();
    Cluster::start_with_tls(&(leaf.pem() + &ca.pem()), &key.serialize_pem()).unwrap()
}

/// Whether the connection `database` hands out is encrypted, as the server sees it.
async fn encrypted(database: &Database) -> Result<bool, String> {
    let client = database.client().await.map_err(|error| error.to_string())?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|error| error.to_string())?;
    Ok(row.get(0))
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_encrypts_and_verifies_the_servers_certificate() {
    let (trusted, stranger) = (ca("it database CA"), ca("it other CA"));
    let cluster = tls_cluster(&trusted);
    let plain = cluster.fresh_database().await.unwrap();
    let required = format!("{plain}?sslmode=require");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &trusted.pem());
    let other_ca = write(dir.path(), "other.pem", &stranger.pem());

    let tls = format!("{required}&application_name=it-tls");
    let tls = Database::new(&tls, 2, Some(&ca_file)).unwrap();
    assert_eq!(encrypted(&tls).await, Ok(true));
    // Named apart, so that the daemon's connections counted below are its own.
    let plain_text = format!("{plain}?application_name=it-plain");
    let plain_text = Database::new(&plain_text, 2, Some(&ca_file)).unwrap();
    assert_eq!(
        encrypted(&plain_text).await,
        Ok(false),
        "without sslmode=require, as before"
    );
    for (roots, what) in [(None, "Mozilla's roots"), (Some(&other_ca), "another CA")] {
        let database = Database::new(&required, 2, roots.map(|path| path.as_path())).unwrap();
        let refused = encrypted(&database).await.unwrap_err();
        assert!(
            refused.to_lowercase().contains("certificate"),
            "{what}: {refused}"
        );
    }
    let empty = write(dir.path(), "empty.pem", "");
    let error = Database::new(&required, 2, Some(&empty)).err().unwrap();
    assert!(error.to_string().contains("no certificate"), "{error}");

    // The daemon on that database, through `store.ca_file`: it serves, and every connection
    // it holds is encrypted.
    let options = Options {
        store: format!("ca_file = \"{}\"", ca_file.display()),
        database_url: Some(required),
        ..Options::default()
    };
    let gateway = Gateway::start_options("127.0.0.1:0", "https://h.example", &options).await;
    let (status, body) = gateway.get("/v1/status", Some(READ_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    let observer = format!("{plain}?application_name=it-observer");
    let observer = Database::new(&observer, 1, None).unwrap();
    let client = observer.client().await.unwrap();
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a
             JOIN pg_stat_ssl s USING (pid)
             WHERE a.application_name IN ('hubspot-gateway', 'hubspot-gateway lease')
",
            &[],
        )
        .await
        .unwrap();
    let (encrypted, all): (i64, i64) = (row.get(0), row.get(1));
    assert!(all >= 2, "the pool and the lease's session: {all}");
    assert_eq!(encrypted, all);
    gateway.stop().await;
}
