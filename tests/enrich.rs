//! `enrich` end to end: backfills whose rows are looked up in a real Redis,
//! a real PostgreSQL (both from `scripts/services.sh start`) and an HTTP
//! server run in-process (axum), checked against what each source holds.
//!
//! * values land on the right rows, typed as declared; keys a source does
//!   not have, and rows with a NULL variable, get NULL;
//! * the cache and same-batch sharing answer repeats (counted as cache
//!   hits, and the HTTP server sees one request per customer);
//! * an outage with `fail_on_errors: false` gives NULLs and counted errors
//!   and timeouts, a flaky endpoint is retried; with `true` the run fails
//!   with a message naming the job and the step;
//! * slow, jittery lookups do not change what is written, nor its order;
//! * job-file mistakes are refused with positions and fixes.
//!
//! The Redis/Postgres test is skipped without `QUIVER_TEST_REDIS` and
//! `QUIVER_TEST_POSTGRES` unless `QUIVER_REQUIRE_*` is set
//! (`scripts/test.sh` sets it); the others need no service.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use quiver_postprocess::{EnrichCounters, enrich_counters};
use quiver_tests::{Scratch, assert_problem, problems, read_rows, serve_http, service};
use quiver_types::time::{MINUTE, parse_timestamp};
use serde_json::{Value as Json_, json};

/// Customers the sources know; 16 to 20 are known to none.
const KNOWN: i64 = 15;
const CUSTOMERS: i64 = 20;
const PER_CUSTOMER: i64 = 5;

/// Requests the HTTP server saw, by route.
#[derive(Default)]
struct Hits {
    customers: AtomicU64,
    flaky: Mutex<HashMap<i64, u32>>,
}

type Shared = Arc<Hits>;

async fn customer(
    State(h): State<Shared>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<i64>,
) -> Response {
    h.customers.fetch_add(1, Ordering::Relaxed);
    if headers.get("x-token").and_then(|v| v.to_str().ok()) != Some("s3cret") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if !(1..=KNOWN).contains(&id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    Json(json!({"customer": {"limit": id * 100, "vip": id % 2 == 0}})).into_response()
}

async fn score(Json(body): Json<Json_>) -> Response {
    let id = body["id"].as_i64().unwrap_or(-1);
    let amount = body["amount"].as_f64().unwrap_or(f64::NAN);
    Json(json!({"score": id as f64 + amount})).into_response()
}

async fn slow(UrlPath(id): UrlPath<i64>) -> Response {
    tokio::time::sleep(Duration::from_secs(3)).await;
    Json(json!({"v": id})).into_response()
}

/// Answers after a delay that depends on the id (0–60 ms).
async fn jitter(UrlPath(id): UrlPath<i64>) -> Response {
    tokio::time::sleep(Duration::from_millis((id * 37 % 13 * 5) as u64)).await;
    Json(json!({"v": format!("j{id}")})).into_response()
}

/// [`jitter`]'s answers, slow where it is fast: lookups finish in another
/// order.
async fn rjitter(UrlPath(id): UrlPath<i64>) -> Response {
    tokio::time::sleep(Duration::from_millis((60 - id * 37 % 13 * 5) as u64)).await;
    Json(json!({"v": format!("j{id}")})).into_response()
}

/// 503 on the first request for an id, then an answer.
async fn flaky(State(h): State<Shared>, UrlPath(id): UrlPath<i64>) -> Response {
    let n = {
        let mut m = h.flaky.lock().unwrap();
        let n = m.entry(id).or_default();
        *n += 1;
        *n
    };
    if n == 1 {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(json!({"v": id * 2})).into_response()
}

async fn broken() -> Response {
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// An HTTP server on loopback for one test: its address and request counts.
fn http_server() -> (String, Shared) {
    let hits = Shared::default();
    let app = axum::Router::new()
        .route("/customers/{id}", get(customer))
        .route("/score", post(score))
        .route("/slow/{id}", get(slow))
        .route("/jitter/{id}", get(jitter))
        .route("/rjitter/{id}", get(rjitter))
        .route("/flaky/{id}", get(flaky))
        .route("/broken/{id}", get(broken))
        .with_state(hits.clone());
    (serve_http(app), hits)
}

/// Orders: five per customer over a day, two without a customer, in
/// event-time order.
fn write_orders(path: &Path) -> usize {
    let start = parse_timestamp("2024-05-01").unwrap();
    let mut events = Vec::new();
    for k in 0..PER_CUSTOMER {
        for c in 1..=CUSTOMERS {
            let t = start + (k * CUSTOMERS + c) * 7 * MINUTE;
            let amount = (c * 10 + k) as f64 + 0.25;
            events.push((
                t,
                json!({"event_time": t, "customer_id": c, "amount": amount}),
            ));
        }
    }
    for k in 0..2 {
        let t = start + (500 + k) * MINUTE;
        events.push((
            t,
            json!({"event_time": t, "customer_id": null, "amount": 1.0}),
        ));
    }
    events.sort_by_key(|e| e.0);
    let lines: Vec<String> = events.iter().map(|e| e.1.to_string()).collect();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, lines.join("\n") + "\n").unwrap();
    lines.len()
}

/// A job over the orders with the given post-processors.
fn job(s: &Scratch, name: &str, postprocessors: &str) -> PathBuf {
    let data = s.dir.path().join("data/orders.ndjson");
    if !data.exists() {
        write_orders(&data);
    }
    let text = format!(
        "name: {name}\nsources:\n  orders:\n    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}\n    event_time: event_time\n    watermark_delay: 1m\n    bounded: {{ndjson: {}}}\nsql: |\n  SELECT customer_id, amount, event_time FROM orders\npostprocessors:\n{postprocessors}sinks:\n  historical: {{}}\n",
        data.display()
    );
    let jf = s.dir.path().join(format!("{name}.yaml"));
    fs::write(&jf, text).unwrap();
    jf
}

fn counters(job: &str, step: &str) -> Arc<EnrichCounters> {
    enrich_counters(job, step).unwrap_or_else(|| panic!("no counters for {job}/{step}"))
}

fn n(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// Fills Redis and Postgres with the known customers; returns the Redis
/// key prefix and the Postgres table, and a guard that removes them.
struct Fixtures {
    redis: String,
    prefix: String,
    pg: String,
    table: String,
}

impl Fixtures {
    fn create(redis: &str, pg: &str) -> Fixtures {
        let tag = format!("quiver_enrich_{}", std::process::id());
        let f = Fixtures {
            redis: redis.to_string(),
            prefix: tag.clone(),
            pg: pg.to_string(),
            table: format!("{tag}_customers"),
        };
        let mut conn = redis::Client::open(redis)
            .unwrap()
            .get_connection()
            .unwrap();
        for c in 1..=KNOWN {
            redis::cmd("HSET")
                .arg(format!("{}:customer:{c}", f.prefix))
                .arg("segment")
                .arg(format!("seg{}", c % 4))
                .arg("visits")
                .arg((c * 10).to_string())
                .query::<()>(&mut conn)
                .unwrap();
        }
        f.sql(&[
            &format!("DROP TABLE IF EXISTS {}", f.table),
            &format!(
                "CREATE TABLE {} (id integer PRIMARY KEY, tier text, score double precision)",
                f.table
            ),
            &format!(
                "INSERT INTO {} SELECT i, 'tier' || (i % 3), i / 4.0 FROM generate_series(1, {KNOWN}) i",
                f.table
            ),
        ]);
        f
    }

    fn sql(&self, statements: &[&str]) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&self.pg, tokio_postgres::NoTls)
                .await
                .unwrap();
            let driver = tokio::spawn(conn);
            for s in statements {
                client.batch_execute(s).await.unwrap();
            }
            drop(client);
            let _ = driver.await;
        });
    }
}

impl Drop for Fixtures {
    fn drop(&mut self) {
        if let Ok(mut c) = redis::Client::open(self.redis.as_str()).and_then(|c| c.get_connection())
        {
            for i in 1..=KNOWN {
                let _ = redis::cmd("DEL")
                    .arg(format!("{}:customer:{i}", self.prefix))
                    .query::<()>(&mut c);
            }
        }
        self.sql(&[&format!("DROP TABLE IF EXISTS {}", self.table)]);
    }
}

#[test]
fn redis_postgres_and_http_values_land_on_their_rows() {
    let (Some(redis_url), Some(pg_url)) = (
        service("QUIVER_TEST_REDIS", "QUIVER_REQUIRE_REDIS", "Redis server"),
        service(
            "QUIVER_TEST_POSTGRES",
            "QUIVER_REQUIRE_POSTGRES",
            "PostgreSQL server",
        ),
    ) else {
        return;
    };
    let fx = Fixtures::create(&redis_url, &pg_url);
    let (addr, hits) = http_server();
    for workers in ["1", "2"] {
        let s = Scratch::new();
        let name = format!("enriched_w{workers}");
        let steps = format!(
            r#"  - enrich:
      redis: {{url: "{redis_url}", command: hgetall, key: "{prefix}:customer:%s", variables: [customer_id]}}
      outputs: {{segment: segment, visits: {{path: visits, type: bigint}}}}
      cache_ttl: 1m
  - enrich:
      postgres: {{url: "{pg_url}", query: "SELECT tier, score FROM {table} WHERE id = $1", params: [customer_id]}}
      outputs: {{tier: tier, pg_score: {{path: score, type: double}}}}
      cache_ttl: 1m
  - enrich:
      name: profile
      http: {{url: "http://{addr}/customers/%s", variables: [customer_id], headers: {{X-Token: s3cret}}}}
      outputs: {{credit_limit: {{path: $.customer.limit, type: bigint}}, vip: {{path: $.customer.vip, type: boolean}}}}
      capacity: 8
      timeout: 2s
      cache_ttl: 1m
  - enrich:
      name: score
      http: {{url: "http://{addr}/score", method: POST, body: '{{"id": %s, "amount": %s}}', variables: [customer_id, amount]}}
      outputs: {{http_score: {{path: $.score, type: double}}}}
"#,
            prefix = fx.prefix,
            table = fx.table
        );
        let jf = job(&s, &name, &steps);
        let before = hits.customers.load(Ordering::Relaxed);
        s.backfill(&jf, workers).unwrap();
        let rows = s.rows(&name);
        assert_eq!(rows.len() as i64, CUSTOMERS * PER_CUSTOMER + 2);
        for r in &rows {
            let Some(c) = r["customer_id"].as_i64() else {
                // No customer: nothing looked up, every new column NULL.
                for col in [
                    "segment",
                    "visits",
                    "tier",
                    "pg_score",
                    "credit_limit",
                    "vip",
                    "http_score",
                ] {
                    assert_eq!(r[col], Json_::Null, "{col} of {r:?}");
                }
                continue;
            };
            let amount = r["amount"].as_f64().unwrap();
            assert_eq!(r["http_score"], json!(c as f64 + amount), "{r:?}");
            if c <= KNOWN {
                assert_eq!(r["segment"], json!(format!("seg{}", c % 4)), "{r:?}");
                assert_eq!(r["visits"], json!(c * 10), "{r:?}");
                assert_eq!(r["tier"], json!(format!("tier{}", c % 3)), "{r:?}");
                assert_eq!(r["pg_score"], json!(c as f64 / 4.0), "{r:?}");
                assert_eq!(r["credit_limit"], json!(c * 100), "{r:?}");
                assert_eq!(r["vip"], json!(c % 2 == 0), "{r:?}");
            } else {
                for col in [
                    "segment",
                    "visits",
                    "tier",
                    "pg_score",
                    "credit_limit",
                    "vip",
                ] {
                    assert_eq!(r[col], Json_::Null, "{col} of {r:?}");
                }
            }
        }
        // Columns typed as declared.
        let (cols, _) = read_rows(&s.dataset(&name));
        let types: HashMap<_, _> = cols.into_iter().collect();
        assert_eq!(types["visits"], "int64");
        assert_eq!(types["pg_score"], "float64");
        assert_eq!(types["vip"], "bool");
        assert_eq!(types["segment"], "string");

        let looked = (CUSTOMERS * PER_CUSTOMER) as u64;
        let served = hits.customers.load(Ordering::Relaxed) - before;
        for step in ["redis", "postgres", "profile"] {
            let c = counters(&name, step);
            assert_eq!(n(&c.lookups), looked, "{step}");
            assert_eq!(n(&c.errors), 0, "{step}");
            if workers == "1" {
                // One request per customer; every other row is a cache hit.
                assert_eq!(n(&c.requests), CUSTOMERS as u64, "{step}");
                assert_eq!(n(&c.cache_hits), looked - CUSTOMERS as u64, "{step}");
                assert_eq!(n(&c.not_found), (CUSTOMERS - KNOWN) as u64, "{step}");
            } else {
                // Two workers may both miss a customer before either stores it.
                assert!(n(&c.requests) <= 2 * CUSTOMERS as u64, "{step}");
                assert!(n(&c.cache_hits) >= looked - 2 * CUSTOMERS as u64, "{step}");
            }
        }
        if workers == "1" {
            assert_eq!(served, CUSTOMERS as u64, "HTTP requests for customers");
        }
        // Without a cache, each distinct (customer, amount) is one request.
        let c = counters(&name, "score");
        assert_eq!(n(&c.requests), looked);
        assert_eq!(n(&c.cache_hits), 0);
    }
}

#[test]
fn an_outage_with_fail_on_errors_false_gives_nulls_and_counted_errors() {
    let (addr, hits) = http_server();
    let s = Scratch::new();
    // Nothing listens on port 1: connections are refused.
    let steps = format!(
        r#"  - enrich:
      redis: {{url: "redis://127.0.0.1:1/0", command: hgetall, key: "c:%s", variables: [customer_id]}}
      outputs: {{segment: segment}}
      retries: 1
      backoff: 5ms
  - enrich:
      name: slow
      http: {{url: "http://{addr}/slow/%s", variables: [customer_id]}}
      outputs: {{slow_v: $.v}}
      timeout: 100ms
      retries: 1
      backoff: 1ms
      capacity: 32
  - enrich:
      name: flaky
      http: {{url: "http://{addr}/flaky/%s", variables: [customer_id]}}
      outputs: {{flaky_v: {{path: $.v, type: bigint}}}}
      retries: 2
      backoff: 1ms
"#
    );
    let jf = job(&s, "outage", &steps);
    let began = std::time::Instant::now();
    s.backfill(&jf, "1").unwrap();
    let took = began.elapsed();
    let rows = s.rows("outage");
    assert_eq!(rows.len() as i64, CUSTOMERS * PER_CUSTOMER + 2);
    for r in rows.iter().filter(|r| r["customer_id"].is_i64()) {
        let c = r["customer_id"].as_i64().unwrap();
        assert_eq!(r["segment"], Json_::Null);
        assert_eq!(r["slow_v"], Json_::Null);
        assert_eq!(r["flaky_v"], json!(c * 2), "retried after a 503");
    }
    // Failures are not cached: a customer whose rows fall in two released
    // batches is looked up (and fails) in each.
    let distinct = CUSTOMERS as u64;
    let redis = counters("outage", "redis");
    let failed = n(&redis.errors);
    assert!(failed >= distinct, "{failed}");
    assert_eq!(n(&redis.requests), 2 * failed, "one retry each");
    assert_eq!(n(&redis.retries), failed);
    let slow = counters("outage", "slow");
    assert_eq!(n(&slow.errors), failed);
    assert_eq!(n(&slow.timeouts), 2 * failed);
    // 20 lookups of two 100 ms attempts ran concurrently, not one after
    // the other (which would take 4 s).
    assert!(took < Duration::from_secs(3), "{took:?}");
    let flaky = counters("outage", "flaky");
    assert_eq!(n(&flaky.errors), 0);
    assert_eq!(n(&flaky.retries), distinct);
    assert_eq!(hits.flaky.lock().unwrap().len() as u64, distinct);
}

#[test]
fn an_outage_with_fail_on_errors_true_fails_the_run_naming_job_and_step() {
    let (addr, _hits) = http_server();
    let s = Scratch::new();
    let jf = job(
        &s,
        "strict_pg",
        "  - enrich:\n      postgres: {url: \"postgres://postgres@127.0.0.1:1/postgres\", query: \"SELECT 1 AS one WHERE $1 > 0\", params: [customer_id]}\n      outputs: {one: one}\n      retries: 1\n      backoff: 1ms\n      fail_on_errors: true\n",
    );
    let e = s.backfill(&jf, "1").unwrap_err().to_string();
    for f in [
        "job `strict_pg`",
        "enrich step `postgres` (postgres) could not look up customer_id=",
        "cannot reach the source",
        "(2 attempts)",
    ] {
        assert!(e.contains(f), "`{f}` not in: {e}");
    }
    let jf = job(
        &s,
        "strict_http",
        &format!(
            "  - enrich:\n      name: broken\n      http: {{url: \"http://{addr}/broken/%s\", variables: [customer_id]}}\n      outputs: {{v: v}}\n      backoff: 1ms\n      fail_on_errors: true\n"
        ),
    );
    let e = s.backfill(&jf, "2").unwrap_err().to_string();
    for f in [
        "job `strict_http`",
        "enrich step `broken` (http)",
        "HTTP status 500 (3 attempts)",
    ] {
        assert!(e.contains(f), "`{f}` not in: {e}");
    }
}

#[test]
fn slow_lookups_change_neither_the_rows_nor_their_order() {
    let (addr, _hits) = http_server();
    let steps = format!(
        "  - enrich:\n      http: {{url: \"http://{addr}/jitter/%s\", variables: [customer_id]}}\n      outputs: {{j: v}}\n      capacity: 4\n"
    );
    let run = || {
        let s = Scratch::new();
        let jf = job(&s, "jittery", &steps);
        s.backfill(&jf, "2").unwrap();
        s.rows("jittery")
    };
    let (a, b) = (run(), run());
    assert_eq!(a.len() as i64, CUSTOMERS * PER_CUSTOMER + 2);
    for r in &a {
        match r["customer_id"].as_i64() {
            Some(c) => assert_eq!(r["j"], json!(format!("j{c}"))),
            None => assert_eq!(r["j"], Json_::Null),
        }
    }
    let times = |rows: &[HashMap<String, Json_>]| -> Vec<String> {
        rows.iter()
            .map(|r| format!("{} {}", r["event_time"], r["customer_id"]))
            .collect()
    };
    assert_eq!(times(&a), times(&b), "same rows in the same order");
    // Each worker's file is in event-time order.
    let s = Scratch::new();
    s.backfill(&job(&s, "jittery", &steps), "2").unwrap();
    let files = quiver_tests::parquet_files(&s.dataset("jittery"));
    assert_eq!(files.len(), 2, "a file per worker");
    for f in files {
        use arrow::array::AsArray;
        let t: Vec<i64> = quiver_tests::read_parquet(&f)
            .iter()
            .flat_map(|b| {
                b.column(2)
                    .as_primitive::<arrow::datatypes::TimestampMillisecondType>()
                    .values()
                    .to_vec()
            })
            .collect();
        let mut sorted = t.clone();
        sorted.sort();
        assert_eq!(t, sorted, "{} in event-time order", f.display());
    }
}

#[test]
fn unordered_output_has_the_same_rows_and_files_independent_of_timing() {
    let (addr, _hits) = http_server();
    let steps = |ordered: bool, route: &str| {
        format!(
            "  - enrich:\n      http: {{url: \"http://{addr}/{route}/%s\", variables: [customer_id]}}\n      outputs: {{j: v}}\n      capacity: 4\n      ordered: {ordered}\n  - filter_invalid:\n      checks: {{some_j: j <> 'j3'}}\n"
        )
    };
    // Each run: the rows, every file's bytes, and the dead letters.
    let run = |ordered: bool, route: &str| {
        let s = Scratch::new();
        let jf = job(&s, "unordered", &steps(ordered, route));
        let text = fs::read_to_string(&jf).unwrap().replace(
            "sinks:\n  historical: {}\n",
            &format!(
                "sinks:\n  historical: {{}}\n  dead_letter: {{ndjson: {}}}\n",
                s.dir.path().join("dead.ndjson").display()
            ),
        );
        fs::write(&jf, text).unwrap();
        s.backfill(&jf, "2").unwrap();
        let files: Vec<Vec<u8>> = quiver_tests::parquet_files(&s.dataset("unordered"))
            .iter()
            .map(|f| fs::read(f).unwrap())
            .collect();
        let mut dead: Vec<String> = fs::read_to_string(s.dir.path().join("dead.ndjson"))
            .unwrap()
            .lines()
            .map(|l| {
                let v: Json_ = serde_json::from_str(l).unwrap();
                v["payload"].as_str().unwrap().to_string()
            })
            .collect();
        dead.sort();
        let mut rows: Vec<String> = s
            .rows("unordered")
            .iter()
            .map(|r| format!("{} {} {}", r["event_time"], r["customer_id"], r["j"]))
            .collect();
        rows.sort();
        (rows, files, dead)
    };
    let (rows, files, dead) = run(false, "jitter");
    assert_eq!(
        rows.len() as i64,
        CUSTOMERS * PER_CUSTOMER + 2 - PER_CUSTOMER
    );
    assert_eq!(
        dead.len() as i64,
        PER_CUSTOMER,
        "customer 3's rows: {dead:?}"
    );
    let (ordered_rows, _, ordered_dead) = run(true, "jitter");
    assert_eq!(rows, ordered_rows, "the same rows as `ordered: true`");
    assert_eq!(
        dead, ordered_dead,
        "the same dead letters as `ordered: true`"
    );
    // However the lookups interleave (here: in another order), the files
    // are the same bytes.
    let (_, again, _) = run(false, "rjitter");
    assert_eq!(files.len(), 2, "a file per worker");
    assert!(files == again, "historical files differ between two runs");
}

#[test]
fn mistakes_are_refused_with_positions_and_fixes() {
    let good = r#"name: enriched
sources:
  orders:
    schema: {event_time: timestamp, customer_id: int64, amount: float64, at: timestamp}
    event_time: event_time
    bounded: {ndjson: orders.ndjson}
sql: |
  SELECT customer_id, amount, at, event_time FROM orders
postprocessors:
  - enrich:
      redis: {url: "redis://127.0.0.1:6379/0", command: hgetall, key: "customer:%s", variables: [customer_id]}
      outputs: {segment: segment, visits: {path: $.visits, type: bigint}}
  - enrich:
      http: {url: "http://127.0.0.1:9/c/%s", method: POST, body: '{"amount": %s}', variables: [customer_id, amount]}
      outputs: {limit: $.limit}
  - enrich:
      postgres: {url: "postgres://u@127.0.0.1:5432/db", query: "SELECT tier FROM customers WHERE id = $1", params: [customer_id]}
      outputs: {tier: tier}
sinks:
  historical: {}
"#;
    assert!(problems(good).is_empty(), "{}", problems(good));
    assert_problem(
        &good.replace("variables: [customer_id]}", "variables: [custmer_id]}"),
        &[
            "job.yaml:11:",
            "lookup variable `custmer_id` is not an output column",
            "did you mean `customer_id`?",
        ],
    );
    assert_problem(
        &good.replace("variables: [customer_id]}", "variables: [at]}"),
        &["lookup variable `at` is TIMESTAMP", "CAST(at AS VARCHAR)"],
    );
    assert_problem(
        &good.replace("outputs: {limit:", "outputs: {amount:"),
        &["job.yaml:15:17: column `amount` already exists"],
    );
    assert_problem(
        &good.replace("outputs: {tier: tier}", "outputs: {segment: tier}"),
        &["column `segment` already exists"],
    );
    assert_problem(
        &good.replace("path: $.visits", "path: \"$.[\""),
        &["is not a JSONPath"],
    );
    assert_problem(
        &good.replace("type: bigint", "type: timestamp"),
        &[
            "`timestamp` is not a type an `enrich` output can have",
            "string, bigint, double, boolean",
        ],
    );
    let unordered = good.replace(
        "      outputs: {tier: tier}",
        "      outputs: {tier: tier}\n      ordered: false",
    );
    assert!(problems(&unordered).is_empty(), "{}", problems(&unordered));
    assert_problem(
        &unordered.replace(
            "sinks:",
            "  - dedup: {key: [customer_id], ttl: 10m}\nsinks:",
        ),
        &[
            "job.yaml:20:",
            "a dedup cannot follow the enrich step `postgres`, which has `ordered: false`",
            "move the dedup before that enrich step",
        ],
    );
    assert_problem(
        &unordered.replace(
            "      outputs: {limit: $.limit}",
            "      outputs: {limit: $.limit}\n      ordered: false",
        ),
        &["only one enrich step of a job may have `ordered: false`; `http` already has it"],
    );
    assert_problem(
        &good.replace(
            "      outputs: {tier: tier}",
            "      outputs: {tier: tier}\n      ordered: nope",
        ),
        &["`ordered` of `enrich`"],
    );
    assert_problem(
        &good.replace("WHERE id = $1", "WHERE id = %s"),
        &["Postgres lookups take parameters `$1`", "never spliced"],
    );
    assert_problem(
        &good.replace("WHERE id = $1", "WHERE id = $1 AND region = $2"),
        &["the query uses parameters up to $2 and `params` names 1 column(s)"],
    );
    assert_problem(
        &good.replace("key: \"customer:%s\"", "key: \"customer:%s:%s\""),
        &[
            "job.yaml:11:",
            "2 `%s` placeholder(s) and `variables` names 1 column(s)",
        ],
    );
    assert_problem(
        &good.replace("'{\"amount\": %s}'", "'{\"amount\": \"%s\"}'"),
        &["write `%s` without quotes in the body"],
    );
    assert_problem(
        &good.replace("method: POST, ", ""),
        &["a GET request has no body"],
    );
    assert_problem(
        &good.replace("url: \"http://127.0.0.1:9/c/%s\"", "url: \"ftp://h/%s\""),
        &["must start with http:// or https://"],
    );
    assert_problem(
        &good.replace("command: hgetall", "command: hget"),
        &["unsupported Redis command `hget`"],
    );
    assert_problem(
        &good.replace(
            "  - enrich:\n      http:",
            "  - enrich:\n      name: redis\n      http:",
        ),
        &["two enrich steps are named `redis`", "own `name:`"],
    );
    assert_problem(
        &good.replace(
            "      outputs: {limit: $.limit}",
            "      outputs: {limit: $.limit}\n      redis: {url: \"redis://h\", key: k}",
        ),
        &["one `enrich` step has one source"],
    );
    assert_problem(
        &good.replace(
            "      outputs: {tier: tier}\n",
            "      outputs: {tier: tier}\n      timeout: 0s\n      capacity: 0\n",
        ),
        &[
            "`timeout` of `enrich` must be positive",
            "`capacity` of `enrich` must be between 1 and 1024",
        ],
    );
    assert_problem(
        &good.replace(
            "postgres://u@127.0.0.1:5432/db",
            "postgres://u@127.0.0.1:notaport/db",
        ),
        &["the `postgres` url is not valid"],
    );
}
