//! Numbers and working durations in Vietnamese, for emails, report tables and templates: the
//! one place that decides how a number reads in Vietnamese text (JSON keeps plain numbers).

/// `1234567` → `"1.234.567"`: Vietnamese groups thousands with a dot (the comma is the decimal
/// mark).
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(d);
    }
    out
}

/// `0.985` → `"98,5 %"` with one decimal: a decimal comma, and a space before the sign as
/// Vietnamese typography writes it. The integer part is grouped like `format_count`.
pub fn format_percent(fraction: f64, decimals: usize) -> String {
    format!("{} %", format_decimal(fraction * 100.0, decimals))
}

/// `15.5` → `"15,50"` with two decimals: a decimal comma, the integer part grouped like
/// `format_count`.
pub fn format_decimal(x: f64, decimals: usize) -> String {
    let fixed = format!("{x:.decimals$}");
    let (int, frac) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let (sign, int) = int.strip_prefix('-').map_or(("", int), |i| ("-", i));
    let int = int
        .parse::<u64>()
        .map_or_else(|_| int.to_string(), format_count);
    match frac {
        "" => format!("{sign}{int}"),
        frac => format!("{sign}{int},{frac}"),
    }
}

/// `"còn 1 ngày 2 giờ làm việc"`, `"còn 45 phút làm việc"`, `"quá hạn 2 giờ làm việc"`: days of
/// `day_len_secs` and hours when a day or more, hours and minutes below. Time left is rounded
/// down and time overdue up, so that a message never makes a deadline look further away.
pub fn format_working_duration(secs: i64, day_len_secs: i64) -> String {
    let (prefix, minutes) = if secs >= 0 {
        ("còn", secs.unsigned_abs() / 60)
    } else {
        ("quá hạn", secs.unsigned_abs().div_ceil(60))
    };
    let day_minutes = (day_len_secs.unsigned_abs() / 60).max(1);
    let (days, rest) = (minutes / day_minutes, minutes % day_minutes);
    let (hours, mins) = (rest / 60, rest % 60);
    let amount = match (days, hours, mins) {
        (0, 0, m) => format!("{m} phút"),
        (0, h, 0) => format!("{h} giờ"),
        (0, h, m) => format!("{h} giờ {m} phút"),
        (d, 0, _) => format!("{} ngày", format_count(d)),
        (d, h, _) => format!("{} ngày {h} giờ", format_count(d)),
    };
    format!("{prefix} {amount} làm việc")
}

/// What an email or the CLI says of a dossier's working time left: `format_working_duration`,
/// except that an overdue dossier always reads as overdue. One whose deadline passed outside
/// working hours has no working minute past it yet: "vừa quá hạn", never "còn 0 phút".
pub fn format_time_left(secs: i64, overdue: bool, day_len_secs: i64) -> String {
    if overdue && secs >= 0 {
        "vừa quá hạn".to_string()
    } else {
        format_working_duration(secs, day_len_secs)
    }
}

/// `"1 working hour"`, `"2 working hours"`, `"0.5 working hours"`: an amount as written and an
/// English noun that takes an s, singular only for exactly one.
pub fn english_count(amount: impl std::fmt::Display, noun: &str) -> String {
    let amount = amount.to_string();
    let s = if amount == "1" { "" } else { "s" };
    format!("{amount} {noun}{s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 8 * 3600;

    #[test]
    fn counts_group_thousands_with_a_dot() {
        let cases = [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1_000, "1.000"),
            (12_345, "12.345"),
            (999_999, "999.999"),
            (1_234_567, "1.234.567"),
            (u64::MAX, "18.446.744.073.709.551.615"),
        ];
        for (n, text) in cases {
            assert_eq!(format_count(n), text);
        }
    }

    #[test]
    fn scores_take_a_decimal_comma() {
        assert_eq!(format_decimal(15.0, 2), "15,00");
        assert_eq!(format_decimal(20.0 * 2.0 / 3.0, 2), "13,33");
        assert_eq!(format_decimal(1234.5, 1), "1.234,5");
        assert_eq!(format_decimal(7.0, 0), "7");
    }

    #[test]
    fn rates_take_a_decimal_comma_and_a_space_before_the_sign() {
        let cases = [
            (0.985, 1, "98,5 %"),
            (1.0, 1, "100,0 %"),
            (0.0, 1, "0,0 %"),
            (2.0 / 3.0, 1, "66,7 %"),
            (0.75, 0, "75 %"),
            (12.345, 1, "1.234,5 %"),
            (-0.05, 1, "-5,0 %"),
        ];
        for (fraction, decimals, text) in cases {
            assert_eq!(format_percent(fraction, decimals), text, "{fraction}");
        }
    }

    #[test]
    fn durations_read_as_the_emails_say_them() {
        let cases = [
            (3 * 3600, "còn 3 giờ làm việc"),
            (DAY + 2 * 3600, "còn 1 ngày 2 giờ làm việc"),
            (DAY + 2 * 3600 + 59 * 60, "còn 1 ngày 2 giờ làm việc"),
            (3 * DAY, "còn 3 ngày làm việc"),
            (45 * 60 + 59, "còn 45 phút làm việc"),
            (2 * 3600 + 30 * 60, "còn 2 giờ 30 phút làm việc"),
            (0, "còn 0 phút làm việc"),
            (-2 * 3600, "quá hạn 2 giờ làm việc"),
            (-30, "quá hạn 1 phút làm việc"),
            (-(DAY + 61), "quá hạn 1 ngày làm việc"),
            (1_200 * DAY, "còn 1.200 ngày làm việc"),
        ];
        for (secs, text) in cases {
            assert_eq!(format_working_duration(secs, DAY), text, "{secs} s");
        }
        // A 7 h 30 day.
        assert_eq!(
            format_working_duration(8 * 3600, 27_000),
            "còn 1 ngày làm việc"
        );
    }

    #[test]
    fn an_overdue_dossier_reads_as_overdue_even_with_no_working_minute_past_its_deadline() {
        assert_eq!(
            format_time_left(-2 * 3600, true, DAY),
            "quá hạn 2 giờ làm việc"
        );
        assert_eq!(format_time_left(0, true, DAY), "vừa quá hạn");
        assert_eq!(format_time_left(0, false, DAY), "còn 0 phút làm việc");
        assert_eq!(
            format_time_left(90 * 60, false, DAY),
            "còn 1 giờ 30 phút làm việc"
        );
    }

    #[test]
    fn english_nouns_are_singular_for_exactly_one() {
        assert_eq!(english_count(1, "working hour"), "1 working hour");
        assert_eq!(english_count(2, "working hour"), "2 working hours");
        assert_eq!(english_count(0, "open dossier"), "0 open dossiers");
        assert_eq!(english_count(1.5, "working hour"), "1.5 working hours");
        assert_eq!(english_count(1.0, "working hour"), "1 working hour");
    }
}
