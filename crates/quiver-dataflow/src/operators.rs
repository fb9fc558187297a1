//! Timely operators over streams of [`Chunk`]s.
//!
//! Operators never panic on data: an error is recorded in the run's
//! [`ErrorSlot`] and the batch is dropped; the executor sees the slot, stops
//! reading, lets the dataflow drain, and reports the error (sinks then skip
//! their final commit).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::Int64Type;
use prometheus::Histogram;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

use crate::chunk::Chunk;
use crate::error::DataflowError;
use crate::eval::time_column;
use crate::hash::hash_rows;
use crate::metrics::RunMetrics;
use crate::postprocess::{Postprocessor, RejectSink, Rejected};
use crate::sink::SinkWriter;
use crate::window_state::WindowState;

/// A stream of chunks at event-time timestamps.
pub type ChunkStream<'s> = Stream<'s, i64, Vec<Chunk>>;
type Builder = CapacityContainerBuilder<Vec<Chunk>>;

/// The first error of a run, shared by all workers.
#[derive(Debug, Default)]
pub struct ErrorSlot {
    failed: AtomicBool,
    first: Mutex<Option<DataflowError>>,
}

impl ErrorSlot {
    /// Records an error (only the first is kept).
    pub fn set(&self, e: DataflowError) {
        if !self.failed.swap(true, Ordering::SeqCst)
            && let Ok(mut slot) = self.first.lock()
        {
            *slot = Some(e);
        }
    }

    /// Whether any error was recorded.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Takes the recorded error.
    pub fn take(&self) -> Option<DataflowError> {
        self.first.lock().ok().and_then(|mut s| s.take())
    }
}

/// Applies `f` to every chunk; `Ok(None)` or an empty batch drops it.
pub fn map_batches<'s>(
    stream: ChunkStream<'s>,
    name: &str,
    errors: Arc<ErrorSlot>,
    mut f: impl FnMut(&RecordBatch) -> Result<Option<RecordBatch>, DataflowError> + 'static,
) -> ChunkStream<'s> {
    stream.unary::<Builder, _, _, _>(Pipeline, name, move |_cap, _info| {
        move |input, output| {
            input.for_each_stamp(|cap, data| {
                let mut session = output.session(&cap);
                for chunk in data.flat_map(|d| d.drain(..)) {
                    if errors.failed() {
                        continue;
                    }
                    match f(&chunk.0) {
                        Ok(Some(b)) if b.num_rows() > 0 => session.give(Chunk(b)),
                        Ok(_) => {}
                        Err(e) => errors.set(e),
                    }
                }
            });
        }
    })
}

/// Routes every row to the worker that owns its key (the hash of columns
/// `keys` modulo the number of workers). With one worker, a no-op.
pub fn exchange_by_key<'s>(
    stream: ChunkStream<'s>,
    keys: Vec<usize>,
    peers: usize,
    errors: Arc<ErrorSlot>,
) -> ChunkStream<'s> {
    if peers <= 1 {
        return stream;
    }
    let split = stream.unary::<CapacityContainerBuilder<Vec<(u64, Chunk)>>, _, _, _>(
        Pipeline,
        "SplitByKey",
        move |_cap, _info| {
            move |input, output| {
                input.for_each_stamp(|cap, data| {
                    let mut session = output.session(&cap);
                    for chunk in data.flat_map(|d| d.drain(..)) {
                        let b = &chunk.0;
                        let cols: Vec<_> = keys.iter().map(|&k| b.column(k).clone()).collect();
                        let hashes = hash_rows(&cols, b.num_rows());
                        let mut parts: Vec<Vec<u32>> = vec![Vec::new(); peers];
                        for (i, h) in hashes.iter().enumerate() {
                            parts[(h % peers as u64) as usize].push(i as u32);
                        }
                        for (target, rows) in parts.into_iter().enumerate() {
                            if rows.is_empty() {
                                continue;
                            }
                            let piece = if rows.len() == b.num_rows() {
                                Ok(b.clone())
                            } else {
                                take_record_batch(b, &UInt32Array::from(rows))
                            };
                            match piece {
                                Ok(p) => session.give((target as u64, Chunk(p))),
                                Err(e) => errors.set(e.into()),
                            }
                        }
                    }
                });
            }
        },
    );
    split.unary::<Builder, _, _, _>(
        Exchange::new(|x: &(u64, Chunk)| x.0),
        "ByKey",
        |_cap, _info| {
            |input, output| {
                input.for_each_stamp(|cap, data| {
                    let mut session = output.session(&cap);
                    for (_, chunk) in data.flat_map(|d| d.drain(..)) {
                        session.give(chunk);
                    }
                });
            }
        },
    )
}

/// Aggregates windows, emitting each when the input frontier passes its end.
pub fn window_aggregate<'s>(
    stream: ChunkStream<'s>,
    mut state: WindowState,
    job: usize,
    metrics: Arc<RunMetrics>,
    errors: Arc<ErrorSlot>,
) -> ChunkStream<'s> {
    stream.unary_frontier::<Builder, _, _, _>(Pipeline, "WindowAggregate", move |cap, _info| {
        let mut held: Option<Capability<i64>> = Some(cap);
        move |(input, frontier), output| {
            input.for_each_stamp(|_cap, data| {
                for chunk in data.flat_map(|d| d.drain(..)) {
                    if errors.failed() {
                        continue;
                    }
                    if let Err(e) = state.insert(&chunk.0) {
                        errors.set(e);
                    }
                }
            });
            let Some(cap) = held.as_mut() else { return };
            let f = frontier.frontier().first().copied();
            let limit = f.unwrap_or(i64::MAX);
            match state.emit(limit) {
                Ok(windows) => {
                    for (end, batch) in windows {
                        metrics.jobs[job]
                            .windows_emitted
                            .fetch_add(1, Ordering::Relaxed);
                        output.session(&cap.delayed(&(end - 1))).give(Chunk(batch));
                    }
                }
                Err(e) => errors.set(e),
            }
            // Hold a capability for the earliest output still possible: the
            // next pending window, or windows that future input may open.
            let next = state.next_end().map(|e| e - 1);
            match (f, next) {
                (None, None) => held = None,
                (f, n) => {
                    let t = f.unwrap_or(i64::MAX).min(n.unwrap_or(i64::MAX));
                    if t > *cap.time() {
                        cap.downgrade(&t);
                    }
                }
            }
        }
    })
}

/// Computes OVER aggregates, emitting rows once the frontier passes them.
pub fn over_aggregate<'s>(
    stream: ChunkStream<'s>,
    mut state: crate::over::OverState,
    errors: Arc<ErrorSlot>,
) -> ChunkStream<'s> {
    stream.unary_frontier::<Builder, _, _, _>(Pipeline, "OverAggregate", move |cap, _info| {
        let mut held: Option<Capability<i64>> = Some(cap);
        move |(input, frontier), output| {
            input.for_each_stamp(|_cap, data| {
                for chunk in data.flat_map(|d| d.drain(..)) {
                    if !errors.failed() {
                        state.insert(chunk.0);
                    }
                }
            });
            let Some(cap) = held.as_mut() else { return };
            let f = frontier.frontier().first().copied();
            match state.emit(f.unwrap_or(i64::MAX)) {
                Ok(Some(batch)) => {
                    let t = time_column(&batch)
                        .values()
                        .iter()
                        .min()
                        .copied()
                        .unwrap_or(*cap.time());
                    output
                        .session(&cap.delayed(&t.max(*cap.time())))
                        .give(Chunk(batch));
                }
                Ok(None) => {}
                Err(e) => errors.set(e),
            }
            match (f, state.next_time()) {
                (None, None) => held = None,
                (f, n) => {
                    let t = f.unwrap_or(i64::MAX).min(n.unwrap_or(i64::MAX));
                    if t > *cap.time() {
                        cap.downgrade(&t);
                    }
                }
            }
        }
    })
}

/// How rows reach a sink in a deterministic order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOrder {
    /// Rows of one event time already arrive in a canonical order (window
    /// results): only order by event time.
    Canonical,
    /// Rows arrive in source order: order by event time, then row hash.
    Hashed,
}

/// Writes a job's output: buffers rows until the frontier passes their
/// event time, then hands them to every writer in event-time order (see
/// [`RowOrder`]) so files do not depend on arrival order, through the
/// job's post-processors when it has any. Rows outside `[start, end)` are
/// dropped (they belong to a lookback). The returned stream carries
/// nothing; it is complete when the writers are finished.
#[allow(clippy::too_many_arguments)]
pub fn sink<'s>(
    stream: ChunkStream<'s>,
    order: RowOrder,
    post: Option<PostStage>,
    mut writers: Vec<Box<dyn SinkWriter>>,
    interval: (Option<i64>, Option<i64>),
    (job, worker): (usize, usize),
    job_name: String,
    metrics: Arc<RunMetrics>,
    errors: Arc<ErrorSlot>,
) -> ChunkStream<'s> {
    let write_seconds: Vec<Histogram> = writers
        .iter()
        .map(|w| {
            metrics
                .sink_write_seconds
                .with_label_values(&[job_name.as_str(), w.kind()])
        })
        .collect();
    let freshness: Vec<Option<Histogram>> = writers
        .iter()
        .map(|w| {
            w.publishes_on_advance().then(|| {
                metrics
                    .freshness_seconds
                    .with_label_values(&[job_name.as_str(), w.kind()])
            })
        })
        .collect();
    let to_visible: Vec<Option<Histogram>> = writers
        .iter()
        .map(|w| {
            w.publishes_on_advance().then(|| {
                metrics
                    .watermark_to_visible_seconds
                    .with_label_values(&[job_name.as_str(), w.kind()])
            })
        })
        .collect();
    // Rows within the post-processors' lookback before the start go
    // through them (to build their state) and are then not written.
    let (mut post, rejects) = match post {
        Some((p, r)) => (Some(p), r),
        None => (None, None),
    };
    let warmup = post.as_ref().map_or(0, |p| p.lookback());
    let arrival = (interval.0.map(|s| s.saturating_sub(warmup)), interval.1);
    let written = (interval.0.filter(|_| warmup > 0), None);
    stream.unary_frontier::<Builder, _, _, _>(Pipeline, "Sink", move |cap, _info| {
        let mut held = Some(cap);
        let mut pending: Vec<RecordBatch> = Vec::new();
        let mut last_frontier = i64::MIN;
        move |(input, frontier), _output| {
            input.for_each_stamp(|_cap, data| {
                for chunk in data.flat_map(|d| d.drain(..)) {
                    match restrict(&chunk.0, arrival) {
                        Ok(Some(b)) => pending.push(b),
                        Ok(None) => {}
                        Err(e) => errors.set(e),
                    }
                }
            });
            if held.is_none() {
                return;
            }
            let f = frontier.frontier().first().copied().unwrap_or(i64::MAX);
            if f > last_frontier || f == i64::MAX {
                last_frontier = f;
                let fail = |e: String| DataflowError::Sink {
                    job: job_name.clone(),
                    message: e,
                };
                let mut ready = match ready_rows(&mut pending, f, order) {
                    Ok(ready) => ready,
                    Err(e) => {
                        errors.set(e);
                        None
                    }
                };
                if let Some(p) = post.as_mut() {
                    if let Some(rows) = ready.take() {
                        let done = p.process(rows).and_then(|out| {
                            ready = restrict(&out, written).map_err(|e| e.to_string())?;
                            for r in p.take_rejected() {
                                reject(r, written, rejects.as_deref(), &job_name, &metrics)?;
                            }
                            Ok(())
                        });
                        if let Err(e) = done {
                            errors.set(DataflowError::Postprocess {
                                job: job_name.clone(),
                                message: e,
                            });
                        }
                    }
                    p.advance(f);
                }
                if let Some(ready) = &ready {
                    metrics.jobs[job]
                        .rows_out
                        .fetch_add(ready.num_rows() as u64, Ordering::Relaxed);
                }
                for (k, w) in writers.iter_mut().enumerate() {
                    let began = Instant::now();
                    if let Some(ready) = &ready
                        && let Err(e) = w.write(ready)
                    {
                        errors.set(fail(e));
                    }
                    if let Err(e) = w.advance(f) {
                        errors.set(fail(e));
                    }
                    if ready.is_some() {
                        write_seconds[k].observe(began.elapsed().as_secs_f64());
                    }
                    if let (Some(h), Some(ready)) = (&freshness[k], &ready) {
                        observe_freshness(h, ready);
                    }
                    if let (Some(h), Some(ready)) = (&to_visible[k], &ready) {
                        observe_to_visible(h, ready, &metrics);
                    }
                }
                if !errors.failed() {
                    metrics.jobs[job].sink_time[worker].fetch_max(f, Ordering::SeqCst);
                    metrics.prune_watermarks();
                }
                // Let a probe see how far the sinks have got (live runs
                // drain up to it before stopping).
                if let Some(c) = held.as_mut()
                    && f != i64::MAX
                    && f > *c.time()
                {
                    c.downgrade(&f);
                }
                if f == i64::MAX && frontier.frontier().is_empty() {
                    if !errors.failed() {
                        for w in writers.iter_mut() {
                            if let Err(e) = w.finish() {
                                errors.set(fail(e));
                            }
                        }
                        if let Some(Err(e)) = rejects.as_ref().map(|r| r.flush()) {
                            errors.set(fail(format!("dead-letter sink: {e}")));
                        }
                    }
                    held = None;
                }
            }
        }
    })
}

/// Observes, for each row of `batch`, the time from its event time (the
/// last column) to now.
fn observe_freshness(h: &Histogram, batch: &RecordBatch) {
    let now = chrono::Utc::now().timestamp_millis();
    let times = batch
        .column(batch.num_columns() - 1)
        .as_primitive::<Int64Type>()
        .values();
    // Rows come sorted by time: compute the age once per run of equal times.
    let mut i = 0;
    while i < times.len() {
        let t = times[i];
        let run = times[i..].iter().take_while(|&&u| u == t).count();
        let age = (now - t).max(0) as f64 / 1000.0;
        for _ in 0..run {
            h.observe(age);
        }
        i += run;
    }
}

/// Observes, once per distinct event time of `batch` (per closed window),
/// the time since the run's watermark passed it.
fn observe_to_visible(h: &Histogram, batch: &RecordBatch, metrics: &RunMetrics) {
    let now = Instant::now();
    let times = time_column(batch).values();
    let mut last = None;
    for &t in times.iter() {
        if last == Some(t) {
            continue;
        }
        last = Some(t);
        if let Some(at) = metrics.watermark_passed(t) {
            h.observe(now.saturating_duration_since(at).as_secs_f64());
        }
    }
}

/// Keeps rows whose event time lies in `[start, end)`.
fn restrict(
    b: &RecordBatch,
    (start, end): (Option<i64>, Option<i64>),
) -> Result<Option<RecordBatch>, DataflowError> {
    if b.num_rows() == 0 {
        return Ok(None);
    }
    if start.is_none() && end.is_none() {
        return Ok(Some(b.clone()));
    }
    let t = time_column(b);
    let mask: arrow::array::BooleanArray = t
        .values()
        .iter()
        .map(|&t| Some(start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e)))
        .collect();
    let out = crate::eval::filter_batch(b, &mask)?;
    Ok((out.num_rows() > 0).then_some(out))
}

/// A worker's post-processing chain and where the rows it refuses go.
pub type PostStage = (Box<dyn Postprocessor>, Option<Arc<dyn RejectSink>>);

/// Sends the rows of `r` that fall in `written` to `sink`, counted by
/// reason. Without a sink a refused row would be lost, so that is an error
/// (planning requires one when a step can refuse rows).
fn reject(
    r: Rejected,
    written: (Option<i64>, Option<i64>),
    sink: Option<&dyn RejectSink>,
    job: &str,
    metrics: &RunMetrics,
) -> Result<(), String> {
    let r = match written.0 {
        // Rows before the start only warmed the steps up: not written, so
        // not refused either (an earlier interval's run refused them).
        Some(start) => {
            let times = time_column(&r.rows);
            let keep: Vec<u32> = (0..r.rows.num_rows() as u32)
                .filter(|&i| times.value(i as usize) >= start)
                .collect();
            if keep.len() == r.rows.num_rows() {
                r
            } else {
                Rejected {
                    rows: take_record_batch(&r.rows, &UInt32Array::from(keep.clone()))
                        .map_err(|e| e.to_string())?,
                    reasons: keep
                        .iter()
                        .map(|&i| r.reasons[i as usize].clone())
                        .collect(),
                }
            }
        }
        None => r,
    };
    if r.rows.num_rows() == 0 {
        return Ok(());
    }
    let sink = sink.ok_or_else(|| {
        format!(
            "{} row(s) were refused ({}) but the job has no dead-letter sink to keep them",
            r.rows.num_rows(),
            r.reasons[0]
        )
    })?;
    sink.reject(&r)
        .map_err(|e| format!("dead-letter sink: {e}"))?;
    for reason in &r.reasons {
        metrics
            .rows_rejected
            .with_label_values(&[job, reason])
            .inc();
    }
    Ok(())
}

/// Removes from `pending` the rows with event time below `frontier` and
/// returns them in event-time order (ties by row hash for [`RowOrder::Hashed`]).
fn ready_rows(
    pending: &mut Vec<RecordBatch>,
    frontier: i64,
    order: RowOrder,
) -> Result<Option<RecordBatch>, DataflowError> {
    if pending.is_empty() {
        return Ok(None);
    }
    let all = if pending.len() == 1 {
        pending.pop().expect("one batch")
    } else {
        let schema = pending[0].schema();
        let all = arrow::compute::concat_batches(&schema, pending.iter())?;
        pending.clear();
        all
    };
    let times = all
        .column(all.num_columns() - 1)
        .as_primitive::<Int64Type>()
        .values()
        .clone();
    let (mut ready, mut later): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
    for (i, &t) in times.iter().enumerate() {
        if t < frontier {
            ready.push(i as u32)
        } else {
            later.push(i as u32)
        }
    }
    if ready.is_empty() {
        pending.push(all);
        return Ok(None);
    }
    if !later.is_empty() {
        pending.push(take_record_batch(&all, &UInt32Array::from(later))?);
    }
    match order {
        RowOrder::Canonical => ready.sort_by_key(|&i| times[i as usize]),
        RowOrder::Hashed => {
            let value_cols: Vec<_> = all.columns()[..all.num_columns() - 1].to_vec();
            let hashes = hash_rows(&value_cols, all.num_rows());
            ready.sort_unstable_by_key(|&i| (times[i as usize], hashes[i as usize]));
        }
    }
    if ready.len() == all.num_rows() && ready.iter().enumerate().all(|(k, &i)| k as u32 == i) {
        return Ok(Some(all));
    }
    Ok(Some(take_record_batch(&all, &UInt32Array::from(ready))?))
}
