//! Handoffs between sources: which dossiers were transferred, when, and when they arrived.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, failed, instant, on_pool};

/// A transferred dossier not yet seen in the receiving source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingHandoff {
    pub dossier_id: String,
    pub department: String,
    pub procedure_code: String,
    pub transferred_at: DateTime<Utc>,
}

/// A handoff whose dossier has just been found in the receiving source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub transferred_at: DateTime<Utc>,
    pub arrived_at: DateTime<Utc>,
    /// False when the dossier came with the receiving source's first poll: its first sighting
    /// then says when the monitor started, not when the dossier arrived.
    pub timed: bool,
}

impl Store {
    /// Starts tracking the dossiers of `from` that are in the transferred state: canonical
    /// `status` or source code `raw_status` (one of them given). The transfer instant is when
    /// the store saw the dossier enter the canonical status, else the row's change marker.
    /// Returns how many handoffs are new.
    pub async fn track_handoffs(
        &self,
        from: &str,
        to: &str,
        status: Option<&str>,
        raw_status: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        on_pool!(self, p => sqlx::query(
            "INSERT INTO handoffs (from_source, to_source, dossier_id, transferred_at, tracked_at) \
             SELECT d.source, $2, d.dossier_id, \
                    COALESCE((SELECT MAX(c.changed_at) FROM status_changes c \
                              WHERE c.source = d.source AND c.dossier_id = d.dossier_id \
                                AND c.new_status = $3), d.updated_at), \
                    $5 \
             FROM dossiers d \
             WHERE d.source = $1 AND d.vanished_at IS NULL \
               AND (d.status = $3 OR d.raw_status = $4) \
             ON CONFLICT (from_source, to_source, dossier_id) DO NOTHING",
        )
        .bind(from)
        .bind(to)
        .bind(status)
        .bind(raw_status)
        .bind(now.timestamp())
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(failed("tracking handoffs"))
    }

    /// Marks the pending handoffs whose dossier `to` now has as arrived (at the dossier's first
    /// sighting there) and returns them, each once.
    pub async fn record_arrivals(&self, from: &str, to: &str) -> Result<Vec<Arrival>, StoreError> {
        let first_poll: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT MIN(first_seen_at) FROM dossiers WHERE source = $1",
        )
        .bind(to)
        .fetch_one(p)
        .await)
        .map_err(failed("reading a source's first poll"))?;
        let rows: Vec<(i64, i64)> = on_pool!(self, p => sqlx::query_as(
            "UPDATE handoffs SET arrived_at = \
                 (SELECT t.first_seen_at FROM dossiers t \
                  WHERE t.source = handoffs.to_source AND t.dossier_id = handoffs.dossier_id) \
             WHERE from_source = $1 AND to_source = $2 AND arrived_at IS NULL \
               AND EXISTS (SELECT 1 FROM dossiers t \
                           WHERE t.source = handoffs.to_source \
                             AND t.dossier_id = handoffs.dossier_id) \
             RETURNING transferred_at, arrived_at",
        )
        .bind(from)
        .bind(to)
        .fetch_all(p)
        .await)
        .map_err(failed("recording handoff arrivals"))?;
        Ok(rows
            .into_iter()
            .map(|(transferred, arrived)| Arrival {
                transferred_at: instant(transferred),
                arrived_at: instant(arrived),
                timed: first_poll.is_some_and(|first| arrived > first),
            })
            .collect())
    }

    /// Handoffs transferred at or before `as_of` whose dossier `to` had not shown by then,
    /// oldest first. Dossiers that vanished from `from` are left out.
    pub async fn pending_handoffs(
        &self,
        from: &str,
        to: &str,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<PendingHandoff>, StoreError> {
        let rows: Vec<(String, String, String, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT h.dossier_id, f.department, f.procedure_code, h.transferred_at \
             FROM handoffs h \
             JOIN dossiers f ON f.source = h.from_source AND f.dossier_id = h.dossier_id \
             LEFT JOIN dossiers t ON t.source = h.to_source AND t.dossier_id = h.dossier_id \
                                 AND t.first_seen_at <= $3 \
             WHERE h.from_source = $1 AND h.to_source = $2 AND f.vanished_at IS NULL \
               AND h.transferred_at <= $3 AND t.dossier_id IS NULL \
             ORDER BY h.transferred_at, h.dossier_id",
        )
        .bind(from)
        .bind(to)
        .bind(as_of.timestamp())
        .fetch_all(p)
        .await)
        .map_err(failed("reading pending handoffs"))?;
        Ok(rows
            .into_iter()
            .map(
                |(dossier_id, department, procedure_code, t)| PendingHandoff {
                    dossier_id,
                    department,
                    procedure_code,
                    transferred_at: instant(t),
                },
            )
            .collect())
    }
}
