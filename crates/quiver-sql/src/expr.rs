//! Typed scalar expressions and aggregate calls of the logical plan.
//!
//! Expressions refer to columns of their input by position. Every stream
//! row also has an event time (`rowtime`), which [`ScalarExpr::RowTime`]
//! reads even when no visible column holds it.

use std::fmt;
use std::sync::Arc;

use quiver_types::{DataType, Value};

use crate::functions::ScalarFunction;

/// A calendar-aware duration: `INTERVAL '1' MONTH` adds a month, whatever
/// its length; `INTERVAL '90' MINUTE` adds 5 400 000 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    /// Whole months.
    pub months: i32,
    /// Milliseconds.
    pub millis: i64,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`: integer division (truncating) on two BIGINTs; NULL when dividing by zero.
    Div,
    /// `%`, `MOD`: remainder with the sign of the dividend; NULL when dividing by zero.
    Mod,
    /// `=`
    Eq,
    /// `<>`, `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND` (three-valued)
    And,
    /// `OR` (three-valued)
    Or,
    /// `||` string concatenation (NULL if either side is NULL)
    Concat,
}

impl BinaryOp {
    /// The SQL spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Concat => "||",
        }
    }

    /// Whether the operator compares its operands.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }

    /// Whether the operator is arithmetic.
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
        )
    }
}

/// A typed scalar expression over the columns of one input.
#[derive(Debug, Clone)]
pub enum ScalarExpr {
    /// A column of the input, by position.
    Column {
        /// Position in the input schema.
        index: usize,
        /// Name (for display).
        name: String,
        /// Type.
        data_type: DataType,
    },
    /// The row's event time (`rowtime`), as a TIMESTAMP.
    RowTime,
    /// A constant.
    Literal(Value, DataType),
    /// `left op right`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<ScalarExpr>,
        /// Right operand.
        right: Box<ScalarExpr>,
        /// Result type.
        data_type: DataType,
    },
    /// `NOT e`.
    Not(Box<ScalarExpr>),
    /// `-e`.
    Negate(Box<ScalarExpr>),
    /// `e IS NULL` / `e IS NOT NULL`.
    IsNull {
        /// The operand.
        expr: Box<ScalarExpr>,
        /// True for `IS NOT NULL`.
        negated: bool,
    },
    /// `a IS DISTINCT FROM b` (NULL-safe inequality) / `IS NOT DISTINCT FROM`.
    IsDistinctFrom {
        /// Left operand.
        left: Box<ScalarExpr>,
        /// Right operand.
        right: Box<ScalarExpr>,
        /// True for `IS NOT DISTINCT FROM`.
        negated: bool,
    },
    /// `e [NOT] IN (list)`.
    InList {
        /// The probe.
        expr: Box<ScalarExpr>,
        /// The candidates (same type as the probe).
        list: Vec<ScalarExpr>,
        /// True for `NOT IN`.
        negated: bool,
    },
    /// `e [NOT] LIKE pattern` (`%` any run, `_` one character).
    Like {
        /// The string tested.
        expr: Box<ScalarExpr>,
        /// The pattern.
        pattern: Box<ScalarExpr>,
        /// True for `NOT LIKE`.
        negated: bool,
        /// True for `ILIKE`.
        case_insensitive: bool,
    },
    /// `CASE WHEN c THEN r ... ELSE e END` (simple CASE is rewritten to this form).
    Case {
        /// `(condition, result)` pairs, tried in order.
        whens: Vec<(ScalarExpr, ScalarExpr)>,
        /// The result when no condition is TRUE (NULL if absent).
        otherwise: Option<Box<ScalarExpr>>,
        /// Result type.
        data_type: DataType,
    },
    /// `CAST(e AS t)`: values that do not convert become NULL.
    Cast {
        /// The operand.
        expr: Box<ScalarExpr>,
        /// Target type.
        to: DataType,
    },
    /// `e ± INTERVAL ...` on a TIMESTAMP or DATE.
    AddInterval {
        /// The timestamp.
        expr: Box<ScalarExpr>,
        /// The amount (negated for `-`).
        interval: Interval,
    },
    /// A call of a registered scalar function.
    Function {
        /// The implementation.
        func: Arc<dyn ScalarFunction>,
        /// Arguments.
        args: Vec<ScalarExpr>,
        /// Result type.
        data_type: DataType,
    },
}

impl ScalarExpr {
    /// The type of the expression's value.
    pub fn data_type(&self) -> DataType {
        match self {
            ScalarExpr::Column { data_type, .. } => *data_type,
            ScalarExpr::RowTime => DataType::Timestamp,
            ScalarExpr::Literal(_, t) => *t,
            ScalarExpr::Binary { data_type, .. } => *data_type,
            ScalarExpr::Not(_)
            | ScalarExpr::IsNull { .. }
            | ScalarExpr::IsDistinctFrom { .. }
            | ScalarExpr::InList { .. }
            | ScalarExpr::Like { .. } => DataType::Bool,
            ScalarExpr::Negate(e) => e.data_type(),
            ScalarExpr::Case { data_type, .. } => *data_type,
            ScalarExpr::Cast { to, .. } => *to,
            ScalarExpr::AddInterval { expr, .. } => expr.data_type(),
            ScalarExpr::Function { data_type, .. } => *data_type,
        }
    }

    /// A column reference.
    pub fn column(index: usize, name: impl Into<String>, data_type: DataType) -> ScalarExpr {
        ScalarExpr::Column {
            index,
            name: name.into(),
            data_type,
        }
    }

    /// The child expressions.
    pub fn children(&self) -> Vec<&ScalarExpr> {
        match self {
            ScalarExpr::Column { .. } | ScalarExpr::RowTime | ScalarExpr::Literal(..) => vec![],
            ScalarExpr::Binary { left, right, .. }
            | ScalarExpr::IsDistinctFrom { left, right, .. } => {
                vec![left, right]
            }
            ScalarExpr::Not(e) | ScalarExpr::Negate(e) => vec![e],
            ScalarExpr::IsNull { expr, .. }
            | ScalarExpr::Cast { expr, .. }
            | ScalarExpr::AddInterval { expr, .. } => {
                vec![expr]
            }
            ScalarExpr::InList { expr, list, .. } => std::iter::once(&**expr).chain(list).collect(),
            ScalarExpr::Like { expr, pattern, .. } => vec![expr, pattern],
            ScalarExpr::Case {
                whens, otherwise, ..
            } => whens
                .iter()
                .flat_map(|(c, r)| [c, r])
                .chain(otherwise.as_deref())
                .collect(),
            ScalarExpr::Function { args, .. } => args.iter().collect(),
        }
    }

    /// Positions of the input columns the expression reads.
    pub fn columns(&self, out: &mut Vec<usize>) {
        if let ScalarExpr::Column { index, .. } = self
            && !out.contains(index)
        {
            out.push(*index);
        }
        for c in self.children() {
            c.columns(out);
        }
    }

    /// Whether the expression reads the event time (`rowtime`).
    pub fn uses_rowtime(&self) -> bool {
        matches!(self, ScalarExpr::RowTime) || self.children().iter().any(|c| c.uses_rowtime())
    }

    /// Whether the expression reads no input at all.
    pub fn is_constant(&self) -> bool {
        let mut cols = Vec::new();
        self.columns(&mut cols);
        cols.is_empty() && !self.uses_rowtime()
    }

    /// Rewrites every column reference with `f` (used when an expression
    /// moves to another input, e.g. the right side of a join).
    pub fn map_columns(&self, f: &dyn Fn(usize) -> usize) -> ScalarExpr {
        let m = |e: &ScalarExpr| Box::new(e.map_columns(f));
        match self {
            ScalarExpr::Column {
                index,
                name,
                data_type,
            } => ScalarExpr::Column {
                index: f(*index),
                name: name.clone(),
                data_type: *data_type,
            },
            ScalarExpr::RowTime | ScalarExpr::Literal(..) => self.clone(),
            ScalarExpr::Binary {
                op,
                left,
                right,
                data_type,
            } => ScalarExpr::Binary {
                op: *op,
                left: m(left),
                right: m(right),
                data_type: *data_type,
            },
            ScalarExpr::Not(e) => ScalarExpr::Not(m(e)),
            ScalarExpr::Negate(e) => ScalarExpr::Negate(m(e)),
            ScalarExpr::IsNull { expr, negated } => ScalarExpr::IsNull {
                expr: m(expr),
                negated: *negated,
            },
            ScalarExpr::IsDistinctFrom {
                left,
                right,
                negated,
            } => ScalarExpr::IsDistinctFrom {
                left: m(left),
                right: m(right),
                negated: *negated,
            },
            ScalarExpr::InList {
                expr,
                list,
                negated,
            } => ScalarExpr::InList {
                expr: m(expr),
                list: list.iter().map(|e| e.map_columns(f)).collect(),
                negated: *negated,
            },
            ScalarExpr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => ScalarExpr::Like {
                expr: m(expr),
                pattern: m(pattern),
                negated: *negated,
                case_insensitive: *case_insensitive,
            },
            ScalarExpr::Case {
                whens,
                otherwise,
                data_type,
            } => ScalarExpr::Case {
                whens: whens
                    .iter()
                    .map(|(c, r)| (c.map_columns(f), r.map_columns(f)))
                    .collect(),
                otherwise: otherwise.as_ref().map(|e| m(e)),
                data_type: *data_type,
            },
            ScalarExpr::Cast { expr, to } => ScalarExpr::Cast {
                expr: m(expr),
                to: *to,
            },
            ScalarExpr::AddInterval { expr, interval } => ScalarExpr::AddInterval {
                expr: m(expr),
                interval: *interval,
            },
            ScalarExpr::Function {
                func,
                args,
                data_type,
            } => ScalarExpr::Function {
                func: func.clone(),
                args: args.iter().map(|e| e.map_columns(f)).collect(),
                data_type: *data_type,
            },
        }
    }
}

impl PartialEq for ScalarExpr {
    fn eq(&self, other: &ScalarExpr) -> bool {
        use ScalarExpr as E;
        match (self, other) {
            (E::Column { index: a, .. }, E::Column { index: b, .. }) => a == b,
            (E::RowTime, E::RowTime) => true,
            (E::Literal(a, ta), E::Literal(b, tb)) => a == b && ta == tb,
            (
                E::Binary {
                    op: o1,
                    left: l1,
                    right: r1,
                    ..
                },
                E::Binary {
                    op: o2,
                    left: l2,
                    right: r2,
                    ..
                },
            ) => o1 == o2 && l1 == l2 && r1 == r2,
            (E::Not(a), E::Not(b)) | (E::Negate(a), E::Negate(b)) => a == b,
            (
                E::IsNull {
                    expr: a,
                    negated: n1,
                },
                E::IsNull {
                    expr: b,
                    negated: n2,
                },
            ) => a == b && n1 == n2,
            (
                E::IsDistinctFrom {
                    left: l1,
                    right: r1,
                    negated: n1,
                },
                E::IsDistinctFrom {
                    left: l2,
                    right: r2,
                    negated: n2,
                },
            ) => l1 == l2 && r1 == r2 && n1 == n2,
            (
                E::InList {
                    expr: e1,
                    list: l1,
                    negated: n1,
                },
                E::InList {
                    expr: e2,
                    list: l2,
                    negated: n2,
                },
            ) => e1 == e2 && l1 == l2 && n1 == n2,
            (
                E::Like {
                    expr: e1,
                    pattern: p1,
                    negated: n1,
                    case_insensitive: c1,
                },
                E::Like {
                    expr: e2,
                    pattern: p2,
                    negated: n2,
                    case_insensitive: c2,
                },
            ) => e1 == e2 && p1 == p2 && n1 == n2 && c1 == c2,
            (
                E::Case {
                    whens: w1,
                    otherwise: o1,
                    ..
                },
                E::Case {
                    whens: w2,
                    otherwise: o2,
                    ..
                },
            ) => w1 == w2 && o1 == o2,
            (E::Cast { expr: e1, to: t1 }, E::Cast { expr: e2, to: t2 }) => e1 == e2 && t1 == t2,
            (
                E::AddInterval {
                    expr: e1,
                    interval: i1,
                },
                E::AddInterval {
                    expr: e2,
                    interval: i2,
                },
            ) => e1 == e2 && i1 == i2,
            (
                E::Function {
                    func: f1, args: a1, ..
                },
                E::Function {
                    func: f2, args: a2, ..
                },
            ) => f1.name() == f2.name() && a1 == a2,
            _ => false,
        }
    }
}

impl fmt::Display for ScalarExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarExpr::Column { index, name, .. } => write!(f, "{name}#{index}"),
            ScalarExpr::RowTime => f.write_str("rowtime"),
            ScalarExpr::Literal(v, _) => write!(f, "{v}"),
            ScalarExpr::Binary {
                op, left, right, ..
            } => write!(f, "({left} {} {right})", op.symbol()),
            ScalarExpr::Not(e) => write!(f, "NOT {e}"),
            ScalarExpr::Negate(e) => write!(f, "-{e}"),
            ScalarExpr::IsNull { expr, negated } => {
                write!(f, "{expr} IS {}NULL", if *negated { "NOT " } else { "" })
            }
            ScalarExpr::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                write!(
                    f,
                    "{left} IS {}DISTINCT FROM {right}",
                    if *negated { "NOT " } else { "" }
                )
            }
            ScalarExpr::InList {
                expr,
                list,
                negated,
            } => {
                let items: Vec<String> = list.iter().map(|e| e.to_string()).collect();
                write!(
                    f,
                    "{expr} {}IN ({})",
                    if *negated { "NOT " } else { "" },
                    items.join(", ")
                )
            }
            ScalarExpr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
            } => write!(
                f,
                "{expr} {}{} {pattern}",
                if *negated { "NOT " } else { "" },
                if *case_insensitive { "ILIKE" } else { "LIKE" }
            ),
            ScalarExpr::Case {
                whens, otherwise, ..
            } => {
                f.write_str("CASE")?;
                for (c, r) in whens {
                    write!(f, " WHEN {c} THEN {r}")?;
                }
                if let Some(o) = otherwise {
                    write!(f, " ELSE {o}")?;
                }
                f.write_str(" END")
            }
            ScalarExpr::Cast { expr, to } => write!(f, "CAST({expr} AS {to})"),
            ScalarExpr::AddInterval { expr, interval } => {
                write!(
                    f,
                    "{expr} + INTERVAL({} months, {} ms)",
                    interval.months, interval.millis
                )
            }
            ScalarExpr::Function { func, args, .. } => {
                let items: Vec<String> = args.iter().map(|e| e.to_string()).collect();
                write!(f, "{}({})", func.name(), items.join(", "))
            }
        }
    }
}

/// A fraction in [0, 1] (a percentile's `p`), kept as the bits of a
/// finite `f64` so [`AggFunc`] stays `Copy`, `Eq` and `Hash`. `-0.0` is
/// stored as `0.0`, so equal fractions have equal bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Fraction(u64);

impl Fraction {
    /// `p` if it is a number in [0, 1] (NaN and values outside are refused).
    pub fn new(p: f64) -> Option<Fraction> {
        (0.0..=1.0)
            .contains(&p)
            .then(|| Fraction(if p == 0.0 { 0 } else { p.to_bits() }))
    }

    /// The value.
    pub fn value(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

/// Built-in aggregate functions. Each is mergeable: partial results over
/// parts of a window combine into the result over the whole window, and
/// merging in any order or grouping gives the same result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggFunc {
    /// `COUNT(*)`, `COUNT(x)`, `COUNT(DISTINCT x)`.
    Count,
    /// `SUM(x)`.
    Sum,
    /// `AVG(x)` (always DOUBLE).
    Avg,
    /// `MIN(x)`.
    Min,
    /// `MAX(x)`.
    Max,
    /// `STDDEV_POP(x)`.
    StddevPop,
    /// `VAR_POP(x)`.
    VarPop,
    /// `DISTINCT_COUNT(x)` (Dagger's `DistinctCount`): the number of
    /// distinct non-NULL values. The binder plans it as `COUNT(DISTINCT x)`,
    /// so both share one state.
    DistinctCount,
    /// `PERCENTILE(x, p)`: the exact percentile, interpolated linearly
    /// between the two nearest ranks (DuckDB's `quantile_cont`).
    Percentile(Fraction),
    /// `APPROX_PERCENTILE(x, p)`: a DDSketch estimate (1% relative error)
    /// of the value at rank `floor(p * (n - 1))`.
    ApproxPercentile(Fraction),
    /// `FIRST_VALUE(x)`: `x` of the row with the earliest event time (ties:
    /// the smallest `x`).
    FirstValue,
    /// `LAST_VALUE(x)`: `x` of the row with the latest event time (ties:
    /// the largest `x`).
    LastValue,
    /// `COLLECT_ARRAY(x)` (Dagger's `CollectArray`): every non-NULL `x`, in
    /// event-time order (ties: by value), as an array.
    CollectArray,
    /// `LAST_K(x, k)`: the last `k` non-NULL values by event time (ties:
    /// by value), oldest first.
    LastK(u32),
    /// `TOP_K(x, k)`: the `k` largest non-NULL values, largest first.
    TopK(u32),
    /// `HISTOGRAM(x)`: a map from each distinct non-NULL value to its count.
    Histogram,
}

impl AggFunc {
    /// Looks up an aggregate by SQL name. Percentiles come back with
    /// `p = 0`; the binder reads the real `p` from the second argument.
    pub fn from_name(name: &str) -> Option<AggFunc> {
        Some(match name.to_ascii_uppercase().as_str() {
            "COUNT" => AggFunc::Count,
            "SUM" => AggFunc::Sum,
            "AVG" => AggFunc::Avg,
            "MIN" => AggFunc::Min,
            "MAX" => AggFunc::Max,
            "STDDEV_POP" => AggFunc::StddevPop,
            "VAR_POP" => AggFunc::VarPop,
            "DISTINCT_COUNT" | "DISTINCTCOUNT" => AggFunc::DistinctCount,
            "PERCENTILE" => AggFunc::Percentile(Fraction::default()),
            "APPROX_PERCENTILE" => AggFunc::ApproxPercentile(Fraction::default()),
            "FIRST_VALUE" => AggFunc::FirstValue,
            "LAST_VALUE" => AggFunc::LastValue,
            "COLLECT_ARRAY" | "COLLECTARRAY" | "ARRAY_AGG" => AggFunc::CollectArray,
            "LAST_K" => AggFunc::LastK(0),
            "TOP_K" => AggFunc::TopK(0),
            "HISTOGRAM" => AggFunc::Histogram,
            _ => return None,
        })
    }

    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count => "COUNT",
            AggFunc::Sum => "SUM",
            AggFunc::Avg => "AVG",
            AggFunc::Min => "MIN",
            AggFunc::Max => "MAX",
            AggFunc::StddevPop => "STDDEV_POP",
            AggFunc::VarPop => "VAR_POP",
            AggFunc::DistinctCount => "DISTINCT_COUNT",
            AggFunc::Percentile(_) => "PERCENTILE",
            AggFunc::ApproxPercentile(_) => "APPROX_PERCENTILE",
            AggFunc::FirstValue => "FIRST_VALUE",
            AggFunc::LastValue => "LAST_VALUE",
            AggFunc::CollectArray => "COLLECT_ARRAY",
            AggFunc::LastK(_) => "LAST_K",
            AggFunc::TopK(_) => "TOP_K",
            AggFunc::Histogram => "HISTOGRAM",
        }
    }

    /// The `k` of `LAST_K` / `TOP_K`.
    pub fn k(self) -> Option<u32> {
        match self {
            AggFunc::LastK(k) | AggFunc::TopK(k) => Some(k),
            _ => None,
        }
    }

    /// The fraction of a percentile aggregate.
    pub fn fraction(self) -> Option<Fraction> {
        match self {
            AggFunc::Percentile(p) | AggFunc::ApproxPercentile(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the aggregate can run in an OVER window (whose running state
    /// must also retract rows leaving the frame).
    pub fn supports_over(self) -> bool {
        matches!(
            self,
            AggFunc::Count
                | AggFunc::Sum
                | AggFunc::Avg
                | AggFunc::Min
                | AggFunc::Max
                | AggFunc::StddevPop
                | AggFunc::VarPop
        )
    }
}

/// The reference of the aggregate functions: `(name, signature,
/// description)`, one row per name, in the order a reader meets them. The
/// function reference (`udfs/FUNCTIONS.md`) is generated from it.
pub const AGGREGATE_REFERENCE: &[(&str, &str, &str)] = &[
    (
        "COUNT",
        "COUNT(*) | COUNT(x) | COUNT(DISTINCT x)",
        "Rows; non-NULL values of `x`; distinct non-NULL values of `x`. BIGINT, 0 for no rows.",
    ),
    (
        "SUM",
        "SUM(x)",
        "Sum of a BIGINT (BIGINT; NULL if it overflows) or a DOUBLE (exact until rounded once, so independent of row order).",
    ),
    ("AVG", "AVG(x)", "Mean of the non-NULL values, as DOUBLE."),
    (
        "MIN",
        "MIN(x)",
        "Smallest non-NULL value (numbers, strings by bytes, timestamps, dates, booleans); NaN is above every number.",
    ),
    ("MAX", "MAX(x)", "Largest non-NULL value, ordered as MIN."),
    (
        "STDDEV_POP",
        "STDDEV_POP(x)",
        "Population standard deviation, as DOUBLE.",
    ),
    ("VAR_POP", "VAR_POP(x)", "Population variance, as DOUBLE."),
    (
        "DISTINCT_COUNT",
        "DISTINCT_COUNT(x)",
        "Dagger's `DistinctCount` (also spelled `DistinctCount`): the number of distinct non-NULL values of `x`, of any type, as BIGINT; the same as `COUNT(DISTINCT x)`, with which it shares state. Exact: the state holds every distinct value of a window.",
    ),
    (
        "PERCENTILE",
        "PERCENTILE(x, p)",
        "Exact percentile of a BIGINT or DOUBLE `x` as DOUBLE, for a constant `p` in [0, 1]: with the n non-NULL values sorted (NaN last), the value at 0-based position p·(n−1), interpolated linearly between the two nearest values (DuckDB's `quantile_cont`, Dagger's `PercentileAggregator` with `p` as a fraction). The state holds every value of a window.",
    ),
    (
        "APPROX_PERCENTILE",
        "APPROX_PERCENTILE(x, p)",
        "Approximate percentile of a BIGINT or DOUBLE `x` as DOUBLE, for a constant `p` in [0, 1], from a DDSketch: within 1% (relative) of the exact value at 0-based rank ⌊p·(n−1)⌋ of the sorted values (not interpolated); values within 1e-9 of zero count as 0; p = 0 and p = 1 give the exact MIN and MAX. The state is bounded by the range of the values (at most ~37k counters per sign, typically a few hundred), not their number, and merges exactly.",
    ),
    (
        "FIRST_VALUE",
        "FIRST_VALUE(x)",
        "`x` of the row with the earliest event time among rows where `x` is not NULL; among rows at that same time, the smallest `x` (ordered as MIN). The result does not depend on arrival order.",
    ),
    (
        "LAST_VALUE",
        "LAST_VALUE(x)",
        "`x` of the row with the latest event time among rows where `x` is not NULL; among rows at that same time, the largest `x` (ordered as MAX).",
    ),
    (
        "COLLECT_ARRAY",
        "COLLECT_ARRAY(x)",
        "Dagger's `CollectArray` (also `CollectArray`, `ARRAY_AGG`): the non-NULL values of a scalar `x` as `ARRAY<type of x>`, in event-time order, rows at the same time ordered by value (Dagger: arrival order, which a backfill cannot reproduce). The state holds every value of a window.",
    ),
    (
        "LAST_K",
        "LAST_K(x, k)",
        "The last `k` non-NULL values of a scalar `x` by event time as an array, oldest first (so `ElementAt(LAST_K(x, 3), -1)` is the latest); rows at the same time ordered by value. `k` is a constant from 1 to 10000; the state holds at most `k` values per group.",
    ),
    (
        "TOP_K",
        "TOP_K(x, k)",
        "The `k` largest non-NULL values of a scalar `x` (ordered as MAX, duplicates kept) as an array, largest first (DuckDB's `max(x, k)`). `k` is a constant from 1 to 10000.",
    ),
    (
        "HISTOGRAM",
        "HISTOGRAM(x)",
        "A `MAP<type of x, BIGINT>` from each distinct non-NULL value of a scalar `x` to its number of rows, keys in ascending order (DuckDB's `histogram`). The state holds every distinct value of a window.",
    ),
];

/// One aggregate computed per group and window.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateCall {
    /// Which aggregate.
    pub func: AggFunc,
    /// The argument; `None` for `COUNT(*)`.
    pub arg: Option<ScalarExpr>,
    /// `COUNT(DISTINCT x)` and friends.
    pub distinct: bool,
    /// Result type.
    pub data_type: DataType,
}

impl fmt::Display for AggregateCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg {
            None => write!(f, "{}(*)", self.func.name()),
            Some(a) => {
                write!(
                    f,
                    "{}({}{a}",
                    self.func.name(),
                    if self.distinct { "DISTINCT " } else { "" }
                )?;
                match (self.func.fraction(), self.func.k()) {
                    (Some(p), _) => write!(f, ", {p})"),
                    (_, Some(k)) => write!(f, ", {k})"),
                    _ => f.write_str(")"),
                }
            }
        }
    }
}
