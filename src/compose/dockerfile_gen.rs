//! Dockerfile text for an imported service: the build's own Dockerfile cut at its `target`
//! stage, its `ARG` defaults set from Compose's `args`, `FROM` lines naming an image another
//! service builds pointed at that service's dops image, and the lines the Compose keys add.

use std::collections::BTreeMap;

use crate::dockerfile::lines;

/// A Dockerfile string in exec form: `["a","b"]` (JSON, which is what Docker reads).
pub fn exec_form(words: &[String]) -> String {
    serde_json::to_string(words).unwrap_or_else(|_| "[]".into())
}

/// A double-quoted Dockerfile value (`LABEL`, `ARG` defaults): `"`, `\` and `$` escaped.
pub fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The FROM instructions: (1-based line, words after FROM without flags).
fn froms(text: &str) -> Vec<(usize, Vec<String>)> {
    lines(text)
        .into_iter()
        .filter(|l| !l.is_comment)
        .filter_map(|l| {
            let mut words = l.text.split_whitespace();
            let instr = words.next()?;
            instr.eq_ignore_ascii_case("FROM").then(|| {
                (
                    l.number,
                    words
                        .filter(|w| !w.starts_with("--"))
                        .map(str::to_string)
                        .collect(),
                )
            })
        })
        .collect()
}

/// Keep the stages up to and including `target` (dops builds a Dockerfile's last stage). Err
/// with the stages there are when no stage has that name.
pub fn cut_at_stage(text: &str, target: &str) -> Result<String, Vec<String>> {
    let fs = froms(text);
    let stage_of = |w: &Vec<String>| match w.as_slice() {
        [_, a, name] if a.eq_ignore_ascii_case("as") => Some(name.clone()),
        _ => None,
    };
    let Some(i) = fs
        .iter()
        .position(|(_, w)| stage_of(w).is_some_and(|s| s.eq_ignore_ascii_case(target)))
    else {
        return Err(fs.iter().filter_map(|(_, w)| stage_of(w)).collect());
    };
    let Some((next_line, _)) = fs.get(i + 1) else {
        return Ok(text.to_string());
    };
    let mut out: String = text
        .lines()
        .take(next_line - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    while out.ends_with("\n\n") {
        out.pop();
    }
    Ok(out)
}

/// Set the default of every `ARG NAME[=…]` named in `args` (a build argument given by Compose
/// becomes the default dops builds with). Returns the text and the names no ARG declares.
pub fn set_arg_defaults(text: &str, args: &[(String, String)]) -> (String, Vec<String>) {
    let mut used: Vec<&str> = Vec::new();
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start();
        let is_arg = trimmed
            .get(..3)
            .is_some_and(|w| w.eq_ignore_ascii_case("ARG"))
            && trimmed.get(3..).is_some_and(|r| r.starts_with([' ', '\t']))
            && !body.trim_end().ends_with('\\');
        if !is_arg {
            out.push_str(line);
            continue;
        }
        let indent = &body[..body.len() - trimmed.len()];
        let mut words: Vec<String> = Vec::new();
        let mut changed = false;
        for w in split_arg_words(trimmed.get(3..).unwrap_or_default().trim()) {
            let name = w.split('=').next().unwrap_or_default().to_string();
            match args.iter().find(|(n, _)| *n == name) {
                Some((n, v)) => {
                    used.push(n);
                    changed = true;
                    words.push(format!("{n}={}", quoted(v)));
                }
                None => words.push(w),
            }
        }
        if changed {
            out.push_str(&format!("{indent}ARG {}", words.join(" ")));
            out.push_str(&line[body.len()..]);
        } else {
            out.push_str(line);
        }
    }
    let unused = args
        .iter()
        .filter(|(n, _)| !used.contains(&n.as_str()))
        .map(|(n, _)| n.clone())
        .collect();
    (out, unused)
}

/// `A=1 B="x y" C` → the words, quotes kept.
fn split_arg_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Point `FROM <image>` lines at other images (`myapp/base` → `<project>/base`).
pub fn rewrite_froms(text: &str, images: &BTreeMap<String, String>) -> String {
    if images.is_empty() {
        return text.to_string();
    }
    let targets: Vec<usize> = froms(text)
        .into_iter()
        .filter(|(_, w)| w.first().is_some_and(|i| images.contains_key(i)))
        .map(|(n, _)| n)
        .collect();
    text.split_inclusive('\n')
        .enumerate()
        .map(|(i, line)| {
            if !targets.contains(&(i + 1)) {
                return line.to_string();
            }
            let mut out = line.to_string();
            for (from, to) in images {
                let words: Vec<&str> = line.split_whitespace().collect();
                if words.iter().skip(1).any(|w| w == from) {
                    out = words
                        .iter()
                        .map(|w| if w == from { to.as_str() } else { w })
                        .collect::<Vec<_>>()
                        .join(" ")
                        + if line.ends_with('\n') { "\n" } else { "" };
                    break;
                }
            }
            out
        })
        .collect()
}

/// The `HEALTHCHECK` of the final stage: Some(Ok((test, flags, line))) with the flags as
/// (name, value) (`interval`, `timeout`, `start-period`, `start-interval`, `retries`), the test
/// as exec-form words or a shell line; Some(Err(line)) for `HEALTHCHECK NONE` or one not read.
#[allow(clippy::type_complexity)]
pub fn healthcheck(
    text: &str,
) -> Option<Result<(Result<Vec<String>, String>, Vec<(String, String)>, usize), usize>> {
    let mut found = None;
    for l in lines(text).into_iter().filter(|l| !l.is_comment) {
        let t = l.text.trim();
        let instr = t.split_whitespace().next().unwrap_or_default();
        if instr.eq_ignore_ascii_case("FROM") {
            found = None;
        } else if instr.eq_ignore_ascii_case("HEALTHCHECK") {
            found = Some((l.number, t[instr.len()..].trim().to_string()));
        }
    }
    let (line, rest) = found?;
    let mut rest = rest.as_str();
    let mut flags = Vec::new();
    while let Some(r) = rest.strip_prefix("--") {
        let end = r.find(char::is_whitespace).unwrap_or(r.len());
        let (name, value) = r[..end].split_once('=').unwrap_or((&r[..end], ""));
        flags.push((name.to_string(), value.to_string()));
        rest = r[end..].trim_start();
    }
    let words = rest.split_whitespace().next().unwrap_or_default();
    if !words.eq_ignore_ascii_case("CMD") {
        return Some(Err(line));
    }
    let cmd = rest[3..].trim();
    let test = match serde_json::from_str::<Vec<String>>(cmd) {
        Ok(words) if cmd.starts_with('[') => Ok(words),
        _ => Err(cmd.to_string()),
    };
    Some(Ok((test, flags, line)))
}

/// `FROM <project>/x` means a project service to dops: an image that only happens to start with
/// the project's name (`gitea/gitea` in a project named gitea) is written `docker.io/gitea/gitea`,
/// the same image, so dops does not take it for one. `keep`: the project images meant.
pub fn qualify_hub_images(text: &str, project: &str, keep: &[String]) -> String {
    let prefix = format!("{project}/");
    let mut map = BTreeMap::new();
    for (_, words) in froms(text) {
        if let Some(image) = words.first() {
            if image.starts_with(&prefix)
                && !keep
                    .iter()
                    .any(|k| image == k || image.starts_with(&format!("{k}:")))
            {
                map.insert(image.clone(), format!("docker.io/{image}"));
            }
        }
    }
    rewrite_froms(text, &map)
}

/// BuildKit-only syntax dops' classic builder cannot build: (line, what).
pub fn buildkit_only(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        let lower = t.to_ascii_lowercase();
        if lower.starts_with('#') {
            continue;
        }
        for (flag, what) in [
            ("--mount=", "RUN --mount"),
            ("--chmod=", "--chmod"),
            ("--link", "COPY --link"),
            ("--network=", "RUN --network"),
            ("--security=", "RUN --security"),
            ("--parents", "COPY --parents"),
            ("--exclude=", "COPY --exclude"),
        ] {
            if lower.contains(flag) {
                out.push((i + 1, what.to_string()));
            }
        }
        if t.contains("<<") && (lower.starts_with("run") || lower.starts_with("copy")) {
            out.push((i + 1, "a heredoc".to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &str = "\
# syntax comment
FROM node:20 AS deps
RUN npm ci

FROM deps AS dev
CMD [\"npm\", \"run\", \"dev\"]

FROM deps AS build
RUN npm run build
FROM nginx:alpine
COPY --from=build /app/dist /usr/share/nginx/html
";

    #[test]
    fn cut_at_a_target_stage() {
        let dev = cut_at_stage(MULTI, "dev").unwrap();
        assert!(dev.ends_with("CMD [\"npm\", \"run\", \"dev\"]\n"), "{dev}");
        assert!(!dev.contains("nginx"));
        assert_eq!(
            crate::dockerfile::base_image(&dev).as_deref(),
            Some("node:20")
        );
        assert_eq!(cut_at_stage(MULTI, "DEPS").unwrap().lines().count(), 3);
        assert_eq!(
            cut_at_stage(MULTI, "prod").unwrap_err(),
            vec!["deps", "dev", "build"]
        );
        let last = "FROM a AS one\nFROM b AS two\nRUN x\n";
        assert_eq!(cut_at_stage(last, "two").unwrap(), last);
    }

    #[test]
    fn arg_defaults_from_compose_args() {
        let text = "ARG NODE_VERSION=18\nFROM node:${NODE_VERSION}\n  arg APP_ENV\nARG A=1 B=\"x y\" C\nRUN echo $APP_ENV\n";
        let (out, unused) = set_arg_defaults(
            text,
            &[
                ("NODE_VERSION".into(), "20".into()),
                ("APP_ENV".into(), "prod $x".into()),
                ("B".into(), "z".into()),
                ("MISSING".into(), "1".into()),
            ],
        );
        assert_eq!(
            out,
            "ARG NODE_VERSION=\"20\"\nFROM node:${NODE_VERSION}\n  ARG APP_ENV=\"prod \\$x\"\nARG A=1 B=\"z\" C\nRUN echo $APP_ENV\n"
        );
        assert_eq!(unused, vec!["MISSING"]);
    }

    #[test]
    fn froms_pointed_at_project_images() {
        let images = BTreeMap::from([("myapp/base:latest".to_string(), "shop/base".to_string())]);
        let out = rewrite_froms(
            "FROM myapp/base:latest AS b\nRUN x\nFROM --platform=linux/amd64 myapp/base:latest\n",
            &images,
        );
        assert_eq!(
            out,
            "FROM shop/base AS b\nRUN x\nFROM --platform=linux/amd64 shop/base\n"
        );
    }

    #[test]
    fn the_final_stage_healthcheck() {
        let (test, flags, line) = healthcheck(
            "FROM a\nHEALTHCHECK CMD false\nFROM b\nHEALTHCHECK --interval=5s --retries=2 \\\n  CMD [\"curl\", \"-f\", \"http://localhost\"]\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            test,
            Ok(vec![
                "curl".to_string(),
                "-f".into(),
                "http://localhost".into()
            ])
        );
        assert_eq!(
            flags,
            vec![
                ("interval".to_string(), "5s".to_string()),
                ("retries".into(), "2".into())
            ]
        );
        assert_eq!(line, 4);
        let (test, _, _) = healthcheck("FROM a\nHEALTHCHECK CMD pg_isready || exit 1\n")
            .unwrap()
            .unwrap();
        assert_eq!(test, Err("pg_isready || exit 1".to_string()));
        assert_eq!(healthcheck("FROM a\nHEALTHCHECK NONE\n"), Some(Err(2)));
        assert_eq!(healthcheck("FROM a\nHEALTHCHECK CMD x\nFROM b\n"), None);
    }

    #[test]
    fn images_named_like_the_project_are_qualified() {
        assert_eq!(
            qualify_hub_images(
                "FROM gitea/gitea:1.22\nFROM gitea/base\n",
                "gitea",
                &["gitea/base".into()]
            ),
            "FROM docker.io/gitea/gitea:1.22\nFROM gitea/base\n"
        );
    }

    #[test]
    fn buildkit_syntax_is_found() {
        let found = buildkit_only(
            "# syntax=docker/dockerfile:1\nFROM x\nRUN --mount=type=cache,target=/c make\nCOPY --chmod=755 a /a\nRUN <<EOF\necho\nEOF\n",
        );
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(buildkit_only("FROM x\nRUN make\nCOPY --from=b /a /a\n").is_empty());
    }

    #[test]
    fn exec_form_and_quotes() {
        assert_eq!(
            exec_form(&["sh".into(), "-c".into(), "echo \"hi\"".into()]),
            r#"["sh","-c","echo \"hi\""]"#
        );
        assert_eq!(quoted("a \"b\" $c\\"), r#""a \"b\" \$c\\""#);
    }
}
