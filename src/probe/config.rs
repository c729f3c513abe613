//! The `[[probe]]` and `[[software]]` sections: as written (every field optional, one flat table
//! per entry so that unknown and misplaced keys are all reported) and as validated (one typed
//! variant per kind).

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;

use crate::config::{
    Checker, CronSchedule, MAX_TIMEOUT_SECS, PROBE_SCHEDULE, PROBE_TIMEOUT_SECS, SOFTWARE_SCHEDULE,
    SOFTWARE_TIMEOUT_SECS, Secret,
};

/// A `[[probe]]` as written. A flat table rather than a serde-tagged enum: serde buffers a tagged
/// enum's fields, which hides unknown keys from the config's unknown-key check.
#[derive(Debug, Default, Deserialize)]
pub struct RawProbe {
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub schedule: Option<String>,
    pub timeout_secs: Option<u64>,
    pub ip_version: Option<String>,
    pub url: Option<String>,
    pub method: Option<String>,
    pub valid_status_codes: Option<Vec<u16>>,
    pub body_contains: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub insecure_skip_verify: Option<bool>,
    pub target: Option<String>,
    pub send: Option<String>,
    pub expect: Option<String>,
    pub source: Option<String>,
    pub query: Option<String>,
}

/// A `[[software]]` entry as written: where a system's error counts are read.
#[derive(Debug, Default, Deserialize)]
pub struct RawSoftware {
    pub system: Option<String>,
    pub kind: Option<String>,
    pub schedule: Option<String>,
    pub timeout_secs: Option<u64>,
    pub source: Option<String>,
    pub query: Option<String>,
    pub url: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpVersion {
    #[default]
    Any,
    V4,
    V6,
}

impl IpVersion {
    pub fn accepts(self, ip: IpAddr) -> bool {
        match self {
            IpVersion::Any => true,
            IpVersion::V4 => ip.is_ipv4(),
            IpVersion::V6 => ip.is_ipv6(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub name: String,
    /// Free text for dashboards: kiosk, queue_machine, scanner, web, database, portal...
    pub group: String,
    pub schedule: CronSchedule,
    pub timeout: Duration,
    pub kind: ProbeKind,
}

#[derive(Debug, Clone)]
pub enum ProbeKind {
    Http(HttpProbeConfig),
    Tcp(TcpProbeConfig),
    Sql(SqlProbeConfig),
}

impl ProbeKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProbeKind::Http(_) => "http",
            ProbeKind::Tcp(_) => "tcp",
            ProbeKind::Sql(_) => "sql",
        }
    }
}

#[derive(Debug, Clone)]
pub struct HttpProbeConfig {
    pub method: Method,
    pub url: Url,
    /// Empty: any 2xx.
    pub valid_status_codes: Vec<u16>,
    pub body_contains: Option<String>,
    pub headers: Vec<(HeaderName, Secret)>,
    /// Accept a certificate that does not verify (a self-signed internal device); its expiry
    /// is still reported.
    pub insecure_skip_verify: bool,
    pub ip_version: IpVersion,
}

#[derive(Debug, Clone)]
pub struct TcpProbeConfig {
    /// `host:port`.
    pub target: String,
    /// Sent as written once connected (end it with `\n` or `\r\n` as the device expects).
    pub send: Option<String>,
    /// A substring the reply must contain.
    pub expect: Option<String>,
    pub ip_version: IpVersion,
}

#[derive(Debug, Clone)]
pub struct SqlProbeConfig {
    /// The `[[source]]` whose database is queried.
    pub source: String,
    pub query: String,
}

#[derive(Debug, Clone)]
pub struct SoftwareConfig {
    /// The `system` label.
    pub system: String,
    pub schedule: CronSchedule,
    pub timeout: Duration,
    pub read: SoftwareRead,
}

/// Where a system's error counts come from. Both give cumulative counts per kind (the number
/// of errors of that kind ever logged); the service mirrors them into a counter.
#[derive(Debug, Clone)]
pub enum SoftwareRead {
    /// A query returning rows `(kind, count)` on a source's database.
    Sql { source: String, query: String },
    /// A URL answering a JSON object `{"kind": count, ...}`.
    Http {
        url: Url,
        headers: Vec<(HeaderName, Secret)>,
    },
}

/// Reports keys set on an entry of `kind` that belong to other kinds only.
fn misplaced(c: &mut Checker<'_>, prefix: &str, kind: &str, keys: &[(&str, bool, &[&str])]) {
    for (key, set, kinds) in keys {
        if *set && !kinds.contains(&kind) {
            c.problem(
                format!("{prefix}.{key}"),
                format!(
                    "is not a key of kind {kind:?}; it applies to kind {}",
                    kinds.join(", ")
                ),
            );
        }
    }
}

fn kind<'k>(
    c: &mut Checker<'_>,
    prefix: &str,
    kind: Option<&str>,
    known: &[&'k str],
) -> Option<&'k str> {
    match kind {
        None => c.problem(
            format!("{prefix}.kind"),
            format!("missing; expected one of: {}", known.join(", ")),
        ),
        Some(k) => match known.iter().find(|known| **known == k) {
            Some(found) => return Some(*found),
            None => c.problem(
                format!("{prefix}.kind"),
                format!("{k:?} is not a kind; expected one of: {}", known.join(", ")),
            ),
        },
    }
    None
}

fn required<T>(c: &mut Checker<'_>, key: String, value: Option<T>, expected: &str) -> Option<T> {
    if value.is_none() {
        c.problem(key, format!("missing; expected {expected}"));
    }
    value
}

fn url(c: &mut Checker<'_>, key: String, raw: Option<String>) -> Option<Url> {
    let raw = required(c, key.clone(), raw, "an http:// or https:// URL")?;
    match Url::parse(&raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        _ => {
            c.problem(
                key,
                format!(
                    "{} is not an http:// or https:// URL",
                    crate::config::redact_url(&raw)
                ),
            );
            None
        }
    }
}

/// Header values may hold credentials: `${ENV}` references are expanded and the value is kept
/// as a secret.
fn headers(
    c: &mut Checker<'_>,
    prefix: &str,
    raw: Option<BTreeMap<String, String>>,
) -> Option<Vec<(HeaderName, Secret)>> {
    let mut ok = true;
    let mut out = Vec::new();
    for (name, value) in raw.unwrap_or_default() {
        let key = format!("{prefix}.headers.{name}");
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            c.problem(key, "is not a valid HTTP header name");
            ok = false;
            continue;
        };
        match c.secret(&key, Some(&value), None, true).flatten() {
            Some(v) if HeaderValue::from_str(v.expose()).is_ok() => out.push((header, v)),
            Some(_) => {
                c.problem(key, "is not a valid HTTP header value (no line breaks)");
                ok = false;
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn source_name(
    c: &mut Checker<'_>,
    key: String,
    name: Option<String>,
    sources: &HashSet<String>,
) -> Option<String> {
    let name = required(c, key.clone(), name, "the name of a [[source]]")?;
    if sources.contains(&name) {
        Some(name)
    } else {
        c.problem(key, format!("{name:?} is not the name of a [[source]]"));
        None
    }
}

fn ip_version(c: &mut Checker<'_>, key: String, raw: Option<&str>) -> Option<IpVersion> {
    match raw {
        None | Some("any") => Some(IpVersion::Any),
        Some("4") => Some(IpVersion::V4),
        Some("6") => Some(IpVersion::V6),
        Some(other) => {
            c.problem(key, format!("{other:?}; expected \"any\", \"4\" or \"6\""));
            None
        }
    }
}

pub(crate) fn validate_probes(
    c: &mut Checker<'_>,
    raw: Vec<RawProbe>,
    sources: &HashSet<String>,
) -> Option<Vec<ProbeConfig>> {
    let mut names = HashSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, p)| validate_probe(c, i, p, sources, &mut names))
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

fn validate_probe(
    c: &mut Checker<'_>,
    i: usize,
    p: RawProbe,
    sources: &HashSet<String>,
    names: &mut HashSet<String>,
) -> Option<ProbeConfig> {
    let prefix = format!("probe[{i}]");
    let key = |k: &str| format!("{prefix}.{k}");
    let name = c.label_name(&key("name"), p.name, names, "probe");
    let group = required(
        c,
        key("group"),
        p.group,
        "a group such as \"kiosk\", \"queue_machine\", \"web\" or \"database\"",
    );
    let schedule = c.schedule(&key("schedule"), p.schedule.as_deref(), PROBE_SCHEDULE);
    let timeout = Duration::from_secs(c.positive(
        &key("timeout_secs"),
        p.timeout_secs,
        PROBE_TIMEOUT_SECS,
        MAX_TIMEOUT_SECS,
    ));
    let kind_name = kind(c, &prefix, p.kind.as_deref(), &["http", "tcp", "sql"])?;
    misplaced(
        c,
        &prefix,
        kind_name,
        &[
            ("ip_version", p.ip_version.is_some(), &["http", "tcp"]),
            ("url", p.url.is_some(), &["http"]),
            ("method", p.method.is_some(), &["http"]),
            (
                "valid_status_codes",
                p.valid_status_codes.is_some(),
                &["http"],
            ),
            ("body_contains", p.body_contains.is_some(), &["http"]),
            ("headers", p.headers.is_some(), &["http"]),
            (
                "insecure_skip_verify",
                p.insecure_skip_verify.is_some(),
                &["http"],
            ),
            ("target", p.target.is_some(), &["tcp"]),
            ("send", p.send.is_some(), &["tcp"]),
            ("expect", p.expect.is_some(), &["tcp"]),
            ("source", p.source.is_some(), &["sql"]),
            ("query", p.query.is_some(), &["sql"]),
        ],
    );
    let ip = ip_version(c, key("ip_version"), p.ip_version.as_deref());
    let kind = match kind_name {
        "http" => {
            let url = url(c, key("url"), p.url);
            let method = p.method.as_deref().unwrap_or("GET");
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                .map_err(|_| c.problem(key("method"), format!("{method:?} is not an HTTP method")))
                .ok();
            let codes = p.valid_status_codes.unwrap_or_default();
            if let Some(bad) = codes.iter().find(|code| !(100..=599).contains(*code)) {
                c.problem(
                    key("valid_status_codes"),
                    format!("{bad} is not an HTTP status code"),
                );
            }
            let headers = headers(c, &prefix, p.headers);
            if let (Some(u), Some(ip)) = (&url, ip) {
                let literal = u
                    .host_str()
                    .and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok());
                if literal.is_some_and(|addr| !ip.accepts(addr)) {
                    c.problem(key("ip_version"), "contradicts the address in url");
                }
            }
            ProbeKind::Http(HttpProbeConfig {
                method: method?,
                url: url?,
                valid_status_codes: codes,
                body_contains: p.body_contains,
                headers: headers?,
                insecure_skip_verify: p.insecure_skip_verify.unwrap_or(false),
                ip_version: ip?,
            })
        }
        "tcp" => {
            let target = required(c, key("target"), p.target, "\"host:port\"");
            let target = target.filter(|t| {
                let valid = t
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if !valid {
                    c.problem(key("target"), format!("{t:?}; expected \"host:port\""));
                }
                valid
            });
            if p.expect.as_deref() == Some("") {
                c.problem(key("expect"), "is empty; leave it out to accept any reply");
            }
            ProbeKind::Tcp(TcpProbeConfig {
                target: target?,
                send: p.send,
                expect: p.expect,
                ip_version: ip?,
            })
        }
        _ => {
            let source = source_name(c, key("source"), p.source, sources);
            let query = required(
                c,
                key("query"),
                p.query,
                "the SQL to run, e.g. \"SELECT 1\"",
            );
            ProbeKind::Sql(SqlProbeConfig {
                source: source?,
                query: query?,
            })
        }
    };
    Some(ProbeConfig {
        name: name?,
        group: group?,
        schedule: schedule?,
        timeout,
        kind,
    })
}

pub(crate) fn validate_software(
    c: &mut Checker<'_>,
    raw: Vec<RawSoftware>,
    sources: &HashSet<String>,
) -> Option<Vec<SoftwareConfig>> {
    let mut systems = HashSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, s)| {
            let prefix = format!("software[{i}]");
            let key = |k: &str| format!("{prefix}.{k}");
            let system = c.label_name(&key("system"), s.system, &mut systems, "software system");
            let schedule = c.schedule(&key("schedule"), s.schedule.as_deref(), SOFTWARE_SCHEDULE);
            let timeout = Duration::from_secs(c.positive(
                &key("timeout_secs"),
                s.timeout_secs,
                SOFTWARE_TIMEOUT_SECS,
                MAX_TIMEOUT_SECS,
            ));
            let kind_name = kind(c, &prefix, s.kind.as_deref(), &["sql", "http"])?;
            misplaced(
                c,
                &prefix,
                kind_name,
                &[
                    ("source", s.source.is_some(), &["sql"]),
                    ("query", s.query.is_some(), &["sql"]),
                    ("url", s.url.is_some(), &["http"]),
                    ("headers", s.headers.is_some(), &["http"]),
                ],
            );
            let read = if kind_name == "sql" {
                let source = source_name(c, key("source"), s.source, sources);
                let query = required(
                    c,
                    key("query"),
                    s.query,
                    "SQL returning rows (kind, count), e.g. \
                     \"SELECT level, COUNT(*) FROM error_log GROUP BY level\"",
                );
                SoftwareRead::Sql {
                    source: source?,
                    query: query?,
                }
            } else {
                let url = url(c, key("url"), s.url);
                let headers = headers(c, &prefix, s.headers);
                SoftwareRead::Http {
                    url: url?,
                    headers: headers?,
                }
            };
            Some(SoftwareConfig {
                system: system?,
                schedule: schedule?,
                timeout,
                read,
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}
