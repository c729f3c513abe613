//! Test helpers: throwaway databases on the machine's real servers, a TCP proxy that can take a
//! database "down", a real SMTP server, the application spawned on port 0 and a real
//! Prometheus scraping it, and a certificate authority for HTTPS.

pub mod app;
pub mod db;
pub mod instance;
pub mod peers;
pub mod prometheus;
pub mod proxy;
pub mod smtp;
pub mod tls;

use std::time::Duration;

/// Polls `cond` until it holds, instead of sleeping a guessed time.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A name no other test (or test run) uses.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}
