//! The Redis online store (`online_store: redis://HOST:PORT[/DB][?prefix=NAME]`).
//!
//! # Layout
//!
//! As in Feast, there is **one Redis hash per entity**, shared by every job
//! whose entity has the same column names and values, with a field per
//! feature and an event-time field per job:
//!
//! ```text
//! key    <prefix>:<entity key bytes>           one hash per entity
//! field  <job>:<feature>  = <value bytes>      one per feature of each job
//! field  _ts:<job>        = <event time>       one per job: ms since the epoch, decimal ASCII
//! key    <prefix>:jobs                         hash: job name -> JobMeta JSON
//! ```
//!
//! * **Entity key bytes** follow Feast's entity-key serialization
//!   (version 3): the column names sorted, then the values in that order,
//!   all little-endian —
//!   `u32 count`, per name `u32 2, u32 len, utf-8`, per value
//!   `u32 type, u32 len, bytes`. Types use Feast's numbers where Feast has
//!   the type: 1 bytes (raw), 2 string (utf-8), 4 int64 (8 bytes),
//!   5 float64 (8 bytes, IEEE bits), 7 bool (1 byte); Quiver's own for the
//!   rest: 1000 NULL (0 bytes), 1001 timestamp (i64 ms, 8 bytes), 1002 date
//!   (i32 days, 4 bytes). For string, int64 and bytes keys the bytes are
//!   exactly Feast's. Sorting by name makes `[a, b]` and `[b, a]` the same
//!   entity; int64 `7` and float64 `7.0` are different entities.
//! * **Prefix first.** Feast appends the project to the key; Quiver puts
//!   `<prefix>:` first so that `SCAN MATCH <prefix>:*` and Redis ACL key
//!   patterns (`~<prefix>:*`) cover exactly one deployment. The prefix is
//!   letters, digits, `_`, `-` and `.` (default `quiver`), so no prefix's
//!   pattern matches another's keys. `<prefix>:jobs` cannot be an entity
//!   key: those start with a little-endian entity count, and `jobs` read as
//!   one would be 1.9 billion columns.
//! * **Field names are readable** (`job:feature`), where Feast hashes them
//!   with Murmur3 to save memory: `redis-cli HGETALL` shows what is there,
//!   and no two features can collide. Job names start with a letter and
//!   hold no `:`, so `_ts:<job>` never equals a feature field.
//! * **Values** are Quiver's tagged encoding (postcard): a varint tag — 0
//!   NULL, 1 bool, 2 int64, 3 float64, 4 string, 5 timestamp (ms), 6 date
//!   (days), 7 bytes — then the payload (integers zigzag varints, floats 8
//!   bytes little-endian, strings and bytes a varint length and the bytes).
//!   NULL is stored, not omitted, so a newer row with a NULL replaces an
//!   older value.
//!
//! # Semantics
//!
//! * **Writes** go out in pipelines of [`WRITE_BATCH`] entities per round
//!   trip. Each entity is one call of a Lua script that compares the stored
//!   `_ts:<job>` with the row's event time and, only if the stored one is
//!   not newer, sets the time and every feature field in one `HSET` — atomic
//!   on the server, so concurrent writers (several workers, a backfill and a
//!   live job) can never let an older event time overwrite a newer one, even
//!   within one batch. Equal times overwrite (as in the embedded store). The
//!   script is loaded once and called with `EVALSHA`; if the server has
//!   forgotten it (restart, `SCRIPT FLUSH`), the batch is re-sent with
//!   `EVAL`, which is safe because applying the same writes twice gives the
//!   same result.
//! * **Reads** of one job for one entity are one `HMGET` of the job's
//!   feature fields and its `_ts` field: all from the same write. A batch of
//!   entities is one pipeline, which also re-reads the job's metadata so a
//!   cached layout is never used after the job was re-registered with other
//!   columns. TTL is applied on read ([`crate::statuses`]); Redis key expiry
//!   is not used, because a hash holds several jobs with different TTLs.
//!   Reads go over their own pooled connections, with the commands packed
//!   and the replies decoded by a small hand-written RESP reader (the
//!   private `resp` module says why); everything else goes through redis-rs.
//! * **Job metadata** lives in Redis too (`<prefix>:jobs`), so `quiver get`
//!   and the feature server work without the job files. A job must be
//!   registered before it is written (the online sink does this).
//! * Event times must be within ±2^53 ms (±285,000 years): the script
//!   compares them as Lua numbers, which are exact there.
//! * The connection URL is `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`, with
//!   an optional `?prefix=NAME`. A password is best given as `${ENV}` in
//!   `quiver.yaml` (percent-encode reserved characters). `rediss://` (TLS) is
//!   not built in. Errors name the URL with the password masked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use quiver_types::Value;
use redis::{Client, Connection, ConnectionAddr, ErrorKind, RedisError, ServerErrorKind};

use crate::codec::{decode_value, encode_value};
use crate::resp::{self, Login, RespConn, RespError};
use crate::{EntityKey, EntityRead, FeatureRow, JobMeta, OnlineStore, StoreError, statuses};

/// Entities written per pipeline round trip.
pub const WRITE_BATCH: usize = 1_000;
/// Entities read per pipeline round trip.
pub const READ_BATCH: usize = 1_000;
/// The key prefix when the URL names none.
pub const DEFAULT_PREFIX: &str = "quiver";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Generous, because a pipeline of 1,000 writes can wait behind a busy
/// server; short enough that a hung server surfaces as an error.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// |event time| above which Lua's doubles would compare inexactly.
const MAX_EXACT_TIME: i64 = 1 << 53;

/// Sets the row if the stored event time is not newer. KEYS[1]: entity hash;
/// ARGV[1]: `_ts:<job>`; ARGV[2]: event time (ms); ARGV[3..]: field, value
/// pairs. Fields go in chunks of 100 pairs to stay far below Lua's limit on
/// `unpack` results.
const WRITE_SCRIPT: &str = r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and tonumber(old) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
for i = 3, #ARGV, 200 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 199, #ARGV)))
end
return 1
"#;

// Feast's ValueType numbers, and Quiver's own for types Feast cannot key on.
const TAG_BYTES: u32 = 1;
const TAG_STRING: u32 = 2;
const TAG_INT64: u32 = 4;
const TAG_FLOAT64: u32 = 5;
const TAG_BOOL: u32 = 7;
const TAG_NULL: u32 = 1000;
const TAG_TIMESTAMP: u32 = 1001;
const TAG_DATE: u32 = 1002;

/// The serialized entity key (without the prefix): see the module docs.
/// `names` and `values` pair up; they are sorted by name here.
pub fn entity_key_bytes(names: &[&str], values: &[Value]) -> Vec<u8> {
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by(|&a, &b| names[a].cmp(names[b]));
    let mut out = entity_key_head(names, &order);
    for &i in &order {
        push_entity_value(&mut out, values.get(i).unwrap_or(&Value::Null));
    }
    out
}

/// The names part of a serialized entity key, for names in `order`.
fn entity_key_head(names: &[&str], order: &[usize]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + order.len() * 16);
    out.extend_from_slice(&(order.len() as u32).to_le_bytes());
    for &i in order {
        out.extend_from_slice(&TAG_STRING.to_le_bytes());
        out.extend_from_slice(&(names[i].len() as u32).to_le_bytes());
        out.extend_from_slice(names[i].as_bytes());
    }
    out
}

fn push_entity_value(out: &mut Vec<u8>, v: &Value) {
    let mut put = |tag: u32, bytes: &[u8]| {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    match v {
        Value::Null => put(TAG_NULL, &[]),
        Value::Bool(b) => put(TAG_BOOL, &[u8::from(*b)]),
        Value::Int64(i) => put(TAG_INT64, &i.to_le_bytes()),
        Value::Float64(f) => put(TAG_FLOAT64, &f.to_bits().to_le_bytes()),
        Value::String(s) => put(TAG_STRING, s.as_bytes()),
        Value::Timestamp(t) => put(TAG_TIMESTAMP, &t.to_le_bytes()),
        Value::Date(d) => put(TAG_DATE, &d.to_le_bytes()),
        Value::Bytes(b) => put(TAG_BYTES, b),
        // Planning refuses array and map entity columns (Feast keys are
        // scalars); this arm only keeps the match total.
        Value::List(..) | Value::Map(..) => put(TAG_BYTES, &encode_value(v)),
    }
}

/// How one job's rows map onto hashes and fields, derived from its metadata.
struct Layout {
    meta: JobMeta,
    /// The metadata as stored, to notice re-registration.
    json: String,
    /// `<job>:<feature>` per feature, then `_ts:<job>`.
    fields: Vec<Vec<u8>>,
    /// `fields` as RESP bulk strings, the tail of every `HMGET`.
    packed_fields: Vec<u8>,
    /// `<prefix>:` and the entity names part of the key.
    key_head: Vec<u8>,
    /// Entity column positions in name order.
    order: Vec<usize>,
}

impl Layout {
    fn new(prefix: &str, meta: JobMeta, json: String) -> Layout {
        let names: Vec<&str> = meta.entity.iter().map(|(n, _)| n.as_str()).collect();
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| names[a].cmp(names[b]));
        let mut key_head = format!("{prefix}:").into_bytes();
        key_head.extend(entity_key_head(&names, &order));
        let mut fields: Vec<Vec<u8>> = meta
            .features
            .iter()
            .map(|(f, _)| format!("{}:{f}", meta.name).into_bytes())
            .collect();
        fields.push(format!("_ts:{}", meta.name).into_bytes());
        let mut packed_fields = Vec::new();
        for f in &fields {
            resp::pack_bulk(&mut packed_fields, f);
        }
        Layout {
            meta,
            json,
            fields,
            packed_fields,
            key_head,
            order,
        }
    }

    fn ts_field(&self) -> &[u8] {
        &self.fields[self.fields.len() - 1]
    }

    fn hash_key(&self, key: &[Value]) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::with_capacity(self.key_head.len() + 16 * key.len());
        self.write_hash_key(&mut out, key)?;
        Ok(out)
    }

    /// Appends the hash key of `key` to `out` (cleared first).
    fn write_hash_key(&self, out: &mut Vec<u8>, key: &[Value]) -> Result<(), StoreError> {
        out.clear();
        if key.len() != self.order.len() {
            return Err(StoreError::Backend(format!(
                "job `{}` is keyed by {} column(s) ({}), got a key of {} value(s)",
                self.meta.name,
                self.order.len(),
                self.meta
                    .entity
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                key.len()
            )));
        }
        out.extend_from_slice(&self.key_head);
        for &i in &self.order {
            push_entity_value(out, &key[i]);
        }
        Ok(())
    }

    /// Appends `HMGET <hash key of key> <fields...>` in RESP to `out`;
    /// `scratch` holds the key meanwhile.
    fn pack_hmget(
        &self,
        out: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
        key: &[Value],
    ) -> Result<(), StoreError> {
        self.write_hash_key(scratch, key)?;
        resp::push_header(out, b'*', 2 + self.fields.len());
        resp::pack_bulk(out, b"HMGET");
        resp::pack_bulk(out, scratch);
        out.extend_from_slice(&self.packed_fields);
        Ok(())
    }
}

/// An online store in a Redis server. Cheap to share: connections are
/// pooled, one per concurrent caller.
pub struct RedisStore {
    client: Client,
    /// The URL with its password masked, for messages.
    url: String,
    prefix: String,
    jobs_key: String,
    /// SHA1 of [`WRITE_SCRIPT`], as the server computed it.
    write_sha: String,
    pool: Mutex<Vec<Connection>>,
    /// Where reads go: host and port (reads use their own connections,
    /// see [`crate::resp`]).
    host: String,
    port: u16,
    /// Idle read connections.
    read_pool: Mutex<Vec<RespConn>>,
    layouts: RwLock<HashMap<String, Arc<Layout>>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// `url` with the password (if any) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split_once(':').map_or("", |(u, _)| u);
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

/// Splits `?prefix=NAME` off a URL, leaving any other query parameters.
fn split_prefix(url: &str) -> Result<(String, String), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), DEFAULT_PREFIX.to_string()));
    };
    let mut prefix = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("prefix", v)) => prefix = Some(v.to_string()),
            _ => rest.push(pair),
        }
    }
    let prefix = prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    if prefix.is_empty()
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "key prefix `{prefix}` may hold only letters, digits, `_`, `-` and `.`"
        ));
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, prefix))
}

impl RedisStore {
    /// Connects to the server at `url` (`redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?prefix=NAME]`),
    /// checks that it answers, and loads the write script.
    pub fn open(url: &str) -> Result<RedisStore, StoreError> {
        let shown = redact_url(url);
        if url.starts_with("rediss://") {
            return Err(StoreError::Backend(format!(
                "online store `{shown}`: TLS (rediss://) is not built into this version of Quiver; \
                 use redis:// (through a TLS tunnel such as stunnel if the link needs encryption)"
            )));
        }
        let (conn_url, prefix) = split_prefix(url)
            .map_err(|e| StoreError::Backend(format!("online store `{shown}`: {e}")))?;
        let client = Client::open(conn_url.as_str()).map_err(|e| {
            StoreError::Backend(format!(
                "online store `{shown}` is not a valid Redis URL ({e}); \
                 use redis://[:PASSWORD@]HOST:PORT[/DB][?prefix=NAME]"
            ))
        })?;
        let (host, port) = match client.get_connection_info().addr() {
            ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
            other => {
                return Err(StoreError::Backend(format!(
                    "online store `{shown}`: only TCP addresses (redis://HOST:PORT) are supported, not {other}"
                )));
            }
        };
        let mut store = RedisStore {
            client,
            url: shown,
            jobs_key: format!("{prefix}:jobs"),
            prefix,
            write_sha: String::new(),
            pool: Mutex::new(Vec::new()),
            host,
            port,
            read_pool: Mutex::new(Vec::new()),
            layouts: RwLock::new(HashMap::new()),
        };
        store.write_sha = store.with_conn("loading the write script", |c| {
            redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(WRITE_SCRIPT)
                .query::<String>(c)
        })?;
        Ok(store)
    }

    /// The URL, password masked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix (`<prefix>:...`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key under this store's prefix (entities and job
    /// metadata) and returns how many there were. Other prefixes and
    /// databases are untouched.
    pub fn clear(&self) -> Result<usize, StoreError> {
        let pattern = format!("{}:*", self.prefix);
        let deleted = self.with_conn("clearing the prefix", |c| {
            let mut cursor: u64 = 0;
            let mut deleted = 0usize;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query(c)?;
                if !keys.is_empty() {
                    deleted += redis::cmd("UNLINK").arg(&keys).query::<usize>(c)?;
                }
                if next == 0 {
                    return Ok(deleted);
                }
                cursor = next;
            }
        })?;
        self.layouts
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(deleted)
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let mut c = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| self.error("connecting", &e))?;
        c.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| c.set_write_timeout(Some(IO_TIMEOUT)))
            // Named so `CLIENT LIST` shows whose connections these are.
            .and_then(|()| {
                redis::cmd("CLIENT")
                    .arg("SETNAME")
                    .arg(format!("quiver:{}", self.prefix))
                    .exec(&mut c)
            })
            .map_err(|e| self.error("connecting", &e))?;
        Ok(c)
    }

    /// Runs `f` on a pooled connection. A connection that failed at the
    /// socket level is dropped, not pooled; if it had been dropped by the
    /// server (idle timeout, restart), `f` runs once more on a new one,
    /// which is safe because every operation here is idempotent.
    fn with_conn<T>(
        &self,
        what: &str,
        mut f: impl FnMut(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, StoreError> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let (mut conn, fresh) = match pooled {
            Some(c) => (c, false),
            None => (self.connect()?, true),
        };
        let result = match f(&mut conn) {
            Err(e) if !fresh && e.is_connection_dropped() => {
                conn = self.connect()?;
                f(&mut conn)
            }
            r => r,
        };
        match result {
            Ok(v) => {
                self.give_back(conn);
                Ok(v)
            }
            Err(e) => {
                if !e.is_io_error() {
                    self.give_back(conn);
                }
                Err(self.error(what, &e))
            }
        }
    }

    fn give_back(&self, conn: Connection) {
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }

    fn error(&self, what: &str, e: &RedisError) -> StoreError {
        let url = &self.url;
        StoreError::Backend(if e.is_connection_refusal() || e.is_connection_dropped() {
            format!(
                "cannot reach Redis at `{url}` ({what}): {e}; is redis-server running there? \
                 (`./scripts/services.sh start` starts one on 127.0.0.1:6379)"
            )
        } else if e.is_timeout() {
            format!("Redis at `{url}` did not answer in time ({what}): {e}")
        } else if e.kind() == ErrorKind::AuthenticationFailed
            || e.code().is_some_and(|c| c == "NOAUTH" || c == "WRONGPASS")
        {
            format!(
                "Redis at `{url}` refused the credentials ({what}): {e}; \
                 check the password in online_store (redis://:PASSWORD@HOST:PORT)"
            )
        } else {
            format!("Redis at `{url}` ({what}): {e}")
        })
    }

    /// The layout of a job: cached, else read from the server.
    fn layout(&self, job: &str) -> Result<Arc<Layout>, StoreError> {
        if let Some(l) = self
            .layouts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(job)
        {
            return Ok(l.clone());
        }
        let json = self
            .with_conn("reading job metadata", |c| {
                redis::cmd("HGET")
                    .arg(&self.jobs_key)
                    .arg(job)
                    .query::<Option<String>>(c)
            })?
            .ok_or_else(|| StoreError::UnknownJob(job.to_string()))?;
        self.cache(json)
    }

    fn cache(&self, json: String) -> Result<Arc<Layout>, StoreError> {
        let meta = JobMeta::from_json(&json)?;
        let name = meta.name.clone();
        let layout = Arc::new(Layout::new(&self.prefix, meta, json));
        self.layouts
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, layout.clone());
        Ok(layout)
    }

    fn forget(&self, job: &str) {
        self.layouts
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(job);
    }

    /// One pipeline of write-script calls, by SHA or with the script text.
    fn write_pipeline(
        &self,
        layout: &Layout,
        rows: &[(EntityKey, FeatureRow)],
        by_sha: bool,
    ) -> Result<redis::Pipeline, StoreError> {
        let n = layout.meta.features.len();
        let mut pipe = redis::pipe();
        for (key, row) in rows {
            if row.values.len() != n {
                return Err(StoreError::Backend(format!(
                    "job `{}` has {n} feature column(s), got a row of {}",
                    layout.meta.name,
                    row.values.len()
                )));
            }
            if row.event_time.unsigned_abs() > MAX_EXACT_TIME as u64 {
                return Err(StoreError::Backend(format!(
                    "event time {} ms of job `{}` is outside ±2^53 ms, which the Redis store cannot compare exactly",
                    row.event_time, layout.meta.name
                )));
            }
            let cmd = pipe.cmd(if by_sha { "EVALSHA" } else { "EVAL" });
            cmd.arg(if by_sha {
                self.write_sha.as_str()
            } else {
                WRITE_SCRIPT
            })
            .arg(1)
            .arg(layout.hash_key(key)?)
            .arg(layout.ts_field())
            .arg(row.event_time);
            for (field, v) in layout.fields.iter().zip(&row.values) {
                cmd.arg(field.as_slice()).arg(encode_value(v));
            }
        }
        Ok(pipe)
    }

    /// Reads one batch; `None` when the job's metadata changed under the
    /// cached layout (the caller re-reads with the new one).
    ///
    /// One round trip: `HGET` of the job's metadata, then one `HMGET` per
    /// entity, packed by hand and decoded from the socket buffer in place
    /// (see [`crate::resp`] for why not through redis-rs).
    fn read_batch(
        &self,
        layout: &Layout,
        keys: &[EntityKey],
        now: i64,
    ) -> Result<Option<Vec<EntityRead>>, StoreError> {
        let n = layout.meta.features.len();
        let per_key = 32 + layout.key_head.len() + 16 + layout.packed_fields.len();
        let mut request = Vec::with_capacity(64 + self.jobs_key.len() + keys.len() * per_key);
        resp::pack_command(
            &mut request,
            &[
                b"HGET",
                self.jobs_key.as_bytes(),
                layout.meta.name.as_bytes(),
            ],
        );
        let mut scratch = Vec::new();
        for key in keys {
            layout.pack_hmget(&mut request, &mut scratch, key)?;
        }
        let time_of = |ts: &[u8]| {
            std::str::from_utf8(ts)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "`_ts:{}` is not an event time: {:?}",
                        layout.meta.name,
                        String::from_utf8_lossy(ts)
                    ))
                })
        };
        let (json, rows) = self.with_read_conn("reading features", |c| {
            c.send(&request)?;
            // None: the metadata is the cached one's; Some(None): gone.
            let json: Option<Option<String>> = c.bulk(|b| match b {
                Some(b) if b == layout.json.as_bytes() => None,
                Some(b) => Some(Some(String::from_utf8_lossy(b).into_owned())),
                None => Some(None),
            })?;
            let mut rows = Vec::with_capacity(keys.len());
            for _ in keys {
                let len = c.array()?;
                if len != n + 1 {
                    return Err(RespError::Protocol(format!(
                        "HMGET of {} fields answered {len} values",
                        n + 1
                    )));
                }
                // Every reply is read whatever it holds, so the connection
                // stays in step; the first undecodable value is kept.
                let mut values = Vec::with_capacity(n);
                let mut bad = None;
                for _ in 0..n {
                    let v = c.bulk(|b| b.map_or(Ok(Value::Null), decode_value))?;
                    values.push(v.unwrap_or_else(|e| {
                        bad.get_or_insert(e);
                        Value::Null
                    }));
                }
                let time = c.bulk(|b| b.map(time_of))?;
                rows.push((values, bad, time));
            }
            Ok((json, rows))
        })?;
        match json {
            Some(None) => {
                self.forget(&layout.meta.name);
                return Err(StoreError::UnknownJob(layout.meta.name.clone()));
            }
            Some(Some(j)) => {
                self.cache(j)?;
                return Ok(None);
            }
            None => {}
        }
        let mut out = Vec::with_capacity(keys.len());
        for (values, bad, time) in rows {
            let row = match time {
                // A field missing beside a present time is a feature the
                // job gained after this entity was last written (NULL).
                Some(event_time) => match bad {
                    Some(e) => return Err(e),
                    None => Some(FeatureRow {
                        event_time: event_time?,
                        values,
                    }),
                },
                None => None,
            };
            let statuses = statuses(row.as_ref(), n, layout.meta.ttl, now);
            out.push(EntityRead { row, statuses });
        }
        Ok(Some(out))
    }

    /// Opens a read connection (see [`crate::resp`]).
    fn read_connect(&self) -> Result<RespConn, StoreError> {
        let info = self.client.get_connection_info().redis_settings();
        let name = format!("quiver:{}", self.prefix);
        RespConn::connect(
            &self.host,
            self.port,
            &Login {
                username: info.username(),
                password: info.password(),
                db: info.db(),
                name: &name,
            },
            CONNECT_TIMEOUT,
            IO_TIMEOUT,
        )
        .map_err(|e| self.resp_error("connecting", &e))
    }

    /// [`Self::with_conn`] for read connections. Only a connection whose
    /// every reply was read goes back to the pool; after any error it is
    /// dropped. A pooled one that failed at the socket (server restart,
    /// idle timeout) is replaced and `f` runs once more: reads are
    /// idempotent.
    fn with_read_conn<T>(
        &self,
        what: &str,
        mut f: impl FnMut(&mut RespConn) -> Result<T, RespError>,
    ) -> Result<T, StoreError> {
        let pooled = self
            .read_pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let (mut conn, fresh) = match pooled {
            Some(c) => (c, false),
            None => (self.read_connect()?, true),
        };
        let result = match f(&mut conn) {
            Err(RespError::Io(_)) if !fresh => {
                conn = self.read_connect()?;
                f(&mut conn)
            }
            r => r,
        };
        match result {
            Ok(v) => {
                self.read_pool
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
                Ok(v)
            }
            Err(e) => Err(self.resp_error(what, &e)),
        }
    }

    /// [`Self::error`] for the read connections' errors.
    fn resp_error(&self, what: &str, e: &RespError) -> StoreError {
        let url = &self.url;
        StoreError::Backend(match e {
            RespError::Io(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                format!("Redis at `{url}` did not answer in time ({what}): {io}")
            }
            RespError::Io(io) => format!(
                "cannot reach Redis at `{url}` ({what}): {io}; is redis-server running there? \
                 (`./scripts/services.sh start` starts one on 127.0.0.1:6379)"
            ),
            RespError::Server(m) if m.starts_with("NOAUTH") || m.starts_with("WRONGPASS") => {
                format!(
                    "Redis at `{url}` refused the credentials ({what}): {m}; \
                     check the password in online_store (redis://:PASSWORD@HOST:PORT)"
                )
            }
            other => format!("Redis at `{url}` ({what}): {other}"),
        })
    }
}

fn is_noscript(e: &RedisError) -> bool {
    e.kind() == ErrorKind::Server(ServerErrorKind::NoScript)
}

impl OnlineStore for RedisStore {
    fn register(&self, meta: &JobMeta) -> Result<(), StoreError> {
        let json = meta.to_json();
        self.with_conn("registering a job", |c| {
            redis::cmd("HSET")
                .arg(&self.jobs_key)
                .arg(&meta.name)
                .arg(&json)
                .exec(c)
        })?;
        self.cache(json).map(|_| ())
    }

    fn job(&self, name: &str) -> Result<Option<JobMeta>, StoreError> {
        self.with_conn("reading job metadata", |c| {
            redis::cmd("HGET")
                .arg(&self.jobs_key)
                .arg(name)
                .query::<Option<String>>(c)
        })?
        .map(|j| JobMeta::from_json(&j))
        .transpose()
    }

    fn jobs(&self) -> Result<Vec<JobMeta>, StoreError> {
        let all: Vec<(String, String)> = self.with_conn("listing jobs", |c| {
            redis::cmd("HGETALL").arg(&self.jobs_key).query(c)
        })?;
        let mut out = all
            .iter()
            .map(|(_, j)| JobMeta::from_json(j))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn write(&self, job: &str, rows: &[(EntityKey, FeatureRow)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let layout = self.layout(job)?;
        for chunk in rows.chunks(WRITE_BATCH) {
            let pipe = self.write_pipeline(&layout, chunk, true)?;
            let mut noscript = false;
            let first = self.with_conn("writing features", |c| match pipe.exec(c) {
                Err(e) if is_noscript(&e) => {
                    noscript = true;
                    Ok(())
                }
                r => r,
            });
            first?;
            if noscript {
                // The server lost the script: send the batch again with its
                // text (EVAL caches it, so later batches use EVALSHA again).
                // Re-applying writes that did go through changes nothing.
                let pipe = self.write_pipeline(&layout, chunk, false)?;
                self.with_conn("writing features", |c| pipe.exec(c))?;
            }
        }
        Ok(())
    }

    fn read_job(
        &self,
        job: &str,
        keys: &[EntityKey],
        now: i64,
    ) -> Result<(JobMeta, Vec<EntityRead>), StoreError> {
        let mut layout = self.layout(job)?;
        let mut retries = 0;
        'again: loop {
            let mut out = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(READ_BATCH) {
                match self.read_batch(&layout, chunk, now)? {
                    Some(batch) => out.extend(batch),
                    None if retries < 3 => {
                        // Re-registered with other columns: start over with
                        // the new layout so every entity reads the same ones.
                        retries += 1;
                        layout = self.layout(job)?;
                        continue 'again;
                    }
                    None => {
                        return Err(StoreError::Backend(format!(
                            "the metadata of job `{job}` kept changing while reading it; try again"
                        )));
                    }
                }
            }
            return Ok((layout.meta.clone(), out));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_keys_follow_feasts_serialization() {
        // Feast v3: count, sorted names (type 2, length, utf-8), values
        // (type, length, little-endian bytes).
        let k = entity_key_bytes(&["b", "a"], &[Value::Int64(7), Value::String("x".into())]);
        let mut want = Vec::new();
        for w in [2u32, 2, 1] {
            want.extend_from_slice(&w.to_le_bytes());
        }
        want.push(b'a');
        for w in [2u32, 1] {
            want.extend_from_slice(&w.to_le_bytes());
        }
        want.push(b'b');
        for w in [2u32, 1] {
            want.extend_from_slice(&w.to_le_bytes());
        }
        want.push(b'x');
        for w in [4u32, 8] {
            want.extend_from_slice(&w.to_le_bytes());
        }
        want.extend_from_slice(&7i64.to_le_bytes());
        assert_eq!(k, want);
        // Column order does not matter; types do.
        assert_eq!(
            k,
            entity_key_bytes(&["a", "b"], &[Value::String("x".into()), Value::Int64(7)])
        );
        assert_ne!(
            entity_key_bytes(&["a"], &[Value::Int64(7)]),
            entity_key_bytes(&["a"], &[Value::Float64(7.0)])
        );
        assert_ne!(
            entity_key_bytes(&["a"], &[Value::Null]),
            entity_key_bytes(&["a"], &[Value::String(String::new())])
        );
    }

    #[test]
    fn the_readme_example_key() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let mut want = b"quiver:".to_vec();
        want.extend(hex("01000000020000000b000000"));
        want.extend(b"customer_id");
        want.extend(hex("04000000080000000700000000000000"));
        let mut got = format!("{DEFAULT_PREFIX}:").into_bytes();
        got.extend(entity_key_bytes(&["customer_id"], &[Value::Int64(7)]));
        assert_eq!(got, want);
    }

    #[test]
    fn layout_keys_and_fields() {
        use quiver_types::{DataType, Field};
        let meta = JobMeta::new(
            "j",
            &[
                Field::new("z", DataType::Int64),
                Field::new("a", DataType::String),
            ],
            &[Field::new("n", DataType::Int64)],
            None,
            None,
        );
        let l = Layout::new("p", meta, String::new());
        let key = vec![Value::Int64(1), Value::String("s".into())];
        let mut want = b"p:".to_vec();
        want.extend(entity_key_bytes(&["z", "a"], &key));
        assert_eq!(l.hash_key(&key).unwrap(), want);
        assert_eq!(l.fields, vec![b"j:n".to_vec(), b"_ts:j".to_vec()]);
        assert!(l.hash_key(&[Value::Int64(1)]).is_err());
    }

    #[test]
    fn urls_are_redacted_and_prefixes_split() {
        assert_eq!(
            redact_url("redis://:s3cret@h:6379/2"),
            "redis://:***@h:6379/2"
        );
        assert_eq!(
            redact_url("redis://me:s3cret@h:6379/2?prefix=x"),
            "redis://me:***@h:6379/2?prefix=x"
        );
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert_eq!(
            split_prefix("redis://h/1?prefix=team.a&protocol=resp2").unwrap(),
            ("redis://h/1?protocol=resp2".into(), "team.a".into())
        );
        assert_eq!(
            split_prefix("redis://h").unwrap(),
            ("redis://h".into(), DEFAULT_PREFIX.into())
        );
        assert!(split_prefix("redis://h?prefix=a:b").is_err());
        assert!(split_prefix("redis://h?prefix=").is_err());
    }

    #[test]
    fn unreachable_servers_name_the_url_without_the_password() {
        // Port 1 on loopback: nothing listens there.
        let e = RedisStore::open("redis://:pw@127.0.0.1:1/0").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("redis://:***@127.0.0.1:1/0"), "{msg}");
        assert!(msg.contains("cannot reach Redis"), "{msg}");
        assert!(!msg.contains("pw@"), "{msg}");
        let e = RedisStore::open("rediss://h:6379").unwrap_err();
        assert!(e.to_string().contains("TLS"), "{e}");
    }
}
