//! `${ENV}` substitution and Jetpack-style `[param]` expansion.
//!
//! Environment references are replaced first, everywhere in the file:
//! `${NAME}` (an error if `NAME` is unset), `${NAME:-default}`, and `$$` for
//! a literal `$`.
//!
//! Then `params:` expand one file into one job per combination of parameter
//! values (the cartesian product, the first parameter varying slowest). A
//! list parameter `window: [1, 10]` is written `[window]`; a mapping parameter
//! `service: {car: 1, bike: 2}` is written `[service.key]` and
//! `[service.value]` (`.keys`/`.values` are accepted too, as in Jetpack's
//! docs). `[NAME]` is the job's expanded name. Placeholders are replaced in
//! every string of the job except `params:` itself; a bracketed word that is
//! not a parameter is left alone, so SQL such as `arr[1]` is untouched.

use std::env;

use quiver_types::{Diagnostic, Diagnostics, MappedText, Position};

use crate::yaml::{Node, NodeKind};

/// One parameter's choices.
#[derive(Debug, Clone)]
struct Param {
    name: String,
    pos: Position,
    choices: Vec<Choice>,
    is_map: bool,
}

#[derive(Debug, Clone)]
struct Choice {
    key: MappedText,
    value: MappedText,
}

/// One job produced by expanding a file's params.
#[derive(Debug, Clone)]
pub struct Expanded {
    /// The job document with every placeholder replaced.
    pub doc: Node,
    /// The parameter values of this combination, as `(name, text)`; for a
    /// mapping parameter the text is `key=value`.
    pub bindings: Vec<(String, String)>,
}

/// Replaces `${ENV}` references in every string of the document, using `lookup`
/// to read variables (so tests need not touch the process environment).
pub fn substitute_env(
    doc: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    errors: &mut Diagnostics,
) {
    walk_strings(doc, &mut |text| match env_in(text, lookup) {
        Ok(t) => Some(t),
        Err(d) => {
            errors.push(d);
            None
        }
    });
}

/// Reads a variable from the process environment.
pub fn process_env(name: &str) -> Option<String> {
    env::var(name).ok()
}

fn walk_strings(node: &mut Node, f: &mut dyn FnMut(&MappedText) -> Option<MappedText>) {
    match &mut node.kind {
        NodeKind::Str(s) => {
            if let Some(new) = f(s) {
                *s = new;
            }
        }
        NodeKind::Seq(items) => items.iter_mut().for_each(|i| walk_strings(i, f)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            // Keys expand too: `features: {"[NAME]": ...}` names an output column.
            walk_strings(k, f);
            walk_strings(v, f);
        }),
        _ => {}
    }
}

fn env_in(
    text: &MappedText,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<MappedText, Diagnostic> {
    if !text.as_str().contains('$') {
        return Ok(text.clone());
    }
    let mut out = MappedText::default();
    for (piece, origin, verbatim) in text.pieces() {
        if !verbatim {
            out.push_substituted(piece, origin);
            continue;
        }
        let mut rest = piece;
        let mut col = origin.col;
        while let Some(at) = rest.find('$') {
            let before = &rest[..at];
            out.push_verbatim(before, Position::new(origin.line, col));
            col += before.chars().count() as u32;
            let here = Position::new(origin.line, col);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push_substituted("$", here);
                rest = tail;
                col += 2;
            } else if let Some(body) = after.strip_prefix('{') {
                let Some(close) = body.find('}') else {
                    return Err(Diagnostic::at(
                        here,
                        "unterminated `${` in an environment reference",
                    )
                    .with_help("write ${NAME} or ${NAME:-default}; write $$ for a literal $"));
                };
                let inner = &body[..close];
                let (name, default) = match inner.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (inner, None),
                };
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(Diagnostic::at(
                        here,
                        format!("`${{{inner}}}` is not a valid environment reference"),
                    )
                    .with_help("names are letters, digits and underscores: ${DATA_DIR}"));
                }
                let value = match (lookup(name), default) {
                    (Some(v), _) => v,
                    (None, Some(d)) => d.to_string(),
                    (None, None) => {
                        return Err(Diagnostic::at(
                            here,
                            format!("environment variable `{name}` is not set"),
                        )
                        .with_help(format!(
                            "export {name}=..., or give a default: ${{{name}:-value}}"
                        )));
                    }
                };
                out.push_substituted(&value, here);
                rest = &body[close + 1..];
                col += inner.chars().count() as u32 + 3;
            } else {
                out.push_verbatim("$", here);
                rest = after;
                col += 1;
            }
        }
        out.push_verbatim(rest, Position::new(origin.line, col));
    }
    Ok(out)
}

/// Expands the document's `params:` into one document per combination.
/// A document without params yields itself once.
pub fn expand_params(doc: &Node, errors: &mut Diagnostics) -> Vec<Expanded> {
    let params = match doc.get("params") {
        None => Vec::new(),
        Some(node) => match parse_params(node) {
            Ok(p) => p,
            Err(d) => {
                errors.0.extend(d.0);
                return Vec::new();
            }
        },
    };
    let mut combos: Vec<Vec<usize>> = vec![Vec::new()];
    for p in &params {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                (0..p.choices.len()).map(move |i| {
                    let mut c = c.clone();
                    c.push(i);
                    c
                })
            })
            .collect();
    }
    let mut out = Vec::new();
    for combo in combos {
        let mut job = doc.clone();
        if let NodeKind::Map(entries) = &mut job.kind {
            entries.retain(|(k, _)| k.as_str() != Some("params"));
        }
        let mut local = Diagnostics::new();
        // The name first: [NAME] elsewhere refers to it.
        // Problems in the name are reported when the walk below reaches it.
        let name = job.get("name").and_then(Node::scalar_text).map(|t| {
            params_in(&t, &params, &combo, None, &mut Diagnostics::new())
                .as_str()
                .to_string()
        });
        walk_strings(&mut job, &mut |t| {
            Some(params_in(t, &params, &combo, name.as_deref(), &mut local))
        });
        if !local.is_empty() {
            errors.0.extend(local.0);
            // One combination reports problems in placeholders for all.
            break;
        }
        let bindings = params
            .iter()
            .zip(&combo)
            .map(|(p, &i)| {
                let c = &p.choices[i];
                let text = if p.is_map {
                    format!("{}={}", c.key.as_str(), c.value.as_str())
                } else {
                    c.value.as_str().to_string()
                };
                (p.name.clone(), text)
            })
            .collect();
        out.push(Expanded { doc: job, bindings });
    }
    out
}

fn parse_params(node: &Node) -> Result<Vec<Param>, Diagnostics> {
    let mut errors = Diagnostics::new();
    let Some(entries) = node.as_map() else {
        return Err(Diagnostic::at(
            node.pos,
            format!("`params` must be a mapping, found {}", node.kind_name()),
        )
        .with_help("params:\n    window: [1, 10]\n    service: {car: 1, bike: 2}")
        .into());
    };
    let mut params = Vec::new();
    for (key, value) in entries {
        let Some(name) = key.as_str().map(str::to_string) else {
            errors.push(Diagnostic::at(key.pos, "parameter names must be strings"));
            continue;
        };
        if name == "NAME" {
            errors.push(
                Diagnostic::at(
                    key.pos,
                    "`NAME` is reserved: [NAME] is the job's expanded name",
                )
                .with_help("rename the parameter"),
            );
            continue;
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            errors.push(Diagnostic::at(
                key.pos,
                format!("parameter name `{name}` must be letters, digits and underscores"),
            ));
            continue;
        }
        let (choices, is_map) = match &value.kind {
            NodeKind::Seq(items) => {
                let mut cs = Vec::new();
                for item in items {
                    match item.scalar_text() {
                        Some(t) => cs.push(Choice {
                            key: t.clone(),
                            value: t,
                        }),
                        None => errors.push(Diagnostic::at(
                            item.pos,
                            format!(
                                "values of parameter `{name}` must be scalars, found {}",
                                item.kind_name()
                            ),
                        )),
                    }
                }
                (cs, false)
            }
            NodeKind::Map(m) => {
                let mut cs = Vec::new();
                for (k, v) in m {
                    match (k.scalar_text(), v.scalar_text()) {
                        (Some(k), Some(v)) => cs.push(Choice { key: k, value: v }),
                        _ => errors.push(Diagnostic::at(
                            k.pos,
                            format!("entries of parameter `{name}` must map a scalar to a scalar"),
                        )),
                    }
                }
                (cs, true)
            }
            _ => {
                errors.push(
                    Diagnostic::at(
                        value.pos,
                        format!(
                            "parameter `{name}` must be a list or a mapping, found {}",
                            value.kind_name()
                        ),
                    )
                    .with_help(format!(
                        "{name}: [1, 7, 30]   or   {name}: {{buy: 1, sell: 2}}"
                    )),
                );
                continue;
            }
        };
        if choices.is_empty() {
            errors.push(Diagnostic::at(
                value.pos,
                format!("parameter `{name}` has no values"),
            ));
            continue;
        }
        params.push(Param {
            name,
            pos: key.pos,
            choices,
            is_map,
        });
    }
    errors.into_result(params)
}

fn params_in(
    text: &MappedText,
    params: &[Param],
    combo: &[usize],
    name: Option<&str>,
    errors: &mut Diagnostics,
) -> MappedText {
    if !text.as_str().contains('[') {
        return text.clone();
    }
    let mut out = MappedText::default();
    for (piece, origin, verbatim) in text.pieces() {
        let mut rest = piece;
        let mut col = origin.col;
        let here = |col: u32| {
            if verbatim {
                Position::new(origin.line, col)
            } else {
                origin
            }
        };
        while let Some(open) = rest.find('[') {
            let Some(close) = rest[open..].find(']').map(|c| open + c) else {
                break;
            };
            let inner = &rest[open + 1..close];
            let before = &rest[..open];
            let at = col + before.chars().count() as u32;
            let Some(replacement) = placeholder(inner, params, combo, name, here(at), errors)
            else {
                // Not a placeholder: keep `[` and continue after it.
                let keep = &rest[..open + 1];
                push(&mut out, keep, here(col), verbatim);
                col += keep.chars().count() as u32;
                rest = &rest[open + 1..];
                continue;
            };
            push(&mut out, before, here(col), verbatim);
            out.push_mapped(&replacement.with_origin(here(at)));
            col = at + inner.chars().count() as u32 + 2;
            rest = &rest[close + 1..];
        }
        push(&mut out, rest, here(col), verbatim);
    }
    out
}

fn push(out: &mut MappedText, s: &str, pos: Position, verbatim: bool) {
    if s.is_empty() {
        return;
    }
    if verbatim {
        out.push_verbatim(s, pos)
    } else {
        out.push_substituted(s, pos)
    }
}

/// A replacement value, mapped to the placeholder it replaces.
struct Replacement(String);

impl Replacement {
    fn with_origin(self, pos: Position) -> MappedText {
        let mut m = MappedText::default();
        m.push_substituted(&self.0, pos);
        m
    }
}

fn placeholder(
    inner: &str,
    params: &[Param],
    combo: &[usize],
    name: Option<&str>,
    pos: Position,
    errors: &mut Diagnostics,
) -> Option<Replacement> {
    let (base, field) = match inner.split_once('.') {
        Some((b, f)) => (b, Some(f)),
        None => (inner, None),
    };
    if base == "NAME" && field.is_none() {
        return match name {
            Some(n) => Some(Replacement(n.to_string())),
            None => {
                errors.push(Diagnostic::at(
                    pos,
                    "[NAME] cannot be used inside `name` itself",
                ));
                Some(Replacement(String::new()))
            }
        };
    }
    let (idx, p) = params.iter().enumerate().find(|(_, p)| p.name == base)?;
    let choice = &p.choices[combo[idx]];
    match (p.is_map, field) {
        (false, None) => Some(Replacement(choice.value.as_str().to_string())),
        (true, Some("key" | "keys")) => Some(Replacement(choice.key.as_str().to_string())),
        (true, Some("value" | "values")) => Some(Replacement(choice.value.as_str().to_string())),
        (true, _) => {
            errors.push(
                Diagnostic::at(
                    pos,
                    format!(
                        "`{base}` is a mapping parameter (declared at line {})",
                        p.pos.line
                    ),
                )
                .with_help(format!("write [{base}.key] or [{base}.value]")),
            );
            Some(Replacement(String::new()))
        }
        (false, Some(f)) => {
            errors.push(
                Diagnostic::at(
                    pos,
                    format!("`{base}` is a list parameter; it has no `.{f}`"),
                )
                .with_help(format!("write [{base}]")),
            );
            Some(Replacement(String::new()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn env(name: &str) -> Option<String> {
        (name == "ROOT").then(|| "/data".to_string())
    }

    #[test]
    fn env_references() {
        let mut doc = parse("p: ${ROOT}/x\nq: ${MISSING:-dflt}\nr: $$5\n").unwrap();
        let mut errors = Diagnostics::new();
        substitute_env(&mut doc, &env, &mut errors);
        assert!(errors.is_empty(), "{errors}");
        assert_eq!(doc.get("p").unwrap().as_str(), Some("/data/x"));
        assert_eq!(doc.get("q").unwrap().as_str(), Some("dflt"));
        assert_eq!(doc.get("r").unwrap().as_str(), Some("$5"));
        let mut doc = parse("p: a ${NOPE}\n").unwrap();
        substitute_env(&mut doc, &env, &mut errors);
        assert_eq!(errors.0[0].pos, Some(Position::new(1, 6)));
        assert!(errors.0[0].message.contains("NOPE"));
    }

    #[test]
    fn cartesian_product_of_list_and_map_params() {
        let src = "name: c_[q.key]s_[d]d\nparams:\n  d: [7, 30]\n  q: {buy: 1, sell: 2}\nsql: SELECT [q.value] AS [NAME], a[1]\n";
        let doc = parse(src).unwrap();
        let mut errors = Diagnostics::new();
        let jobs = expand_params(&doc, &mut errors);
        assert!(errors.is_empty(), "{errors}");
        let names: Vec<_> = jobs
            .iter()
            .map(|j| j.doc.get("name").unwrap().as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            names,
            ["c_buys_7d", "c_sells_7d", "c_buys_30d", "c_sells_30d"]
        );
        assert_eq!(
            jobs[1].doc.get("sql").unwrap().as_str(),
            Some("SELECT 2 AS c_sells_7d, a[1]")
        );
        assert!(jobs[0].doc.get("params").is_none());
        assert_eq!(
            jobs[3].bindings,
            vec![
                ("d".to_string(), "30".to_string()),
                ("q".to_string(), "sell=2".to_string())
            ]
        );
        let doc = parse("name: n_[d]\nparams: {d: [1]}\nfeatures: {\"[NAME]\": {}}\n").unwrap();
        let jobs = expand_params(&doc, &mut errors);
        assert!(jobs[0].doc.get("features").unwrap().get("n_1").is_some());
    }

    #[test]
    fn misuse_of_map_param_is_reported_at_the_placeholder() {
        let doc = parse("name: x_[q]\nparams:\n  q: {a: 1}\n").unwrap();
        let mut errors = Diagnostics::new();
        expand_params(&doc, &mut errors);
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].pos, Some(Position::new(1, 9)));
        assert!(errors.0[0].help.as_deref().unwrap().contains("[q.key]"));
    }

    #[test]
    fn substituted_sql_maps_back_to_the_file() {
        let src = "name: j\nparams:\n  w: [10]\nsql: |\n  SELECT x\n  FROM t GROUP BY TUMBLE(ts, INTERVAL '[w]' MINUTE), bad(\n";
        let doc = parse(src).unwrap();
        let mut errors = Diagnostics::new();
        let jobs = expand_params(&doc, &mut errors);
        let NodeKind::Str(sql) = &jobs[0].doc.get("sql").unwrap().kind else {
            panic!()
        };
        let line2 = sql.as_str().lines().nth(1).unwrap();
        let bad = line2.find("bad").unwrap() as u32 + 1;
        // after the substitution, `bad(` is still mapped to its column in the file
        assert_eq!(sql.position_of(2, bad), Some(Position::new(6, 54)));
    }
}
