//! A TCP proxy in front of a real database server: stopping it makes the database unreachable
//! for the service (connections cut, new ones refused), freezing it makes the database hang
//! (connections stay open, nothing is forwarded), without touching the shared server.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    running: Arc<Mutex<Option<JoinHandle<()>>>>,
    frozen: watch::Sender<bool>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let proxy = Proxy {
            addr,
            target,
            running: Arc::new(Mutex::new(None)),
            frozen: watch::channel(false).0,
        };
        *proxy.running.lock().await = Some(tokio::spawn(serve(
            listener,
            target,
            proxy.frozen.subscribe(),
        )));
        proxy
    }

    /// Cuts every connection and refuses new ones.
    pub async fn stop(&self) {
        if let Some(task) = self.running.lock().await.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind proxy");
        *self.running.lock().await = Some(tokio::spawn(serve(
            listener,
            self.target,
            self.frozen.subscribe(),
        )));
    }

    /// Stops forwarding, as a server stopped with SIGSTOP: connections stay open and new ones
    /// are accepted, but no byte goes through until `thaw`.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }
}

async fn serve(listener: TcpListener, target: SocketAddr, frozen: watch::Receiver<bool>) {
    // Connections live in this task's JoinSet, so aborting the task cuts them all.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            return;
        };
        let mut frozen = frozen.clone();
        conns.spawn(async move {
            if frozen.wait_for(|f| !f).await.is_err() {
                return;
            }
            if let Ok(outbound) = TcpStream::connect(target).await {
                let (in_read, in_write) = inbound.into_split();
                let (out_read, out_write) = outbound.into_split();
                tokio::join!(
                    pump(in_read, out_write, frozen.clone()),
                    pump(out_read, in_write, frozen)
                );
            }
        });
    }
}

/// Copies one direction, holding each chunk while frozen.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut frozen: watch::Receiver<bool>) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if frozen.wait_for(|f| !f).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
