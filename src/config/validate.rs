//! Turns the file as written into a typed `Config`, collecting every problem instead of stopping
//! at the first.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;

use super::notify::{RawNotify, validate_notify};
use super::raw::{RawCatalogue, RawConfig, RawProcedure, RawSource};
use super::secret::expand_env;
use super::*;
use crate::sla::{Procedure, StatutoryTime};

/// Collects problems; helpers return `None` for a bad value so that validation goes on.
pub(crate) struct Checker<'a> {
    problems: &'a mut Vec<Problem>,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The config file's folder: what relative paths in it are read against.
    config_dir: PathBuf,
    /// `$STATE_DIRECTORY` (set by systemd's `StateDirectory=`), for what the service writes.
    state_dir: Option<PathBuf>,
}

impl Checker<'_> {
    /// A path written in the config, read against the config file's folder: the process's
    /// working directory is `/` under systemd and says nothing about what the operator meant.
    pub(crate) fn path(&self, p: &Path) -> PathBuf {
        self.config_dir.join(p)
    }

    /// A path to state the service writes (the SQLite store, the mail folder): under
    /// `$STATE_DIRECTORY` when systemd gives one, else like `path`.
    pub(crate) fn state_path(&self, p: &Path) -> PathBuf {
        self.state_dir.as_ref().unwrap_or(&self.config_dir).join(p)
    }

    /// A SQLite URL with a relative file path made absolute with `state_path`; other URLs, an
    /// absolute path and in-memory databases unchanged.
    fn state_url(&self, url: &str) -> String {
        let Some(rest) = url
            .split_once(':')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("sqlite"))
            .map(|(_, rest)| rest.strip_prefix("//").unwrap_or(rest))
        else {
            return url.to_string();
        };
        let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
        if file.is_empty() || file.starts_with(':') || Path::new(file).is_absolute() {
            return url.to_string();
        }
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        format!(
            "sqlite://{}{query}",
            self.state_path(Path::new(file)).display()
        )
    }

    pub(crate) fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    pub(crate) fn schedule(
        &mut self,
        key: &str,
        expr: Option<&str>,
        default: &str,
    ) -> Option<CronSchedule> {
        CronSchedule::parse(expr.unwrap_or(default))
            .map_err(|e| self.problem(key, e))
            .ok()
    }

    fn time_zone(&mut self, key: &str, name: Option<&str>, default: Tz) -> Option<Tz> {
        match name {
            None => Some(default),
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| {
                    self.problem(
                        key,
                        format!("{name:?} is not an IANA time zone (e.g. \"Asia/Ho_Chi_Minh\")"),
                    )
                })
                .ok(),
        }
    }

    /// A secret given inline (with `${ENV}` references) or as `<key>_file`, exactly one of them
    /// when `required`.
    pub(crate) fn secret(
        &mut self,
        key: &str,
        inline: Option<&str>,
        file: Option<&Path>,
        required: bool,
    ) -> Option<Option<Secret>> {
        match (inline, file) {
            (Some(_), Some(_)) => {
                self.problem(key, format!("give either {key} or {key}_file, not both"));
                None
            }
            (Some(raw), None) => match expand_env(raw, self.env) {
                Ok(v) => Some(Some(Secret::new(v))),
                Err(e) => {
                    self.problem(key, e);
                    None
                }
            },
            (None, Some(path)) => {
                let path = self.path(path);
                match std::fs::read_to_string(&path) {
                    Ok(v) => Some(Some(Secret::new(v.trim_end_matches(['\r', '\n'])))),
                    Err(e) => {
                        self.problem(
                            format!("{key}_file"),
                            format!("cannot read {}: {e}", path.display()),
                        );
                        None
                    }
                }
            }
            (None, None) if required => {
                self.problem(
                    key,
                    format!("missing; expected {key} = \"...\" or {key}_file"),
                );
                None
            }
            (None, None) => Some(None),
        }
    }

    /// A required name that becomes a metric label: unique among the `what`s in `seen`.
    pub(crate) fn label_name(
        &mut self,
        key: &str,
        name: Option<String>,
        seen: &mut HashSet<String>,
        what: &str,
    ) -> Option<String> {
        match name {
            None => {
                self.problem(key, format!("missing; every {what} needs a unique name"));
                None
            }
            Some(n)
                if n.is_empty()
                    || !n
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || "_-".contains(ch)) =>
            {
                self.problem(
                    key,
                    format!(
                        "{n:?}: use letters, digits, '-' and '_' only (it becomes a metric label)"
                    ),
                );
                None
            }
            Some(n) if !seen.insert(n.clone()) => {
                self.problem(key, format!("{n:?} is used by another {what}"));
                None
            }
            Some(n) => Some(n),
        }
    }

    /// A count or a number of seconds between 1 and `max`. The upper bound keeps every value
    /// far from where `Duration`, the drivers (SQLite takes its busy timeout in i32
    /// milliseconds) or an allocation sized by it would overflow or abort.
    pub(crate) fn positive<T: PartialOrd + Default + Copy + std::fmt::Display>(
        &mut self,
        key: &str,
        v: Option<T>,
        d: T,
        max: T,
    ) -> T {
        let v = v.unwrap_or(d);
        if v <= T::default() {
            self.problem(key, "must be greater than 0");
        } else if v > max {
            self.problem(key, format!("{v} is out of range; allowed 1 to {max}"));
            return d;
        }
        v
    }

    /// Like `positive` but 0 is allowed.
    pub(crate) fn at_most(&mut self, key: &str, v: Option<u64>, d: u64, max: u64) -> u64 {
        let v = v.unwrap_or(d);
        if v > max {
            self.problem(key, format!("{v} is out of range; allowed 0 to {max}"));
            return d;
        }
        v
    }
}

pub(super) fn validate(
    path: &Path,
    mut raw: RawConfig,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) -> Option<Config> {
    let config_dir = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    // systemd may list several folders separated by ':'; the first is the unit's own.
    let state_dir = env("STATE_DIRECTORY")
        .and_then(|v| v.split(':').next().map(PathBuf::from))
        .filter(|d| d.is_absolute());
    let mut c = Checker {
        problems,
        env,
        config_dir,
        state_dir,
    };
    for file in &mut raw.calendar.files {
        *file = c.path(file);
    }
    let calendar = match Calendar::from_settings(&raw.calendar) {
        Ok(cal) => Some(Arc::new(cal)),
        Err(e) => {
            for p in e.problems {
                let message = format!("{:?} {}; expected {}", p.value, p.reason, p.expected);
                c.problem(p.key, message);
            }
            None
        }
    };
    let centre_tz = calendar
        .as_ref()
        .map_or(chrono_tz::Asia::Ho_Chi_Minh, |cal| cal.time_zone());
    let sla = raw
        .sla
        .validate()
        .map_err(|errors| {
            for e in errors {
                let text = e.to_string();
                let (key, message) = text.split_once(": ").unwrap_or(("sla", &text));
                c.problem(key, message);
            }
        })
        .ok();
    // The SLA module takes any u32; beyond this bound the threshold means nothing (and the
    // settings live below the config, so the bound is checked here).
    c.at_most(
        "sla.due_soon_working_hours",
        raw.sla.due_soon_working_hours.map(u64::from),
        0,
        u64::from(MAX_WORKING_HOURS),
    );
    let catalogue = catalogue(&mut c, raw.catalogue);

    let listen = raw.service.listen.as_deref().unwrap_or(LISTEN);
    let listen = listen
        .parse()
        .map_err(|_| {
            c.problem(
                "service.listen",
                format!("{listen:?} is not a socket address; expected e.g. \"127.0.0.1:9464\""),
            )
        })
        .ok();
    let bearer_token = c.secret(
        "service.bearer_token",
        raw.service.bearer_token.as_deref(),
        raw.service.bearer_token_file.as_deref(),
        false,
    );
    if let Some(Some(token)) = &bearer_token
        && token.expose().len() < 16
    {
        c.problem(
            "service.bearer_token",
            "too short; use at least 16 characters",
        );
    }
    let web = super::web::validate_web(
        &mut c,
        &mut raw.service,
        listen,
        matches!(bearer_token, Some(Some(_))),
    );
    let evaluate_schedule = c.schedule(
        "service.evaluate_schedule",
        raw.service.evaluate_schedule.as_deref(),
        EVALUATE_SCHEDULE,
    );
    let shutdown_grace = Duration::from_secs(c.positive(
        "service.shutdown_grace_secs",
        raw.service.shutdown_grace_secs,
        SHUTDOWN_GRACE_SECS,
        MAX_SHUTDOWN_GRACE_SECS,
    ));

    let store_url = match (&raw.store.url, &raw.store.url_file) {
        (None, None) => Some(Secret::new(STORE_URL)),
        (url, file) => c
            .secret("store.url", url.as_deref(), file.as_deref(), true)
            .flatten(),
    }
    .map(|url| Secret::new(c.state_url(url.expose())));
    if let Some(url) = &store_url
        && !matches!(
            Dialect::from_url(url.expose()),
            Some(Dialect::Sqlite | Dialect::Postgres)
        )
    {
        c.problem(
            "store.url",
            format!(
                "{} is not a store URL; expected sqlite://PATH or postgres://...",
                redact_url(url.expose())
            ),
        );
    }
    let store_max = c.positive(
        "store.max_connections",
        raw.store.max_connections,
        STORE_MAX_CONNECTIONS,
        MAX_CONNECTIONS,
    );
    let store_source_connections = c.positive(
        "store.source_connections",
        raw.store.source_connections,
        STORE_SOURCE_CONNECTIONS,
        MAX_CONNECTIONS,
    );

    let mut names = HashSet::new();
    let sources: Vec<Option<SourceConfig>> = raw
        .sources
        .into_iter()
        .enumerate()
        .map(|(i, s)| validate_source(&mut c, i, s, centre_tz, catalogue.is_empty(), &mut names))
        .collect();
    super::identity::check_links(&mut c, &sources, &names);
    let probes = crate::probe::config::validate_probes(&mut c, raw.probes, &names);
    let software = crate::probe::config::validate_software(&mut c, raw.software, &names);
    let handoffs = crate::handoff::config::validate_handoffs(&mut c, raw.handoffs, &names);
    let period_start_day = match raw.reporting.period_start_day {
        None => Some(PeriodStartDay::default()),
        Some(day) => PeriodStartDay::new(day)
            .map_err(|e| c.problem("reporting.period_start_day", e.to_string()))
            .ok(),
    };
    let notify = validate_notify(
        &mut c,
        RawNotify {
            period_start_day: period_start_day.unwrap_or_default(),
            departments: raw.departments,
            recipients: raw.recipients,
            escalation: raw.escalation,
            reports: raw.reports,
            mail: raw.mail,
        },
        calendar.as_deref(),
    );
    let metrics = MetricsConfig {
        max_procedure_labels: c.positive(
            "metrics.max_procedure_labels",
            raw.metrics.max_procedure_labels,
            MAX_PROCEDURE_LABELS,
            MAX_LABELS,
        ),
        max_department_labels: c.positive(
            "metrics.max_department_labels",
            raw.metrics.max_department_labels,
            MAX_DEPARTMENT_LABELS,
            MAX_LABELS,
        ),
    };

    let ha = validate_ha(&mut c, &raw.ha);

    let web = web?;
    Some(Config {
        path: path.to_path_buf(),
        service: ServiceConfig {
            listen: listen?,
            bearer_token: bearer_token?,
            tls: web.tls,
            basic_auth_users: web.basic_auth_users,
            allow_unauthenticated: web.allow_unauthenticated,
            log_format: web.log_format,
            evaluate_schedule: evaluate_schedule?,
            shutdown_grace,
            time_zone: centre_tz,
        },
        calendar: calendar?,
        sla: sla?,
        catalogue: Arc::new(catalogue),
        store: StoreConfig {
            url: store_url?,
            max_connections: store_max,
            source_connections: store_source_connections,
        },
        sources: sources.into_iter().collect::<Option<Vec<_>>>()?,
        probes: probes?,
        software: software?,
        handoffs: handoffs?,
        reporting: ReportingConfig {
            period_start_day: period_start_day?,
        },
        notify: notify?,
        metrics,
        ha,
    })
}

/// The lease and its renewal, each within its range, renewed at least twice per lease so that
/// one slow renewal does not hand the lead over.
fn validate_ha(c: &mut Checker<'_>, raw: &super::raw::RawHa) -> HaConfig {
    let lease = c.positive(
        "ha.lease_secs",
        raw.lease_secs,
        HA_LEASE_SECS,
        MAX_HA_LEASE_SECS,
    );
    let renew = c.positive(
        "ha.renew_secs",
        raw.renew_secs,
        HA_RENEW_SECS,
        MAX_HA_LEASE_SECS,
    );
    if renew.saturating_mul(2) > lease {
        c.problem(
            "ha.renew_secs",
            format!(
                "{renew} is longer than half of ha.lease_secs ({lease}): the lease must be \
                 renewed at least twice before it lapses"
            ),
        );
    }
    HaConfig {
        lease: Duration::from_secs(lease),
        renew: Duration::from_secs(renew),
    }
}

fn validate_source(
    c: &mut Checker<'_>,
    i: usize,
    s: RawSource,
    centre_tz: Tz,
    catalogue_is_empty: bool,
    names: &mut HashSet<String>,
) -> Option<SourceConfig> {
    let key = |k: &str| format!("source[{i}].{k}");
    let name = c.label_name(&key("name"), s.name, names, "source");
    let url = c
        .secret(&key("url"), s.url.as_deref(), s.url_file.as_deref(), true)
        .flatten();
    let dialect = url.as_ref().and_then(|u| {
        Dialect::from_url(u.expose()).or_else(|| {
            c.problem(
                key("url"),
                format!(
                    "{}: unknown database; expected a URL starting with postgres://, mysql:// \
                     (also for MariaDB) or sqlite://",
                    redact_url(u.expose())
                ),
            );
            None
        })
    });
    let schedule = c.schedule(&key("schedule"), s.schedule.as_deref(), SOURCE_SCHEDULE);
    let resync_schedule = c.schedule(
        &key("resync_schedule"),
        s.resync_schedule.as_deref(),
        SOURCE_RESYNC_SCHEDULE,
    );
    let query = match s.query {
        None => {
            c.problem(
                key("query"),
                "missing; expected the SQL that returns the canonical columns",
            );
            None
        }
        Some(q) => watermarked(c, &key("query"), q, "updated_at"),
    };
    // Absent is fine (no stage events); given, it must be usable.
    let stage_query = match s.stage_query {
        None => Some(None),
        Some(q) if q.trim().is_empty() => {
            c.problem(
                key("stage_query"),
                "is empty; expected the SQL that returns dossier_id, stage and entered_at, or \
                 leave the key out",
            );
            None
        }
        Some(q) => watermarked(c, &key("stage_query"), q, "entered_at").map(Some),
    };
    let time_zone = c.time_zone(&key("time_zone"), s.time_zone.as_deref(), centre_tz);
    let max_connections = c.positive(
        &key("max_connections"),
        s.max_connections,
        SOURCE_MAX_CONNECTIONS,
        MAX_CONNECTIONS,
    );
    let timeout_secs = c.positive(
        &key("timeout_secs"),
        s.timeout_secs,
        SOURCE_TIMEOUT_SECS,
        MAX_TIMEOUT_SECS,
    );
    // The server gives up a little before the client does, so a slow query is cancelled where it
    // runs instead of running on after the client walked away.
    let statement_default = (timeout_secs * 9 / 10).max(1);
    let statement_timeout_secs = c.positive(
        &key("statement_timeout_secs"),
        s.statement_timeout_secs,
        statement_default,
        MAX_TIMEOUT_SECS,
    );
    if statement_timeout_secs > timeout_secs {
        c.problem(
            key("statement_timeout_secs"),
            format!(
                "{statement_timeout_secs} is longer than timeout_secs ({timeout_secs}); the \
                 server-side limit must not exceed the client-side one"
            ),
        );
    }
    let connect_timeout_secs = c.positive(
        &key("connect_timeout_secs"),
        s.connect_timeout_secs,
        SOURCE_CONNECT_TIMEOUT_SECS,
        MAX_TIMEOUT_SECS,
    );
    let batch_rows = c.positive(
        &key("batch_rows"),
        s.batch_rows,
        SOURCE_BATCH_ROWS,
        MAX_BATCH_ROWS,
    );
    let page_rows = c.positive(
        &key("page_rows"),
        s.page_rows,
        SOURCE_PAGE_ROWS,
        MAX_PAGE_ROWS,
    );
    let watermark_overlap_secs = c.at_most(
        &key("watermark_overlap_secs"),
        s.watermark_overlap_secs,
        SOURCE_WATERMARK_OVERLAP_SECS,
        MAX_TIMEOUT_SECS,
    );
    let compute_due = s.compute_due.unwrap_or(false);
    if compute_due && catalogue_is_empty {
        c.problem(
            key("compute_due"),
            "is true but the catalogue has no procedures; expected [catalogue] procedures or file",
        );
    }
    let role = super::identity::parse_role(c, &key, s.role, s.same_dossiers_as);
    let mut status_map = BTreeMap::new();
    for (code, canonical) in s.status_map {
        match Status::parse(&canonical) {
            Some(st) => {
                status_map.insert(code, st);
            }
            None => c.problem(
                format!("source[{i}].status_map.{code}"),
                format!(
                    "{canonical:?} is not a canonical status; expected one of: {}",
                    Status::ALL.map(|s| s.as_str()).join(", ")
                ),
            ),
        }
    }
    Some(SourceConfig {
        name: name?,
        dialect: dialect?,
        url: url?,
        schedule: schedule?,
        resync_schedule: resync_schedule?,
        query: query?,
        stage_query: stage_query?,
        watermark_overlap: Duration::from_secs(watermark_overlap_secs),
        time_zone: time_zone?,
        max_connections,
        timeout: Duration::from_secs(timeout_secs),
        statement_timeout: Duration::from_secs(statement_timeout_secs),
        connect_timeout: Duration::from_secs(connect_timeout_secs),
        batch_rows,
        page_rows,
        compute_due,
        procedure_labels: s.procedure_labels.unwrap_or(false),
        status_map,
        role: role?,
    })
}

/// A source query that reads incrementally: it must take the watermark.
fn watermarked(c: &mut Checker<'_>, key: &str, query: String, marker: &str) -> Option<String> {
    if query.contains(":watermark") {
        return Some(query);
    }
    c.problem(
        key,
        format!(
            "has no :watermark placeholder; expected e.g. `WHERE {marker} >= :watermark` so that \
             polls read only what changed"
        ),
    );
    None
}

/// The catalogue file's entries, then the inline ones (which win), each time parsed.
fn catalogue(c: &mut Checker<'_>, raw: RawCatalogue) -> Catalogue {
    let mut entries: Vec<(String, String, RawProcedure)> = Vec::new();
    if let Some(path) = raw.file.as_deref().map(|p| c.path(p)) {
        let table = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                toml::from_str::<BTreeMap<String, RawProcedure>>(&text).map_err(|e| e.to_string())
            });
        match table {
            Ok(table) => entries.extend(
                table
                    .into_iter()
                    .map(|(code, p)| (format!("{}: {code}", path.display()), code, p)),
            ),
            Err(e) => c.problem(
                "catalogue.file",
                format!("cannot read {}: {e}", path.display()),
            ),
        }
    }
    entries.extend(
        raw.procedures
            .into_iter()
            .map(|(code, p)| (format!("catalogue.procedures.{code}"), code, p)),
    );
    entries
        .into_iter()
        .filter_map(|(key, code, raw)| procedure(c, &key, raw).map(|p| (code, p)))
        .collect()
}

fn procedure(c: &mut Checker<'_>, key: &str, raw: RawProcedure) -> Option<Procedure> {
    let (time, cutoff) = match raw {
        RawProcedure::Time(time) => (time, None),
        RawProcedure::Detailed(table) => (table.time, table.next_day_after),
    };
    let time = time
        .parse::<StatutoryTime>()
        .map_err(|e| c.problem(key.to_owned(), e.to_string()))
        .ok();
    let next_day_after = match cutoff {
        None => None,
        Some(raw) => {
            let parsed = NaiveTime::parse_from_str(raw.trim(), "%H:%M")
                .map(|t| t.num_seconds_from_midnight())
                .map_err(|_| {
                    c.problem(
                        format!("{key}.next_day_after"),
                        format!("{raw:?} is not a time of day; expected HH:MM, e.g. \"15:00\""),
                    )
                })
                .ok()?;
            Some(parsed)
        }
    };
    Some(Procedure {
        time: time?,
        next_day_after,
    })
}
