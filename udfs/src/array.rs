//! Array and map functions, after Gojek Dagger's UDFs of the same names:
//! ElementAt, ListContains, Split, ArrayAggregate, ArrayOperate, MapGet,
//! ExponentialMovingAverage, LinearTrend; and CARDINALITY.
//!
//! Arrays and maps hold scalars (see `quiver_types::DataType::List`); the
//! functions read them row by row as [`Value`]s — their cost is in the
//! elements, which every row has its own of, so there is no column kernel
//! to share.
//!
//! Where Quiver differs from Dagger:
//!
//! * **NULL**: a NULL array, map or argument gives NULL (Dagger: an empty
//!   array from Split, false from ListContains, an exception elsewhere).
//!   NULL elements are skipped by ArrayAggregate and by the moving-average
//!   and trend functions (Dagger throws); ArrayOperate keeps them
//!   (`sorted` puts them first).
//! * **Types**: ElementAt and MapGet return the element's own type (Dagger's
//!   ElementAt returns its text). ArrayAggregate and ArrayOperate read the
//!   element type from the array; Dagger's third argument (`'Integer'`,
//!   `'double'`, `'Other'`, ...) is accepted for compatibility and checked,
//!   but does not change the result.
//! * **Index base**: ElementAt is 0-based with negative indexes counting from
//!   the end (`-1` is the last element), as in Dagger. SQL's subscript
//!   `arr[i]` is 1-based, as in standard SQL, Flink and DuckDB.
//! * **Split** takes its delimiter literally (Dagger: a Java regular
//!   expression) and keeps empty tokens, trailing ones too (Java's `split`
//!   drops trailing empty strings); an empty delimiter splits at spaces, as
//!   in Dagger.
//! * **LinearTrend** gives NULL when a timestamp falls outside the window
//!   (Dagger throws) or the window is shorter than 2 minutes.

use quiver_sql::{ArgInfo, ColumnarValue};
use quiver_types::{DataType, ElementType, Value};

use crate::args::{Builtin, EvalResult, arg, arity, want, want_int, want_string};

pub(crate) fn functions() -> Vec<Builtin> {
    vec![
        Builtin::new(
            "ARRAY",
            "ARRAY[x, ...]",
            "An array of the values (NULLs kept), all of one scalar type; BIGINT and DOUBLE together give ARRAY<DOUBLE>. `ARRAY[]` is not accepted (its type is unknown); a column of arrays comes from a source, Split or COLLECT_ARRAY.",
            |a| {
                let mut elem: Option<DataType> = None;
                for (i, x) in a.iter().enumerate() {
                    let t = x.data_type;
                    if t == DataType::Null {
                        continue;
                    }
                    if ElementType::from_data_type(t).is_none() {
                        return Err(format!(
                            "element {} is {t}; array elements must be scalars (arrays do not nest)",
                            i + 1
                        ));
                    }
                    elem = Some(match elem {
                        None => t,
                        Some(e) if e == t => e,
                        Some(e) if e.is_numeric() && t.is_numeric() => DataType::Float64,
                        Some(e) => {
                            return Err(format!(
                                "element {} is {t} but the earlier elements are {e}; CAST it",
                                i + 1
                            ));
                        }
                    });
                }
                let elem = elem.ok_or("an array needs at least one typed element; write ARRAY[CAST(NULL AS BIGINT)] for an array of one NULL")?;
                Ok(DataType::List(
                    ElementType::from_data_type(elem).unwrap_or(ElementType::Int64),
                ))
            },
            |args, n| {
                // The element type the planner chose: the widest argument.
                let types: Vec<DataType> = (0..args.len()).map(|i| arg_type(args, i)).collect();
                let elem = if types.contains(&DataType::Float64) {
                    ElementType::Float64
                } else {
                    types
                        .iter()
                        .find_map(|t| ElementType::from_data_type(*t))
                        .unwrap_or(ElementType::Int64)
                };
                let values: Vec<Value> = (0..n)
                    .map(|i| {
                        Value::List(
                            elem,
                            args.iter()
                                .map(|a| match a {
                                    ColumnarValue::Array(a) => Value::from_array(a.as_ref(), i),
                                    ColumnarValue::Scalar(v) => v.clone(),
                                })
                                .map(|v| match (elem, v) {
                                    (ElementType::Float64, Value::Int64(x)) => {
                                        Value::Float64(x as f64)
                                    }
                                    (_, v) => v,
                                })
                                .collect(),
                        )
                    })
                    .collect();
                Ok(Value::to_array(&values, DataType::List(elem)))
            },
        ),
        Builtin::new(
            "ELEMENTAT",
            "ElementAt(arr, i)",
            "Element `i` of an array, 0-based; a negative `i` counts from the end (-1 is the last). NULL when out of range. Dagger's `ElementAt`, returning the element's type (Dagger: its text). SQL's `arr[i]` is the 1-based form.",
            |a| {
                arity(a, 2, Some(2))?;
                let e = want_array(a, 0)?;
                want_int(a, 1)?;
                Ok(e.map_or(DataType::Null, ElementType::data_type))
            },
            |args, n| {
                rowwise(args, n, element_type(args, 0), |v| match (&v[0], &v[1]) {
                    (Value::List(_, xs), Value::Int64(i)) => element_at(xs, *i).cloned(),
                    _ => None,
                })
            },
        ),
        Builtin::new(
            "LISTCONTAINS",
            "ListContains(arr, x)",
            "Whether the array holds an element equal to `x` (numbers compare by value). Dagger's `ListContains`, for arrays of any scalar type.",
            |a| {
                arity(a, 2, Some(2))?;
                let e = want_array(a, 0)?;
                want_element(a, 1, e)?;
                Ok(DataType::Bool)
            },
            |args, n| {
                rowwise(args, n, DataType::Bool, |v| match (&v[0], &v[1]) {
                    (Value::List(_, xs), x) if !x.is_null() => {
                        Some(Value::Bool(xs.iter().any(|y| same(x, y))))
                    }
                    _ => None,
                })
            },
        ),
        Builtin::new(
            "SPLIT",
            "Split(s, delim)",
            "`s` cut at every occurrence of `delim` (taken literally; an empty `delim` means a space), as `ARRAY<VARCHAR>`; empty tokens are kept. Dagger's `Split`, without its regular expressions.",
            |a| {
                arity(a, 2, Some(2))?;
                want_string(a, 0)?;
                want_string(a, 1)?;
                Ok(DataType::List(ElementType::String))
            },
            |args, n| {
                let out = DataType::List(ElementType::String);
                rowwise(args, n, out, |v| match (&v[0], &v[1]) {
                    (Value::String(s), Value::String(d)) => {
                        let d = if d.is_empty() { " " } else { d.as_str() };
                        Some(Value::List(
                            ElementType::String,
                            s.split(d).map(|t| Value::String(t.to_string())).collect(),
                        ))
                    }
                    _ => None,
                })
            },
        ),
        Builtin::new(
            "CARDINALITY",
            "CARDINALITY(arr_or_map)",
            "The number of elements of an array (NULLs included) or entries of a map, as BIGINT.",
            |a| {
                arity(a, 1, Some(1))?;
                match a[0].data_type {
                    DataType::List(_) | DataType::Map(_, _) | DataType::Null => Ok(DataType::Int64),
                    t => Err(format!("argument 1 must be an ARRAY or a MAP, found {t}")),
                }
            },
            |args, n| {
                rowwise(args, n, DataType::Int64, |v| match &v[0] {
                    Value::List(_, xs) => Some(Value::Int64(xs.len() as i64)),
                    Value::Map(_, _, pairs) => Some(Value::Int64(pairs.len() as i64)),
                    _ => None,
                })
            },
        ),
        Builtin::new(
            "ARRAYAGGREGATE",
            "ArrayAggregate(arr, op [, type])",
            "Dagger's `ArrayAggregate`: the array's non-NULL elements reduced by `op`, a constant of optional `distinct.` / `sorted.` steps and one of `sum`, `average`, `min`, `max`, `count`, `findFirst` (e.g. 'distinct.count'). sum keeps the element type (0 for no elements; NULL on BIGINT overflow), average gives DOUBLE, count BIGINT, the others the element type (NULL for no elements). `type` (Dagger's 'Integer', 'Double', 'Other', ...) is accepted but the element type decides.",
            |a| {
                arity(a, 2, Some(3))?;
                let e = want_array(a, 0)?;
                let (_, last) = ops(a, 1, true)?;
                dagger_type(a, 2)?;
                aggregate_type(last, e)
            },
            |args, n| {
                let (steps, last) = ops_value(args, 1, true)?;
                let out = aggregate_type(last, arg_type(args, 0).element())?;
                let last = last.unwrap_or(Op::Count);
                rowwise(args, n, out, |v| match &v[0] {
                    Value::List(e, xs) => {
                        let xs: Vec<Value> = xs.iter().filter(|x| !x.is_null()).cloned().collect();
                        aggregate(last, *e, apply(&steps, xs))
                    }
                    _ => None,
                })
            },
        ),
        Builtin::new(
            "ARRAYOPERATE",
            "ArrayOperate(arr, op [, type])",
            "Dagger's `ArrayOperate`: the array after `op`, a constant chain of `distinct` (first occurrences, in order) and `sorted` (ascending, NULLs first, NaN last) steps such as 'distinct.sorted' (`sort` is accepted for `sorted`). NULL elements are kept. `type` as in ArrayAggregate.",
            |a| {
                arity(a, 2, Some(3))?;
                let e = want_array(a, 0)?;
                ops(a, 1, false)?;
                dagger_type(a, 2)?;
                Ok(e.map_or(DataType::Null, DataType::List))
            },
            |args, n| {
                let (steps, _) = ops_value(args, 1, false)?;
                rowwise(args, n, arg_type(args, 0), |v| match &v[0] {
                    Value::List(e, xs) => Some(Value::List(*e, apply(&steps, xs.clone()))),
                    _ => None,
                })
            },
        ),
        Builtin::new(
            "MAPGET",
            "MapGet(map, key)",
            "The value of `key` in a map, NULL when the key is absent. Dagger's `MapGet`.",
            |a| {
                arity(a, 2, Some(2))?;
                match a[0].data_type {
                    DataType::Map(k, v) => {
                        want_element(a, 1, Some(k))?;
                        Ok(v.data_type())
                    }
                    DataType::Null => Ok(DataType::Null),
                    t => Err(format!("argument 1 must be a MAP, found {t}")),
                }
            },
            |args, n| {
                let out = match arg_type(args, 0) {
                    DataType::Map(_, v) => v.data_type(),
                    _ => DataType::Null,
                };
                rowwise(args, n, out, |v| match (&v[0], &v[1]) {
                    (Value::Map(_, _, pairs), k) if !k.is_null() => pairs
                        .iter()
                        .find(|(x, _)| same(k, x))
                        .map(|(_, y)| y.clone()),
                    _ => None,
                })
            },
        ),
        Builtin::new(
            "EXPONENTIALMOVINGAVERAGE",
            "ExponentialMovingAverage(times, values, hop_start, window, alpha)",
            "Dagger's `ExponentialMovingAverage` of per-minute values: with `times` an ARRAY<TIMESTAMP> and `values` an array of numbers of the same length, each value at position p = window − 1 − ⌊(time − hop_start) / 1 min⌋ adds value·alpha·(1−alpha)^p, or value·(1−alpha)^p at p = window − 1; of two values at one position the later in the arrays counts. DOUBLE; NULL when the arrays differ in length.",
            |a| {
                arity(a, 5, Some(5))?;
                series_args(a)?;
                want(a, 3, &[DataType::Int64, DataType::Float64])?;
                want(a, 4, &[DataType::Int64, DataType::Float64])?;
                Ok(DataType::Float64)
            },
            |args, n| {
                rowwise(args, n, DataType::Float64, |v| {
                    let (points, start) = series(&v[0], &v[1], &v[2])?;
                    let window = number(&v[3])?;
                    let alpha = number(&v[4])?;
                    ema(&points, start, window, alpha).map(Value::Float64)
                })
            },
        ),
        Builtin::new(
            "LINEARTREND",
            "LinearTrend(times, values, hop_start, minutes)",
            "Dagger's `LinearTrend`: the least-squares slope (per minute) of a window of `minutes` one-minute slots from `hop_start`, each slot holding the value whose time falls in it (the later in the arrays wins) or 0. DOUBLE; NULL when the arrays differ in length, a time falls outside the window, or `minutes` < 2.",
            |a| {
                arity(a, 4, Some(4))?;
                series_args(a)?;
                want_int(a, 3)?;
                Ok(DataType::Float64)
            },
            |args, n| {
                rowwise(args, n, DataType::Float64, |v| {
                    let (points, start) = series(&v[0], &v[1], &v[2])?;
                    let Value::Int64(minutes) = v[3] else {
                        return None;
                    };
                    linear_trend(&points, start, minutes).map(Value::Float64)
                })
            },
        ),
    ]
}

// ---------------------------------------------------------------------------
// Plan-time checks
// ---------------------------------------------------------------------------

/// Argument `i` must be an array; returns its element type (`None` for an
/// untyped NULL).
pub(crate) fn want_array(a: &[ArgInfo<'_>], i: usize) -> Result<Option<ElementType>, String> {
    match a.get(i).map(|x| x.data_type) {
        Some(DataType::List(e)) => Ok(Some(e)),
        Some(DataType::Null) => Ok(None),
        Some(t) => Err(format!(
            "argument {} must be an ARRAY, found {t}; build one with ARRAY[...], Split(...) or COLLECT_ARRAY(...)",
            i + 1
        )),
        None => Err(format!("argument {} is missing", i + 1)),
    }
}

/// Argument `i` must be a value of element type `e` (a BIGINT is accepted
/// for DOUBLE elements).
fn want_element(a: &[ArgInfo<'_>], i: usize, e: Option<ElementType>) -> Result<(), String> {
    let Some(e) = e else { return Ok(()) };
    let t = e.data_type();
    if t == DataType::Float64 {
        want(a, i, &[DataType::Float64, DataType::Int64]).map(drop)
    } else {
        want(a, i, &[t]).map(drop)
    }
}

/// The times, values and hop start of ExponentialMovingAverage and
/// LinearTrend.
fn series_args(a: &[ArgInfo<'_>]) -> Result<(), String> {
    match want_array(a, 0)? {
        None | Some(ElementType::Timestamp) => {}
        Some(e) => {
            return Err(format!(
                "argument 1 must be ARRAY<TIMESTAMP>, found ARRAY<{}>",
                e.data_type()
            ));
        }
    }
    match want_array(a, 1)? {
        None | Some(ElementType::Int64 | ElementType::Float64) => {}
        Some(e) => {
            return Err(format!(
                "argument 2 must be ARRAY<DOUBLE> or ARRAY<BIGINT>, found ARRAY<{}>",
                e.data_type()
            ));
        }
    }
    want(a, 2, &[DataType::Timestamp]).map(drop)
}

/// Dagger's input data type argument: optional, a constant naming one of
/// Dagger's types.
fn dagger_type(a: &[ArgInfo<'_>], i: usize) -> Result<(), String> {
    const NAMES: [&str; 7] = [
        "INTEGER", "INT", "DOUBLE", "FLOAT", "LONG", "BIGINT", "OTHER",
    ];
    let Some(x) = a.get(i) else { return Ok(()) };
    match x.literal {
        Some(Value::String(s)) if NAMES.contains(&s.to_ascii_uppercase().as_str()) => Ok(()),
        _ => Err(format!(
            "argument {} must be a constant naming the element type, one of 'Integer', 'Int', 'Double', 'Float', 'Long', 'BigInt', 'Other'",
            i + 1
        )),
    }
}

/// One step of an ArrayAggregate / ArrayOperate operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Distinct,
    Sorted,
    Sum,
    Average,
    Min,
    Max,
    Count,
    FindFirst,
}

const OPS: &[(&str, Op)] = &[
    ("distinct", Op::Distinct),
    ("sorted", Op::Sorted),
    ("sort", Op::Sorted),
    ("sum", Op::Sum),
    ("average", Op::Average),
    ("avg", Op::Average),
    ("min", Op::Min),
    ("max", Op::Max),
    ("count", Op::Count),
    ("findfirst", Op::FindFirst),
];

/// Parses `'distinct.sorted.count'`: array steps, then (for
/// ArrayAggregate) one reduction.
fn parse_ops(text: &str, reduce: bool) -> Result<(Vec<Op>, Option<Op>), String> {
    let mut steps = Vec::new();
    let parts: Vec<&str> = text.split('.').map(str::trim).collect();
    for (i, p) in parts.iter().enumerate() {
        let op = OPS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(p))
            .map(|(_, o)| *o)
            .ok_or_else(|| {
                format!(
                    "unknown operation '{p}' in '{text}'; expected distinct, sorted{}",
                    if reduce {
                        ", then one of sum, average, min, max, count, findFirst"
                    } else {
                        ""
                    }
                )
            })?;
        let is_step = matches!(op, Op::Distinct | Op::Sorted);
        let last = i + 1 == parts.len();
        match (reduce, is_step, last) {
            (_, true, _) if !(reduce && last) => steps.push(op),
            (true, false, true) => return Ok((steps, Some(op))),
            (true, true, true) => {
                return Err(format!(
                    "'{text}' ends with '{p}', which gives an array; end with sum, average, min, max, count or findFirst, or use ArrayOperate"
                ));
            }
            (true, false, false) => {
                return Err(format!(
                    "'{p}' in '{text}' gives one value, so it must come last"
                ));
            }
            (false, false, _) => {
                return Err(format!(
                    "'{p}' in '{text}' gives one value; ArrayOperate takes distinct and sorted steps (use ArrayAggregate to reduce)"
                ));
            }
            _ => steps.push(op),
        }
    }
    Ok((steps, None))
}

/// The constant operation argument at plan time.
fn ops(a: &[ArgInfo<'_>], i: usize, reduce: bool) -> Result<(Vec<Op>, Option<Op>), String> {
    want_string(a, i)?;
    match a[i].literal {
        Some(Value::String(s)) => parse_ops(s, reduce),
        _ => Err(format!(
            "argument {} must be a constant operation such as '{}'",
            i + 1,
            if reduce {
                "distinct.count"
            } else {
                "distinct.sorted"
            }
        )),
    }
}

/// The operation argument at run time (a scalar).
fn ops_value(
    args: &[ColumnarValue],
    i: usize,
    reduce: bool,
) -> Result<(Vec<Op>, Option<Op>), String> {
    match arg(args, i)? {
        ColumnarValue::Scalar(Value::String(s)) => parse_ops(s, reduce),
        _ => Err("the operation must be a constant".to_string()),
    }
}

fn aggregate_type(op: Option<Op>, e: Option<ElementType>) -> Result<DataType, String> {
    let Some(e) = e else {
        return Ok(DataType::Null);
    };
    let t = e.data_type();
    Ok(match op {
        Some(Op::Count) | None => DataType::Int64,
        Some(Op::Average) if t.is_numeric() => DataType::Float64,
        Some(Op::Sum) if t.is_numeric() => t,
        Some(Op::Min | Op::Max | Op::FindFirst) => t,
        Some(_) => {
            return Err(format!(
                "sum and average need an array of numbers, found ARRAY<{t}>"
            ));
        }
    })
}

// ---------------------------------------------------------------------------
// Run time
// ---------------------------------------------------------------------------

/// Calls `f` with each row's argument values and builds the result column
/// of type `out` from its answers (`None` is NULL); a row with a NULL
/// argument is NULL without calling `f`.
fn rowwise(
    args: &[ColumnarValue],
    n: usize,
    out: DataType,
    f: impl Fn(&[Value]) -> Option<Value>,
) -> EvalResult {
    let mut row = Vec::with_capacity(args.len());
    let mut values = Vec::with_capacity(n);
    for i in 0..n {
        row.clear();
        row.extend(args.iter().map(|a| match a {
            ColumnarValue::Array(a) => Value::from_array(a.as_ref(), i),
            ColumnarValue::Scalar(v) => v.clone(),
        }));
        values.push(if row.iter().any(Value::is_null) {
            Value::Null
        } else {
            f(&row).unwrap_or(Value::Null)
        });
    }
    Ok(Value::to_array(&values, out))
}

/// The SQL type of argument `i` at run time (what the planner checked).
fn arg_type(args: &[ColumnarValue], i: usize) -> DataType {
    match args.get(i) {
        Some(ColumnarValue::Array(a)) => {
            DataType::from_arrow(a.data_type()).unwrap_or(DataType::Null)
        }
        Some(ColumnarValue::Scalar(v)) => v.data_type(),
        None => DataType::Null,
    }
}

/// The element type of array argument `i` as a SQL type.
fn element_type(args: &[ColumnarValue], i: usize) -> DataType {
    arg_type(args, i)
        .element()
        .map_or(DataType::Null, ElementType::data_type)
}

/// `xs[i]`, 0-based, negative from the end.
fn element_at(xs: &[Value], i: i64) -> Option<&Value> {
    let len = xs.len() as i64;
    let i = if i < 0 { len + i } else { i };
    if (0..len).contains(&i) {
        xs.get(i as usize)
    } else {
        None
    }
}

/// SQL equality of two scalars, numbers by value (an integer key finds a
/// DOUBLE element equal to it).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int64(x), Value::Float64(y)) | (Value::Float64(y), Value::Int64(x)) => {
            *x as f64 == *y
        }
        (Value::Float64(x), Value::Float64(y)) => x == y,
        _ => a == b,
    }
}

/// The array after `steps`.
fn apply(steps: &[Op], mut xs: Vec<Value>) -> Vec<Value> {
    for op in steps {
        match op {
            Op::Distinct => {
                let mut seen: Vec<Value> = Vec::new();
                xs.retain(|x| {
                    let new = !seen.iter().any(|s| s.total_cmp(x).is_eq());
                    if new {
                        seen.push(x.clone());
                    }
                    new
                });
            }
            Op::Sorted => xs.sort_by(Value::total_cmp),
            _ => {}
        }
    }
    xs
}

/// One value from the (non-NULL) elements.
fn aggregate(op: Op, e: ElementType, xs: Vec<Value>) -> Option<Value> {
    match op {
        Op::Count => Some(Value::Int64(xs.len() as i64)),
        Op::FindFirst => xs.into_iter().next(),
        Op::Min => xs.into_iter().min_by(Value::total_cmp),
        Op::Max => xs.into_iter().max_by(Value::total_cmp),
        Op::Sum if e == ElementType::Int64 => xs
            .iter()
            .try_fold(0i64, |acc, x| match x {
                Value::Int64(v) => acc.checked_add(*v),
                _ => Some(acc),
            })
            .map(Value::Int64),
        Op::Sum => Some(Value::Float64(floats(&xs).sum())),
        Op::Average if xs.is_empty() => None,
        Op::Average => Some(Value::Float64(floats(&xs).sum::<f64>() / xs.len() as f64)),
        Op::Distinct | Op::Sorted => None,
    }
}

fn floats(xs: &[Value]) -> impl Iterator<Item = f64> + '_ {
    xs.iter().filter_map(number)
}

pub(crate) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int64(i) => Some(*i as f64),
        Value::Float64(f) => Some(*f),
        _ => None,
    }
}

/// The `(time, value)` pairs of two parallel arrays (pairs with a NULL
/// skipped) and the hop start; `None` when the arrays differ in length.
pub(crate) fn series(
    times: &Value,
    values: &Value,
    start: &Value,
) -> Option<(Vec<(i64, f64)>, i64)> {
    let (Value::List(_, ts), Value::List(_, vs), Value::Timestamp(start)) = (times, values, start)
    else {
        return None;
    };
    if ts.len() != vs.len() {
        return None;
    }
    let points = ts
        .iter()
        .zip(vs)
        .filter_map(|(t, v)| match t {
            Value::Timestamp(t) => Some((*t, number(v)?)),
            _ => None,
        })
        .collect();
    Some((points, *start))
}

const MINUTE_MS: i64 = 60_000;

/// Dagger's per-minute exponential moving average.
fn ema(points: &[(i64, f64)], start: i64, window: f64, alpha: f64) -> Option<f64> {
    // Position of each value, later pairs overwriting earlier ones at the
    // same position (Dagger fills a sorted map in array order).
    let mut by_pos: Vec<(f64, f64)> = Vec::with_capacity(points.len());
    for &(t, v) in points {
        // Java's long division truncates toward zero.
        let pos = window - 1.0 - ((t - start) / MINUTE_MS) as f64;
        match by_pos.iter_mut().find(|(p, _)| *p == pos) {
            Some(slot) => slot.1 = v,
            None => by_pos.push((pos, v)),
        }
    }
    by_pos.sort_by(|a, b| a.0.total_cmp(&b.0));
    let sum = by_pos
        .iter()
        .map(|&(pos, v)| {
            let decay = (1.0 - alpha).powf(pos);
            if pos == window - 1.0 {
                v * decay
            } else {
                v * alpha * decay
            }
        })
        .sum::<f64>();
    sum.is_finite().then_some(sum)
}

/// Dagger's LinearTrend: slope of the per-minute slots against 0..minutes.
fn linear_trend(points: &[(i64, f64)], start: i64, minutes: i64) -> Option<f64> {
    if !(2..=1_000_000).contains(&minutes) {
        return None;
    }
    let n = minutes as usize;
    let mut slots = vec![0.0; n];
    for &(t, v) in points {
        let pos = (t - start) / MINUTE_MS;
        if !(0..minutes).contains(&pos) {
            return None;
        }
        slots[pos as usize] = v;
    }
    let nf = n as f64;
    let sum_x: f64 = (0..n).map(|i| i as f64).sum();
    let sum_xx: f64 = (0..n).map(|i| (i * i) as f64).sum();
    let sum_y: f64 = slots.iter().sum();
    let sum_xy: f64 = slots.iter().enumerate().map(|(i, y)| i as f64 * y).sum();
    let cov = sum_xy - sum_x * sum_y / nf;
    let var = sum_xx - sum_x * sum_x / nf;
    let slope = cov / var;
    slope.is_finite().then_some(slope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::testing::{call, infos, lit, s, type_error};

    fn ints(xs: &[i64]) -> Value {
        Value::List(
            ElementType::Int64,
            xs.iter().map(|x| Value::Int64(*x)).collect(),
        )
    }

    fn one(name: &str, args: &[Value]) -> Value {
        let args: Vec<ColumnarValue> = args.iter().cloned().map(lit).collect();
        call(name, &args).remove(0)
    }

    #[test]
    fn element_at_is_zero_based_with_negative_from_the_end() {
        let a = ints(&[10, 20, 30]);
        assert_eq!(
            one("ELEMENTAT", &[a.clone(), Value::Int64(0)]),
            Value::Int64(10)
        );
        assert_eq!(
            one("ELEMENTAT", &[a.clone(), Value::Int64(-1)]),
            Value::Int64(30)
        );
        assert_eq!(one("ELEMENTAT", &[a.clone(), Value::Int64(3)]), Value::Null);
        assert_eq!(
            one("ELEMENTAT", &[a.clone(), Value::Int64(-4)]),
            Value::Null
        );
        assert_eq!(
            one("ELEMENTAT", &[Value::Null, Value::Int64(0)]),
            Value::Null
        );
        assert!(
            type_error("ELEMENTAT", &infos(&[lit(s("x")), lit(Value::Int64(1))]))
                .contains("must be an ARRAY")
        );
    }

    #[test]
    fn split_and_contains() {
        let parts = one("SPLIT", &[s("a,,b,"), s(",")]);
        assert_eq!(
            parts,
            Value::List(ElementType::String, vec![s("a"), s(""), s("b"), s("")])
        );
        assert_eq!(
            one("SPLIT", &[s("a b"), s("")]),
            Value::List(ElementType::String, vec![s("a"), s("b")])
        );
        assert_eq!(
            one("LISTCONTAINS", &[parts.clone(), s("b")]),
            Value::Bool(true)
        );
        assert_eq!(one("LISTCONTAINS", &[parts, s("c")]), Value::Bool(false));
        let doubles = Value::List(ElementType::Float64, vec![Value::Float64(2.0)]);
        assert_eq!(
            one("LISTCONTAINS", &[doubles, Value::Int64(2)]),
            Value::Bool(true)
        );
        assert!(
            type_error("LISTCONTAINS", &infos(&[lit(ints(&[1])), lit(s("1"))]))
                .contains("argument 2 must be BIGINT")
        );
    }

    #[test]
    fn array_aggregate_and_operate_follow_daggers_operations() {
        let a = Value::List(
            ElementType::Int64,
            vec![
                Value::Int64(3),
                Value::Int64(1),
                Value::Null,
                Value::Int64(3),
            ],
        );
        let agg = |op: &str| one("ARRAYAGGREGATE", &[a.clone(), s(op), s("Long")]);
        assert_eq!(agg("sum"), Value::Int64(7));
        assert_eq!(agg("count"), Value::Int64(3));
        assert_eq!(agg("distinct.count"), Value::Int64(2));
        assert_eq!(agg("average"), Value::Float64(7.0 / 3.0));
        assert_eq!(agg("min"), Value::Int64(1));
        assert_eq!(agg("max"), Value::Int64(3));
        assert_eq!(agg("findFirst"), Value::Int64(3));
        assert_eq!(agg("sorted.findFirst"), Value::Int64(1));
        assert_eq!(
            one("ARRAYAGGREGATE", &[ints(&[]), s("sum")]),
            Value::Int64(0)
        );
        assert_eq!(one("ARRAYAGGREGATE", &[ints(&[]), s("max")]), Value::Null);
        assert_eq!(
            one("ARRAYAGGREGATE", &[ints(&[i64::MAX, 1]), s("sum")]),
            Value::Null
        );
        assert_eq!(
            one(
                "ARRAYOPERATE",
                &[a.clone(), s("distinct.sorted"), s("Other")]
            ),
            Value::List(
                ElementType::Int64,
                vec![Value::Null, Value::Int64(1), Value::Int64(3)]
            )
        );
        let err = |args: &[Value]| {
            let args: Vec<ColumnarValue> = args.iter().cloned().map(lit).collect();
            type_error("ARRAYAGGREGATE", &infos(&args))
        };
        assert!(err(&[a.clone(), s("distinct")]).contains("ends with 'distinct'"));
        assert!(err(&[a.clone(), s("median")]).contains("unknown operation 'median'"));
        assert!(err(&[a.clone(), s("sum"), s("Decimal")]).contains("'Integer'"));
        let strings = Value::List(ElementType::String, vec![s("x")]);
        assert!(err(&[strings, s("sum")]).contains("need an array of numbers"));
    }

    #[test]
    fn map_get_finds_keys() {
        let m = Value::Map(
            ElementType::String,
            ElementType::Int64,
            vec![(s("a"), Value::Int64(1)), (s("b"), Value::Null)],
        );
        assert_eq!(one("MAPGET", &[m.clone(), s("a")]), Value::Int64(1));
        assert_eq!(one("MAPGET", &[m.clone(), s("z")]), Value::Null);
        assert_eq!(one("CARDINALITY", &[m]), Value::Int64(2));
    }

    #[test]
    fn moving_average_and_trend_match_daggers_formulas() {
        let t0 = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE_MS;
        let times = Value::List(
            ElementType::Timestamp,
            (0..3)
                .map(|i| Value::Timestamp(t0 + i * MINUTE_MS))
                .collect(),
        );
        let values = Value::List(
            ElementType::Float64,
            [1.0, 2.0, 4.0].iter().map(|x| Value::Float64(*x)).collect(),
        );
        // Window 3: positions 2, 1, 0 for the three minutes.
        let got = one(
            "EXPONENTIALMOVINGAVERAGE",
            &[
                times.clone(),
                values.clone(),
                Value::Timestamp(t0),
                Value::Float64(3.0),
                Value::Float64(0.5),
            ],
        );
        let want = 1.0 * 0.25 + 2.0 * 0.5 * 0.5 + 4.0 * 0.5;
        assert_eq!(got, Value::Float64(want));
        // Slots 1, 2, 4 against 0, 1, 2: slope 1.5.
        let slope = one(
            "LINEARTREND",
            &[
                times.clone(),
                values.clone(),
                Value::Timestamp(t0),
                Value::Int64(3),
            ],
        );
        assert_eq!(slope, Value::Float64(1.5));
        // A time outside the window, or a one-minute window: NULL.
        assert_eq!(
            one(
                "LINEARTREND",
                &[
                    times.clone(),
                    values.clone(),
                    Value::Timestamp(t0),
                    Value::Int64(2)
                ]
            ),
            Value::Null
        );
        assert_eq!(
            one(
                "LINEARTREND",
                &[times, values, Value::Timestamp(t0), Value::Int64(1)]
            ),
            Value::Null
        );
    }
}
