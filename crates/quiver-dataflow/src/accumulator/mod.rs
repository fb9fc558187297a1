//! Per-group aggregate state, updated a batch at a time.
//!
//! A [`GroupAccumulator`] holds one state per group id (groups are numbered
//! by the pane's group table). `update` folds selected rows of a batch into
//! their groups in one tight loop; `merge` folds another pane's states in
//! (how hopping windows combine panes); `evaluate` produces the output
//! column. All states are mergeable, and merging in any order gives the
//! same bits (floating-point sums are exact, see [`crate::exact_sum`]).

use std::any::Any;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Float64Array, Int64Array, PrimitiveArray,
    StringArray,
};
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Float64Type, Int64Type, TimestampMillisecondType,
};
use hashbrown::HashSet;
use num_bigint::BigInt;
use quiver_sql::{AggFunc, AggregateCall};
use quiver_types::DataType;

use crate::exact_sum::{ExactSum, big_to_f64};

mod by_time;
mod collect;
mod percentile;

/// Aggregate state for many groups.
pub trait GroupAccumulator: Send {
    /// Grows to hold `n` groups (new groups start empty).
    fn resize(&mut self, n: usize);
    /// Folds `values[rows[i]]` into group `groups[i]` for every `i`;
    /// `times[rows[i]]` is that row's event time (only the aggregates by
    /// event time read it).
    fn update(&mut self, values: Option<&ArrayRef>, times: &[i64], rows: &[u32], groups: &[u32]);
    /// Folds group `from` of `other` (an accumulator of the same kind) into group `into`, for each pair.
    fn merge(&mut self, other: &dyn GroupAccumulator, pairs: &[(u32, u32)]);
    /// The results for `groups`, in that order.
    fn evaluate(&self, groups: &[u32]) -> ArrayRef;
    /// An empty accumulator of the same kind.
    fn empty(&self) -> Box<dyn GroupAccumulator>;
    /// For downcasting in `merge`.
    fn as_any(&self) -> &dyn Any;
}

fn other<T: 'static>(o: &dyn GroupAccumulator) -> &T {
    o.as_any()
        .downcast_ref::<T>()
        .expect("merging accumulators of the same kind")
}

/// Creates the accumulator for an aggregate call whose argument (if any) has type `arg`.
pub fn new_accumulator(call: &AggregateCall) -> Box<dyn GroupAccumulator> {
    let arg = call.arg.as_ref().map(|a| a.data_type());
    match (call.func, arg, call.distinct) {
        (AggFunc::Count, None, _) => Box::new(Count::default()),
        (AggFunc::Count, Some(t), true) => new_distinct(t),
        (AggFunc::Count, Some(_), false) => Box::new(Count::default()),
        (AggFunc::Sum, Some(DataType::Float64), _) => Box::new(FloatSum::new(FloatOut::Sum)),
        (AggFunc::Sum, _, _) => Box::new(IntSum::new(false)),
        (AggFunc::Avg, Some(DataType::Float64), _) => Box::new(FloatSum::new(FloatOut::Avg)),
        (AggFunc::Avg, _, _) => Box::new(IntSum::new(true)),
        (AggFunc::VarPop, _, _) => Box::new(Moments::new(false)),
        (AggFunc::StddevPop, _, _) => Box::new(Moments::new(true)),
        (AggFunc::Min | AggFunc::Max, Some(t), _) => new_min_max(t, call.func == AggFunc::Max),
        (AggFunc::Min | AggFunc::Max, None, _) => Box::new(Count::default()),
        // The binder plans DISTINCT_COUNT(x) as COUNT(DISTINCT x).
        (AggFunc::DistinctCount, Some(t), _) => new_distinct(t),
        (AggFunc::Percentile(p), t, _) => Box::new(percentile::Exact::new(
            p.value(),
            t == Some(DataType::Float64),
        )),
        (AggFunc::ApproxPercentile(p), _, _) => Box::new(percentile::Approx::new(p.value())),
        (AggFunc::FirstValue | AggFunc::LastValue, Some(t), _) => {
            by_time::new_by_time(t, call.func == AggFunc::LastValue)
        }
        (
            AggFunc::CollectArray | AggFunc::LastK(_) | AggFunc::TopK(_) | AggFunc::Histogram,
            _,
            _,
        ) => {
            // The binder reads an untyped NULL as BIGINT.
            let elem = arg
                .and_then(quiver_types::ElementType::from_data_type)
                .unwrap_or(quiver_types::ElementType::Int64);
            match call.func {
                AggFunc::Histogram => Box::new(collect::Histogram::new(elem)),
                AggFunc::LastK(k) => Box::new(collect::Lists::new(
                    collect::Listing::LastK(k as usize),
                    elem,
                )),
                AggFunc::TopK(k) => Box::new(collect::Lists::new(
                    collect::Listing::TopK(k as usize),
                    elem,
                )),
                _ => Box::new(collect::Lists::new(collect::Listing::Collect, elem)),
            }
        }
        (AggFunc::DistinctCount | AggFunc::FirstValue | AggFunc::LastValue, None, _) => {
            Box::new(Count::default())
        }
    }
}

/// `COUNT(x)`: non-null values; `COUNT(*)` (no argument): rows.
#[derive(Default)]
struct Count {
    counts: Vec<i64>,
}

impl GroupAccumulator for Count {
    fn resize(&mut self, n: usize) {
        self.counts.resize(n, 0);
    }
    fn update(&mut self, values: Option<&ArrayRef>, _: &[i64], rows: &[u32], groups: &[u32]) {
        match values.filter(|v| v.null_count() > 0) {
            None => {
                for &g in groups {
                    self.counts[g as usize] += 1;
                }
            }
            Some(v) => {
                for (&r, &g) in rows.iter().zip(groups) {
                    if v.is_valid(r as usize) {
                        self.counts[g as usize] += 1;
                    }
                }
            }
        }
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            self.counts[t as usize] += o.counts[f as usize];
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        Arc::new(
            groups
                .iter()
                .map(|&g| self.counts[g as usize])
                .collect::<Int64Array>(),
        )
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(Self::default())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `SUM` / `AVG` of BIGINT, in 128 bits so no intermediate overflow occurs.
/// A SUM outside the BIGINT range is NULL (like an overflowing `+`).
struct IntSum {
    sums: Vec<i128>,
    counts: Vec<i64>,
    avg: bool,
}

impl IntSum {
    fn new(avg: bool) -> IntSum {
        IntSum {
            sums: Vec::new(),
            counts: Vec::new(),
            avg,
        }
    }
}

impl GroupAccumulator for IntSum {
    fn resize(&mut self, n: usize) {
        self.sums.resize(n, 0);
        self.counts.resize(n, 0);
    }
    fn update(&mut self, values: Option<&ArrayRef>, _: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values.and_then(|v| v.as_primitive_opt::<Int64Type>()) else {
            return;
        };
        let vals = v.values();
        let no_nulls = v.null_count() == 0;
        for (&r, &g) in rows.iter().zip(groups) {
            if no_nulls || v.is_valid(r as usize) {
                self.sums[g as usize] += vals[r as usize] as i128;
                self.counts[g as usize] += 1;
            }
        }
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            self.sums[t as usize] += o.sums[f as usize];
            self.counts[t as usize] += o.counts[f as usize];
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        if self.avg {
            Arc::new(
                groups
                    .iter()
                    .map(|&g| {
                        let (s, c) = (self.sums[g as usize], self.counts[g as usize]);
                        (c > 0).then(|| s as f64 / c as f64)
                    })
                    .collect::<Float64Array>(),
            )
        } else {
            Arc::new(
                groups
                    .iter()
                    .map(|&g| {
                        let (s, c) = (self.sums[g as usize], self.counts[g as usize]);
                        if c == 0 { None } else { i64::try_from(s).ok() }
                    })
                    .collect::<Int64Array>(),
            )
        }
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(IntSum::new(self.avg))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Clone, Copy, PartialEq)]
enum FloatOut {
    Sum,
    Avg,
}

/// `SUM` / `AVG` of DOUBLE, exact until the final rounding.
struct FloatSum {
    sums: Vec<ExactSum>,
    counts: Vec<i64>,
    out: FloatOut,
}

impl FloatSum {
    fn new(out: FloatOut) -> FloatSum {
        FloatSum {
            sums: Vec::new(),
            counts: Vec::new(),
            out,
        }
    }
}

impl GroupAccumulator for FloatSum {
    fn resize(&mut self, n: usize) {
        self.sums.resize(n, ExactSum::new());
        self.counts.resize(n, 0);
    }
    fn update(&mut self, values: Option<&ArrayRef>, _: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values.and_then(|v| v.as_primitive_opt::<Float64Type>()) else {
            return;
        };
        let vals = v.values();
        let no_nulls = v.null_count() == 0;
        for (&r, &g) in rows.iter().zip(groups) {
            if no_nulls || v.is_valid(r as usize) {
                self.sums[g as usize].add(vals[r as usize]);
                self.counts[g as usize] += 1;
            }
        }
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            self.sums[t as usize].merge(&o.sums[f as usize]);
            self.counts[t as usize] += o.counts[f as usize];
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        Arc::new(
            groups
                .iter()
                .map(|&g| {
                    let c = self.counts[g as usize];
                    (c > 0).then(|| {
                        let s = self.sums[g as usize].value();
                        if self.out == FloatOut::Avg {
                            s / c as f64
                        } else {
                            s
                        }
                    })
                })
                .collect::<Float64Array>(),
        )
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(FloatSum::new(self.out))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `VAR_POP` / `STDDEV_POP`: exact sums of x and x², combined exactly as
/// (n·Σx² − (Σx)²) / n², then rounded.
struct Moments {
    sums: Vec<ExactSum>,
    squares: Vec<ExactSum>,
    counts: Vec<i64>,
    sqrt: bool,
}

impl Moments {
    fn new(sqrt: bool) -> Moments {
        Moments {
            sums: Vec::new(),
            squares: Vec::new(),
            counts: Vec::new(),
            sqrt,
        }
    }

    fn variance(&self, g: usize) -> Option<f64> {
        let n = self.counts[g];
        if n == 0 {
            return None;
        }
        let (Some((s, se)), Some((q, qe))) = (self.sums[g].exact(), self.squares[g].exact()) else {
            return Some(f64::NAN);
        };
        // Bring n·Q and S² to a common exponent, subtract exactly.
        let (s2, s2e) = (&s * &s, 2 * se);
        let nq = BigInt::from(n) * q;
        let e = s2e.min(qe);
        let num = (nq << (qe - e) as usize) - (s2 << (s2e - e) as usize);
        let var = big_to_f64(&num, e) / (n as f64 * n as f64);
        Some(var.max(0.0))
    }
}

impl GroupAccumulator for Moments {
    fn resize(&mut self, n: usize) {
        self.sums.resize(n, ExactSum::new());
        self.squares.resize(n, ExactSum::new());
        self.counts.resize(n, 0);
    }
    fn update(&mut self, values: Option<&ArrayRef>, _: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values else { return };
        let floats: Float64Array = match v.data_type() {
            ArrowType::Float64 => v.as_primitive::<Float64Type>().clone(),
            _ => v.as_primitive::<Int64Type>().unary(|x| x as f64),
        };
        let exact_ints = v.data_type() == &ArrowType::Int64;
        for (&r, &g) in rows.iter().zip(groups) {
            let r = r as usize;
            if floats.is_valid(r) {
                let g = g as usize;
                if exact_ints {
                    let x = v.as_primitive::<Int64Type>().value(r) as i128;
                    self.sums[g].add_scaled(x, 0);
                    self.squares[g].add_scaled(x * x, 0);
                } else {
                    let x = floats.value(r);
                    self.sums[g].add(x);
                    self.squares[g].add_square(x);
                }
                self.counts[g] += 1;
            }
        }
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            let (f, t) = (f as usize, t as usize);
            self.sums[t].merge(&o.sums[f]);
            self.squares[t].merge(&o.squares[f]);
            self.counts[t] += o.counts[f];
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        Arc::new(
            groups
                .iter()
                .map(|&g| {
                    self.variance(g as usize)
                        .map(|v| if self.sqrt { v.sqrt() } else { v })
                })
                .collect::<Float64Array>(),
        )
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(Moments::new(self.sqrt))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Reads one Arrow column type: visits the selected rows' values (one
/// downcast per batch, not per row) and builds an output column.
trait ValueColumn: Send + 'static {
    type Value: Clone + Send + 'static;
    /// Calls `f(row, group, value)` for each selected non-null row.
    fn for_each(a: &dyn Array, rows: &[u32], groups: &[u32], f: impl FnMut(u32, u32, Self::Value));
    /// A column of the given values.
    fn build(values: Vec<Option<Self::Value>>) -> ArrayRef;
}

fn visit<T: Copy>(
    a: &dyn Array,
    values: &[T],
    rows: &[u32],
    groups: &[u32],
    mut f: impl FnMut(u32, u32, T),
) {
    if a.null_count() == 0 {
        for (&r, &g) in rows.iter().zip(groups) {
            f(r, g, values[r as usize]);
        }
    } else {
        for (&r, &g) in rows.iter().zip(groups) {
            if a.is_valid(r as usize) {
                f(r, g, values[r as usize]);
            }
        }
    }
}

struct PrimCol<T>(std::marker::PhantomData<T>);

macro_rules! prim_col {
    ($t:ty, $native:ty, $finish:expr) => {
        impl ValueColumn for PrimCol<$t> {
            type Value = $native;
            fn for_each(
                a: &dyn Array,
                rows: &[u32],
                groups: &[u32],
                f: impl FnMut(u32, u32, $native),
            ) {
                visit(a, a.as_primitive::<$t>().values(), rows, groups, f)
            }
            fn build(values: Vec<Option<$native>>) -> ArrayRef {
                let arr: PrimitiveArray<$t> = values.into_iter().collect();
                let finish: fn(PrimitiveArray<$t>) -> ArrayRef = $finish;
                finish(arr)
            }
        }
    };
}
prim_col!(Int64Type, i64, |a| Arc::new(a));
prim_col!(Date32Type, i32, |a| Arc::new(a));
prim_col!(TimestampMillisecondType, i64, |a| Arc::new(
    a.with_timezone("UTC")
));

/// Doubles as integers that order like IEEE 754's total order (every NaN
/// made positive, so NaN sorts above +inf as in SQL engines; -0.0 < 0.0, so
/// MIN/MAX do not depend on which zero arrived first).
struct FloatOrderCol;

fn float_key(x: f64) -> i64 {
    let x = if x.is_nan() { f64::NAN } else { x };
    let b = x.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

fn float_from_key(k: i64) -> f64 {
    f64::from_bits((k ^ (((k >> 63) as u64) >> 1) as i64) as u64)
}

impl ValueColumn for FloatOrderCol {
    type Value = i64;
    fn for_each(a: &dyn Array, rows: &[u32], groups: &[u32], mut f: impl FnMut(u32, u32, i64)) {
        visit(
            a,
            a.as_primitive::<Float64Type>().values(),
            rows,
            groups,
            |r, g, x| f(r, g, float_key(x)),
        )
    }
    fn build(values: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(
            values
                .into_iter()
                .map(|v| v.map(float_from_key))
                .collect::<Float64Array>(),
        )
    }
}

/// Doubles compared as SQL equality does for DISTINCT: -0.0 = 0.0, NaNs equal.
struct FloatEqCol;

impl ValueColumn for FloatEqCol {
    type Value = u64;
    fn for_each(a: &dyn Array, rows: &[u32], groups: &[u32], mut f: impl FnMut(u32, u32, u64)) {
        let canon = |x: f64| {
            if x.is_nan() {
                f64::NAN.to_bits()
            } else if x == 0.0 {
                0
            } else {
                x.to_bits()
            }
        };
        visit(
            a,
            a.as_primitive::<Float64Type>().values(),
            rows,
            groups,
            |r, g, x| f(r, g, canon(x)),
        )
    }
    fn build(_: Vec<Option<u64>>) -> ArrayRef {
        Arc::new(Float64Array::from(Vec::<f64>::new()))
    }
}

struct BoolCol;
impl ValueColumn for BoolCol {
    type Value = bool;
    fn for_each(a: &dyn Array, rows: &[u32], groups: &[u32], mut f: impl FnMut(u32, u32, bool)) {
        let b = a.as_boolean();
        for (&r, &g) in rows.iter().zip(groups) {
            if b.is_valid(r as usize) {
                f(r, g, b.value(r as usize));
            }
        }
    }
    fn build(values: Vec<Option<bool>>) -> ArrayRef {
        Arc::new(values.into_iter().collect::<BooleanArray>())
    }
}

struct StrCol;
impl ValueColumn for StrCol {
    type Value = Box<str>;
    fn for_each(
        a: &dyn Array,
        rows: &[u32],
        groups: &[u32],
        mut f: impl FnMut(u32, u32, Box<str>),
    ) {
        let s = a.as_string::<i32>();
        for (&r, &g) in rows.iter().zip(groups) {
            if s.is_valid(r as usize) {
                f(r, g, s.value(r as usize).into());
            }
        }
    }
    fn build(values: Vec<Option<Box<str>>>) -> ArrayRef {
        Arc::new(values.iter().map(|v| v.as_deref()).collect::<StringArray>())
    }
}

struct BinCol;
impl ValueColumn for BinCol {
    type Value = Box<[u8]>;
    fn for_each(
        a: &dyn Array,
        rows: &[u32],
        groups: &[u32],
        mut f: impl FnMut(u32, u32, Box<[u8]>),
    ) {
        let s = a.as_binary::<i32>();
        for (&r, &g) in rows.iter().zip(groups) {
            if s.is_valid(r as usize) {
                f(r, g, s.value(r as usize).into());
            }
        }
    }
    fn build(values: Vec<Option<Box<[u8]>>>) -> ArrayRef {
        Arc::new(values.iter().map(|v| v.as_deref()).collect::<BinaryArray>())
    }
}

/// `MIN` / `MAX` over values ordered by `Ord`.
struct MinMax<C: ValueColumn>
where
    C::Value: Ord,
{
    best: Vec<Option<C::Value>>,
    max: bool,
}

impl<C: ValueColumn> MinMax<C>
where
    C::Value: Ord,
{
    fn new(max: bool) -> MinMax<C> {
        MinMax {
            best: Vec::new(),
            max,
        }
    }
}

#[inline]
fn offer<V: Ord>(slot: &mut Option<V>, v: V, max: bool) {
    let better = match slot {
        None => true,
        Some(b) => {
            if max {
                v > *b
            } else {
                v < *b
            }
        }
    };
    if better {
        *slot = Some(v);
    }
}

impl<C: ValueColumn> GroupAccumulator for MinMax<C>
where
    C::Value: Ord,
{
    fn resize(&mut self, n: usize) {
        self.best.resize(n, None);
    }
    fn update(&mut self, values: Option<&ArrayRef>, _: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values else { return };
        let (best, max) = (&mut self.best, self.max);
        C::for_each(v.as_ref(), rows, groups, |_, g, x| {
            offer(&mut best[g as usize], x, max)
        });
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            if let Some(v) = &o.best[f as usize] {
                offer(&mut self.best[t as usize], v.clone(), self.max);
            }
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        C::build(
            groups
                .iter()
                .map(|&g| self.best[g as usize].clone())
                .collect(),
        )
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(MinMax::<C>::new(self.max))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn new_min_max(t: DataType, max: bool) -> Box<dyn GroupAccumulator> {
    match t {
        DataType::Int64 => Box::new(MinMax::<PrimCol<Int64Type>>::new(max)),
        DataType::Float64 => Box::new(MinMax::<FloatOrderCol>::new(max)),
        DataType::Timestamp => Box::new(MinMax::<PrimCol<TimestampMillisecondType>>::new(max)),
        DataType::Date => Box::new(MinMax::<PrimCol<Date32Type>>::new(max)),
        DataType::Bool => Box::new(MinMax::<BoolCol>::new(max)),
        DataType::String => Box::new(MinMax::<StrCol>::new(max)),
        DataType::Bytes | DataType::Null => Box::new(MinMax::<BinCol>::new(max)),
        // The binder refuses arrays and maps here (`aggregate_type`).
        DataType::List(_) | DataType::Map(..) => Box::new(collect::Unsupported(t)),
    }
}

/// `COUNT(DISTINCT x)`: a set of the non-null values per group.
struct Distinct<C: ValueColumn>
where
    C::Value: Eq + std::hash::Hash,
{
    sets: Vec<HashSet<C::Value>>,
}

impl<C: ValueColumn> GroupAccumulator for Distinct<C>
where
    C::Value: Eq + std::hash::Hash,
{
    fn resize(&mut self, n: usize) {
        self.sets.resize_with(n, HashSet::new);
    }
    fn update(&mut self, values: Option<&ArrayRef>, _: &[i64], rows: &[u32], groups: &[u32]) {
        let Some(v) = values else { return };
        let sets = &mut self.sets;
        C::for_each(v.as_ref(), rows, groups, |_, g, x| {
            sets[g as usize].insert(x);
        });
    }
    fn merge(&mut self, o: &dyn GroupAccumulator, pairs: &[(u32, u32)]) {
        let o = other::<Self>(o);
        for &(f, t) in pairs {
            let src = &o.sets[f as usize];
            let dst = &mut self.sets[t as usize];
            dst.extend(src.iter().cloned());
        }
    }
    fn evaluate(&self, groups: &[u32]) -> ArrayRef {
        Arc::new(
            groups
                .iter()
                .map(|&g| self.sets[g as usize].len() as i64)
                .collect::<Int64Array>(),
        )
    }
    fn empty(&self) -> Box<dyn GroupAccumulator> {
        Box::new(Distinct::<C> { sets: Vec::new() })
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn new_distinct(t: DataType) -> Box<dyn GroupAccumulator> {
    fn d<C: ValueColumn>() -> Box<dyn GroupAccumulator>
    where
        C::Value: Eq + std::hash::Hash,
    {
        Box::new(Distinct::<C> { sets: Vec::new() })
    }
    match t {
        DataType::Int64 => d::<PrimCol<Int64Type>>(),
        DataType::Timestamp => d::<PrimCol<TimestampMillisecondType>>(),
        DataType::Date => d::<PrimCol<Date32Type>>(),
        DataType::Bool => d::<BoolCol>(),
        DataType::Float64 => d::<FloatEqCol>(),
        DataType::String => d::<StrCol>(),
        DataType::Bytes | DataType::Null => d::<BinCol>(),
        // The binder refuses arrays and maps here (`aggregate_type`).
        DataType::List(_) | DataType::Map(..) => Box::new(collect::Unsupported(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_sql::ScalarExpr;

    fn call(func: AggFunc, t: DataType, distinct: bool) -> AggregateCall {
        AggregateCall {
            func,
            arg: Some(ScalarExpr::column(0, "x", t)),
            distinct,
            data_type: t,
        }
    }

    #[test]
    fn sums_counts_and_extremes() {
        let vals: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(5), Some(5)]));
        let rows = [0u32, 1, 2, 3];
        let groups = [0u32, 0, 1, 1];
        let run = |c: AggregateCall| {
            let mut a = new_accumulator(&c);
            a.resize(2);
            a.update(Some(&vals), &[], &rows, &groups);
            a.evaluate(&[0, 1])
        };
        let sum = run(call(AggFunc::Sum, DataType::Int64, false));
        assert_eq!(
            sum.as_primitive::<Int64Type>().values().to_vec(),
            vec![1, 10]
        );
        let cnt = run(call(AggFunc::Count, DataType::Int64, false));
        assert_eq!(
            cnt.as_primitive::<Int64Type>().values().to_vec(),
            vec![1, 2]
        );
        let dc = run(call(AggFunc::Count, DataType::Int64, true));
        assert_eq!(dc.as_primitive::<Int64Type>().values().to_vec(), vec![1, 1]);
        let mx = run(call(AggFunc::Max, DataType::Int64, false));
        assert_eq!(mx.as_primitive::<Int64Type>().values().to_vec(), vec![1, 5]);
        let var = run(AggregateCall {
            data_type: DataType::Float64,
            ..call(AggFunc::VarPop, DataType::Int64, false)
        });
        assert_eq!(
            var.as_primitive::<Float64Type>().values().to_vec(),
            vec![0.0, 0.0]
        );
    }

    #[test]
    fn merging_panes_equals_one_pass() {
        let vals: ArrayRef = Arc::new(Float64Array::from(vec![0.1, 0.2, 0.3, 0.4]));
        let c = AggregateCall {
            data_type: DataType::Float64,
            ..call(AggFunc::StddevPop, DataType::Float64, false)
        };
        let mut whole = new_accumulator(&c);
        whole.resize(1);
        whole.update(Some(&vals), &[], &[0, 1, 2, 3], &[0, 0, 0, 0]);
        let mut a = new_accumulator(&c);
        a.resize(1);
        a.update(Some(&vals), &[], &[2, 3], &[0, 0]);
        let mut b = new_accumulator(&c);
        b.resize(1);
        b.update(Some(&vals), &[], &[0, 1], &[0, 0]);
        a.merge(b.as_ref(), &[(0, 0)]);
        let x = whole.evaluate(&[0]);
        let y = a.evaluate(&[0]);
        assert_eq!(
            x.as_primitive::<Float64Type>().value(0).to_bits(),
            y.as_primitive::<Float64Type>().value(0).to_bits()
        );
        assert!((x.as_primitive::<Float64Type>().value(0) - 0.111_803_398_874_989_5).abs() < 1e-15);
    }
}
