//! The report as an aligned text table, JSON or CSV. Headers are the Vietnamese words of the
//! report form; JSON keys stay English for machines and its numbers stay numbers.

use serde::Serialize;

use super::{Report, ReportRow};
use crate::sla::{format_count, format_decimal, format_percent};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

const HEADERS: [&str; 17] = [
    "Đơn vị",
    "Tiếp nhận",
    "Kỳ trước chuyển sang",
    "Trực tuyến",
    "Trực tiếp, bưu chính",
    // The source gave no channel: counted apart, never as in person.
    "Không rõ hình thức nộp",
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

/// What the rate cell says when nothing was resolved.
const NO_RATE: &str = "-";

fn rate(r: &ReportRow) -> String {
    r.on_time_rate()
        .map_or(NO_RATE.to_string(), |x| format_percent(x, 1))
}

/// Decision 766's progress points out of 20 as Vietnamese text writes them ("15,00"), or "-"
/// when nothing was handled.
pub fn progress_points(r: &ReportRow) -> String {
    r.progress
        .score()
        .map_or("-".to_string(), |x| format_decimal(x, 2))
}

/// A row's cells, its counts written by `count`.
fn cells(r: &ReportRow, name: &str, count: fn(u64) -> String) -> Vec<String> {
    let mut v = vec![name.to_string()];
    v.extend(
        [
            r.received,
            r.carried_over,
            r.online,
            r.direct_or_postal,
            r.unknown_channel,
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
        .map(count),
    );
    v.push(progress_points(r));
    v.push(rate(r));
    v
}

/// The header, a line per department (named by `name`) and the total line, whose last cell is
/// the on-time rate; counts as Vietnamese text writes them ("1.234").
pub fn grid(report: &Report, name: impl Fn(&str) -> String) -> Vec<Vec<String>> {
    grid_with(report, name, format_count)
}

fn grid_with(
    report: &Report,
    name: impl Fn(&str) -> String,
    count: fn(u64) -> String,
) -> Vec<Vec<String>> {
    std::iter::once(HEADERS.map(String::from).to_vec())
        .chain(
            report
                .rows
                .iter()
                .map(|r| cells(r, &name(&r.department), count)),
        )
        .chain(std::iter::once(cells(&report.total, TOTAL_LABEL, count)))
        .collect()
}

/// Cells starting with these are formulas to a spreadsheet (OWASP, CSV injection): a department
/// name from a source could otherwise run `=HYPERLINK(...)` on a leader's machine.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell as a spreadsheet shows it but cannot evaluate: a leading single quote on anything
/// that would start a formula. The bare "no rate" dash stays as it is: alone it is no formula,
/// and a quote before it would show in viewers that do not hide it.
fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell != NO_RATE && cell.starts_with(FORMULA_STARTS) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The CSV's first column: the department's code, for spreadsheets that join on it.
const CODE_HEADER: &str = "Mã đơn vị";

/// The text table's department cell: the name, with the code the CLI's filters take.
fn name_and_code(report: &Report, code: &str) -> String {
    match report.department_name(code) {
        name if name == code => code.to_string(),
        name => format!("{name} ({code})"),
    }
}

/// UTF-8 with a byte-order mark, which Excel needs to read Vietnamese as UTF-8 rather than in
/// the machine's code page; CRLF line ends (RFC 4180). Counts are bare digits, so that a
/// spreadsheet in any locale reads them as numbers rather than "1.234" as one point two; the
/// rate is written as in the text ("98,5 %"). The department is named as in the email, its code
/// in a column before.
fn csv(report: &Report) -> String {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        let grid = grid_with(
            report,
            |code| report.department_name(code).to_string(),
            |n| n.to_string(),
        );
        let codes = std::iter::once(CODE_HEADER)
            .chain(report.rows.iter().map(|r| r.department.as_str()))
            .chain(std::iter::once(""));
        for (code, line) in codes.zip(grid) {
            w.write_record(
                std::iter::once(code)
                    .chain(line.iter().map(String::as_str))
                    .map(|c| guard(c).into_owned()),
            )
            .expect("writing CSV to memory cannot fail");
        }
        w.flush().expect("writing CSV to memory cannot fail");
    }
    String::from_utf8(out).expect("CSV of UTF-8 cells is UTF-8")
}

/// A row of the JSON report (and of `/api/v1/summary`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct JsonRow<'a> {
    #[serde(flatten)]
    row: &'a ReportRow,
    on_time_rate: Option<f64>,
    progress_score: Option<f64>,
}

/// The JSON report, as `report --format json` prints it and `/api/v1/summary` answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct JsonReport<'a> {
    period: &'a str,
    period_start_day: u32,
    #[schema(format = DateTime)]
    from: String,
    #[schema(format = DateTime)]
    to: String,
    #[schema(format = DateTime)]
    as_of: String,
    rows: Vec<JsonRow<'a>>,
    total: JsonRow<'a>,
    provisional_calendar_years: &'a [i32],
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
                provisional_calendar_years: &report.provisional_years,
            };
            serde_json::to_string_pretty(&json).expect("a report serializes") + "\n"
        }
        Format::Csv => csv(report),
        Format::Table => {
            let all = grid(report, |code| name_and_code(report, code));
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
            if let Some(note) = report.calendar_note() {
                out.push('\n');
                out.push_str(&note);
                out.push('\n');
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::evaluate::Period;

    fn department(code: &str, received: u64, early: u64, on_time: u64, late: u64) -> ReportRow {
        ReportRow {
            department: code.to_string(),
            received,
            resolved: early + on_time + late,
            early,
            on_time,
            late,
            ..ReportRow::default()
        }
    }

    fn report(rows: Vec<ReportRow>) -> Report {
        let mut total = ReportRow {
            department: "TONG_CONG".to_string(),
            ..ReportRow::default()
        };
        for r in &rows {
            total.add(r);
        }
        Report {
            period: Period::Month,
            time_zone: chrono_tz::Asia::Ho_Chi_Minh,
            from: chrono::Utc.with_ymd_and_hms(2026, 2, 28, 17, 0, 0).unwrap(),
            to: chrono::Utc
                .with_ymd_and_hms(2026, 3, 31, 16, 59, 59)
                .unwrap(),
            as_of: chrono::Utc.with_ymd_and_hms(2026, 3, 4, 3, 0, 0).unwrap(),
            period_start_day: Default::default(),
            rows,
            total,
            provisional_years: Vec::new(),
            department_names: [("SO_XAY_DUNG", "Sở Xây dựng")]
                .map(|(c, n)| (c.to_string(), n.to_string()))
                .into(),
        }
    }

    /// The CSV's records as a spreadsheet would split them, the BOM taken off.
    fn records(csv: &str) -> Vec<Vec<String>> {
        let body = csv
            .strip_prefix('\u{feff}')
            .expect("a byte-order mark first");
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(body.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    }

    #[test]
    fn text_cells_write_numbers_the_vietnamese_way_and_json_keeps_them_numeric() {
        let r = report(vec![
            department("SO_XAY_DUNG", 12_345, 1_000, 970, 30),
            department("SO_TU_PHAP", 3, 0, 0, 0),
        ]);
        let grid = grid(&r, str::to_string);
        assert_eq!(grid[1][0], "SO_XAY_DUNG");
        assert_eq!(grid[1][1], "12.345");
        assert_eq!(grid[1][7], "2.000");
        assert_eq!(grid[1][15], "-", "no 766 tally in this fixture");
        assert_eq!(grid[1][16], "98,5 %");
        assert_eq!(grid[2][16], "-", "nothing resolved, no rate");
        assert_eq!(grid[3][0], TOTAL_LABEL);
        assert_eq!(grid[3][1], "12.348");
        let table = render(&r, Format::Table);
        assert!(table.contains("  12.345  "), "{table}");
        assert!(table.contains("98,5 %\n"), "{table}");
        assert!(table.contains("\nSở Xây dựng (SO_XAY_DUNG)  "), "{table}");
        assert!(
            table.contains("\nSO_TU_PHAP  "),
            "no name configured: {table}"
        );

        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        assert_eq!(json["rows"][0]["received"], 12_345);
        assert_eq!(json["rows"][0]["on_time_rate"], 0.985);
        assert!(json["rows"][1]["on_time_rate"].is_null());
    }

    #[test]
    fn the_csv_starts_with_a_bom_and_keeps_bare_counts() {
        let r = report(vec![department("SO_XAY_DUNG", 12_345, 1_000, 970, 30)]);
        let csv = render(&r, Format::Csv);
        assert!(
            csv.starts_with("\u{feff}Mã đơn vị,Đơn vị,Tiếp nhận,"),
            "{csv}"
        );
        assert!(csv.ends_with("\r\n"));
        let lines = records(&csv);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), HEADERS.len() + 1);
        assert_eq!(lines[1][..3], ["SO_XAY_DUNG", "Sở Xây dựng", "12345"]);
        assert_eq!(lines[1][17], "98,5 %");
        assert_eq!(lines[2][..2], ["", TOTAL_LABEL]);
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_as_formulas_are_guarded() {
        let names = [
            (
                "=HYPERLINK(\"http://x\",\"Bấm\")",
                "'=HYPERLINK(\"http://x\",\"Bấm\")",
            ),
            ("+84 Sở", "'+84 Sở"),
            ("-1+2", "'-1+2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tTab", "'\tTab"),
            ("\rCR", "'\rCR"),
            ("Sở Y tế = 1", "Sở Y tế = 1"),
            ("'already", "'already"),
        ];
        let r = report(
            names
                .iter()
                .map(|(name, _)| department(name, 1, 0, 0, 0))
                .collect(),
        );
        let lines = records(&render(&r, Format::Csv));
        for (i, (_, guarded)) in names.iter().enumerate() {
            assert_eq!(lines[i + 1][..2], [*guarded, *guarded], "code and name");
            assert_eq!(lines[i + 1][16], "-", "the bare no-rate dash is no formula");
        }
    }

    #[test]
    fn dossiers_without_a_channel_have_a_column_of_their_own() {
        let mut row = department("SO_XAY_DUNG", 10, 0, 0, 0);
        (row.online, row.direct_or_postal, row.unknown_channel) = (3, 2, 5);
        let r = report(vec![row]);
        let grid = grid(&r, str::to_string);
        let column = |header: &str| grid[0].iter().position(|h| h == header).unwrap();
        let (direct, unknown) = (
            column("Trực tiếp, bưu chính"),
            column("Không rõ hình thức nộp"),
        );
        assert_eq!(
            (grid[1][direct].as_str(), grid[1][unknown].as_str()),
            ("2", "5")
        );
        assert_eq!(grid[2][unknown], "5", "the total adds them up");
        let csv = records(&render(&r, Format::Csv));
        assert_eq!(csv[1][unknown + 1], "5");
        let json: serde_json::Value = serde_json::from_str(&render(&r, Format::Json)).unwrap();
        assert_eq!(json["total"]["unknown_channel"], 5);
        assert_eq!(json["total"]["direct_or_postal"], 2);
    }
}
