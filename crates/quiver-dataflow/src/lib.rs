//! Quiver's engine: a job's logical plan run as a timely dataflow over
//! Arrow record batches, with event time as the timely timestamp.
//!
//! The pieces, in the order data meets them:
//!
//! * [`source`]: what a source provides (splits with their own watermark)
//!   and the lateness rule; [`executor`] reads splits, drops late rows, and
//!   advances each input to its watermark, which becomes timely's frontier.
//! * [`chunk`]: the unit of data, an Arrow batch whose last column is the
//!   event time `__time`.
//! * [`eval`] and [`cast`]: vectorized SQL expressions over batches.
//! * [`window_state`] with [`accumulator`], [`group_table`] and
//!   [`exact_sum`]: windowed aggregation in panes; a window is emitted once
//!   the frontier passes its end and its state is released.
//! * [`join`]: stream–table joins against a differential-dataflow
//!   arrangement of the table.
//! * [`operators`]: the timely operators; [`sink_operator`]: the stage that
//!   hands rows to writers in a deterministic order.
//! * [`compile`]: plan → operators; [`executor::run`] runs jobs on N workers.
//!
//! Results do not depend on the number of workers or on arrival order:
//! lateness is judged per split, keys are routed by a fixed hash, sums of
//! doubles are exact until rounded once, and sinks receive rows sorted by
//! event time and row hash.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Float64Array, Int64Array, RecordBatch, TimestampMillisecondArray};
//! use quiver_dataflow::{executor, memory::{CollectSink, MemorySource}, metrics::RunMetrics, source::SourceDef};
//! use quiver_sql::{Registry, SourceInfo, Binder};
//! use quiver_types::{DataType, Field, Schema};
//!
//! let schema = Schema::new(vec![Field::new("t", DataType::Timestamp), Field::new("k", DataType::Int64), Field::new("x", DataType::Float64)]);
//! let batch = RecordBatch::try_new(schema.to_arrow(), vec![
//!     Arc::new(TimestampMillisecondArray::from(vec![0, 30_000, 60_000]).with_timezone("UTC")),
//!     Arc::new(Int64Array::from(vec![1, 1, 1])),
//!     Arc::new(Float64Array::from(vec![1.0, 2.0, 4.0])),
//! ]).unwrap();
//! let sql = "SELECT k, SUM(x) AS s FROM e GROUP BY TUMBLE(t, INTERVAL '1' MINUTE), k";
//! let sources = [SourceInfo { name: "e".into(), schema: schema.clone(), time_col: Some(0) }];
//! let registry = Registry::new();
//! let ast = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, sql).unwrap();
//! let sqlparser::ast::Statement::Query(q) = &ast[0] else { unreachable!() };
//! let rel = Binder::new(sql, &sources, &registry).bind_query(q).unwrap();
//! let job = quiver_sql::CompiledJob { name: "j".into(), output: rel.plan.schema().clone(), plan: rel.plan, entity: vec![0] };
//! let out = CollectSink::default();
//! let source = SourceDef { name: "e".into(), schema, time_col: Some(0), watermark_delay: 0,
//!     provider: Arc::new(MemorySource { splits: vec![vec![batch]] }) };
//! let metrics = Arc::new(RunMetrics::new(1, 1, 1));
//! executor::run(vec![executor::JobRun { job, sinks: vec![Arc::new(out.clone())], postprocess: None, rejects: None }], vec![source],
//!     executor::RunOptions { workers: 1, start: None, end: None, live: None }, metrics).unwrap();
//! let rows: usize = out.batches.lock().unwrap().iter().map(|b| b.num_rows()).sum();
//! assert_eq!(rows, 2); // the windows [0, 60s) with sum 3 and [60s, 120s) with sum 4
//! ```

pub mod accumulator;
pub mod cast;
pub mod chunk;
pub mod compile;
pub mod error;
pub mod eval;
pub mod exact_sum;
pub mod executor;
pub mod group_table;
mod hash;
pub mod join;
pub mod lateral;
pub mod memory;
pub mod metrics;
pub mod operators;
pub mod over;
pub mod postprocess;
pub mod sink;
pub mod sink_operator;
pub mod source;
pub mod window_state;

pub use error::DataflowError;
pub use executor::{JobRun, RunOptions, run};
