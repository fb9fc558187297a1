//! Reading Parquet: one split per row group, pruned by event-time statistics.
//!
//! Splits are numbered across all files in path order and dealt to workers
//! round-robin. A row group whose event-time statistics (min/max) lie
//! entirely outside the requested interval is skipped without reading it;
//! the minimum also tells the executor where the split starts in event time,
//! so splits far in the future are not opened before they are needed.

use std::fs::File;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType as ArrowType, TimeUnit, TimestampMillisecondType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use quiver_dataflow::source::{ReadRequest, SourceProvider, Split};
use quiver_types::Schema;

use crate::discover::discover;
use crate::normalize::{declared_batch, match_schema};

/// Rows per batch read from a row group.
pub const BATCH_ROWS: usize = 65_536;

/// A Parquet source: a file, directory or glob of Parquet files.
pub struct ParquetSource {
    /// Where the files are.
    pub path: String,
    /// Declared columns.
    pub schema: Schema,
    /// The event-time column, for streams.
    pub time_col: Option<usize>,
}

struct RowGroup {
    file: String,
    metadata: ArrowReaderMetadata,
    positions: Arc<Vec<usize>>,
    index: usize,
    min_time: Option<i64>,
}

impl ParquetSource {
    fn row_groups(&self, req: &ReadRequest) -> Result<Vec<RowGroup>, String> {
        let files = discover(&self.path, &["parquet", "parq", "pq"], req.start, req.end)?;
        let mut out = Vec::new();
        for f in files {
            let name = f.path.display().to_string();
            let file = File::open(&f.path).map_err(|e| format!("cannot open {name}: {e}"))?;
            let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                .map_err(|e| format!("{name} is not a readable Parquet file: {e}"))?;
            let positions = Arc::new(match_schema(&self.schema, metadata.schema(), &name)?);
            let groups = metadata.metadata().row_groups();
            let (mins, maxes) = match self.time_col {
                Some(t) => time_stats(
                    &metadata,
                    &metadata.schema().field(positions[t]).name().clone(),
                    &name,
                )?,
                None => (vec![None; groups.len()], vec![None; groups.len()]),
            };
            for index in 0..groups.len() {
                if groups[index].num_rows() == 0 {
                    continue;
                }
                let (lo, hi) = (mins[index], maxes[index]);
                let before = matches!((hi, req.start), (Some(h), Some(s)) if h < s);
                let after = matches!((lo, req.end), (Some(l), Some(e)) if l >= e);
                if before || after {
                    continue;
                }
                out.push(RowGroup {
                    file: name.clone(),
                    metadata: metadata.clone(),
                    positions: positions.clone(),
                    index,
                    min_time: lo,
                });
            }
        }
        Ok(out)
    }
}

impl ParquetSource {
    /// One past the greatest event time in the files, from statistics
    /// (`None` when there are no rows or no statistics): where a hybrid
    /// source switches to Kafka by default.
    pub fn end_time(&self) -> Result<Option<i64>, String> {
        let Some(t) = self.time_col else {
            return Ok(None);
        };
        let files = discover(&self.path, &["parquet", "parq", "pq"], None, None)?;
        let mut end: Option<i64> = None;
        for f in files {
            let name = f.path.display().to_string();
            let file = File::open(&f.path).map_err(|e| format!("cannot open {name}: {e}"))?;
            let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                .map_err(|e| format!("{name} is not a readable Parquet file: {e}"))?;
            let positions = match_schema(&self.schema, metadata.schema(), &name)?;
            let column = metadata.schema().field(positions[t]).name().clone();
            let (_, maxes) = time_stats(&metadata, &column, &name)?;
            for m in maxes {
                match m {
                    Some(m) => end = Some(end.map_or(m, |e| e.max(m))),
                    None => return Ok(None),
                }
            }
        }
        Ok(end)
    }
}

/// Per row group, the least and greatest event time (ms), when known.
type TimeStats = (Vec<Option<i64>>, Vec<Option<i64>>);

/// Per row group, the min and max event time in ms, from statistics.
fn time_stats(
    metadata: &ArrowReaderMetadata,
    column: &str,
    name: &str,
) -> Result<TimeStats, String> {
    let schema = metadata.schema();
    let conv = StatisticsConverter::try_new(column, schema, metadata.parquet_schema())
        .map_err(|e| format!("{name}: {e}"))?;
    let groups = metadata.metadata().row_groups();
    let to_ms = |a: arrow::array::ArrayRef| -> Vec<Option<i64>> {
        let target = ArrowType::Timestamp(TimeUnit::Millisecond, None);
        let a = match a.data_type() {
            ArrowType::Timestamp(_, _) => {
                cast_with_options(&a, &target, &CastOptions::default()).ok()
            }
            _ => None,
        };
        match a {
            Some(a) => a
                .as_primitive::<TimestampMillisecondType>()
                .iter()
                .collect(),
            None => vec![None; groups.len()],
        }
    };
    let mins = conv
        .row_group_mins(groups.iter())
        .map(to_ms)
        .unwrap_or_else(|_| vec![None; groups.len()]);
    let maxes = conv
        .row_group_maxes(groups.iter())
        .map(to_ms)
        .unwrap_or_else(|_| vec![None; groups.len()]);
    // Statistics are truncated to ms downwards; the max may hide a later
    // sub-millisecond value, so it is rounded up by one.
    Ok((mins, maxes.into_iter().map(|m| m.map(|m| m + 1)).collect()))
}

impl SourceProvider for ParquetSource {
    fn splits(
        &self,
        worker: usize,
        peers: usize,
        req: &ReadRequest,
    ) -> Result<Vec<Box<dyn Split>>, String> {
        let groups = self.row_groups(req)?;
        Ok(groups
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % peers == worker)
            .map(|(_, g)| {
                Box::new(ParquetSplit {
                    group: g,
                    schema: self.schema.clone(),
                    columns: req.columns.clone(),
                    reader: None,
                    done: false,
                }) as Box<dyn Split>
            })
            .collect())
    }
}

struct ParquetSplit {
    group: RowGroup,
    schema: Schema,
    columns: Vec<bool>,
    reader: Option<ParquetRecordBatchReader>,
    done: bool,
}

impl ParquetSplit {
    fn open(&mut self) -> Result<(), String> {
        let file = File::open(&self.group.file).map_err(|e| format!("cannot open: {e}"))?;
        let builder =
            ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.group.metadata.clone());
        let roots: Vec<usize> = self
            .group
            .positions
            .iter()
            .zip(&self.columns)
            .filter(|(_, w)| **w)
            .map(|(p, _)| *p)
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        let reader = builder
            .with_row_groups(vec![self.group.index])
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| e.to_string())?;
        self.reader = Some(reader);
        Ok(())
    }
}

impl Split for ParquetSplit {
    fn min_time(&self) -> Option<i64> {
        self.group.min_time
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, String> {
        if self.done {
            return Ok(None);
        }
        if self.reader.is_none() {
            self.open()?;
        }
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        match reader.next() {
            None => {
                self.done = true;
                self.reader = None;
                Ok(None)
            }
            Some(Err(e)) => Err(e.to_string()),
            Some(Ok(b)) => {
                let file_schema = self.group.metadata.schema();
                let cols = self
                    .group
                    .positions
                    .iter()
                    .zip(&self.columns)
                    .map(|(&p, &wanted)| {
                        if !wanted {
                            return None;
                        }
                        b.column_by_name(file_schema.field(p).name()).cloned()
                    })
                    .collect();
                declared_batch(&self.schema, cols, b.num_rows()).map(Some)
            }
        }
    }

    fn describe(&self) -> String {
        format!("{} (row group {})", self.group.file, self.group.index)
    }
}
