//! Access to everything but `/healthz`: a bearer token and basic-auth users (bcrypt hashes),
//! either of which admits; with neither configured the endpoints are open (which `check-config`
//! allows on a loopback address only, unless told otherwise).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::config::{BasicAuthUsers, ServiceConfig};

type Digest32 = [u8; 32];

/// Comparing SHA-256 digests rather than the values themselves keeps the comparison
/// constant-time and independent of the length of either value.
fn digest(value: &[u8]) -> Digest32 {
    Sha256::digest(value).into()
}

/// The credentials the web endpoints accept.
pub struct Access {
    bearer: Option<Digest32>,
    users: BasicAuthUsers,
    /// The digest of the password last verified per user: bcrypt costs tens of milliseconds
    /// by design, too much for every scrape. Bounded by the configured users.
    verified: Mutex<HashMap<String, Digest32>>,
}

impl Access {
    pub fn new(service: &ServiceConfig) -> Access {
        Access {
            bearer: service
                .bearer_token
                .as_ref()
                .map(|t| digest(t.expose().as_bytes())),
            users: service.basic_auth_users.clone(),
            verified: Mutex::default(),
        }
    }

    fn is_open(&self) -> bool {
        self.bearer.is_none() && self.users.is_empty()
    }

    /// Whether the `Authorization` header carries a credential that admits. The scheme is
    /// matched case-insensitively (RFC 9110 §11.1).
    pub async fn admits(self: &Arc<Self>, authorization: Option<&HeaderValue>) -> bool {
        if self.is_open() {
            return true;
        }
        let Some((scheme, value)) = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
        else {
            return false;
        };
        let value = value.trim_start();
        if scheme.eq_ignore_ascii_case("bearer") {
            self.bearer
                .is_some_and(|expected| bool::from(digest(value.as_bytes()).ct_eq(&expected)))
        } else if scheme.eq_ignore_ascii_case("basic") {
            self.clone().basic(value).await
        } else {
            false
        }
    }

    async fn basic(self: Arc<Self>, encoded: &str) -> bool {
        let Some((user, password)) = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())))
        else {
            return false;
        };
        let given = digest(password.as_bytes());
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&user)
            .is_some_and(|known| bool::from(known.ct_eq(&given)));
        if cached {
            return true;
        }
        // An unknown user is checked against a real user's hash all the same, so that the
        // answer takes as long and does not tell which user names exist.
        let (hash, known_user) = match self.users.hash(&user) {
            Some(h) => (h.to_owned(), true),
            None => match self.users.any_hash() {
                Some(h) => (h.to_owned(), false),
                None => return false,
            },
        };
        // bcrypt is deliberately slow: off the async workers.
        let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        let admitted = matches && known_user;
        if admitted {
            self.verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(user, given);
        }
        admitted
    }

    /// The challenges a 401 offers, one per configured scheme.
    fn challenges(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if !self.users.is_empty() {
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hcc-monitor\", charset=\"UTF-8\""),
            );
        }
        if self.bearer.is_some() {
            headers.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        headers
    }
}

pub async fn require_credentials(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let access = &state.access;
    if access
        .admits(request.headers().get(header::AUTHORIZATION))
        .await
    {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        access.challenges(),
        "missing or wrong credentials\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::Secret;

    const TOKEN: &str = "a-long-enough-test-token";

    fn access(token: Option<&str>, users: &[(&str, &str)]) -> Arc<Access> {
        let users = users
            .iter()
            // Written as htpasswd writes them ($2y$), not as the crate does ($2b$).
            .map(|(u, p)| {
                let hash = bcrypt::hash(p, 4).unwrap().replacen("$2b$", "$2y$", 1);
                (u.to_string(), hash)
            })
            .collect::<BTreeMap<_, _>>();
        Arc::new(Access {
            bearer: token.map(|t| digest(Secret::new(t).expose().as_bytes())),
            users: BasicAuthUsers::new(users),
            verified: Mutex::default(),
        })
    }

    async fn admits(access: &Arc<Access>, header: &str) -> bool {
        access
            .admits(Some(&HeaderValue::from_str(header).unwrap()))
            .await
    }

    fn basic(user: &str, password: &str) -> String {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {encoded}")
    }

    #[tokio::test]
    async fn the_scheme_is_matched_in_any_case_and_the_token_exactly() {
        let a = access(Some(TOKEN), &[]);
        for scheme in ["Bearer", "bearer", "BEARER"] {
            assert!(admits(&a, &format!("{scheme} {TOKEN}")).await, "{scheme}");
        }
        assert!(!admits(&a, &format!("Bearer {TOKEN}x")).await);
        assert!(!admits(&a, &format!("Bearer {}", &TOKEN[1..])).await);
        assert!(!admits(&a, "Bearer").await);
        assert!(!admits(&a, &format!("Token {TOKEN}")).await);
        assert!(!a.admits(None).await);
    }

    #[tokio::test]
    async fn a_basic_user_is_admitted_with_the_right_password_only() {
        let a = access(Some(TOKEN), &[("alice", "s3cret pass"), ("bob", "other")]);
        assert!(admits(&a, &basic("alice", "s3cret pass")).await);
        // Again, now from the cache of verified passwords.
        assert!(admits(&a, &basic("alice", "s3cret pass")).await);
        assert!(admits(&a, &basic("alice", "s3cret pass").replace("Basic", "basic")).await);
        assert!(!admits(&a, &basic("alice", "wrong")).await);
        assert!(!admits(&a, &basic("bob", "s3cret pass")).await);
        // An unknown user is checked against the first user's hash: a match must not admit.
        assert!(!admits(&a, &basic("mallory", "s3cret pass")).await);
        assert!(!admits(&a, "Basic not-base64!").await);
        // Either credential admits.
        assert!(admits(&a, &format!("Bearer {TOKEN}")).await);
    }

    #[tokio::test]
    async fn without_credentials_configured_everything_is_admitted() {
        assert!(access(None, &[]).admits(None).await);
    }
}
