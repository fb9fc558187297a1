//! Types shared by every Quiver crate.
//!
//! Quiver moves data as Arrow record batches; this crate names the small set
//! of logical types a job file may declare and maps them to Arrow:
//!
//! | job file    | SQL       | Arrow                          |
//! |-------------|-----------|--------------------------------|
//! | `bool`      | BOOLEAN   | `Boolean`                      |
//! | `int64`     | BIGINT    | `Int64`                        |
//! | `float64`   | DOUBLE    | `Float64`                      |
//! | `string`    | VARCHAR   | `Utf8`                         |
//! | `timestamp` | TIMESTAMP | `Timestamp(Millisecond, UTC)`  |
//! | `date`      | DATE      | `Date32`                       |
//! | `bytes`     | BYTES     | `Binary`                       |
//! | `array<t>`  | ARRAY<T>  | `List` of `t`                  |
//! | `map<k,v>`  | MAP<K, V> | `Map` of `k` to `v`            |
//!
//! * [`DataType`], [`Field`] and [`Schema`] describe columns.
//! * [`Value`] is one scalar (a SQL literal, a feature value read back from
//!   the online store).
//! * [`time`] holds event-time helpers: Quiver's event time is milliseconds
//!   since the Unix epoch, UTC ([`EventTime`]); durations such as `5s` or
//!   `1d` parse with [`time::parse_duration`].
//! * [`Diagnostic`] is an error meant for a person: `file:line:col: message`
//!   plus a hint on how to fix it. [`MappedText`] carries a string derived
//!   from a file (SQL after parameter expansion) together with the positions
//!   its characters came from, so errors found later still point into the file.

mod data_type;
mod diagnostic;
mod mapped_text;
mod schema;
pub mod time;
mod value;

pub use data_type::{DataType, ElementType, list_item, map_entries};
pub use diagnostic::{Diagnostic, Diagnostics, Position};
pub use mapped_text::MappedText;
pub use schema::{Field, Schema};
pub use time::EventTime;
pub use value::Value;
