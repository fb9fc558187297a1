//! Quiver's SQL: Flink/Dagger-dialect queries to a typed logical plan.
//!
//! A job's SQL is parsed with `sqlparser` (generic dialect: backticks and
//! double quotes for identifiers, Flink's `TUMBLE`/`HOP` group windows,
//! `INTERVAL '1' MINUTE`) and bound against the job's sources into a
//! [`LogicalPlan`] whose every expression is typed:
//!
//! * [`expr`]: scalar expressions and aggregate calls;
//! * [`plan`]: the operators (scan, filter, project, window aggregate,
//!   stream–table join, union) and the event time each row carries;
//! * [`window`]: tumbling and hopping windows as runs of panes;
//! * [`functions`]: the registry interface scalar functions implement
//!   (the library itself is the `quiver-udfs` crate);
//! * `bind`/`bind_expr`: name resolution, typing, implicit casts, and the
//!   streaming rules (a window in every GROUP BY, joins of a stream with a
//!   table, no ORDER BY/LIMIT/DISTINCT);
//! * [`compile_job`]: a job file's SQL to a [`CompiledJob`], checking that
//!   its `features:` and `entity:` name output columns.
//!
//! Semantics are standard SQL: three-valued logic, NULLs group together,
//! NULL never joins. Where SQL dialects differ Quiver follows Flink:
//! BIGINT `/` BIGINT truncates, `CONCAT` is NULL if any argument is. It
//! departs where a streaming job must not fail on one bad row: division by
//! zero, failed CASTs and integer overflow give NULL.
//!
//! Errors are [`PlanError`]s carrying the SQL position; [`compile_job`]
//! maps them back to `file:line:col` in the job file.

mod bind;
mod bind_expr;
mod bind_lateral;
mod bind_over;
mod coerce;
mod error;
pub mod expr;
pub mod functions;
mod job;
pub mod plan;
mod row_expr;
mod scope;
pub mod window;

pub use bind::{Binder, SourceInfo};
pub use error::{PlanError, PlanResult};
pub use expr::{
    AGGREGATE_REFERENCE, AggFunc, AggregateCall, BinaryOp, Fraction, Interval, ScalarExpr,
};
pub use functions::{
    ArgInfo, ColumnarValue, FunctionError, FunctionRegistry, Registry, ScalarFunction,
    TableFunction, TableRows,
};
pub use job::{CompiledJob, compile_job};
pub use plan::{JoinKind, LogicalPlan, OverFrame, TableCall};
pub use row_expr::bind_row_condition;
pub use window::Window;

/// The closest candidate to `word`, if close enough to be a typo.
pub(crate) fn suggest<'s>(word: &str, candidates: &[&'s str]) -> Option<&'s str> {
    let w = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&w, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
