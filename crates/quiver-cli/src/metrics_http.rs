//! A run's Prometheus metrics: `--metrics-listen` serves them while it runs
//! (`quiver run` and `quiver backfill`); `--metrics-push` puts a finished
//! backfill's to a Prometheus Pushgateway, since a batch job is usually
//! gone before a scrape.

use std::sync::Arc;

use prometheus::core::Collector;
use quiver_dataflow::metrics::{RunCollector, RunMetrics};

use crate::failure::Failure;

/// Serves `registry` at `http://addr/metrics` until the returned server is
/// dropped.
pub fn serve(
    addr: &str,
    registry: prometheus::Registry,
) -> Result<quiver_server::Background, Failure> {
    let server = quiver_server::Background::start(addr, quiver_server::metrics_router(registry))
        .map_err(|e| Failure::User(format!("--metrics-listen: {e}")))?;
    eprintln!("metrics on http://{}/metrics", server.addr());
    Ok(server)
}

/// A registry of `metrics` (sources and jobs named in run order) and any
/// `extra` collectors.
pub fn registry(
    metrics: &Arc<RunMetrics>,
    sources: Vec<String>,
    jobs: Vec<String>,
    extra: Vec<Box<dyn Collector>>,
) -> Result<prometheus::Registry, Failure> {
    let registry = prometheus::Registry::new();
    let run: Box<dyn Collector> = Box::new(RunCollector::new(metrics.clone(), sources, jobs));
    for c in std::iter::once(run).chain(extra) {
        registry
            .register(c)
            .map_err(|e| Failure::Internal(anyhow::anyhow!("registering metrics: {e}")))?;
    }
    Ok(registry)
}

/// Puts a finished backfill's metrics, with `quiver_backfill_success` (1 or
/// 0) and `quiver_backfill_finished_timestamp_seconds`, to the Pushgateway
/// at `url` as the group `job="quiver_backfill", backfill="<jobs>"` (job
/// names joined by commas): a later backfill of the same jobs replaces it.
pub fn push(
    url: &str,
    registry: &prometheus::Registry,
    jobs: &[String],
    succeeded: bool,
) -> Result<(), Failure> {
    use base64::Engine;
    let group = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(jobs.join(","));
    let internal = |e: prometheus::Error| Failure::Internal(anyhow::anyhow!("metrics: {e}"));
    let success = prometheus::IntGauge::new(
        "quiver_backfill_success",
        "Whether the backfill succeeded (1) or failed (0).",
    )
    .map_err(internal)?;
    success.set(succeeded.into());
    let finished = prometheus::Gauge::new(
        "quiver_backfill_finished_timestamp_seconds",
        "When the backfill finished (Unix time).",
    )
    .map_err(internal)?;
    finished.set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
    let mut families = registry.gather();
    families.extend(success.collect());
    families.extend(finished.collect());
    let body = prometheus::TextEncoder::new()
        .encode_to_string(&families)
        .map_err(internal)?;
    let target = format!(
        "{}/metrics/job/quiver_backfill/backfill@base64/{group}",
        url.trim_end_matches('/')
    );
    let refused = |e: String| Failure::User(format!("--metrics-push {url}: {e}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| refused(e.to_string()))?;
    runtime.block_on(async {
        let answer = reqwest::Client::new()
            .put(&target)
            .header("content-type", prometheus::TEXT_FORMAT)
            .timeout(std::time::Duration::from_secs(10))
            .body(body)
            .send()
            .await
            .map_err(|e| refused(e.to_string()))?;
        let status = answer.status();
        if !status.is_success() {
            let text = answer.text().await.unwrap_or_default();
            return Err(refused(format!(
                "the gateway answered {status}: {}",
                text.trim()
            )));
        }
        Ok(())
    })
}
