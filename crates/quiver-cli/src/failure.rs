//! How a command fails: the user's input was wrong (exit 1) or Quiver was (exit 2).

use std::fmt;

use quiver_types::Diagnostics;

/// A failed command.
#[derive(Debug)]
pub enum Failure {
    /// Problems located in job files.
    Invalid(Diagnostics),
    /// A problem in the user's input or environment, with a fix in the text.
    User(String),
    /// A bug or an unexpected failure in Quiver.
    Internal(anyhow::Error),
}

impl Failure {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Invalid(_) | Failure::User(_) => 1,
            Failure::Internal(_) => 2,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Invalid(d) => {
                write!(f, "{d}")?;
                let n = d.0.len();
                write!(
                    f,
                    "\nerror: {n} problem{} found",
                    if n == 1 { "" } else { "s" }
                )
            }
            Failure::User(m) => write!(f, "error: {m}"),
            Failure::Internal(e) => write!(
                f,
                "internal error: {e:#}\n(this is a bug in Quiver; please report it with the command you ran)"
            ),
        }
    }
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Failure {
        Failure::Invalid(d)
    }
}
