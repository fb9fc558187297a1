//! Compiling a job: parse its SQL, bind it against the job's sources, and
//! check the job file's metadata against the query's output.

use quiver_spec::JobSpec;
use quiver_types::{DataType, Diagnostic, Diagnostics, Schema};
use sqlparser::ast::Statement;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Location;

use crate::bind::{Binder, SourceInfo};
use crate::error::PlanError;
use crate::functions::FunctionRegistry;
use crate::plan::LogicalPlan;

/// A job ready to run: its plan and what its output means.
#[derive(Debug, Clone)]
pub struct CompiledJob {
    /// The job's (expanded) name.
    pub name: String,
    /// The query plan.
    pub plan: LogicalPlan,
    /// The output columns (what the sinks store).
    pub output: Schema,
    /// Positions of the entity (key) columns in `output`.
    pub entity: Vec<usize>,
}

impl CompiledJob {
    /// Whether the job aggregates over windows.
    pub fn windowed(&self) -> bool {
        self.plan.is_windowed()
    }

    /// Event time to read before an interval's start (see [`LogicalPlan::lookback`]).
    pub fn lookback(&self) -> i64 {
        self.plan.lookback()
    }

    /// Names of the entity columns.
    pub fn entity_names(&self) -> Vec<&str> {
        self.entity
            .iter()
            .map(|&i| self.output.fields[i].name.as_str())
            .collect()
    }
}

/// Plans a job's SQL and checks its metadata. Errors are located in the job file.
pub fn compile_job(
    spec: &JobSpec,
    registry: &dyn FunctionRegistry,
) -> Result<CompiledJob, Diagnostics> {
    let file = spec.file.as_str();
    let sql = spec.sql.as_str();
    let to_diag =
        |e: PlanError| Diagnostics::from(e.to_diagnostic(&spec.sql, spec.sql_pos).in_file(file));
    let sources: Vec<SourceInfo> = spec
        .sources
        .iter()
        .map(|s| {
            let schema = s.schema();
            let time_col = s
                .event_time
                .as_ref()
                .and_then(|t| schema.index_of(&t.value));
            SourceInfo {
                name: s.name.value.clone(),
                schema,
                time_col,
            }
        })
        .collect();
    let statements =
        Parser::parse_sql(&GenericDialect {}, sql).map_err(|e| to_diag(syntax_error(e)))?;
    let query = match statements.as_slice() {
        [Statement::Query(q)] => q,
        [] => {
            return Err(to_diag(
                PlanError::new("the sql is empty").help("write a SELECT query"),
            ));
        }
        [_] => {
            return Err(to_diag(
                PlanError::new("the sql must be a SELECT query")
                    .help("sinks are declared under `sinks:`; the query only selects"),
            ));
        }
        _ => {
            return Err(to_diag(
                PlanError::new("the sql holds several statements")
                    .help("write one SELECT query (WITH can name intermediate results)"),
            ));
        }
    };
    let mut binder = Binder::new(sql, &sources, registry);
    let rel = binder.bind_query(query).map_err(to_diag)?;
    let mut errors = Diagnostics::new();
    if !rel.is_stream() {
        let at = binder
            .first_table
            .map(|s| PlanError::at(s, ""))
            .and_then(|e| e.location)
            .and_then(|l| spec.sql.position_of(l.line as u32, l.column as u32));
        let tables = rel
            .plan
            .sources()
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(Diagnostic::at(at.unwrap_or(spec.sql_pos), format!("the query reads no stream, only the bounded table(s) {tables}"))
            .with_help("a feature job reads at least one source with an `event_time`; give the source an event_time, or read a stream"));
    }
    let output = rel.plan.schema().clone();
    for (i, f) in output.fields.iter().enumerate() {
        if output.fields[..i]
            .iter()
            .any(|g| g.name.eq_ignore_ascii_case(&f.name))
        {
            errors.push(
                Diagnostic::at(
                    spec.sql_pos,
                    format!("the query outputs two columns named `{}`", f.name),
                )
                .with_help("give one of them another name with AS"),
            );
        }
        if f.data_type == DataType::Null {
            errors.push(
                Diagnostic::at(
                    spec.sql_pos,
                    format!("output column `{}` has no type (it is always NULL)", f.name),
                )
                .with_help(format!("write CAST(NULL AS BIGINT) AS {}", f.name)),
            );
        }
    }
    let names = output.names().join(", ");
    let entity = match &spec.entity {
        Some(cols) => cols
            .iter()
            .filter_map(|c| match output.index_of(&c.value) {
                Some(i) => Some(i),
                None => {
                    errors.push(
                        Diagnostic::at(
                            c.pos,
                            format!(
                                "entity column `{}` is not an output column of the SQL",
                                c.value
                            ),
                        )
                        .with_help(format!("output columns: {names}")),
                    );
                    None
                }
            })
            .collect(),
        None => rel.keys.clone(),
    };
    // Entity keys are scalars (Feast's entity keys; the stores hash them).
    for &i in &entity {
        let f = &output.fields[i];
        if f.data_type.is_collection() {
            let pos = spec
                .entity
                .as_ref()
                .and_then(|cols| cols.iter().find(|c| c.value == f.name).map(|c| c.pos))
                .unwrap_or(spec.name.pos);
            errors.push(
                Diagnostic::at(
                    pos,
                    format!(
                        "entity column `{}` is {}; entity keys must be scalars",
                        f.name, f.data_type
                    ),
                )
                .with_help("key the job by a scalar column and keep the array or map as a feature"),
            );
        }
    }
    // Post-processors may add columns (an `infer` step's predictions);
    // they check their own columns when the job's post-processing is planned.
    let added: Vec<&str> = spec
        .postprocessors
        .iter()
        .flat_map(|p| p.added_columns())
        .map(|c| c.value.as_str())
        .collect();
    for f in &spec.features {
        if output.index_of(&f.column.value).is_none() && !added.contains(&f.column.value.as_str()) {
            let refs = output.names();
            let help = match crate::suggest(&f.column.value, &refs) {
                Some(s) => format!("did you mean `{s}`? (output columns: {names})"),
                None => format!("output columns: {names}"),
            };
            errors.push(
                Diagnostic::at(
                    f.column.pos,
                    format!(
                        "feature `{}` is not an output column of the SQL",
                        f.column.value
                    ),
                )
                .with_help(help),
            );
        }
    }
    if spec.sinks.online.is_some() && entity.is_empty() && errors.is_empty() {
        errors.push(
            Diagnostic::at(
                spec.name.pos,
                "the online sink needs entity columns, and the query has none",
            )
            .with_help(
                "declare `entity: [customer_id]` naming output columns, or GROUP BY the key",
            ),
        );
    }
    if !errors.is_empty() {
        return Err(errors.in_file(file).sorted());
    }
    Ok(CompiledJob {
        name: spec.name.value.clone(),
        plan: rel.plan,
        output,
        entity,
    })
}

/// Turns sqlparser's "... at Line: 3, Column: 9" into a located error.
pub(crate) fn syntax_error(e: ParserError) -> PlanError {
    let text = match &e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
        ParserError::RecursionLimitExceeded => "the query is nested too deeply".to_string(),
    };
    let (message, location) = match text.rfind(" at Line: ") {
        Some(at) => {
            let loc = &text[at + " at Line: ".len()..];
            let mut parts = loc.split(", Column: ");
            let line = parts.next().and_then(|l| l.trim().parse().ok());
            let col = parts.next().and_then(|c| c.trim().parse().ok());
            (
                text[..at].to_string(),
                line.zip(col).map(|(l, c)| Location::new(l, c)),
            )
        }
        None => (text, None),
    };
    PlanError {
        message: format!("SQL syntax error: {message}"),
        location,
        help: None,
    }
}
