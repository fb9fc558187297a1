#!/usr/bin/env python3
"""The peer for the `enrich` cases of `cargo bench -p quiver-postprocess
--bench steps`: the same Redis lookups (HGETALL of `bench:customer:<email>`,
the hashes the bench wrote) for the same rows, with redis-py's asyncio
client and at most 32 requests in flight, as an async enrichment operator
(Flink's AsyncDataStream, Dagger's external post-processor) does it.

  cargo bench -p quiver-postprocess --bench steps      # writes the hashes
  ~/.cache/quiver/model-venv/bin/pip install redis==7.1.0
  QUIVER_TEST_REDIS=redis://127.0.0.1:6379 ~/.cache/quiver/model-venv/bin/python benches/enrich_peer.py

Cold: 50,000 rows, each a new key, one lookup each (rows of a batch with
the same key share one, as in Quiver). Warm: 200,000 rows answered from a
dict of the answers (Quiver's TTL cache). Values are converted as the job
declares them (segment text, tier integer).
"""
import asyncio
import os
import time

import redis.asyncio as aioredis

CUSTOMERS = 50_000
BATCH = 4096
CAPACITY = 32


def emails(start, n):
    return [f"customer{i % CUSTOMERS}@example.com" for i in range(start, start + n)]


async def lookup_batch(r, keys, cache):
    sem = asyncio.Semaphore(CAPACITY)
    distinct = [k for k in dict.fromkeys(keys) if cache is None or k not in cache]

    async def one(k):
        async with sem:
            h = await r.hgetall(f"bench:customer:{k}")
            return k, (h.get(b"segment", b"").decode(), int(h.get(b"tier", b"0")))

    answers = dict(await asyncio.gather(*(one(k) for k in distinct)))
    if cache is not None:
        cache.update(answers)
        answers = cache
    return [answers[k] for k in keys]


async def run(rows, cache):
    r = aioredis.from_url(os.environ.get("QUIVER_TEST_REDIS", "redis://127.0.0.1:6379"))
    began = time.perf_counter()
    out = 0
    for start in range(0, rows, BATCH):
        out += len(await lookup_batch(r, emails(start, min(BATCH, rows - start)), cache))
    secs = time.perf_counter() - began
    await r.aclose()
    return out, secs


def main():
    cache = {}
    for name, rows, c in [
        ("enrich redis, cache cold", CUSTOMERS, cache),
        ("enrich redis, cache warm", 4 * CUSTOMERS, cache),
        ("enrich redis, no cache", CUSTOMERS, None),
    ]:
        out, secs = asyncio.run(run(rows, c))
        print(f"{name:<28} {rows / secs:>12.0f} records/s  ({rows} rows in {secs:.3f} s, {out} out)")


main()
