//! The job model: what a job file declares, after expansion and validation.

use std::path::PathBuf;

use quiver_types::{DataType, MappedText, Position};

/// A value with the position it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub pos: Position,
}

impl<T> Located<T> {
    /// Wraps a value with its position.
    pub fn new(value: T, pos: Position) -> Located<T> {
        Located { value, pos }
    }
}

/// One feature job: a SQL query over sources, with metadata and sinks.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The job file, as the user named it (used in error messages).
    pub file: String,
    /// The directory of the job file; relative source paths resolve against it.
    pub dir: PathBuf,
    /// Unique name after parameter expansion.
    pub name: Located<String>,
    /// What the job computes.
    pub description: Option<String>,
    /// Team or person responsible.
    pub owner: Option<String>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Version of the feature logic (Jetpack: bump it for new logic).
    pub version: Option<i64>,
    /// Key columns of the output rows; `None` means the non-window GROUP BY keys.
    pub entity: Option<Vec<Located<String>>>,
    /// The parameter values this job was expanded with.
    pub params: Vec<(String, String)>,
    /// Input tables, in file order.
    pub sources: Vec<SourceSpec>,
    /// The SQL, after substitution, with positions in the file.
    pub sql: MappedText,
    /// Where the `sql:` value starts.
    pub sql_pos: Position,
    /// Metadata of output columns.
    pub features: Vec<FeatureSpec>,
    /// Functions loaded at run time (WebAssembly modules) that the SQL may call.
    pub functions: Vec<FunctionSpec>,
    /// Steps applied to the query's output rows, in order, before any sink.
    pub postprocessors: Vec<PostprocessorSpec>,
    /// Lets columns marked `is_pii` reach the sinks unmasked.
    pub allow_pii: bool,
    /// Where the output goes.
    pub sinks: SinksSpec,
}

impl JobSpec {
    /// The source called `name` (case-insensitive, like SQL identifiers).
    pub fn source(&self, name: &str) -> Option<&SourceSpec> {
        self.sources
            .iter()
            .find(|s| s.name.value == name)
            .or_else(|| {
                self.sources
                    .iter()
                    .find(|s| s.name.value.eq_ignore_ascii_case(name))
            })
    }
}

/// An input table of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSpec {
    /// The table name used in SQL.
    pub name: Located<String>,
    /// Declared columns, in order.
    pub schema: Vec<ColumnSpec>,
    /// The event-time column. Sources without one are bounded tables
    /// (dimension data such as a users table) that streams join against.
    pub event_time: Option<Located<String>>,
    /// Bounded out-of-orderness in milliseconds: the watermark trails the
    /// largest event time seen by this much.
    pub watermark_delay: i64,
    /// Live input: a partition without new events for this long (ms) stops
    /// holding the watermark back.
    pub idle_timeout: i64,
    /// Live input: events more than this far (ms) ahead of the wall clock
    /// go to the dead letters.
    pub max_future: i64,
    /// Live input: events more than this far (ms) behind the wall clock go
    /// to the dead letters; `None` accepts any age (late events are still
    /// judged by the watermark).
    pub max_past: Option<i64>,
    /// Historical input (files).
    pub bounded: Option<BoundedSpec>,
    /// Live input (Kafka).
    pub unbounded: Option<UnboundedSpec>,
}

impl SourceSpec {
    /// The Quiver schema of this source.
    pub fn schema(&self) -> quiver_types::Schema {
        quiver_types::Schema::new(
            self.schema
                .iter()
                .map(|c| quiver_types::Field::new(c.name.clone(), c.data_type))
                .collect(),
        )
    }

    /// The first part of the definition where `self` and `other` differ
    /// (where each was written aside), if any: jobs run together read one
    /// source per name, so the jobs that share it must declare it alike.
    pub fn differs_from(&self, other: &SourceSpec) -> Option<&'static str> {
        let columns = |s: &SourceSpec| {
            s.schema
                .iter()
                .map(|c| (c.name.clone(), c.data_type))
                .collect::<Vec<_>>()
        };
        let event_time = |s: &SourceSpec| s.event_time.as_ref().map(|t| t.value.clone());
        let limits = |s: &SourceSpec| (s.idle_timeout, s.max_future, s.max_past);
        let bounded = |s: &SourceSpec| {
            s.bounded.as_ref().map(|b| {
                (
                    b.format,
                    b.path.value.clone(),
                    b.csv_header,
                    b.csv_delimiter,
                )
            })
        };
        let unbounded = |s: &SourceSpec| {
            s.unbounded.as_ref().map(|u| {
                let proto = u
                    .protobuf
                    .as_ref()
                    .map(|p| (p.descriptor_set.value.clone(), p.message.value.clone()));
                (
                    u.topic.clone(),
                    u.format,
                    u.group_id.clone(),
                    u.start.clone(),
                    proto,
                )
            })
        };
        if columns(self) != columns(other) {
            Some("its columns")
        } else if event_time(self) != event_time(other) {
            Some("`event_time`")
        } else if self.watermark_delay != other.watermark_delay {
            Some("`watermark_delay`")
        } else if limits(self) != limits(other) {
            Some("`idle_timeout`, `max_future` or `max_past`")
        } else if bounded(self) != bounded(other) {
            Some("`bounded:`")
        } else if unbounded(self) != unbounded(other) {
            Some("`unbounded:`")
        } else {
            None
        }
    }

    /// Whether this source is a stream (has an event-time column).
    pub fn is_stream(&self) -> bool {
        self.event_time.is_some()
    }
}

/// One declared column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Column name.
    pub name: String,
    /// Column type.
    pub data_type: DataType,
    /// Where it was declared.
    pub pos: Position,
}

/// File input of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundedSpec {
    /// File format.
    pub format: FileFormat,
    /// A file, a directory (read recursively) or a glob; relative to the job file.
    pub path: Located<String>,
    /// CSV only: whether the first line names the columns (default true).
    pub csv_header: bool,
    /// CSV only: the field delimiter (default `,`).
    pub csv_delimiter: u8,
}

/// Formats of bounded inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Apache Parquet.
    Parquet,
    /// Newline-delimited JSON, one object per line.
    Ndjson,
    /// Comma-separated values.
    Csv,
}

impl FileFormat {
    /// The key used in job files.
    pub fn key(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Ndjson => "ndjson",
            FileFormat::Csv => "csv",
        }
    }
}

/// Live input of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct UnboundedSpec {
    /// The Kafka topic.
    pub topic: String,
    /// Payload encoding.
    pub format: PayloadFormat,
    /// Consumer group (default: `quiver-<job name>`).
    pub group_id: Option<String>,
    /// Where to start without committed offsets: `earliest`, `latest`, `committed`
    /// or a timestamp.
    pub start: Option<String>,
    /// The message type; set exactly when `format` is Protobuf.
    pub protobuf: Option<ProtobufSpec>,
    /// Where the block was written.
    pub pos: Position,
}

/// Encodings of Kafka payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// One JSON object per message.
    Json,
    /// Protobuf, described by a descriptor set.
    Protobuf,
}

impl PayloadFormat {
    /// The name used in job files.
    pub fn key(self) -> &'static str {
        match self {
            PayloadFormat::Json => "json",
            PayloadFormat::Protobuf => "protobuf",
        }
    }
}

/// The Protobuf message type of a Kafka payload.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtobufSpec {
    /// The descriptor-set file (a serialized `google.protobuf.FileDescriptorSet`,
    /// as `protoc --include_imports --descriptor_set_out=F` or `buf build -o F`
    /// write it), resolved against the job file's directory.
    pub descriptor_set: Located<String>,
    /// The message's fully qualified name, e.g. `bookings.v1.Booking`.
    pub message: Located<String>,
}

/// Metadata of one output column.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSpec {
    /// The output column this describes.
    pub column: Located<String>,
    /// What the feature means.
    pub description: Option<String>,
    /// The kind of feature, for model builders.
    pub kind: Option<FeatureKind>,
    /// Whether the feature holds personal data.
    pub is_pii: bool,
    /// Free-form tags.
    pub tags: Vec<String>,
}

/// The kind of a feature (Jetpack's `data_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// A number on a scale.
    Numerical,
    /// Two values.
    Binary,
    /// A label from a set.
    Categorical,
    /// Ordered labels.
    Ordinal,
    /// Free text.
    Text,
    /// A point in time.
    Timestamp,
}

impl FeatureKind {
    /// All kinds with their job-file names.
    pub const ALL: &'static [(&'static str, FeatureKind)] = &[
        ("numerical", FeatureKind::Numerical),
        ("binary", FeatureKind::Binary),
        ("categorical", FeatureKind::Categorical),
        ("ordinal", FeatureKind::Ordinal),
        ("text", FeatureKind::Text),
        ("timestamp", FeatureKind::Timestamp),
    ];

    /// The job-file name.
    pub fn name(self) -> &'static str {
        FeatureKind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("", |(n, _)| n)
    }
}

/// A SQL function implemented by a WebAssembly module, declared in the job.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// The SQL name.
    pub name: Located<String>,
    /// The module file (`.wasm`, or `.wat` text), resolved against the job file.
    pub module: Located<String>,
    /// The exported function called (default: the SQL name).
    pub export: String,
    /// Argument types, in order.
    pub args: Vec<Located<DataType>>,
    /// The result type.
    pub returns: Located<DataType>,
}

/// One entry of a job's `postprocessors:` list.
#[derive(Debug, Clone, PartialEq)]
pub enum PostprocessorSpec {
    /// Hash, encrypt, decrypt, redact or truncate columns.
    Mask(MaskSpec),
    /// Drop repeats of a key within a TTL.
    Dedup(DedupSpec),
    /// Attach a model's predictions.
    Infer(InferSpec),
    /// Attach values looked up in an external source (HTTP, Redis, Postgres).
    Enrich(EnrichSpec),
    /// Send rows failing a check to the dead-letter sink.
    FilterInvalid(FilterInvalidSpec),
}

impl PostprocessorSpec {
    /// The job-file name of the step (`mask`, `dedup`, `infer`).
    pub fn kind(&self) -> &'static str {
        match self {
            PostprocessorSpec::Mask(_) => "mask",
            PostprocessorSpec::Dedup(_) => "dedup",
            PostprocessorSpec::Infer(_) => "infer",
            PostprocessorSpec::Enrich(_) => "enrich",
            PostprocessorSpec::FilterInvalid(_) => "filter_invalid",
        }
    }

    /// Where the step was written.
    pub fn pos(&self) -> Position {
        match self {
            PostprocessorSpec::Mask(m) => m.pos,
            PostprocessorSpec::Dedup(d) => d.pos,
            PostprocessorSpec::Infer(i) => i.pos,
            PostprocessorSpec::Enrich(e) => e.pos,
            PostprocessorSpec::FilterInvalid(f) => f.pos,
        }
    }

    /// Output columns the step adds (an `infer` step's predictions, an
    /// `enrich` step's looked-up values).
    pub fn added_columns(&self) -> Vec<&Located<String>> {
        match self {
            PostprocessorSpec::Infer(i) => i.outputs.iter().map(|o| &o.column).collect(),
            PostprocessorSpec::Enrich(e) => e.outputs.iter().map(|o| &o.column).collect(),
            _ => Vec::new(),
        }
    }
}

/// A `mask` step.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskSpec {
    /// The secret that keys hashing and encryption (from `${ENV}`); needed
    /// by `hash`, `encrypt` and `decrypt`.
    pub key: Option<Located<String>>,
    /// What to do to each column, in file order.
    pub columns: Vec<MaskColumn>,
    /// Where the step was written.
    pub pos: Position,
}

/// How one column is masked.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskColumn {
    /// The output column.
    pub column: Located<String>,
    /// The action.
    pub action: MaskAction,
}

/// A masking action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskAction {
    /// HMAC-SHA256 of the value, as lower-case hex (VARCHAR).
    Hash,
    /// AES-256-GCM, as base64 text (VARCHAR).
    Encrypt,
    /// The inverse of `Encrypt` (VARCHAR).
    Decrypt,
    /// The value replaced by NULL (type kept).
    Redact,
    /// Only the first N characters kept (VARCHAR columns).
    Truncate(usize),
}

impl MaskAction {
    /// The job-file names of the actions without arguments.
    pub const NAMES: &'static [&'static str] =
        &["hash", "encrypt", "decrypt", "redact", "truncate"];

    /// Whether the action hides the value (all but `decrypt`).
    pub fn hides(self) -> bool {
        !matches!(self, MaskAction::Decrypt)
    }
}

/// A `dedup` step: the first row of each key is kept, and repeats whose
/// event time is within `ttl` of it are dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct DedupSpec {
    /// The key columns.
    pub key: Vec<Located<String>>,
    /// How long (event time, ms) a key is remembered.
    pub ttl: i64,
    /// Where the step was written.
    pub pos: Position,
}

/// A `filter_invalid` step: rows for which a check is FALSE leave the
/// output and go to the job's dead-letter sink, named by the first check
/// they fail. A check that is NULL passes, as SQL's CHECK constraints do.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterInvalidSpec {
    /// The checks, in the order written.
    pub checks: Vec<CheckSpec>,
    /// Where the step was written.
    pub pos: Position,
}

/// One named check of a `filter_invalid` step.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// Its name (the dead letter's detail and the metric's reason).
    pub name: Located<String>,
    /// A SQL condition over the step's input columns, with the position of
    /// each character in the job file.
    pub sql: MappedText,
}

/// An `infer` step: a model's predictions for each row, from an ONNX model
/// run in-process or from an HTTP model endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct InferSpec {
    /// Where the model runs.
    pub model: InferModel,
    /// Columns fed to the model's one input, in order, as a float tensor
    /// of shape `[rows, inputs.len()]`.
    pub inputs: Vec<Located<String>>,
    /// The prediction columns appended to the output.
    pub outputs: Vec<InferOutput>,
    /// Where the step was written.
    pub pos: Position,
}

/// Where an `infer` step's model runs.
#[derive(Debug, Clone, PartialEq)]
pub enum InferModel {
    /// `onnx:`: the `.onnx` file (resolved against the job file's
    /// directory), run in-process.
    Onnx(Located<String>),
    /// `endpoint:`: a model server called over HTTP.
    Endpoint(InferEndpoint),
}

/// The wire format of a model endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InferProtocol {
    /// KServe v2 / the Open Inference Protocol: one input tensor
    /// `[rows, k]`, named output tensors.
    KserveV2,
    /// Plain JSON, TF-Serving's row format (KServe v1):
    /// `{"instances": [[..], ..]}` → `{"predictions": [..]}`.
    Json,
}

impl InferProtocol {
    /// The job-file name (`kserve_v2`, `json`).
    pub fn name(self) -> &'static str {
        match self {
            InferProtocol::KserveV2 => "kserve_v2",
            InferProtocol::Json => "json",
        }
    }
}

/// An HTTP model endpoint and how to call it.
#[derive(Debug, Clone, PartialEq)]
pub struct InferEndpoint {
    /// Names the step in metrics and messages (default `infer`).
    pub name: Located<String>,
    /// The `http://` or `https://` URL requests are POSTed to.
    pub url: Located<String>,
    /// The wire format.
    pub protocol: InferProtocol,
    /// KServe v2: the input tensor's name (default `input`).
    pub input_name: String,
    /// Fixed request headers, in file order.
    pub headers: Vec<(String, Located<String>)>,
    /// Rows per request, at most.
    pub batch_size: usize,
    /// Requests in flight at once, per worker.
    pub capacity: usize,
    /// Time allowed for one attempt (ms).
    pub timeout: i64,
    /// Attempts after the first, for failures that may pass (timeouts,
    /// connection errors, HTTP 429 and 5xx).
    pub retries: u32,
    /// Wait before the first retry (ms); doubled for each further one.
    pub backoff: i64,
    /// `true`: a request that still fails after its retries (or whose
    /// answer does not fit) fails the run; `false`: its rows' predictions
    /// are NULL and the failure is counted.
    pub fail_on_errors: bool,
}

/// One prediction column: a model output, or one column of a 2-D output.
#[derive(Debug, Clone, PartialEq)]
pub struct InferOutput {
    /// The new output column.
    pub column: Located<String>,
    /// The model output's name.
    pub tensor: String,
    /// For a `[rows, k]` output, which of the k columns (`probabilities[1]`).
    pub index: Option<usize>,
    /// The declared type (`type: bigint` / `double`), if any: an ONNX
    /// model's output type is checked against it; an endpoint's outputs
    /// are DOUBLE unless declared.
    pub data_type: Option<Located<DataType>>,
}

/// An `enrich` step: per row, a lookup in an external source whose answer
/// fills new columns.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichSpec {
    /// Names the step in metrics and messages (default: the source's kind).
    pub name: Located<String>,
    /// Where values are looked up.
    pub source: EnrichSource,
    /// The new columns, in file order.
    pub outputs: Vec<EnrichOutput>,
    /// Lookups in flight at once, per worker.
    pub capacity: usize,
    /// Time allowed for one attempt (ms).
    pub timeout: i64,
    /// Attempts after the first, for failures that may pass (timeouts,
    /// connection errors, HTTP 429 and 5xx).
    pub retries: u32,
    /// Wait before the first retry (ms); doubled for each further one.
    pub backoff: i64,
    /// How long an answer is reused (ms of wall-clock time); `None`: no cache.
    pub cache_ttl: Option<i64>,
    /// Most answers kept in the cache.
    pub cache_size: usize,
    /// `true`: a lookup that still fails after its retries fails the run;
    /// `false`: its row's new columns are NULL and the failure is counted.
    pub fail_on_errors: bool,
    /// `true` (default): a batch of rows leaves the step when all its
    /// lookups are done, in order; `false`: each row leaves as soon as its
    /// lookup is done.
    pub ordered: bool,
    /// Where the step was written.
    pub pos: Position,
}

/// The source of an `enrich` step.
#[derive(Debug, Clone, PartialEq)]
pub enum EnrichSource {
    /// An HTTP endpoint answering JSON.
    Http(HttpLookup),
    /// A Redis server (`GET` or `HGETALL`).
    Redis(RedisLookup),
    /// A Postgres query returning at most one row.
    Postgres(PostgresLookup),
}

impl EnrichSource {
    /// The job-file name of the source (`http`, `redis`, `postgres`).
    pub fn kind(&self) -> &'static str {
        match self {
            EnrichSource::Http(_) => "http",
            EnrichSource::Redis(_) => "redis",
            EnrichSource::Postgres(_) => "postgres",
        }
    }

    /// The columns whose values go into the request, in placeholder order.
    pub fn variables(&self) -> &[Located<String>] {
        match self {
            EnrichSource::Http(h) => &h.variables,
            EnrichSource::Redis(r) => &r.variables,
            EnrichSource::Postgres(p) => &p.params,
        }
    }
}

/// An HTTP method an `enrich` step may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
}

/// An HTTP lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpLookup {
    /// `http://` or `https://` URL; each `%s` is replaced by the next
    /// variable, percent-encoded.
    pub url: Located<String>,
    /// The method.
    pub method: HttpMethod,
    /// Request body pattern; each `%s` (after those of the URL) becomes a
    /// variable as a JSON literal.
    pub body: Option<Located<String>>,
    /// Columns filling the `%s` of `url`, then of `body`, then of the
    /// header values (in file order).
    pub variables: Vec<Located<String>>,
    /// Request headers, in file order; a `%s` in a value is filled with
    /// the next variable as plain text.
    pub headers: Vec<(String, Located<String>)>,
}

/// A Redis command an `enrich` step may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisCommand {
    /// `GET key`: a string (parsed as JSON when it is JSON).
    Get,
    /// `HGETALL key`: a hash, read as an object of strings.
    Hgetall,
}

/// A Redis lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisLookup {
    /// `redis://host:port/db`.
    pub url: Located<String>,
    /// The command.
    pub command: RedisCommand,
    /// Key pattern; each `%s` is replaced by the next variable's text.
    pub key: Located<String>,
    /// Columns filling the `%s` of `key`.
    pub variables: Vec<Located<String>>,
}

/// A Postgres lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresLookup {
    /// `postgres://user:password@host:port/db` (or key=value settings).
    pub url: Located<String>,
    /// The query, with `$1`, `$2`… for the parameters.
    pub query: Located<String>,
    /// Columns bound to `$1`, `$2`…, in order (as parameters, never
    /// spliced into the text).
    pub params: Vec<Located<String>>,
}

/// One column an `enrich` step adds.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichOutput {
    /// The new column.
    pub column: Located<String>,
    /// Where its value is in the answer: a JSONPath (`$.a.b`) or a plain
    /// field name (a hash field, a result column, a top-level JSON key).
    pub path: Located<String>,
    /// Its type (VARCHAR unless declared).
    pub data_type: DataType,
}

/// Where a job writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SinksSpec {
    /// The online store (latest row per entity).
    pub online: Option<OnlineSinkSpec>,
    /// The historical Parquet store.
    pub historical: Option<HistoricalSinkSpec>,
    /// A Kafka topic receiving every output row (live runs).
    pub kafka: Option<KafkaSinkSpec>,
    /// Where rejected input goes: in live runs undecodable, invalid and
    /// late events; in every run rows refused by `filter_invalid`.
    pub dead_letter: Option<DeadLetterSpec>,
}

/// A Kafka output topic.
#[derive(Debug, Clone, PartialEq)]
pub struct KafkaSinkSpec {
    /// The topic.
    pub topic: String,
    /// Payload encoding.
    pub format: PayloadFormat,
    /// The message type; set exactly when `format` is Protobuf.
    pub protobuf: Option<ProtobufSpec>,
    /// Where the block was written.
    pub pos: Position,
}

/// A dead-letter sink.
#[derive(Debug, Clone, PartialEq)]
pub enum DeadLetterSpec {
    /// Appended to a newline-delimited JSON file (relative to the job file).
    Ndjson(String),
    /// Produced to a Kafka topic.
    Kafka(String),
}

/// Online-store settings of a job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OnlineSinkSpec {
    /// Rows older than this (by event time) read back as OUTSIDE_MAX_AGE; `None` never expires.
    pub ttl: Option<i64>,
}

/// Historical-store settings of a job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoricalSinkSpec {
    /// Dataset directory; default `<historical_store>/<job name>`.
    pub path: Option<String>,
}
