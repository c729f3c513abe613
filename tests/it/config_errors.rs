//! A table of bad config files and the exact problems each must report, all at once.

use std::path::Path;

use hcc_monitor::config::Config;

const GOOD_SOURCE: &str = r#"
[[source]]
name = "centre"
url = "postgres://reader@127.0.0.1/motcua"
query = "SELECT 1 WHERE x >= :watermark"
"#;

fn problems(text: &str) -> Vec<String> {
    let env = |name: &str| (name == "DB_PASSWORD").then(|| "pw".to_string());
    match Config::parse(Path::new("bad.toml"), text, env) {
        Ok(_) => vec![],
        Err(e) => e.problems(),
    }
}

#[test]
fn bad_config_files_report_every_problem_with_its_key() {
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "misspelt section and key",
            format!("[servce]\nlisten = \"x\"\n{GOOD_SOURCE}shedule = \"* * * * * *\"\n"),
            vec![
                "servce: unknown key (check its spelling and section)",
                "source[0].shedule: unknown key (check its spelling and section)",
            ],
        ),
        (
            "a source missing everything",
            "[[source]]\nschedule = \"0 * * * * *\"\n".into(),
            vec![
                "source[0].name: missing; every source needs a unique name",
                "source[0].url: missing; expected source[0].url = \"...\" or source[0].url_file",
                "source[0].query: missing; expected the SQL that returns the canonical columns",
            ],
        ),
        (
            "numeric weekdays and five-field cron",
            format!("{GOOD_SOURCE}schedule = \"0 30 8 * * 1-5\"\nresync_schedule = \"30 2 * * *\"\n"),
            vec![
                "source[0].schedule: \"0 30 8 * * 1-5\": write weekdays by name (Mon-Fri, Sat, Sun), not by number",
                "source[0].resync_schedule: \"30 2 * * *\" has 5 fields; expected 6: sec min hour day-of-month month day-of-week, e.g. \"0 */5 * * * *\" or \"0 0 8 * * Mon-Fri\"",
            ],
        ),
        (
            "two sources with one name",
            format!("{GOOD_SOURCE}{GOOD_SOURCE}"),
            vec!["source[1].name: \"centre\" is used by another source"],
        ),
        (
            "unknown database and bad zone",
            GOOD_SOURCE.replace("postgres://reader@", "oracle://reader:secret@")
                + "time_zone = \"Asia/Hanoi\"\n",
            vec![
                "source[0].url: oracle://***@127.0.0.1/motcua: unknown database; expected a URL starting with postgres://, mysql:// (also for MariaDB) or sqlite://",
                "source[0].time_zone: \"Asia/Hanoi\" is not an IANA time zone (e.g. \"Asia/Ho_Chi_Minh\")",
            ],
        ),
        (
            "unset environment variable, and a password given twice",
            GOOD_SOURCE.replace("reader@", "reader:${DB_PASSWORD}@")
                + "[service]\nbearer_token = \"${HCC_TOKEN}\"\n[store]\nurl = \"sqlite://x.db\"\nurl_file = \"/run/secrets/store\"\n",
            vec![
                "service.bearer_token: environment variable HCC_TOKEN is not set",
                "store.url: give either store.url or store.url_file, not both",
            ],
        ),
        (
            "status map naming a status that does not exist",
            format!("{GOOD_SOURCE}[source.status_map]\nDANG_XU_LY = \"processing\"\n"),
            vec!["source[0].status_map.DANG_XU_LY: \"processing\" is not a canonical status; expected one of: submitted, received, rejected_at_intake, in_progress, supplement_requested, awaiting_payment, withdrawn, stopped, resolved, returned"],
        ),
        (
            "timeouts that contradict each other, zero connections",
            format!("{GOOD_SOURCE}timeout_secs = 10\nstatement_timeout_secs = 30\nmax_connections = 0\n"),
            vec![
                "source[0].max_connections: must be greater than 0",
                "source[0].statement_timeout_secs: 30 is longer than timeout_secs (10); the server-side limit must not exceed the client-side one",
            ],
        ),
        (
            "a query that would read everything on every poll",
            GOOD_SOURCE.replace(" WHERE x >= :watermark", ""),
            vec!["source[0].query: has no :watermark placeholder; expected e.g. `WHERE updated_at >= :watermark` so that polls read only what changed"],
        ),
        (
            "service and store values",
            "[service]\nlisten = \"localhost\"\nbearer_token = \"short\"\n[store]\nurl = \"mysql://root@127.0.0.1/hcc\"\n".into(),
            vec![
                "service.listen: \"localhost\" is not a socket address; expected e.g. \"127.0.0.1:9464\"",
                "service.bearer_token: too short; use at least 16 characters",
                "store.url: mysql://***@127.0.0.1/hcc is not a store URL; expected sqlite://PATH or postgres://...",
            ],
        ),
    ];
    for (what, text, expected) in cases {
        let mut got = problems(&text);
        got.sort();
        let mut expected: Vec<String> = expected.into_iter().map(String::from).collect();
        expected.sort();
        assert_eq!(got, expected, "case: {what}\n--- file ---\n{text}");
    }
}

#[test]
fn syntax_and_type_errors_name_the_line_and_the_key() {
    let syntax = problems("[service\nlisten = 1");
    assert_eq!(syntax.len(), 1);
    assert!(
        syntax[0].starts_with("bad.toml: invalid TOML: "),
        "{syntax:?}"
    );
    assert!(syntax[0].contains("line 1"), "{syntax:?}");

    let wrong_type = problems(&format!("{GOOD_SOURCE}timeout_secs = \"ten\"\n"));
    assert_eq!(wrong_type.len(), 1);
    assert!(wrong_type[0].contains("timeout_secs"), "{wrong_type:?}");
    assert!(wrong_type[0].contains("line 6"), "{wrong_type:?}");
}

#[test]
fn secrets_never_appear_in_debug_output_or_errors() {
    let text = GOOD_SOURCE.replace("reader@", "reader:${DB_PASSWORD}@");
    let config = Config::parse(Path::new("ok.toml"), &text, |n| {
        (n == "DB_PASSWORD").then(|| "Tr0ub4dor&3".to_string())
    })
    .expect("valid");
    assert_eq!(
        config.sources[0].url.expose(),
        "postgres://reader:Tr0ub4dor&3@127.0.0.1/motcua"
    );
    assert!(!format!("{config:?}").contains("Tr0ub4dor"));
    assert_eq!(
        config.sources[0].display_url(),
        "postgres://***@127.0.0.1/motcua"
    );
    // A URL that is wrong in another way is shown redacted.
    let bad = text.replace("postgres://", "postgre://");
    let errors = Config::parse(Path::new("bad.toml"), &bad, |_| Some("Tr0ub4dor&3".into()))
        .expect_err("unknown scheme")
        .to_string();
    assert!(
        errors.contains("postgre://***@127.0.0.1/motcua"),
        "{errors}"
    );
    assert!(!errors.contains("Tr0ub4dor"), "{errors}");
}
