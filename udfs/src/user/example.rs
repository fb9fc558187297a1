//! Worked examples of user functions written with [`scalar_udf!`]; copy
//! this file to start your own. Each is registered in
//! [`super::functions`].
//!
//! [`scalar_udf!`]: crate::scalar_udf

crate::scalar_udf! {
    /// `email` with all but the first character of its local part masked
    /// (`jane.doe@example.com` → `j*******@example.com`); NULL when it has
    /// no `@` or nothing before it.
    ///
    /// Counts characters, not bytes, so non-ASCII names are masked whole.
    pub fn mask_email(email: &str) -> Option<String> {
        let (local, domain) = email.split_once('@')?;
        let mut chars = local.chars();
        let first = chars.next()?;
        let masked: String = std::iter::repeat_n('*', chars.count()).collect();
        Some(format!("{first}{masked}@{domain}"))
    }
}

crate::scalar_udf! {
    /// `x` limited to the range [`lo`, `hi`]; NULL when `lo` > `hi` or any
    /// argument is NaN.
    pub fn clamp(x: f64, lo: f64, hi: f64) -> Option<f64> {
        if x.is_nan() || lo.is_nan() || hi.is_nan() || lo > hi {
            return None;
        }
        Some(x.clamp(lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use quiver_sql::{ColumnarValue, ScalarFunction};
    use quiver_types::{DataType, Value};

    use super::*;
    use crate::args::testing::*;

    #[test]
    fn the_rust_functions_work_alone() {
        assert_eq!(
            mask_email("jane.doe@example.com").as_deref(),
            Some("j*******@example.com")
        );
        assert_eq!(mask_email("é@x.org").as_deref(), Some("é@x.org"));
        assert_eq!(mask_email("øyvind@x.no").as_deref(), Some("ø*****@x.no"));
        assert_eq!(mask_email("nobody"), None);
        assert_eq!(mask_email("@x.org"), None);
        assert_eq!(clamp(5.0, 0.0, 1.0), Some(1.0));
        assert_eq!(clamp(0.5, 1.0, 0.0), None);
    }

    #[test]
    fn registered_and_vectorised() {
        // Through the public registry, as the planner finds them.
        let out = call(
            "MASK_EMAIL",
            &[strings(&[Some("ab@c.d"), None, Some("no-at-sign")])],
        );
        assert_eq!(out, vec![s("a*@c.d"), Value::Null, Value::Null]);
        // A BIGINT column is read as DOUBLE; NULL anywhere gives NULL.
        let out = call(
            "CLAMP",
            &[
                ColumnarValue::Array(Arc::new(Int64Array::from(vec![
                    Some(-5),
                    Some(5),
                    Some(50),
                    None,
                ]))),
                lit(Value::Float64(0.0)),
                float_col(&[Some(10.0), Some(10.0), Some(10.0), Some(10.0)]),
            ],
        );
        assert_eq!(
            out,
            vec![
                Value::Float64(0.0),
                Value::Float64(5.0),
                Value::Float64(10.0),
                Value::Null
            ]
        );
        assert_eq!(
            call(
                "CLAMP",
                &[
                    lit(Value::Float64(1.0)),
                    lit(Value::Null),
                    lit(Value::Float64(2.0))
                ]
            ),
            vec![Value::Null]
        );
    }

    #[test]
    fn signatures_are_checked_at_plan_time() {
        assert_eq!(
            type_error(
                "CLAMP",
                &[
                    ty(DataType::Float64),
                    ty(DataType::String),
                    ty(DataType::Float64)
                ]
            ),
            "argument 2 must be BIGINT or DOUBLE, found VARCHAR"
        );
        assert_eq!(
            type_error("MASK_EMAIL", &[ty(DataType::String), ty(DataType::String)]),
            "takes 1 argument, found 2"
        );
        let f = clamp::udf();
        assert_eq!(f.signature(), "CLAMP(x, lo, hi)");
        assert_eq!(
            f.doc(),
            "`x` limited to the range [`lo`, `hi`]; NULL when `lo` > `hi` or any argument is NaN."
        );
        assert_eq!(
            f.return_type(&[
                ty(DataType::Int64),
                ty(DataType::Null),
                ty(DataType::Float64)
            ]),
            Ok(DataType::Float64)
        );
    }

    crate::scalar_udf! {
        /// Panics on purpose.
        fn explode(x: i64) -> i64 {
            if x > 1 {
                panic!("boom at {x}");
            }
            x
        }
    }

    crate::scalar_udf! {
        /// Not negative.
        fn non_negative(x: f64, strict: bool) -> bool {
            if strict { x > 0.0 } else { x >= 0.0 }
        }
    }

    #[test]
    fn a_panic_fails_the_batch_not_the_process() {
        let f = explode::udf();
        let ok = f
            .invoke(&[ColumnarValue::Scalar(Value::Int64(1))], 2)
            .unwrap();
        assert_eq!(ok.len(), 2);
        let err = f
            .invoke(
                &[ColumnarValue::Array(Arc::new(Int64Array::from(vec![1, 2])))],
                2,
            )
            .unwrap_err();
        assert_eq!(err.to_string(), "EXPLODE: panicked: boom at 2");
    }

    #[test]
    fn boolean_arguments_and_results() {
        let f = non_negative::udf();
        assert_eq!(
            f.return_type(&[ty(DataType::Float64), ty(DataType::Bool)]),
            Ok(DataType::Bool)
        );
        let out = f
            .invoke(
                &[
                    float_col(&[Some(0.0), Some(0.0), Some(-1.0)]),
                    ColumnarValue::Array(Arc::new(arrow::array::BooleanArray::from(vec![
                        Some(true),
                        Some(false),
                        None,
                    ]))),
                ],
                3,
            )
            .unwrap();
        let got: Vec<Value> = (0..3).map(|i| Value::from_array(out.as_ref(), i)).collect();
        assert_eq!(
            got,
            vec![Value::Bool(false), Value::Bool(true), Value::Null]
        );
    }
}
