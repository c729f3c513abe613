//! The outcome of a resolved dossier, in the words of the report form (DESIGN §5).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::calendar::Calendar;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Early,
    OnTime,
    Late,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Early, Outcome::OnTime, Outcome::Late];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Early => "early",
            Outcome::OnTime => "on_time",
            Outcome::Late => "late",
        }
    }

    /// The name the store keeps (`as_str`).
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }

    /// The words of form Biểu 06/VPCP/KSTT.
    pub fn label_vi(self) -> &'static str {
        match self {
            Outcome::Early => "trước hạn",
            Outcome::OnTime => "đúng hạn",
            Outcome::Late => "quá hạn",
        }
    }

    /// Early and on time both count as in time for the on-time rate.
    pub fn in_time(self) -> bool {
        self != Outcome::Late
    }
}

/// Where "on time" begins; provincial systems disagree, so it is a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeRule {
    /// Compare local dates: an earlier day is early, the due day on time, a later day late.
    #[default]
    Date,
    /// OpenCPS: early before the start of the office session holding the due instant, on time
    /// from then up to the due instant inclusive, late after.
    Session,
}

/// `due` is the deadline that counts (after any pause extension, see `SlaPolicy::effective_due`).
/// A dossier without a deadline is on time, as the reports count it.
pub fn outcome(
    cal: &Calendar,
    rule: OnTimeRule,
    due: Option<DateTime<Utc>>,
    resolved: DateTime<Utc>,
) -> Outcome {
    let Some(due) = due else {
        return Outcome::OnTime;
    };
    match rule {
        OnTimeRule::Date => match cal.local_date(resolved).cmp(&cal.local_date(due)) {
            std::cmp::Ordering::Less => Outcome::Early,
            std::cmp::Ordering::Equal => Outcome::OnTime,
            std::cmp::Ordering::Greater => Outcome::Late,
        },
        OnTimeRule::Session => {
            if resolved > due {
                Outcome::Late
            } else if resolved < cal.session_start_for(due) {
                Outcome::Early
            } else {
                Outcome::OnTime
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::tests::{cal, vn};

    #[test]
    fn the_date_rule_compares_local_dates() {
        let cal = cal();
        let due = Some(vn("2026-03-04 17:00"));
        let at = |t| outcome(cal, OnTimeRule::Date, due, vn(t));
        assert_eq!(at("2026-03-03 23:59"), Outcome::Early);
        assert_eq!(at("2026-03-04 00:00"), Outcome::OnTime);
        // Later the same day is still the due date.
        assert_eq!(at("2026-03-04 19:00"), Outcome::OnTime);
        assert_eq!(at("2026-03-05 00:00"), Outcome::Late);
        // 06:30 local on 5/3 is 23:30 UTC on 4/3: the centre's zone decides.
        assert_eq!(at("2026-03-05 06:30"), Outcome::Late);
    }

    #[test]
    fn the_session_rule_starts_on_time_at_the_due_session() {
        let cal = cal();
        let rule = OnTimeRule::Session;
        // Due 17:00 ends the afternoon session: on time from 13:30.
        let due = Some(vn("2026-03-04 17:00"));
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 13:29:59")),
            Outcome::Early
        );
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 13:30")),
            Outcome::OnTime
        );
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 17:00")),
            Outcome::OnTime
        );
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 17:00:01")),
            Outcome::Late
        );
        // Due 10:00 is inside the morning session: on time from 07:00.
        let due = Some(vn("2026-03-04 10:00"));
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-03 16:00")),
            Outcome::Early
        );
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 07:00")),
            Outcome::OnTime
        );
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 10:30")),
            Outcome::Late
        );
        // Due 11:30 ends the morning session.
        let due = Some(vn("2026-03-04 11:30"));
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 06:59")),
            Outcome::Early
        );
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 07:00")),
            Outcome::OnTime
        );
        // A source's end-of-day due (23:59) counts from the afternoon session that preceded it.
        let due = Some(vn("2026-03-04 23:59"));
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 12:00")),
            Outcome::Early
        );
        assert_eq!(
            outcome(cal, rule, due, vn("2026-03-04 18:00")),
            Outcome::OnTime
        );
        // Due Mon 23/2/2026 07:00 (the first opening after Tết): on time from that session.
        let due = Some(vn("2026-02-23 07:00"));
        assert_eq!(
            outcome(cal, rule, due, vn("2026-02-13 16:00")),
            Outcome::Early
        );
        assert_eq!(
            outcome(cal, rule, due, vn("2026-02-23 07:00")),
            Outcome::OnTime
        );
    }

    #[test]
    fn no_deadline_is_on_time_and_labels_follow_the_report_form() {
        let resolved = vn("2026-03-04 10:00");
        assert_eq!(
            outcome(cal(), OnTimeRule::Session, None, resolved),
            Outcome::OnTime
        );
        let labels: Vec<_> = Outcome::ALL
            .iter()
            .map(|o| (o.as_str(), o.label_vi()))
            .collect();
        assert_eq!(
            labels,
            [
                ("early", "trước hạn"),
                ("on_time", "đúng hạn"),
                ("late", "quá hạn")
            ]
        );
        assert!(Outcome::OnTime.in_time() && !Outcome::Late.in_time());
    }
}
