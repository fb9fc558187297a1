//! Each source through a worker's step, on a hand-made batch: an HTTP
//! server in-process (axum), and the Redis and PostgreSQL servers of
//! `scripts/services.sh` when `QUIVER_TEST_REDIS` / `QUIVER_TEST_POSTGRES`
//! are set (skipped otherwise, unless `QUIVER_REQUIRE_*` is 1).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use arrow::datatypes::{Float64Type, Int64Type};
use quiver_dataflow::chunk::with_time;
use quiver_spec::{
    EnrichOutput, EnrichSource, EnrichSpec, HttpLookup, HttpMethod, Located, PostgresLookup,
    RedisCommand, RedisLookup,
};
use quiver_types::{DataType, Diagnostics, Field, Schema};

use super::{EnrichStep, UnorderedEnrich, plan};

fn at<T>(v: T) -> Located<T> {
    Located::new(v, Default::default())
}

fn spec(name: &str, source: EnrichSource, outputs: &[(&str, &str, DataType)]) -> EnrichSpec {
    EnrichSpec {
        name: at(name.to_string()),
        source,
        outputs: outputs
            .iter()
            .map(|(c, p, t)| EnrichOutput {
                column: at(c.to_string()),
                path: at(p.to_string()),
                data_type: *t,
            })
            .collect(),
        capacity: 4,
        timeout: 2000,
        retries: 1,
        backoff: 1,
        cache_ttl: Some(60_000),
        cache_size: 100,
        fail_on_errors: false,
        ordered: true,
        pos: Default::default(),
    }
}

/// A step over a one-column (`id BIGINT`) query output.
fn step(job: &str, s: &EnrichSpec) -> EnrichStep {
    EnrichStep::open(planned(job, s)).unwrap()
}

fn planned(job: &str, s: &EnrichSpec) -> Arc<super::EnrichPlan> {
    let mut schema = Schema::new(vec![Field::new("id", DataType::Int64)]);
    let mut masked = vec![false];
    let mut errors = Diagnostics::new();
    plan(s, job, &mut schema, &mut masked, &mut errors).unwrap_or_else(|| panic!("{errors}"))
}

fn ids(v: &[Option<i64>]) -> RecordBatch {
    let schema = with_time(&Schema::new(vec![Field::new("id", DataType::Int64)]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(v.to_vec())),
            Arc::new(Int64Array::from((0..v.len() as i64).collect::<Vec<_>>())),
        ],
    )
    .unwrap()
}

fn strings(b: &RecordBatch, col: usize) -> Vec<Option<String>> {
    let a = b.column(col).as_string::<i32>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
        .collect()
}

fn service(var: &str, require: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var(require).as_deref() != Ok("1"),
                "{require}=1 but {var} is not set"
            );
            eprintln!("skipped: {var} is not set (scripts/services.sh start)");
            None
        }
    }
}

/// Whether `/hold/0` may answer, and how many `/hold` requests came.
static HOLD_OPEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static HOLD_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn http_server() -> String {
    use axum::Json;
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    // `/gate/0` answers only once six other `/gate/{id}` requests have
    // been answered: a lookup that can finish only if the step keeps
    // starting lookups while an earlier one is outstanding.
    static SERVED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let app = axum::Router::new()
        .route(
            "/hold/{id}",
            get(|Path(id): Path<String>| async move {
                HOLD_CALLS.fetch_add(1, Ordering::SeqCst);
                // `/hold/0` waits until the test opens the gate.
                if id == "0" {
                    for _ in 0..2000 {
                        if HOLD_OPEN.load(Ordering::SeqCst) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
                if id == "13" {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                Json(serde_json::json!({"name": format!("h{id}")})).into_response()
            }),
        )
        .route(
            "/h/{id}",
            get(
                |Path(id): Path<String>, headers: axum::http::HeaderMap| async move {
                    let who = headers
                        .get("x-customer")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("none")
                        .to_string();
                    Json(serde_json::json!({"name": format!("{id}:{who}")})).into_response()
                },
            ),
        )
        .route(
            "/gate/{id}",
            get(|Path(id): Path<String>| async move {
                if id == "0" {
                    for _ in 0..1000 {
                        if SERVED.load(Ordering::SeqCst) >= 6 {
                            return Json(serde_json::json!({"name": "gate"})).into_response();
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                SERVED.fetch_add(1, Ordering::SeqCst);
                Json(serde_json::json!({"name": id})).into_response()
            }),
        )
        .route(
            "/c/{id}",
            get(|Path(id): Path<String>| async move {
                match id.as_str() {
                    "1" => Json(serde_json::json!({"name": "one", "n": 1})).into_response(),
                    "a/b c" => Json(serde_json::json!({"name": "encoded"})).into_response(),
                    "500" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                    "slow" => {
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        Json(serde_json::json!({})).into_response()
                    }
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            }),
        );
    crate::serve_for_test(app)
}

fn http(addr: &str, url: &str) -> EnrichSource {
    EnrichSource::Http(HttpLookup {
        url: at(format!("http://{addr}{url}")),
        method: HttpMethod::Get,
        body: None,
        variables: vec![at("id".to_string())],
        headers: Vec::new(),
    })
}

#[test]
fn http_lookups_found_missing_and_failing() {
    let addr = http_server();
    let s = spec(
        "h",
        http(&addr, "/c/%s"),
        &[
            ("name", "$.name", DataType::String),
            ("n", "n", DataType::Int64),
        ],
    );
    let mut st = step("unit_http", &s);
    let out = st
        .apply(&ids(&[Some(1), Some(2), None, Some(1), Some(500)]))
        .unwrap();
    assert_eq!(out.num_columns(), 4, "id, name, n, __time");
    assert_eq!(
        strings(&out, 1),
        vec![Some("one".into()), None, None, Some("one".into()), None]
    );
    let n = out.column(2).as_primitive::<Int64Type>();
    assert_eq!(n.value(0), 1);
    assert!(n.is_null(1));
    let c = super::enrich_counters("unit_http", "h").unwrap();
    assert_eq!(c.lookups.load(Ordering::Relaxed), 4);
    assert_eq!(c.cache_hits.load(Ordering::Relaxed), 1, "the second 1");
    assert_eq!(c.not_found.load(Ordering::Relaxed), 1);
    assert_eq!(c.errors.load(Ordering::Relaxed), 1, "the 500");
    assert_eq!(c.retries.load(Ordering::Relaxed), 1, "the 500, once");
    // Again: answers come from the cache, the failure is tried again.
    st.apply(&ids(&[Some(1), Some(2), Some(500)])).unwrap();
    assert_eq!(c.requests.load(Ordering::Relaxed), 4 + 2);

    // Values are percent-encoded into the URL.
    let s = spec(
        "h",
        http(&addr, "/c/%s"),
        &[("name", "name", DataType::String)],
    );
    let mut schema = Schema::new(vec![Field::new("id", DataType::String)]);
    let mut errors = Diagnostics::new();
    let p = plan(
        &s,
        "unit_http_enc",
        &mut schema,
        &mut vec![false],
        &mut errors,
    )
    .unwrap();
    let mut st = EnrichStep::open(p).unwrap();
    let b = RecordBatch::try_new(
        with_time(&Schema::new(vec![Field::new("id", DataType::String)])),
        vec![
            Arc::new(arrow::array::StringArray::from(vec!["a/b c"])),
            Arc::new(Int64Array::from(vec![0])),
        ],
    )
    .unwrap();
    assert_eq!(
        strings(&st.apply(&b).unwrap(), 1),
        vec![Some("encoded".into())]
    );

    // fail_on_errors: the error names the step and the row's values.
    let mut strict = spec(
        "strict",
        http(&addr, "/c/%s"),
        &[("name", "name", DataType::String)],
    );
    strict.fail_on_errors = true;
    let e = step("unit_http_strict", &strict)
        .apply(&ids(&[Some(1), Some(500)]))
        .unwrap_err();
    assert_eq!(
        e,
        "enrich step `strict` (http) could not look up id=500: HTTP status 500 (2 attempts)"
    );
    // Timeouts; a step without variables looks up one constant request.
    let mut slow = spec(
        "slow",
        http(&addr, "/c/slow"),
        &[("name", "name", DataType::String)],
    );
    if let EnrichSource::Http(h) = &mut slow.source {
        h.variables.clear();
    }
    slow.timeout = 50;
    slow.fail_on_errors = true;
    let e = step("unit_http_slow", &slow)
        .apply(&ids(&[Some(1), Some(2)]))
        .unwrap_err();
    assert!(
        e.ends_with("could not look up (no variables): timed out after 50ms (2 attempts)"),
        "{e}"
    );
    let c = super::enrich_counters("unit_http_slow", "slow").unwrap();
    assert_eq!(c.timeouts.load(Ordering::Relaxed), 2);
}

/// `%s` in a header value takes the next variable after the URL's.
#[test]
fn header_values_are_filled_from_the_row() {
    let addr = http_server();
    let mut source = http(&addr, "/h/%s");
    if let EnrichSource::Http(h) = &mut source {
        h.headers = vec![("X-Customer".to_string(), at("cust-%s".to_string()))];
        h.variables = vec![at("id".to_string()), at("id".to_string())];
    }
    let s = spec("hdr", source, &[("name", "name", DataType::String)]);
    let out = step("unit_http_hdr", &s)
        .apply(&ids(&[Some(1), Some(22), None]))
        .unwrap();
    assert_eq!(
        strings(&out, 1),
        vec![
            Some("1:cust-1".to_string()),
            Some("22:cust-22".to_string()),
            None
        ]
    );
}

/// A slow lookup holds only its own slot: the others keep starting and
/// finishing (Dagger's ordered async I/O stops at `capacity` behind it),
/// and the rows still come out in their order.
#[test]
fn a_slow_lookup_does_not_hold_up_the_others() {
    let addr = http_server();
    let mut s = spec(
        "gate",
        http(&addr, "/gate/%s"),
        &[("name", "name", DataType::String)],
    );
    s.capacity = 2;
    s.retries = 0;
    s.timeout = 4000;
    s.fail_on_errors = true;
    let out = step("unit_http_gate", &s)
        .apply(&ids(&[
            Some(0),
            Some(1),
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(6),
        ]))
        .unwrap();
    assert_eq!(
        strings(&out, 1),
        ["gate", "1", "2", "3", "4", "5", "6"].map(|v| Some(v.to_string()))
    );
}

/// The ids of `b` and the names looked up for them.
fn names(b: &RecordBatch) -> Vec<(Option<i64>, Option<String>)> {
    let ids = b.column(0).as_primitive::<Int64Type>();
    (0..b.num_rows())
        .map(|i| ids.is_valid(i).then(|| ids.value(i)))
        .zip(strings(b, 1))
        .collect()
}

/// Polls `u` until `enough` holds of everything released, or 10 s pass.
fn poll_until(
    u: &mut UnorderedEnrich,
    got: &mut Vec<(Option<i64>, Option<String>)>,
    enough: impl Fn(&[(Option<i64>, Option<String>)]) -> bool,
) {
    for _ in 0..2000 {
        if enough(got) {
            return;
        }
        if let Some(b) = u.take_done().unwrap() {
            got.extend(names(&b));
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    panic!("not released in time: {got:?}");
}

#[test]
fn unordered_rows_leave_as_their_lookups_finish() {
    let addr = http_server();
    let mut s = spec(
        "hold",
        http(&addr, "/hold/%s"),
        &[("name", "name", DataType::String)],
    );
    s.ordered = false;
    s.capacity = 4;
    s.retries = 0;
    s.timeout = 20_000;
    let mut u = UnorderedEnrich::open(planned("unit_unordered", &s)).unwrap();
    let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let w = woken.clone();
    u.set_waker(Arc::new(move || {
        w.fetch_add(1, Ordering::SeqCst);
    }));
    // Row times are their positions: 0 is held, NULL needs no lookup, 13
    // fails (NULL, fail_on_errors: false).
    let mut got = Vec::new();
    let first = u
        .submit(ids(&[Some(0), Some(1), None, Some(2), Some(13)]))
        .unwrap();
    got.extend(first.as_ref().map(names).unwrap_or_default());
    // A second batch also needing 0 shares its lookup.
    let second = ids(&[Some(0), Some(3)]);
    let second = RecordBatch::try_new(
        second.schema(),
        vec![
            second.column(0).clone(),
            Arc::new(Int64Array::from(vec![10, 11])),
        ],
    )
    .unwrap();
    got.extend(
        u.submit(second)
            .unwrap()
            .as_ref()
            .map(names)
            .unwrap_or_default(),
    );
    poll_until(&mut u, &mut got, |g| g.len() == 5);
    assert!(
        got.iter().all(|(id, _)| *id != Some(0)),
        "0 is still held: {got:?}"
    );
    assert_eq!(u.pending_since(), Some(0), "the held row's event time");
    assert!(woken.load(Ordering::SeqCst) >= 1, "the operator was woken");
    HOLD_OPEN.store(true, Ordering::SeqCst);
    poll_until(&mut u, &mut got, |g| g.len() == 7);
    assert_eq!(u.pending_since(), None);
    got.sort();
    let name = |n: &str| Some(n.to_string());
    assert_eq!(
        got,
        vec![
            (None, None),
            (Some(0), name("h0")),
            (Some(0), name("h0")),
            (Some(1), name("h1")),
            (Some(2), name("h2")),
            (Some(3), name("h3")),
            (Some(13), None),
        ]
    );
    // /hold/0 was asked once for both batches (plus 1, 2, 3 and 13).
    assert_eq!(HOLD_CALLS.load(Ordering::SeqCst), 5);
    // Answers are cached: a repeat is released by `submit` itself.
    let again = u.submit(ids(&[Some(1)])).unwrap().unwrap();
    assert_eq!(names(&again), vec![(Some(1), name("h1"))]);
}

#[test]
fn unordered_failures_follow_fail_on_errors() {
    let addr = http_server();
    let mut s = spec(
        "hold_fail",
        http(&addr, "/c/%s"),
        &[("name", "name", DataType::String)],
    );
    s.ordered = false;
    s.retries = 0;
    s.fail_on_errors = true;
    let mut u = UnorderedEnrich::open(planned("unit_unordered_fail", &s)).unwrap();
    // The failure may already be back when `submit` collects finished
    // lookups, so either call may report it.
    let mut error = u.submit(ids(&[Some(1), Some(500)])).err();
    for _ in 0..2000 {
        if error.is_some() {
            break;
        }
        match u.take_done() {
            Err(e) => {
                error = Some(e);
                break;
            }
            Ok(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let e = error.expect("the failure fails the step");
    assert!(
        e.contains("enrich step `hold_fail` (http) could not look up id=500"),
        "{e}"
    );
}

#[test]
fn unordered_submit_waits_when_too_many_lookups_are_out() {
    let addr = http_server();
    let mut s = spec(
        "many",
        http(&addr, "/c/%s"),
        &[("name", "name", DataType::String)],
    );
    s.ordered = false;
    s.capacity = 1;
    s.cache_ttl = None;
    let mut u = UnorderedEnrich::open(planned("unit_unordered_many", &s)).unwrap();
    let batch: Vec<Option<i64>> = (1000..1100).map(Some).collect();
    // 100 lookups, at most 64 out (capacity 1 × 64): `submit` returns
    // only once at least 36 are back.
    let first = u.submit(ids(&batch)).unwrap().map_or(0, |b| b.num_rows());
    assert!(first >= 36, "{first} rows released by submit");
    let mut got = Vec::new();
    poll_until(&mut u, &mut got, |g| g.len() + first == 100);
    assert_eq!(u.pending_since(), None);
}

#[test]
fn redis_get_and_hgetall() {
    let Some(url) = service("QUIVER_TEST_REDIS", "QUIVER_REQUIRE_REDIS") else {
        return;
    };
    let prefix = format!("quiver_unit_{}", std::process::id());
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("SET")
        .arg(format!("{prefix}:s:1"))
        .arg(r#"{"tier": "gold", "score": 2.5}"#)
        .query::<()>(&mut conn)
        .unwrap();
    redis::cmd("SET")
        .arg(format!("{prefix}:s:2"))
        .arg("plain text")
        .query::<()>(&mut conn)
        .unwrap();
    redis::cmd("HSET")
        .arg(format!("{prefix}:h:1"))
        .arg("seg")
        .arg("a")
        .arg("visits")
        .arg("7")
        .query::<()>(&mut conn)
        .unwrap();
    let src = |command, key: &str| {
        EnrichSource::Redis(RedisLookup {
            url: at(url.clone()),
            command,
            key: at(format!("{prefix}:{key}:%s")),
            variables: vec![at("id".to_string())],
        })
    };
    let s = spec(
        "get",
        src(RedisCommand::Get, "s"),
        &[
            ("tier", "$.tier", DataType::String),
            ("whole", "$", DataType::String),
        ],
    );
    let out = step("unit_redis", &s)
        .apply(&ids(&[Some(1), Some(2), Some(3)]))
        .unwrap();
    assert_eq!(strings(&out, 1), vec![Some("gold".into()), None, None]);
    assert_eq!(
        strings(&out, 2),
        vec![
            Some(r#"{"tier":"gold","score":2.5}"#.into()),
            Some("plain text".into()),
            None
        ]
    );
    let s = spec(
        "hgetall",
        src(RedisCommand::Hgetall, "h"),
        &[
            ("seg", "seg", DataType::String),
            ("visits", "visits", DataType::Int64),
        ],
    );
    let out = step("unit_redis", &s)
        .apply(&ids(&[Some(1), Some(2)]))
        .unwrap();
    assert_eq!(strings(&out, 1), vec![Some("a".into()), None]);
    assert_eq!(out.column(2).as_primitive::<Int64Type>().value(0), 7);
    let c = super::enrich_counters("unit_redis", "hgetall").unwrap();
    assert_eq!(c.not_found.load(Ordering::Relaxed), 1);
    for k in ["s:1", "s:2", "h:1"] {
        redis::cmd("DEL")
            .arg(format!("{prefix}:{k}"))
            .query::<()>(&mut conn)
            .unwrap();
    }
}

/// `sslmode=require` with the test cluster's self-signed CA: the session
/// is encrypted (the server says so); with a CA that did not sign the
/// server's certificate, it is refused.
#[test]
fn postgres_over_tls() {
    let Some(url) = service("QUIVER_TEST_POSTGRES", "QUIVER_REQUIRE_POSTGRES") else {
        return;
    };
    let Some(ca) = service("QUIVER_TEST_POSTGRES_CA", "QUIVER_REQUIRE_POSTGRES") else {
        return;
    };
    let lookup = |url: String| {
        spec(
            "pg_tls",
            EnrichSource::Postgres(PostgresLookup {
                url: at(url),
                query: at("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND $1::bigint IS NOT NULL".to_string()),
                params: vec![at("id".to_string())],
            }),
            &[
                ("ssl", "ssl", DataType::Bool),
                ("tls", "version", DataType::String),
            ],
        )
    };
    let mut s = lookup(format!("{url}?sslmode=require&sslrootcert={ca}"));
    s.fail_on_errors = true;
    let out = step("unit_pg_tls", &s).apply(&ids(&[Some(1)])).unwrap();
    assert!(
        out.column(1).as_boolean().value(0),
        "the session is encrypted"
    );
    assert!(
        strings(&out, 2)[0]
            .as_deref()
            .unwrap_or("")
            .starts_with("TLS")
    );
    // Debian's bundle of public CAs did not sign the test certificate.
    let mut strict = lookup(format!(
        "{url}?sslmode=require&sslrootcert=/etc/ssl/certs/ca-certificates.crt"
    ));
    strict.fail_on_errors = true;
    strict.retries = 0;
    let e = step("unit_pg_tls_unknown_ca", &strict)
        .apply(&ids(&[Some(1)]))
        .unwrap_err();
    assert!(e.contains("cannot reach the source"), "{e}");
}

#[test]
fn postgres_binds_parameters_and_reads_typed_columns() {
    let Some(url) = service("QUIVER_TEST_POSTGRES", "QUIVER_REQUIRE_POSTGRES") else {
        return;
    };
    let table = format!("quiver_unit_{}", std::process::id());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let exec = |sql: String| {
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let d = tokio::spawn(conn);
            client.batch_execute(&sql).await.unwrap();
            drop(client);
            let _ = d.await;
        })
    };
    exec(format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id smallint, name text, score real, doc jsonb, dup int);
         INSERT INTO {table} VALUES (1, 'one', 1.5, '{{\"k\": [1, 2]}}', 0), (2, 'it''s', NULL, NULL, 9), (3, 'x', 0, NULL, 9);"
    ));
    let s = spec(
        "pg",
        EnrichSource::Postgres(PostgresLookup {
            url: at(url.clone()),
            query: at(format!(
                "SELECT name, score, doc FROM {table} WHERE id = $1"
            )),
            params: vec![at("id".to_string())],
        }),
        &[
            ("name", "name", DataType::String),
            ("score", "score", DataType::Float64),
            ("k1", "$.doc.k[1]", DataType::Int64),
        ],
    );
    let out = step("unit_pg", &s)
        .apply(&ids(&[Some(1), Some(2), Some(4)]))
        .unwrap();
    assert_eq!(
        strings(&out, 1),
        vec![Some("one".into()), Some("it's".into()), None]
    );
    let score = out.column(2).as_primitive::<Float64Type>();
    assert_eq!(score.value(0), 1.5);
    assert!(score.is_null(1));
    assert_eq!(out.column(3).as_primitive::<Int64Type>().value(0), 2);
    // More than one row is an error; a value out of the parameter's range too.
    let mut strict = spec(
        "pg_strict",
        EnrichSource::Postgres(PostgresLookup {
            url: at(url.clone()),
            query: at(format!("SELECT name FROM {table} WHERE dup = $1")),
            params: vec![at("id".to_string())],
        }),
        &[("name", "name", DataType::String)],
    );
    strict.fail_on_errors = true;
    let e = step("unit_pg", &strict)
        .apply(&ids(&[Some(9)]))
        .unwrap_err();
    assert!(e.contains("returned 2 rows"), "{e}");
    let e = step("unit_pg", &s).apply(&ids(&[Some(1 << 40)]));
    assert!(e.is_ok(), "fail_on_errors false: NULL");
    exec(format!("DROP TABLE {table}"));
}
