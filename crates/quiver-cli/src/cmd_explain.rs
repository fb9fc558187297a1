//! `quiver explain`: what a job file expands to and how it will run.

use std::fmt::Write;
use std::path::PathBuf;

use quiver_spec::{InferModel, MaskAction, PostprocessorSpec};
use quiver_types::time::format_duration;

use crate::failure::Failure;
use crate::jobs::{self, Loaded};

/// Prints every job under `paths` (or just `only`).
pub fn run(paths: &[PathBuf], only: Option<&str>) -> Result<(), Failure> {
    let only: Vec<String> = only.map(|s| vec![s.to_string()]).unwrap_or_default();
    for l in jobs::load(paths, &only)? {
        print!("{}", describe(&l));
    }
    Ok(())
}

fn describe(l: &Loaded) -> String {
    let (spec, job) = (&l.spec, &l.job);
    let mut s = String::new();
    let params = if spec.params.is_empty() {
        String::new()
    } else {
        format!(
            ", params {}",
            spec.params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let _ = writeln!(s, "job {}  ({}{params})", job.name, spec.file);
    if let Some(d) = &spec.description {
        let _ = writeln!(s, "  description: {d}");
    }
    let _ = writeln!(s, "  sources:");
    for src in &spec.sources {
        let kind = match &src.event_time {
            Some(t) => format!(
                "stream, event time `{}`, watermark delay {}",
                t.value,
                format_duration(src.watermark_delay)
            ),
            None => "table".to_string(),
        };
        let input = match (&src.bounded, &src.unbounded) {
            (Some(b), Some(u)) => format!(
                "{} {} then kafka topic {}",
                b.format.key(),
                b.path.value,
                u.topic
            ),
            (Some(b), None) => format!("{} {}", b.format.key(), b.path.value),
            (None, Some(u)) => format!("kafka topic {}", u.topic),
            (None, None) => String::new(),
        };
        let _ = writeln!(s, "    {} ({kind}): {input}", src.name.value);
        let cols: Vec<String> = src
            .schema
            .iter()
            .map(|c| format!("{} {}", c.name, c.data_type.spec_name()))
            .collect();
        let _ = writeln!(s, "      columns: {}", cols.join(", "));
    }
    let cols: Vec<String> = job
        .output
        .fields
        .iter()
        .map(|f| format!("{} {}", f.name, f.data_type.spec_name()))
        .collect();
    let _ = writeln!(s, "  output: {}", cols.join(", "));
    let _ = writeln!(s, "  entity: {}", job.entity_names().join(", "));
    for f in &spec.features {
        let kind = f
            .kind
            .map(|k| format!(" [{}]", k.name()))
            .unwrap_or_default();
        let pii = if f.is_pii { " [pii]" } else { "" };
        let _ = writeln!(
            s,
            "  feature {}{kind}{pii}: {}",
            f.column.value,
            f.description.as_deref().unwrap_or("")
        );
    }
    let mut sinks = Vec::new();
    if let Some(o) = &spec.sinks.online {
        sinks.push(format!(
            "online (ttl {})",
            o.ttl.map_or("none".to_string(), format_duration)
        ));
    }
    if spec.sinks.historical.is_some() {
        sinks.push("historical".to_string());
    }
    if let Some(k) = &spec.sinks.kafka {
        sinks.push(format!("kafka topic {}", k.topic));
    }
    let _ = writeln!(s, "  sinks: {}", sinks.join(", "));
    if !spec.postprocessors.is_empty() {
        let _ = writeln!(s, "  post-processors, in order, before the sinks:");
    }
    for p in &spec.postprocessors {
        let _ = writeln!(s, "    {}", describe_step(p));
    }
    let _ = writeln!(s, "  logical plan:");
    for line in job.plan.explain().lines() {
        let _ = writeln!(s, "    {line}");
    }
    let _ = writeln!(s, "  dataflow (per worker):");
    for line in quiver_dataflow::compile::describe(&job.plan).lines() {
        let _ = writeln!(s, "    {line}");
    }
    let _ = writeln!(s);
    s
}

/// One line per post-processor.
fn describe_step(p: &PostprocessorSpec) -> String {
    match p {
        PostprocessorSpec::Mask(m) => {
            let cols: Vec<String> = m
                .columns
                .iter()
                .map(|c| {
                    let action = match c.action {
                        MaskAction::Hash => "hash (HMAC-SHA256)".to_string(),
                        MaskAction::Encrypt => "encrypt (AES-256-GCM)".to_string(),
                        MaskAction::Decrypt => "decrypt".to_string(),
                        MaskAction::Redact => "redact".to_string(),
                        MaskAction::Truncate(n) => format!("truncate to {n}"),
                    };
                    format!("{} {action}", c.column.value)
                })
                .collect();
            format!("mask: {}", cols.join(", "))
        }
        PostprocessorSpec::Dedup(d) => format!(
            "dedup: drop rows whose key ({}) was seen within {} before (event time); rows spread over workers by that key",
            d.key
                .iter()
                .map(|k| k.value.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            format_duration(d.ttl)
        ),
        PostprocessorSpec::Enrich(e) => format!(
            "enrich `{}`: {} lookup -> {} (capacity {}, timeout {}, {} retries, {}, fail_on_errors {})",
            e.name.value,
            e.source.kind(),
            e.outputs
                .iter()
                .map(|o| o.column.value.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            e.capacity,
            format_duration(e.timeout),
            e.retries,
            e.cache_ttl.map_or("no cache".to_string(), |t| format!(
                "cache {}",
                format_duration(t)
            )),
            e.fail_on_errors
        ),
        PostprocessorSpec::FilterInvalid(f) => format!(
            "filter_invalid: rows failing {} go to the dead-letter sink",
            f.checks
                .iter()
                .map(|c| format!("{} ({})", c.name.value, c.sql.as_str().trim()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PostprocessorSpec::Infer(i) => format!(
            "infer: {} on [{}] -> {}",
            match &i.model {
                InferModel::Onnx(path) => format!("ONNX model {}", path.value),
                InferModel::Endpoint(e) => format!(
                    "`{}`: {} endpoint {} ({} rows a request, capacity {}, timeout {}, {} retries, fail_on_errors {})",
                    e.name.value,
                    e.protocol.name(),
                    e.url.value,
                    e.batch_size,
                    e.capacity,
                    format_duration(e.timeout),
                    e.retries,
                    e.fail_on_errors
                ),
            },
            i.inputs
                .iter()
                .map(|k| k.value.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            i.outputs
                .iter()
                .map(|o| match o.index {
                    Some(ix) => format!("{} = {}[{ix}]", o.column.value, o.tensor),
                    None => format!("{} = {}", o.column.value, o.tensor),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
