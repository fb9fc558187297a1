//! `infer` with a model `endpoint:`, end to end: backfills whose rows are
//! scored by model servers run in-process (axum), one speaking KServe v2
//! (the Open Inference Protocol), one plain JSON (`instances` →
//! `predictions`), both computing a known linear model.
//!
//! * predictions land on the rows they were computed from, typed as
//!   declared, with 1 worker and with 2; rows with a NULL input get NULL
//!   and are not sent;
//! * rows go in requests of at most `batch_size`, each row once, and the
//!   counters agree with what the server saw;
//! * a failing, unreachable or malformed endpoint gives NULLs and counted
//!   errors with `fail_on_errors: false`, and fails the run naming the job,
//!   the step and the endpoint with `true`;
//! * job-file mistakes are refused with positions and fixes.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use quiver_postprocess::{InferCounters, infer_counters};
use quiver_tests::{Scratch, assert_problem, problems, read_rows, serve_http};
use quiver_types::time::{MINUTE, parse_timestamp};
use serde_json::{Value as Json_, json};

/// The model the servers compute: a score and a label from
/// (amount, hour, is_bike).
fn model(x: &[f64]) -> (f64, i64) {
    let s = 0.01 * x[0] + 0.1 * x[1] - 0.5 * x[2];
    (s, i64::from(s > 1.0))
}

/// Request sizes each route saw.
type Seen = Arc<Mutex<HashMap<&'static str, Vec<usize>>>>;

fn saw(seen: &Seen, route: &'static str, n: usize) {
    seen.lock().unwrap().entry(route).or_default().push(n);
}

async fn kserve(State(seen): State<Seen>, headers: HeaderMap, Json(req): Json<Json_>) -> Response {
    if headers.get("x-token").and_then(|v| v.to_str().ok()) != Some("s3cret") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "bad token"})),
        )
            .into_response();
    }
    let t = &req["inputs"][0];
    let (n, k) = (
        t["shape"][0].as_u64().unwrap() as usize,
        t["shape"][1].as_u64().unwrap() as usize,
    );
    assert_eq!(
        (t["name"].as_str(), t["datatype"].as_str(), k),
        (Some("input"), Some("FP32"), 3)
    );
    saw(&seen, "kserve", n);
    let data: Vec<f64> = t["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (mut probs, mut labels) = (Vec::new(), Vec::new());
    for row in data.chunks(k) {
        let (s, l) = model(row);
        probs.extend([1.0 - s, s]);
        labels.push(l);
    }
    Json(json!({"model_name": "fraud", "outputs": [
        {"name": "label", "shape": [n], "datatype": "INT64", "data": labels},
        {"name": "probabilities", "shape": [n, 2], "datatype": "FP64", "data": probs},
    ]}))
    .into_response()
}

async fn plain(State(seen): State<Seen>, Json(req): Json<Json_>) -> Response {
    let rows = req["instances"].as_array().unwrap();
    saw(&seen, "plain", rows.len());
    let p: Vec<f64> = rows
        .iter()
        .map(|r| {
            let x: Vec<f64> = r
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            model(&x).0
        })
        .collect();
    Json(json!({"predictions": p})).into_response()
}

async fn broken() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()
}

/// Answers one prediction too few.
async fn short(Json(req): Json<Json_>) -> Response {
    let n = req["instances"].as_array().unwrap().len();
    Json(json!({"predictions": vec![0.5; n - 1]})).into_response()
}

/// A model server on loopback for one test: its address and what it saw.
fn model_server() -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/v2/models/fraud/infer", post(kserve))
        .route("/plain", post(plain))
        .route("/broken", post(broken))
        .route("/short", post(short))
        .with_state(seen.clone());
    (serve_http(app), seen)
}

const ROWS: i64 = 120;

/// Rows with an amount (the others have none).
fn scored_rows() -> u64 {
    (0..ROWS).filter(|i| i % 9 != 4).count() as u64
}

/// Bookings over a day; every 9th has no amount.
fn write_bookings(path: &Path) {
    let start = parse_timestamp("2024-05-01").unwrap();
    let lines: Vec<String> = (0..ROWS)
        .map(|i| {
            let amount = (i % 9 != 4).then(|| (i * 37 % 500) as f64 + 0.25);
            json!({"event_time": start + i * 11 * MINUTE, "order_id": format!("o{i}"),
                   "amount": amount, "service_type": if i % 3 == 0 {"bike"} else {"car"}})
            .to_string()
        })
        .collect();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn job_text(data: &Path, steps: &str, name: &str) -> String {
    format!(
        r#"name: {name}
sources:
  bookings:
    schema: {{event_time: timestamp, order_id: string, amount: float64, service_type: string}}
    event_time: event_time
    watermark_delay: 1m
    bounded: {{ndjson: {data}}}
sql: |
  SELECT order_id, amount, HOUR(event_time) AS hour_of_day,
         CASE WHEN service_type = 'bike' THEN 1 ELSE 0 END AS is_bike,
         event_time
  FROM bookings
postprocessors:
{steps}sinks:
  historical: {{}}
"#,
        data = data.display()
    )
}

fn job(s: &Scratch, name: &str, steps: &str) -> PathBuf {
    let data = s.dir.path().join("data/bookings.ndjson");
    if !data.exists() {
        write_bookings(&data);
    }
    let jf = s.dir.path().join(format!("{name}.yaml"));
    fs::write(&jf, job_text(&data, steps, name)).unwrap();
    jf
}

fn counters(job: &str, step: &str) -> Arc<InferCounters> {
    infer_counters(job, step).unwrap_or_else(|| panic!("no counters for {job}/{step}"))
}

fn n(c: &std::sync::atomic::AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

#[test]
fn kserve_v2_and_json_predictions_land_on_their_rows() {
    let (addr, seen) = model_server();
    for workers in ["1", "2"] {
        let s = Scratch::new();
        let name = format!("endpoint_scored_w{workers}");
        let steps = format!(
            r#"  - infer:
      endpoint: http://{addr}/v2/models/fraud/infer
      inputs: [amount, hour_of_day, is_bike]
      outputs: {{fraud_score: "probabilities[1]", fraud_label: {{output: label, type: bigint}}}}
      batch_size: 7
      headers: {{X-Token: s3cret}}
  - infer:
      name: plain
      endpoint: http://{addr}/plain
      protocol: json
      inputs: [amount, hour_of_day, is_bike]
      outputs: {{plain_score: predictions}}
      batch_size: 1000
"#
        );
        let jf = job(&s, &name, &steps);
        seen.lock().unwrap().clear();
        s.backfill(&jf, workers).unwrap();
        let rows = s.rows(&name);
        assert_eq!(rows.len() as i64, ROWS);
        let mut scored = 0u64;
        for r in &rows {
            let Some(amount) = r["amount"].as_f64() else {
                for c in ["fraud_score", "fraud_label", "plain_score"] {
                    assert_eq!(r[c], Json_::Null, "{c} of {r:?}");
                }
                continue;
            };
            scored += 1;
            let x = [
                amount,
                r["hour_of_day"].as_i64().unwrap() as f64,
                r["is_bike"].as_i64().unwrap() as f64,
            ];
            let (score, label) = model(&x);
            // serde_json reads floats to within an ulp, not always exactly.
            for c in ["fraud_score", "plain_score"] {
                let got = r[c].as_f64().unwrap();
                assert!(
                    (got - score).abs() < 1e-12,
                    "{c}: {got} vs {score} in {r:?}"
                );
            }
            assert_eq!(r["fraud_label"], json!(label), "{r:?}");
        }
        assert_eq!(scored, scored_rows());
        let (cols, _) = read_rows(&s.dataset(&name));
        let types: HashMap<_, _> = cols.into_iter().collect();
        assert_eq!(types["fraud_score"], "float64");
        assert_eq!(types["fraud_label"], "int64");
        // Each row sent once, in requests of at most `batch_size`, one
        // request per batch; the counters say what the server saw.
        let seen = seen.lock().unwrap();
        for (route, step, max) in [("kserve", "infer", 7), ("plain", "plain", 1000)] {
            let sizes = &seen[route];
            assert!(sizes.iter().all(|&k| k <= max), "{route}: {sizes:?}");
            assert_eq!(sizes.iter().sum::<usize>() as u64, scored, "{route}");
            let c = counters(&name, step);
            assert_eq!(n(&c.rows), scored, "{step}");
            assert_eq!(n(&c.skipped_rows), ROWS as u64 - scored, "{step}");
            assert_eq!(n(&c.batches), sizes.len() as u64, "{step}");
            assert_eq!(n(&c.requests), sizes.len() as u64, "{step}");
            assert_eq!(n(&c.errors), 0, "{step}");
        }
        assert!(seen["kserve"].len() as u64 >= scored.div_ceil(7));
    }
}

#[test]
fn failing_endpoints_give_nulls_or_fail_the_run() {
    let (addr, _) = model_server();
    let s = Scratch::new();
    let step = |name: &str, url: &str, protocol: &str, fail: bool| {
        format!(
            "  - infer:\n      name: {name}\n      endpoint: {url}\n      protocol: {protocol}\n      inputs: [amount, hour_of_day, is_bike]\n      outputs: {{{name}_p: predictions}}\n      batch_size: 16\n      retries: 1\n      backoff: 1ms\n      timeout: 500ms\n      fail_on_errors: {fail}\n"
        )
    };
    let steps = [
        step("broken", &format!("http://{addr}/broken"), "json", false),
        step("short", &format!("http://{addr}/short"), "json", false),
        // Nothing listens on port 1: connections are refused.
        step(
            "down",
            "http://127.0.0.1:1/v2/models/m/infer",
            "kserve_v2",
            false,
        ),
        step(
            "unauthorized",
            &format!("http://{addr}/v2/models/fraud/infer"),
            "kserve_v2",
            false,
        ),
    ]
    .concat();
    let jf = job(&s, "endpoint_lenient", &steps);
    s.backfill(&jf, "1").unwrap();
    for r in s.rows("endpoint_lenient") {
        for c in ["broken_p", "short_p", "down_p", "unauthorized_p"] {
            assert_eq!(r[c], Json_::Null, "{c} of {r:?}");
        }
    }
    let scored = scored_rows();
    for (step, retried) in [
        ("broken", true),
        ("short", false),
        ("down", true),
        ("unauthorized", false),
    ] {
        let c = counters("endpoint_lenient", step);
        let batches = n(&c.batches);
        assert!(batches >= scored.div_ceil(16), "{step}");
        assert_eq!(n(&c.errors), batches, "{step}: every batch failed");
        assert_eq!(n(&c.failed_rows), scored, "{step}");
        // 5xx and refused connections are retried once; a malformed
        // answer and a 401 are not.
        let attempts = if retried { 2 } else { 1 };
        assert_eq!(n(&c.requests), attempts * batches, "{step}");
    }

    for (name, url, protocol, workers, want) in [
        (
            "strict_broken",
            format!("http://{addr}/broken"),
            "json",
            "2",
            vec![
                "job `strict_broken`",
                "infer step `broken` (json endpoint http://",
                "HTTP status 500 (2 attempts)",
            ],
        ),
        (
            "strict_short",
            format!("http://{addr}/short"),
            "json",
            "1",
            vec!["infer step `short`", "predictions for the", "(1 attempt)"],
        ),
        (
            "strict_down",
            "http://127.0.0.1:1/v2/models/m/infer".to_string(),
            "kserve_v2",
            "1",
            vec![
                "infer step `down` (kserve_v2 endpoint",
                "cannot reach the source",
                "(2 attempts)",
            ],
        ),
        (
            "strict_unauthorized",
            format!("http://{addr}/v2/models/fraud/infer"),
            "kserve_v2",
            "1",
            vec!["HTTP status 401: bad token (1 attempt)"],
        ),
    ] {
        let step_name = name.strip_prefix("strict_").unwrap();
        let jf = job(&s, name, &step(step_name, &url, protocol, true));
        let e = s.backfill(&jf, workers).unwrap_err().to_string();
        for f in want {
            assert!(e.contains(f), "`{f}` not in: {e}");
        }
    }
}

#[test]
fn endpoint_mistakes_are_refused_with_positions_and_fixes() {
    let s = Scratch::new();
    let data = s.dir.path().join("data/bookings.ndjson");
    let good = job_text(
        &data,
        r#"  - infer:
      endpoint: http://127.0.0.1:9/v2/models/fraud/infer
      protocol: kserve_v2
      inputs: [amount, hour_of_day, is_bike]
      outputs: {fraud_score: "probabilities[1]", fraud_label: {output: label, type: bigint}}
      batch_size: 64
      timeout: 200ms
"#,
        "scored",
    );
    assert!(problems(&good).is_empty(), "{}", problems(&good));
    assert_problem(
        &good.replace(
            "      endpoint: http://127.0.0.1:9/v2/models/fraud/infer\n",
            "",
        ),
        &[
            "job.yaml:15:7: `infer` names no model",
            "add `onnx:",
            "or `endpoint:",
        ],
    );
    assert_problem(
        &good.replace("      protocol:", "      onnx: model.onnx\n      protocol:"),
        &[
            "job.yaml:15:7: one `infer` step has one model: this one names both `onnx` and `endpoint`",
        ],
    );
    assert_problem(
        &good.replace("protocol: kserve_v2", "protocol: grpc"),
        &[
            "job.yaml:16:17: unknown model protocol `grpc`",
            "protocols: kserve_v2",
        ],
    );
    assert_problem(
        &good.replace("batch_size: 64", "batch_size: 0"),
        &["job.yaml:19:19: `batch_size` of `infer` must be between 1 and 1000000, found 0"],
    );
    assert_problem(
        &good.replace("timeout: 200ms", "timeout: soon"),
        &["job.yaml:20:16: `timeout` of `infer`"],
    );
    assert_problem(
        &good.replace("http://127.0.0.1:9/v2", "ftp://127.0.0.1:9/v2"),
        &["job.yaml:15:17: the `endpoint` of `infer` must start with http:// or https://"],
    );
    assert_problem(
        &good.replace("type: bigint", "type: varchar"),
        &[
            "job.yaml:18:85: `varchar` is not a type a prediction can have",
            "types: double",
        ],
    );
    assert_problem(
        &good.replace("protocol: kserve_v2", "protocol: json\n      input_name: x"),
        &["`input_name` names a KServe v2 input tensor; the `json` protocol sends `instances`"],
    );
    assert_problem(
        &good.replace("fraud_score:", "amount:"),
        &["job.yaml:18:17: prediction column `amount` already exists"],
    );
    assert_problem(
        &good.replace("inputs: [amount,", "inputs: [order_id,"),
        &["model input `order_id` is VARCHAR, not a number"],
    );
    assert_problem(
        &good.replace("inputs: [amount,", "inputs: [amont,"),
        &[
            "model input `amont` is not an output column",
            "did you mean `amount`?",
        ],
    );
    assert_problem(
        &good.replace("batch_size: 64", "batch_sise: 64"),
        &[
            "unknown key `batch_sise` in `infer`",
            "did you mean `batch_size`?",
        ],
    );
    // Two endpoint steps need their own names (they label the metrics).
    let twice = good.replace(
        "sinks:",
        &format!(
            "{}sinks:",
            good[good.find("  - infer:").unwrap()..good.find("sinks:").unwrap()]
                .replace("fraud_score", "s2")
                .replace("fraud_label", "l2")
        ),
    );
    assert_problem(
        &twice,
        &["two infer steps are named `infer`", "own `name:`"],
    );
    // Endpoint settings on an ONNX model.
    let model = quiver_tests::tests_dir().join("../jobs/models/booking_fraud_lr.onnx");
    let onnx = good.replace(
        "endpoint: http://127.0.0.1:9/v2/models/fraud/infer",
        &format!("onnx: {}", model.display()),
    );
    assert_problem(
        &onnx,
        &[
            "job.yaml:16:7: `protocol` applies to a model `endpoint:`, not to an `onnx:` model",
            "`batch_size` applies",
        ],
    );
    let onnx = onnx
        .replace("      protocol: kserve_v2\n", "")
        .replace("      batch_size: 64\n      timeout: 200ms\n", "");
    assert!(problems(&onnx).is_empty(), "{}", problems(&onnx));
    assert_problem(
        &onnx.replace(
            "fraud_label: {output: label, type: bigint}",
            "fraud_label: {output: label, type: double}",
        ),
        &[
            "model output `label` gives BIGINT, not DOUBLE",
            "remove `type`",
        ],
    );
}
