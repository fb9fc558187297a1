//! Interning group keys: each distinct key of a pane gets a dense id.
//!
//! Three layouts behind one interface:
//! * a single BIGINT or TIMESTAMP key (entity ids, the common case) is kept
//!   as `i64`s and hashed directly;
//! * a single VARCHAR key is kept as bytes in one arena and hashed directly;
//! * any other key — several columns, strings, doubles — is encoded with
//!   Arrow's row format (byte strings that compare like the values) and
//!   stored once in a `Rows` arena.
//!
//! Both hash with fixed seeds, so ids are reproducible, and a `hashbrown`
//! table maps hashes to ids. Accumulators are vectors indexed by these ids.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::datatypes::{DataType as ArrowType, Int64Type, TimestampMillisecondType};
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::HashTable;

use crate::error::DataflowError;

const SEED: u64 = 0x5157_4956_4552_0001;

/// Hashes key bytes for grouping (a different seed than for exchange, so a
/// worker's keys spread over its whole table).
pub fn group_hash(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(SEED).hash_one(bytes)
}

#[inline]
fn int_hash(v: Option<i64>) -> u64 {
    let x = match v {
        Some(v) => (v as u64) ^ SEED,
        None => 0x9E37_79B9_7F4A_7C15,
    };
    // A 64-bit finalizer (murmur3's fmix64): all bits of the key reach the high bits.
    let mut h = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// How a window operator encodes its keys.
pub enum KeyCodec {
    /// One BIGINT (or TIMESTAMP, if `timestamp`) column.
    Int {
        /// Whether the key is a timestamp.
        timestamp: bool,
    },
    /// One VARCHAR column.
    Str,
    /// Any other key, in Arrow's row format.
    Rows(RowConverter),
}

/// The keys of one batch, encoded.
pub enum BatchKeys {
    /// Integer keys (the column's values, not copied) with their validity.
    Int(ScalarBuffer<i64>, Option<NullBuffer>),
    /// String keys (the column, not copied).
    Str(StringArray),
    /// Row-format keys.
    Rows(Rows),
}

impl BatchKeys {
    #[inline]
    fn int(&self, row: usize) -> Option<i64> {
        match self {
            BatchKeys::Int(v, nulls) => {
                (!nulls.as_ref().is_some_and(|n| n.is_null(row))).then(|| v[row])
            }
            _ => None,
        }
    }

    #[inline]
    fn str(&self, row: usize) -> Option<&str> {
        match self {
            BatchKeys::Str(a) => a.is_valid(row).then(|| a.value(row)),
            _ => None,
        }
    }
}

impl KeyCodec {
    /// The codec for keys of these Arrow types (no keys: one constant key).
    pub fn new(types: &[ArrowType]) -> Result<KeyCodec, DataflowError> {
        Ok(match types {
            [ArrowType::Int64] => KeyCodec::Int { timestamp: false },
            [ArrowType::Timestamp(_, _)] => KeyCodec::Int { timestamp: true },
            [ArrowType::Utf8] => KeyCodec::Str,
            [] => KeyCodec::Rows(RowConverter::new(vec![SortField::new(ArrowType::Boolean)])?),
            _ => KeyCodec::Rows(RowConverter::new(
                types.iter().map(|t| SortField::new(t.clone())).collect(),
            )?),
        })
    }

    /// Encodes key columns of `n` rows, returning them with one hash per row.
    pub fn encode(
        &self,
        columns: &[ArrayRef],
        n: usize,
    ) -> Result<(BatchKeys, Vec<u64>), DataflowError> {
        match self {
            KeyCodec::Int { timestamp } => {
                let (values, nulls) = if *timestamp {
                    let a = columns[0].as_primitive::<TimestampMillisecondType>();
                    (a.values().clone(), a.nulls().cloned())
                } else {
                    let a = columns[0].as_primitive::<Int64Type>();
                    (a.values().clone(), a.nulls().cloned())
                };
                let hashes = match &nulls {
                    None => values.iter().map(|v| int_hash(Some(*v))).collect(),
                    Some(n) => values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| int_hash((!n.is_null(i)).then_some(*v)))
                        .collect(),
                };
                Ok((BatchKeys::Int(values, nulls), hashes))
            }
            KeyCodec::Str => {
                let a = columns[0].as_string::<i32>().clone();
                let hashes = (0..n)
                    .map(|i| {
                        if a.is_valid(i) {
                            group_hash(a.value(i).as_bytes())
                        } else {
                            int_hash(None)
                        }
                    })
                    .collect();
                Ok((BatchKeys::Str(a), hashes))
            }
            KeyCodec::Rows(conv) => {
                let cols: Vec<ArrayRef> = if columns.is_empty() {
                    vec![Arc::new(arrow::array::BooleanArray::from(vec![true; n]))]
                } else {
                    columns.to_vec()
                };
                let rows = conv.convert_columns(&cols)?;
                let hashes = (0..n).map(|i| group_hash(rows.row(i).data())).collect();
                Ok((BatchKeys::Rows(rows), hashes))
            }
        }
    }

    /// An empty group table for this codec, with room for `capacity` groups.
    pub fn table(&self, capacity: usize) -> GroupTable {
        let store = match self {
            KeyCodec::Int { .. } => Store::Int(Vec::with_capacity(capacity)),
            KeyCodec::Str => Store::Str {
                bytes: Vec::with_capacity(capacity * 16),
                ends: Vec::with_capacity(capacity),
                valid: Vec::with_capacity(capacity),
            },
            KeyCodec::Rows(conv) => Store::Rows(conv.empty_rows(capacity, capacity * 8)),
        };
        GroupTable {
            store,
            hashes: Vec::with_capacity(capacity),
            map: HashTable::with_capacity(capacity),
        }
    }
}

enum Store {
    Int(Vec<Option<i64>>),
    /// String keys back to back; key `g` is `bytes[ends[g - 1]..ends[g]]`.
    Str {
        bytes: Vec<u8>,
        ends: Vec<usize>,
        valid: Vec<bool>,
    },
    Rows(Rows),
}

impl Store {
    #[inline]
    fn str(&self, g: usize) -> Option<&[u8]> {
        match self {
            Store::Str { bytes, ends, valid } => {
                valid[g].then(|| &bytes[if g == 0 { 0 } else { ends[g - 1] }..ends[g]])
            }
            _ => None,
        }
    }

    fn push_str(&mut self, key: Option<&[u8]>) {
        if let Store::Str { bytes, ends, valid } = self {
            bytes.extend_from_slice(key.unwrap_or_default());
            ends.push(bytes.len());
            valid.push(key.is_some());
        }
    }
}

/// Distinct keys and their ids.
pub struct GroupTable {
    store: Store,
    hashes: Vec<u64>,
    map: HashTable<u32>,
}

impl GroupTable {
    /// Number of groups.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when there are no groups.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The id of key `row` of `keys` (hash `hash`), adding it if new.
    #[inline]
    pub fn intern(&mut self, keys: &BatchKeys, row: usize, hash: u64) -> u32 {
        let found = match (&self.store, keys) {
            (Store::Int(mine), BatchKeys::Int(..)) => {
                let key = keys.int(row);
                self.map.find(hash, |&g| mine[g as usize] == key).copied()
            }
            (Store::Str { .. }, BatchKeys::Str(_)) => {
                let key = keys.str(row).map(str::as_bytes);
                let store = &self.store;
                self.map
                    .find(hash, |&g| store.str(g as usize) == key)
                    .copied()
            }
            (Store::Rows(mine), BatchKeys::Rows(theirs)) => {
                let bytes = theirs.row(row);
                self.map
                    .find(hash, |&g| mine.row(g as usize) == bytes)
                    .copied()
            }
            _ => None,
        };
        if let Some(g) = found {
            return g;
        }
        match (&mut self.store, keys) {
            (Store::Int(mine), BatchKeys::Int(..)) => mine.push(keys.int(row)),
            (store @ Store::Str { .. }, BatchKeys::Str(_)) => {
                store.push_str(keys.str(row).map(str::as_bytes))
            }
            (Store::Rows(mine), BatchKeys::Rows(theirs)) => mine.push(theirs.row(row)),
            _ => unreachable!("a table only meets keys of its own codec"),
        }
        self.insert_hash(hash)
    }

    /// The id of the key of group `g` of another table, adding it if new.
    pub fn intern_from(&mut self, other: &GroupTable, g: u32) -> u32 {
        let hash = other.hashes[g as usize];
        let found = match (&self.store, &other.store) {
            (Store::Int(mine), Store::Int(theirs)) => self
                .map
                .find(hash, |&x| mine[x as usize] == theirs[g as usize])
                .copied(),
            (Store::Str { .. }, Store::Str { .. }) => {
                let key = other.store.str(g as usize);
                let store = &self.store;
                self.map
                    .find(hash, |&x| store.str(x as usize) == key)
                    .copied()
            }
            (Store::Rows(mine), Store::Rows(theirs)) => {
                let bytes = theirs.row(g as usize);
                self.map
                    .find(hash, |&x| mine.row(x as usize) == bytes)
                    .copied()
            }
            _ => None,
        };
        if let Some(x) = found {
            return x;
        }
        match (&mut self.store, &other.store) {
            (Store::Int(mine), Store::Int(theirs)) => mine.push(theirs[g as usize]),
            (store @ Store::Str { .. }, theirs @ Store::Str { .. }) => {
                store.push_str(theirs.str(g as usize))
            }
            (Store::Rows(mine), Store::Rows(theirs)) => mine.push(theirs.row(g as usize)),
            _ => unreachable!("panes of one operator share a codec"),
        }
        self.insert_hash(hash)
    }

    fn insert_hash(&mut self, hash: u64) -> u32 {
        let g = self.hashes.len() as u32;
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.map.insert_unique(hash, g, |&x| hashes[x as usize]);
        g
    }

    /// All group ids, ordered by key hash (ties by key): an order that
    /// depends only on which keys are present, not on when they arrived.
    pub fn canonical_order(&self) -> Vec<u32> {
        let mut pairs: Vec<(u64, u32)> = self
            .hashes
            .iter()
            .enumerate()
            .map(|(g, &h)| (h, g as u32))
            .collect();
        // A radix sort: windows emit tens of thousands of groups as they
        // close, where a comparison sort costs a millisecond.
        radsort::sort_by_key(&mut pairs, |p| p.0);
        // Equal hashes (rare): order those runs by key, not by id.
        let mut i = 0;
        while i < pairs.len() {
            let mut j = i + 1;
            while j < pairs.len() && pairs[j].0 == pairs[i].0 {
                j += 1;
            }
            if j - i > 1 {
                match &self.store {
                    Store::Int(keys) => pairs[i..j].sort_unstable_by_key(|p| keys[p.1 as usize]),
                    store @ Store::Str { .. } => pairs[i..j].sort_unstable_by(|a, b| {
                        store.str(a.1 as usize).cmp(&store.str(b.1 as usize))
                    }),
                    Store::Rows(rows) => pairs[i..j].sort_unstable_by(|a, b| {
                        rows.row(a.1 as usize).cmp(&rows.row(b.1 as usize))
                    }),
                }
            }
            i = j;
        }
        pairs.into_iter().map(|(_, g)| g).collect()
    }

    /// The key columns of `groups`, in that order.
    pub fn key_columns(
        &self,
        codec: &KeyCodec,
        groups: &[u32],
    ) -> Result<Vec<ArrayRef>, DataflowError> {
        Ok(match (&self.store, codec) {
            (Store::Int(keys), KeyCodec::Int { timestamp }) => {
                let vals: Int64Array = groups.iter().map(|&g| keys[g as usize]).collect();
                if *timestamp {
                    vec![Arc::new(
                        TimestampMillisecondArray::new(
                            vals.values().clone(),
                            vals.nulls().cloned(),
                        )
                        .with_timezone("UTC"),
                    )]
                } else {
                    vec![Arc::new(vals)]
                }
            }
            (store @ Store::Str { .. }, KeyCodec::Str) => {
                let vals: StringArray = groups
                    .iter()
                    .map(|&g| {
                        store
                            .str(g as usize)
                            .map(|b| std::str::from_utf8(b).unwrap_or_default())
                    })
                    .collect();
                vec![Arc::new(vals)]
            }
            (Store::Rows(rows), KeyCodec::Rows(conv)) => {
                conv.convert_rows(groups.iter().map(|&g| rows.row(g as usize)))?
            }
            _ => {
                return Err(DataflowError::Internal(
                    "group table and codec disagree".into(),
                ));
            }
        })
    }
}
