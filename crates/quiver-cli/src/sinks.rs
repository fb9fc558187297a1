//! Sinks of a job, as both `backfill` and `run` set them up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use quiver_connectors::dead_letter::{DeadLetterSink, RefusedRows};
use quiver_connectors::kafka::client_config;
use quiver_connectors::{HistoricalSink, OnlineSink};
use quiver_dataflow::postprocess::RejectSink;
use quiver_spec::{DeadLetterSpec, DeploymentConfig, PostprocessorSpec};
use quiver_store::{JobMeta, OnlineStore};

use crate::cmd_backfill::open_store;
use crate::failure::Failure;
use crate::jobs::Loaded;

/// The online store, when any job writes to it.
pub fn store_for(
    loaded: &[Loaded],
    config: &DeploymentConfig,
) -> Result<Option<Arc<dyn OnlineStore>>, Failure> {
    if loaded.iter().any(|l| l.spec.sinks.online.is_some()) {
        Ok(Some(open_store(config)?))
    } else {
        Ok(None)
    }
}

/// The job's dead-letter sink, when it has one.
pub fn dead_letter_sink(
    l: &Loaded,
    config: &DeploymentConfig,
) -> Result<Option<Arc<DeadLetterSink>>, Failure> {
    let opened = match &l.spec.sinks.dead_letter {
        None => return Ok(None),
        Some(DeadLetterSpec::Ndjson(p)) => DeadLetterSink::ndjson(resolve(&l.spec.dir, p)),
        Some(DeadLetterSpec::Kafka(t)) => {
            let kafka = config.kafka.as_ref().ok_or_else(|| {
                Failure::User(format!(
                    "{}: the dead-letter topic `{t}` needs Kafka brokers; add `kafka: {{brokers: localhost:9092}}` to quiver.yaml",
                    l.spec.file
                ))
            })?;
            DeadLetterSink::kafka(&client_config(kafka), t)
        }
    };
    opened
        .map(|s| Some(Arc::new(s)))
        .map_err(|e| Failure::User(format!("dead-letter sink of job `{}`: {e}", l.job.name)))
}

/// Where the job's `filter_invalid` steps send refused rows: its
/// dead-letter sink (opened only for jobs that have such a step, so other
/// backfills do not touch it).
pub fn refused_rows(
    l: &Loaded,
    config: &DeploymentConfig,
    opened: Option<&Arc<DeadLetterSink>>,
) -> Result<Option<Arc<dyn RejectSink>>, Failure> {
    let refuses = l
        .spec
        .postprocessors
        .iter()
        .any(|p| matches!(p, PostprocessorSpec::FilterInvalid(_)));
    if !refuses {
        return Ok(None);
    }
    let sink = match opened {
        Some(s) => Some(s.clone()),
        None => dead_letter_sink(l, config)?,
    };
    Ok(sink.map(|sink| {
        Arc::new(RefusedRows {
            sink,
            job: l.job.name.clone(),
        }) as Arc<dyn RejectSink>
    }))
}

/// The job's historical sink, opened by `open(job, dataset, staging, schema)`,
/// when it has one.
pub fn historical_sink(
    l: &Loaded,
    config: &DeploymentConfig,
    open: impl FnOnce(&str, PathBuf, &Path, SchemaRef) -> Result<HistoricalSink, String>,
) -> Result<Option<Arc<HistoricalSink>>, Failure> {
    if l.spec.sinks.historical.is_none() {
        return Ok(None);
    }
    let (dataset, staging) = historical_paths(l, config);
    open(&l.job.name, dataset, &staging, l.job.output.to_arrow())
        .map(|h| Some(Arc::new(h)))
        .map_err(|e| Failure::User(format!("historical store of job `{}`: {e}", l.job.name)))
}

/// The historical dataset of a job and the staging directory beside it.
pub fn historical_paths(l: &Loaded, config: &DeploymentConfig) -> (PathBuf, PathBuf) {
    let dataset = match l
        .spec
        .sinks
        .historical
        .as_ref()
        .and_then(|h| h.path.as_ref())
    {
        Some(p) if Path::new(p).is_absolute() => PathBuf::from(p),
        Some(p) => l.spec.dir.join(p),
        None => config.historical_store.join(&l.job.name),
    };
    let staging = dataset
        .parent()
        .map(|p| p.join(".staging"))
        .unwrap_or_else(|| PathBuf::from(".staging"));
    (dataset, staging)
}

/// Registers the job in the online store and returns its sink, when the
/// job has an online sink.
pub fn online_sink(
    l: &Loaded,
    store: &Arc<dyn OnlineStore>,
    flush_on_advance: bool,
) -> Result<Option<OnlineSink>, Failure> {
    let Some(o) = &l.spec.sinks.online else {
        return Ok(None);
    };
    let features: Vec<usize> = (0..l.job.output.len())
        .filter(|i| !l.job.entity.contains(i))
        .collect();
    let fields = |idx: &[usize]| -> Vec<_> {
        idx.iter()
            .map(|&i| l.job.output.fields[i].clone())
            .collect()
    };
    let meta = JobMeta::new(
        &l.job.name,
        &fields(&l.job.entity),
        &fields(&features),
        o.ttl,
        l.spec.description.clone(),
    );
    store
        .register(&meta)
        .map_err(|e| Failure::Internal(e.into()))?;
    Ok(Some(OnlineSink {
        store: store.clone(),
        job: l.job.name.clone(),
        entity: l.job.entity.clone(),
        features,
        flush_on_advance,
    }))
}

/// `p` from a job file, relative to the job file's folder.
fn resolve(dir: &Path, p: &str) -> PathBuf {
    if Path::new(p).is_absolute() {
        PathBuf::from(p)
    } else {
        dir.join(p)
    }
}
