//! What a source is for the SLA: the system of record (`role = "sla"`, the default), or a
//! department's system that receives dossiers handed over from one (`role = "handoff"`, with
//! `same_dossiers_as` naming it). The dossier code is national, so a handoff source's rows are
//! the same dossiers again: they enrich the record's dossiers (handoffs, stages) and are never
//! counted a second time.

use std::collections::{HashMap, HashSet};

use super::{Checker, SourceConfig};

/// The values `role` takes, as the file writes them.
const SLA: &str = "sla";
const HANDOFF: &str = "handoff";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SourceRole {
    /// The system of record: its dossiers are the ones every figure counts.
    #[default]
    Sla,
    /// A department's system: its dossiers are those of the source `same_dossiers_as`.
    Handoff { same_dossiers_as: String },
}

impl SourceRole {
    /// The system of record whose dossiers these are; `None` for a system of record.
    pub fn same_dossiers_as(&self) -> Option<&str> {
        match self {
            SourceRole::Sla => None,
            SourceRole::Handoff { same_dossiers_as } => Some(same_dossiers_as),
        }
    }
}

/// One source's `role` and `same_dossiers_as`; whether the link names a system of record is
/// checked once every source is read (`check_links`).
pub(crate) fn parse_role(
    c: &mut Checker<'_>,
    key: &dyn Fn(&str) -> String,
    role: Option<String>,
    same_dossiers_as: Option<String>,
) -> Option<SourceRole> {
    match (role.as_deref().unwrap_or(SLA), same_dossiers_as) {
        (SLA, None) => Some(SourceRole::Sla),
        (SLA, Some(link)) => {
            c.problem(
                key("same_dossiers_as"),
                format!(
                    "is given but the source's role is \"sla\" (the system of record); set \
                     role = \"handoff\" if this source's dossiers are those of {link:?}"
                ),
            );
            None
        }
        (HANDOFF, Some(link)) => Some(SourceRole::Handoff {
            same_dossiers_as: link,
        }),
        (HANDOFF, None) => {
            c.problem(
                key("same_dossiers_as"),
                "missing; a role = \"handoff\" source names the [[source]] that is the system of \
                 record for its dossiers",
            );
            None
        }
        (other, _) => {
            c.problem(
                key("role"),
                format!(
                    "{other:?} is not a role; expected \"sla\" (the system of record, the \
                     default) or \"handoff\" (a department's system that receives dossiers \
                     handed over from the source named by same_dossiers_as)"
                ),
            );
            None
        }
    }
}

/// Every `same_dossiers_as` names another source that is a system of record: not a missing
/// source, not the source itself, not a chain or a cycle of handoff sources. `names` holds
/// every source name written, `sources` the sources that validated, by position.
pub(crate) fn check_links(
    c: &mut Checker<'_>,
    sources: &[Option<SourceConfig>],
    names: &HashSet<String>,
) {
    let links: HashMap<&str, &str> = sources
        .iter()
        .flatten()
        .filter_map(|s| Some((s.name.as_str(), s.role.same_dossiers_as()?)))
        .collect();
    for (i, s) in sources.iter().enumerate() {
        let Some((name, link)) = s
            .as_ref()
            .and_then(|s| Some((s.name.as_str(), s.role.same_dossiers_as()?)))
        else {
            continue;
        };
        let key = format!("source[{i}].same_dossiers_as");
        if link == name {
            c.problem(
                key,
                "names this source itself; expected the system of record its dossiers come from",
            );
        } else if !names.contains(link) {
            c.problem(key, format!("{link:?} is not the name of a [[source]]"));
        } else if links.contains_key(link) {
            let message = match follow(&links, name, link) {
                Err(cycle) => format!(
                    "the sources form a cycle ({}); one of them must be the system of record \
                     (role = \"sla\")",
                    cycle.join(" → ")
                ),
                Ok(root) => format!(
                    "{link:?} is itself a role = \"handoff\" source; name the system of record \
                     its dossiers come from, {root:?}"
                ),
            };
            c.problem(key, message);
        }
    }
}

/// Follows the links from `name` through `link`: the system of record reached, or the cycle.
fn follow<'a>(
    links: &HashMap<&'a str, &'a str>,
    name: &'a str,
    link: &'a str,
) -> Result<&'a str, Vec<&'a str>> {
    let mut path = vec![name, link];
    let mut at = link;
    while let Some(&next) = links.get(at) {
        let closes = path.contains(&next);
        path.push(next);
        if closes {
            return Err(path);
        }
        at = next;
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn source(name: &str, extra: &str) -> String {
        format!(
            "[[source]]\nname = \"{name}\"\nurl = \"sqlite:///tmp/{name}.db\"\n\
             query = \"SELECT 1 WHERE x >= :watermark\"\n{extra}\n"
        )
    }

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(Path::new("t.toml"), text, |_| None) {
            Ok(_) => vec![],
            Err(e) => e.problems(),
        }
    }

    #[test]
    fn a_department_system_names_the_system_of_record_it_shares_dossiers_with() {
        let text = source("centre", "")
            + &source("dept", "role = \"handoff\"\nsame_dossiers_as = \"centre\"");
        let config = Config::parse(Path::new("t.toml"), &text, |_| None).unwrap();
        let roles: Vec<(&str, Option<&str>)> = config
            .sources
            .iter()
            .map(|s| (s.name.as_str(), s.role.same_dossiers_as()))
            .collect();
        assert_eq!(roles, [("centre", None), ("dept", Some("centre"))]);
        let explicit = source("centre", "role = \"sla\"");
        assert!(problems(&explicit).is_empty(), "{:?}", problems(&explicit));
    }

    #[test]
    fn roles_and_links_that_cannot_be_followed_are_reported_with_their_key() {
        let cases = [
            (
                source("centre", "role = \"stages\""),
                "source[0].role: \"stages\" is not a role; expected \"sla\" (the system of \
                 record, the default) or \"handoff\" (a department's system that receives \
                 dossiers handed over from the source named by same_dossiers_as)",
            ),
            (
                source("dept", "role = \"handoff\""),
                "source[0].same_dossiers_as: missing; a role = \"handoff\" source names the \
                 [[source]] that is the system of record for its dossiers",
            ),
            (
                source("centre", "") + &source("dept", "same_dossiers_as = \"centre\""),
                "source[1].same_dossiers_as: is given but the source's role is \"sla\" (the \
                 system of record); set role = \"handoff\" if this source's dossiers are those \
                 of \"centre\"",
            ),
            (
                source("dept", "role = \"handoff\"\nsame_dossiers_as = \"centr\""),
                "source[0].same_dossiers_as: \"centr\" is not the name of a [[source]]",
            ),
            (
                source("dept", "role = \"handoff\"\nsame_dossiers_as = \"dept\""),
                "source[0].same_dossiers_as: names this source itself; expected the system of \
                 record its dossiers come from",
            ),
            (
                source("centre", "")
                    + &source("a", "role = \"handoff\"\nsame_dossiers_as = \"b\"")
                    + &source("b", "role = \"handoff\"\nsame_dossiers_as = \"centre\""),
                "source[1].same_dossiers_as: \"b\" is itself a role = \"handoff\" source; name \
                 the system of record its dossiers come from, \"centre\"",
            ),
            (
                source("a", "role = \"handoff\"\nsame_dossiers_as = \"b\"")
                    + &source("b", "role = \"handoff\"\nsame_dossiers_as = \"a\""),
                "source[0].same_dossiers_as: the sources form a cycle (a → b → a); one of them \
                 must be the system of record (role = \"sla\")",
            ),
        ];
        for (text, expected) in cases {
            let found = problems(&text);
            assert!(found.iter().any(|p| p == expected), "{text}\n{found:#?}");
        }
    }
}
