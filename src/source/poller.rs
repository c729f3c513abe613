//! One poll of one source: read the rows changed since the watermark, map them, commit them to
//! the store batch by batch, and move the watermark only with the last batch.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use futures::StreamExt;

use super::mapping::{ColumnIndex, Mapped, Mapper};
use super::{SourceError, SourcePool};
use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::SourceConfig;
use crate::dossier::Dossier;
use crate::metrics::Metrics;
use crate::sla::Catalogue;
use crate::store::{Rejection, Store};

const WATERMARK_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.f";
/// A poll that stored this many rows changed the store's shape: refresh its statistics.
const BULK_ROWS: u64 = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    /// Rows changed since the last watermark.
    Incremental,
    /// Every row; dossiers the source no longer returns are marked vanished.
    Resync,
}

impl PollMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PollMode::Incremental => "poll",
            PollMode::Resync => "resync",
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub rows: u64,
    pub rejected: u64,
    /// Rejected rows not seen before: the ones this poll logged.
    pub first_rejections: u64,
    pub vanished: u64,
    /// The watermark committed by this poll (the source's local time).
    pub watermark: Option<String>,
}

/// Polls one source. Cheap to share: the pool is internally reference-counted.
#[derive(Debug)]
pub struct Poller {
    cfg: Arc<SourceConfig>,
    pool: SourcePool,
    mapper: Mapper,
    store: Store,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    deadlines: Deadlines,
    /// A poll and a resync of one source never overlap: both move its watermark.
    running: tokio::sync::Mutex<()>,
}

impl Poller {
    pub fn new(
        cfg: SourceConfig,
        store: Store,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
        deadlines: Deadlines,
    ) -> Result<Poller, SourceError> {
        metrics.init_source(&cfg.name);
        for reason in super::mapping::reason::ALL {
            metrics
                .source_rows_rejected
                .with_label_values(&[cfg.name.as_str(), reason]);
        }
        Ok(Poller {
            pool: SourcePool::new(&cfg)?,
            mapper: Mapper::new(cfg.time_zone, cfg.status_map.clone()),
            cfg: Arc::new(cfg),
            store,
            metrics,
            clock,
            deadlines,
            running: tokio::sync::Mutex::new(()),
        })
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    pub fn config(&self) -> &SourceConfig {
        &self.cfg
    }

    pub fn pool(&self) -> &SourcePool {
        &self.pool
    }

    /// Runs one poll and records its outcome in the source's metrics.
    pub async fn poll(&self, mode: PollMode) -> Result<PollReport, SourceError> {
        let _one_at_a_time = self.running.lock().await;
        let started = Instant::now();
        let result = self.run(mode).await;
        let name = self.name();
        self.metrics
            .source_poll_duration
            .with_label_values(&[name])
            .observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(report) => {
                self.metrics.source_up.with_label_values(&[name]).set(1);
                self.metrics
                    .source_last_success
                    .with_label_values(&[name])
                    .set(self.clock.now().timestamp() as f64);
                tracing::debug!(source = name, mode = mode.as_str(), ?report, "poll done");
            }
            Err(e) => {
                self.metrics.source_up.with_label_values(&[name]).set(0);
                self.metrics
                    .source_poll_errors
                    .with_label_values(&[name, e.kind()])
                    .inc();
                tracing::warn!(source = name, mode = mode.as_str(), error = %e, "poll failed");
            }
        }
        result
    }

    async fn run(&self, mode: PollMode) -> Result<PollReport, SourceError> {
        let name = self.name();
        // Any number unique per resync will do; the system time (not the injected clock, which
        // may be fixed) gives one.
        let resync = (mode == PollMode::Resync).then(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64)
        });
        let previous = match mode {
            PollMode::Resync => None,
            PollMode::Incremental => self
                .store
                .watermark(name)
                .await
                .map_err(|error| self.store_error(error))?
                .and_then(|w| NaiveDateTime::parse_from_str(&w, WATERMARK_FORMAT).ok()),
        };
        let overlap = TimeDelta::from_std(self.cfg.watermark_overlap).unwrap_or_default();
        let from = previous.map_or(DateTime::UNIX_EPOCH.naive_utc(), |w| w - overlap);

        let mut rows = self.pool.fetch(&self.cfg.query, from);
        let mut columns: Option<ColumnIndex> = None;
        let mut batch = Batch::default();
        let mut report = PollReport::default();
        loop {
            let next = tokio::time::timeout(self.cfg.timeout, rows.next())
                .await
                .map_err(|_| SourceError::Timeout {
                    name: name.to_string(),
                    after: self.cfg.timeout,
                })?;
            let Some(row) = next else { break };
            let row = row.map_err(|e| SourceError::from_fetch(name, e))?;
            let columns = match &mut columns {
                Some(c) => &*c,
                None => columns.insert(ColumnIndex::resolve(&row.names).map_err(|missing| {
                    SourceError::Columns {
                        name: name.to_string(),
                        missing,
                        found: row.names.to_vec(),
                    }
                })?),
            };
            let mut mapped = self.mapper.map(columns, &row.values);
            if let Mapped::Dossier(d) = &mut mapped {
                self.deadlines.complete(d, self.cfg.compute_due);
            }
            batch.add(mapped);
            if batch.len() >= self.cfg.batch_rows {
                self.commit(&mut batch, None, resync, &mut report).await?;
            }
        }
        drop(rows);
        let reached = batch
            .max_updated
            .map(|t| t.with_timezone(&self.cfg.time_zone).naive_local())
            .filter(|t| previous.is_none_or(|p| *t > p));
        let watermark = reached.map(|t| t.format(WATERMARK_FORMAT).to_string());
        self.commit(&mut batch, watermark.as_deref(), resync, &mut report)
            .await?;
        report.watermark = watermark;
        if report.rows >= BULK_ROWS {
            self.store
                .analyze()
                .await
                .map_err(|error| self.store_error(error))?;
        }
        if let Some(resync) = resync {
            report.vanished = self
                .store
                .mark_vanished(name, resync, self.clock.now())
                .await
                .map_err(|error| self.store_error(error))?;
            if report.vanished > 0 {
                tracing::warn!(
                    source = name,
                    count = report.vanished,
                    "dossiers vanished from the source"
                );
                self.metrics
                    .source_rows_vanished
                    .with_label_values(&[name])
                    .inc_by(report.vanished);
            }
        }
        Ok(report)
    }

    async fn commit(
        &self,
        batch: &mut Batch,
        watermark: Option<&str>,
        resync: Option<i64>,
        report: &mut PollReport,
    ) -> Result<(), SourceError> {
        let name = self.name();
        let outcome = self
            .store
            .write_batch(
                name,
                &batch.dossiers,
                &batch.rejected,
                watermark,
                self.clock.now(),
                resync,
            )
            .await
            .map_err(|error| self.store_error(error))?;
        self.metrics
            .source_rows
            .with_label_values(&[name])
            .inc_by(batch.dossiers.len() as u64);
        for r in &batch.rejected {
            self.metrics
                .source_rows_rejected
                .with_label_values(&[name, r.reason])
                .inc();
        }
        report.first_rejections += outcome.new_rejections.len() as u64;
        for r in outcome.new_rejections {
            tracing::warn!(source = name, row = %r.row_key, reason = r.reason, detail = %r.detail, "row rejected");
        }
        report.rows += batch.dossiers.len() as u64;
        report.rejected += batch.rejected.len() as u64;
        batch.dossiers.clear();
        batch.rejected.clear();
        Ok(())
    }

    fn store_error(&self, error: crate::store::StoreError) -> SourceError {
        SourceError::Store {
            name: self.name().to_string(),
            error,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Statutory deadlines for dossiers whose source gives none.
#[derive(Debug, Clone)]
pub struct Deadlines {
    pub calendar: Arc<Calendar>,
    pub catalogue: Arc<Catalogue>,
}

impl Deadlines {
    /// Fills in the due instant from the procedure's statutory time when the source gives none,
    /// or always when `compute_due`; a procedure missing from the catalogue keeps the source's.
    fn complete(&self, d: &mut Dossier, compute_due: bool) {
        if d.due_at.is_none() || compute_due {
            let computed = self
                .catalogue
                .due_at(&self.calendar, &d.procedure_code, d.received_at);
            d.due_at = computed.or(d.due_at);
        }
    }
}

#[derive(Default)]
struct Batch {
    dossiers: Vec<Dossier>,
    rejected: Vec<Rejection>,
    max_updated: Option<DateTime<Utc>>,
}

impl Batch {
    fn add(&mut self, mapped: Mapped) {
        let updated = match mapped {
            Mapped::Dossier(d) => {
                let u = d.updated_at;
                self.dossiers.push(d);
                Some(u)
            }
            Mapped::Rejected {
                rejection,
                updated_at,
            } => {
                self.rejected.push(rejection);
                updated_at
            }
        };
        self.max_updated = self.max_updated.max(updated);
    }

    fn len(&self) -> usize {
        self.dossiers.len() + self.rejected.len()
    }
}
