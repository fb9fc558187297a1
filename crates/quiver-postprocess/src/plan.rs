//! Planning a job's post-processors against its query's output, and the
//! PII rule.
//!
//! Each step is checked against the columns the previous step produced:
//! columns exist, types fit the action, the model loads and matches its
//! input columns, new columns do not collide. Then the PII rule: every
//! feature marked `is_pii: true` must leave the chain masked (hashed,
//! encrypted, redacted or truncated, and not decrypted again) unless the
//! job sets `allow_pii: true`; otherwise the job is refused. The same
//! holds where a `filter_invalid` step sends rows to the dead-letter sink,
//! which is a sink too. Errors carry
//! the position of the offending entry and say how to fix it. An `enrich`
//! step's checks (variables, new columns, URLs, paths) live in `enrich/`.
//! An `infer` step with a model `endpoint:` is checked without calling it:
//! inputs, new column names, the URL and headers; its prediction columns
//! are DOUBLE unless the job declares `type: bigint`.

use std::path::Path;
use std::sync::Arc;

use quiver_dataflow::chunk::with_time;
use quiver_spec::{
    DedupSpec, EnrichSpec, FilterInvalidSpec, InferModel, InferSpec, JobSpec, Located, MaskAction,
    MaskSpec, PostprocessorSpec,
};
use quiver_sql::FunctionRegistry;
use quiver_types::{DataType, Diagnostic, Diagnostics, Field, Position, Schema};

use crate::chain::{ChainPlan, StepPlan};
use crate::filter::{Check, FilterStep};
use crate::infer::{InferStep, OnnxModel};
use crate::infer_http::{EndpointOutput, EndpointPlan};
use crate::mask::{ColumnMask, MIN_KEY_BYTES, MaskKeys, MaskStep};

/// A job's post-processing, planned.
pub struct Planned {
    /// The steps (a [`PostprocessFactory`](quiver_dataflow::postprocess::PostprocessFactory)),
    /// `None` when the job has none.
    pub chain: Option<Arc<ChainPlan>>,
    /// The job's output columns after the steps: what the sinks store.
    pub output: Schema,
}

/// Plans `spec`'s post-processors over the query's `output` columns, with
/// `registry`'s functions for the checks of `filter_invalid`.
pub fn plan(
    spec: &JobSpec,
    output: &Schema,
    registry: &dyn FunctionRegistry,
) -> Result<Planned, Diagnostics> {
    let mut errors = Diagnostics::new();
    let mut schema = output.clone();
    // Per column: whether it is masked at this point of the chain.
    let mut masked = vec![false; schema.len()];
    let mut steps = Vec::new();
    let mut partition: Option<Vec<usize>> = None;
    let mut enrich_names: Vec<&str> = Vec::new();
    let mut endpoint_names: Vec<&str> = Vec::new();
    // Where an `enrich` with `ordered: false` is: rows leave it in the
    // order their lookups finish, so no step after it may keep state.
    let mut unordered: Option<&EnrichSpec> = None;
    for p in &spec.postprocessors {
        let step = match p {
            PostprocessorSpec::Mask(m) => mask(m, &mut schema, &mut masked, &mut errors),
            PostprocessorSpec::Dedup(d) => {
                if let Some(e) = unordered {
                    errors.push(
                        Diagnostic::at(d.pos, format!("a dedup cannot follow the enrich step `{}`, which has `ordered: false`", e.name.value))
                            .with_help("move the dedup before that enrich step, or drop `ordered: false`: rows leave an unordered enrich as their lookups finish, so which row of a key came first would depend on network timing"),
                    );
                }
                let step = dedup(d, &schema, output.len(), &mut errors);
                if let Some(StepPlan::Dedup { key, .. }) = &step {
                    partition = Some(match partition.take() {
                        None => key.clone(),
                        // Rows of one key of every dedup must meet on one
                        // worker: partition by the columns all keys share.
                        Some(prev) => prev.into_iter().filter(|k| key.contains(k)).collect(),
                    });
                    if partition.as_ref().is_some_and(Vec::is_empty) {
                        errors.push(
                            Diagnostic::at(d.pos, "this dedup shares no key column with an earlier dedup")
                                .with_help("dedup steps of one job must have a key column in common (rows are spread over workers by it)"),
                        );
                    }
                }
                step
            }
            PostprocessorSpec::Infer(i) => {
                if let InferModel::Endpoint(e) = &i.model {
                    if endpoint_names.contains(&e.name.value.as_str()) {
                        errors.push(
                            Diagnostic::at(e.name.pos, format!("two infer steps are named `{}`", e.name.value))
                                .with_help("give each infer step with an `endpoint` its own `name:` (it labels the step's metrics)"),
                        );
                    }
                    endpoint_names.push(&e.name.value);
                }
                infer(i, &spec.name.value, &mut schema, &mut masked, &mut errors)
            }
            PostprocessorSpec::Enrich(e) => {
                if enrich_names.contains(&e.name.value.as_str()) {
                    errors.push(
                        Diagnostic::at(e.name.pos, format!("two enrich steps are named `{}`", e.name.value))
                            .with_help("give each enrich step of a job its own `name:` (it labels the step's metrics)"),
                    );
                }
                enrich_names.push(&e.name.value);
                if !e.ordered {
                    if let Some(first) = unordered {
                        errors.push(
                            Diagnostic::at(e.pos, format!("only one enrich step of a job may have `ordered: false`; `{}` already has it", first.name.value))
                                .with_help("drop `ordered: false` from one of them, or look both values up in one step"),
                        );
                    }
                    unordered.get_or_insert(e);
                }
                crate::enrich::plan(e, &spec.name.value, &mut schema, &mut masked, &mut errors)
                    .map(StepPlan::Enrich)
            }
            PostprocessorSpec::FilterInvalid(f) => {
                filter_invalid(f, spec, &schema, &masked, registry, &mut errors)
            }
        };
        steps.extend(step);
    }
    check_pii(spec, &schema, &masked, &mut errors);
    if !errors.is_empty() {
        return Err(errors.in_file(&spec.file).sorted());
    }
    Ok(Planned {
        chain: (!steps.is_empty()).then(|| Arc::new(ChainPlan { steps, partition })),
        output: schema,
    })
}

/// The column `c` names, or an error listing the columns.
pub(crate) fn column(
    schema: &Schema,
    c: &Located<String>,
    what: &str,
    errors: &mut Diagnostics,
) -> Option<usize> {
    let i = schema.index_of(&c.value);
    if i.is_none() {
        let names = schema.names();
        let close = names
            .iter()
            .map(|n| {
                (
                    strsim::damerau_levenshtein(
                        &c.value.to_ascii_lowercase(),
                        &n.to_ascii_lowercase(),
                    ),
                    *n,
                )
            })
            .filter(|(d, n)| *d <= 2.max(n.len() / 3))
            .min_by_key(|(d, _)| *d);
        let help = match close {
            Some((_, s)) => format!("did you mean `{s}`? (columns here: {})", names.join(", ")),
            None => format!("columns here: {}", names.join(", ")),
        };
        errors.push(
            Diagnostic::at(
                c.pos,
                format!("{what} `{}` is not an output column", c.value),
            )
            .with_help(help),
        );
    }
    i
}

fn mask(
    m: &MaskSpec,
    schema: &mut Schema,
    masked: &mut [bool],
    errors: &mut Diagnostics,
) -> Option<StepPlan> {
    let needs_key = m.columns.iter().any(|c| {
        matches!(
            c.action,
            MaskAction::Hash | MaskAction::Encrypt | MaskAction::Decrypt
        )
    });
    let keys = match (&m.key, needs_key) {
        (Some(k), _) if k.value.len() < MIN_KEY_BYTES => {
            errors.push(
                Diagnostic::at(
                    k.pos,
                    format!(
                        "the mask key is {} bytes; it must be at least {MIN_KEY_BYTES}",
                        k.value.len()
                    ),
                )
                .with_help(
                    "use 32 random bytes, e.g. export QUIVER_MASK_KEY=$(openssl rand -hex 32)",
                ),
            );
            None
        }
        (Some(k), _) => Some(Arc::new(MaskKeys::derive(k.value.as_bytes()))),
        (None, true) => {
            errors.push(
                Diagnostic::at(m.pos, "hash, encrypt and decrypt need a key")
                    .with_help("add `key: ${QUIVER_MASK_KEY}` to the mask step (quoted inside {...}) and export QUIVER_MASK_KEY"),
            );
            None
        }
        (None, false) => None,
    };
    let before = schema.clone();
    let mut columns = Vec::new();
    for c in &m.columns {
        let Some(index) = column(&before, &c.column, "masked column", errors) else {
            continue;
        };
        if columns.iter().any(|x: &ColumnMask| x.index == index) {
            errors.push(Diagnostic::at(
                c.column.pos,
                format!("column `{}` is masked twice in one step", c.column.value),
            ));
            continue;
        }
        let ty = before.fields[index].data_type;
        let result = match c.action {
            MaskAction::Redact => ty,
            MaskAction::Hash | MaskAction::Encrypt => DataType::String,
            MaskAction::Truncate(_) | MaskAction::Decrypt if ty == DataType::String => {
                DataType::String
            }
            MaskAction::Truncate(_) | MaskAction::Decrypt => {
                let what = if c.action == MaskAction::Decrypt {
                    "decrypt"
                } else {
                    "truncate"
                };
                errors.push(
                    Diagnostic::at(
                        c.column.pos,
                        format!(
                            "`{what}` needs a VARCHAR column; `{}` is {}",
                            c.column.value,
                            ty.sql_name()
                        ),
                    )
                    .with_help("hash, encrypt and redact take any type"),
                );
                continue;
            }
        };
        schema.fields[index] = Field::new(before.fields[index].name.clone(), result);
        masked[index] = c.action.hides();
        columns.push(ColumnMask {
            index,
            action: c.action,
        });
    }
    Some(StepPlan::Mask(MaskStep {
        keys,
        columns,
        output: with_time(schema),
    }))
}

fn dedup(
    d: &DedupSpec,
    schema: &Schema,
    query_width: usize,
    errors: &mut Diagnostics,
) -> Option<StepPlan> {
    let mut key = Vec::new();
    for c in &d.key {
        let i = column(schema, c, "dedup key", errors)?;
        if i >= query_width {
            errors.push(
                Diagnostic::at(
                    c.pos,
                    format!(
                        "dedup key `{}` is a prediction added by an earlier infer step",
                        c.value
                    ),
                )
                .with_help("dedup on columns of the query, before the infer step"),
            );
            return None;
        }
        key.push(i);
    }
    let types = key
        .iter()
        .map(|&i| schema.fields[i].data_type.to_arrow())
        .collect();
    Some(StepPlan::Dedup {
        key,
        types,
        ttl: d.ttl,
    })
}

fn infer(
    i: &InferSpec,
    job: &str,
    schema: &mut Schema,
    masked: &mut Vec<bool>,
    errors: &mut Diagnostics,
) -> Option<StepPlan> {
    let before = errors.0.len();
    let mut inputs = Vec::new();
    for c in &i.inputs {
        let Some(ix) = column(schema, c, "model input", errors) else {
            continue;
        };
        let ty = schema.fields[ix].data_type;
        if !matches!(ty, DataType::Int64 | DataType::Float64 | DataType::Bool) {
            errors.push(
                Diagnostic::at(c.pos, format!("model input `{}` is {}, not a number", c.value, ty.sql_name()))
                    .with_help("feed the model BIGINT, DOUBLE or BOOLEAN columns; compute numbers in the SQL (e.g. CASE WHEN ... THEN 1 ELSE 0 END)"),
            );
            continue;
        }
        inputs.push(ix);
    }
    for (k, o) in i.outputs.iter().enumerate() {
        if schema.index_of(&o.column.value).is_some()
            || i.outputs[..k]
                .iter()
                .any(|p| p.column.value == o.column.value)
        {
            errors.push(
                Diagnostic::at(
                    o.column.pos,
                    format!("prediction column `{}` already exists", o.column.value),
                )
                .with_help("give the prediction another name"),
            );
        }
    }
    match &i.model {
        InferModel::Onnx(path) => onnx(i, path, inputs, before, schema, masked, errors),
        InferModel::Endpoint(e) => {
            let url = match reqwest::Url::parse(&e.url.value) {
                Ok(u) => Some(u),
                Err(err) => {
                    errors.push(
                        Diagnostic::at(
                            e.url.pos,
                            format!("the `endpoint` of `infer` is not a valid URL: {err}"),
                        )
                        .with_help(
                            "endpoint: \"http://models.internal:8080/v2/models/fraud/infer\"",
                        ),
                    );
                    None
                }
            };
            let headers = crate::enrich::http::header_map(&e.headers, errors);
            if errors.0.len() > before {
                return None;
            }
            let mut outputs = Vec::new();
            for o in &i.outputs {
                let data_type = o.data_type.as_ref().map_or(DataType::Float64, |t| t.value);
                schema
                    .fields
                    .push(Field::new(o.column.value.clone(), data_type));
                masked.push(false);
                outputs.push(EndpointOutput {
                    column: o.column.value.clone(),
                    tensor: o.tensor.clone(),
                    index: o.index,
                    data_type,
                });
            }
            Some(StepPlan::InferEndpoint(Arc::new(EndpointPlan::new(
                job,
                e,
                url?,
                headers,
                inputs,
                outputs,
                with_time(schema),
            ))))
        }
    }
}

/// The ONNX form of `infer`: the model is loaded and checked against the
/// inputs and outputs.
fn onnx(
    i: &InferSpec,
    path: &Located<String>,
    inputs: Vec<usize>,
    before: usize,
    schema: &mut Schema,
    masked: &mut Vec<bool>,
    errors: &mut Diagnostics,
) -> Option<StepPlan> {
    let model = match OnnxModel::load(Path::new(&path.value)) {
        Ok(m) => Arc::new(m),
        Err(e) => {
            errors.push(
                Diagnostic::at(path.pos, e)
                    .with_help("`onnx:` names a model file, relative to the job file"),
            );
            return None;
        }
    };
    if i.inputs.len() != model.width {
        errors.push(
            Diagnostic::at(
                i.pos,
                format!(
                    "the model takes {} input columns, and `inputs` names {}",
                    model.width,
                    i.inputs.len()
                ),
            )
            .with_help("list the columns in the order the model was trained on"),
        );
        return None;
    }
    let mut outputs = Vec::new();
    for o in &i.outputs {
        match model.output_column(&o.tensor, o.index) {
            Ok(col) => {
                if let Some(t) = &o.data_type
                    && t.value != col.data_type
                {
                    errors.push(
                        Diagnostic::at(
                            t.pos,
                            format!(
                                "model output `{}` gives {}, not {}",
                                o.tensor,
                                col.data_type.sql_name(),
                                t.value.sql_name()
                            ),
                        )
                        .with_help("an ONNX model's output types are known: remove `type`"),
                    );
                }
                outputs.push(col);
            }
            Err(e) => errors.push(Diagnostic::at(o.column.pos, e)),
        }
    }
    if errors.0.len() > before {
        return None;
    }
    for (o, col) in i.outputs.iter().zip(&outputs) {
        schema
            .fields
            .push(Field::new(o.column.value.clone(), col.data_type));
        masked.push(false);
    }
    Some(StepPlan::Infer(InferStep {
        model,
        inputs,
        outputs,
        output: with_time(schema),
    }))
}

/// Every `is_pii` feature must leave the chain masked, unless allowed.
fn filter_invalid(
    f: &FilterInvalidSpec,
    spec: &JobSpec,
    schema: &Schema,
    masked: &[bool],
    registry: &dyn FunctionRegistry,
    errors: &mut Diagnostics,
) -> Option<StepPlan> {
    let before = errors.0.len();
    if spec.sinks.dead_letter.is_none() {
        errors.push(
            Diagnostic::at(f.pos, "`filter_invalid` sends refused rows to the dead-letter sink, but the job has none")
                .with_help("add one under sinks:\n  sinks:\n    dead_letter: {ndjson: dead/refused.ndjson}   # or {kafka: TOPIC}"),
        );
    }
    // Refused rows leave through the dead-letter sink as they are here.
    if !spec.allow_pii {
        for feat in spec.features.iter().filter(|x| x.is_pii) {
            if schema
                .index_of(&feat.column.value)
                .is_some_and(|i| !masked[i])
            {
                errors.push(
                    Diagnostic::at(f.pos, format!("`filter_invalid` would send feature `{}` (marked is_pii) to the dead-letter sink unmasked", feat.column.value))
                        .with_help("put the `mask` step before `filter_invalid`, or set `allow_pii: true` if that is intended"),
                );
            }
        }
    }
    let mut checks: Vec<Check> = Vec::new();
    for c in &f.checks {
        if checks.iter().any(|x| *x.name == *c.name.value) {
            errors.push(Diagnostic::at(
                c.name.pos,
                format!("two checks are named `{}`", c.name.value),
            ));
            continue;
        }
        let what = format!("check `{}`", c.name.value);
        match quiver_sql::bind_row_condition(c.sql.as_str(), schema, registry, &what) {
            Ok(condition) => checks.push(Check {
                name: c.name.value.as_str().into(),
                condition,
            }),
            Err(e) => errors.push(e.to_diagnostic(&c.sql, c.name.pos)),
        }
    }
    (errors.0.len() == before).then_some(StepPlan::Filter(FilterStep { checks }))
}

fn check_pii(spec: &JobSpec, schema: &Schema, masked: &[bool], errors: &mut Diagnostics) {
    if spec.allow_pii {
        return;
    }
    for f in spec.features.iter().filter(|f| f.is_pii) {
        let Some(i) = schema.index_of(&f.column.value) else {
            continue; // reported by the planner
        };
        if !masked[i] {
            errors.push(pii_error(f.column.pos, &f.column.value));
        }
    }
}

fn pii_error(pos: Position, col: &str) -> Diagnostic {
    Diagnostic::at(pos, format!("feature `{col}` is marked is_pii but reaches the sinks unmasked"))
        .with_help(format!(
            "mask it first:\n  postprocessors:\n    - mask:\n        key: ${{QUIVER_MASK_KEY}}\n        columns: {{{col}: hash}}\nor, if storing it in clear is intended, set `allow_pii: true` on the job"
        ))
}
