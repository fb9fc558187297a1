//! Joining a stream with a bounded table.
//!
//! The table is a differential-dataflow collection of `(key, row)` pairs —
//! both encoded in Arrow's row format — arranged into a trace on every
//! worker (each worker reads the whole table, so stream rows never move).
//! A stream batch at time `t` waits until the arrangement is complete up to
//! `t`, then each row looks its key up in the trace and sees the table *as
//! of `t`*: updates at times after `t` are not visible. For a table read from
//! files, every row is at the earliest time, so this is a plain lookup; a
//! table that changes over time (a changelog) joins each event with the
//! version current at the event's time.
//!
//! NULL keys never match. A LEFT join emits a stream row whose key has no
//! match (or whose matches all fail the residual condition) once, with NULL
//! table columns.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take};
use arrow::datatypes::SchemaRef;
use arrow::row::{RowConverter, SortField};
use differential_dataflow::operators::arrange::arrangement::arrange_core;
use differential_dataflow::trace::TraceReader;
use differential_dataflow::trace::cursor::{Cursor, cursor_list};
use differential_dataflow::trace::implementations::ord_neu::{OrdValBatcher, OrdValSpine};
use quiver_sql::{JoinKind, ScalarExpr};
use quiver_types::Schema;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;
use timely::progress::Antichain;

use crate::chunk::Chunk;
use crate::error::DataflowError;
use crate::eval::{evaluate, evaluate_predicate};
use crate::operators::{ChunkStream, ErrorSlot};

type Key = Vec<u8>;
type Row = Vec<u8>;
type Update = ((Key, Row), i64, isize);
type TableSpine = OrdValSpine<Key, Row, i64, isize>;

/// What a join needs to know about its inputs.
pub struct JoinSpec {
    /// Inner or left.
    pub kind: JoinKind,
    /// Key expressions over stream rows.
    pub left_keys: Vec<ScalarExpr>,
    /// Key expressions over table rows.
    pub right_keys: Vec<ScalarExpr>,
    /// Extra condition over stream columns followed by table columns.
    pub residual: Option<ScalarExpr>,
    /// Number of stream columns.
    pub left_width: usize,
    /// Table columns.
    pub right_schema: Schema,
    /// Output schema (stream columns, table columns, `__time`).
    pub output: SchemaRef,
}

/// Joins `stream` with `table` (see the module docs).
pub fn join<'s>(
    stream: ChunkStream<'s>,
    table: ChunkStream<'s>,
    spec: JoinSpec,
    errors: Arc<ErrorSlot>,
) -> Result<ChunkStream<'s>, DataflowError> {
    let key_fields: Vec<SortField> = spec
        .right_keys
        .iter()
        .map(|k| SortField::new(k.data_type().to_arrow()))
        .collect();
    let row_fields: Vec<SortField> = spec
        .right_schema
        .fields
        .iter()
        .map(|f| SortField::new(f.data_type.to_arrow()))
        .collect();
    let key_codec = Arc::new(RowConverter::new(key_fields)?);
    let row_codec = Arc::new(RowConverter::new(row_fields)?);

    // The table as a collection of (key, row) updates.
    let (kc, rc, err) = (key_codec.clone(), row_codec.clone(), errors.clone());
    let right_keys = spec.right_keys.clone();
    let updates = table.unary::<CapacityContainerBuilder<Vec<Update>>, _, _, _>(
        Pipeline,
        "TableRows",
        move |_cap, _info| {
            move |input, output| {
                input.for_each_stamp(|cap, data| {
                    let Some(&t) = cap.least() else { return };
                    let mut session = output.session(&cap);
                    for chunk in data.flat_map(|d| d.drain(..)) {
                        match encode_table(&chunk.0, &right_keys, &kc, &rc) {
                            Ok(rows) => {
                                for (k, r) in rows {
                                    session.give(((k, r), t, 1isize));
                                }
                            }
                            Err(e) => err.set(e),
                        }
                    }
                });
            }
        },
    );
    let arranged = arrange_core::<_, _, OrdValBatcher<Key, Row, i64, isize>, TableSpine>(
        updates,
        Pipeline,
        "ArrangeTable",
        OrdValBatcher::new,
    );
    let mut trace = arranged.trace.clone();

    let out = stream.binary_frontier::<_, CapacityContainerBuilder<Vec<Chunk>>, _, _, _, _>(
        arranged.stream,
        Pipeline,
        Pipeline,
        "JoinTable",
        move |_cap, _info| {
            let mut stash: Vec<(Capability<i64>, Chunk)> = Vec::new();
            move |(input1, frontier1), (input2, frontier2), output| {
                input1.for_each_stamp(|cap, data| {
                    let Some(c) = cap.retain_least(0) else { return };
                    for chunk in data.flat_map(|d| d.drain(..)) {
                        stash.push((c.clone(), chunk));
                    }
                });
                input2.for_each_stamp(|_cap, data| data.for_each(|d| d.clear()));
                // A batch at time t may be joined once the table is complete through t.
                let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut stash)
                    .into_iter()
                    .partition(|(c, _)| !frontier2.less_equal(c.time()));
                stash = waiting;
                if !ready.is_empty() && !errors.failed() {
                    let upper = frontier2.frontier().to_owned();
                    match trace.batches_through(upper.borrow()) {
                        Some(batches) => {
                            let (mut cursor, storage) = cursor_list(batches);
                            for (cap, chunk) in ready {
                                match probe(
                                    &chunk.0,
                                    *cap.time(),
                                    &spec,
                                    &key_codec,
                                    &row_codec,
                                    &mut cursor,
                                    &storage,
                                ) {
                                    Ok(Some(b)) => output.session(&cap).give(Chunk(b)),
                                    Ok(None) => {}
                                    Err(e) => errors.set(e),
                                }
                            }
                        }
                        None => errors.set(DataflowError::Internal(
                            "table arrangement is not readable at its frontier".into(),
                        )),
                    }
                }
                // Later lookups happen at times the stream has not passed yet.
                let mut compaction = Antichain::new();
                for t in frontier1
                    .frontier()
                    .iter()
                    .chain(stash.iter().map(|(c, _)| c.time()))
                {
                    compaction.insert(*t);
                }
                trace.set_logical_compaction(compaction.borrow());
                trace.set_physical_compaction(frontier2.frontier());
            }
        },
    );
    Ok(out)
}

/// Encodes table rows whose key has no NULL as (key bytes, row bytes).
fn encode_table(
    b: &RecordBatch,
    keys: &[ScalarExpr],
    kc: &RowConverter,
    rc: &RowConverter,
) -> Result<Vec<(Key, Row)>, DataflowError> {
    let key_cols: Vec<ArrayRef> = keys
        .iter()
        .map(|k| evaluate(k, b))
        .collect::<Result<_, _>>()?;
    let key_rows = kc.convert_columns(&key_cols)?;
    let value_rows = rc.convert_columns(&b.columns()[..b.num_columns() - 1])?;
    Ok((0..b.num_rows())
        .filter(|&i| key_cols.iter().all(|c| c.is_valid(i)))
        .map(|i| {
            (
                key_rows.row(i).data().to_vec(),
                value_rows.row(i).data().to_vec(),
            )
        })
        .collect())
}

/// Looks every row of a stream batch up in the table as of `time`.
fn probe<C>(
    b: &RecordBatch,
    time: i64,
    spec: &JoinSpec,
    kc: &RowConverter,
    rc: &RowConverter,
    cursor: &mut C,
    storage: &C::Storage,
) -> Result<Option<RecordBatch>, DataflowError>
where
    C: for<'a> Cursor<
            Key<'a> = &'a Key,
            Val<'a> = &'a Row,
            TimeGat<'a> = &'a i64,
            DiffGat<'a> = &'a isize,
        >,
{
    let n = b.num_rows();
    let key_cols: Vec<ArrayRef> = spec
        .left_keys
        .iter()
        .map(|k| evaluate(k, b))
        .collect::<Result<_, _>>()?;
    let keys = kc.convert_columns(&key_cols)?;
    let mut order: Vec<u32> = (0..n as u32)
        .filter(|&i| key_cols.iter().all(|c| c.is_valid(i as usize)))
        .collect();
    order.sort_unstable_by(|&a, &b| keys.row(a as usize).cmp(&keys.row(b as usize)));
    // Matches as (stream row, table row bytes).
    let mut left_idx: Vec<u32> = Vec::new();
    let mut right_rows: Vec<Row> = Vec::new();
    cursor.rewind_keys(storage);
    for &i in &order {
        let key: Key = keys.row(i as usize).data().to_vec();
        cursor.seek_key(storage, &key);
        if cursor.get_key(storage) != Some(&key) {
            continue;
        }
        cursor.rewind_vals(storage);
        while let Some(val) = cursor.get_val(storage) {
            let mut count = 0isize;
            cursor.map_times(storage, |t, d| {
                if *t <= time {
                    count += *d;
                }
            });
            for _ in 0..count.max(0) {
                left_idx.push(i);
                right_rows.push(val.clone());
            }
            cursor.step_val(storage);
        }
    }
    let mut parts: Vec<RecordBatch> = Vec::new();
    let mut matched = vec![false; n];
    if !left_idx.is_empty() {
        let parser = rc.parser();
        let right_cols = rc.convert_rows(right_rows.iter().map(|r| parser.parse(r)))?;
        let mut batch = assemble(
            b,
            &UInt32Array::from(left_idx.clone()),
            right_cols,
            &spec.output,
        )?;
        if let Some(res) = &spec.residual {
            let mask = evaluate_predicate(res, &batch)?;
            for (k, &i) in left_idx.iter().enumerate() {
                if mask.value(k) {
                    matched[i as usize] = true;
                }
            }
            batch = arrow::compute::filter_record_batch(&batch, &mask)?;
        } else {
            for &i in &left_idx {
                matched[i as usize] = true;
            }
        }
        parts.push(batch);
    }
    if spec.kind == JoinKind::Left {
        let unmatched: Vec<u32> = (0..n as u32).filter(|&i| !matched[i as usize]).collect();
        if !unmatched.is_empty() {
            let nulls: Vec<ArrayRef> = spec
                .right_schema
                .fields
                .iter()
                .map(|f| arrow::array::new_null_array(&f.data_type.to_arrow(), unmatched.len()))
                .collect();
            parts.push(assemble(
                b,
                &UInt32Array::from(unmatched),
                nulls,
                &spec.output,
            )?);
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(concat_batches(&spec.output, parts.iter())?))
}

/// Stream columns at `left` rows, then `right` columns, then the stream's `__time`.
fn assemble(
    b: &RecordBatch,
    left: &UInt32Array,
    right: Vec<ArrayRef>,
    output: &SchemaRef,
) -> Result<RecordBatch, DataflowError> {
    let width = b.num_columns() - 1;
    let mut cols: Vec<ArrayRef> = b.columns()[..width]
        .iter()
        .map(|c| take(c.as_ref(), left, None))
        .collect::<Result<_, _>>()?;
    cols.extend(right);
    cols.push(take(b.column(width).as_ref(), left, None)?);
    Ok(RecordBatch::try_new(output.clone(), cols)?)
}
