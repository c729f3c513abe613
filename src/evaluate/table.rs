//! Open dossiers as an aligned text table for the terminal.

use super::OpenView;
use crate::calendar::Calendar;
use crate::sla::{SlaState, english_count, format_time_left};

pub fn table(views: &[OpenView], calendar: &Calendar) -> String {
    let tz = calendar.time_zone();
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string()
    };
    let header = [
        "source",
        "dossier",
        "procedure",
        "department",
        "received",
        "due",
        "working time left",
        "state",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = std::iter::once(header)
        .chain(views.iter().map(|v| {
            vec![
                v.source.clone(),
                v.dossier_id.clone(),
                v.procedure_code.clone(),
                v.department.clone(),
                local(v.received_at),
                v.due_at.map_or("-".into(), local),
                v.left_working_secs.map_or("-".into(), |s| {
                    format_time_left(
                        s,
                        v.evaluation.state == SlaState::Overdue,
                        calendar.day_length_secs(),
                    )
                }),
                v.sla_state.to_string(),
            ]
        }))
        .collect();
    let mut out = crate::table::align(&rows, usize::MAX);
    out.push_str(&english_count(views.len(), "open dossier"));
    out.push('\n');
    out
}
