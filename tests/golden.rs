//! Golden SQL cases: each `golden/cases/<case>/job.yaml` is backfilled with
//! 1 and 3 workers and its output compared with `expected.json`, computed by
//! DuckDB from an independently written `reference.sql` (see
//! `golden/README.md`). Each `golden/errors/<case>/job.yaml` must be
//! rejected with a message at the expected file position.

use std::path::{Path, PathBuf};

use quiver_tests::{Scratch, diff_rows, quiver, read_rows};
use serde_json::Value as Json;

fn dirs(kind: &str) -> Vec<PathBuf> {
    let root = quiver_tests::tests_dir().join("golden").join(kind);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("golden dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn case_name(dir: &Path) -> String {
    dir.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}

fn run_case(dir: &Path, workers: usize) -> Result<(), String> {
    let name = case_name(dir);
    let expected: Json = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let scratch = Scratch::new();
    let job = dir.join("job.yaml");
    let w = workers.to_string();
    scratch
        .quiver(&[
            "backfill",
            job.to_str().unwrap_or_default(),
            "--workers",
            &w,
            "--no-progress",
        ])
        .map_err(|e| format!("backfill failed:\n{e}"))?;
    let (cols, rows) = read_rows(&scratch.dataset(&name));
    let want_cols: Vec<(String, String)> = expected["columns"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or("").to_string(),
                        c["type"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let want_rows: Vec<Vec<Json>> = expected["rows"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r.as_array().cloned().unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    if !rows.is_empty() && cols != want_cols {
        return Err(format!("columns {cols:?}, expected {want_cols:?}"));
    }
    if let Some(d) = diff_rows(rows, want_rows) {
        return Err(d);
    }
    Ok(())
}

#[test]
fn golden_cases_match_duckdb() {
    let mut failures = Vec::new();
    let cases = dirs("cases");
    assert!(cases.len() > 50, "golden cases missing");
    for dir in &cases {
        for workers in [1, 3] {
            if let Err(e) = run_case(dir, workers) {
                failures.push(format!("{} (workers={workers}): {e}", case_name(dir)));
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn golden_errors_are_located() {
    let mut failures = Vec::new();
    for dir in dirs("errors") {
        let want: Json = serde_json::from_str(
            &std::fs::read_to_string(dir.join("expected_error.json")).expect("expected_error.json"),
        )
        .expect("json");
        let (line, col) = (
            want["line"].as_u64().unwrap_or(0) as u32,
            want["col"].as_u64().unwrap_or(0) as u32,
        );
        let fragments: Vec<String> = want["contains"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str())
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        let job = dir.join("job.yaml");
        let err = match quiver(&["validate", job.to_str().unwrap_or_default()]) {
            Ok(()) => {
                failures.push(format!(
                    "{}: accepted, expected an error at {line}:{col}",
                    case_name(&dir)
                ));
                continue;
            }
            Err(quiver_cli::Failure::Invalid(d)) => d,
            Err(other) => {
                failures.push(format!(
                    "{}: failed without a located error: {other}",
                    case_name(&dir)
                ));
                continue;
            }
        };
        let hit = err
            .0
            .iter()
            .find(|d| d.pos.is_some_and(|p| p.line == line && p.col == col));
        match hit {
            None => failures.push(format!(
                "{}: no error at {line}:{col}; got:\n{err}",
                case_name(&dir)
            )),
            Some(d) => {
                let text = d.to_string().to_lowercase();
                let missing: Vec<&String> = fragments
                    .iter()
                    .filter(|f| !text.contains(f.as_str()))
                    .collect();
                if !missing.is_empty() {
                    failures.push(format!(
                        "{}: message lacks {missing:?}: {d}",
                        case_name(&dir)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} error cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
