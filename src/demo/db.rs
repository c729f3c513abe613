//! The demo source table `ho_so` in SQLite, PostgreSQL or MariaDB/MySQL: Vietnamese column
//! names, local times without zone, text status codes.

use sqlx::AnyPool;
use sqlx::{AssertSqlSafe, Executor};

use super::generator::DemoRow;
use crate::config::Dialect;

const SQLITE_DDL: &str = "CREATE TABLE IF NOT EXISTS ho_so (
    ma_ho_so TEXT PRIMARY KEY, ma_thu_tuc TEXT NOT NULL, ten_thu_tuc TEXT,
    ma_don_vi TEXT NOT NULL, kenh_nop INTEGER, ngay_tiep_nhan TEXT NOT NULL,
    ngay_hen_tra TEXT, ngay_co_ket_qua TEXT, trang_thai TEXT NOT NULL,
    ngay_cap_nhat TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ho_so_ngay_cap_nhat ON ho_so (ngay_cap_nhat);";

const POSTGRES_DDL: &str = "CREATE TABLE IF NOT EXISTS ho_so (
    ma_ho_so VARCHAR(40) PRIMARY KEY, ma_thu_tuc VARCHAR(20) NOT NULL, ten_thu_tuc VARCHAR(200),
    ma_don_vi VARCHAR(20) NOT NULL, kenh_nop SMALLINT, ngay_tiep_nhan TIMESTAMP(0) NOT NULL,
    ngay_hen_tra TIMESTAMP(0), ngay_co_ket_qua TIMESTAMP(0), trang_thai VARCHAR(20) NOT NULL,
    ngay_cap_nhat TIMESTAMP(0) NOT NULL);
CREATE INDEX IF NOT EXISTS ho_so_ngay_cap_nhat ON ho_so (ngay_cap_nhat);";

const MYSQL_DDL: &str = "CREATE TABLE IF NOT EXISTS ho_so (
    ma_ho_so VARCHAR(40) PRIMARY KEY, ma_thu_tuc VARCHAR(20) NOT NULL, ten_thu_tuc VARCHAR(200),
    ma_don_vi VARCHAR(20) NOT NULL, kenh_nop SMALLINT, ngay_tiep_nhan DATETIME NOT NULL,
    ngay_hen_tra DATETIME, ngay_co_ket_qua DATETIME, trang_thai VARCHAR(20) NOT NULL,
    ngay_cap_nhat DATETIME NOT NULL, INDEX ho_so_ngay_cap_nhat (ngay_cap_nhat)
) DEFAULT CHARSET = utf8mb4";

/// The query a source config uses to read `ho_so` as canonical dossiers.
pub const SOURCE_QUERY: &str = "SELECT ma_ho_so AS dossier_id, ma_thu_tuc AS procedure_code,
       ten_thu_tuc AS procedure_name, ma_don_vi AS department, kenh_nop AS channel,
       ngay_tiep_nhan AS received_at, ngay_hen_tra AS due_at, ngay_co_ket_qua AS resolved_at,
       trang_thai AS status, ngay_cap_nhat AS updated_at
FROM ho_so
WHERE ngay_cap_nhat >= :watermark";

pub async fn connect(url: &str) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    AnyPool::connect(url).await
}

pub async fn create_table(pool: &AnyPool, dialect: Dialect) -> Result<(), sqlx::Error> {
    let ddl = match dialect {
        Dialect::Sqlite => SQLITE_DDL,
        Dialect::Postgres => POSTGRES_DDL,
        Dialect::MySql => MYSQL_DDL,
    };
    for statement in ddl.split(';').filter(|s| !s.trim().is_empty()) {
        pool.execute(AssertSqlSafe(statement)).await?;
    }
    Ok(())
}

fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn time(t: Option<chrono::NaiveDateTime>) -> String {
    t.map_or("NULL".into(), |t| {
        format!("'{}'", t.format("%Y-%m-%d %H:%M:%S"))
    })
}

/// Inserts rows in one multi-row statement; values are generated here, quoted as literals so
/// one statement works on every dialect through the `Any` driver.
pub async fn insert(pool: &AnyPool, rows: &[DemoRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::with_capacity(rows.len() * 220);
    sql.push_str(
        "INSERT INTO ho_so (ma_ho_so, ma_thu_tuc, ten_thu_tuc, ma_don_vi, kenh_nop, \
         ngay_tiep_nhan, ngay_hen_tra, ngay_co_ket_qua, trang_thai, ngay_cap_nhat) VALUES ",
    );
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "({},{},{},{},{},{},{},{},{},{})",
            text(&r.ma_ho_so),
            text(r.ma_thu_tuc),
            text(r.ten_thu_tuc),
            text(r.ma_don_vi),
            r.kenh_nop,
            time(Some(r.ngay_tiep_nhan)),
            time(r.ngay_hen_tra),
            time(r.ngay_co_ket_qua),
            text(r.trang_thai),
            time(Some(r.ngay_cap_nhat)),
        ));
    }
    pool.execute(AssertSqlSafe(sql)).await.map(drop)
}

pub async fn count(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM ho_so")
        .fetch_one(pool)
        .await
}

/// Open dossiers for the trickle to move along, at random: (id, status, department). Those
/// handed over to a department's system are left to it.
pub async fn sample_open(
    pool: &AnyPool,
    n: i64,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ma_ho_so, trang_thai, ma_don_vi FROM ho_so WHERE trang_thai IN \
         ('CHO_TIEP_NHAN','DA_TIEP_NHAN','DANG_XU_LY','YEU_CAU_BO_SUNG','CHO_THANH_TOAN','CO_KET_QUA') \
         ORDER BY RANDOM() LIMIT $1",
    )
    .bind(n)
    .fetch_all(pool)
    .await
}

pub async fn set_status(
    pool: &AnyPool,
    id: &str,
    status: &str,
    resolved: Option<chrono::NaiveDateTime>,
    now: chrono::NaiveDateTime,
) -> Result<(), sqlx::Error> {
    let now = now.format("%Y-%m-%d %H:%M:%S").to_string();
    let resolved = resolved.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string());
    sqlx::query(
        "UPDATE ho_so SET trang_thai = $1, ngay_co_ket_qua = COALESCE($2, ngay_co_ket_qua), \
         ngay_cap_nhat = $3 WHERE ma_ho_so = $4",
    )
    .bind(status)
    .bind(resolved)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await
    .map(drop)
}
