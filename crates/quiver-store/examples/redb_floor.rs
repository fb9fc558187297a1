//! Raw redb: what parts of a 45k-row write cost.
use std::time::Instant;

use redb::{ConcurrencyMode, Database, ReadableTable, TableDefinition};

const T: TableDefinition<&[u8], &[u8]> = TableDefinition::new("t");

fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .map_or(45_000, |a| a.parse().unwrap());
    let dir = tempfile::tempdir_in(".").unwrap();
    let mode = match std::env::var("MODE").as_deref() {
        Ok("single") => ConcurrencyMode::SingleWriter,
        Ok("excl") => ConcurrencyMode::ExclusiveWriter,
        _ => ConcurrencyMode::MultiWriter,
    };
    let mut b = Database::builder();
    b.set_concurrency_mode(mode);
    if let Ok(c) = std::env::var("CACHE_MB") {
        b.set_cache_size(c.parse::<usize>().unwrap() << 20);
    }
    let db = b.create(dir.path().join("x.redb")).unwrap();
    let mut keys: Vec<Vec<u8>> = (0..rows * 3).map(|k| postcard_key(k as i64)).collect();
    keys.sort();
    let val = [7u8; 24];
    for variant in [
        "empty",
        "insert",
        "get+insert",
        "insert",
        "get+insert",
        "empty",
        "insert",
    ] {
        for w in 0..3u64 {
            let began = Instant::now();
            let tx = db.begin_write().unwrap();
            let t_open;
            {
                let mut t = tx.open_table(T).unwrap();
                t_open = began.elapsed();
                if variant != "empty" {
                    for k in keys.iter().skip(w as usize % 3).step_by(3) {
                        if variant == "get+insert" {
                            let g = t.get(k.as_slice()).unwrap().map(|v| v.value()[0]);
                            std::hint::black_box(g);
                        }
                        t.insert(k.as_slice(), val.as_slice()).unwrap();
                    }
                }
            }
            let t_ins = began.elapsed();
            tx.commit().unwrap();
            let t_all = began.elapsed();
            println!(
                "{variant:>11}: open {:.1} ms, rows {:.1} ms, commit {:.1} ms, total {:.1} ms",
                t_open.as_secs_f64() * 1e3,
                (t_ins - t_open).as_secs_f64() * 1e3,
                (t_all - t_ins).as_secs_f64() * 1e3,
                t_all.as_secs_f64() * 1e3
            );
        }
    }
}

fn postcard_key(k: i64) -> Vec<u8> {
    let mut z = ((k << 1) ^ (k >> 63)) as u64;
    let mut out = vec![1u8, 2];
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out
}
