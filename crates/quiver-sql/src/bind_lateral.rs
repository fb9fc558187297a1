//! Table functions in FROM: `FROM s, LATERAL TABLE(f(args)) AS t(c1, c2)`
//! (Flink's and Dagger's spelling; `LATERAL f(args)`, `CROSS JOIN
//! LATERAL ...` and `JOIN LATERAL ... ON TRUE` mean the same), and
//! `LEFT JOIN LATERAL TABLE(...) AS t(...) ON TRUE`, which keeps a row the
//! function makes nothing of, once, with NULLs.
//!
//! The arguments are expressions over the columns to the left. The output
//! is those columns followed by the function's, each row keeping its
//! input row's event time, so a table function works before a window
//! aggregate as well as after one.

use quiver_types::{Field, Schema};
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, Join, JoinConstraint, JoinOperator, Spanned, TableAlias,
    TableFactor, Value as SqlValue,
};

use crate::bind::Binder;
use crate::bind_expr::{Ctx, function_name, with_arg_infos};
use crate::error::{PlanError, PlanResult};
use crate::expr::ScalarExpr;
use crate::plan::{LogicalPlan, TableCall};
use crate::scope::{ColumnRef, Relation};

/// A table factor that calls a table function, seen through `TABLE(...)`.
pub(crate) struct LateralCall<'a> {
    call: &'a sqlparser::ast::Function,
    alias: Option<&'a TableAlias>,
}

/// The table-function call `tf` makes, if it is one (`LATERAL` or not).
pub(crate) fn lateral_call(tf: &TableFactor) -> Option<LateralCall<'_>> {
    let (name, args, alias) = match tf {
        TableFactor::Function {
            name, args, alias, ..
        } => (name, args, alias),
        _ => return None,
    };
    // `LATERAL TABLE(f(x))` parses as a function called TABLE.
    if name.to_string().eq_ignore_ascii_case("TABLE")
        && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Function(f)))] = args.as_slice()
    {
        return Some(LateralCall {
            call: f,
            alias: alias.as_ref(),
        });
    }
    None
}

impl Binder<'_> {
    /// Whether `j` joins a table function (so [`Binder::bind_lateral`] takes it).
    pub(crate) fn is_lateral_join(j: &Join) -> bool {
        matches!(j.relation, TableFactor::Function { .. })
    }

    /// Binds `left` followed by the table function `j` calls.
    pub(crate) fn bind_lateral_join(&mut self, left: Relation, j: &Join) -> PlanResult<Relation> {
        let at = j.relation.span();
        let on_true = |c: &JoinConstraint| match c {
            JoinConstraint::None => true,
            JoinConstraint::On(Expr::Value(v)) => {
                matches!(v.value, SqlValue::Boolean(true))
            }
            _ => false,
        };
        let outer = match &j.join_operator {
            JoinOperator::CrossJoin(c) | JoinOperator::Join(c) | JoinOperator::Inner(c)
                if on_true(c) =>
            {
                false
            }
            JoinOperator::Left(c) | JoinOperator::LeftOuter(c) if on_true(c) => true,
            _ => {
                return Err(PlanError::at(
                    at,
                    "a table function joins its input row only: write `, LATERAL TABLE(...)`, `CROSS JOIN LATERAL TABLE(...)` or `LEFT JOIN LATERAL TABLE(...) ON TRUE`",
                ));
            }
        };
        self.bind_lateral(left, &j.relation, outer)
    }

    /// Binds `left` followed by the rows of the table function in `tf`.
    pub(crate) fn bind_lateral(
        &mut self,
        left: Relation,
        tf: &TableFactor,
        outer: bool,
    ) -> PlanResult<Relation> {
        let at = tf.span();
        let Some(LateralCall { call, alias }) = lateral_call(tf) else {
            return Err(
                PlanError::at(at, "call a table function as LATERAL TABLE(f(...))").help(
                    "e.g. FROM s, LATERAL TABLE(HistogramBucket(amount, '10,100')) AS h(bucket)",
                ),
            );
        };
        let name = function_name(call);
        let span = call.name.span();
        let Some(func) = self.registry.table(&name) else {
            let help = if self.registry.scalar(&name).is_some() {
                format!("{name} is a scalar function: call it in SELECT")
            } else {
                "see the function reference (udfs/FUNCTIONS.md) for table functions".to_string()
            };
            return Err(PlanError::at(span, format!("unknown table function `{name}`")).help(help));
        };
        let raw = crate::bind_expr::expr_args(call)?;
        let name = func.name().to_string();
        let args: Vec<ScalarExpr> = raw
            .iter()
            .map(|a| self.bind_expr(a, &Ctx::Row(&left)))
            .collect::<PlanResult<_>>()?;
        let mut columns = with_arg_infos(&args, |infos| func.columns(infos))
            .map_err(|m| PlanError::at(span, format!("{name}: {m}")))?;
        let qualifier = alias.map(|a| a.name.value.clone());
        if let Some(a) = alias
            && !a.columns.is_empty()
        {
            if a.columns.len() != columns.len() {
                return Err(PlanError::at(
                    a.name.span,
                    format!(
                        "`{}` names {} columns but {name} gives {}",
                        a.name.value,
                        a.columns.len(),
                        columns.len()
                    ),
                )
                .help(format!(
                    "{name} gives: {}",
                    columns
                        .iter()
                        .map(|(n, t)| format!("{n} {t}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            for ((n, _), c) in columns.iter_mut().zip(&a.columns) {
                *n = c.name.value.clone();
            }
        }
        let mut fields = left.schema().fields.clone();
        fields.extend(columns.iter().map(|(n, t)| Field::new(n.clone(), *t)));
        let mut visible = left.columns.clone();
        visible.extend(columns.iter().map(|(n, t)| ColumnRef {
            qualifier: qualifier.clone(),
            name: n.clone(),
            data_type: *t,
        }));
        Ok(Relation {
            plan: LogicalPlan::Lateral {
                input: Box::new(left.plan),
                call: TableCall { func, args },
                outer,
                schema: Schema::new(fields),
            },
            columns: visible,
            time_attr: left.time_attr,
            // The input's columns keep their places.
            keys: left.keys,
        })
    }
}
