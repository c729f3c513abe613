//! The HTTP server (axum): `/metrics`, `/healthz`, `/readyz` and the JSON API. It answers at all
//! times, also while a source is down; everything but `/healthz` may require a bearer token or
//! a basic-auth password, and all of it may be served over TLS.

pub mod api;
mod auth;
mod error;
mod handoffs;
mod health;
pub mod instant;
mod limit;
mod openapi;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub use auth::Access;
pub use error::{ApiError, ApiPath, ApiQuery, ErrorBody};
pub use limit::abandon_reads_at;

use crate::clock::Clock;
use crate::evaluate::Evaluator;
use crate::ha::Role;
use crate::metrics::Metrics;
use crate::store::Store;

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub evaluator: Arc<Evaluator>,
    pub clock: Arc<dyn Clock>,
    pub time_zone: chrono_tz::Tz,
    pub access: Arc<Access>,
    pub handoffs: Arc<crate::handoff::Handoffs>,
    /// Asks the application to reload its config; the answer is the problems, if any.
    pub reloads: tokio::sync::mpsc::Sender<ReloadRequest>,
    /// Leader or standby: a standby exports only its process series (see `metrics`).
    pub leadership: crate::ha::Leadership,
}

/// A reload asked for, with where to send its outcome (every problem, when refused).
pub type ReloadRequest = tokio::sync::oneshot::Sender<Result<(), String>>;

pub fn router(state: AppState) -> Router {
    // The JSON API reads the store at the client's pace; /metrics and the probes do not
    // (readiness is one small query) and stay outside the bound.
    let store_requests =
        limit::StoreRequests::new(state.store.service_connections(), state.metrics.clone());
    let api = Router::new()
        .route("/api/v1/dossiers", get(api::dossiers))
        .route("/api/v1/summary", get(api::summary))
        .route("/api/v1/handoffs", get(handoffs::stuck))
        .route("/api/v1/outbox", get(api::outbox))
        .route("/api/v1/outbox/{action}", post(api::outbox_action))
        .route_layer(axum::middleware::from_fn_with_state(
            store_requests,
            limit::bounded,
        ));
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/readyz", get(health::readyz))
        .route(openapi::PATH, get(openapi::document))
        .merge(api)
        .route("/-/reload", post(reload))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_credentials,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .merge(protected)
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state
        .metrics
        .set_office(state.evaluator.calendar(), state.clock.now());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        match state.leadership.role() {
            Role::Leader => state.metrics.render(),
            Role::Standby => state.metrics.render_standby(),
        },
    )
}

/// `POST /-/reload`, as Prometheus and Alertmanager have it: 200 once the new config runs, 500
/// with every problem when it is refused (the running config is kept).
async fn reload(State(state): State<AppState>) -> impl IntoResponse {
    let (reply, outcome) = tokio::sync::oneshot::channel();
    if state.reloads.send(reply).await.is_err() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_owned(),
        );
    }
    match outcome.await {
        Ok(Ok(())) => (StatusCode::OK, "config reloaded\n".to_owned()),
        Ok(Err(problems)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("config reload refused, the running config is kept:\n{problems}\n"),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down\n".to_owned(),
        ),
    }
}
