//! Hashing columns row by row: to route rows to the worker owning their
//! key, and to order rows of one event time the same way in every run.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Float64Type, Int64Type, TimestampMillisecondType,
};

const SEED: u64 = 0x5157_4956_4552_0002;

#[inline]
fn mix(h: u64, v: u64) -> u64 {
    // A multiply-xorshift step; deterministic across processes and runs.
    let x = (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^ (x >> 29)
}

fn hash_bytes(b: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(SEED).hash_one(b)
}

/// Mixes `value(i)` (or a NULL marker) into every row's hash.
fn mix_column(
    h: &mut [u64],
    nulls: Option<&arrow::buffer::NullBuffer>,
    value: impl Fn(usize) -> u64,
) {
    for (i, x) in h.iter_mut().enumerate() {
        let v = if nulls.is_some_and(|b| b.is_null(i)) {
            0xdead
        } else {
            value(i)
        };
        *x = mix(*x, v);
    }
}

/// One hash per row over the given columns (NULL hashes like itself, so all
/// NULL keys meet on one worker, as GROUP BY requires).
pub fn hash_rows(columns: &[ArrayRef], n: usize) -> Vec<u64> {
    let mut h = vec![SEED; n];
    for col in columns {
        let nulls = col.logical_nulls();
        let nulls = nulls.as_ref();
        match col.data_type() {
            ArrowType::Int64 => {
                let v = col.as_primitive::<Int64Type>().values();
                mix_column(&mut h, nulls, |i| v[i] as u64);
            }
            ArrowType::Timestamp(_, _) => {
                let v = col.as_primitive::<TimestampMillisecondType>().values();
                mix_column(&mut h, nulls, |i| v[i] as u64);
            }
            ArrowType::Date32 => {
                let v = col.as_primitive::<Date32Type>().values();
                mix_column(&mut h, nulls, |i| v[i] as u64);
            }
            ArrowType::Float64 => {
                let v = col.as_primitive::<Float64Type>().values();
                // SQL equality: -0.0 = 0.0 and all NaNs are equal.
                mix_column(&mut h, nulls, |i| {
                    let x = v[i];
                    if x.is_nan() {
                        f64::NAN.to_bits()
                    } else if x == 0.0 {
                        0
                    } else {
                        x.to_bits()
                    }
                });
            }
            ArrowType::Boolean => {
                let v = col.as_boolean();
                mix_column(&mut h, nulls, |i| v.value(i) as u64 + 1);
            }
            ArrowType::Utf8 => {
                let v = col.as_string::<i32>();
                mix_column(&mut h, nulls, |i| hash_bytes(v.value(i).as_bytes()));
            }
            ArrowType::Binary => {
                let v = col.as_binary::<i32>();
                mix_column(&mut h, nulls, |i| hash_bytes(v.value(i)));
            }
            // An array or map: its elements' hashes in order (and its
            // length), so rows that differ only there are told apart.
            ArrowType::List(_) => {
                let l = col.as_list::<i32>();
                let inner = hash_rows(std::slice::from_ref(l.values()), l.values().len());
                let offsets = l.value_offsets();
                mix_column(&mut h, nulls, |i| fold(&inner, offsets, i));
            }
            ArrowType::Map(_, _) => {
                let m = col.as_map();
                let entries = [m.keys().clone(), m.values().clone()];
                let inner = hash_rows(&entries, m.keys().len());
                let offsets = m.value_offsets();
                mix_column(&mut h, nulls, |i| fold(&inner, offsets, i));
            }
            _ => mix_column(&mut h, nulls, |_| 1),
        }
    }
    h
}

/// The hash of row `i`'s elements, `inner[offsets[i]..offsets[i + 1]]`.
fn fold(inner: &[u64], offsets: &[i32], i: usize) -> u64 {
    let (a, b) = (offsets[i] as usize, offsets[i + 1] as usize);
    inner[a..b]
        .iter()
        .fold(mix(SEED, (b - a) as u64), |acc, &x| mix(acc, x))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Builder, ListBuilder, MapBuilder, StringBuilder};

    use super::*;

    #[test]
    fn arrays_and_maps_hash_by_their_elements() {
        let mut l = ListBuilder::new(Int64Builder::new());
        for row in [vec![1, 2], vec![2, 1], vec![1, 2], vec![1], vec![]] {
            for x in row {
                l.values().append_value(x);
            }
            l.append(true);
        }
        let lists: ArrayRef = Arc::new(l.finish());
        let h = hash_rows(&[lists], 5);
        assert_eq!(h[0], h[2], "equal arrays");
        assert_ne!(h[0], h[1], "order matters");
        assert_ne!(h[0], h[3]);
        assert_ne!(h[3], h[4]);
        let mut m = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
        for (k, v) in [("a", 1), ("a", 2), ("a", 1)] {
            m.keys().append_value(k);
            m.values().append_value(v);
            m.append(true).unwrap();
        }
        let maps: ArrayRef = Arc::new(m.finish());
        let h = hash_rows(&[maps], 3);
        assert_eq!(h[0], h[2]);
        assert_ne!(h[0], h[1]);
    }
}
