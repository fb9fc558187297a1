//! `quiver validate`: parse, expand and plan job files; run nothing.

use std::path::PathBuf;

use crate::failure::Failure;
use crate::jobs;

/// Validates every job under `paths`.
pub fn run(paths: &[PathBuf]) -> Result<(), Failure> {
    let loaded = jobs::load(paths, &[])?;
    for l in &loaded {
        println!("ok  {:<40} {}", l.job.name, l.spec.file);
    }
    println!(
        "{} job{} valid",
        loaded.len(),
        if loaded.len() == 1 { "" } else { "s" }
    );
    Ok(())
}
