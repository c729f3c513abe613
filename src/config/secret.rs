//! Secrets (database URLs with passwords, tokens): resolved from `${ENV}` references or `*_file`
//! paths at load time, and never printed.

use std::fmt;

/// A resolved secret. `Debug` and `Display` print a placeholder so that a logged config or error
/// can never leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Replaces every `${NAME}` in `raw` by the environment variable NAME. Returns the name of the
/// first variable that is unset or the malformed reference.
pub fn expand_env(raw: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated `${{` in {raw:?}"))?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`${{{name}}}` is not a valid environment variable reference"
            ));
        }
        let value =
            lookup(name).ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// URLs are secrets because they may carry a password; this keeps the parts an operator needs to
/// recognise the target (scheme, host, database) for logs and errors.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let rest = match rest.rsplit_once('@') {
                Some((_, host)) => format!("***@{host}"),
                None => rest.to_string(),
            };
            let rest = match rest.split_once('?') {
                Some((path, _)) => format!("{path}?***"),
                None => rest,
            };
            format!("{scheme}://{rest}")
        }
        None => "<redacted>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "DB_PASS").then(|| "s3cret".to_string())
    }

    #[test]
    fn expands_references_and_names_the_missing_variable() {
        assert_eq!(
            expand_env("postgres://u:${DB_PASS}@h/db", env).unwrap(),
            "postgres://u:s3cret@h/db"
        );
        assert_eq!(expand_env("plain", env).unwrap(), "plain");
        assert_eq!(
            expand_env("${NOPE}", env).unwrap_err(),
            "environment variable NOPE is not set"
        );
        assert!(expand_env("${oops", env).is_err());
    }

    #[test]
    fn debug_and_redacted_urls_never_show_the_password() {
        let s = Secret::new("postgres://u:s3cret@h/db");
        assert!(!format!("{s:?} {s}").contains("s3cret"));
        assert_eq!(redact_url(s.expose()), "postgres://***@h/db");
        assert_eq!(
            redact_url("sqlite://data/x.db?mode=ro"),
            "sqlite://data/x.db?***"
        );
    }
}
