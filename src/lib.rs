//! hcc-monitor: SLA and observability service for public administration service centres.
//!
//! The map, one line per module. A dossier's path: `source` reads it, `store` keeps it,
//! `evaluate` runs it through `calendar` and `sla` into `metrics`, `http` serves those.

/// Startup: builds the application and runs it until shutdown.
pub mod app;
/// Working-time calendar: sessions, holidays, make-up days, exact working-time answers (DESIGN §4).
pub mod calendar;
/// The clock as a dependency (system time, or a fixed instant for `--as-of` and tests).
pub mod clock;
/// Strict TOML configuration, validated as a whole.
pub mod config;
/// The demo centre: generated dossier data, a live trickle, and the benchmark filler.
pub mod demo;
/// The canonical dossier and its statuses (DESIGN §3).
pub mod dossier;
/// The evaluation cycle: gauges recomputed from the store.
pub mod evaluate;
/// Several instances on one PostgreSQL store: the instance's id and the leader's lease.
pub mod ha;
/// Transfers of dossiers between sources: pending, stuck, lag (DESIGN §7).
pub mod handoff;
/// The HTTP server: metrics, health, JSON API.
pub mod http;
/// Label values from the data: what a code is, and the busiest values a source keeps.
pub mod label;
/// Every exported metric, declared once.
pub mod metrics;
/// Escalation digests and scheduled reports: planner runs, the outbox drain, the mailer and
/// the email templates (DESIGN §6).
pub mod notify;
/// Owner-only files and folders for what the service writes (store, lock, emails).
pub mod private_fs;
/// Equipment and software probes (HTTP, TCP, SQL) and software error counts.
pub mod probe;
/// The official report table per department and in total, with Decision 766's progress score.
pub mod report;
/// Cron jobs with timeouts, skip-if-running, panic capture and shutdown.
pub mod scheduler;
/// SLA states, outcomes and statutory times of dossiers, on the calendar, and the progress
/// score they make (DESIGN §5; pure).
pub mod sla;
/// Dossier sources: per-dialect readers, the row mapping, the poller.
pub mod source;
/// The service's own database (SQLite or PostgreSQL): dossiers, history, watermarks.
pub mod store;
/// Runs of failures, so that logs say "down" and "recovered" once each.
pub mod streak;
/// Aligned text tables for the terminal.
pub mod table;
