//! Hashing key columns row by row, to route rows to the worker owning their key.

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
            _ => mix_column(&mut h, nulls, |_| 1),
        }
    }
    h
}
