//! The application spawned on port 0 with a store of its own, and a minimal HTTP client.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hcc_monitor::app::Application;
use hcc_monitor::clock::{Clock, SystemClock};
use hcc_monitor::config::Config;
use hcc_monitor::demo::targets::{TargetAddrs, Targets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub addr: SocketAddr,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), hcc_monitor::app::AppError>>,
    pub store: hcc_monitor::store::Store,
    _dir: Option<tempfile::TempDir>,
}

/// A clock that runs from an instant the test chooses and can be moved: deadlines and
/// working hours are replayed exactly while back-off delays still pass.
#[derive(Debug)]
pub struct TestClock(std::sync::Mutex<(DateTime<Utc>, std::time::Instant)>);

impl TestClock {
    pub fn at(t: DateTime<Utc>) -> Arc<TestClock> {
        Arc::new(TestClock(std::sync::Mutex::new((
            t,
            std::time::Instant::now(),
        ))))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = (t, std::time::Instant::now());
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let (t, since) = *self.0.lock().unwrap();
        t + chrono::Duration::from_std(since.elapsed()).unwrap_or_default()
    }
}

/// The text of a config with the store in `dir`, port 0 and the given sections.
pub fn config_text(dir: &Path, extra: &str) -> String {
    format!(
        "[service]\nlisten = \"127.0.0.1:0\"\nevaluate_schedule = \"* * * * * *\"\n\
         [store]\nurl = \"sqlite://{}/store.db\"\n{extra}",
        dir.display()
    )
}

/// A config with the store in `dir`, port 0 and the given `[[source]]` sections.
pub fn config(dir: &Path, extra: &str) -> Config {
    let text = config_text(dir, extra);
    Config::parse(Path::new("test.toml"), &text, |_| None)
        .unwrap_or_else(|e| panic!("test config is invalid: {e}"))
}

/// The demo's configuration for a demo folder `dir` (databases in `dir`), with its probes on
/// `targets`, edited by `edit`, on port 0.
pub fn demo_config(
    dir: &Path,
    targets: &TargetAddrs,
    edit: impl FnOnce(String) -> String,
) -> Config {
    let text = edit(hcc_monitor::demo::config_text_with_targets(
        dir,
        "127.0.0.1:0".parse().expect("an address"),
        targets,
    ));
    Config::parse(&dir.join("hcc-monitor.toml"), &text, |_| None)
        .unwrap_or_else(|e| panic!("the demo config is invalid: {e}"))
}

/// The demo's probe targets on ports the system picks, the undelivered machine on a port where
/// nothing listens. They stop when dropped.
pub async fn demo_targets() -> Targets {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    hcc_monitor::demo::targets::serve(TargetAddrs {
        portal: any,
        kiosk: any,
        queue_machine: any,
        undelivered: super::peers::closed_port().await,
    })
    .await
    .expect("the demo's probe targets start")
}

/// The demo's databases in `dir`: `dossiers` over the last 60 days as of `now`, with deadlines
/// a calendar day per working day.
pub async fn demo_databases(dir: &Path, dossiers: usize, now: DateTime<Utc>) {
    hcc_monitor::demo::create_databases(
        dir,
        dossiers,
        now,
        chrono_tz::Asia::Ho_Chi_Minh,
        Arc::new(|t, d| t + chrono::Duration::days(i64::from(d))),
    )
    .await
    .expect("the demo databases are created");
}

impl TestApp {
    pub async fn spawn(sources: &str) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config(dir.path(), sources);
        TestApp::spawn_with(config, dir).await
    }

    pub async fn spawn_with(config: Config, dir: tempfile::TempDir) -> TestApp {
        TestApp::start(config, Arc::new(SystemClock), Some(dir)).await
    }

    /// The application on `clock`; `dir`, when given, lives as long as the app.
    pub async fn start(
        config: Config,
        clock: Arc<dyn Clock>,
        dir: Option<tempfile::TempDir>,
    ) -> TestApp {
        let app = Application::build(config, clock)
            .await
            .expect("application builds");
        let addr = app.local_addr();
        let store = app.state().store.clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        TestApp {
            addr,
            shutdown,
            task,
            store,
            _dir: dir,
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path, None).await
    }

    /// The value of one series of /metrics, e.g. `hcc_source_up{source="pg"}`.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics").await;
        metric_value(&body, series)
    }

    /// Ends the process as a crash would: every job dropped where it stands, nothing drained.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
        // The HTTP server runs in a task of its own; the token is all that stops it.
        self.shutdown.cancel();
        self.store.close().await;
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("app task joins")
            .expect("app stops cleanly");
    }
}

/// Finds a series in an exposition; labels must be written in the order the encoder prints them
/// (alphabetical).
pub fn metric_value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let rest = line.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// A plain HTTP/1.1 GET, enough for the service's own endpoints.
pub async fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    http_call(addr, "GET", path, token).await
}

/// A plain HTTP/1.1 request without a body: status and body.
pub async fn http_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    let (status, _, body) = http_response(addr, method, path, token).await;
    (status, body)
}

/// A plain HTTP/1.1 request without a body: status, head (status line and headers) and body.
pub async fn http_response(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to app");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .expect("read response");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .replace(' ', "")
            .starts_with("transfer-encoding:chunked")
    });
    let body = &response[split..];
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// Undoes `Transfer-Encoding: chunked`, which servers other than the app (Prometheus) use for
/// large answers. Works on bytes: a chunk may end inside a multi-byte character.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(rest.len());
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .expect("chunk size is hex");
        if size == 0 {
            break;
        }
        let data = &rest[eol + 2..];
        body.extend_from_slice(&data[..size]);
        rest = data[size..].strip_prefix(b"\r\n").unwrap_or(&data[size..]);
    }
    body
}

/// `path?name=value&...` with the values percent-encoded (RFC 3986 unreserved characters kept),
/// e.g. a PromQL expression for Prometheus' `/api/v1/query`.
pub fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let mut out = format!("{path}?");
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        for b in value.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// A poller for the first source of `sources`, with a store in `dir`, without the service.
pub async fn poller(
    dir: &Path,
    sources: &str,
) -> (
    hcc_monitor::source::Poller,
    hcc_monitor::store::Store,
    Arc<hcc_monitor::metrics::Metrics>,
) {
    poller_on(dir, sources, None).await
}

/// [`poller`] with the store at `store_url` when given (a PostgreSQL store), else in `dir`.
pub async fn poller_on(
    dir: &Path,
    sources: &str,
    store_url: Option<String>,
) -> (
    hcc_monitor::source::Poller,
    hcc_monitor::store::Store,
    Arc<hcc_monitor::metrics::Metrics>,
) {
    let mut config = config(dir, sources);
    if let Some(url) = store_url {
        config.store.url = hcc_monitor::config::Secret::new(url);
    }
    let store = hcc_monitor::store::Store::open_and_migrate(&config.store)
        .await
        .expect("store opens");
    let metrics = Arc::new(hcc_monitor::metrics::Metrics::new());
    let poller = hcc_monitor::source::Poller::new(
        config.sources[0].clone(),
        store.clone(),
        metrics.clone(),
        Arc::new(SystemClock),
        config.deadlines(),
    )
    .expect("poller builds");
    (poller, store, metrics)
}
