//! Reading a librdkafka consumer's messages many per call.
//!
//! rust-rdkafka's `BaseConsumer::poll` returns one message per call, and
//! each call pays for an event: a queue pop under a lock, an `Arc` and a
//! `BorrowedMessage` allocated and freed, the timeout arithmetic. At a
//! million messages a second that is a quarter of a consumer's CPU.
//! librdkafka's own `rd_kafka_consume_batch_queue` takes up to N messages
//! off the consumer's queue in one call (confluent-kafka-python's
//! `Consumer.consume` is built on it), and rust-rdkafka does not expose
//! it. [`BatchConsumer`] does, for a consumer that has a `group.id` (its
//! fetched messages then all arrive on the consumer queue).
//!
//! A batch is read with [`BatchConsumer::read`], which lends each message
//! to a closure as a [`Message`] of borrowed slices and frees them all
//! before it returns, so no message can outlive its memory. What the
//! consumer queue carries besides messages (errors, end of partition)
//! comes as a [`Message`] with [`Message::error`] set, as
//! `rd_kafka_consumer_poll` would return it.
//!
//! This is the one crate of Quiver with `unsafe` code; every block says
//! why it holds.

use std::ptr::NonNull;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;

/// A consumer and its queue, read many messages per call.
pub struct BatchConsumer {
    /// A reference on the consumer queue, released before the consumer.
    queue: NonNull<rd::rd_kafka_queue_t>,
    consumer: BaseConsumer,
    /// Room for one batch's message pointers; empty between calls.
    slots: Vec<*mut rd::rd_kafka_message_t>,
}

// SAFETY: librdkafka's queues are safe to use from any thread (each call
// takes the queue's lock), `BaseConsumer` is `Send`, and `slots` holds no
// pointer between calls.
unsafe impl Send for BatchConsumer {}

/// One message, borrowed from librdkafka for the length of a callback.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset (for an error, where it happened, or -1).
    pub offset: i64,
    /// Its timestamp in milliseconds (create or log-append time), if the
    /// broker gave one.
    pub timestamp: Option<i64>,
    /// Its key, if it has one.
    pub key: Option<&'a [u8]>,
    /// Its value (empty for a message without one).
    pub payload: &'a [u8],
    /// Set when this is not a message but an error or the end of a
    /// partition ([`RDKafkaErrorCode::PartitionEOF`]).
    pub error: Option<RDKafkaErrorCode>,
}

impl BatchConsumer {
    /// Wraps a consumer. `None` when it has no consumer queue, which
    /// means it was created without a `group.id`.
    pub fn new(consumer: BaseConsumer) -> Option<BatchConsumer> {
        // SAFETY: the client pointer is valid while `consumer` lives; the
        // queue reference taken here is released in `Drop` before it.
        let queue = unsafe { rd::rd_kafka_queue_get_consumer(consumer.client().native_ptr()) };
        Some(BatchConsumer {
            queue: NonNull::new(queue)?,
            consumer,
            slots: Vec::new(),
        })
    }

    /// The consumer, for everything but reading messages.
    pub fn consumer(&self) -> &BaseConsumer {
        &self.consumer
    }

    /// Takes up to `max` messages that are already queued, without
    /// waiting, and lends each to `each` in queue order. Returns how many
    /// were taken (errors and ends of partition included).
    pub fn read(&mut self, max: usize, mut each: impl FnMut(Message<'_>)) -> usize {
        if max == 0 {
            return 0;
        }
        self.slots.clear();
        self.slots.reserve(max);
        // SAFETY: `slots` has room for `max` pointers; librdkafka writes
        // at most that many and returns how many it wrote (or -1 on an
        // invalid argument, which none of these is).
        let n = unsafe {
            rd::rd_kafka_consume_batch_queue(self.queue.as_ptr(), 0, self.slots.as_mut_ptr(), max)
        };
        let n = usize::try_from(n).unwrap_or(0).min(max);
        // SAFETY: librdkafka initialised the first `n` slots.
        unsafe { self.slots.set_len(n) };
        // Freed on the way out even if `each` panics.
        let batch = Batch(&mut self.slots);
        for &m in batch.0.iter() {
            // SAFETY: each pointer is a live message, freed only when
            // `batch` drops, after the last borrow of it.
            each(unsafe { view(m) });
        }
        n
    }
}

/// The messages of one read, freed when dropped.
struct Batch<'a>(&'a mut Vec<*mut rd::rd_kafka_message_t>);

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        for m in self.0.drain(..) {
            // SAFETY: each message came from `rd_kafka_consume_batch_queue`
            // and is freed exactly once, here.
            unsafe { rd::rd_kafka_message_destroy(m) };
        }
    }
}

/// Borrows a message's fields.
///
/// # Safety
///
/// `m` points to a live message, which outlives the returned borrows.
unsafe fn view<'a>(m: *mut rd::rd_kafka_message_t) -> Message<'a> {
    // SAFETY: the caller's promise.
    let msg = unsafe { &*m };
    // SAFETY: a pointer and length librdkafka gave together, or null.
    let bytes = |p: *mut std::ffi::c_void, len: usize| unsafe { slice(p, len) };
    let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    // SAFETY: `m` is live; `kind` is a valid place to write.
    let ts = unsafe { rd::rd_kafka_message_timestamp(m, &mut kind) };
    let error = (msg.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
        .then(|| RDKafkaErrorCode::from(msg.err));
    Message {
        partition: msg.partition,
        offset: msg.offset,
        timestamp: (kind != rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
            && ts != -1)
            .then_some(ts),
        key: (!msg.key.is_null()).then(|| bytes(msg.key, msg.key_len)),
        // An error carries its text in the payload: not a value.
        payload: if error.is_some() {
            &[]
        } else {
            bytes(msg.payload, msg.len)
        },
        error,
    }
}

/// # Safety
///
/// `p` is null, or points to `len` bytes that outlive `'a`.
unsafe fn slice<'a>(p: *mut std::ffi::c_void, len: usize) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller's promise.
        unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }
    }
}

impl Drop for BatchConsumer {
    fn drop(&mut self) {
        // SAFETY: the reference taken in `new`, released once, while the
        // consumer (dropped after this) still lives.
        unsafe { rd::rd_kafka_queue_destroy(self.queue.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use rdkafka::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use rdkafka::{Offset, TopicPartitionList};

    use super::*;

    /// Everything `read` returned, owned.
    #[derive(Debug, PartialEq)]
    struct Owned {
        offset: i64,
        key: Option<Vec<u8>>,
        payload: Vec<u8>,
        timestamp: Option<i64>,
        error: Option<RDKafkaErrorCode>,
    }

    fn read_all(c: &mut BatchConsumer, max: usize, until: usize) -> Vec<Owned> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.len() < until && Instant::now() < deadline {
            let n = c.read(max, |m| {
                assert_eq!(m.partition, 1);
                got.push(Owned {
                    offset: m.offset,
                    key: m.key.map(<[u8]>::to_vec),
                    payload: m.payload.to_vec(),
                    timestamp: m.timestamp,
                    error: m.error,
                });
            });
            assert!(n <= max);
            if n == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        got
    }

    #[test]
    fn batches_return_every_message_in_order_then_the_partition_end() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("t", 2, 1).unwrap();
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .create()
            .unwrap();
        for i in 0..1000i64 {
            let payload = if i % 7 == 0 {
                String::new()
            } else {
                format!("v{i}")
            };
            let key = format!("k{i}");
            let mut rec = BaseRecord::to("t")
                .partition(1)
                .payload(&payload)
                .timestamp(1_700_000_000_000 + i);
            if i % 3 != 0 {
                rec = rec.key(&key);
            }
            producer.send(rec).unwrap();
        }
        producer.flush(Duration::from_secs(10)).unwrap();

        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("group.id", "g")
            .set("enable.partition.eof", "true")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("t", 1, Offset::Offset(10))
            .unwrap();
        consumer.assign(&tpl).unwrap();
        let mut c = BatchConsumer::new(consumer).expect("a consumer queue");
        assert_eq!(c.read(0, |_| panic!("nothing asked for")), 0);

        let got = read_all(&mut c, 64, 991);
        let (msgs, ends): (Vec<_>, Vec<_>) = got.into_iter().partition(|m| m.error.is_none());
        let want: Vec<Owned> = (10..1000i64)
            .map(|i| Owned {
                offset: i,
                key: (i % 3 != 0).then(|| format!("k{i}").into_bytes()),
                payload: if i % 7 == 0 {
                    Vec::new()
                } else {
                    format!("v{i}").into_bytes()
                },
                timestamp: Some(1_700_000_000_000 + i),
                error: None,
            })
            .collect();
        assert_eq!(msgs, want);
        assert_eq!(ends.len(), 1, "{ends:?}");
        assert_eq!(ends[0].error, Some(RDKafkaErrorCode::PartitionEOF));
        assert_eq!(ends[0].offset, 1000);
    }
}
