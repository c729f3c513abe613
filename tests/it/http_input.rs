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

/// Every route, with the parameters it reads. `/api/v1` refuses a parameter it does not know
/// (the test below); `/metrics` and `/readyz` ignore what they are given.
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
    ("GET", "/api/v1/handoffs", &[]),
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

/// An error answer of `/api/v1`: a 400 whose body is `{"error": "..."}`; the message.
fn json_error(router: &Router, method: &str, uri: &str) -> String {
    let (status, body) = router.call(method, uri);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {body}");
    let json: serde_json::Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{method} {uri}: the error is not JSON ({e}): {body}"));
    let object = json.as_object().expect("an object");
    assert_eq!(object.len(), 1, "{method} {uri}: {body}");
    object["error"].as_str().expect("a message").to_string()
}

#[test]
fn every_api_endpoint_refuses_unknown_parameters_and_bad_values_with_the_same_json_error() {
    let router = Router::build();
    for (method, path, _) in ROUTES.iter().filter(|r| r.1.starts_with("/api/v1")) {
        let error = json_error(&router, method, &format!("{path}?colour=blue"));
        assert!(error.contains("unknown field `colour`"), "{path}: {error}");
    }
    for (method, uri, says) in [
        ("GET", "/api/v1/dossiers?limit=many", "limit"),
        (
            "GET",
            "/api/v1/dossiers?sla_state=late",
            "unknown SLA state \"late\"",
        ),
        ("GET", "/api/v1/summary?period=fortnight", "fortnight"),
        (
            "GET",
            "/api/v1/summary?period_start_day=31",
            "period_start_day",
        ),
        ("GET", "/api/v1/outbox?limit=-", "limit"),
        (
            "POST",
            "/api/v1/outbox/list?since=yesterday",
            "not an RFC 3339 instant",
        ),
        (
            "POST",
            "/api/v1/outbox/list?state=lost",
            "state \"lost\" is unknown",
        ),
        ("POST", "/api/v1/outbox/explode", "explode"),
    ] {
        let error = json_error(&router, method, uri);
        assert!(error.contains(says), "{uri}: {error}");
    }
}

#[test]
fn a_date_without_a_time_is_refused_saying_how_to_write_the_start_of_that_day() {
    let router = Router::build();
    for (method, path, name) in [
        ("GET", "/api/v1/dossiers", "as_of"),
        ("GET", "/api/v1/summary", "as_of"),
        ("POST", "/api/v1/outbox/list", "until"),
    ] {
        let error = json_error(&router, method, &format!("{path}?{name}=2026-03-02"));
        assert!(
            error.contains(
                "2026-03-02 is a date, not an instant: give the time and the offset, e.g. \
                 2026-03-02T00:00:00+07:00"
            ),
            "{path}: {error}"
        );
    }
}

/// Every string in `value` that is an instant.
fn instants(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if DateTime::parse_from_rfc3339(s).is_ok() => {
            found.push(s.clone())
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| instants(v, found)),
        serde_json::Value::Object(o) => o.values().for_each(|v| instants(v, found)),
        _ => {}
    }
}

/// Checks `value` against the OpenAPI `schema` (the subset utoipa writes: `$ref`, `type`
/// with `null`, `oneOf`, `allOf`, `enum`, `properties`, `required`, `items`,
/// `additionalProperties`); the problems, each with its JSON path.
fn check(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Vec<String> {
    use serde_json::Value;
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return check(doc, &doc["components"]["schemas"][name], value, at);
    }
    if let Some(any) = schema["oneOf"].as_array() {
        let fits = any
            .iter()
            .filter(|s| check(doc, s, value, at).is_empty())
            .count();
        return if fits == 1 {
            vec![]
        } else {
            vec![format!("{at}: {fits} of oneOf fit {value}")]
        };
    }
    if let Some(all) = schema["allOf"].as_array() {
        // One object with the parts' properties together (a flattened struct).
        let mut merged = serde_json::json!({"type": "object", "properties": {}, "required": []});
        for part in all {
            let part = match part["$ref"].as_str() {
                Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
                None => part,
            };
            for (k, v) in part["properties"].as_object().into_iter().flatten() {
                merged["properties"][k] = v.clone();
            }
            for r in part["required"].as_array().into_iter().flatten() {
                merged["required"].as_array_mut().unwrap().push(r.clone());
            }
        }
        return check(doc, &merged, value, at);
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let fits = types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
    if !types.is_empty() && !fits {
        return vec![format!("{at}: {kind}, documented as {types:?}")];
    }
    let mut problems = Vec::new();
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        problems.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if schema["format"] == "date-time"
        && let Some(s) = value.as_str()
        && DateTime::parse_from_rfc3339(s).is_err()
    {
        problems.push(format!("{at}: {s:?} is not a date-time"));
    }
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                problems.extend(check(doc, &schema["items"], item, &format!("{at}[{i}]")));
            }
        }
        Value::Object(o) => {
            let properties = schema["properties"].as_object();
            for key in schema["required"].as_array().into_iter().flatten() {
                if !o.contains_key(key.as_str().unwrap()) {
                    problems.push(format!("{at}.{key}: required but absent"));
                }
            }
            for (key, v) in o {
                match properties.and_then(|p| p.get(key)) {
                    Some(s) => problems.extend(check(doc, s, v, &format!("{at}.{key}"))),
                    None if schema["additionalProperties"].is_object() => problems.extend(check(
                        doc,
                        &schema["additionalProperties"],
                        v,
                        &format!("{at}.{key}"),
                    )),
                    None => problems.push(format!("{at}.{key}: sent but not documented")),
                }
            }
        }
        _ => {}
    }
    problems
}

#[test]
fn the_openapi_description_matches_what_every_endpoint_answers() {
    let router = Router::build();
    let (status, body) = router.call("GET", "/api/v1/openapi.json");
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("the description is JSON");
    let paths = doc["paths"].as_object().expect("paths");
    let documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    let served: Vec<&str> = ROUTES
        .iter()
        .filter(|r| r.1.starts_with("/api/v1"))
        .map(|r| r.1)
        .collect();
    for path in &served {
        let template = path
            .replace("/outbox/list", "/outbox/{action}")
            .replace("/outbox/retry", "/outbox/{action}")
            .replace("/outbox/discard", "/outbox/{action}");
        assert!(
            documented.contains(&template.as_str()),
            "{path} is not documented: {documented:?}"
        );
    }
    let mut checked = 0;
    for (method, uri) in [
        ("GET", "/api/v1/dossiers?as_of=2026-03-02T09:00:00%2B07:00"),
        ("GET", "/api/v1/summary?period=month"),
        ("GET", "/api/v1/handoffs"),
        ("GET", "/api/v1/outbox"),
        ("POST", "/api/v1/outbox/list?dry_run=true"),
    ] {
        let (status, body) = router.call(method, uri);
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        let path = uri
            .split('?')
            .next()
            .unwrap()
            .replace("/outbox/list", "/outbox/{action}");
        let operation = &paths[&path][method.to_lowercase()];
        let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{path}: no 200 schema");
        let problems = check(&doc, schema, &value, "$");
        assert!(problems.is_empty(), "{uri}: {problems:#?}\n{body}");
        let error = &operation["responses"]["400"]["content"]["application/json"]["schema"];
        assert!(
            check(&doc, error, &serde_json::json!({"error": "x"}), "$").is_empty(),
            "{path}: the 400 answer is documented as the JSON error"
        );
        // One way to write an instant everywhere: RFC 3339 with a numeric offset.
        let mut found = Vec::new();
        instants(&value, &mut found);
        for t in &found {
            assert!(t.ends_with("+00:00"), "{uri}: {t}");
        }
        checked += found.len();
    }
    assert!(checked >= 5, "the answers carry instants: {checked}");
}
