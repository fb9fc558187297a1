//! The fast path of JSON decoding: flat objects of scalar columns, parsed
//! straight from the payloads into Arrow builders, one pass per message.
//!
//! arrow-json's tape decoder (the general path, [`super::json`]) copies
//! every string and number of every message, declared or not, onto a tape
//! before the columns are read from it. Kafka messages usually hold one
//! flat object with a few declared fields among others, so this path scans
//! each object once, skips the fields the source does not declare without
//! copying them, and parses the declared ones in place.
//!
//! It only accepts what it is sure arrow-json reads the same way: strict
//! JSON (RFC 8259, except that control characters inside strings are
//! taken as they are, as arrow-json takes them) and, per column, the values whose reading it mirrors
//! with the same functions (`lexical-core` numbers, arrow's timestamp
//! parser). Anything else — a syntax error, a value of another type, a
//! non-integer for `int64`, a key with an escape, deep nesting, invalid
//! UTF-8 — makes it *hand the message over* to the general path, which
//! then decides (a row, or a dead letter with its reason and detail). So a
//! message's fate and values never depend on which path read it; the
//! differential tests below check that on tricky inputs.

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::compute::kernels::cast_utils::string_to_datetime;
use arrow::datatypes::{DataType as ArrowType, SchemaRef, TimeUnit};

/// Nesting of skipped values beyond this hands the message over.
const MAX_DEPTH: usize = 32;

/// String bytes a batch's columns may hold together; the messages past it
/// are handed over (Arrow's `i32` offsets end at 2 GiB).
const MAX_STRING_BYTES: usize = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int64,
    Float64,
    Utf8,
    Timestamp,
}

/// One declared value of the message being read.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A range of the string scratch buffer.
    Str(u32, u32),
}

/// The fast decoder of a schema whose columns are all scalars JSON holds
/// (bool, int64, float64, string, timestamp); `None` for other schemas.
pub(super) struct FastJson {
    schema: SchemaRef,
    names: Vec<Box<[u8]>>,
    kinds: Vec<Kind>,
    /// The zone arrow-json reads timestamp strings in (`+00:00`).
    tz: Tz,
}

enum Builder {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Str(StringBuilder),
    Ts(TimestampMillisecondBuilder),
}

/// What the fast path made of a batch.
pub(super) struct FastDecoded {
    /// One row per message it read.
    pub batch: RecordBatch,
    /// For each row, the index of its message.
    pub rows: Vec<usize>,
    /// The messages it handed over to the general path.
    pub handed_over: Vec<usize>,
}

impl FastJson {
    /// The fast decoder of `schema` (the declared columns as Arrow types),
    /// or `None` when a column is not a scalar it reads.
    pub fn new(schema: SchemaRef) -> Option<FastJson> {
        let mut kinds = Vec::new();
        for f in schema.fields() {
            kinds.push(match f.data_type() {
                ArrowType::Boolean => Kind::Bool,
                ArrowType::Int64 => Kind::Int64,
                ArrowType::Float64 => Kind::Float64,
                ArrowType::Utf8 => Kind::Utf8,
                ArrowType::Timestamp(TimeUnit::Millisecond, Some(_)) => Kind::Timestamp,
                _ => return None,
            });
        }
        let names = schema
            .fields()
            .iter()
            .map(|f| f.name().as_bytes().into())
            .collect();
        Some(FastJson {
            names,
            kinds,
            tz: Tz::from_str(super::UTC_LABEL).ok()?,
            schema,
        })
    }

    /// Reads every message it can; the others are handed over.
    pub fn decode(&self, messages: &[&[u8]]) -> Result<FastDecoded, arrow::error::ArrowError> {
        let n = messages.len();
        let mut builders: Vec<Builder> = self
            .schema
            .fields()
            .iter()
            .zip(&self.kinds)
            .map(|(f, k)| match k {
                Kind::Bool => Builder::Bool(BooleanBuilder::with_capacity(n)),
                Kind::Int64 => Builder::Int(Int64Builder::with_capacity(n)),
                Kind::Float64 => Builder::Float(Float64Builder::with_capacity(n)),
                Kind::Utf8 => Builder::Str(StringBuilder::with_capacity(n, n * 16)),
                Kind::Timestamp => Builder::Ts(
                    TimestampMillisecondBuilder::with_capacity(n)
                        .with_data_type(f.data_type().clone()),
                ),
            })
            .collect();
        let mut rows = Vec::with_capacity(n);
        let mut handed_over = Vec::new();
        let mut cells = vec![Cell::Null; self.kinds.len()];
        let mut scratch = Vec::new();
        let mut string_bytes = 0;
        for (i, m) in messages.iter().enumerate() {
            cells.fill(Cell::Null);
            scratch.clear();
            if self.message(m, &mut cells, &mut scratch).is_none()
                || string_bytes + scratch.len() > MAX_STRING_BYTES
            {
                handed_over.push(i);
                continue;
            }
            string_bytes += scratch.len();
            rows.push(i);
            for (b, c) in builders.iter_mut().zip(&cells) {
                match (b, *c) {
                    (Builder::Bool(b), Cell::Bool(v)) => b.append_value(v),
                    (Builder::Int(b), Cell::Int(v)) => b.append_value(v),
                    (Builder::Float(b), Cell::Float(v)) => b.append_value(v),
                    (Builder::Ts(b), Cell::Int(v)) => b.append_value(v),
                    (Builder::Str(b), Cell::Str(s, e)) => {
                        // Checked as UTF-8 with the whole message (or built
                        // from escapes as chars): never fails.
                        let s = simdutf8::basic::from_utf8(&scratch[s as usize..e as usize])
                            .expect("validated with its message");
                        b.append_value(s)
                    }
                    (Builder::Bool(b), _) => b.append_null(),
                    (Builder::Int(b), _) => b.append_null(),
                    (Builder::Float(b), _) => b.append_null(),
                    (Builder::Ts(b), _) => b.append_null(),
                    (Builder::Str(b), _) => b.append_null(),
                }
            }
        }
        let cols: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| match b {
                Builder::Bool(mut b) => Arc::new(b.finish()) as ArrayRef,
                Builder::Int(mut b) => Arc::new(b.finish()),
                Builder::Float(mut b) => Arc::new(b.finish()),
                Builder::Str(mut b) => Arc::new(b.finish()),
                Builder::Ts(mut b) => Arc::new(b.finish()),
            })
            .collect();
        Ok(FastDecoded {
            batch: RecordBatch::try_new(self.schema.clone(), cols)?,
            rows,
            handed_over,
        })
    }

    fn column(&self, key: &[u8]) -> Option<usize> {
        self.names.iter().position(|n| n.as_ref() == key)
    }

    /// Reads one message into `cells`; `None` hands it over.
    fn message(&self, m: &[u8], cells: &mut [Cell], scratch: &mut Vec<u8>) -> Option<()> {
        // arrow-json refuses invalid UTF-8 in strings; outside strings it is
        // a syntax error anyway.
        simdutf8::basic::from_utf8(m).ok()?;
        let mut p = Parser { b: m, i: 0 };
        p.ws();
        p.eat(b'{')?;
        p.ws();
        if p.peek()? == b'}' {
            p.i += 1;
        } else {
            loop {
                p.eat(b'"')?;
                let key = p.plain_key()?;
                p.ws();
                p.eat(b':')?;
                p.ws();
                match self.column(key) {
                    // A repeated key: the last value wins, as in arrow-json.
                    Some(c) => cells[c] = p.value(self.kinds[c], scratch, &self.tz)?,
                    None => p.skip_value(0)?,
                }
                p.ws();
                match p.next()? {
                    b',' => p.ws(),
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        p.ws();
        (p.i == m.len()).then_some(())
    }
}

/// The index of the first `"` or `\` in `b`.
///
/// Keys and most string values are short, where eight bytes at a time
/// beat memchr's setup; past 32 bytes memchr takes over. A byte of the
/// word equals `c` when the word XOR `c` repeated has a zero byte there;
/// the zero-byte test can only flag bytes above a true zero, so the lowest
/// flag of either test is exact.
fn quote_or_escape(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut i = 0;
    while i < 32 {
        let Some(chunk) = b.get(i..i + 8) else {
            return b[i..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\')
                .map(|k| i + k);
        };
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let hit = zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\')));
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    memchr::memchr2(b'"', b'\\', &b[i..]).map(|k| i + k)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        if self.b.get(self.i..end)? != word {
            return None;
        }
        self.i = end;
        Some(())
    }

    /// A key without escapes, after its opening quote.
    fn plain_key(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        let run = quote_or_escape(&self.b[start..])?;
        self.i += run + 1;
        (self.b[start + run] == b'"').then(|| &self.b[start..start + run])
    }

    /// A string after its opening quote, unescaped into `out` when given.
    fn string(&mut self, mut out: Option<&mut Vec<u8>>) -> Option<()> {
        loop {
            let start = self.i;
            // The run up to a quote or an escape (control characters are
            // taken as they are, as arrow-json takes them).
            let run = quote_or_escape(&self.b[start..])?;
            self.i += run;
            if let Some(o) = out.as_deref_mut() {
                o.extend_from_slice(&self.b[start..self.i]);
            }
            match self.next()? {
                b'"' => return Some(()),
                b'\\' => {
                    let c = match self.next()? {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let ch = self.unicode()?;
                            if let Some(o) = out.as_deref_mut() {
                                let mut t = [0; 4];
                                o.extend_from_slice(ch.encode_utf8(&mut t).as_bytes());
                            }
                            continue;
                        }
                        _ => return None,
                    };
                    if let Some(o) = out.as_deref_mut() {
                        o.push(c);
                    }
                }
                _ => return None,
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.i.checked_add(4)?;
        let h = self.b.get(self.i..end)?;
        let mut v = 0u32;
        for &c in h {
            v = (v << 4) | char::from(c).to_digit(16)?;
        }
        self.i = end;
        Some(v)
    }

    /// The character of a `\u` escape (after the `u`): one code point, or a
    /// high and a low surrogate; anything else hands the message over.
    fn unicode(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if let Some(c) = char::from_u32(high) {
            return Some(c);
        }
        if !(0xD800..=0xDBFF).contains(&high) {
            return None;
        }
        self.literal(b"\\u")?;
        let low = self.hex4()?;
        if !(0xDC00..=0xDFFF).contains(&low) {
            return None;
        }
        char::from_u32((((high - 0xD800) << 10) | (low - 0xDC00)) + 0x1_0000)
    }

    /// A number in strict JSON grammar; its text.
    fn number(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digit()?;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.digit()?;
            self.digits();
        }
        Some(&self.b[start..self.i])
    }

    fn digit(&mut self) -> Option<()> {
        self.next()?.is_ascii_digit().then_some(())
    }

    fn digits(&mut self) {
        // Eight bytes at a time while all are digits (timestamps and ids
        // are long). A byte b is a digit when neither b - 0x30 nor b + 0x46
        // sets its high bit; a borrow or carry only comes from an earlier
        // byte that is itself no digit, so the first flagged byte is exact.
        const HIGH: u64 = 0x8080_8080_8080_8080;
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let other = (x.wrapping_sub(0x3030_3030_3030_3030)
                | x.wrapping_add(0x4646_4646_4646_4646))
                & HIGH;
            if other != 0 {
                self.i += (other.trailing_zeros() / 8) as usize;
                return;
            }
            self.i += 8;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    /// A declared value of `kind`, read as arrow-json reads it.
    fn value(&mut self, kind: Kind, scratch: &mut Vec<u8>, tz: &Tz) -> Option<Cell> {
        match self.peek()? {
            b'n' => {
                self.literal(b"null")?;
                return Some(Cell::Null);
            }
            b't' if kind == Kind::Bool => {
                self.literal(b"true")?;
                return Some(Cell::Bool(true));
            }
            b'f' if kind == Kind::Bool => {
                self.literal(b"false")?;
                return Some(Cell::Bool(false));
            }
            b'"' if matches!(kind, Kind::Utf8 | Kind::Timestamp) => {
                self.i += 1;
                let start = scratch.len();
                self.string(Some(scratch))?;
                let end = scratch.len();
                if kind == Kind::Utf8 {
                    return Some(Cell::Str(
                        u32::try_from(start).ok()?,
                        u32::try_from(end).ok()?,
                    ));
                }
                let s = simdutf8::basic::from_utf8(&scratch[start..end]).ok()?;
                let t = string_to_datetime(tz, s).ok()?.timestamp_millis();
                scratch.truncate(start);
                return Some(Cell::Int(t));
            }
            b'-' | b'0'..=b'9' => {}
            _ => return None,
        }
        let text = self.number()?;
        match kind {
            // arrow-json reads an integer, else a float cast to an integer;
            // only the integer reading is mirrored here.
            Kind::Int64 | Kind::Timestamp => lexical_core::parse::<i64>(text).ok().map(Cell::Int),
            Kind::Float64 => lexical_core::parse::<f64>(text).ok().map(Cell::Float),
            Kind::Bool | Kind::Utf8 => None,
        }
    }

    /// Skips a value of a field the source does not declare, checking it as
    /// arrow-json would.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.string(None)
            }
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'-' | b'0'..=b'9' => self.number().map(|_| ()),
            c @ (b'{' | b'[') => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                self.i += 1;
                self.ws();
                let close = if c == b'{' { b'}' } else { b']' };
                if self.peek()? == close {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    if c == b'{' {
                        self.eat(b'"')?;
                        self.string(None)?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        d if d == close => return Some(()),
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Parser, quote_or_escape};

    #[test]
    fn quotes_and_escapes_are_found_where_memchr_finds_them() {
        // Every position in strings of every length around the word steps
        // and the hand-over to memchr, among bytes that differ from `"`
        // and `\` only in their high bit, with a second hit after the first.
        let filler = [b'a', 0xa2, 0xdc, 0x80, 0xff, b'"' ^ 1, 0x00];
        for len in 0..80 {
            for f in filler {
                let plain = vec![f; len];
                assert_eq!(quote_or_escape(&plain), None, "len {len}, filler {f:#x}");
                for at in 0..len {
                    for hit in [b'"', b'\\'] {
                        let mut b = plain.clone();
                        b[at] = hit;
                        if at + 3 < len {
                            b[at + 3] = b'"';
                        }
                        assert_eq!(
                            quote_or_escape(&b),
                            memchr::memchr2(b'"', b'\\', &b),
                            "len {len}, filler {f:#x}, at {at}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn digit_runs_end_at_the_first_other_byte() {
        // Runs of every length around the 8-byte steps, ended by every byte
        // value (or by the end), with bytes after the end that must not count.
        for run in 0..20 {
            for end in 0..=256usize {
                let mut b: Vec<u8> = (0..run).map(|i| b'0' + (i % 10) as u8).collect();
                if let Ok(e) = u8::try_from(end) {
                    b.push(e);
                    b.extend_from_slice(b"99999999x");
                }
                let expect = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let mut p = Parser { b: &b, i: 0 };
                p.digits();
                assert_eq!(p.i, expect, "run {run}, then byte {end}");
            }
        }
    }
}
