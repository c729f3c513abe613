//! Integration tests, one binary: real PostgreSQL, MariaDB and SQLite sources, the service on a
//! real port, the binary itself.

mod config_errors;
mod escalation;
mod helpers;
mod resilience;
mod sources_mysql;
mod sources_postgres;
mod sources_sqlite;
