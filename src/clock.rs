//! The clock is a dependency: production reads the system time, `--as-of` and tests a fixed one.

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Always the same instant: replays a past moment exactly.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The earliest instant the service answers for: the calendars, reporting periods and working-time
/// index are only defined over a bounded span, and chrono panics on arithmetic near its own limits
/// (year ±262,143), so an instant from outside is refused at the edge instead.
pub const SUPPORTED_FROM: &str = "2000-01-01T00:00:00Z";
/// The end of the supported span (exclusive).
pub const SUPPORTED_UNTIL: &str = "2101-01-01T00:00:00Z";

/// Why an instant given by a user (API query, CLI flag) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    #[error("{0:?} is not an RFC 3339 instant, e.g. 2026-03-02T09:00:00+07:00")]
    Unreadable(String),
    /// A date alone: which zone's midnight it means is not for the service to guess.
    #[error(
        "{0} is a date, not an instant: give the time and the offset, e.g. {0}T00:00:00+07:00 \
         for the start of that day in Vietnam"
    )]
    DateOnly(chrono::NaiveDate),
    #[error(
        "{0} is outside the supported range: years 2000 to 2100 \
         ({SUPPORTED_FROM} to before {SUPPORTED_UNTIL})"
    )]
    OutOfRange(DateTime<Utc>),
}

/// An instant within the supported range (years 2000 to 2100), read from RFC 3339. Every instant
/// a user can give (`as_of`, `since`, `until`) has this type, so the range is checked once, when
/// it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SupportedInstant(DateTime<Utc>);

impl SupportedInstant {
    pub fn new(t: DateTime<Utc>) -> Result<SupportedInstant, InstantError> {
        let bound = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default()
        };
        if (bound(SUPPORTED_FROM)..bound(SUPPORTED_UNTIL)).contains(&t) {
            Ok(SupportedInstant(t))
        } else {
            Err(InstantError::OutOfRange(t))
        }
    }

    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl std::str::FromStr for SupportedInstant {
    type Err = InstantError;

    fn from_str(s: &str) -> Result<SupportedInstant, InstantError> {
        if let Ok(date) = s.parse::<chrono::NaiveDate>() {
            return Err(InstantError::DateOnly(date));
        }
        let t = s
            .parse::<DateTime<Utc>>()
            .map_err(|_| InstantError::Unreadable(s.chars().take(64).collect()))?;
        SupportedInstant::new(t)
    }
}

impl<'de> serde::Deserialize<'de> for SupportedInstant {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SupportedInstant, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_of_years_2000_to_2100_are_supported_and_others_refused_naming_the_range() {
        for ok in [
            "2000-01-01T00:00:00Z",
            "2026-03-02T09:00:00+07:00",
            "2100-12-31T23:59:59Z",
        ] {
            assert!(ok.parse::<SupportedInstant>().is_ok(), "{ok}");
        }
        for far in [
            "1999-12-31T23:59:59Z",
            "2101-01-01T00:00:00Z",
            "+262142-12-31T23:59:59Z",
            "-262143-01-01T00:00:00Z",
        ] {
            let e = far.parse::<SupportedInstant>().expect_err(far).to_string();
            assert!(e.contains("years 2000 to 2100"), "{far}: {e}");
        }
        assert!(matches!(
            "yesterday".parse::<SupportedInstant>(),
            Err(InstantError::Unreadable(_))
        ));
    }
}
