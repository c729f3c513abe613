//! Cron jobs: each on its own schedule in the centre's zone, never two runs of one job at once,
//! each run under a timeout, panics caught and counted, and every job told when to stop.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use chrono_tz::Tz;
use futures::future::BoxFuture;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::CronSchedule;
use crate::metrics::Metrics;

pub type JobResult = Result<(), Box<dyn Error + Send + Sync>>;

/// A failure its job has logged already (a poll logs its source going down and coming back):
/// the run is counted as an error, and the scheduler does not log it a second time.
#[derive(Debug)]
pub struct Logged(pub Box<dyn Error + Send + Sync>);

impl std::fmt::Display for Logged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Error for Logged {}
type Task = Arc<dyn Fn(CancellationToken) -> BoxFuture<'static, JobResult> + Send + Sync>;

/// A named task on a cron schedule.
#[derive(Clone)]
pub struct Job {
    pub name: String,
    pub schedule: CronSchedule,
    pub timeout: Duration,
    /// Run once right after start (after this delay) instead of waiting for the first firing;
    /// staggered per job so that a restart does not hit every database at once.
    pub first_run_after: Option<Duration>,
    task: Task,
}

impl Job {
    pub fn new<F, Fut>(
        name: impl Into<String>,
        schedule: CronSchedule,
        timeout: Duration,
        f: F,
    ) -> Job
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = JobResult> + Send + 'static,
    {
        Job {
            name: name.into(),
            schedule,
            timeout,
            first_run_after: None,
            task: Arc::new(move |token| Box::pin(f(token))),
        }
    }

    pub fn run_at_start(mut self, delay: Duration) -> Job {
        self.first_run_after = Some(delay);
        self
    }

    /// Runs only while `gate` holds: a firing that finds it false does nothing. The leader's
    /// jobs ask whether its lease still holds, so that a process resumed after a long pause,
    /// whose lease lapsed meanwhile, does not poll or send before it notices.
    pub fn only_while(self, gate: impl Fn() -> bool + Send + Sync + 'static) -> Job {
        let task = self.task.clone();
        let name = self.name.clone();
        Job {
            task: Arc::new(move |token| {
                if gate() {
                    task(token)
                } else {
                    tracing::debug!(job = %name, "not leading: run skipped");
                    Box::pin(async { Ok(()) })
                }
            }),
            ..self
        }
    }
}

/// Starts every job; the returned set finishes when all jobs have stopped after `shutdown` and
/// their in-flight runs have ended.
pub fn spawn_all(
    jobs: Vec<Job>,
    time_zone: Tz,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> JoinSet<()> {
    let mut set = JoinSet::new();
    for job in jobs {
        // At zero from the start, so that a job that never overlapped shows 0 rather than no data
        // (dashboards and alerts use increase() over it).
        metrics.job_skipped.with_label_values(&[&job.name]);
        // Every result too: a series born at 1 on the first failure has no earlier sample, so
        // `increase()` would miss exactly that failure.
        for result in RESULTS {
            metrics.job_runs.with_label_values(&[&job.name, result]);
        }
        set.spawn(job_loop(job, time_zone, metrics.clone(), shutdown.clone()));
    }
    set
}

async fn job_loop(job: Job, time_zone: Tz, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    let mut running: Option<JoinHandle<()>> = None;
    let mut first = job.first_run_after;
    loop {
        let wait = match first.take() {
            Some(delay) => delay,
            None => {
                let now = Utc::now().with_timezone(&time_zone);
                let Some(next) = job.schedule.next_after(&now) else {
                    tracing::warn!(job = %job.name, "schedule has no future firing; job stops");
                    break;
                };
                (next - now).to_std().unwrap_or_default()
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
        }
        if running.as_ref().is_some_and(|h| !h.is_finished()) {
            metrics.job_skipped.with_label_values(&[&job.name]).inc();
            tracing::warn!(job = %job.name, "previous run still going; this run is skipped");
            continue;
        }
        running = Some(tokio::spawn(run_once(
            job.clone(),
            metrics.clone(),
            shutdown.child_token(),
        )));
    }
    if let Some(handle) = running {
        // run_once never panics itself (the task runs in a task of its own), so this only waits.
        let _ = handle.await;
    }
}

/// The `result` label values of `hcc_job_runs_total`.
const RESULTS: [&str; 4] = ["ok", "error", "timeout", "panic"];

/// Runs the task in a task of its own, so a panic is caught as a `JoinError` and counted
/// instead of taking the job loop down.
async fn run_once(job: Job, metrics: Arc<Metrics>, token: CancellationToken) {
    // Every line a run logs names its job (e.g. `incremental:centre`, `probe:portal`).
    let span = tracing::info_span!("job", job = %job.name);
    let mut inner = tokio::spawn((job.task)(token).instrument(span));
    let result = match tokio::time::timeout(job.timeout, &mut inner).await {
        Err(_) => {
            inner.abort();
            tracing::error!(job = %job.name, timeout = ?job.timeout, "run timed out and was aborted");
            "timeout"
        }
        Ok(Err(join)) if join.is_panic() => {
            tracing::error!(job = %job.name, "run panicked: {join}");
            "panic"
        }
        Ok(Err(join)) => {
            tracing::error!(job = %job.name, "run was cancelled: {join}");
            "error"
        }
        Ok(Ok(Err(e))) if e.is::<Logged>() => {
            tracing::debug!(job = %job.name, error = %e, "run failed");
            "error"
        }
        Ok(Ok(Err(e))) => {
            tracing::warn!(job = %job.name, error = %e, "run failed");
            "error"
        }
        Ok(Ok(Ok(()))) => "ok",
    };
    metrics
        .job_runs
        .with_label_values(&[&job.name, result])
        .inc();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn every_second() -> CronSchedule {
        CronSchedule::parse("* * * * * *").unwrap()
    }

    async fn wait_for(mut cond: impl FnMut() -> bool) {
        for _ in 0..500 {
            if cond() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached in 5 s");
    }

    #[tokio::test]
    async fn a_panicking_job_is_counted_and_runs_again_on_its_next_firing() {
        let metrics = Arc::new(Metrics::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        let job = Job::new("boom", every_second(), Duration::from_secs(5), move |_| {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    panic!("first run panics");
                }
                Ok(())
            }
        })
        .run_at_start(Duration::ZERO);
        let shutdown = CancellationToken::new();
        let mut set = spawn_all(vec![job], Tz::UTC, metrics.clone(), shutdown.clone());
        let m = metrics.clone();
        wait_for(|| m.job_runs.with_label_values(&["boom", "ok"]).get() >= 1).await;
        assert_eq!(
            metrics.job_runs.with_label_values(&["boom", "panic"]).get(),
            1
        );
        shutdown.cancel();
        while set.join_next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_run_still_going_makes_the_next_firing_skip_and_shutdown_waits_for_it() {
        let metrics = Arc::new(Metrics::new());
        let finished = Arc::new(AtomicUsize::new(0));
        let f = finished.clone();
        let job = Job::new(
            "slow",
            every_second(),
            Duration::from_secs(30),
            move |token| {
                let f = f.clone();
                async move {
                    token.cancelled().await;
                    // In-flight work finishes after the signal; shutdown must wait for it.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    f.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }
            },
        )
        .run_at_start(Duration::ZERO);
        let shutdown = CancellationToken::new();
        let mut set = spawn_all(vec![job], Tz::UTC, metrics.clone(), shutdown.clone());
        let m = metrics.clone();
        wait_for(|| m.job_skipped.with_label_values(&["slow"]).get() >= 1).await;
        shutdown.cancel();
        while set.join_next().await.is_some() {}
        assert_eq!(finished.load(Ordering::SeqCst), 1, "in-flight run drained");
        assert_eq!(metrics.job_runs.with_label_values(&["slow", "ok"]).get(), 1);
    }
}
