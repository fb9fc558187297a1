//! Interning group keys: each distinct key of a pane gets a dense id.
//!
//! Keys of any number and type of columns are encoded with Arrow's row
//! format (byte strings that compare like the values), hashed with a fixed
//! seed, and stored once in a `Rows` arena; a `hashbrown` table maps hashes
//! to ids. Accumulators are vectors indexed by these ids.

use arrow::array::ArrayRef;
use arrow::row::{RowConverter, Rows};
use hashbrown::HashTable;

use crate::error::DataflowError;

/// Hashes key bytes for grouping (a different seed than for exchange, so a
/// worker's keys spread over its whole table).
pub fn group_hash(bytes: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x5157_4956_4552_0001).hash_one(bytes)
}

/// Distinct keys and their ids.
pub struct GroupTable {
    keys: Rows,
    hashes: Vec<u64>,
    map: HashTable<u32>,
}

impl GroupTable {
    /// An empty table for keys encoded by `codec`.
    pub fn new(codec: &RowConverter) -> GroupTable {
        GroupTable { keys: codec.empty_rows(0, 0), hashes: Vec::new(), map: HashTable::new() }
    }

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
    pub fn intern(&mut self, keys: &Rows, row: usize, hash: u64) -> u32 {
        let bytes = keys.row(row);
        self.intern_bytes(bytes.data(), hash, || bytes)
    }

    /// The id of the key of group `g` of another table, adding it if new.
    pub fn intern_from(&mut self, other: &GroupTable, g: u32) -> u32 {
        let row = other.keys.row(g as usize);
        self.intern_bytes(row.data(), other.hashes[g as usize], || row)
    }

    #[inline]
    fn intern_bytes<'a>(&mut self, bytes: &[u8], hash: u64, row: impl FnOnce() -> arrow::row::Row<'a>) -> u32 {
        let keys = &self.keys;
        if let Some(&g) = self.map.find(hash, |&g| keys.row(g as usize).data() == bytes) {
            return g;
        }
        let g = self.hashes.len() as u32;
        self.keys.push(row());
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.map.insert_unique(hash, g, |&x| hashes[x as usize]);
        g
    }

    /// The key columns of `groups`, in that order.
    pub fn key_columns(&self, codec: &RowConverter, groups: &[u32]) -> Result<Vec<ArrayRef>, DataflowError> {
        Ok(codec.convert_rows(groups.iter().map(|&g| self.keys.row(g as usize)))?)
    }
}
