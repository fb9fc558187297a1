//! Open-loop load on `quiver serve` (run on demand, not a test):
//!
//! ```text
//! ./scripts/services.sh start            # Redis on 127.0.0.1:6379
//! cargo bench -p quiver-cli --bench serve_load -- [--rate 5000] [--seconds 20]
//!     [--connections 32] [--entities 100000] [--redis redis://127.0.0.1:6379/0]
//!     [--feast 127.0.0.1:6567 [--feast-rate N]] [--record]
//!     [--quiver PATH] [--only embedded|redis] [--batches 1,100]
//! ```
//!
//! For each backend (embedded, Redis) it fills the store with one job of 10
//! `float64` features over `--entities` customers, starts the real binary
//! (`quiver serve --threads 2`) on a loopback port, and offers
//! `POST /get-online-features` requests for 1 and for 100 random entities
//! at a fixed rate. Open loop: request `i` is due at `start + i / rate`
//! whatever happened to earlier ones, and its latency is measured from that
//! due time to the end of the response, so a stalled server is charged for
//! the queue it causes (no coordinated omission). Client threads sleep
//! until a request is due; their wake-up slack (tens of µs) counts against
//! the server. `--feast ADDR` also offers the same requests (feature view
//! `serve_bench`, features f0..f9, same entities) to a Feast feature server
//! already running there (`benches/feast/setup.sh` and `run.sh` start one
//! on the same Redis). `--record` appends the table to BENCHMARKS.md.
//! `--quiver PATH` serves with another build of the binary (to compare
//! builds in one run); `--only` and `--batches` narrow the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use quiver_store::{EmbeddedStore, EntityKey, FeatureRow, JobMeta, OnlineStore, RedisStore};
use quiver_types::Value;
use rand::{RngExt, SeedableRng};

const FEATURES: usize = 10;
/// The job (Feast: feature view) every request reads.
const JOB: &str = "serve_bench";

#[derive(Clone)]
struct Args {
    rate: u64,
    seconds: u64,
    connections: usize,
    entities: i64,
    redis: String,
    feast: Option<String>,
    feast_rate: Option<u64>,
    record: bool,
    quiver: String,
    only: Option<String>,
    batches: Vec<usize>,
}

fn args() -> Args {
    let mut a = Args {
        rate: 5_000,
        seconds: 20,
        connections: 32,
        entities: 100_000,
        redis: std::env::var("QUIVER_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        feast: None,
        feast_rate: None,
        record: false,
        quiver: env!("CARGO_BIN_EXE_quiver").to_string(),
        only: None,
        batches: vec![1, 100],
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().expect("a value after the flag");
        match k.as_str() {
            "--rate" => a.rate = v().parse().expect("--rate N"),
            "--seconds" => a.seconds = v().parse().expect("--seconds N"),
            "--connections" => a.connections = v().parse().expect("--connections N"),
            "--entities" => a.entities = v().parse().expect("--entities N"),
            "--redis" => a.redis = v(),
            "--feast" => a.feast = Some(v()),
            "--feast-rate" => a.feast_rate = Some(v().parse().expect("--feast-rate N")),
            "--record" => a.record = true,
            // Absolute: the server runs in a temporary directory.
            "--quiver" => {
                a.quiver = std::fs::canonicalize(v())
                    .expect("--quiver PATH names a file")
                    .display()
                    .to_string()
            }
            "--only" => a.only = Some(v()),
            "--batches" => {
                a.batches = v()
                    .split(',')
                    .map(|b| b.parse().expect("--batches N,M"))
                    .collect()
            }
            "--bench" => {}
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// Fills `store` with `n` customers' rows of the bench job.
fn fill(store: &dyn OnlineStore, n: i64) {
    let features: Vec<(String, String)> = (0..FEATURES)
        .map(|f| (format!("f{f}"), "float64".to_string()))
        .collect();
    store
        .register(&JobMeta {
            name: JOB.into(),
            entity: vec![("customer_id".into(), "int64".into())],
            features,
            ttl: None,
            description: Some("load benchmark".into()),
        })
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    for chunk in (1..=n).collect::<Vec<_>>().chunks(10_000) {
        let rows: Vec<(EntityKey, FeatureRow)> = chunk
            .iter()
            .map(|&c| {
                (
                    vec![Value::Int64(c)],
                    FeatureRow {
                        event_time: now,
                        values: (0..FEATURES)
                            .map(|f| Value::Float64(c as f64 + f as f64 / 10.0))
                            .collect(),
                    },
                )
            })
            .collect();
        store.write(JOB, &rows).unwrap();
    }
}

/// Starts `quiver serve` over `online_store` and returns it with its address.
fn serve(quiver: &str, dir: &std::path::Path, online_store: &str) -> (Child, String) {
    std::fs::write(
        dir.join("quiver.yaml"),
        format!("online_store: {online_store}\nserver: {{listen: \"127.0.0.1:0\"}}\n"),
    )
    .unwrap();
    let mut child = Command::new(quiver)
        .current_dir(dir)
        .args(["serve", "--threads", "2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("quiver serve said {line:?}"))
        .to_string();
    (child, addr)
}

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
    body: Vec<u8>,
}

impl Conn {
    fn open(addr: &str) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            writer: s.try_clone().unwrap(),
            reader: BufReader::new(s),
            line: String::new(),
            body: Vec::new(),
        }
    }

    /// Sends one request; `true` when it was answered 200.
    fn post(&mut self, request: &[u8]) -> bool {
        self.exchange(request).unwrap_or(false)
    }

    fn exchange(&mut self, request: &[u8]) -> std::io::Result<bool> {
        self.writer.write_all(request)?;
        let mut ok = false;
        let mut len = 0;
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if l.starts_with("HTTP/1.1 ") {
                ok = l.starts_with("HTTP/1.1 200");
            } else if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        self.body.resize(len, 0);
        self.reader.read_exact(&mut self.body)?;
        Ok(ok)
    }
}

struct Outcome {
    latency: Histogram<u64>,
    errors: u64,
    offered: f64,
    achieved: f64,
}

/// Offers `rate` requests/s of `batch` random entities for `seconds`.
fn load(addr: &str, a: &Args, batch: usize, seconds: u64) -> Outcome {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(batch as u64);
    let features: Vec<String> = (0..FEATURES).map(|f| format!("\"{JOB}:f{f}\"")).collect();
    // Open loop: a request that fails is counted and the run goes on.
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..1_000)
            .map(|_| {
                let ids: Vec<String> = (0..batch)
                    .map(|_| rng.random_range(1..=a.entities).to_string())
                    .collect();
                let body = format!(
                    "{{\"features\": [{}], \"entities\": {{\"customer_id\": [{}]}}}}",
                    features.join(", "),
                    ids.join(", ")
                );
                format!(
                    "POST /get-online-features HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes()
            })
            .collect(),
    );
    let total = a.rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / a.rate as f64);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(100);
    let threads: Vec<_> = (0..a.connections)
        .map(|_| {
            let (next, requests, addr) = (next.clone(), requests.clone(), addr.to_string());
            std::thread::spawn(move || {
                let mut conn = Conn::open(&addr);
                let mut h = Histogram::<u64>::new(3).unwrap();
                let mut errors = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = start + interval * i as u32;
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    if !conn.post(&requests[i as usize % requests.len()]) {
                        errors += 1;
                        conn = Conn::open(&addr);
                    }
                    h.record(due.elapsed().as_micros() as u64).unwrap();
                }
                (h, errors)
            })
        })
        .collect();
    let mut latency = Histogram::<u64>::new(3).unwrap();
    let mut errors = 0;
    for t in threads {
        let (h, e) = t.join().unwrap();
        latency.add(h).unwrap();
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Outcome {
        latency,
        errors,
        offered: a.rate as f64,
        achieved: total as f64 / elapsed,
    }
}

/// One line of the results table.
fn table_row(server: &str, batch: usize, o: &Outcome) -> String {
    let l = &o.latency;
    format!(
        "| {server} | {batch} | {:.0} | {:.0} | {} | {} | {} | {} | {} |",
        o.offered,
        o.achieved,
        ms(l.value_at_quantile(0.5)),
        ms(l.value_at_quantile(0.99)),
        ms(l.value_at_quantile(0.999)),
        ms(l.max()),
        o.errors
    )
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn main() {
    let a = args();
    let mut rows = Vec::new();
    let backends: Vec<(&str, String)> = vec![
        ("embedded", String::new()),
        (
            "redis",
            format!(
                "{}?prefix=quiver-serve-bench",
                a.redis.trim_end_matches('/')
            ),
        ),
    ];
    for (name, url) in backends {
        if a.only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let (online, redis): (String, Option<RedisStore>) = if name == "embedded" {
            let store = EmbeddedStore::open(&dir.path().join("online")).unwrap();
            fill(&store, a.entities);
            drop(store);
            (
                format!("embedded://{}", dir.path().join("online").display()),
                None,
            )
        } else {
            let store = match RedisStore::open(&url) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("skipping Redis ({e}); start it with ./scripts/services.sh start");
                    continue;
                }
            };
            store.clear().unwrap();
            fill(&store, a.entities);
            (url.clone(), Some(store))
        };
        let (mut child, addr) = serve(&a.quiver, dir.path(), &online);
        for &batch in &a.batches {
            load(&addr, &a, batch, 2); // warm-up
            let o = load(&addr, &a, batch, a.seconds);
            let row = table_row(name, batch, &o);
            println!("{row}");
            rows.push(row);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        if let Some(s) = redis {
            s.clear().unwrap();
        }
    }
    if let Some(addr) = &a.feast {
        // Feast's Python server saturates far below 5k/s; an open loop above
        // its capacity only measures the queue, so it may get its own rate.
        let fa = Args {
            rate: a.feast_rate.unwrap_or(a.rate),
            redis: String::new(),
            feast: None,
            ..a.clone()
        };
        for batch in [1usize, 100] {
            load(addr, &fa, batch, 2); // warm-up
            let o = load(addr, &fa, batch, fa.seconds);
            let row = table_row("feast serve (Redis)", batch, &o);
            println!("{row}");
            rows.push(row);
        }
    }
    let table = format!(
        "| backend | entities/request | offered req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n|---|---|---|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    println!("\n{table}");
    if a.record {
        let commit = Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_default();
        let text = format!(
            "\n### Feature serving, {} (commit {commit})\n\n`cargo bench -p quiver-cli --bench serve_load -- --rate {} --seconds {} --connections {} --entities {}{}`; {} cores ({cpu}); `quiver serve --threads 2` and the client on the same machine over loopback; {FEATURES} features of one job per request.\n\n{table}",
            chrono::Utc::now().format("%Y-%m-%d"),
            a.rate,
            a.seconds,
            a.connections,
            a.entities,
            match (&a.feast, a.feast_rate) {
                (Some(f), Some(r)) => format!(" --feast {f} --feast-rate {r}"),
                (Some(f), None) => format!(" --feast {f}"),
                _ => String::new(),
            },
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        let path = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
        )
        .join("../../BENCHMARKS.md");
        let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }
}
