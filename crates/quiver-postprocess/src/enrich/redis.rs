//! Redis lookups: `GET key` (the value, parsed as JSON when it is JSON,
//! else taken as a string) or `HGETALL key` (the hash as an object of
//! strings). A missing key (or an empty hash) is "nothing found".
//!
//! One multiplexed connection per worker carries all the batch's lookups
//! (Redis pipelines them); a connection that breaks is dropped and the
//! next attempt reconnects.

use std::sync::Arc;

use quiver_spec::{RedisCommand, RedisLookup};
use quiver_types::{Diagnostic, Diagnostics, Value};
use redis::aio::MultiplexedConnection;
use serde_json::{Map, Value as Json};

use super::{LookupError, Template, text};

/// A Redis lookup, planned.
pub(crate) struct RedisPlan {
    client: redis::Client,
    command: RedisCommand,
    key: Template,
}

pub(crate) fn plan(r: &RedisLookup, errors: &mut Diagnostics) -> Option<Arc<RedisPlan>> {
    let client = match redis::Client::open(r.url.value.as_str()) {
        Ok(c) => c,
        Err(e) => {
            errors.push(
                Diagnostic::at(r.url.pos, format!("the `redis` url is not valid: {e}"))
                    .with_help("url: redis://127.0.0.1:6379/0 (or ${REDIS_URL})"),
            );
            return None;
        }
    };
    Some(Arc::new(RedisPlan {
        client,
        command: r.command,
        key: Template::new(&r.key.value),
    }))
}

/// A worker's Redis connection, opened on first use.
pub(crate) struct RedisClient {
    plan: Arc<RedisPlan>,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

impl RedisClient {
    pub(crate) fn new(plan: Arc<RedisPlan>) -> RedisClient {
        RedisClient {
            plan,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    async fn connection(&self) -> Result<MultiplexedConnection, LookupError> {
        let mut c = self.conn.lock().await;
        if let Some(conn) = &*c {
            return Ok(conn.clone());
        }
        let conn = self
            .plan
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| LookupError::Unreachable(e.to_string()))?;
        *c = Some(conn.clone());
        Ok(conn)
    }

    pub(crate) async fn fetch(&self, vars: &[Value]) -> Result<Option<Json>, LookupError> {
        let key = self.plan.key.render(vars, text);
        let mut conn = self.connection().await?;
        let result = match self.plan.command {
            RedisCommand::Get => redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<Vec<u8>>>(&mut conn)
                .await
                .map(|v| {
                    v.map(|bytes| {
                        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                            Json::String(String::from_utf8_lossy(&bytes).into_owned())
                        })
                    })
                }),
            RedisCommand::Hgetall => redis::cmd("HGETALL")
                .arg(&key)
                .query_async::<Vec<(String, String)>>(&mut conn)
                .await
                .map(|fields| {
                    (!fields.is_empty()).then(|| {
                        Json::Object(
                            fields
                                .into_iter()
                                .map(|(k, v)| (k, Json::String(v)))
                                .collect::<Map<_, _>>(),
                        )
                    })
                }),
        };
        match result {
            Ok(v) => Ok(v),
            Err(e)
                if e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout() =>
            {
                *self.conn.lock().await = None;
                Err(LookupError::Unreachable(e.to_string()))
            }
            Err(e) => Err(LookupError::Failed(format!("Redis: {e}"))),
        }
    }
}
