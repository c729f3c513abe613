//! Several instances on one PostgreSQL store (DESIGN: one leader): who this process is, and
//! the leader's lease that decides which instance polls, probes, plans and sends.

mod lease;

pub use lease::{Leadership, Role, worst_failover};

use std::sync::OnceLock;

/// This process's name among the instances sharing a store: host, process id and a random
/// suffix, so that a restarted process on the same host (same pid reused) is another instance.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "host".to_owned());
        format!(
            "{host}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
    })
}
