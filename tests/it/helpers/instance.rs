//! An instance of the real binary, run, killed, paused and restarted by a test, as an
//! operator's supervisor would; its role read from `/readyz`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::app::http_get;
use super::smtp::free_port;

/// One instance: its config, its port, and its process while it runs.
pub struct Instance {
    pub name: &'static str,
    config: PathBuf,
    pub port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Instance {
    pub fn new(dir: &Path, name: &'static str, text: impl Fn(u16) -> String) -> Instance {
        let port = free_port();
        let config = dir.join(format!("{name}.toml"));
        std::fs::write(&config, text(port)).unwrap();
        let mut instance = Instance {
            name,
            config,
            port,
            log: dir.join(format!("{name}.log")),
            child: None,
        };
        instance.start();
        instance
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
            .args(["run", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the binary starts");
        self.child = Some(child);
    }

    /// Waits up to `limit` for the process to end by itself; its exit status, if it did.
    pub async fn exited(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.as_mut()?.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }

    /// What the process wrote to its log so far (every start appends).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn sigkill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// `leader`, `standby`, or `None` while it does not answer (starting, stopped, killed).
    pub async fn role(&self) -> Option<String> {
        let addr = ([127, 0, 0, 1], self.port).into();
        // A refused connection (starting, killed) is an answer; http_get would panic on it.
        tokio::net::TcpStream::connect(addr).await.ok()?;
        let answer =
            tokio::time::timeout(Duration::from_millis(500), http_get(addr, "/readyz", None));
        match answer.await {
            Ok((200, body)) => body.trim().strip_prefix("ready: ").map(str::to_owned),
            _ => None,
        }
    }

    pub async fn metrics(&self) -> String {
        http_get(([127, 0, 0, 1], self.port).into(), "/metrics", None)
            .await
            .1
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused process ignores SIGKILL's reaping until it runs again.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.sigkill();
    }
}

/// Waits until `instance` says `role`; returns how long that took, or panics after `limit`.
pub async fn until_role(instance: &Instance, role: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if instance.role().await.as_deref() == Some(role) {
            return started.elapsed();
        }
        if started.elapsed() > limit {
            let log = std::fs::read_to_string(&instance.log).unwrap_or_default();
            let tail: String = log.lines().rev().take(30).collect::<Vec<_>>().join("\n");
            panic!(
                "{} not {role} after {limit:?}; log (last lines first):\n{tail}",
                instance.name
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
