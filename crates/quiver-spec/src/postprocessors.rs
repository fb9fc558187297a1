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
//! ```
//!
//! Only the shape of each entry is checked here; whether the columns exist,
//! their types, the model and the PII rules are checked when the job is
//! planned, against the query's output.

use std::path::Path;

use quiver_types::{Diagnostic, Diagnostics};

use crate::decode::{self, Fields};
use crate::job::*;
use crate::yaml::{Node, NodeKind};

const KINDS: &[&str] = &["mask", "dedup", "infer"];
const MASK_KEYS: &[&str] = &["key", "columns"];
const DEDUP_KEYS: &[&str] = &["key", "ttl"];
const INFER_KEYS: &[&str] = &["onnx", "inputs", "outputs"];

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
                    "each post-processor is a mapping with one key: mask, dedup or infer",
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
            "enrich" | "filter_invalid" => {
                errors.push(
                    Diagnostic::at(k.pos, format!("post-processor `{kind}` is not available in this version of Quiver"))
                        .with_help("available post-processors: mask, dedup, infer (dead letters are configured under sinks: dead_letter)"),
                );
                None
            }
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
    let f = Fields::of(node, "`infer`", INFER_KEYS, errors)?;
    let model = f
        .required("onnx", "`onnx: models/model.onnx`", errors)
        .and_then(|n| decode::path(n, "`onnx`", dir, errors).map(|p| Located::new(p, n.pos)));
    let inputs: Vec<_> = f
        .required("inputs", "`inputs: [amount, hour]`", errors)
        .map(|n| decode::string_list(n, "`inputs` of `infer`", errors))
        .unwrap_or_default()
        .into_iter()
        .map(|(s, p)| Located::new(s, p))
        .collect();
    let outputs_node = f.required(
        "outputs",
        "`outputs: {score: \"probabilities[1]\"}` (new column: model output)",
        errors,
    );
    let mut outputs = Vec::new();
    if let Some(o) = outputs_node {
        match o.as_map() {
            Some(entries) if !entries.is_empty() => {
                for (k, v) in entries {
                    let (Some(col), Some(text)) =
                        (k.as_str(), decode::string(v, "a model output name", errors))
                    else {
                        continue;
                    };
                    match parse_tensor_ref(text.as_str()) {
                        Some((tensor, index)) => outputs.push(InferOutput {
                            column: Located::new(col.to_string(), k.pos),
                            tensor,
                            index,
                        }),
                        None => errors.push(
                            Diagnostic::at(
                                v.pos,
                                format!("`{}` is not a model output reference", text.as_str()),
                            )
                            .with_help(
                                "write the output's name, or name[i] for column i of a 2-D output",
                            ),
                        ),
                    }
                }
            }
            _ => errors.push(
                Diagnostic::at(
                    o.pos,
                    "`outputs` of `infer` must map new columns to model outputs",
                )
                .with_help("outputs: {fraud_score: \"probabilities[1]\"}"),
            ),
        }
    }
    if inputs.is_empty() && f.get("inputs").is_some() {
        errors.push(Diagnostic::at(
            node.pos,
            "`inputs` of `infer` names no column",
        ));
    }
    Some(InferSpec {
        model: model?,
        inputs,
        outputs,
        pos: node.pos,
    })
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
}
