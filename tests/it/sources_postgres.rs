//! A PostgreSQL source with Vietnamese column names, text status codes and a mix of
//! `timestamp` and `timestamptz` columns.

use chrono::{DateTime, Utc};
use hcc_monitor::dossier::{Channel, Status};
use hcc_monitor::source::PollMode;

use crate::helpers::app::poller;
use crate::helpers::db::{Server, TestDb};

const SCHEMA: &str = "CREATE TABLE ho_so_mot_cua (
    so_ho_so text PRIMARY KEY, ma_thu_tuc text NOT NULL, ten_thu_tuc text, co_quan text,
    hinh_thuc text, ngay_nhan timestamp NOT NULL, han_xu_ly timestamptz, ngay_xong timestamp,
    tinh_trang text NOT NULL, cap_nhat_luc timestamp NOT NULL);
INSERT INTO ho_so_mot_cua VALUES
 ('HS-001', '2.000456', 'Đăng ký thành lập doanh nghiệp', 'SO_TAI_CHINH', 'trực tuyến',
  '2026-03-02 08:00:00', '2026-03-05 17:00:00+07', NULL, 'DANG_XU_LY', '2026-03-02 08:00:00'),
 ('HS-002', '1.003567', 'Giao đất', 'SO_NNMT', 'trực tiếp',
  '2026-03-02 09:30:00', '2026-03-23 17:00:00+07', NULL, 'BO_SUNG', '2026-03-02 10:00:00'),
 ('HS-003', '2.000815', NULL, 'SO_TU_PHAP', NULL,
  '2026-03-02 10:00:00', '2026-03-03 10:00:00+07', '2026-03-02 15:00:00', 'DA_TRA', '2026-03-02 15:00:00')";

fn source(url: &str) -> String {
    format!(
        r#"[[source]]
name = "pg"
url = "{url}"
watermark_overlap_secs = 0
query = """
SELECT so_ho_so AS dossier_id, ma_thu_tuc AS procedure_code, ten_thu_tuc AS procedure_name,
       co_quan AS department, hinh_thuc AS channel, ngay_nhan AS received_at,
       han_xu_ly AS due_at, ngay_xong AS resolved_at, tinh_trang AS status,
       cap_nhat_luc AS updated_at
FROM ho_so_mot_cua WHERE cap_nhat_luc >= :watermark ORDER BY cap_nhat_luc
"""
[source.status_map]
DANG_XU_LY = "in_progress"
BO_SUNG = "supplement_requested"
DA_TRA = "returned"
"#
    )
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339")
}

#[tokio::test]
async fn postgres_rows_are_stored_as_canonical_dossiers_in_utc() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, store, _) = poller(dir.path(), &source(&db.url())).await;

    let report = poller
        .poll(PollMode::Incremental)
        .await
        .expect("poll succeeds");
    assert_eq!(report.rows, 3);
    assert_eq!(report.watermark.as_deref(), Some("2026-03-02 15:00:00"));

    let d = store
        .dossier("pg", "HS-001")
        .await
        .unwrap()
        .expect("stored")
        .dossier;
    assert_eq!(d.status, Status::InProgress);
    assert_eq!(d.raw_status, "DANG_XU_LY");
    assert_eq!(d.channel, Channel::Online);
    assert_eq!(d.department, "SO_TAI_CHINH");
    // A zone-less local time is read in the source's zone (UTC+7)...
    assert_eq!(d.received_at, utc("2026-03-02T01:00:00Z"));
    // ...and a timestamptz as the instant it is.
    assert_eq!(d.due_at, Some(utc("2026-03-05T10:00:00Z")));
    let returned = store
        .dossier("pg", "HS-003")
        .await
        .unwrap()
        .unwrap()
        .dossier;
    assert_eq!(returned.status, Status::Returned);
    assert_eq!(returned.resolved_at, Some(utc("2026-03-02T08:00:00Z")));
    assert_eq!(returned.procedure_name, None);
}

#[tokio::test]
async fn incremental_polls_read_only_changes_and_record_due_and_status_changes() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, store, metrics) = poller(dir.path(), &source(&db.url())).await;
    poller.poll(PollMode::Incremental).await.unwrap();

    // Nothing changed: only the row at the watermark instant itself is read again.
    let idle = poller.poll(PollMode::Incremental).await.unwrap();
    assert_eq!(idle.rows, 1);
    assert_eq!(idle.watermark, None, "watermark unchanged");

    // HS-001 is re-appointed and asked for a supplement; HS-004 arrives.
    db.exec(
        "UPDATE ho_so_mot_cua SET tinh_trang = 'BO_SUNG', han_xu_ly = '2026-03-09 17:00:00+07',
            cap_nhat_luc = '2026-03-03 09:00:00' WHERE so_ho_so = 'HS-001';
         INSERT INTO ho_so_mot_cua VALUES ('HS-004', '2.000456', NULL, 'SO_TAI_CHINH', NULL,
            '2026-03-03 08:00:00', NULL, NULL, 'DANG_XU_LY', '2026-03-03 08:00:00')",
    )
    .await;
    let changed = poller.poll(PollMode::Incremental).await.unwrap();
    // The two changed rows, and the one at the previous watermark instant (read with >=).
    assert_eq!(changed.rows, 3);
    assert_eq!(changed.watermark.as_deref(), Some("2026-03-03 09:00:00"));

    let hs1 = store.dossier("pg", "HS-001").await.unwrap().unwrap();
    assert_eq!(hs1.dossier.status, Status::SupplementRequested);
    assert_eq!(hs1.dossier.due_at, Some(utc("2026-03-09T10:00:00Z")));
    assert_eq!(hs1.due_changes, 1);
    let history = store.status_history("pg", "HS-001").await.unwrap();
    assert_eq!(
        history,
        vec![(
            "in_progress".to_string(),
            "supplement_requested".to_string(),
            utc("2026-03-03T02:00:00Z")
        )]
    );
    assert!(store.dossier("pg", "HS-004").await.unwrap().is_some());
    assert_eq!(
        metrics.source_rows.with_label_values(&["pg"]).get(),
        3 + 1 + 3
    );
}

#[tokio::test]
async fn a_full_resync_marks_dossiers_that_vanished_from_the_source() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, store, metrics) = poller(dir.path(), &source(&db.url())).await;
    poller.poll(PollMode::Incremental).await.unwrap();
    db.exec("DELETE FROM ho_so_mot_cua WHERE so_ho_so = 'HS-002'")
        .await;

    // An incremental poll cannot see a deletion...
    poller.poll(PollMode::Incremental).await.unwrap();
    assert!(
        !store
            .dossier("pg", "HS-002")
            .await
            .unwrap()
            .unwrap()
            .vanished
    );
    // ...the resync does.
    let report = poller.poll(PollMode::Resync).await.unwrap();
    assert_eq!(report.vanished, 1);
    assert!(
        store
            .dossier("pg", "HS-002")
            .await
            .unwrap()
            .unwrap()
            .vanished
    );
    assert!(
        !store
            .dossier("pg", "HS-001")
            .await
            .unwrap()
            .unwrap()
            .vanished
    );
    let counts = store.count_by_status().await.unwrap();
    assert!(
        counts.iter().all(|c| c.status != "supplement_requested"),
        "{counts:?}"
    );
    assert_eq!(
        metrics
            .source_rows_vanished
            .with_label_values(&["pg"])
            .get(),
        1
    );
}

#[tokio::test]
async fn a_query_slower_than_the_statement_timeout_is_cancelled_by_the_server_and_counted() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    let sources = source(&db.url())
        .replace(
            "FROM ho_so_mot_cua WHERE",
            "FROM ho_so_mot_cua, pg_sleep(5) WHERE",
        )
        .replace(
            "watermark_overlap_secs = 0",
            "watermark_overlap_secs = 0\ntimeout_secs = 3\nstatement_timeout_secs = 1",
        );
    let (poller, store, metrics) = poller(dir.path(), &sources).await;

    let started = std::time::Instant::now();
    let err = poller
        .poll(PollMode::Incremental)
        .await
        .expect_err("the query is too slow");
    assert_eq!(err.kind(), "timeout", "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "cancelled before pg_sleep ended"
    );
    assert_eq!(metrics.source_up.with_label_values(&["pg"]).get(), 0);
    assert_eq!(
        metrics
            .source_poll_errors
            .with_label_values(&["pg", "timeout"])
            .get(),
        1
    );
    assert_eq!(
        store.watermark("pg").await.unwrap(),
        None,
        "no watermark from a failed poll"
    );
}

#[tokio::test]
async fn sessions_are_read_only() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    // A query that tries to write is refused by the server, not by luck.
    db.exec("CREATE SEQUENCE written").await;
    let sources = source(&db.url()).replace(
        "SELECT so_ho_so AS dossier_id",
        "SELECT nextval('written') AS n, so_ho_so AS dossier_id",
    );
    let (poller, _, _) = poller(dir.path(), &sources).await;
    let err = poller
        .poll(PollMode::Incremental)
        .await
        .expect_err("write refused");
    assert!(err.to_string().contains("read-only"), "{err}");
}
