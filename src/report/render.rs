//! The report as an aligned text table, JSON or CSV. Headers are the Vietnamese words of the
//! report form; JSON keys stay English for machines.

use serde::Serialize;

use super::{Report, ReportRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

const HEADERS: [&str; 16] = [
    "Đơn vị",
    "Tiếp nhận",
    "Kỳ trước chuyển sang",
    "Trực tuyến",
    "Trực tiếp, bưu chính",
    "Đã chuyển xử lý",
    "Đã giải quyết",
    "Trước hạn",
    "Đúng hạn",
    "Quá hạn",
    "Đang giải quyết",
    "Trong hạn",
    "Quá hạn (đang giải quyết)",
    "Tạm dừng",
    "Điểm tiến độ (766)",
    "Tỷ lệ đúng hạn",
];

pub const TOTAL_LABEL: &str = "Tổng cộng";

fn rate(r: &ReportRow) -> String {
    r.on_time_rate()
        .map_or("-".to_string(), |x| format!("{:.1}%", x * 100.0))
}

/// Decision 766's progress points out of 20, or "-" when nothing was handled.
pub fn progress_points(r: &ReportRow) -> String {
    r.progress
        .score()
        .map_or("-".to_string(), |x| format!("{x:.2}"))
}

fn cells(r: &ReportRow, name: &str) -> Vec<String> {
    let mut v = vec![name.to_string()];
    v.extend(
        [
            r.received,
            r.carried_over,
            r.online,
            r.direct_or_postal,
            r.transferred,
            r.resolved,
            r.early,
            r.on_time,
            r.late,
            r.in_progress,
            r.within_deadline,
            r.overdue,
            r.paused,
        ]
        .map(|n| n.to_string()),
    );
    v.push(progress_points(r));
    v.push(rate(r));
    v
}

/// The header, a line per department (named by `name`) and the total line, whose last cell is
/// the on-time rate.
pub fn grid(report: &Report, name: impl Fn(&str) -> String) -> Vec<Vec<String>> {
    std::iter::once(HEADERS.map(String::from).to_vec())
        .chain(report.rows.iter().map(|r| cells(r, &name(&r.department))))
        .chain(std::iter::once(cells(&report.total, TOTAL_LABEL)))
        .collect()
}

#[derive(Serialize)]
struct JsonRow<'a> {
    #[serde(flatten)]
    row: &'a ReportRow,
    on_time_rate: Option<f64>,
    progress_score: Option<f64>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    period: &'a str,
    period_start_day: u32,
    from: String,
    to: String,
    as_of: String,
    rows: Vec<JsonRow<'a>>,
    total: JsonRow<'a>,
}

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => {
            let row = |r| JsonRow {
                row: r,
                on_time_rate: r.on_time_rate(),
                progress_score: r.progress.score(),
            };
            let json = JsonReport {
                period: report.period.as_str(),
                period_start_day: report.period_start_day.get(),
                from: report.from.to_rfc3339(),
                to: report.to.to_rfc3339(),
                as_of: report.as_of.to_rfc3339(),
                rows: report.rows.iter().map(row).collect(),
                total: row(&report.total),
            };
            serde_json::to_string_pretty(&json).expect("a report serializes") + "\n"
        }
        Format::Csv => {
            let mut out = String::new();
            for line in grid(report, str::to_string) {
                let quoted: Vec<String> = line
                    .iter()
                    .map(|c| {
                        if c.contains([',', '"', '\n']) {
                            format!("\"{}\"", c.replace('"', "\"\""))
                        } else {
                            c.clone()
                        }
                    })
                    .collect();
                out.push_str(&quoted.join(","));
                out.push_str("\r\n");
            }
            out
        }
        Format::Table => {
            let all = grid(report, str::to_string);
            let local = |t: chrono::DateTime<chrono::Utc>| {
                t.with_timezone(&report.time_zone)
                    .format("%H:%M %d/%m/%Y")
                    .to_string()
            };
            let mut out = format!(
                "Báo cáo tình hình giải quyết hồ sơ theo {} (kỳ báo cáo từ {} đến {}; số liệu \
                 đến {})\n",
                report.period.label_vi(),
                local(report.from),
                local(report.to),
                local(report.as_of)
            );
            out.push_str(&crate::table::align(&all, 1));
            out
        }
    }
}
