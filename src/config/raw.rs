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
}

#[derive(Debug, Default, Deserialize)]
pub struct RawService {
    pub listen: Option<String>,
    pub bearer_token: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub evaluate_schedule: Option<String>,
    pub shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawStore {
    pub url: Option<String>,
    pub url_file: Option<PathBuf>,
    pub max_connections: Option<u32>,
}

/// Statutory times per procedure code: from a file (a TOML table `code = "3 working days"`) and
/// inline; inline entries win.
#[derive(Debug, Default, Deserialize)]
pub struct RawCatalogue {
    pub file: Option<PathBuf>,
    #[serde(default)]
    pub procedures: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RawSource {
    pub name: Option<String>,
    pub url: Option<String>,
    pub url_file: Option<PathBuf>,
    pub schedule: Option<String>,
    pub resync_schedule: Option<String>,
    pub query: Option<String>,
    pub watermark_overlap_secs: Option<u64>,
    pub time_zone: Option<String>,
    pub max_connections: Option<u32>,
    pub timeout_secs: Option<u64>,
    pub statement_timeout_secs: Option<u64>,
    pub connect_timeout_secs: Option<u64>,
    pub batch_rows: Option<usize>,
    pub compute_due: Option<bool>,
    pub procedure_labels: Option<bool>,
    #[serde(default)]
    pub status_map: BTreeMap<String, String>,
}
