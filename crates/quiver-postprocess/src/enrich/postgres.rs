//! Postgres lookups: one prepared query per connection, the row's values
//! bound as its parameters (`$1`, `$2`…; never spliced into the SQL text),
//! at most one row back, read as an object of its columns. No row is
//! "nothing found"; more than one is an error.
//!
//! One connection per worker; tokio-postgres pipelines the batch's
//! concurrent queries over it.
//!
//! TLS follows the URL's `sslmode` as libpq does: `disable` (plain),
//! `prefer` (the default: TLS when the server offers it) and `require`
//! (TLS or no connection). As with libpq, the server's certificate is
//! checked only when `sslrootcert=` names a CA file (Quiver reads it,
//! since tokio-postgres does not): then the certificate must chain to
//! that CA and name the host (libpq's `verify-full`); without it the
//! connection is encrypted but the server is not authenticated.

use std::error::Error;
use std::str::FromStr;
use std::sync::Arc;

use bytes::BytesMut;
use postgres_native_tls::MakeTlsConnector;
use quiver_spec::PostgresLookup;
use quiver_types::{Diagnostic, Diagnostics, Value};
use serde_json::{Map, Value as Json};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, Row, Statement};

use super::LookupError;

/// A Postgres lookup, planned.
pub(crate) struct PgPlan {
    config: tokio_postgres::Config,
    tls: MakeTlsConnector,
    query: String,
}

/// `url` without its `sslrootcert=` parameter, and that parameter's value.
fn split_root_cert(url: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None);
    };
    let mut root = None;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|kv| match kv.strip_prefix("sslrootcert=") {
            Some(v) => {
                root = Some(v.to_string());
                false
            }
            None => true,
        })
        .collect();
    if rest.is_empty() {
        (base.to_string(), root)
    } else {
        (format!("{base}?{}", rest.join("&")), root)
    }
}

/// The TLS connector: verifying against the CA file at `root`, or (as
/// libpq does without a root file) not verifying.
fn tls(root: Option<&str>) -> Result<MakeTlsConnector, String> {
    let mut b = native_tls::TlsConnector::builder();
    match root {
        Some(path) => {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?;
            let cert = native_tls::Certificate::from_pem(&pem)
                .map_err(|e| format!("sslrootcert {path} is not a PEM certificate: {e}"))?;
            b.add_root_certificate(cert);
        }
        None => {
            b.danger_accept_invalid_certs(true);
        }
    }
    b.build()
        .map(MakeTlsConnector::new)
        .map_err(|e| format!("cannot set up TLS: {e}"))
}

pub(crate) fn plan(p: &PostgresLookup, errors: &mut Diagnostics) -> Option<Arc<PgPlan>> {
    let (url, root) = split_root_cert(&p.url.value);
    let tls = match tls(root.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            errors.push(
                Diagnostic::at(p.url.pos, format!("the `postgres` url: {e}"))
                    .with_help("sslrootcert= names a PEM file with the server's CA certificate"),
            );
            return None;
        }
    };
    let config = match tokio_postgres::Config::from_str(&url) {
        Ok(c) => c,
        Err(e) => {
            errors.push(
                Diagnostic::at(p.url.pos, format!("the `postgres` url is not valid: {e}"))
                    .with_help("url: postgres://user:password@127.0.0.1:5432/db (or ${PG_URL})"),
            );
            return None;
        }
    };
    Some(Arc::new(PgPlan {
        config,
        tls,
        query: p.query.value.clone(),
    }))
}

/// A connection with the query prepared on it.
struct Session {
    client: Client,
    statement: Statement,
}

/// A worker's Postgres connection, opened on first use.
pub(crate) struct PgClient {
    plan: Arc<PgPlan>,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
}

impl PgClient {
    pub(crate) fn new(plan: Arc<PgPlan>) -> PgClient {
        PgClient {
            plan,
            session: tokio::sync::Mutex::new(None),
        }
    }

    async fn session(&self) -> Result<Arc<Session>, LookupError> {
        let mut s = self.session.lock().await;
        if let Some(session) = &*s
            && !session.client.is_closed()
        {
            return Ok(session.clone());
        }
        *s = None;
        let (client, connection) = self
            .plan
            .config
            .connect(self.plan.tls.clone())
            .await
            .map_err(|e| LookupError::Unreachable(chain(&e)))?;
        // Drives the connection; it ends when the client is dropped.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let statement = client
            .prepare(&self.plan.query)
            .await
            .map_err(|e| classify(&e))?;
        let session = Arc::new(Session { client, statement });
        *s = Some(session.clone());
        Ok(session)
    }

    pub(crate) async fn fetch(&self, vars: &[Value]) -> Result<Option<Json>, LookupError> {
        let session = self.session().await?;
        let params: Vec<Param<'_>> = vars.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = session
            .client
            .query(&session.statement, &refs)
            .await
            .map_err(|e| classify(&e))?;
        match rows.as_slice() {
            [] => Ok(None),
            [row] => row_json(row).map(Some),
            more => Err(LookupError::Failed(format!(
                "the query returned {} rows; an enrich query must return at most one (add LIMIT 1 or filter on a unique key)",
                more.len()
            ))),
        }
    }
}

/// An error and its causes, on one line.
fn chain(e: &dyn Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        src = s.source();
    }
    msg
}

fn classify(e: &tokio_postgres::Error) -> LookupError {
    match e.as_db_error() {
        // The server answered: a mistake in the query or a value it refused.
        Some(db) => LookupError::Failed(format!("Postgres: {}", db.message())),
        None if e.is_closed() || e.source().is_some_and(|s| s.is::<std::io::Error>()) => {
            LookupError::Unreachable(chain(e))
        }
        None => LookupError::Failed(format!("Postgres: {}", chain(e))),
    }
}

/// A row's columns as a JSON object.
fn row_json(row: &Row) -> Result<Json, LookupError> {
    let mut m = Map::new();
    for (i, col) in row.columns().iter().enumerate() {
        let bad = |e: tokio_postgres::Error| {
            LookupError::Failed(format!("Postgres: column `{}`: {}", col.name(), chain(&e)))
        };
        let num = |f: Option<f64>| {
            f.and_then(serde_json::Number::from_f64)
                .map_or(Json::Null, Json::Number)
        };
        let ty = col.type_();
        let v = if *ty == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)
                .map_err(bad)?
                .map_or(Json::Null, Json::Bool)
        } else if *ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)
                .map_err(bad)?
                .map_or(Json::Null, Json::from)
        } else if *ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)
                .map_err(bad)?
                .map_or(Json::Null, Json::from)
        } else if *ty == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)
                .map_err(bad)?
                .map_or(Json::Null, Json::from)
        } else if *ty == Type::FLOAT4 {
            num(row
                .try_get::<_, Option<f32>>(i)
                .map_err(bad)?
                .map(f64::from))
        } else if *ty == Type::FLOAT8 {
            num(row.try_get::<_, Option<f64>>(i).map_err(bad)?)
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            row.try_get::<_, Option<String>>(i)
                .map_err(bad)?
                .map_or(Json::Null, Json::String)
        } else if [Type::JSON, Type::JSONB].contains(ty) {
            row.try_get::<_, Option<Json>>(i)
                .map_err(bad)?
                .unwrap_or(Json::Null)
        } else {
            return Err(LookupError::Failed(format!(
                "Postgres: column `{}` is of type {ty}, which enrich does not read; cast it in the query (e.g. {}::text or {}::float8)",
                col.name(),
                col.name(),
                col.name()
            )));
        };
        m.insert(col.name().to_string(), v);
    }
    Ok(Json::Object(m))
}

/// A row's value bound to a parameter, converted to the parameter's type.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let textual = [
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::UNKNOWN,
        ];
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int64(v), t) if *t == Type::INT8 => v.to_sql(ty, out),
            (Value::Int64(v), t) if *t == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            (Value::Int64(v), t) if *t == Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
            (Value::Int64(v), t) if *t == Type::FLOAT8 => (*v as f64).to_sql(ty, out),
            (Value::Float64(v), t) if *t == Type::FLOAT8 => v.to_sql(ty, out),
            (Value::Float64(v), t) if *t == Type::FLOAT4 => (*v as f32).to_sql(ty, out),
            (Value::Bool(v), t) if *t == Type::BOOL => v.to_sql(ty, out),
            (Value::String(s), t) if textual.contains(t) => s.as_str().to_sql(ty, out),
            (Value::String(s), t) if *t == Type::INT8 => s.trim().parse::<i64>()?.to_sql(ty, out),
            (Value::String(s), t) if *t == Type::INT4 => s.trim().parse::<i32>()?.to_sql(ty, out),
            (v, t) if textual.contains(t) => {
                let mut s = String::new();
                super::text(v, &mut s);
                s.as_str().to_sql(ty, out)
            }
            (v, t) => Err(format!(
                "a {} value cannot be bound to a parameter of type {t}; cast the parameter in the query (e.g. $1::text)",
                v.data_type().sql_name()
            )
            .into()),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
