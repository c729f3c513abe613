//! The official report table (form Biểu 06/VPCP/KSTT shape): per department and in total,
//! dossiers received (carried over, online, in person or postal), transferred, resolved (early,
//! on time, late), in progress at the period's end (within deadline, overdue), paused, and the
//! on-time rate.

mod render;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

pub use render::{Format, grid, render};

use crate::dossier::{Channel, Status};
use crate::evaluate::{Evaluator, Period};
use crate::sla::{Outcome, SlaState};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReportRow {
    pub department: String,
    /// Received in the period.
    pub received: u64,
    /// Received before the period and not resolved by its start.
    pub carried_over: u64,
    pub online: u64,
    pub direct_or_postal: u64,
    /// Of received and carried over, those that reached the deciding department.
    pub transferred: u64,
    pub resolved: u64,
    pub early: u64,
    pub on_time: u64,
    pub late: u64,
    /// Open with a running clock at the period's end.
    pub in_progress: u64,
    pub within_deadline: u64,
    pub overdue: u64,
    pub paused: u64,
}

impl ReportRow {
    /// (early + on time) / resolved; `None` when nothing was resolved.
    pub fn on_time_rate(&self) -> Option<f64> {
        (self.resolved > 0).then(|| (self.early + self.on_time) as f64 / self.resolved as f64)
    }

    fn add(&mut self, o: &ReportRow) {
        self.received += o.received;
        self.carried_over += o.carried_over;
        self.online += o.online;
        self.direct_or_postal += o.direct_or_postal;
        self.transferred += o.transferred;
        self.resolved += o.resolved;
        self.early += o.early;
        self.on_time += o.on_time;
        self.late += o.late;
        self.in_progress += o.in_progress;
        self.within_deadline += o.within_deadline;
        self.overdue += o.overdue;
        self.paused += o.paused;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub period: Period,
    /// The centre's zone, in which the report's dates are written.
    #[serde(skip)]
    pub time_zone: chrono_tz::Tz,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub rows: Vec<ReportRow>,
    pub total: ReportRow,
    /// Provisional calendar years the figures may rest on: the period's, and those of the two
    /// months after it, which deadlines of dossiers open at its end reach into.
    pub provisional_years: Vec<i32>,
}

impl Report {
    /// The footer that tells readers which deadlines rest on an assumed holiday schedule.
    pub fn calendar_note(&self) -> Option<String> {
        let years: Vec<String> = self.provisional_years.iter().map(i32::to_string).collect();
        (!years.is_empty()).then(|| {
            format!(
                "Lưu ý: lịch nghỉ năm {} là lịch tạm tính theo các ngày nghỉ cố định của Bộ luật Lao \
                 động, chưa phải lịch chính thức; hạn giải quyết rơi vào năm này có thể thay đổi khi \
                 lịch chính thức được công bố và nạp vào hệ thống.",
                years.join(", ")
            )
        })
    }
}

/// Statuses that never reach a department: not received yet, or ended at intake.
fn ends_before_transfer(s: Status) -> bool {
    matches!(
        s,
        Status::Submitted | Status::RejectedAtIntake | Status::Withdrawn
    )
}

/// The report of the period that contains `to`, from its start up to `to`.
pub async fn build(
    store: &Store,
    evaluator: &Evaluator,
    period: Period,
    to: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let tz = evaluator.calendar().time_zone();
    let from = period.start(to, tz);
    let rows = store.report_rows(from, to).await?;
    let changes = store.pause_changes().await?;
    let (from_s, to_s) = (from.timestamp(), to.timestamp());
    let mut by_department: BTreeMap<String, ReportRow> = BTreeMap::new();
    for row in rows {
        let Some(status) = Status::parse(&row.status) else {
            continue;
        };
        let r = by_department
            .entry(row.department.clone())
            .or_insert_with(|| ReportRow {
                department: row.department.clone(),
                ..ReportRow::default()
            });
        let received_in_period = row.received_at >= from_s;
        let resolved_by_end = row.resolved_at.filter(|t| *t <= to_s);
        if received_in_period {
            r.received += 1;
            match Channel::parse(&row.channel) {
                Some(Channel::Online) => r.online += 1,
                _ => r.direct_or_postal += 1,
            }
        } else if !ends_before_transfer(status) {
            r.carried_over += 1;
        }
        if ends_before_transfer(status) {
            continue;
        }
        if status != Status::Received || resolved_by_end.is_some() {
            r.transferred += 1;
        }
        let key = (row.source.clone(), row.dossier_id.clone());
        match resolved_by_end {
            Some(resolved) if resolved >= from_s => {
                r.resolved += 1;
                let outcome = match row.outcome.as_deref() {
                    Some("early") => Some(Outcome::Early),
                    Some("on_time") => Some(Outcome::OnTime),
                    Some("late") => Some(Outcome::Late),
                    _ => evaluator.score(&row, changes.get(&key)).map(|s| s.outcome),
                };
                match outcome {
                    Some(Outcome::Early) => r.early += 1,
                    Some(Outcome::OnTime) => r.on_time += 1,
                    Some(Outcome::Late) => r.late += 1,
                    None => {}
                }
            }
            Some(_) => {}
            None => {
                let view = evaluator.open_view(row, changes.get(&key), to);
                match view.evaluation.state {
                    SlaState::Paused => r.paused += 1,
                    SlaState::Overdue => {
                        r.in_progress += 1;
                        r.overdue += 1;
                    }
                    _ => {
                        r.in_progress += 1;
                        r.within_deadline += 1;
                    }
                }
            }
        }
    }
    let rows: Vec<ReportRow> = by_department.into_values().collect();
    let mut total = ReportRow {
        department: "TONG_CONG".to_string(),
        ..ReportRow::default()
    };
    for r in &rows {
        total.add(r);
    }
    let reach = to + chrono::Duration::days(62);
    let years = from.with_timezone(&tz).year()..=reach.with_timezone(&tz).year();
    let provisional_years = evaluator
        .calendar()
        .provisional_years()
        .iter()
        .copied()
        .filter(|y| years.contains(y))
        .collect();
    Ok(Report {
        period,
        time_zone: tz,
        provisional_years,
        from,
        to,
        rows,
        total,
    })
}
