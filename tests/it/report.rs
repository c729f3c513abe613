//! The report's period at the reporting regime's cut-off (the 15th), across the year boundary,
//! in Asia/Ho_Chi_Minh: 14/12 at 23:59:59 belongs to the period that ends then, 15/12 at 00:00
//! to the next, and the figures follow the period's bounds.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hcc_monitor::clock::FixedClock;
use hcc_monitor::evaluate::{Evaluator, Period, PeriodStartDay};
use hcc_monitor::metrics::Metrics;
use hcc_monitor::report::{self, Report};
use hcc_monitor::source::{PollMode, Poller};
use hcc_monitor::store::Store;

use crate::helpers::app::config;
use crate::helpers::db::sqlite_exec;

/// Local Hanoi times. X is received in the last second of the period 15/11-14/12, Y in the first
/// second of 15/12-14/01; Z is resolved late on 14/12; W is resolved early on 15/12.
const SCHEMA: &str = "CREATE TABLE t (id TEXT PRIMARY KEY, p TEXT, d TEXT, r TEXT, due TEXT,
    done TEXT, st TEXT, u TEXT);
INSERT INTO t VALUES
 ('X', 'PX', 'SO_TU_PHAP', '2026-12-14 23:59:59', '2026-12-28 17:00:00', NULL, 'in_progress', '2026-12-14 23:59:59'),
 ('Y', 'PX', 'SO_TU_PHAP', '2026-12-15 00:00:00', '2026-12-28 17:00:00', NULL, 'in_progress', '2026-12-15 00:00:00'),
 ('Z', 'PX', 'SO_TU_PHAP', '2026-11-20 08:00:00', '2026-12-10 17:00:00', '2026-12-14 16:00:00', 'resolved', '2026-12-14 16:00:00'),
 ('W', 'PX', 'SO_TU_PHAP', '2026-12-01 08:00:00', '2026-12-20 17:00:00', '2026-12-15 08:00:00', 'resolved', '2026-12-15 08:00:00')";

fn at(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{local}+07:00"))
        .unwrap()
        .with_timezone(&Utc)
}

/// (received, carried over, resolved, late, in progress) in total.
fn counts(r: &Report) -> (u64, u64, u64, u64, u64) {
    let t = &r.total;
    (
        t.received,
        t.carried_over,
        t.resolved,
        t.late,
        t.in_progress,
    )
}

#[tokio::test]
async fn the_15th_at_midnight_starts_the_next_reporting_period_across_the_year_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let source = format!("sqlite://{}/source.db", dir.path().display());
    sqlite_exec(&format!("{source}?mode=rwc"), SCHEMA).await;
    let cfg = config(
        dir.path(),
        &format!(
            "[reporting]\nperiod_start_day = 15\n[[source]]\nname = \"s\"\nurl = \"{source}\"\n\
             query = \"SELECT id AS dossier_id, p AS procedure_code, d AS department, \
             r AS received_at, due AS due_at, done AS resolved_at, st AS status, \
             u AS updated_at FROM t WHERE u >= :watermark\"\n"
        ),
    );
    let start_day = cfg.reporting.period_start_day;
    assert_eq!(start_day, PeriodStartDay::new(15).unwrap());
    let store = Store::open_and_migrate(&cfg.store).await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let clock = Arc::new(FixedClock(at("2027-01-02T10:00:00")));
    Poller::new(
        cfg.sources[0].clone(),
        store.clone(),
        metrics.clone(),
        clock,
        cfg.deadlines(),
    )
    .unwrap()
    .poll(PollMode::Incremental)
    .await
    .unwrap();
    let evaluator = Evaluator::new(&cfg, store.clone(), metrics);
    let build = |period, as_of| report::build(&store, &evaluator, period, start_day, as_of);

    let before = build(Period::Month, at("2026-12-14T23:59:59"))
        .await
        .unwrap();
    assert_eq!(
        (before.from, before.to),
        (at("2026-11-15T00:00:00"), at("2026-12-14T23:59:59"))
    );
    // X, Z and W received in the period (Y not yet); Z resolved late; X and W open.
    assert_eq!(counts(&before), (3, 0, 1, 1, 2));
    // In time: X and W, open within their deadlines; Z late: 20 × 2 / 3.
    let score = before.total.progress.score().unwrap();
    assert!((score - 40.0 / 3.0).abs() < 1e-9, "{score}");

    let after = build(Period::Month, at("2026-12-15T00:00:00"))
        .await
        .unwrap();
    assert_eq!(
        (after.from, after.to),
        (at("2026-12-15T00:00:00"), at("2027-01-14T23:59:59"))
    );
    // Y received; X and W carried over; Z resolved in the previous period, so not here.
    assert_eq!(counts(&after), (1, 2, 0, 0, 3));

    // The year 2027 with the cut-off: 15/12/2026 to 14/12/2027, read on 2 January 2027.
    let year = build(Period::Year, at("2027-01-02T10:00:00"))
        .await
        .unwrap();
    assert_eq!(
        (year.from, year.to),
        (at("2026-12-15T00:00:00"), at("2027-12-14T23:59:59"))
    );
    // W resolved early in it; X and Y still open, past their due of 28/12: judged on 2/1,
    // they are overdue, so 20 × 1 / 3.
    assert_eq!(counts(&year), (1, 2, 1, 0, 2));
    assert_eq!((year.total.early, year.total.overdue), (1, 2));
    let score = year.total.progress.score().unwrap();
    assert!((score - 20.0 / 3.0).abs() < 1e-9, "{score}");
    let json: serde_json::Value =
        serde_json::from_str(&report::render(&year, report::Format::Json)).unwrap();
    assert_eq!(
        (&json["from"], &json["to"], &json["period_start_day"]),
        (
            &serde_json::json!("2026-12-14T17:00:00+00:00"),
            &serde_json::json!("2027-12-14T16:59:59+00:00"),
            &serde_json::json!(15)
        )
    );
    store.close().await;
}
