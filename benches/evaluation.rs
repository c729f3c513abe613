//! `cargo bench --bench evaluation`: the store side at scale, in one run on the embedded
//! default (SQLite store, SQLite source):
//! - initial full sync of a generated dossier database into the store (rows/s, wall time);
//! - the evaluation cycle (SLA engine over every open dossier, period counts, gauges), the first
//!   one scoring every resolved dossier, then steady cycles: target ≤ 1 s at 1,000,000 dossiers;
//! - rendering /metrics: target ≤ 20 ms;
//! - the JSON API through its router: a page of `/api/v1/dossiers` (cut in SQL), a deep page, a
//!   filter on the SLA state (which evaluates every open dossier), `/api/v1/summary`, and for
//!   comparison the list as it was built before paging in SQL (every open dossier evaluated);
//! - peak RSS of the process.
//!
//! `HCC_BENCH_ROWS` sets the number of dossiers (default 1,000,000). Medians of repeated runs;
//! the machine is shared, so compare figures from one run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hcc_monitor::calendar::Calendar;
use hcc_monitor::clock::SystemClock;
use hcc_monitor::config::Config;
use hcc_monitor::evaluate::Evaluator;
use hcc_monitor::metrics::Metrics;
use hcc_monitor::source::{PollMode, Poller};
use hcc_monitor::store::Store;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() {
    let rows: usize = std::env::var("HCC_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(rows));
}

async fn run(rows: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("source.db");
    let calendar = Arc::new(Calendar::from_settings(&Default::default()).expect("calendar"));
    let cal = calendar.clone();
    let due: hcc_monitor::demo::generator::DueFn = Arc::new(move |t, d| cal.add_working_days(t, d));
    let now = Utc::now();

    let started = Instant::now();
    // 60 days of history: about one dossier in ten is still open, as the target assumes.
    hcc_monitor::demo::fill(
        &format!("sqlite://{}?mode=rwc", source.display()),
        rows,
        60,
        now,
        calendar.time_zone(),
        due,
    )
    .await
    .expect("fill the source");
    let generated = started.elapsed();

    let text = hcc_monitor::demo::config_text(dir.path(), "127.0.0.1:0".parse().expect("address"));
    let config =
        Config::parse(std::path::Path::new("bench.toml"), &text, |_| None).expect("bench config");
    let store = Store::open_and_migrate(&config.store).await.expect("store");
    let metrics = Arc::new(Metrics::new());
    let poller = Poller::new(
        config.sources[0].clone(),
        store.clone(),
        metrics.clone(),
        Arc::new(SystemClock),
        config.deadlines(),
    )
    .expect("poller");

    let started = Instant::now();
    let report = poller
        .poll(PollMode::Incremental)
        .await
        .expect("initial sync");
    let sync = started.elapsed();

    let evaluator = Evaluator::new(&config, store.clone(), metrics.clone());
    let started = Instant::now();
    evaluator.refresh(now).await.expect("first cycle");
    let first_cycle = started.elapsed();
    let open = evaluator.open_dossiers(now).await.expect("open").len();

    let mut cycles = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        evaluator.refresh(Utc::now()).await.expect("cycle");
        cycles.push(started.elapsed());
    }
    // Where a steady cycle spends its time: each store read alone.
    let p = hcc_monitor::evaluate::periods(now, calendar.time_zone());
    let mut parts: Vec<(&str, Duration)> = Vec::new();
    macro_rules! part {
        ($name:expr, $call:expr) => {{
            let started = Instant::now();
            let _ = $call.await.expect($name);
            parts.push(($name, started.elapsed()));
        }};
    }
    part!("open_at", store.open_at(now));
    part!("pause_changes", store.pause_changes());
    part!("unscored", store.unscored(10_000));
    part!("resolved_counts", store.resolved_counts(p));
    part!("outcome_counts", store.outcome_counts(p.month_start, now));
    part!("received_counts", store.received_counts(p));
    part!("count_by_status", store.count_by_status());
    part!("due_change_totals", store.due_change_totals());

    let mut renders = Vec::new();
    let mut size = 0;
    for _ in 0..20 {
        let started = Instant::now();
        size = metrics.render().len();
        renders.push(started.elapsed());
    }

    let api = api_figures(&config, store.clone(), metrics.clone(), evaluator, now).await;

    let secs = |d: Duration| d.as_secs_f64();
    println!("hcc-monitor evaluation benchmark: {rows} dossiers, {open} open");
    println!("| step | figure | target |");
    println!("| --- | --- | --- |");
    println!(
        "| generate the source (demo generator) | {:.1} s, {:.0} rows/s | - |",
        secs(generated),
        rows as f64 / secs(generated)
    );
    println!(
        "| initial full sync source → SQLite store | {:.1} s, {:.0} rows/s ({} rows) | - |",
        secs(sync),
        report.rows as f64 / secs(sync),
        report.rows
    );
    println!(
        "| first evaluation cycle (scores every resolved dossier once) | {:.2} s | - |",
        secs(first_cycle)
    );
    println!(
        "| evaluation cycle, median of 5 | {:.3} s | ≤ 1 s |",
        secs(median(cycles))
    );
    println!(
        "| /metrics render, median of 20 | {:.2} ms ({} bytes) | ≤ 20 ms |",
        secs(median(renders)) * 1000.0,
        size
    );
    println!("| peak RSS | {:.0} MiB | ≤ 300 MiB |", peak_rss_mib());
    let breakdown: Vec<String> = parts
        .iter()
        .map(|(name, d)| format!("{name} {:.0} ms", secs(*d) * 1000.0))
        .collect();
    println!(
        "| store reads of one cycle | {} | - |",
        breakdown.join(", ")
    );
    for (what, d) in api {
        println!(
            "| {what}, median of {API_RUNS} | {:.1} ms | - |",
            secs(d) * 1000.0
        );
    }
}

const API_RUNS: usize = 11;

/// Each API call through the service's router, as a client would make it (JSON included).
async fn api_figures(
    config: &Config,
    store: Store,
    metrics: Arc<Metrics>,
    evaluator: Evaluator,
    now: chrono::DateTime<Utc>,
) -> Vec<(String, Duration)> {
    use tower::ServiceExt;
    let clock: Arc<dyn hcc_monitor::clock::Clock> = Arc::new(SystemClock);
    let evaluator = Arc::new(evaluator);
    let state = hcc_monitor::http::AppState {
        store: store.clone(),
        metrics: metrics.clone(),
        evaluator: evaluator.clone(),
        clock: clock.clone(),
        time_zone: config.service.time_zone,
        access: Arc::new(hcc_monitor::http::Access::new(&config.service)),
        handoffs: Arc::new(hcc_monitor::handoff::Handoffs::new(
            Vec::new(),
            store,
            config.calendar.clone(),
            metrics,
            clock,
        )),
        reloads: tokio::sync::mpsc::channel(1).0,
        leadership: hcc_monitor::ha::Leadership::sole(),
    };
    let router = hcc_monitor::http::router(state);
    let mut figures = Vec::new();
    for path in [
        "/api/v1/dossiers?limit=100",
        "/api/v1/dossiers?limit=100&offset=100000",
        "/api/v1/dossiers?limit=100&sla_state=overdue",
        "/api/v1/summary",
    ] {
        let mut runs = Vec::new();
        for _ in 0..API_RUNS {
            let request = axum::http::Request::get(path)
                .body(axum::body::Body::empty())
                .expect("request");
            let started = Instant::now();
            let response = router.clone().oneshot(request).await.expect("response");
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            runs.push(started.elapsed());
        }
        figures.push((format!("GET {path}"), median(runs)));
    }
    let mut runs = Vec::new();
    for _ in 0..API_RUNS {
        let started = Instant::now();
        let all = evaluator.open_dossiers(now).await.expect("open");
        let page: Vec<_> = all.into_iter().take(100).collect();
        serde_json::to_vec(&page).expect("json");
        runs.push(started.elapsed());
    }
    figures.push((
        "the first 100 dossiers as built before paging in SQL (every open one evaluated)"
            .to_owned(),
        median(runs),
    ));
    figures
}
