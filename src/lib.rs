//! hcc-monitor: SLA and observability service for public administration service centres.
//!
//! The map, one line per module:

/// The canonical dossier and its statuses (DESIGN §3).
pub mod dossier;

/// Working-time calendar: office sessions, holidays and make-up days, exact working-time answers (DESIGN §4).
pub mod calendar;
