//! The evaluation cycle: every open dossier through the SLA engine, every newly resolved one
//! scored once, and the state gauges rebuilt from the store, so they are right after a restart
//! and label sets that no longer exist disappear. The same views serve the CLI and the API.

mod labels;
mod page;
mod pauses;
mod periods;
mod replay;
mod stages;
mod table;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use page::OpenPage;
pub use pauses::supplement_requests;
pub use periods::{Bounds, Period, PeriodStartDay, PeriodStartDayError, periods};
pub use replay::row_at;
pub use table::table;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::dossier::Status;
use crate::label::{Admitted, busiest};
use crate::metrics::Metrics;
use crate::sla::{
    self, Evaluation, OpenDossier, Outcome, ProgressTally, SlaPolicy, SlaState, evaluate, outcome,
    paused_working_secs,
};
use crate::store::{
    EvalRow, LaterChanges, PauseChange, PeriodCounts, Periods, ResolvedCounts, Scored, Store,
    StoreError, instant,
};
use labels::Fold;
use prometheus::IntGaugeVec;

/// Rebuilds a family with one series per key and period (day, month, year). Keys whose labels
/// fold into one series add up.
fn set_periods<K, const N: usize>(
    gauges: &IntGaugeVec,
    counts: &[PeriodCounts<K>],
    labels: impl Fn(&K) -> [&str; N],
) {
    gauges.reset();
    for c in counts {
        for (period, n) in [("day", c.day), ("month", c.month), ("year", c.year)] {
            let mut values = labels(&c.key).to_vec();
            values.push(period);
            gauges.with_label_values(&values).add(n);
        }
    }
}

/// An open dossier as the SLA engine sees it at an instant. No personal data: the dossier id
/// and the procedure only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OpenView {
    pub source: String,
    pub dossier_id: String,
    pub procedure_code: String,
    pub procedure_name: Option<String>,
    pub department: String,
    pub status: Status,
    #[serde(serialize_with = "crate::http::instant::rfc3339")]
    pub received_at: DateTime<Utc>,
    /// The deadline that counts (paused time added when the policy says so).
    #[serde(serialize_with = "crate::http::instant::rfc3339_opt")]
    pub due_at: Option<DateTime<Utc>>,
    /// on_track, at_risk, due_soon, overdue or paused.
    #[schema(value_type = String)]
    pub sla_state: &'static str,
    pub elapsed_working_secs: i64,
    pub left_working_secs: Option<i64>,
    pub fraction_used: Option<f64>,
    /// What the department systems it was handed over to (`role = "handoff"` sources) know of
    /// it: the same dossier, seen from there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub handed_over_to: Vec<HandedOver>,
    #[serde(skip)]
    #[schema(ignore)]
    pub evaluation: Evaluation,
}

/// A dossier as a department's own system shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HandedOver {
    pub source: String,
    /// Its canonical status there, and the system's own code.
    pub status: String,
    pub raw_status: String,
    /// When the department's system received it.
    #[serde(serialize_with = "crate::http::instant::rfc3339")]
    pub received_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::http::instant::rfc3339_opt")]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A resolved dossier's outcome under the configured rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scoring {
    pub outcome: Outcome,
    pub processing_working_secs: i64,
}

pub struct Evaluator {
    store: Store,
    metrics: Arc<Metrics>,
    calendar: Arc<Calendar>,
    policy: SlaPolicy,
    /// The reporting month of the progress gauge starts on this day.
    period_start_day: PeriodStartDay,
    procedure_labels: HashSet<String>,
    /// Department systems (`role = "handoff"`) → the system of record whose dossiers they hold.
    /// The store leaves their rows out of every count; here their stages follow the record's
    /// dossier and their resolutions make no processing-time observation of their own.
    linked: HashMap<String, String>,
    /// Due-change totals already added to the counter, so each cycle adds only what is new.
    counted_due_changes: Mutex<HashMap<(String, String), i64>>,
    /// Each source's first stages, busiest departments and (where labelled) procedures keep
    /// their own label; the rest are `other`.
    stages: Fold,
    departments: Fold,
    procedures: Fold,
}

impl Evaluator {
    pub fn new(config: &Config, store: Store, metrics: Arc<Metrics>) -> Evaluator {
        Evaluator {
            store,
            calendar: config.calendar.clone(),
            policy: config.sla,
            period_start_day: config.reporting.period_start_day,
            procedure_labels: config
                .sources
                .iter()
                .filter(|s| s.procedure_labels)
                .map(|s| s.name.clone())
                .collect(),
            linked: config
                .sources
                .iter()
                .filter_map(|s| Some((s.name.clone(), s.role.same_dossiers_as()?.to_string())))
                .collect(),
            counted_due_changes: Mutex::new(HashMap::new()),
            stages: Fold::new("stage", stages::MAX_STAGE_LABELS, &metrics),
            departments: Fold::new("department", config.metrics.max_department_labels, &metrics),
            procedures: Fold::new("procedure", config.metrics.max_procedure_labels, &metrics),
            metrics,
        }
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// `[reporting] period_start_day`: the API's reports and the progress gauge use it.
    pub fn period_start_day(&self) -> PeriodStartDay {
        self.period_start_day
    }

    /// One dossier, as it was at `now` ([`row_at`]), through the SLA engine at `now`.
    pub fn open_view(
        &self,
        row: EvalRow,
        changes: Option<&Vec<PauseChange>>,
        now: DateTime<Utc>,
    ) -> OpenView {
        let changes = replay::changes_by(changes, now.timestamp());
        let pauses = pauses::spans(&row, Some(&changes));
        // A dossier resolved after `now` was being worked on at `now`.
        let status = Status::parse(&row.status)
            .filter(|s| s.is_open())
            .unwrap_or(Status::InProgress);
        let evaluation = evaluate(
            &self.calendar,
            &self.policy,
            &OpenDossier {
                received_at: instant(row.received_at),
                due_at: row.due_at.map(instant),
                status,
                pauses: &pauses,
            },
            now,
        );
        OpenView {
            source: row.source,
            dossier_id: row.dossier_id,
            procedure_code: row.procedure_code,
            procedure_name: row.procedure_name,
            department: row.department,
            status,
            received_at: instant(row.received_at),
            due_at: evaluation.effective_due,
            sla_state: evaluation.state.as_str(),
            elapsed_working_secs: evaluation.elapsed_working_secs,
            left_working_secs: evaluation.left_working_secs,
            fraction_used: evaluation.fraction_used,
            handed_over_to: Vec::new(),
            evaluation,
        }
    }

    /// Every dossier open at `now`, least working time left first (no deadline last).
    pub async fn open_dossiers(&self, now: DateTime<Utc>) -> Result<Vec<OpenView>, StoreError> {
        let changes = self.store.pause_changes().await?;
        let mut views = self.open_views(&changes, now).await?;
        self.add_handovers(&mut views, now).await?;
        Ok(views)
    }

    /// Adds to each view what the department systems it was handed over to know of it.
    async fn add_handovers(
        &self,
        views: &mut [OpenView],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if views.is_empty() {
            return Ok(());
        }
        let mut linked: HashMap<(String, String), Vec<HandedOver>> = HashMap::new();
        // As of `now`: what the department had received by then.
        let received = |l: &crate::store::LinkedRow| l.received_at <= now.timestamp();
        let ids: Vec<&str> = views.iter().map(|v| v.dossier_id.as_str()).collect();
        let rows = self.store.linked_rows(&ids).await?;
        for l in rows.into_iter().filter(received) {
            linked
                .entry((l.record, l.dossier_id))
                .or_default()
                .push(HandedOver {
                    source: l.source,
                    status: l.status,
                    raw_status: l.raw_status,
                    received_at: instant(l.received_at),
                    resolved_at: l.resolved_at.map(instant),
                });
        }
        for v in views {
            if let Some(h) = linked.remove(&(v.source.clone(), v.dossier_id.clone())) {
                v.handed_over_to = h;
            }
        }
        Ok(())
    }

    /// The dossiers open at `now` as they were then, through the engine, least time left first.
    async fn open_views(
        &self,
        changes: &HashMap<(String, String), Vec<PauseChange>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<OpenView>, StoreError> {
        let rows = self.store.open_at(now).await?;
        let later = self.store.changes_after(now).await?;
        Ok(self.views(rows, &later, changes, now))
    }

    fn views(
        &self,
        rows: Vec<EvalRow>,
        later: &LaterChanges,
        changes: &HashMap<(String, String), Vec<PauseChange>>,
        now: DateTime<Utc>,
    ) -> Vec<OpenView> {
        let at = now.timestamp();
        let mut views: Vec<OpenView> = rows
            .into_iter()
            .map(|row| row_at(row, later, at))
            .filter(|row| replay::was_open(row, at))
            .map(|row| {
                let c = changes.get(&(row.source.clone(), row.dossier_id.clone()));
                self.open_view(row, c, now)
            })
            .collect();
        views.sort_by_key(|v| (v.left_working_secs.unwrap_or(i64::MAX), v.received_at));
        views
    }

    /// A resolved dossier's outcome and its working processing time, paused time excluded.
    pub fn score(&self, row: &EvalRow, changes: Option<&Vec<PauseChange>>) -> Option<Scoring> {
        let resolved = instant(row.resolved_at?);
        let received = instant(row.received_at);
        let pauses = pauses::spans(row, changes);
        let paused = paused_working_secs(&self.calendar, received, &pauses, resolved);
        let due = row.due_at.map(|d| {
            self.policy
                .effective_due(&self.calendar, instant(d), paused)
        });
        Some(Scoring {
            outcome: outcome(&self.calendar, self.policy.on_time_rule, due, resolved),
            processing_working_secs: (self.calendar.working_seconds_between(received, resolved)
                - paused)
                .max(0),
        })
    }

    /// The department's label: its code, or `other` beyond the source's busiest.
    fn department_label<'a>(
        &self,
        departments: &Admitted,
        source: &str,
        department: &'a str,
    ) -> &'a str {
        self.departments
            .apply(departments, &self.metrics, source, department)
    }

    /// One evaluation cycle at `now`.
    pub async fn refresh(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let started = Instant::now();
        let changes = self.store.pause_changes().await?;
        let open = self.open_views(&changes, now).await?;
        let tz = self.calendar.time_zone();
        let p = periods(now, tz);
        let received = self.store.received_counts(p).await?;
        // The departments and procedures that keep their own label, by volume: for departments
        // this year's receipts and the open dossiers, decided before scoring because the
        // processing-time histograms carry the department too; for procedures the open
        // dossiers, the only family that has them.
        let departments = busiest(
            open.iter()
                .map(|v| (v.source.as_str(), v.department.as_str(), 1))
                .chain(received.iter().map(|c| {
                    let (source, department, _) = &c.key;
                    (source.as_str(), department.as_str(), c.year.max(0) as u64)
                })),
            self.departments.limit(),
        );
        let procedures = busiest(
            open.iter()
                .filter(|v| self.procedure_labels.contains(&v.source))
                .map(|v| (v.source.as_str(), v.procedure_code.as_str(), 1)),
            self.procedures.limit(),
        );
        self.score_new(&changes, &departments).await?;
        let resolved = self.store.resolved_counts(p).await?;
        let carried = carried_over(&open, &resolved, p);
        let by_status = self.store.count_by_status().await?;
        let due_totals = self.store.due_change_totals().await?;
        let in_stage = self.follow_stages(now, &open).await?;
        let progress = self.progress(now, &open, &changes).await?;

        let m = &self.metrics;
        // Tallied before the gauges are locked for the rebuild: a scrape waits for the few
        // hundred series to be set, not for every open dossier to be counted.
        let tally = self.tally_open(&open, &departments, &procedures);
        m.rebuild(|| {
            m.dossiers_open.reset();
            m.dossiers_open_by_procedure.reset();
            m.dossiers_without_deadline.reset();
            m.overdue_working.reset();
            for (labels, n) in &tally.open {
                m.dossiers_open.with_label_values(labels).set(*n);
            }
            for (labels, n) in &tally.by_procedure {
                m.dossiers_open_by_procedure
                    .with_label_values(labels)
                    .set(*n);
            }
            for (labels, n) in &tally.without_deadline {
                m.dossiers_without_deadline
                    .with_label_values(labels)
                    .set(*n);
            }
            for (labels, lates) in &tally.overdue {
                let h = m.overdue_working.with_label_values(labels);
                for late in lates {
                    h.observe(*late as f64);
                }
            }
            set_periods(&m.dossiers_resolved, &resolved.resolved, |(s, d, o)| {
                [s, self.department_label(&departments, s, d), o]
            });
            set_periods(&m.dossiers_received, &received, |(s, d, c)| {
                [s, self.department_label(&departments, s, d), c]
            });
            set_periods(&m.dossiers_carried_over, &carried, |(s, d)| {
                [s, self.department_label(&departments, s, d)]
            });
            m.dossiers.reset();
            for c in &by_status {
                m.dossiers
                    .with_label_values(&[&c.source, &c.status])
                    .set(c.count);
            }
            m.dossiers_in_stage.reset();
            m.stage_waiting_working.reset();
            for ((source, stage), (count, waiting)) in &in_stage {
                let labels = [source.as_str(), stage.as_str()];
                m.dossiers_in_stage.with_label_values(&labels).set(*count);
                m.stage_waiting_working
                    .with_label_values(&labels)
                    .set(*waiting);
            }
            m.index_progress_score.reset();
            // Folded like every department label: the departments beyond the cap are scored
            // together under `other`, not one series each.
            let mut folded: BTreeMap<(&str, &str), ProgressTally> = BTreeMap::new();
            for ((source, department), tally) in &progress {
                let department = self.department_label(&departments, source, department);
                folded
                    .entry((source.as_str(), department))
                    .or_default()
                    .add(tally);
            }
            for ((source, department), tally) in &folded {
                if let Some(score) = tally.score() {
                    m.index_progress_score
                        .with_label_values(&[source, department])
                        .set(score);
                }
            }
            m.reappointed_more_than_once.reset();
            for (s, d, _, more_than_once) in &due_totals {
                m.reappointed_more_than_once
                    .with_label_values(&[s, self.department_label(&departments, s, d)])
                    .add(*more_than_once);
            }
        });
        let mut counted = self
            .counted_due_changes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (s, d, total, _) in due_totals {
            let before = counted.insert((s.clone(), d.clone()), total).unwrap_or(0);
            if total > before {
                m.due_changes
                    .with_label_values(&[&s, self.department_label(&departments, &s, &d)])
                    .inc_by((total - before) as u64);
            }
        }
        drop(counted);
        if let Some(end) = self.calendar.coverage_end() {
            m.calendar_coverage_end.set(end.timestamp() as f64);
        }
        for year in self.calendar.provisional_years() {
            m.calendar_provisional
                .with_label_values(&[&year.to_string()])
                .set(1);
        }
        m.evaluation_duration.set(started.elapsed().as_secs_f64());
        m.evaluation_last_success.set(Utc::now().timestamp() as f64);
        Ok(())
    }

    /// The open dossiers counted per series of the open-dossier families.
    fn tally_open<'a>(
        &self,
        open: &'a [OpenView],
        departments: &Admitted,
        procedures: &Admitted,
    ) -> OpenTally<'a> {
        let mut t = OpenTally::default();
        for v in open {
            let d = self.department_label(departments, &v.source, &v.department);
            *t.open.entry([&v.source, d, v.sla_state]).or_default() += 1;
            if self.procedure_labels.contains(&v.source) {
                let procedure =
                    self.procedures
                        .apply(procedures, &self.metrics, &v.source, &v.procedure_code);
                *t.by_procedure
                    .entry([&v.source, d, procedure, v.sla_state])
                    .or_default() += 1;
            }
            if !v.evaluation.has_deadline {
                *t.without_deadline.entry([&v.source, d]).or_default() += 1;
            }
            if v.evaluation.state == SlaState::Overdue {
                let late = -v.left_working_secs.unwrap_or_default();
                t.overdue.entry([&v.source, d]).or_default().push(late);
            }
        }
        t
    }

    /// Decision 766's progress tally per (source, department) over the reporting month up to
    /// `now`: the dossiers resolved in it, counted in SQL, then the few asked for supplements
    /// too often overruled one by one; and the dossiers open now, judged now.
    async fn progress(
        &self,
        now: DateTime<Utc>,
        open: &[OpenView],
        changes: &HashMap<(String, String), Vec<PauseChange>>,
    ) -> Result<BTreeMap<(String, String), ProgressTally>, StoreError> {
        let from = Period::Month
            .bounds(now, self.calendar.time_zone(), self.period_start_day)
            .start;
        let supplements =
            |key: &(String, String)| supplement_requests(changes.get(key), now.timestamp());
        let mut tallies: BTreeMap<(String, String), ProgressTally> = BTreeMap::new();
        for (source, department, outcome, count) in self.store.outcome_counts(from, now).await? {
            if let Some(o) = Outcome::parse(&outcome) {
                tallies
                    .entry((source, department))
                    .or_default()
                    .resolved_many(o, count.unsigned_abs());
            }
        }
        let asked_too_often: Vec<(String, String)> = changes
            .keys()
            .filter(|key| sla::asked_too_often(supplements(key)))
            .cloned()
            .collect();
        for r in self.store.outcomes_of(&asked_too_often, from, now).await? {
            if let (Some(o), Some(t)) = (
                Outcome::parse(&r.outcome),
                tallies.get_mut(&(r.source, r.department)),
            ) {
                t.overruled(o);
            }
        }
        for v in open {
            let key = (v.source.clone(), v.dossier_id.clone());
            tallies
                .entry((v.source.clone(), v.department.clone()))
                .or_default()
                .open(&v.evaluation, now, supplements(&key));
        }
        Ok(tallies)
    }

    /// Decides the outcome of every dossier newly seen resolved, and observes its processing
    /// time once.
    async fn score_new(
        &self,
        changes: &HashMap<(String, String), Vec<PauseChange>>,
        departments: &Admitted,
    ) -> Result<(), StoreError> {
        loop {
            let rows = self.store.unscored(SCORE_BATCH).await?;
            let scored = self.score_batch(&rows, changes, departments);
            self.store.save_outcomes(&scored).await?;
            if rows.len() < SCORE_BATCH as usize || scored.is_empty() {
                return Ok(());
            }
        }
    }

    fn score_batch(
        &self,
        rows: &[EvalRow],
        changes: &HashMap<(String, String), Vec<PauseChange>>,
        departments: &Admitted,
    ) -> Vec<Scored> {
        let mut scored = Vec::with_capacity(rows.len());
        for row in rows {
            let c = changes.get(&(row.source.clone(), row.dossier_id.clone()));
            let Some(s) = self.score(row, c) else {
                continue;
            };
            scored.push(Scored {
                source: row.source.clone(),
                dossier_id: row.dossier_id.clone(),
                outcome: s.outcome.as_str(),
                processing_working_secs: s.processing_working_secs,
            });
            // A department system's row is scored all the same, so that it leaves the unscored
            // index, but its processing time is the record's dossier's, observed there.
            if self.linked.contains_key(&row.source) {
                continue;
            }
            let labels = [
                row.source.as_str(),
                self.department_label(departments, &row.source, &row.department),
            ];
            self.metrics
                .processing_working
                .with_label_values(&labels)
                .observe(s.processing_working_secs as f64);
            if let Some(resolved) = row.resolved_at {
                self.metrics
                    .processing_wall
                    .with_label_values(&labels)
                    .observe((resolved - row.received_at).max(0) as f64);
            }
        }
        scored
    }
}

/// The open-dossier families' values, keyed by their label values.
#[derive(Default)]
struct OpenTally<'a> {
    open: HashMap<[&'a str; 3], i64>,
    by_procedure: HashMap<[&'a str; 4], i64>,
    without_deadline: HashMap<[&'a str; 2], i64>,
    /// Working seconds late, per overdue dossier.
    overdue: HashMap<[&'a str; 2], Vec<i64>>,
}

/// Resolved dossiers scored per read: bounds memory when a million historic ones are scored at
/// first start.
const SCORE_BATCH: i64 = 10_000;

/// Carried over into each period: received before its start and not resolved by then, i.e. still
/// open now, or resolved since the start (counted by the store).
fn carried_over(
    open: &[OpenView],
    resolved: &ResolvedCounts,
    p: Periods,
) -> Vec<PeriodCounts<(String, String)>> {
    let mut carried = resolved.carried_over.clone();
    let starts = [p.day_start, p.month_start, p.year_start];
    for v in open {
        let counts = carried
            .entry((v.source.clone(), v.department.clone()))
            .or_insert([0; 3]);
        for (count, start) in counts.iter_mut().zip(starts) {
            if v.received_at < start {
                *count += 1;
            }
        }
    }
    carried
        .into_iter()
        .map(|(key, [day, month, year])| PeriodCounts {
            key,
            day,
            month,
            year,
        })
        .collect()
}
