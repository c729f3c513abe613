//! What can be wrong with calendar settings or a calendar year file.

/// One invalid value, named by its key so the operator can find and fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {value:?} {reason}; expected {expected}")]
pub struct Problem {
    /// Where the value sits, e.g. `calendar.sessions[1]` or `calendars/2026.toml: days_off[2].to`.
    pub key: String,
    pub value: String,
    pub reason: String,
    pub expected: String,
}

impl Problem {
    pub(crate) fn new(
        key: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Problem {
            key: key.into(),
            value: value.into(),
            reason: reason.into(),
            expected: expected.into(),
        }
    }
}

/// Every problem found while building a calendar, reported at once so that one run of
/// `check-config` is enough to fix a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.problems))]
pub struct CalendarError {
    pub problems: Vec<Problem>,
}

fn render(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let mut out = format!("{} problems in the calendar:", many.len());
            for p in many {
                out.push_str("\n  - ");
                out.push_str(&p.to_string());
            }
            out
        }
    }
}
