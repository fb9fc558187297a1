//! The embedded online store: a redb database file.
//!
//! Layout: table `jobs` maps a job name to its [`JobMeta`] (JSON); table
//! `features:<job>` maps encoded entity keys to encoded rows. The database
//! is opened in redb's multi-writer mode, so a server process can read while
//! a job process writes.

use std::path::{Path, PathBuf};

use redb::{
    ConcurrencyMode, Database, ReadableDatabase, ReadableTable, TableDefinition, TableError,
};

use crate::codec::{decode_row, encode_key, encode_row, row_time};
use crate::{EntityKey, EntityRead, FeatureRow, JobMeta, OnlineStore, StoreError, statuses};

const JOBS: TableDefinition<&str, &str> = TableDefinition::new("jobs");

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// An online store in a redb file inside a directory.
pub struct EmbeddedStore {
    db: Database,
    path: PathBuf,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in directory `dir`.
    pub fn open(dir: &Path) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join("online.redb");
        let db = Database::builder()
            .set_concurrency_mode(ConcurrencyMode::MultiWriter)
            .create(&path)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        Ok(EmbeddedStore { db, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn features_table(job: &str) -> String {
    format!("features:{job}")
}

impl OnlineStore for EmbeddedStore {
    fn register(&self, meta: &JobMeta) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut t = tx.open_table(JOBS).map_err(err)?;
            let old = t
                .get(meta.name.as_str())
                .map_err(err)?
                .map(|v| JobMeta::from_json(v.value()))
                .transpose()?;
            // Rows are stored by position: rows of other columns cannot be
            // read under the new ones, so a job whose columns changed starts
            // empty (in the same transaction, so no reader sees a mix).
            if old.is_some_and(|o| o.entity != meta.entity || o.features != meta.features) {
                let name = features_table(&meta.name);
                let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
                tx.delete_table(def).map_err(err)?;
            }
            t.insert(meta.name.as_str(), meta.to_json().as_str())
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    fn job(&self, name: &str) -> Result<Option<JobMeta>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let t = match tx.open_table(JOBS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        match t.get(name).map_err(err)? {
            Some(v) => JobMeta::from_json(v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn jobs(&self) -> Result<Vec<JobMeta>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let t = match tx.open_table(JOBS) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        };
        let mut out = Vec::new();
        for item in t.iter().map_err(err)? {
            let (_, v) = item.map_err(err)?;
            out.push(JobMeta::from_json(v.value())?);
        }
        Ok(out)
    }

    fn write(&self, job: &str, rows: &[(EntityKey, FeatureRow)]) -> Result<(), StoreError> {
        let name = features_table(job);
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut t = tx.open_table(def).map_err(err)?;
            for (key, row) in rows {
                let k = encode_key(key);
                let newer = match t.get(k.as_slice()).map_err(err)? {
                    Some(old) => row_time(old.value())? <= row.event_time,
                    None => true,
                };
                if newer {
                    t.insert(k.as_slice(), encode_row(row).as_slice())
                        .map_err(err)?;
                }
            }
        }
        tx.commit().map_err(err)
    }

    fn read_job(
        &self,
        job: &str,
        keys: &[EntityKey],
        now: i64,
    ) -> Result<(JobMeta, Vec<EntityRead>), StoreError> {
        // One read transaction for the metadata and the rows: they agree.
        let tx = self.db.begin_read().map_err(err)?;
        let meta = match tx.open_table(JOBS) {
            Ok(t) => match t.get(job).map_err(err)? {
                Some(v) => JobMeta::from_json(v.value())?,
                None => return Err(StoreError::UnknownJob(job.to_string())),
            },
            Err(TableError::TableDoesNotExist(_)) => {
                return Err(StoreError::UnknownJob(job.to_string()));
            }
            Err(e) => return Err(err(e)),
        };
        let n = meta.features.len();
        let name = features_table(job);
        let def: TableDefinition<&[u8], &[u8]> = TableDefinition::new(&name);
        let table = match tx.open_table(def) {
            Ok(t) => Some(t),
            Err(TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(err(e)),
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let row = match &table {
                Some(t) => t
                    .get(encode_key(key).as_slice())
                    .map_err(err)?
                    .map(|v| decode_row(v.value()))
                    .transpose()?,
                None => None,
            };
            let statuses = statuses(row.as_ref(), n, meta.ttl, now);
            out.push(EntityRead { row, statuses });
        }
        Ok((meta, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FeatureStatus;
    use quiver_types::{DataType, Field, Value};

    #[test]
    fn latest_wins_and_ttl_applies_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let meta = JobMeta::new(
            "j",
            &[Field::new("id", DataType::Int64)],
            &[
                Field::new("n", DataType::Int64),
                Field::new("s", DataType::String),
            ],
            Some(1000),
            None,
        );
        store.register(&meta).unwrap();
        let k = vec![Value::Int64(1)];
        let row = |t, n: Value| FeatureRow {
            event_time: t,
            values: vec![n, Value::Null],
        };
        store
            .write("j", &[(k.clone(), row(100, Value::Int64(1)))])
            .unwrap();
        store
            .write("j", &[(k.clone(), row(50, Value::Int64(0)))])
            .unwrap(); // older: ignored
        let r = store
            .read("j", &[k.clone(), vec![Value::Int64(2)]], 600)
            .unwrap();
        assert_eq!(r[0].row.as_ref().unwrap().values[0], Value::Int64(1));
        assert_eq!(
            r[0].statuses,
            vec![FeatureStatus::Present, FeatureStatus::NullValue]
        );
        assert_eq!(r[1].statuses, vec![FeatureStatus::NotFound; 2]);
        let late = store.read("j", &[k], 2000).unwrap();
        assert_eq!(late[0].statuses, vec![FeatureStatus::OutsideMaxAge; 2]);
        assert!(matches!(
            store.read("nope", &[], 0),
            Err(StoreError::UnknownJob(_))
        ));
        assert_eq!(store.jobs().unwrap(), vec![meta]);
    }
}
