//! Escalation digests and scheduled reports (DESIGN §6). A run decides what is due, renders the
//! emails and writes decisions and emails to the outbox in one transaction; the drain sends
//! what is due with bounded exponential back-off. A crash, a restart or an SMTP outage loses
//! nothing: pending rows wait in the store. The one duplicate possible is a message the server
//! accepted just before a crash or a stall, before it was marked sent: once its sender's claim
//! lapses it goes again with the same Message-ID, which makes it recognisable, and it is
//! counted (`hcc_outbox_reclaimed_total`).

mod context;
mod mailer;
mod message;
mod recovery;
mod refusals;
mod templates;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use lettre::Address;
use lettre::address::Envelope;
use serde::Serialize;

pub use mailer::{MailError, Mailer, Sent, mask, reason};
pub use message::message_id;
pub use recovery::{OutboxAction, OutboxOutcome, OutboxSelection, act_on_outbox};
pub use templates::{Kind, Rendered, TemplateError, Templates};

use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::{MailConfig, NotifyConfig};
use crate::dossier::Clock as DossierClock;
use crate::evaluate::{Evaluator, OpenView};
use crate::metrics::Metrics;
use crate::sla::{LevelRule, Previous, decide};
use crate::store::{
    Attempt, EscalationKey, NewMessage, OutboxEntry, OutboxRow, Store, StoreError, outbox_state,
};

/// Emails sent per drain run; the rest wait for the next run.
const DRAIN_BATCH: usize = 100;

/// What a claim on an outbox row allows beyond `mail.timeout`: recording the attempt.
const CLAIM_MARGIN_SECS: i64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot compose an email: {0}")]
    Compose(#[from] lettre::error::Error),
    #[error(transparent)]
    Mail(#[from] MailError),
}

/// What a run of a level did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EscalationRun {
    pub decided: usize,
    pub queued: u64,
}

/// What a drain run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainRun {
    pub sent: usize,
    pub failed: usize,
    /// The run stopped early because the server could not be reached.
    pub unreachable: bool,
}

/// Counts by state and level, and the latest emails with masked recipients.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxStatus {
    /// Emails by state, then by level.
    pub counts: BTreeMap<String, BTreeMap<String, i64>>,
    pub latest: Vec<OutboxEntry>,
}

#[derive(Debug, Clone, Copy)]
struct Delivery {
    working_hours_only: bool,
    first_attempt_at: DateTime<Utc>,
}

pub struct Notifier {
    config: NotifyConfig,
    rules: Vec<LevelRule>,
    /// The `level` label of every level and report.
    labels: Vec<String>,
    calendar: Arc<Calendar>,
    store: Store,
    evaluator: Arc<Evaluator>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    templates: Templates,
    mailer: Mailer,
    refusals: std::sync::Mutex<refusals::Refusals>,
    /// Emails the server accepted whose "sent" the store failed to record (a full disk, a lost
    /// store): recorded before anything else is sent, since their rows still read pending.
    unrecorded: std::sync::Mutex<Vec<Unrecorded>>,
}

/// A send the store has yet to record.
#[derive(Debug, Clone)]
struct Unrecorded {
    key: String,
    message_id: String,
    sent_at: DateTime<Utc>,
}

impl Notifier {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: NotifyConfig,
        calendar: Arc<Calendar>,
        store: Store,
        evaluator: Arc<Evaluator>,
        metrics: Arc<Metrics>,
        clock: Arc<dyn Clock>,
        templates: Templates,
        mailer: Mailer,
    ) -> Notifier {
        // Every level's series exist from the start, at zero, so that alerts on them work
        // before the first email.
        let labels: Vec<String> = config
            .levels
            .iter()
            .map(|l| l.rule.name.clone())
            .chain(config.reports.iter().map(|r| format!("report:{}", r.name)))
            .collect();
        for level in &labels {
            metrics.init_outbox_level(level);
        }
        Notifier {
            rules: config.levels.iter().map(|l| l.rule.clone()).collect(),
            labels,
            config,
            calendar,
            store,
            evaluator,
            metrics,
            clock,
            templates,
            mailer,
            refusals: Default::default(),
            unrecorded: Default::default(),
        }
    }

    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// One run of level `index`: decides the escalations due now and queues one digest per
    /// recipient listing that recipient's dossiers.
    pub async fn escalate(&self, index: usize) -> Result<EscalationRun, NotifyError> {
        let now = self.clock.now();
        let level = &self.config.levels[index];
        let name = level.rule.name.as_str();
        let cal = &*self.calendar;
        if level.working_hours_only && !cal.is_working_day(cal.local_date(now)) {
            tracing::debug!(level = name, "rest day: the level keeps to working hours");
            return Ok(EscalationRun::default());
        }
        let views = self.evaluator.open_dossiers(now).await?;
        let history = self.store.escalation_history(name).await?;
        let mut decided: Vec<(&OpenView, i64)> = Vec::new();
        for v in views
            .iter()
            .filter(|v| v.status.clock() == DossierClock::Running)
        {
            let previous = history.get(&(v.source.clone(), v.dossier_id.clone())).map(
                |&(first_decided_at, last_cycle)| Previous {
                    first_decided_at,
                    last_cycle,
                },
            );
            let d = decide(&self.rules, cal, &v.evaluation, |_| previous, now);
            if let Some(d) = d.filter(|d| d.level == index) {
                decided.push((v, d.cycle));
            }
        }
        if decided.is_empty() {
            return Ok(EscalationRun::default());
        }
        // Views come least time left first; each recipient's list keeps that order.
        let mut by_recipient: BTreeMap<Address, Vec<&OpenView>> = BTreeMap::new();
        for (v, _) in &decided {
            let mut to: Vec<Address> = level
                .notify
                .iter()
                .flat_map(|&role| self.config.recipients.of(role, Some(&v.department)))
                .chain(level.addresses.iter().cloned())
                .collect();
            to.sort();
            to.dedup();
            if to.is_empty() {
                tracing::warn!(
                    level = name,
                    department = %v.department,
                    "no recipient for this department at this level: add it under \
                     [recipients.department_heads]"
                );
            }
            for a in to {
                by_recipient.entry(a).or_default().push(v);
            }
        }
        let mut messages = Vec::with_capacity(by_recipient.len());
        for (to, dossiers) in &by_recipient {
            let ctx = context::digest(&self.config, cal, &level.rule, dossiers, &views, now);
            let rendered = self.templates.render(Kind::Digest, &ctx)?;
            let key = format!("escalation/{name}/{}/{to}", now.timestamp());
            let delivery = self.delivery(level.working_hours_only, now);
            messages.push(self.message(key, name, to, rendered, now, None, delivery)?);
        }
        let keys: Vec<EscalationKey> = decided
            .iter()
            .map(|(v, cycle)| EscalationKey {
                source: v.source.clone(),
                dossier_id: v.dossier_id.clone(),
                level: name.to_string(),
                cycle: *cycle,
            })
            .collect();
        let Some(queued) = self.store.record_escalations(&keys, now, &messages).await? else {
            tracing::info!(
                level = name,
                "these escalations were decided already (by another instance): nothing queued"
            );
            return Ok(EscalationRun::default());
        };
        self.metrics
            .escalations_decided
            .with_label_values(&[name])
            .inc_by(keys.len() as u64);
        tracing::info!(
            level = name,
            decided = keys.len(),
            queued,
            working_hours_only = level.working_hours_only,
            "escalations decided and queued"
        );
        self.refresh_gauges().await?;
        Ok(EscalationRun {
            decided: keys.len(),
            queued,
        })
    }

    /// Queues report `index` for the period containing now, once per period and recipient.
    pub async fn report(&self, index: usize) -> Result<u64, NotifyError> {
        let now = self.clock.now();
        let r = &self.config.reports[index];
        let mut built = crate::report::build(
            &self.store,
            &self.evaluator,
            r.period,
            r.period_start_day,
            now,
        )
        .await?;
        built.department_names = self.config.departments.clone();
        let cal = &*self.calendar;
        let csv = crate::report::render(&built, crate::report::Format::Csv);
        let file_name = format!(
            "bao-cao-{}-{}.csv",
            r.name,
            built.from.with_timezone(&cal.time_zone()).format("%Y%m%d")
        );
        let ctx = context::report(&self.config, cal, &built, &file_name);
        let mut to: Vec<Address> = r
            .notify
            .iter()
            .flat_map(|&role| self.config.recipients.of(role, None))
            .chain(r.addresses.iter().cloned())
            .collect();
        to.sort();
        to.dedup();
        let level = &self.labels[self.config.levels.len() + index];
        let delivery = self.delivery(r.working_hours_only, now);
        let mut messages = Vec::with_capacity(to.len());
        for address in &to {
            let key = format!("report/{}/{}/{address}", r.name, built.from.timestamp());
            let file = message::File {
                name: file_name.clone(),
                content_type: "text/csv; charset=utf-8",
                body: csv.clone().into_bytes(),
            };
            let rendered = self.templates.render(Kind::Report, &ctx)?;
            messages.push(self.message(
                key,
                level,
                address,
                rendered,
                now,
                Some(file),
                delivery,
            )?);
        }
        let queued = self.store.enqueue(&messages, now).await?;
        tracing::info!(report = %r.name, queued, "report queued");
        self.refresh_gauges().await?;
        Ok(queued)
    }

    #[allow(clippy::too_many_arguments)]
    fn message(
        &self,
        key: String,
        level: &str,
        to: &Address,
        rendered: Rendered,
        now: DateTime<Utc>,
        attachment: Option<message::File>,
        delivery: Delivery,
    ) -> Result<NewMessage, NotifyError> {
        let body = message::compose(&self.config.mail.from, to, &key, rendered, now, attachment)?;
        Ok(NewMessage {
            message_id: message_id(&key),
            key,
            level: level.to_string(),
            recipient: to.to_string(),
            body,
            working_hours_only: delivery.working_hours_only,
            next_attempt_at: delivery.first_attempt_at,
        })
    }

    /// When an email queued now is first tried: at once, or at the next opening of the calendar
    /// for emails that keep to working hours (which their retries do too).
    fn delivery(&self, working_hours_only: bool, now: DateTime<Utc>) -> Delivery {
        Delivery {
            working_hours_only,
            first_attempt_at: if working_hours_only {
                self.calendar.next_opening(now)
            } else {
                now
            },
        }
    }

    /// Sends every email due now, one claimed row at a time; failures are retried with
    /// back-off, and marked dead after `max_attempts` or at once when the server refuses
    /// permanently. Each row is claimed first (`Store::claim_due_message`), so that two
    /// instances draining at once, even both believing they lead, never send one row twice;
    /// the only exception is a row whose sender died or stalled mid-send, which is sent again
    /// with the same Message-ID once its claim lapses, and counted.
    pub async fn drain(&self) -> Result<DrainRun, NotifyError> {
        self.drain_while(|| true).await
    }

    /// `drain`, asking `keep_going` before each email: the leader's drain stops between two
    /// emails once it no longer leads.
    pub async fn drain_while(
        &self,
        keep_going: impl Fn() -> bool,
    ) -> Result<DrainRun, NotifyError> {
        let sender = crate::ha::instance_id();
        let mut run = DrainRun::default();
        self.record_unrecorded(sender).await?;
        for _ in 0..DRAIN_BATCH {
            if !keep_going() {
                break;
            }
            let now = self.clock.now();
            let claim_until = now + self.claim_span();
            let Some(row) = self
                .store
                .claim_due_message(sender, now, claim_until)
                .await?
            else {
                break;
            };
            if let Some(from) = &row.reclaimed_from {
                self.metrics
                    .outbox_reclaimed
                    .with_label_values(&[&row.level])
                    .inc();
                tracing::warn!(level = %row.level, message_id = %row.message_id, previous_sender = %from, "the previous sender's claim lapsed before it recorded an attempt: sending again with the same Message-ID (it may arrive twice)");
            }
            match self.send(&row).await {
                Ok(()) => {
                    self.refusals().accepted();
                    self.record_sent(&row, sender, now).await?;
                    self.metrics
                        .escalations_sent
                        .with_label_values(&[&row.level])
                        .inc();
                    tracing::info!(
                        level = %row.level,
                        to = %mask(&row.recipient),
                        message_id = %row.message_id,
                        attempts = row.attempts + 1,
                        "email sent"
                    );
                    run.sent += 1;
                }
                Err(e) => {
                    let server_fault = self.failed(&row, sender, &e, now).await?;
                    run.failed += 1;
                    // The server cannot be reached, or refuses everything: the rest of the
                    // batch waits for the next run instead of failing one by one now.
                    run.unreachable = server_fault
                        || [reason::CONNECT, reason::TIMEOUT, reason::TLS].contains(&e.class());
                }
            }
            if run.unreachable {
                break;
            }
        }
        self.refresh_gauges().await?;
        Ok(run)
    }

    /// Records a send before the next one starts. When the store cannot, the send is kept in
    /// memory and the drain stops: its row still reads pending, and sending more (or that one
    /// again once its claim lapses) would only pile up emails the store does not know went.
    async fn record_sent(
        &self,
        row: &OutboxRow,
        sender: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .store
            .record_attempt(&row.message_key, sender, Attempt::Sent, now)
            .await;
        if let Err(e) = &result {
            tracing::error!(level = %row.level, message_id = %row.message_id, error = %e, "the email was sent but the store cannot record it: the drain stops until it can");
            let mut unrecorded = self.unrecorded();
            unrecorded.push(Unrecorded {
                key: row.message_key.clone(),
                message_id: row.message_id.clone(),
                sent_at: now,
            });
            self.metrics
                .outbox_unrecorded_sends
                .set(unrecorded.len() as i64);
        }
        result
    }

    /// Records the sends the store failed to record earlier, oldest first; an error leaves the
    /// rest for the next drain, which sends nothing until they are all recorded.
    async fn record_unrecorded(&self, sender: &str) -> Result<(), StoreError> {
        loop {
            let Some(next) = self.unrecorded().first().cloned() else {
                return Ok(());
            };
            self.store
                .record_attempt(&next.key, sender, Attempt::Sent, next.sent_at)
                .await?;
            tracing::info!(message_id = %next.message_id, "a send the store had failed to record is recorded");
            let mut unrecorded = self.unrecorded();
            unrecorded.remove(0);
            self.metrics
                .outbox_unrecorded_sends
                .set(unrecorded.len() as i64);
        }
    }

    fn unrecorded(&self) -> std::sync::MutexGuard<'_, Vec<Unrecorded>> {
        self.unrecorded.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long a claim holds: a send is bounded by `mail.timeout`, and recording it takes a
    /// store round trip; a claim that outlives this is its sender's death or stall.
    fn claim_span(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.mail.timeout).unwrap_or(chrono::Duration::hours(1))
            + chrono::Duration::seconds(CLAIM_MARGIN_SECS)
    }

    async fn send(&self, row: &OutboxRow) -> Result<(), MailError> {
        let started = Instant::now();
        let result = deliver(&self.mailer, &self.config.mail, &row.recipient, &row.body).await;
        self.metrics
            .email_send_duration
            .observe(started.elapsed().as_secs_f64());
        result
    }

    fn refusals(&self) -> std::sync::MutexGuard<'_, refusals::Refusals> {
        self.refusals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a failed attempt; true when it is the server's fault rather than the message's
    /// (a burst of identical refusals), in which case its earlier victims are queued again.
    async fn failed(
        &self,
        row: &OutboxRow,
        sender: &str,
        e: &MailError,
        now: DateTime<Utc>,
    ) -> Result<bool, NotifyError> {
        let class = e.class();
        let attempts = row.attempts + 1;
        let verdict = match (e.is_permanent(), e.code()) {
            (true, Some(code)) => {
                self.refusals()
                    .record(now, &row.message_key, &row.recipient, &code)
            }
            _ => refusals::Verdict::Message,
        };
        let server_fault = matches!(verdict, refusals::Verdict::Server { .. });
        let dead = (e.is_permanent() && !server_fault)
            || attempts >= i64::from(self.config.mail.max_attempts);
        let next = now + self.backoff(row.attempts);
        let next = if row.working_hours_only != 0 {
            self.calendar.next_opening(next)
        } else {
            next
        };
        self.store
            .record_attempt(
                &row.message_key,
                sender,
                Attempt::Failed { class, next, dead },
                now,
            )
            .await?;
        self.metrics
            .escalations_failed
            .with_label_values(&[&row.level, class])
            .inc();
        let to = mask(&row.recipient);
        let revived = match &verdict {
            refusals::Verdict::Server { revive } => self.store.outbox_revive(revive, next).await?,
            refusals::Verdict::Message => 0,
        };
        if dead {
            tracing::error!(level = %row.level, %to, message_id = %row.message_id, attempts, reason = class, error = %e, revived, "email given up (dead)");
        } else if server_fault {
            tracing::error!(level = %row.level, %to, message_id = %row.message_id, attempts, reason = class, error = %e, revived, next_attempt_at = %next, "the mail server refuses every message with the same answer: a server fault, the emails stay queued");
        } else {
            tracing::warn!(level = %row.level, %to, message_id = %row.message_id, attempts, reason = class, error = %e, next_attempt_at = %next, "email not sent; will retry");
        }
        Ok(server_fault)
    }

    /// `retry_initial` doubled per earlier attempt, at most `retry_max`.
    fn backoff(&self, earlier_attempts: i64) -> chrono::Duration {
        let mail = &self.config.mail;
        let factor = 2u32.saturating_pow(earlier_attempts.clamp(0, 31) as u32);
        let delay = mail
            .retry_initial
            .saturating_mul(factor)
            .min(mail.retry_max);
        chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
    }

    async fn refresh_gauges(&self) -> Result<(), StoreError> {
        let counts = self.store.outbox_counts().await?;
        let due = self.store.outbox_due_counts(self.clock.now()).await?;
        let m = &self.metrics;
        m.rebuild(|| {
            for g in [&m.outbox_pending, &m.outbox_due, &m.outbox_dead] {
                for level in &self.labels {
                    g.with_label_values(&[level]).set(0);
                }
            }
            for (level, state, n) in &counts {
                match state.as_str() {
                    outbox_state::PENDING => m.outbox_pending.with_label_values(&[level]).set(*n),
                    outbox_state::DEAD => m.outbox_dead.with_label_values(&[level]).set(*n),
                    _ => {}
                }
            }
            for (level, n) in &due {
                m.outbox_due.with_label_values(&[level]).set(*n);
            }
        });
        Ok(())
    }
}

/// Sends a test email straight away, bypassing the outbox (`send-test-email`); returns its
/// Message-ID.
pub async fn send_test_email(
    mail: &MailConfig,
    cal: &Calendar,
    to: &Address,
    now: DateTime<Utc>,
) -> Result<String, NotifyError> {
    let mailer = Mailer::new(mail)?;
    let sentence = format!(
        "Thư thử nghiệm gửi lúc {}: cấu hình thư điện tử của hcc-monitor hoạt động.",
        context::local_time(cal, now)
    );
    let rendered = Rendered {
        subject: "[TTHCC] Thư thử nghiệm của hcc-monitor".to_string(),
        text: format!("{sentence}\n"),
        html: format!("<p>{sentence}</p>"),
    };
    let key = format!("test/{}/{to}", now.timestamp());
    let body = message::compose(&mail.from, to, &key, rendered, now, None)?;
    deliver(&mailer, mail, to.as_ref(), &body).await?;
    Ok(message_id(&key))
}

/// One email to one recipient, bounded by `mail.timeout`.
async fn deliver(
    mailer: &Mailer,
    mail: &MailConfig,
    recipient: &str,
    body: &[u8],
) -> Result<(), MailError> {
    let to = recipient
        .parse::<Address>()
        .map_err(|_| MailError::Recipient)?;
    let envelope =
        Envelope::new(Some(mail.from.email.clone()), vec![to]).map_err(|_| MailError::Recipient)?;
    tokio::time::timeout(mail.timeout, mailer.send(&envelope, body))
        .await
        .unwrap_or(Err(MailError::Timeout(mail.timeout)))
}

/// Counts by level and state, and the latest emails without their bodies, recipients masked.
pub async fn outbox_status(store: &Store, latest: i64) -> Result<OutboxStatus, StoreError> {
    let mut counts: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (level, state, n) in store.outbox_counts().await? {
        counts.entry(state).or_default().insert(level, n);
    }
    let latest = store
        .outbox_latest(latest)
        .await?
        .into_iter()
        .map(|e| OutboxEntry {
            recipient: mask(&e.recipient),
            ..e
        })
        .collect();
    Ok(OutboxStatus { counts, latest })
}

#[cfg(test)]
mod tests;
