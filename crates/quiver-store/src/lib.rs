//! The online store: for every (job, entity), the latest feature row by
//! event time, read back with a status per feature.
//!
//! * [`OnlineStore`] is the interface the sinks write to and readers
//!   (`quiver get`, the feature server) read from.
//! * [`EmbeddedStore`] keeps it in a redb file (`embedded://DIR` in
//!   `quiver.yaml`), with each job's latest writes in an append-only log
//!   beside it (`segment_log`) until they are merged; several processes
//!   may open it at once.
//! * [`RedisStore`] keeps it in a Redis server (`redis://HOST:PORT/DB`), one
//!   hash per entity with a field per feature and an event-time field per
//!   job, as Feast lays it out (the [`mod@redis`] module gives the exact bytes).
//! * [`JobMeta`] records each job's entity and feature columns and TTL, so a
//!   reader can decode rows without the job files.
//!
//! Writes never let an older event time replace a newer one, so replaying or
//! re-running a job is harmless. TTL is enforced when reading: a row older
//! than `now - ttl` reads as [`FeatureStatus::OutsideMaxAge`].

pub mod batch;
mod codec;
mod embedded;
mod meta;
pub mod redis;
mod resp;
mod segment_log;

pub use self::redis::RedisStore;
pub use batch::RowBatch;
pub use codec::{ColumnEncoder, decode_key, encode_key, encode_key_into};
pub use embedded::EmbeddedStore;
pub use meta::JobMeta;

use quiver_types::Value;

/// The key of an entity: one value per entity column.
pub type EntityKey = Vec<Value>;

/// One stored row: the values of a job's feature columns at an event time.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRow {
    /// The row's event time (ms).
    pub event_time: i64,
    /// Feature values, in the job's feature-column order.
    pub values: Vec<Value>,
}

/// The state of one feature of one entity, as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureStatus {
    /// A value within its TTL.
    Present,
    /// The row exists and is fresh, but this feature is NULL.
    NullValue,
    /// No row for this entity.
    NotFound,
    /// The row is older than the job's TTL.
    OutsideMaxAge,
}

impl FeatureStatus {
    /// The name used in responses (as Feast spells it).
    pub fn name(self) -> &'static str {
        match self {
            FeatureStatus::Present => "PRESENT",
            FeatureStatus::NullValue => "NULL_VALUE",
            FeatureStatus::NotFound => "NOT_FOUND",
            FeatureStatus::OutsideMaxAge => "OUTSIDE_MAX_AGE",
        }
    }
}

/// What a read returns for one entity.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityRead {
    /// The stored row, if any.
    pub row: Option<FeatureRow>,
    /// One status per feature column.
    pub statuses: Vec<FeatureStatus>,
}

/// Statuses for a row read at `now` under `ttl` (ms), one per feature.
pub fn statuses(
    row: Option<&FeatureRow>,
    features: usize,
    ttl: Option<i64>,
    now: i64,
) -> Vec<FeatureStatus> {
    match row {
        None => vec![FeatureStatus::NotFound; features],
        Some(r) if ttl.is_some_and(|t| now.saturating_sub(r.event_time) > t) => {
            vec![FeatureStatus::OutsideMaxAge; features]
        }
        Some(r) => r
            .values
            .iter()
            .map(|v| {
                if v.is_null() {
                    FeatureStatus::NullValue
                } else {
                    FeatureStatus::Present
                }
            })
            .collect(),
    }
}

/// Errors of the online store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing store failed.
    #[error("online store: {0}")]
    Backend(String),
    /// A job was never written to this store.
    #[error("job `{0}` is not in the online store")]
    UnknownJob(String),
    /// Stored bytes could not be decoded.
    #[error("online store holds unreadable data: {0}")]
    Corrupt(String),
}

/// Where feature rows live.
pub trait OnlineStore: Send + Sync {
    /// Records (or updates) a job's metadata.
    fn register(&self, meta: &JobMeta) -> Result<(), StoreError>;
    /// The metadata of a job.
    fn job(&self, name: &str) -> Result<Option<JobMeta>, StoreError>;
    /// All jobs with metadata, by name.
    fn jobs(&self) -> Result<Vec<JobMeta>, StoreError>;
    /// Writes rows; a row replaces the stored one only if its event time is
    /// not older.
    fn write(&self, job: &str, rows: &[(EntityKey, FeatureRow)]) -> Result<(), StoreError>;
    /// Writes encoded rows, the same way: per key the latest row of the
    /// batch (which holds one per key), which replaces the stored one only
    /// if its event time is not older. A store may reorder or compact the batch.
    fn write_batch(&self, job: &str, rows: &mut RowBatch) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write(job, &rows.decode()?)
    }
    /// Makes every write made through this handle that returned so far
    /// durable (a store may make a write visible before it is durable). A
    /// live run calls this before it checkpoints its sources. Redis keeps
    /// its own persistence policy.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Reads entities' rows with statuses at time `now` (ms), together
    /// with the job metadata they were read under: a reader maps feature
    /// names to positions with that metadata, never with a copy it holds,
    /// so a job registered again with other columns is never misread.
    fn read_job(
        &self,
        job: &str,
        keys: &[EntityKey],
        now: i64,
    ) -> Result<(JobMeta, Vec<EntityRead>), StoreError>;
    /// Reads entities' rows with statuses at time `now` (ms).
    fn read(&self, job: &str, keys: &[EntityKey], now: i64) -> Result<Vec<EntityRead>, StoreError> {
        self.read_job(job, keys, now).map(|(_, rows)| rows)
    }
}
