//! hcc-monitor: SLA and observability service for public administration service centres.
//!
//! The map, one line per module:

/// The canonical dossier and its statuses (DESIGN §3).
pub mod dossier;
/// Strict TOML configuration, validated as a whole.
pub mod config;
/// Every exported metric, declared once.
pub mod metrics;
/// The service's own database (SQLite or PostgreSQL): dossiers, history, watermarks.
pub mod store;
/// The clock as a dependency (system time, or a fixed instant for `--as-of` and tests).
pub mod clock;
/// Dossier sources: per-dialect readers, the row mapping, the poller.
pub mod source;
/// Cron jobs with timeouts, skip-if-running, panic capture and shutdown.
pub mod scheduler;
/// The HTTP server: metrics, health, JSON API.
pub mod http;
/// The evaluation cycle: gauges recomputed from the store.
pub mod evaluate;
/// Startup: builds the application and runs it until shutdown.
pub mod app;
/// The demo centre: generated dossier data, a live trickle, and the benchmark filler.
pub mod demo;
