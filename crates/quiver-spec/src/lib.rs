//! Quiver job files: the contract a data scientist writes.
//!
//! A job file is one YAML document holding a SQL query, the sources it
//! reads, metadata about its output features and where results go:
//!
//! ```yaml
//! name: customer_bookings_[window]m
//! params: {window: [1, 10]}
//! sources:
//!   bookings:
//!     schema: {event_time: timestamp, customer_id: int64, amount: float64}
//!     event_time: event_time
//!     watermark_delay: 5s
//!     bounded: {parquet: data/bookings/}
//! sql: |
//!   SELECT customer_id, COUNT(*) AS bookings,
//!          TUMBLE_END(event_time, INTERVAL '[window]' MINUTE) AS window_end
//!   FROM bookings
//!   GROUP BY TUMBLE(event_time, INTERVAL '[window]' MINUTE), customer_id
//! sinks: {online: {ttl: 1d}, historical: {}}
//! ```
//!
//! Loading goes in stages, each in its own module:
//!
//! 1. [`yaml`]: parse with positions (saphyr, a maintained YAML 1.2 parser);
//! 2. [`expand`]: substitute `${ENV}`, then expand `params` into one document
//!    per combination (`[p]`, `[p.key]`, `[p.value]`, `[NAME]`);
//! 3. `load`: decode each document into a [`JobSpec`], reporting unknown
//!    keys, missing keys and wrong types as `file:line:col: message` with a
//!    hint, and duplicate names across all loaded files.
//!
//! Checks that need the SQL (tables that no source defines, features or
//! entity columns the query does not output) happen when `quiver-sql`
//! plans the job. [`DeploymentConfig`] reads `quiver.yaml`.

mod config;
mod decode;
pub mod expand;
mod functions;
mod job;
mod load;
mod postprocessors;
pub mod yaml;

pub use config::{DeploymentConfig, KafkaConfig, OnlineStoreConfig, ServerConfig};
pub use job::*;
pub use load::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_FUTURE, load_file, load_file_with_env, load_paths,
    load_paths_with_env, parse_jobs,
};
pub use postprocessors::{max_parameter, split_pattern};
