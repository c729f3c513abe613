//! A throwaway certificate authority: server certificates for 127.0.0.1 written as PEM files
//! the service reads, and an HTTPS client that trusts only this authority.

use std::path::Path;

use base64::Engine;
use hcc_monitor::config::TlsFiles;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::CertificateDer;

pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    der: CertificateDer<'static>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("a CA certificate");
        TestCa {
            issuer: Issuer::new(params, key),
            der: cert.der().clone(),
        }
    }

    /// A new key and certificate for 127.0.0.1 signed by this authority, written as
    /// `cert.pem` and `key.pem` in `dir` (replacing what is there); returns the certificate.
    pub fn issue(&self, dir: &Path) -> (TlsFiles, CertificateDer<'static>) {
        let key = KeyPair::generate().expect("a server key");
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .expect("server params")
            .signed_by(&key, &self.issuer)
            .expect("a server certificate");
        let files = TlsFiles {
            cert_file: dir.join("cert.pem"),
            key_file: dir.join("key.pem"),
        };
        // Written beside and renamed into place, as a renewal agent does: a handshake never
        // sees half a file.
        for (path, label, der) in [
            (&files.key_file, "PRIVATE KEY", key.serialize_der()),
            (&files.cert_file, "CERTIFICATE", cert.der().to_vec()),
        ] {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, pem(label, &der)).expect("write PEM");
            std::fs::rename(&tmp, path).expect("rename PEM into place");
        }
        (files, cert.der().clone())
    }

    /// A client that trusts this authority only, opening a new connection per request.
    pub fn client(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_der(&self.der).expect("CA DER")])
            .tls_info(true)
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTPS client")
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
