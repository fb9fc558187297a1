//! Checkpoints: where a live run resumes so that its output is exactly what
//! an uninterrupted run writes.
//!
//! A checkpoint names a *frontier* `F` (a multiple of [`GRANULARITY`]) below
//! which every sink is durable: the online store holds every row with event
//! time `< F` and the historical store has committed every day before `F`.
//! For each partition it stores the offset of the first event with
//! `event_time + lookback >= F`, where `lookback` is the longest window of
//! the run's jobs, and the partition's largest event time before that
//! offset (its clock).
//!
//! Resuming from there re-reads every event any row at or after `F` needs,
//! restores each partition's watermark so the same events are judged late,
//! and suppresses output rows before `F` (the sinks have them). Events
//! re-read with a time before `F - lookback` are skipped. So a run killed
//! at any point and restarted writes the same rows as one that never
//! stopped; only dead letters after the checkpoint (or, for a source
//! whose checkpoint a killed run did not get to save, after its previous
//! one) may be written twice.
//!
//! Finding that offset for a frontier not yet known: each partition keeps
//! *marks*, `(k, offset, clock)` for the first event whose
//! `event_time + lookback` reached `k` (rounded down to [`GRANULARITY`]);
//! the first mark with `k >= F` is the answer (or the current position when
//! no event has reached `F` yet). Marks below the committed frontier are
//! dropped, so there are about `(lookback + lag) / GRANULARITY` of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value, json};

/// Frontiers are multiples of this (ms).
pub const GRANULARITY: i64 = 60_000;

/// Where a partition resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The next offset to read.
    pub offset: i64,
    /// The largest event time read before `offset`.
    pub clock: Option<i64>,
}

/// The progress of one partition, shared by its reader and the committer.
#[derive(Debug)]
pub struct PartitionTrack {
    /// The partition.
    pub partition: i32,
    inner: Mutex<Track>,
}

#[derive(Debug)]
struct Track {
    lookback: i64,
    current: Position,
    top: i64,
    marks: BTreeMap<i64, Position>,
}

impl PartitionTrack {
    /// A partition read from `origin` for jobs looking back `lookback` ms.
    pub fn new(partition: i32, origin: Position, lookback: i64) -> PartitionTrack {
        PartitionTrack {
            partition,
            inner: Mutex::new(Track {
                lookback,
                current: origin,
                top: i64::MIN,
                marks: BTreeMap::new(),
            }),
        }
    }

    /// Records events read, in offset order: `(offset, event time)`, the
    /// time `None` for messages without one. `next` is the offset after the
    /// last message of the batch.
    pub fn record(&self, events: impl Iterator<Item = (i64, Option<i64>)>, next: i64) {
        let mut t = self.inner.lock().expect("track lock");
        for (offset, time) in events {
            let Some(time) = time else { continue };
            let reach = floor(time.saturating_add(t.lookback));
            if reach > t.top {
                let clock = t.current.clock;
                t.marks.insert(reach, Position { offset, clock });
                t.top = reach;
            }
            t.current.clock = Some(t.current.clock.map_or(time, |c| c.max(time)));
        }
        t.current.offset = next;
    }

    /// Where to resume so that every row at or after `frontier` is
    /// recomputed exactly.
    pub fn resume_point(&self, frontier: i64) -> Position {
        let t = self.inner.lock().expect("track lock");
        match t.marks.range(frontier..).next() {
            Some((_, p)) => *p,
            None => t.current,
        }
    }

    /// Forgets marks no longer needed once `frontier` is committed.
    pub fn committed(&self, frontier: i64) {
        let mut t = self.inner.lock().expect("track lock");
        let keep = t.marks.split_off(&frontier);
        t.marks = keep;
    }

    /// The greatest event time read from the partition (the resume clock
    /// until then), if any.
    pub fn clock(&self) -> Option<i64> {
        self.inner.lock().expect("track lock").current.clock
    }

    /// The next offset this run will read.
    pub fn position(&self) -> i64 {
        self.inner.lock().expect("track lock").current.offset
    }
}

/// Rounds down to a multiple of [`GRANULARITY`].
pub fn floor(t: i64) -> i64 {
    t.div_euclid(GRANULARITY).saturating_mul(GRANULARITY)
}

/// A saved checkpoint of one topic read by one consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every sink is durable below this event time.
    pub frontier: i64,
    /// Per partition, where to resume.
    pub partitions: BTreeMap<i32, Position>,
}

impl Checkpoint {
    /// The file holding the checkpoint of `group` reading `topic`.
    pub fn path(state_dir: &Path, group: &str, topic: &str) -> PathBuf {
        state_dir
            .join("checkpoints")
            .join(sanitize(group))
            .join(format!("{}.json", sanitize(topic)))
    }

    /// Reads a checkpoint, `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Checkpoint>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let bad = || {
            format!(
                "{} is not a Quiver checkpoint; delete it to start over",
                path.display()
            )
        };
        let v: Value = serde_json::from_str(&text).map_err(|_| bad())?;
        let frontier = v["frontier"].as_i64().ok_or_else(bad)?;
        let mut partitions = BTreeMap::new();
        for (p, pos) in v["partitions"].as_object().ok_or_else(bad)? {
            let p: i32 = p.parse().map_err(|_| bad())?;
            let offset = pos["offset"].as_i64().ok_or_else(bad)?;
            partitions.insert(
                p,
                Position {
                    offset,
                    clock: pos["clock"].as_i64(),
                },
            );
        }
        Ok(Some(Checkpoint {
            frontier,
            partitions,
        }))
    }

    /// Writes the checkpoint atomically (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let parts: serde_json::Map<String, Value> = self
            .partitions
            .iter()
            .map(|(p, pos)| {
                (
                    p.to_string(),
                    json!({"offset": pos.offset, "clock": pos.clock}),
                )
            })
            .collect();
        let text = json!({"frontier": self.frontier, "partitions": parts}).to_string();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_point_is_the_first_event_reaching_the_frontier() {
        let g = GRANULARITY;
        let origin = Position {
            offset: 100,
            clock: Some(0),
        };
        let tr = PartitionTrack::new(0, origin, 2 * g);
        assert_eq!(tr.resume_point(10 * g), origin);
        // offsets 100.. with times (in minutes) 1, 3, 2, 5, 4, 9
        let times = [1, 3, 2, 5, 4, 9];
        tr.record(
            times
                .iter()
                .enumerate()
                .map(|(i, m)| (100 + i as i64, Some(m * g))),
            106,
        );
        // F = 5 min: first event with t + 2 >= 5 is t = 3 (offset 101), clock 1
        assert_eq!(
            tr.resume_point(5 * g),
            Position {
                offset: 101,
                clock: Some(g)
            }
        );
        // F = 7 min: t = 5 at offset 103, clock max(1, 3, 2) = 3
        assert_eq!(
            tr.resume_point(7 * g),
            Position {
                offset: 103,
                clock: Some(3 * g)
            }
        );
        // F = 3 min: below the first mark, so the first event
        assert_eq!(tr.resume_point(3 * g).offset, 100);
        // F = 12 min: nothing reached it yet, so the current position
        assert_eq!(
            tr.resume_point(12 * g),
            Position {
                offset: 106,
                clock: Some(9 * g)
            }
        );
        tr.committed(7 * g);
        assert_eq!(tr.resume_point(7 * g).offset, 103);
    }

    #[test]
    fn checkpoints_round_trip_through_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = Checkpoint::path(dir.path(), "quiver-job", "book/ings");
        assert_eq!(Checkpoint::load(&path).unwrap(), None);
        let c = Checkpoint {
            frontier: 120_000,
            partitions: [
                (
                    0,
                    Position {
                        offset: 5,
                        clock: None,
                    },
                ),
                (
                    3,
                    Position {
                        offset: 9,
                        clock: Some(7),
                    },
                ),
            ]
            .into_iter()
            .collect(),
        };
        c.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), Some(c));
    }
}
