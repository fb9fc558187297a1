//! A real Kafka-protocol broker for tests: `scripts/services.sh` starts one
//! and `QUIVER_TEST_KAFKA` names it. Without it the tests that need it say
//! so and pass, unless `QUIVER_REQUIRE_KAFKA=1` (set by `scripts/test.sh`),
//! when they fail.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::Scratch;

/// The broker's address, or `None` (after saying so) when tests should skip.
pub fn broker() -> Option<String> {
    crate::service("QUIVER_TEST_KAFKA", "QUIVER_REQUIRE_KAFKA", "Kafka broker")
}

/// A topic name no other test run uses.
pub fn topic(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    )
}

/// Creates a topic with `partitions` partitions.
pub fn create_topic(broker: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .create()
        .unwrap();
    let t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let r = futures_executor::block_on(admin.create_topics([&t], &AdminOptions::new())).unwrap();
    for x in r {
        x.unwrap();
    }
}

/// Produces `(partition, timestamp, payload)` messages and waits for acks.
pub fn produce(broker: &str, topic: &str, msgs: &[(i32, i64, Vec<u8>)]) {
    let p: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for (part, ts, payload) in msgs {
        let mut rec = BaseRecord::<(), [u8]>::to(topic)
            .partition(*part)
            .timestamp(*ts)
            .payload(payload.as_slice());
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    rec = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

/// A scratch deployment whose `quiver.yaml` names the broker (and keeps
/// live state inside the scratch directory).
pub fn scratch_with_kafka(broker: &str) -> Scratch {
    let s = Scratch::new();
    let cfg = s.config();
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "kafka: {{brokers: \"{broker}\"}}\nstate_dir: state\n"
    ));
    std::fs::write(&cfg, text).unwrap();
    s
}

/// One consumed message.
#[derive(Debug, Clone)]
pub struct Consumed {
    /// Its partition.
    pub partition: i32,
    /// Its key.
    pub key: Option<Vec<u8>>,
    /// Its payload.
    pub payload: Vec<u8>,
    /// Its Kafka timestamp (ms).
    pub timestamp: Option<i64>,
    /// Its headers, in order.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Every message `topic` holds now, reading each partition from its start
/// to its end (as of the call), partitions in turn.
pub fn consume(broker: &str, topic: &str) -> Vec<Consumed> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", broker)
        .set("group.id", format!("test-reader-{topic}"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .unwrap();
    let timeout = Duration::from_secs(10);
    let md = c.fetch_metadata(Some(topic), timeout).unwrap();
    let partitions: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        let (low, high) = c.fetch_watermarks(topic, p, timeout).unwrap();
        if high > low {
            tpl.add_partition_offset(topic, p, Offset::Offset(low))
                .unwrap();
            ends.insert(p, high);
        }
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ends.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{topic}: partitions {ends:?} not read to their end"
        );
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                out.push(Consumed {
                    partition: m.partition(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().unwrap_or_default().to_vec(),
                    timestamp: m.timestamp().to_millis(),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|x| (x.key.to_string(), x.value.unwrap_or_default().to_vec()))
                                .collect()
                        })
                        .unwrap_or_default(),
                });
                if ends
                    .get(&m.partition())
                    .is_some_and(|&e| m.offset() + 1 >= e)
                {
                    ends.remove(&m.partition());
                }
            }
            Some(Err(KafkaError::PartitionEOF(_))) | None => {}
            Some(Err(e)) => eprintln!("{topic}: {e} (retrying)"),
        }
    }
    out
}
