//! Geographic functions on WGS84 latitude and longitude in degrees, after
//! Dagger's `GeoHash`, `S2Id` and `Distance`.
//!
//! A latitude outside [-90, 90], a longitude outside [-180, 180], NaN or an
//! infinity gives NULL, as does a geohash length outside 1..=12 or an S2
//! level outside 0..=30. (Dagger's `GeoHash` wraps an out-of-range
//! longitude into [-180, 180) and its `S2Id` does not check the latitude;
//! both throw on NULL.)

use quiver_sql::ArgInfo;
use quiver_types::DataType;

use crate::args::{Builtin, arity, float_array, floats, ints, string_array, want_int, want_number};

/// The Earth's mean radius in kilometres, as Dagger's `Distance` uses.
pub(crate) const EARTH_RADIUS_KM: f64 = 6371.0;

/// The longest geohash (60 bits: the most a 64-bit interleave gives).
pub(crate) const MAX_GEOHASH_LEN: i64 = 12;

/// The finest S2 level.
pub(crate) const MAX_S2_LEVEL: i64 = 30;

/// The geographic functions.
pub(crate) fn functions() -> Vec<Builtin> {
    vec![
        Builtin::new(
            "GEOHASH",
            "GeoHash(lat, lon, len)",
            "The geohash of length `len` (1-12) of the point, as VARCHAR; NULL for a latitude outside [-90, 90], a longitude outside [-180, 180] or a bad length.",
            |a| point_and_int(a, 3, DataType::String),
            |a, n| {
                let (lat, lon, len) = (floats(a, 0)?, floats(a, 1)?, ints(a, 2)?);
                Ok(string_array(
                    (0..n).map(|i| geohash(lat.get(i)?, lon.get(i)?, len.get(i)?)),
                ))
            },
        ),
        Builtin::new(
            "S2ID",
            "S2Id(lat, lon, level)",
            "The id of the S2 cell at `level` (0-30) holding the point, as the decimal VARCHAR of a signed 64-bit integer (as Dagger prints it: faces 4 and 5 are negative).",
            |a| point_and_int(a, 3, DataType::String),
            |a, n| {
                let (lat, lon, level) = (floats(a, 0)?, floats(a, 1)?, ints(a, 2)?);
                Ok(string_array((0..n).map(|i| {
                    s2_id(lat.get(i)?, lon.get(i)?, level.get(i)?).map(|id| id.to_string())
                })))
            },
        ),
        Builtin::new(
            "DISTANCE",
            "Distance(lat1, lon1, lat2, lon2)",
            "Great-circle (haversine) distance between two points in kilometres, on a sphere of radius 6371 km, as DOUBLE.",
            |a| {
                arity(a, 4, Some(4))?;
                (0..4).try_for_each(|i| want_number(a, i).map(drop))?;
                Ok(DataType::Float64)
            },
            |a, n| {
                let (lat1, lon1) = (floats(a, 0)?, floats(a, 1)?);
                let (lat2, lon2) = (floats(a, 2)?, floats(a, 3)?);
                Ok(float_array((0..n).map(|i| {
                    distance_km(lat1.get(i)?, lon1.get(i)?, lat2.get(i)?, lon2.get(i)?)
                })))
            },
        ),
    ]
}

/// `(lat, lon, int)` giving `out`.
fn point_and_int(a: &[ArgInfo<'_>], count: usize, out: DataType) -> Result<DataType, String> {
    arity(a, count, Some(count))?;
    want_number(a, 0)?;
    want_number(a, 1)?;
    want_int(a, 2)?;
    Ok(out)
}

/// Whether `(lat, lon)` is a point on the globe in degrees.
fn valid_point(lat: f64, lon: f64) -> bool {
    (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)
}

/// The geohash of `len` characters for the point, or `None` when the point
/// or length is out of range.
pub(crate) fn geohash(lat: f64, lon: f64, len: i64) -> Option<String> {
    if !valid_point(lat, lon) || !(1..=MAX_GEOHASH_LEN).contains(&len) {
        return None;
    }
    // The geohash crate's bit trick maps +90 and +180 (the closed upper
    // edges, and values within rounding of them) onto the bits of -90 and
    // -180. 1e-8 degrees is far inside the top cell even at length 12
    // (about 1.7e-7 degrees of latitude), so clamping keeps the hash right.
    let lat = lat.min(90.0 - 1e-8);
    let lon = lon.min(180.0 - 1e-8);
    geohash::encode(geohash::Coord { x: lon, y: lat }, len as usize).ok()
}

/// The S2 cell id at `level` holding the point, as Java's signed `long`
/// (Dagger prints `S2CellId.id()` with `Long.toString`).
pub(crate) fn s2_id(lat: f64, lon: f64, level: i64) -> Option<i64> {
    if !valid_point(lat, lon) || !(0..=MAX_S2_LEVEL).contains(&level) {
        return None;
    }
    let leaf = s2::cellid::CellID::from(s2::latlng::LatLng::from_degrees(lat, lon));
    leaf.is_valid().then(|| leaf.parent(level as u64).0 as i64)
}

/// Haversine distance in km, with Dagger's formula and radius.
pub(crate) fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> Option<f64> {
    if !valid_point(lat1, lon1) || !valid_point(lat2, lon2) {
        return None;
    }
    let rad = |d: f64| d * std::f64::consts::PI / 180.0;
    let (dlat, dlon) = (rad(lat2 - lat1), rad(lon2 - lon1));
    let h =
        (dlat / 2.0).sin().powi(2) + rad(lat1).cos() * rad(lat2).cos() * (dlon / 2.0).sin().powi(2);
    // Rounding can push h a hair past 1 for antipodal points.
    let h = h.clamp(0.0, 1.0);
    Some(EARTH_RADIUS_KM * 2.0 * h.sqrt().atan2((1.0 - h).sqrt()))
}

#[cfg(test)]
mod tests {
    use quiver_types::Value;

    use super::*;
    use crate::args::testing::*;

    const JAKARTA: (f64, f64) = (-6.170024, 106.8243203);

    fn sv(v: &[Option<&str>]) -> Vec<Value> {
        v.iter()
            .map(|s| s.map_or(Value::Null, |s| Value::String(s.into())))
            .collect()
    }

    #[test]
    fn geohash_matches_dagger() {
        // Dagger's GeoHashTest: Monas, Jakarta at length 6.
        assert_eq!(
            call(
                "GEOHASH",
                &[
                    lit(Value::Float64(JAKARTA.0)),
                    lit(Value::Float64(JAKARTA.1)),
                    lit(Value::Int64(6))
                ]
            ),
            sv(&[Some("qqguyu")])
        );
        // The well-known example point, at several lengths from a column.
        assert_eq!(
            call(
                "GEOHASH",
                &[
                    lit(Value::Float64(57.64911)),
                    lit(Value::Float64(10.40744)),
                    int_col(&[Some(1), Some(11), Some(12)])
                ]
            ),
            sv(&[Some("u"), Some("u4pruydqqvj"), Some("u4pruydqqvj8")])
        );
        // The closed upper edges stay in the top cells.
        assert_eq!(geohash(90.0, 180.0, 4).as_deref(), Some("zzzz"));
        assert_eq!(geohash(-90.0, -180.0, 4).as_deref(), Some("0000"));
        // A BIGINT coordinate is read as DOUBLE.
        assert_eq!(
            call(
                "GEOHASH",
                &[
                    lit(Value::Int64(0)),
                    lit(Value::Int64(0)),
                    lit(Value::Int64(5))
                ]
            ),
            sv(&[Some("s0000")])
        );
    }

    #[test]
    fn geohash_nulls_and_out_of_range() {
        let out = call(
            "GEOHASH",
            &[
                float_col(&[
                    Some(91.0),
                    Some(0.0),
                    None,
                    Some(f64::NAN),
                    Some(0.0),
                    Some(0.0),
                ]),
                float_col(&[
                    Some(0.0),
                    Some(181.0),
                    Some(0.0),
                    Some(0.0),
                    Some(0.0),
                    Some(0.0),
                ]),
                int_col(&[Some(5), Some(5), Some(5), Some(5), Some(0), Some(99)]),
            ],
        );
        assert_eq!(out, vec![Value::Null; 6]);
        assert_eq!(
            call(
                "GEOHASH",
                &[
                    lit(Value::Null),
                    lit(Value::Float64(0.0)),
                    lit(Value::Int64(3))
                ]
            ),
            vec![Value::Null]
        );
        assert_eq!(geohash(0.0, 0.0, -1), None);
    }

    #[test]
    fn s2_id_matches_dagger() {
        // Dagger's S2IdTest: Monas, Jakarta at level 13.
        assert_eq!(
            call(
                "S2ID",
                &[
                    lit(Value::Float64(JAKARTA.0)),
                    lit(Value::Float64(JAKARTA.1)),
                    lit(Value::Int64(13))
                ]
            ),
            sv(&[Some("3344474489181175808")])
        );
        // Level 0 is the face cell: face 0 holds (0, 0), face 5 (the south
        // pole) has the top bit set, so Java's signed long is negative.
        assert_eq!(s2_id(0.0, 0.0, 0), Some(0x1000_0000_0000_0000));
        assert!(s2_id(-90.0, 0.0, 0).unwrap() < 0);
        // Each level's id is the leaf's ancestor: level 30 is the leaf itself.
        let leaf = s2_id(JAKARTA.0, JAKARTA.1, 30).unwrap();
        assert_eq!(leaf & 1, 1);
    }

    #[test]
    fn s2_id_nulls_and_out_of_range() {
        let out = call(
            "S2ID",
            &[
                float_col(&[
                    Some(-91.0),
                    Some(0.0),
                    None,
                    Some(0.0),
                    Some(0.0),
                    Some(f64::INFINITY),
                ]),
                float_col(&[
                    Some(0.0),
                    Some(-180.5),
                    Some(0.0),
                    Some(0.0),
                    Some(0.0),
                    Some(0.0),
                ]),
                int_col(&[Some(10), Some(10), Some(10), Some(-1), Some(31), Some(10)]),
            ],
        );
        assert_eq!(out, vec![Value::Null; 6]);
        assert_eq!(
            call(
                "S2ID",
                &[
                    lit(Value::Float64(1.0)),
                    lit(Value::Float64(1.0)),
                    lit(Value::Null)
                ]
            ),
            vec![Value::Null]
        );
    }

    #[test]
    fn distance_matches_dagger() {
        // Dagger's DistanceTest values.
        let d = |a: f64, b: f64, c: f64, e: f64| match call(
            "DISTANCE",
            &[
                lit(Value::Float64(a)),
                lit(Value::Float64(b)),
                lit(Value::Float64(c)),
                lit(Value::Float64(e)),
            ],
        )[0]
        {
            Value::Float64(x) => x,
            ref v => panic!("{v:?}"),
        };
        assert!((d(48.8566, 2.3522, 51.5074, 0.1278) - 334.5761379805).abs() < 1e-9);
        assert!((d(12.9716, 77.5946, 6.1751, 106.8650) - 3294.208197583382).abs() < 1e-9);
        assert_eq!(d(10.0, 20.0, 10.0, 20.0), 0.0);
        // Antipodes: half the circumference.
        assert!((d(0.0, 0.0, 0.0, 180.0) - EARTH_RADIUS_KM * std::f64::consts::PI).abs() < 1e-6);
    }

    #[test]
    fn distance_nulls_and_out_of_range() {
        let out = call(
            "DISTANCE",
            &[
                float_col(&[None, Some(95.0), Some(0.0), Some(0.0)]),
                lit(Value::Float64(0.0)),
                float_col(&[Some(0.0), Some(0.0), Some(0.0), Some(f64::NAN)]),
                float_col(&[Some(0.0), Some(0.0), Some(200.0), Some(0.0)]),
            ],
        );
        assert_eq!(out, vec![Value::Null; 4]);
    }

    #[test]
    fn type_errors_name_the_argument() {
        assert_eq!(
            type_error(
                "GEOHASH",
                &[
                    ty(DataType::Float64),
                    ty(DataType::Float64),
                    ty(DataType::Float64)
                ]
            ),
            "argument 3 must be BIGINT, found DOUBLE"
        );
        assert_eq!(
            type_error(
                "S2ID",
                &[
                    ty(DataType::String),
                    ty(DataType::Float64),
                    ty(DataType::Int64)
                ]
            ),
            "argument 1 must be BIGINT or DOUBLE, found VARCHAR"
        );
        assert_eq!(
            type_error("DISTANCE", &[ty(DataType::Float64); 3]),
            "takes 4 arguments, found 3"
        );
        assert_eq!(
            type_error(
                "DISTANCE",
                &[
                    ty(DataType::Float64),
                    ty(DataType::Float64),
                    ty(DataType::Timestamp),
                    ty(DataType::Float64)
                ]
            ),
            "argument 3 must be BIGINT or DOUBLE, found TIMESTAMP"
        );
    }
}
