//! Reading values out of the YAML tree: interpolated, with their position, the wrong shape an
//! error, what does not carry over a finding.

use super::interpolate::interpolate;
use super::report::{ComposeError, Finding};
use super::yaml::{Entry, Node, Pos, Value};

pub type Res<T> = Result<T, ComposeError>;

/// The reading context of one file.
pub struct Reader<'a> {
    /// The file name as shown to the user.
    pub file: String,
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    pub findings: Vec<Finding>,
    /// Variables already reported as unset (Compose warns once per variable).
    warned_unset: Vec<String>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &str, lookup: &'a dyn Fn(&str) -> Option<String>) -> Reader<'a> {
        Reader {
            file: file.to_string(),
            lookup,
            findings: Vec::new(),
            warned_unset: Vec::new(),
        }
    }

    pub fn finding(&mut self, pos: Pos, key: &str, msg: impl Into<String>) {
        self.findings.push(Finding::new(&self.file, pos, key, msg));
    }

    /// A key that does not carry over.
    pub fn dropped(&mut self, e: &Entry, key: &str, why: &str) {
        self.finding(e.key_pos, key, format!("not carried over: {why}"));
    }

    pub fn err(&self, pos: Pos, key: &str, msg: impl Into<String>) -> ComposeError {
        ComposeError::at(&self.file, pos, key, msg)
    }

    pub fn expected(&self, n: &Node, key: &str, what: &str) -> ComposeError {
        self.err(n.pos, key, format!("expected {what}, found {}", n.kind()))
    }

    /// Interpolate a string read at `pos`.
    pub fn interp(&mut self, s: &str, pos: Pos, key: &str) -> Res<String> {
        let mut unset = Vec::new();
        let out = interpolate(s, self.lookup, &mut unset)
            .map_err(|e| self.err(pos, key, e.to_string()))?;
        for name in unset {
            if !self.warned_unset.contains(&name) {
                self.finding(
                    pos,
                    key,
                    format!(
                        "variable {name} is not set: an empty string is used (as Compose does)"
                    ),
                );
                self.warned_unset.push(name);
            }
        }
        Ok(out)
    }

    /// A scalar as text (numbers as written, booleans `true`/`false`), interpolated.
    pub fn text(&mut self, n: &Node, key: &str) -> Res<String> {
        match &n.value {
            Value::Str(s) => self.interp(s, n.pos, key),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.expected(n, key, "a string")),
        }
    }

    /// Text, or None for null.
    pub fn opt_text(&mut self, n: &Node, key: &str) -> Res<Option<String>> {
        match &n.value {
            Value::Null => Ok(None),
            _ => self.text(n, key).map(Some),
        }
    }

    /// A boolean (also the strings `true`/`false`, after interpolation).
    pub fn boolean(&mut self, n: &Node, key: &str) -> Res<bool> {
        match &n.value {
            Value::Bool(b) => Ok(*b),
            Value::Str(_) => match self.text(n, key)?.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(true),
                "false" | "no" | "0" => Ok(false),
                _ => Err(self.expected(n, key, "true or false")),
            },
            _ => Err(self.expected(n, key, "true or false")),
        }
    }

    /// A whole number.
    pub fn number(&mut self, n: &Node, key: &str) -> Res<u64> {
        let t = self.text(n, key)?;
        t.trim()
            .parse::<u64>()
            .map_err(|_| self.err(n.pos, key, format!("expected a whole number, found {t:?}")))
    }

    pub fn map<'n>(&self, n: &'n Node, key: &str) -> Res<&'n [Entry]> {
        match &n.value {
            Value::Map(m) => Ok(m),
            _ => Err(self.expected(n, key, "a mapping")),
        }
    }

    /// A mapping, or null as an empty one.
    pub fn opt_map<'n>(&self, n: &'n Node, key: &str) -> Res<&'n [Entry]> {
        match &n.value {
            Value::Null => Ok(&[]),
            _ => self.map(n, key),
        }
    }

    pub fn list<'n>(&self, n: &'n Node, key: &str) -> Res<&'n [Node]> {
        match &n.value {
            Value::Seq(s) => Ok(s),
            Value::Null => Ok(&[]),
            _ => Err(self.expected(n, key, "a list")),
        }
    }

    /// A string or a list of strings, each with its position.
    pub fn strings(&mut self, n: &Node, key: &str) -> Res<Vec<(String, Pos)>> {
        match &n.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| Ok((self.text(item, &format!("{key}[{i}]"))?, item.pos)))
                .collect(),
            Value::Null => Ok(Vec::new()),
            _ => Ok(vec![(self.text(n, key)?, n.pos)]),
        }
    }

    /// `KEY: value` mappings or `KEY=value` lists (environment, labels, args). A value of None:
    /// `KEY` alone in a list, or `KEY:` with null.
    pub fn pairs(&mut self, n: &Node, key: &str) -> Res<Vec<(String, Option<String>, Pos)>> {
        match &n.value {
            Value::Map(entries) => entries
                .iter()
                .map(|e| {
                    let k = format!("{key}.{}", e.key);
                    Ok((e.key.clone(), self.opt_text(&e.value, &k)?, e.key_pos))
                })
                .collect(),
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let t = self.text(item, &format!("{key}[{i}]"))?;
                    Ok(match t.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string()), item.pos),
                        None => (t, None, item.pos),
                    })
                })
                .collect(),
            Value::Null => Ok(Vec::new()),
            _ => Err(self.expected(n, key, "a mapping or a list")),
        }
    }

    /// `command`/`entrypoint`: a list, or a string split like a shell would (no expansion).
    pub fn command(&mut self, n: &Node, key: &str) -> Res<Vec<String>> {
        match &n.value {
            Value::Seq(_) => Ok(self.strings(n, key)?.into_iter().map(|(s, _)| s).collect()),
            Value::Str(_) => {
                let t = self.text(n, key)?;
                crate::shell_words::split(&t).map_err(|e| self.err(n.pos, key, e))
            }
            Value::Null => Ok(Vec::new()),
            _ => Err(self.expected(n, key, "a string or a list")),
        }
    }

    /// A Compose duration (`1m30s`, `500ms`, `10s`, `1h`, or a number of seconds) in seconds.
    pub fn duration(&mut self, n: &Node, key: &str) -> Res<f64> {
        let t = self.text(n, key)?;
        parse_duration(&t).ok_or_else(|| {
            self.err(
                n.pos,
                key,
                format!("expected a duration such as 30s, 1m30s or 500ms, found {t:?}"),
            )
        })
    }
}

/// `1h2m3.5s`, `500ms`, `10us`, `42` (seconds).
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<f64>() {
        return (n >= 0.0 && n.is_finite()).then_some(n);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30.0));
        assert_eq!(parse_duration("1m30s"), Some(90.0));
        assert_eq!(parse_duration("1h"), Some(3600.0));
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("1.5s"), Some(1.5));
        assert_eq!(parse_duration("10"), Some(10.0));
        for bad in ["", "s", "10x", "-1s", "1m30", "ms10"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
