//! From a byte offset in the configuration text to what a person looks for: the line and
//! column, and the dotted path of the key (`connector[2].lookback_days`).
//!
//! Array elements are counted from 1 (`connector[1]` is the first `[[connector]]`), the
//! way people count tables in a file.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn contains(span: &Range<usize>, offset: usize) -> bool {
    span.start <= offset && offset < span.end.max(span.start + 1)
}

/// The dotted path of the innermost key or value whose text holds `offset`.
pub fn key_path(root: &DeTable<'_>, offset: usize) -> Option<String> {
    find_in_table(root, offset, "")
}

fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

fn find_in_table(table: &DeTable<'_>, offset: usize, prefix: &str) -> Option<String> {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        if contains(&key.span(), offset) {
            return Some(path);
        }
        if let Some(found) = find_in_value(value, offset, &path) {
            return Some(found);
        }
    }
    None
}

fn find_in_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &str) -> Option<String> {
    match value.get_ref() {
        DeValue::Table(t) => {
            if let Some(found) = find_in_table(t, offset, path) {
                return Some(found);
            }
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{}]", i + 1);
                if let Some(found) = find_in_value(item, offset, &item_path) {
                    return Some(found);
                }
            }
        }
        _ => {}
    }
    contains(&value.span(), offset).then(|| path.to_owned())
}

/// One step of a path: a key of a table or a (0-based) element of an array.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The span of the value at `steps` below `root`, if there is one.
pub fn span_at(root: &DeTable<'_>, steps: &[Step<'_>]) -> Option<Range<usize>> {
    let (first, rest) = steps.split_first()?;
    let Step::Key(k) = first else {
        return None;
    };
    let mut current = root.get(*k)?;
    for step in rest {
        current = match (step, current.get_ref()) {
            (Step::Key(k), DeValue::Table(t)) => t.get(*k)?,
            (Step::Index(i), DeValue::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(current.span())
}

/// `invalid type: string "ninety", expected u32` as `expected u32, found string
/// "ninety"`: what was expected first, then what was given.
pub fn plain_message(message: &str) -> String {
    let m = message.trim();
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = m.strip_prefix(prefix) {
            if let Some((given, expected)) = rest.rsplit_once(", expected ") {
                return format!("expected {expected}, found {given}");
            }
        }
    }
    m.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_and_lines_start_at_one() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        let off = text.find('"').expect("quote");
        assert_eq!(line_col(text, off), (2, 6));
    }

    #[test]
    fn paths_name_array_elements_from_one() {
        let text =
            "[[connector]]\nname = \"a\"\n\n[[connector]]\nname = \"b\"\nlookback_days = \"x\"\n";
        let root = DeTable::parse(text).expect("toml").into_inner();
        let off = text.find("\"x\"").expect("value");
        assert_eq!(
            key_path(&root, off).as_deref(),
            Some("connector[2].lookback_days")
        );
        let off = text.find("lookback").expect("key");
        assert_eq!(
            key_path(&root, off).as_deref(),
            Some("connector[2].lookback_days")
        );
    }

    #[test]
    fn type_errors_read_expected_then_found() {
        assert_eq!(
            plain_message("invalid type: string \"ninety\", expected u32"),
            "expected u32, found string \"ninety\""
        );
        assert_eq!(
            plain_message("missing field `path`"),
            "missing field `path`"
        );
    }
}
