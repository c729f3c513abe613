//! The example configuration at the repository root is documentation that cannot drift: it
//! must parse, and the service must run with it.

use std::path::Path;

use hcc_monitor::config::{
    Config, HA_LEASE_SECS, HA_RENEW_SECS, HaConfig, MAX_DEPARTMENT_LABELS, MAX_PROCEDURE_LABELS,
    MetricsConfig, Secret,
};

use crate::helpers::app::TestApp;

pub(crate) fn example() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("hcc-monitor.example.toml");
    let text = std::fs::read_to_string(&path).expect("example config exists");
    Config::parse(&path, &text, |name| Some(format!("secret-of-{name}")))
        .unwrap_or_else(|e| panic!("the example config must be valid:\n{e}"))
}

#[test]
fn the_example_config_parses_with_every_section() {
    let config = example();
    assert_eq!(config.service.listen.to_string(), "127.0.0.1:9464");
    assert!(config.sources.len() >= 2);
    assert!(
        config.sources[0]
            .url
            .expose()
            .contains("secret-of-HCC_CENTRE_DB_PASSWORD"),
        "secrets come from the environment"
    );
    assert!(config.calendar.covered_until().is_some());
    assert!(config.sources[0].procedure_labels);
    assert_eq!(
        config.metrics,
        MetricsConfig {
            max_procedure_labels: MAX_PROCEDURE_LABELS,
            max_department_labels: MAX_DEPARTMENT_LABELS,
        },
        "the example shows the defaults"
    );
    assert_eq!(
        config.ha,
        HaConfig {
            lease: std::time::Duration::from_secs(HA_LEASE_SECS),
            renew: std::time::Duration::from_secs(HA_RENEW_SECS),
        },
        "the example shows the defaults"
    );
    assert_eq!(config.reporting.period_start_day.get(), 15);
    let start_day = |name: &str| {
        let r = config.notify.reports.iter().find(|r| r.name == name);
        r.map(|r| r.period_start_day.get())
    };
    assert_eq!(start_day("monthly"), Some(15), "[reporting]'s cut-off");
    assert_eq!(start_day("yearly-766"), Some(1), "the report's own");
}

/// The example config on a free port with its store in `dir` and its sources pointing at
/// databases that do not exist here.
pub(crate) fn example_with_sources_down(dir: &Path) -> Config {
    let mut config = example();
    config.service.listen = "127.0.0.1:0".parse().unwrap();
    config.store.url = Secret::new(format!("sqlite://{}/store.db", dir.display()));
    for s in &mut config.sources {
        s.url = Secret::new(
            s.url
                .expose()
                .replace("/motcua", "/hcc_absent_db")
                .replace("/qlhs", "/hcc_absent_db"),
        );
    }
    config
}

#[tokio::test]
async fn the_service_runs_with_the_example_config_even_with_its_sources_down() {
    let dir = tempfile::tempdir().unwrap();
    // Each source must be reported down, alone.
    let config = example_with_sources_down(dir.path());
    let names: Vec<String> = config.sources.iter().map(|s| s.name.clone()).collect();
    let app = TestApp::spawn_with(config, dir).await;
    for name in names {
        let series = format!("hcc_source_up{{source=\"{name}\"}}");
        crate::helpers::eventually(&series, std::time::Duration::from_secs(15), || async {
            app.metric(&format!(
                "hcc_source_poll_errors_total{{kind=\"connect\",source=\"{name}\"}}"
            ))
            .await
            .unwrap_or(0.0)
                >= 1.0
        })
        .await;
        assert_eq!(app.metric(&series).await, Some(0.0));
    }
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
    app.stop().await;
}

#[test]
fn the_packaged_config_is_valid_as_shipped_and_keeps_its_state_in_the_state_directory() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/debian/hcc-monitor.toml");
    let text = std::fs::read_to_string(&path).expect("packaged config exists");
    // As installed: no environment variable set, nothing to fill in before the first start.
    let config = Config::parse(&path, &text, |_| None)
        .unwrap_or_else(|e| panic!("the packaged config must be valid as shipped:\n{e}"));
    assert_eq!(
        config.store.url.expose(),
        "sqlite:///var/lib/hcc-monitor/store.db"
    );
    assert_eq!(config.service.listen.to_string(), "127.0.0.1:9464");
    assert!(config.sources.is_empty());
}
