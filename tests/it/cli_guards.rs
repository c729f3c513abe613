//! The binary never makes up an answer: a read-only command on a missing store, a misspelt
//! state filter, or a poll dated in the past is an error that says why.

use std::path::Path;

use crate::cli::{hcc, text};

/// A valid config whose SQLite store is `store` (not created by writing the config).
fn config_with_store(dir: &Path, store: &Path) -> std::path::PathBuf {
    let path = dir.join("hcc.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n[[source]]\nname = \"centre\"\n\
             url = \"sqlite://{}/centre.db\"\n\
             query = \"SELECT 1 WHERE updated_at >= :watermark\"\n",
            store.display(),
            dir.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn read_only_commands_on_a_missing_store_fail_naming_it_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("state").join("store.db");
    let config = config_with_store(dir.path(), &store);
    let config = config.to_str().unwrap();
    let commands: [&[&str]; 5] = [
        &["dossiers"],
        &["dossiers", "--format", "json"],
        &["report", "--period", "year"],
        &["handoffs"],
        &["outbox", "list"],
    ];
    for args in commands {
        let out = hcc(&[args, &["--config", config]].concat());
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stdout)
        );
        assert_eq!(text(&out.stdout), "", "{args:?}: no figures at all");
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("the store {} does not exist", store.display())),
            "{args:?}: {err}"
        );
        assert!(!store.exists(), "{args:?} created the store");
        assert!(
            !store.parent().unwrap().exists(),
            "{args:?} made its folder"
        );
    }
}

#[test]
fn a_read_only_command_on_a_store_that_was_never_migrated_says_to_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    std::fs::write(&store, "").unwrap();
    let config = config_with_store(dir.path(), &store);
    let out = hcc(&["dossiers", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("is not an up-to-date hcc-monitor store"),
        "{err}"
    );
    assert!(err.contains("run `hcc-monitor migrate` first"), "{err}");
}

#[test]
fn a_misspelt_state_filter_is_an_error_listing_the_valid_states() {
    let out = hcc(&["dossiers", "--config", "unused.toml", "--state", "overdu"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "unknown SLA state \"overdu\": expected on_track, at_risk, due_soon, overdue or paused"
        ),
        "{err}"
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn check_config_reads_the_file_from_the_flag_the_environment_or_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_store(dir.path(), &dir.path().join("store.db"));
    let valid = format!("{}: valid (1 sources)", config.display());
    let by_flag = hcc(&["check-config", "--config", config.to_str().unwrap()]);
    assert!(
        text(&by_flag.stdout).contains(&valid),
        "{}",
        text(&by_flag.stderr)
    );
    let by_env = std::process::Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .arg("check-config")
        .env("HCC_CONFIG", &config)
        .output()
        .unwrap();
    assert!(
        text(&by_env.stdout).contains(&valid),
        "{}",
        text(&by_env.stderr)
    );
    let by_argument = hcc(&["check-config", config.to_str().unwrap()]);
    assert!(text(&by_argument.stdout).contains(&valid));
    for out in [by_flag, by_env, by_argument] {
        assert!(out.status.success());
    }
    let neither = std::process::Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .arg("check-config")
        .env_remove("HCC_CONFIG")
        .output()
        .unwrap();
    assert_eq!(neither.status.code(), Some(1));
    assert!(text(&neither.stderr).contains("--config FILE, HCC_CONFIG, or FILE"));
}

#[test]
fn poll_once_refuses_to_record_a_live_poll_as_observed_in_the_past() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let config = config_with_store(dir.path(), &store);
    let out = hcc(&[
        "poll-once",
        "--config",
        config.to_str().unwrap(),
        "--as-of",
        "2026-03-04T10:00:00+07:00",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("poll-once --as-of 2026-03-04T03:00:00+00:00: a poll reads the sources"),
        "{err}"
    );
    assert!(
        err.contains("`dossiers --as-of` or `report --as-of`"),
        "{err}"
    );
    assert!(!store.exists(), "nothing polled, nothing stored");
}
