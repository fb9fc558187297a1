//! The `dedup` step: drop repeats of a key within a TTL.
//!
//! A row is dropped when an earlier row with the same key has an event
//! time within the TTL before it (`t - ttl < t' <= t`); every row, kept or
//! not, counts as a sighting. So a key seen again and again is kept once
//! until it pauses for a whole TTL. Dagger's DeDuplicationTransformer
//! keeps a key's first row and drops repeats until a TTL counted from
//! that first row (in processing time); Quiver differs on purpose: its TTL
//! runs in event time, and whether a row is kept depends only on the rows
//! of the previous TTL, so a backfill of an interval (and a live run
//! resuming from a checkpoint) reads one TTL of extra history and decides
//! exactly as an uninterrupted run. Rows reach the step in event-time order
//! (ties in a fixed content order), with all rows of a key on one worker,
//! so "earlier" is well defined.
//!
//! State holds one entry per key seen within the last TTL of event time:
//! an entry is dropped once the frontier passes its last sighting plus the
//! TTL, because no later row can fall within it.

use std::collections::VecDeque;

use arrow::array::AsArray;
use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::Int64Type;
use arrow::row::{RowConverter, SortField};
use hashbrown::HashMap;

/// One worker's dedup state.
pub struct Dedup {
    key: Vec<usize>,
    ttl: i64,
    rows: RowConverter,
    /// Key → event time of its last sighting.
    last: HashMap<Box<[u8]>, i64>,
    /// The same entries in event-time order, for expiry.
    order: VecDeque<(i64, Box<[u8]>)>,
}

impl Dedup {
    /// State for key columns `key` (with their Arrow types) and `ttl` ms.
    pub fn new(key: Vec<usize>, fields: Vec<SortField>, ttl: i64) -> Result<Dedup, String> {
        Ok(Dedup {
            key,
            ttl,
            rows: RowConverter::new(fields).map_err(|e| format!("dedup: {e}"))?,
            last: HashMap::new(),
            order: VecDeque::new(),
        })
    }

    /// The rows of `batch` that are not repeats.
    pub fn apply(&mut self, batch: &RecordBatch) -> Result<RecordBatch, String> {
        let cols: Vec<_> = self.key.iter().map(|&k| batch.column(k).clone()).collect();
        let keys = self
            .rows
            .convert_columns(&cols)
            .map_err(|e| format!("dedup: {e}"))?;
        let times = batch
            .column(batch.num_columns() - 1)
            .as_primitive::<Int64Type>()
            .values();
        let mut keep = Vec::with_capacity(batch.num_rows());
        for (i, &t) in times.iter().enumerate() {
            let key = keys.row(i);
            let fresh = match self.last.get_mut(key.as_ref()) {
                Some(last) => {
                    let fresh = t.saturating_sub(*last) >= self.ttl;
                    if *last != t {
                        *last = t;
                        self.order.push_back((t, key.as_ref().into()));
                    }
                    fresh
                }
                None => {
                    let k: Box<[u8]> = key.as_ref().into();
                    self.last.insert(k.clone(), t);
                    self.order.push_back((t, k));
                    true
                }
            };
            keep.push(fresh);
        }
        if keep.iter().all(|k| *k) {
            return Ok(batch.clone());
        }
        filter_record_batch(batch, &BooleanArray::from(keep)).map_err(|e| format!("dedup: {e}"))
    }

    /// Forgets keys whose TTL ends at or before `frontier`.
    pub fn advance(&mut self, frontier: i64) {
        while let Some((t, _)) = self.order.front() {
            if t.saturating_add(self.ttl) > frontier {
                break;
            }
            let (t, k) = self.order.pop_front().expect("front exists");
            // A key seen again since has a newer entry; keep that.
            if self.last.get(&k) == Some(&t) {
                self.last.remove(&k);
            }
        }
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType as ArrowType, Field, Schema};
    use std::sync::Arc;

    fn batch(keys: &[Option<&str>], times: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("order_id", ArrowType::Utf8, true),
            Field::new("__time", ArrowType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(keys.to_vec())),
                Arc::new(Int64Array::from(times.to_vec())),
            ],
        )
        .unwrap()
    }

    fn kept(d: &mut Dedup, b: &RecordBatch) -> Vec<i64> {
        let out = d.apply(b).unwrap();
        out.column(1).as_primitive::<Int64Type>().values().to_vec()
    }

    #[test]
    fn a_row_is_a_repeat_when_its_key_was_seen_within_the_ttl() {
        let mut d = Dedup::new(vec![0], vec![SortField::new(ArrowType::Utf8)], 10).unwrap();
        let b = batch(
            &[
                None,
                None,
                Some("a"),
                Some("b"),
                Some("a"),
                Some("a"),
                Some("a"),
                Some("b"),
            ],
            &[1, 2, 3, 4, 9, 18, 28, 30],
        );
        // NULL@1 kept, NULL@2 dropped (NULL is a key like any other), a@3
        // kept, b@4 kept, a@9 dropped (6 after a@3), a@18 dropped (9 after
        // a@9: dropped rows count as sightings), a@28 kept (10 after a@18),
        // b@30 kept.
        assert_eq!(kept(&mut d, &b), vec![1, 3, 4, 28, 30]);
    }

    #[test]
    fn decisions_depend_only_on_the_previous_ttl() {
        // A run that starts later, with one TTL of history to warm up,
        // decides every row after its start as a run from the beginning.
        let keys: Vec<Option<&str>> = (0..200).map(|i| Some(["x", "y", "z"][i * 7 % 3])).collect();
        let times: Vec<i64> = (0..200).map(|i| (i as i64) * 3 + (i as i64 % 5)).collect();
        let mut full = Dedup::new(vec![0], vec![SortField::new(ArrowType::Utf8)], 10).unwrap();
        let all = kept(&mut full, &batch(&keys, &times));
        let start = 301;
        let from = times.iter().position(|&t| t >= start - 10).unwrap();
        let mut late = Dedup::new(vec![0], vec![SortField::new(ArrowType::Utf8)], 10).unwrap();
        let part = kept(&mut late, &batch(&keys[from..], &times[from..]));
        let after = |v: Vec<i64>| v.into_iter().filter(|&t| t >= start).collect::<Vec<_>>();
        assert_eq!(after(part), after(all));
    }

    #[test]
    fn state_is_bounded_by_the_ttl() {
        let mut d = Dedup::new(vec![0], vec![SortField::new(ArrowType::Utf8)], 10).unwrap();
        let names: Vec<String> = (0..1000).map(|i| format!("k{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            let t = i as i64;
            kept(&mut d, &batch(&[Some(n.as_str())], &[t]));
            d.advance(t + 1);
            // Only keys from the last TTL of event time are held.
            assert!(d.len() <= 11, "{} keys held at {t}", d.len());
        }
        d.advance(i64::MAX);
        assert!(d.is_empty());
        // A key seen again after expiry is kept and remembered anew.
        assert_eq!(kept(&mut d, &batch(&[Some("k1")], &[5000])), vec![5000]);
        assert_eq!(d.len(), 1);
    }
}
