//! The LVM2 text metadata format, as lvm.conf(5) and the lvm2 on-disk format description
//! define it: `name = value` assignments, `name { … }` sections, values that are integers,
//! floats, strings in double (or single) quotes with backslash escapes, or arrays `[ v, v ]`
//! of those; `#` starts a comment that runs to the end of the line; whitespace (newlines
//! included) separates tokens and is otherwise insignificant.
//!
//! The parser is written for hostile input: the text is capped by the caller, sections nest
//! at most [`MAX_DEPTH`] deep and a document holds at most [`MAX_NODES`] values, so neither
//! the stack nor the heap grows with what the bytes claim.

use std::fmt;

/// Deepest nesting of sections accepted (VG metadata uses 4: VG, logical_volumes, LV, segment).
pub const MAX_DEPTH: usize = 16;
/// Most assignments, sections and array items in one document.
pub const MAX_NODES: usize = 200_000;

/// A value on the right of `=`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
}

/// What a name stands for in a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Value(Value),
    Section(Section),
}

/// The entries of a section (or of the whole document), in text order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Section {
    pub entries: Vec<(String, Item)>,
}

impl Section {
    /// The first entry named `name`.
    pub fn get(&self, name: &str) -> Option<&Item> {
        self.entries.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        match self.get(name)? {
            Item::Section(s) => Some(s),
            Item::Value(_) => None,
        }
    }

    pub fn value(&self, name: &str) -> Option<&Value> {
        match self.get(name)? {
            Item::Value(v) => Some(v),
            Item::Section(_) => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.value(name)? {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// A non-negative integer.
    pub fn uint(&self, name: &str) -> Option<u64> {
        self.int(name).and_then(|i| u64::try_from(i).ok())
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        match self.value(name)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn array(&self, name: &str) -> Option<&[Value]> {
        match self.value(name)? {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The strings of an array (other items skipped); empty when absent.
    pub fn strings(&self, name: &str) -> Vec<&str> {
        self.array(name)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The subsections, in order.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.entries.iter().filter_map(|(k, v)| match v {
            Item::Section(s) => Some((k.as_str(), s)),
            Item::Value(_) => None,
        })
    }
}

/// Why a text could not be parsed, and where (byte offset in the text, line from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (line {}, byte {} of the metadata text)",
            self.message, self.line, self.offset
        )
    }
}

impl std::error::Error for ParseError {}

/// Parse a whole document: the top level is a section without braces. NUL bytes end the text
/// (the on-disk copy is NUL-terminated).
pub fn parse(text: &[u8]) -> Result<Section, ParseError> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let mut p = Parser {
        b: &text[..end],
        pos: 0,
        nodes: 0,
    };
    let doc = p.section_body(0)?;
    p.skip_space();
    if p.pos < p.b.len() {
        return Err(p.error("unexpected `}` at the top level"));
    }
    Ok(doc)
}

struct Parser<'a> {
    b: &'a [u8],
    pos: usize,
    nodes: usize,
}

/// Whitespace as C's isspace() knows it (vertical tab included).
fn is_space(c: u8) -> bool {
    c.is_ascii_whitespace() || c == 0x0b
}

/// Bytes that end a bare word (a name or a number).
fn is_delimiter(c: u8) -> bool {
    is_space(c)
        || matches!(
            c,
            b'{' | b'}' | b'[' | b']' | b'=' | b',' | b'"' | b'\'' | b'#'
        )
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> ParseError {
        let at = self.pos.min(self.b.len());
        ParseError {
            offset: at,
            line: 1 + self.b[..at].iter().filter(|&&c| c == b'\n').count(),
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn count_node(&mut self) -> Result<(), ParseError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.error(format!("more than {MAX_NODES} values")));
        }
        Ok(())
    }

    /// Whitespace and comments.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if is_space(c) {
                self.pos += 1;
            } else if c == b'#' {
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    if c == b'\n' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
    }

    fn word(&mut self) -> &[u8] {
        let start = self.pos;
        while self.peek().is_some_and(|c| !is_delimiter(c)) {
            self.pos += 1;
        }
        &self.b[start..self.pos]
    }

    /// Entries until `}` (left unconsumed) or the end of the text.
    fn section_body(&mut self, depth: usize) -> Result<Section, ParseError> {
        let mut section = Section::default();
        loop {
            self.skip_space();
            match self.peek() {
                None | Some(b'}') => return Ok(section),
                _ => {}
            }
            let name_at = self.pos;
            let name = match self.peek() {
                // A quoted name (not written by LVM, but harmless).
                Some(q @ (b'"' | b'\'')) => self.string(q)?,
                _ => String::from_utf8_lossy(self.word()).into_owned(),
            };
            if name.is_empty() {
                return Err(self.error(format!(
                    "expected a name, found `{}`",
                    char::from(self.peek().unwrap_or(b'?'))
                )));
            }
            self.count_node()?;
            self.skip_space();
            match self.peek() {
                Some(b'=') => {
                    self.pos += 1;
                    self.skip_space();
                    let v = self.value(depth)?;
                    section.entries.push((name, Item::Value(v)));
                }
                Some(b'{') => {
                    if depth + 1 > MAX_DEPTH {
                        return Err(
                            self.error(format!("sections nested more than {MAX_DEPTH} deep"))
                        );
                    }
                    self.pos += 1;
                    let inner = self.section_body(depth + 1)?;
                    if self.peek() != Some(b'}') {
                        self.pos = name_at;
                        return Err(self.error(format!("section `{name}` is not closed")));
                    }
                    self.pos += 1;
                    section.entries.push((name, Item::Section(inner)));
                }
                _ => {
                    return Err(self.error(format!("expected `=` or `{{` after `{name}`")));
                }
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        match self.peek() {
            Some(b'[') => {
                if depth + 1 > MAX_DEPTH {
                    return Err(self.error(format!("arrays nested more than {MAX_DEPTH} deep")));
                }
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        Some(b',') => {
                            // Separators; a missing or doubled comma is tolerated.
                            self.pos += 1;
                        }
                        None => return Err(self.error("array not closed before the end")),
                        _ => {
                            self.count_node()?;
                            items.push(self.value(depth + 1)?);
                        }
                    }
                }
            }
            Some(q @ (b'"' | b'\'')) => Ok(Value::Str(self.string(q)?)),
            Some(_) => {
                let at = self.pos;
                let w = self.word();
                if w.is_empty() {
                    return Err(self.error("expected a value"));
                }
                let s = String::from_utf8_lossy(w).into_owned();
                number(&s).ok_or_else(|| {
                    self.pos = at;
                    self.error(format!("`{s}` is not a number, a string or an array"))
                })
            }
            None => Err(self.error("expected a value, found the end of the text")),
        }
    }

    /// A quoted string; a backslash takes the next byte literally.
    fn string(&mut self, quote: u8) -> Result<String, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err(self.error("string not closed before the end"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) => {
                            out.push(c);
                            self.pos += 1;
                        }
                        None => {
                            self.pos = start;
                            return Err(self.error("string not closed before the end"));
                        }
                    }
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(String::from_utf8_lossy(&out).into_owned());
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

/// A decimal integer (optionally signed), or a float.
fn number(s: &str) -> Option<Value> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() {
        return None;
    }
    if digits.bytes().all(|c| c.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(Value::Int);
    }
    if digits.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        && digits.bytes().filter(|&c| c == b'.').count() == 1
    {
        return s.parse::<f64>().ok().map(Value::Float);
    }
    None
}
