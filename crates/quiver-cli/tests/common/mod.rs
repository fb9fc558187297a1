//! Helpers for tests that run the `quiver` binary as a process.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Output};
use std::time::{Duration, Instant};

/// The first line the child writes to stderr (its stderr must be piped),
/// and the rest of the stream: keep it open until the child exits, or its
/// last messages hit a closed pipe.
pub fn first_stderr_line(child: &mut Child) -> (String, BufReader<ChildStderr>) {
    let mut err = BufReader::new(child.stderr.take().expect("stderr piped"));
    let mut line = String::new();
    err.read_line(&mut line).expect("read stderr");
    (line, err)
}

/// Sends SIGTERM and waits for the child, which must exit 0 within `limit`.
pub fn terminate(child: Child, limit: Duration) -> Output {
    let began = Instant::now();
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(ok.success());
    let out = child.wait_with_output().expect("wait for quiver");
    assert!(began.elapsed() < limit, "took {:?}", began.elapsed());
    assert_eq!(out.status.code(), Some(0));
    out
}
