//! Calendar year files: the days off and make-up working days of one year, as announced.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::error::Problem;

/// Shipped years, embedded so that the binary needs no file at run time.
pub(super) const BUILTIN: [(&str, &str); 3] = [
    (
        "calendars/2025.toml",
        include_str!("../../calendars/2025.toml"),
    ),
    (
        "calendars/2026.toml",
        include_str!("../../calendars/2026.toml"),
    ),
    (
        "calendars/2027.toml",
        include_str!("../../calendars/2027.toml"),
    ),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    year: i32,
    /// Built from the Labour Code's fixed days because the year is not announced yet.
    #[serde(default)]
    provisional: bool,
    #[serde(default)]
    days_off: Vec<RawSpan>,
    #[serde(default)]
    working_days: Vec<RawDay>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpan {
    from: NaiveDate,
    to: Option<NaiveDate>,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDay {
    date: NaiveDate,
    name: String,
}

/// A validated year: every date lies in `year`, and no date is both off and working.
#[derive(Debug)]
pub(super) struct YearFile {
    pub year: i32,
    pub provisional: bool,
    pub days_off: Vec<NaiveDate>,
    pub working_days: Vec<NaiveDate>,
    /// Each listed date's name as announced, for calendars people subscribe to.
    pub names: BTreeMap<NaiveDate, String>,
}

const EXPECTED_FILE: &str =
    "a TOML file with `year`, `days_off = [{ from, to, name }]`, `working_days = [{ date, name }]`";

/// `origin` names the file in problems (its path, or `calendars/2026.toml` for a shipped one).
pub(super) fn parse(origin: &str, text: &str) -> Result<YearFile, Vec<Problem>> {
    let raw: RawYear = toml::from_str(text).map_err(|e| {
        let reason = format!("is not a calendar year file ({})", e.message());
        vec![Problem::new(origin, origin, reason, EXPECTED_FILE)]
    })?;
    let mut problems = Vec::new();
    let in_year = |key: String, date: NaiveDate, problems: &mut Vec<Problem>| {
        if date.year() != raw.year {
            let reason = format!("is outside the file's year {}", raw.year);
            problems.push(Problem::new(
                key,
                date.to_string(),
                reason,
                "a date in `year`",
            ));
        }
    };
    let named = |key: String, name: &str, problems: &mut Vec<Problem>| {
        if name.trim().is_empty() {
            let expected = "the holiday's name as announced, for people reading the file";
            problems.push(Problem::new(key, name, "is empty", expected));
        }
    };

    let mut days_off = Vec::new();
    let mut names = BTreeMap::new();
    for (i, span) in raw.days_off.iter().enumerate() {
        let key = |field: &str| format!("{origin}: days_off[{i}].{field}");
        let to = span.to.unwrap_or(span.from);
        in_year(key("from"), span.from, &mut problems);
        in_year(key("to"), to, &mut problems);
        named(key("name"), &span.name, &mut problems);
        if to < span.from {
            let expected = "`to` on or after `from`";
            problems.push(Problem::new(
                key("to"),
                to.to_string(),
                "ends before `from`",
                expected,
            ));
        }
        let span_days = span.from.iter_days().take_while(|d| *d <= to);
        names.extend(span_days.clone().map(|d| (d, span.name.trim().to_owned())));
        days_off.extend(span_days);
    }
    let mut working_days = Vec::new();
    for (i, day) in raw.working_days.iter().enumerate() {
        let key = |field: &str| format!("{origin}: working_days[{i}].{field}");
        in_year(key("date"), day.date, &mut problems);
        named(key("name"), &day.name, &mut problems);
        if days_off.contains(&day.date) {
            let reason = "is also listed in `days_off`";
            let expected = "each date either off or working";
            problems.push(Problem::new(
                key("date"),
                day.date.to_string(),
                reason,
                expected,
            ));
        }
        names.insert(day.date, day.name.trim().to_owned());
        working_days.push(day.date);
    }

    if problems.is_empty() {
        Ok(YearFile {
            year: raw.year,
            provisional: raw.provisional,
            days_off,
            working_days,
            names,
        })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_years_parse() {
        for (origin, text) in BUILTIN {
            let year = parse(origin, text).expect("a shipped year file is valid");
            assert!(origin.contains(&year.year.to_string()));
        }
    }

    #[test]
    fn a_year_file_reports_every_problem_with_its_key() {
        let text = r#"
            year = 2027
            days_off = [{ from = "2027-02-10", to = "2027-02-05", name = "Tết" },
                        { from = "2028-01-01", name = " " }]
            working_days = [{ date = "2027-02-06", name = "Làm bù" }]
        "#;
        let problems = parse("2027.toml", text).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "2027.toml: days_off[0].to",
                "2027.toml: days_off[1].from",
                "2027.toml: days_off[1].to",
                "2027.toml: days_off[1].name",
            ]
        );
    }

    #[test]
    fn a_date_both_off_and_working_is_rejected() {
        let text = r#"
            year = 2027
            days_off = [{ from = "2027-02-05", to = "2027-02-08", name = "Tết" }]
            working_days = [{ date = "2027-02-06", name = "Làm bù" }]
        "#;
        let problems = parse("2027.toml", text).unwrap_err();
        assert_eq!(
            problems[0].to_string(),
            "2027.toml: working_days[0].date: \"2027-02-06\" is also listed in `days_off`; \
             expected each date either off or working"
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let problems = parse("x.toml", "year = 2027\nholidays = []").unwrap_err();
        assert!(problems[0].reason.contains("unknown field"), "{problems:?}");
    }
}
