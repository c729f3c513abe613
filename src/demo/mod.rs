//! `hcc-monitor demo`: a realistic demo centre. It creates a SQLite dossier database with the
//! one-stop system's error log, a department's own system that the centre hands dossiers over
//! to, serves equipment to probe (`targets`), keeps a live trickle of new and changing dossiers,
//! handovers and errors, and runs the service on the embedded default. The same generator fills
//! PostgreSQL or MariaDB for benchmarks.

pub mod catalog;
pub mod db;
pub mod department;
pub mod error_log;
pub mod generator;
pub mod targets;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::{CronSchedule, Dialect};
use crate::scheduler::Job;
use generator::{DueFn, Generator};
use targets::TargetAddrs;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot write the demo files in {path}: {source}")]
    Files {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the demo database {url} failed: {source}")]
    Database { url: String, source: sqlx::Error },
    #[error("{0} is not a PostgreSQL, MySQL/MariaDB or SQLite URL")]
    Url(String),
    #[error("cannot listen on {addr} for a demo probe target: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot make the kiosk's self-signed certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot set up the kiosk's TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// Dossiers rejected on purpose, so the demo shows rejected-row metrics and logs.
const BAD_ROWS: usize = 3;
const ROWS_PER_INSERT: usize = 1000;

/// Days of history in the demo's databases.
const HISTORY_DAYS: i64 = 60;

/// Creates, if missing, the demo's databases and its config; returns the config's path.
/// Existing files are kept, so a restarted demo goes on where it stopped.
pub async fn prepare(
    dir: &Path,
    listen: SocketAddr,
    dossiers: usize,
    now: DateTime<Utc>,
    tz: Tz,
    due: DueFn,
) -> Result<PathBuf, DemoError> {
    create_databases(dir, dossiers, now, tz, due).await?;
    // The config names its files by absolute path: relative ones would be read against the
    // config's own folder, which `dir` already is.
    let dir = &std::path::absolute(dir).map_err(files(dir))?;
    // Written at every start: the service's port and the probe targets after it both follow
    // --listen, so a config kept from an earlier run on another port would probe nothing.
    let config = dir.join("hcc-monitor.toml");
    std::fs::write(&config, config_text(dir, listen)).map_err(files(dir))?;
    Ok(config)
}

/// Creates in `dir` what is missing of: the centre's source `source.db` (`dossiers` over the
/// last 60 days as of `now`, a few bad rows, and the error log `nhat_ky_loi`) and the
/// department's `department.db` (what the centre handed over to it).
pub async fn create_databases(
    dir: &Path,
    dossiers: usize,
    now: DateTime<Utc>,
    tz: Tz,
    due: DueFn,
) -> Result<(), DemoError> {
    std::fs::create_dir_all(dir).map_err(files(dir))?;
    let source = dir.join("source.db");
    let url = sqlite_url(&source, "rwc");
    if !source.exists() {
        fill(&url, dossiers, HISTORY_DAYS, now, tz, due.clone()).await?;
        add_bad_rows(&url, now, tz).await?;
    }
    let centre = connect(&url).await?;
    let mut generator = Generator::new(11, tz, due);
    error_log::create(&centre, &mut generator, now, HISTORY_DAYS, tz)
        .await
        .map_err(failed(&url))?;
    let department = dir.join("department.db");
    if !department.exists() {
        let department_url = sqlite_url(&department, "rwc");
        let pool = connect(&department_url).await?;
        department::create(&centre, &pool)
            .await
            .map_err(failed(&department_url))?;
        pool.close().await;
    }
    centre.close().await;
    Ok(())
}

/// A demo SQLite database's URL; `mode` is `rwc` to create it, `rw` to require it.
fn sqlite_url(path: &Path, mode: &str) -> String {
    format!("sqlite://{}?mode={mode}", path.display())
}

fn files(dir: &Path) -> impl FnOnce(std::io::Error) -> DemoError {
    move |source| DemoError::Files {
        path: dir.to_path_buf(),
        source,
    }
}

fn failed(url: &str) -> impl Fn(sqlx::Error) -> DemoError {
    let url = crate::config::redact_url(url);
    move |source| DemoError::Database {
        url: url.clone(),
        source,
    }
}

async fn connect(url: &str) -> Result<sqlx::AnyPool, DemoError> {
    db::connect(url).await.map_err(failed(url))
}

/// The demo's configuration for the demo folder `dir` (its databases are `dir/source.db` and
/// `dir/department.db`), with its probe targets on the four ports after `listen`'s; tests and
/// benchmarks run the service on exactly this.
pub fn config_text(dir: &Path, listen: SocketAddr) -> String {
    config_text_with_targets(dir, listen, &TargetAddrs::after(listen))
}

/// The demo's configuration with its probe targets at `targets` (tests serve them on ports the
/// system picks).
pub fn config_text_with_targets(dir: &Path, listen: SocketAddr, targets: &TargetAddrs) -> String {
    include_str!("demo.toml")
        .replace("{{dir}}", &dir.display().to_string())
        .replace("{{listen}}", &listen.to_string())
        .replace("{{query}}", db::SOURCE_QUERY)
        .replace("{{portal}}", &targets.portal.to_string())
        .replace("{{kiosk}}", &targets.kiosk.to_string())
        .replace("{{queue_machine}}", &targets.queue_machine.to_string())
        .replace("{{undelivered}}", &targets.undelivered.to_string())
}

/// Fills the `ho_so` table at `url` with `rows` dossiers received over the last `span_days`
/// (creating the table if needed): the demo's history, or a benchmark's data set.
pub async fn fill(
    url: &str,
    rows: usize,
    span_days: i64,
    now: DateTime<Utc>,
    tz: Tz,
    due: DueFn,
) -> Result<(), DemoError> {
    let dialect =
        Dialect::from_url(url).ok_or_else(|| DemoError::Url(crate::config::redact_url(url)))?;
    let failed = failed(url);
    let pool = connect(url).await?;
    db::create_table(&pool, dialect).await.map_err(&failed)?;
    let existing = db::count(&pool).await.map_err(&failed)?;
    let mut generator = Generator::new(existing as u64 + 1, tz, due);
    generator.start_sequence_at(existing as u64);
    let mut left = rows;
    while left > 0 {
        let n = left.min(ROWS_PER_INSERT);
        let batch: Vec<_> = (0..n).map(|_| generator.historic(now, span_days)).collect();
        db::insert(&pool, &batch).await.map_err(&failed)?;
        left -= n;
    }
    pool.close().await;
    Ok(())
}

async fn add_bad_rows(url: &str, now: DateTime<Utc>, tz: Tz) -> Result<(), DemoError> {
    let pool = connect(url).await?;
    let mut generator = Generator::new(7, tz, Arc::new(|t, _| t));
    let rows: Vec<_> = (0..BAD_ROWS)
        .map(|i| {
            let mut row = generator.fresh(now);
            row.ma_ho_so = format!("HS-LOI-{i:03}");
            // A status code the source's vendor added without telling anyone.
            row.trang_thai = "CHUA_PHAN_LOAI";
            row
        })
        .collect();
    db::insert(&pool, &rows).await.map_err(failed(url))?;
    pool.close().await;
    Ok(())
}

/// Every 5 seconds: one or two dossiers arrive, a few open ones move on (taken up, handed over
/// to the department, resolved, returned, a supplement requested...), handed-over ones show up
/// in the department's system, and now and then the one-stop system logs an error.
pub fn trickle_job(dir: &Path, tz: Tz, due: DueFn) -> Job {
    // mode=rw: if a demo database was moved away (to watch a source go down), the trickle
    // fails too instead of creating an empty one in its place.
    let centre_url = sqlite_url(&dir.join("source.db"), "rw");
    let department_url = sqlite_url(&dir.join("department.db"), "rw");
    let generator = Arc::new(Mutex::new(Generator::new(
        Utc::now().timestamp() as u64,
        tz,
        due,
    )));
    let schedule = CronSchedule::parse("*/5 * * * * *").expect("a valid schedule");
    Job::new(
        "demo-trickle",
        schedule,
        Duration::from_secs(30),
        move |_| {
            let centre_url = centre_url.clone();
            let department_url = department_url.clone();
            let generator = generator.clone();
            async move {
                let pool = db::connect(&centre_url).await?;
                let now = Utc::now();
                let local = now.with_timezone(&tz).naive_local();
                let fresh: Vec<_> = {
                    let mut g = generator.lock().unwrap_or_else(|e| e.into_inner());
                    // Ids stay unique across restarts of the demo: seconds since 1970, times ten.
                    g.start_sequence_at(now.timestamp() as u64 * 10);
                    let n = if g.chance(0.5) { 2 } else { 1 };
                    (0..n).map(|_| g.fresh(now)).collect()
                };
                db::insert(&pool, &fresh).await?;
                for (id, status, department) in db::sample_open(&pool, 4).await? {
                    let next = generator
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .advance(&status, &department);
                    if let Some(next) = next {
                        let resolved = (next == "CO_KET_QUA").then_some(local);
                        db::set_status(&pool, &id, next, resolved, local).await?;
                    }
                }
                error_log::trickle(&pool, &generator, now, tz).await?;
                let department = db::connect(&department_url).await?;
                department::trickle(&pool, &department, &generator, local).await?;
                department.close().await;
                pool.close().await;
                Ok(())
            }
        },
    )
}
