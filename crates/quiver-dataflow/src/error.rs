//! Errors raised while running a dataflow.

use arrow::error::ArrowError;
use quiver_sql::FunctionError;

/// Something went wrong while running a job.
#[derive(Debug, thiserror::Error)]
pub enum DataflowError {
    /// An Arrow kernel failed.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    /// A scalar function failed on a batch.
    #[error("function {0}")]
    Function(#[from] FunctionError),
    /// A source could not be read.
    #[error("source `{source_name}`: {message}")]
    Source {
        /// Which source.
        source_name: String,
        /// What happened.
        message: String,
    },
    /// A sink could not be written.
    #[error("sink of job `{job}`: {message}")]
    Sink {
        /// Which job.
        job: String,
        /// What happened.
        message: String,
    },
    /// A post-processor failed (a lookup with `fail_on_errors: true`, a
    /// model that could not run…).
    #[error("post-processing of job `{job}`: {message}")]
    Postprocess {
        /// Which job.
        job: String,
        /// What happened.
        message: String,
    },
    /// The timely runtime failed.
    #[error("dataflow runtime: {0}")]
    Runtime(String),
    /// A bug: an invariant of the engine did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DataflowError {
    /// Whether the cause is the user's input (a file, the data) rather than a bug.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            DataflowError::Source { .. }
                | DataflowError::Sink { .. }
                | DataflowError::Postprocess { .. }
        )
    }
}
