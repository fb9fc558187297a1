//! The `infer` step with a model `endpoint:`: predictions from a model
//! server over HTTP, one POST per `batch_size` rows.
//!
//! Protocols (`protocol:`):
//!
//! * `kserve_v2` (the default): KServe v2, the Open Inference Protocol
//!   that KServe, Triton, MLServer, OpenVINO Model Server and Seldon speak.
//!   The request carries one input tensor `[rows, k]` named `input_name`
//!   (default `input`), datatype `FP32`, data flattened row-major, and asks
//!   for the outputs the job reads:
//!   `{"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32",
//!   "data": [..6 numbers..]}], "outputs": [{"name": "probabilities"}]}`.
//!   The answer's `outputs` must hold each of them with `shape` `[rows]`
//!   or `[rows, n]`, a numeric `datatype` and `data` flattened or nested.
//! * `json`: TF-Serving's row format (also KServe v1's):
//!   `{"instances": [[a, b, c], ...]}` answered by
//!   `{"predictions": [p, ...]}`, one prediction per instance, in order.
//!   A prediction is a number (read as output `predictions`), a list of
//!   numbers (`predictions[i]`) or an object of named outputs (`label`,
//!   `probabilities[1]`).
//!
//! Rows with a NULL (or non-finite) input are not sent and get NULL
//! predictions. A batch's requests run concurrently (at most `capacity` at
//! once per worker) on the step's own single-threaded tokio runtime; each
//! attempt is bounded by `timeout`, and timeouts, refused connections,
//! 429 and 5xx are retried with backoff, as `enrich` does. Every answer is
//! checked — status, JSON, the outputs named, shapes, the number of rows,
//! datatypes against the declared column types — and one that fails is an
//! error for its request's rows: with `fail_on_errors: false` they get
//! NULL predictions and the error is counted and logged; with `true` the
//! run fails with a message naming the job, the step and the endpoint.
//! Predictions land on the rows they were asked for, so the batch comes
//! out in the order it came in.
//!
//! The output schema must be known when the job is planned, without
//! calling the endpoint, so a prediction column is DOUBLE unless declared
//! `type: bigint`; a float answer for a BIGINT column is an error, an
//! integer answer for a DOUBLE column is converted.
//!
//! Counters (see [`crate::metrics`]), labelled `{quiver_job, step,
//! protocol}`: `quiver_infer_rows_total` (rows sent),
//! `quiver_infer_skipped_rows_total` (rows with a NULL input),
//! `quiver_infer_batches_total` (batches of up to `batch_size` rows),
//! `quiver_infer_requests_total` (retries included),
//! `quiver_infer_retries_total`, `quiver_infer_timeouts_total`,
//! `quiver_infer_errors_total` (batches that failed for good) and
//! `quiver_infer_failed_rows_total` (their rows).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Float64Type, SchemaRef};
use futures_util::StreamExt;
use quiver_spec::{InferEndpoint, InferProtocol};
use quiver_types::DataType;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value as Json;

/// Per output column, a request's predictions (NULL where missing).
type Predictions = Vec<Vec<Option<f64>>>;

use crate::enrich::http::request_error;
use crate::enrich::{LookupError, Policy, runtime};
use crate::metrics::{CounterSet, Registry, StepCollector};

/// One prediction column of an endpoint.
#[derive(Debug, Clone)]
pub(crate) struct EndpointOutput {
    /// The new column's name.
    pub(crate) column: String,
    /// The output tensor (`json`: `predictions` or an object's field).
    pub(crate) tensor: String,
    /// For a `[rows, n]` output, which column.
    pub(crate) index: Option<usize>,
    /// DOUBLE or BIGINT.
    pub(crate) data_type: DataType,
}

/// An `infer` step with a model endpoint, planned: shared by the workers.
pub struct EndpointPlan {
    pub(crate) job: String,
    pub(crate) name: String,
    pub(crate) url: reqwest::Url,
    pub(crate) protocol: InferProtocol,
    pub(crate) input_name: String,
    pub(crate) headers: HeaderMap,
    pub(crate) inputs: Vec<usize>,
    pub(crate) outputs: Vec<EndpointOutput>,
    pub(crate) batch_size: usize,
    pub(crate) capacity: usize,
    pub(crate) policy: Policy,
    pub(crate) fail_on_errors: bool,
    pub(crate) counters: Arc<InferCounters>,
    pub(crate) output: SchemaRef,
}

impl EndpointPlan {
    /// The plan of `e`, whose inputs and outputs were checked by the
    /// planner; `headers` were checked by [`crate::enrich::http::header_map`].
    pub(crate) fn new(
        job: &str,
        e: &InferEndpoint,
        url: reqwest::Url,
        mut headers: HeaderMap,
        inputs: Vec<usize>,
        outputs: Vec<EndpointOutput>,
        output: SchemaRef,
    ) -> EndpointPlan {
        if !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        EndpointPlan {
            job: job.to_string(),
            name: e.name.value.clone(),
            counters: REGISTRY.register(job, &e.name.value, e.protocol.name()),
            url,
            protocol: e.protocol,
            input_name: e.input_name.clone(),
            headers,
            inputs,
            outputs,
            batch_size: e.batch_size.max(1),
            capacity: e.capacity.max(1),
            policy: Policy::new(e.timeout, e.retries, e.backoff),
            fail_on_errors: e.fail_on_errors,
            output,
        }
    }

    /// The distinct output tensors, in first-use order.
    fn tensors(&self) -> Vec<&str> {
        let mut t: Vec<&str> = Vec::new();
        for o in &self.outputs {
            if !t.contains(&o.tensor.as_str()) {
                t.push(&o.tensor);
            }
        }
        t
    }

    /// The request body for rows `rows` of the row-major `data`.
    fn body(&self, data: &[f64], rows: usize) -> String {
        let k = self.inputs.len();
        let mut b = String::with_capacity(32 + data.len() * 8);
        let num = |b: &mut String, v: f64| {
            // Display prints the shortest text that reads back as `v`.
            let _ = write!(b, "{v}");
        };
        match self.protocol {
            InferProtocol::KserveV2 => {
                b.push_str("{\"inputs\":[{\"name\":");
                b.push_str(&Json::String(self.input_name.clone()).to_string());
                let _ = write!(
                    b,
                    ",\"shape\":[{rows},{k}],\"datatype\":\"FP32\",\"data\":["
                );
                for (i, v) in data.iter().enumerate() {
                    if i > 0 {
                        b.push(',');
                    }
                    num(&mut b, *v);
                }
                b.push_str("]}],\"outputs\":[");
                for (i, t) in self.tensors().iter().enumerate() {
                    if i > 0 {
                        b.push(',');
                    }
                    let _ = write!(b, "{{\"name\":{}}}", Json::String(t.to_string()));
                }
                b.push_str("]}");
            }
            InferProtocol::Json => {
                b.push_str("{\"instances\":[");
                for (r, row) in data.chunks(k.max(1)).enumerate() {
                    if r > 0 {
                        b.push(',');
                    }
                    b.push('[');
                    for (i, v) in row.iter().enumerate() {
                        if i > 0 {
                            b.push(',');
                        }
                        num(&mut b, *v);
                    }
                    b.push(']');
                }
                b.push_str("]}");
            }
        }
        b
    }

    /// Reads an answer for `rows` rows: per output, a value per row.
    fn read(&self, doc: &Json, rows: usize) -> Result<Predictions, String> {
        match self.protocol {
            InferProtocol::KserveV2 => self.read_kserve(doc, rows),
            InferProtocol::Json => self.read_json(doc, rows),
        }
    }

    fn read_kserve(&self, doc: &Json, rows: usize) -> Result<Predictions, String> {
        let Some(outputs) = doc.get("outputs").and_then(Json::as_array) else {
            return Err(format!(
                "the answer has no `outputs` list{}",
                server_error(doc)
            ));
        };
        let name_of = |t: &Json| t.get("name").and_then(Json::as_str).map(str::to_string);
        let mut columns = Vec::with_capacity(self.outputs.len());
        for o in &self.outputs {
            let Some(t) = outputs
                .iter()
                .find(|t| name_of(t).as_deref() == Some(&o.tensor))
            else {
                let names: Vec<String> = outputs.iter().filter_map(name_of).collect();
                return Err(format!(
                    "the answer has no output `{}` (outputs: {})",
                    o.tensor,
                    names.join(", ")
                ));
            };
            let shape: Vec<usize> = t
                .get("shape")
                .and_then(Json::as_array)
                .and_then(|s| s.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
                .ok_or_else(|| format!("output `{}` has no valid `shape`", o.tensor))?;
            let datatype = t.get("datatype").and_then(Json::as_str).unwrap_or("");
            let integer = match datatype {
                "FP16" | "FP32" | "FP64" | "BF16" => false,
                "BOOL" | "INT8" | "INT16" | "INT32" | "INT64" | "UINT8" | "UINT16" | "UINT32"
                | "UINT64" => true,
                other => {
                    return Err(format!(
                        "output `{}` has datatype `{other}`; predictions must be numbers (FP*, INT*, UINT*, BOOL)",
                        o.tensor
                    ));
                }
            };
            if o.data_type == DataType::Int64 && !integer {
                return Err(format!(
                    "output `{}` is {datatype}, and column `{}` is declared bigint (declare it `type: double`)",
                    o.tensor, o.column
                ));
            }
            let mut data = Vec::new();
            flatten(t.get("data").unwrap_or(&Json::Null), &mut data);
            let width = match (shape.as_slice(), o.index) {
                ([n], None) if *n == rows => 1,
                ([n, 1], None) if *n == rows => 1,
                ([n, w], Some(i)) if *n == rows && i < *w => *w,
                ([n, w], Some(i)) if *n == rows => {
                    return Err(format!(
                        "output `{}` has {w} columns; `{}[{i}]` is out of range",
                        o.tensor, o.tensor
                    ));
                }
                ([n, _], None) if *n == rows => {
                    return Err(format!(
                        "output `{}` has several columns per row; pick one with `{}[i]`",
                        o.tensor, o.tensor
                    ));
                }
                ([_], Some(_)) => {
                    return Err(format!(
                        "output `{}` has one value per row; write `{}` without an index",
                        o.tensor, o.tensor
                    ));
                }
                ([n, ..], _) if *n != rows => {
                    return Err(format!(
                        "output `{}` has {n} rows for the {rows} sent",
                        o.tensor
                    ));
                }
                _ => {
                    return Err(format!(
                        "output `{}` has shape {shape:?}; Quiver reads outputs of shape [rows] or [rows, n]",
                        o.tensor
                    ));
                }
            };
            if data.len() != rows * width {
                return Err(format!(
                    "output `{}` has shape {shape:?} but {} values",
                    o.tensor,
                    data.len()
                ));
            }
            let i = o.index.unwrap_or(0);
            columns.push(
                (0..rows)
                    .map(|r| number(data[r * width + i], o))
                    .collect::<Result<_, _>>()?,
            );
        }
        Ok(columns)
    }

    fn read_json(&self, doc: &Json, rows: usize) -> Result<Predictions, String> {
        let Some(predictions) = doc.get("predictions").and_then(Json::as_array) else {
            return Err(format!(
                "the answer has no `predictions` list{}",
                server_error(doc)
            ));
        };
        if predictions.len() != rows {
            return Err(format!(
                "the answer has {} predictions for the {rows} instances sent",
                predictions.len()
            ));
        }
        let mut columns = Vec::with_capacity(self.outputs.len());
        for o in &self.outputs {
            let mut col = Vec::with_capacity(rows);
            for p in predictions {
                let value = if o.tensor == "predictions" {
                    p
                } else {
                    p.get(&o.tensor).ok_or_else(|| {
                        format!("a prediction has no output `{}`: {}", o.tensor, shown(p))
                    })?
                };
                let v = match (o.index, value) {
                    (Some(i), Json::Array(a)) => a.get(i).ok_or_else(|| {
                        format!(
                            "output `{}` has {} values; `{}[{i}]` is out of range",
                            o.tensor,
                            a.len(),
                            o.tensor
                        )
                    })?,
                    (None, Json::Array(a)) if a.len() == 1 => &a[0],
                    (None, Json::Array(_)) => {
                        return Err(format!(
                            "output `{}` has several values per row; pick one with `{}[i]`",
                            o.tensor, o.tensor
                        ));
                    }
                    (Some(i), other) => {
                        return Err(format!(
                            "output `{}` is {}, which has no `[{i}]`",
                            o.tensor,
                            shown(other)
                        ));
                    }
                    (None, v) => v,
                };
                col.push(number(v, o)?);
            }
            columns.push(col);
        }
        Ok(columns)
    }
}

/// `: <message>` when an answer is a server's `{"error": ...}`.
fn server_error(doc: &Json) -> String {
    match doc.get("error") {
        Some(Json::String(e)) => format!(" (the server says: {e})"),
        Some(e) => format!(" (the server says: {})", shown(e)),
        None => format!(": {}", shown(doc)),
    }
}

/// A JSON value for a message, cut short.
fn shown(v: &Json) -> String {
    let t = v.to_string();
    match t.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t,
    }
}

/// The leaves of a (possibly nested) JSON array, in order.
fn flatten<'a>(v: &'a Json, out: &mut Vec<&'a Json>) {
    match v {
        Json::Array(a) => a.iter().for_each(|x| flatten(x, out)),
        other => out.push(other),
    }
}

/// A prediction as a value of `o`'s column (`None`: NULL).
fn number(v: &Json, o: &EndpointOutput) -> Result<Option<f64>, String> {
    let bad = || {
        format!(
            "output `{}` gave {}, not a {} for column `{}`",
            o.tensor,
            shown(v),
            o.data_type.sql_name(),
            o.column
        )
    };
    match v {
        // JSON has no NaN; servers write null for it.
        Json::Null => Ok(None),
        Json::Bool(b) if o.data_type == DataType::Int64 => Ok(Some(f64::from(u8::from(*b)))),
        Json::Number(n) if o.data_type == DataType::Int64 => match n.as_i64() {
            Some(i) => Ok(Some(i as f64)),
            None => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() <= 9.0e15)
                .map(Some)
                .ok_or_else(bad),
        },
        Json::Number(n) => n.as_f64().map(Some).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// One worker's endpoint `infer` step.
pub struct EndpointStep {
    plan: Arc<EndpointPlan>,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl EndpointStep {
    /// The step of one worker: its runtime and connection pool.
    pub fn open(plan: Arc<EndpointPlan>) -> Result<EndpointStep, String> {
        let runtime = runtime("infer")?;
        let client = {
            let _in = runtime.enter();
            reqwest::Client::builder()
                .pool_max_idle_per_host(plan.capacity)
                .connect_timeout(plan.policy.timeout())
                .build()
                .map_err(|e| format!("infer: cannot create the HTTP client: {e}"))?
        };
        Ok(EndpointStep {
            plan,
            runtime,
            client,
        })
    }

    /// Appends predictions for every row of `batch`.
    pub fn apply(&mut self, batch: &RecordBatch) -> Result<RecordBatch, String> {
        let p = &*self.plan;
        let rows = batch.num_rows();
        let cols = crate::infer::number_columns(batch, &p.inputs, &ArrowType::Float64)?;
        let views: Vec<_> = cols
            .iter()
            .map(|c| c.as_primitive::<Float64Type>())
            .collect();
        // JSON cannot carry NaN or infinities: such rows are not sent either.
        let complete: Vec<usize> = (0..rows)
            .filter(|&r| {
                views
                    .iter()
                    .all(|v| v.is_valid(r) && v.value(r).is_finite())
            })
            .collect();
        let c = &p.counters;
        c.rows.fetch_add(complete.len() as u64, Relaxed);
        c.skipped_rows
            .fetch_add((rows - complete.len()) as u64, Relaxed);
        let mut values: Predictions = vec![vec![None; rows]; p.outputs.len()];
        if !complete.is_empty() {
            let chunks: Vec<&[usize]> = complete.chunks(p.batch_size).collect();
            c.batches.fetch_add(chunks.len() as u64, Relaxed);
            let client = &self.client;
            // Unordered, as enrich's lookups: a slow request holds only its
            // own slot; results go back to their chunks by index.
            let mut results: Vec<(usize, Result<Predictions, String>)> = self.runtime.block_on(
                futures_util::stream::iter(chunks.iter().enumerate().map(|(i, chunk)| {
                    let mut data = Vec::with_capacity(chunk.len() * views.len());
                    for &r in *chunk {
                        data.extend(views.iter().map(|v| v.value(r)));
                    }
                    (i, p.body(&data, chunk.len()), chunk.len())
                }))
                .map(|(i, body, n)| async move { (i, call(p, client, body, n).await) })
                .buffer_unordered(p.capacity)
                .collect(),
            );
            results.sort_unstable_by_key(|(i, _)| *i);
            let results = results.into_iter().map(|(_, r)| r);
            let mut failures = crate::failures::Failures::new(p.fail_on_errors);
            for (chunk, result) in chunks.iter().zip(results) {
                match result {
                    Ok(columns) => {
                        for (out, col) in values.iter_mut().zip(columns) {
                            for (&r, v) in chunk.iter().zip(col) {
                                out[r] = v;
                            }
                        }
                    }
                    Err(e) => {
                        c.errors.fetch_add(1, Relaxed);
                        c.failed_rows.fetch_add(chunk.len() as u64, Relaxed);
                        let msg = format!(
                            "infer step `{}` ({} endpoint {}) failed for a batch of {} rows: {e}",
                            p.name,
                            p.protocol.name(),
                            p.url,
                            chunk.len()
                        );
                        failures.record(chunk.len(), msg)?;
                    }
                }
            }
            failures.warn(&p.job, "row(s) got NULL predictions");
        }
        let width = batch.num_columns() - 1;
        let mut out: Vec<ArrayRef> = batch.columns()[..width].to_vec();
        for (o, v) in p.outputs.iter().zip(values) {
            out.push(match o.data_type {
                DataType::Int64 => Arc::new(
                    v.into_iter()
                        .map(|v| v.map(|v| v as i64))
                        .collect::<Int64Array>(),
                ),
                _ => Arc::new(v.into_iter().collect::<Float64Array>()),
            });
        }
        out.push(batch.column(width).clone());
        RecordBatch::try_new(p.output.clone(), out).map_err(|e| format!("infer: {e}"))
    }
}

/// One request with its retries: per output, a value per row.
async fn call(
    p: &EndpointPlan,
    client: &reqwest::Client,
    body: String,
    rows: usize,
) -> Result<Predictions, String> {
    let c = &p.counters;
    let body = bytes::Bytes::from(body);
    p.policy
        .run([&c.requests, &c.retries, &c.timeouts], || {
            let req = client
                .post(p.url.clone())
                .headers(p.headers.clone())
                .body(body.clone());
            async move {
                let resp = req.send().await.map_err(request_error)?;
                let status = resp.status();
                let answer = resp.bytes().await.map_err(request_error)?;
                if !status.is_success() {
                    // KServe v2 servers explain errors as {"error": "..."}.
                    let why = serde_json::from_slice::<Json>(&answer)
                        .ok()
                        .and_then(|d| d.get("error").and_then(Json::as_str).map(str::to_string));
                    return Err(match why {
                        Some(w) if !LookupError::Status(status.as_u16()).retryable() => {
                            LookupError::Failed(format!("HTTP status {}: {w}", status.as_u16()))
                        }
                        _ => LookupError::Status(status.as_u16()),
                    });
                }
                let doc: Json = serde_json::from_slice(&answer)
                    .map_err(|e| LookupError::Failed(format!("the answer is not JSON ({e})")))?;
                p.read(&doc, rows).map_err(LookupError::Failed)
            }
        })
        .await
}

/// Counters of one endpoint `infer` step (shared by its workers).
#[derive(Debug, Default)]
pub struct InferCounters {
    /// Rows sent for prediction.
    pub rows: AtomicU64,
    /// Rows not sent (a NULL or non-finite input): NULL predictions.
    pub skipped_rows: AtomicU64,
    /// Batches of up to `batch_size` rows (requests without retries).
    pub batches: AtomicU64,
    /// Requests sent, retries included.
    pub requests: AtomicU64,
    /// Requests that were retries.
    pub retries: AtomicU64,
    /// Requests that timed out.
    pub timeouts: AtomicU64,
    /// Batches that failed after their retries, or whose answer did not fit.
    pub errors: AtomicU64,
    /// Rows of those batches.
    pub failed_rows: AtomicU64,
}

static REGISTRY: Registry<InferCounters> = Registry::new();

impl CounterSet for InferCounters {
    const FAMILIES: &'static [(&'static str, &'static str)] = &[
        (
            "quiver_infer_rows_total",
            "Rows an infer step sent to its model endpoint.",
        ),
        (
            "quiver_infer_skipped_rows_total",
            "Rows not sent (a NULL or non-finite input; NULL predictions).",
        ),
        (
            "quiver_infer_batches_total",
            "Batches of up to batch_size rows an infer step predicted.",
        ),
        (
            "quiver_infer_requests_total",
            "Requests an infer step sent, retries included.",
        ),
        ("quiver_infer_retries_total", "Requests that were retries."),
        ("quiver_infer_timeouts_total", "Requests that timed out."),
        (
            "quiver_infer_errors_total",
            "Batches that failed after their retries or got an answer that did not fit.",
        ),
        (
            "quiver_infer_failed_rows_total",
            "Rows of failed batches (NULL predictions with fail_on_errors: false).",
        ),
    ];
    const KIND_LABEL: &'static str = "protocol";

    fn atomics(&self) -> Vec<&AtomicU64> {
        vec![
            &self.rows,
            &self.skipped_rows,
            &self.batches,
            &self.requests,
            &self.retries,
            &self.timeouts,
            &self.errors,
            &self.failed_rows,
        ]
    }

    fn registry() -> &'static Registry<Self> {
        &REGISTRY
    }

    fn summary(&self, job: &str, step: &str, protocol: &str) -> Option<String> {
        let [
            rows,
            skipped,
            batches,
            requests,
            _,
            timeouts,
            errors,
            failed,
        ] = self.values().try_into().ok()?;
        (rows + skipped > 0).then(|| {
            format!(
                "infer {job}/{step} ({protocol}): {rows} rows in {batches} batches, {requests} requests, {skipped} skipped (NULL input), {errors} errors ({failed} rows), {timeouts} timeouts"
            )
        })
    }
}

/// Exposes every endpoint `infer` step's counters to a Prometheus registry.
pub type InferCollector = StepCollector<InferCounters>;

/// The counters of endpoint `infer` step `step` (its `name:`, by default
/// `infer`) of job `job`, if the job has been planned in this process.
pub fn infer_counters(job: &str, step: &str) -> Option<Arc<InferCounters>> {
    REGISTRY.find(job, step)
}

/// One line per endpoint `infer` step of `jobs` that saw rows.
pub fn infer_summary(jobs: &[String]) -> Vec<String> {
    REGISTRY.summary(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};
    use axum::Json as AxumJson;
    use axum::extract::State;
    use axum::routing::post;
    use quiver_spec::Located;
    use serde_json::json;
    use std::sync::Mutex;

    static NEXT: AtomicU64 = AtomicU64::new(0);

    /// The rows (by size) each request carried.
    type Seen = Arc<Mutex<Vec<usize>>>;

    /// A KServe v2 server computing `2a + b` per row, as `score` ([rows])
    /// and `pair` ([rows, 2]: `-row`, `row score`), and a plain-JSON one.
    fn server() -> (String, Seen) {
        async fn kserve(State(seen): State<Seen>, AxumJson(req): AxumJson<Json>) -> AxumJson<Json> {
            let t = &req["inputs"][0];
            assert_eq!(t["name"], json!("features"));
            assert_eq!(t["datatype"], json!("FP32"));
            let n = t["shape"][0].as_u64().unwrap() as usize;
            let data: Vec<f64> = t["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            seen.lock().unwrap().push(n);
            let score: Vec<f64> = data.chunks(2).map(|r| 2.0 * r[0] + r[1]).collect();
            let pair: Vec<f64> = score.iter().flat_map(|s| [-s, *s]).collect();
            AxumJson(json!({"model_name": "m", "outputs": [
                {"name": "score", "shape": [n], "datatype": "FP64", "data": score},
                {"name": "pair", "shape": [n, 2], "datatype": "FP32", "data": pair},
                {"name": "label", "shape": [n, 1], "datatype": "INT64", "data": score.iter().map(|s| (*s > 10.0) as i64).collect::<Vec<_>>()},
            ]}))
        }
        async fn plain(State(seen): State<Seen>, AxumJson(req): AxumJson<Json>) -> AxumJson<Json> {
            let rows = req["instances"].as_array().unwrap();
            seen.lock().unwrap().push(rows.len());
            let p: Vec<Json> = rows
                .iter()
                .map(|r| json!({"score": 2.0 * r[0].as_f64().unwrap() + r[1].as_f64().unwrap(), "label": 1}))
                .collect();
            AxumJson(json!({"predictions": p}))
        }
        async fn short(AxumJson(_): AxumJson<Json>) -> AxumJson<Json> {
            AxumJson(
                json!({"outputs": [{"name": "score", "shape": [1], "datatype": "FP32", "data": [1.0]}]}),
            )
        }
        let seen = Seen::default();
        let app = axum::Router::new()
            .route("/v2/models/m/infer", post(kserve))
            .route("/plain", post(plain))
            .route("/short", post(short))
            .with_state(seen.clone());
        (crate::serve_for_test(app), seen)
    }

    fn step(
        url: &str,
        protocol: InferProtocol,
        outputs: &[(&str, Option<usize>, DataType)],
        fail: bool,
    ) -> EndpointStep {
        let spec = InferEndpoint {
            // Each step its own counters.
            name: Located::new(
                format!("t{}", NEXT.fetch_add(1, Relaxed)),
                Default::default(),
            ),
            url: Located::new(url.to_string(), Default::default()),
            protocol,
            input_name: "features".into(),
            headers: Vec::new(),
            batch_size: 256,
            capacity: 2,
            timeout: 2000,
            retries: 0,
            backoff: 1,
            fail_on_errors: fail,
        };
        let mut fields = vec![
            Field::new("a", ArrowType::Float64, true),
            Field::new("b", ArrowType::Int64, true),
        ];
        let outputs: Vec<EndpointOutput> = outputs
            .iter()
            .map(|(t, i, ty)| EndpointOutput {
                column: format!("{t}{i:?}"),
                tensor: t.to_string(),
                index: *i,
                data_type: *ty,
            })
            .collect();
        for o in &outputs {
            fields.push(Field::new(&o.column, o.data_type.to_arrow(), true));
        }
        fields.push(Field::new("__time", ArrowType::Int64, false));
        let plan = EndpointPlan::new(
            "infer_http_unit",
            &spec,
            reqwest::Url::parse(url).unwrap(),
            HeaderMap::new(),
            vec![0, 1],
            outputs,
            Arc::new(Schema::new(fields)),
        );
        EndpointStep::open(Arc::new(plan)).unwrap()
    }

    /// `n` rows `a = i / 4`, `b = i % 7`, with `a` NULL every 10th row.
    fn batch(n: usize) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", ArrowType::Float64, true),
            Field::new("b", ArrowType::Int64, true),
            Field::new("__time", ArrowType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(
                    (0..n)
                        .map(|i| (i % 10 != 3).then_some(i as f64 / 4.0))
                        .collect::<Float64Array>(),
                ),
                Arc::new((0..n).map(|i| Some((i % 7) as i64)).collect::<Int64Array>()),
                Arc::new(Int64Array::from_iter_values(0..n as i64)),
            ],
        )
        .unwrap()
    }

    fn expected(i: usize) -> Option<f64> {
        (i % 10 != 3).then(|| 2.0 * (i as f64 / 4.0) + (i % 7) as f64)
    }

    #[test]
    fn kserve_v2_batches_and_places_predictions() {
        let (addr, seen) = server();
        let mut s = step(
            &format!("http://{addr}/v2/models/m/infer"),
            InferProtocol::KserveV2,
            &[
                ("score", None, DataType::Float64),
                ("pair", Some(1), DataType::Float64),
                ("label", None, DataType::Int64),
            ],
            true,
        );
        let out = s.apply(&batch(1000)).unwrap();
        let sent = 1000 - 100;
        // ceil(900 / 256) requests, every row sent once.
        let mut sizes = seen.lock().unwrap().clone();
        sizes.sort();
        assert_eq!(sizes, vec![900 - 3 * 256, 256, 256, 256]);
        let score = out.column(2).as_primitive::<Float64Type>();
        let pair = out.column(3).as_primitive::<Float64Type>();
        let label = out.column(4).as_primitive::<arrow::datatypes::Int64Type>();
        for i in 0..1000 {
            match expected(i) {
                None => assert!(
                    score.is_null(i) && pair.is_null(i) && label.is_null(i),
                    "{i}"
                ),
                Some(e) => {
                    assert_eq!(score.value(i), e, "{i}");
                    // FP32 on the wire is still read at full width.
                    assert_eq!(pair.value(i), e, "{i}");
                    assert_eq!(label.value(i), (e > 10.0) as i64, "{i}");
                }
            }
        }
        let c = &s.plan.counters;
        assert_eq!(c.rows.load(Relaxed), sent);
        assert_eq!(c.skipped_rows.load(Relaxed), 100);
        assert_eq!(c.batches.load(Relaxed), 4);
        assert_eq!(c.requests.load(Relaxed), 4);
    }

    #[test]
    fn plain_json_rows() {
        let (addr, seen) = server();
        let mut s = step(
            &format!("http://{addr}/plain"),
            InferProtocol::Json,
            &[
                ("score", None, DataType::Float64),
                ("label", None, DataType::Int64),
            ],
            true,
        );
        let out = s.apply(&batch(30)).unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![27]);
        let score = out.column(2).as_primitive::<Float64Type>();
        for i in 0..30 {
            assert_eq!(
                score.is_valid(i).then(|| score.value(i)),
                expected(i),
                "{i}"
            );
        }
    }

    #[test]
    fn answers_that_do_not_fit_are_errors() {
        let (addr, _) = server();
        let url = format!("http://{addr}/short");
        let mut strict = step(
            &url,
            InferProtocol::KserveV2,
            &[("score", None, DataType::Float64)],
            true,
        );
        let e = strict.apply(&batch(5)).unwrap_err();
        assert!(
            e.contains("output `score` has 1 rows for the 4 sent (1 attempt)"),
            "{e}"
        );
        assert!(e.contains("infer step `t"), "{e}");
        let mut lenient = step(
            &url,
            InferProtocol::KserveV2,
            &[("score", None, DataType::Float64)],
            false,
        );
        let out = lenient.apply(&batch(5)).unwrap();
        assert_eq!(out.column(2).null_count(), 5);
        assert_eq!(lenient.plan.counters.errors.load(Relaxed), 1);
        assert_eq!(lenient.plan.counters.failed_rows.load(Relaxed), 4);
        // A float output for a BIGINT column.
        let mut typed = step(
            &format!("http://{addr}/v2/models/m/infer"),
            InferProtocol::KserveV2,
            &[("score", None, DataType::Int64)],
            true,
        );
        let e = typed.apply(&batch(5)).unwrap_err();
        assert!(
            e.contains("output `score` is FP64, and column `scoreNone` is declared bigint"),
            "{e}"
        );
        let mut unknown = step(
            &format!("http://{addr}/v2/models/m/infer"),
            InferProtocol::KserveV2,
            &[("nope", None, DataType::Float64)],
            true,
        );
        let e = unknown.apply(&batch(5)).unwrap_err();
        assert!(
            e.contains("the answer has no output `nope` (outputs: score, pair, label)"),
            "{e}"
        );
        let mut wide = step(
            &format!("http://{addr}/v2/models/m/infer"),
            InferProtocol::KserveV2,
            &[("pair", None, DataType::Float64)],
            true,
        );
        let e = wide.apply(&batch(5)).unwrap_err();
        assert!(e.contains("pick one with `pair[i]`"), "{e}");
        // The plain protocol: a missing list, a wrong count.
        let mut plain = step(
            &url,
            InferProtocol::Json,
            &[("predictions", None, DataType::Float64)],
            true,
        );
        let e = plain.apply(&batch(5)).unwrap_err();
        assert!(e.contains("the answer has no `predictions` list"), "{e}");
    }

    #[test]
    fn request_bodies() {
        let s = step(
            "http://127.0.0.1:9/x",
            InferProtocol::KserveV2,
            &[
                ("p", Some(1), DataType::Float64),
                ("p", Some(0), DataType::Float64),
            ],
            true,
        );
        let body: Json = serde_json::from_str(&s.plan.body(&[0.1, 3.0, 2.5, 4.0], 2)).unwrap();
        assert_eq!(
            body,
            json!({"inputs": [{"name": "features", "shape": [2, 2], "datatype": "FP32", "data": [0.1, 3, 2.5, 4]}],
                   "outputs": [{"name": "p"}]})
        );
        let j = step(
            "http://127.0.0.1:9/x",
            InferProtocol::Json,
            &[("predictions", None, DataType::Float64)],
            true,
        );
        let body: Json = serde_json::from_str(&j.plan.body(&[0.1, 3.0, 2.5, 4.0], 2)).unwrap();
        assert_eq!(body, json!({"instances": [[0.1, 3], [2.5, 4]]}));
        // Nested data is read like flat data; null is NULL.
        let doc = json!({"outputs": [{"name": "p", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, null]]}]});
        assert_eq!(
            s.plan.read(&doc, 2).unwrap(),
            vec![vec![Some(2.0), None], vec![Some(1.0), Some(3.0)]]
        );
        let e = s
            .plan
            .read(&json!({"error": "model not ready"}), 2)
            .unwrap_err();
        assert!(e.contains("the server says: model not ready"), "{e}");
    }
}
