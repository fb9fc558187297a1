//! Implicit type conversions: BIGINT widens to DOUBLE, DATE to TIMESTAMP,
//! an untyped NULL takes its context's type, and a string literal compared
//! with a TIMESTAMP or DATE is parsed at plan time.

use quiver_types::{DataType, Value, time};

use crate::expr::ScalarExpr;

/// The type both operands convert to, if any.
pub fn common_type(a: DataType, b: DataType) -> Option<DataType> {
    use DataType::*;
    Some(match (a, b) {
        _ if a == b => a,
        (Null, t) | (t, Null) => t,
        (Int64, Float64) | (Float64, Int64) => Float64,
        (Date, Timestamp) | (Timestamp, Date) => Timestamp,
        _ => return None,
    })
}

/// `e` converted to `to` (a no-op when it already has that type). Literals
/// are converted at plan time.
pub fn cast(e: ScalarExpr, to: DataType) -> ScalarExpr {
    if e.data_type() == to || to == DataType::Null {
        return e;
    }
    if let ScalarExpr::Literal(v, _) = &e
        && let Some(c) = convert_literal(v, to)
    {
        return ScalarExpr::Literal(c, to);
    }
    ScalarExpr::Cast {
        expr: Box::new(e),
        to,
    }
}

/// Converts a constant, when the conversion is exact.
pub fn convert_literal(v: &Value, to: DataType) -> Option<Value> {
    Some(match (v, to) {
        (Value::Null, _) => Value::Null,
        (Value::Int64(i), DataType::Float64) => Value::Float64(*i as f64),
        (Value::Date(d), DataType::Timestamp) => Value::Timestamp(*d as i64 * time::DAY),
        (Value::String(s), DataType::Timestamp) => Value::Timestamp(time::parse_timestamp(s).ok()?),
        (Value::String(s), DataType::Date) => Value::Date(time::parse_date(s)?),
        _ => return None,
    })
}

/// Brings two operands of a comparison to one type: numbers widen, dates
/// widen to timestamps, and a string literal next to a TIMESTAMP or DATE is
/// parsed. `None` if they cannot be compared.
pub fn unify(
    l: ScalarExpr,
    r: ScalarExpr,
) -> Result<(ScalarExpr, ScalarExpr), (DataType, DataType)> {
    let (lt, rt) = (l.data_type(), r.data_type());
    // '2024-01-01' compared with a timestamp column
    for (lit, other) in [(&l, rt), (&r, lt)] {
        if let ScalarExpr::Literal(Value::String(_), _) = lit
            && other.is_temporal()
            && let ScalarExpr::Literal(v, _) = lit
            && convert_literal(v, other).is_none()
        {
            return Err((lt, rt));
        }
    }
    let target = match (lt, rt) {
        (DataType::String, t) | (t, DataType::String)
            if t.is_temporal()
                && (matches!(l, ScalarExpr::Literal(..))
                    || matches!(r, ScalarExpr::Literal(..))) =>
        {
            t
        }
        _ => common_type(lt, rt).ok_or((lt, rt))?,
    };
    Ok((cast(l, target), cast(r, target)))
}
