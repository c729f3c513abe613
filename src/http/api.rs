//! The JSON API: the open-dossier list with its filters, paged, and the report figures. No
//! personal data leaves: dossier id and procedure only.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiPath, ApiQuery, AppState, ErrorBody};
use crate::clock::SupportedInstant;
use crate::evaluate::{OpenView, Period, PeriodStartDay};
use crate::report;
use crate::store::OpenFilter;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DossierQuery {
    /// on_track, at_risk, due_soon, overdue or paused.
    sla_state: Option<String>,
    department: Option<String>,
    source: Option<String>,
    /// An RFC 3339 instant with its offset, years 2000 to 2100; a date alone is refused.
    #[param(value_type = Option<String>, format = DateTime)]
    as_of: Option<SupportedInstant>,
    /// At most 1000; default 100.
    limit: Option<usize>,
    offset: Option<usize>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page {
    total: usize,
    offset: usize,
    limit: usize,
    #[serde(serialize_with = "crate::http::instant::rfc3339")]
    as_of: DateTime<Utc>,
    items: Vec<OpenView>,
}

/// Filters shared by the API and the CLI.
pub fn matches(
    v: &OpenView,
    state: Option<&str>,
    department: Option<&str>,
    source: Option<&str>,
) -> bool {
    state.is_none_or(|s| v.sla_state == s)
        && department.is_none_or(|d| v.department == d)
        && source.is_none_or(|s| v.source == s)
}

/// Open dossiers, paged in SQL (see `Evaluator::open_page`): earliest deadline first, dossiers
/// without one last.
#[utoipa::path(get, path = "/api/v1/dossiers", params(DossierQuery), responses(
    (status = 200, body = Page),
    (status = 400, body = ErrorBody, description = "An unknown parameter or a bad value"),
))]
pub async fn dossiers(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<DossierQuery>,
) -> Result<Json<Page>, ApiError> {
    let sla_state = q
        .sla_state
        .as_deref()
        .map(|s| {
            s.parse::<crate::sla::SlaState>()
                .map_err(|e| ApiError::BadRequest(format!("sla_state: {e}")))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let offset = q.offset.unwrap_or(0);
    let as_of = q
        .as_of
        .map_or_else(|| state.clock.now(), SupportedInstant::get);
    let filter = OpenFilter {
        source: q.source.as_deref(),
        department: q.department.as_deref(),
    };
    let page = state
        .evaluator
        .open_page(as_of, filter, sla_state, limit, offset)
        .await?;
    Ok(Json(Page {
        total: page.total,
        offset,
        limit,
        as_of,
        items: page.items,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// day (the default), week, month, quarter or year.
    #[param(value_type = Option<String>)]
    period: Option<Period>,
    /// 1 to 28. Default: `[reporting] period_start_day`.
    period_start_day: Option<i64>,
    /// An RFC 3339 instant with its offset, years 2000 to 2100; a date alone is refused.
    #[param(value_type = Option<String>, format = DateTime)]
    as_of: Option<SupportedInstant>,
}

/// The official report's figures for the period containing `as_of`.
#[utoipa::path(get, path = "/api/v1/summary", params(SummaryQuery), responses(
    (status = 200, body = crate::report::JsonReport),
    (status = 400, body = ErrorBody, description = "An unknown parameter or a bad value"),
))]
pub async fn summary(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let as_of = q
        .as_of
        .map_or_else(|| state.clock.now(), SupportedInstant::get);
    let start_day = match q.period_start_day {
        None => state.evaluator.period_start_day(),
        Some(day) => PeriodStartDay::new(day)
            .map_err(|e| ApiError::BadRequest(format!("period_start_day {e}")))?,
    };
    let r = report::build(
        &state.store,
        &state.evaluator,
        q.period.unwrap_or(Period::Day),
        start_day,
        as_of,
    )
    .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        report::render(&r, report::Format::Json),
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// The latest emails listed, 0 to 1000; default 100.
    limit: Option<i64>,
}

/// Emails by state and level, and the latest ones with masked recipients and no bodies.
#[utoipa::path(get, path = "/api/v1/outbox", params(OutboxQuery), responses(
    (status = 200, body = crate::notify::OutboxStatus),
    (status = 400, body = ErrorBody, description = "An unknown parameter or a bad value"),
))]
pub async fn outbox(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> Result<Json<crate::notify::OutboxStatus>, ApiError> {
    let limit = q
        .limit
        .unwrap_or(DEFAULT_LIMIT as i64)
        .clamp(0, MAX_LIMIT as i64);
    Ok(Json(
        crate::notify::outbox_status(&state.store, limit).await?,
    ))
}

/// `POST /api/v1/outbox/{list|retry|discard}`: the IT page's buttons and `hcc-monitor outbox`
/// alike; the answer lists the rows named (recipients masked) and how many changed.
#[utoipa::path(post, path = "/api/v1/outbox/{action}", params(
    ("action" = crate::notify::OutboxAction, Path, description = "list, retry or discard"),
    crate::notify::OutboxSelection,
), responses(
    (status = 200, body = crate::notify::OutboxOutcome),
    (status = 400, body = ErrorBody, description = "An unknown action or parameter, or a bad value"),
))]
pub async fn outbox_action(
    State(state): State<AppState>,
    ApiPath(action): ApiPath<crate::notify::OutboxAction>,
    ApiQuery(selection): ApiQuery<crate::notify::OutboxSelection>,
) -> Result<Json<crate::notify::OutboxOutcome>, ApiError> {
    let dry_run = selection.dry_run;
    let filter = selection.filter().map_err(ApiError::BadRequest)?;
    let outcome = crate::notify::act_on_outbox(
        &state.store,
        action,
        filter,
        dry_run,
        "api",
        state.clock.now(),
    )
    .await?;
    Ok(Json(outcome))
}
