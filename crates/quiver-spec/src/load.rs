//! Loading job files: YAML → `${ENV}` → `[params]` → typed [`JobSpec`]s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use quiver_types::{DataType, Diagnostic, Diagnostics};

use crate::decode::{self, Fields};
use crate::expand::{self, Expanded};
use crate::job::*;
use crate::yaml::{self, Node, NodeKind};

const JOB_KEYS: &[&str] = &[
    "name",
    "description",
    "owner",
    "tags",
    "version",
    "entity",
    "params",
    "sources",
    "sql",
    "features",
    "functions",
    "postprocessors",
    "allow_pii",
    "sinks",
];
const SOURCE_KEYS: &[&str] = &[
    "schema",
    "event_time",
    "watermark_delay",
    "idle_timeout",
    "max_future",
    "max_past",
    "bounded",
    "unbounded",
];
const BOUNDED_KEYS: &[&str] = &["parquet", "ndjson", "csv", "header", "delimiter"];
const UNBOUNDED_KEYS: &[&str] = &["kafka"];
const KAFKA_KEYS: &[&str] = &[
    "topic",
    "format",
    "group_id",
    "start",
    "descriptor_set",
    "message",
];
const FEATURE_KEYS: &[&str] = &["description", "data_type", "is_pii", "tags"];
const SINK_KEYS: &[&str] = &["online", "historical", "kafka", "dead_letter"];
const KAFKA_SINK_KEYS: &[&str] = &["topic", "format", "descriptor_set", "message"];
const DEAD_LETTER_KEYS: &[&str] = &["ndjson", "kafka"];
/// Default `idle_timeout` of live sources.
pub const DEFAULT_IDLE_TIMEOUT: i64 = 60_000;
/// Default `max_future` of live sources.
pub const DEFAULT_MAX_FUTURE: i64 = 3_600_000;
const ONLINE_KEYS: &[&str] = &["ttl"];
const HISTORICAL_KEYS: &[&str] = &["path"];

/// Loads every job in the given files and directories (directories are
/// searched recursively for `*.yaml` / `*.yml`, in name order), expanding
/// params, and checks that expanded names are unique across all of them.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<JobSpec>, Diagnostics> {
    load_paths_with_env(paths, &expand::process_env)
}

/// [`load_paths`] with a custom environment lookup (for tests).
pub fn load_paths_with_env(
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<JobSpec>, Diagnostics> {
    let mut errors = Diagnostics::new();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect_yaml(p, &mut files);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            errors.push(Diagnostic::new(format!(
                "{}: no such file or directory",
                p.display()
            )));
        }
    }
    let mut jobs = Vec::new();
    for f in &files {
        match load_file_with_env(f, env) {
            Ok(js) => jobs.extend(js),
            Err(e) => errors.0.extend(e.0),
        }
    }
    check_unique_names(&jobs, &mut errors);
    errors.sorted().into_result(jobs)
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect_yaml(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

fn check_unique_names(jobs: &[JobSpec], errors: &mut Diagnostics) {
    let mut seen: HashMap<&str, &JobSpec> = HashMap::new();
    for j in jobs {
        if let Some(first) = seen.get(j.name.value.as_str()) {
            let params = if j.params.is_empty() {
                String::new()
            } else {
                format!(
                    " (params {})",
                    j.params
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            errors.push(
                Diagnostic::at(j.name.pos, format!("duplicate job name `{}`{params}", j.name.value))
                    .with_help(format!(
                        "the name is already used at {}:{}; names must be unique after params expansion (put every parameter in the name, e.g. name: bookings_[window]m)",
                        first.file, first.name.pos
                    ))
                    .in_file(&j.file),
            );
        } else {
            seen.insert(&j.name.value, j);
        }
    }
}

/// Loads one job file into the jobs its params expand to.
pub fn load_file(path: &Path) -> Result<Vec<JobSpec>, Diagnostics> {
    load_file_with_env(path, &expand::process_env)
}

/// [`load_file`] with a custom environment lookup (for tests).
pub fn load_file_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<JobSpec>, Diagnostics> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostics::from(Diagnostic::new(format!("cannot read job file: {e}")).in_file(&file))
    })?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse_jobs(&text, &file, &dir, env)
}

/// Parses job-file text. `file` names it in messages; `dir` resolves relative paths.
pub fn parse_jobs(
    text: &str,
    file: &str,
    dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<JobSpec>, Diagnostics> {
    let mut errors = Diagnostics::new();
    let mut doc = yaml::parse(text).map_err(|d| Diagnostics::from(d.in_file(file)))?;
    if doc.as_map().is_none() {
        return Err(Diagnostics::from(
            Diagnostic::at(
                doc.pos,
                format!("a job file must be a mapping, found {}", doc.kind_name()),
            )
            .with_help("start with `name: my_job`")
            .in_file(file),
        ));
    }
    // Unknown top-level keys are reported once, before expansion multiplies them.
    Fields::of(&doc, "the job", JOB_KEYS, &mut errors);
    crate::postprocessors::check_keys_from_env(&doc, &mut errors);
    expand::substitute_env(&mut doc, env, &mut errors);
    let expanded = expand::expand_params(&doc, &mut errors);
    let mut jobs = Vec::new();
    {
        for e in expanded {
            let mut local = Diagnostics::new();
            if let Some(j) = decode_job(e, file, dir, &mut local) {
                jobs.push(j);
            }
            // The same mistake shows in every expansion; report each once.
            for d in local.0 {
                if !errors.0.contains(&d) {
                    errors.push(d);
                }
            }
        }
    }
    check_unique_names(&jobs, &mut errors);
    errors.in_file(file).sorted().into_result(jobs)
}

fn decode_job(e: Expanded, file: &str, dir: &Path, errors: &mut Diagnostics) -> Option<JobSpec> {
    let doc = &e.doc;
    let mut sink = Diagnostics::new(); // unknown keys were reported before expansion
    let f = Fields::of(doc, "the job", JOB_KEYS, &mut sink)?;
    let name = f.required("name", "`name: my_feature_job`", errors).and_then(|n| {
        let text = decode::string(n, "`name`", errors)?;
        let value = text.as_str().trim().to_string();
        if let Some(open) = value.find('[') {
            let inner: String = value[open + 1..].chars().take_while(|c| *c != ']').collect();
            errors.push(Diagnostic::at(n.pos, format!("`name` uses `[{inner}]` but no parameter `{inner}` is declared"))
                .with_help(format!("declare it under params, e.g. params: {{{inner}: [1, 7]}}")));
            return None;
        }
        let ok = value.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            errors.push(Diagnostic::at(n.pos, format!("job name `{value}` may hold only letters, digits, `_` and `-`, starting with a letter"))
                .with_help("the name becomes a directory and a feature-view name"));
            return None;
        }
        Some(Located::new(value, n.pos))
    });
    let opt_string = |key: &str, errors: &mut Diagnostics| {
        f.get(key)
            .and_then(|n| decode::string(n, &format!("`{key}`"), errors))
            .map(|t| t.into_string())
    };
    let description = opt_string("description", errors);
    let owner = opt_string("owner", errors);
    let tags = f
        .get("tags")
        .map(|n| decode::string_list(n, "`tags`", errors))
        .unwrap_or_default();
    let version = f
        .get("version")
        .and_then(|n| decode::integer(n, "`version`", errors));
    let entity = f.get("entity").map(|n| {
        decode::string_list(n, "`entity`", errors)
            .into_iter()
            .map(|(s, p)| Located::new(s, p))
            .collect::<Vec<_>>()
    });
    let sources = f
        .required("sources", "`sources:` with at least one table, e.g. sources: {bookings: {schema: ..., bounded: {parquet: data/}}}", errors)
        .map(|n| decode_sources(n, dir, errors))
        .unwrap_or_default();
    let sql_node = f.required("sql", "`sql: |` followed by a SELECT query", errors);
    let sql = sql_node.and_then(|n| match &n.kind {
        NodeKind::Str(s) if !s.as_str().trim().is_empty() => Some(s.clone()),
        _ => {
            errors.push(
                Diagnostic::at(
                    n.pos,
                    format!("`sql` must be a non-empty string, found {}", n.kind_name()),
                )
                .with_help("write the query as a block: sql: |\n    SELECT ..."),
            );
            None
        }
    });
    let features = f
        .get("features")
        .map(|n| decode_features(n, errors))
        .unwrap_or_default();
    let functions = f
        .get("functions")
        .map(|n| crate::functions::decode(n, dir, errors))
        .unwrap_or_default();
    let postprocessors = f
        .get("postprocessors")
        .map(|n| crate::postprocessors::decode(n, dir, errors))
        .unwrap_or_default();
    let allow_pii = f
        .get("allow_pii")
        .and_then(|n| decode::boolean(n, "`allow_pii`", errors))
        .unwrap_or(false);
    let sinks = f
        .required(
            "sinks",
            "`sinks: {online: {ttl: 1d}, historical: {}}`",
            errors,
        )
        .and_then(|n| decode_sinks(n, dir, errors));
    Some(JobSpec {
        file: file.to_string(),
        dir: dir.to_path_buf(),
        name: name?,
        description,
        owner,
        tags: tags.into_iter().map(|(t, _)| t).collect(),
        version,
        entity,
        params: e.bindings,
        sources,
        sql_pos: sql_node.map(|n| n.pos).unwrap_or_default(),
        sql: sql?,
        features,
        functions,
        postprocessors,
        allow_pii,
        sinks: sinks?,
    })
}

fn decode_sources(node: &Node, dir: &Path, errors: &mut Diagnostics) -> Vec<SourceSpec> {
    let Some(entries) = node.as_map() else {
        errors.push(Diagnostic::at(
            node.pos,
            format!(
                "`sources` must be a mapping of table names, found {}",
                node.kind_name()
            ),
        ));
        return Vec::new();
    };
    if entries.is_empty() {
        errors.push(
            Diagnostic::at(node.pos, "`sources` is empty")
                .with_help("declare the tables the SQL reads"),
        );
    }
    let mut out = Vec::new();
    for (k, v) in entries {
        let Some(name) = k.as_str() else {
            errors.push(Diagnostic::at(k.pos, "source names must be strings"));
            continue;
        };
        let context = format!("source `{name}`");
        if let Some(s) = decode_source(
            Located::new(name.to_string(), k.pos),
            v,
            &context,
            dir,
            errors,
        ) {
            out.push(s);
        }
    }
    out
}

fn decode_source(
    name: Located<String>,
    node: &Node,
    context: &str,
    dir: &Path,
    errors: &mut Diagnostics,
) -> Option<SourceSpec> {
    let f = Fields::of(node, context, SOURCE_KEYS, errors)?;
    let mut schema: Vec<ColumnSpec> = Vec::new();
    if let Some(s) = f.required(
        "schema",
        "`schema:` mapping each column to its type (int64, float64, string, timestamp, ...)",
        errors,
    ) {
        match s.as_map() {
            Some(cols) if !cols.is_empty() => {
                for (ck, cv) in cols {
                    let Some(col) = ck.as_str() else {
                        errors.push(Diagnostic::at(ck.pos, "column names must be strings"));
                        continue;
                    };
                    if schema.iter().any(|c| c.name.eq_ignore_ascii_case(col)) {
                        errors.push(Diagnostic::at(
                            ck.pos,
                            format!("column `{col}` is declared twice in {context}"),
                        ));
                        continue;
                    }
                    let ty = cv.as_str().and_then(DataType::parse_spec);
                    match ty {
                        Some(t) => schema.push(ColumnSpec {
                            name: col.to_string(),
                            data_type: t,
                            pos: ck.pos,
                        }),
                        None => {
                            let written = cv
                                .scalar_text()
                                .map(|t| t.into_string())
                                .unwrap_or_else(|| cv.kind_name().to_string());
                            let mut d = Diagnostic::at(
                                cv.pos,
                                format!("unknown type `{written}` for column `{col}`"),
                            );
                            d = match decode::suggest(&written, DataType::SPEC_NAMES) {
                                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                                None if written.contains('<') => d.with_help(format!(
                                    "arrays and maps are `array<T>` and `map<K,V>` with T, K and V one of {} (they do not nest)",
                                    DataType::SPEC_NAMES.join(", ")
                                )),
                                None => d.with_help(format!(
                                    "types are: {}, array<T>, map<K,V>",
                                    DataType::SPEC_NAMES.join(", ")
                                )),
                            };
                            errors.push(d);
                        }
                    }
                }
            }
            _ => errors.push(
                Diagnostic::at(
                    s.pos,
                    format!("`schema` of {context} must map column names to types"),
                )
                .with_help("schema:\n      event_time: timestamp\n      customer_id: int64"),
            ),
        }
    }
    let event_time = f.get("event_time").and_then(|n| {
        let col = decode::string(n, "`event_time`", errors)?.into_string();
        match schema.iter().find(|c| c.name.eq_ignore_ascii_case(&col)) {
            Some(c) if c.data_type == DataType::Timestamp => Some(Located::new(c.name.clone(), n.pos)),
            Some(c) => {
                errors.push(Diagnostic::at(n.pos, format!("event-time column `{col}` is {}, not timestamp", c.data_type.spec_name()))
                    .with_help(format!("declare `{col}: timestamp` in the schema (epoch milliseconds are read as timestamps)")));
                None
            }
            None if !schema.is_empty() => {
                errors.push(Diagnostic::at(n.pos, format!("event-time column `{col}` is not in the schema of {context}"))
                    .with_help(format!("declared columns: {}", schema.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "))));
                None
            }
            None => None,
        }
    });
    let watermark_delay = match f.get("watermark_delay") {
        Some(n) => {
            if f.get("event_time").is_none() {
                errors.push(Diagnostic::at(
                    n.pos,
                    format!("`watermark_delay` needs an `event_time` in {context}"),
                ));
            }
            decode::duration(n, "`watermark_delay`", errors).unwrap_or(0)
        }
        None => 0,
    };
    let live_duration = |key: &str, errors: &mut Diagnostics| {
        f.get(key)
            .and_then(|n| decode::duration(n, &format!("`{key}`"), errors))
    };
    let idle_timeout = live_duration("idle_timeout", errors).unwrap_or(DEFAULT_IDLE_TIMEOUT);
    let max_future = live_duration("max_future", errors).unwrap_or(DEFAULT_MAX_FUTURE);
    let max_past = live_duration("max_past", errors);
    let bounded = f
        .get("bounded")
        .and_then(|n| decode_bounded(n, context, dir, errors));
    let unbounded = f
        .get("unbounded")
        .and_then(|n| decode_unbounded(n, context, dir, errors));
    if f.get("bounded").is_none() && f.get("unbounded").is_none() {
        errors.push(Diagnostic::at(name.pos, format!("{context} has no input"))
            .with_help("add `bounded: {parquet: path/}` for history and/or `unbounded: {kafka: {topic: t}}` for live events"));
    }
    if f.get("event_time").is_none() && f.get("unbounded").is_some() {
        errors.push(
            Diagnostic::at(
                name.pos,
                format!("{context} reads Kafka but has no `event_time`"),
            )
            .with_help("live sources are streams: name their event-time column with `event_time:`"),
        );
    }
    Some(SourceSpec {
        name,
        schema,
        event_time,
        watermark_delay,
        idle_timeout,
        max_future,
        max_past,
        bounded,
        unbounded,
    })
}

fn decode_bounded(
    node: &Node,
    context: &str,
    dir: &Path,
    errors: &mut Diagnostics,
) -> Option<BoundedSpec> {
    let ctx = format!("`bounded` of {context}");
    let f = Fields::of(node, &ctx, BOUNDED_KEYS, errors)?;
    let formats: Vec<FileFormat> = [FileFormat::Parquet, FileFormat::Ndjson, FileFormat::Csv]
        .into_iter()
        .filter(|ff| f.get(ff.key()).is_some())
        .collect();
    let format = match formats.as_slice() {
        [one] => *one,
        [] => {
            errors.push(
                Diagnostic::at(node.pos, format!("{ctx} names no file format"))
                    .with_help("write one of parquet: PATH, ndjson: PATH, csv: PATH"),
            );
            return None;
        }
        _ => {
            errors.push(
                Diagnostic::at(node.pos, format!("{ctx} names several file formats"))
                    .with_help("use one of parquet, ndjson, csv per source"),
            );
            return None;
        }
    };
    let pnode = f.get(format.key())?;
    let path = decode::path(pnode, &format!("`{}`", format.key()), dir, errors)?;
    let csv_header = f
        .get("header")
        .and_then(|n| decode::boolean(n, "`header`", errors))
        .unwrap_or(true);
    let csv_delimiter = match f
        .get("delimiter")
        .and_then(|n| decode::string(n, "`delimiter`", errors))
    {
        Some(d) if d.as_str().len() == 1 => d.as_str().as_bytes()[0],
        Some(d) => {
            errors.push(Diagnostic::at(
                f.key_pos("delimiter").unwrap_or(node.pos),
                format!("`delimiter` must be one character, found `{}`", d.as_str()),
            ));
            b','
        }
        None => b',',
    };
    if format != FileFormat::Csv {
        for key in ["header", "delimiter"] {
            if let Some(p) = f.key_pos(key) {
                errors.push(Diagnostic::at(
                    p,
                    format!("`{key}` applies only to csv sources"),
                ));
            }
        }
    }
    Some(BoundedSpec {
        format,
        path: Located::new(path, pnode.pos),
        csv_header,
        csv_delimiter,
    })
}

fn decode_unbounded(
    node: &Node,
    context: &str,
    dir: &Path,
    errors: &mut Diagnostics,
) -> Option<UnboundedSpec> {
    let ctx = format!("`unbounded` of {context}");
    let f = Fields::of(node, &ctx, UNBOUNDED_KEYS, errors)?;
    let k = f.required("kafka", "`kafka: {topic: my_topic, format: json}`", errors)?;
    let kctx = format!("`kafka` of {context}");
    let kf = Fields::of(k, &kctx, KAFKA_KEYS, errors)?;
    let topic = kf
        .required("topic", "`topic: my_topic`", errors)
        .and_then(|n| decode::string(n, "`topic`", errors))?;
    let format = payload_format(kf.get("format"), k, errors);
    let opt = |key: &str, errors: &mut Diagnostics| {
        kf.get(key)
            .and_then(|n| decode::string(n, &format!("`{key}`"), errors))
            .map(|t| t.into_string())
    };
    let protobuf = protobuf_spec(&kf, format, &kctx, dir, errors);
    Some(UnboundedSpec {
        topic: topic.into_string(),
        format,
        group_id: opt("group_id", errors),
        start: kf.get("start").and_then(|n| {
            let t = decode::string(n, "`start`", errors)?.into_string();
            check_start(&t, n, errors);
            Some(t)
        }),
        protobuf,
        pos: k.pos,
    })
}

/// A Kafka `start:` is a keyword or a time `quiver run` can read (the
/// time itself is resolved when the job starts).
fn check_start(text: &str, node: &Node, errors: &mut Diagnostics) {
    const WORDS: [&str; 3] = ["committed", "earliest", "latest"];
    if WORDS.contains(&text) || quiver_types::time::parse_time_arg(text, 0).is_ok() {
        return;
    }
    let d = Diagnostic::at(node.pos, format!("`start: {text}` is not a start position"));
    errors.push(match decode::suggest(text, &WORDS) {
        Some(w) => d.with_help(format!("did you mean `{w}`?")),
        None => d.with_help(
            "use committed (the default), earliest, latest, a timestamp such as 2026-11-01T00:00:00Z, or now-1h",
        ),
    });
}

fn decode_features(node: &Node, errors: &mut Diagnostics) -> Vec<FeatureSpec> {
    let Some(entries) = node.as_map() else {
        errors.push(Diagnostic::at(node.pos, format!("`features` must map output columns to metadata, found {}", node.kind_name()))
            .with_help("features:\n    bookings: {description: Bookings in the window., data_type: numerical}"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let Some(col) = k.as_str() else {
            errors.push(Diagnostic::at(k.pos, "feature names must be strings"));
            continue;
        };
        let mut spec = FeatureSpec {
            column: Located::new(col.to_string(), k.pos),
            description: None,
            kind: None,
            is_pii: false,
            tags: Vec::new(),
        };
        if v.kind != NodeKind::Null {
            let ctx = format!("feature `{col}`");
            if let Some(f) = Fields::of(v, &ctx, FEATURE_KEYS, errors) {
                spec.description = f
                    .get("description")
                    .and_then(|n| decode::string(n, "`description`", errors))
                    .map(|t| t.into_string());
                spec.is_pii = f
                    .get("is_pii")
                    .and_then(|n| decode::boolean(n, "`is_pii`", errors))
                    .unwrap_or(false);
                spec.tags = f
                    .get("tags")
                    .map(|n| decode::string_list(n, "`tags`", errors))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(t, _)| t)
                    .collect();
                if let Some(n) = f.get("data_type") {
                    let text = n.as_str().unwrap_or("");
                    match FeatureKind::ALL.iter().find(|(name, _)| *name == text) {
                        Some((_, kind)) => spec.kind = Some(*kind),
                        None => {
                            let names: Vec<&str> =
                                FeatureKind::ALL.iter().map(|(n, _)| *n).collect();
                            let mut d = Diagnostic::at(
                                n.pos,
                                format!("unknown feature data_type `{text}`"),
                            );
                            d = match decode::suggest(text, &names) {
                                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                                None => d.with_help(format!("use one of {}", names.join(", "))),
                            };
                            errors.push(d);
                        }
                    }
                }
            }
        }
        out.push(spec);
    }
    out
}

fn decode_sinks(node: &Node, dir: &Path, errors: &mut Diagnostics) -> Option<SinksSpec> {
    let f = Fields::of(node, "`sinks`", SINK_KEYS, errors)?;
    let present = |key: &str| f.key_pos(key).is_some();
    if !present("online") && !present("historical") && !present("kafka") {
        errors.push(
            Diagnostic::at(node.pos, "`sinks` names no sink")
                .with_help("add `online: {ttl: 1d}`, `historical: {}` and/or `kafka: {topic: t}`"),
        );
        return None;
    }
    let online = if present("online") {
        let mut spec = OnlineSinkSpec::default();
        if let Some(n) = f.get("online")
            && let Some(of) = Fields::of(n, "the online sink", ONLINE_KEYS, errors)
        {
            spec.ttl = of
                .get("ttl")
                .and_then(|t| decode::duration(t, "`ttl`", errors));
        }
        Some(spec)
    } else {
        None
    };
    let historical = if present("historical") {
        let mut spec = HistoricalSinkSpec::default();
        if let Some(n) = f.get("historical")
            && let Some(hf) = Fields::of(n, "the historical sink", HISTORICAL_KEYS, errors)
        {
            spec.path = hf
                .get("path")
                .and_then(|p| decode::string(p, "`path`", errors))
                .map(|t| t.into_string());
        }
        Some(spec)
    } else {
        None
    };
    let kafka = f.get("kafka").and_then(|n| {
        let kf = Fields::of(n, "the kafka sink", KAFKA_SINK_KEYS, errors)?;
        let topic = kf
            .required("topic", "`topic: features`", errors)
            .and_then(|t| decode::string(t, "`topic`", errors))?;
        let format = payload_format(kf.get("format"), n, errors);
        let protobuf = protobuf_spec(&kf, format, "the kafka sink", dir, errors);
        Some(KafkaSinkSpec {
            topic: topic.into_string(),
            format,
            protobuf,
            pos: n.pos,
        })
    });
    let dead_letter = f.get("dead_letter").and_then(|n| {
        let df = Fields::of(n, "the dead-letter sink", DEAD_LETTER_KEYS, errors)?;
        if let Some(p) = df.get("ndjson") {
            return decode::string(p, "`ndjson`", errors)
                .map(|t| DeadLetterSpec::Ndjson(t.into_string()));
        }
        if let Some(k) = df.get("kafka") {
            let kf = Fields::of(k, "the dead-letter topic", &["topic"], errors)?;
            return kf
                .required("topic", "`kafka: {topic: bookings_dlq}`", errors)
                .and_then(|t| decode::string(t, "`topic`", errors))
                .map(|t| DeadLetterSpec::Kafka(t.into_string()));
        }
        errors.push(
            Diagnostic::at(n.pos, "`dead_letter` names no target")
                .with_help("use `dead_letter: {ndjson: dead_letters.ndjson}` or `dead_letter: {kafka: {topic: t}}`"),
        );
        None
    });
    Some(SinksSpec {
        online,
        historical,
        kafka,
        dead_letter,
    })
}

/// The `descriptor_set` and `message` of a Kafka block: both required with
/// `format: protobuf`, refused with any other format (they would be ignored).
fn protobuf_spec(
    f: &Fields,
    format: PayloadFormat,
    context: &str,
    dir: &Path,
    errors: &mut Diagnostics,
) -> Option<ProtobufSpec> {
    let located = |key: &str, errors: &mut Diagnostics| {
        let n = f.get(key)?;
        let text = decode::string(n, &format!("`{key}`"), errors)?.into_string();
        if text.trim().is_empty() {
            errors.push(Diagnostic::at(n.pos, format!("`{key}` is empty")));
            return None;
        }
        Some(Located::new(text.trim().to_string(), n.pos))
    };
    if format != PayloadFormat::Protobuf {
        for key in ["descriptor_set", "message"] {
            if let Some(p) = f.key_pos(key) {
                errors.push(
                    Diagnostic::at(
                        p,
                        format!(
                            "`{key}` applies only to `format: protobuf` ({context} uses {})",
                            format.key()
                        ),
                    )
                    .with_help("add `format: protobuf`, or remove the key"),
                );
            }
        }
        return None;
    }
    let example = "descriptor_set: bookings.desc (protoc --include_imports --descriptor_set_out=bookings.desc bookings.proto) and message: bookings.v1.Booking";
    let descriptor_set = f
        .required("descriptor_set", example, errors)
        .and_then(|_| located("descriptor_set", errors));
    let message = f
        .required("message", example, errors)
        .and_then(|_| located("message", errors));
    let mut descriptor_set = descriptor_set?;
    if !Path::new(&descriptor_set.value).is_absolute() {
        descriptor_set.value = dir.join(&descriptor_set.value).display().to_string();
    }
    Some(ProtobufSpec {
        descriptor_set,
        message: message?,
    })
}

/// A `format:` value (json by default).
fn payload_format(node: Option<&Node>, parent: &Node, errors: &mut Diagnostics) -> PayloadFormat {
    match node.and_then(|n| decode::string(n, "`format`", errors)) {
        None => PayloadFormat::Json,
        Some(t) => match t.as_str() {
            "json" => PayloadFormat::Json,
            "protobuf" | "proto" => PayloadFormat::Protobuf,
            other => {
                errors.push(
                    Diagnostic::at(
                        node.map_or(parent.pos, |n| n.pos),
                        format!("unknown payload format `{other}`"),
                    )
                    .with_help("use json or protobuf"),
                );
                PayloadFormat::Json
            }
        },
    }
}
