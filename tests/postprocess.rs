//! Post-processors end to end: a job that masks, dedups and scores with the
//! shipped ONNX model, backfilled over events with known answers.
//!
//! * predictions equal onnxruntime's for the same inputs
//!   (`jobs/models/booking_fraud_lr.expected.csv`, written by the script
//!   that trained the model);
//! * dedup keeps exactly the rows an independent model of its rule keeps,
//!   with 1 worker and with 2;
//! * a backfill of an interval writes the same rows for that interval as a
//!   backfill of everything (dedup state is rebuilt from one TTL before);
//! * masked columns hold the keyed hash / ciphertext, never the value;
//! * `filter_invalid` sends exactly the rows failing a check (named by the
//!   first) to the dead-letter file, masked as the step saw them, and an
//!   interval backfill refuses exactly the interval's rows;
//! * job-file mistakes are refused with positions and fixes.
//!
//! `endpoint` covers `infer` with an HTTP model endpoint.

mod endpoint;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use quiver_postprocess::MaskKeys;
use quiver_tests::{Scratch, assert_problem, problems, read_rows, sort_rows};
use quiver_types::time::{MINUTE, parse_timestamp};
use serde_json::{Value as Json, json};

/// The key the tests run with (`.cargo/config.toml` sets it for `cargo test`).
fn mask_key() -> String {
    std::env::var("QUIVER_MASK_KEY").expect("QUIVER_MASK_KEY (set in .cargo/config.toml)")
}

fn repo() -> PathBuf {
    quiver_tests::repo_root()
}

/// A probe row, (amount, hour, is_bike), and onnxruntime's (label, P(fraud)).
type Probe = ((f64, i64, i64), (i64, f64));

/// onnxruntime's answers for the probe rows.
fn reference_predictions() -> Vec<Probe> {
    let text =
        fs::read_to_string(repo().join("jobs/models/booking_fraud_lr.expected.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                ),
                (f[3].parse().unwrap(), f[4].parse().unwrap()),
            )
        })
        .collect()
}

struct Event {
    time: i64,
    order: String,
    email: String,
    amount: f64,
    service: &'static str,
}

/// Events over two days whose (amount, hour, bike) are the probe rows, with
/// some orders delivered twice or three times at various delays.
fn events() -> Vec<Event> {
    let start = parse_timestamp("2024-05-01").unwrap();
    let probes = reference_predictions();
    let mut out = Vec::new();
    for day in 0..2i64 {
        for (i, ((amount, hour, bike), _)) in probes.iter().enumerate() {
            let time = start + day * 1440 * MINUTE + hour * 60 * MINUTE + (i as i64 % 7) * MINUTE;
            let order = format!("o{day}-{i}");
            let e = |time: i64| Event {
                time,
                order: order.clone(),
                email: format!("user{}@example.com", i % 9),
                amount: *amount,
                service: if *bike == 1 { "bike" } else { "car" },
            };
            out.push(e(time));
            // Redeliveries: 3 and 20 minutes later (within and beyond a
            // 10-minute TTL), and a third for every fifth order.
            if i % 3 == 0 {
                out.push(e(time + 3 * MINUTE));
                out.push(e(time + 20 * MINUTE));
            }
            if i % 5 == 0 {
                out.push(e(time + 9 * MINUTE));
            }
        }
    }
    // Orders delivered again across midnight, which an interval backfill
    // of the second day must still recognise.
    let midnight = start + 1440 * MINUTE;
    for (k, (before, after)) in [(3, 2), (1, 8), (9, 4)].into_iter().enumerate() {
        let e = |time: i64| Event {
            time,
            order: format!("x-{k}"),
            email: format!("user{k}@example.com"),
            amount: probes[k].0.0,
            service: if probes[k].0.2 == 1 { "bike" } else { "car" },
        };
        out.push(e(midnight - before * MINUTE));
        out.push(e(midnight + after * MINUTE));
    }
    out.sort_by_key(|e| e.time);
    out
}

fn write_ndjson(path: &Path, evs: &[Event]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let text: String = evs
        .iter()
        .map(|e| {
            json!({"event_time": e.time, "order_id": e.order, "email": e.email,
                   "amount": e.amount, "service_type": e.service})
            .to_string()
                + "\n"
        })
        .collect();
    fs::write(path, text).unwrap();
}

fn job_text(data: &Path, model: &Path) -> String {
    format!(
        r#"name: scored
entity: [order_id]
sources:
  bookings:
    schema: {{event_time: timestamp, order_id: string, email: string, amount: float64, service_type: string}}
    event_time: event_time
    watermark_delay: 1m
    bounded: {{ndjson: {data}}}
sql: |
  SELECT order_id, email, email AS contact, amount,
         HOUR(event_time) AS hour_of_day,
         CASE WHEN service_type = 'bike' THEN 1 ELSE 0 END AS is_bike,
         event_time
  FROM bookings
postprocessors:
  - dedup: {{key: [order_id], ttl: 10m}}
  - mask:
      key: ${{QUIVER_MASK_KEY}}
      columns: {{email: hash, contact: encrypt}}
  - infer:
      onnx: {model}
      inputs: [amount, hour_of_day, is_bike]
      outputs: {{fraud_label: label, fraud_score: "probabilities[1]"}}
features:
  email: {{is_pii: true}}
  contact: {{is_pii: true}}
sinks:
  historical: {{}}
"#,
        data = data.display(),
        model = model.display()
    )
}

fn setup() -> (Scratch, PathBuf) {
    let s = Scratch::new();
    let data = s.dir.path().join("data/bookings.ndjson");
    write_ndjson(&data, &events());
    let jf = s.dir.path().join("scored.yaml");
    fs::write(
        &jf,
        job_text(&data, &repo().join("jobs/models/booking_fraud_lr.onnx")),
    )
    .unwrap();
    (s, jf)
}

/// The rows of the `scored` dataset, sorted, as column name → value maps.
fn scored_rows(s: &Scratch) -> Vec<HashMap<String, Json>> {
    let (cols, mut rows) = read_rows(&s.dataset("scored"));
    sort_rows(&mut rows);
    rows.into_iter()
        .map(|r| cols.iter().map(|c| c.0.clone()).zip(r).collect())
        .collect()
}

/// Dedup's rule, modelled independently: a row is dropped when its order
/// was seen (kept or not) less than 10 minutes before.
fn expected_kept(evs: &[Event]) -> Vec<(String, i64)> {
    let mut last: HashMap<&str, i64> = HashMap::new();
    let mut kept = Vec::new();
    for e in evs {
        let repeat = last
            .get(e.order.as_str())
            .is_some_and(|&t| e.time - t < 10 * MINUTE);
        last.insert(&e.order, e.time);
        if !repeat {
            kept.push((e.order.clone(), e.time));
        }
    }
    kept.sort();
    kept
}

fn backfill(s: &Scratch, jf: &Path, extra: &[&str]) {
    let mut args = vec!["backfill", jf.to_str().unwrap(), "--no-progress"];
    args.extend(extra);
    s.quiver(&args).unwrap();
}

#[test]
fn mask_dedup_and_infer_in_a_backfill() {
    let evs = events();
    let want_kept = expected_kept(&evs);
    assert!(want_kept.len() < evs.len(), "the data has repeats");
    let keys = MaskKeys::derive(mask_key().as_bytes());
    let reference = reference_predictions();
    for workers in ["1", "2"] {
        let (s, jf) = setup();
        backfill(&s, &jf, &["--workers", workers]);
        let rows = scored_rows(&s);
        let mut got_kept: Vec<(String, i64)> = rows
            .iter()
            .map(|r| {
                let t = r["event_time"].as_str().unwrap();
                (
                    r["order_id"].as_str().unwrap().to_string(),
                    parse_timestamp(t).unwrap(),
                )
            })
            .collect();
        got_kept.sort();
        assert_eq!(got_kept, want_kept, "dedup with {workers} worker(s)");
        for r in &rows {
            let order = r["order_id"].as_str().unwrap();
            let i: usize = order.split('-').nth(1).unwrap().parse().unwrap();
            let email = format!("user{}@example.com", i % 9);
            // Masked: the keyed hash and the ciphertext, never the value.
            assert_eq!(r["email"], json!(keys.hash(email.as_bytes())));
            let contact = r["contact"].as_str().unwrap();
            assert!(!contact.contains("example.com"));
            assert_eq!(keys.decrypt(contact).unwrap(), email.as_bytes());
            if order.starts_with("x-") {
                continue; // the midnight repeats are not probe rows
            }
            // Predictions: onnxruntime's, for this row's probe inputs.
            let ((amount, hour, bike), (label, p)) = reference[i];
            assert_eq!(r["amount"].as_f64().unwrap(), amount);
            assert_eq!(r["hour_of_day"], json!(hour));
            assert_eq!(r["is_bike"], json!(bike));
            assert_eq!(r["fraud_label"], json!(label), "{order}");
            let score = r["fraud_score"].as_f64().unwrap();
            assert!((score - p).abs() < 1e-5, "{order}: {score} vs {p}");
        }
    }
}

#[test]
fn an_interval_backfill_dedups_like_a_full_one() {
    let (full, jf) = setup();
    backfill(&full, &jf, &["--workers", "2"]);
    let (part, jf2) = setup();
    // The second day only: dedup must see the last 10 minutes of day one.
    backfill(&part, &jf2, &["--workers", "2", "--start", "2024-05-02"]);
    let day2 = |rows: Vec<HashMap<String, Json>>| {
        let mut v: Vec<String> = rows
            .into_iter()
            .filter(|r| r["event_time"].as_str().unwrap() >= "2024-05-02")
            .map(|r| {
                let mut kv: Vec<_> = r.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
                kv.sort();
                kv.join(",")
            })
            .collect();
        v.sort();
        v
    };
    let (a, b) = (day2(scored_rows(&full)), day2(scored_rows(&part)));
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn mistakes_are_refused_with_positions_and_fixes() {
    let (s, _) = setup();
    let data = s.dir.path().join("data/bookings.ndjson");
    let model = repo().join("jobs/models/booking_fraud_lr.onnx");
    let good = job_text(&data, &model);
    assert!(problems(&good).is_empty(), "{}", problems(&good));

    // PII that reaches a sink unmasked.
    let unmasked = good.replace(
        "columns: {email: hash, contact: encrypt}",
        "columns: {email: hash}",
    );
    assert_problem(
        &unmasked,
        &[
            "job.yaml:26:3: feature `contact` is marked is_pii but reaches the sinks unmasked",
            "allow_pii: true",
        ],
    );
    assert!(problems(&unmasked.replace("sinks:", "allow_pii: true\nsinks:")).is_empty());
    // Decrypting again unmasks.
    let undone = good.replace(
        "  - infer:",
        "  - mask: {key: \"${QUIVER_MASK_KEY}\", columns: {contact: decrypt}}\n  - infer:",
    );
    assert_problem(&undone, &["feature `contact` is marked is_pii"]);
    // A key written in the file, or with a default.
    assert_problem(
        &good.replace("${QUIVER_MASK_KEY}", "hunter2hunter2hunter2"),
        &["job.yaml:18:12: the `mask` key must come from the environment"],
    );
    assert_problem(
        &good.replace("${QUIVER_MASK_KEY}", "${QUIVER_MASK_KEY:-abc}"),
        &["must come from the environment"],
    );
    // Columns that do not exist, and actions that do not fit.
    assert_problem(
        &good.replace("email: hash,", "emial: hash,"),
        &[
            "masked column `emial` is not an output column",
            "did you mean `email`?",
        ],
    );
    assert_problem(
        &good.replace("contact: encrypt", "amount: {truncate: 3}"),
        &["`truncate` needs a VARCHAR column; `amount` is DOUBLE"],
    );
    assert_problem(
        &good.replace("columns: {email: hash", "columns: {email: hsah"),
        &["unknown mask action `hsah`", "did you mean `hash`?"],
    );
    // Models: missing, wrong width, unknown outputs.
    assert_problem(
        &good.replace("booking_fraud_lr.onnx", "nope.onnx"),
        &["nope.onnx does not exist"],
    );
    assert_problem(
        &good.replace(
            "inputs: [amount, hour_of_day, is_bike]",
            "inputs: [amount, hour_of_day]",
        ),
        &["the model takes 3 input columns, and `inputs` names 2"],
    );
    assert_problem(
        &good.replace("inputs: [amount,", "inputs: [order_id,"),
        &["model input `order_id` is VARCHAR, not a number"],
    );
    assert_problem(
        &good.replace("\"probabilities[1]\"", "\"probabilities[5]\""),
        &["`probabilities[5]` is out of range"],
    );
    assert_problem(
        &good.replace("fraud_label: label", "fraud_label: score"),
        &["the model has no output `score` (outputs: label, probabilities)"],
    );
    // Unknown keys, and steps not available yet.
    assert_problem(
        &good.replace("sinks:", "postprocessors_again: 1\nsinks:"),
        &["unknown key `postprocessors_again`"],
    );
    assert_problem(
        &good.replace("  - dedup:", "  - filter_nivalid: {}\n  - dedup:"),
        &[
            "unknown post-processor `filter_nivalid`",
            "did you mean `filter_invalid`?",
        ],
    );
}

/// The job with a `filter_invalid` step after masking (and its dead-letter
/// file), or `before_mask` to put it first.
fn filtered_job(s: &Scratch, before_mask: bool) -> PathBuf {
    let data = s.dir.path().join("data/bookings.ndjson");
    let model = repo().join("jobs/models/booking_fraud_lr.onnx");
    let step = "  - filter_invalid:\n      checks:\n        modest_amount: amount < 500\n        daytime: hour_of_day BETWEEN 6 AND 21\n";
    let mut text = job_text(&data, &model);
    let at = if before_mask {
        "  - mask:"
    } else {
        "  - infer:"
    };
    text = text.replace(at, &format!("{step}{at}"));
    text = text.replace(
        "  historical: {}",
        "  historical: {}\n  dead_letter: {ndjson: dead/refused.ndjson}",
    );
    let jf = s.dir.path().join("scored.yaml");
    fs::write(&jf, text).unwrap();
    jf
}

/// The dead letters written for the job: (order, event time, check), sorted,
/// after checking each one's shape.
fn refused(s: &Scratch, keys: &MaskKeys) -> Vec<(String, i64, String)> {
    let path = s.dir.path().join("dead/refused.ndjson");
    let text = fs::read_to_string(&path).unwrap_or_default();
    let mut out: Vec<(String, i64, String)> = text
        .lines()
        .map(|l| {
            let d: Json = serde_json::from_str(l).unwrap();
            assert_eq!(d["reason"], "failed_check");
            assert_eq!(d["source"], "scored");
            assert_eq!(d["offset"], -1);
            let row: Json = serde_json::from_str(d["payload"].as_str().unwrap()).unwrap();
            let order = row["order_id"].as_str().unwrap().to_string();
            // Masked before the step, so masked in the dead letter too.
            let email = row["email"].as_str().unwrap();
            assert!(!email.contains('@'), "{email}");
            assert_eq!(email.len(), 64);
            let contact = row["contact"].as_str().unwrap();
            assert!(keys.decrypt(contact).unwrap().ends_with(b"@example.com"));
            // Predictions come after the step: a refused row has none.
            assert!(row.get("fraud_score").is_none());
            let time = d["timestamp"].as_i64().unwrap();
            assert_eq!(
                parse_timestamp(row["event_time"].as_str().unwrap()),
                Ok(time)
            );
            (order, time, d["detail"].as_str().unwrap().to_string())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn filter_invalid_sends_failing_rows_to_the_dead_letter_sink() {
    let evs = events();
    let keys = MaskKeys::derive(mask_key().as_bytes());
    // The rule, modelled independently over the rows dedup keeps.
    let by_key: HashMap<(String, i64), &Event> =
        evs.iter().map(|e| ((e.order.clone(), e.time), e)).collect();
    let mut want_refused = Vec::new();
    let mut want_kept = Vec::new();
    for k in expected_kept(&evs) {
        let e = by_key[&k];
        let hour = (e.time / (60 * MINUTE)).rem_euclid(24);
        let check = if e.amount >= 500.0 {
            Some("modest_amount")
        } else if !(6..=21).contains(&hour) {
            Some("daytime")
        } else {
            None
        };
        match check {
            Some(c) => want_refused.push((k.0, k.1, c.to_string())),
            None => want_kept.push(k),
        }
    }
    want_refused.sort();
    assert!(want_refused.iter().any(|r| r.2 == "modest_amount"));
    assert!(want_refused.iter().any(|r| r.2 == "daytime"));
    assert!(!want_kept.is_empty());

    for workers in ["1", "2"] {
        let s = Scratch::new();
        write_ndjson(&s.dir.path().join("data/bookings.ndjson"), &evs);
        let jf = filtered_job(&s, false);
        backfill(&s, &jf, &["--workers", workers]);
        let mut got_kept: Vec<(String, i64)> = scored_rows(&s)
            .iter()
            .map(|r| {
                (
                    r["order_id"].as_str().unwrap().to_string(),
                    parse_timestamp(r["event_time"].as_str().unwrap()).unwrap(),
                )
            })
            .collect();
        got_kept.sort();
        assert_eq!(got_kept, want_kept, "kept rows, {workers} worker(s)");
        assert_eq!(
            refused(&s, &keys),
            want_refused,
            "dead letters, {workers} worker(s)"
        );

        // The second day alone: the rows before midnight warm dedup up and
        // are neither written nor refused again.
        let part = Scratch::new();
        write_ndjson(&part.dir.path().join("data/bookings.ndjson"), &evs);
        let jf = filtered_job(&part, false);
        backfill(&part, &jf, &["--workers", workers, "--start", "2024-05-02"]);
        let day2 = parse_timestamp("2024-05-02").unwrap();
        let want_day2: Vec<_> = want_refused
            .iter()
            .filter(|r| r.1 >= day2)
            .cloned()
            .collect();
        assert!(!want_day2.is_empty() && want_day2.len() < want_refused.len());
        assert_eq!(
            refused(&part, &keys),
            want_day2,
            "interval, {workers} worker(s)"
        );
    }
}

#[test]
fn filter_invalid_mistakes_are_refused_with_positions() {
    let s = Scratch::new();
    let good = fs::read_to_string(filtered_job(&s, false)).unwrap();
    assert!(problems(&good).is_empty(), "{}", problems(&good));
    // Before the mask, refused rows would carry PII to the dead letters.
    let early = fs::read_to_string(filtered_job(&s, true)).unwrap();
    assert_problem(
        &early,
        &[
            "job.yaml:18:7: `filter_invalid` would send feature `email` (marked is_pii) to the dead-letter sink unmasked",
            "put the `mask` step before `filter_invalid`",
        ],
    );
    assert!(problems(&early.replace("sinks:", "allow_pii: true\nsinks:")).is_empty());
    // Nowhere to send them.
    assert_problem(
        &good.replace("  dead_letter: {ndjson: dead/refused.ndjson}\n", ""),
        &["`filter_invalid` sends refused rows to the dead-letter sink, but the job has none"],
    );
    // SQL mistakes, at their place in the condition.
    assert_problem(
        &good.replace("amount < 500", "amonut < 500"),
        &["job.yaml:22:24: ", "amonut", "amount"],
    );
    assert_problem(
        &good.replace("amount < 500", "amount + 500"),
        &["check `modest_amount` needs a BOOLEAN condition, found DOUBLE"],
    );
    assert_problem(
        &good.replace("amount < 500", "SUM(amount) < 500"),
        &["aggregates are not allowed in check `modest_amount`"],
    );
    assert_problem(
        &good.replace("amount < 500", "amount < 500 500"),
        &["check `modest_amount` must be one SQL condition"],
    );
    assert_problem(
        &good.replace("checks:\n", "chekcs:\n"),
        &["unknown key `chekcs`", "checks"],
    );
}
