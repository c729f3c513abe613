//! Time per stage from a PostgreSQL source with a stage table (Vietnamese names): a scripted
//! timeline (tiếp nhận → chuyên viên xử lý → lãnh đạo ký → resolved), evaluated at fixed
//! instants. Office hours 07:00-11:30 and 13:30-17:00, Monday-Friday, Asia/Ho_Chi_Minh; March
//! 2026 has no holiday (Monday is the 2nd).

use std::path::Path;
use std::sync::Arc;

use hcc_monitor::clock::SystemClock;
use hcc_monitor::config::{Config, Secret};
use hcc_monitor::evaluate::Evaluator;
use hcc_monitor::metrics::Metrics;
use hcc_monitor::source::{PollMode, Poller};
use hcc_monitor::store::Store;

use crate::helpers::app::{config, metric_value};
use crate::helpers::db::{Server, TestDb};

const HOUR: f64 = 3600.0;

/// Friday 6 March 2026, 10:00 in Hanoi.
const FRIDAY_10: &str = "2026-03-06T03:00:00Z";
/// The same Friday, 16:00.
const FRIDAY_16: &str = "2026-03-06T09:00:00Z";

const SCHEMA: &str = "CREATE TABLE ho_so (
    so_ho_so text PRIMARY KEY, ma_thu_tuc text NOT NULL, co_quan text NOT NULL,
    ngay_nhan timestamp NOT NULL, ngay_xong timestamp, tinh_trang text NOT NULL,
    cap_nhat_luc timestamp NOT NULL);
CREATE TABLE buoc_xu_ly (so_ho_so text, buoc text NOT NULL, thoi_diem_vao timestamp NOT NULL);
INSERT INTO ho_so VALUES
 ('HS-01', '2.000456', 'SO_TAI_CHINH', '2026-03-02 08:00:00', '2026-03-05 09:30:00', 'DA_XONG', '2026-03-05 09:30:00'),
 ('HS-02', '2.000456', 'SO_TAI_CHINH', '2026-03-03 14:00:00', NULL, 'DANG_XU_LY', '2026-03-05 10:00:00'),
 ('HS-03', '1.003567', 'SO_NNMT', '2026-03-04 09:00:00', NULL, 'DANG_XU_LY', '2026-03-04 11:00:00');
INSERT INTO buoc_xu_ly VALUES
 ('HS-01', 'tiep_nhan', '2026-03-02 08:00:00'),
 ('HS-01', 'chuyen_vien_xu_ly', '2026-03-02 10:00:00'),
 ('HS-01', 'lanh_dao_ky', '2026-03-04 15:00:00'),
 ('HS-02', 'tiep_nhan', '2026-03-03 14:00:00'),
 ('HS-02', 'chuyen_vien_xu_ly', '2026-03-03 16:00:00'),
 ('HS-02', 'lanh_dao_ky', '2026-03-05 10:00:00'),
 ('HS-03', 'tiep_nhan', '2026-03-04 09:00:00'),
 ('HS-03', 'chuyen_vien_xu_ly', '2026-03-04 11:00:00'),
 (NULL, 'tiep_nhan', '2026-03-04 08:00:00'),
 ('HS-03', 'Nguyễn Văn A', '2026-03-04 10:00:00')";

fn source(url: &str) -> String {
    format!(
        r#"[[source]]
name = "pg"
url = "{url}"
watermark_overlap_secs = 0
query = """
SELECT so_ho_so AS dossier_id, ma_thu_tuc AS procedure_code, co_quan AS department,
       ngay_nhan AS received_at, ngay_xong AS resolved_at, tinh_trang AS status,
       cap_nhat_luc AS updated_at
FROM ho_so WHERE cap_nhat_luc >= :watermark
"""
stage_query = """
SELECT so_ho_so AS dossier_id, buoc AS stage, thoi_diem_vao AS entered_at
FROM buoc_xu_ly WHERE thoi_diem_vao >= :watermark
"""
[source.status_map]
DANG_XU_LY = "in_progress"
DA_XONG = "resolved"
"#
    )
}

fn stage_series(name: &str, stage: &str) -> String {
    format!(r#"{name}{{source="pg",stage="{stage}"}}"#)
}

/// The source's poller on a store of its own (SQLite in `dir` unless `store_url`), with the
/// config and the metrics.
async fn setup(
    dir: &Path,
    source_url: &str,
    store_url: Option<String>,
) -> (Config, Poller, Store, Arc<Metrics>) {
    let mut cfg = config(dir, &source(source_url));
    if let Some(url) = store_url {
        cfg.store.url = Secret::new(url);
    }
    let store = Store::open_and_migrate(&cfg.store).await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let poller = Poller::new(
        cfg.sources[0].clone(),
        store.clone(),
        metrics.clone(),
        Arc::new(SystemClock),
        cfg.deadlines(),
    )
    .unwrap();
    (cfg, poller, store, metrics)
}

#[tokio::test]
async fn stage_time_on_the_sqlite_store() {
    timeline(None).await;
}

#[tokio::test]
async fn stage_time_on_the_postgres_store() {
    let store = TestDb::create(Server::Postgres).await;
    timeline(Some(store.url())).await;
}

/// Visits are observed once, also across re-reads and a restart, and open dossiers show where
/// they wait.
async fn timeline(store_url: Option<String>) {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, poller, store, metrics) = setup(dir.path(), &db.url(), store_url).await;
    let evaluator = Evaluator::new(&cfg, store.clone(), metrics.clone());

    let first = poller.poll(PollMode::Incremental).await.unwrap();
    assert_eq!(first.rows, 3);
    assert_eq!(first.stage_events, 8);
    assert_eq!(
        first.rejected, 2,
        "no dossier id; a person's name as the stage"
    );
    assert_eq!(
        first.stage_watermark.as_deref(),
        Some("2026-03-05 10:00:00")
    );
    for reason in ["missing_value", "bad_value"] {
        assert_eq!(
            metrics
                .source_rows_rejected
                .with_label_values(&["pg", reason])
                .get(),
            1,
            "{reason}"
        );
    }

    evaluator.refresh(FRIDAY_10.parse().unwrap()).await.unwrap();
    let exposition = metrics.render();
    let m = |name: &str, stage: &str| metric_value(&exposition, &stage_series(name, stage));
    // Visits completed by Friday 10:00:
    //   HS-01 tiep_nhan          Mon 08:00 → Mon 10:00                     2 h
    //   HS-01 chuyen_vien_xu_ly  Mon 10:00 → Wed 15:00: Mon 5, Tue 8, Wed 6 = 19 h
    //   HS-01 lanh_dao_ky        Wed 15:00 → resolved Thu 09:30: 2 + 2.5  = 4.5 h
    //   HS-02 tiep_nhan          Tue 14:00 → Tue 16:00                     2 h
    //   HS-02 chuyen_vien_xu_ly  Tue 16:00 → Thu 10:00: Tue 1, Wed 8, Thu 3 = 12 h
    //   HS-03 tiep_nhan          Wed 09:00 → Wed 11:00                     2 h
    let working = "hcc_stage_working_seconds";
    assert_eq!(m(&format!("{working}_count"), "tiep_nhan"), Some(3.0));
    assert_eq!(m(&format!("{working}_sum"), "tiep_nhan"), Some(6.0 * HOUR));
    assert_eq!(
        m(&format!("{working}_count"), "chuyen_vien_xu_ly"),
        Some(2.0)
    );
    assert_eq!(
        m(&format!("{working}_sum"), "chuyen_vien_xu_ly"),
        Some(31.0 * HOUR)
    );
    assert_eq!(m(&format!("{working}_count"), "lanh_dao_ky"), Some(1.0));
    assert_eq!(
        m(&format!("{working}_sum"), "lanh_dao_ky"),
        Some(4.5 * HOUR)
    );
    // Where the open ones wait on Friday 10:00:
    //   HS-02 at lanh_dao_ky since Thu 10:00: Thu 1.5 + 3.5, Fri 3          = 8 h
    //   HS-03 at chuyen_vien_xu_ly since Wed 11:00: Wed 0.5 + 3.5, Thu 8, Fri 3 = 15 h
    assert_eq!(m("hcc_dossiers_in_stage", "lanh_dao_ky"), Some(1.0));
    assert_eq!(
        m("hcc_stage_waiting_working_seconds", "lanh_dao_ky"),
        Some(8.0 * HOUR)
    );
    assert_eq!(m("hcc_dossiers_in_stage", "chuyen_vien_xu_ly"), Some(1.0));
    assert_eq!(
        m("hcc_stage_waiting_working_seconds", "chuyen_vien_xu_ly"),
        Some(15.0 * HOUR)
    );
    assert_eq!(m("hcc_dossiers_in_stage", "tiep_nhan"), None);
    assert!(
        !exposition.contains("Nguy"),
        "a person's name never becomes a label"
    );

    // Re-reads store nothing twice: the event at the watermark instant is read again by the
    // next poll, every event by a resync, and neither is observed again.
    let again = poller.poll(PollMode::Incremental).await.unwrap();
    assert_eq!(again.stage_events, 1);
    assert_eq!(again.stage_watermark, None, "stage watermark unchanged");
    let resync = poller.poll(PollMode::Resync).await.unwrap();
    assert_eq!(resync.stage_events, 8);
    evaluator.refresh(FRIDAY_10.parse().unwrap()).await.unwrap();
    let exposition = metrics.render();
    let m = |name: &str, stage: &str| metric_value(&exposition, &stage_series(name, stage));
    assert_eq!(m(&format!("{working}_count"), "tiep_nhan"), Some(3.0));
    assert_eq!(
        m(&format!("{working}_count"), "chuyen_vien_xu_ly"),
        Some(2.0)
    );
    assert_eq!(m(&format!("{working}_count"), "lanh_dao_ky"), Some(1.0));
    assert_eq!(m("hcc_dossiers_in_stage", "lanh_dao_ky"), Some(1.0));

    // A restart (a new registry on the same store) observes no visit again; the gauges come
    // back from the store.
    let restarted = Arc::new(Metrics::new());
    let evaluator = Evaluator::new(&cfg, store.clone(), restarted.clone());
    evaluator.refresh(FRIDAY_10.parse().unwrap()).await.unwrap();
    let exposition = restarted.render();
    let m = |name: &str, stage: &str| metric_value(&exposition, &stage_series(name, stage));
    assert_eq!(m(&format!("{working}_count"), "tiep_nhan"), None);
    assert_eq!(m(&format!("{working}_count"), "lanh_dao_ky"), None);
    assert_eq!(
        m("hcc_stage_waiting_working_seconds", "chuyen_vien_xu_ly"),
        Some(15.0 * HOUR)
    );

    // HS-02 is signed and resolved on Friday at 14:00.
    db.exec(
        "UPDATE ho_so SET tinh_trang = 'DA_XONG', ngay_xong = '2026-03-06 14:00:00',
            cap_nhat_luc = '2026-03-06 14:00:00' WHERE so_ho_so = 'HS-02'",
    )
    .await;
    poller.poll(PollMode::Incremental).await.unwrap();
    evaluator.refresh(FRIDAY_16.parse().unwrap()).await.unwrap();
    let exposition = restarted.render();
    let m = |name: &str, stage: &str| metric_value(&exposition, &stage_series(name, stage));
    // HS-02 lanh_dao_ky Thu 10:00 → Fri 14:00: Thu 5, Fri 4.5 + 0.5 = 10 h.
    assert_eq!(m(&format!("{working}_count"), "lanh_dao_ky"), Some(1.0));
    assert_eq!(
        m(&format!("{working}_sum"), "lanh_dao_ky"),
        Some(10.0 * HOUR)
    );
    assert_eq!(
        m("hcc_dossiers_in_stage", "lanh_dao_ky"),
        None,
        "nobody waits for a signature any more: the series is gone"
    );
    // HS-03 since Wed 11:00, at Fri 16:00: 15 h + Fri 10:00-11:30 and 13:30-16:00 = 19 h.
    assert_eq!(
        m("hcc_stage_waiting_working_seconds", "chuyen_vien_xu_ly"),
        Some(19.0 * HOUR)
    );
    store.close().await;
}

#[tokio::test]
async fn stages_beyond_the_label_limit_are_folded_into_other() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    // Only HS-04, which passes through 52 stages, one a minute from Monday 08:00, and is
    // resolved at 09:00.
    db.exec(
        "DELETE FROM buoc_xu_ly;
         DELETE FROM ho_so;
         INSERT INTO ho_so VALUES ('HS-04', '2.000456', 'SO_TAI_CHINH', '2026-03-02 08:00:00',
            '2026-03-02 09:00:00', 'DA_XONG', '2026-03-02 09:00:00');
         INSERT INTO buoc_xu_ly SELECT 'HS-04', 'buoc_' || lpad(i::text, 2, '0'),
            '2026-03-02 08:00:00'::timestamp + (i - 1) * interval '1 minute'
            FROM generate_series(1, 52) AS i",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (cfg, poller, store, metrics) = setup(dir.path(), &db.url(), None).await;
    poller.poll(PollMode::Incremental).await.unwrap();
    Evaluator::new(&cfg, store.clone(), metrics.clone())
        .refresh(FRIDAY_10.parse().unwrap())
        .await
        .unwrap();
    let exposition = metrics.render();
    let m = |series: &str| metric_value(&exposition, series);
    let count = |stage: &str| m(&stage_series("hcc_stage_working_seconds_count", stage));
    // The source's first 50 stages by first sight (one poll: ties by name) keep their label.
    assert_eq!(count("buoc_50"), Some(1.0));
    assert_eq!(count("buoc_51"), None);
    // buoc_51 lasts a minute, buoc_52 from 08:51 to the resolution at 09:00.
    assert_eq!(count("other"), Some(2.0));
    assert_eq!(
        m(&stage_series("hcc_stage_working_seconds_sum", "other")),
        Some(60.0 + 9.0 * 60.0)
    );
    assert_eq!(
        m(r#"hcc_labels_folded_total{label="stage"}"#),
        Some(2.0),
        "buoc_51 and buoc_52"
    );
    store.close().await;
}
