//! The `quiver` command line.
//!
//! | command | what it does |
//! |---|---|
//! | `quiver validate PATH...` | checks job files: YAML, params, SQL, metadata |
//! | `quiver explain JOB...` | expanded jobs, output schemas and dataflow plans |
//! | `quiver backfill JOB...` | runs jobs over their bounded sources into the sinks |
//! | `quiver run JOB...` | runs jobs live from Kafka (hybrid: history first) until stopped |
//! | `quiver features list\|describe` | the feature registry, read from job files |
//! | `quiver get JOB --key col=value` | the online value of a job's features for one entity |
//! | `quiver serve` | the HTTP feature server (Feast's `/get-online-features`) and `/metrics` |
//! | `quiver generate` | writes the example datasets the `jobs/` examples read |
//!
//! Exit codes: 0 success, 1 a problem in the user's input (job file, SQL,
//! data, arguments), 2 an internal error. [`main_with_args`] is the whole
//! program, callable in-process (the end-to-end tests do).

mod cmd_backfill;
mod cmd_explain;
mod cmd_features;
mod cmd_generate;
pub mod cmd_get;
mod cmd_run;
mod cmd_serve;
mod cmd_validate;
mod failure;
mod jobs;
mod metrics_http;
mod progress;
mod sinks;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use cmd_get::lookup;
pub use failure::Failure;

/// Quiver: a streaming feature engine. Feature jobs are YAML files holding SQL.
#[derive(Parser, Debug)]
#[command(name = "quiver", version, about, long_about = None)]
pub struct Cli {
    /// Log level for diagnostics on stderr (error, warn, info, debug).
    #[arg(long, global = true, default_value = "warn", env = "QUIVER_LOG")]
    pub log: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check job files (or directories of them) without running anything.
    Validate {
        /// Job files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Show expanded jobs, their output schema and dataflow plan.
    Explain {
        /// Job files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Only the job with this (expanded) name.
        #[arg(long)]
        job: Option<String>,
    },
    /// Run jobs over their bounded (file) sources into their sinks.
    Backfill(cmd_backfill::BackfillArgs),
    /// Run jobs live from Kafka until stopped (SIGINT/SIGTERM drain, checkpoint and exit 0).
    Run(cmd_run::RunArgs),
    /// The feature registry: jobs and their features, from job files.
    Features {
        /// list or describe.
        #[command(subcommand)]
        action: FeaturesAction,
    },
    /// Read the online features of one entity, as JSON.
    Get(cmd_get::GetArgs),
    /// Serve online features over HTTP (Feast-compatible) until SIGINT/SIGTERM.
    Serve(cmd_serve::ServeArgs),
    /// Write example datasets (bookings, orders/chargebacks, quotes/users).
    Generate(cmd_generate::GenerateArgs),
}

/// `quiver features ...`
#[derive(Subcommand, Debug)]
pub enum FeaturesAction {
    /// One line per job.
    List {
        /// Job files or directories (default: `jobs` from quiver.yaml).
        paths: Vec<PathBuf>,
        /// Deployment file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Everything about one job and its features.
    Describe {
        /// The job's (expanded) name.
        name: String,
        /// Job files or directories (default: `jobs` from quiver.yaml).
        #[arg(long = "jobs")]
        paths: Vec<PathBuf>,
        /// Deployment file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs `quiver` with the given arguments (the first is the program name)
/// and returns its exit code.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{f}");
            ExitCode::from(f.exit_code())
        }
    }
}

/// Parses `args` (the first is the program name) and runs the command,
/// returning the failure instead of printing it (for tests).
pub fn run_args<I, T>(args: I) -> Result<(), Failure>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)
        .map_err(|e| Failure::User(e.to_string().trim_start_matches("error: ").to_string()))?;
    run(cli)
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Validate { paths } => cmd_validate::run(&paths),
        Command::Explain { paths, job } => cmd_explain::run(&paths, job.as_deref()),
        Command::Backfill(args) => cmd_backfill::run(args),
        Command::Run(args) => cmd_run::run(args),
        Command::Features { action } => match action {
            FeaturesAction::List { paths, config } => cmd_features::list(&paths, config.as_deref()),
            FeaturesAction::Describe {
                name,
                paths,
                config,
            } => cmd_features::describe(&name, &paths, config.as_deref()),
        },
        Command::Get(args) => cmd_get::run(args),
        Command::Serve(args) => cmd_serve::run(args),
        Command::Generate(args) => cmd_generate::run(args),
    }
}
