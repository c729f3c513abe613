//! Escalation planning (DESIGN §6): which level applies to an open dossier at an instant, and
//! whether that level is due again. Pure: the caller brings what the store remembers.
//!
//! Only the highest level that applies is ever decided, so a dossier first seen overdue reaches
//! the provincial leaders at once instead of a burst through every lower level, and a dossier
//! that moved up stops bothering the level below.

use chrono::{DateTime, Utc};

use super::state::{Evaluation, SlaState};
use crate::calendar::Calendar;

/// One condition of a level; a level applies when any of its conditions holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    State(SlaState),
    WorkingHoursLeftAtMost(u32),
    FractionUsedAtLeast(f64),
    /// The deadline is later today (centre's zone) and not passed yet.
    DueToday,
}

impl Condition {
    fn holds(&self, cal: &Calendar, e: &Evaluation, now: DateTime<Utc>) -> bool {
        match *self {
            Condition::State(s) => e.state == s,
            Condition::WorkingHoursLeftAtMost(h) => e
                .left_working_secs
                .is_some_and(|left| left <= i64::from(h) * 3600),
            Condition::FractionUsedAtLeast(f) => e.fraction_used.is_some_and(|used| used >= f),
            Condition::DueToday => e
                .effective_due
                .is_some_and(|due| now <= due && cal.local_date(due) == cal.local_date(now)),
        }
    }
}

/// What planning needs of a configured level.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelRule {
    pub name: String,
    pub any_of: Vec<Condition>,
    /// `None`: the level is decided once per dossier.
    pub repeat_every_working_secs: Option<i64>,
}

/// What the store remembers of one level for one dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Previous {
    pub first_decided_at: DateTime<Utc>,
    pub last_cycle: i64,
}

/// An escalation that is due: the level (an index into the rules) and its repeat cycle, which
/// with the source and dossier makes the outbox's unique key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub level: usize,
    pub cycle: i64,
}

/// The highest level whose conditions hold for a dossier whose clock runs and that has a
/// deadline; `None` for paused dossiers and those without deadline.
pub fn current_level(
    levels: &[LevelRule],
    cal: &Calendar,
    e: &Evaluation,
    now: DateTime<Utc>,
) -> Option<usize> {
    if e.state == SlaState::Paused || !e.has_deadline {
        return None;
    }
    levels
        .iter()
        .rposition(|l| l.any_of.iter().any(|c| c.holds(cal, e, now)))
}

/// The escalation due now, if any: the current level's first cycle when it was never decided,
/// else the cycle reached by the working time since its first decision, when the level repeats
/// and that cycle is new. Working time, not wall time, so that a repeat every 8 working hours
/// does not fire twice over a weekend.
pub fn decide(
    levels: &[LevelRule],
    cal: &Calendar,
    e: &Evaluation,
    previous: impl Fn(usize) -> Option<Previous>,
    now: DateTime<Utc>,
) -> Option<Decision> {
    let level = current_level(levels, cal, e, now)?;
    let Some(prev) = previous(level) else {
        return Some(Decision { level, cycle: 0 });
    };
    let every = levels[level].repeat_every_working_secs.filter(|s| *s > 0)?;
    let cycle = cal.working_seconds_between(prev.first_decided_at, now) / every;
    (cycle > prev.last_cycle).then_some(Decision { level, cycle })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::CalendarSettings;
    use chrono::TimeZone;
    use chrono_tz::Asia::Ho_Chi_Minh;

    fn cal() -> Calendar {
        Calendar::from_settings(&CalendarSettings::default()).unwrap()
    }

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        // March 2026: Monday the 2nd, no holidays.
        Ho_Chi_Minh
            .with_ymd_and_hms(2026, 3, d, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn levels() -> Vec<LevelRule> {
        vec![
            LevelRule {
                name: "department_head".into(),
                any_of: vec![
                    Condition::FractionUsedAtLeast(0.75),
                    Condition::WorkingHoursLeftAtMost(8),
                ],
                repeat_every_working_secs: Some(4 * 3600),
            },
            LevelRule {
                name: "centre_director".into(),
                any_of: vec![Condition::DueToday],
                repeat_every_working_secs: None,
            },
            LevelRule {
                name: "province_leaders".into(),
                any_of: vec![Condition::State(SlaState::Overdue)],
                repeat_every_working_secs: None,
            },
        ]
    }

    fn eval(state: SlaState, left_h: i64, used: f64, due: DateTime<Utc>) -> Evaluation {
        Evaluation {
            state,
            elapsed_working_secs: 0,
            left_working_secs: Some(left_h * 3600),
            allowed_working_secs: Some(40 * 3600),
            fraction_used: Some(used),
            has_deadline: true,
            effective_due: Some(due),
        }
    }

    #[test]
    fn a_dossier_first_seen_overdue_gets_only_the_highest_level() {
        let cal = cal();
        let now = at(4, 9, 0);
        let e = eval(SlaState::Overdue, -3, 1.1, at(3, 15, 0));
        let d = decide(&levels(), &cal, &e, |_| None, now).unwrap();
        assert_eq!(d, Decision { level: 2, cycle: 0 });
    }

    #[test]
    fn the_deadline_day_reaches_the_director_and_earlier_days_the_department_head() {
        let cal = cal();
        let now = at(4, 9, 0);
        let today = eval(SlaState::DueSoon, 7, 0.8, at(4, 16, 0));
        assert_eq!(current_level(&levels(), &cal, &today, now), Some(1));
        let tomorrow = eval(SlaState::DueSoon, 8, 0.8, at(5, 9, 0));
        assert_eq!(current_level(&levels(), &cal, &tomorrow, now), Some(0));
        let early = eval(SlaState::OnTrack, 30, 0.2, at(9, 9, 0));
        assert_eq!(current_level(&levels(), &cal, &early, now), None);
    }

    #[test]
    fn paused_dossiers_and_dossiers_without_deadline_are_never_escalated() {
        let cal = cal();
        let now = at(4, 9, 0);
        let paused = eval(SlaState::Paused, -3, 1.1, at(3, 15, 0));
        assert_eq!(decide(&levels(), &cal, &paused, |_| None, now), None);
        let none = Evaluation {
            has_deadline: false,
            left_working_secs: None,
            fraction_used: None,
            effective_due: None,
            ..eval(SlaState::OnTrack, 0, 0.0, now)
        };
        assert_eq!(decide(&levels(), &cal, &none, |_| None, now), None);
    }

    #[test]
    fn a_level_repeats_only_after_its_interval_of_working_time() {
        let cal = cal();
        let e = eval(SlaState::AtRisk, 12, 0.8, at(12, 9, 0));
        // First decided Friday 15:00; 4 working hours later is Monday 09:00 (2 h on Friday).
        let prev = |cycle| {
            move |_| {
                Some(Previous {
                    first_decided_at: at(6, 15, 0),
                    last_cycle: cycle,
                })
            }
        };
        for (now, expected) in [
            (at(6, 16, 59), None),
            (at(7, 12, 0), None), // Saturday: no working time passes
            (at(9, 8, 59), None),
            (at(9, 9, 0), Some(Decision { level: 0, cycle: 1 })),
        ] {
            assert_eq!(decide(&levels(), &cal, &e, prev(0), now), expected, "{now}");
        }
        assert_eq!(decide(&levels(), &cal, &e, prev(1), at(9, 9, 0)), None);
        // A level without repeat is decided once.
        let overdue = eval(SlaState::Overdue, -1, 1.0, at(6, 16, 0));
        assert_eq!(
            decide(&levels(), &cal, &overdue, prev(0), at(20, 9, 0)),
            None
        );
    }
}
