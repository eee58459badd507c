//! A small JSON parser that remembers where every value is (line and column), for error
//! messages that point at the file.
//!
//! Differences from strict JSON, for DockerOps projects: `#` starts a comment that runs to the end
//! of the line (not inside strings), and a trailing comma before `]` or `}` is accepted. Nesting is
//! limited to [`MAX_DEPTH`] so hostile input cannot exhaust the stack.

use std::fmt;

pub const MAX_DEPTH: usize = 64;

/// 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number and its text as written.
    Num(f64, String),
    Str(String),
    Arr(Vec<Node>),
    Obj(Vec<Member>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

impl Value {
    /// What the user would call this kind of value, for "expected X, found Y".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Num(..) => "a number",
            Value::Str(_) => "a string",
            Value::Arr(_) => "a list",
            Value::Obj(_) => "an object",
        }
    }
}

impl Node {
    /// A short rendering of the value for "found ..." (strings quoted, containers summarized).
    pub fn found(&self) -> String {
        match &self.value {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Num(_, raw) => raw.clone(),
            Value::Str(s) => {
                let short: String = s.chars().take(40).collect();
                let ell = if s.chars().count() > 40 { "…" } else { "" };
                format!("{:?}", format!("{short}{ell}"))
            }
            Value::Arr(_) => "a list".into(),
            Value::Obj(_) => "an object".into(),
        }
    }

    /// Convert to serde_json (for `cfg`).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Num(f, raw) => raw
                .parse::<i64>()
                .map(serde_json::Value::from)
                .unwrap_or_else(|_| {
                    serde_json::Number::from_f64(*f)
                        .map(serde_json::Value::Number)
                        .unwrap_or(serde_json::Value::Null)
                }),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Arr(a) => serde_json::Value::Array(a.iter().map(Node::to_json).collect()),
            Value::Obj(m) => serde_json::Value::Object(
                m.iter()
                    .map(|m| (m.key.clone(), m.value.to_json()))
                    .collect(),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub msg: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, col {}: {}",
            self.pos.line, self.pos.col, self.msg
        )
    }
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    pos: Pos,
    depth: usize,
}

fn show(c: Option<char>) -> String {
    match c {
        None => "end of file".into(),
        Some(c) if c.is_control() => format!("{:?}", c),
        Some(c) => format!("'{c}'"),
    }
}

impl<'a> Parser<'a> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.col = 1;
        } else {
            self.pos.col += 1;
        }
        Some(c)
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            pos: self.pos,
            msg: msg.into(),
        })
    }

    /// Whitespace and `#` comments.
    fn skip(&mut self) {
        while let Some(c) = self.peek() {
            if c == '#' {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            } else if c.is_whitespace() {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn value(&mut self) -> Result<Node, SyntaxError> {
        self.skip();
        let pos = self.pos;
        let value = match self.peek() {
            Some('{') => self.object()?,
            Some('[') => self.array()?,
            Some('"') => Value::Str(self.string()?),
            Some('-' | '0'..='9') => self.number()?,
            Some(c) if c.is_ascii_alphabetic() => {
                let mut word = String::new();
                while let Some(c) = self.peek() {
                    if !c.is_ascii_alphanumeric() || word.len() > 16 {
                        break;
                    }
                    word.push(c);
                    self.bump();
                }
                match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    "True" | "False" | "None" => {
                        return Err(SyntaxError {
                            pos,
                            msg: format!(
                                "expected a value, found {word} (JSON spells it {})",
                                match word.as_str() {
                                    "True" => "true",
                                    "False" => "false",
                                    _ => "null",
                                }
                            ),
                        })
                    }
                    _ => {
                        return Err(SyntaxError {
                            pos,
                            msg: format!("expected a value, found {word}"),
                        })
                    }
                }
            }
            c => return self.err(format!("expected a value, found {}", show(c))),
        };
        Ok(Node { value, pos })
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn array(&mut self) -> Result<Value, SyntaxError> {
        self.enter()?;
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip();
            if self.peek() == Some(']') {
                self.bump();
                break;
            }
            items.push(self.value()?);
            self.skip();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(']') => {
                    self.bump();
                    break;
                }
                c => return self.err(format!("expected ',' or ']', found {}", show(c))),
            }
        }
        self.depth -= 1;
        Ok(Value::Arr(items))
    }

    fn object(&mut self) -> Result<Value, SyntaxError> {
        self.enter()?;
        self.bump();
        let mut members: Vec<Member> = Vec::new();
        // Keys seen so far: a duplicate is found in constant time, whatever the object's size.
        let mut keys: std::collections::HashSet<String> = std::collections::HashSet::new();
        loop {
            self.skip();
            match self.peek() {
                Some('}') => {
                    self.bump();
                    break;
                }
                Some('"') => {}
                c => {
                    return self.err(format!(
                        "expected a key in double quotes or '}}', found {}",
                        show(c)
                    ))
                }
            }
            let key_pos = self.pos;
            let key = self.string()?;
            if !keys.insert(key.clone()) {
                return Err(SyntaxError {
                    pos: key_pos,
                    msg: format!("duplicate key {key:?}"),
                });
            }
            self.skip();
            match self.peek() {
                Some(':') => {
                    self.bump();
                }
                c => return self.err(format!("expected ':' after the key, found {}", show(c))),
            }
            let value = self.value()?;
            members.push(Member {
                key,
                key_pos,
                value,
            });
            self.skip();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('}') => {
                    self.bump();
                    break;
                }
                c => return self.err(format!("expected ',' or '}}', found {}", show(c))),
            }
        }
        self.depth -= 1;
        Ok(Value::Obj(members))
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        self.bump(); // opening quote
        let mut out = String::new();
        loop {
            let here = self.pos;
            let Some(c) = self.bump() else {
                return Err(SyntaxError {
                    pos: start,
                    msg: "unterminated string".into(),
                });
            };
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let esc = self.bump();
                    match esc {
                        Some('"') => out.push('"'),
                        Some('\\') => out.push('\\'),
                        Some('/') => out.push('/'),
                        Some('b') => out.push('\u{8}'),
                        Some('f') => out.push('\u{c}'),
                        Some('n') => out.push('\n'),
                        Some('r') => out.push('\r'),
                        Some('t') => out.push('\t'),
                        Some('u') => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.bump() != Some('\\') || self.bump() != Some('u') {
                                    return self.err("expected a low surrogate \\uXXXX");
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.err("invalid low surrogate");
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            match char::from_u32(code) {
                                Some(ch) => out.push(ch),
                                None => return self.err("invalid unicode escape"),
                            }
                        }
                        other => {
                            return self.err(format!(
                                "invalid escape \\{}",
                                other.map(String::from).unwrap_or_default()
                            ))
                        }
                    }
                }
                c if (c as u32) < 0x20 => {
                    return Err(SyntaxError {
                        pos: here,
                        msg: "control character in string (a string cannot span lines)".into(),
                    })
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for _ in 0..4 {
            match self.bump().and_then(|c| c.to_digit(16)) {
                Some(d) => v = v * 16 + d,
                None => return self.err("invalid \\u escape (expected 4 hex digits)"),
            }
        }
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        let mut raw = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E') {
                raw.push(c);
                self.bump();
            } else {
                break;
            }
        }
        if !is_json_number(&raw) {
            return Err(SyntaxError {
                pos: start,
                msg: format!("invalid number {raw}"),
            });
        }
        match raw.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Num(f, raw)),
            _ => Err(SyntaxError {
                pos: start,
                msg: format!("invalid number {raw}"),
            }),
        }
    }
}

fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return false;
        }
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return false;
        }
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    i == b.len()
}

/// Parse a whole document (comments and trailing commas allowed).
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser {
        chars: text.chars().peekable(),
        pos: Pos { line: 1, col: 1 },
        depth: 0,
    };
    p.skip();
    if p.peek().is_none() {
        return p.err("empty file (expected a JSON value)");
    }
    let v = p.value()?;
    p.skip();
    if let Some(c) = p.peek() {
        return p.err(format!(
            "unexpected {} after the end of the JSON value",
            show(Some(c))
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn values_and_positions() {
        let n = parse("[\n  {\"a\": 1, \"b\": [true, null, \"x\"]}\n]").unwrap();
        let Value::Arr(items) = &n.value else {
            panic!()
        };
        assert_eq!(items[0].pos, Pos { line: 2, col: 3 });
        let Value::Obj(m) = &items[0].value else {
            panic!()
        };
        assert_eq!(m[0].key, "a");
        assert_eq!(m[0].key_pos, Pos { line: 2, col: 4 });
        assert_eq!(m[1].value.pos, Pos { line: 2, col: 17 });
        assert_eq!(
            n.to_json(),
            serde_json::json!([{"a": 1, "b": [true, null, "x"]}])
        );
    }

    #[test]
    fn comments_outside_strings_only() {
        let n = parse("# head\n[ # list\n \"a#b\", # c\n 2 # two\n]\n# tail").unwrap();
        assert_eq!(n.to_json(), serde_json::json!(["a#b", 2]));
    }

    #[test]
    fn trailing_commas() {
        assert_eq!(
            parse("[1,2,]").unwrap().to_json(),
            serde_json::json!([1, 2])
        );
        assert_eq!(
            parse("{\"a\":1,}").unwrap().to_json(),
            serde_json::json!({"a": 1})
        );
    }

    #[test]
    fn escapes() {
        let n = parse(r#""a\"b\\c\u00e9\ud83d\ude00\n""#).unwrap();
        assert_eq!(n.value, Value::Str("a\"b\\cé😀\n".into()));
    }

    #[test]
    fn syntax_errors_point_at_the_problem() {
        assert_eq!(e("[1 2]"), "line 1, col 4: expected ',' or ']', found '2'");
        assert_eq!(
            e("{\"a\" 1}"),
            "line 1, col 6: expected ':' after the key, found '1'"
        );
        assert_eq!(e("[\n\"abc"), "line 2, col 1: unterminated string");
        assert_eq!(
            e("{a: 1}"),
            "line 1, col 2: expected a key in double quotes or '}', found 'a'"
        );
        assert_eq!(
            e("[True]"),
            "line 1, col 2: expected a value, found True (JSON spells it true)"
        );
        assert_eq!(e(""), "line 1, col 1: empty file (expected a JSON value)");
        assert_eq!(
            e("[1] x"),
            "line 1, col 5: unexpected 'x' after the end of the JSON value"
        );
        assert_eq!(e("[01]"), "line 1, col 2: invalid number 01");
        assert_eq!(e("{\"a\":1,\"a\":2}"), "line 1, col 8: duplicate key \"a\"");
        assert_eq!(
            e("[1,"),
            "line 1, col 4: expected a value, found end of file"
        );
        assert_eq!(
            e("\"a\nb\""),
            "line 1, col 3: control character in string (a string cannot span lines)"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(e(&deep).contains("nesting deeper than 64 levels"));
    }
}
