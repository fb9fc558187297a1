//! Binding queries: FROM, joins, WHERE, GROUP BY windows, HAVING, SELECT,
//! WITH, subqueries and UNION ALL, turned into a [`LogicalPlan`].
//!
//! Streaming rules enforced here, each with its own error message:
//! a query reads at least one stream; GROUP BY holds exactly one `TUMBLE`
//! or `HOP` on the event time; joins pair a stream with a bounded table;
//! ORDER BY, LIMIT, DISTINCT and non-windowed aggregation are rejected
//! because they have no meaning on an unbounded stream.

use std::cell::RefCell;

use quiver_types::{DataType, Field, Schema};
use sqlparser::ast::{
    Expr, GroupByExpr, Join, JoinConstraint, JoinOperator, Query, Select, SelectItem, SetExpr,
    SetOperator, SetQuantifier, Spanned, TableAlias, TableFactor, TableWithJoins,
};
use sqlparser::tokenizer::Span;

use crate::bind_expr::{Ctx, Grouped, contains_aggregate, function_name, parse_window_call};
use crate::coerce;
use crate::error::{PlanError, PlanResult, find_keyword, find_keyword_after};
use crate::expr::ScalarExpr;
use crate::functions::FunctionRegistry;
use crate::plan::{JoinKind, LogicalPlan, default_column_name};
use crate::scope::Relation;

/// A source as the planner sees it.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// Table name.
    pub name: String,
    /// Declared columns.
    pub schema: Schema,
    /// Position of the event-time column; `None` for bounded tables.
    pub time_col: Option<usize>,
}

/// Turns a parsed query into a plan.
pub struct Binder<'a> {
    /// The SQL text (for locating keywords without tokens).
    pub sql: &'a str,
    /// The job's sources.
    pub sources: &'a [SourceInfo],
    /// Scalar functions.
    pub registry: &'a dyn FunctionRegistry,
    ctes: Vec<(String, Relation)>,
    /// Where the first table of the query is named (for query-level errors).
    pub first_table: Option<Span>,
}

impl<'a> Binder<'a> {
    /// A binder over the given sources and functions.
    pub fn new(
        sql: &'a str,
        sources: &'a [SourceInfo],
        registry: &'a dyn FunctionRegistry,
    ) -> Binder<'a> {
        Binder {
            sql,
            sources,
            registry,
            ctes: Vec::new(),
            first_table: None,
        }
    }

    /// Binds a full query.
    pub fn bind_query(&mut self, q: &Query) -> PlanResult<Relation> {
        let cte_mark = self.ctes.len();
        if let Some(with) = &q.with {
            if with.recursive {
                return Err(PlanError::at(
                    with.with_token.0.span,
                    "WITH RECURSIVE is not supported",
                )
                .help("streaming queries cannot recurse; remove RECURSIVE"));
            }
            for cte in &with.cte_tables {
                let rel = self.bind_query(&cte.query)?;
                let rel = apply_alias(rel, &cte.alias)?;
                self.ctes.push((cte.alias.name.value.clone(), rel));
            }
        }
        if let Some(order) = &q.order_by {
            let at = find_keyword(
                self.sql,
                "ORDER",
                Some(order.span().start).filter(|l| l.line > 0),
            )
            .map(|l| Span::new(l, l))
            .unwrap_or(order.span());
            return Err(PlanError::at(at, "ORDER BY is not supported in a streaming query")
                .help("a stream has no end to sort; remove ORDER BY (rows are written in event-time order)"));
        }
        if let Some(limit) = &q.limit_clause {
            let at = find_keyword(
                self.sql,
                "LIMIT",
                Some(limit.span().start).filter(|l| l.line > 0),
            )
            .or_else(|| {
                find_keyword(
                    self.sql,
                    "OFFSET",
                    Some(limit.span().start).filter(|l| l.line > 0),
                )
            })
            .map(|l| Span::new(l, l))
            .unwrap_or(limit.span());
            return Err(
                PlanError::at(at, "LIMIT is not supported in a streaming query")
                    .help("remove LIMIT; to keep some rows, filter them with WHERE"),
            );
        }
        if q.fetch.is_some()
            || !q.locks.is_empty()
            || q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return Err(PlanError::at(
                q.span(),
                "this query clause is not supported (FETCH, FOR, SETTINGS, FORMAT, locks or pipes)",
            ));
        }
        let rel = self.bind_set_expr(&q.body);
        self.ctes.truncate(cte_mark);
        rel
    }

    fn bind_set_expr(&mut self, body: &SetExpr) -> PlanResult<Relation> {
        match body {
            SetExpr::Select(s) => self.bind_select(s),
            SetExpr::Query(q) => self.bind_query(q),
            SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                if *op != SetOperator::Union || *set_quantifier != SetQuantifier::All {
                    let kw = match op {
                        SetOperator::Union => "UNION",
                        SetOperator::Except => "EXCEPT",
                        SetOperator::Intersect => "INTERSECT",
                        SetOperator::Minus => "MINUS",
                    };
                    let at = find_keyword(self.sql, kw, Some(right.span().start))
                        .map(|l| Span::new(l, l))
                        .unwrap_or(right.span());
                    return Err(PlanError::at(
                        at,
                        format!(
                            "{kw} {} is not supported on streams",
                            if *op == SetOperator::Union {
                                "(without ALL)"
                            } else {
                                ""
                            }
                        )
                        .replace("  ", " "),
                    )
                    .help("use UNION ALL to combine streams"));
                }
                let l = self.bind_set_expr(left)?;
                let r = self.bind_set_expr(right)?;
                self.union(l, r, right.span())
            }
            other => Err(PlanError::at(
                other.span(),
                "only SELECT queries are supported",
            )),
        }
    }

    fn union(&mut self, l: Relation, r: Relation, span: Span) -> PlanResult<Relation> {
        for (rel, side) in [(&l, "left"), (&r, "right")] {
            if !rel.is_stream() {
                return Err(PlanError::at(
                    span,
                    format!("the {side} side of UNION ALL is a table, not a stream"),
                )
                .help("UNION ALL combines streams (sources with an event_time)"));
            }
        }
        if l.columns.len() != r.columns.len() {
            return Err(PlanError::at(
                span,
                format!(
                    "UNION ALL sides have {} and {} columns",
                    l.columns.len(),
                    r.columns.len()
                ),
            )
            .help("select the same number of columns, in the same order, on both sides"));
        }
        let mut types = Vec::new();
        for (i, (a, b)) in l.columns.iter().zip(&r.columns).enumerate() {
            match coerce::common_type(a.data_type, b.data_type) {
                Some(t) => types.push(t),
                None => {
                    return Err(PlanError::at(
                        span,
                        format!(
                            "UNION ALL column {} (`{}`) is {} on the left and {} on the right",
                            i + 1,
                            a.name,
                            a.data_type,
                            b.data_type
                        ),
                    )
                    .help("CAST one side so the types match"));
                }
            }
        }
        let cast_to = |rel: Relation, types: &[DataType]| -> LogicalPlan {
            if rel
                .columns
                .iter()
                .zip(types)
                .all(|(c, t)| c.data_type == *t)
            {
                return rel.plan;
            }
            let exprs: Vec<ScalarExpr> = rel
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    coerce::cast(ScalarExpr::column(i, c.name.clone(), c.data_type), types[i])
                })
                .collect();
            let schema = Schema::new(
                rel.columns
                    .iter()
                    .zip(types)
                    .map(|(c, t)| Field::new(c.name.clone(), *t))
                    .collect(),
            );
            LogicalPlan::Project {
                input: Box::new(rel.plan),
                exprs,
                schema,
            }
        };
        let time_attr = if l.time_attr == r.time_attr {
            l.time_attr
        } else {
            None
        };
        let schema = Schema::new(
            l.columns
                .iter()
                .zip(&types)
                .map(|(c, t)| Field::new(c.name.clone(), *t))
                .collect(),
        );
        let names: Vec<String> = l.columns.iter().map(|c| c.name.clone()).collect();
        let mut inputs = Vec::new();
        for side in [l, r] {
            match cast_to(side, &types) {
                LogicalPlan::Union { inputs: more, .. } => inputs.extend(more),
                p => inputs.push(p),
            }
        }
        let plan = LogicalPlan::Union { inputs, schema };
        let mut rel = Relation::new(plan, None);
        for (c, n) in rel.columns.iter_mut().zip(names) {
            c.name = n;
        }
        rel.time_attr = time_attr;
        Ok(rel)
    }

    fn bind_select(&mut self, s: &Select) -> PlanResult<Relation> {
        self.reject_select_clauses(s)?;
        let mut rel = self.bind_from(&s.from, s.select_token.0.span)?;
        if let Some(w) = &s.selection {
            if contains_aggregate(w) {
                return Err(
                    PlanError::at(w.span(), "aggregates are not allowed in WHERE")
                        .help("filter aggregated values with HAVING"),
                );
            }
            let pred = self.bind_expr(w, &Ctx::Row(&rel))?;
            let pred = self.require_bool(pred, w.span(), "WHERE")?;
            rel.plan = LogicalPlan::Filter {
                input: Box::new(rel.plan),
                predicate: pred,
            };
        }
        let group_exprs = match &s.group_by {
            GroupByExpr::Expressions(exprs, mods) => {
                if !mods.is_empty() {
                    return Err(PlanError::at(
                        s.group_by.span(),
                        "GROUP BY modifiers (ROLLUP, CUBE, TOTALS) are not supported",
                    ));
                }
                exprs.clone()
            }
            GroupByExpr::All(_) => {
                return Err(PlanError::at(s.group_by.span(), "GROUP BY ALL is not supported")
                    .help("list the window and the keys: GROUP BY TUMBLE(event_time, INTERVAL '1' MINUTE), customer_id"));
            }
        };
        let uses_aggregates = s.projection.iter().any(|i| match i {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                contains_aggregate(e)
            }
            _ => false,
        }) || s.having.as_ref().is_some_and(contains_aggregate);
        if group_exprs.is_empty() {
            if s.having.is_some() {
                let at = find_keyword(
                    self.sql,
                    "HAVING",
                    s.having.as_ref().map(|h| h.span().start),
                )
                .map(|l| Span::new(l, l));
                return Err(PlanError::at(
                    at.unwrap_or(s.select_token.0.span),
                    "HAVING needs GROUP BY with a TUMBLE or HOP window",
                ));
            }
            if uses_aggregates {
                let first = s.projection.iter().find_map(|i| match i {
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }
                        if contains_aggregate(e) =>
                    {
                        Some(e.span())
                    }
                    _ => None,
                });
                return Err(PlanError::at(first.unwrap_or(s.select_token.0.span), "aggregates over a stream need a window")
                    .help("add GROUP BY TUMBLE(event_time, INTERVAL '1' MINUTE) (or HOP) so each window's result can be emitted"));
            }
            let has_over = s.projection.iter().any(|i| match i {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    crate::bind_over::contains_over(e)
                }
                _ => false,
            });
            if has_over {
                return self.bind_over_projection(&s.projection, &s.named_window, rel);
            }
            return self.bind_plain_projection(&s.projection, rel);
        }
        if s.projection.iter().any(|i| matches!(i, SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } if crate::bind_over::contains_over(e))) {
            return Err(PlanError::at(s.select_token.0.span, "OVER aggregates cannot be combined with GROUP BY in one SELECT")
                .help("compute the windowed aggregate in a subquery (WITH daily AS (...)) and apply OVER in the outer query"));
        }
        self.bind_grouped(s, &group_exprs, rel)
    }

    fn reject_select_clauses(&self, s: &Select) -> PlanResult<()> {
        let unsupported = |what: &str, help: &str| -> PlanResult<()> {
            let kw = what.split_whitespace().next().unwrap_or(what);
            let at = find_keyword_after(self.sql, kw, s.select_token.0.span.start)
                .map(|l| Span::new(l, l));
            Err(PlanError::at(
                at.unwrap_or(s.select_token.0.span),
                format!("{what} is not supported in a streaming query"),
            )
            .help(help))
        };
        if s.distinct.is_some() {
            return unsupported(
                "DISTINCT",
                "a stream never ends, so duplicates cannot be removed; count distinct values per window with COUNT(DISTINCT x) and GROUP BY TUMBLE(...)",
            );
        }
        if s.top.is_some() {
            return unsupported("TOP", "remove TOP");
        }
        if s.into.is_some() {
            return unsupported("INTO", "sinks are declared under `sinks:` in the job file");
        }
        if !s.lateral_views.is_empty() {
            return unsupported("LATERAL VIEW", "remove it");
        }
        if s.prewhere.is_some() {
            return unsupported("PREWHERE", "use WHERE");
        }
        if !s.cluster_by.is_empty() || !s.distribute_by.is_empty() || !s.sort_by.is_empty() {
            return unsupported("CLUSTER/DISTRIBUTE/SORT BY", "remove it");
        }
        if s.qualify.is_some() {
            return unsupported("QUALIFY", "remove it");
        }
        if !s.connect_by.is_empty() {
            return unsupported("CONNECT BY", "remove it");
        }
        Ok(())
    }

    fn bind_plain_projection(
        &mut self,
        items: &[SelectItem],
        rel: Relation,
    ) -> PlanResult<Relation> {
        let mut exprs = Vec::new();
        let mut names = Vec::new();
        for item in items {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let b = self.bind_expr(e, &Ctx::Row(&rel))?;
                    names.push(item_name(e, &b, names.len()));
                    exprs.push(b);
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    exprs.push(self.bind_expr(expr, &Ctx::Row(&rel))?);
                    names.push(alias.value.clone());
                }
                SelectItem::Wildcard(opts) => {
                    reject_wildcard_options(opts, item.span())?;
                    for (i, c) in rel.columns.iter().enumerate() {
                        exprs.push(ScalarExpr::column(i, c.name.clone(), c.data_type));
                        names.push(c.name.clone());
                    }
                }
                SelectItem::QualifiedWildcard(kind, opts) => {
                    reject_wildcard_options(opts, item.span())?;
                    let q = kind.to_string();
                    let q = q.trim_end_matches(".*");
                    let before = exprs.len();
                    for (i, c) in rel.columns.iter().enumerate() {
                        if c.qualifier
                            .as_deref()
                            .is_some_and(|cq| cq.eq_ignore_ascii_case(q))
                        {
                            exprs.push(ScalarExpr::column(i, c.name.clone(), c.data_type));
                            names.push(c.name.clone());
                        }
                    }
                    if exprs.len() == before {
                        return Err(PlanError::at(
                            item.span(),
                            format!("no table or alias `{q}` in FROM"),
                        ));
                    }
                }
                SelectItem::ExprWithAliases { expr, .. } => {
                    return Err(PlanError::at(
                        expr.span(),
                        "multiple aliases for one expression are not supported",
                    ));
                }
            }
        }
        let mut out = project(rel.plan, exprs.clone(), names)?;
        out.time_attr = exprs.iter().position(|e| match e {
            ScalarExpr::Column { index, .. } => Some(*index) == rel.time_attr,
            ScalarExpr::RowTime => true,
            _ => false,
        });
        out.keys = exprs
            .iter()
            .enumerate()
            .filter_map(|(pos, e)| match e {
                ScalarExpr::Column { index, .. } if rel.keys.contains(index) => Some(pos),
                _ => None,
            })
            .collect();
        Ok(out)
    }

    fn bind_grouped(
        &mut self,
        s: &Select,
        group_exprs: &[Expr],
        rel: Relation,
    ) -> PlanResult<Relation> {
        if !rel.is_stream() {
            return Err(PlanError::at(
                s.select_token.0.span,
                "GROUP BY over a table is not supported",
            )
            .help("windowed aggregates read a stream (a source with an event_time)"));
        }
        let group_at = find_keyword(
            self.sql,
            "GROUP",
            group_exprs.first().map(|e| e.span().start),
        )
        .map(|l| Span::new(l, l));
        let mut window = None;
        let mut keys: Vec<ScalarExpr> = Vec::new();
        for e in group_exprs {
            if let Expr::Function(f) = e {
                let name = function_name(f);
                if name == "TUMBLE" || name == "HOP" {
                    if window.is_some() {
                        return Err(
                            PlanError::at(e.span(), "GROUP BY holds more than one window")
                                .help("group by exactly one TUMBLE(...) or HOP(...)"),
                        );
                    }
                    window = Some(parse_window_call(self, f, &name, &rel)?);
                    continue;
                }
                if name == "SESSION" || name == "CUMULATE" {
                    return Err(PlanError::at(
                        f.name.span(),
                        format!("{name} windows are not supported"),
                    )
                    .help("use TUMBLE(t, size) or HOP(t, slide, size)"));
                }
            }
            let bound = match self.bind_expr(e, &Ctx::Row(&rel)) {
                Ok(b) => b,
                Err(err) => match self.group_by_alias(e, &s.projection, &rel) {
                    Some(b) => b?,
                    None => return Err(err),
                },
            };
            if bound.data_type().is_collection() {
                return Err(PlanError::at(
                    e.span(),
                    format!("cannot group by `{e}`, which is {}", bound.data_type()),
                )
                .help("group by a scalar: an element (ElementAt(arr, 0)) or a count (CARDINALITY(arr))"));
            }
            if !keys.contains(&bound) {
                keys.push(bound);
            }
        }
        let Some(window) = window else {
            return Err(PlanError::at(
                group_at.unwrap_or(s.select_token.0.span),
                "GROUP BY needs a TUMBLE or HOP window in a streaming query",
            )
            .help("add a window: GROUP BY TUMBLE(event_time, INTERVAL '1' MINUTE), customer_id"));
        };
        for k in &keys {
            if k.data_type() == DataType::Null {
                return Err(PlanError::at(
                    group_at.unwrap_or(s.select_token.0.span),
                    "cannot group by an untyped NULL",
                ));
            }
        }
        let grouped = Grouped {
            input: &rel,
            window,
            keys: keys.clone(),
            aggs: RefCell::new(Vec::new()),
        };
        let ctx = Ctx::Grouped(&grouped);
        let having = match &s.having {
            Some(h) => {
                let b = self.bind_expr(h, &ctx)?;
                Some(self.require_bool(b, h.span(), "HAVING")?)
            }
            None => None,
        };
        let mut exprs = Vec::new();
        let mut names = Vec::new();
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) => {
                    let b = self.bind_expr(e, &ctx)?;
                    names.push(item_name(e, &b, names.len()));
                    exprs.push(b);
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    exprs.push(self.bind_expr(expr, &ctx)?);
                    names.push(alias.value.clone());
                }
                other => {
                    return Err(PlanError::at(
                        other.span(),
                        "SELECT * cannot be combined with GROUP BY",
                    )
                    .help("list the keys, window bounds and aggregates to output"));
                }
            }
        }
        let aggs = grouped.aggs.into_inner();
        let mut fields: Vec<Field> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| Field::new(key_name(k, i), k.data_type()))
            .collect();
        fields.push(Field::new("window_start", DataType::Timestamp));
        fields.push(Field::new("window_end", DataType::Timestamp));
        fields.extend(
            aggs.iter()
                .enumerate()
                .map(|(i, a)| Field::new(format!("agg{i}"), a.data_type)),
        );
        let nkeys = keys.len();
        let mut plan = LogicalPlan::WindowAggregate {
            input: Box::new(rel.plan),
            window,
            keys,
            aggs,
            schema: Schema::new(fields),
        };
        if let Some(h) = having {
            plan = LogicalPlan::Filter {
                input: Box::new(plan),
                predicate: h,
            };
        }
        let mut out = project(plan, exprs.clone(), names)?;
        out.time_attr = exprs.iter().position(|e| matches!(e, ScalarExpr::RowTime));
        out.keys = exprs
            .iter()
            .enumerate()
            .filter_map(|(pos, e)| match e {
                ScalarExpr::Column { index, .. } if *index < nkeys => Some(pos),
                _ => None,
            })
            .collect();
        Ok(out)
    }

    /// `GROUP BY bucket` where `bucket` is an alias from the SELECT list.
    fn group_by_alias(
        &mut self,
        e: &Expr,
        items: &[SelectItem],
        rel: &Relation,
    ) -> Option<PlanResult<ScalarExpr>> {
        let Expr::Identifier(id) = e else { return None };
        items.iter().find_map(|i| match i {
            SelectItem::ExprWithAlias { expr, alias }
                if alias.value.eq_ignore_ascii_case(&id.value) && !contains_aggregate(expr) =>
            {
                Some(self.bind_expr(expr, &Ctx::Row(rel)))
            }
            _ => None,
        })
    }

    pub(crate) fn require_bool(
        &self,
        e: ScalarExpr,
        span: Span,
        clause: &str,
    ) -> PlanResult<ScalarExpr> {
        match e.data_type() {
            DataType::Bool => Ok(e),
            DataType::Null => Ok(coerce::cast(e, DataType::Bool)),
            t => Err(PlanError::at(
                span,
                format!("{clause} needs a BOOLEAN condition, found {t}"),
            )
            .help("compare the value, e.g. `x > 0` or `x IS NOT NULL`")),
        }
    }

    fn bind_from(&mut self, from: &[TableWithJoins], select_span: Span) -> PlanResult<Relation> {
        match from {
            [] => Err(
                PlanError::at(select_span, "a query needs FROM with a stream")
                    .help("read a source: SELECT ... FROM bookings"),
            ),
            [one] => self.bind_table_with_joins(one),
            // `FROM s, LATERAL TABLE(f(...))`: a table function of each row.
            [first, second]
                if second.joins.is_empty()
                    && crate::bind_lateral::lateral_call(&second.relation).is_some() =>
            {
                let left = self.bind_table_with_joins(first)?;
                self.bind_lateral(left, &second.relation, false)
            }
            [_, second, ..] => Err(PlanError::at(
                second.relation.span(),
                "comma-separated FROM (an implicit cross join) is not supported",
            )
            .help("join with JOIN ... ON a.key = b.key")),
        }
    }

    fn bind_table_with_joins(&mut self, t: &TableWithJoins) -> PlanResult<Relation> {
        let mut rel = self.bind_table_factor(&t.relation)?;
        for j in &t.joins {
            rel = if Binder::is_lateral_join(j) {
                self.bind_lateral_join(rel, j)?
            } else {
                self.bind_join(rel, j)?
            };
        }
        Ok(rel)
    }

    fn bind_table_factor(&mut self, tf: &TableFactor) -> PlanResult<Relation> {
        match tf {
            TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    return Err(PlanError::at(
                        name.span(),
                        format!("table function `{name}` is not supported"),
                    )
                    .help(
                        "windows go in GROUP BY: GROUP BY TUMBLE(event_time, INTERVAL '1' MINUTE)",
                    ));
                }
                if name.0.len() != 1 {
                    return Err(PlanError::at(
                        name.span(),
                        format!("qualified table name `{name}` is not supported"),
                    )
                    .help("use the source's name as declared under `sources:`"));
                }
                let ident = name.0[0]
                    .as_ident()
                    .cloned()
                    .unwrap_or_else(|| sqlparser::ast::Ident::new(name.to_string()));
                let table = ident.value.clone();
                if self.first_table.is_none() {
                    self.first_table = Some(ident.span);
                }
                let rel = if let Some((_, r)) = self
                    .ctes
                    .iter()
                    .rev()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&table))
                {
                    r.clone().with_qualifier(&table)
                } else if let Some(src) = self.find_source(&table) {
                    let plan = LogicalPlan::Scan {
                        source: src.name.clone(),
                        schema: src.schema.clone(),
                        stream: src.time_col.is_some(),
                    };
                    let mut r = Relation::new(plan, Some(&table));
                    r.time_attr = src.time_col;
                    r
                } else {
                    let mut names: Vec<&str> =
                        self.sources.iter().map(|s| s.name.as_str()).collect();
                    names.extend(self.ctes.iter().map(|(n, _)| n.as_str()));
                    let help = match crate::suggest(&table, &names) {
                        Some(s) => format!("did you mean `{s}`? (tables: {})", names.join(", ")),
                        None => {
                            format!("declare it under `sources:` (tables: {})", names.join(", "))
                        }
                    };
                    return Err(PlanError::at(
                        ident.span,
                        format!("table `{table}` is not defined by any source"),
                    )
                    .help(help));
                };
                match alias {
                    Some(a) => apply_alias(rel, a),
                    None => Ok(rel),
                }
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                if *lateral {
                    return Err(PlanError::at(
                        tf.span(),
                        "LATERAL subqueries are not supported",
                    ));
                }
                let mut rel = self.bind_query(subquery)?;
                match alias {
                    Some(a) => apply_alias(rel, a),
                    None => {
                        for c in &mut rel.columns {
                            c.qualifier = None;
                        }
                        Ok(rel)
                    }
                }
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let rel = self.bind_table_with_joins(table_with_joins)?;
                match alias {
                    Some(a) => apply_alias(rel, a),
                    None => Ok(rel),
                }
            }
            other => Err(
                PlanError::at(other.span(), "this kind of FROM item is not supported")
                    .help("read a source, a WITH name, or a subquery"),
            ),
        }
    }

    fn find_source(&self, name: &str) -> Option<&SourceInfo> {
        self.sources.iter().find(|s| s.name == name).or_else(|| {
            self.sources
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
        })
    }

    fn bind_join(&mut self, left: Relation, j: &Join) -> PlanResult<Relation> {
        let right_span = j.relation.span();
        let kw_at = |kw: &str| {
            find_keyword(self.sql, kw, Some(right_span.start))
                .map(|l| Span::new(l, l))
                .unwrap_or(right_span)
        };
        let (kind, constraint) = match &j.join_operator {
            JoinOperator::Join(c) | JoinOperator::Inner(c) => (JoinKind::Inner, c),
            JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
            JoinOperator::Right(_) | JoinOperator::RightOuter(_) => {
                return Err(PlanError::at(kw_at("RIGHT"), "RIGHT JOIN is not supported")
                    .help("put the stream first and use LEFT JOIN: FROM stream LEFT JOIN table ON ..."));
            }
            JoinOperator::FullOuter(_) => {
                return Err(PlanError::at(kw_at("FULL"), "FULL JOIN is not supported")
                    .help("join a stream with a table using JOIN or LEFT JOIN"));
            }
            JoinOperator::CrossJoin(_) => {
                return Err(PlanError::at(kw_at("CROSS"), "CROSS JOIN is not supported")
                    .help("join on a key: JOIN table t ON s.key = t.key"));
            }
            _ => {
                return Err(
                    PlanError::at(kw_at("JOIN"), "this kind of join is not supported")
                        .help("use JOIN or LEFT JOIN with ON"),
                );
            }
        };
        let on = match constraint {
            JoinConstraint::On(e) => e,
            JoinConstraint::Using(_) | JoinConstraint::Natural => {
                return Err(PlanError::at(
                    kw_at("JOIN"),
                    "USING and NATURAL joins are not supported",
                )
                .help("write the condition: ON a.key = b.key"));
            }
            JoinConstraint::None => {
                return Err(PlanError::at(kw_at("JOIN"), "a join needs an ON condition")
                    .help("add ON a.key = b.key"));
            }
        };
        let right = self.bind_table_factor(&j.relation)?;
        match (left.is_stream(), right.is_stream()) {
            (true, false) => self.join_stream_table(left, right, kind, on, false),
            (false, true) if kind == JoinKind::Inner => self.join_stream_table(right, left, kind, on, true),
            (false, true) => Err(PlanError::at(kw_at("LEFT"), "LEFT JOIN with the table on the left is not supported")
                .help("a stream never ends, so the table's unmatched rows are never final; write FROM stream LEFT JOIN table")),
            (true, true) => Err(PlanError::at(right_span, format!("`{}` is a stream, and joining two streams is not supported", relation_name(&j.relation)))
                .help("join a stream with a bounded table (a source without event_time), or combine streams with UNION ALL")),
            (false, false) => Err(PlanError::at(right_span, format!("`{}` and the table before it are both tables; joining two tables is not supported", relation_name(&j.relation)))
                .help("a query reads a stream; join the stream with each table")),
        }
    }

    /// Joins `stream` with `table`. With `swapped`, the query wrote the table
    /// first, so the output puts its columns first.
    fn join_stream_table(
        &mut self,
        stream: Relation,
        table: Relation,
        kind: JoinKind,
        on: &Expr,
        swapped: bool,
    ) -> PlanResult<Relation> {
        let nl = stream.columns.len();
        let mut combined = Relation::new(
            LogicalPlan::Scan {
                source: String::new(),
                schema: Schema::default(),
                stream: true,
            },
            None,
        );
        combined.columns = stream
            .columns
            .iter()
            .chain(&table.columns)
            .cloned()
            .collect();
        combined.time_attr = stream.time_attr;
        let mut conjuncts = Vec::new();
        split_and(on, &mut conjuncts);
        let mut left_keys = Vec::new();
        let mut right_keys = Vec::new();
        let mut table_filters = Vec::new();
        let mut residual: Vec<ScalarExpr> = Vec::new();
        for c in conjuncts {
            let bound = self.bind_expr(c, &Ctx::Row(&combined))?;
            let bound = self.require_bool(bound, c.span(), "ON")?;
            let side = |e: &ScalarExpr| {
                let mut cols = Vec::new();
                e.columns(&mut cols);
                let left = cols.iter().any(|&i| i < nl) || e.uses_rowtime();
                let right = cols.iter().any(|&i| i >= nl);
                (left, right)
            };
            if let ScalarExpr::Binary {
                op: crate::expr::BinaryOp::Eq,
                left,
                right,
                ..
            } = &bound
            {
                match (side(left), side(right)) {
                    ((true, false), (false, true)) => {
                        left_keys.push((**left).clone());
                        right_keys.push(right.map_columns(&|i| i - nl));
                        continue;
                    }
                    ((false, true), (true, false)) => {
                        left_keys.push((**right).clone());
                        right_keys.push(left.map_columns(&|i| i - nl));
                        continue;
                    }
                    _ => {}
                }
            }
            match side(&bound) {
                (false, true) => table_filters.push(bound.map_columns(&|i| i - nl)),
                _ => residual.push(bound),
            }
        }
        if left_keys.is_empty() {
            return Err(PlanError::at(
                on.span(),
                "the join condition has no equality between a stream column and a table column",
            )
            .help("join on a key: ON e.user_id = u.id"));
        }
        let mut right_plan = table.plan;
        if let Some(f) = and_all(table_filters) {
            right_plan = LogicalPlan::Filter {
                input: Box::new(right_plan),
                predicate: f,
            };
        }
        let right_nullable = kind == JoinKind::Left;
        let fields: Vec<Field> = stream
            .schema()
            .fields
            .iter()
            .cloned()
            .chain(table.columns.iter().map(|c| Field {
                name: c.name.clone(),
                data_type: c.data_type,
                nullable: true,
            }))
            .map(|mut f| {
                if right_nullable {
                    f.nullable = true;
                }
                f
            })
            .collect();
        let plan = LogicalPlan::Join {
            left: Box::new(stream.plan),
            right: Box::new(right_plan),
            kind,
            left_keys,
            right_keys,
            residual: and_all(residual),
            schema: Schema::new(fields),
        };
        let mut rel = Relation::new(plan, None);
        rel.columns = combined.columns;
        rel.time_attr = stream.time_attr;
        if !swapped {
            return Ok(rel);
        }
        // Restore the written order: table columns first.
        let nt = rel.columns.len() - nl;
        let order: Vec<usize> = (nl..nl + nt).chain(0..nl).collect();
        let exprs: Vec<ScalarExpr> = order
            .iter()
            .map(|&i| ScalarExpr::column(i, rel.columns[i].name.clone(), rel.columns[i].data_type))
            .collect();
        let schema = Schema::new(
            order
                .iter()
                .map(|&i| rel.schema().fields[i].clone())
                .collect(),
        );
        let columns = order.iter().map(|&i| rel.columns[i].clone()).collect();
        let time_attr = rel.time_attr.map(|t| t + nt);
        Ok(Relation {
            plan: LogicalPlan::Project {
                input: Box::new(rel.plan),
                exprs,
                schema,
            },
            columns,
            time_attr,
            keys: Vec::new(),
        })
    }
}

/// The table name (or alias) of a FROM item, for messages.
fn relation_name(tf: &TableFactor) -> String {
    match tf {
        TableFactor::Table { name, .. } => name.to_string(),
        TableFactor::Derived { alias: Some(a), .. } => a.name.value.clone(),
        other => other.to_string(),
    }
}

fn reject_wildcard_options(
    opts: &sqlparser::ast::WildcardAdditionalOptions,
    span: Span,
) -> PlanResult<()> {
    if opts.opt_exclude.is_some()
        || opts.opt_except.is_some()
        || opts.opt_replace.is_some()
        || opts.opt_rename.is_some()
        || opts.opt_ilike.is_some()
    {
        return Err(PlanError::at(
            span,
            "wildcard modifiers (EXCLUDE, EXCEPT, REPLACE, RENAME) are not supported",
        )
        .help("list the columns you want"));
    }
    Ok(())
}

/// Splits `a AND b AND c` into its conjuncts.
fn split_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        Expr::Nested(inner) => split_and(inner, out),
        other => out.push(other),
    }
}

fn and_all(mut exprs: Vec<ScalarExpr>) -> Option<ScalarExpr> {
    let first = if exprs.is_empty() {
        return None;
    } else {
        exprs.remove(0)
    };
    Some(exprs.into_iter().fold(first, |acc, e| ScalarExpr::Binary {
        op: crate::expr::BinaryOp::And,
        left: Box::new(acc),
        right: Box::new(e),
        data_type: DataType::Bool,
    }))
}

/// Renames a relation's qualifier (and columns, for `AS t(a, b)`).
fn apply_alias(mut rel: Relation, alias: &TableAlias) -> PlanResult<Relation> {
    rel = rel.with_qualifier(&alias.name.value);
    if !alias.columns.is_empty() {
        if alias.columns.len() != rel.columns.len() {
            return Err(PlanError::at(
                alias.name.span,
                format!(
                    "`{}` names {} columns but the query has {}",
                    alias.name.value,
                    alias.columns.len(),
                    rel.columns.len()
                ),
            ));
        }
        let names: Vec<String> = alias.columns.iter().map(|c| c.name.value.clone()).collect();
        let exprs: Vec<ScalarExpr> = rel
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| ScalarExpr::column(i, c.name.clone(), c.data_type))
            .collect();
        let keys = rel.keys.clone();
        let time_attr = rel.time_attr;
        let mut renamed = project(rel.plan, exprs, names)?.with_qualifier(&alias.name.value);
        renamed.keys = keys;
        renamed.time_attr = time_attr;
        return Ok(renamed);
    }
    Ok(rel)
}

/// The schema of a projection: each expression's type under its name.
pub(crate) fn projection_schema(exprs: &[ScalarExpr], names: &[String]) -> Schema {
    Schema::new(
        exprs
            .iter()
            .zip(names)
            .map(|(e, n)| Field::new(n.clone(), e.data_type()))
            .collect(),
    )
}

/// A projection relation with the given output names.
fn project(input: LogicalPlan, exprs: Vec<ScalarExpr>, names: Vec<String>) -> PlanResult<Relation> {
    let schema = projection_schema(&exprs, &names);
    let plan = LogicalPlan::Project {
        input: Box::new(input),
        exprs,
        schema,
    };
    let mut rel = Relation::new(plan, None);
    for (c, n) in rel.columns.iter_mut().zip(names) {
        c.name = n;
        c.qualifier = None;
    }
    Ok(rel)
}

fn item_name(e: &Expr, bound: &ScalarExpr, position: usize) -> String {
    match e {
        Expr::Identifier(id) => id.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        _ => match bound {
            ScalarExpr::Column { .. } | ScalarExpr::RowTime if matches!(e, Expr::Identifier(_)) => {
                default_column_name(bound, position)
            }
            _ => format!("EXPR${position}"),
        },
    }
}

fn key_name(k: &ScalarExpr, i: usize) -> String {
    match k {
        ScalarExpr::Column { name, .. } => name.clone(),
        _ => format!("key{i}"),
    }
}
