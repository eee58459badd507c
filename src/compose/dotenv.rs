//! `.env` and `env_file` files as Compose reads them: `KEY=VALUE` lines, `export ` allowed, `#`
//! comments, `'single'` (literal) and `"double"` (escapes, may span lines) quotes, an unquoted
//! value ends at ` #`; unquoted and double-quoted values are interpolated, a variable defined
//! earlier in the file first; a line with only `KEY` takes KEY from the lookup when it is set.

use super::interpolate::{interpolate, InterpError};

/// An error in an env file, at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DotenvError {
    pub line: usize,
    pub msg: String,
}

/// The variables of an env file, in file order (a later duplicate replaces the value in place).
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, DotenvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut n = 0;
    while n < lines.len() {
        let number = n + 1;
        let line = lines[n].trim();
        n += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let err = |msg: String| DotenvError { line: number, msg };
        let Some((key, raw)) = line.split_once('=') else {
            let key = line;
            check_key(key).map_err(err)?;
            if let Some(v) = lookup(key) {
                set(&mut vars, key, v);
            }
            continue;
        };
        let key = key.trim();
        check_key(key).map_err(err)?;
        let raw = raw.trim_start();
        let earlier = vars.clone();
        let look = |name: &str| {
            earlier
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .or_else(|| lookup(name))
        };
        let mut unset = Vec::new();
        let interp = |s: &str, unset: &mut Vec<String>| {
            interpolate(s, &look, unset).map_err(|e: InterpError| err(e.to_string()))
        };
        let value = if let Some(rest) = raw.strip_prefix('\'') {
            quoted(rest, '\'', &lines, &mut n)
                .ok_or_else(|| err(format!("unclosed single quote in the value of {key}")))?
        } else if let Some(rest) = raw.strip_prefix('"') {
            let body = quoted(rest, '"', &lines, &mut n)
                .ok_or_else(|| err(format!("unclosed double quote in the value of {key}")))?;
            interp(&unescape(&body), &mut unset)?
        } else {
            let body = match raw.find(" #").or_else(|| raw.find("\t#")) {
                Some(i) => &raw[..i],
                None => raw,
            };
            interp(body.trim_end(), &mut unset)?
        };
        set(&mut vars, key, value);
    }
    Ok(vars)
}

fn set(vars: &mut Vec<(String, String)>, key: &str, value: String) {
    match vars.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => vars.push((key.to_string(), value)),
    }
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(format!("expected KEY=VALUE, found {key:?}"));
    }
    Ok(())
}

/// The body of a quoted value starting after its opening quote, up to the closing quote (which
/// may be on a later line: `n` then moves past it). None when it never closes.
fn quoted(first: &str, q: char, lines: &[&str], n: &mut usize) -> Option<String> {
    let mut body = String::new();
    let mut current = first.to_string();
    loop {
        let mut escaped = false;
        for (i, c) in current.char_indices() {
            if q == '"' && c == '\\' && !escaped {
                escaped = true;
                continue;
            }
            if c == q && !escaped {
                body.push_str(&current[..i]);
                return Some(body);
            }
            escaped = false;
        }
        body.push_str(&current);
        body.push('\n');
        let next = lines.get(*n)?;
        *n += 1;
        current = next.to_string();
    }
}

/// Double-quoted escapes: `\n`, `\r`, `\t`, `\"`, `\\`, `\$` (kept as `$$` for interpolation).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('$') => out.push_str("$$"),
            Some(x) => out.push(x),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_forms_people_write() {
        let text = "\
# settings
TAG=1.25
export PORT = 8080
EMPTY=
URL=http://db:${PORT}/x # a comment
HASH=a#b
SINGLE='literal $TAG # not a comment'
DOUBLE=\"tab\\there ${TAG}\"
MULTI=\"line one
line two\"
FROM_ENV
TAG=1.26
";
        let look = |k: &str| (k == "FROM_ENV").then(|| "from env".to_string());
        let v = parse(text, &look).unwrap();
        let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("TAG"), Some("1.26"));
        assert_eq!(v[0].0, "TAG", "a later duplicate keeps the first place");
        assert_eq!(get("PORT"), Some("8080"));
        assert_eq!(get("EMPTY"), Some(""));
        assert_eq!(get("URL"), Some("http://db:8080/x"));
        assert_eq!(get("HASH"), Some("a#b"));
        assert_eq!(get("SINGLE"), Some("literal $TAG # not a comment"));
        assert_eq!(get("DOUBLE"), Some("tab\there 1.25"));
        assert_eq!(get("MULTI"), Some("line one\nline two"));
        assert_eq!(get("FROM_ENV"), Some("from env"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("A=1\nB=\"open\n", &none).unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("A=1\nnot a pair\n", &none).unwrap_err();
        assert_eq!(
            e,
            DotenvError {
                line: 2,
                msg: "expected KEY=VALUE, found \"not a pair\"".into()
            }
        );
        let e = parse("A=${B:?needed}\n", &none).unwrap_err();
        assert_eq!(e.msg, "required variable B is missing a value: needed");
    }
}
