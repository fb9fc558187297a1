//! `quiver run` as a process: SIGTERM drains, checkpoints and exits 0.
//! Needs the broker `scripts/services.sh` starts (`QUIVER_TEST_KAFKA`).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;

#[test]
fn sigterm_stops_a_live_run_cleanly() {
    let Some(broker) = std::env::var("QUIVER_TEST_KAFKA")
        .ok()
        .filter(|b| !b.is_empty())
    else {
        assert!(
            std::env::var("QUIVER_REQUIRE_KAFKA").as_deref() != Ok("1"),
            "QUIVER_REQUIRE_KAFKA=1 but QUIVER_TEST_KAFKA is not set"
        );
        eprintln!("skipped: no broker (scripts/services.sh)");
        return;
    };
    let topic = format!("signal-{}", std::process::id());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &broker)
        .create()
        .unwrap();
    let t = NewTopic::new(&topic, 2, TopicReplication::Fixed(1));
    for r in futures_executor::block_on(admin.create_topics([&t], &AdminOptions::new())).unwrap() {
        r.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quiver.yaml"),
        format!("kafka: {{brokers: \"{broker}\"}}\nhistorical_store: hist\nonline_store: embedded://online\nstate_dir: state\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("job.yaml"),
        format!(
            "name: counts\nsources:\n  e:\n    schema: {{t: timestamp, k: int64}}\n    event_time: t\n    unbounded: {{kafka: {{topic: {topic}}}}}\nsql: SELECT k, COUNT(*) AS n FROM e GROUP BY TUMBLE(t, INTERVAL '1' MINUTE), k\nsinks:\n  online: {{}}\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .current_dir(dir.path())
        .args(["run", "job.yaml", "--workers", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is reading, then ask it to stop.
    let (line, _stderr) = common::first_stderr_line(&mut child);
    assert!(line.starts_with("source e: topic"), "{line}");
    let out = common::terminate(child, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("stopped after"), "{stdout}");
}
