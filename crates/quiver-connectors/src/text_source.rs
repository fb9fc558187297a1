//! Reading newline-delimited JSON and CSV files: one split per file.
//!
//! NDJSON objects are matched to the declared columns by name (missing keys
//! are NULL, extra keys are ignored); timestamps may be RFC 3339 strings or
//! epoch milliseconds. CSV files are matched by the header line's names, so
//! column order in the file does not matter; an empty field is NULL.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType as ArrowType, Field, Schema as ArrowSchema};
use quiver_dataflow::source::{ReadRequest, SourceProvider, Split};
use quiver_types::Schema;

use crate::discover::discover;
use crate::normalize::{declared_batch, reader_type};
use crate::parquet_source::BATCH_ROWS;

/// A text format and its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// One JSON object per line.
    Ndjson,
    /// Delimited text with a header line (or without: columns in declared order).
    Csv {
        /// Whether the first line names the columns.
        header: bool,
        /// Field separator.
        delimiter: u8,
    },
}

/// An NDJSON or CSV source.
pub struct TextSource {
    /// Where the files are.
    pub path: String,
    /// Declared columns.
    pub schema: Schema,
    /// The format.
    pub format: TextFormat,
}

impl SourceProvider for TextSource {
    fn splits(
        &self,
        worker: usize,
        peers: usize,
        req: &ReadRequest,
    ) -> Result<Vec<Box<dyn Split>>, String> {
        let exts: &[&str] = match self.format {
            TextFormat::Ndjson => &["ndjson", "jsonl", "json"],
            TextFormat::Csv { .. } => &["csv", "tsv", "txt"],
        };
        let files = discover(&self.path, exts, req.start, req.end)?;
        Ok(files
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % peers == worker)
            .map(|(_, f)| {
                Box::new(TextSplit {
                    file: f.path.display().to_string(),
                    schema: self.schema.clone(),
                    format: self.format,
                    reader: None,
                }) as Box<dyn Split>
            })
            .collect())
    }
}

enum Reader {
    Json(arrow::json::Reader<BufReader<File>>),
    Csv {
        reader: Box<arrow::csv::Reader<BufReader<File>>>,
        order: Vec<Option<usize>>,
    },
}

struct TextSplit {
    file: String,
    schema: Schema,
    format: TextFormat,
    reader: Option<Reader>,
}

impl TextSplit {
    fn open(&self) -> Result<Reader, String> {
        let f = File::open(&self.file).map_err(|e| format!("cannot open: {e}"))?;
        match self.format {
            TextFormat::Ndjson => {
                let fields: Vec<Field> = self
                    .schema
                    .fields
                    .iter()
                    .map(|f| Field::new(&f.name, reader_type(f.data_type), true))
                    .collect();
                let r = arrow::json::ReaderBuilder::new(Arc::new(ArrowSchema::new(fields)))
                    .with_batch_size(BATCH_ROWS)
                    .build(BufReader::new(f))
                    .map_err(|e| e.to_string())?;
                Ok(Reader::Json(r))
            }
            TextFormat::Csv { header, delimiter } => {
                let mut buf = BufReader::new(f);
                // The file's columns: from the header, or the declared order.
                let names: Vec<String> = if header {
                    let mut line = String::new();
                    buf.read_line(&mut line).map_err(|e| e.to_string())?;
                    let line = line.trim_end_matches(['\r', '\n']);
                    line.split(delimiter as char)
                        .map(|s| s.trim().trim_matches('"').to_string())
                        .collect()
                } else {
                    self.schema.names().iter().map(|s| s.to_string()).collect()
                };
                let fields: Vec<Field> = names
                    .iter()
                    .map(|n| match self.schema.field(n) {
                        Some(f) => Field::new(n, reader_type(f.data_type), true),
                        None => Field::new(n, ArrowType::Utf8, true),
                    })
                    .collect();
                let mut order = Vec::new();
                for f in &self.schema.fields {
                    let pos = names
                        .iter()
                        .position(|n| n == &f.name)
                        .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(&f.name)));
                    if pos.is_none() && header {
                        return Err(format!(
                            "column `{}` is declared in the job but missing from the header (the file has: {})",
                            f.name,
                            names.join(", ")
                        ));
                    }
                    order.push(pos);
                }
                let reader = arrow::csv::ReaderBuilder::new(Arc::new(ArrowSchema::new(fields)))
                    .with_header(false)
                    .with_delimiter(delimiter)
                    .with_batch_size(BATCH_ROWS)
                    .build(buf)
                    .map_err(|e| e.to_string())?;
                Ok(Reader::Csv {
                    reader: Box::new(reader),
                    order,
                })
            }
        }
    }
}

impl Split for TextSplit {
    fn min_time(&self) -> Option<i64> {
        None
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, String> {
        if self.reader.is_none() {
            self.reader = Some(self.open()?);
        }
        match self.reader.as_mut() {
            Some(Reader::Json(r)) => match r.next() {
                None => Ok(None),
                Some(Err(e)) => Err(e.to_string()),
                Some(Ok(b)) => {
                    let n = b.num_rows();
                    declared_batch(
                        &self.schema,
                        b.columns().iter().cloned().map(Some).collect(),
                        n,
                    )
                    .map(Some)
                }
            },
            Some(Reader::Csv { reader, order }) => match reader.next() {
                None => Ok(None),
                Some(Err(e)) => Err(e.to_string()),
                Some(Ok(b)) => {
                    let cols: Vec<Option<ArrayRef>> = order
                        .iter()
                        .map(|p| p.map(|p| b.column(p).clone()))
                        .collect();
                    declared_batch(&self.schema, cols, b.num_rows()).map(Some)
                }
            },
            None => Ok(None),
        }
    }

    fn describe(&self) -> String {
        self.file.clone()
    }
}
