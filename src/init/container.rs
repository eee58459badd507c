//! The `container` personality of dops-init: the in-container API of the "container as a
//! package" idea.
//!
//! dops-init answers to it when invoked under the name `container` (a link to
//! `/dops/bin/dops-init`) or as `dops-init container …`:
//!
//! ```text
//! container --metadata [--all]   this image's metadata as JSON (--all: the whole chain, oldest first)
//! container --examine [--json]   the readable report: methods, then every image of the chain
//! container --validate           run the VALIDATE method; its exit code is ours
//! container --update             run the UPDATE method
//! container --monitor            run the MONITOR method (prints its JSON)
//! container --start              run the START method
//! ```
//!
//! It reads `/dops/meta/*.json` (the chain written at build) and `/dops/init.d/*.json` (the
//! `methods` key, merged in file-name order: what this container really declares). The root of
//! both is `/` unless `DOPS_INIT_ROOT` says otherwise (tests). Methods run as `/bin/sh -c
//! <command>` with the caller's stdio and environment plus `DOPS_METHOD=<name>`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::output::{err, out};
use crate::meta::{self, BuildMeta, Method, Methods, RuntimeInfo};

/// The name dops-init answers to as the container API.
pub const NAME: &str = "container";

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    Meta(#[from] meta::MetaError),
    #[error("no dops metadata in {0} (hint: this image was not built by dops)")]
    NoMetadata(PathBuf),
    #[error("no {upper} method declared (hint: add \"methods\": {{\"{key}\": \"<command>\"}} to a /dops/init.d/*.json fragment)")]
    NoMethod {
        upper: &'static str,
        key: &'static str,
    },
    #[error("cannot run the {upper} method `{command}`: {source}")]
    Spawn {
        upper: &'static str,
        command: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

impl ContainerError {
    fn exit_code(&self) -> i32 {
        match self {
            ContainerError::Usage(_) | ContainerError::NoMethod { .. } => 2,
            ContainerError::Meta(_) => 2,
            _ => 1,
        }
    }
}

const USAGE: &str = "usage: container --metadata [--all] | --examine [--json] | --validate | --update | --monitor | --start";

/// When this process was invoked as the container API (argv[0] named `container`, or
/// `dops-init container …`), the arguments after the name. dops-init's `main` calls this first:
/// `if let Some(code) = container::dispatch() { return code; }`.
pub fn invoked_as_container(argv: &[OsString]) -> Option<Vec<String>> {
    let first = argv.first()?;
    let base = Path::new(first).file_name()?;
    let rest = |from: usize| -> Vec<String> {
        argv.iter()
            .skip(from)
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    };
    if base == NAME {
        return Some(rest(1));
    }
    if argv.get(1).map(|a| a == NAME).unwrap_or(false) {
        return Some(rest(2));
    }
    None
}

/// Run the container API when this process was invoked as it; None otherwise.
pub fn dispatch() -> Option<i32> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    invoked_as_container(&argv).map(main)
}

/// The root under which `/dops/meta`, `/dops/init.d` live: `DOPS_INIT_ROOT` or `/`.
pub fn root() -> PathBuf {
    std::env::var_os("DOPS_INIT_ROOT")
        .filter(|r| !r.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// `container <args>` (without the name). Returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    match run(&args, &root()) {
        Ok(code) => code,
        Err(e) => {
            err(&format!("container: {e}"));
            e.exit_code()
        }
    }
}

fn run(args: &[String], root: &Path) -> Result<i32, ContainerError> {
    let (cmd, flags) = match args.split_first() {
        Some((c, f)) => (c.as_str(), f),
        None => return Err(ContainerError::Usage(USAGE.to_string())),
    };
    let flag = |name: &str| flags.iter().any(|f| f == name);
    let allowed: &[&str] = match cmd {
        "--metadata" => &["--all"],
        "--examine" => &["--json"],
        _ => &[],
    };
    if let Some(unknown) = flags.iter().find(|f| !allowed.contains(&f.as_str())) {
        return Err(ContainerError::Usage(format!(
            "unexpected argument {unknown:?} for {cmd}\n{USAGE}"
        )));
    }
    match cmd {
        "--metadata" => {
            let chain = chain(root)?;
            let text = if flag("--all") {
                serde_json::to_string_pretty(&chain).expect("metadata serializes")
            } else {
                let last = chain.last().expect("chain is not empty");
                serde_json::to_string_pretty(last).expect("metadata serializes")
            };
            out(&text);
            Ok(0)
        }
        "--examine" => {
            let chain = meta::read_meta_dir(&under(root, meta::META_DIR))?;
            let methods = effective_methods(root, &chain)?;
            let runtime = RuntimeInfo {
                container: None,
                created: None,
                started: if root == Path::new("/") {
                    init_started()
                } else {
                    None
                },
            };
            if flag("--json") {
                out(&meta::examine_json(&runtime, &methods, &chain));
            } else {
                out(&meta::examine_report(&runtime, &methods, &chain));
            }
            Ok(0)
        }
        "--validate" => run_method(root, Method::Validate),
        "--update" => run_method(root, Method::Update),
        "--monitor" => run_method(root, Method::Monitor),
        "--start" => run_method(root, Method::Start),
        "-h" | "--help" | "help" => {
            out(USAGE);
            Ok(0)
        }
        other => Err(ContainerError::Usage(format!(
            "unknown command {other:?}\n{USAGE}"
        ))),
    }
}

fn chain(root: &Path) -> Result<Vec<BuildMeta>, ContainerError> {
    let dir = under(root, meta::META_DIR);
    let chain = meta::read_meta_dir(&dir)?;
    if chain.is_empty() {
        return Err(ContainerError::NoMetadata(dir));
    }
    Ok(chain)
}

/// The methods this container declares: the merged `/dops/init.d` fragments when there are any,
/// else what the newest image's metadata recorded at build.
pub fn effective_methods(root: &Path, chain: &[BuildMeta]) -> Result<Methods, ContainerError> {
    let files = meta::read_json_files(&under(root, meta::INITD_DIR))?;
    if files.is_empty() {
        return Ok(chain.last().map(|m| m.methods.clone()).unwrap_or_default());
    }
    Ok(meta::methods_from_initd(&files)?)
}

fn run_method(root: &Path, method: Method) -> Result<i32, ContainerError> {
    let chain = meta::read_meta_dir(&under(root, meta::META_DIR))?;
    let methods = effective_methods(root, &chain)?;
    let command = methods
        .get(method)
        .ok_or(ContainerError::NoMethod {
            upper: method.upper(),
            key: method.key(),
        })?
        .to_string();
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .env("DOPS_METHOD", method.key())
        .status()
        .map_err(|source| ContainerError::Spawn {
            upper: method.upper(),
            command: command.clone(),
            source,
        })?;
    use std::os::unix::process::ExitStatusExt as _;
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 1,
    })
}

/// When PID 1 (the container's init) started, from /proc: (RFC 3339, epoch).
fn init_started() -> Option<(String, i64)> {
    let stat = std::fs::read_to_string("/proc/1/stat").ok()?;
    // Field 22 (starttime, clock ticks since boot); fields after the `)` of the command name.
    let after = stat.rsplit_once(')')?.1;
    let start_ticks: i64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let btime: i64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    let epoch = btime + start_ticks / hz;
    let t = time::OffsetDateTime::from_unix_timestamp(epoch).ok()?;
    Some((meta::rfc3339(t), epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn dispatch_on_name_or_subcommand() {
        assert_eq!(
            invoked_as_container(&os(&["/usr/local/bin/container", "--examine"])),
            Some(vec!["--examine".to_string()])
        );
        assert_eq!(
            invoked_as_container(&os(&["/dops/bin/dops-init", "container", "--validate"])),
            Some(vec!["--validate".to_string()])
        );
        assert_eq!(
            invoked_as_container(&os(&["/dops/bin/dops-init", "health"])),
            None
        );
        assert_eq!(invoked_as_container(&os(&["/dops/bin/dops-init"])), None);
        assert_eq!(invoked_as_container(&[]), None);
    }

    #[test]
    fn usage_errors() {
        let root = Path::new("/nonexistent-root");
        assert_eq!(run(&[], root).unwrap_err().exit_code(), 2);
        let e = run(&["--bogus".to_string()], root).unwrap_err();
        assert!(e.to_string().starts_with("unknown command \"--bogus\""));
        let e = run(&["--validate".to_string(), "--all".to_string()], root).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let e = run(&["--metadata".to_string()], root).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e
            .to_string()
            .starts_with("no dops metadata in /nonexistent-root/dops/meta"));
    }
}
