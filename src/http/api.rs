//! The JSON API: the open-dossier list with its filters, paged, and the report figures. No
//! personal data leaves: dossier id and procedure only.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};
use crate::clock::SupportedInstant;
use crate::evaluate::{OpenView, Period, PeriodStartDay};
use crate::report;
use crate::store::OpenFilter;

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DossierQuery {
    sla_state: Option<String>,
    department: Option<String>,
    source: Option<String>,
    as_of: Option<SupportedInstant>,
    limit: Option<usize>,
    offset: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct Page {
    total: usize,
    offset: usize,
    limit: usize,
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

/// Paged in SQL (see `Evaluator::open_page`): earliest deadline first, dossiers without one
/// last.
pub async fn dossiers(
    State(state): State<AppState>,
    Query(q): Query<DossierQuery>,
) -> Result<Json<Page>, ApiError> {
    let sla_state = match q.sla_state.as_deref() {
        None => None,
        Some(s) => Some(
            crate::sla::SlaState::ALL
                .into_iter()
                .find(|x| x.as_str() == s)
                .ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "sla_state {s:?}: expected on_track, at_risk, due_soon, overdue or paused"
                    ))
                })?,
        ),
    };
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    period: Option<Period>,
    /// Default: `[reporting] period_start_day`.
    period_start_day: Option<i64>,
    as_of: Option<SupportedInstant>,
}

pub async fn summary(
    State(state): State<AppState>,
    Query(q): Query<SummaryQuery>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    limit: Option<i64>,
}

/// Emails by state and level, and the latest ones with masked recipients and no bodies.
pub async fn outbox(
    State(state): State<AppState>,
    Query(q): Query<OutboxQuery>,
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
pub async fn outbox_action(
    State(state): State<AppState>,
    axum::extract::Path(action): axum::extract::Path<crate::notify::OutboxAction>,
    Query(selection): Query<crate::notify::OutboxSelection>,
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
