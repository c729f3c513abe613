//! The official report table (form Biểu 06/VPCP/KSTT shape): per department and in total,
//! dossiers received (carried over, online, in person or postal, channel unknown), transferred, resolved (early,
//! on time, late), in progress at the period's end (within deadline, overdue), paused, the
//! on-time rate, and Decision 766's progress score (`sla::ProgressTally`).

mod render;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;

pub use render::{Format, JsonReport, JsonRow, grid, progress_points, render};

use crate::dossier::{Channel, Status};
use crate::evaluate::{Evaluator, Period, PeriodStartDay, row_at, supplement_requests};
use crate::sla::{Outcome, ProgressTally, SlaState};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReportRow {
    pub department: String,
    /// Received in the period.
    pub received: u64,
    /// Received before the period and not resolved by its start.
    pub carried_over: u64,
    pub online: u64,
    pub direct_or_postal: u64,
    /// Received without a channel the source gave: neither online nor in person or postal.
    pub unknown_channel: u64,
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
    /// Decision 766's progress group: resolved in the period and open at its end.
    pub progress: ProgressTally,
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
        self.unknown_channel += o.unknown_channel;
        self.transferred += o.transferred;
        self.resolved += o.resolved;
        self.early += o.early;
        self.on_time += o.on_time;
        self.late += o.late;
        self.in_progress += o.in_progress;
        self.within_deadline += o.within_deadline;
        self.overdue += o.overdue;
        self.paused += o.paused;
        self.progress.add(&o.progress);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub period: Period,
    pub period_start_day: PeriodStartDay,
    /// The centre's zone, in which the report's dates are written.
    #[serde(skip)]
    pub time_zone: chrono_tz::Tz,
    /// The period's first instant.
    pub from: DateTime<Utc>,
    /// The period's last instant (a second before the next period starts), as the header
    /// writes it: "đến 23:59 14/01/2027".
    pub to: DateTime<Utc>,
    /// The figures count what happened up to this instant, within the period; dossiers still
    /// open are judged at it.
    pub as_of: DateTime<Utc>,
    pub rows: Vec<ReportRow>,
    pub total: ReportRow,
    /// Provisional calendar years the figures may rest on: the period's, and those of the two
    /// months after it, which deadlines of dossiers open at its end reach into.
    pub provisional_years: Vec<i32>,
    /// Department code → display name (`[departments]`), for the text table and the CSV; a
    /// code without one is written as it is.
    #[serde(skip)]
    pub department_names: BTreeMap<String, String>,
}

impl Report {
    /// The department's display name, or its code when none is configured.
    pub fn department_name<'a>(&'a self, code: &'a str) -> &'a str {
        self.department_names.get(code).map_or(code, String::as_str)
    }

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

/// The report of the period that contains `as_of` (cut off at `start_day` for monthly and
/// longer periods), from its start up to `as_of`.
pub async fn build(
    store: &Store,
    evaluator: &Evaluator,
    period: Period,
    start_day: PeriodStartDay,
    as_of: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let tz = evaluator.calendar().time_zone();
    let bounds = period.bounds(as_of, tz, start_day);
    let (from, to) = (bounds.start, as_of);
    let rows = store.report_rows(from, to).await?;
    let changes = store.pause_changes().await?;
    let later = store.changes_after(to).await?;
    let (from_s, to_s) = (from.timestamp(), to.timestamp());
    let mut by_department: BTreeMap<String, ReportRow> = BTreeMap::new();
    // Each dossier as it was at the report's end.
    for row in rows.into_iter().map(|r| row_at(r, &later, to_s)) {
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
                Some(Channel::Direct | Channel::Postal) => r.direct_or_postal += 1,
                Some(Channel::Unknown) | None => r.unknown_channel += 1,
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
        let supplements = supplement_requests(changes.get(&key), to_s);
        match resolved_by_end {
            Some(resolved) if resolved >= from_s => {
                r.resolved += 1;
                let outcome = match row.outcome.as_deref().and_then(Outcome::parse) {
                    Some(o) => Some(o),
                    None => evaluator.score(&row, changes.get(&key)).map(|s| s.outcome),
                };
                if let Some(o) = outcome {
                    r.progress.resolved(o, supplements);
                }
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
                r.progress.open(&view.evaluation, to, supplements);
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
    let reach = bounds.end + chrono::Duration::days(62);
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
        period_start_day: start_day,
        time_zone: tz,
        provisional_years,
        from,
        to: bounds.end - chrono::Duration::seconds(1),
        as_of,
        rows,
        total,
        department_names: BTreeMap::new(),
    })
}
