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
        let mut steps = Vec::with_capacity(self.steps.len());
        for s in &self.steps {
            steps.push(match s {
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
                StepPlan::Enrich(e) if !e.ordered => {
                    Step::Unordered(Box::new(UnorderedEnrich::open(e.clone())?))
                }
                StepPlan::Enrich(e) => Step::Enrich(Box::new(EnrichStep::open(e.clone())?)),
                StepPlan::Filter(f) => Step::Filter(f.clone()),
            });
        }
        let unordered = steps.iter().position(|s| matches!(s, Step::Unordered(_)));
        Ok(Box::new(Chain {
            steps,
            unordered,
            lookback: self.lookback(),
            rejected: Vec::new(),
        }))
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
    Unordered(Box<UnorderedEnrich>),
    Filter(FilterStep),
}

/// One worker's steps.
struct Chain {
    steps: Vec<Step>,
    /// Where the `enrich` with `ordered: false` is, if there is one (at
    /// most one; planning checks).
    unordered: Option<usize>,
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
                Step::Unordered(_) => unreachable!("the chain splits at an unordered enrich"),
                Step::Filter(f) => {
                    let (kept, refused) = f.apply(&batch)?;
                    rejected.extend(refused);
                    kept
                }
            };
        }
        Ok(batch)
    }

    /// The unordered enrich.
    fn unordered_step(&mut self, at: usize) -> &mut UnorderedEnrich {
        match &mut self.steps[at] {
            Step::Unordered(u) => u,
            _ => unreachable!("`unordered` points at the unordered enrich"),
        }
    }

    /// Runs the steps after the unordered enrich on rows it released.
    fn after(
        &mut self,
        at: usize,
        rows: Option<RecordBatch>,
    ) -> Result<Option<RecordBatch>, String> {
        let Some(rows) = rows else {
            return Ok(None);
        };
        Chain::run(&mut self.steps[at + 1..], rows, &mut self.rejected).map(Some)
    }
}

impl Postprocessor for Chain {
    fn process(&mut self, batch: RecordBatch) -> Result<RecordBatch, String> {
        let Some(at) = self.unordered else {
            return Chain::run(&mut self.steps, batch, &mut self.rejected);
        };
        let schema = batch.schema();
        let batch = Chain::run(&mut self.steps[..at], batch, &mut self.rejected)?;
        let released = if batch.num_rows() == 0 {
            None
        } else {
            self.unordered_step(at).submit(batch)?
        };
        // Nothing released yet: an empty batch (of the input's columns;
        // the sink operator keeps no empty batch).
        Ok(self
            .after(at, released)?
            .unwrap_or_else(|| RecordBatch::new_empty(schema)))
    }

    fn releases_out_of_order(&self) -> bool {
        self.unordered.is_some()
    }

    fn set_waker(&mut self, wake: Arc<dyn Fn() + Send + Sync>) {
        if let Some(at) = self.unordered {
            self.unordered_step(at).set_waker(wake);
        }
    }

    fn poll(&mut self) -> Result<Option<RecordBatch>, String> {
        let Some(at) = self.unordered else {
            return Ok(None);
        };
        let released = self.unordered_step(at).take_done()?;
        self.after(at, released)
    }

    fn pending_since(&self) -> Option<i64> {
        let at = self.unordered?;
        match &self.steps[at] {
            Step::Unordered(u) => u.pending_since(),
            _ => None,
        }
    }

    fn lookback(&self) -> i64 {
        self.lookback
    }

    fn take_rejected(&mut self) -> Vec<Rejected> {
        std::mem::take(&mut self.rejected)
    }

    fn advance(&mut self, frontier: i64) {
        for s in &mut self.steps {
            if let Step::Dedup(d) = s {
                d.advance(frontier);
            }
        }
    }
}
