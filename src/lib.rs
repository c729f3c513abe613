//! hcc-monitor: SLA and observability service for public administration service centres.
//!
//! The map, one line per module:

/// The canonical dossier and its statuses (DESIGN §3).
pub mod dossier;

/// Working-time calendar: sessions, holidays, make-up days, exact working-time answers (DESIGN §4).
pub mod calendar;

/// SLA states, outcomes and statutory times of dossiers, on the calendar (DESIGN §5; pure).
pub mod sla;
