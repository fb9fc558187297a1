//! An in-memory source and sink: batches given up front, output collected
//! in memory. Used by tests and by embedding applications.

use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;

use crate::sink::{SinkFactory, SinkWriter};
use crate::source::{ReadRequest, SourceProvider, Split};

/// Splits of batches held in memory; split `i` goes to worker `i % peers`.
#[derive(Clone, Default)]
pub struct MemorySource {
    /// Each split's batches, in order.
    pub splits: Vec<Vec<RecordBatch>>,
}

struct MemorySplit {
    id: usize,
    batches: std::vec::IntoIter<RecordBatch>,
}

impl Split for MemorySplit {
    fn min_time(&self) -> Option<i64> {
        None
    }
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, String> {
        Ok(self.batches.next())
    }
    fn describe(&self) -> String {
        format!("memory split {}", self.id)
    }
}

impl SourceProvider for MemorySource {
    fn splits(
        &self,
        worker: usize,
        peers: usize,
        _request: &ReadRequest,
    ) -> Result<Vec<Box<dyn Split>>, String> {
        Ok(self
            .splits
            .iter()
            .enumerate()
            .filter(|(i, _)| i % peers == worker)
            .map(|(id, b)| {
                Box::new(MemorySplit {
                    id,
                    batches: b.clone().into_iter(),
                }) as Box<dyn Split>
            })
            .collect())
    }
}

/// Collects every written batch (output columns and `__time`).
#[derive(Clone, Default)]
pub struct CollectSink {
    /// What was written, in write order, from all workers.
    pub batches: Arc<Mutex<Vec<RecordBatch>>>,
}

struct CollectWriter(Arc<Mutex<Vec<RecordBatch>>>);

impl SinkWriter for CollectWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|e| e.to_string())?
            .push(batch.clone());
        Ok(())
    }
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

impl SinkFactory for CollectSink {
    fn open(&self, _worker: usize, _peers: usize) -> Result<Box<dyn SinkWriter>, String> {
        Ok(Box::new(CollectWriter(self.batches.clone())))
    }
}
