//! A minimal RESP client for the Redis store's **read path** only: it sends
//! pre-packed commands and decodes the replies in place, straight from the
//! socket buffer.
//!
//! Why hand-written: a 100-entity request is one pipeline of 100 `HMGET`s
//! of 11 fields. Through redis-rs every reply field became a
//! `redis::Value::BulkString(Vec<u8>)` (1,100 allocations per request),
//! parsed by its `combine`-based parser, then converted again into
//! `Vec<Option<Vec<u8>>>`; `perf` on `quiver serve` under load put
//! allocation and that parser at about half of the server's CPU. Here a
//! bulk string that is already in the read buffer is handed to the caller
//! as a slice, so a reply is decoded without copying or allocating.
//! Connection setup (`AUTH`, `SELECT`, `CLIENT SETNAME`) is a handful of
//! commands; writes, metadata and everything else still use redis-rs.
//!
//! Replies understood: simple strings, errors, integers, bulk strings and
//! arrays of RESP2, and RESP3's null (`_`). The connection never sends
//! `HELLO`, so the server speaks RESP2 to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Bytes read from the socket at once: a 100-entity reply of 10 float
/// features is about 20 KB, so it usually arrives in one `recv`.
const READ_BUFFER: usize = 64 * 1024;

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RespError {
    /// The socket failed (refused, reset, timed out, closed).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server answered a command with an error reply.
    #[error("{0}")]
    Server(String),
    /// The server sent something this reader does not expect.
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

impl RespError {
    /// Whether the connection is still usable (in step with the server).
    pub(crate) fn keeps_connection(&self) -> bool {
        matches!(self, RespError::Server(_))
    }
}

/// Appends one command in RESP (an array of bulk strings).
pub(crate) fn pack_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    push_header(out, b'*', args.len());
    for a in args {
        pack_bulk(out, a);
    }
}

/// Appends one bulk string.
pub(crate) fn pack_bulk(out: &mut Vec<u8>, arg: &[u8]) {
    push_header(out, b'$', arg.len());
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

/// Appends `<kind><n>\r\n`.
pub(crate) fn push_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// The start of a reply: its kind and, for sizes and integers, the number.
enum Header {
    /// `$n` (`None`: `$-1`, RESP2's null) or `_` (RESP3's null).
    Bulk(Option<usize>),
    /// `*n` (`None`: `*-1`).
    Array(Option<usize>),
    /// `+...` or `:n`.
    Simple,
}

/// One connection, speaking RESP2.
pub(crate) struct RespConn {
    reader: BufReader<TcpStream>,
    /// A header line or bulk string that straddled the buffer's end.
    scratch: Vec<u8>,
}

/// How to log in once connected.
pub(crate) struct Login<'a> {
    /// `AUTH [user] password` when a password is set.
    pub username: Option<&'a str>,
    /// The password.
    pub password: Option<&'a str>,
    /// `SELECT db` when not 0.
    pub db: i64,
    /// `CLIENT SETNAME`.
    pub name: &'a str,
}

impl RespConn {
    /// Connects to `host:port` and logs in.
    pub(crate) fn connect(
        host: &str,
        port: u16,
        login: &Login<'_>,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<RespConn, RespError> {
        let mut last = None;
        let mut stream = None;
        for addr in (host, port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, connect_timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = match (stream, last) {
            (Some(s), _) => s,
            (None, Some(e)) => return Err(e.into()),
            (None, None) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host} resolves to no address"),
                )
                .into());
            }
        };
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(io_timeout))?;
        stream.set_write_timeout(Some(io_timeout))?;
        let mut conn = RespConn {
            reader: BufReader::with_capacity(READ_BUFFER, stream),
            scratch: Vec::new(),
        };
        let mut setup = Vec::new();
        let mut replies = 0;
        if let Some(password) = login.password {
            match login.username {
                Some(user) => {
                    pack_command(&mut setup, &[b"AUTH", user.as_bytes(), password.as_bytes()])
                }
                None => pack_command(&mut setup, &[b"AUTH", password.as_bytes()]),
            }
            replies += 1;
        }
        if login.db != 0 {
            let db = login.db.to_string();
            pack_command(&mut setup, &[b"SELECT", db.as_bytes()]);
            replies += 1;
        }
        pack_command(&mut setup, &[b"CLIENT", b"SETNAME", login.name.as_bytes()]);
        replies += 1;
        conn.send(&setup)?;
        // Read every reply before failing, so the first error is reported
        // (a failed AUTH makes the later commands fail with NOAUTH).
        let mut first_error = None;
        for _ in 0..replies {
            if let Err(e) = conn.skip() {
                if !e.keeps_connection() {
                    return Err(e);
                }
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(conn),
        }
    }

    /// Writes pre-packed commands.
    pub(crate) fn send(&mut self, packed: &[u8]) -> Result<(), RespError> {
        self.reader.get_mut().write_all(packed)?;
        Ok(())
    }

    /// Reads one line (without `\r\n`) into `scratch`, or hands it over in
    /// place; returns the parsed header.
    fn header(&mut self) -> Result<Header, RespError> {
        self.scratch.clear();
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.scratch.extend_from_slice(&buf[..i]);
                    self.reader.consume(i + 1);
                    break;
                }
                None => {
                    let n = buf.len();
                    self.scratch.extend_from_slice(buf);
                    self.reader.consume(n);
                    if self.scratch.len() > 64 * 1024 {
                        return Err(RespError::Protocol("a reply line over 64 KiB".into()));
                    }
                }
            }
        }
        let line = self.scratch.strip_suffix(b"\r").unwrap_or(&self.scratch);
        let Some((&kind, rest)) = line.split_first() else {
            return Err(RespError::Protocol("an empty line".into()));
        };
        let size = || -> Result<Option<usize>, RespError> {
            let s = std::str::from_utf8(rest).ok();
            match s.and_then(|s| s.parse::<i64>().ok()) {
                Some(-1) => Ok(None),
                Some(n) if n >= 0 => Ok(Some(n as usize)),
                _ => Err(RespError::Protocol(format!(
                    "bad size in {:?}",
                    String::from_utf8_lossy(line)
                ))),
            }
        };
        match kind {
            b'$' => Ok(Header::Bulk(size()?)),
            b'*' => Ok(Header::Array(size()?)),
            b'_' => Ok(Header::Bulk(None)),
            b'+' | b':' => Ok(Header::Simple),
            b'-' => Err(RespError::Server(
                String::from_utf8_lossy(rest).into_owned(),
            )),
            _ => Err(RespError::Protocol(format!(
                "{:?}",
                String::from_utf8_lossy(line)
            ))),
        }
    }

    /// Reads one reply, whatever it is, and drops it.
    fn skip(&mut self) -> Result<(), RespError> {
        match self.header()? {
            Header::Bulk(Some(n)) => self.with_bytes(n, |_| ()),
            Header::Array(Some(n)) => {
                for _ in 0..n {
                    self.skip()?;
                }
                Ok(())
            }
            Header::Bulk(None) | Header::Array(None) | Header::Simple => Ok(()),
        }
    }

    /// Reads `n` bytes and their `\r\n`, handing the bytes to `f` (in
    /// place when they are all in the buffer).
    fn with_bytes<T>(&mut self, n: usize, f: impl FnOnce(&[u8]) -> T) -> Result<T, RespError> {
        if self.reader.buffer().is_empty() {
            self.reader.fill_buf()?;
        }
        let buf = self.reader.buffer();
        let (value, ok) = if buf.len() >= n + 2 {
            let v = f(&buf[..n]);
            let ok = &buf[n..n + 2] == b"\r\n";
            self.reader.consume(n + 2);
            (v, ok)
        } else {
            self.scratch.resize(n + 2, 0);
            self.reader.read_exact(&mut self.scratch)?;
            (f(&self.scratch[..n]), &self.scratch[n..] == b"\r\n")
        };
        if ok {
            Ok(value)
        } else {
            Err(RespError::Protocol(
                "a bulk string not ended by CRLF".into(),
            ))
        }
    }

    /// Reads a bulk-string reply (or null) and hands it to `f`.
    pub(crate) fn bulk<T>(&mut self, f: impl FnOnce(Option<&[u8]>) -> T) -> Result<T, RespError> {
        match self.header()? {
            Header::Bulk(Some(n)) => self.with_bytes(n, |b| f(Some(b))),
            Header::Bulk(None) => Ok(f(None)),
            _ => Err(RespError::Protocol("expected a bulk string".into())),
        }
    }

    /// Reads an array reply's header: its length.
    pub(crate) fn array(&mut self) -> Result<usize, RespError> {
        match self.header()? {
            Header::Array(Some(n)) => Ok(n),
            _ => Err(RespError::Protocol("expected an array".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A connection to a fake server that sends `replies` once it has
    /// read anything.
    fn fake(replies: &'static [u8]) -> RespConn {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 4096];
            let _ = s.read(&mut b).unwrap();
            // Dribble the bytes so reads straddle buffer refills.
            for chunk in replies.chunks(3) {
                s.write_all(chunk).unwrap();
                s.flush().unwrap();
            }
            let _ = s.read(&mut b);
        });
        let s = TcpStream::connect(addr).unwrap();
        let mut c = RespConn {
            reader: BufReader::with_capacity(8, s),
            scratch: Vec::new(),
        };
        c.send(b"go").unwrap();
        c
    }

    #[test]
    fn replies_decode_across_buffer_boundaries() {
        let mut c = fake(b"$11\r\nhello world\r\n$-1\r\n_\r\n*3\r\n$0\r\n\r\n$-1\r\n$3\r\nabc\r\n-ERR no\r\n+OK\r\n");
        let own = |b: Option<&[u8]>| b.map(<[u8]>::to_vec);
        assert_eq!(c.bulk(own).unwrap(), Some(b"hello world".to_vec()));
        assert_eq!(c.bulk(own).unwrap(), None);
        assert_eq!(c.bulk(own).unwrap(), None);
        assert_eq!(c.array().unwrap(), 3);
        assert_eq!(c.bulk(own).unwrap(), Some(Vec::new()));
        assert_eq!(c.bulk(own).unwrap(), None);
        assert_eq!(c.bulk(own).unwrap(), Some(b"abc".to_vec()));
        let e = c.bulk(own).unwrap_err();
        assert!(matches!(&e, RespError::Server(m) if m == "ERR no"), "{e:?}");
        assert!(e.keeps_connection());
        c.skip().unwrap();
    }

    #[test]
    fn commands_pack_as_resp() {
        let mut out = Vec::new();
        pack_command(&mut out, &[b"HGET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$4\r\nHGET\r\n$1\r\nk\r\n$0\r\n\r\n");
        out.clear();
        push_header(&mut out, b'$', 1234567890);
        push_header(&mut out, b'*', 0);
        assert_eq!(out, b"$1234567890\r\n*0\r\n");
    }
}
