# Feast definitions for the `feast serve` comparison in the serving load benchmark
# (issue 4 point 5). benches/feast/setup.sh copies this file into the generated
# feature repo, next to the feature_store.yaml and the Parquet data it writes.
from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.types import Float64

customer = Entity(
    name="customer_id",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
)

source = FileSource(
    name="serve_bench_source",
    path=str(Path(__file__).resolve().parent / "data" / "serve_bench.parquet"),
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)

serve_bench = FeatureView(
    name="serve_bench",
    entities=[customer],
    ttl=timedelta(days=1),
    schema=[Field(name=f"f{k}", dtype=Float64) for k in range(10)],
    source=source,
    online=True,
)
