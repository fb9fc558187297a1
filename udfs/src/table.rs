//! Table functions, called in FROM: `FROM s, LATERAL TABLE(f(...)) AS
//! t(col)`. Each gives zero or more rows per input row.
//!
//! * `OutlierMad(values, times, window_start, window_minutes,
//!   observation_minutes, tolerance, percentage)`: Dagger's outlier test
//!   of a window's series by the double median absolute deviation (see
//!   [`outlier_mad`]): one row per point of the last `observation_minutes`
//!   of the window, in time order, with its bounds and whether the window
//!   counts as an outlier. Where Quiver differs from Dagger: pairs with a
//!   NULL value or time are left out, arrays of different lengths give no
//!   row (Dagger fails or drops the extra values), and points with equal
//!   times keep their array order (Dagger's comparator overflows on times
//!   more than 24 days apart).
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

use arrow::array::{BooleanBuilder, Float64Builder, StringBuilder, TimestampMillisecondBuilder};
use quiver_sql::{ArgInfo, ColumnarValue, FunctionError, TableFunction, TableRows};
use quiver_types::{DataType, Value};

use crate::args::{arity, floats, strs, want, want_int, want_number, want_string};
use crate::array::{number, series, want_array};
use quiver_types::ElementType;

/// Every built-in table function.
pub(crate) fn functions() -> Vec<Arc<dyn TableFunction>> {
    vec![Arc::new(HistogramBucket), Arc::new(OutlierMad)]
}

/// Signatures for the reference, by name.
pub(crate) fn signatures() -> &'static [(&'static str, &'static str)] {
    &[
        (
            "HistogramBucket",
            "LATERAL TABLE(HistogramBucket(value DOUBLE, buckets VARCHAR)) AS t(bucket VARCHAR)",
        ),
        (
            "OutlierMad",
            "LATERAL TABLE(OutlierMad(values ARRAY<DOUBLE>, times ARRAY<TIMESTAMP>, window_start TIMESTAMP, window_minutes BIGINT, observation_minutes BIGINT, tolerance DOUBLE, percentage DOUBLE)) AS t(time TIMESTAMP, value DOUBLE, upper_bound DOUBLE, lower_bound DOUBLE, is_outlier BOOLEAN)",
        ),
    ]
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

/// `OutlierMad(values, times, window_start, window_minutes,
/// observation_minutes, tolerance, percentage)`.
#[derive(Debug)]
struct OutlierMad;

impl TableFunction for OutlierMad {
    fn name(&self) -> &str {
        "OutlierMad"
    }

    fn doc(&self) -> &str {
        "Dagger's outlier test by the double median absolute deviation: for a window's series (values and their times, e.g. COLLECT_ARRAY of each over a HOP window), one row per point of the last `observation_minutes` of the window, in time order, with the bounds median ± tolerance × MAD (the MAD of its side of the median) and whether at least `percentage` % of those points lie outside them (the same for every row). No rows for NULL or unequal-length arrays."
    }

    fn columns(&self, args: &[ArgInfo<'_>]) -> Result<Vec<(String, DataType)>, String> {
        arity(args, 7, Some(7))?;
        match want_array(args, 0)? {
            None | Some(ElementType::Int64 | ElementType::Float64) => {}
            Some(e) => {
                return Err(format!(
                    "argument 1 must be ARRAY<DOUBLE> or ARRAY<BIGINT>, found ARRAY<{}>",
                    e.data_type()
                ));
            }
        }
        match want_array(args, 1)? {
            None | Some(ElementType::Timestamp) => {}
            Some(e) => {
                return Err(format!(
                    "argument 2 must be ARRAY<TIMESTAMP>, found ARRAY<{}>",
                    e.data_type()
                ));
            }
        }
        want(args, 2, &[DataType::Timestamp])?;
        want_int(args, 3)?;
        want_int(args, 4)?;
        want_number(args, 5)?;
        want_number(args, 6)?;
        Ok(vec![
            ("time".to_string(), DataType::Timestamp),
            ("value".to_string(), DataType::Float64),
            ("upper_bound".to_string(), DataType::Float64),
            ("lower_bound".to_string(), DataType::Float64),
            ("is_outlier".to_string(), DataType::Bool),
        ])
    }

    fn invoke(&self, args: &[ColumnarValue], num_rows: usize) -> Result<TableRows, FunctionError> {
        let mut rows = Vec::new();
        let mut time = TimestampMillisecondBuilder::new();
        let (mut value, mut upper, mut lower) = (
            Float64Builder::new(),
            Float64Builder::new(),
            Float64Builder::new(),
        );
        let mut flag = BooleanBuilder::new();
        let mut v: Vec<Value> = Vec::with_capacity(args.len());
        for r in 0..num_rows {
            v.clear();
            v.extend(args.iter().map(|a| match a {
                ColumnarValue::Array(a) => Value::from_array(a.as_ref(), r),
                ColumnarValue::Scalar(s) => s.clone(),
            }));
            // Dagger's order: values first, then times.
            let Some((points, start)) = series(&v[1], &v[0], &v[2]) else {
                continue;
            };
            let (Value::Int64(length), Value::Int64(observation)) = (&v[3], &v[4]) else {
                continue;
            };
            let (Some(tolerance), Some(percentage)) = (number(&v[5]), number(&v[6])) else {
                continue;
            };
            let minute = 60_000i64;
            for p in outlier_mad(
                points,
                start,
                length.saturating_mul(minute),
                observation.saturating_mul(minute),
                tolerance,
                percentage,
            ) {
                rows.push(r as u32);
                time.append_value(p.time);
                value.append_value(p.value);
                upper.append_value(p.upper);
                lower.append_value(p.lower);
                flag.append_value(p.outlier);
            }
        }
        Ok(TableRows {
            rows,
            columns: vec![
                Arc::new(time.finish().with_timezone("UTC")),
                Arc::new(value.finish()),
                Arc::new(upper.finish()),
                Arc::new(lower.finish()),
                Arc::new(flag.finish()),
            ],
        })
    }
}

/// One output row of `OutlierMad`.
#[derive(Debug, Clone, PartialEq)]
struct MadRow {
    /// The point's event time (ms).
    time: i64,
    /// Its value.
    value: f64,
    /// `median + tolerance × MAD` of the point's side of the median.
    upper: f64,
    /// `median − tolerance × MAD` of the point's side of the median.
    lower: f64,
    /// Whether the window counts as an outlier (the same for every row).
    outlier: bool,
}

/// The median of `v` (sorted in place); `None` when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n.is_multiple_of(2) {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    } else {
        v[n / 2]
    })
}

/// The median absolute deviation of `v` from its own median; `None` when
/// empty or zero (no outlier can be told apart).
fn mad(v: &[f64]) -> Option<f64> {
    let m = median(&mut v.to_vec())?;
    let mut d: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    median(&mut d).filter(|&d| d != 0.0)
}

/// Dagger's `OutlierMad` over `points` (time, value): the points whose
/// time is in the last `observation` ms of the window `[start, start +
/// length)` are returned in time order, each with the bounds of the
/// double MAD (the MAD of the values at most the median for points at most
/// it, of those at least the median for the others) scaled by
/// `tolerance`; a point is an outlier when it is further than `tolerance`
/// MADs from the median, and every row says whether at least
/// `percentage` % of the returned points are. When either MAD is zero no
/// point is an outlier and each point's bounds are its value, as in
/// Dagger.
fn outlier_mad(
    mut points: Vec<(i64, f64)>,
    start: i64,
    length: i64,
    observation: i64,
    tolerance: f64,
    percentage: f64,
) -> Vec<MadRow> {
    points.sort_by_key(|p| p.0);
    let from = start.saturating_add(length).saturating_sub(observation);
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let Some(m) = median(&mut values.clone()) else {
        return Vec::new();
    };
    let low: Vec<f64> = values.iter().copied().filter(|&v| v <= m).collect();
    let high: Vec<f64> = values.iter().copied().filter(|&v| v >= m).collect();
    let mads = mad(&low).zip(mad(&high));
    let mut rows: Vec<MadRow> = Vec::new();
    let mut outliers = 0usize;
    for &(time, value) in points.iter().filter(|p| p.0 >= from) {
        let (upper, lower) = match mads {
            Some((lo, hi)) => {
                let d = if value <= m { lo } else { hi };
                if (value - m).abs() / d > tolerance {
                    outliers += 1;
                }
                (m + tolerance * d, m - tolerance * d)
            }
            None => (value, value),
        };
        rows.push(MadRow {
            time,
            value,
            upper,
            lower,
            outlier: false,
        });
    }
    let flagged = !rows.is_empty() && outliers as f64 * 100.0 / rows.len() as f64 >= percentage;
    for r in &mut rows {
        r.outlier = flagged;
    }
    rows
}

#[cfg(test)]
mod mad_tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn a_spike_in_the_observation_period_flags_the_window() {
        // 10 minutes of values around 10, then a spike in the last 2.
        let mut points: Vec<(i64, f64)> =
            (0..10).map(|i| (i * MIN, 10.0 + (i % 3) as f64)).collect();
        points.push((10 * MIN, 40.0));
        points.push((11 * MIN, 11.0));
        points.reverse(); // any order in; time order out
        let rows = outlier_mad(points.clone(), 0, 12 * MIN, 2 * MIN, 3.0, 50.0);
        // Median 11. Values at most 11 (10s and 11s) have median 10.5 and
        // MAD 0.5; values at least 11 (11s, 12s and 40) have median 11.5
        // and MAD 0.5. So the bounds are 11 ± 3 × 0.5.
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].time, rows[1].time), (10 * MIN, 11 * MIN));
        assert_eq!((rows[0].upper, rows[0].lower), (12.5, 9.5));
        // 40 is 58 MADs away: one outlier of the two observed points, 50 %.
        assert!(rows.iter().all(|r| r.outlier));
        let strict = outlier_mad(points, 0, 12 * MIN, 2 * MIN, 3.0, 51.0);
        assert!(strict.iter().all(|r| !r.outlier));
    }

    #[test]
    fn a_zero_mad_finds_nothing_and_bounds_are_the_values() {
        let points = vec![(0, 5.0), (MIN, 5.0), (2 * MIN, 9.0)];
        let rows = outlier_mad(points, 0, 3 * MIN, 3 * MIN, 1.0, 10.0);
        assert_eq!(rows.len(), 3);
        assert!(
            rows.iter()
                .all(|r| !r.outlier && r.upper == r.value && r.lower == r.value)
        );
        assert!(outlier_mad(Vec::new(), 0, MIN, MIN, 1.0, 0.0).is_empty());
    }
}
