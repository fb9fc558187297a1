//! Numeric functions. ABS, SIGN, ROUND, FLOOR and CEIL keep their input's
//! type (BIGINT in, BIGINT out); POWER, SQRT, LN, LOG10 and EXP return
//! DOUBLE. Results outside a function's domain (SQRT of a negative, LN of
//! zero, an overflow, NaN) are NULL. GREATEST and LEAST pick across
//! arguments of one comparable type and are NULL if any argument is.
//!
//! FLOOR and CEIL also take a unit (`FLOOR(ts TO DAY)` reaches us as
//! `FLOOR(ts, 'DAY')`); that form lives in [`crate::datetime`].

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, make_array};
use arrow::buffer::NullBuffer;
use arrow::compute::kernels::cmp::{gt, lt};
use arrow::compute::kernels::zip::zip;
use arrow::datatypes::{DataType as ArrowType, Float64Type, Int64Type};
use quiver_sql::{ArgInfo, ColumnarValue};
use quiver_types::DataType;

use crate::args::{
    Builtin, EvalResult, Prim, arg, arity, arrow_type, broadcast, float_array, floats, int_array,
    ints, want, want_int, want_number,
};
use crate::datetime;

/// The numeric functions.
pub(crate) fn functions() -> Vec<Builtin> {
    vec![
        Builtin::new("ABS", "ABS(x)", "Absolute value; same type as `x` (ABS of the smallest BIGINT is NULL).", same_number, |a, n| {
            by_type(a, n, i64::checked_abs, |x| Some(x.abs()))
        }),
        Builtin::new("SIGN", "SIGN(x)", "-1, 0 or 1 by the sign of `x`; same type as `x`.", same_number, |a, n| {
            by_type(a, n, |x| Some(x.signum()), |x| {
                Some(if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                })
            })
        }),
        Builtin::new(
            "ROUND",
            "ROUND(x [, d])",
            "`x` rounded half away from zero to `d` decimal places (default 0; negative = tens, hundreds...); same type as `x`.",
            |a| {
                arity(a, 1, Some(2))?;
                if a.len() > 1 {
                    want_int(a, 1)?;
                }
                number_type(a)
            },
            round,
        ),
        Builtin::new(
            "FLOOR",
            "FLOOR(x) | FLOOR(t TO unit)",
            "Largest integer <= `x` (same type); or `t` rounded down to a SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR.",
            |a| floor_ceil_type(a, "FLOOR"),
            |a, n| floor_ceil(a, n, false),
        ),
        Builtin::new(
            "CEIL",
            "CEIL(x) | CEIL(t TO unit)",
            "Smallest integer >= `x` (same type); or `t` rounded up to a unit (an aligned value stays).",
            |a| floor_ceil_type(a, "CEIL"),
            |a, n| floor_ceil(a, n, true),
        )
        .aliases(&["CEILING"]),
        Builtin::new(
            "POWER",
            "POWER(a, b)",
            "`a` raised to `b`, as DOUBLE; NULL when undefined or infinite.",
            |a| doubles(a, 2),
            |a, n| {
                let (x, y) = (floats(a, 0)?, floats(a, 1)?);
                Ok(float_array((0..n).map(|i| finite(x.get(i)?.powf(y.get(i)?)))))
            },
        )
        .aliases(&["POW"]),
        Builtin::new("SQRT", "SQRT(x)", "Square root, as DOUBLE; NULL for a negative `x`.", |a| doubles(a, 1), |a, n| {
            map_f64(a, n, |x| if x < 0.0 { None } else { finite(x.sqrt()) })
        }),
        Builtin::new("LN", "LN(x)", "Natural logarithm, as DOUBLE; NULL for `x` <= 0.", |a| doubles(a, 1), |a, n| {
            map_f64(a, n, |x| if x <= 0.0 { None } else { finite(x.ln()) })
        }),
        Builtin::new("LOG10", "LOG10(x)", "Base-10 logarithm, as DOUBLE; NULL for `x` <= 0.", |a| doubles(a, 1), |a, n| {
            map_f64(a, n, |x| if x <= 0.0 { None } else { finite(x.log10()) })
        }),
        Builtin::new("EXP", "EXP(x)", "e raised to `x`, as DOUBLE; NULL on overflow.", |a| doubles(a, 1), |a, n| {
            map_f64(a, n, |x| finite(x.exp()))
        }),
        Builtin::new(
            "GREATEST",
            "GREATEST(a, b, ...)",
            "The largest argument (numbers, strings, timestamps, dates); NULL if any argument is NULL.",
            extreme_type,
            |a, n| extreme(a, n, true),
        ),
        Builtin::new(
            "LEAST",
            "LEAST(a, b, ...)",
            "The smallest argument (numbers, strings, timestamps, dates); NULL if any argument is NULL.",
            extreme_type,
            |a, n| extreme(a, n, false),
        ),
    ]
}

/// `Some(x)` when `x` is finite.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The result type of a type-keeping function of argument 1: BIGINT or
/// DOUBLE (an untyped NULL gives BIGINT).
fn number_type(a: &[ArgInfo<'_>]) -> Result<DataType, String> {
    Ok(match want_number(a, 0)? {
        DataType::Float64 => DataType::Float64,
        _ => DataType::Int64,
    })
}

fn same_number(a: &[ArgInfo<'_>]) -> Result<DataType, String> {
    arity(a, 1, Some(1))?;
    number_type(a)
}

/// `count` DOUBLE arguments (BIGINT accepted) giving DOUBLE.
fn doubles(a: &[ArgInfo<'_>], count: usize) -> Result<DataType, String> {
    arity(a, count, Some(count))?;
    (0..count).try_for_each(|i| want_number(a, i).map(drop))?;
    Ok(DataType::Float64)
}

/// Whether argument 1 is a DOUBLE at run time (else BIGINT or NULL).
fn is_float(args: &[ColumnarValue]) -> Result<bool, String> {
    Ok(matches!(
        arrow_type(arg(args, 0)?),
        ArrowType::Float64 | ArrowType::Float32 | ArrowType::Float16
    ))
}

/// Applies `f` to a DOUBLE argument 1 with Arrow's unary kernel (NaN in, NULL out).
fn map_f64(args: &[ColumnarValue], n: usize, f: impl Fn(f64) -> Option<f64>) -> EvalResult {
    let g = |x: f64| if x.is_nan() { None } else { f(x) };
    Ok(match floats(args, 0)? {
        Prim::Array(a) => Arc::new(a.unary_opt::<_, Float64Type>(g)),
        Prim::Scalar(v) => float_array(std::iter::repeat_n(v.and_then(g), n)),
    })
}

/// Applies `f` to a BIGINT argument 1 with Arrow's unary kernel.
fn map_i64(args: &[ColumnarValue], n: usize, f: impl Fn(i64) -> Option<i64>) -> EvalResult {
    Ok(match ints(args, 0)? {
        Prim::Array(a) => Arc::new(a.unary_opt::<_, Int64Type>(f)),
        Prim::Scalar(v) => int_array(std::iter::repeat_n(v.and_then(f), n)),
    })
}

/// A type-keeping function: `int` on BIGINT, `float` on DOUBLE.
fn by_type(
    args: &[ColumnarValue],
    n: usize,
    int: impl Fn(i64) -> Option<i64>,
    float: impl Fn(f64) -> Option<f64>,
) -> EvalResult {
    if is_float(args)? {
        map_f64(args, n, float)
    } else {
        map_i64(args, n, int)
    }
}

/// Rounds half away from zero to `d` decimals, as DuckDB does for DOUBLE:
/// `round(x * 10^d) / 10^d`, or `round(x / 10^-d) * 10^-d` for a negative
/// `d`. When scaling overflows, `x` itself (or 0 for a negative `d`) is the
/// answer.
pub(crate) fn round_f64(x: f64, d: i64) -> Option<f64> {
    if x.is_nan() {
        return None;
    }
    let r = if d < 0 {
        let m = 10f64.powf(-(d as f64));
        let r = (x / m).round() * m;
        if r.is_finite() { r } else { 0.0 }
    } else {
        let m = 10f64.powf(d as f64);
        let r = (x * m).round() / m;
        if r.is_finite() { r } else { x }
    };
    Some(r)
}

/// Rounds a BIGINT half away from zero to `d` decimals: unchanged for
/// `d >= 0`, to a multiple of `10^-d` otherwise; NULL on overflow.
pub(crate) fn round_i64(x: i64, d: i64) -> Option<i64> {
    if d >= 0 {
        return Some(x);
    }
    if d < -38 {
        return Some(0);
    }
    let m = 10i128.pow((-d) as u32);
    let x = x as i128;
    let (q, r) = (x / m, x % m);
    let q = if 2 * r.abs() >= m { q + x.signum() } else { q };
    i64::try_from(q * m).ok()
}

fn round(args: &[ColumnarValue], n: usize) -> EvalResult {
    if args.len() < 2 {
        return by_type(args, n, Some, |x| round_f64(x, 0));
    }
    let d = ints(args, 1)?;
    if let Prim::Scalar(d) = d {
        let Some(d) = d else {
            return by_type(args, n, |_| None, |_| None);
        };
        return by_type(args, n, |x| round_i64(x, d), |x| round_f64(x, d));
    }
    Ok(if is_float(args)? {
        let x = floats(args, 0)?;
        float_array((0..n).map(|i| round_f64(x.get(i)?, d.get(i)?)))
    } else {
        let x = ints(args, 0)?;
        int_array((0..n).map(|i| round_i64(x.get(i)?, d.get(i)?)))
    })
}

fn floor_ceil_type(a: &[ArgInfo<'_>], name: &str) -> Result<DataType, String> {
    arity(a, 1, Some(2))?;
    if a.len() == 2 {
        datetime::trunc_unit(a, 1)?;
        return Ok(match datetime::want_time(a, 0)? {
            DataType::Date => DataType::Date,
            _ => DataType::Timestamp,
        });
    }
    if a[0].data_type.is_temporal() {
        return Err(format!(
            "{name} of a {} needs a unit, as in {name}(t TO DAY)",
            a[0].data_type
        ));
    }
    number_type(a)
}

fn floor_ceil(args: &[ColumnarValue], n: usize, ceil: bool) -> EvalResult {
    if args.len() == 2 {
        return datetime::floor_ceil_time(args, n, ceil);
    }
    if ceil {
        by_type(args, n, Some, |x| Some(x.ceil()))
    } else {
        by_type(args, n, Some, |x| Some(x.floor()))
    }
}

/// The common type of GREATEST/LEAST arguments given their types: numbers
/// widen to DOUBLE, DATE widens to TIMESTAMP, other types must all agree.
/// `Err(i)` names the first argument that does not fit.
fn common_type(types: &[DataType]) -> Result<DataType, usize> {
    let mut out = DataType::Null;
    for (i, &t) in types.iter().enumerate() {
        out = match (out, t) {
            (o, DataType::Null) => o,
            (DataType::Null, t) => t,
            (o, t) if o == t => o,
            (DataType::Int64 | DataType::Float64, DataType::Int64 | DataType::Float64) => {
                DataType::Float64
            }
            (DataType::Timestamp | DataType::Date, DataType::Timestamp | DataType::Date) => {
                DataType::Timestamp
            }
            _ => return Err(i),
        };
    }
    Ok(out)
}

fn extreme_type(a: &[ArgInfo<'_>]) -> Result<DataType, String> {
    arity(a, 1, None)?;
    let types: Vec<DataType> = a.iter().map(|x| x.data_type).collect();
    match common_type(&types) {
        Ok(DataType::Null) => Ok(DataType::Int64),
        Ok(t) => Ok(t),
        Err(i) => {
            let family = match common_type(&types[..i]).unwrap_or(DataType::Null) {
                DataType::Int64 | DataType::Float64 => vec![DataType::Int64, DataType::Float64],
                DataType::Timestamp | DataType::Date => vec![DataType::Timestamp, DataType::Date],
                t => vec![t],
            };
            Err(want(a, i, &family)
                .err()
                .unwrap_or_else(|| format!("argument {} has an incompatible type", i + 1)))
        }
    }
}

/// GREATEST/LEAST with Arrow's comparison and zip kernels, folding left to
/// right, then NULL wherever any argument is NULL.
fn extreme(args: &[ColumnarValue], n: usize, greatest: bool) -> EvalResult {
    let types: Vec<DataType> = args
        .iter()
        .map(|a| {
            DataType::from_arrow(&arrow_type(a))
                .ok_or_else(|| format!("unsupported type {}", arrow_type(a)))
        })
        .collect::<Result<_, _>>()?;
    let t = match common_type(&types) {
        Ok(DataType::Null) => DataType::Int64,
        Ok(t) => t,
        Err(i) => {
            return Err(format!(
                "argument {} has an incompatible type {}",
                i + 1,
                types[i]
            ));
        }
    };
    if args
        .iter()
        .any(|a| matches!(a, ColumnarValue::Scalar(v) if v.is_null()))
    {
        return broadcast(&ColumnarValue::Scalar(quiver_types::Value::Null), t, n);
    }
    let arrays = args
        .iter()
        .map(|a| broadcast(a, t, n))
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    let mut acc = Arc::clone(&arrays[0]);
    for b in &arrays[1..] {
        let better: BooleanArray =
            if greatest { gt(b, &acc) } else { lt(b, &acc) }.map_err(|e| e.to_string())?;
        acc = zip(&better, b, &acc).map_err(|e| e.to_string())?;
    }
    let nulls = NullBuffer::union_many(
        arrays
            .iter()
            .map(|a| a.logical_nulls())
            .collect::<Vec<_>>()
            .iter()
            .map(Option::as_ref),
    );
    let data = acc
        .to_data()
        .into_builder()
        .nulls(nulls)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(make_array(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::testing::*;
    use quiver_types::Value;

    fn iv(vs: &[Option<i64>]) -> Vec<Value> {
        vs.iter()
            .map(|v| v.map_or(Value::Null, Value::Int64))
            .collect()
    }

    fn fv(vs: &[Option<f64>]) -> Vec<Value> {
        vs.iter()
            .map(|v| v.map_or(Value::Null, Value::Float64))
            .collect()
    }

    /// `a` and `x` of the golden `numbers` dataset.
    const A: [Option<i64>; 17] = [
        Some(7),
        Some(-7),
        Some(7),
        Some(-7),
        Some(7),
        Some(0),
        None,
        Some(5),
        Some(1_000_000_007),
        Some(-1),
        Some(9),
        Some(-9),
        Some(3),
        Some(2),
        Some(-3),
        Some(100),
        None,
    ];
    const B: [Option<i64>; 17] = [
        Some(2),
        Some(2),
        Some(-2),
        Some(-2),
        Some(0),
        Some(5),
        Some(3),
        None,
        Some(13),
        Some(1),
        Some(3),
        Some(4),
        Some(3),
        Some(-5),
        Some(7),
        Some(-1),
        None,
    ];
    const X: [Option<f64>; 17] = [
        Some(2.5),
        Some(-2.5),
        Some(0.1),
        Some(7.9),
        Some(3.0),
        Some(0.0),
        None,
        Some(9.0),
        Some(1e10),
        Some(-3.7),
        Some(1.25),
        Some(-0.5),
        Some(3.0),
        Some(2.5),
        Some(-1.5),
        Some(100.0),
        None,
    ];

    #[test]
    fn float_functions_golden() {
        let x = float_col(&X);
        let col = |name: &str| call(name, std::slice::from_ref(&x));
        assert_eq!(col("ABS")[1], Value::Float64(2.5));
        assert_eq!(
            col("ROUND"),
            fv(&[
                Some(3.0),
                Some(-3.0),
                Some(0.0),
                Some(8.0),
                Some(3.0),
                Some(0.0),
                None,
                Some(9.0),
                Some(1e10),
                Some(-4.0),
                Some(1.0),
                Some(-1.0),
                Some(3.0),
                Some(3.0),
                Some(-2.0),
                Some(100.0),
                None
            ])
        );
        let r1 = call("ROUND", &[x.clone(), lit(Value::Int64(1))]);
        assert_eq!(
            (&r1[2], &r1[10], &r1[11]),
            (
                &Value::Float64(0.1),
                &Value::Float64(1.3),
                &Value::Float64(-0.5)
            )
        );
        assert_eq!(col("FLOOR")[9], Value::Float64(-4.0));
        assert_eq!(col("CEIL")[9], Value::Float64(-3.0));
        assert_eq!(col("CEILING")[11], Value::Float64(-0.0));
        assert_eq!(col("SIGN")[..3], fv(&[Some(1.0), Some(-1.0), Some(1.0)]));
        assert_eq!(col("SIGN")[5], Value::Float64(0.0));
        let sq = call("POWER", &[x.clone(), lit(Value::Int64(2))]);
        assert_eq!(
            (&sq[2], &sq[8]),
            (&Value::Float64(0.010000000000000002), &Value::Float64(1e20))
        );
        assert_eq!(col("SQRT")[..2], fv(&[Some(1.5811388300841898), None]));
        assert_eq!(col("SQRT")[5], Value::Float64(0.0));
        assert_eq!(col("LN")[2], Value::Float64(-2.3025850929940455));
        assert_eq!(col("LN")[5], Value::Null);
        assert_eq!(col("LOG10")[8], Value::Float64(10.0));
        assert_eq!(col("LOG10")[1], Value::Null);
        assert_eq!(
            call(
                "EXP",
                &[float_col(&[Some(0.5), Some(-0.001), Some(1000.0), None])]
            ),
            fv(&[
                Some(1.6487212707001282),
                Some(0.999000499833375),
                None,
                None
            ])
        );
    }

    #[test]
    fn int_functions_keep_bigint() {
        let a = int_col(&A);
        let col = |name: &str| call(name, std::slice::from_ref(&a));
        assert_eq!(col("ABS")[1], Value::Int64(7));
        for name in ["ROUND", "FLOOR", "CEIL"] {
            assert_eq!(col(name), iv(&A), "{name}");
        }
        assert_eq!(
            col("SIGN")[..7],
            iv(&[Some(1), Some(-1), Some(1), Some(-1), Some(1), Some(0), None])
        );
        let sq = call("POWER", &[a.clone(), lit(Value::Int64(2))]);
        assert_eq!(
            (&sq[1], &sq[8]),
            (&Value::Float64(49.0), &Value::Float64(1.000000014e18))
        );
        assert_eq!(col("SQRT")[..2], fv(&[Some(2.6457513110645907), None]));
        assert_eq!(call("ABS", &[lit(Value::Int64(i64::MIN))]), iv(&[None]));
        assert_eq!(
            call("ABS", &[lit(Value::Int64(-i64::MAX))]),
            iv(&[Some(i64::MAX)])
        );
    }

    #[test]
    fn round_with_digits() {
        // DuckDB: round(15, -1) = 20, round(-15, -1) = -20, round(14, -1) = 10.
        assert_eq!(round_i64(15, -1), Some(20));
        assert_eq!(round_i64(-15, -1), Some(-20));
        assert_eq!(round_i64(14, -1), Some(10));
        assert_eq!(round_i64(25, -1), Some(30));
        assert_eq!(round_i64(15, 1), Some(15));
        assert_eq!(round_i64(i64::MAX, -1), None);
        assert_eq!(round_i64(i64::MAX, -19), None);
        assert_eq!(round_i64(4_000_000_000_000_000_000, -19), Some(0));
        assert_eq!(round_i64(i64::MIN, -60), Some(0));
        assert_eq!(round_f64(2.675, 2), Some(2.68));
        assert_eq!(round_f64(1234.5, -2), Some(1200.0));
        assert_eq!(round_f64(1e300, 10), Some(1e300));
        assert_eq!(round_f64(1e300, -400), Some(0.0));
        assert_eq!(round_f64(f64::NAN, 0), None);
        let per_row = call(
            "ROUND",
            &[
                int_col(&[Some(1234), Some(1250), None, Some(5)]),
                int_col(&[Some(-2), Some(-2), Some(1), None]),
            ],
        );
        assert_eq!(per_row, iv(&[Some(1200), Some(1300), None, None]));
        let floats = call(
            "ROUND",
            &[lit(Value::Float64(-2.25)), int_col(&[Some(1), Some(0)])],
        );
        assert_eq!(floats, fv(&[Some(-2.3), Some(-2.0)]));
        assert_eq!(
            call_n(
                "ROUND",
                &[float_col(&[Some(1.5), Some(2.5)]), lit(Value::Null)],
                2
            ),
            fv(&[None, None])
        );
    }

    #[test]
    fn domain_errors_are_null() {
        assert_eq!(call("SQRT", &[lit(Value::Float64(-1.0))]), fv(&[None]));
        assert_eq!(call("LN", &[lit(Value::Int64(0))]), fv(&[None]));
        assert_eq!(call("LOG10", &[lit(Value::Float64(-5.0))]), fv(&[None]));
        assert_eq!(
            call("POW", &[lit(Value::Float64(0.0)), lit(Value::Int64(-1))]),
            fv(&[None])
        );
        assert_eq!(
            call(
                "POWER",
                &[lit(Value::Float64(-8.0)), lit(Value::Float64(1.0 / 3.0))]
            ),
            fv(&[None])
        );
        assert_eq!(
            call("POWER", &[lit(Value::Int64(2)), lit(Value::Int64(10))]),
            fv(&[Some(1024.0)])
        );
        assert_eq!(
            call("SIGN", &[float_col(&[Some(f64::NAN), Some(-0.0)])]),
            fv(&[None, Some(0.0)])
        );
        assert_eq!(
            call("ABS", &[float_col(&[Some(f64::NEG_INFINITY)])]),
            fv(&[Some(f64::INFINITY)])
        );
    }

    #[test]
    fn greatest_least_golden() {
        let (a, b) = (int_col(&A), int_col(&B));
        let g = call("GREATEST", &[a.clone(), b.clone()]);
        assert_eq!(
            g[..9],
            iv(&[
                Some(7),
                Some(2),
                Some(7),
                Some(-2),
                Some(7),
                Some(5),
                None,
                None,
                Some(1_000_000_007)
            ])
        );
        let l = call("LEAST", &[a, b, lit(Value::Int64(0))]);
        assert_eq!(
            l[..9],
            iv(&[
                Some(0),
                Some(-7),
                Some(-2),
                Some(-7),
                Some(0),
                Some(0),
                None,
                None,
                Some(0)
            ])
        );
        assert_eq!(l[13], Value::Int64(-5));
        let y = float_col(&[Some(0.5), Some(2.0), Some(-7.9), None]);
        let g = call(
            "GREATEST",
            &[float_col(&X[..4]), y, lit(Value::Float64(0.0))],
        );
        assert_eq!(g, fv(&[Some(2.5), Some(2.0), Some(0.1), None]));
        // Mixed BIGINT and DOUBLE widen to DOUBLE.
        assert_eq!(
            call(
                "GREATEST",
                &[lit(Value::Int64(1)), lit(Value::Float64(2.5))]
            ),
            fv(&[Some(2.5)])
        );
        assert_eq!(
            call(
                "LEAST",
                &[lit(Value::Int64(1)), float_col(&[Some(2.5), Some(-1.0)])]
            ),
            fv(&[Some(1.0), Some(-1.0)])
        );
        // Strings byte-wise, timestamps with dates, NULL literal.
        assert_eq!(
            call("GREATEST", &[strings(&[Some("a"), Some("é")]), lit(s("b"))]),
            vec![s("b"), s("é")]
        );
        assert_eq!(
            call(
                "LEAST",
                &[lit(Value::Timestamp(86_400_001)), lit(Value::Date(1))]
            ),
            vec![Value::Timestamp(86_400_000)]
        );
        assert_eq!(
            call("GREATEST", &[lit(Value::Date(3)), lit(Value::Date(1))]),
            vec![Value::Date(3)]
        );
        assert_eq!(
            call_n(
                "GREATEST",
                &[int_col(&[Some(1), Some(2)]), lit(Value::Null)],
                2
            ),
            iv(&[None, None])
        );
        assert_eq!(
            call_n("LEAST", &[lit(Value::Null), lit(Value::Null)], 1),
            iv(&[None])
        );
        assert_eq!(call("GREATEST", &[lit(Value::Int64(4))]), iv(&[Some(4)]));
        assert_eq!(
            call(
                "GREATEST",
                &[lit(Value::Bool(false)), lit(Value::Bool(true))]
            ),
            vec![Value::Bool(true)]
        );
        assert_eq!(
            call(
                "LEAST",
                &[lit(Value::Bytes(vec![2])), lit(Value::Bytes(vec![1, 9]))]
            ),
            vec![Value::Bytes(vec![1, 9])]
        );
    }

    #[test]
    fn type_errors() {
        assert_eq!(
            type_error("ABS", &[ty(DataType::String)]),
            "argument 1 must be BIGINT or DOUBLE, found VARCHAR"
        );
        assert_eq!(
            type_error("ROUND", &[ty(DataType::Float64), ty(DataType::Float64)]),
            "argument 2 must be BIGINT, found DOUBLE"
        );
        assert_eq!(
            type_error("POWER", &[ty(DataType::Float64)]),
            "takes 2 arguments, found 1"
        );
        assert_eq!(
            type_error("FLOOR", &[ty(DataType::Timestamp)]),
            "FLOOR of a TIMESTAMP needs a unit, as in FLOOR(t TO DAY)"
        );
        assert_eq!(
            type_error(
                "GREATEST",
                &[
                    ty(DataType::Int64),
                    ty(DataType::Null),
                    ty(DataType::String)
                ]
            ),
            "argument 3 must be BIGINT or DOUBLE, found VARCHAR"
        );
        assert_eq!(
            type_error("LEAST", &[ty(DataType::String), ty(DataType::Date)]),
            "argument 2 must be VARCHAR, found DATE"
        );
    }

    #[test]
    fn untyped_nulls() {
        assert_eq!(call_n("ABS", &[lit(Value::Null)], 2), iv(&[None, None]));
        assert_eq!(call_n("FLOOR", &[lit(Value::Null)], 1), iv(&[None]));
        assert_eq!(call_n("SQRT", &[lit(Value::Null)], 1), fv(&[None]));
        assert_eq!(
            call_n("POWER", &[lit(Value::Int64(2)), lit(Value::Null)], 1),
            fv(&[None])
        );
    }
}
