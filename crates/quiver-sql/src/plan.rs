//! The logical plan: relational operators over streams and tables.
//!
//! A *stream* is a relation whose rows carry an event time; a *table* is
//! bounded dimension data without one. Every operator below keeps the
//! stream's event time attached to each row, whether or not a visible
//! column holds it:
//!
//! * `Scan` of a stream: the source's `event_time` column.
//! * `WindowAggregate`: the window's end minus 1 ms (Flink's
//!   `TUMBLE_ROWTIME`), so a window's result belongs to the window.
//! * `Join` (stream with table): the stream row's time.
//! * `Lateral` (a table function's rows): the input row's time.
//! * `Filter`, `Project`, `Union`: unchanged.

use std::fmt::Write;
use std::sync::Arc;

use quiver_types::{DataType, Schema};

use crate::expr::{AggregateCall, ScalarExpr};
use crate::functions::TableFunction;
use crate::window::Window;

/// Which earlier rows of its partition an OVER aggregate sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OverFrame {
    /// Rows whose event time lies within `preceding` ms before the current
    /// row's (peers, rows with the same time, included); `None` is
    /// `UNBOUNDED PRECEDING`.
    Range {
        /// Width of the frame in ms.
        preceding: Option<i64>,
    },
    /// The `preceding` rows before the current one, in event-time order, and
    /// the current row.
    Rows {
        /// Number of earlier rows.
        preceding: u64,
    },
}

impl std::fmt::Display for OverFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OverFrame::Range {
                preceding: Some(ms),
            } => write!(
                f,
                "RANGE {} PRECEDING",
                quiver_types::time::format_duration(*ms)
            ),
            OverFrame::Range { preceding: None } => f.write_str("RANGE UNBOUNDED PRECEDING"),
            OverFrame::Rows { preceding } => write!(f, "ROWS {preceding} PRECEDING"),
        }
    }
}

/// How a stream is joined with a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// Only stream rows with a matching table row.
    Inner,
    /// Every stream row; table columns are NULL without a match.
    Left,
}

/// A relational operator tree.
#[derive(Debug, Clone, PartialEq)]
pub enum LogicalPlan {
    /// Reads a source.
    Scan {
        /// The source (table name in SQL).
        source: String,
        /// Its declared columns.
        schema: Schema,
        /// Whether it is a stream (has an event time) or a bounded table.
        stream: bool,
    },
    /// Keeps rows where the predicate is TRUE.
    Filter {
        /// Input.
        input: Box<LogicalPlan>,
        /// A BOOLEAN expression over the input.
        predicate: ScalarExpr,
    },
    /// Computes output columns.
    Project {
        /// Input.
        input: Box<LogicalPlan>,
        /// One expression per output column.
        exprs: Vec<ScalarExpr>,
        /// Output schema.
        schema: Schema,
    },
    /// Groups a stream by window and keys; emits each window once the
    /// watermark passes its end. Output columns: keys, `window_start`,
    /// `window_end`, then one column per aggregate.
    WindowAggregate {
        /// Input (a stream).
        input: Box<LogicalPlan>,
        /// The group window.
        window: Window,
        /// Grouping keys (besides the window).
        keys: Vec<ScalarExpr>,
        /// Aggregates.
        aggs: Vec<AggregateCall>,
        /// Output schema.
        schema: Schema,
    },
    /// Adds to every row aggregates over earlier rows of its partition (SQL
    /// `agg(x) OVER (PARTITION BY k ORDER BY rowtime RANGE ...)`). A row is
    /// emitted, with its aggregates, once the watermark passes its time.
    /// Output columns: the input's, then one per aggregate.
    OverAggregate {
        /// Input (a stream).
        input: Box<LogicalPlan>,
        /// Partition keys.
        partition: Vec<ScalarExpr>,
        /// Aggregates with their frames.
        aggs: Vec<(AggregateCall, OverFrame)>,
        /// Output schema.
        schema: Schema,
    },
    /// Joins a stream (left) with a table (right) on equality keys.
    Join {
        /// The stream.
        left: Box<LogicalPlan>,
        /// The table.
        right: Box<LogicalPlan>,
        /// Inner or left outer.
        kind: JoinKind,
        /// Key expressions over the left input.
        left_keys: Vec<ScalarExpr>,
        /// Key expressions over the right input (same types as `left_keys`).
        right_keys: Vec<ScalarExpr>,
        /// Further conditions a pair must meet, over left columns followed by right columns.
        residual: Option<ScalarExpr>,
        /// Output schema: left columns, then right columns.
        schema: Schema,
    },
    /// Each input row followed by each row a table function makes of it
    /// (`LATERAL TABLE(f(args)) AS t(cols)`).
    Lateral {
        /// Input.
        input: Box<LogicalPlan>,
        /// The function and its arguments over the input's columns.
        call: TableCall,
        /// Keep an input row the function makes no row of, once, with
        /// NULLs (`LEFT JOIN LATERAL ... ON TRUE`).
        outer: bool,
        /// Output schema: the input's columns, then the function's.
        schema: Schema,
    },
    /// Concatenates streams with the same column types.
    Union {
        /// Inputs.
        inputs: Vec<LogicalPlan>,
        /// Output schema (names of the first input).
        schema: Schema,
    },
}

impl LogicalPlan {
    /// The output columns.
    pub fn schema(&self) -> &Schema {
        match self {
            LogicalPlan::Scan { schema, .. }
            | LogicalPlan::Project { schema, .. }
            | LogicalPlan::WindowAggregate { schema, .. }
            | LogicalPlan::OverAggregate { schema, .. }
            | LogicalPlan::Join { schema, .. }
            | LogicalPlan::Lateral { schema, .. }
            | LogicalPlan::Union { schema, .. } => schema,
            LogicalPlan::Filter { input, .. } => input.schema(),
        }
    }

    /// Whether rows carry an event time.
    pub fn is_stream(&self) -> bool {
        match self {
            LogicalPlan::Scan { stream, .. } => *stream,
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::Project { input, .. }
            | LogicalPlan::Lateral { input, .. } => input.is_stream(),
            LogicalPlan::WindowAggregate { .. } => true,
            LogicalPlan::OverAggregate { input, .. } => input.is_stream(),
            LogicalPlan::Join { left, .. } => left.is_stream(),
            LogicalPlan::Union { inputs, .. } => inputs.iter().all(LogicalPlan::is_stream),
        }
    }

    /// Direct inputs.
    pub fn inputs(&self) -> Vec<&LogicalPlan> {
        match self {
            LogicalPlan::Scan { .. } => vec![],
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::Project { input, .. }
            | LogicalPlan::WindowAggregate { input, .. }
            | LogicalPlan::OverAggregate { input, .. }
            | LogicalPlan::Lateral { input, .. } => vec![input],
            LogicalPlan::Join { left, right, .. } => vec![left, right],
            LogicalPlan::Union { inputs, .. } => inputs.iter().collect(),
        }
    }

    /// Names of the sources read, without repeats, in first-read order.
    pub fn sources(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(&mut |p| {
            if let LogicalPlan::Scan { source, .. } = p
                && !out.contains(source)
            {
                out.push(source.clone());
            }
        });
        out
    }

    /// Renames the sources this plan scans (`f` maps old names to new).
    pub fn rename_sources(&mut self, f: &dyn Fn(&str) -> String) {
        match self {
            LogicalPlan::Scan { source, .. } => *source = f(source),
            LogicalPlan::Filter { input, .. }
            | LogicalPlan::Project { input, .. }
            | LogicalPlan::WindowAggregate { input, .. }
            | LogicalPlan::OverAggregate { input, .. }
            | LogicalPlan::Lateral { input, .. } => input.rename_sources(f),
            LogicalPlan::Join { left, right, .. } => {
                left.rename_sources(f);
                right.rename_sources(f);
            }
            LogicalPlan::Union { inputs, .. } => {
                inputs.iter_mut().for_each(|i| i.rename_sources(f))
            }
        }
    }

    /// Calls `f` on every operator, inputs first.
    pub fn visit(&self, f: &mut dyn FnMut(&LogicalPlan)) {
        for i in self.inputs() {
            i.visit(f);
        }
        f(self);
    }

    /// How much event time before an interval's start must be read to
    /// compute the interval's first windows completely: the sum, along the
    /// deepest chain, of window sizes.
    pub fn lookback(&self) -> i64 {
        let below = self
            .inputs()
            .iter()
            .map(|i| i.lookback())
            .max()
            .unwrap_or(0);
        match self {
            LogicalPlan::WindowAggregate { window, .. } => below + window.size(),
            // Unbounded and row-count frames may reach back to the first event.
            LogicalPlan::OverAggregate { aggs, .. } => aggs
                .iter()
                .map(|(_, f)| match f {
                    OverFrame::Range {
                        preceding: Some(ms),
                    } => below.saturating_add(*ms),
                    _ => i64::MAX / 4,
                })
                .max()
                .unwrap_or(below),
            _ => below,
        }
    }

    /// Whether any operator aggregates.
    pub fn is_windowed(&self) -> bool {
        let mut found = false;
        self.visit(&mut |p| found |= matches!(p, LogicalPlan::WindowAggregate { .. }));
        found
    }

    /// A readable tree of the plan, one operator per line.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        self.explain_into(&mut out, 0);
        out
    }

    fn explain_into(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        let cols = |s: &Schema| {
            s.fields
                .iter()
                .map(|f| format!("{} {}", f.name, f.data_type))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = match self {
            LogicalPlan::Scan {
                source,
                schema,
                stream,
            } => writeln!(
                out,
                "{pad}Scan {source} ({}) [{}]",
                if *stream { "stream" } else { "table" },
                cols(schema)
            ),
            LogicalPlan::Filter { predicate, .. } => writeln!(out, "{pad}Filter {predicate}"),
            LogicalPlan::Project { exprs, schema, .. } => {
                let items: Vec<String> = exprs
                    .iter()
                    .zip(&schema.fields)
                    .map(|(e, f)| format!("{e} AS {}", f.name))
                    .collect();
                writeln!(out, "{pad}Project {}", items.join(", "))
            }
            LogicalPlan::WindowAggregate {
                window, keys, aggs, ..
            } => {
                let k: Vec<String> = keys.iter().map(|e| e.to_string()).collect();
                let a: Vec<String> = aggs.iter().map(|e| e.to_string()).collect();
                writeln!(
                    out,
                    "{pad}WindowAggregate {window} keys=[{}] aggs=[{}] (emits when the watermark passes the window end)",
                    k.join(", "),
                    a.join(", ")
                )
            }
            LogicalPlan::OverAggregate {
                partition, aggs, ..
            } => {
                let k: Vec<String> = partition.iter().map(|e| e.to_string()).collect();
                let a: Vec<String> = aggs
                    .iter()
                    .map(|(c, f)| format!("{c} OVER ({f})"))
                    .collect();
                writeln!(
                    out,
                    "{pad}OverAggregate partition=[{}] aggs=[{}] (emits each row when the watermark passes it)",
                    k.join(", "),
                    a.join(", ")
                )
            }
            LogicalPlan::Join {
                kind,
                left_keys,
                right_keys,
                residual,
                ..
            } => {
                let k: Vec<String> = left_keys
                    .iter()
                    .zip(right_keys)
                    .map(|(l, r)| format!("{l} = {r}"))
                    .collect();
                let extra = residual
                    .as_ref()
                    .map(|r| format!(" AND {r}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{pad}{kind:?}Join (stream with table) ON {}{extra}",
                    k.join(" AND ")
                )
            }
            LogicalPlan::Union { inputs, .. } => {
                writeln!(out, "{pad}UnionAll of {} streams", inputs.len())
            }
            LogicalPlan::Lateral { call, outer, .. } => writeln!(
                out,
                "{pad}{}Lateral {call}",
                if *outer { "Left" } else { "" }
            ),
        };
        for i in self.inputs() {
            i.explain_into(out, depth + 1);
        }
    }
}

/// A table function applied to arguments.
#[derive(Debug, Clone)]
pub struct TableCall {
    /// The function.
    pub func: Arc<dyn TableFunction>,
    /// Its arguments, over the input's columns.
    pub args: Vec<ScalarExpr>,
}

impl PartialEq for TableCall {
    fn eq(&self, other: &TableCall) -> bool {
        self.func.name() == other.func.name() && self.args == other.args
    }
}

impl std::fmt::Display for TableCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let args: Vec<String> = self.args.iter().map(|a| a.to_string()).collect();
        write!(f, "{}({})", self.func.name(), args.join(", "))
    }
}

/// The name the output of an expression gets when it has no alias.
pub fn default_column_name(e: &ScalarExpr, position: usize) -> String {
    match e {
        ScalarExpr::Column { name, .. } => name.clone(),
        ScalarExpr::RowTime => "rowtime".into(),
        _ => format!("EXPR${position}"),
    }
}

/// True for types a stored column may have.
pub fn is_storable(t: DataType) -> bool {
    t != DataType::Null
}
