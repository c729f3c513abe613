//! Every metric the service exports, declared in one place with its HELP text. Names are a
//! contract (DESIGN §7): dashboards and alert rules depend on them.

use std::sync::RwLock;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Label values for `hcc_source_poll_errors_total{kind}`: a bounded set, never an error's text.
pub mod poll_error {
    pub const CONNECT: &str = "connect";
    pub const QUERY: &str = "query";
    pub const TIMEOUT: &str = "timeout";
    pub const COLUMNS: &str = "columns";
    pub const STORE: &str = "store";
}

pub struct Metrics {
    registry: Registry,
    /// Held for writing while a family of state gauges is rebuilt, so that a scrape never sees
    /// it half cleared.
    snapshot: RwLock<()>,

    pub build_info: IntGaugeVec,
    pub source_up: IntGaugeVec,
    pub source_last_success: GaugeVec,
    pub source_poll_duration: HistogramVec,
    pub source_rows: IntCounterVec,
    pub source_rows_rejected: IntCounterVec,
    pub source_rows_vanished: IntCounterVec,
    pub source_poll_errors: IntCounterVec,
    pub dossiers: IntGaugeVec,
    pub job_runs: IntCounterVec,
    pub job_skipped: IntCounterVec,
    pub probe_success: IntGaugeVec,
    pub probe_duration: GaugeVec,
    pub probe_phase_duration: GaugeVec,
    pub probe_failures: IntCounterVec,
    pub probe_tls_expiry: GaugeVec,
    pub probe_value: GaugeVec,
    pub software_errors: IntCounterVec,
    pub handoff_pending: IntGaugeVec,
    pub handoff_stuck: IntGaugeVec,
    pub handoff_lag: HistogramVec,
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help)
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let m = Metrics {
            build_info: IntGaugeVec::new(
                opts("hcc_build_info", "Always 1; the version of the running hcc-monitor."),
                &["version"],
            )
            .expect("valid metric"),
            source_up: IntGaugeVec::new(
                opts("hcc_source_up", "1 if the last poll of the source succeeded, else 0."),
                &["source"],
            )
            .expect("valid metric"),
            source_last_success: GaugeVec::new(
                opts(
                    "hcc_source_last_success_timestamp_seconds",
                    "Unix time of the last successful poll of the source.",
                ),
                &["source"],
            )
            .expect("valid metric"),
            source_poll_duration: HistogramVec::new(
                HistogramOpts::new(
                    "hcc_source_poll_duration_seconds",
                    "Wall time of each poll of the source, successful or not.",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    120.0, 300.0,
                ]),
                &["source"],
            )
            .expect("valid metric"),
            source_rows: IntCounterVec::new(
                opts(
                    "hcc_source_rows_total",
                    "Rows read from the source and stored as dossiers.",
                ),
                &["source"],
            )
            .expect("valid metric"),
            source_rows_rejected: IntCounterVec::new(
                opts(
                    "hcc_source_rows_rejected_total",
                    "Rows read from the source that could not be mapped to a dossier, by reason.",
                ),
                &["source", "reason"],
            )
            .expect("valid metric"),
            source_rows_vanished: IntCounterVec::new(
                opts(
                    "hcc_source_rows_vanished_total",
                    "Dossiers found missing from the source by a full resync.",
                ),
                &["source"],
            )
            .expect("valid metric"),
            source_poll_errors: IntCounterVec::new(
                opts(
                    "hcc_source_poll_errors_total",
                    "Failed polls of the source, by kind (connect, query, timeout, columns, store).",
                ),
                &["source", "kind"],
            )
            .expect("valid metric"),
            dossiers: IntGaugeVec::new(
                opts(
                    "hcc_dossiers",
                    "Dossiers in the store by source and canonical status (vanished ones excluded).",
                ),
                &["source", "status"],
            )
            .expect("valid metric"),
            job_runs: IntCounterVec::new(
                opts(
                    "hcc_job_runs_total",
                    "Scheduled job runs by job and result (ok, error, timeout, panic).",
                ),
                &["job", "result"],
            )
            .expect("valid metric"),
            job_skipped: IntCounterVec::new(
                opts(
                    "hcc_job_skipped_total",
                    "Scheduled runs skipped because the previous run of the job was still going.",
                ),
                &["job"],
            )
            .expect("valid metric"),
            probe_success: IntGaugeVec::new(
                opts("hcc_probe_success", "1 if the last run of the probe succeeded, else 0."),
                &["probe", "kind", "group"],
            )
            .expect("valid metric"),
            probe_duration: GaugeVec::new(
                opts(
                    "hcc_probe_duration_seconds",
                    "Wall time of the last run of the probe, successful or not.",
                ),
                &["probe", "kind", "group"],
            )
            .expect("valid metric"),
            probe_phase_duration: GaugeVec::new(
                opts(
                    "hcc_probe_phase_duration_seconds",
                    "Time spent in each phase of the last run of the probe (resolve, connect \
                     (with the TLS handshake), processing, transfer, exchange); 0 for a phase \
                     the run did not reach.",
                ),
                &["probe", "phase"],
            )
            .expect("valid metric"),
            probe_failures: IntCounterVec::new(
                opts(
                    "hcc_probe_failures_total",
                    "Failed probe runs by reason (timeout, dns, refused, connect, tls, status, \
                     body, io, query).",
                ),
                &["probe", "reason"],
            )
            .expect("valid metric"),
            probe_tls_expiry: GaugeVec::new(
                opts(
                    "hcc_probe_tls_expiry_timestamp_seconds",
                    "Unix time at which the last TLS certificate the probe was served expires.",
                ),
                &["probe"],
            )
            .expect("valid metric"),
            probe_value: GaugeVec::new(
                opts(
                    "hcc_probe_value",
                    "The number in the first column of an SQL probe's last successful result.",
                ),
                &["probe"],
            )
            .expect("valid metric"),
            software_errors: IntCounterVec::new(
                opts(
                    "hcc_software_errors_total",
                    "Errors logged by each software, by kind, as the software counts them.",
                ),
                &["system", "kind"],
            )
            .expect("valid metric"),
            handoff_pending: IntGaugeVec::new(
                opts(
                    "hcc_handoff_pending",
                    "Dossiers transferred in the from source and not yet seen in the to source.",
                ),
                &["from", "to"],
            )
            .expect("valid metric"),
            handoff_stuck: IntGaugeVec::new(
                opts(
                    "hcc_handoff_stuck",
                    "Pending handoffs older than the handoff's threshold in working time.",
                ),
                &["from", "to"],
            )
            .expect("valid metric"),
            handoff_lag: HistogramVec::new(
                HistogramOpts::new(
                    "hcc_handoff_lag_seconds",
                    "Wall time from a dossier's transfer in the from source until it was first \
                     seen in the to source; observed once per dossier.",
                )
                .buckets(vec![
                    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
                    172800.0, 604800.0,
                ]),
                &["from", "to"],
            )
            .expect("valid metric"),
            registry,
            snapshot: RwLock::new(()),
        };
        m.register_all();
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        m
    }

    fn register_all(&self) {
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(self.build_info.clone()),
            Box::new(self.source_up.clone()),
            Box::new(self.source_last_success.clone()),
            Box::new(self.source_poll_duration.clone()),
            Box::new(self.source_rows.clone()),
            Box::new(self.source_rows_rejected.clone()),
            Box::new(self.source_rows_vanished.clone()),
            Box::new(self.source_poll_errors.clone()),
            Box::new(self.dossiers.clone()),
            Box::new(self.job_runs.clone()),
            Box::new(self.job_skipped.clone()),
            Box::new(self.probe_success.clone()),
            Box::new(self.probe_duration.clone()),
            Box::new(self.probe_phase_duration.clone()),
            Box::new(self.probe_failures.clone()),
            Box::new(self.probe_tls_expiry.clone()),
            Box::new(self.probe_value.clone()),
            Box::new(self.software_errors.clone()),
            Box::new(self.handoff_pending.clone()),
            Box::new(self.handoff_stuck.clone()),
            Box::new(self.handoff_lag.clone()),
            #[cfg(target_os = "linux")]
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        for c in collectors {
            self.registry.register(c).expect("metric names are unique");
        }
    }

    /// Rebuilds a family of state gauges atomically with respect to scrapes: label sets that are
    /// not set again by `fill` disappear.
    pub fn replace_gauges(&self, gauges: &IntGaugeVec, fill: impl FnOnce(&IntGaugeVec)) {
        let _guard = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        gauges.reset();
        fill(gauges);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let families = {
            let _guard = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
            self.registry.gather()
        };
        let mut buf = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&families, &mut buf)
            .expect("text encoding of gathered metrics cannot fail");
        String::from_utf8(buf).expect("exposition is UTF-8")
    }

    /// Registers the per-source series at zero so that a source that never succeeded is visible
    /// as down rather than absent.
    pub fn init_source(&self, source: &str) {
        self.source_up.with_label_values(&[source]).set(0);
        self.source_rows.with_label_values(&[source]);
        self.source_rows_vanished.with_label_values(&[source]);
        for kind in [
            poll_error::CONNECT,
            poll_error::QUERY,
            poll_error::TIMEOUT,
            poll_error::COLUMNS,
            poll_error::STORE,
        ] {
            self.source_poll_errors.with_label_values(&[source, kind]);
        }
    }
}

impl Metrics {
    /// Registers a probe's series so that a probe that never ran is visible as failing, and
    /// every failure reason it can report starts at 0.
    pub fn init_probe(
        &self,
        probe: &str,
        kind: &str,
        group: &str,
        reasons: &[&str],
        phases: &[&str],
    ) {
        self.probe_success
            .with_label_values(&[probe, kind, group])
            .set(0);
        self.probe_duration.with_label_values(&[probe, kind, group]);
        for reason in reasons {
            self.probe_failures.with_label_values(&[probe, reason]);
        }
        for phase in phases {
            self.probe_phase_duration.with_label_values(&[probe, phase]);
        }
    }

    pub fn init_handoff(&self, from: &str, to: &str) {
        self.handoff_pending.with_label_values(&[from, to]);
        self.handoff_stuck.with_label_values(&[from, to]);
        self.handoff_lag.with_label_values(&[from, to]);
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
