//! The JSON API: the at-risk list with its filters and paging, and the report figures.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::app::TestApp;
use crate::helpers::db::{Server, TestDb};
use crate::helpers::eventually;

/// The same hand-worked dossiers as cli.rs, as of Wednesday 4 March 2026, 10:00 in Hanoi.
const SCHEMA: &str = "CREATE TABLE hs (id text PRIMARY KEY, p text, d text, r timestamp,
    due timestamp, done timestamp, st text, u timestamp);
INSERT INTO hs VALUES
 ('C', 'PX', 'SO_NNMT', '2026-02-23 08:00', '2026-03-03 17:00', NULL, 'in_progress', '2026-02-23 08:00'),
 ('D', 'PX', 'SO_NNMT', '2026-02-25 08:00', '2026-03-05 17:00', NULL, 'in_progress', '2026-02-25 08:00'),
 ('B', 'PX', 'SO_TU_PHAP', '2026-03-03 16:00', '2026-03-13 17:00', NULL, 'in_progress', '2026-03-03 16:00'),
 ('F', 'PX', 'SO_TU_PHAP', '2026-03-02 08:00', '2026-03-04 17:00', '2026-03-03 15:00', 'resolved', '2026-03-03 15:00')";

const AS_OF: &str = "2026-03-04T10:00:00%2B07:00";

async fn json(app: &TestApp, path: &str) -> (u16, Value) {
    let (status, body) = app.get(path).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

#[tokio::test]
async fn the_dossier_list_filters_pages_and_replays_a_past_instant() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    let app = TestApp::spawn(&format!(
        "[[source]]\nname = \"pg\"\nurl = \"{}\"\nquery = \"SELECT id AS dossier_id, p AS procedure_code, \
         d AS department, r AS received_at, due AS due_at, done AS resolved_at, st AS status, \
         u AS updated_at FROM hs WHERE u >= :watermark\"\n",
        db.url()
    ))
    .await;
    eventually("polled", Duration::from_secs(10), || async {
        app.metric(r#"hcc_source_up{source="pg"}"#).await == Some(1.0)
    })
    .await;

    let (status, all) = json(&app, &format!("/api/v1/dossiers?as_of={AS_OF}")).await;
    assert_eq!(status, 200);
    assert_eq!(all["total"], 3, "F was resolved before the instant");
    let ids: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["dossier_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["C", "D", "B"], "earliest deadline first");
    assert_eq!(all["items"][0]["sla_state"], "overdue");
    assert_eq!(all["items"][0]["left_working_secs"], -3 * 3600);
    let keys: Vec<&String> = all["items"][0].as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| !k.contains("name") || *k == "procedure_name"),
        "no personal data: {keys:?}"
    );

    let (_, nnmt) = json(
        &app,
        &format!("/api/v1/dossiers?as_of={AS_OF}&department=SO_NNMT&sla_state=at_risk"),
    )
    .await;
    assert_eq!(nnmt["total"], 1);
    assert_eq!(nnmt["items"][0]["dossier_id"], "D");

    let (_, page) = json(
        &app,
        &format!("/api/v1/dossiers?as_of={AS_OF}&limit=1&offset=1"),
    )
    .await;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(3), 1)
    );
    assert_eq!(page["items"][0]["dossier_id"], "D");

    let (bad, _) = json(&app, "/api/v1/dossiers?sla_state=late").await;
    assert_eq!(bad, 400);

    let (status, summary) =
        json(&app, &format!("/api/v1/summary?period=month&as_of={AS_OF}")).await;
    assert_eq!(status, 200);
    assert_eq!(summary["total"]["resolved"], 1);
    assert_eq!(summary["total"]["early"], 1);
    assert_eq!(summary["total"]["overdue"], 1);
    assert_eq!(summary["total"]["carried_over"], 2);
    // C overdue, D and B within their deadlines, F early: 20 × 3 / 4.
    assert_eq!(summary["total"]["progress_score"], 15.0);
    let (bad, _) = json(&app, "/api/v1/summary?period=month&period_start_day=31").await;
    assert_eq!(bad, 400);
    app.stop().await;
}
