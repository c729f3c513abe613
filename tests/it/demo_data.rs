//! The demo generator fills every dialect, and what it writes reads back through the demo's
//! own source query.

use std::sync::Arc;

use hcc_monitor::dossier::Status;
use hcc_monitor::source::PollMode;

use crate::helpers::app::poller;
use crate::helpers::db::{Server, TestDb};

async fn fill_and_poll(url: String) {
    let calendar =
        Arc::new(hcc_monitor::calendar::Calendar::from_settings(&Default::default()).unwrap());
    let due: hcc_monitor::demo::generator::DueFn =
        Arc::new(move |t, d| calendar.add_working_days(t, d));
    let now = chrono::Utc::now();
    hcc_monitor::demo::fill(
        &url,
        1500,
        60,
        now,
        chrono_tz::Asia::Ho_Chi_Minh,
        due.clone(),
    )
    .await
    .expect("fill");
    // A second fill adds rows with fresh ids instead of colliding.
    hcc_monitor::demo::fill(&url, 500, 60, now, chrono_tz::Asia::Ho_Chi_Minh, due)
        .await
        .expect("fill again");
    let demo = include_str!("../../src/demo/demo.toml");
    let sources = demo[demo.find("[[source]]").unwrap()..demo.find("[departments]").unwrap()]
        .replace("sqlite://{{dir}}/source.db", &url)
        .replace("{{query}}", hcc_monitor::demo::db::SOURCE_QUERY);
    let dir = tempfile::tempdir().unwrap();
    let (poller, store, _) = poller(dir.path(), &sources).await;
    let report = poller.poll(PollMode::Incremental).await.expect("poll");
    assert_eq!((report.rows, report.rejected), (2000, 0));
    let counts = store.count_by_status().await.unwrap();
    for status in [
        Status::InProgress,
        Status::Returned,
        Status::SupplementRequested,
    ] {
        let n: i64 = counts
            .iter()
            .filter(|c| c.status == status.as_str())
            .map(|c| c.count)
            .sum();
        assert!(n > 0, "the demo data has {status} dossiers: {counts:?}");
    }
}

#[tokio::test]
async fn demo_data_fills_postgres_and_reads_back() {
    let db = TestDb::create(Server::Postgres).await;
    fill_and_poll(db.url()).await;
}

#[tokio::test]
async fn demo_data_fills_mariadb_and_reads_back() {
    let db = TestDb::create(Server::MySql).await;
    fill_and_poll(db.url()).await;
}

/// The demo's centre and Sở Xây dựng's own system, both polled: the year's report counts every
/// dossier once, as many as the distinct dossier codes the two systems hold between them.
#[tokio::test]
async fn the_demo_report_counts_each_dossier_once_across_its_two_systems() {
    use chrono::TimeZone;
    use hcc_monitor::evaluate::{Evaluator, Period};
    use sqlx::Connection;

    let dir = tempfile::tempdir().unwrap();
    let now = chrono_tz::Asia::Ho_Chi_Minh
        .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    crate::helpers::app::demo_databases(dir.path(), 1500, now).await;
    let text = hcc_monitor::demo::config_text(dir.path(), "127.0.0.1:0".parse().unwrap());
    let config = hcc_monitor::config::Config::parse(&dir.path().join("demo.toml"), &text, |_| None)
        .expect("the demo config is valid");
    let store = hcc_monitor::store::Store::open_and_migrate(&config.store)
        .await
        .unwrap();
    let metrics = Arc::new(hcc_monitor::metrics::Metrics::new());
    for source in &config.sources {
        hcc_monitor::source::Poller::new(
            source.clone(),
            store.clone(),
            metrics.clone(),
            Arc::new(hcc_monitor::clock::FixedClock(now)),
            config.deadlines(),
        )
        .unwrap()
        .poll(PollMode::Incremental)
        .await
        .expect("poll");
    }
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}/store.db", dir.path().display()))
            .await
            .unwrap();
    let (rows, department_rows, distinct): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), SUM(source = 'so-xay-dung'), COUNT(DISTINCT dossier_id) FROM dossiers",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(
        department_rows > 100 && rows == distinct + department_rows,
        "the department's system holds {department_rows} of the centre's dossiers again"
    );
    let evaluator = Evaluator::new(&config, store.clone(), metrics);
    let report = hcc_monitor::report::build(
        &store,
        &evaluator,
        Period::Year,
        config.reporting.period_start_day,
        now,
    )
    .await
    .unwrap();
    assert_eq!(report.total.received as i64, distinct);
    assert_eq!(
        report.total.carried_over, 0,
        "sixty days of history, all this year"
    );
    let channels =
        report.total.online + report.total.direct_or_postal + report.total.unknown_channel;
    assert_eq!(channels, report.total.received);
}

#[tokio::test]
async fn the_demo_on_an_existing_folder_serves_and_probes_on_the_new_port() {
    let dir = tempfile::tempdir().unwrap();
    let calendar =
        Arc::new(hcc_monitor::calendar::Calendar::from_settings(&Default::default()).unwrap());
    let due: hcc_monitor::demo::generator::DueFn =
        Arc::new(move |t, d| calendar.add_working_days(t, d));
    let now = chrono::Utc::now();
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    for port in [19464u16, 29464] {
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let path = hcc_monitor::demo::prepare(dir.path(), listen, 100, now, tz, due.clone())
            .await
            .expect("the demo folder is prepared");
        let config = hcc_monitor::config::Config::load(&path).expect("the demo config loads");
        assert_eq!(
            config.service.listen, listen,
            "the second run moves the service"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let targets = hcc_monitor::demo::targets::TargetAddrs::after(listen);
        assert!(
            text.contains(&targets.kiosk.to_string()),
            "the probes follow it: {text}"
        );
    }
}
