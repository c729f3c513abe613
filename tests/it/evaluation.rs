//! The evaluation cycle's metrics at a fixed instant, on both store backends (SQLite and
//! PostgreSQL): SLA states, outcomes by period, due-date changes, and label sets that go away.

use std::path::Path;
use std::sync::Arc;

use crate::helpers::app::{config, metric_value};
use crate::helpers::db::{Server, TestDb, sqlite_exec};
use hcc_monitor::clock::FixedClock;
use hcc_monitor::config::Secret;
use hcc_monitor::evaluate::Evaluator;
use hcc_monitor::metrics::Metrics;
use hcc_monitor::source::{PollMode, Poller};
use hcc_monitor::store::Store;

/// Wednesday 4 March 2026, 10:00 in Hanoi (see cli.rs for the hand-worked deadlines).
pub(crate) const NOW: &str = "2026-03-04T03:00:00Z";

const SCHEMA: &str = "CREATE TABLE t (id TEXT PRIMARY KEY, p TEXT, d TEXT, r TEXT, due TEXT,
    done TEXT, st TEXT, u TEXT);
INSERT INTO t VALUES
 ('C', 'PX', 'SO_NNMT', '2026-02-23 08:00:00', '2026-03-03 17:00:00', NULL, 'in_progress', '2026-02-23 08:00:00'),
 ('D', 'PX', 'SO_NNMT', '2026-02-25 08:00:00', '2026-03-05 17:00:00', NULL, 'in_progress', '2026-02-25 08:00:00'),
 ('F', 'PX', 'SO_TU_PHAP', '2026-03-02 08:00:00', '2026-03-04 17:00:00', '2026-03-03 15:00:00', 'resolved', '2026-03-03 15:00:00'),
 ('G', 'PX', 'SO_NNMT', '2026-02-26 08:00:00', '2026-03-02 17:00:00', '2026-03-03 09:00:00', 'returned', '2026-03-03 09:00:00')";

/// What a test evaluates: the source table `t` filled by `script`, polled by `poller` into
/// `store`, and the config's other sections in `extra`.
pub(crate) struct Setup {
    pub source: String,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub poller: Poller,
    pub evaluator: Evaluator,
}

pub(crate) async fn setup(
    dir: &Path,
    store_url: Option<String>,
    script: &str,
    extra: &str,
) -> Setup {
    let source = format!("sqlite://{}/source.db", dir.display());
    sqlite_exec(&format!("{source}?mode=rwc"), script).await;
    let mut cfg = config(
        dir,
        &format!(
            "[[source]]\nname = \"s\"\nurl = \"{source}\"\nquery = \"SELECT id AS dossier_id, \
             p AS procedure_code, d AS department, r AS received_at, due AS due_at, \
             done AS resolved_at, st AS status, u AS updated_at FROM t WHERE u >= :watermark\"\n\
             {extra}"
        ),
    );
    if let Some(url) = store_url {
        cfg.store.url = Secret::new(url);
    }
    let store = Store::open_and_migrate(&cfg.store).await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let poller = Poller::new(
        cfg.sources[0].clone(),
        store.clone(),
        metrics.clone(),
        Arc::new(FixedClock(NOW.parse().unwrap())),
        cfg.deadlines(),
    )
    .unwrap();
    let evaluator = Evaluator::new(&cfg, store.clone(), metrics.clone());
    Setup {
        source,
        store,
        metrics,
        poller,
        evaluator,
    }
}

async fn scenario(store_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let Setup {
        source,
        store,
        metrics,
        poller,
        evaluator,
    } = setup(dir.path(), store_url, SCHEMA, "").await;
    let now = NOW.parse().unwrap();
    poller.poll(PollMode::Incremental).await.unwrap();
    evaluator.refresh(now).await.unwrap();

    let exposition = metrics.render();
    let m = |series: &str| metric_value(&exposition, series);
    assert_eq!(
        m(r#"hcc_dossiers_open{department="SO_NNMT",sla_state="overdue",source="s"}"#),
        Some(1.0)
    );
    assert_eq!(
        m(r#"hcc_dossiers_open{department="SO_NNMT",sla_state="at_risk",source="s"}"#),
        Some(1.0)
    );
    assert_eq!(
        m(
            r#"hcc_dossiers_resolved{department="SO_TU_PHAP",outcome="early",period="month",source="s"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        m(r#"hcc_dossiers_resolved{department="SO_NNMT",outcome="late",period="day",source="s"}"#),
        Some(0.0),
        "resolved yesterday: not today"
    );
    assert_eq!(
        m(r#"hcc_dossiers_resolved{department="SO_NNMT",outcome="late",period="year",source="s"}"#),
        Some(1.0)
    );
    assert_eq!(
        m(r#"hcc_dossiers_carried_over{department="SO_NNMT",period="month",source="s"}"#),
        Some(3.0),
        "C, D and G were received in February, still open on 1 March"
    );
    // G took Thu 26/2 08:00 to Tue 3/3 09:00: Thu 7 h, Fri 8 h, Mon 8 h, Tue 2 h = 25 h.
    assert_eq!(
        m(r#"hcc_dossier_processing_working_seconds_sum{department="SO_NNMT",source="s"}"#),
        Some(25.0 * 3600.0)
    );
    // C is 3 working hours late.
    assert_eq!(
        m(r#"hcc_dossier_overdue_working_seconds_sum{department="SO_NNMT",source="s"}"#),
        Some(3.0 * 3600.0)
    );
    // Decision 766's progress over March: Sở NN&MT handled C (open, overdue), D (open, within)
    // and G (resolved late) = 20 × 1 / 3; Sở Tư pháp F (early) = 20.
    let score = m(r#"hcc_index_progress_score{department="SO_NNMT",source="s"}"#).unwrap();
    assert!((score - 20.0 / 3.0).abs() < 1e-9, "{score}");
    assert_eq!(
        m(r#"hcc_index_progress_score{department="SO_TU_PHAP",source="s"}"#),
        Some(20.0)
    );

    // D is re-appointed twice and C is resolved; a second cycle must not observe G again.
    for (due, u) in [
        ("2026-03-06 17:00:00", "2026-03-04 08:00:00"),
        ("2026-03-09 17:00:00", "2026-03-04 09:00:00"),
    ] {
        sqlite_exec(
            &source,
            &format!("UPDATE t SET due = '{due}', u = '{u}' WHERE id = 'D'"),
        )
        .await;
        poller.poll(PollMode::Incremental).await.unwrap();
    }
    sqlite_exec(
        &source,
        "UPDATE t SET st = 'resolved', done = '2026-03-04 09:30:00', u = '2026-03-04 09:30:00' WHERE id = 'C'",
    )
    .await;
    poller.poll(PollMode::Incremental).await.unwrap();
    evaluator.refresh(now).await.unwrap();
    let exposition = metrics.render();
    let m = |series: &str| metric_value(&exposition, series);
    assert_eq!(
        m(r#"hcc_dossier_due_changes_total{department="SO_NNMT",source="s"}"#),
        Some(2.0)
    );
    assert_eq!(
        m(r#"hcc_dossiers_reappointed_more_than_once{department="SO_NNMT",source="s"}"#),
        Some(1.0)
    );
    assert_eq!(
        m(r#"hcc_dossiers_open{department="SO_NNMT",sla_state="overdue",source="s"}"#),
        None,
        "no overdue dossier left: the series is gone, not stuck at its last value"
    );
    assert_eq!(
        m(r#"hcc_dossier_processing_working_seconds_count{department="SO_NNMT",source="s"}"#),
        Some(2.0),
        "G observed once, C once"
    );
    assert_eq!(
        m(r#"hcc_dossiers_resolved{department="SO_NNMT",outcome="late",period="day",source="s"}"#),
        Some(1.0),
        "C resolved today, a day late"
    );
    // C is now resolved late rather than open overdue: still 1 of 3 in time.
    let score = m(r#"hcc_index_progress_score{department="SO_NNMT",source="s"}"#).unwrap();
    assert!((score - 20.0 / 3.0).abs() < 1e-9, "{score}");

    // D is asked for a supplement, resumes, and is asked again: two requests make it late
    // though its deadline is days away, so Sở NN&MT has none of its 3 in time: a score of 0,
    // not an absent series. K (Sở Tư pháp) is asked twice too, then resolved early: late for
    // the score, so F early and K = 20 × 1 / 2.
    for change in [
        "UPDATE t SET st = 'supplement_requested', u = '2026-03-04 09:40:00' WHERE id = 'D'",
        "UPDATE t SET st = 'in_progress', u = '2026-03-04 09:45:00' WHERE id = 'D'",
        "UPDATE t SET st = 'supplement_requested', u = '2026-03-04 09:50:00' WHERE id = 'D'",
        "INSERT INTO t VALUES ('K', 'PX', 'SO_TU_PHAP', '2026-03-04 07:00:00', \
         '2026-03-10 17:00:00', NULL, 'supplement_requested', '2026-03-04 09:51:00')",
        "UPDATE t SET st = 'in_progress', u = '2026-03-04 09:52:00' WHERE id = 'K'",
        "UPDATE t SET st = 'supplement_requested', u = '2026-03-04 09:53:00' WHERE id = 'K'",
        "UPDATE t SET st = 'resolved', done = '2026-03-04 09:55:00', u = '2026-03-04 09:55:00' \
         WHERE id = 'K'",
    ] {
        sqlite_exec(&source, change).await;
        poller.poll(PollMode::Incremental).await.unwrap();
    }
    evaluator.refresh(now).await.unwrap();
    let exposition = metrics.render();
    let m = |series: &str| metric_value(&exposition, series);
    assert_eq!(
        m(r#"hcc_index_progress_score{department="SO_NNMT",source="s"}"#),
        Some(0.0)
    );
    assert_eq!(
        m(
            r#"hcc_dossiers_resolved{department="SO_TU_PHAP",outcome="early",period="month",source="s"}"#
        ),
        Some(2.0),
        "K is early by its dates"
    );
    assert_eq!(
        m(r#"hcc_index_progress_score{department="SO_TU_PHAP",source="s"}"#),
        Some(10.0)
    );
    store.close().await;
}

#[tokio::test]
async fn evaluation_metrics_on_the_sqlite_store() {
    scenario(None).await;
}

#[tokio::test]
async fn evaluation_metrics_on_the_postgres_store() {
    let db = TestDb::create(Server::Postgres).await;
    scenario(Some(db.url())).await;
}

#[tokio::test]
async fn departments_and_procedures_beyond_their_limits_are_counted_as_other() {
    let dir = tempfile::tempdir().unwrap();
    // SO_NNMT is the busiest department (C, D, E open, and G: 4 received this year); F and H,
    // of two smaller departments, are both resolved early. Of the open dossiers' procedures, PX
    // (C, D) is the busiest.
    let more = format!(
        "{SCHEMA},
 ('E', 'PZ', 'SO_NNMT', '2026-03-03 08:00:00', '2026-03-10 17:00:00', NULL, 'in_progress', '2026-03-03 08:00:00'),
 ('H', 'PY', 'SO_Y_TE', '2026-03-02 08:00:00', '2026-03-04 17:00:00', '2026-03-03 16:00:00', 'resolved', '2026-03-03 16:00:00')"
    );
    let limits = "procedure_labels = true\n[metrics]\nmax_department_labels = 1\n\
                  max_procedure_labels = 1\n";
    let s = setup(dir.path(), None, &more, limits).await;
    s.poller.poll(PollMode::Incremental).await.unwrap();
    let now = NOW.parse().unwrap();
    for _ in 0..2 {
        s.evaluator.refresh(now).await.unwrap();
    }
    let exposition = s.metrics.render();
    let m = |series: &str| metric_value(&exposition, series);
    assert_eq!(
        m(r#"hcc_dossiers_open{department="SO_NNMT",sla_state="overdue",source="s"}"#),
        Some(1.0)
    );
    assert_eq!(
        m(r#"hcc_dossiers_resolved{department="other",outcome="early",period="month",source="s"}"#),
        Some(2.0),
        "F and H add up in one series"
    );
    assert_eq!(
        m(
            r#"hcc_dossiers_resolved{department="SO_TU_PHAP",outcome="early",period="month",source="s"}"#
        ),
        None
    );
    assert_eq!(
        m(r#"hcc_dossier_processing_working_seconds_count{department="other",source="s"}"#),
        Some(2.0),
        "scored under the folded label too"
    );
    assert_eq!(
        m(
            r#"hcc_dossiers_open_by_procedure{department="SO_NNMT",procedure="PX",sla_state="overdue",source="s"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        m(
            r#"hcc_dossiers_open_by_procedure{department="SO_NNMT",procedure="other",sla_state="on_track",source="s"}"#
        ),
        Some(1.0),
        "E's procedure PZ is folded"
    );
    assert_eq!(
        m(r#"hcc_labels_folded_total{label="department"}"#),
        Some(2.0),
        "two departments, each counted once over two cycles"
    );
    assert_eq!(
        m(r#"hcc_labels_folded_total{label="procedure"}"#),
        Some(1.0)
    );
    assert_eq!(m(r#"hcc_labels_folded_total{label="stage"}"#), Some(0.0));
    s.store.close().await;
}

/// 10,000 more departments (one dossier each, half of them resolved) stay within the default cap
/// of 200 department labels: the series on /metrics are bounded, not one set per department.
#[tokio::test]
async fn ten_thousand_departments_give_a_bounded_series_count() {
    let dir = tempfile::tempdir().unwrap();
    let many = format!(
        "{SCHEMA};
INSERT INTO t WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000)
SELECT printf('HS-%05d', i), 'PX', printf('DV_%05d', i), '2026-03-02 08:00:00',
       '2026-03-06 17:00:00', CASE WHEN i % 2 = 0 THEN '2026-03-03 09:00:00' END,
       CASE WHEN i % 2 = 0 THEN 'resolved' ELSE 'in_progress' END, '2026-03-03 09:00:00'
FROM c"
    );
    let s = setup(dir.path(), None, &many, "").await;
    let polled = s.poller.poll(PollMode::Incremental).await.unwrap();
    assert_eq!(polled.rows, 10_004);
    for _ in 0..2 {
        s.evaluator.refresh(NOW.parse().unwrap()).await.unwrap();
    }
    let exposition = s.metrics.render();
    let series: Vec<&str> = exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let departments: std::collections::BTreeSet<&str> = series
        .iter()
        .filter_map(|l| l.split("department=\"").nth(1)?.split('"').next())
        .collect();
    let folded = metric_value(
        &exposition,
        r#"hcc_labels_folded_total{label="department"}"#,
    );
    println!(
        "cardinality case: 10,002 departments -> {} department label values, {} series, {} bytes \
         of /metrics, {folded:?} folded",
        departments.len(),
        series.len(),
        exposition.len()
    );
    assert_eq!(departments.len(), 201, "the top 200 and other");
    assert!(departments.contains("other"));
    assert_eq!(folded, Some(9_802.0), "each folded department counted once");
    assert!(series.len() < 10_000, "{} series", series.len());
    s.store.close().await;
}

/// 20,000 dossiers with a result date but an open status (a source that fills it ahead), then
/// dossiers resolved: every resolved one is scored within two cycles, however many wait.
async fn resolved_dossiers_are_scored_behind_many_unscorable(store_url: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let script = "CREATE TABLE t (id TEXT PRIMARY KEY, p TEXT, d TEXT, r TEXT, due TEXT,
        done TEXT, st TEXT, u TEXT);
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19999)
    INSERT INTO t SELECT printf('A%05d', i), 'PX', 'SO_NNMT', '2026-03-02 08:00:00',
        '2026-03-10 17:00:00', '2026-03-03 15:00:00', 'in_progress', '2026-03-03 15:00:00' FROM n;
    INSERT INTO t VALUES ('Z1', 'PX', 'SO_TU_PHAP', '2026-03-02 08:00:00', '2026-03-04 17:00:00',
        '2026-03-03 15:00:00', 'resolved', '2026-03-03 15:00:00')";
    let s = setup(dir.path(), store_url, script, "").await;
    let now = NOW.parse().unwrap();
    let resolved_early = |s: &Setup| {
        metric_value(
            &s.metrics.render(),
            r#"hcc_dossiers_resolved{department="SO_TU_PHAP",outcome="early",period="month",source="s"}"#,
        )
    };
    s.poller.poll(PollMode::Incremental).await.unwrap();
    s.evaluator.refresh(now).await.unwrap();
    assert_eq!(
        resolved_early(&s),
        Some(1.0),
        "Z1 scored in the first cycle"
    );
    // Newly resolved: one more, and 100 more stuck rows.
    sqlite_exec(
        &s.source,
        "INSERT INTO t VALUES ('Z2', 'PX', 'SO_TU_PHAP', '2026-03-02 08:00:00', \
         '2026-03-04 17:00:00', '2026-03-03 16:00:00', 'resolved', '2026-03-04 09:00:00');
         WITH RECURSIVE n(i) AS (SELECT 20000 UNION ALL SELECT i + 1 FROM n WHERE i < 20099)
         INSERT INTO t SELECT printf('A%05d', i), 'PX', 'SO_NNMT', '2026-03-02 08:00:00', \
         '2026-03-10 17:00:00', '2026-03-03 15:00:00', 'in_progress', '2026-03-04 09:00:00' FROM n",
    )
    .await;
    s.poller.poll(PollMode::Incremental).await.unwrap();
    for _ in 0..2 {
        s.evaluator.refresh(now).await.unwrap();
    }
    assert_eq!(resolved_early(&s), Some(2.0), "Z2 scored within two cycles");
    s.store.close().await;
}

#[tokio::test]
async fn resolved_dossiers_are_scored_behind_many_unscorable_on_sqlite() {
    resolved_dossiers_are_scored_behind_many_unscorable(None).await;
}

#[tokio::test]
async fn resolved_dossiers_are_scored_behind_many_unscorable_on_postgres() {
    let db = TestDb::create(Server::Postgres).await;
    resolved_dossiers_are_scored_behind_many_unscorable(Some(db.url())).await;
}
