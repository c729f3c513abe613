//! A TCP proxy in front of a real database server: stopping it makes the database unreachable
//! for the service (connections cut, new ones refused) without touching the shared server.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

pub struct Proxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    running: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let proxy = Proxy {
            addr,
            target,
            running: Arc::new(Mutex::new(None)),
        };
        *proxy.running.lock().await = Some(tokio::spawn(serve(listener, target)));
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
        *self.running.lock().await = Some(tokio::spawn(serve(listener, self.target)));
    }
}

async fn serve(listener: TcpListener, target: SocketAddr) {
    // Connections live in this task's JoinSet, so aborting the task cuts them all.
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            return;
        };
        conns.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
