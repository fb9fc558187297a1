//! `POST /get-online-features` requests, in Feast's feature-server shape,
//! checked against the jobs in the online store.
//!
//! ```json
//! {"features": ["job:feature", ...],
//!  "entities": {"customer_id": [1, 2]},
//!  "full_feature_names": false}
//! ```
//!
//! Every entity list has the same length (one entry per entity asked for).
//! A job's features need all of its entity columns among `entities`; other
//! entity lists are echoed back like Feast does. Unknown fields are ignored
//! (Feast clients send a few more); `feature_service` is refused, since
//! Quiver has no feature services.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use quiver_store::{EntityKey, JobMeta};
use quiver_types::DataType;

use crate::ApiError;
use crate::wire::from_json;

/// Limits a request must stay within.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most entities in one request.
    pub max_entities: usize,
    /// Most feature references in one request.
    pub max_features: usize,
    /// Most requests being answered at once; more get 503 at once rather
    /// than queueing without bound.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_entities: 1_000,
            max_features: 1_000,
            max_in_flight: 256,
        }
    }
}

#[derive(Deserialize)]
struct Raw {
    features: Option<Vec<String>>,
    entities: Option<Map<String, Json>>,
    #[serde(default)]
    full_feature_names: bool,
    feature_service: Option<Json>,
}

/// A checked request.
#[derive(Debug)]
pub struct Request {
    /// Entity columns in request order, with their values as sent.
    pub entities: Vec<(String, Vec<Json>)>,
    /// The jobs asked for, in order of first mention.
    pub jobs: Vec<JobRequest>,
    /// Output columns after the entities: (job index, feature name), in
    /// request order.
    pub columns: Vec<(usize, String)>,
    /// Name features `job__feature` instead of `feature`.
    pub full_feature_names: bool,
}

/// The part of a request that reads one job.
#[derive(Debug)]
pub struct JobRequest {
    /// The job's metadata.
    pub meta: JobMeta,
    /// One key per entity asked for.
    pub keys: Vec<EntityKey>,
}

impl Request {
    /// The name of output column `c` (after the entities).
    pub fn column_name(&self, c: usize) -> String {
        let (j, f) = &self.columns[c];
        if self.full_feature_names {
            format!("{}__{f}", self.jobs[*j].meta.name)
        } else {
            f.clone()
        }
    }

    /// How many entities were asked for.
    pub fn len(&self) -> usize {
        self.entities.first().map_or(0, |(_, v)| v.len())
    }

    /// Whether no entity was asked for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Parses and checks a request body; `job` looks up a job's metadata.
pub fn parse(
    body: &[u8],
    limits: Limits,
    mut job: impl FnMut(&str) -> Result<Option<JobMeta>, ApiError>,
) -> Result<Request, ApiError> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body is not a valid request: {e}"),
        )
    })?;
    if raw.feature_service.is_some() {
        return Err(ApiError::bad_request(
            "unsupported",
            "`feature_service` is not supported; list the features as \"job:feature\" in `features`",
        ));
    }
    let features = raw.features.ok_or_else(|| {
        ApiError::bad_request(
            "missing_field",
            "the request has no `features`; add e.g. \"features\": [\"job:feature\"]",
        )
    })?;
    if features.len() > limits.max_features {
        return Err(ApiError::too_large(
            "too_many_features",
            format!(
                "the request names {} features; at most {} per request",
                features.len(),
                limits.max_features
            ),
        ));
    }
    if features.is_empty() {
        return Err(ApiError::bad_request(
            "missing_field",
            "`features` is empty; name at least one \"job:feature\"",
        ));
    }
    let raw_entities = raw.entities.ok_or_else(|| {
        ApiError::bad_request(
            "missing_field",
            "the request has no `entities`; add e.g. \"entities\": {\"customer_id\": [1, 2]}",
        )
    })?;
    let mut entities = Vec::with_capacity(raw_entities.len());
    let mut len = None;
    for (name, values) in raw_entities {
        let Json::Array(values) = values else {
            return Err(ApiError::bad_request(
                "invalid_entities",
                format!("`entities.{name}` must be a list of values"),
            ));
        };
        if values.len() > limits.max_entities {
            return Err(ApiError::too_large(
                "too_many_entities",
                format!(
                    "`entities.{name}` has {} values; at most {} entities per request",
                    values.len(),
                    limits.max_entities
                ),
            ));
        }
        match len {
            None => len = Some(values.len()),
            Some(n) if n != values.len() => {
                return Err(ApiError::bad_request(
                    "invalid_entities",
                    format!(
                        "`entities.{name}` has {} values but the other entity lists have {n}; give one value per entity in every list",
                        values.len()
                    ),
                ));
            }
            Some(_) => {}
        }
        entities.push((name, values));
    }

    let mut jobs: Vec<JobRequest> = Vec::new();
    let mut columns = Vec::with_capacity(features.len());
    for r in &features {
        let Some((job_name, feature)) = r.split_once(':') else {
            return Err(ApiError::bad_request(
                "invalid_feature",
                format!("feature `{r}` is not \"job:feature\""),
            ));
        };
        let j = match jobs.iter().position(|j| j.meta.name == job_name) {
            Some(j) => j,
            None => {
                let meta = job(job_name)?.ok_or_else(|| {
                    ApiError::not_found(
                        "unknown_job",
                        format!("job `{job_name}` (in `{r}`) is not in the online store"),
                    )
                })?;
                let keys = keys_for(&meta, &entities)?;
                jobs.push(JobRequest { meta, keys });
                jobs.len() - 1
            }
        };
        let meta = &jobs[j].meta;
        if !meta.features.iter().any(|(n, _)| n == feature) {
            let names: Vec<&str> = meta.features.iter().map(|(n, _)| n.as_str()).collect();
            return Err(ApiError::not_found(
                "unknown_feature",
                format!(
                    "job `{job_name}` has no feature `{feature}` (it has: {})",
                    names.join(", ")
                ),
            ));
        }
        columns.push((j, feature.to_string()));
    }
    let request = Request {
        entities,
        jobs,
        columns,
        full_feature_names: raw.full_feature_names,
    };
    // Clients turn the response into a table: every name must be unique
    // (Feast refuses collisions too).
    let mut names: Vec<String> = request.entities.iter().map(|(n, _)| n.clone()).collect();
    for c in 0..request.columns.len() {
        let name = request.column_name(c);
        if names.contains(&name) {
            return Err(ApiError::bad_request(
                "feature_name_collision",
                format!(
                    "two columns of the response would be named `{name}`; {}",
                    if request.full_feature_names {
                        "name each feature once"
                    } else {
                        "set \"full_feature_names\": true to name them job__feature"
                    }
                ),
            ));
        }
        names.push(name);
    }
    Ok(request)
}

/// The keys of `meta`'s entities from the request's entity lists.
fn keys_for(meta: &JobMeta, entities: &[(String, Vec<Json>)]) -> Result<Vec<EntityKey>, ApiError> {
    let n = entities.first().map_or(0, |(_, v)| v.len());
    let mut keys: Vec<EntityKey> = (0..n)
        .map(|_| Vec::with_capacity(meta.entity.len()))
        .collect();
    for field in meta.entity_fields() {
        let Some((_, values)) = entities.iter().find(|(name, _)| *name == field.name) else {
            return Err(ApiError::bad_request(
                "missing_entity",
                format!(
                    "job `{}` needs entity `{}` ({}); add \"{}\": [...] to `entities`",
                    meta.name,
                    field.name,
                    field.data_type.spec_name(),
                    field.name
                ),
            ));
        };
        for (i, v) in values.iter().enumerate() {
            let value = from_json(v, field.data_type)
                .filter(|_| field.data_type != DataType::Null)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "wrong_entity_type",
                        format!(
                            "`entities.{}[{i}]` is {v}, not a {} (the type of `{}` in job `{}`)",
                            field.name,
                            field.data_type.spec_name(),
                            field.name,
                            meta.name
                        ),
                    )
                })?;
            keys[i].push(value);
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quiver_types::Value;

    fn meta() -> JobMeta {
        JobMeta {
            name: "spend".into(),
            entity: vec![("customer_id".into(), "int64".into())],
            features: vec![
                ("bookings".into(), "int64".into()),
                ("total".into(), "float64".into()),
            ],
            ttl: None,
            description: None,
        }
    }

    fn lookup(name: &str) -> Result<Option<JobMeta>, ApiError> {
        Ok((name == "spend").then(meta))
    }

    fn err(body: &str) -> ApiError {
        parse(body.as_bytes(), Limits::default(), lookup).unwrap_err()
    }

    #[test]
    fn a_feast_request_parses() {
        let r = parse(
            br#"{"features": ["spend:total", "spend:bookings"], "entities": {"customer_id": [1, "2"]}, "full_feature_names": true}"#,
            Limits::default(),
            lookup,
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r.columns, vec![(0, "total".into()), (0, "bookings".into())]);
        assert_eq!(r.column_name(0), "spend__total");
        assert_eq!(
            r.jobs[0].keys,
            vec![vec![Value::Int64(1)], vec![Value::Int64(2)]]
        );
    }

    #[test]
    fn bad_requests_name_the_problem() {
        let cases = [
            ("{", "invalid_json"),
            (r#"{"entities": {"customer_id": [1]}}"#, "missing_field"),
            (r#"{"features": ["spend:total"]}"#, "missing_field"),
            (
                r#"{"features": ["nope:total"], "entities": {"customer_id": [1]}}"#,
                "unknown_job",
            ),
            (
                r#"{"features": ["spend:nope"], "entities": {"customer_id": [1]}}"#,
                "unknown_feature",
            ),
            (
                r#"{"features": ["spendtotal"], "entities": {"customer_id": [1]}}"#,
                "invalid_feature",
            ),
            (
                r#"{"features": ["spend:total"], "entities": {"id": [1]}}"#,
                "missing_entity",
            ),
            (
                r#"{"features": ["spend:total"], "entities": {"customer_id": ["x"]}}"#,
                "wrong_entity_type",
            ),
            (
                r#"{"features": ["spend:total"], "entities": {"customer_id": 1}}"#,
                "invalid_entities",
            ),
            (
                r#"{"features": ["spend:total"], "entities": {"customer_id": [1], "x": [1, 2]}}"#,
                "invalid_entities",
            ),
            (
                r#"{"features": ["spend:total"], "entities": {"customer_id": [1]}, "feature_service": "fs"}"#,
                "unsupported",
            ),
        ];
        for (body, code) in cases {
            assert_eq!(err(body).code, code, "{body}");
        }
        let many = format!(
            r#"{{"features": ["spend:total"], "entities": {{"customer_id": [{}]}}}}"#,
            vec!["1"; 1001].join(",")
        );
        assert_eq!(err(&many).status.as_u16(), 413);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse(&body, Limits::default(), lookup);
        }

        #[test]
        fn arbitrary_json_never_panics(
            features in proptest::collection::vec("[a-z:]{0,12}", 0..4),
            names in proptest::collection::vec("[a-z_]{0,12}", 0..3),
            values in proptest::collection::vec(proptest::prelude::any::<i64>(), 0..4),
            strings in proptest::collection::vec("\\PC{0,8}", 0..4),
            full in proptest::prelude::any::<bool>(),
        ) {
            let mut entities = Map::new();
            for (k, n) in names.iter().enumerate() {
                let list: Vec<Json> = if k % 2 == 0 {
                    values.iter().map(|v| Json::from(*v)).collect()
                } else {
                    strings.iter().map(|s| Json::from(s.as_str())).collect()
                };
                entities.insert(n.clone(), Json::Array(list));
            }
            let body = serde_json::json!({"features": features, "entities": entities, "full_feature_names": full});
            let _ = parse(body.to_string().as_bytes(), Limits::default(), lookup);
        }
    }
}
