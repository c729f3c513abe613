//! Transfers of dossiers between two sources (the one-stop portal hands a dossier to a
//! department's system, for example): which were transferred and not yet seen on the other side,
//! which of those are stuck in working time, and how long the arrivals took.
//!
//! Everything comes from the store: a dossier is matched by its id in both sources, the
//! transfer instant comes from the `from` source's status history, the arrival is the dossier's
//! first sighting in `to`. The gauges are therefore right after a restart, and `--as-of` replays
//! a past moment.

pub mod config;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use config::{HandoffConfig, Transferred};

use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::scheduler::Job;
use crate::store::{Store, StoreError};

/// A handoff pending longer than its threshold, in working time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StuckHandoff {
    pub dossier_id: String,
    pub department: String,
    pub procedure_code: String,
    #[serde(serialize_with = "crate::http::instant::rfc3339")]
    pub transferred_at: DateTime<Utc>,
    pub pending_working_seconds: i64,
}

/// The state of one pair of sources at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PairStatus {
    pub from: String,
    pub to: String,
    pub pending: usize,
    pub stuck_after_working_seconds: i64,
    /// Oldest first.
    pub stuck: Vec<StuckHandoff>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HandoffReport {
    #[serde(serialize_with = "crate::http::instant::rfc3339")]
    pub as_of: DateTime<Utc>,
    pub handoffs: Vec<PairStatus>,
}

/// Every configured handoff, with what computing them needs.
#[derive(Debug)]
pub struct Handoffs {
    configs: Vec<HandoffConfig>,
    store: Store,
    calendar: Arc<Calendar>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
}

impl Handoffs {
    pub fn new(
        configs: Vec<HandoffConfig>,
        store: Store,
        calendar: Arc<Calendar>,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
    ) -> Handoffs {
        for h in &configs {
            metrics.init_handoff(&h.from, &h.to);
        }
        Handoffs {
            configs,
            store,
            calendar,
            metrics,
            clock,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn track(&self, h: &HandoffConfig) -> Result<u64, StoreError> {
        let (status, raw) = match &h.transferred {
            Transferred::Status(s) => (Some(s.as_str()), None),
            Transferred::Raw(r) => (None, Some(r.as_str())),
        };
        self.store
            .track_handoffs(&h.from, &h.to, status, raw, self.clock.now())
            .await
    }

    /// Starts tracking every transfer the store shows, without observing lags: for a one-off
    /// report from the command line.
    pub async fn track_all(&self) -> Result<(), StoreError> {
        for h in &self.configs {
            self.track(h).await?;
        }
        Ok(())
    }

    async fn pair_status(
        &self,
        h: &HandoffConfig,
        as_of: DateTime<Utc>,
    ) -> Result<PairStatus, StoreError> {
        let pending = self.store.pending_handoffs(&h.from, &h.to, as_of).await?;
        let stuck = pending
            .iter()
            .filter_map(|p| {
                let waited = self
                    .calendar
                    .working_seconds_between(p.transferred_at, as_of);
                (waited >= h.stuck_after_working_secs).then(|| StuckHandoff {
                    dossier_id: p.dossier_id.clone(),
                    department: p.department.clone(),
                    procedure_code: p.procedure_code.clone(),
                    transferred_at: p.transferred_at,
                    pending_working_seconds: waited,
                })
            })
            .collect();
        Ok(PairStatus {
            from: h.from.clone(),
            to: h.to.clone(),
            pending: pending.len(),
            stuck_after_working_seconds: h.stuck_after_working_secs,
            stuck,
        })
    }

    /// Every pair as of `as_of`, from what the store holds.
    pub async fn report(&self, as_of: DateTime<Utc>) -> Result<HandoffReport, StoreError> {
        let mut handoffs = Vec::with_capacity(self.configs.len());
        for h in &self.configs {
            handoffs.push(self.pair_status(h, as_of).await?);
        }
        Ok(HandoffReport { as_of, handoffs })
    }

    /// One run for one pair: tracks new transfers, observes the lag of each new arrival once,
    /// and sets the pair's gauges.
    async fn refresh(&self, h: &HandoffConfig) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.track(h).await?;
        let lag = self
            .metrics
            .handoff_lag
            .with_label_values(&[&h.from, &h.to]);
        for arrival in self.store.record_arrivals(&h.from, &h.to).await? {
            if arrival.timed {
                let secs = (arrival.arrived_at - arrival.transferred_at).num_seconds();
                lag.observe(secs.max(0) as f64);
            }
        }
        let status = self.pair_status(h, now).await?;
        let labels = [h.from.as_str(), h.to.as_str()];
        self.metrics
            .handoff_pending
            .with_label_values(&labels)
            .set(status.pending as i64);
        self.metrics
            .handoff_stuck
            .with_label_values(&labels)
            .set(status.stuck.len() as i64);
        Ok(())
    }

    /// A job per pair, on the pair's schedule.
    pub fn jobs(self: &Arc<Self>) -> Vec<Job> {
        (0..self.configs.len())
            .map(|i| {
                let h = &self.configs[i];
                let handoffs = self.clone();
                Job::new(
                    format!("handoff:{}>{}", h.from, h.to),
                    h.schedule.clone(),
                    Duration::from_secs(120),
                    move |_| {
                        let handoffs = handoffs.clone();
                        async move {
                            handoffs.refresh(&handoffs.configs[i]).await?;
                            Ok(())
                        }
                    },
                )
            })
            .collect()
    }
}
