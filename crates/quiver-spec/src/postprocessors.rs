//! Decoding a job's `postprocessors:` list.
//!
//! ```yaml
//! postprocessors:
//!   - mask:
//!       key: ${QUIVER_MASK_KEY}     # must be an environment reference
//!       columns: {email: hash, card: encrypt, name: redact, phone: {truncate: 4}}
//!   - dedup: {key: [order_id], ttl: 10m}
//!   - infer:
//!       onnx: models/fraud_lr.onnx
//!       inputs: [amount, hour]
//!       outputs: {fraud_score: "probabilities[1]"}
//!   - infer:
//!       endpoint: http://models.internal:8080/v2/models/fraud/infer
//!       protocol: kserve_v2          # or json
//!       inputs: [amount, hour]
//!       outputs: {fraud_score: "probabilities[1]", fraud_label: {output: label, type: bigint}}
//!       batch_size: 256
//!       timeout: 500ms
//!   - enrich:
//!       redis: {url: "${REDIS_URL}", command: hgetall, key: "customer:%s", variables: [customer_id]}
//!       outputs: {segment: segment, tier: {path: tier, type: bigint}}
//!       capacity: 32
//!       timeout: 200ms
//!       retries: 2
//!       cache_ttl: 1m
//!       fail_on_errors: false
//!       ordered: false               # a row leaves as soon as its lookup is done
//!   - filter_invalid:
//!       checks:
//!         positive_amount: amount > 0
//!         known_country: country IN ('ID', 'SG')
//! ```
//!
//! Only the shape of each entry is checked here; whether the columns exist,
//! their types, the model and the PII rules are checked when the job is
//! planned, against the query's output.

use std::path::Path;

use quiver_types::{DataType, Diagnostic, Diagnostics, Position};

use crate::decode::{self, Fields};
use crate::job::*;
use crate::yaml::{Node, NodeKind};

const KINDS: &[&str] = &["mask", "dedup", "infer", "enrich", "filter_invalid"];
const FILTER_KEYS: &[&str] = &["checks"];
const MASK_KEYS: &[&str] = &["key", "columns"];
const DEDUP_KEYS: &[&str] = &["key", "ttl"];
/// The keys of `infer` for every model (followed by [`ENDPOINT_KEYS`]).
const MODEL_KEYS: &[&str] = &["onnx", "endpoint", "inputs", "outputs"];
/// The keys of `infer` that only a model endpoint takes.
const ENDPOINT_KEYS: &[&str] = &[
    "name",
    "protocol",
    "input_name",
    "headers",
    "batch_size",
    "capacity",
    "timeout",
    "retries",
    "backoff",
    "fail_on_errors",
];
const INFER_OUTPUT_KEYS: &[&str] = &["output", "type"];
const ENRICH_KEYS: &[&str] = &[
    "name",
    "http",
    "redis",
    "postgres",
    "outputs",
    "capacity",
    "timeout",
    "retries",
    "backoff",
    "cache_ttl",
    "cache_size",
    "fail_on_errors",
    "ordered",
];
const HTTP_KEYS: &[&str] = &["url", "method", "body", "variables", "headers"];
const REDIS_KEYS: &[&str] = &["url", "command", "key", "variables"];
const POSTGRES_KEYS: &[&str] = &["url", "query", "params"];
const OUTPUT_KEYS: &[&str] = &["path", "type"];

/// Decodes the `postprocessors:` list.
pub(crate) fn decode(node: &Node, dir: &Path, errors: &mut Diagnostics) -> Vec<PostprocessorSpec> {
    let NodeKind::Seq(items) = &node.kind else {
        errors.push(
            Diagnostic::at(
                node.pos,
                format!(
                    "`postprocessors` must be a list, found {}",
                    node.kind_name()
                ),
            )
            .with_help("postprocessors:\n  - dedup: {key: [order_id], ttl: 10m}"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let entries = item.as_map().unwrap_or_default();
        let [(k, v)] = entries else {
            errors.push(
                Diagnostic::at(
                    item.pos,
                    "each post-processor is a mapping with one key: mask, dedup, infer, enrich or filter_invalid",
                )
                .with_help("write `- dedup: {key: [order_id], ttl: 10m}`"),
            );
            continue;
        };
        let kind = k.as_str().unwrap_or("");
        let step = match kind {
            "mask" => mask(v, errors).map(PostprocessorSpec::Mask),
            "dedup" => dedup(v, errors).map(PostprocessorSpec::Dedup),
            "infer" => infer(v, dir, errors).map(PostprocessorSpec::Infer),
            "enrich" => enrich(v, errors).map(PostprocessorSpec::Enrich),
            "filter_invalid" => filter_invalid(v, errors).map(PostprocessorSpec::FilterInvalid),
            _ => {
                let mut d = Diagnostic::at(k.pos, format!("unknown post-processor `{kind}`"));
                d = match decode::suggest(kind, KINDS) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("post-processors: {}", KINDS.join(", "))),
                };
                errors.push(d);
                None
            }
        };
        out.extend(step);
    }
    out
}

fn mask(node: &Node, errors: &mut Diagnostics) -> Option<MaskSpec> {
    let f = Fields::of(node, "`mask`", MASK_KEYS, errors)?;
    let key = f.get("key").and_then(|n| {
        decode::string(n, "`key` of `mask`", errors).map(|t| Located::new(t.into_string(), n.pos))
    });
    let cols = f.required(
        "columns",
        "`columns: {email: hash, card: encrypt, name: redact, phone: {truncate: 4}}`",
        errors,
    )?;
    let Some(entries) = cols.as_map() else {
        errors.push(Diagnostic::at(
            cols.pos,
            format!(
                "`columns` of `mask` must map columns to actions, found {}",
                cols.kind_name()
            ),
        ));
        return None;
    };
    let mut columns = Vec::new();
    for (ck, cv) in entries {
        let Some(col) = ck.as_str() else {
            errors.push(Diagnostic::at(ck.pos, "column names must be strings"));
            continue;
        };
        if let Some(action) = mask_action(col, cv, errors) {
            columns.push(MaskColumn {
                column: Located::new(col.to_string(), ck.pos),
                action,
            });
        }
    }
    Some(MaskSpec {
        key,
        columns,
        pos: node.pos,
    })
}

fn mask_action(col: &str, node: &Node, errors: &mut Diagnostics) -> Option<MaskAction> {
    let unknown = |word: &str, errors: &mut Diagnostics| {
        let mut d = Diagnostic::at(
            node.pos,
            format!("unknown mask action `{word}` for column `{col}`"),
        );
        d = match decode::suggest(word, MaskAction::NAMES) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help(
                "actions: hash, encrypt, decrypt, redact, or {truncate: N} (keep N characters)",
            ),
        };
        errors.push(d);
        None
    };
    if let Some(word) = node.as_str() {
        return match word {
            "hash" => Some(MaskAction::Hash),
            "encrypt" => Some(MaskAction::Encrypt),
            "decrypt" => Some(MaskAction::Decrypt),
            "redact" => Some(MaskAction::Redact),
            "truncate" => {
                errors.push(
                    Diagnostic::at(
                        node.pos,
                        "`truncate` needs the number of characters to keep",
                    )
                    .with_help(format!("write `{col}: {{truncate: 4}}`")),
                );
                None
            }
            other => unknown(other, errors),
        };
    }
    match node.as_map() {
        Some([(k, v)]) if k.as_str() == Some("truncate") => match v.kind {
            NodeKind::Int(n) if n >= 0 => Some(MaskAction::Truncate(n as usize)),
            _ => {
                errors.push(Diagnostic::at(
                    v.pos,
                    format!(
                        "`truncate` must be a number of characters (0 or more), found {}",
                        v.kind_name()
                    ),
                ));
                None
            }
        },
        Some([(k, _)]) => unknown(k.as_str().unwrap_or(""), errors),
        _ => {
            errors.push(
                Diagnostic::at(
                    node.pos,
                    format!(
                        "the mask action of `{col}` must be a word or {{truncate: N}}, found {}",
                        node.kind_name()
                    ),
                )
                .with_help("actions: hash, encrypt, decrypt, redact, {truncate: N}"),
            );
            None
        }
    }
}

fn filter_invalid(node: &Node, errors: &mut Diagnostics) -> Option<FilterInvalidSpec> {
    let example =
        "`checks: {positive_amount: amount > 0}` (a name, then a SQL condition rows must meet)";
    let f = Fields::of(node, "`filter_invalid`", FILTER_KEYS, errors)?;
    let checks = f.required("checks", example, errors)?;
    let Some(entries) = checks.as_map() else {
        errors.push(
            Diagnostic::at(
                checks.pos,
                format!(
                    "`checks` of `filter_invalid` must map names to SQL conditions, found {}",
                    checks.kind_name()
                ),
            )
            .with_help(format!("write {example}")),
        );
        return None;
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let Some(name) = k.as_str() else {
            errors.push(Diagnostic::at(k.pos, "check names must be strings"));
            continue;
        };
        if let Some(sql) = decode::string(v, &format!("check `{name}`"), errors) {
            out.push(CheckSpec {
                name: Located::new(name.to_string(), k.pos),
                sql,
            });
        }
    }
    if entries.is_empty() {
        errors.push(
            Diagnostic::at(checks.pos, "`checks` of `filter_invalid` is empty")
                .with_help(format!("write {example}")),
        );
        return None;
    }
    Some(FilterInvalidSpec {
        checks: out,
        pos: node.pos,
    })
}

fn dedup(node: &Node, errors: &mut Diagnostics) -> Option<DedupSpec> {
    let f = Fields::of(node, "`dedup`", DEDUP_KEYS, errors)?;
    let key: Vec<_> = f
        .required("key", "`key: [order_id]`", errors)
        .map(|n| decode::string_list(n, "`key` of `dedup`", errors))
        .unwrap_or_default()
        .into_iter()
        .map(|(s, p)| Located::new(s, p))
        .collect();
    let ttl = f
        .required("ttl", "`ttl: 10m` (how long a key is remembered)", errors)
        .and_then(|n| decode::duration(n, "`ttl` of `dedup`", errors))?;
    if ttl <= 0 {
        errors.push(Diagnostic::at(
            f.key_pos("ttl").unwrap_or(node.pos),
            "`ttl` of `dedup` must be positive",
        ));
        return None;
    }
    if key.is_empty() {
        errors.push(Diagnostic::at(node.pos, "`key` of `dedup` names no column"));
        return None;
    }
    Some(DedupSpec {
        key,
        ttl,
        pos: node.pos,
    })
}

fn infer(node: &Node, dir: &Path, errors: &mut Diagnostics) -> Option<InferSpec> {
    let keys: Vec<&str> = MODEL_KEYS.iter().chain(ENDPOINT_KEYS).copied().collect();
    let f = Fields::of(node, "`infer`", &keys, errors)?;
    let before = errors.0.len();
    let model = match (f.get("onnx"), f.get("endpoint")) {
        (Some(n), None) => {
            // Settings of an endpoint mean the author expected one.
            for key in ENDPOINT_KEYS {
                if let Some(p) = f.key_pos(key) {
                    errors.push(
                        Diagnostic::at(p, format!("`{key}` applies to a model `endpoint:`, not to an `onnx:` model"))
                            .with_help("an ONNX model runs in-process, on every released batch at once; remove the key"),
                    );
                }
            }
            decode::path(n, "`onnx`", dir, errors).map(|p| InferModel::Onnx(Located::new(p, n.pos)))
        }
        (None, Some(_)) => endpoint(&f, errors).map(InferModel::Endpoint),
        (Some(_), Some(_)) => {
            errors.push(
                Diagnostic::at(
                    f.key_pos("endpoint").unwrap_or(node.pos),
                    "one `infer` step has one model: this one names both `onnx` and `endpoint`",
                )
                .with_help("write one `- infer:` step per model"),
            );
            None
        }
        (None, None) => {
            errors.push(
                Diagnostic::at(node.pos, "`infer` names no model")
                    .with_help("add `onnx: models/model.onnx` (run in-process) or `endpoint: http://host/v2/models/NAME/infer` (a model server)"),
            );
            None
        }
    };
    let inputs: Vec<_> = f
        .required("inputs", "`inputs: [amount, hour]`", errors)
        .map(|n| decode::string_list(n, "`inputs` of `infer`", errors))
        .unwrap_or_default()
        .into_iter()
        .map(|(s, p)| Located::new(s, p))
        .collect();
    let outputs = infer_outputs(&f, errors);
    if inputs.is_empty() && f.get("inputs").is_some() {
        errors.push(Diagnostic::at(
            node.pos,
            "`inputs` of `infer` names no column",
        ));
    }
    if errors.0.len() > before {
        return None;
    }
    Some(InferSpec {
        model: model?,
        inputs,
        outputs,
        pos: node.pos,
    })
}

/// The settings of a model `endpoint:`.
fn endpoint(f: &Fields<'_>, errors: &mut Diagnostics) -> Option<InferEndpoint> {
    let example = "endpoint: \"http://models.internal:8080/v2/models/fraud/infer\"";
    let url = located_string(f, "endpoint", "`endpoint` of `infer`", example, errors);
    if let Some(u) = &url {
        check_http_url(u, "the `endpoint` of `infer`", example, errors);
    }
    let protocol = match f.get("protocol") {
        None => Some(InferProtocol::KserveV2),
        Some(n) => decode::string(n, "`protocol` of `infer`", errors).and_then(|p| {
            match p.as_str().to_ascii_lowercase().as_str() {
                "kserve_v2" | "kserve" | "v2" | "open_inference" => Some(InferProtocol::KserveV2),
                "json" => Some(InferProtocol::Json),
                other => {
                    errors.push(
                        Diagnostic::at(n.pos, format!("unknown model protocol `{other}`"))
                            .with_help("protocols: kserve_v2 (the Open Inference Protocol: {\"inputs\": [tensor]} -> {\"outputs\": [tensors]}), json ({\"instances\": [[..]]} -> {\"predictions\": [..]})"),
                    );
                    None
                }
            }
        }),
    };
    let input_name = match f.get("input_name") {
        None => Some("input".to_string()),
        Some(n) => decode::string(n, "`input_name` of `infer`", errors).map(|t| t.into_string()),
    };
    if let (Some(InferProtocol::Json), Some(p)) = (protocol, f.key_pos("input_name")) {
        errors.push(
            Diagnostic::at(p, "`input_name` names a KServe v2 input tensor; the `json` protocol sends `instances`")
                .with_help("remove `input_name`, or use `protocol: kserve_v2`"),
        );
    }
    let name = match f.get("name") {
        Some(n) => decode::string(n, "`name` of `infer`", errors)
            .map(|t| Located::new(t.into_string(), n.pos)),
        None => Some(Located::new("infer".to_string(), f.pos)),
    };
    Some(InferEndpoint {
        name: name?,
        url: url?,
        protocol: protocol?,
        input_name: input_name?,
        headers: headers(f, "`infer`", errors),
        batch_size: number(f, "infer", "batch_size", (1, 1_000_000), 256, errors) as usize,
        capacity: number(f, "infer", "capacity", (1, 1024), 4, errors) as usize,
        timeout: duration(f, "infer", "timeout", false, errors).unwrap_or(1000),
        retries: number(f, "infer", "retries", (0, 10), 2, errors) as u32,
        backoff: duration(f, "infer", "backoff", true, errors).unwrap_or(50),
        fail_on_errors: f
            .get("fail_on_errors")
            .and_then(|n| decode::boolean(n, "`fail_on_errors` of `infer`", errors))
            .unwrap_or(false),
    })
}

/// `outputs: {column: "output[i]", column: {output: name, type: bigint}}`.
fn infer_outputs(f: &Fields<'_>, errors: &mut Diagnostics) -> Vec<InferOutput> {
    let mut out = Vec::new();
    for (col, k, v) in output_entries(
        f,
        "`outputs` of `infer` must map new columns to model outputs",
        "`outputs: {score: \"probabilities[1]\"}` (new column: model output)",
        "outputs: {fraud_score: \"probabilities[1]\", fraud_label: {output: label, type: bigint}}",
        errors,
    ) {
        let Some((reference, data_type)) = output_value(
            v,
            OutputForm {
                what: "an `infer` output",
                keys: INFER_OUTPUT_KEYS,
                example: "`output: probabilities[1]`",
                typed: "a prediction",
                types: &[DataType::Int64, DataType::Float64],
                types_help: "types: double (float outputs), bigint (integer outputs such as class labels)",
            },
            errors,
        ) else {
            continue;
        };
        let Some(text) = decode::string(reference, "a model output name", errors) else {
            continue;
        };
        match parse_tensor_ref(text.as_str()) {
            Some((tensor, index)) => out.push(InferOutput {
                column: Located::new(col.to_string(), k.pos),
                tensor,
                index,
                data_type,
            }),
            None => errors.push(
                Diagnostic::at(
                    reference.pos,
                    format!("`{}` is not a model output reference", text.as_str()),
                )
                .with_help("write the output's name, or name[i] for column i of a 2-D output"),
            ),
        }
    }
    out
}

fn enrich(node: &Node, errors: &mut Diagnostics) -> Option<EnrichSpec> {
    let f = Fields::of(node, "`enrich`", ENRICH_KEYS, errors)?;
    let before = errors.0.len();
    let sources: Vec<&str> = ["http", "redis", "postgres"]
        .into_iter()
        .filter(|k| f.get(k).is_some())
        .collect();
    let source = match sources.as_slice() {
        [] => {
            errors.push(
                Diagnostic::at(node.pos, "`enrich` names no source").with_help(
                    "add one of `http: {url: ...}`, `redis: {url: ...}`, `postgres: {url: ...}`",
                ),
            );
            None
        }
        [kind] => {
            let n = f.get(kind)?;
            match *kind {
                "http" => http_lookup(n, errors).map(EnrichSource::Http),
                "redis" => redis_lookup(n, errors).map(EnrichSource::Redis),
                _ => postgres_lookup(n, errors).map(EnrichSource::Postgres),
            }
        }
        more => {
            errors.push(
                Diagnostic::at(
                    f.key_pos(more[1]).unwrap_or(node.pos),
                    format!(
                        "one `enrich` step has one source; this one names {}",
                        more.join(" and ")
                    ),
                )
                .with_help("write one `- enrich:` step per source"),
            );
            None
        }
    };
    let name = match f.get("name") {
        Some(n) => decode::string(n, "`name` of `enrich`", errors)
            .map(|t| Located::new(t.into_string(), n.pos)),
        None => source
            .as_ref()
            .map(|s| Located::new(s.kind().to_string(), node.pos)),
    };
    let outputs = enrich_outputs(&f, errors);
    let capacity = number(&f, "enrich", "capacity", (1, 1024), 16, errors) as usize;
    let retries = number(&f, "enrich", "retries", (0, 10), 2, errors) as u32;
    let cache_size = number(
        &f,
        "enrich",
        "cache_size",
        (1, 100_000_000),
        100_000,
        errors,
    ) as usize;
    let timeout = duration(&f, "enrich", "timeout", false, errors).unwrap_or(1000);
    let backoff = duration(&f, "enrich", "backoff", true, errors).unwrap_or(50);
    let cache_ttl = duration(&f, "enrich", "cache_ttl", false, errors);
    let fail_on_errors = f
        .get("fail_on_errors")
        .and_then(|n| decode::boolean(n, "`fail_on_errors` of `enrich`", errors))
        .unwrap_or(false);
    let ordered = f
        .get("ordered")
        .and_then(|n| decode::boolean(n, "`ordered` of `enrich`", errors))
        .unwrap_or(true);
    if errors.0.len() > before {
        return None;
    }
    Some(EnrichSpec {
        name: name?,
        source: source?,
        outputs,
        capacity,
        timeout,
        retries,
        backoff,
        cache_ttl,
        cache_size,
        fail_on_errors,
        ordered,
        pos: node.pos,
    })
}

fn enrich_outputs(f: &Fields<'_>, errors: &mut Diagnostics) -> Vec<EnrichOutput> {
    let mut out = Vec::new();
    for (col, k, v) in output_entries(
        f,
        "`outputs` of `enrich` must map new columns to paths in the answer",
        "`outputs: {segment: segment, tier: {path: $.tier, type: bigint}}` (new column: where its value is)",
        "outputs: {segment: segment, tier: {path: $.tier, type: bigint}}",
        errors,
    ) {
        let Some((path, data_type)) = output_value(
            v,
            OutputForm {
                what: "an `enrich` output",
                keys: OUTPUT_KEYS,
                example: "`path: $.tier`",
                typed: "an `enrich` output",
                types: &[
                    DataType::String,
                    DataType::Int64,
                    DataType::Float64,
                    DataType::Bool,
                ],
                types_help: "types: string, bigint, double, boolean",
            },
            errors,
        ) else {
            continue;
        };
        let data_type = data_type.map_or(DataType::String, |t| t.value);
        let Some(text) = decode::string(path, "an `enrich` output path", errors) else {
            continue;
        };
        if text.as_str().trim().is_empty() {
            errors.push(
                Diagnostic::at(path.pos, format!("the path of `{col}` is empty"))
                    .with_help("write a field name (`tier`) or a JSONPath (`$.customer.tier`)"),
            );
            continue;
        }
        out.push(EnrichOutput {
            column: Located::new(col.to_string(), k.pos),
            path: Located::new(text.as_str().trim().to_string(), path.pos),
            data_type,
        });
    }
    out
}

/// How one step's `outputs:` values are written: a reference alone, or a
/// mapping of `keys` (the reference's key first, then `type`).
struct OutputForm<'s> {
    /// The value, in messages (`an \`infer\` output`).
    what: &'s str,
    /// The long form's keys: the reference's, then `type`.
    keys: &'s [&'s str],
    /// The long form's reference, as an example for a missing one.
    example: &'s str,
    /// What carries the type, in the message for a wrong one.
    typed: &'s str,
    /// The types `type:` may name.
    types: &'s [DataType],
    /// Lists them, for a wrong one.
    types_help: &'s str,
}

/// An `outputs:` value: its reference node and its declared type, if any;
/// `None` (reported) when the long form is wrong.
fn output_value<'a>(
    v: &'a Node,
    form: OutputForm<'static>,
    errors: &mut Diagnostics,
) -> Option<(&'a Node, Option<Located<DataType>>)> {
    if v.as_map().is_none() {
        return Some((v, None));
    }
    let g = Fields::of(v, form.what, form.keys, errors)?;
    let reference = g.required(form.keys[0], form.example, errors)?;
    let Some(t) = g.get("type") else {
        return Some((reference, None));
    };
    let name = decode::string(t, &format!("`type` of {}", form.what), errors)?;
    match DataType::parse_spec(&name.as_str().to_ascii_lowercase()) {
        Some(ty) if form.types.contains(&ty) => Some((reference, Some(Located::new(ty, t.pos)))),
        _ => {
            errors.push(
                Diagnostic::at(
                    t.pos,
                    format!("`{}` is not a type {} can have", name.as_str(), form.typed),
                )
                .with_help(form.types_help),
            );
            None
        }
    }
}

/// The entries of a step's required `outputs:` mapping: each new column's
/// name, its key node and its value node.
fn output_entries<'a>(
    f: &Fields<'a>,
    not_a_map: &str,
    missing: &str,
    example: &str,
    errors: &mut Diagnostics,
) -> Vec<(&'a str, &'a Node, &'a Node)> {
    let Some(o) = f.required("outputs", missing, errors) else {
        return Vec::new();
    };
    let entries = match o.as_map() {
        Some(e) if !e.is_empty() => e,
        _ => {
            errors.push(Diagnostic::at(o.pos, not_a_map).with_help(example.to_string()));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        match k.as_str() {
            Some(col) => out.push((col, k, v)),
            None => errors.push(Diagnostic::at(k.pos, "column names must be strings")),
        }
    }
    out
}

fn located_string(
    f: &Fields<'_>,
    key: &str,
    what: &str,
    example: &str,
    errors: &mut Diagnostics,
) -> Option<Located<String>> {
    let n = f.required(key, example, errors)?;
    decode::string(n, what, errors).map(|t| Located::new(t.into_string(), n.pos))
}

/// An integer setting `key` of step `step` within `range`, or `default`.
fn number(
    f: &Fields<'_>,
    step: &str,
    key: &str,
    (min, max): (i64, i64),
    default: i64,
    errors: &mut Diagnostics,
) -> i64 {
    let Some(n) = f.get(key) else { return default };
    match decode::integer(n, &format!("`{key}` of `{step}`"), errors) {
        Some(v) if (min..=max).contains(&v) => v,
        Some(v) => {
            errors.push(Diagnostic::at(
                n.pos,
                format!("`{key}` of `{step}` must be between {min} and {max}, found {v}"),
            ));
            default
        }
        None => default,
    }
}

/// A duration setting `key` of step `step` (ms), if given and valid.
fn duration(
    f: &Fields<'_>,
    step: &str,
    key: &str,
    zero_ok: bool,
    errors: &mut Diagnostics,
) -> Option<i64> {
    let n = f.get(key)?;
    let ms = decode::duration(n, &format!("`{key}` of `{step}`"), errors)?;
    if ms < 0 || (ms == 0 && !zero_ok) {
        errors.push(Diagnostic::at(
            n.pos,
            format!("`{key}` of `{step}` must be positive"),
        ));
        return None;
    }
    Some(ms)
}

/// Fixed HTTP headers (`headers: {Name: value}`), in file order.
fn headers(f: &Fields<'_>, what: &str, errors: &mut Diagnostics) -> Vec<(String, Located<String>)> {
    let mut headers = Vec::new();
    if let Some(h) = f.get("headers") {
        match h.as_map() {
            Some(entries) => {
                for (k, v) in entries {
                    let (Some(name), Some(value)) =
                        (k.as_str(), decode::string(v, "a header value", errors))
                    else {
                        continue;
                    };
                    headers.push((name.to_string(), Located::new(value.into_string(), v.pos)));
                }
            }
            None => errors.push(
                Diagnostic::at(
                    h.pos,
                    format!("`headers` of {what} must map header names to values"),
                )
                .with_help("headers: {Authorization: \"Bearer ${API_TOKEN}\"}"),
            ),
        }
    }
    headers
}

/// Reports an `http(s)://` URL that is not one.
fn check_http_url(url: &Located<String>, what: &str, example: &str, errors: &mut Diagnostics) {
    if !(url.value.starts_with("http://") || url.value.starts_with("https://")) {
        errors.push(
            Diagnostic::at(
                url.pos,
                format!("{what} must start with http:// or https://"),
            )
            .with_help(example.to_string()),
        );
    }
}

fn variables(
    f: &Fields<'_>,
    key: &str,
    what: &str,
    errors: &mut Diagnostics,
) -> Vec<Located<String>> {
    f.get(key)
        .map(|n| decode::string_list(n, what, errors))
        .unwrap_or_default()
        .into_iter()
        .map(|(s, p)| Located::new(s, p))
        .collect()
}

/// Checks that the `%s` of `patterns` match the `count` variables.
fn check_placeholders(
    patterns: &[&Located<String>],
    count: usize,
    vars_key: &str,
    pos: Position,
    errors: &mut Diagnostics,
) {
    let found: usize = patterns
        .iter()
        .map(|p| split_pattern(&p.value).len() - 1)
        .sum();
    if found != count {
        let at = patterns.first().map_or(pos, |p| p.pos);
        errors.push(
            Diagnostic::at(at, format!("the pattern has {found} `%s` placeholder(s) and `{vars_key}` names {count} column(s)"))
                .with_help(format!("each `%s` takes the next column of `{vars_key}`, in order (write `%%` for a literal %)")),
        );
    }
}

fn http_lookup(node: &Node, errors: &mut Diagnostics) -> Option<HttpLookup> {
    let f = Fields::of(node, "`http` of `enrich`", HTTP_KEYS, errors)?;
    let url = located_string(
        &f,
        "url",
        "`url` of `http`",
        "`url: \"http://host/customers/%s\"`",
        errors,
    );
    if let Some(u) = &url {
        check_http_url(
            u,
            "the `http` url",
            "url: \"http://customers.internal/customers/%s\"",
            errors,
        );
    }
    let method = match f.get("method") {
        None => Some(HttpMethod::Get),
        Some(n) => decode::string(n, "`method` of `http`", errors).and_then(|m| {
            match m.as_str().to_ascii_uppercase().as_str() {
                "GET" => Some(HttpMethod::Get),
                "POST" => Some(HttpMethod::Post),
                "PUT" => Some(HttpMethod::Put),
                other => {
                    errors.push(
                        Diagnostic::at(n.pos, format!("unsupported HTTP method `{other}`"))
                            .with_help("methods: GET, POST, PUT"),
                    );
                    None
                }
            }
        }),
    };
    let body = f.get("body").and_then(|n| {
        decode::string(n, "`body` of `http`", errors).map(|t| Located::new(t.into_string(), n.pos))
    });
    if let (Some(HttpMethod::Get), Some(b)) = (method, &body) {
        errors.push(
            Diagnostic::at(b.pos, "a GET request has no body")
                .with_help("use `method: POST` (or PUT) to send a body"),
        );
    }
    if let Some(b) = &body
        && (b.value.contains("\"%s\"") || b.value.contains("'%s'"))
    {
        errors.push(
            Diagnostic::at(b.pos, "write `%s` without quotes in the body")
                .with_help("each `%s` of the body becomes its value as a JSON literal, strings quoted and escaped: `{\"id\": %s}`"),
        );
    }
    let variables = variables(&f, "variables", "`variables` of `http`", errors);
    let headers = headers(&f, "`http`", errors);
    let url = url?;
    let mut patterns = vec![&url];
    patterns.extend(body.as_ref());
    patterns.extend(headers.iter().map(|(_, v)| v));
    check_placeholders(&patterns, variables.len(), "variables", f.pos, errors);
    Some(HttpLookup {
        url,
        method: method?,
        body,
        variables,
        headers,
    })
}

fn redis_lookup(node: &Node, errors: &mut Diagnostics) -> Option<RedisLookup> {
    let f = Fields::of(node, "`redis` of `enrich`", REDIS_KEYS, errors)?;
    let url = located_string(
        &f,
        "url",
        "`url` of `redis`",
        "`url: ${REDIS_URL}` (redis://host:port/db)",
        errors,
    );
    if let Some(u) = &url
        && !(u.value.starts_with("redis://") || u.value.starts_with("unix://"))
    {
        errors.push(
            Diagnostic::at(u.pos, "the `redis` url must start with redis://")
                .with_help("url: redis://127.0.0.1:6379/0"),
        );
    }
    let command = match f.get("command") {
        None => Some(RedisCommand::Get),
        Some(n) => decode::string(n, "`command` of `redis`", errors).and_then(|c| {
            match c.as_str().to_ascii_lowercase().as_str() {
                "get" => Some(RedisCommand::Get),
                "hgetall" => Some(RedisCommand::Hgetall),
                other => {
                    errors.push(
                        Diagnostic::at(n.pos, format!("unsupported Redis command `{other}`"))
                            .with_help("commands: get (a string, JSON or not), hgetall (a hash)"),
                    );
                    None
                }
            }
        }),
    };
    let key = located_string(
        &f,
        "key",
        "`key` of `redis`",
        "`key: \"customer:%s\"`",
        errors,
    );
    let variables = variables(&f, "variables", "`variables` of `redis`", errors);
    let key = key?;
    check_placeholders(&[&key], variables.len(), "variables", f.pos, errors);
    Some(RedisLookup {
        url: url?,
        command: command?,
        key,
        variables,
    })
}

fn postgres_lookup(node: &Node, errors: &mut Diagnostics) -> Option<PostgresLookup> {
    let f = Fields::of(node, "`postgres` of `enrich`", POSTGRES_KEYS, errors)?;
    let url = located_string(
        &f,
        "url",
        "`url` of `postgres`",
        "`url: ${PG_URL}` (postgres://user:password@host:port/db)",
        errors,
    );
    let query = located_string(
        &f,
        "query",
        "`query` of `postgres`",
        "`query: \"SELECT tier FROM customers WHERE id = $1\"`",
        errors,
    )?;
    let params = variables(&f, "params", "`params` of `postgres`", errors);
    if query.value.contains("%s") {
        errors.push(
            Diagnostic::at(query.pos, "the query uses `%s`; Postgres lookups take parameters `$1`, `$2`…")
                .with_help("write `WHERE id = $1` and `params: [customer_id]`: values are bound, never spliced into the SQL"),
        );
    } else {
        let used = max_parameter(&query.value);
        if used != params.len() {
            errors.push(
                Diagnostic::at(
                    query.pos,
                    format!(
                        "the query uses parameters up to ${used} and `params` names {} column(s)",
                        params.len()
                    ),
                )
                .with_help("`params` lists the columns bound to $1, $2… in order"),
            );
        }
    }
    Some(PostgresLookup {
        url: url?,
        query,
        params,
    })
}

/// The highest `$n` of a SQL text, outside quotes.
pub fn max_parameter(sql: &str) -> usize {
    let b = sql.as_bytes();
    let (mut i, mut max) = (0, 0);
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'$' => {
                let digits: String = sql[i + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse::<usize>() {
                    max = max.max(n);
                }
                i += digits.len();
            }
            None => {}
        }
        i += 1;
    }
    max
}

/// The literal pieces of a `%s` pattern: one more than its placeholders;
/// `%%` is a literal `%`, any other `%` is kept as it is.
pub fn split_pattern(text: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('s')) => {
                chars.next();
                pieces.push(String::new());
            }
            ('%', Some('%')) => {
                chars.next();
                pieces.last_mut().expect("one piece").push('%');
            }
            _ => pieces.last_mut().expect("one piece").push(c),
        }
    }
    pieces
}

/// `name` or `name[i]`.
fn parse_tensor_ref(text: &str) -> Option<(String, Option<usize>)> {
    let text = text.trim();
    match text.split_once('[') {
        None if !text.is_empty() => Some((text.to_string(), None)),
        None => None,
        Some((name, rest)) => {
            let i = rest.strip_suffix(']')?.trim().parse().ok()?;
            (!name.is_empty()).then(|| (name.to_string(), Some(i)))
        }
    }
}

/// Checks, before `${ENV}` substitution, that every `mask` key is an
/// environment reference: secrets never live in job files.
pub(crate) fn check_keys_from_env(doc: &Node, errors: &mut Diagnostics) {
    let Some(NodeKind::Seq(items)) = doc.get("postprocessors").map(|n| &n.kind) else {
        return;
    };
    for item in items {
        let Some(key) = item.get("mask").and_then(|m| m.get("key")) else {
            continue;
        };
        let text = key.as_str().unwrap_or("");
        let t = text.trim();
        // `${NAME:-default}` would put a key in the file too.
        let is_ref = t.starts_with("${")
            && t.ends_with('}')
            && t.matches("${").count() == 1
            && !t.contains(":-");
        if !is_ref {
            errors.push(
                Diagnostic::at(key.pos, "the `mask` key must come from the environment, not the job file")
                    .with_help("write `key: ${QUIVER_MASK_KEY}` and export QUIVER_MASK_KEY (32 random bytes, e.g. `openssl rand -hex 32`)"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_refs() {
        assert_eq!(
            parse_tensor_ref("probabilities[1]"),
            Some(("probabilities".into(), Some(1)))
        );
        assert_eq!(parse_tensor_ref("label"), Some(("label".into(), None)));
        assert_eq!(parse_tensor_ref("p[x]"), None);
        assert_eq!(parse_tensor_ref("[1]"), None);
        assert_eq!(parse_tensor_ref(""), None);
    }

    #[test]
    fn patterns() {
        assert_eq!(split_pattern("customer:%s"), vec!["customer:", ""]);
        assert_eq!(split_pattern("a%%b%s/%s%20"), vec!["a%b", "/", "%20"]);
        assert_eq!(split_pattern("plain"), vec!["plain"]);
        assert_eq!(max_parameter("SELECT a FROM t WHERE id = $1 AND b = $2"), 2);
        assert_eq!(max_parameter("SELECT '$3' FROM t WHERE id = $1"), 1);
        assert_eq!(max_parameter("SELECT 1"), 0);
    }
}
