//! The Kafka sink against a real broker (`scripts/services.sh` starts one;
//! `QUIVER_TEST_KAFKA` names it): a live run writes one message per output
//! row, keyed by the JSON of the row's entity columns, whose values are the
//! rows the historical and online sinks got — for a windowed GROUP BY job
//! and a per-event job (SELECT without GROUP BY), each in JSON and in
//! Protobuf.
//!
//! Without `QUIVER_TEST_KAFKA` the test says so and passes, unless
//! `QUIVER_REQUIRE_KAFKA=1` (set by `scripts/test.sh`), when it fails.

use std::collections::BTreeMap;
use std::fs;

use prost_reflect::MessageDescriptor;
use quiver_spec::DeploymentConfig;
use quiver_tests::kafka::{
    Consumed, broker, consume, create_topic, produce, scratch_with_kafka, topic,
};
use quiver_tests::{Scratch, diff_rows, proto, read_rows, values_match};
use quiver_types::time::{DAY, format_timestamp, parse_timestamp};
use serde_json::{Value as Json, json};

const DELAY: i64 = 30_000;
const CUSTOMERS: i64 = 20;
const EVENTS: i64 = 1_500;

/// `EVENTS` events over one day at distinct times, so every customer's
/// latest event is unique; every 50th has no amount.
fn events(start: i64) -> Vec<(i64, i64, Option<f64>)> {
    let step = DAY / EVENTS;
    (0..EVENTS)
        .map(|i| {
            let time = start + i * step + (i * 7919) % step;
            let customer = 1 + (i * 31 + i / 7) % CUSTOMERS;
            let amount = (i % 50 != 17).then(|| ((i * 37) % 10_000) as f64 / 100.0);
            (time, customer, amount)
        })
        .collect()
}

fn json_event(time: i64, customer: i64, amount: Option<f64>) -> Vec<u8> {
    json!({"event_time": time, "customer_id": customer, "amount": amount})
        .to_string()
        .into_bytes()
}

/// A sink under test: a job, its output topic and how it encodes.
struct Case {
    job: &'static str,
    /// The Protobuf message type, or JSON.
    message: Option<&'static str>,
    /// The column ordering rows (the online store keeps the latest).
    time: &'static str,
    sql: &'static str,
}

const WINDOWED: &str =
    "SELECT customer_id, COUNT(*) AS bookings, SUM(amount) AS spend, MAX(amount) AS biggest,
         TUMBLE_END(event_time, INTERVAL '1' HOUR) AS window_end
  FROM bookings
  GROUP BY TUMBLE(event_time, INTERVAL '1' HOUR), customer_id";
const PER_EVENT: &str =
    "SELECT event_time, customer_id, amount, event_time AS event_time_ms FROM bookings";

const CASES: &[Case] = &[
    Case {
        job: "spend_json",
        message: None,
        time: "window_end",
        sql: WINDOWED,
    },
    Case {
        job: "spend_proto",
        message: Some("quiver.test.SpendFeatures"),
        time: "window_end",
        sql: WINDOWED,
    },
    Case {
        job: "events_json",
        message: None,
        time: "event_time",
        sql: PER_EVENT,
    },
    Case {
        job: "events_proto",
        message: Some("quiver.test.BookingOut"),
        time: "event_time",
        sql: PER_EVENT,
    },
];

fn job_file(case: &Case, input: &str, output: &str) -> String {
    let format = match case.message {
        None => "format: json".to_string(),
        Some(m) => format!("format: protobuf, descriptor_set: bookings.desc, message: {m}"),
    };
    format!(
        r#"name: {job}
entity: [customer_id]
sources:
  bookings:
    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}
    event_time: event_time
    watermark_delay: 30s
    unbounded: {{kafka: {{topic: {input}, start: earliest, group_id: sink-test-{input}}}}}
sql: |
  {sql}
sinks:
  online: {{ttl: 3650d}}
  historical: {{}}
  kafka: {{topic: {output}, {format}}}
"#,
        job = case.job,
        sql = case.sql,
    )
}

/// The messages of a sink topic as rows of `columns`, with their keys and
/// partitions.
fn decoded(
    msgs: &[Consumed],
    columns: &[&str],
    message: Option<&MessageDescriptor>,
) -> Vec<(i32, Vec<u8>, Vec<Json>)> {
    let times: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| matches!(*c, "window_end" | "event_time" | "event_time_ms"))
        .collect();
    msgs.iter()
        .map(|m| {
            let row = match message {
                None => proto::json_row(&m.payload, columns, &times),
                Some(d) => {
                    let mut row = proto::row(d, &m.payload, columns);
                    // An int64 field holds a timestamp column as epoch ms.
                    for (c, v) in columns.iter().zip(row.iter_mut()) {
                        if *c == "event_time_ms" {
                            *v = json!(format_timestamp(v.as_i64().expect("epoch ms")));
                        }
                    }
                    row
                }
            };
            (
                m.partition,
                m.key.clone().expect("every message has a key"),
                row,
            )
        })
        .collect()
}

fn check(
    s: &Scratch,
    broker: &str,
    case: &Case,
    output: &str,
    message: Option<&MessageDescriptor>,
) {
    let (cols, rows) = read_rows(&s.dataset(case.job));
    assert!(!rows.is_empty(), "{}: no historical rows", case.job);
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    let msgs = consume(broker, output);
    let got = decoded(&msgs, &names, message);

    // One message per output row, with the row's values.
    assert_eq!(got.len(), rows.len(), "{}: one message per row", case.job);
    let payloads: Vec<Vec<Json>> = got.iter().map(|(_, _, r)| r.clone()).collect();
    if let Some(d) = diff_rows(payloads, rows.clone()) {
        panic!(
            "{}: the topic's rows differ from the historical rows: {d}",
            case.job
        );
    }

    // Keyed by entity: the key is the JSON of the entity columns, and one
    // entity's rows share a partition.
    let entity = names.iter().position(|n| *n == "customer_id").unwrap();
    let mut partition_of: BTreeMap<Vec<u8>, i32> = BTreeMap::new();
    for (p, key, row) in &got {
        let want = format!("{{\"customer_id\":{}}}", row[entity]);
        assert_eq!(String::from_utf8_lossy(key), want, "{}: key", case.job);
        assert_eq!(
            *partition_of.entry(key.clone()).or_insert(*p),
            *p,
            "{}: one partition per entity",
            case.job
        );
    }

    // The online store holds each entity's latest row.
    let config = DeploymentConfig::load(Some(&s.config())).unwrap();
    let time = names.iter().position(|n| *n == case.time).unwrap();
    let at = |r: &Vec<Json>| parse_timestamp(r[time].as_str().unwrap()).unwrap();
    for c in 1..=CUSTOMERS {
        let online =
            quiver_cli::lookup(&config, case.job, &[format!("customer_id={c}")], None).unwrap();
        let latest = got
            .iter()
            .filter(|(_, _, r)| r[entity] == json!(c))
            .map(|(_, _, r)| r)
            .max_by_key(|r| at(r));
        let Some(latest) = latest else {
            assert!(
                online["event_time"].is_null(),
                "{}: customer {c} has no rows but an online row",
                case.job
            );
            continue;
        };
        for (i, name) in names.iter().enumerate() {
            if i == entity {
                continue;
            }
            let v = &online["features"][*name]["value"];
            assert!(
                values_match(v, &latest[i]),
                "{}: customer {c}, `{name}`: online {v}, latest message {}",
                case.job,
                latest[i]
            );
        }
    }
}

#[test]
fn kafka_sinks_write_one_keyed_message_per_output_row() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-05-01").unwrap();
    let end = start + DAY;
    let input = topic("sink-in");
    create_topic(&broker, &input, 2);
    let mut msgs: Vec<(i32, i64, Vec<u8>)> = events(start)
        .into_iter()
        .enumerate()
        .map(|(i, (t, c, a))| ((i % 2) as i32, t, json_event(t, c, a)))
        .collect();
    // Move every partition's watermark to the end of the day.
    for p in 0..2 {
        msgs.push((p, end + DELAY, json_event(end + DELAY, 0, Some(0.0))));
    }
    produce(&broker, &input, &msgs);

    let s = scratch_with_kafka(&broker);
    let jobs = s.dir.path().join("jobs");
    fs::create_dir_all(&jobs).unwrap();
    let set = proto::descriptor_set(&jobs);
    let mut outputs = Vec::new();
    for case in CASES {
        let out = topic(&format!("sink-{}", case.job.replace('_', "-")));
        create_topic(&broker, &out, 3);
        fs::write(
            jobs.join(format!("{}.yaml", case.job)),
            job_file(case, &input, &out),
        )
        .unwrap();
        outputs.push(out);
    }
    let stop = format_timestamp(end);
    s.quiver(&[
        "run",
        jobs.to_str().unwrap(),
        "--workers",
        "2",
        "--stop-at",
        &stop,
    ])
    .unwrap();

    for (case, out) in CASES.iter().zip(&outputs) {
        let message = case.message.map(|m| proto::message(&set, m));
        check(&s, &broker, case, out, message.as_ref());
    }
}

#[test]
fn protobuf_sinks_are_checked_against_the_output_columns() {
    // No broker needed: `quiver validate` loads the descriptor set.
    let s = Scratch::new();
    proto::descriptor_set(s.dir.path());
    let jf = s.dir.path().join("job.yaml");
    let case = Case {
        job: "spend_proto",
        message: Some("quiver.test.BookingOut"),
        time: "window_end",
        sql: WINDOWED,
    };
    fs::write(&jf, job_file(&case, "in", "out")).unwrap();
    let e = quiver_tests::quiver(&["validate", jf.to_str().unwrap()]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("output column `bookings` has no field in message `quiver.test.BookingOut`"),
        "{text}"
    );
    assert!(
        text.contains("output column `window_end` has no field"),
        "{text}"
    );
    // A wrong message name lists the close ones.
    let text =
        job_file(&case, "in", "out").replace("quiver.test.BookingOut", "quiver.test.SpendFeature");
    fs::write(&jf, text).unwrap();
    let e = quiver_tests::quiver(&["validate", jf.to_str().unwrap()]).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("message `quiver.test.SpendFeature` is not in the descriptor set")
            && text.contains("did you mean `quiver.test.SpendFeatures`?"),
        "{text}"
    );
}

#[test]
fn a_missing_sink_topic_stops_the_run_before_it_starts() {
    let Some(broker) = broker() else { return };
    let input = topic("sink-in-missing");
    create_topic(&broker, &input, 1);
    let s = scratch_with_kafka(&broker);
    let jf = s.dir.path().join("job.yaml");
    let missing = topic("sink-never-created");
    fs::write(&jf, job_file(&CASES[0], &input, &missing)).unwrap();
    let e = s
        .quiver(&["run", jf.to_str().unwrap(), "--stop-at", "2024-05-02"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the kafka sink")
            && e.contains(&format!("topic `{missing}` does not exist"))
            && e.contains("create it first"),
        "{e}"
    );
}
