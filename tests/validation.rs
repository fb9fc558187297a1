//! Validation errors: each bad job file gets a message at the right
//! `file:line:col`, with a hint.

use std::path::Path;

use quiver_types::Diagnostics;

const GOOD: &str = r#"name: bookings_[w]m
params:
  w: [1, 10]
sources:
  bookings:
    schema: {event_time: timestamp, customer_id: int64, amount: float64}
    event_time: event_time
    watermark_delay: 5s
    bounded: {parquet: data/}
sql: |
  SELECT customer_id, COUNT(*) AS n,
         TUMBLE_END(event_time, INTERVAL '[w]' MINUTE) AS window_end
  FROM bookings
  GROUP BY TUMBLE(event_time, INTERVAL '[w]' MINUTE), customer_id
features:
  n: {description: Bookings., data_type: numerical}
sinks:
  online: {ttl: 1d}
"#;

fn env(name: &str) -> Option<String> {
    (name == "DATA").then(|| "/data".to_string())
}

/// Parses and compiles `text` as `job.yaml`; returns all problems.
fn problems(text: &str) -> Diagnostics {
    let jobs = match quiver_spec::parse_jobs(text, "job.yaml", Path::new("."), &env) {
        Ok(j) => j,
        Err(d) => return d,
    };
    let registry = quiver_udfs::registry();
    let mut all = Diagnostics::new();
    for j in jobs {
        if let Err(d) = quiver_sql::compile_job(&j, &registry) {
            all.0.extend(d.0);
        }
    }
    all
}

/// Asserts one problem at `line:col` whose text contains every fragment.
fn expect(text: &str, line: u32, col: u32, fragments: &[&str]) {
    let d = problems(text);
    let hit =
        d.0.iter()
            .find(|p| p.pos.is_some_and(|p| p.line == line && p.col == col));
    let Some(hit) = hit else {
        panic!("no problem at {line}:{col}; got:\n{d}")
    };
    let msg = hit.to_string();
    for f in fragments {
        assert!(
            msg.to_lowercase().contains(&f.to_lowercase()),
            "`{msg}` lacks `{f}`"
        );
    }
    assert!(
        msg.starts_with(&format!("job.yaml:{line}:{col}: ")),
        "{msg}"
    );
}

#[test]
fn the_good_job_is_valid_and_expands_to_two_jobs() {
    assert!(problems(GOOD).is_empty(), "{}", problems(GOOD));
    let jobs = quiver_spec::parse_jobs(GOOD, "job.yaml", Path::new("."), &env).unwrap();
    let names: Vec<&str> = jobs.iter().map(|j| j.name.value.as_str()).collect();
    assert_eq!(names, ["bookings_1m", "bookings_10m"]);
}

#[test]
fn unknown_keys_suggest_the_right_one() {
    expect(
        &GOOD.replace("features:", "featurs:"),
        15,
        1,
        &["unknown key `featurs`", "did you mean `features`"],
    );
    expect(
        &GOOD.replace("watermark_delay: 5s", "watermark_dela: 5s"),
        8,
        5,
        &["watermark_dela", "watermark_delay"],
    );
}

#[test]
fn missing_fields_name_the_field() {
    let no_sql = GOOD.replace("sql: |", "sqlx: |");
    let d = problems(&no_sql);
    assert!(d.to_string().contains("missing `sql`"), "{d}");
    let no_sinks: String = GOOD
        .lines()
        .take_while(|l| !l.starts_with("sinks"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(problems(&no_sinks).to_string().contains("missing `sinks`"));
}

#[test]
fn wrong_types_are_reported_where_written() {
    expect(
        &GOOD.replace("watermark_delay: 5s", "watermark_delay: soon"),
        8,
        22,
        &["not a duration"],
    );
    expect(
        &GOOD.replace("customer_id: int64", "customer_id: int46"),
        6,
        50,
        &["unknown type `int46`", "int64"],
    );
    expect(
        &GOOD.replace("  online: {ttl: 1d}", "  online: [1d]"),
        18,
        11,
        &["must be a mapping"],
    );
    expect(
        &GOOD.replace("data_type: numerical", "data_type: numeric"),
        16,
        42,
        &["numerical"],
    );
}

#[test]
fn duplicate_names_after_expansion() {
    let same = GOOD.replace("name: bookings_[w]m", "name: bookings");
    expect(
        &same,
        1,
        7,
        &["duplicate job name `bookings`", "params w=10"],
    );
}

#[test]
fn sql_tables_must_be_sources() {
    expect(
        &GOOD.replace("FROM bookings", "FROM booking"),
        13,
        8,
        &["table `booking` is not defined", "did you mean `bookings`"],
    );
}

#[test]
fn features_and_entity_must_be_output_columns() {
    expect(
        &GOOD.replace("  n: {description", "  count: {description"),
        16,
        3,
        &[
            "feature `count` is not an output column",
            "customer_id, n, window_end",
        ],
    );
    let with_entity = GOOD.replace("sinks:", "entity: [customer, customer_id]\nsinks:");
    expect(
        &with_entity,
        17,
        10,
        &["entity column `customer` is not an output column"],
    );
}

#[test]
fn sql_errors_point_into_the_file() {
    // An unknown column inside the block scalar: line 11, after 2 spaces of indentation.
    expect(
        &GOOD.replace("SELECT customer_id,", "SELECT customer,"),
        11,
        10,
        &["unknown column `customer`", "customer_id"],
    );
    // A syntax error.
    expect(
        &GOOD.replace("COUNT(*) AS n,", "COUNT(*) AS n,,"),
        11,
        37,
        &["syntax error", "found: ,"],
    );
    // A window mismatch, inside a substituted parameter.
    expect(
        &GOOD.replace(
            "TUMBLE_END(event_time, INTERVAL '[w]' MINUTE)",
            "TUMBLE_END(event_time, INTERVAL '5' MINUTE)",
        ),
        12,
        10,
        &["TUMBLE_END", "groups by"],
    );
}

#[test]
fn env_references_must_be_set() {
    // Inside a YAML flow mapping `{...}`, braces must be quoted.
    let with_env = GOOD.replace(
        "bounded: {parquet: data/}",
        "bounded: {parquet: \"${DATA}/bookings\"}",
    );
    assert!(problems(&with_env).is_empty(), "{}", problems(&with_env));
    let missing = GOOD.replace(
        "bounded: {parquet: data/}",
        "bounded: {parquet: \"${NOPE}/bookings\"}",
    );
    expect(
        &missing,
        9,
        25,
        &["environment variable `NOPE` is not set", "${NOPE:-"],
    );
}

#[test]
fn an_empty_filter_invalid_is_refused_with_an_example() {
    let pp = GOOD.replace(
        "sinks:",
        "postprocessors:\n  - {filter_invalid: {}}\nsinks:",
    );
    let d = problems(&pp).to_string();
    assert!(d.contains("`filter_invalid` is missing `checks`"), "{d}");
    assert!(d.contains("positive_amount: amount > 0"), "{d}");
}

#[test]
fn kafka_start_positions_are_checked_where_written() {
    let with_start = |start: &str| {
        GOOD.replace(
            "    bounded: {parquet: data/}\n",
            &format!(
                "    bounded: {{parquet: data/}}\n    unbounded:\n      kafka: {{topic: t, start: {start}}}\n"
            ),
        )
    };
    expect(
        &with_start("lastest"),
        11,
        32,
        &[
            "`start: lastest` is not a start position",
            "did you mean `latest`?",
        ],
    );
    expect(&with_start("soon"), 11, 32, &["now-1h", "earliest"]);
    for good in [
        "committed",
        "earliest",
        "latest",
        "now-1h",
        "2026-11-01T00:00:00Z",
    ] {
        assert!(problems(&with_start(good)).0.is_empty(), "{good}");
    }
}

#[test]
fn yaml_syntax_errors_have_positions() {
    let d = problems("name: a\nsources: {x: [1, 2}\n");
    assert_eq!(d.0.len(), 1);
    assert!(
        d.0[0].pos.is_some() && d.0[0].message.contains("invalid YAML"),
        "{d}"
    );
    let d = problems("name: a\nsinks: {kafka: {topic: ${TOPIC}}}\n");
    assert_eq!(d.0.len(), 1);
    assert!(d.0[0].to_string().contains("quote `${NAME}`"), "{d}");
}

#[test]
fn protobuf_payloads_need_a_descriptor_set_and_a_message() {
    let live = GOOD.replace(
        "    bounded: {parquet: data/}\n",
        "    bounded: {parquet: data/}\n    unbounded:\n      kafka: {topic: t, format: protobuf, message: a.B}\n",
    );
    expect(
        &live,
        11,
        14,
        &["missing `descriptor_set`", "protoc --include_imports"],
    );
    let json = GOOD.replace(
        "    bounded: {parquet: data/}\n",
        "    bounded: {parquet: data/}\n    unbounded:\n      kafka: {topic: t, descriptor_set: x.desc}\n",
    );
    expect(
        &json,
        11,
        25,
        &[
            "applies only to `format: protobuf`",
            "add `format: protobuf`",
        ],
    );
    let sink = GOOD.replace(
        "  online: {ttl: 1d}\n",
        "  online: {ttl: 1d}\n  kafka: {topic: out, format: protobuf, descriptor_set: x.desc}\n",
    );
    expect(&sink, 19, 10, &["the kafka sink is missing `message`"]);
}
