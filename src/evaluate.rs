//! The evaluation cycle: state gauges recomputed from the store, so they are right after a
//! restart and label sets that no longer exist disappear.

use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

pub async fn refresh(store: &Store, metrics: &Metrics) -> Result<(), StoreError> {
    let counts = store.count_by_status().await?;
    metrics.replace_gauges(&metrics.dossiers, |g| {
        for c in &counts {
            g.with_label_values(&[&c.source, &c.status]).set(c.count);
        }
    });
    Ok(())
}
