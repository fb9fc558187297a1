#!/usr/bin/env bash
# Regenerates the ONNX model shipped in jobs/models (and its reference
# predictions) in a venv with pinned packages. The outputs are checked in;
# this is only needed to change the model.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${XDG_CACHE_HOME:-$HOME/.cache}/quiver/model-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q -r jobs/models/requirements.txt
"$venv/bin/python" jobs/models/make_booking_fraud_model.py
