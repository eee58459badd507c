//! `dops completions bash|zsh|fish`: the shell completion script, and `dops __complete -- WORDS…`,
//! the hidden helper the script calls for the project's names (see `cli::complete`).
//!
//! The script is clap_complete's for the shell (verbs, options and their values, from the clap
//! description), then a wrapper that asks `dops __complete` first: when the word under the cursor
//! is a service, an instance or a group of the project the command line names, the wrapper offers
//! those; otherwise it hands over to the generated function. Install:
//!
//! ```text
//! bash:  source <(dops completions bash)            (in ~/.bashrc)
//! zsh:   source <(dops completions zsh)             (in ~/.zshrc, after compinit)
//! fish:  dops completions fish > ~/.config/fish/completions/dops.fish
//! ```

use std::path::PathBuf;

use crate::action::CompletionsAction;
use crate::cli::complete::{complete, project_options, Names};
use crate::output;

/// The wrapper of the bash script: the line up to the cursor, split at blanks (so `run:web,…` is
/// one word whatever COMP_WORDBREAKS says), asked to `dops __complete`; the candidates are then
/// cut after the last `:`/`=` the shell breaks words at, as bash-completion's
/// `__ltrim_colon_completions` does.
const BASH: &str = r#"
# The project's services, instances and groups (dops __complete), else the above.
_dops_complete_names() {
    local line="${COMP_LINE:0:COMP_POINT}" out
    local -a words
    read -r -a words <<< "$line"
    [[ -z "$line" || "$line" =~ [[:space:]]$ ]] && words+=("")
    local cur="${words[${#words[@]}-1]}"
    if out="$("${words[0]}" __complete -- "${words[@]}" 2>/dev/null)"; then
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$out" -- "$cur"))
        local breaks="${COMP_WORDBREAKS//[^:=]/}"
        if [[ -n "$breaks" ]]; then
            local prefix="${cur%"${cur##*[$breaks]}"}" i
            for i in "${!COMPREPLY[@]}"; do COMPREPLY[i]="${COMPREPLY[i]#"$prefix"}"; done
        fi
        return 0
    fi
    _dops "$@"
}
complete -F _dops_complete_names -o bashdefault -o default dops
"#;

const ZSH: &str = r#"
# The project's services, instances and groups (dops __complete), else the above.
_dops_complete_names() {
    local out
    out="$(${words[1]} __complete -- "${(@)words[1,CURRENT]}" 2>/dev/null)"
    if [[ $? -eq 0 ]]; then
        [[ -n "$out" ]] && compadd -Q -- "${(@f)out}"
        return 0
    fi
    _dops "$@"
}
compdef _dops_complete_names dops
"#;

const FISH: &str = r#"
# The project's services, instances and groups (dops __complete).
function __dops_complete_names
    set -l words (commandline -opc) (commandline -ct)
    command $words[1] __complete -- $words 2>/dev/null
end
complete -c dops -a '(__dops_complete_names)'
"#;

/// The script for one shell (`bash`, `zsh`, `fish`; the parser accepts no other).
pub fn script(shell: &str) -> String {
    use clap_complete::Shell;
    let (generator, wrapper) = match shell {
        "zsh" => (Shell::Zsh, ZSH),
        "fish" => (Shell::Fish, FISH),
        _ => (Shell::Bash, BASH),
    };
    let mut buf = Vec::new();
    clap_complete::generate(generator, &mut crate::cli::command(), "dops", &mut buf);
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    text.push_str(wrapper);
    text
}

pub fn execute(action: &CompletionsAction) -> anyhow::Result<i32> {
    output::out(&script(&action.shell));
    Ok(0)
}

/// `dops __complete [--] WORDS…`: the candidates, one a line (exit 0), or nothing (exit 1) when
/// the last word is not a name. Never an error: a project that does not load offers the folders
/// of its `services/`.
pub fn names(args: &[String]) -> i32 {
    let words = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    let (project, conf) = project_options(words);
    let dir = match project {
        Some(p) => PathBuf::from(p),
        None => match std::env::current_dir() {
            Ok(d) => d,
            Err(_) => return 1,
        },
    };
    let conf = crate::cli::conf_file_name(conf.as_deref().unwrap_or("run"));
    let names = project_names(&dir, &conf);
    match complete(words, &names) {
        Some(candidates) => {
            let mut text = candidates.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            output::out(&text);
            0
        }
        None => 1,
    }
}

fn project_names(dir: &std::path::Path, conf: &str) -> Names {
    let mut names = Names::default();
    match crate::project::load(dir, conf) {
        Ok(p) => {
            names.services = p.services.keys().cloned().collect();
            for e in &p.entries {
                if let Some(i) = &e.instance {
                    names.instances.push((e.service.clone(), i.clone()));
                }
                if let Some(g) = &e.group {
                    names.groups.push(g.clone());
                }
            }
        }
        Err(_) => {
            names.services = std::fs::read_dir(dir.join("services"))
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .filter(|e| e.path().is_dir())
                        .filter_map(|e| e.file_name().to_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    names.services.sort();
    names.services.dedup();
    names.groups.sort();
    names.groups.dedup();
    names
}
