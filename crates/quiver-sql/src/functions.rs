//! The interface between the planner and scalar functions.
//!
//! The planner looks functions up by name in a [`FunctionRegistry`], asks
//! each for its result type given the argument types (and the values of
//! literal arguments, for functions such as `EXTRACT` whose first argument
//! is a unit), and stores the function in the plan. At run time the
//! dataflow calls [`ScalarFunction::invoke`] once per batch with Arrow
//! arrays. The built-in library lives in the `quiver-udfs` crate.
//!
//! Table functions ([`TableFunction`]) are called in FROM, as Flink and
//! Dagger write them: `FROM s, LATERAL TABLE(f(args)) AS t(c1, c2)`. Each
//! input row gives zero or more output rows: the input row's columns
//! followed by the function's.

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

/// Rows a table function made of a batch: for each output row, the input
/// row it came from (ascending), and the function's columns.
#[derive(Debug, Clone)]
pub struct TableRows {
    /// Input row of each output row, in ascending order.
    pub rows: Vec<u32>,
    /// The function's columns, one entry per output row.
    pub columns: Vec<ArrayRef>,
}

/// A table function: zero or more rows out per row in.
pub trait TableFunction: Send + Sync + fmt::Debug {
    /// The SQL name, upper case.
    fn name(&self) -> &str;

    /// One line for the generated function reference.
    fn doc(&self) -> &str {
        ""
    }

    /// Checks the arguments and returns the output columns: default names
    /// (an alias `AS t(a, b)` renames them) and types. Errors name the
    /// argument, as [`ScalarFunction::return_type`]'s do.
    fn columns(&self, args: &[ArgInfo<'_>]) -> Result<Vec<(String, DataType)>, String>;

    /// Evaluates the function over a batch of `num_rows` rows.
    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<TableRows, FunctionError>;
}

/// Where the planner finds functions.
pub trait FunctionRegistry: Send + Sync {
    /// The function called `name` (case-insensitive).
    fn scalar(&self, name: &str) -> Option<Arc<dyn ScalarFunction>>;
    /// The table function called `name` (case-insensitive).
    fn table(&self, _name: &str) -> Option<Arc<dyn TableFunction>> {
        None
    }
    /// Names of all functions, for suggestions.
    fn names(&self) -> Vec<String>;
}

/// A registry backed by a map; functions register under their upper-case name.
#[derive(Default, Clone)]
pub struct Registry {
    scalars: BTreeMap<String, Arc<dyn ScalarFunction>>,
    tables: BTreeMap<String, Arc<dyn TableFunction>>,
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

    /// Adds (or replaces) a table function under its name.
    pub fn register_table(&mut self, f: Arc<dyn TableFunction>) {
        self.tables.insert(f.name().to_ascii_uppercase(), f);
    }

    /// All table functions, by name.
    pub fn tables(&self) -> impl Iterator<Item = (&str, &Arc<dyn TableFunction>)> {
        self.tables.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl FunctionRegistry for Registry {
    fn scalar(&self, name: &str) -> Option<Arc<dyn ScalarFunction>> {
        self.scalars.get(&name.to_ascii_uppercase()).cloned()
    }

    fn table(&self, name: &str) -> Option<Arc<dyn TableFunction>> {
        self.tables.get(&name.to_ascii_uppercase()).cloned()
    }

    fn names(&self) -> Vec<String> {
        self.scalars
            .keys()
            .chain(self.tables.keys())
            .cloned()
            .collect()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.scalars.keys().chain(self.tables.keys()))
            .finish()
    }
}
