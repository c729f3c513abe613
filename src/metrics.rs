//! Every metric the service exports, declared in one place with its HELP text. Names are a
//! contract (DESIGN §7): dashboards and alert rules depend on them.

use std::sync::RwLock;

use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

const HOUR: f64 = 3600.0;
const DAY: f64 = 86_400.0;

/// Working time, in working hours: half a day to two months of 8-hour days.
fn working_buckets() -> Vec<f64> {
    [
        1.0, 2.0, 4.0, 8.0, 16.0, 24.0, 40.0, 80.0, 120.0, 160.0, 240.0, 480.0,
    ]
    .map(|h| h * HOUR)
    .to_vec()
}

fn wall_buckets() -> Vec<f64> {
    [
        HOUR,
        6.0 * HOUR,
        DAY,
        2.0 * DAY,
        3.0 * DAY,
        7.0 * DAY,
        14.0 * DAY,
        21.0 * DAY,
        30.0 * DAY,
        45.0 * DAY,
        60.0 * DAY,
        90.0 * DAY,
    ]
    .to_vec()
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn float_gauge_vec(name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    GaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn histogram_vec(name: &str, help: &str, labels: &[&str], buckets: Vec<f64>) -> HistogramVec {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .expect("valid metric")
}

/// Label values for `hcc_source_poll_errors_total{kind}`: a bounded set, never an error's text.
pub mod poll_error {
    pub const CONNECT: &str = "connect";
    pub const QUERY: &str = "query";
    pub const TIMEOUT: &str = "timeout";
    pub const COLUMNS: &str = "columns";
    pub const STORE: &str = "store";
    /// The poll panicked (a driver's decoding, a bug): caught, the source is down.
    pub const PANIC: &str = "panic";
}

fn encode(families: &[prometheus::proto::MetricFamily]) -> String {
    let mut buf = Vec::with_capacity(16 * 1024);
    TextEncoder::new()
        .encode(families, &mut buf)
        .expect("text encoding of gathered metrics cannot fail");
    String::from_utf8(buf).expect("exposition is UTF-8")
}

/// The families a standby exports (with the `process_` ones).
const STANDBY_FAMILIES: &[&str] = &[
    "hcc_build_info",
    "hcc_leader",
    "hcc_leader_changes_total",
    "hcc_store_up",
    "hcc_config_last_reload_successful",
    "hcc_config_last_reload_success_timestamp_seconds",
];

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
    pub source_rejected_rows: IntGaugeVec,
    pub source_rows_vanished: IntCounterVec,
    pub source_poll_errors: IntCounterVec,
    pub store_wait: HistogramVec,
    pub api_rejected: prometheus::IntCounter,
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

    pub dossiers_open: IntGaugeVec,
    pub dossiers_open_by_procedure: IntGaugeVec,
    pub dossiers_without_deadline: IntGaugeVec,
    pub dossiers_resolved: IntGaugeVec,
    pub dossiers_received: IntGaugeVec,
    pub dossiers_carried_over: IntGaugeVec,
    pub processing_working: HistogramVec,
    pub processing_wall: HistogramVec,
    pub overdue_working: HistogramVec,
    pub stage_working: HistogramVec,
    pub dossiers_in_stage: IntGaugeVec,
    pub stage_waiting_working: IntGaugeVec,
    pub due_changes: IntCounterVec,
    pub reappointed_more_than_once: IntGaugeVec,
    pub labels_folded: IntCounterVec,
    pub index_progress_score: GaugeVec,
    pub calendar_coverage_end: Gauge,
    pub calendar_provisional: IntGaugeVec,
    pub office_open: IntGauge,
    pub office_next_open: Gauge,
    pub config_last_reload_successful: IntGauge,
    pub config_last_reload_success_timestamp: Gauge,
    pub evaluation_duration: Gauge,
    pub evaluation_last_success: Gauge,

    pub escalations_decided: IntCounterVec,
    pub escalations_sent: IntCounterVec,
    pub escalations_failed: IntCounterVec,
    pub outbox_pending: IntGaugeVec,
    pub outbox_due: IntGaugeVec,
    pub outbox_dead: IntGaugeVec,
    pub outbox_reclaimed: IntCounterVec,
    pub outbox_unrecorded_sends: IntGauge,
    pub email_send_duration: Histogram,

    pub leader: IntGauge,
    pub store_up: IntGauge,
    pub leader_changes: prometheus::IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let m = Metrics {
            build_info: gauge_vec(
                "hcc_build_info",
                "Always 1; the version of the running hcc-monitor.",
                &["version"],
            ),
            source_up: gauge_vec(
                "hcc_source_up",
                "1 if the last poll of the source succeeded, else 0.",
                &["source"],
            ),
            source_last_success: float_gauge_vec(
                "hcc_source_last_success_timestamp_seconds",
                "Unix time of the last successful poll of the source.",
                &["source"],
            ),
            source_poll_duration: histogram_vec(
                "hcc_source_poll_duration_seconds",
                "Wall time of each poll of the source, successful or not.",
                &["source"],
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    120.0, 300.0,
                ],
            ),
            source_rows: counter_vec(
                "hcc_source_rows_total",
                "Rows read from the source and stored as dossiers.",
                &["source"],
            ),
            source_rows_rejected: counter_vec(
                "hcc_source_rows_rejected_total",
                "Rows read from the source that could not be mapped to a dossier, by reason \
                 (unknown_status, missing_value, bad_time, due_before_received, bad_value, \
                 resolved_before_received, future_change, duplicate_in_batch, bad_encoding, \
                 too_long, out_of_range); each row is counted once, when first rejected, not \
                 on every poll that reads it again.",
                &["source", "reason"],
            ),
            source_rejected_rows: gauge_vec(
                "hcc_source_rejected_rows",
                "Rows of the source rejected now (not stored since), by reason, as of its last \
                 successful poll.",
                &["source", "reason"],
            ),
            source_rows_vanished: counter_vec(
                "hcc_source_rows_vanished_total",
                "Dossiers found missing from the source by a full resync.",
                &["source"],
            ),
            source_poll_errors: counter_vec(
                "hcc_source_poll_errors_total",
                "Failed polls of the source, by kind (connect, query, timeout, columns, store, \
                 panic).",
                &["source", "kind"],
            ),
            store_wait: histogram_vec(
                "hcc_store_wait_seconds",
                "Time each batch of a source's poll waited for a store connection (the store's \
                 load, not the source's health: hcc_source_up ignores it).",
                &["source"],
                vec![0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0],
            ),
            api_rejected: prometheus::IntCounter::new(
                "hcc_api_requests_rejected_total",
                "JSON API requests answered 503 because the API's share of store connections was \
                 in use (a burst).",
            )
            .expect("valid metric"),
            dossiers: gauge_vec(
                "hcc_dossiers",
                "Dossiers in the store by source and canonical status (vanished ones excluded).",
                &["source", "status"],
            ),
            job_runs: counter_vec(
                "hcc_job_runs_total",
                "Scheduled job runs by job and result (ok, error, timeout, panic).",
                &["task", "result"],
            ),
            job_skipped: counter_vec(
                "hcc_job_skipped_total",
                "Scheduled runs skipped because the previous run of the job was still going.",
                &["task"],
            ),
            dossiers_open: gauge_vec(
                "hcc_dossiers_open",
                "Open dossiers by SLA state (on_track, at_risk, due_soon, overdue, paused).",
                &["source", "department", "sla_state"],
            ),
            dossiers_open_by_procedure: gauge_vec(
                "hcc_dossiers_open_by_procedure",
                "Open dossiers by procedure and SLA state, for sources with procedure_labels on.",
                &["source", "department", "procedure", "sla_state"],
            ),
            dossiers_without_deadline: gauge_vec(
                "hcc_dossiers_without_deadline",
                "Open dossiers with no due date and no statutory time (counted as on_track).",
                &["source", "department"],
            ),
            dossiers_resolved: gauge_vec(
                "hcc_dossiers_resolved",
                "Dossiers resolved in the current day, month or year (centre's time zone), by \
                 outcome (early, on_time, late).",
                &["source", "department", "outcome", "period"],
            ),
            dossiers_received: gauge_vec(
                "hcc_dossiers_received",
                "Dossiers received in the current day, month or year, by channel.",
                &["source", "department", "channel", "period"],
            ),
            dossiers_carried_over: gauge_vec(
                "hcc_dossiers_carried_over",
                "Dossiers received before the current day, month or year and not resolved by \
                 its start.",
                &["source", "department", "period"],
            ),
            processing_working: histogram_vec(
                "hcc_dossier_processing_working_seconds",
                "Working time from received to resolved (paused time excluded), observed once \
                 per dossier when first seen resolved.",
                &["source", "department"],
                working_buckets(),
            ),
            processing_wall: histogram_vec(
                "hcc_dossier_processing_seconds",
                "Wall time from received to resolved, observed once per dossier.",
                &["source", "department"],
                wall_buckets(),
            ),
            overdue_working: histogram_vec(
                "hcc_dossier_overdue_working_seconds",
                "How far past their deadline the open overdue dossiers are, in working time \
                 (rebuilt at every evaluation).",
                &["source", "department"],
                working_buckets(),
            ),
            stage_working: histogram_vec(
                "hcc_stage_working_seconds",
                "Working time of each completed stage visit, from entering the stage to entering \
                 the next one or to the resolution; observed once per visit. Stages beyond the \
                 first 50 of a source are folded into stage=\"other\".",
                &["source", "stage"],
                working_buckets(),
            ),
            dossiers_in_stage: gauge_vec(
                "hcc_dossiers_in_stage",
                "Open dossiers by the stage they are in now (rebuilt at every evaluation).",
                &["source", "stage"],
            ),
            stage_waiting_working: gauge_vec(
                "hcc_stage_waiting_working_seconds",
                "Working time the open dossiers in each stage have spent in it so far, summed.",
                &["source", "stage"],
            ),
            due_changes: counter_vec(
                "hcc_dossier_due_changes_total",
                "Changes of a dossier's due date observed (re-appointments, edits).",
                &["source", "department"],
            ),
            reappointed_more_than_once: gauge_vec(
                "hcc_dossiers_reappointed_more_than_once",
                "Dossiers whose due date changed more than once (the rules allow one \
                 re-appointment).",
                &["source", "department"],
            ),
            labels_folded: counter_vec(
                "hcc_labels_folded_total",
                "Label values counted as \"other\" because their source has more values of the \
                 label (department, procedure, stage) than its limit; each value counted once.",
                &["label"],
            ),
            index_progress_score: float_gauge_vec(
                "hcc_index_progress_score",
                "Decision 766/QĐ-TTg's progress group, 0 to 20, over the current reporting month \
                 ([reporting] period_start_day): 20 x (resolved early or on time + open within \
                 their deadline now) / (resolved in the month + open now); more than one \
                 supplement request counts as late. Absent for a department without dossiers.",
                &["source", "department"],
            ),
            // DESIGN named this hcc_calendar_days_remaining; Prometheus wants base units and
            // promtool refuses days, so the end is a timestamp: days left = (it - time()) / 86400.
            calendar_coverage_end: Gauge::new(
                "hcc_calendar_coverage_end_timestamp_seconds",
                "When the loaded holiday calendar ends; past it, deadlines count weekdays only.",
            )
            .expect("valid metric"),
            calendar_provisional: gauge_vec(
                "hcc_calendar_provisional",
                "1 for each loaded calendar year built from the Labour Code's fixed holidays \
                 because its schedule is not announced yet; load the official file to replace it.",
                &["year"],
            ),
            office_open: IntGauge::new(
                "hcc_office_open",
                "1 while the office is open (a session of a working day in the loaded calendar), \
                 else 0; the supervisors' and leaders' alerts fire only while it is 1.",
            )
            .expect("valid metric"),
            office_next_open: Gauge::new(
                "hcc_office_next_open_timestamp_seconds",
                "Start of the current office session while open, else of the next one.",
            )
            .expect("valid metric"),
            config_last_reload_successful: IntGauge::new(
                "hcc_config_last_reload_successful",
                "1 if the last config load (at start, on SIGHUP or POST /-/reload) took effect, \
                 0 if it was refused and the previous config still runs.",
            )
            .expect("valid metric"),
            config_last_reload_success_timestamp: Gauge::new(
                "hcc_config_last_reload_success_timestamp_seconds",
                "When the running config was loaded.",
            )
            .expect("valid metric"),
            evaluation_duration: Gauge::new(
                "hcc_evaluation_duration_seconds",
                "Wall time of the last evaluation cycle.",
            )
            .expect("valid metric"),
            evaluation_last_success: Gauge::new(
                "hcc_evaluation_last_success_timestamp_seconds",
                "Unix time of the last successful evaluation cycle.",
            )
            .expect("valid metric"),
            probe_success: gauge_vec(
                "hcc_probe_success",
                "1 if the last run of the probe succeeded, else 0.",
                &["probe", "kind", "group"],
            ),
            probe_duration: float_gauge_vec(
                "hcc_probe_duration_seconds",
                "Wall time of the last run of the probe, successful or not.",
                &["probe", "kind", "group"],
            ),
            probe_phase_duration: float_gauge_vec(
                "hcc_probe_phase_duration_seconds",
                "Time spent in each phase of the last run of the probe (resolve, connect \
                     (with the TLS handshake), processing, transfer, exchange); 0 for a phase \
                     the run did not reach.",
                &["probe", "phase"],
            ),
            probe_failures: counter_vec(
                "hcc_probe_failures_total",
                "Failed probe runs by reason (timeout, dns, refused, connect, tls, status, \
                     body, io, query).",
                &["probe", "reason"],
            ),
            probe_tls_expiry: float_gauge_vec(
                "hcc_probe_tls_expiry_timestamp_seconds",
                "Unix time at which the last TLS certificate the probe was served expires.",
                &["probe"],
            ),
            probe_value: float_gauge_vec(
                "hcc_probe_value",
                "The number in the first column of an SQL probe's last successful result.",
                &["probe"],
            ),
            software_errors: counter_vec(
                "hcc_software_errors_total",
                "Errors logged by each software, by kind, as the software counts them.",
                &["system", "kind"],
            ),
            handoff_pending: gauge_vec(
                "hcc_handoff_pending",
                "Dossiers transferred in the from source and not yet seen in the to source.",
                &["from", "to"],
            ),
            handoff_stuck: gauge_vec(
                "hcc_handoff_stuck",
                "Pending handoffs older than the handoff's threshold in working time.",
                &["from", "to"],
            ),
            handoff_lag: histogram_vec(
                "hcc_handoff_lag_seconds",
                "Wall time from a dossier's transfer in the from source until it was first \
                 seen in the to source; observed once per dossier.",
                &["from", "to"],
                vec![
                    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0,
                    172800.0, 604800.0,
                ],
            ),
            escalations_decided: counter_vec(
                "hcc_escalations_decided_total",
                "Escalations decided (one per dossier, level and repeat cycle), by level.",
                &["level"],
            ),
            escalations_sent: counter_vec(
                "hcc_escalations_sent_total",
                "Emails accepted by the mail transport, by level (report:<name> for reports).",
                &["level"],
            ),
            escalations_failed: counter_vec(
                "hcc_escalations_failed_total",
                "Failed email attempts by level and reason (connect, tls, auth, rejected, \
                 timeout, other).",
                &["level", "reason"],
            ),
            outbox_pending: gauge_vec(
                "hcc_outbox_pending",
                "Emails waiting in the outbox (for working hours, a retry or the next drain).",
                &["level"],
            ),
            outbox_due: gauge_vec(
                "hcc_outbox_due",
                "Pending emails whose time to leave has come: tried at least once, or first due \
                 now or earlier. Emails held for office hours and never tried are not counted.",
                &["level"],
            ),
            outbox_dead: gauge_vec(
                "hcc_outbox_dead",
                "Emails given up after the last attempt or a permanent refusal.",
                &["level"],
            ),
            outbox_reclaimed: counter_vec(
                "hcc_outbox_reclaimed_total",
                "Emails sent again because the claim of the sender that took them lapsed before \
                 it recorded the attempt (it died or stalled mid-send): each may arrive twice, \
                 with the same Message-ID.",
                &["level"],
            ),
            outbox_unrecorded_sends: IntGauge::new(
                "hcc_outbox_unrecorded_sends",
                "Emails the mail server accepted whose sending the store could not record: the \
                 drain sends nothing more until they are recorded, so that none goes twice.",
            )
            .expect("valid metric"),
            leader: IntGauge::new(
                "hcc_leader",
                "1 while this instance holds the leader's lease (it polls, probes, plans and \
                 sends), 0 on a standby. Always 1 on a SQLite store.",
            )
            .expect("valid metric"),
            store_up: IntGauge::new(
                "hcc_store_up",
                "1 while the service's own store answers with every migration applied, checked \
                 every 2 s; a store outage shows here, never as a source down.",
            )
            .expect("valid metric"),
            leader_changes: prometheus::IntCounter::new(
                "hcc_leader_changes_total",
                "Times this instance became leader or stopped being leader.",
            )
            .expect("valid metric"),
            email_send_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "hcc_email_send_duration_seconds",
                    "Wall time of each email sent or attempted.",
                )
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
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
            Box::new(self.source_rejected_rows.clone()),
            Box::new(self.source_rows_vanished.clone()),
            Box::new(self.source_poll_errors.clone()),
            Box::new(self.store_wait.clone()),
            Box::new(self.api_rejected.clone()),
            Box::new(self.dossiers.clone()),
            Box::new(self.job_runs.clone()),
            Box::new(self.job_skipped.clone()),
            Box::new(self.dossiers_open.clone()),
            Box::new(self.dossiers_open_by_procedure.clone()),
            Box::new(self.dossiers_without_deadline.clone()),
            Box::new(self.dossiers_resolved.clone()),
            Box::new(self.dossiers_received.clone()),
            Box::new(self.dossiers_carried_over.clone()),
            Box::new(self.processing_working.clone()),
            Box::new(self.processing_wall.clone()),
            Box::new(self.overdue_working.clone()),
            Box::new(self.stage_working.clone()),
            Box::new(self.dossiers_in_stage.clone()),
            Box::new(self.stage_waiting_working.clone()),
            Box::new(self.due_changes.clone()),
            Box::new(self.reappointed_more_than_once.clone()),
            Box::new(self.labels_folded.clone()),
            Box::new(self.index_progress_score.clone()),
            Box::new(self.calendar_coverage_end.clone()),
            Box::new(self.calendar_provisional.clone()),
            Box::new(self.office_open.clone()),
            Box::new(self.office_next_open.clone()),
            Box::new(self.config_last_reload_successful.clone()),
            Box::new(self.config_last_reload_success_timestamp.clone()),
            Box::new(self.evaluation_duration.clone()),
            Box::new(self.evaluation_last_success.clone()),
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
            Box::new(self.escalations_decided.clone()),
            Box::new(self.escalations_sent.clone()),
            Box::new(self.escalations_failed.clone()),
            Box::new(self.outbox_pending.clone()),
            Box::new(self.outbox_due.clone()),
            Box::new(self.outbox_dead.clone()),
            Box::new(self.outbox_reclaimed.clone()),
            Box::new(self.outbox_unrecorded_sends.clone()),
            Box::new(self.email_send_duration.clone()),
            Box::new(self.leader.clone()),
            Box::new(self.leader_changes.clone()),
            Box::new(self.store_up.clone()),
            #[cfg(target_os = "linux")]
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        for c in collectors {
            self.registry.register(c).expect("metric names are unique");
        }
    }

    /// Runs `rebuild` (which resets state families and fills them again) so that no scrape sees
    /// a family half rebuilt; label sets not filled again disappear.
    pub fn rebuild(&self, rebuild: impl FnOnce()) {
        let _guard = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
        rebuild();
    }

    /// The office gauges, read from the calendar at scrape time so that they change at the
    /// exact session boundaries rather than at the next evaluation.
    pub fn set_office(
        &self,
        calendar: &crate::calendar::Calendar,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let (open, next) = calendar.office_status(now);
        self.office_open.set(i64::from(open));
        self.office_next_open.set(next.timestamp() as f64);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let families = {
            let _guard = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
            self.registry.gather()
        };
        encode(&families)
    }

    /// What a standby exports: its process and its config, never the domain series (dossiers,
    /// sources, probes, outbox), which only the leader computes. So that sums over every
    /// instance, as the dashboards and rules take them, count each figure once, and a
    /// standby's stale values never page anyone.
    pub fn render_standby(&self) -> String {
        let families: Vec<_> = self
            .registry
            .gather()
            .into_iter()
            .filter(|f| {
                let name = f.name();
                STANDBY_FAMILIES.contains(&name) || name.starts_with("process_")
            })
            .collect();
        encode(&families)
    }

    /// Registers the per-source series at zero so that a source that never succeeded is visible
    /// as down rather than absent.
    pub fn init_source(&self, source: &str) {
        self.source_up.with_label_values(&[source]).set(0);
        self.source_rows.with_label_values(&[source]);
        self.source_rows_vanished.with_label_values(&[source]);
        self.store_wait.with_label_values(&[source]);
        for kind in [
            poll_error::CONNECT,
            poll_error::QUERY,
            poll_error::TIMEOUT,
            poll_error::COLUMNS,
            poll_error::STORE,
            poll_error::PANIC,
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

    /// Registers a level's outbox series at zero.
    pub fn init_outbox_level(&self, level: &str) {
        self.escalations_decided.with_label_values(&[level]);
        self.escalations_sent.with_label_values(&[level]);
        for reason in crate::notify::reason::ALL {
            self.escalations_failed.with_label_values(&[level, reason]);
        }
        self.outbox_pending.with_label_values(&[level]).set(0);
        self.outbox_due.with_label_values(&[level]).set(0);
        self.outbox_dead.with_label_values(&[level]).set(0);
        self.outbox_reclaimed.with_label_values(&[level]);
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
