//! Planning errors, located in the SQL text and then in the job file.

use quiver_types::{Diagnostic, MappedText, Position};
use sqlparser::tokenizer::{Location, Span};

/// A problem in a query, with the span of the offending SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// What is wrong.
    pub message: String,
    /// Where in the SQL text (1-based line/column), when known.
    pub location: Option<Location>,
    /// How to fix it.
    pub help: Option<String>,
}

/// Shorthand for planner results.
pub type PlanResult<T> = Result<T, PlanError>;

impl PlanError {
    /// An error at a span of the SQL (an empty span means "unknown place").
    pub fn at(span: Span, message: impl Into<String>) -> PlanError {
        let location = (span.start.line > 0).then_some(span.start);
        PlanError {
            message: message.into(),
            location,
            help: None,
        }
    }

    /// An error with no position.
    pub fn new(message: impl Into<String>) -> PlanError {
        PlanError {
            message: message.into(),
            location: None,
            help: None,
        }
    }

    /// Adds a hint.
    pub fn help(mut self, help: impl Into<String>) -> PlanError {
        self.help = Some(help.into());
        self
    }

    /// Sets the position if none is known yet.
    pub fn or_at(mut self, span: Span) -> PlanError {
        if self.location.is_none() && span.start.line > 0 {
            self.location = Some(span.start);
        }
        self
    }

    /// Converts to a diagnostic in the job file: SQL positions are mapped
    /// through `sql`; errors without one point at the start of the query.
    pub fn to_diagnostic(&self, sql: &MappedText, sql_pos: Position) -> Diagnostic {
        let pos = self
            .location
            .and_then(|l| sql.position_of(l.line as u32, l.column as u32))
            .unwrap_or(sql_pos);
        let mut d = Diagnostic::at(pos, &self.message);
        d.help = self.help.clone();
        d
    }
}

/// Finds `keyword` (a whole word, any case) in `text`, searching backwards
/// from `before` (or from the end), and returns its location. Used for
/// clauses whose AST node carries no token (ORDER BY, GROUP BY, JOIN kinds).
pub fn find_keyword(text: &str, keyword: &str, before: Option<Location>) -> Option<Location> {
    let limit = match before {
        Some(l) if l.line > 0 => offset_of(text, l).unwrap_or(text.len()),
        _ => text.len(),
    };
    let upper = text[..limit].to_ascii_uppercase();
    let kw = keyword.to_ascii_uppercase();
    let mut end = upper.len();
    while let Some(at) = upper[..end].rfind(&kw) {
        let before_ok = at == 0 || !is_word(upper.as_bytes()[at - 1]);
        let after = at + kw.len();
        let after_ok = after >= upper.len() || !is_word(upper.as_bytes()[after]);
        if before_ok && after_ok {
            return Some(location_of(text, at));
        }
        end = at;
    }
    None
}

/// Like [`find_keyword`] but searching forward from `after`.
pub fn find_keyword_after(text: &str, keyword: &str, after: Location) -> Option<Location> {
    let start = offset_of(text, after)?;
    let upper = text[start..].to_ascii_uppercase();
    let kw = keyword.to_ascii_uppercase();
    let mut from = 0;
    while let Some(rel) = upper[from..].find(&kw) {
        let at = from + rel;
        let before_ok = at == 0 || !is_word(upper.as_bytes()[at - 1]);
        let end = at + kw.len();
        let after_ok = end >= upper.len() || !is_word(upper.as_bytes()[end]);
        if before_ok && after_ok {
            return Some(location_of(text, start + at));
        }
        from = at + kw.len();
    }
    None
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn offset_of(text: &str, loc: Location) -> Option<usize> {
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i + 1 == loc.line as usize {
            let within: usize = line
                .chars()
                .take(loc.column.saturating_sub(1) as usize)
                .map(char::len_utf8)
                .sum();
            return Some(offset + within);
        }
        offset += line.len();
    }
    None
}

fn location_of(text: &str, offset: usize) -> Location {
    let before = &text[..offset];
    let line = before.matches('\n').count() as u64 + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
    Location::new(line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keywords_as_whole_words() {
        let sql = "SELECT a\nFROM t\nORDER BY a";
        assert_eq!(find_keyword(sql, "order", None), Some(Location::new(3, 1)));
        assert_eq!(
            find_keyword(sql, "from", Some(Location::new(3, 1))),
            Some(Location::new(2, 1))
        );
        assert_eq!(find_keyword("SELECT orders FROM t", "order", None), None);
        assert_eq!(
            find_keyword_after(sql, "BY", Location::new(2, 1)),
            Some(Location::new(3, 7))
        );
    }
}
