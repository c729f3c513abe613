//! The Grafana dashboards and the Prometheus rules, proven against the real metrics: the service
//! runs on demo data, a real Prometheus scrapes it every second with `alerts/*.yml` loaded, and
//! every PromQL expression of every dashboard panel and template variable, and every recording
//! rule, goes through Prometheus' HTTP API. Each must parse and return at least one series.
//! (`promtool check metrics` on the exposition is in http.rs; `promtool test rules` in
//! scripts/test.sh.)
//!
//! The demo's own probe targets run beside the service, so that the probe, software-error and
//! handoff panels have series too.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::{Connection, Executor};

use hcc_monitor::demo::targets::Targets;

use crate::helpers::app::{TestApp, demo_config, demo_databases, demo_targets};
use crate::helpers::eventually;
use crate::helpers::prometheus::{Answer, Prometheus, repo_path};

const DASHBOARDS: &[&str] = &[
    "dashboards/centre-overview.json",
    "dashboards/equipment-software.json",
    "dashboards/monitor-health.json",
];

/// Grafana's built-in variables, replaced as Grafana would for a one-hour view.
const BUILTINS: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("${__rate_interval}", "1m"),
    ("$__interval", "15s"),
    ("${__interval}", "15s"),
    ("$__range", "1h"),
    ("${__range}", "1h"),
];

fn load_dashboard(path: &str) -> Value {
    let text = std::fs::read_to_string(repo_path(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

fn variables(dashboard: &Value) -> Vec<&Value> {
    dashboard["templating"]["list"]
        .as_array()
        .map(|l| l.iter().collect())
        .unwrap_or_default()
}

/// Replaces `$name` and `${name}` of the dashboard's query variables with `.*` (all of them are
/// used in `=~` matchers) and Grafana's built-ins with fixed durations.
fn substitute(expr: &str, variable_names: &[String]) -> String {
    let mut out = expr.to_string();
    for (from, to) in BUILTINS {
        out = out.replace(from, to);
    }
    for name in variable_names {
        out = out.replace(&format!("${{{name}}}"), ".*");
        let token = format!("${name}");
        let mut replaced = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = rest.find(&token) {
            let after = &rest[i + token.len()..];
            let whole_name = !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
            replaced.push_str(&rest[..i]);
            replaced.push_str(if whole_name { ".*" } else { &token });
            rest = after;
        }
        replaced.push_str(rest);
        out = replaced;
    }
    assert!(
        !out.contains('$'),
        "unknown variable left in {expr:?} after substitution: {out:?}"
    );
    out
}

/// `label_values(selector, label)` as a query that returns one series per value.
fn label_values_query(definition: &str) -> String {
    let inner = definition
        .trim()
        .strip_prefix("label_values(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("variable query is not label_values(...): {definition}"));
    let (selector, label) = inner
        .rsplit_once(',')
        .unwrap_or_else(|| panic!("label_values without a metric: {definition}"));
    format!("count by ({}) ({})", label.trim(), selector.trim())
}

/// Where an expression comes from, and the expression itself.
struct Check {
    origin: String,
    expr: String,
}

fn dashboard_checks() -> Vec<Check> {
    let mut checks = Vec::new();
    for path in DASHBOARDS {
        let d = load_dashboard(path);
        let vars = variables(&d);
        let names: Vec<String> = vars
            .iter()
            .filter(|v| v["type"] == "query")
            .filter_map(|v| v["name"].as_str().map(String::from))
            .collect();
        for v in vars.iter().filter(|v| v["type"] == "query") {
            let definition = v["definition"].as_str().expect("query variable definition");
            checks.push(Check {
                origin: format!("{path}: variable ${}", v["name"].as_str().unwrap_or("?")),
                expr: substitute(&label_values_query(definition), &names),
            });
        }
        for p in panels(&d) {
            for t in p["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"].as_str().expect("every target has an expr");
                checks.push(Check {
                    origin: format!(
                        "{path}: panel {:?} ({})",
                        p["title"].as_str().unwrap_or("?"),
                        t["refId"].as_str().unwrap_or("?")
                    ),
                    expr: substitute(expr, &names),
                });
            }
        }
    }
    // `... or vector(0)` returns a series whatever the left side selects, so every metric that an
    // expression names must exist on its own too.
    let mut names: Vec<String> = checks.iter().flat_map(|c| metric_names(&c.expr)).collect();
    names.sort();
    names.dedup();
    for name in names {
        checks.push(Check {
            origin: format!("metric {name} used by a dashboard"),
            expr: format!("count({{__name__=\"{name}\"}})"),
        });
    }
    checks
}

/// The hcc and process metric names (and recorded series) an expression mentions.
fn metric_names(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| t.starts_with("hcc_") || t.starts_with("hcc:") || t.starts_with("process_"))
        .map(String::from)
        .collect()
}

#[test]
fn every_dashboard_takes_its_datasource_from_a_variable_and_filters_by_job_and_instance() {
    let mut uids = HashSet::new();
    for path in DASHBOARDS {
        let d = load_dashboard(path);
        assert!(
            d["schemaVersion"].as_i64().unwrap_or(0) >= 36,
            "{path}: schemaVersion"
        );
        assert!(
            uids.insert(d["uid"].as_str().unwrap_or("").to_string()),
            "{path}: uid shared with another dashboard"
        );
        assert!(
            d["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "hcc-monitor")),
            "{path}: the hcc-monitor tag links the dashboards together"
        );
        let vars = variables(&d);
        let var = |name: &str| vars.iter().find(|v| v["name"] == name).copied();
        let ds = var("datasource").unwrap_or_else(|| panic!("{path}: no datasource variable"));
        assert_eq!(ds["type"], "datasource", "{path}");
        assert_eq!(ds["query"], "prometheus", "{path}");
        for name in ["job", "instance", "source"] {
            let v = var(name).unwrap_or_else(|| panic!("{path}: no ${name} variable"));
            assert_eq!(v["type"], "query", "{path}: ${name}");
            assert_eq!(v["datasource"]["uid"], "${datasource}", "{path}: ${name}");
        }
        let mut ids = HashSet::new();
        for p in panels(&d) {
            let title = p["title"].as_str().unwrap_or("?");
            assert!(
                ids.insert(p["id"].as_i64().expect("panel id")),
                "{path}: panel id of {title:?} repeated"
            );
            if p["type"] == "row" {
                continue;
            }
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{path}: {title:?}");
            let targets = p["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{path}: {title:?} has no query");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{path}: {title:?}");
                let expr = t["expr"].as_str().unwrap_or("");
                for sel in ["job=~\"$job\"", "instance=~\"$instance\""] {
                    assert!(
                        expr.contains(sel),
                        "{path}: {title:?}: every selector filters by job and instance: {expr}"
                    );
                }
            }
        }
    }
    let centre = load_dashboard("dashboards/centre-overview.json");
    assert!(
        variables(&centre).iter().any(|v| v["name"] == "department"),
        "the centre overview filters by department"
    );
}

/// The rule file read line by line: enough for names and runbook links without a YAML parser.
fn alert_names_and_runbooks() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_path("alerts/hcc-monitor.rules.yml")).unwrap();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- alert:") {
            current = Some(name.trim().to_string());
        } else if let Some(url) = line.strip_prefix("runbook_url:") {
            let name = current.clone().expect("runbook_url inside an alert");
            out.push((name, url.trim().trim_matches('"').to_string()));
        }
    }
    out
}

#[test]
fn every_alert_links_to_its_runbook_section_and_has_tests_that_fire_and_stay_quiet() {
    let runbooks = std::fs::read_to_string(repo_path("docs/runbooks.md")).unwrap();
    let anchors: HashSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    let mut tests = String::new();
    for entry in std::fs::read_dir(repo_path("alerts/tests")).unwrap() {
        tests.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    let test_lines: Vec<&str> = tests.lines().map(str::trim).collect();
    let alerts = alert_names_and_runbooks();
    assert!(alerts.len() >= 15, "alerts found: {alerts:?}");
    for (name, url) in alerts {
        let anchor = url
            .strip_prefix("docs/runbooks.md#")
            .unwrap_or_else(|| panic!("{name}: runbook_url {url} is not docs/runbooks.md#..."));
        assert_eq!(anchor, name.to_lowercase(), "{name}: anchor");
        assert!(
            anchors.contains(anchor),
            "{name}: no '## {name}' section in docs/runbooks.md"
        );
        let mut fires = false;
        let mut quiet = false;
        for w in test_lines.windows(2) {
            if w[0] == format!("alertname: {name}") {
                fires |= w[1] == "exp_alerts:";
                quiet |= w[1] == "exp_alerts: []";
            }
        }
        assert!(
            fires && quiet,
            "{name}: alerts/tests needs a case where it fires ({fires}) and one where it does not ({quiet})"
        );
    }
}

#[test]
fn the_example_alertmanager_config_routes_every_team_to_a_defined_receiver() {
    // amtool is not installed by scripts/test-deps.sh; this reads the file line by line instead.
    let text =
        std::fs::read_to_string(repo_path("alerts/alertmanager/alertmanager.example.yml")).unwrap();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let defined: HashSet<&str> = lines
        .iter()
        .skip_while(|l| **l != "receivers:")
        .filter_map(|l| l.strip_prefix("- name:"))
        .map(str::trim)
        .collect();
    let used: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("receiver:"))
        .map(str::trim)
        .collect();
    assert!(!used.is_empty() && !defined.is_empty());
    for r in &used {
        assert!(
            defined.contains(r),
            "receiver {r} is routed to but not defined"
        );
    }
    let rules = std::fs::read_to_string(repo_path("alerts/hcc-monitor.rules.yml")).unwrap();
    let teams: HashSet<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("team:"))
        .map(str::trim)
        .collect();
    assert_eq!(teams.len(), 3, "{teams:?}");
    for team in teams {
        assert!(
            text.contains(&format!("team=\"{team}\"")),
            "no route for team {team}"
        );
    }
}

/// The service on the demo's databases (600 dossiers) and probe targets, polled, probed and
/// evaluated every second, with procedure labels on and, in the source, one dossier re-appointed
/// twice and one without any deadline, so that every dossier series exists.
///
/// The service's clock is fixed on a working Wednesday in the middle of a month: on the real
/// clock, the first hours of a day, a month or a year have nothing resolved yet, and the day, month
/// and on-time-rate panels would rightly show nothing.
async fn spawn_app_on_demo_data() -> (TestApp, Targets) {
    let as_of: chrono::DateTime<chrono::Utc> = "2026-03-18T03:00:00Z".parse().unwrap();
    let app_dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/source.db?mode=rwc", app_dir.path().display());
    let tz = chrono_tz::Asia::Ho_Chi_Minh;
    demo_databases(app_dir.path(), 600, as_of).await;
    let targets = demo_targets().await;
    let config = demo_config(app_dir.path(), targets.addrs(), |text| {
        let edited = text
            .replacen("[[source]]\n", "[[source]]\nprocedure_labels = true\n", 1)
            .replace("\"*/10 * * * * *\"", "\"* * * * * *\"");
        assert!(edited.contains("schedule = \"* * * * * *\""), "{edited}");
        edited
    });
    let app = TestApp::start(
        config,
        Arc::new(hcc_monitor::clock::FixedClock(as_of)),
        Some(app_dir),
    )
    .await;
    let has = |body: &str, prefix: &str| {
        body.lines().any(|l| {
            l.starts_with(prefix)
                && l.rsplit(' ')
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .is_some_and(|v| v >= 1.0)
        })
    };
    eventually("dossiers evaluated", Duration::from_secs(30), || async {
        has(&app.get("/metrics").await.1, "hcc_dossiers_open{")
    })
    .await;

    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let (id,): (String,) = sqlx::query_as(
        "SELECT ma_ho_so FROM ho_so WHERE trang_thai = 'DANG_XU_LY' AND ngay_hen_tra IS NOT NULL \
         ORDER BY ma_ho_so LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    // Later than every generated row, so that the incremental poll reads the change.
    let local = |minutes: i64| {
        (as_of.with_timezone(&tz) + chrono::Duration::minutes(minutes))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let reappoint = |days: i64, updated: String| {
        sqlx::query(
            "UPDATE ho_so SET ngay_hen_tra = datetime(ngay_hen_tra, $1), ngay_cap_nhat = $2 \
             WHERE ma_ho_so = $3",
        )
        .bind(format!("+{days} days"))
        .bind(updated)
        .bind(id.clone())
    };
    conn.execute(reappoint(1, local(1))).await.unwrap();
    conn.execute(
        sqlx::query(
            "INSERT INTO ho_so SELECT 'KHONG-HAN-1', 'KHONG_CO_THOI_HAN', ten_thu_tuc, ma_don_vi, \
             kenh_nop, ngay_tiep_nhan, NULL, NULL, 'DANG_XU_LY', $1 FROM ho_so WHERE ma_ho_so = $2",
        )
        .bind(local(1))
        .bind(id.clone()),
    )
    .await
    .unwrap();
    eventually(
        "a due-date change counted",
        Duration::from_secs(30),
        || async {
            has(
                &app.get("/metrics").await.1,
                "hcc_dossier_due_changes_total{",
            )
        },
    )
    .await;
    conn.execute(reappoint(2, local(2))).await.unwrap();
    eventually(
        "a second re-appointment and a dossier without deadline counted",
        Duration::from_secs(30),
        || async {
            let body = app.get("/metrics").await.1;
            has(&body, "hcc_dossiers_reappointed_more_than_once{")
                && has(&body, "hcc_dossiers_without_deadline{")
        },
    )
    .await;
    (app, targets)
}

fn rule_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_path("alerts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn every_dashboard_query_and_recording_rule_returns_series_from_a_real_prometheus() {
    let (app, _targets) = spawn_app_on_demo_data().await;
    let prometheus = Prometheus::start("hcc-monitor", app.addr, &rule_files()).await;
    let p = &prometheus;
    // Five scrapes, so that rate() and increase() over a minute have samples to work with.
    p.wait_for(
        "five scrapes of the app",
        Duration::from_secs(60),
        || async {
            p.count(
                r#"count_over_time(up{job="hcc-monitor"}[1m]) >= 5 and up{job="hcc-monitor"} == 1"#,
            )
            .await
                == 1
        },
    )
    .await;

    // Every rule loaded and evaluated without error; alerts carry what routing and on-call need.
    p.wait_for("every rule evaluated", Duration::from_secs(30), || async {
        p.rule_groups().await.iter().all(|g| {
            g["rules"]
                .as_array()
                .is_some_and(|r| r.iter().all(|r| r["health"] == "ok"))
        })
    })
    .await;
    let groups = p.rule_groups().await;
    let mut checks = dashboard_checks();
    let mut alerts = 0;
    for g in &groups {
        for rule in g["rules"].as_array().into_iter().flatten() {
            let name = rule["name"].as_str().unwrap_or("?");
            assert_eq!(rule["health"], "ok", "{name}: {}", rule["lastError"]);
            if rule["type"] == "recording" {
                let query = rule["query"].as_str().expect("rule query");
                checks.push(Check {
                    origin: format!("recording rule {name} (its expression)"),
                    expr: query.to_string(),
                });
                let labels: Vec<String> = rule["labels"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                checks.push(Check {
                    origin: format!("recording rule {name} (the recorded series)"),
                    expr: format!("{name}{{{}}}", labels.join(",")),
                });
            } else {
                alerts += 1;
                let labels = &rule["labels"];
                assert!(
                    ["critical", "warning", "info"]
                        .contains(&labels["severity"].as_str().unwrap_or("")),
                    "{name}: severity {}",
                    labels["severity"]
                );
                assert!(
                    ["supervisors", "it", "leaders"]
                        .contains(&labels["team"].as_str().unwrap_or("")),
                    "{name}: team {}",
                    labels["team"]
                );
                for a in ["summary", "description", "runbook_url"] {
                    assert!(
                        rule["annotations"][a]
                            .as_str()
                            .is_some_and(|s| !s.is_empty()),
                        "{name}: annotation {a}"
                    );
                }
            }
        }
    }
    assert!(alerts >= 15, "alerting rules loaded: {alerts}");

    let mut failed = Vec::new();
    for check in &checks {
        match p.query(&check.expr).await {
            Answer::Failed(status, body) => failed.push(format!(
                "{}\n    {}\n    HTTP {status}: {body}",
                check.origin, check.expr
            )),
            Answer::Series(series) if series.is_empty() => failed.push(format!(
                "{}\n    {}\n    no series",
                check.origin, check.expr
            )),
            Answer::Series(_) => {}
        }
    }
    eprintln!(
        "{} expressions checked against Prometheus: {} returned series, {} failed",
        checks.len(),
        checks.len() - failed.len(),
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "expressions that failed or returned no series:\n  {}",
        failed.join("\n  ")
    );
    drop(prometheus);
    app.stop().await;
}
