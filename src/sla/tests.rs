//! SLA states at hand-worked instants, and properties of pauses and elapsed time.
//!
//! Default office hours 07:00-11:30 and 13:30-17:00 (8 h a day); times are local (UTC+7).

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use proptest::prelude::*;

use super::*;
use crate::calendar::{Calendar, CalendarSettings};
use crate::dossier::Status;

const HOUR: i64 = 3600;

pub(super) fn cal() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| Calendar::from_settings(&CalendarSettings::default()).unwrap())
}

pub(super) fn vn(local: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M"))
        .unwrap_or_else(|e| panic!("bad test instant {local}: {e}"));
    (naive - TimeDelta::hours(7)).and_utc()
}

/// Received Mon 2/3/2026 07:00, 5 working days: due Fri 6/3 17:00, 40 h allowed.
fn five_days<'a>(status: Status, pauses: &'a [PauseSpan]) -> OpenDossier<'a> {
    OpenDossier {
        received_at: vn("2026-03-02 07:00"),
        due_at: Some(vn("2026-03-06 17:00")),
        status,
        pauses,
    }
}

fn state_at(policy: &SlaPolicy, dossier: &OpenDossier<'_>, now: &str) -> Evaluation {
    evaluate(cal(), policy, dossier, vn(now))
}

#[test]
fn states_along_a_five_day_dossier() {
    let policy = SlaPolicy::default();
    let d = five_days(Status::InProgress, &[]);
    // (now, state, elapsed, left). Mon-Wed are 24 h; Thu 07:00-11:30 adds 4 h 30 and
    // 13:30-15:00 1 h 30, so 30 h = 0.75 of 40 h is reached at Thu 15:00.
    let cases = [
        ("2026-03-02 10:00", SlaState::OnTrack, 3 * HOUR, 37 * HOUR),
        (
            "2026-03-05 14:59",
            SlaState::OnTrack,
            30 * HOUR - 60,
            10 * HOUR + 60,
        ),
        ("2026-03-05 15:00", SlaState::AtRisk, 30 * HOUR, 10 * HOUR),
        ("2026-03-05 16:00", SlaState::AtRisk, 31 * HOUR, 9 * HOUR),
        // Thu 17:00 (and Fri 07:00): 8 h left, one working day: due soon.
        ("2026-03-05 17:00", SlaState::DueSoon, 32 * HOUR, 8 * HOUR),
        ("2026-03-06 07:00", SlaState::DueSoon, 32 * HOUR, 8 * HOUR),
        ("2026-03-06 17:00", SlaState::DueSoon, 40 * HOUR, 0),
        // After hours past the due instant: overdue with no working time past it yet.
        ("2026-03-06 17:30", SlaState::Overdue, 40 * HOUR, 0),
        ("2026-03-09 08:00", SlaState::Overdue, 41 * HOUR, -HOUR),
    ];
    for (now, state, elapsed, left) in cases {
        let e = state_at(&policy, &d, now);
        assert_eq!(
            (e.state, e.elapsed_working_secs, e.left_working_secs),
            (state, elapsed, Some(left)),
            "at {now}"
        );
        assert_eq!(e.allowed_working_secs, Some(40 * HOUR));
        assert!(e.has_deadline);
    }
    let e = state_at(&policy, &d, "2026-03-05 15:00");
    assert_eq!(e.fraction_used, Some(0.75));
    assert_eq!(e.state.as_str(), "at_risk");
}

#[test]
fn a_closed_pause_extends_the_due_instant_by_its_working_time() {
    // Paused Tue 3/3 07:00 to Wed 4/3 07:00: one working day. Due Fri 17:00 + 8 h = Mon 9/3 17:00.
    let pauses = [PauseSpan {
        start: vn("2026-03-03 07:00"),
        end: Some(vn("2026-03-04 07:00")),
    }];
    let d = five_days(Status::InProgress, &pauses);
    let e = state_at(&SlaPolicy::default(), &d, "2026-03-09 08:00");
    assert_eq!(e.effective_due, Some(vn("2026-03-09 17:00")));
    // 41 h since received, 8 h of them paused; 7 h left on Monday.
    assert_eq!(e.elapsed_working_secs, 33 * HOUR);
    assert_eq!(e.left_working_secs, Some(7 * HOUR));
    assert_eq!(e.state, SlaState::DueSoon);
    assert_eq!(e.fraction_used, Some(33.0 / 40.0));

    // A source that recomputes due_at itself: the pause only leaves elapsed time out.
    let recomputing = SlaPolicy {
        pause_extends_due: false,
        ..SlaPolicy::default()
    };
    let e = state_at(&recomputing, &d, "2026-03-09 08:00");
    assert_eq!(e.effective_due, Some(vn("2026-03-06 17:00")));
    assert_eq!(e.state, SlaState::Overdue);
    assert_eq!(e.left_working_secs, Some(-HOUR));
    assert_eq!(e.elapsed_working_secs, 33 * HOUR);
}

#[test]
fn a_dossier_in_a_paused_status_is_paused_and_its_deadline_keeps_moving() {
    // Paused since Thu 5/3 07:00: Thu 8 h, Fri 8 h and Mon 07:00-08:00 1 h = 17 h paused.
    // Due Fri 17:00 + 17 h: Mon 8 h, Tue 8 h, Wed 07:00-08:00.
    let pauses = [PauseSpan {
        start: vn("2026-03-05 07:00"),
        end: None,
    }];
    let d = five_days(Status::SupplementRequested, &pauses);
    let e = state_at(&SlaPolicy::default(), &d, "2026-03-09 08:00");
    assert_eq!(e.state, SlaState::Paused);
    assert_eq!(e.elapsed_working_secs, 24 * HOUR);
    assert_eq!(e.effective_due, Some(vn("2026-03-11 08:00")));
    assert_eq!(e.left_working_secs, Some(16 * HOUR));
}

#[test]
fn a_dossier_without_a_deadline_is_on_track_and_counted_as_having_none() {
    let mut d = five_days(Status::Received, &[]);
    d.due_at = None;
    let e = state_at(&SlaPolicy::default(), &d, "2026-04-01 10:00");
    assert_eq!(e.state, SlaState::OnTrack);
    assert!(!e.has_deadline);
    assert_eq!((e.left_working_secs, e.fraction_used), (None, None));
    d.status = Status::AwaitingPayment;
    assert_eq!(
        state_at(&SlaPolicy::default(), &d, "2026-04-01 10:00").state,
        SlaState::Paused
    );
}

#[test]
fn due_soon_as_a_fraction_of_the_allowed_time() {
    let policy = SlaSettings {
        due_soon_fraction: Some(0.25),
        ..SlaSettings::default()
    }
    .validate()
    .unwrap();
    let d = five_days(Status::InProgress, &[]);
    // Thu 15:00: 10 h left = 0.25 x 40 h.
    assert_eq!(
        state_at(&policy, &d, "2026-03-05 14:59").state,
        SlaState::OnTrack
    );
    assert_eq!(
        state_at(&policy, &d, "2026-03-05 15:00").state,
        SlaState::DueSoon
    );
}

#[test]
fn a_one_day_dossier_received_after_hours_starts_at_the_next_opening() {
    // Received Fri 6/3 18:00: due Mon 9/3 17:00 (1 working day); on Saturday nothing has elapsed,
    // and the whole day left is within the one-day due-soon threshold.
    let received = vn("2026-03-06 18:00");
    let due = StatutoryTime::WorkingDays(1).due_at(cal(), received);
    assert_eq!(due, vn("2026-03-09 17:00"));
    let d = OpenDossier {
        received_at: received,
        due_at: Some(due),
        status: Status::Received,
        pauses: &[],
    };
    let e = state_at(&SlaPolicy::default(), &d, "2026-03-07 10:00");
    assert_eq!(
        (e.elapsed_working_secs, e.left_working_secs),
        (0, Some(8 * HOUR))
    );
    assert_eq!(e.state, SlaState::DueSoon);
}

#[test]
fn state_names_are_the_metric_labels() {
    let names: Vec<_> = SlaState::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        ["on_track", "at_risk", "due_soon", "overdue", "paused"]
    );
}

/// Non-overlapping pauses after `received`: (gap before, length) pairs in seconds; the last
/// one may still be open.
fn pauses_from(received: DateTime<Utc>, spans: &[(i64, i64)], last_open: bool) -> Vec<PauseSpan> {
    let mut at = received;
    let mut out = Vec::new();
    for (i, &(gap, len)) in spans.iter().enumerate() {
        let start = at + TimeDelta::seconds(gap);
        at = start + TimeDelta::seconds(len);
        let open = last_open && i == spans.len() - 1;
        out.push(PauseSpan {
            start,
            end: (!open).then_some(at),
        });
    }
    out
}

fn received_2025_2026() -> impl Strategy<Value = DateTime<Utc>> {
    (1_735_664_400i64..1_798_700_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn spans() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop::collection::vec((0i64..400_000, 0i64..400_000), 0..4)
}

proptest! {
    #[test]
    fn pauses_never_make_a_deadline_earlier(
        received in received_2025_2026(),
        allowed_days in 1u32..30,
        spans in spans(),
        last_open: bool,
        extends: bool,
        after in 0i64..4_000_000,
    ) {
        let cal = cal();
        let policy = SlaPolicy { pause_extends_due: extends, ..SlaPolicy::default() };
        let pauses = pauses_from(received, &spans, last_open);
        let due = StatutoryTime::WorkingDays(allowed_days).due_at(cal, received);
        let now = received + TimeDelta::seconds(after);
        let plain = OpenDossier {
            received_at: received,
            due_at: Some(due),
            status: Status::InProgress,
            pauses: &[],
        };
        let paused = OpenDossier { pauses: &pauses, ..plain };
        let (a, b) = (evaluate(cal, &policy, &plain, now), evaluate(cal, &policy, &paused, now));
        prop_assert!(b.effective_due.unwrap() >= due);
        prop_assert!(b.elapsed_working_secs <= a.elapsed_working_secs);
        prop_assert!(b.left_working_secs.unwrap() >= a.left_working_secs.unwrap());
        if extends {
            // Elapsed and left always share the allowed time.
            let shared = b.elapsed_working_secs + b.left_working_secs.unwrap();
            prop_assert_eq!(shared, b.allowed_working_secs.unwrap());
        }
    }

    #[test]
    fn elapsed_time_never_decreases(
        received in received_2025_2026(),
        spans in spans(),
        last_open: bool,
        first in 0i64..3_000_000,
        later in 0i64..1_000_000,
    ) {
        let cal = cal();
        let pauses = pauses_from(received, &spans, last_open);
        let d = OpenDossier {
            received_at: received,
            due_at: Some(StatutoryTime::WorkingDays(5).due_at(cal, received)),
            status: Status::InProgress,
            pauses: &pauses,
        };
        let policy = SlaPolicy::default();
        let now = received + TimeDelta::seconds(first);
        let e1 = evaluate(cal, &policy, &d, now);
        let e2 = evaluate(cal, &policy, &d, now + TimeDelta::seconds(later));
        prop_assert!(e1.elapsed_working_secs <= e2.elapsed_working_secs);
        prop_assert!(e1.left_working_secs >= e2.left_working_secs);
    }
}
