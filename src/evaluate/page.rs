//! A page of the open dossiers for the API, evaluated alone: its rows are cut in SQL, so one
//! request costs a page, not every open dossier.

use chrono::{DateTime, Utc};

use super::{Evaluator, OpenView};
use crate::sla::SlaState;
use crate::store::{LaterChanges, OpenFilter, StoreError};

/// A page and how many dossiers match in all.
pub struct OpenPage {
    pub total: usize,
    pub items: Vec<OpenView>,
}

impl Evaluator {
    /// The dossiers open at `now` that match, earliest deadline first. A state is known only
    /// once a dossier is evaluated, so a filter on it evaluates every dossier that matches the
    /// rest of the filter (the open ones, not the whole store), in the same order.
    pub async fn open_page(
        &self,
        now: DateTime<Utc>,
        filter: OpenFilter<'_>,
        state: Option<SlaState>,
        limit: usize,
        offset: usize,
    ) -> Result<OpenPage, StoreError> {
        let later = self.store.changes_after(now).await?;
        if !later.is_empty() {
            return self
                .replayed_page(now, &later, filter, state, limit, offset)
                .await;
        }
        let (limit_sql, offset_sql) = match state {
            None => (
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(offset).unwrap_or(i64::MAX),
            ),
            Some(_) => (i64::MAX, 0),
        };
        let (rows, total) = self
            .store
            .open_page(now, filter, limit_sql, offset_sql)
            .await?;
        let keys: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.source.clone(), r.dossier_id.clone()))
            .collect();
        let changes = match state {
            None => self.store.pause_changes_of(&keys).await?,
            // Every open dossier is read then: one read of the history beats thousands by key.
            Some(_) => self.store.pause_changes().await?,
        };
        let views = rows.into_iter().map(|row| {
            let c = changes.get(&(row.source.clone(), row.dossier_id.clone()));
            self.open_view(row, c, now)
        });
        let mut page = match state {
            None => OpenPage {
                total: total.max(0) as usize,
                items: views.collect(),
            },
            Some(s) => {
                let matching: Vec<OpenView> = views.filter(|v| v.evaluation.state == s).collect();
                OpenPage {
                    total: matching.len(),
                    items: matching.into_iter().skip(offset).take(limit).collect(),
                }
            }
        };
        self.add_handovers(&mut page.items, now).await?;
        Ok(page)
    }

    /// A page of a replay: the store holds today's rows, and which were open at `now`, in which
    /// status and with which due, is known only once each is taken back there, so every open
    /// dossier is (as the `dossiers` command does), then cut in the live page's order.
    async fn replayed_page(
        &self,
        now: DateTime<Utc>,
        later: &LaterChanges,
        filter: OpenFilter<'_>,
        state: Option<SlaState>,
        limit: usize,
        offset: usize,
    ) -> Result<OpenPage, StoreError> {
        let changes = self.store.pause_changes().await?;
        let rows = self.store.open_at(now).await?;
        let mut matching: Vec<OpenView> = self
            .views(rows, later, &changes, now)
            .into_iter()
            .filter(|v| {
                filter.source.is_none_or(|s| v.source == s)
                    && filter.department.is_none_or(|d| v.department == d)
                    && state.is_none_or(|s| v.evaluation.state == s)
            })
            .collect();
        matching.sort_by(|a, b| {
            (
                a.due_at.is_none(),
                a.due_at,
                a.received_at,
                &a.source,
                &a.dossier_id,
            )
                .cmp(&(
                    b.due_at.is_none(),
                    b.due_at,
                    b.received_at,
                    &b.source,
                    &b.dossier_id,
                ))
        });
        let total = matching.len();
        let mut items: Vec<OpenView> = matching.into_iter().skip(offset).take(limit).collect();
        self.add_handovers(&mut items, now).await?;
        Ok(OpenPage { total, items })
    }
}
