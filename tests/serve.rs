//! The feature server end to end: a backfill writes the online store, the
//! server (in-process, on a loopback port) answers Feast-shaped requests
//! with the same values `quiver get` reads, and bad requests get 4xx JSON.

use std::fs;
use std::sync::Arc;

use quiver_server::request::Limits;
use quiver_server::{Background, ServeOptions, feature_router};
use quiver_spec::DeploymentConfig;
use quiver_store::{EmbeddedStore, OnlineStore};
use quiver_tests::{Scratch, http, write_events};
use quiver_types::time::parse_timestamp;
use serde_json::{Value as Json, json};

fn t(s: &str) -> i64 {
    parse_timestamp(s).unwrap()
}

/// Two jobs over the same events: `spend` (no TTL) and `recent` (TTL 1h,
/// so everything in 2024 is outside its max age now).
fn deployment() -> Scratch {
    let s = Scratch::new();
    let data = s.dir.path().join("data");
    write_events(
        &data.join("part-0.parquet"),
        &[
            (t("2024-01-01T00:10:00"), Some(1), Some(5.0)),
            (t("2024-01-01T00:20:00"), Some(1), Some(7.5)),
            (t("2024-01-01T01:10:00"), Some(2), None),
            (t("2024-01-01T01:15:00"), Some(3), Some(1.0)),
        ],
        10,
    );
    for (name, sinks) in [("spend", "{online: {}}"), ("recent", "{online: {ttl: 1h}}")] {
        let path = s.dir.path().join(format!("{name}.yaml"));
        fs::write(
            &path,
            format!(
                "name: {name}\nsources:\n  events:\n    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}\n    event_time: event_time\n    watermark_delay: 1s\n    bounded: {{parquet: data/}}\nsql: |\n  SELECT customer_id, COUNT(*) AS n, SUM(amount) AS total\n  FROM events\n  GROUP BY TUMBLE(event_time, INTERVAL '1' HOUR), customer_id\nsinks: {sinks}\n"
            ),
        )
        .unwrap();
        s.quiver(&["backfill", path.to_str().unwrap(), "--no-progress"])
            .unwrap();
    }
    s
}

fn serve(store: Arc<dyn OnlineStore>, options: ServeOptions) -> Background {
    let router = feature_router(store, options, prometheus::Registry::new()).unwrap();
    Background::start("127.0.0.1:0", router).unwrap()
}

fn open(s: &Scratch) -> Arc<dyn OnlineStore> {
    Arc::new(EmbeddedStore::open(&s.dir.path().join("online")).unwrap())
}

fn post(server: &Background, body: &Json) -> (u16, Json) {
    let (status, text) = http(
        &server.addr().to_string(),
        "POST",
        "/get-online-features",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Json::String(text)),
    )
}

fn options() -> ServeOptions {
    ServeOptions {
        limits: Limits::default(),
        token: None,
    }
}

#[test]
fn answers_in_feasts_shape_with_the_values_quiver_get_reads() {
    let s = deployment();
    let server = serve(open(&s), options());
    let (status, r) = post(
        &server,
        &json!({"features": ["spend:total", "spend:n", "recent:n"],
                "entities": {"customer_id": [1, 2, 4]}, "full_feature_names": true}),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        r["metadata"]["feature_names"],
        json!(["customer_id", "spend__total", "spend__n", "recent__n"])
    );
    let res = r["results"].as_array().unwrap();
    assert_eq!(res.len(), 4);
    assert_eq!(res[0]["values"], json!([1, 2, 4]));
    assert_eq!(res[0]["statuses"], json!(["PRESENT", "PRESENT", "PRESENT"]));
    assert_eq!(res[1]["values"], json!([12.5, null, null]));
    assert_eq!(
        res[1]["statuses"],
        json!(["PRESENT", "NULL_VALUE", "NOT_FOUND"])
    );
    assert_eq!(res[2]["values"], json!([2, 1, null]));
    assert_eq!(
        res[2]["event_timestamps"],
        json!([
            "2024-01-01T00:59:59.999Z",
            "2024-01-01T01:59:59.999Z",
            "1970-01-01T00:00:00Z"
        ])
    );
    // TTL is enforced on read: an expired value is not served.
    assert_eq!(res[3]["values"], json!([null, null, null]));
    assert_eq!(
        res[3]["statuses"],
        json!(["OUTSIDE_MAX_AGE", "OUTSIDE_MAX_AGE", "NOT_FOUND"])
    );

    // The same values as `quiver get`.
    let config = DeploymentConfig::load(Some(&s.config())).unwrap();
    let got = quiver_cli::lookup(&config, "spend", &["customer_id=1".into()], None).unwrap();
    assert_eq!(got["features"]["total"]["value"], res[1]["values"][0]);
    assert_eq!(got["event_time"], res[1]["event_timestamps"][0]);

    let (_, full) = post(
        &server,
        &json!({"features": ["spend:n"], "entities": {"customer_id": ["3"]},
                "full_feature_names": true}),
    );
    assert_eq!(
        full["metadata"]["feature_names"],
        json!(["customer_id", "spend__n"])
    );
    assert_eq!(full["results"][1]["values"], json!([1]));
}

#[test]
fn bad_requests_get_4xx_json_naming_the_problem() {
    let s = deployment();
    let server = serve(
        open(&s),
        ServeOptions {
            limits: Limits {
                max_body_bytes: 2_000,
                max_entities: 10,
                max_features: 3,
                ..Limits::default()
            },
            token: None,
        },
    );
    let cases = [
        (
            json!({"features": ["nope:n"], "entities": {"customer_id": [1]}}),
            404,
            "unknown_job",
        ),
        (
            json!({"features": ["spend:nope"], "entities": {"customer_id": [1]}}),
            404,
            "unknown_feature",
        ),
        (
            json!({"features": ["spend:n"], "entities": {"customer_id": [true]}}),
            400,
            "wrong_entity_type",
        ),
        (
            json!({"features": ["spend:n"], "entities": {"user_id": [1]}}),
            400,
            "missing_entity",
        ),
        (json!({"features": ["spend:n"]}), 400, "missing_field"),
        (
            json!({"features": ["spend:n", "recent:n"], "entities": {"customer_id": [1]}}),
            400,
            "feature_name_collision",
        ),
        (
            json!({"features": ["spend:n", "spend:n", "spend:n", "spend:n"], "entities": {"customer_id": [1]}}),
            413,
            "too_many_features",
        ),
        (
            json!({"features": ["spend:n"], "entities": {"customer_id": (0..11).collect::<Vec<_>>()}}),
            413,
            "too_many_entities",
        ),
        (
            json!({"features": ["spend:n"], "entities": {"customer_id": [1]}, "pad": "x".repeat(3_000)}),
            413,
            "body_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let (got, r) = post(&server, &body);
        assert_eq!(
            (got, r["error"]["code"].as_str()),
            (status, Some(code)),
            "{r}"
        );
        assert!(
            r["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (status, text) = http(
        &server.addr().to_string(),
        "POST",
        "/get-online-features",
        &[],
        b"{\"features\": [",
    )
    .unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("invalid_json") && text.contains("line 1"),
        "{text}"
    );
}

#[test]
fn a_bearer_token_guards_features_but_not_health() {
    let s = deployment();
    let server = serve(
        open(&s),
        ServeOptions {
            limits: Limits::default(),
            token: Some("s3cret".into()),
        },
    );
    let addr = server.addr().to_string();
    let body = json!({"features": ["spend:n"], "entities": {"customer_id": [1]}}).to_string();
    let req = |auth: &[(&str, &str)]| {
        http(&addr, "POST", "/get-online-features", auth, body.as_bytes())
            .unwrap()
            .0
    };
    assert_eq!(req(&[]), 401);
    assert_eq!(req(&[("Authorization", "Bearer wrong")]), 401);
    assert_eq!(req(&[("Authorization", "Bearer s3cret")]), 200);
    assert_eq!(http(&addr, "GET", "/health", &[], b"").unwrap().0, 200);
    assert_eq!(http(&addr, "GET", "/features", &[], b"").unwrap().0, 401);
}

#[test]
fn lists_jobs_and_counts_requests_in_metrics() {
    let s = deployment();
    let server = serve(open(&s), options());
    let addr = server.addr().to_string();
    let (status, list) = http(&addr, "GET", "/features", &[], b"").unwrap();
    assert_eq!(status, 200);
    let list: Json = serde_json::from_str(&list).unwrap();
    let recent = list["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "recent")
        .unwrap();
    assert_eq!(recent["ttl_seconds"], 3600.0);
    assert_eq!(
        recent["entities"],
        json!([{"name": "customer_id", "type": "int64"}])
    );
    post(
        &server,
        &json!({"features": ["spend:n", "spend:total"], "entities": {"customer_id": [1, 2]}}),
    );
    let (_, m) = http(&addr, "GET", "/metrics", &[], b"").unwrap();
    for line in [
        "quiver_http_requests_total{endpoint=\"get-online-features\",status=\"200\"} 1",
        "quiver_served_entities_total{quiver_job=\"spend\"} 2",
        "quiver_http_request_seconds_count{endpoint=\"get-online-features\"} 1",
    ] {
        assert!(m.contains(line), "{line} not in\n{m}");
    }
    quiver_tests::promtool_accepts(&m);
}

#[test]
fn a_job_registered_again_with_other_columns_is_read_by_name() {
    use quiver_store::FeatureRow;
    use quiver_types::Value;
    let s = deployment();
    let store = open(&s);
    let server = serve(store.clone(), options());
    let ask = || {
        post(
            &server,
            &json!({"features": ["spend:n", "spend:total"], "entities": {"customer_id": [1, 9]}}),
        )
    };
    assert_eq!(ask().1["results"][1]["values"], json!([2, null]));
    // The job is redeployed with its features in another order: old rows
    // (stored by position) are dropped, new ones are read by name.
    let mut meta = store.job("spend").unwrap().unwrap();
    meta.features.reverse();
    store.register(&meta).unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    store
        .write(
            "spend",
            &[(
                vec![Value::Int64(9)],
                FeatureRow {
                    event_time: now,
                    values: vec![Value::Float64(4.5), Value::Int64(3)],
                },
            )],
        )
        .unwrap();
    let (status, r) = ask();
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["results"][1]["values"], json!([null, 3]));
    assert_eq!(r["results"][1]["statuses"], json!(["NOT_FOUND", "PRESENT"]));
    assert_eq!(r["results"][2]["values"], json!([null, 4.5]));
}

/// `backfill --metrics-push`: a finished backfill's metrics reach a real
/// Prometheus Pushgateway (scripts/services.sh), success flag included; an
/// unreachable gateway is an error that says the data is committed.
#[test]
fn a_finished_backfill_pushes_its_metrics_to_a_pushgateway() {
    let Some(gateway) = quiver_tests::service(
        "QUIVER_TEST_PUSHGATEWAY",
        "QUIVER_REQUIRE_PUSHGATEWAY",
        "Prometheus Pushgateway",
    ) else {
        return;
    };
    let s = Scratch::new();
    let data = s.dir.path().join("data");
    write_events(
        &data.join("part-0.parquet"),
        &[
            (t("2024-01-01T00:10:00"), Some(1), Some(5.0)),
            (t("2024-01-01T01:10:00"), Some(2), None),
        ],
        10,
    );
    // A name of its own, so parallel runs do not share a group.
    let name = format!("pushed_{}", std::process::id());
    let path = s.dir.path().join("job.yaml");
    fs::write(
        &path,
        format!(
            "name: {name}\nsources:\n  events:\n    schema: {{event_time: timestamp, customer_id: int64, amount: float64}}\n    event_time: event_time\n    bounded: {{parquet: data/}}\nsql: |\n  SELECT customer_id, COUNT(*) AS n FROM events\n  GROUP BY TUMBLE(event_time, INTERVAL '1' HOUR), customer_id\nsinks: {{online: {{}}}}\n"
        ),
    )
    .unwrap();
    let job = path.to_str().unwrap();
    s.quiver(&["backfill", job, "--no-progress", "--metrics-push", &gateway])
        .unwrap();
    let addr = gateway.trim_start_matches("http://");
    let (status, text) = http(addr, "GET", "/metrics", &[], b"").unwrap();
    assert_eq!(status, 200);
    let line = |metric: &str| {
        text.lines()
            .find(|l| l.starts_with(metric) && l.contains(&format!("backfill=\"{name}\"")))
            .unwrap_or_else(|| panic!("no {metric} of {name} in\n{text}"))
            .to_string()
    };
    assert!(line("quiver_backfill_success{").ends_with(" 1"));
    assert!(
        line("quiver_backfill_finished_timestamp_seconds{").contains("job=\"quiver_backfill\"")
    );
    let rows = line("quiver_job_rows_out_total{");
    assert!(rows.contains(&format!("quiver_job=\"{name}\"")), "{rows}");
    assert!(rows.ends_with(" 2"), "{rows}");
    assert!(line("quiver_source_rows_total{").ends_with(" 2"));
    // Nothing listens on port 9: the push fails, and says what did not.
    let e = s
        .quiver(&[
            "backfill",
            job,
            "--no-progress",
            "--metrics-push",
            "http://127.0.0.1:9",
        ])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--metrics-push http://127.0.0.1:9"), "{e}");
    assert!(
        e.contains("the backfill itself finished and is committed"),
        "{e}"
    );
    use base64::Engine;
    let group = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&name);
    let _ = http(
        addr,
        "DELETE",
        &format!("/metrics/job/quiver_backfill/backfill@base64/{group}"),
        &[],
        b"",
    );
}
