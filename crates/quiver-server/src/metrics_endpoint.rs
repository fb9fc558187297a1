//! `GET /metrics` and `GET /health`.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};

/// Content type of the Prometheus text exposition format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The registry's metrics in the text exposition format.
pub fn metrics_text(registry: &Registry) -> String {
    let mut buf = Vec::new();
    // The text encoder only fails on invalid metric names, which the
    // constructors have already refused.
    if let Err(e) = TextEncoder::new().encode(&registry.gather(), &mut buf) {
        tracing::error!("encoding metrics: {e}");
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// A router serving `/metrics` from `registry` and `/health`.
pub fn metrics_router(registry: Registry) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    // Collectors may ask brokers (consumer lag): keep that
                    // off the runtime's thread.
                    let text = tokio::task::spawn_blocking(move || metrics_text(&registry))
                        .await
                        .unwrap_or_default();
                    ([(CONTENT_TYPE, TEXT_FORMAT)], text).into_response()
                }
            }),
        )
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
}
