//! The embedded store's pending segments: an append-only log per job.
//!
//! A segment (see [`crate::batch`]) is published by appending it, as one
//! record, to the job's current log file. Appending writes to the page
//! cache, which every process reading the file sees at once; the flush to
//! disk waits for [`SegmentLog::sync`], which a live run calls before it
//! checkpoints its sources. So a closed window becomes visible after one
//! copy, not after the two flushes of a database commit, and it is durable
//! before the run says its events are done (a crash before the sync loses
//! rows whose events the run reads again).
//!
//! Files are `segments/<job>/<generation>.log` beside the database. A
//! record is `MAGIC` (u32), the payload's length (u32), its XXH3-64
//! (u64), then the payload; integers little-endian. The database records,
//! per job, the [`Pos`] up to which the log is merged into its table:
//! readers take the records from there on, in order (each later record is
//! a later write).
//!
//! Writers hold an exclusive lock on the file (`flock`) while they append,
//! and append only to the newest generation: a writer that finds a file
//! past [`ROTATE_BYTES`] starts the next one, and a writer that finds a
//! next generation moves there. A reader stops at the first record that
//! does not check out, which is a record still being written (it reads it
//! next time), the zero header every append writes after its record, or
//! the torn end a crash left (the next append overwrites it, and its zero
//! header keeps readers from what is left of it). So the bytes after the
//! last record mean nothing, and the file may run on past it:
//! [`SegmentLog::prefill`] extends it and reads the extension into the
//! page cache after a burst of appends, so that the next burst copies
//! into pages already there instead of allocating (and, in a virtual
//! machine, first touching) them as a window closes. Generations wholly
//! before the merged position are deleted after the merge.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use xxhash_rust::xxh3::xxh3_64;

use crate::StoreError;

/// The first word of a record.
const MAGIC: u32 = 0x474C_5351;

/// Bytes before a record's payload.
const HEADER: u64 = 16;

/// Written after every record: a header no record has, where readers stop.
const END: [u8; HEADER as usize] = [0; HEADER as usize];

/// A log file this long is closed: the next append starts the next one.
pub const ROTATE_BYTES: u64 = 64 << 20;

/// A place in a job's log: a generation and a byte offset in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub generation: u64,
    pub offset: u64,
}

impl Pos {
    /// Where, in generation `generation`'s file, the records from here on
    /// start: this offset in this position's generation, the file's start
    /// in later ones.
    fn offset_in(self, generation: u64) -> u64 {
        if generation == self.generation {
            self.offset
        } else {
            0
        }
    }
}

/// One record, read: its payload and the position after it.
pub struct Record {
    pub payload: Arc<[u8]>,
    pub next: Pos,
}

/// The logs of every job under one store directory.
pub struct SegmentLog {
    dir: PathBuf,
    rotate: u64,
    jobs: Mutex<HashMap<String, Arc<Mutex<JobLog>>>>,
    /// Held by a sync.
    syncing: Mutex<()>,
    /// Whether the store's directory (which holds `dir`'s name) was
    /// flushed; a job's first sync flushes `dir` (which holds the job
    /// directory's name).
    parents_synced: AtomicBool,
}

/// What this process knows of one job's log.
#[derive(Default)]
struct JobLog {
    /// Open files by generation, from the oldest still needed.
    files: BTreeMap<u64, LogFile>,
    /// Whether the job's directory was listed.
    listed: bool,
    /// Generations appended to since the last sync.
    unsynced: Vec<u64>,
    /// Whether the job directory's name was flushed.
    dir_synced: bool,
    /// Bytes of records appended since the last prefill.
    appended: u64,
}

struct LogFile {
    file: File,
    /// Records checked so far, in order, from `start` (a record's start)
    /// to `end` (where the last ends).
    records: Vec<Checked>,
    start: u64,
    end: u64,
}

struct Checked {
    at: u64,
    len: u64,
    /// Loaded when read (a writer does not keep what it wrote).
    payload: Option<Arc<[u8]>>,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("cannot {what} {}: {e}", path.display()))
}

/// Bytes of a job name kept in its directory's name; others are `%XX`.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'-');

/// A job's directory name: its name, with bytes other than letters,
/// digits, `_` and `-` percent-encoded.
fn dir_name(job: &str) -> String {
    utf8_percent_encode(job, ESCAPED).to_string()
}

impl SegmentLog {
    /// The logs under `dir` (created on first append).
    pub fn new(dir: &Path) -> SegmentLog {
        SegmentLog::with_rotation(dir, ROTATE_BYTES)
    }

    /// The same, starting a new file past `rotate` bytes.
    pub fn with_rotation(dir: &Path, rotate: u64) -> SegmentLog {
        SegmentLog {
            dir: dir.join("segments"),
            rotate,
            jobs: Mutex::new(HashMap::new()),
            syncing: Mutex::new(()),
            parents_synced: AtomicBool::new(false),
        }
    }

    fn job(&self, job: &str) -> Arc<Mutex<JobLog>> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.entry(job.to_string()).or_default().clone()
    }

    fn job_dir(&self, job: &str) -> PathBuf {
        self.dir.join(dir_name(job))
    }

    fn path(&self, job: &str, generation: u64) -> PathBuf {
        self.job_dir(job).join(format!("{generation:020}.log"))
    }

    /// Appends `parts`, as one record, to `job`'s log, where records from
    /// `merged` on are pending. Returns how many are pending after it.
    /// The record is visible to readers on return and durable after
    /// [`SegmentLog::sync`].
    pub fn append(&self, job: &str, merged: Pos, parts: &[&[u8]]) -> Result<usize, StoreError> {
        let (header, len) = header_of(parts)?;

        let began = std::time::Instant::now();
        let shared = self.job(job);
        let mut log = shared.lock().unwrap_or_else(|p| p.into_inner());
        // Timings for `quiver_store::write=debug`: waits for this process's
        // other writers, then for other processes' (the flock), then the
        // copy into the page cache.
        let mut waited = (began.elapsed(), std::time::Duration::ZERO);
        self.open_files(job, &mut log, merged)?;
        if log.files.is_empty() {
            // `merged` may be older than the files (merged past and deleted
            // since it was read): the newest one on disk is the one.
            log.listed = false;
            self.open_files(job, &mut log, merged)?;
        }
        let mut generation = log
            .files
            .keys()
            .next_back()
            .copied()
            .unwrap_or(merged.generation);
        // Only the job's first file is created here (a later one is made
        // by the append that fills the one before): a file that is gone
        // was merged past and deleted, and is not made again.
        let mut create = log.files.is_empty();
        loop {
            let path = self.path(job, generation);
            let lf = match log.files.entry(generation) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    std::fs::create_dir_all(self.job_dir(job))
                        .map_err(|e| io("create", &path, e))?;
                    let opened = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .create(create)
                        .truncate(false)
                        .open(&path);
                    match opened {
                        Ok(file) => e.insert(LogFile::new(file)),
                        Err(err) if err.kind() == ErrorKind::NotFound => {
                            log.listed = false;
                            self.open_files(job, &mut log, merged)?;
                            match log.files.keys().next_back() {
                                Some(&g) if g > generation => generation = g,
                                // Nothing later either (the directory was
                                // emptied by hand): start again here.
                                _ => create = true,
                            }
                            continue;
                        }
                        Err(err) => return Err(io("open", &path, err)),
                    }
                }
            };
            let locking = std::time::Instant::now();
            lf.file.lock().map_err(|e| io("lock", &path, e))?;
            waited.1 += locking.elapsed();
            let copied = std::time::Instant::now();
            let appended = (|| {
                // Only the newest generation takes appends.
                if let Some(moved) = self.moved_on(job, generation, &lf.file)? {
                    return Ok(Err(moved));
                }
                let from = merged.offset_in(generation);
                lf.check(&path, from, false)?;
                if lf.end >= self.rotate {
                    self.start_next(job, generation)?;
                    return Ok(Err(Moved::Next));
                }
                // After a crash the file may have lost the (merged) records
                // before `merged`: new ones go after it all the same.
                let at = lf.end.max(from);
                // The zero header after the record first and the record's
                // own last: a reader that finds the record whole finds the
                // end after it, never what a crash left there.
                let write = |part: &[u8], o: u64| {
                    lf.file
                        .write_all_at(part, o)
                        .map_err(|e| io("write", &path, e))
                };
                write(&END, at + HEADER + len)?;
                let mut o = at + HEADER;
                for part in parts {
                    write(part, o)?;
                    o += part.len() as u64;
                }
                write(&header, at)?;
                lf.records.push(Checked {
                    at,
                    len,
                    payload: None,
                });
                lf.end = at + HEADER + len;
                Ok(Ok(()))
            })();
            // Unlocked whatever happened; a failed unlock is the file's close.
            let _ = lf.file.unlock();
            match appended? {
                Ok(()) => {
                    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
                    tracing::debug!(
                        target: "quiver_store::write",
                        "{job}: {} bytes appended: waited {:.3} ms in this process, {:.3} ms for the file lock; checked and copied in {:.3} ms",
                        HEADER + len,
                        ms(waited.0),
                        ms(waited.1),
                        ms(copied.elapsed()),
                    );
                    break;
                }
                Err(Moved::Next) => generation += 1,
                Err(Moved::Deleted) => {
                    log.files.remove(&generation);
                    log.listed = false;
                    self.open_files(job, &mut log, merged)?;
                    generation = match log.files.keys().next_back() {
                        Some(&g) if g > generation => g,
                        _ => generation + 1,
                    };
                }
            }
        }
        if !log.unsynced.contains(&generation) {
            log.unsynced.push(generation);
        }
        log.appended += HEADER + len;
        Ok(log.pending(merged))
    }

    /// Readies the page cache for as many bytes of `job`'s log as this
    /// handle appended since the last prefill, twice over (at most the
    /// rotation size), past the end of the newest file (or in the next
    /// generation's, which it starts, when they would take the file past
    /// the rotation size): extends the file with zeros (a hole) and reads
    /// them. The merger calls it after a merge, when a burst of writes has
    /// paused.
    pub fn prefill(&self, job: &str) -> Result<(), StoreError> {
        let shared = self.job(job);
        let mut log = shared.lock().unwrap_or_else(|p| p.into_inner());
        let want = std::mem::take(&mut log.appended)
            .saturating_mul(2)
            .min(self.rotate);
        let Some(mut generation) = log.files.keys().next_back().copied() else {
            return Ok(());
        };
        if want == 0 {
            return Ok(());
        }
        let mut in_next = false;
        let (file, from) = loop {
            let path = self.path(job, generation);
            let lf = log.files.get_mut(&generation).expect("listed");
            lf.file.lock().map_err(|e| io("lock", &path, e))?;
            let room = (|| {
                // Moved on from: the bytes counted are let go, and the next
                // burst prefills.
                if self.moved_on(job, generation, &lf.file)?.is_some() {
                    return Ok(Room::Gone);
                }
                // Past the records (other processes' too), which the
                // records kept start before.
                let start = lf.start;
                let size = lf.check(&path, start, false)?;
                let from = lf.end;
                if !in_next && from.saturating_add(want) > self.rotate {
                    return Ok(Room::Next(self.start_next(job, generation)?));
                }
                // Only ever longer: under the lock no append runs, and a
                // shorter length would cut records off.
                if size < from + want {
                    lf.file
                        .set_len(from + want)
                        .map_err(|e| io("extend", &path, e))?;
                }
                let file = lf.file.try_clone().map_err(|e| io("open", &path, e))?;
                Ok(Room::Here(file, from))
            })();
            let _ = lf.file.unlock();
            match room? {
                Room::Gone => return Ok(()),
                Room::Here(file, from) => break (file, from),
                Room::Next(next) => {
                    // Prefill the next generation instead. (The older files
                    // stay open: their records may not be merged.)
                    generation += 1;
                    log.files.insert(generation, LogFile::new(next));
                    in_next = true;
                }
            }
        };
        // Read outside the locks: appends need not wait for it.
        drop(log);
        let mut buf = vec![0u8; 256 << 10];
        let mut at = from;
        while at < from + want {
            let n = buf.len().min((from + want - at) as usize);
            match file.read_at(&mut buf[..n], at) {
                Ok(0) => break,
                Ok(read) => at += read as u64,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io("read", &self.path(job, generation), e)),
            }
        }
        Ok(())
    }

    /// Whether appends moved on from `generation` (its file locked): a
    /// next generation exists, or it was deleted after a merge past it.
    /// The next one is looked for first: it is only made under this file's
    /// lock, and files are deleted oldest first, so this file still being
    /// there after the next was not found means it is the newest.
    fn moved_on(
        &self,
        job: &str,
        generation: u64,
        file: &File,
    ) -> Result<Option<Moved>, StoreError> {
        if self.path(job, generation + 1).exists() {
            return Ok(Some(Moved::Next));
        }
        let meta = file
            .metadata()
            .map_err(|e| io("read", &self.path(job, generation), e))?;
        Ok((meta.nlink() == 0).then_some(Moved::Deleted))
    }

    /// Creates the file of the generation after `generation` (whose file
    /// the caller holds locked), where appends go from now on.
    fn start_next(&self, job: &str, generation: u64) -> Result<File, StoreError> {
        let next = self.path(job, generation + 1);
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&next)
            .map_err(|e| io("create", &next, e))
    }

    /// Makes every record appended through this handle durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        // One sync at a time: a second one returns once the first is done.
        let _one = self.syncing.lock().unwrap_or_else(|p| p.into_inner());
        let jobs: Vec<(String, Arc<Mutex<JobLog>>)> = {
            let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
            jobs.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        for (job, shared) in jobs {
            // Flushed through handles of their own, so appends of the job
            // do not wait for the flush.
            let (generations, files, dir_synced) = {
                let mut log = shared.lock().unwrap_or_else(|p| p.into_inner());
                let generations = std::mem::take(&mut log.unsynced);
                let files: Vec<_> = generations
                    .iter()
                    .filter_map(|g| log.files.get(g).map(|f| (*g, f.file.try_clone())))
                    .collect();
                (generations, files, log.dir_synced)
            };
            if generations.is_empty() {
                continue;
            }
            let flushed = (|| {
                for (generation, file) in files {
                    let path = self.path(&job, generation);
                    file.and_then(|f| f.sync_data())
                        .map_err(|e| io("flush", &path, e))?;
                }
                // The files' names too; the job directory's name the first
                // time, and the store's `segments` directory's once.
                sync_dir(&self.job_dir(&job))?;
                if !dir_synced {
                    sync_dir(&self.dir)?;
                }
                if !self.parents_synced.load(Ordering::SeqCst) {
                    if let Some(parent) = self.dir.parent() {
                        sync_dir(parent)?;
                    }
                    self.parents_synced.store(true, Ordering::SeqCst);
                }
                Ok(())
            })();
            let mut log = shared.lock().unwrap_or_else(|p| p.into_inner());
            if flushed.is_ok() {
                log.dir_synced = true;
            } else {
                // Still to be flushed by the next sync.
                for generation in generations {
                    if !log.unsynced.contains(&generation) {
                        log.unsynced.push(generation);
                    }
                }
            }
            drop(log);
            flushed?;
        }
        Ok(())
    }

    /// The records of `job`'s log from `merged` on, in order, that check
    /// out. Unless `merged` is `current` (read in a write transaction),
    /// fails with [`Stale`] when the log was merged past it and its files
    /// deleted meanwhile: read the merged position again.
    pub fn pending(
        &self,
        job: &str,
        merged: Pos,
        current: bool,
    ) -> Result<Result<Vec<Record>, Stale>, StoreError> {
        let shared = self.job(job);
        let mut log = shared.lock().unwrap_or_else(|p| p.into_inner());
        self.open_files(job, &mut log, merged)?;
        if !current && self.merged_away(job, &log, merged)? {
            log.listed = false;
            return Ok(Err(Stale));
        }
        let mut out = Vec::new();
        let generations: Vec<u64> = log.files.keys().copied().collect();
        for generation in generations {
            let path = self.path(job, generation);
            let lf = log.files.get_mut(&generation).expect("listed");
            let from = merged.offset_in(generation);
            lf.check(&path, from, true)?;
            for r in lf.records.iter_mut().filter(|r| r.at >= from) {
                let payload = match &r.payload {
                    Some(p) => p.clone(),
                    None => {
                        let mut buf = vec![0u8; r.len as usize];
                        lf.file
                            .read_exact_at(&mut buf, r.at + HEADER)
                            .map_err(|e| io("read", &path, e))?;
                        let p: Arc<[u8]> = buf.into();
                        r.payload = Some(p.clone());
                        p
                    }
                };
                out.push(Record {
                    payload,
                    next: Pos {
                        generation,
                        offset: r.at + HEADER + r.len,
                    },
                });
            }
        }
        Ok(Ok(out))
    }

    /// Whether the file of `merged`'s generation is gone after a merge
    /// past it (maybe through later generations this handle never opened):
    /// deleted under this handle, or missing while a later one exists.
    fn merged_away(&self, job: &str, log: &JobLog, merged: Pos) -> Result<bool, StoreError> {
        if let Some(f) = log.files.get(&merged.generation) {
            let path = self.path(job, merged.generation);
            let meta = f.file.metadata().map_err(|e| io("read", &path, e))?;
            return Ok(meta.nlink() == 0);
        }
        let dir = self.job_dir(job);
        match std::fs::read_dir(&dir) {
            Ok(d) => Ok(d
                .flatten()
                .any(|e| parse_generation(&e.file_name()).is_some_and(|g| g > merged.generation))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io("list", &dir, e)),
        }
    }

    /// Where `job`'s log ends now, as far as this handle can tell after
    /// looking: merging through it leaves nothing pending.
    pub fn end(&self, job: &str, merged: Pos) -> Result<Pos, StoreError> {
        let shared = self.job(job);
        let mut log = shared.lock().unwrap_or_else(|p| p.into_inner());
        self.open_files(job, &mut log, merged)?;
        let Some((&generation, lf)) = log.files.iter_mut().next_back() else {
            return Ok(merged);
        };
        let from = merged.offset_in(generation);
        lf.check(&self.path(job, generation), from, false)?;
        Ok(merged.max(Pos {
            generation,
            offset: lf.end,
        }))
    }

    /// Deletes `job`'s files wholly before `merged` (merged, and never
    /// appended to again: a later generation exists).
    pub fn remove_merged(&self, job: &str, merged: Pos) -> Result<(), StoreError> {
        let shared = self.job(job);
        let mut log = shared.lock().unwrap_or_else(|p| p.into_inner());
        let old: Vec<u64> = log
            .files
            .range(..merged.generation)
            .map(|(&g, _)| g)
            .collect();
        for g in old {
            log.files.remove(&g);
            log.unsynced.retain(|&u| u != g);
        }
        let dir = self.job_dir(job);
        let entries = match std::fs::read_dir(&dir) {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("list", &dir, e)),
        };
        let mut old: Vec<u64> = entries
            .flatten()
            .filter_map(|e| parse_generation(&e.file_name()))
            .filter(|&g| g < merged.generation)
            .collect();
        // Oldest first, so the files left always run on to the newest.
        old.sort_unstable();
        for g in old {
            // Another process may have deleted it first.
            let _ = std::fs::remove_file(self.path(job, g));
        }
        Ok(())
    }

    /// Opens the files of generations from `merged` on that exist: lists
    /// the directory the first time, then looks for the next generation.
    fn open_files(&self, job: &str, log: &mut JobLog, merged: Pos) -> Result<(), StoreError> {
        log.files = log.files.split_off(&merged.generation);
        let mut found: Vec<u64> = Vec::new();
        if !log.listed {
            let dir = self.job_dir(job);
            match std::fs::read_dir(&dir) {
                Ok(d) => {
                    for e in d.flatten() {
                        if let Some(g) = parse_generation(&e.file_name()) {
                            found.push(g);
                        }
                    }
                    log.listed = true;
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(io("list", &dir, e)),
            }
        }
        let newest = log.files.keys().next_back().copied();
        if let Some(g) = newest {
            found.push(g + 1);
        } else if found.is_empty() {
            found.push(merged.generation);
        }
        found.sort_unstable();
        for g in found {
            if g < merged.generation || log.files.contains_key(&g) {
                continue;
            }
            let mut g = g;
            loop {
                let path = self.path(job, g);
                match OpenOptions::new().read(true).write(true).open(&path) {
                    Ok(file) => {
                        log.files.insert(g, LogFile::new(file));
                        log.listed = true;
                    }
                    Err(e) if e.kind() == ErrorKind::NotFound => break,
                    Err(e) => return Err(io("open", &path, e)),
                }
                g += 1;
                if log.files.contains_key(&g) {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// The header of a record of `parts`, and the payload's length.
fn header_of(parts: &[&[u8]]) -> Result<([u8; HEADER as usize], u64), StoreError> {
    let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
    let len32 = u32::try_from(len).map_err(|_| {
        StoreError::Backend(format!(
            "a batch of {len} bytes is over the 4 GiB a segment may hold"
        ))
    })?;
    let mut hasher = xxhash_rust::xxh3::Xxh3Default::new();
    for p in parts {
        hasher.update(p);
    }
    let mut header = [0u8; HEADER as usize];
    header[..4].copy_from_slice(&MAGIC.to_le_bytes());
    header[4..8].copy_from_slice(&len32.to_le_bytes());
    header[8..].copy_from_slice(&hasher.digest().to_le_bytes());
    Ok((header, len))
}

/// Where a prefill readies the page cache.
enum Room {
    /// Nowhere: appends moved on from the newest file this handle knows.
    Gone,
    /// In this file, from this offset.
    Here(File, u64),
    /// In the next generation's file, just started.
    Next(File),
}

/// Why an append moves on from a generation.
enum Moved {
    /// A later one exists (or this one is full and the next was created).
    Next,
    /// It was deleted after a merge past it.
    Deleted,
}

/// A read found the log merged past the position it was given.
#[derive(Debug)]
pub struct Stale;

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("flush", dir, e))
}

/// The generation a file is of, if its name is one `path` gives (other
/// names are not the log's), below the last (which would have no next).
fn parse_generation(name: &std::ffi::OsStr) -> Option<u64> {
    let digits = name.to_str()?.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&g| g < u64::MAX)
}

impl LogFile {
    fn new(file: File) -> LogFile {
        LogFile {
            file,
            records: Vec::new(),
            start: 0,
            end: 0,
        }
    }

    /// Checks the records from the last one checked (or `from`, if later)
    /// to the end of the file, stopping at the first that does not check
    /// out; keeps their payloads if `keep`. Returns the file's length.
    fn check(&mut self, path: &Path, from: u64, keep: bool) -> Result<u64, StoreError> {
        // The records kept start at `start`: a reader of an older snapshot
        // (merged less far) than the last one needs those before it again.
        if from < self.start || from > self.end {
            self.records.clear();
            self.start = from;
            self.end = from;
        } else {
            self.records.retain(|r| r.at >= from);
            self.start = from;
        }
        let size = self.file.metadata().map_err(|e| io("read", path, e))?.len();
        // A read that finds the file shorter than its length said met it
        // cut short (an older Quiver cut torn ends off): the records end
        // there.
        let read = |buf: &mut [u8], at: u64| match self.file.read_exact_at(buf, at) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(io("read", path, e)),
        };
        while self.end + HEADER <= size {
            let mut header = [0u8; HEADER as usize];
            if !read(&mut header, self.end)? {
                break;
            }
            let magic = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
            let len = u64::from(u32::from_le_bytes(
                header[4..8].try_into().expect("4 bytes"),
            ));
            let sum = u64::from_le_bytes(header[8..].try_into().expect("8 bytes"));
            if magic != MAGIC || self.end + HEADER + len > size {
                break;
            }
            let mut payload = vec![0u8; len as usize];
            if !read(&mut payload, self.end + HEADER)? || xxh3_64(&payload) != sum {
                break;
            }
            self.records.push(Checked {
                at: self.end,
                len,
                payload: keep.then(|| payload.into()),
            });
            self.end += HEADER + len;
        }
        Ok(size)
    }
}

impl JobLog {
    /// Records known from `merged` on.
    fn pending(&self, merged: Pos) -> usize {
        self.files
            .range(merged.generation..)
            .map(|(&g, f)| {
                let from = merged.offset_in(g);
                f.records.iter().filter(|r| r.at >= from).count()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_len(dir: &Path, generation: u64) -> u64 {
        std::fs::metadata(SegmentLog::new(dir).path("j", generation))
            .unwrap()
            .len()
    }

    fn payloads(log: &SegmentLog) -> Vec<Vec<u8>> {
        log.pending("j", Pos::default(), true)
            .unwrap()
            .unwrap()
            .iter()
            .map(|r| r.payload.to_vec())
            .collect()
    }

    #[test]
    fn appends_after_a_prefill_land_in_its_pages() {
        let dir = tempfile::tempdir().unwrap();
        let log = SegmentLog::new(dir.path());
        let record = HEADER + 100;
        log.append("j", Pos::default(), &[&[1; 100]]).unwrap();
        assert_eq!(
            file_len(dir.path(), 0),
            record + HEADER,
            "a zero header after it"
        );
        log.prefill("j").unwrap();
        let extended = record + 2 * record;
        assert_eq!(file_len(dir.path(), 0), extended);
        // Nothing appended since: nothing more.
        log.prefill("j").unwrap();
        assert_eq!(file_len(dir.path(), 0), extended);
        log.append("j", Pos::default(), &[&[2; 100]]).unwrap();
        assert_eq!(file_len(dir.path(), 0), extended, "written into it");
        // Another handle appends after the records, not after the zeros.
        let other = SegmentLog::new(dir.path());
        other.append("j", Pos::default(), &[&[3; 100]]).unwrap();
        assert_eq!(file_len(dir.path(), 0), 3 * record + HEADER);
        let want: Vec<Vec<u8>> = (1..=3).map(|b| vec![b; 100]).collect();
        assert_eq!(payloads(&other), want);
        assert_eq!(payloads(&log), want);
    }

    #[test]
    fn a_prefill_past_the_rotation_size_starts_the_next_generation() {
        let dir = tempfile::tempdir().unwrap();
        let log = SegmentLog::with_rotation(dir.path(), 200);
        // The job's directory there when it is first listed: the handle
        // does not list it again.
        std::fs::create_dir_all(log.job_dir("j")).unwrap();
        log.append("j", Pos::default(), &[&[1; 100]]).unwrap();
        // Twice the bytes appended, at most the rotation size, would take
        // the file past it: they go to the next generation.
        log.prefill("j").unwrap();
        let extended = 200;
        assert_eq!(file_len(dir.path(), 1), extended);
        log.append("j", Pos::default(), &[&[2; 100]]).unwrap();
        assert_eq!(file_len(dir.path(), 1), extended, "written there");
        // The first generation, not merged, is still read and flushed by
        // this handle.
        assert_eq!(payloads(&log), vec![vec![1; 100], vec![2; 100]]);
        assert_eq!(
            log.job("j").lock().unwrap().unsynced,
            vec![0, 1],
            "both generations are flushed by the next sync"
        );
        let other = SegmentLog::new(dir.path());
        assert_eq!(payloads(&other), vec![vec![1; 100], vec![2; 100]]);
    }

    #[test]
    fn what_a_torn_record_leaves_after_the_next_append_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let log = SegmentLog::new(dir.path());
        log.append("j", Pos::default(), &[b"first"]).unwrap();
        let path = log.path("j", 0);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - HEADER as usize);
        let first_end = bytes.len();
        // A crash's torn record: its header whole, 10 of its 100 bytes;
        // then, where the next record ("second") will end, an older
        // record that checks out.
        let (torn, _) = header_of(&[&[7; 100]]).unwrap();
        bytes.extend_from_slice(&torn);
        bytes.extend_from_slice(&[7; 10]);
        bytes.resize(first_end + HEADER as usize + b"second".len(), 0);
        let (stale, _) = header_of(&[b"stale"]).unwrap();
        bytes.extend_from_slice(&stale);
        bytes.extend_from_slice(b"stale");
        std::fs::write(&path, &bytes).unwrap();
        // A writer that never saw it appends over the torn record.
        SegmentLog::new(dir.path())
            .append("j", Pos::default(), &[b"second"])
            .unwrap();
        let reader = SegmentLog::new(dir.path());
        assert_eq!(
            payloads(&reader),
            vec![b"first".to_vec(), b"second".to_vec()]
        );
    }
}
