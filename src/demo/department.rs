//! The department's own system (Sở Xây dựng's, in SQLite): a second source in another
//! vendor's style, with English column names and numeric status codes. The centre hands this
//! department's dossiers over to it (`DA_CHUYEN` in the centre); each shows up here some seconds
//! later, except a few that never arrive, so the demo has pending and stuck handoffs.

use chrono::NaiveDateTime;
use sqlx::{AnyPool, Executor};

use super::catalog::{HANDOFF_DEPARTMENT, TRANSFERRED};
use super::generator::Generator;

const DDL: &str = "CREATE TABLE IF NOT EXISTS dossier_registry (
    code TEXT PRIMARY KEY, proc TEXT NOT NULL, received TEXT NOT NULL, deadline TEXT,
    finished TEXT, state INTEGER NOT NULL, modified TEXT NOT NULL)";

// The department's status codes, as its vendor numbered them (the demo config maps them).
const RECEIVED: i64 = 10;
const IN_PROGRESS: i64 = 20;
const SUPPLEMENT_REQUESTED: i64 = 50;
const RESOLVED: i64 = 90;
const RETURNED: i64 = 99;

/// Chance, at each trickle run, that the centre hands over a dossier it received.
const HANDOVER_CHANCE: f64 = 0.5;

/// Chance, at each trickle run, that a handed-over dossier shows up: about 15 s after the
/// handover on average at one run every 5 s.
const ARRIVAL_CHANCE: f64 = 0.3;

/// Chance, at each trickle run, that the department moves one of its open dossiers on: about
/// the pace of handovers, so that its backlog neither drains nor piles up.
const PROGRESS_CHANCE: f64 = 0.2;

/// Share of the department's steps on a dossier in progress that resolve it; the others ask
/// for a supplement.
const RESOLVED_SHARE: f64 = 0.8;

/// One handover in this many never reaches the department: the stuck ones.
const LOST_ONE_IN: u32 = 8;

/// Whether the handover of dossier `id` is lost on the way. Decided by the id, so that a
/// restarted demo loses the same ones and the stuck list stays stable.
fn lost(id: &str) -> bool {
    id.bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        .is_multiple_of(LOST_ONE_IN)
}

/// A dossier as the centre knows it: id, procedure, received, due, resolved, status, changed.
type CentreRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

/// Creates the department's table and registers what the centre has handed over so far:
/// dossiers in progress there (but the lost ones) and those it resolved.
pub async fn create(centre: &AnyPool, department: &AnyPool) -> Result<(), sqlx::Error> {
    department.execute(DDL).await?;
    let rows: Vec<CentreRow> = sqlx::query_as(
        "SELECT ma_ho_so, ma_thu_tuc, ngay_tiep_nhan, ngay_hen_tra, ngay_co_ket_qua, \
         trang_thai, ngay_cap_nhat FROM ho_so \
         WHERE ma_don_vi = $1 AND trang_thai IN ($2, 'CO_KET_QUA', 'DA_TRA_KET_QUA')",
    )
    .bind(HANDOFF_DEPARTMENT)
    .bind(TRANSFERRED)
    .fetch_all(centre)
    .await?;
    let mut tx = department.begin().await?;
    for (id, procedure, received, due, resolved, status, changed) in rows {
        let state = match status.as_str() {
            "CO_KET_QUA" => RESOLVED,
            "DA_TRA_KET_QUA" => RETURNED,
            _ if lost(&id) => continue,
            _ => IN_PROGRESS,
        };
        sqlx::query(
            "INSERT INTO dossier_registry (code, proc, received, deadline, finished, state, \
             modified) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(procedure)
        .bind(received)
        .bind(due)
        .bind(resolved)
        .bind(state)
        .bind(changed)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// One trickle run: the centre may hand a received dossier over, some handed-over dossiers
/// arrive, and the department moves a few of its open ones on; when it resolves one, the
/// centre's dossier gets its result.
pub async fn trickle(
    centre: &AnyPool,
    department: &AnyPool,
    generator: &std::sync::Mutex<Generator>,
    now: NaiveDateTime,
) -> Result<(), sqlx::Error> {
    let local = now.format("%Y-%m-%d %H:%M:%S").to_string();
    // The general trickle takes dossiers up at random among hundreds; handing over here too
    // makes the handoff lag show within a minute or two of the demo's start.
    let waiting: Option<String> = sqlx::query_scalar(
        "SELECT ma_ho_so FROM ho_so WHERE ma_don_vi = $1 AND trang_thai = 'DA_TIEP_NHAN' \
         ORDER BY RANDOM() LIMIT 1",
    )
    .bind(HANDOFF_DEPARTMENT)
    .fetch_optional(centre)
    .await?;
    let hand_over = {
        let mut g = generator.lock().unwrap_or_else(|e| e.into_inner());
        waiting.filter(|_| g.chance(HANDOVER_CHANCE))
    };
    if let Some(id) = hand_over {
        super::db::set_status(centre, &id, TRANSFERRED, None, now).await?;
    }
    let handed_over: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT ma_ho_so, ma_thu_tuc, ngay_tiep_nhan, ngay_hen_tra FROM ho_so \
         WHERE trang_thai = $1",
    )
    .bind(TRANSFERRED)
    .fetch_all(centre)
    .await?;
    let arriving: Vec<_> = {
        let mut g = generator.lock().unwrap_or_else(|e| e.into_inner());
        handed_over
            .into_iter()
            .filter(|(id, ..)| !lost(id) && g.chance(ARRIVAL_CHANCE))
            .collect()
    };
    for (id, procedure, received, due) in arriving {
        // Already registered ones are left as they are.
        sqlx::query(
            "INSERT INTO dossier_registry (code, proc, received, deadline, state, modified) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING",
        )
        .bind(id)
        .bind(procedure)
        .bind(received)
        .bind(due)
        .bind(RECEIVED)
        .bind(local.clone())
        .execute(department)
        .await?;
    }
    let open: Option<(String, i64)> = sqlx::query_as(
        "SELECT code, state FROM dossier_registry WHERE state IN ($1, $2, $3) \
         ORDER BY RANDOM() LIMIT 1",
    )
    .bind(RECEIVED)
    .bind(IN_PROGRESS)
    .bind(SUPPLEMENT_REQUESTED)
    .fetch_optional(department)
    .await?;
    let step = {
        let mut g = generator.lock().unwrap_or_else(|e| e.into_inner());
        open.filter(|_| g.chance(PROGRESS_CHANCE))
            .map(|(id, state)| (id, state, g.chance(RESOLVED_SHARE)))
    };
    if let Some((id, state, resolves)) = step {
        let next = match state {
            IN_PROGRESS if resolves => RESOLVED,
            IN_PROGRESS => SUPPLEMENT_REQUESTED,
            _ => IN_PROGRESS,
        };
        let finished = (next == RESOLVED).then(|| local.clone());
        sqlx::query(
            "UPDATE dossier_registry SET state = $1, finished = COALESCE($2, finished), \
             modified = $3 WHERE code = $4",
        )
        .bind(next)
        .bind(finished)
        .bind(local.clone())
        .bind(id.clone())
        .execute(department)
        .await?;
        if next == RESOLVED {
            super::db::set_status(centre, &id, "CO_KET_QUA", Some(now), now).await?;
        }
    }
    Ok(())
}
