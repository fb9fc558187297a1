//! Quiver's built-in scalar SQL functions.
//!
//! The planner finds functions through [`registry()`]; each one checks its
//! arguments at plan time ([`ScalarFunction::return_type`], whose errors name
//! the argument: `argument 2 must be BIGINT, found VARCHAR`) and runs over
//! Arrow arrays at run time ([`ScalarFunction::invoke`]). The semantics
//! follow Flink's SQL dialect where Flink defines them, and DuckDB (which
//! computes the golden test corpus in `tests/golden`) for the details.
//!
//! Contract shared by every function:
//!
//! * a NULL argument gives a NULL result (an untyped `NULL` literal is
//!   accepted wherever a value is);
//! * bad or out-of-range values give NULL, never an error or a panic;
//! * a constant argument arrives as a scalar and is not copied per row;
//! * the result has exactly the Arrow type of the declared SQL type
//!   (timestamps are `Timestamp(Millisecond, "UTC")`).
//!
//! The families:
//!
//! * **strings** (`string.rs`): UPPER, LOWER, TRIM / LTRIM / RTRIM,
//!   CHAR_LENGTH, SUBSTRING, CONCAT, REPLACE, POSITION, LPAD / RPAD, REVERSE,
//!   SPLIT_INDEX. Lengths and positions count code points.
//! * **math** (`math.rs`): ABS, SIGN, ROUND, FLOOR, CEIL keep their input type;
//!   POWER, SQRT, LN, LOG10, EXP give DOUBLE and NULL outside their domain;
//!   GREATEST / LEAST.
//! * **date and time** (`datetime.rs`): EXTRACT and its shorthands (YEAR,
//!   MONTH, DAYOFWEEK, ...), FLOOR / CEIL to a unit, DATE_FORMAT,
//!   TIMESTAMPADD, TIMESTAMPDIFF, TO_TIMESTAMP, TO_DATE, TO_TIMESTAMP_LTZ.
//! * **geo** (`geo.rs`): GeoHash, S2Id, Distance.
//! * **JSON** (`json.rs`): JsonQuery, JsonUpdate, JsonDelete with RFC 9535
//!   JSONPath.
//! * **zoned time** (`zoned.rs`): StartOfWeek, EndOfWeek, StartOfMonth,
//!   EndOfMonth, TimeInDate, FormatTimeInZone (IANA zones), and
//!   TimestampFromUnix.
//! * **table functions** (`table.rs`), called in FROM as `LATERAL
//!   TABLE(f(...))`: HistogramBucket, OutlierMad.
//! * **arrays and maps** (`array.rs`): ARRAY[...], CARDINALITY, and Dagger's
//!   ElementAt, ListContains, Split, ArrayAggregate, ArrayOperate, MapGet,
//!   ExponentialMovingAverage and LinearTrend. SQL's `arr[i]` (1-based) and
//!   `map[key]` are bound to ElementAt and MapGet.
//! * **user functions** (`user/`): row-at-a-time Rust functions made into
//!   SQL functions by [`scalar_udf!`]; see [`user`] and `udfs/README.md`.
//!
//! The geo, JSON, zoned and array families follow Gojek Dagger's UDFs of the same
//! names (called case-insensitively, so Dagger's `StartOfWeek(...)` works
//! as written) with these differences, each also noted in its family's
//! docs and reference line:
//!
//! * bad input gives NULL where Dagger throws (NULL arguments, invalid
//!   JSON, a path that does not exist, latitude 91, an unknown zone in a
//!   column) or silently answers (an unknown zone reads as GMT in Dagger);
//! * weeks are Monday to Sunday for a Sunday too (Dagger puts a Sunday in
//!   the following week); TimeInDate rejects an hour or minute out of range
//!   rather than rolling over; TimestampFromUnix keeps the sign of its input;
//! * the time functions take and give TIMESTAMP, and also take Dagger's
//!   epoch BIGINTs (giving BIGINTs in the same unit);
//! * JSONPath is RFC 9535 rather than Jayway's dialect (the same for the
//!   usual paths); GeoHash does not wrap longitudes past ±180;
//! * ElementAt and MapGet return the element's type (Dagger: text); Split's
//!   delimiter is literal text, not a regular expression, and empty tokens
//!   are kept; ArrayAggregate and ArrayOperate take the element type from
//!   the array (Dagger's type argument is checked, then ignored); see
//!   `array.rs` for the rest.
//!
//! ElementAt keeps Dagger's index base: 0-based, negative from the end.
//! Arrays and maps are one level deep (`ARRAY<BIGINT>`, `MAP<VARCHAR,
//! DOUBLE>`); Dagger's ElementAt over an array of Protobuf messages (a path
//! into each row) has no counterpart, since Quiver has no struct type.
//!
//! `args.rs` holds the shared plumbing: argument checks and their error
//! texts, unit literals, and reading arguments as arrays or broadcast
//! scalars.
//!
//! [`reference_markdown()`] renders the function reference kept in
//! `udfs/FUNCTIONS.md`; a test fails when the file is stale, and
//! `QUIVER_BLESS=1 cargo test -p quiver-udfs` rewrites it.
//!
//! [`ScalarFunction::return_type`]: quiver_sql::ScalarFunction::return_type
//! [`ScalarFunction::invoke`]: quiver_sql::ScalarFunction::invoke

use std::fmt::Write as _;
use std::sync::Arc;

use quiver_sql::Registry;

mod args;
mod array;
mod datetime;
mod geo;
mod json;
mod math;
mod string;
mod table;
pub mod user;
mod wasm;
mod zoned;

pub use wasm::{FUEL_PER_CALL, MEMORY_LIMIT, WasmFunction};

use args::Builtin;

/// Every built-in function, family by family.
fn builtins() -> Vec<Builtin> {
    let mut all = string::functions();
    all.extend(math::functions());
    all.extend(datetime::functions());
    all.extend(geo::functions());
    all.extend(json::functions());
    all.extend(zoned::functions());
    all.extend(array::functions());
    all
}

/// A registry holding every built-in function under its name and aliases
/// (`SUBSTR`, `CHARACTER_LENGTH`, `LENGTH`, `CEILING`, `POW`), and every
/// user function listed in `user/mod.rs`.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    for f in builtins() {
        let (name, aliases) = (f.name, f.aliases);
        r.register(Arc::new(f));
        for alias in aliases {
            r.alias(alias, name);
        }
    }
    for f in user::functions() {
        r.register(Arc::new(f));
    }
    for f in table::functions() {
        r.register_table(f);
    }
    r
}

/// The function reference as a markdown table (name, signature, description),
/// one row per name including aliases, sorted by name. This is the content
/// of `udfs/FUNCTIONS.md`.
pub fn reference_markdown() -> String {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    for f in builtins() {
        rows.push((
            f.name.to_string(),
            f.signature.to_string(),
            f.doc.to_string(),
        ));
        for alias in f.aliases {
            rows.push((
                alias.to_string(),
                f.signature.replace(f.name, alias),
                format!("Alias of `{}`.", f.name),
            ));
        }
    }
    for f in user::functions() {
        use quiver_sql::ScalarFunction as _;
        rows.push((
            f.name().to_string(),
            f.signature().to_string(),
            f.doc().to_string(),
        ));
    }
    rows.sort();
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    out.push_str("# Built-in functions\n\n");
    out.push_str("<!-- Generated by quiver_udfs::reference_markdown(); do not edit by hand.\n");
    out.push_str("     Regenerate with: QUIVER_BLESS=1 cargo test -p quiver-udfs -->\n\n");
    out.push_str(
        "NULL in gives NULL out, and bad or out-of-range values give NULL rather than an error. ",
    );
    out.push_str("Strings count Unicode code points. Timestamps are milliseconds in UTC; a DATE is accepted wherever a TIMESTAMP is. ");
    out.push_str("Units (`DAY`, `MONTH`, ...) must be constants.\n\n");
    out.push_str("The mixed-case functions (`GeoHash`, `JsonQuery`, `StartOfWeek`, ...) follow Gojek Dagger's UDFs of the same name; names are case-insensitive. ");
    out.push_str("Where Quiver differs: bad input gives NULL where Dagger throws; weeks run Monday to Sunday (Dagger puts a Sunday in the next week); ");
    out.push_str("the week, month and TimeInDate functions take and give TIMESTAMP, or Dagger's epoch BIGINT (milliseconds for weeks, seconds otherwise); ");
    out.push_str("an unknown time zone is an error (constant) or NULL (column), not GMT; TimestampFromUnix keeps the sign of its input; ");
    out.push_str("JSONPath is RFC 9535. ");
    out.push_str("Array and map functions: `ElementAt` is 0-based with negative indexes from the end, as in Dagger, while SQL's `arr[i]` is 1-based (standard SQL); `map[key]` is `MapGet`. ");
    out.push_str("ElementAt and MapGet give the element's type (Dagger: its text); Split takes a literal delimiter (Dagger: a regular expression) and keeps empty tokens; ArrayAggregate/ArrayOperate read the element type from the array and skip (aggregate) or keep (operate) NULL elements where Dagger throws; a NULL array gives NULL (Dagger: false from ListContains, an empty array from Split). ");
    out.push_str("Dagger's ElementAt over arrays of Protobuf messages (a path into each element) is not provided: Quiver has no struct type.\n\n");
    out.push_str("Functions written with `scalar_udf!` (see `udfs/README.md`) are listed too.\n\n");
    out.push_str("| Name | Signature | Description |\n| --- | --- | --- |\n");
    for (name, signature, doc) in rows {
        let _ = writeln!(
            out,
            "| `{name}` | `{}` | {} |",
            cell(&signature),
            cell(&doc)
        );
    }
    out.push_str("\n## Table functions\n\n");
    out.push_str("Called in FROM, as in Flink and Dagger: `FROM s, LATERAL TABLE(f(...)) AS t(column, ...)` (also `CROSS JOIN LATERAL TABLE(...)`), or `LEFT JOIN LATERAL TABLE(...) AS t(...) ON TRUE` to keep a row the function gives nothing for, once, with NULLs. ");
    out.push_str("Each output row is its input row's columns followed by the function's, with the input row's event time; the alias may rename the function's columns.\n\n");
    out.push_str("| Name | Signature | Description |\n| --- | --- | --- |\n");
    for f in table::functions() {
        let signature = table::signatures()
            .iter()
            .find(|(n, _)| *n == f.name())
            .map_or("", |(_, s)| *s);
        let _ = writeln!(
            out,
            "| `{}` | `{}` | {} |",
            f.name(),
            cell(signature),
            cell(f.doc())
        );
    }
    out.push_str("\n## Aggregate functions\n\n");
    out.push_str("Aggregates run per group and window (`GROUP BY TUMBLE(...)` or `HOP(...)`); COUNT, SUM, AVG, MIN, MAX, STDDEV_POP and VAR_POP also run OVER a window. ");
    out.push_str("They skip NULLs, and over no non-NULL value give NULL (the counts give 0). Every aggregate is mergeable: a hopping window merges its panes' partial states when it is emitted, and partial states merged in any order or grouping give the same bits, so a backfill and a live run agree.\n\n");
    out.push_str("Where Quiver differs from Gojek Dagger's aggregate UDFs: `DistinctCount` counts values of any type and returns BIGINT (Dagger: VARCHAR in, INT out); ");
    out.push_str("Dagger's `PercentileAggregator(percentile, value)` takes the percentile first and in (0, 100], and estimates it as Apache Commons Math's `Percentile` does (position p·(n+1)); Quiver's `PERCENTILE(value, fraction)` takes a fraction in [0, 1] and interpolates at p·(n−1) as DuckDB's `quantile_cont` (so `PercentileAggregator(90, x)` becomes `PERCENTILE(x, 0.9)`, with slightly different values for small groups); ");
    out.push_str("Dagger has no FIRST/LAST by event time (Flink's `FIRST_VALUE`/`LAST_VALUE` take arrival order, which a backfill cannot reproduce), so Quiver's are by event time with ties broken by value. ");
    out.push_str("`CollectArray` collects in event-time order, ties by value (Dagger: arrival order); `LAST_K`/`TOP_K` and `HISTOGRAM` are not Dagger UDFs but common feature aggregates (DuckDB's `max(x, k)` and `histogram(x)`); `Features`/`FeaturesWithType` (Feast rows) are not planned. ");
    out.push_str("Aggregates take scalar arguments (COUNT also counts arrays and maps). DISTINCT_COUNT, PERCENTILE, APPROX_PERCENTILE, FIRST_VALUE, LAST_VALUE, COLLECT_ARRAY, LAST_K, TOP_K and HISTOGRAM are refused in OVER windows.\n\n");
    out.push_str("| Name | Signature | Description |\n| --- | --- | --- |\n");
    for (name, signature, doc) in quiver_sql::AGGREGATE_REFERENCE {
        let _ = writeln!(out, "| `{name}` | `{}` | {} |", cell(signature), cell(doc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_sql::FunctionRegistry;

    #[test]
    fn functions_md_is_up_to_date() {
        // Read when the test runs: a cached test binary may come from a
        // checkout at another path.
        let path = std::path::Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
        )
        .join("FUNCTIONS.md");
        let want = reference_markdown();
        if std::env::var("QUIVER_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(path, &want).expect("write FUNCTIONS.md");
            return;
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "udfs/FUNCTIONS.md is out of date with reference_markdown(); regenerate it with\n\n    QUIVER_BLESS=1 cargo test -p quiver-udfs functions_md\n"
        );
    }

    #[test]
    fn registry_has_every_name_and_alias() {
        let r = registry();
        let names = r.names();
        for name in [
            "UPPER",
            "LOWER",
            "TRIM",
            "LTRIM",
            "RTRIM",
            "CHAR_LENGTH",
            "CHARACTER_LENGTH",
            "LENGTH",
            "SUBSTRING",
            "SUBSTR",
            "CONCAT",
            "REPLACE",
            "POSITION",
            "LPAD",
            "RPAD",
            "REVERSE",
            "SPLIT_INDEX",
            "ABS",
            "SIGN",
            "ROUND",
            "FLOOR",
            "CEIL",
            "CEILING",
            "POWER",
            "POW",
            "SQRT",
            "LN",
            "LOG10",
            "EXP",
            "GREATEST",
            "LEAST",
            "EXTRACT",
            "YEAR",
            "QUARTER",
            "MONTH",
            "WEEK",
            "DAYOFMONTH",
            "DAYOFYEAR",
            "DAYOFWEEK",
            "HOUR",
            "MINUTE",
            "SECOND",
            "DATE_FORMAT",
            "TIMESTAMPADD",
            "TIMESTAMPDIFF",
            "TO_TIMESTAMP",
            "TO_TIMESTAMP_LTZ",
            "TO_DATE",
            "GEOHASH",
            "S2ID",
            "DISTANCE",
            "JSONQUERY",
            "JSONUPDATE",
            "JSONDELETE",
            "STARTOFWEEK",
            "ENDOFWEEK",
            "STARTOFMONTH",
            "ENDOFMONTH",
            "TIMEINDATE",
            "FORMATTIMEINZONE",
            "TIMESTAMPFROMUNIX",
            "MASK_EMAIL",
            "CLAMP",
            "ARRAY",
            "CARDINALITY",
            "ELEMENTAT",
            "LISTCONTAINS",
            "SPLIT",
            "ARRAYAGGREGATE",
            "ARRAYOPERATE",
            "MAPGET",
            "EXPONENTIALMOVINGAVERAGE",
            "LINEARTREND",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing");
        }
        assert_eq!(r.scalar("substr").unwrap().name(), "SUBSTRING");
        assert_eq!(r.scalar("CEILING").unwrap().name(), "CEIL");
        assert!(r.scalar("INITCAP").is_none());
        // Dagger's spelling finds the function.
        assert_eq!(r.scalar("StartOfWeek").unwrap().name(), "STARTOFWEEK");
        assert_eq!(r.scalar("mask_email").unwrap().name(), "MASK_EMAIL");
        // Every function documents itself, names itself in upper case, and
        // has one reference row per registered name.
        for (name, f) in r.iter() {
            assert!(!f.doc().is_empty(), "{name} has no doc");
            assert_eq!(f.name(), f.name().to_ascii_uppercase());
        }
        let md = reference_markdown();
        assert_eq!(
            scalar_section(&md)
                .lines()
                .filter(|l| l.starts_with("| `"))
                .count(),
            r.iter().count()
        );
    }

    /// The scalar functions' table (the table functions follow it).
    fn scalar_section(md: &str) -> &str {
        md.split("## Table functions").next().unwrap_or(md)
    }

    #[test]
    fn reference_is_sorted_and_escaped() {
        let md = reference_markdown();
        let names: Vec<&str> = scalar_section(&md)
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .map(|l| &l[..l.find('`').unwrap()])
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(
            md.contains("| `CEILING` | `CEILING(x) \\| CEILING(t TO unit)` | Alias of `CEIL`. |")
        );
    }
}
