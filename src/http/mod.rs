//! The HTTP server (axum): `/metrics`, `/healthz`, `/readyz` and the JSON API. It answers at all
//! times, also while a source is down; everything but `/healthz` may require a bearer token or
//! a basic-auth password, and all of it may be served over TLS.

pub mod api;
mod auth;
mod error;
mod handoffs;
mod health;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

pub use auth::Access;
pub use error::ApiError;

use crate::clock::Clock;
use crate::evaluate::Evaluator;
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
}

pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/readyz", get(health::readyz))
        .route("/api/v1/dossiers", get(api::dossiers))
        .route("/api/v1/summary", get(api::summary))
        .route("/api/v1/handoffs", get(handoffs::stuck))
        .route("/api/v1/outbox", get(api::outbox))
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
        state.metrics.render(),
    )
}
