//! Replays (`--as-of`, the API's `as_of`) give each dossier the status and deadline it had at the
//! instant, from the history the store recorded; and a pause keeps its credit once it ends,
//! whether the monitor saw it begin or first saw the dossier already paused.

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
    // The API's page (cut in SQL for the present) replays the same way.
    let page = s
        .evaluator
        .open_page(at(t), Default::default(), None, 100, 0)
        .await
        .unwrap();
    let mut paged: Vec<_> = page
        .items
        .into_iter()
        .map(|v| (v.dossier_id, v.sla_state, v.due_at))
        .collect();
    paged.sort();
    assert_eq!(paged, got, "the API's page at {t}");
    assert_eq!(page.total, got.len());
    got
}

async fn apply(s: &Setup, changes: &str) {
    sqlite_exec(&s.source, changes).await;
    s.poller.poll(PollMode::Incremental).await.unwrap();
}

#[tokio::test]
async fn a_replay_gives_the_status_and_due_each_dossier_had_then() {
    let dir = tempfile::tempdir().unwrap();
    let s = setup(
        dir.path(),
        None,
        &format!(
            "{SCHEMA}; INSERT INTO t VALUES
 ('P1', 'PX', 'X', '2026-02-26 08:00:00', '2026-03-10 17:00:00', NULL, 'in_progress', '2026-02-26 08:00:00'),
 ('W', 'PX', 'X', '2026-02-27 08:00:00', '2026-03-10 17:00:00', NULL, 'in_progress', '2026-02-27 08:00:00'),
 ('R', 'PX', 'X', '2026-02-27 08:00:00', '2026-03-10 17:00:00', NULL, 'in_progress', '2026-02-27 08:00:00'),
 ('D', 'PX', 'X', '2026-02-26 08:00:00', '2026-03-03 17:00:00', NULL, 'in_progress', '2026-02-26 08:00:00')"
        ),
        "",
    )
    .await;
    s.poller.poll(PollMode::Incremental).await.unwrap();
    // On 3/3 R is resolved and D re-appointed; on 3/4 P1 is asked for a supplement (seen as it
    // happens), P2 is first seen already asked that morning, and W is withdrawn.
    apply(
        &s,
        "UPDATE t SET st = 'resolved', done = '2026-03-03 15:00:00', u = '2026-03-03 15:00:00' WHERE id = 'R';
         UPDATE t SET due = '2026-03-10 17:00:00', u = '2026-03-03 16:00:00' WHERE id = 'D';
         UPDATE t SET st = 'supplement_requested', u = '2026-03-04 09:00:00' WHERE id = 'P1';
         INSERT INTO t VALUES ('P2', 'PX', 'X', '2026-02-26 08:00:00', '2026-03-10 17:00:00', NULL,
             'supplement_requested', '2026-03-04 09:00:00');
         UPDATE t SET st = 'withdrawn', u = '2026-03-04 09:00:00' WHERE id = 'W'",
    )
    .await;
    let due = |t: &str| Some(at(t));
    let on_10_3 = due("2026-03-10T10:00:00Z");
    // Monday 2/3 09:00: nothing paused yet, W and R still open, D due on its first date (Tue
    // 3/3 17:00): 2.5 + 3.5 + 8 = 14 working hours left of 31.
    assert_eq!(
        open_at(&s, "2026-03-02T02:00:00Z").await,
        vec![
            ("D".into(), "on_track", due("2026-03-03T10:00:00Z")),
            ("P1".into(), "on_track", on_10_3),
            ("P2".into(), "on_track", on_10_3),
            ("R".into(), "on_track", on_10_3),
            ("W".into(), "on_track", on_10_3),
        ]
    );
    // Wednesday 4/3 10:00: both asked since 09:00 (one working hour of credit), W and R gone,
    // D on its new date.
    let paused_due = due("2026-03-11T01:00:00Z");
    assert_eq!(
        open_at(&s, NOW).await,
        vec![
            ("D".into(), "on_track", on_10_3),
            ("P1".into(), "paused", paused_due),
            ("P2".into(), "paused", paused_due),
        ]
    );
    s.store.close().await;
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
