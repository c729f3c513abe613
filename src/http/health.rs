//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;
use crate::ha::Role;

/// Alive: the process answers. Nothing else is checked, so a database outage never gets the
/// monitor restarted by its supervisor.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready: the store is reachable, still the file opened (SQLite), and every migration is applied. The body says the role
/// (`ready: leader` or `ready: standby`); both are ready, since a standby serves the API.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if let Err(e) = state.store.check_file() {
        tracing::warn!(error = %e, "readiness check failed");
        return (StatusCode::SERVICE_UNAVAILABLE, "store file lost\n");
    }
    match state.store.is_ready().await {
        Ok(true) => (
            StatusCode::OK,
            match state.leadership.role() {
                Role::Leader => "ready: leader\n",
                Role::Standby => "ready: standby\n",
            },
        ),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "store migrations pending\n",
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n")
        }
    }
}
