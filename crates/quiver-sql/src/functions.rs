//! The interface between the planner and scalar functions.
//!
//! The planner looks functions up by name in a [`FunctionRegistry`], asks
//! each for its result type given the argument types (and the values of
//! literal arguments, for functions such as `EXTRACT` whose first argument
//! is a unit), and stores the function in the plan. At run time the
//! dataflow calls [`ScalarFunction::invoke`] once per batch with Arrow
//! arrays. The built-in library lives in the `quiver-udfs` crate.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::ArrayRef;
use quiver_types::{DataType, Value};

/// What the planner knows about one argument of a call.
#[derive(Debug, Clone, Copy)]
pub struct ArgInfo<'a> {
    /// The argument's type.
    pub data_type: DataType,
    /// Its value, when it is a constant.
    pub literal: Option<&'a Value>,
}

/// An argument at run time.
#[derive(Debug, Clone)]
pub enum ColumnarValue {
    /// One value per row.
    Array(ArrayRef),
    /// The same value for every row (a literal).
    Scalar(Value),
}

/// A function failed on a batch for a reason other than bad values
/// (bad values give NULL, per each function's documented contract).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{function}: {message}")]
pub struct FunctionError {
    /// The function's name.
    pub function: String,
    /// What went wrong.
    pub message: String,
}

/// A scalar function: one value out per row in.
pub trait ScalarFunction: Send + Sync + fmt::Debug {
    /// The SQL name, upper case (`UPPER`, `DATE_FORMAT`).
    fn name(&self) -> &str;

    /// One line for the generated function reference.
    fn doc(&self) -> &str {
        ""
    }

    /// Checks the arguments and returns the result type. The error text
    /// should name the argument and the types accepted, e.g.
    /// `"argument 1 must be VARCHAR, found BIGINT"`.
    fn return_type(&self, args: &[ArgInfo<'_>]) -> Result<DataType, String>;

    /// Evaluates the function over a batch of `num_rows` rows. The result
    /// must have `num_rows` entries of the type [`return_type`] gave.
    ///
    /// [`return_type`]: ScalarFunction::return_type
    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<ArrayRef, FunctionError>;
}

/// Where the planner finds functions.
pub trait FunctionRegistry: Send + Sync {
    /// The function called `name` (case-insensitive).
    fn scalar(&self, name: &str) -> Option<Arc<dyn ScalarFunction>>;
    /// Names of all functions, for suggestions.
    fn names(&self) -> Vec<String>;
}

/// A registry backed by a map; functions register under their upper-case name.
#[derive(Default, Clone)]
pub struct Registry {
    scalars: BTreeMap<String, Arc<dyn ScalarFunction>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds (or replaces) a function under its name.
    pub fn register(&mut self, f: Arc<dyn ScalarFunction>) {
        self.scalars.insert(f.name().to_ascii_uppercase(), f);
    }

    /// Adds a function under an extra name (e.g. `CEILING` for `CEIL`).
    pub fn alias(&mut self, alias: &str, name: &str) {
        if let Some(f) = self.scalars.get(&name.to_ascii_uppercase()).cloned() {
            self.scalars.insert(alias.to_ascii_uppercase(), f);
        }
    }

    /// All functions, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<dyn ScalarFunction>)> {
        self.scalars.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl FunctionRegistry for Registry {
    fn scalar(&self, name: &str) -> Option<Arc<dyn ScalarFunction>> {
        self.scalars.get(&name.to_ascii_uppercase()).cloned()
    }

    fn names(&self) -> Vec<String> {
        self.scalars.keys().cloned().collect()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.scalars.keys()).finish()
    }
}
