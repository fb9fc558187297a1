//! `quiver get JOB --key col=value`: one entity's online features as JSON.

use std::path::PathBuf;

use quiver_server::wire::{parse_str, to_json};
use quiver_spec::DeploymentConfig;
use quiver_types::Value;
use quiver_types::time::format_timestamp;
use serde_json::{Map, Value as Json, json};

use crate::cmd_backfill::open_store;
use crate::failure::Failure;
use quiver_types::time::parse_time_arg;

/// Arguments of `quiver get`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The job (feature view) name.
    pub job: String,
    /// An entity column and its value, `col=value` (repeat for composite keys).
    #[arg(long = "key", required = true)]
    pub keys: Vec<String>,
    /// Deployment file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Evaluate TTLs as of this time instead of now.
    #[arg(long)]
    pub at: Option<String>,
}

/// Prints the features of one entity.
pub fn run(args: GetArgs) -> Result<(), Failure> {
    let config = DeploymentConfig::load(args.config.as_deref())?;
    let out = lookup(&config, &args.job, &args.keys, args.at.as_deref())?;
    println!(
        "{}",
        serde_json::to_string_pretty(&out).map_err(|e| Failure::Internal(e.into()))?
    );
    Ok(())
}

/// The features of one entity of `job` as JSON: `keys` are `col=value`,
/// `at` evaluates TTLs at another time than now.
pub fn lookup(
    config: &DeploymentConfig,
    job: &str,
    keys: &[String],
    at: Option<&str>,
) -> Result<Json, Failure> {
    let store = open_store(config)?;
    let Some(meta) = store.job(job).map_err(|e| Failure::Internal(e.into()))? else {
        let jobs: Vec<String> = store
            .jobs()
            .map_err(|e| Failure::Internal(e.into()))?
            .into_iter()
            .map(|m| m.name)
            .collect();
        return Err(Failure::User(format!(
            "job `{job}` is not in the online store{}; run `quiver backfill` on it first",
            if jobs.is_empty() {
                String::new()
            } else {
                format!(" (it holds: {})", jobs.join(", "))
            }
        )));
    };
    let now = chrono::Utc::now().timestamp_millis();
    let at = at
        .map(|a| parse_time_arg(a, now))
        .transpose()
        .map_err(|e| Failure::User(format!("--at: {e}")))?
        .unwrap_or(now);
    let entity = meta.entity_fields();
    let mut key = vec![Value::Null; entity.len()];
    let mut seen = vec![false; entity.len()];
    let names: Vec<&str> = entity.iter().map(|f| f.name.as_str()).collect();
    for k in keys {
        let Some((col, value)) = k.split_once('=') else {
            return Err(Failure::User(format!(
                "--key `{k}` is not `column=value` (entity columns: {})",
                names.join(", ")
            )));
        };
        let Some(i) = entity
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(col.trim()))
        else {
            return Err(Failure::User(format!(
                "`{col}` is not an entity column of `{job}` (entity columns: {})",
                names.join(", ")
            )));
        };
        key[i] = parse_str(value.trim(), entity[i].data_type).ok_or_else(|| {
            Failure::User(format!(
                "`{value}` is not a valid {} for `{}`",
                entity[i].data_type.spec_name(),
                entity[i].name
            ))
        })?;
        seen[i] = true;
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(Failure::User(format!(
            "missing --key {}=... (entity columns: {})",
            entity[i].name,
            names.join(", ")
        )));
    }
    // Feature names come from the metadata the read used, not the copy
    // the key was parsed with (the job may have been registered again).
    let (meta, read) = store
        .read_job(job, std::slice::from_ref(&key), at)
        .map_err(|e| Failure::Internal(e.into()))?;
    let r = &read[0];
    let mut features = Map::new();
    for (i, f) in meta.feature_fields().iter().enumerate() {
        let value = r
            .row
            .as_ref()
            .map_or(Json::Null, |row| to_json(&row.values[i]));
        features.insert(
            f.name.clone(),
            json!({"value": value, "status": r.statuses[i].name()}),
        );
    }
    let entity_json: Map<String, Json> = entity
        .iter()
        .zip(&key)
        .map(|(f, v)| (f.name.clone(), to_json(v)))
        .collect();
    Ok(json!({
        "job": job,
        "entity": entity_json,
        "event_time": r.row.as_ref().map(|row| format_timestamp(row.event_time)),
        "features": features,
    }))
}
