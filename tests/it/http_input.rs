//! Hostile query parameters on every endpoint, driven through the router in-process: an instant
//! outside years 2000-2100 is a 400 naming the range, and no input makes a handler panic or
//! answer 5xx.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{DateTime, Utc};
use hcc_monitor::app::Application;
use hcc_monitor::clock::FixedClock;
use hcc_monitor::dossier::{Channel, Dossier, Status};
use proptest::prelude::*;
use tower::ServiceExt;

use crate::helpers::app::{config, with_query};

/// The filters of the outbox actions.
const SELECTION: &[&str] = &[
    "level",
    "recipient",
    "reason",
    "state",
    "since",
    "until",
    "dry_run",
];

/// Every route, with the parameters it reads. Those taking none must ignore what they are given.
/// `/-/reload` is left out: it takes no parameter and waits for the running service's reload
/// loop, which an application that is built but not run does not have.
const ROUTES: [(&str, &str, &[&str]); 9] = [
    (
        "GET",
        "/api/v1/dossiers",
        &[
            "sla_state",
            "department",
            "source",
            "as_of",
            "limit",
            "offset",
        ],
    ),
    (
        "GET",
        "/api/v1/summary",
        &["period", "period_start_day", "as_of"],
    ),
    ("GET", "/api/v1/outbox", &["limit"]),
    ("POST", "/api/v1/outbox/list", SELECTION),
    ("POST", "/api/v1/outbox/retry", SELECTION),
    ("POST", "/api/v1/outbox/discard", SELECTION),
    ("GET", "/api/v1/handoffs", &["as_of"]),
    ("GET", "/metrics", &["as_of"]),
    ("GET", "/readyz", &["as_of"]),
];

struct Router {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    _app: Application,
    _dir: tempfile::TempDir,
}

impl Router {
    fn build() -> Router {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let now: DateTime<Utc> = "2026-03-02T09:00:00+07:00".parse().expect("an instant");
        let app = runtime
            .block_on(Application::build(
                config(dir.path(), ""),
                Arc::new(FixedClock(now)),
            ))
            .expect("application builds");
        let state = app.state().clone();
        runtime
            .block_on(
                state
                    .store
                    .write_batch("src", &[open_dossier(now)], &[], None, now, None),
            )
            .expect("the dossier is stored");
        let router = hcc_monitor::http::router(state);
        Router {
            runtime,
            router,
            _app: app,
            _dir: dir,
        }
    }

    fn call(&self, method: &str, uri: &str) -> (StatusCode, String) {
        self.runtime.block_on(async {
            let request = Request::builder()
                .method(Method::from_bytes(method.as_bytes()).expect("a method"))
                .uri(uri)
                .body(Body::empty())
                .expect("a request");
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("the router is infallible");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a body");
            (status, String::from_utf8_lossy(&body).into_owned())
        })
    }
}

/// An open dossier received a day before `now`, so that the API has something to evaluate.
fn open_dossier(now: DateTime<Utc>) -> Dossier {
    let received_at = now - chrono::Duration::days(1);
    Dossier {
        dossier_id: "HS-1".into(),
        procedure_code: "K1".into(),
        procedure_name: None,
        department: "STP".into(),
        channel: Channel::Direct,
        received_at,
        due_at: Some(now + chrono::Duration::days(3)),
        resolved_at: None,
        status: Status::InProgress,
        raw_status: "2".into(),
        updated_at: received_at,
        paused_at: None,
        resumed_at: None,
    }
}

/// An instant as RFC 3339 text with any year chrono can hold (the extended `+YYYYYY` form beyond
/// 9999 and before 0), often at the edges where chrono's own arithmetic overflows or at those of
/// the supported range.
fn instant() -> impl Strategy<Value = String> {
    let year = prop_oneof![
        prop::sample::select(vec![
            -262_143, -262_142, 1999, 2000, 2100, 2101, 262_141, 262_142
        ]),
        -262_143i32..=262_142,
    ];
    let edge_of_day = prop::sample::select(vec!["00:00:00", "23:59:59"]);
    let any_day = (year, 1u32..=12, 1u32..=31, edge_of_day, -14i32..=14).prop_map(
        |(year, month, day, time, offset)| {
            let year = if (0..=9999).contains(&year) {
                format!("{year:04}")
            } else {
                format!("{year:+07}")
            };
            format!("{year}-{month:02}-{day:02}T{time}{offset:+03}:00")
        },
    );
    // The first and last instants chrono holds, where any further arithmetic overflows.
    let limits = (prop::bool::ANY, 0i32..=14).prop_map(|(last, hours)| {
        let t = if last {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        };
        let t = t.with_timezone(&chrono::FixedOffset::east_opt(hours * 3600).expect("an offset"));
        t.to_rfc3339()
    });
    prop_oneof![any_day, limits]
}

/// A value for parameter `name`: mostly of the kind it reads, sometimes anything.
fn value(name: &'static str) -> BoxedStrategy<String> {
    let typed = match name {
        "as_of" | "since" | "until" => prop_oneof![
            instant(),
            (2000i32..=2100).prop_map(|y| format!("{y}-06-15T12:00:00Z")),
        ]
        .boxed(),
        "limit" | "offset" | "period_start_day" => prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| format!("{n}{n}")),
            (-2i64..=40).prop_map(|n| n.to_string()),
        ]
        .boxed(),
        "period" => prop::sample::select(vec!["day", "week", "month", "quarter", "year", "x"])
            .prop_map(str::to_string)
            .boxed(),
        _ => prop::sample::select(vec![
            "overdue", "paused", "true", "false", "", "dead", "pending", "report:x", "K1",
        ])
        .prop_map(str::to_string)
        .boxed(),
    };
    prop_oneof![4 => typed, 1 => any::<String>()].boxed()
}

/// A request: a route, some of its parameters (now and then one it does not know) with values.
fn request() -> impl Strategy<Value = (&'static str, &'static str, Vec<(String, String)>)> {
    prop::sample::select(ROUTES.to_vec()).prop_flat_map(|(method, path, names)| {
        let names = prop_oneof![
            8 => prop::sample::subsequence(names.to_vec(), 0..=names.len()),
            1 => Just(vec!["unknown"]),
        ];
        let params = names.prop_flat_map(|names| {
            names
                .into_iter()
                .map(|name| (Just(name.to_string()), value(name)))
                .collect::<Vec<_>>()
        });
        (Just(method), Just(path), params)
    })
}

#[test]
fn no_query_parameter_makes_an_endpoint_panic_or_fail_with_a_server_error() {
    let router = Router::build();
    let config = ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |((method, path, params) in request())| {
        let params: Vec<(&str, &str)> =
            params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let uri = with_query(path, &params);
        let (status, body) = router.call(method, &uri);
        prop_assert!(!status.is_server_error(), "{method} {uri}: {status} {body}");
    });
}

#[test]
fn instants_outside_years_2000_to_2100_are_a_bad_request_naming_the_range() {
    let router = Router::build();
    for (method, path, name) in [
        ("GET", "/api/v1/dossiers", "as_of"),
        ("GET", "/api/v1/summary", "as_of"),
        ("POST", "/api/v1/outbox/list", "since"),
        ("POST", "/api/v1/outbox/discard", "until"),
    ] {
        for far in [
            "+262142-12-31T23:59:59Z",
            "-262143-01-01T00:00:00Z",
            "1999-12-31T23:59:59Z",
            "2101-01-01T00:00:00Z",
        ] {
            // A week's start is computed from as_of: the arithmetic that once overflowed.
            let mut params = vec![(name, far)];
            if path.ends_with("summary") {
                params.push(("period", "week"));
            }
            let uri = with_query(path, &params);
            let (status, body) = router.call(method, &uri);
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {body}");
            assert!(
                body.contains("years 2000 to 2100"),
                "{method} {uri}: {body}"
            );
        }
        let uri = with_query(path, &[(name, "2026-03-02T09:00:00+07:00")]);
        let (status, body) = router.call(method, &uri);
        assert_eq!(status, StatusCode::OK, "{method} {uri}: {body}");
    }
}
