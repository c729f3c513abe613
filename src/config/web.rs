//! The web endpoints' access settings, written the way Prometheus' exporter web config writes
//! them (`tls_server_config`, `basic_auth_users`), and the log format. Validation reads the
//! certificate and key once so that `check-config` catches a wrong path or file; the server
//! reads them again whenever they change.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::raw::{RawService, RawTls};
use super::validate::Checker;

/// The PEM files of the web endpoints' certificate (chain) and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("{path}: the key is unusable or does not match the certificate: {source}")]
    Key {
        path: PathBuf,
        source: rustls::Error,
    },
}

impl TlsFiles {
    /// Reads the certificate chain and the key, checking that they belong together.
    pub fn load(&self) -> Result<CertifiedKey, TlsError> {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.clone(),
                source,
            })
        };
        let certs = CertificateDer::pem_slice_iter(&read(&self.cert_file)?)
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .filter(|certs| !certs.is_empty())
            .ok_or_else(|| TlsError::NoCertificate {
                path: self.cert_file.clone(),
            })?;
        let key =
            PrivateKeyDer::from_pem_slice(&read(&self.key_file)?).map_err(|_| TlsError::NoKey {
                path: self.key_file.clone(),
            })?;
        CertifiedKey::from_der(certs, key, &rustls::crypto::ring::default_provider()).map_err(
            |source| TlsError::Key {
                path: self.key_file.clone(),
                source,
            },
        )
    }
}

/// User name → bcrypt hash. Not secret in the way a password is, but never logged either.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BasicAuthUsers(BTreeMap<String, String>);

impl BasicAuthUsers {
    pub fn new(users: BTreeMap<String, String>) -> BasicAuthUsers {
        BasicAuthUsers(users)
    }

    pub fn hash(&self, user: &str) -> Option<&str> {
        self.0.get(user).map(String::as_str)
    }

    /// Some user's hash, to spend the same time on an unknown user as on a known one.
    pub fn any_hash(&self) -> Option<&str> {
        self.0.values().next().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for BasicAuthUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// How log lines are written: text for a terminal or journald, JSON for a log pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("{other:?}: expected \"text\" or \"json\"")),
        }
    }
}

impl LogFormat {
    /// `[service] log_format` of a config file, read before logging starts (and so before the
    /// file is validated, which logs); `None` when the file or the key is missing or unreadable,
    /// which validation then reports.
    pub fn from_config_file(path: &std::path::Path) -> Option<LogFormat> {
        let text = std::fs::read_to_string(path).ok()?;
        let table: toml::Table = text.parse().ok()?;
        table
            .get("service")?
            .get("log_format")?
            .as_str()?
            .parse()
            .ok()
    }
}

/// What `[service]` says about access to the web endpoints and about logs.
pub(super) struct Web {
    pub tls: Option<TlsFiles>,
    pub basic_auth_users: BasicAuthUsers,
    pub allow_unauthenticated: bool,
    pub log_format: LogFormat,
}

pub(super) fn validate_web(
    c: &mut Checker<'_>,
    raw: &mut RawService,
    listen: Option<SocketAddr>,
    has_bearer_token: bool,
) -> Option<Web> {
    let tls = match raw.tls_server_config.take() {
        None => Some(None),
        Some(t) => tls_files(c, t).map(Some),
    };
    let mut users = BTreeMap::new();
    for (user, hash) in std::mem::take(&mut raw.basic_auth_users) {
        let key = format!("service.basic_auth_users.{user}");
        if user.is_empty() || user.contains(':') {
            c.problem(&key, "a user name must be non-empty and without ':'");
        } else if bcrypt::HashParts::from_str(&hash).is_err() {
            c.problem(
                &key,
                "not a bcrypt hash; expected \"$2y$10$...\" as `htpasswd -nBC 10 USER` prints it \
                 after the colon",
            );
        } else {
            users.insert(user, hash);
        }
    }
    let basic_auth_users = BasicAuthUsers(users);
    let allow_unauthenticated = raw.allow_unauthenticated.unwrap_or(false);
    if let Some(listen) = listen
        && !listen.ip().is_loopback()
        && !has_bearer_token
        && basic_auth_users.is_empty()
    {
        if allow_unauthenticated {
            tracing::warn!(
                %listen,
                "the web endpoints are open to anyone who can reach {listen}: \
                 allow_unauthenticated = true"
            );
        } else {
            c.problem(
                "service.listen",
                format!(
                    "{listen} is reachable from other machines but needs no credentials; set \
                     bearer_token or basic_auth_users, listen on 127.0.0.1, or set \
                     allow_unauthenticated = true"
                ),
            );
        }
    }
    let log_format = match raw.log_format.as_deref() {
        None => Some(LogFormat::default()),
        Some(s) => s
            .parse()
            .map_err(|e: String| c.problem("service.log_format", e))
            .ok(),
    };
    Some(Web {
        tls: tls?,
        basic_auth_users,
        allow_unauthenticated,
        log_format: log_format?,
    })
}

fn tls_files(c: &mut Checker<'_>, raw: RawTls) -> Option<TlsFiles> {
    let key = "service.tls_server_config";
    let mut file = |name: &str, path: Option<PathBuf>| match path {
        Some(p) => Some(c.path(&p)),
        None => {
            c.problem(
                format!("{key}.{name}"),
                format!("missing; expected the PEM file's path, e.g. /etc/hcc-monitor/{name}.pem"),
            );
            None
        }
    };
    let cert_file = file("cert_file", raw.cert_file);
    let key_file = file("key_file", raw.key_file);
    let files = TlsFiles {
        cert_file: cert_file?,
        key_file: key_file?,
    };
    match files.load() {
        Ok(_) => Some(files),
        Err(e) => {
            let which = match &e {
                TlsError::Read { path, .. } if *path == files.cert_file => "cert_file",
                TlsError::NoCertificate { .. } => "cert_file",
                _ => "key_file",
            };
            c.problem(format!("{key}.{which}"), e.to_string());
            None
        }
    }
}
