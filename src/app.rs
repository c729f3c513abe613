//! Startup: where the edges (sources, store, HTTP, scheduler) meet. `Application::build` binds
//! first and reports its address; `run_until_stopped` serves until the shutdown token fires,
//! then drains. Tests and production share this one path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::evaluate::Evaluator;
use crate::handoff::Handoffs;
use crate::http::{AppState, router};
use crate::metrics::Metrics;
use crate::notify::{MailError, Mailer, Notifier, TemplateError, Templates};
use crate::probe::{Probe, SoftwareReader};
use crate::scheduler::{self, Job};
use crate::source::{PollMode, Poller, SourceError};
use crate::store::{InstanceLock, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Probe(#[from] crate::probe::ProbeError),
    #[error(transparent)]
    Software(#[from] crate::probe::SoftwareError),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(transparent)]
    Templates(#[from] TemplateError),
}

/// Pause between the first polls of consecutive sources at start.
const FIRST_POLL_STAGGER: Duration = Duration::from_millis(500);

pub struct Application {
    config: Config,
    listener: TcpListener,
    state: AppState,
    pollers: Vec<Arc<Poller>>,
    notifier: Arc<Notifier>,
    clock: Arc<dyn Clock>,
    /// Probes, software error counts and handoffs: one job each.
    monitor_jobs: Vec<Job>,
    extra_jobs: Vec<Job>,
    /// A SQLite store's one-process lock, released when the application ends.
    _instance_lock: Option<InstanceLock>,
}

impl Application {
    /// Binds the listener, opens and migrates the store and prepares a poller per source.
    /// Nothing connects to a source yet: a source that is down cannot hold up the start.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> Result<Application, AppError> {
        let listener = TcpListener::bind(config.service.listen)
            .await
            .map_err(|source| AppError::Bind {
                addr: config.service.listen,
                source,
            })?;
        let instance_lock = InstanceLock::acquire(&config.store)?;
        let store = Store::open_and_migrate(&config.store).await?;
        let metrics = Arc::new(Metrics::new());
        let pollers = config
            .sources
            .iter()
            .map(|s| {
                Poller::new(
                    s.clone(),
                    store.clone(),
                    metrics.clone(),
                    clock.clone(),
                    config.deadlines(),
                )
                .map(Arc::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let evaluator = Arc::new(Evaluator::new(&config, store.clone(), metrics.clone()));
        let monitor_jobs = monitor_jobs(&config, &pollers, &metrics)?;
        let handoffs = Arc::new(Handoffs::new(
            config.handoffs.clone(),
            store.clone(),
            config.calendar.clone(),
            metrics.clone(),
            clock.clone(),
        ));
        let notifier = Arc::new(Notifier::new(
            config.notify.clone(),
            config.calendar.clone(),
            store.clone(),
            evaluator.clone(),
            metrics.clone(),
            clock.clone(),
            Templates::load(config.notify.mail.templates_dir.as_deref())?,
            Mailer::new(&config.notify.mail)?,
        ));
        let state = AppState {
            store,
            metrics,
            evaluator,
            clock: clock.clone(),
            time_zone: config.service.time_zone,
            bearer_token: config.service.bearer_token.clone(),
            handoffs,
        };
        Ok(Application {
            monitor_jobs: [monitor_jobs, state.handoffs.jobs()].concat(),
            config,
            listener,
            state,
            pollers,
            notifier,
            clock,
            extra_jobs: Vec::new(),
            _instance_lock: instance_lock,
        })
    }

    /// The address actually bound (port 0 in tests becomes a real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// Adds a job beside the configured ones (the demo's data trickle).
    pub fn with_job(mut self, job: Job) -> Application {
        self.extra_jobs.push(job);
        self
    }

    fn jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for (i, poller) in self.pollers.iter().enumerate() {
            let cfg = poller.config();
            for (mode, schedule) in [
                (PollMode::Incremental, &cfg.schedule),
                (PollMode::Resync, &cfg.resync_schedule),
            ] {
                let p = poller.clone();
                let job = Job::new(
                    format!("{}:{}", mode.as_str(), cfg.name),
                    schedule.clone(),
                    // The poll's own timeouts bound each wait; this bounds a run that keeps
                    // making slow progress, e.g. a huge initial read.
                    cfg.timeout * 20,
                    move |stop| {
                        let p = p.clone();
                        async move {
                            // At shutdown a poll is abandoned, not awaited: it only reads, its
                            // batches are transactions and the watermark moves only with the
                            // last one, so nothing is lost and a hanging source cannot hold up
                            // the exit.
                            tokio::select! {
                                result = p.poll(mode) => result.map(drop)?,
                                () = stop.cancelled() => tracing::info!(source = p.name(), "poll abandoned at shutdown"),
                            }
                            Ok(())
                        }
                    },
                );
                jobs.push(match mode {
                    PollMode::Incremental => job.run_at_start(FIRST_POLL_STAGGER * i as u32),
                    PollMode::Resync => job,
                });
            }
        }
        let evaluator = self.state.evaluator.clone();
        let clock = self.clock.clone();
        jobs.push(
            Job::new(
                "evaluate",
                self.config.service.evaluate_schedule.clone(),
                Duration::from_secs(300),
                move |_| {
                    let evaluator = evaluator.clone();
                    let now = clock.now();
                    async move {
                        evaluator.refresh(now).await?;
                        Ok(())
                    }
                },
            )
            .run_at_start(FIRST_POLL_STAGGER * self.pollers.len() as u32 + Duration::from_secs(1)),
        );
        jobs.extend(self.monitor_jobs.iter().cloned());
        jobs.extend(self.notify_jobs());
        jobs.extend(self.extra_jobs.iter().cloned());
        jobs
    }

    /// A planner run per level on its digest schedule, a job per report, and the outbox drain,
    /// which also runs right after start so that emails left pending by a stop go out.
    fn notify_jobs(&self) -> Vec<Job> {
        let cfg = self.notifier.config();
        let mut jobs = Vec::new();
        for (i, level) in cfg.levels.iter().enumerate() {
            let n = self.notifier.clone();
            jobs.push(Job::new(
                format!("escalate:{}", level.rule.name),
                level.digest_schedule.clone(),
                Duration::from_secs(300),
                move |_| {
                    let n = n.clone();
                    async move { n.escalate(i).await.map(drop).map_err(Into::into) }
                },
            ));
        }
        for (i, report) in cfg.reports.iter().enumerate() {
            let n = self.notifier.clone();
            jobs.push(Job::new(
                format!("report:{}", report.name),
                report.schedule.clone(),
                Duration::from_secs(300),
                move |_| {
                    let n = n.clone();
                    async move { n.report(i).await.map(drop).map_err(Into::into) }
                },
            ));
        }
        let n = self.notifier.clone();
        jobs.push(
            Job::new(
                "mail-drain",
                cfg.mail.drain_schedule.clone(),
                // Each send is bounded by mail.timeout and a run stops at the first unreachable
                // server; this bounds a long batch. Not cancelled at shutdown: an email the
                // server is accepting must be marked sent, or it would go again.
                cfg.mail.timeout * 10,
                move |_| {
                    let n = n.clone();
                    async move { n.drain().await.map(drop).map_err(Into::into) }
                },
            )
            .run_at_start(Duration::from_secs(1)),
        );
        jobs
    }

    /// Serves and runs every job until `shutdown` fires; then stops scheduling, lets in-flight
    /// runs and requests finish (up to the grace period) and closes the pools.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), AppError> {
        let addr = self.local_addr();
        let jobs = self.jobs();
        tracing::info!(%addr, sources = self.pollers.len(), jobs = jobs.len(), store = self.state.store.backend(), "hcc-monitor started");
        let mut running = scheduler::spawn_all(
            jobs,
            self.config.service.time_zone,
            self.state.metrics.clone(),
            shutdown.clone(),
        );
        let server = axum::serve(self.listener, router(self.state.clone()))
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let mut server = tokio::spawn(async move { server.await });
        // systemd's Type=notify: the listener is bound and the store migrated (both in
        // `build`), so the service is ready. Without NOTIFY_SOCKET this does nothing.
        if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
            tracing::warn!(error = %e, "cannot tell systemd the service is ready");
        }
        let served = tokio::select! {
            result = &mut server => Some(result),
            () = shutdown.cancelled() => None,
        };
        if let Some(result) = served {
            // The server stopped on its own: that is a failure, and the jobs must stop too.
            shutdown.cancel();
            while running.join_next().await.is_some() {}
            return match result {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(AppError::Serve(e)),
                Err(join) => Err(AppError::Serve(std::io::Error::other(join))),
            };
        }
        tracing::info!("shutting down: draining in-flight work");
        // Tells systemd the stop is under way, so the drain is not mistaken for a hang.
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        let grace = self.config.service.shutdown_grace;
        let drained = tokio::time::timeout(grace, async {
            while running.join_next().await.is_some() {}
            let _ = server.await;
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                ?grace,
                "in-flight work did not finish within the grace period"
            );
        }
        // A connection abandoned mid-query is returned only once its query ends; closing does
        // not wait for that (the server cancels it when the connection drops).
        let close_all = futures::future::join_all(self.pollers.iter().map(|p| p.close()));
        if tokio::time::timeout(Duration::from_secs(2), close_all)
            .await
            .is_err()
        {
            tracing::info!("source connections busy at exit were dropped");
        }
        self.state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// A job per probe and per software; SQL ones share their source's pool.
fn monitor_jobs(
    config: &Config,
    pollers: &[Arc<Poller>],
    metrics: &Arc<Metrics>,
) -> Result<Vec<Job>, AppError> {
    let pool = |name: &str| {
        pollers
            .iter()
            .find(|p| p.name() == name)
            .map(|p| p.pool().clone())
    };
    let mut jobs = Vec::new();
    for cfg in &config.probes {
        jobs.push(Arc::new(Probe::new(cfg.clone(), pool, metrics.clone())?).job());
    }
    for cfg in &config.software {
        jobs.push(Arc::new(SoftwareReader::new(cfg.clone(), pool, metrics.clone())?).job());
    }
    Ok(jobs)
}

/// Fires the token on Ctrl-C or SIGTERM. The handlers are installed before this returns, so a
/// signal that arrives while the application is still starting is not lost (nor fatal).
pub fn cancel_on_signals(shutdown: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("Ctrl-C received"),
            _ = term.recv() => tracing::info!("SIGTERM received"),
        }
        shutdown.cancel();
    });
    Ok(())
}
