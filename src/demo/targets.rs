//! Equipment and systems for the demo's probes, served by the demo itself on 127.0.0.1: the
//! public services portal (HTTP, failing now and then), a kiosk's web UI (HTTPS with a
//! self-signed certificate made at start), a queue-ticket machine (TCP), and the address of a
//! second machine that was never delivered, where nothing listens.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{Datelike, NaiveDate, Utc};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::DemoError;

/// Days from the demo's start to the kiosk certificate's expiry: far enough that the expiry
/// alerts (14 and 3 days) stay quiet and the dashboard shows it green.
pub const KIOSK_CERTIFICATE_DAYS: i64 = 45;

/// Every this many requests, the portal answers 503, so that its failures show.
const PORTAL_FAILS_EVERY: u64 = 10;

/// A client that connects and never finishes its TLS handshake must not hold up the kiosk for
/// longer than this (the handshake is done before the next connection is accepted).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A queue machine waits this long for a command line.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the demo's probe targets are, as its config names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetAddrs {
    pub portal: SocketAddr,
    pub kiosk: SocketAddr,
    pub queue_machine: SocketAddr,
    /// The queue machine that was never delivered: nothing may listen here.
    pub undelivered: SocketAddr,
}

impl TargetAddrs {
    /// The four ports after the service's: fixed offsets, so that a restarted demo serves its
    /// targets where the config it kept expects them.
    pub fn after(listen: SocketAddr) -> TargetAddrs {
        let port = |offset: u16| {
            SocketAddr::from((Ipv4Addr::LOCALHOST, listen.port().saturating_add(offset)))
        };
        TargetAddrs {
            portal: port(1),
            kiosk: port(2),
            queue_machine: port(3),
            undelivered: port(4),
        }
    }
}

/// The running targets; they stop when this is dropped.
pub struct Targets {
    addrs: TargetAddrs,
    tasks: Vec<JoinHandle<()>>,
}

impl Targets {
    /// The addresses actually bound (port 0 becomes a real port); `undelivered` as given.
    pub fn addrs(&self) -> &TargetAddrs {
        &self.addrs
    }
}

impl Drop for Targets {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds the portal, the kiosk and the queue machine at `wanted` (port 0: any free port) and
/// serves them in the background.
pub async fn serve(wanted: TargetAddrs) -> Result<Targets, DemoError> {
    let expires = (Utc::now() + chrono::Duration::days(KIOSK_CERTIFICATE_DAYS)).date_naive();
    let tls = self_signed(expires)?;
    let (portal, portal_addr) = bind(wanted.portal).await?;
    let (kiosk, kiosk_addr) = bind(wanted.kiosk).await?;
    let (queue_machine, queue_machine_addr) = bind(wanted.queue_machine).await?;
    let addrs = TargetAddrs {
        portal: portal_addr,
        kiosk: kiosk_addr,
        queue_machine: queue_machine_addr,
        undelivered: wanted.undelivered,
    };
    let tasks = vec![
        spawn_http("portal", portal, portal_router()),
        spawn_http("kiosk", TlsListener { tcp: kiosk, tls }, kiosk_router()),
        tokio::spawn(serve_queue_machine(queue_machine)),
    ];
    tracing::info!(
        portal = %addrs.portal,
        kiosk = %addrs.kiosk,
        queue_machine = %addrs.queue_machine,
        undelivered = %addrs.undelivered,
        "demo probe targets serving"
    );
    Ok(Targets { addrs, tasks })
}

/// A TLS acceptor with a fresh self-signed certificate for 127.0.0.1 that expires at midnight
/// UTC starting `not_after`.
pub fn self_signed(not_after: NaiveDate) -> Result<TlsAcceptor, DemoError> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec![Ipv4Addr::LOCALHOST.to_string()])?;
    // Months and days always fit in a u8.
    params.not_after = rcgen::date_time_ymd(
        not_after.year(),
        not_after.month() as u8,
        not_after.day() as u8,
    );
    let cert = params.self_signed(&key)?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The listener and the address it actually bound.
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), DemoError> {
    let failed = |source| DemoError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    Ok((listener, bound))
}

fn portal_router() -> Router {
    let requests = Arc::new(AtomicU64::new(0));
    Router::new().route(
        "/",
        get(move || {
            let n = requests.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                if n.is_multiple_of(PORTAL_FAILS_EVERY) {
                    (StatusCode::SERVICE_UNAVAILABLE, "Hệ thống đang bảo trì")
                } else {
                    (StatusCode::OK, "Cổng dịch vụ công tỉnh (demo): hoạt động")
                }
            }
        }),
    )
}

fn kiosk_router() -> Router {
    Router::new().route(
        "/",
        get(|| async { "Kiosk tra cứu hồ sơ, tầng 1 (demo): hoạt động" }),
    )
}

fn spawn_http<L>(name: &'static str, listener: L, router: Router) -> JoinHandle<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::warn!(target_name = name, %error, "demo probe target stopped");
        }
    })
}

/// Accepts TCP connections and completes their TLS handshake.
struct TlsListener {
    tcp: TcpListener,
    tls: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = axum::serve::Listener::accept(&mut self.tcp).await;
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, self.tls.accept(stream)).await {
                Ok(Ok(stream)) => return (stream, addr),
                Ok(Err(error)) => tracing::debug!(%addr, %error, "kiosk TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "kiosk TLS handshake timed out"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A queue-ticket machine's line protocol: `STATUS` answers `OK ...`, anything else `ERR ...`.
async fn serve_queue_machine(mut listener: TcpListener) {
    loop {
        // axum's accept: retries, with a pause after errors such as running out of files.
        let (stream, _) = axum::serve::Listener::accept(&mut listener).await;
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut read = BufReader::new(read);
            let command = read.read_line(&mut line);
            if !matches!(
                tokio::time::timeout(COMMAND_TIMEOUT, command).await,
                Ok(Ok(1..))
            ) {
                return;
            }
            let reply = if line.trim().eq_ignore_ascii_case("STATUS") {
                "OK may-lay-so-tang-1 READY\r\n"
            } else {
                "ERR unknown command\r\n"
            };
            let _ = write.write_all(reply.as_bytes()).await;
            let _ = write.shutdown().await;
        });
    }
}
