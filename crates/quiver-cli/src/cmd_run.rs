//! `quiver run`: jobs fed live from Kafka (and, for hybrid sources, from
//! their history first), until stopped.
//!
//! The dataflow is the backfill's. Around it this command:
//! * opens one [`KafkaSource`] per stream source, resuming from its
//!   checkpoint when there is one; each job's output before the newest
//!   checkpoint of its sources is suppressed (the run that saved it had
//!   written it), and a job whose sources have none writes everything;
//! * writes checkpoints every `--checkpoint-interval`: the frontier below
//!   which every sink is durable (historical days committed, online rows
//!   written, Kafka output flushed), with each partition's resume position,
//!   saved to the state directory and committed to the consumer group;
//! * on SIGINT or SIGTERM (or `--stop-at`), stops reading, drains the
//!   dataflow up to the watermark, writes a last checkpoint and exits 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use quiver_connectors::dead_letter::DeadLetterSink;
use quiver_connectors::kafka::check_topic;
use quiver_connectors::kafka::checkpoint::{Checkpoint, GRANULARITY, floor};
use quiver_connectors::kafka::client_config;
use quiver_connectors::kafka::decode::Payload;
use quiver_connectors::kafka::encode::Encoder;
use quiver_connectors::kafka::metrics::KafkaCollector;
use quiver_connectors::kafka::sink::KafkaSink;
use quiver_connectors::kafka::source::{KafkaSource, KafkaSourceOptions, StartFrom};
use quiver_connectors::parquet_source::ParquetSource;
use quiver_connectors::{HistoricalFactory, HistoricalSink, source_def};
use quiver_dataflow::executor::LiveOptions;
use quiver_dataflow::metrics::RunMetrics;
use quiver_dataflow::sink::SinkFactory;
use quiver_dataflow::source::SourceDef;
use quiver_dataflow::{JobRun, RunOptions};
use quiver_spec::FileFormat;
use quiver_store::OnlineStore;
use quiver_types::time::{DAY, format_timestamp};

use crate::failure::Failure;
use crate::jobs;
use crate::metrics_http;
use crate::progress::group;
use crate::sinks;
use quiver_types::time::parse_time_arg;

/// Arguments of `quiver run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub select: jobs::Selection,
    /// Hybrid sources: read history before this time and Kafka from it
    /// (default: the end of the Parquet history).
    #[arg(long)]
    pub switch_at: Option<String>,
    /// Stop (drain, checkpoint, exit 0) once the watermark reaches this time.
    #[arg(long)]
    pub stop_at: Option<String>,
    /// Seconds between checkpoints.
    #[arg(long, default_value_t = 5.0)]
    pub checkpoint_interval: f64,
    /// Serve Prometheus metrics at http://ADDR/metrics (default: quiver.yaml's
    /// `metrics.listen`, else none).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

struct LiveSource {
    name: String,
    kafka: Arc<KafkaSource>,
    checkpoint_file: PathBuf,
    /// The frontier of the checkpoint it resumed from.
    resumed_at: Option<i64>,
}

/// Runs jobs live.
pub fn run(args: RunArgs) -> Result<(), Failure> {
    // From the start, so a signal during start-up also stops cleanly.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot handle signals: {e}")))?;
    }
    let (config, loaded) = args.select.load()?;
    let kafka_cfg = config.kafka.clone().ok_or_else(|| {
        Failure::User(format!(
            "{}: no Kafka brokers configured; add `kafka: {{brokers: localhost:9092}}` to quiver.yaml",
            config.file.as_deref().unwrap_or("quiver.yaml (absent)")
        ))
    })?;
    let client = client_config(&kafka_cfg);
    let now = chrono::Utc::now().timestamp_millis();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<i64>, Failure> {
        v.as_deref()
            .map(|s| parse_time_arg(s, now))
            .transpose()
            .map_err(|e| Failure::User(format!("{flag}: {e}")))
    };
    let switch_at = time("--switch-at", &args.switch_at)?;
    let stop_at = time("--stop-at", &args.stop_at)?;
    let workers = args.select.workers();

    // Dead letters, per job.
    let mut dead: Vec<Vec<Arc<DeadLetterSink>>> = Vec::new();
    for l in &loaded {
        dead.push(sinks::dead_letter_sink(l, &config)?.into_iter().collect());
    }

    // Sources: one per distinct source name.
    let mut defs: Vec<SourceDef> = Vec::new();
    let mut live: Vec<LiveSource> = Vec::new();
    let mut frontiers: Vec<(String, i64)> = Vec::new();
    for l in &loaded {
        for name in l.job.plan.sources() {
            let Some(spec) = l.spec.source(&name) else {
                continue;
            };
            if defs.iter().any(|d| d.name == name) {
                continue;
            }
            let Some(u) = spec.unbounded.as_ref().filter(|_| spec.is_stream()) else {
                if spec.is_stream() {
                    return Err(Failure::User(format!(
                        "{}: source `{name}` has no `unbounded:` input; give it `unbounded: {{kafka: {{topic: ...}}}}` or backfill it with `quiver backfill`",
                        l.spec.file
                    )));
                }
                defs.push(source_def(spec).expect("tables have a bounded input"));
                continue;
            };
            let payload = Payload::of(u).map_err(|e| {
                Failure::User(format!(
                    "{}: source `{name}`: {e}\n  help: {}",
                    l.spec.file,
                    e.help()
                ))
            })?;
            let schema = spec.schema();
            let time_col = spec
                .event_time
                .as_ref()
                .and_then(|t| schema.index_of(&t.value))
                .expect("validated event time");
            // The jobs that read this source (their positions in `loaded`).
            let readers: Vec<usize> = (0..loaded.len())
                .filter(|&k| loaded[k].job.plan.sources().contains(&name))
                .collect();
            // By default the group of the first job by name that reads the
            // source: the same whatever order the jobs are listed in, so a
            // restart finds the same checkpoint.
            let first_reader = readers
                .iter()
                .map(|&k| loaded[k].job.name.as_str())
                .min()
                .unwrap_or(&l.job.name);
            let group = u
                .group_id
                .clone()
                .unwrap_or_else(|| format!("quiver-{first_reader}"));
            let checkpoint_file = Checkpoint::path(&config.state_dir, &group, &u.topic);
            let checkpoint = Checkpoint::load(&checkpoint_file).map_err(Failure::User)?;
            let resumed_at = checkpoint.as_ref().map(|c| c.frontier);
            if let Some(f) = resumed_at {
                frontiers.push((name.clone(), f));
            }
            let start = match &u.start {
                None => StartFrom::Committed,
                Some(s) => StartFrom::parse(s, |t| parse_time_arg(t, now))
                    .map_err(|e| Failure::User(format!("{}: source `{name}`: {e}", l.spec.file)))?,
            };
            let history = spec.bounded.as_ref().and_then(|_| source_def(spec));
            let switch = match (&history, switch_at) {
                (None, _) => None,
                (Some(_), Some(t)) => Some(t),
                (Some(_), None) => {
                    let b = spec.bounded.as_ref().expect("hybrid");
                    if b.format != FileFormat::Parquet {
                        return Err(Failure::User(format!(
                            "{}: source `{name}` reads {} history: give the switch time with --switch-at",
                            l.spec.file,
                            b.format.key()
                        )));
                    }
                    let p = ParquetSource {
                        path: b.path.value.clone(),
                        schema: schema.clone(),
                        time_col: Some(time_col),
                    };
                    p.end_time().map_err(Failure::User)?
                }
            };
            let lookback = readers
                .iter()
                .map(|&k| loaded[k].lookback())
                .max()
                .unwrap_or(0);
            let dead_letters = readers
                .iter()
                .flat_map(|&k| dead[k].iter().cloned())
                .collect();
            let source = KafkaSource::open(KafkaSourceOptions {
                name: name.clone(),
                topic: u.topic.clone(),
                client: client.clone(),
                group,
                schema: schema.clone(),
                payload,
                time_col,
                watermark_delay: spec.watermark_delay,
                start,
                checkpoint,
                switch_at: switch,
                history: history.map(|h| h.provider),
                lookback,
                max_future: spec.max_future,
                max_past: spec.max_past,
                dead_letters,
            })
            .map_err(|e| Failure::User(format!("{}: source `{name}`: {e}", l.spec.file)))?;
            let kafka = Arc::new(source);
            eprintln!(
                "source {name}: topic {} ({} partitions, group {}){}{}",
                kafka.topic(),
                kafka.starts().len(),
                kafka.group(),
                match switch {
                    Some(t) => format!(", history before {}", format_timestamp(t)),
                    None => String::new(),
                },
                match resumed_at {
                    Some(f) => format!(", resuming at {}", format_timestamp(f)),
                    None => String::new(),
                }
            );
            defs.push(SourceDef {
                name: name.clone(),
                schema,
                time_col: Some(time_col),
                watermark_delay: spec.watermark_delay,
                provider: kafka.clone(),
            });
            live.push(LiveSource {
                name: name.clone(),
                kafka,
                checkpoint_file,
                resumed_at,
            });
        }
    }
    // Each job resumes output at the newest checkpoint of its sources: its
    // sinks were durable up to it when it was saved (a run saves its
    // sources one after another, from one frontier), and a source whose
    // checkpoint is older re-reads from its own earlier positions, which
    // cover it; at the oldest, windows between the two would be recomputed
    // from a source read only from its newer positions, and overwrite
    // complete rows. Jobs resume each at their own point, so jobs with
    // sources of their own that last ran apart, or a job whose sources have
    // no checkpoint yet (a job added), write every row they have not
    // written; a source several jobs read has one checkpoint, which a job
    // that was not running when it moved cannot go back behind (README). A
    // source's checkpoint only moves forward (`Committer::saved`): one that
    // resumed later than a frontier cannot name positions for it.
    let mut resume: Vec<Option<i64>> = Vec::new();
    for l in &loaded {
        let sources = l.job.plan.sources();
        let mine: Vec<(&str, i64)> = frontiers
            .iter()
            .filter(|f| sources.contains(&f.0))
            .map(|f| (f.0.as_str(), f.1))
            .collect();
        let newest = mine.iter().copied().max_by_key(|f| f.1);
        resume.push(newest.map(|f| f.1));
        let Some((newest, r)) = newest else { continue };
        for &(name, f) in mine.iter().filter(|f| f.1 < r) {
            eprintln!(
                "warning: job {}: source {name}'s checkpoint is at {}, the job resumes output at {} (source {newest}'s): fine after a run killed while saving checkpoints; if {newest} was read since by jobs without this one, this job's rows between the two are not computed",
                l.job.name,
                format_timestamp(f),
                format_timestamp(r)
            );
        }
    }
    let idle = loaded
        .iter()
        .flat_map(|l| l.spec.sources.iter())
        .map(|s| s.idle_timeout)
        .min()
        .unwrap_or(quiver_spec::DEFAULT_IDLE_TIMEOUT);

    // Sinks.
    let store = sinks::store_for(&loaded, &config)?;
    let mut historical: Vec<Option<Arc<HistoricalSink>>> = Vec::new();
    let mut runs = Vec::new();
    for (k, l) in loaded.iter().enumerate() {
        let mut out: Vec<Arc<dyn SinkFactory>> = Vec::new();
        let hist = sinks::historical_sink(l, &config, |job, dataset, staging, schema| {
            HistoricalSink::live(job, dataset, staging, schema, workers)
        })?;
        // The online store first: sinks are written in order, and readers
        // wait on it (freshness), while history commits by the day.
        if let Some(store) = &store
            && let Some(s) = sinks::online_sink(l, store, true)?
        {
            out.push(Arc::new(s));
        }
        if let Some(h) = &hist {
            out.push(Arc::new(HistoricalFactory(h.clone())));
        }
        if let Some(k) = &l.spec.sinks.kafka {
            let encoder = Encoder::for_sink(k, &l.job.output).map_err(|e| {
                Failure::User(format!(
                    "{}: the kafka sink: {e}\n  help: {}",
                    l.spec.file,
                    e.help()
                ))
            })?;
            check_topic(&client, &k.topic)
                .map_err(|e| Failure::User(format!("{}: the kafka sink: {e}", l.spec.file)))?;
            out.push(Arc::new(KafkaSink {
                client: client.clone(),
                topic: k.topic.clone(),
                schema: l.job.output.to_arrow(),
                entity: l.job.entity.clone(),
                encoder,
            }));
        }
        historical.push(hist);
        runs.push(JobRun {
            job: l.job.clone(),
            sinks: out,
            postprocess: l.postprocess.clone(),
            rejects: sinks::refused_rows(l, &config, dead[k].first())?,
        });
    }

    // Run.
    let metrics = Arc::new(RunMetrics::new(defs.len(), runs.len(), workers));
    let _metrics_server = match args
        .metrics_listen
        .as_ref()
        .or(config.metrics_listen.as_ref())
    {
        None => None,
        Some(addr) => {
            let kafka = KafkaCollector::new(
                live.iter()
                    .map(|s| (s.name.clone(), s.kafka.clone()))
                    .collect(),
            );
            let registry = metrics_http::registry(
                &metrics,
                defs.iter().map(|d| d.name.clone()).collect(),
                loaded.iter().map(|l| l.job.name.clone()).collect(),
                std::iter::once(Box::new(kafka) as Box<dyn prometheus::core::Collector>)
                    .chain(quiver_postprocess::collectors())
                    .collect(),
            )?;
            Some(metrics_http::serve(addr, registry)?)
        }
    };
    let options = RunOptions {
        workers,
        start: None,
        end: None,
        live: Some(LiveOptions {
            stop: stop.clone(),
            stop_at,
            idle_timeout: Duration::from_millis(idle.max(0) as u64),
            resume,
        }),
    };
    let m = metrics.clone();
    let dataflow = std::thread::spawn(move || quiver_dataflow::run(runs, defs, options, m));
    let began = Instant::now();
    let mut committer = Committer {
        live: &live,
        historical: &historical,
        store: store.as_deref(),
        metrics: &metrics,
        dead: dead.iter().flatten().cloned().collect(),
        saved: live
            .iter()
            .map(|s| s.resumed_at.unwrap_or(i64::MIN))
            .collect(),
    };
    let interval = Duration::from_secs_f64(args.checkpoint_interval.max(0.05));
    let mut next = Instant::now() + interval;
    while !dataflow.is_finished() {
        std::thread::sleep(Duration::from_millis(20));
        if Instant::now() >= next {
            committer.checkpoint().map_err(Failure::User)?;
            next = Instant::now() + interval;
        }
    }
    let result = dataflow
        .join()
        .map_err(|_| Failure::Internal(anyhow::anyhow!("the dataflow thread panicked")))?;
    if let Err(e) = result {
        return Err(if e.is_user_error() {
            Failure::User(e.to_string())
        } else {
            Failure::Internal(e.into())
        });
    }
    committer.checkpoint().map_err(Failure::User)?;

    // Summary.
    println!(
        "stopped after {:.1}s; watermark {}",
        began.elapsed().as_secs_f64(),
        metrics
            .watermark()
            .map_or("none".to_string(), format_timestamp)
    );
    for s in &live {
        let stats = s.kafka.stats();
        let read: u64 = stats
            .partitions
            .values()
            .map(|p| p.messages.load(Ordering::Relaxed))
            .sum();
        let rejected: Vec<String> = stats
            .rejected()
            .iter()
            .map(|(r, n)| format!("{} {r}", group(*n)))
            .collect();
        println!(
            "  topic {}: {} messages read{}",
            s.kafka.topic(),
            group(read),
            if rejected.is_empty() {
                String::new()
            } else {
                format!(", rejected: {}", rejected.join(", "))
            }
        );
        let lost = stats.dead_letter_errors.load(Ordering::Relaxed);
        if lost > 0 {
            println!("    warning: {lost} dead letters could not be written (see the log)");
        }
    }
    for (j, l) in loaded.iter().enumerate() {
        println!(
            "  job {}: {} rows",
            l.job.name,
            group(metrics.jobs[j].rows_out.load(Ordering::Relaxed))
        );
    }
    let job_names: Vec<String> = loaded.iter().map(|l| l.job.name.clone()).collect();
    for line in quiver_postprocess::summary(&job_names) {
        println!("  {line}");
    }
    let saved = committer.saved.iter().filter(|&&f| f != i64::MIN);
    match (saved.clone().min(), saved.max()) {
        (Some(a), Some(b)) if a == b => println!("  checkpoint at {}", format_timestamp(*a)),
        (Some(a), Some(b)) => println!(
            "  checkpoints from {} to {}",
            format_timestamp(*a),
            format_timestamp(*b)
        ),
        _ => {}
    }
    Ok(())
}

/// Writes checkpoints as the sinks' durable frontier advances.
struct Committer<'a> {
    live: &'a [LiveSource],
    historical: &'a [Option<Arc<HistoricalSink>>],
    /// The online store, whose writes are visible before they are durable.
    store: Option<&'a dyn OnlineStore>,
    metrics: &'a RunMetrics,
    dead: Vec<Arc<DeadLetterSink>>,
    /// Per source (as in `live`), the frontier of its last checkpoint.
    saved: Vec<i64>,
}

impl Committer<'_> {
    /// The frontier below which every sink of every job is durable.
    fn durable(&self) -> i64 {
        let mut f = i64::MAX;
        let mut by_day = false;
        for (j, h) in self.historical.iter().enumerate() {
            f = f.min(self.metrics.sink_time(j));
            if let Some(h) = h {
                by_day = true;
                f = f.min(h.committed_through().unwrap_or(i64::MIN));
            }
        }
        if f == i64::MAX || f == i64::MIN {
            return i64::MIN;
        }
        // A job with a historical sink that resumes inside a day replaces
        // that day with the rows it stages from there: its frontier must
        // start a day. The days committed are whole, but a sink can lag
        // behind them (an online writer holding rows while the run catches
        // up, or another job of the run), so the least of all is floored.
        if by_day {
            f = f.div_euclid(DAY).saturating_mul(DAY);
        }
        floor(f)
    }

    /// Saves the checkpoint of every source whose last one is older than
    /// the durable frontier (a source resumed from a newer one keeps it
    /// until the run passes it).
    fn checkpoint(&mut self) -> Result<(), String> {
        let f = self.durable();
        if f == i64::MIN || self.saved.iter().all(|&s| s >= f) {
            return Ok(());
        }
        debug_assert_eq!(f % GRANULARITY, 0);
        // Dead letters and online rows of messages before the resume points
        // must be durable before the checkpoint says those messages are done.
        for d in &self.dead {
            d.flush()?;
        }
        if let Some(s) = self.store {
            s.sync().map_err(|e| e.to_string())?;
        }
        for (s, saved) in self.live.iter().zip(self.saved.iter_mut()) {
            if *saved >= f {
                continue;
            }
            let c = s.kafka.checkpoint(f);
            c.save(&s.checkpoint_file)?;
            if let Err(e) = s.kafka.commit(&c) {
                // The checkpoint file is what resumes; the group's offsets
                // are for monitoring, so a failed commit is only a warning.
                tracing::warn!("{e}");
            }
            *saved = f;
        }
        Ok(())
    }
}
