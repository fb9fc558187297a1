//! The unit of data in the dataflow: an Arrow record batch.
//!
//! Every chunk's last column is `__time`, the event time of each row in
//! milliseconds (`Int64`). A chunk travels at a timely timestamp no later
//! than any of its rows' event times, so when the frontier passes `t`, no
//! row with an event time below `t` is still in flight.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Name of the hidden event-time column.
pub const TIME_COLUMN: &str = "__time";

/// A batch of rows with their event times (see the module docs).
#[derive(Debug, Clone)]
pub struct Chunk(pub RecordBatch);

impl Chunk {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.0.num_rows()
    }

    /// True when the chunk has no rows.
    pub fn is_empty(&self) -> bool {
        self.0.num_rows() == 0
    }
}

/// The physical schema of a relation: its columns plus `__time`.
pub fn with_time(schema: &quiver_types::Schema) -> SchemaRef {
    let mut fields: Vec<Field> = schema
        .fields
        .iter()
        .map(|f| Field::new(&f.name, f.data_type.to_arrow(), true))
        .collect();
    fields.push(Field::new(TIME_COLUMN, ArrowType::Int64, false));
    Arc::new(Schema::new(fields))
}

/// Chunks cross process boundaries (timely's cluster mode) as Arrow IPC
/// streams; threads of one process pass them by pointer and never serialize.
impl Serialize for Chunk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = Vec::new();
        {
            let mut w = StreamWriter::try_new(&mut buf, &self.0.schema())
                .map_err(serde::ser::Error::custom)?;
            w.write(&self.0).map_err(serde::ser::Error::custom)?;
            w.finish().map_err(serde::ser::Error::custom)?;
        }
        s.serialize_bytes(&buf)
    }
}

impl<'de> Deserialize<'de> for Chunk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Chunk, D::Error> {
        let bytes: Vec<u8> = Deserialize::deserialize(d)?;
        let mut r =
            StreamReader::try_new(std::io::Cursor::new(bytes), None).map_err(D::Error::custom)?;
        match r.next() {
            Some(Ok(b)) => Ok(Chunk(b)),
            Some(Err(e)) => Err(D::Error::custom(e)),
            None => Err(D::Error::custom("empty chunk")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    #[test]
    fn round_trips_through_bincode_style_serde() {
        let schema = with_time(&quiver_types::Schema::new(vec![quiver_types::Field::new(
            "x",
            quiver_types::DataType::Int64,
        )]));
        let b = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(Int64Array::from(vec![10, 20])),
            ],
        )
        .unwrap();
        let json = serde_json::to_vec(&Chunk(b.clone())).unwrap();
        let back: Chunk = serde_json::from_slice(&json).unwrap();
        assert_eq!(back.0, b);
    }
}
