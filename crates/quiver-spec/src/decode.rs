//! Reading typed settings out of YAML nodes, reporting every problem with
//! its position: unknown keys (with a suggestion), missing keys, wrong types.

use quiver_types::{Diagnostic, Diagnostics, MappedText, Position, time};

use crate::yaml::{Node, NodeKind};

/// The entries of a mapping node, checked against the keys allowed there.
pub struct Fields<'a> {
    entries: Vec<(&'a str, &'a Node, Position)>,
    /// Position of the mapping (for "missing key" errors).
    pub pos: Position,
    context: &'a str,
}

impl<'a> Fields<'a> {
    /// Reads `node` as a mapping whose keys must be among `allowed`.
    /// `context` names the mapping in messages (`job`, `source \`bookings\``).
    pub fn of(
        node: &'a Node,
        context: &'a str,
        allowed: &[&str],
        errors: &mut Diagnostics,
    ) -> Option<Fields<'a>> {
        let Some(map) = node.as_map() else {
            errors.push(Diagnostic::at(
                node.pos,
                format!("{context} must be a mapping, found {}", node.kind_name()),
            ));
            return None;
        };
        let mut entries = Vec::new();
        for (k, v) in map {
            let Some(key) = k.as_str() else {
                errors.push(Diagnostic::at(
                    k.pos,
                    format!("keys of {context} must be strings"),
                ));
                continue;
            };
            if !allowed.contains(&key) {
                let mut d = Diagnostic::at(k.pos, format!("unknown key `{key}` in {context}"));
                d = match suggest(key, allowed) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("allowed keys: {}", allowed.join(", "))),
                };
                errors.push(d);
                continue;
            }
            entries.push((key, v, k.pos));
        }
        Some(Fields {
            entries,
            pos: node.pos,
            context,
        })
    }

    /// The value of `key`, if present and not null.
    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, v, _)| *k == key && v.kind != NodeKind::Null)
            .map(|(_, v, _)| *v)
    }

    /// Position of the key `key`, if present.
    pub fn key_pos(&self, key: &str) -> Option<Position> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, _, p)| *p)
    }

    /// The value of a required key, reporting it missing otherwise.
    pub fn required(&self, key: &str, example: &str, errors: &mut Diagnostics) -> Option<&'a Node> {
        let v = self.get(key);
        if v.is_none() {
            errors.push(
                Diagnostic::at(self.pos, format!("{} is missing `{key}`", self.context))
                    .with_help(format!("add {example}")),
            );
        }
        v
    }
}

/// The closest allowed word, if one is close enough to be a likely typo.
pub fn suggest<'s>(word: &str, allowed: &[&'s str]) -> Option<&'s str> {
    allowed
        .iter()
        .map(|a| {
            (
                strsim::damerau_levenshtein(&word.to_ascii_lowercase(), a),
                *a,
            )
        })
        .filter(|(d, a)| *d <= 2.max(a.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// Reads a string (numbers and booleans are read as their text).
pub fn string(node: &Node, what: &str, errors: &mut Diagnostics) -> Option<MappedText> {
    let t = node.scalar_text();
    if t.is_none() {
        errors.push(Diagnostic::at(
            node.pos,
            format!("{what} must be a string, found {}", node.kind_name()),
        ));
    }
    t
}

/// Reads a boolean.
pub fn boolean(node: &Node, what: &str, errors: &mut Diagnostics) -> Option<bool> {
    match node.kind {
        NodeKind::Bool(b) => Some(b),
        _ => {
            errors.push(Diagnostic::at(
                node.pos,
                format!("{what} must be true or false, found {}", node.kind_name()),
            ));
            None
        }
    }
}

/// Reads an integer.
pub fn integer(node: &Node, what: &str, errors: &mut Diagnostics) -> Option<i64> {
    match node.kind {
        NodeKind::Int(i) => Some(i),
        _ => {
            errors.push(Diagnostic::at(
                node.pos,
                format!("{what} must be an integer, found {}", node.kind_name()),
            ));
            None
        }
    }
}

/// Reads a duration such as `5s` or `1d` (milliseconds).
pub fn duration(node: &Node, what: &str, errors: &mut Diagnostics) -> Option<i64> {
    let text = node.scalar_text()?;
    match time::parse_duration(text.as_str()) {
        Ok(ms) => Some(ms),
        Err(e) => {
            errors.push(Diagnostic::at(node.pos, format!("{what}: {e}")));
            None
        }
    }
}

/// Reads a file path; a relative one resolves against `dir` (the job
/// file's directory).
pub fn path(
    node: &Node,
    what: &str,
    dir: &std::path::Path,
    errors: &mut Diagnostics,
) -> Option<String> {
    let raw = string(node, what, errors)?.into_string();
    Some(if std::path::Path::new(&raw).is_absolute() {
        raw
    } else {
        dir.join(&raw).display().to_string()
    })
}

/// Reads a list of strings; a single string is a list of one.
pub fn string_list(node: &Node, what: &str, errors: &mut Diagnostics) -> Vec<(String, Position)> {
    match &node.kind {
        NodeKind::Seq(items) => items
            .iter()
            .filter_map(|i| {
                string(i, &format!("each entry of {what}"), errors)
                    .map(|s| (s.into_string(), i.pos))
            })
            .collect(),
        _ => string(node, what, errors)
            .map(|s| vec![(s.into_string(), node.pos)])
            .unwrap_or_default(),
    }
}
