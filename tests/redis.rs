//! The Redis online store end to end: the example jobs backfilled with
//! `online_store: redis://...` read back exactly as with the embedded store,
//! through the store interface and through `quiver get`. Needs a real
//! redis-server (`scripts/services.sh start` starts one; `QUIVER_TEST_REDIS`
//! names it).
//!
//! Without `QUIVER_TEST_REDIS` these tests say so and pass, unless
//! `QUIVER_REQUIRE_REDIS=1` (set by `scripts/test.sh`), when they fail.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use quiver_spec::DeploymentConfig;
use quiver_store::{EmbeddedStore, EntityKey, FeatureStatus, OnlineStore, RedisStore};
use quiver_tests::{Scratch, example_jobs, parquet_files, quiver, read_parquet};
use quiver_types::Value;
use quiver_types::time::parse_timestamp;

fn redis_url() -> Option<String> {
    quiver_tests::service("QUIVER_TEST_REDIS", "QUIVER_REQUIRE_REDIS", "Redis server")
}

/// Deletes the test's keys when it ends, pass or fail.
struct Cleanup(RedisStore);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.clear();
    }
}

/// The distinct entity keys of a job's historical output, in first-seen order.
fn entity_keys(dataset: &Path, columns: &[String]) -> Vec<EntityKey> {
    let mut out = Vec::new();
    // Values are not Ord; their debug text is a faithful stand-in.
    let mut seen = BTreeSet::new();
    for f in parquet_files(dataset) {
        for b in read_parquet(&f) {
            let idx: Vec<usize> = columns
                .iter()
                .map(|c| b.schema().index_of(c).expect("entity column in output"))
                .collect();
            for r in 0..b.num_rows() {
                let key: EntityKey = idx
                    .iter()
                    .map(|&i| Value::from_array(b.column(i).as_ref(), r))
                    .collect();
                if seen.insert(format!("{key:?}")) {
                    out.push(key);
                }
            }
        }
    }
    out
}

#[test]
fn a_backfill_into_redis_reads_back_like_the_embedded_store() {
    let Some(url) = redis_url() else {
        return;
    };
    let s = Scratch::new();
    let jobs = example_jobs(&s);

    // The same jobs, once per backend: switching is one line of quiver.yaml.
    let prefix = format!(
        "e2e-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let sep = if url.contains('?') { '&' } else { '?' };
    let redis_url = format!("{url}{sep}prefix={prefix}");
    let redis_yaml = s.dir.path().join("redis.yaml");
    fs::write(
        &redis_yaml,
        format!("online_store: {redis_url}\nhistorical_store: historical\n"),
    )
    .unwrap();
    let redis = RedisStore::open(&redis_url).unwrap();
    let _cleanup = Cleanup(RedisStore::open(&redis_url).unwrap());
    s.quiver(&["backfill", jobs.to_str().unwrap(), "--no-progress"])
        .unwrap();
    quiver(&[
        "backfill",
        jobs.to_str().unwrap(),
        "--no-progress",
        "--workers",
        "2",
        "--config",
        redis_yaml.to_str().unwrap(),
    ])
    .unwrap();
    let embedded = EmbeddedStore::open(&s.dir.path().join("online")).unwrap();

    let metas = embedded.jobs().unwrap();
    assert!(metas.len() > 1, "{metas:?}");
    assert_eq!(redis.jobs().unwrap(), metas, "the same job metadata");

    let embedded_cfg = DeploymentConfig::load(Some(&s.config())).unwrap();
    let redis_cfg = DeploymentConfig::load(Some(&redis_yaml)).unwrap();
    let end = parse_timestamp("2024-03-01T00:00:00Z").unwrap();
    let year_later = end + 366 * 86_400_000;
    let mut present = 0;
    for meta in &metas {
        let cols: Vec<String> = meta.entity.iter().map(|(n, _)| n.clone()).collect();
        let mut keys = entity_keys(&s.dataset(&meta.name), &cols);
        assert!(!keys.is_empty(), "{}: no entities", meta.name);
        let n_found = keys.len();
        // An entity no job has seen.
        keys.push(
            meta.entity_fields()
                .iter()
                .map(|f| match f.data_type {
                    quiver_types::DataType::Int64 => Value::Int64(-424_242),
                    _ => Value::String("nobody".into()),
                })
                .collect(),
        );
        for now in [end, year_later] {
            let e = embedded.read(&meta.name, &keys, now).unwrap();
            let r = redis.read(&meta.name, &keys, now).unwrap();
            assert_eq!(e.len(), r.len());
            for (i, (a, b)) in e.iter().zip(&r).enumerate() {
                assert_eq!(a, b, "{} key {:?} at {now}", meta.name, keys[i]);
            }
            assert_eq!(
                r[n_found].statuses,
                vec![FeatureStatus::NotFound; meta.features.len()]
            );
            if now == end {
                present += r
                    .iter()
                    .filter(|x| x.statuses.contains(&FeatureStatus::Present))
                    .count();
            } else if meta.ttl.is_some() {
                assert!(
                    r[..n_found].iter().all(|x| x
                        .statuses
                        .iter()
                        .all(|s| *s == FeatureStatus::OutsideMaxAge)),
                    "{}: a year later every row is past its TTL",
                    meta.name
                );
            }
        }
        // `quiver get` prints the same thing from either store.
        for key in keys.iter().take(5) {
            let args: Vec<String> = cols
                .iter()
                .zip(key)
                .map(|(c, v)| match v {
                    Value::Int64(i) => format!("{c}={i}"),
                    Value::String(s) => format!("{c}={s}"),
                    other => panic!("example entity value {other:?}"),
                })
                .collect();
            for at in ["2024-03-01", "2024-02-29T12:00:00Z"] {
                let a = quiver_cli::lookup(&embedded_cfg, &meta.name, &args, Some(at)).unwrap();
                let b = quiver_cli::lookup(&redis_cfg, &meta.name, &args, Some(at)).unwrap();
                assert_eq!(a, b, "{} {args:?} at {at}", meta.name);
            }
        }
    }
    assert!(
        present > 0,
        "some features are fresh at the end of the data"
    );
}

#[test]
fn an_unreachable_redis_is_a_user_error_naming_the_url() {
    let s = Scratch::new();
    let yaml = s.dir.path().join("down.yaml");
    // Port 1 on loopback: nothing listens there.
    fs::write(&yaml, "online_store: redis://:hunter2@127.0.0.1:1/3\n").unwrap();
    let cfg = DeploymentConfig::load(Some(&yaml)).unwrap();
    let err = quiver_cli::lookup(&cfg, "j", &["id=1".into()], None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, quiver_cli::Failure::User(_)), "{msg}");
    assert!(msg.contains("redis://:***@127.0.0.1:1/3"), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(msg.contains("scripts/services.sh start"), "{msg}");
}
