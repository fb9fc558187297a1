//! Finding a source's files: a file, a directory (searched recursively) or
//! a glob; Hive-style `date=YYYY-MM-DD` / `dt=YYYY-MM-DD` directories are
//! recognized so an interval run skips the days it does not need.

use std::path::{Path, PathBuf};

use quiver_types::time::{DAY, parse_date};

/// A data file and the day its Hive partition names, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// The file.
    pub path: PathBuf,
    /// Days since the epoch of the `date=`/`dt=` directory it sits in.
    pub partition_day: Option<i32>,
}

/// Lists the files of `spec` with one of `extensions` (directories and
/// globs; a single named file is taken whatever its extension), in path
/// order, skipping hidden files and `_`-prefixed ones (`_SUCCESS`,
/// `_metadata`). Files in day partitions entirely outside `[start, end)`
/// are dropped.
pub fn discover(
    spec: &str,
    extensions: &[&str],
    start: Option<i64>,
    end: Option<i64>,
) -> Result<Vec<DataFile>, String> {
    let mut files = Vec::new();
    let is_glob = spec.contains(['*', '?', '[']);
    if is_glob {
        let paths = glob::glob(spec).map_err(|e| format!("invalid glob `{spec}`: {e}"))?;
        for p in paths {
            let p = p.map_err(|e| format!("cannot read {}: {e}", e.path().display()))?;
            if p.is_file() && wanted(&p, extensions) {
                files.push(p);
            } else if p.is_dir() {
                walk(&p, extensions, &mut files)?;
            }
        }
    } else {
        let p = Path::new(spec);
        if p.is_file() {
            files.push(p.to_path_buf());
        } else if p.is_dir() {
            walk(p, extensions, &mut files)?;
        } else {
            return Err(format!("`{spec}` does not exist"));
        }
    }
    files.sort();
    files.dedup();
    Ok(files
        .into_iter()
        .map(|path| {
            let partition_day = partition_day(&path);
            DataFile {
                path,
                partition_day,
            }
        })
        .filter(|f| match f.partition_day {
            Some(d) => {
                let (lo, hi) = (d as i64 * DAY, (d as i64 + 1) * DAY);
                start.is_none_or(|s| hi > s) && end.is_none_or(|e| lo < e)
            }
            None => true,
        })
        .collect())
}

fn hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

fn wanted(p: &Path, extensions: &[&str]) -> bool {
    !hidden(p)
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let p = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if hidden(&p) {
            continue;
        }
        if p.is_dir() {
            walk(&p, extensions, out)?;
        } else if wanted(&p, extensions) {
            out.push(p);
        }
    }
    Ok(())
}

/// The day of the innermost `date=`/`dt=` directory in `path`.
fn partition_day(path: &Path) -> Option<i32> {
    path.ancestors().skip(1).find_map(|a| {
        let name = a.file_name()?.to_str()?;
        let value = name
            .strip_prefix("date=")
            .or_else(|| name.strip_prefix("dt="))?;
        parse_date(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_files_and_prunes_partitions() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["2024-01-01", "2024-01-02", "2024-01-03"] {
            let p = dir.path().join(format!("date={d}"));
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("part-0.parquet"), b"x").unwrap();
            std::fs::write(p.join("_SUCCESS"), b"").unwrap();
        }
        let root = dir.path().to_str().unwrap();
        assert_eq!(discover(root, &["parquet"], None, None).unwrap().len(), 3);
        let start = quiver_types::time::parse_timestamp("2024-01-02").unwrap();
        let end = quiver_types::time::parse_timestamp("2024-01-03").unwrap();
        let some = discover(root, &["parquet"], Some(start), Some(end)).unwrap();
        assert_eq!(some.len(), 1);
        assert_eq!(some[0].partition_day, parse_date("2024-01-02"));
        let glob = format!("{root}/date=2024-01-0[12]/*.parquet");
        assert_eq!(discover(&glob, &["parquet"], None, None).unwrap().len(), 2);
        assert!(discover(&format!("{root}/nope"), &["parquet"], None, None).is_err());
    }
}
