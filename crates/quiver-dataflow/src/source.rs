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
//!
//! Live splits (a Kafka partition) never end on their own: [`Split::poll_batch`]
//! says when nothing is there yet, and a live split that stays quiet longer
//! than the source's idle timeout stops holding the watermark back.

use arrow::array::RecordBatch;

/// What a poll of a split returned.
#[derive(Debug)]
pub enum Polled {
    /// Rows.
    Batch(RecordBatch),
    /// Nothing now; ask again later (live splits only).
    Pending,
    /// The split is exhausted.
    End,
}

/// Why a row read from a split was not admitted into the dataflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Behind its split's watermark.
    Late,
    /// Without an event time.
    NoEventTime,
}

impl Rejection {
    /// The reason as written to dead letters and metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::Late => "late",
            Rejection::NoEventTime => "missing_event_time",
        }
    }
}

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
    /// Whether this split is live (unbounded); live splits are polled after
    /// every bounded split of the run has been read.
    fn is_live(&self) -> bool {
        false
    }
    /// Polls for the next batch; bounded splits never return `Pending`.
    fn poll_batch(&mut self) -> Result<Polled, String> {
        Ok(match self.next_batch()? {
            Some(b) => Polled::Batch(b),
            None => Polled::End,
        })
    }
    /// The largest event time read before this split's start position, when
    /// it resumes a checkpoint: restores the split's watermark, so rows are
    /// judged late exactly as before the restart.
    fn resume_clock(&self) -> Option<i64> {
        None
    }
    /// Rows of the batch last returned that were not admitted, so the split
    /// can route them to a dead-letter sink. Counting is the caller's job.
    fn reject(&mut self, _rows: &[u32], _why: Rejection) {}
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
    fn splits(
        &self,
        worker: usize,
        peers: usize,
        request: &ReadRequest,
    ) -> Result<Vec<Box<dyn Split>>, String>;
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
    /// Rows to keep, by position; `None` when every row is kept.
    pub keep: Option<Vec<u32>>,
    /// Rows behind the watermark, by position.
    pub late: Vec<u32>,
    /// Rows without an event time, by position.
    pub invalid: Vec<u32>,
    /// Rows outside the requested interval (skipped, not counted as late).
    pub outside: u64,
}

impl SplitClock {
    /// The split's watermark: no later row may be earlier than this.
    pub fn watermark(&self, delay: i64) -> Option<i64> {
        self.max_seen.map(|m| m.saturating_sub(delay))
    }

    /// Decides, row by row in split order, which rows are on time. `valid`
    /// tells which entries of `times` are not NULL (`None`: all are).
    /// `floor` is the time the batch is sent at; rows before it are late too
    /// (which only happens when file statistics understate a split's times).
    pub fn admit(
        &mut self,
        times: &[i64],
        valid: Option<&arrow::buffer::NullBuffer>,
        delay: i64,
        floor: i64,
        interval: (Option<i64>, Option<i64>),
    ) -> Admission {
        let (lo, hi) = (
            interval.0.unwrap_or(i64::MIN),
            interval.1.unwrap_or(i64::MAX),
        );
        let mut a = Admission::default();
        let mut max = self.max_seen.unwrap_or(i64::MIN);
        let mut keep: Option<Vec<u32>> = None;
        for (i, &t) in times.iter().enumerate() {
            let verdict = if valid.is_some_and(|v| v.is_null(i)) {
                a.invalid.push(i as u32);
                false
            } else if t < lo || t >= hi {
                a.outside += 1;
                false
            } else if t < max.saturating_sub(delay) || t < floor {
                a.late.push(i as u32);
                false
            } else {
                max = max.max(t);
                true
            };
            match (&mut keep, verdict) {
                (Some(k), true) => k.push(i as u32),
                (None, false) => keep = Some((0..i as u32).collect()),
                _ => {}
            }
        }
        if max != i64::MIN {
            self.max_seen = Some(max);
        }
        a.keep = keep;
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_judged_against_the_split_running_max() {
        let mut c = SplitClock::default();
        let nulls =
            arrow::buffer::NullBuffer::from(vec![true, true, true, false, true, true, true]);
        let a = c.admit(
            &[10, 8, 4, 0, 20, 15, 16],
            Some(&nulls),
            5,
            i64::MIN,
            (None, None),
        );
        // 4 < 10 - 5 is late; 15 and 16 are within 5 of 20
        assert_eq!(a.keep, Some(vec![0, 1, 4, 5, 6]));
        assert_eq!((a.late, a.invalid), (vec![2], vec![3]));
        assert_eq!(c.watermark(5), Some(15));
        let b = c.admit(&[14, 30], None, 5, 15, (None, Some(25)));
        assert_eq!((b.keep, b.late, b.outside), (Some(vec![]), vec![0], 1));
        let all = c.admit(&[21, 22], None, 5, 15, (None, None));
        assert_eq!(all.keep, None);
    }
}
