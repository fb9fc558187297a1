//! `--metrics-listen`: a run's Prometheus metrics served while it runs
//! (`quiver run` and `quiver backfill`).

use std::sync::Arc;

use prometheus::core::Collector;
use quiver_dataflow::metrics::{RunCollector, RunMetrics};

use crate::failure::Failure;

/// Serves `metrics` (sources and jobs named in run order) and any `extra`
/// collectors at `http://addr/metrics` until the returned server is dropped.
pub fn serve(
    addr: &str,
    metrics: &Arc<RunMetrics>,
    sources: Vec<String>,
    jobs: Vec<String>,
    extra: Vec<Box<dyn Collector>>,
) -> Result<quiver_server::Background, Failure> {
    let registry = prometheus::Registry::new();
    let run: Box<dyn Collector> = Box::new(RunCollector::new(metrics.clone(), sources, jobs));
    for c in std::iter::once(run).chain(extra) {
        registry
            .register(c)
            .map_err(|e| Failure::Internal(anyhow::anyhow!("registering metrics: {e}")))?;
    }
    let server = quiver_server::Background::start(addr, quiver_server::metrics_router(registry))
        .map_err(|e| Failure::User(format!("--metrics-listen: {e}")))?;
    eprintln!("metrics on http://{}/metrics", server.addr());
    Ok(server)
}
