//! What the templates see: dossiers and counts in the words and formats leaders read (local
//! times, departments by name, working time left in Vietnamese). Every value is plain data;
//! escaping is the HTML template's job.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::calendar::Calendar;
use crate::config::NotifyConfig;
use crate::evaluate::OpenView;
use crate::report::{self, Report};
use crate::sla::{Condition, LevelRule, SlaState, format_count, format_percent, format_time_left};

pub fn local_time(cal: &Calendar, t: DateTime<Utc>) -> String {
    t.with_timezone(&cal.time_zone())
        .format("%H:%M %d/%m/%Y")
        .to_string()
}

fn state_vi(state: SlaState) -> &'static str {
    match state {
        SlaState::OnTrack => "Trong hạn",
        SlaState::AtRisk => "Có nguy cơ trễ hạn",
        SlaState::DueSoon => "Sắp đến hạn",
        SlaState::Overdue => "Quá hạn",
        SlaState::Paused => "Tạm dừng",
    }
}

/// The level's conditions as a leader would say them.
fn level_title(rule: &LevelRule) -> String {
    rule.any_of
        .iter()
        .map(|c| match *c {
            Condition::State(s) => state_vi(s).to_lowercase(),
            Condition::WorkingHoursLeftAtMost(h) => {
                format!("còn không quá {} giờ làm việc", format_count(h.into()))
            }
            Condition::FractionUsedAtLeast(f) => {
                format!("đã dùng từ {} thời gian giải quyết", format_percent(f, 0))
            }
            Condition::DueToday => "đến hạn trả trong ngày".to_string(),
        })
        .collect::<Vec<_>>()
        .join(" hoặc ")
}

#[derive(Debug, Serialize)]
struct DossierLine {
    dossier_id: String,
    procedure: String,
    department: String,
    received: String,
    due: String,
    left: String,
    state: &'static str,
    /// The state and the time left in one phrase: "Có nguy cơ trễ hạn, còn 1 ngày làm việc",
    /// or for an overdue dossier the time past its deadline alone, "quá hạn 2 giờ làm việc".
    status: String,
    overdue: bool,
}

#[derive(Debug, Default, Serialize)]
struct DepartmentCounts {
    department: String,
    open: u64,
    due_soon: u64,
    overdue: u64,
    paused: u64,
}

#[derive(Debug, Serialize)]
pub struct Digest {
    level: String,
    level_title: String,
    all_overdue: bool,
    /// The department's name when all dossiers are of one, else how many departments.
    scope: String,
    dossiers: Vec<DossierLine>,
    counts: Vec<DepartmentCounts>,
    generated_at: String,
}

/// A digest of `dossiers` (already least time left first); the counts are those of their
/// departments among `all` open dossiers.
pub fn digest(
    cfg: &NotifyConfig,
    cal: &Calendar,
    rule: &LevelRule,
    dossiers: &[&OpenView],
    all: &[OpenView],
    now: DateTime<Utc>,
) -> Digest {
    let name = |code: &str| cfg.department_name(code).to_string();
    let mut counts: BTreeMap<&str, DepartmentCounts> = dossiers
        .iter()
        .map(|v| {
            let c = DepartmentCounts {
                department: name(&v.department),
                ..DepartmentCounts::default()
            };
            (v.department.as_str(), c)
        })
        .collect();
    for v in all {
        if let Some(c) = counts.get_mut(v.department.as_str()) {
            match v.evaluation.state {
                SlaState::Paused => c.paused += 1,
                state => {
                    c.open += 1;
                    c.due_soon += u64::from(state == SlaState::DueSoon);
                    c.overdue += u64::from(state == SlaState::Overdue);
                }
            }
        }
    }
    let day = cal.day_length_secs();
    let scope = match counts.len() {
        1 => counts
            .values()
            .next()
            .map(|c| c.department.clone())
            .unwrap_or_default(),
        n => format!("{} đơn vị", format_count(n as u64)),
    };
    Digest {
        level: rule.name.clone(),
        level_title: level_title(rule),
        all_overdue: dossiers
            .iter()
            .all(|v| v.evaluation.state == SlaState::Overdue),
        scope,
        dossiers: dossiers
            .iter()
            .map(|v| (v, v.evaluation.state == SlaState::Overdue))
            .map(|(v, overdue)| {
                let left = v
                    .left_working_secs
                    .map_or("-".to_string(), |s| format_time_left(s, overdue, day));
                let state = state_vi(v.evaluation.state);
                DossierLine {
                    dossier_id: v.dossier_id.clone(),
                    procedure: match &v.procedure_name {
                        Some(n) => format!("{n} ({})", v.procedure_code),
                        None => v.procedure_code.clone(),
                    },
                    department: name(&v.department),
                    received: local_time(cal, v.received_at),
                    due: v.due_at.map_or("-".to_string(), |d| local_time(cal, d)),
                    status: match (overdue, v.left_working_secs) {
                        (true, Some(_)) => left.clone(),
                        _ => format!("{state}, {left}"),
                    },
                    left,
                    state,
                    overdue,
                }
            })
            .collect(),
        counts: counts.into_values().collect(),
        generated_at: local_time(cal, now),
    }
}

#[derive(Debug, Serialize)]
pub struct ReportMail {
    period: &'static str,
    from: String,
    to: String,
    as_of: String,
    to_date: String,
    on_time_rate: String,
    /// Decision 766's progress points out of 20 for the whole centre; none without dossiers.
    progress_score: Option<String>,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    /// The aligned text table, for the plain-text part.
    table: String,
    attachment: String,
    /// Empty unless the figures rest on a provisional calendar year.
    calendar_note: String,
}

pub fn report(cfg: &NotifyConfig, cal: &Calendar, r: &Report, attachment: &str) -> ReportMail {
    let mut grid = report::grid(r, |code| cfg.department_name(code).to_string());
    let table = crate::table::align(&grid, 1);
    let headers = grid.remove(0);
    let on_time_rate = grid
        .last()
        .and_then(|total| total.last())
        .cloned()
        .unwrap_or_default();
    ReportMail {
        period: r.period.label_vi(),
        from: local_time(cal, r.from),
        to: local_time(cal, r.to),
        as_of: local_time(cal, r.as_of),
        to_date: r
            .to
            .with_timezone(&cal.time_zone())
            .format("%d/%m/%Y")
            .to_string(),
        on_time_rate,
        progress_score: r
            .total
            .progress
            .score()
            .map(|_| report::progress_points(&r.total)),
        headers,
        rows: grid,
        table,
        attachment: attachment.to_string(),
        calendar_note: r.calendar_note().unwrap_or_default(),
    }
}
