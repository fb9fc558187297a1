//! `FIRST_VALUE(x)` / `LAST_VALUE(x)` by event time.
//!
//! Each group keeps one `(event time, value)` pair: FIRST_VALUE the least
//! pair, LAST_VALUE the greatest, compared by time and then by value (in
//! MIN/MAX's order). Rows at the same time are therefore resolved by value,
//! not by arrival, and taking the least (greatest) pair is associative and
//! commutative: panes, workers and batches merge to the same result in any
//! order. NULL values are skipped.

use std::any::Any;

use arrow::array::ArrayRef;
use arrow::datatypes::{Date32Type, Int64Type, TimestampMillisecondType};
use quiver_types::DataType;

use super::{
    BinCol, BoolCol, FloatOrderCol, GroupAccumulator, PrimCol, StrCol, ValueColumn, offer, other,
};

struct ByTime<C: ValueColumn>
where
    C::Value: Ord,
{
    best: Vec<Option<(i64, C::Value)>>,
    last: bool,
}

impl<C: ValueColumn> GroupAccumulator for ByTime<C>
where
    C::Value: Ord,
{
    fn resize(&mut self, n: usize) {
        self.best.resize(n, None);
    }
    fn update(&mut self, values: Option<&ArrayRef>, times: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values else { return };
        let (best, last) = (&mut self.best, self.last);
        C::for_each(v.as_ref(), rows, groups, |r, g, x| {
            offer(&mut best[g as usize], (times[r as usize], x), last)
        });
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            if let Some(v) = &o.best[f as usize] {
                offer(&mut self.best[t as usize], v.clone(), self.last);
            }
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        C::build(
            groups
                .iter()
                .map(|&g| self.best[g as usize].as_ref().map(|(_, v)| v.clone()))
                .collect(),
        )
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(ByTime::<C> {
            best: Vec::new(),
            last: self.last,
        })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// FIRST_VALUE (`last` false) or LAST_VALUE of a column of type `t`.
pub(super) fn new_by_time(t: DataType, last: bool) -> Box<dyn GroupAccumulator> {
    fn b<C: ValueColumn>(last: bool) -> Box<dyn GroupAccumulator>
    where
        C::Value: Ord,
    {
        Box::new(ByTime::<C> {
            best: Vec::new(),
            last,
        })
    }
    match t {
        DataType::Int64 => b::<PrimCol<Int64Type>>(last),
        DataType::Float64 => b::<FloatOrderCol>(last),
        DataType::Timestamp => b::<PrimCol<TimestampMillisecondType>>(last),
        DataType::Date => b::<PrimCol<Date32Type>>(last),
        DataType::Bool => b::<BoolCol>(last),
        DataType::String => b::<StrCol>(last),
        DataType::Bytes | DataType::Null => b::<BinCol>(last),
        // The binder refuses arrays and maps here (`aggregate_type`).
        DataType::List(_) | DataType::Map(..) => Box::new(super::collect::Unsupported(t)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, Float64Array, StringArray};
    use arrow::datatypes::Float64Type;

    use super::*;

    #[test]
    fn the_earliest_and_latest_rows_win_ties_by_value() {
        let vals: ArrayRef = Arc::new(StringArray::from(vec![
            Some("b"),
            Some("a"),
            None,
            Some("z"),
            Some("y"),
            Some("c"),
        ]));
        let times = [5, 5, 1, 9, 9, 7];
        for (last, want) in [(false, "a"), (true, "z")] {
            let mut acc = new_by_time(DataType::String, last);
            acc.resize(2);
            acc.update(
                Some(&vals),
                &times,
                &[0, 1, 2, 3, 4, 5],
                &[0, 0, 0, 0, 0, 1],
            );
            let out = acc.evaluate(&[0, 1]);
            let s = out.as_string::<i32>();
            assert_eq!(s.value(0), want, "last={last}");
            assert_eq!(s.value(1), "c");
        }
    }

    #[test]
    fn merging_in_any_order_equals_one_pass() {
        let n = 300usize;
        let vals: ArrayRef = Arc::new(Float64Array::from(
            (0..n)
                .map(|i| match i % 11 {
                    0 => None,
                    1 => Some(-0.0),
                    2 => Some(0.0),
                    3 => Some(f64::NAN),
                    _ => Some(((i * 37) % 101) as f64 - 50.0),
                })
                .collect::<Vec<_>>(),
        ));
        // Few distinct times, so ties are common.
        let times: Vec<i64> = (0..n).map(|i| ((i * 7919) % 13) as i64 - 6).collect();
        let rows: Vec<u32> = (0..n as u32).collect();
        for last in [false, true] {
            let mut whole = new_by_time(DataType::Float64, last);
            whole.resize(1);
            whole.update(Some(&vals), &times, &rows, &vec![0; n]);
            let want = whole.evaluate(&[0]);
            for parts in [2usize, 5] {
                let panes: Vec<Box<dyn GroupAccumulator>> = (0..parts)
                    .map(|k| {
                        let mut a = new_by_time(DataType::Float64, last);
                        a.resize(1);
                        let rs: Vec<u32> = rows
                            .iter()
                            .copied()
                            .filter(|r| *r as usize % parts == k)
                            .collect();
                        a.update(Some(&vals), &times, &rs, &vec![0; rs.len()]);
                        a
                    })
                    .collect();
                for order in [
                    (0..parts).collect::<Vec<_>>(),
                    (0..parts).rev().collect::<Vec<_>>(),
                ] {
                    let mut m = new_by_time(DataType::Float64, last);
                    m.resize(1);
                    for k in order {
                        m.merge(panes[k].as_ref(), &[(0, 0)]);
                    }
                    let got = m.evaluate(&[0]);
                    let (a, b) = (
                        got.as_primitive::<Float64Type>(),
                        want.as_primitive::<Float64Type>(),
                    );
                    assert!(a.is_valid(0));
                    assert_eq!(a.value(0).to_bits(), b.value(0).to_bits());
                }
            }
            // The earliest time is -6 (i = 0, 13, 26, ...), the latest 6.
            let v = want.as_primitive::<Float64Type>().value(0);
            let at = |t: i64| -> Vec<f64> {
                (0..n)
                    .filter(|&i| times[i] == t && vals.is_valid(i))
                    .map(|i| vals.as_primitive::<Float64Type>().value(i))
                    .collect()
            };
            if last {
                let m = at(6).into_iter().max_by(f64::total_cmp).unwrap();
                assert_eq!(v.to_bits(), m.to_bits());
            } else {
                let m = at(-6).into_iter().min_by(f64::total_cmp).unwrap();
                assert_eq!(v.to_bits(), m.to_bits());
            }
        }
    }
}
