//! Text derived from a file, with the file position of every character.
//!
//! A job's SQL goes through YAML block-scalar unindenting, `${ENV}`
//! substitution and `[param]` expansion before it is parsed. The SQL parser
//! reports line and column in the expanded text; [`MappedText`] maps them
//! back so the person sees the line of the job file they wrote.

use crate::Position;

/// One run of output characters that starts at a known file position.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    /// Byte offset in the text where the run starts.
    start: usize,
    /// File position of the run's first character.
    origin: Position,
    /// Whether each character of the run maps to the next column in the file
    /// (true for text copied from the file, false for substituted values,
    /// which all map to the place of their placeholder).
    verbatim: bool,
}

/// A string together with where its pieces came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MappedText {
    text: String,
    segments: Vec<Segment>,
}

impl MappedText {
    /// Text with no known origin (errors in it carry no position).
    pub fn unmapped(text: impl Into<String>) -> MappedText {
        MappedText {
            text: text.into(),
            segments: Vec::new(),
        }
    }

    /// Text copied verbatim from one place in a file (a single-line scalar).
    pub fn verbatim(text: impl Into<String>, origin: Position) -> MappedText {
        let mut m = MappedText::default();
        m.push_verbatim(&text.into(), origin);
        m
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Consumes self, returning the text.
    pub fn into_string(self) -> String {
        self.text
    }

    /// Appends text copied from the file starting at `origin`.
    /// Line breaks inside `piece` continue on the next file line at the
    /// same starting column (how YAML block scalars are laid out).
    pub fn push_verbatim(&mut self, piece: &str, origin: Position) {
        let mut pos = origin;
        for (i, line) in piece.split_inclusive('\n').enumerate() {
            if i > 0 {
                pos = Position::new(pos.line + 1, origin.col);
            }
            self.segments.push(Segment {
                start: self.text.len(),
                origin: pos,
                verbatim: true,
            });
            self.text.push_str(line);
        }
    }

    /// Appends text that replaced something at `origin` (a parameter value);
    /// every character of it maps to `origin`.
    pub fn push_substituted(&mut self, piece: &str, origin: Position) {
        self.segments.push(Segment {
            start: self.text.len(),
            origin,
            verbatim: false,
        });
        self.text.push_str(piece);
    }

    /// Appends another mapped text.
    pub fn push_mapped(&mut self, other: &MappedText) {
        let base = self.text.len();
        self.segments.extend(other.segments.iter().map(|s| Segment {
            start: s.start + base,
            ..s.clone()
        }));
        self.text.push_str(&other.text);
    }

    /// Iterates over `(byte range, origin, verbatim)` of each segment, so a
    /// transformation can rebuild a mapped text piece by piece.
    pub fn pieces(&self) -> impl Iterator<Item = (&str, Position, bool)> {
        self.segments.iter().enumerate().map(move |(i, s)| {
            let end = self
                .segments
                .get(i + 1)
                .map_or(self.text.len(), |n| n.start);
            (&self.text[s.start..end], s.origin, s.verbatim)
        })
    }

    /// File position of the character at byte `offset` of the text.
    pub fn position_of_offset(&self, offset: usize) -> Option<Position> {
        let idx = match self.segments.binary_search_by(|s| s.start.cmp(&offset)) {
            Ok(i) => i,
            Err(0) => return None,
            Err(i) => i - 1,
        };
        let seg = &self.segments[idx];
        if !seg.verbatim {
            return Some(seg.origin);
        }
        let end = offset.min(self.text.len());
        let chars = self
            .text
            .get(seg.start..end)
            .map_or(0, |s| s.chars().count());
        Some(Position::new(
            seg.origin.line,
            seg.origin.col + chars as u32,
        ))
    }

    /// File position of a 1-based line and column (in characters) of the text,
    /// as reported by a parser of the text.
    pub fn position_of(&self, line: u32, col: u32) -> Option<Position> {
        let mut offset = 0usize;
        for (i, l) in self.text.split_inclusive('\n').enumerate() {
            if i + 1 == line as usize {
                let within: usize = l
                    .chars()
                    .take(col.saturating_sub(1) as usize)
                    .map(char::len_utf8)
                    .sum();
                return self.position_of_offset(offset + within);
            }
            offset += l.len();
        }
        self.position_of_offset(self.text.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_block_scalar_lines_back_to_file() {
        // sql: |
        //   SELECT a
        //   FROM t
        let m = MappedText::verbatim("SELECT a\nFROM t\n", Position::new(5, 3));
        assert_eq!(m.position_of(1, 1), Some(Position::new(5, 3)));
        assert_eq!(m.position_of(2, 6), Some(Position::new(6, 8)));
    }

    #[test]
    fn substituted_values_point_at_their_placeholder() {
        let mut m = MappedText::default();
        m.push_verbatim("INTERVAL '", Position::new(2, 3));
        m.push_substituted("10", Position::new(2, 13));
        m.push_verbatim("' MINUTE", Position::new(2, 19));
        assert_eq!(m.as_str(), "INTERVAL '10' MINUTE");
        assert_eq!(m.position_of(1, 12), Some(Position::new(2, 13)));
        assert_eq!(m.position_of(1, 15), Some(Position::new(2, 21)));
    }
}
