//! `hcc-monitor demo`: a realistic demo centre. It creates a SQLite dossier database, keeps a
//! live trickle of new and changing dossiers, and runs the service on the embedded default. The
//! same generator fills PostgreSQL or MariaDB for benchmarks.

pub mod catalog;
pub mod db;
pub mod generator;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::{CronSchedule, Dialect};
use crate::scheduler::Job;
use generator::{DueFn, Generator};

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
}

/// Dossiers rejected on purpose, so the demo shows rejected-row metrics and logs.
const BAD_ROWS: usize = 3;
const ROWS_PER_INSERT: usize = 1000;

/// Creates, if missing, the demo source database (`dossiers` over the last 60 days) and the
/// demo config; returns the config's path. Existing files are kept, so a restarted demo goes on
/// where it stopped.
pub async fn prepare(
    dir: &Path,
    listen: SocketAddr,
    dossiers: usize,
    now: DateTime<Utc>,
    tz: Tz,
    due: DueFn,
) -> Result<PathBuf, DemoError> {
    let files = |source| DemoError::Files {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(files)?;
    let source = dir.join("source.db");
    if !source.exists() {
        let url = format!("sqlite://{}?mode=rwc", source.display());
        fill(&url, dossiers, 60, now, tz, due).await?;
        add_bad_rows(&url, now, tz).await?;
    }
    let config = dir.join("hcc-monitor.toml");
    if !config.exists() {
        std::fs::write(&config, config_text(dir, listen)).map_err(files)?;
    }
    Ok(config)
}

/// The demo's configuration for the demo folder `dir` (its source database is
/// `dir/source.db`); tests and benchmarks run the service on exactly this.
pub fn config_text(dir: &Path, listen: SocketAddr) -> String {
    include_str!("demo.toml")
        .replace("{{dir}}", &dir.display().to_string())
        .replace("{{listen}}", &listen.to_string())
        .replace("{{query}}", db::SOURCE_QUERY)
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
    let failed = |source| DemoError::Database {
        url: crate::config::redact_url(url),
        source,
    };
    let pool = db::connect(url).await.map_err(failed)?;
    db::create_table(&pool, dialect).await.map_err(failed)?;
    let existing = db::count(&pool).await.map_err(failed)?;
    let mut generator = Generator::new(existing as u64 + 1, tz, due);
    generator.start_sequence_at(existing as u64);
    let mut left = rows;
    while left > 0 {
        let n = left.min(ROWS_PER_INSERT);
        let batch: Vec<_> = (0..n).map(|_| generator.historic(now, span_days)).collect();
        db::insert(&pool, &batch).await.map_err(failed)?;
        left -= n;
    }
    pool.close().await;
    Ok(())
}

async fn add_bad_rows(url: &str, now: DateTime<Utc>, tz: Tz) -> Result<(), DemoError> {
    let failed = |source| DemoError::Database {
        url: crate::config::redact_url(url),
        source,
    };
    let pool = db::connect(url).await.map_err(failed)?;
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
    db::insert(&pool, &rows).await.map_err(failed)?;
    pool.close().await;
    Ok(())
}

/// Every 5 seconds: one or two dossiers arrive, and a few open ones move on (taken up,
/// resolved, returned, a supplement requested...).
pub fn trickle_job(source: &Path, tz: Tz, due: DueFn) -> Job {
    // mode=rw: if the demo database was moved away (to watch the source go down), the trickle
    // fails too instead of creating an empty one in its place.
    let url = format!("sqlite://{}?mode=rw", source.display());
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
            let url = url.clone();
            let generator = generator.clone();
            async move {
                let pool = db::connect(&url).await?;
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
                for (id, status) in db::sample_open(&pool, 4).await? {
                    let next = generator
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .advance(&status);
                    if let Some(next) = next {
                        let resolved = (next == "CO_KET_QUA").then_some(local);
                        db::set_status(&pool, &id, next, resolved, local).await?;
                    }
                }
                pool.close().await;
                Ok(())
            }
        },
    )
}
