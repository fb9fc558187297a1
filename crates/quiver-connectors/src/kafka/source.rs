//! A Kafka topic as a live source: one split per partition.
//!
//! Each split polls its own consumer, decodes payloads (JSON or Protobuf,
//! see [`super::decode`]) into the source's declared columns and checks event times against the wall clock before
//! the dataflow judges lateness:
//!
//! * undecodable payloads and values of the wrong type, events more than
//!   `max_future` ahead of the wall clock or (when set) `max_past` behind it
//!   go to the dead letters with their reason;
//! * events without an event time, and events behind the partition's
//!   watermark, are rejected by the dataflow and come back through
//!   [`Split::reject`] to the dead letters too.
//!
//! A *hybrid* source also has history (a `bounded:` input) read up to a
//! switch time `T`: history contributes events before `T`, Kafka events at
//! or after `T`, and Kafka reading starts at the offsets for `T` minus the
//! watermark delay (`offsets_for_times`), so the stream has neither a gap
//! nor a duplicate as long as Kafka timestamps trail event times by no more
//! than the watermark delay.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::TimestampMillisecondType;
use quiver_dataflow::source::{Polled, ReadRequest, Rejection, SourceProvider, Split};
use quiver_rdkafka_batch::BatchConsumer;
use quiver_types::Schema;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::REQUEST_TIMEOUT;
use super::checkpoint::{Checkpoint, PartitionTrack, Position};
use super::decode::{Payload, PayloadDecoder};
use crate::dead_letter::{DeadLetter, DeadLetterSink};

/// Messages decoded per poll at most.
const POLL_MESSAGES: usize = 8192;

/// How long one poll may take messages from librdkafka. A job catching up
/// finds thousands queued; reading 8192 of them and decoding them takes
/// ~7 ms, during which this worker neither steps the dataflow nor reads
/// its other partitions, so a window that closes meanwhile waits for it
/// (the tail of freshness in BENCHMARKS.md). About 1 ms of reading keeps
/// batches in the thousands while the worker steps every few ms.
const POLL_BUDGET: Duration = Duration::from_millis(1);

/// Messages read between looks at the clock during a poll.
const CLOCK_EVERY: usize = 256;

/// Where to start reading a partition without a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// The group's committed offset, or the beginning without one.
    Committed,
    /// The oldest retained message.
    Earliest,
    /// Only messages produced from now on.
    Latest,
    /// The first message with a Kafka timestamp at or after this (ms).
    Timestamp(i64),
}

impl StartFrom {
    /// Parses a job file's `start:` value (`committed`, `earliest`,
    /// `latest`, or a time understood by `parse_time`).
    pub fn parse(
        s: &str,
        parse_time: impl Fn(&str) -> Result<i64, String>,
    ) -> Result<StartFrom, String> {
        match s {
            "committed" => Ok(StartFrom::Committed),
            "earliest" => Ok(StartFrom::Earliest),
            "latest" => Ok(StartFrom::Latest),
            t => parse_time(t).map(StartFrom::Timestamp).map_err(|e| {
                format!("`start: {t}`: {e}; use committed, earliest, latest or a timestamp")
            }),
        }
    }
}

/// What a Kafka source needs to open.
pub struct KafkaSourceOptions {
    /// The table name.
    pub name: String,
    /// The topic.
    pub topic: String,
    /// Broker settings.
    pub client: ClientConfig,
    /// Consumer group.
    pub group: String,
    /// Declared columns.
    pub schema: Schema,
    /// What the messages hold (JSON or a Protobuf message type).
    pub payload: Payload,
    /// The event-time column.
    pub time_col: usize,
    /// Bounded out-of-orderness (ms).
    pub watermark_delay: i64,
    /// Where to start without a checkpoint.
    pub start: StartFrom,
    /// Resume here when set (overrides `start`).
    pub checkpoint: Option<Checkpoint>,
    /// Hybrid: history read up to this time, Kafka from it.
    pub switch_at: Option<i64>,
    /// The bounded input of a hybrid source.
    pub history: Option<Arc<dyn SourceProvider>>,
    /// Longest window of the jobs reading this source (ms).
    pub lookback: i64,
    /// Events further ahead of the wall clock are dead letters (ms).
    pub max_future: i64,
    /// Events further behind the wall clock are dead letters (ms).
    pub max_past: Option<i64>,
    /// Where rejected messages go.
    pub dead_letters: Vec<Arc<DeadLetterSink>>,
}

/// Counters of a Kafka source, readable while it runs.
#[derive(Debug, Default)]
pub struct KafkaStats {
    /// Per partition: messages read and the next offset.
    pub partitions: BTreeMap<i32, PartitionStats>,
    /// Rejected messages by reason.
    pub rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// Dead letters that could not be written (each is also logged).
    pub dead_letter_errors: AtomicU64,
}

/// Counters of one partition.
#[derive(Debug, Default)]
pub struct PartitionStats {
    /// Messages read.
    pub messages: AtomicU64,
}

impl KafkaStats {
    fn reject(&self, reason: &'static str, n: u64) {
        if let Ok(mut r) = self.rejected.lock() {
            *r.entry(reason).or_default() += n;
        }
    }

    /// Rejected messages by reason, a snapshot.
    pub fn rejected(&self) -> BTreeMap<&'static str, u64> {
        self.rejected.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// A Kafka topic (and, for a hybrid source, its history) as a source.
pub struct KafkaSource {
    opts: KafkaSourceOptions,
    /// For offset lookups and commits (not for reading).
    control: BaseConsumer,
    starts: BTreeMap<i32, Position>,
    tracks: BTreeMap<i32, Arc<PartitionTrack>>,
    decoder: Arc<PayloadDecoder>,
    stats: Arc<KafkaStats>,
}

impl KafkaSource {
    /// Connects, finds the topic's partitions and where each starts.
    pub fn open(opts: KafkaSourceOptions) -> Result<KafkaSource, String> {
        let decoder = Arc::new(PayloadDecoder::new(&opts.payload, &opts.schema)?);
        let consumer = consumer(&opts.client, &opts.group)?;
        let partitions = super::partitions_of(consumer.client(), &opts.topic)?;
        let mut starts = BTreeMap::new();
        for &p in &partitions {
            let (low, high) = consumer
                .fetch_watermarks(&opts.topic, p, REQUEST_TIMEOUT)
                .map_err(|e| format!("topic `{}` partition {p}: {e}", opts.topic))?;
            let resolved = |o: Offset| match o {
                Offset::Offset(o) if o >= 0 => o.clamp(low, high),
                Offset::End => high,
                _ => low,
            };
            let pos = match opts.checkpoint.as_ref().and_then(|c| c.partitions.get(&p)) {
                Some(pos) => *pos,
                None => {
                    let at = match (opts.switch_at, opts.start) {
                        (Some(t), _) => {
                            let from = t.saturating_sub(opts.watermark_delay);
                            offset_for_time(&consumer, &opts.topic, p, from)?
                        }
                        (None, StartFrom::Earliest) => Offset::Beginning,
                        (None, StartFrom::Latest) => Offset::End,
                        (None, StartFrom::Timestamp(t)) => {
                            offset_for_time(&consumer, &opts.topic, p, t)?
                        }
                        (None, StartFrom::Committed) => committed(&consumer, &opts.topic, p)?,
                    };
                    Position {
                        offset: resolved(at),
                        clock: None,
                    }
                }
            };
            starts.insert(p, pos);
        }
        let tracks = starts
            .iter()
            .map(|(&p, &pos)| (p, Arc::new(PartitionTrack::new(p, pos, opts.lookback))))
            .collect();
        let stats = Arc::new(KafkaStats {
            partitions: partitions
                .iter()
                .map(|&p| (p, PartitionStats::default()))
                .collect(),
            ..Default::default()
        });
        Ok(KafkaSource {
            control: consumer,
            opts,
            starts,
            tracks,
            decoder,
            stats,
        })
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.opts.topic
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.opts.group
    }

    /// Where each partition starts.
    pub fn starts(&self) -> &BTreeMap<i32, Position> {
        &self.starts
    }

    /// The per-partition progress, for checkpoints.
    pub fn tracks(&self) -> &BTreeMap<i32, Arc<PartitionTrack>> {
        &self.tracks
    }

    /// Live counters.
    pub fn stats(&self) -> Arc<KafkaStats> {
        self.stats.clone()
    }

    /// The source's declared watermark delay (ms).
    pub fn watermark_delay(&self) -> i64 {
        self.opts.watermark_delay
    }

    /// Each partition's high watermark (the offset the next produced
    /// message will get), asked of the broker; partitions whose request
    /// fails within `timeout` are left out.
    pub fn high_watermarks(&self, timeout: Duration) -> BTreeMap<i32, i64> {
        self.tracks
            .keys()
            .filter_map(|&p| {
                let (_, high) = self
                    .control
                    .fetch_watermarks(&self.opts.topic, p, timeout)
                    .ok()?;
                Some((p, high))
            })
            .collect()
    }

    /// The checkpoint for `frontier`: where each partition resumes.
    pub fn checkpoint(&self, frontier: i64) -> Checkpoint {
        Checkpoint {
            frontier,
            partitions: self
                .tracks
                .iter()
                .map(|(&p, t)| (p, t.resume_point(frontier)))
                .collect(),
        }
    }

    /// Commits a checkpoint's offsets to the consumer group (where lag
    /// monitors look) and forgets what it no longer needs.
    pub fn commit(&self, c: &Checkpoint) -> Result<(), String> {
        let mut tpl = TopicPartitionList::new();
        for (&p, pos) in &c.partitions {
            tpl.add_partition_offset(&self.opts.topic, p, Offset::Offset(pos.offset))
                .map_err(|e| e.to_string())?;
        }
        self.control
            .commit(&tpl, rdkafka::consumer::CommitMode::Sync)
            .map_err(|e| format!("committing offsets of `{}`: {e}", self.opts.topic))?;
        for t in self.tracks.values() {
            t.committed(c.frontier);
        }
        Ok(())
    }
}

/// librdkafka settings Quiver's consumers use unless `quiver.yaml` sets
/// them (`kafka.properties`).
///
/// `fetch.queue.backoff.ms`: once a partition's prefetch queue is full,
/// librdkafka waits this long before fetching again (1000 ms by default).
/// A job catching up empties the queue far sooner and then sits idle:
/// 10 ms took `quiver run` from ~430k to ~800k events/s on the live
/// benchmark (BENCHMARKS.md), at no measurable CPU cost.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[("fetch.queue.backoff.ms", "10")];

/// `client` with [`CONSUMER_DEFAULTS`] for what it leaves unset.
fn with_consumer_defaults(client: &ClientConfig) -> ClientConfig {
    let mut client = client.clone();
    for (k, v) in CONSUMER_DEFAULTS {
        if client.get(k).is_none() {
            client.set(*k, *v);
        }
    }
    client
}

/// The settings of every consumer of the group: offsets are Quiver's to
/// commit, and the end of a partition is reported.
fn consumer_config(client: &ClientConfig, group: &str) -> ClientConfig {
    with_consumer_defaults(client)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .clone()
}

fn consumer(client: &ClientConfig, group: &str) -> Result<BaseConsumer, String> {
    consumer_config(client, group)
        .create()
        .map_err(|e| format!("cannot create a Kafka consumer: {e}"))
}

fn offset_for_time(c: &BaseConsumer, topic: &str, p: i32, t: i64) -> Result<Offset, String> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, p, Offset::Offset(t))
        .map_err(|e| e.to_string())?;
    let found = c
        .offsets_for_times(tpl, REQUEST_TIMEOUT)
        .map_err(|e| format!("offsets for time {t} in `{topic}`: {e}"))?;
    let off = found
        .find_partition(topic, p)
        .map(|e| e.offset())
        .unwrap_or(Offset::End);
    // No message at or after `t` yet: start at the end.
    Ok(match off {
        Offset::Offset(o) if o >= 0 => Offset::Offset(o),
        _ => Offset::End,
    })
}

fn committed(c: &BaseConsumer, topic: &str, p: i32) -> Result<Offset, String> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, p);
    let got = c
        .committed_offsets(tpl, REQUEST_TIMEOUT)
        .map_err(|e| format!("committed offsets of `{topic}`: {e}"))?;
    let off = got
        .find_partition(topic, p)
        .map(|e| e.offset())
        .unwrap_or(Offset::Beginning);
    // Dropped here, before the consumer (rust-rdkafka#453).
    drop(got);
    Ok(off)
}

impl SourceProvider for KafkaSource {
    fn splits(
        &self,
        worker: usize,
        peers: usize,
        req: &ReadRequest,
    ) -> Result<Vec<Box<dyn Split>>, String> {
        let mut out: Vec<Box<dyn Split>> = Vec::new();
        // History is read from the request's start: the beginning, or on
        // a resume the checkpoint's frontier less the lookback. A resume
        // before the switch (the day holding it was not yet durable) reads
        // the rest of the history again: Kafka holds nothing before it.
        if let (Some(h), Some(t)) = (&self.opts.history, self.opts.switch_at)
            && req.start.is_none_or(|s| s < t)
        {
            let mut r = req.clone();
            r.end = Some(r.end.map_or(t, |e| e.min(t)));
            for s in h.splits(worker, peers, &r)? {
                out.push(Box::new(Until {
                    inner: s,
                    end: t,
                    time_col: self.opts.time_col,
                }));
            }
        }
        for (&p, &start) in &self.starts {
            if p as usize % peers != worker {
                continue;
            }
            let reader = BatchConsumer::assigned(
                &consumer_config(&self.opts.client, &self.opts.group),
                &self.opts.topic,
                p,
                Offset::Offset(start.offset),
            )
            .map_err(|e| format!("cannot read partition {p}: {e}"))?;
            out.push(Box::new(KafkaSplit {
                name: self.opts.name.clone(),
                topic: self.opts.topic.clone(),
                partition: p,
                consumer: reader,
                start,
                switch_at: self.opts.switch_at,
                time_col: self.opts.time_col,
                max_future: self.opts.max_future,
                max_past: self.opts.max_past,
                decoder: self.decoder.clone(),
                dead_letters: self.opts.dead_letters.clone(),
                track: self.tracks[&p].clone(),
                stats: self.stats.clone(),
                polled: Vec::new(),
                last_rows: Vec::new(),
            }));
        }
        Ok(out)
    }
}

struct KafkaSplit {
    name: String,
    topic: String,
    partition: i32,
    consumer: BatchConsumer,
    start: Position,
    switch_at: Option<i64>,
    time_col: usize,
    max_future: i64,
    max_past: Option<i64>,
    decoder: Arc<PayloadDecoder>,
    dead_letters: Vec<Arc<DeadLetterSink>>,
    track: Arc<PartitionTrack>,
    stats: Arc<KafkaStats>,
    /// The messages of the last poll, as indexes of those `consumer` holds
    /// (which also holds ends of partition and errors): kept until the
    /// next poll, for the dead letters of rows the dataflow rejects, and
    /// decoded in place.
    polled: Vec<usize>,
    /// For each row of the batch last returned, its message in `polled`.
    last_rows: Vec<usize>,
}

impl KafkaSplit {
    /// Writes message `i` of the last poll to the dead letters.
    fn dead_letter(&self, i: usize, reason: &'static str, detail: &str) {
        let raw = self.consumer.message(self.polled[i]);
        for d in &self.dead_letters {
            let letter = DeadLetter {
                reason,
                detail,
                source: &self.name,
                topic: &self.topic,
                partition: self.partition,
                offset: raw.offset,
                timestamp: raw.timestamp,
                key: raw.key,
                payload: raw.payload,
            };
            if let Err(e) = d.write(&letter) {
                self.stats
                    .dead_letter_errors
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    "dead letter of {}[{}]@{} lost: {e}",
                    self.topic,
                    self.partition,
                    raw.offset
                );
            }
        }
    }

    /// Polls up to [`POLL_MESSAGES`] messages into `polled`, for about
    /// [`POLL_BUDGET`], [`CLOCK_EVERY`] messages per call into librdkafka,
    /// after releasing those of the poll before.
    fn read_messages(&mut self) {
        // Rows of the last batch point into the messages released here.
        self.last_rows.clear();
        self.consumer.release();
        self.polled.clear();
        let deadline = Instant::now() + POLL_BUDGET;
        let (topic, partition) = (&self.topic, self.partition);
        loop {
            let room = (POLL_MESSAGES - self.polled.len()).min(CLOCK_EVERY);
            let mut ended = false;
            let before = self.consumer.held();
            let n = self.consumer.take(room, |e| {
                // librdkafka retries by itself; say so and carry on.
                tracing::warn!("{topic}[{partition}]: {e}");
                ended = true;
            });
            // Messages after an end or an error in the same batch are kept:
            // they are out of librdkafka's queue.
            for h in before..self.consumer.held() {
                match self.consumer.value(h) {
                    Ok(_) => self.polled.push(h),
                    Err(RDKafkaErrorCode::PartitionEOF) => ended = true,
                    Err(e) => {
                        tracing::warn!("{topic}[{partition}]: {e}");
                        ended = true;
                    }
                }
            }
            if ended || n < room || self.polled.len() >= POLL_MESSAGES || Instant::now() >= deadline
            {
                break;
            }
        }
    }
}

impl Split for KafkaSplit {
    fn min_time(&self) -> Option<i64> {
        self.switch_at
    }

    /// Waits for the next batch (a partition has no end).
    fn next_batch(&mut self) -> Result<Option<RecordBatch>, String> {
        loop {
            match self.poll_batch()? {
                Polled::Batch(b) => return Ok(Some(b)),
                Polled::End => return Ok(None),
                Polled::Pending => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    fn describe(&self) -> String {
        format!("kafka topic {} partition {}", self.topic, self.partition)
    }

    fn is_live(&self) -> bool {
        true
    }

    fn resume_clock(&self) -> Option<i64> {
        self.start.clock
    }

    fn poll_batch(&mut self) -> Result<Polled, String> {
        self.read_messages();
        let Some(&last) = self.polled.last() else {
            return Ok(Polled::Pending);
        };
        let next = self.consumer.offset(last) + 1;
        if let Some(ps) = self.stats.partitions.get(&self.partition) {
            ps.messages
                .fetch_add(self.polled.len() as u64, Ordering::Relaxed);
        }
        let payloads: Vec<&[u8]> = self
            .polled
            .iter()
            .map(|&h| self.consumer.value(h).unwrap_or_default())
            .collect();
        let decoded = self.decoder.decode(&payloads)?;
        for r in &decoded.rejected {
            self.stats.reject(r.reason, 1);
            self.dead_letter(r.message, r.reason, &r.detail);
        }
        // Wall-clock and switch-time checks.
        let now = chrono::Utc::now().timestamp_millis();
        let times = decoded
            .batch
            .column(self.time_col)
            .as_primitive::<TimestampMillisecondType>();
        let mut keep = Vec::with_capacity(times.len());
        let mut rows = Vec::with_capacity(times.len());
        let mut events = Vec::with_capacity(times.len());
        for (row, &m) in decoded.rows.iter().enumerate() {
            let t = times.is_valid(row).then(|| times.value(row));
            let verdict = match t {
                Some(t) if t > now.saturating_add(self.max_future) => Err((
                    "far_future",
                    format!(
                        "event time {} is more than max_future ahead of the wall clock",
                        quiver_types::time::format_timestamp(t)
                    ),
                )),
                Some(t) if self.max_past.is_some_and(|p| t < now.saturating_sub(p)) => Err((
                    "far_past",
                    format!(
                        "event time {} is more than max_past behind the wall clock",
                        quiver_types::time::format_timestamp(t)
                    ),
                )),
                // Before the switch: the history has it.
                Some(t) if self.switch_at.is_some_and(|s| t < s) => Ok(false),
                _ => Ok(true),
            };
            match verdict {
                Ok(k) => {
                    keep.push(k);
                    if k {
                        rows.push(m);
                        events.push((self.consumer.offset(self.polled[m]), t));
                    }
                }
                Err((reason, detail)) => {
                    keep.push(false);
                    self.stats.reject(reason, 1);
                    self.dead_letter(m, reason, &detail);
                }
            }
        }
        self.track.record(events.iter().copied(), next);
        let batch = if keep.iter().all(|k| *k) {
            decoded.batch
        } else {
            filter_record_batch(&decoded.batch, &BooleanArray::from(keep))
                .map_err(|e| e.to_string())?
        };
        self.last_rows = rows;
        if batch.num_rows() == 0 {
            return Ok(Polled::Pending);
        }
        Ok(Polled::Batch(batch))
    }

    fn reject(&mut self, rows: &[u32], why: Rejection) {
        self.stats.reject(why.reason(), rows.len() as u64);
        let detail = match why {
            Rejection::Late => {
                "behind the partition's watermark (raise watermark_delay to keep such events)"
            }
            Rejection::NoEventTime => "the event-time field is missing or null",
        };
        for &r in rows {
            if let Some(&m) = self.last_rows.get(r as usize) {
                self.dead_letter(m, why.reason(), detail);
            }
        }
    }
}

/// A history split cut at the switch time.
struct Until {
    inner: Box<dyn Split>,
    end: i64,
    time_col: usize,
}

impl Split for Until {
    fn min_time(&self) -> Option<i64> {
        self.inner.min_time()
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, String> {
        let Some(b) = self.inner.next_batch()? else {
            return Ok(None);
        };
        let t = b
            .column(self.time_col)
            .as_primitive::<TimestampMillisecondType>();
        let keep: BooleanArray = t
            .iter()
            .map(|t| Some(t.is_none_or(|t| t < self.end)))
            .collect();
        filter_record_batch(&b, &keep)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_defaults_fill_in_what_quiver_yaml_leaves_unset() {
        let mut mine = ClientConfig::new();
        mine.set("bootstrap.servers", "127.0.0.1:9092");
        let filled = with_consumer_defaults(&mine);
        assert_eq!(filled.get("fetch.queue.backoff.ms"), Some("10"));
        assert_eq!(filled.get("bootstrap.servers"), Some("127.0.0.1:9092"));
        mine.set("fetch.queue.backoff.ms", "500");
        assert_eq!(
            with_consumer_defaults(&mine).get("fetch.queue.backoff.ms"),
            Some("500")
        );
    }
}
