//! Time per stage: each dossier's stage events are visits, from entering a stage to entering the
//! next one, or to the resolution. A visit that has ended is observed once in the histogram (the
//! store marks it counted, so a restart does not observe it again); the visit an open dossier is
//! in makes the where-they-wait gauges.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::{Evaluator, OpenView};
use crate::dossier::{Clock, Status};
use crate::label::Admitted;
use crate::store::{StoreError, VisitKey, VisitRow, instant};

/// Stage labels per source: stage names are data, and each one makes series of its own.
pub(super) const MAX_STAGE_LABELS: usize = 50;
/// Dossiers whose events are read at once.
const VISIT_BATCH: i64 = 10_000;

/// Per (source, stage label): open dossiers in the stage now, and their working seconds in it.
pub(super) type InStage = BTreeMap<(String, String), (i64, i64)>;

/// A visit that has just ended, and what it took when it counts.
struct Ended {
    key: VisitKey,
    working_secs: Option<i64>,
}

impl Evaluator {
    /// Counts the visits that ended by `now` and not counted yet, and returns where the open
    /// dossiers are at `now`.
    pub(super) async fn follow_stages(
        &self,
        now: DateTime<Utc>,
        open: &[OpenView],
    ) -> Result<InStage, StoreError> {
        let labels = self.stage_labels().await?;
        // A department system's dossier is open while the record's dossier is.
        let open: HashSet<(&str, &str)> = open
            .iter()
            .map(|v| (v.source.as_str(), v.dossier_id.as_str()))
            .chain(self.linked.iter().flat_map(|(department, record)| {
                open.iter()
                    .filter(move |v| v.source == *record)
                    .map(move |v| (department.as_str(), v.dossier_id.as_str()))
            }))
            .collect();
        let mut in_stage = InStage::new();
        let mut after = (String::new(), String::new());
        loop {
            let rows = self
                .store
                .pending_visits((&after.0, &after.1), VISIT_BATCH)
                .await?;
            let mut ended = Vec::new();
            let mut dossiers = 0;
            for events in
                rows.chunk_by(|a, b| (&a.source, &a.dossier_id) == (&b.source, &b.dossier_id))
            {
                dossiers += 1;
                let is_open =
                    open.contains(&(events[0].source.as_str(), events[0].dossier_id.as_str()));
                self.visits(events, now, is_open, &mut ended, |source, stage, secs| {
                    let label = self.stages.apply(&labels, &self.metrics, source, stage);
                    let entry = in_stage
                        .entry((source.to_string(), label.to_string()))
                        .or_default();
                    entry.0 += 1;
                    entry.1 += secs;
                });
            }
            let keys: Vec<VisitKey> = ended.iter().map(|e| e.key.clone()).collect();
            // Marked before being observed: a failed write must not let the next cycle observe
            // the same visits twice.
            self.store.close_visits(&keys, now).await?;
            for e in ended {
                if let Some(secs) = e.working_secs {
                    let label =
                        self.stages
                            .apply(&labels, &self.metrics, &e.key.source, &e.key.stage);
                    self.metrics
                        .stage_working
                        .with_label_values(&[e.key.source.as_str(), label])
                        .observe(secs as f64);
                }
            }
            match rows.last() {
                Some(last) if dossiers == VISIT_BATCH as usize => {
                    after = (last.source.clone(), last.dossier_id.clone());
                }
                _ => return Ok(in_stage),
            }
        }
    }

    /// Walks one dossier's events (oldest first) as they stood at `now`: each visit ends at the
    /// next event or the resolution, whichever comes first. A visit that starts at or after the
    /// resolution (handing over the result) or lasts no time is closed without an observation,
    /// as are the open ends of withdrawn and refused dossiers. The open end of an open dossier is
    /// where it waits, handed to `current`.
    fn visits(
        &self,
        events: &[VisitRow],
        now: DateTime<Utc>,
        is_open: bool,
        ended: &mut Vec<Ended>,
        mut current: impl FnMut(&str, &str, i64),
    ) {
        let now_secs = now.timestamp();
        let events: Vec<&VisitRow> = events.iter().filter(|e| e.entered_at <= now_secs).collect();
        let status = events
            .first()
            .and_then(|e| e.status.as_deref())
            .and_then(Status::parse);
        let resolution = events
            .first()
            .and_then(|e| e.resolved_at)
            .filter(|r| status.is_some_and(Status::is_resolved) && *r <= now_secs);
        let abandoned = status.is_some_and(|s| s.clock() == Clock::None);
        for (i, e) in events.iter().enumerate() {
            let next = events.get(i + 1).map(|n| n.entered_at);
            let end = match (next, resolution) {
                (Some(n), Some(r)) => Some(n.min(r)),
                (n, r) => n.or(r),
            };
            let key = || VisitKey {
                source: e.source.clone(),
                dossier_id: e.dossier_id.clone(),
                stage: e.stage.clone(),
                entered_at: e.entered_at,
            };
            match end {
                Some(end) if e.observed_at.is_none() => ended.push(Ended {
                    key: key(),
                    working_secs: (end > e.entered_at).then(|| {
                        self.calendar
                            .working_seconds_between(instant(e.entered_at), instant(end))
                    }),
                }),
                None if is_open => current(
                    &e.source,
                    &e.stage,
                    self.calendar
                        .working_seconds_between(instant(e.entered_at), now),
                ),
                None if abandoned && e.observed_at.is_none() => ended.push(Ended {
                    key: key(),
                    working_secs: None,
                }),
                // Counted already, or waiting for the dossier (not polled yet, vanished, or not
                // started).
                _ => {}
            }
        }
    }

    /// The first `MAX_STAGE_LABELS` stages of each source in order of first sight: the same set
    /// after a restart.
    async fn stage_labels(&self) -> Result<Admitted, StoreError> {
        let mut labels = Admitted::new();
        for (source, stage) in self.store.stage_names().await? {
            let admitted = labels.entry(source).or_default();
            if admitted.len() < MAX_STAGE_LABELS {
                admitted.insert(stage);
            }
        }
        Ok(labels)
    }
}
