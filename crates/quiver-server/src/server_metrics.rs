//! Metrics of the feature server, registered in the server's registry.
//!
//! * `quiver_http_requests_total{endpoint,status}`: requests answered.
//! * `quiver_http_request_seconds{endpoint}` (histogram): from the request's
//!   arrival until its response is ready.
//! * `quiver_served_entities_total{quiver_job}`, `quiver_served_features_total{quiver_job}`:
//!   entity rows read and feature values returned.
//! * `quiver_store_errors_total`: online-store reads that failed.

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

/// The server's own metrics.
#[derive(Clone)]
pub struct ServerMetrics {
    /// Requests by endpoint and status code.
    pub requests: IntCounterVec,
    /// Latency by endpoint.
    pub seconds: HistogramVec,
    /// Entities read, by job.
    pub entities: IntCounterVec,
    /// Feature values served, by job.
    pub features: IntCounterVec,
    /// Failed store reads.
    pub store_errors: IntCounter,
}

impl ServerMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<ServerMetrics, prometheus::Error> {
        let m = ServerMetrics {
            requests: IntCounterVec::new(
                Opts::new("quiver_http_requests_total", "Requests answered."),
                &["endpoint", "status"],
            )?,
            seconds: HistogramVec::new(
                HistogramOpts::new(
                    "quiver_http_request_seconds",
                    "Time from a request's arrival until its response is ready.",
                )
                .buckets(vec![
                    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 1.0,
                ]),
                &["endpoint"],
            )?,
            entities: IntCounterVec::new(
                Opts::new("quiver_served_entities_total", "Entity rows read."),
                &["quiver_job"],
            )?,
            features: IntCounterVec::new(
                Opts::new("quiver_served_features_total", "Feature values returned."),
                &["quiver_job"],
            )?,
            store_errors: IntCounter::new(
                "quiver_store_errors_total",
                "Online-store reads that failed.",
            )?,
        };
        registry.register(Box::new(m.requests.clone()))?;
        registry.register(Box::new(m.seconds.clone()))?;
        registry.register(Box::new(m.entities.clone()))?;
        registry.register(Box::new(m.features.clone()))?;
        registry.register(Box::new(m.store_errors.clone()))?;
        Ok(m)
    }
}
