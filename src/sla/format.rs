//! Working durations in Vietnamese, for emails and reports.

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
        (d, 0, _) => format!("{d} ngày"),
        (d, h, _) => format!("{d} ngày {h} giờ"),
    };
    format!("{prefix} {amount} làm việc")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 8 * 3600;

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
}
