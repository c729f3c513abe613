//! HTTPS for the web endpoints: a listener that completes TLS handshakes for axum, with the
//! certificate re-read whenever its files change, so that a renewed certificate (certbot, an
//! internal CA's agent) is served from the next connection on without a restart.

use std::fs::Metadata;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::{TlsError, TlsFiles};

/// A client that connects and never finishes its handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What identifies one version of a file without reading it.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &std::path::Path) -> Stamp {
    let meta: Metadata = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}

/// Serves the certificate last read from `files`, reading them again when either one's
/// modification time, size or inode changed (a rename into place changes the inode).
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsFiles,
    current: Mutex<(Stamp, Stamp, Arc<CertifiedKey>)>,
}

impl ReloadingCert {
    pub fn new(files: TlsFiles) -> Result<ReloadingCert, TlsError> {
        let stamps = (stamp(&files.cert_file), stamp(&files.key_file));
        let key = Arc::new(files.load()?);
        Ok(ReloadingCert {
            current: Mutex::new((stamps.0, stamps.1, key)),
            files,
        })
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let stamps = (stamp(&self.files.cert_file), stamp(&self.files.key_file));
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if (current.0, current.1) != stamps {
            // Recorded even on failure: a certificate written before its key fails once, and
            // is read again when the key lands, rather than on every connection meanwhile.
            (current.0, current.1) = stamps;
            match self.files.load() {
                Ok(key) => {
                    current.2 = Arc::new(key);
                    tracing::info!(cert_file = %self.files.cert_file.display(), "TLS certificate reloaded");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the TLS certificate changed but cannot be used; serving the previous one");
                }
            }
        }
        Some(current.2.clone())
    }
}

/// The TLS settings of the web endpoints: HTTP/1.1 (what axum serves here), the certificate
/// from `files`.
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, TlsError> {
    let resolver = Arc::new(ReloadingCert::new(files.clone())?);
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_no_client_auth()
    .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // No session resumption: a resumed session skips the resolver and would go on showing a
    // replaced certificate. Scrapers keep their connection open, so full handshakes are rare.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TCP connections and hands axum those whose handshake succeeded. Handshakes run
/// concurrently, so a slow or silent client holds up nobody else.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<(SocketAddr, std::io::Result<TlsStream<TcpStream>>)>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        TlsListener {
            tcp,
            acceptor,
            handshakes: JoinSet::new(),
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // Both branches are cancel-safe: axum drops this future at shutdown.
            tokio::select! {
                (stream, addr) = axum::serve::Listener::accept(&mut self.tcp) => {
                    let acceptor = self.acceptor.clone();
                    self.handshakes.spawn(async move {
                        let shake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                            .await
                            .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
                        (addr, shake)
                    });
                }
                Some(done) = self.handshakes.join_next() => match done {
                    Ok((addr, Ok(stream))) => return (stream, addr),
                    // Plain HTTP, a scanner, an untrusting client: its business, not an error
                    // of the service.
                    Ok((addr, Err(e))) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                    Err(e) => tracing::warn!(error = %e, "TLS handshake task failed"),
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}
