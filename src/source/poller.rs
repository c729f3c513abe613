//! One poll of one source: read the rows changed since the watermark, a keyset page per
//! statement, map them, commit them to the store batch by batch, and move the watermark with
//! each page committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use std::panic::AssertUnwindSafe;

use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use super::mapping::{ColumnIndex, Columns, Mapped, Mapper, Marked, StageColumns, reason};
use super::page::{self, Page, PageKey};
use super::value::{RawRow, RawValue};
use super::{FetchError, SourceError, SourcePool};
use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::SourceConfig;
use crate::dossier::{Dossier, StageEvent};
use crate::metrics::Metrics;
use crate::sla::Catalogue;
use crate::store::{BatchOutcome, Rejection, Store, stages_watermark_key};

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
    /// Rows of either query rejected by the mapping.
    pub rejected: u64,
    /// Rejected rows not seen before: the ones this poll logged.
    pub first_rejections: u64,
    pub vanished: u64,
    /// The watermark committed by this poll (the source's local time).
    pub watermark: Option<String>,
    /// Stage events read (new or read again).
    pub stage_events: u64,
    /// The stage query's watermark committed by this poll.
    pub stage_watermark: Option<String>,
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
    failures: crate::streak::Streak,
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
        for reason in reason::ALL {
            metrics
                .source_rows_rejected
                .with_label_values(&[cfg.name.as_str(), reason]);
            metrics
                .source_rejected_rows
                .with_label_values(&[cfg.name.as_str(), reason]);
        }
        Ok(Poller {
            pool: SourcePool::new(&cfg)?,
            mapper: Mapper::new(cfg.time_zone, cfg.status_map.clone()),
            cfg: Arc::new(cfg),
            // Through the pollers' own pool: a poll never waits for, nor takes, a connection
            // of the evaluation, the outbox or the HTTP API.
            store: store.for_sources(),
            metrics,
            clock,
            deadlines,
            running: tokio::sync::Mutex::new(()),
            failures: crate::streak::Streak::default(),
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
        let result = caught(self.name(), self.run(mode)).await;
        let name = self.name();
        self.metrics
            .source_poll_duration
            .with_label_values(&[name])
            .observe(started.elapsed().as_secs_f64());
        // The log tells when the source went down and when it is back; each failed poll is
        // also counted (hcc_source_poll_errors_total) and its job's run fails quietly.
        use crate::streak::Change;
        match (self.failures.record(result.is_ok()), &result) {
            (Change::Recovered(polls), _) => {
                tracing::info!(
                    source = name,
                    mode = mode.as_str(),
                    failed_polls = polls,
                    "source recovered: poll succeeded"
                );
            }
            (Change::WentDown, Err(e)) => {
                tracing::warn!(source = name, mode = mode.as_str(), kind = e.kind(), error = %e, "poll failed; the source is down until a poll succeeds");
            }
            (Change::StillDown(polls), Err(e)) => {
                tracing::debug!(source = name, mode = mode.as_str(), polls, error = %e, "poll failed again");
            }
            _ => {}
        }
        match &result {
            Ok(report) => {
                self.metrics.source_up.with_label_values(&[name]).set(1);
                self.show_rejected().await;
                self.metrics
                    .source_last_success
                    .with_label_values(&[name])
                    .set(self.clock.now().timestamp() as f64);
                tracing::debug!(source = name, mode = mode.as_str(), ?report, "poll done");
            }
            Err(e) => {
                // A store that is slow or down says nothing about the source: its own metrics
                // (hcc_store_wait_seconds, poll errors of kind "store") tell that story.
                if !matches!(e, SourceError::Store { .. }) {
                    self.metrics.source_up.with_label_values(&[name]).set(0);
                }
                self.metrics
                    .source_poll_errors
                    .with_label_values(&[name, e.kind()])
                    .inc();
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
        let mut report = PollReport::default();
        // Before any row: a department's rows must never be counted as dossiers of their own.
        self.store
            .declare_source(name, self.cfg.role.same_dossiers_as(), self.clock.now())
            .await
            .map_err(|error| self.store_error(error))?;
        let first_page = Page {
            after: None,
            rows: self.cfg.page_rows,
        };
        let mut read = self
            .start::<ColumnIndex>(
                &self.cfg.query,
                Query::Dossiers,
                name,
                mode,
                Some(first_page),
            )
            .await?;
        let now = self.clock.now();
        let map = |columns: &ColumnIndex, values: &[RawValue]| {
            let mut mapped = self.mapper.map(columns, values, now);
            if let Ok(d) = &mut mapped {
                self.deadlines.complete(d, self.cfg.compute_due);
            }
            mapped
        };
        loop {
            let watermark = match read.fill(map).await? {
                Fill::Batch => None,
                Fill::Page(watermark) => watermark,
                Fill::End => break,
            };
            self.commit(&mut read.batch, watermark.as_deref(), resync, &mut report)
                .await?;
        }
        let (mut batch, watermark) = read.finish();
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
        if let Some(sql) = &self.cfg.stage_query {
            // After the dossiers, so that a new dossier's first stage finds it in the store.
            let key = stages_watermark_key(name);
            let mut read = self
                .start::<StageColumns>(sql, Query::Stages, &key, mode, None)
                .await?;
            let map = |columns: &StageColumns, values: &[RawValue]| {
                self.mapper.map_stage(columns, values, now)
            };
            // Unpaged: many stage events of one dossier share an instant, so (entered_at,
            // dossier_id) is no key to page by.
            while let Fill::Batch = read.fill(map).await? {
                self.commit_stages(&mut read.batch, None, &mut report)
                    .await?;
            }
            let (mut batch, watermark) = read.finish();
            self.commit_stages(&mut batch, watermark.as_deref(), &mut report)
                .await?;
            report.stage_watermark = watermark;
        }
        Ok(report)
    }

    /// Starts reading the rows `sql` returns from the watermark stored under `key` (from the
    /// start on a resync), from its first `page` when paged.
    async fn start<'a, C: Columns>(
        &'a self,
        sql: &'a str,
        query: Query,
        key: &str,
        mode: PollMode,
        page: Option<Page>,
    ) -> Result<Read<'a, C>, SourceError> {
        let stored = self
            .store
            .watermark(key)
            .await
            .map_err(|error| self.store_error(error))?
            .and_then(|w| NaiveDateTime::parse_from_str(&w, WATERMARK_FORMAT).ok());
        let previous = match mode {
            PollMode::Resync => None,
            PollMode::Incremental => stored,
        };
        let overlap = TimeDelta::from_std(self.cfg.watermark_overlap).unwrap_or_default();
        // Saturating: a watermark from the source's data may sit at the edge of the calendar.
        let from = previous.map_or(DateTime::UNIX_EPOCH.naive_utc(), |w| {
            w.checked_sub_signed(overlap).unwrap_or(NaiveDateTime::MIN)
        });
        Ok(Read {
            rows: self.pool.fetch(sql, from, page.as_ref()),
            poller: self,
            sql,
            from,
            page,
            in_page: 0,
            key_at: None,
            last_key: None,
            query,
            previous,
            stored,
            columns: None,
            batch: Batch::default(),
        })
    }

    async fn commit(
        &self,
        batch: &mut Batch<Dossier>,
        watermark: Option<&str>,
        resync: Option<i64>,
        report: &mut PollReport,
    ) -> Result<(), SourceError> {
        let name = self.name();
        batch.rejected.extend(keep_latest(&mut batch.rows));
        let outcome = self
            .store
            .write_batch(
                name,
                &batch.rows,
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
            .inc_by(batch.rows.len() as u64);
        report.rows += batch.rows.len() as u64;
        self.account(batch, outcome, report);
        Ok(())
    }

    async fn commit_stages(
        &self,
        batch: &mut Batch<StageEvent>,
        watermark: Option<&str>,
        report: &mut PollReport,
    ) -> Result<(), SourceError> {
        let outcome = self
            .store
            .write_stage_batch(
                self.name(),
                &batch.rows,
                &batch.rejected,
                watermark,
                self.clock.now(),
            )
            .await
            .map_err(|error| self.store_error(error))?;
        report.stage_events += batch.rows.len() as u64;
        self.account(batch, outcome, report);
        Ok(())
    }

    /// Counts and logs a committed batch's rejected rows (the new ones only are logged), and
    /// empties the batch.
    fn account<T>(&self, batch: &mut Batch<T>, outcome: BatchOutcome, report: &mut PollReport) {
        let name = self.name();
        self.metrics
            .store_wait
            .with_label_values(&[name])
            .observe(outcome.waited.as_secs_f64());
        report.first_rejections += outcome.new_rejections.len() as u64;
        for r in outcome.new_rejections {
            // Counted once per row: a rejected row read again by later polls is not new.
            self.metrics
                .source_rows_rejected
                .with_label_values(&[name, r.reason])
                .inc();
            tracing::warn!(source = name, row = %r.row_key, reason = r.reason, detail = %r.detail, "row rejected");
        }
        report.rejected += batch.rejected.len() as u64;
        batch.clear();
    }

    /// Sets the gauge of the source's rows rejected now, by reason. A store that cannot say
    /// leaves the last figures; the poll itself succeeded.
    async fn show_rejected(&self) {
        let name = self.name();
        match self.store.rejected_counts(name).await {
            Ok(counts) => {
                for reason in reason::ALL {
                    let count = counts
                        .iter()
                        .find(|(r, _)| r == reason)
                        .map_or(0, |(_, n)| *n);
                    self.metrics
                        .source_rejected_rows
                        .with_label_values(&[name, reason])
                        .set(count);
                }
            }
            Err(error) => {
                tracing::warn!(source = name, %error, "cannot count the rejected rows");
            }
        }
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

/// Runs a poll, turning a panic inside it (a driver's decoding, a bug) into a failed poll of
/// its own kind: the source must not look up while every poll dies.
async fn caught<T>(
    name: &str,
    poll: impl std::future::Future<Output = Result<T, SourceError>>,
) -> Result<T, SourceError> {
    AssertUnwindSafe(poll)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            Err(SourceError::Panic {
                name: name.to_string(),
                message: panic_message(panic.as_ref()),
            })
        })
}

/// The text a panic was raised with, when it is text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
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

/// One query's rows on their way to the store: read and mapped a batch at a time.
struct Read<'a, C: Columns> {
    rows: BoxStream<'a, Result<RawRow, FetchError>>,
    poller: &'a Poller,
    sql: &'a str,
    /// The watermark bound into every page's statement.
    from: NaiveDateTime,
    /// The page being read; None: the whole result in one statement.
    page: Option<Page>,
    /// Rows of the current page read so far.
    in_page: usize,
    /// Where the marker and the dossier id sit in a row, once the first row named them.
    key_at: Option<(usize, usize)>,
    /// The key of the last row read that has one: where the next page starts.
    last_key: Option<PageKey>,
    query: Query,
    /// The watermark the read started from, if any.
    previous: Option<NaiveDateTime>,
    /// The watermark in the store when the read started, also on a resync, whose early pages
    /// must not move it back: a resync that fails halfway leaves the watermark where it was.
    stored: Option<NaiveDateTime>,
    /// Resolved from the first row's column names.
    columns: Option<C>,
    batch: Batch<C::Row>,
}

impl<C: Columns> Read<'_, C>
where
    C::Row: Marked,
{
    /// Adds rows to the batch until it is full, a page ends, or the rows end.
    async fn fill(
        &mut self,
        map: impl Fn(&C, &[RawValue]) -> Mapped<C::Row>,
    ) -> Result<Fill, SourceError> {
        let cfg = &self.poller.cfg;
        let name = cfg.name.as_str();
        while self.batch.len() < cfg.batch_rows {
            let next = tokio::time::timeout(cfg.timeout, self.rows.next())
                .await
                .map_err(|_| SourceError::Timeout {
                    name: name.to_string(),
                    after: cfg.timeout,
                })?;
            let Some(row) = next else {
                return Ok(self.next_page());
            };
            let row = row.map_err(|e| SourceError::from_fetch(name, e))?;
            if self.page.is_some() {
                self.in_page += 1;
                let key_at = *self
                    .key_at
                    .get_or_insert_with(|| page::key_columns(&row.names).unwrap_or_default());
                if let Some(key) = page::key_of(&row.values, key_at) {
                    self.last_key = Some(key);
                }
            }
            let columns = match &mut self.columns {
                Some(c) => &*c,
                None => self
                    .columns
                    .insert(
                        C::resolve(&row.names).map_err(|missing| SourceError::Columns {
                            name: name.to_string(),
                            query: self.query.key(),
                            missing,
                            found: row.names.to_vec(),
                        })?,
                    ),
            };
            self.batch.add(map(columns, &row.values));
        }
        Ok(Fill::Batch)
    }

    /// At the end of a statement's rows: a full page is followed by the next one, starting after
    /// the last key read, and commits a watermark of its own.
    fn next_page(&mut self) -> Fill {
        let Some(page) = &mut self.page else {
            return Fill::End;
        };
        if self.in_page < page.rows {
            return Fill::End;
        }
        let Some(key) = self.last_key.take() else {
            tracing::warn!(
                source = self.poller.name(),
                rows = page.rows,
                "a whole page without a usable updated_at and dossier_id; the rest is not read"
            );
            return Fill::End;
        };
        page.after = Some(key);
        self.in_page = 0;
        // Lazy: the statement runs, on a connection of its own, when the next row is asked for;
        // the previous page's connection goes back to the pool here.
        self.rows = self.poller.pool.fetch(self.sql, self.from, Some(page));
        // Rows changed at the last marker may continue on the next page: the watermark stays
        // just short of it, so a poll resumed after a failure reads them again (the upsert makes
        // that harmless) rather than skipping them.
        let short = self
            .batch
            .max_marker
            .map(|t| t - TimeDelta::microseconds(1));
        Fill::Page(self.reached(short, self.stored))
    }

    /// The watermark `marker` is, in the source's local time, when it is past `floor`.
    fn reached(
        &self,
        marker: Option<DateTime<Utc>>,
        floor: Option<NaiveDateTime>,
    ) -> Option<String> {
        marker
            .map(|t| t.with_timezone(&self.poller.cfg.time_zone).naive_local())
            .filter(|t| floor.is_none_or(|p| *t > p))
            .map(|t| t.format(WATERMARK_FORMAT).to_string())
    }

    /// Ends the read: the last batch, and the watermark it reached when that moved (a whole
    /// resync may set it back: it has read every row).
    fn finish(self) -> (Batch<C::Row>, Option<String>) {
        let reached = self.reached(self.batch.max_marker, self.previous);
        // The source's connection goes back to the pool before the last commit.
        drop(self.rows);
        (self.batch, reached)
    }
}

/// How a fill of a batch ended.
#[derive(Debug)]
enum Fill {
    /// The batch is full; the statement goes on.
    Batch,
    /// A full page ended; the next one follows. Its commit carries this watermark.
    Page(Option<String>),
    /// The rows ended.
    End,
}

/// Which of a source's queries a read runs: named in errors as its config key.
#[derive(Debug, Clone, Copy)]
enum Query {
    Dossiers,
    Stages,
}

impl Query {
    fn key(self) -> &'static str {
        match self {
            Query::Dossiers => "query",
            Query::Stages => "stage_query",
        }
    }
}

/// Mapped rows waiting for their commit. The latest marker of the rows stored is kept across
/// commits: the last batch carries the watermark of the whole read.
struct Batch<T> {
    rows: Vec<T>,
    rejected: Vec<Rejection>,
    max_marker: Option<DateTime<Utc>>,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Batch {
            rows: Vec::new(),
            rejected: Vec::new(),
            max_marker: None,
        }
    }
}

impl<T> Batch<T> {
    fn add(&mut self, mapped: Mapped<T>)
    where
        T: Marked,
    {
        match mapped {
            Ok(row) => {
                self.max_marker = self.max_marker.max(Some(row.marker()));
                self.rows.push(row);
            }
            Err(rejection) => self.rejected.push(rejection),
        }
    }

    fn len(&self) -> usize {
        self.rows.len() + self.rejected.len()
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.rejected.clear();
    }
}

/// Keeps one row per dossier id of a batch, which one upsert statement must not name twice (the
/// PostgreSQL store refuses it): the one with the latest `updated_at`, of equal ones the last
/// read (pages leave rows equal in updated_at and id in no defined order), in the place of the
/// first. The others are returned as rejections.
fn keep_latest(rows: &mut Vec<Dossier>) -> Vec<Rejection> {
    let mut place: HashMap<String, usize> = HashMap::new();
    let mut kept: Vec<Dossier> = Vec::with_capacity(rows.len());
    let mut dropped = Vec::new();
    for row in rows.drain(..) {
        match place.get(&row.dossier_id) {
            None => {
                place.insert(row.dossier_id.clone(), kept.len());
                kept.push(row);
            }
            Some(&at) if row.updated_at >= kept[at].updated_at => {
                dropped.push(std::mem::replace(&mut kept[at], row));
            }
            Some(_) => dropped.push(row),
        }
    }
    *rows = kept;
    dropped
        .into_iter()
        .map(|d| {
            Rejection::new(
                d.dossier_id,
                reason::DUPLICATE_IN_BATCH,
                format!(
                    "the dossier id appears more than once in one batch; this row (updated_at \
                     {}) gave way to the one with the latest updated_at",
                    d.updated_at
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_poll_is_a_failed_poll_of_kind_panic() {
        let poll = async {
            if std::hint::black_box(true) {
                panic!("out of range for chrono");
            }
            Ok(())
        };
        let error = caught("s", poll).await.unwrap_err();
        assert_eq!(error.kind(), "panic");
        assert_eq!(
            error.to_string(),
            "source s: the poll panicked: out of range for chrono"
        );
    }
}
