//! `GET /api/v1/handoffs`: every configured handoff now, with its stuck dossiers.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::{ApiError, ApiQuery, AppState, ErrorBody};
use crate::handoff::HandoffReport;

/// The endpoint takes no parameter; one given is refused like an unknown one elsewhere.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Every configured handoff now, with its stuck dossiers oldest first.
#[utoipa::path(get, path = "/api/v1/handoffs", responses(
    (status = 200, body = HandoffReport),
    (status = 400, body = ErrorBody, description = "A parameter was given"),
))]
pub async fn stuck(
    State(state): State<AppState>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<HandoffReport>, ApiError> {
    let now = state.handoffs.now();
    Ok(Json(state.handoffs.report(now).await?))
}
