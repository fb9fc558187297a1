//! `/metrics` and `/health` served from a background thread.

use std::io::{Read, Write};

use quiver_server::{Background, metrics_router};

fn get(addr: &str, path: &str) -> String {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(c, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    text
}

#[test]
fn serves_the_registry_as_text() {
    let registry = prometheus::Registry::new();
    let c = prometheus::IntCounter::new("quiver_test_total", "A test counter.").unwrap();
    c.inc_by(3);
    registry.register(Box::new(c)).unwrap();
    let server = Background::start("127.0.0.1:0", metrics_router(registry)).unwrap();
    let addr = server.addr().to_string();
    let m = get(&addr, "/metrics");
    assert!(
        m.starts_with("HTTP/1.0 200") || m.starts_with("HTTP/1.1 200"),
        "{m}"
    );
    assert!(m.contains("text/plain; version=0.0.4"), "{m}");
    assert!(m.contains("quiver_test_total 3"), "{m}");
    assert!(get(&addr, "/health").contains("ok"));
    drop(server);
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "stopped on drop"
    );
}

#[test]
fn a_taken_address_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let e = Background::start(&addr, metrics_router(prometheus::Registry::new()))
        .err()
        .unwrap();
    assert!(e.to_string().contains(&addr), "{e}");
}
