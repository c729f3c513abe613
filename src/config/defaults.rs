//! Every default of the configuration, in one place: the example config and the docs quote these.

pub const LISTEN: &str = "127.0.0.1:9464";
pub const STORE_URL: &str = "sqlite://hcc-data/store.db";
pub const STORE_MAX_CONNECTIONS: u32 = 4;
/// The store connections source polls share, apart from the service's: a poll holds at most one
/// at a time, so with two a source stuck in a slow write leaves the others a connection.
pub const STORE_SOURCE_CONNECTIONS: u32 = 2;
/// SLA gauges are recomputed from the store once a minute.
pub const EVALUATE_SCHEDULE: &str = "0 * * * * *";
pub const SHUTDOWN_GRACE_SECS: u64 = 30;
/// The leader's lease on a shared (PostgreSQL) store: a standby takes over at most
/// `lease + renew` after the leader died, 13 s, within the 15 s promised.
pub const HA_LEASE_SECS: u64 = 10;
pub const HA_RENEW_SECS: u64 = 3;

pub const SOURCE_SCHEDULE: &str = "0 * * * * *";
/// A nightly full read notices rows that vanished and anything an incremental poll missed.
pub const SOURCE_RESYNC_SCHEDULE: &str = "0 30 2 * * *";
/// Dossier databases are production systems: two connections at most unless the operator says so.
pub const SOURCE_MAX_CONNECTIONS: u32 = 2;
pub const SOURCE_TIMEOUT_SECS: u64 = 60;
pub const SOURCE_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Rows read and committed per store transaction: an initial sync of a million rows runs about
/// twice as fast as with 1,000, for a few MiB of memory (measured in bench/run.sh).
pub const SOURCE_BATCH_ROWS: usize = 20_000;
/// Rows of the dossier query read per statement: one page of a million-row source reads in well
/// under a second, far inside any statement timeout (measured in bench/paging.sh).
pub const SOURCE_PAGE_ROWS: usize = 10_000;
/// Each poll re-reads this much before the last watermark: a transaction that committed late
/// with an older change marker is still picked up; the upsert makes the re-read harmless.
pub const SOURCE_WATERMARK_OVERLAP_SECS: u64 = 60;

/// Equipment and software probes run twice a minute, like a typical blackbox scrape.
pub const PROBE_SCHEDULE: &str = "*/30 * * * * *";
pub const PROBE_TIMEOUT_SECS: u64 = 10;
pub const SOFTWARE_SCHEDULE: &str = "0 * * * * *";
pub const SOFTWARE_TIMEOUT_SECS: u64 = 30;
pub const HANDOFF_SCHEDULE: &str = "0 * * * * *";
/// A transfer not seen in the receiving system after one working day is stuck.
pub const HANDOFF_STUCK_AFTER_WORKING_HOURS: u64 = 8;
/// Twice a working day, early in each session; runs on rest days are skipped for levels that
/// keep to working hours, so make-up Saturdays are covered without a special schedule.
pub const DIGEST_SCHEDULE: &str = "0 30 7,13 * * *";
/// The default department-head level fires at this fraction of the allowed time used, or at
/// one working day left, when the rules want an apology and a new appointment issued.
pub const ESCALATE_FRACTION_USED: f64 = 0.75;
pub const MAIL_FOLDER: &str = "hcc-data/mail";
pub const MAIL_FROM: &str = "hcc-monitor <hcc-monitor@localhost>";
pub const SMTP_POOL_SIZE: u32 = 2;
pub const MAIL_TIMEOUT_SECS: u64 = 30;
/// How often the outbox is drained.
pub const MAIL_DRAIN_SCHEDULE: &str = "*/5 * * * * *";
/// Attempts before a message is marked dead: with the back-off below, about half a day.
pub const MAIL_MAX_ATTEMPTS: u32 = 12;
pub const MAIL_RETRY_INITIAL_SECS: u64 = 30;
pub const MAIL_RETRY_MAX_SECS: u64 = 3600;
/// Procedures labelled per source (where `procedure_labels` is on): a province has about 1,500,
/// and a few dozen make most of the volume.
pub const MAX_PROCEDURE_LABELS: usize = 50;
/// Departments labelled per source: a province's departments and the communes' one-stop desks
/// fit; each one makes about 70 series per source.
pub const MAX_DEPARTMENT_LABELS: usize = 200;

// Upper bounds of numeric keys: generous for any real centre, far below where a `Duration`,
// a driver or an allocation sized by the value would overflow.
/// One day: no query, connection, send or probe should wait longer; SQLite's busy timeout (i32
/// milliseconds) tops out at about 24 days.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;
pub const MAX_SHUTDOWN_GRACE_SECS: u64 = 3_600;
/// A lease longer than this would leave a centre without polls or emails for that long after
/// its leader died.
pub const MAX_HA_LEASE_SECS: u64 = 300;
/// Pools and SMTP connections are allocated up front, so a huge value is a huge allocation.
pub const MAX_CONNECTIONS: u32 = 1_000;
pub const MAX_BATCH_ROWS: usize = 1_000_000;
pub const MAX_PAGE_ROWS: usize = 1_000_000;
pub const MAX_MAIL_ATTEMPTS: u32 = 1_000;
/// About five working years: times 3,600 it still fits any integer the engine uses.
pub const MAX_WORKING_HOURS: u32 = 10_000;
/// Label values per source: at about 70 series per department, far more would swamp Prometheus.
pub const MAX_LABELS: usize = 10_000;
