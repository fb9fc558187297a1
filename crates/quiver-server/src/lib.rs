//! Quiver's HTTP side.
//!
//! * [`feature_router`]: the feature server (`quiver serve`): Feast's
//!   `POST /get-online-features` over any [`quiver_store::OnlineStore`],
//!   `GET /features`, `/health` and `/metrics` (module [`feature_server`]).
//! * [`request`]: parsing and checking feature requests; [`wire`]: values
//!   as JSON.
//! * [`metrics_router`]: `GET /metrics` (Prometheus text exposition of a
//!   [`prometheus::Registry`]) and `GET /health`.
//! * [`Background`]: serves a router on its own thread and runtime, so a
//!   blocking command (`quiver run`) can expose metrics without becoming
//!   async itself; dropping it shuts the server down.
//!
//! The server runs on tokio and axum: `quiver serve` on a multi-thread
//! runtime, [`Background`] on a current-thread one. Store reads block
//! (redb, Redis), so they run on tokio's blocking pool, at most
//! `max_in_flight` at once.

mod api_error;
mod background;
pub mod feature_server;
mod metrics_endpoint;
pub mod request;
mod server_metrics;
pub mod wire;

pub use api_error::ApiError;
pub use background::Background;
pub use feature_server::{ServeOptions, feature_router};
pub use metrics_endpoint::{TEXT_FORMAT, metrics_router, metrics_text};
pub use server_metrics::ServerMetrics;

/// Errors of the HTTP side.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The runtime could not start.
    #[error("cannot start the HTTP runtime: {0}")]
    Runtime(std::io::Error),
    /// Metrics could not be registered.
    #[error("registering metrics: {0}")]
    Metrics(String),
    /// The online store could not be read at start.
    #[error("{0}")]
    Store(String),
}
