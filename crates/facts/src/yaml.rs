//! A YAML reader for the subset real configuration files use: cloud-init's `cloud.cfg` and
//! cloud-config, netplan, and the like.
//!
//! DESIGN.md asks for configuration parsers written here; this one follows PyYAML (what
//! cloud-init itself loads its files with, through `yaml.safe_load`) wherever the two could
//! differ, so that a value we read is the value cloud-init sees:
//! - block mappings and sequences by indentation, compact `- key: v` maps, a sequence at the
//!   same indentation as its mapping key;
//! - flow sequences and mappings (`[a, b]`, `{a: 1}`, `[k: v]` single pairs), spanning lines;
//! - plain, single-quoted (`''`) and double-quoted scalars (all YAML escapes), folded over lines;
//! - literal `|` and folded `>` block scalars with chomping (`-`, `+`) and indentation
//!   indicators, ported from PyYAML's `scan_block_scalar`;
//! - comments, directives, `---`/`...` markers: the first document is the result, further
//!   documents are reported (PyYAML's `safe_load` refuses a stream of several);
//! - anchors and aliases (resolved by copy, bounded by [`MAX_ALIAS_NODES`]), the merge key `<<`
//!   (PyYAML's `flatten_mapping`: own keys win, then earlier merged maps), duplicate keys (the
//!   last value wins, in the first key's place, as a Python dict);
//! - tags are skipped, except `!!str`, which makes a scalar a string.
//!
//! Scalars keep their text and whether they were quoted; [`Scalar::kind`] resolves them with
//! PyYAML's YAML 1.1 implicit resolvers (`yes`/`on` booleans, `0755` octal, `1:30`
//! sexagesimal, `~` null), and callers can apply their own reading instead.
//!
//! Hostile input: at most [`MAX_INPUT`] bytes, [`MAX_DEPTH`] levels of nesting (also through
//! aliases), [`MAX_ALIAS_NODES`] nodes copied by aliases; no recursion deeper than that, and
//! every error says the 1-based line.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use std::collections::BTreeMap;

/// Largest document accepted.
pub const MAX_INPUT: usize = 1 << 20;
/// Deepest nesting of collections (a real configuration stays under 10).
pub const MAX_DEPTH: usize = 64;
/// Most nodes that aliases may copy in one document (the "billion laughs" bound).
pub const MAX_ALIAS_NODES: usize = 10_000;
/// Most anchors kept in one document.
const MAX_ANCHORS: usize = 4096;

/// A node and the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An empty node, or a plain `null`, `Null`, `NULL`, `~`.
    Null,
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in document order, duplicate keys already folded (see the module comment).
    Map(Vec<(Node, Node)>),
}

/// A scalar's text after quoting, escapes and folding are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub text: String,
    /// Quoted (or tagged `!!str`): always a string, never a number or boolean.
    pub quoted: bool,
}

/// A scalar's type as PyYAML's `safe_load` resolves it (YAML 1.1 implicit resolvers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Also integers too large for i64 and timestamps (PyYAML makes a `datetime`).
    Str,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line.
    pub line: u32,
    pub message: String,
}

impl std::fmt::Display for YamlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for YamlError {}

/// The first document of a stream and what else the stream held.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub root: Node,
    /// Lines of the `---` markers that start further documents (not parsed).
    pub more_documents: Vec<u32>,
}

impl Scalar {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// PyYAML's YAML 1.1 resolution of this scalar.
    pub fn kind(&self) -> Kind {
        if self.quoted {
            return Kind::Str;
        }
        resolve_plain(&self.text)
    }

    /// The YAML 1.1 boolean words cloud-init accepts (`true`/`false`, `yes`/`no`, `on`/`off`),
    /// in any case, when unquoted. PyYAML itself only knows the lower, Capitalised and UPPER
    /// spellings: use [`Scalar::kind`] for its reading.
    pub fn as_bool(&self) -> Option<bool> {
        if self.quoted {
            return None;
        }
        match self.text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            _ => None,
        }
    }

    /// An unquoted integer as PyYAML reads it (decimal, `0x`, `0b`, `0` octal, `1:30`).
    pub fn as_i64(&self) -> Option<i64> {
        match self.kind() {
            Kind::Int(i) => Some(i),
            _ => None,
        }
    }
}

impl Node {
    fn new(value: Value, line: u32) -> Self {
        Node { value, line }
    }

    /// The value of `key` in a mapping (keys compared as text).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
            .map(|(_, v)| v)
    }

    /// The entry (key node, value node) of `key`, for the key's line.
    pub fn get_entry(&self, key: &str) -> Option<&(Node, Node)> {
        self.entries()
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|s| s.text == key))
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar's text, whatever its type.
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.text.as_str())
    }

    pub fn as_bool(&self) -> Option<bool> {
        self.as_scalar().and_then(Scalar::as_bool)
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_scalar().and_then(Scalar::as_i64)
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(v) => Some(v),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(v) => Some(v),
            _ => None,
        }
    }

    /// A mapping's entries; empty for anything else.
    pub fn entries(&self) -> &[(Node, Node)] {
        self.as_map().unwrap_or(&[])
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// PyYAML's type of a scalar (`Null` for null nodes), `None` for collections.
    pub fn kind(&self) -> Option<Kind> {
        match &self.value {
            Value::Null => Some(Kind::Null),
            Value::Scalar(s) => Some(s.kind()),
            _ => None,
        }
    }

    /// The node as Python's `json.dumps(yaml.safe_load(...), sort_keys=True)` prints it
    /// (keys sorted, non-ASCII escaped), to compare with PyYAML. Keys that are not strings
    /// become strings as `json.dumps` does (`true`, `null`, `1`).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        json_node(self, &mut out);
        out
    }

    fn count(&self) -> usize {
        match &self.value {
            Value::Null | Value::Scalar(_) => 1,
            Value::Seq(v) => v.iter().fold(1usize, |n, x| n.saturating_add(x.count())),
            Value::Map(v) => v.iter().fold(1usize, |n, (k, x)| {
                n.saturating_add(k.count()).saturating_add(x.count())
            }),
        }
    }

    fn depth(&self) -> usize {
        match &self.value {
            Value::Null | Value::Scalar(_) => 0,
            Value::Seq(v) => 1 + v.iter().map(Node::depth).max().unwrap_or(0),
            Value::Map(v) => {
                1 + v
                    .iter()
                    .map(|(k, x)| k.depth().max(x.depth()))
                    .max()
                    .unwrap_or(0)
            }
        }
    }
}

/// Serialized as the typed value PyYAML would produce (null, bool, int, float, string, list,
/// map with string keys).
impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.value {
            Value::Null => s.serialize_unit(),
            Value::Scalar(sc) => match sc.kind() {
                Kind::Null => s.serialize_unit(),
                Kind::Bool(b) => s.serialize_bool(b),
                Kind::Int(i) => s.serialize_i64(i),
                Kind::Float(f) => s.serialize_f64(f),
                Kind::Str => s.serialize_str(&sc.text),
            },
            Value::Seq(v) => {
                let mut seq = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Value::Map(v) => {
                let mut map = s.serialize_map(Some(v.len()))?;
                for (k, x) in v {
                    map.serialize_entry(&key_text(k), x)?;
                }
                map.end()
            }
        }
    }
}

/// A key as JSON needs it: a string.
fn key_text(k: &Node) -> String {
    match &k.value {
        Value::Null => "null".into(),
        Value::Scalar(s) => match s.kind() {
            Kind::Null => "null".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => py_float(f),
            Kind::Str => s.text.clone(),
        },
        _ => k.to_json(),
    }
}

fn json_node(n: &Node, out: &mut String) {
    match &n.value {
        Value::Null => out.push_str("null"),
        Value::Scalar(s) => match s.kind() {
            Kind::Null => out.push_str("null"),
            Kind::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Kind::Int(i) => out.push_str(&i.to_string()),
            Kind::Float(f) => out.push_str(&py_float(f)),
            Kind::Str => json_str(&s.text, out),
        },
        Value::Seq(v) => {
            out.push('[');
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_node(x, out);
            }
            out.push(']');
        }
        Value::Map(v) => {
            let mut sorted: Vec<(String, &Node)> =
                v.iter().map(|(k, x)| (key_text(k), x)).collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, x)) in sorted.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                json_str(k, out);
                out.push_str(": ");
                json_node(x, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr` of a float, as `json.dumps` writes it.
fn py_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        }
    } else if f == f.trunc() && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// A JSON string as Python's `json.dumps` writes it (`ensure_ascii`).
fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// PyYAML's implicit resolvers (resolver.py) for a plain scalar.
fn resolve_plain(t: &str) -> Kind {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Kind::Bool(true);
        }
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Kind::Bool(false);
        }
        _ => {}
    }
    if let Some(k) = resolve_int(t) {
        return k;
    }
    if let Some(f) = resolve_float(t) {
        return Kind::Float(f);
    }
    Kind::Str
}

fn split_sign(t: &str) -> (bool, &str) {
    if let Some(r) = t.strip_prefix('-') {
        (true, r)
    } else {
        (false, t.strip_prefix('+').unwrap_or(t))
    }
}

/// `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+ |
/// [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`. `Some(Str)` for an integer beyond i64.
fn resolve_int(t: &str) -> Option<Kind> {
    let (neg, body) = split_sign(t);
    let parse = |digits: &str, radix: u32| -> Option<Kind> {
        let clean: String = digits.chars().filter(|&c| c != '_').collect();
        if clean.is_empty() {
            // PyYAML's regex matches "0b_" but int() then fails: it raises. Treat as text.
            return Some(Kind::Str);
        }
        let v = i128::from_str_radix(&clean, radix).ok()?;
        let v = if neg { -v } else { v };
        Some(i64::try_from(v).map(Kind::Int).unwrap_or(Kind::Str))
    };
    if let Some(d) = body.strip_prefix("0b") {
        if !d.is_empty() && d.chars().all(|c| matches!(c, '0' | '1' | '_')) {
            return parse(d, 2);
        }
        return None;
    }
    if let Some(d) = body.strip_prefix("0x") {
        if !d.is_empty() && d.chars().all(|c| c.is_ascii_hexdigit() || c == '_') {
            return parse(d, 16);
        }
        return None;
    }
    if body == "0" {
        return Some(Kind::Int(0));
    }
    if let Some(d) = body.strip_prefix('0') {
        if !d.is_empty() && d.chars().all(|c| matches!(c, '0'..='7' | '_')) {
            return parse(d, 8);
        }
        return None;
    }
    let first = body.chars().next()?;
    if !matches!(first, '1'..='9') {
        return None;
    }
    if body.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return parse(body, 10);
    }
    // Sexagesimal: 1:30 is 90.
    let mut parts = body.split(':');
    let head = parts.next()?;
    if !head.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let mut rest = Vec::new();
    for p in parts {
        let ok = (1..=2).contains(&p.len())
            && p.chars().all(|c| c.is_ascii_digit())
            && (p.len() == 1 || p.as_bytes()[0] <= b'5');
        if !ok {
            return None;
        }
        rest.push(p);
    }
    if rest.is_empty() {
        return None;
    }
    let clean: String = head.chars().filter(|&c| c != '_').collect();
    let mut v: i128 = clean.parse().ok()?;
    for p in rest {
        let d: i128 = p.parse().ok()?;
        v = v.checked_mul(60)?.checked_add(d)?;
    }
    let v = if neg { -v } else { v };
    Some(i64::try_from(v).map(Kind::Int).unwrap_or(Kind::Str))
}

/// PyYAML's float regex (YAML 1.1: a dot is required; `1e3` is a string).
fn resolve_float(t: &str) -> Option<f64> {
    let (neg, body) = split_sign(t);
    let sign = if neg { -1.0 } else { 1.0 };
    match body {
        ".inf" | ".Inf" | ".INF" => return Some(sign * f64::INFINITY),
        ".nan" | ".NaN" | ".NAN" if t == body => return Some(f64::NAN),
        _ => {}
    }
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(e) = exp {
        let digits = e.strip_prefix(['-', '+'])?;
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    let dot = mantissa.find('.')?;
    let (int_part, frac) = (&mantissa[..dot], &mantissa[dot + 1..]);
    if !frac.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    if int_part.is_empty() {
        // `\.[0-9_]+`, unsigned in PyYAML's regex.
        if neg || t != body || frac.is_empty() {
            return None;
        }
    } else if int_part.contains(':') {
        if exp.is_some() {
            return None;
        }
        let mut parts = int_part.split(':');
        let head = parts.next()?;
        if !head.starts_with(|c: char| c.is_ascii_digit())
            || !head.chars().all(|c| c.is_ascii_digit() || c == '_')
        {
            return None;
        }
        let mut v: f64 = head.replace('_', "").parse().ok()?;
        for p in parts {
            let ok = (1..=2).contains(&p.len())
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || p.as_bytes()[0] <= b'5');
            if !ok {
                return None;
            }
            v = v * 60.0 + p.parse::<f64>().ok()?;
        }
        let f: f64 = format!("0.{}", frac.replace('_', ""))
            .parse()
            .unwrap_or(0.0);
        return Some(sign * (v + f));
    } else if !int_part.starts_with(|c: char| c.is_ascii_digit())
        || !int_part.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let clean = format!(
        "{}.{}{}",
        if int_part.is_empty() { "0" } else { int_part },
        frac,
        exp.map(|e| format!("e{e}")).unwrap_or_default()
    )
    .replace('_', "");
    let v: f64 = clean.parse().ok()?;
    Some(sign * v)
}

/// Parse the first document of `text`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    parse_document(text).map(|d| d.root)
}

/// Parse the first document of `text` and note where further documents start.
pub fn parse_document(text: &str) -> Result<Document, YamlError> {
    if text.len() > MAX_INPUT {
        return Err(YamlError {
            line: 1,
            message: format!("{} bytes, more than the {MAX_INPUT} accepted", text.len()),
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // PyYAML's reader refuses non-printable characters; so do we, which also keeps NUL (our
    // end-of-input sentinel) out of the parser.
    if let Some(i) = text.find(|c: char| !printable(c)) {
        let line = text[..i].bytes().filter(|&b| b == b'\n').count();
        let c = text[i..].chars().next().unwrap_or('\0');
        return Err(YamlError {
            line: u32::try_from(line)
                .unwrap_or(u32::MAX - 1)
                .saturating_add(1),
            message: format!("special character U+{:04X} is not allowed", c as u32),
        });
    }
    // Line breaks as PyYAML reads them: CR LF and lone CR are one break each.
    let norm: String = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text.to_string()
    };
    let mut p = Parser::new(&norm);
    p.stream()
}

type R<T> = Result<T, YamlError>;

/// YAML's printable set (PyYAML `Reader.NON_PRINTABLE`, inverted).
fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || c >= '\u{10000}'
}

struct Parser<'a> {
    t: &'a str,
    s: &'a [u8],
    pos: usize,
    line_starts: Vec<usize>,
    depth: usize,
    anchors: BTreeMap<String, (Node, usize, usize)>,
    alias_nodes: usize,
}

/// Where a block node stands, which decides what may start there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// The document's root or a `- ` item: a block collection may start on this line.
    Block,
    /// After `key:` on the same line: only a scalar, a flow collection or a block scalar.
    Value,
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn is_blank_or_end(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\n' || c == 0
}

fn is_flow_ind(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

impl<'a> Parser<'a> {
    fn new(t: &'a str) -> Self {
        let s = t.as_bytes();
        let mut line_starts = vec![0];
        line_starts.extend(
            s.iter()
                .enumerate()
                .filter(|&(_, &c)| c == b'\n')
                .map(|(i, _)| i + 1),
        );
        Parser {
            t,
            s,
            pos: 0,
            line_starts,
            depth: 0,
            anchors: BTreeMap::new(),
            alias_nodes: 0,
        }
    }

    fn peek(&self, k: usize) -> u8 {
        self.s.get(self.pos.saturating_add(k)).copied().unwrap_or(0)
    }

    fn eof(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn line_index(&self, pos: usize) -> usize {
        self.line_starts
            .partition_point(|&st| st <= pos)
            .saturating_sub(1)
    }

    fn line_at(&self, pos: usize) -> u32 {
        u32::try_from(self.line_index(pos))
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1)
    }

    fn line(&self) -> u32 {
        self.line_at(self.pos)
    }

    fn line_start(&self, pos: usize) -> usize {
        self.line_starts
            .get(self.line_index(pos))
            .copied()
            .unwrap_or(0)
    }

    fn col(&self) -> usize {
        self.pos - self.line_start(self.pos)
    }

    fn err<T>(&self, line: u32, message: impl Into<String>) -> R<T> {
        Err(YamlError {
            line,
            message: message.into(),
        })
    }

    fn slice(&self, a: usize, b: usize) -> String {
        match self.t.get(a..b) {
            Some(s) => s.to_string(),
            None => String::from_utf8_lossy(self.s.get(a..b).unwrap_or(&[])).into_owned(),
        }
    }

    fn skip_inline_ws(&mut self) {
        while is_ws(self.peek(0)) {
            self.pos += 1;
        }
    }

    /// After inline whitespace: nothing but a comment before the end of the line.
    fn rest_is_empty(&mut self) -> bool {
        self.skip_inline_ws();
        matches!(self.peek(0), b'\n' | 0 | b'#')
    }

    fn skip_to_eol(&mut self) {
        while !matches!(self.peek(0), b'\n' | 0) {
            self.pos += 1;
        }
    }

    /// End the current line: only whitespace and a comment may remain.
    fn finish_line(&mut self) -> R<()> {
        self.skip_inline_ws();
        match self.peek(0) {
            b'#' if self.pos == self.line_start(self.pos) || is_ws(self.s[self.pos - 1]) => {
                self.skip_to_eol()
            }
            b'\n' | 0 => {}
            _ => {
                return self.err(
                    self.line(),
                    format!("unexpected text after a value: {:?}", self.line_excerpt()),
                );
            }
        }
        if self.peek(0) == b'\n' {
            self.pos += 1;
        }
        Ok(())
    }

    fn line_excerpt(&self) -> String {
        let end = self.s[self.pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(self.s.len(), |i| self.pos + i);
        let mut e = self.slice(self.pos, end);
        if e.len() > 40 {
            let mut cut = 40;
            while !e.is_char_boundary(cut) {
                cut -= 1;
            }
            e.truncate(cut);
            e.push('…');
        }
        e
    }

    /// From a line start, skip blank and comment lines. Returns the indentation of the next
    /// content line with `pos` at that line's start, or `None` at the end.
    fn next_content_line(&mut self) -> R<Option<usize>> {
        if self.pos != self.line_start(self.pos) && !self.eof() {
            self.finish_line()?;
        }
        loop {
            if self.eof() {
                return Ok(None);
            }
            let start = self.pos;
            let mut i = start;
            while self.s.get(i) == Some(&b' ') {
                i += 1;
            }
            match self.s.get(i).copied().unwrap_or(0) {
                b'\t' => {
                    return self.err(
                        self.line_at(i),
                        "tab character in indentation (YAML allows only spaces)",
                    );
                }
                b'#' | b'\n' => {
                    self.pos = i;
                    self.skip_to_eol();
                    if self.peek(0) == b'\n' {
                        self.pos += 1;
                    }
                }
                0 => {
                    self.pos = i;
                    return Ok(None);
                }
                _ => return Ok(Some(i - start)),
            }
        }
    }

    /// `---` or `...` at the start of the line at `pos`, followed by a blank.
    fn doc_marker_at(&self, pos: usize) -> Option<u8> {
        if pos != self.line_start(pos) {
            return None;
        }
        let m = self.s.get(pos..pos + 3)?;
        let after = self.s.get(pos + 3).copied().unwrap_or(0);
        if (m == b"---" || m == b"...") && is_blank_or_end(after) {
            Some(m[0])
        } else {
            None
        }
    }

    fn stream(&mut self) -> R<Document> {
        // Directives and blank lines before the document.
        let mut explicit_line = None;
        loop {
            match self.next_content_line()? {
                None => break,
                Some(0) if self.peek(0) == b'%' => {
                    self.skip_to_eol();
                    if self.peek(0) == b'\n' {
                        self.pos += 1;
                    }
                }
                Some(_) => break,
            }
        }
        let root = if self.eof() {
            Node::new(Value::Null, self.line())
        } else if self.doc_marker_at(self.pos) == Some(b'-') {
            explicit_line = Some(self.line());
            self.pos += 3;
            if self.rest_is_empty() {
                let line = self.line();
                self.finish_line()?;
                self.node_below(-1, false, line)?
            } else {
                self.node_here(-1, Ctx::Value)?
            }
        } else if self.doc_marker_at(self.pos) == Some(b'.') {
            Node::new(Value::Null, self.line())
        } else {
            let indent = self.col_of_line_content();
            self.pos += indent;
            self.node_here(-1, Ctx::Block)?
        };
        let _ = explicit_line;
        let mut more = Vec::new();
        match self.next_content_line()? {
            None => {}
            Some(i) => {
                let at = self.pos + i;
                match self.doc_marker_at(self.pos) {
                    Some(b'.') => {
                        self.pos += 3;
                        self.finish_line()?;
                        self.collect_more_documents(&mut more)?;
                    }
                    Some(_) => self.collect_more_documents(&mut more)?,
                    None => {
                        self.pos = at;
                        return self.err(
                            self.line(),
                            format!(
                                "unexpected content at indentation {i} (bad indentation?): {:?}",
                                self.line_excerpt()
                            ),
                        );
                    }
                }
            }
        }
        Ok(Document {
            root,
            more_documents: more,
        })
    }

    fn col_of_line_content(&self) -> usize {
        let mut i = self.pos;
        while self.s.get(i) == Some(&b' ') {
            i += 1;
        }
        i - self.pos
    }

    /// After the first document: note every further `---`; other content outside a
    /// document is what PyYAML also reports as further documents.
    fn collect_more_documents(&mut self, more: &mut Vec<u32>) -> R<()> {
        let mut seen_content = false;
        let mut li = self.line_index(self.pos);
        while let Some(&st) = self.line_starts.get(li) {
            if st >= self.s.len() {
                break;
            }
            if self.doc_marker_at(st) == Some(b'-') {
                more.push(self.line_at(st));
                seen_content = false;
            } else if self.doc_marker_at(st) == Some(b'.') {
                seen_content = true;
            } else if !seen_content && more.is_empty() {
                let l = &self.s[st..];
                let first = l.iter().position(|&c| c != b' ' && c != b'\t');
                if let Some(f) = first
                    && !matches!(l[f], b'\n' | b'#' | b'%')
                {
                    more.push(self.line_at(st));
                    seen_content = true;
                }
            }
            li += 1;
        }
        self.pos = self.s.len();
        Ok(())
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(
                self.line(),
                format!("nesting deeper than {MAX_DEPTH} levels"),
            );
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// A node whose content starts on a later line (after `key:`, `- `, `---` or properties
    /// alone on their line). `pos` is at a line start. An absent node is null at `line`.
    fn node_below(&mut self, parent: i64, seq_same: bool, line: u32) -> R<Node> {
        let Some(indent) = self.next_content_line()? else {
            return Ok(Node::new(Value::Null, line));
        };
        if self.doc_marker_at(self.pos).is_some() {
            return Ok(Node::new(Value::Null, line));
        }
        let content = self.pos + indent;
        let i = indent as i64;
        if i > parent {
            self.pos = content;
            self.node_here(parent, Ctx::Block)
        } else if i == parent && seq_same && self.is_seq_entry(content) {
            self.pos = content;
            self.block_seq(indent)
        } else {
            Ok(Node::new(Value::Null, line))
        }
    }

    fn is_seq_entry(&self, at: usize) -> bool {
        self.s.get(at) == Some(&b'-') && is_blank_or_end(self.s.get(at + 1).copied().unwrap_or(0))
    }

    /// Anchor and tag before a node. Returns (anchor, forced string).
    fn properties(&mut self) -> R<(Option<String>, bool)> {
        let mut anchor = None;
        let mut force_str = false;
        for _ in 0..2 {
            match self.peek(0) {
                b'&' if anchor.is_none() => {
                    let line = self.line();
                    self.pos += 1;
                    let name = self.name();
                    if name.is_empty() {
                        return self.err(line, "anchor without a name");
                    }
                    anchor = Some(name);
                }
                b'!' => {
                    let start = self.pos;
                    while !is_blank_or_end(self.peek(0)) && !is_flow_ind(self.peek(0)) {
                        self.pos += 1;
                    }
                    if &self.s[start..self.pos] == b"!!str" {
                        force_str = true;
                    }
                }
                _ => break,
            }
            self.skip_inline_ws();
        }
        Ok((anchor, force_str))
    }

    fn name(&mut self) -> String {
        let start = self.pos;
        while !is_blank_or_end(self.peek(0)) && !is_flow_ind(self.peek(0)) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    fn alias(&mut self) -> R<Node> {
        let line = self.line();
        self.pos += 1;
        let name = self.name();
        let Some((node, size, depth)) = self.anchors.get(&name) else {
            return self.err(line, format!("alias *{name} refers to no anchor before it"));
        };
        if self.depth.saturating_add(*depth) > MAX_DEPTH {
            return self.err(
                line,
                format!("alias *{name}: nesting deeper than {MAX_DEPTH} levels"),
            );
        }
        self.alias_nodes = self.alias_nodes.saturating_add(*size);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return self.err(
                line,
                format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
            );
        }
        let mut n = node.clone();
        n.line = line;
        Ok(n)
    }

    fn set_anchor(&mut self, anchor: Option<String>, node: &Node) -> R<()> {
        if let Some(a) = anchor {
            if self.anchors.len() >= MAX_ANCHORS && !self.anchors.contains_key(&a) {
                return self.err(node.line, format!("more than {MAX_ANCHORS} anchors"));
            }
            self.anchors
                .insert(a, (node.clone(), node.count(), node.depth()));
        }
        Ok(())
    }

    fn apply_props(&mut self, mut node: Node, anchor: Option<String>, force_str: bool) -> R<Node> {
        if force_str {
            match &mut node.value {
                Value::Scalar(s) => s.quoted = true,
                Value::Null => {
                    node.value = Value::Scalar(Scalar {
                        text: String::new(),
                        quoted: true,
                    })
                }
                _ => {}
            }
        }
        self.set_anchor(anchor, &node)?;
        Ok(node)
    }

    /// A block node whose content starts at `pos` (not a blank). `parent` is the indentation
    /// of the enclosing collection (-1 for the root). Returns with `pos` at a line start.
    fn node_here(&mut self, parent: i64, ctx: Ctx) -> R<Node> {
        self.enter()?;
        let r = self.node_here_inner(parent, ctx);
        self.leave();
        r
    }

    fn node_here_inner(&mut self, parent: i64, ctx: Ctx) -> R<Node> {
        let line = self.line();
        let col = self.col();
        let (anchor, force_str) = self.properties()?;
        if (anchor.is_some() || force_str) && self.rest_is_empty() {
            self.finish_line()?;
            let n = self.node_below(parent, ctx == Ctx::Value, line)?;
            return self.apply_props(n, anchor, force_str);
        }
        let c = self.peek(0);
        let n1 = self.peek(1);
        // A scalar that may turn out to be the first key of a block mapping.
        let (scalar, scalar_end) = match c {
            b'-' if is_blank_or_end(n1) => {
                if ctx != Ctx::Block {
                    return self.err(line, "a block sequence may not start on the line of a key");
                }
                let n = self.block_seq(self.col())?;
                return self.apply_props(n, anchor, force_str);
            }
            b'|' | b'>' => {
                let n = self.block_scalar(parent)?;
                return self.apply_props(n, anchor, force_str);
            }
            b'[' | b'{' => {
                let n = self.flow_node()?;
                self.skip_inline_ws();
                if self.peek(0) == b':' {
                    return self.err(line, "a flow collection as a mapping key is not supported");
                }
                self.finish_line()?;
                return self.apply_props(n, anchor, force_str);
            }
            b'?' if is_blank_or_end(n1) => {
                return self.err(line, "explicit mapping keys (`? `) are not supported");
            }
            b'*' => {
                let n = self.alias()?;
                (n, self.pos)
            }
            b'"' | b'\'' => {
                let text = self.quoted()?;
                (
                    Node::new(Value::Scalar(Scalar { text, quoted: true }), line),
                    self.pos,
                )
            }
            b',' | b']' | b'}' | b'%' | b'@' | b'`' | b'&' | b'!' => {
                return self.err(
                    line,
                    format!("character {:?} cannot start a plain scalar", c as char),
                );
            }
            _ => {
                let (text, colon) = self.plain_line(false);
                if colon {
                    (plain_node(text, line), self.pos)
                } else {
                    let text = self.plain_continuation(text, parent)?;
                    let n = plain_node(text, line);
                    self.finish_line()?;
                    return self.apply_props(n, anchor, force_str);
                }
            }
        };
        let _ = scalar_end;
        // A scalar followed by `:` and a blank is the first key of a block mapping.
        self.skip_inline_ws();
        if self.peek(0) == b':' && is_blank_or_end(self.peek(1)) {
            if ctx != Ctx::Block {
                return self.err(
                    line,
                    "mapping values are not allowed here (a key inside a value?)",
                );
            }
            let key = self.apply_props(scalar, anchor, force_str)?;
            self.pos += 1;
            return self.block_map(col, key);
        }
        let n = self.apply_props(scalar, anchor, force_str)?;
        self.finish_line()?;
        Ok(n)
    }

    /// A plain scalar's text on the current line. Returns (text, stopped at a `: `).
    fn plain_line(&mut self, flow: bool) -> (String, bool) {
        let start = self.pos;
        let mut end = self.pos;
        let mut colon = false;
        loop {
            let c = self.peek(0);
            match c {
                b'\n' | 0 => break,
                b':' if is_blank_or_end(self.peek(1)) || (flow && is_flow_ind(self.peek(1))) => {
                    colon = true;
                    break;
                }
                b',' | b'[' | b']' | b'{' | b'}' | b'?' if flow => break,
                b'#' if self.pos > start && is_ws(self.s[self.pos - 1]) => break,
                b' ' | b'\t' => self.pos += 1,
                _ => {
                    self.pos += 1;
                    end = self.pos;
                }
            }
        }
        let text = self.slice(start, end);
        if !colon {
            // Leave trailing blanks to finish_line, but stay after the text.
            self.pos = end;
        } else {
            self.pos = self.pos.max(end);
        }
        (text, colon)
    }

    /// Continuation lines of a multi-line plain scalar in block context: lines indented more
    /// than `parent`, folded (one break is a space, n breaks are n-1 newlines).
    fn plain_continuation(&mut self, mut text: String, parent: i64) -> R<String> {
        loop {
            let save = self.pos;
            self.skip_inline_ws();
            if self.peek(0) != b'\n' {
                self.pos = save;
                return Ok(text);
            }
            let mut breaks = 0usize;
            let mut p = self.pos;
            let found = loop {
                // p at a '\n'
                p += 1;
                breaks += 1;
                let ls = p;
                while self.s.get(p) == Some(&b' ') {
                    p += 1;
                }
                match self.s.get(p).copied().unwrap_or(0) {
                    b'\n' => continue,
                    0 | b'#' | b'\t' => break None,
                    _ => {
                        let indent = (p - ls) as i64;
                        if indent <= parent || self.doc_marker_at(ls).is_some() {
                            break None;
                        }
                        break Some(p);
                    }
                }
            };
            let Some(p) = found else {
                self.pos = save;
                return Ok(text);
            };
            self.pos = p;
            let line = self.line();
            let (more, colon) = self.plain_line(false);
            if colon {
                return self.err(
                    line,
                    "mapping values are not allowed here (a key inside a multi-line scalar?)",
                );
            }
            if breaks == 1 {
                text.push(' ');
            } else {
                text.extend(std::iter::repeat_n('\n', breaks - 1));
            }
            text.push_str(&more);
            if text.len() > MAX_INPUT {
                return self.err(line, "scalar too long");
            }
        }
    }

    fn block_seq(&mut self, indent: usize) -> R<Node> {
        let line = self.line();
        let mut items = Vec::new();
        loop {
            // pos at the '-'
            let item_line = self.line();
            self.pos += 1;
            let item = if self.rest_is_empty() {
                self.finish_line()?;
                self.node_below(indent as i64, false, item_line)?
            } else {
                self.node_here(indent as i64, Ctx::Block)?
            };
            items.push(item);
            match self.next_content_line()? {
                None => break,
                Some(i) => {
                    if self.doc_marker_at(self.pos).is_some() || i < indent {
                        break;
                    }
                    let at = self.pos + i;
                    if i == indent {
                        if self.is_seq_entry(at) {
                            self.pos = at;
                            continue;
                        }
                        break;
                    }
                    self.pos = at;
                    return self.err(
                        self.line(),
                        format!(
                            "bad indentation: {i} spaces inside a sequence indented {indent}: {:?}",
                            self.line_excerpt()
                        ),
                    );
                }
            }
        }
        Ok(Node::new(Value::Seq(items), line))
    }

    /// A block mapping at column `indent` whose first key is parsed (`pos` after its `:`).
    fn block_map(&mut self, indent: usize, first_key: Node) -> R<Node> {
        let line = first_key.line;
        let mut pairs = Vec::new();
        let mut key = first_key;
        loop {
            let value = if self.rest_is_empty() {
                self.finish_line()?;
                self.node_below(indent as i64, true, key.line)?
            } else {
                self.node_here(indent as i64, Ctx::Value)?
            };
            pairs.push((key, value));
            let Some(i) = self.next_content_line()? else {
                break;
            };
            if self.doc_marker_at(self.pos).is_some() || i < indent {
                break;
            }
            let at = self.pos + i;
            self.pos = at;
            if i > indent {
                return self.err(
                    self.line(),
                    format!(
                        "bad indentation: {i} spaces inside a mapping indented {indent}: {:?}",
                        self.line_excerpt()
                    ),
                );
            }
            if self.is_seq_entry(at) {
                return self.err(
                    self.line(),
                    "a sequence entry where a mapping key was expected",
                );
            }
            key = self.block_key()?;
        }
        let node = self.build_map(pairs, line)?;
        Ok(node)
    }

    /// A key of a block mapping at `pos`; returns with `pos` after its `:`.
    fn block_key(&mut self) -> R<Node> {
        let line = self.line();
        let (anchor, force_str) = self.properties()?;
        let key = match self.peek(0) {
            b'"' | b'\'' => {
                let text = self.quoted()?;
                Node::new(Value::Scalar(Scalar { text, quoted: true }), line)
            }
            b'*' => self.alias()?,
            b'?' if is_blank_or_end(self.peek(1)) => {
                return self.err(line, "explicit mapping keys (`? `) are not supported");
            }
            b'[' | b'{' => {
                return self.err(line, "a flow collection as a mapping key is not supported");
            }
            _ => {
                let (text, colon) = self.plain_line(false);
                if !colon {
                    return self.err(
                        line,
                        format!("could not find the expected ':' after a mapping key {text:?}"),
                    );
                }
                plain_node(text, line)
            }
        };
        self.skip_inline_ws();
        if !(self.peek(0) == b':' && is_blank_or_end(self.peek(1))) {
            return self.err(line, "could not find the expected ':' after a mapping key");
        }
        self.pos += 1;
        self.apply_props(key, anchor, force_str)
    }

    /// Fold pairs into a mapping as PyYAML does: merge keys first (earlier maps win), own
    /// keys override, a repeated key keeps its first place and takes the last value.
    fn build_map(&self, pairs: Vec<(Node, Node)>, line: u32) -> R<Node> {
        let mut merged: Vec<(Node, Node)> = Vec::new();
        let mut own = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let is_merge = matches!(&k.value, Value::Scalar(s) if !s.quoted && s.text == "<<");
            if !is_merge {
                own.push((k, v));
                continue;
            }
            match v.value {
                Value::Map(m) => merged.extend(m),
                Value::Seq(items) => {
                    let mut sub = Vec::new();
                    for it in items {
                        match it.value {
                            Value::Map(m) => sub.push(m),
                            _ => {
                                return self.err(
                                    it.line,
                                    "merge key `<<` needs a mapping or a list of mappings",
                                );
                            }
                        }
                    }
                    for m in sub.into_iter().rev() {
                        merged.extend(m);
                    }
                }
                _ => {
                    return self.err(
                        k.line,
                        "merge key `<<` needs a mapping or a list of mappings",
                    );
                }
            }
        }
        let mut out: Vec<(Node, Node)> = Vec::with_capacity(merged.len() + own.len());
        let mut index: BTreeMap<(u8, String), usize> = BTreeMap::new();
        for (k, v) in merged.into_iter().chain(own) {
            match key_id(&k) {
                Some(id) => match index.get(&id) {
                    Some(&i) => {
                        if let Some(slot) = out.get_mut(i) {
                            slot.1 = v;
                        }
                    }
                    None => {
                        index.insert(id, out.len());
                        out.push((k, v));
                    }
                },
                None => out.push((k, v)),
            }
        }
        Ok(Node::new(Value::Map(out), line))
    }

    /// A block scalar (`|` or `>`), ported from PyYAML's `scan_block_scalar`.
    fn block_scalar(&mut self, parent: i64) -> R<Node> {
        let line = self.line();
        let folded = self.peek(0) == b'>';
        self.pos += 1;
        let mut chomp: Option<bool> = None;
        let mut increment: Option<usize> = None;
        for _ in 0..2 {
            match self.peek(0) {
                b'+' | b'-' if chomp.is_none() => {
                    chomp = Some(self.peek(0) == b'+');
                    self.pos += 1;
                }
                c @ b'0'..=b'9' if increment.is_none() => {
                    if c == b'0' {
                        return self.err(line, "block scalar indentation indicator must be 1-9");
                    }
                    increment = Some(usize::from(c - b'0'));
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let before = self.pos;
        self.skip_inline_ws();
        match self.peek(0) {
            b'#' if self.pos > before => self.skip_to_eol(),
            b'\n' | 0 => {}
            _ => {
                return self.err(
                    line,
                    "expected a comment or a line break after a block scalar indicator",
                );
            }
        }
        if self.peek(0) == b'\n' {
            self.pos += 1;
        }
        let min_indent = usize::try_from(parent.saturating_add(1))
            .unwrap_or(0)
            .max(1);
        let (mut breaks, indent) = match increment {
            None => {
                let mut breaks = 0usize;
                let mut max_indent = 0usize;
                loop {
                    match self.peek(0) {
                        b' ' => {
                            self.pos += 1;
                            max_indent = max_indent.max(self.col());
                        }
                        b'\n' => {
                            self.pos += 1;
                            breaks += 1;
                        }
                        _ => break,
                    }
                }
                (breaks, min_indent.max(max_indent))
            }
            Some(inc) => {
                let indent = min_indent + inc - 1;
                (self.block_breaks(indent), indent)
            }
        };
        let mut out = String::new();
        let mut line_break = false;
        while self.col() == indent && !self.eof() {
            out.extend(std::iter::repeat_n('\n', breaks));
            let leading_non_space = !is_ws(self.peek(0));
            let start = self.pos;
            self.skip_to_eol();
            out.push_str(&self.slice(start, self.pos));
            line_break = self.peek(0) == b'\n';
            if line_break {
                self.pos += 1;
            }
            breaks = self.block_breaks(indent);
            if self.col() == indent && !self.eof() {
                if folded && line_break && leading_non_space && !is_ws(self.peek(0)) {
                    if breaks == 0 {
                        out.push(' ');
                    }
                } else if line_break {
                    out.push('\n');
                }
            } else {
                break;
            }
            if out.len() > MAX_INPUT {
                return self.err(line, "block scalar too long");
            }
        }
        if chomp != Some(false) && line_break {
            out.push('\n');
        }
        if chomp == Some(true) {
            out.extend(std::iter::repeat_n('\n', breaks));
        }
        // Back to the start of the line that ended the scalar.
        if self.eof() {
            self.pos = self.s.len();
        } else {
            self.pos = self.line_start(self.pos);
        }
        Ok(Node::new(
            Value::Scalar(Scalar {
                text: out,
                quoted: true,
            }),
            line,
        ))
    }

    /// PyYAML's `scan_block_scalar_breaks`: empty lines before content at `indent`.
    fn block_breaks(&mut self, indent: usize) -> usize {
        let mut breaks = 0;
        while self.col() < indent && self.peek(0) == b' ' {
            self.pos += 1;
        }
        while self.peek(0) == b'\n' {
            self.pos += 1;
            breaks += 1;
            while self.col() < indent && self.peek(0) == b' ' {
                self.pos += 1;
            }
        }
        breaks
    }

    /// A single- or double-quoted scalar at `pos`, possibly over several lines.
    fn quoted(&mut self) -> R<String> {
        let line = self.line();
        let dq = self.peek(0) == b'"';
        self.pos += 1;
        let mut out = String::new();
        loop {
            if out.len() > MAX_INPUT {
                return self.err(line, "quoted scalar too long");
            }
            let c = self.peek(0);
            match c {
                0 if self.eof() => {
                    return self.err(
                        line,
                        format!(
                            "unclosed {} string starting here",
                            if dq { "double-quoted" } else { "single-quoted" }
                        ),
                    );
                }
                b'\'' if !dq => {
                    if self.peek(1) == b'\'' {
                        out.push('\'');
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return Ok(out);
                    }
                }
                b'"' if dq => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' if dq => {
                    let esc_line = self.line();
                    self.pos += 1;
                    let e = self.peek(0);
                    self.pos += 1;
                    let simple = match e {
                        b'0' => Some('\0'),
                        b'a' => Some('\u{7}'),
                        b'b' => Some('\u{8}'),
                        b't' | b'\t' => Some('\t'),
                        b'n' => Some('\n'),
                        b'v' => Some('\u{b}'),
                        b'f' => Some('\u{c}'),
                        b'r' => Some('\r'),
                        b'e' => Some('\u{1b}'),
                        b' ' => Some(' '),
                        b'"' => Some('"'),
                        b'/' => Some('/'),
                        b'\\' => Some('\\'),
                        b'N' => Some('\u{85}'),
                        b'_' => Some('\u{a0}'),
                        _ => None,
                    };
                    if let Some(ch) = simple {
                        out.push(ch);
                        continue;
                    }
                    let len = match e {
                        b'x' => 2,
                        b'u' => 4,
                        b'U' => 8,
                        b'\n' => {
                            // An escaped line break: join without a space.
                            self.pos -= 1;
                            self.quoted_breaks(&mut out, true, line)?;
                            continue;
                        }
                        b'L' => {
                            out.push('\u{2028}');
                            continue;
                        }
                        b'P' => {
                            out.push('\u{2029}');
                            continue;
                        }
                        _ => {
                            return self.err(
                                esc_line,
                                format!("unknown escape \\{} in a double-quoted string", e as char),
                            );
                        }
                    };
                    let hex = self.s.get(self.pos..self.pos + len).unwrap_or(&[]);
                    let code = std::str::from_utf8(hex)
                        .ok()
                        .filter(|h| h.len() == len && h.chars().all(|c| c.is_ascii_hexdigit()))
                        .and_then(|h| u32::from_str_radix(h, 16).ok());
                    let Some(ch) = code.and_then(char::from_u32) else {
                        return self
                            .err(esc_line, "bad hexadecimal escape in a double-quoted string");
                    };
                    self.pos += len;
                    out.push(ch);
                }
                b' ' | b'\t' => {
                    let start = self.pos;
                    while is_ws(self.peek(0)) {
                        self.pos += 1;
                    }
                    if self.peek(0) != b'\n' {
                        out.push_str(&self.slice(start, self.pos));
                    }
                }
                b'\n' => {
                    self.quoted_breaks(&mut out, false, line)?;
                }
                _ => {
                    let ch = self
                        .t
                        .get(self.pos..)
                        .and_then(|r| r.chars().next())
                        .unwrap_or('\u{fffd}');
                    self.pos += ch.len_utf8().max(1);
                    out.push(ch);
                }
            }
        }
    }

    /// Line folding inside a quoted scalar, `pos` at the '\n': one break is a space (none
    /// after an escaped break), n breaks are n-1 newlines; leading blanks are dropped.
    fn quoted_breaks(&mut self, out: &mut String, escaped: bool, line: u32) -> R<()> {
        let mut breaks = 0usize;
        while self.peek(0) == b'\n' {
            self.pos += 1;
            breaks += 1;
            if self.doc_marker_at(self.pos).is_some() {
                return self.err(
                    line,
                    "document marker inside a quoted string (unclosed quote?)",
                );
            }
            while is_ws(self.peek(0)) {
                self.pos += 1;
            }
        }
        if escaped {
            out.extend(std::iter::repeat_n('\n', breaks.saturating_sub(1)));
        } else if breaks == 1 {
            out.push(' ');
        } else {
            out.extend(std::iter::repeat_n('\n', breaks - 1));
        }
        Ok(())
    }

    /// Skip blanks, line breaks and comments inside a flow collection.
    fn flow_ws(&mut self) {
        loop {
            match self.peek(0) {
                b' ' | b'\t' | b'\n' => self.pos += 1,
                b'#' => self.skip_to_eol(),
                _ => return,
            }
        }
    }

    fn flow_node(&mut self) -> R<Node> {
        self.enter()?;
        let r = self.flow_node_inner();
        self.leave();
        r
    }

    fn flow_node_inner(&mut self) -> R<Node> {
        self.flow_ws();
        let line = self.line();
        let (anchor, force_str) = self.properties()?;
        self.flow_ws();
        let n = match self.peek(0) {
            b'[' => self.flow_collection(false)?,
            b'{' => self.flow_collection(true)?,
            b'"' | b'\'' => {
                let text = self.quoted()?;
                Node::new(Value::Scalar(Scalar { text, quoted: true }), line)
            }
            b'*' => self.alias()?,
            b',' | b']' | b'}' | b':' => Node::new(Value::Null, line),
            0 => return self.err(line, "unexpected end inside a flow collection"),
            b'|' | b'>' | b'%' | b'@' | b'`' | b'&' | b'!' => {
                return self.err(
                    self.line(),
                    format!(
                        "character {:?} cannot start a plain scalar",
                        self.peek(0) as char
                    ),
                );
            }
            _ => {
                let (mut text, _) = self.plain_line(true);
                // Continuation lines: a flow plain scalar may span lines.
                loop {
                    let save = self.pos;
                    self.skip_inline_ws();
                    if self.peek(0) != b'\n' {
                        self.pos = save;
                        break;
                    }
                    let mut breaks = 0usize;
                    while self.peek(0) == b'\n' {
                        self.pos += 1;
                        breaks += 1;
                        self.skip_inline_ws();
                    }
                    let c = self.peek(0);
                    if c == 0
                        || c == b'#'
                        || is_flow_ind(c)
                        || c == b':'
                        || self.doc_marker_at(self.line_start(self.pos)).is_some()
                            && self.col() == 0
                    {
                        self.pos = save;
                        break;
                    }
                    let (more, _) = self.plain_line(true);
                    if breaks == 1 {
                        text.push(' ');
                    } else {
                        text.extend(std::iter::repeat_n('\n', breaks - 1));
                    }
                    text.push_str(&more);
                    if text.len() > MAX_INPUT {
                        return self.err(line, "scalar too long");
                    }
                }
                plain_node(text, line)
            }
        };
        self.apply_props(n, anchor, force_str)
    }

    /// `[ ... ]` or `{ ... }` at `pos`.
    fn flow_collection(&mut self, is_map: bool) -> R<Node> {
        let line = self.line();
        let close = if is_map { b'}' } else { b']' };
        let what = if is_map {
            "flow mapping"
        } else {
            "flow sequence"
        };
        self.pos += 1;
        let mut items = Vec::new();
        let mut pairs = Vec::new();
        loop {
            self.flow_ws();
            if self.eof() {
                return self.err(line, format!("unclosed {what} starting here"));
            }
            if self.doc_marker_at(self.pos).is_some() {
                return self.err(line, format!("unclosed {what} starting here"));
            }
            if self.peek(0) == close {
                self.pos += 1;
                break;
            }
            if self.peek(0) == b',' {
                return self.err(self.line(), format!("empty entry in a {what}"));
            }
            let entry_line = self.line();
            let explicit = self.peek(0) == b'?' && is_blank_or_end(self.peek(1));
            if explicit {
                self.pos += 1;
            }
            let first = self.flow_node()?;
            self.flow_ws();
            let mut value = None;
            if self.peek(0) == b':' {
                self.pos += 1;
                self.flow_ws();
                value = Some(if matches!(self.peek(0), b',' | b']' | b'}') {
                    Node::new(Value::Null, self.line())
                } else {
                    self.flow_node()?
                });
                self.flow_ws();
            }
            if is_map {
                let v = value.unwrap_or_else(|| Node::new(Value::Null, first.line));
                pairs.push((first, v));
            } else if let Some(v) = value {
                items.push(self.build_map(vec![(first, v)], entry_line)?);
            } else {
                items.push(first);
            }
            match self.peek(0) {
                b',' => self.pos += 1,
                c if c == close => {}
                0 => return self.err(line, format!("unclosed {what} starting here")),
                _ => {
                    return self.err(
                        self.line(),
                        format!(
                            "expected ',' or '{}' in a {what}, found {:?}",
                            close as char,
                            self.line_excerpt()
                        ),
                    );
                }
            }
        }
        if is_map {
            self.build_map(pairs, line)
        } else {
            Ok(Node::new(Value::Seq(items), line))
        }
    }
}

fn plain_node(text: String, line: u32) -> Node {
    if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL") {
        Node::new(Value::Null, line)
    } else {
        Node::new(
            Value::Scalar(Scalar {
                text,
                quoted: false,
            }),
            line,
        )
    }
}

/// A scalar key's identity as a Python dict sees it (type and value).
fn key_id(k: &Node) -> Option<(u8, String)> {
    match &k.value {
        Value::Null => Some((0, String::new())),
        Value::Scalar(s) => Some(match s.kind() {
            Kind::Null => (0, String::new()),
            Kind::Bool(b) => (2, u8::from(b).to_string()),
            Kind::Int(i) => (2, i.to_string()),
            Kind::Float(f) => (3, py_float(f)),
            Kind::Str => (4, s.text.clone()),
        }),
        _ => None,
    }
}
