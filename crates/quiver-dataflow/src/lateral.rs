//! The rows of a table function (`LATERAL TABLE(f(args))`), batch by
//! batch: each input row repeated once per row the function makes of it,
//! followed by the function's columns, with the input row's event time.
//! An outer call keeps a row the function makes nothing of, once, with
//! NULLs in the function's columns.

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use quiver_sql::{ColumnarValue, ScalarExpr, TableCall};

use crate::error::DataflowError;
use crate::eval::evaluate;

/// The output of `call` over `batch` (its columns followed by `__time`).
pub fn lateral(
    batch: &RecordBatch,
    call: &TableCall,
    outer: bool,
    schema: &SchemaRef,
) -> Result<RecordBatch, DataflowError> {
    let n = batch.num_rows();
    let args = call
        .args
        .iter()
        .map(|a| match a {
            // Constants (bucket lists, window lengths) arrive as scalars.
            ScalarExpr::Literal(v, _) => Ok(ColumnarValue::Scalar(v.clone())),
            e => Ok(ColumnarValue::Array(evaluate(e, batch)?)),
        })
        .collect::<Result<Vec<_>, DataflowError>>()?;
    let made = call.func.invoke(&args, n)?;
    let name = call.func.name();
    let width = batch.num_columns() - 1;
    let expected = schema.fields().len() - 1 - width;
    if made.columns.len() != expected
        || made.columns.iter().any(|c| c.len() != made.rows.len())
        || made.rows.windows(2).any(|w| w[0] > w[1])
        || made.rows.last().is_some_and(|&r| r as usize >= n)
    {
        return Err(DataflowError::Internal(format!(
            "table function {name} returned malformed rows"
        )));
    }
    // Which input row, and which function row (None: NULLs), per output row.
    let (inputs, produced): (UInt32Array, Option<UInt32Array>) = if outer {
        let mut inputs = Vec::with_capacity(made.rows.len() + n);
        let mut produced = Vec::with_capacity(made.rows.len() + n);
        let mut k = 0;
        for r in 0..n as u32 {
            let start = k;
            while k < made.rows.len() && made.rows[k] == r {
                inputs.push(r);
                produced.push(Some(k as u32));
                k += 1;
            }
            if k == start {
                inputs.push(r);
                produced.push(None);
            }
        }
        (inputs.into(), Some(produced.into()))
    } else {
        (made.rows.into(), None)
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for c in &batch.columns()[..width] {
        columns.push(take(c.as_ref(), &inputs, None)?);
    }
    for c in made.columns {
        columns.push(match &produced {
            Some(p) => take(c.as_ref(), p, None)?,
            None => c,
        });
    }
    columns.push(take(batch.column(width).as_ref(), &inputs, None)?);
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
