//! Shared plumbing for the built-in functions.
//!
//! * **Plan time**: [`arity`] and the `want_*` helpers check the argument
//!   list handed to `return_type` and produce the error texts the planner
//!   shows (`argument 2 must be BIGINT, found VARCHAR`); [`unit`] reads a
//!   unit argument (`'DAY'`) that must be a constant.
//! * **Run time**: [`Prim`] and [`Str`] read one argument either as an Arrow
//!   array or as a broadcast scalar without copying it `num_rows` times;
//!   [`broadcast`] materialises an argument as an array of a given type for
//!   the functions that hand whole columns to Arrow kernels.
//! * [`Builtin`] is the one [`ScalarFunction`] implementation every family
//!   uses: a name, a signature and doc line for the reference, and two
//!   closures.

use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BinaryArray, BooleanArray, Date32Array,
    Float64Array, Int64Array, PrimitiveArray, StringArray, TimestampMillisecondArray,
    new_null_array,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Float64Type, Int64Type, TimeUnit, TimestampMillisecondType,
};
use quiver_sql::{ArgInfo, ColumnarValue, FunctionError, ScalarFunction};
use quiver_types::{DataType, Value};

/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// The text of a failed call at run time (the [`Builtin`] wrapper adds the
/// function's name).
pub(crate) type EvalResult = Result<ArrayRef, String>;

type CheckFn = Box<dyn Fn(&[ArgInfo<'_>]) -> Result<DataType, String> + Send + Sync>;
type EvalFn = Box<dyn Fn(&[ColumnarValue], usize) -> EvalResult + Send + Sync>;

/// A built-in scalar function: metadata plus a type check and a kernel.
pub(crate) struct Builtin {
    /// Upper-case SQL name.
    pub name: &'static str,
    /// How a call is written, for the reference (`SUBSTRING(s, start [, len])`).
    pub signature: &'static str,
    /// One line for the reference.
    pub doc: &'static str,
    /// Extra names the function is registered under.
    pub aliases: &'static [&'static str],
    check: CheckFn,
    eval: EvalFn,
}

impl Builtin {
    /// A function from its metadata, type check and kernel.
    pub(crate) fn new(
        name: &'static str,
        signature: &'static str,
        doc: &'static str,
        check: impl Fn(&[ArgInfo<'_>]) -> Result<DataType, String> + Send + Sync + 'static,
        eval: impl Fn(&[ColumnarValue], usize) -> EvalResult + Send + Sync + 'static,
    ) -> Builtin {
        Builtin {
            name,
            signature,
            doc,
            aliases: &[],
            check: Box::new(check),
            eval: Box::new(eval),
        }
    }

    /// The same function, also registered under `aliases`.
    pub(crate) fn aliases(mut self, aliases: &'static [&'static str]) -> Builtin {
        self.aliases = aliases;
        self
    }
}

impl fmt::Debug for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builtin")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ScalarFunction for Builtin {
    fn name(&self) -> &str {
        self.name
    }

    fn doc(&self) -> &str {
        self.doc
    }

    fn return_type(&self, args: &[ArgInfo<'_>]) -> Result<DataType, String> {
        (self.check)(args)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ArrayRef, FunctionError> {
        let out = (self.eval)(args, num_rows).map_err(|message| FunctionError {
            function: self.name.to_string(),
            message,
        })?;
        if out.len() != num_rows {
            return Err(FunctionError {
                function: self.name.to_string(),
                message: format!("produced {} rows for {num_rows}", out.len()),
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------
// Plan-time checks
// ---------------------------------------------------------------------------

/// Checks the number of arguments: at least `min`, at most `max` (`None` = any).
pub(crate) fn arity(args: &[ArgInfo<'_>], min: usize, max: Option<usize>) -> Result<(), String> {
    let n = args.len();
    if n >= min && max.is_none_or(|m| n <= m) {
        return Ok(());
    }
    let plural = |k: usize| if k == 1 { "argument" } else { "arguments" };
    Err(match max {
        Some(m) if m == min => format!("takes {min} {}, found {n}", plural(min)),
        Some(m) if m == min + 1 => format!("takes {min} or {m} arguments, found {n}"),
        Some(m) => format!("takes {min} to {m} arguments, found {n}"),
        None => format!("takes at least {min} {}, found {n}", plural(min)),
    })
}

/// The type of argument `i` if it is one of `accepted` (or an untyped NULL,
/// which every argument accepts).
pub(crate) fn want(
    args: &[ArgInfo<'_>],
    i: usize,
    accepted: &[DataType],
) -> Result<DataType, String> {
    let t = args
        .get(i)
        .map(|a| a.data_type)
        .ok_or_else(|| format!("argument {} is missing", i + 1))?;
    if t == DataType::Null || accepted.contains(&t) {
        return Ok(t);
    }
    let names: Vec<String> = accepted.iter().map(|t| t.sql_name().into_owned()).collect();
    let list = match names.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    Err(format!("argument {} must be {list}, found {t}", i + 1))
}

/// Argument `i` must be VARCHAR.
pub(crate) fn want_string(args: &[ArgInfo<'_>], i: usize) -> Result<(), String> {
    want(args, i, &[DataType::String]).map(drop)
}

/// Argument `i` must be BIGINT.
pub(crate) fn want_int(args: &[ArgInfo<'_>], i: usize) -> Result<(), String> {
    want(args, i, &[DataType::Int64]).map(drop)
}

/// Argument `i` must be a number (BIGINT or DOUBLE); returns its type.
pub(crate) fn want_number(args: &[ArgInfo<'_>], i: usize) -> Result<DataType, String> {
    want(args, i, &[DataType::Int64, DataType::Float64])
}

/// Argument `i` must be TIMESTAMP or DATE; returns its type.
pub(crate) fn want_temporal(args: &[ArgInfo<'_>], i: usize) -> Result<DataType, String> {
    want(args, i, &[DataType::Timestamp, DataType::Date])
}

/// Reads a unit argument: a constant string naming one entry of `units`
/// (case-insensitive).
pub(crate) fn unit<U: Copy>(
    args: &[ArgInfo<'_>],
    i: usize,
    units: &[(&str, U)],
) -> Result<U, String> {
    let a = args
        .get(i)
        .ok_or_else(|| format!("argument {} is missing", i + 1))?;
    match a.literal {
        Some(Value::String(s)) => lookup_unit(s, units),
        Some(_) => Err(format!(
            "argument {} must be a unit like 'DAY', found {}",
            i + 1,
            a.data_type
        )),
        None => Err("the unit must be a constant like 'DAY'".to_string()),
    }
}

/// The unit named `s` in `units`, or an error listing the accepted ones.
pub(crate) fn lookup_unit<U: Copy>(s: &str, units: &[(&str, U)]) -> Result<U, String> {
    let upper = s.trim().to_ascii_uppercase();
    units
        .iter()
        .find(|(n, _)| *n == upper)
        .map(|(_, u)| *u)
        .ok_or_else(|| {
            let names: Vec<&str> = units.iter().map(|(n, _)| *n).collect();
            format!("unknown unit '{s}'; expected one of {}", names.join(", "))
        })
}

/// Reads a unit argument at run time (it arrives as a scalar).
pub(crate) fn unit_value<U: Copy>(
    args: &[ColumnarValue],
    i: usize,
    units: &[(&str, U)],
) -> Result<U, String> {
    match arg(args, i)? {
        ColumnarValue::Scalar(Value::String(s)) => lookup_unit(s, units),
        _ => Err("the unit must be a constant like 'DAY'".to_string()),
    }
}

// ---------------------------------------------------------------------------
// Run-time argument access
// ---------------------------------------------------------------------------

/// Argument `i`, or an error if the planner passed too few.
pub(crate) fn arg(args: &[ColumnarValue], i: usize) -> Result<&ColumnarValue, String> {
    args.get(i)
        .ok_or_else(|| format!("argument {} is missing", i + 1))
}

/// The Arrow type of an argument (`Null` for a NULL scalar).
pub(crate) fn arrow_type(v: &ColumnarValue) -> ArrowType {
    match v {
        ColumnarValue::Array(a) => a.data_type().clone(),
        ColumnarValue::Scalar(s) => s.data_type().to_arrow(),
    }
}

/// A primitive argument: a column, or one value for every row.
pub enum Prim<T: ArrowPrimitiveType> {
    /// One value per row.
    Array(PrimitiveArray<T>),
    /// The same value (or NULL) for every row.
    Scalar(Option<T::Native>),
}

impl<T: ArrowPrimitiveType> Prim<T> {
    /// The value in row `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<T::Native> {
        match self {
            Prim::Array(a) => a.is_valid(i).then(|| a.value(i)),
            Prim::Scalar(v) => *v,
        }
    }
}

/// A string argument: a column, or one value for every row.
pub enum Str {
    /// One value per row.
    Array(StringArray),
    /// The same value (or NULL) for every row.
    Scalar(Option<String>),
}

impl Str {
    /// The value in row `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        match self {
            Str::Array(a) => a.is_valid(i).then(|| a.value(i)),
            Str::Scalar(v) => v.as_deref(),
        }
    }
}

fn mismatch(i: usize, want: &str, found: impl fmt::Display) -> String {
    format!("argument {} must be {want}, found {found}", i + 1)
}

fn cast_to(a: &dyn Array, t: &ArrowType, i: usize, want: &str) -> Result<ArrayRef, String> {
    cast(a, t).map_err(|e| format!("{} ({e})", mismatch(i, want, a.data_type())))
}

/// Argument `i` as BIGINT.
pub(crate) fn ints(args: &[ColumnarValue], i: usize) -> Result<Prim<Int64Type>, String> {
    Ok(match arg(args, i)? {
        ColumnarValue::Scalar(Value::Null) => Prim::Scalar(None),
        ColumnarValue::Scalar(Value::Int64(v)) => Prim::Scalar(Some(*v)),
        ColumnarValue::Scalar(v) => return Err(mismatch(i, "BIGINT", v.data_type())),
        ColumnarValue::Array(a) => match a.data_type() {
            ArrowType::Null => Prim::Scalar(None),
            ArrowType::Int64 => Prim::Array(a.as_primitive::<Int64Type>().clone()),
            t if t.is_integer() => Prim::Array(
                cast_to(a, &ArrowType::Int64, i, "BIGINT")?
                    .as_primitive::<Int64Type>()
                    .clone(),
            ),
            t => return Err(mismatch(i, "BIGINT", t)),
        },
    })
}

/// Argument `i` as DOUBLE (BIGINT values are converted).
pub(crate) fn floats(args: &[ColumnarValue], i: usize) -> Result<Prim<Float64Type>, String> {
    Ok(match arg(args, i)? {
        ColumnarValue::Scalar(Value::Null) => Prim::Scalar(None),
        ColumnarValue::Scalar(Value::Int64(v)) => Prim::Scalar(Some(*v as f64)),
        ColumnarValue::Scalar(Value::Float64(v)) => Prim::Scalar(Some(*v)),
        ColumnarValue::Scalar(v) => return Err(mismatch(i, "DOUBLE", v.data_type())),
        ColumnarValue::Array(a) => match a.data_type() {
            ArrowType::Null => Prim::Scalar(None),
            ArrowType::Float64 => Prim::Array(a.as_primitive::<Float64Type>().clone()),
            ArrowType::Int64 => Prim::Array(a.as_primitive::<Int64Type>().unary(|v| v as f64)),
            t if t.is_numeric() => Prim::Array(
                cast_to(a, &ArrowType::Float64, i, "DOUBLE")?
                    .as_primitive::<Float64Type>()
                    .clone(),
            ),
            t => return Err(mismatch(i, "DOUBLE", t)),
        },
    })
}

/// Argument `i` as milliseconds since the epoch: a TIMESTAMP, or a DATE
/// read as its midnight.
pub(crate) fn millis(args: &[ColumnarValue], i: usize) -> Result<Prim<Int64Type>, String> {
    Ok(match arg(args, i)? {
        ColumnarValue::Scalar(Value::Null) => Prim::Scalar(None),
        ColumnarValue::Scalar(Value::Timestamp(v)) => Prim::Scalar(Some(*v)),
        ColumnarValue::Scalar(Value::Date(d)) => Prim::Scalar(Some(*d as i64 * DAY_MS)),
        ColumnarValue::Scalar(v) => return Err(mismatch(i, "TIMESTAMP", v.data_type())),
        ColumnarValue::Array(a) => match a.data_type() {
            ArrowType::Null => Prim::Scalar(None),
            ArrowType::Timestamp(TimeUnit::Millisecond, _) => Prim::Array(
                a.as_primitive::<TimestampMillisecondType>()
                    .reinterpret_cast::<Int64Type>(),
            ),
            ArrowType::Timestamp(_, tz) => {
                let ms = cast_to(
                    a,
                    &ArrowType::Timestamp(TimeUnit::Millisecond, tz.clone()),
                    i,
                    "TIMESTAMP",
                )?;
                Prim::Array(
                    ms.as_primitive::<TimestampMillisecondType>()
                        .reinterpret_cast::<Int64Type>(),
                )
            }
            ArrowType::Date32 => {
                Prim::Array(a.as_primitive::<Date32Type>().unary(|d| d as i64 * DAY_MS))
            }
            t => return Err(mismatch(i, "TIMESTAMP", t)),
        },
    })
}

/// Argument `i` as VARCHAR.
pub(crate) fn strs(args: &[ColumnarValue], i: usize) -> Result<Str, String> {
    Ok(match arg(args, i)? {
        ColumnarValue::Scalar(Value::Null) => Str::Scalar(None),
        ColumnarValue::Scalar(Value::String(s)) => Str::Scalar(Some(s.clone())),
        ColumnarValue::Scalar(v) => return Err(mismatch(i, "VARCHAR", v.data_type())),
        ColumnarValue::Array(a) => match a.data_type() {
            ArrowType::Null => Str::Scalar(None),
            ArrowType::Utf8 => Str::Array(a.as_string::<i32>().clone()),
            ArrowType::LargeUtf8 | ArrowType::Utf8View => Str::Array(
                cast_to(a, &ArrowType::Utf8, i, "VARCHAR")?
                    .as_string::<i32>()
                    .clone(),
            ),
            t => return Err(mismatch(i, "VARCHAR", t)),
        },
    })
}

/// Materialises argument `v` as an array of `num_rows` rows of type `t`
/// (a scalar is repeated; BIGINT widens to DOUBLE and DATE to TIMESTAMP
/// where `t` asks for it).
pub(crate) fn broadcast(
    v: &ColumnarValue,
    t: DataType,
    num_rows: usize,
) -> Result<ArrayRef, String> {
    let target = t.to_arrow();
    let array: ArrayRef = match v {
        ColumnarValue::Array(a) if *a.data_type() == target => return Ok(Arc::clone(a)),
        ColumnarValue::Array(a) => {
            return cast(a, &target)
                .map_err(|e| format!("cannot read {} as {t}: {e}", a.data_type()));
        }
        ColumnarValue::Scalar(Value::Null) => return Ok(new_null_array(&target, num_rows)),
        ColumnarValue::Scalar(s) => match (s, t) {
            (Value::Int64(x), DataType::Int64) => Arc::new(Int64Array::from_value(*x, num_rows)),
            (Value::Int64(x), DataType::Float64) => {
                Arc::new(Float64Array::from_value(*x as f64, num_rows))
            }
            (Value::Float64(x), DataType::Float64) => {
                Arc::new(Float64Array::from_value(*x, num_rows))
            }
            (Value::String(x), DataType::String) => {
                Arc::new(StringArray::new_repeated(x, num_rows))
            }
            (Value::Bool(x), DataType::Bool) => Arc::new(BooleanArray::from(vec![*x; num_rows])),
            (Value::Timestamp(x), DataType::Timestamp) => {
                Arc::new(TimestampMillisecondArray::from_value(*x, num_rows).with_timezone("UTC"))
            }
            (Value::Date(x), DataType::Timestamp) => Arc::new(
                TimestampMillisecondArray::from_value(*x as i64 * DAY_MS, num_rows)
                    .with_timezone("UTC"),
            ),
            (Value::Date(x), DataType::Date) => Arc::new(Date32Array::from_value(*x, num_rows)),
            (Value::Bytes(x), DataType::Bytes) => Arc::new(BinaryArray::from_iter_values(
                std::iter::repeat_n(x.as_slice(), num_rows),
            )),
            (s, t) => return Err(format!("cannot read {} as {t}", s.data_type())),
        },
    };
    Ok(array)
}

// ---------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------

/// A TIMESTAMP column (milliseconds, UTC) from optional values.
pub(crate) fn timestamp_array(values: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from_iter(values).with_timezone("UTC"))
}

/// A BIGINT column from optional values.
pub(crate) fn int_array(values: impl IntoIterator<Item = Option<i64>>) -> ArrayRef {
    Arc::new(Int64Array::from_iter(values))
}

/// A DOUBLE column from optional values.
pub(crate) fn float_array(values: impl IntoIterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from_iter(values))
}

/// A DATE column from optional values.
pub(crate) fn date_array(values: impl IntoIterator<Item = Option<i32>>) -> ArrayRef {
    Arc::new(Date32Array::from_iter(values))
}

/// A VARCHAR column from optional values.
pub(crate) fn string_array<S: AsRef<str>>(values: impl IntoIterator<Item = Option<S>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(values))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Helpers for the family tests: build arguments, call a function by
    //! name through the public registry, read results back as [`Value`]s.

    use super::*;
    use quiver_sql::FunctionRegistry;

    /// A constant argument.
    pub(crate) fn lit(v: Value) -> ColumnarValue {
        ColumnarValue::Scalar(v)
    }

    /// A string constant.
    pub(crate) fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    /// A column of strings (None = NULL).
    pub(crate) fn strings(values: &[Option<&str>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(StringArray::from(values.to_vec())))
    }

    /// A column of BIGINTs.
    pub(crate) fn int_col(values: &[Option<i64>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Int64Array::from(values.to_vec())))
    }

    /// A column of DOUBLEs.
    pub(crate) fn float_col(values: &[Option<f64>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(Float64Array::from(values.to_vec())))
    }

    /// A column of TIMESTAMPs.
    pub(crate) fn ts_col(values: &[Option<i64>]) -> ColumnarValue {
        ColumnarValue::Array(timestamp_array(values.iter().copied()))
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.fff]` (UTC) into milliseconds.
    pub(crate) fn ts(s: &str) -> i64 {
        quiver_types::time::parse_timestamp(s).expect("test timestamp")
    }

    /// What the planner would see for these arguments (literal = scalar).
    pub(crate) fn infos(args: &[ColumnarValue]) -> Vec<ArgInfo<'_>> {
        args.iter()
            .map(|a| match a {
                ColumnarValue::Scalar(v) => ArgInfo {
                    data_type: v.data_type(),
                    literal: Some(v),
                },
                ColumnarValue::Array(a) => ArgInfo {
                    data_type: DataType::from_arrow(a.data_type()).expect("quiver type"),
                    literal: None,
                },
            })
            .collect()
    }

    /// Type-checks and runs `name` over `num_rows` rows, checking the result
    /// has the declared type and length, and returns it as values.
    pub(crate) fn call_n(name: &str, args: &[ColumnarValue], num_rows: usize) -> Vec<Value> {
        let registry = crate::registry();
        let f = registry
            .scalar(name)
            .unwrap_or_else(|| panic!("{name} is registered"));
        let t = f
            .return_type(&infos(args))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let out = f.invoke(args, num_rows).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.len(), num_rows, "{name}: row count");
        assert_eq!(out.data_type(), &t.to_arrow(), "{name}: result type");
        (0..num_rows)
            .map(|i| Value::from_array(out.as_ref(), i))
            .collect()
    }

    /// [`call_n`] with the row count taken from the first array argument
    /// (1 when every argument is a scalar).
    pub(crate) fn call(name: &str, args: &[ColumnarValue]) -> Vec<Value> {
        let n = args
            .iter()
            .find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                ColumnarValue::Scalar(_) => None,
            })
            .unwrap_or(1);
        call_n(name, args, n)
    }

    /// The return-type error for these argument infos.
    pub(crate) fn type_error(name: &str, args: &[ArgInfo<'_>]) -> String {
        let f = crate::registry()
            .scalar(name)
            .unwrap_or_else(|| panic!("{name} is registered"));
        match f.return_type(args) {
            Ok(t) => panic!("{name} accepted the arguments, returning {t}"),
            Err(e) => e,
        }
    }

    /// An argument info for a non-constant argument of type `t`.
    pub(crate) fn ty(t: DataType) -> ArgInfo<'static> {
        ArgInfo {
            data_type: t,
            literal: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(t: DataType) -> ArgInfo<'static> {
        ArgInfo {
            data_type: t,
            literal: None,
        }
    }

    #[test]
    fn arity_messages() {
        let a = [info(DataType::String); 3];
        assert_eq!(
            arity(&a, 1, Some(1)).unwrap_err(),
            "takes 1 argument, found 3"
        );
        assert_eq!(
            arity(&a, 1, Some(2)).unwrap_err(),
            "takes 1 or 2 arguments, found 3"
        );
        assert_eq!(
            arity(&a[..1], 2, Some(4)).unwrap_err(),
            "takes 2 to 4 arguments, found 1"
        );
        assert_eq!(
            arity(&[], 1, None).unwrap_err(),
            "takes at least 1 argument, found 0"
        );
        assert!(arity(&a, 1, None).is_ok());
    }

    #[test]
    fn type_messages_name_the_argument() {
        let a = [
            info(DataType::String),
            info(DataType::String),
            info(DataType::Null),
        ];
        assert_eq!(
            want_int(&a, 1).unwrap_err(),
            "argument 2 must be BIGINT, found VARCHAR"
        );
        assert_eq!(
            want_number(&a, 0).unwrap_err(),
            "argument 1 must be BIGINT or DOUBLE, found VARCHAR"
        );
        assert_eq!(want_temporal(&a, 2).unwrap(), DataType::Null);
    }

    #[test]
    fn units_must_be_constants() {
        let units = [("DAY", 1), ("HOUR", 2)];
        let day = Value::String("day".into());
        let week = Value::String("WEEK".into());
        let lit = |v| ArgInfo {
            data_type: DataType::String,
            literal: Some(v),
        };
        assert_eq!(unit(&[lit(&day)], 0, &units).unwrap(), 1);
        assert_eq!(
            unit(&[lit(&week)], 0, &units).unwrap_err(),
            "unknown unit 'WEEK'; expected one of DAY, HOUR"
        );
        assert_eq!(
            unit(&[info(DataType::String)], 0, &units).unwrap_err(),
            "the unit must be a constant like 'DAY'"
        );
    }

    #[test]
    fn broadcast_repeats_and_widens() {
        let a = broadcast(
            &ColumnarValue::Scalar(Value::Int64(2)),
            DataType::Float64,
            3,
        )
        .unwrap();
        assert_eq!(
            a.as_primitive::<Float64Type>().values().to_vec(),
            vec![2.0; 3]
        );
        let n = broadcast(&ColumnarValue::Scalar(Value::Null), DataType::String, 2).unwrap();
        assert_eq!(
            (n.len(), n.null_count(), n.data_type()),
            (2, 2, &ArrowType::Utf8)
        );
        let d = broadcast(
            &ColumnarValue::Scalar(Value::Date(1)),
            DataType::Timestamp,
            1,
        )
        .unwrap();
        assert_eq!(Value::from_array(d.as_ref(), 0), Value::Timestamp(DAY_MS));
    }

    #[test]
    fn readers_accept_nulls_and_convert() {
        let args = [
            ColumnarValue::Scalar(Value::Null),
            ColumnarValue::Array(Arc::new(Int64Array::from(vec![Some(1), None]))),
            ColumnarValue::Array(new_null_array(&ArrowType::Null, 2)),
            ColumnarValue::Array(Arc::new(Date32Array::from(vec![1]))),
        ];
        assert!(ints(&args, 0).unwrap().get(5).is_none());
        let f = floats(&args, 1).unwrap();
        assert_eq!((f.get(0), f.get(1)), (Some(1.0), None));
        assert!(strs(&args, 2).unwrap().get(1).is_none());
        assert_eq!(millis(&args, 3).unwrap().get(0), Some(DAY_MS));
        assert_eq!(
            strs(&args, 1).err().unwrap(),
            "argument 2 must be VARCHAR, found Int64"
        );
        assert!(ints(&args, 7).is_err());
    }
}
