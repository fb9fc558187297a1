//! What the dataflow needs from a source, and the watermark rule.
//!
//! A source is read as a set of *splits*: ordered sequences of batches such
//! as a Parquet row group, an NDJSON file or (live) a Kafka partition. Each
//! split has its own watermark — the largest event time read from it minus
//! the source's `watermark_delay` — and a row is *late* when its event time
//! is below its split's watermark at the moment it is read. Because the rule
//! looks only at the split's own order, the same rows are late however the
//! splits are spread over workers, so `--workers N` gives the same result as
//! one worker.

use arrow::array::RecordBatch;

/// An ordered run of batches with its own watermark.
pub trait Split: Send {
    /// A lower bound of the event times still to be read, when known (e.g.
    /// from Parquet statistics). Splits without one are read first.
    fn min_time(&self) -> Option<i64>;
    /// The next batch, or `None` at the end. Batches have the source's
    /// declared columns in order, each of its declared type (see
    /// `quiver_types::DataType::to_arrow`); columns not requested may be
    /// all-null.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, String>;
    /// Names the split in messages (file, row group).
    fn describe(&self) -> String;
}

/// What a run reads from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    /// Which declared columns are used; others may be skipped.
    pub columns: Vec<bool>,
    /// Read events at or after this time (ms), if set.
    pub start: Option<i64>,
    /// Read events before this time (ms), if set.
    pub end: Option<i64>,
}

/// A factory of splits, implemented by connectors.
pub trait SourceProvider: Send + Sync {
    /// The splits worker `worker` of `peers` reads. Every split must go to
    /// exactly one worker; `(0, 1)` asks for all of them.
    fn splits(&self, worker: usize, peers: usize, request: &ReadRequest) -> Result<Vec<Box<dyn Split>>, String>;
}

/// A source of a run: its declaration and where its data comes from.
#[derive(Clone)]
pub struct SourceDef {
    /// The table name.
    pub name: String,
    /// Declared columns.
    pub schema: quiver_types::Schema,
    /// Position of the event-time column; `None` for a bounded table.
    pub time_col: Option<usize>,
    /// Bounded out-of-orderness (ms).
    pub watermark_delay: i64,
    /// The data.
    pub provider: std::sync::Arc<dyn SourceProvider>,
}

/// The watermark state of one split.
#[derive(Debug, Clone, Default)]
pub struct SplitClock {
    /// Largest event time read so far.
    pub max_seen: Option<i64>,
}

/// What happened to the rows of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    /// Rows to keep, by position.
    pub keep: Vec<u32>,
    /// Rows behind the watermark.
    pub late: u64,
    /// Rows without an event time.
    pub invalid: u64,
    /// Rows outside the requested interval (skipped, not counted as late).
    pub outside: u64,
}

impl SplitClock {
    /// The split's watermark: no later row may be earlier than this.
    pub fn watermark(&self, delay: i64) -> Option<i64> {
        self.max_seen.map(|m| m.saturating_sub(delay))
    }

    /// Decides, row by row in split order, which rows are on time.
    /// `floor` is the time the batch is sent at; rows before it are late too
    /// (which only happens when file statistics understate a split's times).
    pub fn admit(&mut self, times: &[Option<i64>], delay: i64, floor: i64, interval: (Option<i64>, Option<i64>)) -> Admission {
        let mut a = Admission { keep: Vec::with_capacity(times.len()), ..Default::default() };
        for (i, t) in times.iter().enumerate() {
            let Some(t) = *t else {
                a.invalid += 1;
                continue;
            };
            if interval.0.is_some_and(|s| t < s) || interval.1.is_some_and(|e| t >= e) {
                a.outside += 1;
                continue;
            }
            let late = self.max_seen.is_some_and(|m| t < m.saturating_sub(delay)) || t < floor;
            if late {
                a.late += 1;
                continue;
            }
            if self.max_seen.is_none_or(|m| t > m) {
                self.max_seen = Some(t);
            }
            a.keep.push(i as u32);
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_judged_against_the_split_running_max() {
        let mut c = SplitClock::default();
        let a = c.admit(&[Some(10), Some(8), Some(4), None, Some(20), Some(15), Some(16)], 5, i64::MIN, (None, None));
        // 4 < 10 - 5 is late; 15 and 16 are within 5 of 20
        assert_eq!(a.keep, vec![0, 1, 4, 5, 6]);
        assert_eq!((a.late, a.invalid), (1, 1));
        assert_eq!(c.watermark(5), Some(15));
        let b = c.admit(&[Some(14), Some(30)], 5, 15, (None, Some(25)));
        assert_eq!((b.keep.len(), b.late, b.outside), (0, 1, 1));
    }
}
