//! A standalone SQL condition over one row of known columns, outside any
//! query: a post-processor's check (`filter_invalid`), written in the same
//! SQL as the job's query and bound by the same binder, so it calls the
//! same functions with the same types and NULL rules.

use quiver_types::Schema;
use sqlparser::ast::Spanned;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::bind::Binder;
use crate::bind_expr::{Ctx, contains_aggregate};
use crate::error::{PlanError, PlanResult};
use crate::expr::ScalarExpr;
use crate::functions::FunctionRegistry;
use crate::job::syntax_error;
use crate::plan::LogicalPlan;
use crate::scope::Relation;

/// Binds `sql`, a BOOLEAN condition over the columns of `row`, with
/// `what` naming it in errors (`check \`positive_amount\``). Column `i` of
/// `row` is column `i` of the batches it is evaluated over.
pub fn bind_row_condition(
    sql: &str,
    row: &Schema,
    registry: &dyn FunctionRegistry,
    what: &str,
) -> PlanResult<ScalarExpr> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(syntax_error)?;
    let expr = parser.parse_expr().map_err(syntax_error)?;
    let rest = parser.peek_token();
    if rest.token != sqlparser::tokenizer::Token::EOF {
        return Err(PlanError::at(
            rest.span,
            format!(
                "{what} must be one SQL condition; unexpected `{}` after it",
                rest.token
            ),
        )
        .help("combine conditions with AND / OR"));
    }
    if contains_aggregate(&expr) {
        return Err(
            PlanError::at(expr.span(), format!("aggregates are not allowed in {what}"))
                .help("a check looks at one row at a time; aggregate in the query"),
        );
    }
    let binder = Binder::new(sql, &[], registry);
    let rel = Relation::new(
        LogicalPlan::Scan {
            source: "row".to_string(),
            schema: row.clone(),
            stream: false,
        },
        None,
    );
    let bound = binder.bind_expr(&expr, &Ctx::Row(&rel))?;
    binder.require_bool(bound, expr.span(), what)
}
