//! What the store knows about a job.

use quiver_types::{DataType, Field};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A job's columns as the online store sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMeta {
    /// Job name (the feature view).
    pub name: String,
    /// Entity (key) columns: name and type name.
    pub entity: Vec<(String, String)>,
    /// Feature (value) columns: name and type name.
    pub features: Vec<(String, String)>,
    /// TTL in ms; `None` means rows never expire.
    pub ttl: Option<i64>,
    /// What the job computes.
    pub description: Option<String>,
}

impl JobMeta {
    /// Metadata from column lists.
    pub fn new(
        name: &str,
        entity: &[Field],
        features: &[Field],
        ttl: Option<i64>,
        description: Option<String>,
    ) -> JobMeta {
        let cols = |fs: &[Field]| {
            fs.iter()
                .map(|f| (f.name.clone(), f.data_type.spec_name().to_string()))
                .collect()
        };
        JobMeta {
            name: name.to_string(),
            entity: cols(entity),
            features: cols(features),
            ttl,
            description,
        }
    }

    /// The entity columns as typed fields.
    pub fn entity_fields(&self) -> Vec<Field> {
        typed_fields(&self.entity)
    }

    /// The feature columns as typed fields.
    pub fn feature_fields(&self) -> Vec<Field> {
        typed_fields(&self.features)
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn from_json(s: &str) -> Result<JobMeta, StoreError> {
        serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

/// Stored (name, type name) pairs as fields; an unknown type name (from a
/// newer version) reads as a string.
fn typed_fields(columns: &[(String, String)]) -> Vec<Field> {
    columns
        .iter()
        .map(|(n, t)| {
            Field::new(
                n.clone(),
                DataType::parse_spec(t).unwrap_or(DataType::String),
            )
        })
        .collect()
}
