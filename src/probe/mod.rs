//! Equipment and software probes: one module per kind (HTTP, TCP, SQL), each run as a job of its
//! own with its own timeout so that a failing or hanging device never delays another, and the
//! error counts each software reports about itself (`software`). Results go to the metrics
//! only, named as blackbox_exporter names them so that users' habits carry over.

pub mod config;
mod http;
mod software;
mod sql;
mod tcp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use config::{IpVersion, ProbeConfig, ProbeKind, SoftwareConfig, SoftwareRead};
pub use software::{SoftwareError, SoftwareReader};

use crate::metrics::Metrics;
use crate::scheduler::Job;
use crate::source::SourcePool;

/// Why a probe run failed: the bounded label set of `hcc_probe_failures_total{reason}`, never an
/// error's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// No answer within `timeout_secs` (also a device that accepts and never replies).
    Timeout,
    /// The name did not resolve, or not to an address of the requested IP version.
    Dns,
    /// Nothing listens on the port.
    Refused,
    /// Any other failure to open the connection (unreachable, reset, no database connection).
    Connect,
    /// The TLS handshake failed, e.g. a certificate that does not verify.
    Tls,
    /// An HTTP status outside the expected ones.
    Status,
    /// The answer lacks the expected text (HTTP body, TCP reply).
    Body,
    /// The connection broke during the exchange.
    Io,
    /// The database refused or failed the SQL.
    Query,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Dns => "dns",
            Reason::Refused => "refused",
            Reason::Connect => "connect",
            Reason::Tls => "tls",
            Reason::Status => "status",
            Reason::Body => "body",
            Reason::Io => "io",
            Reason::Query => "query",
        }
    }
}

/// A failed run: the reason for the metric and a message for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", reason.as_str())]
pub struct Failure {
    pub reason: Reason,
    pub message: String,
}

impl Failure {
    fn new(reason: Reason, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
        }
    }

    /// Sorts a socket error: refused is worth telling apart from the rest.
    fn connect(target: impl std::fmt::Display, e: &std::io::Error) -> Failure {
        let reason = match e.kind() {
            std::io::ErrorKind::ConnectionRefused => Reason::Refused,
            _ => Reason::Connect,
        };
        Failure::new(reason, format!("cannot connect to {target}: {e}"))
    }
}

/// What a run measured, also when it failed part way.
#[derive(Debug, Default)]
pub struct Report {
    pub phases: Vec<(&'static str, Duration)>,
    /// Unix seconds at which the served certificate expires.
    pub tls_expiry: Option<i64>,
    /// The SQL probe's number.
    pub value: Option<f64>,
}

impl Report {
    fn phase(&mut self, name: &'static str, took: Duration) {
        self.phases.push((name, took));
    }
}

/// Resolves `host` to the addresses of the wanted IP version, in the resolver's order.
async fn resolve(host: &str, port: u16, ip: IpVersion) -> Result<Vec<SocketAddr>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .filter(|a| ip.accepts(a.ip()))
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address of IP version {ip:?}"));
    }
    Ok(addrs)
}

enum Check {
    Http(http::HttpCheck),
    Tcp(tcp::TcpCheck),
    Sql(sql::SqlCheck),
}

impl Check {
    async fn run(&self, report: &mut Report) -> Result<(), Failure> {
        match self {
            Check::Http(c) => c.run(report).await,
            Check::Tcp(c) => c.run(report).await,
            Check::Sql(c) => c.run(report).await,
        }
    }

    fn reasons(&self) -> &'static [Reason] {
        match self {
            Check::Http(_) => http::REASONS,
            Check::Tcp(_) => tcp::REASONS,
            Check::Sql(_) => sql::REASONS,
        }
    }

    fn phases(&self) -> &'static [&'static str] {
        match self {
            Check::Http(_) => http::PHASES,
            Check::Tcp(_) => tcp::PHASES,
            Check::Sql(_) => &[],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("probe {probe}: cannot build its HTTP client: {source}")]
    Client {
        probe: String,
        source: reqwest::Error,
    },
    #[error("probe {probe}: source {source_name:?} is not configured")]
    UnknownSource { probe: String, source_name: String },
}

/// One configured probe, ready to run.
pub struct Probe {
    cfg: ProbeConfig,
    check: Check,
    metrics: Arc<Metrics>,
    failures: crate::streak::Streak,
}

/// The job's own limit is a little longer than the probe's, so that the probe reports its
/// timeout itself instead of being aborted unmeasured.
const JOB_MARGIN: Duration = Duration::from_secs(2);

impl Probe {
    /// Prepares a probe; an SQL probe runs on the pool of the source it names (`pools`).
    pub fn new(
        cfg: ProbeConfig,
        pools: impl Fn(&str) -> Option<SourcePool>,
        metrics: Arc<Metrics>,
    ) -> Result<Probe, ProbeError> {
        let check = match &cfg.kind {
            ProbeKind::Http(h) => {
                Check::Http(http::HttpCheck::new(h, cfg.timeout).map_err(|source| {
                    ProbeError::Client {
                        probe: cfg.name.clone(),
                        source,
                    }
                })?)
            }
            ProbeKind::Tcp(t) => Check::Tcp(tcp::TcpCheck::new(t)),
            ProbeKind::Sql(s) => Check::Sql(sql::SqlCheck::new(
                s,
                pools(&s.source).ok_or_else(|| ProbeError::UnknownSource {
                    probe: cfg.name.clone(),
                    source_name: s.source.clone(),
                })?,
            )),
        };
        let reasons: Vec<&str> = check.reasons().iter().map(|r| r.as_str()).collect();
        metrics.init_probe(
            &cfg.name,
            cfg.kind.as_str(),
            &cfg.group,
            &reasons,
            check.phases(),
        );
        Ok(Probe {
            cfg,
            check,
            metrics,
            failures: crate::streak::Streak::default(),
        })
    }

    /// Runs the probe once under its timeout and records the outcome.
    pub async fn run(&self) -> Result<Report, Failure> {
        let started = Instant::now();
        let mut report = Report::default();
        let outcome = tokio::time::timeout(self.cfg.timeout, self.check.run(&mut report)).await;
        let result = outcome.unwrap_or_else(|_| {
            Err(Failure::new(
                Reason::Timeout,
                format!("no answer within {:?}", self.cfg.timeout),
            ))
        });
        self.record(started.elapsed(), &report, result.as_ref().err());
        result.map(|()| report)
    }

    fn record(&self, took: Duration, report: &Report, failure: Option<&Failure>) {
        let m = &self.metrics;
        let name = self.cfg.name.as_str();
        let labels = [name, self.cfg.kind.as_str(), self.cfg.group.as_str()];
        m.probe_success
            .with_label_values(&labels)
            .set(i64::from(failure.is_none()));
        m.probe_duration
            .with_label_values(&labels)
            .set(took.as_secs_f64());
        for phase in self.check.phases() {
            let took = report
                .phases
                .iter()
                .find(|(p, _)| p == phase)
                .map_or(0.0, |(_, d)| d.as_secs_f64());
            m.probe_phase_duration
                .with_label_values(&[name, phase])
                .set(took);
        }
        if let Some(expiry) = report.tls_expiry {
            m.probe_tls_expiry
                .with_label_values(&[name])
                .set(expiry as f64);
        }
        match (failure, report.value) {
            (None, Some(value)) => m.probe_value.with_label_values(&[name]).set(value),
            // A number from an earlier run would pass for a current one.
            _ => drop(m.probe_value.remove_label_values(&[name])),
        }
        if let Some(f) = failure {
            m.probe_failures
                .with_label_values(&[name, f.reason.as_str()])
                .inc();
        }
        // Once when it goes down and once when it is back: a device down for a day would
        // otherwise log the same line every run.
        use crate::streak::Change;
        match (self.failures.record(failure.is_none()), failure) {
            (Change::WentDown, Some(f)) => {
                tracing::warn!(probe = name, reason = f.reason.as_str(), error = %f.message, "probe failed; it is down until a run succeeds");
            }
            (Change::StillDown(runs), Some(f)) => {
                tracing::debug!(probe = name, runs, reason = f.reason.as_str(), error = %f.message, "probe still failing");
            }
            (Change::Recovered(runs), _) => {
                tracing::info!(probe = name, failed_runs = runs, ?took, "probe recovered");
            }
            _ => tracing::debug!(probe = name, ?took, "probe succeeded"),
        }
    }

    /// The probe as a scheduled job. A failed probe is a successful job: the failure is the
    /// observation, and it is in the probe's metrics.
    pub fn job(self: &Arc<Self>) -> Job {
        let probe = self.clone();
        Job::new(
            format!("probe:{}", self.cfg.name),
            self.cfg.schedule.clone(),
            self.cfg.timeout + JOB_MARGIN,
            move |stop| {
                let probe = probe.clone();
                async move {
                    tokio::select! {
                        _ = probe.run() => {}
                        () = stop.cancelled() => {}
                    }
                    Ok(())
                }
            },
        )
    }
}
