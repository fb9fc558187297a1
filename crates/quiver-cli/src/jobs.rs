//! Loading and compiling job files for a command.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use quiver_dataflow::postprocess::PostprocessFactory;
use quiver_spec::{DeploymentConfig, JobSpec};
use quiver_sql::{CompiledJob, FunctionRegistry, Registry, compile_job};
use quiver_types::{DataType, Diagnostic, Diagnostics};
use quiver_udfs::WasmFunction;

use crate::failure::Failure;

/// Which jobs a running command (`backfill`, `run`) runs, and how.
#[derive(clap::Args, Debug)]
pub struct Selection {
    /// Job files or directories.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Deployment file (default: ./quiver.yaml if present, else built-in defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Worker threads (default: the number of CPU cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Only run the job with this name (repeatable).
    #[arg(long = "job")]
    pub jobs: Vec<String>,
}

impl Selection {
    /// The deployment settings and the selected jobs, compiled.
    pub fn load(&self) -> Result<(DeploymentConfig, Vec<Loaded>), Failure> {
        let config = DeploymentConfig::load(self.config.as_deref())?;
        Ok((config, load(&self.paths, &self.jobs)?))
    }

    /// Worker threads: as asked, or one per core.
    pub fn workers(&self) -> usize {
        self.workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// A job file's job, planned.
pub struct Loaded {
    /// What the file says.
    pub spec: JobSpec,
    /// The plan; its `output` is what the sinks store (after post-processing).
    pub job: CompiledJob,
    /// The post-processors, when the job has any.
    pub postprocess: Option<Arc<dyn PostprocessFactory>>,
}

impl Loaded {
    /// Event time to read before an interval's start (the query's windows
    /// and the post-processors' state).
    pub fn lookback(&self) -> i64 {
        self.job.lookback() + self.postprocess.as_ref().map_or(0, |p| p.lookback())
    }
}

/// Loads and compiles every job under `paths`; with `only`, just those names.
pub fn load(paths: &[PathBuf], only: &[String]) -> Result<Vec<Loaded>, Failure> {
    let specs = quiver_spec::load_paths(paths)?;
    let registry = quiver_udfs::registry();
    let mut errors = Diagnostics::new();
    let mut out = Vec::new();
    let all: Vec<String> = specs.iter().map(|s| s.name.value.clone()).collect();
    for spec in specs {
        if !only.is_empty() && !only.contains(&spec.name.value) {
            continue;
        }
        let registry = match with_job_functions(&registry, &spec) {
            Ok(r) => r,
            Err(d) => {
                errors.0.extend(d.0);
                continue;
            }
        };
        let mut job = match compile_job(&spec, &registry) {
            Ok(job) => job,
            Err(d) => {
                errors.0.extend(d.0);
                continue;
            }
        };
        // Post-processors run on the query's output and may change it
        // (masked columns become text, predictions are added).
        let postprocess = match quiver_postprocess::plan(&spec, &job.output, &registry) {
            Ok(p) => {
                job.output = p.output;
                p.chain.map(|c| c as Arc<dyn PostprocessFactory>)
            }
            Err(d) => {
                errors.0.extend(d.0);
                continue;
            }
        };
        // Protobuf payloads need the descriptor sets and, for a Kafka sink,
        // the output columns: checked here, after planning.
        errors
            .0
            .extend(quiver_connectors::kafka::protobuf::check_job(&spec, &job.output).0);
        out.push(Loaded {
            spec,
            job,
            postprocess,
        });
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors.sorted()));
    }
    for name in only {
        if !all.contains(name) {
            return Err(Failure::User(format!(
                "no job named `{name}` in the given files (jobs: {})",
                all.join(", ")
            )));
        }
    }
    check_shared_sources(&out)?;
    if out.is_empty() {
        return Err(Failure::User(format!(
            "no job files found in {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(out)
}

/// Jobs loaded together run together, reading one source per name: a
/// source two of them read must be declared alike in both (else one job
/// would silently read the other's topic, columns or watermark).
fn check_shared_sources(jobs: &[Loaded]) -> Result<(), Failure> {
    for (i, a) in jobs.iter().enumerate() {
        let read_by_a = a.job.plan.sources();
        for b in &jobs[i + 1..] {
            for name in b.job.plan.sources() {
                if !read_by_a.contains(&name) {
                    continue;
                }
                let (Some(sa), Some(sb)) = (a.spec.source(&name), b.spec.source(&name)) else {
                    continue;
                };
                if let Some(what) = sa.differs_from(sb) {
                    return Err(Failure::User(format!(
                        "{}:{}: source `{name}` differs in {what} from its declaration in {}:{}, and both jobs read it: \
                         jobs run together read one source per name\n  help: declare it the same way in both files, or give one of them another name",
                        b.spec.file, sb.name.pos.line, a.spec.file, sa.name.pos.line
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The built-in functions plus the job's own (WebAssembly modules declared
/// under `functions:`), each checked against its module.
fn with_job_functions(base: &Registry, spec: &JobSpec) -> Result<Registry, Diagnostics> {
    let mut registry = base.clone();
    let mut errors = Diagnostics::new();
    for f in &spec.functions {
        if base.scalar(&f.name.value).is_some() {
            errors.push(
                Diagnostic::at(
                    f.name.pos,
                    format!("`{}` is a built-in function", f.name.value),
                )
                .with_help("give your function another name")
                .in_file(&spec.file),
            );
            continue;
        }
        let args: Vec<DataType> = f.args.iter().map(|a| a.value).collect();
        match WasmFunction::load(
            &f.name.value,
            Path::new(&f.module.value),
            &f.export,
            &args,
            f.returns.value,
        ) {
            Ok(w) => registry.register(Arc::new(w)),
            Err(e) => errors.push(
                Diagnostic::at(f.module.pos, format!("function `{}`: {e}", f.name.value))
                    .in_file(&spec.file),
            ),
        }
    }
    errors.into_result(registry)
}
