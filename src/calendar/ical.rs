//! The days off and make-up working days as an iCalendar file (RFC 5545) that staff and
//! leaders can subscribe to, so that their phones show the same days as the service counts.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::Calendar;

/// RFC 5545 §3.1: content lines are folded at 75 octets.
const LINE_OCTETS: usize = 75;

/// A run of consecutive listed dates with the same status and name: one event.
struct Event {
    first: NaiveDate,
    last: NaiveDate,
    working: bool,
    name: String,
}

impl Calendar {
    /// Every date the year files or `[calendar]` list, as all-day events: days off as the
    /// files name them, make-up days likewise, and the operator's own changes named as such.
    /// `stamp` is the DTSTAMP every event carries (when the file was made).
    pub fn ical(&self, stamp: DateTime<Utc>) -> String {
        let mut out = String::new();
        for line in [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//hcc-monitor//working calendar//VI",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:Lịch làm việc (hcc-monitor)",
        ] {
            content_line(&mut out, line);
        }
        for event in self.events() {
            let kind = if event.working { "work" } else { "off" };
            let provisional = if self.provisional.contains(&event.first.year()) {
                " (tạm tính)"
            } else {
                ""
            };
            let category = if event.working {
                "Ngày làm việc"
            } else {
                "Ngày nghỉ"
            };
            let end = event.last.succ_opt().unwrap_or(event.last);
            for line in [
                "BEGIN:VEVENT".to_owned(),
                format!("UID:{}-{kind}@hcc-monitor", event.first.format("%Y%m%d")),
                format!("DTSTAMP:{}", stamp.format("%Y%m%dT%H%M%SZ")),
                format!("DTSTART;VALUE=DATE:{}", event.first.format("%Y%m%d")),
                format!("DTEND;VALUE=DATE:{}", end.format("%Y%m%d")),
                format!("SUMMARY:{}{provisional}", escape(&event.name)),
                format!("CATEGORIES:{category}"),
                "TRANSP:TRANSPARENT".to_owned(),
                "END:VEVENT".to_owned(),
            ] {
                content_line(&mut out, &line);
            }
        }
        content_line(&mut out, "END:VCALENDAR");
        out
    }

    fn events(&self) -> Vec<Event> {
        let mut events: Vec<Event> = Vec::new();
        for (&date, &working) in &self.listed {
            let name = match self.names.get(&date) {
                Some((as_listed, name)) if *as_listed == working => name.clone(),
                _ if working => "Làm việc (theo cấu hình của trung tâm)".to_owned(),
                _ => "Nghỉ (theo cấu hình của trung tâm)".to_owned(),
            };
            match events.last_mut() {
                Some(e)
                    if e.working == working
                        && e.name == name
                        && e.last.succ_opt() == Some(date) =>
                {
                    e.last = date;
                }
                _ => events.push(Event {
                    first: date,
                    last: date,
                    working,
                    name,
                }),
            }
        }
        events
    }
}

/// RFC 5545 §3.3.11: backslash, semicolon and comma are escaped in TEXT values.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Appends `line` with CRLF, folded before 75 octets and never inside a UTF-8 character.
fn content_line(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        if used + c.len_utf8() > LINE_OCTETS {
            out.push_str("\r\n ");
            // The folding space counts towards the continuation line.
            used = 1;
        }
        out.push(c);
        used += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_before_75_octets_between_characters() {
        let name = "SUMMARY:".to_owned() + &"Ngày Văn hóa Việt Nam, ".repeat(6);
        let mut out = String::new();
        content_line(&mut out, &name);
        assert!(out.ends_with("\r\n"));
        let lines: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(lines.len() > 2, "{out}");
        assert!(lines.iter().all(|l| l.len() <= LINE_OCTETS), "{lines:?}");
        assert!(lines[1..].iter().all(|l| l.starts_with(' ')));
        // Unfolding (RFC 5545 §3.1: drop each CRLF and the one space after it) gives it back.
        assert_eq!(out.trim_end_matches("\r\n").replace("\r\n ", ""), name);
    }

    #[test]
    fn text_values_escape_what_ical_reserves() {
        assert_eq!(escape(r"Tết; nghỉ, bù\x"), r"Tết\; nghỉ\, bù\\x");
    }
}
