//! Reading one Kafka partition many messages per call.
//!
//! rust-rdkafka's `BaseConsumer::poll` returns one message per call, and
//! each call pays for an event: a queue pop under a lock, an `Arc` and a
//! `BorrowedMessage` allocated and freed, the timeout arithmetic. At a
//! million messages a second that is a quarter of a consumer's CPU.
//! librdkafka's own `rd_kafka_consume_batch_queue` takes up to N messages
//! off a queue in one call (confluent-kafka-python's `Consumer.consume` is
//! built on it), and rust-rdkafka does not expose it. [`BatchConsumer`]
//! does, for one partition.
//!
//! It owns its consumer and never lets it subscribe or commit: the
//! partition is *assigned* and automatic commits are off. The partition's
//! own queue (split off the consumer queue, as rust-rdkafka's
//! `split_partition_queue` does) then holds only its fetched messages and
//! its consumer errors, end of partition included, which come as a
//! [`Message`] with [`Message::error`] set, as `rd_kafka_consumer_poll`
//! returns them. Everything else (logs, client errors) stays on the
//! consumer queue, which each [`BatchConsumer::take`] serves through
//! rust-rdkafka's `poll`, so logs keep their usual route and client errors
//! are passed to the caller. A rebalance or a commit reply, which the batch
//! call cannot serve, never occurs.
//!
//! Messages are *held*: [`BatchConsumer::take`] adds a batch to those
//! held, [`BatchConsumer::message`] lends one as a [`Message`] of borrowed
//! slices, and [`BatchConsumer::release`] (or dropping the consumer, before
//! its queue and client go) frees them all. A source decodes the payloads
//! in place and keeps them for its dead letters until its next poll,
//! without copying them; a borrow cannot outlive `release`, which takes
//! `&mut self`. Held messages no longer count against librdkafka's
//! prefetch limits (`queued.max.messages.kbytes`) and keep the fetch
//! buffers they live in: a caller releases them once per poll, or they
//! add up.
//!
//! This is the one crate of Quiver with `unsafe` code; every block says
//! why it holds.

use std::ffi::CString;
use std::ptr::NonNull;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// One assigned partition, read many messages per call.
pub struct BatchConsumer {
    /// A reference on the partition's queue, released before the consumer.
    queue: NonNull<rd::rd_kafka_queue_t>,
    consumer: BaseConsumer,
    /// The messages taken and not yet released, in queue order.
    held: Vec<*mut rd::rd_kafka_message_t>,
}

// SAFETY: librdkafka's queues are safe to use from any thread (each call
// takes the queue's lock), `BaseConsumer` is `Send`, and a held message
// may be read and freed from any thread (librdkafka builds messages on
// its broker threads and hands them to the application's).
unsafe impl Send for BatchConsumer {}

/// One message, borrowed from librdkafka while it is held.
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
    /// A consumer of `topic`'s `partition` from `offset`, built from
    /// `config` (which needs a `group.id`) with automatic commits off.
    pub fn assigned(
        config: &ClientConfig,
        topic: &str,
        partition: i32,
        offset: Offset,
    ) -> KafkaResult<BatchConsumer> {
        let consumer: BaseConsumer = config.clone().set("enable.auto.commit", "false").create()?;
        let name = CString::new(topic)
            .map_err(|_| KafkaError::Subscription(format!("topic name {topic:?}")))?;
        // SAFETY: the client pointer is valid while `consumer` lives, and
        // `name` is a C string; the queue reference taken here is released
        // in `Drop`, before the consumer.
        let queue = unsafe {
            rd::rd_kafka_queue_get_partition(
                consumer.client().native_ptr(),
                name.as_ptr(),
                partition,
            )
        };
        let queue =
            NonNull::new(queue).ok_or(KafkaError::Subscription(format!("{topic}[{partition}]")))?;
        // From here on `Drop` releases the queue, whatever fails below.
        let me = BatchConsumer {
            queue,
            consumer,
            held: Vec::new(),
        };
        // SAFETY: a live queue; NULL stops forwarding it to the consumer
        // queue, so its messages stay on it.
        unsafe { rd::rd_kafka_queue_forward(me.queue.as_ptr(), std::ptr::null_mut()) };
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, offset)?;
        me.consumer.assign(&tpl)?;
        Ok(me)
    }

    /// Takes up to `max` more messages that are already queued, without
    /// waiting, and holds them (after those held already) until
    /// [`BatchConsumer::release`]. Returns how many it took, errors and ends
    /// of partition included. Client errors off the consumer queue go to
    /// `on_client_error`.
    pub fn take(&mut self, max: usize, mut on_client_error: impl FnMut(RDKafkaErrorCode)) -> usize {
        // The consumer queue: logs are handled by rust-rdkafka's poll,
        // client errors passed on.
        while let Some(r) = self.consumer.poll(Duration::ZERO) {
            if let Err(e) = r {
                on_client_error(e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail));
            }
        }
        if max == 0 {
            return 0;
        }
        let held = self.held.len();
        self.held.reserve(max);
        // SAFETY: `held` has room for `max` more pointers past its length;
        // librdkafka writes at most that many there and returns how many it
        // wrote (or -1 on an invalid argument, which none of these is).
        let n = unsafe {
            rd::rd_kafka_consume_batch_queue(
                self.queue.as_ptr(),
                0,
                self.held.as_mut_ptr().add(held),
                max,
            )
        };
        let n = usize::try_from(n).unwrap_or(0).min(max);
        // SAFETY: librdkafka initialised the `n` slots past the old length.
        unsafe { self.held.set_len(held + n) };
        n
    }

    /// How many messages are held.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Held message `i` (in the order taken).
    ///
    /// # Panics
    ///
    /// If fewer than `i + 1` messages are held.
    pub fn message(&self, i: usize) -> Message<'_> {
        // SAFETY: held messages are live until `release`, which takes
        // `&mut self` and so ends every borrow of `self` first.
        unsafe { view(self.held[i]) }
    }

    /// The offset of held message `i`, without the rest of it.
    ///
    /// # Panics
    ///
    /// If fewer than `i + 1` messages are held.
    pub fn offset(&self, i: usize) -> i64 {
        // SAFETY: a live held message (as in `message`).
        unsafe { (*self.held[i]).offset }
    }

    /// The value of held message `i`, or the error (the end of the
    /// partition included) it stands for, without the rest of it.
    ///
    /// # Panics
    ///
    /// If fewer than `i + 1` messages are held.
    pub fn value(&self, i: usize) -> Result<&[u8], RDKafkaErrorCode> {
        // SAFETY: a live held message (as in `message`), whose payload
        // lives as long as it.
        let msg = unsafe { &*self.held[i] };
        if msg.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(RDKafkaErrorCode::from(msg.err));
        }
        // SAFETY: as above.
        Ok(unsafe { slice(msg.payload, msg.len) })
    }

    /// Frees the messages held.
    pub fn release(&mut self) {
        for m in self.held.drain(..) {
            // SAFETY: each message came from `rd_kafka_consume_batch_queue`
            // and is freed exactly once, here; no borrow of it outlives
            // `&mut self`.
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
        // Messages before the queue and the client they belong to.
        self.release();
        // SAFETY: the reference taken in `assigned`, released once, while the
        // consumer (dropped after this) still lives.
        unsafe { rd::rd_kafka_queue_destroy(self.queue.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    use super::*;

    /// Everything held, owned.
    #[derive(Debug, PartialEq)]
    struct Owned {
        offset: i64,
        key: Option<Vec<u8>>,
        payload: Vec<u8>,
        timestamp: Option<i64>,
        error: Option<RDKafkaErrorCode>,
    }

    /// Takes `max` at a time until `until` are held, then reads them all:
    /// the first batches stay valid while later ones are taken.
    fn read_all(c: &mut BatchConsumer, max: usize, until: usize) -> Vec<Owned> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.held() < until && Instant::now() < deadline {
            let n = c.take(max, |e| panic!("client error {e}"));
            assert!(n <= max);
            if n == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let got = (0..c.held())
            .map(|i| {
                let m = c.message(i);
                assert_eq!(m.partition, 1);
                assert_eq!(c.offset(i), m.offset);
                assert_eq!(c.value(i), m.error.map_or(Ok(m.payload), Err));
                Owned {
                    offset: m.offset,
                    key: m.key.map(<[u8]>::to_vec),
                    payload: m.payload.to_vec(),
                    timestamp: m.timestamp,
                    error: m.error,
                }
            })
            .collect();
        c.release();
        assert_eq!(c.held(), 0);
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

        let config = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .set("group.id", "g")
            .set("enable.partition.eof", "true")
            .clone();
        let mut c = BatchConsumer::assigned(&config, "t", 1, Offset::Offset(10)).unwrap();
        assert_eq!(c.take(0, |e| panic!("client error {e}")), 0);

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

        // A consumer dropped while it holds messages frees them before its
        // client: the drop returns (librdkafka's destroy would wait on
        // messages still alive).
        let mut again = BatchConsumer::assigned(&config, "t", 1, Offset::Beginning).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while again.held() < 100 && Instant::now() < deadline {
            again.take(64, |e| panic!("client error {e}"));
        }
        assert!(again.held() >= 100);
        drop(again);
    }
}
