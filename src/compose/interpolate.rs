//! Variable interpolation as Compose does it, in every value it reads:
//!
//! | form | value |
//! |---|---|
//! | `$VAR`, `${VAR}` | VAR's value; unset → empty (and a finding, as Compose warns) |
//! | `${VAR:-default}` | default when VAR is unset or empty |
//! | `${VAR-default}` | default when VAR is unset |
//! | `${VAR:?message}` | an error when VAR is unset or empty |
//! | `${VAR?message}` | an error when VAR is unset |
//! | `${VAR:+other}` | other when VAR is set and not empty, else empty |
//! | `${VAR+other}` | other when VAR is set, else empty |
//! | `$$` | a literal `$` |
//!
//! Defaults and messages are interpolated themselves (`${A:-${B}}`). A `$` followed by anything
//! else is kept as it is; a `${` that is not one of the forms above is an error.

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpError {
    /// `${VAR:?msg}` / `${VAR?msg}` with VAR missing.
    Required { name: String, message: String },
    /// A `${` that is not a valid substitution.
    Invalid { text: String },
}

impl std::fmt::Display for InterpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpError::Required { name, message } if message.is_empty() => {
                write!(f, "required variable {name} is missing a value")
            }
            InterpError::Required { name, message } => {
                write!(f, "required variable {name} is missing a value: {message}")
            }
            InterpError::Invalid { text } => write!(f, "invalid interpolation format {text:?}"),
        }
    }
}

/// Interpolate `text`. `lookup` gives a variable's value (None = unset); the names used while
/// unset (without a default) are added to `unset`.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpError> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let end = closing_brace(&chars, i + 2).ok_or_else(|| InterpError::Invalid {
                    text: text.to_string(),
                })?;
                let inner: String = chars[i + 2..end].iter().collect();
                out.push_str(&braced(&inner, text, lookup, unset)?);
                i = end + 1;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == '_' => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                out.push_str(&value(&name, lookup, unset));
                i = j;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

fn value(name: &str, lookup: &dyn Fn(&str) -> Option<String>, unset: &mut Vec<String>) -> String {
    match lookup(name) {
        Some(v) => v,
        None => {
            if !unset.iter().any(|u| u == name) {
                unset.push(name.to_string());
            }
            String::new()
        }
    }
}

/// The index of the `}` closing a `${` whose content starts at `from` (nested `${…}` skipped).
fn closing_brace(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '$' if chars.get(i + 1) == Some(&'{') => {
                depth += 1;
                i += 2;
                continue;
            }
            '$' if chars.get(i + 1) == Some(&'$') => {
                i += 2;
                continue;
            }
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn braced(
    inner: &str,
    whole: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpError> {
    let name_len = inner
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map(|(i, _)| i)
        .unwrap_or(inner.len());
    let name = &inner[..name_len];
    let invalid = || InterpError::Invalid {
        text: whole.to_string(),
    };
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(invalid());
    }
    let rest = &inner[name_len..];
    if rest.is_empty() {
        return Ok(value(name, lookup, unset));
    }
    let (op, arg) = if let Some(a) = rest.strip_prefix(":-") {
        (":-", a)
    } else if let Some(a) = rest.strip_prefix(":?") {
        (":?", a)
    } else if let Some(a) = rest.strip_prefix(":+") {
        (":+", a)
    } else if let Some(a) = rest.strip_prefix('-') {
        ("-", a)
    } else if let Some(a) = rest.strip_prefix('?') {
        ("?", a)
    } else if let Some(a) = rest.strip_prefix('+') {
        ("+", a)
    } else {
        return Err(invalid());
    };
    let current = lookup(name);
    let set = current.is_some();
    let non_empty = current.as_deref().is_some_and(|v| !v.is_empty());
    let arg = |unset: &mut Vec<String>| interpolate(arg, lookup, unset);
    Ok(match op {
        ":-" if non_empty => current.unwrap_or_default(),
        ":-" => arg(unset)?,
        "-" if set => current.unwrap_or_default(),
        "-" => arg(unset)?,
        ":?" | "?" if (op == ":?" && !non_empty) || (op == "?" && !set) => {
            return Err(InterpError::Required {
                name: name.to_string(),
                message: arg(unset)?,
            })
        }
        ":?" | "?" => current.unwrap_or_default(),
        ":+" if non_empty => arg(unset)?,
        "+" if set => arg(unset)?,
        _ => String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TAG" => Some("1.2".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("8080".into()),
            _ => None,
        }
    }

    fn i(text: &str) -> Result<String, InterpError> {
        let mut unset = Vec::new();
        interpolate(text, &env, &mut unset)
    }

    #[test]
    fn every_form() {
        let cases = [
            ("nginx:${TAG}", "nginx:1.2"),
            ("nginx:$TAG", "nginx:1.2"),
            ("$TAG.x", "1.2.x"),
            ("${NOPE:-def}", "def"),
            ("${EMPTY:-def}", "def"),
            ("${EMPTY-def}", ""),
            ("${NOPE-def}", "def"),
            ("${TAG:-def}", "1.2"),
            ("${TAG:?boom}", "1.2"),
            ("${EMPTY?boom}", ""),
            ("${TAG:+on}", "on"),
            ("${EMPTY:+on}", ""),
            ("${EMPTY+on}", "on"),
            ("${NOPE+on}", ""),
            ("$$TAG", "$TAG"),
            ("a$$b", "a$b"),
            ("${NOPE:-${PORT}}", "8080"),
            ("${NOPE:-${NADA:-x}y}", "xy"),
            ("${NOPE:-a}}", "a}"),
            ("cost: 5$", "cost: 5$"),
            ("$1 $ $-", "$1 $ $-"),
            ("no dollar", "no dollar"),
            ("${NOPE:-}", ""),
        ];
        for (text, want) in cases {
            assert_eq!(i(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn unset_variables_are_collected_once() {
        let mut unset = Vec::new();
        assert_eq!(
            interpolate("${A}/$A/${B:-x}/$C", &env, &mut unset).unwrap(),
            "//x/"
        );
        assert_eq!(unset, vec!["A", "C"]);
    }

    #[test]
    fn errors() {
        assert_eq!(
            i("${NOPE:?set NOPE first}").unwrap_err().to_string(),
            "required variable NOPE is missing a value: set NOPE first"
        );
        assert_eq!(
            i("${EMPTY:?}").unwrap_err().to_string(),
            "required variable EMPTY is missing a value"
        );
        assert!(i("${NOPE?x}").is_err());
        for bad in ["${", "${}", "${1A}", "${A B}", "${A:x}", "x ${A"] {
            assert!(matches!(i(bad), Err(InterpError::Invalid { .. })), "{bad}");
        }
    }
}
