//! JSON functions over VARCHAR documents, addressed with JSONPath, after
//! Dagger's `JsonQuery`, `JsonUpdate` and `JsonDelete`.
//!
//! Paths follow RFC 9535 (the `serde_json_path` crate), which agrees with the
//! Jayway JsonPath that Dagger uses on everything common (`$.a.b`, `$['a']`,
//! `$.a[0]`, `$.a[-1]`, `$..a`, `$.a[*]`, `$.a[1:3]`, `$.a[?@.b > 1]`). A
//! *singular* path (only names and indexes) addresses at most one value; any
//! other path addresses a list of them. RFC 9535 allows blank space between
//! segments (`$ .k1`), which Jayway rejects.
//!
//! Contract, and where it differs from Dagger (which throws where we give
//! NULL):
//!
//! * NULL document or path, a document that is not JSON, or a path that is
//!   not valid JSONPath give NULL. A constant invalid path is a plan-time
//!   error naming the argument.
//! * `JsonQuery`: a singular path gives the value it addresses as JSON text
//!   (a string keeps its quotes: `"v2"`); NULL when it addresses nothing or
//!   JSON `null`. Any other path gives a JSON array of every match.
//! * `JsonUpdate`: every value the path addresses is replaced; a singular
//!   path ending in a name that is missing from an existing object adds it.
//!   A singular path whose parent does not exist gives NULL. The value may
//!   be BOOLEAN, BIGINT, DOUBLE or VARCHAR (written as a JSON string); unlike
//!   the general contract a NULL value writes JSON `null`, as in Dagger.
//! * `JsonDelete`: every value the path addresses is removed; deleting the
//!   root (`$`) gives NULL, and a singular path whose parent does not exist
//!   gives NULL.
//! * Output is compact JSON with the document's key order kept.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use quiver_sql::{ArgInfo, ColumnarValue};
use quiver_types::{DataType, Value};
use serde_json::Value as Json;
use serde_json_path::JsonPath;

use crate::args::{Builtin, Str, arg, arity, string_array, strs, want, want_string};

/// The JSON functions.
pub(crate) fn functions() -> Vec<Builtin> {
    vec![
        Builtin::new(
            "JSONQUERY",
            "JsonQuery(json, path)",
            "The value at JSONPath `path` in `json` as JSON text (`\"v2\"`, `{\"a\":1}`); a path with wildcards, slices, filters or `..` gives a JSON array of every match. NULL when nothing (or JSON null) is there, or for invalid JSON or path.",
            |a| {
                arity(a, 2, Some(2))?;
                want_string(a, 0)?;
                check_path(a, 1)?;
                Ok(DataType::String)
            },
            |a, n| {
                let doc = strs(a, 0)?;
                let mut paths = Paths::new(a, 1)?;
                Ok(string_array((0..n).map(|i| {
                    let p = paths.get(i)?;
                    query(&parse(doc.get(i)?)?, p)
                })))
            },
        ),
        Builtin::new(
            "JSONUPDATE",
            "JsonUpdate(json, path, value)",
            "`json` with every value at `path` set to `value` (BOOLEAN, BIGINT, DOUBLE or VARCHAR; a NULL `value` writes JSON null); a missing last name on an existing object is added. NULL for invalid JSON or path, or when the path's parent does not exist.",
            |a| {
                arity(a, 3, Some(3))?;
                want_string(a, 0)?;
                check_path(a, 1)?;
                want(
                    a,
                    2,
                    &[
                        DataType::Bool,
                        DataType::Int64,
                        DataType::Float64,
                        DataType::String,
                    ],
                )?;
                Ok(DataType::String)
            },
            |a, n| {
                let doc = strs(a, 0)?;
                let mut paths = Paths::new(a, 1)?;
                let values = Values::new(arg(a, 2)?);
                Ok(string_array((0..n).map(|i| {
                    let p = paths.get(i)?;
                    let v = values.get(i)?;
                    update(parse(doc.get(i)?)?, p, v)
                })))
            },
        ),
        Builtin::new(
            "JSONDELETE",
            "JsonDelete(json, path)",
            "`json` without the values at `path`. NULL for invalid JSON or path, for the root path `$`, or when the path's parent does not exist.",
            |a| {
                arity(a, 2, Some(2))?;
                want_string(a, 0)?;
                check_path(a, 1)?;
                Ok(DataType::String)
            },
            |a, n| {
                let doc = strs(a, 0)?;
                let mut paths = Paths::new(a, 1)?;
                Ok(string_array((0..n).map(|i| {
                    let p = paths.get(i)?;
                    delete(parse(doc.get(i)?)?, p)
                })))
            },
        ),
    ]
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// A compiled path and what the functions need to know about its text.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    compiled: JsonPath,
    /// Only name and index selectors: addresses at most one value.
    singular: bool,
    /// For a singular path other than `$`: the path of its parent and its
    /// last step.
    last: Option<(JsonPath, Step)>,
}

/// The last step of a singular path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Name(String),
    Index(i64),
}

impl Path {
    /// Compiles `text`, with the error text the planner shows.
    pub(crate) fn compile(text: &str) -> Result<Path, String> {
        let compiled =
            JsonPath::parse(text).map_err(|e| format!("invalid JSONPath '{text}': {e}"))?;
        let singular = is_singular(text);
        let last = if singular {
            split_last(text).and_then(|(parent, step)| Some((JsonPath::parse(parent).ok()?, step)))
        } else {
            None
        };
        Ok(Path {
            compiled,
            singular,
            last,
        })
    }

    /// Whether the parent of a singular path's last step exists in `doc`
    /// and can hold that step (an object for a name, an array for an index).
    fn parent_exists(&self, doc: &Json) -> bool {
        self.last.as_ref().is_some_and(|(parent, step)| {
            matches!(
                (parent.query(doc).exactly_one(), step),
                (Ok(Json::Object(_)), Step::Name(_)) | (Ok(Json::Array(_)), Step::Index(_))
            )
        })
    }
}

/// Whether a (valid) path has only name and index selectors: no wildcard,
/// descendant segment, slice, filter or union outside quoted names.
fn is_singular(text: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '*' | '?' | ':' | ',' => return false,
                '.' if chars.peek() == Some(&'.') => return false,
                _ => {}
            },
        }
    }
    true
}

/// Splits a valid singular path into its parent's text and its last step
/// (`$.a['b']` → `$.a`, name `b`); `None` for `$`.
fn split_last(text: &str) -> Option<(&str, Step)> {
    let bytes = text.as_bytes();
    let mut i = text.find('$')? + 1;
    let mut last: Option<(usize, usize)> = None;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'.' => {
                let start = i;
                i += 1;
                while i < bytes.len()
                    && !matches!(bytes[i], b'.' | b'[' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    i += 1;
                }
                last = Some((start, i));
            }
            b'[' => {
                let start = i;
                let mut quote: Option<u8> = None;
                i += 1;
                while i < bytes.len() {
                    let c = bytes[i];
                    match quote {
                        Some(_) if c == b'\\' => i += 1,
                        Some(q) if c == q => quote = None,
                        Some(_) => {}
                        None if c == b'\'' || c == b'"' => quote = Some(c),
                        None if c == b']' => break,
                        None => {}
                    }
                    i += 1;
                }
                i += 1;
                last = Some((start, i.min(bytes.len())));
            }
            _ => return None,
        }
    }
    let (start, end) = last?;
    let seg = &text[start..end];
    let step = if let Some(name) = seg.strip_prefix('.') {
        Step::Name(name.to_string())
    } else {
        let inner = seg.strip_prefix('[')?.strip_suffix(']')?.trim();
        if let Some(body) = inner.strip_prefix('"') {
            Step::Name(serde_json::from_str(&format!("\"{body}")).ok()?)
        } else if let Some(body) = inner.strip_prefix('\'').and_then(|b| b.strip_suffix('\'')) {
            // A single-quoted name: re-quote it as a JSON string.
            let mut json = String::with_capacity(body.len() + 2);
            json.push('"');
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next()? {
                        '\'' => json.push('\''),
                        e => {
                            json.push('\\');
                            json.push(e);
                        }
                    },
                    '"' => json.push_str("\\\""),
                    c => json.push(c),
                }
            }
            json.push('"');
            Step::Name(serde_json::from_str(&json).ok()?)
        } else {
            Step::Index(inner.parse().ok()?)
        }
    };
    Some((&text[..start], step))
}

/// Checks a constant path argument at plan time.
fn check_path(a: &[ArgInfo<'_>], i: usize) -> Result<(), String> {
    want_string(a, i)?;
    if let Some(Value::String(p)) = a[i].literal {
        Path::compile(p).map_err(|e| format!("argument {}: {e}", i + 1))?;
    }
    Ok(())
}

/// A path argument: compiled once when constant, per distinct value
/// otherwise (an invalid path in a column gives NULL).
struct Paths {
    source: Str,
    fixed: Option<Option<Path>>,
    last: Option<(String, Option<Path>)>,
}

impl Paths {
    fn new(args: &[ColumnarValue], i: usize) -> Result<Paths, String> {
        let source = strs(args, i)?;
        let fixed = match &source {
            Str::Scalar(Some(p)) => Some(Some(
                Path::compile(p).map_err(|e| format!("argument {}: {e}", i + 1))?,
            )),
            Str::Scalar(None) => Some(None),
            Str::Array(_) => None,
        };
        Ok(Paths {
            source,
            fixed,
            last: None,
        })
    }

    fn get(&mut self, i: usize) -> Option<&Path> {
        if let Some(fixed) = &self.fixed {
            return fixed.as_ref();
        }
        let text = self.source.get(i)?;
        if self.last.as_ref().is_none_or(|(t, _)| t != text) {
            self.last = Some((text.to_string(), Path::compile(text).ok()));
        }
        self.last.as_ref().and_then(|(_, p)| p.as_ref())
    }
}

// ---------------------------------------------------------------------------
// Values written by JsonUpdate
// ---------------------------------------------------------------------------

/// The value argument of JsonUpdate.
enum Values {
    Scalar(Option<Json>),
    Array(ArrayRef),
}

impl Values {
    fn new(v: &ColumnarValue) -> Values {
        match v {
            ColumnarValue::Scalar(s) => Values::Scalar(to_json(s)),
            ColumnarValue::Array(a) => Values::Array(Arc::clone(a)),
        }
    }

    /// The JSON to write in row `i`; `None` (a NULL result) for a value
    /// JSON cannot hold (NaN, infinities).
    fn get(&self, i: usize) -> Option<Json> {
        match self {
            Values::Scalar(v) => v.clone(),
            Values::Array(a) if a.is_null(i) => Some(Json::Null),
            Values::Array(a) => to_json(&Value::from_array(a.as_ref(), i)),
        }
    }
}

/// A SQL value as JSON: NULL is `null`, a VARCHAR a string.
fn to_json(v: &Value) -> Option<Json> {
    Some(match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int64(x) => Json::from(*x),
        Value::Float64(x) => Json::Number(serde_json::Number::from_f64(*x)?),
        Value::String(s) => Json::String(s.clone()),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// The operations
// ---------------------------------------------------------------------------

fn parse(doc: &str) -> Option<Json> {
    serde_json::from_str(doc).ok()
}

fn render(doc: &Json) -> Option<String> {
    serde_json::to_string(doc).ok()
}

/// JsonQuery on a parsed document.
fn query(doc: &Json, path: &Path) -> Option<String> {
    let nodes = path.compiled.query(doc);
    if path.singular {
        match nodes.exactly_one() {
            Ok(Json::Null) | Err(_) => None,
            Ok(v) => render(v),
        }
    } else {
        render(&Json::Array(nodes.all().into_iter().cloned().collect()))
    }
}

/// One step of a located value, owned so that the document can be changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Loc {
    Index(usize),
    Name(String),
}

/// Where the path's matches are, in document order, without duplicates.
fn locations(doc: &Json, path: &Path) -> Vec<Vec<Loc>> {
    let mut locs: Vec<Vec<Loc>> = path
        .compiled
        .query_located(doc)
        .locations()
        .map(|l| {
            l.iter()
                .map(|e| match e {
                    serde_json_path::PathElement::Name(n) => Loc::Name((*n).to_string()),
                    serde_json_path::PathElement::Index(i) => Loc::Index(*i),
                })
                .collect()
        })
        .collect();
    locs.sort();
    locs.dedup();
    locs
}

fn node_mut<'a>(doc: &'a mut Json, loc: &[Loc]) -> Option<&'a mut Json> {
    loc.iter().try_fold(doc, |node, step| match step {
        Loc::Name(n) => node.as_object_mut()?.get_mut(n),
        Loc::Index(i) => node.as_array_mut()?.get_mut(*i),
    })
}

/// JsonUpdate on a parsed document.
fn update(mut doc: Json, path: &Path, value: Json) -> Option<String> {
    let locs = locations(&doc, path);
    if locs.is_empty() && path.singular {
        // Add a missing name to an existing object; anything else missing
        // is an error (NULL), as Jayway's PathNotFoundException is.
        let (parent, Step::Name(name)) = path.last.as_ref()? else {
            return None;
        };
        let parent_loc = locations(
            &doc,
            &Path {
                compiled: parent.clone(),
                singular: true,
                last: None,
            },
        );
        let [parent_loc] = parent_loc.as_slice() else {
            return None;
        };
        node_mut(&mut doc, parent_loc)?
            .as_object_mut()?
            .insert(name.clone(), value);
        return render(&doc);
    }
    for loc in &locs {
        *node_mut(&mut doc, loc)? = value.clone();
    }
    render(&doc)
}

/// JsonDelete on a parsed document.
fn delete(mut doc: Json, path: &Path) -> Option<String> {
    let locs = locations(&doc, path);
    if locs.is_empty() && path.singular && !path.parent_exists(&doc) {
        return None;
    }
    // Last first: a later array index before an earlier one, and a value's
    // descendants before the value, so that every location stays valid.
    for loc in locs.iter().rev() {
        let (last, parent) = loc.split_last()?;
        let parent = node_mut(&mut doc, parent)?;
        match (last, parent) {
            (Loc::Name(n), Json::Object(o)) => {
                o.shift_remove(n);
            }
            (Loc::Index(i), Json::Array(a)) if *i < a.len() => {
                a.remove(*i);
            }
            _ => return None,
        }
    }
    render(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::testing::*;

    fn q(doc: &str, path: &str) -> Value {
        call("JSONQUERY", &[lit(s(doc)), lit(s(path))]).remove(0)
    }

    fn up(doc: &str, path: &str, v: Value) -> Value {
        call("JSONUPDATE", &[lit(s(doc)), lit(s(path)), lit(v)]).remove(0)
    }

    fn del(doc: &str, path: &str) -> Value {
        call("JSONDELETE", &[lit(s(doc)), lit(s(path))]).remove(0)
    }

    const DOC: &str = r#"{"k1":null,"k2":"v2"}"#;
    const NESTED: &str = r#"{"k1":null,"k2":{"key1":"value1","key2":"value2"}}"#;

    #[test]
    fn query_matches_dagger() {
        // Dagger's JsonQueryTest.
        assert_eq!(q(DOC, "$.k2"), s(r#""v2""#));
        assert_eq!(q(NESTED, "$.k2"), s(r#"{"key1":"value1","key2":"value2"}"#));
        assert_eq!(q(DOC, "$.k1"), Value::Null);
        // Dagger throws here; we give NULL.
        assert_eq!(q(DOC, "$.k2.k4"), Value::Null);
        assert_eq!(q(r#"{"k1":null,"k2""v2"}"#, "$.k2"), Value::Null);
    }

    #[test]
    fn query_lists_for_non_singular_paths() {
        let doc = r#"{"a":[{"b":1},{"b":2},{"c":3}],"x":{"b":true}}"#;
        assert_eq!(q(doc, "$.a[*].b"), s("[1,2]"));
        assert_eq!(q(doc, "$..b"), s("[1,2,true]"));
        assert_eq!(q(doc, "$.a[?@.b > 1]"), s(r#"[{"b":2}]"#));
        assert_eq!(q(doc, "$.nothing[*]"), s("[]"));
        assert_eq!(q(doc, "$.a[-1].c"), s("3"));
        assert_eq!(q(doc, "$['x']"), s(r#"{"b":true}"#));
        assert_eq!(q(doc, "$"), s(doc));
    }

    #[test]
    fn query_columns_nulls_and_bad_paths() {
        let out = call(
            "JSONQUERY",
            &[
                strings(&[Some(DOC), None, Some(DOC), Some("not json"), Some(DOC)]),
                strings(&[
                    Some("$.k2"),
                    Some("$.k2"),
                    None,
                    Some("$.k2"),
                    Some("$ .k1["),
                ]),
            ],
        );
        assert_eq!(
            out,
            vec![
                s(r#""v2""#),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null
            ]
        );
        assert_eq!(
            call("JSONQUERY", &[lit(Value::Null), lit(s("$.a"))]),
            vec![Value::Null]
        );
    }

    #[test]
    fn update_matches_dagger() {
        // Dagger's JsonUpdateTest.
        assert_eq!(up("{}", "$.k1", s("v1")), s(r#"{"k1":"v1"}"#));
        assert_eq!(
            up(DOC, "$.k3", s("v3")),
            s(r#"{"k1":null,"k2":"v2","k3":"v3"}"#)
        );
        assert_eq!(
            up(DOC, "$.k2", s("updatedValue")),
            s(r#"{"k1":null,"k2":"updatedValue"}"#)
        );
        assert_eq!(
            up(NESTED, "$.k2.key3", s("value3")),
            s(r#"{"k1":null,"k2":{"key1":"value1","key2":"value2","key3":"value3"}}"#)
        );
        assert_eq!(up(DOC, "$.k2", Value::Null), s(r#"{"k1":null,"k2":null}"#));
        // Dagger throws PathNotFoundException / InvalidJsonException.
        assert_eq!(up(DOC, "$.k2.k4", s("x")), Value::Null);
        assert_eq!(up(r#"{"k1":null,"k2""v2"}"#, "$.k2", s("x")), Value::Null);
    }

    #[test]
    fn update_types_and_shapes() {
        assert_eq!(up(DOC, "$.k2", Value::Int64(7)), s(r#"{"k1":null,"k2":7}"#));
        assert_eq!(
            up(DOC, "$.k2", Value::Float64(1.5)),
            s(r#"{"k1":null,"k2":1.5}"#)
        );
        assert_eq!(
            up(DOC, "$.k2", Value::Bool(true)),
            s(r#"{"k1":null,"k2":true}"#)
        );
        assert_eq!(up(DOC, "$.k2", Value::Float64(f64::NAN)), Value::Null);
        // Every match of a non-singular path; no match leaves the document.
        assert_eq!(
            up(r#"{"a":[1,2,3]}"#, "$.a[*]", Value::Int64(0)),
            s(r#"{"a":[0,0,0]}"#)
        );
        assert_eq!(
            up(r#"{"a":[]}"#, "$.a[*]", Value::Int64(0)),
            s(r#"{"a":[]}"#)
        );
        // An index past the end, and a name on a non-object, are errors.
        assert_eq!(up(r#"{"a":[1]}"#, "$.a[3]", Value::Int64(0)), Value::Null);
        assert_eq!(up(r#"{"a":[1]}"#, "$.a.b", Value::Int64(0)), Value::Null);
        // Bracketed names with quotes and escapes are added too.
        assert_eq!(
            up("{}", r#"$['it\'s']"#, Value::Int64(1)),
            s(r#"{"it's":1}"#)
        );
        assert_eq!(
            up("{}", r#"$["a\"b"]"#, Value::Int64(1)),
            s(r#"{"a\"b":1}"#)
        );
        // The value from a column, NULL rows writing JSON null.
        let out = call(
            "JSONUPDATE",
            &[lit(s("{}")), lit(s("$.n")), int_col(&[Some(1), None])],
        );
        assert_eq!(out, vec![s(r#"{"n":1}"#), s(r#"{"n":null}"#)]);
    }

    #[test]
    fn delete_matches_dagger() {
        // Dagger's JsonDeleteTest.
        let obj = r#"{"k1":"v1","k2":{"key1":"value1","key2":"value2","key3":"value3"}}"#;
        assert_eq!(del(r#"{"k1":"v1","k2":"v2"}"#, "$.k2"), s(r#"{"k1":"v1"}"#));
        assert_eq!(del(obj, "$.k2"), s(r#"{"k1":"v1"}"#));
        assert_eq!(
            del(obj, "$.k2.key1"),
            s(r#"{"k1":"v1","k2":{"key2":"value2","key3":"value3"}}"#)
        );
        let arr = r#"{"k1":"v1","k2":["value1","value2","value3"]}"#;
        assert_eq!(
            del(arr, "$.k2[1]"),
            s(r#"{"k1":"v1","k2":["value1","value3"]}"#)
        );
        assert_eq!(del(arr, "$..*"), s("{}"));
        assert_eq!(del(DOC, "$.k2.k4"), Value::Null);
        assert_eq!(del(r#"{"k1":null,"k2""v2"}"#, "$.k2"), Value::Null);
    }

    #[test]
    fn delete_edges() {
        // Several array elements at once stay aligned.
        assert_eq!(
            del(r#"{"a":[0,1,2,3,4]}"#, "$.a[1,3]"),
            s(r#"{"a":[0,2,4]}"#)
        );
        assert_eq!(
            del(r#"{"a":[0,1,2,3,4]}"#, "$.a[?@ > 1]"),
            s(r#"{"a":[0,1]}"#)
        );
        // A missing leaf under an existing parent leaves the document.
        assert_eq!(del(DOC, "$.k9"), s(DOC));
        assert_eq!(del(DOC, "$.x.y"), Value::Null);
        assert_eq!(del(DOC, "$"), Value::Null);
        assert_eq!(
            call("JSONDELETE", &[strings(&[Some(DOC), None]), lit(s("$.k1"))]),
            vec![s(r#"{"k2":"v2"}"#), Value::Null]
        );
    }

    #[test]
    fn paths_are_checked_at_plan_time() {
        let bad: &'static Value = Box::leak(Box::new(s("$.k1[")));
        let info = ArgInfo {
            data_type: DataType::String,
            literal: Some(bad),
        };
        let e = type_error("JSONQUERY", &[ty(DataType::String), info]);
        assert!(e.starts_with("argument 2: invalid JSONPath '$.k1['"), "{e}");
        let e = type_error("JSONDELETE", &[ty(DataType::String), info]);
        assert!(e.starts_with("argument 2: invalid JSONPath"), "{e}");
        assert_eq!(
            type_error("JSONQUERY", &[ty(DataType::Int64), ty(DataType::String)]),
            "argument 1 must be VARCHAR, found BIGINT"
        );
        assert_eq!(
            type_error(
                "JSONUPDATE",
                &[
                    ty(DataType::String),
                    ty(DataType::String),
                    ty(DataType::Timestamp)
                ]
            ),
            "argument 3 must be BOOLEAN, BIGINT, DOUBLE or VARCHAR, found TIMESTAMP"
        );
        assert_eq!(
            type_error("JSONUPDATE", &[ty(DataType::String), ty(DataType::String)]),
            "takes 3 arguments, found 2"
        );
    }

    #[test]
    fn singular_paths_and_last_steps() {
        assert!(is_singular("$.a['b*c'][0]"));
        assert!(!is_singular("$.a[*]"));
        assert!(!is_singular("$..a"));
        assert!(!is_singular("$.a[0:2]"));
        assert_eq!(split_last("$.a.b"), Some(("$.a", Step::Name("b".into()))));
        assert_eq!(split_last("$.a[ -1 ]"), Some(("$.a", Step::Index(-1))));
        assert_eq!(
            split_last("$['a]b']"),
            Some(("$", Step::Name("a]b".into())))
        );
        assert_eq!(split_last("$"), None);
    }
}
