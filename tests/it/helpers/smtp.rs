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
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
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
