//! A bound on the API requests that use the store at once. A burst past it is answered 503 with
//! `Retry-After` at once instead of queueing for store connections, which the evaluation, the
//! outbox and the source polls need too; and at shutdown, reads in flight are abandoned.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Seconds a client rejected by a burst is told to wait.
const RETRY_AFTER_SECS: &str = "1";

#[derive(Clone)]
pub struct StoreRequests {
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl StoreRequests {
    /// One connection of the service pool stays out of the API's reach (a request holds at
    /// most one at a time), so a burst never leaves the evaluation and the outbox none.
    pub fn new(service_connections: u32, metrics: Arc<Metrics>) -> StoreRequests {
        let permits = service_connections.saturating_sub(1).max(1) as usize;
        StoreRequests {
            permits: Arc::new(Semaphore::new(permits)),
            metrics,
        }
    }
}

pub async fn bounded(State(limit): State<StoreRequests>, request: Request, next: Next) -> Response {
    let Ok(_permit) = limit.permits.try_acquire() else {
        limit.metrics.api_rejected.inc();
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, RETRY_AFTER_SECS)],
            "too many API requests at once; retry shortly\n",
        )
            .into_response();
    };
    next.run(request).await
}

/// Serves one request; once `stopping` fires, a read still in flight is answered 503 at once
/// rather than awaited: it changes nothing, and the shutdown grace belongs to the work that
/// does (emails being sent, a reload or an outbox action asked by POST).
pub async fn abandon_reads_at(
    stopping: CancellationToken,
    router: axum::Router,
    request: Request,
) -> Result<Response, std::convert::Infallible> {
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    let served = tower::ServiceExt::oneshot(router, request);
    if !read {
        return served.await;
    }
    tokio::select! {
        response = served => response,
        () = stopping.cancelled() => Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONNECTION, "close")],
            "shutting down\n",
        )
            .into_response()),
    }
}
