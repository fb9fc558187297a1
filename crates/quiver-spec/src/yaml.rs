//! YAML documents as trees of nodes that remember where they came from.
//!
//! saphyr parses the YAML (1.2, duplicate keys rejected) with spans; this
//! module turns its tree into [`Node`]s that carry a [`Position`] and, for
//! strings, a [`MappedText`] so positions survive `${ENV}` and `[param]`
//! substitution and block-scalar unindenting.

use quiver_types::{Diagnostic, MappedText, Position};
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

/// A YAML value with its position in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Where the node starts (1-based line and column).
    pub pos: Position,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `~`, `null` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number (its text is kept so `0.50` expands as written).
    Float(f64, String),
    /// A string, with the file position of each of its characters.
    Str(MappedText),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short name of the node's kind for error messages ("a string", "a list").
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(..) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The string, if this is a string node.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The text of a scalar as a person wrote it (numbers and booleans
    /// included), for places where any scalar is read as text.
    pub fn scalar_text(&self) -> Option<MappedText> {
        Some(match &self.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Int(i) => MappedText::verbatim(i.to_string(), self.pos),
            NodeKind::Float(_, text) => MappedText::verbatim(text.clone(), self.pos),
            NodeKind::Bool(b) => MappedText::verbatim(b.to_string(), self.pos),
            _ => return None,
        })
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks up a key in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }
}

/// Parses one YAML document. An empty file is an empty mapping.
pub fn parse(source: &str) -> Result<Node, Diagnostic> {
    let docs = MarkedYaml::load_from_str(source).map_err(|e| {
        let m = e.marker();
        let pos = Position::new(m.line() as u32, m.col() as u32 + 1);
        if e.info().contains("duplicated key") {
            let lines: Vec<&str> = source.lines().collect();
            let key = raw_token(&lines, pos).map(|t| {
                t.trim_end_matches(':')
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            });
            let key = key
                .filter(|k| !k.is_empty())
                .map(|k| format!(" `{k}`"))
                .unwrap_or_default();
            return Diagnostic::at(pos, format!("duplicate key{key} in a mapping"))
                .with_help("each key may appear once; remove or rename one of them");
        }
        let d = Diagnostic::at(pos, format!("invalid YAML: {}", e.info()));
        // Within `{...}` and `[...]`, YAML reads the braces of an unquoted
        // `${NAME}` as its own syntax.
        let line = source.lines().nth((pos.line as usize).saturating_sub(1));
        let unquoted = |l: &str| l.contains("${") && !l.contains("\"${") && !l.contains("'${");
        if line.is_some_and(unquoted) {
            d.with_help("quote `${NAME}` references inside `{...}` or `[...]`: \"${NAME}\"")
        } else {
            d.with_help("check the indentation and quoting near this place")
        }
    })?;
    let lines: Vec<&str> = source.lines().collect();
    match docs.len() {
        0 => Ok(Node {
            kind: NodeKind::Map(Vec::new()),
            pos: Position::new(1, 1),
        }),
        1 => convert(&docs[0], &lines),
        _ => Err(
            Diagnostic::at(Position::new(1, 1), "the file holds several YAML documents")
                .with_help("put one job in each file (params can expand one file into many jobs)"),
        ),
    }
}

fn position(node: &MarkedYaml<'_>) -> Position {
    Position::new(
        node.span.start.line() as u32,
        node.span.start.col() as u32 + 1,
    )
}

fn convert(node: &MarkedYaml<'_>, lines: &[&str]) -> Result<Node, Diagnostic> {
    let pos = position(node);
    let kind = match &node.data {
        YamlData::Value(Scalar::Null) => NodeKind::Null,
        YamlData::Value(Scalar::Boolean(b)) => NodeKind::Bool(*b),
        YamlData::Value(Scalar::Integer(i)) => NodeKind::Int(*i),
        YamlData::Value(Scalar::FloatingPoint(f)) => {
            let text = raw_token(lines, pos).unwrap_or_else(|| f.to_string());
            NodeKind::Float(f.into_inner(), text)
        }
        YamlData::Value(Scalar::String(s)) => NodeKind::Str(map_string(s, node, lines)),
        YamlData::Representation(s, _, _) => NodeKind::Str(map_string(s, node, lines)),
        YamlData::Sequence(items) => NodeKind::Seq(
            items
                .iter()
                .map(|i| convert(i, lines))
                .collect::<Result<_, _>>()?,
        ),
        YamlData::Mapping(map) => NodeKind::Map(
            map.iter()
                .map(|(k, v)| Ok((convert(k, lines)?, convert(v, lines)?)))
                .collect::<Result<_, _>>()?,
        ),
        YamlData::Tagged(_, inner) => return convert(inner, lines),
        YamlData::Alias(_) => {
            return Err(
                Diagnostic::at(pos, "YAML aliases (*name) are not supported in job files")
                    .with_help("write the value out, or use params to share it"),
            );
        }
        YamlData::BadValue => return Err(Diagnostic::at(pos, "invalid YAML value")),
    };
    Ok(Node { kind, pos })
}

/// The plain token starting at `pos` (up to a comma, bracket, comment or line end).
fn raw_token(lines: &[&str], pos: Position) -> Option<String> {
    let line = lines.get(pos.line as usize - 1)?;
    let rest: String = line.chars().skip(pos.col as usize - 1).collect();
    let end = rest.find([',', ']', '}', '#']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_string())
}

/// Maps each character of a string scalar to its place in the file.
///
/// Single-line scalars map directly (one column later when quoted). For
/// block scalars (`|`, `>`) and multi-line plain scalars, each source line's
/// content is found in order in the value and mapped to that line; the
/// joints between lines (newlines, folding spaces) map to the line before.
fn map_string(value: &str, node: &MarkedYaml<'_>, lines: &[&str]) -> MappedText {
    let start = position(node);
    let first_line = lines.get(start.line as usize - 1).copied().unwrap_or("");
    let lead = first_line.chars().nth(start.col as usize - 1);
    let end_line = node.span.end.line().max(start.line as usize);
    let single_line = !value.contains('\n') && end_line == start.line as usize;
    match lead {
        Some('"') | Some('\'') if single_line => {
            return MappedText::verbatim(value, Position::new(start.line, start.col + 1));
        }
        Some('|') | Some('>') => {}
        _ if single_line => return MappedText::verbatim(value, start),
        _ => {}
    }
    let block = matches!(lead, Some('|') | Some('>'));
    let mut out = MappedText::default();
    let mut consumed = 0usize;
    let mut last = start;
    // Block scalar content starts on the line after the indicator.
    let from = if block {
        start.line as usize + 1
    } else {
        start.line as usize
    };
    let to = end_line.min(lines.len());
    for line_no in from..=to {
        let Some(raw) = lines.get(line_no - 1) else {
            break;
        };
        let (indent, content) = if line_no == start.line as usize {
            let skip = start.col as usize - 1;
            (skip, raw.chars().skip(skip).collect::<String>())
        } else {
            let indent = raw.len() - raw.trim_start().len();
            (indent, raw.trim_start().to_string())
        };
        let content = content.trim_end();
        if content.is_empty() {
            continue;
        }
        if let Some(found) = value[consumed..].find(content) {
            let at = consumed + found;
            if at > consumed {
                out.push_substituted(&value[consumed..at], last);
            }
            let origin = Position::new(line_no as u32, indent as u32 + 1);
            out.push_verbatim(&value[at..at + content.len()], origin);
            consumed = at + content.len();
            last = Position::new(
                line_no as u32,
                (indent + content.chars().count()) as u32 + 1,
            );
        }
    }
    if consumed < value.len() {
        out.push_substituted(&value[consumed..], last);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_keys_and_values() {
        let doc = parse("name: a\nsources:\n  s:\n    bounded: {parquet: x}\n").unwrap();
        let (k, v) = &doc.as_map().unwrap()[1];
        assert_eq!(k.pos, Position::new(2, 1));
        let (k2, _) = &v.as_map().unwrap()[0];
        assert_eq!(k2.pos, Position::new(3, 3));
    }

    #[test]
    fn block_scalar_maps_lines() {
        let src = "name: a\nsql: |\n  SELECT x\n    FROM t\n";
        let doc = parse(src).unwrap();
        let NodeKind::Str(sql) = &doc.get("sql").unwrap().kind else {
            panic!()
        };
        assert_eq!(sql.as_str(), "SELECT x\n  FROM t\n");
        // "FROM" is on file line 4, column 5
        assert_eq!(sql.position_of(2, 3), Some(Position::new(4, 5)));
    }

    #[test]
    fn folded_scalar_maps_lines() {
        let src = "sql: >-\n  SELECT x\n  FROM t\n";
        let doc = parse(src).unwrap();
        let NodeKind::Str(sql) = &doc.get("sql").unwrap().kind else {
            panic!()
        };
        assert_eq!(sql.as_str(), "SELECT x FROM t");
        assert_eq!(sql.position_of(1, 10), Some(Position::new(3, 3)));
    }

    #[test]
    fn duplicate_keys_are_errors_with_positions() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.message, "duplicate key `a` in a mapping");
        assert_eq!(err.pos.unwrap().line, 3);
    }

    #[test]
    fn quoted_scalars_start_after_the_quote() {
        let doc = parse("d: 'x y'\n").unwrap();
        let NodeKind::Str(s) = &doc.get("d").unwrap().kind else {
            panic!()
        };
        assert_eq!(s.position_of(1, 1), Some(Position::new(1, 5)));
        let doc = parse("v: 0.50\n").unwrap();
        assert_eq!(
            doc.get("v").unwrap().kind,
            NodeKind::Float(0.5, "0.50".into())
        );
    }
}
