//! The architecture, checked on the source (README, "Architecture"): the arrows between modules
//! only go down the flow, there is no import cycle among the files of `src/`, and every line a
//! person reads is printed by an output module.
//!
//! The import graph is read from the text: `use` declarations and inline `crate::`/`super::`
//! paths, resolved to the file that defines the module they name. Test modules are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (e.g. ["engine", "apply"]) → source text without its test module.
fn sources() -> BTreeMap<Vec<String>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut mods = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap().with_extension("");
        let mut path: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if path.last().is_some_and(|l| l == "mod") {
            path.pop();
        }
        if path == ["lib"] || path == ["main"] {
            path.clear();
        }
        if path.iter().any(|p| p == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let text = match text.find("#[cfg(test)]\nmod tests {") {
            Some(i) => text[..i].to_string(),
            None => match text.find("#[cfg(test)]\npub(crate) mod tests {") {
                Some(i) => text[..i].to_string(),
                None => text,
            },
        };
        mods.insert(path, text);
    }
    mods
}

/// The module a path names, from the file `cur` (longest known prefix).
fn resolve(
    mods: &BTreeMap<Vec<String>, String>,
    cur: &[String],
    segs: &[&str],
) -> Option<Vec<String>> {
    let (mut base, rest): (Vec<String>, &[&str]) = match *segs.first()? {
        "crate" => (Vec::new(), &segs[1..]),
        "super" => {
            let mut b = cur.to_vec();
            b.pop();
            let mut r = &segs[1..];
            while r.first() == Some(&"super") {
                b.pop();
                r = &r[1..];
            }
            (b, r)
        }
        "self" => (cur.to_vec(), &segs[1..]),
        _ => (cur.to_vec(), segs),
    };
    let base_len = base.len();
    for k in (1..=rest.len()).rev() {
        base.truncate(base_len);
        base.extend(rest[..k].iter().map(|s| s.to_string()));
        if mods.contains_key(&base) {
            return Some(base);
        }
    }
    base.truncate(base_len);
    (mods.contains_key(&base) && base != cur).then_some(base)
}

fn idents(s: &str) -> Vec<&str> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// File → the files it imports from.
fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mods = sources();
    let mut g: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (cur, text) in &mods {
        let children: BTreeSet<&str> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix("pub ").unwrap_or(l);
                let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
                l.strip_prefix("mod ")?.strip_suffix(';')
            })
            .collect();
        let mut edges = BTreeSet::new();
        // `use a::b::{c, d::e};`
        for stmt in text.split("use ").skip(1) {
            let Some(end) = stmt.find(';') else { continue };
            let stmt = &stmt[..end];
            let head: Vec<&str> = stmt
                .split('{')
                .next()
                .unwrap_or_default()
                .split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let Some(first) = head.first() else { continue };
            if !["crate", "super", "self"].contains(first) && !children.contains(first) {
                continue;
            }
            let mut targets = Vec::new();
            if let Some(inner) = stmt.split_once('{').map(|(_, r)| r) {
                for item in inner.split(',') {
                    let mut t = head.clone();
                    t.extend(idents(item.split(" as ").next().unwrap_or_default()));
                    targets.push(t);
                }
            } else {
                targets.push(head.clone());
            }
            for t in targets {
                if let Some(m) = resolve(&mods, cur, &t) {
                    if &m != cur {
                        edges.insert(m);
                    }
                }
            }
        }
        // inline `crate::x::y`, `super::x`, and a child's `name::item` from its parent
        let words: Vec<&str> = text.split("::").collect();
        for (i, w) in words.iter().enumerate().take(words.len().saturating_sub(1)) {
            let Some(last) = idents(w).last().copied() else {
                continue;
            };
            if !w.ends_with(last) {
                continue;
            }
            let mut t = vec![last];
            for next in &words[i + 1..] {
                match idents(next).first() {
                    Some(n) if next.starts_with(n) => t.push(n),
                    _ => break,
                }
                if !next
                    .trim_start()
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_')
                {
                    break;
                }
            }
            // `crate::{a, b}` alone names no module: the `use` pass reads it.
            if t.len() > 1 && (["crate", "super"].contains(&last) || children.contains(last)) {
                if let Some(m) = resolve(&mods, cur, &t) {
                    if &m != cur {
                        edges.insert(m);
                    }
                }
            }
        }
        g.insert(cur.clone(), edges);
    }
    g
}

#[test]
fn no_import_cycle_among_the_files() {
    let g = graph();
    // Depth-first search for a back edge; report the cycle it closes.
    fn visit(
        n: &Vec<String>,
        g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m) {
                Some(1) => {
                    let from = stack.iter().position(|x| x == m).unwrap();
                    let mut cycle: Vec<String> =
                        stack[from..].iter().map(|p| p.join("::")).collect();
                    cycle.push(m.join("::"));
                    return Some(cycle);
                }
                None => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if !state.contains_key(n) {
            let cycle = visit(n, &g, &mut state, &mut Vec::new());
            assert!(
                cycle.is_none(),
                "import cycle: {}",
                cycle.unwrap().join(" -> ")
            );
        }
    }
}

/// The rank of each top-level module in the flow: a module imports only lower ranks.
fn rank(module: &str) -> u8 {
    match module {
        "" | "bin" => 10,
        "commands" => 9,
        "output" => 8,
        // the web dashboard: the live state below it, printed by nothing (the edge prints its URL)
        "ui" => 8,
        "cli" => 7,
        // a platform, live (`dops events`, the dashboard's state): the engine's events, the state
        // files, the DNS records file
        "live" => 7,
        "engine" => 6,
        // dops-init and the DNS server are programs of their own, beside the engine.
        "init" | "dns" => 6,
        "plan" => 5,
        "action" => 4,
        // the Compose importer: project's names and rules, never the engine
        "compose" => 4,
        "project" => 3,
        "observed" | "meta" => 2,
        _ => 1, // the leaves: labels, suggest, wildcard, dockerfile, state_file, tsig_key, …
    }
}

#[test]
fn arrows_only_go_down_the_flow() {
    let mut wrong = Vec::new();
    for (from, tos) in graph() {
        let a = from.first().map(String::as_str).unwrap_or("");
        for to in tos {
            let b = to.first().map(String::as_str).unwrap_or("");
            if a != b && rank(b) >= rank(a) {
                wrong.push(format!("{} -> {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the flow:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_programs_and_the_server_keep_to_themselves() {
    for (from, tos) in graph() {
        let a = from.first().map(String::as_str).unwrap_or("");
        for to in tos {
            let b = to.first().map(String::as_str).unwrap_or("");
            if a == b {
                continue;
            }
            let name = format!("{} -> {}", from.join("::"), to.join("::"));
            assert!(
                a != "dns",
                "dns imports nothing from the rest of dops: {name}"
            );
            assert!(
                !(a == "init" && (b == "engine" || b == "dns")),
                "dops-init never uses the engine or the DNS server: {name}"
            );
        }
    }
}

#[test]
fn only_the_output_modules_print() {
    let mut found = Vec::new();
    for (path, text) in sources() {
        let module = path.join("::");
        if module == "output::print" || module == "init::output" {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if ["println!(", "eprintln!(", "print!(", "eprint!("]
                .iter()
                .any(|m| code.contains(m))
            {
                found.push(format!("{module}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "printing outside output:\n{}",
        found.join("\n")
    );
}
