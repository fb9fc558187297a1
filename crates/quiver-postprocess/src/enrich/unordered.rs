//! `enrich` with `ordered: false`: each row leaves the step as soon as its
//! own lookup is done, so a slow lookup delays only its rows (Flink's
//! `unorderedWait`; Dagger has only the ordered mode, where one slow call
//! holds back every row behind it).
//!
//! The lookups run on a runtime thread of the step's own, not on the timely
//! worker. [`submit`](UnorderedEnrich::submit) starts a batch's lookups and
//! returns at once with the rows it can answer already (from the cache, or
//! rows with a NULL variable, which need none). A finished lookup sends its
//! answer back over a channel and wakes the sink operator, whose next
//! [`take_done`](UnorderedEnrich::take_done) releases the rows waiting for
//! it. At most `capacity` lookups run at once and the others wait for a
//! slot in the order they came; rows with the same variables share one
//! lookup, also across batches while it is in flight.
//!
//! Backpressure: while more than `capacity × QUEUE_PER_SLOT` rows wait for
//! their lookups, `submit` waits for answers before it returns, so a slow
//! source slows the job down instead of piling rows up in memory.
//!
//! [`pending_since`](UnorderedEnrich::pending_since) is the oldest event
//! time still waiting: the sink operator advances its writers only up to
//! it, and gives the writers that keep history their rows re-sorted once
//! all rows before it are done, so their files do not depend on timing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

use arrow::array::{RecordBatch, UInt32Array};
use arrow::compute::take_record_batch;
use futures_util::FutureExt;
use hashbrown::HashMap;
use quiver_dataflow::eval::time_column;
use quiver_types::Value;

use super::{Answer, Client, EnrichPlan, FAILED, lookup};
use crate::failures::Failures;

/// Rows that may wait for their lookups, per slot of `capacity`, before
/// `submit` waits for answers.
const QUEUE_PER_SLOT: usize = 64;

/// A finished lookup: its cache key and result.
type Done = (String, Result<Answer, String>);

/// Wakes the sink operator.
type Wake = Arc<dyn Fn() + Send + Sync>;

/// One worker's `enrich` step with `ordered: false`.
pub struct UnorderedEnrich {
    plan: Arc<EnrichPlan>,
    /// Where the lookups run: one thread of its own.
    runtime: tokio::runtime::Runtime,
    client: Arc<Client>,
    slots: Arc<tokio::sync::Semaphore>,
    done_tx: Sender<Done>,
    done_rx: Receiver<Done>,
    wake: Option<Wake>,
    /// Lookups started and not yet taken back, by cache key.
    in_flight: HashMap<String, InFlight>,
    /// Batches with rows still waiting, by arrival.
    waiting: BTreeMap<u64, Waiting>,
    next_batch: u64,
    /// Rows waiting for their lookups (the sum of the batches' `left`).
    rows_waiting: usize,
    /// Rows whose lookups finished, per batch, not yet released (each
    /// batch's are released together, once per call).
    leaving: BTreeMap<u64, Vec<u32>>,
    /// Rows released and not yet handed out.
    released: Vec<RecordBatch>,
}

/// A lookup in flight.
struct InFlight {
    vars: Vec<Value>,
    /// Who waits for it: (batch, request of that batch).
    waiters: Vec<(u64, usize)>,
}

/// A batch with rows still waiting for their lookups.
struct Waiting {
    batch: RecordBatch,
    /// Per row, its request (see [`super::Requests::row`]).
    row_request: Vec<Option<usize>>,
    /// Per request, its rows.
    rows_of: Vec<Vec<u32>>,
    answers: Vec<Option<Answer>>,
    /// Per row, whether it still waits.
    open: Vec<bool>,
    /// Rows before this one have all left (rows come in event-time order,
    /// so its time is the batch's oldest waiting one).
    first_open: usize,
    /// Rows still waiting.
    left: usize,
}

impl Waiting {
    /// `rows` (ascending) with their new columns.
    fn release(&self, plan: &EnrichPlan, rows: Vec<u32>) -> Result<RecordBatch, String> {
        let requests: Vec<Option<usize>> =
            rows.iter().map(|&r| self.row_request[r as usize]).collect();
        let taken = take_record_batch(&self.batch, &UInt32Array::from(rows))
            .map_err(|e| format!("enrich: {e}"))?;
        plan.with_columns(&taken, &requests, &self.answers)
    }

    /// Moves `first_open` past rows that have left.
    fn skip_released(&mut self) {
        while self.first_open < self.open.len() && !self.open[self.first_open] {
            self.first_open += 1;
        }
    }

    /// The event time of its oldest waiting row.
    fn oldest(&self) -> Option<i64> {
        (self.first_open < self.open.len()).then(|| time_column(&self.batch).value(self.first_open))
    }
}

impl UnorderedEnrich {
    /// The step of one worker: its runtime thread and (lazily connected)
    /// client.
    pub fn open(plan: Arc<EnrichPlan>) -> Result<UnorderedEnrich, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("quiver-enrich")
            .enable_all()
            .build()
            .map_err(|e| format!("enrich: cannot start a runtime: {e}"))?;
        let client = Arc::new(Client::open(&plan, &runtime)?);
        let (done_tx, done_rx) = channel();
        Ok(UnorderedEnrich {
            slots: Arc::new(tokio::sync::Semaphore::new(plan.capacity)),
            plan,
            runtime,
            client,
            done_tx,
            done_rx,
            wake: None,
            in_flight: HashMap::new(),
            waiting: BTreeMap::new(),
            next_batch: 0,
            rows_waiting: 0,
            leaving: BTreeMap::new(),
            released: Vec::new(),
        })
    }

    /// Called when a lookup finishes (from the step's runtime thread).
    pub fn set_waker(&mut self, wake: Wake) {
        self.wake = Some(wake);
    }

    /// Starts the lookups of `batch` (rows in event-time order) and
    /// returns what is released so far.
    pub fn submit(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>, String> {
        let plan = self.plan.clone();
        let req = plan.requests(&batch);
        let mut answers: Vec<Option<Answer>> = vec![None; req.list.len()];
        let misses = plan.answer_from_cache(&req, &mut answers);
        if misses.is_empty() {
            self.released
                .push(plan.with_columns(&batch, &req.row, &answers)?);
        } else {
            let id = self.next_batch;
            self.next_batch += 1;
            let mut rows_of = vec![Vec::new(); req.list.len()];
            let mut open = vec![false; req.row.len()];
            let mut now = Vec::new();
            for (r, q) in req.row.iter().enumerate() {
                match q {
                    Some(i) if answers[*i].is_none() => {
                        rows_of[*i].push(r as u32);
                        open[r] = true;
                    }
                    _ => now.push(r as u32),
                }
            }
            let left = req.row.len() - now.len();
            let mut w = Waiting {
                batch,
                row_request: req.row,
                rows_of,
                answers,
                open,
                first_open: 0,
                left,
            };
            w.skip_released();
            if !now.is_empty() {
                self.released.push(w.release(&plan, now)?);
            }
            self.rows_waiting += w.left;
            let mut missed = vec![false; req.list.len()];
            for &i in &misses {
                missed[i] = true;
            }
            // Rows that join a lookup already in flight need no request of
            // their own: counted as answered without one, like cache hits.
            let mut joined = 0;
            for (i, (key, vars)) in req.list.into_iter().enumerate() {
                if !missed[i] {
                    continue;
                }
                match self.in_flight.get_mut(&key) {
                    Some(f) => {
                        f.waiters.push((id, i));
                        joined += w.rows_of[i].len() as u64;
                    }
                    None => {
                        self.start(key.clone(), vars.clone());
                        self.in_flight.insert(
                            key,
                            InFlight {
                                vars,
                                waiters: vec![(id, i)],
                            },
                        );
                    }
                }
            }
            self.waiting.insert(id, w);
            plan.counters
                .cache_hits
                .fetch_add(joined, std::sync::atomic::Ordering::Relaxed);
        }
        // Backpressure: wait for answers while too many rows wait.
        self.collect(plan.capacity.saturating_mul(QUEUE_PER_SLOT))
    }

    /// Releases the rows whose lookups finished since the last call.
    pub fn take_done(&mut self) -> Result<Option<RecordBatch>, String> {
        self.collect(usize::MAX)
    }

    /// Takes back the finished lookups, first waiting for answers while
    /// more than `limit` rows wait, and releases their rows.
    fn collect(&mut self, limit: usize) -> Result<Option<RecordBatch>, String> {
        let mut failures = Failures::new(self.plan.fail_on_errors);
        loop {
            let done = if self.rows_waiting > limit {
                self.done_rx
                    .recv()
                    .map_err(|_| "enrich: the lookup thread stopped".to_string())?
            } else {
                match self.done_rx.try_recv() {
                    Ok(done) => done,
                    Err(_) => break,
                }
            };
            self.finish(done, &mut failures)?;
        }
        failures.warn(&self.plan.job, FAILED);
        for (id, mut rows) in std::mem::take(&mut self.leaving) {
            // Several lookups' rows: back in row order.
            rows.sort_unstable();
            let w = &self.waiting[&id];
            self.released.push(w.release(&self.plan, rows)?);
            if w.left == 0 {
                self.waiting.remove(&id);
            }
        }
        self.take_released()
    }

    /// The oldest event time of a row still waiting for its lookup: the
    /// first batch's with rows waiting, since batches come in event-time
    /// order.
    pub fn pending_since(&self) -> Option<i64> {
        self.waiting.values().find_map(Waiting::oldest)
    }

    /// Runs the lookup `vars` on the step's runtime when a slot is free.
    fn start(&self, key: String, vars: Vec<Value>) {
        let (plan, client, slots) = (self.plan.clone(), self.client.clone(), self.slots.clone());
        let (done, wake) = (self.done_tx.clone(), self.wake.clone());
        self.runtime.spawn(async move {
            // The semaphore is never closed; slots are handed out in the
            // order lookups asked for them.
            let Ok(_slot) = slots.acquire_owned().await else {
                return;
            };
            // A lookup that panicked must still answer, or its rows would
            // wait for ever.
            let result = std::panic::AssertUnwindSafe(lookup(&plan, &client, &vars))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Err("the lookup panicked".to_string()));
            // The step may be gone (the run stopped): nobody to tell.
            if done.send((key, result)).is_ok()
                && let Some(wake) = wake
            {
                wake();
            }
        });
    }

    /// Takes a finished lookup back: its rows leave (see `leaving`).
    fn finish(&mut self, (key, result): Done, failures: &mut Failures) -> Result<(), String> {
        let Some(f) = self.in_flight.remove(&key) else {
            return Ok(());
        };
        let plan = self.plan.clone();
        let answer = {
            let mut cache = plan.lock_cache();
            plan.settle(&(key, f.vars), result, failures, &mut cache, Instant::now())?
        };
        for (id, i) in f.waiters {
            let Some(w) = self.waiting.get_mut(&id) else {
                continue;
            };
            w.answers[i] = answer.clone();
            let rows = std::mem::take(&mut w.rows_of[i]);
            for &r in &rows {
                w.open[r as usize] = false;
            }
            w.left -= rows.len();
            self.rows_waiting -= rows.len();
            w.skip_released();
            self.leaving.entry(id).or_default().extend(rows);
        }
        Ok(())
    }

    /// The rows released so far, as one batch.
    fn take_released(&mut self) -> Result<Option<RecordBatch>, String> {
        if self.released.len() <= 1 {
            return Ok(self.released.pop());
        }
        let schema = self.released[0].schema();
        let out = arrow::compute::concat_batches(&schema, self.released.iter())
            .map_err(|e| format!("enrich: {e}"))?;
        self.released.clear();
        Ok(Some(out))
    }
}
