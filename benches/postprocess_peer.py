#!/usr/bin/env python3
"""The peer for `cargo bench -p quiver-postprocess --bench steps`: the same
work on the same rows, one thread, with onnxruntime (C++) for the model and
Python's hmac / the `cryptography` package (OpenSSL) for masking.

Run both in the same session and compare ratios (the machine is shared):
  cargo bench -p quiver-postprocess --bench steps
  ~/.cache/quiver/model-venv/bin/python benches/postprocess_peer.py
(`scripts/make_models.sh` creates the venv; `pip install cryptography`.)
"""
import hashlib
import hmac
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROWS = int(sys.argv[sys.argv.index("--rows") + 1]) if "--rows" in sys.argv else 1_000_000
BATCH = int(sys.argv[sys.argv.index("--batch") + 1]) if "--batch" in sys.argv else 4096
HERE = os.path.dirname(os.path.abspath(__file__))

opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(
    os.path.join(HERE, "..", "jobs", "models", "booking_fraud_lr.onnx"),
    sess_options=opts,
    providers=["CPUExecutionProvider"],
)
name = sess.get_inputs()[0].name
hkey = hashlib.sha256(b"hash").digest()
aes = AESGCM(hashlib.sha256(b"aes").digest())
nkey = hashlib.sha256(b"nonce").digest()


def batches():
    for r0 in range(0, ROWS, BATCH):
        idx = np.arange(r0, min(ROWS, r0 + BATCH))
        ids = [f"order-{i // 2}" for i in idx]
        emails = [f"customer{i % 50000}@example.com" for i in idx]
        x = np.column_stack([(idx % 997) * 0.37, idx % 24, idx % 2]).astype(np.float32)
        yield ids, emails, x


data = list(batches())


def measure(label, f):
    f(data[0])
    t = time.perf_counter()
    for b in data:
        f(b)
    secs = time.perf_counter() - t
    print(f"{label:<28} {ROWS / secs:>12.0f} records/s  ({ROWS} rows in {secs:.3f} s)")


def mask(b):
    ids, emails, _ = b
    for e in emails:
        hmac.new(hkey, e.encode(), hashlib.sha256).hexdigest()
    for i in ids:
        p = i.encode()
        nonce = hmac.new(nkey, p, hashlib.sha256).digest()[:12]
        aes.encrypt(nonce, p, None)


def infer(b):
    sess.run(None, {name: b[2]})


print(f"batch {BATCH} rows, one thread (onnxruntime {ort.__version__})")
measure("mask (hash + encrypt)", mask)
measure("infer (ONNX, onnxruntime)", infer)
measure("mask + infer", lambda b: (mask(b), infer(b)))
