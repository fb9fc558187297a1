//! One conformance suite, run against every online-store backend: the
//! embedded store always, and Redis when `QUIVER_TEST_REDIS` names a server
//! (`scripts/services.sh start` starts one and prints the variable).
//!
//! Without `QUIVER_TEST_REDIS` the Redis half says so and passes, unless
//! `QUIVER_REQUIRE_REDIS=1` (set by `scripts/test.sh`), when it fails. Each
//! test uses its own key prefix and deletes its keys at the end, so tests
//! (and repeated runs) never see each other's data.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use quiver_store::{
    EmbeddedStore, EntityKey, FeatureRow, FeatureStatus, JobMeta, OnlineStore, RedisStore,
    StoreError,
};
use quiver_types::{DataType, Field, Value};

fn redis_url() -> Option<String> {
    match std::env::var("QUIVER_TEST_REDIS") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("QUIVER_REQUIRE_REDIS").as_deref() != Ok("1"),
                "QUIVER_REQUIRE_REDIS=1 but QUIVER_TEST_REDIS is not set; run scripts/services.sh start"
            );
            eprintln!(
                "skipped the Redis backend: no server (start one with scripts/services.sh start and set QUIVER_TEST_REDIS)"
            );
            None
        }
    }
}

fn with_prefix(url: &str, prefix: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}prefix={prefix}")
}

/// `url` with a key prefix no other test or run uses.
fn fresh_prefix_url(url: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let prefix = format!(
        "test-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    with_prefix(url, &prefix)
}

/// Deletes a Redis store's keys when the test ends, pass or fail.
struct Cleanup(Arc<RedisStore>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = self.0.clear();
    }
}

fn redis_store() -> Option<(Arc<RedisStore>, Cleanup)> {
    let url = redis_url()?;
    let store = Arc::new(RedisStore::open(&fresh_prefix_url(&url)).expect("open Redis store"));
    Some((store.clone(), Cleanup(store)))
}

/// Runs `case` against each backend, naming it in failures.
fn on_every_backend(case: impl Fn(&dyn OnlineStore, &str)) {
    let dir = tempfile::tempdir().unwrap();
    let embedded = EmbeddedStore::open(dir.path()).unwrap();
    case(&embedded, "embedded");
    if let Some((redis, _cleanup)) = redis_store() {
        case(redis.as_ref(), "redis");
    }
}

fn meta(name: &str, entity: &[(&str, DataType)], features: &[(&str, DataType)]) -> JobMeta {
    let fields = |cols: &[(&str, DataType)]| -> Vec<Field> {
        cols.iter().map(|(n, t)| Field::new(*n, *t)).collect()
    };
    JobMeta::new(
        name,
        &fields(entity),
        &fields(features),
        None,
        Some(format!("{name} features")),
    )
}

fn row(t: i64, values: Vec<Value>) -> FeatureRow {
    FeatureRow {
        event_time: t,
        values,
    }
}

fn int_key(i: i64) -> EntityKey {
    vec![Value::Int64(i)]
}

/// The value of feature 0 and the event time read for `key`.
fn read_one(s: &dyn OnlineStore, job: &str, key: EntityKey) -> Option<(i64, Value)> {
    s.read(job, &[key], 0).unwrap()[0]
        .row
        .as_ref()
        .map(|r| (r.event_time, r.values[0].clone()))
}

const ALL_TYPES: [(&str, DataType); 7] = [
    ("b", DataType::Bool),
    ("i", DataType::Int64),
    ("f", DataType::Float64),
    ("s", DataType::String),
    ("t", DataType::Timestamp),
    ("d", DataType::Date),
    ("x", DataType::Bytes),
];

fn every_value() -> Vec<Value> {
    vec![
        Value::Bool(true),
        Value::Int64(i64::MIN),
        Value::Float64(-1.5e300),
        Value::String("héllo, \"world\"\n".into()),
        Value::Timestamp(1_704_067_199_999),
        Value::Date(-719_162),
        Value::Bytes(vec![0, 1, 255]),
    ]
}

#[test]
fn every_value_type_round_trips_as_feature_and_as_key() {
    on_every_backend(|s, backend| {
        let m = meta("types", &[("id", DataType::Int64)], &ALL_TYPES);
        s.register(&m).unwrap();
        let nulls = vec![Value::Null; ALL_TYPES.len()];
        s.write(
            "types",
            &[
                (int_key(1), row(10, every_value())),
                (int_key(2), row(10, nulls.clone())),
            ],
        )
        .unwrap();
        let r = s.read("types", &[int_key(1), int_key(2)], 20).unwrap();
        assert_eq!(r[0].row, Some(row(10, every_value())), "{backend}");
        assert_eq!(
            r[0].statuses,
            vec![FeatureStatus::Present; ALL_TYPES.len()],
            "{backend}"
        );
        assert_eq!(r[1].row, Some(row(10, nulls)), "{backend}");
        assert_eq!(
            r[1].statuses,
            vec![FeatureStatus::NullValue; ALL_TYPES.len()],
            "{backend}"
        );

        // Every type, NULL included, as an entity key; a compound key too.
        let keyed = meta(
            "keyed",
            &[("k", DataType::String), ("a", DataType::Int64)],
            &[("n", DataType::Int64)],
        );
        s.register(&keyed).unwrap();
        let mut keys: Vec<EntityKey> = every_value()
            .into_iter()
            .chain([Value::Null, Value::Float64(-0.0), Value::Float64(0.0)])
            .map(|v| vec![v, Value::Int64(7)])
            .collect();
        keys.push(vec![Value::Int64(7), Value::Null]);
        let rows: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), row(5, vec![Value::Int64(i as i64)])))
            .collect();
        s.write("keyed", &rows).unwrap();
        let got = s.read("keyed", &keys, 5).unwrap();
        for (i, g) in got.iter().enumerate() {
            assert_eq!(
                g.row,
                Some(row(5, vec![Value::Int64(i as i64)])),
                "{backend}: key {:?}",
                keys[i]
            );
        }
        // int64 7 and float64 7.0 are different entities.
        let other = s
            .read("keyed", &[vec![Value::Float64(7.0), Value::Null]], 5)
            .unwrap();
        assert_eq!(
            other[0].statuses,
            vec![FeatureStatus::NotFound],
            "{backend}"
        );
    });
}

#[test]
fn older_event_times_never_overwrite_newer() {
    on_every_backend(|s, backend| {
        let m = meta("j", &[("id", DataType::Int64)], &[("v", DataType::String)]);
        s.register(&m).unwrap();
        let v = |x: &str| vec![Value::String(x.into())];
        // Across batches: older ignored, equal replaces, newer replaces.
        s.write("j", &[(int_key(1), row(100, v("a")))]).unwrap();
        s.write("j", &[(int_key(1), row(50, v("old")))]).unwrap();
        assert_eq!(
            read_one(s, "j", int_key(1)),
            Some((100, Value::String("a".into()))),
            "{backend}"
        );
        s.write("j", &[(int_key(1), row(100, v("same-time")))])
            .unwrap();
        assert_eq!(
            read_one(s, "j", int_key(1)),
            Some((100, Value::String("same-time".into()))),
            "{backend}"
        );
        s.write("j", &[(int_key(1), row(101, v("newer")))]).unwrap();
        assert_eq!(
            read_one(s, "j", int_key(1)),
            Some((101, Value::String("newer".into()))),
            "{backend}"
        );
        // A NULL in a newer row replaces the value.
        s.write("j", &[(int_key(1), row(102, vec![Value::Null]))])
            .unwrap();
        assert_eq!(
            read_one(s, "j", int_key(1)),
            Some((102, Value::Null)),
            "{backend}"
        );

        // Within one batch, in either order.
        s.write(
            "j",
            &[
                (int_key(2), row(200, v("new"))),
                (int_key(2), row(100, v("old"))),
                (int_key(3), row(100, v("old"))),
                (int_key(3), row(200, v("new"))),
            ],
        )
        .unwrap();
        for k in [2, 3] {
            assert_eq!(
                read_one(s, "j", int_key(k)),
                Some((200, Value::String("new".into()))),
                "{backend}: key {k}"
            );
        }

        // One call larger than a pipeline batch, the newest row of key 4
        // in the first round trip and an older one in the last.
        let mut rows: Vec<_> = (10..2_510)
            .map(|i| (int_key(i), row(i, v("filler"))))
            .collect();
        rows[5] = (int_key(4), row(900, v("newest")));
        rows[2_400] = (int_key(4), row(800, v("older")));
        s.write("j", &rows).unwrap();
        assert_eq!(
            read_one(s, "j", int_key(4)),
            Some((900, Value::String("newest".into()))),
            "{backend}"
        );
        let keys: Vec<_> = (10..2_510).map(int_key).collect();
        let all = s.read("j", &keys, 0).unwrap();
        assert_eq!(all.len(), keys.len(), "{backend}");
        assert_eq!(all[2_000].row.as_ref().unwrap().event_time, 2_010);
    });
}

/// The event time writer `w` writes in `round`: even writers count up,
/// odd ones down, so the newest row arrives at different moments.
fn time_of(w: i64, round: i64) -> i64 {
    if w % 2 == 0 {
        round * 4 + w
    } else {
        80 - round * 4 - w
    }
}

#[test]
fn concurrent_writers_keep_the_newest_row() {
    on_every_backend(|s, backend| {
        let m = meta("c", &[("id", DataType::Int64)], &[("t", DataType::Int64)]);
        s.register(&m).unwrap();
        // Four threads write the same 50 entities with interleaved times;
        // whatever the interleaving, each entity ends at its newest row.
        std::thread::scope(|scope| {
            for w in 0..4i64 {
                scope.spawn(move || {
                    for round in 0..20i64 {
                        let t = time_of(w, round);
                        let rows: Vec<_> = (0..50)
                            .map(|k| (int_key(k), row(t, vec![Value::Int64(t)])))
                            .collect();
                        s.write("c", &rows).unwrap();
                    }
                });
            }
        });
        let max = (0..4i64)
            .flat_map(|w| (0..20i64).map(move |r| time_of(w, r)))
            .max()
            .unwrap();
        let keys: Vec<_> = (0..50).map(int_key).collect();
        for r in s.read("c", &keys, 0).unwrap() {
            assert_eq!(r.row, Some(row(max, vec![Value::Int64(max)])), "{backend}");
        }
    });
}

#[test]
fn statuses_present_null_not_found_and_outside_max_age() {
    on_every_backend(|s, backend| {
        let mut m = meta(
            "ttl",
            &[("id", DataType::Int64)],
            &[("n", DataType::Int64), ("s", DataType::String)],
        );
        m.ttl = Some(1_000);
        s.register(&m).unwrap();
        s.write(
            "ttl",
            &[(int_key(1), row(10_000, vec![Value::Int64(3), Value::Null]))],
        )
        .unwrap();
        let at = |now| s.read("ttl", &[int_key(1), int_key(2)], now).unwrap();
        let fresh = at(11_000); // exactly ttl old: still fresh
        assert_eq!(
            fresh[0].statuses,
            vec![FeatureStatus::Present, FeatureStatus::NullValue],
            "{backend}"
        );
        assert_eq!(fresh[1].statuses, vec![FeatureStatus::NotFound; 2]);
        assert_eq!(fresh[1].row, None, "{backend}");
        let stale = at(11_001);
        assert_eq!(
            stale[0].statuses,
            vec![FeatureStatus::OutsideMaxAge; 2],
            "{backend}"
        );
        assert_eq!(
            stale[0].row.as_ref().unwrap().values[0],
            Value::Int64(3),
            "{backend}: expired rows still come back, with their status"
        );
        assert_eq!(stale[1].statuses, vec![FeatureStatus::NotFound; 2]);
    });
}

#[test]
fn jobs_sharing_an_entity_keep_their_own_rows_and_times() {
    on_every_backend(|s, backend| {
        let a = meta(
            "a",
            &[("customer_id", DataType::Int64)],
            &[("n", DataType::Int64)],
        );
        let b = meta(
            "b",
            &[("customer_id", DataType::Int64)],
            &[("n", DataType::Int64)],
        );
        s.register(&a).unwrap();
        s.register(&b).unwrap();
        s.write("a", &[(int_key(1), row(500, vec![Value::Int64(1)]))])
            .unwrap();
        // Older than a's row, but b has its own event time.
        s.write("b", &[(int_key(1), row(100, vec![Value::Int64(2)]))])
            .unwrap();
        assert_eq!(
            read_one(s, "a", int_key(1)),
            Some((500, Value::Int64(1))),
            "{backend}"
        );
        assert_eq!(
            read_one(s, "b", int_key(1)),
            Some((100, Value::Int64(2))),
            "{backend}"
        );
    });
}

#[test]
fn job_metadata_is_stored_with_the_rows() {
    on_every_backend(|s, backend| {
        assert_eq!(s.jobs().unwrap(), vec![], "{backend}");
        assert_eq!(s.job("zeta").unwrap(), None, "{backend}");
        let mut z = meta(
            "zeta",
            &[("id", DataType::Int64)],
            &[("n", DataType::Int64)],
        );
        z.ttl = Some(86_400_000);
        let a = meta(
            "alpha",
            &[("k", DataType::String), ("d", DataType::Date)],
            &ALL_TYPES,
        );
        s.register(&z).unwrap();
        s.register(&a).unwrap();
        assert_eq!(s.job("zeta").unwrap(), Some(z.clone()), "{backend}");
        assert_eq!(s.jobs().unwrap(), vec![a.clone(), z.clone()], "{backend}");
        // Registering again replaces.
        z.description = Some("changed".into());
        s.register(&z).unwrap();
        assert_eq!(s.job("zeta").unwrap(), Some(z), "{backend}");
        assert!(
            matches!(
                s.read("nope", &[int_key(1)], 0),
                Err(StoreError::UnknownJob(_))
            ),
            "{backend}"
        );
    });
}

// Redis only: what the embedded store has no counterpart of.

#[test]
fn a_reader_sees_a_job_registered_again_with_other_columns() {
    let Some((writer, _cleanup)) = redis_store() else {
        return;
    };
    let url = std::env::var("QUIVER_TEST_REDIS").unwrap();
    let reader = RedisStore::open(&with_prefix(&url, writer.prefix())).unwrap();
    let v1 = meta("j", &[("id", DataType::Int64)], &[("a", DataType::Int64)]);
    writer.register(&v1).unwrap();
    writer
        .write("j", &[(int_key(1), row(1, vec![Value::Int64(1)]))])
        .unwrap();
    assert_eq!(
        reader.read("j", &[int_key(1)], 0).unwrap()[0]
            .statuses
            .len(),
        1
    );
    // The reader has cached v1's layout; v2 adds a column.
    let v2 = meta(
        "j",
        &[("id", DataType::Int64)],
        &[("a", DataType::Int64), ("b", DataType::String)],
    );
    writer.register(&v2).unwrap();
    let r = reader.read("j", &[int_key(1)], 0).unwrap();
    assert_eq!(
        r[0].row,
        Some(row(1, vec![Value::Int64(1), Value::Null])),
        "a column the entity was never written with reads as NULL"
    );
    writer
        .write(
            "j",
            &[(
                int_key(1),
                row(2, vec![Value::Int64(5), Value::String("x".into())]),
            )],
        )
        .unwrap();
    assert_eq!(
        reader.read("j", &[int_key(1)], 0).unwrap()[0].row,
        Some(row(2, vec![Value::Int64(5), Value::String("x".into())]))
    );
    assert_eq!(reader.jobs().unwrap(), vec![v2]);
}

#[test]
fn writes_survive_a_flushed_script_cache_and_dropped_connections() {
    let Some((store, _cleanup)) = redis_store() else {
        return;
    };
    let m = meta("j", &[("id", DataType::Int64)], &[("n", DataType::Int64)]);
    store.register(&m).unwrap();
    store
        .write("j", &[(int_key(1), row(1, vec![Value::Int64(1)]))])
        .unwrap();
    // Another client flushes the script cache (as a server restart would):
    // the next write falls back to EVAL.
    let admin = redis::Client::open(std::env::var("QUIVER_TEST_REDIS").unwrap()).unwrap();
    let mut admin = admin.get_connection().unwrap();
    redis::cmd("SCRIPT").arg("FLUSH").exec(&mut admin).unwrap();
    store
        .write("j", &[(int_key(1), row(2, vec![Value::Int64(2)]))])
        .unwrap();
    assert_eq!(
        read_one(store.as_ref(), "j", int_key(1)),
        Some((2, Value::Int64(2)))
    );
    store
        .write("j", &[(int_key(1), row(1, vec![Value::Int64(9)]))])
        .unwrap();
    assert_eq!(
        read_one(store.as_ref(), "j", int_key(1)),
        Some((2, Value::Int64(2)))
    );
    // The server closes the store's pooled connection (idle timeout,
    // failover): the next call reconnects instead of failing.
    let name = format!("quiver:{}", store.prefix());
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
    let ids: Vec<&str> = list
        .lines()
        .filter(|l| l.split(' ').any(|f| f == format!("name={name}")))
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")))
        .collect();
    assert!(
        !ids.is_empty(),
        "the store names its connections `{name}`:\n{list}"
    );
    for id in ids {
        redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .exec(&mut admin)
            .unwrap();
    }
    store
        .write("j", &[(int_key(1), row(3, vec![Value::Int64(3)]))])
        .unwrap();
    assert_eq!(
        read_one(store.as_ref(), "j", int_key(1)),
        Some((3, Value::Int64(3)))
    );
}

#[test]
fn the_prefix_confines_a_store() {
    let Some((a, _ca)) = redis_store() else {
        return;
    };
    let Some((b, _cb)) = redis_store() else {
        return;
    };
    let m = meta("j", &[("id", DataType::Int64)], &[("n", DataType::Int64)]);
    a.register(&m).unwrap();
    a.write("j", &[(int_key(1), row(1, vec![Value::Int64(1)]))])
        .unwrap();
    assert_eq!(b.jobs().unwrap(), vec![]);
    assert!(matches!(
        b.read("j", &[int_key(1)], 0),
        Err(StoreError::UnknownJob(_))
    ));
    // The entity hash and the job list.
    assert_eq!(a.clear().unwrap(), 2);
    assert_eq!(a.jobs().unwrap(), vec![]);
}
