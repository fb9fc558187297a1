//! Live runs against a real Kafka-protocol broker (`scripts/services.sh`
//! starts one; `QUIVER_TEST_KAFKA` names it). The central property: the
//! same events, produced to Kafka shuffled within the watermark delay over
//! several partitions, give byte-identical historical files and the same
//! online values through `quiver run` as through `quiver backfill`, also
//! across a stop and restart, and from a hybrid Parquet→Kafka source.
//!
//! Without `QUIVER_TEST_KAFKA` these tests say so and pass, unless
//! `QUIVER_REQUIRE_KAFKA=1` (set by `scripts/test.sh`), when they fail.

use std::fs;
use std::path::Path;
use std::time::Duration;

use quiver_spec::DeploymentConfig;
use quiver_tests::{Scratch, parquet_files, write_events};
use quiver_types::time::{DAY, MINUTE, format_timestamp, parse_timestamp};
use rand::{RngExt, SeedableRng};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::{Value as Json, json};

const DELAY: i64 = 30_000;
const CUSTOMERS: i64 = 40;

fn broker() -> Option<String> {
    match std::env::var("QUIVER_TEST_KAFKA") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            assert!(
                std::env::var("QUIVER_REQUIRE_KAFKA").as_deref() != Ok("1"),
                "QUIVER_REQUIRE_KAFKA=1 but QUIVER_TEST_KAFKA is not set; run scripts/services.sh"
            );
            eprintln!(
                "skipped: no broker (start one with scripts/services.sh and set QUIVER_TEST_KAFKA)"
            );
            None
        }
    }
}

/// A topic name no other test run uses.
fn topic(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    )
}

fn create_topic(broker: &str, name: &str, partitions: i32) {
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
fn produce(broker: &str, topic: &str, msgs: &[(i32, i64, Vec<u8>)]) {
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

struct Event {
    time: i64,
    customer: i64,
    amount: f64,
}

fn events(seed: u64, start: i64, days: i64, n: usize) -> Vec<Event> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out: Vec<Event> = (0..n)
        .map(|_| Event {
            time: start + rng.random_range(0..days * DAY),
            customer: rng.random_range(1..=CUSTOMERS),
            amount: (rng.random_range(100..10_000) as f64) / 100.0,
        })
        .collect();
    out.sort_by_key(|e| e.time);
    out
}

fn json_of(e: &Event) -> Vec<u8> {
    json!({"event_time": e.time, "customer_id": e.customer, "amount": e.amount})
        .to_string()
        .into_bytes()
}

fn write_parquet(path: &Path, evs: &[&Event]) {
    let rows: Vec<_> = evs
        .iter()
        .map(|e| (e.time, Some(e.customer), Some(e.amount)))
        .collect();
    write_events(path, &rows, 1 << 20);
}

/// `quiver run JOB --workers 2 --stop-at STOP [extra...]` on a scratch deployment.
fn run_live(s: &Scratch, job: &Path, stop: i64, extra: &[&str]) {
    let stop = format_timestamp(stop);
    let mut args = vec![
        "run",
        job.to_str().unwrap(),
        "--workers",
        "2",
        "--stop-at",
        &stop,
    ];
    args.extend(extra);
    s.quiver(&args).unwrap();
}

/// Messages for `evs` over `partitions` partitions, each partition's order
/// shuffled within the watermark delay.
fn shuffled(evs: &[&Event], partitions: i32, seed: u64) -> Vec<(i32, i64, Vec<u8>)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut keyed: Vec<(i64, i32, i64, Vec<u8>)> = evs
        .iter()
        .map(|e| {
            (
                e.time + rng.random_range(0..DELAY),
                rng.random_range(0..partitions),
                e.time,
                json_of(e),
            )
        })
        .collect();
    keyed.sort_by_key(|k| k.0);
    keyed.into_iter().map(|(_, p, t, m)| (p, t, m)).collect()
}

/// One event of customer 0 per partition at `at + DELAY`, so every
/// partition's watermark reaches `at`.
fn sentinels(partitions: i32, at: i64) -> Vec<Event> {
    (0..partitions)
        .map(|_| Event {
            time: at + DELAY,
            customer: 0,
            amount: 0.0,
        })
        .collect()
}

fn to_partitions(evs: &[Event]) -> Vec<(i32, i64, Vec<u8>)> {
    evs.iter()
        .enumerate()
        .map(|(p, e)| (p as i32, e.time, json_of(e)))
        .collect()
}

const SQL: &str = r#"
sql: |
  SELECT customer_id,
         COUNT(*) AS bookings,
         SUM(amount) AS spend,
         MAX(amount) AS biggest,
         HOP_END(event_time, INTERVAL '10' MINUTE, INTERVAL '1' HOUR) AS window_end
  FROM bookings
  GROUP BY HOP(event_time, INTERVAL '10' MINUTE, INTERVAL '1' HOUR), customer_id
sinks:
  online: {ttl: 30d}
  historical: {}
"#;

fn job(input: &str) -> String {
    format!(
        r#"name: spend_1h
entity: [customer_id]
sources:
  bookings:
    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}
    event_time: event_time
    watermark_delay: 30s
{input}{SQL}"#
    )
}

fn kafka_input(topic: &str) -> String {
    format!("    unbounded: {{kafka: {{topic: {topic}, format: json, start: earliest}}}}\n")
}

fn scratch_with_kafka(broker: &str) -> Scratch {
    let s = Scratch::new();
    let cfg = s.config();
    let mut text = fs::read_to_string(&cfg).unwrap();
    text.push_str(&format!(
        "kafka: {{brokers: \"{broker}\"}}\nstate_dir: state\n"
    ));
    fs::write(&cfg, text).unwrap();
    s
}

/// Every historical file, by path relative to the dataset, with its bytes.
fn historical_bytes(s: &Scratch, job: &str) -> Vec<(String, Vec<u8>)> {
    let root = s.dataset(job);
    parquet_files(&root)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(&root).unwrap().display().to_string(),
                fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// The online values of every customer.
fn online(s: &Scratch, job: &str) -> Vec<Json> {
    let config = DeploymentConfig::load(Some(&s.config())).unwrap();
    (1..=CUSTOMERS)
        .map(|c| {
            quiver_cli::lookup(
                &config,
                job,
                &[format!("customer_id={c}")],
                Some("2030-01-01"),
            )
            .unwrap()
        })
        .collect()
}

fn assert_same_output(live: &Scratch, batch: &Scratch) {
    let (a, b) = (
        historical_bytes(live, "spend_1h"),
        historical_bytes(batch, "spend_1h"),
    );
    assert!(!b.is_empty());
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "the same partitions and files");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between run and backfill");
    }
    assert_eq!(online(live, "spend_1h"), online(batch, "spend_1h"));
}

fn backfill_reference(evs: &[&Event], end: i64) -> Scratch {
    let batch = Scratch::new();
    let data = batch.dir.path().join("data/bookings.parquet");
    write_parquet(&data, evs);
    let jf = batch.dir.path().join("job.yaml");
    fs::write(
        &jf,
        job(&format!("    bounded: {{parquet: {}}}\n", data.display())),
    )
    .unwrap();
    batch
        .quiver(&[
            "backfill",
            jf.to_str().unwrap(),
            "--workers",
            "2",
            "--end",
            &format_timestamp(end),
            "--no-progress",
        ])
        .unwrap();
    batch
}

#[test]
fn stream_equals_backfill_across_a_restart() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-03-01").unwrap();
    let end = start + 3 * DAY;
    let all = events(7, start, 3, 30_000);
    let evs: Vec<&Event> = all.iter().collect();
    let t = topic("bookings");
    create_topic(&broker, &t, 4);
    // Stop midway (day 2) and restart, to check checkpoints too.
    let mid = start + DAY + 7 * 60 * MINUTE;
    let first: Vec<&Event> = evs.iter().copied().filter(|e| e.time < mid).collect();
    let rest: Vec<&Event> = evs.iter().copied().filter(|e| e.time >= mid).collect();
    // The first part's sentinels are ordinary events once the run goes on,
    // so the reference has them too; the last ones are after `end`.
    let (mid_marks, end_marks) = (sentinels(4, mid), sentinels(4, end));
    let mut msgs = shuffled(&first, 4, 1);
    msgs.extend(to_partitions(&mid_marks));
    msgs.extend(shuffled(&rest, 4, 2));
    msgs.extend(to_partitions(&end_marks));
    produce(&broker, &t, &msgs);

    let live = scratch_with_kafka(&broker);
    let jf = live.dir.path().join("job.yaml");
    fs::write(&jf, job(&kafka_input(&t))).unwrap();
    let run = |stop: i64| run_live(&live, &jf, stop, &["--checkpoint-interval", "0.2"]);
    run(mid);
    assert!(
        live.dir.path().join("state/checkpoints").exists(),
        "a checkpoint was written"
    );
    run(end);

    let mut reference = evs.clone();
    reference.extend(mid_marks.iter());
    reference.sort_by_key(|e| e.time);
    let batch = backfill_reference(&reference, end);
    assert_same_output(&live, &batch);
}

#[test]
fn hybrid_source_switches_from_parquet_to_kafka_without_gap_or_duplicate() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-04-01").unwrap();
    let end = start + 2 * DAY;
    let all = events(11, start, 2, 12_000);
    let evs: Vec<&Event> = all.iter().collect();
    // History holds the first 30 hours; Kafka holds everything.
    let switch = start + 30 * 60 * MINUTE;
    let t = topic("hybrid");
    create_topic(&broker, &t, 3);
    let mut msgs = shuffled(&evs, 3, 3);
    msgs.extend(to_partitions(&sentinels(3, end)));
    produce(&broker, &t, &msgs);

    let live = scratch_with_kafka(&broker);
    let history: Vec<&Event> = evs.iter().copied().filter(|e| e.time < switch).collect();
    let data = live.dir.path().join("data/bookings.parquet");
    write_parquet(&data, &history);
    let jf = live.dir.path().join("job.yaml");
    let input = format!(
        "    bounded: {{parquet: {}}}\n{}",
        data.display(),
        kafka_input(&t)
    );
    fs::write(&jf, job(&input)).unwrap();
    run_live(&live, &jf, end, &[]);
    let batch = backfill_reference(&evs, end);
    assert_same_output(&live, &batch);
}

#[test]
fn bad_and_late_messages_go_to_dead_letters_and_the_job_keeps_running() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-05-01").unwrap();
    let end = start + DAY;
    let good = events(5, start, 1, 2_000);
    let t = topic("corpus");
    create_topic(&broker, &t, 2);
    let now = chrono::Utc::now().timestamp_millis();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        (
            "undecodable",
            b"{\"event_time\": 1, \"customer_id\": ".to_vec(),
        ),
        ("undecodable", b"not json at all".to_vec()),
        ("undecodable", b"[1, 2, 3]".to_vec()),
        ("undecodable", Vec::new()),
        ("undecodable", vec![0xff, 0xfe, 0x00]),
        (
            "wrong_type",
            br#"{"event_time": 1714521600000, "customer_id": "seven", "amount": 1}"#.to_vec(),
        ),
        (
            "wrong_type",
            br#"{"event_time": 1714521600000, "customer_id": 1e300, "amount": 1}"#.to_vec(),
        ),
        (
            "missing_event_time",
            br#"{"customer_id": 3, "amount": 1.5}"#.to_vec(),
        ),
        (
            "missing_event_time",
            br#"{"event_time": null, "customer_id": 3, "amount": 1.5}"#.to_vec(),
        ),
        (
            "far_future",
            json!({"event_time": now + 30 * DAY, "customer_id": 1, "amount": 1.0})
                .to_string()
                .into_bytes(),
        ),
        (
            "far_past",
            br#"{"event_time": 1000, "customer_id": 1, "amount": 1.0}"#.to_vec(),
        ),
    ];
    // Good events in time order on two partitions, a bad one every so
    // often, and late events (an hour behind) once the partition is ahead.
    let mut msgs: Vec<(i32, i64, Vec<u8>)> = Vec::new();
    let (mut expect_late, mut injected) = (0, 0);
    for (i, e) in good.iter().enumerate() {
        let p = (i % 2) as i32;
        msgs.push((p, e.time, json_of(e)));
        if i % 150 == 75 {
            let (_, payload) = &bad[injected % bad.len()];
            msgs.push((p, e.time, payload.clone()));
            injected += 1;
        }
        if i % 400 == 399 {
            let late = Event {
                time: e.time - 60 * MINUTE,
                customer: 1,
                amount: 1.0,
            };
            msgs.push((p, late.time, json_of(&late)));
            expect_late += 1;
        }
    }
    for p in 0..2 {
        let s = Event {
            time: end + DELAY,
            customer: 0,
            amount: 0.0,
        };
        msgs.push((p, s.time, json_of(&s)));
    }
    produce(&broker, &t, &msgs);

    let live = scratch_with_kafka(&broker);
    let jf = live.dir.path().join("job.yaml");
    fs::write(
        &jf,
        format!(
            r#"name: bookings_copy
sources:
  bookings:
    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}
    event_time: event_time
    watermark_delay: 30s
    max_past: 3650d
    unbounded: {{kafka: {{topic: {t}, start: earliest}}}}
sql: SELECT event_time, customer_id, amount FROM bookings
entity: [customer_id]
sinks:
  historical: {{}}
  dead_letter: {{ndjson: dead.ndjson}}
"#
        ),
    )
    .unwrap();
    run_live(&live, &jf, end, &[]);
    // Every good event is in the output...
    let (_, rows) = quiver_tests::read_rows(&live.dataset("bookings_copy"));
    assert_eq!(rows.len(), good.len());
    // ...and every bad or late one is a dead letter, with its reason and position.
    let text = fs::read_to_string(live.dir.path().join("dead.ndjson")).unwrap();
    let letters: Vec<Json> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), injected + expect_late, "{text}");
    let count = |r: &str| letters.iter().filter(|l| l["reason"] == r).count();
    assert_eq!(count("late"), expect_late);
    let mut want: std::collections::BTreeMap<&str, usize> = Default::default();
    for k in 0..injected {
        *want.entry(bad[k % bad.len()].0).or_default() += 1;
    }
    for (reason, n) in want {
        assert_eq!(count(reason), n, "reason {reason}: {text}");
    }
    for l in &letters {
        assert_eq!(l["topic"], json!(t));
        assert!(l["partition"].is_i64() && l["offset"].is_i64() && l["payload_base64"].is_string());
    }
}
