//! Every counter an alert takes `increase()` of exists at 0 from the first scrape: a series born
//! at 1 on the first failure has no earlier sample, and that failure would never alert.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::example_config::example_with_sources_down;
use crate::helpers::app::TestApp;

/// A counter selector of the rules: its name and, per label it matches, the values it wants.
#[derive(Debug)]
struct Selector {
    name: String,
    wanted: Vec<(String, Vec<String>)>,
}

/// The `hcc_*_total` selectors of a rules file, with their `label="v"` and `label=~"a|b"`
/// matchers.
fn counter_selectors(rules: &str) -> Vec<Selector> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut found = Vec::new();
    let mut rest = rules;
    while let Some(at) = rest.find("hcc_") {
        let preceded = rest[..at].chars().next_back().is_some_and(ident);
        let tail = &rest[at..];
        let end = tail.find(|c: char| !ident(c)).unwrap_or(tail.len());
        let name = &tail[..end];
        rest = &tail[end..];
        if preceded || !name.ends_with("_total") {
            continue;
        }
        let mut wanted = Vec::new();
        if let Some(body) = rest.strip_prefix('{') {
            let body = &body[..body.find('}').expect("a closed selector")];
            for matcher in body.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                let (label, values) = matcher
                    .split_once("=~")
                    .or_else(|| matcher.split_once('='))
                    .expect("label=value");
                let values = values.trim_matches('"');
                assert!(
                    !values.contains(['.', '*', '+', '(', '[']),
                    "only alternatives are understood here: {matcher}"
                );
                wanted.push((
                    label.to_string(),
                    values.split('|').map(String::from).collect(),
                ));
            }
        }
        found.push(Selector {
            name: name.to_string(),
            wanted,
        });
    }
    found
}

/// The samples of an exposition: name and labels.
fn samples(exposition: &str) -> Vec<(String, BTreeMap<String, String>)> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let series = line.rsplit_once(' ').expect("series value").0;
            let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
            let labels = labels
                .trim_end_matches('}')
                .split("\",")
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').expect("label=value");
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels)
        })
        .collect()
}

#[test]
fn the_selector_reader_sees_names_and_alternatives() {
    let rules = "expr: sum by (task) (increase(hcc_job_runs_total{result=~\"timeout|panic\"}[1h]))\n\
                 # not a counter: hcc_source_up, nor hcc:rule_total_x\n\
                 expr: increase(hcc_escalations_sent_total[1h]) > 0";
    let got: Vec<_> = counter_selectors(rules)
        .into_iter()
        .map(|s| (s.name, s.wanted))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "hcc_job_runs_total".to_string(),
                vec![("result".to_string(), vec!["timeout".into(), "panic".into()])]
            ),
            ("hcc_escalations_sent_total".to_string(), vec![]),
        ]
    );
}

#[tokio::test]
async fn a_fresh_service_exports_every_counter_its_alerts_use_at_zero() {
    let rules_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts");
    let mut selectors = Vec::new();
    for entry in std::fs::read_dir(&rules_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml") {
            selectors.extend(counter_selectors(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    let names: BTreeSet<&str> = selectors.iter().map(|s| s.name.as_str()).collect();
    assert!(names.len() >= 5, "the rules use counters: {names:?}");

    let dir = tempfile::tempdir().unwrap();
    let config = example_with_sources_down(dir.path());
    let app = TestApp::spawn_with(config, dir).await;
    let (status, exposition) = app.get("/metrics").await;
    assert_eq!(status, 200);
    let samples = samples(&exposition);
    for selector in &selectors {
        let of_name: Vec<_> = samples
            .iter()
            .filter(|(n, _)| *n == selector.name)
            .map(|(_, l)| l)
            .collect();
        assert!(!of_name.is_empty(), "{} is absent", selector.name);
        // Each series the alert can see (e.g. every job) has each wanted value, not only some.
        let matched: BTreeSet<&str> = selector.wanted.iter().map(|(l, _)| l.as_str()).collect();
        let others = |labels: &BTreeMap<String, String>| -> Vec<(String, String)> {
            labels
                .iter()
                .filter(|(k, _)| !matched.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let groups: BTreeSet<_> = of_name.iter().map(|l| others(l)).collect();
        for group in &groups {
            for (label, values) in &selector.wanted {
                for value in values {
                    assert!(
                        of_name
                            .iter()
                            .any(|l| others(l) == *group && l.get(label) == Some(value)),
                        "{}{{{label}=\"{value}\"}} missing for {group:?}",
                        selector.name
                    );
                }
            }
        }
    }
    // The jobs' failure results start at 0, so the first one is an increase of 1.
    for (name, labels) in &samples {
        if name == "hcc_job_runs_total" && labels["result"] == "panic" {
            let series = format!(
                "hcc_job_runs_total{{result=\"panic\",task=\"{}\"}}",
                labels["task"]
            );
            assert_eq!(app.metric(&series).await, Some(0.0), "{series}");
        }
    }
    app.stop().await;
}
