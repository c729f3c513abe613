//! Leader election on a PostgreSQL store: a lease row with an expiry and a fencing token
//! (`Store::hold_lease`), renewed by the leader every `ha.renew_secs`, taken over by a standby
//! once it lapses.
//!
//! Why a lease row and not a session advisory lock on a dedicated connection: the lock is held
//! as long as the server sees the session, not as long as the holder works. A paused leader
//! (SIGSTOP, a VM frozen) keeps its connection and so the lock forever, and a leader behind a
//! cut network keeps it until TCP keepalives give up (minutes): the standby never takes over.
//! A lease lapses after `ha.lease_secs` whatever happens to the holder, on the server's clock;
//! the holder stops its jobs at its own, earlier, deadline (counted from before the renewal was
//! sent), and checks it before each job run, so that a process resumed after a pause stops
//! instead of acting on a lease it no longer holds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::HaConfig;
use crate::store::Store;

/// What this instance does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Polls, probes, plans escalations, drains the outbox and sends reports.
    Leader,
    /// Serves `/metrics` (its own process series only), health and the API from the store.
    Standby,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Standby => "standby",
        }
    }
}

/// This instance's role, shared by the jobs, the HTTP server and the campaign that keeps it.
#[derive(Debug, Clone)]
pub struct Leadership(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    role: watch::Sender<Role>,
    /// While leading: when the lease lapses by this process's clock; `None` leads for good.
    until: Mutex<Option<Instant>>,
}

impl Leadership {
    /// The one instance of a SQLite store: leader for as long as it runs.
    pub fn sole() -> Leadership {
        Leadership::with(Role::Leader)
    }

    /// An instance of a shared store, before it has won the lease.
    pub fn standby() -> Leadership {
        Leadership::with(Role::Standby)
    }

    fn with(role: Role) -> Leadership {
        Leadership(Arc::new(Inner {
            role: watch::Sender::new(role),
            until: Mutex::new(None),
        }))
    }

    pub fn role(&self) -> Role {
        *self.0.role.borrow()
    }

    /// Role changes, for whoever starts and stops the leader's jobs.
    pub fn subscribe(&self) -> watch::Receiver<Role> {
        self.0.role.subscribe()
    }

    /// True while this instance leads and its lease has not lapsed by its own clock: a job
    /// asks before each run (and the outbox drain before each email).
    pub fn holds(&self) -> bool {
        self.role() == Role::Leader && self.until().is_none_or(|until| Instant::now() < until)
    }

    fn until(&self) -> Option<Instant> {
        *self.0.until.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lead_until(&self, until: Instant, token: i64) {
        *self.0.until.lock().unwrap_or_else(|e| e.into_inner()) = Some(until);
        if self.role() != Role::Leader {
            tracing::info!(token, "this instance holds the leader's lease: it leads");
            self.0.role.send_replace(Role::Leader);
        }
    }

    fn step_down(&self, why: &str) {
        if self.role() == Role::Leader {
            tracing::warn!(reason = why, "this instance no longer leads: its jobs stop");
            self.0.role.send_replace(Role::Standby);
        }
    }

    /// Takes the lease when it is free and keeps it while this process can renew it, until
    /// `stop`; then gives it up, so that a standby takes over at once.
    pub async fn campaign(self, store: Store, ha: HaConfig, stop: CancellationToken) {
        let me = super::instance_id();
        loop {
            let started = Instant::now();
            // A renewal that hangs must not hold the step down past the lease's lapse.
            let lapsing = self.until().filter(|_| self.role() == Role::Leader);
            let renewal = tokio::select! {
                r = tokio::time::timeout(ha.renew, store.hold_lease(me, ha.lease)) => r,
                () = sleep_until_some(lapsing) => {
                    self.step_down("the lease lapsed before it could be renewed");
                    continue;
                }
            };
            match renewal {
                Ok(Ok(Some(token))) => self.lead_until(started + ha.lease, token),
                Ok(Ok(None)) => self.step_down("another instance holds the lease"),
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot renew the leader's lease"),
                Err(_) => tracing::warn!(
                    timeout = ?ha.renew,
                    "the store did not answer the lease renewal in time"
                ),
            }
            let lapses = self.until().filter(|_| self.role() == Role::Leader);
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep_until(started + ha.renew) => {}
                () = sleep_until_some(lapses) => {
                    self.step_down("the lease lapsed before it could be renewed");
                }
            }
        }
        if self.role() == Role::Leader {
            self.0.role.send_replace(Role::Standby);
            if let Err(e) = store.release_lease(me).await {
                tracing::warn!(error = %e, "cannot release the leader's lease; it lapses by itself");
            }
        }
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// How long a standby may take to lead after the leader died: the lease lapses at most
/// `lease` after the last renewal, and the standby tries again every `renew`.
pub fn worst_failover(ha: &HaConfig) -> Duration {
    ha.lease + ha.renew
}
