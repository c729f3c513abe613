//! Startup: where the edges (sources, store, HTTP, scheduler) meet. `Application::build` binds
//! first and reports its address; `run_until_stopped` serves until the shutdown token fires,
//! then drains. A reload builds a new generation (pollers, jobs, notifier, metrics) from the
//! new file beside the running one, and swaps it in only once it is whole. Tests and production
//! share this one path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::sync::RwLock;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::evaluate::Evaluator;
use crate::ha::{Leadership, Role};
use crate::handoff::Handoffs;
use crate::http::{Access, AppState, ReloadRequest, router, tls};
use crate::metrics::Metrics;
use crate::notify::{MailError, Mailer, Notifier, TemplateError, Templates};
use crate::probe::{Probe, SoftwareReader};
use crate::scheduler::{self, Job, Logged};
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
    #[error("cannot serve HTTPS: {0}")]
    Tls(#[from] crate::config::TlsError),
}

/// How often the service checks that its store answers and that its SQLite file is still the
/// one it opened.
const STORE_FILE_CHECK: Duration = Duration::from_secs(2);

/// Pause between the first polls of consecutive sources at start.
const FIRST_POLL_STAGGER: Duration = Duration::from_millis(500);

/// The running service: what lives as long as the process (the listener, the store and its
/// lock, the reload channel), and the generation built from the current config, which a
/// reload replaces whole.
pub struct Application {
    listener: TcpListener,
    /// Set when the web endpoints are served over TLS; the certificate files are re-read when
    /// they change, the acceptor itself lives as long as the listener.
    tls: Option<tokio_rustls::TlsAcceptor>,
    store: Store,
    clock: Arc<dyn Clock>,
    current: Generation,
    extra_jobs: Vec<Job>,
    /// The config file a reload reads again, with every `*_file` secret it names.
    config_path: std::path::PathBuf,
    reloads: (mpsc::Sender<ReloadRequest>, mpsc::Receiver<ReloadRequest>),
    /// Unix second of the last config load that took effect; survives generations so that
    /// `hcc_config_last_reload_success_timestamp_seconds` does not jump on a failed reload.
    last_success: i64,
    /// A SQLite store's one-process lock, released when the application ends.
    _instance_lock: Option<InstanceLock>,
    /// Leader or standby: on a shared (PostgreSQL) store the lease decides, a SQLite store's
    /// one instance always leads.
    leadership: Leadership,
}

/// Everything built from one config: its pollers, jobs, notifier, metrics and HTTP state.
struct Generation {
    config: Config,
    state: AppState,
    pollers: Vec<Arc<Poller>>,
    notifier: Arc<Notifier>,
    /// Probes, software error counts and handoffs: one job each.
    monitor_jobs: Vec<Job>,
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
        let tls = config.service.tls.as_ref().map(tls::acceptor).transpose()?;
        let instance_lock = InstanceLock::acquire(&config.store)?;
        let store = Store::open_and_migrate(&config.store).await?;
        let config_path = config.path.clone();
        let reloads = mpsc::channel(4);
        let leadership = if store.is_shared() {
            Leadership::standby()
        } else {
            Leadership::sole()
        };
        let current = Generation::build(config, &store, &clock, &reloads.0, &leadership)?;
        let last_success = clock.now().timestamp();
        current.report_reload(true, last_success);
        Ok(Application {
            listener,
            tls,
            store,
            clock,
            current,
            extra_jobs: Vec::new(),
            config_path,
            reloads,
            last_success,
            _instance_lock: instance_lock,
            leadership,
        })
    }

    /// Refuses a store other than the one this config ran on, or a brand-new one where it had
    /// one, unless `new_store` (see `store::check_marker`).
    pub async fn check_store_identity(&self, new_store: bool) -> Result<(), AppError> {
        let state_dir = std::env::var_os("STATE_DIRECTORY");
        let marker = crate::store::marker_path(&self.config_path, state_dir.as_deref());
        crate::store::check_marker(&self.store, &marker, new_store, self.clock.now()).await?;
        Ok(())
    }

    /// The address actually bound (port 0 in tests becomes a real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// `https` when the web endpoints are served over TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    pub fn state(&self) -> &AppState {
        &self.current.state
    }

    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.current.notifier
    }

    /// Adds a job beside the configured ones (the demo's data trickle); it survives reloads.
    pub fn with_job(mut self, job: Job) -> Application {
        self.extra_jobs.push(job);
        self
    }

    /// Reloads on SIGHUP, which `systemctl reload` sends; without this, SIGHUP ends the process.
    pub fn reload_on_hangup(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = signal(SignalKind::hangup())?;
        let reloads = self.reloads.0.clone();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP received: reloading the config");
                let (reply, _) = oneshot::channel();
                if reloads.send(reply).await.is_err() {
                    break;
                }
            }
        });
        Ok(())
    }

    /// Serves and runs every job until `shutdown` fires, replacing the generation on each
    /// reload; then stops scheduling, lets in-flight runs and requests finish (up to the grace
    /// period) and closes the pools.
    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) -> Result<(), AppError> {
        let addr = self.local_addr();
        let routes = Arc::new(RwLock::new(router(self.current.state.clone())));
        let current_routes = routes.clone();
        let stopping = shutdown.clone();
        // The listener outlives generations; each request goes to the router of the current one.
        let app = axum::Router::new().fallback_service(tower::service_fn(
            move |request: axum::extract::Request| {
                let router = current_routes
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                crate::http::abandon_reads_at(stopping.clone(), router, request)
            },
        ));
        let stopped = shutdown.clone().cancelled_owned();
        let mut server = match self.tls {
            Some(acceptor) => {
                let listener = tls::TlsListener::new(self.listener, acceptor);
                let server = axum::serve(listener, app).with_graceful_shutdown(stopped);
                tokio::spawn(async move { server.await })
            }
            None => {
                let server = axum::serve(self.listener, app).with_graceful_shutdown(stopped);
                tokio::spawn(async move { server.await })
            }
        };

        // The lease outlives generations and is given up only once the jobs have drained.
        let campaign_stop = CancellationToken::new();
        let campaign = self.store.is_shared().then(|| {
            let ha = self.current.config.ha;
            tracing::info!(lease = ?ha.lease, renew = ?ha.renew, worst_failover = ?crate::ha::worst_failover(&ha), instance = crate::ha::instance_id(), "shared store: campaigning for the leader's lease");
            tokio::spawn(self.leadership.clone().campaign(
                self.store.clone(),
                ha,
                campaign_stop.clone(),
            ))
        });
        let mut roles = self.leadership.subscribe();
        // The leader's jobs run under `generation`, a term of leadership within a generation.
        let mut generation = shutdown.child_token();
        let mut running = self.current.start_leading(&self.extra_jobs, &generation);
        // Whether the leader's jobs run now, as this loop started or stopped them.
        let mut leading = self.leadership.role() == Role::Leader;
        self.current.report_role(self.leadership.role(), false);
        // systemd's Type=notify: the listener is bound and the store migrated (both in
        // `build`), so the service is ready. Without NOTIFY_SOCKET this does nothing.
        if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
            tracing::warn!(error = %e, "cannot tell systemd the service is ready");
        }
        tracing::info!(%addr, sources = self.current.pollers.len(), store = self.store.backend(), "hcc-monitor started");
        let mut file_checks = tokio::time::interval(STORE_FILE_CHECK);
        let mut lost = None;
        loop {
            tokio::select! {
                // Shutdown first: the server also ends once the token fires, and that end is the
                // drain's to await, not a failure.
                biased;
                () = shutdown.cancelled() => break,
                _ = file_checks.tick() => {
                    // Off the loop: a store that does not answer must not hold up a reload.
                    let (store, metrics) = (self.store.clone(), self.current.state.metrics.clone());
                    tokio::spawn(async move {
                        let ready = tokio::time::timeout(STORE_FILE_CHECK, store.is_ready()).await;
                        metrics.store_up.set(i64::from(matches!(ready, Ok(Ok(true)))));
                    });
                    if let Err(e) = self.store.check_file() {
                        tracing::error!(error = %e, "the store is lost");
                        // The jobs stop between two steps: no email more is sent.
                        shutdown.cancel();
                        lost = Some(e);
                        break;
                    }
                }
                result = &mut server => {
                    // The server stopped on its own: that is a failure, and the jobs must stop too.
                    shutdown.cancel();
                    while running.join_next().await.is_some() {}
                    return match result {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(AppError::Serve(e)),
                        Err(join) => Err(AppError::Serve(std::io::Error::other(join))),
                    };
                }
                Ok(()) = roles.changed() => {
                    let role = *roles.borrow_and_update();
                    // A step down and a new term in quick succession reach this loop as one
                    // change: the running jobs go on (each run checks the lease anyway).
                    if leading == (role == Role::Leader) {
                        continue;
                    }
                    leading = role == Role::Leader;
                    self.current.report_role(role, true);
                    match role {
                        Role::Leader => {
                            generation = shutdown.child_token();
                            running = self.current.start_leading(&self.extra_jobs, &generation);
                        }
                        Role::Standby => {
                            // At once: polls in flight are abandoned, the drain stops between
                            // two emails, schedules stop firing.
                            generation.cancel();
                            while running.join_next().await.is_some() {}
                            tracing::info!("standby: the leader's jobs stopped");
                        }
                    }
                }
                Some(reply) = self.reloads.1.recv() => {
                    let next = match Config::load(&self.config_path) {
                        Ok(config) => {
                            let config = keep_restart_only_keys(config, &self.current.config);
                            Generation::build(
                                config,
                                &self.store,
                                &self.clock,
                                &self.reloads.0,
                                &self.leadership,
                            )
                            .map_err(|e| e.to_string())
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    match next {
                        Err(problems) => {
                            // The old config keeps running, whole; the operator sees why.
                            tracing::error!("config reload refused, the running config is kept:\n{problems}");
                            self.current.report_reload(false, self.last_success);
                            let _ = reply.send(Err(problems));
                        }
                        Ok(next) => {
                            // The old jobs finish what they are doing first (an email being
                            // sent is marked sent), so that no two generations ever run the
                            // same job at once; polls in flight are abandoned, as at shutdown.
                            generation.cancel();
                            while running.join_next().await.is_some() {}
                            let old = std::mem::replace(&mut self.current, next);
                            old.close_sources().await;
                            self.last_success = self.clock.now().timestamp();
                            self.current.report_reload(true, self.last_success);
                            self.current.report_role(self.leadership.role(), false);
                            *routes.write().unwrap_or_else(|e| e.into_inner()) =
                                router(self.current.state.clone());
                            generation = shutdown.child_token();
                            running = self.current.start_leading(&self.extra_jobs, &generation);
                            leading = self.leadership.role() == Role::Leader;
                            tracing::info!(sources = self.current.pollers.len(), "config reloaded");
                            let _ = reply.send(Ok(()));
                        }
                    }
                }
            }
        }
        tracing::info!("shutting down: draining in-flight work");
        // Tells systemd the stop is under way, so the drain is not mistaken for a hang.
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        let grace = self.current.config.service.shutdown_grace;
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
        campaign_stop.cancel();
        if let Some(campaign) = campaign {
            let _ = campaign.await;
        }
        self.current.close_sources().await;
        if !self.store.close_within(Duration::from_secs(2)).await {
            tracing::info!("store connections busy at exit were dropped");
        }
        tracing::info!("stopped");
        match lost {
            Some(e) => Err(AppError::Store(e)),
            None => Ok(()),
        }
    }
}

/// The listen address and the store are bound once per process: a reload that changes them
/// keeps the running ones and says that a restart is needed.
fn keep_restart_only_keys(mut next: Config, running: &Config) -> Config {
    if next.service.listen != running.service.listen {
        tracing::warn!(
            running = %running.service.listen,
            configured = %next.service.listen,
            "service.listen changes only with a restart; still listening on the running address"
        );
        next.service.listen = running.service.listen;
    }
    // The files named stay re-read when they change; which files, only at a restart.
    if next.service.tls != running.service.tls {
        tracing::warn!(
            "service.tls_server_config changes only with a restart; still serving the running \
             certificate files"
        );
        next.service.tls = running.service.tls.clone();
    }
    let store = |c: &Config| (c.store.url.expose().to_owned(), c.store.max_connections);
    if store(&next) != store(running) {
        tracing::warn!("[store] changes only with a restart; the running store is kept");
        next.store = running.store.clone();
    }
    // The campaign for the lease runs for the life of the process.
    if next.ha != running.ha {
        tracing::warn!("[ha] changes only with a restart; the running lease settings are kept");
        next.ha = running.ha;
    }
    next
}

impl Generation {
    fn build(
        config: Config,
        store: &Store,
        clock: &Arc<dyn Clock>,
        reloads: &mpsc::Sender<ReloadRequest>,
        leadership: &Leadership,
    ) -> Result<Generation, AppError> {
        // Metrics belong to a generation, so that the series of a removed source, probe or level
        // disappear with it; counters restart from zero, as after a restart.
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
            store: store.clone(),
            metrics,
            evaluator,
            clock: clock.clone(),
            time_zone: config.service.time_zone,
            access: Arc::new(Access::new(&config.service)),
            handoffs,
            reloads: reloads.clone(),
            leadership: leadership.clone(),
        };
        Ok(Generation {
            monitor_jobs: [monitor_jobs, state.handoffs.jobs()].concat(),
            config,
            state,
            pollers,
            notifier,
        })
    }

    /// This generation's jobs under `term` if this instance leads; else none.
    fn start_leading(&self, extra: &[Job], term: &CancellationToken) -> JoinSet<()> {
        match self.state.leadership.role() {
            Role::Leader => self.spawn_jobs(extra, term),
            Role::Standby => JoinSet::new(),
        }
    }

    /// `hcc_leader`, and `hcc_leader_changes_total` when the role `changed`.
    fn report_role(&self, role: Role, changed: bool) {
        let m = &self.state.metrics;
        m.leader.set(i64::from(role == Role::Leader));
        if changed {
            m.leader_changes.inc();
        }
    }

    fn report_reload(&self, successful: bool, last_success: i64) {
        let m = &self.state.metrics;
        m.config_last_reload_successful.set(i64::from(successful));
        m.config_last_reload_success_timestamp
            .set(last_success as f64);
    }

    /// Every job is the leader's, and each run first checks that the lease still holds.
    fn spawn_jobs(&self, extra: &[Job], stop: &CancellationToken) -> JoinSet<()> {
        let mut jobs = self.jobs();
        jobs.extend(extra.iter().cloned());
        let jobs = jobs
            .into_iter()
            .map(|job| {
                let leadership = self.state.leadership.clone();
                job.only_while(move || leadership.holds())
            })
            .collect();
        scheduler::spawn_all(
            jobs,
            self.config.service.time_zone,
            self.state.metrics.clone(),
            stop.clone(),
        )
    }

    /// A connection abandoned mid-query is returned only once its query ends; closing does not
    /// wait for that (the server cancels it when the connection drops).
    async fn close_sources(&self) {
        let close_all = futures::future::join_all(self.pollers.iter().map(|p| p.close()));
        if tokio::time::timeout(Duration::from_secs(2), close_all)
            .await
            .is_err()
        {
            tracing::info!("source connections busy at exit were dropped");
        }
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
                                result = p.poll(mode) => result.map(drop).map_err(|e| Logged(e.into()))?,
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
        let clock = self.state.clock.clone();
        jobs.push(
            Job::new(
                "evaluate",
                self.config.service.evaluate_schedule.clone(),
                Duration::from_secs(300),
                move |stop| {
                    let evaluator = evaluator.clone();
                    let now = clock.now();
                    async move {
                        // Abandoned at shutdown like a poll: it reads, and outcomes it had not
                        // committed are decided again by the next cycle.
                        tokio::select! {
                            result = evaluator.refresh(now) => result?,
                            () = stop.cancelled() => tracing::info!("evaluation abandoned at shutdown"),
                        }
                        Ok(())
                    }
                },
            )
            .run_at_start(FIRST_POLL_STAGGER * self.pollers.len() as u32 + Duration::from_secs(1)),
        );
        jobs.extend(self.monitor_jobs.iter().cloned());
        jobs.extend(self.notify_jobs());
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
        let leadership = self.state.leadership.clone();
        jobs.push(
            Job::new(
                "mail-drain",
                cfg.mail.drain_schedule.clone(),
                // Each send is bounded by mail.timeout and a run stops at the first unreachable
                // server; this bounds a long batch. Not cancelled at shutdown: an email the
                // server is accepting must be marked sent, or it would go again.
                cfg.mail.timeout * 10,
                move |stop| {
                    let n = n.clone();
                    let leadership = leadership.clone();
                    async move {
                        let leading = || !stop.is_cancelled() && leadership.holds();
                        n.drain_while(leading).await.map(drop).map_err(Into::into)
                    }
                },
            )
            .run_at_start(Duration::from_secs(1)),
        );
        jobs
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
