//! The `hcc-monitor` binary: parses arguments and calls the library. anyhow lives only here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use hcc_monitor::app::{Application, cancel_on_signals};
use hcc_monitor::clock::{Clock, SupportedInstant, SystemClock};
use hcc_monitor::config::{Config, LogFormat};
use hcc_monitor::evaluate::{Evaluator, Period, PeriodStartDay};
use hcc_monitor::report;
use hcc_monitor::sla::english_count;
use hcc_monitor::source::{PollMode, Poller, SourcePool};
use hcc_monitor::store::Store;

#[derive(Parser)]
#[command(
    name = "hcc-monitor",
    version = concat!(env!("CARGO_PKG_VERSION"), " (git ", env!("HCC_GIT_REVISION"), ")"),
    about = "SLA and observability service for public administration service centres"
)]
struct Cli {
    /// How log lines (on stderr) are written; default: `[service] log_format` of the command's
    /// config, else text.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: poll sources, evaluate, serve /metrics.
    Run {
        #[arg(short, long, env = "HCC_CONFIG")]
        config: PathBuf,
        /// Start on a store other than the one this config ran on (the id kept beside the
        /// config, CONFIG.store-id, differs), e.g. a new empty one after a loss.
        #[arg(long)]
        new_store: bool,
    },
    /// Validate a config file, printing every problem at once.
    CheckConfig {
        #[arg(short, long, env = "HCC_CONFIG")]
        config: Option<PathBuf>,
        /// The config file, as older scripts pass it; the same as --config.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// Also open the store and every source.
        #[arg(long)]
        connect: bool,
    },
    /// Apply the store's pending migrations and exit.
    Migrate {
        #[arg(short, long, env = "HCC_CONFIG")]
        config: PathBuf,
    },
    /// Copy the SQLite store to PATH while the service runs: a consistent snapshot, checked
    /// with `PRAGMA integrity_check` and renamed into place (owner-only). A PostgreSQL store is
    /// backed up with pg_dump.
    Backup {
        #[arg(short, long, env = "HCC_CONFIG")]
        config: PathBuf,
        /// The backup file; an older one there is replaced only by a complete, checked copy.
        #[arg(long, value_name = "PATH")]
        to: PathBuf,
    },
    /// Poll every source once (incrementally) and exit. What it reads is recorded as observed
    /// now: to look at the past, poll and then run `dossiers` or `report` with --as-of.
    PollOnce {
        #[arg(short, long, env = "HCC_CONFIG")]
        config: PathBuf,
        /// Refused: a live poll cannot observe the sources at another instant.
        #[arg(long, hide = true)]
        as_of: Option<SupportedInstant>,
    },
    /// List open dossiers with their due instant, working time left and SLA state, least time
    /// left first.
    Dossiers {
        #[arg(short, long, env = "HCC_CONFIG")]
        config: PathBuf,
        /// Evaluate as of this instant (RFC 3339).
        #[arg(long)]
        as_of: Option<SupportedInstant>,
        /// Only this SLA state: on_track, at_risk, due_soon, overdue, paused.
        #[arg(long)]
        state: Option<hcc_monitor::sla::SlaState>,
        #[arg(long)]
        department: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Print the official report table (per department and in total) for the period containing
    /// --as-of, from its start up to --as-of.
    Report {
        #[arg(short, long, env = "HCC_CONFIG")]
        config: PathBuf,
        #[arg(long)]
        as_of: Option<SupportedInstant>,
        /// day, week (from Monday), month, quarter or year.
        #[arg(long, default_value = "day")]
        period: Period,
        /// The day of the month monthly, quarterly and yearly periods start on (1 to 28; 15:
        /// from the 15th of the previous month to the 14th). Default: [reporting] in the config.
        #[arg(long)]
        period_start_day: Option<PeriodStartDay>,
        #[arg(long, value_enum, default_value = "table")]
        format: report::Format,
    },
    /// List the handoffs between sources that are stuck, from the store.
    Handoffs {
        #[arg(short, long, env = "HCC_CONFIG")]
        config: PathBuf,
        /// Replay as of this instant (RFC 3339), e.g. 2026-03-02T09:00:00+07:00.
        #[arg(long)]
        as_of: Option<SupportedInstant>,
    },
    /// Print the working calendar for another tool: Alertmanager `time_intervals` of the office
    /// hours (holidays removed, make-up days added) for the loaded years, or an iCalendar file
    /// of the days off and make-up days.
    Calendar {
        /// Read `[calendar]` from this config; without one, the shipped years and defaults.
        #[arg(short, long, env = "HCC_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "alertmanager")]
        format: CalendarFormat,
        /// The Alertmanager time interval's name, as the routes' `active_time_intervals` refer
        /// to it.
        #[arg(long, default_value = "hcc-office-hours")]
        name: String,
    },
    /// List, queue again (retry) or discard emails of the outbox, e.g. the dead ones after the
    /// mail server is fixed; each changed row is logged. Works while the service runs.
    Outbox {
        #[arg(value_enum)]
        action: hcc_monitor::notify::OutboxAction,
        #[arg(short, long, env = "HCC_CONFIG")]
        config: PathBuf,
        #[command(flatten)]
        selection: hcc_monitor::notify::OutboxSelection,
        #[arg(long, value_enum, default_value = "table")]
        format: ListFormat,
    },
    /// Send one test email straight away through the configured transport (not the outbox).
    SendTestEmail {
        #[arg(short, long, env = "HCC_CONFIG")]
        config: PathBuf,
        /// The recipient's address.
        #[arg(long)]
        to: String,
        /// Date the email as of this instant (RFC 3339).
        #[arg(long)]
        as_of: Option<SupportedInstant>,
    },
    /// Run a demo centre: generated SQLite databases of the centre and of a department with live
    /// changes, equipment to probe, and the service on the embedded default. With --into, fill a
    /// database for benchmarks instead.
    Demo {
        /// Folder for the demo's databases, config and emails.
        #[arg(long, default_value = "hcc-demo")]
        dir: PathBuf,
        /// The service's address; the demo's probe targets take the four ports after it.
        #[arg(long, default_value = "127.0.0.1:9464")]
        listen: SocketAddr,
        /// Dossiers to generate (the demo's history, or with --into the rows to add).
        #[arg(long, default_value_t = 3000)]
        rows: usize,
        /// Fill this PostgreSQL, MySQL/MariaDB or SQLite database with --rows dossiers and exit.
        #[arg(long)]
        into: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CalendarFormat {
    /// Alertmanager `time_intervals` of the office hours.
    Alertmanager,
    /// The days off and make-up days as an iCalendar file to subscribe to.
    Ical,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

impl Command {
    /// The config file the command reads, if any.
    fn config_path(&self) -> Option<&std::path::Path> {
        match self {
            Command::CheckConfig { config, file, .. } => file.as_deref().or(config.as_deref()),
            Command::Run { config, .. }
            | Command::Migrate { config }
            | Command::PollOnce { config, .. }
            | Command::Dossiers { config, .. }
            | Command::Report { config, .. }
            | Command::Handoffs { config, .. }
            | Command::Outbox { config, .. }
            | Command::Backup { config, .. }
            | Command::SendTestEmail { config, .. } => Some(config),
            Command::Calendar { config, .. } => config.as_deref(),
            Command::Demo { .. } => None,
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    // Logs go to stderr so that stdout carries only a command's result: `dossiers --format json
    // | jq` must parse even when the calendar warns.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        // Colour codes only on a terminal, never in a file or the journal.
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // One object per line; the spans carry the job and its source or probe.
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The config's own key is read before the config is validated, since validation logs.
    let format = cli
        .log_format
        .or_else(|| {
            cli.command
                .config_path()
                .and_then(LogFormat::from_config_file)
        })
        .unwrap_or_default();
    init_logging(format);
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each cause once: most of our errors already quote their source in
/// their own message, which `{:#}` would print a second time ("... (os error 20): ... (os error
/// 20)").
fn describe(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config, new_store } => {
            serve(Config::load(&config)?, None, Some(new_store)).await?;
        }
        Command::CheckConfig {
            config,
            file,
            connect,
        } => {
            let path = file.or(config).context(
                "check-config needs the config file: --config FILE, HCC_CONFIG, or FILE",
            )?;
            return check_config(&path, connect).await;
        }
        Command::Migrate { config } => {
            let config = Config::load(&config)?;
            Store::open_and_migrate(&config.store).await?;
            println!("store migrated");
        }
        Command::Backup { config, to } => {
            let config = Config::load(&config)?;
            let done = hcc_monitor::store::backup(&config.store, &to).await?;
            println!(
                "store copied to {} ({} bytes, integrity check ok)",
                done.path.display(),
                done.bytes
            );
        }
        Command::PollOnce { config, as_of } => {
            // The rows a poll reads are the sources' state now; recording them as observed at
            // another instant would write a status history that never happened.
            if let Some(t) = as_of {
                anyhow::bail!(
                    "poll-once --as-of {}: a poll reads the sources as they are now and records \
                     what it sees as observed now; run poll-once without --as-of, then \
                     `dossiers --as-of` or `report --as-of` to look at a past instant",
                    t.get().to_rfc3339()
                );
            }
            let config = Config::load(&config)?;
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let store = Store::open_and_migrate(&config.store).await?;
            let metrics = Arc::new(hcc_monitor::metrics::Metrics::new());
            let mut failed = false;
            for source in &config.sources {
                let poller = Poller::new(
                    source.clone(),
                    store.clone(),
                    metrics.clone(),
                    clock.clone(),
                    config.deadlines(),
                )?;
                let started = std::time::Instant::now();
                match poller.poll(PollMode::Incremental).await {
                    Ok(r) => println!(
                        "{}: {} rows stored, {} rejected, watermark {}, in {:.3} s",
                        source.name,
                        r.rows,
                        r.rejected,
                        r.watermark.as_deref().unwrap_or("unchanged"),
                        started.elapsed().as_secs_f64()
                    ),
                    Err(e) => {
                        failed = true;
                        println!("{e}");
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Dossiers {
            config,
            as_of,
            state,
            department,
            format,
        } => {
            let (config, store, evaluator) = offline(&config).await?;
            let now = as_of.map_or_else(Utc::now, SupportedInstant::get);
            let views: Vec<_> = evaluator
                .open_dossiers(now)
                .await?
                .into_iter()
                .filter(|v| {
                    hcc_monitor::http::api::matches(
                        v,
                        state.map(hcc_monitor::sla::SlaState::as_str),
                        department.as_deref(),
                        None,
                    )
                })
                .collect();
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string_pretty(&views)?),
                ListFormat::Table => print!(
                    "{}",
                    hcc_monitor::evaluate::table(&views, config.calendar.as_ref())
                ),
            }
            store.close().await;
        }
        Command::Report {
            config,
            as_of,
            period,
            period_start_day,
            format,
        } => {
            let (config, store, evaluator) = offline(&config).await?;
            let start_day = period_start_day.unwrap_or(config.reporting.period_start_day);
            let as_of = as_of.map_or_else(Utc::now, SupportedInstant::get);
            let mut r = report::build(&store, &evaluator, period, start_day, as_of).await?;
            r.department_names = config.notify.departments.clone();
            print!("{}", report::render(&r, format));
            store.close().await;
        }
        Command::Handoffs { config, as_of } => {
            let config = Config::load(&config)?;
            let store = Store::open_existing(&config.store).await?;
            // Tracking records when the monitor first saw a transfer: now, whatever --as-of
            // says; only the report is as of that instant.
            let handoffs = hcc_monitor::handoff::Handoffs::new(
                config.handoffs.clone(),
                store,
                config.calendar.clone(),
                Arc::new(hcc_monitor::metrics::Metrics::new()),
                Arc::new(SystemClock),
            );
            handoffs.track_all().await?;
            let as_of = as_of.map_or_else(|| handoffs.now(), SupportedInstant::get);
            let report = handoffs.report(as_of).await?;
            print_handoffs(&report, config.calendar.time_zone());
        }
        Command::Calendar {
            config,
            format,
            name,
        } => {
            let calendar = match config {
                Some(path) => Config::load(&path)?.calendar,
                None => Arc::new(hcc_monitor::calendar::Calendar::from_settings(
                    &hcc_monitor::calendar::CalendarSettings::default(),
                )?),
            };
            match format {
                CalendarFormat::Alertmanager => {
                    print!("{}", calendar.alertmanager_time_intervals(&name));
                }
                CalendarFormat::Ical => print!("{}", calendar.ical(Utc::now())),
            }
        }
        Command::Outbox {
            action,
            config,
            selection,
            format,
        } => {
            let config = Config::load(&config)?;
            let store = Store::open_existing(&config.store).await?;
            let dry_run = selection.dry_run;
            let filter = selection.filter().map_err(anyhow::Error::msg)?;
            let outcome = hcc_monitor::notify::act_on_outbox(
                &store,
                action,
                filter,
                dry_run,
                "cli",
                Utc::now(),
            )
            .await?;
            store.close().await;
            match format {
                ListFormat::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
                ListFormat::Table => print_outbox(&outcome, config.calendar.time_zone()),
            }
        }
        Command::SendTestEmail { config, to, as_of } => {
            let config = Config::load(&config)?;
            let to: lettre::Address = to
                .parse()
                .with_context(|| format!("{to:?} is not an email address"))?;
            let id = hcc_monitor::notify::send_test_email(
                &config.notify.mail,
                &config.calendar,
                &to,
                as_of.map_or_else(Utc::now, SupportedInstant::get),
            )
            .await
            .context("the test email was not sent")?;
            println!(
                "sent to {}: Message-ID {id}",
                hcc_monitor::notify::mask(to.as_ref())
            );
        }
        Command::Demo {
            dir,
            listen,
            rows,
            into,
        } => {
            let calendar = Arc::new(hcc_monitor::calendar::Calendar::from_settings(
                &hcc_monitor::calendar::CalendarSettings::default(),
            )?);
            let tz = calendar.time_zone();
            let due: hcc_monitor::demo::generator::DueFn =
                Arc::new(move |t, days| calendar.add_working_days(t, days));
            if let Some(url) = into {
                hcc_monitor::demo::fill(&url, rows, 365, Utc::now(), tz, due).await?;
                println!(
                    "added {rows} dossiers to {}",
                    hcc_monitor::config::redact_url(&url)
                );
                return Ok(ExitCode::SUCCESS);
            }
            if listen.port() == 0 || listen.port() > u16::MAX - 4 {
                anyhow::bail!(
                    "--listen {listen}: the demo needs a fixed port below {}, its probe targets \
                     listen on the four ports after it",
                    u16::MAX - 3
                );
            }
            let path =
                hcc_monitor::demo::prepare(&dir, listen, rows, Utc::now(), tz, due.clone()).await?;
            println!("demo config: {}", path.display());
            let config = Config::load(&path)?;
            // Stopped when dropped, after the service.
            let _targets = hcc_monitor::demo::targets::serve(
                hcc_monitor::demo::targets::TargetAddrs::after(listen),
            )
            .await?;
            let trickle = hcc_monitor::demo::trickle_job(&dir, tz, due);
            serve(config, Some(trickle), None).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The store and the SLA engine, for commands that evaluate without running the service.
async fn offline(path: &std::path::Path) -> anyhow::Result<(Config, Store, Evaluator)> {
    let config = Config::load(path)?;
    let store = Store::open_existing(&config.store).await?;
    let evaluator = Evaluator::new(
        &config,
        store.clone(),
        Arc::new(hcc_monitor::metrics::Metrics::new()),
    );
    Ok((config, store, evaluator))
}

/// Runs the service; `new_store` is `None` where the store's identity is not checked (the
/// demo, whose store is generated).
async fn serve(
    config: Config,
    extra: Option<hcc_monitor::scheduler::Job>,
    new_store: Option<bool>,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    cancel_on_signals(shutdown.clone()).context("cannot install the signal handlers")?;
    let mut app = Application::build(config, Arc::new(SystemClock))
        .await
        .context("cannot start hcc-monitor")?;
    if let Some(new_store) = new_store {
        app.check_store_identity(new_store)
            .await
            .context("cannot start hcc-monitor")?;
    }
    if let Some(job) = extra {
        app = app.with_job(job);
    }
    app.reload_on_hangup()
        .context("cannot install the SIGHUP handler")?;
    println!("serving on {}://{}/metrics", app.scheme(), app.local_addr());
    app.run_until_stopped(shutdown).await?;
    Ok(())
}

fn print_outbox(outcome: &hcc_monitor::notify::OutboxOutcome, tz: chrono_tz::Tz) {
    let local = |t: i64| {
        DateTime::from_timestamp(t, 0).map_or_else(String::new, |t| {
            t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
        })
    };
    let mut rows = vec![
        [
            "queued",
            "level",
            "to",
            "state",
            "attempts",
            "last error",
            "message id",
        ]
        .map(String::from)
        .to_vec(),
    ];
    rows.extend(outcome.matched.iter().map(|e| {
        vec![
            local(e.created_at),
            e.level.clone(),
            e.recipient.clone(),
            e.state.clone(),
            e.attempts.to_string(),
            e.last_error.clone().unwrap_or_default(),
            e.message_id.clone(),
        ]
    }));
    print!("{}", hcc_monitor::table::align(&rows, 7));
    let verb = match outcome.action {
        hcc_monitor::notify::OutboxAction::List => "listed",
        hcc_monitor::notify::OutboxAction::Retry => "queued again",
        hcc_monitor::notify::OutboxAction::Discard => "discarded",
    };
    if outcome.dry_run {
        println!(
            "{} emails match; dry run, nothing changed",
            outcome.matched.len()
        );
    } else if outcome.action == hcc_monitor::notify::OutboxAction::List {
        println!("{} emails {verb}", outcome.matched.len());
    } else {
        println!(
            "{} of {} emails {verb}",
            outcome.changed,
            outcome.matched.len()
        );
    }
}

fn print_handoffs(report: &hcc_monitor::handoff::HandoffReport, tz: chrono_tz::Tz) {
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M");
    println!("handoffs as of {}", local(report.as_of));
    for pair in &report.handoffs {
        println!(
            "{} -> {}: {} pending, {} stuck (over {})",
            pair.from,
            pair.to,
            pair.pending,
            pair.stuck.len(),
            english_count(
                pair.stuck_after_working_seconds as f64 / 3600.0,
                "working hour"
            )
        );
        for s in &pair.stuck {
            println!(
                "  {}  transferred {}  pending {}  ({}, {})",
                s.dossier_id,
                local(s.transferred_at),
                english_count(
                    format!("{:.1}", s.pending_working_seconds as f64 / 3600.0),
                    "working hour"
                ),
                s.department,
                s.procedure_code
            );
        }
    }
}

async fn check_config(path: &std::path::Path, connect: bool) -> anyhow::Result<ExitCode> {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "{}: valid ({} sources)",
        path.display(),
        config.sources.len()
    );
    if !connect {
        return Ok(ExitCode::SUCCESS);
    }
    let mut ok = true;
    // Without creating it: the check must leave no store behind that was not there.
    match Store::open_existing(&config.store).await {
        Ok(store) => {
            println!("store ({}): reachable", store.backend());
            store.close().await;
        }
        Err(e @ hcc_monitor::store::StoreError::Missing { .. }) => {
            println!("store: {e}; `run` creates it at the first start");
        }
        Err(e) => {
            ok = false;
            println!("store: {e}");
        }
    }
    match hcc_monitor::notify::Mailer::new(&config.notify.mail) {
        Ok(mailer) => match mailer.check().await {
            Ok(()) => println!("mail ({}): ready", mailer.kind()),
            Err(e) => {
                ok = false;
                println!("mail ({}): {e}", mailer.kind());
            }
        },
        Err(e) => {
            ok = false;
            println!("mail: {e}");
        }
    }
    for source in &config.sources {
        let result = match SourcePool::new(source) {
            Ok(pool) => {
                let r = pool.ping().await.map_err(|e| e.to_string());
                pool.close().await;
                r
            }
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(()) => println!(
                "source {} ({}): reachable",
                source.name,
                source.display_url()
            ),
            Err(e) => {
                ok = false;
                println!("source {} ({}): {e}", source.name, source.display_url());
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
