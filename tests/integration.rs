//! Quiver's integration tests, in one binary (see `Cargo.toml` for why).
//! Each module is one area; run one with `cargo test -p quiver-tests --test
//! integration live::` (or any test-name filter).

mod e2e;
mod enrich;
mod golden;
mod kafka_sink;
mod live;
mod postprocess;
mod property;
mod publish;
// Named apart from the `redis` crate the tests use.
#[path = "redis.rs"]
mod redis_store;
mod serve;
mod validation;
