//! hcc-monitor: SLA and observability service for public administration service centres.
//!
//! The map, one line per module:

/// The canonical dossier and its statuses (DESIGN §3).
pub mod dossier;
