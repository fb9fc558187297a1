//! Rows encoded for the store once, as they are produced, and the
//! segment format the embedded store publishes a batch of them in.
//!
//! A [`RowBatch`] holds encoded entity keys and rows in one buffer, one
//! entry per key: a hash index on the key bytes finds a key's entry as a
//! row is pushed, and the row with the latest event time stays (on a tie,
//! the one pushed last). [`RowBatch::sort`] sorts the entries by key,
//! which is what a store write needs. Keeping one entry per key as rows
//! arrive makes a batch that gathers many windows (a run replaying a
//! backlog) cost one hash probe per row, not a sort of every row.
//!
//! A segment is one byte string: `n` (u32), `n` entry offsets (u32), then
//! per entry `key_len` and `row_len` (varints), the key bytes and the row
//! bytes (which start with the event time), sorted by key bytes, one entry
//! per key. Integers are little-endian. A reader finds a key by binary
//! search, without decoding the rest.

use std::hash::BuildHasher;

use hashbrown::HashTable;

use crate::codec::{
    ColumnEncoder, decode_key, decode_row, encode_columns_into, encode_key_into, encode_row_into,
    encode_time_into, row_time,
};
use crate::{EntityKey, FeatureRow, StoreError};
use quiver_types::Value;

#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u32,
    key_len: u32,
    row_len: u32,
    time: i64,
}

/// Encoded rows: per entity key, the latest row.
#[derive(Debug, Clone)]
pub struct RowBatch {
    buf: Vec<u8>,
    entries: Vec<Entry>,
    /// Per key, its entry's position in `entries`; stale after a sort
    /// until the next push rebuilds it.
    index: HashTable<u32>,
    indexed: bool,
    hasher: foldhash::fast::FixedState,
    /// Bytes in `buf` no entry points at any more (replaced rows).
    dead: usize,
    /// Whether `entries` is sorted by key.
    sorted: bool,
}

fn key_of<'a>(buf: &'a [u8], e: &Entry) -> &'a [u8] {
    &buf[e.start as usize..e.start as usize + e.key_len as usize]
}

impl Default for RowBatch {
    fn default() -> RowBatch {
        RowBatch::new()
    }
}

/// The hash of entry `i`'s key, for the index.
fn hash_of(hasher: &foldhash::fast::FixedState, buf: &[u8], entries: &[Entry], i: u32) -> u64 {
    hasher.hash_one(key_of(buf, &entries[i as usize]))
}

impl RowBatch {
    /// An empty batch.
    pub fn new() -> RowBatch {
        RowBatch {
            buf: Vec::new(),
            entries: Vec::new(),
            index: HashTable::new(),
            indexed: true,
            hasher: foldhash::fast::FixedState::default(),
            dead: 0,
            sorted: true,
        }
    }

    /// Adds a row for the entity `key` at `time`; the batch keeps it if
    /// it is at least as late as the key's row so far.
    pub fn push(&mut self, key: &[Value], time: i64, values: &[Value]) {
        self.push_with(
            |buf| encode_key_into(key, buf),
            time,
            |buf| encode_row_into(time, values, buf),
        );
    }

    /// Adds row `row` of Arrow columns: the entity key from `key`, the
    /// feature values from `values` (the bytes [`RowBatch::push`] gives
    /// for the same values, without building them).
    pub fn push_columns(
        &mut self,
        key: &[ColumnEncoder<'_>],
        row: usize,
        time: i64,
        values: &[ColumnEncoder<'_>],
    ) {
        self.push_with(
            |buf| encode_columns_into(key, row, buf),
            time,
            |buf| {
                encode_time_into(time, buf);
                encode_columns_into(values, row, buf);
            },
        );
    }

    /// Adds the key `encode_key` appends at `time`, encoding the row with
    /// `encode_row` only if it is kept.
    fn push_with(
        &mut self,
        encode_key: impl FnOnce(&mut Vec<u8>),
        time: i64,
        encode_row: impl FnOnce(&mut Vec<u8>),
    ) {
        if !self.indexed {
            self.reindex();
        }
        let start = self.buf.len();
        encode_key(&mut self.buf);
        let key_len = self.buf.len() - start;
        let hash = self.hasher.hash_one(&self.buf[start..]);
        let (buf, entries) = (&self.buf, &self.entries);
        let found = self.index.find(hash, |&i| {
            key_of(buf, &entries[i as usize]) == &buf[start..start + key_len]
        });
        let slot = match found {
            Some(&i) if self.entries[i as usize].time > time => {
                // An older row than the one kept: drop its bytes.
                self.buf.truncate(start);
                return;
            }
            Some(&i) => Some(i as usize),
            None => None,
        };
        encode_row(&mut self.buf);
        let e = Entry {
            start: start as u32,
            key_len: key_len as u32,
            row_len: (self.buf.len() - start - key_len) as u32,
            time,
        };
        match slot {
            Some(i) => {
                let old = std::mem::replace(&mut self.entries[i], e);
                self.dead += (old.key_len + old.row_len) as usize;
                if self.dead > self.buf.len() / 2 {
                    self.drop_dead();
                }
            }
            None => {
                let (buf, entries) = (&self.buf, &self.entries);
                let hasher = &self.hasher;
                self.index.insert_unique(hash, entries.len() as u32, |&i| {
                    hash_of(hasher, buf, entries, i)
                });
                self.entries.push(e);
                self.sorted = self.entries.len() <= 1;
            }
        }
    }

    /// Entries held: one per key.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch holds no row.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Empties the batch, keeping its memory.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
        self.index.clear();
        self.indexed = true;
        self.dead = 0;
        self.sorted = true;
    }

    fn key(&self, e: &Entry) -> &[u8] {
        key_of(&self.buf, e)
    }

    fn row(&self, e: &Entry) -> &[u8] {
        let s = e.start as usize + e.key_len as usize;
        &self.buf[s..s + e.row_len as usize]
    }

    /// Copies the live entries' bytes into a new buffer (replaced rows
    /// are most of the old one).
    fn drop_dead(&mut self) {
        let mut buf = Vec::with_capacity(self.buf.len() - self.dead);
        for e in self.entries.iter_mut() {
            let s = e.start as usize;
            let len = (e.key_len + e.row_len) as usize;
            let start = buf.len();
            buf.extend_from_slice(&self.buf[s..s + len]);
            e.start = start as u32;
        }
        self.buf = buf;
        self.dead = 0;
    }

    /// Sorts the entries by key.
    pub fn sort(&mut self) {
        if self.sorted {
            return;
        }
        // Radix-sort on the first 16 key bytes as an integer (most keys
        // are shorter; the bytes all keys share cost nothing), then order
        // the few runs sharing a prefix by the whole key: far cheaper than
        // comparing slices through the buffer, on the path of a window's
        // write. Keys are unique, so the order is total.
        let prefix = |e: &Entry| {
            let k = self.key(e);
            let mut b = [0u8; 16];
            let n = k.len().min(16);
            b[..n].copy_from_slice(&k[..n]);
            u128::from_be_bytes(b)
        };
        let mut order: Vec<(u128, u32)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (prefix(e), i as u32))
            .collect();
        radsort::sort_by_key(&mut order, |o| o.0);
        for run in order.chunk_by_mut(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                run.sort_unstable_by(|a, b| {
                    self.key(&self.entries[a.1 as usize])
                        .cmp(self.key(&self.entries[b.1 as usize]))
                });
            }
        }
        self.entries = order
            .iter()
            .map(|&(_, i)| self.entries[i as usize])
            .collect();
        // Positions moved: the next push indexes them again (most sorted
        // batches are written and cleared first).
        self.indexed = false;
        self.sorted = true;
    }

    fn reindex(&mut self) {
        self.index.clear();
        let (buf, entries, hasher) = (&self.buf, &self.entries, &self.hasher);
        for i in 0..entries.len() as u32 {
            self.index
                .insert_unique(hash_of(hasher, buf, entries, i), i, |&j| {
                    hash_of(hasher, buf, entries, j)
                });
        }
        self.indexed = true;
    }

    /// The entries as (key bytes, event time, row bytes), in key order once
    /// sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], i64, &[u8])> {
        self.entries
            .iter()
            .map(|e| (self.key(e), e.time, self.row(e)))
    }

    /// The rows decoded (for stores that take values, not bytes).
    pub fn decode(&self) -> Result<Vec<(EntityKey, FeatureRow)>, StoreError> {
        self.iter()
            .map(|(k, _, r)| Ok((decode_key(k)?, decode_row(r)?)))
            .collect()
    }

    /// The batch as one segment (sorting it first).
    pub(crate) fn segment_sorted(&mut self) -> Vec<u8> {
        self.sort();
        let n = self.entries.len();
        let mut out = Vec::with_capacity(4 + 8 * n + self.buf.len() - self.dead);
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.resize(4 + 4 * n, 0);
        for (i, e) in self.entries.iter().enumerate() {
            let at = out.len() as u32;
            out[4 + 4 * i..8 + 4 * i].copy_from_slice(&at.to_le_bytes());
            varint(e.key_len, &mut out);
            varint(e.row_len, &mut out);
            out.extend_from_slice(self.key(e));
            out.extend_from_slice(self.row(e));
        }
        out
    }
}

fn varint(mut u: u32, out: &mut Vec<u8>) {
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

/// A varint at `at` in `b`: its value and the position after it.
fn read_varint(b: &[u8], mut at: usize) -> Result<(usize, usize), StoreError> {
    let mut v = 0usize;
    for shift in (0..35).step_by(7) {
        let byte = *b.get(at).ok_or_else(cut)?;
        at += 1;
        v |= ((byte & 0x7f) as usize) << shift;
        if byte < 0x80 {
            return Ok((v, at));
        }
    }
    Err(StoreError::Corrupt("segment length too long".into()))
}

fn cut() -> StoreError {
    StoreError::Corrupt("segment cut short".into())
}

/// A segment's bytes, read in place.
#[derive(Clone, Copy)]
pub(crate) struct Segment<'a>(&'a [u8]);

fn u32_at(b: &[u8], at: usize) -> Result<usize, StoreError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
        .ok_or_else(cut)
}

impl<'a> Segment<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Segment<'a> {
        Segment(bytes)
    }

    pub(crate) fn len(&self) -> Result<usize, StoreError> {
        u32_at(self.0, 0)
    }

    /// Entry `i`: (key, row).
    fn key_row(&self, i: usize) -> Result<(&'a [u8], &'a [u8]), StoreError> {
        let b = self.0;
        let at = u32_at(b, 4 + 4 * i)?;
        let (key_len, at) = read_varint(b, at)?;
        let (row_len, at) = read_varint(b, at)?;
        let key = b.get(at..at + key_len).ok_or_else(cut)?;
        let row = b
            .get(at + key_len..at + key_len + row_len)
            .ok_or_else(cut)?;
        Ok((key, row))
    }

    /// Entry `i`: (key, event time, row).
    pub(crate) fn entry(&self, i: usize) -> Result<(&'a [u8], i64, &'a [u8]), StoreError> {
        let (key, row) = self.key_row(i)?;
        Ok((key, row_time(row)?, row))
    }

    /// The entry of `key`, if the segment has one: (event time, row).
    pub(crate) fn find(&self, key: &[u8]) -> Result<Option<(i64, &'a [u8])>, StoreError> {
        let (mut lo, mut hi) = (0, self.len()?);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (k, r) = self.key_row(mid)?;
            match k.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some((row_time(r)?, r))),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_key;

    #[test]
    fn keeps_the_latest_row_per_key_and_finds_keys_in_segments() {
        let mut b = RowBatch::new();
        let k = |i| vec![Value::Int64(i)];
        b.push(&k(5), 10, &[Value::Int64(1)]);
        b.push(&k(1), 10, &[Value::Int64(2)]);
        b.push(&k(5), 9, &[Value::Int64(3)]); // older: loses
        b.push(&k(1), 10, &[Value::Int64(4)]); // same time, later: wins
        b.push(&k(300), 1, &[Value::String("x".into())]);
        assert_eq!(b.len(), 3);
        b.sort();
        assert_eq!(b.len(), 3);
        // After the sort, a push still finds its key.
        b.push(&k(1), 10, &[Value::Int64(4)]);
        b.push(&k(5), 8, &[Value::Int64(0)]); // older: loses
        assert_eq!(b.len(), 3);
        let rows = b.decode().unwrap();
        let get = |i| rows.iter().find(|(key, _)| *key == k(i)).unwrap().1.clone();
        assert_eq!(get(5).values, vec![Value::Int64(1)]);
        assert_eq!(get(1).values, vec![Value::Int64(4)]);
        let seg = b.segment_sorted();
        let s = Segment::new(&seg);
        assert_eq!(s.len().unwrap(), 3);
        let (t, r) = s.find(&encode_key(&k(300))).unwrap().unwrap();
        assert_eq!(t, 1);
        assert_eq!(
            decode_row(r).unwrap().values,
            vec![Value::String("x".into())]
        );
        assert!(s.find(&encode_key(&k(2))).unwrap().is_none());
        assert!(Segment::new(&seg[..10]).find(&encode_key(&k(300))).is_err());
    }

    proptest::proptest! {
        /// Against a model: per key, the latest row by event time, ties to
        /// the last pushed, whatever the order and however often the batch
        /// is sorted in between.
        #[test]
        fn keeps_what_a_map_of_the_latest_rows_keeps(
            pushes in proptest::collection::vec((0i64..40, 0i64..5, proptest::bool::ANY), 0..300),
        ) {
            let mut b = RowBatch::new();
            let mut model = std::collections::BTreeMap::new();
            for (n, &(key, time, sort)) in pushes.iter().enumerate() {
                // Short keys, and long ones whose first 16 bytes agree.
                let k = if key % 2 == 0 {
                    vec![Value::Int64(key), Value::String(format!("k{}", key % 3))]
                } else {
                    vec![Value::String(format!("a shared prefix {}", key % 7)), Value::Int64(key)]
                };
                b.push(&k, time, &[Value::Int64(n as i64)]);
                match model.get(&encode_key(&k)) {
                    Some(&(t, _)) if t > time => {}
                    _ => {
                        model.insert(encode_key(&k), (time, n as i64));
                    }
                }
                if sort {
                    b.sort();
                }
            }
            b.sort();
            let got: Vec<(Vec<u8>, (i64, i64))> = b
                .iter()
                .map(|(k, t, r)| {
                    let v = decode_row(r).unwrap().values;
                    (k.to_vec(), (t, match v[0] { Value::Int64(n) => n, _ => -1 }))
                })
                .collect();
            let want: Vec<(Vec<u8>, (i64, i64))> = model.into_iter().collect();
            proptest::prop_assert_eq!(got, want);
        }

        /// Rows pushed from Arrow columns are the bytes of the same rows
        /// pushed as values, for every type, with nulls (`bool` and `date`
        /// take the general path).
        #[test]
        fn columns_encode_as_their_values_do(
            rows in proptest::collection::vec(
                (
                    proptest::option::of(proptest::num::i64::ANY),
                    proptest::option::of(proptest::num::f64::ANY),
                    proptest::option::of(proptest::num::i64::ANY),
                    proptest::option::of("[a-zé]{0,20}"),
                    proptest::option::of(proptest::bool::ANY),
                    proptest::option::of(proptest::num::i32::ANY),
                ),
                0..60,
            ),
        ) {
            use arrow::array::{
                ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
                TimestampMillisecondArray,
            };
            use std::sync::Arc;
            let columns: Vec<ArrayRef> = vec![
                Arc::new(rows.iter().map(|r| r.0).collect::<Int64Array>()),
                Arc::new(rows.iter().map(|r| r.1).collect::<Float64Array>()),
                Arc::new(
                    rows.iter().map(|r| r.2).collect::<TimestampMillisecondArray>().with_timezone("UTC"),
                ),
                Arc::new(rows.iter().map(|r| r.3.clone()).collect::<StringArray>()),
                Arc::new(rows.iter().map(|r| r.4).collect::<BooleanArray>()),
                Arc::new(rows.iter().map(|r| r.5).collect::<Date32Array>()),
            ];
            let encoders: Vec<ColumnEncoder<'_>> =
                columns.iter().map(|c| ColumnEncoder::new(c.as_ref())).collect();
            let (mut by_columns, mut by_values) = (RowBatch::new(), RowBatch::new());
            for row in 0..rows.len() {
                // Each column in turn is the key, so every type is a key too.
                let k = row % columns.len();
                let time = row as i64 - 30;
                by_columns.push_columns(&encoders[k..=k], row, time, &encoders);
                let values: Vec<Value> =
                    columns.iter().map(|c| Value::from_array(c.as_ref(), row)).collect();
                by_values.push(&values[k..=k], time, &values);
            }
            proptest::prop_assert_eq!(by_columns.segment_sorted(), by_values.segment_sorted());
        }
    }
}
