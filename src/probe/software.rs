//! Error counts of each software, read from its database or its HTTP API.
//!
//! Both reads give cumulative counts per kind (every error of that kind the software ever
//! logged, or logged since it last started). `hcc_software_errors_total{system,kind}` mirrors
//! them: it rises by what the count rose, and when a count goes down (a rotated log table, a
//! restarted service) the series starts again from the new count, which Prometheus reads as a
//! counter reset. Because the value is the software's own count, a restart of the monitor does
//! not make errors look new.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::HeaderName;

use super::config::{SoftwareConfig, SoftwareRead};
use crate::config::Secret;
use crate::metrics::Metrics;
use crate::scheduler::Job;
use crate::source::{SourceError, SourcePool};

/// Kinds become label values: past this many per system the rest are dropped with a warning,
/// so that a query grouping by message text cannot flood Prometheus.
const MAX_KINDS: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum SoftwareError {
    #[error("system {system}: {error}")]
    Query { system: String, error: SourceError },
    #[error("system {system}: request failed: {error}")]
    Request {
        system: String,
        error: reqwest::Error,
    },
    #[error("system {system}: HTTP status {status}; expected 200")]
    Status { system: String, status: u16 },
    #[error("system {system}: {problem}")]
    Shape { system: String, problem: String },
    #[error("system {system}: no answer within {after:?}")]
    Timeout { system: String, after: Duration },
    #[error("system {system}: source {source_name:?} is not configured")]
    UnknownSource { system: String, source_name: String },
}

/// Makes each kind's counter equal to the software's count; returns how many kinds were kept.
fn mirror(metrics: &Metrics, system: &str, counts: &BTreeMap<String, u64>) -> usize {
    if counts.len() > MAX_KINDS {
        tracing::warn!(
            system,
            kinds = counts.len(),
            kept = MAX_KINDS,
            "too many error kinds; the rest are dropped"
        );
    }
    let family = &metrics.software_errors;
    for (kind, count) in counts.iter().take(MAX_KINDS) {
        let counter = family.with_label_values(&[system, kind]);
        let seen = counter.get();
        if *count >= seen {
            counter.inc_by(count - seen);
        } else {
            let _ = family.remove_label_values(&[system, kind]);
            family.with_label_values(&[system, kind]).inc_by(*count);
        }
    }
    counts.len().min(MAX_KINDS)
}

enum Read {
    Sql {
        pool: SourcePool,
        source: String,
        query: String,
    },
    Http {
        client: reqwest::Client,
        url: Url,
        headers: Vec<(HeaderName, Secret)>,
    },
}

/// Reads one system's counts into the metrics.
pub struct SoftwareReader {
    cfg: SoftwareConfig,
    read: Read,
    metrics: Arc<Metrics>,
}

impl SoftwareReader {
    pub fn new(
        cfg: SoftwareConfig,
        pools: impl Fn(&str) -> Option<SourcePool>,
        metrics: Arc<Metrics>,
    ) -> Result<SoftwareReader, SoftwareError> {
        let system = cfg.system.clone();
        let read = match &cfg.read {
            SoftwareRead::Sql { source, query } => Read::Sql {
                pool: pools(source).ok_or_else(|| SoftwareError::UnknownSource {
                    system: system.clone(),
                    source_name: source.clone(),
                })?,
                source: source.clone(),
                query: query.clone(),
            },
            SoftwareRead::Http { url, headers } => Read::Http {
                client: super::http::client_builder(cfg.timeout)
                    .build()
                    .map_err(|error| SoftwareError::Request { system, error })?,
                url: url.clone(),
                headers: headers.clone(),
            },
        };
        Ok(SoftwareReader { cfg, read, metrics })
    }

    /// Reads the counts once and mirrors them; returns how many kinds were read.
    pub async fn read(&self) -> Result<usize, SoftwareError> {
        let counts = tokio::time::timeout(self.cfg.timeout, self.fetch())
            .await
            .map_err(|_| SoftwareError::Timeout {
                system: self.cfg.system.clone(),
                after: self.cfg.timeout,
            })??;
        Ok(mirror(&self.metrics, &self.cfg.system, &counts))
    }

    async fn fetch(&self) -> Result<BTreeMap<String, u64>, SoftwareError> {
        let system = &self.cfg.system;
        let shape = |problem: String| SoftwareError::Shape {
            system: system.clone(),
            problem,
        };
        match &self.read {
            Read::Sql {
                pool,
                source,
                query,
            } => {
                let rows =
                    pool.query(query, MAX_KINDS + 1)
                        .await
                        .map_err(|e| SoftwareError::Query {
                            system: system.clone(),
                            error: SourceError::from_fetch(source, e),
                        })?;
                rows.iter()
                    .map(|row| match row.values.as_slice() {
                        [kind, count, ..] => {
                            let kind = kind.as_text().unwrap_or_else(|| "unknown".to_string());
                            let count = count
                                .as_f64()
                                .filter(|c| *c >= 0.0 && c.fract() == 0.0)
                                .ok_or_else(|| {
                                    shape(format!("the count of {kind:?} is not a whole number"))
                                })?;
                            Ok((kind, count as u64))
                        }
                        _ => Err(shape(
                            "the query must return two columns: kind, count".to_string(),
                        )),
                    })
                    .collect()
            }
            Read::Http {
                client,
                url,
                headers,
            } => {
                let request_failed = |error: reqwest::Error| SoftwareError::Request {
                    system: system.clone(),
                    error: error.without_url(),
                };
                let mut request = client.get(url.clone());
                for (name, value) in headers {
                    request = request.header(name, value.expose());
                }
                let response = request.send().await.map_err(request_failed)?;
                if response.status() != reqwest::StatusCode::OK {
                    return Err(SoftwareError::Status {
                        system: system.clone(),
                        status: response.status().as_u16(),
                    });
                }
                let body = response.bytes().await.map_err(request_failed)?;
                let object: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&body)
                    .map_err(|e| {
                        shape(format!("expected a JSON object {{\"kind\": count}}: {e}"))
                    })?;
                object
                    .into_iter()
                    .map(|(kind, count)| match count.as_u64() {
                        Some(n) => Ok((kind, n)),
                        None => Err(shape(format!(
                            "the count of {kind:?} is not a whole number"
                        ))),
                    })
                    .collect()
            }
        }
    }

    pub fn job(self: &Arc<Self>) -> Job {
        let reader = self.clone();
        Job::new(
            format!("software:{}", self.cfg.system),
            self.cfg.schedule.clone(),
            self.cfg.timeout + super::JOB_MARGIN,
            move |stop| {
                let reader = reader.clone();
                async move {
                    tokio::select! {
                        result = reader.read() => result.map(drop)?,
                        () = stop.cancelled() => {}
                    }
                    Ok(())
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
    }

    #[test]
    fn the_counter_follows_the_softwares_count_and_restarts_when_the_count_drops() {
        let metrics = Metrics::new();
        let value = |kind: &str| {
            metrics
                .software_errors
                .with_label_values(&["s", kind])
                .get()
        };
        mirror(&metrics, "s", &counts(&[("ERROR", 3), ("WARN", 1)]));
        mirror(&metrics, "s", &counts(&[("ERROR", 5), ("WARN", 1)]));
        assert_eq!((value("ERROR"), value("WARN")), (5, 1));
        // A rotated log: the count starts again from 2, and so does the series.
        mirror(&metrics, "s", &counts(&[("ERROR", 2)]));
        assert_eq!((value("ERROR"), value("WARN")), (2, 1));
    }

    #[test]
    fn kinds_past_the_cap_are_dropped() {
        let metrics = Metrics::new();
        let many: BTreeMap<String, u64> = (0..MAX_KINDS + 5)
            .map(|i| (format!("k{i:03}"), 1))
            .collect();
        assert_eq!(mirror(&metrics, "s", &many), MAX_KINDS);
        let series = metrics
            .render()
            .matches("hcc_software_errors_total{")
            .count();
        assert_eq!(series, MAX_KINDS);
    }
}
