//! `enrich`: per row, a lookup in an external source (an HTTP endpoint, a
//! Redis server, a Postgres query) whose answer fills new columns.
//!
//! With `ordered: true` (the default) the chain runs synchronously on each
//! batch of rows the sink operator releases, so the concurrency is inside
//! a batch: each worker's step owns a small single-threaded tokio runtime
//! and runs the batch's lookups on it, at most `capacity` at once, each
//! attempt bounded by `timeout`, retried with exponential backoff when the
//! failure may pass. Rows with the same variables share one lookup, and a
//! TTL cache (shared by the step's workers) answers repeats across batches.
//!
//! Order: lookups finish in any order, and a slot is refilled as soon as
//! its lookup ends, so a slow lookup holds one slot and never the others
//! (Dagger's ordered async I/O stops starting lookups `capacity` behind a
//! slow one). The batch is returned when all its lookups are done, its
//! rows in the order they came (event time); a slow lookup delays the
//! release of its batch, and the worker, by at most `timeout × (retries +
//! 1)` plus the backoff.
//!
//! With `ordered: false` ([`UnorderedEnrich`], `unordered.rs`) the lookups
//! run off the worker and each row leaves as soon as its own lookup is
//! done: a slow lookup delays only its rows. The historical files and the
//! online store's contents are the same as with `ordered: true`; only the
//! order and time at which rows reach the online store and Kafka depend
//! on the lookups.
//!
//! What the answers are does depend on the source at the time of the
//! lookup (and on the cache): a backfill and a live run give identical
//! output only if the looked-up data did not change in between.

mod cache;
pub(crate) mod http;
pub(crate) mod metrics;
mod postgres;
mod redis;
#[cfg(test)]
mod tests;
mod unordered;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
};
use arrow::datatypes::SchemaRef;
use futures_util::StreamExt;
use hashbrown::HashMap;
use quiver_dataflow::chunk::with_time;
use quiver_spec::{EnrichSource, EnrichSpec, Located, split_pattern};
use quiver_types::{DataType, Diagnostic, Diagnostics, Field, Schema, Value};
use serde_json::Value as Json;
use serde_json_path::JsonPath;

pub use cache::{Answer, TtlCache};
pub use metrics::{EnrichCollector, EnrichCounters, enrich_counters, enrich_summary};
pub use unordered::UnorderedEnrich;

use metrics::register;

/// Why one attempt of a lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The attempt took longer than `timeout`.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The source could not be reached (connection refused or dropped).
    #[error("cannot reach the source: {0}")]
    Unreachable(String),
    /// An HTTP status other than 2xx and 404.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The source answered, but not usefully (an error reply, an answer
    /// that is not JSON, a value of the wrong type…).
    #[error("{0}")]
    Failed(String),
}

impl LookupError {
    /// Whether trying again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            LookupError::Timeout(_) | LookupError::Unreachable(_) => true,
            LookupError::Status(s) => *s == 429 || *s >= 500,
            LookupError::Failed(_) => false,
        }
    }
}

/// A request pattern: literal pieces around `%s` placeholders.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pieces: Vec<String>,
}

impl Template {
    fn new(text: &str) -> Template {
        Template {
            pieces: split_pattern(text),
        }
    }

    /// Placeholders in the pattern.
    fn holes(&self) -> usize {
        self.pieces.len() - 1
    }

    /// The pattern with each placeholder replaced by `fill` of the next value.
    fn render(&self, values: &[Value], fill: impl Fn(&Value, &mut String)) -> String {
        let mut out = self.pieces[0].clone();
        for (v, piece) in values.iter().zip(&self.pieces[1..]) {
            fill(v, &mut out);
            out.push_str(piece);
        }
        out
    }
}

/// A variable's plain text (a Redis key, before percent-encoding a URL).
pub(crate) fn text(v: &Value, out: &mut String) {
    use std::fmt::Write;
    let _ = match v {
        Value::String(s) => {
            out.push_str(s);
            Ok(())
        }
        Value::Int64(i) => write!(out, "{i}"),
        Value::Float64(f) => write!(out, "{f}"),
        Value::Bool(b) => write!(out, "{b}"),
        other => write!(out, "{other}"),
    };
}

/// A variable as a JSON literal (an HTTP body): strings quoted and escaped.
pub(crate) fn json_literal(v: &Value, out: &mut String) {
    let j = match v {
        Value::String(s) => Json::String(s.clone()),
        Value::Int64(i) => Json::from(*i),
        Value::Float64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Bool(b) => Json::Bool(*b),
        _ => Json::Null,
    };
    out.push_str(&j.to_string());
}

/// Where an output's value is in an answer.
#[derive(Debug, Clone)]
enum OutputPath {
    /// A top-level field (a hash field, a result column, a JSON key).
    Field(String),
    /// A JSONPath query.
    Json(JsonPath),
}

/// One new column.
#[derive(Debug, Clone)]
struct Output {
    name: String,
    path: OutputPath,
    data_type: DataType,
}

/// Where a step looks values up, planned.
#[derive(Clone)]
pub(crate) enum SourcePlan {
    Http(Arc<http::HttpPlan>),
    Redis(Arc<redis::RedisPlan>),
    Postgres(Arc<postgres::PgPlan>),
}

impl SourcePlan {
    fn kind(&self) -> &'static str {
        match self {
            SourcePlan::Http(_) => "http",
            SourcePlan::Redis(_) => "redis",
            SourcePlan::Postgres(_) => "postgres",
        }
    }
}

/// An `enrich` step, planned: shared by the workers' steps.
pub struct EnrichPlan {
    job: String,
    name: String,
    source: SourcePlan,
    variables: Vec<usize>,
    variable_names: Vec<String>,
    outputs: Vec<Output>,
    capacity: usize,
    policy: Policy,
    fail_on_errors: bool,
    /// `false`: rows leave as their lookups finish ([`UnorderedEnrich`]).
    pub(crate) ordered: bool,
    cache: Option<Mutex<TtlCache>>,
    counters: Arc<EnrichCounters>,
    output: SchemaRef,
}

/// Plans `spec` for job `job` over `schema` (the columns at this point of
/// the chain), adding its new columns to `schema` and `masked`.
pub(crate) fn plan(
    spec: &EnrichSpec,
    job: &str,
    schema: &mut Schema,
    masked: &mut Vec<bool>,
    errors: &mut Diagnostics,
) -> Option<Arc<EnrichPlan>> {
    let before = errors.0.len();
    let mut variables = Vec::new();
    for c in spec.source.variables() {
        let Some(i) = crate::plan::column(schema, c, "lookup variable", errors) else {
            continue;
        };
        let ty = schema.fields[i].data_type;
        if !matches!(
            ty,
            DataType::Int64 | DataType::Float64 | DataType::Bool | DataType::String
        ) {
            errors.push(
                Diagnostic::at(
                    c.pos,
                    format!(
                        "lookup variable `{}` is {}; lookups take BIGINT, DOUBLE, BOOLEAN or VARCHAR values",
                        c.value,
                        ty.sql_name()
                    ),
                )
                .with_help(format!(
                    "convert it in the SQL, e.g. CAST({} AS VARCHAR)",
                    c.value
                )),
            );
            continue;
        }
        variables.push(i);
    }
    let source = match &spec.source {
        EnrichSource::Http(h) => {
            http::plan(h, spec.capacity, spec.timeout, errors).map(SourcePlan::Http)
        }
        EnrichSource::Redis(r) => redis::plan(r, errors).map(SourcePlan::Redis),
        EnrichSource::Postgres(p) => postgres::plan(p, errors).map(SourcePlan::Postgres),
    };
    let mut outputs = Vec::new();
    for o in &spec.outputs {
        if schema.index_of(&o.column.value).is_some()
            || outputs.iter().any(|x: &Output| x.name == o.column.value)
        {
            errors.push(
                Diagnostic::at(
                    o.column.pos,
                    format!("column `{}` already exists", o.column.value),
                )
                .with_help("give the looked-up value another name"),
            );
            continue;
        }
        let Some(path) = output_path(&o.path, errors) else {
            continue;
        };
        outputs.push(Output {
            name: o.column.value.clone(),
            path,
            data_type: o.data_type,
        });
    }
    if errors.0.len() > before {
        return None;
    }
    for o in &outputs {
        schema.fields.push(Field::new(o.name.clone(), o.data_type));
        masked.push(false);
    }
    let source = source?;
    Some(Arc::new(EnrichPlan {
        job: job.to_string(),
        name: spec.name.value.clone(),
        counters: register(job, &spec.name.value, source.kind()),
        source,
        variable_names: spec
            .source
            .variables()
            .iter()
            .map(|v| v.value.clone())
            .collect(),
        variables,
        outputs,
        capacity: spec.capacity.max(1),
        policy: Policy::new(spec.timeout, spec.retries, spec.backoff),
        fail_on_errors: spec.fail_on_errors,
        ordered: spec.ordered,
        cache: spec.cache_ttl.map(|ttl| {
            Mutex::new(TtlCache::new(
                Duration::from_millis(ttl as u64),
                spec.cache_size,
            ))
        }),
        output: with_time(schema),
    }))
}

fn output_path(p: &Located<String>, errors: &mut Diagnostics) -> Option<OutputPath> {
    if !p.value.starts_with('$') {
        return Some(OutputPath::Field(p.value.clone()));
    }
    match JsonPath::parse(&p.value) {
        Ok(j) => Some(OutputPath::Json(j)),
        Err(e) => {
            errors.push(
                Diagnostic::at(p.pos, format!("`{}` is not a JSONPath: {e}", p.value)).with_help(
                    "e.g. $.tier, $.customer.segments[0], $['field name']; or a plain field name",
                ),
            );
            None
        }
    }
}

/// The value at `path` of an answer, as `ty`.
fn extract(doc: &Json, o: &Output) -> Result<Value, LookupError> {
    let node = match &o.path {
        OutputPath::Field(f) => doc.get(f),
        OutputPath::Json(p) => {
            let nodes = p.query(doc).all();
            if nodes.len() > 1 {
                return Err(LookupError::Failed(format!(
                    "the path of `{}` matches {} values; it must match at most one",
                    o.name,
                    nodes.len()
                )));
            }
            nodes.first().copied()
        }
    };
    let Some(node) = node else {
        return Ok(Value::Null);
    };
    convert(node, o.data_type).ok_or_else(|| {
        let shown: String = node.to_string().chars().take(80).collect();
        LookupError::Failed(format!(
            "`{}` is {shown}, not a {}",
            o.name,
            o.data_type.sql_name()
        ))
    })
}

/// A JSON value as a column value (`None` when it does not fit).
fn convert(node: &Json, ty: DataType) -> Option<Value> {
    Some(match (node, ty) {
        (Json::Null, _) => Value::Null,
        (Json::String(s), DataType::String) => Value::String(s.clone()),
        (other, DataType::String) => Value::String(other.to_string()),
        (Json::Number(n), DataType::Int64) => Value::Int64(match n.as_i64() {
            Some(i) => i,
            None => {
                let f = n.as_f64()?;
                if f.fract() != 0.0 || f.abs() > 9.0e15 {
                    return None;
                }
                f as i64
            }
        }),
        (Json::String(s), DataType::Int64) => Value::Int64(s.trim().parse().ok()?),
        (Json::Number(n), DataType::Float64) => Value::Float64(n.as_f64()?),
        (Json::String(s), DataType::Float64) => Value::Float64(s.trim().parse().ok()?),
        (Json::Bool(b), DataType::Bool) => Value::Bool(*b),
        (Json::String(s), DataType::Bool) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" => Value::Bool(true),
            "false" | "f" | "0" | "no" => Value::Bool(false),
            _ => return None,
        },
        (Json::Number(n), DataType::Bool) => match n.as_i64()? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            _ => return None,
        },
        _ => return None,
    })
}

/// A worker's connection to the source.
enum Client {
    Http(http::HttpClient),
    Redis(redis::RedisClient),
    Postgres(postgres::PgClient),
}

impl Client {
    /// A client for `plan`'s source, made within `runtime` (connections
    /// open lazily, on it).
    fn open(plan: &EnrichPlan, runtime: &tokio::runtime::Runtime) -> Result<Client, String> {
        let _in = runtime.enter();
        Ok(match &plan.source {
            SourcePlan::Http(h) => Client::Http(http::HttpClient::new(h.clone())?),
            SourcePlan::Redis(r) => Client::Redis(redis::RedisClient::new(r.clone())),
            SourcePlan::Postgres(p) => Client::Postgres(postgres::PgClient::new(p.clone())),
        })
    }

    async fn fetch(&self, vars: &[Value]) -> Result<Option<Json>, LookupError> {
        match self {
            Client::Http(c) => c.fetch(vars).await,
            Client::Redis(c) => c.fetch(vars).await,
            Client::Postgres(c) => c.fetch(vars).await,
        }
    }
}

/// One worker's `enrich` step.
pub struct EnrichStep {
    plan: Arc<EnrichPlan>,
    runtime: tokio::runtime::Runtime,
    client: Client,
}

impl EnrichStep {
    /// The step of one worker: its runtime and (lazily connected) client.
    pub fn open(plan: Arc<EnrichPlan>) -> Result<EnrichStep, String> {
        let runtime = runtime("enrich")?;
        let client = Client::open(&plan, &runtime)?;
        Ok(EnrichStep {
            plan,
            runtime,
            client,
        })
    }

    /// Looks up every row's values and appends the new columns.
    pub fn apply(&mut self, batch: &RecordBatch) -> Result<RecordBatch, String> {
        let p = &*self.plan;
        let req = p.requests(batch);
        let mut answers: Vec<Option<Answer>> = vec![None; req.list.len()];
        let misses = p.answer_from_cache(&req, &mut answers);
        if !misses.is_empty() {
            // Unordered within the batch: a slot is refilled as soon as its
            // lookup ends, so a slow one holds only its own slot (ordered
            // buffering would stop starting lookups `capacity` behind it).
            // The answers are put back by request below.
            let mut results: Vec<(usize, Result<Answer, String>)> = self.runtime.block_on(
                futures_util::stream::iter(misses.iter().copied())
                    .map(|i| {
                        let client = &self.client;
                        let vars = req.list[i].1.as_slice();
                        async move { (i, lookup(p, client, vars).await) }
                    })
                    .buffer_unordered(p.capacity)
                    .collect(),
            );
            // Report the first failure by row order, not by finishing order.
            results.sort_unstable_by_key(|(i, _)| *i);
            let mut failures = crate::failures::Failures::new(p.fail_on_errors);
            let mut cache = p.lock_cache();
            let now = Instant::now();
            for (i, result) in results {
                answers[i] = p.settle(&req.list[i], result, &mut failures, &mut cache, now)?;
            }
            failures.warn(&p.job, FAILED);
        }
        p.with_columns(batch, &req.row, &answers)
    }
}

/// What a batch's failed lookups did, for the warning.
pub(crate) const FAILED: &str = "lookup(s) failed, their rows get NULL";

/// A batch's distinct lookups and each row's.
pub(crate) struct Requests {
    /// Per distinct lookup: its cache key and variables.
    pub(crate) list: Vec<(String, Vec<Value>)>,
    /// Per row, its lookup; `None` when a variable is NULL (no lookup; the
    /// new columns are NULL).
    pub(crate) row: Vec<Option<usize>>,
}

impl EnrichPlan {
    /// The lookups `batch` needs: rows with the same variables share one.
    pub(crate) fn requests(&self, batch: &RecordBatch) -> Requests {
        let rows = batch.num_rows();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut list: Vec<(String, Vec<Value>)> = Vec::new();
        let mut row = Vec::with_capacity(rows);
        for r in 0..rows {
            let vals: Vec<Value> = self
                .variables
                .iter()
                .map(|&i| Value::from_array(batch.column(i).as_ref(), r))
                .collect();
            if vals.iter().any(Value::is_null) {
                row.push(None);
                continue;
            }
            let key = cache_key(&vals);
            let next = list.len();
            let i = *index.entry(key.clone()).or_insert(next);
            if i == next {
                list.push((key, vals));
            }
            row.push(Some(i));
        }
        Requests { list, row }
    }

    /// Fills `answers` from the cache and returns the lookups it could not
    /// answer; counts the rows' lookups and the cache's hits.
    pub(crate) fn answer_from_cache(
        &self,
        req: &Requests,
        answers: &mut [Option<Answer>],
    ) -> Vec<usize> {
        let mut misses = Vec::new();
        match &self.cache {
            Some(cache) => {
                let now = Instant::now();
                let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
                for (i, (key, _)) in req.list.iter().enumerate() {
                    match c.get(key, now) {
                        Some(a) => answers[i] = Some(a),
                        None => misses.push(i),
                    }
                }
            }
            None => misses.extend(0..req.list.len()),
        }
        use std::sync::atomic::Ordering::Relaxed;
        let looked_up = req.row.iter().flatten().count() as u64;
        self.counters.lookups.fetch_add(looked_up, Relaxed);
        self.counters
            .cache_hits
            .fetch_add(looked_up.saturating_sub(misses.len() as u64), Relaxed);
        misses
    }

    /// The cache, locked, if the step has one.
    pub(crate) fn lock_cache(&self) -> Option<std::sync::MutexGuard<'_, TtlCache>> {
        self.cache
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Takes the result of the lookup `(key, vars)`: an answer is cached
    /// and returned; a failure is counted and recorded in `failures` (an
    /// error when the step fails on errors), and its rows get NULL.
    pub(crate) fn settle(
        &self,
        (key, vars): &(String, Vec<Value>),
        result: Result<Answer, String>,
        failures: &mut crate::failures::Failures,
        cache: &mut Option<std::sync::MutexGuard<'_, TtlCache>>,
        now: Instant,
    ) -> Result<Option<Answer>, String> {
        match result {
            Ok(a) => {
                if let Some(c) = cache.as_mut() {
                    c.insert(key.clone(), a.clone(), now);
                }
                Ok(Some(a))
            }
            Err(e) => {
                self.counters
                    .errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let msg = format!(
                    "enrich step `{}` ({}) could not look up {}: {e}",
                    self.name,
                    self.source.kind(),
                    describe(&self.variable_names, vars)
                );
                failures.record(1, msg)?;
                Ok(None)
            }
        }
    }

    /// `batch` followed by the new columns, row `r`'s from
    /// `answers[row_request[r]]`.
    pub(crate) fn with_columns(
        &self,
        batch: &RecordBatch,
        row_request: &[Option<usize>],
        answers: &[Option<Answer>],
    ) -> Result<RecordBatch, String> {
        let width = batch.num_columns() - 1;
        let mut out: Vec<ArrayRef> = batch.columns()[..width].to_vec();
        for (j, o) in self.outputs.iter().enumerate() {
            let values = row_request
                .iter()
                .map(|r| r.and_then(|i| answers[i].as_ref()).map(|a| &a[j]));
            out.push(build_column(o.data_type, values, batch.num_rows()));
        }
        out.push(batch.column(width).clone());
        RecordBatch::try_new(self.output.clone(), out).map_err(|e| format!("enrich: {e}"))
    }
}

/// One lookup with its retries: the answer as output values.
async fn lookup(p: &EnrichPlan, client: &Client, vars: &[Value]) -> Result<Answer, String> {
    let c = &p.counters;
    p.policy
        .run([&c.requests, &c.retries, &c.timeouts], || async {
            client.fetch(vars).await.and_then(|doc| answer(p, doc))
        })
        .await
}

/// How a call to an outside service is attempted: each attempt bounded by
/// `timeout`, failures that may pass retried after a backoff doubled each
/// time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    timeout: Duration,
    retries: u32,
    backoff: Duration,
}

impl Policy {
    /// From a job file's `timeout` and `backoff` (ms) and `retries`.
    pub(crate) fn new(timeout: i64, retries: u32, backoff: i64) -> Policy {
        Policy {
            timeout: Duration::from_millis(timeout.max(1) as u64),
            retries,
            backoff: Duration::from_millis(backoff.max(0) as u64),
        }
    }

    /// The time allowed for one attempt.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries
    /// are spent, counting `[requests, retries, timeouts]`; the error says
    /// how many attempts were made.
    pub(crate) async fn run<T, F, Fut>(
        self,
        [requests, retried, timeouts]: [&AtomicU64; 3],
        mut attempt: F,
    ) -> Result<T, String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, LookupError>>,
    {
        use std::sync::atomic::Ordering::Relaxed;
        let mut n = 0u32;
        loop {
            requests.fetch_add(1, Relaxed);
            if n > 0 {
                retried.fetch_add(1, Relaxed);
            }
            let err = match tokio::time::timeout(self.timeout, attempt()).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => e,
                Err(_) => {
                    timeouts.fetch_add(1, Relaxed);
                    LookupError::Timeout(self.timeout)
                }
            };
            if err.retryable() && n < self.retries {
                tokio::time::sleep(self.backoff.saturating_mul(1 << n.min(16))).await;
                n += 1;
                continue;
            }
            let tries = n + 1;
            return Err(format!(
                "{err} ({tries} attempt{})",
                if tries == 1 { "" } else { "s" }
            ));
        }
    }
}

/// A step's own single-threaded runtime, on which a batch's calls run.
pub(crate) fn runtime(step: &str) -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("{step}: cannot start a runtime: {e}"))
}

/// The output values of an answer (all NULL when nothing was found).
fn answer(p: &EnrichPlan, doc: Option<Json>) -> Result<Answer, LookupError> {
    let Some(doc) = doc else {
        p.counters
            .not_found
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(Arc::new(vec![Value::Null; p.outputs.len()]));
    };
    let values = p
        .outputs
        .iter()
        .map(|o| extract(&doc, o))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(values))
}

/// A request's identity: its variables, typed.
fn cache_key(vals: &[Value]) -> String {
    let mut s = String::new();
    for v in vals {
        let tag = match v {
            Value::Int64(_) => 'i',
            Value::Float64(_) => 'f',
            Value::Bool(_) => 'b',
            _ => 's',
        };
        let mut t = String::new();
        text(v, &mut t);
        // Length-prefixed, so no text can pass for two values.
        s.push(tag);
        s.push_str(&t.len().to_string());
        s.push(':');
        s.push_str(&t);
    }
    s
}

/// `customer_id=42, region='eu'` for messages.
fn describe(names: &[String], vals: &[Value]) -> String {
    if names.is_empty() {
        return "(no variables)".to_string();
    }
    names
        .iter()
        .zip(vals)
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn build_column<'a>(
    ty: DataType,
    values: impl Iterator<Item = Option<&'a Value>>,
    rows: usize,
) -> ArrayRef {
    match ty {
        DataType::Int64 => {
            let mut b = Int64Builder::with_capacity(rows);
            for v in values {
                b.append_option(match v {
                    Some(Value::Int64(i)) => Some(*i),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(rows);
            for v in values {
                b.append_option(match v {
                    Some(Value::Float64(f)) => Some(*f),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Bool => {
            let mut b = BooleanBuilder::with_capacity(rows);
            for v in values {
                b.append_option(match v {
                    Some(Value::Bool(x)) => Some(*x),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        _ => {
            let mut b = StringBuilder::with_capacity(rows, rows * 8);
            for v in values {
                match v {
                    Some(Value::String(s)) => b.append_value(s),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    fn out(path: &str, ty: DataType) -> Output {
        let mut e = Diagnostics::new();
        Output {
            name: "c".into(),
            path: output_path(&Located::new(path.to_string(), Default::default()), &mut e).unwrap(),
            data_type: ty,
        }
    }

    #[test]
    fn templates_fill_in_order() {
        let t = Template::new("http://h/c/%s/o/%s?x=%%1");
        assert_eq!(t.holes(), 2);
        let vals = [Value::Int64(7), Value::String("a b".into())];
        assert_eq!(t.render(&vals, text), "http://h/c/7/o/a b?x=%1");
        let b = Template::new("{\"id\": %s, \"name\": %s}");
        assert_eq!(
            b.render(&vals, json_literal),
            "{\"id\": 7, \"name\": \"a b\"}"
        );
        let evil = [Value::Int64(1), Value::String("\", \"admin\": true".into())];
        let j: Json = serde_json::from_str(&b.render(&evil, json_literal)).unwrap();
        assert_eq!(j["name"], json!("\", \"admin\": true"));
        assert!(j.get("admin").is_none());
    }

    #[test]
    fn extracts_and_converts() {
        let doc = json!({"tier": "3", "seg": "gold", "score": 0.5, "vip": "true",
                         "nested": {"a": [10, 20]}, "obj": {"k": 1}});
        assert_eq!(
            extract(&doc, &out("tier", DataType::Int64)).unwrap(),
            Value::Int64(3)
        );
        assert_eq!(
            extract(&doc, &out("$.nested.a[1]", DataType::Int64)).unwrap(),
            Value::Int64(20)
        );
        assert_eq!(
            extract(&doc, &out("$.score", DataType::Float64)).unwrap(),
            Value::Float64(0.5)
        );
        assert_eq!(
            extract(&doc, &out("vip", DataType::Bool)).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            extract(&doc, &out("missing", DataType::String)).unwrap(),
            Value::Null
        );
        assert_eq!(
            extract(&doc, &out("obj", DataType::String)).unwrap(),
            Value::String("{\"k\":1}".into())
        );
        let e = extract(&doc, &out("seg", DataType::Int64)).unwrap_err();
        assert_eq!(e.to_string(), "`c` is \"gold\", not a BIGINT");
        assert!(!e.retryable());
        let e = extract(&doc, &out("$.nested.a[*]", DataType::Int64)).unwrap_err();
        assert!(e.to_string().contains("matches 2 values"), "{e}");
    }

    #[test]
    fn retryable_failures() {
        assert!(LookupError::Timeout(Duration::from_millis(1)).retryable());
        assert!(LookupError::Unreachable("x".into()).retryable());
        assert!(LookupError::Status(503).retryable());
        assert!(LookupError::Status(429).retryable());
        assert!(!LookupError::Status(400).retryable());
        assert!(!LookupError::Failed("x".into()).retryable());
    }

    #[test]
    fn cache_keys_are_typed() {
        assert_ne!(
            cache_key(&[Value::Int64(1)]),
            cache_key(&[Value::String("1".into())])
        );
        assert_ne!(
            cache_key(&[Value::String("a".into()), Value::String("b".into())]),
            cache_key(&[Value::String("a1:sb".into())])
        );
    }
}
