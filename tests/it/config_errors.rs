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
            "numeric extremes that once overflowed a Duration, SQLite or an allocation",
            format!(
                "{GOOD_SOURCE}timeout_secs = 9223372036854775808\nconnect_timeout_secs = 9223372036854775807\n\
                 max_connections = 4294967295\n{}timeout_secs = 4294967295\n{}timeout_secs = 1000000000000000\n",
                GOOD_SOURCE.replace("\"centre\"", "\"lite\"").replace("postgres://reader@127.0.0.1/motcua", "sqlite://so.db"),
                GOOD_SOURCE.replace("\"centre\"", "\"third\"")
            ),
            vec![
                "source[0].max_connections: 4294967295 is out of range; allowed 1 to 1000",
                "source[0].timeout_secs: 9223372036854775808 is out of range; allowed 1 to 86400",
                "source[0].connect_timeout_secs: 9223372036854775807 is out of range; allowed 1 to 86400",
                "source[1].timeout_secs: 4294967295 is out of range; allowed 1 to 86400",
                "source[2].timeout_secs: 1000000000000000 is out of range; allowed 1 to 86400",
            ],
        ),
        (
            "store, SLA, mail and watermark extremes",
            format!(
                "[store]\nmax_connections = 4294967295\nsource_connections = 0\n\
                 [sla]\ndue_soon_working_hours = 4294967295\n\
                 [mail]\ntransport = \"smtp\"\nhost = \"127.0.0.1\"\ntls = \"plain\"\n\
                 from = \"hcc <hcc@example.gov.vn>\"\nport = 0\n\
                 timeout_secs = 18446744073709551615\npool_size = 4294967295\n\
                 retry_initial_secs = 3601\n\
                 max_attempts = 4294967295\n\
                 {GOOD_SOURCE}watermark_overlap_secs = 18446744073709551615\n"
            ),
            vec![
                "store.max_connections: 4294967295 is out of range; allowed 1 to 1000",
                "store.source_connections: must be greater than 0",
                "sla.due_soon_working_hours: 4294967295 is out of range; allowed 0 to 10000",
                "mail.port: must be greater than 0",
                "mail.timeout_secs: 18446744073709551615 is out of range; allowed 1 to 86400",
                "mail.pool_size: 4294967295 is out of range; allowed 1 to 1000",
                "mail.max_attempts: 4294967295 is out of range; allowed 1 to 1000",
                "mail.retry_initial_secs: 3601 is more than retry_max_secs (3600, the default); allowed up to retry_max_secs",
                "source[0].watermark_overlap_secs: 18446744073709551615 is out of range; allowed 0 to 86400",
            ],
        ),
        (
            "a query that would read everything on every poll",
            GOOD_SOURCE.replace(" WHERE x >= :watermark", ""),
            vec!["source[0].query: has no :watermark placeholder; expected e.g. `WHERE updated_at >= :watermark` so that polls read only what changed"],
        ),
        (
            "stage queries that would read every event on every poll, or nothing",
            format!(
                "{GOOD_SOURCE}stage_query = \"SELECT ma AS dossier_id, buoc AS stage, vao AS entered_at FROM buoc\"\n\
                 {}stage_query = \"  \"\n",
                GOOD_SOURCE.replace("\"centre\"", "\"so-xay-dung\"")
            ),
            vec![
                "source[0].stage_query: has no :watermark placeholder; expected e.g. `WHERE entered_at >= :watermark` so that polls read only what changed",
                "source[1].stage_query: is empty; expected the SQL that returns dossier_id, stage and entered_at, or leave the key out",
            ],
        ),
        (
            "calendar, SLA and catalogue values",
            format!(
                "[calendar]\nsessions = [\"13:30-12:00\"]\n[sla]\nat_risk_fraction = 1.5\n\
                 [catalogue.procedures]\n\"1.001234\" = \"10 workdays\"\n\
                 \"2.000815\" = {{ time = \"same day\", next_day_after = \"3pm\" }}\n{GOOD_SOURCE}"
            ),
            vec![
                "calendar.sessions[0]: \"13:30-12:00\" ends before it starts; expected HH:MM-HH:MM with start < end",
                "catalogue.procedures.1.001234: \"10 workdays\" is not a statutory time; expected \"N working days\", \"N working hours\", \"N calendar days\" with N >= 1, or \"same day\"",
                "catalogue.procedures.2.000815.next_day_after: \"3pm\" is not a time of day; expected HH:MM, e.g. \"15:00\"",
                "sla.at_risk_fraction: 1.5 is out of range; expected a fraction in (0, 1]",
            ],
        ),
        (
            "a source that computes every due date with an empty catalogue",
            format!("{GOOD_SOURCE}compute_due = true\n"),
            vec!["source[0].compute_due: is true but the catalogue has no procedures; expected [catalogue] procedures or file"],
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
        (
            "escalation levels that cannot work",
            "[recipients]\ncentre_director = [\"giam-doc\"]\n\
             [[escalation.level]]\nname = \"truong phong\"\nnotify = [\"director\"]\n\
             sla_state = \"late\"\nrepeat_every_working_hours = 0\n\
             [[escalation.level]]\nname = \"leaders\"\nfraction_used_at_least = 0.0\n\
             digest_schedule = \"0 0 8 * * 1-5\"\n".into(),
            vec![
                "recipients.centre_director: \"giam-doc\" is not an email address (Missing domain or user); expected e.g. \"ten@so-tp.gov.vn\"",
                "escalation.level[0].name: \"truong phong\": use letters, digits, '-' and '_' only (it becomes a metric label)",
                "escalation.level[0].sla_state: \"late\": expected \"at_risk\", \"due_soon\" or \"overdue\"",
                "escalation.level[0].name: the level has no condition; expected at least one of sla_state, working_hours_left_at_most, fraction_used_at_least, due_today (any of them applies)",
                "escalation.level[0].notify: \"director\" is not a role; expected one of: department_head, centre_director, province_leaders, it_team",
                "escalation.level[0].notify: the level tells nobody; expected notify roles or addresses",
                "escalation.level[0].repeat_every_working_hours: must be greater than 0; leave it out for a level that is sent once",
                "escalation.level[1].fraction_used_at_least: 0 must be greater than 0 (1.0 = all the allowed time used)",
                "escalation.level[1].name: the level has no condition; expected at least one of sla_state, working_hours_left_at_most, fraction_used_at_least, due_today (any of them applies)",
                "escalation.level[1].notify: the level tells nobody; expected notify roles or addresses",
                "escalation.level[1].digest_schedule: \"0 0 8 * * 1-5\": write weekdays by name (Mon-Fri, Sat, Sun), not by number",
            ],
        ),
        (
            "plain SMTP to a remote host, a password without a user, a report to nobody",
            "[mail]\ntransport = \"smtp\"\nhost = \"mail.example.gov.vn\"\ntls = \"plain\"\n\
             password = \"${SMTP_PASSWORD}\"\nretry_initial_secs = 600\nretry_max_secs = 60\n\
             [[report]]\nname = \"daily\"\nperiod = \"fortnight\"\n".into(),
            vec![
                "mail.from: missing; expected the sender, e.g. \"TTHCC tỉnh <tthcc@example.gov.vn>\"",
                "mail.tls: \"plain\" sends mail and passwords unencrypted: allowed only for a relay on this machine (localhost, 127.0.0.1, ::1), not \"mail.example.gov.vn\"; use \"starttls\" or \"implicit\"",
                "mail.password: environment variable SMTP_PASSWORD is not set",
                "mail.retry_max_secs: 60 is less than retry_initial_secs (600)",
                "report[0].period: \"fortnight\": expected day, week, month, quarter or year",
                "report[0].schedule: missing; expected a cron schedule, e.g. \"0 30 16 * * Mon-Fri\"",
                "report[0].recipients: the report goes to nobody; expected recipients or notify roles",
            ],
        ),
        (
            "department codes written as names, label limits out of range",
            "[departments]\n\"Sở Xây dựng\" = \"Sở Xây dựng\"\nSO_TU_PHAP = \"Sở Tư pháp\"\n\
             [recipients.department_heads]\n\"SO TU PHAP\" = [\"tp@so-tuphap.example.gov.vn\"]\n\
             [metrics]\nmax_procedure_labels = 0\nmax_department_labels = 20000\n".into(),
            vec![
                "departments.Sở Xây dựng: \"Sở Xây dựng\" is not a department code (letters, digits, '_', '-', '.', '/', at most 64 characters); use the code the sources send, e.g. SO_XAY_DUNG = \"Sở Xây dựng\" in [departments]",
                "recipients.department_heads.SO TU PHAP: \"SO TU PHAP\" is not a department code (letters, digits, '_', '-', '.', '/', at most 64 characters); use the code the sources send, e.g. SO_XAY_DUNG = \"Sở Xây dựng\" in [departments]",
                "metrics.max_procedure_labels: must be greater than 0",
                "metrics.max_department_labels: 20000 is out of range; allowed 1 to 10000",
            ],
        ),
        (
            "reporting cut-off days outside 1-28, and one on a weekly report",
            "[reporting]\nperiod_start_day = 31\n\
             [[report]]\nname = \"weekly\"\nperiod = \"week\"\nperiod_start_day = 15\n\
             schedule = \"0 0 16 * * Fri\"\nnotify = [\"centre_director\"]\n\
             [[report]]\nname = \"monthly\"\nperiod = \"month\"\nperiod_start_day = 0\n\
             schedule = \"0 0 16 14 * *\"\nnotify = [\"centre_director\"]\n"
                .into(),
            vec![
                "reporting.period_start_day: 31 is out of range; allowed 1 (calendar months) to 28 (e.g. 15: from the 15th of the previous month to the 14th)",
                "report[0].period_start_day: only meaningful with period = \"month\", \"quarter\" or \"year\"",
                "report[1].period_start_day: 0 is out of range; allowed 1 (calendar months) to 28 (e.g. 15: from the 15th of the previous month to the 14th)",
            ],
        ),
        (
            "SMTP keys with the file transport, an unknown transport",
            "[mail]\nhost = \"127.0.0.1\"\nusername = \"u\"\n".into(),
            vec![
                "mail.host: only meaningful with transport = \"smtp\"",
                "mail.username: only meaningful with transport = \"smtp\"",
            ],
        ),
    ];
    assert_table(cases);
}

/// Each case's file reports exactly its expected problems, in any order.
fn assert_table<S: Into<String>>(cases: Vec<(&str, String, Vec<S>)>) {
    for (what, text, expected) in cases {
        let mut got = problems(&text);
        got.sort();
        let mut expected: Vec<String> = expected.into_iter().map(Into::into).collect();
        expected.sort();
        assert_eq!(got, expected, "case: {what}\n--- file ---\n{text}");
    }
}

#[test]
fn bad_tls_files_passwords_and_open_listeners_report_exact_problems() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = crate::helpers::tls::TestCa::new().issue(dir.path());
    let not_pem = dir.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "-----BEGIN NOTHING-----\n").unwrap();
    let missing = dir.path().join("missing-key.pem");
    let tls = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "[service.tls_server_config]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            cert.display(),
            key.display()
        )
    };
    let cases = vec![
        (
            "a key file that does not exist",
            tls(&good.cert_file, &missing),
            vec![format!(
                "service.tls_server_config.key_file: cannot read {}: No such file or directory (os error 2)",
                missing.display()
            )],
        ),
        (
            "a certificate file that holds no certificate",
            tls(&not_pem, &good.key_file),
            vec![format!(
                "service.tls_server_config.cert_file: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                not_pem.display()
            )],
        ),
        (
            "a key file that holds the certificate",
            tls(&good.cert_file, &good.cert_file),
            vec![format!(
                "service.tls_server_config.key_file: {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                good.cert_file.display()
            )],
        ),
        (
            "a TLS table without its files",
            "[service.tls_server_config]\n".into(),
            vec![
                "service.tls_server_config.cert_file: missing; expected the PEM file's path, e.g. /etc/hcc-monitor/cert_file.pem".to_string(),
                "service.tls_server_config.key_file: missing; expected the PEM file's path, e.g. /etc/hcc-monitor/key_file.pem".to_string(),
            ],
        ),
        (
            "a password where its bcrypt hash belongs, a user name with a colon",
            "[service.basic_auth_users]\nalice = \"correct horse\"\n\"bob:x\" = \"$2y$04$abcdefghijklmnopqrstuu5Wz4iDdCmQdSYM2xRyzGvPAgRaxm1yS\"\n".into(),
            vec![
                "service.basic_auth_users.alice: not a bcrypt hash; expected \"$2y$10$...\" as `htpasswd -nBC 10 USER` prints it after the colon".to_string(),
                "service.basic_auth_users.bob:x: a user name must be non-empty and without ':'".to_string(),
            ],
        ),
        (
            "listening on every interface without credentials, an unknown log format",
            "[service]\nlisten = \"0.0.0.0:9464\"\nlog_format = \"xml\"\n".into(),
            vec![
                "service.listen: 0.0.0.0:9464 is reachable from other machines but needs no credentials; set bearer_token or basic_auth_users, listen on 127.0.0.1, or set allow_unauthenticated = true".to_string(),
                "service.log_format: \"xml\": expected \"text\" or \"json\"".to_string(),
            ],
        ),
        (
            "listening on every interface, open on purpose or with a password",
            "[service]\nlisten = \"[::]:9464\"\nallow_unauthenticated = true\n".into(),
            vec![],
        ),
        (
            "listening on every interface with a password",
            format!(
                "[service]\nlisten = \"0.0.0.0:9464\"\n[service.basic_auth_users]\nalice = \"{}\"\n",
                bcrypt::hash("correct horse", 4).unwrap()
            ),
            vec![],
        ),
    ];
    assert_table(cases);
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
fn type_errors_in_any_section_come_with_their_key_and_every_other_problem() {
    let text = format!(
        "[service]\nlisten = \"nowhere\"\n\
         [calendar]\nbuiltin = \"yes\"\n\
         [sla]\nat_risk_fraction = \"high\"\n\
         [catalogue.procedures]\nP1 = 3\nP2 = \"3 working days\"\n\
         {GOOD_SOURCE}timeout_secs = \"ten\"\nshedule = \"* * * * * *\"\n\
         [[probe]]\nname = \"portal\"\ngroup = \"web\"\nkind = \"http\"\nurl = \"http://127.0.0.1/\"\n\
         valid_status_codes = [\"200\"]\n"
    );
    let got = problems(&text);
    for expected in [
        "calendar.builtin: invalid type: string \"yes\", expected a boolean (line 4)",
        "sla.at_risk_fraction: invalid type: string \"high\", expected f64 (line 6)",
        "catalogue.procedures.P1: expected a statutory time such as \"3 working days\", or a table",
        "source[0].timeout_secs: invalid type: string \"ten\", expected u64 (line 15)",
        "probe[0].valid_status_codes[0]: invalid type: string \"200\", expected u16",
        "source[0].shedule: unknown key (check its spelling and section)",
        "service.listen: \"nowhere\" is not a socket address",
    ] {
        assert!(
            got.iter().any(|p| p.starts_with(expected)),
            "missing {expected:?} in {got:#?}"
        );
    }
    assert_eq!(got.len(), 7, "one problem each: {got:#?}");
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

#[test]
fn the_example_config_is_valid_and_says_what_the_code_does() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("hcc-monitor.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = Config::parse(&path, &text, |_| Some("from-the-environment".to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.sources.len(), 2);
    assert_eq!(
        config.service.log_format,
        hcc_monitor::config::LogFormat::Text
    );
    // The commented-out web keys are written as the file expects them.
    let dir = tempfile::tempdir().unwrap();
    let (tls, _) = crate::helpers::tls::TestCa::new().issue(dir.path());
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let web = text
        .replace("# basic_auth_users = ", "basic_auth_users = ")
        .replace("$2y$10$...", &hash)
        .replace("# tls_server_config = ", "tls_server_config = ")
        .replace(
            "/etc/hcc-monitor/tls/cert.pem",
            tls.cert_file.to_str().unwrap(),
        )
        .replace(
            "/etc/hcc-monitor/tls/key.pem",
            tls.key_file.to_str().unwrap(),
        )
        .replace("listen = \"127.0.0.1:9464\"", "listen = \"0.0.0.0:9464\"");
    let web = Config::parse(&path, &web, |_| Some("from-the-environment".to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        web.service.basic_auth_users.hash("prometheus"),
        Some(hash.as_str())
    );
    assert_eq!(web.service.tls, Some(tls));
    let notify = &config.notify;
    let levels: Vec<&str> = notify.levels.iter().map(|l| l.rule.name.as_str()).collect();
    assert_eq!(
        levels,
        ["department_head", "centre_director", "province_leaders"]
    );
    assert_eq!(notify.reports.len(), 3);
    assert_eq!(notify.department_name("SO_TU_PHAP"), "Sở Tư pháp");
    match &notify.mail.transport {
        hcc_monitor::config::Transport::Smtp(smtp) => {
            assert_eq!(smtp.tls, hcc_monitor::config::SmtpTls::StartTls);
            assert_eq!(smtp.port, 587);
        }
        other => panic!("expected smtp, got {other:?}"),
    }
}

#[test]
fn relative_paths_are_read_against_the_config_folder_and_state_under_the_state_directory() {
    let parse = |text: &str, state: Option<&str>| {
        Config::parse(Path::new("/etc/hcc/hcc.toml"), text, |name| {
            (name == "STATE_DIRECTORY")
                .then(|| state.map(String::from))
                .flatten()
        })
    };
    let store = |url: &str, state: Option<&str>| {
        parse(&format!("[store]\nurl = \"{url}\"\n"), state)
            .unwrap_or_else(|e| panic!("{e}"))
            .store
            .url
            .expose()
            .to_string()
    };
    assert_eq!(
        store("sqlite://data/s.db?mode=rwc", None),
        "sqlite:///etc/hcc/data/s.db?mode=rwc"
    );
    assert_eq!(store("sqlite:s.db", None), "sqlite:///etc/hcc/s.db");
    // systemd may list several folders; the first is the unit's own. A relative one is ignored.
    assert_eq!(
        store("sqlite://s.db", Some("/var/lib/hcc:/var/lib/other")),
        "sqlite:///var/lib/hcc/s.db"
    );
    assert_eq!(
        store("sqlite://s.db", Some("var/lib/hcc")),
        "sqlite:///etc/hcc/s.db"
    );
    for unchanged in ["sqlite:///srv/s.db", "sqlite::memory:", "postgres://u@h/db"] {
        assert_eq!(store(unchanged, Some("/var/lib/hcc")), unchanged);
    }
    let mail = parse("[mail]\nfolder = \"mail\"\n", Some("/var/lib/hcc")).unwrap();
    match &mail.notify.mail.transport {
        hcc_monitor::config::Transport::File(folder) => {
            assert_eq!(folder, Path::new("/var/lib/hcc/mail"));
        }
        other => panic!("expected the file transport, got {other:?}"),
    }
    // What is only read stays next to the config, whatever the state directory.
    let read = parse(
        "[catalogue]\nfile = \"procedures.toml\"\n[mail]\ntemplates_dir = \"templates\"\n\
         [service]\nbearer_token_file = \"secrets/token\"\n",
        Some("/var/lib/hcc"),
    )
    .unwrap_err()
    .problems();
    let mut read: Vec<String> = read
        .into_iter()
        .map(|p| p.split(": No such file").next().unwrap().to_string())
        .collect();
    read.sort();
    assert_eq!(
        read,
        [
            "catalogue.file: cannot read /etc/hcc/procedures.toml",
            "mail.templates_dir: /etc/hcc/templates is not a folder",
            "service.bearer_token_file: cannot read /etc/hcc/secrets/token",
        ]
    );
}
