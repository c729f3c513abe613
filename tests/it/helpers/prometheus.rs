//! A real Prometheus server (Debian's `prometheus` package, see scripts/test-deps.sh) scraping one
//! or more targets every second with the given rule files, on a loopback port, its storage in a temporary
//! directory. The process is killed when the handle drops, also when the test panics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::app::{http_get, with_query};
use super::eventually;

pub struct Prometheus {
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

/// What a query returned.
pub enum Answer {
    /// `status: success`, with the result's series (or a scalar as one element).
    Series(Vec<Value>),
    /// The HTTP status and the body, e.g. a parse error.
    Failed(u16, String),
}

impl Prometheus {
    /// Starts Prometheus scraping `target` as job `job` and waits until it is ready.
    pub async fn start(job: &str, target: SocketAddr, rule_files: &[PathBuf]) -> Prometheus {
        Prometheus::scraping(job, &[target], rule_files).await
    }

    /// Starts Prometheus scraping every one of `targets` as job `job` (instances of one
    /// service, as for several instances on one store).
    pub async fn scraping(job: &str, targets: &[SocketAddr], rule_files: &[PathBuf]) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        let targets = targets.join(", ");
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| format!("  - {:?}\n", p.display().to_string()))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n{}\
             scrape_configs:\n  - job_name: {job:?}\n    static_configs:\n      - targets: [{targets}]\n",
            rules.concat()
        );
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let addr = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
        let child = tokio::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect(
                "prometheus is installed (scripts/test.sh installs Debian's prometheus package)",
            );
        let prometheus = Prometheus {
            addr,
            dir,
            _child: child,
        };
        let p = &prometheus;
        eventually_or_log(p, "Prometheus ready", Duration::from_secs(30), || async {
            p.get("/-/ready").await.0 == 200
        })
        .await;
        prometheus
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        // A refused connection while Prometheus starts is an answer, not a panic.
        match tokio::net::TcpStream::connect(self.addr).await {
            Ok(_) => http_get(self.addr, path, None).await,
            Err(_) => (0, String::new()),
        }
    }

    /// An instant query at the current time.
    pub async fn query(&self, promql: &str) -> Answer {
        let (status, body) = self
            .get(&with_query("/api/v1/query", &[("query", promql)]))
            .await;
        let json: Option<Value> = serde_json::from_str(&body).ok();
        match json {
            Some(v) if status == 200 && v["status"] == "success" => {
                let result = &v["data"]["result"];
                Answer::Series(match v["data"]["resultType"].as_str() {
                    Some("scalar" | "string") => vec![result.clone()],
                    _ => result.as_array().cloned().unwrap_or_default(),
                })
            }
            _ => Answer::Failed(status, body),
        }
    }

    /// How many series `promql` returns now; 0 on any failure.
    pub async fn count(&self, promql: &str) -> usize {
        match self.query(promql).await {
            Answer::Series(s) => s.len(),
            Answer::Failed(..) => 0,
        }
    }

    /// Every rule group Prometheus loaded, from `/api/v1/rules`.
    pub async fn rule_groups(&self) -> Vec<Value> {
        let (status, body) = self.get("/api/v1/rules").await;
        assert_eq!(status, 200, "GET /api/v1/rules: {body}");
        let v: Value = serde_json::from_str(&body).expect("rules answer is JSON");
        v["data"]["groups"].as_array().cloned().unwrap_or_default()
    }

    /// Prometheus' own log, for a failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Waits for `cond`, printing Prometheus' log if it never holds.
    pub async fn wait_for<F, Fut>(&self, what: &str, timeout: Duration, cond: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        eventually_or_log(self, what, timeout, cond).await;
    }
}

async fn eventually_or_log<F, Fut>(p: &Prometheus, what: &str, timeout: Duration, cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    struct PrintLogOnPanic<'a>(&'a Prometheus);
    impl Drop for PrintLogOnPanic<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                eprintln!("--- prometheus log ---\n{}", self.0.log());
            }
        }
    }
    let _guard = PrintLogOnPanic(p);
    eventually(what, timeout, cond).await;
}

/// A loopback port nothing listens on right now (Prometheus takes it a moment later).
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr")
}

/// The repository's root, to find `dashboards/`, `alerts/` and `docs/`.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}
