//! The feature server: Feast's `POST /get-online-features`, a job and
//! feature listing, `/health` and `/metrics`.
//!
//! Responses follow Feast's feature server, so Feast HTTP clients work
//! unchanged:
//!
//! ```json
//! {"metadata": {"feature_names": ["customer_id", "bookings"]},
//!  "results": [
//!    {"values": [1, 2], "statuses": ["PRESENT", "PRESENT"],
//!     "event_timestamps": ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"]},
//!    {"values": [3, null], "statuses": ["PRESENT", "NOT_FOUND"],
//!     "event_timestamps": ["2026-11-22T10:00:59.999Z", "1970-01-01T00:00:00Z"]}]}
//! ```
//!
//! One result per column: the entity columns first (echoed, `PRESENT`,
//! epoch timestamps, as Feast does), then the features in request order.
//! A feature's value is `null` unless its status is `PRESENT`; the event
//! timestamp is the row's. All features of one job for one entity come from
//! one stored row (one read), so they are consistent with each other.
//!
//! Job metadata is cached; a request naming a job the cache lacks reloads
//! it (at most once a second), so a job backfilled after the server started
//! is served without a restart.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use prometheus::Registry;
use quiver_store::{EntityRead, FeatureStatus, JobMeta, OnlineStore, StoreError};
use serde_json::{Value as Json, json};

use crate::api_error::ApiError;
use crate::metrics_endpoint::metrics_router;
use crate::request::{Limits, Request, parse};
use crate::server_metrics::ServerMetrics;
use crate::wire::write_value;
use quiver_types::time::format_timestamp;

/// How the server is set up.
#[derive(Clone)]
pub struct ServeOptions {
    /// Request limits.
    pub limits: Limits,
    /// When set, feature endpoints require `Authorization: Bearer <token>`
    /// (`/health` and `/metrics` stay open for probes and scrapers).
    pub token: Option<String>,
}

struct AppState {
    store: Arc<dyn OnlineStore>,
    options: ServeOptions,
    catalog: RwLock<Catalog>,
    metrics: ServerMetrics,
    in_flight: tokio::sync::Semaphore,
}

struct Catalog {
    jobs: Vec<JobMeta>,
    loaded: Instant,
}

/// The feature server's routes over `store`; its metrics (and any
/// collectors already in `registry`) are served at `/metrics`.
pub fn feature_router(
    store: Arc<dyn OnlineStore>,
    options: ServeOptions,
    registry: Registry,
) -> Result<Router, crate::ServerError> {
    let metrics = ServerMetrics::register(&registry)
        .map_err(|e| crate::ServerError::Metrics(e.to_string()))?;
    let jobs = store
        .jobs()
        .map_err(|e| crate::ServerError::Store(e.to_string()))?;
    let in_flight = options.limits.max_in_flight.max(1);
    let state = Arc::new(AppState {
        store,
        options,
        catalog: RwLock::new(Catalog {
            jobs,
            loaded: Instant::now(),
        }),
        metrics,
        in_flight: tokio::sync::Semaphore::new(in_flight),
    });
    Ok(Router::new()
        .route("/get-online-features", post(get_online_features))
        .route("/features", get(list_features))
        .with_state(state)
        .merge(metrics_router(registry)))
}

/// Records a response's status and latency, and hands it on.
fn answered(state: &AppState, endpoint: &str, began: Instant, r: Response) -> Response {
    state
        .metrics
        .requests
        .with_label_values(&[endpoint, r.status().as_str()])
        .inc();
    state
        .metrics
        .seconds
        .with_label_values(&[endpoint])
        .observe(began.elapsed().as_secs_f64());
    r
}

fn authorized(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &state.options.token else {
        return Ok(());
    };
    // The scheme name is case-insensitive (RFC 7235).
    let sent = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, t)| t.trim());
    use subtle::ConstantTimeEq;
    if bool::from(sent.as_bytes().ct_eq(token.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

async fn get_online_features(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let began = Instant::now();
    let r = match serve_features(&state, &headers, body).await {
        Ok(json) => ([(CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => e.into_response(),
    };
    answered(&state, "get-online-features", began, r)
}

async fn serve_features(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<u8>, ApiError> {
    authorized(state, headers)?;
    // Shed load rather than queue without bound.
    let _permit = state.in_flight.try_acquire().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many requests in flight; retry with backoff",
        )
    })?;
    let limit = state.options.limits.max_body_bytes;
    let too_large = || {
        ApiError::too_large(
            "body_too_large",
            format!("the request body is over {limit} bytes"),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let bytes: Bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            too_large()
        } else {
            ApiError::bad_request(
                "unreadable_body",
                format!("cannot read the request body: {e}"),
            )
        }
    })?;
    let state = state.clone();
    blocking(move || answer(&state, &bytes)).await
}

/// Runs store work (redb, Redis: blocking) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
}

/// Parses, reads and writes the response body.
fn answer(state: &AppState, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request = parse(body, state.options.limits, |name| job_meta(state, name))?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut reads = Vec::with_capacity(request.jobs.len());
    for j in &request.jobs {
        let name = j.meta.name.as_str();
        let (meta, rows) = match state.store.read_job(name, &j.keys, now) {
            Ok(r) => r,
            Err(StoreError::UnknownJob(_)) => {
                forget(state);
                return Err(ApiError::not_found(
                    "unknown_job",
                    format!("job `{name}` is not in the online store"),
                ));
            }
            Err(e) => {
                state.metrics.store_errors.inc();
                return Err(ApiError::store(format!("reading job `{name}`: {e}")));
            }
        };
        if meta.entity != j.meta.entity {
            // Registered again with other entity columns since the keys
            // were parsed: ask again under the new ones.
            forget(state);
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "job_changed",
                format!("job `{name}` changed its entity columns while being read; retry"),
            ));
        }
        state
            .metrics
            .entities
            .with_label_values(&[name])
            .inc_by(j.keys.len() as u64);
        reads.push((meta, rows));
    }
    // Feature positions come from the metadata each read used.
    let mut positions = Vec::with_capacity(request.columns.len());
    for (j, f) in &request.columns {
        let (meta, _) = &reads[*j];
        let Some(p) = meta.features.iter().position(|(n, _)| n == f) else {
            forget(state);
            return Err(ApiError::not_found(
                "unknown_feature",
                format!("job `{}` no longer has feature `{f}`", meta.name),
            ));
        };
        positions.push(p);
        state
            .metrics
            .features
            .with_label_values(&[meta.name.as_str()])
            .inc_by(request.jobs[*j].keys.len() as u64);
    }
    Ok(response(&request, &reads, &positions))
}

const EPOCH: &str = "1970-01-01T00:00:00Z";

/// The response body, written straight to bytes: a batch of 100 entities
/// by 10 features is 3,000 cells, and building a `serde_json::Value` tree
/// for it (and formatting each row's timestamp once per feature) cost more
/// than the store read.
fn response(
    request: &Request,
    reads: &[(JobMeta, Vec<EntityRead>)],
    positions: &[usize],
) -> Vec<u8> {
    let n = request.len();
    let mut out: Vec<u8> = Vec::with_capacity(64 + 32 * n * (request.columns.len() + 1));
    let string = |out: &mut Vec<u8>, s: &str| {
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    };
    let list = |out: &mut Vec<u8>, items: &mut dyn Iterator<Item = &[u8]>| {
        out.push(b'[');
        for (k, item) in items.enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(item);
        }
        out.push(b']');
    };
    let epoch = format!("\"{EPOCH}\"");
    let present = format!("\"{}\"", FeatureStatus::Present.name());

    out.extend_from_slice(b"{\"metadata\":{\"feature_names\":[");
    let names = request
        .entities
        .iter()
        .map(|(name, _)| name.clone())
        .chain((0..request.columns.len()).map(|c| request.column_name(c)));
    for (k, name) in names.enumerate() {
        if k > 0 {
            out.push(b',');
        }
        string(&mut out, &name);
    }
    out.extend_from_slice(b"]},\"results\":[");
    let mut first = true;
    for (_, values) in &request.entities {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"values\":");
        let _ = serde_json::to_writer(&mut out, values);
        out.extend_from_slice(b",\"statuses\":");
        list(&mut out, &mut (0..n).map(|_| present.as_bytes()));
        out.extend_from_slice(b",\"event_timestamps\":");
        list(&mut out, &mut (0..n).map(|_| epoch.as_bytes()));
        out.push(b'}');
    }
    // Each row's event time, formatted once per job.
    // (chrono's strftime-style formatting was a visible cost in profiles:
    // a row written at the same time as the one before reuses its text.)
    let times: Vec<Vec<String>> = reads
        .iter()
        .map(|(_, rows)| {
            let mut last: Option<(i64, String)> = None;
            rows.iter()
                .map(|r| match &r.row {
                    Some(row) => match &last {
                        Some((t, text)) if *t == row.event_time => text.clone(),
                        _ => {
                            let text = format!("\"{}\"", event_time_text(row.event_time));
                            last = Some((row.event_time, text.clone()));
                            text
                        }
                    },
                    None => epoch.clone(),
                })
                .collect()
        })
        .collect();
    let mut cell = Vec::new();
    for ((j, _), &f) in request.columns.iter().zip(positions) {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        let rows = &reads[*j].1;
        let status = |r: &EntityRead| {
            r.statuses
                .get(f)
                .copied()
                .unwrap_or(FeatureStatus::NotFound)
        };
        out.extend_from_slice(b"{\"values\":[");
        for (k, r) in rows.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            cell.clear();
            match (&r.row, status(r)) {
                (Some(row), FeatureStatus::Present) => match row.values.get(f) {
                    Some(v) => write_value(&mut cell, v),
                    None => cell.extend_from_slice(b"null"),
                },
                _ => cell.extend_from_slice(b"null"),
            }
            out.extend_from_slice(&cell);
        }
        out.extend_from_slice(b"],\"statuses\":[");
        for (k, r) in rows.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(status(r).name().as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b"],\"event_timestamps\":");
        list(&mut out, &mut times[*j].iter().map(|t| t.as_bytes()));
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    // Only JSON text was written (not re-validated as UTF-8: 60 KB for a
    // batch of 100).
    out
}

/// [`format_timestamp`]'s text, through chrono's RFC 3339 writer (several
/// times faster than its strftime-style formatting) where the two agree:
/// years 1 to 9999.
fn event_time_text(t: i64) -> String {
    use chrono::{Datelike, SecondsFormat, TimeZone, Utc};
    match Utc.timestamp_millis_opt(t).single() {
        Some(dt) if (1..=9999).contains(&dt.year()) => {
            dt.to_rfc3339_opts(SecondsFormat::Millis, true)
        }
        _ => format_timestamp(t),
    }
}

/// Marks the job cache stale, so the next miss reloads it.
fn forget(state: &AppState) {
    if let Ok(mut c) = state.catalog.write() {
        c.jobs.clear();
        c.loaded = Instant::now()
            .checked_sub(CATALOG_MAX_AGE)
            .unwrap_or(c.loaded);
    }
}

/// The job cache is reloaded when older than this (a job's new features
/// become askable) ...
const CATALOG_MAX_AGE: Duration = Duration::from_secs(5);
/// ... or when a job is missing from it and it is older than this.
const CATALOG_RETRY: Duration = Duration::from_secs(1);

/// A job's metadata from the cache, reloading it when stale or missing.
fn job_meta(state: &AppState, name: &str) -> Result<Option<JobMeta>, ApiError> {
    {
        let c = state.catalog.read().map_err(|_| poisoned())?;
        let fresh = c.loaded.elapsed() < CATALOG_MAX_AGE;
        match c.jobs.iter().find(|m| m.name == name) {
            Some(m) if fresh => return Ok(Some(m.clone())),
            None if c.loaded.elapsed() < CATALOG_RETRY => return Ok(None),
            _ => {}
        }
    }
    let jobs = state.store.jobs().map_err(|e| {
        state.metrics.store_errors.inc();
        ApiError::store(e.to_string())
    })?;
    let found = jobs.iter().find(|m| m.name == name).cloned();
    *state.catalog.write().map_err(|_| poisoned())? = Catalog {
        jobs,
        loaded: Instant::now(),
    };
    Ok(found)
}

fn poisoned() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the job cache is unavailable",
    )
}

async fn list_features(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let began = Instant::now();
    let r = match list(&state, &headers).await {
        Ok(j) => axum::Json(j).into_response(),
        Err(e) => e.into_response(),
    };
    answered(&state, "features", began, r)
}

async fn list(state: &Arc<AppState>, headers: &HeaderMap) -> Result<Json, ApiError> {
    authorized(state, headers)?;
    let s = state.clone();
    let jobs = blocking(move || {
        s.store.jobs().map_err(|e| {
            s.metrics.store_errors.inc();
            ApiError::store(e.to_string())
        })
    })
    .await?;
    let cols = |c: &[(String, String)]| -> Vec<Json> {
        c.iter()
            .map(|(n, t)| json!({"name": n, "type": t}))
            .collect()
    };
    Ok(json!({"jobs": jobs.iter().map(|m| json!({
        "name": m.name,
        "entities": cols(&m.entity),
        "features": cols(&m.features),
        "ttl_seconds": m.ttl.map(|t| t as f64 / 1000.0),
        "description": m.description,
    })).collect::<Vec<_>>()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_times_read_as_format_timestamp_writes_them() {
        for t in [
            0,
            -1,
            1_700_000_000_123,
            1_795_000_000_000,
            -62_135_596_800_000, // 0001-01-01
            -62_135_596_800_001, // year 0
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000, // year 10000
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(event_time_text(t), format_timestamp(t), "{t}");
        }
    }
}
