//! SQL probes: a query on a source's own pool (its read-only sessions, statement timeout and
//! connection cap), its success and latency, and the number in its first column.

use super::config::SqlProbeConfig;
use super::{Failure, Reason, Report};
use crate::metrics::poll_error;
use crate::source::value::RawValue;
use crate::source::{SourceError, SourcePool};

pub(super) const REASONS: &[Reason] = &[Reason::Timeout, Reason::Connect, Reason::Query];

pub(super) struct SqlCheck {
    cfg: SqlProbeConfig,
    pool: SourcePool,
}

impl SqlCheck {
    pub(super) fn new(cfg: &SqlProbeConfig, pool: SourcePool) -> SqlCheck {
        SqlCheck {
            cfg: cfg.clone(),
            pool,
        }
    }

    pub(super) async fn run(&self, report: &mut Report) -> Result<(), Failure> {
        let rows = self.pool.query(&self.cfg.query, 1).await.map_err(|e| {
            // The source's own sorting tells connection trouble from a bad query.
            let e = SourceError::from_fetch(&self.cfg.source, e);
            let reason = match e.kind() {
                poll_error::CONNECT => Reason::Connect,
                poll_error::TIMEOUT => Reason::Timeout,
                _ => Reason::Query,
            };
            Failure::new(reason, e.to_string())
        })?;
        report.value = rows
            .first()
            .and_then(|row| row.values.first())
            .and_then(RawValue::as_f64);
        Ok(())
    }
}
