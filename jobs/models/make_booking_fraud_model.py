#!/usr/bin/env python3
"""Trains the small booking-fraud model the examples and tests ship, and
records reference predictions from onnxruntime.

A logistic regression over three columns a feature job can compute from a
booking: amount, hour of day (0-23) and is_bike (0/1). The training data is
synthetic and seeded, so the model is reproducible. Exported with skl2onnx
(without ZipMap, so the probabilities are a plain [rows, 2] tensor).

Outputs, beside this script:
  booking_fraud_lr.onnx           the model
  booking_fraud_lr.expected.csv   probe rows with onnxruntime's label and
                                  P(fraud), which Quiver's tract-based
                                  `infer` step is tested against

Run: scripts/make_models.sh (creates a venv with the pinned packages).
"""
import csv
import os

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
n = 5000
amount = rng.lognormal(mean=3.0, sigma=1.0, size=n)
hour = rng.integers(0, 24, size=n)
is_bike = rng.integers(0, 2, size=n)
logit = 0.03 * amount + 1.2 * (hour < 5) - 0.8 * is_bike - 2.5
label = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
X = np.column_stack([amount, hour, is_bike]).astype(np.float32)
model = LogisticRegression(max_iter=1000).fit(X, label.astype(np.int64))

onx = to_onnx(
    model,
    X[:1],
    options={id(model): {"zipmap": False}},
    target_opset={"": 17, "ai.onnx.ml": 3},
)
path = os.path.join(HERE, "booking_fraud_lr.onnx")
with open(path, "wb") as f:
    f.write(onx.SerializeToString())

# Probe rows: a grid over the inputs, plus extremes.
probe = [
    (a, h, b)
    for a in (0.0, 1.5, 20.0, 99.99, 250.0, 1000.0)
    for h in (0, 3, 12, 23)
    for b in (0, 1)
]
sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
inp = sess.get_inputs()[0].name
labels, probs = sess.run(None, {inp: np.array(probe, dtype=np.float32)})
with open(os.path.join(HERE, "booking_fraud_lr.expected.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["amount", "hour", "is_bike", "label", "p_fraud"])
    for (a, h, b), l, p in zip(probe, labels, probs):
        w.writerow([a, h, b, int(l), f"{float(p[1]):.9f}"])
print(f"wrote {path}: inputs {[i.name for i in sess.get_inputs()]}, outputs {[o.name for o in sess.get_outputs()]}")
