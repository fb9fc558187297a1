//! The deployment file, `quiver.yaml`: where the stores and brokers are.
//!
//! ```yaml
//! online_store: embedded://.quiver/online   # or redis://[:${REDIS_PASSWORD}@]host:6379/0[?prefix=NAME]
//! historical_store: .quiver/historical
//! jobs: jobs/                               # where `quiver features` looks
//! state_dir: .quiver/state                  # checkpoints of live runs
//! kafka: {brokers: localhost:9092, properties: {fetch.wait.max.ms: 10}}
//! metrics: {listen: 127.0.0.1:9464}
//! server: {listen: 127.0.0.1:6566, max_entities: 1000, max_body_bytes: 1048576,
//!          auth_token: ${QUIVER_TOKEN}}
//! ```
//!
//! Every key is optional; the defaults above (without `kafka` and
//! `metrics`) apply when the file is absent. Relative paths resolve against
//! the directory of the file, or the working directory when there is no
//! file. `${ENV}` references are substituted, so secrets stay out of the file.

use std::path::{Path, PathBuf};

use quiver_types::{Diagnostic, Diagnostics};

use crate::decode::{self, Fields};
use crate::expand;
use crate::yaml::{self, Node};

const KEYS: &[&str] = &[
    "online_store",
    "historical_store",
    "jobs",
    "state_dir",
    "kafka",
    "metrics",
    "server",
];
const KAFKA_KEYS: &[&str] = &[
    "brokers",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "properties",
];
const METRICS_KEYS: &[&str] = &["listen"];
const SERVER_KEYS: &[&str] = &[
    "listen",
    "max_entities",
    "max_features",
    "max_body_bytes",
    "max_in_flight",
    "auth_token",
];

/// Settings of the feature server (`quiver serve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: String,
    /// Most entities in one request.
    pub max_entities: usize,
    /// Most feature references in one request.
    pub max_features: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most requests answered at once (more get 503).
    pub max_in_flight: usize,
    /// When set, feature requests must carry `Authorization: Bearer <token>`
    /// (write it as `${ENV}`).
    pub auth_token: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:6566".into(),
            max_entities: 1_000,
            max_features: 1_000,
            max_body_bytes: 1 << 20,
            max_in_flight: 256,
            auth_token: None,
        }
    }
}

/// Where feature rows are served from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnlineStoreConfig {
    /// The embedded store in a directory (`embedded://PATH`).
    Embedded(PathBuf),
    /// A Redis server (`redis://...`), kept as written.
    Redis(String),
}

/// Kafka connection settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KafkaConfig {
    /// `host:port[,host:port...]`
    pub brokers: String,
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub security_protocol: Option<String>,
    /// SASL mechanism, e.g. `PLAIN` or `SCRAM-SHA-512`.
    pub sasl_mechanism: Option<String>,
    /// SASL user.
    pub sasl_username: Option<String>,
    /// SASL password (use `${ENV}`).
    pub sasl_password: Option<String>,
    /// Other librdkafka settings, passed through as written
    /// (`properties: {fetch.wait.max.ms: 10}`).
    pub properties: Vec<(String, String)>,
}

/// The settings of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentConfig {
    /// The file these settings came from, if any.
    pub file: Option<String>,
    /// The online store.
    pub online_store: OnlineStoreConfig,
    /// Root directory of the historical Parquet store.
    pub historical_store: PathBuf,
    /// Job files and directories (`quiver features` reads these).
    pub jobs: Vec<PathBuf>,
    /// Where live runs keep their checkpoints.
    pub state_dir: PathBuf,
    /// Kafka brokers, when configured.
    pub kafka: Option<KafkaConfig>,
    /// Address for Prometheus metrics, when configured.
    pub metrics_listen: Option<String>,
    /// The feature server.
    pub server: ServerConfig,
}

impl DeploymentConfig {
    /// The defaults, relative to `base`.
    pub fn defaults(base: &Path) -> DeploymentConfig {
        DeploymentConfig {
            file: None,
            online_store: OnlineStoreConfig::Embedded(base.join(".quiver/online")),
            historical_store: base.join(".quiver/historical"),
            jobs: vec![base.join("jobs")],
            state_dir: base.join(".quiver/state"),
            kafka: None,
            metrics_listen: None,
            server: ServerConfig::default(),
        }
    }

    /// Reads `path`, or returns the defaults (relative to the working
    /// directory) when `path` is `None` and no `quiver.yaml` is present there.
    pub fn load(path: Option<&Path>) -> Result<DeploymentConfig, Diagnostics> {
        match path {
            Some(p) => Self::load_file(p, &expand::process_env),
            None if Path::new("quiver.yaml").exists() => {
                Self::load_file(Path::new("quiver.yaml"), &expand::process_env)
            }
            None => Ok(Self::defaults(Path::new(""))),
        }
    }

    /// Reads a deployment file with a custom environment lookup.
    pub fn load_file(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<DeploymentConfig, Diagnostics> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Diagnostics::from(
                Diagnostic::new(format!("cannot read deployment file: {e}")).in_file(&file),
            )
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, &base, env)
            .map(|mut c| {
                c.file = Some(file.clone());
                c
            })
            .map_err(|e| e.in_file(&file))
    }

    /// Parses deployment-file text; relative paths resolve against `base`.
    pub fn parse(
        text: &str,
        base: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<DeploymentConfig, Diagnostics> {
        let mut errors = Diagnostics::new();
        let mut doc: Node = yaml::parse(text).map_err(Diagnostics::from)?;
        expand::substitute_env(&mut doc, env, &mut errors);
        let mut cfg = Self::defaults(base);
        let Some(f) = Fields::of(&doc, "quiver.yaml", KEYS, &mut errors) else {
            return Err(errors);
        };
        let resolve = |p: &str| {
            if Path::new(p).is_absolute() {
                PathBuf::from(p)
            } else {
                base.join(p)
            }
        };
        if let Some(n) = f.get("online_store")
            && let Some(url) = decode::string(n, "`online_store`", &mut errors)
        {
            let url = url.into_string();
            if let Some(p) = url.strip_prefix("embedded://") {
                cfg.online_store = OnlineStoreConfig::Embedded(resolve(p));
            } else if url.starts_with("redis://") || url.starts_with("rediss://") {
                cfg.online_store = OnlineStoreConfig::Redis(url);
            } else {
                errors.push(
                    Diagnostic::at(n.pos, format!("unknown online store `{url}`")).with_help(
                        "use embedded://PATH or redis://[:PASSWORD@]HOST:PORT[/DB][?prefix=NAME]",
                    ),
                );
            }
        }
        if let Some(n) = f.get("historical_store")
            && let Some(p) = decode::string(n, "`historical_store`", &mut errors)
        {
            cfg.historical_store = resolve(p.as_str());
        }
        if let Some(n) = f.get("state_dir")
            && let Some(p) = decode::string(n, "`state_dir`", &mut errors)
        {
            cfg.state_dir = resolve(p.as_str());
        }
        if let Some(n) = f.get("jobs") {
            cfg.jobs = decode::string_list(n, "`jobs`", &mut errors)
                .into_iter()
                .map(|(p, _)| resolve(&p))
                .collect();
        }
        if let Some(n) = f.get("kafka")
            && let Some(kf) = Fields::of(n, "`kafka`", KAFKA_KEYS, &mut errors)
        {
            let mut k = KafkaConfig::default();
            if let Some(b) = kf.required("brokers", "`brokers: localhost:9092`", &mut errors) {
                k.brokers = decode::string_list(b, "`brokers`", &mut errors)
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect::<Vec<_>>()
                    .join(",");
            }
            let opt = |key: &str, errors: &mut Diagnostics| {
                kf.get(key)
                    .and_then(|n| decode::string(n, &format!("`{key}`"), errors))
                    .map(|t| t.into_string())
            };
            k.security_protocol = opt("security_protocol", &mut errors);
            k.sasl_mechanism = opt("sasl_mechanism", &mut errors);
            k.sasl_username = opt("sasl_username", &mut errors);
            k.sasl_password = opt("sasl_password", &mut errors);
            if let Some(p) = kf.get("properties") {
                match p.as_map() {
                    Some(entries) => {
                        for (key, value) in entries {
                            match (key.scalar_text(), value.scalar_text()) {
                                (Some(key), Some(value)) => {
                                    k.properties.push((key.into_string(), value.into_string()))
                                }
                                _ => errors.push(
                                    Diagnostic::at(
                                        key.pos,
                                        "each Kafka property maps a name to a scalar",
                                    )
                                    .with_help("write e.g. `fetch.wait.max.ms: 10`"),
                                ),
                            }
                        }
                    }
                    None => errors.push(
                        Diagnostic::at(
                            p.pos,
                            "`properties` must be a mapping of librdkafka settings",
                        )
                        .with_help("write e.g. `properties: {fetch.wait.max.ms: 10}`"),
                    ),
                }
            }
            cfg.kafka = Some(k);
        }
        if let Some(n) = f.get("metrics")
            && let Some(mf) = Fields::of(n, "`metrics`", METRICS_KEYS, &mut errors)
        {
            cfg.metrics_listen = mf
                .get("listen")
                .and_then(|l| decode::string(l, "`listen`", &mut errors))
                .map(|t| t.into_string());
        }
        if let Some(n) = f.get("server")
            && let Some(sf) = Fields::of(n, "`server`", SERVER_KEYS, &mut errors)
        {
            let s = &mut cfg.server;
            if let Some(l) = sf
                .get("listen")
                .and_then(|l| decode::string(l, "`listen`", &mut errors))
            {
                s.listen = l.into_string();
            }
            for (key, slot) in [
                ("max_entities", &mut s.max_entities),
                ("max_features", &mut s.max_features),
                ("max_body_bytes", &mut s.max_body_bytes),
                ("max_in_flight", &mut s.max_in_flight),
            ] {
                if let Some(v) = sf.get(key) {
                    match decode::integer(v, &format!("`{key}`"), &mut errors) {
                        Some(i) if i > 0 => *slot = i as usize,
                        Some(_) => errors.push(
                            Diagnostic::at(v.pos, format!("`{key}` must be positive"))
                                .with_help(format!("write e.g. `{key}: {slot}`")),
                        ),
                        None => {}
                    }
                }
            }
            if let Some(n) = sf.get("auth_token")
                && let Some(t) = decode::string(n, "`auth_token`", &mut errors)
            {
                // An empty token must not quietly turn auth off.
                if t.as_str().is_empty() {
                    errors.push(Diagnostic::at(n.pos, "`auth_token` is empty").with_help(
                        "set the variable it names, or remove `auth_token` to serve without auth",
                    ));
                } else {
                    s.auth_token = Some(t.into_string());
                }
            }
        }
        errors.into_result(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_and_overrides() {
        let c = DeploymentConfig::parse(
            "historical_store: hist\nonline_store: redis://localhost:6379/0\n",
            Path::new("/srv"),
            &no_env,
        )
        .unwrap();
        assert_eq!(c.historical_store, PathBuf::from("/srv/hist"));
        assert_eq!(
            c.online_store,
            OnlineStoreConfig::Redis("redis://localhost:6379/0".into())
        );
        assert_eq!(c.jobs, vec![PathBuf::from("/srv/jobs")]);
    }

    #[test]
    fn redis_passwords_come_from_the_environment() {
        let env = |v: &str| (v == "REDIS_PASSWORD").then(|| "s3cret".to_string());
        let c = DeploymentConfig::parse(
            "online_store: redis://:${REDIS_PASSWORD}@redis.internal:6380/2?prefix=fraud\n",
            Path::new(""),
            &env,
        )
        .unwrap();
        assert_eq!(
            c.online_store,
            OnlineStoreConfig::Redis("redis://:s3cret@redis.internal:6380/2?prefix=fraud".into())
        );
    }

    #[test]
    fn unknown_keys_are_reported() {
        let e = DeploymentConfig::parse("online_stor: x\n", Path::new(""), &no_env).unwrap_err();
        assert!(e.to_string().contains("did you mean `online_store`"), "{e}");
    }
}
