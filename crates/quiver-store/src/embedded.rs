//! The embedded online store: a redb database file.
//!
//! Layout: table `jobs` maps a job name to its [`JobMeta`] (JSON); table
//! `features:<job>` maps encoded entity keys to encoded rows. The database
//! is opened in redb's multi-writer mode, so a server process can read while
//! a job process writes.
//!
//! A write does not touch `features:<job>`: it appends the batch, one row
//! per key with a hash table over the keys, as one value (a segment, see
//! [`crate::batch`]) to table `segments:<job>` under the next sequence
//! number, in one durable transaction. Inserting tens of thousands of rows
//! into the B-tree costs ~2 µs each, too slow to publish a closed window in
//! the tens of milliseconds; one value costs about the commit. Readers
//! consult the segments (by hash) after the main table, in the
//! same read transaction, and take per key the row with the latest event
//! time (on a tie, the later write), so a reader sees a write as soon as it
//! commits, and an older event time never hides a newer one. A merger
//! thread folds segments into `features:<job>` (and deletes them, in one
//! transaction) once writes have paused for [`MERGE_QUIET`], off the path
//! of the write; a write that finds [`MAX_SEGMENTS`] pending merges them
//! itself, so readers never search more than that. Dropping the store
//! merges what is left. Every step is one redb transaction, so a crash
//! leaves either the segment or its merge, both readable.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{
    ConcurrencyMode, Database, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition, TableError, WriteTransaction,
};

use crate::batch::{RowBatch, Segment};
use crate::codec::{decode_row, encode_key, row_time};
use crate::{EntityKey, EntityRead, FeatureRow, JobMeta, OnlineStore, StoreError, statuses};

const JOBS: TableDefinition<&str, &str> = TableDefinition::new("jobs");

/// Segments a write may leave pending before it merges them itself.
pub const MAX_SEGMENTS: u64 = 8;

/// How long writes must pause before the merger folds segments in.
pub const MERGE_QUIET: Duration = Duration::from_millis(250);

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// An online store in a redb file inside a directory.
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    merger: Mutex<Option<JoinHandle<()>>>,
    path: PathBuf,
}

struct Shared {
    db: Database,
    state: Mutex<MergeState>,
    wake: Condvar,
}

#[derive(Default)]
struct MergeState {
    /// Jobs written since their last merge.
    jobs: BTreeSet<String>,
    /// When the last write committed.
    last_write: Option<Instant>,
    /// The store is being dropped: merge what is left and stop.
    stop: bool,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in directory `dir`.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("online.redb");
        let db = Database::builder()
            .set_concurrency_mode(ConcurrencyMode::MultiWriter)
            .create(&path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        Ok(EmbeddedStore {
            shared: Arc::new(Shared {
                db,
                state: Mutex::new(MergeState::default()),
                wake: Condvar::new(),
            }),
            merger: Mutex::new(None),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Folds every pending segment of `job` into its table now.
    pub fn merge(&self, job: &str) -> Result<(), StoreError> {
        merge(&self.shared.db, job)
    }

    /// Notes a write of `job` for the merger, starting it on first use.
    fn written(&self, job: &str) {
        if let Ok(mut st) = self.shared.state.lock() {
            st.jobs.insert(job.to_string());
            st.last_write = Some(Instant::now());
        }
        self.shared.wake.notify_one();
        if let Ok(mut m) = self.merger.lock()
            && m.is_none()
        {
            let shared = self.shared.clone();
            *m = std::thread::Builder::new()
                .name("online-merge".into())
                .spawn(move || merger(&shared))
                .ok();
        }
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        let handle = self.merger.get_mut().ok().and_then(|m| m.take());
        if let Some(h) = handle {
            if let Ok(mut st) = self.shared.state.lock() {
                st.stop = true;
            }
            self.shared.wake.notify_one();
            let _ = h.join();
        }
    }
}

/// The merger thread: waits for writes to pause, then merges.
fn merger(shared: &Shared) {
    loop {
        let Ok(mut st) = shared.state.lock() else {
            return;
        };
        loop {
            if st.stop {
                break;
            }
            match st.last_write {
                Some(at) if !st.jobs.is_empty() => {
                    let since = at.elapsed();
                    if since >= MERGE_QUIET {
                        break;
                    }
                    st = match shared.wake.wait_timeout(st, MERGE_QUIET - since) {
                        Ok((st, _)) => st,
                        Err(_) => return,
                    };
                }
                _ => {
                    st = match shared.wake.wait(st) {
                        Ok(st) => st,
                        Err(_) => return,
                    };
                }
            }
        }
        let jobs = std::mem::take(&mut st.jobs);
        let stop = st.stop;
        drop(st);
        for job in jobs {
            // On failure the segments stay, still read and merged later.
            let _ = merge(&shared.db, &job);
        }
        if stop {
            return;
        }
    }
}

fn features_table(job: &str) -> String {
    format!("features:{job}")
}

fn segments_table(job: &str) -> String {
    format!("segments:{job}")
}

/// Merges `job`'s segments in a transaction of its own.
fn merge(db: &Database, job: &str) -> Result<(), StoreError> {
    let tx = db.begin_write().map_err(err)?;
    if merge_into(&tx, job, None)? {
        tx.commit().map_err(err)
    } else {
        tx.abort().map_err(err)
    }
}

/// Folds `job`'s pending segments, then `extra`, into its table within
/// `tx`, deleting the segments. Returns whether anything changed.
fn merge_into(
    tx: &WriteTransaction,
    job: &str,
    extra: Option<&RowBatch>,
) -> Result<bool, StoreError> {
    let seg_name = segments_table(job);
    let seg_def: TableDefinition<u64, &[u8]> = TableDefinition::new(&seg_name);
    let mut blobs: Vec<Vec<u8>> = Vec::new();
    match tx.open_table(seg_def) {
        Ok(t) => {
            for item in t.iter().map_err(err)? {
                let (_, v) = item.map_err(err)?;
                blobs.push(v.value().to_vec());
            }
        }
        Err(TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(err(e)),
    }
    if blobs.is_empty() && extra.is_none_or(RowBatch::is_empty) {
        return Ok(false);
    }
    if !blobs.is_empty() {
        tx.delete_table(seg_def).map_err(err)?;
    }
    // Every entry in write order (segments by sequence, then `extra`);
    // a stable sort by key and time keeps, per key, the latest last.
    let mut entries: Vec<(&[u8], i64, &[u8])> = Vec::new();
    for b in &blobs {
        Segment::new(b)?.entries_into(&mut entries)?;
    }
    if let Some(x) = extra {
        entries.extend(x.iter());
    }
    entries.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    let name = features_table(job);
    let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
    let mut t = tx.open_table(def).map_err(err)?;
    let n = entries.len();
    for (i, &(key, time, row)) in entries.iter().enumerate() {
        if i + 1 < n && entries[i + 1].0 == key {
            continue;
        }
        // Insert, and put the old row back in the rare case it is newer:
        // one B-tree descent per row instead of a lookup and an insert.
        let older = match t.insert(key, row).map_err(err)? {
            Some(old) if row_time(old.value())? > time => Some(old.value().to_vec()),
            _ => None,
        };
        if let Some(old) = older {
            t.insert(key, old.as_slice()).map_err(err)?;
        }
    }
    Ok(true)
}

impl OnlineStore for EmbeddedStore {
    fn register(&self, meta: &JobMeta) -> Result<(), StoreError> {
        let tx = self.shared.db.begin_write().map_err(err)?;
        {
            let mut t = tx.open_table(JOBS).map_err(err)?;
            let old = t
                .get(meta.name.as_str())
                .map_err(err)?
                .map(|v| JobMeta::from_json(v.value()))
                .transpose()?;
            // Rows are stored by position: rows of other columns cannot be
            // read under the new ones, so a job whose columns changed starts
            // empty (in the same transaction, so no reader sees a mix).
            if old.is_some_and(|o| o.entity != meta.entity || o.features != meta.features) {
                let name = features_table(&meta.name);
                let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
                tx.delete_table(def).map_err(err)?;
                let name = segments_table(&meta.name);
                let def: TableDefinition<u64, &[u8]> = TableDefinition::new(&name);
                tx.delete_table(def).map_err(err)?;
            }
            t.insert(meta.name.as_str(), meta.to_json().as_str())
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn job(&self, name: &str) -> Result<Option<JobMeta>, StoreError> {
        let tx = self.shared.db.begin_read().map_err(err)?;
        let t = match tx.open_table(JOBS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        match t.get(name).map_err(err)? {
            Some(v) => JobMeta::from_json(v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn jobs(&self) -> Result<Vec<JobMeta>, StoreError> {
        let tx = self.shared.db.begin_read().map_err(err)?;
        let t = match tx.open_table(JOBS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        };
        let mut out = Vec::new();
        for item in t.iter().map_err(err)? {
            let (_, v) = item.map_err(err)?;
            out.push(JobMeta::from_json(v.value())?);
        }
        Ok(out)
    }

    fn write(&self, job: &str, rows: &[(EntityKey, FeatureRow)]) -> Result<(), StoreError> {
        let mut batch = RowBatch::new();
        for (key, row) in rows {
            batch.push(key, row.event_time, &row.values);
        }
        self.write_batch(job, &mut batch)
    }

    fn write_batch(&self, job: &str, rows: &mut RowBatch) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        // The slots are placed before taking the database's write lock,
        // which the other workers' writes wait for; inside it the segment
        // is copied once, into the page it is stored in (and the head is
        // unused in the one write in MAX_SEGMENTS that merges instead).
        let (head, data) = rows.segment();
        let seg_name = segments_table(job);
        let seg_def: TableDefinition<u64, &[u8]> = TableDefinition::new(&seg_name);
        let tx = self.shared.db.begin_write().map_err(err)?;
        let pending = {
            let t = tx.open_table(seg_def).map_err(err)?;
            let next = t.last().map_err(err)?.map_or(0, |(k, _)| k.value() + 1);
            (t.len().map_err(err)?, next)
        };
        if pending.0 >= MAX_SEGMENTS {
            merge_into(&tx, job, Some(rows))?;
        } else {
            let mut t = tx.open_table(seg_def).map_err(err)?;
            let mut value = t
                .insert_reserve(pending.1, head.len() + data.len())
                .map_err(err)?;
            let (to_head, to_data) = value.as_mut().split_at_mut(head.len());
            to_head.copy_from_slice(&head);
            to_data.copy_from_slice(data);
        }
        tx.commit().map_err(err)?;
        self.written(job);
        Ok(())
    }

    fn read_job(
        &self,
        job: &str,
        keys: &[EntityKey],
        now: i64,
    ) -> Result<(JobMeta, Vec<EntityRead>), StoreError> {
        // One read transaction for the metadata, the rows and the
        // segments: they agree.
        let tx = self.shared.db.begin_read().map_err(err)?;
        let meta = match tx.open_table(JOBS) {
            Ok(t) => match t.get(job).map_err(err)? {
                Some(v) => JobMeta::from_json(v.value())?,
                None => return Err(StoreError::UnknownJob(job.to_string())),
            },
            Err(TableError::TableDoesNotExist(_)) => {
                return Err(StoreError::UnknownJob(job.to_string()));
            }
            Err(e) => return Err(err(e)),
        };
        let n = meta.features.len();
        let name = features_table(job);
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let table = match tx.open_table(def) {
            Ok(t) => Some(t),
            Err(TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(err(e)),
        };
        let seg_name = segments_table(job);
        let seg_def: TableDefinition<u64, &[u8]> = TableDefinition::new(&seg_name);
        let seg_table = match tx.open_table(seg_def) {
            Ok(t) => Some(t),
            Err(TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(err(e)),
        };
        let mut guards = Vec::new();
        if let Some(t) = &seg_table {
            for item in t.iter().map_err(err)? {
                guards.push(item.map_err(err)?.1);
            }
        }
        let segments = guards
            .iter()
            .map(|g| Segment::new(g.value()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let k = encode_key(key);
            let stored = match &table {
                Some(t) => t.get(k.as_slice()).map_err(err)?,
                None => None,
            };
            let mut latest: Option<(i64, &[u8])> = match &stored {
                Some(v) => Some((row_time(v.value())?, v.value())),
                None => None,
            };
            for s in &segments {
                if let Some((t, r)) = s.find(&k)?
                    && latest.is_none_or(|(old, _)| old <= t)
                {
                    latest = Some((t, r));
                }
            }
            let row = latest.map(|(_, r)| decode_row(r)).transpose()?;
            let statuses = statuses(row.as_ref(), n, meta.ttl, now);
            out.push(EntityRead { row, statuses });
        }
        Ok((meta, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FeatureStatus;
    use quiver_types::{DataType, Field, Value};

    #[test]
    fn latest_wins_and_ttl_applies_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let meta = JobMeta::new(
            "j",
            &[Field::new("id", DataType::Int64)],
            &[
                Field::new("n", DataType::Int64),
                Field::new("s", DataType::String),
            ],
            Some(1000),
            None,
        );
        store.register(&meta).unwrap();
        let k = vec![Value::Int64(1)];
        let row = |t, n: Value| FeatureRow {
            event_time: t,
            values: vec![n, Value::Null],
        };
        store
            .write("j", &[(k.clone(), row(100, Value::Int64(1)))])
            .unwrap();
        store
            .write("j", &[(k.clone(), row(50, Value::Int64(0)))])
            .unwrap(); // older: ignored
        let r = store
            .read("j", &[k.clone(), vec![Value::Int64(2)]], 600)
            .unwrap();
        assert_eq!(r[0].row.as_ref().unwrap().values[0], Value::Int64(1));
        assert_eq!(
            r[0].statuses,
            vec![FeatureStatus::Present, FeatureStatus::NullValue]
        );
        assert_eq!(r[1].statuses, vec![FeatureStatus::NotFound; 2]);
        let late = store.read("j", &[k], 2000).unwrap();
        assert_eq!(late[0].statuses, vec![FeatureStatus::OutsideMaxAge; 2]);
        assert!(matches!(
            store.read("nope", &[], 0),
            Err(StoreError::UnknownJob(_))
        ));
        assert_eq!(store.jobs().unwrap(), vec![meta]);
    }

    #[test]
    fn segments_read_before_and_after_their_merge_and_older_never_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let meta = JobMeta::new(
            "j",
            &[Field::new("id", DataType::Int64)],
            &[Field::new("n", DataType::Int64)],
            None,
            None,
        );
        store.register(&meta).unwrap();
        let write = |k: i64, t: i64, n: i64| {
            let mut b = RowBatch::new();
            b.push(&[Value::Int64(k)], t, &[Value::Int64(n)]);
            store.write_batch("j", &mut b).unwrap();
        };
        let read = |k: i64| {
            store.read("j", &[vec![Value::Int64(k)]], 0).unwrap()[0]
                .row
                .clone()
                .map(|r| (r.event_time, r.values[0].clone()))
        };
        // Into the main table, then newer and older rows in segments.
        write(1, 100, 1);
        store.merge("j").unwrap();
        write(1, 200, 2);
        write(1, 150, 3); // older than the pending segment: ignored
        write(2, 50, 4);
        write(2, 50, 5); // same time, later write: wins
        assert_eq!(read(1), Some((200, Value::Int64(2))));
        assert_eq!(read(2), Some((50, Value::Int64(5))));
        store.merge("j").unwrap();
        assert_eq!(read(1), Some((200, Value::Int64(2))));
        assert_eq!(read(2), Some((50, Value::Int64(5))));
        write(1, 120, 6); // older than the merged row: ignored on read and merge
        assert_eq!(read(1), Some((200, Value::Int64(2))));
        // Enough writes that one merges the pending segments itself.
        for i in 0..(2 * MAX_SEGMENTS as i64 + 3) {
            write(3, 1000 + i, i);
        }
        assert_eq!(
            read(3),
            Some((
                1000 + 2 * MAX_SEGMENTS as i64 + 2,
                Value::Int64(2 * MAX_SEGMENTS as i64 + 2)
            ))
        );
        assert_eq!(read(1), Some((200, Value::Int64(2))));
        // A reader in another handle (as `quiver serve` is) sees the same,
        // and what the merger leaves after the store is dropped.
        let other = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(
            other.read("j", &[vec![Value::Int64(2)]], 0).unwrap()[0]
                .row
                .as_ref()
                .unwrap()
                .values,
            vec![Value::Int64(5)]
        );
        drop(store);
        let seg: TableDefinition<u64, &[u8]> = TableDefinition::new("segments:j");
        let tx = other.shared.db.begin_read().unwrap();
        assert!(
            tx.open_table(seg).map(|t| t.len().unwrap()).unwrap_or(0) == 0,
            "dropping the store merges its segments"
        );
        drop(tx);
        // New columns: rows and pending segments are gone.
        write_other(&other);
        let meta2 = JobMeta::new(
            "j",
            &[Field::new("id", DataType::Int64)],
            &[Field::new("m", DataType::String)],
            None,
            None,
        );
        other.register(&meta2).unwrap();
        assert!(
            other.read("j", &[vec![Value::Int64(9)]], 0).unwrap()[0]
                .row
                .is_none()
        );
    }

    fn write_other(store: &EmbeddedStore) {
        let mut b = RowBatch::new();
        b.push(&[Value::Int64(9)], 1, &[Value::Int64(9)]);
        store.write_batch("j", &mut b).unwrap();
        assert!(
            store.read("j", &[vec![Value::Int64(9)]], 0).unwrap()[0]
                .row
                .is_some()
        );
    }
}
