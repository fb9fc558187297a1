//! `quiver serve` as a process: it says where it listens, answers, and
//! exits 0 on SIGTERM.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn serve_answers_and_sigterm_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quiver.yaml"),
        "online_store: embedded://online\nserver: {listen: \"127.0.0.1:0\", max_entities: 5}\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_quiver"))
        .current_dir(dir.path())
        .args(["serve", "--threads", "1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (line, _stderr) = common::first_stderr_line(&mut child);
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    write!(c, "GET /health HTTP/1.0\r\n\r\n").unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.0 200"), "{resp}");

    common::terminate(child, Duration::from_secs(10));
}
