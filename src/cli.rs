//! What the user typed: clap for the conventional spelling, plus a translator for the DockerOps
//! spelling `verb:target,key=value,...`.
//!
//! `dops run:postgres,instance=master,persistent_data=True` is rewritten to
//! `dops run postgres --instance=master --persistent-data=true` before clap sees it, using clap's
//! own description of the verb's options, so both spellings accept exactly the same keys. The
//! low-level [`Cli`] is then resolved into an [`Invocation`] (see `action`).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::action::*;

/// A command line dops cannot run. Messages are what the user reads after `dops: error: `.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UsageError {
    /// `--help` / `--version`: not an error; print the text on stdout and exit 0.
    #[error("{0}")]
    Help(String),
    #[error("missing command (try 'dops --help')")]
    MissingVerb,
    #[error("unknown command '{found}'{}", did_you_mean(.suggestion))]
    UnknownVerb {
        found: String,
        suggestion: Option<String>,
    },
    #[error("unknown key '{key}' for '{verb}'{}", did_you_mean(.suggestion))]
    UnknownKey {
        verb: String,
        key: String,
        suggestion: Option<String>,
    },
    #[error("unknown option '{option}' for '{verb}'{}", did_you_mean(.suggestion))]
    UnknownOption {
        verb: String,
        option: String,
        suggestion: Option<String>,
    },
    #[error("invalid value '{value}' for '{key}': expected one of True/False, yes/no, 1/0")]
    BadBool { key: String, value: String },
    #[error("invalid value '{value}' for '{key}': {reason}")]
    BadValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("empty key in '{0}' (expected key=value)")]
    EmptyKey(String),
    #[error("key '{key}' given twice")]
    DuplicateKey { key: String },
    #[error("missing target for '{verb}' (e.g. 'dops {verb}:all' or 'dops {verb} <service>')")]
    MissingTarget { verb: String },
    #[error("'{verb}' needs one service, not '{target}' (e.g. 'dops {verb}:web,instance=one')")]
    NeedOneService { verb: String, target: String },
    #[error("{0}")]
    Other(String),
}

fn did_you_mean(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (did you mean '{s}'?)"),
        None => String::new(),
    }
}

/// Edit distance, for "did you mean".
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate, if it is close enough to be a plausible typo.
pub fn closest<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let found_l = found.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&found_l, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// True/False, yes/no, 1/0, in any case.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err("expected one of True/False, yes/no, 1/0".to_string()),
    }
}

fn bool_value(s: &str) -> Result<bool, String> {
    parse_bool(s)
}

// ---------------------------------------------------------------------------------------------
// The low-level command line (clap)
// ---------------------------------------------------------------------------------------------

/// dops: orchestrate whole Docker platforms (DockerOps syntax: `dops run:web,instance=two`).
#[derive(Debug, Parser)]
#[command(name = "dops", version, disable_help_subcommand = true)]
pub struct Cli {
    /// The project folder (default: the current folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// The run conf: `run.conf` by default, NAME gives `NAME.conf`.
    #[arg(long, global = true, value_name = "NAME")]
    pub conf: Option<String>,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
    /// More diagnostics (repeat for more); also DOPS_LOG.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub verb: Option<VerbCli>,
}

#[derive(Debug, Args)]
pub struct SelectCli {
    /// A service name (`*` wildcards), `all`, or `group=NAME`.
    pub target: Option<String>,
    /// The instance name (`*` wildcards).
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// Only the run conf entries of this group.
    #[arg(long, value_name = "NAME")]
    pub group: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// standard, published, persistent, master or debug.
    #[arg(long, value_name = "TYPE")]
    pub instance_type: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub persistent_data: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub persistent_opt: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub persistent_log: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub persistent_home: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub publish_ports: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub linked: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub safemode: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub interactive: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub nethost: Option<bool>,
    /// Replace instances that already run.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub replace: Option<bool>,
    /// Wait until every started instance is UP.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub wait: Option<bool>,
    /// Seconds to wait with --wait.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Print the plan, change nothing.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub dry_run: Option<bool>,
}

#[derive(Debug, Args)]
pub struct PlanCli {
    #[command(flatten)]
    pub run: RunCli,
    /// Which operation to plan: run (default), rerun, build or clean.
    #[arg(long, value_name = "VERB")]
    pub of: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub orphans: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub purge: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub no_cache: Option<bool>,
}

#[derive(Debug, Args)]
pub struct BuildCli {
    /// A service name (`*` wildcards) or `all`.
    pub target: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub no_cache: Option<bool>,
    /// Why this build happens (recorded in the image metadata).
    #[arg(long, value_name = "TEXT")]
    pub cause: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub dry_run: Option<bool>,
}

#[derive(Debug, Args)]
pub struct CleanCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// Also remove containers of services the project no longer has.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub orphans: Option<bool>,
    /// Also delete persistent data.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub purge: Option<bool>,
    /// Do not ask for confirmation.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub yes: Option<bool>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub dry_run: Option<bool>,
}

#[derive(Debug, Args)]
pub struct PsCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// Include stopped containers.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub all: Option<bool>,
}

#[derive(Debug, Args)]
pub struct ShellCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// The command to run instead of a shell (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogsCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// Follow the log.
    #[arg(short = 'f', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub follow: Option<bool>,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
}

#[derive(Debug, Args)]
pub struct StatusCli {
    #[command(flatten)]
    pub select: SelectCli,
    /// Refresh until interrupted.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub watch: Option<bool>,
}

#[derive(Debug, Args)]
pub struct DemoCli {
    /// The folder (default: the current folder).
    pub dir: Option<PathBuf>,
    /// Overwrite existing files.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = bool_value, value_name = "BOOL")]
    pub force: Option<bool>,
}

#[derive(Debug, Subcommand)]
pub enum DnsCli {
    /// Run the DNS server (what the dops-dns container runs).
    Serve {
        /// ADDR:PORT to listen on (repeatable).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Vec<String>,
        #[arg(long, value_name = "ZONE")]
        zone: Option<String>,
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u32>,
        #[arg(long, value_name = "SECONDS")]
        lease: Option<u64>,
        /// Upstream resolver for names outside the zone (repeatable).
        #[arg(long, value_name = "ADDR:PORT")]
        upstream: Vec<String>,
    },
    /// List the records the project's DNS holds.
    Records {
        #[arg(long, value_name = "ADDR:PORT")]
        server: Option<String>,
        #[arg(long, value_name = "ZONE")]
        zone: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum VerbCli {
    /// Build service images (parents first).
    Build(BuildCli),
    /// Run instances.
    Run(RunCli),
    /// Remove and run again.
    Rerun(RunCli),
    /// Stop and remove instances (data is kept unless --purge).
    Clean(CleanCli),
    /// List the project's instances.
    Ps(PsCli),
    /// Show what run (or --of build/clean/rerun) would do.
    Plan(PlanCli),
    /// A shell (or a command after `--`) inside an instance.
    #[command(alias = "ssh")]
    Shell(ShellCli),
    /// An instance's output.
    Logs(LogsCli),
    /// Details about instances.
    Info(SelectCli),
    /// The IP address of an instance.
    Getip(SelectCli),
    /// Image metadata of instances.
    Examine(SelectCli),
    /// Run the validate method of instances.
    Validate(SelectCli),
    /// Run the update method of instances.
    Update(SelectCli),
    /// The lifecycle state of instances.
    Status(StatusCli),
    /// Install the demo project into a folder.
    #[command(name = "install_demo", alias = "install-demo")]
    InstallDemo(DemoCli),
    /// Install, build and run the demo.
    Demo(DemoCli),
    /// The project's DNS.
    #[command(subcommand)]
    Dns(DnsCli),
}

/// Every verb name the user may type (aliases included).
pub const VERBS: &[&str] = &[
    "build",
    "run",
    "rerun",
    "clean",
    "ps",
    "plan",
    "shell",
    "ssh",
    "logs",
    "info",
    "getip",
    "examine",
    "validate",
    "update",
    "status",
    "install_demo",
    "install-demo",
    "demo",
    "dns",
];

const GLOBAL_VALUE_OPTS: &[&str] = &["--project", "--conf"];

// ---------------------------------------------------------------------------------------------
// Translation of the DockerOps spelling
// ---------------------------------------------------------------------------------------------

/// Index of the verb token: the first argument that is neither a global option nor its value.
fn verb_index(args: &[String]) -> Option<usize> {
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

/// The clap options of a verb (or of `dns <sub>`): (long name, is boolean).
fn verb_options(cmd: &clap::Command) -> Vec<(String, bool)> {
    cmd.get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            if long == "help" || long == "version" {
                return None;
            }
            let is_bool = a
                .get_value_names()
                .is_some_and(|v| v.iter().any(|n| n.as_str() == "BOOL"));
            Some((long.to_string(), is_bool))
        })
        .collect()
}

/// Rewrite `verb:target,k=v,...` into conventional arguments (unchanged when there is no `:`).
fn translate(args: &[String]) -> Result<Vec<String>, UsageError> {
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
                if seen.contains(&key) {
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
                let long = key.replace('_', "-");
                let Some((_, is_bool)) = opts.iter().find(|(l, _)| *l == long) else {
                    let mut keys: Vec<String> =
                        opts.iter().map(|(l, _)| l.replace('-', "_")).collect();
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

/// Turn a clap error into ours, with our wording.
fn from_clap(err: clap::Error, verb: &str) -> UsageError {
    let ctx = |k: ContextKind| -> Option<String> {
        match err.get(k)? {
            ContextValue::String(s) => Some(s.clone()),
            ContextValue::Strings(v) => v.first().cloned(),
            _ => None,
        }
    };
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            UsageError::Help(err.render().to_string())
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => UsageError::MissingVerb,
        ErrorKind::UnknownArgument => {
            let option = ctx(ContextKind::InvalidArg).unwrap_or_default();
            let suggestion = ctx(ContextKind::SuggestedArg);
            if !option.starts_with('-') {
                let hint = if parse_bool(&option).is_ok() {
                    " (a boolean option takes its value after '=', e.g. --persistent-data=false)"
                } else {
                    ""
                };
                return UsageError::Other(format!(
                    "unexpected argument '{option}' for '{verb}'{hint}"
                ));
            }
            UsageError::UnknownOption {
                verb: verb.to_string(),
                option,
                suggestion,
            }
        }
        ErrorKind::InvalidSubcommand => {
            let found = ctx(ContextKind::InvalidSubcommand).unwrap_or_default();
            UsageError::UnknownVerb {
                found: format!("{verb} {found}"),
                suggestion: ctx(ContextKind::SuggestedSubcommand).map(|s| format!("{verb} {s}")),
            }
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let arg = ctx(ContextKind::InvalidArg).unwrap_or_default();
            let key = arg
                .split([' ', '=', '['])
                .next()
                .unwrap_or_default()
                .to_string();
            let value = ctx(ContextKind::InvalidValue).unwrap_or_default();
            let reason = err
                .source()
                .map(|s| s.to_string())
                .unwrap_or_else(|| "not valid".to_string());
            if reason.starts_with("expected one of True/False") {
                return UsageError::BadBool { key, value };
            }
            UsageError::BadValue { key, value, reason }
        }
        _ => {
            let text = err.render().to_string();
            let line = text.lines().next().unwrap_or("invalid command line");
            UsageError::Other(line.trim_start_matches("error: ").to_string())
        }
    }
}

use std::error::Error as _;

// ---------------------------------------------------------------------------------------------
// Resolution into an Invocation
// ---------------------------------------------------------------------------------------------

/// Parse a command line (without the program name).
pub fn parse(args: &[String]) -> Result<Invocation, UsageError> {
    let translated = translate(args)?;
    let verb = verb_index(&translated)
        .map(|i| translated[i].clone())
        .unwrap_or_default();
    let argv: Vec<OsString> = std::iter::once(OsString::from("dops"))
        .chain(translated.iter().map(OsString::from))
        .collect();
    let matches = Cli::command()
        .try_get_matches_from(argv)
        .map_err(|e| from_clap(e, &verb))?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| from_clap(e, &verb))?;
    resolve(cli)
}

/// `--conf NAME` → the file name.
pub fn conf_file_name(name: &str) -> String {
    if name.ends_with(".conf") {
        name.to_string()
    } else {
        format!("{name}.conf")
    }
}

fn resolve_target(verb: &str, sel: SelectCli) -> Result<Option<Target>, UsageError> {
    let check = |s: &str, what: &str| -> Result<(), UsageError> {
        if s.is_empty() {
            return Err(UsageError::BadValue {
                key: what.to_string(),
                value: s.to_string(),
                reason: "must not be empty".to_string(),
            });
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*')))
        {
            return Err(UsageError::BadValue {
                key: what.to_string(),
                value: s.to_string(),
                reason: format!("'{c}' is not allowed (letters, digits, '-', '_', '.', '*')"),
            });
        }
        Ok(())
    };
    if let Some(i) = &sel.instance {
        check(i, "instance")?;
    }
    if let Some(g) = &sel.group {
        check(g, "group")?;
    }
    let target = match sel.target.as_deref() {
        None => sel.group.map(|name| Target::Group { name }),
        Some("all") => Some(match sel.group {
            Some(name) => Target::Group { name },
            None => Target::All,
        }),
        Some(t) if t.starts_with("group=") => {
            let name = t["group=".len()..].to_string();
            check(&name, "group")?;
            Some(Target::Group { name })
        }
        Some(t) => {
            check(t, "target")?;
            Some(Target::Select {
                service: t.to_string(),
                instance: sel.instance.clone(),
            })
        }
    };
    if let (Some(Target::All | Target::Group { .. }), Some(_)) = (&target, &sel.instance) {
        return Err(UsageError::Other(format!(
            "'{verb}': instance needs a service, not '{}'",
            target.as_ref().map(|t| t.to_string()).unwrap_or_default()
        )));
    }
    Ok(target)
}

fn required(verb: &str, t: Option<Target>) -> Result<Target, UsageError> {
    t.ok_or_else(|| UsageError::MissingTarget {
        verb: verb.to_string(),
    })
}

fn one_service(verb: &str, t: Target) -> Result<Target, UsageError> {
    match &t {
        Target::Select { service, .. } if !service.contains('*') => Ok(t),
        _ => Err(UsageError::NeedOneService {
            verb: verb.to_string(),
            target: t.to_string(),
        }),
    }
}

fn run_action(verb: &str, r: RunCli, rerun: bool) -> Result<RunAction, UsageError> {
    let group = r.select.group.clone();
    let target = required(verb, resolve_target(verb, r.select)?)?;
    if let Some(t) = &r.instance_type {
        if crate::project::InstanceType::parse(t).is_none() {
            return Err(UsageError::BadValue {
                key: "instance_type".into(),
                value: t.clone(),
                reason: format!(
                    "expected one of standard, published, persistent, master, debug{}",
                    did_you_mean(&closest(
                        t,
                        crate::project::InstanceType::NAMES.iter().copied()
                    ))
                ),
            });
        }
    }
    // With a service target, --group is the group the new instance joins; otherwise a filter.
    let group_override = match &target {
        Target::Select { .. } => group,
        _ => None,
    };
    Ok(RunAction {
        target,
        overrides: Overrides {
            instance_type: r.instance_type,
            group: group_override,
            persistent_data: r.persistent_data,
            persistent_opt: r.persistent_opt,
            persistent_log: r.persistent_log,
            persistent_home: r.persistent_home,
            publish_ports: r.publish_ports,
            linked: r.linked,
            safemode: r.safemode,
            interactive: r.interactive,
            nethost: r.nethost,
        },
        replace: rerun || r.replace.unwrap_or(false),
        wait: r.wait.unwrap_or(false),
        timeout_s: r.timeout,
        dry_run: r.dry_run.unwrap_or(false),
    })
}

fn resolve(cli: Cli) -> Result<Invocation, UsageError> {
    let global = GlobalOpts {
        project_dir: cli.project,
        conf: conf_file_name(cli.conf.as_deref().unwrap_or("run")),
        json: cli.json,
        verbose: cli.verbose,
    };
    let Some(verb) = cli.verb else {
        return Err(UsageError::MissingVerb);
    };
    let action = match verb {
        VerbCli::Build(b) => {
            let sel = SelectCli {
                target: b.target,
                instance: None,
                group: None,
            };
            Action::Build(BuildAction {
                target: required("build", resolve_target("build", sel)?)?,
                no_cache: b.no_cache.unwrap_or(false),
                cause: b.cause,
                dry_run: b.dry_run.unwrap_or(false),
            })
        }
        VerbCli::Run(r) => Action::Run(run_action("run", r, false)?),
        VerbCli::Rerun(r) => Action::Rerun(run_action("rerun", r, true)?),
        VerbCli::Plan(p) => {
            let of = match p.of.as_deref() {
                None | Some("run") => PlanOf::Run,
                Some("rerun") => PlanOf::Rerun,
                Some("build") => PlanOf::Build,
                Some("clean") => PlanOf::Clean,
                Some(o) => {
                    return Err(UsageError::BadValue {
                        key: "of".into(),
                        value: o.into(),
                        reason: format!(
                            "expected one of run, rerun, build, clean{}",
                            did_you_mean(&closest(o, ["run", "rerun", "build", "clean"]))
                        ),
                    })
                }
            };
            Action::Plan(PlanAction {
                of,
                run: run_action("plan", p.run, of == PlanOf::Rerun)?,
                orphans: p.orphans.unwrap_or(false),
                purge: p.purge.unwrap_or(false),
                no_cache: p.no_cache.unwrap_or(false),
            })
        }
        VerbCli::Clean(c) => Action::Clean(CleanAction {
            target: required("clean", resolve_target("clean", c.select)?)?,
            orphans: c.orphans.unwrap_or(false),
            purge: c.purge.unwrap_or(false),
            yes: c.yes.unwrap_or(false),
            dry_run: c.dry_run.unwrap_or(false),
        }),
        VerbCli::Ps(p) => Action::Ps(PsAction {
            target: resolve_target("ps", p.select)?,
            all: p.all.unwrap_or(false),
        }),
        VerbCli::Shell(s) => Action::Shell(ShellAction {
            target: one_service(
                "shell",
                required("shell", resolve_target("shell", s.select)?)?,
            )?,
            command: s.command,
        }),
        VerbCli::Logs(l) => Action::Logs(LogsAction {
            target: required("logs", resolve_target("logs", l.select)?)?,
            follow: l.follow.unwrap_or(false),
            tail: l.tail,
        }),
        VerbCli::Info(s) => Action::Info(TargetAction {
            target: resolve_target("info", s)?,
        }),
        VerbCli::Getip(s) => Action::Getip(TargetAction {
            target: Some(one_service(
                "getip",
                required("getip", resolve_target("getip", s)?)?,
            )?),
        }),
        VerbCli::Examine(s) => Action::Examine(TargetAction {
            target: resolve_target("examine", s)?,
        }),
        VerbCli::Validate(s) => Action::Validate(TargetAction {
            target: resolve_target("validate", s)?,
        }),
        VerbCli::Update(s) => Action::Update(TargetAction {
            target: resolve_target("update", s)?,
        }),
        VerbCli::Status(s) => Action::Status(StatusAction {
            target: resolve_target("status", s.select)?,
            watch: s.watch.unwrap_or(false),
        }),
        VerbCli::InstallDemo(d) => Action::InstallDemo(DemoAction {
            dir: d.dir,
            force: d.force.unwrap_or(false),
        }),
        VerbCli::Demo(d) => Action::Demo(DemoAction {
            dir: d.dir,
            force: d.force.unwrap_or(false),
        }),
        VerbCli::Dns(DnsCli::Serve {
            listen,
            zone,
            ttl,
            lease,
            upstream,
        }) => Action::Dns(DnsAction::Serve {
            listen,
            zone,
            ttl,
            lease,
            upstream,
        }),
        VerbCli::Dns(DnsCli::Records { server, zone }) => {
            Action::Dns(DnsAction::Records { server, zone })
        }
    };
    Ok(Invocation { global, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Invocation, UsageError> {
        let args: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    fn err(s: &str) -> String {
        p(s).expect_err(s).to_string()
    }

    #[test]
    fn both_spellings_give_the_same_action() {
        let pairs = [
            (
                "run:postgres,instance=master,persistent_data=True",
                "run postgres --instance master --persistent-data",
            ),
            ("run:all", "run all"),
            ("run:group=db", "run --group db"),
            ("run:group=db", "run group=db"),
            (
                "run:web,instance=two,linked=no,safemode=YES",
                "run web --instance two --linked=false --safemode",
            ),
            ("rerun:web,instance=two", "rerun web --instance two"),
            ("build:all,no_cache=1", "build all --no-cache"),
            ("build:web,cause=fix", "build web --cause fix"),
            (
                "clean:all,orphans=true,purge=True,yes=1",
                "clean all --orphans --purge --yes",
            ),
            ("clean:web*,dry_run=True", "clean web* --dry-run"),
            ("ps:all,all=True", "ps all --all"),
            ("ps", "ps"),
            ("plan:web,instance=two", "plan web --instance two"),
            ("plan:all,of=clean,purge=yes", "plan all --of clean --purge"),
            ("shell:web,instance=two", "shell web --instance two"),
            ("ssh:web,instance=two", "shell web --instance two"),
            (
                "logs:web,instance=two,follow=True",
                "logs web --instance two -f",
            ),
            ("info:web", "info web"),
            ("getip:web,instance=one", "getip web --instance one"),
            ("examine:web", "examine web"),
            ("validate:web", "validate web"),
            ("update:web,instance=one", "update web --instance one"),
            ("status:all,watch=True", "status all --watch"),
            ("install_demo", "install-demo"),
            ("demo", "demo"),
            (
                "dns:serve,listen=127.0.0.1:5353,zone=x.zone",
                "dns serve --listen 127.0.0.1:5353 --zone x.zone",
            ),
            ("dns:records", "dns records"),
            ("run:web,conf=prod", "--conf prod run web"),
            ("run:web,conf=prod.conf", "run web --conf prod"),
            (
                "run:web,timeout=30,wait=true,replace=true",
                "run web --timeout 30 --wait --replace",
            ),
        ];
        for (a, b) in pairs {
            assert_eq!(p(a).expect(a), p(b).expect(b), "{a} vs {b}");
        }
    }

    #[test]
    fn resolved_run_action() {
        let inv = p(
            "--json -vv run:postgres,instance=master,persistent_data=False,instance_type=standard",
        )
        .unwrap();
        assert!(inv.global.json);
        assert_eq!(inv.global.verbose, 2);
        assert_eq!(inv.global.conf, "run.conf");
        let Action::Run(r) = inv.action else { panic!() };
        assert_eq!(
            r.target,
            Target::Select {
                service: "postgres".into(),
                instance: Some("master".into())
            }
        );
        assert_eq!(r.overrides.persistent_data, Some(false));
        assert_eq!(r.overrides.publish_ports, None);
        assert_eq!(r.overrides.instance_type.as_deref(), Some("standard"));
        assert!(!r.replace);
    }

    #[test]
    fn rerun_replaces_and_group_joins() {
        let Action::Rerun(r) = p("rerun:group=front").unwrap().action else {
            panic!()
        };
        assert!(r.replace);
        // group= as the first element is the target; later it is the group the instance joins
        assert_eq!(
            r.target,
            Target::Group {
                name: "front".into()
            }
        );
        let Action::Run(r) = p("run:web,instance=one,group=front").unwrap().action else {
            panic!()
        };
        assert_eq!(r.overrides.group.as_deref(), Some("front"));
        let Action::Run(r) = p("run:all,group=front").unwrap().action else {
            panic!()
        };
        assert_eq!(
            r.target,
            Target::Group {
                name: "front".into()
            }
        );
    }

    #[test]
    fn booleans_any_case() {
        for (v, b) in [
            ("True", true),
            ("TRUE", true),
            ("yes", true),
            ("Yes", true),
            ("1", true),
            ("false", false),
            ("No", false),
            ("0", false),
            ("FALSE", false),
        ] {
            let Action::Run(r) = p(&format!("run:web,publish_ports={v}")).unwrap().action else {
                panic!()
            };
            assert_eq!(r.overrides.publish_ports, Some(b), "{v}");
            let Action::Run(r) = p(&format!("run web --publish-ports={v}")).unwrap().action else {
                panic!()
            };
            assert_eq!(r.overrides.publish_ports, Some(b), "{v}");
        }
    }

    #[test]
    fn shell_command_after_double_dash() {
        let Action::Shell(s) = p("shell:web,instance=one -- ls -l /").unwrap().action else {
            panic!()
        };
        assert_eq!(s.command, vec!["ls", "-l", "/"]);
        let Action::Shell(s) = p("ssh web --instance one -- ls").unwrap().action else {
            panic!()
        };
        assert_eq!(s.command, vec!["ls"]);
    }

    #[test]
    fn wildcard_targets() {
        let Action::Clean(c) = p("clean:web*,instance=*").unwrap().action else {
            panic!()
        };
        assert_eq!(
            c.target,
            Target::Select {
                service: "web*".into(),
                instance: Some("*".into())
            }
        );
        let Action::Clean(c) = p("clean:*").unwrap().action else {
            panic!()
        };
        assert!(c.target.matches("anything", "x", None));
    }

    #[test]
    fn conf_names() {
        assert_eq!(p("--conf prod plan:all").unwrap().global.conf, "prod.conf");
        assert_eq!(
            p("plan:all,conf=run_published.conf").unwrap().global.conf,
            "run_published.conf"
        );
        assert_eq!(
            p("--project /x plan:all").unwrap().global.project_dir,
            Some(PathBuf::from("/x"))
        );
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            err("rnu:web"),
            "unknown command 'rnu' (did you mean 'run'?)"
        );
        assert_eq!(
            err("bulid web"),
            "unknown command 'bulid' (did you mean 'build'?)"
        );
        assert_eq!(err("frobnicate"), "unknown command 'frobnicate'");
        assert_eq!(
            err("run:web,instanec=two"),
            "unknown key 'instanec' for 'run' (did you mean 'instance'?)"
        );
        assert_eq!(
            err("run:web,persistent_dat=True"),
            "unknown key 'persistent_dat' for 'run' (did you mean 'persistent_data'?)"
        );
        assert_eq!(
            err("run web --instanec two"),
            "unknown option '--instanec' for 'run' (did you mean '--instance'?)"
        );
        assert_eq!(
            err("run:web,persistent_data=maybe"),
            "invalid value 'maybe' for 'persistent_data': expected one of True/False, yes/no, 1/0"
        );
        assert_eq!(err("run web --persistent-data=maybe"), "invalid value 'maybe' for '--persistent-data': expected one of True/False, yes/no, 1/0");
        assert_eq!(
            err("run"),
            "missing target for 'run' (e.g. 'dops run:all' or 'dops run <service>')"
        );
        assert_eq!(
            err("run:web,instance=a,instance=b"),
            "key 'instance' given twice"
        );
        assert_eq!(err("run:web,=x"), "empty key in '=x' (expected key=value)");
        assert_eq!(err("run:web,instance_type=mastr"), "invalid value 'mastr' for 'instance_type': expected one of standard, published, persistent, master, debug (did you mean 'master'?)");
        assert_eq!(
            err("shell:all"),
            "'shell' needs one service, not 'all' (e.g. 'dops shell:web,instance=one')"
        );
        assert_eq!(
            err("dns:serv"),
            "unknown command 'dns:serv' (did you mean 'dns:serve'?)"
        );
        assert_eq!(err(""), "missing command (try 'dops --help')");
        assert_eq!(
            err("run:web,timeout=soon"),
            "invalid value 'soon' for '--timeout': invalid digit found in string"
        );
        assert_eq!(err("run:we/b"), "invalid value 'we/b' for 'target': '/' is not allowed (letters, digits, '-', '_', '.', '*')");
        assert_eq!(
            err("run:all,instance=one"),
            "'run': instance needs a service, not 'all'"
        );
        assert_eq!(
            err("build:web,instance=one"),
            "unknown key 'instance' for 'build'"
        );
        assert_eq!(
            err("run web --persistent-data false"),
            "unexpected argument 'false' for 'run' (a boolean option takes its value after '=', e.g. --persistent-data=false)"
        );
        assert_eq!(err("run web db"), "unexpected argument 'db' for 'run'");
        assert_eq!(
            err("run:web extra"),
            "unexpected argument 'extra' for 'run'"
        );
    }

    #[test]
    fn help_is_not_an_error() {
        assert!(matches!(p("--help"), Err(UsageError::Help(_))));
        assert!(matches!(p("run --help"), Err(UsageError::Help(_))));
        assert!(matches!(p("--version"), Err(UsageError::Help(_))));
    }

    #[test]
    fn closest_is_reasonable() {
        assert_eq!(closest("rn", VERBS.iter().copied()), Some("run".into()));
        assert_eq!(closest("xyzzy", VERBS.iter().copied()), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
