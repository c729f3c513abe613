//! A pause keeps its credit once it ends, whether the monitor saw it begin or first saw the
//! dossier already paused.

use chrono::{DateTime, Utc};

use crate::evaluation::{NOW, Setup, setup};
use crate::helpers::db::sqlite_exec;
use hcc_monitor::source::PollMode;

const SCHEMA: &str = "CREATE TABLE t (id TEXT PRIMARY KEY, p TEXT, d TEXT, r TEXT, due TEXT,
    done TEXT, st TEXT, u TEXT)";

fn at(t: &str) -> DateTime<Utc> {
    t.parse().unwrap()
}

/// Each open dossier at `t`: (id, SLA state, due).
async fn open_at(s: &Setup, t: &str) -> Vec<(String, &'static str, Option<DateTime<Utc>>)> {
    let mut got: Vec<_> = s
        .evaluator
        .open_dossiers(at(t))
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.dossier_id, v.sla_state, v.due_at))
        .collect();
    got.sort();
    got
}

async fn apply(s: &Setup, changes: &str) {
    sqlite_exec(&s.source, changes).await;
    s.poller.poll(PollMode::Incremental).await.unwrap();
}

#[tokio::test]
async fn a_pause_first_seen_under_way_keeps_its_credit_like_one_seen_to_begin() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(
        dir.path(),
        None,
        &format!(
            "{SCHEMA}; INSERT INTO t VALUES ('A', 'PX', 'X', '2026-03-02 08:00:00',
             '2026-03-06 17:00:00', NULL, 'in_progress', '2026-03-02 08:00:00')"
        ),
        "",
    )
    .await;
    s.poller.poll(PollMode::Incremental).await.unwrap();
    // Tuesday 3/3 08:00: A is asked for a supplement as the monitor watches; B, identical, is
    // first seen already asked.
    apply(
        &s,
        "UPDATE t SET st = 'supplement_requested', u = '2026-03-03 08:00:00' WHERE id = 'A';
         INSERT INTO t VALUES ('B', 'PX', 'X', '2026-03-02 08:00:00', '2026-03-06 17:00:00', NULL,
             'supplement_requested', '2026-03-03 08:00:00')",
    )
    .await;
    // At 10:00, two paused working hours move Fri 17:00 to Mon 9/3 09:00.
    let paused = Some(at("2026-03-09T02:00:00Z"));
    assert_eq!(
        open_at(&s, "2026-03-03T03:00:00Z").await,
        vec![
            ("A".into(), "paused", paused),
            ("B".into(), "paused", paused)
        ]
    );
    // Both resume on Wednesday 4/3 08:00 after 8 paused working hours: due Mon 9/3 17:00, for B
    // too.
    apply(
        &s,
        "UPDATE t SET st = 'in_progress', u = '2026-03-04 08:00:00' WHERE id IN ('A', 'B')",
    )
    .await;
    let resumed = Some(at("2026-03-09T10:00:00Z"));
    let got = open_at(&s, NOW).await;
    assert_eq!(
        got.iter()
            .map(|(id, _, due)| (id.as_str(), *due))
            .collect::<Vec<_>>(),
        vec![("A", resumed), ("B", resumed)]
    );
    s.store.close().await;
}
