//! The DockerOps spelling `verb:target,key=value,...`, rewritten into conventional arguments
//! before clap sees them, using clap's own description of the verb's options, so both spellings
//! accept exactly the same keys.

use clap::CommandFactory;

use super::args::{Cli, GLOBAL_VALUE_OPTS, VERBS};
use super::error::UsageError;
use crate::suggest::{closest, parse_bool};

/// Index of the verb token: the first argument that is neither a global option nor its value.
pub(super) fn verb_index(args: &[String]) -> Option<usize> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            return None;
        }
        if GLOBAL_VALUE_OPTS.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        return Some(i);
    }
    None
}

/// One clap option of a verb: its long name, whether it takes a boolean, whether it may repeat.
struct VerbOption {
    long: String,
    is_bool: bool,
    repeats: bool,
}

/// The clap options of a verb (or of `dns <sub>`).
fn verb_options(cmd: &clap::Command) -> Vec<VerbOption> {
    cmd.get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            if long == "help" || long == "version" {
                return None;
            }
            let is_bool = a
                .get_value_names()
                .is_some_and(|v| v.iter().any(|n| n.as_str() == "BOOL"));
            Some(VerbOption {
                long: long.to_string(),
                is_bool,
                repeats: matches!(a.get_action(), clap::ArgAction::Append),
            })
        })
        .collect()
}

/// Rewrite `verb:target,k=v,...` into conventional arguments (unchanged when there is no `:`).
pub(super) fn translate(args: &[String]) -> Result<Vec<String>, UsageError> {
    let Some(vi) = verb_index(args) else {
        return Ok(args.to_vec());
    };
    let token = &args[vi];
    let (verb, rest) = match token.split_once(':') {
        Some((v, r)) => (v.to_string(), Some(r.to_string())),
        None => (token.clone(), None),
    };
    check_verb(&verb)?;
    let Some(rest) = rest else {
        return Ok(args.to_vec());
    };
    let mut out: Vec<String> = args[..vi].to_vec();
    out.push(verb.clone());

    let root = Cli::command();
    let mut cmd = root
        .find_subcommand(&verb)
        .cloned()
        .ok_or_else(|| UsageError::UnknownVerb {
            found: verb.clone(),
            suggestion: None,
        })?;
    let mut verb_label = verb.clone();
    let mut elements: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split(',').collect()
    };
    if cmd.has_subcommands() {
        // dns:serve,listen=... — the first element is the sub-verb.
        let sub = if elements.is_empty() {
            ""
        } else {
            elements.remove(0)
        };
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        let Some(found) = cmd.find_subcommand(sub).cloned() else {
            return Err(UsageError::UnknownVerb {
                found: format!("{verb}:{sub}"),
                suggestion: closest(sub, names.iter().map(String::as_str))
                    .map(|s| format!("{verb}:{s}")),
            });
        };
        out.push(sub.to_string());
        verb_label = format!("{verb}:{sub}");
        cmd = found;
    }
    let opts = verb_options(&cmd);
    let takes_target = cmd.get_positionals().any(|p| !p.is_last_set());
    let mut seen: Vec<String> = Vec::new();
    let mut target_given = false;
    for (n, el) in elements.iter().enumerate() {
        let el = el.trim();
        if el.is_empty() {
            continue;
        }
        match el.split_once('=') {
            None => {
                if n == 0 && takes_target {
                    out.push(el.to_string());
                    target_given = true;
                } else {
                    return Err(UsageError::Other(format!(
                        "unexpected '{el}' in '{token}' (expected key=value)"
                    )));
                }
            }
            Some((k, v)) => {
                let key = k.trim().to_lowercase();
                let v = v.trim();
                if key.is_empty() {
                    return Err(UsageError::EmptyKey(el.to_string()));
                }
                let long = key.replace('_', "-");
                let repeats = opts.iter().any(|o| o.long == long && o.repeats);
                if seen.contains(&key) && !repeats {
                    return Err(UsageError::DuplicateKey { key });
                }
                seen.push(key.clone());
                if key == "conf" || key == "project" {
                    out.push(format!("--{key}={v}"));
                    continue;
                }
                if key == "group" && n == 0 && !target_given && takes_target {
                    // `run:group=db`: the group is the target.
                    out.push(format!("group={v}"));
                    target_given = true;
                    continue;
                }
                let Some(VerbOption { is_bool, .. }) = opts.iter().find(|o| o.long == long) else {
                    let mut keys: Vec<String> =
                        opts.iter().map(|o| o.long.replace('-', "_")).collect();
                    keys.push("conf".into());
                    keys.push("project".into());
                    return Err(UsageError::UnknownKey {
                        verb: verb_label,
                        key,
                        suggestion: closest(k.trim(), keys.iter().map(String::as_str)),
                    });
                };
                if *is_bool {
                    let b = parse_bool(v).map_err(|_| UsageError::BadBool {
                        key: key.clone(),
                        value: v.to_string(),
                    })?;
                    out.push(format!("--{long}={b}"));
                } else {
                    out.push(format!("--{long}={v}"));
                }
            }
        }
    }
    out.extend(args[vi + 1..].iter().cloned());
    Ok(out)
}

fn check_verb(verb: &str) -> Result<(), UsageError> {
    if VERBS.contains(&verb) {
        return Ok(());
    }
    Err(UsageError::UnknownVerb {
        found: verb.to_string(),
        suggestion: closest(verb, VERBS.iter().copied()),
    })
}
