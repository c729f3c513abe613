//! The OpenAPI description of `/api/v1`, generated from the handlers and the types they answer
//! with (utoipa), so that it cannot describe fields the API does not send.

use axum::Json;
use utoipa::OpenApi;

/// Where the description is served; stable across releases.
pub const PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hcc-monitor API",
        description = "Open dossiers, report figures, handoffs and the outbox of a public \
                       administration service centre. Every instant is RFC 3339 with its offset \
                       (UTC, +00:00); every error is a JSON object {\"error\": \"...\"}."
    ),
    paths(
        super::api::dossiers,
        super::api::summary,
        super::handoffs::stuck,
        super::api::outbox,
        super::api::outbox_action
    )
)]
struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
