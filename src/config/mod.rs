//! The configuration: one strict TOML file, validated as a whole so that `check-config` can print
//! every problem at once, each naming its key and what was expected.

mod defaults;
#[cfg(test)]
mod example_keys;
mod identity;
mod lenient;
mod notify;
mod raw;
mod schedule;
mod secret;
mod validate;
mod web;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;

pub use defaults::*;
pub use identity::SourceRole;
pub use notify::{
    LevelConfig, MailConfig, NotifyConfig, Recipients, ReportConfig, Role, SmtpConfig, SmtpTls,
    Transport,
};
pub use schedule::CronSchedule;
pub use secret::{Secret, redact_url};
pub(crate) use validate::Checker;
pub use web::{BasicAuthUsers, LogFormat, TlsError, TlsFiles};

use crate::calendar::Calendar;
use crate::dossier::Status;
use crate::evaluate::PeriodStartDay;
use crate::sla::{Catalogue, SlaPolicy};

/// A validated configuration: every value typed, every schedule parsed, every secret resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub service: ServiceConfig,
    pub store: StoreConfig,
    /// The centre's working-time calendar, built once.
    pub calendar: Arc<Calendar>,
    pub sla: SlaPolicy,
    /// Statutory time per procedure, for dossiers whose source gives no due date.
    pub catalogue: Arc<Catalogue>,
    pub sources: Vec<SourceConfig>,
    pub probes: Vec<crate::probe::ProbeConfig>,
    pub software: Vec<crate::probe::SoftwareConfig>,
    pub handoffs: Vec<crate::handoff::HandoffConfig>,
    pub reporting: ReportingConfig,
    /// Escalations, reports and the mail transport.
    pub notify: NotifyConfig,
    pub metrics: MetricsConfig,
    /// The leader's lease, for instances sharing a PostgreSQL store.
    pub ha: HaConfig,
}

/// The leader's lease: renewed every `renew`, lapsing `lease` after the last renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HaConfig {
    pub lease: Duration,
    pub renew: Duration,
}

/// How many values of a label taken from the data each source keeps; the rest are `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsConfig {
    pub max_procedure_labels: usize,
    pub max_department_labels: usize,
}

/// `[reporting]`: the reporting periods every report and the progress gauge use.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportingConfig {
    /// Where monthly, quarterly and yearly periods start; a `[[report]]` may set its own.
    pub period_start_day: PeriodStartDay,
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    pub bearer_token: Option<Secret>,
    /// Serve HTTPS with this certificate, re-read when its files change.
    pub tls: Option<TlsFiles>,
    /// Basic-auth users, admitted beside the bearer token.
    pub basic_auth_users: BasicAuthUsers,
    /// A non-loopback `listen` without credentials was allowed on purpose.
    pub allow_unauthenticated: bool,
    pub log_format: LogFormat,
    pub evaluate_schedule: CronSchedule,
    pub shutdown_grace: Duration,
    /// The centre's time zone: cron schedules and calendar periods are read in it.
    pub time_zone: Tz,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub url: Secret,
    /// The pool of the evaluation, the outbox, the HTTP API and the CLI.
    pub max_connections: u32,
    /// The pool source polls write through, so that they can never take the one above.
    pub source_connections: u32,
}

/// The database family of a source, chosen from its URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
    Sqlite,
}

impl Dialect {
    pub fn from_url(url: &str) -> Option<Dialect> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Dialect::Postgres),
            "mysql" | "mariadb" => Some(Dialect::MySql),
            "sqlite" => Some(Dialect::Sqlite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub name: String,
    pub dialect: Dialect,
    pub url: Secret,
    pub schedule: CronSchedule,
    pub resync_schedule: CronSchedule,
    /// The operator's SQL, with `:watermark` where the last watermark goes.
    pub query: String,
    /// The operator's SQL for stage events (dossier_id, stage, entered_at), with `:watermark`
    /// where the last entry instant read goes.
    pub stage_query: Option<String>,
    /// How far before the last watermark each poll starts reading again.
    pub watermark_overlap: Duration,
    /// Zone of timestamps stored without one.
    pub time_zone: Tz,
    pub max_connections: u32,
    pub timeout: Duration,
    pub statement_timeout: Duration,
    pub connect_timeout: Duration,
    pub batch_rows: usize,
    /// Rows of the dossier query read per statement (a keyset page).
    pub page_rows: usize,
    /// Compute every due date from the catalogue, ignoring the source's.
    pub compute_due: bool,
    /// Add a `procedure` label to this source's dossier metrics (opt-in: a province has
    /// about 1,500 procedures).
    pub procedure_labels: bool,
    /// Source status code → canonical status. Empty: the source already uses the canonical names
    /// or the national codes 1-10.
    pub status_map: BTreeMap<String, Status>,
    /// The system of record, or a department's system whose dossiers are another source's.
    pub role: SourceRole,
}

impl SourceConfig {
    /// The URL with any password removed, for logs and errors.
    pub fn display_url(&self) -> String {
        redact_url(self.url.expose())
    }
}

/// One thing wrong with the configuration, naming the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {} problem(s):\n{}", problems.len(), list(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// The problems as a list, for tests and `check-config`.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ConfigError::Invalid { problems, .. } => {
                problems.iter().map(ToString::to_string).collect()
            }
            other => vec![other.to_string()],
        }
    }
}

impl Config {
    /// What pollers need to fill in missing due dates.
    pub fn deadlines(&self) -> crate::source::Deadlines {
        crate::source::Deadlines {
            calendar: self.calendar.clone(),
            catalogue: self.catalogue.clone(),
        }
    }

    /// Reads and validates a config file, resolving `${ENV}` references from the process
    /// environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text, |name| std::env::var(name).ok())
    }

    /// Validates config text; `env` resolves `${NAME}` references (injected so tests need not
    /// touch the process environment).
    pub fn parse(
        path: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let parse_error = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        };
        let read = lenient::read(text).map_err(|e| parse_error(e.to_string()))?;
        let refused: Vec<String> = read.problems.iter().map(|p| p.key.clone()).collect();
        let mut problems = read.problems;
        let mut checked = Vec::new();
        let config = validate::validate(path, read.raw, &env, &mut checked);
        problems.extend(lenient::without_echoes(checked, &refused));
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                problems,
            }),
        }
    }
}

/// Formats a key path the way problems name keys: `source[0].schedule`.
fn key_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        Path::Map { parent, key } => match key_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => key_path(parent),
    }
}
