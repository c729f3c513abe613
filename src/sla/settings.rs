//! The `[sla]` section of the config and the validated policy the engine uses.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::outcome::OnTimeRule;
use crate::calendar::Calendar;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaSettings {
    /// `due_soon` when at most this much working time is left. Unset (with `due_soon_fraction`
    /// unset too): one working day of the calendar, 8 h with the default sessions.
    pub due_soon_working_hours: Option<u32>,
    /// `due_soon` when at most this fraction of the allowed working time is left, in (0, 1].
    /// Excludes `due_soon_working_hours`.
    pub due_soon_fraction: Option<f64>,
    /// `at_risk` when this fraction of the allowed working time is used, in (0, 1].
    pub at_risk_fraction: f64,
    /// Where "on time" begins for a resolved dossier: `"date"` or `"session"`.
    pub on_time_rule: OnTimeRule,
    /// Paused working time moves the deadline later by as much (as the system that extends the
    /// due date by the paused days does). Set false when the source recomputes `due_at` itself
    /// after a pause, so that the pause is not counted twice.
    pub pause_extends_due: bool,
}

impl Default for SlaSettings {
    fn default() -> Self {
        SlaSettings {
            due_soon_working_hours: None,
            due_soon_fraction: None,
            at_risk_fraction: 0.75,
            on_time_rule: OnTimeRule::Date,
            pause_extends_due: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SlaSettingsError {
    #[error("sla: both due_soon_working_hours and due_soon_fraction are set; expected at most one")]
    TwoDueSoonThresholds,
    #[error("sla.{key}: {value} is out of range; expected a fraction in (0, 1]")]
    FractionOutOfRange { key: &'static str, value: f64 },
}

/// When a dossier with working time left counts as `due_soon`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DueSoon {
    OneWorkingDay,
    WorkingHours(u32),
    FractionLeft(f64),
}

/// Validated SLA settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlaPolicy {
    pub due_soon: DueSoon,
    pub at_risk_fraction: f64,
    pub on_time_rule: OnTimeRule,
    pub pause_extends_due: bool,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaSettings::default()
            .validate()
            .expect("the default settings are valid")
    }
}

impl SlaSettings {
    /// Every problem at once, so that the config check can list them together.
    pub fn validate(&self) -> Result<SlaPolicy, Vec<SlaSettingsError>> {
        let mut problems = Vec::new();
        let mut fraction = |key, value: f64| {
            if !(value > 0.0 && value <= 1.0) {
                problems.push(SlaSettingsError::FractionOutOfRange { key, value });
            }
        };
        fraction("at_risk_fraction", self.at_risk_fraction);
        if let Some(f) = self.due_soon_fraction {
            fraction("due_soon_fraction", f);
        }
        let due_soon = match (self.due_soon_working_hours, self.due_soon_fraction) {
            (None, None) => DueSoon::OneWorkingDay,
            (Some(h), None) => DueSoon::WorkingHours(h),
            (None, Some(f)) => DueSoon::FractionLeft(f),
            (Some(_), Some(_)) => {
                problems.push(SlaSettingsError::TwoDueSoonThresholds);
                DueSoon::OneWorkingDay
            }
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(SlaPolicy {
            due_soon,
            at_risk_fraction: self.at_risk_fraction,
            on_time_rule: self.on_time_rule,
            pause_extends_due: self.pause_extends_due,
        })
    }
}

impl SlaPolicy {
    /// The deadline that counts once `paused_secs` of working time were spent paused: never
    /// earlier than `due`.
    pub fn effective_due(
        &self,
        cal: &Calendar,
        due: DateTime<Utc>,
        paused_secs: i64,
    ) -> DateTime<Utc> {
        if self.pause_extends_due && paused_secs > 0 {
            cal.add_working_seconds(due, paused_secs)
        } else {
            due
        }
    }

    /// The `due_soon` threshold in working seconds, for a dossier allowed `allowed_secs`.
    pub(super) fn due_soon_secs(&self, cal: &Calendar, allowed_secs: i64) -> f64 {
        match self.due_soon {
            DueSoon::OneWorkingDay => cal.day_length_secs() as f64,
            DueSoon::WorkingHours(h) => f64::from(h) * 3600.0,
            DueSoon::FractionLeft(f) => f * allowed_secs as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_give_one_working_day_and_three_quarters() {
        let policy: SlaPolicy = toml::from_str::<SlaSettings>("")
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(policy, SlaPolicy::default());
        assert_eq!(policy.due_soon, DueSoon::OneWorkingDay);
        assert_eq!(policy.at_risk_fraction, 0.75);
        assert_eq!(policy.on_time_rule, OnTimeRule::Date);
        assert!(policy.pause_extends_due);
    }

    #[test]
    fn settings_parse_from_toml() {
        let s: SlaSettings = toml::from_str(
            "due_soon_fraction = 0.2\non_time_rule = \"session\"\npause_extends_due = false",
        )
        .unwrap();
        let policy = s.validate().unwrap();
        assert_eq!(policy.due_soon, DueSoon::FractionLeft(0.2));
        assert_eq!(policy.on_time_rule, OnTimeRule::Session);
        assert!(!policy.pause_extends_due);
        let s: SlaSettings = toml::from_str("due_soon_working_hours = 4").unwrap();
        assert_eq!(s.validate().unwrap().due_soon, DueSoon::WorkingHours(4));
        assert!(toml::from_str::<SlaSettings>("due_soon = 4").is_err());
        assert!(toml::from_str::<SlaSettings>("on_time_rule = \"hour\"").is_err());
    }

    #[test]
    fn invalid_settings_report_every_problem() {
        let s = SlaSettings {
            due_soon_working_hours: Some(8),
            due_soon_fraction: Some(1.5),
            at_risk_fraction: 0.0,
            ..SlaSettings::default()
        };
        let messages: Vec<String> = s
            .validate()
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages,
            [
                "sla.at_risk_fraction: 0 is out of range; expected a fraction in (0, 1]",
                "sla.due_soon_fraction: 1.5 is out of range; expected a fraction in (0, 1]",
                "sla: both due_soon_working_hours and due_soon_fraction are set; expected at most one",
            ]
        );
    }
}
