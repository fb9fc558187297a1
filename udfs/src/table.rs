//! Table functions, called in FROM: `FROM s, LATERAL TABLE(f(...)) AS
//! t(col)`. Each gives zero or more rows per input row.
//!
//! * `HistogramBucket(value, buckets)`: Dagger's cumulative-histogram
//!   buckets (as Telegraf's histogram aggregator and Prometheus' `le`
//!   label): one row `+Inf`, then one row per upper bound in the
//!   comma-separated `buckets` that `value` is at most, in the list's
//!   order. Counting rows per bucket then gives a cumulative histogram.
//!   Where Quiver differs from Dagger: a NULL value gives no row (Dagger
//!   fails); bounds are trimmed of spaces, and a bound that is not a
//!   number is an error when `buckets` is a constant (checked at plan
//!   time) and never matches when it comes from a column (Dagger fails).

use std::sync::Arc;

use arrow::array::StringBuilder;
use quiver_sql::{ArgInfo, ColumnarValue, FunctionError, TableFunction, TableRows};
use quiver_types::{DataType, Value};

use crate::args::{arity, floats, strs, want_number, want_string};

/// Every built-in table function.
pub(crate) fn functions() -> Vec<Arc<dyn TableFunction>> {
    vec![Arc::new(HistogramBucket)]
}

/// Signatures for the reference, by name.
pub(crate) fn signatures() -> &'static [(&'static str, &'static str)] {
    &[(
        "HistogramBucket",
        "LATERAL TABLE(HistogramBucket(value DOUBLE, buckets VARCHAR)) AS t(bucket VARCHAR)",
    )]
}

/// `HistogramBucket(value, 'b1,b2,...')`.
#[derive(Debug)]
struct HistogramBucket;

/// The bounds of a bucket list: their text (trimmed) and value, or the
/// first entry that is not a number.
fn bounds(list: &str) -> Result<Vec<(&str, f64)>, &str> {
    list.split(',')
        .map(str::trim)
        .map(|b| b.parse::<f64>().map(|v| (b, v)).map_err(|_| b))
        .collect()
}

impl TableFunction for HistogramBucket {
    fn name(&self) -> &str {
        "HistogramBucket"
    }

    fn doc(&self) -> &str {
        "Cumulative histogram buckets of a value (Dagger): a row `+Inf`, then a row for each upper bound in the comma-separated list that the value is at most, in the list's order. A NULL value gives no row."
    }

    fn columns(&self, args: &[ArgInfo<'_>]) -> Result<Vec<(String, DataType)>, String> {
        arity(args, 2, Some(2))?;
        want_number(args, 0)?;
        want_string(args, 1)?;
        if let Some(Value::String(list)) = args[1].literal {
            bounds(list).map_err(|bad| {
                format!("argument 2 must list numbers separated by commas; `{bad}` is not a number")
            })?;
        }
        Ok(vec![("bucket".to_string(), DataType::String)])
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<TableRows, FunctionError> {
        let fail = |message: String| FunctionError {
            function: self.name().to_string(),
            message,
        };
        let values = floats(args, 0).map_err(fail)?;
        let lists = strs(args, 1).map_err(fail)?;
        let mut rows = Vec::new();
        let mut out = StringBuilder::new();
        // A constant list is parsed once.
        let constant: Option<Vec<(&str, f64)>> = match &lists {
            crate::args::Str::Scalar(Some(l)) => Some(bounds(l).unwrap_or_default()),
            _ => None,
        };
        for r in 0..num_rows {
            let Some(v) = values.get(r) else { continue };
            let parsed;
            let list = match &constant {
                Some(c) => c,
                None => {
                    let Some(l) = lists.get(r) else { continue };
                    parsed = l
                        .split(',')
                        .map(str::trim)
                        .filter_map(|b| b.parse::<f64>().ok().map(|x| (b, x)))
                        .collect::<Vec<_>>();
                    &parsed
                }
            };
            rows.push(r as u32);
            out.append_value("+Inf");
            for (text, bound) in list {
                if v <= *bound {
                    rows.push(r as u32);
                    out.append_value(text);
                }
            }
        }
        Ok(TableRows {
            rows,
            columns: vec![Arc::new(out.finish())],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, Float64Array};

    fn run(values: Vec<Option<f64>>, list: &str) -> Vec<(u32, String)> {
        let n = values.len();
        let out = HistogramBucket
            .invoke(
                &[
                    ColumnarValue::Array(Arc::new(Float64Array::from(values))),
                    ColumnarValue::Scalar(Value::String(list.into())),
                ],
                n,
            )
            .unwrap();
        let col = out.columns[0].as_string::<i32>();
        out.rows
            .iter()
            .enumerate()
            .map(|(i, r)| (*r, col.value(i).to_string()))
            .collect()
    }

    #[test]
    fn buckets_are_the_bounds_a_value_is_at_most() {
        let got = run(vec![Some(4.0), None, Some(100.0), Some(0.5)], "1, 5,10");
        let want: Vec<(u32, String)> = [
            (0, "+Inf"),
            (0, "5"),
            (0, "10"),
            (2, "+Inf"),
            (3, "+Inf"),
            (3, "1"),
            (3, "5"),
            (3, "10"),
        ]
        .into_iter()
        .map(|(r, b)| (r, b.to_string()))
        .collect();
        assert_eq!(got, want);
        // NaN is at most nothing.
        assert_eq!(
            run(vec![Some(f64::NAN)], "1"),
            vec![(0, "+Inf".to_string())]
        );
    }

    #[test]
    fn a_constant_list_is_checked_at_plan_time() {
        let list = Value::String("1,x,3".into());
        let args = [
            ArgInfo {
                data_type: DataType::Float64,
                literal: None,
            },
            ArgInfo {
                data_type: DataType::String,
                literal: Some(&list),
            },
        ];
        assert_eq!(
            HistogramBucket.columns(&args).unwrap_err(),
            "argument 2 must list numbers separated by commas; `x` is not a number"
        );
        assert!(
            HistogramBucket
                .columns(&args[..1])
                .unwrap_err()
                .contains("takes 2 arguments")
        );
    }
}
