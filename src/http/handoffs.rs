//! `GET /api/v1/handoffs`: every configured handoff now, with its stuck dossiers.

use axum::Json;
use axum::extract::State;

use super::{ApiError, AppState};
use crate::handoff::HandoffReport;

pub async fn stuck(State(state): State<AppState>) -> Result<Json<HandoffReport>, ApiError> {
    let now = state.handoffs.now();
    Ok(Json(state.handoffs.report(now).await?))
}
