//! Property tests of the dataflow against a naive reference model.
//!
//! Random events (keys with NULLs, values with NULLs, times over a few
//! minutes) are spread over random splits, each delivered in its own
//! random order — shuffled within the watermark delay, plus occasional
//! stragglers that arrive far too late. The engine runs the query on a
//! random number of workers; the reference computes the same result
//! directly: it applies the lateness rule per split (a row is late if its
//! time is below the split's largest earlier time minus the delay), then
//! evaluates the windows by brute force. Both must agree exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{Float64Array, Int64Array, RecordBatch, TimestampMillisecondArray};
use proptest::prelude::*;
use quiver_dataflow::memory::{CollectSink, MemorySource};
use quiver_dataflow::metrics::RunMetrics;
use quiver_dataflow::source::SourceDef;
use quiver_dataflow::{JobRun, RunOptions};
use quiver_sql::{Binder, CompiledJob, SourceInfo};
use quiver_types::{DataType, Field, Schema, Value};

const DELAY: i64 = 2_000;

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) t: i64,
    pub(crate) k: Option<i64>,
    pub(crate) x: Option<i64>,
    pub(crate) f: f64,
}

pub(crate) fn schema() -> Schema {
    Schema::new(vec![
        Field::new("t", DataType::Timestamp),
        Field::new("k", DataType::Int64),
        Field::new("x", DataType::Int64),
        Field::new("f", DataType::Float64),
    ])
}

pub(crate) fn batch(events: &[Event]) -> RecordBatch {
    RecordBatch::try_new(
        schema().to_arrow(),
        vec![
            Arc::new(
                TimestampMillisecondArray::from(events.iter().map(|e| e.t).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from(
                events.iter().map(|e| e.k).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                events.iter().map(|e| e.x).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                events.iter().map(|e| e.f).collect::<Vec<_>>(),
            )),
        ],
    )
    .unwrap()
}

pub(crate) fn compile(sql: &str) -> CompiledJob {
    let sources = [SourceInfo {
        name: "e".into(),
        schema: schema(),
        time_col: Some(0),
    }];
    let registry = quiver_udfs::registry();
    let ast =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::GenericDialect {}, sql).unwrap();
    let sqlparser::ast::Statement::Query(q) = &ast[0] else {
        panic!()
    };
    let rel = Binder::new(sql, &sources, &registry).bind_query(q).unwrap();
    CompiledJob {
        name: "p".into(),
        output: rel.plan.schema().clone(),
        plan: rel.plan,
        entity: vec![],
    }
}

/// Runs `sql` over the splits (each split's events in delivery order).
fn engine(sql: &str, splits: &[Vec<Event>], workers: usize) -> Vec<Vec<Value>> {
    let out = CollectSink::default();
    let source = SourceDef {
        name: "e".into(),
        schema: schema(),
        time_col: Some(0),
        watermark_delay: DELAY,
        // Deliver each split in a few batches, to exercise the frontier.
        provider: Arc::new(MemorySource {
            splits: splits
                .iter()
                .map(|s| s.chunks(7).map(batch).collect())
                .collect(),
        }),
    };
    let metrics = Arc::new(RunMetrics::new(1, 1, workers));
    quiver_dataflow::run(
        vec![JobRun {
            job: compile(sql),
            sinks: vec![Arc::new(out.clone())],
            postprocess: None,
            rejects: None,
        }],
        vec![source],
        RunOptions {
            workers,
            start: None,
            end: None,
            live: None,
        },
        metrics,
    )
    .unwrap();
    let mut rows = Vec::new();
    for b in out.batches.lock().unwrap().iter() {
        for r in 0..b.num_rows() {
            // Drop the trailing __time column.
            rows.push(
                (0..b.num_columns() - 1)
                    .map(|c| Value::from_array(b.column(c).as_ref(), r))
                    .collect::<Vec<_>>(),
            );
        }
    }
    sort(&mut rows);
    rows
}

fn sort(rows: &mut [Vec<Value>]) {
    rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
}

/// The rows the lateness rule keeps, per split.
fn on_time(splits: &[Vec<Event>]) -> Vec<Event> {
    let mut kept = Vec::new();
    for s in splits {
        let mut max = i64::MIN;
        for e in s {
            if max != i64::MIN && e.t < max - DELAY {
                continue;
            }
            max = max.max(e.t);
            kept.push(e.clone());
        }
    }
    kept
}

/// Reference: a hopping (or tumbling, slide = size) window per key with
/// COUNT(*), COUNT(x), SUM(x), MIN(x), MAX(x), COUNT(DISTINCT x), SUM(f).
/// The events of each (window start, key): every window `[s, s + size)`
/// with `s` a multiple of `slide` that contains the event.
fn window_groups<'e>(
    events: impl IntoIterator<Item = &'e Event>,
    size: i64,
    slide: i64,
) -> BTreeMap<(i64, Option<i64>), Vec<&'e Event>> {
    let mut groups: BTreeMap<(i64, Option<i64>), Vec<&Event>> = BTreeMap::new();
    for e in events {
        let mut s = e.t - e.t.rem_euclid(slide);
        while s + size > e.t {
            groups.entry((s, e.k)).or_default().push(e);
            s -= slide;
        }
    }
    groups
}

/// A test case's window: the GROUP BY clause, its start and end functions,
/// and their argument text (`(t, INTERVAL ...)`).
fn window_sql(size: i64, hop: bool) -> (String, &'static str, &'static str, String) {
    let window = if hop {
        format!(
            "HOP(t, INTERVAL '30' SECOND, INTERVAL '{}' SECOND)",
            size / 1000
        )
    } else {
        format!("TUMBLE(t, INTERVAL '{}' SECOND)", size / 1000)
    };
    let (start, end) = if hop {
        ("HOP_START", "HOP_END")
    } else {
        ("TUMBLE_START", "TUMBLE_END")
    };
    let args = window
        .trim_start_matches("HOP")
        .trim_start_matches("TUMBLE")
        .to_string();
    (window, start, end, args)
}

fn reference_windows(events: &[Event], size: i64, slide: i64, filter: bool) -> Vec<Vec<Value>> {
    let kept = events
        .iter()
        .filter(|e| !filter || e.x.is_some_and(|x| x > 2));
    let groups = window_groups(kept, size, slide);
    let mut rows = Vec::new();
    for ((start, k), es) in groups {
        let xs: Vec<i64> = es.iter().filter_map(|e| e.x).collect();
        let fsum: f64 = {
            let mut v: Vec<f64> = es.iter().map(|e| e.f).collect();
            // Exact for these values: quarters with few bits.
            v.sort_by(|a, b| a.total_cmp(b));
            v.iter().sum()
        };
        rows.push(vec![
            k.map_or(Value::Null, Value::Int64),
            Value::Timestamp(start),
            Value::Timestamp(start + size),
            Value::Int64(es.len() as i64),
            Value::Int64(xs.len() as i64),
            if xs.is_empty() {
                Value::Null
            } else {
                Value::Int64(xs.iter().sum())
            },
            xs.iter().min().map_or(Value::Null, |v| Value::Int64(*v)),
            xs.iter().max().map_or(Value::Null, |v| Value::Int64(*v)),
            Value::Int64(xs.iter().collect::<BTreeSet<_>>().len() as i64),
            Value::Float64(fsum),
        ]);
    }
    sort(&mut rows);
    rows
}

/// DuckDB's `quantile_cont` over `v` (sorted in place).
fn quantile_cont(v: &mut [f64], p: f64) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(f64::total_cmp);
    let rn = p * (v.len() - 1) as f64;
    let (lo, hi) = (rn.floor(), rn.ceil());
    let (a, b) = (v[lo as usize], v[hi as usize]);
    Value::Float64(if lo == hi { a } else { a + (b - a) * (rn - lo) })
}

/// Reference for the aggregates of issue 5, per (window, key):
/// DISTINCT_COUNT(x), PERCENTILE(x, 0.3), PERCENTILE(f, 0.75),
/// FIRST_VALUE(x), LAST_VALUE(x), FIRST_VALUE(f), LAST_VALUE(f), and the
/// exact value at rank floor(0.5 (n - 1)) of f (APPROX_PERCENTILE's target).
fn reference_new_aggregates(events: &[Event], size: i64, slide: i64) -> Vec<Vec<Value>> {
    let groups = window_groups(events, size, slide);
    let mut rows = Vec::new();
    for ((start, k), es) in groups {
        let xs: Vec<(i64, i64)> = es.iter().filter_map(|e| e.x.map(|x| (e.t, x))).collect();
        let mut xf: Vec<f64> = xs.iter().map(|p| p.1 as f64).collect();
        let mut fs: Vec<f64> = es.iter().map(|e| e.f).collect();
        let first_f = es
            .iter()
            .map(|e| (e.t, e.f))
            .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let last_f = es
            .iter()
            .map(|e| (e.t, e.f))
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let x = |v: Option<&(i64, i64)>| v.map_or(Value::Null, |p| Value::Int64(p.1));
        let f = |v: Option<(i64, f64)>| v.map_or(Value::Null, |p| Value::Float64(p.1));
        let mut row = vec![
            k.map_or(Value::Null, Value::Int64),
            Value::Timestamp(start),
            Value::Int64(xs.iter().map(|p| p.1).collect::<BTreeSet<_>>().len() as i64),
            quantile_cont(&mut xf, 0.3),
            quantile_cont(&mut fs, 0.75),
            x(xs.iter().min()),
            x(xs.iter().max()),
            f(first_f),
            f(last_f),
        ];
        row.push(Value::Float64(
            fs[(0.5 * (fs.len() - 1) as f64).floor() as usize],
        ));
        rows.push(row);
    }
    sort(&mut rows);
    rows
}

/// Reference for the collecting aggregates, per (window, key):
/// COLLECT_ARRAY(x) (by event time, then value), LAST_K(x, 3) (the last
/// three of that order, oldest first), TOP_K(f, 2) (the two largest,
/// largest first) and HISTOGRAM(x) (value -> count, keys ascending); NULL x
/// values are skipped, and a group without one gives NULL.
fn reference_collecting(events: &[Event], size: i64, slide: i64) -> Vec<Vec<Value>> {
    use quiver_types::ElementType;
    let groups = window_groups(events, size, slide);
    let mut rows = Vec::new();
    for ((start, k), es) in groups {
        let mut xs: Vec<(i64, i64)> = es.iter().filter_map(|e| e.x.map(|x| (e.t, x))).collect();
        xs.sort();
        let list = |v: Vec<i64>| {
            Value::List(
                ElementType::Int64,
                v.into_iter().map(Value::Int64).collect(),
            )
        };
        let (collected, last3, histogram) = if xs.is_empty() {
            (Value::Null, Value::Null, Value::Null)
        } else {
            let all: Vec<i64> = xs.iter().map(|p| p.1).collect();
            let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
            for x in &all {
                *counts.entry(*x).or_default() += 1;
            }
            (
                list(all.clone()),
                list(all[all.len().saturating_sub(3)..].to_vec()),
                Value::Map(
                    ElementType::Int64,
                    ElementType::Int64,
                    counts
                        .into_iter()
                        .map(|(x, n)| (Value::Int64(x), Value::Int64(n)))
                        .collect(),
                ),
            )
        };
        let mut fs: Vec<f64> = es.iter().map(|e| e.f).collect();
        fs.sort_by(|a, b| b.total_cmp(a));
        fs.truncate(2);
        rows.push(vec![
            k.map_or(Value::Null, Value::Int64),
            Value::Timestamp(start),
            collected,
            last3,
            Value::List(
                ElementType::Float64,
                fs.into_iter().map(Value::Float64).collect(),
            ),
            histogram,
        ]);
    }
    sort(&mut rows);
    rows
}

/// Reference: per event, COUNT(*) and SUM(x) over the same key's events in
/// the preceding `range` ms (peers included).
fn reference_over(events: &[Event], range: i64) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for e in events {
        let frame: Vec<&Event> = events
            .iter()
            .filter(|o| o.k == e.k && o.t <= e.t && o.t >= e.t - range)
            .collect();
        let xs: Vec<i64> = frame.iter().filter_map(|o| o.x).collect();
        rows.push(vec![
            e.k.map_or(Value::Null, Value::Int64),
            Value::Timestamp(e.t),
            e.x.map_or(Value::Null, Value::Int64),
            Value::Int64(frame.len() as i64),
            if xs.is_empty() {
                Value::Null
            } else {
                Value::Int64(xs.iter().sum())
            },
        ]);
    }
    sort(&mut rows);
    rows
}

fn event() -> impl Strategy<Value = Event> {
    (
        0i64..240_000,
        prop::option::weighted(0.9, 0i64..4),
        prop::option::weighted(0.85, -3i64..10),
        0i64..40,
    )
        .prop_map(|(t, k, x, q)| Event {
            t,
            k,
            x,
            f: q as f64 * 0.25,
        })
}

/// Events split into 1..=3 splits, each in time order disturbed within the
/// delay, with a few stragglers moved far back in delivery.
fn splits() -> impl Strategy<Value = Vec<Vec<Event>>> {
    (
        prop::collection::vec(event(), 0..120),
        1usize..=3,
        any::<u64>(),
    )
        .prop_map(|(mut events, n, seed)| {
            use rand::{RngExt, SeedableRng};
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            events.sort_by_key(|e| e.t);
            let mut splits = vec![Vec::new(); n];
            for e in events {
                splits[rng.random_range(0..n)].push(e);
            }
            for s in &mut splits {
                // Delivery time = event time + jitter below the delay...
                let mut keyed: Vec<(i64, Event)> = s
                    .drain(..)
                    .map(|e| (e.t + rng.random_range(0..DELAY), e))
                    .collect();
                // ...except a few stragglers delivered much later (some become late).
                for k in keyed.iter_mut() {
                    if rng.random_bool(0.05) {
                        k.0 += rng.random_range(DELAY..60_000);
                    }
                }
                keyed.sort_by_key(|k| k.0);
                *s = keyed.into_iter().map(|k| k.1).collect();
            }
            splits
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn windows_match_the_reference(splits in splits(), size_s in 1i64..4, hop in any::<bool>(), filter in any::<bool>(), workers in 1usize..=3) {
        let size = size_s * 30_000;
        let slide = if hop { 30_000 } else { size };
        let (window, start, end, args) = window_sql(size, hop);
        let sql = format!(
            "SELECT k, {start}{args} AS ws, {end}{args} AS we, COUNT(*) AS n, COUNT(x) AS nx, SUM(x) AS sx, MIN(x) AS mn, MAX(x) AS mx, \
             COUNT(DISTINCT x) AS dx, SUM(f) AS sf FROM e {} GROUP BY {window}, k",
            if filter { "WHERE x > 2" } else { "" }
        );
        let got = engine(&sql, &splits, workers);
        let want = reference_windows(&on_time(&splits), size, slide, filter);
        prop_assert_eq!(got, want, "sql: {}", sql);
    }

    #[test]
    fn new_aggregates_match_the_reference(splits in splits(), size_s in 1i64..4, hop in any::<bool>(), workers in 2usize..=3) {
        let size = size_s * 30_000;
        let slide = if hop { 30_000 } else { size };
        let (window, start, _, args) = window_sql(size, hop);
        let sql = format!(
            "SELECT k, {start}{args} AS ws, DISTINCT_COUNT(x) AS dx, PERCENTILE(x, 0.3) AS px, PERCENTILE(f, 0.75) AS pf, \
             FIRST_VALUE(x) AS fx, LAST_VALUE(x) AS lx, FIRST_VALUE(f) AS ff, LAST_VALUE(f) AS lf, \
             APPROX_PERCENTILE(f, 0.5) AS af FROM e GROUP BY {window}, k"
        );
        let got = engine(&sql, &splits, workers);
        // Any number of workers, and so any split of the rows into partial
        // states, gives the same bits, the sketch included.
        prop_assert_eq!(&got, &engine(&sql, &splits, 1), "sql: {}", sql);
        let mut want = reference_new_aggregates(&on_time(&splits), size, slide);
        // The sketch is within 1% of the exact value at its rank.
        prop_assert_eq!(got.len(), want.len());
        let mut got = got;
        for (g, w) in got.iter_mut().zip(want.iter_mut()) {
            let (Some(Value::Float64(a)), Some(Value::Float64(b))) = (g.pop(), w.pop()) else {
                return Err(TestCaseError::fail("APPROX_PERCENTILE is a DOUBLE"));
            };
            // 1% up to rounding: 1.0 may be reported as 1.01, and 1.01 - 1.0 > 0.01.
            prop_assert!((a - b).abs() <= 0.01 * b.abs() * (1.0 + 1e-9), "{} is not within 1% of {}", a, b);
        }
        sort(&mut got);
        sort(&mut want);
        prop_assert_eq!(got, want, "sql: {}", sql);
    }

    #[test]
    fn collecting_aggregates_match_the_reference(splits in splits(), size_s in 1i64..4, hop in any::<bool>(), workers in 1usize..=3) {
        let size = size_s * 30_000;
        let slide = if hop { 30_000 } else { size };
        let (window, start, _, args) = window_sql(size, hop);
        let sql = format!(
            "SELECT k, {start}{args} AS ws, COLLECT_ARRAY(x) AS cx, LAST_K(x, 3) AS lx, \
             TOP_K(f, 2) AS tf, HISTOGRAM(x) AS hx FROM e GROUP BY {window}, k"
        );
        let got = engine(&sql, &splits, workers);
        let want = reference_collecting(&on_time(&splits), size, slide);
        prop_assert_eq!(got, want, "sql: {}", sql);
    }

    #[test]
    fn over_windows_match_the_reference(splits in splits(), range_s in 0i64..90, workers in 1usize..=3) {
        let sql = format!(
            "SELECT k, t, x, COUNT(*) OVER w AS n, SUM(x) OVER w AS sx FROM e \
             WINDOW w AS (PARTITION BY k ORDER BY t RANGE BETWEEN INTERVAL '{range_s}' SECOND PRECEDING AND CURRENT ROW)"
        );
        let got = engine(&sql, &splits, workers);
        let want = reference_over(&on_time(&splits), range_s * 1000);
        prop_assert_eq!(got, want, "sql: {}", sql);
    }
}
