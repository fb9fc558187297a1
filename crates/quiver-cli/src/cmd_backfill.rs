//! `quiver backfill`: run jobs over their bounded sources into their sinks.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use quiver_connectors::{HistoricalFactory, HistoricalSink, source_def};
use quiver_dataflow::metrics::RunMetrics;
use quiver_dataflow::sink::SinkFactory;
use quiver_dataflow::source::SourceDef;
use quiver_dataflow::{JobRun, RunOptions};
use quiver_spec::{DeploymentConfig, OnlineStoreConfig, SourceSpec};
use quiver_store::{EmbeddedStore, OnlineStore, RedisStore};
use quiver_types::Diagnostic;
use quiver_types::time::{DAY, format_date, format_timestamp};

use crate::failure::Failure;
use crate::jobs::{self, Loaded};
use crate::progress::{self, group};
use crate::sinks;
use quiver_types::time::parse_time_arg;

/// Arguments of `quiver backfill`.
#[derive(clap::Args, Debug)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub select: jobs::Selection,
    /// First event time of the interval (date, timestamp, `today-7d`, ...).
    #[arg(long)]
    pub start: Option<String>,
    /// End of the interval, exclusive.
    #[arg(long)]
    pub end: Option<String>,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Serve Prometheus metrics at http://ADDR/metrics while the backfill
    /// runs (not `metrics.listen`, which a live run may hold).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// When the backfill ends (done or failed), put its metrics to the
    /// Prometheus Pushgateway at URL (e.g. http://127.0.0.1:9091).
    #[arg(long, value_name = "URL")]
    pub metrics_push: Option<String>,
}

/// Runs a backfill.
pub fn run(args: BackfillArgs) -> Result<(), Failure> {
    let (config, loaded) = args.select.load()?;
    let now = chrono::Utc::now().timestamp_millis();
    let start = args
        .start
        .as_deref()
        .map(|s| parse_time_arg(s, now))
        .transpose()
        .map_err(|e| Failure::User(format!("--start: {e}")))?;
    let end = args
        .end
        .as_deref()
        .map(|s| parse_time_arg(s, now))
        .transpose()
        .map_err(|e| Failure::User(format!("--end: {e}")))?;
    if let (Some(s), Some(e)) = (start, end)
        && s >= e
    {
        return Err(Failure::User(format!(
            "--start ({}) must be before --end ({})",
            format_timestamp(s),
            format_timestamp(e)
        )));
    }
    let workers = args.select.workers();

    let (sources, runs_sources) = plan_sources(&loaded)?;
    let mut loaded = loaded;
    for (l, renames) in loaded.iter_mut().zip(&runs_sources) {
        l.job
            .plan
            .rename_sources(&|s| renames.get(s).cloned().unwrap_or_else(|| s.to_string()));
    }

    // Sinks.
    let store = sinks::store_for(&loaded, &config)?;
    let days = day_interval(start, end, &loaded)?;
    let mut historical: Vec<Option<Arc<HistoricalSink>>> = Vec::new();
    let mut runs = Vec::new();
    for l in &loaded {
        let mut sinks: Vec<Arc<dyn SinkFactory>> = Vec::new();
        let hist = sinks::historical_sink(l, &config, |job, dataset, staging, schema| {
            HistoricalSink::new(job, dataset, staging, schema, days)
        })?;
        if let Some(h) = &hist {
            sinks.push(Arc::new(HistoricalFactory(h.clone())));
        }
        if let Some(store) = &store
            && let Some(s) = sinks::online_sink(l, store, false)?
        {
            sinks.push(Arc::new(s));
        }
        historical.push(hist);
        runs.push(JobRun {
            job: l.job.clone(),
            sinks,
            postprocess: l.postprocess.clone(),
            rejects: sinks::refused_rows(l, &config, None)?,
        });
    }

    let metrics = Arc::new(RunMetrics::new(sources.len(), runs.len(), workers));
    let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let job_names: Vec<String> = loaded.iter().map(|l| l.job.name.clone()).collect();
    // One registry for `--metrics-listen` and `--metrics-push`.
    let registry = crate::metrics_http::registry(
        &metrics,
        names.clone(),
        job_names.clone(),
        quiver_postprocess::collectors(),
    )?;
    let push = |succeeded: bool| match &args.metrics_push {
        None => Ok(()),
        Some(url) => crate::metrics_http::push(url, &registry, &job_names, succeeded),
    };
    // A failure after the run (its own, or committing its files) is the
    // one to report; a failed push only warns.
    let failed = |e: Failure| {
        if let Err(p) = push(false) {
            eprintln!("warning: {p}");
        }
        e
    };
    let _metrics_server = match &args.metrics_listen {
        None => None,
        Some(addr) => Some(crate::metrics_http::serve(addr, registry.clone())?),
    };
    let show = !args.no_progress && std::io::stderr().is_terminal();
    let bar = progress::start(metrics.clone(), None, show);
    let began = Instant::now();
    let result = quiver_dataflow::run(
        runs,
        sources,
        RunOptions {
            workers,
            start,
            end,
            live: None,
        },
        metrics.clone(),
    );
    bar.finish();
    let elapsed = began.elapsed().as_secs_f64();
    if let Err(e) = result {
        for h in historical.iter().flatten() {
            h.abort();
        }
        return Err(failed(if e.is_user_error() {
            Failure::User(e.to_string())
        } else {
            Failure::Internal(e.into())
        }));
    }
    // The online rows are visible; make them durable before saying so.
    if let Some(s) = &store {
        s.sync()
            .map_err(|e| failed(Failure::Internal(anyhow::anyhow!("{e}"))))?;
    }
    let mut commits = Vec::new();
    for h in &historical {
        commits.push(match h {
            Some(h) => Some(h.commit().map_err(|e| {
                failed(Failure::Internal(anyhow::anyhow!(
                    "committing {}: {e}",
                    h.dataset().display()
                )))
            })?),
            None => None,
        });
    }

    // Summary.
    println!(
        "backfilled {} job{} in {elapsed:.1}s with {workers} worker{}",
        loaded.len(),
        if loaded.len() == 1 { "" } else { "s" },
        if workers == 1 { "" } else { "s" }
    );
    if let (Some(s), Some(e)) = (start, end) {
        println!(
            "  interval [{}, {})",
            format_timestamp(s),
            format_timestamp(e)
        );
    }
    for (i, name) in names.iter().enumerate() {
        let c = &metrics.sources[i];
        let read = c.rows_read.load(Ordering::Relaxed);
        let late = c.rows_late.load(Ordering::Relaxed);
        let invalid = c.rows_invalid.load(Ordering::Relaxed);
        println!(
            "  source {name}: {} rows read ({}/s), {} late, {} without event time",
            group(read),
            group((read as f64 / elapsed.max(1e-3)) as u64),
            group(late),
            group(invalid)
        );
        if late > 0 {
            println!(
                "    warning: {late} rows arrived later than the watermark delay allows and were dropped; raise `watermark_delay` of `{name}` to keep them"
            );
        }
    }
    for (j, l) in loaded.iter().enumerate() {
        let c = &metrics.jobs[j];
        let mut parts = vec![format!(
            "{} rows",
            group(c.rows_out.load(Ordering::Relaxed))
        )];
        if l.job.windowed() {
            parts.push(format!(
                "{} windows",
                group(c.windows_emitted.load(Ordering::Relaxed))
            ));
        }
        if let (Some(h), Some(Some(summary))) = (&historical[j], commits.get(j)) {
            parts.push(format!(
                "historical {} ({} days written, {} removed)",
                h.dataset().display(),
                summary.written.len(),
                summary.removed.len()
            ));
        }
        if l.spec.sinks.online.is_some() {
            parts.push("online store".to_string());
        }
        println!("  job {}: {}", l.job.name, parts.join(", "));
    }
    for line in quiver_postprocess::summary(&job_names) {
        println!("  {line}");
    }
    push(true).map_err(|e| match e {
        Failure::User(m) => Failure::User(format!(
            "{m} (the backfill itself finished and is committed)"
        )),
        other => other,
    })
}

/// A job's source names mapped to the run's (distinct) source names.
type Renames = HashMap<String, String>;

/// Every distinct source of the loaded jobs, and per job the renames of its
/// source names (two files may both call different data `bookings`).
fn plan_sources(loaded: &[Loaded]) -> Result<(Vec<SourceDef>, Vec<Renames>), Failure> {
    let mut defs: Vec<(SourceSpec, SourceDef)> = Vec::new();
    let mut renames = Vec::new();
    let mut errors = quiver_types::Diagnostics::new();
    for l in loaded {
        let mut map = HashMap::new();
        for name in l.job.plan.sources() {
            let Some(spec) = l.spec.source(&name) else {
                continue;
            };
            if spec.bounded.is_none() {
                errors.push(
                    Diagnostic::at(
                        spec.name.pos,
                        format!("source `{name}` has no `bounded:` input to backfill from"),
                    )
                    .with_help(
                        "add `bounded: {parquet: path/}`; Kafka-only sources run with `quiver run`",
                    )
                    .in_file(&l.spec.file),
                );
                continue;
            }
            if let Some(b) = &spec.bounded {
                let p = &b.path.value;
                if !p.contains(['*', '?', '[']) && !Path::new(p).exists() {
                    errors.push(
                        Diagnostic::at(b.path.pos, format!("source `{name}`: `{p}` does not exist"))
                            .with_help("create the data first (e.g. `quiver generate`), or fix the path (relative paths start at the job file's directory)")
                            .in_file(&l.spec.file),
                    );
                    continue;
                }
            }
            let same = |s: &SourceSpec| {
                s.bounded == spec.bounded
                    && s.schema == spec.schema
                    && s.event_time == spec.event_time
                    && s.watermark_delay == spec.watermark_delay
            };
            let internal = match defs
                .iter()
                .find(|(s, _)| s.name.value == spec.name.value && same(s))
            {
                Some((_, d)) => d.name.clone(),
                None => {
                    let taken = defs
                        .iter()
                        .filter(|(_, d)| d.name == name || d.name.starts_with(&format!("{name}@")))
                        .count();
                    let internal = if taken == 0 {
                        name.clone()
                    } else {
                        format!("{name}@{}", taken + 1)
                    };
                    let mut def = source_def(spec).expect("bounded");
                    def.name = internal.clone();
                    defs.push((spec.clone(), def));
                    internal
                }
            };
            map.insert(name.clone(), internal);
        }
        renames.push(map);
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    Ok((defs.into_iter().map(|(_, d)| d).collect(), renames))
}

/// The days a run replaces in historical stores; bounds must be midnights.
fn day_interval(
    start: Option<i64>,
    end: Option<i64>,
    loaded: &[Loaded],
) -> Result<Option<(i32, i32)>, Failure> {
    if start.is_none() && end.is_none() {
        return Ok(None);
    }
    if loaded.iter().any(|l| l.spec.sinks.historical.is_some()) {
        for (flag, t) in [("--start", start), ("--end", end)] {
            if let Some(t) = t
                && t.rem_euclid(DAY) != 0
            {
                let day = format_date(t.div_euclid(DAY) as i32);
                return Err(Failure::User(format!(
                    "{flag} {} is not a day boundary; historical partitions are whole UTC days, so an interval run replaces whole days (use {flag} {day})",
                    format_timestamp(t)
                )));
            }
        }
    }
    Ok(Some((
        start.map_or(i32::MIN, |s| s.div_euclid(DAY) as i32),
        end.map_or(i32::MAX, |e| e.div_euclid(DAY) as i32),
    )))
}

/// Opens the configured online store.
pub fn open_store(config: &DeploymentConfig) -> Result<Arc<dyn OnlineStore>, Failure> {
    match &config.online_store {
        OnlineStoreConfig::Embedded(dir) => EmbeddedStore::open(dir)
            .map(|s| Arc::new(s) as Arc<dyn OnlineStore>)
            .map_err(|e| Failure::User(e.to_string())),
        // Errors name the URL with its password masked.
        OnlineStoreConfig::Redis(url) => RedisStore::open(url)
            .map(|s| Arc::new(s) as Arc<dyn OnlineStore>)
            .map_err(|e| Failure::User(e.to_string())),
    }
}
