//! Rows encoded for the store once, as they are produced, and the
//! segment format the embedded store publishes a batch of them in.
//!
//! A [`RowBatch`] holds encoded entity keys and rows in one buffer, one
//! entry per key: a hash index on the key bytes finds a key's entry as a
//! row is pushed, and the row with the latest event time stays (on a tie,
//! the one pushed last). Keeping one entry per key as rows arrive makes a
//! batch that gathers many windows (a run replaying a backlog) cost one
//! hash probe per row.
//!
//! The buffer is laid out as a segment's data already, so publishing a
//! batch (a live window closing) costs a hash table of offsets and one
//! copy, not a sort: a segment is `MAGIC` (u32), `n` (u32, entries),
//! `slots` (u32, more than `n`), `slots` u32 slots, then the entries'
//! data. Each entry is `key_len` (varint), the key bytes, `row_len`
//! (varint), the row bytes (which start with the event time); a slot holds
//! an entry's offset in the data plus one, or 0 when empty. A key's home
//! slot is its XXH3-64 hash (a published, fixed function: segments outlive
//! the process that wrote them) scaled to `slots`, probed onwards until the
//! key or an empty slot. Integers are little-endian. A reader finds a key
//! by one hash and a probe or two, without decoding the rest.
//!
//! Segments written before this layout (no `MAGIC`: `n`, `n` offsets, then
//! per entry both lengths, the key and the row, sorted by key) are still
//! read, by binary search, so a store left with pending segments by an
//! older Quiver is read and merged as it was written. The reverse does not
//! hold: a Quiver from before this layout reports a pending hashed segment
//! as corrupt (it never misreads one) until a newer one has merged it.
//!
//! The batch's buffer is the data as it stands unless rows were replaced
//! (a batch gathering several windows while a run catches up): then the
//! live entries are first copied together.

use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_64;

use crate::codec::{
    ColumnEncoder, decode_key, decode_row, encode_columns_into, encode_key_into, encode_row_into,
    encode_time_into, row_time, varint,
};
use crate::{EntityKey, FeatureRow, StoreError};
use quiver_types::Value;

/// The first word of a hashed segment (a sorted one starts with its entry
/// count, which never reaches it).
const MAGIC: u32 = 0xFFFF_FF02;

/// Bytes before a hashed segment's slots.
const HEAD: usize = 12;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Where the entry's bytes start in the buffer (its key length).
    start: u32,
    key_at: u32,
    key_len: u32,
    row_at: u32,
    row_len: u32,
    time: i64,
    hash: u64,
}

impl Entry {
    fn end(&self) -> usize {
        (self.row_at + self.row_len) as usize
    }
}

/// Encoded rows: per entity key, the latest row.
#[derive(Debug, Clone, Default)]
pub struct RowBatch {
    /// The entries' bytes, laid out as a segment's data.
    buf: Vec<u8>,
    entries: Vec<Entry>,
    /// Per key, its entry's position in `entries`, by the key's hash.
    index: HashTable<u32>,
    /// Bytes in `buf` no entry points at any more (replaced rows).
    dead: usize,
}

fn key_of<'a>(buf: &'a [u8], e: &Entry) -> &'a [u8] {
    &buf[e.key_at as usize..(e.key_at + e.key_len) as usize]
}

/// Writes the length of the `len` bytes after the one byte reserved for
/// it at `at`, widening the reservation when the length needs more than
/// one byte (a key or row of 128 bytes or more). Returns how many bytes
/// the bytes after it moved.
#[inline]
fn fill_length(buf: &mut Vec<u8>, at: usize, len: usize) -> usize {
    if len < 0x80 {
        buf[at] = len as u8;
        return 0;
    }
    let mut v = Vec::with_capacity(5);
    varint(len as u64, &mut v);
    buf.splice(at..at + 1, v.iter().copied());
    v.len() - 1
}

impl RowBatch {
    /// An empty batch.
    pub fn new() -> RowBatch {
        RowBatch::default()
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
        let start = self.buf.len();
        // One byte for each length, widened in the rare case one needs
        // more once its bytes are there.
        self.buf.push(0);
        encode_key(&mut self.buf);
        let key_len = self.buf.len() - start - 1;
        let row_mark = self.buf.len();
        self.buf.push(0);
        // The row is encoded before the key is hashed even though an
        // older row is then dropped: hashing bytes just written a byte at
        // a time stalls on them, and older rows are rare.
        encode_row(&mut self.buf);
        let row_len = self.buf.len() - row_mark - 1;
        let key = start + 1..row_mark;
        let hash = xxh3_64(&self.buf[key.clone()]);
        let (buf, entries) = (&self.buf, &self.entries);
        let found = self.index.find(hash, |&i| {
            key_of(buf, &entries[i as usize]) == &buf[key.clone()]
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
        let moved = fill_length(&mut self.buf, start, key_len);
        let (key_at, row_mark) = (start + 1 + moved, row_mark + moved);
        let row_at = row_mark + 1 + fill_length(&mut self.buf, row_mark, row_len);
        let e = Entry {
            start: start as u32,
            key_at: key_at as u32,
            key_len: key_len as u32,
            row_at: row_at as u32,
            row_len: row_len as u32,
            time,
            hash,
        };
        match slot {
            Some(i) => {
                let old = std::mem::replace(&mut self.entries[i], e);
                self.dead += old.end() - old.start as usize;
                if self.dead > self.buf.len() / 2 {
                    self.drop_dead();
                }
            }
            None => {
                let entries = &self.entries;
                self.index
                    .insert_unique(hash, entries.len() as u32, |&i| entries[i as usize].hash);
                self.entries.push(e);
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
        self.dead = 0;
    }

    fn key(&self, e: &Entry) -> &[u8] {
        key_of(&self.buf, e)
    }

    fn row(&self, e: &Entry) -> &[u8] {
        &self.buf[e.row_at as usize..e.end()]
    }

    /// Copies the live entries' bytes into a new buffer (replaced rows
    /// are most of the old one).
    fn drop_dead(&mut self) {
        let mut buf = Vec::with_capacity(self.buf.len() - self.dead);
        for e in self.entries.iter_mut() {
            let (s, end) = (e.start as usize, e.end());
            let start = buf.len() as u32;
            buf.extend_from_slice(&self.buf[s..end]);
            e.key_at = e.key_at - e.start + start;
            e.row_at = e.row_at - e.start + start;
            e.start = start;
        }
        self.buf = buf;
        self.dead = 0;
    }

    /// The entries as (key bytes, event time, row bytes), in the order
    /// their keys first came.
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

    /// The batch as a segment: its head (up to the slots' end) and its
    /// data, the rest of the segment's bytes. The head is built here, so
    /// a store can build it before taking its write lock and only copy
    /// inside it.
    pub(crate) fn segment(&mut self) -> (Vec<u8>, &[u8]) {
        if self.dead > 0 {
            self.drop_dead();
        }
        let n = self.entries.len();
        let slots = n + n / 2 + 1;
        let mut head = vec![0u8; HEAD + 4 * slots];
        head[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        head[4..8].copy_from_slice(&(n as u32).to_le_bytes());
        head[8..12].copy_from_slice(&(slots as u32).to_le_bytes());
        let table = &mut head[HEAD..];
        for e in &self.entries {
            let mut s = home_slot(e.hash, slots);
            while table[4 * s..4 * s + 4] != [0; 4] {
                s = if s + 1 == slots { 0 } else { s + 1 };
            }
            table[4 * s..4 * s + 4].copy_from_slice(&(e.start + 1).to_le_bytes());
        }
        (head, &self.buf)
    }
}

/// The slot a key with hash `hash` is looked for from: the hash scaled to
/// the slot count (multiply and shift: no division, and no power-of-two
/// table size).
fn home_slot(hash: u64, slots: usize) -> usize {
    ((u128::from(hash) * slots as u128) >> 64) as usize
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

fn u32_at(b: &[u8], at: usize) -> Result<usize, StoreError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
        .ok_or_else(cut)
}

/// `len` bytes at `at` in `b`.
fn bytes_at(b: &[u8], at: usize, len: usize) -> Result<&[u8], StoreError> {
    b.get(at..at + len).ok_or_else(cut)
}

/// A segment's bytes, read in place.
#[derive(Clone, Copy)]
pub(crate) struct Segment<'a> {
    bytes: &'a [u8],
    layout: Layout,
}

#[derive(Clone, Copy)]
enum Layout {
    /// Hashed: `n` entries, `slots` slots, the data from `data`.
    Hashed { n: usize, slots: usize, data: usize },
    /// Sorted (an older Quiver's): `n` entries.
    Sorted { n: usize },
}

impl<'a> Segment<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Segment<'a>, StoreError> {
        let first = u32_at(bytes, 0)?;
        let layout = if first == MAGIC as usize {
            let (n, slots) = (u32_at(bytes, 4)?, u32_at(bytes, 8)?);
            if slots <= n {
                return Err(StoreError::Corrupt("segment has no free slot".into()));
            }
            Layout::Hashed {
                n,
                slots,
                data: HEAD + 4 * slots,
            }
        } else {
            Layout::Sorted { n: first }
        };
        Ok(Segment { bytes, layout })
    }

    /// Entries held.
    #[cfg(test)]
    fn len(&self) -> usize {
        match self.layout {
            Layout::Hashed { n, .. } | Layout::Sorted { n } => n,
        }
    }

    /// The hashed entry at data offset `at`: (key, row, the offset after it).
    fn hashed_entry(
        &self,
        data: usize,
        at: usize,
    ) -> Result<(&'a [u8], &'a [u8], usize), StoreError> {
        let b = self.bytes;
        let (key_len, at) = read_varint(b, data + at)?;
        let key = bytes_at(b, at, key_len)?;
        let (row_len, at) = read_varint(b, at + key_len)?;
        let row = bytes_at(b, at, row_len)?;
        Ok((key, row, at + row_len - data))
    }

    /// The sorted entry `i`: (key, row).
    fn sorted_entry(&self, i: usize) -> Result<(&'a [u8], &'a [u8]), StoreError> {
        let b = self.bytes;
        let at = u32_at(b, 4 + 4 * i)?;
        let (key_len, at) = read_varint(b, at)?;
        let (row_len, at) = read_varint(b, at)?;
        Ok((
            bytes_at(b, at, key_len)?,
            bytes_at(b, at + key_len, row_len)?,
        ))
    }

    /// Appends every entry, as (key, event time, row), to `out`.
    pub(crate) fn entries_into(
        &self,
        out: &mut Vec<(&'a [u8], i64, &'a [u8])>,
    ) -> Result<(), StoreError> {
        match self.layout {
            Layout::Hashed { n, data, .. } => {
                let mut at = 0;
                for _ in 0..n {
                    let (key, row, next) = self.hashed_entry(data, at)?;
                    out.push((key, row_time(row)?, row));
                    at = next;
                }
            }
            Layout::Sorted { n } => {
                for i in 0..n {
                    let (key, row) = self.sorted_entry(i)?;
                    out.push((key, row_time(row)?, row));
                }
            }
        }
        Ok(())
    }

    /// The entry of `key`, if the segment has one: (event time, row).
    pub(crate) fn find(&self, key: &[u8]) -> Result<Option<(i64, &'a [u8])>, StoreError> {
        match self.layout {
            Layout::Hashed { slots, data, .. } => {
                let mut s = home_slot(xxh3_64(key), slots);
                // At most every slot: a damaged table with no empty one
                // ends the search instead of spinning.
                for _ in 0..slots {
                    let at = u32_at(self.bytes, HEAD + 4 * s)?;
                    if at == 0 {
                        return Ok(None);
                    }
                    let (k, r, _) = self.hashed_entry(data, at - 1)?;
                    if k == key {
                        return Ok(Some((row_time(r)?, r)));
                    }
                    s = if s + 1 == slots { 0 } else { s + 1 };
                }
                Ok(None)
            }
            Layout::Sorted { n } => {
                let (mut lo, mut hi) = (0, n);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    let (k, r) = self.sorted_entry(mid)?;
                    match k.cmp(key) {
                        std::cmp::Ordering::Less => lo = mid + 1,
                        std::cmp::Ordering::Greater => hi = mid,
                        std::cmp::Ordering::Equal => return Ok(Some((row_time(r)?, r))),
                    }
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode_key;

    /// A segment's bytes in one piece.
    fn segment_bytes(b: &mut RowBatch) -> Vec<u8> {
        let (mut head, data) = b.segment();
        head.extend_from_slice(data);
        head
    }

    /// The first value of a row, as pushed by these tests.
    fn first(row: &[u8]) -> i64 {
        match decode_row(row).unwrap().values[0] {
            Value::Int64(n) => n,
            _ => -1,
        }
    }

    #[test]
    fn keeps_the_latest_row_per_key_and_finds_keys_in_segments() {
        let mut b = RowBatch::new();
        let k = |i| vec![Value::Int64(i)];
        // A key and a row too long for a one-byte length.
        let long_key = vec![Value::String("k".repeat(200))];
        let long_row = [Value::Int64(7), Value::String("v".repeat(300))];
        b.push(&k(5), 10, &[Value::Int64(1)]);
        b.push(&k(1), 10, &[Value::Int64(2)]);
        b.push(&k(5), 9, &[Value::Int64(3)]); // older: loses
        b.push(&k(1), 10, &[Value::Int64(4)]); // same time, later: wins
        b.push(&k(300), 1, &[Value::String("x".into())]);
        b.push(&long_key, 3, &long_row);
        assert_eq!(b.len(), 4);
        // After a segment is built, a push still finds its key.
        segment_bytes(&mut b);
        b.push(&k(1), 10, &[Value::Int64(4)]);
        b.push(&k(5), 8, &[Value::Int64(0)]); // older: loses
        assert_eq!(b.len(), 4);
        let rows = b.decode().unwrap();
        let get = |key: &[Value]| rows.iter().find(|(k, _)| k == key).unwrap().1.clone();
        assert_eq!(get(&k(5)).values, vec![Value::Int64(1)]);
        assert_eq!(get(&k(1)).values, vec![Value::Int64(4)]);
        assert_eq!(get(&long_key).values, long_row.to_vec());
        let seg = segment_bytes(&mut b);
        let s = Segment::new(&seg).unwrap();
        assert_eq!(s.len(), 4);
        let (t, r) = s.find(&encode_key(&k(300))).unwrap().unwrap();
        assert_eq!(t, 1);
        assert_eq!(
            decode_row(r).unwrap().values,
            vec![Value::String("x".into())]
        );
        let (t, r) = s.find(&encode_key(&long_key)).unwrap().unwrap();
        assert_eq!((t, decode_row(r).unwrap().values), (3, long_row.to_vec()));
        assert!(s.find(&encode_key(&k(2))).unwrap().is_none());
        let mut all = Vec::new();
        s.entries_into(&mut all).unwrap();
        assert_eq!(all.len(), 4);
        // Cut short: an error, never a wrong row or a panic.
        for cut in [3, 10, seg.len() - 1] {
            let found = Segment::new(&seg[..cut]).and_then(|s| {
                s.find(&encode_key(&k(300)))?;
                s.entries_into(&mut Vec::new())
            });
            assert!(found.is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn reads_the_sorted_segments_an_older_quiver_wrote() {
        // `n`, `n` offsets, then per entry both lengths, key and row,
        // sorted by key: the layout before hashed segments.
        let mut rows: Vec<(Vec<u8>, Vec<u8>)> = (0..5)
            .map(|i| {
                let mut row = Vec::new();
                encode_row_into(100 + i, &[Value::Int64(i)], &mut row);
                (encode_key(&[Value::Int64(i * 3)]), row)
            })
            .collect();
        rows.sort();
        let mut seg = (rows.len() as u32).to_le_bytes().to_vec();
        seg.resize(4 + 4 * rows.len(), 0);
        for (i, (key, row)) in rows.iter().enumerate() {
            let at = seg.len() as u32;
            seg[4 + 4 * i..8 + 4 * i].copy_from_slice(&at.to_le_bytes());
            varint(key.len() as u64, &mut seg);
            varint(row.len() as u64, &mut seg);
            seg.extend_from_slice(key);
            seg.extend_from_slice(row);
        }
        let s = Segment::new(&seg).unwrap();
        assert_eq!(s.len(), 5);
        let (t, r) = s.find(&encode_key(&[Value::Int64(9)])).unwrap().unwrap();
        assert_eq!((t, first(r)), (103, 3));
        assert!(s.find(&encode_key(&[Value::Int64(4)])).unwrap().is_none());
        let mut all = Vec::new();
        s.entries_into(&mut all).unwrap();
        assert_eq!(all.len(), 5);
    }

    proptest::proptest! {
        /// Against a model: per key, the latest row by event time, ties to
        /// the last pushed, whatever the order and however often a segment
        /// is built in between; the segment finds every key's row, and no
        /// other key.
        #[test]
        fn keeps_what_a_map_of_the_latest_rows_keeps(
            pushes in proptest::collection::vec((0i64..40, 0i64..5, proptest::bool::ANY), 0..300),
        ) {
            let mut b = RowBatch::new();
            let mut model = std::collections::BTreeMap::new();
            for (n, &(key, time, publish)) in pushes.iter().enumerate() {
                // Short keys, and long ones (longer than a one-byte length).
                let k = if key % 2 == 0 {
                    vec![Value::Int64(key), Value::String(format!("k{}", key % 3))]
                } else {
                    vec![Value::String(format!("{:>150}", key % 7)), Value::Int64(key)]
                };
                // Rows of either length too.
                let pad = "p".repeat(if n % 3 == 0 { 140 } else { 1 });
                b.push(&k, time, &[Value::Int64(n as i64), Value::String(pad)]);
                match model.get(&encode_key(&k)) {
                    Some(&(t, _)) if t > time => {}
                    _ => {
                        model.insert(encode_key(&k), (time, n as i64));
                    }
                }
                if publish {
                    segment_bytes(&mut b);
                }
            }
            let mut got: Vec<(Vec<u8>, (i64, i64))> =
                b.iter().map(|(k, t, r)| (k.to_vec(), (t, first(r)))).collect();
            got.sort();
            let want: Vec<(Vec<u8>, (i64, i64))> = model.into_iter().collect();
            proptest::prop_assert_eq!(&got, &want);
            let seg = segment_bytes(&mut b);
            let s = Segment::new(&seg).unwrap();
            for (k, (t, n)) in &want {
                let (time, row) = s.find(k).unwrap().unwrap();
                proptest::prop_assert_eq!((time, first(row)), (*t, *n));
            }
            proptest::prop_assert!(s.find(&encode_key(&[Value::Int64(99)])).unwrap().is_none());
            let mut all = Vec::new();
            s.entries_into(&mut all).unwrap();
            let mut all: Vec<(Vec<u8>, (i64, i64))> =
                all.iter().map(|(k, t, r)| (k.to_vec(), (*t, first(r)))).collect();
            all.sort();
            proptest::prop_assert_eq!(all, want);
        }

        /// Damaged bytes, in either layout: an error or an answer from
        /// every read, never a panic or a hang.
        #[test]
        fn reads_any_bytes_without_panicking(
            hashed in proptest::bool::ANY,
            n in 0u32..8,
            slots in 0u32..12,
            rest in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let mut bytes = Vec::new();
            if hashed {
                bytes.extend_from_slice(&MAGIC.to_le_bytes());
                bytes.extend_from_slice(&n.to_le_bytes());
                bytes.extend_from_slice(&slots.to_le_bytes());
            } else {
                bytes.extend_from_slice(&n.to_le_bytes());
            }
            bytes.extend_from_slice(&rest);
            if let Ok(s) = Segment::new(&bytes) {
                let _ = s.find(&encode_key(&[Value::Int64(1)]));
                let _ = s.entries_into(&mut Vec::new());
            }
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
            proptest::prop_assert_eq!(segment_bytes(&mut by_columns), segment_bytes(&mut by_values));
        }
    }
}
