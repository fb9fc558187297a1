//! Binding expressions: names to columns, literals to values, operators
//! and functions to typed [`ScalarExpr`]s, with implicit casts.
//!
//! In a grouped query (one with `GROUP BY TUMBLE/HOP`), expressions are
//! bound against the aggregate's output: aggregate calls become columns of
//! the aggregate, `TUMBLE_START/END` become the window bounds, and any
//! other part must be built from GROUP BY keys.

use std::cell::RefCell;
use std::ops::ControlFlow;

use quiver_types::{DataType, ElementType, Value, time};
use sqlparser::ast::{
    BinaryOperator, CeilFloorKind, DateTimeField, DuplicateTreatment, Expr, Function, FunctionArg,
    FunctionArgExpr, FunctionArguments, Ident, Spanned, Subscript, UnaryOperator,
    Value as SqlValue, visit_expressions,
};
use sqlparser::tokenizer::Span;

use crate::bind::Binder;
use crate::coerce;
use crate::error::{PlanError, PlanResult};
use crate::expr::{AggFunc, AggregateCall, BinaryOp, Fraction, Interval, ScalarExpr};
use crate::functions::ArgInfo;
use crate::scope::{Relation, Unresolved};
use crate::window::Window;

/// What names in an expression refer to.
pub(crate) enum Ctx<'r> {
    /// Columns of one relation.
    Row(&'r Relation),
    /// The output of a windowed aggregation over `input`.
    Grouped(&'r Grouped<'r>),
    /// Columns of a relation, plus OVER aggregates over it.
    Over(&'r crate::bind_over::OverCtx<'r>),
}

/// The state of binding a grouped query's SELECT and HAVING.
pub(crate) struct Grouped<'r> {
    /// The relation being grouped.
    pub input: &'r Relation,
    /// The GROUP BY window.
    pub window: Window,
    /// The GROUP BY keys, bound against `input`.
    pub keys: Vec<ScalarExpr>,
    /// Aggregates found so far (deduplicated).
    pub aggs: RefCell<Vec<AggregateCall>>,
}

const WINDOW_AUX: &[&str] = &[
    "TUMBLE_START",
    "TUMBLE_END",
    "TUMBLE_ROWTIME",
    "HOP_START",
    "HOP_END",
    "HOP_ROWTIME",
];
const NONDETERMINISTIC: &[&str] = &[
    "CURRENT_TIMESTAMP",
    "NOW",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "LOCALTIMESTAMP",
    "LOCALTIME",
    "PROCTIME",
    "RAND",
    "RANDOM",
    "UUID",
    "UNIX_TIMESTAMP",
];

/// The upper-case name of a called function.
pub(crate) fn function_name(f: &Function) -> String {
    f.name.to_string().to_ascii_uppercase()
}

/// Whether `name` is an aggregate function.
pub(crate) fn is_aggregate_name(name: &str) -> bool {
    AggFunc::from_name(name).is_some()
}

/// Whether the expression calls a grouping aggregate or a window bound function.
pub(crate) fn contains_aggregate(e: &Expr) -> bool {
    visit_expressions(e, |x| match x {
        // `SUM(x) OVER (...)` is not a grouping aggregate.
        Expr::Function(f) if f.over.is_none() => {
            let n = function_name(f);
            if is_aggregate_name(&n) || WINDOW_AUX.contains(&n.as_str()) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

fn plain_args(f: &Function) -> PlanResult<(Vec<&FunctionArgExpr>, bool)> {
    match &f.args {
        FunctionArguments::None => Ok((Vec::new(), false)),
        FunctionArguments::Subquery(_) => Err(PlanError::at(
            f.name.span(),
            "subqueries as function arguments are not supported",
        )),
        FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return Err(PlanError::at(
                    f.name.span(),
                    format!("clauses inside {}(...) are not supported", f.name),
                ));
            }
            let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
            let mut out = Vec::new();
            for a in &list.args {
                match a {
                    FunctionArg::Unnamed(e) => out.push(e),
                    _ => {
                        return Err(PlanError::at(
                            f.name.span(),
                            "named function arguments are not supported",
                        ));
                    }
                }
            }
            Ok((out, distinct))
        }
    }
}

pub(crate) fn expr_args(f: &Function) -> PlanResult<Vec<&Expr>> {
    let (args, distinct) = plain_args(f)?;
    if distinct {
        return Err(PlanError::at(
            f.name.span(),
            format!("DISTINCT is only allowed in aggregates, not in {}", f.name),
        ));
    }
    args.into_iter()
        .map(|a| match a {
            FunctionArgExpr::Expr(e) => Ok(e),
            _ => Err(PlanError::at(
                f.name.span(),
                format!("`*` is not an argument of {}", f.name),
            )),
        })
        .collect()
}

/// Parses `TUMBLE(t, size)` / `HOP(t, slide, size)` (or the `_START`/`_END`/
/// `_ROWTIME` variants) into a window, checking that `t` is the event time.
pub(crate) fn parse_window_call(
    b: &Binder<'_>,
    f: &Function,
    name: &str,
    rel: &Relation,
) -> PlanResult<Window> {
    let kind = if name.starts_with("TUMBLE") {
        "TUMBLE"
    } else {
        "HOP"
    };
    let args = expr_args(f)?;
    let want = if kind == "TUMBLE" { 2 } else { 3 };
    if args.len() != want {
        let usage = if kind == "TUMBLE" {
            "TUMBLE(event_time, INTERVAL '1' MINUTE)"
        } else {
            "HOP(event_time, INTERVAL '1' MINUTE, INTERVAL '10' MINUTE) -- slide, then size"
        };
        return Err(PlanError::at(
            f.name.span(),
            format!("{name} takes {want} arguments, found {}", args.len()),
        )
        .help(format!("write {usage}")));
    }
    if !rel.is_stream() {
        return Err(PlanError::at(
            f.name.span(),
            format!("{name} needs a stream, but FROM reads a table"),
        ));
    }
    let time_name = rel
        .time_attr
        .map(|i| rel.columns[i].name.clone())
        .unwrap_or_else(|| "rowtime".into());
    let t = b.bind_expr(args[0], &Ctx::Row(rel))?;
    let is_time = match &t {
        ScalarExpr::RowTime => true,
        ScalarExpr::Column { index, .. } => Some(*index) == rel.time_attr,
        _ => false,
    };
    if !is_time {
        return Err(PlanError::at(
            args[0].span(),
            format!("the first argument of {name} must be the stream's event time `{time_name}`"),
        )
        .help(format!(
            "windows follow event time: write {name}({time_name}, ...) or {name}(rowtime, ...)"
        )));
    }
    let mut sizes = Vec::new();
    for a in &args[1..] {
        let Expr::Interval(i) = a else {
            return Err(
                PlanError::at(a.span(), format!("{name} needs an INTERVAL here"))
                    .help("write INTERVAL '1' MINUTE"),
            );
        };
        let iv = parse_interval(i, a.span())?;
        if iv.months != 0 || iv.millis <= 0 {
            return Err(PlanError::at(
                a.span(),
                "window sizes must be positive fixed durations (seconds, minutes, hours, days)",
            )
            .help("months and years vary in length; use days"));
        }
        sizes.push(iv.millis);
    }
    Ok(if kind == "TUMBLE" {
        Window::Tumble { size: sizes[0] }
    } else {
        Window::Hop {
            slide: sizes[0],
            size: sizes[1],
        }
    })
}

/// Parses an INTERVAL literal: `INTERVAL '5' MINUTE`, `INTERVAL '1.5' HOUR`,
/// `INTERVAL '90 seconds'`, `INTERVAL '1 hour 30 minutes'`, `INTERVAL '2' MONTH`.
pub(crate) fn parse_interval(i: &sqlparser::ast::Interval, span: Span) -> PlanResult<Interval> {
    if i.last_field.is_some() {
        return Err(PlanError::at(span, "INTERVAL ... TO ... is not supported")
            .help("write a single unit: INTERVAL '90' SECOND"));
    }
    let (text, negative) = match &*i.value {
        Expr::Value(v) => (literal_text(&v.value), false),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match &**expr {
            Expr::Value(v) => (literal_text(&v.value), true),
            _ => (None, false),
        },
        _ => (None, false),
    };
    let Some(text) = text else {
        return Err(PlanError::at(span, "INTERVAL needs a constant such as '5'")
            .help("write INTERVAL '5' MINUTE"));
    };
    let bad = || {
        PlanError::at(span, format!("cannot read INTERVAL '{text}'"))
            .help("write INTERVAL '5' MINUTE or INTERVAL '90 seconds'")
    };
    let mut parts: Vec<(String, String)> = Vec::new();
    match &i.leading_field {
        Some(field) => parts.push((text.trim().to_string(), field.to_string())),
        None => {
            let words: Vec<&str> = text.split_whitespace().collect();
            if !words.len().is_multiple_of(2) {
                return Err(bad());
            }
            for pair in words.chunks(2) {
                parts.push((pair[0].to_string(), pair[1].to_string()));
            }
        }
    }
    let mut out = Interval::default();
    for (amount, unit) in parts {
        let n: f64 = amount.parse().map_err(|_| bad())?;
        let unit = unit.to_ascii_uppercase();
        let unit = unit.trim_end_matches('S');
        let ms = match unit {
            "MILLISECOND" | "M" => 1,
            "SECOND" | "SEC" => time::SECOND,
            "MINUTE" | "MIN" => time::MINUTE,
            "HOUR" => time::HOUR,
            "DAY" => time::DAY,
            "WEEK" => 7 * time::DAY,
            "MONTH" | "YEAR" => {
                if n.fract() != 0.0 {
                    return Err(bad());
                }
                out.months += (n as i32) * if unit == "YEAR" { 12 } else { 1 };
                continue;
            }
            _ => return Err(bad()),
        };
        let total = n * ms as f64;
        if total.fract() != 0.0 {
            return Err(PlanError::at(
                span,
                format!("INTERVAL '{text}' is not a whole number of milliseconds"),
            ));
        }
        out.millis += total as i64;
    }
    if negative {
        out.months = -out.months;
        out.millis = -out.millis;
    }
    Ok(out)
}

fn literal_text(v: &SqlValue) -> Option<String> {
    match v {
        SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => Some(s.clone()),
        SqlValue::Number(n, _) => Some(n.to_string()),
        _ => None,
    }
}

fn is_time_unit(field: &DateTimeField) -> Option<String> {
    match field {
        DateTimeField::NoDateTime => None,
        f => Some(f.to_string().to_ascii_uppercase()),
    }
}

impl Binder<'_> {
    /// Binds an expression in a context.
    pub(crate) fn bind_expr(&self, e: &Expr, ctx: &Ctx<'_>) -> PlanResult<ScalarExpr> {
        if let Ctx::Over(o) = ctx
            && let Expr::Function(f) = e
            && f.over.is_some()
        {
            return self.bind_over_call(f, o);
        }
        if let Ctx::Grouped(g) = ctx {
            if let Expr::Function(f) = e {
                let name = function_name(f);
                if let Some(func) = AggFunc::from_name(&name) {
                    return self.bind_aggregate(f, func, g);
                }
                if WINDOW_AUX.contains(&name.as_str()) {
                    return self.bind_window_bound(f, &name, g);
                }
            }
            if !contains_aggregate(e) {
                let bound = self.bind_expr(e, &Ctx::Row(g.input))?;
                if let Some(i) = g.keys.iter().position(|k| *k == bound) {
                    return Ok(ScalarExpr::column(
                        i,
                        key_label(&bound, i),
                        bound.data_type(),
                    ));
                }
                if bound.is_constant() {
                    return Ok(bound);
                }
            }
        }
        self.bind_structure(e, ctx)
            .map_err(|err| err.or_at(e.span()))
    }

    fn bind_structure(&self, e: &Expr, ctx: &Ctx<'_>) -> PlanResult<ScalarExpr> {
        match e {
            Expr::Identifier(id) => self.bind_column(None, id, ctx),
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [q, name] => self.bind_column(Some(q), name, ctx),
                _ => Err(PlanError::at(e.span(), format!("`{e}` has too many parts"))
                    .help("write column or table.column")),
            },
            Expr::Value(v) => literal(&v.value, v.span),
            Expr::TypedString(ts) => {
                let text = literal_text(&ts.value.value).unwrap_or_default();
                let ty = ts.data_type.to_string();
                let parsed = match DataType::parse_sql(&ty) {
                    Some(DataType::Timestamp) => time::parse_timestamp(&text)
                        .map(|t| (Value::Timestamp(t), DataType::Timestamp))
                        .ok(),
                    Some(DataType::Date) => {
                        time::parse_date(&text).map(|d| (Value::Date(d), DataType::Date))
                    }
                    _ => {
                        return Err(PlanError::at(
                            e.span(),
                            format!("{ty} literals are not supported"),
                        )
                        .help("write TIMESTAMP '2024-01-01 00:00:00' or DATE '2024-01-01'"));
                    }
                };
                parsed
                    .map(|(v, t)| ScalarExpr::Literal(v, t))
                    .ok_or_else(|| {
                        PlanError::at(e.span(), format!("`{text}` is not a valid {ty}"))
                            .help("write 2024-01-31 or 2024-01-31 08:00:00")
                    })
            }
            Expr::Nested(inner) => self.bind_expr(inner, ctx),
            Expr::Interval(_) => Err(PlanError::at(
                e.span(),
                "an INTERVAL can only be added to or subtracted from a TIMESTAMP",
            )
            .help("write event_time + INTERVAL '1' HOUR")),
            Expr::BinaryOp { left, op, right } => self.bind_binary(e, left, op, right, ctx),
            Expr::UnaryOp { op, expr } => {
                let inner = self.bind_expr(expr, ctx)?;
                match op {
                    UnaryOperator::Not => Ok(ScalarExpr::Not(Box::new(self.require_bool(
                        inner,
                        expr.span(),
                        "NOT",
                    )?))),
                    UnaryOperator::Minus => match inner {
                        ScalarExpr::Literal(Value::Int64(i), t) => {
                            Ok(ScalarExpr::Literal(Value::Int64(i.wrapping_neg()), t))
                        }
                        ScalarExpr::Literal(Value::Float64(f), t) => {
                            Ok(ScalarExpr::Literal(Value::Float64(-f), t))
                        }
                        other
                            if other.data_type().is_numeric()
                                || other.data_type() == DataType::Null =>
                        {
                            Ok(ScalarExpr::Negate(Box::new(other)))
                        }
                        other => Err(PlanError::at(
                            e.span(),
                            format!("cannot negate {}", other.data_type()),
                        )),
                    },
                    UnaryOperator::Plus => Ok(inner),
                    other => Err(PlanError::at(
                        e.span(),
                        format!("operator `{other}` is not supported"),
                    )),
                }
            }
            Expr::IsNull(x) | Expr::IsNotNull(x) | Expr::IsUnknown(x) | Expr::IsNotUnknown(x) => {
                let negated = matches!(e, Expr::IsNotNull(_) | Expr::IsNotUnknown(_));
                Ok(ScalarExpr::IsNull {
                    expr: Box::new(self.bind_expr(x, ctx)?),
                    negated,
                })
            }
            Expr::IsTrue(x) | Expr::IsNotTrue(x) | Expr::IsFalse(x) | Expr::IsNotFalse(x) => {
                let b = self.require_bool(self.bind_expr(x, ctx)?, x.span(), "IS TRUE/FALSE")?;
                let cond = if matches!(e, Expr::IsTrue(_) | Expr::IsNotTrue(_)) {
                    b
                } else {
                    ScalarExpr::Not(Box::new(b))
                };
                let hit = matches!(e, Expr::IsTrue(_) | Expr::IsFalse(_));
                Ok(ScalarExpr::Case {
                    whens: vec![(cond, lit_bool(hit))],
                    otherwise: Some(Box::new(lit_bool(!hit))),
                    data_type: DataType::Bool,
                })
            }
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                let (l, r) = self.unify(
                    self.bind_expr(a, ctx)?,
                    self.bind_expr(b, ctx)?,
                    e.span(),
                    "IS DISTINCT FROM",
                )?;
                Ok(ScalarExpr::IsDistinctFrom {
                    left: Box::new(l),
                    right: Box::new(r),
                    negated: matches!(e, Expr::IsNotDistinctFrom(..)),
                })
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let probe = self.bind_expr(expr, ctx)?;
                let items = list
                    .iter()
                    .map(|i| self.bind_expr(i, ctx))
                    .collect::<PlanResult<Vec<_>>>()?;
                let mut t = probe.data_type();
                for it in &items {
                    t = coerce::common_type(t, it.data_type()).ok_or_else(|| {
                        PlanError::at(
                            e.span(),
                            format!("IN compares {} with {}", probe.data_type(), it.data_type()),
                        )
                        .help("make the list's values the same type as the tested expression")
                    })?;
                }
                Ok(ScalarExpr::InList {
                    expr: Box::new(coerce::cast(probe, t)),
                    list: items.into_iter().map(|i| coerce::cast(i, t)).collect(),
                    negated: *negated,
                })
            }
            Expr::InSubquery { .. } | Expr::Exists { .. } | Expr::Subquery(_) => Err(
                PlanError::at(e.span(), "subqueries in expressions are not supported")
                    .help("join with a table instead, or list the values: x IN (1, 2, 3)"),
            ),
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                let x = self.bind_expr(expr, ctx)?;
                let (x1, lo) =
                    self.unify(x.clone(), self.bind_expr(low, ctx)?, e.span(), "BETWEEN")?;
                let (x2, hi) = self.unify(x, self.bind_expr(high, ctx)?, e.span(), "BETWEEN")?;
                let both = binary(
                    BinaryOp::And,
                    binary(BinaryOp::GtEq, x1, lo, DataType::Bool),
                    binary(BinaryOp::LtEq, x2, hi, DataType::Bool),
                    DataType::Bool,
                );
                Ok(if *negated {
                    ScalarExpr::Not(Box::new(both))
                } else {
                    both
                })
            }
            Expr::Like {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            }
            | Expr::ILike {
                negated,
                any,
                expr,
                pattern,
                escape_char,
            } => {
                if *any || escape_char.is_some() {
                    return Err(PlanError::at(
                        e.span(),
                        "LIKE ANY and LIKE ... ESCAPE are not supported",
                    ));
                }
                let x = self.string_operand(self.bind_expr(expr, ctx)?, expr.span(), "LIKE")?;
                let p =
                    self.string_operand(self.bind_expr(pattern, ctx)?, pattern.span(), "LIKE")?;
                Ok(ScalarExpr::Like {
                    expr: Box::new(x),
                    pattern: Box::new(p),
                    negated: *negated,
                    case_insensitive: matches!(e, Expr::ILike { .. }),
                })
            }
            Expr::Cast {
                expr,
                data_type,
                format,
                ..
            } => {
                if format.is_some() {
                    return Err(PlanError::at(e.span(), "CAST ... FORMAT is not supported")
                        .help("use DATE_FORMAT or TO_TIMESTAMP"));
                }
                let name = data_type.to_string();
                let to = DataType::parse_sql(&name).ok_or_else(|| {
                    PlanError::at(e.span(), format!("CAST to {name} is not supported"))
                        .help("cast to BIGINT, DOUBLE, VARCHAR, BOOLEAN, TIMESTAMP, DATE or BYTES")
                })?;
                let inner = self.bind_expr(expr, ctx)?;
                let from = inner.data_type();
                // Collections cast element by element, as the scalars cast:
                // an array to an array, a map's values (its keys stay, so a
                // cast can neither null nor merge them).
                let elementwise = match (from, to) {
                    (DataType::List(_), DataType::List(_)) => true,
                    (DataType::Map(k, _), DataType::Map(k2, _)) => k == k2,
                    _ => false,
                };
                if (from.is_collection() || to.is_collection())
                    && from != to
                    && from != DataType::Null
                    && !elementwise
                {
                    return Err(PlanError::at(e.span(), format!("CAST from {from} to {to} is not supported"))
                        .help("an array casts to an array (element by element) and a map to a map with the same key type (value by value); use ArrayOperate, Split or ElementAt to reshape"));
                }
                Ok(match inner {
                    ScalarExpr::Literal(Value::Null, _) => ScalarExpr::Literal(Value::Null, to),
                    other if other.data_type() == to => other,
                    other => ScalarExpr::Cast {
                        expr: Box::new(other),
                        to,
                    },
                })
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let op = operand
                    .as_ref()
                    .map(|o| self.bind_expr(o, ctx))
                    .transpose()?;
                let mut whens = Vec::new();
                for w in conditions {
                    let c = self.bind_expr(&w.condition, ctx)?;
                    let c = match &op {
                        Some(o) => {
                            let (l, r) = self.unify(o.clone(), c, w.condition.span(), "CASE")?;
                            binary(BinaryOp::Eq, l, r, DataType::Bool)
                        }
                        None => self.require_bool(c, w.condition.span(), "WHEN")?,
                    };
                    whens.push((c, self.bind_expr(&w.result, ctx)?));
                }
                let otherwise = else_result
                    .as_ref()
                    .map(|x| self.bind_expr(x, ctx))
                    .transpose()?;
                let mut t = DataType::Null;
                for r in whens.iter().map(|(_, r)| r).chain(otherwise.as_ref()) {
                    t = coerce::common_type(t, r.data_type()).ok_or_else(|| {
                        PlanError::at(
                            e.span(),
                            format!(
                                "CASE branches have different types: {t} and {}",
                                r.data_type()
                            ),
                        )
                        .help("CAST the branches to one type")
                    })?;
                }
                Ok(ScalarExpr::Case {
                    whens: whens
                        .into_iter()
                        .map(|(c, r)| (c, coerce::cast(r, t)))
                        .collect(),
                    otherwise: otherwise.map(|o| Box::new(coerce::cast(o, t))),
                    data_type: t,
                })
            }
            Expr::Extract { field, expr, .. } => {
                let unit = field.to_string().to_ascii_uppercase();
                let arg = self.bind_expr(expr, ctx)?;
                self.call(
                    "EXTRACT",
                    e.span(),
                    vec![
                        ScalarExpr::Literal(Value::String(unit), DataType::String),
                        arg,
                    ],
                )
            }
            Expr::Floor { expr, field } | Expr::Ceil { expr, field } => {
                let name = if matches!(e, Expr::Floor { .. }) {
                    "FLOOR"
                } else {
                    "CEIL"
                };
                let mut args = vec![self.bind_expr(expr, ctx)?];
                match field {
                    CeilFloorKind::DateTimeField(f) => {
                        if let Some(unit) = is_time_unit(f) {
                            args.push(ScalarExpr::Literal(Value::String(unit), DataType::String));
                        }
                    }
                    CeilFloorKind::Scale(_) => {
                        return Err(PlanError::at(
                            e.span(),
                            format!("{name}(x, scale) is not supported"),
                        )
                        .help("use ROUND(x, digits)"));
                    }
                }
                self.call(name, e.span(), args)
            }
            Expr::Position { expr, r#in } => {
                let args = vec![self.bind_expr(expr, ctx)?, self.bind_expr(r#in, ctx)?];
                self.call("POSITION", e.span(), args)
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.bind_expr(expr, ctx)?];
                match substring_from {
                    Some(f) => args.push(self.bind_expr(f, ctx)?),
                    None => {
                        return Err(PlanError::at(e.span(), "SUBSTRING needs a start position")
                            .help("write SUBSTRING(s FROM 1 FOR 3)"));
                    }
                }
                if let Some(n) = substring_for {
                    args.push(self.bind_expr(n, ctx)?);
                }
                self.call("SUBSTRING", e.span(), args)
            }
            Expr::Trim {
                expr,
                trim_where,
                trim_what,
                trim_characters,
            } => {
                if trim_characters.is_some() {
                    return Err(PlanError::at(
                        e.span(),
                        "TRIM with a character list is not supported",
                    ));
                }
                let name = match trim_where {
                    Some(sqlparser::ast::TrimWhereField::Leading) => "LTRIM",
                    Some(sqlparser::ast::TrimWhereField::Trailing) => "RTRIM",
                    _ => "TRIM",
                };
                let mut args = vec![self.bind_expr(expr, ctx)?];
                if let Some(w) = trim_what {
                    args.push(self.bind_expr(w, ctx)?);
                }
                self.call(name, e.span(), args)
            }
            Expr::Function(f) => self.bind_function(f, ctx),
            // `ARRAY[a, b]` / `[a, b]`: the ARRAY function of the registry.
            Expr::Array(a) => {
                let args = a
                    .elem
                    .iter()
                    .map(|x| self.bind_expr(x, ctx))
                    .collect::<PlanResult<Vec<_>>>()?;
                self.call("ARRAY", e.span(), args)
            }
            // `arr[i]` is 1-based (standard SQL, Flink, DuckDB): ElementAt,
            // which is 0-based as in Dagger, at i - 1; `map[key]` is MapGet.
            Expr::CompoundFieldAccess { root, access_chain } => {
                let mut out = self.bind_expr(root, ctx)?;
                for access in access_chain {
                    let sqlparser::ast::AccessExpr::Subscript(Subscript::Index { index }) = access
                    else {
                        return Err(PlanError::at(
                            e.span(),
                            format!("`{e}`: only subscripts `arr[i]` and `map[key]` are supported"),
                        )
                        .help("slices and field access are not; use ElementAt or MapGet"));
                    };
                    let key = self.bind_expr(index, ctx)?;
                    out = match out.data_type() {
                        DataType::Map(_, _) => self.call("MAPGET", index.span(), vec![out, key])?,
                        DataType::List(_) | DataType::Null => {
                            let key = match key.data_type() {
                                DataType::Int64 | DataType::Null => key,
                                t => {
                                    return Err(PlanError::at(
                                        index.span(),
                                        format!("an array subscript must be BIGINT, found {t}"),
                                    )
                                    .help("arr[1] is the first element"));
                                }
                            };
                            // i - 1 for i >= 1; 0 and negative indexes have
                            // no element (-1 would wrap to ElementAt's last).
                            let zero_based = ScalarExpr::Case {
                                whens: vec![(
                                    binary(
                                        BinaryOp::GtEq,
                                        key.clone(),
                                        ScalarExpr::Literal(Value::Int64(1), DataType::Int64),
                                        DataType::Bool,
                                    ),
                                    binary(
                                        BinaryOp::Sub,
                                        key,
                                        ScalarExpr::Literal(Value::Int64(1), DataType::Int64),
                                        DataType::Int64,
                                    ),
                                )],
                                otherwise: Some(Box::new(ScalarExpr::Literal(
                                    Value::Null,
                                    DataType::Int64,
                                ))),
                                data_type: DataType::Int64,
                            };
                            self.call("ELEMENTAT", index.span(), vec![out, zero_based])?
                        }
                        t => {
                            return Err(PlanError::at(
                                root.span(),
                                format!("`{root}` is {t}; only arrays and maps take a subscript"),
                            ));
                        }
                    };
                }
                Ok(out)
            }
            other => Err(PlanError::at(
                other.span(),
                format!("expression `{other}` is not supported"),
            )),
        }
    }

    fn bind_column(
        &self,
        qualifier: Option<&Ident>,
        name: &Ident,
        ctx: &Ctx<'_>,
    ) -> PlanResult<ScalarExpr> {
        let span = qualifier.map_or(name.span, |q| q.span.union(&name.span));
        let display = match qualifier {
            Some(q) => format!("{}.{}", q.value, name.value),
            None => name.value.clone(),
        };
        let rel = match ctx {
            Ctx::Row(r) => *r,
            Ctx::Over(o) => o.input,
            Ctx::Grouped(g) => {
                // Reached only when the column is not a GROUP BY key.
                self.bind_column(qualifier, name, &Ctx::Row(g.input))?;
                return Err(PlanError::at(span, format!("column `{display}` must appear in GROUP BY or be used in an aggregate function"))
                    .help(format!("add `{display}` to GROUP BY, or aggregate it (e.g. MAX({display}))")));
            }
        };
        match rel.resolve(
            qualifier.map(|q| q.value.as_str()),
            &name.value,
            name.quote_style.is_some(),
        ) {
            Ok(i) => {
                let c = &rel.columns[i];
                Ok(ScalarExpr::column(i, c.name.clone(), c.data_type))
            }
            Err(Unresolved::Missing)
                if qualifier.is_none()
                    && name.quote_style.is_none()
                    && name.value.eq_ignore_ascii_case("rowtime")
                    && rel.is_stream() =>
            {
                Ok(ScalarExpr::RowTime)
            }
            Err(Unresolved::Missing) => {
                let names = rel.column_names();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let help = match crate::suggest(&name.value, &refs) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("available columns: {}", names.join(", ")),
                };
                Err(PlanError::at(span, format!("unknown column `{display}`")).help(help))
            }
            Err(Unresolved::Ambiguous(cands)) => Err(PlanError::at(
                span,
                format!("column `{display}` is ambiguous: {}", cands.join(", ")),
            )
            .help("qualify it with its table: t.column")),
        }
    }

    fn bind_binary(
        &self,
        e: &Expr,
        left: &Expr,
        op: &BinaryOperator,
        right: &Expr,
        ctx: &Ctx<'_>,
    ) -> PlanResult<ScalarExpr> {
        // timestamp ± INTERVAL
        if matches!(op, BinaryOperator::Plus | BinaryOperator::Minus) {
            let sign = if matches!(op, BinaryOperator::Minus) {
                -1
            } else {
                1
            };
            let interval_side = match (left, right) {
                (_, Expr::Interval(i)) => Some((left, parse_interval(i, right.span())?)),
                (Expr::Interval(i), _) if sign == 1 => {
                    Some((right, parse_interval(i, left.span())?))
                }
                _ => None,
            };
            if let Some((base, iv)) = interval_side {
                let b = self.bind_expr(base, ctx)?;
                let b = match b.data_type() {
                    DataType::Timestamp => b,
                    DataType::Date | DataType::Null => coerce::cast(b, DataType::Timestamp),
                    t => {
                        return Err(PlanError::at(
                            e.span(),
                            format!("cannot add an INTERVAL to {t}"),
                        )
                        .help("INTERVALs apply to TIMESTAMP or DATE values"));
                    }
                };
                return Ok(ScalarExpr::AddInterval {
                    expr: Box::new(b),
                    interval: Interval {
                        months: iv.months * sign as i32,
                        millis: iv.millis * sign,
                    },
                });
            }
        }
        let l = self.bind_expr(left, ctx)?;
        let r = self.bind_expr(right, ctx)?;
        let op = match op {
            BinaryOperator::Plus => BinaryOp::Add,
            BinaryOperator::Minus => BinaryOp::Sub,
            BinaryOperator::Multiply => BinaryOp::Mul,
            BinaryOperator::Divide => BinaryOp::Div,
            BinaryOperator::Modulo => BinaryOp::Mod,
            BinaryOperator::Eq => BinaryOp::Eq,
            BinaryOperator::NotEq => BinaryOp::NotEq,
            BinaryOperator::Lt => BinaryOp::Lt,
            BinaryOperator::LtEq => BinaryOp::LtEq,
            BinaryOperator::Gt => BinaryOp::Gt,
            BinaryOperator::GtEq => BinaryOp::GtEq,
            BinaryOperator::And => BinaryOp::And,
            BinaryOperator::Or => BinaryOp::Or,
            BinaryOperator::StringConcat => BinaryOp::Concat,
            other => {
                return Err(PlanError::at(
                    e.span(),
                    format!("operator `{other}` is not supported"),
                )
                .help("use + - * / % || = <> < <= > >= AND OR"));
            }
        };
        self.binary_op(op, l, r, e.span())
    }

    /// Types and builds `l op r`.
    pub(crate) fn binary_op(
        &self,
        op: BinaryOp,
        l: ScalarExpr,
        r: ScalarExpr,
        span: Span,
    ) -> PlanResult<ScalarExpr> {
        let (lt, rt) = (l.data_type(), r.data_type());
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let l = self.require_bool(l, span, op.symbol())?;
                let r = self.require_bool(r, span, op.symbol())?;
                Ok(binary(op, l, r, DataType::Bool))
            }
            BinaryOp::Concat => {
                let l = coerce::cast(l, DataType::String);
                let r = coerce::cast(r, DataType::String);
                Ok(binary(op, l, r, DataType::String))
            }
            _ if op.is_comparison() => {
                let (l, r) = self.unify(l, r, span, op.symbol())?;
                Ok(binary(op, l, r, DataType::Bool))
            }
            _ => {
                let numeric = |t: DataType| t.is_numeric() || t == DataType::Null;
                if !numeric(lt) || !numeric(rt) {
                    let help = if lt == DataType::Timestamp
                        && rt == DataType::Timestamp
                        && op == BinaryOp::Sub
                    {
                        "use TIMESTAMPDIFF(SECOND, a, b) for the time between two timestamps"
                            .to_string()
                    } else {
                        "arithmetic needs numbers; CAST the operands".to_string()
                    };
                    return Err(PlanError::at(
                        span,
                        format!("cannot apply `{}` to {lt} and {rt}", op.symbol()),
                    )
                    .help(help));
                }
                let t = coerce::common_type(lt, rt).unwrap_or(DataType::Null);
                let t = if t == DataType::Null {
                    DataType::Int64
                } else {
                    t
                };
                Ok(binary(op, coerce::cast(l, t), coerce::cast(r, t), t))
            }
        }
    }

    fn unify(
        &self,
        l: ScalarExpr,
        r: ScalarExpr,
        span: Span,
        what: &str,
    ) -> PlanResult<(ScalarExpr, ScalarExpr)> {
        coerce::unify(l, r).map_err(|(lt, rt)| {
            PlanError::at(span, format!("cannot compare {lt} with {rt} in `{what}`"))
                .help("CAST one side so both have the same type")
        })
    }

    fn string_operand(&self, e: ScalarExpr, span: Span, what: &str) -> PlanResult<ScalarExpr> {
        match e.data_type() {
            DataType::String => Ok(e),
            DataType::Null => Ok(coerce::cast(e, DataType::String)),
            t => Err(
                PlanError::at(span, format!("{what} needs VARCHAR, found {t}"))
                    .help("CAST(x AS VARCHAR)"),
            ),
        }
    }

    fn bind_function(&self, f: &Function, ctx: &Ctx<'_>) -> PlanResult<ScalarExpr> {
        let name = function_name(f);
        let span = f.name.span();
        if f.over.is_some() {
            return Err(
                PlanError::at(span, format!("{name}(...) OVER (...) is not supported"))
                    .help("aggregate per window with GROUP BY TUMBLE(...) or HOP(...)"),
            );
        }
        if f.filter.is_some() {
            return Err(PlanError::at(span, "FILTER (WHERE ...) is not supported")
                .help("write SUM(CASE WHEN cond THEN 1 ELSE 0 END) instead of COUNT(*) FILTER (WHERE cond)"));
        }
        if !f.within_group.is_empty()
            || f.null_treatment.is_some()
            || !matches!(f.parameters, FunctionArguments::None)
        {
            return Err(PlanError::at(
                span,
                format!("this form of {name}(...) is not supported"),
            ));
        }
        if is_aggregate_name(&name) {
            return Err(PlanError::at(span, format!("aggregate {name} is not allowed here"))
                .help("aggregates go in the SELECT or HAVING of a query with GROUP BY TUMBLE(...) or HOP(...)"));
        }
        if name == "TUMBLE" || name == "HOP" {
            return Err(
                PlanError::at(span, format!("{name} may only appear in GROUP BY")).help(format!(
                    "group by the window, and select {name}_START / {name}_END for its bounds"
                )),
            );
        }
        if WINDOW_AUX.contains(&name.as_str()) {
            return Err(PlanError::at(
                span,
                format!(
                    "{name} needs a query with GROUP BY {}(...)",
                    name.split('_').next().unwrap_or("TUMBLE")
                ),
            ));
        }
        if NONDETERMINISTIC.contains(&name.as_str()) {
            return Err(PlanError::at(span, format!("{name} is not supported: it would give different results in a backfill and a live run"))
                .help("use the event time (rowtime) instead of the wall clock"));
        }
        let raw = expr_args(f)?;
        let mut args: Vec<ScalarExpr> = Vec::with_capacity(raw.len());
        for (i, a) in raw.iter().enumerate() {
            // TIMESTAMPADD(MINUTE, ...) names its unit with a bare word.
            let unit = matches!(name.as_str(), "TIMESTAMPADD" | "TIMESTAMPDIFF") && i == 0;
            match a {
                Expr::Identifier(id) if unit && id.quote_style.is_none() => {
                    args.push(ScalarExpr::Literal(
                        Value::String(id.value.to_ascii_uppercase()),
                        DataType::String,
                    ));
                }
                _ => args.push(self.bind_expr(a, ctx)?),
            }
        }
        match name.as_str() {
            "COALESCE" => {
                if args.is_empty() {
                    return Err(PlanError::at(span, "COALESCE needs at least one argument"));
                }
                let mut t = DataType::Null;
                for a in &args {
                    t = coerce::common_type(t, a.data_type()).ok_or_else(|| {
                        PlanError::at(
                            span,
                            format!(
                                "COALESCE arguments have different types: {t} and {}",
                                a.data_type()
                            ),
                        )
                        .help("CAST them to one type")
                    })?;
                }
                let mut args: Vec<ScalarExpr> =
                    args.into_iter().map(|a| coerce::cast(a, t)).collect();
                let last = args.pop().expect("non-empty");
                let whens = args
                    .into_iter()
                    .map(|a| {
                        (
                            ScalarExpr::IsNull {
                                expr: Box::new(a.clone()),
                                negated: true,
                            },
                            a,
                        )
                    })
                    .collect();
                Ok(ScalarExpr::Case {
                    whens,
                    otherwise: Some(Box::new(last)),
                    data_type: t,
                })
            }
            "NULLIF" => {
                let [a, b] = two(args, &name, span)?;
                let t = a.data_type();
                let (l, r) = self.unify(a.clone(), b, span, "NULLIF")?;
                Ok(ScalarExpr::Case {
                    whens: vec![(
                        binary(BinaryOp::Eq, l, r, DataType::Bool),
                        ScalarExpr::Literal(Value::Null, t),
                    )],
                    otherwise: Some(Box::new(a)),
                    data_type: t,
                })
            }
            "IF" => {
                let [c, a, b] = three(args, &name, span)?;
                let c = self.require_bool(c, span, "IF")?;
                let t = coerce::common_type(a.data_type(), b.data_type()).ok_or_else(|| {
                    PlanError::at(
                        span,
                        format!(
                            "IF branches have different types: {} and {}",
                            a.data_type(),
                            b.data_type()
                        ),
                    )
                })?;
                Ok(ScalarExpr::Case {
                    whens: vec![(c, coerce::cast(a, t))],
                    otherwise: Some(Box::new(coerce::cast(b, t))),
                    data_type: t,
                })
            }
            "MOD" => {
                let [a, b] = two(args, &name, span)?;
                self.binary_op(BinaryOp::Mod, a, b, span)
            }
            _ => self.call(&name, span, args),
        }
    }

    /// Calls a registered scalar function, checking its arguments.
    pub(crate) fn call(
        &self,
        name: &str,
        span: Span,
        args: Vec<ScalarExpr>,
    ) -> PlanResult<ScalarExpr> {
        let Some(func) = self.registry.scalar(name) else {
            if let Some(t) = self.registry.table(name) {
                let name = t.name();
                return Err(PlanError::at(
                    span,
                    format!("{name} is a table function: it gives rows, not a value"),
                )
                .help(format!(
                    "call it in FROM: FROM s, LATERAL TABLE({name}(...)) AS t(column)"
                )));
            }
            let names = self.registry.names();
            let mut refs: Vec<&str> = names.iter().map(String::as_str).collect();
            refs.extend([
                "COALESCE",
                "NULLIF",
                "IF",
                "MOD",
                "COUNT",
                "SUM",
                "AVG",
                "MIN",
                "MAX",
                "STDDEV_POP",
                "VAR_POP",
            ]);
            let lower = name.to_ascii_lowercase();
            let upper_refs: Vec<String> = refs.iter().map(|r| r.to_ascii_lowercase()).collect();
            let lower_refs: Vec<&str> = upper_refs.iter().map(String::as_str).collect();
            let help = match crate::suggest(&lower, &lower_refs) {
                Some(s) => format!("did you mean {}?", s.to_ascii_uppercase()),
                None => "see the function reference in the README".to_string(),
            };
            return Err(PlanError::at(span, format!("unknown function `{name}`")).help(help));
        };
        let data_type = with_arg_infos(&args, |infos| func.return_type(infos))
            .map_err(|m| PlanError::at(span, format!("{name}: {m}")))?;
        Ok(ScalarExpr::Function {
            func,
            args,
            data_type,
        })
    }

    fn bind_aggregate(
        &self,
        f: &Function,
        func: AggFunc,
        g: &Grouped<'_>,
    ) -> PlanResult<ScalarExpr> {
        let span = f.name.span();
        let name = func.name();
        if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
            return Err(PlanError::at(
                span,
                format!("{name} with OVER, FILTER or WITHIN GROUP is not supported"),
            )
            .help("use CASE inside the aggregate: SUM(CASE WHEN cond THEN x END)"));
        }
        let (args, distinct) = plain_args(f)?;
        let (func, args) = match (func, args.as_slice()) {
            (AggFunc::Percentile(_) | AggFunc::ApproxPercentile(_), [x, p]) => {
                let p = self.percentile_fraction(name, p, g, span)?;
                let func = match func {
                    AggFunc::Percentile(_) => AggFunc::Percentile(p),
                    _ => AggFunc::ApproxPercentile(p),
                };
                (func, std::slice::from_ref(x))
            }
            (AggFunc::Percentile(_) | AggFunc::ApproxPercentile(_), _) => {
                return Err(PlanError::at(
                    span,
                    format!("{name} takes two arguments, the value and a constant fraction"),
                )
                .help(format!("write {name}(x, 0.95) for the 95th percentile")));
            }
            (AggFunc::LastK(_) | AggFunc::TopK(_), [x, k]) => {
                let k = self.constant_k(name, k, g, span)?;
                let func = match func {
                    AggFunc::LastK(_) => AggFunc::LastK(k),
                    _ => AggFunc::TopK(k),
                };
                (func, std::slice::from_ref(x))
            }
            (AggFunc::LastK(_) | AggFunc::TopK(_), _) => {
                return Err(PlanError::at(
                    span,
                    format!("{name} takes two arguments, the value and a constant count"),
                )
                .help(format!("write {name}(x, 5) for five values")));
            }
            (_, args) => (func, args),
        };
        let arg = match (func, args) {
            (AggFunc::Count, [] | [FunctionArgExpr::Wildcard]) => {
                if distinct {
                    return Err(PlanError::at(span, "COUNT(DISTINCT *) is not supported")
                        .help("count a column: COUNT(DISTINCT customer_id)"));
                }
                None
            }
            (_, [FunctionArgExpr::Expr(e)]) => {
                if contains_aggregate(e) {
                    return Err(PlanError::at(e.span(), "aggregates cannot be nested"));
                }
                Some(self.bind_expr(e, &Ctx::Row(g.input))?)
            }
            _ => return Err(PlanError::at(span, format!("{name} takes one argument"))),
        };
        let data_type = aggregate_type(func, arg.as_ref().map(ScalarExpr::data_type), span)?;
        // DISTINCT_COUNT(x) is COUNT(DISTINCT x): one state for both.
        let (func, distinct) = match func {
            AggFunc::DistinctCount => (AggFunc::Count, true),
            _ => (func, distinct),
        };
        let distinct = match (func, distinct) {
            (AggFunc::Count, d) => d,
            (AggFunc::Min | AggFunc::Max, _) => false,
            (_, true) => {
                return Err(
                    PlanError::at(span, format!("{name}(DISTINCT ...) is not supported"))
                        .help("COUNT(DISTINCT x) is"),
                );
            }
            (_, false) => false,
        };
        // Aggregates of an untyped NULL read it as BIGINT.
        let arg = arg.map(|a| {
            if a.data_type() == DataType::Null {
                coerce::cast(a, DataType::Int64)
            } else {
                a
            }
        });
        // AVG of doubles shares state with SUM and COUNT of the same column:
        // SUM is exact until rounded once, so SUM / COUNT gives the same bits.
        if func == AggFunc::Avg
            && arg
                .as_ref()
                .is_some_and(|a| a.data_type() == DataType::Float64)
        {
            let sum = self.register_aggregate(
                g,
                AggregateCall {
                    func: AggFunc::Sum,
                    arg: arg.clone(),
                    distinct: false,
                    data_type: DataType::Float64,
                },
            );
            let count = self.register_aggregate(
                g,
                AggregateCall {
                    func: AggFunc::Count,
                    arg,
                    distinct: false,
                    data_type: DataType::Int64,
                },
            );
            return Ok(binary(
                BinaryOp::Div,
                sum,
                coerce::cast(count, DataType::Float64),
                DataType::Float64,
            ));
        }
        let call = AggregateCall {
            func,
            arg,
            distinct,
            data_type,
        };
        Ok(self.register_aggregate(g, call))
    }

    /// Adds an aggregate to the grouped query (once) and returns its output column.
    fn register_aggregate(&self, g: &Grouped<'_>, call: AggregateCall) -> ScalarExpr {
        let data_type = call.data_type;
        let mut aggs = g.aggs.borrow_mut();
        let idx = match aggs.iter().position(|a| *a == call) {
            Some(i) => i,
            None => {
                aggs.push(call.clone());
                aggs.len() - 1
            }
        };
        ScalarExpr::column(g.keys.len() + 2 + idx, call.to_string(), data_type)
    }

    /// The constant fraction `p` of `PERCENTILE(x, p)`: a number in [0, 1]
    /// that reads no column.
    fn percentile_fraction(
        &self,
        name: &str,
        p: &FunctionArgExpr,
        g: &Grouped<'_>,
        call: Span,
    ) -> PlanResult<Fraction> {
        let FunctionArgExpr::Expr(e) = p else {
            return Err(PlanError::at(
                call,
                format!("{name}: the fraction (second argument) must be a number in [0, 1]"),
            ));
        };
        let span = e.span();
        let bound = self.bind_expr(e, &Ctx::Row(g.input))?;
        let value =
            constant_number(&bound).ok_or_else(|| {
                PlanError::at(
                span,
                format!(
                    "{name}: the fraction (second argument) must be a numeric constant, not `{e}`"
                ),
            )
            .help(format!("write {name}(x, 0.95); the fraction cannot vary by row"))
            })?;
        Fraction::new(value).ok_or_else(|| {
            PlanError::at(
                span,
                format!("{name}: the fraction (second argument) must be in [0, 1], found {value}"),
            )
            .help(format!("the 95th percentile is {name}(x, 0.95)"))
        })
    }

    /// The constant `k` of `LAST_K(x, k)` / `TOP_K(x, k)`: a whole number
    /// from 1 to [`MAX_K`].
    fn constant_k(
        &self,
        name: &str,
        k: &FunctionArgExpr,
        g: &Grouped<'_>,
        call: Span,
    ) -> PlanResult<u32> {
        let FunctionArgExpr::Expr(e) = k else {
            return Err(PlanError::at(
                call,
                format!("{name}: the count (second argument) must be a whole number"),
            ));
        };
        let span = e.span();
        let bound = self.bind_expr(e, &Ctx::Row(g.input))?;
        let value = constant_number(&bound).ok_or_else(|| {
            PlanError::at(
                span,
                format!("{name}: the count (second argument) must be a constant, not `{e}`"),
            )
            .help(format!("write {name}(x, 5); the count cannot vary by row"))
        })?;
        if value.fract() != 0.0 || !(1.0..=f64::from(MAX_K)).contains(&value) {
            return Err(PlanError::at(
                span,
                format!("{name}: the count (second argument) must be a whole number from 1 to {MAX_K}, found {value}"),
            )
            .help(format!("write {name}(x, 5) for five values")));
        }
        Ok(value as u32)
    }

    fn bind_window_bound(
        &self,
        f: &Function,
        name: &str,
        g: &Grouped<'_>,
    ) -> PlanResult<ScalarExpr> {
        let w = parse_window_call(self, f, name, g.input)?;
        if w != g.window {
            return Err(PlanError::at(
                f.name.span(),
                format!("{name} describes {w}, but the query groups by {}", g.window),
            )
            .help("pass the same arguments as the GROUP BY window"));
        }
        let k = g.keys.len();
        Ok(if name.ends_with("_START") {
            ScalarExpr::column(k, "window_start", DataType::Timestamp)
        } else if name.ends_with("_END") {
            ScalarExpr::column(k + 1, "window_end", DataType::Timestamp)
        } else {
            ScalarExpr::RowTime
        })
    }
}

/// The largest `k` of `LAST_K` / `TOP_K`: every group of a window keeps
/// up to `k` values, so `k` bounds the state.
pub const MAX_K: u32 = 10_000;

/// The result type of an aggregate over an argument of type `t` (`None` for `*`).
pub(crate) fn aggregate_type(
    func: AggFunc,
    t: Option<DataType>,
    span: Span,
) -> PlanResult<DataType> {
    let name = func.name();
    // Only COUNT takes an array or map; the others order, sum or collect
    // scalars.
    if let Some(t) = t.filter(|t| t.is_collection() && func != AggFunc::Count) {
        return Err(PlanError::at(span, format!("{name} does not accept {t}")).help(
            "aggregate the elements instead, e.g. ArrayAggregate(arr, 'sum') per row, or collect a scalar column",
        ));
    }
    // The element type a collecting aggregate keeps; an untyped NULL
    // collects as BIGINT, as other aggregates read it.
    let elem = match t {
        Some(DataType::Null) => Some(ElementType::Int64),
        Some(t) => ElementType::from_data_type(t),
        None => None,
    };
    Ok(match (func, t) {
        (AggFunc::Count, _) => DataType::Int64,
        (AggFunc::CollectArray | AggFunc::LastK(_) | AggFunc::TopK(_), _) if elem.is_some() => {
            DataType::List(elem.unwrap_or(ElementType::Int64))
        }
        (AggFunc::Histogram, _) if elem.is_some() => {
            DataType::Map(elem.unwrap_or(ElementType::Int64), ElementType::Int64)
        }
        (AggFunc::Sum, Some(DataType::Int64 | DataType::Null)) => DataType::Int64,
        (AggFunc::Sum, Some(DataType::Float64)) => DataType::Float64,
        (AggFunc::Avg | AggFunc::StddevPop | AggFunc::VarPop, Some(t))
            if t.is_numeric() || t == DataType::Null =>
        {
            DataType::Float64
        }
        (AggFunc::Min | AggFunc::Max | AggFunc::FirstValue | AggFunc::LastValue, Some(t))
            if t != DataType::Null =>
        {
            t
        }
        (AggFunc::DistinctCount, Some(_)) => DataType::Int64,
        (AggFunc::Percentile(_) | AggFunc::ApproxPercentile(_), Some(t))
            if t.is_numeric() || t == DataType::Null =>
        {
            DataType::Float64
        }
        (_, t) => {
            return Err(PlanError::at(
                span,
                format!(
                    "{name} does not accept {}",
                    t.map_or("*".to_string(), |t| t.to_string())
                ),
            )
            .help(match func {
                AggFunc::Min | AggFunc::Max | AggFunc::FirstValue | AggFunc::LastValue => {
                    format!("{name} needs a typed value")
                }
                AggFunc::DistinctCount => "DISTINCT_COUNT needs a value".to_string(),
                _ => format!("{name} needs a number; CAST it to DOUBLE or BIGINT"),
            }));
        }
    })
}

/// The value of a numeric constant expression: a literal, possibly negated
/// or cast (`0.5`, `-1`, `CAST(1 AS DOUBLE)`).
fn constant_number(e: &ScalarExpr) -> Option<f64> {
    match e {
        ScalarExpr::Literal(Value::Int64(i), _) => Some(*i as f64),
        ScalarExpr::Literal(Value::Float64(x), _) => Some(*x),
        ScalarExpr::Negate(inner) => constant_number(inner).map(|x| -x),
        ScalarExpr::Cast { expr, to } if to.is_numeric() => constant_number(expr),
        _ => None,
    }
}

fn key_label(e: &ScalarExpr, i: usize) -> String {
    match e {
        ScalarExpr::Column { name, .. } => name.clone(),
        _ => format!("key{i}"),
    }
}

fn lit_bool(b: bool) -> ScalarExpr {
    ScalarExpr::Literal(Value::Bool(b), DataType::Bool)
}

pub(crate) fn binary(op: BinaryOp, l: ScalarExpr, r: ScalarExpr, t: DataType) -> ScalarExpr {
    ScalarExpr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
        data_type: t,
    }
}

fn literal(v: &SqlValue, span: Span) -> PlanResult<ScalarExpr> {
    Ok(match v {
        SqlValue::Number(n, _) => {
            let s = n.to_string();
            if let Ok(i) = s.parse::<i64>() {
                ScalarExpr::Literal(Value::Int64(i), DataType::Int64)
            } else if let Ok(f) = s.parse::<f64>() {
                ScalarExpr::Literal(Value::Float64(f), DataType::Float64)
            } else {
                return Err(PlanError::at(span, format!("number `{s}` is out of range")));
            }
        }
        SqlValue::SingleQuotedString(s)
        | SqlValue::EscapedStringLiteral(s)
        | SqlValue::NationalStringLiteral(s)
        | SqlValue::UnicodeStringLiteral(s) => {
            ScalarExpr::Literal(Value::String(s.clone()), DataType::String)
        }
        SqlValue::Boolean(b) => lit_bool(*b),
        SqlValue::Null => ScalarExpr::Literal(Value::Null, DataType::Null),
        SqlValue::HexStringLiteral(h) => {
            let bytes = (0..h.len())
                .step_by(2)
                .map(|i| h.get(i..i + 2).and_then(|x| u8::from_str_radix(x, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| PlanError::at(span, format!("`X'{h}'` is not valid hex")))?;
            ScalarExpr::Literal(Value::Bytes(bytes), DataType::Bytes)
        }
        other => {
            return Err(PlanError::at(
                span,
                format!("literal `{other}` is not supported"),
            ));
        }
    })
}

fn two(args: Vec<ScalarExpr>, name: &str, span: Span) -> PlanResult<[ScalarExpr; 2]> {
    args.try_into().map_err(|a: Vec<ScalarExpr>| {
        PlanError::at(span, format!("{name} takes 2 arguments, found {}", a.len()))
    })
}

fn three(args: Vec<ScalarExpr>, name: &str, span: Span) -> PlanResult<[ScalarExpr; 3]> {
    args.try_into().map_err(|a: Vec<ScalarExpr>| {
        PlanError::at(span, format!("{name} takes 3 arguments, found {}", a.len()))
    })
}

/// Calls `f` with what the planner knows of `args`: their types, and the
/// values of those that are literals.
pub(crate) fn with_arg_infos<R>(args: &[ScalarExpr], f: impl FnOnce(&[ArgInfo<'_>]) -> R) -> R {
    let literals: Vec<Option<Value>> = args
        .iter()
        .map(|a| match a {
            ScalarExpr::Literal(v, _) => Some(v.clone()),
            _ => None,
        })
        .collect();
    let infos: Vec<ArgInfo<'_>> = args
        .iter()
        .zip(&literals)
        .map(|(a, l)| ArgInfo {
            data_type: a.data_type(),
            literal: l.as_ref(),
        })
        .collect();
    f(&infos)
}

#[cfg(test)]
mod aggregate_tests {
    use quiver_types::{Field, Schema};
    use sqlparser::ast::Statement;
    use sqlparser::dialect::GenericDialect;
    use sqlparser::parser::Parser;

    use crate::bind::{Binder, SourceInfo};
    use crate::error::PlanResult;
    use crate::expr::{AggFunc, AggregateCall, Fraction};
    use crate::functions::Registry;
    use crate::plan::LogicalPlan;
    use crate::scope::Relation;
    use quiver_types::{DataType, ElementType};

    fn bind(sql: &str) -> PlanResult<Relation> {
        let sources = [SourceInfo {
            name: "e".into(),
            schema: Schema::new(vec![
                Field::new("t", DataType::Timestamp),
                Field::new("k", DataType::Int64),
                Field::new("x", DataType::Float64),
                Field::new("s", DataType::String),
                Field::new("a", DataType::List(ElementType::Int64)),
            ]),
            time_col: Some(0),
        }];
        let registry = Registry::new();
        let ast = Parser::parse_sql(&GenericDialect {}, sql).expect("parses");
        let Statement::Query(q) = &ast[0] else {
            panic!("a query")
        };
        Binder::new(sql, &sources, &registry).bind_query(q)
    }

    fn aggs(sql: &str) -> Vec<AggregateCall> {
        fn find(p: &LogicalPlan) -> Option<Vec<AggregateCall>> {
            match p {
                LogicalPlan::WindowAggregate { aggs, .. } => Some(aggs.clone()),
                LogicalPlan::Project { input, .. } | LogicalPlan::Filter { input, .. } => {
                    find(input)
                }
                _ => None,
            }
        }
        find(&bind(sql).expect("binds").plan).expect("a window aggregate")
    }

    fn error(sql: &str) -> String {
        match bind(sql) {
            Ok(_) => panic!("`{sql}` was accepted"),
            Err(e) => format!("{} {}", e.message, e.help.unwrap_or_default()),
        }
    }

    const W: &str = "FROM e GROUP BY TUMBLE(t, INTERVAL '1' MINUTE), k";

    #[test]
    fn collecting_aggregates_give_arrays_and_maps() {
        let a = aggs(&format!(
            "SELECT k, COLLECT_ARRAY(s) AS a, CollectArray(x) AS b, LAST_K(x, 3) AS c, TOP_K(k, 2) AS d, HISTOGRAM(s) AS e, COUNT(a) AS f {W}"
        ));
        let types: Vec<DataType> = a.iter().map(|c| c.data_type).collect();
        assert_eq!(
            types,
            [
                DataType::List(ElementType::String),
                DataType::List(ElementType::Float64),
                DataType::List(ElementType::Float64),
                DataType::List(ElementType::Int64),
                DataType::Map(ElementType::String, ElementType::Int64),
                DataType::Int64,
            ]
        );
        assert_eq!(a[2].func, AggFunc::LastK(3));
        assert_eq!(a[3].func, AggFunc::TopK(2));
        assert!(a[2].to_string().ends_with(", 3)"), "{}", a[2]);
    }

    #[test]
    fn collecting_aggregates_refuse_bad_arguments() {
        for (sql, want) in [
            ("LAST_K(x)", "takes two arguments"),
            ("TOP_K(x, 0)", "from 1 to 10000, found 0"),
            ("TOP_K(x, 2.5)", "whole number"),
            ("LAST_K(x, k)", "must be a constant"),
            ("MIN(a)", "MIN does not accept ARRAY<BIGINT>"),
            ("COLLECT_ARRAY(a)", "does not accept ARRAY<BIGINT>"),
        ] {
            let e = error(&format!("SELECT k, {sql} AS v {W}"));
            assert!(e.contains(want), "{sql}: {e}");
        }
        let e = error("SELECT COUNT(*) AS n FROM e GROUP BY TUMBLE(t, INTERVAL '1' MINUTE), a");
        assert!(e.contains("cannot group by `a`"), "{e}");
        let e = error(
            "SELECT k, COLLECT_ARRAY(x) OVER (PARTITION BY k ORDER BY t ROWS 2 PRECEDING) AS v FROM e",
        );
        assert!(e.contains("COLLECT_ARRAY"), "{e}");
    }

    #[test]
    fn casts_name_array_and_map_types() {
        let rel = bind("SELECT CAST(a AS ARRAY<DOUBLE>) AS d, CAST(NULL AS VARCHAR ARRAY) AS v, CAST(NULL AS MAP(VARCHAR, BIGINT)) AS m FROM e").expect("binds");
        let types: Vec<DataType> = rel.columns.iter().map(|c| c.data_type).collect();
        assert_eq!(
            types,
            [
                DataType::List(ElementType::Float64),
                DataType::List(ElementType::String),
                DataType::Map(ElementType::String, ElementType::Int64),
            ]
        );
        let e = error("SELECT CAST(a AS VARCHAR) AS v FROM e");
        assert!(
            e.contains("CAST from ARRAY<BIGINT> to VARCHAR is not supported"),
            "{e}"
        );
        let rel = bind("SELECT CAST(a AS ARRAY<VARCHAR>) AS s FROM e").expect("binds");
        assert_eq!(
            rel.columns[0].data_type,
            DataType::List(ElementType::String)
        );
        let e = error(
            "SELECT CAST(CAST(NULL AS MAP(VARCHAR, BIGINT)) AS MAP(BIGINT, BIGINT)) AS m FROM e",
        );
        assert!(e.contains("the same key type"), "{e}");
    }

    #[test]
    fn distinct_count_shares_count_distinct() {
        let a = aggs(&format!(
            "SELECT k, DISTINCT_COUNT(s) AS a, COUNT(DISTINCT s) AS b, DistinctCount(s) AS c {W}"
        ));
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].func, AggFunc::Count);
        assert!(a[0].distinct);
        assert_eq!(a[0].data_type, DataType::Int64);
    }

    #[test]
    fn percentiles_take_a_constant_fraction() {
        let a = aggs(&format!(
            "SELECT k, PERCENTILE(x, 0.5) AS a, PERCENTILE(k, 1) AS b, APPROX_PERCENTILE(x, 0.99) AS c, PERCENTILE(x, 0.5) AS d {W}"
        ));
        assert_eq!(a.len(), 3, "{a:?}");
        assert_eq!(a[0].func, AggFunc::Percentile(Fraction::new(0.5).unwrap()));
        assert_eq!(a[1].func, AggFunc::Percentile(Fraction::new(1.0).unwrap()));
        assert_eq!(
            a[2].func,
            AggFunc::ApproxPercentile(Fraction::new(0.99).unwrap())
        );
        assert!(a.iter().all(|c| c.data_type == DataType::Float64));
        assert_eq!(a[0].to_string(), "PERCENTILE(x#2, 0.5)");
    }

    #[test]
    fn bad_fractions_are_plan_errors_naming_the_function() {
        for (sql, want) in [
            (
                "PERCENTILE(x, 1.5)",
                "PERCENTILE: the fraction (second argument) must be in [0, 1], found 1.5",
            ),
            ("PERCENTILE(x, -0.1)", "must be in [0, 1], found -0.1"),
            (
                "APPROX_PERCENTILE(x, k)",
                "APPROX_PERCENTILE: the fraction (second argument) must be a numeric constant",
            ),
            ("PERCENTILE(x, 'a')", "must be a numeric constant"),
            ("PERCENTILE(x)", "PERCENTILE takes two arguments"),
            ("PERCENTILE(x, 0.5, 1)", "PERCENTILE takes two arguments"),
            ("PERCENTILE(s, 0.5)", "PERCENTILE does not accept VARCHAR"),
            (
                "PERCENTILE(DISTINCT x, 0.5)",
                "PERCENTILE(DISTINCT ...) is not supported",
            ),
            ("FIRST_VALUE(NULL)", "FIRST_VALUE needs a typed value"),
            ("LAST_VALUE(x, t)", "LAST_VALUE takes one argument"),
            ("DISTINCT_COUNT(*)", "DISTINCT_COUNT takes one argument"),
        ] {
            let e = error(&format!("SELECT k, {sql} AS a {W}"));
            assert!(e.contains(want), "{sql}: {e}");
        }
    }

    #[test]
    fn first_and_last_keep_the_argument_type() {
        let a = aggs(&format!(
            "SELECT k, FIRST_VALUE(s) AS a, LAST_VALUE(x) AS b, first_value(t) AS c {W}"
        ));
        assert_eq!(a[0].func, AggFunc::FirstValue);
        assert_eq!(a[0].data_type, DataType::String);
        assert_eq!(a[1].func, AggFunc::LastValue);
        assert_eq!(a[1].data_type, DataType::Float64);
        assert_eq!(a[2].data_type, DataType::Timestamp);
    }

    #[test]
    fn the_new_aggregates_are_refused_in_over() {
        for f in [
            "DISTINCT_COUNT(s)",
            "PERCENTILE(x, 0.5)",
            "APPROX_PERCENTILE(x, 0.5)",
            "FIRST_VALUE(x)",
            "LAST_VALUE(x)",
        ] {
            let e = error(&format!(
                "SELECT k, {f} OVER (PARTITION BY k ORDER BY t) AS a FROM e"
            ));
            assert!(e.contains("OVER is not supported"), "{f}: {e}");
            assert!(e.contains("GROUP BY TUMBLE"), "{f}: {e}");
        }
    }
}
