//! `quiver features list|describe`: the registry of jobs and features,
//! read from the job files (the git repository is the registry).

use std::path::{Path, PathBuf};

use quiver_spec::DeploymentConfig;
use quiver_types::time::format_duration;

use crate::failure::Failure;
use crate::jobs::{self, Loaded};

fn load(paths: &[PathBuf], config: Option<&Path>) -> Result<Vec<Loaded>, Failure> {
    let paths = if paths.is_empty() {
        DeploymentConfig::load(config)?.jobs
    } else {
        paths.to_vec()
    };
    jobs::load(&paths, &[])
}

/// One line per job: name, entity, features, description.
pub fn list(paths: &[PathBuf], config: Option<&Path>) -> Result<(), Failure> {
    let loaded = load(paths, config)?;
    println!(
        "{:<36} {:<24} {:<48} DESCRIPTION",
        "JOB", "ENTITY", "FEATURES"
    );
    for l in &loaded {
        let entity = l.job.entity_names().join(",");
        let features: Vec<&str> = l
            .job
            .output
            .fields
            .iter()
            .enumerate()
            .filter(|(i, _)| !l.job.entity.contains(i))
            .map(|(_, f)| f.name.as_str())
            .collect();
        println!(
            "{:<36} {:<24} {:<48} {}",
            l.job.name,
            entity,
            features.join(","),
            l.spec.description.as_deref().unwrap_or("")
        );
    }
    Ok(())
}

/// Everything about one job.
pub fn describe(name: &str, paths: &[PathBuf], config: Option<&Path>) -> Result<(), Failure> {
    let loaded = load(paths, config)?;
    let Some(l) = loaded.iter().find(|l| l.job.name == name) else {
        let names: Vec<&str> = loaded.iter().map(|l| l.job.name.as_str()).collect();
        return Err(Failure::User(format!(
            "no job named `{name}` (jobs: {})",
            names.join(", ")
        )));
    };
    let (spec, job) = (&l.spec, &l.job);
    println!("job:         {}", job.name);
    println!("file:        {}", spec.file);
    if let Some(d) = &spec.description {
        println!("description: {d}");
    }
    if let Some(o) = &spec.owner {
        println!("owner:       {o}");
    }
    if !spec.tags.is_empty() {
        println!("tags:        {}", spec.tags.join(", "));
    }
    if let Some(v) = spec.version {
        println!("version:     {v}");
    }
    if !spec.params.is_empty() {
        println!(
            "params:      {}",
            spec.params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("entity:      {}", job.entity_names().join(", "));
    if let Some(o) = &spec.sinks.online {
        println!(
            "online ttl:  {}",
            o.ttl.map_or("none".to_string(), format_duration)
        );
    }
    println!("columns:");
    for (i, f) in job.output.fields.iter().enumerate() {
        let meta = spec
            .features
            .iter()
            .find(|m| m.column.value.eq_ignore_ascii_case(&f.name));
        let role = if job.entity.contains(&i) {
            "entity"
        } else {
            "feature"
        };
        let kind = meta.and_then(|m| m.kind).map(|k| k.name()).unwrap_or("");
        let pii = if meta.is_some_and(|m| m.is_pii) {
            "pii"
        } else {
            ""
        };
        let desc = meta.and_then(|m| m.description.as_deref()).unwrap_or("");
        println!(
            "  {:<28} {:<10} {:<8} {:<12} {:<4} {desc}",
            f.name,
            f.data_type.spec_name(),
            role,
            kind,
            pii
        );
    }
    Ok(())
}
