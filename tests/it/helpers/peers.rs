//! Real peers for probes, all on 127.0.0.1: a small HTTP server (plain, or TLS with a
//! self-signed certificate made at test time), TCP devices that answer, that never answer, and
//! a port where nothing listens.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A background server; stops when dropped.
pub struct Peer {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers a request path with a status and a body.
pub type Route = fn(&str) -> (u16, String);

/// A certificate for 127.0.0.1 that expires at `not_after` (UTC midnight of that date).
pub fn self_signed((year, month, day): (i32, u32, u32)) -> tokio_rustls::TlsAcceptor {
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day).expect("a date");
    hcc_monitor::demo::targets::self_signed(date).expect("self-signed certificate")
}

/// An HTTP/1.1 server answering every request by `route`, over TLS when `tls` is given.
pub async fn http(route: Route, tls: Option<tokio_rustls::TlsAcceptor>) -> Peer {
    serve(move |stream| {
        let tls = tls.clone();
        async move {
            match tls {
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        answer(stream, route).await;
                    }
                }
                None => answer(stream, route).await,
            }
        }
    })
    .await
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, route: Route) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = route(path);
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A device that answers `reply` to what it receives first, then hangs up.
pub async fn tcp_answering(reply: &'static str) -> Peer {
    serve(move |mut stream| async move {
        let mut buf = [0u8; 256];
        if let Ok(1..) = stream.read(&mut buf).await {
            let _ = stream.write_all(reply.as_bytes()).await;
        }
        let _ = stream.shutdown().await;
    })
    .await
}

/// A device that accepts connections and never says anything.
pub async fn tcp_silent() -> Peer {
    serve(|mut stream| async move {
        let mut buf = [0u8; 256];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                return;
            }
        }
    })
    .await
}

/// A local port where nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

async fn serve<F, Fut>(handle: F) -> Peer
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream));
        }
    });
    Peer { addr, task }
}
