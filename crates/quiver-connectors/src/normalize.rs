//! Bringing file columns to the declared types, with errors that name the
//! column when the data does not match the job file.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, TimestampMillisecondArray, new_null_array,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    DataType as ArrowType, Schema as ArrowSchema, TimeUnit, TimestampMillisecondType,
};
use quiver_types::{DataType, Schema};

/// Whether a file column of Arrow type `found` can be read as `want`.
pub fn compatible(found: &ArrowType, want: DataType) -> bool {
    use ArrowType as A;
    match found {
        A::Dictionary(_, v) => compatible(v, want),
        A::Null => true,
        _ => match want {
            DataType::Bool => matches!(found, A::Boolean),
            DataType::Int64 => matches!(
                found,
                A::Int8 | A::Int16 | A::Int32 | A::Int64 | A::UInt8 | A::UInt16 | A::UInt32
            ),
            DataType::Float64 => matches!(
                found,
                A::Float16
                    | A::Float32
                    | A::Float64
                    | A::Int8
                    | A::Int16
                    | A::Int32
                    | A::Int64
                    | A::UInt8
                    | A::UInt16
                    | A::UInt32
                    | A::Decimal128(_, _)
                    | A::Decimal256(_, _)
            ),
            DataType::String => matches!(found, A::Utf8 | A::LargeUtf8 | A::Utf8View),
            DataType::Timestamp => matches!(found, A::Timestamp(_, _)),
            DataType::Date => matches!(found, A::Date32 | A::Date64),
            DataType::Bytes => matches!(
                found,
                A::Binary | A::LargeBinary | A::BinaryView | A::FixedSizeBinary(_)
            ),
            DataType::Null => true,
            // Arrays and maps: any list (or map) whose elements (keys and
            // values) read as the declared element types; casting to the
            // declared Arrow type happens in `declared_batch`.
            DataType::List(e) => match found {
                A::List(f) | A::LargeList(f) | A::FixedSizeList(f, _) => {
                    compatible(f.data_type(), e.data_type())
                }
                _ => false,
            },
            DataType::Map(k, v) => match found {
                A::Map(entries, _) => match entries.data_type() {
                    A::Struct(kv) if kv.len() == 2 => {
                        compatible(kv[0].data_type(), k.data_type())
                            && compatible(kv[1].data_type(), v.data_type())
                    }
                    _ => false,
                },
                _ => false,
            },
        },
    }
}

/// Checks the declared columns against a file's schema: every declared
/// column must exist with a compatible type. Returns, per declared column,
/// its position in the file.
pub fn match_schema(
    declared: &Schema,
    file: &ArrowSchema,
    file_name: &str,
) -> Result<Vec<usize>, String> {
    let mut positions = Vec::with_capacity(declared.len());
    for f in &declared.fields {
        let found = file
            .fields()
            .iter()
            .position(|c| c.name() == &f.name)
            .or_else(|| {
                file.fields()
                    .iter()
                    .position(|c| c.name().eq_ignore_ascii_case(&f.name))
            });
        let Some(i) = found else {
            let names: Vec<&str> = file.fields().iter().map(|c| c.name().as_str()).collect();
            return Err(format!(
                "column `{}` is declared in the job but missing from {file_name} (the file has: {})",
                f.name,
                names.join(", ")
            ));
        };
        let t = file.field(i).data_type();
        if !compatible(t, f.data_type) {
            let readable =
                DataType::from_arrow(t).map_or(format!("{t}"), |q| q.spec_name().to_string());
            return Err(format!(
                "column `{}` is {readable} in {file_name} but declared {} in the job; change the declared type to {readable}",
                f.name,
                f.data_type.spec_name()
            ));
        }
        positions.push(i);
    }
    Ok(positions)
}

/// Builds a batch with the declared columns, in order and of the declared
/// types, from `columns` (already in declared order; `None` for columns
/// that were not read, which become all-null).
pub fn declared_batch(
    declared: &Schema,
    columns: Vec<Option<ArrayRef>>,
    rows: usize,
) -> Result<RecordBatch, String> {
    let opts = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(columns.len());
    for (f, c) in declared.fields.iter().zip(columns) {
        let want = f.data_type.to_arrow();
        let col = match c {
            None => new_null_array(&want, rows),
            Some(c) if c.data_type() == &want => c,
            // Arrow stores instants in UTC whatever the zone label, so a
            // millisecond column only needs the `UTC` label.
            Some(c)
                if matches!(
                    c.data_type(),
                    ArrowType::Timestamp(TimeUnit::Millisecond, _)
                ) =>
            {
                let t = c.as_primitive::<TimestampMillisecondType>();
                Arc::new(
                    TimestampMillisecondArray::new(t.values().clone(), t.nulls().cloned())
                        .with_timezone("UTC"),
                ) as ArrayRef
            }
            // Arrays and maps read with unlabeled timestamps inside.
            Some(c) if relabel_utc(&c, &want).is_some() => relabel_utc(&c, &want).unwrap_or(c),
            Some(c) => cast_with_options(&c, &want, &opts).map_err(|e| {
                format!(
                    "column `{}`: cannot read {} as {}: {e}",
                    f.name,
                    c.data_type(),
                    f.data_type.spec_name()
                )
            })?,
        };
        out.push(col);
    }
    RecordBatch::try_new_with_options(
        declared.to_arrow(),
        out,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| e.to_string())
}

/// `c` with its millisecond timestamps (also inside arrays and maps)
/// labeled as in `want`, when that is the only difference: the label is
/// metadata, and Arrow's cast cannot label `UTC` without a time-zone
/// database. `None` when the types differ otherwise.
pub fn relabel_utc(c: &ArrayRef, want: &ArrowType) -> Option<ArrayRef> {
    use arrow::array::{ListArray, MapArray, StructArray};
    match (c.data_type(), want) {
        (a, b) if a == b => Some(c.clone()),
        (
            ArrowType::Timestamp(TimeUnit::Millisecond, _),
            ArrowType::Timestamp(TimeUnit::Millisecond, Some(tz)),
        ) => {
            let t = c.as_primitive::<TimestampMillisecondType>();
            Some(Arc::new(t.clone().with_timezone(tz.clone())))
        }
        (ArrowType::List(_), ArrowType::List(f)) => {
            let l = c.as_list::<i32>();
            let values = relabel_utc(l.values(), f.data_type())?;
            Some(Arc::new(
                ListArray::try_new(f.clone(), l.offsets().clone(), values, l.nulls().cloned())
                    .ok()?,
            ))
        }
        (ArrowType::Map(_, _), ArrowType::Map(f, sorted)) => {
            let m = c.as_map();
            let ArrowType::Struct(kv) = f.data_type() else {
                return None;
            };
            let keys = relabel_utc(m.keys(), kv[0].data_type())?;
            let values = relabel_utc(m.values(), kv[1].data_type())?;
            let entries =
                StructArray::try_new(kv.clone(), vec![keys, values], m.entries().nulls().cloned())
                    .ok()?;
            Some(Arc::new(
                MapArray::try_new(
                    f.clone(),
                    m.offsets().clone(),
                    entries,
                    m.nulls().cloned(),
                    *sorted,
                )
                .ok()?,
            ))
        }
        _ => None,
    }
}

/// The schema a text reader parses with: declared types, but timestamps
/// without a zone label (parsing a named zone needs a time-zone database;
/// RFC 3339 offsets and `Z` are still honored, and values are UTC).
/// Arrays and maps of timestamps read the same way, inside.
pub fn reader_type(t: DataType) -> ArrowType {
    use arrow::datatypes::{Field, Fields};
    let inner =
        |e: quiver_types::ElementType, f: Field| f.with_data_type(reader_type(e.data_type()));
    match t {
        DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Millisecond, None),
        DataType::List(e) => ArrowType::List(Arc::new(inner(e, quiver_types::list_item(e)))),
        DataType::Map(k, v) => {
            let entries = quiver_types::map_entries(k, v);
            let ArrowType::Struct(kv) = entries.data_type() else {
                return t.to_arrow();
            };
            let kv: Fields = vec![
                inner(k, kv[0].as_ref().clone()),
                inner(v, kv[1].as_ref().clone()),
            ]
            .into();
            ArrowType::Map(
                Arc::new(entries.with_data_type(ArrowType::Struct(kv))),
                false,
            )
        }
        other => other.to_arrow(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ListArray, TimestampMillisecondArray};
    use arrow::buffer::OffsetBuffer;
    use quiver_types::{ElementType, Field, Value};

    #[test]
    fn arrays_of_unlabeled_timestamps_take_the_declared_label() {
        // What a JSON reader gives for `array<timestamp>` (see `reader_type`).
        let want = DataType::List(ElementType::Timestamp);
        let ArrowType::List(item) = reader_type(want) else {
            panic!("a list")
        };
        let read: ArrayRef = Arc::new(ListArray::new(
            item,
            OffsetBuffer::from_lengths([2, 0]),
            Arc::new(TimestampMillisecondArray::from(vec![Some(5), None])),
            None,
        ));
        let declared = Schema::new(vec![Field::new("seen", want)]);
        let b = declared_batch(&declared, vec![Some(read)], 2).unwrap();
        assert_eq!(b.column(0).data_type(), &want.to_arrow());
        assert_eq!(
            Value::from_array(b.column(0).as_ref(), 0),
            Value::List(
                ElementType::Timestamp,
                vec![Value::Timestamp(5), Value::Null]
            )
        );
        assert!(compatible(&reader_type(want), want));
        assert!(!compatible(&ArrowType::Utf8, want));
    }
}
