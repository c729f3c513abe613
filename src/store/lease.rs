//! The leader's lease row (PostgreSQL stores only; a SQLite store serves one process). The
//! server's clock decides expiry, so that instances whose clocks disagree still agree on who
//! holds the lease.

use std::time::Duration;

use super::{Store, StoreError, StorePool, failed};

/// The one lease row's name.
const LEADER: &str = "leader";

impl Store {
    /// True when several instances may share this store (PostgreSQL): they elect a leader.
    pub fn is_shared(&self) -> bool {
        matches!(self.pool, StorePool::Postgres(_))
    }

    /// Takes or renews the lease for `holder` for `lease` from now, if it is free, lapsed or
    /// already `holder`'s. Returns the fencing token of `holder`'s term (the same while it
    /// renews in time, the next one for each new term), or `None` while another instance holds
    /// it. A SQLite store has one instance, which always holds it (token 0).
    pub async fn hold_lease(
        &self,
        holder: &str,
        lease: Duration,
    ) -> Result<Option<i64>, StoreError> {
        let StorePool::Postgres(p) = &self.pool else {
            return Ok(Some(0));
        };
        sqlx::query_scalar(
            "INSERT INTO leader_lease (name, holder, token, expires_at) \
             VALUES ($1, $2, 1, clock_timestamp() + make_interval(secs => $3)) \
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, \
             token = CASE WHEN leader_lease.holder = EXCLUDED.holder \
                 AND leader_lease.expires_at > clock_timestamp() \
                 THEN leader_lease.token ELSE leader_lease.token + 1 END, \
             expires_at = EXCLUDED.expires_at \
             WHERE leader_lease.holder = EXCLUDED.holder \
                OR leader_lease.expires_at <= clock_timestamp() \
             RETURNING token",
        )
        .bind(LEADER)
        .bind(holder)
        .bind(lease.as_secs_f64())
        .fetch_optional(p)
        .await
        .map_err(failed("holding the leader's lease"))
    }

    /// Gives the lease up at a clean stop, so that a standby takes over at its next attempt
    /// rather than after the lease lapses.
    pub async fn release_lease(&self, holder: &str) -> Result<(), StoreError> {
        let StorePool::Postgres(p) = &self.pool else {
            return Ok(());
        };
        sqlx::query(
            "UPDATE leader_lease SET expires_at = clock_timestamp() \
             WHERE name = $1 AND holder = $2",
        )
        .bind(LEADER)
        .bind(holder)
        .execute(p)
        .await
        .map_err(failed("releasing the leader's lease"))?;
        Ok(())
    }
}
