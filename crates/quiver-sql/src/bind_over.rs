//! Binding OVER aggregates: `agg(x) OVER (PARTITION BY k ORDER BY rowtime
//! RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW)`, inline or
//! through a `WINDOW w AS (...)` clause.
//!
//! Streaming restrictions, each with its own message: the ORDER BY is the
//! event time, ascending; frames end at the current row; all OVER
//! aggregates of one SELECT share one PARTITION BY (nest queries for more).

use std::cell::RefCell;

use quiver_types::{DataType, Field, Schema};
use sqlparser::ast::{
    Expr, Function, FunctionArgExpr, NamedWindowDefinition, NamedWindowExpr, OrderBySort,
    SelectItem, Spanned, WindowFrameBound, WindowFrameUnits, WindowSpec, WindowType,
};
use sqlparser::tokenizer::Span;

use crate::bind::{Binder, projection_schema};
use crate::bind_expr::{Ctx, aggregate_type, contains_aggregate, function_name, parse_interval};
use crate::error::{PlanError, PlanResult};
use crate::expr::{AggFunc, AggregateCall, ScalarExpr};
use crate::plan::{LogicalPlan, OverFrame};
use crate::scope::Relation;

/// The state of binding a SELECT list with OVER aggregates.
pub(crate) struct OverCtx<'r> {
    /// The relation the SELECT reads.
    pub input: &'r Relation,
    named: &'r [NamedWindowDefinition],
    partition: RefCell<Option<Vec<ScalarExpr>>>,
    calls: RefCell<Vec<(AggregateCall, OverFrame)>>,
}

/// Whether the expression holds an `... OVER (...)` call.
pub(crate) fn contains_over(e: &Expr) -> bool {
    sqlparser::ast::visit_expressions(e, |x| match x {
        Expr::Function(f) if f.over.is_some() => std::ops::ControlFlow::Break(()),
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_break()
}

impl Binder<'_> {
    /// Binds a SELECT list containing OVER aggregates over `rel`.
    pub(crate) fn bind_over_projection(
        &mut self,
        items: &[SelectItem],
        named: &[NamedWindowDefinition],
        rel: Relation,
    ) -> PlanResult<Relation> {
        if !rel.is_stream() {
            return Err(PlanError::new("OVER aggregates need a stream")
                .help("read a source with an event_time"));
        }
        let ctx = OverCtx {
            input: &rel,
            named,
            partition: RefCell::new(None),
            calls: RefCell::new(Vec::new()),
        };
        let mut exprs = Vec::new();
        let mut names = Vec::new();
        for item in items {
            let (e, alias) = match item {
                SelectItem::UnnamedExpr(e) => (e, None),
                SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
                other => {
                    return Err(PlanError::at(
                        other.span(),
                        "SELECT * cannot be combined with OVER aggregates",
                    )
                    .help("list the columns to output"));
                }
            };
            let b = self.bind_expr(e, &Ctx::Over(&ctx))?;
            names.push(alias.unwrap_or_else(|| match (e, &b) {
                (Expr::Identifier(id), _) => id.value.clone(),
                (Expr::CompoundIdentifier(p), _) => {
                    p.last().map(|i| i.value.clone()).unwrap_or_default()
                }
                _ => format!("EXPR${}", names.len()),
            }));
            exprs.push(b);
        }
        let calls = ctx.calls.into_inner();
        let partition = ctx.partition.into_inner().unwrap_or_default();
        let width = rel.columns.len();
        let mut fields: Vec<Field> = rel.schema().fields.clone();
        fields.extend(
            calls
                .iter()
                .enumerate()
                .map(|(i, (c, _))| Field::new(format!("over{i}"), c.data_type)),
        );
        let plan = LogicalPlan::OverAggregate {
            input: Box::new(rel.plan.clone()),
            partition,
            aggs: calls,
            schema: Schema::new(fields),
        };
        let schema = projection_schema(&exprs, &names);
        let time_attr = exprs.iter().position(|e| match e {
            ScalarExpr::Column { index, .. } => Some(*index) == rel.time_attr,
            ScalarExpr::RowTime => true,
            _ => false,
        });
        let keys = exprs
            .iter()
            .enumerate()
            .filter_map(|(pos, e)| match e {
                ScalarExpr::Column { index, .. } if *index < width && rel.keys.contains(index) => {
                    Some(pos)
                }
                _ => None,
            })
            .collect();
        let mut out = Relation::new(
            LogicalPlan::Project {
                input: Box::new(plan),
                exprs,
                schema,
            },
            None,
        );
        for (c, n) in out.columns.iter_mut().zip(names) {
            c.name = n;
        }
        out.time_attr = time_attr;
        out.keys = keys;
        Ok(out)
    }

    /// Binds one `agg(x) OVER (...)`, returning the column it becomes.
    pub(crate) fn bind_over_call(&self, f: &Function, o: &OverCtx<'_>) -> PlanResult<ScalarExpr> {
        let name = function_name(f);
        let span = f.name.span();
        let Some(func) = AggFunc::from_name(&name) else {
            return Err(
                PlanError::at(span, format!("{name}(...) OVER is not supported"))
                    .help("OVER windows compute COUNT, SUM, AVG, MIN, MAX, STDDEV_POP or VAR_POP"),
            );
        };
        if !func.supports_over() {
            return Err(
                PlanError::at(span, format!("{name}(...) OVER is not supported"))
                    .help(format!("compute {name} per window with GROUP BY TUMBLE(...) or HOP(...); OVER windows compute COUNT, SUM, AVG, MIN, MAX, STDDEV_POP or VAR_POP")),
            );
        }
        if f.filter.is_some() || !f.within_group.is_empty() {
            return Err(PlanError::at(
                span,
                format!("{name} with FILTER or WITHIN GROUP is not supported"),
            ));
        }
        let spec = self.window_spec(f, o)?;
        // PARTITION BY: one per SELECT.
        let partition = spec
            .partition_by
            .iter()
            .map(|e| self.bind_expr(e, &Ctx::Row(o.input)))
            .collect::<PlanResult<Vec<_>>>()?;
        {
            let mut p = o.partition.borrow_mut();
            match &*p {
                None => *p = Some(partition),
                Some(existing) if *existing == partition => {}
                Some(_) => {
                    return Err(PlanError::at(
                        span,
                        "all OVER aggregates of one SELECT must share the same PARTITION BY",
                    )
                    .help("compute the other partitioning in an outer query"));
                }
            }
        }
        // ORDER BY: the event time, ascending.
        let order_ok = match spec.order_by.as_slice() {
            [one] if !matches!(one.options.sort, Some(OrderBySort::Desc)) => {
                match self.bind_expr(&one.expr, &Ctx::Row(o.input))? {
                    ScalarExpr::RowTime => true,
                    ScalarExpr::Column { index, .. } => Some(index) == o.input.time_attr,
                    _ => false,
                }
            }
            _ => false,
        };
        if !order_ok {
            let time = o
                .input
                .time_attr
                .map(|i| o.input.columns[i].name.clone())
                .unwrap_or_else(|| "rowtime".into());
            return Err(PlanError::at(span, "an OVER window must be ORDER BY the event time, ascending")
                .help(format!("write OVER (PARTITION BY ... ORDER BY {time} RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW)")));
        }
        let frame = match &spec.window_frame {
            None => OverFrame::Range { preceding: None },
            Some(w) => {
                if !matches!(w.end_bound, None | Some(WindowFrameBound::CurrentRow)) {
                    return Err(
                        PlanError::at(span, "OVER frames must end at the current row").help(
                            "a streaming row cannot wait for later rows; write ... AND CURRENT ROW",
                        ),
                    );
                }
                match (&w.units, &w.start_bound) {
                    (_, WindowFrameBound::Following(_)) => {
                        return Err(PlanError::at(
                            span,
                            "OVER frames cannot start after the current row",
                        ));
                    }
                    (WindowFrameUnits::Range, WindowFrameBound::Preceding(None)) => {
                        OverFrame::Range { preceding: None }
                    }
                    (WindowFrameUnits::Range, WindowFrameBound::CurrentRow) => {
                        OverFrame::Range { preceding: Some(0) }
                    }
                    (WindowFrameUnits::Range, WindowFrameBound::Preceding(Some(e))) => {
                        match &**e {
                            Expr::Interval(i) => {
                                let iv = parse_interval(i, e.span())?;
                                if iv.months != 0 || iv.millis < 0 {
                                    return Err(PlanError::at(
                                        e.span(),
                                        "RANGE frames need a fixed, non-negative interval",
                                    ));
                                }
                                OverFrame::Range {
                                    preceding: Some(iv.millis),
                                }
                            }
                            other => {
                                return Err(PlanError::at(other.span(), "RANGE ... PRECEDING needs an INTERVAL")
                                .help("write RANGE BETWEEN INTERVAL '7' DAY PRECEDING AND CURRENT ROW"));
                            }
                        }
                    }
                    (WindowFrameUnits::Rows, WindowFrameBound::CurrentRow) => {
                        OverFrame::Rows { preceding: 0 }
                    }
                    (WindowFrameUnits::Rows, WindowFrameBound::Preceding(Some(e))) => {
                        let n = match &**e {
                            Expr::Value(v) => v.value.to_string().parse::<u64>().ok(),
                            _ => None,
                        };
                        match n {
                            Some(n) => OverFrame::Rows { preceding: n },
                            None => {
                                return Err(PlanError::at(
                                    e.span(),
                                    "ROWS ... PRECEDING needs a whole number",
                                ));
                            }
                        }
                    }
                    (WindowFrameUnits::Rows, WindowFrameBound::Preceding(None)) => {
                        OverFrame::Range { preceding: None }
                    }
                    (WindowFrameUnits::Groups, _) => {
                        return Err(PlanError::at(span, "GROUPS frames are not supported")
                            .help("use RANGE or ROWS"));
                    }
                }
            }
        };
        let (args, distinct) = match &f.args {
            sqlparser::ast::FunctionArguments::List(l) => (
                l.args.iter().collect::<Vec<_>>(),
                matches!(
                    l.duplicate_treatment,
                    Some(sqlparser::ast::DuplicateTreatment::Distinct)
                ),
            ),
            _ => (Vec::new(), false),
        };
        if distinct {
            return Err(PlanError::at(
                span,
                format!("{name}(DISTINCT ...) OVER is not supported"),
            ));
        }
        let arg = match (func, args.as_slice()) {
            (
                AggFunc::Count,
                [] | [sqlparser::ast::FunctionArg::Unnamed(FunctionArgExpr::Wildcard)],
            ) => None,
            (_, [sqlparser::ast::FunctionArg::Unnamed(FunctionArgExpr::Expr(e))]) => {
                if contains_aggregate(e) || contains_over(e) {
                    return Err(PlanError::at(e.span(), "aggregates cannot be nested"));
                }
                Some(self.bind_expr(e, &Ctx::Row(o.input))?)
            }
            _ => return Err(PlanError::at(span, format!("{name} takes one argument"))),
        };
        let data_type = aggregate_type(func, arg.as_ref().map(ScalarExpr::data_type), span)?;
        if matches!(func, AggFunc::Min | AggFunc::Max)
            && matches!(data_type, DataType::String | DataType::Bytes)
        {
            return Err(PlanError::at(
                span,
                format!("{name} OVER a {data_type} column is not supported"),
            )
            .help("MIN/MAX OVER work on numbers, times and booleans"));
        }
        let mut calls = o.calls.borrow_mut();
        calls.push((
            AggregateCall {
                func,
                arg,
                distinct: false,
                data_type,
            },
            frame,
        ));
        Ok(ScalarExpr::column(
            o.input.columns.len() + calls.len() - 1,
            format!("{name} OVER"),
            data_type,
        ))
    }

    fn window_spec<'a>(&self, f: &'a Function, o: &'a OverCtx<'_>) -> PlanResult<&'a WindowSpec> {
        let span = f.name.span();
        let mut spec = match f.over.as_ref() {
            Some(WindowType::WindowSpec(s)) => s,
            Some(WindowType::NamedWindow(id)) => self.named_window(id, o.named, span)?,
            None => return Err(PlanError::at(span, "missing OVER")),
        };
        if let Some(base) = &spec.window_name {
            // `OVER (w ...)` refining a named window: only a bare reference is supported.
            if !spec.partition_by.is_empty()
                || !spec.order_by.is_empty()
                || spec.window_frame.is_some()
            {
                return Err(
                    PlanError::at(base.span, "refining a named window is not supported")
                        .help("define a complete window in the WINDOW clause"),
                );
            }
            spec = self.named_window(base, o.named, span)?;
        }
        Ok(spec)
    }

    fn named_window<'a>(
        &self,
        id: &sqlparser::ast::Ident,
        named: &'a [NamedWindowDefinition],
        span: Span,
    ) -> PlanResult<&'a WindowSpec> {
        let def = named
            .iter()
            .find(|d| d.0.value.eq_ignore_ascii_case(&id.value));
        match def.map(|d| &d.1) {
            Some(NamedWindowExpr::WindowSpec(s)) => Ok(s),
            Some(NamedWindowExpr::NamedWindow(other)) => self.named_window(other, named, span),
            None => Err(PlanError::at(
                id.span.union(&span),
                format!("window `{}` is not defined", id.value),
            )
            .help(format!(
                "add WINDOW {} AS (PARTITION BY ... ORDER BY rowtime RANGE ...)",
                id.value
            ))),
        }
    }
}
