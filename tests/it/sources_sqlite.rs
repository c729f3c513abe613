//! A SQLite source named like the national sync API (MaHoSo, NgayTiepNhan...), with
//! yyyyMMddHHmmss times and the national status codes used as they are (no status map); and
//! the rows a mapping must refuse.

use hcc_monitor::dossier::Status;
use hcc_monitor::source::PollMode;
use sqlx::{AssertSqlSafe, Connection, Executor};

use crate::helpers::app::poller;

const SCHEMA: &str = "CREATE TABLE HoSo (MaHoSo TEXT PRIMARY KEY, MaTTHC TEXT, DonViXuLy TEXT,
    KenhThucHien INTEGER, NgayTiepNhan TEXT, NgayHenTra TEXT, NgayKetThucXuLy TEXT,
    TrangThaiHoSo INTEGER, NgayCapNhat TEXT);
INSERT INTO HoSo VALUES
 ('000.00.01.H1-260105-0001', '2.000815', 'SO_TU_PHAP', 1, '20260105140000', '20260106140000', NULL, 4, '2026-01-05 14:00:00'),
 ('000.00.01.H1-260105-0002', '2.000815', 'SO_TU_PHAP', 2, '20260105150000', '20260106150000', '20260106090000', 10, '2026-01-06 09:00:00'),
 ('BAD-STATUS', '2.000815', 'SO_TU_PHAP', 1, '20260105140000', NULL, NULL, 42, '2026-01-05 14:00:00'),
 ('BAD-DEPT', '2.000815', NULL, 1, '20260105140000', NULL, NULL, 4, '2026-01-05 14:00:00'),
 ('BAD-TIME', '2.000815', 'SO_TU_PHAP', 1, 'mùng 5 tháng 1', NULL, NULL, 4, '2026-01-05 14:00:00'),
 ('BAD-DUE', '2.000815', 'SO_TU_PHAP', 1, '20260105140000', '20260104140000', NULL, 4, '2026-01-05 14:00:00')";

async fn source_db(dir: &std::path::Path) -> String {
    let path = dir.join("source.db");
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
    for s in SCHEMA.split(";\n") {
        conn.execute(AssertSqlSafe(s.to_string())).await.unwrap();
    }
    format!(
        r#"[[source]]
name = "sqlite"
url = "sqlite://{}"
query = """
SELECT MaHoSo AS dossier_id, MaTTHC AS procedure_code, DonViXuLy AS department,
       KenhThucHien AS channel, NgayTiepNhan AS received_at, NgayHenTra AS due_at,
       NgayKetThucXuLy AS resolved_at, TrangThaiHoSo AS status, NgayCapNhat AS updated_at
FROM HoSo WHERE NgayCapNhat >= :watermark
"""
"#,
        path.display()
    )
}

#[tokio::test]
async fn national_codes_and_sync_api_times_are_read_without_a_status_map() {
    let dir = tempfile::tempdir().unwrap();
    let sources = source_db(dir.path()).await;
    let (poller, store, _) = poller(dir.path(), &sources).await;
    poller.poll(PollMode::Incremental).await.unwrap();
    let d = store
        .dossier("sqlite", "000.00.01.H1-260105-0002")
        .await
        .unwrap()
        .unwrap()
        .dossier;
    assert_eq!(d.status, Status::Returned);
    assert_eq!(d.received_at.to_rfc3339(), "2026-01-05T08:00:00+00:00");
    assert_eq!(
        d.resolved_at.unwrap().to_rfc3339(),
        "2026-01-06T02:00:00+00:00"
    );
}

#[tokio::test]
async fn rows_that_cannot_be_mapped_are_counted_by_reason_stored_nowhere_and_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let sources = source_db(dir.path()).await;
    let (poller, store, metrics) = poller(dir.path(), &sources).await;

    let first = poller.poll(PollMode::Incremental).await.unwrap();
    assert_eq!(
        (first.rows, first.rejected, first.first_rejections),
        (2, 4, 4)
    );
    for id in ["BAD-STATUS", "BAD-DEPT", "BAD-TIME", "BAD-DUE"] {
        assert!(
            store.dossier("sqlite", id).await.unwrap().is_none(),
            "{id} not stored"
        );
    }
    let rejected = |reason: &str| {
        metrics
            .source_rows_rejected
            .with_label_values(&["sqlite", reason])
            .get()
    };
    assert_eq!(rejected("unknown_status"), 1);
    assert_eq!(rejected("missing_value"), 1);
    assert_eq!(rejected("bad_time"), 1);
    assert_eq!(rejected("due_before_received"), 1);

    // Read again by a resync: neither counted nor logged again.
    let again = poller.poll(PollMode::Resync).await.unwrap();
    assert_eq!((again.rejected, again.first_rejections), (4, 0));
    assert_eq!(rejected("unknown_status"), 1);
    assert_eq!(
        again.vanished, 0,
        "rejected rows were never stored, so none vanished"
    );
}
