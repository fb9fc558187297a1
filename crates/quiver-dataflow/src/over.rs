//! OVER aggregates: for every row, aggregates over the earlier rows of its
//! partition within a frame (`RANGE` of event time or `ROWS` count).
//!
//! Rows wait until the frontier passes their event time, then are processed
//! in event-time order per partition (ties broken by row hash, so the order
//! — and ROWS frames — do not depend on arrival order). Each aggregate keeps
//! a running state: rows entering the frame are added, rows leaving it are
//! retracted. Sums are exact (see [`crate::exact_sum`]), so retracting a row
//! restores the previous sum bit for bit; MIN/MAX keep a monotonic deque.
//! Rows leave memory once no frame needs them, and partitions whose frames
//! are empty are dropped, so state is bounded by the frame width.

use std::collections::VecDeque;

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, take, take_record_batch};
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Float64Type, Int64Type, SchemaRef, TimestampMillisecondType,
};
use quiver_sql::{AggFunc, AggregateCall, OverFrame};
use quiver_types::DataType;

use crate::error::DataflowError;
use crate::eval::time_column;
use crate::exact_sum::{ExactSum, big_to_f64};
use crate::group_table::{GroupTable, KeyCodec};
use crate::hash::hash_rows;

/// A number read from an argument column.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

/// A running aggregate. The common states (counts, integer sums) stay
/// inline; the large, rarer ones are boxed so every slot stays small.
enum State {
    Count(i64),
    SumInt {
        sum: i128,
        n: i64,
    },
    SumFloat(Box<(ExactSum, i64)>),
    Moments(Box<(ExactSum, ExactSum, i64)>),
    /// MIN/MAX: (sequence, order key) with keys monotonic from the front.
    Extreme(VecDeque<(u64, i64)>),
}

/// The rows of one partition still inside some frame, oldest first: per
/// row its event time, then its argument values (`stride` entries in all).
struct Part {
    first_seq: u64,
    rows: usize,
    entries: VecDeque<Option<Num>>,
}

impl Part {
    fn next_seq(&self) -> u64 {
        self.first_seq + self.rows as u64
    }

    /// Forgets the `n` oldest rows.
    fn drop_front(&mut self, n: usize, stride: usize) {
        self.rows -= n;
        self.first_seq += n as u64;
        self.entries.drain(..n * stride);
    }
}

/// One aggregate's state in one partition: the first row (by sequence) in
/// its frame, the first row not yet added, and the running value. The
/// aggregates of a partition sit side by side, so one cache line serves a
/// partition's visit.
struct Slot {
    frame_start: u64,
    added: u64,
    state: State,
}

/// An argument column of the batch being processed, downcast once.
enum ArgView<'a> {
    Int(&'a [i64], Option<&'a arrow::buffer::NullBuffer>),
    Date(&'a [i32], Option<&'a arrow::buffer::NullBuffer>),
    Float(&'a [f64], Option<&'a arrow::buffer::NullBuffer>),
    Bool(&'a arrow::array::BooleanArray),
    Other,
}

impl ArgView<'_> {
    fn of(a: &ArrayRef) -> ArgView<'_> {
        match a.data_type() {
            ArrowType::Int64 => ArgView::Int(a.as_primitive::<Int64Type>().values(), a.nulls()),
            ArrowType::Timestamp(_, _) => ArgView::Int(
                a.as_primitive::<TimestampMillisecondType>().values(),
                a.nulls(),
            ),
            ArrowType::Date32 => ArgView::Date(a.as_primitive::<Date32Type>().values(), a.nulls()),
            ArrowType::Float64 => {
                ArgView::Float(a.as_primitive::<Float64Type>().values(), a.nulls())
            }
            ArrowType::Boolean => ArgView::Bool(a.as_boolean()),
            _ => ArgView::Other,
        }
    }

    #[inline]
    fn get(&self, r: usize) -> Option<Num> {
        let valid = |n: Option<&arrow::buffer::NullBuffer>| n.is_none_or(|n| n.is_valid(r));
        match self {
            ArgView::Int(v, n) => valid(*n).then(|| Num::Int(v[r])),
            ArgView::Date(v, n) => valid(*n).then(|| Num::Int(v[r] as i64)),
            ArgView::Float(v, n) => valid(*n).then(|| Num::Float(v[r])),
            ArgView::Bool(b) => b.is_valid(r).then(|| Num::Int(b.value(r) as i64)),
            ArgView::Other => None,
        }
    }
}

/// OVER-aggregate state of one worker.
///
/// Input batches hold the relation's columns (`width` of them), then the
/// partition keys, then one argument column per aggregate, then `__time`.
/// Output batches hold the relation's columns, one column per aggregate,
/// then `__time`, in (event time, partition, row hash) order.
pub struct OverState {
    codec: KeyCodec,
    width: usize,
    nkeys: usize,
    aggs: Vec<(AggregateCall, OverFrame)>,
    /// Per aggregate, which stored value it reads (`None`: `COUNT(*)`).
    slot: Vec<Option<usize>>,
    /// Per stored value, its argument column among the aggregates'.
    slot_col: Vec<usize>,
    table: GroupTable,
    parts: Vec<Part>,
    /// Per partition and aggregate, at `pid * aggs + j`.
    slots: Vec<Slot>,
    pending: Vec<RecordBatch>,
    output: SchemaRef,
    last_sweep: i64,
}

impl OverState {
    /// State for `aggs` partitioned by keys of the given Arrow types.
    pub fn new(
        width: usize,
        key_types: &[ArrowType],
        aggs: Vec<(AggregateCall, OverFrame)>,
        output: SchemaRef,
    ) -> Result<OverState, DataflowError> {
        let codec = KeyCodec::new(key_types)?;
        let table = codec.table(0);
        // Aggregates over the same argument share its stored values.
        let mut slot = Vec::new();
        let mut slot_col: Vec<usize> = Vec::new();
        for (j, (c, _)) in aggs.iter().enumerate() {
            slot.push(c.arg.as_ref().map(|a| {
                match slot_col
                    .iter()
                    .position(|&k| aggs[k].0.arg.as_ref() == Some(a))
                {
                    Some(s) => s,
                    None => {
                        slot_col.push(j);
                        slot_col.len() - 1
                    }
                }
            }));
        }
        Ok(OverState {
            codec,
            width,
            nkeys: key_types.len(),
            aggs,
            slot,
            slot_col,
            table,
            parts: Vec::new(),
            slots: Vec::new(),
            pending: Vec::new(),
            output,
            last_sweep: i64::MIN,
        })
    }

    /// Earliest event time of rows not yet emitted.
    pub fn next_time(&self) -> Option<i64> {
        self.pending
            .iter()
            .filter_map(|b| time_column(b).values().iter().min().copied())
            .min()
    }

    /// Number of partitions with state (for tests of memory release).
    pub fn partitions(&self) -> usize {
        self.parts.len()
    }

    /// Queues rows until the frontier passes them.
    pub fn insert(&mut self, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.pending.push(batch);
        }
    }

    /// Processes every queued row with event time below `frontier`.
    pub fn emit(&mut self, frontier: i64) -> Result<Option<RecordBatch>, DataflowError> {
        let out = match self.take_ready(frontier)? {
            Some(ready) => Some(self.process(ready)?),
            None => None,
        };
        self.sweep(frontier);
        Ok(out)
    }

    fn take_ready(&mut self, frontier: i64) -> Result<Option<RecordBatch>, DataflowError> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let all = if self.pending.len() == 1 {
            self.pending.pop().expect("one batch")
        } else {
            let schema = self.pending[0].schema();
            let all = concat_batches(&schema, self.pending.iter())?;
            self.pending.clear();
            all
        };
        let times = time_column(&all).values();
        let (ready, later): (Vec<u32>, Vec<u32>) =
            (0..all.num_rows() as u32).partition(|&i| times[i as usize] < frontier);
        if ready.is_empty() {
            self.pending.push(all);
            return Ok(None);
        }
        if !later.is_empty() {
            self.pending
                .push(take_record_batch(&all, &UInt32Array::from(later))?);
        }
        Ok(Some(if ready.len() == all.num_rows() {
            all
        } else {
            take_record_batch(&all, &UInt32Array::from(ready))?
        }))
    }

    fn process(&mut self, batch: RecordBatch) -> Result<RecordBatch, DataflowError> {
        let n = batch.num_rows();
        let (w, k, m) = (self.width, self.nkeys, self.aggs.len());
        let (keys, hashes) = self.codec.encode(&batch.columns()[w..w + k], n)?;
        let pids: Vec<u32> = (0..n)
            .map(|i| self.table.intern(&keys, i, hashes[i]))
            .collect();
        let stride = self.slot_col.len() + 1;
        while self.parts.len() < self.table.len() {
            self.parts.push(Part {
                first_seq: 0,
                rows: 0,
                entries: VecDeque::new(),
            });
            self.slots.extend(self.aggs.iter().map(|(c, _)| Slot {
                frame_start: 0,
                added: 0,
                state: new_state(c),
            }));
        }
        let row_hash = hash_rows(&batch.columns()[..w], n);
        let times = time_column(&batch).values().clone();
        // Output order: (time, partition hash, partition, row hash), which
        // does not depend on arrival order. Processing order: by partition id
        // within a time, so partition state is visited in memory order; each
        // partition still sees its rows in output order.
        let mut keyed: Vec<(i64, u64, u32, u64, u32)> = (0..n)
            .map(|i| (times[i], hashes[i], pids[i], row_hash[i], i as u32))
            .collect();
        keyed.sort_unstable();
        let order: Vec<u32> = keyed.iter().map(|k| k.4).collect();
        // Visit by partition id within a time (partition state in memory
        // order); each partition still sees its rows in output order.
        let mut visit: Vec<(i64, u32, u32, u32)> = keyed
            .iter()
            .enumerate()
            .map(|(pos, k)| (k.0, k.2, pos as u32, k.4))
            .collect();
        visit.sort_unstable();
        let views: Vec<ArgView<'_>> = self
            .slot_col
            .iter()
            .map(|&j| ArgView::of(batch.column(w + k + j)))
            .collect();
        // Aggregates are written in visit order, then permuted to output order.
        let mut outs: Vec<Vec<Option<Num>>> = (0..m).map(|_| Vec::with_capacity(n)).collect();
        let mut i = 0;
        let mut touched = 0;
        while i < n {
            if i >= touched {
                touched = (i + TOUCH_AHEAD).min(n);
                self.touch(&visit[i..touched]);
            }
            let (t, pid) = (visit[i].0, visit[i].1);
            let mut j = i + 1;
            while j < n && visit[j].0 == t && visit[j].1 == pid {
                j += 1;
            }
            let pid = pid as usize;
            let run = Run {
                aggs: &self.aggs,
                slot: &self.slot,
                stride,
                slots: &mut self.slots[pid * m..(pid + 1) * m],
            };
            run.apply(&mut self.parts[pid], t, &visit[i..j], &views, &mut outs);
            i = j;
        }
        // visit[v] holds output position visit[v].2: invert to gather.
        let mut from_visit = vec![0u32; n];
        for (v, row) in visit.iter().enumerate() {
            from_visit[row.2 as usize] = v as u32;
        }
        let outs: Vec<Vec<Option<Num>>> = outs
            .into_iter()
            .map(|o| from_visit.iter().map(|&v| o[v as usize]).collect())
            .collect();
        let idx = UInt32Array::from(order);
        let mut cols: Vec<ArrayRef> = batch.columns()[..w]
            .iter()
            .map(|c| take(c.as_ref(), &idx, None))
            .collect::<Result<_, _>>()?;
        for ((call, _), vals) in self.aggs.iter().zip(outs) {
            cols.push(build(call.data_type, vals));
        }
        cols.push(take(
            batch.column(batch.num_columns() - 1).as_ref(),
            &idx,
            None,
        )?);
        Ok(RecordBatch::try_new(self.output.clone(), cols)?)
    }

    /// Loads the state of the partitions `rows` will visit. With millions
    /// of partitions nearly every visit misses the cache several times
    /// (partition header, slots, the oldest and newest stored rows); these
    /// loads are independent of each other, so issuing them together lets
    /// the misses overlap instead of each stalling its row in turn.
    fn touch(&self, rows: &[(i64, u32, u32, u32)]) {
        let m = self.aggs.len();
        let mut sink = 0u64;
        for r in rows {
            let p = r.1 as usize;
            if let Some(part) = self.parts.get(p) {
                sink = sink.wrapping_add(part.first_seq);
            }
            for s in self.slots.iter().skip(p * m).take(m) {
                sink = sink.wrapping_add(s.added);
            }
        }
        // Second wave, through the now-cached headers: the oldest and the
        // newest stored rows (where rows are evicted and appended).
        let bits = |e: Option<&Option<Num>>| e.copied().flatten().map_or(0, num_bits);
        for r in rows {
            if let Some(part) = self.parts.get(r.1 as usize) {
                sink = sink.wrapping_add(bits(part.entries.front()) ^ bits(part.entries.back()));
            }
        }
        std::hint::black_box(sink);
    }

    /// Drops partitions that hold no rows once the frontier has moved past
    /// every frame, when every frame is a bounded RANGE (unbounded and
    /// row-count frames keep a partition's state forever).
    fn sweep(&mut self, frontier: i64) {
        let widths: Option<Vec<i64>> = self
            .aggs
            .iter()
            .map(|(_, f)| match f {
                OverFrame::Range { preceding: Some(w) } => Some(*w),
                _ => None,
            })
            .collect();
        let Some(width) = widths.and_then(|w| w.into_iter().max()) else {
            return;
        };
        let width = width.max(1);
        if self.parts.len() < 1024 || frontier.saturating_sub(self.last_sweep) < width {
            return;
        }
        self.last_sweep = frontier;
        let m = self.aggs.len();
        let live: Vec<usize> = (0..self.parts.len())
            .filter(|&p| self.parts[p].rows > 0)
            .collect();
        let mut table = self.codec.table(live.len());
        let mut keep = vec![false; self.parts.len()];
        for &p in &live {
            table.intern_from(&self.table, p as u32);
            keep[p] = true;
        }
        let mut it = keep.iter();
        self.parts.retain(|_| *it.next().unwrap_or(&false));
        let mut k = 0;
        self.slots.retain(|_| {
            let ok = keep[k / m];
            k += 1;
            ok
        });
        self.table = table;
    }
}

/// How many rows' partition state [`OverState::touch`] loads at once: enough
/// misses to keep the memory system busy, few enough to stay in L1/L2.
const TOUCH_AHEAD: usize = 32;

fn num_bits(v: Num) -> u64 {
    match v {
        Num::Int(i) => i as u64,
        Num::Float(x) => x.to_bits(),
    }
}

/// One partition's per-aggregate state, borrowed for one run of rows.
struct Run<'a> {
    aggs: &'a [(AggregateCall, OverFrame)],
    slot: &'a [Option<usize>],
    /// Entries per stored row: its time, then its argument values.
    stride: usize,
    slots: &'a mut [Slot],
}

impl Run<'_> {
    /// Adds one partition's rows of one event time — `rows` are (time,
    /// partition, output position, batch row), read through `views` — and
    /// appends each row's aggregates to `outs`.
    fn apply(
        mut self,
        part: &mut Part,
        t: i64,
        rows: &[(i64, u32, u32, u32)],
        views: &[ArgView<'_>],
        outs: &mut [Vec<Option<Num>>],
    ) {
        let first_seq = part.next_seq();
        for &(_, _, _, r) in rows {
            part.entries.push_back(Some(Num::Int(t)));
            part.entries.extend(views.iter().map(|v| v.get(r as usize)));
            part.rows += 1;
        }
        // RANGE frames take every peer (same time) at once, then drop rows
        // older than the frame.
        for j in 0..self.aggs.len() {
            if let OverFrame::Range { preceding } = self.aggs[j].1 {
                self.add_upto(part, j, part.next_seq());
                match preceding {
                    Some(width) => {
                        self.evict_while(part, j, |time, _| time < t.saturating_sub(width))
                    }
                    None => self.slots[j].frame_start = self.slots[j].added,
                }
            }
        }
        for k in 0..rows.len() {
            let seq = first_seq + k as u64;
            for (j, out) in outs.iter_mut().enumerate() {
                if let OverFrame::Rows { preceding } = self.aggs[j].1 {
                    self.add_upto(part, j, seq + 1);
                    self.evict_while(part, j, |_, s| seq - s > preceding);
                }
                out.push(current(&self.slots[j].state, &self.aggs[j].0));
            }
        }
        // Release rows no frame still holds.
        let keep_from = self
            .slots
            .iter()
            .map(|s| s.frame_start)
            .min()
            .unwrap_or(part.next_seq());
        if keep_from > part.first_seq {
            let drop = ((keep_from - part.first_seq) as usize).min(part.rows);
            part.drop_front(drop, self.stride);
        }
    }

    #[inline]
    fn entry(&self, part: &Part, seq: u64, k: usize) -> Option<Num> {
        part.entries[(seq - part.first_seq) as usize * self.stride + k]
    }

    fn value(&self, part: &Part, j: usize, seq: u64) -> Option<Num> {
        match self.slot[j] {
            None => Some(Num::Int(1)),
            Some(s) => self.entry(part, seq, s + 1),
        }
    }

    fn add_upto(&mut self, part: &Part, j: usize, upto: u64) {
        while self.slots[j].added < upto {
            let seq = self.slots[j].added;
            if let Some(v) = self.value(part, j, seq) {
                apply(&mut self.slots[j].state, &self.aggs[j].0, seq, v, 1);
            }
            self.slots[j].added += 1;
        }
    }

    fn evict_while(&mut self, part: &Part, j: usize, leaves: impl Fn(i64, u64) -> bool) {
        while self.slots[j].frame_start < self.slots[j].added {
            let seq = self.slots[j].frame_start;
            let time = match self.entry(part, seq, 0) {
                Some(Num::Int(t)) => t,
                _ => i64::MIN,
            };
            if !leaves(time, seq) {
                break;
            }
            if let Some(v) = self.value(part, j, seq) {
                apply(&mut self.slots[j].state, &self.aggs[j].0, seq, v, -1);
            }
            self.slots[j].frame_start += 1;
        }
    }
}

fn new_state(c: &AggregateCall) -> State {
    let arg = c.arg.as_ref().map(|a| a.data_type());
    match (c.func, arg) {
        (AggFunc::Count, _) => State::Count(0),
        (AggFunc::Sum | AggFunc::Avg, Some(DataType::Float64)) => {
            State::SumFloat(Box::new((ExactSum::new(), 0)))
        }
        (AggFunc::Sum | AggFunc::Avg, _) => State::SumInt { sum: 0, n: 0 },
        (AggFunc::VarPop | AggFunc::StddevPop, _) => {
            State::Moments(Box::new((ExactSum::new(), ExactSum::new(), 0)))
        }
        (AggFunc::Min | AggFunc::Max, _) => State::Extreme(VecDeque::new()),
        // Refused in OVER by the binder (`AggFunc::supports_over`).
        (
            AggFunc::DistinctCount
            | AggFunc::Percentile(_)
            | AggFunc::ApproxPercentile(_)
            | AggFunc::FirstValue
            | AggFunc::LastValue
            | AggFunc::CollectArray
            | AggFunc::LastK(_)
            | AggFunc::TopK(_)
            | AggFunc::Histogram,
            _,
        ) => State::Count(0),
    }
}

/// An integer that orders like the value (doubles by IEEE total order).
fn order_key(v: Num) -> i64 {
    match v {
        Num::Int(i) => i,
        Num::Float(x) => {
            let x = if x.is_nan() { f64::NAN } else { x };
            let b = x.to_bits() as i64;
            b ^ (((b >> 63) as u64) >> 1) as i64
        }
    }
}

fn apply(state: &mut State, call: &AggregateCall, seq: u64, v: Num, sign: i64) {
    match state {
        State::Count(c) => *c += sign,
        State::SumInt { sum, n } => {
            if let Num::Int(i) = v {
                *sum += sign as i128 * i as i128;
            }
            *n += sign;
        }
        State::SumFloat(b) => {
            let (sum, n) = &mut **b;
            let x = match v {
                Num::Float(x) => x,
                Num::Int(i) => i as f64,
            };
            sum.add(if sign > 0 { x } else { -x });
            *n += sign;
        }
        State::Moments(b) => {
            let (s, q, n) = &mut **b;
            match v {
                Num::Int(i) => {
                    s.add_scaled(sign as i128 * i as i128, 0);
                    q.add_scaled(sign as i128 * (i as i128) * (i as i128), 0);
                }
                Num::Float(x) => {
                    let x = if sign > 0 { x } else { -x };
                    s.add(x);
                    if sign > 0 {
                        q.add_square(x)
                    } else {
                        q.add_square_negated(x)
                    }
                }
            }
            *n += sign;
        }
        State::Extreme(d) => {
            let max = call.func == AggFunc::Max;
            if sign > 0 {
                let key = order_key(v);
                while d
                    .back()
                    .is_some_and(|(_, b)| if max { *b <= key } else { *b >= key })
                {
                    d.pop_back();
                }
                d.push_back((seq, key));
            } else if d.front().is_some_and(|(s, _)| *s == seq) {
                d.pop_front();
            }
        }
    }
}

fn current(state: &State, call: &AggregateCall) -> Option<Num> {
    match state {
        State::Count(c) => Some(Num::Int(*c)),
        State::SumInt { sum, n } => match call.func {
            _ if *n == 0 => None,
            AggFunc::Avg => Some(Num::Float(*sum as f64 / *n as f64)),
            _ => i64::try_from(*sum).ok().map(Num::Int),
        },
        State::SumFloat(b) => match call.func {
            _ if b.1 == 0 => None,
            AggFunc::Avg => Some(Num::Float(b.0.value() / b.1 as f64)),
            _ => Some(Num::Float(b.0.value())),
        },
        State::Moments(b) => {
            let (s, q, n) = &**b;
            if *n == 0 {
                return None;
            }
            let var = match (s.exact(), q.exact()) {
                (Some((s, se)), Some((q, qe))) => {
                    let (s2, s2e) = (&s * &s, 2 * se);
                    let nq = num_bigint::BigInt::from(*n) * q;
                    let e = s2e.min(qe);
                    let num = (nq << (qe - e) as usize) - (s2 << (s2e - e) as usize);
                    (big_to_f64(&num, e) / (*n as f64 * *n as f64)).max(0.0)
                }
                _ => f64::NAN,
            };
            Some(Num::Float(if call.func == AggFunc::StddevPop {
                var.sqrt()
            } else {
                var
            }))
        }
        State::Extreme(d) => d.front().map(|(_, k)| Num::Int(*k)),
    }
}

fn build(t: DataType, vals: Vec<Option<Num>>) -> ArrayRef {
    let int = |v: Option<Num>| match v {
        Some(Num::Int(i)) => Some(i),
        _ => None,
    };
    match t {
        DataType::Float64 => Arc::new(
            vals.into_iter()
                .map(|v| match v {
                    Some(Num::Float(x)) => Some(x),
                    // MIN/MAX of doubles carry order keys.
                    Some(Num::Int(k)) => Some(f64::from_bits(
                        (k ^ (((k >> 63) as u64) >> 1) as i64) as u64,
                    )),
                    None => None,
                })
                .collect::<Float64Array>(),
        ),
        DataType::Timestamp => Arc::new(
            vals.into_iter()
                .map(int)
                .collect::<arrow::array::TimestampMillisecondArray>()
                .with_timezone("UTC"),
        ),
        DataType::Date => Arc::new(
            vals.into_iter()
                .map(|v| int(v).map(|i| i as i32))
                .collect::<arrow::array::Date32Array>(),
        ),
        DataType::Bool => Arc::new(
            vals.into_iter()
                .map(|v| int(v).map(|i| i != 0))
                .collect::<arrow::array::BooleanArray>(),
        ),
        _ => Arc::new(vals.into_iter().map(int).collect::<Int64Array>()),
    }
}
