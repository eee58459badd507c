//! Shell words without a shell: split a command line as `sh` would (quotes, backslashes; no
//! expansion of any kind) and quote words for a generated `sh` script. A leaf: dops-init splits
//! its programs' command strings, the Compose importer `command:`/`entrypoint:` strings.

/// Split a command line: whitespace separates words, single and double quotes group, a
/// backslash escapes the next character (outside single quotes). No expansion of any kind.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed single quote in {line:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x) => cur.push(x),
                            None => return Err(format!("dangling backslash in {line:?}")),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed double quote in {line:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(x) => cur.push(x),
                    None => return Err(format!("dangling backslash in {line:?}")),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Quote a word for `sh`: unchanged when it holds only safe characters, else in single quotes
/// (a `'` inside becomes `'\''`).
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Quote every word and join them with spaces.
pub fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split(r#"/bin/app --x 'two words' "a \"q\"" b\ c"#).unwrap(),
            vec!["/bin/app", "--x", "two words", "a \"q\"", "b c"]
        );
        assert_eq!(split("  a   b ").unwrap(), vec!["a", "b"]);
        assert_eq!(split("''").unwrap(), vec![""]);
        assert!(split("'open").is_err());
    }

    #[test]
    fn quoted_words_split_back() {
        let words: Vec<String> = ["a b", "it's", "", "$HOME", "plain-1.2", "x\"y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let line = join(&words);
        assert_eq!(line, "'a b' 'it'\\''s' '' '$HOME' plain-1.2 'x\"y'");
        assert_eq!(split(&line).unwrap(), words);
    }
}
