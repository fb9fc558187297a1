//! `PERCENTILE(x, p)` (exact) and `APPROX_PERCENTILE(x, p)` (DDSketch).
//!
//! Both merge to exactly the state one accumulator over all the rows would
//! hold, so the result does not depend on how rows were split into panes,
//! workers or batches, nor on their order:
//!
//! * the exact state is the multiset of values (evaluation sorts);
//! * the sketch's state is a count per logarithmic bucket, and merging adds
//!   counts. The sketch never collapses buckets (its bucket limit covers
//!   every finite double), which is what keeps merges exact; infinities and
//!   NaN are counted beside it.

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::datatypes::{DataType as ArrowType, Float64Type, Int64Type};
use sketches_ddsketch::{Config, DDSketch};

use super::{FloatOrderCol, GroupAccumulator, PrimCol, ValueColumn, float_from_key, other};

/// Exact `PERCENTILE(x, p)`: every non-NULL value of each group, kept as an
/// `i64` that orders like the value (BIGINTs as themselves, DOUBLEs by
/// IEEE total order with NaN last, see [`super::float_key`]).
pub(super) struct Exact {
    values: Vec<Vec<i64>>,
    p: f64,
    float: bool,
}

impl Exact {
    /// For doubles (`float`) or BIGINTs.
    pub(super) fn new(p: f64, float: bool) -> Exact {
        Exact {
            values: Vec::new(),
            p,
            float,
        }
    }

    fn decode(&self, k: i64) -> f64 {
        if self.float {
            float_from_key(k)
        } else {
            k as f64
        }
    }

    /// DuckDB's `quantile_cont`: the value at position `p·(n−1)` of the
    /// sorted values, interpolated as `lo + (hi − lo)·d`.
    fn quantile(&self, values: &[i64]) -> Option<f64> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        let rn = self.p * (v.len() - 1) as f64;
        let (lo, hi) = (rn.floor(), rn.ceil());
        let (_, lo_key, rest) = v.select_nth_unstable(lo as usize);
        let lo_key = *lo_key;
        let lo_val = self.decode(lo_key);
        if hi == lo {
            return Some(lo_val);
        }
        // `rest` holds the values after position `lo`: its least is at `hi`.
        let hi_val = self.decode(rest.iter().copied().min().unwrap_or(lo_key));
        Some(lo_val + (hi_val - lo_val) * (rn - lo))
    }
}

impl GroupAccumulator for Exact {
    fn resize(&mut self, n: usize) {
        self.values.resize_with(n, Vec::new);
    }
    fn update(&mut self, values: Option<&ArrayRef>, _: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values else { return };
        let out = &mut self.values;
        let push = |_, g: u32, k: i64| out[g as usize].push(k);
        match v.data_type() {
            ArrowType::Float64 => FloatOrderCol::for_each(v.as_ref(), rows, groups, push),
            ArrowType::Int64 => PrimCol::<Int64Type>::for_each(v.as_ref(), rows, groups, push),
            // The binder casts other arguments (an untyped NULL) to BIGINT.
            _ => {}
        }
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            let src = &o.values[f as usize];
            self.values[t as usize].extend_from_slice(src);
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        Arc::new(
            groups
                .iter()
                .map(|&g| self.quantile(&self.values[g as usize]))
                .collect::<Float64Array>(),
        )
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(Exact::new(self.p, self.float))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The sketch's relative accuracy: an estimate is within 1% of the value.
pub(crate) const RELATIVE_ACCURACY: f64 = 0.01;
/// Magnitudes at or below this count as zero.
const MIN_MAGNITUDE: f64 = 1e-9;
/// Buckets per sign: enough for every finite double above
/// [`MIN_MAGNITUDE`] (keys about -1037 ..= 35 488 at 1%), so the store never
/// collapses its lowest buckets, and merging stays exact. The store grows in
/// steps of 128 buckets over the range of keys actually seen, so a group of
/// values within a factor 1000 of each other holds about 384 buckets.
const BUCKET_LIMIT: u32 = 36_608;

fn sketch_config() -> Config {
    Config::new(RELATIVE_ACCURACY, BUCKET_LIMIT, MIN_MAGNITUDE)
}

/// One group's sketch: finite values in the DDSketch, the rest counted.
#[derive(Clone)]
struct Sketch {
    dd: DDSketch,
    neg_inf: u64,
    pos_inf: u64,
    nan: u64,
}

impl Sketch {
    fn new() -> Sketch {
        Sketch {
            dd: DDSketch::new(sketch_config()),
            neg_inf: 0,
            pos_inf: 0,
            nan: 0,
        }
    }

    fn add(&mut self, x: f64) {
        if x.is_nan() {
            self.nan += 1;
        } else if x == f64::INFINITY {
            self.pos_inf += 1;
        } else if x == f64::NEG_INFINITY {
            self.neg_inf += 1;
        } else {
            // -0.0 and 0.0 are one value (the sketch's MIN/MAX would keep
            // whichever came first).
            self.dd.add(if x == 0.0 { 0.0 } else { x });
        }
    }

    fn merge(&mut self, o: &Sketch) {
        // Same configuration by construction, so merging cannot fail.
        let _ = self.dd.merge(&o.dd);
        self.neg_inf += o.neg_inf;
        self.pos_inf += o.pos_inf;
        self.nan += o.nan;
    }

    /// The estimate of the value at rank `⌊p·(n−1)⌋` (0-based) of the
    /// sorted values (−∞ first, then finite values, +∞, NaN). The least and
    /// greatest finite values are exact.
    fn quantile(&self, p: f64) -> Option<f64> {
        let finite = self.dd.count() as u64;
        let n = self.neg_inf + finite + self.pos_inf + self.nan;
        if n == 0 {
            return None;
        }
        let rank = (p * (n - 1) as f64).floor() as u64;
        if rank < self.neg_inf {
            return Some(f64::NEG_INFINITY);
        }
        let r = rank - self.neg_inf;
        if r < finite {
            return if r == 0 {
                self.dd.min()
            } else if r + 1 == finite {
                self.dd.max()
            } else {
                // The crate ranks `⌊q·(count−1)⌋`: aim at the middle of rank r.
                let q = ((r as f64 + 0.5) / (finite - 1) as f64).min(1.0);
                self.dd.quantile(q).ok().flatten()
            };
        }
        let r = r - finite;
        Some(if r < self.pos_inf {
            f64::INFINITY
        } else {
            f64::NAN
        })
    }
}

/// `APPROX_PERCENTILE(x, p)`: one sketch per group, allocated on its first
/// value.
pub(super) struct Approx {
    sketches: Vec<Option<Box<Sketch>>>,
    p: f64,
}

impl Approx {
    pub(super) fn new(p: f64) -> Approx {
        Approx {
            sketches: Vec::new(),
            p,
        }
    }
}

fn slot(s: &mut Option<Box<Sketch>>) -> &mut Sketch {
    s.get_or_insert_with(|| Box::new(Sketch::new()))
}

impl GroupAccumulator for Approx {
    fn resize(&mut self, n: usize) {
        self.sketches.resize_with(n, || None);
    }
    fn update(&mut self, values: Option<&ArrayRef>, _: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values else { return };
        let sketches = &mut self.sketches;
        match v.data_type() {
            ArrowType::Float64 => {
                let a = v.as_primitive::<Float64Type>();
                for (&r, &g) in rows.iter().zip(groups) {
                    if a.is_valid(r as usize) {
                        slot(&mut sketches[g as usize]).add(a.value(r as usize));
                    }
                }
            }
            ArrowType::Int64 => {
                PrimCol::<Int64Type>::for_each(v.as_ref(), rows, groups, |_, g, x| {
                    slot(&mut sketches[g as usize]).add(x as f64)
                })
            }
            _ => {}
        }
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            if let Some(src) = &o.sketches[f as usize] {
                match &mut self.sketches[t as usize] {
                    Some(dst) => dst.merge(src),
                    empty @ None => *empty = Some(src.clone()),
                }
            }
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        Arc::new(
            groups
                .iter()
                .map(|&g| {
                    self.sketches[g as usize]
                        .as_ref()
                        .and_then(|s| s.quantile(self.p))
                })
                .collect::<Float64Array>(),
        )
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(Approx::new(self.p))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(v: &[Option<f64>]) -> ArrayRef {
        Arc::new(Float64Array::from(v.to_vec()))
    }

    fn eval(acc: &dyn GroupAccumulator, g: u32) -> Option<f64> {
        let out = acc.evaluate(&[g]);
        let a = out.as_primitive::<Float64Type>();
        a.is_valid(0).then(|| a.value(0))
    }

    fn exact(p: f64, vals: &[Option<f64>]) -> Option<f64> {
        let mut a = Exact::new(p, true);
        a.resize(1);
        let rows: Vec<u32> = (0..vals.len() as u32).collect();
        a.update(Some(&floats(vals)), &[], &rows, &vec![0; vals.len()]);
        eval(&a, 0)
    }

    #[test]
    fn exact_interpolates_like_quantile_cont() {
        let v = [Some(3.0), Some(1.0), None, Some(4.0), Some(2.0)];
        assert_eq!(exact(0.5, &v), Some(2.5));
        assert_eq!(exact(0.0, &v), Some(1.0));
        assert_eq!(exact(1.0, &v), Some(4.0));
        // position 0.9 * 3 = 2.7: 3 + 0.7 * (4 - 3)
        assert!((exact(0.9, &v).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(exact(0.5, &[None, None]), None);
        assert_eq!(exact(0.3, &[Some(7.0)]), Some(7.0));
        // NaN sorts last, as in DuckDB.
        assert_eq!(exact(0.0, &[Some(f64::NAN), Some(1.0)]), Some(1.0));
    }

    #[test]
    fn exact_on_bigints() {
        let vals: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![
            Some(10),
            None,
            Some(-5),
            Some(i64::MAX),
        ]));
        let mut a = Exact::new(0.25, false);
        a.resize(1);
        a.update(Some(&vals), &[], &[0, 1, 2, 3], &[0, 0, 0, 0]);
        // position 0.5 between -5 and 10
        assert_eq!(eval(&a, 0), Some(2.5));
    }

    /// Deterministic pseudo-random values over many magnitudes and signs.
    fn sample(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|i| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let m = ((x >> 11) as f64) / (1u64 << 53) as f64;
                let v = (m * 40.0 - 20.0).exp2();
                match i % 7 {
                    0 => -v,
                    1 => 0.0,
                    2 => (v * 1000.0).round(),
                    _ => v,
                }
            })
            .collect()
    }

    /// Splits `vals` into `parts` panes (round robin and in runs), merges
    /// them in a few groupings and checks every result equals one pass.
    fn check_merges(make: &dyn Fn() -> Box<dyn GroupAccumulator>, vals: &[f64]) {
        let arr = floats(&vals.iter().map(|&v| Some(v)).collect::<Vec<_>>());
        let whole = {
            let mut a = make();
            a.resize(1);
            let rows: Vec<u32> = (0..vals.len() as u32).collect();
            a.update(Some(&arr), &[], &rows, &vec![0; vals.len()]);
            eval(a.as_ref(), 0)
        };
        for parts in [2usize, 3, 7] {
            let panes: Vec<Box<dyn GroupAccumulator>> = (0..parts)
                .map(|k| {
                    let mut a = make();
                    a.resize(1);
                    let rows: Vec<u32> = (0..vals.len() as u32)
                        .filter(|r| (*r as usize) % parts == k)
                        .collect();
                    a.update(Some(&arr), &[], &rows, &vec![0; rows.len()]);
                    a
                })
                .collect();
            // Left fold, right fold, and ((a b) (c ...)).
            let mut left = make();
            left.resize(1);
            for p in &panes {
                left.merge(p.as_ref(), &[(0, 0)]);
            }
            let mut right = make();
            right.resize(1);
            for p in panes.iter().rev() {
                right.merge(p.as_ref(), &[(0, 0)]);
            }
            let mut a = make();
            a.resize(1);
            a.merge(panes[0].as_ref(), &[(0, 0)]);
            a.merge(panes[1].as_ref(), &[(0, 0)]);
            let mut b = make();
            b.resize(1);
            for p in &panes[2..] {
                b.merge(p.as_ref(), &[(0, 0)]);
            }
            a.merge(b.as_ref(), &[(0, 0)]);
            for r in [&left, &right, &a] {
                assert_eq!(
                    eval(r.as_ref(), 0).map(f64::to_bits),
                    whole.map(f64::to_bits),
                    "{parts} panes"
                );
            }
        }
    }

    #[test]
    fn merging_in_any_grouping_equals_one_pass() {
        let vals = sample(2_000, 7);
        for p in [0.0, 0.01, 0.5, 0.9, 0.99, 1.0] {
            check_merges(&|| Box::new(Exact::new(p, true)), &vals);
            check_merges(&|| Box::new(Approx::new(p)), &vals);
        }
        let special = [
            1.0,
            f64::NAN,
            -0.0,
            f64::INFINITY,
            3.0,
            f64::NEG_INFINITY,
            0.0,
            2.0,
            1e300,
            -1e-300,
        ];
        for p in [0.0, 0.2, 0.5, 0.8, 1.0] {
            check_merges(&|| Box::new(Exact::new(p, true)), &special);
            check_merges(&|| Box::new(Approx::new(p)), &special);
        }
    }

    #[test]
    fn the_sketch_is_within_its_error_bound() {
        let mut vals = sample(5_000, 11);
        vals.extend([f64::MAX, -f64::MAX, 5e-324, 1e-9, 2e-9]);
        let mut a = Approx::new(0.0);
        a.resize(1);
        let arr = floats(&vals.iter().map(|&v| Some(v)).collect::<Vec<_>>());
        let rows: Vec<u32> = (0..vals.len() as u32).collect();
        a.update(Some(&arr), &[], &rows, &vec![0; vals.len()]);
        let mut sorted = vals.clone();
        sorted.sort_by(f64::total_cmp);
        let sketch = a.sketches[0].as_ref().unwrap();
        for i in 0..=200 {
            let p = i as f64 / 200.0;
            let want = sorted[(p * (sorted.len() - 1) as f64).floor() as usize];
            let got = sketch.quantile(p).unwrap();
            if want.abs() <= MIN_MAGNITUDE {
                assert_eq!(got, 0.0, "p={p}: {want} counts as zero");
            } else {
                assert!(
                    (got - want).abs() <= RELATIVE_ACCURACY * want.abs() * (1.0 + 1e-12),
                    "p={p}: {got} is not within 1% of {want}"
                );
            }
        }
        assert_eq!(sketch.quantile(0.0), Some(-f64::MAX));
        assert_eq!(sketch.quantile(1.0), Some(f64::MAX));
        assert!(
            sketch.dd.length() <= 2 * BUCKET_LIMIT as usize,
            "never more buckets than the limit"
        );
    }

    #[test]
    fn the_bucket_limit_covers_every_finite_double() {
        let c = sketch_config();
        let span = c.key(f64::MAX) - c.key(MIN_MAGNITUDE * (1.0 + 1e-12)) + 1;
        assert!(span <= BUCKET_LIMIT as i32, "{span} keys");
        assert_eq!(BUCKET_LIMIT % 128, 0);
    }

    #[test]
    fn non_finite_values_rank_at_the_ends() {
        let mut s = Sketch::new();
        for x in [f64::NAN, f64::INFINITY, 1.0, f64::NEG_INFINITY, 2.0] {
            s.add(x);
        }
        assert_eq!(s.quantile(0.0), Some(f64::NEG_INFINITY));
        assert_eq!(s.quantile(0.25), Some(1.0));
        assert_eq!(s.quantile(0.5), Some(2.0));
        assert_eq!(s.quantile(0.75), Some(f64::INFINITY));
        assert!(s.quantile(1.0).unwrap().is_nan());
        assert_eq!(Sketch::new().quantile(0.5), None);
    }
}
