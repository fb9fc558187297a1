//! Kafka, through librdkafka's blocking consumer and producer (no async
//! runtime): live sources ([`source`]), payload decoding ([`decode`]) and
//! encoding ([`encode`]) in JSON or Protobuf ([`protobuf`]: message types
//! from descriptor sets),
//! checkpoints that make restarts exact ([`checkpoint`]), and the feature
//! sink ([`sink`]), and their Prometheus metrics ([`metrics`]).
//!
//! Partitions are assigned, not subscribed: partition `p` of a topic is read
//! by worker `p % workers`, each with its own consumer, so the split of work
//! is fixed and a partition's events are always judged against its own
//! watermark. The consumer group (`group_id`, default `quiver-<job>`) holds
//! the committed offsets that monitoring tools read; the exact resume point
//! is Quiver's checkpoint file (see [`checkpoint`]).

pub mod checkpoint;
pub mod decode;
pub mod encode;
pub mod metrics;
pub mod protobuf;
pub mod sink;
pub mod source;

use std::time::Duration;

use quiver_spec::KafkaConfig;
use rdkafka::ClientConfig;
use rdkafka::client::{Client, ClientContext};
use rdkafka::producer::{BaseProducer, Producer};

/// How long metadata and offset requests may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// librdkafka settings for the brokers of a deployment.
pub fn client_config(k: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers);
    if let Some(p) = &k.security_protocol {
        c.set("security.protocol", p);
    }
    if let Some(m) = &k.sasl_mechanism {
        c.set("sasl.mechanism", m);
    }
    if let Some(u) = &k.sasl_username {
        c.set("sasl.username", u);
    }
    if let Some(p) = &k.sasl_password {
        c.set("sasl.password", p);
    }
    // Last, so a deployment can override anything above.
    for (key, value) in &k.properties {
        c.set(key, value);
    }
    c
}

/// Fails unless `topic` exists, so a job whose output topic is missing
/// fails when it starts rather than at its first write. Asks as a client
/// that may not create topics (a producer's metadata request would have
/// a broker with `auto.create.topics.enable` create it).
pub fn check_topic(config: &ClientConfig, topic: &str) -> Result<(), String> {
    let probe: BaseProducer = config
        .clone()
        .set("allow.auto.create.topics", "false")
        .create()
        .map_err(|e| format!("cannot create a Kafka client: {e}"))?;
    partitions_of(probe.client(), topic).map(|_| ())
}

/// The partitions of `topic`; an error that says so when it does not
/// exist.
pub(crate) fn partitions_of<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
) -> Result<Vec<i32>, String> {
    let md = client
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(|e| format!("cannot reach the Kafka brokers: {e}"))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .filter(|t| t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    if partitions.is_empty() {
        return Err(format!(
            "topic `{topic}` does not exist (or has no partitions); create it first"
        ));
    }
    Ok(partitions)
}
