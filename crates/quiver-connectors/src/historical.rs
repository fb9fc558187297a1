//! The historical store: a job's output as Hive-partitioned Parquet,
//! `<root>/<job>/date=YYYY-MM-DD/part-NNNN.parquet`, readable by DuckDB
//! (`read_parquet('<root>/<job>/**/*.parquet', hive_partitioning=true)`)
//! and pyarrow (`pyarrow.dataset.dataset(path, partitioning='hive')`).
//!
//! A row's partition is the UTC date of its event time (for a window, the
//! window's last millisecond, so a day window lands in its own day).
//!
//! **Idempotent interval runs.** A run writes into a staging directory,
//! `<root>/.staging/<job>/<run>/`, never into the dataset. Only after the
//! whole run succeeded does [`HistoricalSink::commit`] swap partitions in: a
//! run over `[start, end)` replaces exactly the days in that interval
//! (removing days that now have no rows) and leaves other days untouched; a
//! run without an interval replaces the whole dataset. The swap first writes
//! a journal (`COMMIT`) listing the days, then renames partition
//! directories; if the process dies midway, the next run against the same
//! job finishes the swap from the journal (or, without a journal, discards
//! the staged files). A partition directory is therefore never seen half
//! written.
//!
//! **Live runs** ([`HistoricalSink::live`]) commit day by day instead: once
//! every worker's frontier has passed the end of a day, that day's staged
//! partition replaces the live one through the same journal, and
//! [`HistoricalSink::committed_through`] moves to the day's end. A day still
//! open when the run stops is discarded; the restarted run recomputes it
//! from its checkpoint.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{Int64Type, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use quiver_dataflow::sink::{SinkFactory, SinkWriter};
use quiver_types::time::{DAY, format_date, parse_date};

/// Rows handed to the Parquet writer per call. Writing fixed-size slices
/// makes page boundaries, and so the file bytes, independent of how rows
/// arrived.
const WRITE_ROWS: usize = 65_536;

/// One job's historical output for one run.
pub struct HistoricalSink {
    job: String,
    dataset: PathBuf,
    staging: PathBuf,
    schema: SchemaRef,
    /// Days `[first, last)` this run replaces; `None` replaces all.
    days: Option<(i32, i32)>,
    /// Live runs: days are committed as frontiers pass them.
    live: Option<LiveDays>,
}

/// Day-by-day commits of a live run.
struct LiveDays {
    /// Per worker, its frontier; and the days with staged rows.
    state: Mutex<(Vec<i64>, std::collections::BTreeSet<i32>)>,
    /// Every day before this time is committed.
    committed: AtomicI64,
}

/// What a commit changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    /// Days written.
    pub written: Vec<String>,
    /// Days removed because the run produced no rows for them.
    pub removed: Vec<String>,
}

impl HistoricalSink {
    /// Prepares a run of job `job` writing rows of `schema` (the job's
    /// output columns) under `dataset`; `staging_root` is the store's
    /// `.staging` directory. `days` is the day interval the run replaces.
    /// Any unfinished commit of an earlier run of this job is completed
    /// first.
    pub fn new(
        job: &str,
        dataset: PathBuf,
        staging_root: &Path,
        schema: SchemaRef,
        days: Option<(i32, i32)>,
    ) -> Result<HistoricalSink, String> {
        let job_staging = staging_root.join(job);
        recover(&job_staging, &dataset)?;
        let run = format!(
            "run-{}-{}",
            std::process::id(),
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f")
        );
        let staging = job_staging.join(run);
        fs::create_dir_all(&staging)
            .map_err(|e| format!("cannot create {}: {e}", staging.display()))?;
        Ok(HistoricalSink {
            job: job.to_string(),
            dataset,
            staging,
            schema,
            days,
            live: None,
        })
    }

    /// Prepares a live run with `workers` workers: days are committed one
    /// by one as every worker's frontier passes them.
    pub fn live(
        job: &str,
        dataset: PathBuf,
        staging_root: &Path,
        schema: SchemaRef,
        workers: usize,
    ) -> Result<HistoricalSink, String> {
        let mut s = HistoricalSink::new(job, dataset, staging_root, schema, None)?;
        s.live = Some(LiveDays {
            state: Mutex::new((vec![i64::MIN; workers.max(1)], Default::default())),
            committed: AtomicI64::new(i64::MIN),
        });
        Ok(s)
    }

    /// Live runs: every day before this time is committed.
    pub fn committed_through(&self) -> Option<i64> {
        self.live
            .as_ref()
            .map(|l| l.committed.load(Ordering::SeqCst))
    }

    /// Live runs: worker `worker` has closed its files of the days it
    /// staged, `days`, and will write nothing before `frontier`; commits
    /// the days every worker is done with.
    fn worker_advanced(&self, worker: usize, frontier: i64, days: &[i32]) -> Result<(), String> {
        let Some(live) = &self.live else {
            return Ok(());
        };
        let mut guard = live.state.lock().map_err(|_| "historical lock poisoned")?;
        let (frontiers, staged) = &mut *guard;
        staged.extend(days.iter().copied());
        if let Some(f) = frontiers.get_mut(worker) {
            *f = (*f).max(frontier);
        }
        let least = frontiers.iter().copied().min().unwrap_or(i64::MIN);
        let done: Vec<i32> = staged
            .iter()
            .copied()
            .take_while(|d| (*d as i64 + 1) * DAY <= least)
            .collect();
        for d in &done {
            staged.remove(d);
            let lines = vec![format!("replace date={}", format_date(*d))];
            let journal = self.staging.join("COMMIT");
            fs::write(&journal, lines.join("\n"))
                .map_err(|e| format!("cannot write {}: {e}", journal.display()))?;
            fs::create_dir_all(&self.dataset)
                .map_err(|e| format!("cannot create {}: {e}", self.dataset.display()))?;
            apply(&self.staging, &self.dataset, &lines)?;
            let _ = fs::remove_dir_all(self.staging.join("old"));
            let _ = fs::remove_file(&journal);
        }
        if least != i64::MIN {
            let through = least.div_euclid(DAY).saturating_mul(DAY);
            live.committed.fetch_max(through, Ordering::SeqCst);
        }
        Ok(())
    }

    /// The dataset directory.
    pub fn dataset(&self) -> &Path {
        &self.dataset
    }

    /// Swaps the staged partitions into the dataset (see the module docs).
    pub fn commit(&self) -> Result<CommitSummary, String> {
        let staged = partitions(&self.staging)?;
        let live = partitions(&self.dataset)?;
        let in_scope = |p: &String| match self.days {
            Some((first, last)) => p
                .strip_prefix("date=")
                .and_then(parse_date)
                .is_some_and(|d| d >= first && d < last),
            None => true,
        };
        let removed: Vec<String> = live
            .iter()
            .filter(|p| in_scope(p) && !staged.contains(p))
            .cloned()
            .collect();
        let mut journal_lines: Vec<String> =
            staged.iter().map(|p| format!("replace {p}")).collect();
        journal_lines.extend(removed.iter().map(|p| format!("remove {p}")));
        fs::create_dir_all(&self.dataset)
            .map_err(|e| format!("cannot create {}: {e}", self.dataset.display()))?;
        let journal = self.staging.join("COMMIT");
        fs::write(&journal, journal_lines.join("\n"))
            .map_err(|e| format!("cannot write {}: {e}", journal.display()))?;
        File::open(&journal)
            .and_then(|f| f.sync_all())
            .map_err(|e| e.to_string())?;
        apply(&self.staging, &self.dataset, &journal_lines)?;
        fs::remove_dir_all(&self.staging)
            .map_err(|e| format!("cannot remove {}: {e}", self.staging.display()))?;
        Ok(CommitSummary {
            written: staged,
            removed,
        })
    }

    /// Discards the staged files of a failed run.
    pub fn abort(&self) {
        let _ = fs::remove_dir_all(&self.staging);
    }

    /// The job this sink writes.
    pub fn job(&self) -> &str {
        &self.job
    }
}

/// Snappy pages, with an encoding per column type: dictionary for strings
/// (keys and categories repeat), delta for integers and times (window
/// bounds are constant and ids close, so deltas are tiny), plain for
/// doubles (their bits rarely repeat; dictionary encoding costs time).
fn writer_properties(schema: &SchemaRef) -> WriterProperties {
    use arrow::datatypes::DataType as A;
    let mut b = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by("quiver".to_string())
        .set_dictionary_enabled(false);
    for f in schema.fields() {
        let col = ColumnPath::from(f.name().as_str());
        match f.data_type() {
            A::Utf8 => b = b.set_column_dictionary_enabled(col, true),
            A::Int64 | A::Timestamp(_, _) | A::Date32 => {
                b = b.set_column_encoding(col, Encoding::DELTA_BINARY_PACKED)
            }
            _ => {}
        }
    }
    b.build()
}

/// The `date=...` subdirectories of `dir`, sorted.
fn partitions(dir: &Path) -> Result<Vec<String>, String> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| e.to_string())?;
        let name = e.file_name().to_string_lossy().to_string();
        if e.path().is_dir() && name.strip_prefix("date=").and_then(parse_date).is_some() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Carries out journal lines (`replace date=D` / `remove date=D`): the live
/// partition moves aside into `staging/old`, then the staged one (if any)
/// moves into place. Each step checks what is already done, so the journal
/// can be replayed after a crash at any point.
fn apply(staging: &Path, dataset: &Path, lines: &[String]) -> Result<(), String> {
    let old = staging.join("old");
    fs::create_dir_all(&old).map_err(|e| e.to_string())?;
    let mv = |from: &Path, to: &Path| {
        fs::rename(from, to)
            .map_err(|e| format!("cannot move {} to {}: {e}", from.display(), to.display()))
    };
    for line in lines {
        let Some((action, t)) = line.split_once(' ') else {
            continue;
        };
        let new = staging.join(t);
        let live = dataset.join(t);
        let aside = old.join(t);
        match action {
            // Done once the staged directory is gone (it is live now).
            "replace" if new.exists() => {
                if live.exists() && !aside.exists() {
                    mv(&live, &aside)?;
                }
                mv(&new, &live)?;
            }
            "remove" if live.exists() && !aside.exists() => mv(&live, &aside)?,
            _ => {}
        }
    }
    Ok(())
}

/// Completes or discards the runs left in `job_staging` by earlier processes.
fn recover(job_staging: &Path, dataset: &Path) -> Result<(), String> {
    let Ok(rd) = fs::read_dir(job_staging) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let run = e.path();
        let journal = run.join("COMMIT");
        if let Ok(text) = fs::read_to_string(&journal) {
            let lines: Vec<String> = text
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect();
            apply(&run, dataset, &lines)?;
        }
        fs::remove_dir_all(&run).map_err(|e| format!("cannot remove {}: {e}", run.display()))?;
    }
    Ok(())
}

/// The sink as a factory shared by the dataflow's workers.
pub struct HistoricalFactory(pub std::sync::Arc<HistoricalSink>);

impl SinkFactory for HistoricalFactory {
    fn open(&self, worker: usize, _peers: usize) -> Result<Box<dyn SinkWriter>, String> {
        Ok(Box::new(DayWriters {
            sink: self.0.clone(),
            staging: self.0.staging.clone(),
            schema: self.0.schema.clone(),
            worker,
            days: BTreeMap::new(),
        }))
    }
}

/// One worker's open files, one per day with rows.
struct DayWriters {
    sink: std::sync::Arc<HistoricalSink>,
    staging: PathBuf,
    schema: SchemaRef,
    worker: usize,
    days: BTreeMap<i32, DayFile>,
}

struct DayFile {
    writer: ArrowWriter<File>,
    pending: Vec<RecordBatch>,
    rows: usize,
}

impl DayFile {
    /// Queues rows, writing every complete `WRITE_ROWS` slice. Slices of a
    /// large batch are written without copying; only the rows that complete
    /// a partly filled slice are copied.
    fn push(&mut self, schema: &SchemaRef, batch: RecordBatch) -> Result<(), String> {
        let mut batch = batch;
        if self.rows > 0 {
            let need = WRITE_ROWS - self.rows;
            if batch.num_rows() < need {
                self.rows += batch.num_rows();
                self.pending.push(batch);
                return Ok(());
            }
            self.pending.push(batch.slice(0, need));
            let full = concat_batches(schema, self.pending.iter()).map_err(|e| e.to_string())?;
            self.pending.clear();
            self.rows = 0;
            self.writer.write(&full).map_err(|e| e.to_string())?;
            batch = batch.slice(need, batch.num_rows() - need);
        }
        let mut offset = 0;
        while batch.num_rows() - offset >= WRITE_ROWS {
            self.writer
                .write(&batch.slice(offset, WRITE_ROWS))
                .map_err(|e| e.to_string())?;
            offset += WRITE_ROWS;
        }
        if offset < batch.num_rows() {
            self.rows = batch.num_rows() - offset;
            self.pending.push(batch.slice(offset, self.rows));
        }
        Ok(())
    }

    /// Writes the last, partial slice.
    fn flush(&mut self, schema: &SchemaRef) -> Result<(), String> {
        if self.rows > 0 {
            let rest = concat_batches(schema, self.pending.iter()).map_err(|e| e.to_string())?;
            self.writer.write(&rest).map_err(|e| e.to_string())?;
            self.pending.clear();
            self.rows = 0;
        }
        Ok(())
    }
}

impl DayWriters {
    fn file(&mut self, day: i32) -> Result<&mut DayFile, String> {
        if !self.days.contains_key(&day) {
            let dir = self.staging.join(format!("date={}", format_date(day)));
            fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let path = dir.join(format!("part-{:04}.parquet", self.worker));
            let file = File::create(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            let props = writer_properties(&self.schema);
            let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(props))
                .map_err(|e| e.to_string())?;
            self.days.insert(
                day,
                DayFile {
                    writer,
                    pending: Vec::new(),
                    rows: 0,
                },
            );
        }
        Ok(self.days.get_mut(&day).expect("just inserted"))
    }

    fn close(&mut self, day: i32) -> Result<(), String> {
        if let Some(mut f) = self.days.remove(&day) {
            f.flush(&self.schema)?;
            f.writer.close().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

impl SinkWriter for DayWriters {
    fn kind(&self) -> &'static str {
        "historical"
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let width = batch.num_columns() - 1;
        let times = batch.column(width).as_primitive::<Int64Type>().values();
        let data = RecordBatch::try_new(self.schema.clone(), batch.columns()[..width].to_vec())
            .map_err(|e| e.to_string())?;
        // Rows arrive in event-time order: cut the batch into runs of one day.
        let mut start = 0;
        while start < times.len() {
            let day = times[start].div_euclid(DAY) as i32;
            let mut end = start + 1;
            while end < times.len() && times[end].div_euclid(DAY) as i32 == day {
                end += 1;
            }
            let part = data.slice(start, end - start);
            let schema = self.schema.clone();
            self.file(day)?.push(&schema, part)?;
            start = end;
        }
        Ok(())
    }

    fn advance(&mut self, frontier: i64) -> Result<(), String> {
        // A day is complete once the frontier passes its end.
        let done: Vec<i32> = self
            .days
            .keys()
            .copied()
            .filter(|d| (*d as i64 + 1) * DAY <= frontier)
            .collect();
        for &d in &done {
            self.close(d)?;
        }
        self.sink.worker_advanced(self.worker, frontier, &done)
    }

    fn finish(&mut self) -> Result<(), String> {
        let days: Vec<i32> = self.days.keys().copied().collect();
        for d in days {
            self.close(d)?;
        }
        Ok(())
    }
}
