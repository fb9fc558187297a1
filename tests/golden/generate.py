#!/usr/bin/env python3
"""Generate the Quiver golden SQL test corpus.

This script is the single source of truth for everything derived in
tests/golden/:

* data/**            input datasets, built deterministically from code below
* cases/*/expected.json   the result of running cases/*/reference.sql in DuckDB

Usage:
    python generate.py            # (re)write data/ and every expected.json
    python generate.py --check    # regenerate into a temporary directory and
                                  # exit 1 if any checked-in file differs,
                                  # is missing, or is stale

The hand-written files (cases/*/job.yaml, cases/*/reference.sql,
errors/*/job.yaml, errors/*/expected_error.json, README.md) are never
written by this script; it only sanity-checks them.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import os
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent
DATA = "data"
CASES = "cases"
ERRORS = "errors"

DUCKDB_PRELUDE = [
    "SET TimeZone='UTC'",
    "SET error_on_division_by_zero=false",
    # single thread: makes floating-point summation order (and so every
    # expected.json byte) reproducible
    "SET threads=1",
]

# Quiver type <- DuckDB result type. Anything else is an error in the
# reference query (e.g. HUGEINT from SUM(BIGINT), DECIMAL from a literal).
DUCKDB_TO_QUIVER = {
    "BIGINT": "int64",
    "INTEGER": "int64",
    "DOUBLE": "float64",
    "VARCHAR": "string",
    "BOOLEAN": "bool",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP_MS": "timestamp",
}

# ---------------------------------------------------------------------------
# time helpers (all times are integer milliseconds since the Unix epoch, UTC)
# ---------------------------------------------------------------------------

EPOCH = dt.datetime(1970, 1, 1)


def ms(text: str) -> int:
    """'2024-01-01 00:00:01.500' -> epoch milliseconds (UTC)."""
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S"
    d = dt.datetime.strptime(text, fmt)
    delta = d - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def iso(millis: int) -> str:
    d = EPOCH + dt.timedelta(milliseconds=millis)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def day(text: str) -> int:
    """'2024-01-01' -> days since epoch (pyarrow date32)."""
    return (dt.date.fromisoformat(text) - dt.date(1970, 1, 1)).days


T0 = ms("2024-01-01 00:00:00")  # 1704067200000
SEC = 1000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR

# Quiver type -> Arrow type used in the Parquet files
ARROW = {
    "bool": pa.bool_(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "timestamp": pa.timestamp("ms", tz="UTC"),
    "date": pa.date32(),
}


def arrow_type(t: str) -> pa.DataType:
    """Quiver type -> Arrow type, including array<t> and map<k,v>."""
    if t.startswith("array<"):
        return pa.list_(ARROW[t[6:-1]])
    if t.startswith("map<"):
        k, v = t[4:-1].split(",")
        return pa.map_(ARROW[k], ARROW[v])
    return ARROW[t]


class Dataset:
    """A named dataset: a schema and one or more ordered files of rows."""

    def __init__(self, name: str, schema: list[tuple[str, str]], time_col: str | None,
                 parts: dict[str, list[tuple]], max_disorder_ms: int = 4000):
        self.name = name
        self.schema = schema
        self.time_col = time_col
        self.parts = parts  # file name -> rows (tuples in schema order)
        self.max_disorder_ms = max_disorder_ms
        for fname, rows in parts.items():
            for r in rows:
                assert len(r) == len(schema), (name, fname, r)
        if time_col is not None:
            self.check_lateness()

    def check_lateness(self) -> None:
        """Quiver's per-file lateness rule: within one file an event is late
        (dropped) if event_time < max(earlier event_time) - watermark_delay.
        Golden data uses watermark_delay 5s and stays within 4s of disorder,
        so no event is ever late."""
        idx = [c for c, _ in self.schema].index(self.time_col)
        for fname, rows in self.parts.items():
            hi = None
            for r in rows:
                t = r[idx]
                assert t is not None, (self.name, fname, "NULL event time")
                if hi is not None:
                    assert t >= hi - self.max_disorder_ms, (
                        f"{self.name}/{fname}: event {iso(t)} is {hi - t} ms behind "
                        f"{iso(hi)} (max disorder {self.max_disorder_ms} ms)")
                hi = t if hi is None else max(hi, t)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c, arrow_type(t)) for c, t in self.schema])

    def arrow_table(self, rows: list[tuple]) -> pa.Table:
        cols = list(zip(*rows)) if rows else [[] for _ in self.schema]
        arrays = [pa.array(list(col), type=arrow_type(t)) for col, (_, t) in zip(cols, self.schema)]
        return pa.Table.from_arrays(arrays, schema=self.arrow_schema())


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(
        table,
        buf,
        compression="snappy",
        row_group_size=10_000,
        use_dictionary=False,
        write_statistics=True,
        version="2.6",
        data_page_version="1.0",
    )
    return buf.getvalue()


def json_scalar(v, t):
    if v is None:
        return None
    if t.startswith("array<"):
        return [json_scalar(x, t[6:-1]) for x in v]
    if t.startswith("map<"):
        k, vt = t[4:-1].split(",")
        assert k == "string", "JSON object keys are strings"
        return {key: json_scalar(x, vt) for key, x in v}
    if t == "timestamp":
        return iso(v)
    if t == "date":
        return (dt.date(1970, 1, 1) + dt.timedelta(days=v)).isoformat()
    return v


def ndjson_bytes(ds: Dataset, rows: list[tuple]) -> bytes:
    out = []
    for r in rows:
        obj = {c: json_scalar(v, t) for (c, t), v in zip(ds.schema, r)}
        out.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


def csv_bytes(ds: Dataset, rows: list[tuple]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c for c, _ in ds.schema])
    for r in rows:
        cells = []
        for (c, t), v in zip(ds.schema, r):
            if v is None:
                cells.append("")
            elif t == "bool":
                cells.append("true" if v else "false")
            elif t == "float64":
                cells.append(repr(v))
            else:
                s = json_scalar(v, t)
                assert not (t == "string" and (s == "" or any(ch in s for ch in ',"\n\r'))), \
                    f"string {s!r} is not CSV-safe"
                cells.append(str(s))
        w.writerow(cells)
    return buf.getvalue().encode("utf-8")


# ---------------------------------------------------------------------------
# datasets
# ---------------------------------------------------------------------------

EVENTS_SCHEMA = [
    ("event_time", "timestamp"),
    ("order_id", "string"),
    ("customer_id", "int64"),
    ("service_type", "string"),
    ("amount", "float64"),
    ("lat", "float64"),
    ("lon", "float64"),
    ("status", "int64"),
    ("note", "string"),
    ("is_promo", "bool"),
]

NOTES = [
    "ok", "ok", "ok", "late pickup", "café ☕", "50% off", "promo_code",
    "Überweisung", "東京タワー", "naïve", "  padded  ", "emoji 🚀", "100%_sure",
    "NOTE", "Ok", "a_b%c", None, None,
]


def events_dataset() -> Dataset:
    rng = random.Random(20240101)
    parts: dict[str, list[tuple]] = {}
    n_per_file = 50
    serial = 0
    for f in range(3):
        rows = []
        cur = T0 + rng.randrange(0, 20 * SEC)  # each file starts at a different time
        hi = cur
        times = []
        for i in range(n_per_file):
            if i > 0 and rng.random() < 0.18:
                # an out-of-order event: 1 ms .. 4 s behind the newest event
                t = hi - rng.randint(1, 4000)
            else:
                cur = hi + rng.randint(800, 66_000)
                r = rng.random()
                if r < 0.06:
                    cur = -(-cur // MIN) * MIN          # exactly on a minute boundary
                elif r < 0.10:
                    cur = -(-cur // MIN) * MIN - 1      # 1 ms before a minute boundary
                elif r < 0.20:
                    cur = cur // SEC * SEC              # whole second
                hi = max(hi, cur)
                t = cur
            times.append(t)
        for t in times:
            serial += 1
            customer = rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 3, 5, 7, None])
            service = rng.choice(["GO_RIDE", "GO_RIDE", "GO_FOOD", "GO_FOOD", "GO_SEND", "GO_MART", None])
            r = rng.random()
            if r < 0.10:
                amount = None
            elif r < 0.16:
                amount = -round(rng.uniform(1, 50), 2)   # refunds
            else:
                amount = round(rng.uniform(1, 200), 2)
            lat = round(-6.2 + rng.uniform(-0.1, 0.1), 6)
            lon = round(106.8 + rng.uniform(-0.1, 0.1), 6)
            status = rng.choice([-2, -1, 0, 1, 2, 3, 4, 4, 7, 10, 15])
            note = rng.choice(NOTES)
            promo = rng.choice([True, False, False, None])
            rows.append((t, f"ord-{serial:04d}", customer, service, amount, lat, lon, status, note, promo))
        parts[f"part-{f}"] = rows
    return Dataset("events", EVENTS_SCHEMA, "event_time", parts)


USERS_SCHEMA = [
    ("id", "int64"),
    ("country", "string"),
    ("tier", "string"),
    ("signup_date", "date"),
    ("age", "int64"),
]


def users_dataset() -> Dataset:
    rows = [
        (1, "ID", "gold", day("2023-01-15"), 34),
        (2, "ID", "silver", day("2023-03-02"), None),
        (3, "SG", "gold", day("2022-11-30"), 41),
        (3, "MY", "bronze", day("2024-01-01"), 22),   # duplicate id -> two matches
        (4, "ID", "bronze", day("2023-07-07"), 19),
        (5, "TH", "silver", day("2021-05-20"), 57),
        (6, "VN", None, day("2020-02-29"), 28),
        (7, "ID", "gold", day("2019-12-31"), 65),
        (8, "PH", "silver", day("2023-10-10"), 30),
        (9, None, "bronze", day("2022-06-01"), None),
        (20, "ID", "gold", day("2023-05-05"), 45),    # never seen in events
        (21, "SG", "silver", day("2023-08-08"), 38),  # never seen in events
        (None, "ID", "gold", day("2023-01-01"), 50),  # NULL key never matches
    ]
    return Dataset("users", USERS_SCHEMA, None, {"users": rows})


ORDERS_SCHEMA = [
    ("order_id", "string"),
    ("cpf", "string"),
    ("event_time", "timestamp"),
    ("value", "float64"),
]
CHARGEBACKS_SCHEMA = [
    ("order_id", "string"),
    ("cpf", "string"),
    ("chargeback_time", "timestamp"),
]
CPFS = ["111.111.111-11", "222.222.222-22", "333.333.333-33", "444.444.444-44", "555.555.555-55"]


def orders_datasets() -> tuple[Dataset, Dataset]:
    rng = random.Random(1500)
    start = ms("2024-03-01 00:00:00")
    all_orders = []
    parts = {}
    serial = 0
    for f in range(2):
        rows = []
        cur = start + rng.randrange(0, 3 * HOUR)
        hi = cur
        for i in range(24):
            if i > 0 and rng.random() < 0.15:
                t = hi - rng.randint(1, 4000)
            else:
                cur = hi + rng.randint(20 * MIN, 7 * HOUR)
                if rng.random() < 0.1:
                    cur = -(-cur // DAY) * DAY  # exactly midnight (a HOP boundary)
                hi = max(hi, cur)
                t = cur
            serial += 1
            cpf = rng.choice(CPFS + CPFS[:2])
            value = round(rng.uniform(5, 500), 2)
            row = (f"o-{f}{serial:03d}", cpf, t, value)
            rows.append(row)
            all_orders.append(row)
        parts[f"part-{f}"] = rows
    orders = Dataset("orders", ORDERS_SCHEMA, "event_time", parts)

    picked = rng.sample(sorted(all_orders, key=lambda r: r[0]), 10)
    cbs = []
    for oid, cpf, t, _ in picked:
        cbs.append((oid, cpf, t + rng.randint(1 * HOUR, 40 * HOUR)))
    cbs.sort(key=lambda r: r[2])
    cbs.append(("o-unknown", None, cbs[-1][2] + 2 * HOUR))  # NULL cpf
    return orders, Dataset("chargebacks", CHARGEBACKS_SCHEMA, "chargeback_time", {"part-0": cbs})


QUOTES_SCHEMA = [
    ("id", "int64"),
    ("user_id", "int64"),
    ("quote_type", "int64"),
    ("status", "int64"),
    ("base_currency", "string"),
    ("exercised_at", "timestamp"),
]


def quotes_dataset() -> Dataset:
    rng = random.Random(777)
    start = ms("2024-02-10 00:00:00")
    parts = {}
    serial = 0
    for f in range(2):
        rows = []
        cur = start + rng.randrange(0, HOUR)
        hi = cur
        for i in range(35):
            if i > 0 and rng.random() < 0.15:
                t = hi - rng.randint(1, 4000)
            else:
                cur = hi + rng.randint(10 * MIN, 4 * HOUR)
                if rng.random() < 0.08:
                    cur = -(-cur // DAY) * DAY
                hi = max(hi, cur)
                t = cur
            serial += 1
            rows.append((
                1000 + serial,
                rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 3, 3, 30, None]),
                rng.choice([1, 1, 2]),
                rng.choice([4, 4, 4, 1, 2, 3]),
                rng.choice(["BTC", "ETH", "USDT", "IDR"]),
                t,
            ))
        parts[f"part-{f}"] = rows
    return Dataset("quotes", QUOTES_SCHEMA, "exercised_at", parts)


def old_events_dataset() -> Dataset:
    schema = [("event_time", "timestamp"), ("sensor", "string"), ("value", "float64"), ("n", "int64")]
    rows = [
        (ms("1969-07-20 20:17:40.000"), "eagle", 1.5, 1),
        (ms("1969-07-20 20:17:41.250"), "eagle", 2.5, 2),
        (ms("1969-12-31 23:57:30.000"), "a", 10.0, 3),
        (ms("1969-12-31 23:58:29.500"), "b", 20.0, 4),
        (ms("1969-12-31 23:58:59.999"), "a", 30.0, 5),
        (ms("1969-12-31 23:59:00.000"), "a", 40.0, 6),
        (ms("1969-12-31 23:58:58.000"), "b", 50.0, 7),   # 2 s out of order
        (ms("1969-12-31 23:59:30.001"), "b", None, 8),
        (ms("1969-12-31 23:59:59.999"), "a", 60.0, 9),
        (ms("1970-01-01 00:00:00.000"), "a", 70.0, 10),
        (ms("1970-01-01 00:00:00.001"), "b", 80.0, 11),
        (ms("1970-01-01 00:00:59.999"), "b", 90.0, 12),
        (ms("1970-01-01 00:01:00.000"), "a", 100.0, 13),
    ]
    return Dataset("old_events", schema, "event_time", {"part-0": rows})


def boundary_dataset() -> Dataset:
    schema = [("event_time", "timestamp"), ("k", "string"), ("v", "int64")]
    b = ms("2024-01-01 00:00:00")
    offs = [
        (0, "a", 1),                          # 00:00:00.000 first instant of [00:00, 00:01)
        (29 * SEC + 999, "b", 2),             # 00:00:29.999
        (30 * SEC, "a", 3),                   # 00:00:30.000 (hop boundary)
        (MIN - 1, "b", 4),                    # 00:00:59.999 last instant of [00:00, 00:01)
        (MIN, "a", 5),                        # 00:01:00.000 belongs to [00:01, 00:02)
        (MIN + 1, "b", 6),                    # 00:01:00.001
        (MIN + 30 * SEC - 1, "a", 7),         # 00:01:29.999
        (MIN + 30 * SEC, "b", 8),             # 00:01:30.000
        (2 * MIN - 1, "a", 9),                # 00:01:59.999
        (2 * MIN, "b", 10),                   # 00:02:00.000
        (4 * MIN, "a", 11),                   # 00:04:00.000 (minute 00:03 is empty)
        (5 * MIN - 1, "a", 12),               # 00:04:59.999
    ]
    rows = [(b + o, k, v) for o, k, v in offs]
    return Dataset("boundary", schema, "event_time", {"part-0": rows})


def disorder_dataset() -> Dataset:
    schema = [("event_time", "timestamp"), ("k", "string"), ("v", "int64")]

    def t(s):  # seconds offset (float) -> ms
        return T0 + round(s * 1000)

    p0 = [
        (1.0, "x", 1), (3.5, "y", 2), (2.0, "x", 3),          # 1.5 s late
        (8.0, "y", 4), (9.9, "x", 5), (10.1, "x", 6),
        (6.5, "y", 7),                                          # 3.6 s late, window [0,10)
        (12.0, "x", 8), (9.0, "x", 9),                          # 3 s late, window [0,10)
        (15.0, "y", 10), (19.999, "x", 11), (21.0, "y", 12),
        (17.5, "x", 13),                                        # 3.5 s late
        (25.0, "y", 14), (24.0, "y", 15), (30.0, "x", 16),
        (26.001, "x", 17),                                      # 3.999 s late
    ]
    p1 = [
        (5.0, "y", 101), (11.0, "x", 102), (7.5, "x", 103),     # 3.5 s late
        (14.0, "y", 104), (10.0, "y", 105),                     # exactly 4 s late
        (20.0, "x", 106), (35.0, "y", 107), (31.5, "y", 108),
    ]
    parts = {
        "part-0": [(t(s), k, v) for s, k, v in p0],
        "part-1": [(t(s), k, v) for s, k, v in p1],
    }
    return Dataset("disorder", schema, "event_time", parts)


NUMBERS_SCHEMA = [
    ("event_time", "timestamp"), ("id", "int64"),
    ("a", "int64"), ("b", "int64"), ("x", "float64"), ("y", "float64"),
]


def numbers_dataset() -> Dataset:
    vals = [
        (1, 7, 2, 2.5, 0.5),
        (2, -7, 2, -2.5, 2.0),
        (3, 7, -2, 0.1, 0.2),
        (4, -7, -2, 7.9, -7.9),
        (5, 7, 0, 3.0, 0.0),
        (6, 0, 5, 0.0, 4.0),
        (7, None, 3, None, 1.0),
        (8, 5, None, 9.0, None),
        (9, 1000000007, 13, 1e10, -0.001),
        (10, -1, 1, -3.7, 2.0),
        (11, 9, 3, 1.25, 4.0),
        (12, -9, 4, -0.5, -2.0),
        (13, 3, 3, 3.0, 3.0),
        (14, 2, -5, 2.5, -2.5),
        (15, -3, 7, -1.5, 0.75),
        (16, 100, -1, 100.0, -0.25),
        (17, None, None, None, None),
    ]
    rows = [(T0 + i * SEC,) + v for i, v in enumerate(vals)]
    return Dataset("numbers", NUMBERS_SCHEMA, "event_time", {"part-0": rows})


def bigints_dataset() -> Dataset:
    schema = [("event_time", "timestamp"), ("k", "string"), ("big", "int64")]
    vals = [
        (0, "pos", 4_000_000_000_000_000_000),
        (2, "pos", 3_000_000_000_000_000_000),
        (4, "pos", 2_000_000_000_000_000_000),
        (11, "extremes", 9_223_372_036_854_775_807),
        (13, "extremes", -9_223_372_036_854_775_807),
        (21, "neg", -4_000_000_000_000_000_000),
        (23, "neg", -5_000_000_000_000_000_000),
        (25, "neg", 1),
        (31, "exact", 9_007_199_254_740_993),   # 2^53 + 1: not representable as float64
        (33, "exact", None),
    ]
    rows = [(T0 + s * SEC, k, v) for s, k, v in vals]
    return Dataset("bigints", schema, "event_time", {"part-0": rows})


def floats_dataset() -> Dataset:
    schema = [("event_time", "timestamp"), ("k", "string"), ("x", "float64")]
    vals = [
        (0, "a", 0.1), (1, "a", 0.2),
        (10, "b", 0.1), (11, "b", 0.2), (12, "b", 0.3),
        (20, "c", 0.7), (21, "c", 0.1),
        (30, "d", 1e-3), (31, "d", 1e300), (32, "d", -2.5e-8),
    ]
    rows = [(T0 + s * SEC, k, v) for s, k, v in vals]
    return Dataset("floats", schema, "event_time", {"part-0": rows})


def sensors_dataset() -> Dataset:
    schema = [("event_time", "timestamp"), ("sensor", "string"), ("reading", "float64"),
              ("level", "int64"), ("label", "string")]
    vals = [
        ("00:00:05.000", "s1", 1.5, 10, "lo"),
        ("00:00:20.000", "s1", None, None, None),
        ("00:00:40.250", "s2", 4.5, -3, "hi"),
        ("00:00:50.000", "s1", 3.0, 7, "lo"),
        # minute 00:01 has rows but every aggregated value is NULL
        ("00:01:10.000", "s1", None, None, None),
        ("00:01:30.500", "s2", None, None, None),
        ("00:01:45.000", "s2", None, None, None),
        # minute 00:02: a single value
        ("00:02:00.000", "s2", None, None, None),
        ("00:02:30.000", "s1", 2.25, 4, "mid"),
    ]
    rows = [(ms("2024-01-01 " + s), sn, r, l, lb) for s, sn, r, l, lb in vals]
    return Dataset("sensors", schema, "event_time", {"part-0": rows})


TEXTS_SCHEMA = [
    ("event_time", "timestamp"), ("id", "int64"), ("s", "string"),
    ("int_str", "string"), ("dbl_str", "string"), ("bool_str", "string"),
    ("date_str", "string"), ("ts_str", "string"), ("parts", "string"),
]


def texts_dataset() -> Dataset:
    vals = [
        (1, "Hello World", "42", "3.25", "true", "2024-02-29", "2024-01-01 10:00:00", "a,b,c"),
        (2, "  padded  ", "-17", "-0.5", "FALSE", "2023-02-29", "2024-01-01 10:00:00.123", "a,,c"),
        (3, "café", "abc", "1e3", "True", "1999-12-31", "2024-02-30 00:00:00", "single"),
        (4, "naïve résumé", "12abc", "abc", "maybe", "not a date", "garbage", ",lead"),
        (5, "東京タワー", "9223372036854775808", "", "false", "2024-13-01", "1969-12-31 23:59:59.999", "x,y"),
        (6, "emoji 🚀 rocket", "0", "0.0", None, None, None, None),
        (7, "50% off_now", "", None, "", "2000-01-01", "2024-06-15 23:59:59", "tail,"),
        (8, "MiXeD CaSe", None, "-2.5e-3", "TRUE", "2024-01-01", "2024-01-01 00:00:00.000", "p1,p2,p3,p4"),
        (9, "", "007", "42", "yes", "1970-01-01", "1999-12-31 23:59:59", "a;b"),
        (10, None, "123", "1.5", "fAlSe", "1969-07-20", "2020-02-29 12:00:00.500", "k,v"),
        (11, "ПРИВЕТ мир", "-9223372036854775808", "7", "false", "2024-02-30", "2024-01-01 25:00:00", "1,2,3"),
        (12, "a_b%c", "-5", "-0", "true", "2024-12-31", "12:00:00", "a_b,%c"),
    ]
    rows = [(T0 + i * SEC,) + v for i, v in enumerate(vals)]
    return Dataset("texts", TEXTS_SCHEMA, "event_time", {"part-0": rows})


DATES_SCHEMA = [
    ("event_time", "timestamp"), ("id", "int64"), ("ts", "timestamp"),
    ("d", "date"), ("epoch_s", "int64"), ("epoch_millis", "int64"),
]


def dates_dataset() -> Dataset:
    vals = [
        (1, "2024-01-31 10:15:30.250", "2024-01-31", 0, 0),
        (2, "2024-02-29 23:59:59.999", "2024-02-29", 1704067200, 1704067200123),
        (3, "2023-12-31 00:00:00.000", "2023-12-31", -1, -1),
        (4, "2024-07-04 12:00:00.000", "2024-07-04", 1709251199, 1717200000999),
        (5, "1969-07-20 20:17:40.000", "1969-07-20", -14182940, -14182940000),
        (6, "2024-03-10 01:02:03.004", "2024-03-10", None, None),
        (7, "2025-01-01 00:00:00.000", "2025-01-01", 951782400, 951782400000),
        (8, "2024-12-30 08:00:00.000", "2024-12-30", 86399, 86399999),
        (9, "2021-01-03 18:30:00.000", "2021-01-03", 1609459200, -86400001),
        (10, None, None, 2147483648, 253402300799999),
        (11, "1969-12-31 23:59:59.500", "1969-12-31", -86400, -500),
        (12, "2024-06-15 00:00:00.000", "2024-06-15", 1718409600, 1718409600000),
    ]
    rows = [
        (T0 + i * SEC, id_, None if ts is None else ms(ts), None if d is None else day(d), es, em)
        for i, (id_, ts, d, es, em) in enumerate(vals)
    ]
    return Dataset("dates", DATES_SCHEMA, "event_time", {"part-0": rows})


BASKETS_SCHEMA = [
    ("event_time", "timestamp"), ("customer_id", "int64"),
    ("items", "array<string>"), ("prices", "array<float64>"), ("qty", "map<string,int64>"),
]


def baskets_dataset() -> Dataset:
    """Arrays and maps in the input: NULL arrays, empty arrays, NULL elements."""
    vals = [
        (1, ["apple", "pear"], [1.5, 2.25], [("apple", 2), ("pear", 1)]),
        (2, ["milk"], [0.99], [("milk", 6)]),
        (1, [], [], []),
        (3, None, None, None),
        (2, ["milk", None, "bread"], [0.99, None, 3.0], [("milk", 1), ("bread", None)]),
        (1, ["apple", "apple", "fig"], [1.5, 1.5, 4.0], [("apple", 2), ("fig", 1)]),
        (3, ["tea"], [5.0], [("tea", 3)]),
        (2, ["bread"], [2.5], [("bread", 2)]),
    ]
    rows = [(T0 + i * 20 * SEC,) + v for i, v in enumerate(vals)]
    return Dataset("baskets", BASKETS_SCHEMA, "event_time", {"part-0": rows})


def all_datasets() -> list[Dataset]:
    orders, chargebacks = orders_datasets()
    empty = Dataset("empty", EVENTS_SCHEMA, "event_time", {"part-0": []})
    return [
        events_dataset(), users_dataset(), orders, chargebacks, quotes_dataset(), empty,
        old_events_dataset(), boundary_dataset(), disorder_dataset(), numbers_dataset(),
        bigints_dataset(), floats_dataset(), sensors_dataset(), texts_dataset(), dates_dataset(),
        baskets_dataset(),
    ]


def build_data() -> dict[str, bytes]:
    """relative path (under tests/golden/) -> file bytes"""
    files: dict[str, bytes] = {}
    for ds in all_datasets():
        for fname, rows in ds.parts.items():
            files[f"{DATA}/{ds.name}/{fname}.parquet"] = parquet_bytes(ds.arrow_table(rows))
        if ds.name == "baskets":
            for fname, rows in ds.parts.items():
                files[f"{DATA}/baskets_ndjson/{fname}.ndjson"] = ndjson_bytes(ds, rows)
        if ds.name == "events":
            for fname, rows in ds.parts.items():
                files[f"{DATA}/events_ndjson/{fname}.ndjson"] = ndjson_bytes(ds, rows)
                files[f"{DATA}/events_csv/{fname}.csv"] = csv_bytes(ds, rows)
    return files


# ---------------------------------------------------------------------------
# running the reference queries
# ---------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sort_key(row):
    # Arrays and maps (lists and dicts) sort by their JSON text.
    return tuple((0,) if v is None else (1, json.dumps(v) if isinstance(v, (list, dict)) else v)
                 for v in row)


def run_reference(case_dir: Path) -> dict:
    sql = (case_dir / "reference.sql").read_text(encoding="utf-8").strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    con = duckdb.connect(":memory:")
    cwd = os.getcwd()
    os.chdir(case_dir)
    try:
        for stmt in DUCKDB_PRELUDE:
            con.execute(stmt)
        rel = con.sql(sql)
        names = list(rel.columns)
        duck_types = [str(t) for t in rel.types]
        if len(set(names)) != len(names):
            raise SystemExit(f"{case_dir.name}: duplicate output column names {names}")
        qtypes = []
        for n, t in zip(names, duck_types):
            if quiver_collection(t):
                qtypes.append(quiver_collection(t))
                continue
            if t not in DUCKDB_TO_QUIVER:
                raise SystemExit(
                    f"{case_dir.name}: column {n!r} has DuckDB type {t}, which has no Quiver "
                    f"type mapping (cast it in reference.sql)")
            qtypes.append(DUCKDB_TO_QUIVER[t])
        # fetch timestamps as epoch microseconds (no pytz, exact, pre-1970 safe)
        proj = []
        for n, qt in zip(names, qtypes):
            proj.append(f"epoch_us({quote_ident(n)})" if qt == "timestamp" else quote_ident(n))
        raw = con.sql(f"SELECT {', '.join(proj)} FROM (\n{sql}\n) AS golden_q").fetchall()
    finally:
        os.chdir(cwd)
        con.close()

    rows = []
    for r in raw:
        out = []
        for n, qt, v in zip(names, qtypes, r):
            out.append(to_golden(case_dir.name, n, qt, v))
        rows.append(out)
    rows.sort(key=sort_key)
    return {"columns": [{"name": n, "type": t} for n, t in zip(names, qtypes)], "rows": rows}


def quiver_collection(duck: str) -> str | None:
    """'BIGINT[]' -> 'array<int64>', 'MAP(VARCHAR, BIGINT)' -> 'map<string,int64>'
    (one level of nesting, as Quiver's types); None for other types."""
    if duck.endswith("[]") and duck[:-2] in DUCKDB_TO_QUIVER:
        return f"array<{DUCKDB_TO_QUIVER[duck[:-2]]}>"
    m = re.fullmatch(r"MAP\((.+), (.+)\)", duck)
    if m and m.group(1) in DUCKDB_TO_QUIVER and m.group(2) in DUCKDB_TO_QUIVER:
        return f"map<{DUCKDB_TO_QUIVER[m.group(1)]},{DUCKDB_TO_QUIVER[m.group(2)]}>"
    return None


def to_golden(case: str, n: str, qt: str, v):
    """One result value in the expected.json form of Quiver type qt: arrays as
    JSON arrays, maps as objects whose keys are the keys' JSON text."""
    if v is None:
        return None
    if qt.startswith("array<"):
        return [to_golden(case, n, qt[6:-1], x) for x in v]
    if qt.startswith("map<"):
        kt, vt = qt[4:-1].split(",")
        items = v.items() if isinstance(v, dict) else zip(v["key"], v["value"])
        out = {}
        for k, x in items:
            key = to_golden(case, n, kt, k)
            out[key if isinstance(key, str) else json.dumps(key)] = to_golden(case, n, vt, x)
        return out
    return scalar_golden(case, n, qt, v)


def scalar_golden(case: str, n: str, qt: str, v):
    if qt == "timestamp":
        if isinstance(v, dt.datetime):  # inside an array: not projected
            v = int((v.replace(tzinfo=None) - EPOCH) / dt.timedelta(microseconds=1))
        if v % 1000 != 0:
            raise SystemExit(f"{case}: column {n!r} has sub-millisecond value {v}")
        return iso(v // 1000)
    elif qt == "date":
        return v.isoformat()
    elif qt == "float64":
        v = float(v)
        if not math.isfinite(v):
            raise SystemExit(f"{case}: column {n!r} has non-finite value {v}")
        return v
    elif qt == "int64":
        assert isinstance(v, int) and -(2**63) <= v < 2**63
        return v
    elif qt == "bool":
        return bool(v)
    else:
        return str(v)


def expected_bytes(result: dict) -> bytes:
    lines = ["{", '  "columns": ['
             ]
    cols = result["columns"]
    for i, c in enumerate(cols):
        lines.append("    " + json.dumps(c, ensure_ascii=False) + ("," if i + 1 < len(cols) else ""))
    lines.append("  ],")
    if not result["rows"]:
        lines.append('  "rows": []')
    else:
        lines.append('  "rows": [')
        rs = result["rows"]
        for i, r in enumerate(rs):
            lines.append("    " + json.dumps(r, ensure_ascii=False, allow_nan=False)
                         + ("," if i + 1 < len(rs) else ""))
        lines.append("  ]")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------
# sanity checks on the hand-written files
# ---------------------------------------------------------------------------

NAME_RE = re.compile(r"^name:\s*([A-Za-z0-9_\-\[\]\.]+)\s*$", re.M)


def lint_hand_written(root: Path) -> list[str]:
    problems = []
    for case in sorted((root / CASES).iterdir()):
        if not case.is_dir():
            continue
        job, ref = case / "job.yaml", case / "reference.sql"
        if not job.exists() or not ref.exists():
            problems.append(f"{case.name}: needs job.yaml and reference.sql")
            continue
        text = job.read_text(encoding="utf-8")
        m = NAME_RE.search(text)
        if not m or m.group(1) != case.name:
            problems.append(f"{case.name}: job name must equal the directory name")
        if not re.search(r"^description:", text, re.M):
            problems.append(f"{case.name}: job.yaml has no description")
    for case in sorted((root / ERRORS).iterdir()) if (root / ERRORS).exists() else []:
        if not case.is_dir():
            continue
        job, exp = case / "job.yaml", case / "expected_error.json"
        if not job.exists() or not exp.exists():
            problems.append(f"errors/{case.name}: needs job.yaml and expected_error.json")
            continue
        e = json.loads(exp.read_text(encoding="utf-8"))
        lines = job.read_text(encoding="utf-8").split("\n")
        if set(e) != {"line", "col", "contains"}:
            problems.append(f"errors/{case.name}: keys must be line, col, contains")
        elif not (1 <= e["line"] <= len(lines) and 1 <= e["col"] <= len(lines[e["line"] - 1])):
            problems.append(f"errors/{case.name}: position {e['line']}:{e['col']} is outside the file")
        elif lines[e["line"] - 1][e["col"] - 1].isspace():
            problems.append(f"errors/{case.name}: position {e['line']}:{e['col']} is whitespace")
        elif not (1 <= len(e["contains"]) <= 3):
            problems.append(f"errors/{case.name}: contains must have 1-3 fragments")
    return problems


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def generate_all(work: Path) -> dict[str, bytes]:
    """Build everything into `work` (a scratch copy of the corpus layout) and
    return relative path -> bytes of every generated file."""
    files = build_data()
    for rel, content in files.items():
        p = work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
    for case in sorted((ROOT / CASES).iterdir()):
        if not (case / "reference.sql").exists():
            continue
        dst = work / CASES / case.name
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(case / "reference.sql", dst / "reference.sql")
        try:
            result = run_reference(dst)
        except duckdb.Error as e:
            raise SystemExit(f"{case.name}/reference.sql failed in DuckDB: {e}") from None
        files[f"{CASES}/{case.name}/expected.json"] = expected_bytes(result)
    return files


def existing_generated(root: Path) -> set[str]:
    found = set()
    if (root / DATA).exists():
        for p in (root / DATA).rglob("*"):
            if p.is_file():
                found.add(p.relative_to(root).as_posix())
    if (root / CASES).exists():
        for p in (root / CASES).glob("*/expected.json"):
            found.add(p.relative_to(root).as_posix())
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true",
                    help="do not write; exit 1 if any generated file differs from the checked-in one")
    args = ap.parse_args()

    problems = lint_hand_written(ROOT)
    with tempfile.TemporaryDirectory(prefix="quiver-golden-") as tmp:
        files = generate_all(Path(tmp))

    stale = sorted(existing_generated(ROOT) - set(files))
    if args.check:
        diffs = []
        for rel, content in sorted(files.items()):
            p = ROOT / rel
            if not p.exists():
                diffs.append(f"missing: {rel}")
            elif p.read_bytes() != content:
                diffs.append(f"differs: {rel}")
        diffs += [f"stale:   {rel}" for rel in stale]
        for line in problems + diffs:
            print(line, file=sys.stderr)
        if problems or diffs:
            print("golden corpus is out of date: run tests/golden/generate.py", file=sys.stderr)
            return 1
        print(f"golden corpus up to date ({len(files)} generated files)")
        return 0

    written = 0
    for rel, content in sorted(files.items()):
        p = ROOT / rel
        if p.exists() and p.read_bytes() == content:
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
        written += 1
    for rel in stale:
        (ROOT / rel).unlink()
    for line in problems:
        print(line, file=sys.stderr)
    print(f"{len(files)} generated files, {written} written, {len(stale)} stale removed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
