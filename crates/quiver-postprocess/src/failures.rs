//! What a step that calls out (enrich, an infer endpoint) does with the
//! calls of a batch that failed for good: with `fail_on_errors: true` the
//! first one fails the run; otherwise their rows get NULLs, and one warning
//! per batch says how many and what the first error was.

/// The failures of one batch's calls.
pub(crate) struct Failures {
    fail_on_errors: bool,
    count: usize,
    first: Option<String>,
}

impl Failures {
    /// No failures yet.
    pub(crate) fn new(fail_on_errors: bool) -> Failures {
        Failures {
            fail_on_errors,
            count: 0,
            first: None,
        }
    }

    /// Records a failure worth `count` (lookups or rows): the message back
    /// as the error when the step fails on errors.
    pub(crate) fn record(&mut self, count: usize, message: String) -> Result<(), String> {
        if self.fail_on_errors {
            return Err(message);
        }
        self.count += count;
        self.first.get_or_insert(message);
        Ok(())
    }

    /// Logs the batch's failures, if any: `what` says what the count is of
    /// and what happened to the rows.
    pub(crate) fn warn(self, job: &str, what: &str) {
        if let Some(first) = self.first {
            tracing::warn!(
                job = %job,
                "{} {what} (fail_on_errors: false); first: {first}",
                self.count
            );
        }
    }
}
