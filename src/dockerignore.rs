//! `.dockerignore` with Docker's rules: which files of a folder go into a build context. A leaf:
//! the engine sends the contexts it matches, the Compose importer copies them.
//!
//! The rules are those of moby's `patternmatcher` (what `docker build` uses):
//! - one pattern a line; lines starting with `#` are comments; blank lines are ignored; a pattern
//!   is trimmed, cleaned like Go's `filepath.Clean`, and a leading `/` is dropped: every pattern is
//!   relative to the context root (unlike `.gitignore`, `foo` does not match `a/foo`);
//! - `*` matches any run of characters except `/`, `?` one character except `/`, `[a-z]` / `[^a]`
//!   a class, `\x` the character x; `**` matches any number of directories (including none);
//! - a pattern matches a path when it matches the path or one of its parent directories;
//! - `!pattern` re-includes what it matches; the last matching pattern decides;
//! - an excluded directory is not descended into unless an exception pattern starts with it;
//! - the Dockerfile and `.dockerignore` are always sent, even when excluded.

use std::path::{Path, PathBuf};

/// A folder or ignore file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct IgnoreError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> IgnoreError {
    let path = path.into();
    move |source| IgnoreError { path, source }
}

/// One compiled `.dockerignore` pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The cleaned pattern, without the `!`.
    pub text: String,
    pub exclusion: bool,
    tokens: Vec<Tok>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    /// `*`: any run of non-`/` characters.
    Star,
    /// `?`: one non-`/` character.
    Any,
    /// `**/` (or `**` not at the end): empty, or anything ending with `/`.
    DirsAny,
    /// `**` at the end: anything.
    All,
    /// `[...]`: ranges, negated with a leading `^`.
    Class(Vec<(char, char)>, bool),
}

/// Go's `filepath.Clean` for slash-separated paths.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

impl Pattern {
    /// Compile one pattern (with or without the leading `!`).
    pub fn new(raw: &str) -> Option<Pattern> {
        let raw = raw.trim();
        let (exclusion, body) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, raw),
        };
        if body.is_empty() {
            return None;
        }
        let mut text = clean(body);
        if text.len() > 1 && text.starts_with('/') {
            text.remove(0);
        }
        let tokens = compile(&text);
        Some(Pattern {
            text,
            exclusion,
            tokens,
        })
    }

    /// Whether the pattern matches exactly this slash-separated relative path.
    pub fn matches_path(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        match_toks(&self.tokens, &chars)
    }
}

fn compile(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    toks.push(Tok::All);
                } else {
                    toks.push(Tok::DirsAny);
                }
                continue;
            }
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::Any),
            '\\' => {
                if let Some(&n) = chars.get(i + 1) {
                    toks.push(Tok::Lit(n));
                    i += 1;
                } else {
                    toks.push(Tok::Lit('\\'));
                }
            }
            '[' => {
                // A class up to the next unescaped ']'; an unterminated '[' is a literal.
                let mut j = i + 1;
                let negated = chars.get(j) == Some(&'^');
                if negated {
                    j += 1;
                }
                let mut ranges = Vec::new();
                let mut closed = false;
                while j < chars.len() {
                    let mut lo = chars[j];
                    if lo == ']' && (j > i + 1 + usize::from(negated)) {
                        closed = true;
                        break;
                    }
                    if lo == '\\' && j + 1 < chars.len() {
                        j += 1;
                        lo = chars[j];
                    }
                    let mut hi = lo;
                    if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|c| *c != ']')
                    {
                        hi = chars[j + 2];
                        j += 2;
                        if hi == '\\' && j + 1 < chars.len() {
                            j += 1;
                            hi = chars[j];
                        }
                    }
                    ranges.push((lo, hi));
                    j += 1;
                }
                if closed {
                    toks.push(Tok::Class(ranges, negated));
                    i = j + 1;
                    continue;
                }
                toks.push(Tok::Lit('['));
            }
            c => toks.push(Tok::Lit(c)),
        }
        i += 1;
    }
    toks
}

fn match_toks(toks: &[Tok], s: &[char]) -> bool {
    let Some((first, rest)) = toks.split_first() else {
        return s.is_empty();
    };
    match first {
        Tok::Lit(c) => s.first() == Some(c) && match_toks(rest, &s[1..]),
        Tok::Any => s.first().is_some_and(|c| *c != '/') && match_toks(rest, &s[1..]),
        Tok::Class(ranges, negated) => {
            s.first().is_some_and(|c| {
                *c != '/' && (ranges.iter().any(|(lo, hi)| lo <= c && c <= hi) != *negated)
            }) && match_toks(rest, &s[1..])
        }
        Tok::Star => {
            let mut i = 0;
            loop {
                if match_toks(rest, &s[i..]) {
                    return true;
                }
                if i >= s.len() || s[i] == '/' {
                    return false;
                }
                i += 1;
            }
        }
        Tok::All => true,
        Tok::DirsAny => {
            if match_toks(rest, s) {
                return true;
            }
            (0..s.len()).any(|i| s[i] == '/' && match_toks(rest, &s[i + 1..]))
        }
    }
}

/// The patterns of a `.dockerignore`, in order.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    pub patterns: Vec<Pattern>,
}

impl Ignore {
    /// Parse `.dockerignore` text (Docker's `ReadAll`: BOM, comments, trimming, cleaning).
    pub fn parse(text: &str) -> Ignore {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let patterns = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(Pattern::new)
            .collect();
        Ignore { patterns }
    }

    /// Read `<dir>/.dockerignore` (none → nothing excluded), keeping the Dockerfile and the
    /// ignore file itself in the context like `docker build` does.
    pub fn load(dir: &Path, dockerfile: &str) -> Result<Ignore, IgnoreError> {
        let path = dir.join(".dockerignore");
        let mut ig = match std::fs::read_to_string(&path) {
            Ok(t) => Ignore::parse(&t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ignore::default(),
            Err(e) => return Err(io(path)(e)),
        };
        for keep in [".dockerignore", dockerfile] {
            if ig.excludes(keep) {
                ig.patterns.extend(Pattern::new(&format!("!{keep}")));
            }
        }
        Ok(ig)
    }

    /// Docker's `MatchesOrParentMatches`: is this relative path excluded from the context?
    pub fn excludes(&self, path: &str) -> bool {
        let parent_dirs: Vec<&str> = match path.rfind('/') {
            Some(i) => path[..i].split('/').collect(),
            None => Vec::new(),
        };
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = p.matches_path(path);
            if !m {
                for i in 0..parent_dirs.len() {
                    if p.matches_path(&parent_dirs[..=i].join("/")) {
                        m = true;
                        break;
                    }
                }
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Whether an excluded directory must still be walked because an exception may re-include
    /// something inside it (Docker's prefix test on the exception patterns).
    fn must_descend(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&dir_slash))
    }
}

/// The relative paths (slash-separated, sorted, directories before their content) that go into
/// the context of `dir`.
pub fn context_files(dir: &Path, ignore: &Ignore) -> Result<Vec<String>, IgnoreError> {
    let mut out = Vec::new();
    walk(dir, "", ignore, &mut out)?;
    Ok(out)
}

fn walk(root: &Path, rel: &str, ig: &Ignore, out: &mut Vec<String>) -> Result<(), IgnoreError> {
    let here = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<(String, bool)> = Vec::new();
    for entry in std::fs::read_dir(&here).map_err(io(&here))? {
        let entry = entry.map_err(io(&here))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().map_err(io(entry.path()))?.is_dir();
        entries.push((name, is_dir));
    }
    entries.sort();
    for (name, is_dir) in entries {
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if ig.excludes(&path) {
            if is_dir && ig.must_descend(&path) {
                walk(root, &path, ig, out)?;
            }
            continue;
        }
        out.push(path.clone());
        if is_dir {
            walk(root, &path, ig, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> Ignore {
        Ignore::parse(text)
    }

    #[test]
    fn clean_like_go() {
        assert_eq!(clean("./foo/"), "foo");
        assert_eq!(clean("a//b/../c"), "a/c");
        assert_eq!(clean("/a/b"), "/a/b");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean(""), ".");
    }

    #[test]
    fn patterns_are_anchored_at_the_root() {
        let i = ig("foo\n");
        assert!(i.excludes("foo"));
        assert!(
            i.excludes("foo/bar"),
            "a matching parent excludes its content"
        );
        assert!(!i.excludes("a/foo"), "unlike gitignore, no match at depth");
        let i = ig("/foo\n");
        assert!(i.excludes("foo"));
    }

    #[test]
    fn star_question_and_classes_stop_at_slashes() {
        let i = ig("*.log\n");
        assert!(i.excludes("a.log"));
        assert!(!i.excludes("d/a.log"));
        let i = ig("*/*.tmp\n");
        assert!(i.excludes("d/x.tmp"));
        assert!(!i.excludes("x.tmp"));
        let i = ig("file?.txt\n");
        assert!(i.excludes("file1.txt"));
        assert!(!i.excludes("file12.txt"));
        let i = ig("[a-c].txt\n[^x]y\n");
        assert!(i.excludes("b.txt"));
        assert!(!i.excludes("d.txt"));
        assert!(i.excludes("zy"));
        assert!(!i.excludes("xy"));
        let i = ig("a\\*b\n");
        assert!(i.excludes("a*b"));
        assert!(!i.excludes("axb"));
    }

    #[test]
    fn double_star_spans_directories() {
        let i = ig("**/*.go\n");
        assert!(i.excludes("main.go"));
        assert!(i.excludes("a/b/c.go"));
        assert!(!i.excludes("a/b/c.rs"));
        let i = ig("a/**/z\n");
        assert!(i.excludes("a/z"));
        assert!(i.excludes("a/b/c/z"));
        let i = ig("build/**\n");
        assert!(i.excludes("build/x/y"));
        assert!(!i.excludes("builds"));
        let i = ig("**\n");
        assert!(i.excludes("anything/at/all"));
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let i = ig("*.md\n!README.md\n");
        assert!(i.excludes("CHANGES.md"));
        assert!(!i.excludes("README.md"));
        let i = ig("*.md\n!README*.md\nREADME-secret.md\n");
        assert!(i.excludes("README-secret.md"));
        assert!(!i.excludes("README-public.md"));
        // Comments, blank lines, trimming, BOM.
        let i = ig("\u{feff}# a comment\n\n   docs  \n!  docs/keep.txt\n");
        assert_eq!(i.patterns.len(), 2);
        assert!(i.excludes("docs/a.txt"));
        assert!(!i.excludes("docs/keep.txt"));
    }
}
