//! The one-stop system's error log (`nhat_ky_loi`, in the centre's SQLite database): the demo's
//! `[[software]]` entry counts its rows by kind, and the trickle adds one now and then.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use sqlx::{AnyPool, Executor};

use super::generator::Generator;

const DDL: &str = "CREATE TABLE IF NOT EXISTS nhat_ky_loi (
    thoi_gian TEXT NOT NULL, loai TEXT NOT NULL, noi_dung TEXT NOT NULL)";

/// An error kind (the `kind` label), how often it occurs relative to the others, its message.
type Kind = (&'static str, u32, &'static str);

const KINDS: [Kind; 3] = [
    (
        "loi_dong_bo",
        5,
        "Đồng bộ hồ sơ lên Cổng dịch vụ công quốc gia thất bại",
    ),
    (
        "timeout_lien_thong",
        3,
        "Hết thời gian chờ phản hồi từ trục liên thông",
    ),
    ("loi_ky_so", 1, "Chữ ký số của kết quả không hợp lệ"),
];

fn pick(generator: &mut Generator) -> &'static Kind {
    generator.pick(&KINDS, |k| k.1)
}

/// Errors logged before the demo started, spread over its history, so that every kind has a
/// count from the first read.
const HISTORIC_ERRORS: usize = 40;

/// Chance that a trickle run logs an error (one run every 5 s).
const ERROR_CHANCE: f64 = 0.15;

/// Creates the table if missing and, when it is empty, logs errors over the last `span_days`.
pub async fn create(
    pool: &AnyPool,
    generator: &mut Generator,
    now: DateTime<Utc>,
    span_days: i64,
    tz: Tz,
) -> Result<(), sqlx::Error> {
    pool.execute(DDL).await?;
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nhat_ky_loi")
        .fetch_one(pool)
        .await?;
    if existing > 0 {
        return Ok(());
    }
    let span = Duration::days(span_days);
    for i in 0..HISTORIC_ERRORS {
        let at = now - span + span * i as i32 / HISTORIC_ERRORS as i32;
        // Every kind at least once, then mostly the frequent ones.
        let kind = KINDS.get(i).unwrap_or_else(|| pick(generator));
        insert(pool, kind, at, tz).await?;
    }
    Ok(())
}

/// One trickle run: now and then an error.
pub async fn trickle(
    pool: &AnyPool,
    generator: &std::sync::Mutex<Generator>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<(), sqlx::Error> {
    let kind = {
        let mut g = generator.lock().unwrap_or_else(|e| e.into_inner());
        g.chance(ERROR_CHANCE).then(|| pick(&mut g))
    };
    match kind {
        Some(kind) => insert(pool, kind, now, tz).await,
        None => Ok(()),
    }
}

async fn insert(
    pool: &AnyPool,
    (kind, _, message): &Kind,
    at: DateTime<Utc>,
    tz: Tz,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO nhat_ky_loi (thoi_gian, loai, noi_dung) VALUES ($1, $2, $3)")
        .bind(
            at.with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string(),
        )
        .bind(kind)
        .bind(message)
        .execute(pool)
        .await
        .map(drop)
}
