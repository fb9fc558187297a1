//! Vectorized evaluation of [`ScalarExpr`]s over Arrow record batches.
//!
//! Every batch in the dataflow ends with the hidden `__time` column (event
//! time in ms, `Int64`), which [`ScalarExpr::RowTime`] reads. Literals stay
//! scalars so kernels broadcast them instead of materializing a column.
//!
//! Semantics that differ from Arrow's defaults, because one bad row must not
//! stop a streaming job: integer overflow, division by zero and failed
//! casts give NULL; WHERE and CASE treat NULL conditions as false.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Datum, Int64Array, PrimitiveArray, RecordBatch,
    TimestampMillisecondArray, new_null_array,
};
use arrow::compute::kernels::{boolean, cmp, numeric};
use arrow::compute::prep_null_mask_filter;
use arrow::datatypes::{
    ArrowPrimitiveType, DataType as ArrowType, Float64Type, Int64Type, TimestampMillisecondType,
};
use arrow::error::ArrowError;
use quiver_sql::{BinaryOp, ColumnarValue, Interval, ScalarExpr};
use quiver_types::{DataType, Value};

use crate::cast::cast_array;
use crate::error::DataflowError;

/// The result of evaluating an expression: a column, or one value for all rows.
#[derive(Debug, Clone)]
pub enum Evaluated {
    /// One value per row.
    Array(ArrayRef),
    /// A one-element array standing for every row.
    Scalar(ArrayRef),
}

impl Datum for Evaluated {
    fn get(&self) -> (&dyn Array, bool) {
        match self {
            Evaluated::Array(a) => (a.as_ref(), false),
            Evaluated::Scalar(a) => (a.as_ref(), true),
        }
    }
}

impl Evaluated {
    /// Materializes as a column of `n` rows.
    pub fn into_array(self, n: usize) -> Result<ArrayRef, DataflowError> {
        match self {
            Evaluated::Array(a) => Ok(a),
            Evaluated::Scalar(s) => repeat(&s, n),
        }
    }

    fn array(&self) -> &dyn Array {
        self.get().0
    }
}

/// An array repeating the single value of `s` `n` times.
pub fn repeat(s: &ArrayRef, n: usize) -> Result<ArrayRef, DataflowError> {
    if s.is_null(0) {
        return Ok(new_null_array(s.data_type(), n));
    }
    let idx = arrow::array::UInt32Array::from_value(0, n);
    Ok(arrow::compute::take(s.as_ref(), &idx, None)?)
}

/// The one-element array holding `v` as type `t`.
pub fn scalar_array(v: &Value, t: DataType) -> ArrayRef {
    use arrow::array::*;
    match (v, t) {
        (Value::Null, t) => new_null_array(&t.to_arrow(), 1),
        (Value::Bool(b), _) => Arc::new(BooleanArray::from(vec![*b])),
        (Value::Int64(i), DataType::Float64) => Arc::new(Float64Array::from(vec![*i as f64])),
        (Value::Int64(i), _) => Arc::new(Int64Array::from(vec![*i])),
        (Value::Float64(f), _) => Arc::new(Float64Array::from(vec![*f])),
        (Value::String(s), _) => Arc::new(StringArray::from(vec![s.as_str()])),
        (Value::Timestamp(ms), _) => {
            Arc::new(TimestampMillisecondArray::from(vec![*ms]).with_timezone("UTC"))
        }
        (Value::Date(d), _) => Arc::new(Date32Array::from(vec![*d])),
        (Value::Bytes(b), _) => Arc::new(BinaryArray::from(vec![b.as_slice()])),
        (Value::List(..) | Value::Map(..), t) => Value::to_array(std::slice::from_ref(v), t),
    }
}

/// The event time of each row, as the `Int64` `__time` column (always last).
pub fn time_column(batch: &RecordBatch) -> &Int64Array {
    batch
        .column(batch.num_columns() - 1)
        .as_primitive::<Int64Type>()
}

/// Views an `Int64` millisecond column as a UTC timestamp column (no copy).
pub fn as_timestamp(a: &Int64Array) -> ArrayRef {
    Arc::new(
        TimestampMillisecondArray::new(a.values().clone(), a.nulls().cloned()).with_timezone("UTC"),
    )
}

/// Evaluates `e` over `batch` (whose last column is `__time`) into a column.
pub fn evaluate(e: &ScalarExpr, batch: &RecordBatch) -> Result<ArrayRef, DataflowError> {
    eval(e, batch)?.into_array(batch.num_rows())
}

/// Evaluates a predicate into a filter mask where NULL counts as false.
pub fn evaluate_predicate(
    e: &ScalarExpr,
    batch: &RecordBatch,
) -> Result<BooleanArray, DataflowError> {
    let a = evaluate(e, batch)?;
    let b = a
        .as_boolean_opt()
        .ok_or_else(|| DataflowError::Internal(format!("predicate {e} is not boolean")))?;
    Ok(if b.null_count() > 0 {
        prep_null_mask_filter(b)
    } else {
        b.clone()
    })
}

fn eval(e: &ScalarExpr, batch: &RecordBatch) -> Result<Evaluated, DataflowError> {
    let n = batch.num_rows();
    Ok(match e {
        ScalarExpr::Column { index, .. } => Evaluated::Array(batch.column(*index).clone()),
        ScalarExpr::RowTime => Evaluated::Array(as_timestamp(time_column(batch))),
        ScalarExpr::Literal(v, t) => Evaluated::Scalar(scalar_array(v, *t)),
        ScalarExpr::Binary {
            op,
            left,
            right,
            data_type,
        } => {
            let l = eval(left, batch)?;
            let r = eval(right, batch)?;
            binary(*op, &l, &r, *data_type, n)?
        }
        ScalarExpr::Not(x) => {
            let v = eval(x, batch)?;
            map_same(v, |a| {
                Ok(Arc::new(boolean::not(a.as_boolean())?) as ArrayRef)
            })?
        }
        ScalarExpr::Negate(x) => {
            let v = eval(x, batch)?;
            map_same(v, |a| match a.data_type() {
                ArrowType::Int64 => Ok(Arc::new(
                    a.as_primitive::<Int64Type>()
                        .unary_opt::<_, Int64Type>(|v| v.checked_neg()),
                ) as ArrayRef),
                _ => Ok(numeric::neg(a)?),
            })?
        }
        ScalarExpr::IsNull { expr, negated } => {
            let v = eval(expr, batch)?;
            map_same(v, |a| {
                Ok(Arc::new(if *negated {
                    boolean::is_not_null(a)?
                } else {
                    boolean::is_null(a)?
                }) as ArrayRef)
            })?
        }
        ScalarExpr::IsDistinctFrom {
            left,
            right,
            negated,
        } => {
            let l = eval(left, batch)?;
            let r = eval(right, batch)?;
            let out = if *negated {
                cmp::not_distinct(&l, &r)?
            } else {
                cmp::distinct(&l, &r)?
            };
            scalar_if_both(&l, &r, Arc::new(out))
        }
        ScalarExpr::InList {
            expr,
            list,
            negated,
        } => {
            let probe = eval(expr, batch)?;
            let mut acc: Option<BooleanArray> = None;
            for item in list {
                let v = eval(item, batch)?;
                let hit = cmp::eq(&probe, &v)?;
                let hit = if hit.len() == 1 && n != 1 {
                    broadcast_bool(&hit, n)
                } else {
                    hit
                };
                acc = Some(match acc {
                    None => hit,
                    Some(a) => boolean::or_kleene(&a, &hit)?,
                });
            }
            let out = acc.unwrap_or_else(|| BooleanArray::from(vec![false; n]));
            let out = if *negated { boolean::not(&out)? } else { out };
            Evaluated::Array(Arc::new(out))
        }
        ScalarExpr::Like {
            expr,
            pattern,
            negated,
            case_insensitive,
        } => {
            let v = eval(expr, batch)?;
            let p = escape_backslashes(eval(pattern, batch)?)?;
            let out = match (negated, case_insensitive) {
                (false, false) => arrow::compute::like(&v, &p)?,
                (true, false) => arrow::compute::nlike(&v, &p)?,
                (false, true) => arrow::compute::ilike(&v, &p)?,
                (true, true) => arrow::compute::nilike(&v, &p)?,
            };
            scalar_if_both(&v, &p, Arc::new(out))
        }
        ScalarExpr::Case {
            whens,
            otherwise,
            data_type,
        } => {
            let mut result = match otherwise {
                Some(o) => eval(o, batch)?.into_array(n)?,
                None => new_null_array(&data_type.to_arrow(), n),
            };
            for (cond, value) in whens.iter().rev() {
                let c = eval(cond, batch)?.into_array(n)?;
                let c = c.as_boolean();
                let mask = if c.null_count() > 0 {
                    prep_null_mask_filter(c)
                } else {
                    c.clone()
                };
                let v = eval(value, batch)?;
                result = arrow::compute::kernels::zip::zip(&mask, &v, &Evaluated::Array(result))?;
            }
            Evaluated::Array(result)
        }
        ScalarExpr::Cast { expr, to } => {
            let v = eval(expr, batch)?;
            map_same(v, |a| cast_array(a, *to))?
        }
        ScalarExpr::AddInterval { expr, interval } => {
            let v = eval(expr, batch)?;
            let iv = *interval;
            map_same(v, move |a| add_interval(a, iv))?
        }
        ScalarExpr::Function { func, args, .. } => {
            let mut values = Vec::with_capacity(args.len());
            for a in args {
                values.push(match a {
                    ScalarExpr::Literal(v, _) => ColumnarValue::Scalar(v.clone()),
                    other => ColumnarValue::Array(eval(other, batch)?.into_array(n)?),
                });
            }
            let out = func.invoke(&values, n)?;
            if out.len() != n {
                return Err(DataflowError::Internal(format!(
                    "{} returned {} rows for {n}",
                    func.name(),
                    out.len()
                )));
            }
            Evaluated::Array(out)
        }
    })
}

fn map_same(
    v: Evaluated,
    f: impl FnOnce(&dyn Array) -> Result<ArrayRef, DataflowError>,
) -> Result<Evaluated, DataflowError> {
    Ok(match v {
        Evaluated::Array(a) => Evaluated::Array(f(a.as_ref())?),
        Evaluated::Scalar(a) => Evaluated::Scalar(f(a.as_ref())?),
    })
}

fn scalar_if_both(l: &Evaluated, r: &Evaluated, out: ArrayRef) -> Evaluated {
    if matches!(l, Evaluated::Scalar(_)) && matches!(r, Evaluated::Scalar(_)) {
        Evaluated::Scalar(out)
    } else {
        Evaluated::Array(out)
    }
}

fn broadcast_bool(b: &BooleanArray, n: usize) -> BooleanArray {
    if b.is_null(0) {
        BooleanArray::new_null(n)
    } else {
        BooleanArray::from(vec![b.value(0); n])
    }
}

/// SQL's LIKE has no escape character; Arrow treats `\` as one, so a
/// backslash in the pattern is doubled to match itself.
fn escape_backslashes(p: Evaluated) -> Result<Evaluated, DataflowError> {
    map_same(p, |a| {
        let s = a.as_string::<i32>();
        if !s.iter().flatten().any(|x| x.contains('\\')) {
            return Ok(Arc::new(s.clone()) as ArrayRef);
        }
        let out: arrow::array::StringArray = s
            .iter()
            .map(|x| x.map(|x| x.replace('\\', "\\\\")))
            .collect();
        Ok(Arc::new(out) as ArrayRef)
    })
}

fn binary(
    op: BinaryOp,
    l: &Evaluated,
    r: &Evaluated,
    t: DataType,
    n: usize,
) -> Result<Evaluated, DataflowError> {
    let both_scalar = matches!(l, Evaluated::Scalar(_)) && matches!(r, Evaluated::Scalar(_));
    let wrap = |a: ArrayRef| {
        if both_scalar {
            Evaluated::Scalar(a)
        } else {
            Evaluated::Array(a)
        }
    };
    Ok(match op {
        BinaryOp::Eq => wrap(Arc::new(cmp::eq(l, r)?)),
        BinaryOp::NotEq => wrap(Arc::new(cmp::neq(l, r)?)),
        BinaryOp::Lt => wrap(Arc::new(cmp::lt(l, r)?)),
        BinaryOp::LtEq => wrap(Arc::new(cmp::lt_eq(l, r)?)),
        BinaryOp::Gt => wrap(Arc::new(cmp::gt(l, r)?)),
        BinaryOp::GtEq => wrap(Arc::new(cmp::gt_eq(l, r)?)),
        BinaryOp::And | BinaryOp::Or => {
            let m = if both_scalar { 1 } else { n };
            let la = l.clone().into_array(m)?;
            let ra = r.clone().into_array(m)?;
            let out = if op == BinaryOp::And {
                boolean::and_kleene(la.as_boolean(), ra.as_boolean())?
            } else {
                boolean::or_kleene(la.as_boolean(), ra.as_boolean())?
            };
            wrap(Arc::new(out))
        }
        BinaryOp::Concat => {
            let m = if both_scalar { 1 } else { n };
            let la = l.clone().into_array(m)?;
            let ra = r.clone().into_array(m)?;
            wrap(Arc::new(
                arrow::compute::kernels::concat_elements::concat_elements_utf8(
                    la.as_string::<i32>(),
                    ra.as_string::<i32>(),
                )?,
            ))
        }
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
            let m = if both_scalar { 1 } else { n };
            wrap(arithmetic(op, l, r, t, m)?)
        }
    })
}

/// Arithmetic with SQL's NULL-on-error semantics.
fn arithmetic(
    op: BinaryOp,
    l: &Evaluated,
    r: &Evaluated,
    t: DataType,
    n: usize,
) -> Result<ArrayRef, DataflowError> {
    match t {
        DataType::Int64 => {
            let f: fn(i64, i64) -> Option<i64> = match op {
                BinaryOp::Add => i64::checked_add,
                BinaryOp::Sub => i64::checked_sub,
                BinaryOp::Mul => i64::checked_mul,
                BinaryOp::Div => i64::checked_div,
                // MIN % -1 is 0, as Arrow, DuckDB and Flink compute it.
                _ => |a: i64, b: i64| (b != 0).then(|| a.wrapping_rem(b)),
            };
            // Fast path: Arrow's checked kernels; on any overflow or zero
            // divisor, redo row by row with NULL for the failing rows.
            let fast = match op {
                BinaryOp::Add => numeric::add(l, r),
                BinaryOp::Sub => numeric::sub(l, r),
                BinaryOp::Mul => numeric::mul(l, r),
                BinaryOp::Div => numeric::div(l, r),
                _ => numeric::rem(l, r),
            };
            match fast {
                Ok(a) => Ok(a),
                Err(ArrowError::ArithmeticOverflow(_)) | Err(ArrowError::DivideByZero) => {
                    Ok(Arc::new(zip_primitive::<Int64Type>(l, r, n, f)))
                }
                Err(e) => Err(e.into()),
            }
        }
        DataType::Float64 => {
            let out = match op {
                BinaryOp::Add => numeric::add(l, r)?,
                BinaryOp::Sub => numeric::sub(l, r)?,
                BinaryOp::Mul => numeric::mul(l, r)?,
                BinaryOp::Div | BinaryOp::Mod => {
                    let f: fn(f64, f64) -> Option<f64> = if op == BinaryOp::Div {
                        |a, b| (b != 0.0).then(|| a / b)
                    } else {
                        |a, b| (b != 0.0).then(|| a % b)
                    };
                    return Ok(Arc::new(zip_primitive::<Float64Type>(l, r, n, f)));
                }
                _ => unreachable!("arithmetic op"),
            };
            Ok(out)
        }
        _ => Ok(new_null_array(&t.to_arrow(), n)),
    }
}

/// Applies `f` row by row to two primitive operands (either may be a scalar).
fn zip_primitive<T: ArrowPrimitiveType>(
    l: &Evaluated,
    r: &Evaluated,
    n: usize,
    f: fn(T::Native, T::Native) -> Option<T::Native>,
) -> PrimitiveArray<T> {
    let la = l.array().as_primitive::<T>();
    let ra = r.array().as_primitive::<T>();
    let ls = matches!(l, Evaluated::Scalar(_));
    let rs = matches!(r, Evaluated::Scalar(_));
    (0..n)
        .map(|i| {
            let li = if ls { 0 } else { i };
            let ri = if rs { 0 } else { i };
            if la.is_null(li) || ra.is_null(ri) {
                None
            } else {
                f(la.value(li), ra.value(ri))
            }
        })
        .collect()
}

/// `ts + interval`: milliseconds are added exactly; months move the calendar
/// date, clamping the day to the month's end (Jan 31 + 1 month = Feb 29).
fn add_interval(a: &dyn Array, iv: Interval) -> Result<ArrayRef, DataflowError> {
    let ts = a.as_primitive::<TimestampMillisecondType>();
    let out: TimestampMillisecondArray = ts.unary_opt(|t| {
        let t = if iv.months != 0 {
            add_months(t, iv.months)?
        } else {
            t
        };
        t.checked_add(iv.millis)
    });
    Ok(Arc::new(out.with_timezone("UTC")))
}

/// Adds calendar months to a UTC timestamp in ms.
pub fn add_months(t: i64, months: i32) -> Option<i64> {
    use chrono::{DateTime, Months};
    let dt = DateTime::from_timestamp_millis(t)?;
    let moved = if months >= 0 {
        dt.checked_add_months(Months::new(months as u32))?
    } else {
        dt.checked_sub_months(Months::new(months.unsigned_abs()))?
    };
    Some(moved.timestamp_millis())
}

/// Keeps the rows of `batch` where `mask` is true.
pub fn filter_batch(
    batch: &RecordBatch,
    mask: &BooleanArray,
) -> Result<RecordBatch, DataflowError> {
    if mask.true_count() == batch.num_rows() {
        return Ok(batch.clone());
    }
    Ok(arrow::compute::filter_record_batch(batch, mask)?)
}
