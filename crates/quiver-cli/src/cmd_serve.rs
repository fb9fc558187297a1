//! `quiver serve`: the feature server over the deployment's online store,
//! until SIGINT or SIGTERM (in-flight requests finish, then exit 0).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use quiver_server::request::Limits;
use quiver_server::{ServeOptions, feature_router};
use quiver_spec::DeploymentConfig;

use crate::cmd_backfill::open_store;
use crate::failure::Failure;

/// Arguments of `quiver serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Deployment file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on (default: quiver.yaml's `server.listen`, else
    /// 127.0.0.1:6566).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Request-handling threads (default: the number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Serves features until stopped.
pub fn run(args: ServeArgs) -> Result<(), Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Failure::Internal(anyhow::anyhow!("cannot handle signals: {e}")))?;
    }
    let config = DeploymentConfig::load(args.config.as_deref())?;
    let store = open_store(&config)?;
    let s = &config.server;
    let options = ServeOptions {
        limits: Limits {
            max_body_bytes: s.max_body_bytes,
            max_entities: s.max_entities,
            max_features: s.max_features,
            max_in_flight: s.max_in_flight,
        },
        token: s.auth_token.clone(),
    };
    let router = feature_router(store, options, prometheus::Registry::new())
        .map_err(|e| Failure::User(e.to_string()))?;
    let listen = args.listen.as_deref().unwrap_or(&s.listen);
    let listener = std::net::TcpListener::bind(listen)
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .map_err(|e| Failure::User(format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Internal(e.into()))?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(t) = args.threads {
        runtime.worker_threads(t.max(1));
    }
    let runtime = runtime
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Failure::Internal(e.into()))?;
    eprintln!(
        "serving features on http://{addr} (POST /get-online-features, GET /features, /health, /metrics)"
    );
    runtime
        .block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    while !stop.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                })
                .await
        })
        .map_err(|e| Failure::Internal(e.into()))?;
    // Not eprintln!: a supervisor may have closed stderr by now, and a
    // clean stop must still exit 0.
    let _ = writeln!(std::io::stderr(), "stopped");
    Ok(())
}
