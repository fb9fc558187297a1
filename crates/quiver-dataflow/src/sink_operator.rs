//! The sink operator: a job's output, in a deterministic order, through
//! its post-processors, to its writers.
//!
//! Rows wait until the frontier passes their event time; then they are
//! sorted (see [`RowOrder`]) and handed to the post-processing chain and
//! every writer, so files do not depend on arrival order, and a writer is
//! advanced to the frontier: no row below it will follow.
//!
//! Writers that publish (the online store, Kafka) of a job whose rows of
//! one event time arrive in a canonical order and final (window results:
//! see [`RowOrder::Canonical`]) and that has no post-processors get rows
//! as they arrive instead, without waiting for the frontier. A closed
//! window's rows are then visible as soon as this worker has them: the
//! frontier passes their time only once every worker has emitted the
//! window and said so, a hand-off (and a wait for the CPU) on the path of
//! freshness. Their order is the same, and the store keeps per entity the
//! latest row whatever the writes, so what readers end up seeing is too;
//! the frontier still decides what counts as written (the sink time, the
//! checkpoint).
//!
//! A chain that releases rows asynchronously (an `enrich` with `ordered:
//! false`) changes two things. The operator is woken when rows are done
//! and hands them at once to the writers that publish (the online store,
//! Kafka), in the order they finished; and every writer is advanced only
//! to the least event time still in flight, which also holds back the
//! operator's capability (a live run drains up to it before it stops).
//! Writers that keep history (Parquet) get rows only once all rows below
//! that time are done, sorted by event time and row hash, so their files
//! are the same however the lookups interleave.
//!
//! A publishing writer with a [`publish_interval`] (the online store, where
//! each write is a commit) is written at most once per interval: rows
//! released sooner wait for the next write (the operator wakes itself when
//! it is due, and writes at once at the end of the input). Waiting rows
//! hold back the operator's capability and the job's sink time, so a
//! checkpoint never counts them as written. While the run replays a
//! backlog — the output's completed event time advanced more than
//! [`REPLAY_SPEED`] times as fast as the wall clock since the last write
//! that saw it move (so a stall that ends, such as a slow lookup of an
//! unordered `enrich`, reads as no faster than real time) — the interval is
//! [`REPLAY_STRETCH`] times longer: visibility matters little minutes
//! behind, and fewer, larger writes keep only the latest row per entity of
//! more windows, so catching up costs less. A run that keeps up is back on
//! the short interval from its next write.
//!
//! [`publish_interval`]: SinkWriter::publish_interval

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use prometheus::Histogram;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;

use crate::chunk::Chunk;
use crate::error::DataflowError;
use crate::eval::time_column;
use crate::hash::hash_rows;
use crate::metrics::RunMetrics;
use crate::operators::{ChunkStream, ErrorSlot};
use crate::postprocess::{Postprocessor, RejectSink, Rejected};
use crate::sink::SinkWriter;

type Builder = CapacityContainerBuilder<Vec<Chunk>>;

/// The output's completed event time advancing this many times faster
/// than the wall clock (since the last write that saw it move) means the
/// run is replaying a backlog.
pub const REPLAY_SPEED: i64 = 4;

/// How much longer the publish interval is while replaying.
pub const REPLAY_STRETCH: u32 = 20;

/// How rows reach a sink in a deterministic order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOrder {
    /// Rows of one event time already arrive in a canonical order (window
    /// results): only order by event time.
    Canonical,
    /// Rows arrive in source order: order by event time, then row hash.
    Hashed,
}

/// A worker's post-processing chain and where the rows it refuses go.
pub type PostStage = (Box<dyn Postprocessor>, Option<Arc<dyn RejectSink>>);

/// One writer and its metrics.
struct Writer {
    writer: Box<dyn SinkWriter>,
    /// Rows are visible once it is advanced past them.
    publishes: bool,
    write_seconds: Histogram,
    freshness: Option<Histogram>,
    to_visible: Option<Histogram>,
    /// The job and the writer's kind, for logs.
    name: String,
    /// At most one write per this much time (see the module docs).
    pace: Option<Pace>,
    /// Rows for the next write (between activations, only while an
    /// interval holds them), and their least event time.
    waiting: Vec<RecordBatch>,
    waiting_since: Option<i64>,
    /// When the last write with rows began.
    last_write: Option<Instant>,
}

/// A writer's publish interval: its own, or stretched while replaying.
#[derive(Debug, Clone, Copy)]
struct Pace {
    base: Duration,
    interval: Duration,
    /// When a write last saw the output complete further than before, and
    /// how far: the pace of event time is measured from there.
    moved_at: Option<(Instant, i64)>,
}

impl Pace {
    fn new(base: Duration) -> Pace {
        Pace {
            base,
            interval: base,
            moved_at: None,
        }
    }

    /// Notes a write that began at `began` with the output complete up
    /// to `complete`, and sets the interval to the next.
    fn wrote(&mut self, began: Instant, complete: i64) {
        // Nothing complete yet (rows published on arrival before any
        // progress), or everything: no pace to measure.
        if complete == i64::MAX || complete == i64::MIN {
            return;
        }
        match self.moved_at {
            Some((_, done)) if complete <= done => {}
            Some((at, done)) => {
                let wall = began.saturating_duration_since(at);
                self.interval = interval_after(self.base, wall, complete.saturating_sub(done));
                self.moved_at = Some((began, complete));
            }
            None => self.moved_at = Some((began, complete)),
        }
    }
}

impl Writer {
    /// Queues rows for the writer's next write.
    fn hold(&mut self, rows: &RecordBatch) {
        if self.pace.is_some()
            && let Some(&t) = time_column(rows).values().iter().min()
        {
            self.waiting_since = Some(self.waiting_since.map_or(t, |s| s.min(t)));
        }
        self.waiting.push(rows.clone());
    }

    /// Whether rows may be written now.
    fn due(&self, now: Instant) -> bool {
        match (self.pace, self.last_write) {
            (Some(p), Some(last)) => now.saturating_duration_since(last) >= p.interval,
            _ => true,
        }
    }

    /// Writes `batches` and advances to `complete`, observing the metrics.
    fn publish(
        &mut self,
        batches: &[RecordBatch],
        complete: i64,
        metrics: &RunMetrics,
    ) -> Result<(), String> {
        let began = Instant::now();
        for rows in batches {
            self.writer.write(rows)?;
        }
        let taken = began.elapsed();
        self.writer.advance(complete)?;
        if batches.is_empty() {
            return Ok(());
        }
        if let Some(p) = self.pace.as_mut() {
            // By the frontier, even for rows written on arrival above it:
            // a window's rows arrive as the frontier passes the window
            // before, so the pace it gives is the same one window behind.
            p.wrote(began, complete);
        }
        self.last_write = Some(began);
        self.write_seconds.observe(began.elapsed().as_secs_f64());
        for rows in batches {
            if let Some(h) = &self.freshness {
                observe_freshness(h, rows);
            }
            if let Some(h) = &self.to_visible {
                observe_to_visible(h, rows, metrics, &self.name, (taken, began.elapsed()));
            }
        }
        Ok(())
    }
}

/// Writes a job's output (see the module docs). Rows outside `[start,
/// end)` are dropped (they belong to a lookback). The returned stream
/// carries nothing; it is complete when the writers are finished.
#[allow(clippy::too_many_arguments)]
pub fn sink<'s>(
    stream: ChunkStream<'s>,
    order: RowOrder,
    post: Option<PostStage>,
    writers: Vec<Box<dyn SinkWriter>>,
    interval: (Option<i64>, Option<i64>),
    (job, worker): (usize, usize),
    job_name: String,
    metrics: Arc<RunMetrics>,
    errors: Arc<ErrorSlot>,
) -> ChunkStream<'s> {
    let mut writers: Vec<Writer> = writers
        .into_iter()
        .map(|w| {
            let labels = [job_name.as_str(), w.kind()];
            let publishes = w.publishes_on_advance();
            Writer {
                pace: w.publish_interval().filter(|_| publishes).map(Pace::new),
                name: format!("job {job_name}, worker {worker}, {} sink", w.kind()),
                waiting: Vec::new(),
                waiting_since: None,
                last_write: None,
                publishes,
                write_seconds: metrics.sink_write_seconds.with_label_values(&labels),
                freshness: publishes.then(|| metrics.freshness_seconds.with_label_values(&labels)),
                to_visible: publishes.then(|| {
                    metrics
                        .watermark_to_visible_seconds
                        .with_label_values(&labels)
                }),
                writer: w,
            }
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
    let asynchronous = post.as_ref().is_some_and(|p| p.releases_out_of_order());
    // Publishing writers take rows as they arrive (see the module docs).
    let on_arrival =
        post.is_none() && order == RowOrder::Canonical && writers.iter().any(|w| w.publishes);
    // Rows wait for the frontier only for writers that take them then.
    let keeps_pending = !on_arrival || writers.iter().any(|w| !w.publishes);
    let scope = stream.scope();
    stream.unary_frontier::<Builder, _, _, _>(Pipeline, "Sink", move |cap, info| {
        if asynchronous && let Some(p) = post.as_mut() {
            let activator = scope.worker().sync_activator_for(info.address.to_vec());
            // The worker may be gone at the end of a failed run: then there
            // is nobody left to wake.
            p.set_waker(Arc::new(move || {
                let _ = activator.activate();
            }));
        }
        // Wakes the operator when waiting rows are due.
        let timer = scope.worker().activator_for(info.address.clone());
        // When the timer is set to fire (each setting adds a timer entry).
        let mut wake_at: Option<Instant> = None;
        let mut held = Some(cap);
        let mut pending: Vec<RecordBatch> = Vec::new();
        // Released rows waiting for the writers that keep history (only
        // when rows are released out of order).
        let mut settling: Vec<RecordBatch> = Vec::new();
        let mut last_frontier = i64::MIN;
        let mut last_complete = i64::MIN;
        // Rows that arrived in this activation, for the writers that take
        // them on arrival.
        let mut arrived: Vec<RecordBatch> = Vec::new();
        move |(input, frontier), _output| {
            input.for_each_stamp(|_cap, data| {
                for chunk in data.flat_map(|d| d.drain(..)) {
                    match restrict(&chunk.0, arrival) {
                        Ok(Some(b)) => {
                            if on_arrival {
                                arrived.push(b.clone());
                            }
                            if keeps_pending {
                                pending.push(b);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => errors.set(e),
                    }
                }
            });
            if held.is_none() {
                return;
            }
            let f = frontier.frontier().first().copied().unwrap_or(i64::MAX);
            let advanced = f > last_frontier || f == i64::MAX;
            let now = Instant::now();
            let due = writers.iter().any(|w| !w.waiting.is_empty() && w.due(now));
            if !advanced && !asynchronous && !due && arrived.is_empty() {
                return;
            }
            let fail = |e: String| DataflowError::Sink {
                job: job_name.clone(),
                message: e,
            };
            let post_fail = |e: String| DataflowError::Postprocess {
                job: job_name.clone(),
                message: e,
            };
            let mut released = None;
            if advanced {
                last_frontier = f;
                let ready = match ready_rows(&mut pending, f, order) {
                    Ok(ready) => ready,
                    Err(e) => {
                        errors.set(e);
                        None
                    }
                };
                match post.as_mut() {
                    Some(p) => {
                        if let Some(rows) = ready {
                            let done = p.process(rows).and_then(|out| {
                                settle(
                                    p.as_mut(),
                                    Some(out),
                                    written,
                                    rejects.as_deref(),
                                    &job_name,
                                    &metrics,
                                )
                            });
                            match done {
                                Ok(rows) => released = rows,
                                Err(e) => errors.set(post_fail(e)),
                            }
                        }
                        p.advance(f);
                    }
                    None => released = ready,
                }
            }
            // How far the output is complete: rows still in flight hold it
            // back.
            let mut complete = f;
            if asynchronous && let Some(p) = post.as_mut() {
                let done = p.poll().and_then(|out| {
                    settle(
                        p.as_mut(),
                        out,
                        written,
                        rejects.as_deref(),
                        &job_name,
                        &metrics,
                    )
                });
                match done {
                    Ok(more) => released = concat(released, more, &errors),
                    Err(e) => errors.set(post_fail(e)),
                }
                if let Some(t) = p.pending_since() {
                    complete = complete.min(t);
                }
            }
            let out: usize = if on_arrival {
                arrived.iter().map(RecordBatch::num_rows).sum()
            } else {
                released.as_ref().map_or(0, RecordBatch::num_rows)
            };
            metrics.jobs[job]
                .rows_out
                .fetch_add(out as u64, Ordering::Relaxed);
            let moved = complete > last_complete || complete == i64::MAX;
            last_complete = last_complete.max(complete);
            // Rows for the writers that keep history: as released, or, when
            // released out of order, those below `complete`, re-sorted.
            let mut history = None;
            if asynchronous {
                if writers.iter().any(|w| !w.publishes) {
                    settling.extend(released.clone());
                    if moved {
                        history = match ready_rows(&mut settling, complete, RowOrder::Hashed) {
                            Ok(rows) => rows,
                            Err(e) => {
                                errors.set(e);
                                None
                            }
                        };
                    }
                }
            } else {
                history = released.clone();
            }
            let ending = f == i64::MAX;
            for w in writers.iter_mut() {
                if w.publishes && on_arrival {
                    for rows in &arrived {
                        w.hold(rows);
                    }
                } else if let Some(rows) = if w.publishes { &released } else { &history } {
                    w.hold(rows);
                }
                if w.waiting.is_empty() && !moved {
                    continue;
                }
                // Only a writer with an interval is ever not due.
                if !ending && !w.waiting.is_empty() && !w.due(now) {
                    continue;
                }
                let mut batches = std::mem::take(&mut w.waiting);
                w.waiting_since = None;
                if let Err(e) = w.publish(&batches, complete, &metrics) {
                    errors.set(fail(e));
                }
                batches.clear();
                w.waiting = batches;
            }
            arrived.clear();
            // Rows waiting for a write are not written yet: they hold back
            // the sink time and the capability, and wake the operator when
            // due.
            let mut visible = complete;
            let mut wake: Option<Duration> = None;
            for w in writers.iter().filter(|w| !w.waiting.is_empty()) {
                visible = visible.min(w.waiting_since.unwrap_or(complete));
                if let (Some(p), Some(last)) = (w.pace, w.last_write) {
                    let left = p
                        .interval
                        .saturating_sub(now.saturating_duration_since(last));
                    wake = Some(wake.map_or(left, |d| d.min(left)));
                }
            }
            if let Some(d) = wake {
                let at = now + d;
                if wake_at.is_none_or(|w| w <= now || at < w) {
                    timer.activate_after(d);
                    wake_at = Some(at);
                }
            }
            if !errors.failed() {
                metrics.jobs[job].sink_time[worker].fetch_max(visible, Ordering::SeqCst);
                metrics.prune_watermarks();
            }
            // Let a probe see how far the sinks have got (live runs drain
            // up to it before stopping).
            if let Some(c) = held.as_mut()
                && visible != i64::MAX
                && visible > *c.time()
            {
                c.downgrade(&visible);
            }
            let in_flight = post.as_ref().is_some_and(|p| p.pending_since().is_some());
            // A failed run does not wait for rows in flight.
            if f == i64::MAX && frontier.frontier().is_empty() && (!in_flight || errors.failed()) {
                if !errors.failed() {
                    for w in writers.iter_mut() {
                        if let Err(e) = w.writer.finish() {
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
    })
}

/// A writer's interval after a write that found `event_ms` more event time
/// complete than the last one, `wall` later: stretched while replaying.
fn interval_after(base: Duration, wall: Duration, event_ms: i64) -> Duration {
    let wall_ms = (wall.as_millis() as i64).max(1);
    if event_ms > REPLAY_SPEED.saturating_mul(wall_ms) {
        base * REPLAY_STRETCH
    } else {
        base
    }
}

/// Takes the rows `p` refused to the dead-letter sink and keeps of `out`
/// the rows to write.
fn settle(
    p: &mut dyn Postprocessor,
    out: Option<RecordBatch>,
    written: (Option<i64>, Option<i64>),
    rejects: Option<&dyn RejectSink>,
    job: &str,
    metrics: &RunMetrics,
) -> Result<Option<RecordBatch>, String> {
    for r in p.take_rejected() {
        reject(r, written, rejects, job, metrics)?;
    }
    match out {
        Some(out) => restrict(&out, written).map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// `a` followed by `b`.
fn concat(
    a: Option<RecordBatch>,
    b: Option<RecordBatch>,
    errors: &ErrorSlot,
) -> Option<RecordBatch> {
    match (a, b) {
        (Some(a), Some(b)) => match arrow::compute::concat_batches(&a.schema(), [&a, &b]) {
            Ok(rows) => Some(rows),
            Err(e) => {
                errors.set(e.into());
                None
            }
        },
        (a, b) => a.or(b),
    }
}

fn observe_freshness(h: &Histogram, batch: &RecordBatch) {
    let now = chrono::Utc::now().timestamp_millis();
    let times = time_column(batch).values();
    // One observation per row, counted locally and added to the shared
    // histogram once (a window's rows are tens of thousands of atomic
    // adds otherwise). Rows come sorted by time: compute the age once per
    // run of equal times.
    let local = h.local();
    let mut i = 0;
    while i < times.len() {
        let t = times[i];
        let run = times[i..].iter().take_while(|&&u| u == t).count();
        let age = (now - t).max(0) as f64 / 1000.0;
        for _ in 0..run {
            local.observe(age);
        }
        i += run;
    }
    local.flush();
}

/// Observes, once per distinct event time of `batch` (per closed window),
/// the time since the run's watermark passed it, and logs it at debug
/// level (`QUIVER_LOG=quiver_dataflow=debug`), for a look at single windows
/// the histogram's buckets blur, with the write's two parts: the writer
/// taking the rows (encoding them), and the whole write.
fn observe_to_visible(
    h: &Histogram,
    batch: &RecordBatch,
    metrics: &RunMetrics,
    sink: &str,
    (taken, written): (Duration, Duration),
) {
    let now = Instant::now();
    let times = time_column(batch).values();
    let mut last = None;
    for &t in times.iter() {
        if last == Some(t) {
            continue;
        }
        last = Some(t);
        if let Some(at) = metrics.watermark_passed(t) {
            let after = now.saturating_duration_since(at).as_secs_f64();
            h.observe(after);
            tracing::debug!(
                target: "quiver_dataflow::visible",
                "{sink}: rows at {t} visible {:.3} ms after the watermark passed them (taken in {:.3} ms, written in {:.3} ms)",
                after * 1e3,
                taken.as_secs_f64() * 1e3,
                written.as_secs_f64() * 1e3,
            );
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
    let times = time_column(&all).values().clone();
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

#[cfg(test)]
mod tests {
    //! The operator with a chain that releases rows out of order: a fake
    //! step holds the rows of odd `k` until the writer that publishes has
    //! had every even one.

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::time::Duration;

    use arrow::array::{AsArray, Int64Array, TimestampMillisecondArray};
    use arrow::datatypes::Int64Type;
    use quiver_sql::{Binder, Registry, SourceInfo};
    use quiver_types::{DataType, Field, Schema};

    use super::*;
    use crate::executor;
    use crate::memory::MemorySource;
    use crate::postprocess::PostprocessFactory;
    use crate::sink::SinkFactory;
    use crate::source::SourceDef;

    const ROWS: i64 = 40;

    /// What a writer saw: ks written, or a frontier, and whether the gate
    /// was open then.
    #[derive(Debug, Clone)]
    enum Seen {
        Write(Vec<i64>, bool),
        Advance(i64, bool),
    }

    #[derive(Clone)]
    struct Shared {
        gate: Arc<AtomicBool>,
        evens: Arc<AtomicUsize>,
    }

    struct Holding {
        shared: Shared,
        held: Vec<RecordBatch>,
    }

    fn ks(b: &RecordBatch) -> Vec<i64> {
        b.column(0).as_primitive::<Int64Type>().values().to_vec()
    }

    impl Postprocessor for Holding {
        fn process(&mut self, batch: RecordBatch) -> Result<RecordBatch, String> {
            let odd: arrow::array::BooleanArray =
                ks(&batch).iter().map(|k| Some(k % 2 == 1)).collect();
            let even = arrow::compute::not(&odd).unwrap();
            self.held
                .push(arrow::compute::filter_record_batch(&batch, &odd).unwrap());
            Ok(arrow::compute::filter_record_batch(&batch, &even).unwrap())
        }
        fn releases_out_of_order(&self) -> bool {
            true
        }
        fn set_waker(&mut self, wake: Arc<dyn Fn() + Send + Sync>) {
            let s = self.shared.clone();
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    if s.evens.load(Ordering::SeqCst) == (ROWS / 2) as usize {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                s.gate.store(true, Ordering::SeqCst);
                wake();
            });
        }
        fn poll(&mut self) -> Result<Option<RecordBatch>, String> {
            if !self.shared.gate.load(Ordering::SeqCst) || self.held.is_empty() {
                return Ok(None);
            }
            let schema = self.held[0].schema();
            let all = arrow::compute::concat_batches(&schema, self.held.iter()).unwrap();
            self.held.clear();
            // Released newest first: out of order.
            let n = all.num_rows() as u32;
            Ok(Some(
                take_record_batch(&all, &UInt32Array::from((0..n).rev().collect::<Vec<_>>()))
                    .unwrap(),
            ))
        }
        fn pending_since(&self) -> Option<i64> {
            self.held
                .iter()
                .filter(|b| b.num_rows() > 0)
                .map(|b| time_column(b).value(0))
                .min()
        }
    }

    impl PostprocessFactory for Shared {
        fn open(&self, _: usize, _: usize) -> Result<Box<dyn Postprocessor>, String> {
            Ok(Box::new(Holding {
                shared: self.clone(),
                held: Vec::new(),
            }))
        }
    }

    #[derive(Clone)]
    struct Probe {
        publishes: bool,
        seen: Arc<Mutex<Vec<Seen>>>,
        shared: Shared,
    }

    impl SinkWriter for Probe {
        fn publishes_on_advance(&self) -> bool {
            self.publishes
        }
        fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
            let ks = ks(batch);
            if self.publishes {
                let evens = ks.iter().filter(|k| *k % 2 == 0).count();
                self.shared.evens.fetch_add(evens, Ordering::SeqCst);
            }
            let open = self.shared.gate.load(Ordering::SeqCst);
            self.seen.lock().unwrap().push(Seen::Write(ks, open));
            Ok(())
        }
        fn advance(&mut self, frontier: i64) -> Result<(), String> {
            let open = self.shared.gate.load(Ordering::SeqCst);
            self.seen
                .lock()
                .unwrap()
                .push(Seen::Advance(frontier, open));
            Ok(())
        }
        fn finish(&mut self) -> Result<(), String> {
            Ok(())
        }
    }

    impl SinkFactory for Probe {
        fn open(&self, _: usize, _: usize) -> Result<Box<dyn SinkWriter>, String> {
            Ok(Box::new(self.clone()))
        }
    }

    #[test]
    fn rows_released_out_of_order_publish_at_once_and_settle_in_order() {
        let schema = Schema::new(vec![
            Field::new("t", DataType::Timestamp),
            Field::new("k", DataType::Int64),
        ]);
        // Four batches of ten rows, k = i at t = i s: the frontier moves
        // between them.
        let batches = (0..4)
            .map(|b| {
                let k: Vec<i64> = (b * 10..b * 10 + 10).collect();
                RecordBatch::try_new(
                    schema.to_arrow(),
                    vec![
                        Arc::new(
                            TimestampMillisecondArray::from(
                                k.iter().map(|k| k * 1000).collect::<Vec<_>>(),
                            )
                            .with_timezone("UTC"),
                        ),
                        Arc::new(Int64Array::from(k)),
                    ],
                )
                .unwrap()
            })
            .collect();
        let sql = "SELECT k, t FROM e";
        let sources = [SourceInfo {
            name: "e".into(),
            schema: schema.clone(),
            time_col: Some(0),
        }];
        let ast = sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, sql)
            .unwrap();
        let sqlparser::ast::Statement::Query(q) = &ast[0] else {
            unreachable!()
        };
        let rel = Binder::new(sql, &sources, &Registry::new())
            .bind_query(q)
            .unwrap();
        let job = quiver_sql::CompiledJob {
            name: "j".into(),
            output: rel.plan.schema().clone(),
            plan: rel.plan,
            entity: vec![0],
        };
        let shared = Shared {
            gate: Arc::new(AtomicBool::new(false)),
            evens: Arc::new(AtomicUsize::new(0)),
        };
        let probe = |publishes| Probe {
            publishes,
            seen: Arc::default(),
            shared: shared.clone(),
        };
        let (online, history) = (probe(true), probe(false));
        let source = SourceDef {
            name: "e".into(),
            schema,
            time_col: Some(0),
            watermark_delay: 0,
            provider: Arc::new(MemorySource {
                splits: vec![batches],
            }),
        };
        executor::run(
            vec![executor::JobRun {
                job,
                sinks: vec![Arc::new(online.clone()), Arc::new(history.clone())],
                postprocess: Some(Arc::new(shared.clone())),
                rejects: None,
            }],
            vec![source],
            executor::RunOptions {
                workers: 1,
                start: None,
                end: None,
                live: None,
            },
            Arc::new(RunMetrics::new(1, 1, 1)),
        )
        .unwrap();
        let written = |p: &Probe| -> Vec<(Vec<i64>, bool)> {
            let seen = p.seen.lock().unwrap();
            seen.iter()
                .filter_map(|s| match s {
                    Seen::Write(k, open) => Some((k.clone(), *open)),
                    _ => None,
                })
                .collect()
        };
        // The publishing writer had every even row before the gate opened,
        // then the odd ones, as released (newest first).
        let online_rows = written(&online);
        let before: Vec<i64> = online_rows
            .iter()
            .filter(|(_, open)| !open)
            .flat_map(|(k, _)| k.clone())
            .collect();
        assert_eq!(before, (0..ROWS).step_by(2).collect::<Vec<_>>());
        let after: Vec<i64> = online_rows
            .iter()
            .filter(|(_, open)| *open)
            .flat_map(|(k, _)| k.clone())
            .collect();
        let mut odd: Vec<i64> = (1..ROWS).step_by(2).collect();
        odd.reverse();
        assert_eq!(after, odd);
        // Neither writer was advanced past the held row k = 1 (t = 1 s)
        // while it was held.
        for p in [&online, &history] {
            for s in p.seen.lock().unwrap().iter() {
                if let Seen::Advance(f, false) = s {
                    assert!(*f <= 1000, "advanced to {f} with k = 1 in flight");
                }
            }
        }
        // The historical writer got only k = 0 before, then the rest in
        // event-time order.
        let history_rows = written(&history);
        let all: Vec<i64> = history_rows.iter().flat_map(|(k, _)| k.clone()).collect();
        assert_eq!(all, (0..ROWS).collect::<Vec<_>>());
        for (k, open) in &history_rows {
            assert!(
                *open || k == &[0],
                "{k:?} written to history while rows were held"
            );
        }
    }

    /// Writes of a writer with a publish interval (when each began, and
    /// the ks), and the write in progress.
    #[derive(Clone, Default)]
    struct Paced(Arc<Mutex<Vec<Publish>>>, Arc<Mutex<Option<Publish>>>);

    type Publish = (Instant, Vec<i64>);

    // Long enough that a stalled test machine does not make row 2 due early.
    const PACE: Duration = Duration::from_millis(300);

    impl SinkWriter for Paced {
        fn publishes_on_advance(&self) -> bool {
            true
        }
        fn publish_interval(&self) -> Option<Duration> {
            Some(PACE)
        }
        fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
            let mut current = self.1.lock().unwrap();
            let (_, written) = current.get_or_insert_with(|| (Instant::now(), Vec::new()));
            written.extend(ks(batch));
            Ok(())
        }
        fn advance(&mut self, _: i64) -> Result<(), String> {
            if let Some(done) = self.1.lock().unwrap().take() {
                self.0.lock().unwrap().push(done);
            }
            Ok(())
        }
        fn finish(&mut self) -> Result<(), String> {
            self.advance(i64::MAX)
        }
    }

    /// One row of `k` at event time `t`, as the sink gets it.
    fn row(k: i64, t: i64) -> Chunk {
        Chunk(
            RecordBatch::try_from_iter([
                ("k", Arc::new(Int64Array::from(vec![k])) as _),
                ("__time", Arc::new(Int64Array::from(vec![t])) as _),
            ])
            .unwrap(),
        )
    }

    fn step_until(worker: &mut timely::worker::Worker, done: &dyn Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "timed out");
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
    }

    /// Runs `body` on one worker with a sink of `order` to `writer`, fed
    /// by an input handle, with a probe after it.
    fn with_sink(
        order: RowOrder,
        writers: Vec<Box<dyn SinkWriter + Sync>>,
        m: Arc<RunMetrics>,
        body: impl FnOnce(
            &mut timely::worker::Worker,
            &mut timely::dataflow::InputHandle<i64, Builder>,
            &timely::dataflow::ProbeHandle<i64>,
        ) + Send
        + Sync
        + 'static,
    ) {
        use timely::dataflow::InputHandle;
        use timely::dataflow::operators::{Input, Probe as _};

        timely::execute_directly(move |worker| {
            let mut input = InputHandle::<i64, Builder>::new();
            let probe = worker.dataflow(|scope| {
                let stream = scope.input_from(&mut input);
                sink(
                    stream,
                    order,
                    None,
                    writers
                        .into_iter()
                        .map(|w| w as Box<dyn SinkWriter>)
                        .collect(),
                    (None, None),
                    (0, 0),
                    "j".into(),
                    m.clone(),
                    Arc::new(ErrorSlot::default()),
                )
                .probe()
                .0
            });
            body(worker, &mut input, &probe);
        });
    }

    #[test]
    fn window_rows_publish_on_arrival_and_count_as_written_at_the_frontier() {
        for order in [RowOrder::Canonical, RowOrder::Hashed] {
            let paced = Paced::default();
            let writes = paced.0.clone();
            // A writer that keeps history beside it: rows once the frontier
            // passes them, whatever the order.
            let history = Probe {
                publishes: false,
                seen: Arc::default(),
                shared: Shared {
                    gate: Arc::default(),
                    evens: Arc::default(),
                },
            };
            let seen = history.seen.clone();
            let m = Arc::new(RunMetrics::new(1, 1, 1));
            let metrics = m.clone();
            let writers: Vec<Box<dyn SinkWriter + Sync>> = vec![Box::new(paced), Box::new(history)];
            with_sink(order, writers, m, move |worker, input, probe| {
                input.send(row(1, 5_000));
                input.advance_to(1_000);
                for _ in 0..20 {
                    worker.step();
                }
                let early = writes.lock().unwrap().len();
                if order == RowOrder::Canonical {
                    // Written with the frontier still before the row's time,
                    // which is not counted as written until it passes.
                    assert_eq!(early, 1);
                    assert_eq!(writes.lock().unwrap()[0].1, vec![1]);
                    assert_eq!(metrics.sink_time(0), 1_000);
                    assert!(probe.less_equal(&1_000));
                } else {
                    // Rows in source order wait for the frontier, to be sorted.
                    assert_eq!(early, 0);
                }
                let history_rows = || -> Vec<i64> {
                    let seen = seen.lock().unwrap();
                    seen.iter()
                        .filter_map(|s| match s {
                            Seen::Write(k, _) => Some(k.clone()),
                            _ => None,
                        })
                        .flatten()
                        .collect()
                };
                assert!(history_rows().is_empty());
                input.advance_to(6_000);
                step_until(worker, &|| metrics.sink_time(0) == 6_000);
                let w = writes.lock().unwrap();
                let ks: Vec<i64> = w.iter().flat_map(|(_, k)| k.clone()).collect();
                assert_eq!(ks, vec![1], "{order:?}");
                // Each writer had the row once, and it was counted once.
                assert_eq!(history_rows(), vec![1], "{order:?}");
                assert_eq!(metrics.jobs[0].rows_out.load(Ordering::SeqCst), 1);
            });
        }
    }

    #[test]
    fn rows_released_within_the_interval_wait_and_are_written_when_due() {
        // Rows in source order are written once the frontier passes them,
        // window results as they arrive: the interval holds either way.
        for order in [RowOrder::Hashed, RowOrder::Canonical] {
            rows_wait_for_the_interval(order);
        }
    }

    fn rows_wait_for_the_interval(order: RowOrder) {
        let paced = Paced::default();
        let writes = paced.0.clone();
        let m = Arc::new(RunMetrics::new(1, 1, 1));
        let metrics = m.clone();
        with_sink(
            order,
            vec![Box::new(paced)],
            metrics,
            move |worker, input, probe| {
                // The first row is written at once.
                input.send(row(1, 1_000));
                input.advance_to(2_000);
                step_until(worker, &|| writes.lock().unwrap().len() == 1);
                // The next, released at once after, waits: it holds back the
                // sink time and the capability ...
                input.send(row(2, 2_000));
                input.advance_to(3_000);
                step_until(worker, &|| m.jobs[0].rows_out.load(Ordering::SeqCst) == 2);
                for _ in 0..5 {
                    worker.step();
                }
                assert_eq!(writes.lock().unwrap().len(), 1);
                assert_eq!(m.sink_time(0), 2_000);
                assert!(probe.less_equal(&2_000));
                // ... until the operator wakes itself, with no frontier moving.
                step_until(worker, &|| writes.lock().unwrap().len() == 2);
                assert_eq!(m.sink_time(0), 3_000);
                let w = writes.lock().unwrap();
                assert_eq!(w[1].1, vec![2]);
                // Both times are taken at the first row a write hands over, just
                // after the operator notes when the write began.
                assert!(w[1].0 - w[0].0 >= PACE - Duration::from_millis(20));
                drop(w);
                // Event time racing ahead of the wall clock (1,000 s of it
                // here) is a replay: the next write waits the stretched interval.
                input.send(row(3, 3_000));
                input.advance_to(1_003_000);
                step_until(worker, &|| writes.lock().unwrap().len() == 3);
                input.send(row(4, 1_003_000));
                input.advance_to(1_004_000);
                let deadline = Instant::now() + PACE * REPLAY_STRETCH + Duration::from_secs(5);
                while writes.lock().unwrap().len() < 4 {
                    assert!(Instant::now() < deadline, "timed out");
                    worker.step_or_park(Some(Duration::from_millis(5)));
                }
                let w = writes.lock().unwrap();
                assert_eq!(w[3].1, vec![4]);
                assert!(w[3].0 - w[2].0 >= PACE * REPLAY_STRETCH - Duration::from_millis(20));
                drop(w);
                // A second of event time over those seconds of waiting: keeping
                // up, so the next write is due after the writer's own interval.
                input.send(row(5, 1_004_000));
                input.advance_to(1_005_000);
                step_until(worker, &|| writes.lock().unwrap().len() == 5);
                let w = writes.lock().unwrap();
                assert!(w[4].0 - w[3].0 < PACE * REPLAY_STRETCH / 2);
            },
        );
    }

    #[test]
    fn a_stall_that_ends_does_not_read_as_a_replay() {
        let base = Duration::from_millis(50);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut p = Pace::new(base);
        p.wrote(at(0), 1_000);
        // A slow lookup holds the output at 1 s for 2 s of writes ...
        for ms in (50..2_000).step_by(50) {
            p.wrote(at(ms), 1_000);
            assert_eq!(p.interval, base);
        }
        // ... and then it moves by the 2 s it was held.
        p.wrote(at(2_000), 3_050);
        assert_eq!(p.interval, base);
        // Minutes of event time in 50 ms: replaying, until it slows again.
        p.wrote(at(2_050), 303_050);
        assert_eq!(p.interval, base * REPLAY_STRETCH);
        p.wrote(at(3_050), 304_050);
        assert_eq!(p.interval, base);
        // The end of the input changes nothing.
        p.wrote(at(3_100), i64::MAX);
        assert_eq!(p.interval, base);
    }

    #[test]
    fn the_interval_stretches_only_while_event_time_outruns_the_wall_clock() {
        let base = Duration::from_millis(50);
        let stretched = base * REPLAY_STRETCH;
        // Keeping up: a minute's window a minute later, or a little more
        // event time than wall time.
        assert_eq!(interval_after(base, Duration::from_secs(60), 60_000), base);
        assert_eq!(interval_after(base, Duration::from_millis(50), 150), base);
        assert_eq!(interval_after(base, Duration::ZERO, 0), base);
        // Replaying: minutes of event time within one interval.
        assert_eq!(
            interval_after(base, Duration::from_millis(50), 300_000),
            stretched
        );
        assert_eq!(interval_after(base, Duration::ZERO, 10), stretched);
    }
}
