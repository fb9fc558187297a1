//! Live runs against a real Kafka-protocol broker (`scripts/services.sh`
//! starts one; `QUIVER_TEST_KAFKA` names it). The central property: the
//! same events, produced to Kafka shuffled within the watermark delay over
//! several partitions, give byte-identical historical files and the same
//! online values through `quiver run` as through `quiver backfill`, also
//! across a stop and restart, and from a hybrid Parquet→Kafka source
//! (also restarted before its switch).
//!
//! Without `QUIVER_TEST_KAFKA` these tests say so and pass, unless
//! `QUIVER_REQUIRE_KAFKA=1` (set by `scripts/test.sh`), when they fail.

use std::fs;
use std::path::Path;
use std::time::Duration;

use quiver_connectors::kafka::checkpoint::Checkpoint;
use quiver_spec::DeploymentConfig;
use quiver_tests::kafka::{broker, consume, create_topic, produce, scratch_with_kafka, topic};
use quiver_tests::{Scratch, parquet_files, write_events};
use quiver_types::time::{DAY, MINUTE, format_timestamp, parse_timestamp};
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};

const DELAY: i64 = 30_000;
const CUSTOMERS: i64 = 40;

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
    run_jobs(s, &[job], stop, extra);
}

/// [`run_live`] of several job files or folders in one run.
fn run_jobs(s: &Scratch, jobs: &[&Path], stop: i64, extra: &[&str]) {
    let stop = format_timestamp(stop);
    let mut args = vec!["run"];
    args.extend(jobs.iter().map(|j| j.to_str().unwrap()));
    args.extend(["--workers", "2", "--stop-at", &stop]);
    args.extend(extra);
    s.quiver(&args).unwrap();
}

/// Messages for `evs` over `partitions` partitions, each partition's order
/// shuffled within the watermark delay.
fn shuffled(evs: &[&Event], partitions: i32, seed: u64) -> Vec<(i32, i64, Vec<u8>)> {
    shuffled_as(evs, partitions, seed, &json_of)
}

/// [`shuffled`], with payloads encoded by `encode`.
fn shuffled_as(
    evs: &[&Event],
    partitions: i32,
    seed: u64,
    encode: &dyn Fn(&Event) -> Vec<u8>,
) -> Vec<(i32, i64, Vec<u8>)> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut keyed: Vec<(i64, i32, i64, Vec<u8>)> = evs
        .iter()
        .map(|e| {
            (
                e.time + rng.random_range(0..DELAY),
                rng.random_range(0..partitions),
                e.time,
                encode(e),
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
    to_partitions_as(evs, &json_of)
}

fn to_partitions_as(evs: &[Event], encode: &dyn Fn(&Event) -> Vec<u8>) -> Vec<(i32, i64, Vec<u8>)> {
    evs.iter()
        .enumerate()
        .map(|(p, e)| (p as i32, e.time, encode(e)))
        .collect()
}

/// Produces to `t` the events of `evs` in `[from, cut)`, shuffled over
/// `partitions`, then one sentinel per partition at `cut`; returns the
/// sentinels. A run stopped at `cut` has read every event before it, and
/// the sentinels are ordinary events to the legs after it.
fn produce_leg(
    broker: &str,
    t: &str,
    evs: &[&Event],
    (from, cut): (i64, i64),
    partitions: i32,
    seed: u64,
) -> Vec<Event> {
    let leg: Vec<&Event> = evs
        .iter()
        .copied()
        .filter(|e| e.time >= from && e.time < cut)
        .collect();
    let marks = sentinels(partitions, cut);
    let mut msgs = shuffled(&leg, partitions, seed);
    msgs.extend(to_partitions(&marks));
    produce(broker, t, &msgs);
    marks
}

/// `evs` and the sentinels of the legs before the last, in time order:
/// what a backfill reads to match a run of those legs.
fn with_marks<'a>(evs: &[&'a Event], marks: &'a [Event]) -> Vec<&'a Event> {
    let mut all: Vec<&Event> = evs.iter().copied().chain(marks).collect();
    all.sort_by_key(|e| e.time);
    all
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
    assert_same_output_of(live, batch, "spend_1h");
}

/// [`assert_same_output`] for job `name`.
fn assert_same_output_of(live: &Scratch, batch: &Scratch, name: &str) {
    let (a, b) = (historical_bytes(live, name), historical_bytes(batch, name));
    assert!(!b.is_empty());
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "the same partitions and files");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between run and backfill");
    }
    assert_eq!(online(live, name), online(batch, name));
}

fn backfill_reference(evs: &[&Event], end: i64) -> Scratch {
    backfill_job(evs, end, &job)
}

/// `quiver backfill` of the job `make_job(input)` over `evs` from Parquet.
fn backfill_job(evs: &[&Event], end: i64, make_job: &dyn Fn(&str) -> String) -> Scratch {
    let batch = Scratch::new();
    let data = batch.dir.path().join("data/bookings.parquet");
    write_parquet(&data, evs);
    let jf = batch.dir.path().join("job.yaml");
    fs::write(
        &jf,
        make_job(&format!("    bounded: {{parquet: {}}}\n", data.display())),
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
    let marks = produce_leg(&broker, &t, &evs, (i64::MIN, mid), 4, 1);

    let live = scratch_with_kafka(&broker);
    let jf = live.dir.path().join("job.yaml");
    fs::write(&jf, job(&kafka_input(&t))).unwrap();
    let run = |stop: i64| run_live(&live, &jf, stop, &["--checkpoint-interval", "0.2"]);
    run(mid);
    assert!(
        live.dir.path().join("state/checkpoints").exists(),
        "a checkpoint was written"
    );
    // The rest arrives after the stop (produced up front, a fast run would
    // read past `mid` before it stops, and the restart would test nothing).
    produce_leg(&broker, &t, &evs, (mid, end), 4, 2);
    run(end);

    let batch = backfill_reference(&with_marks(&evs, &marks), end);
    assert_same_output(&live, &batch);
}

/// A scratch deployment with the job reading `evs` before `switch` from
/// Parquet and then topic `t`; returns it and the job file.
fn hybrid_job(broker: &str, t: &str, evs: &[&Event], switch: i64) -> (Scratch, std::path::PathBuf) {
    let live = scratch_with_kafka(broker);
    let history: Vec<&Event> = evs.iter().copied().filter(|e| e.time < switch).collect();
    let data = live.dir.path().join("data/bookings.parquet");
    write_parquet(&data, &history);
    let jf = live.dir.path().join("job.yaml");
    let input = format!(
        "    bounded: {{parquet: {}}}\n{}",
        data.display(),
        kafka_input(t)
    );
    fs::write(&jf, job(&input)).unwrap();
    (live, jf)
}

/// `job` as `spend_1h_b`, over a source of another name (its input kept).
fn job_b(input: &str) -> String {
    job(input)
        .replace("  bookings:", "  rides:")
        .replace("FROM bookings", "FROM rides")
        .replace("spend_1h", "spend_1h_b")
}

/// Two jobs of one deployment, each reading its own topic of 2
/// partitions: `spend_1h` (A, `topics[0]`) and `spend_1h_b` (B), with
/// 9,000 events each over `days` from `start`.
struct TwoJobs {
    live: Scratch,
    /// The folder holding both job files.
    jobs: std::path::PathBuf,
    files: [std::path::PathBuf; 2],
    topics: [String; 2],
    events: [Vec<Event>; 2],
    /// The sentinels of the legs produced so far but the last: ordinary
    /// events by the end.
    marks: [Vec<Event>; 2],
}

impl TwoJobs {
    fn new(broker: &str, tag: &str, (start, days): (i64, i64), seeds: [u64; 2]) -> TwoJobs {
        let topics = [topic(&format!("{tag}_a")), topic(&format!("{tag}_b"))];
        for t in &topics {
            create_topic(broker, t, 2);
        }
        let live = scratch_with_kafka(broker);
        let jobs = live.dir.path().join("jobs");
        fs::create_dir_all(&jobs).unwrap();
        let files = [jobs.join("a.yaml"), jobs.join("b.yaml")];
        fs::write(&files[0], job(&kafka_input(&topics[0]))).unwrap();
        fs::write(&files[1], job_b(&kafka_input(&topics[1]))).unwrap();
        TwoJobs {
            live,
            jobs,
            files,
            topics,
            events: seeds.map(|seed| events(seed, start, days, 9_000)),
            marks: [Vec::new(), Vec::new()],
        }
    }

    /// Produces leg `k` of each job's `cuts` (its events from the cut
    /// before, up to `cuts[i][k]`) to its topic, with seeds `seed + k` and
    /// `seed + 10 + k`.
    fn produce(&mut self, broker: &str, cuts: [&[i64]; 2], k: usize, seed: u64) {
        for (i, cuts) in cuts.into_iter().enumerate() {
            let from = if k == 0 { i64::MIN } else { cuts[k - 1] };
            let seed = seed + 10 * i as u64 + k as u64;
            let evs: Vec<&Event> = self.events[i].iter().collect();
            let m = produce_leg(broker, &self.topics[i], &evs, (from, cuts[k]), 2, seed);
            if k + 1 < cuts.len() {
                self.marks[i].extend(m);
            }
        }
    }

    /// Where job `i`'s source keeps its checkpoint.
    fn checkpoint_file(&self, i: usize) -> std::path::PathBuf {
        let group = ["quiver-spend_1h", "quiver-spend_1h_b"][i];
        Checkpoint::path(&self.live.dir.path().join("state"), group, &self.topics[i])
    }

    /// Both jobs' output equals a backfill of their events.
    fn assert_same_as_backfill(&self, end: i64) {
        let makes = [
            ("spend_1h", job as fn(&str) -> String),
            ("spend_1h_b", job_b),
        ];
        for (i, (name, make)) in makes.into_iter().enumerate() {
            let evs: Vec<&Event> = self.events[i].iter().collect();
            let batch = backfill_job(&with_marks(&evs, &self.marks[i]), end, &make);
            assert_same_output_of(&self.live, &batch, name);
        }
    }
}

#[test]
fn a_checkpoint_interrupted_between_two_sources_resumes_exactly() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-06-01").unwrap();
    let end = start + 3 * DAY;
    // Two jobs, each reading its own topic, in one run.
    let mut two = TwoJobs::new(&broker, "two", (start, 3), [21, 22]);
    let ckpt_b = two.checkpoint_file(1);
    // Three legs, each produced after the last one stopped: to day 1 + 7h,
    // to day 2 + 7h, to the end.
    let cuts = [
        start + DAY + 7 * 60 * MINUTE,
        start + 2 * DAY + 7 * 60 * MINUTE,
        end,
    ];
    let mut saved_b = None;
    for (k, &cut) in cuts.iter().enumerate() {
        two.produce(&broker, [&cuts, &cuts], k, 30);
        if k == 2 {
            // As if the run had crashed after saving A's checkpoint of the
            // second leg and before saving B's: B's is still the first's.
            fs::write(&ckpt_b, saved_b.as_ref().unwrap()).unwrap();
        }
        run_live(&two.live, &two.jobs, cut, &["--checkpoint-interval", "0.2"]);
        if k == 0 {
            saved_b = Some(fs::read(&ckpt_b).unwrap());
        }
    }
    two.assert_same_as_backfill(end);
}

#[test]
fn jobs_that_ran_apart_resume_each_where_they_stopped() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-07-01").unwrap();
    let end = start + 5 * DAY;
    let mut two = TwoJobs::new(&broker, "apart", (start, 5), [23, 24]);
    let frontiers = |two: &TwoJobs| {
        let at = |i| {
            let c = Checkpoint::load(&two.checkpoint_file(i)).unwrap();
            c.expect("a checkpoint").frontier
        };
        (at(0), at(1))
    };
    // Legs: A alone; A with B added (B has no checkpoint yet); B alone,
    // two days on (A's topic gets one more day meanwhile); both to the end.
    let day = |d: i64| start + d * DAY;
    let hour = 60 * MINUTE;
    let cuts_a = [day(1) + 7 * hour, day(2) + 7 * hour, day(3) + 7 * hour, end];
    let cuts_b = [day(1) + 7 * hour, day(2) + 7 * hour, day(4) + 7 * hour, end];
    let [fa, fb] = two.files.clone();
    let runs: [(&[&Path], i64); 4] = [
        (&[&fa], cuts_a[0]),
        (&[&fa, &fb], cuts_a[1]),
        (&[&fb], cuts_b[2]),
        (&[&fa, &fb], end),
    ];
    let args = ["--checkpoint-interval", "0.2"];
    for (k, &(jobs, stop)) in runs.iter().enumerate() {
        if k == 3 {
            // Before the last leg's events, both, while A is still behind
            // B: A's checkpoint moves to the day it completes, B's stays.
            assert_eq!(frontiers(&two), (day(2), day(4)));
            run_jobs(&two.live, jobs, cuts_a[2], &args);
            assert_eq!(frontiers(&two), (day(3), day(4)));
        }
        two.produce(&broker, [&cuts_a, &cuts_b], k, 50);
        run_jobs(&two.live, jobs, stop, &args);
    }
    two.assert_same_as_backfill(end);
    let (fa, fb) = frontiers(&two);
    assert_eq!(fa, fb, "A's checkpoint caught up with B's");
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
    produce_leg(&broker, &t, &evs, (i64::MIN, end), 3, 3);

    let (live, jf) = hybrid_job(&broker, &t, &evs, switch);
    run_live(&live, &jf, end, &[]);
    let batch = backfill_reference(&evs, end);
    assert_same_output(&live, &batch);
}

#[test]
fn hybrid_source_restarted_before_its_switch_reads_the_history_again() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-05-01").unwrap();
    let end = start + 2 * DAY;
    let all = events(13, start, 2, 12_000);
    let evs: Vec<&Event> = all.iter().collect();
    // History holds the first 30 hours, Kafka everything. The first run
    // stops at 32 hours, while the day holding the switch is still open:
    // its checkpoint is that day's start, before the switch, so the
    // restart needs hours 23-30 (an hour of lookback) from the history.
    let switch = start + 30 * 60 * MINUTE;
    let mid = start + 32 * 60 * MINUTE;
    let t = topic("hybrid_restart");
    create_topic(&broker, &t, 3);
    let marks = produce_leg(&broker, &t, &evs, (i64::MIN, mid), 3, 5);

    let (live, jf) = hybrid_job(&broker, &t, &evs, switch);
    run_live(&live, &jf, mid, &["--checkpoint-interval", "0.2"]);
    let saved = Checkpoint::path(&live.dir.path().join("state"), "quiver-spend_1h", &t);
    let frontier = Checkpoint::load(&saved)
        .unwrap()
        .expect("a checkpoint")
        .frontier;
    assert!(frontier < switch, "the checkpoint is before the switch");
    produce_leg(&broker, &t, &evs, (mid, end), 3, 6);
    run_live(&live, &jf, end, &[]);

    let batch = backfill_reference(&with_marks(&evs, &marks), end);
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
    // Two jobs read the source: one sends its dead letters to NDJSON, the
    // other to a Kafka topic; each gets every letter.
    let dlq = topic("dlq");
    create_topic(&broker, &dlq, 1);
    let jobs = live.dir.path().join("jobs");
    fs::create_dir_all(&jobs).unwrap();
    let job = |name: &str, dead: &str| {
        format!(
            r#"name: {name}
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
  dead_letter: {dead}
"#
        )
    };
    let ndjson = live.dir.path().join("dead.ndjson");
    let to_file = format!("{{ndjson: {}}}", ndjson.display());
    fs::write(jobs.join("copy.yaml"), job("bookings_copy", &to_file)).unwrap();
    let to_topic = format!("{{kafka: {{topic: {dlq}}}}}");
    fs::write(jobs.join("copy2.yaml"), job("bookings_copy2", &to_topic)).unwrap();
    run_live(&live, &jobs, end, &[]);
    // Every good event is in the output...
    let (_, rows) = quiver_tests::read_rows(&live.dataset("bookings_copy"));
    assert_eq!(rows.len(), good.len());
    // ...and every bad or late one is a dead letter, with its reason and position.
    let text = fs::read_to_string(&ndjson).unwrap();
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
    // The topic holds the same letters: the message's own payload, the
    // rest in headers.
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut from_file: Vec<(String, String, String, i64, Vec<u8>)> = letters
        .iter()
        .map(|l| {
            (
                l["reason"].as_str().unwrap().to_string(),
                l["partition"].to_string(),
                l["offset"].to_string(),
                l["timestamp"].as_i64().unwrap(),
                base64::Engine::decode(&b64, l["payload_base64"].as_str().unwrap()).unwrap(),
            )
        })
        .collect();
    let mut from_topic: Vec<(String, String, String, i64, Vec<u8>)> = consume(&broker, &dlq)
        .into_iter()
        .map(|m| {
            let h = |k: &str| {
                let v = m
                    .headers
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone());
                String::from_utf8(v.unwrap_or_else(|| panic!("no {k} header"))).unwrap()
            };
            assert_eq!(h("quiver.topic"), t);
            assert_eq!(h("quiver.source"), "bookings");
            assert!(!h("quiver.detail").is_empty());
            (
                h("quiver.reason"),
                h("quiver.partition"),
                h("quiver.offset"),
                h("quiver.timestamp").parse().unwrap(),
                m.payload,
            )
        })
        .collect();
    from_file.sort();
    from_topic.sort();
    assert_eq!(from_topic, from_file);
}

/// `GET /metrics`, when it answers 200.
fn scrape(addr: &str) -> Option<String> {
    match quiver_tests::http(addr, "GET", "/metrics", &[], b"") {
        Ok((200, body)) => Some(body),
        _ => None,
    }
}

/// The value of the sample `series` (name with labels, as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_are_served_while_a_job_runs() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-06-01").unwrap();
    let end = start + DAY;
    let good = events(9, start, 1, 3_000);
    let t = topic("metrics");
    create_topic(&broker, &t, 2);
    let mut msgs = shuffled(&good.iter().collect::<Vec<_>>(), 2, 4);
    msgs.push((1, start, b"not json".to_vec()));
    produce(&broker, &t, &msgs);

    let live = scratch_with_kafka(&broker);
    let jf = live.dir.path().join("job.yaml");
    fs::write(&jf, job(&kafka_input(&t))).unwrap();
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let run = {
        let (jf, addr) = (jf.clone(), addr.clone());
        let config = live.config();
        std::thread::spawn(move || {
            let stop = format_timestamp(end);
            quiver_tests::quiver(&[
                "run",
                jf.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
                "--workers",
                "2",
                "--stop-at",
                &stop,
                "--metrics-listen",
                &addr,
            ])
        })
    };
    // The exposition format sorts labels by name.
    let q = |s: &str| format!("{{{s},source=\"bookings\",topic=\"{t}\"}}");
    let read = |text: &str| {
        (0..2)
            .map(|p| {
                sample(
                    text,
                    &format!(
                        "quiver_kafka_records_total{}",
                        q(&format!("partition=\"{p}\""))
                    ),
                )
                .unwrap_or(0.0)
            })
            .sum::<f64>()
    };
    // Wait until everything is read and the first windows are out.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let text = loop {
        if run.is_finished() {
            panic!("the run ended early: {:?}", run.join().unwrap().err());
        }
        assert!(
            std::time::Instant::now() < deadline,
            "metrics never showed the run's progress"
        );
        if let Some(text) = scrape(&addr)
            && read(&text) == msgs.len() as f64
            && sample(&text, "quiver_job_rows_out_total{quiver_job=\"spend_1h\"}").unwrap_or(0.0) > 0.0
            // Lag is refreshed in the background every few seconds.
            && sample(&text, &format!("quiver_kafka_consumer_lag{}", q("partition=\"1\""))) == Some(0.0)
            // Written to both sinks (the counters above move first).
            && sample(
                &text,
                "quiver_sink_write_seconds_count{quiver_job=\"spend_1h\",sink=\"historical\"}",
            )
            .unwrap_or(0.0)
                > 0.0
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let has =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(
        has(&format!(
            "quiver_kafka_rejected_total{{reason=\"undecodable\",source=\"bookings\",topic=\"{t}\"}}"
        )),
        1.0
    );
    assert_eq!(
        has(&format!(
            "quiver_kafka_consumer_lag{}",
            q("partition=\"1\"")
        )),
        0.0
    );
    assert!(
        has(&format!(
            "quiver_kafka_watermark_lag_seconds{}",
            q("partition=\"0\"")
        )) > 0.0
    );
    assert!(has("quiver_source_rows_total{source=\"bookings\"}") > 0.0);
    assert!(has("quiver_job_windows_emitted_total{quiver_job=\"spend_1h\"}") > 0.0);
    assert!(has("quiver_watermark_lag_seconds") > 0.0);
    assert!(has("quiver_sink_write_seconds_count{quiver_job=\"spend_1h\",sink=\"online\"}") > 0.0);
    assert!(
        has("quiver_sink_write_seconds_count{quiver_job=\"spend_1h\",sink=\"historical\"}") > 0.0
    );
    assert!(has("quiver_freshness_seconds_count{quiver_job=\"spend_1h\",sink=\"online\"}") > 0.0);
    quiver_tests::promtool_accepts(&text);

    // Let the run end.
    produce(&broker, &t, &to_partitions(&sentinels(2, end)));
    run.join().unwrap().unwrap();
}

/// The same events as Protobuf messages (`quiver.test.Booking`, from a
/// descriptor set compiled from tests/data/bookings.proto) give the same
/// bytes as a backfill; messages that are not Bookings are dead letters.
#[test]
fn protobuf_stream_equals_backfill() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-07-01").unwrap();
    let end = start + 2 * DAY;
    let all = events(17, start, 2, 12_000);
    let evs: Vec<&Event> = all.iter().collect();
    let live = scratch_with_kafka(&broker);
    let set = quiver_tests::proto::descriptor_set(live.dir.path());
    let booking = quiver_tests::proto::message(&set, "quiver.test.Booking");
    let encode = |e: &Event| quiver_tests::proto::booking(&booking, e.time, e.customer, e.amount);
    let t = topic("proto");
    create_topic(&broker, &t, 3);
    let mut msgs = shuffled_as(&evs, 3, 9, &encode);
    let mut truncated = encode(evs[0]);
    truncated.pop();
    // Garbage, a cut-off message, and customer_id (a varint) sent as bytes.
    let bad = [vec![0xff; 4], truncated, vec![0x12, 0x01, b'x']];
    for (i, b) in bad.iter().enumerate() {
        msgs.insert(1_000 * (i + 1), (i as i32, start + DAY, b.clone()));
    }
    msgs.extend(to_partitions_as(&sentinels(3, end), &encode));
    produce(&broker, &t, &msgs);

    let jf = live.dir.path().join("job.yaml");
    let input = format!(
        "    unbounded: {{kafka: {{topic: {t}, format: protobuf, descriptor_set: bookings.desc, message: quiver.test.Booking, start: earliest}}}}\n"
    );
    let text = job(&input).replace(
        "  historical: {}\n",
        "  historical: {}\n  dead_letter: {ndjson: dead.ndjson}\n",
    );
    fs::write(&jf, text).unwrap();
    run_live(&live, &jf, end, &[]);
    let batch = backfill_reference(&evs, end);
    assert_same_output(&live, &batch);

    let letters: Vec<Json> = fs::read_to_string(live.dir.path().join("dead.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(letters.len(), bad.len(), "{letters:#?}");
    for l in &letters {
        assert_eq!(l["reason"], "undecodable");
        assert_eq!(l["topic"], json!(t));
    }
}

/// A per-event job that dedups, masks, scores with the shipped ONNX model
/// and refuses large amounts, written only to the historical store (and
/// the refused rows to `dead.ndjson`).
fn scored_job(input: &str) -> String {
    let model = quiver_tests::tests_dir().join("../jobs/models/booking_fraud_lr.onnx");
    format!(
        r#"name: scored_live
entity: [customer_id]
sources:
  bookings:
    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}
    event_time: event_time
    watermark_delay: 30s
{input}sql: |
  SELECT customer_id, amount, HOUR(event_time) AS hour_of_day,
         CASE WHEN customer_id % 2 = 0 THEN 1 ELSE 0 END AS is_bike, event_time
  FROM bookings
postprocessors:
  - dedup: {{key: [customer_id], ttl: 15m}}
  - mask:
      key: ${{QUIVER_MASK_KEY}}
      columns: {{customer_id: hash}}
  - infer:
      onnx: {model}
      inputs: [amount, hour_of_day, is_bike]
      outputs: {{p_fraud: "probabilities[1]"}}
  - filter_invalid:
      checks: {{modest_amount: amount < 90}}
sinks:
  historical: {{}}
  dead_letter: {{ndjson: dead.ndjson}}
"#,
        model = model.display()
    )
}

#[test]
fn postprocessed_stream_equals_backfill() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-08-01").unwrap();
    let end = start + 2 * DAY;
    // Dense enough that many events of a customer fall within the TTL.
    let all = events(23, start, 2, 16_000);
    let evs: Vec<&Event> = all.iter().collect();
    let t = topic("scored");
    create_topic(&broker, &t, 3);
    // Stopped and resumed midway through the second day: the checkpoint is
    // at its midnight (the first day's files are committed), and the dedup
    // state is rebuilt from the events of one TTL before it.
    let mid = start + DAY + 13 * 60 * MINUTE + 7 * MINUTE;
    let marks = produce_leg(&broker, &t, &evs, (i64::MIN, mid), 3, 5);

    let live = scratch_with_kafka(&broker);
    let jf = live.dir.path().join("job.yaml");
    fs::write(&jf, scored_job(&kafka_input(&t))).unwrap();
    run_live(&live, &jf, mid, &["--checkpoint-interval", "0.2"]);
    // The rest arrives after the stop.
    produce_leg(&broker, &t, &evs, (mid, end), 3, 6);
    run_live(&live, &jf, end, &["--checkpoint-interval", "0.2"]);
    let batch = backfill_job(&with_marks(&evs, &marks), end, &scored_job);
    let (a, b) = (
        historical_bytes(&live, "scored_live"),
        historical_bytes(&batch, "scored_live"),
    );
    assert!(!b.is_empty());
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between run and backfill");
    }
    // The same rows refused, as the same dead letters. A resumed run
    // refuses the rows after its checkpoint again (dead letters are
    // at least once), so compare them as sets.
    let refused = |s: &Scratch| {
        let text = fs::read_to_string(s.dir.path().join("dead.ndjson")).unwrap_or_default();
        let set: std::collections::BTreeSet<String> = text.lines().map(str::to_string).collect();
        set
    };
    let (a, b) = (refused(&live), refused(&batch));
    assert!(b.len() > 10, "{} refused", b.len());
    assert_eq!(a, b);
    let rows: usize = parquet_files(&batch.dataset("scored_live"))
        .iter()
        .flat_map(|f| quiver_tests::read_parquet(f))
        .map(|b| b.num_rows())
        .sum();
    assert!(
        rows > 0 && rows < evs.len(),
        "dedup dropped some: {rows} of {}",
        evs.len()
    );
}

/// A per-event job that looks each customer up in Redis (hashes written by
/// the test under `prefix`), with `ordered` as given, written to the
/// historical and the online store.
fn enriched_job(redis: &str, prefix: &str, ordered: bool) -> impl Fn(&str) -> String {
    let (redis, prefix) = (redis.to_string(), prefix.to_string());
    move |input: &str| {
        format!(
            r#"name: enriched_live
entity: [customer_id]
sources:
  bookings:
    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}
    event_time: event_time
    watermark_delay: 30s
{input}sql: |
  SELECT customer_id, amount, event_time FROM bookings
postprocessors:
  - enrich:
      redis: {{url: "{redis}", command: hgetall, key: "{prefix}:%s", variables: [customer_id]}}
      outputs: {{segment: segment, tier: {{path: tier, type: bigint}}}}
      capacity: 8
      cache_ttl: 1m
      fail_on_errors: true
      ordered: {ordered}
sinks:
  historical: {{}}
  online: {{ttl: 30d}}
"#
        )
    }
}

/// The enrich step in a live run (its lookups on a runtime inside each
/// timely worker, rows released as the watermark passes) writes the same
/// bytes as a backfill, lookups and all, and the same online values; also
/// with `ordered: false`, where rows leave as their lookups finish.
#[test]
fn enriched_stream_equals_backfill() {
    let Some(broker) = broker() else { return };
    let Some(redis) =
        quiver_tests::service("QUIVER_TEST_REDIS", "QUIVER_REQUIRE_REDIS", "Redis server")
    else {
        return;
    };
    let prefix = format!("quiver_live_enrich_{}", std::process::id());
    let mut conn = redis::Client::open(redis.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    // Customers with an even id have a profile; the others are not found.
    for c in (2..=CUSTOMERS).step_by(2) {
        redis::cmd("HSET")
            .arg(format!("{prefix}:{c}"))
            .arg("segment")
            .arg(format!("seg{}", c % 5))
            .arg("tier")
            .arg((c % 3).to_string())
            .query::<()>(&mut conn)
            .unwrap();
    }
    let start = parse_timestamp("2024-09-01").unwrap();
    let end = start + DAY;
    let all = events(31, start, 1, 6_000);
    let evs: Vec<&Event> = all.iter().collect();
    let t = topic("enriched");
    create_topic(&broker, &t, 3);
    produce_leg(&broker, &t, &evs, (i64::MIN, end), 3, 7);

    let mut batch = None;
    for ordered in [true, false] {
        let make = enriched_job(&redis, &prefix, ordered);
        let live = scratch_with_kafka(&broker);
        let jf = live.dir.path().join("job.yaml");
        fs::write(&jf, make(&kafka_input(&t))).unwrap();
        run_live(&live, &jf, end, &[]);
        let backfill = backfill_job(&evs, end, &make);
        let (a, b) = (
            historical_bytes(&live, "enriched_live"),
            historical_bytes(&backfill, "enriched_live"),
        );
        assert!(!b.is_empty());
        let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&a), names(&b));
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            assert!(
                x == y,
                "{name} differs between run and backfill (ordered: {ordered})"
            );
        }
        assert_eq!(
            online(&live, "enriched_live"),
            online(&backfill, "enriched_live"),
            "ordered: {ordered}"
        );
        batch = Some(backfill);
    }
    let batch = batch.unwrap();
    // The lookups landed: found customers have their segment, others NULL.
    let (mut found, mut missing) = (0, 0);
    for b in parquet_files(&batch.dataset("enriched_live"))
        .iter()
        .flat_map(|f| quiver_tests::read_parquet(f))
    {
        use arrow::array::{Array, AsArray};
        let ids = b.column(0).as_primitive::<arrow::datatypes::Int64Type>();
        let seg = b.column(3).as_string::<i32>();
        for i in 0..b.num_rows() {
            let c = ids.value(i);
            if c % 2 == 0 {
                assert_eq!(seg.value(i), format!("seg{}", c % 5));
                found += 1;
            } else {
                assert!(seg.is_null(i));
                missing += 1;
            }
        }
    }
    assert!(found > 0 && missing > 0);
    for c in (2..=CUSTOMERS).step_by(2) {
        let _ = redis::cmd("DEL")
            .arg(format!("{prefix}:{c}"))
            .query::<()>(&mut conn);
    }
}

#[test]
fn a_shared_source_keeps_its_consumer_group_whatever_order_its_jobs_come_in() {
    let Some(broker) = broker() else { return };
    let start = parse_timestamp("2024-03-01").unwrap();
    let all = events(13, start, 1, 2_000);
    let evs: Vec<&Event> = all.iter().collect();
    let t = topic("shared");
    create_topic(&broker, &t, 2);
    let cut = start + 12 * 60 * MINUTE;
    produce_leg(&broker, &t, &evs, (i64::MIN, cut), 2, 3);
    let live = scratch_with_kafka(&broker);
    let dir = live.dir.path().join("jobs");
    fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.yaml"), dir.join("b.yaml"));
    fs::write(&a, job(&kafka_input(&t))).unwrap();
    // Another job reading the same source (by name).
    let other = job(&kafka_input(&t)).replace("spend_1h", "spend_1h_b");
    fs::write(&b, other).unwrap();
    // Listed b first: the source's group (and so its checkpoint) is still
    // the first job's by name, so listing them either way resumes alike.
    run_jobs(&live, &[&b, &a], cut, &["--checkpoint-interval", "0.2"]);
    let state = live.dir.path().join("state");
    assert!(Checkpoint::path(&state, "quiver-spend_1h", &t).exists());
    assert!(!Checkpoint::path(&state, "quiver-spend_1h_b", &t).exists());
}
