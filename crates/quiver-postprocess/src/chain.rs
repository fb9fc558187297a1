//! A job's planned steps, run in order on each worker.
//!
//! An `enrich` with `ordered: false` splits the chain: the steps before it
//! run on the rows the sink operator hands in, it starts their lookups,
//! and the steps after it run on rows as their lookups finish (planning
//! allows only steps without state there, so their output does not depend
//! on that order).

use arrow::array::RecordBatch;
use quiver_dataflow::postprocess::{PostprocessFactory, Postprocessor, Rejected};

use std::sync::Arc;

use crate::dedup::Dedup;
use crate::enrich::{EnrichPlan, EnrichStep, UnorderedEnrich};
use crate::filter::FilterStep;
use crate::infer::InferStep;
use crate::infer_http::{EndpointPlan, EndpointStep};
use crate::mask::MaskStep;

/// A planned step.
#[derive(Clone)]
pub enum StepPlan {
    /// Masking.
    Mask(MaskStep),
    /// Dedup: key columns, their Arrow types and the TTL.
    Dedup {
        /// Key column indices.
        key: Vec<usize>,
        /// Their Arrow types.
        types: Vec<arrow::datatypes::DataType>,
        /// TTL in ms of event time.
        ttl: i64,
    },
    /// Inference.
    Infer(InferStep),
    /// Inference by a model endpoint.
    InferEndpoint(Arc<EndpointPlan>),
    /// Lookups in an external source.
    Enrich(Arc<EnrichPlan>),
    /// Checks whose failures leave the output.
    Filter(FilterStep),
}

/// Every step of a job, planned; opens one [`Chain`] per worker.
#[derive(Clone)]
pub struct ChainPlan {
    /// The steps, in order.
    pub steps: Vec<StepPlan>,
    /// Query-output columns to partition rows by (see
    /// [`PostprocessFactory::partition_by`]).
    pub partition: Option<Vec<usize>>,
}

impl PostprocessFactory for ChainPlan {
    fn open(&self, _worker: usize, _peers: usize) -> Result<Box<dyn Postprocessor>, String> {
        let mut chain = Chain {
            head: Vec::new(),
            unordered: None,
            tail: Vec::new(),
            lookback: self.lookback(),
            rejected: Vec::new(),
        };
        for s in &self.steps {
            let step = match s {
                StepPlan::Mask(m) => Step::Mask(m.clone()),
                StepPlan::Dedup { key, types, ttl } => Step::Dedup(Dedup::new(
                    key.clone(),
                    types
                        .iter()
                        .map(|t| arrow::row::SortField::new(t.clone()))
                        .collect(),
                    *ttl,
                )?),
                StepPlan::Infer(i) => Step::Infer(i.clone()),
                StepPlan::InferEndpoint(e) => {
                    Step::InferEndpoint(Box::new(EndpointStep::open(e.clone())?))
                }
                // Planning allows at most one.
                StepPlan::Enrich(e) if !e.ordered => {
                    chain.unordered = Some(Box::new(UnorderedEnrich::open(e.clone())?));
                    continue;
                }
                StepPlan::Enrich(e) => Step::Enrich(Box::new(EnrichStep::open(e.clone())?)),
                StepPlan::Filter(f) => Step::Filter(f.clone()),
            };
            match chain.unordered {
                None => chain.head.push(step),
                Some(_) => chain.tail.push(step),
            }
        }
        Ok(Box::new(chain))
    }

    fn partition_by(&self) -> Option<Vec<usize>> {
        self.partition.clone()
    }

    fn lookback(&self) -> i64 {
        // Each dedup decides from the rows of its TTL, which earlier dedups
        // decided from theirs.
        self.steps
            .iter()
            .map(|s| match s {
                StepPlan::Dedup { ttl, .. } => *ttl,
                _ => 0,
            })
            .sum()
    }
}

enum Step {
    Mask(MaskStep),
    Dedup(Dedup),
    Infer(InferStep),
    InferEndpoint(Box<EndpointStep>),
    Enrich(Box<EnrichStep>),
    Filter(FilterStep),
}

/// One worker's steps: all of them in `head`, unless the job has an
/// `enrich` with `ordered: false` (at most one; planning checks), which
/// splits them into the steps before it and those after it.
struct Chain {
    head: Vec<Step>,
    unordered: Option<Box<UnorderedEnrich>>,
    tail: Vec<Step>,
    lookback: i64,
    /// Rows refused since the last `take_rejected`.
    rejected: Vec<Rejected>,
}

impl Chain {
    /// Runs the synchronous steps `steps` on `batch`.
    fn run(
        steps: &mut [Step],
        mut batch: RecordBatch,
        rejected: &mut Vec<Rejected>,
    ) -> Result<RecordBatch, String> {
        for s in steps {
            if batch.num_rows() == 0 {
                break;
            }
            batch = match s {
                Step::Mask(m) => m.apply(&batch)?,
                Step::Dedup(d) => d.apply(&batch)?,
                Step::Infer(i) => i.apply(&batch)?,
                Step::InferEndpoint(e) => e.apply(&batch)?,
                Step::Enrich(e) => e.apply(&batch)?,
                Step::Filter(f) => {
                    let (kept, refused) = f.apply(&batch)?;
                    rejected.extend(refused);
                    kept
                }
            };
        }
        Ok(batch)
    }

    /// Runs the steps after the unordered enrich on rows it released.
    fn after(&mut self, rows: Option<RecordBatch>) -> Result<Option<RecordBatch>, String> {
        rows.map(|rows| Chain::run(&mut self.tail, rows, &mut self.rejected))
            .transpose()
    }
}

impl Postprocessor for Chain {
    fn process(&mut self, batch: RecordBatch) -> Result<RecordBatch, String> {
        let schema = batch.schema();
        let batch = Chain::run(&mut self.head, batch, &mut self.rejected)?;
        let Some(u) = self.unordered.as_mut() else {
            return Ok(batch);
        };
        let released = if batch.num_rows() == 0 {
            None
        } else {
            u.submit(batch)?
        };
        // Nothing released yet: an empty batch (of the input's columns;
        // the sink operator keeps no empty batch).
        Ok(self
            .after(released)?
            .unwrap_or_else(|| RecordBatch::new_empty(schema)))
    }

    fn releases_out_of_order(&self) -> bool {
        self.unordered.is_some()
    }

    fn set_waker(&mut self, wake: Arc<dyn Fn() + Send + Sync>) {
        if let Some(u) = self.unordered.as_mut() {
            u.set_waker(wake);
        }
    }

    fn poll(&mut self) -> Result<Option<RecordBatch>, String> {
        let Some(u) = self.unordered.as_mut() else {
            return Ok(None);
        };
        let released = u.take_done()?;
        self.after(released)
    }

    fn pending_since(&self) -> Option<i64> {
        self.unordered.as_ref()?.pending_since()
    }

    fn lookback(&self) -> i64 {
        self.lookback
    }

    fn take_rejected(&mut self) -> Vec<Rejected> {
        std::mem::take(&mut self.rejected)
    }

    fn advance(&mut self, frontier: i64) {
        for s in self.head.iter_mut().chain(&mut self.tail) {
            if let Step::Dedup(d) = s {
                d.advance(frontier);
            }
        }
    }
}
