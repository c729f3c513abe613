//! Metric label values that come from the data (departments, procedures, stages): what a code
//! may look like, and which values of a label a source keeps when it has too many. Every label
//! value is a series of its own; a province has about 1,500 procedures.

use std::collections::{HashMap, HashSet};

/// The label of the values beyond a source's limit.
pub const OTHER: &str = "other";

/// Longest code admitted as a label value.
pub const CODE_MAX_CHARS: usize = 64;

/// What a code is, for messages that refuse one.
pub const CODE_RULE: &str = "letters, digits, '_', '-', '.', '/', at most 64 characters";

/// Whether `value` is a code: never a person's or a unit's name written out (those have
/// spaces), so a label cannot carry personal data or a free text's endless variants.
pub fn is_code(value: &str) -> bool {
    !value.is_empty()
        && value.chars().count() <= CODE_MAX_CHARS
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || "_-./".contains(c))
}

/// The values of one label that each source keeps.
pub type Admitted = HashMap<String, HashSet<String>>;

/// Per source, the `max` values with the highest volume; equal volumes go to the smaller value,
/// so that the same data keeps the same labels. `volumes` may name a (source, value) more than
/// once: the volumes add up.
pub fn busiest<'a>(
    volumes: impl IntoIterator<Item = (&'a str, &'a str, u64)>,
    max: usize,
) -> Admitted {
    let mut totals: HashMap<&str, HashMap<&str, u64>> = HashMap::new();
    for (source, value, n) in volumes {
        *totals.entry(source).or_default().entry(value).or_default() += n;
    }
    totals
        .into_iter()
        .map(|(source, values)| {
            let mut ranked: Vec<(&str, u64)> = values.into_iter().collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let kept = ranked.into_iter().take(max).map(|(v, _)| v.to_string());
            (source.to_string(), kept.collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_no_spaces_and_a_bounded_length() {
        for code in ["SO_XAY_DUNG", "1.001234", "UBND-PHUONG/01", "SỞ_TƯ_PHÁP"] {
            assert!(is_code(code), "{code}");
        }
        let long = "A".repeat(CODE_MAX_CHARS + 1);
        for not in [
            "",
            "Sở Xây dựng",
            "SO_XAY_DUNG ",
            "A\tB",
            "x=1",
            long.as_str(),
        ] {
            assert!(!is_code(not), "{not:?}");
        }
        assert!(is_code(&long[1..]));
        assert!(CODE_RULE.contains(&format!("at most {CODE_MAX_CHARS} characters")));
    }

    #[test]
    fn each_source_keeps_its_busiest_values_and_ties_go_to_the_smaller() {
        let volumes = [
            ("a", "P1", 5),
            ("a", "P2", 9),
            ("a", "P3", 5),
            ("a", "P4", 1),
            ("a", "P4", 8),
            ("b", "P9", 1),
        ];
        let kept = busiest(volumes, 2);
        let a: HashSet<String> = ["P2", "P4"].map(String::from).into();
        assert_eq!(kept["a"], a, "P4's volumes add up to 9");
        assert!(busiest(volumes, 3)["a"].contains("P1"));
        assert!(!busiest(volumes, 3)["a"].contains("P3"), "tie with P1");
        assert_eq!(kept["b"].len(), 1);
    }
}
