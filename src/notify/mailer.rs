//! The mail transport as a backend enum: SMTP (STARTTLS required, implicit TLS, or plain to a
//! loopback relay), .eml files in a folder, or memory for tests of pure logic. Messages are sent
//! as the bytes the outbox keeps, so a retry is the same message.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{MailConfig, SmtpTls, Transport};

/// Bounded classes of send failures: the `reason` label of `hcc_escalations_failed_total` and
/// what the outbox records, never a server's text.
pub mod reason {
    pub const CONNECT: &str = "connect";
    pub const TLS: &str = "tls";
    pub const AUTH: &str = "auth";
    pub const REJECTED: &str = "rejected";
    pub const TIMEOUT: &str = "timeout";
    pub const OTHER: &str = "other";
    pub const ALL: [&str; 6] = [CONNECT, TLS, AUTH, REJECTED, TIMEOUT, OTHER];
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("cannot set up TLS for the SMTP server {host}: {source}")]
    TlsSetup {
        host: String,
        source: lettre::transport::smtp::Error,
    },
    #[error("cannot create or protect {path} (emails are kept owner-only): {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("the SMTP server refused or failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("cannot write the email file: {0}")]
    File(#[from] lettre::transport::file::Error),
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the recipient is not a valid address")]
    Recipient,
}

impl MailError {
    /// The failure's class.
    pub fn class(&self) -> &'static str {
        match self {
            MailError::TlsSetup { .. } => reason::TLS,
            MailError::Timeout(_) => reason::TIMEOUT,
            MailError::File(_) | MailError::Folder { .. } | MailError::Recipient => reason::OTHER,
            MailError::Smtp(e) => {
                if e.is_timeout() {
                    reason::TIMEOUT
                } else if e.is_tls() {
                    reason::TLS
                } else if let Some(code) = e.status() {
                    // 530 auth required, 534/535/538 auth refused, 454 temporary auth failure.
                    match code.to_string().as_str() {
                        "454" | "530" | "534" | "535" | "538" => reason::AUTH,
                        _ => reason::REJECTED,
                    }
                } else if has_io_source(e) {
                    reason::CONNECT
                } else {
                    reason::OTHER
                }
            }
        }
    }

    /// The server's reply code, when it answered with one.
    pub fn code(&self) -> Option<String> {
        match self {
            MailError::Smtp(e) => e.status().map(|c| c.to_string()),
            _ => None,
        }
    }

    /// A 5xx answer: the server will refuse the same message again, so retrying is pointless.
    pub fn is_permanent(&self) -> bool {
        match self {
            MailError::Smtp(e) => e.is_permanent(),
            MailError::Recipient => true,
            _ => false,
        }
    }
}

fn has_io_source(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = e.source();
    while let Some(err) = source {
        if err.is::<std::io::Error>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Sent messages kept in memory.
pub type Sent = Arc<Mutex<Vec<(Envelope, Vec<u8>)>>>;

#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File {
        transport: AsyncFileTransport<Tokio1Executor>,
        /// Created on the first email, so that a service that never sends leaves no folder.
        folder: PathBuf,
    },
    Memory(Sent),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mailer::Smtp(_) => "Mailer::Smtp",
            Mailer::File { .. } => "Mailer::File",
            Mailer::Memory(_) => "Mailer::Memory",
        })
    }
}

impl Mailer {
    /// The configured transport; nothing connects yet.
    pub fn new(config: &MailConfig) -> Result<Mailer, MailError> {
        match &config.transport {
            Transport::File(folder) => Ok(Mailer::File {
                transport: AsyncFileTransport::new(folder),
                folder: folder.clone(),
            }),
            Transport::Smtp(smtp) => {
                let tls_params = || {
                    TlsParameters::new(smtp.host.clone()).map_err(|source| MailError::TlsSetup {
                        host: smtp.host.clone(),
                        source,
                    })
                };
                let tls = match smtp.tls {
                    SmtpTls::StartTls => Tls::Required(tls_params()?),
                    SmtpTls::Implicit => Tls::Wrapper(tls_params()?),
                    SmtpTls::Plain => Tls::None,
                };
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
                        .port(smtp.port)
                        .tls(tls)
                        .timeout(Some(config.timeout))
                        .pool_config(PoolConfig::new().max_size(smtp.pool_size));
                if let Some((user, password)) = &smtp.credentials {
                    builder = builder
                        .credentials(Credentials::new(user.clone(), password.expose().into()));
                }
                Ok(Mailer::Smtp(builder.build()))
            }
        }
    }

    /// A mailer that keeps what it sends, and the list it keeps it in.
    pub fn memory() -> (Mailer, Sent) {
        let sent = Sent::default();
        (Mailer::Memory(sent.clone()), sent)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Mailer::Smtp(_) => "smtp",
            Mailer::File { .. } => "file",
            Mailer::Memory(_) => "memory",
        }
    }

    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), MailError> {
        match self {
            Mailer::Smtp(t) => t.send_raw(envelope, message).await.map(drop)?,
            Mailer::File { transport, folder } => {
                let failed = |path: &std::path::Path| {
                    let path = path.display().to_string();
                    move |source| MailError::Folder { path, source }
                };
                crate::private_fs::create_dir_all(folder).map_err(failed(folder))?;
                let id = transport.send_raw(envelope, message).await?;
                // lettre writes with the umask's mode; the owner-only folder already keeps
                // others out, this keeps a copied or moved email private too.
                let file = folder.join(format!("{id}.eml"));
                crate::private_fs::restrict(&file).map_err(failed(&file))?;
            }
            Mailer::Memory(sent) => sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((envelope.clone(), message.to_vec())),
        }
        Ok(())
    }

    /// Connects (and authenticates) to the SMTP server without sending; other backends have
    /// nothing to check.
    pub async fn check(&self) -> Result<(), MailError> {
        match self {
            Mailer::Smtp(t) => t.test_connection().await.map(drop).map_err(MailError::from),
            Mailer::File { .. } | Mailer::Memory(_) => Ok(()),
        }
    }
}

/// An address for logs: the first letter of the local part and the domain,
/// `n***@so-tp.gov.vn`.
pub fn mask(address: &str) -> String {
    match address.parse::<Address>() {
        Ok(a) => {
            let first: String = a.user().chars().take(1).collect();
            format!("{first}***@{}", a.domain())
        }
        Err(_) => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_addresses_keep_the_domain_only() {
        assert_eq!(mask("nguyen.van.a@so-tp.gov.vn"), "n***@so-tp.gov.vn");
        assert_eq!(mask("not an address"), "***");
    }

    #[tokio::test]
    async fn a_refused_connection_is_classed_connect() {
        // A port nothing listens on: bind, note the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(port)
            .build();
        let env = Envelope::new(
            Some("a@example.org".parse().unwrap()),
            vec!["b@example.org".parse().unwrap()],
        )
        .unwrap();
        let err = MailError::from(t.send_raw(&env, b"Subject: x\r\n\r\nx").await.unwrap_err());
        assert_eq!(err.class(), reason::CONNECT);
        assert!(!err.is_permanent());
    }
}
