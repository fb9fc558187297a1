//! The collecting aggregates: `COLLECT_ARRAY(x)`, `LAST_K(x, k)`,
//! `TOP_K(x, k)` (arrays) and `HISTOGRAM(x)` (a map).
//!
//! States hold [`Value`]s: these aggregates build a nested value per group
//! once per window, so a generic state costs little next to the array it
//! produces, and one implementation serves every element type.
//!
//! Determinism: a group's state is a multiset of `(event time, value)`
//! pairs (LAST_K and TOP_K keep only the `k` greatest under their order),
//! and the output is that multiset sorted by a total order — event time,
//! then [`Value::total_cmp`] — so panes, workers and batches merged in any
//! order give the same array. Arrival order never shows, unlike Dagger's
//! `CollectArray` (which a backfill could not reproduce). NULL values are
//! skipped; a group with no non-NULL value gives NULL.

use std::any::Any;
use std::cmp::Ordering;

use arrow::array::{Array, ArrayRef, new_null_array};
use quiver_types::{DataType, ElementType, Value};

use super::{GroupAccumulator, other};

/// Which array aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listing {
    /// Every value, in event-time order.
    Collect,
    /// The last `k` by event time, oldest first.
    LastK(usize),
    /// The `k` largest, largest first.
    TopK(usize),
}

impl Listing {
    /// The order whose greatest `k` elements LAST_K / TOP_K keep.
    fn rank(self, a: &(i64, Value), b: &(i64, Value)) -> Ordering {
        match self {
            Listing::TopK(_) => a.1.total_cmp(&b.1),
            Listing::Collect | Listing::LastK(_) => a.0.cmp(&b.0).then_with(|| a.1.total_cmp(&b.1)),
        }
    }

    fn keep(self) -> Option<usize> {
        match self {
            Listing::Collect => None,
            Listing::LastK(k) | Listing::TopK(k) => Some(k),
        }
    }
}

/// COLLECT_ARRAY, LAST_K and TOP_K.
pub(super) struct Lists {
    kind: Listing,
    elem: ElementType,
    states: Vec<Vec<(i64, Value)>>,
}

impl Lists {
    pub(super) fn new(kind: Listing, elem: ElementType) -> Lists {
        Lists {
            kind,
            elem,
            states: Vec::new(),
        }
    }

    /// Cuts a bounded state back to its `k` greatest pairs once it holds
    /// twice that many (amortized: one sort per `k` insertions).
    fn compact(kind: Listing, state: &mut Vec<(i64, Value)>, force: bool) {
        let Some(k) = kind.keep() else { return };
        if state.len() > 2 * k || (force && state.len() > k) {
            state.sort_by(|a, b| kind.rank(b, a));
            state.truncate(k);
        }
    }
}

impl GroupAccumulator for Lists {
    fn resize(&mut self, n: usize) {
        self.states.resize_with(n, Vec::new);
    }
    fn update(&mut self, values: Option<&ArrayRef>, times: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values else { return };
        for (&r, &g) in rows.iter().zip(groups) {
            if v.is_valid(r as usize) {
                let state = &mut self.states[g as usize];
                state.push((times[r as usize], Value::from_array(v.as_ref(), r as usize)));
                Lists::compact(self.kind, state, false);
            }
        }
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            let state = &mut self.states[t as usize];
            state.extend(o.states[f as usize].iter().cloned());
            Lists::compact(self.kind, state, false);
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        let kind = self.kind;
        let out: Vec<Value> = groups
            .iter()
            .map(|&g| {
                let mut state = self.states[g as usize].clone();
                if state.is_empty() {
                    return Value::Null;
                }
                Lists::compact(kind, &mut state, true);
                match kind {
                    Listing::TopK(_) => state.sort_by(|a, b| kind.rank(b, a)),
                    Listing::Collect | Listing::LastK(_) => state.sort_by(|a, b| kind.rank(a, b)),
                }
                Value::List(self.elem, state.into_iter().map(|(_, v)| v).collect())
            })
            .collect();
        Value::to_array(&out, DataType::List(self.elem))
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(Lists::new(self.kind, self.elem))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// HISTOGRAM: per group, the distinct values (sorted) and their counts.
pub(super) struct Histogram {
    elem: ElementType,
    states: Vec<Vec<(Value, i64)>>,
}

impl Histogram {
    pub(super) fn new(elem: ElementType) -> Histogram {
        Histogram {
            elem,
            states: Vec::new(),
        }
    }

    fn add(state: &mut Vec<(Value, i64)>, v: Value, n: i64) {
        match state.binary_search_by(|(k, _)| k.total_cmp(&v)) {
            Ok(i) => state[i].1 += n,
            Err(i) => state.insert(i, (v, n)),
        }
    }
}

impl GroupAccumulator for Histogram {
    fn resize(&mut self, n: usize) {
        self.states.resize_with(n, Vec::new);
    }
    fn update(&mut self, values: Option<&ArrayRef>, _: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values else { return };
        for (&r, &g) in rows.iter().zip(groups) {
            if v.is_valid(r as usize) {
                let x = Value::from_array(v.as_ref(), r as usize);
                Histogram::add(&mut self.states[g as usize], x, 1);
            }
        }
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            for (k, n) in &o.states[f as usize] {
                Histogram::add(&mut self.states[t as usize], k.clone(), *n);
            }
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        let out: Vec<Value> = groups
            .iter()
            .map(|&g| {
                let state = &self.states[g as usize];
                if state.is_empty() {
                    return Value::Null;
                }
                Value::Map(
                    self.elem,
                    ElementType::Int64,
                    state
                        .iter()
                        .map(|(k, n)| (k.clone(), Value::Int64(*n)))
                        .collect(),
                )
            })
            .collect();
        Value::to_array(&out, DataType::Map(self.elem, ElementType::Int64))
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(Histogram::new(self.elem))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An aggregate the binder refuses for this argument type (MIN of an
/// array, ...): gives NULLs of the declared type rather than panicking
/// should a plan ever reach the dataflow without the binder's check.
pub(super) struct Unsupported(pub(super) DataType);

impl GroupAccumulator for Unsupported {
    fn resize(&mut self, _: usize) {}
    fn update(&mut self, _: Option<&ArrayRef>, _: &[i64], _: &[u32], _: &[u32]) {}
    fn merge(&mut self, _: &dyn GroupAccumulator, _: &[(u32, u32)]) {}
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        new_null_array(&self.0.to_arrow(), groups.len())
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(Unsupported(self.0))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{AsArray, Int64Array};

    use super::*;

    fn feed(acc: &mut dyn GroupAccumulator, xs: &[Option<i64>], times: &[i64]) {
        let a: ArrayRef = Arc::new(Int64Array::from(xs.to_vec()));
        let rows: Vec<u32> = (0..xs.len() as u32).collect();
        acc.resize(1);
        acc.update(Some(&a), times, &rows, &vec![0; xs.len()]);
    }

    fn list(a: &ArrayRef) -> Vec<Value> {
        match Value::from_array(a.as_ref(), 0) {
            Value::List(_, xs) => xs,
            other => vec![other],
        }
    }

    #[test]
    fn merged_in_any_order_gives_the_one_pass_result() {
        let xs = [Some(5), None, Some(1), Some(9), Some(1), Some(7)];
        let ts = [30, 10, 20, 20, 10, 40];
        for kind in [Listing::Collect, Listing::LastK(2), Listing::TopK(3)] {
            let mut whole = Lists::new(kind, ElementType::Int64);
            feed(&mut whole, &xs, &ts);
            let mut a = Lists::new(kind, ElementType::Int64);
            let mut b = Lists::new(kind, ElementType::Int64);
            feed(&mut a, &xs[3..], &ts[3..]);
            feed(&mut b, &xs[..3], &ts[..3]);
            a.merge(&b, &[(0, 0)]);
            assert_eq!(
                list(&whole.evaluate(&[0])),
                list(&a.evaluate(&[0])),
                "{kind:?}"
            );
        }
        let i = |v: i64| Value::Int64(v);
        let mut c = Lists::new(Listing::Collect, ElementType::Int64);
        feed(&mut c, &xs, &ts);
        // Time 10: 1; time 20: 1 then 9 (ties by value); 30: 5; 40: 7.
        assert_eq!(list(&c.evaluate(&[0])), vec![i(1), i(1), i(9), i(5), i(7)]);
        let mut l = Lists::new(Listing::LastK(2), ElementType::Int64);
        feed(&mut l, &xs, &ts);
        assert_eq!(list(&l.evaluate(&[0])), vec![i(5), i(7)]);
        let mut t = Lists::new(Listing::TopK(3), ElementType::Int64);
        feed(&mut t, &xs, &ts);
        assert_eq!(list(&t.evaluate(&[0])), vec![i(9), i(7), i(5)]);
    }

    #[test]
    fn histogram_counts_and_merges() {
        let mut a = Histogram::new(ElementType::Int64);
        feed(&mut a, &[Some(2), Some(1), Some(2), None], &[0; 4]);
        let mut b = Histogram::new(ElementType::Int64);
        feed(&mut b, &[Some(3), Some(2)], &[0; 2]);
        a.merge(&b, &[(0, 0)]);
        let out = a.evaluate(&[0]);
        let m = out.as_map();
        assert_eq!(m.value(0).len(), 3);
        assert_eq!(
            Value::from_array(out.as_ref(), 0).to_string(),
            "MAP[1, 1, 2, 3, 3, 1]"
        );
        // A group with no value is NULL.
        let empty = Histogram::new(ElementType::Int64);
        let mut e = empty.empty();
        e.resize(1);
        assert!(e.evaluate(&[0]).is_null(0));
    }
}
