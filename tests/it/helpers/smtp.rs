//! A real SMTP server for the tests: PyPI's aiosmtpd storing every message it accepts in a
//! Maildir, on a loopback port, killed when the handle drops. Messages are read back with
//! Python's standard `email` package: the reference MIME parser, already there because aiosmtpd
//! needs Python, so no second MIME implementation is compiled just for the tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

/// The Python that has aiosmtpd: scripts/test-deps.sh's virtual environment when the test
/// command set it up, else the `python3` on PATH.
fn python() -> String {
    std::env::var("HCC_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

pub struct SmtpServer {
    pub port: u16,
    pub maildir: PathBuf,
    child: Option<Child>,
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl SmtpServer {
    /// Starts the server on `port`, storing into `maildir` (created if missing), and returns
    /// once it accepts connections.
    pub async fn start(port: u16, maildir: &Path) -> SmtpServer {
        let mut command = Command::new(python());
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir);
        SmtpServer::spawn(command, port, maildir).await
    }

    /// Like `start`, but each message is accepted only `delay` after its data arrived, as a busy
    /// relay does: a sender killed meanwhile leaves a message the server stores anyway.
    pub async fn start_slow(port: u16, maildir: &Path, delay: Duration) -> SmtpServer {
        let mut command = Command::new(python());
        command
            .args(["-c", SLOW, &port.to_string()])
            .arg(maildir)
            .arg(delay.as_secs_f64().to_string());
        SmtpServer::spawn(command, port, maildir).await
    }

    /// An aiosmtpd that answers every recipient with `reply` (e.g. a relay misconfigured to
    /// answer 500), storing nothing.
    pub async fn start_refusing(port: u16, reply: &str) -> SmtpServer {
        let mut command = Command::new(python());
        command.args(["-c", REFUSING, &port.to_string(), reply]);
        SmtpServer::spawn(command, port, Path::new("/nonexistent")).await
    }

    async fn spawn(mut command: Command, port: u16, maildir: &Path) -> SmtpServer {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python -m aiosmtpd starts (bash scripts/test-deps.sh installs it)");
        let server = SmtpServer {
            port,
            maildir: maildir.to_path_buf(),
            child: Some(child),
        };
        crate::helpers::eventually(
            "the SMTP server accepts",
            Duration::from_secs(15),
            || async {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
            },
        )
        .await;
        server
    }

    /// Kills the server; its port refuses connections until it starts again.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A message as Python's `email` package reads it back.
#[derive(Debug, Clone, Deserialize)]
pub struct Mail {
    pub message_id: String,
    pub to: String,
    /// Decoded (RFC 2047).
    pub subject: String,
    /// As on the wire.
    pub raw_subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<MailFile>,
    pub defects: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MailFile {
    pub filename: String,
    pub content_type: String,
    pub content: String,
}

const REFUSING: &str = r#"
import sys, time
from aiosmtpd.controller import Controller
class Refuse:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return sys.argv[2]
controller = Controller(Refuse(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
while True:
    time.sleep(3600)
"#;

const SLOW: &str = r#"
import asyncio, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
class Slow(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(float(sys.argv[3]))
        return await super().handle_DATA(server, session, envelope)
controller = Controller(Slow(sys.argv[2]), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
while True:
    time.sleep(3600)
"#;

const READ_MAILDIR: &str = r#"
import json, mailbox, os, sys
from email import policy
from email.parser import BytesParser
out = []
if os.path.isdir(sys.argv[1]):
    for key in mailbox.Maildir(sys.argv[1], factory=None, create=False).iterkeys():
        raw = mailbox.Maildir(sys.argv[1], factory=None, create=False).get_bytes(key)
        m = BytesParser(policy=policy.default).parsebytes(raw)
        wire = BytesParser(policy=policy.compat32).parsebytes(raw)
        text = m.get_body(preferencelist=("plain",))
        html = m.get_body(preferencelist=("html",))
        files = []
        for a in m.iter_attachments():
            c = a.get_content()
            files.append({"filename": a.get_filename(), "content_type": a.get_content_type(),
                          "content": c if isinstance(c, str) else c.decode("utf-8")})
        defects = len(m.defects) + sum(len(p.defects) for p in m.walk())
        out.append({"message_id": str(m["Message-ID"]), "to": str(m["To"]),
                    "subject": str(m["Subject"]), "raw_subject": str(wire["Subject"]),
                    "text": text.get_content() if text else None,
                    "html": html.get_content() if html else None,
                    "attachments": files, "defects": defects})
print(json.dumps(out))
"#;

/// Every message in the Maildir, parsed.
pub fn messages(maildir: &Path) -> Vec<Mail> {
    let out = Command::new(python())
        .args(["-c", READ_MAILDIR])
        .arg(maildir)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "reading the Maildir failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the reader prints JSON")
}

/// The `[mail]` section for the test SMTP server on `port`: drained every second, quick retries.
pub fn mail(port: u16) -> String {
    format!(
        r#"
[mail]
transport = "smtp"
host = "127.0.0.1"
port = {port}
tls = "plain"
from = "TTHCC tỉnh <tthcc@example.gov.vn>"
drain_schedule = "* * * * * *"
retry_initial_secs = 1
retry_max_secs = 2
timeout_secs = 5
"#
    )
}

/// An email queued straight into the outbox, due now at any hour, with Message-ID
/// `<id@hcc-monitor.test>`.
pub fn queued_email(id: &str, to: &str) -> hcc_monitor::store::NewMessage {
    hcc_monitor::store::NewMessage {
        key: format!("test:{id}"),
        message_id: format!("<{id}@hcc-monitor.test>"),
        level: "centre_director".to_owned(),
        recipient: to.to_owned(),
        body: format!(
            "From: tthcc@example.gov.vn\r\nTo: {to}\r\nSubject: {id}\r\n\
             Message-ID: <{id}@hcc-monitor.test>\r\n\r\n{id}\r\n"
        )
        .into_bytes(),
        working_hours_only: false,
        next_attempt_at: chrono::Utc::now(),
    }
}

/// The Message-IDs delivered to `maildir`, sorted, once `n` have arrived and a few more drain
/// runs have passed, so that a duplicate would be among them.
pub async fn delivered_ids(maildir: &Path, n: usize) -> Vec<String> {
    crate::helpers::eventually(
        &format!("{n} emails delivered"),
        Duration::from_secs(20),
        || async { messages(maildir).len() >= n },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut ids: Vec<String> = messages(maildir)
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    ids.sort();
    ids
}
