//! Completing the project's own names: what `dops __complete -- WORDS…` answers for the shell
//! scripts of `dops completions bash|zsh|fish`.
//!
//! The scripts are clap_complete's (verbs and options, from the clap description), wrapped by a
//! function that first asks `dops __complete` with the words up to the cursor. When the word
//! under the cursor is a service, an instance or a group, it answers the candidates (exit 0);
//! otherwise it answers nothing (exit 1) and the generated completion does the rest. So the
//! names come from the project the command line names (`--project`, `--conf`) at the moment of
//! completing, and both spellings work: `dops run web --instance o…` and `dops run:web,instance=o…`.
//!
//! clap_complete's own dynamic engine (`unstable-dynamic`) would do this too, but it is not a
//! stable API yet; this helper is small and its rules are tested here.

use clap::CommandFactory;

use super::args::{Cli, GLOBAL_VALUE_OPTS};

/// The names a project offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// Services (sorted, unique).
    pub services: Vec<String>,
    /// (service, instance) of run.conf (in file order).
    pub instances: Vec<(String, String)>,
    /// Groups (sorted, unique).
    pub groups: Vec<String>,
}

impl Names {
    fn instances_of(&self, service: Option<&str>) -> Vec<String> {
        let mut v: Vec<String> = self
            .instances
            .iter()
            .filter(|(s, _)| service.is_none_or(|want| want == s || want.contains('*')))
            .map(|(_, i)| i.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// The verbs whose first argument is a target, and what that target may be.
fn target_kind(verb: &str) -> Option<TargetKind> {
    Some(match verb {
        "run" | "rerun" | "up" | "clean" | "plan" | "ps" | "logs" | "info" | "examine"
        | "validate" | "update" | "status" | "events" => TargetKind::AllOrGroup,
        "build" => TargetKind::All,
        "shell" | "ssh" | "getip" => TargetKind::One,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetKind {
    /// A service, `all` or `group=NAME`.
    AllOrGroup,
    /// A service or `all`.
    All,
    /// One service.
    One,
}

fn targets(kind: TargetKind, names: &Names, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = names
        .services
        .iter()
        .map(|s| format!("{prefix}{s}"))
        .collect();
    if kind != TargetKind::One {
        v.push(format!("{prefix}all"));
    }
    if kind == TargetKind::AllOrGroup {
        v.extend(names.groups.iter().map(|g| format!("{prefix}group={g}")));
    }
    v
}

/// The global options of the words before the verb: `--project DIR`, `--conf NAME`.
pub fn project_options(words: &[String]) -> (Option<String>, Option<String>) {
    let (mut project, mut conf) = (None, None);
    let mut i = 1;
    while i < words.len().saturating_sub(1) {
        let w = &words[i];
        let take = |name: &str| -> Option<String> {
            if w == name {
                return words.get(i + 1).cloned();
            }
            w.strip_prefix(name)?.strip_prefix('=').map(str::to_string)
        };
        if let Some(v) = take("--project") {
            project = Some(v);
        } else if let Some(v) = take("--conf") {
            conf = Some(v);
        }
        i += 1;
    }
    (project, conf)
}

/// The long options of a verb that take the next word as their value (`--timeout N`), and
/// those given as `--x=v` only (the booleans).
fn value_options(verb: &str) -> Vec<String> {
    let cmd = Cli::command();
    let Some(sub) = cmd.find_subcommand(verb) else {
        return Vec::new();
    };
    sub.get_arguments()
        .filter(|a| a.get_action().takes_values() && !a.is_require_equals_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect()
}

/// The candidates for the last word of `words` (`words[0]` is the program), or None when it is
/// not a name (the generated completion completes verbs and options).
pub fn complete(words: &[String], names: &Names) -> Option<Vec<String>> {
    let (cur, before) = words.split_last()?;
    let before = before.get(1..).unwrap_or_default();
    // The verb: the first word that is neither a global option nor its value.
    let mut i = 0;
    let mut verb_at = None;
    while i < before.len() {
        let w = &before[i];
        if GLOBAL_VALUE_OPTS.contains(&w.as_str()) {
            i += 2;
            continue;
        }
        if !w.starts_with('-') {
            verb_at = Some(i);
            break;
        }
        i += 1;
    }
    let Some(v) = verb_at else {
        // The word under the cursor is the verb: names only in the DockerOps spelling.
        return dockerops(cur, names);
    };
    let verb = before[v].as_str();
    let kind = target_kind(verb)?;
    let after = &before[v + 1..];
    let takes_value = value_options(verb);
    let mut positionals = Vec::new();
    let mut j = 0;
    while j < after.len() {
        let w = &after[j];
        if w == "--" {
            return None;
        }
        if takes_value.contains(w) {
            j += 2;
            continue;
        }
        if !w.starts_with('-') {
            positionals.push(w.as_str());
        }
        j += 1;
    }
    let prev = after.last().map(String::as_str);
    let service = positionals.first().copied();
    match prev {
        Some("--instance") => return Some(names.instances_of(service)),
        Some("--group") => return Some(names.groups.clone()),
        Some(p) if takes_value.iter().any(|t| t == p) => return None,
        _ => {}
    }
    if cur.starts_with("--instance=") {
        return Some(
            names
                .instances_of(service)
                .into_iter()
                .map(|i| format!("--instance={i}"))
                .collect(),
        );
    }
    if cur.starts_with('-') || !positionals.is_empty() {
        return None;
    }
    Some(targets(kind, names, ""))
}

/// `verb:target,instance=…` under the cursor.
fn dockerops(cur: &str, names: &Names) -> Option<Vec<String>> {
    let (verb, rest) = cur.split_once(':')?;
    let kind = target_kind(verb)?;
    let head = format!("{verb}:");
    let Some((done, last)) = rest.rsplit_once(',') else {
        return Some(targets(kind, names, &head));
    };
    let service = done.split(',').next().filter(|s| !s.contains('='));
    let prefix = format!("{head}{done},");
    let has_instance = done.split(',').any(|e| e.starts_with("instance="));
    if !has_instance && (last.starts_with("instance=") || !last.contains('=')) {
        let mut v: Vec<String> = names
            .instances_of(service)
            .into_iter()
            .map(|i| format!("{prefix}instance={i}"))
            .collect();
        if !last.contains('=') && service.is_some() {
            v.push(format!("{prefix}instance="));
        }
        return Some(v);
    }
    if last.starts_with("group=") {
        return Some(
            names
                .groups
                .iter()
                .map(|g| format!("{prefix}group={g}"))
                .collect(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            services: vec!["db".into(), "web".into()],
            instances: vec![
                ("db".into(), "master".into()),
                ("web".into(), "one".into()),
                ("web".into(), "two".into()),
            ],
            groups: vec!["front".into()],
        }
    }

    fn c(line: &[&str]) -> Option<Vec<String>> {
        let words: Vec<String> = line.iter().map(|s| s.to_string()).collect();
        complete(&words, &names())
    }

    fn v(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn the_target_of_a_verb() {
        assert_eq!(
            c(&["dops", "run", ""]),
            v(&["db", "web", "all", "group=front"])
        );
        assert_eq!(
            c(&["dops", "run", "w"]),
            v(&["db", "web", "all", "group=front"])
        );
        assert_eq!(c(&["dops", "build", ""]), v(&["db", "web", "all"]));
        assert_eq!(c(&["dops", "shell", ""]), v(&["db", "web"]));
        assert_eq!(
            c(&["dops", "events", "--since", "5m", ""]),
            v(&["db", "web", "all", "group=front"])
        );
        assert_eq!(
            c(&["dops", "--project", "/p", "-v", "logs", ""]),
            v(&["db", "web", "all", "group=front"])
        );
        // options with a value are skipped; the target is already there
        assert_eq!(
            c(&["dops", "run", "--timeout", "5", ""]),
            v(&["db", "web", "all", "group=front"])
        );
        assert_eq!(c(&["dops", "run", "web", ""]), None);
        assert_eq!(c(&["dops", "run", "--timeout", ""]), None);
        assert_eq!(c(&["dops", "run", "--wa"]), None);
        assert_eq!(c(&["dops", "shell", "web", "--", ""]), None);
        // not a verb with a target, or the verb itself
        assert_eq!(c(&["dops", "demo", ""]), None);
        assert_eq!(c(&["dops", "completions", ""]), None);
        assert_eq!(c(&["dops", "ui", ""]), None);
        assert_eq!(c(&["dops", "ru"]), None);
        assert_eq!(c(&["dops", ""]), None);
    }

    #[test]
    fn instances_and_groups() {
        assert_eq!(
            c(&["dops", "run", "web", "--instance", ""]),
            v(&["one", "two"])
        );
        assert_eq!(
            c(&["dops", "run", "--instance", ""]),
            v(&["master", "one", "two"])
        );
        assert_eq!(
            c(&["dops", "clean", "db", "--instance=m"]),
            v(&["--instance=master"])
        );
        assert_eq!(c(&["dops", "run", "--group", ""]), v(&["front"]));
    }

    #[test]
    fn the_dockerops_spelling() {
        assert_eq!(
            c(&["dops", "run:"]),
            v(&["run:db", "run:web", "run:all", "run:group=front"])
        );
        assert_eq!(c(&["dops", "-v", "getip:w"]), v(&["getip:db", "getip:web"]));
        assert_eq!(
            c(&["dops", "run:web,instance="]),
            v(&["run:web,instance=one", "run:web,instance=two"])
        );
        assert_eq!(
            c(&["dops", "clean:web,"]),
            v(&[
                "clean:web,instance=one",
                "clean:web,instance=two",
                "clean:web,instance="
            ])
        );
        assert_eq!(c(&["dops", "run:web,instance=one,"]), None);
        assert_eq!(c(&["dops", "run:web,wait=tr"]), None);
        assert_eq!(c(&["dops", "demo:"]), None);
        assert_eq!(c(&["dops", "nosuch:"]), None);
    }

    #[test]
    fn the_project_the_command_line_names() {
        let w = |l: &[&str]| -> Vec<String> { l.iter().map(|s| s.to_string()).collect() };
        assert_eq!(
            project_options(&w(&["dops", "--project", "/p", "--conf=prod", "run", ""])),
            (Some("/p".into()), Some("prod".into()))
        );
        assert_eq!(
            project_options(&w(&["dops", "run", "--project=/q", ""])),
            (Some("/q".into()), None)
        );
        assert_eq!(project_options(&w(&["dops", "--project"])), (None, None));
    }
}
