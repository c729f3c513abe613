//! The `[departments]`, `[recipients]`, `[[escalation.level]]`, `[[report]]` and `[mail]`
//! sections: who hears about what, when, and through which transport.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::Address;
use lettre::message::Mailbox;

use super::raw::{RawEscalation, RawLevel, RawMail, RawRecipients, RawReport};
use super::validate::Checker;
use super::*;
use crate::evaluate::{Period, PeriodStartDay};
use crate::sla::{Condition, LevelRule, SlaState};

/// Whom a level or a report notifies, besides explicit addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The head of the dossier's department (for a report: every department head).
    DepartmentHead,
    CentreDirector,
    ProvinceLeaders,
    ItTeam,
}

impl Role {
    const ALL: [Role; 4] = [
        Role::DepartmentHead,
        Role::CentreDirector,
        Role::ProvinceLeaders,
        Role::ItTeam,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::DepartmentHead => "department_head",
            Role::CentreDirector => "centre_director",
            Role::ProvinceLeaders => "province_leaders",
            Role::ItTeam => "it_team",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Recipients {
    pub department_heads: BTreeMap<String, Vec<Address>>,
    pub centre_director: Vec<Address>,
    pub province_leaders: Vec<Address>,
    pub it_team: Vec<Address>,
}

impl Recipients {
    /// The addresses of a role; for `DepartmentHead`, those of `department`, or of every
    /// department when `None`.
    pub fn of(&self, role: Role, department: Option<&str>) -> Vec<Address> {
        match role {
            Role::DepartmentHead => match department {
                Some(d) => self.department_heads.get(d).cloned().unwrap_or_default(),
                None => self.department_heads.values().flatten().cloned().collect(),
            },
            Role::CentreDirector => self.centre_director.clone(),
            Role::ProvinceLeaders => self.province_leaders.clone(),
            Role::ItTeam => self.it_team.clone(),
        }
    }

    fn has(&self, role: Role) -> bool {
        !self.of(role, None).is_empty()
    }
}

/// One escalation level: when it applies (the pure rule), whom it tells, when its digests go.
#[derive(Debug, Clone)]
pub struct LevelConfig {
    pub rule: LevelRule,
    pub notify: Vec<Role>,
    pub addresses: Vec<Address>,
    pub digest_schedule: CronSchedule,
    pub working_hours_only: bool,
}

#[derive(Debug, Clone)]
pub struct ReportConfig {
    pub name: String,
    pub period: Period,
    /// The report's own `period_start_day`, else `[reporting]`'s.
    pub period_start_day: PeriodStartDay,
    pub schedule: CronSchedule,
    pub notify: Vec<Role>,
    pub addresses: Vec<Address>,
    pub working_hours_only: bool,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS, required: the connection fails rather than falling back to plain text.
    StartTls,
    /// TLS from the first byte (SMTPS, port 465).
    Implicit,
    /// No TLS: loopback relays only.
    Plain,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<(String, Secret)>,
    pub pool_size: u32,
}

#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(SmtpConfig),
    /// Each email as an .eml file in the folder.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    pub transport: Transport,
    pub from: Mailbox,
    pub timeout: Duration,
    pub drain_schedule: CronSchedule,
    pub max_attempts: u32,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Templates here replace the embedded ones of the same name.
    pub templates_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    /// Department code → display name.
    pub departments: BTreeMap<String, String>,
    pub recipients: Recipients,
    pub levels: Vec<LevelConfig>,
    pub reports: Vec<ReportConfig>,
    pub mail: MailConfig,
}

impl NotifyConfig {
    /// The department's display name, or its code when none is configured.
    pub fn department_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.departments.get(code).map_or(code, String::as_str)
    }
}

pub(super) struct RawNotify {
    /// `[reporting] period_start_day`, the default of every `[[report]]`.
    pub period_start_day: PeriodStartDay,
    pub departments: BTreeMap<String, String>,
    pub recipients: RawRecipients,
    pub escalation: Option<RawEscalation>,
    pub reports: Vec<RawReport>,
    pub mail: RawMail,
}

pub(super) fn validate_notify(
    c: &mut Checker<'_>,
    raw: RawNotify,
    calendar: Option<&Calendar>,
) -> Option<NotifyConfig> {
    for code in raw.departments.keys() {
        department_code(c, &format!("departments.{code}"), code);
    }
    let recipients = recipients(c, raw.recipients);
    let levels = match raw.escalation {
        Some(e) => {
            let mut names = HashSet::new();
            // Every level is checked before any is given up on, so all problems are reported.
            let checked: Vec<Option<LevelConfig>> = e
                .level
                .into_iter()
                .enumerate()
                .map(|(i, l)| level(c, i, l, &mut names))
                .collect();
            checked.into_iter().collect::<Option<Vec<_>>>()
        }
        None => Some(default_levels(&recipients, calendar)),
    };
    let mut names = HashSet::new();
    let reports: Vec<Option<ReportConfig>> = raw
        .reports
        .into_iter()
        .enumerate()
        .map(|(i, r)| report(c, i, r, raw.period_start_day, &mut names))
        .collect();
    let mail = mail(c, raw.mail);
    Some(NotifyConfig {
        departments: raw.departments,
        recipients,
        levels: levels?,
        reports: reports.into_iter().collect::<Option<Vec<_>>>()?,
        mail: mail?,
    })
}

/// A department code becomes a metric label, so it is checked as a stage code is: a name
/// written out (with spaces) belongs in `[departments]` as the value.
fn department_code(c: &mut Checker<'_>, key: &str, code: &str) {
    if !crate::label::is_code(code) {
        c.problem(
            key,
            format!(
                "{code:?} is not a department code ({}); use the code the sources send, e.g. \
                 SO_XAY_DUNG = \"Sở Xây dựng\" in [departments]",
                crate::label::CODE_RULE
            ),
        );
    }
}

fn addresses(c: &mut Checker<'_>, key: &str, list: Vec<String>) -> Vec<Address> {
    list.into_iter()
        .filter_map(|a| {
            a.parse::<Address>()
                .map_err(|e| {
                    c.problem(
                        key,
                        format!("{a:?} is not an email address ({e}); expected e.g. \"ten@so-tp.gov.vn\""),
                    )
                })
                .ok()
        })
        .collect()
}

fn recipients(c: &mut Checker<'_>, raw: RawRecipients) -> Recipients {
    let key = |k: &str| format!("recipients.{k}");
    Recipients {
        department_heads: raw
            .department_heads
            .into_iter()
            .map(|(dept, list)| {
                department_code(c, &key(&format!("department_heads.{dept}")), &dept);
                let parsed = addresses(c, &key(&format!("department_heads.{dept}")), list);
                (dept, parsed)
            })
            .collect(),
        centre_director: addresses(c, &key("centre_director"), raw.centre_director),
        province_leaders: addresses(c, &key("province_leaders"), raw.province_leaders),
        it_team: addresses(c, &key("it_team"), raw.it_team),
    }
}

fn roles(c: &mut Checker<'_>, key: &str, list: Vec<String>) -> Vec<Role> {
    list.into_iter()
        .filter_map(|name| {
            let role = Role::ALL.into_iter().find(|r| r.as_str() == name);
            if role.is_none() {
                c.problem(
                    key,
                    format!(
                        "{name:?} is not a role; expected one of: {}",
                        Role::ALL.map(Role::as_str).join(", ")
                    ),
                );
            }
            role
        })
        .collect()
}

fn level(
    c: &mut Checker<'_>,
    i: usize,
    l: RawLevel,
    names: &mut HashSet<String>,
) -> Option<LevelConfig> {
    let key = |k: &str| format!("escalation.level[{i}].{k}");
    // Level and report names become metric labels and parts of outbox keys.
    let name = c.label_name(&key("name"), l.name, names, "escalation level");
    let mut any_of = Vec::new();
    if let Some(s) = l.sla_state {
        let allowed = [SlaState::AtRisk, SlaState::DueSoon, SlaState::Overdue];
        match allowed.into_iter().find(|a| a.as_str() == s) {
            Some(state) => any_of.push(Condition::State(state)),
            None => c.problem(
                key("sla_state"),
                format!("{s:?}: expected \"at_risk\", \"due_soon\" or \"overdue\""),
            ),
        }
    }
    if let Some(h) = l.working_hours_left_at_most {
        if h > MAX_WORKING_HOURS {
            c.problem(
                key("working_hours_left_at_most"),
                format!("{h} is out of range; allowed 0 to {MAX_WORKING_HOURS}"),
            );
        } else {
            any_of.push(Condition::WorkingHoursLeftAtMost(h));
        }
    }
    if let Some(f) = l.fraction_used_at_least {
        if f > 0.0 && f.is_finite() {
            any_of.push(Condition::FractionUsedAtLeast(f));
        } else {
            c.problem(
                key("fraction_used_at_least"),
                format!("{f} must be greater than 0 (1.0 = all the allowed time used)"),
            );
        }
    }
    match l.due_today {
        Some(true) => any_of.push(Condition::DueToday),
        Some(false) => c.problem(key("due_today"), "only `due_today = true` is meaningful"),
        None => {}
    }
    if any_of.is_empty() {
        c.problem(
            key("name"),
            "the level has no condition; expected at least one of sla_state, \
             working_hours_left_at_most, fraction_used_at_least, due_today (any of them applies)",
        );
    }
    let notify = roles(c, &key("notify"), l.notify);
    let addresses = addresses(c, &key("addresses"), l.addresses);
    if notify.is_empty() && addresses.is_empty() {
        c.problem(
            key("notify"),
            "the level tells nobody; expected notify roles or addresses",
        );
    }
    let digest_schedule = c.schedule(
        &key("digest_schedule"),
        l.digest_schedule.as_deref(),
        DIGEST_SCHEDULE,
    );
    let repeat = match l.repeat_every_working_hours {
        Some(0) => {
            c.problem(
                key("repeat_every_working_hours"),
                "must be greater than 0; leave it out for a level that is sent once",
            );
            None
        }
        Some(h) if h > MAX_WORKING_HOURS => {
            c.problem(
                key("repeat_every_working_hours"),
                format!("{h} is out of range; allowed 1 to {MAX_WORKING_HOURS}"),
            );
            None
        }
        other => other.map(|h| i64::from(h) * 3600),
    };
    Some(LevelConfig {
        rule: LevelRule {
            name: name?,
            any_of,
            repeat_every_working_secs: repeat,
        },
        notify,
        addresses,
        digest_schedule: digest_schedule?,
        working_hours_only: l.working_hours_only.unwrap_or(true),
    })
}

/// DESIGN §6: the department head at 75 % of the time or one working day left, the centre
/// director on the deadline day, the provincial leaders once overdue; each only when its role
/// has recipients, so that no decision is recorded for nobody.
fn default_levels(recipients: &Recipients, calendar: Option<&Calendar>) -> Vec<LevelConfig> {
    let day_hours = calendar.map_or(8, |cal| (cal.day_length_secs() / 3600) as u32);
    let schedule = CronSchedule::parse(DIGEST_SCHEDULE).expect("the default schedule is valid");
    [
        (
            Role::DepartmentHead,
            vec![
                Condition::FractionUsedAtLeast(ESCALATE_FRACTION_USED),
                Condition::WorkingHoursLeftAtMost(day_hours),
            ],
        ),
        (Role::CentreDirector, vec![Condition::DueToday]),
        (
            Role::ProvinceLeaders,
            vec![Condition::State(SlaState::Overdue)],
        ),
    ]
    .into_iter()
    .filter(|(role, _)| recipients.has(*role))
    .map(|(role, any_of)| LevelConfig {
        rule: LevelRule {
            name: role.as_str().to_string(),
            any_of,
            repeat_every_working_secs: None,
        },
        notify: vec![role],
        addresses: Vec::new(),
        digest_schedule: schedule.clone(),
        working_hours_only: true,
    })
    .collect()
}

fn report(
    c: &mut Checker<'_>,
    i: usize,
    r: RawReport,
    default_start_day: PeriodStartDay,
    names: &mut HashSet<String>,
) -> Option<ReportConfig> {
    let key = |k: &str| format!("report[{i}].{k}");
    let name = c.label_name(&key("name"), r.name, names, "report");
    let period = match r.period.as_deref() {
        None => {
            c.problem(
                key("period"),
                "missing; expected day, week, month, quarter or year",
            );
            None
        }
        Some(p) => p
            .parse::<Period>()
            .map_err(|e| c.problem(key("period"), e))
            .ok(),
    };
    let period_start_day = match r.period_start_day {
        None => Some(default_start_day),
        Some(_) if period.is_some_and(|p| !p.has_start_day()) => {
            c.problem(
                key("period_start_day"),
                "only meaningful with period = \"month\", \"quarter\" or \"year\"",
            );
            None
        }
        Some(day) => PeriodStartDay::new(day)
            .map_err(|e| c.problem(key("period_start_day"), e.to_string()))
            .ok(),
    };
    let schedule = match r.schedule.as_deref() {
        None => {
            c.problem(
                key("schedule"),
                "missing; expected a cron schedule, e.g. \"0 30 16 * * Mon-Fri\"",
            );
            None
        }
        Some(expr) => c.schedule(&key("schedule"), Some(expr), expr),
    };
    let notify = roles(c, &key("notify"), r.notify);
    let addresses = addresses(c, &key("recipients"), r.recipients);
    if notify.is_empty() && addresses.is_empty() {
        c.problem(
            key("recipients"),
            "the report goes to nobody; expected recipients or notify roles",
        );
    }
    Some(ReportConfig {
        name: name?,
        period: period?,
        period_start_day: period_start_day?,
        schedule: schedule?,
        notify,
        addresses,
        working_hours_only: r.working_hours_only.unwrap_or(false),
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn mail(c: &mut Checker<'_>, m: RawMail) -> Option<MailConfig> {
    let from = match m.from.as_deref() {
        None if m.transport.as_deref() == Some("smtp") => {
            c.problem(
                "mail.from",
                "missing; expected the sender, e.g. \"TTHCC tỉnh <tthcc@example.gov.vn>\"",
            );
            None
        }
        from => from
            .unwrap_or(MAIL_FROM)
            .parse::<Mailbox>()
            .map_err(|e| {
                c.problem(
                    "mail.from",
                    format!("not a mailbox ({e}); expected \"Name <address>\" or an address"),
                )
            })
            .ok(),
    };
    let smtp_keys = [
        ("host", m.host.is_some()),
        ("port", m.port.is_some()),
        ("tls", m.tls.is_some()),
        ("username", m.username.is_some()),
        (
            "password",
            m.password.is_some() || m.password_file.is_some(),
        ),
        ("pool_size", m.pool_size.is_some()),
    ];
    let transport = match m.transport.as_deref().unwrap_or("file") {
        "file" => {
            for (k, _) in smtp_keys.iter().filter(|(_, set)| *set) {
                c.problem(
                    format!("mail.{k}"),
                    "only meaningful with transport = \"smtp\"",
                );
            }
            Some(Transport::File(c.state_path(
                m.folder.as_deref().unwrap_or(Path::new(MAIL_FOLDER)),
            )))
        }
        "smtp" => smtp(c, &m),
        other => {
            c.problem(
                "mail.transport",
                format!("{other:?}: expected \"smtp\" or \"file\""),
            );
            None
        }
    };
    if matches!(transport, Some(Transport::Smtp(_))) && m.folder.is_some() {
        c.problem("mail.folder", "only meaningful with transport = \"file\"");
    }
    let timeout = c.positive(
        "mail.timeout_secs",
        m.timeout_secs,
        MAIL_TIMEOUT_SECS,
        MAX_TIMEOUT_SECS,
    );
    let drain_schedule = c.schedule(
        "mail.drain_schedule",
        m.drain_schedule.as_deref(),
        MAIL_DRAIN_SCHEDULE,
    );
    let max_attempts = c.positive(
        "mail.max_attempts",
        m.max_attempts,
        MAIL_MAX_ATTEMPTS,
        MAX_MAIL_ATTEMPTS,
    );
    let retry_initial = c.positive(
        "mail.retry_initial_secs",
        m.retry_initial_secs,
        MAIL_RETRY_INITIAL_SECS,
        MAX_TIMEOUT_SECS,
    );
    let retry_max = c.positive(
        "mail.retry_max_secs",
        m.retry_max_secs,
        MAIL_RETRY_MAX_SECS,
        MAX_TIMEOUT_SECS,
    );
    // Named on the key the operator wrote: a retry_initial_secs above the default maximum is
    // the mistake when retry_max_secs was left out.
    match m.retry_max_secs {
        _ if retry_max >= retry_initial => {}
        Some(_) => c.problem(
            "mail.retry_max_secs",
            format!("{retry_max} is less than retry_initial_secs ({retry_initial})"),
        ),
        None => c.problem(
            "mail.retry_initial_secs",
            format!(
                "{retry_initial} is more than retry_max_secs ({retry_max}, the default); \
                 allowed up to retry_max_secs"
            ),
        ),
    }
    let templates_dir = m.templates_dir.as_deref().map(|d| c.path(d));
    if let Some(dir) = &templates_dir
        && !dir.is_dir()
    {
        c.problem(
            "mail.templates_dir",
            format!("{} is not a folder", dir.display()),
        );
    }
    Some(MailConfig {
        transport: transport?,
        from: from?,
        timeout: Duration::from_secs(timeout),
        drain_schedule: drain_schedule?,
        max_attempts,
        retry_initial: Duration::from_secs(retry_initial),
        retry_max: Duration::from_secs(retry_max),
        templates_dir,
    })
}

fn smtp(c: &mut Checker<'_>, m: &RawMail) -> Option<Transport> {
    let host = m.host.clone().filter(|h| !h.is_empty());
    if host.is_none() {
        c.problem("mail.host", "missing; expected the SMTP server's host name");
    }
    let tls = match m.tls.as_deref().unwrap_or("starttls") {
        "starttls" => Some(SmtpTls::StartTls),
        "implicit" => Some(SmtpTls::Implicit),
        "plain" => Some(SmtpTls::Plain),
        other => {
            c.problem(
                "mail.tls",
                format!("{other:?}: expected \"starttls\", \"implicit\" or \"plain\""),
            );
            None
        }
    };
    if let (Some(SmtpTls::Plain), Some(h)) = (tls, &host)
        && !is_loopback(h)
    {
        c.problem(
            "mail.tls",
            format!(
                "\"plain\" sends mail and passwords unencrypted: allowed only for a relay on \
                 this machine (localhost, 127.0.0.1, ::1), not {h:?}; use \"starttls\" or \
                 \"implicit\""
            ),
        );
    }
    let password = c.secret(
        "mail.password",
        m.password.as_deref(),
        m.password_file.as_deref(),
        false,
    );
    let credentials = match (&m.username, password) {
        (Some(user), Some(Some(pw))) => Some(Some((user.clone(), pw))),
        (None, Some(None)) => Some(None),
        (Some(_), Some(None)) => {
            c.problem(
                "mail.password",
                "missing; username is set, expected password = \"${ENV}\" or password_file",
            );
            None
        }
        (None, Some(Some(_))) => {
            c.problem(
                "mail.username",
                "missing; password is set without a username",
            );
            None
        }
        (_, None) => None,
    };
    let default_port = match tls {
        Some(SmtpTls::Implicit) => 465,
        Some(SmtpTls::Plain) => 25,
        _ => 587,
    };
    // Port 0 would be accepted by the type and fail only when the first email is sent.
    let port = c.positive("mail.port", m.port, default_port, u16::MAX);
    let pool_size = c.positive(
        "mail.pool_size",
        m.pool_size,
        SMTP_POOL_SIZE,
        MAX_CONNECTIONS,
    );
    Some(Transport::Smtp(SmtpConfig {
        host: host?,
        port,
        tls: tls?,
        credentials: credentials?,
        pool_size,
    }))
}
