//! The `infer` step: an ONNX model run in-process with tract.
//!
//! The model must take one float tensor of shape `[rows, k]` (what
//! scikit-learn models exported with skl2onnx take); the step feeds it the
//! `inputs` columns in order, cast to 32-bit floats, for every row released
//! together (a whole batch per call, which is where the throughput comes
//! from). Each prediction column is a model output of shape `[rows]`, or
//! one column `i` of a `[rows, n]` output (`probabilities[1]`), as DOUBLE
//! for float outputs and BIGINT for integer ones. A row with a NULL input
//! gets NULL predictions (the model never sees it).
//!
//! Everything that can be checked without data is checked when the job is
//! planned: the file, that it parses and optimizes for a symbolic batch
//! size, its input's shape against the number of input columns, and the
//! outputs' names, types and shapes. Models with a ZipMap output (skl2onnx's
//! default for classifiers) are refused with the option that removes it.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType as ArrowType, Float32Type, SchemaRef};
use quiver_types::DataType;
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// One prediction column, resolved against the model.
#[derive(Debug, Clone)]
pub struct OutputColumn {
    /// Which model output.
    pub output: usize,
    /// For a `[rows, n]` output, which column.
    pub index: Option<usize>,
    /// The column's SQL type (DOUBLE or BIGINT).
    pub data_type: DataType,
}

/// A loaded, optimized model.
pub struct OnnxModel {
    plan: Arc<TypedRunnableModel>,
    /// The number of input columns the model takes.
    pub width: usize,
    /// Output names, in the model's order.
    pub outputs: Vec<String>,
    /// Per output: its element type and its rank and fixed trailing width.
    output_facts: Vec<(DatumType, usize, Option<usize>)>,
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxModel")
            .field("width", &self.width)
            .field("outputs", &self.outputs)
            .finish()
    }
}

impl OnnxModel {
    /// Loads and optimizes the model at `path` for a batch of any size.
    pub fn load(path: &Path) -> Result<OnnxModel, String> {
        if !path.is_file() {
            return Err(format!("model file {} does not exist", path.display()));
        }
        let mut model = onnx()
            .model_for_path(path)
            .map_err(|e| format!("cannot read ONNX model {}: {e:#}", path.display()))?;
        let inputs = model.input_outlets().map_err(|e| e.to_string())?.len();
        if inputs != 1 {
            return Err(format!(
                "the model takes {inputs} inputs; Quiver feeds one float tensor of shape [rows, columns]"
            ));
        }
        let fact = model.input_fact(0).map_err(|e| e.to_string())?.clone();
        let width = match fact.shape.dims().nth(1).and_then(|d| d.concretize()) {
            Some(d) if fact.shape.rank().concretize() == Some(2) => d
                .to_i64()
                .ok()
                .map(|w| w as usize)
                .ok_or_else(|| "the model's input width is not a constant".to_string())?,
            _ => {
                return Err(format!(
                    "the model's input has shape {:?}; Quiver feeds [rows, columns]",
                    fact.shape
                ));
            }
        };
        for o in model.output_outlets().map_err(|e| e.to_string())?.to_vec() {
            let op = model.node(o.node).op.name();
            if op.contains("ZipMap") {
                return Err("the model ends in a ZipMap (a list of maps), which Quiver cannot read; export it with skl2onnx's options={id(model): {'zipmap': False}}".to_string());
            }
        }
        let rows = model.sym("rows");
        model
            .set_input_fact(
                0,
                f32::fact([rows.to_dim(), (width as i64).to_dim()]).into(),
            )
            .map_err(|e| e.to_string())?;
        let typed = model
            .into_optimized()
            .map_err(|e| format!("cannot prepare ONNX model {}: {e:#}", path.display()))?;
        let mut outputs = Vec::new();
        let mut output_facts = Vec::new();
        for (i, o) in typed
            .output_outlets()
            .map_err(|e| e.to_string())?
            .iter()
            .enumerate()
        {
            let name = typed
                .outlet_label(*o)
                .map(str::to_string)
                .unwrap_or_else(|| typed.node(o.node).name.clone());
            outputs.push(name);
            let f = typed.output_fact(i).map_err(|e| e.to_string())?;
            let trailing = (f.rank() == 2)
                .then(|| f.shape[1].to_i64().ok().map(|w| w as usize))
                .flatten();
            output_facts.push((f.datum_type, f.rank(), trailing));
        }
        let plan = typed
            .into_runnable()
            .map_err(|e| format!("cannot prepare ONNX model {}: {e:#}", path.display()))?;
        Ok(OnnxModel {
            plan,
            width,
            outputs,
            output_facts,
        })
    }

    /// Resolves `name` or `name[index]` to a prediction column.
    pub fn output_column(&self, name: &str, index: Option<usize>) -> Result<OutputColumn, String> {
        let Some(output) = self.outputs.iter().position(|o| o == name) else {
            return Err(format!(
                "the model has no output `{name}` (outputs: {})",
                self.outputs.join(", ")
            ));
        };
        let (dt, rank, trailing) = self.output_facts[output];
        let data_type = if dt.is_float() {
            DataType::Float64
        } else if dt.is_integer() || dt == DatumType::Bool {
            DataType::Int64
        } else {
            return Err(format!("model output `{name}` holds {dt:?}, not numbers"));
        };
        match (rank, index) {
            (1, None) => {}
            (2, Some(i)) => {
                if let Some(w) = trailing
                    && i >= w
                {
                    return Err(format!(
                        "model output `{name}` has {w} columns; `{name}[{i}]` is out of range (0..{})",
                        w - 1
                    ));
                }
            }
            (2, None) if trailing == Some(1) => {}
            (2, None) => {
                return Err(format!(
                    "model output `{name}` has several columns per row; pick one with `{name}[i]`"
                ));
            }
            (1, Some(_)) => {
                return Err(format!(
                    "model output `{name}` has one value per row; write `{name}` without an index"
                ));
            }
            (r, _) => {
                return Err(format!(
                    "model output `{name}` has rank {r}; Quiver reads outputs of shape [rows] or [rows, n]"
                ));
            }
        }
        Ok(OutputColumn {
            output,
            index,
            data_type,
        })
    }
}

/// A planned `infer` step.
#[derive(Clone)]
pub struct InferStep {
    /// The model, shared by every worker.
    pub model: Arc<OnnxModel>,
    /// Input column indices, in the model's order.
    pub inputs: Vec<usize>,
    /// The prediction columns, appended before `__time`.
    pub outputs: Vec<OutputColumn>,
    /// The step's output schema (with `__time`).
    pub output: SchemaRef,
}

/// The columns `inputs` of `batch` cast to the float type `to`, or an error
/// naming the column that is not a number.
pub(crate) fn number_columns(
    batch: &RecordBatch,
    inputs: &[usize],
    to: &ArrowType,
) -> Result<Vec<ArrayRef>, String> {
    inputs
        .iter()
        .map(|&i| {
            cast(batch.column(i), to).map_err(|e| {
                format!(
                    "infer: column {} cannot be read as a number: {e}",
                    batch.schema().field(i).name()
                )
            })
        })
        .collect()
}

impl InferStep {
    /// Appends predictions for every row of `batch`.
    pub fn apply(&self, batch: &RecordBatch) -> Result<RecordBatch, String> {
        let rows = batch.num_rows();
        let width = self.inputs.len();
        // Inputs as f32, and which rows are complete.
        let cols = number_columns(batch, &self.inputs, &ArrowType::Float32)?;
        let complete: Vec<usize> = (0..rows)
            .filter(|&r| cols.iter().all(|c| c.is_valid(r)))
            .collect();
        let mut data = Vec::with_capacity(complete.len() * width);
        let views: Vec<_> = cols
            .iter()
            .map(|c| c.as_primitive::<Float32Type>())
            .collect();
        for &r in &complete {
            data.extend(views.iter().map(|v| v.value(r)));
        }
        let results = if complete.is_empty() {
            TVec::new()
        } else {
            let input = Tensor::from_shape(&[complete.len(), width], &data)
                .map_err(|e| format!("infer: {e}"))?;
            self.model
                .plan
                .run(tvec![input.into()])
                .map_err(|e| format!("infer: the model failed: {e:#}"))?
        };
        let mut out: Vec<ArrayRef> = batch.columns()[..batch.num_columns() - 1].to_vec();
        for o in &self.outputs {
            out.push(prediction_column(&results, o, &complete, rows)?);
        }
        out.push(batch.column(batch.num_columns() - 1).clone());
        RecordBatch::try_new(self.output.clone(), out).map_err(|e| format!("infer: {e}"))
    }
}

/// Spreads one output's values over the complete rows, NULL elsewhere.
fn prediction_column(
    results: &TVec<TValue>,
    o: &OutputColumn,
    complete: &[usize],
    rows: usize,
) -> Result<ArrayRef, String> {
    let mut values: Vec<Option<f64>> = vec![None; rows];
    if !complete.is_empty() {
        let t = results[o.output]
            .cast_to::<f64>()
            .map_err(|e| format!("infer: {e}"))?;
        let view = t
            .as_ref()
            .to_plain_array_view::<f64>()
            .map_err(|e| format!("infer: {e}"))?;
        for (k, &r) in complete.iter().enumerate() {
            let at = match (o.index, view.ndim()) {
                (Some(i), _) => vec![k, i],
                (None, 2) => vec![k, 0],
                (None, _) => vec![k],
            };
            let v = view.get(at.as_slice()).ok_or_else(|| {
                format!(
                    "infer: the model's output {} has shape {:?}, which has no element {at:?}",
                    o.output,
                    view.shape()
                )
            })?;
            values[r] = Some(*v);
        }
    }
    Ok(match o.data_type {
        DataType::Int64 => Arc::new(
            values
                .into_iter()
                .map(|v| v.map(|v| v as i64))
                .collect::<Int64Array>(),
        ),
        _ => Arc::new(values.into_iter().collect::<Float64Array>()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{Field, Schema};

    fn model_path() -> std::path::PathBuf {
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("../../jobs/models/booking_fraud_lr.onnx")
    }

    /// The probe rows and onnxruntime's answers, written by
    /// `jobs/models/make_booking_fraud_model.py`.
    fn expected() -> Vec<(f64, i64, i64, i64, f64)> {
        let text = std::fs::read_to_string(model_path().with_extension("expected.csv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn predictions_match_onnxruntime() {
        let model = Arc::new(OnnxModel::load(&model_path()).unwrap());
        assert_eq!(model.width, 3);
        assert_eq!(model.outputs, ["label", "probabilities"]);
        let label = model.output_column("label", None).unwrap();
        let p = model.output_column("probabilities", Some(1)).unwrap();
        assert_eq!(label.data_type, DataType::Int64);
        assert_eq!(p.data_type, DataType::Float64);
        let rows = expected();
        // A NULL input row in the middle gets NULL predictions.
        let mut amount: Vec<Option<f64>> = rows.iter().map(|r| Some(r.0)).collect();
        let mut hour: Vec<Option<i64>> = rows.iter().map(|r| Some(r.1)).collect();
        let mut bike: Vec<Option<i64>> = rows.iter().map(|r| Some(r.2)).collect();
        amount.insert(5, Some(1.0));
        hour.insert(5, None);
        bike.insert(5, Some(0));
        let n = amount.len();
        let input = Arc::new(Schema::new(vec![
            Field::new("amount", ArrowType::Float64, true),
            Field::new("hour", ArrowType::Int64, true),
            Field::new("is_bike", ArrowType::Int64, true),
            Field::new("__time", ArrowType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            input,
            vec![
                Arc::new(Float64Array::from(amount)),
                Arc::new(Int64Array::from(hour)),
                Arc::new(Int64Array::from(bike)),
                Arc::new(Int64Array::from(vec![0i64; n])),
            ],
        )
        .unwrap();
        let output = Arc::new(Schema::new(vec![
            Field::new("amount", ArrowType::Float64, true),
            Field::new("hour", ArrowType::Int64, true),
            Field::new("is_bike", ArrowType::Int64, true),
            Field::new("is_fraud", ArrowType::Int64, true),
            Field::new("p_fraud", ArrowType::Float64, true),
            Field::new("__time", ArrowType::Int64, false),
        ]));
        let step = InferStep {
            model,
            inputs: vec![0, 1, 2],
            outputs: vec![label, p],
            output,
        };
        let out = step.apply(&batch).unwrap();
        let labels = out.column(3).as_primitive::<arrow::datatypes::Int64Type>();
        let probs = out
            .column(4)
            .as_primitive::<arrow::datatypes::Float64Type>();
        assert!(labels.is_null(5) && probs.is_null(5));
        let got: Vec<usize> = (0..n).filter(|&i| i != 5).collect();
        for (r, &i) in rows.iter().zip(&got) {
            assert_eq!(labels.value(i), r.3, "label of {r:?}");
            assert!(
                (probs.value(i) - r.4).abs() < 1e-5,
                "P(fraud) of {r:?}: tract {} vs onnxruntime {}",
                probs.value(i),
                r.4
            );
        }
    }

    #[test]
    fn bad_models_and_outputs_are_explained() {
        let e = OnnxModel::load(Path::new("/nonexistent/model.onnx")).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.onnx");
        std::fs::write(&junk, b"not a model").unwrap();
        let e = OnnxModel::load(&junk).unwrap_err();
        assert!(e.contains("cannot read ONNX model"), "{e}");
        let m = OnnxModel::load(&model_path()).unwrap();
        let e = m.output_column("score", None).unwrap_err();
        assert!(
            e.contains("no output `score` (outputs: label, probabilities)"),
            "{e}"
        );
        let e = m.output_column("probabilities", Some(2)).unwrap_err();
        assert!(e.contains("has 2 columns"), "{e}");
        let e = m.output_column("probabilities", None).unwrap_err();
        assert!(e.contains("pick one with `probabilities[i]`"), "{e}");
        let e = m.output_column("label", Some(0)).unwrap_err();
        assert!(e.contains("without an index"), "{e}");
    }
}
