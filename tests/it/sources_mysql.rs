//! A MariaDB source with English column names, numeric vendor status codes, `DATETIME` and
//! `TIMESTAMP` columns.

use hcc_monitor::dossier::{Channel, Status};
use hcc_monitor::source::PollMode;

use crate::helpers::app::poller;
use crate::helpers::db::{Server, TestDb};

const SCHEMA: &str = "CREATE TABLE dossier_registry (
    code VARCHAR(30) PRIMARY KEY, proc VARCHAR(20) NOT NULL, dept VARCHAR(20),
    kenh TINYINT, received DATETIME NOT NULL, deadline DATETIME NULL, finished DATETIME NULL,
    state INT NOT NULL, modified TIMESTAMP NOT NULL) DEFAULT CHARSET = utf8mb4;
INSERT INTO dossier_registry VALUES
 ('GT-1', '1.002345', 'CONG_AN', 1, '2026-04-20 07:30:00', '2026-04-29 07:30:00', NULL, 20, '2026-04-20 07:30:00'),
 ('GT-2', '1.002345', 'CONG_AN', 2, '2026-04-20 08:00:00', '2026-04-29 08:00:00', '2026-04-24 16:00:00', 90, '2026-04-24 16:00:00')";

fn source(url: &str) -> String {
    format!(
        r#"[[source]]
name = "maria"
url = "{url}"
watermark_overlap_secs = 0
query = """
SELECT code AS dossier_id, proc AS procedure_code, dept AS department, kenh AS channel,
       received AS received_at, deadline AS due_at, finished AS resolved_at,
       state AS status, modified AS updated_at
FROM dossier_registry WHERE modified >= :watermark
"""
[source.status_map]
10 = "received"
20 = "in_progress"
50 = "supplement_requested"
90 = "resolved"
"#
    )
}

#[tokio::test]
async fn mariadb_rows_with_numeric_codes_are_mapped_and_followed_incrementally() {
    let db = TestDb::create(Server::MySql).await;
    db.exec(SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, store, _) = poller(dir.path(), &source(&db.url())).await;

    let first = poller
        .poll(PollMode::Incremental)
        .await
        .expect("poll succeeds");
    assert_eq!(first.rows, 2);
    assert_eq!(first.watermark.as_deref(), Some("2026-04-24 16:00:00"));
    let gt1 = store
        .dossier("maria", "GT-1")
        .await
        .unwrap()
        .unwrap()
        .dossier;
    assert_eq!(gt1.status, Status::InProgress);
    assert_eq!(gt1.raw_status, "20");
    assert_eq!(gt1.channel, Channel::Direct);
    assert_eq!(
        gt1.received_at,
        "2026-04-20T00:30:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
    let gt2 = store
        .dossier("maria", "GT-2")
        .await
        .unwrap()
        .unwrap()
        .dossier;
    assert_eq!(gt2.status, Status::Resolved);

    db.exec("UPDATE dossier_registry SET state = 50, modified = '2026-04-27 09:00:00' WHERE code = 'GT-1'")
        .await;
    let second = poller.poll(PollMode::Incremental).await.unwrap();
    assert_eq!(
        second.rows, 2,
        "the changed row and the one at the old watermark"
    );
    let gt1 = store
        .dossier("maria", "GT-1")
        .await
        .unwrap()
        .unwrap()
        .dossier;
    assert_eq!(gt1.status, Status::SupplementRequested);
}

#[tokio::test]
async fn a_mariadb_query_slower_than_its_timeout_is_abandoned_and_counted() {
    let db = TestDb::create(Server::MySql).await;
    db.exec(SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    let sources = source(&db.url())
        .replace(
            "WHERE modified >= :watermark",
            "WHERE modified >= :watermark AND SLEEP(5) = 0",
        )
        .replace(
            "watermark_overlap_secs = 0",
            "watermark_overlap_secs = 0\ntimeout_secs = 2\nstatement_timeout_secs = 1",
        );
    let (poller, _, metrics) = poller(dir.path(), &sources).await;
    let started = std::time::Instant::now();
    let err = poller
        .poll(PollMode::Incremental)
        .await
        .expect_err("too slow");
    assert_eq!(err.kind(), "timeout", "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(
        metrics
            .source_poll_errors
            .with_label_values(&["maria", "timeout"])
            .get(),
        1
    );
}
