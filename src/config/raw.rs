//! The configuration file as written: every field optional, so that validation can report every
//! missing or wrong key at once instead of stopping at the first. Unknown keys are collected by
//! `serde_ignored` in `load` (rather than `deny_unknown_fields`, which stops at the first one).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::calendar::CalendarSettings;
use crate::sla::SlaSettings;

#[derive(Debug, Default, Deserialize)]
pub struct RawConfig {
    #[serde(default)]
    pub service: RawService,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub calendar: CalendarSettings,
    #[serde(default)]
    pub sla: SlaSettings,
    #[serde(default)]
    pub catalogue: RawCatalogue,
    #[serde(default, rename = "source")]
    pub sources: Vec<RawSource>,
    #[serde(default, rename = "probe")]
    pub probes: Vec<crate::probe::config::RawProbe>,
    #[serde(default)]
    pub software: Vec<crate::probe::config::RawSoftware>,
    #[serde(default, rename = "handoff")]
    pub handoffs: Vec<crate::handoff::config::RawHandoff>,
    /// Department code → display name, for emails.
    #[serde(default)]
    pub departments: BTreeMap<String, String>,
    #[serde(default)]
    pub recipients: RawRecipients,
    /// Absent: the default levels (DESIGN §6) for the roles that have recipients.
    pub escalation: Option<RawEscalation>,
    #[serde(default)]
    pub reporting: RawReporting,
    #[serde(default, rename = "report")]
    pub reports: Vec<RawReport>,
    #[serde(default)]
    pub mail: RawMail,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub ha: RawHa,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawHa {
    pub lease_secs: Option<u64>,
    pub renew_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMetrics {
    pub max_procedure_labels: Option<usize>,
    pub max_department_labels: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawService {
    pub listen: Option<String>,
    pub bearer_token: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub evaluate_schedule: Option<String>,
    pub shutdown_grace_secs: Option<u64>,
    pub tls_server_config: Option<RawTls>,
    /// User name → bcrypt hash.
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    pub allow_unauthenticated: Option<bool>,
    pub log_format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawTls {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStore {
    pub url: Option<String>,
    pub url_file: Option<PathBuf>,
    pub max_connections: Option<u32>,
    pub source_connections: Option<u32>,
}

/// Statutory times per procedure code: from a file (a TOML table `code = "3 working days"`) and
/// inline; inline entries win.
#[derive(Debug, Default, Deserialize)]
pub struct RawCatalogue {
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub procedures: BTreeMap<String, RawProcedure>,
}

/// `"3 working days"`, or `{ time = "same day", next_day_after = "15:00" }` for a procedure
/// that starts counting the next working day when received late in the day.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a statutory time such as \"3 working days\", or a table such as { time = \"same day\", next_day_after = \"15:00\" }"
)]
pub enum RawProcedure {
    Time(String),
    Detailed(RawProcedureTable),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcedureTable {
    pub time: String,
    pub next_day_after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSource {
    pub name: Option<String>,
    pub url: Option<String>,
    pub url_file: Option<PathBuf>,
    pub schedule: Option<String>,
    pub resync_schedule: Option<String>,
    pub query: Option<String>,
    pub stage_query: Option<String>,
    pub watermark_overlap_secs: Option<u64>,
    pub time_zone: Option<String>,
    pub max_connections: Option<u32>,
    pub timeout_secs: Option<u64>,
    pub statement_timeout_secs: Option<u64>,
    pub connect_timeout_secs: Option<u64>,
    pub batch_rows: Option<usize>,
    pub page_rows: Option<usize>,
    pub compute_due: Option<bool>,
    pub procedure_labels: Option<bool>,
    pub role: Option<String>,
    pub same_dossiers_as: Option<String>,
    #[serde(default)]
    pub status_map: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawRecipients {
    #[serde(default)]
    pub department_heads: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub centre_director: Vec<String>,
    #[serde(default)]
    pub province_leaders: Vec<String>,
    #[serde(default)]
    pub it_team: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawEscalation {
    #[serde(default)]
    pub level: Vec<RawLevel>,
}

/// The condition keys are alternatives: the level applies when any of those given holds.
#[derive(Debug, Default, Deserialize)]
pub struct RawLevel {
    pub name: Option<String>,
    pub sla_state: Option<String>,
    pub working_hours_left_at_most: Option<u32>,
    pub fraction_used_at_least: Option<f64>,
    pub due_today: Option<bool>,
    #[serde(default)]
    pub notify: Vec<String>,
    #[serde(default)]
    pub addresses: Vec<String>,
    pub digest_schedule: Option<String>,
    pub working_hours_only: Option<bool>,
    pub repeat_every_working_hours: Option<u32>,
}

/// What the `report` command, the `[[report]]` emails, the API summary and the progress gauge
/// share.
#[derive(Debug, Default, Deserialize)]
pub struct RawReporting {
    pub period_start_day: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawReport {
    pub name: Option<String>,
    pub period: Option<String>,
    pub period_start_day: Option<i64>,
    pub schedule: Option<String>,
    #[serde(default)]
    pub notify: Vec<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    pub working_hours_only: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawMail {
    pub transport: Option<String>,
    pub folder: Option<PathBuf>,
    pub from: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    pub pool_size: Option<u32>,
    pub timeout_secs: Option<u64>,
    pub drain_schedule: Option<String>,
    pub max_attempts: Option<u32>,
    pub retry_initial_secs: Option<u64>,
    pub retry_max_secs: Option<u64>,
    pub templates_dir: Option<PathBuf>,
}
