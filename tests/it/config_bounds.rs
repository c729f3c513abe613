//! Random values, extremes first, for every numeric key of the config: each is either refused
//! with a problem that names the key and what is allowed, or the service built from it starts
//! and stops cleanly and its first source polls. No value may panic or abort.
//!
//! `HCC_PROPTEST_CASES` sets the number of cases (default 48, a few seconds); the bench runs
//! 10,000 (`HCC_PROPTEST_CASES=10000 cargo test --test it numeric_keys`).

use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hcc_monitor::app::Application;
use hcc_monitor::clock::SystemClock;
use hcc_monitor::config::{Config, ConfigError};
use hcc_monitor::metrics::Metrics;
use hcc_monitor::source::{PollMode, Poller};
use hcc_monitor::store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use tokio_util::sync::CancellationToken;

use crate::helpers::db::sqlite_exec;

/// Every numeric key, named as problems name it, and whether TOML gives it as a float.
const KEYS: &[(&str, bool)] = &[
    ("service.shutdown_grace_secs", false),
    ("store.max_connections", false),
    ("store.source_connections", false),
    ("sla.due_soon_working_hours", false),
    ("sla.due_soon_fraction", true),
    ("sla.at_risk_fraction", true),
    ("source[0].watermark_overlap_secs", false),
    ("source[0].max_connections", false),
    ("source[0].timeout_secs", false),
    ("source[0].statement_timeout_secs", false),
    ("source[0].connect_timeout_secs", false),
    ("source[0].batch_rows", false),
    ("source[0].page_rows", false),
    ("probe[0].timeout_secs", false),
    ("probe[1].timeout_secs", false),
    ("software[0].timeout_secs", false),
    ("handoff[0].stuck_after_working_hours", false),
    ("escalation.level[0].working_hours_left_at_most", false),
    ("escalation.level[0].fraction_used_at_least", true),
    ("escalation.level[0].repeat_every_working_hours", false),
    ("reporting.period_start_day", false),
    ("report[0].period_start_day", false),
    ("mail.port", false),
    ("mail.pool_size", false),
    ("mail.timeout_secs", false),
    ("mail.max_attempts", false),
    ("mail.retry_initial_secs", false),
    ("mail.retry_max_secs", false),
    ("metrics.max_procedure_labels", false),
    ("metrics.max_department_labels", false),
    ("ha.lease_secs", false),
    ("ha.renew_secs", false),
];

/// A value as written in TOML.
#[derive(Debug, Clone)]
enum Value {
    Int(i128),
    Float(f64),
}

impl Value {
    fn toml(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Float(f) if f.is_nan() => "nan".into(),
            Value::Float(f) if f.is_infinite() => if *f > 0.0 { "inf" } else { "-inf" }.into(),
            Value::Float(f) => format!("{f:?}"),
        }
    }
}

fn int_extremes() -> Vec<i128> {
    let mut v: Vec<i128> = vec![
        0, 1, 2, 7, 28, 29, 1_000, 1_001, 3_600, 3_601, 86_400, 86_401,
    ];
    v.extend([65_535, 65_536, 1_000_000, 1_000_001, 10_000, 10_001]);
    v.extend([u32::MAX.into(), i128::from(u32::MAX) + 1, i64::MAX.into()]);
    v.extend([1 << 63, u64::MAX.into(), -1, i64::MIN.into()]);
    v
}

fn value(float_key: bool) -> impl Strategy<Value = Value> {
    let ints = prop_oneof![
        4 => proptest::sample::select(int_extremes()).prop_map(Value::Int),
        1 => any::<i64>().prop_map(|v| Value::Int(v.into())),
        1 => any::<u64>().prop_map(|v| Value::Int(v.into())),
        1 => (0i128..100_000).prop_map(Value::Int),
    ];
    let floats = prop_oneof![
        4 => proptest::sample::select(vec![
            0.0, 1.0, 0.5, 1.5, -0.5, 1e-308, 1e308, -1e308, f64::INFINITY, f64::NEG_INFINITY,
            f64::NAN, f64::MAX, f64::MIN_POSITIVE,
        ])
        .prop_map(Value::Float),
        1 => any::<f64>().prop_map(Value::Float),
        1 => (0.0f64..2.0).prop_map(Value::Float),
    ];
    // Each key also gets values of the other TOML type now and then.
    match float_key {
        true => prop_oneof![3 => floats, 1 => ints].boxed(),
        false => prop_oneof![3 => ints, 1 => floats].boxed(),
    }
}

/// A config that sets every section the numeric keys live in, with `key = value` added to the
/// section of `key`.
fn config_text(dir: &Path, key: &str, value: &str) -> String {
    let line = |k: &str| match key.rsplit_once('.') {
        Some((section, name)) if section == k => format!("{name} = {value}\n"),
        _ => String::new(),
    };
    let d = dir.display();
    let query = "SELECT id AS dossier_id, tt AS procedure_code, dv AS department, \
                 nhan AS received_at, trang_thai AS status, sua AS updated_at \
                 FROM hs WHERE sua >= :watermark";
    format!(
        r#"[service]
listen = "127.0.0.1:0"
{service}
[store]
url = "sqlite://{d}/store.db"
{store}
[sla]
{sla}
[reporting]
{reporting}
[metrics]
{metrics}
[recipients]
centre_director = ["giam-doc@example.gov.vn"]

[mail]
transport = "smtp"
host = "127.0.0.1"
tls = "plain"
from = "hcc <hcc@example.gov.vn>"
{mail}
[[source]]
name = "a"
url = "sqlite://{d}/a.db"
query = "{query}"
{source}
[[source]]
name = "b"
url = "sqlite://{d}/b.db"
query = "{query}"

[[probe]]
name = "tcp"
group = "queue_machine"
kind = "tcp"
target = "127.0.0.1:9"
{probe0}
[[probe]]
name = "web"
group = "portal"
kind = "http"
url = "http://127.0.0.1:9/healthz"
{probe1}
[[software]]
system = "motcua"
kind = "http"
url = "http://127.0.0.1:9/errors"
{software}
[[handoff]]
from = "a"
to = "b"
transferred_status = "in_progress"
{handoff}
[[escalation.level]]
name = "director"
sla_state = "overdue"
notify = ["centre_director"]
{level}
[[report]]
name = "monthly"
period = "month"
schedule = "0 0 16 * * Fri"
notify = ["centre_director"]
{report}
[ha]
{ha}"#,
        service = line("service"),
        store = line("store"),
        sla = line("sla"),
        reporting = line("reporting"),
        metrics = line("metrics"),
        mail = line("mail"),
        source = line("source[0]"),
        probe0 = line("probe[0]"),
        probe1 = line("probe[1]"),
        software = line("software[0]"),
        handoff = line("handoff[0]"),
        level = line("escalation.level[0]"),
        report = line("report[0]"),
        ha = line("ha"),
    )
}

/// How problems state a range or a rule between keys (statement_timeout_secs against
/// timeout_secs, retry_max_secs against retry_initial_secs).
const RANGE_WORDS: &[&str] = &[
    "allowed",
    "must be greater than 0",
    "expected a fraction in",
    "is longer than",
    "is less than",
];

/// What a refusal must say: the key, and the range or the rule the value broke.
fn check_refusal(key: &str, value: &str, err: &ConfigError) -> Result<(), String> {
    match err {
        // A value of the wrong type or beyond the TOML type's range: a problem of that key
        // naming the type expected (and its line).
        ConfigError::Invalid { problems, .. }
            if problems.iter().any(|p| {
                p.key == key && p.message.contains("expected") && p.message.contains("(line ")
            }) =>
        {
            Ok(())
        }
        ConfigError::Invalid { problems, .. }
            if problems
                .iter()
                .any(|p| p.key == key && RANGE_WORDS.iter().any(|s| p.message.contains(s))) =>
        {
            Ok(())
        }
        other => Err(format!(
            "{key} = {value} was refused without naming the key and its range: {other}"
        )),
    }
}

#[test]
fn numeric_keys_take_any_value_without_a_panic_or_an_abort() {
    let cases = std::env::var("HCC_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // One store for every case (each run releases it): migrating a fresh one per case would be
    // most of the test's time.
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(sqlite_exec(
        &format!("sqlite://{}/a.db?mode=rwc", dir.path().display()),
        "CREATE TABLE hs (id TEXT PRIMARY KEY, tt TEXT, dv TEXT, nhan TEXT, trang_thai INT,
            sua TEXT);\n\
         INSERT INTO hs VALUES ('A-1', 'P1', 'SO_TU_PHAP', '2026-05-04 08:00:00', 4,
            '2026-05-04 08:00:00');\n",
    ));
    let strategy = proptest::sample::select(KEYS)
        .prop_flat_map(|(key, float)| value(float).prop_map(move |v| (key, v)));
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let (accepted, refused) = (Cell::new(0u32), Cell::new(0u32));
    runner
        .run(&strategy, |(key, value)| {
            let value = value.toml();
            let text = config_text(dir.path(), key, &value);
            match Config::parse(&dir.path().join("hcc-monitor.toml"), &text, |_| None) {
                Err(e) => {
                    refused.set(refused.get() + 1);
                    check_refusal(key, &value, &e).map_err(TestCaseError::fail)
                }
                Ok(config) => {
                    accepted.set(accepted.get() + 1);
                    runtime
                        .block_on(start_and_stop(config))
                        .map_err(|e| TestCaseError::fail(format!("{key} = {value}: {e}")))
                }
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{cases} cases: {} accepted and run, {} refused",
        accepted.get(),
        refused.get()
    );
}

/// Builds the service and stops it at once, as `run` and SIGTERM would; then polls the first
/// source once, where its timeouts, pool and batch size meet the driver.
async fn start_and_stop(config: Config) -> Result<(), String> {
    let app = Application::build(config.clone(), Arc::new(SystemClock))
        .await
        .map_err(|e| format!("the service did not build: {e}"))?;
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), app.run_until_stopped(shutdown))
        .await
        .map_err(|_| "the service did not stop within 30 s".to_string())?
        .map_err(|e| format!("the service did not stop cleanly: {e}"))?;
    let store = Store::open_and_migrate(&config.store)
        .await
        .map_err(|e| format!("the store did not open: {e}"))?;
    let poller = Poller::new(
        config.sources[0].clone(),
        store.clone(),
        Arc::new(Metrics::new()),
        Arc::new(SystemClock),
        config.deadlines(),
    )
    .map_err(|e| format!("the poller did not build: {e}"))?;
    let polled = poller.poll(PollMode::Incremental).await;
    store.close().await;
    polled
        .map(drop)
        .map_err(|e| format!("the poll failed: {e}"))
}
