//! A job's planned steps, run in order on each worker.

use quiver_dataflow::postprocess::{PostprocessFactory, Postprocessor, Rejected};

use std::sync::Arc;

use crate::dedup::Dedup;
use crate::enrich::{EnrichPlan, EnrichStep};
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
                StepPlan::Enrich(e) => Step::Enrich(Box::new(EnrichStep::open(e.clone())?)),
                StepPlan::Filter(f) => Step::Filter(f.clone()),
            });
        }
        Ok(Box::new(Chain {
            steps,
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
    Filter(FilterStep),
}

/// One worker's steps.
struct Chain {
    steps: Vec<Step>,
    lookback: i64,
    /// Rows refused since the last `take_rejected`.
    rejected: Vec<Rejected>,
}

impl Postprocessor for Chain {
    fn process(
        &mut self,
        mut batch: arrow::array::RecordBatch,
    ) -> Result<arrow::array::RecordBatch, String> {
        for s in &mut self.steps {
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
                    self.rejected.extend(refused);
                    kept
                }
            };
        }
        Ok(batch)
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
