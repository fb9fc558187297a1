//! Quiver's connectors: where a job's data comes from and goes to.
//!
//! Sources ([`source_def`] builds one from a job's `bounded:` block):
//! * [`parquet_source`]: Parquet files, directories or globs; one split per
//!   row group, pruned by Hive `date=`/`dt=` directories and by event-time
//!   statistics; only the columns the query reads are decoded.
//! * [`text_source`]: NDJSON and CSV files, one split per file.
//! * [`kafka::source`]: a Kafka topic, one live split per partition, with
//!   an optional history read up to a switch time (hybrid sources); JSON
//!   or Protobuf payloads ([`kafka::decode`]).
//!
//! Every source checks the job's declared columns against the data and
//! fails with a message naming the column and file when they disagree.
//!
//! Sinks:
//! * [`historical`]: Hive-partitioned Parquet with idempotent, atomic
//!   interval commits;
//! * [`online`]: the latest row per entity into a `quiver-store` store;
//! * [`kafka::sink`]: output rows as JSON or Protobuf messages keyed by
//!   entity;
//! * [`dead_letter`]: rejected input with its raw bytes and reason.

pub mod dead_letter;
pub mod discover;
pub mod historical;
pub mod kafka;
mod normalize;
pub mod online;
pub mod parquet_source;
pub mod text_source;

use std::sync::Arc;

use quiver_dataflow::source::{SourceDef, SourceProvider};
use quiver_spec::{FileFormat, SourceSpec};

pub use historical::{CommitSummary, HistoricalFactory, HistoricalSink};
pub use normalize::compatible;
pub use online::OnlineSink;

/// The dataflow source for a job source's `bounded:` input, or `None` if it has none.
pub fn source_def(spec: &SourceSpec) -> Option<SourceDef> {
    let b = spec.bounded.as_ref()?;
    let schema = spec.schema();
    let time_col = spec
        .event_time
        .as_ref()
        .and_then(|t| schema.index_of(&t.value));
    let path = b.path.value.clone();
    let provider: Arc<dyn SourceProvider> = match b.format {
        FileFormat::Parquet => Arc::new(parquet_source::ParquetSource {
            path,
            schema: schema.clone(),
            time_col,
        }),
        FileFormat::Ndjson => Arc::new(text_source::TextSource {
            path,
            schema: schema.clone(),
            format: text_source::TextFormat::Ndjson,
        }),
        FileFormat::Csv => Arc::new(text_source::TextSource {
            path,
            schema: schema.clone(),
            format: text_source::TextFormat::Csv {
                header: b.csv_header,
                delimiter: b.csv_delimiter,
            },
        }),
    };
    Some(SourceDef {
        name: spec.name.value.clone(),
        schema,
        time_col,
        watermark_delay: spec.watermark_delay,
        provider,
    })
}
