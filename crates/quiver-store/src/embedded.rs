//! The embedded online store: a redb database file.
//!
//! Layout: table `jobs` maps a job name to its [`JobMeta`] (JSON); table
//! `features:<job>` maps encoded entity keys to encoded rows. The database
//! is opened in redb's multi-writer mode, so a server process can read while
//! a job process writes.
//!
//! A write does not touch `features:<job>`: it appends the batch, one row
//! per key with a hash table over the keys, as one segment (see
//! [`crate::batch`]) to the job's log file ([`crate::segment_log`]), which
//! readers in every process see at once, and which is flushed to disk by
//! [`OnlineStore::sync`] (a live run's checkpoint). Inserting tens of
//! thousands of rows into the B-tree costs ~2 µs each, and a durable commit
//! of the segment two flushes of its pages: too slow to publish a closed
//! window in the tens of milliseconds; an append costs one copy. Table
//! `merged` records per job how far the log is folded into its table.
//! Readers take the segments past that position (by hash) after the main
//! table, in the same read transaction, and take per key the row with the
//! latest event time (on a tie, the later write), so a reader sees a write
//! as soon as it is appended, and an older event time never hides a newer
//! one. A merger thread folds the log into `features:<job>` and moves the
//! position on (in one transaction) once writes have paused for
//! [`MERGE_QUIET`], off the path of the write, and readies the page cache
//! for the next burst of writes ([`SegmentLog::prefill`]); a write that
//! leaves more than [`MAX_SEGMENTS`] pending merges them itself, so
//! readers seldom search more than that. Dropping the store merges what
//! is left. A process that crashes leaves the log's records either merged
//! or pending, both readable; a torn last record is never read, and
//! overwritten by the next write. A machine that crashes loses the records
//! appended since the last sync (readers may have seen them): a live run
//! reads their events again from its checkpoint.
//!
//! Segments an older Quiver kept in table `segments:<job>` are still read
//! (before the log's: they were written earlier) and merged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{
    ConcurrencyMode, Database, ReadableDatabase, ReadableTable, TableDefinition, TableError,
    WriteTransaction,
};

use crate::batch::{RowBatch, Segment};
use crate::codec::{decode_row, encode_key, row_time};
use crate::segment_log::{Pos, Record, SegmentLog};
use crate::{EntityKey, EntityRead, FeatureRow, JobMeta, OnlineStore, StoreError, statuses};

const JOBS: TableDefinition<&str, &str> = TableDefinition::new("jobs");

/// Per job, the log position up to which it is merged.
const MERGED: TableDefinition<&str, (u64, u64)> = TableDefinition::new("merged");

/// Segments a write may leave pending; past this it merges them itself.
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
    log: SegmentLog,
    state: Mutex<MergeState>,
    wake: Condvar,
}

#[derive(Default)]
struct MergeState {
    /// Jobs written since their last merge.
    jobs: BTreeSet<String>,
    /// When the last write was appended.
    last_write: Option<Instant>,
    /// The store is being dropped: merge what is left and stop.
    stop: bool,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in directory `dir`.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open_with(dir, SegmentLog::new(dir))
    }

    fn open_with(dir: &Path, log: SegmentLog) -> Result<EmbeddedStore, StoreError> {
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
                log,
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
        merge(&self.shared, job)
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
            let merged = merge(shared, &job);
            if merged.is_ok() && !stop {
                // Only speeds the next writes up: a failure leaves them as
                // they were.
                let _ = shared.log.prefill(&job);
            }
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

/// Where `job`'s log is merged up to, in `table` (`merged`), if it exists.
fn merged_in(
    table: Result<impl ReadableTable<&'static str, (u64, u64)>, TableError>,
    job: &str,
) -> Result<Pos, StoreError> {
    match table {
        Ok(t) => Ok(t
            .get(job)
            .map_err(err)?
            .map(|v| {
                let (generation, offset) = v.value();
                Pos { generation, offset }
            })
            .unwrap_or_default()),
        Err(TableError::TableDoesNotExist(_)) => Ok(Pos::default()),
        Err(e) => Err(err(e)),
    }
}

/// Records in `tx` that `job`'s log is merged up to `pos`.
fn set_merged(tx: &WriteTransaction, job: &str, pos: Pos) -> Result<(), StoreError> {
    tx.open_table(MERGED)
        .map_err(err)?
        .insert(job, (pos.generation, pos.offset))
        .map_err(err)?;
    Ok(())
}

/// Folds `job`'s pending segments (an older Quiver's in `segments:<job>`,
/// then the log's) into its table, in a transaction of its own.
fn merge(shared: &Shared, job: &str) -> Result<(), StoreError> {
    let tx = shared.db.begin_write().map_err(err)?;
    let merged = merged_in(tx.open_table(MERGED), job)?;
    // In the write transaction the position is the newest, and no file
    // from it on is deleted (one a crash lost is skipped).
    let records = shared
        .log
        .pending(job, merged, true)?
        .map_err(|_| StoreError::Backend(format!("the log of `{job}` changed under its merge")))?;
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
    if blobs.is_empty() && records.is_empty() {
        return tx.abort().map_err(err);
    }
    if !blobs.is_empty() {
        tx.delete_table(seg_def).map_err(err)?;
    }
    // Every entry in write order; a stable sort by key and time keeps, per
    // key, the latest last.
    let mut entries: Vec<(&[u8], i64, &[u8])> = Vec::new();
    for b in &blobs {
        Segment::new(b)?.entries_into(&mut entries)?;
    }
    for r in &records {
        Segment::new(&r.payload)?.entries_into(&mut entries)?;
    }
    entries.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
    let name = features_table(job);
    let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
    {
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
    }
    let through = records.last().map_or(merged, |r| r.next);
    set_merged(&tx, job, through)?;
    tx.commit().map_err(err)?;
    shared.log.remove_merged(job, through)
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
                // And the log's records so far count as merged.
                let merged = merged_in(tx.open_table(MERGED), &meta.name)?;
                let end = self.shared.log.end(&meta.name, merged)?;
                set_merged(&tx, &meta.name, end)?;
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
        let began = Instant::now();
        let n = rows.len();
        let (head, data) = rows.segment();
        let placed = Instant::now();
        let merged = {
            let tx = self.shared.db.begin_read().map_err(err)?;
            merged_in(tx.open_table(MERGED), job)?
        };
        let pending = self.shared.log.append(job, merged, &[&head, data])?;
        let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1e3;
        tracing::debug!(
            target: "quiver_store::write",
            "{job}: {n} rows, {} bytes: slots {:.3} ms, append {:.3} ms",
            head.len() + data.len(),
            ms(began, placed),
            ms(placed, Instant::now()),
        );
        self.written(job);
        if pending > MAX_SEGMENTS as usize
            && let Err(e) = merge(&self.shared, job)
        {
            // The rows are written: the merger tries again.
            tracing::warn!("online store: merging the segments of `{job}`: {e}");
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.shared.log.sync()
    }

    fn read_job(
        &self,
        job: &str,
        keys: &[EntityKey],
        now: i64,
    ) -> Result<(JobMeta, Vec<EntityRead>), StoreError> {
        // One read transaction for the metadata, the rows and where the
        // log's segments start: they agree. A merge (and deletion of the
        // files) past that start meanwhile means reading again.
        let mut tries = 0;
        let (tx, meta, records) = loop {
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
            let merged = merged_in(tx.open_table(MERGED), job)?;
            match self.shared.log.pending(job, merged, false)? {
                Ok(records) => break (tx, meta, records),
                Err(_) if tries < 8 => tries += 1,
                Err(_) => {
                    return Err(StoreError::Backend(format!(
                        "the log of `{job}` kept changing under a read"
                    )));
                }
            }
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
            .chain(records.iter().map(|r: &Record| Segment::new(&r.payload)))
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
        assert_eq!(
            pending(&other, "j"),
            0,
            "dropping the store merges its segments"
        );
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

    fn meta() -> JobMeta {
        JobMeta::new(
            "j",
            &[Field::new("id", DataType::Int64)],
            &[Field::new("n", DataType::Int64)],
            None,
            None,
        )
    }

    fn put(store: &EmbeddedStore, k: i64, t: i64, n: i64) {
        let mut b = RowBatch::new();
        b.push(&[Value::Int64(k)], t, &[Value::Int64(n)]);
        store.write_batch("j", &mut b).unwrap();
    }

    fn get(store: &EmbeddedStore, k: i64) -> Option<(i64, Value)> {
        store.read("j", &[vec![Value::Int64(k)]], 0).unwrap()[0]
            .row
            .clone()
            .map(|r| (r.event_time, r.values[0].clone()))
    }

    /// A store with job `j` and one row (key 1 at 100) in its log.
    fn with_one_row(dir: &Path) -> EmbeddedStore {
        let store = EmbeddedStore::open(dir).unwrap();
        store.register(&meta()).unwrap();
        put(&store, 1, 100, 1);
        store
    }

    fn log_file(dir: &Path, generation: u64) -> PathBuf {
        dir.join("segments")
            .join("j")
            .join(format!("{generation:020}.log"))
    }

    #[test]
    fn a_record_being_written_is_read_once_whole_and_a_torn_one_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = with_one_row(dir.path());
        let path = log_file(dir.path(), 0);
        let whole = std::fs::read(&path).unwrap();
        // Half written (as another process's write, seen midway): a reader
        // in another handle does not see it, then sees it whole.
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        let reader = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(get(&reader, 1), None);
        std::fs::write(&path, &whole).unwrap();
        assert_eq!(get(&reader, 1), Some((100, Value::Int64(1))));
        // A crash's torn record after it: never read, and the next write
        // (from a handle that did not see it written) overwrites it; what
        // is left of it after that write's end is never read either.
        // (`whole` ends with the zero header after its record: the torn copy
        // replaces it, as a crash's next record would.)
        let record = &whole[..whole.len() - 16];
        let mut torn = record.to_vec();
        torn.extend_from_slice(&record[..record.len() - 3]);
        std::fs::write(&path, &torn).unwrap();
        drop(store);
        let writer = EmbeddedStore::open(dir.path()).unwrap();
        put(&writer, 2, 200, 2);
        assert_eq!(get(&reader, 1), Some((100, Value::Int64(1))));
        assert_eq!(get(&reader, 2), Some((200, Value::Int64(2))));
        writer.sync().unwrap();
        writer.merge("j").unwrap();
        assert_eq!(pending(&reader, "j"), 0);
        assert_eq!(get(&reader, 2), Some((200, Value::Int64(2))));
    }

    #[test]
    fn a_log_that_lost_merged_records_in_a_crash_takes_writes_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = with_one_row(dir.path());
        store.merge("j").unwrap();
        drop(store);
        // Merged into the table, never flushed in the log: gone from it.
        std::fs::write(log_file(dir.path(), 0), b"").unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        put(&store, 2, 200, 2);
        let reader = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(get(&reader, 1), Some((100, Value::Int64(1))));
        assert_eq!(get(&reader, 2), Some((200, Value::Int64(2))));
        assert_eq!(pending(&reader, "j"), 1);
    }

    /// Three handles on a store (as three processes would open it) with
    /// job `j`, whose log files take one record each: the next write
    /// starts another.
    fn rotating(dir: &Path) -> [EmbeddedStore; 3] {
        let open = || EmbeddedStore::open_with(dir, SegmentLog::with_rotation(dir, 1)).unwrap();
        let handles = [open(), open(), open()];
        handles[0].register(&meta()).unwrap();
        handles
    }

    #[test]
    fn logs_rotate_across_handles_and_merged_files_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let [a, b, reader] = rotating(dir.path());
        for i in 0..6 {
            // Two writers, as two processes, by turns; a reader follows.
            put(if i % 2 == 0 { &a } else { &b }, i % 3, 100 + i, i);
            assert_eq!(get(&reader, i % 3), Some((100 + i, Value::Int64(i))));
        }
        assert!(log_file(dir.path(), 5).exists());
        assert_eq!(pending(&reader, "j"), 6);
        b.merge("j").unwrap();
        assert_eq!(pending(&reader, "j"), 0);
        for k in 0..3 {
            assert_eq!(get(&reader, k), Some((103 + k, Value::Int64(3 + k))));
        }
        // Files before the merged position are gone; the newest stays, and
        // a writer that held an older one moves on.
        assert!(!log_file(dir.path(), 4).exists());
        assert!(log_file(dir.path(), 5).exists());
        put(&a, 0, 300, 9);
        assert_eq!(get(&reader, 0), Some((300, Value::Int64(9))));
        assert!(log_file(dir.path(), 6).exists());
    }

    #[test]
    fn a_reader_of_an_older_snapshot_gets_the_records_a_newer_one_passed() {
        let dir = tempfile::tempdir().unwrap();
        let store = with_one_row(dir.path());
        put(&store, 2, 200, 2);
        let reader = EmbeddedStore::open(dir.path()).unwrap();
        let log = &reader.shared.log;
        let all = log.pending("j", Pos::default(), false).unwrap().unwrap();
        assert_eq!(all.len(), 2);
        // One thread reads merged through the first, then another from an
        // older snapshot: both records again.
        let newer = log.pending("j", all[0].next, false).unwrap().unwrap();
        assert_eq!(newer.len(), 1);
        let older = log.pending("j", Pos::default(), false).unwrap().unwrap();
        assert_eq!(older.len(), 2);
    }

    #[test]
    fn a_writer_holding_a_generation_merged_and_deleted_moves_to_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let [a, b, reader] = rotating(dir.path());
        put(&a, 1, 100, 1); // generation 0
        put(&a, 5, 500, 5); // 1
        put(&b, 2, 200, 2); // 2
        put(&b, 3, 300, 3); // 3
        b.merge("j").unwrap(); // deletes 0 to 2
        assert!(!log_file(dir.path(), 2).exists());
        // `a` still holds generation 1 open and appends with the merged
        // position it read before the merge.
        let mut batch = RowBatch::new();
        batch.push(&[Value::Int64(4)], 400, &[Value::Int64(4)]);
        let (head, data) = batch.segment();
        a.shared
            .log
            .append("j", Pos::default(), &[&head, data])
            .unwrap();
        assert_eq!(get(&reader, 4), Some((400, Value::Int64(4))));
        assert_eq!(get(&reader, 1), Some((100, Value::Int64(1))));
        // Without making the deleted generations again on its way there.
        assert!((0..3).all(|g| !log_file(dir.path(), g).exists()));
    }

    #[test]
    fn a_reader_whose_snapshot_was_merged_past_its_open_files_reads_again() {
        let dir = tempfile::tempdir().unwrap();
        let [a, b, reader] = rotating(dir.path());
        put(&a, 1, 100, 1); // generation 0
        assert_eq!(get(&reader, 1), Some((100, Value::Int64(1))));
        put(&b, 2, 200, 2); // 1
        put(&b, 3, 300, 3); // 2
        b.merge("j").unwrap(); // deletes 0 and 1, which `reader` never opened
        // A read from the snapshot before the merge holds generation 0
        // open, deleted: it must read again, not miss generations 1 and 2.
        assert!(
            reader
                .shared
                .log
                .pending("j", Pos::default(), false)
                .unwrap()
                .is_err()
        );
        for k in 1..4 {
            assert_eq!(get(&reader, k), Some((k * 100, Value::Int64(k))));
        }
    }

    /// Segments of `job` not merged yet.
    fn pending(store: &EmbeddedStore, job: &str) -> usize {
        let tx = store.shared.db.begin_read().unwrap();
        let merged = merged_in(tx.open_table(MERGED), job).unwrap();
        store
            .shared
            .log
            .pending(job, merged, false)
            .unwrap()
            .unwrap()
            .len()
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
