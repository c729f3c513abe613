//! Integration tests, one binary: real PostgreSQL, MariaDB and SQLite sources, the service on a
//! real port, the binary itself, a real Prometheus scraping it.

mod alert_series;
mod api;
mod backup;
mod cli;
mod cli_guards;
mod config_bounds;
mod config_errors;
mod dashboards;
mod demo_data;
mod demo_probes;
mod escalation;
mod evaluation;
mod example_config;
mod ha;
mod handoffs;
mod helpers;
mod http;
mod http_input;
mod identity;
mod outbox_recovery;
mod paging;
mod poison_rows;
mod probes;
mod quiet_logs;
mod reload;
mod report;
mod resilience;
mod sources_mysql;
mod sources_postgres;
mod sources_sqlite;
mod stages;
mod store_isolation;
