//! `quiver generate`: deterministic example data for the `jobs/` examples.
//!
//! * `bookings`: ride/food booking events (Gojek's Dagger examples) —
//!   Poisson arrivals, 20% of events up to 5 s out of order, customers
//!   drawn with a heavy skew;
//! * `orders` and `chargebacks`: e-commerce orders per CPF and the ~2% that
//!   are charged back hours to weeks later (QuintoAndar's Butterfree challenge);
//! * `quotes` and `users`: broker quotes per user and a users table (Luno's
//!   Jetpack example).
//!
//! Streams are written as Parquet partitioned by event date
//! (`<out>/<name>/date=YYYY-MM-DD/part-0.parquet`), in arrival order within
//! a day. The same seed and interval give the same bytes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType as ArrowType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use quiver_types::time::{DAY, MINUTE, format_date, window_start};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::failure::Failure;
use crate::progress::group;
use quiver_types::time::parse_time_arg;

/// Arguments of `quiver generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// Which datasets: all, bookings, butterfree (orders + chargebacks), jetpack (quotes + users).
    #[arg(default_value = "all")]
    pub dataset: String,
    /// Output directory.
    #[arg(long, default_value = "data")]
    pub out: PathBuf,
    /// Days of history.
    #[arg(long, default_value_t = 90)]
    pub days: i64,
    /// End of the generated history (default: now, rounded down to the minute).
    #[arg(long)]
    pub end: Option<String>,
    /// Booking events per second of event time.
    #[arg(long, default_value_t = 0.5)]
    pub rate: f64,
    /// Random seed.
    #[arg(long, default_value_t = 20240101)]
    pub seed: u64,
}

/// Writes the requested datasets.
pub fn run(args: GenerateArgs) -> Result<(), Failure> {
    let now = chrono::Utc::now().timestamp_millis();
    let end = match &args.end {
        Some(e) => parse_time_arg(e, now).map_err(|e| Failure::User(format!("--end: {e}")))?,
        None => window_start(now, MINUTE),
    };
    if args.days <= 0 || args.rate <= 0.0 {
        return Err(Failure::User("--days and --rate must be positive".into()));
    }
    let start = end - args.days * DAY;
    let which = args.dataset.as_str();
    if !matches!(which, "all" | "bookings" | "butterfree" | "jetpack") {
        return Err(Failure::User(format!(
            "unknown dataset `{which}`: use all, bookings, butterfree or jetpack"
        )));
    }
    let io = |e: String| Failure::User(e);
    if matches!(which, "all" | "bookings") {
        let (n, busiest) =
            bookings(&args.out.join("bookings"), start, end, args.rate, args.seed).map_err(io)?;
        println!(
            "bookings: {} events in {} (busiest customer: customer_id={busiest})",
            group(n as u64),
            args.out.join("bookings").display()
        );
    }
    if matches!(which, "all" | "butterfree") {
        let (o, c) = butterfree(&args.out, start, end, args.seed).map_err(io)?;
        println!(
            "orders: {} events, chargebacks: {} events in {}",
            group(o as u64),
            group(c as u64),
            args.out.display()
        );
    }
    if matches!(which, "all" | "jetpack") {
        let (q, u) = jetpack(&args.out, start, end, args.seed).map_err(io)?;
        println!(
            "quotes: {} events, users: {} rows in {}",
            group(q as u64),
            group(u as u64),
            args.out.display()
        );
    }
    Ok(())
}

fn ts_field(name: &str, nullable: bool) -> Field {
    Field::new(
        name,
        ArrowType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        nullable,
    )
}

fn ts(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(values).with_timezone("UTC"))
}

fn write(path: &Path, batch: &RecordBatch) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("quiver generate".into())
        .build();
    let mut w =
        ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| e.to_string())?;
    w.write(batch).map_err(|e| e.to_string())?;
    w.close().map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes rows (already in arrival order) into one file per event date.
fn write_by_day(
    dir: &Path,
    schema: Arc<Schema>,
    rows: usize,
    day_of: impl Fn(usize) -> i64,
    columns: impl Fn(&[usize]) -> Vec<ArrayRef>,
) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    let mut days: std::collections::BTreeMap<i64, Vec<usize>> = std::collections::BTreeMap::new();
    for i in 0..rows {
        days.entry(day_of(i)).or_default().push(i);
    }
    for (day, idx) in days {
        let batch =
            RecordBatch::try_new(schema.clone(), columns(&idx)).map_err(|e| e.to_string())?;
        write(
            &dir.join(format!("date={}", format_date(day as i32)))
                .join("part-0.parquet"),
            &batch,
        )?;
    }
    Ok(())
}

/// A standard normal sample (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A skewed index in `0..n`: rank k has weight ~ 1 / (k + 10).
fn skewed(rng: &mut ChaCha8Rng, n: usize) -> usize {
    // Inverse of the continuous density on [0, n): x = 10 ((n/10 + 1)^u - 1).
    let u: f64 = rng.random();
    let x = 10.0 * ((n as f64 / 10.0 + 1.0).powf(u) - 1.0);
    (x as usize).min(n - 1)
}

/// Writes booking events; returns their number and the busiest customer.
fn bookings(
    dir: &Path,
    start: i64,
    end: i64,
    rate: f64,
    seed: u64,
) -> Result<(usize, i64), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let customers = 10_000usize;
    let services = ["GO_RIDE", "GO_CAR", "GO_FOOD", "GO_SEND", "GO_MART"];
    let weights = [0.45, 0.25, 0.20, 0.07, 0.03];
    // Customer ids are a fixed permutation of ranks, so popular customers are scattered.
    let mut ids: Vec<i64> = (0..customers as i64).map(|i| 1_000_000 + i).collect();
    for i in (1..ids.len()).rev() {
        let j = rng.random_range(0..=i);
        ids.swap(i, j);
    }
    let (mut time, mut cust, mut driver, mut svc, mut amount, mut lat, mut lon) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut arrival = start as f64;
    loop {
        arrival += -(1.0 - rng.random::<f64>()).ln() * 1000.0 / rate;
        if arrival >= end as f64 {
            break;
        }
        let delay = if rng.random_bool(0.2) {
            rng.random_range(0..=5_000)
        } else {
            0
        };
        time.push((arrival as i64 - delay).max(start));
        cust.push(ids[skewed(&mut rng, customers)]);
        driver.push(50_000_000 + rng.random_range(1..=2_000i64));
        let u: f64 = rng.random();
        let mut acc = 0.0;
        let s = weights.iter().position(|w| {
            acc += w;
            u < acc
        });
        svc.push(services[s.unwrap_or(0)]);
        amount.push(((30.0f64.ln() + 0.6 * normal(&mut rng)).exp() * 100.0).round() / 100.0);
        lat.push(((-6.2 + 0.08 * normal(&mut rng)) * 1e6).round() / 1e6);
        lon.push(((106.82 + 0.08 * normal(&mut rng)) * 1e6).round() / 1e6);
    }
    let n = time.len();
    let schema = Arc::new(Schema::new(vec![
        ts_field("event_time", false),
        Field::new("order_id", ArrowType::Utf8, false),
        Field::new("customer_id", ArrowType::Int64, false),
        Field::new("driver_id", ArrowType::Int64, false),
        Field::new("service_type", ArrowType::Utf8, false),
        Field::new("amount", ArrowType::Float64, false),
        Field::new("lat", ArrowType::Float64, false),
        Field::new("lon", ArrowType::Float64, false),
    ]));
    write_by_day(
        dir,
        schema,
        n,
        |i| time[i].div_euclid(DAY),
        |idx| {
            vec![
                ts(idx.iter().map(|&i| Some(time[i])).collect()),
                Arc::new(StringArray::from_iter_values(
                    idx.iter().map(|&i| format!("BK{i:010}")),
                )),
                Arc::new(Int64Array::from_iter_values(idx.iter().map(|&i| cust[i]))),
                Arc::new(Int64Array::from_iter_values(idx.iter().map(|&i| driver[i]))),
                Arc::new(StringArray::from_iter_values(idx.iter().map(|&i| svc[i]))),
                Arc::new(Float64Array::from_iter_values(
                    idx.iter().map(|&i| amount[i]),
                )),
                Arc::new(Float64Array::from_iter_values(idx.iter().map(|&i| lat[i]))),
                Arc::new(Float64Array::from_iter_values(idx.iter().map(|&i| lon[i]))),
            ]
        },
    )?;
    let mut counts: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for &c in &cust {
        *counts.entry(c).or_default() += 1;
    }
    // Ties broken by the smaller id so the answer is deterministic.
    let busiest = counts
        .into_iter()
        .max_by_key(|&(c, k)| (k, std::cmp::Reverse(c)))
        .map_or(ids[0], |(c, _)| c);
    Ok((n, busiest))
}

/// An 11-digit CPF with valid check digits.
fn cpf(rng: &mut ChaCha8Rng) -> String {
    let digits: Vec<u32> = (0..9).map(|_| rng.random_range(0..10u32)).collect();
    let check = |ds: &[u32], top: u32| {
        let s: u32 = ds
            .iter()
            .enumerate()
            .map(|(i, d)| d * (top - i as u32))
            .sum();
        (s * 10 % 11) % 10
    };
    let d1 = check(&digits, 10);
    let mut with = digits.clone();
    with.push(d1);
    let d2 = check(&with, 11);
    with.push(d2);
    with.iter()
        .map(|d| char::from_digit(*d, 10).unwrap_or('0'))
        .collect()
}

fn butterfree(out: &Path, start: i64, end: i64, seed: u64) -> Result<(usize, usize), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xB0);
    let people: Vec<String> = (0..5_000).map(|_| cpf(&mut rng)).collect();
    let per_day = 2_000.0;
    let (mut ot, mut oid, mut ocpf, mut oval) = (vec![], vec![], vec![], vec![]);
    let (mut ct, mut cid, mut ccpf) = (vec![], vec![], vec![]);
    let mut t = start as f64;
    loop {
        t += -(1.0 - rng.random::<f64>()).ln() * DAY as f64 / per_day;
        if t >= end as f64 {
            break;
        }
        let i = ot.len();
        let who = people[skewed(&mut rng, people.len())].clone();
        ot.push(t as i64);
        oid.push(format!("OR{i:010}"));
        oval.push(((50.0f64.ln() + 0.8 * normal(&mut rng)).exp() * 100.0).round() / 100.0);
        if rng.random_bool(0.02) {
            let when = t as i64 + rng.random_range(3_600_000..30 * DAY);
            if when < end {
                ct.push(when);
                cid.push(format!("OR{i:010}"));
                ccpf.push(who.clone());
            }
        }
        ocpf.push(who);
    }
    let orders = Arc::new(Schema::new(vec![
        Field::new("order_id", ArrowType::Utf8, false),
        Field::new("cpf", ArrowType::Utf8, false),
        ts_field("event_time", false),
        Field::new("value", ArrowType::Float64, false),
    ]));
    write_by_day(
        &out.join("orders"),
        orders,
        ot.len(),
        |i| ot[i].div_euclid(DAY),
        |idx| {
            vec![
                Arc::new(StringArray::from_iter_values(
                    idx.iter().map(|&i| oid[i].as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    idx.iter().map(|&i| ocpf[i].as_str()),
                )),
                ts(idx.iter().map(|&i| Some(ot[i])).collect()),
                Arc::new(Float64Array::from_iter_values(idx.iter().map(|&i| oval[i]))),
            ]
        },
    )?;
    let mut order: Vec<usize> = (0..ct.len()).collect();
    order.sort_by_key(|&i| ct[i]);
    let charge = Arc::new(Schema::new(vec![
        Field::new("order_id", ArrowType::Utf8, false),
        Field::new("cpf", ArrowType::Utf8, false),
        ts_field("chargeback_time", false),
    ]));
    write_by_day(
        &out.join("chargebacks"),
        charge,
        order.len(),
        |k| ct[order[k]].div_euclid(DAY),
        |idx| {
            vec![
                Arc::new(StringArray::from_iter_values(
                    idx.iter().map(|&k| cid[order[k]].as_str()),
                )),
                Arc::new(StringArray::from_iter_values(
                    idx.iter().map(|&k| ccpf[order[k]].as_str()),
                )),
                ts(idx.iter().map(|&k| Some(ct[order[k]])).collect()),
            ]
        },
    )?;
    Ok((ot.len(), order.len()))
}

fn jetpack(out: &Path, start: i64, end: i64, seed: u64) -> Result<(usize, usize), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1E7);
    let users = 2_000usize;
    let countries = ["ZA", "NG", "KE", "UG", "ID", "MY"];
    let (mut uid, mut country, mut kyc, mut signup, mut active) =
        (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..users {
        uid.push(i as i64 + 1);
        country.push(countries[rng.random_range(0..countries.len())]);
        kyc.push(rng.random_range(1..=3i64));
        signup.push(((start - rng.random_range(0..3 * 365) * DAY).div_euclid(DAY)) as i32);
        active.push(rng.random_bool(0.9));
    }
    let users_schema = Arc::new(Schema::new(vec![
        Field::new("id", ArrowType::Int64, false),
        Field::new("country", ArrowType::Utf8, false),
        Field::new("kyc_level", ArrowType::Int64, false),
        Field::new("signup_date", ArrowType::Date32, false),
        Field::new("active", ArrowType::Boolean, false),
    ]));
    let batch = RecordBatch::try_new(
        users_schema,
        vec![
            Arc::new(Int64Array::from(uid)),
            Arc::new(StringArray::from(country)),
            Arc::new(Int64Array::from(kyc)),
            Arc::new(Date32Array::from(signup)),
            Arc::new(BooleanArray::from(active)),
        ],
    )
    .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(out.join("users"));
    write(&out.join("users").join("users.parquet"), &batch)?;

    let currencies = ["XBT", "ETH", "USDC", "XRP", "SOL"];
    let per_day = 3_000.0;
    let (mut qt, mut quser, mut qtype, mut qstatus, mut qcur, mut qex) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut t = start as f64;
    loop {
        t += -(1.0 - rng.random::<f64>()).ln() * DAY as f64 / per_day;
        if t >= end as f64 {
            break;
        }
        let created = t as i64;
        qt.push(created);
        quser.push(skewed(&mut rng, users) as i64 + 1);
        qtype.push(if rng.random_bool(0.7) { 1i64 } else { 2 });
        let status = if rng.random_bool(0.8) {
            4i64
        } else {
            rng.random_range(1..=3i64)
        };
        qstatus.push(status);
        qcur.push(currencies[skewed(&mut rng, currencies.len())]);
        qex.push((status == 4).then(|| created + rng.random_range(500..30_000)));
    }
    let quotes_schema = Arc::new(Schema::new(vec![
        Field::new("id", ArrowType::Int64, false),
        Field::new("user_id", ArrowType::Int64, false),
        Field::new("quote_type", ArrowType::Int64, false),
        Field::new("status", ArrowType::Int64, false),
        Field::new("base_currency", ArrowType::Utf8, false),
        ts_field("created_at", false),
        ts_field("exercised_at", true),
    ]));
    let n = qt.len();
    write_by_day(
        &out.join("quotes"),
        quotes_schema,
        n,
        |i| qt[i].div_euclid(DAY),
        |idx| {
            vec![
                Arc::new(Int64Array::from_iter_values(
                    idx.iter().map(|&i| i as i64 + 1),
                )),
                Arc::new(Int64Array::from_iter_values(idx.iter().map(|&i| quser[i]))),
                Arc::new(Int64Array::from_iter_values(idx.iter().map(|&i| qtype[i]))),
                Arc::new(Int64Array::from_iter_values(
                    idx.iter().map(|&i| qstatus[i]),
                )),
                Arc::new(StringArray::from_iter_values(idx.iter().map(|&i| qcur[i]))),
                ts(idx.iter().map(|&i| Some(qt[i])).collect()),
                ts(idx.iter().map(|&i| qex[i]).collect()),
            ]
        },
    )?;
    Ok((n, users))
}
