//! HTTP(S) probes: a request, the expected status and text, the time of each phase, and the
//! expiry of the certificate served.
//!
//! reqwest hides the connection's phases, so two hooks measure them: the DNS resolver (which
//! also applies `ip_version`) and a layer around the connector (TCP connect and TLS handshake
//! together). Connections are not kept between runs, so every run connects like a new client.

use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::tls::TlsInfo;

use super::config::{HttpProbeConfig, IpVersion};
use super::{Failure, Reason, Report};

pub(super) const REASONS: &[Reason] = &[
    Reason::Timeout,
    Reason::Dns,
    Reason::Refused,
    Reason::Connect,
    Reason::Tls,
    Reason::Status,
    Reason::Body,
    Reason::Io,
];

/// Disjoint phases whose sum is the time to the end of the body: name resolution, TCP connect
/// with the TLS handshake, the server's processing up to the response headers, the body.
pub(super) const PHASES: &[&str] = &["resolve", "connect", "processing", "transfer"];

/// How much of a body is searched for `body_contains`; the rest is read and discarded.
const BODY_SEARCH_LIMIT: usize = 1024 * 1024;

/// A client for probes and for reading software error counts, on the one crypto stack of the
/// process (ring, which sqlx uses too).
pub(super) fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    // Fails only when a provider is already installed, which is the state wanted.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("hcc-monitor/", env!("CARGO_PKG_VERSION")))
}

/// What the hooks measured during one run.
#[derive(Debug, Default, Clone, Copy)]
struct Timings {
    resolve: Option<Duration>,
    connect: Option<Duration>,
}

type SharedTimings = Arc<Mutex<Timings>>;

fn update(timings: &SharedTimings, f: impl FnOnce(&mut Timings)) {
    f(&mut timings.lock().unwrap_or_else(|e| e.into_inner()));
}

/// Marks a resolution failure so that it is told apart from other connect errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct DnsError(String);

struct Resolver {
    ip: IpVersion,
    timings: SharedTimings,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (ip, timings, host) = (self.ip, self.timings.clone(), name.as_str().to_string());
        Box::pin(async move {
            let started = Instant::now();
            let addrs = super::resolve(&host, 0, ip).await.map_err(DnsError)?;
            update(&timings, |t| t.resolve = Some(started.elapsed()));
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Times the connector (resolution, TCP connect, TLS handshake).
#[derive(Clone)]
struct TimeConnect(SharedTimings);

impl<S> tower::Layer<S> for TimeConnect {
    type Service = TimedConnect<S>;

    fn layer(&self, inner: S) -> TimedConnect<S> {
        TimedConnect {
            inner,
            timings: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct TimedConnect<S> {
    inner: S,
    timings: SharedTimings,
}

impl<S, R> tower::Service<R> for TimedConnect<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let started = Instant::now();
        let connecting = self.inner.call(request);
        let timings = self.timings.clone();
        Box::pin(async move {
            let result = connecting.await;
            update(&timings, |t| t.connect = Some(started.elapsed()));
            result
        })
    }
}

pub(super) struct HttpCheck {
    cfg: HttpProbeConfig,
    client: reqwest::Client,
    timings: SharedTimings,
}

impl HttpCheck {
    pub(super) fn new(
        cfg: &HttpProbeConfig,
        timeout: Duration,
    ) -> Result<HttpCheck, reqwest::Error> {
        let timings = SharedTimings::default();
        let client = client_builder(timeout)
            .pool_max_idle_per_host(0)
            .tls_info(true)
            .tls_danger_accept_invalid_certs(cfg.insecure_skip_verify)
            .dns_resolver(Resolver {
                ip: cfg.ip_version,
                timings: timings.clone(),
            })
            .connector_layer(TimeConnect(timings.clone()))
            .build()?;
        Ok(HttpCheck {
            cfg: cfg.clone(),
            client,
            timings,
        })
    }

    pub(super) async fn run(&self, report: &mut Report) -> Result<(), Failure> {
        update(&self.timings, |t| *t = Timings::default());
        let started = Instant::now();
        let mut request = self
            .client
            .request(self.cfg.method.clone(), self.cfg.url.clone());
        for (name, value) in &self.cfg.headers {
            request = request.header(name, value.expose());
        }
        let sent = request.send().await;
        let to_headers = started.elapsed();
        let timings = *self.timings.lock().unwrap_or_else(|e| e.into_inner());
        let resolve = timings.resolve.unwrap_or_default();
        // The connector's time includes the resolution it triggered.
        let connect = timings.connect.unwrap_or_default().saturating_sub(resolve);
        report.phase("resolve", resolve);
        report.phase("connect", connect);
        let mut response = sent.map_err(failure)?;
        report.phase("processing", to_headers.saturating_sub(resolve + connect));
        report.tls_expiry = response
            .extensions()
            .get::<TlsInfo>()
            .and_then(TlsInfo::peer_certificate)
            .and_then(not_after);

        let receiving = Instant::now();
        let mut searched = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failure)? {
            let room = BODY_SEARCH_LIMIT.saturating_sub(searched.len());
            searched.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
        report.phase("transfer", receiving.elapsed());

        let status = response.status().as_u16();
        let expected = match self.cfg.valid_status_codes.as_slice() {
            [] => (200..300).contains(&status),
            codes => codes.contains(&status),
        };
        if !expected {
            return Err(Failure::new(
                Reason::Status,
                format!("HTTP status {status} is not an expected one"),
            ));
        }
        if let Some(text) = &self.cfg.body_contains
            && !String::from_utf8_lossy(&searched).contains(text.as_str())
        {
            return Err(Failure::new(
                Reason::Body,
                format!("the body does not contain {text:?}"),
            ));
        }
        Ok(())
    }
}

/// The notAfter of a DER certificate, in Unix seconds.
fn not_after(der: &[u8]) -> Option<i64> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// Sorts a client error by what failed, looking through its chain of causes, and into the I/O
/// errors on it: `io::Error::source` skips the error it wraps, which is where rustls' errors
/// are. The URL is left out of the message: it may carry credentials.
fn failure(e: reqwest::Error) -> Failure {
    let e = e.without_url();
    let mut reason = None;
    let mut cause = e.source();
    while let Some(err) = cause {
        let mut layers = vec![err];
        let mut i = 0;
        while let Some(&layer) = layers.get(i) {
            if let Some(inner) = layer
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
            {
                layers.push(inner);
            }
            i += 1;
        }
        for layer in layers {
            reason = reason.or(if layer.is::<DnsError>() {
                Some(Reason::Dns)
            } else if layer.is::<rustls::Error>() {
                Some(Reason::Tls)
            } else {
                layer
                    .downcast_ref::<std::io::Error>()
                    .filter(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
                    .map(|_| Reason::Refused)
            });
        }
        cause = err.source();
    }
    let reason = if e.is_timeout() {
        Reason::Timeout
    } else {
        reason.unwrap_or(if e.is_connect() {
            Reason::Connect
        } else {
            Reason::Io
        })
    };
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(err) = cause {
        message.push_str(": ");
        message.push_str(&err.to_string());
        cause = err.source();
    }
    Failure::new(reason, message)
}
