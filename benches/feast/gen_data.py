# Writes the benchmark's Feast source: customers 1..N, one row each,
# event_timestamp = created = now (UTC), f_k = customer_id + k/10 for k in 0..9.
# Usage: gen_data.py OUT.parquet [N]   (prints the timestamp used, ISO 8601 UTC)
import sys
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
now = datetime.now(timezone.utc).replace(microsecond=0)
ids = np.arange(1, n + 1, dtype=np.int64)
ts = pa.array(np.full(n, int(now.timestamp() * 1_000_000), dtype=np.int64),
              type=pa.timestamp("us", tz="UTC"))
cols = {"customer_id": pa.array(ids), "event_timestamp": ts, "created": ts}
for k in range(10):
    cols[f"f{k}"] = pa.array(ids.astype(np.float64) + k / 10)
pq.write_table(pa.table(cols), out)
print(now.strftime("%Y-%m-%dT%H:%M:%S"))
