//! Running jobs: one timely worker per thread, each reading its share of
//! the sources and driving the dataflow.
//!
//! Each worker builds the same dataflow (one input per source, every job's
//! operators, one sink per job), then:
//!
//! 1. reads every bounded *table* whole (each worker keeps a copy for
//!    joins) at the earliest time, and closes those inputs;
//! 2. reads its share of the *stream* splits, always advancing the split
//!    whose lower time bound is smallest, so splits progress together and
//!    windows close as early as possible. After each batch, every stream
//!    input advances to the least lower bound of its unfinished splits: that
//!    is the worker's watermark, and timely's frontier — the least over all
//!    workers — is the run's;
//! 3. closes its inputs and steps the dataflow until every sink has finished.
//!
//! A *live* run ([`RunOptions::live`]) then polls its live splits (Kafka
//! partitions) until asked to stop. A live split quiet for longer than the
//! idle timeout no longer holds its input back (if every live split of a
//! source is quiet, the input waits where it is). Stopping never closes the
//! inputs, which would flush half-filled windows as if they were complete:
//! every worker stops reading, the dataflow drains up to the run's
//! watermark (so sinks have written every final row and committed what is
//! complete), and the dataflow is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::TimestampMillisecondType;
use quiver_sql::CompiledJob;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::InputHandle;
use timely::dataflow::operators::Probe;
use timely::dataflow::operators::probe::Handle as ProbeHandle;

use crate::chunk::{Chunk, with_time};
use crate::compile::{PlanBuilder, required_columns, row_order};
use crate::error::DataflowError;
use crate::metrics::RunMetrics;
use crate::operators::{ErrorSlot, exchange_by_key};
use crate::postprocess::{PostprocessFactory, RejectSink};
use crate::sink::{SinkFactory, SinkWriter};
use crate::sink_operator::{RowOrder, sink};
use crate::source::{Polled, ReadRequest, Rejection, SourceDef, Split, SplitClock};

/// A job to run and where its output goes.
#[derive(Clone)]
pub struct JobRun {
    /// The compiled job.
    pub job: CompiledJob,
    /// Its sinks.
    pub sinks: Vec<Arc<dyn SinkFactory>>,
    /// Its post-processors, applied before the sinks.
    pub postprocess: Option<Arc<dyn PostprocessFactory>>,
    /// Where rows the post-processors refuse go (the job's dead-letter
    /// sink); required when they can refuse rows.
    pub rejects: Option<Arc<dyn RejectSink>>,
}

impl JobRun {
    /// Event time to read before an interval's start: the query's window
    /// lookback plus what the post-processors need.
    pub fn lookback(&self) -> i64 {
        self.job.lookback() + self.postprocess.as_ref().map_or(0, |p| p.lookback())
    }
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Worker threads.
    pub workers: usize,
    /// Only output rows with event time at or after this (ms).
    pub start: Option<i64>,
    /// Only output rows with event time before this (ms).
    pub end: Option<i64>,
    /// Settings of a live run; `None` for a backfill.
    pub live: Option<LiveOptions>,
}

/// Settings of a live run.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Set (by a signal handler, say) to stop: drain and return.
    pub stop: Arc<AtomicBool>,
    /// Stop by itself once the run's watermark reaches this time (ms).
    pub stop_at: Option<i64>,
    /// A live split without new data for this long stops holding back the
    /// watermark.
    pub idle_timeout: Duration,
    /// Per job (in the order of the run's jobs; missing means `None`),
    /// the event time its output resumes at (a checkpoint's frontier):
    /// with [`RunOptions::start`], the later of the two. Jobs that last
    /// ran apart resume each where it stopped, and a job without one
    /// writes every row from where its sources start.
    pub resume: Vec<Option<i64>>,
}

type Input = InputHandle<i64, CapacityContainerBuilder<Vec<Chunk>>>;

struct Reader {
    source: usize,
    split: Box<dyn Split>,
    clock: SplitClock,
    /// Live splits: when data last arrived.
    last_data: Instant,
}

impl Reader {
    fn lower_bound(&self, delay: i64) -> i64 {
        let stats = self.split.min_time().unwrap_or(i64::MIN);
        self.clock.watermark(delay).map_or(stats, |w| w.max(stats))
    }

    fn idle(&self, live: Option<&LiveOptions>) -> bool {
        live.is_some_and(|l| self.split.is_live() && self.last_data.elapsed() >= l.idle_timeout)
    }
}

/// Runs `jobs` over `sources` to completion. Sources are matched to plans
/// by name; `metrics` must have been created for these sources and jobs.
pub fn run(
    jobs: Vec<JobRun>,
    sources: Vec<SourceDef>,
    opts: RunOptions,
    metrics: Arc<RunMetrics>,
) -> Result<(), DataflowError> {
    let plans: Vec<_> = jobs.iter().map(|j| &j.job.plan).collect();
    let needed = required_columns(&plans);
    // Each job's output starts at the later of the run's start and its
    // own resume point.
    let starts: Vec<Option<i64>> = (0..jobs.len())
        .map(|j| {
            let resume = opts
                .live
                .as_ref()
                .and_then(|l| l.resume.get(j).copied().flatten());
            opts.start.max(resume)
        })
        .collect();
    // A source is read from far enough back that the first windows of
    // every job reading it are complete: the earliest of their starts less
    // their lookback, or from its beginning when one of them has no start.
    let mut read_from: HashMap<String, Option<i64>> = HashMap::new();
    for (j, run) in jobs.iter().enumerate() {
        let from = starts[j].map(|t| t.saturating_sub(run.lookback()));
        for s in run.job.plan.sources() {
            read_from
                .entry(s)
                .and_modify(|f| *f = f.zip(from).map(|(a, b)| a.min(b)))
                .or_insert(from);
        }
    }
    let sources: Vec<(SourceDef, ReadRequest)> = sources
        .into_iter()
        .filter(|s| needed.contains_key(&s.name))
        .map(|s| {
            let mut columns = needed[&s.name].clone();
            if let Some(t) = s.time_col {
                columns[t] = true;
            }
            let stream = s.time_col.is_some();
            let req = ReadRequest {
                columns,
                start: if stream {
                    read_from.get(&s.name).copied().flatten()
                } else {
                    None
                },
                end: if stream { opts.end } else { None },
            };
            (s, req)
        })
        .collect();
    let errors = Arc::new(ErrorSlot::default());
    let jobs = Arc::new(jobs);
    let sources = Arc::new(sources);
    let end = opts.end;
    let (m, e) = (metrics.clone(), errors.clone());
    let opts_live = opts.live.clone();
    let stopped = Arc::new(AtomicUsize::new(0));
    let drained = Arc::new(AtomicUsize::new(0));
    let config = timely::Config::process(opts.workers.max(1));
    let guards = timely::execute(config, move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        let probe = ProbeHandle::new();
        let mut inputs: Vec<Option<Input>> = Vec::new();
        worker.dataflow::<i64, _, _>(|scope| {
            let mut streams = HashMap::new();
            for (s, _) in sources.iter() {
                let mut h = Input::new();
                streams.insert(s.name.clone(), h.to_stream(scope));
                inputs.push(Some(h));
            }
            for (j, run) in jobs.iter().enumerate() {
                let builder = PlanBuilder {
                    scope,
                    sources: &streams,
                    peers,
                    job: j,
                    metrics: m.clone(),
                    errors: e.clone(),
                };
                let out = match builder.build(&run.job.plan) {
                    Ok(s) => s,
                    Err(err) => {
                        e.set(err);
                        continue;
                    }
                };
                // A stateful post-processor needs each key's rows on one
                // worker; after that exchange, rows of one event time arrive
                // from several workers, so they are ordered by content.
                let mut order = row_order(&run.job.plan);
                let mut out = out;
                let mut post = None;
                let post_keys = run.postprocess.as_ref().and_then(|p| p.partition_by());
                // Files are per worker, so which worker writes a row must
                // not depend on how splits were dealt (row groups in a
                // backfill, partitions in a live run): rows a plan does not
                // already spread by a key (a per-event job's) go to workers
                // by the entity's hash.
                if peers > 1
                    && post_keys.is_none()
                    && crate::compile::partitioned_by(&run.job.plan).is_none()
                {
                    let keys = if run.job.entity.is_empty() {
                        (0..run.job.plan.schema().len()).collect()
                    } else {
                        run.job.entity.clone()
                    };
                    out = exchange_by_key(out, keys, peers, e.clone());
                    order = RowOrder::Hashed;
                }
                if let Some(p) = &run.postprocess {
                    if let Some(keys) = post_keys {
                        out = exchange_by_key(out, keys, peers, e.clone());
                        order = RowOrder::Hashed;
                    }
                    match p.open(index, peers) {
                        Ok(chain) => post = Some(chain),
                        Err(msg) => e.set(DataflowError::Postprocess {
                            job: run.job.name.clone(),
                            message: msg,
                        }),
                    }
                }
                let mut writers: Vec<Box<dyn SinkWriter>> = Vec::new();
                for f in &run.sinks {
                    match f.open(index, peers) {
                        Ok(w) => writers.push(w),
                        Err(msg) => e.set(DataflowError::Sink {
                            job: run.job.name.clone(),
                            message: msg,
                        }),
                    }
                }
                sink(
                    out,
                    order,
                    post.map(|p| (p, run.rejects.clone())),
                    writers,
                    (starts[j], end),
                    (j, index),
                    run.job.name.clone(),
                    m.clone(),
                    e.clone(),
                )
                .probe_with(&probe);
            }
        });
        let live = opts_live.as_ref();
        read_sources(worker, index, peers, &sources, &mut inputs, &m, &e, live);
        match live {
            None => {
                for i in inputs.iter_mut() {
                    i.take();
                }
                // Park when idle (rows in flight in an unordered enrich
                // wake the sink operator), rather than spin on both cores.
                while !probe.done() {
                    worker.step_or_park(Some(Duration::from_millis(1)));
                }
                m.worker_time[index].store(i64::MAX, Ordering::Relaxed);
            }
            Some(_) => {
                // Drain without closing the inputs: wait until every worker
                // has stopped reading, then until the sinks have caught up
                // with the run's watermark, and drop the dataflow.
                stopped.fetch_add(1, Ordering::SeqCst);
                while stopped.load(Ordering::SeqCst) < peers {
                    worker.step_or_park(Some(Duration::from_millis(1)));
                }
                let target = m
                    .worker_time
                    .iter()
                    .map(|t| t.load(Ordering::SeqCst))
                    .min()
                    .unwrap_or(i64::MIN);
                while probe.less_than(&target) && !e.failed() {
                    worker.step_or_park(Some(Duration::from_millis(1)));
                }
                drained.fetch_add(1, Ordering::SeqCst);
                while drained.load(Ordering::SeqCst) < peers {
                    worker.step_or_park(Some(Duration::from_millis(1)));
                }
                for id in worker.installed_dataflows() {
                    worker.drop_dataflow(id);
                }
            }
        }
    })
    .map_err(DataflowError::Runtime)?;
    for r in guards.join() {
        r.map_err(DataflowError::Runtime)?;
    }
    match errors.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[allow(clippy::too_many_arguments)]
fn read_sources(
    worker: &mut timely::worker::Worker,
    index: usize,
    peers: usize,
    sources: &[(SourceDef, ReadRequest)],
    inputs: &mut [Option<Input>],
    metrics: &RunMetrics,
    errors: &ErrorSlot,
    live: Option<&LiveOptions>,
) {
    let fail = |name: &str, message: String| DataflowError::Source {
        source_name: name.to_string(),
        message,
    };
    // Tables: every worker reads all of them, at the earliest time.
    for (i, (def, req)) in sources.iter().enumerate() {
        if def.time_col.is_some() {
            continue;
        }
        match def.provider.splits(0, 1, req) {
            Ok(splits) => {
                for mut split in splits {
                    loop {
                        match split.next_batch() {
                            Ok(Some(b)) => {
                                if index == 0 {
                                    metrics.sources[i]
                                        .rows_read
                                        .fetch_add(b.num_rows() as u64, Ordering::Relaxed);
                                }
                                match with_time_column(&b, None, &def.schema) {
                                    Ok(c) => inputs[i].as_mut().expect("open").send(Chunk(c)),
                                    Err(e) => errors.set(e),
                                }
                            }
                            Ok(None) => break,
                            Err(msg) => {
                                errors.set(fail(&def.name, format!("{}: {msg}", split.describe())));
                                break;
                            }
                        }
                    }
                }
            }
            Err(msg) => errors.set(fail(&def.name, msg)),
        }
        inputs[i].take();
        worker.step();
    }
    // Streams: this worker's share of the splits, lowest time bound first.
    let mut readers: Vec<Reader> = Vec::new();
    for (i, (def, req)) in sources.iter().enumerate() {
        if def.time_col.is_none() {
            continue;
        }
        match def.provider.splits(index, peers, req) {
            Ok(splits) => readers.extend(splits.into_iter().map(|split| Reader {
                source: i,
                clock: SplitClock {
                    max_seen: split.resume_clock(),
                },
                split,
                last_data: Instant::now(),
            })),
            Err(msg) => errors.set(fail(&def.name, msg)),
        }
    }
    let delay = |r: &Reader| sources[r.source].0.watermark_delay;
    advance_inputs(&readers, sources, inputs, metrics, index, None);
    // Bounded splits first (a hybrid source's history), in time order.
    while !errors.failed() {
        let Some(k) = (0..readers.len())
            .filter(|&k| !readers[k].split.is_live())
            .min_by_key(|&k| readers[k].lower_bound(delay(&readers[k])))
        else {
            break;
        };
        poll(&mut readers, k, sources, inputs, metrics, errors);
        advance_inputs(&readers, sources, inputs, metrics, index, None);
        worker.step();
    }
    let Some(live) = live else { return };
    // Live splits, round robin, until asked to stop.
    for r in readers.iter_mut() {
        r.last_data = Instant::now();
    }
    while !errors.failed() && !live.stop.load(Ordering::Relaxed) {
        let mut got = false;
        for k in 0..readers.len() {
            // Step after each split that brought rows, not once a round:
            // a window this split's watermark closes is emitted, and the
            // other workers learn this worker's watermark, before the
            // next split is read (a worker catching up reads ~2 ms a split).
            if k < readers.len() && poll(&mut readers, k, sources, inputs, metrics, errors) {
                got = true;
                advance_inputs(&readers, sources, inputs, metrics, index, Some(live));
                worker.step();
            }
        }
        // Splits that went idle or ended this round.
        advance_inputs(&readers, sources, inputs, metrics, index, Some(live));
        if live
            .stop_at
            .is_some_and(|t| metrics.watermark().is_some_and(|w| w >= t))
        {
            break;
        }
        if !got {
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
    }
}

/// Polls reader `k` once and feeds what it returns into its input. Returns
/// whether rows arrived; removes the reader when it is exhausted.
fn poll(
    readers: &mut Vec<Reader>,
    k: usize,
    sources: &[(SourceDef, ReadRequest)],
    inputs: &mut [Option<Input>],
    metrics: &RunMetrics,
    errors: &ErrorSlot,
) -> bool {
    let src = readers[k].source;
    let (def, req) = &sources[src];
    let counters = &metrics.sources[src];
    match readers[k].split.poll_batch() {
        Ok(Polled::Batch(b)) => {
            let r = &mut readers[k];
            r.last_data = Instant::now();
            counters
                .rows_read
                .fetch_add(b.num_rows() as u64, Ordering::Relaxed);
            let floor = *inputs[src].as_ref().expect("open").time();
            match admit(&b, def, req, &mut r.clock, floor) {
                Ok((chunk, late, invalid)) => {
                    if !late.is_empty() {
                        counters
                            .rows_late
                            .fetch_add(late.len() as u64, Ordering::Relaxed);
                        r.split.reject(&late, Rejection::Late);
                    }
                    if !invalid.is_empty() {
                        counters
                            .rows_invalid
                            .fetch_add(invalid.len() as u64, Ordering::Relaxed);
                        r.split.reject(&invalid, Rejection::NoEventTime);
                    }
                    if let Some(c) = chunk {
                        inputs[src].as_mut().expect("open").send(Chunk(c));
                    }
                }
                Err(e) => errors.set(e),
            }
            true
        }
        Ok(Polled::Pending) => false,
        Ok(Polled::End) => {
            readers.swap_remove(k);
            false
        }
        Err(msg) => {
            errors.set(DataflowError::Source {
                source_name: def.name.clone(),
                message: format!("{}: {msg}", readers[k].split.describe()),
            });
            false
        }
    }
}

/// Moves each stream input to the least lower bound of its unfinished
/// splits, closing inputs whose splits are all read. In a live run, idle
/// live splits do not count, unless all of a source's splits are idle (then
/// the input stays where it is).
fn advance_inputs(
    readers: &[Reader],
    sources: &[(SourceDef, ReadRequest)],
    inputs: &mut [Option<Input>],
    metrics: &RunMetrics,
    index: usize,
    live: Option<&LiveOptions>,
) {
    let mut least = i64::MAX;
    for (i, (def, _)) in sources.iter().enumerate() {
        if def.time_col.is_none() {
            continue;
        }
        let mut any = false;
        let bound = readers
            .iter()
            .filter(|r| r.source == i)
            .inspect(|_| any = true)
            .filter(|r| !r.idle(live))
            .map(|r| r.lower_bound(def.watermark_delay))
            .min();
        match bound {
            None if !any => {
                inputs[i].take();
            }
            None => {
                least = least.min(inputs[i].as_ref().map_or(i64::MAX, |h| *h.time()));
            }
            Some(t) => {
                if let Some(h) = inputs[i].as_mut()
                    && t > *h.time()
                {
                    h.advance_to(t);
                }
                least = least.min(inputs[i].as_ref().map_or(t, |h| *h.time()));
            }
        }
    }
    metrics.set_worker_time(index, least);
}

/// Applies the watermark and interval to a batch read from a split, and
/// appends `__time`. Returns the rows to send and the late and invalid rows.
type Admitted = (Option<RecordBatch>, Vec<u32>, Vec<u32>);

fn admit(
    b: &RecordBatch,
    def: &SourceDef,
    req: &ReadRequest,
    clock: &mut SplitClock,
    floor: i64,
) -> Result<Admitted, DataflowError> {
    let t = def.time_col.expect("streams have an event time");
    let ts = b
        .column(t)
        .as_primitive_opt::<TimestampMillisecondType>()
        .ok_or_else(|| DataflowError::Source {
            source_name: def.name.clone(),
            message: format!(
                "event-time column arrived as {}, not a millisecond timestamp",
                b.column(t).data_type()
            ),
        })?;
    let a = clock.admit(
        ts.values(),
        ts.nulls(),
        def.watermark_delay,
        floor,
        (req.start, req.end),
    );
    let kept = match a.keep {
        None => b.clone(),
        Some(k) if k.is_empty() => return Ok((None, a.late, a.invalid)),
        Some(k) => take_record_batch(b, &UInt32Array::from(k))?,
    };
    Ok((
        Some(with_time_column(&kept, Some(t), &def.schema)?),
        a.late,
        a.invalid,
    ))
}

/// Appends `__time`: the event-time column's values, or the minimum time for tables.
fn with_time_column(
    b: &RecordBatch,
    time_col: Option<usize>,
    schema: &quiver_types::Schema,
) -> Result<RecordBatch, DataflowError> {
    let time: ArrayRef = match time_col {
        Some(t) => {
            let ts = b.column(t).as_primitive::<TimestampMillisecondType>();
            Arc::new(Int64Array::new(ts.values().clone(), None))
        }
        None => Arc::new(Int64Array::from(vec![i64::MIN; b.num_rows()])),
    };
    let mut cols = b.columns().to_vec();
    cols.push(time);
    Ok(RecordBatch::try_new(with_time(schema), cols)?)
}
