//! Decoding a job's `functions:` mapping: SQL functions loaded at run time
//! from WebAssembly modules.
//!
//! ```yaml
//! functions:
//!   risk_band:                      # the SQL name
//!     wasm: functions/risk.wasm     # or a .wat text module; relative to the job file
//!     export: risk_band             # default: the SQL name
//!     args: [float64, int64]
//!     returns: int64
//! ```
//!
//! Only the shape is checked here; the module, its export and the export's
//! signature against `args`/`returns` are checked when the job is planned.

use std::path::Path;

use quiver_types::{DataType, Diagnostic, Diagnostics};

use crate::decode::{self, Fields};
use crate::job::*;
use crate::yaml::Node;

const FUNCTION_KEYS: &[&str] = &["wasm", "export", "args", "returns"];

/// Decodes the `functions:` mapping.
pub(crate) fn decode(node: &Node, dir: &Path, errors: &mut Diagnostics) -> Vec<FunctionSpec> {
    let Some(entries) = node.as_map() else {
        errors.push(
            Diagnostic::at(
                node.pos,
                format!("`functions` must map SQL names to modules, found {}", node.kind_name()),
            )
            .with_help("functions:\n  risk_band: {wasm: functions/risk.wasm, args: [float64], returns: int64}"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let Some(name) = k.as_str() else {
            errors.push(Diagnostic::at(k.pos, "function names must be strings"));
            continue;
        };
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            errors.push(Diagnostic::at(
                k.pos,
                format!("function name `{name}` must be a SQL identifier (letters, digits, `_`)"),
            ));
            continue;
        }
        let ctx = format!("function `{name}`");
        let Some(f) = Fields::of(v, &ctx, FUNCTION_KEYS, errors) else {
            continue;
        };
        let module = f
            .required("wasm", "`wasm: functions/my_function.wasm`", errors)
            .and_then(|n| decode::path(n, "`wasm`", dir, errors).map(|p| Located::new(p, n.pos)));
        let export = f
            .get("export")
            .and_then(|n| decode::string(n, "`export`", errors))
            .map_or_else(|| name.to_string(), |t| t.into_string());
        let ty = |n: &Node, errors: &mut Diagnostics| {
            let text = n.scalar_text().map(|t| t.into_string()).unwrap_or_default();
            match DataType::parse_spec(&text) {
                Some(t) => Some(Located::new(t, n.pos)),
                None => {
                    errors.push(
                        Diagnostic::at(n.pos, format!("unknown type `{text}` in {ctx}"))
                            .with_help(format!("types are: {}", DataType::SPEC_NAMES.join(", "))),
                    );
                    None
                }
            }
        };
        let args = match f.get("args") {
            Some(n) => match n.as_seq() {
                Some(items) => items.iter().filter_map(|i| ty(i, errors)).collect(),
                None => {
                    errors.push(Diagnostic::at(
                        n.pos,
                        format!("`args` of {ctx} must be a list of types"),
                    ));
                    continue;
                }
            },
            None => Vec::new(),
        };
        let returns = f
            .required("returns", "`returns: int64`", errors)
            .and_then(|n| ty(n, errors));
        let (Some(module), Some(returns)) = (module, returns) else {
            continue;
        };
        out.push(FunctionSpec {
            name: Located::new(name.to_string(), k.pos),
            module,
            export,
            args,
            returns,
        });
    }
    out
}
