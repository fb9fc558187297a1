//! The `filter_invalid` step: named SQL checks over each row; a row for
//! which a check is FALSE leaves the output and is handed out as
//! [`Rejected`], named by the first check it fails, for the dead-letter
//! sink. A check that is NULL passes (SQL CHECK semantics), so `amount > 0`
//! lets a NULL amount through and `amount IS NOT NULL AND amount > 0` does
//! not.
//!
//! Decoding failures never get this far: a live run dead-letters an event
//! it cannot decode, type or time at the source. This step is for rows
//! that decode but are wrong for the job, and it sees them as the query
//! produced them (after any earlier step, so a `mask` before it keeps PII
//! out of the dead letters).

use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use quiver_dataflow::eval::evaluate;
use quiver_dataflow::postprocess::Rejected;
use quiver_sql::ScalarExpr;

/// One bound check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Its name.
    pub name: Arc<str>,
    /// A BOOLEAN expression over the step's input columns.
    pub condition: ScalarExpr,
}

/// A planned `filter_invalid` step.
#[derive(Debug, Clone)]
pub struct FilterStep {
    /// The checks, in the order written.
    pub checks: Vec<Check>,
}

impl FilterStep {
    /// Splits `batch` into the rows that pass every check and those that
    /// fail one (with the name of the first they fail), both in order.
    pub fn apply(&self, batch: &RecordBatch) -> Result<(RecordBatch, Option<Rejected>), String> {
        let n = batch.num_rows();
        // Per row: the index of the first failed check.
        let mut failed: Vec<Option<usize>> = vec![None; n];
        let mut any = false;
        for (c, check) in self.checks.iter().enumerate() {
            let result = evaluate(&check.condition, batch)
                .map_err(|e| format!("filter_invalid check `{}`: {e}", check.name))?;
            // Planning binds checks as BOOLEAN; say so rather than panic.
            let result = result
                .as_boolean_opt()
                .ok_or_else(|| format!("filter_invalid check `{}` is not BOOLEAN", check.name))?;
            for (i, f) in failed.iter_mut().enumerate() {
                if f.is_none() && result.is_valid(i) && !result.value(i) {
                    *f = Some(c);
                    any = true;
                }
            }
        }
        if !any {
            return Ok((batch.clone(), None));
        }
        let pass: BooleanArray = failed.iter().map(|f| Some(f.is_none())).collect();
        let fail = arrow::compute::not(&pass).map_err(|e| e.to_string())?;
        let kept = filter_record_batch(batch, &pass).map_err(|e| e.to_string())?;
        let rows = filter_record_batch(batch, &fail).map_err(|e| e.to_string())?;
        let reasons = failed
            .iter()
            .flatten()
            .map(|&c| self.checks[c].name.clone())
            .collect();
        Ok((kept, Some(Rejected { rows, reasons })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType as ArrowType, Field, Schema};
    use quiver_types::{DataType, Field as QField, Schema as QSchema};

    fn step(checks: &[(&str, &str)], schema: &QSchema) -> FilterStep {
        let registry = quiver_sql::Registry::new();
        FilterStep {
            checks: checks
                .iter()
                .map(|(name, sql)| Check {
                    name: Arc::from(*name),
                    condition: quiver_sql::bind_row_condition(sql, schema, &registry, name)
                        .unwrap(),
                })
                .collect(),
        }
    }

    #[test]
    fn rows_failing_a_check_are_refused_with_its_name_and_null_passes() {
        let schema = QSchema::new(vec![
            QField::new("amount", DataType::Int64),
            QField::new("country", DataType::String),
        ]);
        let s = step(
            &[
                ("positive_amount", "amount > 0"),
                ("known_country", "country IN ('ID', 'SG')"),
            ],
            &schema,
        );
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("amount", ArrowType::Int64, true),
                Field::new("country", ArrowType::Utf8, true),
                Field::new("__time", ArrowType::Int64, false),
            ])),
            vec![
                Arc::new(Int64Array::from(vec![
                    Some(5),
                    Some(-1),
                    None,
                    Some(-2),
                    Some(7),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("ID"),
                    Some("ID"),
                    Some("XX"),
                    Some("XX"),
                    None,
                ])),
                Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])),
            ],
        )
        .unwrap();
        let (kept, rejected) = s.apply(&batch).unwrap();
        let times = |b: &RecordBatch| -> Vec<i64> {
            b.column(2)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        };
        // Row 5: country NULL, so `IN` is NULL and passes.
        assert_eq!(times(&kept), vec![1, 5]);
        let rejected = rejected.unwrap();
        assert_eq!(times(&rejected.rows), vec![2, 3, 4]);
        let reasons: Vec<&str> = rejected.reasons.iter().map(|r| &**r).collect();
        // Row 4 fails both; the first check written names it.
        assert_eq!(
            reasons,
            vec!["positive_amount", "known_country", "positive_amount"]
        );
    }
}
