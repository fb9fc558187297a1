//! The state of a windowed aggregation: panes of partial aggregates,
//! merged into windows when the watermark passes a window's end.
//!
//! Rows are added to the pane containing their event time. For a tumbling
//! window a pane *is* the window; for a hopping window of size `s` and slide
//! `d`, panes are `gcd(s, d)` wide and a window merges its `s / gcd` panes
//! when it is emitted ("panes merged on emit"), so each row is aggregated
//! once rather than once per window containing it.
//!
//! A pane is dropped as soon as the last window containing it has been
//! emitted, so memory is bounded by the windows open at the watermark, not
//! by the length of the history.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray};
use arrow::datatypes::SchemaRef;
use quiver_sql::{AggregateCall, Window};
use quiver_types::time::window_start;

use crate::accumulator::{GroupAccumulator, new_accumulator};
use crate::error::DataflowError;
use crate::eval::time_column;
use crate::group_table::{GroupTable, KeyCodec};

struct Pane {
    groups: GroupTable,
    accs: Vec<Box<dyn GroupAccumulator>>,
}

/// Windowed aggregation state of one worker.
///
/// Input batches hold the key columns, then one argument column per
/// aggregate (any column for `COUNT(*)`), then `__time`. Output batches hold
/// the key columns, `window_start`, `window_end`, one column per aggregate,
/// then `__time` = `window_end - 1`; one batch per window, its rows in the
/// canonical order of [`GroupTable::canonical_order`], so output files do
/// not depend on the order in which rows arrived.
pub struct WindowState {
    window: Window,
    nkeys: usize,
    codec: KeyCodec,
    aggs: Vec<AggregateCall>,
    panes: BTreeMap<i64, Pane>,
    /// Ends of windows holding data that have not been emitted.
    pending: BTreeSet<i64>,
    output: SchemaRef,
    /// Without GROUP BY keys, every row shares one constant key.
    keyless: bool,
    scratch_groups: Vec<u32>,
    /// Groups in the most recently emitted pane (a sizing hint).
    last_pane_groups: usize,
}

impl WindowState {
    /// State for `aggs` over `window`, grouped by keys of the given Arrow
    /// types; `output` is the schema of emitted batches.
    pub fn new(
        window: Window,
        key_types: &[arrow::datatypes::DataType],
        aggs: Vec<AggregateCall>,
        output: SchemaRef,
    ) -> Result<WindowState, DataflowError> {
        let keyless = key_types.is_empty();
        Ok(WindowState {
            window,
            nkeys: key_types.len(),
            codec: KeyCodec::new(key_types)?,
            aggs,
            panes: BTreeMap::new(),
            pending: BTreeSet::new(),
            output,
            keyless,
            scratch_groups: Vec::new(),
            last_pane_groups: 0,
        })
    }

    /// Number of open panes (for tests of memory release).
    pub fn open_panes(&self) -> usize {
        self.panes.len()
    }

    /// The earliest window end not yet emitted.
    pub fn next_end(&self) -> Option<i64> {
        self.pending.first().copied()
    }

    /// Adds a batch of rows.
    pub fn insert(&mut self, batch: &RecordBatch) -> Result<(), DataflowError> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let (keys, hashes) = self.codec.encode(&batch.columns()[..self.nkeys], n)?;
        let times = time_column(batch).values();
        let pane_width = self.window.pane();
        // Rows mostly arrive in time order: bucket them by pane, keeping order.
        let mut buckets: Vec<(i64, Vec<u32>)> = Vec::new();
        for (i, &t) in times.iter().enumerate() {
            let p = window_start(t, pane_width);
            match buckets.iter_mut().rev().find(|(q, _)| *q == p) {
                Some((_, v)) => v.push(i as u32),
                None => buckets.push((p, vec![i as u32])),
            }
        }
        let args: Vec<Option<&ArrayRef>> = self
            .aggs
            .iter()
            .enumerate()
            .map(|(j, a)| a.arg.as_ref().map(|_| batch.column(self.nkeys + j)))
            .collect();
        for (p, idx) in buckets {
            if !self.panes.contains_key(&p) {
                for end in self.window.window_ends_of_pane(p) {
                    self.pending.insert(end);
                }
                // Panes of one window size hold similar numbers of keys: size the
                // table like the last one to avoid regrowing it.
                let pane = Pane {
                    groups: self.codec.table(self.last_pane_groups),
                    accs: self.aggs.iter().map(new_accumulator).collect(),
                };
                self.panes.insert(p, pane);
            }
            let pane = self.panes.get_mut(&p).expect("pane exists");
            let groups = &mut self.scratch_groups;
            groups.clear();
            groups.extend(
                idx.iter()
                    .map(|&r| pane.groups.intern(&keys, r as usize, hashes[r as usize])),
            );
            let len = pane.groups.len();
            for (acc, arg) in pane.accs.iter_mut().zip(&args) {
                acc.resize(len);
                acc.update(*arg, times, &idx, groups);
            }
        }
        Ok(())
    }

    /// Emits every window whose end is at most `frontier`, in order of end,
    /// as `(window end, batch)`, and releases panes no window still needs.
    pub fn emit(&mut self, frontier: i64) -> Result<Vec<(i64, RecordBatch)>, DataflowError> {
        let ready: Vec<i64> = self.pending.range(..=frontier).copied().collect();
        let mut out = Vec::with_capacity(ready.len());
        for end in ready {
            self.pending.remove(&end);
            if let Some(batch) = self.emit_window(end)? {
                out.push((end, batch));
            }
            self.release(end);
        }
        Ok(out)
    }

    fn emit_window(&mut self, end: i64) -> Result<Option<RecordBatch>, DataflowError> {
        let start = end - self.window.size();
        if self.window.pane() == self.window.size() {
            let Some(pane) = self.panes.remove(&start) else {
                return Ok(None);
            };
            self.last_pane_groups = pane.groups.len();
            let groups = pane.groups.canonical_order();
            return self
                .build(start, end, &pane.groups, &pane.accs, &groups)
                .map(Some);
        }
        let mut table = self.codec.table(self.last_pane_groups);
        let mut accs: Vec<Box<dyn GroupAccumulator>> =
            self.aggs.iter().map(new_accumulator).collect();
        let mut pairs = Vec::new();
        for (_, pane) in self.panes.range(start..end) {
            pairs.clear();
            for g in 0..pane.groups.len() as u32 {
                pairs.push((g, table.intern_from(&pane.groups, g)));
            }
            for (acc, pacc) in accs.iter_mut().zip(&pane.accs) {
                acc.resize(table.len());
                acc.merge(pacc.as_ref(), &pairs);
            }
        }
        if table.is_empty() {
            return Ok(None);
        }
        let groups = table.canonical_order();
        self.build(start, end, &table, &accs, &groups).map(Some)
    }

    fn build(
        &self,
        start: i64,
        end: i64,
        table: &GroupTable,
        accs: &[Box<dyn GroupAccumulator>],
        groups: &[u32],
    ) -> Result<RecordBatch, DataflowError> {
        let n = groups.len();
        let mut cols: Vec<ArrayRef> = if self.keyless {
            Vec::new()
        } else {
            table.key_columns(&self.codec, groups)?
        };
        cols.push(Arc::new(
            TimestampMillisecondArray::from(vec![start; n]).with_timezone("UTC"),
        ));
        cols.push(Arc::new(
            TimestampMillisecondArray::from(vec![end; n]).with_timezone("UTC"),
        ));
        for acc in accs {
            cols.push(acc.evaluate(groups));
        }
        cols.push(Arc::new(Int64Array::from(vec![end - 1; n])));
        Ok(RecordBatch::try_new(self.output.clone(), cols)?)
    }

    /// Drops panes whose every window ends at or before `emitted`.
    fn release(&mut self, emitted: i64) {
        let (size, slide) = (self.window.size(), self.window.slide());
        while let Some((&p, _)) = self.panes.first_key_value() {
            let last_end = window_start(p, slide) + size;
            if last_end > emitted {
                break;
            }
            self.panes.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use quiver_sql::AggFunc;
    use quiver_types::{DataType, Field, Schema};

    fn state(window: Window) -> WindowState {
        let out = crate::chunk::with_time(&Schema::new(vec![
            Field::new("k", DataType::Int64),
            Field::new("window_start", DataType::Timestamp),
            Field::new("window_end", DataType::Timestamp),
            Field::new("n", DataType::Int64),
        ]));
        let count = AggregateCall {
            func: AggFunc::Count,
            arg: None,
            distinct: false,
            data_type: DataType::Int64,
        };
        WindowState::new(
            window,
            &[arrow::datatypes::DataType::Int64],
            vec![count],
            out,
        )
        .unwrap()
    }

    fn batch(times: Vec<i64>) -> RecordBatch {
        let n = times.len();
        let schema = crate::chunk::with_time(&Schema::new(vec![
            Field::new("k", DataType::Int64),
            Field::new("a", DataType::Bool),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(
                    (0..n as i64).map(|i| i % 7).collect::<Vec<_>>(),
                )),
                Arc::new(arrow::array::BooleanArray::from(vec![true; n])),
                Arc::new(Int64Array::from(times)),
            ],
        )
        .unwrap()
    }

    /// Feeds `minutes` minutes of events, advancing the frontier as a source
    /// would, and returns the most panes ever open and the windows emitted.
    fn run(window: Window, minutes: i64) -> (usize, usize) {
        let mut s = state(window);
        let (mut peak, mut emitted) = (0, 0);
        for m in 0..minutes {
            s.insert(&batch((0..10).map(|i| m * 60_000 + i * 6_000).collect()))
                .unwrap();
            peak = peak.max(s.open_panes());
            emitted += s.emit(m * 60_000).unwrap().len();
        }
        emitted += s.emit(i64::MAX).unwrap().len();
        assert_eq!(s.open_panes(), 0);
        (peak, emitted)
    }

    #[test]
    fn closed_windows_release_their_state() {
        // Tumbling minutes: at most the current and the previous pane are open,
        // however long the history.
        assert_eq!(run(Window::Tumble { size: 60_000 }, 100), (2, 100));
        assert_eq!(run(Window::Tumble { size: 60_000 }, 1_000), (2, 1_000));
        // Hopping 10 minutes by 1: ten panes plus the one filling.
        let (peak, emitted) = run(
            Window::Hop {
                slide: 60_000,
                size: 600_000,
            },
            1_000,
        );
        assert_eq!(peak, 11);
        assert_eq!(emitted, 1_000 + 9);
    }

    #[test]
    fn a_window_is_emitted_once_the_frontier_passes_its_end() {
        let mut s = state(Window::Tumble { size: 60_000 });
        s.insert(&batch(vec![0, 59_999, 60_000])).unwrap();
        assert!(
            s.emit(59_999).unwrap().is_empty(),
            "[0, 60s) is still open at 59.999s"
        );
        let out = s.emit(60_000).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 60_000);
        // The event exactly at 60s belongs to the next window.
        let n: i64 = out[0]
            .1
            .column(3)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .iter()
            .flatten()
            .sum();
        assert_eq!(n, 2);
        assert_eq!(s.next_end(), Some(120_000));
    }
}
