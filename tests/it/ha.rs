//! Several instances on one store (issue 14): outbox claims that keep every email to one
//! sender, and the leader's lease on PostgreSQL.

use std::collections::HashSet;

use chrono::{DateTime, Duration as Span, Utc};
use hcc_monitor::config::{Secret, StoreConfig};
use hcc_monitor::store::{Attempt, Store};

use crate::helpers::db::{Server, TestDb};
use crate::helpers::smtp::queued_email;

async fn pg_store(db: &TestDb, connections: u32) -> Store {
    Store::open_and_migrate(&StoreConfig {
        url: Secret::new(db.url()),
        max_connections: connections,
        source_connections: 1,
    })
    .await
    .unwrap()
}

/// Claims every due row as `sender`, recording each as sent, and returns their keys.
async fn claim_all(store: Store, sender: &'static str, now: DateTime<Utc>) -> Vec<String> {
    let mut keys = Vec::new();
    while let Some(row) = store
        .claim_due_message(sender, now, now + Span::seconds(30))
        .await
        .unwrap()
    {
        // A send takes a moment: the other sender claims meanwhile.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        store
            .record_attempt(&row.message_key, sender, Attempt::Sent, now)
            .await
            .unwrap();
        keys.push(row.message_key);
    }
    keys
}

#[tokio::test]
async fn two_senders_draining_one_postgresql_outbox_at_once_never_take_the_same_email() {
    let db = TestDb::create(Server::Postgres).await;
    let store = pg_store(&db, 4).await;
    let now = Utc::now();
    let emails: Vec<_> = (0..200)
        .map(|i| queued_email(&format!("m{i}"), "a@x.vn"))
        .collect();
    store.enqueue(&emails, now).await.unwrap();
    let (a, b) = tokio::join!(
        tokio::spawn(claim_all(store.clone(), "a", now)),
        tokio::spawn(claim_all(store.clone(), "b", now)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both took part: {} and {}",
        a.len(),
        b.len()
    );
    let a_set: HashSet<_> = a.iter().collect();
    let both: Vec<_> = b.iter().filter(|k| a_set.contains(k)).collect();
    assert!(both.is_empty(), "claimed by both: {both:?}");
    assert_eq!(a.len() + b.len(), 200);
    store.close().await;
}

/// A sender that dies (or stalls) mid-send: its claim lapses, another takes the row over with
/// the same Message-ID and is told whose claim it was; the stalled one, waking up, cannot undo
/// the new sender's record.
async fn a_lapsed_claim_passes_to_the_next_sender(store: &Store) {
    let now = Utc::now();
    store
        .enqueue(&[queued_email("slow", "a@x.vn")], now)
        .await
        .unwrap();
    let first = store
        .claim_due_message("a", now, now + Span::seconds(10))
        .await
        .unwrap()
        .expect("due");
    assert_eq!(first.reclaimed_from, None);
    assert!(
        store
            .claim_due_message("b", now + Span::seconds(5), now + Span::seconds(15))
            .await
            .unwrap()
            .is_none(),
        "a's claim still holds"
    );
    let later = now + Span::seconds(11);
    let second = store
        .claim_due_message("b", later, later + Span::seconds(10))
        .await
        .unwrap()
        .expect("a's claim lapsed");
    assert_eq!(second.message_id, first.message_id);
    assert_eq!(second.reclaimed_from.as_deref(), Some("a"));
    // a wakes up and records a failure: the row is b's now, so nothing changes.
    let failed = Attempt::Failed {
        class: "timeout",
        next: later,
        dead: true,
    };
    store
        .record_attempt(&first.message_key, "a", failed, later)
        .await
        .unwrap();
    store
        .record_attempt(&second.message_key, "b", Attempt::Sent, later)
        .await
        .unwrap();
    let rows = store.outbox_latest(10).await.unwrap();
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("sent", 1));
    assert!(
        store
            .claim_due_message("a", later, later + Span::seconds(10))
            .await
            .unwrap()
            .is_none(),
        "sent: nobody claims it again"
    );
}

#[tokio::test]
async fn a_lapsed_claim_passes_to_the_next_sender_on_postgresql() {
    let db = TestDb::create(Server::Postgres).await;
    let store = pg_store(&db, 2).await;
    a_lapsed_claim_passes_to_the_next_sender(&store).await;
    store.close().await;
}

#[tokio::test]
async fn a_lapsed_claim_passes_to_the_next_sender_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_and_migrate(&StoreConfig {
        url: Secret::new(format!(
            "sqlite://{}",
            dir.path().join("store.db").display()
        )),
        max_connections: 2,
        source_connections: 1,
    })
    .await
    .unwrap();
    a_lapsed_claim_passes_to_the_next_sender(&store).await;
    store.close().await;
}
