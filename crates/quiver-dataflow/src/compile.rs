//! From a [`LogicalPlan`] to timely operators.
//!
//! | plan            | operators |
//! |-----------------|-----------|
//! | Scan            | the source's input stream |
//! | Filter          | `map_batches` with a predicate |
//! | Project         | `map_batches` evaluating expressions, `__time` carried along |
//! | WindowAggregate | evaluate keys and arguments → exchange by key → `window_aggregate` |
//! | Join            | `join` with the table arranged by differential dataflow |
//! | Lateral         | `map_batches` repeating rows per table-function row |
//! | Union           | `concatenate` |

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use quiver_sql::{LogicalPlan, ScalarExpr};
use quiver_types::{DataType, Field, Schema, Value};
use timely::dataflow::Scope;
use timely::dataflow::operators::Concatenate;

use crate::chunk::with_time;
use crate::error::DataflowError;
use crate::eval::{evaluate, evaluate_predicate, filter_batch};
use crate::join;
use crate::metrics::RunMetrics;
use crate::operators::{ChunkStream, ErrorSlot, exchange_by_key, map_batches, window_aggregate};
use crate::window_state::WindowState;

/// Builds the operators of one job's plan.
pub struct PlanBuilder<'a, 's> {
    /// The dataflow scope.
    pub scope: Scope<'s, i64>,
    /// Streams of the sources, by name.
    pub sources: &'a HashMap<String, ChunkStream<'s>>,
    /// Number of workers.
    pub peers: usize,
    /// Index of the job in the run (for metrics).
    pub job: usize,
    /// Run counters.
    pub metrics: Arc<RunMetrics>,
    /// Where operators report errors.
    pub errors: Arc<ErrorSlot>,
}

impl<'s> PlanBuilder<'_, 's> {
    /// The stream of `plan`'s rows (its columns plus `__time`).
    pub fn build(&self, plan: &LogicalPlan) -> Result<ChunkStream<'s>, DataflowError> {
        match plan {
            LogicalPlan::Scan { source, .. } => {
                self.sources.get(source).cloned().ok_or_else(|| {
                    DataflowError::Internal(format!("no input for source `{source}`"))
                })
            }
            LogicalPlan::Filter { input, predicate } => {
                let input = self.build(input)?;
                let predicate = predicate.clone();
                Ok(map_batches(
                    input,
                    "Filter",
                    self.errors.clone(),
                    move |b| {
                        let mask = evaluate_predicate(&predicate, b)?;
                        Ok(Some(filter_batch(b, &mask)?))
                    },
                ))
            }
            LogicalPlan::Project {
                input,
                exprs,
                schema,
            } => {
                let input = self.build(input)?;
                Ok(self.project(input, exprs.clone(), schema, "Project"))
            }
            LogicalPlan::WindowAggregate {
                input,
                window,
                keys,
                aggs,
                schema,
            } => {
                let input = self.build(input)?;
                // Keys and aggregate arguments are computed before the
                // exchange, so only the columns the aggregate needs move.
                let mut exprs = keys.clone();
                let mut fields: Vec<Field> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| Field::new(format!("k{i}"), k.data_type()))
                    .collect();
                for (j, a) in aggs.iter().enumerate() {
                    let e = a
                        .arg
                        .clone()
                        .unwrap_or(ScalarExpr::Literal(Value::Bool(true), DataType::Bool));
                    fields.push(Field::new(format!("a{j}"), e.data_type()));
                    exprs.push(e);
                }
                let prepared = self.project(input, exprs, &Schema::new(fields), "PrepareAggregate");
                let routed = exchange_by_key(
                    prepared,
                    (0..keys.len()).collect(),
                    self.peers,
                    self.errors.clone(),
                );
                let key_types: Vec<_> = keys.iter().map(|k| k.data_type().to_arrow()).collect();
                let state = WindowState::new(*window, &key_types, aggs.clone(), with_time(schema))?;
                Ok(window_aggregate(
                    routed,
                    state,
                    self.job,
                    self.metrics.clone(),
                    self.errors.clone(),
                ))
            }
            LogicalPlan::OverAggregate {
                input,
                partition,
                aggs,
                schema,
            } => {
                let width = input.schema().len();
                let built = self.build(input)?;
                // The row's columns, then partition keys and arguments, for the exchange and the state.
                let mut exprs: Vec<ScalarExpr> = input
                    .schema()
                    .fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| ScalarExpr::column(i, f.name.clone(), f.data_type))
                    .collect();
                let mut fields = input.schema().fields.clone();
                for (i, k) in partition.iter().enumerate() {
                    fields.push(Field::new(format!("k{i}"), k.data_type()));
                    exprs.push(k.clone());
                }
                for (j, (call, _)) in aggs.iter().enumerate() {
                    let e = call
                        .arg
                        .clone()
                        .unwrap_or(ScalarExpr::Literal(Value::Bool(true), DataType::Bool));
                    fields.push(Field::new(format!("a{j}"), e.data_type()));
                    exprs.push(e);
                }
                let prepared = self.project(built, exprs, &Schema::new(fields), "PrepareOver");
                // Rows of a GROUP BY on the same key already sit on the worker owning it.
                let routed = if partitioned_by(input)
                    .is_some_and(|cols| partition_columns(partition) == Some(cols))
                {
                    prepared
                } else {
                    exchange_by_key(
                        prepared,
                        (width..width + partition.len()).collect(),
                        self.peers,
                        self.errors.clone(),
                    )
                };
                let key_types: Vec<_> =
                    partition.iter().map(|k| k.data_type().to_arrow()).collect();
                let state = crate::over::OverState::new(
                    width,
                    &key_types,
                    aggs.clone(),
                    with_time(schema),
                )?;
                Ok(crate::operators::over_aggregate(
                    routed,
                    state,
                    self.errors.clone(),
                ))
            }
            LogicalPlan::Join {
                left,
                right,
                kind,
                left_keys,
                right_keys,
                residual,
                schema,
            } => {
                let stream = self.build(left)?;
                let table = self.build(right)?;
                join::join(
                    stream,
                    table,
                    join::JoinSpec {
                        kind: *kind,
                        left_keys: left_keys.clone(),
                        right_keys: right_keys.clone(),
                        residual: residual.clone(),
                        left_width: left.schema().len(),
                        right_schema: right.schema().clone(),
                        output: with_time(schema),
                    },
                    self.errors.clone(),
                )
            }
            LogicalPlan::Lateral {
                input,
                call,
                outer,
                schema,
            } => {
                let input = self.build(input)?;
                let (call, outer, out) = (call.clone(), *outer, with_time(schema));
                Ok(map_batches(
                    input,
                    "Lateral",
                    self.errors.clone(),
                    move |b| Ok(Some(crate::lateral::lateral(b, &call, outer, &out)?)),
                ))
            }
            LogicalPlan::Union { inputs, .. } => {
                let streams = inputs
                    .iter()
                    .map(|i| self.build(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(self.scope.concatenate(streams))
            }
        }
    }

    fn project(
        &self,
        input: ChunkStream<'s>,
        exprs: Vec<ScalarExpr>,
        schema: &Schema,
        name: &str,
    ) -> ChunkStream<'s> {
        let out = with_time(schema);
        map_batches(input, name, self.errors.clone(), move |b| {
            let mut cols: Vec<ArrayRef> = exprs
                .iter()
                .map(|e| evaluate(e, b))
                .collect::<Result<_, _>>()?;
            cols.push(b.column(b.num_columns() - 1).clone());
            Ok(Some(RecordBatch::try_new(out.clone(), cols)?))
        })
    }
}

/// The output columns by whose hash the plan's rows are already spread over
/// workers: a window aggregate's keys, followed through filters and column
/// projections.
pub(crate) fn partitioned_by(plan: &LogicalPlan) -> Option<Vec<usize>> {
    match plan {
        LogicalPlan::WindowAggregate { keys, .. } if !keys.is_empty() => {
            Some((0..keys.len()).collect())
        }
        // Rows stay on their input row's worker, columns where they were.
        LogicalPlan::Filter { input, .. } | LogicalPlan::Lateral { input, .. } => {
            partitioned_by(input)
        }
        LogicalPlan::Project { input, exprs, .. } => {
            let inner = partitioned_by(input)?;
            inner
                .iter()
                .map(|c| {
                    exprs
                        .iter()
                        .position(|e| matches!(e, ScalarExpr::Column { index, .. } if index == c))
                })
                .collect()
        }
        _ => None,
    }
}

/// The input columns partition expressions read, if they are plain columns.
fn partition_columns(partition: &[ScalarExpr]) -> Option<Vec<usize>> {
    partition
        .iter()
        .map(|e| match e {
            ScalarExpr::Column { index, .. } => Some(*index),
            _ => None,
        })
        .collect()
}

/// Whether the plan's rows of one event time come out in an order that does
/// not depend on arrival order (window results, possibly filtered, projected
/// or joined), so sinks need not sort them by content.
pub fn row_order(plan: &LogicalPlan) -> crate::sink_operator::RowOrder {
    fn canonical(p: &LogicalPlan) -> bool {
        match p {
            LogicalPlan::WindowAggregate { .. } | LogicalPlan::OverAggregate { .. } => true,
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::Project { input, .. }
            | LogicalPlan::Lateral { input, .. } => canonical(input),
            LogicalPlan::Join { left, .. } => canonical(left),
            LogicalPlan::Scan { .. } | LogicalPlan::Union { .. } => false,
        }
    }
    if canonical(plan) {
        crate::sink_operator::RowOrder::Canonical
    } else {
        crate::sink_operator::RowOrder::Hashed
    }
}

/// For every source, which of its declared columns the plans read.
pub fn required_columns(plans: &[&LogicalPlan]) -> HashMap<String, Vec<bool>> {
    let mut out = HashMap::new();
    for p in plans {
        let all = vec![true; p.schema().len()];
        require(p, &all, &mut out);
    }
    out
}

fn cols_of(exprs: &[&ScalarExpr], width: usize) -> Vec<bool> {
    let mut need = vec![false; width];
    for e in exprs {
        let mut cs = Vec::new();
        e.columns(&mut cs);
        for c in cs {
            if c < width {
                need[c] = true;
            }
        }
    }
    need
}

fn require(plan: &LogicalPlan, needed: &[bool], out: &mut HashMap<String, Vec<bool>>) {
    match plan {
        LogicalPlan::Scan { source, schema, .. } => {
            let entry = out
                .entry(source.clone())
                .or_insert_with(|| vec![false; schema.len()]);
            for (e, n) in entry.iter_mut().zip(needed) {
                *e |= *n;
            }
        }
        LogicalPlan::Filter { input, predicate } => {
            let mut n = cols_of(&[predicate], input.schema().len());
            for (a, b) in n.iter_mut().zip(needed) {
                *a |= *b;
            }
            require(input, &n, out);
        }
        LogicalPlan::Project { input, exprs, .. } => {
            let used: Vec<&ScalarExpr> = exprs
                .iter()
                .zip(needed)
                .filter(|(_, n)| **n)
                .map(|(e, _)| e)
                .collect();
            require(input, &cols_of(&used, input.schema().len()), out);
        }
        LogicalPlan::WindowAggregate {
            input, keys, aggs, ..
        } => {
            let mut all: Vec<&ScalarExpr> = keys.iter().collect();
            all.extend(aggs.iter().filter_map(|a| a.arg.as_ref()));
            require(input, &cols_of(&all, input.schema().len()), out);
        }
        LogicalPlan::OverAggregate {
            input,
            partition,
            aggs,
            ..
        } => {
            let width = input.schema().len();
            let mut n = needed[..width.min(needed.len())].to_vec();
            n.resize(width, false);
            let mut exprs: Vec<&ScalarExpr> = partition.iter().collect();
            exprs.extend(aggs.iter().filter_map(|(c, _)| c.arg.as_ref()));
            for (a, b) in n.iter_mut().zip(cols_of(&exprs, width)) {
                *a |= b;
            }
            require(input, &n, out);
        }
        LogicalPlan::Join {
            left,
            right,
            left_keys,
            right_keys,
            residual,
            ..
        } => {
            let nl = left.schema().len();
            let nr = right.schema().len();
            let mut both = cols_of(&residual.iter().collect::<Vec<_>>(), nl + nr);
            for (a, b) in both.iter_mut().zip(needed) {
                *a |= *b;
            }
            let mut l = cols_of(&left_keys.iter().collect::<Vec<_>>(), nl);
            for (a, b) in l.iter_mut().zip(&both[..nl]) {
                *a |= *b;
            }
            let mut r = cols_of(&right_keys.iter().collect::<Vec<_>>(), nr);
            for (a, b) in r.iter_mut().zip(&both[nl..]) {
                *a |= *b;
            }
            require(left, &l, out);
            // The table is stored whole for lookups; read all its columns.
            require(right, &vec![true; nr], out);
        }
        LogicalPlan::Union { inputs, .. } => {
            for i in inputs {
                require(i, needed, out);
            }
        }
        LogicalPlan::Lateral { input, call, .. } => {
            let width = input.schema().len();
            let mut n = cols_of(&call.args.iter().collect::<Vec<_>>(), width);
            for (a, b) in n.iter_mut().zip(needed) {
                *a |= *b;
            }
            require(input, &n, out);
        }
    }
}

/// The timely operators a plan becomes, one per line, inputs first.
pub fn describe(plan: &LogicalPlan) -> String {
    let mut out = String::new();
    describe_into(plan, 0, &mut out);
    out
}

fn describe_into(plan: &LogicalPlan, depth: usize, out: &mut String) {
    use std::fmt::Write;
    let pad = "  ".repeat(depth);
    for i in plan.inputs() {
        describe_into(i, depth + 1, out);
    }
    let _ = match plan {
        LogicalPlan::Scan {
            source,
            stream: true,
            ..
        } => writeln!(
            out,
            "{pad}input `{source}`: this worker's splits, each with its own watermark; frontier = least split watermark"
        ),
        LogicalPlan::Scan {
            source,
            stream: false,
            ..
        } => {
            writeln!(
                out,
                "{pad}input `{source}`: the whole table on every worker, at the earliest time"
            )
        }
        LogicalPlan::Filter { predicate, .. } => writeln!(out, "{pad}filter: {predicate}"),
        LogicalPlan::Project { exprs, .. } => {
            writeln!(out, "{pad}project: {} columns", exprs.len())
        }
        LogicalPlan::WindowAggregate {
            window, keys, aggs, ..
        } => {
            let _ = writeln!(
                out,
                "{pad}evaluate {} keys and {} aggregate arguments",
                keys.len(),
                aggs.len()
            );
            let _ = writeln!(out, "{pad}exchange rows to workers by hash of the keys");
            writeln!(
                out,
                "{pad}aggregate {window} in panes of {}; emit each window when the frontier passes its end, then free its panes",
                quiver_types::time::format_duration(window.pane())
            )
        }
        LogicalPlan::OverAggregate {
            partition, aggs, ..
        } => {
            let _ = writeln!(
                out,
                "{pad}evaluate {} partition keys and {} aggregate arguments",
                partition.len(),
                aggs.len()
            );
            let _ = writeln!(
                out,
                "{pad}exchange rows to workers by hash of the partition keys"
            );
            writeln!(
                out,
                "{pad}OVER aggregates: each row emitted with its frame's aggregates when the frontier passes it; rows leave memory when no frame holds them"
            )
        }
        LogicalPlan::Join { kind, .. } => writeln!(
            out,
            "{pad}{kind:?} join: table arranged (differential dataflow); each stream batch looks up the table as of its time"
        ),
        LogicalPlan::Union { inputs, .. } => {
            writeln!(out, "{pad}concatenate {} streams", inputs.len())
        }
        LogicalPlan::Lateral { call, outer, .. } => writeln!(
            out,
            "{pad}table function {call}: each row repeated per row it gives{}",
            if *outer {
                " (kept once with NULLs when it gives none)"
            } else {
                ""
            }
        ),
    };
}
