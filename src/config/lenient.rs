//! Reads the file into the raw config as far as it goes: a value of the wrong type is reported
//! with its key and line and left out, and reading goes on, so that one typo does not hide the
//! rest of the file's problems behind a lone parse error.

use serde_path_to_error::Segment;
use toml::de::{DeTable, DeValue};

use super::Problem;
use super::raw::RawConfig;

/// What could be read: the raw config (without the values that were refused), each refused
/// value as a problem, and the unknown keys.
pub(super) struct Read {
    pub raw: RawConfig,
    pub problems: Vec<Problem>,
}

/// Parses `text`; only a syntax error (which leaves nothing to read) is an `Err`.
pub(super) fn read(text: &str) -> Result<Read, toml::de::Error> {
    let mut root = DeTable::parse(text)?;
    let mut problems = Vec::new();
    // Each round removes one refused value, so the rounds end.
    loop {
        let mut unknown = Vec::new();
        let de = toml::de::Deserializer::from(root.clone());
        let mut note = |key: serde_ignored::Path<'_>| unknown.push(super::key_path(&key));
        let de = serde_ignored::Deserializer::new(de, &mut note);
        match serde_path_to_error::deserialize::<_, RawConfig>(de) {
            Ok(raw) => {
                problems.extend(unknown.into_iter().map(|key| Problem {
                    message: "unknown key (check its spelling and section)".to_string(),
                    key,
                }));
                return Ok(Read { raw, problems });
            }
            Err(e) => {
                let line = e.inner().span().map(|s| line_of(text, s.start));
                problems.push(Problem {
                    key: e.path().to_string(),
                    message: match line {
                        Some(line) => format!("{} (line {line})", e.inner().message()),
                        None => e.inner().message().to_string(),
                    },
                });
                if !remove(root.get_mut(), e.path()) {
                    return Ok(Read {
                        raw: RawConfig::default(),
                        problems,
                    });
                }
            }
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset).unwrap_or(text).matches('\n').count() + 1
}

/// Removes the entry of the deepest table key on `path` (a bad array element takes its array
/// with it); false when the path names no table key.
fn remove(root: &mut DeTable<'_>, path: &serde_path_to_error::Path) -> bool {
    let segments: Vec<&Segment> = path.iter().collect();
    remove_in_table(root, &segments)
}

fn remove_in_table(table: &mut DeTable<'_>, path: &[&Segment]) -> bool {
    let Some((Segment::Map { key }, rest)) = path.split_first() else {
        return false;
    };
    if rest.iter().any(|s| matches!(s, Segment::Map { .. })) {
        table
            .get_mut(key.as_str())
            .is_some_and(|v| remove_in_value(v.get_mut(), rest))
    } else {
        table.remove(key.as_str()).is_some()
    }
}

fn remove_in_value(value: &mut DeValue<'_>, path: &[&Segment]) -> bool {
    match (value, path.split_first()) {
        (DeValue::Table(t), _) => remove_in_table(t, path),
        (DeValue::Array(a), Some((Segment::Seq { index }, rest))) => a
            .get_mut(*index)
            .is_some_and(|v| remove_in_value(v.get_mut(), rest)),
        _ => false,
    }
}

/// Keeps the problems a refused value already explains: a key left out for its type is not
/// also "missing".
pub(super) fn without_echoes(problems: Vec<Problem>, refused: &[String]) -> Vec<Problem> {
    problems
        .into_iter()
        .filter(|p| !(refused.contains(&p.key) && p.message.starts_with("missing")))
        .collect()
}
