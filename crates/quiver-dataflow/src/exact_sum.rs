//! Exact summation of `f64` values.
//!
//! `SUM`, `AVG`, `VAR_POP` and `STDDEV_POP` over DOUBLE must give the same
//! bits whether a window's rows arrive in file order, from Kafka partitions
//! in another order, or split across workers and merged. Ordinary float
//! addition is not associative, so the sum is kept exactly — as an integer
//! multiple of a power of two — and rounded once when read.
//!
//! The common case fits in an `i128` scaled by `2^exp` (values whose binary
//! exponents span fewer than ~70 bits, e.g. money amounts); wider ranges move
//! to an arbitrary-precision integer. Reading is correctly rounded to
//! nearest-even, except that results in the subnormal range (below about
//! 2.2e-308) may be rounded twice.

use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

/// The lowest exponent of any `f64` bit: every finite double is an integer times `2^MIN_EXP`.
const MIN_EXP: i32 = -1074;
/// Bits the small representation may use, keeping headroom for carries.
const SMALL_BITS: u32 = 124;

/// An exact, mergeable sum of doubles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    /// The sum is `mant * 2^exp` while `big` is `None`.
    mant: i128,
    exp: i32,
    /// The sum times `2^-MIN_EXP`, once it no longer fits `mant`.
    big: Option<Box<BigInt>>,
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
}

fn bit_len(v: i128) -> u32 {
    128 - v.unsigned_abs().leading_zeros()
}

/// Splits a finite, nonzero double into `m * 2^e` with odd `m`.
fn decompose(x: f64) -> (i128, i32) {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mut m, mut e) = if biased == 0 {
        (frac, MIN_EXP)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    let tz = m.trailing_zeros();
    m >>= tz;
    e += tz as i32;
    let m = m as i128;
    (if x < 0.0 { -m } else { m }, e)
}

impl ExactSum {
    /// An empty sum (zero).
    pub fn new() -> ExactSum {
        ExactSum::default()
    }

    /// Adds one value.
    #[inline]
    pub fn add(&mut self, x: f64) {
        if x == 0.0 {
            return;
        }
        if !x.is_finite() {
            if x.is_nan() {
                self.nan = true;
            } else if x > 0.0 {
                self.pos_inf = true;
            } else {
                self.neg_inf = true;
            }
            return;
        }
        let (m, e) = decompose(x);
        self.add_scaled(m, e);
    }

    /// Adds `x * x`, computed exactly (the square of a double has up to 106 bits).
    pub fn add_square(&mut self, x: f64) {
        if x == 0.0 {
            return;
        }
        if !x.is_finite() {
            self.add(x * x);
            return;
        }
        let (m, e) = decompose(x);
        self.add_scaled(m * m, 2 * e);
    }

    /// Subtracts `x * x`, exactly (to retract an earlier [`add_square`]).
    ///
    /// [`add_square`]: ExactSum::add_square
    pub fn add_square_negated(&mut self, x: f64) {
        if x == 0.0 {
            return;
        }
        if !x.is_finite() {
            self.add(-(x * x));
            return;
        }
        let (m, e) = decompose(x);
        self.add_scaled(-(m * m), 2 * e);
    }

    /// Adds `m * 2^e`.
    #[inline]
    pub fn add_scaled(&mut self, m: i128, e: i32) {
        if m == 0 {
            return;
        }
        if let Some(big) = &mut self.big {
            **big += BigInt::from(m) << (e - MIN_EXP) as usize;
            return;
        }
        if self.mant == 0 {
            self.mant = m;
            self.exp = e;
            return;
        }
        if e >= self.exp {
            let d = (e - self.exp) as u32;
            if bit_len(m) + d <= SMALL_BITS
                && let Some(s) = self.mant.checked_add(m << d)
            {
                self.mant = s;
                return;
            }
        } else {
            let d = (self.exp - e) as u32;
            if bit_len(self.mant) + d <= SMALL_BITS
                && let Some(s) = (self.mant << d).checked_add(m)
            {
                self.mant = s;
                self.exp = e;
                return;
            }
        }
        self.promote();
        self.add_scaled(m, e);
    }

    fn promote(&mut self) {
        if self.big.is_none() {
            let v = BigInt::from(self.mant) << (self.exp - MIN_EXP) as usize;
            self.big = Some(Box::new(v));
            self.mant = 0;
        }
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &ExactSum) {
        self.nan |= other.nan;
        self.pos_inf |= other.pos_inf;
        self.neg_inf |= other.neg_inf;
        match &other.big {
            Some(b) => {
                self.promote();
                if let Some(mine) = &mut self.big {
                    **mine += &**b;
                }
            }
            None => self.add_scaled(other.mant, other.exp),
        }
    }

    /// The exact value as `(integer, exponent)`, meaning `integer * 2^exponent`,
    /// or `None` if a NaN or infinity was added.
    pub fn exact(&self) -> Option<(BigInt, i32)> {
        if self.nan || self.pos_inf || self.neg_inf {
            return None;
        }
        Some(match &self.big {
            Some(b) => ((**b).clone(), MIN_EXP),
            None => (BigInt::from(self.mant), self.exp),
        })
    }

    /// The sum, correctly rounded to the nearest double.
    pub fn value(&self) -> f64 {
        if self.nan || (self.pos_inf && self.neg_inf) {
            return f64::NAN;
        }
        if self.pos_inf {
            return f64::INFINITY;
        }
        if self.neg_inf {
            return f64::NEG_INFINITY;
        }
        match &self.big {
            // i128 -> f64 is a slow library call; most sums fit an i64.
            None if self.mant.unsigned_abs() <= i64::MAX as u128 => {
                ldexp(self.mant as i64 as f64, self.exp)
            }
            None => ldexp(self.mant as f64, self.exp),
            Some(b) => big_to_f64(b, MIN_EXP),
        }
    }
}

/// `x * 2^e`, exact while the result is a normal double.
pub fn ldexp(x: f64, e: i32) -> f64 {
    // 2^k for a normal exponent k, built from its bits.
    let pow2 = |k: i32| f64::from_bits(((k + 1023) as u64) << 52);
    let mut x = x;
    let mut e = e;
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
    }
    x * pow2(e)
}

/// `v * 2^e` as a double, rounded to nearest-even.
pub fn big_to_f64(v: &BigInt, e: i32) -> f64 {
    if v.is_zero() {
        return 0.0;
    }
    let bits = v.bits() as i64;
    if bits <= 120 {
        return ldexp(v.to_i128().unwrap_or(0) as f64, e);
    }
    // Keep the top 120 bits; fold everything below into a sticky bit so the
    // single rounding of i128 -> f64 is the correct one.
    let shift = (bits - 120) as usize;
    let magnitude = v.abs();
    let top = &magnitude >> shift;
    let sticky = (&top << shift) != magnitude;
    let mut t = top.to_i128().unwrap_or(0);
    if sticky {
        t |= 1;
    }
    let f = ldexp(t as f64, e + shift as i32);
    if v.is_negative() { -f } else { f }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter() {
        let xs = [0.1, 0.2, 0.3, 1e16, -1e16, 2.71, 2.5e-3, 7.0];
        let mut a = ExactSum::new();
        xs.iter().for_each(|x| a.add(*x));
        let mut b = ExactSum::new();
        xs.iter().rev().for_each(|x| b.add(*x));
        assert_eq!(a.value().to_bits(), b.value().to_bits());
        // 0.1 + 0.2 + 0.3 + 2.71 + 0.0025 + 7.0 exactly, then rounded once
        let naive: f64 = [0.1, 0.2, 0.3, 2.71, 2.5e-3, 7.0].iter().sum();
        assert!((a.value() - naive).abs() < 1e-12);
    }

    #[test]
    fn merges_and_wide_ranges() {
        let mut a = ExactSum::new();
        a.add(1e300);
        a.add(1e-300);
        a.add(-1e300);
        assert_eq!(a.value(), 1e-300);
        let mut x = ExactSum::new();
        x.add(0.5);
        let mut y = ExactSum::new();
        y.add(1e200);
        y.add(-1e200);
        y.add(0.25);
        x.merge(&y);
        assert_eq!(x.value(), 0.75);
    }

    #[test]
    fn specials() {
        let mut a = ExactSum::new();
        a.add(1.0);
        a.add(f64::INFINITY);
        assert_eq!(a.value(), f64::INFINITY);
        a.add(f64::NEG_INFINITY);
        assert!(a.value().is_nan());
    }

    #[test]
    fn squares_are_exact() {
        let mut q = ExactSum::new();
        q.add_square(0.1);
        let (m, e) = q.exact().unwrap();
        // 0.1 = m0 * 2^e0 with odd m0; its square is m0^2 * 2^(2 e0)
        let (m0, e0) = decompose(0.1);
        assert_eq!(m, BigInt::from(m0 * m0));
        assert_eq!(e, 2 * e0);
    }
}
