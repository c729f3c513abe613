//! TCP probes for printers, queue machines and kiosks: connect, optionally send a line and look
//! for a text in the reply.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::config::TcpProbeConfig;
use super::{Failure, Reason, Report};

pub(super) const REASONS: &[Reason] = &[
    Reason::Timeout,
    Reason::Dns,
    Reason::Refused,
    Reason::Connect,
    Reason::Body,
    Reason::Io,
];

/// Resolution, TCP connect, and the exchange (send and wait for the expected reply).
pub(super) const PHASES: &[&str] = &["resolve", "connect", "exchange"];

/// A device that talks on and on without the expected text fails rather than fills memory.
const REPLY_LIMIT: usize = 64 * 1024;

pub(super) struct TcpCheck {
    cfg: TcpProbeConfig,
}

impl TcpCheck {
    pub(super) fn new(cfg: &TcpProbeConfig) -> TcpCheck {
        TcpCheck { cfg: cfg.clone() }
    }

    pub(super) async fn run(&self, report: &mut Report) -> Result<(), Failure> {
        let target = &self.cfg.target;
        let (host, port) = target
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .ok_or_else(|| Failure::new(Reason::Dns, format!("{target:?} is not host:port")))?;
        let started = Instant::now();
        let addrs = super::resolve(host, port, self.cfg.ip_version)
            .await
            .map_err(|e| Failure::new(Reason::Dns, e))?;
        report.phase("resolve", started.elapsed());

        let connecting = Instant::now();
        let mut stream = TcpStream::connect(addrs[0])
            .await
            .map_err(|e| Failure::connect(target, &e))?;
        report.phase("connect", connecting.elapsed());

        let exchanging = Instant::now();
        let io = |e: std::io::Error| Failure::new(Reason::Io, format!("{target}: {e}"));
        if let Some(send) = &self.cfg.send {
            stream.write_all(send.as_bytes()).await.map_err(io)?;
        }
        if let Some(expect) = &self.cfg.expect {
            let mut reply = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).await.map_err(io)?;
                reply.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&reply).contains(expect.as_str()) {
                    break;
                }
                if n == 0 || reply.len() >= REPLY_LIMIT {
                    return Err(Failure::new(
                        Reason::Body,
                        format!("{target}: the reply does not contain {expect:?}"),
                    ));
                }
            }
        }
        report.phase("exchange", exchanging.elapsed());
        Ok(())
    }
}
