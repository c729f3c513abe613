//! Hand-worked edge cases and properties of the calendar.
//!
//! Default office hours: 07:00-11:30 (4 h 30) and 13:30-17:00 (3 h 30), 8 h a day. All times in
//! the tables are local (Asia/Ho_Chi_Minh, UTC+7, no daylight saving).

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc, Weekday};
use proptest::prelude::*;

use super::*;

const HOUR: i64 = 3600;
const DAY: i64 = 8 * HOUR;

fn vn(local: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M"))
        .unwrap_or_else(|e| panic!("bad test instant {local}: {e}"));
    (naive - TimeDelta::hours(7)).and_utc()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn with(edit: impl FnOnce(&mut CalendarSettings)) -> Calendar {
    let mut settings = CalendarSettings::default();
    edit(&mut settings);
    Calendar::from_settings(&settings).expect("valid test settings")
}

fn default_cal() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| with(|_| ()))
}

/// Some centres open at 07:30: a working day is 7 h 30.
fn late_opening() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| with(|s| s.sessions = vec!["07:30-11:30".into(), "13:30-17:00".into()]))
}

/// A province's own days: Mon 2/3-Tue 3/3/2026 off, Sat 7/3/2026 worked.
fn local_days() -> &'static Calendar {
    static CAL: OnceLock<Calendar> = OnceLock::new();
    CAL.get_or_init(|| {
        with(|s| {
            s.holidays = vec!["2026-03-02..2026-03-03".into()];
            s.working_days = vec!["2026-03-07".into()];
        })
    })
}

#[derive(Debug, Clone, Copy)]
enum Q {
    Seconds(i64),
    Hours(u32),
    Days(u32),
    CalendarDays(u32),
    NextOpening,
}

/// Which calendar a row asks.
type Cal = fn() -> &'static Calendar;

/// Name, calendar, local start, question, expected local answer.
#[rustfmt::skip]
const TABLE: &[(&str, Cal, &str, Q, &str)] = &[
    // Fri 16:55-17:00 gives 5 min; Sat 14/2-Sun 22/2 is Tết; Mon 23/2: 4 h 30 to 11:30, the last
    // 3 h 25 from 13:30 end at 16:55.
    ("Friday before Tết 2026, 16:55 + 1 day", default_cal, "2026-02-13 16:55", Q::Days(1), "2026-02-23 16:55"),
    // Received at lunch: the clock starts 13:30; 3 h 30 to 17:00, then 4 h 30 on Thu to 11:30.
    ("lunch 12:00 + 8 h", default_cal, "2026-01-07 12:00", Q::Hours(8), "2026-01-08 11:30"),
    ("lunch opens at 13:30", default_cal, "2026-01-07 12:00", Q::NextOpening, "2026-01-07 13:30"),
    // After 17:00 nothing accrues until 07:00 the next day.
    ("after hours + 1 h", default_cal, "2026-01-06 18:00", Q::Hours(1), "2026-01-07 08:00"),
    ("after hours opens next morning", default_cal, "2026-01-06 18:00", Q::NextOpening, "2026-01-07 07:00"),
    // Fri 16:00-17:00 is 1 h; Sat 10/1/2026 is a make-up working day: 07:00 + 1 h.
    ("Friday into make-up Saturday 10/1/2026", default_cal, "2026-01-09 16:00", Q::Hours(2), "2026-01-10 08:00"),
    ("Friday 17:00 opens on make-up Saturday", default_cal, "2026-01-09 17:00", Q::NextOpening, "2026-01-10 07:00"),
    // Fri 1 h; Sat 25-Mon 27/4 off (Hùng Kings on Sun 26/4, Mon compensatory); Tue 28/4 needs
    // 7 h: 4 h 30 to 11:30, 2 h 30 from 13:30.
    ("compensatory Monday 27/4/2026", default_cal, "2026-04-24 16:00", Q::Days(1), "2026-04-28 16:00"),
    // Wed 31/12/2025: 1 h 30 + 3 h 30 = 5 h; Thu 1/1, Fri 2/1 (swapped), Sat 3, Sun 4 off;
    // Mon 5/1 07:00 + 3 h.
    ("swapped Friday 2/1/2026", default_cal, "2025-12-31 10:00", Q::Days(1), "2026-01-05 10:00"),
    // Fri 24/1/2025: 2 h 30 + 3 h 30 = 6 h; Tết 25/1-2/2; Mon 3/2 and Tue 4/2 8 h each (22 h);
    // Wed 5/2 07:00 + 2 h.
    ("Tết 2025 span", default_cal, "2025-01-24 09:00", Q::Days(3), "2025-02-05 09:00"),
    // Exactly 4 h 30 from the opening ends at 11:30, the earliest instant, not at 13:30.
    ("morning session ends at 11:30", default_cal, "2026-01-05 07:00", Q::Seconds(16_200), "2026-01-05 11:30"),
    ("one second after 11:30 is 13:30:01", default_cal, "2026-01-05 11:30", Q::Seconds(1), "2026-01-05 13:30:01"),
    ("from 17:00 + 1 h", default_cal, "2026-01-05 17:00", Q::Hours(1), "2026-01-06 08:00"),
    ("07:00 + 1 day is 17:00 the same day", default_cal, "2026-01-06 07:00", Q::Days(1), "2026-01-06 17:00"),
    ("06:59 + 1 h", default_cal, "2026-01-05 06:59", Q::Hours(1), "2026-01-05 08:00"),
    ("11:30 opens at 13:30", default_cal, "2026-01-05 11:30", Q::NextOpening, "2026-01-05 13:30"),
    ("07:00 is open", default_cal, "2026-01-05 07:00", Q::NextOpening, "2026-01-05 07:00"),
    ("13:30 is open", default_cal, "2026-01-05 13:30", Q::NextOpening, "2026-01-05 13:30"),
    // DESIGN §4: 1 working day from Wednesday 18:30 is Thursday 17:00, not Friday 07:00.
    ("Wednesday 18:30 + 1 day", default_cal, "2026-01-07 18:30", Q::Days(1), "2026-01-08 17:00"),
    ("zero working time is the instant itself", default_cal, "2026-01-11 10:00", Q::Seconds(0), "2026-01-11 10:00"),
    ("11:00 + 1 h crosses lunch", default_cal, "2026-01-08 11:00", Q::Hours(1), "2026-01-08 14:00"),
    // Civil Code: the first day is not counted. 7/1 + 3 = Sat 10/1, a make-up working day.
    ("calendar days onto a make-up Saturday", default_cal, "2026-01-07 10:00", Q::CalendarDays(3), "2026-01-10 17:00"),
    // 6/1 + 5 = Sun 11/1: the next working day is Mon 12/1.
    ("calendar days onto a Sunday", default_cal, "2026-01-06 10:00", Q::CalendarDays(5), "2026-01-12 17:00"),
    // 9/2 + 10 = Thu 19/2, inside Tết: the next working day is Mon 23/2.
    ("calendar days onto Tết 2026", default_cal, "2026-02-09 10:00", Q::CalendarDays(10), "2026-02-23 17:00"),
    ("calendar days onto a weekday", default_cal, "2026-03-02 15:00", Q::CalendarDays(15), "2026-03-17 17:00"),
    ("calendar days counted from a late receipt", default_cal, "2026-03-02 23:30", Q::CalendarDays(1), "2026-03-03 17:00"),
    // Sat 5-Mon 7/4/2025 off (Hùng Kings): Fri 17:00 + 1 h is Tue 8/4 08:00.
    ("Hùng Kings 2025", default_cal, "2025-04-04 17:00", Q::Hours(1), "2025-04-08 08:00"),
    // Fri 25/4/2025 30 min, then Sat 26/4/2025 (make-up) from 07:00.
    ("make-up Saturday 26/4/2025", default_cal, "2025-04-25 16:30", Q::Hours(1), "2025-04-26 07:30"),
    // Tue 29/4/2025 1 h; 30/4-4/5 off (Fri 2/5 swapped); Mon 5/5 07:00 + 7 h.
    ("30/4-4/5/2025", default_cal, "2025-04-29 16:00", Q::Days(1), "2025-05-05 16:00"),
    // Fri 28/8/2026 1 h; 29/8-2/9 off (Mon 31/8 swapped); Thu 3/9 07:00 + 7 h.
    ("Quốc khánh 2026", default_cal, "2026-08-28 16:00", Q::Days(1), "2026-09-03 16:00"),
    ("make-up Saturday 22/8/2026", default_cal, "2026-08-21 17:00", Q::Hours(1), "2026-08-22 08:00"),
    ("Tết opens after Tết", default_cal, "2026-02-14 09:00", Q::NextOpening, "2026-02-23 07:00"),
    // 2028 is not loaded: weekdays only. Fri 31/12/2027 1 h, then Mon 3/1/2028 7 h, although by
    // the Labour Code Mon 3/1 is the compensatory day for Sat 1/1: what the warning is for.
    ("past the loaded years: weekdays only", default_cal, "2027-12-31 16:00", Q::Days(1), "2028-01-03 16:00"),
    // Far outside the index (closed-form weeks): Fri 1 h, Mon 7 h.
    ("far future", default_cal, "2040-01-06 16:00", Q::Days(1), "2040-01-09 16:00"),
    ("before the index into it", default_cal, "1999-12-31 16:00", Q::Days(1), "2000-01-03 16:00"),
    ("far future over 3 weeks", default_cal, "2040-01-06 16:00", Q::Days(15), "2040-01-27 16:00"),
    // 07:30 opening: a day is 7 h 30; from 07:00 the clock starts 07:30 and ends 17:00.
    ("07:30 opening, 1 day from 07:00", late_opening, "2026-01-05 07:00", Q::Days(1), "2026-01-05 17:00"),
    // Fri 1 h, Sat 10/1 6 h 30: 4 h to 11:30, 2 h 30 from 13:30.
    ("07:30 opening over make-up Saturday", late_opening, "2026-01-09 16:00", Q::Days(1), "2026-01-10 16:00"),
    ("07:30 opening", late_opening, "2026-01-05 07:10", Q::NextOpening, "2026-01-05 07:30"),
    // Fri 27/2 1 h; the province's Mon 2/3-Tue 3/3 off; Wed 4/3 07:00 + 7 h.
    ("config holiday range", local_days, "2026-02-27 16:00", Q::Days(1), "2026-03-04 16:00"),
    // Fri 6/3 1 h; the province works Sat 7/3.
    ("config working Saturday", local_days, "2026-03-06 16:00", Q::Days(1), "2026-03-07 16:00"),
    ("config holiday in calendar days", local_days, "2026-02-27 10:00", Q::CalendarDays(3), "2026-03-04 17:00"),
];

#[test]
fn table_of_hand_worked_edge_cases() {
    let mut failures = Vec::new();
    for &(name, cal, from, q, expected) in TABLE {
        let (cal, from) = (cal(), vn(from));
        let got = match q {
            Q::Seconds(s) => cal.add_working_seconds(from, s),
            Q::Hours(h) => cal.add_working_hours(from, h),
            Q::Days(d) => cal.add_working_days(from, d),
            Q::CalendarDays(d) => cal.add_calendar_days(from, d),
            Q::NextOpening => cal.next_opening(from),
        };
        if got != vn(expected) {
            let local = got.with_timezone(&cal.time_zone());
            failures.push(format!("{name}: expected {expected}, got {local}"));
        }
        let asked = match q {
            Q::Seconds(s) => Some(s),
            Q::Hours(h) => Some(i64::from(h) * HOUR),
            Q::Days(d) => Some(i64::from(d) * cal.day_length_secs()),
            Q::CalendarDays(_) | Q::NextOpening => None,
        };
        if let Some(asked) = asked {
            let back = cal.working_seconds_between(from, got);
            if back != asked {
                failures.push(format!("{name}: {back} s between, expected {asked}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(TABLE.len() >= 30);
}

#[test]
fn working_time_between_instants() {
    let cal = default_cal();
    let between = |a, b| cal.working_seconds_between(vn(a), vn(b));
    // Fri 13/2 07:00 to Mon 23/2 07:00: only Friday counts.
    assert_eq!(between("2026-02-13 07:00", "2026-02-23 07:00"), DAY);
    assert_eq!(between("2026-01-05 11:30", "2026-01-05 13:30"), 0);
    assert_eq!(between("2026-01-08 12:00", "2026-01-08 14:00"), 1800);
    assert_eq!(between("2026-01-08 14:00", "2026-01-08 12:00"), 0);
    // 2025: 261 weekdays - 12 weekday holidays + Sat 26/4 = 250 days.
    assert_eq!(between("2025-01-01 00:00", "2026-01-01 00:00"), 250 * DAY);
    // 2026: 261 weekdays - 14 weekday holidays (with Tue 24/11) + Sat 10/1 and Sat 22/8 = 249.
    assert_eq!(between("2026-01-01 00:00", "2027-01-01 00:00"), 249 * DAY);
    // Provisional 2027: 261 weekdays - 12 weekday holidays (1/1; Tết Thu 4/2-Wed 10/2: 5;
    // 16/4; 30/4 and Mon 3/5; 2/9 and 3/9; 24/11) = 249 days.
    assert_eq!(between("2027-01-01 00:00", "2028-01-01 00:00"), 249 * DAY);
    // 2028 is not loaded: 260 weekdays (a leap year starting on a Saturday).
    assert_eq!(between("2028-01-01 00:00", "2029-01-01 00:00"), 260 * DAY);
}

#[test]
fn working_days_follow_the_announcements() {
    let cal = default_cal();
    for off in [
        "2025-01-01",
        "2025-01-31",
        "2025-04-07",
        "2025-05-02",
        "2025-09-01",
        "2026-01-02",
    ] {
        assert!(!cal.is_working_day(date(off)), "{off} is a day off");
    }
    for off in [
        "2026-02-16",
        "2026-04-27",
        "2026-05-01",
        "2026-08-31",
        "2026-09-02",
    ] {
        assert!(!cal.is_working_day(date(off)), "{off} is a day off");
    }
    for on in ["2025-04-26", "2026-01-10", "2026-08-22", "2026-02-23"] {
        assert!(cal.is_working_day(date(on)), "{on} is a working day");
    }
    assert!(!cal.is_working_day(date("2026-01-11")));
}

#[test]
fn the_office_is_open_in_sessions_of_working_days_only() {
    let cal = default_cal();
    let status = |t| cal.office_status(vn(t));
    // An ordinary working morning: open since 07:00.
    assert_eq!(status("2026-03-03 10:00"), (true, vn("2026-03-03 07:00")));
    // Lunch and after hours: closed until the next session.
    assert_eq!(status("2026-03-03 12:00"), (false, vn("2026-03-03 13:30")));
    assert_eq!(status("2026-03-03 17:00"), (false, vn("2026-03-04 07:00")));
    // New Year's Day 2026 (Thursday) and its swapped Friday: closed until Monday 5/1.
    assert_eq!(status("2026-01-01 10:00"), (false, vn("2026-01-05 07:00")));
    // Saturday 10/1/2026, a make-up working day, is open; the next Saturday is not.
    assert_eq!(status("2026-01-10 10:00"), (true, vn("2026-01-10 07:00")));
    assert_eq!(status("2026-01-17 10:00"), (false, vn("2026-01-19 07:00")));
    // Sub-second parts are ignored like everywhere else.
    let t = vn("2026-03-03 07:00") + chrono::TimeDelta::milliseconds(500);
    assert_eq!(cal.office_status(t), (true, vn("2026-03-03 07:00")));
}

#[test]
fn culture_day_2026_is_off_unless_the_operator_worked_it() {
    // Tue 24/11/2026, Ngày Văn hóa Việt Nam: one working day received Mon 23/11 at 16:00 has
    // 1 h left that day and 7 h on Wed 25/11.
    let cal = default_cal();
    assert!(!cal.is_working_day(date("2026-11-24")));
    assert_eq!(
        cal.add_working_days(vn("2026-11-23 16:00"), 1),
        vn("2026-11-25 16:00")
    );
    let worked = with(|s| s.working_days = vec!["2026-11-24".to_owned()]);
    assert!(worked.is_working_day(date("2026-11-24")));
    assert_eq!(
        worked.add_working_days(vn("2026-11-23 16:00"), 1),
        vn("2026-11-24 16:00")
    );
}

#[test]
fn coverage_reaches_the_last_contiguous_loaded_year() {
    let cal = default_cal();
    // The provisional 2027 counts as loaded: its holidays are better than weekdays only.
    assert_eq!(cal.covered_until(), Some(date("2027-12-31")));
    // The end of 31/12/2027, local midnight.
    assert_eq!(cal.coverage_end(), Some(vn("2028-01-01 00:00")));
    assert_eq!(cal.day_length_secs(), DAY);
    assert_eq!(late_opening().day_length_secs(), 7 * HOUR + 1800);
    let none = with(|s| s.builtin = false);
    assert_eq!(none.covered_until(), None);
    assert_eq!(none.coverage_end(), None);
    assert!(none.is_working_day(date("2026-01-02")));
}

#[test]
fn a_question_past_the_loaded_years_is_flagged_once() {
    let cal = with(|_| ());
    cal.add_working_days(vn("2027-12-01 10:00"), 3);
    assert!(!cal.warned_uncovered.load(Ordering::Relaxed));
    // 2027-12-31 + 1 day lands in 2028, which no file covers.
    cal.add_working_days(vn("2027-12-31 10:00"), 1);
    assert!(cal.warned_uncovered.load(Ordering::Relaxed));
}

#[test]
fn the_provisional_2027_skips_new_year_and_is_flagged() {
    let cal = default_cal();
    assert_eq!(cal.provisional_years(), [2027]);
    // Mon 28, Tue 29, Wed 30, Thu 31/12/2026 are four days; Fri 1/1/2027 is Tết Dương lịch and
    // Sat-Sun the weekend, so the fifth day ends Mon 4/1/2027 17:00 (weekdays only: Fri 1/1).
    assert_eq!(
        cal.add_working_days(vn("2026-12-28 07:00"), 5),
        vn("2027-01-04 17:00")
    );
    for off in [
        "2027-02-04",
        "2027-02-10",
        "2027-04-16",
        "2027-05-03",
        "2027-09-03",
        "2027-11-24",
    ] {
        assert!(!cal.is_working_day(date(off)), "{off} is a day off");
    }
    assert!(cal.is_working_day(date("2027-02-11")));
}

const YEAR_2027: &str = r#"
    year = 2027
    days_off = [{ from = "2027-02-05", to = "2027-02-12", name = "Tết Nguyên Đán" }]
    working_days = [{ date = "2027-01-30", name = "Làm bù" }]
"#;

#[test]
fn a_user_file_extends_coverage_and_a_file_for_a_shipped_year_replaces_it() {
    let settings = CalendarSettings {
        files: vec!["extra/2027.toml".into(), "extra/2026.toml".into()],
        ..CalendarSettings::default()
    };
    let cal = Calendar::build(&settings, |p| match p.to_str() {
        Some("extra/2027.toml") => Ok(YEAR_2027.to_owned()),
        _ => Ok("year = 2026".to_owned()),
    })
    .unwrap();
    assert_eq!(cal.covered_until(), Some(date("2027-12-31")));
    assert!(!cal.is_working_day(date("2027-02-08")));
    assert!(cal.is_working_day(date("2027-01-30")));
    // The official 2027 replaces the provisional one entirely: its Tết starts on 5/2, and this
    // test file leaves 1/1 out.
    assert_eq!(cal.provisional_years(), [] as [i32; 0]);
    assert!(cal.is_working_day(date("2027-02-04")));
    assert!(cal.is_working_day(date("2027-01-01")));
    // The replaced 2026 has no holidays at all.
    assert!(cal.is_working_day(date("2026-02-16")));
    assert!(!cal.is_working_day(date("2026-01-10")));
    assert!(!cal.is_working_day(date("2025-01-01")));
}

#[test]
fn a_gap_between_years_ends_coverage() {
    let settings = CalendarSettings {
        files: vec!["2029.toml".into()],
        ..CalendarSettings::default()
    };
    let cal = Calendar::build(&settings, |_| Ok("year = 2029".to_owned())).unwrap();
    assert_eq!(cal.covered_until(), Some(date("2027-12-31")));
}

#[test]
fn invalid_settings_report_every_problem_with_its_key() {
    let settings = CalendarSettings {
        time_zone: "Asia/Hanoi".into(),
        sessions: vec![
            "07:00-11:30".into(),
            "13:30-12:00".into(),
            "11:00-12:00".into(),
        ],
        working_weekdays: vec!["Mon".into(), "Thứ 3".into()],
        holidays: vec!["2026-02-30".into(), "2026-03-01..2026-03-05".into()],
        working_days: vec!["2026-03-04".into()],
        files: vec!["missing.toml".into(), "bad.toml".into()],
        builtin: true,
    };
    let err = Calendar::build(&settings, |p| match p.to_str() {
        Some("bad.toml") => Ok("year = 2027\nextra = 1".to_owned()),
        _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    })
    .unwrap_err();
    let lines: Vec<String> = err.problems.iter().map(|p| p.to_string()).collect();
    let expected = [
        "calendar.time_zone: \"Asia/Hanoi\" is unknown; expected an IANA time zone name such as \"Asia/Ho_Chi_Minh\"",
        "calendar.sessions[1]: \"13:30-12:00\" ends before it starts; expected HH:MM-HH:MM with start < end",
        "calendar.sessions[2]: \"11:00-12:00\" starts before the previous session ends; expected sessions in order of the day, without overlap",
        "calendar.working_weekdays[1]: \"Thứ 3\" is not a weekday; expected an English weekday name: Mon..Sun or Monday..Sunday",
        "calendar.files[0]: \"missing.toml\" cannot be read (entity not found); expected a readable calendar year file",
    ];
    assert_eq!(lines[..5], expected);
    assert!(
        lines[5].starts_with(
            "bad.toml: \"bad.toml\" is not a calendar year file (unknown field `extra`"
        )
    );
    assert_eq!(
        lines[6],
        "calendar.holidays[0]: \"2026-02-30\" is not a date; expected YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD with start <= end"
    );
    assert_eq!(
        lines[7],
        "calendar.working_days[0]: \"2026-03-04\" contains 2026-03-04, which `calendar.holidays` also lists; expected each date either a holiday or a working day"
    );
    assert_eq!(lines.len(), 8);
    assert!(
        err.to_string()
            .starts_with("8 problems in the calendar:\n  - calendar.time_zone")
    );
}

#[test]
fn empty_lists_are_rejected() {
    let settings = CalendarSettings {
        sessions: vec![],
        working_weekdays: vec![],
        ..CalendarSettings::default()
    };
    let keys: Vec<String> = Calendar::from_settings(&settings)
        .unwrap_err()
        .problems
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(keys, ["calendar.sessions", "calendar.working_weekdays"]);
}

#[test]
fn settings_deserialize_strictly_with_defaults() {
    let s: CalendarSettings = toml::from_str("holidays = [\"2026-03-02\"]").unwrap();
    assert_eq!(s.sessions, CalendarSettings::default().sessions);
    assert_eq!(s.holidays, ["2026-03-02"]);
    assert!(toml::from_str::<CalendarSettings>("timezone = \"UTC\"").is_err());
}

/// An oracle written from the announcements, independent of the year files and the index.
fn oracle_is_working_day(d: NaiveDate) -> bool {
    const OFF: &[(&str, &str)] = &[
        ("2025-01-01", "2025-01-01"),
        ("2025-01-25", "2025-02-02"),
        ("2025-04-05", "2025-04-07"),
        ("2025-04-30", "2025-05-04"),
        ("2025-08-30", "2025-09-02"),
        ("2026-01-01", "2026-01-04"),
        ("2026-02-14", "2026-02-22"),
        ("2026-04-25", "2026-04-27"),
        ("2026-04-30", "2026-05-03"),
        ("2026-08-29", "2026-09-02"),
        // Ngày Văn hóa Việt Nam, a paid day off from 2026 (calendars/2026.toml).
        ("2026-11-24", "2026-11-24"),
        // The provisional 2027, from the Labour Code's fixed days.
        ("2027-01-01", "2027-01-01"),
        ("2027-02-04", "2027-02-10"),
        ("2027-04-16", "2027-04-16"),
        ("2027-04-30", "2027-05-03"),
        ("2027-09-02", "2027-09-03"),
        ("2027-11-24", "2027-11-24"),
    ];
    const MAKE_UP: &[&str] = &["2025-04-26", "2026-01-10", "2026-08-22"];
    // Parsed once: the oracle runs for every minute of every generated case.
    type Days = (Vec<(NaiveDate, NaiveDate)>, Vec<NaiveDate>);
    static DAYS: OnceLock<Days> = OnceLock::new();
    let (off, make_up) = DAYS.get_or_init(|| {
        let off = OFF.iter().map(|(a, b)| (date(a), date(b))).collect();
        (off, MAKE_UP.iter().map(|m| date(m)).collect())
    });
    if make_up.contains(&d) {
        return true;
    }
    if off.iter().any(|(a, b)| *a <= d && d <= *b) {
        return false;
    }
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Whether the minute starting at local `t` is office time.
fn oracle_minute_works(t: NaiveDateTime) -> bool {
    let m = t.hour() * 60 + t.minute();
    oracle_is_working_day(t.date()) && ((420..690).contains(&m) || (810..1020).contains(&m))
}

fn local(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc() + TimeDelta::hours(7)
}

/// Instants from mid-2024 to 2028, so that both ends of the loaded years are crossed.
fn instant_secs() -> impl Strategy<Value = DateTime<Utc>> {
    (1_717_200_000i64..1_830_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn minute_instant() -> impl Strategy<Value = DateTime<Utc>> {
    instant_secs().prop_map(|t| DateTime::from_timestamp(t.timestamp() / 60 * 60, 0).unwrap())
}

proptest! {
    #[test]
    fn adding_then_measuring_gives_back_the_duration(t in instant_secs(), d in 0i64..60 * DAY) {
        let cal = default_cal();
        prop_assert_eq!(cal.working_seconds_between(t, cal.add_working_seconds(t, d)), d);
    }

    #[test]
    fn adding_is_monotonic_in_start_and_duration(
        t in instant_secs(), gap in 0i64..400_000, d in 0i64..20 * DAY, more in 0i64..DAY
    ) {
        let cal = default_cal();
        let later = t + TimeDelta::seconds(gap);
        prop_assert!(cal.add_working_seconds(t, d) <= cal.add_working_seconds(later, d));
        prop_assert!(cal.add_working_seconds(t, d) <= cal.add_working_seconds(t, d + more));
    }

    #[test]
    fn a_due_instant_is_the_end_of_a_worked_second(t in instant_secs(), d in 1i64..60 * DAY) {
        // The earliest instant: the second just before it was office time, so the result is
        // inside a session or exactly at a session's end, never in a break or a rest day.
        let cal = default_cal();
        let due = cal.add_working_seconds(t, d);
        prop_assert_eq!(cal.working_seconds_between(due - TimeDelta::seconds(1), due), 1);
        let l = local(due - TimeDelta::seconds(1));
        prop_assert!(oracle_minute_works(l.with_second(0).unwrap()));
    }

    #[test]
    fn the_index_agrees_with_a_minute_by_minute_oracle(
        t in minute_instant(), minutes in 0i64..5 * 24 * 60, worked in 1i64..3 * 8 * 60
    ) {
        let cal = default_cal();
        let start = local(t);
        let counted = (0..minutes)
            .filter(|m| oracle_minute_works(start + TimeDelta::minutes(*m)))
            .count() as i64;
        let end = t + TimeDelta::minutes(minutes);
        prop_assert_eq!(cal.working_seconds_between(t, end), counted * 60);

        let mut left = worked;
        let mut m = 0;
        while left > 0 {
            if oracle_minute_works(start + TimeDelta::minutes(m)) {
                left -= 1;
            }
            m += 1;
        }
        prop_assert_eq!(cal.add_working_seconds(t, worked * 60), t + TimeDelta::minutes(m));
    }

    #[test]
    fn next_opening_is_open_and_never_earlier(t in instant_secs()) {
        let cal = default_cal();
        let open = cal.next_opening(t);
        prop_assert!(open >= t);
        prop_assert!(oracle_minute_works(local(open).with_second(0).unwrap()));
        prop_assert_eq!(cal.working_seconds_between(t, open), 0);
    }
}

/// The block of one month in the Alertmanager export, from its `years` line to its `location`.
fn alertmanager_month(cal: &Calendar, year: i32, month: &str) -> Option<String> {
    let out = cal.alertmanager_time_intervals("office");
    let head = format!("      - years: [\"{year}\"]\n        months: [{month}]\n");
    let start = out.find(&head)?;
    let days = out[start + head.len()..].lines().next()?;
    Some(days.trim().to_owned())
}

#[test]
fn alertmanager_intervals_hold_the_working_days_of_each_month() {
    let cal = default_cal();
    // January 2026: 1-4 off (Tết Dương lịch with Fri 2/1 swapped), Sat 10/1 worked instead.
    assert_eq!(
        alertmanager_month(cal, 2026, "january").as_deref(),
        Some(r#"days_of_month: ["5:10", "12:16", "19:23", "26:30"]"#)
    );
    // November 2026: Tue 24/11 is Ngày Văn hóa Việt Nam, unless the centre worked it.
    assert_eq!(
        alertmanager_month(cal, 2026, "november").as_deref(),
        Some(r#"days_of_month: ["2:6", "9:13", "16:20", "23", "25:27", "30"]"#)
    );
    let worked = with(|s| s.working_days = vec!["2026-11-24".to_owned()]);
    assert_eq!(
        alertmanager_month(&worked, 2026, "november").as_deref(),
        Some(r#"days_of_month: ["2:6", "9:13", "16:20", "23:27", "30"]"#)
    );
    let out = cal.alertmanager_time_intervals("office");
    assert!(out.starts_with("# Generated"), "{out}");
    assert!(out.contains("time_intervals:\n  - name: office\n"), "{out}");
    assert!(
        out.contains(r#"times: [{start_time: "07:00", end_time: "11:30"}, {start_time: "13:30", end_time: "17:00"}]"#),
        "{out}"
    );
    // The provisional 2027 is the last loaded year; from 2028 the weekday rule, as in the service.
    assert!(out.contains("provisional: 2027"), "{out}");
    assert!(
        out.ends_with(
            "      - years: [\"2028:9999\"]\n        weekdays: [monday, tuesday, wednesday, thursday, friday]\n        times: [{start_time: \"07:00\", end_time: \"11:30\"}, {start_time: \"13:30\", end_time: \"17:00\"}]\n        location: Asia/Ho_Chi_Minh\n"
        ),
        "{out}"
    );
}

#[test]
fn alertmanager_intervals_follow_the_configured_sessions_and_weekdays() {
    let cal = with(|s| {
        s.builtin = false;
        s.sessions = vec!["07:30-11:30".to_owned(), "13:00-16:30".to_owned()];
        s.working_weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
            .map(str::to_owned)
            .to_vec();
    });
    let out = cal.alertmanager_time_intervals("office");
    // No year loaded: the weekday rule alone, for every year.
    assert!(
        out.ends_with(
            "      - weekdays: [monday, tuesday, wednesday, thursday, friday, saturday]\n        times: [{start_time: \"07:30\", end_time: \"11:30\"}, {start_time: \"13:00\", end_time: \"16:30\"}]\n        location: Asia/Ho_Chi_Minh\n"
        ),
        "{out}"
    );
    assert!(!out.contains("years:"), "{out}");
}

/// The events of the iCalendar export as (DTSTART, DTEND, SUMMARY, CATEGORIES), unfolded.
fn ical_events(cal: &Calendar) -> Vec<(String, String, String, String)> {
    let stamp = vn("2026-12-03 09:00");
    let text = cal.ical(stamp).replace("\r\n ", "");
    let field = |event: &str, key: &str| {
        event
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_default()
            .trim_end()
            .to_owned()
    };
    text.split("BEGIN:VEVENT")
        .skip(1)
        .map(|e| {
            assert!(e.contains("DTSTAMP:20261203T020000Z"), "{e}");
            (
                field(e, "DTSTART;VALUE=DATE:"),
                field(e, "DTEND;VALUE=DATE:"),
                field(e, "SUMMARY:"),
                field(e, "CATEGORIES:"),
            )
        })
        .collect()
}

#[test]
fn the_ical_export_lists_days_off_and_make_up_days_as_announced() {
    let events = ical_events(default_cal());
    let event = |start: &str| events.iter().find(|e| e.0 == start).cloned();
    let e = |a: &str, b: &str, s: &str, c: &str| Some((a.into(), b.into(), s.into(), c.into()));
    // Tết Nguyên Đán 2026: Sat 14/2 to Sun 22/2, the end date exclusive as RFC 5545 wants.
    assert_eq!(
        event("20260214"),
        e("20260214", "20260223", "Tết Nguyên Đán", "Ngày nghỉ")
    );
    assert_eq!(
        event("20260110"),
        e(
            "20260110",
            "20260111",
            "Làm bù cho thứ Sáu 2/1",
            "Ngày làm việc"
        )
    );
    assert_eq!(
        event("20261124"),
        e("20261124", "20261125", "Ngày Văn hóa Việt Nam", "Ngày nghỉ")
    );
    // 2027 is provisional, and says so on every event.
    let jan_2027 = event("20270101").expect("1/1/2027 is listed");
    assert!(jan_2027.2.ends_with("(tạm tính)"), "{jan_2027:?}");
    // Nothing but listed days: no plain weekend, no plain working day.
    assert!(event("20260307").is_none());

    // A centre that worked 24/11 sees that, not the holiday.
    let worked = with(|s| s.working_days = vec!["2026-11-24".to_owned()]);
    let events = ical_events(&worked);
    let nov = events.iter().find(|e| e.0 == "20261124").unwrap();
    assert_eq!(
        (nov.2.as_str(), nov.3.as_str()),
        ("Làm việc (theo cấu hình của trung tâm)", "Ngày làm việc")
    );
}
