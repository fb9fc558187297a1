//! Writing your own scalar function in Rust.
//!
//! Write an ordinary row-at-a-time function inside [`scalar_udf!`]: its
//! arguments are typed ([`f64`], [`i64`], [`bool`], `&str`) and it returns
//! one of those (a `String` instead of `&str`) or an `Option` of one
//! (`None` = NULL). The macro keeps the function as it is, for plain Rust
//! tests, and adds a module of the same name whose `udf()` builds the SQL
//! function, a [`UserFunction`]. That function gets, for free:
//!
//! * plan-time checks of the argument count and types, with errors naming
//!   the argument (`argument 2 must be BIGINT or DOUBLE, found VARCHAR`);
//!   an `f64` argument also takes a BIGINT;
//! * NULL handling: a NULL in any argument gives NULL without calling the
//!   function;
//! * vectorisation over Arrow batches: constants are read once, columns row
//!   by row, and the result is built as one Arrow array;
//! * safety: a non-finite `f64` result is NULL, and a panic fails the batch
//!   with a [`FunctionError`] naming the function instead of taking the
//!   process down.
//!
//! Then add `your_module::your_function::udf()` to [`functions`] below; the
//! function is in [`crate::registry()`] and in `udfs/FUNCTIONS.md` (after
//! `QUIVER_BLESS=1 cargo test -p quiver-udfs functions_md`). `example.rs`
//! holds two worked examples, and `udfs/README.md` walks through the steps.
//!
//! [`FunctionError`]: quiver_sql::FunctionError

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType as ArrowType, Float64Type, Int64Type};
use quiver_sql::{ArgInfo, FunctionError, ScalarFunction};
use quiver_types::DataType;

use crate::args::{Prim, Str, arg, arity, floats, ints, strs, want};

#[doc(no_inline)]
pub use arrow::array::ArrayRef;
#[doc(no_inline)]
pub use quiver_sql::ColumnarValue;

mod example;

/// Every user-written function. Add yours here.
pub(crate) fn functions() -> Vec<UserFunction> {
    vec![example::mask_email::udf(), example::clamp::udf()]
}

/// A row kernel: reads the arguments and builds the result column.
type Kernel = Box<dyn Fn(&[ColumnarValue], usize) -> Result<ArrayRef, String> + Send + Sync>;

/// A scalar function made by [`scalar_udf!`] from a row-at-a-time Rust
/// function.
pub struct UserFunction {
    name: String,
    signature: String,
    doc: String,
    args: Vec<&'static [DataType]>,
    result: DataType,
    kernel: Kernel,
}

impl UserFunction {
    /// A function called `name` (upper-cased) with arguments `arg_names`
    /// accepting `arg_types`, returning `result`; `doc` is its doc comment
    /// (the first paragraph becomes the reference line). Used by
    /// [`scalar_udf!`].
    pub fn new(
        name: &str,
        arg_names: &[&str],
        arg_types: &[&'static [DataType]],
        result: DataType,
        doc: &str,
        kernel: impl Fn(&[ColumnarValue], usize) -> Result<ArrayRef, String> + Send + Sync + 'static,
    ) -> UserFunction {
        let doc = doc
            .split("\n\n")
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        UserFunction {
            name: name.to_ascii_uppercase(),
            signature: format!("{}({})", name.to_ascii_uppercase(), arg_names.join(", ")),
            doc,
            args: arg_types.to_vec(),
            result,
            kernel: Box::new(kernel),
        }
    }

    /// How a call is written, for the reference (`CLAMP(x, lo, hi)`).
    pub fn signature(&self) -> &str {
        &self.signature
    }
}

impl fmt::Debug for UserFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserFunction")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ScalarFunction for UserFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn doc(&self) -> &str {
        &self.doc
    }

    fn return_type(&self, args: &[ArgInfo<'_>]) -> Result<DataType, String> {
        arity(args, self.args.len(), Some(self.args.len()))?;
        for (i, accepted) in self.args.iter().enumerate() {
            want(args, i, accepted)?;
        }
        Ok(self.result)
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ArrayRef, FunctionError> {
        let error = |message: String| FunctionError {
            function: self.name.clone(),
            message,
        };
        let out = catch_unwind(AssertUnwindSafe(|| (self.kernel)(args, num_rows)))
            .map_err(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                error(format!("panicked: {what}"))
            })?
            .map_err(error)?;
        if out.len() != num_rows {
            return Err(error(format!("produced {} rows for {num_rows}", out.len())));
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------
// Argument and result types
// ---------------------------------------------------------------------------

/// A Rust type a user function can take as an argument.
pub trait SqlArg<'a>: Sized {
    /// The SQL types accepted at plan time.
    const TYPES: &'static [DataType];
    /// The argument read once per batch.
    type Column: 'a;
    /// Reads argument `i` of a batch.
    fn column(args: &[ColumnarValue], i: usize) -> Result<Self::Column, String>;
    /// The value in row `row`, or `None` for NULL.
    fn get(column: &'a Self::Column, row: usize) -> Option<Self>;
}

impl<'a> SqlArg<'a> for f64 {
    const TYPES: &'static [DataType] = &[DataType::Int64, DataType::Float64];
    type Column = Prim<Float64Type>;
    fn column(args: &[ColumnarValue], i: usize) -> Result<Self::Column, String> {
        floats(args, i)
    }
    fn get(column: &'a Self::Column, row: usize) -> Option<Self> {
        column.get(row)
    }
}

impl<'a> SqlArg<'a> for i64 {
    const TYPES: &'static [DataType] = &[DataType::Int64];
    type Column = Prim<Int64Type>;
    fn column(args: &[ColumnarValue], i: usize) -> Result<Self::Column, String> {
        ints(args, i)
    }
    fn get(column: &'a Self::Column, row: usize) -> Option<Self> {
        column.get(row)
    }
}

impl<'a> SqlArg<'a> for &'a str {
    const TYPES: &'static [DataType] = &[DataType::String];
    type Column = Str;
    fn column(args: &[ColumnarValue], i: usize) -> Result<Self::Column, String> {
        strs(args, i)
    }
    fn get(column: &'a Self::Column, row: usize) -> Option<Self> {
        column.get(row)
    }
}

/// A BOOLEAN argument: a column, or one value for every row.
pub enum Bools {
    /// One value per row.
    Array(BooleanArray),
    /// The same value (or NULL) for every row.
    Scalar(Option<bool>),
}

impl<'a> SqlArg<'a> for bool {
    const TYPES: &'static [DataType] = &[DataType::Bool];
    type Column = Bools;
    fn column(args: &[ColumnarValue], i: usize) -> Result<Self::Column, String> {
        use quiver_types::Value;
        Ok(match arg(args, i)? {
            ColumnarValue::Scalar(Value::Bool(b)) => Bools::Scalar(Some(*b)),
            ColumnarValue::Scalar(Value::Null) => Bools::Scalar(None),
            ColumnarValue::Array(a) if *a.data_type() == ArrowType::Boolean => {
                Bools::Array(a.as_boolean().clone())
            }
            ColumnarValue::Array(a) if *a.data_type() == ArrowType::Null => Bools::Scalar(None),
            other => {
                let found = match other {
                    ColumnarValue::Scalar(v) => v.data_type().to_string(),
                    ColumnarValue::Array(a) => a.data_type().to_string(),
                };
                return Err(format!("argument {} must be BOOLEAN, found {found}", i + 1));
            }
        })
    }
    fn get(column: &'a Self::Column, row: usize) -> Option<Self> {
        match column {
            Bools::Array(a) => a.is_valid(row).then(|| a.value(row)),
            Bools::Scalar(v) => *v,
        }
    }
}

/// A Rust type a user function can return a column of.
pub trait SqlValue: Sized {
    /// The SQL type of the result.
    const TYPE: DataType;
    /// The result column.
    fn to_array(values: Vec<Option<Self>>) -> ArrayRef;
}

impl SqlValue for f64 {
    const TYPE: DataType = DataType::Float64;
    fn to_array(values: Vec<Option<Self>>) -> ArrayRef {
        Arc::new(Float64Array::from_iter(
            values.into_iter().map(|v| v.filter(|x| x.is_finite())),
        ))
    }
}

impl SqlValue for i64 {
    const TYPE: DataType = DataType::Int64;
    fn to_array(values: Vec<Option<Self>>) -> ArrayRef {
        Arc::new(Int64Array::from(values))
    }
}

impl SqlValue for bool {
    const TYPE: DataType = DataType::Bool;
    fn to_array(values: Vec<Option<Self>>) -> ArrayRef {
        Arc::new(BooleanArray::from(values))
    }
}

impl SqlValue for String {
    const TYPE: DataType = DataType::String;
    fn to_array(values: Vec<Option<Self>>) -> ArrayRef {
        Arc::new(StringArray::from_iter(values))
    }
}

/// What a user function may return: a [`SqlValue`], or an `Option` of one
/// (`None` = NULL).
pub trait SqlReturn {
    /// The value type.
    type Value: SqlValue;
    /// The value, or `None` for NULL.
    fn into_sql(self) -> Option<Self::Value>;
}

macro_rules! returns {
    ($($t:ty),*) => {$(
        impl SqlReturn for $t {
            type Value = $t;
            fn into_sql(self) -> Option<$t> {
                Some(self)
            }
        }
        impl SqlReturn for Option<$t> {
            type Value = $t;
            fn into_sql(self) -> Option<$t> {
                self
            }
        }
    )*};
}
returns!(f64, i64, bool, String);

/// Defines a SQL scalar function from a row-at-a-time Rust function.
///
/// ```
/// quiver_udfs::scalar_udf! {
///     /// `x` times `k`.
///     pub fn scale(x: f64, k: i64) -> f64 {
///         x * k as f64
///     }
/// }
///
/// fn main() {
///     // The Rust function is unchanged...
///     assert_eq!(scale(1.5, 2), 3.0);
///     // ...and `scale::udf()` is the SQL function SCALE(x, k).
///     use quiver_sql::ScalarFunction;
///     assert_eq!(scale::udf().name(), "SCALE");
/// }
/// ```
///
/// Use it at module level (not inside a function body): the generated
/// module reaches the function through `super::`.
///
/// Arguments may be `f64` (BIGINT or DOUBLE), `i64` (BIGINT), `bool`
/// (BOOLEAN) or `&str` (VARCHAR); the result `f64`, `i64`, `bool` or
/// `String`, or an `Option` of one. The SQL name is the Rust name in upper
/// case; the doc comment's first paragraph is the reference line.
#[macro_export]
macro_rules! scalar_udf {
    (
        $(#[doc = $doc:literal])*
        $vis:vis fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $ret:ty $body:block
    ) => {
        $(#[doc = $doc])*
        $vis fn $name($($arg: $ty),*) -> $ret $body

        #[doc = concat!("The SQL function `", stringify!($name), "`, from the Rust function of that name.")]
        $vis mod $name {
            /// The SQL function, ready to register.
            pub fn udf() -> $crate::user::UserFunction {
                $crate::user::UserFunction::new(
                    stringify!($name),
                    &[$(stringify!($arg)),*],
                    &[$(<$ty as $crate::user::SqlArg<'static>>::TYPES),*],
                    <<$ret as $crate::user::SqlReturn>::Value as $crate::user::SqlValue>::TYPE,
                    concat!($($doc, "\n"),*),
                    |args: &[$crate::user::ColumnarValue], n: usize| {
                        let mut _k = 0usize;
                        $(
                            let $arg = <$ty as $crate::user::SqlArg<'_>>::column(args, _k)?;
                            _k += 1;
                        )*
                        let mut out = ::std::vec::Vec::with_capacity(n);
                        for _row in 0..n {
                            $(
                                let ::std::option::Option::Some($arg) =
                                    <$ty as $crate::user::SqlArg<'_>>::get(&$arg, _row)
                                else {
                                    out.push(::std::option::Option::None);
                                    continue;
                                };
                            )*
                            out.push($crate::user::SqlReturn::into_sql(super::$name($($arg),*)));
                        }
                        ::std::result::Result::Ok($crate::user::SqlValue::to_array(out))
                    },
                )
            }
        }
    };
}
