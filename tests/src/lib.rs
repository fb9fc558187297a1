//! Helpers shared by Quiver's end-to-end tests: running the CLI in-process
//! on a scratch deployment, and reading back what it wrote.

pub mod kafka;
pub mod proto;

use std::path::{Path, PathBuf};

use arrow::array::{Float64Array, Int64Array, RecordBatch, TimestampMillisecondArray};
use arrow::datatypes::{DataType as ArrowType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use quiver_types::time::{format_date, format_timestamp};
use quiver_types::{DataType, Value};
use serde_json::{Value as Json, json};

/// A scratch deployment: a temporary directory with a `quiver.yaml`
/// pointing the stores inside it.
pub struct Scratch {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
}

impl Scratch {
    /// A new scratch deployment.
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("quiver.yaml"),
            "online_store: embedded://online\nhistorical_store: historical\n",
        )
        .expect("write quiver.yaml");
        Scratch { dir }
    }

    /// The deployment file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("quiver.yaml")
    }

    /// Where a job's historical dataset lives.
    pub fn dataset(&self, job: &str) -> PathBuf {
        self.dir.path().join("historical").join(job)
    }

    /// `quiver backfill JOB --workers N`, without progress output.
    pub fn backfill(&self, jf: &Path, workers: &str) -> Result<(), quiver_cli::Failure> {
        let jf = jf.to_str().expect("utf-8 path");
        self.quiver(&["backfill", jf, "--no-progress", "--workers", workers])
    }

    /// A job's historical rows in file order, as column → value maps.
    pub fn rows(&self, job: &str) -> Vec<std::collections::HashMap<String, Json>> {
        let (cols, rows) = read_rows(&self.dataset(job));
        rows.into_iter()
            .map(|r| cols.iter().map(|c| c.0.clone()).zip(r).collect())
            .collect()
    }

    /// Runs `quiver <args...> --config <scratch>`.
    pub fn quiver(&self, args: &[&str]) -> Result<(), quiver_cli::Failure> {
        let config = self.config().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--config", &config]);
        quiver(&all)
    }
}

/// Runs `quiver <args...>` in-process.
pub fn quiver(args: &[&str]) -> Result<(), quiver_cli::Failure> {
    quiver_cli::run_args(std::iter::once("quiver").chain(args.iter().copied()))
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// Every Parquet file under `dir`, in path order.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// All batches of a Parquet file.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).expect("open parquet");
    ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

/// Rows of a dataset directory as JSON values (the golden format), with the
/// column names and types.
pub fn read_rows(dir: &Path) -> (Vec<(String, String)>, Vec<Vec<Json>>) {
    let mut cols = Vec::new();
    let mut rows = Vec::new();
    for f in parquet_files(dir) {
        for b in read_parquet(&f) {
            if cols.is_empty() {
                cols = b
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| {
                        (
                            f.name().clone(),
                            DataType::from_arrow(f.data_type())
                                .map_or("?".into(), |t| t.spec_name().to_string()),
                        )
                    })
                    .collect();
            }
            for r in 0..b.num_rows() {
                rows.push(
                    b.columns()
                        .iter()
                        .map(|c| to_json(&Value::from_array(c.as_ref(), r)))
                        .collect(),
                );
            }
        }
    }
    (cols, rows)
}

/// A value in the golden files' JSON form.
pub fn to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int64(i) => json!(i),
        Value::Float64(f) => {
            serde_json::Number::from_f64(*f).map_or(json!(f.to_string()), Json::Number)
        }
        Value::String(s) => json!(s),
        Value::Timestamp(t) => json!(format_timestamp(*t)),
        Value::Date(d) => json!(format_date(*d)),
        Value::Bytes(b) => json!(b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        // Arrays as JSON arrays; maps as objects whose keys are the keys'
        // JSON text (as Python's json.dumps writes DuckDB's MAPs).
        Value::List(..) | Value::Map(..) => quiver_server::wire::collection_to_json(v, to_json),
    }
}

fn order(a: &Json, b: &Json) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Json::Null, Json::Null) => Equal,
        (Json::Null, _) => Less,
        (_, Json::Null) => Greater,
        (Json::Number(x), Json::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Json::Bool(x), Json::Bool(y)) => x.cmp(y),
        (Json::String(x), Json::String(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// Sorts rows canonically (by each value in turn, NULL first).
pub fn sort_rows(rows: &mut [Vec<Json>]) {
    rows.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| order(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
}

/// Whether two values match: floats within a relative 1e-9 (or 1e-12
/// absolute, so 0.0 and -0.0 are equal), everything else exactly.
pub fn values_match(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 1e-12 || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_match(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, a), (kb, b))| ka == kb && values_match(a, b))
        }
        _ => a == b,
    }
}

/// Compares two row multisets; returns a readable difference if any.
pub fn diff_rows(mut got: Vec<Vec<Json>>, mut want: Vec<Vec<Json>>) -> Option<String> {
    sort_rows(&mut got);
    sort_rows(&mut want);
    if got.len() != want.len() {
        let show = |rows: &[Vec<Json>]| {
            rows.iter()
                .take(40)
                .map(|r| format!("  {}", Json::Array(r.clone())))
                .collect::<Vec<_>>()
                .join("\n")
        };
        return Some(format!(
            "{} rows, expected {}\ngot:\n{}\nexpected:\n{}",
            got.len(),
            want.len(),
            show(&got),
            show(&want)
        ));
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if g.len() != w.len() || !g.iter().zip(w).all(|(a, b)| values_match(a, b)) {
            return Some(format!(
                "row {i} differs:\n  got      {}\n  expected {}",
                Json::Array(g.clone()),
                Json::Array(w.clone())
            ));
        }
    }
    None
}

/// The `(event_time, customer_id, amount)` schema the end-to-end tests write.
pub fn events_schema() -> std::sync::Arc<Schema> {
    std::sync::Arc::new(Schema::new(vec![
        Field::new(
            "event_time",
            ArrowType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("customer_id", ArrowType::Int64, true),
        Field::new("amount", ArrowType::Float64, true),
    ]))
}

/// Writes `(time, customer, amount)` rows to a Parquet file, `per_group` rows per row group.
pub fn write_events(path: &Path, rows: &[(i64, Option<i64>, Option<f64>)], per_group: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(per_group))
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        events_schema(),
        Some(props),
    )
    .unwrap();
    let b = RecordBatch::try_new(
        events_schema(),
        vec![
            std::sync::Arc::new(
                TimestampMillisecondArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
            std::sync::Arc::new(Int64Array::from(
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )),
            std::sync::Arc::new(Float64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
}

/// A plain HTTP/1.0 request to `addr`: the status and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(addr)?;
    c.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    c.write_all(req.as_bytes())?;
    c.write_all(body)?;
    let mut text = String::new();
    c.read_to_string(&mut text)?;
    let bad = || std::io::Error::other(format!("not an HTTP response: {text:?}"));
    let (head, rest) = text.split_once("\r\n\r\n").ok_or_else(bad)?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    Ok((status, rest.to_string()))
}

/// `promtool check metrics` (Debian package `prometheus`) accepts `text`.
pub fn promtool_accepts(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let Ok(mut child) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        assert!(
            std::env::var("QUIVER_REQUIRE_PROMTOOL").as_deref() != Ok("1"),
            "QUIVER_REQUIRE_PROMTOOL=1 but promtool is missing; apt-get install prometheus"
        );
        eprintln!("skipped promtool: not installed");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A service the tests need, named by `$var` (`scripts/services.sh start`
/// prints it). Without it the test says so and is skipped, unless
/// `$require` is `1` (set by `scripts/test.sh`), when it fails.
pub fn service(var: &str, require: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var(require).as_deref() != Ok("1"),
                "{require}=1 but {var} is not set; run scripts/services.sh start"
            );
            eprintln!(
                "skipped: no {what} (start one with scripts/services.sh start and set {var})"
            );
            None
        }
    }
}

/// Copies the files under `from` into `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for f in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(f.file_name());
        if f.path().is_dir() {
            copy_dir(&f.path(), &target);
        } else {
            std::fs::copy(f.path(), target).expect("copy file");
        }
    }
}

/// The `tests` directory, read when the test runs rather than when it is
/// compiled: the cargo target folder outlives a checkout (CI clones afresh
/// into it), and a test binary it kept from a checkout at another path
/// would carry that path.
pub fn tests_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The repository's root (see [`tests_dir`]).
pub fn repo_root() -> PathBuf {
    tests_dir().parent().expect("repo root").to_path_buf()
}

/// The repository's example jobs copied into `s` (under `jobs/`), with three
/// days of generated data for them (under `data/`, as the jobs expect).
pub fn example_jobs(s: &Scratch) -> PathBuf {
    let root = repo_root();
    let jobs = s.dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs dir");
    copy_dir(&root.join("jobs"), &jobs);
    let data = s.dir.path().join("data");
    quiver(&[
        "generate",
        "--out",
        data.to_str().expect("utf-8 path"),
        "--days",
        "3",
        "--end",
        "2024-03-01",
        "--rate",
        "0.02",
    ])
    .expect("generate example data");
    jobs
}

/// Problems with a job text (written as `job.yaml` in a scratch
/// directory), through the same planning `quiver validate` does.
pub fn problems(text: &str) -> quiver_types::Diagnostics {
    let dir = tempfile::tempdir().expect("tempdir");
    let jf = dir.path().join("job.yaml");
    std::fs::write(&jf, text).expect("write job");
    match quiver(&["validate", jf.to_str().expect("utf-8 path")]) {
        Ok(()) => quiver_types::Diagnostics::new(),
        Err(quiver_cli::Failure::Invalid(d)) => d,
        Err(e) => panic!("{e}"),
    }
}

/// Asserts that validating `text` reports every fragment.
pub fn assert_problem(text: &str, fragments: &[&str]) {
    let d = problems(text).to_string();
    for f in fragments {
        assert!(d.contains(f), "`{f}` not in:\n{d}");
    }
}

/// Serves `app` on a loopback port from a thread of its own (for HTTP
/// sources and model servers the tests stand up); returns `host:port`.
pub fn serve_http(app: axum::Router) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            tx.send(l.local_addr().expect("bound").to_string())
                .expect("the test waits");
            axum::serve(l, app).await.expect("serving");
        });
    });
    rx.recv().expect("the server's address")
}
