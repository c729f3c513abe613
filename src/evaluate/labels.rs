//! Label values beyond what a source is allowed (`label::Admitted`) become `other`: each value
//! folded is warned about once per process and counted in `hcc_labels_folded_total{label}`, so
//! that an operator learns which values the dashboards no longer show apart.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::label::{Admitted, OTHER};
use crate::metrics::Metrics;

pub(super) struct Fold {
    /// The label's name, as the metric and the log give it.
    label: &'static str,
    /// Values kept per source.
    limit: usize,
    /// (source, value) already folded and warned about.
    folded: Mutex<HashSet<(String, String)>>,
}

impl Fold {
    pub(super) fn new(label: &'static str, limit: usize, metrics: &Metrics) -> Fold {
        metrics.labels_folded.with_label_values(&[label]);
        Fold {
            label,
            limit,
            folded: Mutex::new(HashSet::new()),
        }
    }

    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// The value's label: itself when the source admits it, else `other`.
    pub(super) fn apply<'a>(
        &self,
        admitted: &Admitted,
        metrics: &Metrics,
        source: &str,
        value: &'a str,
    ) -> &'a str {
        if admitted.get(source).is_some_and(|s| s.contains(value)) {
            return value;
        }
        let mut folded = self.folded.lock().unwrap_or_else(|e| e.into_inner());
        if folded.insert((source.to_string(), value.to_string())) {
            metrics.labels_folded.with_label_values(&[self.label]).inc();
            tracing::warn!(
                source,
                label = self.label,
                value,
                limit = self.limit,
                "the source has more values of this label than the limit; this one is counted as \
                 \"other\""
            );
        }
        OTHER
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label::busiest;

    #[test]
    fn procedures_beyond_the_limit_fold_into_other_and_are_counted_once() {
        const N: usize = 5;
        const K: usize = 3;
        let metrics = Metrics::new();
        let fold = Fold::new("procedure", N, &metrics);
        // Procedure i has i + 1 open dossiers: the N busiest are the last N.
        let codes: Vec<String> = (0..N + K).map(|i| format!("1.00{i}")).collect();
        let volumes = codes
            .iter()
            .enumerate()
            .map(|(i, c)| ("centre", c.as_str(), i as u64 + 1));
        let admitted = busiest(volumes, fold.limit());
        let folded_total = || {
            metrics
                .labels_folded
                .with_label_values(&["procedure"])
                .get()
        };
        assert_eq!(folded_total(), 0, "registered at zero");
        for _ in 0..2 {
            let labels: Vec<&str> = codes
                .iter()
                .map(|c| fold.apply(&admitted, &metrics, "centre", c))
                .collect();
            assert_eq!(labels[..K], [OTHER; K]);
            assert_eq!(labels[K..], codes[K..]);
        }
        assert_eq!(folded_total(), K as u64, "each folded value once");
        assert!(
            metrics
                .render()
                .contains("hcc_labels_folded_total{label=\"procedure\"} 3")
        );
        // Another source's values are its own: nothing is admitted for it here.
        assert_eq!(
            fold.apply(&admitted, &metrics, "other-source", &codes[N]),
            OTHER
        );
        assert_eq!(folded_total(), K as u64 + 1);
    }
}
