#!/usr/bin/env python3
"""Quiver against DuckDB and Polars on the shared benchmark workloads.

Runs, in one go on this machine: the shared data generator (once per row
count), the DuckDB and Polars peer runners, and `quiver backfill` of
benches/jobs/<query>.yaml into the historical sink. For every engine it
reports the median wall time of --runs runs, rows/s per core, and peak RSS;
for Quiver also the ratio to each peer, and whether Quiver's rows equal
DuckDB's (DuckDB is the correctness oracle).

    python3 benches/bench.py                      # 10M rows, q1,q2,q3, 3 runs
    python3 benches/bench.py --rows 1000000 --runs 1
    python3 benches/bench.py --record             # also append to BENCHMARKS.md

Needs: the shared workloads (../shared/bench beside the repository, or
--shared), Python 3 and cargo. Creates benches/.venv with the pinned peers.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def sh(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def venv_python(args):
    venv = args.venv
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        sh([sys.executable, "-m", "venv", venv])
    marker = os.path.join(venv, ".requirements")
    req = open(os.path.join(HERE, "requirements.txt")).read()
    if not os.path.exists(marker) or open(marker).read() != req:
        sh([py, "-m", "pip", "install", "-q", "-r", os.path.join(HERE, "requirements.txt")])
        open(marker, "w").write(req)
    return py


def timed(cmd, env=None, cwd=None):
    """Runs cmd; returns (wall seconds, peak RSS in MiB, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, text=True)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    out, err = p.stdout.read(), p.stderr.read()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{out}\n{err}")
    return wall, usage.ru_maxrss / 1024.0, out


def run_peer(py, args, peer, query, data, out):
    script = os.path.join(args.shared, f"run_{peer}.py")
    extra = ["--threads", str(args.workers)] if peer == "duckdb" else []
    _, rss, stdout = timed([py, script, "--data", data, "--out", out, "--queries", query, "--runs", str(args.runs)] + extra,
                           env=dict(os.environ, POLARS_MAX_THREADS=str(args.workers)), cwd=args.shared)
    recs = [json.loads(l) for l in open(os.path.join(out, "timings.jsonl"))]
    rec = [r for r in recs if r["peer"] == peer and r["query"] == query][-1]
    return {"median_s": rec["median_s"], "times": rec["times_s"], "rss_mib": rss, "rows_in": rec["rows_in"], "rows_out": rec["rows_out"]}


def run_quiver(args, query, data, work):
    times, rss = [], 0.0
    job = os.path.join(HERE, "jobs", f"{query}.yaml")
    env = dict(os.environ, QUIVER_BENCH_DATA=data)
    for i in range(args.runs):
        deploy = os.path.join(work, "quiver")
        shutil.rmtree(deploy, ignore_errors=True)
        os.makedirs(deploy)
        with open(os.path.join(deploy, "quiver.yaml"), "w") as f:
            f.write("historical_store: historical\nonline_store: embedded://online\n")
        wall, r, out = timed([args.quiver, "backfill", job, "--config", os.path.join(deploy, "quiver.yaml"),
                              "--workers", str(args.workers), "--no-progress"], env=env)
        times.append(wall)
        rss = max(rss, r)
        print(f"  [quiver {query}] run {i + 1}/{args.runs}: {wall:.3f}s  ({r:.0f} MiB)", flush=True)
    return {"median_s": statistics.median(times), "times": [round(t, 4) for t in times], "rss_mib": rss,
            "output": os.path.join(deploy, "historical", query)}


CHECK = r"""
import duckdb, sys, json
q, mine, ref = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute("SET TimeZone='UTC'")
con.execute(f"CREATE VIEW a AS SELECT * EXCLUDE (date) FROM read_parquet('{mine}/**/*.parquet', hive_partitioning=true)")
con.execute(f"CREATE VIEW b AS SELECT * FROM read_parquet('{ref}')")
types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'b'").fetchall())
def norm(c):
    t = types[c].upper()
    if t.startswith("TIMESTAMP"):
        return f'epoch_ms(CAST("{c}" AS TIMESTAMP)) AS "{c}"'
    if t in ("DOUBLE", "FLOAT"):
        # 10 significant digits: equal doubles within ~1e-10 relative.
        return f'CASE WHEN "{c}" = 0 THEN 0 ELSE round("{c}", 9 - CAST(floor(log10(abs("{c}"))) AS INTEGER)) END AS "{c}"'
    return f'CAST("{c}" AS VARCHAR) AS "{c}"'
sel = ", ".join(norm(c) for c in types)
na = con.execute("SELECT count(*) FROM a").fetchone()[0]
nb = con.execute("SELECT count(*) FROM b").fetchone()[0]
extra = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM a EXCEPT ALL SELECT {sel} FROM b)").fetchone()[0]
missing = con.execute(f"SELECT count(*) FROM (SELECT {sel} FROM b EXCEPT ALL SELECT {sel} FROM a)").fetchone()[0]
print(json.dumps({"rows": na, "expected": nb, "missing": missing, "extra": extra}))
"""


def check(py, query, mine, ref):
    p = subprocess.run([py, "-c", CHECK, query, mine, ref], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"result check of {query} failed:\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int([l for l in open("/proc/meminfo") if l.startswith("MemTotal")][0].split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem} RAM, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--queries", default="q1,q2,q3")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="Quiver workers, DuckDB threads and Polars threads")
    ap.add_argument("--peers", default="duckdb,polars")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared", "bench"))
    ap.add_argument("--data-root", default=os.path.join(HERE, "data"))
    ap.add_argument("--venv", default=os.path.join(HERE, ".venv"))
    ap.add_argument("--quiver", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "quiver"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--record", action="store_true", help="append the results to BENCHMARKS.md")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.shared, "gen.py")):
        raise SystemExit(f"shared workloads not found at {args.shared}; pass --shared DIR")
    py = venv_python(args)
    if not args.no_build:
        sh(["cargo", "build", "--release", "-p", "quiver-cli"], cwd=ROOT)
    name = {10_000_000: "full", 10_000: "tiny"}.get(args.rows, f"n{args.rows}")
    data = os.path.join(args.data_root, name)
    if not os.path.exists(os.path.join(data, "meta.json")):
        sh([py, os.path.join(args.shared, "gen.py"), "--rows", str(args.rows), "--name", name, "--data-root", args.data_root, "--no-ndjson"])
    work = tempfile.mkdtemp(prefix="quiver-bench-")
    results = []
    peers = [p for p in args.peers.split(",") if p]
    for q in [q for q in args.queries.split(",") if q]:
        row = {"query": q}
        for p in peers:
            row[p] = run_peer(py, args, p, q, data, os.path.join(work, "peers"))
        row["quiver"] = run_quiver(args, q, data, work)
        if "duckdb" in peers:
            row["check"] = check(py, q, row["quiver"]["output"], os.path.join(work, "peers", "duckdb", f"{q}.parquet"))
        row["rows_in"] = row.get("duckdb", row.get("polars", {})).get("rows_in")
        results.append(row)
    shutil.rmtree(work, ignore_errors=True)

    lines = []
    cores = args.workers
    lines.append(f"| query | engine | median s | rows/s per core | peak RSS MiB | Quiver speed-up |")
    lines.append(f"|---|---|---:|---:|---:|---|")
    for r in results:
        n = r["rows_in"] or args.rows
        qv = r["quiver"]["median_s"]
        for e in peers + ["quiver"]:
            m = r[e]["median_s"]
            ratio = "" if e == "quiver" else f"{m / qv:.2f}x"
            lines.append(f"| {r['query']} | {e} | {m:.3f} | {n / m / cores:,.0f} | {r[e]['rss_mib']:.0f} | {ratio} |")
    checks = [f"{r['query']}: {r['check']['rows']:,} rows, {r['check']['missing']} missing / {r['check']['extra']} extra vs DuckDB" for r in results if "check" in r]
    table = "\n".join(lines)
    print()
    print(table)
    for c in checks:
        print("check", c)
    if args.record:
        rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(ROOT, "BENCHMARKS.md"), "a") as f:
            f.write(f"\n## {datetime.date.today().isoformat()} — {args.rows:,} rows, {cores} workers/threads, commit {rev}\n\n")
            f.write(f"Command: `python3 benches/bench.py --rows {args.rows} --runs {args.runs} --workers {cores} --record`  \n")
            f.write(f"Machine: {machine()}  \n")
            f.write("Speed-up = peer median / Quiver median (same run). Rows/s per core = input rows / median / workers.\n\n")
            f.write(table + "\n\n")
            for c in checks:
                f.write(f"- correctness {c}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
