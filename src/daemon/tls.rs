//! HTTPS with rustls: the certificate chain and key from PEM files, swappable on reload.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use parking_lot::RwLock;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// The acceptor new connections use; reload replaces it, open connections keep theirs.
#[derive(Clone)]
pub struct Tls {
    acceptor: Arc<RwLock<TlsAcceptor>>,
}

impl Tls {
    /// Reads the certificate chain and key; every error names the file.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Tls> {
        Ok(Tls {
            acceptor: Arc::new(RwLock::new(acceptor(cert, key)?)),
        })
    }

    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor.read().clone()
    }

    /// Re-reads the files; on error the current certificate stays in use.
    pub fn reload(&self, cert: &Path, key: &Path) -> anyhow::Result<()> {
        let fresh = acceptor(cert, key)?;
        *self.acceptor.write() = fresh;
        Ok(())
    }
}

fn acceptor(cert_path: &Path, key_path: &Path) -> anyhow::Result<TlsAcceptor> {
    let certs = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("server.tls_cert: reading {}", cert_path.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "server.tls_cert: {} holds no certificate",
        cert_path.display()
    );
    let key = PrivateKeyDer::from_pem_file(key_path)
        .with_context(|| format!("server.tls_key: reading {}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("server.tls_cert and server.tls_key do not form a usable pair")?;
    // The server speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
