//! Prometheus metrics of Kafka sources, read at scrape time.
//!
//! Families (labels in braces):
//! * `quiver_kafka_records_total{source,topic,partition}`: messages read.
//! * `quiver_kafka_consumer_lag{source,topic,partition}`: messages in the
//!   partition not yet read (high watermark minus the next offset to read).
//!   The high watermarks are asked of the broker by a background thread
//!   every [`REFRESH`], never during a scrape, so a slow broker cannot make
//!   a scrape time out.
//! * `quiver_kafka_watermark_lag_seconds{source,topic,partition}`: wall clock
//!   minus the partition's watermark (its greatest event time minus the
//!   source's `watermark_delay`); absent until the partition has an event.
//! * `quiver_kafka_rejected_total{source,topic,reason}`: messages not
//!   admitted, by reason (`undecodable`, `wrong_type`, `missing_event_time`,
//!   `far_future`, `far_past`, `late`); each also went to the dead letters.
//! * `quiver_kafka_dead_letter_errors_total{source,topic}`: dead letters
//!   that could not be written.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts};

use super::source::KafkaSource;

/// How long the refresher waits for a partition's high watermark.
const WATERMARK_TIMEOUT: Duration = Duration::from_secs(1);
/// How often high watermarks are refreshed.
pub const REFRESH: Duration = Duration::from_secs(5);

/// High watermarks by source index, refreshed in the background.
type Highs = Mutex<Vec<BTreeMap<i32, i64>>>;

/// Exposes the metrics of a run's Kafka sources.
pub struct KafkaCollector {
    sources: Vec<(String, Arc<KafkaSource>)>,
    highs: Arc<Highs>,
    families: Mutex<Families>,
    descs: Vec<Desc>,
}

struct Families {
    records: IntCounterVec,
    lag: IntGaugeVec,
    watermark_lag: GaugeVec,
    rejected: IntCounterVec,
    dead_letter_errors: IntCounterVec,
}

impl KafkaCollector {
    /// A collector for `sources`, each with its source name.
    pub fn new(sources: Vec<(String, Arc<KafkaSource>)>) -> KafkaCollector {
        const PARTITION: &[&str] = &["source", "topic", "partition"];
        let families = Families {
            records: IntCounterVec::new(
                Opts::new("quiver_kafka_records_total", "Messages read."),
                PARTITION,
            )
            .expect("valid counter"),
            lag: IntGaugeVec::new(
                Opts::new(
                    "quiver_kafka_consumer_lag",
                    "Messages in the partition not yet read.",
                ),
                PARTITION,
            )
            .expect("valid gauge"),
            watermark_lag: GaugeVec::new(
                Opts::new(
                    "quiver_kafka_watermark_lag_seconds",
                    "Wall clock minus the partition's watermark.",
                ),
                PARTITION,
            )
            .expect("valid gauge"),
            rejected: IntCounterVec::new(
                Opts::new(
                    "quiver_kafka_rejected_total",
                    "Messages not admitted (and dead-lettered), by reason.",
                ),
                &["source", "topic", "reason"],
            )
            .expect("valid counter"),
            dead_letter_errors: IntCounterVec::new(
                Opts::new(
                    "quiver_kafka_dead_letter_errors_total",
                    "Dead letters that could not be written.",
                ),
                &["source", "topic"],
            )
            .expect("valid counter"),
        };
        let descs = families
            .all()
            .iter()
            .flat_map(|c| c.desc().into_iter().cloned())
            .collect();
        let highs = Arc::new(Mutex::new(vec![BTreeMap::new(); sources.len()]));
        refresh_in_background(
            Arc::downgrade(&highs),
            sources.iter().map(|(_, s)| s.clone()).collect(),
        );
        KafkaCollector {
            sources,
            highs,
            families: Mutex::new(families),
            descs,
        }
    }
}

/// Asks the brokers for high watermarks every [`REFRESH`] until the
/// collector (the only strong owner of `highs`) is dropped.
fn refresh_in_background(highs: Weak<Highs>, sources: Vec<Arc<KafkaSource>>) {
    let spawned = std::thread::Builder::new()
        .name("quiver-kafka-lag".into())
        .spawn(move || {
            loop {
                let fetched: Vec<BTreeMap<i32, i64>> = sources
                    .iter()
                    .map(|s| s.high_watermarks(WATERMARK_TIMEOUT))
                    .collect();
                let Some(h) = highs.upgrade() else { return };
                if let Ok(mut h) = h.lock() {
                    *h = fetched;
                }
                drop(h);
                let next = Instant::now() + REFRESH;
                while Instant::now() < next {
                    if highs.strong_count() == 0 {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("consumer lag will not be reported: {e}");
    }
}

impl Families {
    fn all(&self) -> [&dyn Collector; 5] {
        [
            &self.records,
            &self.lag,
            &self.watermark_lag,
            &self.rejected,
            &self.dead_letter_errors,
        ]
    }
}

impl Collector for KafkaCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Ok(f) = self.families.lock() else {
            return Vec::new();
        };
        f.records.reset();
        f.lag.reset();
        f.watermark_lag.reset();
        f.rejected.reset();
        f.dead_letter_errors.reset();
        let now = chrono::Utc::now().timestamp_millis();
        let highs = self.highs.lock().map(|h| h.clone()).unwrap_or_default();
        for (k, (name, source)) in self.sources.iter().enumerate() {
            let topic = source.topic();
            let stats = source.stats();
            let Some(high) = highs.get(k) else { continue };
            for (&p, track) in source.tracks() {
                let part = p.to_string();
                let labels = [name.as_str(), topic, part.as_str()];
                if let Some(s) = stats.partitions.get(&p) {
                    f.records
                        .with_label_values(&labels)
                        .inc_by(s.messages.load(Ordering::Relaxed));
                }
                if let Some(&h) = high.get(&p) {
                    f.lag
                        .with_label_values(&labels)
                        .set((h - track.position()).max(0));
                }
                if let Some(clock) = track.clock() {
                    let watermark = clock.saturating_sub(source.watermark_delay());
                    f.watermark_lag
                        .with_label_values(&labels)
                        .set(now.saturating_sub(watermark) as f64 / 1000.0);
                }
            }
            for (reason, n) in stats.rejected() {
                f.rejected
                    .with_label_values(&[name.as_str(), topic, reason])
                    .inc_by(n);
            }
            f.dead_letter_errors
                .with_label_values(&[name.as_str(), topic])
                .inc_by(stats.dead_letter_errors.load(Ordering::Relaxed));
        }
        f.all().iter().flat_map(|c| c.collect()).collect()
    }
}
