//! Timely operators over streams of [`Chunk`]s.
//!
//! Operators never panic on data: an error is recorded in the run's
//! [`ErrorSlot`] and the batch is dropped; the executor sees the slot, stops
//! reading, lets the dataflow drain, and reports the error (sinks then skip
//! their final commit).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
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
    let worker = stream.scope().index();
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
            let reached = Instant::now();
            match state.emit(limit) {
                Ok(windows) => {
                    for (end, batch) in windows {
                        metrics.jobs[job]
                            .windows_emitted
                            .fetch_add(1, Ordering::Relaxed);
                        // The first step of a window's way to being visible
                        // (the sink logs the last, with the same target).
                        if let Some(at) = metrics.watermark_passed(end - 1) {
                            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
                            tracing::debug!(
                                target: "quiver_dataflow::visible",
                                "job #{job}, worker {worker}: window ending {end} emitted ({} rows) {:.3} ms after the watermark passed it (the frontier reached it at {:.3} ms)",
                                batch.num_rows(),
                                ms(at.elapsed()),
                                ms(reached.saturating_duration_since(at)),
                            );
                        }
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
